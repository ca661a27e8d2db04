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
#include "convert.h"
#include "intercept.h"
#include "log.h"
#include "loop.h"
#include "pipe.h"
#include "policy.h"
#include "pool.h"
#include "relay.h"
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_REQUEST_MAX 64

enum gw_state {
	GW_ACCEPTED,		/* policy not applied yet, or blocked */
	GW_UPSTREAM_CONNECTING, /* plain mode, or a pool miss: connecting to the converter */
	GW_WAIT_REPLY,		/* Convert request sent; waiting for the converter's answer */
	GW_DIRECT_CONNECTING,	/* policy said direct: connecting to the destination itself */
	GW_RELAY,
};

struct gateway;

struct gw_session {
	struct relay relay; /* io[RELAY_A]: the LAN client, io[RELAY_B]: upstream */
	struct gateway *gw;
	struct gw_session *prev, *next;
	enum gw_state state;
	struct addr_port client, dest;
	const struct pol_rule *rule;
	struct loop_timer timer;
	uint64_t started_ms;
	bool bonded, from_pool;
	int converter_error; /* Error TLV code received, or -1 */
	uint8_t request[GW_REQUEST_MAX];
	uint16_t request_len;
};

struct gw_stats {
	unsigned long sessions, bonded, direct, blocked, pool_hits, pool_misses, fallbacks,
		converter_errors, upstream_failures;
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
	struct loop_io listener, signals;
	struct loop_timer drain_timer;
	struct gw_session *sessions;
	size_t sessions_len;
	bool draining;
	bool converter_failing; /* logged once per outage, not once per connection */
	struct gw_stats stats;
	uint8_t scratch[CONV_MAX_LEN];
};

static void gw_on_lan_event(struct loop_io *io, uint32_t events);
static void gw_on_upstream_event(struct loop_io *io, uint32_t events);

static const char *gw_state_name(enum gw_state state)
{
	static const char *const names[] = { "accepted", "upstream-connecting", "wait-reply",
					     "direct-connecting", "relay" };
	return names[state];
}

static void gw_close(struct gw_session *s, const char *reason, bool reset_lan)
{
	struct gateway *gw = s->gw;
	char client[ADDR_STRLEN], dest[ADDR_STRLEN];
	int up = s->relay.io[RELAY_B].fd;
	int subflows = s->bonded && up >= 0 ? sock_subflows(up) : 0;

	log_info("session client=%s dest=%s rule=%s action=%s state=%s up=%llu down=%llu "
		 "duration_ms=%llu subflows=%d pool=%d converter_error=%d reason=\"%s\"",
		 addr_format(&s->client, true, client), addr_format(&s->dest, true, dest),
		 s->rule->name, s->bonded ? "bond" : "direct", gw_state_name(s->state),
		 (unsigned long long)s->relay.dir[RELAY_A].bytes,
		 (unsigned long long)s->relay.dir[RELAY_B].bytes,
		 (unsigned long long)(gw->loop.now_ms - s->started_ms), subflows < 0 ? 0 : subflows,
		 s->from_pool, s->converter_error, reason);
	loop_timer_cancel(&gw->loop, &s->timer);
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
			s->rule->idle_timeout_ms ? s->rule->idle_timeout_ms : gc->idle_timeout_ms,
		.use_splice = gc->splice,
	};

	loop_timer_cancel(&s->gw->loop, &s->timer);
	s->state = GW_RELAY;
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
	int fd = sock_connect(&s->dest, &opts);

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

/* The converter cannot be used for this connection: what the operator chose happens. */
static void gw_upstream_failed(struct gw_session *s, const char *why)
{
	s->gw->stats.upstream_failures++;
	if (!s->gw->converter_failing)
		log_warnx("converter unusable: %s; LAN connections %s until it answers again", why,
			  s->gw->config.gateway.converter_down == 1 ? "go direct" : "are reset");
	s->gw->converter_failing = true;
	if (s->gw->config.gateway.converter_down == 1) {
		s->gw->stats.fallbacks++;
		gw_set_upstream(s, -1);
		gw_go_direct(s);
		return;
	}
	gw_close(s, why, true);
}

static void gw_send_request(struct gw_session *s)
{
	ssize_t n = send(s->relay.io[RELAY_B].fd, s->request, s->request_len,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n != s->request_len) {
		gw_upstream_failed(s, n < 0 ? "cannot send the Convert request"
					    : "Convert request did not fit the socket");
		return;
	}
	s->state = GW_WAIT_REPLY;
	loop_timer_arm(&s->gw->loop, &s->timer, s->gw->config.gateway.reply_timeout_ms);
}

/* Peeks at the converter's reply; only a complete, successful one lets bytes flow. */
static void gw_read_reply(struct gw_session *s, bool eof)
{
	struct gateway *gw = s->gw;
	int fd = s->relay.io[RELAY_B].fd;
	struct conv_message msg;
	struct conv_parse_error perr;
	ssize_t n;
	int len;

	n = recv(fd, gw->scratch, sizeof(gw->scratch), MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		gw_upstream_failed(s, "converter closed before replying");
		return;
	}
	len = conv_parse(gw->scratch, (size_t)n, CONV_MAX_LEN, CONV_FROM_CONVERTER,
			 eof ? CONV_PARSE_EOF : 0, &msg, &perr);
	if (len == -EAGAIN)
		return;
	if (len < 0) {
		gw_upstream_failed(s, "malformed Convert reply");
		return;
	}
	if (msg.has_error) {
		/* The converter refused this destination: the LAN client sees a reset, like a
		 * server refusing it; resource and network errors also count as a failure. */
		gw->stats.converter_errors++;
		s->converter_error = msg.error.code;
		gw_close(s, conv_error_name(msg.error.code), true);
		return;
	}
	if (recv(fd, gw->scratch, (size_t)len, MSG_DONTWAIT) != len) {
		gw_close(s, "error consuming the Convert reply", true);
		return;
	}
	if (gw->converter_failing)
		log_info("converter answers again");
	gw->converter_failing = false;
	gw_start_relay(s);
}

static void gw_on_upstream_event(struct loop_io *io, uint32_t events)
{
	struct gw_session *s = container_of(io, struct gw_session, relay.io[RELAY_B]);
	int err;

	switch (s->state) {
	case GW_ACCEPTED:
		break;
	case GW_UPSTREAM_CONNECTING:
	case GW_DIRECT_CONNECTING:
		err = sock_pending_error(io->fd);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			if (s->state == GW_DIRECT_CONNECTING)
				gw_close(s, "destination refused or unreachable", true);
			else
				gw_upstream_failed(s, "cannot connect to the converter");
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (s->state == GW_DIRECT_CONNECTING)
			gw_start_relay(s);
		else
			gw_send_request(s);
		break;
	case GW_WAIT_REPLY:
		gw_read_reply(s, events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
		break;
	case GW_RELAY:
		break;
	}
}

static void gw_on_lan_event(struct loop_io *io, uint32_t events)
{
	struct gw_session *s = container_of(io, struct gw_session, relay.io[RELAY_A]);

	/* The LAN client's bytes wait in its socket until the relay starts; only its loss
	 * matters now. */
	if (events & (EPOLLERR | EPOLLHUP))
		gw_close(s, "LAN client gone before the relay", false);
}

static void gw_on_timer(struct loop_timer *timer)
{
	struct gw_session *s = container_of(timer, struct gw_session, timer);

	switch (s->state) {
	case GW_UPSTREAM_CONNECTING:
		gw_upstream_failed(s, "converter connect timed out");
		break;
	case GW_WAIT_REPLY:
		gw_upstream_failed(s, "converter reply timed out");
		break;
	case GW_DIRECT_CONNECTING:
		gw_close(s, "direct connect timed out", true);
		break;
	case GW_ACCEPTED:
	case GW_RELAY:
		break; /* no timer armed in these states */
	}
}

static void gw_bond(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	const struct config_gateway *gc = &gw->config.gateway;
	struct sock_connect_opts opts = {
		.mptcp = true,
		.nodelay = true,
		.buffer_size = gc->socket_buffer,
	};
	struct conv_writer w;
	int len, fd = -EAGAIN;

	s->bonded = true;
	conv_writer_begin(&w, s->request, sizeof(s->request));
	conv_put_connect(&w, s->dest.port, s->dest.ip, NULL, 0);
	len = conv_writer_finish(&w);
	if (len < 0) {
		gw_close(s, "destination cannot be named in a Convert message", true);
		return;
	}
	s->request_len = (uint16_t)len;

	if (gw->pool_on) {
		fd = pool_take(&gw->pool);
		if (fd >= 0) {
			gw->stats.pool_hits++;
			s->from_pool = true;
			if (gw_set_upstream(s, fd) < 0) {
				gw_close(s, "epoll registration failed", true);
				return;
			}
			gw_send_request(s);
			return;
		}
		gw->stats.pool_misses++;
	}
	if (gc->mode == CONFIG_MODE_TFO) {
		fd = sock_connect_tfo(&gc->converters[0], &opts, s->request, s->request_len);
		if (fd >= 0 && gw_set_upstream(s, fd) == 0) {
			s->state = GW_WAIT_REPLY;
			loop_timer_arm(&gw->loop, &s->timer, gc->reply_timeout_ms);
			return;
		}
	} else {
		fd = sock_connect(&gc->converters[0], &opts);
		if (fd >= 0 && gw_set_upstream(s, fd) == 0) {
			s->state = GW_UPSTREAM_CONNECTING;
			loop_timer_arm(&gw->loop, &s->timer, gc->connect_timeout_ms);
			return;
		}
	}
	if (fd >= 0)
		gw_set_upstream(s, -1);
	gw_upstream_failed(s, "cannot open a connection to the converter");
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
	/* TPROXY: the accepted socket's local address is where the client was going. */
	if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0)
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
	s->rule = pol_match(&gw->policy, &flow);
	if (loop_add(&gw->loop, &s->relay.io[RELAY_A], RELAY_EPOLL_EVENTS) < 0) {
		gw_close(s, "epoll registration failed", true);
		return;
	}
	sock_set_nodelay(fd);
	switch (s->rule->action) {
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
			log_warnx(
				"reload: not supported by the gateway yet; restart to apply changes");
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

static int gw_build_policy(struct gateway *gw)
{
	const struct config_gateway *gc = &gw->config.gateway;
	char err[POL_ERR_LEN];

	pol_init(&gw->policy, (enum pol_action)gc->default_action);
	for (size_t i = 0; i < gc->rules_len; i++) {
		struct pol_rule rule;

		if (pol_parse_rule(gc->rules[i], NULL, 0, &rule, err) < 0) {
			log_warnx("%s", err);
			return -EINVAL;
		}
		if (pol_add(&gw->policy, &rule) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int gw_start_intercept(struct gateway *gw)
{
	const struct config_gateway *gc = &gw->config.gateway;
	char err[256] = "";
	int ret;

	if (!gc->intercept)
		return 0;
	gw->intercept = (struct intercept_config){ .port = (uint16_t)gc->port, .ipv6 = true };
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

static void gw_usage(FILE *out)
{
	fprintf(out, "usage: mpconvd gateway [--config FILE] [--key value ...]\n"
		     "  e.g. mpconvd gateway --converter 192.0.2.1 --lan lan0\n\n");
	config_print_role_help(out, CONFIG_GATEWAY);
}

int gateway_main(int argc, char **argv)
{
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
	if (gw_build_policy(gw) < 0) {
		ret = 2;
		goto out_policy;
	}
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
		struct sock_listen_opts opts = { .transparent = true, .backlog = 4096 };

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
	if (gw->config.gateway.mode == CONFIG_MODE_POOL) {
		struct pool_params params = {
			.converter = gw->config.gateway.converters[0],
			.connect = { .mptcp = true,
				     .nodelay = true,
				     .buffer_size = gw->config.gateway.socket_buffer },
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
	}
	if (gw_start_intercept(gw) < 0)
		goto out_loop;
	log_info("gateway: converter %s, mode %s, intercepting on %zu LAN interface(s), port %u",
		 addr_format(&gw->config.gateway.converters[0], true, where),
		 gw->config.gateway.mode == CONFIG_MODE_POOL  ? "pool"
		 : gw->config.gateway.mode == CONFIG_MODE_TFO ? "tfo"
							      : "plain",
		 gw->config.gateway.lan_len, gw->config.gateway.port);

	if (loop_run(&gw->loop) < 0)
		log_warn("event loop");
	gw_close_all(gw, "shutdown");
	log_info("totals: sessions=%lu bonded=%lu direct=%lu blocked=%lu pool_hits=%lu "
		 "pool_misses=%lu converter_errors=%lu upstream_failures=%lu fallbacks=%lu",
		 gw->stats.sessions, gw->stats.bonded, gw->stats.direct, gw->stats.blocked,
		 gw->stats.pool_hits, gw->stats.pool_misses, gw->stats.converter_errors,
		 gw->stats.upstream_failures, gw->stats.fallbacks);
	log_info("gateway stopped");
	ret = 0;

out_loop:
	gw_stop_intercept(gw);
	if (gw->pool_on)
		pool_destroy(&gw->pool);
	if (gw->listener.fd >= 0)
		close(gw->listener.fd);
	if (gw->signals.fd >= 0)
		close(gw->signals.fd);
	pipe_pool_destroy(&gw->pipes);
	loop_destroy(&gw->loop);
out_policy:
	pol_free(&gw->policy);
out_config:
	config_free(&gw->config);
	free(gw);
	return ret;
}
