// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A minimal HTTP/1.1 server: request-head parser, route table, status line and headers.
 * GET only, one request per connection, Content-Length always. Owns its listener through
 * serve.c; the bodies come from the routes. It never trusts the request: the head is bounded,
 * every byte checked, anything odd is a 400 and a close; it answers only to Host names it knows
 * and to no other web origin (DNS rebinding), and lets no browser share an answer across
 * origins (no CORS header, ever).
 */
#include "http.h"

#include "log.h"
#include "sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * A scraper or a browser sends its request at once: HTTP_HEAD_TIMEOUT_MS to deliver it, and one
 * address (an IPv6 /64) holds at most HTTP_MAX_PER_PEER connections, so slow or silent clients
 * cannot lock scrapes out (serve.c: at a cap the longest-waiting request makes room).
 */
#define HTTP_MAX_CONNS	     64
#define HTTP_MAX_PER_PEER    8
#define HTTP_HEAD_TIMEOUT_MS 2000
#define HTTP_TIMEOUT_MS	     10000

/* Statuses of our own, as the -errno a reply carries (http_code). */
#define HTTP_MISDIRECTED (-ENXIO)  /* 421: a Host we do not answer to */
#define HTTP_FORBIDDEN	 (-EACCES) /* 403: a request from another web origin */

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

/* Is the header line p[0..len) named name (case-insensitive)? */
static bool http_header_is(const char *p, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && p[n] == ':' && !strncasecmp(p, name, n);
}

/* The value of a header line, without the white space around it. */
static const char *http_header_value(const char *p, size_t len, size_t *value_len)
{
	const char *v = (const char *)memchr(p, ':', len) + 1, *end = p + len;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value_len = (size_t)(end - v);
	return v;
}

/* Checks one header line; keeps Host and Origin (a second one of either is malformed). */
static int http_check_header(const char *p, size_t len, struct http_request *req)
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
	if (http_header_is(p, len, "Host")) {
		if (req->host)
			return -EBADMSG;
		req->host = http_header_value(p, len, &req->host_len);
	} else if (http_header_is(p, len, "Origin")) {
		if (req->origin)
			return -EBADMSG;
		req->origin = http_header_value(p, len, &req->origin_len);
	}
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
		ret = http_check_header(p, (size_t)n, req);
		if (ret < 0)
			return ret;
		p = next;
	}
}

/*
 * Splits a Host value, "name[:port]" or "[v6][:port]", into its name (without the brackets)
 * and whether it was bracketed. The port, if any, must be digits; its value does not matter.
 */
static bool http_host_split(const char *host, size_t len, const char **name, size_t *name_len,
			    bool *bracketed)
{
	const char *end = host + len, *port;

	if (len == 0)
		return false;
	*bracketed = host[0] == '[';
	if (*bracketed) {
		const char *rb = memchr(host, ']', len);

		if (!rb)
			return false;
		*name = host + 1;
		*name_len = (size_t)(rb - host - 1);
		port = rb + 1 < end ? rb + 1 : NULL;
		if (port && *port != ':')
			return false;
	} else {
		port = memchr(host, ':', len);
		*name = host;
		*name_len = port ? (size_t)(port - host) : len;
	}
	if (port) {
		if (end - port - 1 > 5)
			return false;
		for (const char *c = port + 1; c < end; c++)
			if (*c < '0' || *c > '9')
				return false;
	}
	return *name_len > 0;
}

/* An IP address literal, IPv6 only in brackets (as in a URL), IPv4 only without. */
static bool http_host_ip(const char *name, size_t len, bool bracketed, uint8_t ip[16])
{
	char buf[64];

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (bracketed != (strchr(buf, ':') != NULL))
		return false;
	return addr_parse_ip(buf, ip);
}

/* Names compare without case and without one final dot ("localhost." is localhost). */
static bool http_host_name_is(const char *name, size_t len, const char *want)
{
	if (len > 0 && name[len - 1] == '.')
		len--;
	return strlen(want) == len && !strncasecmp(name, want, len);
}

bool http_host_allowed(const struct config_metrics_listen *listen, const char *host, size_t len)
{
	const char *name;
	size_t name_len;
	bool bracketed;
	uint8_t ip[16], want[16];

	if (!http_host_split(host, len, &name, &name_len, &bracketed))
		return false;
	if (http_host_ip(name, name_len, bracketed, ip)) {
		/* An address in the URL is no DNS name to re-point: the loopback ones and our own
		 * are safe; any other must be listed (it may be a proxy's, say). */
		if (addr_is_loopback(ip) || !memcmp(ip, listen->addr.ip, 16))
			return true;
		for (size_t i = 0; i < listen->hosts_len; i++) {
			const char *h = listen->hosts[i];
			size_t hl = strlen(h);
			bool b = h[0] == '[' && hl > 2;

			if (http_host_ip(b ? h + 1 : h, b ? hl - 2 : hl, strchr(h, ':') != NULL,
					 want) &&
			    !memcmp(ip, want, 16))
				return true;
		}
		return false;
	}
	if (bracketed)
		return false;
	if (http_host_name_is(name, name_len, "localhost"))
		return true;
	for (size_t i = 0; i < listen->hosts_len; i++)
		if (http_host_name_is(name, name_len, listen->hosts[i]))
			return true;
	return false;
}

bool http_origin_allowed(const struct config_metrics_listen *listen, const char *origin, size_t len)
{
	static const char *const schemes[] = { "http://", "https://" };

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);

		if (len > n && !strncasecmp(origin, schemes[i], n))
			return !memchr(origin + n, '/', len - n) &&
			       http_host_allowed(listen, origin + n, len - n);
	}
	return false; /* "null" (a sandboxed or file: page) and anything else */
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
	case HTTP_FORBIDDEN:
		*reason = "Forbidden";
		return 403;
	case -EOPNOTSUPP:
		*reason = "Method Not Allowed";
		return 405;
	case HTTP_MISDIRECTED:
		*reason = "Misdirected Request";
		return 421;
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
	/* HTTP/1.1 requires Host (RFC 9112, 3.2); browsers always send it. */
	if (ret >= 0 && !req.host && req.minor == 1)
		ret = -EBADMSG;
	if (ret >= 0 && req.host && !http_host_allowed(&h->listen, req.host, req.host_len)) {
		reply_puts(r, "Misdirected Request: not a Host name this endpoint answers to "
			      "(localhost, a loopback address, its own address, or one set with "
			      "metrics-host)");
		ret = HTTP_MISDIRECTED;
	}
	if (ret >= 0 && req.origin &&
	    !http_origin_allowed(&h->listen, req.origin, req.origin_len)) {
		reply_puts(r, "Forbidden: requests from other web origins are not answered");
		ret = HTTP_FORBIDDEN;
	}
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

int http_serve(struct http *h, struct loop *loop, const struct config_metrics_listen *listen,
	       struct http_handlers *handlers, const struct http_route *routes, size_t len,
	       void *ctx)
{
	char err[HTTP_ERR_LEN], where[ADDR_STRLEN];
	int ret;

	*handlers = (struct http_handlers){ .routes = routes, .routes_len = len, .ctx = ctx };
	ret = http_start(h, loop, listen, handlers, err);
	if (ret < 0)
		log_warnx("%s", err);
	else
		log_info("metrics and status page on http://%s/",
			 addr_format(&listen->addr, true, where));
	return ret;
}

int http_start(struct http *h, struct loop *loop, const struct config_metrics_listen *listen,
	       const struct http_handlers *handlers, char err[HTTP_ERR_LEN])
{
	const struct sock_listen_opts lopts = { .backlog = 64 };
	const struct serve_opts opts = {
		.max_request = HTTP_REQUEST_MAX,
		.max_conns = HTTP_MAX_CONNS,
		.max_per_peer = HTTP_MAX_PER_PEER,
		.head_timeout_ms = HTTP_HEAD_TIMEOUT_MS,
		.timeout_ms = HTTP_TIMEOUT_MS,
	};
	const struct addr_port *addr = &listen->addr;
	char where[ADDR_STRLEN];
	bool mptcp;
	int fd, ret;

	*h = (struct http){ .handlers = handlers, .listen = *listen };
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
