// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway role (customer side): LAN TCP captured by our nftables table (TPROXY or
 * REDIRECT), a policy decision per connection, then bonded through a converter over MPTCP
 * (RFC 8803 Convert message first, or SOCKS 5, or straight to the server with an on-path
 * converter; the converter's answer checked before any byte reaches the LAN), sent direct,
 * or blocked. Owns its sessions, the upstream pool, the access links and their subflows, and
 * the interception rules (removed at exit). One event loop; signals arrive through a
 * signalfd on it. What the operator sees lives in gateway_ops.c.
 * It never intercepts native MPTCP and never relays a byte before the converter said yes.
 */
#include "gateway.h"
#include "gateway_int.h"

#include "log.h"
#include "socks.h"

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

static void gw_on_lan_event(struct loop_io *io, uint32_t events);
static void gw_on_upstream_event(struct loop_io *io, uint32_t events);
static void gw_bond_attempt(struct gw_session *s);
static void gw_bond_connect(struct gw_session *s, unsigned conv, bool allow_pool);
int gw_reload(struct gateway *gw, char why[CONFIG_ERR_LEN]);

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

	if (s->tracked) /* the request left, then the reply came: once per upstream socket */
		return;
	s->tracked = true;
	if (gw->paths_on) {
		/* reads MPTCP_INFO, which a fallen-back socket refuses: no second question then */
		s->path = paths_track(&gw->paths, fd, s->rule.links, s->rule.backup);
		if (s->path)
			return;
	}
	if (sock_is_mptcp(fd) == 0) {
		s->fell_back = true;
		gw->stats.mptcp_fallbacks++;
		log_warnx("converter connection fell back to plain TCP (MPTCP stripped or refused "
			  "on the path?): single path for this session");
	}
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

int gw_family(const struct addr_port *ap)
{
	return addr_is_v4mapped(ap->ip) ? AF_INET : AF_INET6;
}

bool gw_converter_usable(const struct gateway *gw, unsigned i)
{
	return gw->loop.now_ms >= gw->converters[i].retry_at_ms;
}

/* The first converter, in the configured order, not backing off (and not in skip). */
int gw_pick_converter(const struct gateway *gw, uint8_t skip)
{
	for (unsigned i = 0; i < gw->config.gateway.converters_len; i++)
		if (!(skip & (1u << i)) && gw_converter_usable(gw, i))
			return (int)i;
	return -1;
}

struct sock_connect_opts gw_upstream_opts(const struct gateway *gw)
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

const char *gw_state_name(enum gw_state state)
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

/* A rule's rate: both sockets pace what they send (TCP's own pacing, or fq): the LAN socket
 * the download, the upstream one the upload; the other way follows by backpressure. */
static void gw_apply_rate(struct gw_session *s)
{
	uint64_t bytes_per_s = s->rule.rate_bps / 8;
	unsigned rate = bytes_per_s > UINT32_MAX - 1 ? UINT32_MAX - 1 : (unsigned)bytes_per_s;

	if (!s->rule.rate_bps)
		return;
	for (int side = RELAY_A; side <= RELAY_B; side++) {
		if (setsockopt(s->relay.io[side].fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate,
			       sizeof(rate)) < 0 && side == RELAY_A)
			log_warn("rule %s: rate on the LAN connection", s->rule.name);
	}
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
	gw_apply_rate(s);
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
	s->fell_back = s->tracked = false;
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
		/* The DSCP of a TPROXY'd SYN reaches no socket option; a rule that could never
		 * match as written is refused rather than silently ignored. */
		if (rule.dscp >= 0) {
			snprintf(err, POL_ERR_LEN,
				 "rule: 'dscp' is not supported by the gateway (it cannot see the "
				 "LAN SYN's DSCP) in '%s'",
				 gc->rules[i]);
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
int gw_reload(struct gateway *gw, char why[CONFIG_ERR_LEN])
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
	if (gw->config.gateway.mode == CONFIG_MODE_TFO && gw->config.gateway.links_len > 1)
		log_warnx("mode tfo with %zu links: on this kernel data in the SYN plus a second "
			  "subflow can collapse bonded throughput (watch "
			  "mpconv_kernel_mptcp_no_dss_in_window_total); mode pool gives the same "
			  "round trip without it",
			  gw->config.gateway.links_len);

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
