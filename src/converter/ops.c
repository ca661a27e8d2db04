// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the operator sees of a running converter (main thread): `mpconvctl` status, sessions
 * and reload, /metrics, /status.json and the page. Session lists stay with their workers: a
 * query is queued in each worker's inbox and answered there; the last answer wakes this
 * thread, which merges and replies.
 */
#include "converter.h"

#include "log.h"
#include "reply.h"
#include "webui.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static const int cv_error_codes[] = {
	CONV_ERR_UNSUPPORTED_VERSION, CONV_ERR_MALFORMED_MESSAGE,
	CONV_ERR_UNSUPPORTED_MESSAGE, CONV_ERR_MISSING_COOKIE,
	CONV_ERR_NOT_AUTHORIZED,      CONV_ERR_UNSUPPORTED_TCP_OPTION,
	CONV_ERR_RESOURCE_EXCEEDED,   CONV_ERR_NETWORK_FAILURE,
	CONV_ERR_CONNECTION_RESET,    CONV_ERR_DESTINATION_UNREACHABLE,
};

#define CV_NCODES (sizeof(cv_error_codes) / sizeof(cv_error_codes[0]))

/* Metric labels of the destination policy's refusals (special classes are one label). */
static const char *const cv_dest_verdict_names[DEST_VERDICT_COUNT] = {
	[DEST_ALLOWED] = "allowed",	    [DEST_PORT_ZERO] = "port-zero",
	[DEST_SPECIAL] = "special-address", [DEST_OWN_ADDRESS] = "own-address",
	[DEST_DENIED] = "denied-destination",
};

static void cv_status_json(struct cv_control *c, struct reply *r, struct cv_query *q,
			   const struct status_session *rows, size_t n);

static void cv_query_free(struct cv_query *q, unsigned nworkers)
{
	for (unsigned i = 0; i < nworkers; i++)
		free(q->parts[i].rows);
	free(q);
}

static void cv_query_cancel(struct reply *r)
{
	struct cv_query *q = r->cancel_arg;

	q->reply = NULL; /* the workers' answers will be dropped */
}

/* Asks every worker; the answer comes back through cv_on_answers. Returns REPLY_LATER. */
static int cv_query_start(struct cv_control *c, struct reply *r, enum cv_query_kind kind, bool json,
			  size_t limit)
{
	struct cv_query *q = calloc(1, sizeof(*q) + c->nworkers * sizeof(q->parts[0]));
	int n;

	if (!q) {
		reply_puts(r, "out of memory");
		return -ENOMEM;
	}
	q->control = c;
	q->reply = r;
	q->kind = kind;
	q->json = json;
	q->limit = limit;
	if (kind == CV_QUERY_STATUS) {
		n = status_read_interfaces(q->links, CV_MAX_LINKS);
		q->links_len = n < 0 ? 0 : (size_t)n;
	}
	atomic_init(&q->remaining, c->nworkers);
	q->next = c->queries;
	c->queries = q;
	r->cancel = cv_query_cancel;
	r->cancel_arg = q;
	for (unsigned i = 0; i < c->nworkers; i++) {
		struct cv_worker *w = &c->workers[i];

		q->parts[i].query = q;
		pthread_mutex_lock(&w->inbox_lock);
		q->parts[i].next = w->inbox;
		w->inbox = &q->parts[i];
		pthread_mutex_unlock(&w->inbox_lock);
		eventfd_write(w->wakeup.fd, 1);
	}
	return REPLY_LATER;
}

/* Every worker's rows in one array, largest sessions first. NULL with *n = 0 if none. */
static struct status_session *cv_query_rows(const struct cv_query *q, unsigned nworkers, size_t *n)
{
	struct status_session *all;
	size_t total = 0;

	for (unsigned i = 0; i < nworkers; i++)
		total += q->parts[i].rows_len;
	*n = 0;
	if (total == 0)
		return NULL;
	all = malloc(total * sizeof(*all));
	if (!all)
		return NULL;
	for (unsigned i = 0; i < nworkers; i++) {
		if (q->parts[i].rows_len == 0)
			continue; /* rows may be NULL */
		memcpy(all + *n, q->parts[i].rows, q->parts[i].rows_len * sizeof(*all));
		*n += q->parts[i].rows_len;
	}
	status_sort_sessions(all, *n);
	return all;
}

static void cv_query_finish(struct cv_control *c, struct cv_query *q)
{
	struct reply *r = q->reply;
	struct status_session *rows;
	size_t n;

	if (!r)
		return;
	rows = cv_query_rows(q, c->nworkers, &n);
	if (q->kind == CV_QUERY_STATUS) {
		cv_status_json(c, r, q, rows, n < CV_TOP_SESSIONS ? n : CV_TOP_SESSIONS);
	} else {
		status_sessions_reply(r, rows, n, q->json);
	}
	free(rows);
	reply_done(r, 0);
}

static void cv_on_answers(struct loop_io *io, uint32_t events)
{
	struct cv_control *c = container_of(io, struct cv_control, answers);
	struct cv_query **pp = &c->queries;
	uint64_t value;

	while (read(io->fd, &value, sizeof(value)) > 0)
		;
	while (*pp) {
		struct cv_query *q = *pp;

		if (atomic_load(&q->remaining) != 0) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		cv_query_finish(c, q);
		cv_query_free(q, c->nworkers);
	}
}

static unsigned long cv_load(atomic_ulong *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* Bytes relayed so far in one direction (RELAY_A: up), open sessions included: the workers'
 * live meters summed. */
static unsigned long cv_bytes(const struct cv_control *c, enum relay_side from)
{
	unsigned long sum = 0;

	for (unsigned i = 0; i < c->nworkers; i++)
		sum += relay_meter_read(&c->workers[i].meter, from);
	return sum;
}

/* The totals as one JSON object's members (no braces), shared by status -j and status.json. */
static void cv_totals_json(struct cv_control *c, struct reply *r)
{
	struct cv_stats *st = &c->shared->stats;

	reply_printf(r,
		     "\"sessions_open\":%u,\"sessions_accepted\":%lu,\"sessions_total\":%lu,"
		     "\"sessions_relayed\":%lu,\"bytes_up\":%lu,\"bytes_down\":%lu,"
		     "\"client_mptcp\":%lu,\"client_tcp\":%lu,\"server_mptcp\":%lu,"
		     "\"server_tcp\":%lu,\"errors_sent\":{",
		     atomic_load(&c->shared->sessions), cv_load(&st->accepted),
		     cv_load(&st->sessions), cv_load(&st->relayed), cv_bytes(c, RELAY_A),
		     cv_bytes(c, RELAY_B), cv_load(&st->client_mptcp), cv_load(&st->client_tcp),
		     cv_load(&st->server_mptcp), cv_load(&st->server_tcp));
	for (size_t i = 0, n = 0; i < CV_NCODES; i++) {
		unsigned long v = cv_load(&st->errors[cv_error_codes[i]]);

		if (v)
			reply_printf(r, "%s\"%s\":%lu", n++ ? "," : "",
				     conv_error_slug(cv_error_codes[i]), v);
	}
	/* how sessions ended, by the slugs of the logs' end= and the metrics' reason label */
	reply_puts(r, "},\"ends\":{");
	for (int i = 0, n = 0; i < SESSION_END_COUNT; i++) {
		unsigned long v = cv_load(&st->ends[i]);

		if (v)
			reply_printf(r, "%s\"%s\":%lu", n++ ? "," : "",
				     session_end_name((enum session_end)i), v);
	}
	reply_puts(r, "}");
}

static void cv_identity_json(struct cv_control *c, struct reply *r, const struct cv_cfg *cfg)
{
	reply_printf(r,
		     "\"role\":\"converter\",\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%llu,"
		     "\"workers\":%u,\"config\":",
		     MPCONV_VERSION, (long)getpid(),
		     (unsigned long long)(op_uptime_ms(&c->ops) / 1000), c->nworkers);
	reply_json_string(r, cfg->config.path);
}

static void cv_status_json(struct cv_control *c, struct reply *r, struct cv_query *q,
			   const struct status_session *rows, size_t n)
{
	struct cv_cfg *cfg = cv_cfg_get(c->shared);

	for (size_t k = 0; k < q->links_len; k++)
		for (unsigned i = 0; i < c->nworkers; i++)
			q->links[k].subflows += q->parts[i].link_subflows[k];
	reply_puts(r, "{");
	cv_identity_json(c, r, cfg);
	reply_printf(r, ",\"time_ms\":%llu,", (unsigned long long)op_wall_ms());
	cv_totals_json(c, r);
	reply_puts(r, ",\"links\":");
	status_links_json(r, q->links, q->links_len);
	reply_puts(r, ",\"sessions\":");
	status_sessions_json(r, rows, n);
	reply_puts(r, "}\n");
	cv_cfg_put(cfg);
}

static int cv_ctl_status(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct cv_control *c = ctx;
	struct cv_stats *st = &c->shared->stats;
	struct cv_cfg *cfg = cv_cfg_get(c->shared);
	const struct config_converter *cc = &cfg->config.converter;
	char u1[REPLY_UNIT_LEN], u2[REPLY_UNIT_LEN], where[ADDR_STRLEN];
	size_t errors = 0;

	if (req->json) {
		reply_puts(r, "{");
		cv_identity_json(c, r, cfg);
		reply_puts(r, ",\"listen\":[");
		for (size_t i = 0; i < cc->listen_len; i++) {
			reply_puts(r, i ? "," : "");
			reply_json_string(r, addr_format(&cc->listen[i], true, where));
		}
		reply_puts(r, "],");
		cv_totals_json(c, r);
		reply_puts(r, "}\n");
		cv_cfg_put(cfg);
		return 0;
	}
	reply_printf(r, "%-10s converter %s (pid %ld)\n", "role", MPCONV_VERSION, (long)getpid());
	reply_printf(r, "%-10s %s\n", "uptime", reply_fmt_age(op_uptime_ms(&c->ops), u1));
	reply_printf(r, "%-10s %s\n", "config", cfg->config.path ? cfg->config.path : "(flags)");
	reply_printf(r, "%-10s", "listen");
	for (size_t i = 0; i < cc->listen_len; i++)
		reply_printf(r, " %s", addr_format(&cc->listen[i], true, where));
	reply_printf(r, "\n%-10s %u\n", "workers", c->nworkers);
	reply_printf(r, "%-10s %u open, %lu ended (%lu relayed), %lu accepted\n", "sessions",
		     atomic_load(&c->shared->sessions), cv_load(&st->sessions),
		     cv_load(&st->relayed), cv_load(&st->accepted));
	reply_printf(r, "%-10s %s up, %s down\n", "bytes", reply_fmt_bytes(cv_bytes(c, RELAY_A), u1),
		     reply_fmt_bytes(cv_bytes(c, RELAY_B), u2));
	reply_printf(r, "%-10s %lu MPTCP, %lu TCP\n", "clients", cv_load(&st->client_mptcp),
		     cv_load(&st->client_tcp));
	reply_printf(r, "%-10s %lu MPTCP, %lu TCP\n", "servers", cv_load(&st->server_mptcp),
		     cv_load(&st->server_tcp));
	reply_printf(r, "%-10s", "errors");
	for (size_t i = 0; i < CV_NCODES; i++) {
		unsigned long v = cv_load(&st->errors[cv_error_codes[i]]);

		if (v)
			reply_printf(r, "%s %s %lu", errors++ ? "," : "",
				     conv_error_slug(cv_error_codes[i]), v);
	}
	reply_puts(r, errors ? "\n" : " none\n");
	cv_cfg_put(cfg);
	return 0;
}

static int cv_ctl_sessions(void *ctx, struct reply *r, const struct ctl_request *req)
{
	return cv_query_start(ctx, r, CV_QUERY_SESSIONS, req->json, 0);
}

static int cv_ctl_reload(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct cv_control *c = ctx;
	char why[CONFIG_ERR_LEN] = "";
	int ret = cv_reload(c->shared, why);

	if (req->json && ret == 0) {
		reply_puts(r, "{\"reloaded\":true,\"message\":");
		reply_json_string(r, why);
		reply_puts(r, "}\n");
	} else {
		reply_printf(r, "%s%s", why, ret == 0 ? "\n" : "");
	}
	return ret;
}

static int cv_ctl_inbound(void *ctx, struct reply *r, const struct ctl_request *req)
{
	cvi_report(&((struct cv_control *)ctx)->inbound, r, req->json);
	return 0;
}

static int cv_http_status(void *ctx, struct reply *r)
{
	return cv_query_start(ctx, r, CV_QUERY_STATUS, true, CV_TOP_SESSIONS);
}

/* A counter family with one label taking two values. */
static void cv_metrics_pair(struct metrics_writer *w, const char *name, const char *help,
			    const char *label, const char *a, unsigned long va, const char *b,
			    unsigned long vb)
{
	struct metrics_label l = { label, a };

	metrics_family(w, name, METRICS_COUNTER, help);
	metrics_sample(w, &l, 1, va);
	l.value = b;
	metrics_sample(w, &l, 1, vb);
}

static int cv_http_metrics(void *ctx, struct reply *r)
{
	struct cv_control *c = ctx;
	struct cv_stats *st = &c->shared->stats;
	struct metrics_writer w;
	struct metrics_label l[1];

	metrics_writer_init(&w, r, "converter");
	op_metrics_common(&w, &c->ops, atomic_load(&c->shared->sessions));
	metrics_family(&w, "mpconv_sessions_accepted_total", METRICS_COUNTER,
		       "Client connections accepted.");
	metrics_sample(&w, NULL, 0, cv_load(&st->accepted));
	metrics_family(&w, "mpconv_sessions_total", METRICS_COUNTER, "Sessions ended.");
	metrics_sample(&w, NULL, 0, cv_load(&st->sessions));
	metrics_family(&w, "mpconv_sessions_relayed_total", METRICS_COUNTER,
		       "Ended sessions that reached the relay.");
	metrics_sample(&w, NULL, 0, cv_load(&st->relayed));
	metrics_family(&w, "mpconv_sessions_closed_total", METRICS_COUNTER,
		       "Ended sessions by how they ended.");
	for (int i = 0; i < SESSION_END_COUNT; i++) {
		l[0] = (struct metrics_label){ "reason", session_end_name((enum session_end)i) };
		metrics_sample(&w, l, 1, cv_load(&st->ends[i]));
	}
	cv_metrics_pair(&w, "mpconv_bytes_total",
			"Bytes relayed, counted as they move; up is client to server.",
			"direction", "up", cv_bytes(c, RELAY_A), "down", cv_bytes(c, RELAY_B));
	cv_metrics_pair(&w, "mpconv_client_connections_total",
			"Ended sessions by the client leg's protocol (tcp: plain TCP or an MPTCP "
			"fallback).",
			"protocol", "mptcp", cv_load(&st->client_mptcp), "tcp",
			cv_load(&st->client_tcp));
	cv_metrics_pair(&w, "mpconv_server_connections_total",
			"Relayed sessions by the protocol the server negotiated.", "protocol",
			"mptcp", cv_load(&st->server_mptcp), "tcp", cv_load(&st->server_tcp));
	metrics_family(&w, "mpconv_convert_errors_sent_total", METRICS_COUNTER,
		       "RFC 8803 Error TLVs sent to clients, by error code.");
	for (size_t i = 0; i < CV_NCODES; i++) {
		l[0] = (struct metrics_label){ "code", conv_error_slug(cv_error_codes[i]) };
		metrics_sample(&w, l, 1, cv_load(&st->errors[cv_error_codes[i]]));
	}
	metrics_family(&w, "mpconv_destinations_refused_total", METRICS_COUNTER,
		       "Destinations refused by the destination policy, by reason (every entrance).");
	for (int i = DEST_PORT_ZERO; i < DEST_VERDICT_COUNT; i++) {
		l[0] = (struct metrics_label){ "reason", cv_dest_verdict_names[i] };
		metrics_sample(&w, l, 1, cv_load(&st->dest_refused[i]));
	}
	metrics_family(&w, "mpconv_socks_name_lookups_total", METRICS_COUNTER,
		       "SOCKS host names (ATYP 3) looked up, by outcome (cached: from the cache).");
	for (int i = 0; i < CV_NAME_COUNT; i++) {
		static const char *const results[CV_NAME_COUNT] = { "resolved", "cached", "failed" };

		l[0] = (struct metrics_label){ "result", results[i] };
		metrics_sample(&w, l, 1, cv_load(&st->names[i]));
	}
	metrics_family(&w, "mpconv_sessions_idle", METRICS_GAUGE,
		       "Connections waiting for their message now (limit: max-idle).");
	metrics_sample(&w, NULL, 0, atomic_load(&c->shared->idle));
	metrics_family(&w, "mpconv_own_addresses", METRICS_GAUGE,
		       "Local, broadcast and anycast routes of this host, never a destination.");
	metrics_sample(&w, NULL, 0, ownaddr_count(&c->shared->own));
	metrics_family(&w, "mpconv_setup_seconds", METRICS_HISTOGRAM,
		       "From accept to the reply written and the relay started.");
	metrics_histogram(&w, NULL, 0, &st->setup);
	cvi_metrics(&c->inbound, &w);
	return 0;
}

static int cv_http_history(void *ctx, struct reply *r)
{
	op_history_json(&((struct cv_control *)ctx)->ops, r);
	return 0;
}

/* The status page's recent past: this namespace's interface counters. */
static int cv_read_links(void *ctx, struct status_link *rows, size_t max)
{
	return status_read_interfaces(rows, max);
}

static const struct http_route cv_routes[] = {
	{ "/metrics", HTTP_METRICS_TYPE, cv_http_metrics },
	{ "/status.json", "application/json", cv_http_status },
	{ "/history.json", "application/json", cv_http_history },
	{ "/", WEBUI_TYPE, webui_page },
};

/*
 * The eventfd the workers' answers arrive on, the control socket (unless control-socket =
 * none) and the metrics endpoint (if metrics-listen is set). A default control socket that is
 * busy (another converter on this host) is a warning; an explicit one, or the metrics address,
 * is fatal.
 */
int cv_control_start(struct cv_control *c)
{
	const struct ctl_provider provider = {
		.role = "converter",
		.ctx = c,
		.status = cv_ctl_status,
		.sessions = cv_ctl_sessions,
		.reload = cv_ctl_reload,
		.inbound = cv_ctl_inbound,
	};
	int ret;

	c->answers.on_event = cv_on_answers;
	c->answers.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->answers.fd == -1)
		return -errno;
	ret = loop_add(&c->loop, &c->answers, EPOLLIN);
	if (ret < 0)
		return ret;
	return op_start(&c->ops, &c->loop, &c->shared->cfg->config.converter.common.control,
			&provider, cv_routes, sizeof(cv_routes) / sizeof(cv_routes[0]),
			cv_read_links, c);
}

/* Stops serving; pending answers are cancelled (their queries stay until the workers end). */
void cv_control_stop(struct cv_control *c)
{
	op_stop(&c->ops);
}

void cv_control_destroy(struct cv_control *c)
{
	while (c->queries) {
		struct cv_query *q = c->queries;

		c->queries = q->next;
		cv_query_free(q, c->nworkers);
	}
	if (c->answers.fd >= 0)
		close(c->answers.fd);
	c->answers.fd = -1;
}
