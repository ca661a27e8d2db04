/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CPE_H
#define MPCONV_CPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * CPE identity (issue 16): a per-CPE credential in the RFC 8803 Cookie TLV, and the converter's
 * table of CPE id -> key. The credential proves who the CPE is whatever its address (CGNAT,
 * an LTE and a DSL line from two ISPs) and binds the request it rides in:
 *   credential = 0x01 (format) || id length (1) || id || epoch (4, big endian) ||
 *                HMAC-SHA256(key, "mpconv-cpe1" || id length || id || epoch ||
 *                            Connect address[16] || Connect port[2])[0..15]
 * epoch = unix time / CPE_EPOCH_SECONDS; accepted within CPE_EPOCH_SLACK epochs either way
 * (clock skew), so a captured SYN replays only to its own destination and only for minutes.
 * The Cookie TLV's zero padding may follow. Pure: no sockets, no files, no allocation in the
 * credential code (the table parser allocates its entries).
 */
#define CPE_KEY_LEN	   32
#define CPE_ID_MAX	   32
#define CPE_MAC_LEN	   16
#define CPE_CRED_MAX	   (2 + CPE_ID_MAX + 4 + CPE_MAC_LEN)
#define CPE_EPOCH_SECONDS  60
#define CPE_EPOCH_SLACK	   2
#define CPE_FORMAT	   1

struct cpe_entry {
	char id[CPE_ID_MAX + 1]; /* NUL-terminated */
	uint8_t key[CPE_KEY_LEN];
};

/* The converter's table; immutable once parsed, so workers read it without a lock. */
struct cpe_table {
	struct cpe_entry *entries; /* owned; sorted by id */
	size_t len;
};

/* What a credential claims; id points into the caller's bytes. */
struct cpe_cred {
	const char *id;
	size_t id_len;
	uint32_t epoch;
	const uint8_t *mac;
};

/* An id is 1..CPE_ID_MAX of [A-Za-z0-9._:@-] (it is printed in logs and tables). */
bool cpe_id_ok(const char *id, size_t len);
/* Writes the credential for a Connect to addr/port at time now. Its length (no padding), or
 * -EINVAL for a bad id, -EMSGSIZE when cap is too small. */
int cpe_cred_make(const char *id, const uint8_t key[CPE_KEY_LEN], const uint8_t addr[16],
		  uint16_t port, uint64_t now, uint8_t *out, size_t cap);
struct conv_writer;
/* Appends the Cookie TLV with the credential for this Connect (the gateway's request): 0 or the
 * writer's sticky error. */
int cpe_put_credential(struct conv_writer *w, const char *id, const uint8_t key[CPE_KEY_LEN],
		       const uint8_t addr[16], uint16_t port, uint64_t now);
/* Reads a Cookie TLV value as a credential (padding allowed). 0 or -EBADMSG. */
int cpe_cred_parse(const uint8_t *cookie, size_t len, struct cpe_cred *cred);
/* Whether the credential's MAC is right for key and this Connect, and its epoch is current. */
bool cpe_cred_verify(const struct cpe_cred *cred, const uint8_t key[CPE_KEY_LEN],
		     const uint8_t addr[16], uint16_t port, uint64_t now);

/*
 * Parses table text: one "ID KEY" per line (KEY: 64 hex digits), '#' comments, blank lines.
 * A duplicate id, a bad id or key fails the whole table (a half-loaded table would lock CPEs
 * out): -EINVAL with err naming the line (keys are never quoted), -ENOMEM.
 */
int cpe_table_parse(const char *text, size_t len, struct cpe_table *table, char *err,
		    size_t err_len);
void cpe_table_free(struct cpe_table *table);
const struct cpe_entry *cpe_table_find(const struct cpe_table *table, const char *id, size_t len);
/* The 16-byte key the per-client limits count a CPE under: ff43::/16 followed by a hash of the
 * id, an address no client has (multicast), stable across table reloads. */
void cpe_limit_key(const char *id, size_t len, uint8_t out[16]);
/* Parses 64 hex digits, not all zero, into key (a CPE's key: the cpe-table's and cpe-key, and
 * the inbound keys); false on anything else, key untouched. */
bool cpe_key_parse(const char *hex, size_t len, uint8_t key[CPE_KEY_LEN]);

#endif
