/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_INTERCEPT_H
#define MPCONV_INTERCEPT_H

#include "acl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Transparent capture of LAN TCP on the gateway: one nftables table of our own (inet
 * "mpconv"), written and removed through libnftables, plus the policy routing that delivers
 * TPROXY'd packets locally (fwmark rule + "local default dev lo" route, IPv4 and IPv6).
 * Never touches any other table; a stale table from a crashed run is replaced at install.
 *
 * What is intercepted: TCP arriving on the LAN interfaces, except
 *   - traffic to the gateway's own addresses and to the excluded prefixes (the converters);
 *   - connections whose SYN carries MP_CAPABLE (native end-to-end MPTCP is never touched):
 *     marked in conntrack at the SYN so none of their later packets is diverted either.
 * Intercepted SYNs go to the TPROXY listener on `port`; packets of intercepted connections
 * reach their transparent socket by the socket match. With `redirect`, a nat chain redirects
 * the same connections to `port` instead (the fallback for kernels without TPROXY).
 */
#define INTERCEPT_MAX_LAN     8
#define INTERCEPT_MAX_EXCLUDE 16
#define INTERCEPT_MAX_NATIVE_PORTS 16 /* = ONPATH_MAX_NATIVE_PORTS */

struct intercept_config {
	const char *lan_ifaces[INTERCEPT_MAX_LAN];
	size_t lan_len;
	struct acl_prefix exclude[INTERCEPT_MAX_EXCLUDE]; /* never intercepted (converters...) */
	size_t exclude_len;
	uint16_t port;	 /* TPROXY listener port (on every address) */
	uint32_t fwmark; /* mark for the local-delivery rule; default 0x6d70 ("mp") */
	uint32_t table;	 /* routing table for local delivery; default 0x6d70 */
	bool ipv6;	 /* also IPv6; default true */
	/* REDIRECT (nat) instead of TPROXY: the listener finds the original destination with
	 * SO_ORIGINAL_DST; needs conntrack NAT, no policy routing and no IP_TRANSPARENT. */
	bool redirect;
	/* The on-path converter's capture, the other way round: only connections whose SYN
	 * carries MPTCP (MP_CAPABLE, or MP_JOIN to a port with sessions) are diverted; plain TCP
	 * is forwarded. TPROXY; the rules are onpath_render's (src/onpath.h). */
	bool mptcp_only;
	/* on-path only: nflog group told of each MP_CAPABLE SYN (0 = none), and the ports whose
	 * MPTCP is routed on untouched (native end to end; `exclude` does it by destination) */
	uint16_t log_group;
	uint16_t native_ports[INTERCEPT_MAX_NATIVE_PORTS];
	size_t native_ports_len;
	bool draining; /* on-path shutdown: no new connection diverted, the live ones still are */
	/* Host mode: this machine's own outgoing TCP instead of a LAN's (lan_ifaces unused). A nat
	 * chain on the output hook redirects each new connection's SYN to `port` (the listener
	 * reads SO_ORIGINAL_DST), except sockets marked own_mark (the daemon's: its upstream
	 * connections would loop), destinations routed to lo (loopback, this host's addresses),
	 * the excluded prefixes, and SYNs carrying MP_CAPABLE (native MPTCP). No policy routing. */
	bool local;
	uint32_t own_mark; /* SO_MARK of the daemon's sockets; default INTERCEPT_OWN_MARK */
};

#define INTERCEPT_OWN_MARK 0x6d71 /* "mq": not the TPROXY mark, so no fwmark rule applies */

/* The ruleset text install() would load, for logs, tests and `--dry-run`. Returns len or
 * -ENOSPC; -EINVAL for an unusable config (no or bad LAN interface name, port 0, a system
 * routing table 253-255), which install() refuses the same way. */
int intercept_render(const struct intercept_config *cfg, char *buf, size_t len);
/* Replaces our table and adds the policy routing. 0 or -errno; err gets nft's message. */
int intercept_install(const struct intercept_config *cfg, char *err, size_t errlen);
/* Removes our table and routing; absent ones are not an error. 0 or -errno. */
int intercept_remove(const struct intercept_config *cfg, char *err, size_t errlen);

#endif
