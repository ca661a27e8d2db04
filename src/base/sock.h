/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_SOCK_H
#define MPCONV_SOCK_H

#include "addr.h"

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

/*
 * Socket helpers with the kernel's MPTCP details in one place. They never log: they return
 * 0 / an fd, or -errno, and callers log with context.
 * Debian 12's headers are from Linux 6.1; constants and struct mptcp_info fields we need from
 * newer kernels are defined here.
 */
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#define SOCK_MPTCP_INFO				 1
#define SOCK_TCP_IS_MPTCP			 43
#define SOCK_MPTCP_INFO_FLAG_FALLBACK		 (1u << 0)
#define SOCK_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED (1u << 1)

/* struct mptcp_info as of Linux 6.18; the kernel copies min(its size, ours). */
struct sock_mptcp_info {
	uint8_t subflows; /* additional subflows, the initial one not counted */
	uint8_t add_addr_signal;
	uint8_t add_addr_accepted;
	uint8_t subflows_max;
	uint8_t add_addr_signal_max;
	uint8_t add_addr_accepted_max;
	uint32_t flags;
	uint32_t token;
	uint64_t write_seq;
	uint64_t snd_una;
	uint64_t rcv_nxt;
	uint8_t local_addr_used;
	uint8_t local_addr_max;
	uint8_t csum_enabled;
	uint32_t retransmits;
	uint64_t bytes_retrans;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t bytes_acked;
	uint8_t subflows_total; /* 6.10+: all subflows; 0 from older kernels */
	uint8_t reserved[3];
	uint32_t last_data_sent;
	uint32_t last_data_recv;
	uint32_t last_ack_recv;
};

struct sock_listen_opts {
	bool mptcp; /* IPPROTO_MPTCP, falling back to TCP when the kernel refuses it */
	bool reuseport;
	int tfo_queue; /* > 0: TCP_FASTOPEN qlen + TCP_FASTOPEN_NO_COOKIE */
	int backlog;
	uint32_t buffer_size; /* SO_RCVBUF/SO_SNDBUF; 0 = leave autotuning */
	bool transparent;     /* IP_TRANSPARENT (TPROXY listeners) */
};

/* Non-blocking listener. Returns the fd or -errno; *used_mptcp tells what the kernel gave. */
int sock_listen(const struct addr_port *addr, const struct sock_listen_opts *opts,
		bool *used_mptcp);

struct sock_connect_opts {
	bool mptcp;
	int syn_retries;      /* TCP_SYNCNT; 0 = kernel default */
	uint32_t buffer_size; /* 0 = autotuning */
	bool nodelay;
	bool has_local;		/* bind to local.ip first (port 0 = any): picks the access link */
	struct addr_port local;
	uint32_t mark;		/* SO_MARK before connect (needs CAP_NET_ADMIN); 0 = none */
};

/* Non-blocking socket + connect(); EINPROGRESS is success. Returns the fd or -errno (the
 * connect error itself, e.g. -ENETUNREACH, with the socket already closed). */
int sock_connect(const struct addr_port *dst, const struct sock_connect_opts *opts);

/*
 * Non-blocking MPTCP (or TCP) connect with data in the SYN (TCP_FASTOPEN_CONNECT, no cookie):
 * the first len bytes of data ride in the SYN when the kernel can. Returns the fd or -errno.
 */
int sock_connect_tfo(const struct addr_port *dst, const struct sock_connect_opts *opts,
		     const void *data, size_t len);

int sock_set_nodelay(int fd);
int sock_set_buffers(int fd, uint32_t size);
/* SO_LINGER {1, 0}: the next close() sends a RST instead of a FIN. */
int sock_set_reset_on_close(int fd);
/* SO_ERROR: 0, or the pending error as a positive errno; -errno if getsockopt fails. */
int sock_pending_error(int fd);
/* SO_PROTOCOL: IPPROTO_TCP or IPPROTO_MPTCP, or -errno. */
int sock_protocol(int fd);
/* TCP_IS_MPTCP: 1 MPTCP, 0 plain TCP (never asked for, or fell back), or -errno. */
int sock_is_mptcp(int fd);
/* MPTCP_INFO: 0, or -EOPNOTSUPP on a plain or fallen-back socket, or -errno. */
int sock_mptcp_info(int fd, struct sock_mptcp_info *info);
/* Total subflows of an MPTCP socket (1 for plain TCP), or -errno. */
int sock_subflows(int fd);
/* One subflow of a connection, as `mpconvctl sessions` shows it. */
struct sock_subflow {
	struct addr_port local, remote;
	uint64_t bytes_acked;	 /* sent and acknowledged on this subflow */
	uint64_t bytes_received; /* received on this subflow */
	uint32_t rtt_us;	 /* smoothed RTT */
	uint32_t id;		 /* the kernel's subflow id (1 = initial); 0 for plain TCP */
};

/*
 * The subflows of fd with addresses and per-subflow counters, in one consistent read
 * (MPTCP_FULL_INFO, Linux 6.5+); a plain-TCP or fallen-back socket is reported as one subflow
 * from TCP_INFO and its own addresses. Fills at most max entries; returns the number of
 * subflows (possibly more than max), or -errno.
 */
int sock_subflows_info(int fd, struct sock_subflow *out, size_t max);
/* The subflows an MPTCP connection opened over its life so far: the kernel numbers each new
 * subflow of a connection one higher (from 1, never reused), so the highest id alive, and at
 * least the number alive now. 1 for plain TCP, -errno. */
int sock_subflows_used(int fd);
/* A connection's smoothed RTT in µs from TCP_INFO (plain TCP) or its subflows' (MPTCP: the
 * lowest); 0 when unknown. */
uint32_t sock_rtt_us(int fd);

/* Reads one queued ICMP error (IP_RECVERR / IPV6_RECVERR must be on): 0 with type and code,
 * -EAGAIN if none is queued. */
int sock_icmp_error(int fd, uint8_t *type, uint8_t *code);
int sock_enable_recverr(int fd, int family);
int sock_disable_recverr(int fd, int family);
/* Bytes written but not yet acknowledged (SIOCOUTQ), or -errno. */
int sock_unsent(int fd);

#endif
