/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_HOSTS_H
#define MPCONV_HOSTS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The gateway's fair share per LAN host: how many connections each LAN host (an IPv4 address,
 * or an IPv6 /64, which one host may fill with privacy addresses) has through the gateway now,
 * against a cap, so one greedy or slow host cannot take the whole household's share. Pure: no
 * clock of its own, no sockets, no logging (the caller logs, at most once per interval per
 * host, with hosts_warn_due).
 */
#define HOSTS_MAX 4096 /* hosts tracked at once; beyond that, new hosts are not limited */

struct hosts_entry {
	uint8_t key[16];
	uint32_t count;
	uint64_t warned_ms; /* last "over its limit" line, 0 = never */
};

struct hosts {
	struct hosts_entry *v; /* owned; unordered, entries with count 0 removed */
	unsigned len, cap;
};

void hosts_init(struct hosts *h);
void hosts_free(struct hosts *h);
/* The host an address belongs to (16-byte form; v4-mapped kept whole, IPv6 cut to /64). */
void hosts_key(const uint8_t ip[16], uint8_t key[16]);
/*
 * One more connection for the host of ip, under limit (0 = none): 1 counted (hosts_put it at
 * its end), 0 refused (the host has limit already), -ENOMEM or -ENOSPC when the host cannot
 * be tracked (the caller lets it through, uncounted).
 */
int hosts_take(struct hosts *h, const uint8_t ip[16], uint32_t limit);
/* A counted connection of the host of ip ended. */
void hosts_put(struct hosts *h, const uint8_t ip[16]);
/* Connections of the host of ip now. */
uint32_t hosts_count(const struct hosts *h, const uint8_t ip[16]);
/* true (and remembers now) when the host of ip was last warned about interval_ms ago or more,
 * or never; false for a host not tracked. */
bool hosts_warn_due(struct hosts *h, const uint8_t ip[16], uint64_t now_ms, uint64_t interval_ms);

#endif
