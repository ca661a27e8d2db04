// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the operator sees of a running gateway: `mpconvctl` status, sessions, links, probe
 * (probe.c) and reload over the control socket, Prometheus metrics and the status page over HTTP,
 * on the main thread. Sessions and counters stay with their workers: each answer gathers them
 * from every worker in turn, on the worker's own thread (gw_workers_each).
 */
#include "gateway.h"

#include "convert.h"
#include "log.h"
#include "reply.h"
#include "webui.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GW_TOP_SESSIONS 20

static const char *gw_mode_name(const struct gw_session *s)
{
	if (!s->bonded)
		return "direct";
	if (s->from_pool)
		return "pool";
	return s->gw->config.gateway.mode == CONFIG_MODE_TFO ? "tfo" : "plain";
}

static void gw_session_row(const struct gw_session *s, struct status_session *row)
{
	int up = s->base.relay.io[RELAY_B].fd, lan = s->base.relay.io[RELAY_A].fd, n;

	memset(row, 0, sizeof(*row));
	/* the LAN leg is plain TCP; the upstream one goes to the converter, or the server
	 * itself (direct, or on-path mode) */
	row->multipath_upstream = true;
	row->upstream = s->bonded && !gw_onpath(s->gw) ? "converter" : "server";
	row->client_rtt_us = lan >= 0 ? sock_rtt_us(lan) : 0;
	row->client = s->base.client;
	row->dest = s->base.dest;
	row->has_dest = true;
	row->state = gw_state_name(s->state);
	row->mode = gw_mode_name(s);
	snprintf(row->rule, sizeof(row->rule), "%.*s", (int)sizeof(row->rule) - 1, s->rule.name);
	row->age_ms = s->gw->loop.now_ms - s->base.started_ms;
	row->bytes_up = s->base.relay.dir[RELAY_A].bytes;
	row->bytes_down = s->base.relay.dir[RELAY_B].bytes;
	row->server_mptcp = s->bonded && !s->fell_back && up >= 0;
	row->has_worker = true;
	row->worker = s->gw->index;
	if (up < 0)
		return;
	n = sock_subflows_info(up, row->subflows, STATUS_MAX_SUBFLOWS);
	if (n > 0) {
		row->subflows_total = n;
		row->subflows_len = n < STATUS_MAX_SUBFLOWS ? (size_t)n : STATUS_MAX_SUBFLOWS;
	}
	row->subflows_used = gw_subflows_used(s);
	row->upstream_rtt_us = sock_rtt_us(up);
}

struct gw_rows {
	struct status_session *rows; /* owned by the caller of gw_session_rows */
	size_t len;
};

/* On worker w's thread: its sessions appended. */
static void gw_gather_rows(struct gateway *w, void *arg)
{
	struct gw_rows *r = arg;
	struct status_session *more;

	if (w->sessions.len == 0)
		return;
	more = realloc(r->rows, (r->len + w->sessions.len) * sizeof(*more));
	if (!more)
		return;
	r->rows = more;
	for (struct list_node *node = w->sessions.first; node; node = node->next)
		gw_session_row(list_entry(node, struct gw_session, base.node), &r->rows[r->len++]);
}

/* Every session of every worker (at most max), largest first. Returns the count; *rows is
 * owned by the caller (NULL when none). */
static size_t gw_session_rows(struct gateway *gw, struct status_session **rows, size_t max)
{
	struct gw_rows r = { NULL, 0 };

	gw_workers_each(gw, gw_gather_rows, &r);
	*rows = r.rows;
	status_sort_sessions(r.rows, r.len);
	return r.len < max ? r.len : max;
}

/* What every worker counted, gathered on each one's thread. */
struct gw_totals {
	struct gw_stats stats;
	size_t open;
	unsigned pool_ready;
	struct paths_stats paths;
	struct upstream upstream; /* the back-off all workers share, copied under its lock */
	size_t worker_open[GW_WORKERS_MAX];
	unsigned long worker_sessions[GW_WORKERS_MAX];
};

static void gw_gather_totals(struct gateway *w, void *arg)
{
	struct gw_totals *t = arg;

	gw_stats_add(&t->stats, &w->stats);
	t->open += w->sessions.len;
	t->pool_ready += w->pool_on ? w->pool.ready : 0;
	t->paths.created += w->paths.stats.created;
	t->paths.closed_by_link_down += w->paths.stats.closed_by_link_down;
	t->paths.restored += w->paths.stats.restored;
	if (w->index < GW_WORKERS_MAX) {
		t->worker_open[w->index] = w->sessions.len;
		t->worker_sessions[w->index] = w->stats.sessions;
	}
}

/* Owned by the caller (free), or NULL when out of memory. */
static struct gw_totals *gw_totals(struct gateway *gw)
{
	struct gw_totals *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	metrics_histogram_init(&t->stats.setup, gw->stats.setup.bounds, gw->stats.setup.bounds_len,
			       gw->stats.setup.scale);
	gw_workers_each(gw, gw_gather_totals, t);
	pthread_mutex_lock(&gw->upstream_lock);
	t->upstream = gw->upstream;
	pthread_mutex_unlock(&gw->upstream_lock);
	return t;
}

static uint64_t gw_read_counter(const char *dev, const char *name)
{
	char path[128], text[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", dev, name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	fclose(f);
	return strtoull(text, NULL, 10);
}

/* The access links as the operator sees them (or, without declared links, the interfaces). */
static size_t gw_link_rows(struct gateway *gw, struct status_link *rows, size_t max)
{
	if (!gw->links_on) {
		int n = status_read_interfaces(rows, max);

		return n < 0 ? 0 : (size_t)n;
	}
	for (unsigned i = 0; i < gw->links.len && i < max; i++) {
		const struct link_state *l = &gw->links.link[i];
		struct status_link *row = &rows[i];

		memset(row, 0, sizeof(*row));
		snprintf(row->name, sizeof(row->name), "%s", l->conf.name);
		row->state = l->usable	   ? "up"
			     : !l->ifindex ? "absent"
			     : !l->carrier ? "no-carrier"
			     : !l->alive   ? "dead"
					   : "down";
		if (l->usable && overflow_link_state(&gw->overflow, (int)i))
			row->state = overflow_link_state(&gw->overflow, (int)i);
		row->rx_bytes = gw_read_counter(l->conf.dev, "rx_bytes");
		row->tx_bytes = gw_read_counter(l->conf.dev, "tx_bytes");
		row->rtt_ms = l->probes_answered ? (double)l->rtt_ms : -1;
		row->loss_pct = l->probes_sent ? 100.0 * (double)(l->probes_sent - l->probes_answered) /
							 (double)l->probes_sent
					       : -1;
		if (l->has_addr4 && row->addrs_len < STATUS_LINK_ADDRS) {
			memcpy(row->addrs[row->addrs_len], l->addr4, 16);
			row->prefix_len[row->addrs_len++] = 128;
		}
		if (l->has_addr6 && row->addrs_len < STATUS_LINK_ADDRS) {
			memcpy(row->addrs[row->addrs_len], l->addr6, 16);
			row->prefix_len[row->addrs_len++] = 128;
		}
	}
	return gw->links.len < max ? gw->links.len : max;
}

static void gw_totals_json(struct gateway *gw, const struct gw_totals *t, struct reply *r)
{
	const struct gw_stats *st = &t->stats;

	reply_printf(r,
		     "\"sessions_open\":%zu,\"sessions_total\":%lu,\"bonded\":%lu,\"direct\":%lu,"
		     "\"blocked\":%lu,\"bytes_up\":%lu,\"bytes_down\":%lu,\"pool_ready\":%u,"
		     "\"pool_hits\":%lu,\"pool_misses\":%lu,\"converter_errors\":%lu,"
		     "\"upstream_failures\":%lu,\"converter_down_fallbacks\":%lu,"
		     "\"mptcp_fallbacks\":%lu,\"converter_switches\":%lu,"
		     "\"refusal_retries\":%lu,\"establish_retries\":%lu,\"host_limited\":%lu",
		     t->open, st->sessions, st->bonded, st->direct, st->blocked,
		     relay_meter_read(&st->meter, RELAY_A), relay_meter_read(&st->meter, RELAY_B),
		     t->pool_ready, st->pool_hits,
		     st->pool_misses, st->converter_errors, st->upstream_failures, st->fallbacks,
		     st->mptcp_fallbacks, st->converter_switches, st->refusal_retries,
		     st->establish_retries, st->host_limited);
	/* the slugs of the logs' end= and code= and the metrics' labels */
	reply_puts(r, ",\"ends\":{");
	for (int i = 0, n = 0; i < SESSION_END_COUNT; i++)
		if (st->ends[i])
			reply_printf(r, "%s\"%s\":%lu", n++ ? "," : "",
				     session_end_name((enum session_end)i), st->ends[i]);
	reply_puts(r, "},\"errors_received\":{");
	for (int c = 0, n = 0; c < 256; c++)
		if (st->errors_received[c])
			reply_printf(r, "%s\"%s\":%lu", n++ ? "," : "", gw_error_slug(gw, c),
				     st->errors_received[c]);
	reply_puts(r, "}");
	/* per worker: how the kernel spread the LAN's connections over them */
	reply_puts(r, ",\"worker_sessions_open\":[");
	for (unsigned i = 0; i < gw->nworkers && i < GW_WORKERS_MAX; i++)
		reply_printf(r, "%s%zu", i ? "," : "", t->worker_open[i]);
	reply_puts(r, "],\"worker_sessions_total\":[");
	for (unsigned i = 0; i < gw->nworkers && i < GW_WORKERS_MAX; i++)
		reply_printf(r, "%s%lu", i ? "," : "", t->worker_sessions[i]);
	reply_puts(r, "]");
}

static void gw_identity_json(struct gateway *gw, const struct gw_totals *t, struct reply *r)
{
	const struct config_gateway *gc = &gw->config.gateway;
	char where[ADDR_STRLEN];

	reply_printf(r,
		     "\"role\":\"gateway\",\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%llu,"
		     "\"workers\":%u,\"mode\":\"%s\",\"config\":",
		     MPCONV_VERSION, (long)getpid(),
		     (unsigned long long)(op_uptime_ms(&gw->ops) / 1000), gw->nworkers,
		     gc->mode == CONFIG_MODE_POOL ? "pool"
		     : gc->mode == CONFIG_MODE_TFO ? "tfo"
						   : "plain");
	reply_json_string(r, gw->config.path);
	reply_puts(r, ",\"converters\":[");
	for (size_t i = 0; i < gc->converters_len; i++) {
		reply_puts(r, i ? ",{\"address\":" : "{\"address\":");
		reply_json_string(r, addr_format(&gc->converters[i], true, where));
		reply_printf(r, ",\"usable\":%s,\"failures\":%lu}",
			     upstream_usable(&t->upstream, (unsigned)i, gw->loop.now_ms) ? "true"
											 : "false",
			     t->upstream.conv[i].failures);
	}
	reply_printf(r, "],\"active_converter\":%u",
		     upstream_active(&t->upstream, gw->loop.now_ms));
}

static int gw_ctl_status(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;
	const struct config_gateway *gc = &gw->config.gateway;
	struct gw_totals *t = gw_totals(gw);
	const struct gw_stats *st;
	char u1[REPLY_UNIT_LEN], u2[REPLY_UNIT_LEN], where[ADDR_STRLEN];

	if (!t)
		return -ENOMEM;
	st = &t->stats;
	if (req->json) {
		reply_puts(r, "{");
		gw_identity_json(gw, t, r);
		reply_puts(r, ",");
		gw_totals_json(gw, t, r);
		reply_puts(r, "}\n");
		free(t);
		return 0;
	}
	reply_printf(r, "%-11s gateway %s (pid %ld)\n", "role", MPCONV_VERSION, (long)getpid());
	reply_printf(r, "%-11s %s\n", "uptime", reply_fmt_age(op_uptime_ms(&gw->ops), u1));
	reply_printf(r, "%-11s %s\n", "config", gw->config.path ? gw->config.path : "(flags)");
	reply_printf(r, "%-11s %s, capture %s, %zu link(s), %zu rule(s)\n", "mode",
		     gc->mode == CONFIG_MODE_POOL  ? "pool"
		     : gc->mode == CONFIG_MODE_TFO ? "tfo"
						   : "plain",
		     gc->intercept_method == CONFIG_INTERCEPT_REDIRECT ? "redirect" : "tproxy", gc->links_len, gw->policy.len);
	for (size_t i = 0; i < gc->converters_len; i++)
		reply_printf(r, "%-11s %s%s%s\n", i ? "" : "converters",
			     addr_format(&gc->converters[i], true, where),
			     upstream_active(&t->upstream, gw->loop.now_ms) == i ? " (active)" : "",
			     upstream_usable(&t->upstream, (unsigned)i, gw->loop.now_ms)
				     ? ""
				     : " (backing off)");
	reply_printf(r, "%-11s %u\n", "workers", gw->nworkers);
	reply_printf(r, "%-11s %zu open, %lu in all: %lu bonded, %lu direct, %lu blocked\n",
		     "sessions", t->open, st->sessions, st->bonded, st->direct, st->blocked);
	reply_printf(r, "%-11s %s up, %s down\n", "bytes",
		     reply_fmt_bytes(relay_meter_read(&st->meter, RELAY_A), u1),
		     reply_fmt_bytes(relay_meter_read(&st->meter, RELAY_B), u2));
	reply_printf(r, "%-11s %u ready, %lu hits, %lu misses\n", "pool",
		     t->pool_ready, st->pool_hits, st->pool_misses);
	reply_printf(r, "%-11s %lu converter errors, %lu upstream failures, %lu MPTCP fallbacks\n",
		     "problems", st->converter_errors, st->upstream_failures, st->mptcp_fallbacks);
	reply_printf(r, "%-11s %lu refusals retried, %lu moved to another link, %lu over "
			"max-sessions-per-host\n",
		     "retries", st->refusal_retries, st->establish_retries, st->host_limited);
	free(t);
	return 0;
}

static int gw_ctl_sessions(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct status_session *rows;
	size_t n = gw_session_rows(ctx, &rows, SIZE_MAX);

	status_sessions_reply(r, rows, n, req->json);
	free(rows);
	return 0;
}

#define GW_LINK_ROWS (LINKS_MAX * 2)

/* Links and sessions at once, each link with the subflows of the sessions on it. Returns the
 * number of links; *rows (owned by the caller, NULL when none) and *ns the sessions. */
static size_t gw_snapshot(struct gateway *gw, struct status_link links[GW_LINK_ROWS],
			  struct status_session **rows, size_t *ns)
{
	size_t nl = gw_link_rows(gw, links, GW_LINK_ROWS);

	*ns = gw_session_rows(gw, rows, SIZE_MAX);
	status_count_link_subflows(links, nl, *rows, *ns);
	return nl;
}

static int gw_ctl_links(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct status_link links[GW_LINK_ROWS];
	struct status_session *rows;
	size_t ns, nl = gw_snapshot(ctx, links, &rows, &ns);

	free(rows);
	status_links_reply(r, links, nl, req->json);
	return 0;
}

/* Inbound runs on worker 0 (its loop and paths): its view is read on that thread. */
struct gw_inbound_view {
	struct reply *r;
	struct metrics_writer *w;
	bool json;
};

static void gw_inbound_view(struct gateway *w, void *arg)
{
	struct gw_inbound_view *v = arg;

	if (v->w)
		gwi_metrics(w, v->w);
	else
		gwi_report(w, v->r, v->json);
}

/* On worker 0's thread (the main one's, off, before the workers exist). */
static void gw_inbound_on_worker(struct gateway *gw, struct gw_inbound_view *v)
{
	if (gw->nworkers && gw->workers && gw->workers[0])
		gw_worker_call(gw->workers[0], gw_inbound_view, v);
	else
		gw_inbound_view(gw, v);
}

static void gw_inbound_metrics(struct gateway *gw, struct metrics_writer *w)
{
	struct gw_inbound_view v = { .w = w };

	gw_inbound_on_worker(gw, &v);
}

static int gw_ctl_inbound(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gw_inbound_view v = { .r = r, .json = req->json };

	gw_inbound_on_worker(ctx, &v);
	return 0;
}

static int gw_ctl_reload(void *ctx, struct reply *r, const struct ctl_request *req)
{
	char why[CONFIG_ERR_LEN] = "";
	int ret = gw_reload(ctx, why);

	if (ret < 0) {
		reply_printf(r, "%s", why);
		return ret;
	}
	reply_puts(r, req->json ? "{\"reloaded\":true}\n" : "configuration reloaded\n");
	return 0;
}

static int gw_http_status(void *ctx, struct reply *r)
{
	struct gateway *gw = ctx;
	struct status_link links[GW_LINK_ROWS];
	struct status_session *rows;
	struct gw_totals *t = gw_totals(gw);
	size_t ns, nl;

	if (!t)
		return -ENOMEM;
	nl = gw_snapshot(gw, links, &rows, &ns);
	reply_puts(r, "{");
	gw_identity_json(gw, t, r);
	reply_printf(r, ",\"time_ms\":%llu,", (unsigned long long)op_wall_ms());
	gw_totals_json(gw, t, r);
	reply_puts(r, ",\"links\":");
	status_links_json(r, links, nl);
	reply_puts(r, ",\"sessions\":");
	status_sessions_json(r, rows, ns < GW_TOP_SESSIONS ? ns : GW_TOP_SESSIONS);
	reply_puts(r, "}\n");
	free(rows);
	free(t);
	return 0;
}

static int gw_http_history(void *ctx, struct reply *r)
{
	op_history_json(&((struct gateway *)ctx)->ops, r);
	return 0;
}

static void gw_counter(struct metrics_writer *w, const char *name, const char *help,
		       unsigned long value)
{
	metrics_family(w, name, METRICS_COUNTER, help);
	metrics_sample(w, NULL, 0, value);
}

/* The kernel's own symptoms, read from this namespace at each scrape (absent ones skipped).
 * NoDSSInWindow grows by thousands when data in the SYN plus a second subflow collapses
 * goodput on this kernel (mode = tfo with several links; linux-mptcp.md 4). */
static void gw_kernel_counters(struct metrics_writer *w)
{
	static const struct {
		const char *mib, *name, *help;
	} mibs[] = {
		{ "MPTcpExtNoDSSInWindow", "mpconv_kernel_mptcp_no_dss_in_window_total",
		  "The namespace's MPTcpExtNoDSSInWindow: data outside the receive window's DSS "
		  "mapping; grows by thousands when TFO plus bonding collapse throughput." },
		{ "MPTcpExtMPTCPRetrans", "mpconv_kernel_mptcp_retransmits_total",
		  "The namespace's MPTcpExtMPTCPRetrans: MPTCP-level retransmissions." },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(mibs) / sizeof(mibs[0]); i++) {
		if (metrics_netstat_read(mibs[i].mib, &v) == 0)
			gw_counter(w, mibs[i].name, mibs[i].help, (unsigned long)v);
	}
}

static int gw_http_metrics(void *ctx, struct reply *r)
{
	struct gateway *gw = ctx;
	struct gw_totals *t = gw_totals(gw);
	struct gw_stats *st;
	struct status_link links[GW_LINK_ROWS];
	struct status_session *rows;
	size_t ns, nl;
	struct metrics_writer w;
	struct metrics_label l[2];
	char index[12];

	if (!t)
		return -ENOMEM;
	st = &t->stats;
	nl = gw_snapshot(gw, links, &rows, &ns);
	free(rows);
	metrics_writer_init(&w, r, "gateway");
	op_metrics_common(&w, &gw->ops, t->open);
	metrics_family(&w, "mpconv_worker_sessions", METRICS_GAUGE,
		       "Open sessions by worker thread (the kernel spreads connections over them).");
	for (unsigned i = 0; i < gw->nworkers && i < GW_WORKERS_MAX; i++) {
		snprintf(index, sizeof(index), "%u", i);
		l[0] = (struct metrics_label){ "worker", index };
		metrics_sample(&w, l, 1, t->worker_open[i]);
	}
	metrics_family(&w, "mpconv_worker_sessions_total", METRICS_COUNTER,
		       "LAN connections taken, by worker thread.");
	for (unsigned i = 0; i < gw->nworkers && i < GW_WORKERS_MAX; i++) {
		snprintf(index, sizeof(index), "%u", i);
		l[0] = (struct metrics_label){ "worker", index };
		metrics_sample(&w, l, 1, t->worker_sessions[i]);
	}
	metrics_family(&w, "mpconv_sessions_total", METRICS_COUNTER,
		       "LAN connections taken, by policy action.");
	l[0] = (struct metrics_label){ "action", "bond" };
	metrics_sample(&w, l, 1, st->bonded);
	l[0].value = "direct";
	metrics_sample(&w, l, 1, st->direct);
	l[0].value = "block";
	metrics_sample(&w, l, 1, st->blocked);
	metrics_family(&w, "mpconv_policy_decisions_total", METRICS_COUNTER,
		       "LAN connections by the policy rule that matched.");
	for (size_t i = 0; i < st->rule_hits_len; i++) {
		l[0] = (struct metrics_label){ "rule", st->rule_hits[i].name };
		metrics_sample(&w, l, 1, st->rule_hits[i].hits);
	}
	metrics_family(&w, "mpconv_bytes_total", METRICS_COUNTER,
		       "Bytes relayed, counted as they move; up is LAN to server.");
	l[0] = (struct metrics_label){ "direction", "up" };
	metrics_sample(&w, l, 1, relay_meter_read(&st->meter, RELAY_A));
	l[0].value = "down";
	metrics_sample(&w, l, 1, relay_meter_read(&st->meter, RELAY_B));
	metrics_family(&w, "mpconv_sessions_closed_total", METRICS_COUNTER,
		       "Ended sessions by how they ended.");
	for (int i = 0; i < SESSION_END_COUNT; i++) {
		if (i == SESSION_END_INFO || i == SESSION_END_PROBE || i == SESSION_END_UNUSED)
			continue; /* a converter's kinds of end */
		l[0] = (struct metrics_label){ "reason", session_end_name((enum session_end)i) };
		metrics_sample(&w, l, 1, st->ends[i]);
	}
	metrics_family(&w, "mpconv_convert_errors_received_total", METRICS_COUNTER,
		       "Refusals received from converters, by code (RFC 8803 Error TLV, or the "
		       "SOCKS reply).");
	for (int c = 0; c < 256; c++) {
		if (!st->errors_received[c])
			continue;
		l[0] = (struct metrics_label){ "code", gw_error_slug(gw, c) };
		metrics_sample(&w, l, 1, st->errors_received[c]);
	}
	gw_counter(&w, "mpconv_pool_hits_total", "Bonded connections served by the pool.",
		   st->pool_hits);
	gw_counter(&w, "mpconv_pool_misses_total", "Bonded connections the pool could not serve.",
		   st->pool_misses);
	metrics_family(&w, "mpconv_pool_ready", METRICS_GAUGE,
		       "Pre-established connections ready now.");
	metrics_sample(&w, NULL, 0, t->pool_ready);
	gw_counter(&w, "mpconv_mptcp_fallbacks_total",
		   "Upstream connections that fell back to plain TCP.", st->mptcp_fallbacks);
	gw_counter(&w, "mpconv_upstream_failures_total",
		   "Bonded connections no converter could take.", st->upstream_failures);
	gw_counter(&w, "mpconv_converter_switches_total",
		   "Connections moved on to the next converter.", st->converter_switches);
	gw_counter(&w, "mpconv_refusal_retries_total",
		   "Connections a converter refused (Error 64/65), tried once more.",
		   st->refusal_retries);
	gw_counter(&w, "mpconv_establish_retries_total",
		   "Connections opened again from another link (no answer within establish-timeout).",
		   st->establish_retries);
	gw_counter(&w, "mpconv_host_limited_total",
		   "Connections reset because their LAN host had max-sessions-per-host.",
		   st->host_limited);
	metrics_family(&w, "mpconv_link_up", METRICS_GAUGE, "1 when the access link is usable.");
	for (size_t i = 0; i < nl; i++) {
		l[0] = (struct metrics_label){ "link", links[i].name };
		metrics_sample(&w, l, 1, !strcmp(links[i].state, "up"));
	}
	metrics_family(&w, "mpconv_link_bytes_total", METRICS_COUNTER,
		       "Bytes through the access link's interface.");
	for (size_t i = 0; i < nl; i++) {
		l[0] = (struct metrics_label){ "link", links[i].name };
		l[1] = (struct metrics_label){ "direction", "rx" };
		metrics_sample(&w, l, 2, links[i].rx_bytes);
		l[1].value = "tx";
		metrics_sample(&w, l, 2, links[i].tx_bytes);
	}
	metrics_family(&w, "mpconv_link_subflows", METRICS_GAUGE,
		       "Subflows of open sessions on the access link.");
	for (size_t i = 0; i < nl; i++) {
		l[0] = (struct metrics_label){ "link", links[i].name };
		metrics_sample(&w, l, 1, links[i].subflows);
	}
	metrics_family(&w, "mpconv_link_probe_rtt_seconds", METRICS_GAUGE,
		       "Last health-probe round trip over the access link.");
	for (size_t i = 0; i < nl; i++) {
		if (links[i].rtt_ms < 0)
			continue;
		l[0] = (struct metrics_label){ "link", links[i].name };
		metrics_sample_double(&w, l, 1, links[i].rtt_ms / 1000);
	}
	gw_counter(&w, "mpconv_subflows_created_total",
		   "Subflows asked of the kernel's path manager.", t->paths.created);
	gw_counter(&w, "mpconv_subflows_closed_link_down_total",
		   "Subflows closed because their link died.", t->paths.closed_by_link_down);
	gw_counter(&w, "mpconv_subflows_restored_total",
		   "Subflows re-created when their link returned.", t->paths.restored);
	gw_counter(&w, "mpconv_link_routes_restored_total",
		   "Times the kernel deleted a link's routes and the gateway re-added them.",
		   gw->links.routes_restored);
	gw_kernel_counters(&w);
	metrics_family(&w, "mpconv_setup_seconds", METRICS_HISTOGRAM,
		       "From the LAN connection's accept to the relay started.");
	metrics_histogram(&w, NULL, 0, &st->setup);
	gw_inbound_metrics(gw, &w);
	free(t);
	return 0;
}

static const struct http_route gw_routes[] = {
	{ "/metrics", HTTP_METRICS_TYPE, gw_http_metrics },
	{ "/status.json", "application/json", gw_http_status },
	{ "/history.json", "application/json", gw_http_history },
	{ "/", WEBUI_TYPE, webui_page },
};

static int gw_ctl_reset_quota(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;

	overflow_reset_quota(&gw->overflow);
	reply_puts(r, req->json ? "{\"quota_reset\":true}\n" : "quota periods started again\n");
	return 0;
}

static int gw_read_links(void *ctx, struct status_link *rows, size_t max)
{
	return (int)gw_link_rows(ctx, rows, max);
}

/* The control socket (unless none) and the metrics endpoint (if set). A busy default socket
 * path is a warning; an explicit one, or the metrics address, is fatal. 0 or -errno. */
int gw_control_start(struct gateway *gw)
{
	const struct ctl_provider provider = {
		.role = "gateway",
		.ctx = gw,
		.status = gw_ctl_status,
		.sessions = gw_ctl_sessions,
		.links = gw_ctl_links,
		.probe = gw_ctl_probe,
		.reload = gw_ctl_reload,
		.inbound = gw_ctl_inbound,
		.reset_quota = gw_ctl_reset_quota,
	};

	return op_start(&gw->ops, &gw->loop, &gw->config.gateway.common.control, &provider, gw_routes,
			sizeof(gw_routes) / sizeof(gw_routes[0]), gw_read_links, gw);
}

void gw_control_stop(struct gateway *gw)
{
	gw_probe_cancel_all(gw);
	op_stop(&gw->ops);
}
