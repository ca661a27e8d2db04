// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the operator sees of a running gateway: `mpconvctl` status, sessions, links, probe and
 * reload over the control socket, Prometheus metrics and the status page over HTTP. Everything
 * runs on the gateway's one loop, so each answer is a consistent snapshot taken at once.
 */
#include "gateway_int.h"

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

static uint64_t gw_wall_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

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
	int up = s->relay.io[RELAY_B].fd, n;

	memset(row, 0, sizeof(*row));
	row->client = s->client;
	row->dest = s->dest;
	row->has_dest = true;
	row->state = gw_state_name(s->state);
	row->mode = gw_mode_name(s);
	snprintf(row->rule, sizeof(row->rule), "%.*s", (int)sizeof(row->rule) - 1, s->rule.name);
	row->age_ms = s->gw->loop.now_ms - s->started_ms;
	row->bytes_up = s->relay.dir[RELAY_A].bytes;
	row->bytes_down = s->relay.dir[RELAY_B].bytes;
	row->server_mptcp = s->bonded && !s->fell_back && up >= 0;
	if (up < 0)
		return;
	n = sock_subflows_info(up, row->subflows, STATUS_MAX_SUBFLOWS);
	if (n > 0) {
		row->subflows_total = n;
		row->subflows_len = n < STATUS_MAX_SUBFLOWS ? (size_t)n : STATUS_MAX_SUBFLOWS;
	}
}

/* Every session (at most max), largest first. Returns the count; *rows is owned by the
 * caller (NULL when none). */
static size_t gw_session_rows(struct gateway *gw, struct status_session **rows, size_t max)
{
	size_t n = 0;

	*rows = NULL;
	if (gw->sessions_len == 0)
		return 0;
	*rows = malloc(gw->sessions_len * sizeof(**rows));
	if (!*rows)
		return 0;
	for (struct gw_session *s = gw->sessions; s; s = s->next)
		gw_session_row(s, &(*rows)[n++]);
	status_sort_sessions(*rows, n);
	return n < max ? n : max;
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

static void gw_totals_json(struct gateway *gw, struct reply *r)
{
	const struct gw_stats *st = &gw->stats;

	reply_printf(r,
		     "\"sessions_open\":%zu,\"sessions_total\":%lu,\"bonded\":%lu,\"direct\":%lu,"
		     "\"blocked\":%lu,\"bytes_up\":%lu,\"bytes_down\":%lu,\"pool_ready\":%u,"
		     "\"pool_hits\":%lu,\"pool_misses\":%lu,\"converter_errors\":%lu,"
		     "\"upstream_failures\":%lu,\"converter_down_fallbacks\":%lu,"
		     "\"mptcp_fallbacks\":%lu,\"converter_switches\":%lu",
		     gw->sessions_len, st->sessions, st->bonded, st->direct, st->blocked,
		     st->bytes_up, st->bytes_down, gw->pool_on ? gw->pool.ready : 0, st->pool_hits,
		     st->pool_misses, st->converter_errors, st->upstream_failures, st->fallbacks,
		     st->mptcp_fallbacks, st->converter_switches);
}

static void gw_identity_json(struct gateway *gw, struct reply *r)
{
	const struct config_gateway *gc = &gw->config.gateway;
	char where[ADDR_STRLEN];

	reply_printf(r,
		     "\"role\":\"gateway\",\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%llu,"
		     "\"workers\":1,\"mode\":\"%s\",\"config\":",
		     MPCONV_VERSION, (long)getpid(),
		     (unsigned long long)((gw->loop.now_ms - gw->started_ms) / 1000),
		     gc->mode == CONFIG_MODE_POOL ? "pool"
		     : gc->mode == CONFIG_MODE_TFO ? "tfo"
						   : "plain");
	reply_json_string(r, gw->config.path);
	reply_puts(r, ",\"converters\":[");
	for (size_t i = 0; i < gc->converters_len; i++) {
		reply_puts(r, i ? ",{\"address\":" : "{\"address\":");
		reply_json_string(r, addr_format(&gc->converters[i], true, where));
		reply_printf(r, ",\"usable\":%s,\"failures\":%lu}",
			     gw_converter_usable(gw, (unsigned)i) ? "true" : "false",
			     gw->converters[i].failures);
	}
	reply_puts(r, "]");
}

static int gw_ctl_status(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;
	const struct config_gateway *gc = &gw->config.gateway;
	const struct gw_stats *st = &gw->stats;
	char u1[REPLY_UNIT_LEN], u2[REPLY_UNIT_LEN], where[ADDR_STRLEN];

	if (req->json) {
		reply_puts(r, "{");
		gw_identity_json(gw, r);
		reply_puts(r, ",");
		gw_totals_json(gw, r);
		reply_puts(r, "}\n");
		return 0;
	}
	reply_printf(r, "%-11s gateway %s (pid %ld)\n", "role", MPCONV_VERSION, (long)getpid());
	reply_printf(r, "%-11s %s\n", "uptime", reply_fmt_age(gw->loop.now_ms - gw->started_ms, u1));
	reply_printf(r, "%-11s %s\n", "config", gw->config.path ? gw->config.path : "(flags)");
	reply_printf(r, "%-11s %s, capture %s, %zu link(s), %zu rule(s)\n", "mode",
		     gc->mode == CONFIG_MODE_POOL  ? "pool"
		     : gc->mode == CONFIG_MODE_TFO ? "tfo"
						   : "plain",
		     gc->intercept_method ? "redirect" : "tproxy", gc->links_len, gw->policy.len);
	for (size_t i = 0; i < gc->converters_len; i++)
		reply_printf(r, "%-11s %s%s\n", i ? "" : "converters",
			     addr_format(&gc->converters[i], true, where),
			     gw_converter_usable(gw, (unsigned)i) ? "" : " (backing off)");
	reply_printf(r, "%-11s %zu open, %lu in all: %lu bonded, %lu direct, %lu blocked\n",
		     "sessions", gw->sessions_len, st->sessions, st->bonded, st->direct, st->blocked);
	reply_printf(r, "%-11s %s up, %s down (ended sessions)\n", "bytes",
		     reply_fmt_bytes(st->bytes_up, u1), reply_fmt_bytes(st->bytes_down, u2));
	reply_printf(r, "%-11s %u ready, %lu hits, %lu misses\n", "pool",
		     gw->pool_on ? gw->pool.ready : 0, st->pool_hits, st->pool_misses);
	reply_printf(r, "%-11s %lu converter errors, %lu upstream failures, %lu MPTCP fallbacks\n",
		     "problems", st->converter_errors, st->upstream_failures, st->mptcp_fallbacks);
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
	size_t ns, nl = gw_snapshot(gw, links, &rows, &ns);

	reply_puts(r, "{");
	gw_identity_json(gw, r);
	reply_printf(r, ",\"time_ms\":%llu,", (unsigned long long)gw_wall_ms());
	gw_totals_json(gw, r);
	reply_puts(r, ",\"links\":");
	status_links_json(r, links, nl);
	reply_puts(r, ",\"sessions\":");
	status_sessions_json(r, rows, ns < GW_TOP_SESSIONS ? ns : GW_TOP_SESSIONS);
	reply_puts(r, "}\n");
	free(rows);
	return 0;
}

static int gw_http_history(void *ctx, struct reply *r)
{
	status_history_json(r, ((struct gateway *)ctx)->history);
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
	struct gw_stats *st = &gw->stats;
	struct status_link links[GW_LINK_ROWS];
	struct status_session *rows;
	size_t ns, nl = gw_snapshot(gw, links, &rows, &ns);
	struct metrics_writer w;
	struct metrics_label l[2];
	char code[8];

	free(rows);
	metrics_writer_init(&w, r, "gateway");
	metrics_family(&w, "mpconv_build_info", METRICS_GAUGE, "Version of the running mpconvd.");
	l[0] = (struct metrics_label){ "version", MPCONV_VERSION };
	metrics_sample(&w, l, 1, 1);
	metrics_family(&w, "mpconv_uptime_seconds", METRICS_GAUGE, "Seconds since start.");
	metrics_sample(&w, NULL, 0, (gw->loop.now_ms - gw->started_ms) / 1000);
	metrics_family(&w, "mpconv_sessions_open", METRICS_GAUGE, "Sessions open now.");
	metrics_sample(&w, NULL, 0, gw->sessions_len);
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
		       "Bytes relayed by ended sessions; up is LAN to server.");
	l[0] = (struct metrics_label){ "direction", "up" };
	metrics_sample(&w, l, 1, st->bytes_up);
	l[0].value = "down";
	metrics_sample(&w, l, 1, st->bytes_down);
	metrics_family(&w, "mpconv_sessions_closed_total", METRICS_COUNTER,
		       "Ended sessions by how they ended.");
	for (int i = RELAY_END_NONE + 1; i < GW_END_COUNT; i++) {
		l[0] = (struct metrics_label){ "reason", i == GW_END_NOT_RELAYED
								 ? "not_relayed"
								 : relay_end_name((enum relay_end)i) };
		metrics_sample(&w, l, 1, st->ends[i]);
	}
	metrics_family(&w, "mpconv_convert_errors_received_total", METRICS_COUNTER,
		       "Refusals received from converters, by code (RFC 8803 Error TLV, or the "
		       "SOCKS reply).");
	for (int c = 0; c < 256; c++) {
		if (!st->errors_received[c])
			continue;
		snprintf(code, sizeof(code), "%d", c);
		l[0] = (struct metrics_label){ "code", code };
		metrics_sample(&w, l, 1, st->errors_received[c]);
	}
	gw_counter(&w, "mpconv_pool_hits_total", "Bonded connections served by the pool.",
		   st->pool_hits);
	gw_counter(&w, "mpconv_pool_misses_total", "Bonded connections the pool could not serve.",
		   st->pool_misses);
	metrics_family(&w, "mpconv_pool_ready", METRICS_GAUGE,
		       "Pre-established connections ready now.");
	metrics_sample(&w, NULL, 0, gw->pool_on ? gw->pool.ready : 0);
	gw_counter(&w, "mpconv_mptcp_fallbacks_total",
		   "Upstream connections that fell back to plain TCP.", st->mptcp_fallbacks);
	gw_counter(&w, "mpconv_upstream_failures_total",
		   "Bonded connections no converter could take.", st->upstream_failures);
	gw_counter(&w, "mpconv_converter_switches_total",
		   "Connections moved on to the next converter.", st->converter_switches);
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
		   "Subflows asked of the kernel's path manager.", gw->paths.stats.created);
	gw_counter(&w, "mpconv_subflows_closed_link_down_total",
		   "Subflows closed because their link died.", gw->paths.stats.closed_by_link_down);
	gw_counter(&w, "mpconv_subflows_restored_total",
		   "Subflows re-created when their link returned.", gw->paths.stats.restored);
	gw_counter(&w, "mpconv_link_routes_restored_total",
		   "Times the kernel deleted a link's routes and the gateway re-added them.",
		   gw->links.routes_restored);
	gw_kernel_counters(&w);
	metrics_family(&w, "mpconv_setup_seconds", METRICS_HISTOGRAM,
		       "From the LAN connection's accept to the relay started.");
	metrics_histogram(&w, NULL, 0, &st->setup);
	return 0;
}

/* `mpconvctl probe`: the converter tested over each link, now. An MPTCP connection from the
 * link's address carries a bare Convert header in its SYN (Fast Open, no cookie); the
 * converter answers it with an Error TLV without opening anything. The answer shows the link
 * reaches the converter (and in how long), and whether MPTCP options and SYN data get through.
 */
#define GW_PROBE_TIMEOUT_MS 3000

struct gw_probe;

struct gw_probe_link {
	struct loop_io io;
	struct gw_probe *probe;
	int link;     /* -1: no declared links, routing decides */
	int err;      /* connect error (positive errno), 0 if none */
	int rtt_ms;   /* connect time, -1 until connected */
	int mptcp;    /* -1 unknown */
	int syn_data; /* SYN payload acknowledged: 1, 0, or -1 unknown */
	bool answered, done;
};

struct gw_probe {
	struct gateway *gw;
	struct gw_probe *next;
	struct reply *reply;
	bool json;
	uint64_t started_ms;
	struct loop_timer timer;
	size_t len, pending;
	struct gw_probe_link links[LINKS_MAX];
};

static void gw_probe_link_end(struct gw_probe_link *pl)
{
	struct gateway *gw = pl->probe->gw;

	if (pl->io.fd >= 0) {
		loop_remove(&gw->loop, &pl->io);
		close(pl->io.fd);
		pl->io.fd = -1;
	}
	if (!pl->done) {
		pl->done = true;
		pl->probe->pending--;
	}
}

static const char *gw_probe_verdict(const struct gw_probe_link *pl)
{
	if (pl->err == ENETDOWN)
		return "link down (no carrier)";
	if (pl->err == EADDRNOTAVAIL)
		return "no address of the converter's family on this link";
	if (pl->rtt_ms < 0)
		return pl->err ? "unreachable" : "no answer to the SYN";
	if (pl->mptcp == 0)
		return "MPTCP stripped on the path (plain TCP only)";
	if (!pl->answered)
		return "connected, but no answer from the converter";
	if (pl->syn_data == 0)
		return "ok, but SYN data not accepted (use mode pool, not tfo)";
	return "ok";
}

static const char *gw_tristate(int v)
{
	return v < 0 ? "?" : v ? "yes" : "no";
}

static void gw_probe_free(struct gw_probe *p)
{
	struct gateway *gw = p->gw;
	struct gw_probe **pp = &gw->probes;

	for (size_t i = 0; i < p->len; i++)
		gw_probe_link_end(&p->links[i]);
	loop_timer_cancel(&gw->loop, &p->timer);
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	free(p);
}

static void gw_probe_finish(struct gw_probe *p)
{
	struct reply *r = p->reply;
	char rtt[16];

	for (size_t i = 0; i < p->len; i++)
		gw_probe_link_end(&p->links[i]);
	if (p->json)
		reply_puts(r, "{\"links\":[");
	else
		reply_printf(r, "%-10s %-8s %-6s %-9s %-9s %s\n", "link", "rtt", "mptcp", "syn-data",
			     "answered", "verdict");
	for (size_t i = 0; i < p->len; i++) {
		const struct gw_probe_link *pl = &p->links[i];
		const char *name = pl->link >= 0 ? p->gw->links.link[pl->link].conf.name
						 : "(routing)";

		if (p->json) {
			reply_puts(r, i ? ",{\"name\":" : "{\"name\":");
			reply_json_string(r, name);
			reply_printf(r, ",\"rtt_ms\":");
			if (pl->rtt_ms < 0)
				reply_puts(r, "null");
			else
				reply_printf(r, "%d", pl->rtt_ms);
			reply_printf(r, ",\"mptcp\":%s,\"syn_data\":%s,\"answered\":%s,\"verdict\":",
				     pl->mptcp < 0 ? "null" : pl->mptcp ? "true" : "false",
				     pl->syn_data < 0 ? "null" : pl->syn_data ? "true" : "false",
				     pl->answered ? "true" : "false");
			reply_json_string(r, gw_probe_verdict(pl));
			reply_puts(r, "}");
			continue;
		}
		if (pl->rtt_ms < 0)
			snprintf(rtt, sizeof(rtt), "-");
		else
			snprintf(rtt, sizeof(rtt), "%dms", pl->rtt_ms);
		reply_printf(r, "%-10s %-8s %-6s %-9s %-9s %s\n", name, rtt, gw_tristate(pl->mptcp),
			     gw_tristate(pl->syn_data), pl->answered ? "yes" : "no",
			     gw_probe_verdict(pl));
	}
	if (p->json)
		reply_puts(r, "]}\n");
	p->reply = NULL;
	gw_probe_free(p);
	reply_done(r, 0);
}

static void gw_probe_on_event(struct loop_io *io, uint32_t events)
{
	struct gw_probe_link *pl = container_of(io, struct gw_probe_link, io);
	struct gw_probe *p = pl->probe;
	char buf[64];

	if (pl->rtt_ms < 0) {
		int err = sock_pending_error(io->fd);

		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			pl->err = err > 0 ? err : ECONNREFUSED;
			gw_probe_link_end(pl);
		} else if (events & (EPOLLOUT | EPOLLIN)) {
			struct tcp_info ti;
			socklen_t len = sizeof(ti);

			pl->rtt_ms = (int)(p->gw->loop.now_ms - p->started_ms);
			pl->mptcp = sock_is_mptcp(io->fd);
			if (getsockopt(io->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
			    len >= offsetof(struct tcp_info, tcpi_rto))
				pl->syn_data = (ti.tcpi_options & TCPI_OPT_SYN_DATA) != 0;
		}
	}
	if (!pl->done && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) &&
	    recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
		pl->answered = true;
		gw_probe_link_end(pl);
	}
	if (p->pending == 0)
		gw_probe_finish(p);
}

static void gw_probe_on_timeout(struct loop_timer *timer)
{
	gw_probe_finish(container_of(timer, struct gw_probe, timer));
}

static void gw_probe_cancel(struct reply *r)
{
	struct gw_probe *p = r->cancel_arg;

	p->reply = NULL;
	gw_probe_free(p);
}

static void gw_probe_cancel_all(struct gateway *gw)
{
	while (gw->probes) {
		struct gw_probe *p = gw->probes;
		struct reply *r = p->reply;

		p->reply = NULL;
		gw_probe_free(p);
		if (r)
			reply_done(r, -ECANCELED);
	}
}

static int gw_ctl_probe(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;
	const struct config_gateway *gc = &gw->config.gateway;
	int conv = gw_pick_converter(gw, 0);
	const struct addr_port *dst = &gc->converters[conv < 0 ? 0 : conv];
	uint8_t header[CONV_MAX_LEN];
	struct conv_writer w;
	struct gw_probe *p = calloc(1, sizeof(*p));
	int header_len;

	if (!p) {
		reply_puts(r, "out of memory");
		return -ENOMEM;
	}
	conv_writer_begin(&w, header, sizeof(header));
	header_len = conv_writer_finish(&w);
	p->gw = gw;
	p->reply = r;
	p->json = req->json;
	p->started_ms = gw->loop.now_ms;
	p->len = gw->links_on ? gw->links.len : 1;
	loop_timer_init(&p->timer, gw_probe_on_timeout);
	p->next = gw->probes;
	gw->probes = p;
	for (size_t i = 0; i < p->len; i++) {
		struct gw_probe_link *pl = &p->links[i];
		struct sock_connect_opts opts = gw_upstream_opts(gw);
		int fd;

		*pl = (struct gw_probe_link){ .probe = p,
					      .link = gw->links_on ? (int)i : -1,
					      .rtt_ms = -1,
					      .mptcp = -1,
					      .syn_data = -1 };
		pl->io.fd = -1;
		pl->io.on_event = gw_probe_on_event;
		p->pending++;
		if (gw->links_on && !gw->links.link[i].carrier) {
			pl->err = ENETDOWN; /* nothing would leave: say so at once */
			gw_probe_link_end(pl);
			continue;
		}
		if (gw->links_on &&
		    !links_local_addr(&gw->links, (int)i, gw_family(dst), &opts.local)) {
			pl->err = EADDRNOTAVAIL;
			gw_probe_link_end(pl);
			continue;
		}
		opts.has_local = gw->links_on;
		fd = sock_connect_tfo(dst, &opts, header, (size_t)(header_len > 0 ? header_len : 0));
		if (fd < 0) {
			pl->err = -fd;
			gw_probe_link_end(pl);
			continue;
		}
		pl->io.fd = fd;
		if (loop_add(&gw->loop, &pl->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
			close(fd);
			pl->io.fd = -1;
			pl->err = ENOMEM;
			gw_probe_link_end(pl);
		}
	}
	/* even when every link failed at once, the answer leaves from the loop */
	loop_timer_arm(&gw->loop, &p->timer, p->pending ? GW_PROBE_TIMEOUT_MS : 0);
	r->cancel = gw_probe_cancel;
	r->cancel_arg = p;
	return REPLY_LATER;
}

static const struct http_route gw_routes[] = {
	{ "/metrics", HTTP_METRICS_TYPE, gw_http_metrics },
	{ "/status.json", "application/json", gw_http_status },
	{ "/history.json", "application/json", gw_http_history },
	{ "/", WEBUI_TYPE, webui_page },
};

static void gw_on_sample(struct loop_timer *timer)
{
	struct gateway *gw = container_of(timer, struct gateway, sample);
	struct status_link links[LINKS_MAX * 2];
	size_t n = gw_link_rows(gw, links, sizeof(links) / sizeof(links[0]));

	status_history_add(gw->history, gw_wall_ms(), links, n);
	loop_timer_arm(&gw->loop, &gw->sample, gw->history->interval_ms);
}

/* The control socket (unless none) and the metrics endpoint (if set). A busy default socket
 * path is a warning; an explicit one, or the metrics address, is fatal. 0 or -errno. */
int gw_control_start(struct gateway *gw)
{
	const struct config_control *cfg = &gw->config.gateway.control;
	int ret;

	gw->provider = (struct ctl_provider){
		.role = "gateway",
		.ctx = gw,
		.status = gw_ctl_status,
		.sessions = gw_ctl_sessions,
		.links = gw_ctl_links,
		.probe = gw_ctl_probe,
		.reload = gw_ctl_reload,
	};
	ret = ctl_serve(&gw->ctl, &gw->loop, cfg->socket, cfg->socket_set, &gw->provider);
	if (ret < 0 || !cfg->metrics)
		return ret;
	gw->history = malloc(sizeof(*gw->history));
	if (!gw->history)
		return -ENOMEM;
	status_history_init(gw->history, 1000);
	loop_timer_init(&gw->sample, gw_on_sample);
	gw_on_sample(&gw->sample);
	return http_serve(&gw->http, &gw->loop, &cfg->metrics_listen, &gw->routes, gw_routes,
			  sizeof(gw_routes) / sizeof(gw_routes[0]), gw);
}

void gw_control_stop(struct gateway *gw)
{
	gw_probe_cancel_all(gw);
	ctl_stop(&gw->ctl);
	http_stop(&gw->http);
	if (gw->history)
		loop_timer_cancel(&gw->loop, &gw->sample);
	free(gw->history);
	gw->history = NULL;
}

