// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One LAN connection through the gateway, from accept to relay: the original destination, the
 * policy decision, then bonded through a converter over MPTCP (RFC 8803 Convert message first,
 * or SOCKS 5, or straight to the server with an on-path converter; the converter's answer
 * checked before any byte reaches the LAN), sent direct, or blocked. Owns its sessions; ends
 * each with gw_close(s, reason): one log line, the counters, then session_release.
 * It never relays a byte before the converter said yes. A refusal or a silent converter is first
 * this connection's trouble: retried (another link, a fresh connection, the next converter)
 * before the converter counts as failed (upstream.c) and converter-down decides.
 */
#include "gateway.h"

#include "cpe.h"
#include "log.h"
#include "socks.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void gw_on_lan_event(struct loop_io *io, uint32_t events);
static void gw_on_upstream_event(struct loop_io *io, uint32_t events);
static void gw_bond_attempt(struct gw_session *s);
static void gw_bond_connect(struct gw_session *s, unsigned conv, bool allow_pool);
static void gw_close(struct gw_session *s, const char *reason, bool reset_lan);

#define GW_REFUSED_RETRY_MS 100	 /* a refused connection's one retry waits this long */
#define GW_WARN_INTERVAL_MS 10000 /* per-connection trouble: one line per interval */

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
	int fd = s->base.relay.io[RELAY_B].fd;

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

/* The links this connection may still try for its initial subflow: those its rule allows,
 * minus those it tried already (all of them again once every one was tried). */
static uint8_t gw_links_left(const struct gw_session *s)
{
	uint8_t all = s->rule.links ? s->rule.links : (uint8_t)((1u << s->gw->links.len) - 1);
	uint8_t left = all & (uint8_t)~s->links_tried;

	return left ? left : all;
}

/* Arms the session's timer; a timer that cannot be armed ends the session (nothing would
 * wake it). false then: the caller returns at once. */
static bool gw_arm(struct gw_session *s, uint64_t delay_ms)
{
	if (session_arm(&s->base, delay_ms))
		return true;
	gw_close(s, "out of memory arming a timer", true);
	return false;
}

/* Arms the establishment timer: establish-timeout, or what is left of connect-timeout. */
static bool gw_arm_establish(struct gw_session *s)
{
	const struct config_gateway *gc = &s->gw->config.gateway;
	uint64_t spent = s->gw->loop.now_ms - s->attempt_ms;
	uint64_t left = gc->common.connect_timeout_ms > spent ? gc->common.connect_timeout_ms - spent : 1;

	return gw_arm(s, left < gc->establish_timeout_ms ? left : gc->establish_timeout_ms);
}

/* Path-manager events when tracked, else the kernel's numbering (sock_subflows_used). */
int gw_subflows_used(const struct gw_session *s)
{
	int up = s->base.relay.io[RELAY_B].fd;
	int n = s->bonded && up >= 0 ? sock_subflows_used(up) : 0;

	if (s->path && s->path->sf_opened > n)
		n = s->path->sf_opened;
	return n < 0 ? 0 : n;
}

/* Ends the session, the one way: one log line, the counters, then release and free. */
static void gw_close(struct gw_session *s, const char *reason, bool reset_lan)
{
	struct gateway *gw = s->gw;
	char client[ADDR_STRLEN], dest[ADDR_STRLEN];
	bool blocked = s->state == GW_ACCEPTED && s->rule.action == POL_BLOCK;
	enum session_end end = blocked ? SESSION_END_BLOCKED : session_end_of(&s->base);
	int subflows = log_enabled(LOG_LEVEL_INFO) ? gw_subflows_used(s) : 0;

	gw->stats.ends[end]++;
	log_info("session client=%s dest=%s rule=%s action=%s state=%s up=%llu down=%llu "
		 "duration_ms=%llu subflows=%d pool=%d converter=%u converter_error=%d code=%s "
		 "end=%s reason=\"%s\"",
		 addr_format(&s->base.client, true, client), addr_format(&s->base.dest, true, dest),
		 s->rule.name, blocked ? "block" : s->bonded ? "bond" : "direct",
		 gw_state_name(s->state), (unsigned long long)s->base.relay.dir[RELAY_A].bytes,
		 (unsigned long long)s->base.relay.dir[RELAY_B].bytes,
		 (unsigned long long)(gw->loop.now_ms - s->base.started_ms), subflows, s->from_pool,
		 s->converter, s->converter_error, gw_error_slug(gw, s->converter_error),
		 session_end_name(end), reason);
	gw_untrack(s);
	if (s->host_counted) {
		pthread_mutex_lock(&gw->main->hosts_lock);
		hosts_put(&gw->main->hosts, s->base.client.ip);
		pthread_mutex_unlock(&gw->main->hosts_lock);
	}
	session_release(&s->base, &gw->sessions, reset_lan);
	free(s);
	if (gw->draining && gw->sessions.len == 0)
		loop_stop(&gw->loop);
}

static void gw_on_relay_end(struct relay *relay)
{
	struct gw_session *s = container_of(relay, struct gw_session, base.relay);

	gw_close(s, session_end_name(session_end_of(&s->base)), false);
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
		if (setsockopt(s->base.relay.io[side].fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate,
			       sizeof(rate)) < 0 && side == RELAY_A)
			log_warn("rule %s: rate on the LAN connection", s->rule.name);
	}
}

static void gw_start_relay(struct gw_session *s)
{
	const struct config_gateway *gc = &s->gw->config.gateway;
	struct relay_params params = {
		.meter = &s->gw->stats.meter,
		.idle_timeout_ms =
			s->rule.idle_timeout_ms ? s->rule.idle_timeout_ms : gc->common.idle_timeout_ms,
		.use_splice = gc->common.splice,
	};

	loop_timer_cancel(&s->gw->loop, &s->base.timer);
	s->base.relayed = true;
	metrics_observe(&s->gw->stats.setup, (s->gw->loop.now_ms - s->base.started_ms) * 1000);
	s->state = GW_RELAY;
	s->base.relay.dir[RELAY_A].bytes = s->early_len; /* delivered along with the request */
	relay_meter_add(&s->gw->stats.meter, RELAY_A, s->early_len);
	gw_apply_rate(s);
	if (relay_start(&s->base.relay, &s->gw->loop, &s->gw->pipes, &params, gw_on_relay_end) < 0)
		gw_close(s, "relay could not start", true);
}

/* Replaces the upstream socket (-1 = none) and registers the new one. */
static int gw_set_upstream(struct gw_session *s, int fd)
{
	struct loop_io *io = &s->base.relay.io[RELAY_B];

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
	struct sock_connect_opts opts = { .mptcp = false, .nodelay = true,
					  .mark = gw_own_mark(s->gw) };
	int fd;

	/* direct:LINK leaves by that link's address, so by its source-routing table. */
	if (s->rule.direct_link >= 0 && s->gw->links_on)
		opts.has_local = links_local_addr(&s->gw->links, s->rule.direct_link,
						  gw_family(&s->base.dest), &opts.local);
	fd = sock_connect(&s->base.dest, &opts);

	s->bonded = false;
	if (fd < 0 || gw_set_upstream(s, fd) < 0) {
		if (fd >= 0)
			gw_set_upstream(s, -1);
		gw_close(s, "direct connect failed", true);
		return;
	}
	s->state = GW_DIRECT_CONNECTING;
	gw_arm(s, s->gw->config.gateway.reply_timeout_ms); /* the destination's time */
}

/* No converter can take this connection: what the operator chose happens. Said once per
 * outage when no converter is usable; once per interval when only this connection failed. */
static void gw_no_converter(struct gw_session *s, const char *why)
{
	struct gateway *gw = s->gw;
	bool direct = gw->config.gateway.converter_down == CONFIG_DOWN_DIRECT;
	int usable = upstream_pick(gw_upstream_lock(gw), 0, gw->loop.now_ms);

	gw_upstream_unlock(gw);
	gw->stats.upstream_failures++;
	if (usable >= 0) {
		if (!gw->refused_warned_ms ||
		    gw->loop.now_ms - gw->refused_warned_ms >= GW_WARN_INTERVAL_MS) {
			gw->refused_warned_ms = gw->loop.now_ms ? gw->loop.now_ms : 1;
			log_warnx("a connection no converter took after retries (%s) %s (converter-down; "
				  "said at most every %d s)",
				  why, direct ? "goes direct" : "is reset", GW_WARN_INTERVAL_MS / 1000);
		}
	} else {
		if (!gw->converter_failing)
			log_warnx("converter unusable: %s; LAN connections %s until it answers again",
				  why, direct ? "go direct" : "are reset");
		gw->converter_failing = true;
	}
	if (gw->config.gateway.converter_down == CONFIG_DOWN_DIRECT) {
		gw->stats.fallbacks++;
		gw_set_upstream(s, -1);
		gw_go_direct(s);
		return;
	}
	gw_close(s, why, true);
}

/* The upstream connection of this attempt is given up (closed, forgotten). */
static void gw_drop_upstream(struct gw_session *s)
{
	gw_untrack(s);
	gw_set_upstream(s, -1);
	s->fell_back = s->tracked = s->request_acked = false;
}

/*
 * The converter failed this connection: a pooled connection gets one fresh retry (it may have
 * gone stale); a refused one (Error 64/65: a limit, most often per client) one more try on a
 * fresh connection after a moment; then the next converter is tried, then converter-down.
 */
static void gw_upstream_failed(struct gw_session *s, const char *why, bool refused)
{
	struct gateway *gw = s->gw;
	int conv;

	gw_drop_upstream(s);
	if (s->from_pool && !refused) {
		s->from_pool = false;
		gw_bond_connect(s, s->converter, false);
		return;
	}
	s->from_pool = false;
	gw_converter_failed(gw, s->converter, refused, why);
	if (refused && !s->refused_once) {
		s->refused_once = true;
		gw->stats.refusal_retries++;
		s->converters_tried &= (uint8_t)~(1u << s->converter); /* it may be asked again */
		s->state = GW_REFUSED_WAIT;
		gw_arm(s, GW_REFUSED_RETRY_MS);
		return;
	}
	conv = upstream_pick(gw_upstream_lock(gw), s->converters_tried, gw->loop.now_ms);
	gw_upstream_unlock(gw);
	if (conv >= 0) {
		gw->stats.converter_switches++;
		log_info("converter %u: %s; trying the next one", s->converter, why);
		gw_bond_attempt(s);
		return;
	}
	gw_no_converter(s, why);
}

/*
 * Robust establishment: this attempt showed no life within establish-timeout (no handshake, or
 * the request not acknowledged). While another live link is left, a fresh connection leaves by
 * it; otherwise the attempt gets the rest of connect-timeout, then the converter has failed it.
 */
static void gw_establish_late(struct gw_session *s, const char *why)
{
	struct gateway *gw = s->gw;
	const struct config_gateway *gc = &gw->config.gateway;
	uint64_t spent = gw->loop.now_ms - s->attempt_ms;
	uint8_t left;

	if (gw->links_on && s->link >= 0) {
		s->links_tried |= (uint8_t)(1u << s->link);
		left = (s->rule.links ? s->rule.links : (uint8_t)((1u << gw->links.len) - 1)) &
		       (uint8_t)~s->links_tried;
		if (left && spent < gc->common.connect_timeout_ms &&
		    links_pick_initial(&gw->links, left, gw_family(&gc->converters[s->converter])) >= 0) {
			gw->stats.establish_retries++;
			log_debug("converter %u: %s after %llu ms on link %d; trying another link",
				  s->converter, why, (unsigned long long)spent, s->link);
			gw_drop_upstream(s);
			s->from_pool = false;
			gw_bond_connect(s, s->converter, false);
			return;
		}
	}
	if (spent < gc->common.connect_timeout_ms) {
		gw_arm(s, gc->common.connect_timeout_ms - spent);
		return;
	}
	gw_upstream_failed(s, why, false);
}

/* The Convert message and whatever the LAN client already sent, in one segment if they fit:
 * a client that speaks first gets its answer one round trip sooner. */
static void gw_send_request(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	ssize_t early, n;

	loop_timer_cancel(&gw->loop, &s->base.timer);
	memcpy(gw->early, s->request, s->request_len);
	early = recv(s->base.relay.io[RELAY_A].fd, gw->early + s->request_len, GW_EARLY_MAX,
		     MSG_PEEK | MSG_DONTWAIT);
	if (early < 0)
		early = 0;
	n = send(s->base.relay.io[RELAY_B].fd, gw->early, s->request_len + (size_t)early,
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
	s->request_acked = false;
	gw_arm_establish(s);
}

/* Peeks at the converter's reply; only a complete, successful one lets bytes flow. */
static void gw_read_reply(struct gw_session *s, bool eof)
{
	struct gateway *gw = s->gw;
	int fd = s->base.relay.io[RELAY_B].fd;
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
	if (gw->config.gateway.upstream_protocol == CONFIG_UPSTREAM_SOCKS5) {
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
	    recv(s->base.relay.io[RELAY_A].fd, gw->early, s->early_len, MSG_DONTWAIT) !=
		    (ssize_t)s->early_len) {
		gw_close(s, "error consuming the LAN bytes sent early", true);
		return;
	}
	gw_converter_ok(gw, s->converter);
	gw_track(s); /* tfo mode: the first moment the connection is known to be up */
	gw_start_relay(s);
}

static void gw_on_upstream_event(struct loop_io *io, uint32_t events)
{
	struct gw_session *s = container_of(io, struct gw_session, base.relay.io[RELAY_B]);
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
	case GW_REFUSED_WAIT:
		break;
	}
}

/* The LAN client's first bytes came, or the wait ended: on a pooled connection the request
 * leaves now; in tfo mode the connection opens now, with them in its SYN. */
static void gw_early_ready(struct gw_session *s)
{
	loop_timer_cancel(&s->gw->loop, &s->base.timer);
	if (s->base.relay.io[RELAY_B].fd >= 0)
		gw_send_request(s);
	else
		gw_bond_connect(s, s->converter, false);
}

static void gw_on_lan_event(struct loop_io *io, uint32_t events)
{
	struct gw_session *s = container_of(io, struct gw_session, base.relay.io[RELAY_A]);

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
	struct gw_session *s = container_of(timer, struct gw_session, base.timer);

	switch (s->state) {
	case GW_WAIT_EARLY:
		gw_early_ready(s); /* the server speaks first, or the client is slow */
		break;
	case GW_UPSTREAM_CONNECTING:
		if (gw_onpath(s->gw))
			gw_close(s, "destination connect timed out", true);
		else
			gw_establish_late(s, "converter connect timed out");
		break;
	case GW_WAIT_REPLY:
		/* Acknowledged (nothing left unsent): the converter has it and waits for the
		 * destination; the destination gets reply-timeout. An error reading it: the same. */
		if (!s->request_acked && sock_unsent(s->base.relay.io[RELAY_B].fd) > 0) {
			gw_establish_late(s, "converter reply timed out (request not acknowledged)");
		} else if (!s->request_acked) {
			s->request_acked = true;
			gw_arm(s, s->gw->config.gateway.reply_timeout_ms);
		} else {
			gw_upstream_failed(s, "converter reply timed out", false);
		}
		break;
	case GW_REFUSED_WAIT:
		gw_bond_attempt(s);
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

	if (wait == 0 || recv(s->base.relay.io[RELAY_A].fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
		gw_send_request(s);
		return;
	}
	s->state = GW_WAIT_EARLY;
	gw_arm(s, wait);
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
			s->link = gw->pool_link;
			if (gw_set_upstream(s, fd) < 0) {
				gw_close(s, "epoll registration failed", true);
				return;
			}
			gw_wait_early(s);
			return;
		}
		gw->stats.pool_misses++;
	}
	opts.has_local = gw_pick_local(gw, gw->links_on ? gw_links_left(s) : 0,
				       gw_family(&gc->converters[conv]), &link, &opts.local);
	s->link = link;
	if (gw->links_on && !opts.has_local) {
		gw_no_converter(s, "no usable access link");
		return;
	}
	if (gc->mode == CONFIG_MODE_TFO) {
		ssize_t early;
		char probe;

		/* The LAN client's first bytes ride in the SYN too: wait for them, briefly. */
		if (!s->early_waited && gc->early_data_wait_ms &&
		    recv(s->base.relay.io[RELAY_A].fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) < 0) {
			s->early_waited = true;
			s->state = GW_WAIT_EARLY;
			gw_arm(s, gc->early_data_wait_ms);
			return;
		}
		memcpy(gw->early, s->request, s->request_len);
		early = recv(s->base.relay.io[RELAY_A].fd, gw->early + s->request_len, GW_EARLY_MAX,
			     MSG_PEEK | MSG_DONTWAIT);
		s->early_len = early > 0 ? (uint32_t)early : 0;
		fd = sock_connect_tfo(&gc->converters[conv], &opts, gw->early,
				      s->request_len + s->early_len);
		if (fd >= 0 && gw_set_upstream(s, fd) == 0) {
			s->state = GW_WAIT_REPLY;
			s->request_acked = false;
			gw_arm_establish(s);
			return;
		}
	} else {
		fd = sock_connect(&gc->converters[conv], &opts);
		if (fd >= 0 && gw_set_upstream(s, fd) == 0) {
			s->state = GW_UPSTREAM_CONNECTING;
			gw_arm_establish(s);
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
	int conv = upstream_pick_for(gw_upstream_lock(gw), s->converters_tried, gw->loop.now_ms);

	gw_upstream_unlock(gw);
	if (conv < 0) {
		gw_no_converter(s, "every converter refused recently (backing off)");
		return;
	}
	/* a new converter's attempts, or a refused connection's retry: links and clock anew */
	s->links_tried = 0;
	s->attempt_ms = gw->loop.now_ms;
	gw_bond_connect(s, (unsigned)conv, !s->refused_once);
}

/* On-path mode: an MPTCP connection to the destination itself; the converter on the routing
 * path terminates it. No request, no reply: the relay starts once it is connected. */
static void gw_connect_onpath(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	struct sock_connect_opts opts = gw_upstream_opts(gw);
	int link, fd;

	opts.has_local = gw_pick_local(gw, s->rule.links, gw_family(&s->base.dest), &link, &opts.local);
	if (gw->links_on && !opts.has_local) {
		gw_close(s, "no usable access link", true);
		return;
	}
	fd = sock_connect(&s->base.dest, &opts);
	if (fd < 0 || gw_set_upstream(s, fd) < 0) {
		if (fd >= 0)
			gw_set_upstream(s, -1);
		gw_close(s, "cannot connect to the destination", true);
		return;
	}
	s->state = GW_UPSTREAM_CONNECTING;
	gw_arm(s, gw->config.gateway.reply_timeout_ms); /* the destination's time */
}

static void gw_bond(struct gw_session *s)
{
	struct conv_writer w;
	int len;

	s->bonded = true;
	if (s->gw->config.gateway.upstream_protocol == CONFIG_UPSTREAM_NONE) { /* on-path: straight to the server */
		gw_connect_onpath(s);
		return;
	}
	if (s->gw->config.gateway.upstream_protocol == CONFIG_UPSTREAM_SOCKS5) { /* SOCKS 5, greeting + CONNECT */
		s->request_len = (uint16_t)socks_put_client_hello(s->request, &s->base.dest);
		gw_bond_attempt(s);
		return;
	}
	conv_writer_begin(&w, s->request, sizeof(s->request));
	conv_put_connect(&w, s->base.dest.port, s->base.dest.ip, NULL, 0);
	if (s->gw->config.gateway.cpe_id[0]) /* who this CPE is, bound to this Connect */
		cpe_put_credential(&w, s->gw->config.gateway.cpe_id, s->gw->config.gateway.cpe_key,
				   s->base.dest.ip, s->base.dest.port, (uint64_t)time(NULL));
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
/*
 * Where a REDIRECTed connection was going (conntrack's original destination). A connection made
 * to the listener itself (from outside, or the LAN) has its own address there: it was never
 * redirected, and carrying it on would have the converter dial this listener again, a loop.
 */
static int gw_original_dst(int fd, struct sockaddr_storage *out, socklen_t *len)
{
	const int so_original_dst = 80;
	struct sockaddr_storage self;
	socklen_t self_len = sizeof(self);
	struct addr_port a, b;

	*len = sizeof(struct sockaddr_in);
	if (getsockopt(fd, SOL_IP, so_original_dst, out, len) != 0) {
		*len = sizeof(struct sockaddr_in6);
		if (getsockopt(fd, SOL_IPV6, so_original_dst, out, len) != 0)
			return -errno;
	}
	if (getsockname(fd, (struct sockaddr *)&self, &self_len) == 0 &&
	    addr_from_sockaddr((struct sockaddr *)out, *len, &a) &&
	    addr_from_sockaddr((struct sockaddr *)&self, self_len, &b) && a.port == b.port &&
	    !memcmp(a.ip, b.ip, sizeof(a.ip)))
		return -ENOENT;
	return 0;
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

/* The fair share: one more connection for its LAN host, or the host is at its cap and this
 * connection is reset (said once per interval per host). false: the session is gone. */
static bool gw_host_take(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	uint32_t limit = gw->config.gateway.max_sessions_per_host;
	char who[ADDR_STRLEN];
	bool warn;
	int ret;

	/* One table for every worker (SO_REUSEPORT spreads a host's connections over them all),
	 * so the cap holds for the host as a whole; the lock is taken at accept and close only. */
	pthread_mutex_lock(&gw->main->hosts_lock);
	ret = hosts_take(&gw->main->hosts, s->base.client.ip, limit);
	warn = ret == 0 && hosts_warn_due(&gw->main->hosts, s->base.client.ip, gw->loop.now_ms,
					  GW_WARN_INTERVAL_MS);
	pthread_mutex_unlock(&gw->main->hosts_lock);
	if (ret != 0) {
		s->host_counted = ret > 0; /* not trackable (table full): let through */
		return true;
	}
	gw->stats.host_limited++;
	if (warn)
		log_warnx("LAN host %s: max-sessions-per-host (%u) reached, its new connections are "
			  "reset (said at most every %d s)",
			  addr_format(&s->base.client, false, who), limit, GW_WARN_INTERVAL_MS / 1000);
	gw_close(s, "max-sessions-per-host reached", true);
	return false;
}

void gw_open_session(struct gateway *gw, int fd, const struct sockaddr_storage *peer,
		     socklen_t peer_len)
{
	struct sockaddr_storage local;
	bool dest_known;
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
	s->link = -1;
	session_init(&s->base, &gw->sessions, &gw->loop, fd, gw_on_lan_event, gw_on_timer);
	addr_from_sockaddr((const struct sockaddr *)peer, peer_len, &s->base.client);
	/* TPROXY: the accepted socket's local address is where the client was going; REDIRECT:
	 * conntrack remembers it. */
	dest_known = (gw->config.gateway.intercept_method == CONFIG_INTERCEPT_REDIRECT
			      ? gw_original_dst(fd, &local, &local_len) == 0
			      : getsockname(fd, (struct sockaddr *)&local, &local_len) == 0) &&
		     addr_from_sockaddr((struct sockaddr *)&local, local_len, &s->base.dest);
	gw->stats.sessions++;

	memcpy(flow.src, s->base.client.ip, 16);
	memcpy(flow.dst, s->base.dest.ip, 16);
	flow.dport = s->base.dest.port;
	s->rule = *pol_match(&gw->policy, &flow);
	gw_count_rule(gw, s->rule.name);
	if (loop_add(&gw->loop, &s->base.relay.io[RELAY_A], RELAY_EPOLL_EVENTS) < 0) {
		gw_close(s, "epoll registration failed", true);
		return;
	}
	sock_set_nodelay(fd);
	if (!dest_known) {
		gw_close(s, "original destination unknown (not an intercepted connection?)", true);
		return;
	}
	if (s->rule.action != POL_BLOCK && gw->config.gateway.max_sessions_per_host &&
	    !gw_host_take(s))
		return;
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

void gw_close_all(struct gateway *gw, const char *reason)
{
	while (gw->sessions.first)
		gw_close(list_entry(gw->sessions.first, struct gw_session, base.node), reason, true);
}

