// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the upstream connection pool against a real listener on loopback standing in for
 * the converter (MPTCP when the kernel has it, else TCP). The loop runs in short slices; the
 * test accepts (and may close) the pool's connections between slices.
 */
#include "pool.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ACCEPTED 256

struct world {
	struct loop loop;
	struct pool pool;
	struct loop_timer slice;
	int listener;
	struct addr_port converter;
	int accepted[MAX_ACCEPTED];
	size_t accepted_len;
	unsigned connected_calls;
};

static void slice_over(struct loop_timer *timer)
{
	struct world *w = container_of(timer, struct world, slice);

	loop_stop(&w->loop);
}

/* Runs the loop for about ms milliseconds, accepting whatever the pool opened meanwhile. */
static void run_ms(struct world *w, uint64_t ms)
{
	uint64_t end = loop_clock_ms() + ms;

	while (loop_clock_ms() < end) {
		int fd;

		loop_timer_arm(&w->loop, &w->slice, 5);
		assert_int_equal(loop_run(&w->loop), 0);
		while (w->listener >= 0 && w->accepted_len < MAX_ACCEPTED &&
		       (fd = accept4(w->listener, NULL, NULL, SOCK_NONBLOCK)) >= 0)
			w->accepted[w->accepted_len++] = fd;
	}
}

static void on_connected(struct pool *pool, int fd, void *arg)
{
	struct world *w = arg;

	assert_true(fd >= 0);
	w->connected_calls++;
}

static int open_listener(struct addr_port *where)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP);

	if (fd < 0)
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 128), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_true(addr_from_sockaddr((struct sockaddr *)&sin, len, where));
	return fd;
}

static struct world *world_new(unsigned min, unsigned max, uint64_t max_idle_ms, bool listening)
{
	struct world *w = calloc(1, sizeof(*w));
	struct pool_params params = {
		.connect = { .mptcp = true, .nodelay = true },
		.min = min,
		.max = max,
		.max_idle_ms = max_idle_ms,
		.connect_timeout_ms = 2000,
	};

	assert_non_null(w);
	assert_int_equal(loop_init(&w->loop), 0);
	loop_timer_init(&w->slice, slice_over);
	w->listener = open_listener(&w->converter);
	if (!listening) {
		close(w->listener); /* the port stays known, nothing answers: refused */
		w->listener = -1;
	}
	params.converter = w->converter;
	params.on_connected = on_connected;
	params.arg = w;
	assert_int_equal(pool_init(&w->pool, &w->loop, &params), 0);
	return w;
}

static void world_free(struct world *w)
{
	pool_destroy(&w->pool);
	for (size_t i = 0; i < w->accepted_len; i++)
		close(w->accepted[i]);
	if (w->listener >= 0)
		close(w->listener);
	loop_timer_cancel(&w->loop, &w->slice);
	loop_destroy(&w->loop);
	free(w);
}

static void pool_fills_to_its_minimum(void **state)
{
	struct world *w = world_new(3, 8, 60000, true);

	run_ms(w, 100);
	assert_int_equal(w->pool.ready, 3);
	assert_int_equal(w->pool.connecting, 0);
	assert_int_equal(w->accepted_len, 3);
	assert_int_equal(w->connected_calls, 3);
	world_free(w);
}

static void take_hands_out_a_connected_socket_and_refills(void **state)
{
	struct world *w = world_new(2, 8, 60000, true);
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd;

	run_ms(w, 100);
	fd = pool_take(&w->pool);
	assert_true(fd >= 0);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
	assert_int_equal(w->pool.stats.hits, 1);
	run_ms(w, 100);
	assert_int_equal(w->pool.ready, 2);
	assert_int_equal(w->accepted_len, 3);
	/* The taken socket is the caller's: the pool no longer touches it. */
	assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), 1);
	close(fd);
	world_free(w);
}

static void unreachable_converter_is_a_miss_with_back_off(void **state)
{
	struct world *w = world_new(2, 4, 60000, false);

	run_ms(w, 300);
	assert_int_equal(pool_take(&w->pool), -EAGAIN);
	assert_int_equal(w->pool.stats.misses, 1);
	assert_true(w->pool.stats.failed >= 1);
	assert_int_equal(w->pool.last_error, ECONNREFUSED);
	assert_true(w->pool.backoff_ms >= 100);
	/* Back-off bounds the retries: no more than one attempt per back-off period. */
	assert_true(w->pool.stats.opened <= 6);
	world_free(w);
}

static void connection_closed_by_the_converter_is_dropped_and_replaced(void **state)
{
	struct world *w = world_new(2, 4, 60000, true);

	run_ms(w, 1100); /* healthy for a while: a later close is no refusal */
	assert_int_equal(w->accepted_len, 2);
	close(w->accepted[0]);
	w->accepted[0] = w->accepted[--w->accepted_len];
	run_ms(w, 100);
	assert_int_equal(w->pool.stats.dropped, 1);
	assert_int_equal(w->pool.ready, 2);
	assert_int_equal(w->pool.stats.opened, 3);
	world_free(w);
}

/* Issue 13: a converter refusing pooled connections (closing them at once, e.g. its
 * max-idle-per-client reached) was answered with a refill at once, ~55 connections a second. */
static void connections_refused_at_once_back_the_refill_off(void **state)
{
	struct world *w = world_new(2, 4, 60000, true);

	for (int i = 0; i < 20; i++) { /* one second of a converter closing everything */
		run_ms(w, 50);
		while (w->accepted_len)
			close(w->accepted[--w->accepted_len]);
	}
	assert_true(w->pool.stats.refused >= 2);
	assert_true(w->pool.backoff_ms >= 200);
	assert_true(w->pool.stats.opened <= 10); /* a refill per back-off, not per close */
	world_free(w);
}

static void old_idle_connections_are_recycled(void **state)
{
	struct world *w = world_new(2, 4, 100, true);

	run_ms(w, 700);
	assert_true(w->pool.stats.recycled >= 2);
	assert_int_equal(w->pool.ready + w->pool.connecting, 2);
	world_free(w);
}

static void heavy_taking_grows_the_pool_up_to_max(void **state)
{
	struct world *w = world_new(1, 6, 60000, true);

	run_ms(w, 50);
	for (int round = 0; round < 30; round++) {
		int fd = pool_take(&w->pool);

		if (fd >= 0)
			close(fd);
		run_ms(w, 40);
	}
	assert_true(w->pool.target > 1);
	assert_true(w->pool.target <= 6);
	assert_true(w->pool.ready + w->pool.connecting <= 6);
	world_free(w);
}

static void destroy_closes_every_pooled_connection(void **state)
{
	struct world *w = world_new(3, 4, 60000, true);
	char byte;

	run_ms(w, 100);
	assert_int_equal(w->accepted_len, 3);
	pool_destroy(&w->pool);
	for (size_t i = 0; i < w->accepted_len; i++) {
		/* EOF (0) once the pool closed its end; the accepted sockets are non-blocking. */
		for (int tries = 0; tries < 100; tries++) {
			ssize_t n = recv(w->accepted[i], &byte, 1, 0);

			if (n == 0)
				break;
			assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
			usleep(10000);
		}
	}
	assert_int_equal(w->pool.ready + w->pool.connecting, 0);
	world_free(w);
}

static void invalid_parameters_are_refused(void **state)
{
	struct loop loop;
	struct pool pool;
	struct pool_params params = { .min = 5, .max = 2, .max_idle_ms = 1000 };

	assert_int_equal(loop_init(&loop), 0);
	assert_int_equal(pool_init(&pool, &loop, &params), -EINVAL);
	params = (struct pool_params){ .min = 0, .max = 0, .max_idle_ms = 1000 };
	assert_int_equal(pool_init(&pool, &loop, &params), -EINVAL);
	loop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pool_fills_to_its_minimum),
		cmocka_unit_test(take_hands_out_a_connected_socket_and_refills),
		cmocka_unit_test(unreachable_converter_is_a_miss_with_back_off),
		cmocka_unit_test(connection_closed_by_the_converter_is_dropped_and_replaced),
		cmocka_unit_test(connections_refused_at_once_back_the_refill_off),
		cmocka_unit_test(old_idle_connections_are_recycled),
		cmocka_unit_test(heavy_taking_grows_the_pool_up_to_max),
		cmocka_unit_test(destroy_closes_every_pooled_connection),
		cmocka_unit_test(invalid_parameters_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
