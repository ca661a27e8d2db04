// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway's per-LAN-host connection counts (hosts.h). Pure: a small unordered array
 * searched in full (a household has tens of hosts, each lookup is one accept or one close),
 * grown by doubling up to HOSTS_MAX; never touches a socket or the clock.
 */
#include "hosts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t hosts_v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void hosts_init(struct hosts *h)
{
	memset(h, 0, sizeof(*h));
}

void hosts_free(struct hosts *h)
{
	free(h->v);
	hosts_init(h);
}

void hosts_key(const uint8_t ip[16], uint8_t key[16])
{
	memcpy(key, ip, 16);
	if (memcmp(ip, hosts_v4mapped, sizeof(hosts_v4mapped)))
		memset(key + 8, 0, 8);
}

static struct hosts_entry *hosts_find(const struct hosts *h, const uint8_t ip[16])
{
	uint8_t key[16];

	hosts_key(ip, key);
	for (unsigned i = 0; i < h->len; i++)
		if (!memcmp(h->v[i].key, key, 16))
			return &h->v[i];
	return NULL;
}

int hosts_take(struct hosts *h, const uint8_t ip[16], uint32_t limit)
{
	struct hosts_entry *e = hosts_find(h, ip);

	if (!e) {
		if (h->len == h->cap) {
			unsigned cap = h->cap ? h->cap * 2 : 16;
			struct hosts_entry *v;

			if (h->cap >= HOSTS_MAX)
				return -ENOSPC;
			v = realloc(h->v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			h->v = v;
			h->cap = cap;
		}
		e = &h->v[h->len++];
		memset(e, 0, sizeof(*e));
		hosts_key(ip, e->key);
	}
	if (limit && e->count >= limit)
		return 0;
	e->count++;
	return 1;
}

void hosts_put(struct hosts *h, const uint8_t ip[16])
{
	struct hosts_entry *e = hosts_find(h, ip);

	if (!e || !e->count)
		return;
	if (--e->count == 0)
		*e = h->v[--h->len]; /* unordered: the last one takes its place */
	if (h->len == 0)
		hosts_free(h); /* nothing held between bursts, nothing left at exit */
}

uint32_t hosts_count(const struct hosts *h, const uint8_t ip[16])
{
	const struct hosts_entry *e = hosts_find(h, ip);

	return e ? e->count : 0;
}

bool hosts_warn_due(struct hosts *h, const uint8_t ip[16], uint64_t now_ms, uint64_t interval_ms)
{
	struct hosts_entry *e = hosts_find(h, ip);

	/* not now - warned < interval: the workers' clocks are read at slightly different times,
	 * so now may be a little behind the time another worker warned at */
	if (!e || (e->warned_ms && now_ms < e->warned_ms + interval_ms))
		return false;
	e->warned_ms = now_ms ? now_ms : 1;
	return true;
}
