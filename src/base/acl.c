// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Prefix sets: the client allow-list and the destination deny-list, IPv4 and IPv6 in one table
 * of 16-byte prefixes (IPv4 as ::ffff:0:0/96 plus its own length).
 * A set owns its array and nothing else. Parsing is strict and never guesses: a prefix with host
 * bits set is refused rather than silently widened or narrowed. No logging: callers quote the text.
 * Note that an IPv6 prefix covering ::ffff:0:0/96 (such as ::/0) matches IPv4 clients too.
 */
#include "acl.h"

#include "addr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Does ip fall inside the first len bits of prefix? */
static bool acl_prefix_match(const uint8_t prefix[16], unsigned len, const uint8_t ip[16])
{
	unsigned bytes = len / 8, bits = len % 8;

	if (memcmp(prefix, ip, bytes))
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));

	return (prefix[bytes] & mask) == (ip[bytes] & mask);
}

static bool acl_host_bits_zero(const uint8_t ip[16], unsigned len)
{
	for (unsigned bit = len; bit < 128; bit++) {
		if (ip[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	}
	return true;
}

bool acl_parse_prefix(const char *text, struct acl_prefix *out)
{
	char host[64];
	const char *slash = strchr(text, '/');
	size_t host_len = slash ? (size_t)(slash - text) : strlen(text);
	bool v6 = memchr(text, ':', host_len) != NULL;
	unsigned len = 128, max = v6 ? 128 : 32;

	if (host_len == 0 || host_len >= sizeof(host))
		return false;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if (!addr_parse_ip(host, out->ip))
		return false;
	if (slash) {
		const char *p = slash + 1;

		/* Decimal digits only, at most three: no sign, no "/8.0", no overflow games. */
		if (!*p || strlen(p) > 3)
			return false;
		len = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return false;
			len = len * 10 + (unsigned)(*p - '0');
		}
		if (len > max)
			return false;
		/* IPv4 lengths count from the start of the mapped form. */
		if (!v6)
			len += 96;
	}
	if (!acl_host_bits_zero(out->ip, len))
		return false;
	out->len = (uint8_t)len;
	return true;
}

int acl_add(struct acl *acl, const struct acl_prefix *prefix)
{
	if (acl->len == acl->cap) {
		size_t cap = acl->cap ? acl->cap * 2 : 8;
		struct acl_prefix *grown = reallocarray(acl->prefixes, cap, sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		acl->prefixes = grown;
		acl->cap = cap;
	}
	acl->prefixes[acl->len++] = *prefix;
	return 0;
}

bool acl_contains(const struct acl *acl, const uint8_t ip[16])
{
	for (size_t i = 0; i < acl->len; i++) {
		if (acl_prefix_match(acl->prefixes[i].ip, acl->prefixes[i].len, ip))
			return true;
	}
	return false;
}

/* dst is overwritten, not freed: pass an empty or zeroed set. */
int acl_copy(struct acl *dst, const struct acl *src)
{
	*dst = (struct acl){ 0 };
	if (src->len == 0)
		return 0;
	dst->prefixes = malloc(src->len * sizeof(*dst->prefixes));
	if (!dst->prefixes)
		return -ENOMEM;
	memcpy(dst->prefixes, src->prefixes, src->len * sizeof(*dst->prefixes));
	dst->len = dst->cap = src->len;
	return 0;
}

void acl_free(struct acl *acl)
{
	free(acl->prefixes);
	*acl = (struct acl){ 0 };
}
