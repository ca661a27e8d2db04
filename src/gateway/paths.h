/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_PATHS_H
#define MPCONV_PATHS_H

#include "addr.h"
#include "links.h"
#include "loop.h"
#include "pm.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Subflows per upstream connection, through the kernel's userspace path manager
 * (net.mptcp.path_manager=userspace): once a tracked connection is fully established (the
 * ESTABLISHED event), one subflow per other usable link it may use (backup links flagged
 * backup). A link that dies has its subflows closed at once (their data is sent again on the
 * others); a link that returns gets a subflow back on every connection that may use it (the
 * in-kernel path manager never re-creates one). Failed attempts are retried with back-off.
 */
struct paths_conn {
	uint32_t token;
	struct addr_port remote; /* the converter (its shared address, for a fleet instance) */
	/* A converter fleet (docs/fleet.md): the peer set the C flag (no joins to remote); its
	 * extra subflows, one per link the initial link included, go to the address the instance
	 * announced (ADD_ADDR) once it has, never to remote. sub[] then tracks those. */
	bool deny_initial, announced, initial_up;
	bool heard;		    /* an ANNOUNCED came (kept: it can beat ESTABLISHED's C flag) */
	struct addr_port heard_addr;
	struct addr_port target; /* where extra subflows go: remote, or the announced address */
	uint8_t allowed;	 /* links it may use (bit i = link i) */
	uint8_t backup;		 /* links it uses only as backup */
	int initial_link;	 /* the link of the initial subflow (-1 = unknown) */
	bool established;
	/* subflows over the connection's life, from the path manager's events: opened (the
	 * initial one included), up now, and the most up at once */
	uint8_t sf_opened, sf_up, sf_max;
	struct paths_subflow {
		bool up, pending; /* pending: asked for, no event yet (until retry_at) */
		struct addr_port local, remote; /* with ports, as the kernel reported them */
		unsigned failures;
		uint64_t retry_at_ms;
	} sub[LINKS_MAX];
	struct paths_conn *hnext; /* hash chain */
};

struct paths_stats {
	unsigned long created, create_failed, closed_by_link_down, restored, events_lost;
	unsigned long announced; /* connections moved to an address their converter announced */
};

#define PATHS_BUCKETS	    1024
#define PATHS_EARLY_TOKENS 64 /* per subscriber: each one sees every other one's tokens too */

/* What the events said of a connection before it was tracked (its ESTABLISHED, and with a
 * fleet its ANNOUNCED, can beat the gateway's paths_track). */
struct paths_early {
	uint32_t token;
	uint64_t seen; /* paths->early_seen when it was first seen: the oldest goes first */
	bool established, deny_initial, announced;
	struct addr_port addr; /* announced */
};

struct paths {
	struct loop *loop;
	struct links *links;
	struct pm pm;
	struct loop_io events_io;
	struct loop_timer retry_timer;
	struct paths_conn *buckets[PATHS_BUCKETS];
	unsigned long conns;
	struct paths_early *early; /* seen before the tracking began; early_len of them */
	unsigned early_len;
	uint8_t backup_links; /* links whose subflows are backup now (overflow.c), bit i = link i */
	uint64_t early_seen;
	struct paths_stats stats;
};

/* Opens the path manager and subscribes to its events. 0 or -errno (message logged). */
/* subscribers: how many take the same events (the gateway's workers; each keeps room for
 * every one's early events). */
int paths_start(struct paths *paths, struct loop *loop, struct links *links, unsigned subscribers);
void paths_stop(struct paths *paths);

/*
 * Starts managing the MPTCP connection fd (connected; its token is read now). allowed = 0
 * means every link. Returns the record (owned by paths until paths_forget), or NULL when fd is
 * not an MPTCP connection (fallback) or on error.
 */
struct paths_conn *paths_track(struct paths *paths, int fd, uint8_t allowed, uint8_t backup);
/* Changes the links a tracked connection may use (a pooled connection taken by a rule). */
void paths_set_policy(struct paths *paths, struct paths_conn *conn, uint8_t allowed,
		      uint8_t backup);
/* Stops managing it (before its socket is closed). */
void paths_forget(struct paths *paths, struct paths_conn *conn);
/* Links changed: close subflows on a dead link, add them back on a live one. */
void paths_link_changed(struct paths *paths, int link, bool usable);
/* Link's subflows become backup (or stop being so) on every connection, and new ones start
 * that way: MP_PRIO through the path manager. Returns how many subflows were changed. */
unsigned paths_set_link_backup(struct paths *paths, int link, bool backup);
/* Subflows up on the connection, the initial one included. */
unsigned paths_subflows(const struct paths_conn *conn);

#endif
