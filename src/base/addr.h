/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_ADDR_H
#define MPCONV_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Addresses as the rest of mpconv sees them: every IP address normalised to 16 bytes, IPv4 in
 * the IPv4-mapped form ::ffff:a.b.c.d (as RFC 8803's Connect TLV carries it). Pure helpers.
 */
struct addr_port {
	uint8_t ip[16];
	uint16_t port; /* host byte order */
};

/* "192.0.2.1:5124", "[2001:db8::1]:5124"; with default_port >= 0 the ":port" part is optional
 * ("192.0.2.1", "2001:db8::1", "[::1]"). false on any error. */
bool addr_parse(const char *text, int default_port, struct addr_port *out);
/* A bare address, no brackets, no port: "192.0.2.1", "2001:db8::1". false on any error. */
bool addr_parse_ip(const char *text, uint8_t ip[16]);
/* Writes "a.b.c.d:port" or "[v6]:port"; without the port, "a.b.c.d" or "v6" (no brackets).
 * Returns buf. */
#define ADDR_STRLEN 56
char *addr_format(const struct addr_port *ap, bool with_port, char buf[ADDR_STRLEN]);

bool addr_is_v4mapped(const uint8_t ip[16]);
/* sockaddr_in/in6 <-> addr_port; v4-mapped becomes AF_INET. false for other families. */
bool addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct addr_port *out);
socklen_t addr_to_sockaddr(const struct addr_port *ap, struct sockaddr_storage *ss);

/*
 * Address classes (IANA special-purpose registries, RFC 6890): the one table every destination
 * check reads. An IPv6 address that embeds an IPv4 address (mapped ::ffff:0:0/96, compatible
 * ::/96, SIIT ::ffff:0:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) is judged
 * by the IPv4 address it leads to, so ::127.0.0.1 is loopback and 2002:7f00:1:: is too.
 */
enum addr_class {
	ADDR_CLASS_ORDINARY,
	ADDR_CLASS_UNSPECIFIED,	 /* 0.0.0.0, :: */
	ADDR_CLASS_THIS_NETWORK, /* 0.0.0.0/8 (RFC 1122: "this host on this network") */
	ADDR_CLASS_LOOPBACK,	 /* 127.0.0.0/8, ::1 */
	ADDR_CLASS_LINK_LOCAL,	 /* 169.254.0.0/16, fe80::/10 */
	ADDR_CLASS_MULTICAST,	 /* 224.0.0.0/4, ff00::/8 */
	ADDR_CLASS_BROADCAST,	 /* 255.255.255.255 (limited broadcast) */
	ADDR_CLASS_RESERVED,	 /* 240.0.0.0/4 (future use) */
	ADDR_CLASS_COUNT
};

/* The class of ip, embedded IPv4 included (see above). */
enum addr_class addr_classify(const uint8_t ip[16]);
/* "loopback", "multicast", ...: a slug, usable as a metric label. */
const char *addr_class_name(enum addr_class cls);
/*
 * The IPv4 addresses an IPv6 address leads to, as IPv4-mapped addresses in out[] (at most
 * ADDR_EMBEDDED_MAX); returns how many (0 for an address that embeds none, 1 for an IPv4
 * address itself). Teredo gives two: its server and its (de-obfuscated) client.
 */
#define ADDR_EMBEDDED_MAX 2
size_t addr_embedded_v4(const uint8_t ip[16], uint8_t out[ADDR_EMBEDDED_MAX][16]);

/* The key a per-client limit counts ip under: an IPv4 address itself, an IPv6 address's first
 * prefix6 bits (a household or phone holds a whole /64, and picks new addresses in it at will). */
void addr_client_key(const uint8_t ip[16], unsigned prefix6, uint8_t key[16]);

/* Shorthands over addr_classify for the classes callers test one by one. */
bool addr_is_unspecified(const uint8_t ip[16]);
bool addr_is_loopback(const uint8_t ip[16]);
bool addr_is_link_local(const uint8_t ip[16]);

#endif
