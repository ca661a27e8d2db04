// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cookie: the wire layout against an independently computed vector (Python's hmac module), the
 * validity window (its epoch and the next), binding to the client address, and tampering.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr.h"
#include "cookie.h"

#include <errno.h>
#include <string.h>

#define HOUR 3600

static void test_secret(struct cookie_secret *secret, uint32_t rotate_seconds)
{
	for (unsigned i = 0; i < COOKIE_SECRET_LEN; i++)
		secret->key[i] = (uint8_t)i;
	secret->rotate_seconds = rotate_seconds;
}

static void ip_of(const char *text, uint8_t ip[16])
{
	assert_true(addr_parse_ip(text, ip));
}

/*
 * python3: key = bytes(range(32)); epoch = (1000).to_bytes(4, 'big');
 *   ip = IPv6Address('::ffff:192.0.2.1').packed
 *   epoch + hmac.new(key, epoch + ip, sha256).digest()[:16]
 */
static void cookie_matches_the_reference_vector(void **state)
{
	static const uint8_t expected[COOKIE_LEN] = {
		0x00, 0x00, 0x03, 0xe8, 0x34, 0x34, 0x92, 0x29, 0x33, 0x47,
		0x5d, 0xc5, 0x41, 0xfc, 0x11, 0x90, 0x12, 0x66, 0x42, 0x1b,
	};
	struct cookie_secret secret;
	uint8_t ip[16], cookie[COOKIE_LEN];

	test_secret(&secret, HOUR);
	ip_of("192.0.2.1", ip);
	cookie_make(&secret, ip, 1000ULL * HOUR + 1234, cookie);
	assert_memory_equal(cookie, expected, COOKIE_LEN);
}

static void cookie_is_valid_in_its_epoch_and_the_next_only(void **state)
{
	static const struct {
		int64_t offset; /* seconds from the start of the issuing epoch */
		bool valid;
	} vectors[] = {
		{ -1, false }, /* the epoch before: a cookie from the future */
		{ 0, true },
		{ HOUR - 1, true },
		{ HOUR, true }, /* the next epoch */
		{ 2 * HOUR - 1, true },
		{ 2 * HOUR, false }, /* two epochs later */
		{ 3 * HOUR, false },
		{ 100 * HOUR, false },
	};
	const uint64_t issued = 5000ULL * HOUR;
	struct cookie_secret secret;
	uint8_t ip[16], cookie[COOKIE_LEN];

	test_secret(&secret, HOUR);
	ip_of("2001:db8::7", ip);
	/* Issued at the very end of its epoch: the window still lasts one full period after. */
	cookie_make(&secret, ip, issued + HOUR - 1, cookie);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint64_t now = (uint64_t)((int64_t)issued + vectors[i].offset);

		if (cookie_check(&secret, ip, now, cookie, COOKIE_LEN) != vectors[i].valid)
			fail_msg("offset %lld: expected valid=%d", (long long)vectors[i].offset,
				 vectors[i].valid);
	}
}

static void cookie_is_invalid_for_another_address(void **state)
{
	static const char *const others[] = {
		"192.0.2.2", "192.0.3.1", "::ffff:192.0.2.2", "::192.0.2.1", "2001:db8::1",
	};
	struct cookie_secret secret;
	uint8_t ip[16], other[16], cookie[COOKIE_LEN];

	test_secret(&secret, HOUR);
	ip_of("192.0.2.1", ip);
	cookie_make(&secret, ip, 42 * HOUR, cookie);
	assert_true(cookie_check(&secret, ip, 42 * HOUR, cookie, COOKIE_LEN));
	/* The same address spelt as IPv4-mapped IPv6 is the same 16 bytes, so it stays valid. */
	ip_of("::ffff:192.0.2.1", other);
	assert_true(cookie_check(&secret, other, 42 * HOUR, cookie, COOKIE_LEN));
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		ip_of(others[i], other);
		if (cookie_check(&secret, other, 42 * HOUR, cookie, COOKIE_LEN))
			fail_msg("valid for %s", others[i]);
	}
}

static void cookie_of_the_wrong_length_is_invalid(void **state)
{
	struct cookie_secret secret;
	uint8_t ip[16], cookie[COOKIE_LEN + 1] = { 0 };

	test_secret(&secret, HOUR);
	ip_of("192.0.2.1", ip);
	cookie_make(&secret, ip, 7 * HOUR, cookie);
	assert_true(cookie_check(&secret, ip, 7 * HOUR, cookie, COOKIE_LEN));
	assert_false(cookie_check(&secret, ip, 7 * HOUR, cookie, 0));
	assert_false(cookie_check(&secret, ip, 7 * HOUR, cookie, 4));
	assert_false(cookie_check(&secret, ip, 7 * HOUR, cookie, COOKIE_LEN - 1));
	assert_false(cookie_check(&secret, ip, 7 * HOUR, cookie, COOKIE_LEN + 1));
}

static void any_flipped_bit_makes_the_cookie_invalid(void **state)
{
	struct cookie_secret secret;
	uint8_t ip[16], cookie[COOKIE_LEN];

	test_secret(&secret, HOUR);
	ip_of("198.51.100.9", ip);
	/* Checked in the issuing epoch 11: flipping the lowest epoch bit (11 -> 10) stays inside
	 * the window, so only the MAC can catch it. */
	cookie_make(&secret, ip, 11 * HOUR, cookie);
	for (unsigned bit = 0; bit < 8 * COOKIE_LEN; bit++) {
		cookie[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		if (cookie_check(&secret, ip, 11 * HOUR, cookie, COOKIE_LEN))
			fail_msg("still valid with bit %u flipped", bit);
		cookie[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
	}
	assert_true(cookie_check(&secret, ip, 11 * HOUR, cookie, COOKIE_LEN));
}

static void cookie_is_invalid_under_another_secret(void **state)
{
	struct cookie_secret secret, other;
	uint8_t ip[16], cookie[COOKIE_LEN];

	test_secret(&secret, HOUR);
	test_secret(&other, HOUR);
	other.key[31] ^= 1;
	ip_of("192.0.2.1", ip);
	cookie_make(&secret, ip, 3 * HOUR, cookie);
	assert_false(cookie_check(&other, ip, 3 * HOUR, cookie, COOKIE_LEN));
}

static void cookie_epoch_is_big_endian_time_over_rotation(void **state)
{
	struct cookie_secret secret;
	uint8_t ip[16], cookie[COOKIE_LEN];

	test_secret(&secret, 60);
	ip_of("192.0.2.1", ip);
	cookie_make(&secret, ip, 0x01020304ULL * 60 + 59, cookie);
	assert_int_equal(cookie[0], 0x01);
	assert_int_equal(cookie[1], 0x02);
	assert_int_equal(cookie[2], 0x03);
	assert_int_equal(cookie[3], 0x04);
}

/* With 1 s epochs the 32-bit epoch wraps after 136 years; the window must survive the wrap. */
static void validity_window_survives_epoch_wraparound(void **state)
{
	const uint64_t wrap = 1ULL << 32;
	struct cookie_secret secret;
	uint8_t ip[16], cookie[COOKIE_LEN];

	test_secret(&secret, 1);
	ip_of("2001:db8::1", ip);
	cookie_make(&secret, ip, wrap - 1, cookie);
	assert_true(cookie_check(&secret, ip, wrap - 1, cookie, COOKIE_LEN));
	assert_true(cookie_check(&secret, ip, wrap, cookie, COOKIE_LEN));
	assert_false(cookie_check(&secret, ip, wrap + 1, cookie, COOKIE_LEN));
}

static void random_secrets_differ_and_keep_their_rotation(void **state)
{
	struct cookie_secret a, b;

	assert_int_equal(cookie_secret_random(&a, 600), 0);
	assert_int_equal(cookie_secret_random(&b, 900), 0);
	assert_int_equal(a.rotate_seconds, 600);
	assert_int_equal(b.rotate_seconds, 900);
	assert_memory_not_equal(a.key, b.key, COOKIE_SECRET_LEN);
	assert_int_equal(cookie_secret_random(&a, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cookie_matches_the_reference_vector),
		cmocka_unit_test(cookie_is_valid_in_its_epoch_and_the_next_only),
		cmocka_unit_test(cookie_is_invalid_for_another_address),
		cmocka_unit_test(cookie_of_the_wrong_length_is_invalid),
		cmocka_unit_test(any_flipped_bit_makes_the_cookie_invalid),
		cmocka_unit_test(cookie_is_invalid_under_another_secret),
		cmocka_unit_test(cookie_epoch_is_big_endian_time_over_rotation),
		cmocka_unit_test(validity_window_survives_epoch_wraparound),
		cmocka_unit_test(random_secrets_differ_and_keep_their_rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
