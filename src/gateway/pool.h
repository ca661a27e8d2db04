/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_POOL_H
#define MPCONV_POOL_H

#include "addr.h"
#include "list.h"
#include "loop.h"
#include "sock.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * A per-worker pool of pre-established upstream connections to one converter (the gateway's
 * default mode). A new LAN connection takes a connected MPTCP socket whose subflows are
 * already up and sends its Convert message as the first bytes: zero added round trips without
 * data in the SYN (which this kernel punishes, see docs/linux-mptcp.md 2a and 4).
 *
 * The pool keeps `target` connections connecting or ready, between min and max, adapting the
 * target to the take rate; it drops connections the converter closed, recycles ready ones
 * older than max_idle_ms (before the converter's convert-wait ends them), and backs off
 * exponentially while the converter is unreachable.
 */
struct pool;

struct pool_conn {
	struct loop_io io;
	struct pool *pool;
	struct list_node node; /* on pool->conns */
	uint64_t since_ms; /* connect start, then ready time */
	bool ready;
};

struct pool_params {
	struct addr_port converter;
	struct sock_connect_opts connect;
	unsigned min, max;    /* connections kept (connecting + ready) */
	uint64_t max_idle_ms; /* recycle ready connections older than this */
	uint64_t connect_timeout_ms;
	/* Called once per connection when it is connected (e.g. to add subflows); may be NULL. */
	void (*on_connected)(struct pool *pool, int fd, void *arg);
	void *arg;
};

struct pool_stats {
	unsigned long hits, misses, opened, failed, recycled, dropped;
	unsigned long refused; /* closed by the converter right after connecting */
};

struct pool {
	struct loop *loop;
	struct pool_params params;
	struct list conns; /* owned: connecting and ready, of struct pool_conn */
	unsigned connecting, ready, target;
	struct loop_timer tick;
	uint64_t backoff_ms, retry_at_ms;
	double take_rate; /* takes per second, exponentially weighted */
	uint64_t rate_since_ms;
	unsigned takes_in_window;
	int last_error; /* positive errno of the last failed connect, 0 after a success */
	struct pool_stats stats;
};

/* Starts filling to params->min. 0 or -errno. */
int pool_init(struct pool *pool, struct loop *loop, const struct pool_params *params);
/* New bounds and timeouts (a reload), from params' min, max, max_idle_ms, connect_timeout_ms
 * and connect.buffer_size; the target follows at the next tick. -EINVAL (nothing changed) for
 * bounds pool_init would refuse. */
int pool_set_limits(struct pool *pool, const struct pool_params *params);
/* Closes every pooled connection. */
void pool_destroy(struct pool *pool);
/* From now on connects to converter with connect (another converter, or another access link
 * for the initial subflow): the pooled connections are replaced at once. */
void pool_retarget(struct pool *pool, const struct addr_port *converter,
		   const struct sock_connect_opts *connect);
/*
 * Hands out the oldest ready connection (removed from the loop: the caller registers it) and
 * schedules a refill. Returns the fd, or -EAGAIN when none is ready (a miss).
 */
int pool_take(struct pool *pool);

#endif
