// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pipe pool: non-blocking pipes for splice relaying, kept per worker so steady-state sessions
 * neither create nor destroy pipes. It owns the idle pipes (and their array) only; a pipe handed
 * out belongs to the caller until pipe_pool_put(). It must never keep more than max_idle pipes,
 * never hand out a pipe that may hold someone else's bytes, and never log. No locks: one pool per
 * worker thread.
 */
#include "pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* 0 or -errno; on error the pool is left empty and pipe_pool_destroy() is still safe. */
int pipe_pool_init(struct pipe_pool *pool, size_t pipe_size, size_t max_idle)
{
	*pool = (struct pipe_pool){ .pipe_size = pipe_size, .max_idle = max_idle };
	if (max_idle == 0)
		return 0;
	pool->idle = calloc(max_idle, sizeof(*pool->idle));
	if (!pool->idle) {
		pool->max_idle = 0;
		return -ENOMEM;
	}
	return 0;
}

/* Closes every idle pipe and frees the array; the pool may be initialised again afterwards. */
void pipe_pool_destroy(struct pipe_pool *pool)
{
	for (size_t i = 0; i < pool->idle_len; i++) {
		close(pool->idle[i][0]);
		close(pool->idle[i][1]);
	}
	free(pool->idle);
	*pool = (struct pipe_pool){ 0 };
}

/*
 * An idle pipe if there is one, else a new one sized to pool->pipe_size. A refused resize (EPERM
 * past /proc/sys/fs/pipe-max-size or the per-user pipe quota, ENOMEM) keeps the kernel default:
 * a smaller pipe only means smaller splices. On error fds[] are -1.
 */
int pipe_pool_get(struct pipe_pool *pool, int fds[2])
{
	int ret;

	if (pool->idle_len > 0) {
		pool->idle_len--;
		fds[0] = pool->idle[pool->idle_len][0];
		fds[1] = pool->idle[pool->idle_len][1];
		pool->reused++;
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		ret = -errno;
		goto cleanup;
	}
	if (pool->pipe_size > 0 && fcntl(fds[1], F_SETPIPE_SZ, (int)pool->pipe_size) == -1 &&
	    errno != EPERM && errno != ENOMEM) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		goto cleanup;
	}
	pool->created++;
	return 0;
cleanup:
	fds[0] = fds[1] = -1;
	return ret;
}

/* Keeps an empty pipe while there is room, closes it otherwise; fds[] become -1. */
void pipe_pool_put(struct pipe_pool *pool, int fds[2], bool empty)
{
	if (fds[0] == -1)
		return;
	if (empty && pool->idle_len < pool->max_idle) {
		pool->idle[pool->idle_len][0] = fds[0];
		pool->idle[pool->idle_len][1] = fds[1];
		pool->idle_len++;
	} else {
		close(fds[0]);
		close(fds[1]);
	}
	fds[0] = fds[1] = -1;
}
