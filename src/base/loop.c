// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event loop: epoll plus a binary min-heap of millisecond timers, one per worker thread.
 * It owns the epoll fd and the timer heap, never the fds or objects registered with it.
 * Callbacks may free their owner: loop_remove() scrubs the current batch so no stale pointer
 * is dispatched. No locks: a loop is only touched by its own thread.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

uint64_t loop_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loop_init(struct loop *loop)
{
	*loop = (struct loop){ .epoll_fd = -1 };
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd == -1)
		return -errno;
	loop->now_ms = loop_clock_ms();
	return 0;
}

void loop_destroy(struct loop *loop)
{
	/* Timers still armed become idle, so their owners may cancel them after this. */
	for (size_t i = 0; i < loop->heap_len; i++)
		loop->heap[i]->heap_index = LOOP_TIMER_IDLE;
	if (loop->epoll_fd != -1)
		close(loop->epoll_fd);
	free(loop->heap);
	*loop = (struct loop){ .epoll_fd = -1 };
}

int loop_add(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, io->fd, &ev) == -1)
		return -errno;
	return 0;
}

int loop_modify(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		return -errno;
	return 0;
}

void loop_forget(struct loop *loop, struct loop_io *io)
{
	for (int i = loop->events_next; i < loop->events_len; i++)
		if (loop->events[i].data.ptr == io)
			loop->events[i].data.ptr = NULL;
}

void loop_remove(struct loop *loop, struct loop_io *io)
{
	/* Failure means the fd was never added or is already closed: nothing left to undo. */
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, io->fd, NULL);
	loop_forget(loop, io);
}

/* Heap helpers: parent of i is (i - 1) / 2; every timer knows its own index. */
static void heap_set(struct loop *loop, size_t i, struct loop_timer *timer)
{
	loop->heap[i] = timer;
	timer->heap_index = i;
}

static void heap_sift_up(struct loop *loop, size_t i)
{
	struct loop_timer *timer = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->deadline_ms <= timer->deadline_ms)
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, timer);
}

static void heap_sift_down(struct loop *loop, size_t i)
{
	struct loop_timer *timer = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->heap_len)
			break;
		if (child + 1 < loop->heap_len &&
		    loop->heap[child + 1]->deadline_ms < loop->heap[child]->deadline_ms)
			child++;
		if (timer->deadline_ms <= loop->heap[child]->deadline_ms)
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, timer);
}

void loop_timer_init(struct loop_timer *timer, void (*on_expire)(struct loop_timer *timer))
{
	timer->deadline_ms = 0;
	timer->heap_index = LOOP_TIMER_IDLE;
	timer->on_expire = on_expire;
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
	size_t i = timer->heap_index;

	if (i == LOOP_TIMER_IDLE)
		return;
	timer->heap_index = LOOP_TIMER_IDLE;
	loop->heap_len--;
	if (i == loop->heap_len)
		return;
	struct loop_timer *moved = loop->heap[loop->heap_len];

	heap_set(loop, i, moved);
	heap_sift_down(loop, i);
	if (moved->heap_index == i)
		heap_sift_up(loop, i);
}

int loop_timer_arm(struct loop *loop, struct loop_timer *timer, uint64_t delay_ms)
{
	loop_timer_cancel(loop, timer);
	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 256;
		struct loop_timer **heap = realloc(loop->heap, cap * sizeof(*heap));

		if (!heap)
			return -ENOMEM;
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	timer->deadline_ms = loop->now_ms + delay_ms;
	heap_set(loop, loop->heap_len++, timer);
	heap_sift_up(loop, timer->heap_index);
	return 0;
}

/*
 * Fires the timers that are due. At most as many as were armed on entry: a callback that re-arms
 * with delay 0 (deadline == now_ms) fires again on the next iteration, after epoll, instead of
 * looping here forever.
 */
static void loop_run_timers(struct loop *loop)
{
	for (size_t budget = loop->heap_len;
	     budget > 0 && loop->heap_len > 0 && loop->heap[0]->deadline_ms <= loop->now_ms;
	     budget--) {
		struct loop_timer *timer = loop->heap[0];

		loop_timer_cancel(loop, timer);
		timer->on_expire(timer);
	}
}

static int loop_next_timeout(const struct loop *loop)
{
	uint64_t wait;

	if (loop->stopping)
		return 0;
	if (loop->heap_len == 0)
		return -1;
	if (loop->heap[0]->deadline_ms <= loop->now_ms)
		return 0;
	wait = loop->heap[0]->deadline_ms - loop->now_ms;
	return wait > 60000 ? 60000 : (int)wait;
}

/* Runs until loop_stop(); the stop is consumed, so loop_run() may be called again. */
int loop_run(struct loop *loop)
{
	int ret = 0;

	loop->now_ms = loop_clock_ms();
	while (!loop->stopping) {
		int n = epoll_wait(loop->epoll_fd, loop->events, LOOP_MAX_EVENTS,
				   loop_next_timeout(loop));

		if (n == -1) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		loop->now_ms = loop_clock_ms();
		loop->events_len = n;
		for (loop->events_next = 0; loop->events_next < n;) {
			struct epoll_event *ev = &loop->events[loop->events_next++];
			struct loop_io *io = ev->data.ptr;

			if (io)
				io->on_event(io, ev->events);
		}
		loop->events_len = loop->events_next = 0;
		loop_run_timers(loop);
	}
	loop->stopping = false;
	return ret;
}

void loop_stop(struct loop *loop)
{
	loop->stopping = true;
}
