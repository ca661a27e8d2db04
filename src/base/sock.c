// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Socket helpers: listeners, non-blocking connects, and the MPTCP/TCP queries the daemon needs.
 * Owns no state. Never logs: every helper returns -errno and the caller logs with context.
 */
#include "sock.h"

#include <errno.h>
#include <stddef.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

static int set_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) == -1)
		return -errno;
	return 0;
}

int sock_set_nodelay(int fd)
{
	return set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

int sock_set_buffers(int fd, uint32_t size)
{
	int ret;

	if (size == 0)
		return 0;
	ret = set_int(fd, SOL_SOCKET, SO_RCVBUF, (int)size);
	if (ret == 0)
		ret = set_int(fd, SOL_SOCKET, SO_SNDBUF, (int)size);
	return ret;
}

int sock_set_reset_on_close(int fd)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)) == -1)
		return -errno;
	return 0;
}

static int set_recverr(int fd, int family, int on)
{
	if (family == AF_INET6)
		return set_int(fd, IPPROTO_IPV6, IPV6_RECVERR, on);
	return set_int(fd, IPPROTO_IP, IP_RECVERR, on);
}

int sock_enable_recverr(int fd, int family)
{
	return set_recverr(fd, family, 1);
}

int sock_disable_recverr(int fd, int family)
{
	return set_recverr(fd, family, 0);
}

/* An MPTCP socket is refused with these when MPTCP is compiled out or disabled by sysctl. */
static bool mptcp_unavailable(int err)
{
	return err == EPROTONOSUPPORT || err == ENOPROTOOPT || err == EINVAL;
}

static int open_stream(int family, bool mptcp, bool *used_mptcp)
{
	int fd = -1;

	if (mptcp) {
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_MPTCP);
		if (fd == -1 && !mptcp_unavailable(errno))
			return -errno;
	}
	*used_mptcp = fd != -1;
	if (fd == -1)
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	return fd == -1 ? -errno : fd;
}

int sock_listen(const struct addr_port *addr, const struct sock_listen_opts *opts, bool *used_mptcp)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(addr, &ss);
	int fd, ret;

	fd = open_stream(ss.ss_family, opts->mptcp, used_mptcp);
	if (fd < 0)
		return fd;
	ret = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (ret == 0 && opts->reuseport)
		ret = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (ret == 0 && ss.ss_family == AF_INET6)
		ret = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	if (ret == 0 && opts->transparent)
		ret = set_int(fd, ss.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
			      ss.ss_family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, 1);
	if (ret == 0)
		ret = sock_set_buffers(fd, opts->buffer_size);
	if (ret == 0 && opts->tfo_queue > 0) {
		ret = set_int(fd, IPPROTO_TCP, TCP_FASTOPEN, opts->tfo_queue);
		/* Cookie-less TFO, as deployed Convert clients use (RFC 8803 section 1.7 notes). */
		if (ret == 0)
			ret = set_int(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 1);
	}
	if (ret == 0 && bind(fd, (struct sockaddr *)&ss, len) == -1)
		ret = -errno;
	if (ret == 0 && listen(fd, opts->backlog) == -1)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/* The source address of an outgoing connection; the port is chosen at connect time. */
static int sock_bind_local(int fd, const struct sock_connect_opts *opts)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	/* before connect: the SYN must carry the mark (MPTCP copies it to every subflow) */
	if (opts->mark) {
		ret = set_int(fd, SOL_SOCKET, SO_MARK, (int)opts->mark);
		if (ret)
			return ret;
	}
	if (!opts->has_local)
		return 0;
	len = addr_to_sockaddr(&opts->local, &ss);
	if (opts->local.port == 0 && ss.ss_family == AF_INET)
		set_int(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		return -errno;
	return 0;
}

int sock_connect(const struct addr_port *dst, const struct sock_connect_opts *opts)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(dst, &ss);
	bool used_mptcp;
	int fd, ret = 0;

	fd = open_stream(ss.ss_family, opts->mptcp, &used_mptcp);
	if (fd < 0)
		return fd;
	/*
	 * MPTCP sockets refuse TCP_SYNCNT (ENOPROTOOPT) and IP_RECVERR/IPV6_RECVERR (EOPNOTSUPP)
	 * on Linux 6.18: for them the caller's connect timeout bounds the SYN retries and no ICMP
	 * detail is available. Plain TCP sockets must accept both.
	 */
	if (opts->syn_retries > 0 && !used_mptcp)
		ret = set_int(fd, IPPROTO_TCP, TCP_SYNCNT, opts->syn_retries);
	if (ret == 0 && opts->nodelay)
		ret = sock_set_nodelay(fd);
	if (ret == 0 && used_mptcp)
		ret = sock_set_buffers(fd, opts->buffer_size);
	if (ret == 0 && !used_mptcp)
		ret = sock_enable_recverr(fd, ss.ss_family);
	if (ret == 0)
		ret = sock_bind_local(fd, opts);
	if (ret == 0 && connect(fd, (struct sockaddr *)&ss, len) == -1 && errno != EINPROGRESS)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int sock_connect_tfo(const struct addr_port *dst, const struct sock_connect_opts *opts,
		     const void *data, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = addr_to_sockaddr(dst, &ss);
	bool used_mptcp;
	ssize_t n;
	int fd, ret;

	fd = open_stream(ss.ss_family, opts->mptcp, &used_mptcp);
	if (fd < 0)
		return fd;
	ret = set_int(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1);
	if (ret == 0)
		ret = set_int(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 1);
	if (ret == 0 && opts->nodelay)
		ret = sock_set_nodelay(fd);
	if (ret == 0 && used_mptcp)
		ret = sock_set_buffers(fd, opts->buffer_size);
	/* With TCP_FASTOPEN_CONNECT, connect() returns at once and the first write goes into
	 * the SYN. */
	if (ret == 0)
		ret = sock_bind_local(fd, opts);
	if (ret == 0 && connect(fd, (struct sockaddr *)&ss, sslen) == -1 && errno != EINPROGRESS)
		ret = -errno;
	if (ret == 0) {
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n != (ssize_t)len)
			ret = n < 0 ? -errno : -EAGAIN;
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int sock_pending_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -errno;
	return err;
}

int sock_protocol(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == -1)
		return -errno;
	return proto;
}

int sock_is_mptcp(int fd)
{
	int is_mptcp = 0;
	socklen_t len = sizeof(is_mptcp);

	if (getsockopt(fd, IPPROTO_TCP, SOCK_TCP_IS_MPTCP, &is_mptcp, &len) == -1)
		return -errno;
	return is_mptcp ? 1 : 0;
}

int sock_mptcp_info(int fd, struct sock_mptcp_info *info)
{
	socklen_t len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (getsockopt(fd, SOL_MPTCP, SOCK_MPTCP_INFO, info, &len) == -1)
		return -errno;
	return 0;
}

int sock_subflows(int fd)
{
	struct sock_mptcp_info info;
	int ret = sock_mptcp_info(fd, &info);

	if (ret == -EOPNOTSUPP)
		return 1;
	if (ret < 0)
		return ret;
	return info.subflows_total ? info.subflows_total : info.subflows + 1;
}

#define SOCK_MPTCP_FULL_INFO 4

/* struct tcp_info as the kernel fills it past glibc's copy (which ends at tcpi_total_retrans). */
struct sock_tcp_info {
	struct tcp_info base;
	uint64_t pacing_rate, max_pacing_rate;
	uint64_t bytes_acked, bytes_received;
	uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
	uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
	uint32_t delivered, delivered_ce;
	uint64_t bytes_sent, bytes_retrans;
};

/* struct mptcp_subflow_info: the id, then struct mptcp_subflow_addrs (8-byte aligned). */
struct sock_subflow_info {
	uint32_t id;
	struct sockaddr_storage local, remote;
};

/* struct mptcp_full_info (6.5+): sizes in and out, user pointers to the two arrays. */
struct sock_full_info {
	uint32_t size_tcpinfo_kernel; /* out */
	uint32_t size_tcpinfo_user;   /* in: our element size; out: what the kernel wrote */
	uint32_t size_sfinfo_kernel;  /* out */
	uint32_t size_sfinfo_user;
	uint32_t num_subflows;	   /* out: all subflows, even beyond size_arrays_user */
	uint32_t size_arrays_user; /* in: elements in each array */
	uint64_t subflow_info;
	uint64_t tcp_info;
	struct sock_mptcp_info mptcp_info;
};

#define SOCK_SUBFLOWS_MAX 16

static void sock_fill_subflow(struct sock_subflow *sf, const struct sock_tcp_info *ti,
			      size_t ti_len)
{
	sf->rtt_us = ti->base.tcpi_rtt;
	/* Kernels older than 4.x stop before these: leave zero rather than read stale bytes. */
	if (ti_len >= offsetof(struct sock_tcp_info, bytes_received) + sizeof(uint64_t)) {
		sf->bytes_acked = ti->bytes_acked;
		sf->bytes_received = ti->bytes_received;
	}
}

static int sock_tcp_as_subflow(int fd, struct sock_subflow *out, size_t max)
{
	struct sock_tcp_info ti;
	socklen_t len = sizeof(ti);
	struct sockaddr_storage ss;
	socklen_t ss_len = sizeof(ss);

	if (max == 0)
		return 1;
	memset(&ti, 0, sizeof(ti));
	memset(out, 0, sizeof(*out));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -errno;
	sock_fill_subflow(out, &ti, len);
	if (getsockname(fd, (struct sockaddr *)&ss, &ss_len) == 0)
		addr_from_sockaddr((struct sockaddr *)&ss, ss_len, &out->local);
	ss_len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &ss_len) == 0)
		addr_from_sockaddr((struct sockaddr *)&ss, ss_len, &out->remote);
	return 1;
}

int sock_subflows_info(int fd, struct sock_subflow *out, size_t max)
{
	struct sock_subflow_info sfi[SOCK_SUBFLOWS_MAX];
	struct sock_tcp_info ti[SOCK_SUBFLOWS_MAX];
	struct sock_full_info full;
	socklen_t len = sizeof(full);
	size_t n;

	if (max > SOCK_SUBFLOWS_MAX)
		max = SOCK_SUBFLOWS_MAX;
	memset(&full, 0, sizeof(full));
	memset(sfi, 0, sizeof(sfi));
	memset(ti, 0, sizeof(ti));
	full.size_tcpinfo_user = sizeof(ti[0]);
	full.size_sfinfo_user = sizeof(sfi[0]);
	full.size_arrays_user = (uint32_t)max;
	full.subflow_info = (uint64_t)(uintptr_t)sfi;
	full.tcp_info = (uint64_t)(uintptr_t)ti;
	if (getsockopt(fd, SOL_MPTCP, SOCK_MPTCP_FULL_INFO, &full, &len) == -1 ||
	    full.num_subflows == 0)
		/* Plain TCP (ENOPROTOOPT/EOPNOTSUPP), a fallback, or a kernel before 6.5. */
		return sock_tcp_as_subflow(fd, out, max);
	n = full.num_subflows < max ? full.num_subflows : max;
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].id = sfi[i].id;
		/* Trust the sizes the kernel says it wrote, never our own. */
		if (full.size_sfinfo_user >= sizeof(sfi[0])) {
			addr_from_sockaddr((struct sockaddr *)&sfi[i].local, sizeof(sfi[i].local),
					   &out[i].local);
			addr_from_sockaddr((struct sockaddr *)&sfi[i].remote, sizeof(sfi[i].remote),
					   &out[i].remote);
		}
		if (full.size_tcpinfo_user >= sizeof(ti[i].base))
			sock_fill_subflow(&out[i], &ti[i], full.size_tcpinfo_user);
	}
	return (int)full.num_subflows;
}

int sock_subflows_used(int fd)
{
	struct sock_subflow sf[SOCK_SUBFLOWS_MAX];
	int n = sock_subflows_info(fd, sf, SOCK_SUBFLOWS_MAX), used;

	if (n <= 0)
		return n < 0 ? n : 1;
	used = n;
	for (int i = 0; i < n && i < SOCK_SUBFLOWS_MAX; i++)
		if ((int)sf[i].id > used)
			used = (int)sf[i].id;
	return used;
}

uint32_t sock_rtt_us(int fd)
{
	struct sock_subflow sf[SOCK_SUBFLOWS_MAX];
	int n = sock_subflows_info(fd, sf, SOCK_SUBFLOWS_MAX);
	uint32_t best = 0;

	for (int i = 0; i < n && i < SOCK_SUBFLOWS_MAX; i++)
		if (sf[i].rtt_us && (!best || sf[i].rtt_us < best))
			best = sf[i].rtt_us;
	return best;
}

int sock_icmp_error(int fd, uint8_t *type, uint8_t *code)
{
	char control[512];
	struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };

	if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) == -1)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		struct sock_extended_err ee;

		if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6)
			continue;
		*type = ee.ee_type;
		*code = ee.ee_code;
		return 0;
	}
	return -EAGAIN;
}

int sock_unsent(int fd)
{
	int pending = 0;

	if (ioctl(fd, SIOCOUTQ, &pending) == -1)
		return -errno;
	return pending;
}
