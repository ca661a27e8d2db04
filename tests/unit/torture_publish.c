// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * publish: the inbound messages of a reverse connection. Golden bytes for each message, round
 * trips, the MAC against an independently computed vector (Python's hmac module), a MAC bound
 * to its nonce, key, name and services, and every malformed shape refused (never -EAGAIN for
 * bytes that can never become valid, never a read past the buffer).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr.h"
#include "publish.h"

#include <errno.h>
#include <string.h>

static uint8_t key[PUB_KEY_LEN], nonce[PUB_NONCE_LEN];

static int setup(void **state)
{
	for (unsigned i = 0; i < PUB_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	for (unsigned i = 0; i < PUB_NONCE_LEN; i++)
		nonce[i] = (uint8_t)(0xa0 + i);
	return 0;
}

static struct pub_service svc(uint16_t public_port, const char *ip, uint16_t lan_port)
{
	struct pub_service s = { .public_port = public_port, .lan_port = lan_port };

	assert_true(addr_parse_ip(ip, s.lan_addr));
	return s;
}

static void challenge_has_its_golden_bytes_and_round_trips(void **state)
{
	static const uint8_t golden[] = { 0x01, 0x06, 0x22, 0x63, 0xc0, 0x05, 0x00, 0x00,
					  0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
					  0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
	uint8_t buf[64];
	struct pub_message m;
	int len = pub_write_challenge(buf, sizeof(buf), nonce);

	assert_int_equal(len, sizeof(golden));
	assert_memory_equal(buf, golden, sizeof(golden));
	assert_int_equal(pub_parse(buf, (size_t)len, &m), len);
	assert_int_equal(m.kind, PUB_CHALLENGE);
	assert_memory_equal(m.nonce, nonce, PUB_NONCE_LEN);
	assert_int_equal(pub_write_challenge(buf, 23, nonce), -EMSGSIZE);
}

/*
 * python3: import hmac, hashlib; key = bytes(range(32)); nonce = bytes(range(0xa0, 0xb0))
 *   tlv = bytes([0xc1, 14, 0, 0]) + b'cpe1'.ljust(32, b'\0') + bytes([0x1f, 0x41, 0, 80]) +
 *         bytes(10) + b'\xff\xff' + bytes([192, 168, 1, 10])
 *   hmac.new(key, b'mpconv inbound register v1\0' + nonce + tlv, hashlib.sha256).hexdigest()
 */
static void register_matches_the_reference_mac(void **state)
{
	static const uint8_t mac[PUB_MAC_LEN] = {
		0xde, 0x0f, 0x3a, 0xfd, 0x05, 0x7e, 0x09, 0x92, 0x67, 0xf3, 0x9f,
		0x72, 0x12, 0x58, 0x12, 0xc8, 0xb9, 0xb6, 0x97, 0xd6, 0x95, 0x58,
		0x82, 0x9f, 0x67, 0xea, 0xe0, 0xd2, 0x30, 0xe7, 0xe7, 0x45,
	};
	struct pub_service s = svc(8001, "192.168.1.10", 80);
	uint8_t buf[PUB_MSG_MAX];
	struct pub_message m;
	int len = pub_write_register(buf, sizeof(buf), "cpe1", &s, 1, nonce, key);

	/* header, Register TLV (4 + 32 + 20), Auth TLV (4 + 32) */
	assert_int_equal(len, 4 + 56 + 36);
	assert_int_equal(buf[1], len / 4);
	assert_int_equal(buf[4], PUB_TLV_REGISTER);
	assert_int_equal(buf[5], 14);
	assert_int_equal(buf[60], PUB_TLV_AUTH);
	assert_int_equal(buf[61], 9);
	assert_memory_equal(buf + 64, mac, PUB_MAC_LEN);
	assert_int_equal(pub_parse(buf, (size_t)len, &m), len);
	assert_int_equal(m.kind, PUB_REGISTER);
	assert_string_equal(m.name, "cpe1");
	assert_int_equal(m.services_len, 1);
	assert_int_equal(m.services[0].public_port, 8001);
	assert_int_equal(m.services[0].lan_port, 80);
	assert_memory_equal(m.services[0].lan_addr, s.lan_addr, 16);
	assert_true(pub_register_verify(&m, nonce, key));
}

static void register_mac_binds_nonce_key_and_content(void **state)
{
	struct pub_service s[2] = { svc(8001, "192.168.1.10", 80), svc(8002, "fd00:1::10", 22) };
	uint8_t buf[PUB_MSG_MAX], other[PUB_NONCE_LEN], wrong[PUB_KEY_LEN];
	struct pub_message m;
	int len = pub_write_register(buf, sizeof(buf), "home-1", s, 2, nonce, key);

	assert_true(len > 0);
	memcpy(other, nonce, sizeof(other));
	other[0] ^= 1;
	memcpy(wrong, key, sizeof(wrong));
	wrong[31] ^= 0x80;
	assert_int_equal(pub_parse(buf, (size_t)len, &m), len);
	assert_true(pub_register_verify(&m, nonce, key));
	assert_false(pub_register_verify(&m, other, key));   /* replayed on another connection */
	assert_false(pub_register_verify(&m, nonce, wrong)); /* another CPE's key */
	/* one bit of a service flipped: still well-formed, no longer authentic */
	buf[4 + 4 + 32 + 20 + 1] ^= 1; /* second service's public port */
	assert_int_equal(pub_parse(buf, (size_t)len, &m), len);
	assert_int_equal(m.services[1].public_port, 8003);
	assert_false(pub_register_verify(&m, nonce, key));
}

static void register_writer_refuses_bad_values(void **state)
{
	struct pub_service s[PUB_MAX_SERVICES + 1];
	uint8_t buf[PUB_MSG_MAX];

	for (unsigned i = 0; i <= PUB_MAX_SERVICES; i++)
		s[i] = svc((uint16_t)(9000 + i), "192.168.1.10", 80);
	assert_int_equal(pub_write_register(buf, sizeof(buf), "", s, 1, nonce, key), -EINVAL);
	assert_int_equal(pub_write_register(buf, sizeof(buf), "a b", s, 1, nonce, key), -EINVAL);
	assert_int_equal(pub_write_register(buf, sizeof(buf), "x", s, 0, nonce, key), -EINVAL);
	assert_int_equal(
		pub_write_register(buf, sizeof(buf), "x", s, PUB_MAX_SERVICES + 1, nonce, key),
		-EINVAL);
	assert_true(pub_write_register(buf, sizeof(buf), "x", s, PUB_MAX_SERVICES, nonce, key) > 0);
	assert_int_equal(pub_write_register(buf, 60, "x", s, 1, nonce, key), -EMSGSIZE);
	s[0].lan_port = 0;
	assert_int_equal(pub_write_register(buf, sizeof(buf), "x", s, 1, nonce, key), -EINVAL);
}

static void accept_and_error_round_trip(void **state)
{
	static const uint8_t golden[] = { 0x01, 0x03, 0x22, 0x63, 0xc3, 0x02,
					  0x03, 0x00, 0x00, 0x01, 0x02, 0x00 };
	const uint8_t status[] = { PUB_STATUS_LISTENING, PUB_STATUS_TAKEN, PUB_STATUS_NOT_ALLOWED };
	uint8_t buf[64];
	struct pub_message m;
	int len = pub_write_accept(buf, sizeof(buf), status, 3);

	assert_int_equal(len, sizeof(golden));
	assert_memory_equal(buf, golden, sizeof(golden));
	assert_int_equal(pub_parse(buf, (size_t)len, &m), len);
	assert_int_equal(m.kind, PUB_ACCEPT);
	assert_int_equal(m.status_len, 3);
	assert_memory_equal(m.status, status, 3);
	len = pub_write_error(buf, sizeof(buf), 32);
	assert_int_equal(len, 8);
	assert_int_equal(pub_parse(buf, 8, &m), 8);
	assert_int_equal(m.kind, PUB_ERROR);
	assert_int_equal(m.error, 32);
	assert_string_equal(pub_status_name(PUB_STATUS_TAKEN), "taken by another CPE");
	assert_string_equal(pub_status_name(200), "unknown");
}

static void open_is_an_rfc8803_connect_plus_the_client(void **state)
{
	uint8_t dest[16], client[16], buf[64];
	struct pub_message m;
	int len;

	assert_true(addr_parse_ip("192.168.1.10", dest));
	assert_true(addr_parse_ip("2001:db8::5", client));
	len = pub_write_open(buf, sizeof(buf), dest, 443, client, 40000);
	assert_int_equal(len, 44);
	/* the Connect TLV exactly as RFC 8803 lays it out: type 10, 5 words, port, address */
	assert_int_equal(buf[4], 10);
	assert_int_equal(buf[5], 5);
	assert_int_equal(buf[6] << 8 | buf[7], 443);
	assert_memory_equal(buf + 8, dest, 16);
	assert_int_equal(buf[24], PUB_TLV_CLIENT);
	assert_int_equal(pub_parse(buf, (size_t)len, &m), len);
	assert_int_equal(m.kind, PUB_OPEN);
	assert_int_equal(m.dest_port, 443);
	assert_memory_equal(m.dest_addr, dest, 16);
	assert_true(m.has_client);
	assert_int_equal(m.client_port, 40000);
	assert_memory_equal(m.client_addr, client, 16);
	/* the client's bytes after the message are not the codec's */
	memcpy(buf + len, "GET /", 5);
	assert_int_equal(pub_parse(buf, (size_t)len + 5, &m), len);
	assert_int_equal(pub_write_open(buf, sizeof(buf), dest, 0, client, 1), -EINVAL);
}

static void partial_messages_ask_for_more(void **state)
{
	uint8_t buf[64];
	struct pub_message m;
	int len = pub_write_challenge(buf, sizeof(buf), nonce);

	for (int i = 0; i < len; i++)
		assert_int_equal(pub_parse(buf, (size_t)i, &m), -EAGAIN);
}

static void malformed_messages_are_refused(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[44];
		size_t len;
	} bad[] = {
		{ "version 2", { 0x02, 0x02, 0x22, 0x63, 0x1e, 0x01, 0x20, 0x00 }, 8 },
		{ "no magic", { 0x01, 0x02, 0x00, 0x00, 0x1e, 0x01, 0x20, 0x00 }, 8 },
		{ "header only", { 0x01, 0x01, 0x22, 0x63 }, 4 },
		{ "total length 0", { 0x01, 0x00, 0x22, 0x63 }, 4 },
		{ "TLV length 0", { 0x01, 0x02, 0x22, 0x63, 0x1e, 0x00, 0x20, 0x00 }, 8 },
		{ "TLV past the message", { 0x01, 0x02, 0x22, 0x63, 0x1e, 0x02, 0x20, 0x00 }, 8 },
		{ "unknown type", { 0x01, 0x02, 0x22, 0x63, 0xc9, 0x01, 0x00, 0x00 }, 8 },
		{ "RFC 8803 Info", { 0x01, 0x02, 0x22, 0x63, 0x01, 0x01, 0x00, 0x00 }, 8 },
		{ "duplicate Error",
		  { 0x01, 0x03, 0x22, 0x63, 0x1e, 0x01, 0x20, 0x00, 0x1e, 0x01, 0x20, 0x00 },
		  12 },
		{ "challenge too short",
		  { 0x01, 0x03, 0x22, 0x63, 0xc0, 0x02, 0x00, 0x00, 1, 2, 3, 4 },
		  12 },
		{ "accept of 0 services",
		  { 0x01, 0x03, 0x22, 0x63, 0xc3, 0x02, 0x00, 0x00, 0, 0, 0, 0 },
		  12 },
		{ "accept status out of range",
		  { 0x01, 0x03, 0x22, 0x63, 0xc3, 0x02, 0x01, 0x00, 9, 0, 0, 0 },
		  12 },
		{ "accept padding not zero",
		  { 0x01, 0x03, 0x22, 0x63, 0xc3, 0x02, 0x01, 0x00, 0, 7, 0, 0 },
		  12 },
		{ "client TLV without Connect",
		  { 0x01, 0x06, 0x22, 0x63, 0xc4, 0x05, 0x00, 0x50 },
		  24 },
		{ "client TLV before the Connect (one order per message)",
		  { 0x01, 0x0b, 0x22, 0x63, 0xc4, 0x05, 0x00, 0x50, [24] = 0x0a, 0x05, 0x01, 0xbb },
		  44 },
		{ "Connect with port 0", { 0x01, 0x06, 0x22, 0x63, 0x0a, 0x05, 0x00, 0x00 }, 24 },
		{ "Connect with options", { 0x01, 0x07, 0x22, 0x63, 0x0a, 0x06, 0x00, 0x50 }, 28 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pub_message m;
		int ret = pub_parse(bad[i].bytes, bad[i].len, &m);

		if (ret != -EBADMSG)
			fail_msg("%s: got %d", bad[i].what, ret);
	}
}

static void register_without_auth_or_with_bad_name_is_refused(void **state)
{
	struct pub_service s = svc(8001, "192.168.1.10", 80);
	uint8_t buf[PUB_MSG_MAX], cut[PUB_MSG_MAX];
	struct pub_message m;
	int len = pub_write_register(buf, sizeof(buf), "cpe1", &s, 1, nonce, key);

	/* the Register TLV alone (the Auth TLV cut off, the header shortened) */
	memcpy(cut, buf, (size_t)len - 36);
	cut[1] = (uint8_t)((len - 36) / 4);
	assert_int_equal(pub_parse(cut, (size_t)len - 36, &m), -EBADMSG);
	/* a byte hidden after the name's NUL */
	memcpy(cut, buf, (size_t)len);
	cut[8 + 30] = 'x';
	assert_int_equal(pub_parse(cut, (size_t)len, &m), -EBADMSG);
	/* a name byte outside the alphabet */
	memcpy(cut, buf, (size_t)len);
	cut[8] = '/';
	assert_int_equal(pub_parse(cut, (size_t)len, &m), -EBADMSG);
	/* a service with public port 0 */
	memcpy(cut, buf, (size_t)len);
	cut[40] = cut[41] = 0;
	assert_int_equal(pub_parse(cut, (size_t)len, &m), -EBADMSG);
	/* the MAC is not valid for a message parsed as something else */
	m.kind = PUB_CHALLENGE;
	assert_false(pub_register_verify(&m, nonce, key));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(challenge_has_its_golden_bytes_and_round_trips),
		cmocka_unit_test(register_matches_the_reference_mac),
		cmocka_unit_test(register_mac_binds_nonce_key_and_content),
		cmocka_unit_test(register_writer_refuses_bad_values),
		cmocka_unit_test(accept_and_error_round_trip),
		cmocka_unit_test(open_is_an_rfc8803_connect_plus_the_client),
		cmocka_unit_test(partial_messages_ask_for_more),
		cmocka_unit_test(malformed_messages_are_refused),
		cmocka_unit_test(register_without_auth_or_with_bad_name_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
