// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The destination policy (see destination.h): one ordered set of checks over the address class
 * table in `addr`, the host's own addresses and the operator's deny list, and the mapping of
 * each refusal to the answer of every entrance. Pure: no sockets, no logging, no allocation.
 * It must never let through an address whose embedded IPv4 address it would refuse.
 */
#include "destination.h"

#include <string.h>

/* ip itself, then every IPv4 address it embeds: each is checked against a list. */
static bool dest_any_form(const uint8_t ip[16], bool (*in)(const void *ctx, const uint8_t ip[16]),
			  const void *ctx)
{
	uint8_t embedded[ADDR_EMBEDDED_MAX][16];
	size_t n;

	if (in(ctx, ip))
		return true;
	n = addr_embedded_v4(ip, embedded);
	for (size_t i = 0; i < n; i++)
		if (memcmp(embedded[i], ip, 16) && in(ctx, embedded[i]))
			return true;
	return false;
}

static bool dest_in_deny(const void *ctx, const uint8_t ip[16])
{
	return acl_contains(ctx, ip);
}

static bool dest_is_own(const void *ctx, const uint8_t ip[16])
{
	const struct dest_policy *policy = ctx;

	return policy->is_own(policy->own_arg, ip);
}

struct dest_judgement dest_judge(const struct dest_policy *policy, const uint8_t ip[16],
				 uint16_t port)
{
	struct dest_judgement j = { .verdict = DEST_ALLOWED, .cls = addr_classify(ip) };

	if (port == 0)
		j.verdict = DEST_PORT_ZERO;
	else if (j.cls != ADDR_CLASS_ORDINARY)
		j.verdict = DEST_SPECIAL;
	else if (policy->is_own && dest_any_form(ip, dest_is_own, policy))
		j.verdict = DEST_OWN_ADDRESS;
	else if (policy->deny && dest_any_form(ip, dest_in_deny, policy->deny))
		j.verdict = DEST_DENIED;
	return j;
}

const char *dest_reason(struct dest_judgement j)
{
	switch (j.verdict) {
	case DEST_ALLOWED:
		return "allowed";
	case DEST_PORT_ZERO:
		return "port-zero";
	case DEST_SPECIAL:
		return addr_class_name(j.cls);
	case DEST_OWN_ADDRESS:
		return "own-address";
	case DEST_DENIED:
		return "denied-destination";
	case DEST_VERDICT_COUNT:
		break;
	}
	return "?";
}

const char *dest_explain(struct dest_judgement j)
{
	static const char *const special[ADDR_CLASS_COUNT] = {
		[ADDR_CLASS_UNSPECIFIED] = "destination is the unspecified address",
		[ADDR_CLASS_THIS_NETWORK] = "destination is in 0.0.0.0/8 (this network)",
		[ADDR_CLASS_LOOPBACK] = "destination is a loopback address",
		[ADDR_CLASS_LINK_LOCAL] = "destination is link-local",
		[ADDR_CLASS_MULTICAST] = "destination is multicast",
		[ADDR_CLASS_BROADCAST] = "destination is the broadcast address",
		[ADDR_CLASS_RESERVED] = "destination is in reserved 240.0.0.0/4",
	};

	switch (j.verdict) {
	case DEST_PORT_ZERO:
		return "destination port 0";
	case DEST_SPECIAL:
		return j.cls < ADDR_CLASS_COUNT && special[j.cls] ? special[j.cls]
								  : "special destination";
	case DEST_OWN_ADDRESS:
		return "destination is the converter itself";
	case DEST_DENIED:
		return "destination in a denied range";
	default:
		return "destination allowed";
	}
}

enum conv_error_code dest_convert_error(struct dest_judgement j)
{
	if (j.verdict == DEST_PORT_ZERO)
		return CONV_ERR_MALFORMED_MESSAGE;
	if (j.verdict != DEST_SPECIAL)
		return CONV_ERR_NOT_AUTHORIZED;
	switch (j.cls) {
	case ADDR_CLASS_UNSPECIFIED:
	case ADDR_CLASS_THIS_NETWORK:
	case ADDR_CLASS_LOOPBACK:
	case ADDR_CLASS_MULTICAST:
	case ADDR_CLASS_BROADCAST:
		return CONV_ERR_MALFORMED_MESSAGE;
	default:
		return CONV_ERR_NOT_AUTHORIZED;
	}
}

enum socks_reply dest_socks_reply(struct dest_judgement j)
{
	return j.verdict == DEST_ALLOWED ? SOCKS_OK : SOCKS_NOT_ALLOWED;
}
