// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rtnetlink over libmnl: one socket per struct rtnl, requests built in a stack buffer and
 * acknowledged synchronously (NLM_F_ACK), notifications parsed in place. No allocation.
 */
#include "rtnl.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define RTNL_BUF 8192 /* MNL_SOCKET_BUFFER_SIZE is a sysconf() expression (a VLA) */

int rtnl_open(struct rtnl *rtnl)
{
	rtnl->seq = 1;
	rtnl->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!rtnl->nl)
		return -errno;
	if (mnl_socket_bind(rtnl->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		int ret = -errno;

		mnl_socket_close(rtnl->nl);
		rtnl->nl = NULL;
		return ret;
	}
	return 0;
}

void rtnl_close(struct rtnl *rtnl)
{
	if (rtnl->nl)
		mnl_socket_close(rtnl->nl);
	rtnl->nl = NULL;
}

/* Sends nlh (with NLM_F_ACK) and reads until its ack; on_data (may be NULL) sees each answer. */
static int rtnl_do_cb(struct rtnl *rtnl, struct nlmsghdr *nlh, mnl_cb_t on_data, void *arg)
{
	char buf[RTNL_BUF];
	uint32_t portid = mnl_socket_get_portid(rtnl->nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = ++rtnl->seq;
	if (mnl_socket_sendto(rtnl->nl, nlh, nlh->nlmsg_len) == -1)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(rtnl->nl, buf, sizeof(buf));
		if (n == -1)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, on_data, arg);
		if (ret == -1)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int rtnl_do(struct rtnl *rtnl, struct nlmsghdr *nlh)
{
	return rtnl_do_cb(rtnl, nlh, NULL, NULL);
}

static size_t rtnl_addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static int rtnl_rule_msg(struct rtnl *rtnl, const struct rtnl_rule *rule, uint16_t type,
			 uint16_t flags)
{
	char buf[RTNL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)rule->family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = rule->table < 256 ? (uint8_t)rule->table : RT_TABLE_UNSPEC;
	frh->src_len = rule->src_len;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, rule->pref);
	mnl_attr_put_u32(nlh, FRA_TABLE, rule->table);
	if (rule->fwmark) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, rule->fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, 0xffffffff);
	}
	if (rule->src_len)
		mnl_attr_put(nlh, FRA_SRC, rtnl_addr_len(rule->family), rule->src);
	return rtnl_do(rtnl, nlh);
}

int rtnl_rule_add(struct rtnl *rtnl, const struct rtnl_rule *rule)
{
	return rtnl_rule_msg(rtnl, rule, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL);
}

int rtnl_rule_del(struct rtnl *rtnl, const struct rtnl_rule *rule)
{
	return rtnl_rule_msg(rtnl, rule, RTM_DELRULE, 0);
}

static int rtnl_route_msg(struct rtnl *rtnl, const struct rtnl_route *route, uint16_t type,
			  uint16_t flags)
{
	char buf[RTNL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	bool local = route->type == RTNL_ROUTE_LOCAL;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)route->family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = route->table < 256 ? (uint8_t)route->table : RT_TABLE_UNSPEC;
	rtm->rtm_type = local ? RTN_LOCAL : RTN_UNICAST;
	/* A delete with a scope matches only routes of that scope; NOWHERE matches any. */
	rtm->rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE
			 : local	       ? RT_SCOPE_HOST
			 : route->has_gateway  ? RT_SCOPE_UNIVERSE
					       : RT_SCOPE_LINK;
	/* protocol 0 on delete matches any: whoever added the route to our table */
	rtm->rtm_protocol = type == RTM_NEWROUTE ? RTPROT_STATIC : RTPROT_UNSPEC;
	mnl_attr_put_u32(nlh, RTA_TABLE, route->table);
	if (route->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, route->oif);
	if (route->has_gateway && type == RTM_NEWROUTE)
		mnl_attr_put(nlh, RTA_GATEWAY, rtnl_addr_len(route->family), route->gateway);
	return rtnl_do(rtnl, nlh);
}

int rtnl_route_replace(struct rtnl *rtnl, const struct rtnl_route *route)
{
	return rtnl_route_msg(rtnl, route, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
}

int rtnl_route_add(struct rtnl *rtnl, const struct rtnl_route *route)
{
	return rtnl_route_msg(rtnl, route, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
}

int rtnl_route_del(struct rtnl *rtnl, const struct rtnl_route *route)
{
	return rtnl_route_msg(rtnl, route, RTM_DELROUTE, 0);
}

int rtnl_subscribe(struct rtnl *rtnl)
{
	static const unsigned groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
					   RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE };
	int fd = mnl_socket_get_fd(rtnl->nl);

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (mnl_socket_setsockopt(rtnl->nl, NETLINK_ADD_MEMBERSHIP, (void *)&groups[i],
					  sizeof(groups[i])) == -1)
			return -errno;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		return -errno;
	return fd;
}

uint32_t rtnl_route_table(const struct nlmsghdr *nlh, const struct rtmsg *rtm)
{
	const struct nlattr *attr;
	uint32_t table = rtm->rtm_table;

	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(attr) == RTA_TABLE &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			table = mnl_attr_get_u32(attr);
	}
	return table;
}

int rtnl_read_events(struct rtnl *rtnl, void (*on_event)(const struct rtnl_event *ev, void *arg),
		     void *arg)
{
	char buf[RTNL_BUF];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(rtnl->nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh;
		int len;

		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			struct rtnl_event ev = { 0 };

			if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
				const struct ifinfomsg *ifi;

				if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
					continue;
				ifi = mnl_nlmsg_get_payload(nlh);
				ev.type = nlh->nlmsg_type == RTM_DELLINK ? RTNL_EV_LINK_GONE
									  : RTNL_EV_LINK;
				ev.ifindex = (unsigned)ifi->ifi_index;
				ev.up = (ifi->ifi_flags & (IFF_UP | IFF_RUNNING)) ==
					(IFF_UP | IFF_RUNNING);
			} else if (nlh->nlmsg_type == RTM_NEWADDR ||
				   nlh->nlmsg_type == RTM_DELADDR) {
				const struct ifaddrmsg *ifa;

				if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
					continue;
				ifa = mnl_nlmsg_get_payload(nlh);
				ev.type = RTNL_EV_ADDR;
				ev.ifindex = ifa->ifa_index;
			} else if (nlh->nlmsg_type == RTM_DELROUTE) {
				const struct rtmsg *rtm;

				if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
					continue;
				rtm = mnl_nlmsg_get_payload(nlh);
				ev.type = RTNL_EV_ROUTE_DEL;
				ev.table = rtnl_route_table(nlh, rtm);
			} else {
				continue;
			}
			on_event(&ev, arg);
		}
	}
}

static int rtnl_route_get_cb(const struct nlmsghdr *nlh, void *arg)
{
	unsigned *oif = arg;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(struct rtmsg)) {
		if (mnl_attr_get_type(attr) == RTA_OIF &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			*oif = mnl_attr_get_u32(attr);
	}
	return MNL_CB_OK;
}

int rtnl_route_get(struct rtnl *rtnl, int family, const uint8_t *dst, const uint8_t *src,
		   unsigned *oif)
{
	char buf[RTNL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	size_t alen = rtnl_addr_len(family);

	*oif = 0;
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (src) {
		rtm->rtm_src_len = (uint8_t)(alen * 8);
		mnl_attr_put(nlh, RTA_SRC, alen, src);
	}
	return rtnl_do_cb(rtnl, nlh, rtnl_route_get_cb, oif);
}

bool rtnl_link_is_up(unsigned ifindex)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	if (!if_indextoname(ifindex, ifr.ifr_name))
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	close(fd);
	return ret == 0 && (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
}
