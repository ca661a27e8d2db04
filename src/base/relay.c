// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The relay engine: moves bytes both ways between two connected stream sockets until both
 * directions have ended or one side fails, then tells its owner once (on_end). From
 * relay_prepare() on it owns both fds; once started it also owns the pipes it took from the pool,
 * its copy buffers and its idle timer. It must never look at or log the bytes it moves, never
 * allocate on the splice path, never hold more than one pipe (or copy buffer) plus the caller's
 * prefix per direction, and never touch the relay after calling on_end (the owner may free it).
 */
#include "relay.h"

#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_COPY_BUFFER_DEFAULT (64 * 1024)
#define RELAY_PIPE_SIZE_DEFAULT	  (64 * 1024) /* the kernel's default pipe: 16 pages */
/* Bytes delivered in one wake-up before the relay lets the other sessions of its loop run. */
#define RELAY_PUMP_BUDGET (4u << 20)
#define SPLICE_FLAGS	  (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
/*
 * Copy first, splice once a stream flows (what haproxy's splice-auto does): a direction reads
 * into this per-thread buffer and sends at once; only a read that fills it switches the
 * direction to splice, until the source is drained again. Short exchanges then cost one recv and
 * one send per burst, take no pipe and allocate nothing: splicing *from* MPTCP goes through the
 * kernel's generic copy_splice_read, which allocates a page per 4 KiB of the length asked for and
 * frees what it did not fill, so a 1 KiB request spliced with a 1 MiB length allocated and freed
 * 256 pages (half of the relays' CPU per connection in perf: free_unref_folios, alloc_pages_bulk).
 */
#define RELAY_SCRATCH_SIZE (64 * 1024)
#define RELAY_PAGE	   4096

static _Thread_local uint8_t relay_scratch[RELAY_SCRATCH_SIZE];

/* What one step of work did: nothing, something, or the relay must end (reason recorded). */
enum relay_step { STEP_IDLE = 0, STEP_PROGRESS = 1, STEP_END = -1 };

static bool errno_is_again(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

/* splice() refuses this pair of files: the direction goes on with read/write. */
static bool errno_is_unsupported(int err)
{
	return err == EINVAL || err == ENOSYS;
}

static enum relay_side other_side(enum relay_side side)
{
	return side == RELAY_A ? RELAY_B : RELAY_A;
}

/*
 * SO_LINGER {1, 0} (on) or off. While a stream is relayed its sockets have it on, so that if
 * this process dies (kill -9, a crash) the kernel resets both ends instead of closing them with
 * a FIN: a download cut short must look failed, never complete. Cleared before a graceful end.
 * Failure only costs that guarantee; the relay works on.
 */
static void relay_set_linger(int fd, bool reset)
{
	struct linger lin = { .l_onoff = reset ? 1 : 0, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
}

/* Records why the relay ends (the first reason wins) and returns STEP_END. */
static int relay_set_end(struct relay *relay, enum relay_end end, int err)
{
	if (relay->end == RELAY_END_NONE) {
		relay->end = end;
		relay->end_errno = err;
	}
	return STEP_END;
}

/* A syscall on side's socket failed with err: that side reset or failed, unless memory ran out. */
static int relay_side_failed(struct relay *relay, enum relay_side side, int err)
{
	if (err == ENOMEM || err == ENOBUFS)
		return relay_set_end(relay, RELAY_END_ERROR, err);
	return relay_set_end(relay, side == RELAY_A ? RELAY_END_RESET_BY_A : RELAY_END_RESET_BY_B,
			     err);
}

/* Stops all work and calls on_end once. The relay may be freed when this returns. */
static void relay_finish(struct relay *relay)
{
	relay->ending = true;
	loop_timer_cancel(relay->loop, &relay->idle_timer);
	relay->on_end(relay);
}

/*
 * Sends bytes [*data, *data + *len) toward `to` until done or the socket is full, advancing
 * *data and *len and counting into dir->bytes. STEP_* as above. Shared by the caller's prefix
 * and the copy path's buffer.
 */
void relay_meter_add(struct relay_meter *m, enum relay_side from, uint64_t n)
{
	uint64_t v = atomic_load_explicit(&m->bytes[from], memory_order_relaxed);

	atomic_store_explicit(&m->bytes[from], v + n, memory_order_relaxed);
}

uint64_t relay_meter_read(const struct relay_meter *m, enum relay_side from)
{
	return atomic_load_explicit(&m->bytes[from], memory_order_relaxed);
}

/* n more bytes of dir delivered: its own count, and the live meter unless they are the
 * caller's prefix (the caller's own bytes, not relayed ones). */
static void relay_count(struct relay *relay, struct relay_dir *dir, uint64_t n, bool metered)
{
	dir->bytes += n;
	if (metered && relay->params.meter)
		relay_meter_add(relay->params.meter, (enum relay_side)(dir - relay->dir), n);
}

static int relay_send_bytes(struct relay *relay, struct relay_dir *dir, enum relay_side to,
			    const uint8_t **data, size_t *len, bool metered)
{
	int step = STEP_IDLE;

	while (*len > 0 && relay->writable[to]) {
		ssize_t n = send(relay->io[to].fd, *data, *len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (!errno_is_again(errno))
				return relay_side_failed(relay, to, errno);
			relay->writable[to] = false;
			break;
		}
		*data += n;
		*len -= (size_t)n;
		relay_count(relay, dir, (uint64_t)n, metered);
		step = STEP_PROGRESS;
	}
	return step;
}

/* Sends the caller's prefix toward `to`. STEP_* as above. */
static int relay_flush_prefix(struct relay *relay, struct relay_dir *dir, enum relay_side to)
{
	return relay_send_bytes(relay, dir, to, &dir->prefix, &dir->prefix_len, false);
}

/* Splices the pipe out to `to` until it is empty or `to` is full. A refusal switches to copy. */
static int relay_drain_pipe(struct relay *relay, struct relay_dir *dir, enum relay_side to)
{
	int step = STEP_IDLE;

	while (dir->in_pipe > 0 && relay->writable[to]) {
		ssize_t n = splice(dir->pipe[0], NULL, relay->io[to].fd, NULL, dir->in_pipe,
				   SPLICE_FLAGS);

		if (n > 0) {
			dir->in_pipe -= (size_t)n;
			relay_count(relay, dir, (uint64_t)n, true);
			step = STEP_PROGRESS;
			continue;
		}
		if (n == 0) /* not expected with bytes in the pipe; never spin on it */
			break;
		if (errno == EINTR)
			continue;
		if (errno_is_again(errno)) {
			relay->writable[to] = false;
			break;
		}
		if (errno_is_unsupported(errno)) {
			dir->copy_mode = true; /* the copy path empties the pipe first */
			return STEP_PROGRESS;
		}
		return relay_side_failed(relay, to, errno);
	}
	return step;
}

/*
 * How much to ask one splice from `from` for, at most `room`. An MPTCP source is asked for what
 * it holds (SIOCINQ): copy_splice_read allocates pages for the whole length before it reads (see
 * RELAY_SCRATCH_SIZE). Nothing queued means EOF or an error is what woke us: one page finds out.
 */
static size_t relay_splice_length(struct relay *relay, enum relay_side from, size_t room)
{
	int inq = 0;

	if (relay->source_mptcp[from] < 0) {
		int proto = sock_protocol(relay->io[from].fd);

		relay->source_mptcp[from] = proto == IPPROTO_MPTCP ? 1 : 0;
	}
	if (!relay->source_mptcp[from] || ioctl(relay->io[from].fd, SIOCINQ, &inq) == -1)
		return room;
	if (inq <= 0)
		return room < RELAY_PAGE ? room : RELAY_PAGE;
	return (size_t)inq < room ? (size_t)inq : room;
}

/*
 * The copy-first step of a direction that is not splicing: one recv() into the thread's scratch
 * buffer, sent on at once; what `to` does not take goes into the direction's pipe (empty here,
 * and at least as large as the read), which the splice path then delivers. A full read switches
 * the direction to splice. Reads nothing while `to` is full: that is the backpressure.
 */
static int relay_fill_scratch(struct relay *relay, struct relay_dir *dir, enum relay_side from)
{
	enum relay_side to = other_side(from);
	size_t cap = relay->pipes->pipe_size ? relay->pipes->pipe_size : RELAY_PIPE_SIZE_DEFAULT;
	size_t want = cap < RELAY_SCRATCH_SIZE ? cap : RELAY_SCRATCH_SIZE;
	const uint8_t *data = relay_scratch;
	size_t len;
	ssize_t n;
	int ret;

	if (dir->eof || !relay->readable[from] || !relay->writable[to])
		return STEP_IDLE;
	do
		n = recv(relay->io[from].fd, relay_scratch, want, MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == 0) {
		dir->eof = true;
		return STEP_PROGRESS;
	}
	if (n == -1) {
		if (!errno_is_again(errno))
			return relay_side_failed(relay, from, errno);
		relay->readable[from] = false;
		return STEP_IDLE;
	}
	len = (size_t)n;
	if ((size_t)n == want)
		dir->splicing = true;
	ret = relay_send_bytes(relay, dir, to, &data, &len, true);
	if (ret < 0 || len == 0)
		return ret < 0 ? ret : STEP_PROGRESS;
	if (dir->pipe[0] == -1) {
		ret = pipe_pool_get(relay->pipes, dir->pipe);
		if (ret < 0)
			return relay_set_end(relay, RELAY_END_ERROR, -ret);
	}
	while (len > 0) {
		n = write(dir->pipe[1], data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) /* an empty pipe of at least `want` bytes refused them */
			return relay_set_end(relay, RELAY_END_ERROR, n == 0 ? EIO : errno);
		data += n;
		len -= (size_t)n;
		dir->in_pipe += (size_t)n;
	}
	dir->splicing = true; /* the rest leaves through the pipe */
	return STEP_PROGRESS;
}

/*
 * One splice from `from` into the pipe, at most what the pipe may still take. EAGAIN with bytes
 * in the pipe may only mean the pipe is full (a pipe holds fewer bytes than its size when pages
 * are partly used), so only EAGAIN with an empty pipe says the source is drained.
 */
static int relay_fill_pipe(struct relay *relay, struct relay_dir *dir, enum relay_side from)
{
	size_t cap = relay->pipes->pipe_size ? relay->pipes->pipe_size : RELAY_PIPE_SIZE_DEFAULT;
	int ret;

	if (dir->eof || !relay->readable[from] || dir->in_pipe >= cap)
		return STEP_IDLE;
	if (dir->pipe[0] == -1) {
		ret = pipe_pool_get(relay->pipes, dir->pipe);
		if (ret < 0)
			return relay_set_end(relay, RELAY_END_ERROR, -ret);
	}
	for (;;) {
		ssize_t n = splice(relay->io[from].fd, NULL, dir->pipe[1], NULL,
				   relay_splice_length(relay, from, cap - dir->in_pipe), SPLICE_FLAGS);

		if (n > 0) {
			dir->in_pipe += (size_t)n;
			return STEP_PROGRESS;
		}
		if (n == 0) {
			dir->eof = true;
			return STEP_PROGRESS;
		}
		if (errno == EINTR)
			continue;
		if (errno_is_again(errno)) {
			if (dir->in_pipe == 0) {
				relay->readable[from] = false;
				dir->splicing = false; /* the next burst starts with a copy */
				/* Drained and delivered: the pipe goes back to the pool, so an idle
				 * session holds no pipe (two fds and its buffers) while it waits. */
				pipe_pool_put(relay->pipes, dir->pipe, true);
				dir->pipe[0] = dir->pipe[1] = -1;
			}
			return STEP_IDLE;
		}
		if (errno_is_unsupported(errno)) {
			dir->copy_mode = true;
			return STEP_PROGRESS;
		}
		return relay_side_failed(relay, from, errno);
	}
}

/* Sends the copy buffer to `to` until it is empty or `to` is full. */
static int relay_drain_buffer(struct relay *relay, struct relay_dir *dir, enum relay_side to)
{
	const uint8_t *data = dir->buf + dir->buf_off;
	int step = relay_send_bytes(relay, dir, to, &data, &dir->buf_len, true);

	dir->buf_off = dir->buf_len ? (size_t)(data - dir->buf) : 0;
	return step;
}

/*
 * Refills an empty copy buffer: first from the pipe (bytes spliced before splice was refused
 * must go out first), then with one recv() from `from`.
 */
static int relay_fill_buffer(struct relay *relay, struct relay_dir *dir, enum relay_side from)
{
	size_t size = relay->params.copy_buffer_size;
	ssize_t n;

	if (dir->buf_len > 0)
		return STEP_IDLE;
	if (dir->in_pipe == 0 && (dir->eof || !relay->readable[from]))
		return STEP_IDLE;
	if (!dir->buf) {
		dir->buf = malloc(size); /* once per direction and session, never per packet */
		if (!dir->buf)
			return relay_set_end(relay, RELAY_END_ERROR, ENOMEM);
	}
	dir->buf_off = 0;
	if (dir->in_pipe > 0) {
		do
			n = read(dir->pipe[0], dir->buf, dir->in_pipe < size ? dir->in_pipe : size);
		while (n == -1 && errno == EINTR);
		if (n <= 0) /* our own pipe lost bytes it held */
			return relay_set_end(relay, RELAY_END_ERROR, n == 0 ? EIO : errno);
		dir->in_pipe -= (size_t)n;
		dir->buf_len = (size_t)n;
		return STEP_PROGRESS;
	}
	for (;;) {
		n = recv(relay->io[from].fd, dir->buf, size, MSG_DONTWAIT);
		if (n > 0) {
			dir->buf_len = (size_t)n;
			return STEP_PROGRESS;
		}
		if (n == 0) {
			dir->eof = true;
			return STEP_PROGRESS;
		}
		if (errno == EINTR)
			continue;
		if (errno_is_again(errno)) {
			relay->readable[from] = false;
			return STEP_IDLE;
		}
		return relay_side_failed(relay, from, errno);
	}
}

static int relay_drain(struct relay *relay, struct relay_dir *dir, enum relay_side to)
{
	if (dir->copy_mode)
		return relay_drain_buffer(relay, dir, to);
	return relay_drain_pipe(relay, dir, to);
}

static int relay_fill(struct relay *relay, struct relay_dir *dir, enum relay_side from)
{
	if (dir->copy_mode)
		return relay_fill_buffer(relay, dir, from);
	if (!dir->splicing && dir->in_pipe == 0)
		return relay_fill_scratch(relay, dir, from);
	return relay_fill_pipe(relay, dir, from);
}

/*
 * One round of the direction leaving `from`: prefix, then what is buffered, then at most one pipe
 * (or buffer) from the source, delivered at once if `to` takes it. A full `to` leaves the buffer
 * full, which stops reading the source: that is the backpressure. After EOF and a full drain,
 * FIN goes on to `to`.
 */
static int relay_pump_dir(struct relay *relay, enum relay_side from)
{
	struct relay_dir *dir = &relay->dir[from];
	enum relay_side to = other_side(from);
	int step, ret;

	if (dir->shut)
		return STEP_IDLE;
	step = relay_flush_prefix(relay, dir, to);
	if (step < 0 || dir->prefix_len > 0)
		return step;
	ret = relay_drain(relay, dir, to);
	if (ret < 0)
		return ret;
	step |= ret;
	ret = relay_fill(relay, dir, from);
	if (ret < 0)
		return ret;
	step |= ret;
	ret = relay_drain(relay, dir, to);
	if (ret < 0)
		return ret;
	step |= ret;
	if (dir->eof && dir->in_pipe == 0 && dir->buf_len == 0) {
		/* A clean end toward `to`: from here its close must be a FIN after every byte. */
		relay_set_linger(relay->io[to].fd, false);
		if (shutdown(relay->io[to].fd, SHUT_WR) == -1)
			return relay_side_failed(relay, to, errno);
		dir->shut = true;
		step = STEP_PROGRESS;
	}
	return step;
}

static uint64_t relay_total_bytes(const struct relay *relay)
{
	return relay->dir[RELAY_A].bytes + relay->dir[RELAY_B].bytes;
}

/*
 * Pumps both directions until neither moves. Past the budget it re-arms both edge-triggered
 * registrations (EPOLL_CTL_MOD reports a ready fd again) and yields, so that one fast session
 * cannot starve the loop. May call on_end, after which the relay must not be touched.
 */
static void relay_pump(struct relay *relay)
{
	uint64_t start = relay_total_bytes(relay);
	int ret;

	for (;;) {
		int a = relay_pump_dir(relay, RELAY_A), b;

		if (a < 0)
			goto end;
		b = relay_pump_dir(relay, RELAY_B);
		if (b < 0)
			goto end;
		if (a == STEP_IDLE && b == STEP_IDLE)
			break;
		relay->last_active_ms = relay->loop->now_ms;
		if (relay_total_bytes(relay) - start < RELAY_PUMP_BUDGET)
			continue;
		for (int s = RELAY_A; s <= RELAY_B; s++) {
			ret = loop_modify(relay->loop, &relay->io[s], RELAY_EPOLL_EVENTS);
			if (ret < 0) {
				relay_set_end(relay, RELAY_END_ERROR, -ret);
				goto end;
			}
		}
		return;
	}
	if (!relay->dir[RELAY_A].shut || !relay->dir[RELAY_B].shut)
		return;
	relay_set_end(relay, RELAY_END_CLOSED, 0);
end:
	relay_finish(relay);
}

/* An edge on one side: remember what it allows, end at once on a socket error, then pump. */
static void relay_on_side_event(struct relay *relay, enum relay_side side, uint32_t events)
{
	if (relay->ending)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		relay->readable[side] = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		relay->writable[side] = true;
	if (events & EPOLLERR) {
		/* A reset after our last read or write toward this side shows only here. */
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(relay->io[side].fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			relay_side_failed(relay, side, err);
			relay_finish(relay);
			return;
		}
	}
	relay_pump(relay);
}

static void relay_on_event_a(struct loop_io *io, uint32_t events)
{
	relay_on_side_event(container_of(io, struct relay, io[RELAY_A]), RELAY_A, events);
}

static void relay_on_event_b(struct loop_io *io, uint32_t events)
{
	relay_on_side_event(container_of(io, struct relay, io[RELAY_B]), RELAY_B, events);
}

/* Lazy re-arm: the hot path only stores last_active_ms; the timer checks it when it fires. */
static void relay_on_idle(struct loop_timer *timer)
{
	struct relay *relay = container_of(timer, struct relay, idle_timer);
	uint64_t timeout = relay->params.idle_timeout_ms, now = relay->loop->now_ms;
	uint64_t quiet = now > relay->last_active_ms ? now - relay->last_active_ms : 0;

	if (relay->ending)
		return;
	if (quiet < timeout) {
		if (loop_timer_arm(relay->loop, timer, timeout - quiet) == 0)
			return;
		relay_set_end(relay, RELAY_END_ERROR, ENOMEM);
	} else {
		relay_set_end(relay, RELAY_END_IDLE, 0);
	}
	relay_finish(relay);
}

#define RELAY_STALL_FIRST_MS 1000
#define RELAY_STALL_MAX_MS   60000

/*
 * The stall check: if no byte moved since the last one, assume an edge was lost and pump with
 * both sides marked readable and writable (a wrong guess costs one EAGAIN per side). Re-armed
 * before pumping, because pumping may end the relay and let its owner free it.
 */
static void relay_on_stall(struct loop_timer *timer)
{
	struct relay *relay = container_of(timer, struct relay, stall_timer);
	uint64_t total = relay_total_bytes(relay);
	bool quiet = total == relay->stall_mark;

	if (relay->ending)
		return;
	relay->stall_period_ms = quiet ? relay->stall_period_ms * 2 : RELAY_STALL_FIRST_MS;
	if (relay->stall_period_ms > RELAY_STALL_MAX_MS)
		relay->stall_period_ms = RELAY_STALL_MAX_MS;
	relay->stall_mark = total;
	loop_timer_arm(relay->loop, timer, relay->stall_period_ms);
	if (!quiet)
		return;
	for (int s = RELAY_A; s <= RELAY_B; s++)
		relay->readable[s] = relay->writable[s] = true;
	relay_pump(relay);
}

/* Clears the relay and gives it fd_a and fd_b (either may be -1 until known). */
void relay_prepare(struct relay *relay, int fd_a, int fd_b)
{
	*relay = (struct relay){ 0 };
	relay->io[RELAY_A].fd = fd_a;
	relay->io[RELAY_B].fd = fd_b;
	for (int s = RELAY_A; s <= RELAY_B; s++) {
		relay->dir[s].pipe[0] = relay->dir[s].pipe[1] = -1;
		relay->source_mptcp[s] = -1;
	}
	loop_timer_init(&relay->idle_timer, relay_on_idle);
	loop_timer_init(&relay->stall_timer, relay_on_stall);
}

/* Bytes toward `to` travel in the direction that leaves the other side. */
void relay_set_prefix(struct relay *relay, enum relay_side to, const uint8_t *data, size_t len)
{
	struct relay_dir *dir = &relay->dir[other_side(to)];

	dir->prefix = data;
	dir->prefix_len = len;
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -errno;
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return -errno;
	return 0;
}

/*
 * Takes over r->io[] (callbacks) and starts pumping with both sides assumed readable and
 * writable. pipes may be NULL only with use_splice false. 0, or -errno with nothing taken over
 * (-EBADF: a missing fd, -EALREADY: started or closed, -ENOMEM: the timer).
 */
int relay_start(struct relay *relay, struct loop *loop, struct pipe_pool *pipes,
		const struct relay_params *params, void (*on_end)(struct relay *relay))
{
	bool splice_ok = params->use_splice && pipes;
	int ret;

	if (relay->started || relay->closed)
		return -EALREADY;
	if (relay->io[RELAY_A].fd < 0 || relay->io[RELAY_B].fd < 0)
		return -EBADF;
	for (int s = RELAY_A; s <= RELAY_B; s++) {
		ret = set_nonblocking(relay->io[s].fd);
		if (ret < 0)
			return ret;
	}
	relay->loop = loop;
	relay->pipes = pipes;
	relay->params = *params;
	if (relay->params.copy_buffer_size == 0)
		relay->params.copy_buffer_size = RELAY_COPY_BUFFER_DEFAULT;
	relay->on_end = on_end;
	if (params->idle_timeout_ms > 0) {
		ret = loop_timer_arm(loop, &relay->idle_timer, params->idle_timeout_ms);
		if (ret < 0)
			return ret;
	}
	relay->last_active_ms = loop->now_ms;
	relay->stall_period_ms = RELAY_STALL_FIRST_MS;
	ret = loop_timer_arm(loop, &relay->stall_timer, relay->stall_period_ms);
	if (ret < 0) {
		loop_timer_cancel(loop, &relay->idle_timer);
		return ret;
	}
	for (int s = RELAY_A; s <= RELAY_B; s++) {
		relay->dir[s].copy_mode = !splice_ok;
		relay->readable[s] = relay->writable[s] = true;
		relay_set_linger(relay->io[s].fd, true);
	}
	relay->io[RELAY_A].on_event = relay_on_event_a;
	relay->io[RELAY_B].on_event = relay_on_event_b;
	relay->started = true;
	relay_pump(relay); /* may end the relay, and the owner may free it in on_end */
	return 0;
}

/*
 * Ends everything, once: unregisters and closes both fds, returns pipes (a pipe still holding
 * bytes is closed, not pooled), frees buffers, cancels the timer. Which side gets a reset follows
 * the end reason; a relay closed while still running (end NONE) resets both sides, since their
 * streams were cut short. Before relay_start the fds are closed plainly and, as the relay does
 * not know the loop yet, only unregistered if the owner set relay->loop.
 */
void relay_close(struct relay *relay)
{
	bool reset[2] = { false, false };

	if (relay->closed)
		return;
	relay->closed = true;
	relay->ending = true;
	if (relay->started) {
		switch (relay->end) {
		case RELAY_END_CLOSED:
			break;
		case RELAY_END_RESET_BY_A:
			reset[RELAY_B] = true;
			break;
		case RELAY_END_RESET_BY_B:
			reset[RELAY_A] = true;
			break;
		case RELAY_END_NONE:
		case RELAY_END_IDLE:
		case RELAY_END_ERROR:
			reset[RELAY_A] = reset[RELAY_B] = true;
			break;
		}
	}
	if (relay->loop) {
		loop_timer_cancel(relay->loop, &relay->idle_timer);
		loop_timer_cancel(relay->loop, &relay->stall_timer);
	}
	for (int s = RELAY_A; s <= RELAY_B; s++) {
		struct loop_io *io = &relay->io[s];
		struct relay_dir *dir = &relay->dir[s];

		if (io->fd >= 0) {
			if (relay->loop) /* close() below unregisters the fd: no EPOLL_CTL_DEL */
				loop_forget(relay->loop, io);
			/* (a side shut cleanly had its linger cleared at its shutdown) */
			if (reset[s])
				relay_set_linger(io->fd, true);
			close(io->fd);
			io->fd = -1;
		}
		if (dir->pipe[0] != -1)
			pipe_pool_put(relay->pipes, dir->pipe, dir->in_pipe == 0);
		dir->in_pipe = 0;
		free(dir->buf);
		dir->buf = NULL;
		dir->buf_off = dir->buf_len = 0;
	}
}

const char *relay_end_name(enum relay_end end)
{
	switch (end) {
	case RELAY_END_NONE:
		return "none";
	case RELAY_END_CLOSED:
		return "closed";
	case RELAY_END_RESET_BY_A:
		return "reset by A";
	case RELAY_END_RESET_BY_B:
		return "reset by B";
	case RELAY_END_IDLE:
		return "idle timeout";
	case RELAY_END_ERROR:
		return "local error";
	}
	return "unknown";
}
