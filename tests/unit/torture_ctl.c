// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the control socket: the request-line parser (words, -j anywhere, bounds, bytes
 * refused), and the server end to end on a real loop and unix socket: OK and ERR framing, a
 * role without links says "not a gateway", asynchronous answers, a client that leaves before
 * its answer cancels it, a live socket is never stolen and a stale one is replaced.
 */
#include "ctl.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int parse(const char *text, bool final, struct ctl_request *req)
{
	return ctl_parse_request(text, strlen(text), final, req);
}

static void a_line_splits_into_words_and_json_flag_anywhere(void **state)
{
	struct ctl_request req;

	assert_int_equal(parse("sessions -j\n", false, &req), 12);
	assert_int_equal(req.argc, 1);
	assert_string_equal(req.argv[0], "sessions");
	assert_true(req.json);
	assert_int_equal(parse("  probe\tlte --json  dsl\r\n", false, &req), 25);
	assert_int_equal(req.argc, 3);
	assert_string_equal(req.argv[1], "lte");
	assert_string_equal(req.argv[2], "dsl");
	assert_true(req.json);
	assert_int_equal(parse("status\n", false, &req), 7);
	assert_false(req.json);
}

static void an_incomplete_line_waits_unless_final(void **state)
{
	struct ctl_request req;

	assert_int_equal(parse("stat", false, &req), -EAGAIN);
	assert_int_equal(parse("status", true, &req), 6);
	assert_string_equal(req.argv[0], "status");
}

static void malformed_lines_are_refused(void **state)
{
	static const char *const bad[] = {
		"\n",		"   \n",	"-j\n",
		"sta\x01tus\n", "status\x7f\n", "a b c d e f g h i\n", /* 9 words */
	};
	char longline[CTL_REQUEST_MAX + 10];
	struct ctl_request req;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], false, &req), -EBADMSG);
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(parse(longline, false, &req), -EBADMSG);
	longline[CTL_REQUEST_MAX] = '\n';
	longline[CTL_REQUEST_MAX + 1] = '\0';
	assert_int_equal(parse(longline, false, &req), CTL_REQUEST_MAX + 1);
	/* A NUL inside the line is a control byte too. */
	assert_int_equal(ctl_parse_request("sta\0tus\n", 8, false, &req), -EBADMSG);
}

/* ---- the server on a loop ---- */

struct fixture {
	struct loop loop;
	struct ctl ctl;
	struct ctl_provider provider;
	struct loop_timer stop, later;
	struct reply *pending;
	int cancelled;
	char dir[32], path[64];
};

static int fake_status(void *ctx, struct reply *r, const struct ctl_request *req)
{
	reply_printf(r, req->json ? "{\"role\":\"test\"}\n" : "role test\n");
	return 0;
}

static int fake_reload(void *ctx, struct reply *r, const struct ctl_request *req)
{
	reply_puts(r, "no configuration file\n");
	return -ENOENT;
}

static void fake_cancel(struct reply *r)
{
	struct fixture *f = r->cancel_arg;

	f->cancelled++;
	f->pending = NULL;
}

static void on_later(struct loop_timer *t)
{
	struct fixture *f = container_of(t, struct fixture, later);

	if (!f->pending)
		return;
	reply_puts(f->pending, "sessions, later\n");
	reply_done(f->pending, 0);
	f->pending = NULL;
}

static int fake_sessions(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct fixture *f = ctx;

	f->pending = r;
	r->cancel = fake_cancel;
	r->cancel_arg = f;
	loop_timer_arm(&f->loop, &f->later, 20);
	return REPLY_LATER;
}

static void on_stop(struct loop_timer *t)
{
	loop_stop(&container_of(t, struct fixture, stop)->loop);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[CTL_ERR_LEN];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/torture_ctl.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sub/ctl.sock", f->dir);
	assert_int_equal(loop_init(&f->loop), 0);
	loop_timer_init(&f->stop, on_stop);
	loop_timer_init(&f->later, on_later);
	f->provider = (struct ctl_provider){ .role = "converter",
					     .ctx = f,
					     .status = fake_status,
					     .sessions = fake_sessions,
					     .reload = fake_reload };
	assert_int_equal(ctl_start(&f->ctl, &f->loop, f->path, &f->provider, err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sub[48];

	ctl_stop(&f->ctl);
	loop_timer_cancel(&f->loop, &f->later);
	loop_destroy(&f->loop);
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	rmdir(sub);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client(const char *path, const char *request)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (request)
		assert_int_equal(send(fd, request, strlen(request), 0), (ssize_t)strlen(request));
	return fd;
}

/* Runs the loop for ms milliseconds. */
static void run(struct fixture *f, uint64_t ms)
{
	loop_timer_arm(&f->loop, &f->stop, ms);
	loop_run(&f->loop);
}

static void answer(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static void the_socket_is_group_only(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
}

static void answers_are_framed_ok_or_err(void **state)
{
	struct fixture *f = *state;
	int a = client(f->path, "status\n"), b = client(f->path, "status -j\n");
	int c = client(f->path, "links\n"), d = client(f->path, "reload\n");
	int e = client(f->path, "bogus\n"), g = client(f->path, "\x01\n");
	char buf[512];

	run(f, 30);
	answer(a, buf, sizeof(buf));
	assert_string_equal(buf, "OK\nrole test\n");
	answer(b, buf, sizeof(buf));
	assert_string_equal(buf, "OK\n{\"role\":\"test\"}\n");
	answer(c, buf, sizeof(buf));
	assert_string_equal(buf, "ERR links: not a gateway (this is mpconvd converter)\n");
	answer(d, buf, sizeof(buf));
	assert_string_equal(buf, "ERR no configuration file\n");
	answer(e, buf, sizeof(buf));
	assert_string_equal(buf, "ERR unknown command 'bogus' (try help)\n");
	answer(g, buf, sizeof(buf));
	assert_non_null(strstr(buf, "ERR malformed request"));
}

static enum { OPEN, CLOSED } state_of(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) ? OPEN : CLOSED;
}

/* Issue 10: a stuck script holding connections locked mpconvctl out until their deadline. */
static void silent_clients_of_one_uid_never_lock_mpconvctl_out(void **state)
{
	struct fixture *f = *state;
	int silent[20], fd, open_now = 0;
	char buf[64];

	for (int i = 0; i < 20; i++) {
		silent[i] = client(f->path, NULL);
		run(f, 2);
	}
	fd = client(f->path, "status\n");
	run(f, 10);
	answer(fd, buf, sizeof(buf));
	assert_string_equal(buf, "OK\nrole test\n");
	for (int i = 0; i < 20; i++)
		open_now += state_of(silent[i]) == OPEN;
	assert_int_equal(open_now, 7); /* 8 per uid, the answered one included */
	assert_int_equal(f->ctl.srv.evicted, 13);
	assert_int_equal(f->ctl.srv.refused, 0);
	/* And the survivors are closed two seconds after they connected, not thirty. */
	run(f, 2100);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(state_of(silent[i]), CLOSED);
		close(silent[i]);
	}
}

static void help_lists_only_what_the_role_offers(void **state)
{
	struct fixture *f = *state;
	int a = client(f->path, "help\n");
	char buf[1024];

	run(f, 30);
	answer(a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "sessions "));
	assert_null(strstr(buf, "probe"));
}

static void an_asynchronous_answer_arrives_later(void **state)
{
	struct fixture *f = *state;
	int a = client(f->path, "sessions\n");
	char buf[256];

	run(f, 5);
	assert_non_null(f->pending); /* asked, not answered yet */
	run(f, 60);
	answer(a, buf, sizeof(buf));
	assert_string_equal(buf, "OK\nsessions, later\n");
	assert_int_equal(f->cancelled, 0);
}

static void a_client_gone_before_its_answer_cancels_it(void **state)
{
	struct fixture *f = *state;
	int a = client(f->path, "sessions\n");

	run(f, 5);
	assert_non_null(f->pending);
	close(a);
	run(f, 60);
	assert_int_equal(f->cancelled, 1);
	assert_null(f->pending);
}

static void stopping_cancels_pending_answers_and_removes_the_socket(void **state)
{
	struct fixture *f = *state;
	int a = client(f->path, "sessions\n");
	struct stat st;

	run(f, 5);
	ctl_stop(&f->ctl);
	assert_int_equal(f->cancelled, 1);
	assert_int_equal(stat(f->path, &st), -1);
	close(a);
}

static void a_live_socket_is_never_taken_over_and_a_stale_one_is(void **state)
{
	struct fixture *f = *state;
	struct loop other;
	struct ctl second;
	char err[CTL_ERR_LEN];
	int fd, b;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[128];

	assert_int_equal(loop_init(&other), 0);
	assert_int_equal(ctl_start(&second, &other, f->path, &f->provider, err), -EADDRINUSE);
	assert_non_null(strstr(err, "another daemon"));
	/* Stale: a socket file nobody listens on. */
	ctl_stop(&f->ctl);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(ctl_start(&f->ctl, &f->loop, f->path, &f->provider, err), 0);
	b = client(f->path, "status\n");
	run(f, 20);
	answer(b, buf, sizeof(buf));
	assert_string_equal(buf, "OK\nrole test\n");
	/* Not a socket: refused, the file is left alone. */
	ctl_stop(&f->ctl);
	fd = open(f->path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(ctl_start(&second, &other, f->path, &f->provider, err), -EEXIST);
	unlink(f->path);
	assert_int_equal(ctl_start(&f->ctl, &f->loop, f->path, &f->provider, err), 0);
	loop_destroy(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_line_splits_into_words_and_json_flag_anywhere),
		cmocka_unit_test(an_incomplete_line_waits_unless_final),
		cmocka_unit_test(malformed_lines_are_refused),
		cmocka_unit_test_setup_teardown(the_socket_is_group_only, setup, teardown),
		cmocka_unit_test_setup_teardown(answers_are_framed_ok_or_err, setup, teardown),
		cmocka_unit_test_setup_teardown(silent_clients_of_one_uid_never_lock_mpconvctl_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(help_lists_only_what_the_role_offers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_asynchronous_answer_arrives_later, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_client_gone_before_its_answer_cancels_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			stopping_cancels_pending_answers_and_removes_the_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_live_socket_is_never_taken_over_and_a_stale_one_is, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
