// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Socket helpers: listeners, non-blocking connects, and the MPTCP/TCP queries the daemon needs.
 * Owns no state. Never logs: every helper returns -errno and the caller logs with context.
 */
#include "sock.h"

#include <errno.h>
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
	if (opts->syn_retries > 0) {
		ret = set_int(fd, IPPROTO_TCP, TCP_SYNCNT, opts->syn_retries);
		if (used_mptcp)
			ret = 0;
	}
	if (ret == 0 && opts->nodelay)
		ret = sock_set_nodelay(fd);
	if (ret == 0 && used_mptcp)
		ret = sock_set_buffers(fd, opts->buffer_size);
	if (ret == 0) {
		ret = sock_enable_recverr(fd, ss.ss_family);
		if (used_mptcp)
			ret = 0;
	}
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
