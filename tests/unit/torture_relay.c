// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the relay and the pipe pool over real loopback sockets, in one thread:
 *
 *   peer A <--TCP/MPTCP--> [relay side A | relay | relay side B] <--TCP--> peer B
 *
 * The peers are non-blocking sockets driven by the same event loop as the relay; they send a
 * position-dependent byte pattern and check every byte they receive. splice() is interposed
 * below so that a test can make the kernel "refuse" it. No root needed.
 */
#include "pipe.h"
#include "relay.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43
#endif

#define MIB (1024 * 1024)

/*
 * splice() as the relay sees it: the real system call, except that once `countdown` more calls
 * with `fd` in the chosen role (source or destination) succeeded, calls in that role fail with
 * `err`, as the kernel does for files it cannot splice.
 */
static struct {
	int fd; /* -1: never fail */
	bool as_source;
	int countdown, err;
	unsigned long refused;
	/* fd_in == full_when_busy: a pipe holding any byte is full (EAGAIN), like a pipe whose
	 * slots all hold small fragments */
	int full_when_busy;
	unsigned long full;
} splice_fault = { .fd = -1, .full_when_busy = -1 };

ssize_t splice(int fd_in, off64_t *off_in, int fd_out, off64_t *off_out, size_t len,
	       unsigned int flags)
{
	int fd = splice_fault.as_source ? fd_in : fd_out, queued = 0;

	if (fd_in == splice_fault.full_when_busy && ioctl(fd_out, FIONREAD, &queued) == 0 &&
	    queued > 0) {
		splice_fault.full++;
		errno = EAGAIN;
		return -1;
	}
	if (splice_fault.fd != -1 && fd == splice_fault.fd) {
		if (splice_fault.countdown == 0) {
			splice_fault.refused++;
			errno = splice_fault.err;
			return -1;
		}
		splice_fault.countdown--;
	}
	return syscall(SYS_splice, fd_in, off_in, fd_out, off_out, len, flags);
}

/* Byte `off` of stream `seed`: differs from its neighbours and from shifted copies of itself. */
static void pattern_fill(uint8_t *buf, size_t len, uint64_t off, uint8_t seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = off + i;

		buf[i] = (uint8_t)(seed + x * 7 + (x >> 8) * 13 + (x >> 16) * 29 + (x >> 24) * 31);
	}
}

#define CHUNK (64 * 1024)

/* One end-user socket, talking to one side of the relay. */
struct peer {
	struct loop_io io;
	struct world *world;
	/* sending: send_total bytes of stream send_seed, then FIN if fin_when_sent */
	uint64_t send_total, sent;
	uint8_t send_seed;
	bool fin_when_sent, fin_sent, write_blocked;
	/* receiving: expect_prefix, then stream recv_seed */
	bool reading;
	const uint8_t *expect_prefix;
	size_t expect_prefix_len;
	uint64_t received; /* prefix included */
	uint8_t recv_seed;
	bool eof, mismatch;
	int err;
	uint8_t out[CHUNK], in[CHUNK], want[CHUNK];
};

struct world {
	struct loop loop;
	struct pipe_pool pool;
	struct relay relay;
	struct peer a, b;
	int owner_events; /* edges the owner consumed before relay_start */
	int ends;
	int linger_at_end[2]; /* SO_LINGER l_onoff of each side's fd when on_end ran */
	bool close_in_on_end;
	enum relay_end end;
	int end_errno;
	uint64_t ended_at;
	bool (*until)(struct world *world);
	struct loop_timer deadline, tick;
	bool timed_out;
	/* optional periodic action */
	struct loop_timer drive;
	void (*on_drive)(struct world *world);
	uint64_t drive_every_ms;
	struct relay_meter meter; /* every relay counts into it */
};

static void world_check(struct world *w)
{
	if (w->until && w->until(w))
		loop_stop(&w->loop);
}

static void peer_write(struct peer *p)
{
	while (p->sent < p->send_total) {
		size_t n =
			p->send_total - p->sent < CHUNK ? (size_t)(p->send_total - p->sent) : CHUNK;
		ssize_t w;

		pattern_fill(p->out, n, p->sent, p->send_seed);
		w = send(p->io.fd, p->out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				p->write_blocked = true;
			else
				p->err = errno;
			return;
		}
		p->write_blocked = false;
		p->sent += (uint64_t)w;
	}
	if (p->fin_when_sent && !p->fin_sent) {
		assert_int_equal(shutdown(p->io.fd, SHUT_WR), 0);
		p->fin_sent = true;
	}
}

static void peer_check(struct peer *p, const uint8_t *data, size_t len)
{
	if (p->received < p->expect_prefix_len) {
		size_t n = p->expect_prefix_len - p->received;

		if (n > len)
			n = len;
		if (memcmp(data, p->expect_prefix + p->received, n) != 0)
			p->mismatch = true;
		p->received += n;
		data += n;
		len -= n;
	}
	if (len == 0)
		return;
	pattern_fill(p->want, len, p->received - p->expect_prefix_len, p->recv_seed);
	if (memcmp(data, p->want, len) != 0)
		p->mismatch = true;
	p->received += len;
}

static void peer_read(struct peer *p)
{
	while (p->reading && !p->eof) {
		ssize_t n = recv(p->io.fd, p->in, sizeof(p->in), MSG_DONTWAIT);

		if (n > 0) {
			peer_check(p, p->in, (size_t)n);
		} else if (n == 0) {
			p->eof = true;
		} else if (errno != EINTR) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				p->err = errno;
			return;
		}
	}
}

static void peer_on_event(struct loop_io *io, uint32_t events)
{
	struct peer *p = container_of(io, struct peer, io);

	peer_write(p);
	peer_read(p);
	world_check(p->world);
}

/* The owner's callbacks before relay_start: they consume edges and do nothing else. */
static void owner_on_event_a(struct loop_io *io, uint32_t events)
{
	container_of(io, struct world, relay.io[RELAY_A])->owner_events++;
}

static void owner_on_event_b(struct loop_io *io, uint32_t events)
{
	container_of(io, struct world, relay.io[RELAY_B])->owner_events++;
}

/* SO_LINGER l_onoff of fd (1: close resets), -1 on error. */
static int linger_on(int fd)
{
	struct linger lin = { 0 };
	socklen_t len = sizeof(lin);

	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, &len) == -1)
		return -1;
	return lin.l_onoff && lin.l_linger == 0;
}

static void on_end(struct relay *relay)
{
	struct world *w = container_of(relay, struct world, relay);

	w->linger_at_end[RELAY_A] = linger_on(relay->io[RELAY_A].fd);
	w->linger_at_end[RELAY_B] = linger_on(relay->io[RELAY_B].fd);

	assert_int_equal(w->ends, 0);
	/* the fds are still open for the owner to inspect */
	assert_true(fcntl(relay->io[RELAY_A].fd, F_GETFD) != -1);
	assert_true(fcntl(relay->io[RELAY_B].fd, F_GETFD) != -1);
	w->ends++;
	w->end = relay->end;
	w->end_errno = relay->end_errno;
	w->ended_at = loop_clock_ms();
	if (w->close_in_on_end)
		relay_close(relay);
	world_check(w);
}

static void on_deadline(struct loop_timer *timer)
{
	struct world *w = container_of(timer, struct world, deadline);

	w->timed_out = true;
	loop_stop(&w->loop);
}

static void on_tick(struct loop_timer *timer)
{
	struct world *w = container_of(timer, struct world, tick);

	world_check(w);
	loop_timer_arm(&w->loop, timer, 2);
}

static void on_drive(struct loop_timer *timer)
{
	struct world *w = container_of(timer, struct world, drive);

	w->on_drive(w);
	if (w->on_drive)
		loop_timer_arm(&w->loop, timer, w->drive_every_ms);
}

/* Runs the loop until `until` holds (true) or timeout_ms passed (false). */
static bool run_until(struct world *w, bool (*until)(struct world *w), uint64_t timeout_ms)
{
	w->until = until;
	w->timed_out = false;
	w->loop.now_ms = loop_clock_ms();
	if (until && until(w))
		return true;
	assert_int_equal(loop_timer_arm(&w->loop, &w->deadline, timeout_ms), 0);
	assert_int_equal(loop_timer_arm(&w->loop, &w->tick, 2), 0);
	assert_int_equal(loop_run(&w->loop), 0);
	loop_timer_cancel(&w->loop, &w->deadline);
	loop_timer_cancel(&w->loop, &w->tick);
	w->until = NULL;
	return !w->timed_out;
}

static void run_for(struct world *w, uint64_t ms)
{
	assert_false(run_until(w, NULL, ms));
}

/*
 * A connected pair over loopback: *peer for the test, *side for the relay. proto is 0 (TCP) or
 * IPPROTO_MPTCP; bufsize > 0 fixes both socket buffers (no autotuning). 0 or -errno.
 */
static int loopback_pair(int family, int proto, int bufsize, int *peer, int *side)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len =
		family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int lfd = -1, cfd = -1, afd = -1, one = 1, ret;

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, proto);
	cfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, proto);
	if (lfd == -1 || cfd == -1)
		goto fail;
	if (bufsize > 0)
		for (int i = 0; i < 2; i++) {
			int fd = i ? cfd : lfd;

			if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)) ==
				    -1 ||
			    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)) == -1)
				goto fail;
		}
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(lfd, (struct sockaddr *)&ss, len) == -1 || listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) == -1 ||
	    connect(cfd, (struct sockaddr *)&ss, len) == -1)
		goto fail;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (afd == -1 || fcntl(cfd, F_SETFL, O_NONBLOCK) == -1)
		goto fail;
	close(lfd);
	*peer = cfd;
	*side = afd;
	return 0;
fail:
	ret = -errno;
	if (lfd != -1)
		close(lfd);
	if (cfd != -1)
		close(cfd);
	if (afd != -1)
		close(afd);
	return ret;
}

/*
 * The same over an AF_UNIX stream socketpair, with room for 6 MiB: what the peer sends lands in
 * the relay's queue at once, so that the relay gets no later edge from it.
 */
static int unix_pair(int *peer, int *side)
{
	int fds[2], bufsize = 4 * MIB;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == -1)
		return -errno;
	if (setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	*peer = fds[0];
	*side = fds[1];
	return 0;
}

struct world_opts {
	int family;
	int proto_a; /* between peer A and relay side A */
	int bufsize; /* 0: kernel defaults */
	bool unix_a; /* side A over an AF_UNIX stream socketpair (see unix_pair) */
	size_t pipe_size;
};

/* Two pairs, the relay prepared on them and registered by its "owner", peers registered. */
static struct world *world_new(const struct world_opts *o)
{
	struct world *w = calloc(1, sizeof(*w));
	int fd_a = -1, fd_b = -1;

	assert_non_null(w);
	assert_int_equal(loop_init(&w->loop), 0);
	assert_int_equal(pipe_pool_init(&w->pool, o->pipe_size, 4), 0);
	loop_timer_init(&w->deadline, on_deadline);
	loop_timer_init(&w->tick, on_tick);
	loop_timer_init(&w->drive, on_drive);
	if (o->unix_a)
		assert_int_equal(unix_pair(&w->a.io.fd, &fd_a), 0);
	else
		assert_int_equal(
			loopback_pair(o->family, o->proto_a, o->bufsize, &w->a.io.fd, &fd_a), 0);
	assert_int_equal(loopback_pair(o->family, 0, o->bufsize, &w->b.io.fd, &fd_b), 0);
	relay_prepare(&w->relay, fd_a, fd_b);
	for (int s = RELAY_A; s <= RELAY_B; s++) {
		struct peer *p = s == RELAY_A ? &w->a : &w->b;

		p->world = w;
		p->reading = true;
		p->io.on_event = peer_on_event;
		assert_int_equal(loop_add(&w->loop, &p->io, RELAY_EPOLL_EVENTS), 0);
		w->relay.io[s].on_event = s == RELAY_A ? owner_on_event_a : owner_on_event_b;
		assert_int_equal(loop_add(&w->loop, &w->relay.io[s], RELAY_EPOLL_EVENTS), 0);
	}
	return w;
}

static void world_free(struct world *w)
{
	relay_close(&w->relay);
	relay_close(&w->relay); /* idempotent */
	for (int s = RELAY_A; s <= RELAY_B; s++) {
		struct peer *p = s == RELAY_A ? &w->a : &w->b;

		if (p->io.fd >= 0) {
			loop_remove(&w->loop, &p->io);
			close(p->io.fd);
		}
	}
	loop_destroy(&w->loop);
	pipe_pool_destroy(&w->pool);
	free(w);
}

static void world_start(struct world *w, bool use_splice, uint64_t idle_timeout_ms)
{
	struct relay_params params = { .meter = &w->meter,
				       .idle_timeout_ms = idle_timeout_ms,
				       .use_splice = use_splice };

	w->loop.now_ms = loop_clock_ms(); /* as fresh as inside a callback of a running loop */
	assert_int_equal(relay_start(&w->relay, &w->loop, &w->pool, &params, on_end), 0);
}

/* Sets what a peer sends; the stream of A is seed 1, the stream of B is seed 2. */
static void peer_send(struct peer *p, uint64_t total, bool fin)
{
	p->send_total = total;
	p->fin_when_sent = fin;
	peer_write(p);
}

static void world_streams(struct world *w)
{
	w->a.send_seed = w->b.recv_seed = 1;
	w->b.send_seed = w->a.recv_seed = 2;
}

/*
 * The peer's socket after the relay closed its side: the error recv() reports, or 0 for a plain
 * EOF. After EOF a later reset shows only in SO_ERROR (EPIPE for a socket that had seen FIN).
 */
static int peer_socket_error(struct peer *p)
{
	struct pollfd pfd = { .fd = p->io.fd, .events = POLLIN };
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	for (int i = 0; i < 100; i++) {
		assert_true(poll(&pfd, 1, 1000) >= 0);
		n = recv(p->io.fd, p->in, sizeof(p->in), MSG_DONTWAIT);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return errno;
		if (n == 0) {
			assert_int_equal(getsockopt(p->io.fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
			return err;
		}
	}
	return -1;
}

static bool both_eof_and_ended(struct world *w)
{
	return w->a.eof && w->b.eof && w->ends == 1;
}

static bool ended(struct world *w)
{
	return w->ends == 1;
}

/* Bulk both ways at once, byte-exact; prints the rate as a TAP comment. */
static void bulk(int family, int proto_a, bool use_splice, uint64_t size)
{
	struct world_opts o = { .family = family, .proto_a = proto_a, .pipe_size = MIB };
	struct world *w = world_new(&o);
	uint64_t t0;

	world_streams(w);
	if (proto_a == IPPROTO_MPTCP) {
		/* the mechanism, not only the bytes: both ends of side A really are MPTCP */
		for (int i = 0; i < 2; i++) {
			int fd = i ? w->a.io.fd : w->relay.io[RELAY_A].fd, is_mptcp = 0;
			socklen_t len = sizeof(is_mptcp);

			assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &is_mptcp, &len),
					 0);
			assert_int_equal(is_mptcp, 1);
		}
	}
	t0 = loop_clock_ms();
	world_start(w, use_splice, 0);
	peer_send(&w->a, size, true);
	peer_send(&w->b, size, true);
	assert_true(run_until(w, both_eof_and_ended, 20000));
	print_message("# %s %s %s: %llu MiB each way in %llu ms\n",
		      proto_a == IPPROTO_MPTCP ? "mptcp<->tcp" : "tcp<->tcp",
		      family == AF_INET ? "ipv4" : "ipv6", use_splice ? "splice" : "copy",
		      (unsigned long long)(size / MIB), (unsigned long long)(loop_clock_ms() - t0));
	assert_int_equal(w->end, RELAY_END_CLOSED);
	assert_int_equal(w->end_errno, 0);
	assert_false(w->a.mismatch);
	assert_false(w->b.mismatch);
	assert_int_equal(w->a.err, 0);
	assert_int_equal(w->b.err, 0);
	assert_int_equal(w->a.received, size);
	assert_int_equal(w->b.received, size);
	assert_int_equal(w->relay.dir[RELAY_A].bytes, size);
	assert_int_equal(w->relay.dir[RELAY_B].bytes, size);
	relay_close(&w->relay);
	if (use_splice) {
		/* one pipe per direction, both empty at the end, so both back in the pool */
		assert_int_equal(w->pool.created, 2);
		assert_int_equal(w->pool.idle_len, 2);
	} else {
		assert_int_equal(w->pool.created, 0);
	}
	/* CLOSED: both sides closed plainly, so the peers see EOF, never a reset */
	assert_int_equal(peer_socket_error(&w->a), 0);
	assert_int_equal(peer_socket_error(&w->b), 0);
	world_free(w);
}

static void bulk_is_byte_exact_both_ways_with_splice_over_ipv4(void **state)
{
	bulk(AF_INET, 0, true, 16 * MIB);
}

static void bulk_is_byte_exact_both_ways_in_copy_mode_over_ipv4(void **state)
{
	bulk(AF_INET, 0, false, 16 * MIB);
}

static void bulk_is_byte_exact_both_ways_with_splice_over_ipv6(void **state)
{
	bulk(AF_INET6, 0, true, 8 * MIB);
}

static void bulk_is_byte_exact_both_ways_in_copy_mode_over_ipv6(void **state)
{
	bulk(AF_INET6, 0, false, 8 * MIB);
}

static bool mptcp_available(void)
{
	char c = '0';
	int fd = open("/proc/sys/net/mptcp/enabled", O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	if (c != '1')
		return false;
	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (fd == -1)
		return false;
	close(fd);
	return true;
}

static void bulk_is_byte_exact_between_mptcp_and_tcp_with_splice(void **state)
{
	if (!mptcp_available())
		skip();
	bulk(AF_INET, IPPROTO_MPTCP, true, 8 * MIB);
}

/*
 * Copy first, splice once a stream flows: a short exchange each way (one read that does not fill
 * the scratch buffer) is relayed byte-exact without a pipe, while a bulk stream above (bulk())
 * takes one pipe per direction.
 */
static void short_exchange(int proto_a)
{
	struct world_opts o = { .family = AF_INET, .proto_a = proto_a, .pipe_size = MIB };
	struct world *w = world_new(&o);

	world_streams(w);
	world_start(w, true, 0);
	peer_send(&w->a, 1024, true);
	peer_send(&w->b, 1024, true);
	assert_true(run_until(w, both_eof_and_ended, 5000));
	assert_int_equal(w->end, RELAY_END_CLOSED);
	assert_false(w->a.mismatch);
	assert_false(w->b.mismatch);
	assert_int_equal(w->a.received, 1024);
	assert_int_equal(w->b.received, 1024);
	assert_int_equal(w->pool.created, 0);
	assert_false(w->relay.dir[RELAY_A].splicing);
	relay_close(&w->relay);
	world_free(w);
}

static void a_short_exchange_is_copied_and_takes_no_pipe(void **state)
{
	short_exchange(0);
}

static void a_short_exchange_from_mptcp_is_copied_and_takes_no_pipe(void **state)
{
	if (!mptcp_available())
		skip();
	short_exchange(IPPROTO_MPTCP);
}

static bool a_got_prefix_and_all(struct world *w)
{
	return w->a.received == w->a.expect_prefix_len + w->b.send_total &&
	       w->b.received == w->b.expect_prefix_len + w->a.send_total;
}

static void prefix_bytes_arrive_first_on_their_own_side(void **state)
{
	static const uint8_t to_a[] = "reply for A, written before anything B sends";
	static const uint8_t to_b[] = "header for B";
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);

	world_streams(w);
	/* relayed bytes already queued before the relay starts must still come after the prefix */
	peer_send(&w->a, 100000, false);
	peer_send(&w->b, 70000, false);
	w->a.expect_prefix = to_a;
	w->a.expect_prefix_len = sizeof(to_a);
	w->b.expect_prefix = to_b;
	w->b.expect_prefix_len = sizeof(to_b);
	relay_set_prefix(&w->relay, RELAY_A, to_a, sizeof(to_a));
	relay_set_prefix(&w->relay, RELAY_B, to_b, sizeof(to_b));
	world_start(w, true, 0);
	assert_true(run_until(w, a_got_prefix_and_all, 5000));
	assert_false(w->a.mismatch);
	assert_false(w->b.mismatch);
	/* counts include the prefix: dir[B] carries B -> A, where the prefix toward A goes */
	assert_int_equal(w->relay.dir[RELAY_B].bytes, sizeof(to_a) + 70000);
	assert_int_equal(w->relay.dir[RELAY_A].bytes, sizeof(to_b) + 100000);
	/* the live meter has the relayed bytes only, not the caller's own prefix */
	assert_int_equal(relay_meter_read(&w->meter, RELAY_B), 70000);
	assert_int_equal(relay_meter_read(&w->meter, RELAY_A), 100000);
	assert_int_equal(w->ends, 0);
	world_free(w);
}

static bool b_got_everything(struct world *w)
{
	return w->b.received == w->a.send_total;
}

static void bytes_queued_before_start_are_relayed_without_a_new_edge(void **state)
{
	struct world_opts o = { .family = AF_INET6, .pipe_size = MIB };
	struct world *w = world_new(&o);

	world_streams(w);
	peer_send(&w->a, 1000, false);
	/* the owner consumes the edges (as during a handshake) before handing over */
	run_for(w, 20);
	assert_true(w->owner_events >= 2);
	assert_int_equal(w->b.received, 0);
	world_start(w, true, 0);
	assert_true(run_until(w, b_got_everything, 5000));
	assert_false(w->b.mismatch);
	world_free(w);
}

static bool b_saw_eof(struct world *w)
{
	return w->b.eof;
}

static bool a_got_everything(struct world *w)
{
	return w->a.received == w->b.send_total;
}

static bool a_saw_eof_and_ended(struct world *w)
{
	return w->a.eof && w->ends == 1;
}

static void half_close_keeps_the_other_direction_flowing(void **state)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);

	world_streams(w);
	world_start(w, true, 0);
	peer_send(&w->a, 65536, true); /* A sends, then shuts down its write side */
	assert_true(run_until(w, b_saw_eof, 5000));
	assert_int_equal(w->b.received, 65536);
	assert_true(w->relay.dir[RELAY_A].shut);
	assert_int_equal(w->ends, 0);

	peer_send(&w->b, 3 * MIB, false); /* B -> A still flows after A's FIN */
	assert_true(run_until(w, a_got_everything, 5000));
	assert_false(w->a.eof);
	assert_int_equal(w->ends, 0);

	/* then B closes for good */
	loop_remove(&w->loop, &w->b.io);
	close(w->b.io.fd);
	w->b.io.fd = -1;
	assert_true(run_until(w, a_saw_eof_and_ended, 5000));
	assert_int_equal(w->end, RELAY_END_CLOSED);
	assert_int_equal(w->relay.dir[RELAY_A].bytes, 65536);
	assert_int_equal(w->relay.dir[RELAY_B].bytes, 3 * MIB);
	assert_false(w->a.mismatch);
	assert_false(w->b.mismatch);
	world_free(w);
}

/*
 * Should the process die while relaying, the kernel must reset both ends, not close them with
 * a FIN that passes a cut stream off as complete: SO_LINGER {1, 0} on both sockets from the
 * start, cleared on a side only once the direction toward it ended cleanly (before its FIN).
 */
static void relayed_sockets_reset_on_close_until_their_direction_ends_cleanly(void **state)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);

	world_streams(w);
	world_start(w, true, 0);
	assert_int_equal(linger_on(w->relay.io[RELAY_A].fd), 1);
	assert_int_equal(linger_on(w->relay.io[RELAY_B].fd), 1);
	peer_send(&w->a, 65536, true); /* A -> B ends cleanly: B's FIN is a clean one */
	assert_true(run_until(w, b_saw_eof, 5000));
	assert_int_equal(linger_on(w->relay.io[RELAY_B].fd), 0);
	assert_int_equal(linger_on(w->relay.io[RELAY_A].fd), 1); /* B -> A still flows */
	loop_remove(&w->loop, &w->b.io);
	close(w->b.io.fd);
	w->b.io.fd = -1;
	assert_true(run_until(w, a_saw_eof_and_ended, 5000));
	assert_int_equal(w->end, RELAY_END_CLOSED);
	assert_int_equal(w->linger_at_end[RELAY_A], 0);
	assert_int_equal(w->linger_at_end[RELAY_B], 0);
	world_free(w);
}

static void reset_peer(struct world *w, struct peer *p)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };

	assert_int_equal(setsockopt(p->io.fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)), 0);
	loop_remove(&w->loop, &p->io);
	close(p->io.fd);
	p->io.fd = -1;
}

static bool both_got_some(struct world *w)
{
	return w->a.received > 0 && w->b.received > 0;
}

/* `who` resets; the relay ends RESET_BY_who and resets the other side when closed. */
static void reset_is_passed_on(enum relay_side who, bool after_fin)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);
	struct peer *gone = who == RELAY_A ? &w->a : &w->b, *other = who == RELAY_A ? &w->b : &w->a;

	world_streams(w);
	world_start(w, true, 0);
	peer_send(&w->a, 5000, false);
	peer_send(&w->b, 5000, false);
	assert_true(run_until(w, both_got_some, 5000));
	if (after_fin) {
		/* a FIN first: the relay no longer reads that side, only its error can tell */
		assert_int_equal(shutdown(gone->io.fd, SHUT_WR), 0);
		run_for(w, 20);
		assert_true(w->relay.dir[who].shut);
		assert_int_equal(w->ends, 0);
	}
	reset_peer(w, gone);
	assert_true(run_until(w, ended, 5000));
	assert_int_equal(w->end, who == RELAY_A ? RELAY_END_RESET_BY_A : RELAY_END_RESET_BY_B);
	assert_true(w->end_errno == ECONNRESET || w->end_errno == EPIPE);
	relay_close(&w->relay);
	/* the other side had seen our FIN when after_fin: its socket then says EPIPE */
	assert_int_equal(peer_socket_error(other), after_fin ? EPIPE : ECONNRESET);
	world_free(w);
}

static void reset_by_a_ends_the_relay_and_resets_b(void **state)
{
	reset_is_passed_on(RELAY_A, false);
}

static void reset_by_b_ends_the_relay_and_resets_a(void **state)
{
	reset_is_passed_on(RELAY_B, false);
}

static void reset_after_a_fin_is_still_seen(void **state)
{
	reset_is_passed_on(RELAY_A, true);
}

static void idle_timeout_resets_both_sides_of_a_silent_relay(void **state)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);
	uint64_t t0 = loop_clock_ms();

	world_start(w, true, 50);
	assert_true(run_until(w, ended, 2000));
	assert_int_equal(w->end, RELAY_END_IDLE);
	assert_true(w->ended_at - t0 >= 49);
	relay_close(&w->relay);
	assert_int_equal(peer_socket_error(&w->a), ECONNRESET);
	assert_int_equal(peer_socket_error(&w->b), ECONNRESET);
	world_free(w);
}

static void a_lost_edge_stalls_for_about_a_second_not_forever(void **state)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);
	uint64_t t0;

	world_streams(w);
	world_start(w, true, 0);
	run_for(w, 20);
	/* No event from side A can reach the relay any more: as if every edge were lost. */
	loop_remove(&w->loop, &w->relay.io[RELAY_A]);
	t0 = loop_clock_ms();
	peer_send(&w->a, 64 * 1024, false);
	assert_true(run_until(w, b_got_everything, 5000));
	assert_false(w->b.mismatch);
	/* The stall check found it: not at once (no edge), and within about one period. */
	assert_true(loop_clock_ms() - t0 >= 500);
	assert_true(loop_clock_ms() - t0 <= 2500);
	world_free(w);
}

static uint64_t last_poke_ms;
static int pokes;

static void poke_from_a(struct world *w)
{
	if (++pokes == 8) {
		w->on_drive = NULL;
		return;
	}
	peer_send(&w->a, w->a.send_total + 1, false);
	last_poke_ms = loop_clock_ms();
}

static void activity_postpones_the_idle_timeout(void **state)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);
	uint64_t t0 = loop_clock_ms();

	world_streams(w);
	pokes = 0;
	world_start(w, true, 80);
	/* one byte every 30 ms, seven times: 210 ms of a relay that is never 80 ms quiet */
	w->on_drive = poke_from_a;
	w->drive_every_ms = 30;
	assert_int_equal(loop_timer_arm(&w->loop, &w->drive, 30), 0);
	assert_true(run_until(w, ended, 3000));
	assert_int_equal(w->end, RELAY_END_IDLE);
	assert_int_equal(w->b.received, 7);
	assert_true(w->ended_at >= last_poke_ms + 79);
	assert_true(w->ended_at - t0 >= 210 + 79);
	assert_false(w->b.mismatch);
	world_free(w);
}

static bool a_is_stuck(struct world *w)
{
	return w->a.write_blocked;
}

static bool b_got_everything_and_a_sent_it(struct world *w)
{
	return w->a.sent == w->a.send_total && w->b.received == w->a.send_total;
}

static bool b_got_all_of_a(struct world *w)
{
	return w->a.sent == w->a.send_total && w->b.received == w->a.send_total;
}

static void a_busy_relay_yields_after_its_budget_and_then_resumes(void **state)
{
	struct world_opts o = {
		.family = AF_INET, .bufsize = 4 * MIB, .pipe_size = MIB, .unix_a = true
	};
	struct world *w = world_new(&o);
	uint64_t first;

	world_streams(w);
	w->b.reading = false;
	/* 6 MiB queued at once for side A (a unix socket holds it all): no new edge will come */
	peer_send(&w->a, 6 * MIB, false);
	assert_int_equal(w->a.sent, 6 * MIB);
	run_for(w, 10); /* the owner consumes the registration edges */
	world_start(w, true, 0);
	/* one wake-up moved a budget's worth (4 MiB), not everything that was ready */
	first = w->relay.dir[RELAY_A].bytes;
	assert_true(first >= 4 * MIB);
	assert_true(first < 6 * MIB);
	/* only the re-armed edges can bring it back: B's buffers take the rest, B does not read */
	run_for(w, 50);
	assert_int_equal(w->relay.dir[RELAY_A].bytes, 6 * MIB);
	w->b.reading = true;
	peer_read(&w->b);
	assert_true(run_until(w, b_got_all_of_a, 10000));
	assert_false(w->b.mismatch);
	world_free(w);
}

/* B does not read: the relay must stop reading A, holding at most one pipe (or buffer). */
static void backpressure(bool use_splice)
{
	struct world_opts o = { .family = AF_INET, .bufsize = 65536, .pipe_size = 65536 };
	struct world *w = world_new(&o);

	world_streams(w);
	w->b.reading = false;
	world_start(w, use_splice, 0);
	peer_send(&w->a, 32 * MIB, false);
	assert_true(run_until(w, a_is_stuck, 5000));
	/* 200 ms for the relay to take what it would take; A keeps offering bytes */
	for (int i = 0; i < 10; i++) {
		run_for(w, 20);
		peer_write(&w->a);
	}
	print_message("# backpressure %s: A blocked after %llu bytes, relay holds %zu\n",
		      use_splice ? "splice" : "copy", (unsigned long long)w->a.sent,
		      w->relay.dir[RELAY_A].in_pipe + w->relay.dir[RELAY_A].buf_len);
	assert_true(w->a.write_blocked);
	/* bounded: four socket buffers (doubled by the kernel) plus one pipe, with room to spare */
	assert_true(w->a.sent < 2 * MIB);
	assert_true(w->relay.dir[RELAY_A].in_pipe <= 65536);
	assert_true(w->relay.dir[RELAY_A].buf_len <= 65536);
	assert_int_equal(w->b.received, 0);

	w->b.reading = true;
	peer_read(&w->b);
	assert_true(run_until(w, b_got_everything_and_a_sent_it, 20000));
	assert_false(w->b.mismatch);
	assert_int_equal(w->relay.dir[RELAY_A].bytes, 32 * MIB);
	assert_int_equal(w->ends, 0);
	world_free(w);
}

static void backpressure_stops_reading_a_while_b_is_full_with_splice(void **state)
{
	backpressure(true);
}

static void backpressure_stops_reading_a_while_b_is_full_in_copy_mode(void **state)
{
	backpressure(false);
}

/* splice refused mid-stream (EINVAL or ENOSYS), reading or writing: copy takes over, bytes intact
 */
static void refused_splice(bool as_source, int err)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = 65536 };
	struct world *w = world_new(&o);
	uint64_t size = 2 * MIB;

	world_streams(w);
	/* direction A -> B: its source is side A, its destination side B */
	splice_fault.fd = as_source ? w->relay.io[RELAY_A].fd : w->relay.io[RELAY_B].fd;
	splice_fault.as_source = as_source;
	splice_fault.countdown = 3;
	splice_fault.err = err;
	splice_fault.refused = 0;
	world_start(w, true, 0);
	peer_send(&w->a, size, true);
	peer_send(&w->b, size, true);
	assert_true(run_until(w, both_eof_and_ended, 10000));
	splice_fault.fd = -1;
	assert_int_equal(splice_fault.refused, 1);
	assert_true(w->relay.dir[RELAY_A].copy_mode);
	assert_false(w->relay.dir[RELAY_B].copy_mode);
	assert_int_equal(w->end, RELAY_END_CLOSED);
	assert_int_equal(w->a.received, size);
	assert_int_equal(w->b.received, size);
	assert_false(w->a.mismatch);
	assert_false(w->b.mismatch);
	world_free(w);
}

/*
 * EAGAIN from splice(source -> pipe) while the pipe holds bytes means "pipe full", not "source
 * drained": the relay must read the source again once the pipe is emptied, with no new edge.
 */
static void a_full_pipe_does_not_pass_for_a_drained_source(void **state)
{
	struct world_opts o = {
		.family = AF_INET, .bufsize = 65536, .pipe_size = 256 * 1024, .unix_a = true
	};
	struct world *w = world_new(&o);

	world_streams(w);
	w->b.reading = false;
	peer_send(&w->a, 3 * MIB, false); /* all queued at once: no later edge from A */
	assert_int_equal(w->a.sent, 3 * MIB);
	run_for(w, 10); /* the owner consumes the registration edges */
	splice_fault.full = 0;
	splice_fault.full_when_busy = w->relay.io[RELAY_A].fd;
	world_start(w, true, 0);
	/* B is full, the pipe holds bytes, the next splice from A says EAGAIN */
	run_for(w, 20);
	assert_true(splice_fault.full > 0);
	assert_true(w->relay.dir[RELAY_A].in_pipe > 0);
	w->b.reading = true;
	peer_read(&w->b);
	assert_true(run_until(w, b_got_everything, 3000));
	splice_fault.full_when_busy = -1;
	assert_true(splice_fault.full > 0);
	assert_false(w->b.mismatch);
	world_free(w);
}

static void splice_refused_on_read_falls_back_to_copy(void **state)
{
	refused_splice(true, EINVAL);
}

static void splice_refused_on_write_falls_back_to_copy_after_emptying_the_pipe(void **state)
{
	refused_splice(false, ENOSYS);
}

static void nothing_to_relay_ends_inside_relay_start(void **state)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);
	struct pollfd pfd[2] = {
		{ .fd = w->relay.io[RELAY_A].fd, .events = POLLRDHUP },
		{ .fd = w->relay.io[RELAY_B].fd, .events = POLLRDHUP },
	};

	assert_int_equal(shutdown(w->a.io.fd, SHUT_WR), 0);
	assert_int_equal(shutdown(w->b.io.fd, SHUT_WR), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(poll(&pfd[i], 1, 1000), 1);
	w->close_in_on_end = true; /* and the owner closes it from inside on_end */
	world_start(w, true, 1000);
	assert_int_equal(w->ends, 1);
	assert_int_equal(w->end, RELAY_END_CLOSED);
	assert_true(w->relay.closed);
	assert_int_equal(w->relay.io[RELAY_A].fd, -1);
	assert_false(loop_timer_armed(&w->relay.idle_timer));
	assert_int_equal(peer_socket_error(&w->a), 0);
	assert_int_equal(peer_socket_error(&w->b), 0);
	world_free(w); /* relay_close twice more: no double close, no double free */
}

static void relay_close_before_start_only_closes_the_fds(void **state)
{
	int peer_a, fd_a, peer_b, fd_b;
	struct relay relay;
	char c;

	assert_int_equal(loopback_pair(AF_INET, 0, 0, &peer_a, &fd_a), 0);
	assert_int_equal(loopback_pair(AF_INET, 0, 0, &peer_b, &fd_b), 0);
	relay_prepare(&relay, fd_a, fd_b);
	relay_close(&relay);
	relay_close(&relay);
	assert_int_equal(fcntl(fd_a, F_GETFD), -1);
	assert_int_equal(fcntl(fd_b, F_GETFD), -1);
	assert_int_equal(relay.io[RELAY_A].fd, -1);
	assert_int_equal(relay.io[RELAY_B].fd, -1);
	/* closed plainly: the peers see EOF */
	assert_int_equal(fcntl(peer_a, F_SETFL, 0), 0);
	assert_int_equal(fcntl(peer_b, F_SETFL, 0), 0);
	assert_int_equal(recv(peer_a, &c, 1, 0), 0);
	assert_int_equal(recv(peer_b, &c, 1, 0), 0);
	/* a relay with a side still unknown (-1) closes too */
	relay_prepare(&relay, -1, -1);
	relay_close(&relay);
	assert_int_equal(relay_start(&relay, NULL, NULL, &(struct relay_params){ 0 }, on_end),
			 -EALREADY);
	close(peer_a);
	close(peer_b);
}

static void relay_start_refuses_a_missing_side(void **state)
{
	struct world_opts o = { .family = AF_INET, .pipe_size = MIB };
	struct world *w = world_new(&o);
	int fd_b = w->relay.io[RELAY_B].fd;

	loop_remove(&w->loop, &w->relay.io[RELAY_B]);
	w->relay.io[RELAY_B].fd = -1;
	assert_int_equal(relay_start(&w->relay, &w->loop, &w->pool,
				     &(struct relay_params){ .use_splice = true }, on_end),
			 -EBADF);
	assert_false(w->relay.started);
	close(fd_b);
	world_free(w);
}

static void pipe_pool_reuses_an_empty_pipe(void **state)
{
	struct pipe_pool pool;
	int p[2], q[2];

	assert_int_equal(pipe_pool_init(&pool, 0, 4), 0);
	assert_int_equal(pipe_pool_get(&pool, p), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(p[1], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	q[0] = p[0];
	q[1] = p[1];
	pipe_pool_put(&pool, p, true);
	assert_int_equal(p[0], -1);
	assert_int_equal(pool.idle_len, 1);
	assert_int_equal(pipe_pool_get(&pool, p), 0);
	assert_int_equal(p[0], q[0]);
	assert_int_equal(p[1], q[1]);
	assert_int_equal(pool.created, 1);
	assert_int_equal(pool.reused, 1);
	pipe_pool_put(&pool, p, true);
	pipe_pool_destroy(&pool);
	assert_int_equal(fcntl(q[0], F_GETFD), -1);
}

static void pipe_pool_keeps_at_most_max_idle_pipes(void **state)
{
	struct pipe_pool pool;
	int p[3][2], third[2];

	assert_int_equal(pipe_pool_init(&pool, 0, 2), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pipe_pool_get(&pool, p[i]), 0);
	third[0] = p[2][0];
	third[1] = p[2][1];
	for (int i = 0; i < 3; i++)
		pipe_pool_put(&pool, p[i], true);
	assert_int_equal(pool.idle_len, 2);
	assert_int_equal(fcntl(third[0], F_GETFD), -1);
	assert_int_equal(fcntl(third[1], F_GETFD), -1);
	pipe_pool_destroy(&pool);

	/* no idle list at all is a valid pool too */
	assert_int_equal(pipe_pool_init(&pool, 0, 0), 0);
	assert_int_equal(pipe_pool_get(&pool, p[0]), 0);
	pipe_pool_put(&pool, p[0], true);
	assert_int_equal(pool.idle_len, 0);
	pipe_pool_destroy(&pool);
}

static void pipe_pool_closes_a_pipe_that_may_hold_bytes(void **state)
{
	struct pipe_pool pool;
	int p[2], q[2];

	assert_int_equal(pipe_pool_init(&pool, 0, 4), 0);
	assert_int_equal(pipe_pool_get(&pool, p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	q[0] = p[0];
	q[1] = p[1];
	pipe_pool_put(&pool, p, false);
	assert_int_equal(pool.idle_len, 0);
	assert_int_equal(fcntl(q[0], F_GETFD), -1);
	assert_int_equal(pipe_pool_get(&pool, p), 0);
	assert_int_equal(pool.created, 2);
	assert_int_equal(pool.reused, 0);
	pipe_pool_put(&pool, p, true);
	pipe_pool_destroy(&pool);
}

static void pipe_pool_sizes_new_pipes(void **state)
{
	struct pipe_pool pool;
	int p[2], size;

	assert_int_equal(pipe_pool_init(&pool, MIB, 1), 0);
	assert_int_equal(pipe_pool_get(&pool, p), 0);
	size = fcntl(p[1], F_GETPIPE_SZ);
	/* root may exceed pipe-max-size; others may be refused and keep the default */
	if (geteuid() == 0)
		assert_int_equal(size, MIB);
	else
		assert_true(size >= 4096);
	pipe_pool_put(&pool, p, true);
	pipe_pool_destroy(&pool);
}

static void relay_end_names_are_distinct(void **state)
{
	for (int i = RELAY_END_NONE; i <= RELAY_END_ERROR; i++)
		for (int j = i + 1; j <= RELAY_END_ERROR; j++)
			assert_string_not_equal(relay_end_name(i), relay_end_name(j));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bulk_is_byte_exact_both_ways_with_splice_over_ipv4),
		cmocka_unit_test(bulk_is_byte_exact_both_ways_in_copy_mode_over_ipv4),
		cmocka_unit_test(bulk_is_byte_exact_both_ways_with_splice_over_ipv6),
		cmocka_unit_test(bulk_is_byte_exact_both_ways_in_copy_mode_over_ipv6),
		cmocka_unit_test(bulk_is_byte_exact_between_mptcp_and_tcp_with_splice),
		cmocka_unit_test(a_short_exchange_is_copied_and_takes_no_pipe),
		cmocka_unit_test(a_short_exchange_from_mptcp_is_copied_and_takes_no_pipe),
		cmocka_unit_test(prefix_bytes_arrive_first_on_their_own_side),
		cmocka_unit_test(bytes_queued_before_start_are_relayed_without_a_new_edge),
		cmocka_unit_test(half_close_keeps_the_other_direction_flowing),
		cmocka_unit_test(relayed_sockets_reset_on_close_until_their_direction_ends_cleanly),
		cmocka_unit_test(reset_by_a_ends_the_relay_and_resets_b),
		cmocka_unit_test(reset_by_b_ends_the_relay_and_resets_a),
		cmocka_unit_test(reset_after_a_fin_is_still_seen),
		cmocka_unit_test(idle_timeout_resets_both_sides_of_a_silent_relay),
		cmocka_unit_test(a_lost_edge_stalls_for_about_a_second_not_forever),
		cmocka_unit_test(activity_postpones_the_idle_timeout),
		cmocka_unit_test(a_busy_relay_yields_after_its_budget_and_then_resumes),
		cmocka_unit_test(backpressure_stops_reading_a_while_b_is_full_with_splice),
		cmocka_unit_test(backpressure_stops_reading_a_while_b_is_full_in_copy_mode),
		cmocka_unit_test(a_full_pipe_does_not_pass_for_a_drained_source),
		cmocka_unit_test(splice_refused_on_read_falls_back_to_copy),
		cmocka_unit_test(
			splice_refused_on_write_falls_back_to_copy_after_emptying_the_pipe),
		cmocka_unit_test(nothing_to_relay_ends_inside_relay_start),
		cmocka_unit_test(relay_close_before_start_only_closes_the_fds),
		cmocka_unit_test(relay_start_refuses_a_missing_side),
		cmocka_unit_test(pipe_pool_reuses_an_empty_pipe),
		cmocka_unit_test(pipe_pool_keeps_at_most_max_idle_pipes),
		cmocka_unit_test(pipe_pool_closes_a_pipe_that_may_hold_bytes),
		cmocka_unit_test(pipe_pool_sizes_new_pipes),
		cmocka_unit_test(relay_end_names_are_distinct),
	};

	/* splice() to a reset socket raises SIGPIPE (no MSG_NOSIGNAL there); the daemon ignores it
	 */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
