/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_PIPE_H
#define MPCONV_PIPE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A per-worker pool of non-blocking pipes for splice relaying, so steady-state sessions do not
 * create and destroy pipes. Bounded: at most max_idle pipes are kept.
 */
struct pipe_pool {
	int (*idle)[2]; /* owned array of max_idle entries */
	size_t idle_len, max_idle;
	size_t pipe_size; /* bytes requested with F_SETPIPE_SZ (0 = kernel default) */
	unsigned long created, reused;
};

/* 0 or -errno. */
int pipe_pool_init(struct pipe_pool *pool, size_t pipe_size, size_t max_idle);
/* Closes every idle pipe. */
void pipe_pool_destroy(struct pipe_pool *pool);
/* Hands out a pipe (fds[0] read end, fds[1] write end), both O_NONBLOCK|O_CLOEXEC. 0 or -errno. */
int pipe_pool_get(struct pipe_pool *pool, int fds[2]);
/* Takes a pipe back. A pipe that may still hold data (empty == false) is closed, never reused. */
void pipe_pool_put(struct pipe_pool *pool, int fds[2], bool empty);

#endif
