// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CPE credentials (a Cookie TLV value keyed per CPE) and the converter's CPE table text.
 * Owns the table's entry array; nothing else. Must never compare MACs with memcmp, never quote
 * a key in an error, and never accept a table that is only partly valid: a reload with a typo
 * keeps the old table (the caller keeps its old config).
 */
#include "cpe.h"

#include "convert.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CPE_LABEL "mpconv-cpe1"

bool cpe_id_ok(const char *id, size_t len)
{
	if (len == 0 || len > CPE_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '@' || c == '-'))
			return false;
	}
	return true;
}

static void cpe_mac(const uint8_t key[CPE_KEY_LEN], const char *id, size_t id_len,
		    const uint8_t epoch_be[4], const uint8_t addr[16], uint16_t port,
		    uint8_t mac[CPE_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t full[crypto_auth_hmacsha256_BYTES];
	uint8_t len8 = (uint8_t)id_len;
	uint8_t port_be[2] = { (uint8_t)(port >> 8), (uint8_t)port };

	/* sodium_init is idempotent and thread-safe; HMAC-SHA256 is plain C and gives the same
	 * bytes without it, so a failure needs no handling */
	int ready = sodium_init();

	(void)ready;
	crypto_auth_hmacsha256_init(&st, key, CPE_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)CPE_LABEL, strlen(CPE_LABEL));
	crypto_auth_hmacsha256_update(&st, &len8, 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, id_len);
	crypto_auth_hmacsha256_update(&st, epoch_be, 4);
	crypto_auth_hmacsha256_update(&st, addr, 16);
	crypto_auth_hmacsha256_update(&st, port_be, 2);
	crypto_auth_hmacsha256_final(&st, full);
	memcpy(mac, full, CPE_MAC_LEN);
	sodium_memzero(&st, sizeof(st));
}

int cpe_cred_make(const char *id, const uint8_t key[CPE_KEY_LEN], const uint8_t addr[16],
		  uint16_t port, uint64_t now, uint8_t *out, size_t cap)
{
	size_t id_len = strlen(id);
	uint32_t epoch = (uint32_t)(now / CPE_EPOCH_SECONDS);
	uint8_t *p = out;

	if (!cpe_id_ok(id, id_len))
		return -EINVAL;
	if (cap < 2 + id_len + 4 + CPE_MAC_LEN)
		return -EMSGSIZE;
	*p++ = CPE_FORMAT;
	*p++ = (uint8_t)id_len;
	memcpy(p, id, id_len);
	p += id_len;
	p[0] = (uint8_t)(epoch >> 24);
	p[1] = (uint8_t)(epoch >> 16);
	p[2] = (uint8_t)(epoch >> 8);
	p[3] = (uint8_t)epoch;
	cpe_mac(key, id, id_len, p, addr, port, p + 4);
	p += 4 + CPE_MAC_LEN;
	return (int)(p - out);
}

int cpe_put_credential(struct conv_writer *w, const char *id, const uint8_t key[CPE_KEY_LEN],
		       const uint8_t addr[16], uint16_t port, uint64_t now)
{
	uint8_t cred[CPE_CRED_MAX];
	int len = cpe_cred_make(id, key, addr, port, now, cred, sizeof(cred));

	if (len < 0)
		return len;
	return conv_put_cookie(w, cred, (size_t)len);
}

int cpe_cred_parse(const uint8_t *cookie, size_t len, struct cpe_cred *cred)
{
	size_t id_len, need;
	const uint8_t *e;

	if (len < 2 || cookie[0] != CPE_FORMAT)
		return -EBADMSG;
	id_len = cookie[1];
	need = 2 + id_len + 4 + CPE_MAC_LEN;
	if (!cpe_id_ok((const char *)cookie + 2, id_len) || len < need)
		return -EBADMSG;
	for (size_t i = need; i < len; i++) /* only the TLV's zero padding may follow */
		if (cookie[i] != 0 || len - need > 3)
			return -EBADMSG;
	e = cookie + 2 + id_len;
	cred->id = (const char *)cookie + 2;
	cred->id_len = id_len;
	cred->epoch = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
	cred->mac = e + 4;
	return 0;
}

bool cpe_cred_verify(const struct cpe_cred *cred, const uint8_t key[CPE_KEY_LEN],
		     const uint8_t addr[16], uint16_t port, uint64_t now)
{
	uint32_t current = (uint32_t)(now / CPE_EPOCH_SECONDS);
	uint32_t ahead = cred->epoch - current, behind = current - cred->epoch;
	uint8_t epoch_be[4] = { (uint8_t)(cred->epoch >> 24), (uint8_t)(cred->epoch >> 16),
				(uint8_t)(cred->epoch >> 8), (uint8_t)cred->epoch };
	uint8_t mac[CPE_MAC_LEN];

	/* unsigned differences: right across the 2^32 wrap too */
	if (ahead > CPE_EPOCH_SLACK && behind > CPE_EPOCH_SLACK)
		return false;
	cpe_mac(key, cred->id, cred->id_len, epoch_be, addr, port, mac);
	return sodium_memcmp(mac, cred->mac, CPE_MAC_LEN) == 0;
}

bool cpe_key_parse(const char *hex, size_t len, uint8_t key[CPE_KEY_LEN])
{
	uint8_t decoded[CPE_KEY_LEN];
	size_t n = 0;
	bool ok = len == 2 * CPE_KEY_LEN &&
		  sodium_hex2bin(decoded, sizeof(decoded), hex, len, NULL, &n, NULL) == 0 &&
		  n == sizeof(decoded) && !sodium_is_zero(decoded, sizeof(decoded));

	if (ok)
		memcpy(key, decoded, sizeof(decoded));
	sodium_memzero(decoded, sizeof(decoded));
	return ok;
}

static int cpe_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cpe_entry *)a)->id, ((const struct cpe_entry *)b)->id);
}

static bool cpe_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line (no newline) into *e: false with err filled in. A blank or comment line: true
 * with e->id empty. */
static bool cpe_parse_line(const char *p, size_t n, unsigned lineno, struct cpe_entry *e,
			   char *err, size_t err_len)
{
	size_t i = 0, id_at, id_len, key_at, key_len;

	e->id[0] = '\0';
	while (i < n && cpe_space(p[i]))
		i++;
	if (i == n || p[i] == '#')
		return true;
	id_at = i;
	while (i < n && !cpe_space(p[i]))
		i++;
	id_len = i - id_at;
	while (i < n && cpe_space(p[i]))
		i++;
	key_at = i;
	while (i < n && !cpe_space(p[i]))
		i++;
	key_len = i - key_at;
	while (i < n && cpe_space(p[i]))
		i++;
	if (!cpe_id_ok(p + id_at, id_len)) {
		snprintf(err, err_len, "line %u: not a CPE id (1..%d of A-Z a-z 0-9 . _ : @ -)",
			 lineno, CPE_ID_MAX);
		return false;
	}
	if (!cpe_key_parse(p + key_at, key_len, e->key) || (i < n && p[i] != '#')) {
		snprintf(err, err_len, "line %u: CPE %.*s: want \"ID KEY\", KEY 64 hex digits, "
			 "not all zero (key not shown)", lineno, (int)id_len, p + id_at);
		return false;
	}
	memcpy(e->id, p + id_at, id_len);
	e->id[id_len] = '\0';
	return true;
}

int cpe_table_parse(const char *text, size_t len, struct cpe_table *table, char *err,
		    size_t err_len)
{
	struct cpe_table t = { .entries = NULL };
	size_t cap = 0, at = 0;
	unsigned lineno = 0;
	int ret = 0;

	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		struct cpe_entry e;

		lineno++;
		if (!cpe_parse_line(text + at, n, lineno, &e, err, err_len)) {
			ret = -EINVAL;
			goto cleanup;
		}
		at += n + 1;
		if (!e.id[0])
			continue;
		if (t.len == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct cpe_entry *grown = reallocarray(t.entries, ncap, sizeof(*grown));

			if (!grown) {
				ret = -ENOMEM;
				snprintf(err, err_len, "out of memory at line %u", lineno);
				goto cleanup;
			}
			t.entries = grown;
			cap = ncap;
		}
		t.entries[t.len++] = e;
		sodium_memzero(&e, sizeof(e));
	}
	if (t.len > 1)
		qsort(t.entries, t.len, sizeof(*t.entries), cpe_cmp);
	for (size_t i = 1; i < t.len; i++) {
		if (!strcmp(t.entries[i - 1].id, t.entries[i].id)) {
			snprintf(err, err_len, "CPE %s listed twice", t.entries[i].id);
			ret = -EINVAL;
			goto cleanup;
		}
	}
	*table = t;
	return 0;
cleanup:
	cpe_table_free(&t);
	return ret;
}

void cpe_table_free(struct cpe_table *table)
{
	if (table->entries)
		sodium_memzero(table->entries, table->len * sizeof(*table->entries));
	free(table->entries);
	table->entries = NULL;
	table->len = 0;
}

const struct cpe_entry *cpe_table_find(const struct cpe_table *table, const char *id, size_t len)
{
	struct cpe_entry probe;

	if (!table || !cpe_id_ok(id, len))
		return NULL;
	memcpy(probe.id, id, len);
	probe.id[len] = '\0';
	return table->len ? bsearch(&probe, table->entries, table->len, sizeof(probe), cpe_cmp)
			  : NULL;
}

void cpe_limit_key(const char *id, size_t len, uint8_t out[16])
{
	uint8_t hash[crypto_generichash_BYTES_MIN];

	crypto_generichash(hash, sizeof(hash), (const uint8_t *)id, len, NULL, 0);
	out[0] = 0xff;
	out[1] = 0x43;
	memcpy(out + 2, hash, 14);
}
