// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * addr: text round trips, every malformed spelling we could think of, sockaddr conversions and
 * the special-address classes the destination filter relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void ip_of(const char *text, uint8_t ip[16])
{
	assert_true(addr_parse_ip(text, ip));
}

static void parse_then_format_gives_the_canonical_text(void **state)
{
	static const struct {
		const char *text;
		int default_port;
		const char *formatted;
	} vectors[] = {
		{ "192.0.2.1:5124", -1, "192.0.2.1:5124" },
		{ "0.0.0.0:1", -1, "0.0.0.0:1" },
		{ "255.255.255.255:65535", -1, "255.255.255.255:65535" },
		{ "[2001:db8::1]:80", -1, "[2001:db8::1]:80" },
		{ "[::]:5124", -1, "[::]:5124" },
		{ "[::1]:65535", -1, "[::1]:65535" },
		{ "[2001:DB8::A]:80", -1, "[2001:db8::a]:80" },
		{ "[2001:0db8:0000:0000:0000:0000:0000:0001]:80", -1, "[2001:db8::1]:80" },
		/* IPv4-mapped text is the same address as the dotted quad. */
		{ "[::ffff:192.0.2.1]:80", -1, "192.0.2.1:80" },
		{ "192.0.2.1:00080", -1, "192.0.2.1:80" },
		/* With a default port, the port is optional. */
		{ "192.0.2.1", 5124, "192.0.2.1:5124" },
		{ "2001:db8::1", 5124, "[2001:db8::1]:5124" },
		{ "[::1]", 5124, "[::1]:5124" },
		{ "::ffff:10.0.0.1", 5124, "10.0.0.1:5124" },
		{ "192.0.2.1:443", 5124, "192.0.2.1:443" },
		{ "[::1]:443", 5124, "[::1]:443" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct addr_port ap, again;
		char buf[ADDR_STRLEN];

		assert_true(addr_parse(vectors[i].text, vectors[i].default_port, &ap));
		assert_string_equal(addr_format(&ap, true, buf), vectors[i].formatted);
		/* The canonical text parses back to the same address. */
		assert_true(addr_parse(buf, 0, &again));
		assert_memory_equal(ap.ip, again.ip, 16);
		assert_int_equal(ap.port, again.port);
	}
}

static void malformed_addresses_are_rejected(void **state)
{
	static const struct {
		const char *text;
		int default_port;
	} vectors[] = {
		{ "10.0.0.300:5124", -1 },     /* octet out of range */
		{ "10.0.0.1.1:80", -1 },       /* five octets */
		{ "10.0.0:80", -1 },	       /* three octets */
		{ "10.1", 80 },		       /* inet_aton short form */
		{ "010.0.0.1:80", -1 },	       /* octal-looking octet */
		{ "0x7f.0.0.1:80", -1 },       /* hex octet */
		{ "1.2.3.4:0", -1 },	       /* port 0 */
		{ "1.2.3.4:65536", -1 },       /* port too large */
		{ "1.2.3.4:99999999999", -1 }, /* port overflow */
		{ "1.2.3.4:", -1 },	       /* empty port */
		{ "1.2.3.4:-1", -1 },	       /* sign */
		{ "1.2.3.4:+80", -1 },	       /* sign */
		{ "1.2.3.4:80x", -1 },	       /* trailing junk */
		{ "1.2.3.4: 80", -1 },	       /* inner space */
		{ " 1.2.3.4:80", -1 },	       /* leading space */
		{ "1.2.3.4:80 ", -1 },	       /* trailing space */
		{ "1.2.3.4", -1 },	       /* port required */
		{ "1.2.3.4", 65536 },	       /* default port out of range */
		{ "[::1", 80 },		       /* missing ] */
		{ "::1]:80", -1 },	       /* missing [ */
		{ "[::1]80", -1 },	       /* missing : */
		{ "[::1]:", -1 },	       /* empty port */
		{ "[::1]:0", -1 },	       /* port 0 */
		{ "[::1]:65536", -1 },	       /* port too large */
		{ "[::1]:80:80", -1 },	       /* two ports */
		{ "[::1]", -1 },	       /* port required */
		{ "[]:80", -1 },	       /* empty host */
		{ "[192.0.2.1]:80", -1 },      /* brackets are for IPv6 */
		{ "[[::1]]:80", -1 },	       /* nested brackets */
		{ "2001:db8::1:80", -1 },      /* bare IPv6 cannot carry a port */
		{ "2001:db8:::1", 80 },	       /* triple colon */
		{ "2001:db8::1::2", 80 },      /* two :: */
		{ "2001:db8::g", 80 },	       /* not hex */
		{ "1:2:3:4:5:6:7:8:9", 80 },   /* nine groups */
		{ "[fe80::1%eth0]:80", -1 },   /* scope ids are not supported */
		{ "", 80 },
		{ ":80", -1 },
		{ ":", 80 },
		{ "[", 80 },
		{ "]", 80 },
		{ "localhost:80", -1 }, /* no name resolution */
		{ "garbage", 80 },
		{ "[2001:db8:0000:0000:0000:0000:0000:0000:0001]:80",
		  -1 }, /* nine groups, longer than any address */
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct addr_port ap;

		if (addr_parse(vectors[i].text, vectors[i].default_port, &ap))
			fail_msg("accepted '%s'", vectors[i].text);
	}
}

static void format_without_port_has_no_brackets(void **state)
{
	struct addr_port ap;
	char buf[ADDR_STRLEN];

	assert_true(addr_parse("192.0.2.1:80", -1, &ap));
	assert_string_equal(addr_format(&ap, false, buf), "192.0.2.1");
	assert_true(addr_parse("[2001:db8::1]:80", -1, &ap));
	assert_string_equal(addr_format(&ap, false, buf), "2001:db8::1");
}

static void longest_address_fits_the_buffer(void **state)
{
	const char *text = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535";
	struct addr_port ap;
	char buf[ADDR_STRLEN];

	assert_true(addr_parse(text, -1, &ap));
	assert_string_equal(addr_format(&ap, true, buf), text);
	assert_true(strlen(buf) < ADDR_STRLEN);
}

static void bare_addresses_parse_without_port(void **state)
{
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	static const uint8_t loop6[16] = { [15] = 1 };
	uint8_t ip[16];

	assert_true(addr_parse_ip("192.0.2.1", ip));
	assert_memory_equal(ip, mapped, 16);
	assert_true(addr_parse_ip("::ffff:192.0.2.1", ip));
	assert_memory_equal(ip, mapped, 16);
	assert_true(addr_parse_ip("::1", ip));
	assert_memory_equal(ip, loop6, 16);
	assert_false(addr_parse_ip("[::1]", ip));
	assert_false(addr_parse_ip("192.0.2.1:80", ip));
	assert_false(addr_parse_ip("", ip));
}

/* Port 0 is never accepted from text, but a caller may choose it as the default. */
static void default_port_zero_is_the_callers_choice(void **state)
{
	struct addr_port ap;

	assert_true(addr_parse("192.0.2.1", 0, &ap));
	assert_int_equal(ap.port, 0);
	assert_false(addr_parse("192.0.2.1:0", 0, &ap));
}

static void v4mapped_is_only_the_ffff_prefix(void **state)
{
	static const struct {
		const char *text;
		bool mapped;
	} vectors[] = {
		{ "192.0.2.1", true },
		{ "0.0.0.0", true },
		{ "::ffff:0.0.0.0", true },
		{ "::1.2.3.4", false },
		{ "::", false },
		{ "::1", false },
		{ "::fffe:1.2.3.4", false },
		{ "64:ff9b::1.2.3.4", false },
		{ "1::ffff:1.2.3.4", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		uint8_t ip[16];

		ip_of(vectors[i].text, ip);
		if (addr_is_v4mapped(ip) != vectors[i].mapped)
			fail_msg("%s: expected mapped=%d", vectors[i].text, vectors[i].mapped);
	}
}

static void sockaddr_round_trips_keep_family_address_and_port(void **state)
{
	static const struct {
		const char *text;
		int family;
	} vectors[] = {
		{ "192.0.2.1:5124", AF_INET },	   { "[::ffff:192.0.2.1]:5124", AF_INET },
		{ "[2001:db8::1]:443", AF_INET6 }, { "[::]:5124", AF_INET6 },
		{ "0.0.0.0:80", AF_INET },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct sockaddr_storage ss;
		struct addr_port ap, back;
		socklen_t len;

		assert_true(addr_parse(vectors[i].text, -1, &ap));
		len = addr_to_sockaddr(&ap, &ss);
		assert_int_equal(ss.ss_family, vectors[i].family);
		assert_int_equal(len, vectors[i].family == AF_INET ? sizeof(struct sockaddr_in)
								   : sizeof(struct sockaddr_in6));
		assert_true(addr_from_sockaddr((struct sockaddr *)&ss, len, &back));
		assert_memory_equal(back.ip, ap.ip, 16);
		assert_int_equal(back.port, ap.port);
	}
}

static void sockaddr_fields_are_in_network_order(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct addr_port ap;

	assert_true(addr_parse("192.0.2.1:5124", -1, &ap));
	addr_to_sockaddr(&ap, &ss);
	assert_int_equal(sin->sin_port, htons(5124));
	assert_int_equal(sin->sin_addr.s_addr, htonl(0xc0000201));
}

static void sockaddr_in6_holding_a_mapped_address_is_normalised(void **state)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
	struct addr_port ap;
	char buf[ADDR_STRLEN];

	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.7", &sin6.sin6_addr), 1);
	assert_true(addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &ap));
	assert_string_equal(addr_format(&ap, true, buf), "198.51.100.7:80");
}

static void other_families_and_short_lengths_are_refused(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct addr_port ap;

	assert_false(addr_from_sockaddr((struct sockaddr *)&sun, sizeof(sun), &ap));
	assert_false(addr_from_sockaddr((struct sockaddr *)&sin, sizeof(sin) - 1, &ap));
	assert_false(addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6) - 1, &ap));
	assert_false(addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(struct sockaddr_in), &ap));
}

#define ORD ADDR_CLASS_ORDINARY
#define UNS ADDR_CLASS_UNSPECIFIED
#define NET ADDR_CLASS_THIS_NETWORK
#define LO  ADDR_CLASS_LOOPBACK
#define LL  ADDR_CLASS_LINK_LOCAL
#define MC  ADDR_CLASS_MULTICAST
#define BC  ADDR_CLASS_BROADCAST
#define RES ADDR_CLASS_RESERVED

/* The one table of special-purpose addresses, edges included, and every IPv6 form that embeds
 * an IPv4 address judged by that address. */
static void special_addresses_are_classified(void **state)
{
	static const struct {
		const char *text;
		enum addr_class cls;
	} vectors[] = {
		{ "0.0.0.0", UNS },
		{ "::", UNS },
		{ "::ffff:0.0.0.0", UNS },
		{ "0.0.0.1", NET },
		{ "0.255.255.255", NET },
		{ "1.0.0.0", ORD },
		{ "::2", NET }, /* IPv4-compatible 0.0.0.2 */
		{ "127.0.0.1", LO },
		{ "127.0.0.0", LO },
		{ "127.1.2.3", LO },
		{ "127.255.255.254", LO },
		{ "127.255.255.255", LO },
		{ "126.255.255.255", ORD },
		{ "128.0.0.0", ORD },
		{ "::1", LO },
		{ "::ffff:127.0.0.1", LO },
		{ "::ffff:127.0.0.2", LO },
		{ "::127.0.0.1", LO },		/* IPv4-compatible */
		{ "64:ff9b::7f00:1", LO },	/* NAT64 well-known prefix */
		{ "64:ff9b::808:808", ORD },	/* NAT64 of 8.8.8.8: an ordinary destination */
		{ "2002:7f00:1::", LO },	/* 6to4 */
		{ "2002:7f00:1::1", LO },
		{ "2002:c000:201::1", ORD },	/* 6to4 of 192.0.2.1 */
		{ "::ffff:0:7f00:1", LO },	/* SIIT (IPv4-translated) */
		{ "2001:0:7f00:1::1", LO },	/* Teredo server 127.0.0.1 */
		{ "2001:0:c000:201::80ff:fffe", LO }, /* Teredo client ~7f00:0001 = 127.0.0.1 */
		{ "2001:0:c000:201::3fff:fdfe", ORD }, /* Teredo client 192.0.2.1 */
		{ "224.0.0.0", MC },
		{ "224.0.0.1", MC },
		{ "239.255.255.255", MC },
		{ "64:ff9b::e000:1", MC },
		{ "223.255.255.255", ORD },
		{ "240.0.0.0", RES },
		{ "255.255.255.254", RES },
		{ "::f000:1", RES },
		{ "ff00::", MC },
		{ "ff02::1", MC },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", MC },
		{ "feff::1", ORD },
		{ "255.255.255.255", BC },
		{ "::ffff:ffff:ffff", BC },
		{ "2002:ffff:ffff::", BC },
		{ "169.254.0.0", LL },
		{ "169.254.255.255", LL },
		{ "169.253.255.255", ORD },
		{ "169.255.0.0", ORD },
		{ "::ffff:0:a9fe:1", LL },
		{ "fe80::", LL },
		{ "fe80::1", LL },
		{ "febf:ffff::1", LL },
		{ "fec0::1", ORD },
		{ "fe7f:ffff::1", ORD },
		{ "192.0.2.1", ORD },
		{ "8.8.8.8", ORD },
		{ "10.0.0.1", ORD },
		{ "2001:db8::1", ORD },
		{ "2606:4700::1111", ORD },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		uint8_t ip[16];
		enum addr_class got;

		ip_of(vectors[i].text, ip);
		got = addr_classify(ip);
		if (got != vectors[i].cls)
			fail_msg("%s: class %s, expected %s", vectors[i].text, addr_class_name(got),
				 addr_class_name(vectors[i].cls));
	}
}

static void shorthands_agree_with_the_table(void **state)
{
	uint8_t ip[16];

	ip_of("127.9.9.9", ip);
	assert_true(addr_is_loopback(ip));
	ip_of("0.0.0.0", ip);
	assert_true(addr_is_unspecified(ip));
	ip_of("0.0.0.1", ip);
	assert_false(addr_is_unspecified(ip)); /* 0/8 is this-network, not unspecified */
	ip_of("fe80::9", ip);
	assert_true(addr_is_link_local(ip));
	ip_of("2001:db8::1", ip);
	assert_false(addr_is_loopback(ip) || addr_is_unspecified(ip) || addr_is_link_local(ip));
}

static void embedded_addresses_are_extracted(void **state)
{
	uint8_t ip[16], out[ADDR_EMBEDDED_MAX][16], want[16];

	ip_of("2001:0:c000:201::3fff:fdfe", ip);
	assert_int_equal(addr_embedded_v4(ip, out), 2);
	ip_of("192.0.2.1", want);
	assert_memory_equal(out[0], want, 16);
	assert_memory_equal(out[1], want, 16);
	ip_of("64:ff9b::a00:1", ip);
	assert_int_equal(addr_embedded_v4(ip, out), 1);
	ip_of("10.0.0.1", want);
	assert_memory_equal(out[0], want, 16);
	ip_of("2001:db8::1", ip);
	assert_int_equal(addr_embedded_v4(ip, out), 0);
	ip_of("10.0.0.1", ip);
	assert_int_equal(addr_embedded_v4(ip, out), 1);
	assert_memory_equal(out[0], ip, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_then_format_gives_the_canonical_text),
		cmocka_unit_test(malformed_addresses_are_rejected),
		cmocka_unit_test(format_without_port_has_no_brackets),
		cmocka_unit_test(longest_address_fits_the_buffer),
		cmocka_unit_test(bare_addresses_parse_without_port),
		cmocka_unit_test(default_port_zero_is_the_callers_choice),
		cmocka_unit_test(v4mapped_is_only_the_ffff_prefix),
		cmocka_unit_test(sockaddr_round_trips_keep_family_address_and_port),
		cmocka_unit_test(sockaddr_fields_are_in_network_order),
		cmocka_unit_test(sockaddr_in6_holding_a_mapped_address_is_normalised),
		cmocka_unit_test(other_families_and_short_lengths_are_refused),
		cmocka_unit_test(special_addresses_are_classified),
		cmocka_unit_test(shorthands_agree_with_the_table),
		cmocka_unit_test(embedded_addresses_are_extracted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
