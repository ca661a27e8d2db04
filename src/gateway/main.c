// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway process: the instance lock, configuration, what the host allows (IPv6, a bridged
 * LAN), the worker threads (worker.c: capture listeners, accept, sessions), the access links and
 * their subflows, the interception rules (removed at exit), signals through a signalfd (HUP
 * reloads, TERM/INT drain), and the exit totals. It never leaves the host's forwarding changed
 * behind it, and never touches what another running instance set up.
 */
#include "gateway.h"

#include "hostenv.h"
#include "log.h"
#include "sockdiag.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The instance lock: an abstract unix socket name, so one per network namespace (the nftables
 * table, the fwmark rule and the net.mptcp sysctls are per namespace too), released by the
 * kernel however the holder ends, a crash included. */
#define GW_LOCK_NAME	      "mpconv-gateway"
#define GW_LOCK_POLL_MS	      100
#define GW_LOCK_WAIT_SLACK_MS 10000 /* beyond the holder's drain-timeout */

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
		log_info("signal %u: draining", si.ssi_signo);
		gw->draining = true;
		/* each worker stops accepting, then stops once its sessions are gone (or at its
		 * drain-timeout); the last one to stop ends this loop */
		gw_workers_drain(gw);
	}
}

/* The pid holding the lock name, or 0 when it cannot be told. */
static pid_t gw_lock_holder(const struct sockaddr_un *name, socklen_t len)
{
	struct ucred cred = { .pid = 0 };
	socklen_t cred_len = sizeof(cred);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return 0;
	if (connect(fd, (const struct sockaddr *)name, len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == -1)
		cred.pid = 0;
	close(fd);
	return cred.pid;
}

static void gw_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Takes the instance lock before anything is touched: a second gateway in this network
 * namespace waits while the first runs or drains (a restart right after a stop is the common
 * case), up to wait_ms, and then gives up without touching the first one's rules. Leftovers of
 * a run that crashed are taken over once the lock is ours (the table is replaced, the routes and
 * rule found in place). The fd, to keep open until exit, or -errno.
 */
static int gw_lock(uint32_t wait_ms)
{
	struct sockaddr_un name = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				    strlen(GW_LOCK_NAME));
	uint64_t waited = 0;
	bool said = false;
	int fd, ret;

	memcpy(name.sun_path + 1, GW_LOCK_NAME, strlen(GW_LOCK_NAME)); /* abstract: leading 0 */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	for (;;) {
		if (bind(fd, (struct sockaddr *)&name, len) == 0)
			break;
		ret = -errno;
		if (ret != -EADDRINUSE || waited >= wait_ms)
			goto fail;
		if (!said) {
			log_warnx("another gateway (pid %d) runs in this network namespace: waiting "
				  "up to %u s for it to exit; its rules are left alone",
				  (int)gw_lock_holder(&name, len), (unsigned)(wait_ms / 1000));
			said = true;
		}
		gw_sleep_ms(GW_LOCK_POLL_MS);
		waited += GW_LOCK_POLL_MS;
	}
	/* listening only so that a waiting instance can name the holder (SO_PEERCRED) */
	if (listen(fd, 1) == -1) {
		ret = -errno;
		goto fail;
	}
	if (said)
		log_info("the other gateway exited after %.1f s: starting", (double)waited / 1000);
	return fd;
fail:
	close(fd);
	return ret;
}

/*
 * What the host allows capture to do, before the listener exists. A LAN bridge with
 * br_netfilter on defeats TPROXY (hostenv.h): REDIRECT works there, so the gateway switches to
 * it and says how to keep TPROXY instead.
 */
static void gw_check_host(struct gateway *gw)
{
	struct config_gateway *gc = &gw->config.gateway;
	const char *lan[CONFIG_MAX_LAN];
	char bridge[64];

	if (!gc->intercept || gc->intercept_method != CONFIG_INTERCEPT_TPROXY)
		return;
	for (size_t i = 0; i < gc->lan_len; i++)
		lan[i] = gc->lan[i];
	if (!hostenv_bridge_netfilter("", lan, gc->lan_len, bridge, sizeof(bridge)))
		return;
	log_warnx("lan %s is a bridge and br_netfilter passes its frames through the IP hooks "
		  "(net.bridge.bridge-nf-call-iptables/ip6tables = 1): TPROXY cannot capture there, "
		  "so intercepting with REDIRECT (nat) instead (intercept-method = redirect says so "
		  "and silences this). To keep TPROXY: sysctl -w net.bridge.bridge-nf-call-iptables=0 "
		  "net.bridge.bridge-nf-call-ip6tables=0, unless a firewall must see bridged traffic",
		  bridge);
	gc->intercept_method = CONFIG_INTERCEPT_REDIRECT;
	gw->redirect_forced = true; /* a reload keeps it, and need not warn about it */
}

static int gw_start_intercept(struct gateway *gw)
{
	const struct config_gateway *gc = &gw->config.gateway;
	char err[256] = "";
	int ret;

	if (!gc->intercept)
		return 0;
	gw->intercept = (struct intercept_config){ .port = (uint16_t)gc->port,
						   .ipv6 = hostenv_ipv6_usable(""),
						   .redirect = gc->intercept_method == CONFIG_INTERCEPT_REDIRECT,
						   .local = gc->host,
						   .own_mark = gw_own_mark(gw) };
	if (!gw->intercept.ipv6)
		log_warnx("IPv6 is disabled on this host (or on lo): intercepting IPv4 only");
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
	bool tproxy = gw->intercept_installed && !gw->intercept.redirect;
	int ret;

	if (gw->intercept_installed && intercept_remove(&gw->intercept, err, sizeof(err)) < 0)
		log_warnx("cannot remove interception: %s", err);
	gw->intercept_installed = false;
	if (!tproxy)
		return;
	/* Captured connections that ended left TIME_WAIT sockets with the servers' addresses;
	 * without the capture they would swallow the LAN's next SYNs of the same 4-tuples (for
	 * up to a minute) instead of letting them be forwarded (sockdiag.h). */
	ret = sockdiag_destroy_foreign_timewait();
	if (ret > 0)
		log_info("destroyed %d TIME_WAIT sockets of captured connections", ret);
	else if (ret < 0)
		log_warnc(ret, "cannot destroy the TIME_WAIT sockets of captured connections: the "
			       "LAN's SYNs of those 4-tuples are dropped for up to a minute");
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

	/* each worker: its copy of the links, its connections' subflows, its pool */
	gw_workers_link_changed(gw, link, usable);
}

static void gw_on_link_addresses(void *arg)
{
	/* each worker's copy of the links: new connections bind to the new addresses */
	gw_workers_link_changed(arg, -1, false);
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
		.on_addresses = gw_on_link_addresses,
		.arg = gw,
	};
	char err[LINKS_ERR_LEN];
	int ret;

	/* One bad minute must not disable MPTCP towards the converter for an hour. Restored at
	 * exit: the host's other MPTCP users keep their protection. */
	ret = gw_sysctl("/proc/sys/net/mptcp/blackhole_timeout", "0", gw->saved_blackhole_timeout,
			sizeof(gw->saved_blackhole_timeout));
	if (ret < 0) {
		gw->saved_blackhole_timeout[0] = 0;
		if (ret != -ENOENT)
			log_warnc(ret, "cannot set net.mptcp.blackhole_timeout=0");
	}
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
	if (gc->path_manager != CONFIG_PM_USERSPACE) {
		overflow_start(&gw->overflow, &gw->loop, &gw->links, NULL, NULL); /* says it cannot */
		return 0;
	}
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
	gw->paths_on = true; /* each worker subscribes to the path manager's events itself */
	overflow_start(&gw->overflow, &gw->loop, &gw->links, gw_overflow_backup, gw);
	return 0;
}

static void gw_stop_links(struct gateway *gw)
{
	overflow_stop(&gw->overflow);
	if (gw->paths_on)
		paths_stop(&gw->paths);
	gw->paths_on = false;
	if (gw->saved_path_manager[0] &&
	    gw_sysctl("/proc/sys/net/mptcp/path_manager", gw->saved_path_manager, NULL, 0) < 0)
		log_warnx("cannot restore net.mptcp.path_manager=%s", gw->saved_path_manager);
	gw->saved_path_manager[0] = 0;
	if (gw->saved_blackhole_timeout[0] &&
	    gw_sysctl("/proc/sys/net/mptcp/blackhole_timeout", gw->saved_blackhole_timeout, NULL,
		      0) < 0)
		log_warnx("cannot restore net.mptcp.blackhole_timeout=%s",
			  gw->saved_blackhole_timeout);
	gw->saved_blackhole_timeout[0] = 0;
	if (gw->links_on)
		links_stop(&gw->links);
	gw->links_on = false;
}

static void gw_usage(FILE *out, bool host)
{
	if (host)
		fprintf(out, "usage: mpconvd host [--config FILE] [--key value ...]\n"
			     "  e.g. mpconvd host --converter 192.0.2.1 --link \"wifi dev wlan0\" "
			     "--link \"lte dev wwan0\"\n  (the gateway's keys; lan is not used)\n\n");
	else
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
	char err[CONFIG_ERR_LEN] = "", where[ADDR_STRLEN], what[48];
	int consumed = 0, ret = 1, lock = -1;
	sigset_t signals;
	unsigned nworkers;

	if (!gw) {
		log_warnx("out of memory");
		return 1;
	}
	gw->listener.fd = gw->signals.fd = gw->wakeup.fd = -1;
	gw->main = gw;
	pthread_mutex_init(&gw->hosts_lock, NULL);
	pthread_mutex_init(&gw->upstream_lock, NULL);
	metrics_histogram_init(&gw->stats.setup, setup_bounds,
			       sizeof(setup_bounds) / sizeof(setup_bounds[0]), 1e6);
	config_init(&gw->config);
	gw->config.role = CONFIG_GATEWAY;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help-keys")) {
			config_print_role_keys(stdout, CONFIG_GATEWAY);
			ret = 0;
			goto out_config;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			gw_usage(stdout, argc > 1 && !strcmp(argv[1], "--host"));
			ret = 0;
			goto out_config;
		}
	}
	if (config_parse_args(&gw->config, argc - 1, argv + 1, &consumed, err) < 0 ||
	    config_finish(&gw->config, err) < 0) {
		log_errx("%s", err);
		ret = 2;
		goto out_config;
	}
	if (consumed != argc - 1) {
		log_errx("unexpected argument '%s'", argv[1 + consumed]);
		ret = 2;
		goto out_config;
	}
	log_set_level(gw->config.gateway.common.log_level);
	{
		char perr[POL_ERR_LEN];

		if (gw_build_policy(&gw->config.gateway, &gw->policy, perr) < 0) {
			log_errx("%s", perr);
			ret = 2;
			goto out_config;
		}
	}
	gw->argc = argc;
	gw->argv = argv;
	lock = gw_lock(gw->config.gateway.common.drain_timeout_ms + GW_LOCK_WAIT_SLACK_MS);
	if (lock < 0) {
		if (lock == -EADDRINUSE)
			log_warnx("another gateway still runs in this network namespace: not starting "
				  "(its rules are left alone)");
		else
			log_warnc(lock, "instance lock");
		lock = -1;
		goto out_config;
	}
	gw_check_host(gw);
	nworkers = gw->config.gateway.common.workers;
	if (nworkers == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		nworkers = cpus > 0 ? (unsigned)cpus : 1;
	}

	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL); /* before the workers: theirs stay blocked */
	signal(SIGPIPE, SIG_IGN);

	if (loop_init(&gw->loop) < 0) {
		log_warnx("cannot set up the event loop");
		goto out_loop;
	}
	upstream_init(&gw->upstream, (unsigned)gw->config.gateway.converters_len);
	gw->signals.fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
	gw->signals.on_event = gw_on_signal;
	if (gw->signals.fd < 0 || loop_add(&gw->loop, &gw->signals, EPOLLIN) < 0) {
		log_warn("signalfd");
		goto out_loop;
	}
	gw->pool_link = -1;
	if (gw_start_links(gw) < 0)
		goto out_loop;
	/* the listeners exist before the capture, which would otherwise find none */
	ret = gw_workers_start(gw, nworkers);
	if (ret < 0) {
		ret = 1;
		goto out_loop;
	}
	ret = 1;
	if (gw_start_intercept(gw) < 0)
		goto out_loop;
	if (gw_workers_inbound(gw, GW_INBOUND_START) < 0) {
		log_warnx("inbound: cannot start");
		goto out_loop;
	}
	if (gw_control_start(gw) < 0)
		goto out_loop;
	snprintf(what, sizeof(what), gw->config.gateway.host ? "this host's own connections"
							      : "on %zu LAN interface(s)",
		 gw->config.gateway.lan_len);
	log_info("%s: converter %s, mode %s, intercepting %s, port %u, %u workers",
		 gw->config.gateway.host ? "host" : "gateway",
		 addr_format(&gw->config.gateway.converters[0], true, where),
		 gw->config.gateway.mode == CONFIG_MODE_POOL  ? "pool"
		 : gw->config.gateway.mode == CONFIG_MODE_TFO ? "tfo"
							      : "plain",
		 what, gw->config.gateway.port, nworkers);
	if (gw->config.gateway.mode == CONFIG_MODE_TFO && gw->config.gateway.links_len > 1)
		log_warnx("mode tfo with %zu links: on this kernel data in the SYN plus a second "
			  "subflow can collapse bonded throughput (watch "
			  "mpconv_kernel_mptcp_no_dss_in_window_total); mode pool gives the same "
			  "round trip without it",
			  gw->config.gateway.links_len);

	if (loop_run(&gw->loop) < 0)
		log_warn("event loop");
	gw_control_stop(gw);
	gw_workers_inbound(gw, GW_INBOUND_STOP);
	gw_workers_stop(gw, "shutdown"); /* their counters added to gw->stats */
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
	gw_workers_inbound(gw, GW_INBOUND_STOP);
	gw_stop_intercept(gw);
	gw_workers_stop(gw, "shutdown"); /* before the links: their subflows, the path manager */
	gw_stop_links(gw);
	if (gw->signals.fd >= 0)
		close(gw->signals.fd);
	loop_destroy(&gw->loop);
	hosts_free(&gw->hosts);
	pthread_mutex_destroy(&gw->hosts_lock);
	pthread_mutex_destroy(&gw->upstream_lock);
	pol_free(&gw->policy);
out_config:
	if (lock >= 0)
		close(lock); /* last: everything of ours is gone, the next instance may start */
	config_free(&gw->config);
	free(gw);
	return ret;
}

int gateway_host_main(int argc, char **argv)
{
	/* "--host" first, so a reload (which parses argv again) keeps host mode too */
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	int ret;

	if (!args) {
		log_warnx("out of memory");
		return 1;
	}
	args[0] = argv[0];
	args[1] = "--host";
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	ret = gateway_main(argc + 1, args);
	free(args);
	return ret;
}
