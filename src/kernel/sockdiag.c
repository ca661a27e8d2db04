// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inet_diag over libmnl: dumps TCP TIME_WAIT sockets and destroys those with a foreign (not
 * local) local address, the leftovers of transparent connections (sockdiag.h). Owns one netlink
 * socket for the duration of a call; never touches a socket bound to one of the host's own
 * addresses, never logs.
 */
#include "sockdiag.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCKDIAG_BUF	8192
#define SOCKDIAG_BATCH	256 /* sockets destroyed per dump round */
#define SOCKDIAG_ROUNDS 64  /* a bound, should new ones keep appearing */

struct sockdiag_dump {
	struct inet_diag_sockid ids[SOCKDIAG_BATCH];
	int family;
	size_t len;
};

/* Whether addr (family's size, network order) is one of this host's: bind() says. */
static bool sockdiag_is_local(int family, const uint32_t *addr)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len;
	bool local;
	int fd;

	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = addr[0];
		len = sizeof(struct sockaddr_in);
	} else {
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, addr, 16);
		len = sizeof(struct sockaddr_in6);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return true; /* cannot tell: leave the socket alone */
	local = bind(fd, (struct sockaddr *)&ss, len) == 0 || errno != EADDRNOTAVAIL;
	close(fd);
	return local;
}

static int sockdiag_on_msg(const struct nlmsghdr *nlh, void *arg)
{
	const struct inet_diag_msg *msg = mnl_nlmsg_get_payload(nlh);
	struct sockdiag_dump *dump = arg;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*msg)) || msg->idiag_state != TCP_TIME_WAIT)
		return MNL_CB_OK;
	if (dump->len < SOCKDIAG_BATCH && !sockdiag_is_local(dump->family, msg->id.idiag_src))
		dump->ids[dump->len++] = msg->id;
	return MNL_CB_OK;
}

static struct nlmsghdr *sockdiag_request(char *buf, uint16_t type, uint16_t flags, int family,
					 const struct inet_diag_sockid *id, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = 1u << TCP_TIME_WAIT;
	if (id)
		req->id = *id;
	return nlh;
}

/* One round trip: the request, then replies until done (dump) or the ack. 0 or -errno. */
static int sockdiag_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	char buf[SOCKDIAG_BUF];
	uint32_t portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) == -1)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n == -1)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, arg);
	} while (ret > 0);
	return ret == -1 ? -errno : 0;
}

static int sockdiag_family(struct mnl_socket *nl, int family, uint32_t *seq)
{
	char buf[SOCKDIAG_BUF];
	struct sockdiag_dump dump = { .family = family };
	int ret, destroyed = 0;

	for (int round = 0; round < SOCKDIAG_ROUNDS; round++) {
		dump.len = 0;
		ret = sockdiag_talk(nl,
				    sockdiag_request(buf, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, family,
						     NULL, ++*seq),
				    sockdiag_on_msg, &dump);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < dump.len; i++) {
			ret = sockdiag_talk(nl,
					    sockdiag_request(buf, SOCK_DESTROY, NLM_F_ACK, family,
							     &dump.ids[i], ++*seq),
					    NULL, NULL);
			if (ret == -EOPNOTSUPP || ret == -EPERM)
				return ret;
			if (ret == 0)
				destroyed++;
			/* -ENOENT: it expired meanwhile */
		}
		if (dump.len < SOCKDIAG_BATCH)
			break;
	}
	return destroyed;
}

int sockdiag_destroy_foreign_timewait(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	uint32_t seq = 0;
	int ret, total = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		ret = -errno;
		goto cleanup;
	}
	ret = sockdiag_family(nl, AF_INET, &seq);
	if (ret < 0)
		goto cleanup;
	total = ret;
	ret = sockdiag_family(nl, AF_INET6, &seq);
	if (ret >= 0)
		ret += total;
	else if (ret == -EAFNOSUPPORT)
		ret = total;
cleanup:
	mnl_socket_close(nl);
	return ret;
}
