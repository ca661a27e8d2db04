/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_GATEWAY_INT_H
#define MPCONV_GATEWAY_INT_H

/*
 * The gateway role's own types, shared by its two files only: gateway.c (sessions, upstream,
 * links, signals, reload) and gateway_ops.c (what the operator sees: mpconvctl commands,
 * /metrics, the status page). Not an interface for other modules.
 */
#include "config.h"
#include "convert.h"
#include "ctl.h"
#include "http.h"
#include "intercept.h"
#include "links.h"
#include "loop.h"
#include "metrics.h"
#include "paths.h"
#include "pipe.h"
#include "policy.h"
#include "pool.h"
#include "relay.h"
#include "sock.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>

#define GW_REQUEST_MAX 64
#define GW_EARLY_MAX   16384 /* LAN bytes sent along with the Convert message */
/* RFC 8803: after Resource Exceeded or Network Failure, wait at least 30 s before asking that
 * converter again; an unreachable converter is retried sooner. Both double while it fails. */
#define GW_BACKOFF_REFUSED_MS	  30000
#define GW_BACKOFF_UNREACHABLE_MS 1000
#define GW_BACKOFF_MAX_MS	  300000

enum gw_state {
	GW_ACCEPTED,		/* policy not applied yet, or blocked */
	GW_WAIT_EARLY,		/* a moment for the LAN client's first bytes (pool hit, or tfo) */
	GW_UPSTREAM_CONNECTING, /* plain mode, or a pool miss: connecting to the converter */
	GW_WAIT_REPLY,		/* Convert request sent; waiting for the converter's answer */
	GW_DIRECT_CONNECTING,	/* policy said direct: connecting to the destination itself */
	GW_RELAY,
};

struct gateway;
struct gw_probe;

struct gw_session {
	struct relay relay; /* io[RELAY_A]: the LAN client, io[RELAY_B]: upstream */
	struct gateway *gw;
	struct gw_session *prev, *next;
	enum gw_state state;
	struct addr_port client, dest;
	struct pol_rule rule; /* a copy: a reload may replace the policy table */
	struct paths_conn *path; /* subflow management of the upstream connection, or NULL */
	unsigned converter;	 /* index of the converter in use */
	uint8_t converters_tried;
	struct loop_timer timer;
	uint64_t started_ms;
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

#define GW_END_NOT_RELAYED (RELAY_END_ERROR + 1) /* ended before the relay started */
#define GW_END_COUNT	   (GW_END_NOT_RELAYED + 1)

struct gw_stats {
	unsigned long sessions, bonded, direct, blocked, pool_hits, pool_misses, fallbacks,
		converter_errors, upstream_failures, mptcp_fallbacks, converter_switches;
	unsigned long bytes_up, bytes_down; /* ended sessions */
	unsigned long ends[GW_END_COUNT];
	unsigned long errors_received[256]; /* Convert Error codes (SOCKS replies: 1..8) */
	/* by rule name, kept across reloads (counters never go down); "default" included */
	struct gw_rule_hits {
		char name[POL_NAME_LEN];
		unsigned long hits;
	} rule_hits[2 * CONFIG_MAX_RULES + 1];
	size_t rule_hits_len;
	struct metrics_histogram setup; /* accept -> relay started, µs */
};

/* What the gateway knows of each converter: RFC 8803 back-off after refusals. */
struct gw_converter {
	uint64_t retry_at_ms, backoff_ms;
	bool refused; /* the back-off follows a refusal (Error 64/65), not a connect failure */
	unsigned long failures;
};

struct gateway {
	struct config config;
	struct pol_table policy;
	struct intercept_config intercept;
	bool intercept_installed;
	struct loop loop;
	struct pipe_pool pipes;
	struct pool pool;
	bool pool_on;
	unsigned pool_converter; /* the converter the pool connects to */
	int pool_link;		 /* the link of pooled connections' initial subflow, -1 = any */
	struct gw_converter converters[CONFIG_MAX_CONVERTERS];
	struct links links;
	bool links_on;
	struct paths paths;
	bool paths_on;
	char saved_path_manager[16]; /* restored at exit; empty = untouched */
	/* operator access: control socket, metrics and status page */
	struct ctl ctl;
	struct ctl_provider provider;
	struct http http;
	struct http_handlers routes;
	struct status_history *history; /* owned; link counters once a second */
	struct loop_timer sample;
	struct gw_probe *probes; /* `mpconvctl probe` requests in flight, owned */
	uint64_t started_ms;
	struct loop_io listener, signals;
	struct loop_timer drain_timer;
	struct gw_session *sessions;
	size_t sessions_len;
	int argc; /* the role's command line, parsed again on reload */
	char **argv;
	bool draining;
	bool converter_failing; /* logged once per outage, not once per connection */
	struct gw_stats stats;
	uint8_t scratch[CONV_MAX_LEN];
	uint8_t early[GW_REQUEST_MAX + GW_EARLY_MAX]; /* request + early LAN bytes, one send */
};

/* gateway.c */
const char *gw_state_name(enum gw_state state);
bool gw_converter_usable(const struct gateway *gw, unsigned i);
int gw_pick_converter(const struct gateway *gw, uint8_t skip);
struct sock_connect_opts gw_upstream_opts(const struct gateway *gw);
int gw_family(const struct addr_port *ap);
int gw_reload(struct gateway *gw, char why[CONFIG_ERR_LEN]);

/* gateway_ops.c: the control socket (unless none) and the metrics endpoint (if set); a busy
 * default socket path is a warning, an explicit one or the metrics address fatal. 0 or
 * -errno. Stop cancels probes in flight and closes both. */
int gw_control_start(struct gateway *gw);
void gw_control_stop(struct gateway *gw);

#endif
