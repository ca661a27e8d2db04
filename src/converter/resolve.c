// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host names of SOCKS requests (ATYP 3), resolved off the workers' loops: one resolver thread
 * per process runs getaddrinfo (the system's resolver: /etc/hosts, DNS, nsswitch) for a queue
 * of lookups and hands each back to its worker (its list, its eventfd), which goes on with the
 * session or answers Host Unreachable. A small cache keeps answers for CV_RESOLVE_TTL_MS (and
 * failures for CV_RESOLVE_NEG_TTL_MS: getaddrinfo tells no TTL). Owns the thread, the queue
 * and the cache; a lookup belongs to the resolver until it reaches its worker.
 */
#include "converter.h"

#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t cv_resolve_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Under r->lock: the cached answer for name, copied into l; false when none is fresh. */
static bool cv_resolve_cached(struct cv_resolver *r, struct cv_lookup *l, uint64_t now)
{
	for (size_t i = 0; i < CV_RESOLVE_CACHE; i++) {
		const struct cv_resolve_entry *e = &r->cache[i];

		if (e->expires_ms > now && !strcmp(e->name, l->name)) {
			l->err = e->err;
			memcpy(l->addr.ip, e->ip, 16);
			return true;
		}
	}
	return false;
}

/* Under r->lock: keeps l's answer, in place of the oldest entry. */
static void cv_resolve_keep(struct cv_resolver *r, const struct cv_lookup *l, uint64_t now)
{
	struct cv_resolve_entry *e = &r->cache[r->cache_next];

	r->cache_next = (r->cache_next + 1) % CV_RESOLVE_CACHE;
	snprintf(e->name, sizeof(e->name), "%s", l->name);
	memcpy(e->ip, l->addr.ip, 16);
	e->err = l->err;
	e->expires_ms = now + (l->err ? CV_RESOLVE_NEG_TTL_MS : CV_RESOLVE_TTL_MS);
}

/* The first address the system's resolver prefers (RFC 6724 order), or err set. */
static void cv_resolve_one(struct cv_lookup *l)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int ret = getaddrinfo(l->name, NULL, &hints, &res);
	uint16_t port = l->addr.port;

	l->err = ret == 0 ? 0 : ret == EAI_NONAME || ret == EAI_NODATA ? ENOENT : EHOSTUNREACH;
	if (ret == 0 && !addr_from_sockaddr(res->ai_addr, res->ai_addrlen, &l->addr))
		l->err = EAFNOSUPPORT;
	if (res)
		freeaddrinfo(res);
	l->addr.port = port; /* the request's, not the resolver's 0 */
}

/* Hands l back to its worker. */
static void cv_resolve_deliver_to(struct cv_lookup *l)
{
	struct cv_worker *w = l->worker;
	uint64_t one = 1;

	pthread_mutex_lock(&w->inbox_lock);
	l->next = w->resolved;
	w->resolved = l;
	pthread_mutex_unlock(&w->inbox_lock);
	if (write(w->wakeup.fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the worker is awake already */
	}
}

static void *cv_resolver_thread(void *arg)
{
	struct cv_resolver *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct cv_lookup *l;

		while (!r->queue && !r->stopping)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stopping)
			break;
		l = r->queue;
		r->queue = l->next;
		pthread_mutex_unlock(&r->lock);
		cv_resolve_one(l);
		pthread_mutex_lock(&r->lock);
		cv_resolve_keep(r, l, cv_resolve_clock_ms());
		pthread_mutex_unlock(&r->lock);
		cv_resolve_deliver_to(l);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int cv_resolver_start(struct cv_resolver *r)
{
	sigset_t all, saved;
	int ret;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	/* Signals are the main thread's (its signalfd): the thread starts with all blocked, or a
	 * SIGTERM delivered to it would end the process without the drain. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	ret = pthread_create(&r->thread, NULL, cv_resolver_thread, r);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (ret) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		return -ret;
	}
	r->started = true;
	return 0;
}

void cv_resolver_stop(struct cv_resolver *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL); /* after the lookup in progress, if any */
	/* Those still queued go to their workers unanswered, so that the sessions' close can
	 * cancel them and the worker's end free them (the workers' loops have stopped). */
	while (r->queue) {
		struct cv_lookup *l = r->queue;

		r->queue = l->next;
		l->err = ESHUTDOWN;
		cv_resolve_deliver_to(l);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	r->started = false;
}

int cv_resolve(struct cv_session *s, const char *name, uint16_t port)
{
	struct cv_shared *shared = s->worker->shared;
	struct cv_resolver *r = &shared->resolver;
	struct cv_lookup *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->worker = s->worker;
	l->session = s;
	l->addr.port = port;
	snprintf(l->name, sizeof(l->name), "%s", name);
	s->lookup = l;
	if (!r->started) {
		/* no resolver (a harness that runs sessions alone): no name resolves */
		l->err = EHOSTUNREACH;
		l->fresh = true;
		cv_resolve_deliver_to(l);
		return 0;
	}
	pthread_mutex_lock(&r->lock);
	if (cv_resolve_cached(r, l, cv_resolve_clock_ms())) {
		pthread_mutex_unlock(&r->lock);
		atomic_fetch_add(&shared->stats.names[CV_NAME_CACHED], 1);
		cv_resolve_deliver_to(l); /* through the loop, like any answer */
		return 0;
	}
	l->fresh = true;
	l->next = r->queue;
	r->queue = l; /* order does not matter: each lookup is its own */
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void cv_resolve_cancel(struct cv_session *s)
{
	if (s->lookup)
		s->lookup->session = NULL; /* the worker frees it when it arrives */
	s->lookup = NULL;
}

void cv_resolve_drop(struct cv_worker *w)
{
	while (w->resolved) {
		struct cv_lookup *l = w->resolved;

		w->resolved = l->next;
		free(l);
	}
}
