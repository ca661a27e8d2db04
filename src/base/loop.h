/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_LOOP_H
#define MPCONV_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

/*
 * One epoll loop per worker thread, with millisecond timers in a min-heap.
 * Owners embed struct loop_io / struct loop_timer in their own objects and use container_of.
 */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct loop_io {
	int fd;
	/* May change while registered: a new owner takes over the fd without an epoll_ctl. */
	void (*on_event)(struct loop_io *io, uint32_t events);
};

struct loop_timer {
	uint64_t deadline_ms;
	size_t heap_index; /* LOOP_TIMER_IDLE when not armed */
	void (*on_expire)(struct loop_timer *timer);
};

#define LOOP_TIMER_IDLE SIZE_MAX
#define LOOP_MAX_EVENTS 64

struct loop {
	int epoll_fd;
	bool stopping;
	uint64_t now_ms;	  /* CLOCK_MONOTONIC, refreshed once per iteration */
	struct loop_timer **heap; /* owned; grows, never shrinks */
	size_t heap_len, heap_cap;
	struct epoll_event events[LOOP_MAX_EVENTS];
	int events_len, events_next; /* the batch being dispatched */
};

/* Returns 0 or -errno. */
int loop_init(struct loop *loop);
/* Frees the heap and closes the epoll fd; registered fds stay open (their owners close them). */
void loop_destroy(struct loop *loop);

/* Registers io->fd; events are EPOLLIN/EPOLLOUT/EPOLLRDHUP/EPOLLET as the owner wants. */
int loop_add(struct loop *loop, struct loop_io *io, uint32_t events);
int loop_modify(struct loop *loop, struct loop_io *io, uint32_t events);
/*
 * Unregisters io and drops its pending events from the batch being dispatched, so an owner may
 * free io right after this, even from inside a callback. Call before close(io->fd).
 */
void loop_remove(struct loop *loop, struct loop_io *io);
/*
 * Drops io's pending events from the batch without an epoll_ctl: for an fd closed right after,
 * whose close unregisters it (never for an fd that was dup()ed or is shared with another loop).
 */
void loop_forget(struct loop *loop, struct loop_io *io);

void loop_timer_init(struct loop_timer *timer, void (*on_expire)(struct loop_timer *timer));
/* Arms (or re-arms) timer to fire delay_ms from the loop's current time. 0 or -ENOMEM. */
int loop_timer_arm(struct loop *loop, struct loop_timer *timer, uint64_t delay_ms);
void loop_timer_cancel(struct loop *loop, struct loop_timer *timer);

static inline bool loop_timer_armed(const struct loop_timer *timer)
{
	return timer->heap_index != LOOP_TIMER_IDLE;
}

/* Current time, milliseconds since an arbitrary monotonic origin. */
uint64_t loop_clock_ms(void);

/* Dispatches events and timers until loop_stop(). Returns 0, or -errno if epoll_wait fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
