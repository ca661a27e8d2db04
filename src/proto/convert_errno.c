// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RFC 8803 Error TLV -> the errno a program's connect() expects (for libmpconv). One table per
 * registry: the Convert error codes, and the ICMP / ICMPv6 Destination Unreachable codes that
 * Destination Unreachable carries, mapped as Linux maps them for a direct connect
 * (icmp_err_convert, icmpv6's tab_unreach), so a program sees the same errno either way.
 * Pure: no I/O, no state.
 */
#include "convert_errno.h"

#include <errno.h>

/* ICMP (RFC 792, RFC 1812) Destination Unreachable codes 0..15. */
static const int conv_icmp4_errno[16] = {
	[0] = ENETUNREACH,  [1] = EHOSTUNREACH, [2] = ENOPROTOOPT,   [3] = ECONNREFUSED,
	[4] = EMSGSIZE,	    [5] = EOPNOTSUPP,	[6] = ENETUNREACH,   [7] = EHOSTDOWN,
	[8] = ENONET,	    [9] = ENETUNREACH,	[10] = EHOSTUNREACH, [11] = ENETUNREACH,
	[12] = EHOSTUNREACH, [13] = EHOSTUNREACH, [14] = EHOSTUNREACH, [15] = EHOSTUNREACH,
};

/* ICMPv6 (RFC 4443) Destination Unreachable codes 0..6. */
static const int conv_icmp6_errno[7] = {
	[0] = ENETUNREACH,  [1] = EACCES, [2] = EHOSTUNREACH, [3] = EHOSTUNREACH,
	[4] = ECONNREFUSED, [5] = EACCES, [6] = EACCES,
};

static int conv_unreachable_errno(const uint8_t *value, size_t value_len, bool dest_v6)
{
	uint8_t code;

	if (!value || value_len == 0)
		return EHOSTUNREACH;
	code = value[0];
	if (dest_v6)
		return code < sizeof(conv_icmp6_errno) / sizeof(conv_icmp6_errno[0])
			       ? conv_icmp6_errno[code]
			       : EHOSTUNREACH;
	return code < sizeof(conv_icmp4_errno) / sizeof(conv_icmp4_errno[0])
		       ? conv_icmp4_errno[code]
		       : EHOSTUNREACH;
}

int conv_error_errno(uint8_t code, const uint8_t *value, size_t value_len, bool dest_v6)
{
	switch (code) {
	case CONV_ERR_UNSUPPORTED_VERSION:
	case CONV_ERR_MALFORMED_MESSAGE:
	case CONV_ERR_UNSUPPORTED_MESSAGE:
		return EPROTO; /* the two ends do not speak the same protocol */
	case CONV_ERR_MISSING_COOKIE:
	case CONV_ERR_NOT_AUTHORIZED:
		return EACCES; /* administratively refused, as a firewall's reject is */
	case CONV_ERR_UNSUPPORTED_TCP_OPTION:
		return EOPNOTSUPP;
	case CONV_ERR_RESOURCE_EXCEEDED:
		return ENOBUFS; /* the converter is out of resources, not the destination */
	case CONV_ERR_NETWORK_FAILURE:
		/* what the converter answers for a downstream connect that timed out, or any
		 * failure it has no closer code for */
		return ETIMEDOUT;
	case CONV_ERR_CONNECTION_RESET:
		return ECONNREFUSED; /* the server answered the SYN with a RST */
	case CONV_ERR_DESTINATION_UNREACHABLE:
		return conv_unreachable_errno(value, value_len, dest_v6);
	default:
		return ECONNREFUSED;
	}
}
