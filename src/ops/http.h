/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_HTTP_H
#define MPCONV_HTTP_H

#include "addr.h"
#include "config.h"
#include "loop.h"
#include "reply.h"
#include "serve.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * A tiny HTTP/1.1 server for /metrics, /status.json and the status page: GET only, one request
 * per connection (Connection: close), bounded request head, answers with Content-Length.
 *
 * Routes are exact paths (the query string is ignored). A route's get() answers into r like a
 * ctl callback (reply.h): 0, -errno (a 500 with the message, 503 for -EAGAIN/-EBUSY), or
 * REPLY_LATER. The media type is the route's.
 *
 * Against DNS rebinding (a web page whose name is re-pointed at 127.0.0.1 reading /status.json
 * through the victim's browser): a request is answered only when its Host is one the endpoint
 * knows (localhost, a loopback address, its own listen address, or a metrics-host), with any
 * port; else 421. A request with an Origin header (a browser's cross-origin fetch) is refused
 * with 403 unless that origin's host is one of those too. No CORS header is ever sent, so no
 * other origin may read an answer; every answer has Cache-Control: no-store and nosniff.
 *
 * For the gateway (one event loop):
 *   static const struct http_route gw_routes[] = {
 *	{ "/metrics", HTTP_METRICS_TYPE, gw_metrics },  ...  };
 *   gw->routes = (struct http_handlers){ gw_routes, n, gw };
 *   http_start(&gw->http, &gw->loop, &cfg->control.metrics_listen, &gw->routes, err);
 * (metrics_listen: the address and the extra Host names, copied at start.)
 *   ...
 *   http_stop(&gw->http);
 * The status page needs three routes: "/" (webui_page), "/status.json" and "/history.json"
 * (shapes in status.h; a struct status_history sampled once a second by a loop timer).
 */
#define HTTP_REQUEST_MAX  8192
#define HTTP_PATH_MAX	  256
#define HTTP_ERR_LEN	  256
#define HTTP_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct http_route {
	const char *path;
	const char *type;
	int (*get)(void *ctx, struct reply *r);
};

struct http_handlers {
	const struct http_route *routes;
	size_t routes_len;
	void *ctx;
};

struct http {
	struct serve srv;
	const struct http_handlers *handlers;
	struct config_metrics_listen listen; /* a copy: where, and the Host names answered */
	bool started;
};

/* Listens on listen->addr (TCP) and serves on loop. 0, or -errno with err filled in. */
int http_start(struct http *h, struct loop *loop, const struct config_metrics_listen *listen,
	       const struct http_handlers *handlers, char err[HTTP_ERR_LEN]);
void http_stop(struct http *h);
/* A role's metrics and status page: handlers = routes + ctx, http_start, and the address in the
 * log (failures logged too). 0 or -errno. */
int http_serve(struct http *h, struct loop *loop, const struct config_metrics_listen *listen,
	       struct http_handlers *handlers, const struct http_route *routes, size_t len,
	       void *ctx);

struct http_request {
	char method[16];
	char path[HTTP_PATH_MAX]; /* without the query string */
	int minor;		  /* HTTP/1.minor */
	/* Header values, trimmed, as views into the caller's buffer; NULL when absent. */
	const char *host, *origin;
	size_t host_len, origin_len;
};

/*
 * Parses a request head (request line and headers, up to the empty line) from in[0..len).
 * final: no more bytes will come. Returns the head's length, -EAGAIN when incomplete,
 * -E2BIG when it does not end within HTTP_REQUEST_MAX bytes, -EBADMSG when malformed or with
 * two Host or two Origin headers (the method is not checked: any token is returned). Pure.
 */
int http_parse_request(const char *in, size_t len, bool final, struct http_request *req);

/*
 * Does the endpoint listening as listen answer to this Host header value (host[0..len))?
 * "name", "name:port", "a.b.c.d[:port]", "[v6][:port]": yes for localhost, any loopback
 * address, the listen address, and listen->hosts (names without case or a final dot,
 * addresses by value). Any port. Pure.
 */
bool http_host_allowed(const struct config_metrics_listen *listen, const char *host, size_t len);
/* An Origin header value: true for http:// or https:// and an allowed host[:port]; "null" and
 * anything else is refused. Pure. */
bool http_origin_allowed(const struct config_metrics_listen *listen, const char *origin,
			 size_t len);

#endif
