/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_OVERFLOW_H
#define MPCONV_OVERFLOW_H

#include "links.h"
#include "loop.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Overflow links and byte quotas. Every OVERFLOW_TICK_MS the links' interface counters are
 * read; a link's rate is its bytes over the last second, per direction. An overflow link's
 * subflows are backup (the converter sends on them only when nothing else is left) until the
 * primary and secondary links are saturated: their rate in one direction at least
 * OVERFLOW_OPEN_PCT % of their capacity (each link's declared `rate`, else the most it has
 * carried) for OVERFLOW_OPEN_MS. Then backup is cleared on the overflow subflows of every
 * connection (MP_PRIO through the path manager), and set again once the whole demand fell
 * below OVERFLOW_CLOSE_PCT % of the primaries' capacity for OVERFLOW_CLOSE_MS (hysteresis).
 * A link with a quota counts its bytes (rx + tx) and becomes backup-only when they reach it,
 * until the month changes (UTC) or overflow_reset_quota (`mpconvctl reset-quota`).
 */
#define OVERFLOW_TICK_MS   250
#define OVERFLOW_WINDOW	   4 /* ticks in a rate: one second */
#define OVERFLOW_OPEN_PCT  85
#define OVERFLOW_OPEN_MS   1000
#define OVERFLOW_CLOSE_PCT 60
#define OVERFLOW_CLOSE_MS  3000

struct overflow_link {
	uint64_t rx[OVERFLOW_WINDOW + 1], tx[OVERFLOW_WINDOW + 1]; /* counter ring, newest first */
	unsigned samples;
	uint64_t rate_bps[2];	/* rx, tx over the last second */
	uint64_t peak_bps[2];	/* the most it carried in a second, per direction */
	uint64_t quota_used;	/* bytes since the quota's period began */
	bool quota_out;		/* the quota is used up: backup-only */
};

struct overflow {
	struct loop *loop;
	struct links *links;
	/* sets link's subflows backup or not on every connection (each worker's paths); returns
	 * the subflows changed */
	unsigned (*set_backup)(int link, bool backup, void *arg);
	void *arg;
	struct loop_timer timer;
	struct overflow_link link[LINKS_MAX];
	bool on;	     /* a link has role overflow or a quota */
	bool open;	     /* overflow links carry traffic now */
	uint64_t since_ms;   /* the condition for the other state holds since (0 = not) */
	int month;	     /* of the quotas' period (year * 12 + month, UTC) */
	unsigned long opened; /* times the overflow links were opened */
};

/* Starts the sampler when a link has role overflow or a quota (nothing to do otherwise);
 * set_backup NULL: no userspace path manager (it says it cannot). */
void overflow_start(struct overflow *ov, struct loop *loop, struct links *links,
		    unsigned (*set_backup)(int link, bool backup, void *arg), void *arg);
/* The links whose subflows start as backup (bit i = link i): the overflow links standing by. */
uint8_t overflow_standby(const struct overflow *ov);
void overflow_stop(struct overflow *ov);
/* Starts every quota's period again now (their links leave backup-only). */
void overflow_reset_quota(struct overflow *ov);
/* What `mpconvctl links` shows for link i beyond up/down: "standby" or "overflowing" (an
 * overflow link), "quota-used"; NULL for nothing to add. */
const char *overflow_link_state(const struct overflow *ov, int i);

#endif
