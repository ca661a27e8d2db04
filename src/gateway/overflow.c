// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Overflow links and per-link byte quotas (overflow.h): a sampler of the links' interface
 * counters that decides when overflow links carry traffic and when a metered link's quota is
 * used up, and says so to the path manager (set_backup: every worker's paths_set_link_backup,
 * from the main thread). Owns its timer and the counters' history; never touches a session.
 */
#include "overflow.h"

#include "log.h"
#include "units.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* /sys/class/net/DEV/statistics/NAME, or 0 (a missing interface counts nothing). */
static uint64_t overflow_counter(const char *dev, const char *name)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", dev, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

static int overflow_month_now(void)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* The primaries (roles primary and secondary, usable): does a direction run at capacity? And
 * is the whole demand (overflow links included) below the closing mark in both? */
static void overflow_judge(const struct overflow *ov, bool *saturated, bool *quiet)
{
	uint64_t cap[2] = { 0, 0 }, used[2] = { 0, 0 }, all[2] = { 0, 0 };

	for (unsigned i = 0; i < ov->links->len; i++) {
		const struct link_state *l = &ov->links->link[i];
		const struct overflow_link *o = &ov->link[i];

		for (int d = 0; d < 2; d++) {
			if (l->conf.role == LINK_OVERFLOW)
				all[d] += o->rate_bps[d];
			if (!l->usable || (l->conf.role != LINK_PRIMARY && l->conf.role != LINK_SECONDARY))
				continue;
			cap[d] += l->conf.rate_bps ? l->conf.rate_bps : o->peak_bps[d];
			used[d] += o->rate_bps[d];
			all[d] += o->rate_bps[d];
		}
	}
	*saturated = *quiet = true;
	for (int d = 0; d < 2; d++) {
		bool sat = cap[d] && used[d] * 100 >= cap[d] * OVERFLOW_OPEN_PCT;

		if (d == 0)
			*saturated = sat;
		else
			*saturated = *saturated || sat;
		if (cap[d] && all[d] * 100 >= cap[d] * OVERFLOW_CLOSE_PCT)
			*quiet = false;
	}
}

/* Overflow links carry traffic (open) or only back up the others. */
static void overflow_set_open(struct overflow *ov, bool open)
{
	unsigned changed = 0;

	ov->open = open;
	ov->since_ms = 0;
	if (open)
		ov->opened++;
	for (unsigned i = 0; i < ov->links->len; i++) {
		if (ov->links->link[i].conf.role != LINK_OVERFLOW || ov->link[i].quota_out)
			continue;
		changed += ov->set_backup((int)i, !open, ov->arg);
	}
	log_info("overflow: the primary links %s: overflow links %s (%u subflows changed)",
		 open ? "are saturated" : "have room again", open ? "carry traffic" : "stand by",
		 changed);
}

/* Counts link i's new bytes against its quota; a quota used up makes it backup-only. */
static void overflow_quota(struct overflow *ov, unsigned i, uint64_t bytes)
{
	const struct link_state *l = &ov->links->link[i];
	struct overflow_link *o = &ov->link[i];
	char used[32];

	if (!l->conf.quota_bytes || o->quota_out)
		return;
	o->quota_used += bytes;
	if (o->quota_used < l->conf.quota_bytes)
		return;
	o->quota_out = true;
	log_warnx("link %s: its quota is used up (%" PRIu64 " bytes): backup only until the month "
		  "ends (%s)",
		  l->conf.name, o->quota_used, units_fmt_size(l->conf.quota_bytes, used));
	ov->set_backup((int)i, true, ov->arg);
}

static void overflow_tick(struct loop_timer *timer)
{
	struct overflow *ov = container_of(timer, struct overflow, timer);
	uint64_t now = ov->loop->now_ms;
	bool saturated, quiet;

	if (overflow_month_now() != ov->month)
		overflow_reset_quota(ov);
	for (unsigned i = 0; i < ov->links->len; i++) {
		const struct link_state *l = &ov->links->link[i];
		struct overflow_link *o = &ov->link[i];
		uint64_t rx = overflow_counter(l->conf.dev, "rx_bytes");
		uint64_t tx = overflow_counter(l->conf.dev, "tx_bytes");

		if (o->samples && rx >= o->rx[0] && tx >= o->tx[0])
			overflow_quota(ov, i, (rx - o->rx[0]) + (tx - o->tx[0]));
		memmove(&o->rx[1], &o->rx[0], OVERFLOW_WINDOW * sizeof(o->rx[0]));
		memmove(&o->tx[1], &o->tx[0], OVERFLOW_WINDOW * sizeof(o->tx[0]));
		o->rx[0] = rx;
		o->tx[0] = tx;
		if (o->samples < OVERFLOW_WINDOW + 1)
			o->samples++;
		if (o->samples <= OVERFLOW_WINDOW)
			continue;
		/* a second's bytes, in bits per second (a counter reset reads as nothing) */
		o->rate_bps[0] = rx >= o->rx[OVERFLOW_WINDOW] ? (rx - o->rx[OVERFLOW_WINDOW]) * 8 : 0;
		o->rate_bps[1] = tx >= o->tx[OVERFLOW_WINDOW] ? (tx - o->tx[OVERFLOW_WINDOW]) * 8 : 0;
		for (int d = 0; d < 2; d++)
			if (o->rate_bps[d] > o->peak_bps[d])
				o->peak_bps[d] = o->rate_bps[d];
	}
	overflow_judge(ov, &saturated, &quiet);
	if (ov->open ? quiet : saturated) {
		if (!ov->since_ms)
			ov->since_ms = now ? now : 1;
		if (now - ov->since_ms >= (ov->open ? OVERFLOW_CLOSE_MS : OVERFLOW_OPEN_MS))
			overflow_set_open(ov, !ov->open);
	} else {
		ov->since_ms = 0;
	}
	loop_timer_arm(ov->loop, &ov->timer, OVERFLOW_TICK_MS);
}

void overflow_start(struct overflow *ov, struct loop *loop, struct links *links,
		    unsigned (*set_backup)(int link, bool backup, void *arg), void *arg)
{
	memset(ov, 0, sizeof(*ov));
	for (unsigned i = 0; i < links->len; i++)
		ov->on |= links->link[i].conf.role == LINK_OVERFLOW || links->link[i].conf.quota_bytes;
	if (!ov->on)
		return;
	if (!set_backup) {
		log_warnx("overflow links and quotas need path-manager userspace: the links are "
			  "used as the kernel's path manager is configured");
		ov->on = false;
		return;
	}
	ov->loop = loop;
	ov->links = links;
	ov->set_backup = set_backup;
	ov->arg = arg;
	ov->month = overflow_month_now();
	loop_timer_init(&ov->timer, overflow_tick);
	loop_timer_arm(loop, &ov->timer, OVERFLOW_TICK_MS);
}

void overflow_stop(struct overflow *ov)
{
	if (ov->on)
		loop_timer_cancel(ov->loop, &ov->timer);
	ov->on = false;
}

void overflow_reset_quota(struct overflow *ov)
{
	ov->month = overflow_month_now();
	for (unsigned i = 0; ov->on && i < ov->links->len; i++) {
		struct overflow_link *o = &ov->link[i];
		bool standby = ov->links->link[i].conf.role == LINK_OVERFLOW && !ov->open;

		o->quota_used = 0;
		if (!o->quota_out)
			continue;
		o->quota_out = false;
		log_info("link %s: a new quota period: used again", ov->links->link[i].conf.name);
		ov->set_backup((int)i, standby, ov->arg);
	}
}

uint8_t overflow_standby(const struct overflow *ov)
{
	uint8_t mask = 0;

	for (unsigned i = 0; ov->on && i < ov->links->len; i++)
		if ((ov->links->link[i].conf.role == LINK_OVERFLOW && !ov->open) ||
		    ov->link[i].quota_out)
			mask |= (uint8_t)(1u << i);
	return mask;
}

const char *overflow_link_state(const struct overflow *ov, int i)
{
	if (!ov->on)
		return NULL;
	if (ov->link[i].quota_out)
		return "quota-used";
	if (ov->links->link[i].conf.role != LINK_OVERFLOW)
		return NULL;
	return ov->open ? "overflowing" : "standby";
}
