/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_HTTP_H
#define MPCONV_HTTP_H

#include "addr.h"
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
 * For the gateway (one event loop):
 *   static const struct http_route gw_routes[] = {
 *	{ "/metrics", HTTP_METRICS_TYPE, gw_metrics },  ...  };
 *   gw->routes = (struct http_handlers){ gw_routes, n, gw };
 *   http_start(&gw->http, &gw->loop, &cfg->control.metrics_listen, &gw->routes, err);
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
	bool started;
};

/* Listens on addr (TCP) and serves on loop. 0, or -errno with err filled in. */
int http_start(struct http *h, struct loop *loop, const struct addr_port *addr,
	       const struct http_handlers *handlers, char err[HTTP_ERR_LEN]);
void http_stop(struct http *h);
/* A role's metrics and status page: handlers = routes + ctx, http_start, and the address in the
 * log (failures logged too). 0 or -errno. */
int http_serve(struct http *h, struct loop *loop, const struct addr_port *addr,
	       struct http_handlers *handlers, const struct http_route *routes, size_t len,
	       void *ctx);

struct http_request {
	char method[16];
	char path[HTTP_PATH_MAX]; /* without the query string */
	int minor;		  /* HTTP/1.minor */
};

/*
 * Parses a request head (request line and headers, up to the empty line) from in[0..len).
 * final: no more bytes will come. Returns the head's length, -EAGAIN when incomplete,
 * -E2BIG when it does not end within HTTP_REQUEST_MAX bytes, -EBADMSG when malformed
 * (the method is not checked: any token is returned). Pure.
 */
int http_parse_request(const char *in, size_t len, bool final, struct http_request *req);

#endif
