/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_RELAY_H
#define MPCONV_RELAY_H

#include "loop.h"
#include "pipe.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Bidirectional byte relay between two connected stream sockets A and B, knowing nothing of the
 * protocols around it. splice() through pooled pipes, with a copy fallback; backpressure (a full
 * destination stops reads from the source); half-close preserved (EOF on one side becomes
 * shutdown(SHUT_WR) on the other once everything before it was delivered); a reset on one side
 * becomes a reset on the other; an idle timeout.
 * While relaying, both sockets carry SO_LINGER {1, 0}: should the process die, the kernel
 * resets both ends rather than closing them with a FIN that would pass a cut stream off as
 * complete. A direction that ends cleanly has it cleared on its destination before the
 * shutdown(SHUT_WR), so a clean end is a FIN after every byte.
 *
 * Life cycle:
 *   relay_prepare(r, fd_a, fd_b);          r->io[] now carry the fds
 *   loop_add(loop, &r->io[RELAY_A], RELAY_EPOLL_EVENTS), same for B: the owner registers r->io[]
 *       with its own on_event callbacks while it runs its handshake, then hands them over;
 *   relay_set_prefix(...)                  optional bytes to send first, per direction
 *   relay_start(r, ...)                    takes over r->io[] callbacks (the owner must have
 *                                          registered both with RELAY_EPOLL_EVENTS), assumes both
 *                                          sockets readable and writable (edge-triggered events
 *                                          may have been consumed by the owner), and pumps
 *   ... on_end(r) is called once, with both fds still open (the owner may read socket info) ...
 *   relay_close(r)                         closes fds (RST where the end reason calls for it),
 *                                          returns pipes, frees buffers; idempotent
 *
 * Requirements: the process ignores SIGPIPE (splice() into a reset socket raises it; there is no
 * MSG_NOSIGNAL for splice). relay_start() makes both fds O_NONBLOCK. A relay closed while still
 * running (end NONE) resets both sides: their streams were cut short. Before relay_start the relay
 * does not know the loop: relay_close() unregisters r->io[] only if the owner set r->loop,
 * otherwise the owner must loop_remove() them itself first (pending events of the batch being
 * dispatched would reach a freed owner).
 */
enum relay_side { RELAY_A = 0, RELAY_B = 1 };

enum relay_end {
	RELAY_END_NONE = 0,
	RELAY_END_CLOSED,     /* both directions ended with FIN and were fully delivered */
	RELAY_END_RESET_BY_A, /* A reset or failed; B gets a reset */
	RELAY_END_RESET_BY_B, /* B reset or failed; A gets a reset */
	RELAY_END_IDLE,	      /* no byte moved for idle_timeout_ms; both get a reset */
	RELAY_END_ERROR,      /* local resource failure (pipe, memory); both get a reset */
};

#define RELAY_EPOLL_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

/*
 * Live byte counters a relay adds to as it delivers (the caller's prefix not included), so that
 * totals move during a long transfer. One writer only (the thread of the relays using it: a
 * worker's meter), read from any thread: relaxed load and store, no locked add on the hot path.
 * bytes[RELAY_A]: A -> B, bytes[RELAY_B]: B -> A.
 */
struct relay_meter {
	_Atomic uint64_t bytes[2];
};

/* Adds n to one direction of a meter (its single writer only). */
void relay_meter_add(struct relay_meter *m, enum relay_side from, uint64_t n);
/* Reads one direction, from any thread. */
uint64_t relay_meter_read(const struct relay_meter *m, enum relay_side from);

struct relay_params {
	struct relay_meter *meter; /* NULL = none; outlives the relay */
	uint64_t idle_timeout_ms; /* 0 = none */
	bool use_splice;	  /* false forces the copy path (tests, benchmarks) */
	size_t copy_buffer_size;  /* per direction, copy path only; 0 = 64 KiB */
};

/* One direction: bytes flow from dir[s] source side s to the other side. */
struct relay_dir {
	int pipe[2];	/* -1 until the first splice */
	size_t in_pipe; /* bytes sitting in the pipe */
	uint8_t *buf;	/* copy path buffer, owned, NULL until needed */
	size_t buf_off, buf_len;
	const uint8_t *prefix; /* caller-owned, valid until relay_close */
	size_t prefix_len;
	uint64_t bytes; /* delivered to the destination, prefix included */
	bool eof;	/* source sent FIN */
	bool shut;	/* FIN passed on to the destination */
	bool copy_mode; /* splice refused (EINVAL/ENOSYS): copy from now on */
	bool splicing;	/* a read filled the scratch buffer: splice until drained */
};

struct relay {
	struct loop_io io[2];
	struct loop *loop;
	struct pipe_pool *pipes;
	struct relay_params params;
	struct relay_dir dir[2]; /* dir[RELAY_A]: A -> B, dir[RELAY_B]: B -> A */
	bool readable[2], writable[2];
	int8_t source_mptcp[2]; /* side's socket is MPTCP: 1, TCP: 0, not asked yet: -1 */
	bool started, ending, closed;
	struct loop_timer idle_timer;
	uint64_t last_active_ms;
	/* Safety net for a lost edge-triggered event (seen once in 138 bench transfers: an MPTCP
	 * socket with a full receive queue and no event): when no byte moved since the last check,
	 * both directions are retried. The period doubles while the relay stays quiet. */
	struct loop_timer stall_timer;
	uint64_t stall_mark, stall_period_ms;
	enum relay_end end;
	int end_errno; /* errno behind a reset/error end, 0 otherwise */
	void (*on_end)(struct relay *relay);
};

void relay_prepare(struct relay *relay, int fd_a, int fd_b);
/* Bytes to write to side `to` before anything relayed towards it. Call before relay_start. */
void relay_set_prefix(struct relay *relay, enum relay_side to, const uint8_t *data, size_t len);
/*
 * 0 or -errno (then nothing was taken over; the caller still owns everything and must call
 * relay_close). on_end may be called from inside relay_start when there is nothing to relay.
 * pipes may be NULL when params->use_splice is false.
 */
int relay_start(struct relay *relay, struct loop *loop, struct pipe_pool *pipes,
		const struct relay_params *params, void (*on_end)(struct relay *relay));
void relay_close(struct relay *relay);
const char *relay_end_name(enum relay_end end);

#endif
