// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the HTTP endpoint: the request-head parser against a table of good and bad heads
 * (bounds, request line, header syntax, obs-fold, query strings, Host and Origin), the Host and
 * Origin checks against DNS rebinding, and the server on a real loop: routes, 404, 405, 400,
 * 421, 403, Content-Length framing, asynchronous routes, no CORS header.
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
	/* Two Host or two Origin headers: which one would a proxy in front have checked? */
	{ "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", false, -EBADMSG, NULL },
	{ "GET / HTTP/1.1\r\nHost: a\r\nOrigin: x\r\nORIGIN: y\r\n\r\n", false, -EBADMSG, NULL },
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

static void host_and_origin_are_kept_trimmed(void **state)
{
	static const char head[] = "GET / HTTP/1.1\r\nX-Host: no\r\nhOsT: \t[::1]:9124 \r\n"
				   "Origin:http://localhost:9124\r\n\r\n";
	struct http_request req;

	assert_int_equal(http_parse_request(head, strlen(head), false, &req), (int)strlen(head));
	assert_int_equal(req.host_len, strlen("[::1]:9124"));
	assert_memory_equal(req.host, "[::1]:9124", req.host_len);
	assert_int_equal(req.origin_len, strlen("http://localhost:9124"));
	assert_memory_equal(req.origin, "http://localhost:9124", req.origin_len);
	assert_int_equal(http_parse_request("GET / HTTP/1.0\r\n\r\n", 18, false, &req), 18);
	assert_null(req.host);
	assert_null(req.origin);
}

/* ---- Host and Origin: who may ask (DNS rebinding) ---- */

static void listen_on(struct config_metrics_listen *l, const char *addr, const char *const *hosts)
{
	*l = (struct config_metrics_listen){ .hosts_len = 0 };
	assert_true(addr_parse(addr, 9124, &l->addr));
	for (; hosts && *hosts; hosts++)
		strcpy(l->hosts[l->hosts_len++], *hosts);
}

static void only_known_hosts_are_answered(void **state)
{
	static const char *const extra[] = { "metrics.example.net", "192.0.2.7", "[2001:db8::7]",
					     "2001:db8::8", NULL };
	static const struct {
		const char *listen, *host;
		bool extra, allowed;
	} hosts[] = {
		/* the loopback names and addresses, with or without a port */
		{ "127.0.0.1", "localhost", false, true },
		{ "127.0.0.1", "LocalHost:9124", false, true },
		{ "127.0.0.1", "localhost.", false, true },
		{ "127.0.0.1", "127.0.0.1", false, true },
		{ "127.0.0.1", "127.0.0.1:9124", false, true },
		{ "127.0.0.1", "127.0.0.2:80", false, true },
		{ "127.0.0.1", "[::1]", false, true },
		{ "127.0.0.1", "[::1]:9124", false, true },
		{ "127.0.0.1", "127.0.0.1:", false,
		  true }, /* an empty port is allowed by RFC 3986 */
		/* its own listen address */
		{ "192.0.2.1", "192.0.2.1:9124", false, true },
		{ "[2001:db8::1]", "[2001:db8::1]:9124", false, true },
		{ "[2001:db8::1]", "[2001:db8:0::1]", false, true },
		{ "192.0.2.1", "192.0.2.2:9124", false, false },
		/* DNS rebinding: a name that is not ours, whatever it resolves to now */
		{ "127.0.0.1", "evil.example", false, false },
		{ "127.0.0.1", "evil.example:9124", false, false },
		{ "127.0.0.1", "localhost.evil.example", false, false },
		{ "127.0.0.1", "localhostx", false, false },
		{ "127.0.0.1", "metrics.example.net", false, false },
		/* metrics-host names and addresses */
		{ "127.0.0.1", "metrics.example.net", true, true },
		{ "127.0.0.1", "METRICS.example.net.:443", true, true },
		{ "127.0.0.1", "192.0.2.7:9124", true, true },
		{ "127.0.0.1", "[2001:db8::7]", true, true },
		{ "127.0.0.1", "[2001:db8::8]:1", true, true },
		{ "127.0.0.1", "example.net", true, false },
		/* malformed */
		{ "127.0.0.1", "", false, false },
		{ "127.0.0.1", ":9124", false, false },
		{ "127.0.0.1", "::1", false, false },
		{ "127.0.0.1", "[::1", false, false },
		{ "127.0.0.1", "[::1]x", false, false },
		{ "127.0.0.1", "[127.0.0.1]", false, false },
		{ "127.0.0.1", "localhost:http", false, false },
		{ "127.0.0.1", "localhost:123456", false, false },
		{ "127.0.0.1", "localhost:1:2", false, false },
	};

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct config_metrics_listen l;

		listen_on(&l, hosts[i].listen, hosts[i].extra ? extra : NULL);
		if (http_host_allowed(&l, hosts[i].host, strlen(hosts[i].host)) != hosts[i].allowed)
			fail_msg("listening on %s%s, Host '%s' %s", hosts[i].listen,
				 hosts[i].extra ? " with metrics-host" : "", hosts[i].host,
				 hosts[i].allowed ? "refused" : "answered");
	}
}

static void only_our_own_origins_are_answered(void **state)
{
	static const struct {
		const char *origin;
		bool allowed;
	} origins[] = {
		{ "http://127.0.0.1:9124", true },
		{ "http://localhost:9124", true },
		{ "HTTPS://localhost", true },
		{ "http://[::1]:9124", true },
		{ "http://evil.example", false },
		{ "http://evil.example:9124", false },
		{ "null", false },
		{ "file://", false },
		{ "ftp://localhost", false },
		{ "http://", false },
		{ "http://localhost/", false },
		{ "localhost", false },
	};
	struct config_metrics_listen l;

	listen_on(&l, "127.0.0.1", NULL);
	for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++)
		if (http_origin_allowed(&l, origins[i].origin, strlen(origins[i].origin)) !=
		    origins[i].allowed)
			fail_msg("Origin '%s' %s", origins[i].origin,
				 origins[i].allowed ? "refused" : "answered");
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
	struct config_metrics_listen ml = { .hosts = { "metrics.example.net" }, .hosts_len = 1 };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char err[HTTP_ERR_LEN];

	assert_non_null(f);
	assert_int_equal(loop_init(&f->loop), 0);
	loop_timer_init(&f->stop, on_stop);
	loop_timer_init(&f->later, on_later);
	f->handlers = (struct http_handlers){ routes, 3, f };
	assert_true(addr_parse("127.0.0.1", 1, &ml.addr));
	ml.addr.port = 0; /* any free port */
	assert_int_equal(http_start(&f->http, &f->loop, &ml, &f->handlers, err), 0);
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

	exchange(*state, "GET /hello?x=1 HTTP/1.1\r\nHost: localhost:9124\r\n\r\n", buf,
		 sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 6\r\n"));
	assert_non_null(strstr(buf, "Connection: close\r\n\r\nhello\n"));
}

static void errors_get_their_status_codes(void **state)
{
	char buf[1024];

	exchange(*state, "GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
	exchange(*state, "DELETE /hello HTTP/1.1\r\nHost: localhost\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(buf, "Allow: GET\r\n"));
	exchange(*state, "GET /hello HTTP/1.1\r\nHost: localhost\r\nbad header\r\n\r\n", buf,
		 sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	exchange(*state, "GET /broken HTTP/1.1\r\nHost: localhost\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 500 Internal Server Error\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\nit broke\n"));
}

static void rebinding_and_cross_origin_requests_are_refused(void **state)
{
	char buf[1024];

	exchange(*state, "GET /hello HTTP/1.1\r\nHost: evil.example:9124\r\n\r\n", buf,
		 sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 421 Misdirected Request\r\n"));
	assert_null(strstr(buf, "hello"));
	exchange(*state,
		 "GET /hello HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n",
		 buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 403 Forbidden\r\n"));
	assert_null(strstr(buf, "hello"));
	exchange(*state, "GET /hello HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	/* Not refused: HTTP/1.0 without Host (no browser), a configured name, our own origin. */
	exchange(*state, "GET /hello HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	exchange(*state, "GET /hello HTTP/1.1\r\nHost: Metrics.Example.Net:9124\r\n\r\n", buf,
		 sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	exchange(*state,
		 "GET /hello HTTP/1.1\r\nHost: [::1]\r\nOrigin: http://127.0.0.1:9124\r\n\r\n", buf,
		 sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
}

static void answers_carry_no_cors_and_are_neither_cached_nor_sniffed(void **state)
{
	static const char *const requests[] = {
		"GET /hello HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: evil.example\r\n\r\n",
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		exchange(*state, requests[i], buf, sizeof(buf));
		assert_non_null(strstr(buf, "\r\nCache-Control: no-store\r\n"));
		assert_non_null(strstr(buf, "\r\nX-Content-Type-Options: nosniff\r\n"));
		assert_null(strcasestr(buf, "Access-Control-"));
	}
}

static void an_asynchronous_route_answers_later(void **state)
{
	char buf[1024];

	exchange(*state, "GET /later HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 13\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\n{\"late\":true}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_heads_parse_as_the_table_says),
		cmocka_unit_test(host_and_origin_are_kept_trimmed),
		cmocka_unit_test(only_known_hosts_are_answered),
		cmocka_unit_test(only_our_own_origins_are_answered),
		cmocka_unit_test(a_head_longer_than_the_bound_is_refused),
		cmocka_unit_test(a_long_path_is_refused),
		cmocka_unit_test_setup_teardown(a_route_answers_with_length_and_type, setup,
						teardown),
		cmocka_unit_test_setup_teardown(errors_get_their_status_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(rebinding_and_cross_origin_requests_are_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			answers_carry_no_cors_and_are_neither_cached_nor_sniffed, setup, teardown),
		cmocka_unit_test_setup_teardown(an_asynchronous_route_answers_later, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
