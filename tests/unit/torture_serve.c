// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the one-request server under clients that do not play along (issue 10): a silent
 * client is closed at the head deadline, not the whole one; one peer holds at most its cap and
 * cannot lock others out, not even from its own address; a full server makes room by closing
 * the connection that has waited longest for its request, never one whose answer is on its way;
 * peers are an IPv4 address, an IPv6 /64 or a unix uid. A toy line protocol on a real loop.
 */
#include "serve.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 16

struct fixture {
	struct loop loop;
	struct serve srv;
	struct loop_timer stop;
	bool later; /* answers wait in pending[] */
	struct reply *pending[MAX_CLIENTS];
	size_t pending_len;
	uint16_t port;
};

/* A request is one line; the answer is "ok\n". */
static int on_request(struct serve *srv, struct serve_conn *c, const char *in, size_t len, bool eof,
		      bool full)
{
	struct fixture *f = srv->ctx;
	struct reply *r = serve_conn_reply(c);

	if (!memchr(in, '\n', len) && !eof && !full)
		return -EAGAIN;
	reply_puts(r, "ok\n");
	if (f->later) {
		f->pending[f->pending_len++] = r;
		return 0;
	}
	reply_done(r, 0);
	return 0;
}

static const struct serve_ops ops = { .request = on_request };

static void on_stop(struct loop_timer *t)
{
	loop_stop(&container_of(t, struct fixture, stop)->loop);
}

static struct fixture *start(unsigned max_conns, unsigned max_per_peer, uint64_t head_ms)
{
	const struct serve_opts opts = {
		.max_request = 64,
		.max_conns = max_conns,
		.max_per_peer = max_per_peer,
		.head_timeout_ms = head_ms,
		.timeout_ms = 5000,
	};
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd;

	assert_non_null(f);
	assert_int_equal(loop_init(&f->loop), 0);
	loop_timer_init(&f->stop, on_stop);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_int_not_equal(fd, -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	assert_int_equal(serve_start(&f->srv, &f->loop, fd, &ops, f, &opts), 0);
	return f;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	serve_stop(&f->srv);
	loop_destroy(&f->loop);
	free(f);
	return 0;
}

static void run(struct fixture *f, uint64_t ms)
{
	loop_timer_arm(&f->loop, &f->stop, ms);
	loop_run(&f->loop);
}

/* A client from source address from (127.0.0.x: all of 127/8 is local), sending line if any. */
static int client(struct fixture *f, const char *from, const char *line)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = {
		.sin_family = AF_INET,
		.sin_port = htons(f->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_not_equal(fd, -1);
	assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	if (line)
		assert_int_equal(send(fd, line, strlen(line), 0), (ssize_t)strlen(line));
	run(f, 5); /* accepted, in the order of the calls */
	return fd;
}

enum state { OPEN, CLOSED, ANSWERED };

static enum state state_of(int fd)
{
	char buf[16];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n > 0)
		return ANSWERED;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return OPEN;
	return CLOSED; /* 0 (FIN) or a reset */
}

static void a_silent_client_is_closed_at_the_head_deadline(void **state)
{
	struct fixture *f = *state = start(8, 4, 50);
	int silent = client(f, "127.0.0.1", NULL);
	int partial = client(f, "127.0.0.1", "stat"); /* a line that never ends */
	int prompt = client(f, "127.0.0.1", "status\n");

	assert_int_equal(state_of(prompt), ANSWERED);
	assert_int_equal(state_of(silent), OPEN);
	assert_int_equal(state_of(partial), OPEN);
	run(f, 120); /* far below the whole deadline (5 s) */
	assert_int_equal(state_of(silent), CLOSED);
	assert_int_equal(state_of(partial), CLOSED);
	assert_int_equal(f->srv.conns_len, 0);
	close(silent);
	close(partial);
	close(prompt);
}

static void an_answer_on_its_way_keeps_the_whole_deadline(void **state)
{
	struct fixture *f = *state = start(8, 4, 50);
	int fd;

	f->later = true;
	fd = client(f, "127.0.0.1", "probe\n");
	run(f, 120); /* past the head deadline: the request is in, the answer may take longer */
	assert_int_equal(state_of(fd), OPEN);
	reply_done(f->pending[0], 0);
	run(f, 5);
	assert_int_equal(state_of(fd), ANSWERED);
	close(fd);
}

static void one_peer_holds_at_most_its_cap_and_its_own_newcomer_gets_in(void **state)
{
	struct fixture *f = *state = start(16, 3, 10000);
	int silent[3], fd;

	for (int i = 0; i < 3; i++)
		silent[i] = client(f, "127.0.0.1", NULL);
	assert_int_equal(f->srv.conns_len, 3);
	/* A scrape from the same address as a slow client: the slow one's oldest makes room. */
	fd = client(f, "127.0.0.1", "status\n");
	assert_int_equal(state_of(fd), ANSWERED);
	assert_int_equal(state_of(silent[0]), CLOSED);
	assert_int_equal(state_of(silent[1]), OPEN);
	assert_int_equal(state_of(silent[2]), OPEN);
	assert_int_equal(f->srv.evicted, 1);
	assert_int_equal(f->srv.refused, 0);
	/* The answered one is gone; two more slow ones: the second replaces the oldest again.
	 * Never more than 3 of its own. */
	close(fd);
	assert_int_equal(f->srv.conns_len, 2);
	silent[0] = client(f, "127.0.0.1", NULL);
	assert_int_equal(state_of(silent[1]), OPEN);
	fd = client(f, "127.0.0.1", NULL);
	assert_int_equal(state_of(silent[1]), CLOSED);
	assert_int_equal(f->srv.conns_len, 3);
	assert_int_equal(f->srv.evicted, 2);
	close(fd);
	for (int i = 0; i < 3; i++)
		close(silent[i]);
}

static void a_peer_at_its_cap_does_not_touch_other_peers(void **state)
{
	struct fixture *f = *state = start(16, 3, 10000);
	int silent[3], fd;

	for (int i = 0; i < 3; i++)
		silent[i] = client(f, "127.0.0.2", NULL);
	fd = client(f, "127.0.0.3", "status\n");
	assert_int_equal(state_of(fd), ANSWERED);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(state_of(silent[i]), OPEN);
		close(silent[i]);
	}
	assert_int_equal(f->srv.evicted, 0);
	close(fd);
}

static void a_full_server_closes_the_longest_waiting_request_to_make_room(void **state)
{
	static const char *const from[] = { "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3" };
	struct fixture *f = *state = start(4, 2, 10000);
	int silent[4], fd;

	for (int i = 0; i < 4; i++)
		silent[i] = client(f, from[i], NULL);
	assert_int_equal(f->srv.conns_len, 4);
	fd = client(f, "127.0.0.4", "status\n");
	assert_int_equal(state_of(fd), ANSWERED);
	assert_int_equal(state_of(silent[0]), CLOSED);
	for (int i = 1; i < 4; i++)
		assert_int_equal(state_of(silent[i]), OPEN);
	assert_int_equal(f->srv.evicted, 1);
	for (int i = 0; i < 4; i++)
		close(silent[i]);
	close(fd);
}

static void requests_being_answered_are_never_pushed_out(void **state)
{
	struct fixture *f = *state = start(2, 2, 10000);
	int busy[2], fd;

	f->later = true;
	busy[0] = client(f, "127.0.0.1", "probe\n");
	busy[1] = client(f, "127.0.0.2", "probe\n");
	fd = client(f, "127.0.0.3", "status\n");
	assert_int_equal(state_of(fd), CLOSED); /* turned away: nothing to make room with */
	assert_int_equal(f->srv.refused, 1);
	assert_int_equal(f->srv.evicted, 0);
	for (int i = 0; i < 2; i++)
		reply_done(f->pending[i], 0);
	run(f, 5);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(state_of(busy[i]), ANSWERED);
		close(busy[i]);
	}
	close(fd);
}

static void peers_are_addresses_v6_prefixes_and_unix_uids(void **state)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(sin6);
	struct serve_peer peer, want;
	int sv[2], l, c, a;
	uid_t uid = geteuid();

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	serve_peer_of(sv[0], &peer);
	memset(&want, 0, sizeof(want));
	want.kind = SERVE_PEER_UID;
	memcpy(want.id, &uid, sizeof(uid));
	assert_memory_equal(&peer, &want, sizeof(peer));
	close(sv[0]);
	close(sv[1]);

	/* ::1 over IPv6: an IP peer, its /64 (all zero here) and nothing of the rest. */
	l = socket(AF_INET6, SOCK_STREAM, 0);
	if (l == -1 || bind(l, (struct sockaddr *)&sin6, sizeof(sin6)) == -1) {
		if (l != -1)
			close(l);
		skip(); /* no IPv6 here */
	}
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin6, &len), 0);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	a = accept(l, NULL, NULL);
	assert_int_not_equal(a, -1);
	serve_peer_of(a, &peer);
	memset(&want, 0, sizeof(want));
	want.kind = SERVE_PEER_IP;
	assert_memory_equal(&peer, &want, sizeof(peer));
	close(a);
	close(c);
	close(l);

	/* Not a socket: a peer of unknown kind, still comparable. */
	serve_peer_of(-1, &peer);
	memset(&want, 0, sizeof(want));
	assert_memory_equal(&peer, &want, sizeof(peer));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_silent_client_is_closed_at_the_head_deadline, teardown),
		cmocka_unit_test_teardown(an_answer_on_its_way_keeps_the_whole_deadline, teardown),
		cmocka_unit_test_teardown(
			one_peer_holds_at_most_its_cap_and_its_own_newcomer_gets_in, teardown),
		cmocka_unit_test_teardown(a_peer_at_its_cap_does_not_touch_other_peers, teardown),
		cmocka_unit_test_teardown(
			a_full_server_closes_the_longest_waiting_request_to_make_room, teardown),
		cmocka_unit_test_teardown(requests_being_answered_are_never_pushed_out, teardown),
		cmocka_unit_test(peers_are_addresses_v6_prefixes_and_unix_uids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
