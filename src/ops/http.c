// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A minimal HTTP/1.1 server: request-head parser, route table, status line and headers.
 * GET only, one request per connection, Content-Length always. Owns its listener through
 * serve.c; the bodies come from the routes. It never trusts the request: the head is bounded,
 * every byte checked, anything odd is a 400 and a close.
 */
#include "http.h"

#include "log.h"
#include "sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HTTP_MAX_CONNS	64
#define HTTP_TIMEOUT_MS 10000

static bool http_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* One line ending in LF (CRLF accepted); returns its length without the ending, or -1. */
static int http_line(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t len;

	if (!nl)
		return -1;
	len = (size_t)(nl - p);
	*next = nl + 1;
	if (len && p[len - 1] == '\r')
		len--;
	return (int)len;
}

static int http_parse_request_line(const char *p, size_t len, struct http_request *req)
{
	const char *end = p + len, *sp1, *sp2, *target, *q;
	size_t mlen, tlen;

	sp1 = memchr(p, ' ', len);
	if (!sp1)
		return -EBADMSG;
	mlen = (size_t)(sp1 - p);
	if (mlen == 0 || mlen >= sizeof(req->method))
		return -EBADMSG;
	for (size_t i = 0; i < mlen; i++)
		if (!http_tchar(p[i]))
			return -EBADMSG;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(end - target));
	if (!sp2)
		return -EBADMSG;
	tlen = (size_t)(sp2 - target);
	if (tlen == 0 || target[0] != '/')
		return -EBADMSG;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
			return -EBADMSG;
	if ((size_t)(end - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -EBADMSG;
	q = memchr(target, '?', tlen);
	if (q)
		tlen = (size_t)(q - target);
	if (tlen >= sizeof(req->path))
		return -EBADMSG;
	memcpy(req->method, p, mlen);
	req->method[mlen] = '\0';
	memcpy(req->path, target, tlen);
	req->path[tlen] = '\0';
	req->minor = sp2[8] - '0';
	return 0;
}

static int http_check_header(const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len);

	/* No name, a space before the colon, or obs-fold (a line starting with white space). */
	if (!colon || colon == p)
		return -EBADMSG;
	for (const char *c = p; c < colon; c++)
		if (!http_tchar(*c))
			return -EBADMSG;
	for (const char *c = colon + 1; c < p + len; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return -EBADMSG;
	return 0;
}

int http_parse_request(const char *in, size_t len, bool final, struct http_request *req)
{
	const char *p = in, *end = in + (len > HTTP_REQUEST_MAX ? HTTP_REQUEST_MAX : len), *next;
	int n, ret;

	*req = (struct http_request){ .minor = 0 };
	n = http_line(p, end, &next);
	if (n < 0)
		return len >= HTTP_REQUEST_MAX ? -E2BIG : final && len ? -EBADMSG : -EAGAIN;
	ret = http_parse_request_line(p, (size_t)n, req);
	if (ret < 0)
		return ret;
	for (p = next;;) {
		n = http_line(p, end, &next);
		if (n < 0)
			return len >= HTTP_REQUEST_MAX ? -E2BIG : final ? -EBADMSG : -EAGAIN;
		if (n == 0)
			return (int)(next - in);
		ret = http_check_header(p, (size_t)n);
		if (ret < 0)
			return ret;
		p = next;
	}
}

static int http_code(int status, const char **reason)
{
	switch (status) {
	case 0:
		*reason = "OK";
		return 200;
	case -EBADMSG:
		*reason = "Bad Request";
		return 400;
	case -ENOENT:
		*reason = "Not Found";
		return 404;
	case -EOPNOTSUPP:
		*reason = "Method Not Allowed";
		return 405;
	case -E2BIG:
		*reason = "Request Header Fields Too Large";
		return 431;
	case -EAGAIN:
	case -EBUSY:
		*reason = "Service Unavailable";
		return 503;
	default:
		*reason = "Internal Server Error";
		return 500;
	}
}

static void http_frame(struct serve *srv, struct reply *r)
{
	const char *reason, *type = r->type ? r->type : "text/plain; charset=utf-8";
	int code = http_code(r->status, &reason);

	if (code != 200) {
		type = "text/plain; charset=utf-8";
		if (r->len == 0)
			reply_puts(r, reason);
		reply_puts(r, "\n");
	}
	reply_prepend(r,
		      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s"
		      "Connection: close\r\n\r\n",
		      code, reason, type, r->len, code == 405 ? "Allow: GET\r\n" : "");
}

static int http_on_request(struct serve *srv, struct serve_conn *c, const char *in, size_t len,
			   bool eof, bool full)
{
	struct http *h = srv->ctx;
	struct reply *r = serve_conn_reply(c);
	struct http_request req;
	int ret = http_parse_request(in, len, eof || full, &req);

	if (ret == -EAGAIN)
		return ret;
	if (ret >= 0 && strcmp(req.method, "GET"))
		ret = -EOPNOTSUPP;
	if (ret < 0) {
		reply_done(r, ret);
		return 0;
	}
	for (size_t i = 0; i < h->handlers->routes_len; i++) {
		const struct http_route *route = &h->handlers->routes[i];

		if (strcmp(route->path, req.path))
			continue;
		r->type = route->type;
		ret = route->get(h->handlers->ctx, r);
		if (ret != REPLY_LATER)
			reply_done(r, ret);
		return 0;
	}
	reply_done(r, -ENOENT);
	return 0;
}

static const struct serve_ops http_ops = {
	.request = http_on_request,
	.frame = http_frame,
};

int http_serve(struct http *h, struct loop *loop, const struct addr_port *addr,
	       struct http_handlers *handlers, const struct http_route *routes, size_t len,
	       void *ctx)
{
	char err[HTTP_ERR_LEN], where[ADDR_STRLEN];
	int ret;

	*handlers = (struct http_handlers){ .routes = routes, .routes_len = len, .ctx = ctx };
	ret = http_start(h, loop, addr, handlers, err);
	if (ret < 0)
		log_warnx("%s", err);
	else
		log_info("metrics and status page on http://%s/", addr_format(addr, true, where));
	return ret;
}

int http_start(struct http *h, struct loop *loop, const struct addr_port *addr,
	       const struct http_handlers *handlers, char err[HTTP_ERR_LEN])
{
	const struct sock_listen_opts lopts = { .backlog = 64 };
	const struct serve_opts opts = {
		.max_request = HTTP_REQUEST_MAX,
		.max_conns = HTTP_MAX_CONNS,
		.timeout_ms = HTTP_TIMEOUT_MS,
	};
	char where[ADDR_STRLEN];
	bool mptcp;
	int fd, ret;

	*h = (struct http){ .handlers = handlers };
	fd = sock_listen(addr, &lopts, &mptcp);
	if (fd < 0) {
		snprintf(err, HTTP_ERR_LEN, "metrics-listen %s: %s", addr_format(addr, true, where),
			 strerror(-fd));
		return fd;
	}
	ret = serve_start(&h->srv, loop, fd, &http_ops, h, &opts);
	if (ret < 0) {
		snprintf(err, HTTP_ERR_LEN, "metrics-listen %s: %s", addr_format(addr, true, where),
			 strerror(-ret));
		close(fd);
		return ret;
	}
	h->started = true;
	return 0;
}

void http_stop(struct http *h)
{
	if (h->started)
		serve_stop(&h->srv);
	h->started = false;
}
