// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Snapshots of sessions and links, and their renderings: the aligned text mpconvctl prints, and
 * the JSON that `mpconvctl -j` and the status page read. Role-neutral: the converter and the
 * gateway fill the same structs. Owns nothing; reads this namespace's interface counters on
 * request (status_read_interfaces), never any socket.
 */
#include "status.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t status_weight(const struct status_session *s)
{
	return s->bytes_up + s->bytes_down;
}

static int status_cmp(const void *a, const void *b)
{
	uint64_t wa = status_weight(a), wb = status_weight(b);

	return wa < wb ? 1 : wa > wb ? -1 : 0;
}

void status_sort_sessions(struct status_session *s, size_t n)
{
	if (n > 1)
		qsort(s, n, sizeof(*s), status_cmp);
}

static size_t status_max(size_t a, size_t b)
{
	return a > b ? a : b;
}

static const char *status_upstream(const struct status_session *x)
{
	return x->upstream ? x->upstream : "server";
}

void status_sessions_text(struct reply *r, const struct status_session *s, size_t n)
{
	size_t wc = strlen("client"), wd = strlen("destination"), ws = strlen("state");
	char a[ADDR_STRLEN], b[ADDR_STRLEN], u1[REPLY_UNIT_LEN], u2[REPLY_UNIT_LEN];

	for (size_t i = 0; i < n; i++) {
		wc = status_max(wc, strlen(addr_format(&s[i].client, true, a)));
		if (s[i].has_dest)
			wd = status_max(wd, strlen(addr_format(&s[i].dest, true, b)));
		ws = status_max(ws, strlen(s[i].state));
	}
	reply_printf(r, "%-*s %-*s %-*s %8s %10s %10s  %s\n", (int)wc, "client", (int)wd,
		     "destination", (int)ws, "state", "age", "up", "down", "subflows");
	for (size_t i = 0; i < n; i++) {
		const struct status_session *x = &s[i];

		reply_printf(r, "%-*s %-*s %-*s %8s ", (int)wc, addr_format(&x->client, true, a),
			     (int)wd, x->has_dest ? addr_format(&x->dest, true, b) : "-", (int)ws,
			     x->state, reply_fmt_age(x->age_ms, u1));
		reply_printf(r, "%10s %10s  %d %s", reply_fmt_bytes(x->bytes_up, u1),
			     reply_fmt_bytes(x->bytes_down, u2), x->subflows_total,
			     (x->multipath_upstream ? x->server_mptcp : x->client_mptcp) ? "mptcp"
											  : "tcp");
		if (x->subflows_used > x->subflows_total)
			reply_printf(r, " (%d used)", x->subflows_used);
		if (x->mode)
			reply_printf(r, " mode %s", x->mode);
		if (x->rule[0])
			reply_printf(r, " rule %s", x->rule);
		if (x->cpe[0])
			reply_printf(r, " cpe %s", x->cpe);
		if (x->has_dest)
			reply_printf(r, " %s %s", status_upstream(x), x->server_mptcp ? "mptcp" : "tcp");
		if (x->client_rtt_us)
			reply_printf(r, " rtt client %.1fms", x->client_rtt_us / 1000.0);
		if (x->upstream_rtt_us)
			reply_printf(r, "%s %s %.1fms", x->client_rtt_us ? "" : " rtt",
				     status_upstream(x), x->upstream_rtt_us / 1000.0);
		reply_puts(r, "\n");
		for (size_t j = 0; j < x->subflows_len; j++) {
			const struct sock_subflow *sf = &x->subflows[j];

			reply_printf(r, "    sf %-2u %s <-> %s", sf->id,
				     addr_format(&sf->local, true, a),
				     addr_format(&sf->remote, true, b));
			reply_pad_to(r, 4 + 6 + 2 * wc + 5);
			reply_printf(r, "rtt %.1fms  tx %s  rx %s\n", sf->rtt_us / 1000.0,
				     reply_fmt_bytes(sf->bytes_acked, u1),
				     reply_fmt_bytes(sf->bytes_received, u2));
		}
	}
}

static void status_json_addr(struct reply *r, const struct addr_port *ap, bool with_port)
{
	char a[ADDR_STRLEN];

	reply_json_string(r, addr_format(ap, with_port, a));
}

static void status_json_rtt(struct reply *r, uint32_t rtt_us)
{
	if (rtt_us)
		reply_printf(r, "%u", rtt_us);
	else
		reply_puts(r, "null");
}

void status_sessions_json(struct reply *r, const struct status_session *s, size_t n)
{
	reply_puts(r, "[");
	for (size_t i = 0; i < n; i++) {
		const struct status_session *x = &s[i];

		reply_puts(r, i ? ",{\"client\":" : "{\"client\":");
		status_json_addr(r, &x->client, true);
		reply_puts(r, ",\"dest\":");
		if (x->has_dest)
			status_json_addr(r, &x->dest, true);
		else
			reply_puts(r, "null");
		reply_puts(r, ",\"state\":");
		reply_json_string(r, x->state);
		reply_puts(r, ",\"mode\":");
		reply_json_string(r, x->mode);
		reply_puts(r, ",\"rule\":");
		reply_json_string(r, x->rule[0] ? x->rule : NULL);
		if (x->cpe[0]) { /* only with a cpe-table */
			reply_puts(r, ",\"cpe\":");
			reply_json_string(r, x->cpe);
		}
		if (x->has_worker)
			reply_printf(r, ",\"worker\":%u", x->worker);
		reply_printf(r,
			     ",\"age_ms\":%llu,\"bytes_up\":%llu,\"bytes_down\":%llu,"
			     "\"client_mptcp\":%s,\"server_mptcp\":%s,\"subflows_total\":%d,"
			     "\"subflows_used\":%d,\"upstream\":",
			     (unsigned long long)x->age_ms, (unsigned long long)x->bytes_up,
			     (unsigned long long)x->bytes_down, x->client_mptcp ? "true" : "false",
			     x->server_mptcp ? "true" : "false", x->subflows_total,
			     x->subflows_used > x->subflows_total ? x->subflows_used
								  : x->subflows_total);
		reply_json_string(r, status_upstream(x));
		reply_puts(r, ",\"client_rtt_us\":");
		status_json_rtt(r, x->client_rtt_us);
		reply_puts(r, ",\"upstream_rtt_us\":");
		status_json_rtt(r, x->upstream_rtt_us);
		reply_puts(r, ",\"subflows\":[");
		for (size_t j = 0; j < x->subflows_len; j++) {
			const struct sock_subflow *sf = &x->subflows[j];

			reply_printf(r, "%s{\"id\":%u,\"local\":", j ? "," : "", sf->id);
			status_json_addr(r, &sf->local, true);
			reply_puts(r, ",\"remote\":");
			status_json_addr(r, &sf->remote, true);
			reply_printf(r,
				     ",\"rtt_us\":%u,\"bytes_acked\":%llu,\"bytes_received\":%llu}",
				     sf->rtt_us, (unsigned long long)sf->bytes_acked,
				     (unsigned long long)sf->bytes_received);
		}
		reply_puts(r, "]}");
	}
	reply_puts(r, "]");
}

void status_links_text(struct reply *r, const struct status_link *l, size_t n)
{
	char u1[REPLY_UNIT_LEN], u2[REPLY_UNIT_LEN];

	reply_printf(r, "%-12s %-10s %10s %10s %8s %8s %8s\n", "link", "state", "rx", "tx",
		     "subflows", "rtt", "loss");
	for (size_t i = 0; i < n; i++) {
		reply_printf(r, "%-12s %-10s %10s %10s %8u ", l[i].name, l[i].state,
			     reply_fmt_bytes(l[i].rx_bytes, u1), reply_fmt_bytes(l[i].tx_bytes, u2),
			     l[i].subflows);
		if (l[i].rtt_ms >= 0)
			reply_printf(r, "%6.1fms ", l[i].rtt_ms);
		else
			reply_printf(r, "%8s ", "-");
		if (l[i].loss_pct >= 0)
			reply_printf(r, "%7.1f%%\n", l[i].loss_pct);
		else
			reply_printf(r, "%8s\n", "-");
	}
}

static void status_json_number(struct reply *r, double v)
{
	if (v < 0)
		reply_puts(r, "null");
	else
		reply_printf(r, "%.3f", v);
}

void status_links_json(struct reply *r, const struct status_link *l, size_t n)
{
	reply_puts(r, "[");
	for (size_t i = 0; i < n; i++) {
		reply_puts(r, i ? ",{\"name\":" : "{\"name\":");
		reply_json_string(r, l[i].name);
		reply_puts(r, ",\"state\":");
		reply_json_string(r, l[i].state);
		reply_printf(r, ",\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"subflows\":%u,\"rtt_ms\":",
			     (unsigned long long)l[i].rx_bytes, (unsigned long long)l[i].tx_bytes,
			     l[i].subflows);
		status_json_number(r, l[i].rtt_ms);
		reply_puts(r, ",\"loss_pct\":");
		status_json_number(r, l[i].loss_pct);
		reply_puts(r, ",\"addresses\":[");
		for (size_t j = 0; j < l[i].addrs_len; j++) {
			struct addr_port ap = { .port = 0 };

			memcpy(ap.ip, l[i].addrs[j], 16);
			reply_puts(r, j ? "," : "");
			status_json_addr(r, &ap, false);
		}
		reply_puts(r, "]}");
	}
	reply_puts(r, "]");
}

static bool status_in_prefix(const uint8_t net[16], unsigned len, const uint8_t ip[16])
{
	unsigned whole = len / 8, rest = len % 8;

	if (memcmp(net, ip, whole))
		return false;
	return rest == 0 || ((net[whole] ^ ip[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int status_link_of(const struct status_link *l, size_t nl, const struct sock_subflow *sf)
{
	for (size_t k = 0; k < nl; k++)
		for (size_t a = 0; a < l[k].addrs_len; a++)
			if (!memcmp(l[k].addrs[a], sf->local.ip, 16))
				return (int)k;
	for (size_t k = 0; k < nl; k++)
		for (size_t a = 0; a < l[k].addrs_len; a++)
			if (status_in_prefix(l[k].addrs[a], l[k].prefix_len[a], sf->remote.ip))
				return (int)k;
	return -1;
}

void status_count_link_subflows(struct status_link *l, size_t nl, const struct status_session *s,
				size_t ns)
{
	for (size_t i = 0; i < ns; i++) {
		for (size_t j = 0; j < s[i].subflows_len; j++) {
			int k = status_link_of(l, nl, &s[i].subflows[j]);

			if (k >= 0)
				l[k].subflows++;
		}
	}
}

/* Prefix length of a netmask, counted on the 16-byte (v4-mapped) form. */
static uint8_t status_mask_len(const struct sockaddr *mask)
{
	struct addr_port m;
	unsigned bits = 0;

	if (!mask || !addr_from_sockaddr(mask, sizeof(struct sockaddr_storage), &m))
		return 128;
	for (size_t i = mask->sa_family == AF_INET ? 12 : 0; i < 16; i++)
		bits += (unsigned)__builtin_popcount(m.ip[i]);
	return (uint8_t)(mask->sa_family == AF_INET ? 96 + bits : bits);
}

size_t status_parse_netdev(const char *text, struct status_link *l, size_t max)
{
	size_t n = 0;

	for (const char *line = text; line && *line && n < max;) {
		const char *nl = strchr(line, '\n'), *colon = strchr(line, ':');
		unsigned long long v[9];
		const char *name = line;
		size_t name_len;

		if (!colon || (nl && colon > nl)) { /* the two header lines */
			line = nl ? nl + 1 : NULL;
			continue;
		}
		while (*name == ' ')
			name++;
		name_len = (size_t)(colon - name);
		/* rx: bytes packets errs drop fifo frame compressed multicast, then tx bytes */
		if (name_len > 0 && name_len < STATUS_LINK_NAME &&
		    sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9 &&
		    !(name_len == 2 && !memcmp(name, "lo", 2))) {
			memset(&l[n], 0, sizeof(l[n]));
			memcpy(l[n].name, name, name_len);
			l[n].state = "unknown";
			l[n].rx_bytes = v[0];
			l[n].tx_bytes = v[8];
			l[n].rtt_ms = l[n].loss_pct = -1;
			n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

void status_history_init(struct status_history *h, uint64_t interval_ms)
{
	memset(h, 0, sizeof(*h));
	h->interval_ms = interval_ms;
}

static int status_history_slot(struct status_history *h, const char *name)
{
	for (size_t i = 0; i < h->names_len; i++)
		if (!strcmp(h->names[i], name))
			return (int)i;
	if (h->names_len == STATUS_HISTORY_LINKS)
		return -1;
	/* A new link: absent from every sample before this one. */
	for (size_t j = 0; j < STATUS_HISTORY_LEN; j++)
		h->rx[j][h->names_len] = h->tx[j][h->names_len] = STATUS_HISTORY_NONE;
	snprintf(h->names[h->names_len], STATUS_LINK_NAME, "%s", name);
	return (int)h->names_len++;
}

void status_history_add(struct status_history *h, uint64_t wall_ms, const struct status_link *l,
			size_t n)
{
	size_t at = (h->head + h->len) % STATUS_HISTORY_LEN;

	if (h->len == STATUS_HISTORY_LEN)
		h->head = (h->head + 1) % STATUS_HISTORY_LEN; /* the oldest makes room */
	else
		h->len++;
	h->t_ms[at] = wall_ms;
	for (size_t k = 0; k < STATUS_HISTORY_LINKS; k++)
		h->rx[at][k] = h->tx[at][k] = STATUS_HISTORY_NONE;
	for (size_t i = 0; i < n; i++) {
		int k = status_history_slot(h, l[i].name);

		if (k < 0)
			continue;
		h->rx[at][k] = l[i].rx_bytes;
		h->tx[at][k] = l[i].tx_bytes;
	}
}

static void status_history_series(struct reply *r, const struct status_history *h,
				  const uint64_t (*v)[STATUS_HISTORY_LINKS], size_t k)
{
	reply_puts(r, "[");
	for (size_t i = 0; i < h->len; i++) {
		uint64_t x = v[(h->head + i) % STATUS_HISTORY_LEN][k];

		reply_puts(r, i ? "," : "");
		if (x == STATUS_HISTORY_NONE)
			reply_puts(r, "null");
		else
			reply_printf(r, "%llu", (unsigned long long)x);
	}
	reply_puts(r, "]");
}

void status_history_json(struct reply *r, const struct status_history *h)
{
	reply_printf(r, "{\"interval_ms\":%llu,\"t\":[", (unsigned long long)h->interval_ms);
	for (size_t i = 0; i < h->len; i++)
		reply_printf(r, "%s%llu", i ? "," : "",
			     (unsigned long long)h->t_ms[(h->head + i) % STATUS_HISTORY_LEN]);
	reply_puts(r, "],\"links\":[");
	for (size_t k = 0; k < h->names_len; k++) {
		reply_puts(r, k ? ",{\"name\":" : "{\"name\":");
		reply_json_string(r, h->names[k]);
		reply_puts(r, ",\"rx\":");
		status_history_series(r, h, h->rx, k);
		reply_puts(r, ",\"tx\":");
		status_history_series(r, h, h->tx, k);
		reply_puts(r, "}");
	}
	reply_puts(r, "]}\n");
}

static struct status_link *status_find_link(struct status_link *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].name, name))
			return &l[i];
	return NULL;
}

int status_read_interfaces(struct status_link *l, size_t max)
{
	char text[16384];
	struct ifaddrs *list, *ifa;
	size_t len = 0, n;
	FILE *f = fopen("/proc/self/net/dev", "re");

	if (!f)
		return -errno;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	n = status_parse_netdev(text, l, max);
	if (getifaddrs(&list) == -1)
		return (int)n; /* counters without states are still worth showing */
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		struct status_link *link = status_find_link(l, n, ifa->ifa_name);
		struct addr_port ap;

		if (!link)
			continue;
		link->state = !(ifa->ifa_flags & IFF_UP)	? "down"
			      : !(ifa->ifa_flags & IFF_RUNNING) ? "no-carrier"
								: "up";
		if (ifa->ifa_addr && link->addrs_len < STATUS_LINK_ADDRS &&
		    addr_from_sockaddr(ifa->ifa_addr, sizeof(struct sockaddr_storage), &ap)) {
			link->prefix_len[link->addrs_len] = status_mask_len(ifa->ifa_netmask);
			memcpy(link->addrs[link->addrs_len++], ap.ip, 16);
		}
	}
	freeifaddrs(list);
	return (int)n;
}

void status_sessions_reply(struct reply *r, const struct status_session *s, size_t n, bool json)
{
	if (!json) {
		status_sessions_text(r, s, n);
		return;
	}
	reply_puts(r, "{\"sessions\":");
	status_sessions_json(r, s, n);
	reply_puts(r, "}\n");
}

void status_links_reply(struct reply *r, const struct status_link *l, size_t n, bool json)
{
	if (!json) {
		status_links_text(r, l, n);
		return;
	}
	reply_puts(r, "{\"links\":");
	status_links_json(r, l, n);
	reply_puts(r, "}\n");
}
