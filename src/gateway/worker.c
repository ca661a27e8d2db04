// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway's worker threads: each has its own event loop, SO_REUSEPORT capture listener
 * (accept paused when out of fds), share of the connection pool, path-manager subscription
 * (events for other workers' tokens find nothing in its table: at most remembered a while as
 * early events), sessions and counters; worker 0 also runs inbound sessions. The main thread
 * reaches a worker only through gw_worker_call (reload, link changes, an answered probe, the
 * overflow links' backup flags, inbound, drain, the operator's snapshots), which it waits for:
 * no lock on the relay path, and nothing a worker owns is read from another thread while the
 * worker runs.
 */
#include "gateway.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_ACCEPT_BACKOFF_MS 100

/* Out of fds (EMFILE, ENFILE) or memory: stop accepting for a moment rather than spin on a
 * listener that stays readable; new connections wait in the backlog (or go to another worker's
 * listener) meanwhile. */
static void gw_pause_accepting(struct gateway *gw)
{
	if (loop_timer_armed(&gw->accept_retry))
		return;
	log_warn("worker %u: accept: pausing for %d ms", gw->index, GW_ACCEPT_BACKOFF_MS);
	loop_remove(&gw->loop, &gw->listener);
	if (loop_timer_arm(&gw->loop, &gw->accept_retry, GW_ACCEPT_BACKOFF_MS) < 0 &&
	    loop_add(&gw->loop, &gw->listener, EPOLLIN | EPOLLET) < 0)
		log_warn("accept: cannot listen again");
}

static void gw_on_listener(struct loop_io *io, uint32_t events)
{
	struct gateway *gw = container_of(io, struct gateway, listener);

	(void)events;
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

static void gw_on_drain_timeout(struct loop_timer *timer)
{
	struct gateway *gw = container_of(timer, struct gateway, drain_timer);

	gw_close_all(gw, "shutdown: drain timeout");
	loop_stop(&gw->loop);
}

/* Runs the calls queued for this worker; the caller waits on inbox_done. */
static void gw_run_inbox(struct gateway *w)
{
	struct gw_call *calls, *c, *next;

	pthread_mutex_lock(&w->inbox_lock);
	calls = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	for (c = calls; c; c = next) {
		next = c->next; /* c belongs to its caller once done is set */
		c->fn(w, c->arg);
		pthread_mutex_lock(&w->inbox_lock);
		c->done = true;
		pthread_cond_broadcast(&w->inbox_done);
		pthread_mutex_unlock(&w->inbox_lock);
	}
}

static void gw_on_wakeup(struct loop_io *io, uint32_t events)
{
	struct gateway *w = container_of(io, struct gateway, wakeup);
	eventfd_t n;

	(void)events;
	eventfd_read(io->fd, &n);
	gw_run_inbox(w);
}

void gw_worker_call(struct gateway *w, void (*fn)(struct gateway *w, void *arg), void *arg)
{
	struct gw_call c = { .fn = fn, .arg = arg };

	pthread_mutex_lock(&w->inbox_lock);
	if (w->stopped) {
		/* its thread is done with its state: nobody else touches it now */
		pthread_mutex_unlock(&w->inbox_lock);
		fn(w, arg);
		return;
	}
	c.next = w->inbox;
	w->inbox = &c;
	pthread_mutex_unlock(&w->inbox_lock);
	eventfd_write(w->wakeup.fd, 1);
	pthread_mutex_lock(&w->inbox_lock);
	while (!c.done)
		pthread_cond_wait(&w->inbox_done, &w->inbox_lock);
	pthread_mutex_unlock(&w->inbox_lock);
}

void gw_workers_each(struct gateway *gw, void (*fn)(struct gateway *w, void *arg), void *arg)
{
	for (unsigned i = 0; i < gw->nworkers; i++)
		gw_worker_call(gw->workers[i], fn, arg);
}

static void *gw_worker_thread(void *arg)
{
	struct gateway *w = arg;
	int ret = loop_run(&w->loop);

	if (ret < 0)
		log_warnc(ret, "worker %u: event loop failed", w->index);
	pthread_mutex_lock(&w->inbox_lock);
	w->stopped = true;
	pthread_mutex_unlock(&w->inbox_lock);
	gw_run_inbox(w); /* a call queued before stopped was set */
	atomic_fetch_add(&w->main->workers_stopped, 1);
	eventfd_write(w->main->wakeup.fd, 1);
	return NULL;
}

static void gw_worker_pool_sync(struct gateway *w, void *arg)
{
	(void)arg;
	gw_pool_sync(w);
}

/* A worker's loop ended: drained (once every one did, the main loop ends too), or failed
 * outside a drain (the gateway stops: its listener would hold its share of new connections
 * unanswered). A converter's back-off started or ended: every worker's pool follows. */
static void gw_on_worker_news(struct loop_io *io, uint32_t events)
{
	struct gateway *gw = container_of(io, struct gateway, wakeup);
	unsigned stopped = atomic_load(&gw->workers_stopped);
	eventfd_t n;

	(void)events;
	eventfd_read(io->fd, &n);
	if (atomic_exchange(&gw->upstream_changed, false))
		gw_workers_each(gw, gw_worker_pool_sync, NULL);
	if (stopped && !gw->draining)
		log_warnx("%u worker(s) stopped unasked: the gateway stops", stopped);
	if (stopped == gw->nworkers || (stopped && !gw->draining))
		loop_stop(&gw->loop);
}

/* A worker's share of a pool bound: rounded up, so N workers keep at least the bound. */
static unsigned gw_share(unsigned bound, unsigned n)
{
	return (bound + n - 1) / n;
}

static struct pool_params gw_pool_share(const struct gateway *w)
{
	const struct config_gateway *gc = &w->config.gateway;

	return (struct pool_params){
		.converter = gc->converters[0],
		.connect = gw_upstream_opts(w),
		.min = gw_share(gc->pool_min, w->main->nworkers),
		.max = gw_share(gc->pool_max, w->main->nworkers),
		.max_idle_ms = gc->pool_max_idle_ms,
		.connect_timeout_ms = gc->common.connect_timeout_ms,
	};
}

static int gw_worker_listen(struct gateway *w)
{
	const struct config_gateway *gc = &w->config.gateway;
	struct addr_port any = { .port = (uint16_t)gc->port };
	struct sock_listen_opts opts = {
		.transparent = gc->intercept_method == CONFIG_INTERCEPT_TPROXY,
		.reuseport = true, /* the kernel spreads captured connections over the workers */
		.backlog = 4096,
	};
	bool mptcp;

	/* [::] with IPV6_V6ONLY off takes the TPROXY'd IPv4 connections too. */
	w->listener.fd = sock_listen(&any, &opts, &mptcp);
	if (w->listener.fd == -EAFNOSUPPORT) { /* a kernel without IPv6: 0.0.0.0 */
		any.ip[10] = any.ip[11] = 0xff;
		w->listener.fd = sock_listen(&any, &opts, &mptcp);
	}
	if (w->listener.fd < 0) {
		int ret = w->listener.fd;

		errno = -ret;
		log_warn("listen on [::]:%u (IP_TRANSPARENT needs CAP_NET_ADMIN)", gc->port);
		return ret;
	}
	w->listener.on_event = gw_on_listener;
	return loop_add(&w->loop, &w->listener, EPOLLIN | EPOLLET);
}

static void gw_worker_free(struct gateway *w)
{
	if (w->pool_on)
		pool_destroy(&w->pool);
	w->pool_on = false;
	if (w->paths_on)
		paths_stop(&w->paths);
	if (w->listener.fd >= 0)
		close(w->listener.fd);
	if (w->wakeup.fd >= 0)
		close(w->wakeup.fd);
	pipe_pool_destroy(&w->pipes);
	loop_destroy(&w->loop);
	pthread_cond_destroy(&w->inbox_done);
	pthread_mutex_destroy(&w->inbox_lock);
	free(w);
}

/* A worker's state, before its thread: it shares the main one's configuration and policy
 * (shallow copies, never freed by it) and starts with a copy of its links' state. */
static int gw_worker_init(struct gateway *m, unsigned index, struct gateway **out)
{
	struct gateway *w = calloc(1, sizeof(*w));
	int ret;

	*out = w;
	if (!w)
		return -ENOMEM;
	w->main = m;
	w->index = index;
	w->listener.fd = w->wakeup.fd = w->loop.epoll_fd = -1;
	pthread_mutex_init(&w->inbox_lock, NULL);
	pthread_cond_init(&w->inbox_done, NULL);
	w->config = m->config;
	w->policy = m->policy;
	w->links = m->links;
	w->links_on = m->links_on;
	w->redirect_forced = m->redirect_forced;
	metrics_histogram_init(&w->stats.setup, m->stats.setup.bounds, m->stats.setup.bounds_len,
			       m->stats.setup.scale);
	loop_timer_init(&w->drain_timer, gw_on_drain_timeout);
	loop_timer_init(&w->accept_retry, gw_on_accept_retry);
	ret = loop_init(&w->loop);
	if (ret < 0)
		return ret;
	ret = pipe_pool_init(&w->pipes, w->config.gateway.common.pipe_size, 64);
	if (ret < 0)
		return ret;
	w->wakeup.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wakeup.fd == -1)
		return -errno;
	w->wakeup.on_event = gw_on_wakeup;
	ret = loop_add(&w->loop, &w->wakeup, EPOLLIN);
	if (ret < 0)
		return ret;
	ret = gw_worker_listen(w);
	if (ret < 0)
		return ret;
	if (m->paths_on) {
		/* its own subscription: each worker sees every event, acts on its own tokens */
		ret = paths_start(&w->paths, &w->loop, &w->links, m->nworkers);
		if (ret < 0)
			return ret;
		w->paths_on = true;
		/* the overflow links standing by (overflow.c on the main thread, which changes
		 * them later through gw_overflow_backup) */
		w->paths.backup_links = overflow_standby(&m->overflow);
	}
	w->pool_link = -1;
	if (w->config.gateway.mode == CONFIG_MODE_POOL && !gw_onpath(w)) {
		struct pool_params params = gw_pool_share(w);

		if (pool_init(&w->pool, &w->loop, &params) < 0) {
			log_warnx("pool: invalid parameters");
			return -EINVAL;
		}
		w->pool_on = true;
		w->pool_converter = 0;
		w->pool_link = -2; /* forces the first sync */
		gw_pool_sync(w);
	}
	return 0;
}

int gw_workers_start(struct gateway *gw, unsigned n)
{
	int ret;

	gw->workers = calloc(n, sizeof(*gw->workers));
	if (!gw->workers)
		return -ENOMEM;
	atomic_init(&gw->workers_stopped, 0);
	gw->wakeup.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gw->wakeup.fd == -1)
		return -errno;
	gw->wakeup.on_event = gw_on_worker_news;
	ret = loop_add(&gw->loop, &gw->wakeup, EPOLLIN);
	if (ret < 0)
		return ret;
	gw->nworkers = n; /* the pool shares; at stop, those not allocated are skipped */
	for (unsigned i = 0; i < n; i++) {
		ret = gw_worker_init(gw, i, &gw->workers[i]);
		if (ret < 0) {
			log_warnc(ret, "worker %u: start-up failed", i);
			return ret;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		ret = -pthread_create(&gw->workers[i]->thread, NULL, gw_worker_thread,
				      gw->workers[i]);
		gw->workers[i]->thread_started = ret == 0;
		if (ret < 0) {
			log_warnc(ret, "worker %u: pthread_create", i);
			return ret;
		}
	}
	return 0;
}

static void gw_worker_end(struct gateway *w, void *arg)
{
	gw_close_all(w, arg);
	loop_stop(&w->loop);
}

void gw_workers_stop(struct gateway *gw, const char *reason)
{
	for (unsigned i = 0; i < gw->nworkers; i++) {
		struct gateway *w = gw->workers[i];

		if (!w)
			continue; /* a start-up that failed before it */
		if (!w->thread_started)
			w->stopped = true; /* never ran: its state is ours */
		gw_worker_call(w, gw_worker_end, (void *)reason);
		if (w->thread_started)
			pthread_join(w->thread, NULL);
		/* the exit totals: everything counted by every worker */
		gw_stats_add(&gw->stats, &w->stats);
		gw->paths.stats.created += w->paths.stats.created;
		gw->paths.stats.closed_by_link_down += w->paths.stats.closed_by_link_down;
		gw->paths.stats.restored += w->paths.stats.restored;
		gw_worker_free(w);
	}
	free(gw->workers);
	gw->workers = NULL;
	gw->nworkers = 0;
	if (gw->wakeup.fd >= 0) {
		loop_remove(&gw->loop, &gw->wakeup);
		close(gw->wakeup.fd);
	}
	gw->wakeup.fd = -1;
}

/* SIGTERM on a worker: no new connections (the pool has nobody left to serve), its sessions
 * finish (drain-timeout), then its loop ends. */
static void gw_worker_drain(struct gateway *w, void *arg)
{
	(void)arg;
	w->draining = true;
	if (w->pool_on) {
		pool_destroy(&w->pool);
		w->pool_on = false;
	}
	if (w->listener.fd >= 0) {
		loop_timer_cancel(&w->loop, &w->accept_retry);
		loop_remove(&w->loop, &w->listener);
		close(w->listener.fd);
		w->listener.fd = -1;
	}
	if (w->sessions.len == 0)
		loop_stop(&w->loop);
	else
		loop_timer_arm(&w->loop, &w->drain_timer,
			       w->config.gateway.common.drain_timeout_ms);
}

void gw_workers_drain(struct gateway *gw)
{
	gw_workers_each(gw, gw_worker_drain, NULL);
}

static void gw_worker_reload(struct gateway *w, void *arg)
{
	(void)arg;
	w->config = w->main->config;
	w->policy = w->main->policy;
	if (w->pool_on) {
		struct pool_params limits = gw_pool_share(w);

		/* config_finish validated the bounds: the pool takes them */
		pool_set_limits(&w->pool, &limits);
		w->pool_link = -2; /* reconnect: the converter list may have changed */
		gw_pool_sync(w);
	}
}

void gw_workers_reload(struct gateway *gw)
{
	gw_workers_each(gw, gw_worker_reload, NULL);
}

struct gw_link_change {
	int link;
	bool usable;
};

static void gw_worker_link_changed(struct gateway *w, void *arg)
{
	const struct gw_link_change *ch = arg;

	w->links = w->main->links; /* the main thread waits meanwhile: a consistent copy */
	if (w->paths_on && ch->link >= 0)
		paths_link_changed(&w->paths, ch->link, ch->usable);
	gw_pool_sync(w);
}

void gw_workers_link_changed(struct gateway *gw, int link, bool usable)
{
	struct gw_link_change ch = { .link = link, .usable = usable };

	gw_workers_each(gw, gw_worker_link_changed, &ch);
}

struct gw_inbound_call {
	enum gw_inbound_op op;
	int ret;
};

static void gw_worker_inbound(struct gateway *w, void *arg)
{
	struct gw_inbound_call *c = arg;

	/* the main thread waits: its interception state (the LAN connects' source), read here */
	w->intercept_installed = w->main->intercept_installed;
	w->redirect_forced = w->main->redirect_forced;
	switch (c->op) {
	case GW_INBOUND_START:
		c->ret = gwi_start(w);
		break;
	case GW_INBOUND_STOP:
		gwi_stop(w);
		break;
	case GW_INBOUND_RELOAD:
		gwi_reload(w); /* after gw_workers_reload: worker 0 has the new configuration */
		break;
	}
}

int gw_workers_inbound(struct gateway *gw, enum gw_inbound_op op)
{
	struct gw_inbound_call c = { .op = op };

	if (gw->nworkers == 0 || !gw->workers || !gw->workers[0])
		return 0;
	gw_worker_call(gw->workers[0], gw_worker_inbound, &c);
	return c.ret;
}

struct gw_backup_call {
	int link;
	bool backup;
	unsigned changed;
};

static void gw_worker_backup(struct gateway *w, void *arg)
{
	struct gw_backup_call *c = arg;

	if (w->paths_on)
		c->changed += paths_set_link_backup(&w->paths, c->link, c->backup);
}

unsigned gw_overflow_backup(int link, bool backup, void *arg)
{
	struct gateway *gw = arg;
	struct gw_backup_call c = { .link = link, .backup = backup };

	gw_workers_each(gw, gw_worker_backup, &c);
	return c.changed;
}

void gw_stats_add(struct gw_stats *to, const struct gw_stats *from)
{
	to->sessions += from->sessions;
	to->bonded += from->bonded;
	to->direct += from->direct;
	to->blocked += from->blocked;
	to->pool_hits += from->pool_hits;
	to->pool_misses += from->pool_misses;
	to->fallbacks += from->fallbacks;
	to->converter_errors += from->converter_errors;
	to->upstream_failures += from->upstream_failures;
	to->mptcp_fallbacks += from->mptcp_fallbacks;
	to->converter_switches += from->converter_switches;
	to->establish_retries += from->establish_retries;
	to->refusal_retries += from->refusal_retries;
	to->host_limited += from->host_limited;
	/* a private total (the caller's, no other writer) */
	relay_meter_add(&to->meter, RELAY_A, relay_meter_read(&from->meter, RELAY_A));
	relay_meter_add(&to->meter, RELAY_B, relay_meter_read(&from->meter, RELAY_B));
	for (int i = 0; i < SESSION_END_COUNT; i++)
		to->ends[i] += from->ends[i];
	for (int i = 0; i < 256; i++)
		to->errors_received[i] += from->errors_received[i];
	for (size_t i = 0; i < from->rule_hits_len; i++) {
		size_t j = 0;

		while (j < to->rule_hits_len &&
		       strcmp(to->rule_hits[j].name, from->rule_hits[i].name))
			j++;
		if (j == to->rule_hits_len) {
			if (j == sizeof(to->rule_hits) / sizeof(to->rule_hits[0]))
				continue;
			to->rule_hits[j] = from->rule_hits[i];
			to->rule_hits_len++;
			continue;
		}
		to->rule_hits[j].hits += from->rule_hits[i].hits;
	}
	for (size_t i = 0; i <= from->setup.bounds_len; i++)
		atomic_fetch_add(&to->setup.buckets[i], atomic_load(&from->setup.buckets[i]));
	atomic_fetch_add(&to->setup.sum, atomic_load(&from->setup.sum));
}
