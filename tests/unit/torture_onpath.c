// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * onpath: the classification rules (order matters: every SYN is decided before any socket
 * lookup, which would also find listeners), the SYN parser fed by nflog, and the join
 * listeners' lifetime (open at the first notice or session, kept while sessions live, closed
 * a grace period after the last), with a fake listener opener: no root, no sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "onpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *find(const char *text, const char *what)
{
	const char *p = strstr(text, what);

	if (!p)
		fail_msg("'%s' not in:\n%s", what, text);
	return p;
}

static struct onpath_rules rules(void)
{
	return (struct onpath_rules){ .port = 5125, .mark = 0x6d70, .log_group = 9, .ipv6 = true };
}

static void syns_are_classified_before_any_socket_lookup(void **state)
{
	struct onpath_rules r = rules();
	char text[4096];
	const char *plain, *notice, *capable4, *capable6, *join4, *join6, *rest, *sockets;

	(void)state;
	assert_true(onpath_render(&r, text, sizeof(text)) > 0);
	plain = find(text, "tcp flags syn / fin,syn,rst,ack tcp option mptcp missing accept");
	notice = find(text, "tcp option mptcp subtype 0 log group 9 snaplen 96 queue-threshold 1");
	capable4 = find(text, "tcp option mptcp subtype 0 meta nfproto ipv4 tproxy ip to "
			      "127.0.0.1:5125 meta mark set 0x00006d70 accept");
	capable6 = find(text, "tcp option mptcp subtype 0 meta nfproto ipv6 tproxy ip6 to "
			      "[::1]:5125 meta mark set 0x00006d70 accept");
	join4 = find(text, "tcp option mptcp subtype 1 meta nfproto ipv4 tproxy ip to 127.0.0.1 "
			   "meta mark");
	join6 = find(text, "tcp option mptcp subtype 1 meta nfproto ipv6 tproxy ip6 to [::1] "
			   "meta mark");
	rest = find(text, "\t\ttcp flags syn / fin,syn,rst,ack accept\n");
	sockets = find(text, "socket transparent 1 meta mark set 0x00006d70 accept");
	assert_true(plain < notice && notice < capable4 && capable4 < capable6);
	assert_true(capable6 < join4 && join4 < join6 && join6 < rest && rest < sockets);
	/* the socket rule is the last: only non-SYN packets ever reach it */
	assert_string_equal(strchr(sockets, '\n'), "\n");
}

static void native_ports_come_first_and_ipv6_can_be_off(void **state)
{
	struct onpath_rules r = rules();
	char text[4096];

	(void)state;
	r.ipv6 = false;
	r.log_group = 0;
	r.native_ports[r.native_ports_len++] = 443;
	r.native_ports[r.native_ports_len++] = 8443;
	assert_true(onpath_render(&r, text, sizeof(text)) > 0);
	assert_ptr_equal(find(text, "\t\ttcp dport { 443, 8443 } accept\n"), text);
	assert_null(strstr(text, "ip6"));
	assert_null(strstr(text, "log group"));
}

static void draining_routes_new_connections_on_and_keeps_the_live_ones(void **state)
{
	struct onpath_rules r = rules();
	char text[4096];

	(void)state;
	r.draining = true;
	assert_true(onpath_render(&r, text, sizeof(text)) > 0);
	assert_null(strstr(text, "subtype 0"));
	assert_null(strstr(text, "log group"));
	find(text, "tcp option mptcp subtype 1 meta nfproto ipv4 tproxy ip to 127.0.0.1 ");
	find(text, "\t\ttcp flags syn / fin,syn,rst,ack accept\n");
	find(text, "socket transparent 1 meta mark set 0x00006d70 accept");
}

static void every_short_buffer_gives_enospc(void **state)
{
	struct onpath_rules r = rules();
	char text[4096];
	int len;

	(void)state;
	len = onpath_render(&r, text, sizeof(text));
	assert_true(len > 0);
	for (int i = 0; i <= len; i++)
		assert_int_equal(onpath_render(&r, text, (size_t)i), -ENOSPC);
	assert_int_equal(onpath_render(&r, text, (size_t)len + 1), len);
}

static void syn_destinations_are_parsed_for_both_families(void **state)
{
	uint8_t v4[40] = { 0x45, [9] = 6, [20] = 0x9c, [21] = 0x40, [22] = 0x1f, [23] = 0x90 };
	uint8_t v4opt[44] = { 0x46, [9] = 6, [26] = 0x00, [27] = 0x50 };
	uint8_t v6[60] = { 0x60, [6] = 6, [42] = 0x01, [43] = 0xbb };
	uint8_t udp[40] = { 0x45, [9] = 17, [22] = 1, [23] = 1 };
	uint16_t port = 0;
	bool is6 = true;

	(void)state;
	assert_int_equal(onpath_syn_dest(v4, sizeof(v4), &is6, &port), 0);
	assert_false(is6);
	assert_int_equal(port, 8080);
	assert_int_equal(onpath_syn_dest(v4opt, sizeof(v4opt), &is6, &port), 0);
	assert_int_equal(port, 80);
	assert_int_equal(onpath_syn_dest(v6, sizeof(v6), &is6, &port), 0);
	assert_true(is6);
	assert_int_equal(port, 443);
	/* short copies, other protocols, other versions, extension headers, port 0 */
	for (size_t i = 0; i < 24; i++)
		assert_int_equal(onpath_syn_dest(v4, i, &is6, &port), -EBADMSG);
	assert_int_equal(onpath_syn_dest(v6, 43, &is6, &port), -EBADMSG);
	assert_int_equal(onpath_syn_dest(udp, sizeof(udp), &is6, &port), -EBADMSG);
	v4[0] = 0x55;
	assert_int_equal(onpath_syn_dest(v4, sizeof(v4), &is6, &port), -EBADMSG);
	v4[0] = 0x44; /* IHL 4: shorter than a header */
	assert_int_equal(onpath_syn_dest(v4, sizeof(v4), &is6, &port), -EBADMSG);
	v6[6] = 0; /* hop-by-hop header */
	assert_int_equal(onpath_syn_dest(v6, sizeof(v6), &is6, &port), -EBADMSG);
	v6[6] = 6;
	v6[42] = v6[43] = 0;
	assert_int_equal(onpath_syn_dest(v6, sizeof(v6), &is6, &port), -EBADMSG);
}

/* ------------------------------------------------------------------------------------------ */

static int fake_fail; /* next open fails with this, once */
static int fake_opened;

static int fake_open(uint16_t port, bool v6)
{
	int ret = fake_fail;

	(void)port;
	(void)v6;
	if (ret) {
		fake_fail = 0;
		return ret;
	}
	fake_opened++;
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int setup_joins(void **state)
{
	static struct onpath_joins j;

	assert_int_equal(onpath_joins_init(&j), 0);
	j.open_listener = fake_open;
	j.grace_ms = 5000;
	fake_fail = 0;
	fake_opened = 0;
	*state = &j;
	return 0;
}

static int teardown_joins(void **state)
{
	onpath_joins_destroy(*state);
	return 0;
}

static void a_notice_opens_the_port_once_per_family(void **state)
{
	struct onpath_joins *j = *state;

	assert_int_equal(onpath_joins_prepare(j, 8080, false, 1000), 0);
	assert_int_equal(onpath_joins_prepare(j, 8080, false, 1001), 0);
	assert_int_equal(onpath_joins_hold(j, 8080, false, 1002), 0);
	assert_int_equal(fake_opened, 1);
	assert_int_equal(onpath_joins_prepare(j, 8080, true, 1003), 0);
	assert_int_equal(fake_opened, 2);
	assert_int_equal(onpath_joins_prepare(j, 8081, false, 1003), 0);
	assert_int_equal(fake_opened, 3);
	assert_int_equal(j->len, 2);
}

static void a_port_stays_while_sessions_live_and_goes_after_the_grace(void **state)
{
	struct onpath_joins *j = *state;

	assert_int_equal(onpath_joins_hold(j, 8080, false, 0), 0);
	assert_int_equal(onpath_joins_hold(j, 8080, false, 10), 0);
	assert_int_equal(onpath_joins_sweep(j, 60000), 1); /* sessions: kept however old */
	onpath_joins_release(j, 8080, 61000);
	assert_int_equal(onpath_joins_sweep(j, 120000), 1);
	onpath_joins_release(j, 8080, 121000);
	assert_int_equal(onpath_joins_sweep(j, 125999), 1); /* grace not over */
	assert_int_equal(onpath_joins_sweep(j, 126000), 0);
	assert_int_equal(j->closed, 1);
	/* a release without a hold changes nothing */
	onpath_joins_release(j, 8080, 127000);
	assert_int_equal(j->len, 0);
}

static void an_unused_notice_is_swept_after_the_grace(void **state)
{
	struct onpath_joins *j = *state;

	assert_int_equal(onpath_joins_prepare(j, 1, false, 100), 0);
	assert_int_equal(onpath_joins_prepare(j, 2, true, 3000), 0);
	assert_int_equal(onpath_joins_sweep(j, 5100), 1);
	assert_int_equal(j->v[0].port, 2);
	assert_int_equal(onpath_joins_sweep(j, 8000), 0);
	assert_int_equal(j->opened, j->closed);
}

static void a_failed_open_is_reported_and_retried(void **state)
{
	struct onpath_joins *j = *state;

	fake_fail = -EADDRINUSE;
	assert_int_equal(onpath_joins_hold(j, 22, false, 0), -EADDRINUSE);
	assert_int_equal(j->v[0].fd[0], -1);
	assert_int_equal(onpath_joins_prepare(j, 22, false, 1), 0);
	assert_true(j->v[0].fd[0] >= 0);
	onpath_joins_release(j, 22, 2);
	assert_int_equal(j->v[0].refs, 0);
}

static void many_ports_grow_the_table(void **state)
{
	struct onpath_joins *j = *state;

	for (unsigned p = 1; p <= 100; p++)
		assert_int_equal(onpath_joins_hold(j, (uint16_t)p, false, p), 0);
	assert_int_equal(j->len, 100);
	for (unsigned p = 1; p <= 100; p++)
		onpath_joins_release(j, (uint16_t)p, 200);
	assert_int_equal(onpath_joins_sweep(j, 5199), 100);
	assert_int_equal(onpath_joins_sweep(j, 5200), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syns_are_classified_before_any_socket_lookup),
		cmocka_unit_test(native_ports_come_first_and_ipv6_can_be_off),
		cmocka_unit_test(draining_routes_new_connections_on_and_keeps_the_live_ones),
		cmocka_unit_test(every_short_buffer_gives_enospc),
		cmocka_unit_test(syn_destinations_are_parsed_for_both_families),
		cmocka_unit_test_setup_teardown(a_notice_opens_the_port_once_per_family,
						setup_joins, teardown_joins),
		cmocka_unit_test_setup_teardown(
			a_port_stays_while_sessions_live_and_goes_after_the_grace, setup_joins,
			teardown_joins),
		cmocka_unit_test_setup_teardown(an_unused_notice_is_swept_after_the_grace,
						setup_joins, teardown_joins),
		cmocka_unit_test_setup_teardown(a_failed_open_is_reported_and_retried,
						setup_joins, teardown_joins),
		cmocka_unit_test_setup_teardown(many_ports_grow_the_table, setup_joins,
						teardown_joins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
