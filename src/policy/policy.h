/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_POLICY_H
#define MPCONV_POLICY_H

#include "acl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Gateway policy: which LAN connections are bonded through the converter, sent direct on one
 * link, or blocked. An ordered rule table, first match wins, then the default rule. Pure: rules
 * come from text (config), flows are matched with no I/O.
 *
 * Rule text, one rule per config line (`rule = ...`), words in any order after the action:
 *   ACTION [from PREFIX] [to PREFIX] [port N[-M]] [dscp N] [links L1,L2] [backup L3]
 *          [idle DURATION] [rate RATE] [name NAME]
 *   ACTION = bond | direct[:LINK] | block
 *   e.g. "bond from 10.0.1.0/24 port 443 links dsl,lte backup lte rate 20mbit name web"
 *        "direct:dsl to 192.0.2.0/24"      "block port 25"
 * Link names refer to the gateway's declared links (at most POL_MAX_LINKS); a prefix matches
 * only its own family (IPv4 prefixes never match IPv6 flows).
 */
#define POL_MAX_LINKS 8
#define POL_NAME_LEN  32
#define POL_ERR_LEN   256

enum pol_action { POL_BOND, POL_DIRECT, POL_BLOCK };

struct pol_rule {
	char name[POL_NAME_LEN]; /* "rule<N>" (1-based position) unless named */
	enum pol_action action;
	bool has_src, has_dst;
	struct acl_prefix src, dst;
	uint16_t port_min, port_max; /* destination port range; 0-65535 = any */
	int dscp;		     /* 0..63, or -1 = any */
	uint8_t links;		     /* bit i = link i may carry subflows; 0 = every link */
	uint8_t backup;		  /* bit i = link i only as backup (subset of the usable links) */
	int direct_link;	  /* POL_DIRECT: link index, or -1 = the main routing table */
	uint32_t idle_timeout_ms; /* 0 = the gateway's default */
	uint64_t rate_bps;	  /* 0 = unlimited; bits per second */
};

struct pol_table {
	struct pol_rule *rules; /* owned */
	size_t len, cap;
	struct pol_rule fallback; /* the default rule: action only; "default" as its name */
};

/* A LAN connection as the policy sees it. */
struct pol_flow {
	uint8_t src[16], dst[16]; /* 16-byte form, IPv4 mapped (addr.h) */
	uint16_t dport;
	uint8_t dscp;
};

/* An empty table whose default action is `fallback`. */
void pol_init(struct pol_table *table, enum pol_action fallback);
void pol_free(struct pol_table *table);
/*
 * Parses one rule. link_names[0..links_len) are the declared links, by index. 0, or -EINVAL
 * with err quoting the offending word ("rule: unknown link 'lte2' in 'links dsl,lte2'").
 */
int pol_parse_rule(const char *text, const char *const *link_names, size_t links_len,
		   struct pol_rule *out, char err[POL_ERR_LEN]);
/* Appends a copy of rule (position = table->len + 1). 0 or -ENOMEM. */
int pol_add(struct pol_table *table, const struct pol_rule *rule);
/* "bond", "direct" or "block" -> action. false if unknown. */
bool pol_parse_action(const char *text, enum pol_action *out);
/* First matching rule, else &table->fallback. Never NULL. */
const struct pol_rule *pol_match(const struct pol_table *table, const struct pol_flow *flow);
const char *pol_action_name(enum pol_action action);
/* The rule back as text, in the syntax above (for logs and `mpconvctl`). Returns buf. */
char *pol_format(const struct pol_rule *rule, const char *const *link_names, size_t links_len,
		 char *buf, size_t len);

#endif
