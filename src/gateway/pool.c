// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway's pool of pre-established upstream connections to a converter.
 * Owns the pooled sockets until pool_take() hands one over; never writes a byte on them (the
 * Convert message is the taker's) and never blocks: connects are non-blocking, one timer
 * drives refill, recycling, back-off and the adaptive target. A connection the converter
 * closes soon after accepting it was refused (a per-client idle limit, most often): that backs
 * the refill off like a failed connect, said once per back-off, never refilled in a loop.
 */
#include "pool.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define POOL_TICK_MS	    250
#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 5000
#define POOL_RATE_WINDOW_MS 1000
#define POOL_HEALTHY_MS	    1000 /* a ready connection alive this long was not refused */

static void pool_on_event(struct loop_io *io, uint32_t events);

static void pool_unlink(struct pool *pool, struct pool_conn *c)
{
	list_remove(&pool->conns, &c->node);
	if (c->ready)
		pool->ready--;
	else
		pool->connecting--;
}

/* Forgets a connection; closes its fd unless it was handed out (fd < 0). */
static void pool_drop(struct pool *pool, struct pool_conn *c)
{
	pool_unlink(pool, c);
	if (c->io.fd >= 0) {
		loop_remove(pool->loop, &c->io);
		close(c->io.fd);
	}
	free(c);
}

static void pool_failed(struct pool *pool, int err)
{
	pool->stats.failed++;
	pool->last_error = err;
	pool->backoff_ms = pool->backoff_ms ? pool->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
	if (pool->backoff_ms > POOL_BACKOFF_MAX_MS)
		pool->backoff_ms = POOL_BACKOFF_MAX_MS;
	pool->retry_at_ms = pool->loop->now_ms + pool->backoff_ms;
}

static void pool_open_one(struct pool *pool)
{
	struct pool_conn *c = calloc(1, sizeof(*c));
	int fd;

	if (!c) {
		pool_failed(pool, ENOMEM);
		return;
	}
	fd = sock_connect(&pool->params.converter, &pool->params.connect);
	if (fd < 0) {
		free(c);
		pool_failed(pool, -fd);
		return;
	}
	c->io.fd = fd;
	c->io.on_event = pool_on_event;
	c->pool = pool;
	c->since_ms = pool->loop->now_ms;
	if (loop_add(pool->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
		close(fd);
		free(c);
		pool_failed(pool, ENOMEM);
		return;
	}
	list_push(&pool->conns, &c->node);
	pool->connecting++;
	pool->stats.opened++;
}

static void pool_refill(struct pool *pool)
{
	if (pool->loop->now_ms < pool->retry_at_ms)
		return;
	while (pool->connecting + pool->ready < pool->target) {
		unsigned before = pool->connecting;

		pool_open_one(pool);
		if (pool->connecting == before)
			return; /* failed: back off */
	}
}

static void pool_on_event(struct loop_io *io, uint32_t events)
{
	struct pool_conn *c = container_of(io, struct pool_conn, io);
	struct pool *pool = c->pool;
	int err;

	if (c->ready) {
		/* A ready connection has nothing to say: any event means the converter closed it
		 * (convert-wait, restart) or the path broke. */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLIN)) {
			bool refused = pool->loop->now_ms - c->since_ms < POOL_HEALTHY_MS;

			pool->stats.dropped++;
			pool_drop(pool, c);
			if (refused) {
				pool->stats.refused++;
				if (!pool->backoff_ms)
					log_warnx("pool: the converter closed a pooled connection at "
						  "once (refused: its max-idle-per-client?); refilling "
						  "backs off (said once per back-off)");
				pool_failed(pool, ECONNREFUSED);
				return;
			}
			pool_refill(pool);
		}
		return;
	}
	err = sock_pending_error(io->fd);
	if (err < 0)
		err = -err;
	if (err || (events & (EPOLLHUP | EPOLLERR))) {
		pool_drop(pool, c);
		pool_failed(pool, err ? err : ECONNRESET);
		return;
	}
	if (!(events & EPOLLOUT))
		return;
	pool->connecting--;
	pool->ready++;
	c->ready = true;
	c->since_ms = pool->loop->now_ms;
	pool->last_error = 0; /* the back-off ends once a connection proves healthy (tick, take) */
	if (pool->params.on_connected)
		pool->params.on_connected(pool, io->fd, pool->params.arg);
}

/* Target = what the recent take rate consumes in the time a refill takes (a connect round
 * trip, bounded by one tick), twice over, within [min, max]. */
static void pool_adapt(struct pool *pool)
{
	uint64_t now = pool->loop->now_ms, window = now - pool->rate_since_ms;
	double want;

	if (window >= POOL_RATE_WINDOW_MS) {
		double rate = pool->takes_in_window * 1000.0 / (double)window;

		pool->take_rate = pool->take_rate * 0.5 + rate * 0.5;
		pool->takes_in_window = 0;
		pool->rate_since_ms = now;
	}
	want = pool->take_rate * 2.0 * POOL_TICK_MS / 1000.0 + 1.0;
	pool->target = want < pool->params.min	 ? pool->params.min
		       : want > pool->params.max ? pool->params.max
						 : (unsigned)want;
}

static void pool_on_tick(struct loop_timer *timer)
{
	struct pool *pool = container_of(timer, struct pool, tick);
	uint64_t now = pool->loop->now_ms;
	struct list_node *n, *next;

	for (n = pool->conns.first; n; n = next) {
		struct pool_conn *c = list_entry(n, struct pool_conn, node);

		next = n->next;
		if (c->ready && now - c->since_ms >= POOL_HEALTHY_MS)
			pool->backoff_ms = 0;
		if (c->ready && now - c->since_ms >= pool->params.max_idle_ms) {
			pool->stats.recycled++;
			pool_drop(pool, c);
		} else if (!c->ready && now - c->since_ms >= pool->params.connect_timeout_ms) {
			pool_drop(pool, c);
			pool_failed(pool, ETIMEDOUT);
		}
	}
	pool_adapt(pool);
	pool_refill(pool);
	loop_timer_arm(pool->loop, &pool->tick, POOL_TICK_MS);
}

static bool pool_limits_valid(const struct pool_params *params)
{
	return params->min <= params->max && params->max > 0 && params->max_idle_ms > 0;
}

int pool_init(struct pool *pool, struct loop *loop, const struct pool_params *params)
{
	*pool = (struct pool){ .loop = loop, .params = *params, .target = params->min };
	if (!pool_limits_valid(params))
		return -EINVAL;
	pool->rate_since_ms = loop->now_ms;
	loop_timer_init(&pool->tick, pool_on_tick);
	pool_refill(pool);
	return loop_timer_arm(loop, &pool->tick, POOL_TICK_MS);
}

int pool_set_limits(struct pool *pool, const struct pool_params *params)
{
	if (!pool_limits_valid(params))
		return -EINVAL;
	pool->params.min = params->min;
	pool->params.max = params->max;
	pool->params.max_idle_ms = params->max_idle_ms;
	pool->params.connect_timeout_ms = params->connect_timeout_ms;
	pool->params.connect.buffer_size = params->connect.buffer_size;
	return 0;
}

static void pool_drop_all(struct pool *pool)
{
	while (pool->conns.first)
		pool_drop(pool, list_entry(pool->conns.first, struct pool_conn, node));
}

void pool_destroy(struct pool *pool)
{
	if (!pool->loop)
		return;
	loop_timer_cancel(pool->loop, &pool->tick);
	pool_drop_all(pool);
}

void pool_retarget(struct pool *pool, const struct addr_port *converter,
		   const struct sock_connect_opts *connect)
{
	pool->params.converter = *converter;
	pool->params.connect = *connect;
	pool_drop_all(pool);
	pool->backoff_ms = 0;
	pool->retry_at_ms = 0;
	pool_refill(pool);
}

int pool_take(struct pool *pool)
{
	struct pool_conn *oldest = NULL;
	int fd;

	pool->takes_in_window++;
	for (struct list_node *n = pool->conns.first; n; n = n->next) {
		struct pool_conn *c = list_entry(n, struct pool_conn, node);

		if (c->ready && (!oldest || c->since_ms <= oldest->since_ms))
			oldest = c;
	}
	if (!oldest) {
		pool->stats.misses++;
		/* Demand outruns the pool: grow now rather than at the next tick. */
		if (pool->target < pool->params.max)
			pool->target++;
		pool_refill(pool);
		return -EAGAIN;
	}
	fd = oldest->io.fd;
	loop_remove(pool->loop, &oldest->io);
	oldest->io.fd = -1; /* handed out: pool_drop must not close it */
	pool_drop(pool, oldest);
	pool->stats.hits++;
	pool->backoff_ms = 0;
	pool_refill(pool);
	return fd;
}
