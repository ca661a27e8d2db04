// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * acl: prefix parsing (strict: host bits, lengths, syntax), matching exactly at prefix
 * boundaries for IPv4 and IPv6, and copies that own their memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "acl.h"
#include "addr.h"

#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void acl_of(struct acl *acl, const char *const *prefixes, size_t n)
{
	*acl = (struct acl){ 0 };
	for (size_t i = 0; i < n; i++) {
		struct acl_prefix prefix;

		if (!acl_parse_prefix(prefixes[i], &prefix))
			fail_msg("refused '%s'", prefixes[i]);
		assert_int_equal(acl_add(acl, &prefix), 0);
	}
}

static bool contains(const struct acl *acl, const char *text)
{
	uint8_t ip[16];

	assert_true(addr_parse_ip(text, ip));
	return acl_contains(acl, ip);
}

static void valid_prefixes_parse_into_the_mapped_space(void **state)
{
	static const struct {
		const char *text, *ip;
		unsigned len;
	} vectors[] = {
		{ "10.0.0.0/8", "10.0.0.0", 104 },
		{ "192.0.2.128/25", "192.0.2.128", 121 },
		{ "192.0.2.1", "192.0.2.1", 128 },
		{ "192.0.2.1/32", "192.0.2.1", 128 },
		{ "0.0.0.0/0", "0.0.0.0", 96 },
		{ "10.0.0.0/08", "10.0.0.0", 104 },
		{ "2001:db8::/32", "2001:db8::", 32 },
		{ "2001:db8:8000::/33", "2001:db8:8000::", 33 },
		{ "::/0", "::", 0 },
		{ "::1", "::1", 128 },
		{ "2001:db8::1/128", "2001:db8::1", 128 },
		/* IPv6 syntax counts from the start of the 16 bytes, even for a mapped address. */
		{ "::ffff:10.0.0.0/104", "10.0.0.0", 104 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct acl_prefix prefix;
		uint8_t ip[16];

		if (!acl_parse_prefix(vectors[i].text, &prefix))
			fail_msg("refused '%s'", vectors[i].text);
		assert_true(addr_parse_ip(vectors[i].ip, ip));
		assert_memory_equal(prefix.ip, ip, 16);
		assert_int_equal(prefix.len, vectors[i].len);
	}
}

static void malformed_prefixes_are_refused(void **state)
{
	static const char *const vectors[] = {
		"10.0.0.1/8",	      /* host bits set: almost always a typo */
		"192.0.2.129/25",     /* host bit set at the boundary */
		"2001:db8::1/32",     /* host bits set */
		"2001:db8:8000::/32", /* host bit just past the boundary */
		"::ffff:10.0.0.0/8",  /* IPv6 syntax, so /8 of the 16 bytes: host bits set */
		"10.0.0.0/33",	      /* too long for IPv4 */
		"::/129",	      /* too long for IPv6 */
		"10.0.0.0/",	      /* empty length */
		"/8",		      /* empty address */
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/8/8",
		"10.0.0.0/ 8",
		"10.0.0.0/8 ",
		"10.0.0.0/0008", /* more than three digits */
		"10.0.0.0/8.0",
		"10/8", /* inet_aton short forms are not addresses */
		"10.0.0.300/32",
		"[::1]",
		"[::1]/128",
		"1.2.3.4:80",
		"fe80::/10%eth0",
		"",
		"garbage",
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct acl_prefix prefix;

		if (acl_parse_prefix(vectors[i], &prefix))
			fail_msg("accepted '%s'", vectors[i]);
	}
}

static void matching_is_exact_at_prefix_boundaries(void **state)
{
	static const struct {
		const char *prefix, *ip;
		bool match;
	} vectors[] = {
		{ "10.0.0.0/8", "10.0.0.0", true },
		{ "10.0.0.0/8", "10.255.255.255", true },
		{ "10.0.0.0/8", "9.255.255.255", false },
		{ "10.0.0.0/8", "11.0.0.0", false },
		{ "192.0.2.128/25", "192.0.2.127", false },
		{ "192.0.2.128/25", "192.0.2.128", true },
		{ "192.0.2.128/25", "192.0.2.255", true },
		{ "192.0.2.128/25", "192.0.3.0", false },
		{ "172.16.0.0/12", "172.31.255.255", true },
		{ "172.16.0.0/12", "172.32.0.0", false },
		{ "172.16.0.0/12", "172.15.255.255", false },
		{ "192.0.2.1/32", "192.0.2.1", true },
		{ "192.0.2.1/32", "192.0.2.0", false },
		{ "192.0.2.1/32", "192.0.2.2", false },
		{ "192.0.2.1", "192.0.2.1", true },
		{ "0.0.0.0/0", "0.0.0.0", true },
		{ "0.0.0.0/0", "255.255.255.255", true },
		{ "0.0.0.0/0", "::", false },
		{ "0.0.0.0/0", "::1", false },
		{ "0.0.0.0/0", "2001:db8::1", false },
		/* An IPv4 prefix never matches an IPv6 address with the same leading bytes. */
		{ "10.0.0.0/8", "a00::1", false },
		{ "10.0.0.0/8", "::10.0.0.1", false },
		{ "2001:db8::/32", "2001:db8::", true },
		{ "2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "2001:db8::/32", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:db8::/32", "2001:db9::", false },
		{ "2001:db8:8000::/33", "2001:db8:7fff:ffff::", false },
		{ "2001:db8:8000::/33", "2001:db8:8000::", true },
		{ "2001:db8:8000::/33", "2001:db8:ffff::1", true },
		{ "2001:db8::1/128", "2001:db8::1", true },
		{ "2001:db8::1/128", "2001:db8::", false },
		{ "2001:db8::1/128", "2001:db8::2", false },
		{ "::1", "::1", true },
		{ "::1", "127.0.0.1", false },
		{ "fe80::/10", "febf::1", true },
		{ "fe80::/10", "fec0::1", false },
		/* ::/0 is every address, IPv4 clients (mapped) included. */
		{ "::/0", "2001:db8::1", true },
		{ "::/0", "192.0.2.1", true },
		{ "::ffff:0:0/96", "192.0.2.1", true },
		{ "::ffff:0:0/96", "::1", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct acl acl;

		acl_of(&acl, &vectors[i].prefix, 1);
		if (contains(&acl, vectors[i].ip) != vectors[i].match)
			fail_msg("%s in %s: expected %d", vectors[i].ip, vectors[i].prefix,
				 vectors[i].match);
		acl_free(&acl);
	}
}

static void empty_acl_contains_nothing(void **state)
{
	struct acl acl = { 0 };

	assert_false(contains(&acl, "192.0.2.1"));
	assert_false(contains(&acl, "::"));
	acl_free(&acl);
}

static void mixed_acl_matches_any_of_its_prefixes(void **state)
{
	static const char *const prefixes[] = { "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" };
	struct acl acl;

	acl_of(&acl, prefixes, ARRAY_SIZE(prefixes));
	assert_true(contains(&acl, "10.1.2.3"));
	assert_true(contains(&acl, "2001:db8::42"));
	assert_true(contains(&acl, "192.0.2.7"));
	assert_false(contains(&acl, "192.0.2.8"));
	assert_false(contains(&acl, "2001:db9::"));
	acl_free(&acl);
}

static void acl_grows_past_its_first_allocation(void **state)
{
	struct acl acl = { 0 };

	for (unsigned i = 0; i < 300; i++) {
		struct acl_prefix prefix;
		char text[32];

		snprintf(text, sizeof(text), "10.%u.%u.0/24", i / 256, i % 256);
		assert_true(acl_parse_prefix(text, &prefix));
		assert_int_equal(acl_add(&acl, &prefix), 0);
	}
	assert_int_equal(acl.len, 300);
	assert_true(contains(&acl, "10.0.0.1"));
	assert_true(contains(&acl, "10.1.43.255"));
	assert_false(contains(&acl, "10.1.44.0"));
	acl_free(&acl);
}

static void copy_is_deep_and_outlives_its_source(void **state)
{
	static const char *const prefixes[] = { "10.0.0.0/8", "2001:db8::/32" };
	struct acl src, dst, empty = { 0 }, empty_copy;

	acl_of(&src, prefixes, ARRAY_SIZE(prefixes));
	assert_int_equal(acl_copy(&dst, &src), 0);
	assert_ptr_not_equal(dst.prefixes, src.prefixes);
	acl_free(&src);
	assert_true(contains(&dst, "10.9.9.9"));
	assert_true(contains(&dst, "2001:db8::1"));
	assert_false(contains(&dst, "192.0.2.1"));
	acl_free(&dst);

	assert_int_equal(acl_copy(&empty_copy, &empty), 0);
	assert_int_equal(empty_copy.len, 0);
	assert_false(contains(&empty_copy, "10.0.0.1"));
	acl_free(&empty_copy);
}

static void free_leaves_an_empty_reusable_set(void **state)
{
	static const char *const prefixes[] = { "10.0.0.0/8" };
	struct acl acl;

	acl_of(&acl, prefixes, 1);
	acl_free(&acl);
	assert_null(acl.prefixes);
	assert_int_equal(acl.len, 0);
	assert_false(contains(&acl, "10.0.0.1"));
	acl_free(&acl); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_prefixes_parse_into_the_mapped_space),
		cmocka_unit_test(malformed_prefixes_are_refused),
		cmocka_unit_test(matching_is_exact_at_prefix_boundaries),
		cmocka_unit_test(empty_acl_contains_nothing),
		cmocka_unit_test(mixed_acl_matches_any_of_its_prefixes),
		cmocka_unit_test(acl_grows_past_its_first_allocation),
		cmocka_unit_test(copy_is_deep_and_outlives_its_source),
		cmocka_unit_test(free_leaves_an_empty_reusable_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
