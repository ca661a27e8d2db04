/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_SOCKDIAG_H
#define MPCONV_SOCKDIAG_H

/*
 * TCP sockets in TIME_WAIT through inet_diag (NETLINK_SOCK_DIAG) over libmnl, and SOCK_DESTROY
 * for them (ss -K; needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY).
 *
 * Why: a transparent (TPROXY) connection that ended leaves a TIME_WAIT socket whose local
 * address is the server's. Once the capture is gone, early demux still hands a new SYN of the
 * same 4-tuple to it, and forwarding drops a packet that has a socket: the LAN host's next
 * connection with that port times out for up to a minute. Destroying them at exit lets the
 * host forward at once.
 */

/* Destroys every IPv4 and IPv6 TCP TIME_WAIT socket whose local address is not one of this
 * host's (of the caller's network namespace). The number destroyed, or -errno (-EOPNOTSUPP:
 * the kernel cannot destroy sockets). */
int sockdiag_destroy_foreign_timewait(void);

#endif
