/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_PUBLISH_H
#define MPCONV_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Inbound sessions (issue 15): the messages a gateway and its converter exchange on a reverse
 * connection (one the gateway opened to the converter's inbound listener, so that the
 * converter can hand it a session started on the Internet side). Every message is
 * RFC 8803-shaped: the Convert fixed header {Version 1, Total Length in words, Magic 0x2263},
 * then TLVs {Type, Length in words, Value zero-padded}. The inbound TLVs use the registry's
 * Private Use range (192-255), so no RFC 8803 peer can mistake them for its own:
 *
 *   converter -> gateway  CHALLENGE  C0 05 00 00 | nonce[16]
 *   gateway -> converter  REGISTER   C1 L 00 00 | name[32] NUL-padded | service * n
 *                                    (service: public port, LAN port, LAN address[16])
 *                                    C2 09 00 00 | HMAC-SHA256(key, label | nonce | C1 TLV)
 *   converter -> gateway  ACCEPT     C3 L n 00 | status[n] (enum pub_status), zero padded
 *                         or ERROR   1E 01 code 00 (RFC 8803 Error TLV: 32 Not Authorized...)
 *   converter -> gateway  OPEN       0A 05 | LAN port | LAN address[16]  (RFC 8803 Connect TLV,
 *                                    no options: the published service to connect to)
 *                                    C4 05 | client port | client address[16] (who connected)
 *                                    then the Internet client's bytes
 *
 * The registration is bound to the converter's fresh nonce, so it cannot be replayed on
 * another connection. Pure: no I/O, no allocation; parses through bounds checks only.
 */
#define PUB_TLV_CHALLENGE 192
#define PUB_TLV_REGISTER  193
#define PUB_TLV_AUTH	  194
#define PUB_TLV_ACCEPT	  195
#define PUB_TLV_CLIENT	  196

#define PUB_NONCE_LEN	 16
#define PUB_KEY_LEN	 32
#define PUB_MAC_LEN	 32
#define PUB_NAME_MAX	 32 /* a CPE's name, without NUL */
#define PUB_MAX_SERVICES 16
#define PUB_MSG_MAX	 1020

/* A registration's answer, per service, in its order. */
enum pub_status {
	PUB_STATUS_LISTENING = 0,   /* the converter listens on its public port */
	PUB_STATUS_TAKEN = 1,	    /* another CPE holds that public port */
	PUB_STATUS_NOT_ALLOWED = 2, /* outside the converter's or this CPE's port range */
	PUB_STATUS_FAILED = 3,	    /* the converter could not listen (address in use...) */
	PUB_STATUS_COUNT
};

enum pub_kind { PUB_CHALLENGE, PUB_REGISTER, PUB_ACCEPT, PUB_OPEN, PUB_ERROR };

struct pub_service {
	uint16_t public_port; /* host byte order */
	uint16_t lan_port;
	uint8_t lan_addr[16]; /* IPv6, or IPv4-mapped */
};

/* A parsed message; views point into the parsed buffer. */
struct pub_message {
	enum pub_kind kind;
	size_t length; /* bytes: Total Length * 4 */
	/* CHALLENGE */
	uint8_t nonce[PUB_NONCE_LEN];
	/* REGISTER */
	char name[PUB_NAME_MAX + 1];
	struct pub_service services[PUB_MAX_SERVICES];
	size_t services_len;
	const uint8_t *signed_tlv; /* view: the whole REGISTER TLV, which the MAC covers */
	size_t signed_len;
	const uint8_t *mac; /* view: PUB_MAC_LEN bytes */
	/* ACCEPT */
	uint8_t status[PUB_MAX_SERVICES];
	size_t status_len;
	/* OPEN */
	uint16_t dest_port, client_port;
	uint8_t dest_addr[16], client_addr[16];
	bool has_client;
	/* ERROR */
	uint8_t error;
};

/*
 * Parses one message at the start of buf[0..len). Returns its length in bytes (<= len),
 * -EAGAIN when more bytes are needed, -EBADMSG when the bytes are no valid inbound message
 * (bad header, unknown or repeated TLV, a TLV of the wrong size, a mix of kinds, a bad name,
 * no or too many services, a status out of range).
 */
int pub_parse(const uint8_t *buf, size_t len, struct pub_message *msg);

/* Writers: bytes written into buf, or -EMSGSIZE (cap too small) / -EINVAL (bad values). */
int pub_write_challenge(uint8_t *buf, size_t cap, const uint8_t nonce[PUB_NONCE_LEN]);
/* name: 1..32 of [A-Za-z0-9._-]; 1..16 services with non-zero ports. */
int pub_write_register(uint8_t *buf, size_t cap, const char *name,
		       const struct pub_service *services, size_t n,
		       const uint8_t nonce[PUB_NONCE_LEN], const uint8_t key[PUB_KEY_LEN]);
int pub_write_accept(uint8_t *buf, size_t cap, const uint8_t *status, size_t n);
int pub_write_error(uint8_t *buf, size_t cap, uint8_t code);
int pub_write_open(uint8_t *buf, size_t cap, const uint8_t dest[16], uint16_t dest_port,
		   const uint8_t client[16], uint16_t client_port);

/* True when a parsed REGISTER's MAC is the one key gives for nonce (constant time). */
bool pub_register_verify(const struct pub_message *msg, const uint8_t nonce[PUB_NONCE_LEN],
			 const uint8_t key[PUB_KEY_LEN]);
/* A CPE name as pub_write_register accepts it. */
bool pub_name_valid(const char *name);
const char *pub_status_name(uint8_t status);

#endif
