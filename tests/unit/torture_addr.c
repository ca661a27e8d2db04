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

enum { U = 1, L = 2, M = 4, B = 8, LL = 16 };

static void special_addresses_are_classified(void **state)
{
	static const struct {
		const char *text;
		int classes;
	} vectors[] = {
		{ "0.0.0.0", U },
		{ "::", U },
		{ "::ffff:0.0.0.0", U },
		{ "0.0.0.1", 0 }, /* 0/8 is not "unspecified", only the all-zero address */
		{ "::2", 0 },
		{ "127.0.0.1", L },
		{ "127.0.0.0", L },
		{ "127.255.255.255", L },
		{ "126.255.255.255", 0 },
		{ "128.0.0.0", 0 },
		{ "::1", L },
		{ "::ffff:127.0.0.1", L },
		{ "::127.0.0.1", 0 }, /* IPv4-compatible, not mapped */
		{ "224.0.0.0", M },
		{ "224.0.0.1", M },
		{ "239.255.255.255", M },
		{ "223.255.255.255", 0 },
		{ "240.0.0.0", 0 },
		{ "ff00::", M },
		{ "ff02::1", M },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", M },
		{ "feff::1", 0 },
		{ "255.255.255.255", B },
		{ "255.255.255.254", 0 },
		{ "::ffff:ffff:ffff", B },
		{ "169.254.0.0", LL },
		{ "169.254.255.255", LL },
		{ "169.253.255.255", 0 },
		{ "169.255.0.0", 0 },
		{ "fe80::", LL },
		{ "fe80::1", LL },
		{ "febf:ffff::1", LL },
		{ "fec0::1", 0 },
		{ "fe7f:ffff::1", 0 },
		{ "192.0.2.1", 0 },
		{ "8.8.8.8", 0 },
		{ "10.0.0.1", 0 },
		{ "2001:db8::1", 0 },
		{ "2606:4700::1111", 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		uint8_t ip[16];
		int got = 0;

		ip_of(vectors[i].text, ip);
		got |= addr_is_unspecified(ip) ? U : 0;
		got |= addr_is_loopback(ip) ? L : 0;
		got |= addr_is_multicast(ip) ? M : 0;
		got |= addr_is_broadcast(ip) ? B : 0;
		got |= addr_is_link_local(ip) ? LL : 0;
		if (got != vectors[i].classes)
			fail_msg("%s: classes %#x, expected %#x", vectors[i].text, got,
				 vectors[i].classes);
	}
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
