/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_HOSTENV_H
#define MPCONV_HOSTENV_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What the host gives transparent capture, read from /proc/sys and /sys (under a root prefix,
 * "" for the real ones, so that tests fake them): whether IPv6 is there at all, and whether a
 * LAN interface is a bridge whose IP traffic br_netfilter also runs through the IP hooks. Both
 * are of the caller's network namespace (ip netns exec remounts /sys; /proc/sys/net follows the
 * reader's namespace).
 */
#define HOSTENV_PATH_MAX 512

/* IPv6 usable for local delivery: the stack exists (no ipv6.disable=1) and neither "all" nor
 * lo has disable_ipv6 = 1 (routes through lo are then refused with EACCES). */
bool hostenv_ipv6_usable(const char *root);

/*
 * The first LAN interface (names as in the config, a trailing '*' a prefix wildcard) that is a
 * bridge while net.bridge.bridge-nf-call-iptables or -ip6tables is 1, copied into bridge (at
 * least IFNAMSIZ bytes); false when there is none. TPROXY cannot work on such a bridge: the IP
 * hooks run once for the bridged frame (the socket is assigned there), then the frame reaches
 * the bridge device's own IP input, which drops that socket and skips the hooks, and the SYN
 * finds no listener (tests/integration/48-gateway-environment.sh).
 */
bool hostenv_bridge_netfilter(const char *root, const char *const *lan, size_t lan_len,
			      char *bridge, size_t bridge_len);

#endif
