// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * destination: the converter's one destination policy. One table drives every address class,
 * every embedded-IPv4 form, the host's own addresses and the deny list through the decision and
 * through each entrance's answer (Convert Error TLV, SOCKS reply, on-path reset), so the
 * entrances cannot disagree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "acl.h"
#include "addr.h"
#include "destination.h"

#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void ip_of(const char *text, uint8_t ip[16])
{
	if (!addr_parse_ip(text, ip))
		fail_msg("bad test address '%s'", text);
}

/* The host of these tests owns 198.51.100.7 and 2001:db8:7::1. */
static bool fake_is_own(void *arg, const uint8_t ip[16])
{
	static const char *const own[] = { "198.51.100.7", "2001:db8:7::1" };

	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
		uint8_t o[16];

		ip_of(own[i], o);
		if (!memcmp(o, ip, 16))
			return true;
	}
	return false;
}

static void policy_of(struct dest_policy *policy, struct acl *deny)
{
	static const char *const denied[] = { "10.0.0.0/8", "2001:db8:dead::/48" };

	*deny = (struct acl){ 0 };
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		struct acl_prefix p;

		assert_true(acl_parse_prefix(denied[i], &p));
		assert_int_equal(acl_add(deny, &p), 0);
	}
	*policy = (struct dest_policy){ .deny = deny, .is_own = fake_is_own };
}

#define MAL CONV_ERR_MALFORMED_MESSAGE
#define NA  CONV_ERR_NOT_AUTHORIZED

static const struct vector {
	const char *addr;
	uint16_t port;
	enum dest_verdict verdict;
	const char *reason;	  /* dest_reason */
	enum conv_error_code conv; /* the Convert entrance's Error TLV (when refused) */
} vectors[] = {
	{ "192.0.2.1", 443, DEST_ALLOWED, "allowed", 0 },
	{ "2001:db8::1", 443, DEST_ALLOWED, "allowed", 0 },
	{ "64:ff9b::c000:201", 443, DEST_ALLOWED, "allowed", 0 }, /* NAT64 of 192.0.2.1 */
	{ "192.0.2.1", 0, DEST_PORT_ZERO, "port-zero", MAL },
	{ "0.0.0.0", 80, DEST_SPECIAL, "unspecified", MAL },
	{ "::", 80, DEST_SPECIAL, "unspecified", MAL },
	{ "0.1.2.3", 80, DEST_SPECIAL, "this-network", MAL },
	{ "127.0.0.1", 80, DEST_SPECIAL, "loopback", MAL },
	{ "127.0.0.2", 1080, DEST_SPECIAL, "loopback", MAL },
	{ "127.1.2.3", 80, DEST_SPECIAL, "loopback", MAL },
	{ "127.255.255.254", 80, DEST_SPECIAL, "loopback", MAL },
	{ "::1", 80, DEST_SPECIAL, "loopback", MAL },
	{ "::ffff:127.0.0.2", 7777, DEST_SPECIAL, "loopback", MAL },
	{ "::127.0.0.1", 80, DEST_SPECIAL, "loopback", MAL },
	{ "64:ff9b::7f00:1", 80, DEST_SPECIAL, "loopback", MAL },
	{ "2002:7f00:1::", 80, DEST_SPECIAL, "loopback", MAL },
	{ "::ffff:0:7f00:1", 80, DEST_SPECIAL, "loopback", MAL },
	{ "2001:0:c000:201::80ff:fffe", 80, DEST_SPECIAL, "loopback", MAL }, /* Teredo client */
	{ "169.254.1.1", 80, DEST_SPECIAL, "link-local", NA },
	{ "fe80::1", 80, DEST_SPECIAL, "link-local", NA },
	{ "224.0.0.251", 80, DEST_SPECIAL, "multicast", MAL },
	{ "ff02::1", 80, DEST_SPECIAL, "multicast", MAL },
	{ "255.255.255.255", 80, DEST_SPECIAL, "broadcast", MAL },
	{ "240.0.0.1", 80, DEST_SPECIAL, "reserved", NA },
	{ "198.51.100.7", 80, DEST_OWN_ADDRESS, "own-address", NA },
	{ "2001:db8:7::1", 80, DEST_OWN_ADDRESS, "own-address", NA },
	{ "64:ff9b::c633:6407", 80, DEST_OWN_ADDRESS, "own-address", NA }, /* NAT64 of own */
	{ "2002:c633:6407::1", 80, DEST_OWN_ADDRESS, "own-address", NA },  /* 6to4 of own */
	{ "10.1.2.3", 80, DEST_DENIED, "denied-destination", NA },
	{ "::ffff:0:a01:203", 80, DEST_DENIED, "denied-destination", NA }, /* SIIT of 10.1.2.3 */
	{ "2001:db8:dead::5", 80, DEST_DENIED, "denied-destination", NA },
};

static void every_class_gets_the_same_verdict_at_every_entrance(void **state)
{
	struct dest_policy policy;
	struct acl deny;

	policy_of(&policy, &deny);
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];
		uint8_t ip[16];
		struct dest_judgement j;

		ip_of(v->addr, ip);
		j = dest_judge(&policy, ip, v->port);
		if (j.verdict != v->verdict || strcmp(dest_reason(j), v->reason))
			fail_msg("%s port %u: %s, expected %s", v->addr, v->port, dest_reason(j),
				 v->reason);
		/* SOCKS: one refusal code; on-path: refused means reset, so only the verdict. */
		assert_int_equal(dest_socks_reply(j),
				 v->verdict == DEST_ALLOWED ? SOCKS_OK : SOCKS_NOT_ALLOWED);
		if (v->verdict != DEST_ALLOWED && dest_convert_error(j) != v->conv)
			fail_msg("%s: Convert error %d, expected %d", v->addr,
				 dest_convert_error(j), v->conv);
		assert_non_null(dest_explain(j));
	}
	acl_free(&deny);
}

static void without_own_or_deny_lists_only_the_table_refuses(void **state)
{
	struct dest_policy bare = { 0 };
	uint8_t ip[16];

	ip_of("10.1.2.3", ip);
	assert_int_equal(dest_judge(&bare, ip, 80).verdict, DEST_ALLOWED);
	ip_of("198.51.100.7", ip);
	assert_int_equal(dest_judge(&bare, ip, 80).verdict, DEST_ALLOWED);
	ip_of("127.0.0.1", ip);
	assert_int_equal(dest_judge(&bare, ip, 80).verdict, DEST_SPECIAL);
}

static void port_zero_is_judged_before_the_address(void **state)
{
	struct dest_policy bare = { 0 };
	uint8_t ip[16];

	ip_of("127.0.0.1", ip);
	assert_int_equal(dest_judge(&bare, ip, 0).verdict, DEST_PORT_ZERO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_class_gets_the_same_verdict_at_every_entrance),
		cmocka_unit_test(without_own_or_deny_lists_only_the_table_refuses),
		cmocka_unit_test(port_zero_is_judged_before_the_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
