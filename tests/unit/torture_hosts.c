// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hosts: the gateway's per-LAN-host connection counts, without sockets: the cap, the count
 * going down at each end, IPv6 hosts by /64, one warning per interval, and a host table that
 * stays bounded.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hosts.h"

static void v4(uint8_t ip[16], uint8_t last)
{
	const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 1, 0 };

	memcpy(ip, mapped, 16);
	ip[15] = last;
}

static void a_host_gets_its_limit_and_no_more(void **state)
{
	struct hosts h;
	uint8_t a[16], b[16];

	hosts_init(&h);
	v4(a, 2);
	v4(b, 3);
	for (int i = 0; i < 5; i++)
		assert_int_equal(hosts_take(&h, a, 5), 1);
	assert_int_equal(hosts_take(&h, a, 5), 0);
	assert_int_equal(hosts_take(&h, b, 5), 1); /* the neighbour is not hurt */
	hosts_put(&h, a);
	assert_int_equal(hosts_count(&h, a), 4);
	assert_int_equal(hosts_take(&h, a, 5), 1);
	hosts_free(&h);
}

static void a_host_with_no_connections_left_is_forgotten(void **state)
{
	struct hosts h;
	uint8_t a[16];

	hosts_init(&h);
	v4(a, 2);
	assert_int_equal(hosts_take(&h, a, 0), 1);
	assert_int_equal(h.len, 1);
	hosts_put(&h, a);
	assert_int_equal(h.len, 0);
	hosts_put(&h, a); /* an extra put changes nothing */
	assert_int_equal(hosts_count(&h, a), 0);
	hosts_free(&h);
}

static void ipv6_addresses_of_one_64_are_one_host(void **state)
{
	struct hosts h;
	uint8_t a[16] = { 0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
	uint8_t b[16] = { 0xfd, 0, 0, 1, 0, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 0, 0, 9 };
	uint8_t c[16] = { 0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

	hosts_init(&h);
	assert_int_equal(hosts_take(&h, a, 2), 1);
	assert_int_equal(hosts_take(&h, b, 2), 1);
	assert_int_equal(hosts_take(&h, a, 2), 0);
	assert_int_equal(hosts_take(&h, c, 2), 1);
	hosts_free(&h);
}

static void no_limit_counts_without_refusing(void **state)
{
	struct hosts h;
	uint8_t a[16];

	hosts_init(&h);
	v4(a, 7);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(hosts_take(&h, a, 0), 1);
	assert_int_equal(hosts_count(&h, a), 10000);
	hosts_free(&h);
}

static void the_warning_comes_once_per_interval(void **state)
{
	struct hosts h;
	uint8_t a[16];

	hosts_init(&h);
	v4(a, 2);
	assert_false(hosts_warn_due(&h, a, 1000, 10000)); /* not tracked */
	hosts_take(&h, a, 1);
	assert_true(hosts_warn_due(&h, a, 1000, 10000));
	assert_false(hosts_warn_due(&h, a, 5000, 10000));
	assert_true(hosts_warn_due(&h, a, 11000, 10000));
	hosts_free(&h);
}

static void the_table_is_bounded(void **state)
{
	struct hosts h;
	uint8_t ip[16] = { 0xfd };

	hosts_init(&h);
	for (unsigned i = 0; i < HOSTS_MAX; i++) {
		ip[6] = (uint8_t)(i >> 8);
		ip[7] = (uint8_t)i;
		assert_int_equal(hosts_take(&h, ip, 1), 1);
	}
	ip[5] = 1;
	assert_true(hosts_take(&h, ip, 1) < 0); /* let through uncounted by the caller */
	assert_int_equal(h.len, HOSTS_MAX);
	hosts_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_host_gets_its_limit_and_no_more),
		cmocka_unit_test(a_host_with_no_connections_left_is_forgotten),
		cmocka_unit_test(ipv6_addresses_of_one_64_are_one_host),
		cmocka_unit_test(no_limit_counts_without_refusing),
		cmocka_unit_test(the_warning_comes_once_per_interval),
		cmocka_unit_test(the_table_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
