/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CONVERTER_H
#define MPCONV_CONVERTER_H

/*
 * The Transport Converter role (RFC 8803, network side): `converter_main` for main.c, and the
 * role's own types and calls, shared by its files only (not an interface for other modules).
 * Who calls whom, never back:
 *   main.c        process: start-up, worker threads, signals, on-path rules, exit totals
 *   ops.c         what the operator sees (main thread): mpconvctl answers, /metrics, status
 *   worker.c      a worker thread: listeners, accept, drain, its part of a status query
 *   session.c     one client from accept to its request: Convert message, SOCKS, on-path,
 *                 the limits
 *   downstream.c  the server leg: destination policy, connect, connected or failed
 *   answer.c      what the client is told: the reply, an Error TLV or SOCKS refusal, then
 *                 the relay
 *   close.c       the one way a session ends: cv_close(s, reason)
 *   reload.c      configuration snapshots and SIGHUP
 *   clients.c     per-client counters shared by the workers
 *   inbound.c     inbound sessions: gateways' reverse connections, public listeners (main
 *                 thread's loop)
 *   resolve.c     SOCKS host names: a resolver thread, its cache, answers back to workers
 *   identity.c    the CPE credential of a Connect (cpe-table): who counts for the limits
 * main -> ops, worker, reload, inbound, resolve; ops -> reload, inbound; worker -> session,
 * close, resolve; session -> identity, downstream, answer, close, reload, resolve; identity ->
 * answer, reload; downstream -> answer, close; answer -> close; close -> reload, resolve.
 */
#include "clients.h"
#include "config.h"
#include "convert.h"
#include "cpe.h"
#include "destination.h"
#include "inbound.h"
#include "list.h"
#include "loop.h"
#include "metrics.h"
#include "onpath.h"
#include "operator.h"
#include "ownaddr.h"
#include "pipe.h"
#include "session.h"
#include "socks.h"
#include "status.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CV_REPLY_MAX	     160 /* header + Supported Ext + Extended TCP Header, or an Error */
#define CV_KEY_RECHECK_MS    2	 /* no event marks the client's MPTCP key arriving */
#define CV_OVERFLOW_SESSIONS 256 /* beyond the limits: answered with Resource Exceeded */
#define CV_LIMIT_WARN_MS     10000 /* a binding limit is logged at most this often per client */
#define CV_TOP_SESSIONS	     10	   /* the status page's "top sessions" */
#define CV_MAX_LINKS	     32
#define CV_TCPOPT_TFO	     34 /* TCP Fast Open (RFC 7413), for Supported Extensions */
#define CV_RESOLVE_CACHE     64	   /* host names kept */
#define CV_RESOLVE_TTL_MS    60000 /* an answer is used again this long */
#define CV_RESOLVE_NEG_TTL_MS 10000 /* a failure too */

/* SOCKS host-name lookups by outcome, for /metrics. */
enum cv_name_result { CV_NAME_RESOLVED, CV_NAME_CACHED, CV_NAME_FAILED, CV_NAME_COUNT };

/* A validated configuration; shared, reference-counted (reload.c). */
struct cv_cfg {
	atomic_int refs;
	struct config config;
};

/* Totals since start, updated once per session (never per packet), read by /metrics. The
 * bytes relayed are live, in each worker's relay meter. */
struct cv_stats {
	atomic_ulong accepted;
	atomic_ulong sessions;
	atomic_ulong client_tcp; /* client leg plain TCP: not asked for, or fell back */
	atomic_ulong client_mptcp;
	atomic_ulong server_mptcp; /* downstream negotiated MPTCP */
	atomic_ulong server_tcp;   /* downstream fell back / server without MPTCP */
	atomic_ulong relayed;	   /* sessions that reached the relay */
	atomic_ulong errors[98]; /* Error TLVs sent, by code (codes are < 98) */
	atomic_ulong dest_refused[DEST_VERDICT_COUNT]; /* refusals by the destination policy */
	atomic_ulong ends[SESSION_END_COUNT];
	atomic_ulong names[CV_NAME_COUNT]; /* SOCKS host names looked up */
	struct metrics_histogram setup; /* accept -> relay start (reply written), µs */
};

struct cv_worker;
struct cv_session;

/* One host name to resolve for a session; the resolver's until it reaches its worker, which
 * frees it (session NULL: the session ended meanwhile). */
struct cv_lookup {
	struct cv_lookup *next;
	struct cv_worker *worker;
	struct cv_session *session; /* touched by its worker only */
	char name[SOCKS_NAME_MAX + 1];
	struct addr_port addr; /* the answer, with the request's port */
	int err;	       /* 0, or a positive errno: ENOENT for no such name */
	bool fresh;	       /* asked of the system, not the cache */
};

struct cv_resolve_entry {
	char name[SOCKS_NAME_MAX + 1];
	uint8_t ip[16];
	int err;
	uint64_t expires_ms; /* CLOCK_MONOTONIC */
};

struct cv_resolver {
	pthread_t thread;
	pthread_mutex_t lock; /* queue, cache, stopping */
	pthread_cond_t cond;
	struct cv_lookup *queue;
	struct cv_resolve_entry cache[CV_RESOLVE_CACHE];
	size_t cache_next;
	bool started, stopping;
};

/* What every worker and the main thread share; one per process. */
struct cv_shared {
	struct cv_stats stats;
	int argc; /* the role's command line, re-run on reload */
	char **argv;
	struct clients clients;
	struct ownaddr own; /* the host's addresses, never a destination; main thread refreshes */
	atomic_uint sessions; /* every open session: the hard cap on memory and fds */
	atomic_uint idle;     /* of which waiting for their message (max-idle) */
	atomic_uint active;   /* of which past their message (max-sessions) */
	atomic_ullong global_warned_ms; /* last warning about a global limit */
	atomic_bool draining;
	pthread_mutex_t cfg_lock;
	struct cv_cfg *cfg; /* current; sessions hold references to older ones */
	/* On-path mode: the join listener of each destination port with sessions (onpath.h) */
	struct onpath_joins joins;
	struct cv_resolver resolver; /* SOCKS host names */
};

enum cv_state {
	CV_WAIT_MESSAGE, /* connected; waiting for the Convert message */
	CV_CONNECTING,	 /* downstream connect in flight */
	CV_WAIT_CLIENT,	 /* reply ready; waiting until the client's MPTCP key is known */
	CV_RELAY,	 /* bytes flow; the relay owns the fds' events */
	CV_CLOSING,	 /* reply (error or info) written and shut down; waiting for the client */
};

/* What the client speaks, by the listener that accepted it. */
enum cv_proto {
	CV_PROTO_CONVERT,     /* RFC 8803: the Convert message first */
	CV_PROTO_SOCKS,	      /* RFC 1928: greeting, CONNECT */
	CV_PROTO_TRANSPARENT, /* on-path: the destination is the accepted socket's address */
};

struct cv_part;
struct cv_control;

/* One client connection. Owned by its worker (on w->sessions) until cv_close frees it. */
struct cv_session {
	struct session base; /* client side: the client; server side: the server (-1 first) */
	struct cv_worker *worker;
	struct cv_cfg *cfg; /* reference */
	enum cv_proto proto;
	bool socks_greeted;		/* SOCKS: the method choice was sent */
	enum socks_reply socks_refusal; /* SOCKS: a refusal of its own kind, else 0 */
	enum cv_state state;
	uint64_t wait_since_ms;
	bool client_mptcp, server_mptcp, client_eof, has_dest;
	bool join_held; /* on-path: holds its port's join listener (shared->joins) */
	bool counted_session, counted_idle, counted_pending, counted_active;
	uint8_t client_key[16]; /* the client's address (or CPE) as the per-client limits count it */
	char cpe[CPE_ID_MAX + 1]; /* the CPE whose credential the Connect carried; "" = none */
	bool info_requested, reply_is_error, reset_on_close;
	bool probe;  /* a bare Convert header: a gateway's link probe, answered, not an error */
	bool unused; /* closed before its first byte: a gateway's pooled connection retired */
	uint64_t first_byte_ms; /* the request's first byte arrived (0: not yet): setup starts */
	int error_code;	     /* sent, or -1 */
	const char *refusal; /* why error_code was sent (static), for the close line */
	struct cv_lookup *lookup; /* SOCKS: its host name being resolved, or NULL */
	uint16_t reply_len;
	uint8_t reply[CV_REPLY_MAX];
};

struct cv_listener {
	struct loop_io io;
	struct cv_worker *worker;
	enum cv_proto proto;
};

/* One worker thread: its own loop, listeners (SO_REUSEPORT), pipes and sessions. */
struct cv_worker {
	pthread_t thread;
	unsigned index;
	struct cv_shared *shared;
	struct loop loop;
	struct pipe_pool pipes;
	struct relay_meter meter; /* bytes its relays moved, client -> server (A) and back */
	struct cv_listener listeners[2 * CONFIG_MAX_LISTEN + 2];
	size_t listeners_len;
	struct loop_timer accept_retry, drain_timer;
	struct loop_io wakeup; /* eventfd: the main thread asks for drain or a snapshot */
	pthread_mutex_t inbox_lock;
	struct cv_part *inbox; /* snapshot requests from the main thread, under inbox_lock */
	struct cv_lookup *resolved; /* answers from the resolver thread, under inbox_lock */
	struct list sessions;  /* of struct cv_session, by base.node */
	bool draining;
	uint8_t scratch[CONV_MAX_LEN];
};

enum cv_query_kind { CV_QUERY_SESSIONS, CV_QUERY_STATUS };

struct cv_query;

/* One worker's share of a query: queued in its inbox, filled by it, read by the main thread
 * once the query's remaining count reached zero. */
struct cv_part {
	struct cv_part *next; /* in the worker's inbox */
	struct cv_query *query;
	struct status_session *rows; /* owned; the worker's largest sessions first */
	size_t rows_len;
	unsigned link_subflows[CV_MAX_LINKS];
};

/* A question to every worker. Owned by the main thread's control (its in-flight list). */
struct cv_query {
	struct cv_query *next;
	struct cv_control *control;
	struct reply *reply; /* NULL once the client went away */
	enum cv_query_kind kind;
	bool json;
	size_t limit;				/* sessions per worker; 0 = all */
	struct status_link links[CV_MAX_LINKS]; /* read-only for the workers */
	size_t links_len;
	atomic_uint remaining;	/* workers yet to answer */
	struct cv_part parts[]; /* one per worker */
};

/* The main thread: its loop (signals, rtnetlink, the workers' answers) and operator access. */
struct cv_control {
	struct cv_shared *shared;
	struct cv_worker *workers;
	unsigned nworkers;
	struct loop loop;
	struct loop_io signals;	   /* signalfd: HUP reloads, TERM/INT stop the loop */
	struct loop_io answers;	   /* eventfd: a worker finished its part of a query */
	struct loop_io own_events; /* rtnetlink: the host's addresses changed */
	struct op_access ops;	   /* control socket, metrics, status page */
	struct cv_query *queries;  /* in flight, owned */
	struct cv_inbound inbound; /* inbound sessions (inbound.c), on this loop */
};

/* Every session open at once: those asking for something, those still idle, and a few more
 * that get a Resource Exceeded answer rather than a bare reset. */
static inline unsigned cv_session_cap(const struct config_converter *cc)
{
	return cc->max_sessions + cc->max_idle + CV_OVERFLOW_SESSIONS;
}

/* main.c */
/* `mpconvd converter [options]`: the RFC 8803 Transport Converter role. Returns the exit code. */
int converter_main(int argc, char **argv);

/* reload.c */
/* Takes ownership of *config (moved in) on success. */
struct cv_cfg *cv_cfg_new(struct config *config);
struct cv_cfg *cv_cfg_get(struct cv_shared *shared);
void cv_cfg_put(struct cv_cfg *cfg);
int cv_reload(struct cv_shared *shared, char why[CONFIG_ERR_LEN]);

/* close.c */
/* Ends the session, the one way: one log line, the counters, release and free. */
void cv_close(struct cv_session *s, const char *reason);
/* Arms the session's timer; one that cannot be armed ends the session. */
void cv_arm(struct cv_session *s, uint64_t delay_ms);
const char *cv_state_name(enum cv_state state);
/* Bytes relayed server -> client, without our reply (the relay sent it as its prefix). */
uint64_t cv_bytes_down(const struct cv_session *s);

/* answer.c */
/* Ends the session with a refusal in the client's protocol (an Error TLV, a SOCKS reply, a
 * reset on-path): reply, shut down, reset after error-grace. why: a static string, kept for
 * the close line. */
void cv_fail(struct cv_session *s, const struct conv_parse_error *perr, const char *why);
void cv_fail_code(struct cv_session *s, enum conv_error_code code, const char *why);
/* A limit refuses the session with Resource Exceeded, said at warning level once per interval
 * per client (per_client) or per converter. */
void cv_refuse_limit(struct cv_session *s, const char *limit, bool per_client);
/* The success (or Info) reply into s->reply. Its length, or -errno. */
int cv_build_success_reply(struct cv_session *s);
/* The reply (len bytes in s->reply, or -errno when it could not be encoded) goes out once the
 * client can take it. */
void cv_reply_ready(struct cv_session *s, int len);
/* Writes the reply once the client can take it; see docs/linux-mptcp.md 2a, bug 2. */
void cv_try_reply(struct cv_session *s);
/* CV_CLOSING: resets once the client closed and the reply left, or after error-grace. */
void cv_closing_check(struct cv_session *s);

/* downstream.c */
/* s->dest is known: the destination policy, then the non-blocking connect to it. msg: the
 * Convert message that named it (for the Convert entrance's answers), else NULL. */
void cv_connect_dest(struct cv_session *s, const struct conv_message *msg);
/* The connect failed (err: a positive errno, ETIMEDOUT after connect-timeout): the Error TLV
 * that says why (RFC 8803: Connection Reset, Destination Unreachable, Network Failure). */
void cv_connect_failed(struct cv_session *s, int err);

/* identity.c */
/* With a cpe-table (in the newest configuration, so a reload's revocation reaches pooled
 * connections too): the Connect's CPE credential, then the session counts under that CPE
 * (max-sessions-per-client). false when refused (the session is failed: Not Authorized or
 * Resource Exceeded). Without a table, or for an Info request: true. */
bool cv_identity_check(struct cv_session *s, const struct conv_message *msg);

/* session.c */
/* A SOCKS host name's answer (err: 0 or a positive errno; addr with the request's port). */
void cv_resolved(struct cv_session *s, int err, const struct addr_port *addr, const char *name);
/* A client accepted by worker w on a listener of proto. Takes fd. */
void cv_open_session(struct cv_worker *w, int fd, const struct sockaddr_storage *ss,
		     socklen_t ss_len, enum cv_proto proto);

/* resolve.c */
int cv_resolver_start(struct cv_resolver *r);
/* Joins the thread (after the lookup in progress) and frees what was still queued. */
void cv_resolver_stop(struct cv_resolver *r);
/* Looks name up for s (the cache, else the resolver thread); the answer reaches the worker's
 * list (w->resolved) and its eventfd, and from there cv_resolved. 0 or -ENOMEM. */
int cv_resolve(struct cv_session *s, const char *name, uint16_t port);
/* s ends: its answer, when it comes, is dropped. */
void cv_resolve_cancel(struct cv_session *s);
/* The worker is going away: answers not delivered are freed. */
void cv_resolve_drop(struct cv_worker *w);

/* worker.c */
int cv_worker_init(struct cv_worker *w, unsigned index, struct cv_shared *shared,
		   const struct config_converter *cc);
void cv_worker_destroy(struct cv_worker *w);
void *cv_worker_thread(void *arg);

/* ops.c (main thread) */
/* Control socket and HTTP endpoint; and the eventfd the workers' answers arrive on. */
int cv_control_start(struct cv_control *c);
void cv_control_stop(struct cv_control *c);
/* After the workers are joined: nothing can answer a query any more. */
void cv_control_destroy(struct cv_control *c);

#endif
