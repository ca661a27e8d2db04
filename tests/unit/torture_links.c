// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * links: the link line's every word and every error (quoting the word and the line), and the
 * choice of the link that carries a new connection's initial subflow (role order, usability,
 * allowed links, address family).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "links.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void full_line_sets_every_field(void **state)
{
	struct link_conf c;
	char err[LINKS_ERR_LEN] = "";
	uint8_t ip[16];

	assert_int_equal(link_conf_parse("dsl dev wan0 addr 192.0.2.10 via 192.0.2.1 "
					 "addr 2001:db8::10 via fe80::1 role primary",
					 &c, err),
			 0);
	assert_string_equal(c.name, "dsl");
	assert_string_equal(c.dev, "wan0");
	assert_int_equal(c.role, LINK_PRIMARY);
	assert_true(c.has_addr4 && c.has_addr6 && c.has_via4 && c.has_via6);
	assert_true(addr_parse_ip("192.0.2.1", ip));
	assert_memory_equal(c.via4, ip, 16);
	assert_true(addr_parse_ip("2001:db8::10", ip));
	assert_memory_equal(c.addr6, ip, 16);
}

static void minimal_line_defaults(void **state)
{
	struct link_conf c;
	char err[LINKS_ERR_LEN] = "";

	assert_int_equal(link_conf_parse("lte dev wwan0", &c, err), 0);
	assert_string_equal(c.name, "lte");
	assert_int_equal(c.role, LINK_SECONDARY);
	assert_false(c.has_addr4 || c.has_addr6 || c.has_via4 || c.has_via6);
	assert_int_equal(link_conf_parse("  lte   dev\twwan0  role  backup ", &c, err), 0);
	assert_int_equal(c.role, LINK_BACKUP);
	assert_string_equal(link_role_name(LINK_BACKUP), "backup");
	assert_int_equal(c.rate_bps, 0);
	assert_int_equal(c.quota_bytes, 0);
	/* a metered overflow line with its quota; a primary with its declared capacity */
	assert_int_equal(link_conf_parse("lte dev wwan0 role overflow quota 10G", &c, err), 0);
	assert_int_equal(c.role, LINK_OVERFLOW);
	assert_string_equal(link_role_name(LINK_OVERFLOW), "overflow");
	assert_int_equal(c.quota_bytes, 10ULL << 30);
	assert_int_equal(link_conf_parse("dsl dev wan0 rate 50mbit quota 500000", &c, err), 0);
	assert_int_equal(c.rate_bps, 50000000);
	assert_int_equal(c.quota_bytes, 500000);
}

static void errors_quote_word_and_line(void **state)
{
	static const struct {
		const char *text, *err;
	} vectors[] = {
		{ "", "link: missing name '' in ''" },
		{ "d$l dev x", "link: bad name (letters, digits, - and _) 'd$l' in 'd$l dev x'" },
		{ "dsl", "link: missing 'dev IFNAME' in 'dsl'" },
		{ "dsl dev", "link: missing value after 'dev' in 'dsl dev'" },
		{ "dsl dev averyveryverylongname",
		  "link: bad interface name 'averyveryverylongname' in 'dsl dev "
		  "averyveryverylongname'" },
		{ "dsl dev wan0 via 10.0.0.300",
		  "link: bad address '10.0.0.300' in 'dsl dev wan0 via 10.0.0.300'" },
		{ "dsl dev wan0 metric 5", "link: unknown word 'metric' in 'dsl dev wan0 metric 5'" },
		{ "dsl dev wan0 role boss",
		  "link: role is primary, secondary, backup or overflow, not 'boss' in 'dsl dev wan0 "
		  "role boss'" },
		{ "dsl dev wan0 rate 50mb", "link: rate is N kbit|mbit|gbit, not '50mb' in 'dsl dev "
					    "wan0 rate 50mb'" },
		{ "dsl dev wan0 quota 10X", "link: quota is a size (10G), not '10X' in 'dsl dev "
					    "wan0 quota 10X'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct link_conf c;
		char err[LINKS_ERR_LEN] = "";

		assert_int_equal(link_conf_parse(vectors[i].text, &c, err), -EINVAL);
		if (strcmp(err, vectors[i].err))
			fail_msg("'%s':\n  got      %s\n  expected %s", vectors[i].text, err,
				 vectors[i].err);
	}
}

/* Three links: dsl (primary, v4 + v6), lte (secondary, v4), sat (backup, v4). */
static void make_links(struct links *links)
{
	static const char *const names[] = { "dsl", "lte", "sat" };
	static const enum link_role roles[] = { LINK_PRIMARY, LINK_SECONDARY, LINK_BACKUP };

	memset(links, 0, sizeof(*links));
	links->len = 3;
	for (int i = 0; i < 3; i++) {
		struct link_state *l = &links->link[i];

		strcpy(l->conf.name, names[i]);
		l->conf.role = roles[i];
		l->index = i;
		l->usable = true;
		l->has_addr4 = true;
		addr_parse_ip(i == 0 ? "192.0.2.1" : i == 1 ? "198.51.100.1" : "203.0.113.1",
			      l->addr4);
	}
	links->link[0].has_addr6 = true;
	addr_parse_ip("2001:db8::1", links->link[0].addr6);
}

static void initial_link_follows_roles_and_health(void **state)
{
	struct links links;
	uint8_t ip[16];

	make_links(&links);
	assert_int_equal(links_pick_initial(&links, 0, AF_INET), 0);
	links.link[0].usable = false;
	assert_int_equal(links_pick_initial(&links, 0, AF_INET), 1);
	links.link[1].usable = false;
	assert_int_equal(links_pick_initial(&links, 0, AF_INET), 2); /* backup, the last resort */
	links.link[2].usable = false;
	assert_int_equal(links_pick_initial(&links, 0, AF_INET), -1);

	make_links(&links);
	assert_int_equal(links_pick_initial(&links, 1u << 2 | 1u << 1, AF_INET), 1);
	assert_int_equal(links_pick_initial(&links, 1u << 2, AF_INET), 2);
	/* IPv6: only dsl has an address; when it is down, nothing. */
	assert_int_equal(links_pick_initial(&links, 0, AF_INET6), 0);
	links.link[0].usable = false;
	assert_int_equal(links_pick_initial(&links, 0, AF_INET6), -1);

	assert_true(addr_parse_ip("198.51.100.1", ip));
	assert_int_equal(links_find_by_addr(&links, ip), 1);
	assert_true(addr_parse_ip("198.51.100.2", ip));
	assert_int_equal(links_find_by_addr(&links, ip), -1);
}

static void local_address_by_family(void **state)
{
	struct links links;
	struct addr_port ap;

	make_links(&links);
	assert_true(links_local_addr(&links, 0, AF_INET6, &ap));
	assert_memory_equal(ap.ip, links.link[0].addr6, 16);
	assert_int_equal(ap.port, 0);
	assert_false(links_local_addr(&links, 1, AF_INET6, &ap));
	assert_false(links_local_addr(&links, 7, AF_INET, &ap));
	assert_false(links_local_addr(&links, -1, AF_INET, &ap));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_line_sets_every_field),
		cmocka_unit_test(minimal_line_defaults),
		cmocka_unit_test(errors_quote_word_and_line),
		cmocka_unit_test(initial_link_follows_roles_and_health),
		cmocka_unit_test(local_address_by_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
