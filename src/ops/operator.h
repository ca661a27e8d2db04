/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_OPERATOR_H
#define MPCONV_OPERATOR_H

#include "config.h"
#include "ctl.h"
#include "http.h"
#include "loop.h"
#include "metrics.h"
#include "reply.h"
#include "status.h"

#include <stdint.h>

/*
 * What both roles serve an operator, set up the same way: the control socket (unless none),
 * the HTTP endpoint when metrics-listen is set (/metrics, /status.json, /history.json, the
 * page), and the history of link counters sampled once a second for the page's graph. A role
 * hands in its ctl_provider, its HTTP routes and how to read its links' counters; its own
 * answers stay in its own ops file.
 */
struct op_access {
	struct loop *loop;
	struct ctl ctl;
	struct ctl_provider provider; /* a copy */
	struct http http;
	struct http_handlers routes;
	struct status_history *history; /* owned; NULL without an HTTP endpoint */
	struct loop_timer sample;
	/* Fills rows with the links' counters now: how many, or -1 to skip this sample. */
	int (*read_links)(void *ctx, struct status_link *rows, size_t max);
	void *ctx; /* the role's: passed to read_links and to the routes */
	uint64_t started_ms;
};

/*
 * Starts serving on loop. A busy default control socket path is a warning, an explicit one or
 * the metrics address fatal. 0 or -errno (op_stop still cleans up). routes must outlive op.
 */
int op_start(struct op_access *op, struct loop *loop, const struct config_control *cfg,
	     const struct ctl_provider *provider, const struct http_route *routes,
	     size_t routes_len, int (*read_links)(void *ctx, struct status_link *rows, size_t max),
	     void *ctx);
/* Closes both endpoints (pending answers are cancelled) and frees the history. Idempotent. */
void op_stop(struct op_access *op);
/* Milliseconds since the epoch: the time stamps of /status.json and the history. */
uint64_t op_wall_ms(void);
uint64_t op_uptime_ms(const struct op_access *op);
/* /history.json. */
void op_history_json(const struct op_access *op, struct reply *r);
/* The families every role's /metrics starts with: build info, uptime, sessions open now. */
void op_metrics_common(struct metrics_writer *w, const struct op_access *op,
		       unsigned long sessions_open);

#endif
