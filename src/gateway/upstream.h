/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_UPSTREAM_H
#define MPCONV_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Which converter a new bonded connection asks, and when a converter is asked again after
 * failures. One failed or refused connection says little (a per-client limit, a lost SYN): the
 * session retries that connection itself. A converter is backed off only after
 * UPSTREAM_FAILS_IN_ROW failures (refusals, unreachable, no reply) with no success between
 * them: 1 s first, doubling while it keeps failing, never past the 30 s RFC 8803 asks a client
 * to wait after Resource Exceeded or Network Failure (Error 64/65). When a back-off ends, one
 * connection tries the converter (for at most UPSTREAM_TRIAL_MS) while the others keep going
 * elsewhere: a dead converter costs one slow connection per back-off, not a stalled household.
 * A success (a connection or a probe) ends the back-off and the count. Pure: the caller passes the
 * clock and does the connecting and the logging.
 */
#define UPSTREAM_MAX		  4 /* = CONFIG_MAX_CONVERTERS */
#define UPSTREAM_FAILS_IN_ROW	  3
#define UPSTREAM_BACKOFF_FIRST_MS 1000
#define UPSTREAM_BACKOFF_MAX_MS	  30000
#define UPSTREAM_TRIAL_MS	  3000 /* a trial connection's answer is due within this */

struct upstream_converter {
	uint64_t retry_at_ms, backoff_ms;
	uint64_t trial_until_ms; /* one connection is trying it after a back-off; 0 = none */
	unsigned fails_in_row;	 /* failures since the last success */
	bool refused; /* the back-off follows refusals (Error 64/65), not connect failures */
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
 * tried anyway); -1 when all left refused repeatedly (nobody may be asked). Picking a converter
 * whose back-off just ended makes this connection its trial: the others skip it meanwhile.
 */
int upstream_pick_for(struct upstream *up, uint8_t tried, uint64_t now_ms);
/* The converter new connections go to now (the first usable one, else the first): what
 * `mpconvctl status` calls active. */
unsigned upstream_active(const struct upstream *up, uint64_t now_ms);
/* Converter i failed a connection (refused: Error 64/65). true when this starts (or extends)
 * a back-off, false when it does not (fewer than UPSTREAM_FAILS_IN_ROW in a row, or backing
 * off already); *backoff_ms says for how long (0: none). */
bool upstream_failed(struct upstream *up, unsigned i, bool refused, uint64_t now_ms,
		     uint64_t *backoff_ms);
/* Converter i answered (a connection, or a probe): its back-off and failure count end. true
 * when it was backing off. */
bool upstream_ok(struct upstream *up, unsigned i);

#endif
