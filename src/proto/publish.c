// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inbound-session messages of a reverse connection (publish.h has the wire layout):
 * challenge, authenticated registration, its answer, and the converter's "open" (an RFC 8803
 * Connect TLV naming the published LAN service, plus who connected). Pure: reads through
 * bounds checks, never allocates, never trusts a length it did not check; the MAC is
 * HMAC-SHA256 (libsodium), compared in constant time.
 */
#include "publish.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define PUB_VERSION	   1
#define PUB_MAGIC	   0x2263
#define PUB_TLV_CONNECT	   10 /* RFC 8803 Connect */
#define PUB_TLV_ERROR	   30 /* RFC 8803 Error */
#define PUB_SERVICE_LEN	   20
#define PUB_REGISTER_FIXED (4 + PUB_NAME_MAX)
#define PUB_ADDR_TLV_LEN   20 /* Connect without options, and the client TLV: 5 words */

/* Domain separation: this MAC is never valid for anything else keyed the same way. */
static const char pub_label[] = "mpconv inbound register v1";

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

bool pub_name_valid(const char *name)
{
	size_t n = strnlen(name, PUB_NAME_MAX + 1);

	if (n == 0 || n > PUB_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

const char *pub_status_name(uint8_t status)
{
	static const char *const names[] = {
		[PUB_STATUS_LISTENING] = "listening",
		[PUB_STATUS_TAKEN] = "taken by another CPE",
		[PUB_STATUS_NOT_ALLOWED] = "port not allowed",
		[PUB_STATUS_FAILED] = "listen failed",
	};
	return status < PUB_STATUS_COUNT ? names[status] : "unknown";
}

static int pub_parse_register(const uint8_t *v, size_t len, struct pub_message *m)
{
	char name[PUB_NAME_MAX + 1];

	if (len < PUB_REGISTER_FIXED + PUB_SERVICE_LEN ||
	    (len - PUB_REGISTER_FIXED) % PUB_SERVICE_LEN)
		return -EBADMSG;
	if (v[2] || v[3])
		return -EBADMSG;
	memcpy(name, v + 4, PUB_NAME_MAX);
	name[PUB_NAME_MAX] = '\0';
	/* NUL padding only: no bytes hidden after the name */
	for (size_t i = strlen(name); i < PUB_NAME_MAX; i++)
		if (v[4 + i])
			return -EBADMSG;
	if (!pub_name_valid(name))
		return -EBADMSG;
	m->services_len = (len - PUB_REGISTER_FIXED) / PUB_SERVICE_LEN;
	if (m->services_len > PUB_MAX_SERVICES)
		return -EBADMSG;
	memcpy(m->name, name, sizeof(name));
	for (size_t i = 0; i < m->services_len; i++) {
		const uint8_t *s = v + PUB_REGISTER_FIXED + i * PUB_SERVICE_LEN;
		struct pub_service *out = &m->services[i];

		out->public_port = get16(s);
		out->lan_port = get16(s + 2);
		memcpy(out->lan_addr, s + 4, 16);
		if (!out->public_port || !out->lan_port)
			return -EBADMSG;
	}
	m->signed_tlv = v;
	m->signed_len = len;
	return 0;
}

static int pub_parse_accept(const uint8_t *v, size_t len, struct pub_message *m)
{
	size_t n = v[2];

	if (n == 0 || n > PUB_MAX_SERVICES || v[3] || len != 4 + (n + 3) / 4 * 4)
		return -EBADMSG;
	for (size_t i = 0; i < len - 4; i++) {
		if (i < n && v[4 + i] >= PUB_STATUS_COUNT)
			return -EBADMSG;
		if (i >= n && v[4 + i])
			return -EBADMSG; /* padding is zero */
	}
	memcpy(m->status, v + 4, n);
	m->status_len = n;
	return 0;
}

/* The TLV set of each kind; anything else, or a mix, is malformed. */
static int pub_kind_of(unsigned seen, struct pub_message *m)
{
#define BIT(t) (1u << (t))
	static const struct {
		unsigned must, may;
		enum pub_kind kind;
	} kinds[] = {
		{ BIT(0), 0, PUB_CHALLENGE }, { BIT(1) | BIT(2), 0, PUB_REGISTER },
		{ BIT(3), 0, PUB_ACCEPT },    { BIT(5), BIT(4), PUB_OPEN },
		{ BIT(6), 0, PUB_ERROR },
	};
#undef BIT
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if ((seen & kinds[i].must) == kinds[i].must &&
		    !(seen & ~(kinds[i].must | kinds[i].may))) {
			m->kind = kinds[i].kind;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Bit index of a TLV type in pub_kind_of's table, -1 for a type no inbound message has. */
static int pub_tlv_bit(uint8_t type)
{
	switch (type) {
	case PUB_TLV_CHALLENGE:
		return 0;
	case PUB_TLV_REGISTER:
		return 1;
	case PUB_TLV_AUTH:
		return 2;
	case PUB_TLV_ACCEPT:
		return 3;
	case PUB_TLV_CLIENT:
		return 4;
	case PUB_TLV_CONNECT:
		return 5;
	case PUB_TLV_ERROR:
		return 6;
	default:
		return -1;
	}
}

/* seen: the bits (pub_tlv_bit) of the TLVs before this one. One order per message, so no two
 * encodings mean the same thing: the MAC last, the client after the Connect. */
static int pub_parse_tlv(uint8_t type, const uint8_t *v, size_t len, struct pub_message *m,
			 unsigned seen)
{
	switch (type) {
	case PUB_TLV_CHALLENGE:
		if (len != 4 + PUB_NONCE_LEN || v[2] || v[3])
			return -EBADMSG;
		memcpy(m->nonce, v + 4, PUB_NONCE_LEN);
		return 0;
	case PUB_TLV_REGISTER:
		return (seen & (1u << 2)) ? -EBADMSG : pub_parse_register(v, len, m);
	case PUB_TLV_AUTH:
		if (len != 4 + PUB_MAC_LEN || v[2] || v[3])
			return -EBADMSG;
		m->mac = v + 4;
		return 0;
	case PUB_TLV_ACCEPT:
		return pub_parse_accept(v, len, m);
	case PUB_TLV_CONNECT: /* no TCP options: the gateway connects with its own stack */
		if (len != PUB_ADDR_TLV_LEN)
			return -EBADMSG;
		m->dest_port = get16(v + 2);
		memcpy(m->dest_addr, v + 4, 16);
		return m->dest_port ? 0 : -EBADMSG;
	case PUB_TLV_CLIENT:
		if (len != PUB_ADDR_TLV_LEN || !(seen & (1u << 5)))
			return -EBADMSG;
		m->client_port = get16(v + 2);
		memcpy(m->client_addr, v + 4, 16);
		m->has_client = true;
		return 0;
	default: /* PUB_TLV_ERROR */
		if (len != 4 || v[3])
			return -EBADMSG;
		m->error = v[2];
		return 0;
	}
}

int pub_parse(const uint8_t *buf, size_t len, struct pub_message *msg)
{
	size_t total, off = 4;
	unsigned seen = 0;
	int ret;

	memset(msg, 0, sizeof(*msg));
	if (len < 4)
		return -EAGAIN;
	if (buf[0] != PUB_VERSION || get16(buf + 2) != PUB_MAGIC || buf[1] < 2)
		return -EBADMSG;
	total = (size_t)buf[1] * 4;
	if (len < total)
		return -EAGAIN;
	while (off < total) {
		uint8_t type = buf[off];
		size_t tlen = (size_t)buf[off + 1] * 4;
		int bit = pub_tlv_bit(type);

		if (off + 4 > total || tlen == 0 || tlen > total - off || bit < 0 ||
		    (seen & (1u << bit))) {
			ret = -EBADMSG;
			goto fail;
		}
		ret = pub_parse_tlv(type, buf + off, tlen, msg, seen);
		if (ret < 0)
			goto fail;
		seen |= 1u << bit;
		off += tlen;
	}
	ret = pub_kind_of(seen, msg);
	if (ret < 0)
		goto fail;
	msg->length = total;
	return (int)total;
fail:
	memset(msg, 0, sizeof(*msg));
	return ret;
}

static void pub_mac(uint8_t out[PUB_MAC_LEN], const uint8_t *tlv, size_t len,
		    const uint8_t nonce[PUB_NONCE_LEN], const uint8_t key[PUB_KEY_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, PUB_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)pub_label, sizeof(pub_label));
	crypto_auth_hmacsha256_update(&st, nonce, PUB_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, tlv, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static void pub_header(uint8_t *buf, size_t len)
{
	buf[0] = PUB_VERSION;
	buf[1] = (uint8_t)(len / 4);
	put16(buf + 2, PUB_MAGIC);
}

int pub_write_challenge(uint8_t *buf, size_t cap, const uint8_t nonce[PUB_NONCE_LEN])
{
	size_t len = 4 + 4 + PUB_NONCE_LEN;

	if (cap < len)
		return -EMSGSIZE;
	pub_header(buf, len);
	buf[4] = PUB_TLV_CHALLENGE;
	buf[5] = (4 + PUB_NONCE_LEN) / 4;
	buf[6] = buf[7] = 0;
	memcpy(buf + 8, nonce, PUB_NONCE_LEN);
	return (int)len;
}

int pub_write_register(uint8_t *buf, size_t cap, const char *name,
		       const struct pub_service *services, size_t n,
		       const uint8_t nonce[PUB_NONCE_LEN], const uint8_t key[PUB_KEY_LEN])
{
	size_t tlv = PUB_REGISTER_FIXED + n * PUB_SERVICE_LEN;
	size_t len = 4 + tlv + 4 + PUB_MAC_LEN;
	uint8_t *p = buf + 4;

	if (!pub_name_valid(name) || n == 0 || n > PUB_MAX_SERVICES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!services[i].public_port || !services[i].lan_port)
			return -EINVAL;
	if (cap < len)
		return -EMSGSIZE;
	pub_header(buf, len);
	memset(p, 0, tlv);
	p[0] = PUB_TLV_REGISTER;
	p[1] = (uint8_t)(tlv / 4);
	memcpy(p + 4, name, strlen(name));
	for (size_t i = 0; i < n; i++) {
		uint8_t *s = p + PUB_REGISTER_FIXED + i * PUB_SERVICE_LEN;

		put16(s, services[i].public_port);
		put16(s + 2, services[i].lan_port);
		memcpy(s + 4, services[i].lan_addr, 16);
	}
	p += tlv;
	p[0] = PUB_TLV_AUTH;
	p[1] = (4 + PUB_MAC_LEN) / 4;
	p[2] = p[3] = 0;
	pub_mac(p + 4, buf + 4, tlv, nonce, key);
	return (int)len;
}

bool pub_register_verify(const struct pub_message *msg, const uint8_t nonce[PUB_NONCE_LEN],
			 const uint8_t key[PUB_KEY_LEN])
{
	uint8_t mac[PUB_MAC_LEN];
	bool ok;

	if (msg->kind != PUB_REGISTER || !msg->mac || !msg->signed_tlv)
		return false;
	pub_mac(mac, msg->signed_tlv, msg->signed_len, nonce, key);
	ok = sodium_memcmp(mac, msg->mac, PUB_MAC_LEN) == 0;
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

int pub_write_accept(uint8_t *buf, size_t cap, const uint8_t *status, size_t n)
{
	size_t tlv = 4 + (n + 3) / 4 * 4, len = 4 + tlv;

	if (n == 0 || n > PUB_MAX_SERVICES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (status[i] >= PUB_STATUS_COUNT)
			return -EINVAL;
	if (cap < len)
		return -EMSGSIZE;
	pub_header(buf, len);
	memset(buf + 4, 0, tlv);
	buf[4] = PUB_TLV_ACCEPT;
	buf[5] = (uint8_t)(tlv / 4);
	buf[6] = (uint8_t)n;
	memcpy(buf + 8, status, n);
	return (int)len;
}

int pub_write_error(uint8_t *buf, size_t cap, uint8_t code)
{
	if (cap < 8)
		return -EMSGSIZE;
	pub_header(buf, 8);
	buf[4] = PUB_TLV_ERROR;
	buf[5] = 1;
	buf[6] = code;
	buf[7] = 0;
	return 8;
}

static void pub_put_addr_tlv(uint8_t *p, uint8_t type, uint16_t port, const uint8_t addr[16])
{
	p[0] = type;
	p[1] = PUB_ADDR_TLV_LEN / 4;
	put16(p + 2, port);
	memcpy(p + 4, addr, 16);
}

int pub_write_open(uint8_t *buf, size_t cap, const uint8_t dest[16], uint16_t dest_port,
		   const uint8_t client[16], uint16_t client_port)
{
	size_t len = 4 + 2 * PUB_ADDR_TLV_LEN;

	if (!dest_port)
		return -EINVAL;
	if (cap < len)
		return -EMSGSIZE;
	pub_header(buf, len);
	pub_put_addr_tlv(buf + 4, PUB_TLV_CONNECT, dest_port, dest);
	pub_put_addr_tlv(buf + 4 + PUB_ADDR_TLV_LEN, PUB_TLV_CLIENT, client_port, client);
	return (int)len;
}
