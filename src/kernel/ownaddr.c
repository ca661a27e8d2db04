// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host's own addresses from the kernel's `local` routing table, over rtnetlink (libmnl):
 * a dump builds a fresh prefix set that is swapped in under a write lock; route notifications
 * only say when to dump again (rebuilding beats patching: changes are rare and a dump is exact).
 * Never logs; never trusts a notification's contents beyond its table and type.
 */
#include "ownaddr.h"

#include "rtnl.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#define OWNADDR_BUF 32768

/* A route the kernel delivers to this host: local, broadcast or anycast in the local table. */
static bool ownaddr_is_local_route(const struct nlmsghdr *nlh, const struct rtmsg **out)
{
	const struct rtmsg *rtm;

	if ((nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)))
		return false;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return false;
	if (rtnl_route_table(nlh, rtm) != RT_TABLE_LOCAL)
		return false;
	*out = rtm;
	return rtm->rtm_type == RTN_LOCAL || rtm->rtm_type == RTN_BROADCAST ||
	       rtm->rtm_type == RTN_ANYCAST;
}

static int ownaddr_add_route(const struct nlmsghdr *nlh, void *data)
{
	struct acl *set = data;
	const struct rtmsg *rtm;
	const struct nlattr *attr;
	struct acl_prefix prefix = { 0 };
	bool v4;

	if (!ownaddr_is_local_route(nlh, &rtm) || nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	v4 = rtm->rtm_family == AF_INET;
	if (rtm->rtm_dst_len > (v4 ? 32 : 128))
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(attr) != RTA_DST)
			continue;
		if (mnl_attr_get_payload_len(attr) != (v4 ? 4u : 16u))
			return MNL_CB_OK;
		if (v4) {
			prefix.ip[10] = prefix.ip[11] = 0xff;
			memcpy(prefix.ip + 12, mnl_attr_get_payload(attr), 4);
		} else {
			memcpy(prefix.ip, mnl_attr_get_payload(attr), 16);
		}
	}
	prefix.len = (uint8_t)(rtm->rtm_dst_len + (v4 ? 96 : 0));
	/* host bits of a local prefix route (AnyIP) are zero already; keep the set exact */
	return acl_add(set, &prefix) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int ownaddr_refresh(struct ownaddr *own)
{
	char buf[OWNADDR_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	struct acl fresh = { 0 }, old;
	uint32_t portid = mnl_socket_get_portid(own->dump);
	ssize_t n;
	int ret = 0;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++own->seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_UNSPEC;
	/* with strict checking (ownaddr_start) the kernel dumps the local table only: a router
	 * holding a full routing table is not read route by route at every change */
	rtm->rtm_table = RT_TABLE_LOCAL;
	if (mnl_socket_sendto(own->dump, nlh, nlh->nlmsg_len) == -1)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(own->dump, buf, sizeof(buf));
		if (n == -1) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, own->seq, portid, ownaddr_add_route, &fresh);
		if (ret == MNL_CB_ERROR) {
			ret = errno ? -errno : -ENOMEM;
			break;
		}
		if (ret == MNL_CB_STOP) {
			ret = 0;
			break;
		}
	}
	if (ret < 0) {
		acl_free(&fresh);
		return ret;
	}
	pthread_rwlock_wrlock(&own->lock);
	old = own->set;
	own->set = fresh;
	own->refreshes++;
	pthread_rwlock_unlock(&own->lock);
	acl_free(&old);
	return 0;
}

static struct mnl_socket *ownaddr_socket(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		int err = errno;

		mnl_socket_close(nl);
		errno = err;
		return NULL;
	}
	return nl;
}

int ownaddr_start(struct ownaddr *own)
{
	static const unsigned groups[] = { RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE };
	int ret = 0, fd;

	memset(own, 0, sizeof(*own));
	pthread_rwlock_init(&own->lock, NULL);
	own->events = ownaddr_socket();
	own->dump = ownaddr_socket();
	if (!own->events || !own->dump) {
		ret = -errno;
		goto fail;
	}
	/* Best effort: without it (an old kernel) the whole dump is read and filtered here. */
	{
		int on = 1;

		mnl_socket_setsockopt(own->dump, NETLINK_GET_STRICT_CHK, &on, sizeof(on));
	}
	/* Subscribe before the first dump, so no change falls between the two. */
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (mnl_socket_setsockopt(own->events, NETLINK_ADD_MEMBERSHIP, (void *)&groups[i],
					  sizeof(groups[i])) == -1) {
			ret = -errno;
			goto fail;
		}
	}
	fd = mnl_socket_get_fd(own->events);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		ret = -errno;
		goto fail;
	}
	ret = ownaddr_refresh(own);
	if (ret == 0)
		return 0;
fail:
	ownaddr_stop(own);
	return ret;
}

void ownaddr_stop(struct ownaddr *own)
{
	if (own->events)
		mnl_socket_close(own->events);
	if (own->dump)
		mnl_socket_close(own->dump);
	own->events = own->dump = NULL;
	acl_free(&own->set);
	pthread_rwlock_destroy(&own->lock);
}

int ownaddr_fd(const struct ownaddr *own)
{
	return mnl_socket_get_fd(own->events);
}

int ownaddr_on_readable(struct ownaddr *own)
{
	char buf[OWNADDR_BUF];
	bool changed = false;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(own->events, buf, sizeof(buf));
		const struct nlmsghdr *nlh;
		const struct rtmsg *rtm;
		int len;

		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) { /* notifications lost: the dump tells the truth */
				changed = true;
				continue;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			if (ownaddr_is_local_route(nlh, &rtm))
				changed = true;
	}
	if (!changed)
		return 0;
	int ret = ownaddr_refresh(own);

	return ret < 0 ? ret : 1;
}

bool ownaddr_contains(struct ownaddr *own, const uint8_t ip[16])
{
	bool found;

	pthread_rwlock_rdlock(&own->lock);
	found = acl_contains(&own->set, ip);
	pthread_rwlock_unlock(&own->lock);
	return found;
}

bool ownaddr_is_own(void *own, const uint8_t ip[16])
{
	return ownaddr_contains(own, ip);
}

size_t ownaddr_count(struct ownaddr *own)
{
	size_t n;

	pthread_rwlock_rdlock(&own->lock);
	n = own->set.len;
	pthread_rwlock_unlock(&own->lock);
	return n;
}
