// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the event loop: timer order, cancel and re-arm anywhere in the heap (the heap
 * property is checked after every operation), io removal from inside callbacks (pending events
 * of a removed io must never be dispatched), stop and restart, destroy with armed timers.
 * Real epoll on pipes, short real delays; no root.
 */
#include "loop.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Deterministic pseudo-random numbers (a 64-bit LCG), so failures replay. */
static uint64_t rng_state;

static uint32_t rng_next(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* Every parent due no later than its children, and every timer knows its own slot. */
static void assert_heap_valid(const struct loop *loop)
{
	for (size_t i = 0; i < loop->heap_len; i++) {
		assert_int_equal(loop->heap[i]->heap_index, i);
		if (i > 0)
			assert_true(loop->heap[(i - 1) / 2]->deadline_ms <=
				    loop->heap[i]->deadline_ms);
	}
}

struct probe {
	struct loop_timer timer;
	struct loop *loop;
	int fired;
	uint64_t fired_at, deadline;
	size_t order; /* 1-based firing position */
};

static size_t fire_count, fire_target;

static void probe_expire(struct loop_timer *timer)
{
	struct probe *p = container_of(timer, struct probe, timer);

	p->fired++;
	p->fired_at = p->loop->now_ms;
	p->deadline = timer->deadline_ms;
	p->order = ++fire_count;
	if (fire_count == fire_target)
		loop_stop(p->loop);
}

/* A timer that ends loop_run() after a while, so that a broken test fails instead of hanging. */
struct guard {
	struct loop_timer timer;
	struct loop *loop;
	bool fired;
};

static void stop_loop(struct loop_timer *timer)
{
	struct guard *g = container_of(timer, struct guard, timer);

	g->fired = true;
	loop_stop(g->loop);
}

static void guard_arm(struct guard *g, struct loop *loop, uint64_t ms)
{
	g->loop = loop;
	g->fired = false;
	loop_timer_init(&g->timer, stop_loop);
	assert_int_equal(loop_timer_arm(loop, &g->timer, ms), 0);
}

static void timers_fire_in_deadline_order(void **state)
{
	enum { N = 64 };
	struct probe probes[N];
	struct loop loop;
	struct guard guard;

	rng_state = 1;
	assert_int_equal(loop_init(&loop), 0);
	fire_count = 0;
	fire_target = N;
	for (int i = 0; i < N; i++) {
		probes[i] = (struct probe){ .loop = &loop };
		loop_timer_init(&probes[i].timer, probe_expire);
		assert_int_equal(loop_timer_arm(&loop, &probes[i].timer, rng_next() % 25), 0);
		assert_heap_valid(&loop);
	}
	guard_arm(&guard, &loop, 2000);
	assert_int_equal(loop_run(&loop), 0);
	assert_false(guard.fired);

	for (int i = 0; i < N; i++) {
		assert_int_equal(probes[i].fired, 1);
		assert_true(probes[i].fired_at >= probes[i].deadline);
		assert_false(loop_timer_armed(&probes[i].timer));
		for (int j = 0; j < N; j++)
			if (probes[j].order < probes[i].order)
				assert_true(probes[j].deadline <= probes[i].deadline);
	}
	loop_timer_cancel(&loop, &guard.timer);
	loop_destroy(&loop);
}

static void cancelling_and_rearming_anywhere_keeps_the_heap_ordered(void **state)
{
	enum { N = 300 };
	struct probe *probes = calloc(N, sizeof(*probes));
	struct loop loop;

	assert_non_null(probes);
	rng_state = 42;
	assert_int_equal(loop_init(&loop), 0);
	for (int i = 0; i < N; i++) {
		loop_timer_init(&probes[i].timer, probe_expire);
		assert_int_equal(loop_timer_arm(&loop, &probes[i].timer, rng_next() % 100000), 0);
	}
	assert_heap_valid(&loop);
	/* Cancel a third of them in scattered order: root, leaves and inner nodes alike. */
	for (int k = 0; k < N / 3; k++) {
		struct probe *p = &probes[(k * 7) % N];

		loop_timer_cancel(&loop, &p->timer);
		assert_false(loop_timer_armed(&p->timer));
		assert_heap_valid(&loop);
		loop_timer_cancel(&loop, &p->timer); /* a second cancel is a no-op */
		assert_heap_valid(&loop);
	}
	assert_int_equal(loop.heap_len, N - N / 3);
	/* Re-arm armed and idle timers, earlier and later. */
	for (int k = 0; k < N; k += 5) {
		assert_int_equal(loop_timer_arm(&loop, &probes[k].timer, rng_next() % 100000), 0);
		assert_true(loop_timer_armed(&probes[k].timer));
		assert_heap_valid(&loop);
	}
	/* Drain in order through the root, as the loop does. */
	for (uint64_t last = 0; loop.heap_len > 0;) {
		struct loop_timer *root = loop.heap[0];

		assert_true(root->deadline_ms >= last);
		last = root->deadline_ms;
		loop_timer_cancel(&loop, root);
		assert_heap_valid(&loop);
	}
	loop_destroy(&loop);
	free(probes);
}

static void cancelled_timers_never_fire_and_the_rest_fire_once_in_order(void **state)
{
	enum { N = 100 };
	struct probe probes[N];
	struct loop loop;
	struct guard guard;
	size_t kept = 0;

	rng_state = 7;
	assert_int_equal(loop_init(&loop), 0);
	for (int i = 0; i < N; i++) {
		probes[i] = (struct probe){ .loop = &loop };
		loop_timer_init(&probes[i].timer, probe_expire);
		assert_int_equal(loop_timer_arm(&loop, &probes[i].timer, rng_next() % 30), 0);
	}
	for (int i = 0; i < N; i++) {
		if (i % 3 == 1)
			loop_timer_cancel(&loop, &probes[i].timer);
		else
			kept++;
	}
	assert_heap_valid(&loop);
	fire_count = 0;
	fire_target = kept;
	guard_arm(&guard, &loop, 2000);
	assert_int_equal(loop_run(&loop), 0);
	assert_false(guard.fired);
	for (int i = 0; i < N; i++) {
		assert_int_equal(probes[i].fired, i % 3 == 1 ? 0 : 1);
		for (int j = 0; j < N; j++)
			if (probes[i].fired && probes[j].fired && probes[j].order < probes[i].order)
				assert_true(probes[j].deadline <= probes[i].deadline);
	}
	loop_timer_cancel(&loop, &guard.timer);
	loop_destroy(&loop);
}

static void rearming_a_timer_moves_its_deadline_both_ways(void **state)
{
	struct probe early = { 0 }, late = { 0 };
	struct loop loop;
	struct guard guard;
	uint64_t armed_at;

	assert_int_equal(loop_init(&loop), 0);
	early.loop = late.loop = &loop;
	loop_timer_init(&early.timer, probe_expire);
	loop_timer_init(&late.timer, probe_expire);
	assert_int_equal(loop_timer_arm(&loop, &early.timer, 60000), 0);
	assert_int_equal(loop_timer_arm(&loop, &late.timer, 1), 0);
	armed_at = loop.now_ms;
	assert_int_equal(loop_timer_arm(&loop, &early.timer, 5), 0); /* earlier */
	assert_int_equal(loop_timer_arm(&loop, &late.timer, 40), 0); /* later */
	assert_int_equal(loop_timer_arm(&loop, &late.timer, 40), 0); /* same again: still one */
	assert_int_equal(loop.heap_len, 2);
	fire_count = 0;
	fire_target = 2;
	guard_arm(&guard, &loop, 2000);
	assert_int_equal(loop_run(&loop), 0);
	assert_false(guard.fired);
	assert_int_equal(early.fired, 1);
	assert_int_equal(late.fired, 1);
	assert_int_equal(early.order, 1);
	assert_true(late.fired_at >= armed_at + 40);
	loop_timer_cancel(&loop, &guard.timer);
	loop_destroy(&loop);
}

/* An io over the read end of a pipe; the test owns both ends. */
struct pipe_io {
	struct loop_io io;
	struct loop *loop;
	struct pipe_io *victim; /* removed, closed and freed by the first callback */
	int wfd;
	int *calls;
};

static void pipe_io_free(struct pipe_io *p)
{
	close(p->io.fd);
	close(p->wfd);
	free(p);
}

static void remove_victim_then_self(struct loop_io *io, uint32_t events)
{
	struct pipe_io *p = container_of(io, struct pipe_io, io);
	struct loop *loop = p->loop;

	(*p->calls)++;
	if (p->victim) {
		p->victim->victim = NULL;
		loop_remove(loop, &p->victim->io);
		pipe_io_free(p->victim);
	}
	loop_remove(loop, &p->io);
	pipe_io_free(p);
	loop_stop(loop);
}

static struct pipe_io *pipe_io_new(struct loop *loop, int *calls)
{
	struct pipe_io *p = calloc(1, sizeof(*p));
	int fds[2];

	assert_non_null(p);
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	p->io.fd = fds[0];
	p->io.on_event = remove_victim_then_self;
	p->wfd = fds[1];
	p->loop = loop;
	p->calls = calls;
	assert_int_equal(loop_add(loop, &p->io, EPOLLIN | EPOLLET), 0);
	assert_int_equal(write(p->wfd, "x", 1), 1);
	return p;
}

static void removing_an_io_inside_a_callback_drops_its_pending_events(void **state)
{
	struct loop loop;
	struct guard guard;
	int calls = 0;

	assert_int_equal(loop_init(&loop), 0);
	/* Both are ready before loop_run: one epoll_wait returns both in one batch. */
	struct pipe_io *first = pipe_io_new(&loop, &calls), *second = pipe_io_new(&loop, &calls);

	first->victim = second;
	second->victim = first;
	guard_arm(&guard, &loop, 2000);
	assert_int_equal(loop_run(&loop), 0);
	assert_false(guard.fired);
	/* Whichever ran first freed the other; ASan would catch a dispatch to freed memory. */
	assert_int_equal(calls, 1);
	loop_timer_cancel(&loop, &guard.timer);
	loop_destroy(&loop);
}

struct spinner {
	struct loop_timer timer;
	struct loop *loop;
	unsigned long runs;
};

static void spin_again(struct loop_timer *timer)
{
	struct spinner *s = container_of(timer, struct spinner, timer);

	s->runs++;
	loop_timer_arm(s->loop, timer, 0);
}

struct stopper {
	struct loop_io io;
	struct loop *loop;
	bool called;
};

static void stop_on_event(struct loop_io *io, uint32_t events)
{
	struct stopper *s = container_of(io, struct stopper, io);

	s->called = true;
	loop_stop(s->loop);
}

static void a_timer_rearming_itself_with_no_delay_does_not_starve_io(void **state)
{
	struct loop loop;
	struct spinner spinner = { 0 };
	struct stopper stopper = { 0 };
	int fds[2];

	assert_int_equal(loop_init(&loop), 0);
	spinner.loop = stopper.loop = &loop;
	loop_timer_init(&spinner.timer, spin_again);
	assert_int_equal(loop_timer_arm(&loop, &spinner.timer, 0), 0);
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	stopper.io = (struct loop_io){ .fd = fds[0], .on_event = stop_on_event };
	assert_int_equal(loop_add(&loop, &stopper.io, EPOLLIN | EPOLLET), 0);
	/* The first epoll_wait may come before the write; the io must still win soon after. */
	alarm(10); /* a starved loop would hang here: die loudly instead */
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(loop_run(&loop), 0);
	alarm(0);
	assert_true(stopper.called);
	assert_true(spinner.runs >= 1);
	loop_remove(&loop, &stopper.io);
	loop_timer_cancel(&loop, &spinner.timer);
	close(fds[0]);
	close(fds[1]);
	loop_destroy(&loop);
}

static void loop_run_may_be_called_again_after_loop_stop(void **state)
{
	struct loop loop;
	struct probe probe = { 0 };

	assert_int_equal(loop_init(&loop), 0);
	probe.loop = &loop;
	loop_timer_init(&probe.timer, probe_expire);
	for (int round = 1; round <= 3; round++) {
		fire_count = 0;
		fire_target = 1;
		assert_int_equal(loop_timer_arm(&loop, &probe.timer, 1), 0);
		assert_int_equal(loop_run(&loop), 0);
		assert_int_equal(probe.fired, round);
	}
	/* A stop requested before loop_run still ends it, at once. */
	loop_stop(&loop);
	assert_int_equal(loop_timer_arm(&loop, &probe.timer, 60000), 0);
	assert_int_equal(loop_run(&loop), 0);
	assert_int_equal(probe.fired, 3);
	loop_timer_cancel(&loop, &probe.timer);
	loop_destroy(&loop);
}

static void loop_destroy_leaves_armed_timers_idle(void **state)
{
	struct loop loop;
	struct probe probes[3] = { 0 };

	assert_int_equal(loop_init(&loop), 0);
	for (int i = 0; i < 3; i++) {
		loop_timer_init(&probes[i].timer, probe_expire);
		assert_int_equal(loop_timer_arm(&loop, &probes[i].timer, 1000 + (uint64_t)i), 0);
	}
	loop_destroy(&loop);
	for (int i = 0; i < 3; i++) {
		assert_false(loop_timer_armed(&probes[i].timer));
		loop_timer_cancel(&loop, &probes[i].timer); /* owners cleaning up late: harmless */
	}
	assert_int_equal(loop.heap_len, 0);
}

static void loop_remove_of_an_unregistered_io_is_harmless(void **state)
{
	struct loop loop;
	struct loop_io io = { .fd = -1 };

	assert_int_equal(loop_init(&loop), 0);
	loop_remove(&loop, &io);
	assert_int_equal(loop_add(&loop, &io, EPOLLIN), -EBADF);
	loop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_fire_in_deadline_order),
		cmocka_unit_test(cancelling_and_rearming_anywhere_keeps_the_heap_ordered),
		cmocka_unit_test(cancelled_timers_never_fire_and_the_rest_fire_once_in_order),
		cmocka_unit_test(rearming_a_timer_moves_its_deadline_both_ways),
		cmocka_unit_test(removing_an_io_inside_a_callback_drops_its_pending_events),
		cmocka_unit_test(a_timer_rearming_itself_with_no_delay_does_not_starve_io),
		cmocka_unit_test(loop_run_may_be_called_again_after_loop_stop),
		cmocka_unit_test(loop_destroy_leaves_armed_timers_idle),
		cmocka_unit_test(loop_remove_of_an_unregistered_io_is_harmless),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
