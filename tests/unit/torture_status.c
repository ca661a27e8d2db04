// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the status snapshots and their renderings: /proc/net/dev parsing, the link a
 * subflow belongs to, the session table and JSON, human units, and the reply buffer they are
 * written into (escaping, prepending, padding).
 */
#include "status.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

static const char netdev[] =
	"Inter-|   Receive                                                |  Transmit\n"
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
	"drop fifo colls carrier compressed\n"
	"    lo:    1234      10    0    0    0     0          0         0     1234      10    0 "
	"   0    0     0       0          0\n"
	"  accA: 18446744073709551615 5 0 0 0 0 0 0 42 7 0 0 0 0 0 0\n"
	"accB:99 1 0 0 0 0 0 0 77 1 0 0 0 0 0 0\n"
	"  broken: 1 2 3\n";

static void netdev_counters_are_read_and_lo_skipped(void **state)
{
	struct status_link l[4];
	size_t n = status_parse_netdev(netdev, l, 4);

	assert_int_equal(n, 2);
	assert_string_equal(l[0].name, "accA");
	assert_true(l[0].rx_bytes == 18446744073709551615ULL);
	assert_int_equal(l[0].tx_bytes, 42);
	assert_string_equal(l[1].name, "accB");
	assert_int_equal(l[1].rx_bytes, 99);
	assert_int_equal(l[1].tx_bytes, 77);
	assert_int_equal(status_parse_netdev(netdev, l, 1), 1);
}

static void a_subflow_belongs_to_its_local_address_or_its_peers_network(void **state)
{
	struct status_link l[2] = { { .name = "accA", .addrs_len = 1, .prefix_len = { 120 } },
				    { .name = "accB", .addrs_len = 1, .prefix_len = { 120 } } };
	struct sock_subflow sf = { .id = 1 };
	struct addr_port ap;

	assert_true(addr_parse("10.10.1.2", 0, &ap));
	memcpy(l[0].addrs[0], ap.ip, 16);
	assert_true(addr_parse("10.10.2.2", 0, &ap));
	memcpy(l[1].addrs[0], ap.ip, 16);
	/* The converter's service address is on neither: the peer's network decides. */
	assert_true(addr_parse("10.99.0.1:5124", 0, &sf.local));
	assert_true(addr_parse("10.10.2.1:40000", 0, &sf.remote));
	assert_int_equal(status_link_of(l, 2, &sf), 1);
	assert_true(addr_parse("10.10.3.1:40000", 0, &sf.remote));
	assert_int_equal(status_link_of(l, 2, &sf), -1);
	/* A local address match wins. */
	assert_true(addr_parse("10.10.1.2:5124", 0, &sf.local));
	assert_int_equal(status_link_of(l, 2, &sf), 0);
}

static void sessions_render_as_a_table_and_as_json(void **state)
{
	struct status_session s = { .has_dest = true,
				    .client_mptcp = true,
				    .state = "relay",
				    .age_ms = 61000,
				    .bytes_up = 2048,
				    .bytes_down = 5 << 20,
				    .subflows_total = 2,
				    .subflows_len = 1 };
	struct reply r;

	addr_parse("10.10.1.1:40000", 0, &s.client);
	addr_parse("[2001:db8::1]:443", 0, &s.dest);
	addr_parse("10.99.0.1:5124", 0, &s.subflows[0].local);
	addr_parse("10.10.1.1:40000", 0, &s.subflows[0].remote);
	s.subflows[0].id = 1;
	s.subflows[0].rtt_us = 10500;
	s.subflows[0].bytes_acked = 1000;
	reply_init(&r);
	status_sessions_text(&r, &s, 1);
	assert_non_null(strstr(r.data, "client          destination       state      age"));
	assert_non_null(strstr(r.data, "10.10.1.1:40000 [2001:db8::1]:443 relay    1m01s"));
	assert_non_null(strstr(r.data, "   2.00 KiB   5.00 MiB  2 mptcp server tcp\n"));
	assert_non_null(strstr(r.data, "    sf 1  10.99.0.1:5124 <-> 10.10.1.1:40000"));
	assert_non_null(strstr(r.data, "rtt 10.5ms  tx 1000 B  rx 0 B\n"));
	reply_reset(&r);
	status_sessions_json(&r, &s, 1);
	assert_string_equal(r.data,
			    "[{\"client\":\"10.10.1.1:40000\",\"dest\":\"[2001:db8::1]:443\","
			    "\"state\":\"relay\",\"mode\":null,\"rule\":null,\"age_ms\":61000,"
			    "\"bytes_up\":2048,\"bytes_down\":5242880,\"client_mptcp\":true,"
			    "\"server_mptcp\":false,\"subflows_total\":2,\"subflows_used\":2,"
			    "\"upstream\":\"server\",\"client_rtt_us\":null,\"upstream_rtt_us\":null,"
			    "\"subflows\":[{\"id\":1,"
			    "\"local\":\"10.99.0.1:5124\",\"remote\":\"10.10.1.1:40000\","
			    "\"rtt_us\":10500,\"bytes_acked\":1000,\"bytes_received\":0}]}]");
	/* a converter with a cpe-table names each session's CPE */
	strcpy(s.cpe, "cpe-7");
	reply_reset(&r);
	status_sessions_text(&r, &s, 1);
	assert_non_null(strstr(r.data, " 2 mptcp cpe cpe-7 server tcp\n"));
	reply_reset(&r);
	status_sessions_json(&r, &s, 1);
	assert_non_null(strstr(r.data, "\"rule\":null,\"cpe\":\"cpe-7\",\"age_ms\""));
	reply_free(&r);
}

/* A gateway's session: the subflows are the upstream leg's, named "converter", both RTTs known,
 * more subflows used over its life than alive now. */
static void a_gateway_session_names_its_upstream_leg_and_rtts(void **state)
{
	struct status_session s = { .has_dest = true,
				    .server_mptcp = true,
				    .multipath_upstream = true,
				    .upstream = "converter",
				    .state = "relay",
				    .subflows_total = 2,
				    .subflows_used = 3,
				    .client_rtt_us = 400,
				    .upstream_rtt_us = 20000 };
	struct reply r;

	addr_parse("192.168.1.2:40000", 0, &s.client);
	addr_parse("10.0.2.2:80", 0, &s.dest);
	reply_init(&r);
	status_sessions_text(&r, &s, 1);
	assert_non_null(
		strstr(r.data, "  2 mptcp (3 used) converter mptcp rtt client 0.4ms converter 20.0ms\n"));
	reply_reset(&r);
	status_sessions_json(&r, &s, 1);
	assert_non_null(strstr(r.data, "\"server_mptcp\":true,\"subflows_total\":2,\"subflows_used\":3,"
				       "\"upstream\":\"converter\",\"client_rtt_us\":400,"
				       "\"upstream_rtt_us\":20000,\"subflows\":[]}"));
	reply_free(&r);
}

static void sessions_sort_largest_first(void **state)
{
	struct status_session s[3] = { { .bytes_up = 1 }, { .bytes_down = 30 }, { .bytes_up = 5 } };

	status_sort_sessions(s, 3);
	assert_int_equal(s[0].bytes_down, 30);
	assert_int_equal(s[1].bytes_up, 5);
	assert_int_equal(s[2].bytes_up, 1);
}

static void units_read_like_ip_and_ss(void **state)
{
	char b[REPLY_UNIT_LEN];

	assert_string_equal(reply_fmt_bytes(0, b), "0 B");
	assert_string_equal(reply_fmt_bytes(1023, b), "1023 B");
	assert_string_equal(reply_fmt_bytes(1536, b), "1.50 KiB");
	assert_string_equal(reply_fmt_bytes(100 << 20, b), "100 MiB");
	assert_string_equal(reply_fmt_rate(93.1e6, b), "93.1 Mbit/s");
	assert_string_equal(reply_fmt_rate(840e3, b), "840.0 kbit/s");
	assert_string_equal(reply_fmt_age(250, b), "250ms");
	assert_string_equal(reply_fmt_age(3725000, b), "1h02m");
}

static void the_reply_buffer_escapes_prepends_and_pads(void **state)
{
	struct reply r;

	reply_init(&r);
	reply_json_string(&r, "a\"b\\c\n\x01");
	assert_string_equal(r.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	reply_reset(&r);
	reply_puts(&r, "body");
	reply_prepend(&r, "HEAD %d\n", 1);
	assert_string_equal(r.data, "HEAD 1\nbody");
	reply_pad_to(&r, 8);
	reply_puts(&r, "|");
	assert_string_equal(r.data, "HEAD 1\nbody    |");
	assert_false(r.oom);
	reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(netdev_counters_are_read_and_lo_skipped),
		cmocka_unit_test(a_subflow_belongs_to_its_local_address_or_its_peers_network),
		cmocka_unit_test(sessions_render_as_a_table_and_as_json),
		cmocka_unit_test(a_gateway_session_names_its_upstream_leg_and_rtts),
		cmocka_unit_test(sessions_sort_largest_first),
		cmocka_unit_test(units_read_like_ip_and_ss),
		cmocka_unit_test(the_reply_buffer_escapes_prepends_and_pads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
