// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inet_diag over libmnl: dumps TCP TIME_WAIT sockets and destroys those with a foreign (not
 * local) local address, the leftovers of transparent connections (sockdiag.h). Owns one netlink
 * socket for the duration of a call; never touches a socket bound to one of the host's own
 * addresses, never logs.
 */
#include "sockdiag.h"

#include <errno.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#define SOCKDIAG_BUF	8192
#define SOCKDIAG_BATCH	256 /* sockets destroyed per dump round */
#define SOCKDIAG_ROUNDS 64  /* a bound, should new ones keep appearing */

struct sockdiag_dump {
	struct inet_diag_sockid ids[SOCKDIAG_BATCH];
	const struct ifaddrs *own; /* the host's addresses, read once per call */
	int family;
	size_t len;
};

/*
 * Whether addr (as inet_diag gives it: 4 bytes for AF_INET, 16 for AF_INET6, IPv4 mapped in
 * the latter for a dual-stack socket) is one of the interface addresses in own. (Not bind():
 * with ip_nonlocal_bind on, it would call every address local.)
 */
static bool sockdiag_is_local(const struct ifaddrs *own, int family, const uint32_t *addr)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a = (const uint8_t *)addr;
	bool v4 = family == AF_INET || !memcmp(a, mapped, sizeof(mapped));
	const uint8_t *want = family == AF_INET ? a : v4 ? a + 12 : a;

	for (const struct ifaddrs *i = own; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa)
			continue;
		if (v4 && sa->sa_family == AF_INET &&
		    !memcmp(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, want, 4))
			return true;
		if (!v4 && sa->sa_family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, want, 16))
			return true;
	}
	return false;
}

static int sockdiag_on_msg(const struct nlmsghdr *nlh, void *arg)
{
	const struct inet_diag_msg *msg = mnl_nlmsg_get_payload(nlh);
	struct sockdiag_dump *dump = arg;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*msg)) || msg->idiag_state != TCP_TIME_WAIT)
		return MNL_CB_OK;
	if (dump->len < SOCKDIAG_BATCH &&
	    !sockdiag_is_local(dump->own, dump->family, msg->id.idiag_src))
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

static int sockdiag_family(struct mnl_socket *nl, const struct ifaddrs *own, int family,
			   uint32_t *seq)
{
	char buf[SOCKDIAG_BUF];
	struct sockdiag_dump dump = { .own = own, .family = family };
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
	struct mnl_socket *nl = NULL;
	struct ifaddrs *own = NULL;
	uint32_t seq = 0;
	int ret, total = 0;

	if (getifaddrs(&own) == -1)
		return -errno;
	nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (!nl) {
		ret = -errno;
		goto cleanup;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		ret = -errno;
		goto cleanup;
	}
	ret = sockdiag_family(nl, own, AF_INET, &seq);
	if (ret < 0)
		goto cleanup;
	total = ret;
	ret = sockdiag_family(nl, own, AF_INET6, &seq);
	if (ret >= 0)
		ret += total;
	else if (ret == -EAFNOSUPPORT)
		ret = total;
cleanup:
	if (nl)
		mnl_socket_close(nl);
	freeifaddrs(own);
	return ret;
}
