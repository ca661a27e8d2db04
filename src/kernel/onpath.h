/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_ONPATH_H
#define MPCONV_ONPATH_H

#include "loop.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The on-path converter (design #3: put on the path by routing). Three kinds of SYN cross its
 * access interfaces and must never be confused:
 *   - a new MPTCP connection (MP_CAPABLE): terminated, TPROXYed to the transparent listeners,
 *     which are bound to loopback so that no packet-address socket lookup ever finds them;
 *   - an MP_JOIN: the kernel takes a join only on a listener of its connection's own port, so
 *     it goes (port-less TPROXY) to a join listener of that port, bound to loopback too; a port
 *     has one from its first MP_CAPABLE SYN (nflog tells us, a round trip before any join can
 *     come) until a few seconds after its last session ended; with none, the join is routed on;
 *   - anything else (plain TCP, MPTCP to the native destinations/ports): routed on untouched.
 * Only packets that are not SYNs are matched to our sockets (`socket transparent 1`).
 */

#define ONPATH_MAX_NATIVE_PORTS 16
#define ONPATH_LOG_GROUP	0x6d70 /* nflog group of the MP_CAPABLE SYN notices */
#define ONPATH_JOIN_GRACE_MS	5000   /* an unused join listener lives this long */

struct onpath_rules {
	uint16_t port;	    /* the transparent listeners' port (on 127.0.0.1 and ::1) */
	uint32_t mark;	    /* local-delivery fwmark */
	uint16_t log_group; /* 0: no nflog notice of MP_CAPABLE SYNs */
	bool ipv6;
	uint16_t native_ports[ONPATH_MAX_NATIVE_PORTS]; /* MPTCP to these routed on untouched */
	size_t native_ports_len;
	/* Shutting down: new MPTCP connections are routed on, the terminated ones (and their
	 * joins) still reach the converter until they have drained. */
	bool draining;
};

/* The on-path chain's rules after the common skips (interfaces, own and excluded addresses).
 * Returns the length written or -ENOSPC. Pure. */
int onpath_render(const struct onpath_rules *r, char *buf, size_t len);

/* Destination port and family of the IPv4/IPv6 TCP packet in pkt (nflog's copy). 0 or
 * -EBADMSG. Pure. */
int onpath_syn_dest(const uint8_t *pkt, size_t len, bool *v6, uint16_t *port);

/* Join listeners, one per destination port (and family) that has sessions or just saw an
 * MP_CAPABLE SYN. Shared by the workers (hold/release) and the main thread (prepare/sweep). */
struct onpath_join {
	uint16_t port;
	int fd[2]; /* [0] IPv4 127.0.0.1:port, [1] IPv6 [::1]:port; -1 = none */
	unsigned refs;
	uint64_t last_ms; /* last SYN notice or session end */
};

struct onpath_joins {
	pthread_mutex_t lock;
	struct onpath_join *v; /* owned */
	size_t len, cap;
	uint64_t grace_ms;
	/* opens a join listener; tests replace it. fd or -errno */
	int (*open_listener)(uint16_t port, bool v6);
	unsigned long opened, closed; /* totals, for logs and tests */
};

int onpath_joins_init(struct onpath_joins *j);
void onpath_joins_destroy(struct onpath_joins *j);
/* The port's listener of that family exists (opened now if needed); 0 or -errno. */
int onpath_joins_prepare(struct onpath_joins *j, uint16_t port, bool v6, uint64_t now_ms);
/* A session of that port starts / ends. hold opens the listener too if it is missing. */
int onpath_joins_hold(struct onpath_joins *j, uint16_t port, bool v6, uint64_t now_ms);
void onpath_joins_release(struct onpath_joins *j, uint16_t port, uint64_t now_ms);
/* Closes listeners without sessions unused for grace_ms; returns how many ports remain. */
size_t onpath_joins_sweep(struct onpath_joins *j, uint64_t now_ms);

/* The main thread's watch: nflog notices of MP_CAPABLE SYNs prepare their port's listener
 * before the SYN-ACK can bring a join; a 1 s timer sweeps. */
struct onpath_watch {
	struct loop *loop;
	struct onpath_joins *joins;
	struct loop_io io; /* nflog socket, -1 when not running */
	struct loop_timer sweep;
	uint16_t group;
	unsigned long notices, failures;
};

/* Binds the nflog group and arms the sweep. 0 or -errno (then joins open at accept only). */
int onpath_watch_start(struct onpath_watch *w, struct loop *loop, struct onpath_joins *joins,
		       uint16_t group);
void onpath_watch_stop(struct onpath_watch *w);

#endif
