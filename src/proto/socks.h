/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_SOCKS_H
#define MPCONV_SOCKS_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * SOCKS version 5 (RFC 1928), the subset hybrid-access deployments use: no authentication,
 * CONNECT to an IPv4 or IPv6 address or a domain name (socks_request_name: the converter
 * resolves it); BIND and UDP ASSOCIATE are refused. Pure: parsing works on whatever bytes have arrived
 * and never reads past them; building writes into the caller's buffer.
 *
 * A client may pipeline its greeting, its request and its first data in one segment (what the
 * gateway does: no added round trip on a pre-established connection); parsing returns how many
 * bytes each message took so the rest stays for the relay.
 */
enum socks_reply {
	SOCKS_OK = 0,
	SOCKS_GENERAL_FAILURE = 1,
	SOCKS_NOT_ALLOWED = 2,
	SOCKS_NET_UNREACHABLE = 3,
	SOCKS_HOST_UNREACHABLE = 4,
	SOCKS_REFUSED = 5,
	SOCKS_TTL_EXPIRED = 6,
	SOCKS_COMMAND_UNSUPPORTED = 7,
	SOCKS_ADDRESS_UNSUPPORTED = 8,
};

#define SOCKS_GREETING_MAX 257 /* VER NMETHODS METHODS[255] */
#define SOCKS_REQUEST_MAX  262 /* VER CMD RSV ATYP (1 + 255 domain) PORT */
#define SOCKS_REPLY_MAX	   22  /* VER REP RSV ATYP IPv6 PORT */
#define SOCKS_METHOD_NONE  0x00
#define SOCKS_NO_METHOD	   0xff

/*
 * The client's greeting. Returns its length (*no_auth = the client offers "no
 * authentication"), -EAGAIN when more bytes are needed, -EPROTO when it is not SOCKS 5.
 */
int socks_parse_greeting(const uint8_t *in, size_t len, bool *no_auth);

/*
 * The client's request. Returns its length with *dest filled in, -EAGAIN when more bytes are
 * needed, -EPROTO when malformed. A well-formed request the converter will not serve returns
 * its length with *refuse set to the reply code to send (COMMAND_UNSUPPORTED for BIND / UDP,
 * ADDRESS_UNSUPPORTED for a domain name), else *refuse = SOCKS_OK.
 */
int socks_parse_request(const uint8_t *in, size_t len, struct addr_port *dest,
			enum socks_reply *refuse);

#define SOCKS_NAME_MAX 255
/*
 * The domain name of a request socks_parse_request took (ATYP 3, which it answers with
 * *refuse = ADDRESS_UNSUPPORTED for a caller that does not resolve): true with out holding it
 * NUL-terminated when it is a host name (letters, digits, '-', '_' and '.', at most 253
 * characters and a final dot), false otherwise.
 */
bool socks_request_name(const uint8_t *in, size_t len, char out[SOCKS_NAME_MAX + 1]);

/* The server's method choice: 2 bytes. */
size_t socks_put_method(uint8_t out[2], uint8_t method);
/* The server's reply with the bound address (IPv4 or IPv6 by its form); returns its length. */
size_t socks_put_reply(uint8_t out[SOCKS_REPLY_MAX], enum socks_reply code,
		       const struct addr_port *bound);

/* Client side (the gateway): greeting (no authentication) + CONNECT dest, pipelined. */
size_t socks_put_client_hello(uint8_t out[3 + SOCKS_REPLY_MAX], const struct addr_port *dest);
/*
 * The server's method choice followed by its reply to the CONNECT. Returns the bytes they
 * took with *code set (SOCKS_OK or the server's refusal; SOCKS_NOT_ALLOWED when it wants
 * authentication), -EAGAIN for more, -EPROTO when malformed.
 */
int socks_parse_server(const uint8_t *in, size_t len, enum socks_reply *code);

const char *socks_reply_name(enum socks_reply code);
/* The same as a label slug ("host_unreachable"), "unknown" otherwise. */
const char *socks_reply_slug(enum socks_reply code);

#endif
