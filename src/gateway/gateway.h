/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_GATEWAY_H
#define MPCONV_GATEWAY_H

/*
 * The gateway role: `gateway_main` for main.c, and the role's own types and calls shared by its
 * files only (not an interface for other modules). Who calls whom, never back:
 *   main.c     process: start-up (instance lock, host checks), signals, accept, drain, links
 *              and interception, exit (the host left as it was)
 *   reload.c   the configuration again (SIGHUP or mpconvctl reload)
 *   ops.c      what the operator sees: mpconvctl answers, /metrics, the status page
 *   probe.c    `mpconvctl probe`: the converter tested over each link
 *   session.c  one LAN connection from accept to relay: policy, upstream, reply, close
 *   upstream.c which converter to ask, and the RFC 8803 back-off (pure)
 *   converters.c  the back-off shared by the workers, the pool following it, a link's address
 *   hosts.c    connections per LAN host, against the fair per-host cap (pure)
 *   inbound.c  inbound sessions: the reverse pool registered with the converter, the LAN
 *              connect of a session started on the Internet side (on worker 0)
 *   worker.c   a worker thread: its capture listener (SO_REUSEPORT), accept, its loop, pool,
 *              paths and sessions; calls run on it for the main thread (gw_worker_call)
 * main -> reload, ops, session, worker; ops -> reload, probe, session, worker; reload ->
 * session, worker; probe -> session (an answered probe ends a converter's back-off);
 * worker -> session; session, worker, probe, reload, ops -> converters; main, ops, reload ->
 * inbound; inbound -> session, converters (the upstream socket options).
 *
 * Threads: the main thread's struct gateway owns the configuration, links, probes, the
 * interception, overflow accounting, signals and the operator's endpoints; each worker has a
 * struct gateway of its own (its loop, listener, pool, paths, sessions and counters; config
 * and policy are shallow copies of the main one's, replaced by a call on reload). Inbound runs
 * on worker 0 (its loop and paths). Shared: the hosts table (hosts_lock) and the converters'
 * back-off (upstream_lock), touched when a connection opens, picks a converter, fails or
 * closes, never per byte.
 */
#include "config.h"
#include "convert.h"
#include "ctl.h"
#include "hosts.h"
#include "http.h"
#include "intercept.h"
#include "list.h"
#include "links.h"
#include "loop.h"
#include "metrics.h"
#include "operator.h"
#include "overflow.h"
#include "paths.h"
#include "pipe.h"
#include "policy.h"
#include "pool.h"
#include "relay.h"
#include "session.h"
#include "sock.h"
#include "status.h"
#include "upstream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_REQUEST_MAX 128 /* Convert header, Connect, a CPE credential (Cookie) */
#define GW_WORKERS_MAX 256 /* = the workers key's maximum */
#define GW_EARLY_MAX   16384 /* LAN bytes sent along with the Convert message */

enum gw_state {
	GW_ACCEPTED,		/* policy not applied yet, or blocked */
	GW_WAIT_EARLY,		/* a moment for the LAN client's first bytes (pool hit, or tfo) */
	GW_UPSTREAM_CONNECTING, /* plain mode, or a pool miss: connecting to the converter */
	GW_WAIT_REPLY,		/* Convert request sent; waiting for the converter's answer */
	GW_DIRECT_CONNECTING,	/* policy said direct: connecting to the destination itself */
	GW_RELAY,
	GW_REFUSED_WAIT, /* the converter refused it once: a moment, then one fresh try */
};

struct gateway;
struct gw_probe;
struct gw_inbound;

struct gw_session {
	struct session base; /* client side: the LAN host; server side: upstream (or direct) */
	struct gateway *gw;
	enum gw_state state;
	struct pol_rule rule; /* a copy: a reload may replace the policy table */
	struct paths_conn *path; /* subflow management of the upstream connection, or NULL */
	unsigned converter;	 /* index of the converter in use */
	uint8_t converters_tried;
	uint8_t links_tried; /* links this connection's attempts left by, to this converter */
	int link;	     /* the attempt's initial subflow link, -1 = unknown or routing's */
	uint64_t attempt_ms; /* this converter's first attempt for this connection */
	bool refused_once;   /* a converter refused it (Error 64/65): one retry only */
	bool request_acked;  /* the converter has the request: now the destination's time */
	bool host_counted;   /* counted in gw->hosts */
	bool bonded, from_pool;
	bool fell_back; /* upstream is plain TCP (MPTCP refused or stripped): counted once */
	bool tracked;	/* the upstream socket was looked at (paths, fallback): once per socket */
	bool early_waited; /* tfo mode: the wait for the LAN client's first bytes is over */
	int converter_error; /* Error TLV code received, or -1 */
	uint8_t request[GW_REQUEST_MAX];
	uint16_t request_len;
	/* LAN bytes sent upstream with the request: still in the LAN socket (peeked), consumed
	 * once the converter said yes, so another converter can be sent them again. */
	uint32_t early_len;
};

struct gw_stats {
	unsigned long sessions, bonded, direct, blocked, pool_hits, pool_misses, fallbacks,
		converter_errors, upstream_failures, mptcp_fallbacks, converter_switches,
		establish_retries, refusal_retries, host_limited;
	/* bytes relayed, live (the relays add as they deliver); A: up (LAN -> upstream) */
	struct relay_meter meter;
	unsigned long ends[SESSION_END_COUNT];
	unsigned long errors_received[256]; /* Convert Error codes (SOCKS replies: 1..8) */
	/* by rule name, kept across reloads (counters never go down); "default" included */
	struct gw_rule_hits {
		char name[POL_NAME_LEN];
		unsigned long hits;
	} rule_hits[2 * CONFIG_MAX_RULES + 1];
	size_t rule_hits_len;
	struct metrics_histogram setup; /* accept -> relay started, µs */
};

/* A function run on a worker's thread for the main thread, which waits for it (worker.c). */
struct gw_call {
	struct gw_call *next; /* in the worker's inbox */
	void (*fn)(struct gateway *w, void *arg);
	void *arg;
	bool done;
};

struct gateway {
	struct config config; /* a worker's: a shallow copy of the main one's, never freed */
	struct pol_table policy;
	struct intercept_config intercept;
	bool intercept_installed;
	bool redirect_forced; /* tproxy configured, redirect used: a br_netfilter bridge (main.c) */
	struct loop loop;
	struct pipe_pool pipes;
	struct pool pool;
	bool pool_on;
	unsigned pool_converter; /* the converter the pool connects to */
	int pool_link;		 /* the link of pooled connections' initial subflow, -1 = any */
	struct upstream upstream; /* main: the converters' back-off, under upstream_lock (all) */
	pthread_mutex_t upstream_lock;
	atomic_bool upstream_changed; /* main: a worker started or ended a back-off */
	struct links links; /* a worker's: a copy of the main one's state, for reading */
	bool links_on;
	struct paths paths; /* a worker's own path-manager subscription (main: unused) */
	bool paths_on;
	struct overflow overflow; /* overflow links and quotas (on when a link has either) */
	char saved_path_manager[16]; /* restored at exit; empty = untouched */
	char saved_blackhole_timeout[16]; /* net.mptcp.blackhole_timeout, the same way */
	struct op_access ops; /* control socket, metrics and status page */
	struct gw_probe *probes; /* `mpconvctl probe` requests in flight, owned */
	struct loop_io listener, signals;
	struct loop_timer drain_timer, accept_retry;
	struct list sessions; /* of struct gw_session, by base.node */
	int argc; /* the role's command line, parsed again on reload */
	char **argv;
	bool draining;
	bool converter_failing; /* logged once per outage, not once per connection */
	uint64_t refused_warned_ms; /* "a connection was refused twice": once per interval */
	struct hosts hosts; /* main: connections per LAN host, under hosts_lock (all workers) */
	pthread_mutex_t hosts_lock;
	struct gw_inbound *inbound; /* worker 0's: inbound sessions (inbound.c), owned; NULL = none */
	struct gw_stats stats;
	/* threads (worker.c): main has workers; a worker has main, its index and an inbox */
	struct gateway *main; /* the main thread's (itself for the main one) */
	struct gateway **workers;
	unsigned nworkers, index;
	pthread_t thread;
	bool thread_started;
	struct loop_io wakeup; /* worker: eventfd, calls queued; main: a worker stopped, or a
				* back-off changed */
	pthread_mutex_t inbox_lock; /* worker: inbox, stopped */
	pthread_cond_t inbox_done;
	struct gw_call *inbox;
	bool stopped;		      /* worker: its loop ended; calls run on the caller's thread */
	atomic_uint workers_stopped; /* main */
	uint8_t scratch[CONV_MAX_LEN];
	uint8_t early[GW_REQUEST_MAX + GW_EARLY_MAX]; /* request + early LAN bytes, one send */
};

/* On-path mode: bonded connections go to the server itself; a converter on the routing path
 * terminates their MPTCP. */
static inline bool gw_onpath(const struct gateway *gw)
{
	return gw->config.gateway.upstream_protocol == CONFIG_UPSTREAM_NONE;
}

/* Host mode: the mark of the daemon's own sockets, which its capture skips; 0 otherwise. */
static inline uint32_t gw_own_mark(const struct gateway *gw)
{
	return gw->config.gateway.host ? INTERCEPT_OWN_MARK : 0;
}

/* main.c */
/* `mpconvd gateway [options]`: the transparent hybrid-access gateway role. Returns the exit
 * code. */
int gateway_main(int argc, char **argv);
/* `mpconvd host [options]`: the gateway in host mode (`gateway --host ...`). */
int gateway_host_main(int argc, char **argv);

/* session.c */
/* A LAN connection accepted: policy, then bonded, direct or blocked. Takes fd. */
void gw_open_session(struct gateway *gw, int fd, const struct sockaddr_storage *peer,
		     socklen_t peer_len);
void gw_close_all(struct gateway *gw, const char *reason);
const char *gw_state_name(enum gw_state state);

/* converters.c */
struct sock_connect_opts gw_upstream_opts(const struct gateway *gw);
int gw_family(const struct addr_port *ap);
/* The source address for a new connection of family that may use the links in allowed: the
 * best live link's (primary first). false = no link is usable (or none declared). */
bool gw_pick_local(struct gateway *gw, uint8_t allowed, int family, int *link,
		   struct addr_port *local);
/* The back-off every worker shares, locked (at a connection's pick, failure or success). */
struct upstream *gw_upstream_lock(struct gateway *gw);
void gw_upstream_unlock(struct gateway *gw);
/* Points the pool at the converter in use and at the best link for initial subflows. */
void gw_pool_sync(struct gateway *gw);
/* A refusal code received (Convert Error or SOCKS reply, by the upstream protocol) as a
 * label slug; "-" for none (-1). */
const char *gw_error_slug(const struct gateway *gw, int code);
/* The subflows the upstream connection used over its life (path-manager events, else the
 * kernel's subflow numbering). */
int gw_subflows_used(const struct gw_session *s);
/* Converter i failed a connection (refused: Error 64/65); after several in a row it backs
 * off and every worker's pool moves on. */
void gw_converter_failed(struct gateway *gw, unsigned i, bool refused, const char *why);
/* Converter i answered (a connection or a probe): its back-off, if any, ends now. */
void gw_converter_ok(struct gateway *gw, unsigned i);

/* reload.c */
/* The rules of gc, naming the links of gc, into table (freed on error). 0 or -errno. */
int gw_build_policy(const struct config_gateway *gc, struct pol_table *table,
		    char err[POL_ERR_LEN]);
int gw_reload(struct gateway *gw, char why[CONFIG_ERR_LEN]);

/* ops.c: the control socket (unless none) and the metrics endpoint (if set); a busy
 * default socket path is a warning, an explicit one or the metrics address fatal. 0 or
 * -errno. Stop cancels probes in flight and closes both. */
int gw_control_start(struct gateway *gw);
void gw_control_stop(struct gateway *gw);

/* inbound.c: started once links and capture are up (publish lines given), stopped at exit.
 * 0 or -errno. */
int gwi_start(struct gateway *gw);
void gwi_stop(struct gateway *gw);
/* After a reload: starts or stops inbound, or has the idle reverse connections register again
 * (the converter keeps each CPE's latest list of services). */
void gwi_reload(struct gateway *gw);
/* `mpconvctl inbound` and the inbound metric families. */
void gwi_report(const struct gateway *gw, struct reply *r, bool json);
void gwi_metrics(const struct gateway *gw, struct metrics_writer *w);
/* worker.c (main thread's side) */
/* n workers (listener, pool share, paths) started on their threads. 0 or -errno (logged). */
int gw_workers_start(struct gateway *gw, unsigned n);
/* Closes every session, stops and frees the workers. */
void gw_workers_stop(struct gateway *gw, const char *reason);
/* Runs fn(w, arg) on worker w's thread (or here once w stopped) and waits for it. */
void gw_worker_call(struct gateway *w, void (*fn)(struct gateway *w, void *arg), void *arg);
/* The same on every worker in turn. */
void gw_workers_each(struct gateway *gw, void (*fn)(struct gateway *w, void *arg), void *arg);
/* SIGTERM: the workers stop accepting and stop once their sessions are gone. */
void gw_workers_drain(struct gateway *gw);
/* The configuration and policy of the main one, taken by every worker (reload). */
void gw_workers_reload(struct gateway *gw);
/* A link's usability changed (link -1: only its addresses): told to every worker. */
void gw_workers_link_changed(struct gateway *gw, int link, bool usable);
/* Inbound sessions (inbound.c) run on worker 0: started, stopped or reloaded there (the
 * main thread waits). 0 or -errno; nothing to do without workers. */
enum gw_inbound_op { GW_INBOUND_START, GW_INBOUND_STOP, GW_INBOUND_RELOAD };
int gw_workers_inbound(struct gateway *gw, enum gw_inbound_op op);
/* Overflow links (overflow.c, on the main thread): link's subflows made backup or not on every
 * worker's connections. Returns the subflows changed. */
unsigned gw_overflow_backup(int link, bool backup, void *arg);
/* Adds the counters of from to those of to (the operator's totals, the exit line). */
void gw_stats_add(struct gw_stats *to, const struct gw_stats *from);

/* probe.c: `mpconvctl probe` (a ctl_provider callback), and the end of those in flight. */
int gw_ctl_probe(void *ctx, struct reply *r, const struct ctl_request *req);
void gw_probe_cancel_all(struct gateway *gw);

#endif
