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

bool addr_is_unspecified(const uint8_t ip[16])
{
	static const uint8_t any6[16];

	if (addr_is_v4mapped(ip))
		return !memcmp(ip + 12, any6, 4);
	return !memcmp(ip, any6, 16);
}

bool addr_is_loopback(const uint8_t ip[16])
{
	static const uint8_t loop6[16] = { [15] = 1 };

	if (addr_is_v4mapped(ip))
		return ip[12] == 127;
	return !memcmp(ip, loop6, 16);
}

bool addr_is_multicast(const uint8_t ip[16])
{
	if (addr_is_v4mapped(ip))
		return (ip[12] & 0xf0) == 224;
	return ip[0] == 0xff;
}

bool addr_is_broadcast(const uint8_t ip[16])
{
	return addr_is_v4mapped(ip) && ip[12] == 255 && ip[13] == 255 && ip[14] == 255 &&
	       ip[15] == 255;
}

bool addr_is_link_local(const uint8_t ip[16])
{
	if (addr_is_v4mapped(ip))
		return ip[12] == 169 && ip[13] == 254;
	return ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80;
}
