// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A converter worker thread: its event loop, its SO_REUSEPORT listeners (accept paused on
 * EMFILE), its sessions, the drain on SIGTERM, and its part of a status query (snapshots of its
 * own sessions, answered through its inbox). No lock on the relay path.
 */
#include "converter.h"

#include "log.h"
#include "sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define CV_ACCEPT_BACKOFF_MS 100

static void cv_pause_accepting(struct cv_worker *w)
{
	if (!loop_timer_armed(&w->accept_retry))
		loop_timer_arm(&w->loop, &w->accept_retry, CV_ACCEPT_BACKOFF_MS);
}

static void cv_accept_all(struct cv_worker *w, int lfd, enum cv_proto proto)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		if (loop_timer_armed(&w->accept_retry) || w->draining)
			return;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* Out of fds or memory: back off instead of spinning on the listener. */
			log_warn("worker %u: accept", w->index);
			cv_pause_accepting(w);
			return;
		}
		cv_open_session(w, fd, &ss, len, proto);
	}
}

static void cv_on_listener(struct loop_io *io, uint32_t events)
{
	struct cv_listener *l = container_of(io, struct cv_listener, io);

	cv_accept_all(l->worker, io->fd, l->proto);
}

static void cv_on_accept_retry(struct loop_timer *timer)
{
	struct cv_worker *w = container_of(timer, struct cv_worker, accept_retry);

	/* Edge-triggered listeners raise no new event for connections already queued. */
	for (size_t i = 0; i < w->listeners_len; i++)
		cv_accept_all(w, w->listeners[i].io.fd, w->listeners[i].proto);
}

static void cv_close_all(struct cv_worker *w, bool idle_only, const char *reason)
{
	struct list_node *n, *next;

	for (n = w->sessions.first; n; n = next) {
		struct cv_session *s = list_entry(n, struct cv_session, base.node);

		next = n->next;
		if (!idle_only || s->state == CV_WAIT_MESSAGE)
			cv_close(s, reason);
	}
}

static void cv_on_drain_timeout(struct loop_timer *timer)
{
	struct cv_worker *w = container_of(timer, struct cv_worker, drain_timer);

	cv_close_all(w, false, "shutdown: drain timeout");
	loop_stop(&w->loop);
}

/* SIGTERM: stop accepting, let converted sessions finish, close idle ones at once. */
static void cv_start_drain(struct cv_worker *w)
{
	struct cv_cfg *cfg = cv_cfg_get(w->shared);

	w->draining = true;
	for (size_t i = 0; i < w->listeners_len; i++) {
		loop_remove(&w->loop, &w->listeners[i].io);
		close(w->listeners[i].io.fd);
	}
	w->listeners_len = 0;
	loop_timer_cancel(&w->loop, &w->accept_retry);
	cv_close_all(w, true, "shutdown: no Convert message yet");
	if (w->sessions.len == 0)
		loop_stop(&w->loop);
	else
		loop_timer_arm(&w->loop, &w->drain_timer, cfg->config.converter.common.drain_timeout_ms);
	cv_cfg_put(cfg);
}

static uint64_t cv_weight(const struct cv_session *s)
{
	return s->base.relay.dir[RELAY_A].bytes + s->base.relay.dir[RELAY_B].bytes;
}

static void cv_snapshot(const struct cv_session *s, uint64_t now, struct status_session *row)
{
	int n = sock_subflows_info(s->base.relay.io[RELAY_A].fd, row->subflows, STATUS_MAX_SUBFLOWS);

	row->client = s->base.client;
	row->dest = s->base.dest;
	row->has_dest = s->has_dest;
	row->client_mptcp = s->client_mptcp;
	row->server_mptcp = s->server_mptcp;
	row->state = cv_state_name(s->state);
	memcpy(row->cpe, s->cpe, sizeof(row->cpe));
	row->age_ms = now - s->base.started_ms;
	row->bytes_up = s->base.relay.dir[RELAY_A].bytes;
	row->bytes_down = cv_bytes_down(s);
	row->subflows_total = n < 0 ? 0 : n;
	row->subflows_used = 0;
	row->client_rtt_us = row->upstream_rtt_us = 0;
	row->multipath_upstream = false;
	row->upstream = NULL;
	for (int i = 0; i < n && i < STATUS_MAX_SUBFLOWS; i++)
		if ((int)row->subflows[i].id > row->subflows_used)
			row->subflows_used = (int)row->subflows[i].id; /* numbered from 1, per conn */
	for (int i = 0; i < n && i < STATUS_MAX_SUBFLOWS; i++)
		if (row->subflows[i].rtt_us &&
		    (!row->client_rtt_us || row->subflows[i].rtt_us < row->client_rtt_us))
			row->client_rtt_us = row->subflows[i].rtt_us;
	if (s->base.relay.io[RELAY_B].fd >= 0)
		row->upstream_rtt_us = sock_rtt_us(s->base.relay.io[RELAY_B].fd);
	row->subflows_len = n < 0 ? 0 : n > STATUS_MAX_SUBFLOWS ? STATUS_MAX_SUBFLOWS : (size_t)n;
}

static void cv_count_link_subflows(const struct cv_query *q, struct cv_part *part,
				   const struct cv_session *s)
{
	struct sock_subflow sf[STATUS_MAX_SUBFLOWS];
	int n = sock_subflows_info(s->base.relay.io[RELAY_A].fd, sf, STATUS_MAX_SUBFLOWS);

	for (int i = 0; i < n && i < STATUS_MAX_SUBFLOWS; i++) {
		int k = status_link_of(q->links, q->links_len, &sf[i]);

		if (k >= 0)
			part->link_subflows[k]++;
	}
}

/* Fills part with this worker's sessions (the `limit` largest, or all), on its own thread. */
static void cv_answer(struct cv_worker *w, struct cv_part *part)
{
	struct cv_query *q = part->query;
	size_t cap = q->limit && q->limit < w->sessions.len ? q->limit : w->sessions.len, n = 0;
	struct cv_session **top = NULL;

	if (cap) {
		part->rows = calloc(cap, sizeof(*part->rows));
		top = calloc(cap, sizeof(*top));
	}
	if (cap && (!part->rows || !top))
		cap = 0; /* out of memory: answer with what fits, nothing */
	for (struct list_node *node = w->sessions.first; node; node = node->next) {
		struct cv_session *s = list_entry(node, struct cv_session, base.node);
		size_t i;

		if (q->kind == CV_QUERY_STATUS)
			cv_count_link_subflows(q, part, s);
		if (cap == 0 || (n == cap && cv_weight(s) <= cv_weight(top[cap - 1])))
			continue;
		/* Insertion into the sorted top: cap is small (status) or everything (sessions). */
		i = n < cap ? n++ : cap - 1;
		for (; i > 0 && cv_weight(top[i - 1]) < cv_weight(s); i--)
			top[i] = top[i - 1];
		top[i] = s;
	}
	for (size_t i = 0; i < n; i++)
		cv_snapshot(top[i], w->loop.now_ms, &part->rows[i]);
	part->rows_len = n;
	free(top);
}

static void cv_answer_inbox(struct cv_worker *w)
{
	struct cv_part *part, *next;

	pthread_mutex_lock(&w->inbox_lock);
	part = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	for (; part; part = next) {
		struct cv_query *q = part->query;

		next = part->next;
		cv_answer(w, part);
		/* The last worker to answer wakes the main thread; seq_cst orders the rows. */
		if (atomic_fetch_sub(&q->remaining, 1) == 1)
			eventfd_write(q->control->answers.fd, 1);
	}
}

/* The resolver's answers that arrived: each goes on to its session, if it still lives. */
static void cv_resolve_deliver(struct cv_worker *w)
{
	struct cv_lookup *l;

	pthread_mutex_lock(&w->inbox_lock);
	l = w->resolved;
	w->resolved = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	while (l) {
		struct cv_lookup *next = l->next;
		struct cv_session *s = l->session;

		if (s) {
			s->lookup = NULL;
			if (l->fresh)
				atomic_fetch_add(&w->shared->stats.names[l->err ? CV_NAME_FAILED
										: CV_NAME_RESOLVED],
						 1);
			cv_resolved(s, l->err, &l->addr, l->name);
		}
		free(l);
		l = next;
	}
}

static void cv_on_wakeup(struct loop_io *io, uint32_t events)
{
	struct cv_worker *w = container_of(io, struct cv_worker, wakeup);
	uint64_t value;

	while (read(io->fd, &value, sizeof(value)) > 0)
		;
	cv_answer_inbox(w);
	cv_resolve_deliver(w);
	if (atomic_load(&w->shared->draining) && !w->draining)
		cv_start_drain(w);
}

void cv_worker_destroy(struct cv_worker *w)
{
	cv_close_all(w, false, "shutdown");
	for (size_t i = 0; i < w->listeners_len; i++)
		close(w->listeners[i].io.fd);
	w->listeners_len = 0;
	if (w->wakeup.fd >= 0)
		close(w->wakeup.fd);
	w->wakeup.fd = -1;
	pipe_pool_destroy(&w->pipes);
	loop_destroy(&w->loop);
	cv_resolve_drop(w);
	pthread_mutex_destroy(&w->inbox_lock);
}

/* One more listener of this worker (SO_REUSEPORT: every worker has its own). */
static int cv_worker_listen(struct cv_worker *w, const struct config_converter *cc,
			    const struct addr_port *where, enum cv_proto proto)
{
	struct sock_listen_opts opts = {
		.mptcp = true,
		.reuseport = true,
		.tfo_queue = cc->tfo && proto == CV_PROTO_CONVERT ? 4096 : 0,
		.backlog = 4096,
		.buffer_size = cc->common.socket_buffer,
		.transparent = proto == CV_PROTO_TRANSPARENT,
	};
	struct cv_listener *l = &w->listeners[w->listeners_len];
	char text[ADDR_STRLEN];
	bool mptcp;
	int fd = sock_listen(where, &opts, &mptcp);

	if (fd < 0) {
		log_warnc(fd, "listen on %s", addr_format(where, true, text));
		return fd;
	}
	if (!mptcp && w->index == 0)
		log_warnx("listen on %s: MPTCP unavailable (net.mptcp.enabled?), plain TCP only",
			  addr_format(where, true, text));
	l->io.fd = fd;
	l->io.on_event = cv_on_listener;
	l->worker = w;
	l->proto = proto;
	w->listeners_len++;
	return loop_add(&w->loop, &l->io, EPOLLIN | EPOLLET);
}

int cv_worker_init(struct cv_worker *w, unsigned index, struct cv_shared *shared,
			  const struct config_converter *cc)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->shared = shared;
	w->wakeup.fd = -1;
	pthread_mutex_init(&w->inbox_lock, NULL);
	loop_timer_init(&w->accept_retry, cv_on_accept_retry);
	loop_timer_init(&w->drain_timer, cv_on_drain_timeout);
	ret = loop_init(&w->loop);
	if (ret < 0)
		return ret;
	ret = pipe_pool_init(&w->pipes, cc->common.pipe_size, 64);
	if (ret < 0)
		return ret;
	w->wakeup.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wakeup.fd == -1)
		return -errno;
	w->wakeup.on_event = cv_on_wakeup;
	ret = loop_add(&w->loop, &w->wakeup, EPOLLIN);
	if (ret < 0)
		return ret;

	for (size_t i = 0; i < cc->listen_len; i++) {
		ret = cv_worker_listen(w, cc, &cc->listen[i], CV_PROTO_CONVERT);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < cc->socks_listen_len; i++) {
		ret = cv_worker_listen(w, cc, &cc->socks_listen[i], CV_PROTO_SOCKS);
		if (ret < 0)
			return ret;
	}
	if (cc->transparent_lan_len) {
		/* On loopback: TPROXY finds them there, and a socket lookup by a packet's own
		 * address (nft `socket`) never does, so they cannot swallow routed traffic. */
		struct addr_port lo4 = { .ip = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 },
					 .port = (uint16_t)cc->transparent_port };
		struct addr_port lo6 = { .ip = { [15] = 1 }, .port = (uint16_t)cc->transparent_port };

		ret = cv_worker_listen(w, cc, &lo4, CV_PROTO_TRANSPARENT);
		if (ret < 0)
			return ret;
		if (cv_worker_listen(w, cc, &lo6, CV_PROTO_TRANSPARENT) < 0 && index == 0)
			log_warnx("on-path mode: no IPv6 listener: MPTCP over IPv6 is routed on");
	}
	return 0;
}

void *cv_worker_thread(void *arg)
{
	struct cv_worker *w = arg;
	int ret = loop_run(&w->loop);

	if (ret < 0) {
		log_warnc(ret, "worker %u: event loop failed", w->index);
	}
	return NULL;
}
