// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SOCKS 5 messages (RFC 1928): parsed from the bytes that arrived, with every length checked
 * before it is read; built into caller buffers. No allocation, no I/O.
 */
#include "socks.h"

#include <errno.h>
#include <string.h>

#define SOCKS_VERSION 5
#define SOCKS_CONNECT 1
#define SOCKS_ATYP_V4 1
#define SOCKS_ATYP_NAME 3
#define SOCKS_ATYP_V6 4

int socks_parse_greeting(const uint8_t *in, size_t len, bool *no_auth)
{
	size_t need;

	if (len < 1)
		return -EAGAIN;
	if (in[0] != SOCKS_VERSION)
		return -EPROTO;
	if (len < 2)
		return -EAGAIN;
	if (in[1] == 0)
		return -EPROTO; /* no method at all */
	need = 2 + (size_t)in[1];
	if (len < need)
		return -EAGAIN;
	*no_auth = memchr(in + 2, SOCKS_METHOD_NONE, in[1]) != NULL;
	return (int)need;
}

int socks_parse_request(const uint8_t *in, size_t len, struct addr_port *dest,
			enum socks_reply *refuse)
{
	size_t addr_len, need;

	if (len < 4)
		return len >= 1 && in[0] != SOCKS_VERSION ? -EPROTO : -EAGAIN;
	if (in[0] != SOCKS_VERSION || in[2] != 0)
		return -EPROTO;
	switch (in[3]) {
	case SOCKS_ATYP_V4:
		addr_len = 4;
		break;
	case SOCKS_ATYP_V6:
		addr_len = 16;
		break;
	case SOCKS_ATYP_NAME:
		if (len < 5)
			return -EAGAIN;
		if (in[4] == 0)
			return -EPROTO;
		addr_len = 1 + (size_t)in[4];
		break;
	default:
		return -EPROTO;
	}
	need = 4 + addr_len + 2;
	if (len < need)
		return -EAGAIN;
	memset(dest, 0, sizeof(*dest));
	*refuse = SOCKS_OK;
	if (in[3] == SOCKS_ATYP_V4) {
		dest->ip[10] = dest->ip[11] = 0xff;
		memcpy(dest->ip + 12, in + 4, 4);
	} else if (in[3] == SOCKS_ATYP_V6) {
		memcpy(dest->ip, in + 4, 16);
	} else {
		*refuse = SOCKS_ADDRESS_UNSUPPORTED; /* a converter does not resolve names */
	}
	dest->port = (uint16_t)(in[need - 2] << 8 | in[need - 1]);
	if (in[1] != SOCKS_CONNECT)
		*refuse = SOCKS_COMMAND_UNSUPPORTED;
	return (int)need;
}

bool socks_request_name(const uint8_t *in, size_t len, char out[SOCKS_NAME_MAX + 1])
{
	size_t n;

	if (len < 5 || in[3] != SOCKS_ATYP_NAME || len < 5 + (size_t)in[4] + 2)
		return false;
	n = in[4];
	if (n == 0 || n > 254 || (n == 254 && in[4 + n] != '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[5 + i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	memcpy(out, in + 5, n);
	out[n] = '\0';
	return true;
}

size_t socks_put_method(uint8_t out[2], uint8_t method)
{
	out[0] = SOCKS_VERSION;
	out[1] = method;
	return 2;
}

/* ATYP ADDR PORT of ap at out; returns the bytes written. */
static size_t socks_put_addr(uint8_t *out, const struct addr_port *ap)
{
	size_t n;

	if (addr_is_v4mapped(ap->ip)) {
		out[0] = SOCKS_ATYP_V4;
		memcpy(out + 1, ap->ip + 12, 4);
		n = 5;
	} else {
		out[0] = SOCKS_ATYP_V6;
		memcpy(out + 1, ap->ip, 16);
		n = 17;
	}
	out[n] = (uint8_t)(ap->port >> 8);
	out[n + 1] = (uint8_t)ap->port;
	return n + 2;
}

size_t socks_put_reply(uint8_t out[SOCKS_REPLY_MAX], enum socks_reply code,
		       const struct addr_port *bound)
{
	out[0] = SOCKS_VERSION;
	out[1] = (uint8_t)code;
	out[2] = 0;
	return 3 + socks_put_addr(out + 3, bound);
}

size_t socks_put_client_hello(uint8_t out[3 + SOCKS_REPLY_MAX], const struct addr_port *dest)
{
	out[0] = SOCKS_VERSION;
	out[1] = 1;
	out[2] = SOCKS_METHOD_NONE;
	out[3] = SOCKS_VERSION;
	out[4] = SOCKS_CONNECT;
	out[5] = 0;
	return 6 + socks_put_addr(out + 6, dest);
}

int socks_parse_server(const uint8_t *in, size_t len, enum socks_reply *code)
{
	size_t need;

	if (len < 2)
		return len >= 1 && in[0] != SOCKS_VERSION ? -EPROTO : -EAGAIN;
	if (in[0] != SOCKS_VERSION)
		return -EPROTO;
	if (in[1] != SOCKS_METHOD_NONE) {
		/* no acceptable method (0xff), or it insists on authentication */
		*code = SOCKS_NOT_ALLOWED;
		return 2;
	}
	if (len < 2 + 4)
		return len >= 3 && in[2] != SOCKS_VERSION ? -EPROTO : -EAGAIN;
	if (in[2] != SOCKS_VERSION || in[4] != 0)
		return -EPROTO;
	switch (in[5]) {
	case SOCKS_ATYP_V4:
		need = 2 + 4 + 4 + 2;
		break;
	case SOCKS_ATYP_V6:
		need = 2 + 4 + 16 + 2;
		break;
	case SOCKS_ATYP_NAME:
		if (len < 2 + 5)
			return -EAGAIN;
		need = 2 + 4 + 1 + (size_t)in[6] + 2;
		break;
	default:
		return -EPROTO;
	}
	if (len < need)
		return -EAGAIN;
	*code = (enum socks_reply)in[3];
	return (int)need;
}

const char *socks_reply_name(enum socks_reply code)
{
	static const char *const names[] = {
		"succeeded",		  "general failure",	    "not allowed by ruleset",
		"network unreachable",	  "host unreachable",	    "connection refused",
		"TTL expired",		  "command not supported", "address type not supported",
	};

	return (unsigned)code < sizeof(names) / sizeof(names[0]) ? names[code] : "unknown";
}

const char *socks_reply_slug(enum socks_reply code)
{
	static const char *const slugs[] = {
		"succeeded",	       "general_failure",	 "not_allowed_by_ruleset",
		"network_unreachable", "host_unreachable",	 "connection_refused",
		"ttl_expired",	       "command_not_supported", "address_type_not_supported",
	};

	return (unsigned)code < sizeof(slugs) / sizeof(slugs[0]) ? slugs[code] : "unknown";
}
