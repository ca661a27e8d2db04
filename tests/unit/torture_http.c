// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the HTTP endpoint: the request-head parser against a table of good and bad heads
 * (bounds, request line, header syntax, obs-fold, query strings), and the server on a real loop:
 * routes, 404, 405, 400, Content-Length framing, asynchronous routes.
 */
#include "http.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct vector {
	const char *head;
	bool final;
	int expect; /* > 0: the whole head's length; or -errno */
	const char *path;
};

static const struct vector vectors[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", false, 0, "/metrics" },
	{ "GET / HTTP/1.0\n\n", false, 0, "/" },
	{ "GET /status.json?t=123 HTTP/1.1\r\nAccept: */*\r\n\r\n", false, 0, "/status.json" },
	{ "POST /metrics HTTP/1.1\r\n\r\n", false, 0, "/metrics" }, /* method checked later */
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", false, -EAGAIN, NULL },
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", true, -EBADMSG, NULL },
	{ "GET /metri", false, -EAGAIN, NULL },
	{ "", false, -EAGAIN, NULL },
	{ "GET metrics HTTP/1.1\r\n\r\n", false, -EBADMSG, NULL }, /* not origin-form */
	{ "GET /a b HTTP/1.1\r\n\r\n", false, -EBADMSG, NULL },	   /* space in target */
	{ "GET /\x01 HTTP/1.1\r\n\r\n", false, -EBADMSG, NULL },   /* control byte */
	{ "GET / HTTP/2.0\r\n\r\n", false, -EBADMSG, NULL },	   /* version */
	{ "GET / HTTP/1.1 \r\n\r\n", false, -EBADMSG, NULL },	   /* trailing space */
	{ "GET  / HTTP/1.1\r\n\r\n", false, -EBADMSG, NULL },	   /* double space */
	{ "G(T / HTTP/1.1\r\n\r\n", false, -EBADMSG, NULL },	   /* not a token */
	{ "GET / HTTP/1.1\r\nNo colon\r\n\r\n", false, -EBADMSG, NULL },
	{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", false, -EBADMSG, NULL }, /* space before colon */
	{ "GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n", false, -EBADMSG, NULL },
	{ "GET / HTTP/1.1\r\n: empty\r\n\r\n", false, -EBADMSG, NULL },
	{ "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", false, -EBADMSG, NULL },
};

static void request_heads_parse_as_the_table_says(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		struct http_request req;
		int ret = http_parse_request(v->head, strlen(v->head), v->final, &req);
		int expect = v->expect == 0 ? (int)strlen(v->head) : v->expect;

		if (ret != expect)
			fail_msg("vector %zu (%s): %d, expected %d", i, v->head, ret, expect);
		if (v->path)
			assert_string_equal(req.path, v->path);
	}
}

static void a_head_longer_than_the_bound_is_refused(void **state)
{
	size_t len = HTTP_REQUEST_MAX + 100;
	char *big = malloc(len + 1);
	struct http_request req;

	assert_non_null(big);
	memset(big, 'a', len);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	big[len] = '\0';
	assert_int_equal(http_parse_request(big, len, false, &req), -E2BIG);
	assert_int_equal(http_parse_request(big, HTTP_REQUEST_MAX, true, &req), -E2BIG);
	free(big);
}

static void a_long_path_is_refused(void **state)
{
	char head[HTTP_PATH_MAX + 64];
	struct http_request req;

	snprintf(head, sizeof(head), "GET /%0*d HTTP/1.1\r\n\r\n", HTTP_PATH_MAX, 0);
	assert_int_equal(http_parse_request(head, strlen(head), false, &req), -EBADMSG);
}

/* ---- the server ---- */

struct fixture {
	struct loop loop;
	struct http http;
	struct http_handlers handlers;
	struct loop_timer stop, later;
	struct reply *pending;
	uint16_t port;
};

static int get_hello(void *ctx, struct reply *r)
{
	reply_puts(r, "hello\n");
	return 0;
}

static int get_broken(void *ctx, struct reply *r)
{
	reply_puts(r, "it broke");
	return -EIO;
}

static void on_later(struct loop_timer *t)
{
	struct fixture *f = container_of(t, struct fixture, later);

	reply_puts(f->pending, "{\"late\":true}");
	reply_done(f->pending, 0);
}

static int get_later(void *ctx, struct reply *r)
{
	struct fixture *f = ctx;

	f->pending = r;
	loop_timer_arm(&f->loop, &f->later, 10);
	return REPLY_LATER;
}

static const struct http_route routes[] = {
	{ "/hello", "text/plain; charset=utf-8", get_hello },
	{ "/broken", "text/plain", get_broken },
	{ "/later", "application/json", get_later },
};

static void on_stop(struct loop_timer *t)
{
	loop_stop(&container_of(t, struct fixture, stop)->loop);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct addr_port ap;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char err[HTTP_ERR_LEN];

	assert_non_null(f);
	assert_int_equal(loop_init(&f->loop), 0);
	loop_timer_init(&f->stop, on_stop);
	loop_timer_init(&f->later, on_later);
	f->handlers = (struct http_handlers){ routes, 3, f };
	assert_true(addr_parse("127.0.0.1", 1, &ap));
	ap.port = 0; /* any free port */
	assert_int_equal(http_start(&f->http, &f->loop, &ap, &f->handlers, err), 0);
	assert_int_equal(getsockname(f->http.srv.listener.fd, (struct sockaddr *)&ss, &len), 0);
	f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	http_stop(&f->http);
	loop_timer_cancel(&f->loop, &f->later);
	loop_destroy(&f->loop);
	free(f);
	return 0;
}

static int client(struct fixture *f, const char *request)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(f->port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(send(fd, request, strlen(request), 0), (ssize_t)strlen(request));
	return fd;
}

static void exchange(struct fixture *f, const char *request, char *buf, size_t cap)
{
	int fd = client(f, request);
	ssize_t n;

	loop_timer_arm(&f->loop, &f->stop, 40);
	loop_run(&f->loop);
	n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static void a_route_answers_with_length_and_type(void **state)
{
	char buf[1024];

	exchange(*state, "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 6\r\n"));
	assert_non_null(strstr(buf, "Connection: close\r\n\r\nhello\n"));
}

static void errors_get_their_status_codes(void **state)
{
	char buf[1024];

	exchange(*state, "GET /nope HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
	exchange(*state, "DELETE /hello HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(buf, "Allow: GET\r\n"));
	exchange(*state, "GET /hello HTTP/1.1\r\nbad header\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	exchange(*state, "GET /broken HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 500 Internal Server Error\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\nit broke\n"));
}

static void an_asynchronous_route_answers_later(void **state)
{
	char buf[1024];

	exchange(*state, "GET /later HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 13\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\n{\"late\":true}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_heads_parse_as_the_table_says),
		cmocka_unit_test(a_head_longer_than_the_bound_is_refused),
		cmocka_unit_test(a_long_path_is_refused),
		cmocka_unit_test_setup_teardown(a_route_answers_with_length_and_type, setup,
						teardown),
		cmocka_unit_test_setup_teardown(errors_get_their_status_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(an_asynchronous_route_answers_later, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
