/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_STATUS_H
#define MPCONV_STATUS_H

#include "addr.h"
#include "cpe.h"
#include "reply.h"
#include "sock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What an operator sees of a running daemon, role-neutral: snapshots of sessions and links
 * that a role fills in (on the thread that owns them) and the renderers that turn them into
 * `mpconvctl` text (aligned, human units), JSON (raw numbers) and the status page's data.
 *
 * JSON shapes (the status page and `mpconvctl -j` read these):
 *   session: {"client":"a:p","dest":"a:p"|null,"state":S,"mode":S|null,"rule":S|null,
 *             "age_ms":N,"bytes_up":N,"bytes_down":N,"client_mptcp":B,"server_mptcp":B,
 *             "subflows_total":N,"subflows_used":N,"upstream":S,"client_rtt_us":N|null,
 *             "upstream_rtt_us":N|null,"subflows":[{"id":N,"local":"a:p","remote":"a:p",
 *             "rtt_us":N,"bytes_acked":N,"bytes_received":N}]}
 *   link:    {"name":S,"state":S,"rx_bytes":N,"tx_bytes":N,"subflows":N,
 *             "rtt_ms":X|null,"loss_pct":X|null,"addresses":["a",...]}
 * Byte counters are totals since some start; readers derive rates from two samples.
 */
#define STATUS_MAX_SUBFLOWS 8
#define STATUS_LINK_NAME    16
#define STATUS_LINK_ADDRS   4

struct status_session {
	struct addr_port client, dest;
	bool has_dest, client_mptcp, server_mptcp;
	const char *state; /* static string */
	const char *mode;  /* static string or NULL (gateway: pool, tfo, plain, direct) */
	char rule[24];	   /* policy rule name; "" = none */
	char cpe[CPE_ID_MAX + 1]; /* converter with a cpe-table: the session's CPE; "" = none */
	uint64_t age_ms;
	uint64_t bytes_up, bytes_down; /* client -> server, server -> client */
	int subflows_total;	       /* on the multipath leg now; may exceed subflows_len */
	int subflows_used;	       /* on the multipath leg over the session's life */
	bool multipath_upstream;       /* the subflows are the upstream leg's (gateway) */
	const char *upstream;	       /* the far leg's name (static): NULL = "server" */
	uint32_t client_rtt_us, upstream_rtt_us; /* smoothed RTT of each leg, 0 = unknown */
	bool has_worker;	       /* the gateway: the worker thread that owns it */
	unsigned worker;
	size_t subflows_len;
	struct sock_subflow subflows[STATUS_MAX_SUBFLOWS];
};

struct status_link {
	char name[STATUS_LINK_NAME];
	const char *state; /* static: "up", "down", "no-carrier", ... */
	uint64_t rx_bytes, tx_bytes;
	unsigned subflows;
	double rtt_ms, loss_pct; /* < 0: not measured */
	size_t addrs_len;
	uint8_t addrs[STATUS_LINK_ADDRS][16];
	uint8_t prefix_len[STATUS_LINK_ADDRS]; /* of the connected prefix, 0..128 */
};

/* Largest first by bytes both ways, so "top sessions" is a prefix. */
void status_sort_sessions(struct status_session *s, size_t n);

/* `ss`-like table: one line per session, then one indented line per subflow. */
void status_sessions_text(struct reply *r, const struct status_session *s, size_t n);
/* A JSON array of session objects. */
void status_sessions_json(struct reply *r, const struct status_session *s, size_t n);

/* The `mpconvctl sessions` / `links` answer: {"sessions": [...]} / {"links": [...]} with json,
 * else the table. */
void status_sessions_reply(struct reply *r, const struct status_session *s, size_t n, bool json);
void status_links_reply(struct reply *r, const struct status_link *l, size_t n, bool json);

void status_links_text(struct reply *r, const struct status_link *l, size_t n);
void status_links_json(struct reply *r, const struct status_link *l, size_t n);

/*
 * The link a subflow runs over: the one holding its local address, else the one whose
 * connected prefix holds its remote address (a converter's subflows all end on its service
 * address; their peers are told apart by the access network they come from). -1 if none.
 */
int status_link_of(const struct status_link *l, size_t nl, const struct sock_subflow *sf);
/* Adds each subflow of the sessions to its link (status_link_of). */
void status_count_link_subflows(struct status_link *l, size_t nl, const struct status_session *s,
				size_t ns);

/*
 * The last minutes of link counters, sampled by the role (once a second, on its loop) so that
 * the status page draws the recent past as soon as it opens. A ring; links are matched by name
 * (at most STATUS_HISTORY_LINKS; later ones are not recorded).
 * JSON (/history.json): {"interval_ms":N,"t":[ms...],
 *                        "links":[{"name":S,"rx":[N|null...],"tx":[N|null...]}]}
 * with t in wall-clock milliseconds and null where the link did not exist.
 */
#define STATUS_HISTORY_LEN   301 /* five minutes of one-second samples, plus the first */
#define STATUS_HISTORY_LINKS 16
#define STATUS_HISTORY_NONE  UINT64_MAX

struct status_history {
	uint64_t interval_ms;
	size_t names_len;
	char names[STATUS_HISTORY_LINKS][STATUS_LINK_NAME];
	size_t head, len; /* oldest sample, samples held */
	uint64_t t_ms[STATUS_HISTORY_LEN];
	uint64_t rx[STATUS_HISTORY_LEN][STATUS_HISTORY_LINKS]; /* STATUS_HISTORY_NONE: absent */
	uint64_t tx[STATUS_HISTORY_LEN][STATUS_HISTORY_LINKS];
};

void status_history_init(struct status_history *h, uint64_t interval_ms);
void status_history_add(struct status_history *h, uint64_t wall_ms, const struct status_link *l,
			size_t n);
void status_history_json(struct reply *r, const struct status_history *h);

/*
 * Parses /proc/net/dev text into links (name, rx and tx bytes; state "unknown"), skipping lo.
 * Returns the number filled (at most max). Pure.
 */
size_t status_parse_netdev(const char *text, struct status_link *l, size_t max);
/* This network namespace's interfaces as links: counters, state and addresses. Or -errno. */
int status_read_interfaces(struct status_link *l, size_t max);

#endif
