/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_DESTINATION_H
#define MPCONV_DESTINATION_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "addr.h"
#include "convert.h"
#include "socks.h"

/*
 * The converter's one destination policy, applied to every entrance (Convert, SOCKS 5,
 * on-path) once the destination is final, before any packet is sent towards it. Pure: the
 * caller hands in the operator's deny list and a predicate for the host's own addresses (kept
 * current from rtnetlink by `ownaddr`). Each entrance turns a refusal into its own answer with
 * one of the mapping functions below, so the entrances can never disagree on what is refused.
 *
 * In order, a destination is refused when:
 *   1. its port is 0;
 *   2. its address, or an IPv4 address it embeds, is special (addr_classify: unspecified,
 *      this-network 0/8, loopback, link-local, multicast, broadcast, reserved 240/4);
 *   3. it, or an IPv4 address it embeds, is one of the converter host's own addresses;
 *   4. it, or an IPv4 address it embeds, is in the operator's deny-destination list.
 */
enum dest_verdict {
	DEST_ALLOWED,
	DEST_PORT_ZERO,
	DEST_SPECIAL,	  /* the class says which */
	DEST_OWN_ADDRESS, /* the converter host itself */
	DEST_DENIED,	  /* the operator's deny-destination list */
	DEST_VERDICT_COUNT
};

struct dest_policy {
	const struct acl *deny; /* may be NULL */
	/* true when ip is an address of this host; NULL = no such check (tests, tools) */
	bool (*is_own)(void *arg, const uint8_t ip[16]);
	void *own_arg;
};

struct dest_judgement {
	enum dest_verdict verdict;
	enum addr_class cls; /* for DEST_SPECIAL */
};

struct dest_judgement dest_judge(const struct dest_policy *policy, const uint8_t ip[16],
				 uint16_t port);
/* A slug for metric labels: "allowed", "port-zero", "loopback", "own-address"... */
const char *dest_reason(struct dest_judgement j);
/* A phrase for logs: "destination is a loopback address"... (static) */
const char *dest_explain(struct dest_judgement j);

/* The entrances' answers to a refusal. RFC 8803 3.2.4 makes multicast, broadcast and loopback
 * (and we add unspecified, this-network and port 0) "Malformed Message"; the rest is
 * administrative: "Not Authorized". SOCKS 5 has one code for it: "not allowed by ruleset". */
enum conv_error_code dest_convert_error(struct dest_judgement j);
enum socks_reply dest_socks_reply(struct dest_judgement j);

#endif
