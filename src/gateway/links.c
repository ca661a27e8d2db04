// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway's access links: per-link source routing kept true over rtnetlink, carrier
 * state from link notifications, liveness from ICMP echo probes sent from the link's address
 * out of its interface. Owns its two rtnetlink sockets, the probe sockets and its rules and
 * routes (removed at stop; those of a crashed run are removed at start).
 */
#include "links.h"

#include "log.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINKS_SYNC_DELAY_MS 20 /* coalesces a burst of notifications into one resync */


/* ------------------------------------------------------------------------------------------ */
/* addresses and routing */

static int links_family_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

/* The interface's first global address of each family, for those not configured. */
static void links_read_addresses(struct link_state *l)
{
	struct ifaddrs *ifas, *ifa;

	l->has_addr4 = l->conf.has_addr4;
	l->has_addr6 = l->conf.has_addr6;
	memcpy(l->addr4, l->conf.addr4, 16);
	memcpy(l->addr6, l->conf.addr6, 16);
	if ((l->has_addr4 && l->has_addr6) || getifaddrs(&ifas) < 0)
		return;
	for (ifa = ifas; ifa; ifa = ifa->ifa_next) {
		struct addr_port ap;

		if (!ifa->ifa_addr || strcmp(ifa->ifa_name, l->conf.dev) ||
		    !addr_from_sockaddr(ifa->ifa_addr, sizeof(struct sockaddr_storage), &ap) ||
		    addr_is_link_local(ap.ip) || addr_is_loopback(ap.ip))
			continue;
		if (addr_is_v4mapped(ap.ip) && !l->has_addr4) {
			memcpy(l->addr4, ap.ip, 16);
			l->has_addr4 = true;
		} else if (!addr_is_v4mapped(ap.ip) && !l->has_addr6) {
			memcpy(l->addr6, ap.ip, 16);
			l->has_addr6 = true;
		}
	}
	freeifaddrs(ifas);
}

static uint32_t links_table(const struct link_state *l)
{
	return l->links->params.table_base + (uint32_t)l->index;
}

static void links_rule_of(const struct link_state *l, int family, struct rtnl_rule *rule)
{
	*rule = (struct rtnl_rule){ .family = family,
				    .pref = links_table(l),
				    .table = links_table(l) };
	if (family == AF_INET) {
		memcpy(rule->src, l->addr4 + 12, 4);
		rule->src_len = 32;
	} else {
		memcpy(rule->src, l->addr6, 16);
		rule->src_len = 128;
	}
}

static void links_route_of(const struct link_state *l, int family, struct rtnl_route *route)
{
	bool v4 = family == AF_INET;

	*route = (struct rtnl_route){ .family = family,
				      .table = links_table(l),
				      .type = RTNL_ROUTE_UNICAST,
				      .oif = l->ifindex };
	if (v4 && l->conf.has_via4) {
		memcpy(route->gateway, l->conf.via4 + 12, 4);
		route->has_gateway = true;
	} else if (!v4 && l->conf.has_via6) {
		memcpy(route->gateway, l->conf.via6, 16);
		route->has_gateway = true;
	}
}

/* Every rule with our preference and table, whatever its selector: a crashed run's too. */
static void links_remove_rules(struct links *links, const struct link_state *l)
{
	for (int f = 0; f < 2; f++) {
		struct rtnl_rule rule = { .family = f ? AF_INET6 : AF_INET,
					  .pref = links_table(l),
					  .table = links_table(l) };

		for (int i = 0; i < 16 && rtnl_rule_del(&links->rtnl, &rule) == 0; i++)
			;
	}
}

static void links_remove_routes(struct links *links, const struct link_state *l)
{
	for (int f = 0; f < 2; f++) {
		struct rtnl_route route = { .family = f ? AF_INET6 : AF_INET,
					    .table = links_table(l),
					    .type = RTNL_ROUTE_UNICAST };

		for (int i = 0; i < 16 && rtnl_route_del(&links->rtnl, &route) == 0; i++)
			;
	}
}

/* Makes the link's rules and default routes what they should be. Routes through a link
 * without carrier cannot exist: they are added back when it returns. */
static void links_sync_one(struct links *links, struct link_state *l)
{
	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, ret;
		struct rtnl_rule rule;
		struct rtnl_route route;

		if (!(f ? l->has_addr6 : l->has_addr4))
			continue;
		links_rule_of(l, family, &rule);
		ret = rtnl_rule_add(&links->rtnl, &rule);
		if (ret && ret != -EEXIST)
			log_warnc(ret, "link %s: cannot add its %s source rule (pref %u)",
				  l->conf.name, f ? "IPv6" : "IPv4", rule.pref);
		if (!l->carrier || !l->ifindex)
			continue;
		links_route_of(l, family, &route);
		ret = rtnl_route_replace(&links->rtnl, &route);
		if (ret)
			log_warnc(ret, "link %s: cannot set its %s default route in table %u",
				  l->conf.name, f ? "IPv6" : "IPv4", route.table);
	}
}

static void links_set_usable(struct link_state *l)
{
	struct links *links = l->links;
	bool usable = l->ifindex && l->carrier && l->alive &&
		      (l->has_addr4 || l->has_addr6);

	if (usable == l->usable)
		return;
	l->usable = usable;
	log_info("link %s (%s): %s%s", l->conf.name, l->conf.dev, usable ? "up" : "down",
		 usable		 ? ""
		 : !l->ifindex	 ? " (no such interface)"
		 : !l->carrier	 ? " (no carrier)"
		 : !l->alive	 ? " (probes unanswered)"
				 : " (no address)");
	if (links->params.on_change)
		links->params.on_change(l->index, usable, links->params.arg);
}

static void links_on_sync_timer(struct loop_timer *timer)
{
	struct links *links = container_of(timer, struct links, sync_timer);

	bool moved = false;

	links->sync_pending = false;
	for (unsigned i = 0; i < links->len; i++) {
		struct link_state *l = &links->link[i];
		uint8_t addr4[16], addr6[16];
		bool has4 = l->has_addr4, has6 = l->has_addr6;

		memcpy(addr4, l->addr4, 16);
		memcpy(addr6, l->addr6, 16);
		if (!l->ifindex)
			l->ifindex = if_nametoindex(l->conf.dev);
		l->carrier = l->ifindex && rtnl_link_is_up(l->ifindex);
		links_read_addresses(l);
		moved |= has4 != l->has_addr4 || has6 != l->has_addr6 ||
			 memcmp(addr4, l->addr4, 16) || memcmp(addr6, l->addr6, 16);
		links_sync_one(links, l);
		links_set_usable(l);
	}
	if (moved && links->params.on_addresses)
		links->params.on_addresses(links->params.arg);
}

static void links_schedule_sync(struct links *links)
{
	if (links->sync_pending)
		return;
	links->sync_pending = true;
	loop_timer_arm(links->loop, &links->sync_timer, LINKS_SYNC_DELAY_MS);
}

static void links_on_rtnl_event(const struct rtnl_event *ev, void *arg)
{
	struct links *links = arg;

	for (unsigned i = 0; i < links->len; i++) {
		struct link_state *l = &links->link[i];

		switch (ev->type) {
		case RTNL_EV_LINK:
		case RTNL_EV_ADDR:
			if (l->ifindex == 0 || l->ifindex == ev->ifindex)
				links_schedule_sync(links);
			break;
		case RTNL_EV_LINK_GONE:
			if (l->ifindex == ev->ifindex) {
				l->ifindex = 0;
				links_schedule_sync(links);
			}
			break;
		case RTNL_EV_ROUTE_DEL:
			if (ev->table == links_table(l)) {
				links->routes_restored++;
				links_schedule_sync(links);
			}
			break;
		}
	}
}

static void links_on_rtnl(struct loop_io *io, uint32_t events)
{
	struct links *links = container_of(io, struct links, events_io);
	int ret = rtnl_read_events(&links->events, links_on_rtnl_event, links);

	if (ret == -ENOBUFS) /* notifications lost: look at everything again */
		links_schedule_sync(links);
	else if (ret < 0)
		log_warnc(ret, "links: reading rtnetlink notifications");
}

/* ------------------------------------------------------------------------------------------ */
/* ICMP echo probes */

static uint16_t icmp_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void links_probe_close(struct links *links, struct link_probe *p)
{
	if (p->io.fd >= 0) {
		loop_remove(links->loop, &p->io);
		close(p->io.fd);
	}
	p->io.fd = -1;
	p->sent_ms = 0;
}

static void links_on_probe_reply(struct loop_io *io, uint32_t events)
{
	struct link_probe *p = container_of(io, struct link_probe, io);
	struct link_state *l = p->link;
	uint8_t buf[512];

	for (;;) {
		ssize_t n = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
		const uint8_t *icmp = buf;
		size_t len;
		uint16_t ident, seq;

		if (n < 0)
			return;
		len = (size_t)n;
		if (p->family == AF_INET) { /* raw IPv4 sockets see the IP header */
			size_t ihl;

			if (len < 20)
				continue;
			ihl = (size_t)(buf[0] & 0x0f) * 4;
			if (len < ihl + 8)
				continue;
			icmp = buf + ihl;
			len -= ihl;
			if (icmp[0] != ICMP_ECHOREPLY)
				continue;
		} else if (len < 8 || icmp[0] != ICMP6_ECHO_REPLY) {
			continue;
		}
		ident = (uint16_t)(icmp[4] << 8 | icmp[5]);
		seq = (uint16_t)(icmp[6] << 8 | icmp[7]);
		if (ident != p->ident || seq != p->seq || !p->sent_ms)
			continue;
		l->rtt_ms = (uint32_t)(l->links->loop->now_ms - p->sent_ms);
		l->probes_answered++;
		p->sent_ms = 0;
		l->lost_in_row = 0;
		if (!l->alive && ++l->answered_in_row >= l->links->params.probe_up) {
			l->alive = true;
			links_set_usable(l);
		}
	}
}

static int links_probe_open(struct links *links, struct link_state *l, struct link_probe *p)
{
	int family = p->family, fd;
	struct addr_port local = { 0 };
	struct sockaddr_storage ss;
	socklen_t len;

	memcpy(local.ip, family == AF_INET ? l->addr4 : l->addr6, 16);
	fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0)
		return -errno;
	len = addr_to_sockaddr(&local, &ss);
	if (family == AF_INET6) {
		struct icmp6_filter filter;

		ICMP6_FILTER_SETBLOCKALL(&filter);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
		setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
	}
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, l->conf.dev,
		       (socklen_t)strlen(l->conf.dev) + 1) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	p->io.fd = fd;
	p->io.on_event = links_on_probe_reply;
	if (loop_add(links->loop, &p->io, EPOLLIN | EPOLLET) < 0) {
		close(fd);
		p->io.fd = -1;
		return -errno;
	}
	return 0;
}

static void links_probe_send(struct links *links, struct link_state *l, struct link_probe *p)
{
	int f = links_family_index(p->family);
	const struct addr_port *target = &links->params.probe_target[f][l->target[f]];
	uint8_t packet[16] = { p->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST, 0 };
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(target, &ss);
	int ret;

	if (p->io.fd < 0) {
		ret = links_probe_open(links, l, p);
		if (ret < 0) {
			log_warnc(ret, "link %s: cannot open its %s probe socket", l->conf.name,
				  p->family == AF_INET ? "ICMP" : "ICMPv6");
			return;
		}
	}
	p->seq++;
	packet[4] = (uint8_t)(p->ident >> 8);
	packet[5] = (uint8_t)p->ident;
	packet[6] = (uint8_t)(p->seq >> 8);
	packet[7] = (uint8_t)p->seq;
	memcpy(packet + 8, "mpconv-p", 8);
	if (p->family == AF_INET) {
		uint16_t sum = icmp_checksum(packet, sizeof(packet));

		memcpy(packet + 2, &sum, 2);
	} /* the kernel computes ICMPv6 checksums of raw sockets */
	if (sendto(p->io.fd, packet, sizeof(packet), MSG_DONTWAIT, (struct sockaddr *)&ss, len) ==
	    (ssize_t)sizeof(packet)) {
		p->sent_ms = links->loop->now_ms ? links->loop->now_ms : 1;
		l->probes_sent++;
	} else {
		p->sent_ms = 0; /* no route (link just went down): a lost probe all the same */
		l->probes_sent++;
		l->answered_in_row = 0;
		if (++l->lost_in_row >= links->params.probe_down && l->alive) {
			l->alive = false;
			links_set_usable(l);
		}
	}
}

static void links_on_probe_timer(struct loop_timer *timer)
{
	struct links *links = container_of(timer, struct links, probe_timer);

	for (unsigned i = 0; i < links->len; i++) {
		struct link_state *l = &links->link[i];
		bool outstanding = false, any = false;

		if (!l->carrier)
			continue;
		for (int f = 0; f < 2; f++) {
			struct link_probe *p = &l->probe[f];

			if (!links->params.probe_targets[f] || !(f ? l->has_addr6 : l->has_addr4))
				continue;
			any = true;
			if (p->sent_ms) { /* unanswered: that target may be the dead one, not us */
				outstanding = true;
				l->target[f] = (l->target[f] + 1) % links->params.probe_targets[f];
			}
			p->sent_ms = 0;
		}
		/* A round counts as lost when no family was answered since the last one. */
		if (outstanding) {
			l->answered_in_row = 0;
			if (++l->lost_in_row >= links->params.probe_down && l->alive) {
				l->alive = false;
				links_set_usable(l);
			}
		}
		for (int f = 0; any && f < 2; f++) {
			if (links->params.probe_targets[f] && (f ? l->has_addr6 : l->has_addr4))
				links_probe_send(links, l, &l->probe[f]);
		}
	}
	loop_timer_arm(links->loop, &links->probe_timer, links->params.probe_interval_ms);
}

/* ------------------------------------------------------------------------------------------ */

int links_start(struct links *links, struct loop *loop, const struct link_conf *confs,
		unsigned len, const struct links_params *params, char err[LINKS_ERR_LEN])
{
	int fd, ret;

	memset(links, 0, sizeof(*links));
	links->loop = loop;
	links->params = *params;
	links->events_io.fd = -1;
	loop_timer_init(&links->sync_timer, links_on_sync_timer);
	loop_timer_init(&links->probe_timer, links_on_probe_timer);
	if (len > LINKS_MAX) {
		snprintf(err, LINKS_ERR_LEN, "link: at most %d links", LINKS_MAX);
		return -EINVAL;
	}
	ret = rtnl_open(&links->rtnl);
	if (ret == 0) {
		ret = rtnl_open(&links->events);
		if (ret)
			rtnl_close(&links->rtnl);
	}
	if (ret) {
		snprintf(err, LINKS_ERR_LEN, "links: rtnetlink: %s", strerror(-ret));
		return ret;
	}
	links->len = len;
	for (unsigned i = 0; i < len; i++) {
		struct link_state *l = &links->link[i];

		l->conf = confs[i];
		l->links = links;
		l->index = (int)i;
		l->alive = true;
		for (int f = 0; f < 2; f++) {
			l->probe[f].io.fd = -1;
			l->probe[f].link = l;
			l->probe[f].family = f ? AF_INET6 : AF_INET;
			l->probe[f].ident = (uint16_t)((getpid() & 0xfff) << 4 | (i << 1) | (unsigned)f);
		}
		l->ifindex = if_nametoindex(l->conf.dev);
		if (!l->ifindex)
			log_warnx("link %s: no interface %s yet; waiting for it", l->conf.name,
				  l->conf.dev);
		l->carrier = l->ifindex && rtnl_link_is_up(l->ifindex);
		links_read_addresses(l);
		links_remove_rules(links, l);
		links_remove_routes(links, l);
		links_sync_one(links, l);
		links_set_usable(l);
	}
	fd = rtnl_subscribe(&links->events);
	if (fd < 0) {
		snprintf(err, LINKS_ERR_LEN, "links: rtnetlink notifications: %s", strerror(-fd));
		links_stop(links);
		return fd;
	}
	links->events_io.fd = fd;
	links->events_io.on_event = links_on_rtnl;
	if (loop_add(loop, &links->events_io, EPOLLIN | EPOLLET) < 0) {
		ret = -errno;
		links->events_io.fd = -1;
		snprintf(err, LINKS_ERR_LEN, "links: epoll: %s", strerror(-ret));
		links_stop(links);
		return ret;
	}
	if (params->probe_interval_ms)
		loop_timer_arm(loop, &links->probe_timer, 1);
	return 0;
}

void links_params_targets(struct links_params *params, const struct addr_port *targets,
			  unsigned len)
{
	params->probe_targets[0] = params->probe_targets[1] = 0;
	for (unsigned i = 0; i < len; i++) {
		int f = addr_is_v4mapped(targets[i].ip) ? 0 : 1;

		if (params->probe_targets[f] < LINKS_PROBE_TARGETS)
			params->probe_target[f][params->probe_targets[f]++] = targets[i];
	}
}

void links_set_probes(struct links *links, uint32_t interval_ms, unsigned down, unsigned up,
		      const struct addr_port *targets, unsigned len)
{
	bool was_on = links->params.probe_interval_ms != 0;

	links->params.probe_interval_ms = interval_ms;
	links->params.probe_down = down;
	links->params.probe_up = up;
	links_params_targets(&links->params, targets, len);
	loop_timer_cancel(links->loop, &links->probe_timer);
	for (unsigned i = 0; i < links->len; i++) {
		struct link_state *l = &links->link[i];

		for (int p = 0; p < 2; p++) {
			l->probe[p].sent_ms = 0; /* a reply to an old probe counts no more */
			l->target[p] = 0;
		}
		if (!interval_ms && !l->alive) {
			l->alive = true;
			links_set_usable(l);
		}
	}
	if (interval_ms)
		loop_timer_arm(links->loop, &links->probe_timer, was_on ? interval_ms : 1);
}

void links_stop(struct links *links)
{
	if (!links->rtnl.nl)
		return;
	loop_timer_cancel(links->loop, &links->sync_timer);
	loop_timer_cancel(links->loop, &links->probe_timer);
	if (links->events_io.fd >= 0)
		loop_remove(links->loop, &links->events_io);
	links->events_io.fd = -1;
	rtnl_close(&links->events);
	for (unsigned i = 0; i < links->len; i++) {
		struct link_state *l = &links->link[i];

		links_probe_close(links, &l->probe[0]);
		links_probe_close(links, &l->probe[1]);
		links_remove_rules(links, l);
		links_remove_routes(links, l);
	}
	rtnl_close(&links->rtnl);
}

int links_find_by_addr(const struct links *links, const uint8_t ip[16])
{
	for (unsigned i = 0; i < links->len; i++) {
		const struct link_state *l = &links->link[i];

		if ((l->has_addr4 && !memcmp(l->addr4, ip, 16)) ||
		    (l->has_addr6 && !memcmp(l->addr6, ip, 16)))
			return (int)i;
	}
	return -1;
}

bool links_local_addr(const struct links *links, int link, int family, struct addr_port *out)
{
	const struct link_state *l;

	if (link < 0 || (unsigned)link >= links->len)
		return false;
	l = &links->link[link];
	memset(out, 0, sizeof(*out));
	if (family == AF_INET && l->has_addr4)
		memcpy(out->ip, l->addr4, 16);
	else if (family == AF_INET6 && l->has_addr6)
		memcpy(out->ip, l->addr6, 16);
	else
		return false;
	return true;
}

int links_pick_initial(const struct links *links, uint8_t allowed, int family)
{
	for (int role = LINK_PRIMARY; role <= LINK_OVERFLOW; role++) {
		for (unsigned i = 0; i < links->len; i++) {
			const struct link_state *l = &links->link[i];

			if ((int)l->conf.role != role || !l->usable ||
			    (allowed && !(allowed & (1u << i))) ||
			    !(family == AF_INET ? l->has_addr4 : l->has_addr6))
				continue;
			return (int)i;
		}
	}
	return -1;
}
