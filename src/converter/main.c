// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The converter process: configuration, worker threads, the main loop (signals through a
 * signalfd: HUP reloads, TERM/INT drain; the host's address changes; the workers' answers),
 * the on-path rules installed and removed, kernel checks at start, and the exit totals.
 */
#include "converter.h"

#include "intercept.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void cv_check_kernel(const struct config_converter *cc)
{
	FILE *f;
	int value = 0;

	if (!cc->tfo)
		return;
	f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r");
	if (f && fscanf(f, "%i", &value) == 1 && !(value & 0x2))
		log_warnx("net.ipv4.tcp_fastopen=%#x lacks the server bit 0x2: SYN data will be "
			  "refused and MPTCP clients sending it fall back to plain TCP; "
			  "set it with: sysctl -w net.ipv4.tcp_fastopen=%#x",
			  value, value | 0x2);
	if (f)
		fclose(f);
}

static void cv_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void cv_log_stats(struct cv_stats *stats)
{
	char errors[256] = "";
	size_t len = 0;

	for (int code = 0; code < 98; code++) {
		unsigned long n = atomic_load(&stats->errors[code]);
		int w;

		if (!n || len >= sizeof(errors))
			continue;
		w = snprintf(errors + len, sizeof(errors) - len, "%s%d:%lu", len ? "," : "", code,
			     n);
		len += w > 0 ? (size_t)w : 0;
	}
	log_info("totals: sessions=%lu relayed=%lu client_tcp=%lu server_mptcp=%lu server_tcp=%lu "
		 "errors=%s",
		 atomic_load(&stats->sessions), atomic_load(&stats->relayed),
		 atomic_load(&stats->client_tcp), atomic_load(&stats->server_mptcp),
		 atomic_load(&stats->server_tcp), len ? errors : "none");
}

/* The host's own addresses moved: the next destination check sees the new set. */
static void cv_on_own_events(struct loop_io *io, uint32_t events)
{
	struct cv_control *c = container_of(io, struct cv_control, own_events);
	int ret = ownaddr_on_readable(&c->shared->own);

	(void)events;
	if (ret < 0) {
		log_warnc(ret, "cannot refresh the host's own addresses (the previous set stays)");
	} else if (ret > 0) {
		log_info("own addresses refreshed: %zu local routes",
			 ownaddr_count(&c->shared->own));
	}
}

static void cv_on_signal(struct loop_io *io, uint32_t events)
{
	struct cv_control *c = container_of(io, struct cv_control, signals);
	struct signalfd_siginfo si;
	char why[CONFIG_ERR_LEN];

	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			cv_reload(c->shared, why);
			continue;
		}
		log_info("signal %u: draining %u sessions", si.ssi_signo,
			 atomic_load(&c->shared->sessions));
		loop_stop(&c->loop);
		return;
	}
}

/*
 * On-path mode: our nftables table diverts MPTCP SYNs (MP_CAPABLE, and MP_JOIN to a port with
 * sessions) forwarded through the transparent-lan interfaces to the transparent and join
 * listeners; plain TCP and native MPTCP are routed on untouched (src/onpath.h has the whole
 * classification). The nflog watch opens a port's join listener at its first MP_CAPABLE SYN.
 * Removed at exit. 0, or -errno (logged).
 */
static int cv_onpath_start(const struct config_converter *cc, struct intercept_config *ic,
			   struct onpath_watch *watch, struct loop *loop, struct onpath_joins *joins)
{
	char err[256] = "";
	int ret;

	if (cc->transparent_lan_len == 0)
		return 0;
	if (cc->transparent_native.len > INTERCEPT_MAX_EXCLUDE) {
		log_warnx("on-path mode: more than %d transparent-native prefixes",
			  INTERCEPT_MAX_EXCLUDE);
		return -EINVAL;
	}
	*ic = (struct intercept_config){ .port = (uint16_t)cc->transparent_port,
					 .ipv6 = true,
					 .mptcp_only = true };
	for (size_t i = 0; i < cc->transparent_lan_len; i++)
		ic->lan_ifaces[ic->lan_len++] = cc->transparent_lan[i];
	for (size_t i = 0; i < cc->transparent_native.len; i++)
		ic->exclude[ic->exclude_len++] = cc->transparent_native.prefixes[i];
	for (size_t i = 0; i < cc->transparent_native_ports_len; i++)
		ic->native_ports[ic->native_ports_len++] = cc->transparent_native_ports[i];
	/* the watch before the table: no SYN is diverted before its notices are read */
	ret = onpath_watch_start(watch, loop, joins, ONPATH_LOG_GROUP);
	if (ret == 0)
		ic->log_group = ONPATH_LOG_GROUP;
	else
		log_warnx("on-path mode: no nflog notices (%s): join listeners open at accept, "
			  "a first join may need its SYN retransmitted",
			  strerror(-ret));
	ret = intercept_install(ic, err, sizeof(err));
	if (ret < 0) {
		log_warnx("on-path mode: cannot install the capture: %s", err);
		ic->lan_len = 0;
		return ret;
	}
	log_info("on-path mode: terminating MPTCP forwarded through %zu interface(s), port %u, "
		 "%zu native prefix(es), %zu native port(s)",
		 ic->lan_len, ic->port, ic->exclude_len, ic->native_ports_len);
	return 0;
}

/* Shutdown, before the drain: new MPTCP connections are routed on to their servers from now
 * on, while the terminated ones keep reaching their sockets until they end (drain-timeout);
 * removing the table at once would send their packets on to servers that know nothing of them.
 */
static void cv_onpath_drain(struct intercept_config *ic)
{
	char err[256] = "";

	if (ic->lan_len == 0)
		return;
	ic->draining = true;
	if (intercept_install(ic, err, sizeof(err)) < 0)
		log_warnx("on-path mode: cannot stop diverting new connections: %s", err);
}

static void cv_onpath_stop(struct intercept_config *ic, struct onpath_watch *watch)
{
	char err[256] = "";

	if (ic->lan_len && intercept_remove(ic, err, sizeof(err)) < 0)
		log_warnx("on-path mode: cannot remove the capture: %s", err);
	if (ic->lan_len)
		log_info("on-path mode: %lu SYN notices, %lu join listeners opened, %lu closed",
			 watch->notices, watch->joins ? watch->joins->opened : 0,
			 watch->joins ? watch->joins->closed : 0);
	onpath_watch_stop(watch);
	ic->lan_len = 0;
}

/* The main loop's own inputs: signals and the host's address changes. */
static int cv_main_loop_start(struct cv_control *c, int sfd)
{
	int ret;

	c->signals.fd = sfd;
	c->signals.on_event = cv_on_signal;
	ret = loop_add(&c->loop, &c->signals, EPOLLIN);
	if (ret < 0)
		return ret;
	c->own_events.fd = ownaddr_fd(&c->shared->own);
	c->own_events.on_event = cv_on_own_events;
	return loop_add(&c->loop, &c->own_events, EPOLLIN);
}

static unsigned cv_worker_count(const struct config_converter *cc)
{
	long cpus;

	if (cc->common.workers)
		return cc->common.workers;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (unsigned)cpus : 1;
}

static void cv_usage(FILE *out)
{
	fprintf(out, "usage: mpconvd converter [--config FILE] [--key value ...]\n"
		     "  e.g. mpconvd converter --listen 0.0.0.0:5124 --allow 192.0.2.0/24\n\n");
	config_print_help(out);
}

int converter_main(int argc, char **argv)
{
	static const double setup_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					       0.25,  0.5,    1,     2.5,  5,	  10 };
	struct cv_shared shared = { .cfg = NULL };
	struct cv_control control = { .loop.epoll_fd = -1, .answers.fd = -1, .signals.fd = -1 };
	struct intercept_config onpath = { .lan_len = 0 };
	struct onpath_watch watch = { .loop = NULL };
	struct cv_worker *workers = NULL;
	struct cv_cfg *inbound_cfg = NULL;
	struct config config;
	char err[CONFIG_ERR_LEN] = "";
	unsigned nworkers = 0, started = 0;
	bool own_started = false;
	sigset_t signals;
	int consumed = 0, sfd = -1, ret = 1;
	char where[ADDR_STRLEN];

	shared.argc = argc;
	shared.argv = argv;
	config_init(&config);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help-keys")) {
			config_print_role_keys(stdout, CONFIG_CONVERTER);
			config_free(&config);
			return 0;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cv_usage(stdout);
			config_free(&config);
			return 0;
		}
	}
	if (config_parse_args(&config, argc - 1, argv + 1, &consumed, err) < 0 ||
	    config_finish(&config, err) < 0) {
		log_errx("%s", err);
		config_free(&config);
		return 2;
	}
	if (consumed != argc - 1) {
		log_errx("unexpected argument '%s'", argv[1 + consumed]);
		cv_usage(stderr);
		config_free(&config);
		return 2;
	}
	log_set_level(config.converter.common.log_level);
	if (config.converter.allow_clients.len == 0)
		log_warnx("no client is allowed (allow list empty): every request will be refused");
	cv_check_kernel(&config.converter);
	cv_raise_fd_limit();

	pthread_mutex_init(&shared.cfg_lock, NULL);
	if (onpath_joins_init(&shared.joins) < 0) {
		log_warnx("on-path join table");
		goto cleanup;
	}
	ret = cv_resolver_start(&shared.resolver);
	if (ret < 0) {
		log_warnc(ret, "the resolver thread");
		ret = 1;
		goto cleanup;
	}
	ret = 1;
	metrics_histogram_init(&shared.stats.setup, setup_bounds,
			       sizeof(setup_bounds) / sizeof(setup_bounds[0]), 1e6);
	atomic_init(&shared.sessions, 0);
	atomic_init(&shared.draining, false);
	nworkers = cv_worker_count(&config.converter);
	if (clients_init(&shared.clients, cv_session_cap(&config.converter)) < 0) {
		log_warnx("out of memory for the client table");
		goto cleanup;
	}
	shared.cfg = cv_cfg_new(&config);
	if (!shared.cfg)
		goto cleanup;
	ret = ownaddr_start(&shared.own);
	if (ret < 0) {
		log_warnc(ret, "cannot read the host's own addresses (rtnetlink)");
		ret = 1;
		goto cleanup;
	}
	own_started = true;
	ret = 1;

	/* Signals go to the main thread's signalfd only: block them before threads exist. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd == -1) {
		log_warn("signalfd");
		goto cleanup;
	}
	if (loop_init(&control.loop) < 0) {
		log_warn("main event loop");
		goto cleanup;
	}
	control.shared = &shared;

	workers = calloc(nworkers, sizeof(*workers));
	if (!workers) {
		log_warnx("out of memory for %u workers", nworkers);
		goto cleanup;
	}
	for (unsigned i = 0; i < nworkers; i++) {
		int r = cv_worker_init(&workers[i], i, &shared, &shared.cfg->config.converter);

		started = i + 1; /* initialised (maybe partly): destroyed at cleanup */
		if (r < 0) {
			log_warnc(r, "worker %u: start-up failed", i);
			goto cleanup;
		}
	}
	for (unsigned i = 0; i < nworkers; i++) {
		int r = pthread_create(&workers[i].thread, NULL, cv_worker_thread, &workers[i]);

		if (r != 0) {
			log_warnc(r, "worker %u: pthread_create", i);
			atomic_store(&shared.draining, true);
			for (unsigned j = 0; j < i; j++)
				eventfd_write(workers[j].wakeup.fd, 1);
			for (unsigned j = 0; j < i; j++)
				pthread_join(workers[j].thread, NULL);
			goto cleanup;
		}
	}
	for (size_t i = 0; i < shared.cfg->config.converter.listen_len; i++)
		log_info("converter listening on %s (%u workers, TFO %s)",
			 addr_format(&shared.cfg->config.converter.listen[i], true, where),
			 nworkers, shared.cfg->config.converter.tfo ? "on" : "off");
	for (size_t i = 0; i < shared.cfg->config.converter.socks_listen_len; i++)
		log_info("SOCKS 5 on %s",
			 addr_format(&shared.cfg->config.converter.socks_listen[i], true, where));
	if (cv_onpath_start(&shared.cfg->config.converter, &onpath, &watch, &control.loop,
			    &shared.joins) < 0) {
		ret = 1;
		goto stop_workers;
	}

	control.workers = workers;
	control.nworkers = nworkers;
	ret = cv_main_loop_start(&control, sfd);
	if (ret == 0) {
		/* the start-up configuration's CPE table: a reload does not change it */
		inbound_cfg = cv_cfg_get(&shared);
		ret = cvi_start(&control.inbound, &control.loop, &inbound_cfg->config.converter);
	}
	if (ret == 0)
		ret = cv_control_start(&control);
	if (ret == 0) {
		ret = loop_run(&control.loop);
		if (ret < 0) {
			log_warnc(ret, "main event loop");
		}
	}
	ret = ret < 0 ? 1 : 0;
stop_workers:
	cv_onpath_drain(&onpath);
	cvi_stop(&control.inbound);
	cv_control_stop(&control);
	atomic_store(&shared.draining, true);
	for (unsigned i = 0; i < nworkers; i++)
		eventfd_write(workers[i].wakeup.fd, 1);
	for (unsigned i = 0; i < nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	cv_onpath_stop(&onpath, &watch);
	cv_log_stats(&shared.stats);
	log_info("converter stopped");

cleanup:
	cv_control_destroy(&control);
	loop_destroy(&control.loop);
	cv_resolver_stop(&shared.resolver); /* before the workers its answers go to */
	for (unsigned i = 0; i < started; i++)
		cv_worker_destroy(&workers[i]);
	free(workers);
	if (sfd >= 0)
		close(sfd);
	if (inbound_cfg)
		cv_cfg_put(inbound_cfg);
	cv_cfg_put(shared.cfg);
	if (own_started)
		ownaddr_stop(&shared.own);
	clients_destroy(&shared.clients);
	pthread_mutex_destroy(&shared.cfg_lock);
	onpath_joins_destroy(&shared.joins);
	config_free(&config);
	return ret;
}
