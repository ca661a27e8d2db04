/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_RTNL_H
#define MPCONV_RTNL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The few rtnetlink requests the gateway makes (policy rules and routes in its own tables),
 * and the change notifications it watches (links, addresses, deleted routes), over libmnl.
 * Never logs: every call returns -errno (the kernel's answer, e.g. -EEXIST, -ESRCH).
 */
struct mnl_socket;

struct rtnl {
	struct mnl_socket *nl; /* owned */
	uint32_t seq;
};

/* A policy rule "[from SRC/LEN] [fwmark MARK] lookup TABLE pref PREF". */
struct rtnl_rule {
	int family; /* AF_INET or AF_INET6 */
	uint32_t pref, table;
	uint32_t fwmark; /* 0 = none */
	uint8_t src[16]; /* network byte order, 4 or 16 bytes used */
	uint8_t src_len; /* 0 = no source selector */
};

enum rtnl_route_type { RTNL_ROUTE_UNICAST, RTNL_ROUTE_LOCAL };

/* A default route in one table: "default [via GW] dev OIF table T" (or "local default"). */
struct rtnl_route {
	int family;
	uint32_t table;
	enum rtnl_route_type type;
	unsigned oif;	     /* 0 = none */
	uint8_t gateway[16]; /* network byte order */
	bool has_gateway;
};

int rtnl_open(struct rtnl *rtnl);
void rtnl_close(struct rtnl *rtnl);

/* Adds (an existing identical rule is -EEXIST) or deletes (-ENOENT when absent). */
int rtnl_rule_add(struct rtnl *rtnl, const struct rtnl_rule *rule);
int rtnl_rule_del(struct rtnl *rtnl, const struct rtnl_rule *rule);
/* Adds or replaces; deletes (-ESRCH when absent; protocol, gateway and oif are not matched). */
int rtnl_route_replace(struct rtnl *rtnl, const struct rtnl_route *route);
int rtnl_route_add(struct rtnl *rtnl, const struct rtnl_route *route);
int rtnl_route_del(struct rtnl *rtnl, const struct rtnl_route *route);

/*
 * The route the kernel picks for dst from src (NULL = any), as `ip route get DST from SRC`:
 * policy rules included, so it tells where a subflow bound to src leaves. *oif = its output
 * interface. 0, or -errno (-ENETUNREACH: no route at all).
 */
int rtnl_route_get(struct rtnl *rtnl, int family, const uint8_t *dst, const uint8_t *src,
		   unsigned *oif);

/* ---- notifications ---- */

enum rtnl_event_type {
	RTNL_EV_LINK,	   /* a link changed (ifindex, up = IFF_UP and IFF_RUNNING) */
	RTNL_EV_LINK_GONE, /* a link was deleted */
	RTNL_EV_ADDR,	   /* an address was added or removed on ifindex */
	RTNL_EV_ROUTE_DEL, /* a route was deleted from table */
};

struct rtnl_event {
	enum rtnl_event_type type;
	unsigned ifindex;
	bool up;
	uint32_t table;
};

/* Joins the link, address and route groups (both families); returns the fd to poll
 * (non-blocking), or -errno. The rtnl then only reads events: use another for requests. */
int rtnl_subscribe(struct rtnl *rtnl);
/* Reads every pending notification, calling on_event for those above. 0 when drained,
 * -ENOBUFS if the kernel dropped some (resynchronise), or -errno. */
int rtnl_read_events(struct rtnl *rtnl, void (*on_event)(const struct rtnl_event *ev, void *arg),
		     void *arg);

/* A route message's table: RTA_TABLE when present (tables above 255 are named only there),
 * else rtm_table. */
struct nlmsghdr;
struct rtmsg;
uint32_t rtnl_route_table(const struct nlmsghdr *nlh, const struct rtmsg *rtm);

/* IFF_UP and IFF_RUNNING of ifindex (false if it does not exist). */
bool rtnl_link_is_up(unsigned ifindex);

#endif
