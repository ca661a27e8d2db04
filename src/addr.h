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

/* Address classes (RFC 6890 special-purpose registries), for destination filtering. */
bool addr_is_unspecified(const uint8_t ip[16]); /* 0.0.0.0/8?: only 0.0.0.0 and :: */
bool addr_is_loopback(const uint8_t ip[16]);	/* 127.0.0.0/8, ::1 */
bool addr_is_multicast(const uint8_t ip[16]);	/* 224.0.0.0/4, ff00::/8 */
bool addr_is_broadcast(const uint8_t ip[16]);	/* 255.255.255.255 */
bool addr_is_link_local(const uint8_t ip[16]);	/* 169.254.0.0/16, fe80::/10 */

#endif
