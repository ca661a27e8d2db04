/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_LINK_CONF_H
#define MPCONV_LINK_CONF_H

#include <stdbool.h>
#include <stdint.h>

/*
 * An access link as the configuration declares it (the gateway's `link = ...` lines); what
 * the daemon does with one is gateway/links.h. Pure: no sockets, no event loop.
 */
#define LINKS_MAX     8 /* = POL_MAX_LINKS */
#define LINK_NAME_LEN 32
#define LINKS_ERR_LEN 256

/* overflow: carries traffic only while the primary and secondary links are saturated
 * (gateway/overflow.c), a backup subflow otherwise. */
enum link_role { LINK_PRIMARY, LINK_SECONDARY, LINK_BACKUP, LINK_OVERFLOW };

struct link_conf {
	char name[LINK_NAME_LEN];
	char dev[16];
	enum link_role role;
	uint64_t rate_bps;    /* the link's capacity as declared (`rate`), 0 = learned */
	uint64_t quota_bytes; /* rx + tx per month before it becomes backup-only, 0 = none */
	bool has_addr4, has_addr6, has_via4, has_via6;
	uint8_t addr4[16], addr6[16], via4[16], via6[16]; /* 16-byte form (addr.h) */
};

/* Parses one link line (the text below). 0, or -EINVAL with err quoting the bad word. Pure. */
int link_conf_parse(const char *text, struct link_conf *out, char err[LINKS_ERR_LEN]);
const char *link_role_name(enum link_role role);

/*
 * Link text, one per config line (`link = ...`), words in any order after the name:
 *   NAME dev IFNAME [addr A]... [via GW]... [role primary|secondary|backup|overflow]
 *        [rate RATE] [quota SIZE]
 *   e.g. "dsl dev wan0 via 192.0.2.1 via fe80::1 rate 50mbit"
 *        "lte dev wwan0 role overflow quota 10G"
 * RATE: bits per second with kbit, mbit or gbit; SIZE: bytes with K, M, G or T (x1024).
 * Addresses not given are read from the interface (its first global one per family); without
 * `via` the link's default route points at the interface (point-to-point or on-link peer).
 */

#endif
