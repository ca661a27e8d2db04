// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway process: configuration, the capture listener and its accept loop (paused when
 * out of fds), the access links and their subflows, the interception rules (removed at exit),
 * signals through a signalfd (HUP reloads, TERM/INT drain), and the exit totals. One event
 * loop. It never leaves the host's forwarding changed behind it.
 */
#include "gateway.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_ACCEPT_BACKOFF_MS 100

/* Out of fds (EMFILE, ENFILE) or memory: stop accepting for a moment rather than spin on a
 * listener that stays readable; new connections wait in the backlog meanwhile. */
static void gw_pause_accepting(struct gateway *gw)
{
	if (loop_timer_armed(&gw->accept_retry))
		return;
	log_warn("accept: pausing for %d ms", GW_ACCEPT_BACKOFF_MS);
	loop_remove(&gw->loop, &gw->listener);
	if (loop_timer_arm(&gw->loop, &gw->accept_retry, GW_ACCEPT_BACKOFF_MS) < 0 &&
	    loop_add(&gw->loop, &gw->listener, EPOLLIN | EPOLLET) < 0)
		log_warn("accept: cannot listen again");
}

static void gw_on_listener(struct loop_io *io, uint32_t events);

static void gw_on_accept_retry(struct loop_timer *timer)
{
	struct gateway *gw = container_of(timer, struct gateway, accept_retry);

	if (gw->listener.fd < 0)
		return; /* closed by a drain meanwhile */
	if (loop_add(&gw->loop, &gw->listener, EPOLLIN | EPOLLET) < 0) {
		log_warn("accept: cannot listen again");
		return;
	}
	gw_on_listener(&gw->listener, EPOLLIN); /* what queued while paused: no new edge for it */
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
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				gw_pause_accepting(gw);
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept");
			return;
		}
		gw_open_session(gw, fd, &peer, len);
	}
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
		log_info("signal %u: draining %zu sessions", si.ssi_signo, gw->sessions.len);
		gw->draining = true;
		/* No new upstream connections while draining: the pool has nobody left to serve. */
		if (gw->pool_on) {
			pool_destroy(&gw->pool);
			gw->pool_on = false;
		}
		if (gw->listener.fd >= 0) {
			loop_timer_cancel(&gw->loop, &gw->accept_retry);
			loop_remove(&gw->loop, &gw->listener);
			close(gw->listener.fd);
			gw->listener.fd = -1;
		}
		if (gw->sessions.len == 0)
			loop_stop(&gw->loop);
		else
			loop_timer_arm(&gw->loop, &gw->drain_timer,
				       gw->config.gateway.common.drain_timeout_ms);
	}
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
						   .redirect = gc->intercept_method == CONFIG_INTERCEPT_REDIRECT };
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
	int ret;

	/* One bad minute must not disable MPTCP towards the converter for an hour. */
	ret = gw_sysctl("/proc/sys/net/mptcp/blackhole_timeout", "0", NULL, 0);
	if (ret < 0 && ret != -ENOENT)
		log_warnc(ret, "cannot set net.mptcp.blackhole_timeout=0");
	if (gc->links_len == 0)
		return 0;
	/* link health towards every converter in turn, unless the operator named a target */
	if (gc->has_probe_target)
		links_params_targets(&params, &gc->probe_target, 1);
	else
		links_params_targets(&params, gc->converters, (unsigned)gc->converters_len);
	ret = links_start(&gw->links, &gw->loop, gc->links, (unsigned)gc->links_len, &params, err);
	if (ret < 0) {
		log_warnx("%s", err);
		return ret;
	}
	gw->links_on = true;
	if (gc->path_manager != CONFIG_PM_USERSPACE)
		return 0;
	ret = gw_sysctl("/proc/sys/net/mptcp/path_manager", "userspace", gw->saved_path_manager,
			sizeof(gw->saved_path_manager));
	/* Found already set: most likely our own, left by a run that crashed. */
	if (ret == 0 && !strcmp(gw->saved_path_manager, "userspace"))
		strcpy(gw->saved_path_manager, "kernel");
	if (ret < 0) {
		log_warnc(ret, "cannot select the userspace MPTCP path manager");
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
	log_set_level(gw->config.gateway.common.log_level);
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
	if (gw->config.gateway.common.workers > 1)
		log_warnx("workers: the gateway runs one event loop for now");

	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigprocmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (loop_init(&gw->loop) < 0 ||
	    pipe_pool_init(&gw->pipes, gw->config.gateway.common.pipe_size, 64) < 0) {
		log_warnx("cannot set up the event loop");
		goto out_loop;
	}
	loop_timer_init(&gw->drain_timer, gw_on_drain_timeout);
	loop_timer_init(&gw->accept_retry, gw_on_accept_retry);
	upstream_init(&gw->upstream, (unsigned)gw->config.gateway.converters_len);
	gw->signals.fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
	gw->signals.on_event = gw_on_signal;
	if (gw->signals.fd < 0 || loop_add(&gw->loop, &gw->signals, EPOLLIN) < 0) {
		log_warn("signalfd");
		goto out_loop;
	}
	{
		struct addr_port any = { .port = (uint16_t)gw->config.gateway.port };
		struct sock_listen_opts opts = {
			.transparent = gw->config.gateway.intercept_method == CONFIG_INTERCEPT_TPROXY, .backlog = 4096
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
			.connect_timeout_ms = gw->config.gateway.common.connect_timeout_ms,
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
