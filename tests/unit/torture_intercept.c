// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * intercept: the rendered nftables ruleset (what install() loads), without root: LAN interface
 * filter, exclusion sets per family, native-MPTCP bypass, TPROXY per family, defaults for mark
 * and table, IPv4-only configs, -ENOSPC at every short length, and refused configs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "intercept.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct intercept_config config(bool ipv6)
{
	static const char *const excludes[] = { "10.99.0.1/32", "10.10.0.0/16", "fd00:99::1/128",
						"2001:db8::/32" };
	struct intercept_config cfg = {
		.lan_ifaces = { "lan0", "wlan*" },
		.lan_len = 2,
		.port = 3129,
		.ipv6 = ipv6,
	};

	for (size_t i = 0; i < ARRAY_SIZE(excludes); i++) {
		if (!acl_parse_prefix(excludes[i], &cfg.exclude[cfg.exclude_len++]))
			fail_msg("refused '%s'", excludes[i]);
	}
	return cfg;
}

static void contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing '%s' in:\n%s", needle, text);
}

static void lacks(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("unexpected '%s' in:\n%s", needle, text);
}

static void dual_stack_ruleset_has_every_rule(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];
	int len = intercept_render(&cfg, text, sizeof(text));
	static const char *const expected[] = {
		"add table inet mpconv\ndelete table inet mpconv\ntable inet mpconv {\n",
		"type filter hook prerouting priority mangle; policy accept;",
		"iifname != { \"lan0\", \"wlan*\" } return",
		"meta l4proto != tcp return",
		"fib daddr type local accept",
		"set exclude4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n",
		"elements = { 10.99.0.1/32, 10.10.0.0/16 }",
		"set exclude6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n",
		"elements = { fd00:99::1/128, 2001:db8::/32 }",
		"ip daddr @exclude4 accept",
		"ip6 daddr @exclude6 accept",
		"socket transparent 1 meta mark set 0x00006d70 accept",
		"tcp flags syn / fin,syn,rst,ack tcp option mptcp exists ct mark set ct mark | ",
		"tcp flags syn / fin,syn,rst,ack meta nfproto ipv4 tproxy ip to :3129 meta mark set 0x00006d70 accept",
		"tcp flags syn / fin,syn,rst,ack meta nfproto ipv6 tproxy ip6 to :3129 meta mark set 0x00006d70 accept",
	};

	assert_true(len > 0);
	assert_int_equal((size_t)len, strlen(text));
	for (size_t i = 0; i < ARRAY_SIZE(expected); i++)
		contains(text, expected[i]);
	lacks(text, "meta nfproto ipv6 return");
}

/* Exclusions and local addresses come before anything that diverts or marks. */
static void exclusions_are_checked_before_any_diversion(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];

	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	const char *local = strstr(text, "fib daddr type local"), *ex4 = strstr(text, "@exclude4"),
		   *ex6 = strstr(text, "@exclude6"), *native = strstr(text, "ct mark &"),
		   *sock = strstr(text, "socket transparent"), *tproxy = strstr(text, "tproxy");

	assert_non_null(local);
	assert_non_null(tproxy);
	assert_true(local < sock && ex4 < sock && ex6 < sock && native < sock);
	assert_true(sock < tproxy && strstr(text, "tcp option mptcp") < tproxy);
}

/* REDIRECT: a nat chain after mangle, the same exclusions and the native-MPTCP mark before the
 * redirect, and nothing of TPROXY. */
static void redirect_ruleset_uses_nat_and_keeps_the_exclusions(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];
	const char *nat, *redirect;

	cfg.redirect = true;
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	contains(text, "tcp option mptcp exists ct mark set ct mark | ");
	nat = strstr(text, "type nat hook prerouting priority dstnat; policy accept;");
	redirect = strstr(text, "meta l4proto tcp redirect to :3129");
	assert_non_null(nat);
	assert_non_null(redirect);
	assert_true(strstr(nat, "iifname != { \"lan0\", \"wlan*\" } return") < redirect);
	assert_true(strstr(nat, "fib daddr type local accept") < redirect);
	assert_true(strstr(nat, "ip daddr @exclude4 accept") < redirect);
	assert_true(strstr(nat, "ip6 daddr @exclude6 accept") < redirect);
	assert_true(strstr(nat, "ct mark & 0x40000000 == 0x40000000 accept") < redirect);
	assert_true(strstr(text, "type filter hook prerouting priority mangle") < nat);
	lacks(text, "tproxy");
	lacks(text, "socket transparent");
}

/* Host mode: one nat chain on the output hook, no LAN interface, no prerouting, no TPROXY;
 * every skip (the daemon's own mark, lo, local addresses, exclusions, native MPTCP) comes before
 * the redirect. */
static void host_mode_redirects_local_output_and_skips_the_daemons_sockets(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];
	const char *chain, *redirect;
	static const char *const skips[] = {
		"meta l4proto != tcp return",
		"meta mark 0x00006d71 return",
		"oifname \"lo\" return",
		"fib daddr type local return",
		"ip daddr @exclude4 return",
		"ip6 daddr @exclude6 return",
		"tcp option mptcp exists return",
	};

	cfg.lan_len = 0;
	cfg.local = true;
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	chain = strstr(text, "chain output {\n\t\ttype nat hook output priority -100; policy accept;");
	redirect = strstr(text, "meta l4proto tcp redirect to :3129");
	assert_non_null(chain);
	assert_non_null(redirect);
	for (size_t i = 0; i < ARRAY_SIZE(skips); i++) {
		const char *at = strstr(chain, skips[i]);

		if (!at || at > redirect)
			fail_msg("'%s' missing or after the redirect in:\n%s", skips[i], text);
	}
	lacks(text, "prerouting");
	lacks(text, "tproxy");
	lacks(text, "iifname");
	lacks(text, "meta nfproto ipv6 return");

	cfg.own_mark = 0x1234;
	cfg.ipv6 = false;
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	contains(text, "meta mark 0x00001234 return");
	contains(text, "meta nfproto ipv6 return");
	/* without local, a config with no LAN interface is still refused */
	cfg.local = false;
	assert_int_equal(intercept_render(&cfg, text, sizeof(text)), -EINVAL);
}

/* The on-path converter: every SYN classified before any socket lookup; exclusions (native
 * destinations) first; the rules themselves are torture_onpath's. */
static void mptcp_only_ruleset_diverts_mptcp_and_passes_tcp(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];
	const char *exclude, *missing, *capable, *sockets;

	cfg.mptcp_only = true;
	cfg.log_group = 7;
	cfg.native_ports[cfg.native_ports_len++] = 443;
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	exclude = strstr(text, "ip daddr @exclude4 accept");
	missing = strstr(text, "tcp option mptcp missing accept");
	capable = strstr(text, "subtype 0 meta nfproto ipv4 tproxy ip to 127.0.0.1:3129");
	sockets = strstr(text, "socket transparent 1");
	assert_non_null(exclude);
	assert_non_null(missing);
	assert_non_null(capable);
	assert_non_null(sockets);
	assert_true(exclude < missing && missing < capable && capable < sockets);
	contains(text, "tcp dport { 443 } accept");
	contains(text, "log group 7 ");
	contains(text, "tcp option mptcp subtype 1 meta nfproto ipv6 tproxy ip6 to [::1]");
	lacks(text, "ct mark set ct mark");
	assert_true(text[strlen(text) - 2] == '}');
	cfg.native_ports_len = INTERCEPT_MAX_NATIVE_PORTS + 1;
	assert_int_equal(intercept_render(&cfg, text, sizeof(text)), -EINVAL);
}

static void ipv4_only_config_renders_no_ipv6_rule(void **state)
{
	struct intercept_config cfg = config(false);
	char text[8192];

	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	lacks(text, "ip6 ");
	lacks(text, "ipv6_addr");
	lacks(text, "exclude6");
	lacks(text, "fd00:99::1");
	contains(text, "meta nfproto ipv6 return");
	contains(text, "ip daddr @exclude4 accept");
	contains(text, "meta nfproto ipv4 tproxy ip to :3129");
}

static void a_given_fwmark_replaces_the_default(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];

	cfg.fwmark = 0x10;
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	contains(text, "tproxy ip to :3129 meta mark set 0x00000010 accept");
	lacks(text, "0x00006d70");
}

static void no_exclusions_render_no_sets(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];

	cfg.exclude_len = 0;
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	lacks(text, "set exclude");
	lacks(text, "@exclude");
	contains(text, "tproxy ip6 to :3129");
}

static void host_bits_of_hand_made_prefixes_are_cleared(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192];

	cfg.exclude[0].ip[15] = 0x7f; /* 10.99.0.127/24, not from acl_parse_prefix */
	cfg.exclude[0].len = 96 + 24;
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
	contains(text, "elements = { 10.99.0.0/24, 10.10.0.0/16 }");
}

static void every_short_buffer_gives_enospc(void **state)
{
	struct intercept_config cfg = config(true);
	char text[8192], small[8192];
	int len = intercept_render(&cfg, text, sizeof(text));

	assert_true(len > 0);
	for (size_t size = 0; size <= (size_t)len; size++) {
		memset(small, 'x', sizeof(small));
		assert_int_equal(intercept_render(&cfg, small, size), -ENOSPC);
		if (size > 0)
			assert_true(memchr(small, '\0', size) != NULL); /* never unterminated */
	}
	assert_int_equal(intercept_render(&cfg, small, (size_t)len + 1), len);
	assert_string_equal(small, text);
	assert_int_equal(intercept_render(&cfg, NULL, 0), -ENOSPC);
}

static void unusable_configs_are_refused(void **state)
{
	struct intercept_config cfg;
	char text[8192];
	static const char *const bad_names[] = { "",	"a\"b", "eth 0",	   "a/b",
						 "a:1", "..",	"0123456789abcdef" };

	cfg = config(true);
	cfg.lan_len = 0;
	assert_int_equal(intercept_render(&cfg, text, sizeof(text)), -EINVAL);
	cfg = config(true);
	cfg.port = 0;
	assert_int_equal(intercept_render(&cfg, text, sizeof(text)), -EINVAL);
	cfg = config(true);
	cfg.table = 254; /* main */
	assert_int_equal(intercept_render(&cfg, text, sizeof(text)), -EINVAL);
	cfg = config(true);
	cfg.exclude[1].len = 129;
	assert_int_equal(intercept_render(&cfg, text, sizeof(text)), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		cfg = config(true);
		cfg.lan_ifaces[1] = bad_names[i];
		if (intercept_render(&cfg, text, sizeof(text)) != -EINVAL)
			fail_msg("interface name '%s' accepted", bad_names[i]);
	}
	cfg = config(true);
	cfg.lan_ifaces[1] = "0123456789abcde"; /* IFNAMSIZ - 1 */
	assert_true(intercept_render(&cfg, text, sizeof(text)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dual_stack_ruleset_has_every_rule),
		cmocka_unit_test(exclusions_are_checked_before_any_diversion),
		cmocka_unit_test(redirect_ruleset_uses_nat_and_keeps_the_exclusions),
		cmocka_unit_test(mptcp_only_ruleset_diverts_mptcp_and_passes_tcp),
		cmocka_unit_test(host_mode_redirects_local_output_and_skips_the_daemons_sockets),
		cmocka_unit_test(ipv4_only_config_renders_no_ipv6_rule),
		cmocka_unit_test(a_given_fwmark_replaces_the_default),
		cmocka_unit_test(no_exclusions_render_no_sets),
		cmocka_unit_test(host_bits_of_hand_made_prefixes_are_cleared),
		cmocka_unit_test(every_short_buffer_gives_enospc),
		cmocka_unit_test(unusable_configs_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
