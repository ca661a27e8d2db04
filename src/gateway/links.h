/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_LINKS_H
#define MPCONV_LINKS_H

#include "addr.h"
#include "link_conf.h"
#include "loop.h"
#include "rtnl.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The gateway's access links (DSL, LTE, ...): declared in config, each with its own source-
 * routing table that the daemon creates and keeps true (the kernel deletes routes through a
 * link that goes down and never restores them), and a health state from the interface's
 * carrier plus active ICMP echo probes over that link. Link health is the link's own: a round
 * lost towards one target moves that link's probes on to the next target (every converter, in
 * turn), so one dead converter does not make every link dead; converter health is the
 * gateway's business (upstream.h). The link line and its parser are config/link_conf.h.
 */
#define LINKS_PROBE_TARGETS 4 /* = CONFIG_MAX_CONVERTERS */
struct links_params {
	uint32_t table_base;	 /* link i uses table and rule preference table_base + i */
	uint32_t probe_interval_ms; /* 0 = no probes: carrier alone decides */
	unsigned probe_down;	 /* consecutive lost probes that make a link dead */
	unsigned probe_up;	 /* consecutive answered probes that make it alive again */
	/* [0] IPv4, [1] IPv6: the converters, tried in turn per link; port unused */
	struct addr_port probe_target[2][LINKS_PROBE_TARGETS];
	unsigned probe_targets[2];
	/* Called when a link becomes usable or stops being usable. */
	void (*on_change)(int link, bool usable, void *arg);
	/* Called when a link's addresses changed (after on_change, if any); may be NULL. */
	void (*on_addresses)(void *arg);
	void *arg;
};

struct link_probe {
	struct loop_io io;
	struct link_state *link;
	int family;
	uint16_t ident, seq;
	uint64_t sent_ms; /* 0 = no probe outstanding */
};

struct link_state {
	struct link_conf conf;
	struct links *links;
	int index;
	unsigned ifindex;
	bool has_addr4, has_addr6;
	uint8_t addr4[16], addr6[16]; /* in use: configured or read from the interface */
	bool carrier;		      /* IFF_UP and IFF_RUNNING */
	bool alive;		      /* probes answered (true without probes) */
	bool usable;		      /* carrier && alive: new subflows may use it */
	unsigned lost_in_row, answered_in_row;
	uint32_t rtt_ms; /* last probe round trip */
	unsigned long probes_sent, probes_answered;
	struct link_probe probe[2]; /* IPv4, IPv6 */
	unsigned target[2];	    /* the probe target in use, per family */
};

struct links {
	struct loop *loop;
	struct links_params params;
	struct link_state link[LINKS_MAX];
	unsigned len;
	struct rtnl rtnl;	   /* requests */
	struct rtnl events;	   /* notifications */
	struct loop_io events_io;
	struct loop_timer sync_timer, probe_timer;
	bool sync_pending;
	unsigned long routes_restored;
};

/*
 * Resolves interfaces and addresses, removes stale rules of a crashed run, installs the
 * rules and routes, subscribes to changes and starts probing. 0, or -errno with err set.
 */
int links_start(struct links *links, struct loop *loop, const struct link_conf *confs,
		unsigned len, const struct links_params *params, char err[LINKS_ERR_LEN]);
/* Sorts len probe targets (at most LINKS_PROBE_TARGETS per family) into params by family. */
void links_params_targets(struct links_params *params, const struct addr_port *targets,
			  unsigned len);
/* New probe settings (a reload): interval 0 stops probing and counts every link alive. */
void links_set_probes(struct links *links, uint32_t interval_ms, unsigned down, unsigned up,
		      const struct addr_port *targets, unsigned len);
/* Removes our rules and routes, closes everything. */
void links_stop(struct links *links);

/* The link whose address local is (16-byte form), or -1. */
int links_find_by_addr(const struct links *links, const uint8_t ip[16]);
/* The link's address for family (AF_INET/AF_INET6) into out (port 0). false if none. */
bool links_local_addr(const struct links *links, int link, int family, struct addr_port *out);
/*
 * The link for a new connection's initial subflow: the first usable one among `allowed`
 * (bit mask, 0 = all) that has an address of family, preferring primary, then secondary,
 * then backup roles. -1 if none.
 */
int links_pick_initial(const struct links *links, uint8_t allowed, int family);

#endif
