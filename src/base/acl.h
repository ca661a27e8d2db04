/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_ACL_H
#define MPCONV_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A set of IP prefixes, IPv4 and IPv6 in one table (IPv4 as IPv4-mapped, its prefix length
 * plus 96). Used for the client allow-list and the destination deny-list. Lookups are linear:
 * lists are short and lookups happen once per session, never per packet.
 */
struct acl_prefix {
	uint8_t ip[16];
	uint8_t len; /* 0..128, in the 16-byte space */
};

struct acl {
	struct acl_prefix *prefixes; /* owned */
	size_t len, cap;
};

/* "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (= /32), "::1" (= /128). Host bits must be zero
 * ("10.0.0.1/8" is refused, since it is almost always a typo). false on any error. */
bool acl_parse_prefix(const char *text, struct acl_prefix *out);
/* 0 or -ENOMEM. */
int acl_add(struct acl *acl, const struct acl_prefix *prefix);
bool acl_contains(const struct acl *acl, const uint8_t ip[16]);
/* Deep copy, for config snapshots. 0 or -ENOMEM. */
int acl_copy(struct acl *dst, const struct acl *src);
void acl_free(struct acl *acl);

#endif
