/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_SERVE_H
#define MPCONV_SERVE_H

#include "loop.h"
#include "reply.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * A one-request-per-connection stream server on a struct loop, shared by the control socket
 * (ctl) and the HTTP endpoint (http): accept, read a bounded request, let the protocol answer
 * (now or later), write the reply, close. Many clients, none can block the loop: everything is
 * non-blocking, a request is bounded in size and time (a short deadline for the request itself,
 * a longer one for the whole exchange), and connections are capped at once and per peer. When a
 * cap is reached, the connection that has waited longest for its request makes room (a slow or
 * silent client is the only kind a newcomer can push out); when none is waiting for its request,
 * the newcomer is closed at once.
 */
struct serve;
struct serve_conn;

struct serve_ops {
	/*
	 * Called after every read with all bytes received so far (in[len] is a NUL; eof: the client
	 * shut down its side; full: len reached max_request, nothing more will be read).
	 * Returns -EAGAIN to wait for more bytes. Otherwise the request is taken: the protocol
	 * answers through serve_conn_reply(c) and reply_done(), now or later (see reply.h).
	 */
	int (*request)(struct serve *srv, struct serve_conn *c, const char *in, size_t len,
		       bool eof, bool full);
	/* Called by reply_done, before writing: adds protocol framing (status line, headers). */
	void (*frame)(struct serve *srv, struct reply *r);
};

struct serve_opts {
	size_t max_request;	  /* bytes */
	unsigned max_conns;	  /* connections at once */
	unsigned max_per_peer;	  /* connections at once from one peer (serve_peer); 0 = no cap */
	uint64_t head_timeout_ms; /* from accept to the whole request; 0 = timeout_ms */
	uint64_t timeout_ms;	  /* whole exchange, from accept to the last byte written */
};

/*
 * Who a connection comes from, for the per-peer cap: an IPv4 address, an IPv6 /64 (what one
 * host or one subscriber gets; a single host can pick any address in it), or for a unix socket
 * the client's uid (SO_PEERCRED). All bytes are set, so peers compare with memcmp.
 */
struct serve_peer {
	uint8_t kind; /* SERVE_PEER_* */
	uint8_t id[16];
};
enum { SERVE_PEER_UNKNOWN, SERVE_PEER_IP, SERVE_PEER_UID };

struct serve {
	struct loop *loop;	 /* not owned */
	struct loop_io listener; /* owned fd */
	const struct serve_ops *ops;
	void *ctx; /* the protocol's */
	struct serve_opts opts;
	struct serve_conn *conns; /* owned */
	unsigned conns_len;
	/* totals: replies written, connections turned away, connections pushed out by others */
	unsigned long served, refused, evicted;
};

/*
 * Serves the listening socket fd (non-blocking; taken over, closed by serve_stop) on loop.
 * 0 or -errno (then fd is still the caller's).
 */
int serve_start(struct serve *srv, struct loop *loop, int fd, const struct serve_ops *ops,
		void *ctx, const struct serve_opts *opts);
/* Closes the listener and every connection; pending asynchronous replies are cancelled. */
void serve_stop(struct serve *srv);

/* The reply of a connection, for the protocol's request callback. */
struct reply *serve_conn_reply(struct serve_conn *c);
/* The peer behind a connected socket. Never fails: peers it cannot name all count as one. */
void serve_peer_of(int fd, struct serve_peer *peer);

#endif
