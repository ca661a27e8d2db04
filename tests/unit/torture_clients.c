// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the per-client counters behind the converter's per-client limits: limits hold,
 * releases free entries for reuse, a full table refuses instead of overwriting, counters never
 * wrap below zero, and concurrent workers keep exact counts.
 */
#include "addr.h"
#include "clients.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

static void ip_of(uint8_t ip[16], uint32_t n)
{
	memset(ip, 0, 16);
	ip[10] = ip[11] = 0xff;
	ip[12] = (uint8_t)(n >> 24);
	ip[13] = (uint8_t)(n >> 16);
	ip[14] = (uint8_t)(n >> 8);
	ip[15] = (uint8_t)n;
}

static void a_limit_is_enforced_per_counter_and_per_client(void **state)
{
	struct clients c;
	uint8_t a[16], b[16];

	ip_of(a, 0x0a000001);
	ip_of(b, 0x0a000002);
	assert_int_equal(clients_init(&c, 16), 0);
	for (int i = 0; i < 3; i++)
		assert_true(clients_acquire(&c, a, CLIENTS_SESSIONS, 3));
	assert_false(clients_acquire(&c, a, CLIENTS_SESSIONS, 3));
	/* Other counters and other clients are independent. */
	assert_true(clients_acquire(&c, a, CLIENTS_IDLE, 1));
	assert_true(clients_acquire(&c, b, CLIENTS_SESSIONS, 3));
	assert_int_equal(clients_count(&c, a, CLIENTS_SESSIONS), 3);
	assert_int_equal(clients_count(&c, b, CLIENTS_SESSIONS), 1);
	clients_release(&c, a, CLIENTS_SESSIONS);
	assert_true(clients_acquire(&c, a, CLIENTS_SESSIONS, 3));
	clients_destroy(&c);
}

static void limit_zero_means_unlimited(void **state)
{
	struct clients c;
	uint8_t a[16];

	ip_of(a, 1);
	assert_int_equal(clients_init(&c, 4), 0);
	for (int i = 0; i < 1000; i++)
		assert_true(clients_acquire(&c, a, CLIENTS_PENDING, 0));
	assert_int_equal(clients_count(&c, a, CLIENTS_PENDING), 1000);
	clients_destroy(&c);
}

static void a_full_table_refuses_new_clients_and_frees_entries_on_release(void **state)
{
	struct clients c;
	uint8_t ip[16];

	assert_int_equal(clients_init(&c, 8), 0);
	for (uint32_t i = 0; i < 8; i++) {
		ip_of(ip, i);
		assert_true(clients_acquire(&c, ip, CLIENTS_SESSIONS, 0));
	}
	ip_of(ip, 100);
	assert_false(clients_acquire(&c, ip, CLIENTS_SESSIONS, 0));
	/* Releasing one client's last counter frees its entry for somebody else. */
	ip_of(ip, 3);
	clients_release(&c, ip, CLIENTS_SESSIONS);
	assert_int_equal(clients_count(&c, ip, CLIENTS_SESSIONS), 0);
	ip_of(ip, 100);
	assert_true(clients_acquire(&c, ip, CLIENTS_SESSIONS, 0));
	clients_destroy(&c);
}

static void a_refused_first_acquire_leaves_no_entry_behind(void **state)
{
	struct clients c;
	uint8_t ip[16];

	assert_int_equal(clients_init(&c, 1), 0);
	ip_of(ip, 1);
	/* Limit 0 would be unlimited; a limit already reached at 0 cannot happen, so fill the
	 * single slot, release it, and check the slot is reusable by another client. */
	assert_true(clients_acquire(&c, ip, CLIENTS_IDLE, 1));
	assert_false(clients_acquire(&c, ip, CLIENTS_IDLE, 1));
	clients_release(&c, ip, CLIENTS_IDLE);
	ip_of(ip, 2);
	assert_true(clients_acquire(&c, ip, CLIENTS_IDLE, 1));
	clients_destroy(&c);
}

static void releasing_more_than_acquired_never_wraps(void **state)
{
	struct clients c;
	uint8_t ip[16];

	ip_of(ip, 7);
	assert_int_equal(clients_init(&c, 4), 0);
	clients_release(&c, ip, CLIENTS_SESSIONS); /* unknown client: nothing happens */
	assert_true(clients_acquire(&c, ip, CLIENTS_SESSIONS, 0));
	assert_true(clients_acquire(&c, ip, CLIENTS_IDLE, 0));
	clients_release(&c, ip, CLIENTS_PENDING); /* never acquired: stays 0 */
	assert_int_equal(clients_count(&c, ip, CLIENTS_PENDING), 0);
	assert_int_equal(clients_count(&c, ip, CLIENTS_SESSIONS), 1);
	clients_destroy(&c);
}

static void colliding_clients_keep_separate_counts(void **state)
{
	struct clients c;
	uint8_t ip[16];

	/* 200 clients in a 64-bucket table: chains are long; every count must stay exact. */
	assert_int_equal(clients_init(&c, 200), 0);
	for (uint32_t i = 0; i < 200; i++) {
		ip_of(ip, i * 7919);
		for (uint32_t k = 0; k <= i % 5; k++)
			assert_true(clients_acquire(&c, ip, CLIENTS_SESSIONS, 0));
	}
	for (uint32_t i = 0; i < 200; i += 2) {
		ip_of(ip, i * 7919);
		for (uint32_t k = 0; k <= i % 5; k++)
			clients_release(&c, ip, CLIENTS_SESSIONS);
	}
	for (uint32_t i = 0; i < 200; i++) {
		ip_of(ip, i * 7919);
		assert_int_equal(clients_count(&c, ip, CLIENTS_SESSIONS), i % 2 ? i % 5 + 1 : 0);
	}
	clients_destroy(&c);
}

struct hammer {
	struct clients *c;
	int id;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	uint8_t ip[16];

	for (int round = 0; round < 20000; round++) {
		ip_of(ip, (uint32_t)(round % 17));
		if (clients_acquire(h->c, ip, CLIENTS_SESSIONS, 0))
			clients_release(h->c, ip, CLIENTS_SESSIONS);
	}
	return NULL;
}

static void concurrent_workers_leave_every_count_at_zero(void **state)
{
	struct clients c;
	pthread_t threads[4];
	struct hammer h[4];
	uint8_t ip[16];

	assert_int_equal(clients_init(&c, 32), 0);
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .c = &c, .id = i };
		assert_int_equal(pthread_create(&threads[i], NULL, hammer_thread, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	for (uint32_t n = 0; n < 17; n++) {
		ip_of(ip, n);
		assert_int_equal(clients_count(&c, ip, CLIENTS_SESSIONS), 0);
	}
	/* Every entry came back: the table takes 32 new clients again. */
	for (uint32_t n = 100; n < 132; n++) {
		ip_of(ip, n);
		assert_true(clients_acquire(&c, ip, CLIENTS_SESSIONS, 0));
	}
	clients_destroy(&c);
}

static void invalid_capacity_is_refused(void **state)
{
	struct clients c;

	assert_int_equal(clients_init(&c, 0), -EINVAL);
	clients_destroy(&c); /* safe on a failed init */
}

static void a_refusal_is_logged_once_per_interval_per_client(void **state)
{
	struct clients c;
	uint8_t a[16], b[16], stranger[16];

	ip_of(a, 0x0a000001);
	ip_of(b, 0x0a000002);
	ip_of(stranger, 0x0a000003);
	assert_int_equal(clients_init(&c, 2), 0);
	assert_true(clients_acquire(&c, a, CLIENTS_IDLE, 1));
	assert_true(clients_acquire(&c, b, CLIENTS_IDLE, 1));
	assert_true(clients_warn_due(&c, a, 1000, 10000));
	assert_false(clients_warn_due(&c, a, 5000, 10000));
	assert_true(clients_warn_due(&c, b, 5000, 10000)); /* another client: its own interval */
	assert_true(clients_warn_due(&c, a, 11000, 10000));
	/* The table is full: clients it cannot hold share one interval. */
	assert_false(clients_acquire(&c, stranger, CLIENTS_IDLE, 1));
	assert_true(clients_warn_due(&c, stranger, 11000, 10000));
	assert_false(clients_warn_due(&c, stranger, 12000, 10000));
	clients_destroy(&c);
}

/* An IPv6 client is its /64 by default: every address of a household shares its limits. */
static void ipv6_clients_of_one_prefix_share_a_key(void **state)
{
	uint8_t x[16], y[16], kx[16], ky[16], v4[16], kv4[16];

	assert_true(addr_parse_ip("2001:db8:1:2::aaaa", x));
	assert_true(addr_parse_ip("2001:db8:1:2:ffff:1:2:3", y));
	addr_client_key(x, 64, kx);
	addr_client_key(y, 64, ky);
	assert_memory_equal(kx, ky, 16);
	addr_client_key(x, 128, kx);
	addr_client_key(y, 128, ky);
	assert_memory_not_equal(kx, ky, 16);
	assert_true(addr_parse_ip("2001:db8:1:3::1", y)); /* next /64: another client */
	addr_client_key(y, 64, ky);
	addr_client_key(x, 64, kx);
	assert_memory_not_equal(kx, ky, 16);
	addr_client_key(x, 56, kx);
	addr_client_key(y, 56, ky);
	assert_memory_equal(kx, ky, 16);
	assert_true(addr_parse_ip("192.0.2.9", v4)); /* IPv4: the address itself */
	addr_client_key(v4, 64, kv4);
	assert_memory_equal(v4, kv4, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_limit_is_enforced_per_counter_and_per_client),
		cmocka_unit_test(limit_zero_means_unlimited),
		cmocka_unit_test(a_full_table_refuses_new_clients_and_frees_entries_on_release),
		cmocka_unit_test(a_refused_first_acquire_leaves_no_entry_behind),
		cmocka_unit_test(releasing_more_than_acquired_never_wraps),
		cmocka_unit_test(colliding_clients_keep_separate_counts),
		cmocka_unit_test(concurrent_workers_leave_every_count_at_zero),
		cmocka_unit_test(invalid_capacity_is_refused),
		cmocka_unit_test(a_refusal_is_logged_once_per_interval_per_client),
		cmocka_unit_test(ipv6_clients_of_one_prefix_share_a_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
