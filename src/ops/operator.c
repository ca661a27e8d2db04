// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The operator access both roles share (operator.h): control socket and HTTP endpoint set up
 * and torn down in one place, the history sampler, the wall clock and the first metric
 * families. It owns the history; it never reads a role's sessions (the role's callbacks do).
 */
#include "operator.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

uint64_t op_wall_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

uint64_t op_uptime_ms(const struct op_access *op)
{
	return op->loop->now_ms - op->started_ms;
}

static void op_on_sample(struct loop_timer *timer)
{
	struct op_access *op = container_of(timer, struct op_access, sample);
	struct status_link links[STATUS_HISTORY_LINKS];
	int n = op->read_links(op->ctx, links, STATUS_HISTORY_LINKS);

	if (n >= 0)
		status_history_add(op->history, op_wall_ms(), links, (size_t)n);
	/* a missed re-arm only stops the graph; the next scrape still answers */
	loop_timer_arm(op->loop, &op->sample, op->history->interval_ms);
}

int op_start(struct op_access *op, struct loop *loop, const struct config_control *cfg,
	     const struct ctl_provider *provider, const struct http_route *routes,
	     size_t routes_len, int (*read_links)(void *ctx, struct status_link *rows, size_t max),
	     void *ctx)
{
	int ret;

	op->loop = loop;
	op->provider = *provider;
	op->read_links = read_links;
	op->ctx = ctx;
	op->started_ms = loop->now_ms;
	ret = ctl_serve(&op->ctl, loop, cfg->socket, cfg->socket_set, &op->provider);
	if (ret < 0 || !cfg->metrics)
		return ret;
	op->history = malloc(sizeof(*op->history));
	if (!op->history)
		return -ENOMEM;
	status_history_init(op->history, 1000);
	loop_timer_init(&op->sample, op_on_sample);
	op_on_sample(&op->sample);
	return http_serve(&op->http, loop, &cfg->metrics_listen, &op->routes, routes, routes_len,
			  ctx);
}

void op_stop(struct op_access *op)
{
	if (!op->loop)
		return;
	ctl_stop(&op->ctl);
	http_stop(&op->http);
	if (op->history)
		loop_timer_cancel(op->loop, &op->sample);
	free(op->history);
	op->history = NULL;
}

void op_history_json(const struct op_access *op, struct reply *r)
{
	status_history_json(r, op->history);
}

void op_metrics_common(struct metrics_writer *w, const struct op_access *op,
		       unsigned long sessions_open)
{
	struct metrics_label l = { "version", MPCONV_VERSION };

	metrics_family(w, "mpconv_build_info", METRICS_GAUGE, "Version of the running mpconvd.");
	metrics_sample(w, &l, 1, 1);
	metrics_family(w, "mpconv_uptime_seconds", METRICS_GAUGE, "Seconds since start.");
	metrics_sample(w, NULL, 0, op_uptime_ms(op) / 1000);
	metrics_family(w, "mpconv_sessions_open", METRICS_GAUGE, "Sessions open now.");
	metrics_sample(w, NULL, 0, sessions_open);
}
