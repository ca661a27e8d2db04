// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpe: the credential's wire layout against an independently computed vector (Python's hmac
 * module), its binding to the Connect and the clock, tampering, the Cookie TLV round trip, and
 * the table parser (comments, duplicates, bad keys and ids fail the whole table).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr.h"
#include "convert.h"
#include "cpe.h"

#include <errno.h>
#include <string.h>

#define KEY_HEX "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define NOW	(60ULL * 1000 + 5)

static void key_of(uint8_t key[CPE_KEY_LEN])
{
	assert_true(cpe_key_parse(KEY_HEX, strlen(KEY_HEX), key));
}

static void ip_of(const char *text, uint8_t ip[16])
{
	assert_true(addr_parse_ip(text, ip));
}

/*
 * python3: key = bytes(range(1, 33)); id = b'cpe-1'; epoch = (1000).to_bytes(4, 'big')
 *   addr = IPv6Address('::ffff:198.51.100.7').packed; port = (443).to_bytes(2, 'big')
 *   mac = hmac.new(key, b'mpconv-cpe1' + bytes([5]) + id + epoch + addr + port, sha256)
 *   bytes([1, 5]) + id + epoch + mac.digest()[:16]
 */
static void credential_matches_the_reference_vector(void **state)
{
	static const uint8_t expected[] = {
		0x01, 0x05, 0x63, 0x70, 0x65, 0x2d, 0x31, 0x00, 0x00, 0x03, 0xe8, 0xc7, 0x34, 0x90,
		0x01, 0x33, 0xa6, 0x3a, 0x95, 0x1f, 0x1c, 0x29, 0xdb, 0x1d, 0xd4, 0xee, 0x82,
	};
	uint8_t key[CPE_KEY_LEN], ip[16], out[CPE_CRED_MAX];

	key_of(key);
	ip_of("198.51.100.7", ip);
	assert_int_equal(cpe_cred_make("cpe-1", key, ip, 443, NOW, out, sizeof(out)),
			 sizeof(expected));
	assert_memory_equal(out, expected, sizeof(expected));
}

static void credential_binds_destination_port_and_time(void **state)
{
	uint8_t key[CPE_KEY_LEN], ip[16], other[16], out[CPE_CRED_MAX];
	struct cpe_cred cred;
	int len;

	key_of(key);
	ip_of("198.51.100.7", ip);
	ip_of("198.51.100.8", other);
	len = cpe_cred_make("cpe-1", key, ip, 443, NOW, out, sizeof(out));
	assert_true(len > 0);
	assert_int_equal(cpe_cred_parse(out, (size_t)len, &cred), 0);
	assert_int_equal(cred.id_len, 5);
	assert_memory_equal(cred.id, "cpe-1", 5);
	assert_true(cpe_cred_verify(&cred, key, ip, 443, NOW));
	assert_false(cpe_cred_verify(&cred, key, other, 443, NOW));
	assert_false(cpe_cred_verify(&cred, key, ip, 444, NOW));
	/* clock skew: two epochs either way, not three */
	assert_true(cpe_cred_verify(&cred, key, ip, 443, NOW + 2 * CPE_EPOCH_SECONDS));
	assert_true(cpe_cred_verify(&cred, key, ip, 443, NOW - 2 * CPE_EPOCH_SECONDS));
	assert_false(cpe_cred_verify(&cred, key, ip, 443, NOW + 3 * CPE_EPOCH_SECONDS));
	assert_false(cpe_cred_verify(&cred, key, ip, 443, NOW - 3 * CPE_EPOCH_SECONDS));
	key[0] ^= 1;
	assert_false(cpe_cred_verify(&cred, key, ip, 443, NOW));
}

static void tampered_or_malformed_credentials_are_rejected(void **state)
{
	uint8_t key[CPE_KEY_LEN], ip[16], out[CPE_CRED_MAX + 4] = { 0 };
	struct cpe_cred cred;
	int len;

	key_of(key);
	ip_of("2001:db8::1", ip);
	len = cpe_cred_make("cpe-1", key, ip, 80, NOW, out, sizeof(out));
	for (int i = 2; i < len; i++) { /* every byte after the length matters */
		out[i] ^= 0x20;
		assert_false(cpe_cred_parse(out, (size_t)len, &cred) == 0 &&
			     cpe_cred_verify(&cred, key, ip, 80, NOW));
		out[i] ^= 0x20;
	}
	assert_int_equal(cpe_cred_parse(out, (size_t)len + 3, &cred), 0); /* TLV padding */
	assert_int_equal(cpe_cred_parse(out, (size_t)len + 4, &cred), -EBADMSG);
	out[len] = 1;
	assert_int_equal(cpe_cred_parse(out, (size_t)len + 1, &cred), -EBADMSG);
	assert_int_equal(cpe_cred_parse(out, (size_t)len - 1, &cred), -EBADMSG);
	assert_int_equal(cpe_cred_parse(out, 0, &cred), -EBADMSG);
	out[0] = 2; /* unknown format */
	assert_int_equal(cpe_cred_parse(out, (size_t)len, &cred), -EBADMSG);
	out[0] = 1;
	out[1] = 0; /* empty id */
	assert_int_equal(cpe_cred_parse(out, (size_t)len, &cred), -EBADMSG);
	assert_int_equal(cpe_cred_make("bad id", key, ip, 80, NOW, out, sizeof(out)), -EINVAL);
	assert_int_equal(cpe_cred_make("cpe-1", key, ip, 80, NOW, out, 10), -EMSGSIZE);
}

/* The gateway's request (Connect + credential) parses at the converter, credential intact. */
static void credential_survives_the_cookie_tlv(void **state)
{
	uint8_t key[CPE_KEY_LEN], ip[16], buf[128];
	struct conv_writer w;
	struct conv_message msg;
	struct conv_parse_error perr;
	struct cpe_cred cred;
	int len;

	key_of(key);
	ip_of("198.51.100.7", ip);
	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_connect(&w, 443, ip, NULL, 0);
	assert_int_equal(cpe_put_credential(&w, "household-42.example", key, ip, 443, NOW), 0);
	len = conv_writer_finish(&w);
	assert_true(len > 0 && len <= 128);
	assert_int_equal(conv_parse(buf, (size_t)len, CONV_MAX_LEN, CONV_FROM_CLIENT, 0, &msg,
				    &perr),
			 len);
	assert_true(msg.has_cookie && msg.has_connect);
	assert_int_equal(cpe_cred_parse(msg.cookie, msg.cookie_len, &cred), 0);
	assert_true(cpe_cred_verify(&cred, key, msg.connect.addr, msg.connect.port, NOW));
}

static void table_parses_lines_comments_and_finds_ids(void **state)
{
	static const char text[] = "# CPEs of the test\n"
				   "\n"
				   "  cpe-2\t" KEY_HEX "   # lte+dsl\r\n"
				   "cpe-1 " KEY_HEX "\n"
				   "zz " KEY_HEX;
	struct cpe_table t;
	char err[128];
	uint8_t key[CPE_KEY_LEN], a[16], b[16];

	key_of(key);
	assert_int_equal(cpe_table_parse(text, strlen(text), &t, err, sizeof(err)), 0);
	assert_int_equal(t.len, 3);
	assert_non_null(cpe_table_find(&t, "cpe-1", 5));
	assert_memory_equal(cpe_table_find(&t, "cpe-2", 5)->key, key, CPE_KEY_LEN);
	assert_non_null(cpe_table_find(&t, "zz", 2));
	assert_null(cpe_table_find(&t, "cpe-3", 5));
	assert_null(cpe_table_find(&t, "cpe-", 4));
	assert_null(cpe_table_find(NULL, "cpe-1", 5));
	cpe_table_free(&t);
	assert_int_equal(cpe_table_parse("", 0, &t, err, sizeof(err)), 0);
	assert_int_equal(t.len, 0);
	assert_null(cpe_table_find(&t, "cpe-1", 5));
	cpe_table_free(&t);
	/* limit keys: distinct per CPE, never an address a client could have */
	cpe_limit_key("cpe-1", 5, a);
	cpe_limit_key("cpe-2", 5, b);
	assert_memory_not_equal(a, b, 16);
	assert_int_equal(a[0], 0xff);
}

static void bad_tables_fail_whole_and_name_the_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "cpe-1 " KEY_HEX "\ncpe-1 " KEY_HEX "\n", "listed twice" },
		{ "cpe-1 " KEY_HEX "\ncpe-2 0102\n", "line 2: CPE cpe-2" },
		{ "cpe-1\n", "line 1: CPE cpe-1" },
		{ "cpe-1 " KEY_HEX " extra\n", "line 1" },
		{ "bad/id " KEY_HEX "\n", "line 1: not a CPE id" },
		{ "cpe-1 0000000000000000000000000000000000000000000000000000000000000000\n",
		  "not all zero" },
		{ "abcdefghijabcdefghijabcdefghijabc " KEY_HEX "\n", "not a CPE id" },
	};
	struct cpe_table t = { .entries = NULL };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[128] = "";

		assert_int_equal(cpe_table_parse(cases[i].text, strlen(cases[i].text), &t, err,
						 sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, cases[i].want));
		assert_null(strstr(err, "0102030405")); /* keys never quoted */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(credential_matches_the_reference_vector),
		cmocka_unit_test(credential_binds_destination_port_and_time),
		cmocka_unit_test(tampered_or_malformed_credentials_are_rejected),
		cmocka_unit_test(credential_survives_the_cookie_tlv),
		cmocka_unit_test(table_parses_lines_comments_and_finds_ids),
		cmocka_unit_test(bad_tables_fail_whole_and_name_the_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
