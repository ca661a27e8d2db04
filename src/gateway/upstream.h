/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_UPSTREAM_H
#define MPCONV_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Which converter a new bonded connection asks, and when a converter is asked again after a
 * failure (RFC 8803: after Resource Exceeded or Network Failure, wait at least 30 s; we wait
 * 1 s after an unreachable one; both double while it keeps failing, up to 5 min). Pure: the
 * caller passes the clock and does the connecting and the logging.
 */
#define UPSTREAM_MAX		       4 /* = CONFIG_MAX_CONVERTERS */
#define UPSTREAM_BACKOFF_REFUSED_MS    30000
#define UPSTREAM_BACKOFF_UNREACHABLE_MS 1000
#define UPSTREAM_BACKOFF_MAX_MS	       300000

struct upstream_converter {
	uint64_t retry_at_ms, backoff_ms;
	bool refused; /* the back-off follows a refusal (Error 64/65), not a connect failure */
	unsigned long failures;
};

struct upstream {
	struct upstream_converter conv[UPSTREAM_MAX];
	unsigned len; /* converters configured, in order of preference */
};

/* A fresh list of len converters, none backing off. */
void upstream_init(struct upstream *up, unsigned len);
bool upstream_usable(const struct upstream *up, unsigned i, uint64_t now_ms);
/* The first converter in order that is not backing off and not in skip (bit i = converter i);
 * -1 if none. */
int upstream_pick(const struct upstream *up, uint8_t skip, uint64_t now_ms);
/*
 * The converter for a connection that has tried those in `tried`: the first usable one; if
 * every one left is backing off, the first that only backs off for being unreachable (it is
 * tried anyway); -1 when all left refused recently (nobody may be asked).
 */
int upstream_pick_for(const struct upstream *up, uint8_t tried, uint64_t now_ms);
/* Converter i failed a connection (refused: Error 64/65). true when this starts (or extends)
 * a back-off, false when it was backing off already; *backoff_ms says for how long. */
bool upstream_failed(struct upstream *up, unsigned i, bool refused, uint64_t now_ms,
		     uint64_t *backoff_ms);
/* Converter i answered: its back-off ends. */
void upstream_ok(struct upstream *up, unsigned i);

#endif
