// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Addresses: text and sockaddr conversions to and from the 16-byte form (IPv4 as ::ffff:a.b.c.d),
 * and the special-purpose address classes the destination filter refuses.
 * Pure helpers: no allocation, no logging, no name resolution (a hostname is a parse error,
 * never a DNS lookup); the caller reports errors with the text it passed in.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t addr_v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool addr_is_v4mapped(const uint8_t ip[16])
{
	return !memcmp(ip, addr_v4mapped_prefix, sizeof(addr_v4mapped_prefix));
}

bool addr_parse_ip(const char *text, uint8_t ip[16])
{
	struct in_addr v4;

	/* inet_pton, not inet_aton: no octal ("010"), no short forms ("10.1"), no trailing junk. */
	if (inet_pton(AF_INET, text, &v4) == 1) {
		memcpy(ip, addr_v4mapped_prefix, sizeof(addr_v4mapped_prefix));
		memcpy(ip + 12, &v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, text, ip) == 1;
}

/* Decimal digits only, 1..65535. Port 0 is refused: nothing listens on or connects to it. */
static bool addr_parse_port(const char *text, uint16_t *port)
{
	unsigned long value = 0;

	if (!*text)
		return false;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		value = value * 10 + (unsigned long)(*p - '0');
		if (value > 65535)
			return false;
	}
	if (value == 0)
		return false;
	*port = (uint16_t)value;
	return true;
}

bool addr_parse(const char *text, int default_port, struct addr_port *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port = NULL;
	size_t host_len;

	if (default_port > 65535)
		return false;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close)
			return false;
		host_len = (size_t)(close - text - 1);
		text++;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return false;
		/* Brackets are only for IPv6: "[192.0.2.1]" would be a second spelling of nothing.
		 */
		if (!memchr(text, ':', host_len))
			return false;
	} else {
		const char *colon = strchr(text, ':');

		host_len = strlen(text);
		if (colon && !strchr(colon + 1, ':')) {
			/* Exactly one colon: IPv4 with a port. */
			host_len = (size_t)(colon - text);
			port = colon + 1;
		}
		/* Two or more colons: a bare IPv6 address, which cannot carry a port. */
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return false;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if (!addr_parse_ip(host, out->ip))
		return false;
	if (port)
		return addr_parse_port(port, &out->port);
	if (default_port < 0)
		return false;
	out->port = (uint16_t)default_port;
	return true;
}

char *addr_format(const struct addr_port *ap, bool with_port, char buf[ADDR_STRLEN])
{
	char host[INET6_ADDRSTRLEN];
	bool v4 = addr_is_v4mapped(ap->ip);

	if (v4)
		inet_ntop(AF_INET, ap->ip + 12, host, sizeof(host));
	else
		inet_ntop(AF_INET6, ap->ip, host, sizeof(host));
	if (!with_port)
		snprintf(buf, ADDR_STRLEN, "%s", host);
	else if (v4)
		snprintf(buf, ADDR_STRLEN, "%s:%u", host, ap->port);
	else
		snprintf(buf, ADDR_STRLEN, "[%s]:%u", host, ap->port);
	return buf;
}

bool addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct addr_port *out)
{
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;

		/* Copied out: sa may be a plain struct sockaddr with weaker alignment. */
		memcpy(&sin, sa, sizeof(sin));
		memcpy(out->ip, addr_v4mapped_prefix, sizeof(addr_v4mapped_prefix));
		memcpy(out->ip + 12, &sin.sin_addr, 4);
		out->port = ntohs(sin.sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;

		/* The scope id is dropped: link-local destinations are refused anyway. */
		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(out->ip, &sin6.sin6_addr, 16);
		out->port = ntohs(sin6.sin6_port);
		return true;
	}
	return false;
}

socklen_t addr_to_sockaddr(const struct addr_port *ap, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (addr_is_v4mapped(ap->ip)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		/* AF_INET, so the socket works whether or not the host has IPv6 at all. */
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ap->port);
		memcpy(&sin->sin_addr, ap->ip + 12, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ap->port);
	memcpy(&sin6->sin6_addr, ap->ip, 16);
	return sizeof(*sin6);
}

/* ---- address classes ---- */

/* One row per special-purpose prefix, IPv4 rows in the mapped form (length + 96). The most
 * specific rows come first: the first match decides. */
static const struct addr_class_row {
	uint8_t prefix[16];
	uint8_t len;
	enum addr_class cls;
} addr_class_table[] = {
	{ { [10] = 0xff, [11] = 0xff }, 128, ADDR_CLASS_UNSPECIFIED },
	{ { [10] = 0xff, [11] = 0xff, 255, 255, 255, 255 }, 128, ADDR_CLASS_BROADCAST },
	{ { [10] = 0xff, [11] = 0xff }, 104, ADDR_CLASS_THIS_NETWORK },
	{ { [10] = 0xff, [11] = 0xff, 127 }, 104, ADDR_CLASS_LOOPBACK },
	{ { [10] = 0xff, [11] = 0xff, 169, 254 }, 112, ADDR_CLASS_LINK_LOCAL },
	{ { [10] = 0xff, [11] = 0xff, 224 }, 100, ADDR_CLASS_MULTICAST },
	{ { [10] = 0xff, [11] = 0xff, 240 }, 100, ADDR_CLASS_RESERVED },
	{ { 0 }, 128, ADDR_CLASS_UNSPECIFIED },
	{ { [15] = 1 }, 128, ADDR_CLASS_LOOPBACK },
	{ { 0xfe, 0x80 }, 10, ADDR_CLASS_LINK_LOCAL },
	{ { 0xff }, 8, ADDR_CLASS_MULTICAST },
};

static const char *const addr_class_names[ADDR_CLASS_COUNT] = {
	[ADDR_CLASS_ORDINARY] = "ordinary",	    [ADDR_CLASS_UNSPECIFIED] = "unspecified",
	[ADDR_CLASS_THIS_NETWORK] = "this-network", [ADDR_CLASS_LOOPBACK] = "loopback",
	[ADDR_CLASS_LINK_LOCAL] = "link-local",	    [ADDR_CLASS_MULTICAST] = "multicast",
	[ADDR_CLASS_BROADCAST] = "broadcast",	    [ADDR_CLASS_RESERVED] = "reserved",
};

const char *addr_class_name(enum addr_class cls)
{
	return cls < ADDR_CLASS_COUNT ? addr_class_names[cls] : "?";
}

static bool addr_in_prefix(const uint8_t ip[16], const uint8_t prefix[16], unsigned len)
{
	unsigned bytes = len / 8, bits = len % 8;

	if (memcmp(ip, prefix, bytes))
		return false;
	return !bits || ((ip[bytes] ^ prefix[bytes]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

static enum addr_class addr_classify_literal(const uint8_t ip[16])
{
	for (size_t i = 0; i < sizeof(addr_class_table) / sizeof(addr_class_table[0]); i++)
		if (addr_in_prefix(ip, addr_class_table[i].prefix, addr_class_table[i].len))
			return addr_class_table[i].cls;
	return ADDR_CLASS_ORDINARY;
}

static void addr_mapped_from(const uint8_t v4[4], bool invert, uint8_t out[16])
{
	memcpy(out, addr_v4mapped_prefix, sizeof(addr_v4mapped_prefix));
	for (int i = 0; i < 4; i++)
		out[12 + i] = invert ? (uint8_t)~v4[i] : v4[i];
}

size_t addr_embedded_v4(const uint8_t ip[16], uint8_t out[ADDR_EMBEDDED_MAX][16])
{
	static const uint8_t zero[12];
	static const uint8_t siit[12] = { [8] = 0xff, [9] = 0xff };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t sixtofour[2] = { 0x20, 0x02 };
	static const uint8_t teredo[4] = { 0x20, 0x01, 0x00, 0x00 };

	if (addr_is_v4mapped(ip) || !memcmp(ip, zero, 12) || !memcmp(ip, siit, 12) ||
	    !memcmp(ip, nat64, 12)) {
		/* mapped, compatible (:: and ::1 are IPv6's own, classified before), SIIT, NAT64 */
		addr_mapped_from(ip + 12, false, out[0]);
		return 1;
	}
	if (!memcmp(ip, sixtofour, 2)) {
		addr_mapped_from(ip + 2, false, out[0]);
		return 1;
	}
	if (!memcmp(ip, teredo, 4)) {
		/* RFC 4380: the server at bits 32-63, the client's address inverted in the last 32 */
		addr_mapped_from(ip + 4, false, out[0]);
		addr_mapped_from(ip + 12, true, out[1]);
		return 2;
	}
	return 0;
}

enum addr_class addr_classify(const uint8_t ip[16])
{
	uint8_t embedded[ADDR_EMBEDDED_MAX][16];
	enum addr_class cls = addr_classify_literal(ip);
	size_t n;

	if (cls != ADDR_CLASS_ORDINARY || addr_is_v4mapped(ip))
		return cls;
	n = addr_embedded_v4(ip, embedded);
	for (size_t i = 0; i < n && cls == ADDR_CLASS_ORDINARY; i++)
		cls = addr_classify_literal(embedded[i]);
	return cls;
}

void addr_client_key(const uint8_t ip[16], unsigned prefix6, uint8_t key[16])
{
	memcpy(key, ip, 16);
	if (addr_is_v4mapped(ip) || prefix6 >= 128)
		return;
	for (unsigned bit = prefix6; bit < 128; bit++)
		key[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

bool addr_is_unspecified(const uint8_t ip[16])
{
	return addr_classify_literal(ip) == ADDR_CLASS_UNSPECIFIED;
}

bool addr_is_loopback(const uint8_t ip[16])
{
	return addr_classify_literal(ip) == ADDR_CLASS_LOOPBACK;
}

bool addr_is_link_local(const uint8_t ip[16])
{
	return addr_classify_literal(ip) == ADDR_CLASS_LINK_LOCAL;
}
