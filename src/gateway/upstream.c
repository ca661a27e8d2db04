// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway's choice of converter and the RFC 8803 back-off (upstream.h). Pure: no clock of
 * its own, no sockets, no logging; the session code asks and reports, the unit tests drive it.
 */
#include "upstream.h"

#include <string.h>

void upstream_init(struct upstream *up, unsigned len)
{
	memset(up, 0, sizeof(*up));
	up->len = len < UPSTREAM_MAX ? len : UPSTREAM_MAX;
}

bool upstream_usable(const struct upstream *up, unsigned i, uint64_t now_ms)
{
	return i < up->len && now_ms >= up->conv[i].retry_at_ms &&
	       now_ms >= up->conv[i].trial_until_ms;
}

int upstream_pick(const struct upstream *up, uint8_t skip, uint64_t now_ms)
{
	for (unsigned i = 0; i < up->len; i++)
		if (!(skip & (1u << i)) && upstream_usable(up, i, now_ms))
			return (int)i;
	return -1;
}

int upstream_pick_for(struct upstream *up, uint8_t tried, uint64_t now_ms)
{
	int conv = upstream_pick(up, tried, now_ms);

	if (conv >= 0 && up->conv[conv].backoff_ms) /* its back-off is over: this is the trial */
		up->conv[conv].trial_until_ms = now_ms + UPSTREAM_TRIAL_MS;
	for (unsigned i = 0; i < up->len && conv < 0; i++)
		if (!(tried & (1u << i)) && !up->conv[i].refused)
			conv = (int)i;
	return conv;
}

unsigned upstream_active(const struct upstream *up, uint64_t now_ms)
{
	int conv = upstream_pick(up, 0, now_ms);

	return conv < 0 ? 0 : (unsigned)conv;
}

bool upstream_failed(struct upstream *up, unsigned i, bool refused, uint64_t now_ms,
		     uint64_t *backoff_ms)
{
	struct upstream_converter *c = &up->conv[i];

	c->failures++;
	c->fails_in_row++;
	c->trial_until_ms = 0; /* a trial that failed: the back-off below is extended */
	*backoff_ms = upstream_usable(up, i, now_ms) ? 0 : c->backoff_ms;
	/* already backing off (connections that were on their way), or one bad connection */
	if (!upstream_usable(up, i, now_ms) || c->fails_in_row < UPSTREAM_FAILS_IN_ROW)
		return false;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : UPSTREAM_BACKOFF_FIRST_MS;
	if (c->backoff_ms > UPSTREAM_BACKOFF_MAX_MS)
		c->backoff_ms = UPSTREAM_BACKOFF_MAX_MS;
	c->retry_at_ms = now_ms + c->backoff_ms;
	c->refused = refused;
	*backoff_ms = c->backoff_ms;
	return true;
}

bool upstream_ok(struct upstream *up, unsigned i)
{
	struct upstream_converter *c = &up->conv[i];
	bool was = c->backoff_ms != 0;

	c->backoff_ms = 0;
	c->retry_at_ms = 0;
	c->trial_until_ms = 0;
	c->fails_in_row = 0;
	c->refused = false;
	return was;
}
