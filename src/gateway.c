// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway role (customer side): LAN TCP captured by our nftables TPROXY table, a policy
 * decision per connection, then bonded through a converter over MPTCP (RFC 8803 Convert
 * message first, the converter's reply checked before any byte reaches the LAN), sent direct,
 * or blocked. Owns its sessions, the upstream pool and the interception rules (removed at
 * exit). One event loop for now; signals arrive through a signalfd on that loop.
 * It never intercepts native MPTCP and never relays a byte before the converter said yes.
 */
#include "gateway.h"

#include "config.h"
#include "ctl.h"
#include "http.h"
#include "metrics.h"
#include "convert.h"
#include "intercept.h"
#include "links.h"
#include "log.h"
#include "loop.h"
#include "paths.h"
#include "pipe.h"
#include "policy.h"
#include "pool.h"
#include "relay.h"
#include "sock.h"
#include "socks.h"
#include "status.h"
#include "webui.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

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

static void gw_on_lan_event(struct loop_io *io, uint32_t events);
static void gw_on_upstream_event(struct loop_io *io, uint32_t events);
static void gw_bond_attempt(struct gw_session *s);
static void gw_bond_connect(struct gw_session *s, unsigned conv, bool allow_pool);
static int gw_reload(struct gateway *gw, char why[CONFIG_ERR_LEN]);

/* Path management of the session's upstream connection ends before its socket closes. */
static void gw_untrack(struct gw_session *s)
{
	if (s->path)
		paths_forget(&s->gw->paths, s->path);
	s->path = NULL;
}

/* From now on (connected, request about to leave) the connection gets its subflows. */
static void gw_track(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	int fd = s->relay.io[RELAY_B].fd;

	if (s->path || s->fell_back)
		return;
	if (sock_is_mptcp(fd) == 0) {
		s->fell_back = true;
		gw->stats.mptcp_fallbacks++;
		log_warnx("converter connection fell back to plain TCP (MPTCP stripped or refused "
			  "on the path?): single path for this session");
		return;
	}
	if (gw->paths_on)
		s->path = paths_track(&gw->paths, fd, s->rule.links, s->rule.backup);
}

/* The source address for a new connection of family that may use the links in allowed:
 * the best live link's (primary first). false = no link is usable (or none declared). */
static bool gw_pick_local(struct gateway *gw, uint8_t allowed, int family, int *link,
			  struct addr_port *local)
{
	*link = -1;
	if (!gw->links_on)
		return false;
	*link = links_pick_initial(&gw->links, allowed, family);
	return *link >= 0 && links_local_addr(&gw->links, *link, family, local);
}

static bool gw_onpath(const struct gateway *gw)
{
	return gw->config.gateway.upstream_protocol == 2;
}

static int gw_family(const struct addr_port *ap)
{
	return addr_is_v4mapped(ap->ip) ? AF_INET : AF_INET6;
}

static bool gw_converter_usable(const struct gateway *gw, unsigned i)
{
	return gw->loop.now_ms >= gw->converters[i].retry_at_ms;
}

/* The first converter, in the configured order, not backing off (and not in skip). */
static int gw_pick_converter(const struct gateway *gw, uint8_t skip)
{
	for (unsigned i = 0; i < gw->config.gateway.converters_len; i++)
		if (!(skip & (1u << i)) && gw_converter_usable(gw, i))
			return (int)i;
	return -1;
}

static struct sock_connect_opts gw_upstream_opts(const struct gateway *gw)
{
	return (struct sock_connect_opts){
		.mptcp = true,
		.nodelay = true,
		.buffer_size = gw->config.gateway.socket_buffer,
	};
}

/* Points the pool at the converter in use and at the best link for initial subflows. */
static void gw_pool_sync(struct gateway *gw)
{
	const struct config_gateway *gc = &gw->config.gateway;
	struct sock_connect_opts opts = gw_upstream_opts(gw);
	int conv = gw_pick_converter(gw, 0), link;

	if (!gw->pool_on)
		return;
	if (conv < 0)
		conv = (int)gw->pool_converter; /* all backing off: keep trying the current one */
	opts.has_local = gw_pick_local(gw, 0, gw_family(&gc->converters[conv]), &link,
				       &opts.local);
	if ((unsigned)conv == gw->pool_converter && link == gw->pool_link)
		return;
	if ((unsigned)conv != gw->pool_converter)
		log_info("pool: now connecting to converter %d", conv);
	gw->pool_converter = (unsigned)conv;
	gw->pool_link = link;
	pool_retarget(&gw->pool, &gc->converters[conv], &opts);
}

static void gw_converter_failed(struct gateway *gw, unsigned i, bool refused)
{
	struct gw_converter *c = &gw->converters[i];
	uint64_t base = refused ? GW_BACKOFF_REFUSED_MS : GW_BACKOFF_UNREACHABLE_MS;

	c->failures++;
	if (!gw_converter_usable(gw, i))
		return; /* already backing off (connections that were on their way) */
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : base;
	if (c->backoff_ms < base)
		c->backoff_ms = base;
	if (c->backoff_ms > GW_BACKOFF_MAX_MS)
		c->backoff_ms = GW_BACKOFF_MAX_MS;
	c->retry_at_ms = gw->loop.now_ms + c->backoff_ms;
	c->refused = refused;
	if (gw->config.gateway.converters_len > 1 || refused)
		log_warnx("converter %u %s: not used for %llu s", i,
			  refused ? "refused for lack of resources or network" : "unreachable",
			  (unsigned long long)(c->backoff_ms / 1000));
	gw_pool_sync(gw);
}

static void gw_converter_ok(struct gateway *gw, unsigned i)
{
	gw->converters[i].backoff_ms = 0;
	gw->converters[i].retry_at_ms = 0;
	gw->converters[i].refused = false;
}

static const char *gw_state_name(enum gw_state state)
{
	static const char *const names[] = { "accepted",	 "wait-early",
					     "upstream-connecting", "wait-reply",
					     "direct-connecting", "relay" };
	return names[state];
}

static void gw_close(struct gw_session *s, const char *reason, bool reset_lan)
{
	struct gateway *gw = s->gw;
	char client[ADDR_STRLEN], dest[ADDR_STRLEN];
	int up = s->relay.io[RELAY_B].fd;
	int subflows = s->bonded && up >= 0 && log_enabled(LOG_LEVEL_INFO) ? sock_subflows(up) : 0;

	gw->stats.bytes_up += s->relay.dir[RELAY_A].bytes;
	gw->stats.bytes_down += s->relay.dir[RELAY_B].bytes;
	gw->stats.ends[s->state == GW_RELAY ? s->relay.end : GW_END_NOT_RELAYED]++;
	log_info("session client=%s dest=%s rule=%s action=%s state=%s up=%llu down=%llu "
		 "duration_ms=%llu subflows=%d pool=%d converter=%u converter_error=%d "
		 "reason=\"%s\"",
		 addr_format(&s->client, true, client), addr_format(&s->dest, true, dest),
		 s->rule.name, s->bonded ? "bond" : "direct", gw_state_name(s->state),
		 (unsigned long long)s->relay.dir[RELAY_A].bytes,
		 (unsigned long long)s->relay.dir[RELAY_B].bytes,
		 (unsigned long long)(gw->loop.now_ms - s->started_ms), subflows < 0 ? 0 : subflows,
		 s->from_pool, s->converter, s->converter_error, reason);
	loop_timer_cancel(&gw->loop, &s->timer);
	gw_untrack(s);
	if (reset_lan && s->relay.io[RELAY_A].fd >= 0)
		sock_set_reset_on_close(s->relay.io[RELAY_A].fd);
	relay_close(&s->relay);
	if (s->prev)
		s->prev->next = s->next;
	else
		gw->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	gw->sessions_len--;
	free(s);
	if (gw->draining && gw->sessions_len == 0)
		loop_stop(&gw->loop);
}

static void gw_on_relay_end(struct relay *relay)
{
	struct gw_session *s = container_of(relay, struct gw_session, relay);

	gw_close(s, relay_end_name(relay->end), false);
}

static void gw_start_relay(struct gw_session *s)
{
	const struct config_gateway *gc = &s->gw->config.gateway;
	struct relay_params params = {
		.idle_timeout_ms =
			s->rule.idle_timeout_ms ? s->rule.idle_timeout_ms : gc->idle_timeout_ms,
		.use_splice = gc->splice,
	};

	loop_timer_cancel(&s->gw->loop, &s->timer);
	metrics_observe(&s->gw->stats.setup, (s->gw->loop.now_ms - s->started_ms) * 1000);
	s->state = GW_RELAY;
	s->relay.dir[RELAY_A].bytes = s->early_len; /* delivered along with the request */
	if (relay_start(&s->relay, &s->gw->loop, &s->gw->pipes, &params, gw_on_relay_end) < 0)
		gw_close(s, "relay could not start", true);
}

/* Replaces the upstream socket (-1 = none) and registers the new one. */
static int gw_set_upstream(struct gw_session *s, int fd)
{
	struct loop_io *io = &s->relay.io[RELAY_B];

	if (io->fd >= 0) {
		loop_remove(&s->gw->loop, io);
		close(io->fd);
	}
	io->fd = fd;
	io->on_event = gw_on_upstream_event;
	if (fd < 0)
		return 0;
	return loop_add(&s->gw->loop, io, RELAY_EPOLL_EVENTS);
}

static void gw_go_direct(struct gw_session *s)
{
	struct sock_connect_opts opts = { .mptcp = false, .nodelay = true };
	int fd;

	/* direct:LINK leaves by that link's address, so by its source-routing table. */
	if (s->rule.direct_link >= 0 && s->gw->links_on)
		opts.has_local = links_local_addr(&s->gw->links, s->rule.direct_link,
						  gw_family(&s->dest), &opts.local);
	fd = sock_connect(&s->dest, &opts);

	s->bonded = false;
	if (fd < 0 || gw_set_upstream(s, fd) < 0) {
		if (fd >= 0)
			gw_set_upstream(s, -1);
		gw_close(s, "direct connect failed", true);
		return;
	}
	s->state = GW_DIRECT_CONNECTING;
	loop_timer_arm(&s->gw->loop, &s->timer, s->gw->config.gateway.connect_timeout_ms);
}

/* No converter can take this connection: what the operator chose happens. */
static void gw_no_converter(struct gw_session *s, const char *why)
{
	struct gateway *gw = s->gw;

	gw->stats.upstream_failures++;
	if (!gw->converter_failing)
		log_warnx("converter unusable: %s; LAN connections %s until it answers again", why,
			  gw->config.gateway.converter_down == 1 ? "go direct" : "are reset");
	gw->converter_failing = true;
	if (gw->config.gateway.converter_down == 1) {
		gw->stats.fallbacks++;
		gw_set_upstream(s, -1);
		gw_go_direct(s);
		return;
	}
	gw_close(s, why, true);
}

/* The converter failed this connection: a pooled connection gets one fresh retry (it may
 * have gone stale), then the next converter is tried. refused: Error 64/65 from it. */
static void gw_upstream_failed(struct gw_session *s, const char *why, bool refused)
{
	struct gateway *gw = s->gw;

	gw_untrack(s);
	gw_set_upstream(s, -1);
	s->fell_back = false;
	if (s->from_pool && !refused) {
		s->from_pool = false;
		gw_bond_connect(s, s->converter, false);
		return;
	}
	s->from_pool = false;
	gw_converter_failed(gw, s->converter, refused);
	if (gw_pick_converter(gw, s->converters_tried) >= 0) {
		gw->stats.converter_switches++;
		log_info("converter %u: %s; trying the next one", s->converter, why);
		gw_bond_attempt(s);
		return;
	}
	gw_no_converter(s, why);
}

/* The Convert message and whatever the LAN client already sent, in one segment if they fit:
 * a client that speaks first gets its answer one round trip sooner. */
static void gw_send_request(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	ssize_t early, n;

	loop_timer_cancel(&gw->loop, &s->timer);
	memcpy(gw->early, s->request, s->request_len);
	early = recv(s->relay.io[RELAY_A].fd, gw->early + s->request_len, GW_EARLY_MAX,
		     MSG_PEEK | MSG_DONTWAIT);
	if (early < 0)
		early = 0;
	n = send(s->relay.io[RELAY_B].fd, gw->early, s->request_len + (size_t)early,
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	s->early_len = n > s->request_len ? (uint32_t)(n - s->request_len) : 0;
	if (n < s->request_len) {
		gw_upstream_failed(s,
				   n < 0 ? "cannot send the Convert request"
					 : "Convert request did not fit the socket",
				   false);
		return;
	}
	gw_track(s);
	s->state = GW_WAIT_REPLY;
	loop_timer_arm(&s->gw->loop, &s->timer, s->gw->config.gateway.reply_timeout_ms);
}

/* Peeks at the converter's reply; only a complete, successful one lets bytes flow. */
static void gw_read_reply(struct gw_session *s, bool eof)
{
	struct gateway *gw = s->gw;
	int fd = s->relay.io[RELAY_B].fd;
	struct conv_message msg = { 0 };
	struct conv_parse_error perr;
	ssize_t n;
	int len;

	n = recv(fd, gw->scratch, sizeof(gw->scratch), MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		gw_upstream_failed(s, "converter closed before replying", false);
		return;
	}
	if (gw->config.gateway.upstream_protocol == 1) {
		enum socks_reply code = SOCKS_OK;

		len = socks_parse_server(gw->scratch, (size_t)n, &code);
		if (len == -EAGAIN && !eof)
			return;
		if (len < 0) {
			gw_upstream_failed(s, "malformed SOCKS reply", false);
			return;
		}
		if (code != SOCKS_OK) {
			gw->stats.converter_errors++;
			gw->stats.errors_received[code & 0xff]++;
			s->converter_error = (int)code;
			/* a general failure is the proxy's own trouble: try another one */
			if (code == SOCKS_GENERAL_FAILURE) {
				gw_upstream_failed(s, socks_reply_name(code), true);
				return;
			}
			gw_close(s, socks_reply_name(code), true);
			return;
		}
		msg.has_error = false;
	} else {
		len = conv_parse(gw->scratch, (size_t)n, CONV_MAX_LEN, CONV_FROM_CONVERTER,
				 eof ? CONV_PARSE_EOF : 0, &msg, &perr);
		if (len == -EAGAIN)
			return;
		if (len < 0) {
			gw_upstream_failed(s, "malformed Convert reply", false);
			return;
		}
	}
	if (msg.has_error) {
		/* The converter refused this destination: the LAN client sees a reset, like a
		 * server refusing it; resource and network errors also count as a failure. */
		gw->stats.converter_errors++;
		gw->stats.errors_received[msg.error.code & 0xff]++;
		s->converter_error = msg.error.code;
		if (msg.error.code == CONV_ERR_RESOURCE_EXCEEDED ||
		    msg.error.code == CONV_ERR_NETWORK_FAILURE) {
			gw_upstream_failed(s, conv_error_name(msg.error.code), true);
			return;
		}
		gw_close(s, conv_error_name(msg.error.code), true);
		return;
	}
	if (recv(fd, gw->scratch, (size_t)len, MSG_DONTWAIT) != len) {
		gw_close(s, "error consuming the Convert reply", true);
		return;
	}
	if (s->early_len &&
	    recv(s->relay.io[RELAY_A].fd, gw->early, s->early_len, MSG_DONTWAIT) !=
		    (ssize_t)s->early_len) {
		gw_close(s, "error consuming the LAN bytes sent early", true);
		return;
	}
	if (gw->converter_failing)
		log_info("converter answers again");
	gw->converter_failing = false;
	gw_converter_ok(gw, s->converter);
	gw_track(s); /* tfo mode: the first moment the connection is known to be up */
	gw_start_relay(s);
}

static void gw_on_upstream_event(struct loop_io *io, uint32_t events)
{
	struct gw_session *s = container_of(io, struct gw_session, relay.io[RELAY_B]);
	int err;

	switch (s->state) {
	case GW_ACCEPTED:
	case GW_WAIT_EARLY:
		break;
	case GW_UPSTREAM_CONNECTING:
	case GW_DIRECT_CONNECTING:
		err = sock_pending_error(io->fd);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			if (s->state == GW_DIRECT_CONNECTING || gw_onpath(s->gw))
				gw_close(s, "destination refused or unreachable", true);
			else
				gw_upstream_failed(s, "cannot connect to the converter", false);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (s->state == GW_DIRECT_CONNECTING) {
			gw_start_relay(s);
		} else if (gw_onpath(s->gw)) {
			gw_track(s);
			gw_start_relay(s);
		} else {
			gw_send_request(s);
		}
		break;
	case GW_WAIT_REPLY:
		gw_read_reply(s, events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
		break;
	case GW_RELAY:
		break;
	}
}

/* The LAN client's first bytes came, or the wait ended: on a pooled connection the request
 * leaves now; in tfo mode the connection opens now, with them in its SYN. */
static void gw_early_ready(struct gw_session *s)
{
	loop_timer_cancel(&s->gw->loop, &s->timer);
	if (s->relay.io[RELAY_B].fd >= 0)
		gw_send_request(s);
	else
		gw_bond_connect(s, s->converter, false);
}

static void gw_on_lan_event(struct loop_io *io, uint32_t events)
{
	struct gw_session *s = container_of(io, struct gw_session, relay.io[RELAY_A]);

	/* The LAN client's bytes wait in its socket until the relay starts; only its loss
	 * matters now, and its first bytes when a pooled upstream waits for them. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		gw_close(s, "LAN client gone before the relay", false);
		return;
	}
	if (s->state == GW_WAIT_EARLY && (events & (EPOLLIN | EPOLLRDHUP)))
		gw_early_ready(s);
}

static void gw_on_timer(struct loop_timer *timer)
{
	struct gw_session *s = container_of(timer, struct gw_session, timer);

	switch (s->state) {
	case GW_WAIT_EARLY:
		gw_early_ready(s); /* the server speaks first, or the client is slow */
		break;
	case GW_UPSTREAM_CONNECTING:
		if (gw_onpath(s->gw))
			gw_close(s, "destination connect timed out", true);
		else
			gw_upstream_failed(s, "converter connect timed out", false);
		break;
	case GW_WAIT_REPLY:
		gw_upstream_failed(s, "converter reply timed out", false);
		break;
	case GW_DIRECT_CONNECTING:
		gw_close(s, "direct connect timed out", true);
		break;
	case GW_ACCEPTED:
	case GW_RELAY:
		break; /* no timer armed in these states */
	}
}

/* A pooled upstream is ready at once, before the LAN client's first bytes (which arrive
 * right after its handshake, if it speaks first): they are waited for, briefly. */
static void gw_wait_early(struct gw_session *s)
{
	char probe;
	uint32_t wait = s->gw->config.gateway.early_data_wait_ms;

	if (wait == 0 || recv(s->relay.io[RELAY_A].fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
		gw_send_request(s);
		return;
	}
	s->state = GW_WAIT_EARLY;
	loop_timer_arm(&s->gw->loop, &s->timer, wait);
}

/* One try at converter conv: a pooled connection (if allowed and suitable), or a new one
 * (tfo or plain) from the best link the rule allows. */
static void gw_bond_connect(struct gw_session *s, unsigned conv, bool allow_pool)
{
	struct gateway *gw = s->gw;
	const struct config_gateway *gc = &gw->config.gateway;
	struct sock_connect_opts opts = gw_upstream_opts(gw);
	int link, fd = -EAGAIN;

	s->converter = conv;
	s->converters_tried |= (uint8_t)(1u << conv);
	/* The pool serves only connections it suits: same converter, link allowed. */
	if (allow_pool && gw->pool_on && gw->pool_converter == conv &&
	    (!s->rule.links || (gw->pool_link >= 0 && (s->rule.links & (1u << gw->pool_link))))) {
		fd = pool_take(&gw->pool);
		if (fd >= 0) {
			gw->stats.pool_hits++;
			s->from_pool = true;
			if (gw_set_upstream(s, fd) < 0) {
				gw_close(s, "epoll registration failed", true);
				return;
			}
			gw_wait_early(s);
			return;
		}
		gw->stats.pool_misses++;
	}
	opts.has_local = gw_pick_local(gw, s->rule.links, gw_family(&gc->converters[conv]), &link,
				       &opts.local);
	if (gw->links_on && !opts.has_local) {
		gw_no_converter(s, "no usable access link");
		return;
	}
	if (gc->mode == CONFIG_MODE_TFO) {
		ssize_t early;
		char probe;

		/* The LAN client's first bytes ride in the SYN too: wait for them, briefly. */
		if (!s->early_waited && gc->early_data_wait_ms &&
		    recv(s->relay.io[RELAY_A].fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) < 0) {
			s->early_waited = true;
			s->state = GW_WAIT_EARLY;
			loop_timer_arm(&gw->loop, &s->timer, gc->early_data_wait_ms);
			return;
		}
		memcpy(gw->early, s->request, s->request_len);
		early = recv(s->relay.io[RELAY_A].fd, gw->early + s->request_len, GW_EARLY_MAX,
			     MSG_PEEK | MSG_DONTWAIT);
		s->early_len = early > 0 ? (uint32_t)early : 0;
		fd = sock_connect_tfo(&gc->converters[conv], &opts, gw->early,
				      s->request_len + s->early_len);
		if (fd >= 0 && gw_set_upstream(s, fd) == 0) {
			s->state = GW_WAIT_REPLY;
			loop_timer_arm(&gw->loop, &s->timer, gc->reply_timeout_ms);
			return;
		}
	} else {
		fd = sock_connect(&gc->converters[conv], &opts);
		if (fd >= 0 && gw_set_upstream(s, fd) == 0) {
			s->state = GW_UPSTREAM_CONNECTING;
			loop_timer_arm(&gw->loop, &s->timer, gc->connect_timeout_ms);
			return;
		}
	}
	if (fd >= 0)
		gw_set_upstream(s, -1);
	gw_upstream_failed(s, "cannot open a connection to the converter", false);
}

/* The first converter not backing off and not yet tried by this connection. While every
 * converter backs off after a refusal, nobody is asked (RFC 8803: wait before asking again);
 * while one only backs off because it was unreachable, it is tried anyway. */
static void gw_bond_attempt(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	int conv = gw_pick_converter(gw, s->converters_tried);

	if (conv < 0) {
		for (unsigned i = 0; i < gw->config.gateway.converters_len && conv < 0; i++)
			if (!(s->converters_tried & (1u << i)) && !gw->converters[i].refused)
				conv = (int)i;
		if (conv < 0) {
			gw_no_converter(s, "every converter refused recently (backing off)");
			return;
		}
	}
	gw_bond_connect(s, (unsigned)conv, true);
}

/* On-path mode: an MPTCP connection to the destination itself; the converter on the routing
 * path terminates it. No request, no reply: the relay starts once it is connected. */
static void gw_connect_onpath(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	struct sock_connect_opts opts = gw_upstream_opts(gw);
	int link, fd;

	opts.has_local = gw_pick_local(gw, s->rule.links, gw_family(&s->dest), &link, &opts.local);
	if (gw->links_on && !opts.has_local) {
		gw_close(s, "no usable access link", true);
		return;
	}
	fd = sock_connect(&s->dest, &opts);
	if (fd < 0 || gw_set_upstream(s, fd) < 0) {
		if (fd >= 0)
			gw_set_upstream(s, -1);
		gw_close(s, "cannot connect to the destination", true);
		return;
	}
	s->state = GW_UPSTREAM_CONNECTING;
	loop_timer_arm(&gw->loop, &s->timer, gw->config.gateway.connect_timeout_ms);
}

static void gw_bond(struct gw_session *s)
{
	struct conv_writer w;
	int len;

	s->bonded = true;
	if (s->gw->config.gateway.upstream_protocol == 2) { /* on-path: straight to the server */
		gw_connect_onpath(s);
		return;
	}
	if (s->gw->config.gateway.upstream_protocol == 1) { /* SOCKS 5, greeting + CONNECT */
		s->request_len = (uint16_t)socks_put_client_hello(s->request, &s->dest);
		gw_bond_attempt(s);
		return;
	}
	conv_writer_begin(&w, s->request, sizeof(s->request));
	conv_put_connect(&w, s->dest.port, s->dest.ip, NULL, 0);
	len = conv_writer_finish(&w);
	if (len < 0) {
		gw_close(s, "destination cannot be named in a Convert message", true);
		return;
	}
	s->request_len = (uint16_t)len;
	gw_bond_attempt(s);
}

/* REDIRECT's original destination: IPv4 (SO_ORIGINAL_DST, also for v4-mapped peers of the
 * dual-stack listener), then IPv6 (IP6T_SO_ORIGINAL_DST, the same number at SOL_IPV6). */
static int gw_original_dst(int fd, struct sockaddr_storage *out, socklen_t *len)
{
	const int so_original_dst = 80;

	*len = sizeof(struct sockaddr_in);
	if (getsockopt(fd, SOL_IP, so_original_dst, out, len) == 0)
		return 0;
	*len = sizeof(struct sockaddr_in6);
	if (getsockopt(fd, SOL_IPV6, so_original_dst, out, len) == 0)
		return 0;
	return -errno;
}

/* One more connection for the rule of that name (a short table: rules are few). */
static void gw_count_rule(struct gateway *gw, const char *name)
{
	struct gw_stats *st = &gw->stats;
	size_t i;

	for (i = 0; i < st->rule_hits_len; i++)
		if (!strcmp(st->rule_hits[i].name, name))
			break;
	if (i == st->rule_hits_len) {
		if (i == sizeof(st->rule_hits) / sizeof(st->rule_hits[0]))
			return; /* many reloads renaming rules: the oldest names keep their counts */
		snprintf(st->rule_hits[i].name, sizeof(st->rule_hits[i].name), "%s", name);
		st->rule_hits_len++;
	}
	st->rule_hits[i].hits++;
}

static void gw_open_session(struct gateway *gw, int fd, const struct sockaddr_storage *peer,
			    socklen_t peer_len)
{
	struct sockaddr_storage local;
	socklen_t local_len = sizeof(local);
	struct pol_flow flow = { 0 };
	struct gw_session *s = calloc(1, sizeof(*s));

	if (!s) {
		sock_set_reset_on_close(fd);
		close(fd);
		return;
	}
	s->gw = gw;
	s->converter_error = -1;
	s->started_ms = gw->loop.now_ms;
	loop_timer_init(&s->timer, gw_on_timer);
	relay_prepare(&s->relay, fd, -1);
	s->relay.loop = &gw->loop;
	s->relay.io[RELAY_A].on_event = gw_on_lan_event;
	addr_from_sockaddr((const struct sockaddr *)peer, peer_len, &s->client);
	/* TPROXY: the accepted socket's local address is where the client was going; REDIRECT:
	 * conntrack remembers it. */
	bool dest_known =
		(gw->config.gateway.intercept_method == 1
			 ? gw_original_dst(fd, &local, &local_len) == 0
			 : getsockname(fd, (struct sockaddr *)&local, &local_len) == 0) &&
		addr_from_sockaddr((struct sockaddr *)&local, local_len, &s->dest);

	s->next = gw->sessions;
	if (gw->sessions)
		gw->sessions->prev = s;
	gw->sessions = s;
	gw->sessions_len++;
	gw->stats.sessions++;

	memcpy(flow.src, s->client.ip, 16);
	memcpy(flow.dst, s->dest.ip, 16);
	flow.dport = s->dest.port;
	s->rule = *pol_match(&gw->policy, &flow);
	gw_count_rule(gw, s->rule.name);
	if (loop_add(&gw->loop, &s->relay.io[RELAY_A], RELAY_EPOLL_EVENTS) < 0) {
		gw_close(s, "epoll registration failed", true);
		return;
	}
	sock_set_nodelay(fd);
	if (!dest_known) {
		gw_close(s, "original destination unknown (not an intercepted connection?)", true);
		return;
	}
	switch (s->rule.action) {
	case POL_BLOCK:
		gw->stats.blocked++;
		gw_close(s, "blocked by policy", true);
		break;
	case POL_DIRECT:
		gw->stats.direct++;
		gw_go_direct(s);
		break;
	case POL_BOND:
		gw->stats.bonded++;
		gw_bond(s);
		break;
	}
}

static void gw_on_listener(struct loop_io *io, uint32_t events)
{
	struct gateway *gw = container_of(io, struct gateway, listener);

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(io->fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept");
			return;
		}
		gw_open_session(gw, fd, &peer, len);
	}
}

static void gw_close_all(struct gateway *gw, const char *reason)
{
	while (gw->sessions)
		gw_close(gw->sessions, reason, true);
}

static void gw_on_drain_timeout(struct loop_timer *timer)
{
	struct gateway *gw = container_of(timer, struct gateway, drain_timer);

	gw_close_all(gw, "shutdown: drain timeout");
	loop_stop(&gw->loop);
}

static void gw_on_signal(struct loop_io *io, uint32_t events)
{
	struct gateway *gw = container_of(io, struct gateway, signals);
	struct signalfd_siginfo si;

	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			char why[CONFIG_ERR_LEN];

			gw_reload(gw, why);
			continue;
		}
		if (gw->draining)
			continue;
		log_info("signal %u: draining %zu sessions", si.ssi_signo, gw->sessions_len);
		gw->draining = true;
		/* No new upstream connections while draining: the pool has nobody left to serve. */
		if (gw->pool_on) {
			pool_destroy(&gw->pool);
			gw->pool_on = false;
		}
		if (gw->listener.fd >= 0) {
			loop_remove(&gw->loop, &gw->listener);
			close(gw->listener.fd);
			gw->listener.fd = -1;
		}
		if (gw->sessions_len == 0)
			loop_stop(&gw->loop);
		else
			loop_timer_arm(&gw->loop, &gw->drain_timer,
				       gw->config.gateway.drain_timeout_ms);
	}
}

/* The rules of gc, naming the links of gc, into table (freed on error). 0 or -errno. */
static int gw_build_policy(const struct config_gateway *gc, struct pol_table *table,
			   char err[POL_ERR_LEN])
{
	const char *link_names[LINKS_MAX];

	for (size_t i = 0; i < gc->links_len; i++)
		link_names[i] = gc->links[i].name;
	pol_init(table, (enum pol_action)gc->default_action);
	for (size_t i = 0; i < gc->rules_len; i++) {
		struct pol_rule rule;

		if (pol_parse_rule(gc->rules[i], link_names, gc->links_len, &rule, err) < 0) {
			pol_free(table);
			return -EINVAL;
		}
		if (pol_add(table, &rule) < 0) {
			pol_free(table);
			snprintf(err, POL_ERR_LEN, "out of memory for the policy");
			return -ENOMEM;
		}
	}
	return 0;
}

static bool gw_links_equal(const struct config_gateway *a, const struct config_gateway *b)
{
	return a->links_len == b->links_len &&
	       !memcmp(a->links, b->links, a->links_len * sizeof(a->links[0]));
}

/*
 * SIGHUP (or `mpconvctl reload`): the configuration again, from the same command line (so from
 * the same file). Applied at once: policy rules and default action, converters, timeouts, pool
 * bounds, probe settings, early-data wait, log level; live sessions keep their rule. What the
 * running system is built on (links, LAN interfaces, port, capture method, mode, path manager)
 * takes effect at restart. 0, or -errno with why filled in; the running configuration stays.
 */
static int gw_reload(struct gateway *gw, char why[CONFIG_ERR_LEN])
{
	struct config fresh, old;
	struct config_gateway *now = &gw->config.gateway, *next;
	struct pol_table policy;
	char err[POL_ERR_LEN];
	int consumed = 0;

	config_init(&fresh);
	fresh.role = CONFIG_GATEWAY;
	if (config_parse_args(&fresh, gw->argc - 1, gw->argv + 1, &consumed, why) < 0 ||
	    config_finish(&fresh, why) < 0) {
		config_free(&fresh);
		log_warnx("reload: %s; keeping the running configuration", why);
		return -EINVAL;
	}
	next = &fresh.gateway;
	if (!gw_links_equal(now, next) || now->lan_len != next->lan_len ||
	    memcmp(now->lan, next->lan, sizeof(now->lan)) || now->port != next->port ||
	    now->intercept != next->intercept || now->intercept_method != next->intercept_method ||
	    now->mode != next->mode || now->path_manager != next->path_manager ||
	    now->link_table != next->link_table)
		log_warnx("reload: links, lan, port, intercept, mode, path-manager and link-table "
			  "take effect at restart");
	/* Keep what the running system is built on; the policy names the running links. */
	memcpy(next->links, now->links, sizeof(now->links));
	next->links_len = now->links_len;
	memcpy(next->lan, now->lan, sizeof(now->lan));
	next->lan_len = now->lan_len;
	next->port = now->port;
	next->intercept = now->intercept;
	next->intercept_method = now->intercept_method;
	next->mode = now->mode;
	next->path_manager = now->path_manager;
	next->link_table = now->link_table;
	if (gw_build_policy(next, &policy, err) < 0) {
		snprintf(why, CONFIG_ERR_LEN, "%s", err);
		config_free(&fresh);
		log_warnx("reload: %s; keeping the running configuration", why);
		return -EINVAL;
	}
	old = gw->config;
	gw->config = fresh;
	config_free(&old);
	pol_free(&gw->policy);
	gw->policy = policy;
	now = &gw->config.gateway;
	log_set_level(now->log_level);
	memset(gw->converters, 0, sizeof(gw->converters)); /* a new list: no back-off carried */
	if (gw->pool_on) {
		gw->pool.params.min = now->pool_min;
		gw->pool.params.max = now->pool_max;
		gw->pool.params.max_idle_ms = now->pool_max_idle_ms;
		gw->pool.params.connect_timeout_ms = now->connect_timeout_ms;
		gw->pool.params.connect.buffer_size = now->socket_buffer;
		gw->pool_link = -2; /* reconnect: the converter list may have changed */
		gw_pool_sync(gw);
	}
	if (gw->links_on)
		links_set_probes(&gw->links, now->probe_interval_ms, now->probe_down, now->probe_up,
				 &now->probe_target);
	log_info("reload: configuration applied to new connections (%zu rules, %zu converters)",
		 gw->policy.len, now->converters_len);
	return 0;
}

static int gw_start_intercept(struct gateway *gw)
{
	const struct config_gateway *gc = &gw->config.gateway;
	char err[256] = "";
	int ret;

	if (!gc->intercept)
		return 0;
	gw->intercept = (struct intercept_config){ .port = (uint16_t)gc->port,
						   .ipv6 = true,
						   .redirect = gc->intercept_method == 1 };
	for (size_t i = 0; i < gc->lan_len; i++)
		gw->intercept.lan_ifaces[gw->intercept.lan_len++] = gc->lan[i];
	for (size_t i = 0; i < gc->exclude.len && i < INTERCEPT_MAX_EXCLUDE; i++)
		gw->intercept.exclude[gw->intercept.exclude_len++] = gc->exclude.prefixes[i];
	if (gc->exclude.len > INTERCEPT_MAX_EXCLUDE)
		log_warnx("exclude: only the first %d prefixes are used", INTERCEPT_MAX_EXCLUDE);
	ret = intercept_install(&gw->intercept, err, sizeof(err));
	if (ret < 0) {
		log_warnx("cannot install interception: %s", err);
		return ret;
	}
	gw->intercept_installed = true;
	return 0;
}

static void gw_stop_intercept(struct gateway *gw)
{
	char err[256] = "";

	if (gw->intercept_installed && intercept_remove(&gw->intercept, err, sizeof(err)) < 0)
		log_warnx("cannot remove interception: %s", err);
	gw->intercept_installed = false;
}

/* A sysctl of this network namespace: old (if given) gets the value it had. 0 or -errno. */
static int gw_sysctl(const char *path, const char *value, char *old, size_t old_len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (old) {
		n = read(fd, old, old_len - 1);
		old[n > 0 ? n : 0] = 0;
		old[strcspn(old, "\n")] = 0;
		lseek(fd, 0, SEEK_SET);
	}
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void gw_on_link_change(int link, bool usable, void *arg)
{
	struct gateway *gw = arg;

	if (gw->paths_on)
		paths_link_changed(&gw->paths, link, usable);
	gw_pool_sync(gw);
}

/* The access links, their routing and probes, and (userspace path manager) the subflows. */
static int gw_start_links(struct gateway *gw)
{
	const struct config_gateway *gc = &gw->config.gateway;
	struct links_params params = {
		.table_base = gc->link_table,
		.probe_interval_ms = gc->probe_interval_ms,
		.probe_down = gc->probe_down,
		.probe_up = gc->probe_up,
		.on_change = gw_on_link_change,
		.arg = gw,
	};
	char err[LINKS_ERR_LEN];
	int ret, f = addr_is_v4mapped(gc->probe_target.ip) ? 0 : 1;

	/* One bad minute must not disable MPTCP towards the converter for an hour. */
	ret = gw_sysctl("/proc/sys/net/mptcp/blackhole_timeout", "0", NULL, 0);
	if (ret < 0 && ret != -ENOENT)
		log_warnx("cannot set net.mptcp.blackhole_timeout=0: %s", strerror(-ret));
	if (gc->links_len == 0)
		return 0;
	params.probe_target[f] = gc->probe_target;
	params.has_probe_target[f] = true;
	ret = links_start(&gw->links, &gw->loop, gc->links, (unsigned)gc->links_len, &params, err);
	if (ret < 0) {
		log_warnx("%s", err);
		return ret;
	}
	gw->links_on = true;
	if (gc->path_manager != 0)
		return 0;
	ret = gw_sysctl("/proc/sys/net/mptcp/path_manager", "userspace", gw->saved_path_manager,
			sizeof(gw->saved_path_manager));
	/* Found already set: most likely our own, left by a run that crashed. */
	if (ret == 0 && !strcmp(gw->saved_path_manager, "userspace"))
		strcpy(gw->saved_path_manager, "kernel");
	if (ret < 0) {
		log_warnx("cannot select the userspace MPTCP path manager: %s", strerror(-ret));
		gw->saved_path_manager[0] = 0;
		return ret;
	}
	ret = paths_start(&gw->paths, &gw->loop, &gw->links);
	if (ret < 0)
		return ret;
	gw->paths_on = true;
	return 0;
}

static void gw_stop_links(struct gateway *gw)
{
	if (gw->paths_on)
		paths_stop(&gw->paths);
	gw->paths_on = false;
	if (gw->saved_path_manager[0] &&
	    gw_sysctl("/proc/sys/net/mptcp/path_manager", gw->saved_path_manager, NULL, 0) < 0)
		log_warnx("cannot restore net.mptcp.path_manager=%s", gw->saved_path_manager);
	gw->saved_path_manager[0] = 0;
	if (gw->links_on)
		links_stop(&gw->links);
	gw->links_on = false;
}

/* ------------------------------------------------------------------------------------------ */
/* Operator access: `mpconvctl` over the control socket, /metrics and the status page. All on
 * the gateway's one loop, so every answer is a consistent snapshot taken at once. */

#define GW_TOP_SESSIONS 20

static uint64_t gw_wall_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

static const char *gw_mode_name(const struct gw_session *s)
{
	if (!s->bonded)
		return "direct";
	if (s->from_pool)
		return "pool";
	return s->gw->config.gateway.mode == CONFIG_MODE_TFO ? "tfo" : "plain";
}

static void gw_session_row(const struct gw_session *s, struct status_session *row)
{
	int up = s->relay.io[RELAY_B].fd, n;

	memset(row, 0, sizeof(*row));
	row->client = s->client;
	row->dest = s->dest;
	row->has_dest = true;
	row->state = gw_state_name(s->state);
	row->mode = gw_mode_name(s);
	snprintf(row->rule, sizeof(row->rule), "%.*s", (int)sizeof(row->rule) - 1, s->rule.name);
	row->age_ms = s->gw->loop.now_ms - s->started_ms;
	row->bytes_up = s->relay.dir[RELAY_A].bytes;
	row->bytes_down = s->relay.dir[RELAY_B].bytes;
	row->server_mptcp = s->bonded && !s->fell_back && up >= 0;
	if (up < 0)
		return;
	n = sock_subflows_info(up, row->subflows, STATUS_MAX_SUBFLOWS);
	if (n > 0) {
		row->subflows_total = n;
		row->subflows_len = n < STATUS_MAX_SUBFLOWS ? (size_t)n : STATUS_MAX_SUBFLOWS;
	}
}

/* Every session (at most max), largest first. Returns the count; *rows is owned by the
 * caller (NULL when none). */
static size_t gw_session_rows(struct gateway *gw, struct status_session **rows, size_t max)
{
	size_t n = 0;

	*rows = NULL;
	if (gw->sessions_len == 0)
		return 0;
	*rows = malloc(gw->sessions_len * sizeof(**rows));
	if (!*rows)
		return 0;
	for (struct gw_session *s = gw->sessions; s; s = s->next)
		gw_session_row(s, &(*rows)[n++]);
	status_sort_sessions(*rows, n);
	return n < max ? n : max;
}

static uint64_t gw_read_counter(const char *dev, const char *name)
{
	char path[128], text[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", dev, name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	fclose(f);
	return strtoull(text, NULL, 10);
}

/* The access links as the operator sees them (or, without declared links, the interfaces). */
static size_t gw_link_rows(struct gateway *gw, struct status_link *rows, size_t max)
{
	if (!gw->links_on) {
		int n = status_read_interfaces(rows, max);

		return n < 0 ? 0 : (size_t)n;
	}
	for (unsigned i = 0; i < gw->links.len && i < max; i++) {
		const struct link_state *l = &gw->links.link[i];
		struct status_link *row = &rows[i];

		memset(row, 0, sizeof(*row));
		snprintf(row->name, sizeof(row->name), "%s", l->conf.name);
		row->state = l->usable	   ? "up"
			     : !l->ifindex ? "absent"
			     : !l->carrier ? "no-carrier"
			     : !l->alive   ? "dead"
					   : "down";
		row->rx_bytes = gw_read_counter(l->conf.dev, "rx_bytes");
		row->tx_bytes = gw_read_counter(l->conf.dev, "tx_bytes");
		row->rtt_ms = l->probes_answered ? (double)l->rtt_ms : -1;
		row->loss_pct = l->probes_sent ? 100.0 * (double)(l->probes_sent - l->probes_answered) /
							 (double)l->probes_sent
					       : -1;
		if (l->has_addr4 && row->addrs_len < STATUS_LINK_ADDRS) {
			memcpy(row->addrs[row->addrs_len], l->addr4, 16);
			row->prefix_len[row->addrs_len++] = 128;
		}
		if (l->has_addr6 && row->addrs_len < STATUS_LINK_ADDRS) {
			memcpy(row->addrs[row->addrs_len], l->addr6, 16);
			row->prefix_len[row->addrs_len++] = 128;
		}
	}
	return gw->links.len < max ? gw->links.len : max;
}

static void gw_totals_json(struct gateway *gw, struct reply *r)
{
	const struct gw_stats *st = &gw->stats;

	reply_printf(r,
		     "\"sessions_open\":%zu,\"sessions_total\":%lu,\"bonded\":%lu,\"direct\":%lu,"
		     "\"blocked\":%lu,\"bytes_up\":%lu,\"bytes_down\":%lu,\"pool_ready\":%u,"
		     "\"pool_hits\":%lu,\"pool_misses\":%lu,\"converter_errors\":%lu,"
		     "\"upstream_failures\":%lu,\"converter_down_fallbacks\":%lu,"
		     "\"mptcp_fallbacks\":%lu,\"converter_switches\":%lu",
		     gw->sessions_len, st->sessions, st->bonded, st->direct, st->blocked,
		     st->bytes_up, st->bytes_down, gw->pool_on ? gw->pool.ready : 0, st->pool_hits,
		     st->pool_misses, st->converter_errors, st->upstream_failures, st->fallbacks,
		     st->mptcp_fallbacks, st->converter_switches);
}

static void gw_identity_json(struct gateway *gw, struct reply *r)
{
	const struct config_gateway *gc = &gw->config.gateway;
	char where[ADDR_STRLEN];

	reply_printf(r,
		     "\"role\":\"gateway\",\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%llu,"
		     "\"workers\":1,\"mode\":\"%s\",\"config\":",
		     MPCONV_VERSION, (long)getpid(),
		     (unsigned long long)((gw->loop.now_ms - gw->started_ms) / 1000),
		     gc->mode == CONFIG_MODE_POOL ? "pool"
		     : gc->mode == CONFIG_MODE_TFO ? "tfo"
						   : "plain");
	reply_json_string(r, gw->config.path);
	reply_puts(r, ",\"converters\":[");
	for (size_t i = 0; i < gc->converters_len; i++) {
		reply_puts(r, i ? ",{\"address\":" : "{\"address\":");
		reply_json_string(r, addr_format(&gc->converters[i], true, where));
		reply_printf(r, ",\"usable\":%s,\"failures\":%lu}",
			     gw_converter_usable(gw, (unsigned)i) ? "true" : "false",
			     gw->converters[i].failures);
	}
	reply_puts(r, "]");
}

static int gw_ctl_status(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;
	const struct config_gateway *gc = &gw->config.gateway;
	const struct gw_stats *st = &gw->stats;
	char u1[REPLY_UNIT_LEN], u2[REPLY_UNIT_LEN], where[ADDR_STRLEN];

	if (req->json) {
		reply_puts(r, "{");
		gw_identity_json(gw, r);
		reply_puts(r, ",");
		gw_totals_json(gw, r);
		reply_puts(r, "}\n");
		return 0;
	}
	reply_printf(r, "%-11s gateway %s (pid %ld)\n", "role", MPCONV_VERSION, (long)getpid());
	reply_printf(r, "%-11s %s\n", "uptime", reply_fmt_age(gw->loop.now_ms - gw->started_ms, u1));
	reply_printf(r, "%-11s %s\n", "config", gw->config.path ? gw->config.path : "(flags)");
	reply_printf(r, "%-11s %s, capture %s, %zu link(s), %zu rule(s)\n", "mode",
		     gc->mode == CONFIG_MODE_POOL  ? "pool"
		     : gc->mode == CONFIG_MODE_TFO ? "tfo"
						   : "plain",
		     gc->intercept_method ? "redirect" : "tproxy", gc->links_len, gw->policy.len);
	for (size_t i = 0; i < gc->converters_len; i++)
		reply_printf(r, "%-11s %s%s\n", i ? "" : "converters",
			     addr_format(&gc->converters[i], true, where),
			     gw_converter_usable(gw, (unsigned)i) ? "" : " (backing off)");
	reply_printf(r, "%-11s %zu open, %lu in all: %lu bonded, %lu direct, %lu blocked\n",
		     "sessions", gw->sessions_len, st->sessions, st->bonded, st->direct, st->blocked);
	reply_printf(r, "%-11s %s up, %s down (ended sessions)\n", "bytes",
		     reply_fmt_bytes(st->bytes_up, u1), reply_fmt_bytes(st->bytes_down, u2));
	reply_printf(r, "%-11s %u ready, %lu hits, %lu misses\n", "pool",
		     gw->pool_on ? gw->pool.ready : 0, st->pool_hits, st->pool_misses);
	reply_printf(r, "%-11s %lu converter errors, %lu upstream failures, %lu MPTCP fallbacks\n",
		     "problems", st->converter_errors, st->upstream_failures, st->mptcp_fallbacks);
	return 0;
}

static int gw_ctl_sessions(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct status_session *rows;
	size_t n = gw_session_rows(ctx, &rows, SIZE_MAX);

	if (req->json) {
		reply_puts(r, "{\"sessions\":");
		status_sessions_json(r, rows, n);
		reply_puts(r, "}\n");
	} else {
		status_sessions_text(r, rows, n);
	}
	free(rows);
	return 0;
}

static int gw_ctl_links(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;
	struct status_link links[LINKS_MAX * 2];
	struct status_session *rows;
	size_t nl = gw_link_rows(gw, links, sizeof(links) / sizeof(links[0]));
	size_t ns = gw_session_rows(gw, &rows, SIZE_MAX);

	status_count_link_subflows(links, nl, rows, ns);
	free(rows);
	if (req->json) {
		reply_puts(r, "{\"links\":");
		status_links_json(r, links, nl);
		reply_puts(r, "}\n");
	} else {
		status_links_text(r, links, nl);
	}
	return 0;
}

static int gw_ctl_reload(void *ctx, struct reply *r, const struct ctl_request *req)
{
	char why[CONFIG_ERR_LEN] = "";
	int ret = gw_reload(ctx, why);

	if (ret < 0) {
		reply_printf(r, "%s", why);
		return ret;
	}
	reply_puts(r, req->json ? "{\"reloaded\":true}\n" : "configuration reloaded\n");
	return 0;
}

static int gw_http_status(void *ctx, struct reply *r)
{
	struct gateway *gw = ctx;
	struct status_link links[LINKS_MAX * 2];
	struct status_session *rows;
	size_t nl = gw_link_rows(gw, links, sizeof(links) / sizeof(links[0]));
	size_t ns = gw_session_rows(gw, &rows, SIZE_MAX);

	status_count_link_subflows(links, nl, rows, ns);
	reply_puts(r, "{");
	gw_identity_json(gw, r);
	reply_printf(r, ",\"time_ms\":%llu,", (unsigned long long)gw_wall_ms());
	gw_totals_json(gw, r);
	reply_puts(r, ",\"links\":");
	status_links_json(r, links, nl);
	reply_puts(r, ",\"sessions\":");
	status_sessions_json(r, rows, ns < GW_TOP_SESSIONS ? ns : GW_TOP_SESSIONS);
	reply_puts(r, "}\n");
	free(rows);
	return 0;
}

static int gw_http_history(void *ctx, struct reply *r)
{
	status_history_json(r, ((struct gateway *)ctx)->history);
	return 0;
}

static void gw_counter(struct metrics_writer *w, const char *name, const char *help,
		       unsigned long value)
{
	metrics_family(w, name, METRICS_COUNTER, help);
	metrics_sample(w, NULL, 0, value);
}

static int gw_http_metrics(void *ctx, struct reply *r)
{
	struct gateway *gw = ctx;
	struct gw_stats *st = &gw->stats;
	struct status_link links[LINKS_MAX * 2];
	struct status_session *rows;
	size_t nl = gw_link_rows(gw, links, sizeof(links) / sizeof(links[0]));
	size_t ns = gw_session_rows(gw, &rows, SIZE_MAX);
	struct metrics_writer w;
	struct metrics_label l[2];
	char code[8];

	status_count_link_subflows(links, nl, rows, ns);
	free(rows);
	metrics_writer_init(&w, r, "gateway");
	metrics_family(&w, "mpconv_build_info", METRICS_GAUGE, "Version of the running mpconvd.");
	l[0] = (struct metrics_label){ "version", MPCONV_VERSION };
	metrics_sample(&w, l, 1, 1);
	metrics_family(&w, "mpconv_uptime_seconds", METRICS_GAUGE, "Seconds since start.");
	metrics_sample(&w, NULL, 0, (gw->loop.now_ms - gw->started_ms) / 1000);
	metrics_family(&w, "mpconv_sessions_open", METRICS_GAUGE, "Sessions open now.");
	metrics_sample(&w, NULL, 0, gw->sessions_len);
	metrics_family(&w, "mpconv_sessions_total", METRICS_COUNTER,
		       "LAN connections taken, by policy action.");
	l[0] = (struct metrics_label){ "action", "bond" };
	metrics_sample(&w, l, 1, st->bonded);
	l[0].value = "direct";
	metrics_sample(&w, l, 1, st->direct);
	l[0].value = "block";
	metrics_sample(&w, l, 1, st->blocked);
	metrics_family(&w, "mpconv_policy_decisions_total", METRICS_COUNTER,
		       "LAN connections by the policy rule that matched.");
	for (size_t i = 0; i < st->rule_hits_len; i++) {
		l[0] = (struct metrics_label){ "rule", st->rule_hits[i].name };
		metrics_sample(&w, l, 1, st->rule_hits[i].hits);
	}
	metrics_family(&w, "mpconv_bytes_total", METRICS_COUNTER,
		       "Bytes relayed by ended sessions; up is LAN to server.");
	l[0] = (struct metrics_label){ "direction", "up" };
	metrics_sample(&w, l, 1, st->bytes_up);
	l[0].value = "down";
	metrics_sample(&w, l, 1, st->bytes_down);
	metrics_family(&w, "mpconv_sessions_closed_total", METRICS_COUNTER,
		       "Ended sessions by how they ended.");
	for (int i = RELAY_END_NONE + 1; i < GW_END_COUNT; i++) {
		l[0] = (struct metrics_label){ "reason", i == GW_END_NOT_RELAYED
								 ? "not_relayed"
								 : relay_end_name((enum relay_end)i) };
		metrics_sample(&w, l, 1, st->ends[i]);
	}
	metrics_family(&w, "mpconv_convert_errors_received_total", METRICS_COUNTER,
		       "Refusals received from converters, by code (RFC 8803 Error TLV, or the "
		       "SOCKS reply).");
	for (int c = 0; c < 256; c++) {
		if (!st->errors_received[c])
			continue;
		snprintf(code, sizeof(code), "%d", c);
		l[0] = (struct metrics_label){ "code", code };
		metrics_sample(&w, l, 1, st->errors_received[c]);
	}
	gw_counter(&w, "mpconv_pool_hits_total", "Bonded connections served by the pool.",
		   st->pool_hits);
	gw_counter(&w, "mpconv_pool_misses_total", "Bonded connections the pool could not serve.",
		   st->pool_misses);
	metrics_family(&w, "mpconv_pool_ready", METRICS_GAUGE,
		       "Pre-established connections ready now.");
	metrics_sample(&w, NULL, 0, gw->pool_on ? gw->pool.ready : 0);
	gw_counter(&w, "mpconv_mptcp_fallbacks_total",
		   "Upstream connections that fell back to plain TCP.", st->mptcp_fallbacks);
	gw_counter(&w, "mpconv_upstream_failures_total",
		   "Bonded connections no converter could take.", st->upstream_failures);
	gw_counter(&w, "mpconv_converter_switches_total",
		   "Connections moved on to the next converter.", st->converter_switches);
	metrics_family(&w, "mpconv_link_up", METRICS_GAUGE, "1 when the access link is usable.");
	for (size_t i = 0; i < nl; i++) {
		l[0] = (struct metrics_label){ "link", links[i].name };
		metrics_sample(&w, l, 1, !strcmp(links[i].state, "up"));
	}
	metrics_family(&w, "mpconv_link_bytes_total", METRICS_COUNTER,
		       "Bytes through the access link's interface.");
	for (size_t i = 0; i < nl; i++) {
		l[0] = (struct metrics_label){ "link", links[i].name };
		l[1] = (struct metrics_label){ "direction", "rx" };
		metrics_sample(&w, l, 2, links[i].rx_bytes);
		l[1].value = "tx";
		metrics_sample(&w, l, 2, links[i].tx_bytes);
	}
	metrics_family(&w, "mpconv_link_subflows", METRICS_GAUGE,
		       "Subflows of open sessions on the access link.");
	for (size_t i = 0; i < nl; i++) {
		l[0] = (struct metrics_label){ "link", links[i].name };
		metrics_sample(&w, l, 1, links[i].subflows);
	}
	metrics_family(&w, "mpconv_link_probe_rtt_seconds", METRICS_GAUGE,
		       "Last health-probe round trip over the access link.");
	for (size_t i = 0; i < nl; i++) {
		if (links[i].rtt_ms < 0)
			continue;
		l[0] = (struct metrics_label){ "link", links[i].name };
		metrics_sample_double(&w, l, 1, links[i].rtt_ms / 1000);
	}
	gw_counter(&w, "mpconv_subflows_created_total",
		   "Subflows asked of the kernel's path manager.", gw->paths.stats.created);
	gw_counter(&w, "mpconv_subflows_closed_link_down_total",
		   "Subflows closed because their link died.", gw->paths.stats.closed_by_link_down);
	gw_counter(&w, "mpconv_subflows_restored_total",
		   "Subflows re-created when their link returned.", gw->paths.stats.restored);
	gw_counter(&w, "mpconv_link_routes_restored_total",
		   "Times the kernel deleted a link's routes and the gateway re-added them.",
		   gw->links.routes_restored);
	metrics_family(&w, "mpconv_setup_seconds", METRICS_HISTOGRAM,
		       "From the LAN connection's accept to the relay started.");
	metrics_histogram(&w, NULL, 0, &st->setup);
	return 0;
}

/* `mpconvctl probe`: the converter tested over each link, now. An MPTCP connection from the
 * link's address carries a bare Convert header in its SYN (Fast Open, no cookie); the
 * converter answers it with an Error TLV without opening anything. The answer shows the link
 * reaches the converter (and in how long), and whether MPTCP options and SYN data get through.
 */
#define GW_PROBE_TIMEOUT_MS 3000

struct gw_probe;

struct gw_probe_link {
	struct loop_io io;
	struct gw_probe *probe;
	int link;     /* -1: no declared links, routing decides */
	int err;      /* connect error (positive errno), 0 if none */
	int rtt_ms;   /* connect time, -1 until connected */
	int mptcp;    /* -1 unknown */
	int syn_data; /* SYN payload acknowledged: 1, 0, or -1 unknown */
	bool answered, done;
};

struct gw_probe {
	struct gateway *gw;
	struct gw_probe *next;
	struct reply *reply;
	bool json;
	uint64_t started_ms;
	struct loop_timer timer;
	size_t len, pending;
	struct gw_probe_link links[LINKS_MAX];
};

static void gw_probe_link_end(struct gw_probe_link *pl)
{
	struct gateway *gw = pl->probe->gw;

	if (pl->io.fd >= 0) {
		loop_remove(&gw->loop, &pl->io);
		close(pl->io.fd);
		pl->io.fd = -1;
	}
	if (!pl->done) {
		pl->done = true;
		pl->probe->pending--;
	}
}

static const char *gw_probe_verdict(const struct gw_probe_link *pl)
{
	if (pl->err == ENETDOWN)
		return "link down (no carrier)";
	if (pl->err == EADDRNOTAVAIL)
		return "no address of the converter's family on this link";
	if (pl->rtt_ms < 0)
		return pl->err ? "unreachable" : "no answer to the SYN";
	if (pl->mptcp == 0)
		return "MPTCP stripped on the path (plain TCP only)";
	if (!pl->answered)
		return "connected, but no answer from the converter";
	if (pl->syn_data == 0)
		return "ok, but SYN data not accepted (use mode pool, not tfo)";
	return "ok";
}

static const char *gw_tristate(int v)
{
	return v < 0 ? "?" : v ? "yes" : "no";
}

static void gw_probe_free(struct gw_probe *p)
{
	struct gateway *gw = p->gw;
	struct gw_probe **pp = &gw->probes;

	for (size_t i = 0; i < p->len; i++)
		gw_probe_link_end(&p->links[i]);
	loop_timer_cancel(&gw->loop, &p->timer);
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	free(p);
}

static void gw_probe_finish(struct gw_probe *p)
{
	struct reply *r = p->reply;
	char rtt[16];

	for (size_t i = 0; i < p->len; i++)
		gw_probe_link_end(&p->links[i]);
	if (p->json)
		reply_puts(r, "{\"links\":[");
	else
		reply_printf(r, "%-10s %-8s %-6s %-9s %-9s %s\n", "link", "rtt", "mptcp", "syn-data",
			     "answered", "verdict");
	for (size_t i = 0; i < p->len; i++) {
		const struct gw_probe_link *pl = &p->links[i];
		const char *name = pl->link >= 0 ? p->gw->links.link[pl->link].conf.name
						 : "(routing)";

		if (p->json) {
			reply_puts(r, i ? ",{\"name\":" : "{\"name\":");
			reply_json_string(r, name);
			reply_printf(r, ",\"rtt_ms\":");
			if (pl->rtt_ms < 0)
				reply_puts(r, "null");
			else
				reply_printf(r, "%d", pl->rtt_ms);
			reply_printf(r, ",\"mptcp\":%s,\"syn_data\":%s,\"answered\":%s,\"verdict\":",
				     pl->mptcp < 0 ? "null" : pl->mptcp ? "true" : "false",
				     pl->syn_data < 0 ? "null" : pl->syn_data ? "true" : "false",
				     pl->answered ? "true" : "false");
			reply_json_string(r, gw_probe_verdict(pl));
			reply_puts(r, "}");
			continue;
		}
		if (pl->rtt_ms < 0)
			snprintf(rtt, sizeof(rtt), "-");
		else
			snprintf(rtt, sizeof(rtt), "%dms", pl->rtt_ms);
		reply_printf(r, "%-10s %-8s %-6s %-9s %-9s %s\n", name, rtt, gw_tristate(pl->mptcp),
			     gw_tristate(pl->syn_data), pl->answered ? "yes" : "no",
			     gw_probe_verdict(pl));
	}
	if (p->json)
		reply_puts(r, "]}\n");
	p->reply = NULL;
	gw_probe_free(p);
	reply_done(r, 0);
}

static void gw_probe_on_event(struct loop_io *io, uint32_t events)
{
	struct gw_probe_link *pl = container_of(io, struct gw_probe_link, io);
	struct gw_probe *p = pl->probe;
	char buf[64];

	if (pl->rtt_ms < 0) {
		int err = sock_pending_error(io->fd);

		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			pl->err = err > 0 ? err : ECONNREFUSED;
			gw_probe_link_end(pl);
		} else if (events & (EPOLLOUT | EPOLLIN)) {
			struct tcp_info ti;
			socklen_t len = sizeof(ti);

			pl->rtt_ms = (int)(p->gw->loop.now_ms - p->started_ms);
			pl->mptcp = sock_is_mptcp(io->fd);
			if (getsockopt(io->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
			    len >= offsetof(struct tcp_info, tcpi_rto))
				pl->syn_data = (ti.tcpi_options & TCPI_OPT_SYN_DATA) != 0;
		}
	}
	if (!pl->done && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) &&
	    recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
		pl->answered = true;
		gw_probe_link_end(pl);
	}
	if (p->pending == 0)
		gw_probe_finish(p);
}

static void gw_probe_on_timeout(struct loop_timer *timer)
{
	gw_probe_finish(container_of(timer, struct gw_probe, timer));
}

static void gw_probe_cancel(struct reply *r)
{
	struct gw_probe *p = r->cancel_arg;

	p->reply = NULL;
	gw_probe_free(p);
}

static void gw_probe_cancel_all(struct gateway *gw)
{
	while (gw->probes) {
		struct gw_probe *p = gw->probes;
		struct reply *r = p->reply;

		p->reply = NULL;
		gw_probe_free(p);
		if (r)
			reply_done(r, -ECANCELED);
	}
}

static int gw_ctl_probe(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;
	const struct config_gateway *gc = &gw->config.gateway;
	int conv = gw_pick_converter(gw, 0);
	const struct addr_port *dst = &gc->converters[conv < 0 ? 0 : conv];
	uint8_t header[CONV_MAX_LEN];
	struct conv_writer w;
	struct gw_probe *p = calloc(1, sizeof(*p));
	int header_len;

	if (!p) {
		reply_puts(r, "out of memory");
		return -ENOMEM;
	}
	conv_writer_begin(&w, header, sizeof(header));
	header_len = conv_writer_finish(&w);
	p->gw = gw;
	p->reply = r;
	p->json = req->json;
	p->started_ms = gw->loop.now_ms;
	p->len = gw->links_on ? gw->links.len : 1;
	loop_timer_init(&p->timer, gw_probe_on_timeout);
	p->next = gw->probes;
	gw->probes = p;
	for (size_t i = 0; i < p->len; i++) {
		struct gw_probe_link *pl = &p->links[i];
		struct sock_connect_opts opts = gw_upstream_opts(gw);
		int fd;

		*pl = (struct gw_probe_link){ .probe = p,
					      .link = gw->links_on ? (int)i : -1,
					      .rtt_ms = -1,
					      .mptcp = -1,
					      .syn_data = -1 };
		pl->io.fd = -1;
		pl->io.on_event = gw_probe_on_event;
		p->pending++;
		if (gw->links_on && !gw->links.link[i].carrier) {
			pl->err = ENETDOWN; /* nothing would leave: say so at once */
			gw_probe_link_end(pl);
			continue;
		}
		if (gw->links_on &&
		    !links_local_addr(&gw->links, (int)i, gw_family(dst), &opts.local)) {
			pl->err = EADDRNOTAVAIL;
			gw_probe_link_end(pl);
			continue;
		}
		opts.has_local = gw->links_on;
		fd = sock_connect_tfo(dst, &opts, header, (size_t)(header_len > 0 ? header_len : 0));
		if (fd < 0) {
			pl->err = -fd;
			gw_probe_link_end(pl);
			continue;
		}
		pl->io.fd = fd;
		if (loop_add(&gw->loop, &pl->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
			close(fd);
			pl->io.fd = -1;
			pl->err = ENOMEM;
			gw_probe_link_end(pl);
		}
	}
	/* even when every link failed at once, the answer leaves from the loop */
	loop_timer_arm(&gw->loop, &p->timer, p->pending ? GW_PROBE_TIMEOUT_MS : 0);
	r->cancel = gw_probe_cancel;
	r->cancel_arg = p;
	return REPLY_LATER;
}

static const struct http_route gw_routes[] = {
	{ "/metrics", HTTP_METRICS_TYPE, gw_http_metrics },
	{ "/status.json", "application/json", gw_http_status },
	{ "/history.json", "application/json", gw_http_history },
	{ "/", WEBUI_TYPE, webui_page },
};

static void gw_on_sample(struct loop_timer *timer)
{
	struct gateway *gw = container_of(timer, struct gateway, sample);
	struct status_link links[LINKS_MAX * 2];
	size_t n = gw_link_rows(gw, links, sizeof(links) / sizeof(links[0]));

	status_history_add(gw->history, gw_wall_ms(), links, n);
	loop_timer_arm(&gw->loop, &gw->sample, gw->history->interval_ms);
}

/* The control socket (unless none) and the metrics endpoint (if set). A busy default socket
 * path is a warning; an explicit one, or the metrics address, is fatal. 0 or -errno. */
static int gw_control_start(struct gateway *gw)
{
	const struct config_control *cfg = &gw->config.gateway.control;
	char err[CTL_ERR_LEN], where[ADDR_STRLEN];
	int ret;

	gw->provider = (struct ctl_provider){
		.role = "gateway",
		.ctx = gw,
		.status = gw_ctl_status,
		.sessions = gw_ctl_sessions,
		.links = gw_ctl_links,
		.probe = gw_ctl_probe,
		.reload = gw_ctl_reload,
	};
	if (cfg->socket[0]) {
		ret = ctl_start(&gw->ctl, &gw->loop, cfg->socket, &gw->provider, err);
		if (ret < 0 && cfg->socket_set) {
			log_warnx("%s", err);
			return ret;
		}
		if (ret < 0)
			log_warnx("%s; running without a control socket", err);
		else
			log_info("control socket %s", cfg->socket);
	}
	if (!cfg->metrics)
		return 0;
	gw->history = malloc(sizeof(*gw->history));
	if (!gw->history)
		return -ENOMEM;
	status_history_init(gw->history, 1000);
	loop_timer_init(&gw->sample, gw_on_sample);
	gw_on_sample(&gw->sample);
	gw->routes = (struct http_handlers){
		.routes = gw_routes,
		.routes_len = sizeof(gw_routes) / sizeof(gw_routes[0]),
		.ctx = gw,
	};
	ret = http_start(&gw->http, &gw->loop, &cfg->metrics_listen, &gw->routes, err);
	if (ret < 0) {
		log_warnx("%s", err);
		return ret;
	}
	log_info("metrics and status page on http://%s/", addr_format(&cfg->metrics_listen, true,
								       where));
	return 0;
}

static void gw_control_stop(struct gateway *gw)
{
	gw_probe_cancel_all(gw);
	ctl_stop(&gw->ctl);
	http_stop(&gw->http);
	if (gw->history)
		loop_timer_cancel(&gw->loop, &gw->sample);
	free(gw->history);
	gw->history = NULL;
}

static void gw_usage(FILE *out)
{
	fprintf(out, "usage: mpconvd gateway [--config FILE] [--key value ...]\n"
		     "  e.g. mpconvd gateway --converter 192.0.2.1 --lan lan0\n\n");
	config_print_role_help(out, CONFIG_GATEWAY);
}

int gateway_main(int argc, char **argv)
{
	/* round trips of 1-500 ms (pool mode costs none, plain one, each link its own) */
	static const double setup_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					       0.25,  0.5,    1,     2.5,  5,	  10 };
	struct gateway *gw = calloc(1, sizeof(*gw));
	char err[CONFIG_ERR_LEN] = "", where[ADDR_STRLEN];
	int consumed = 0, ret = 1;
	sigset_t signals;
	bool mptcp_listener;

	if (!gw) {
		log_warnx("out of memory");
		return 1;
	}
	gw->listener.fd = gw->signals.fd = -1;
	metrics_histogram_init(&gw->stats.setup, setup_bounds,
			       sizeof(setup_bounds) / sizeof(setup_bounds[0]), 1e6);
	config_init(&gw->config);
	gw->config.role = CONFIG_GATEWAY;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			gw_usage(stdout);
			ret = 0;
			goto out_config;
		}
	}
	if (config_parse_args(&gw->config, argc - 1, argv + 1, &consumed, err) < 0 ||
	    config_finish(&gw->config, err) < 0) {
		log_warnx("%s", err);
		ret = 2;
		goto out_config;
	}
	if (consumed != argc - 1) {
		log_warnx("unexpected argument '%s'", argv[1 + consumed]);
		ret = 2;
		goto out_config;
	}
	log_set_level(gw->config.gateway.log_level);
	{
		char perr[POL_ERR_LEN];

		if (gw_build_policy(&gw->config.gateway, &gw->policy, perr) < 0) {
			log_warnx("%s", perr);
			ret = 2;
			goto out_config;
		}
	}
	gw->argc = argc;
	gw->argv = argv;
	if (gw->config.gateway.workers > 1)
		log_warnx("workers: the gateway runs one event loop for now");

	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigprocmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (loop_init(&gw->loop) < 0 ||
	    pipe_pool_init(&gw->pipes, gw->config.gateway.pipe_size, 64) < 0) {
		log_warnx("cannot set up the event loop");
		goto out_loop;
	}
	loop_timer_init(&gw->drain_timer, gw_on_drain_timeout);
	gw->signals.fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
	gw->signals.on_event = gw_on_signal;
	if (gw->signals.fd < 0 || loop_add(&gw->loop, &gw->signals, EPOLLIN) < 0) {
		log_warn("signalfd");
		goto out_loop;
	}
	{
		struct addr_port any = { .port = (uint16_t)gw->config.gateway.port };
		struct sock_listen_opts opts = {
			.transparent = gw->config.gateway.intercept_method == 0, .backlog = 4096
		};

		/* [::] with IPV6_V6ONLY off takes the TPROXY'd IPv4 connections too. */
		gw->listener.fd = sock_listen(&any, &opts, &mptcp_listener);
		if (gw->listener.fd < 0) {
			errno = -gw->listener.fd;
			log_warn("listen on [::]:%u (IP_TRANSPARENT needs CAP_NET_ADMIN)",
				 gw->config.gateway.port);
			goto out_loop;
		}
		gw->listener.on_event = gw_on_listener;
		if (loop_add(&gw->loop, &gw->listener, EPOLLIN | EPOLLET) < 0)
			goto out_loop;
	}
	gw->pool_link = -1;
	if (gw_start_links(gw) < 0)
		goto out_loop;
	if (gw->config.gateway.mode == CONFIG_MODE_POOL && !gw_onpath(gw)) {
		struct pool_params params = {
			.converter = gw->config.gateway.converters[0],
			.connect = gw_upstream_opts(gw),
			.min = gw->config.gateway.pool_min,
			.max = gw->config.gateway.pool_max,
			.max_idle_ms = gw->config.gateway.pool_max_idle_ms,
			.connect_timeout_ms = gw->config.gateway.connect_timeout_ms,
		};

		if (pool_init(&gw->pool, &gw->loop, &params) < 0) {
			log_warnx("pool: invalid parameters");
			goto out_loop;
		}
		gw->pool_on = true;
		gw->pool_converter = 0;
		gw->pool_link = -2; /* forces the first sync */
		gw_pool_sync(gw);
	}
	if (gw_start_intercept(gw) < 0)
		goto out_loop;
	gw->started_ms = gw->loop.now_ms;
	if (gw_control_start(gw) < 0)
		goto out_loop;
	log_info("gateway: converter %s, mode %s, intercepting on %zu LAN interface(s), port %u",
		 addr_format(&gw->config.gateway.converters[0], true, where),
		 gw->config.gateway.mode == CONFIG_MODE_POOL  ? "pool"
		 : gw->config.gateway.mode == CONFIG_MODE_TFO ? "tfo"
							      : "plain",
		 gw->config.gateway.lan_len, gw->config.gateway.port);

	if (loop_run(&gw->loop) < 0)
		log_warn("event loop");
	gw_control_stop(gw);
	gw_close_all(gw, "shutdown");
	log_info("totals: sessions=%lu bonded=%lu direct=%lu blocked=%lu pool_hits=%lu "
		 "pool_misses=%lu converter_errors=%lu upstream_failures=%lu fallbacks=%lu",
		 gw->stats.sessions, gw->stats.bonded, gw->stats.direct, gw->stats.blocked,
		 gw->stats.pool_hits, gw->stats.pool_misses, gw->stats.converter_errors,
		 gw->stats.upstream_failures, gw->stats.fallbacks);
	log_info("totals: mptcp_fallbacks=%lu converter_switches=%lu subflows_created=%lu "
		 "subflows_closed_link_down=%lu subflows_restored=%lu routes_restored=%lu",
		 gw->stats.mptcp_fallbacks, gw->stats.converter_switches,
		 gw->paths.stats.created, gw->paths.stats.closed_by_link_down,
		 gw->paths.stats.restored, gw->links.routes_restored);
	log_info("gateway stopped");
	ret = 0;

out_loop:
	gw_control_stop(gw);
	gw_stop_intercept(gw);
	if (gw->pool_on)
		pool_destroy(&gw->pool);
	gw_stop_links(gw);
	if (gw->listener.fd >= 0)
		close(gw->listener.fd);
	if (gw->signals.fd >= 0)
		close(gw->signals.fd);
	pipe_pool_destroy(&gw->pipes);
	loop_destroy(&gw->loop);
	pol_free(&gw->policy);
out_config:
	config_free(&gw->config);
	free(gw);
	return ret;
}
