// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the Prometheus writer: HELP and TYPE before samples, the role label first, label
 * values and HELP text escaped, histogram buckets cumulative with +Inf equal to _count and _sum
 * in the metric's unit, and concurrent observers losing nothing.
 */
#include "metrics.h"

#include <errno.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

static void a_counter_family_is_help_type_then_samples(void **state)
{
	struct reply r;
	struct metrics_writer w;
	struct metrics_label l[] = { { "direction", "up" } };

	reply_init(&r);
	metrics_writer_init(&w, &r, "converter");
	metrics_family(&w, "mpconv_bytes_total", METRICS_COUNTER, "Bytes relayed.");
	metrics_sample(&w, NULL, 0, 7);
	metrics_sample(&w, l, 1, 18446744073709551615ULL);
	assert_string_equal(r.data, "# HELP mpconv_bytes_total Bytes relayed.\n"
				    "# TYPE mpconv_bytes_total counter\n"
				    "mpconv_bytes_total{role=\"converter\"} 7\n"
				    "mpconv_bytes_total{role=\"converter\",direction=\"up\"} "
				    "18446744073709551615\n");
	reply_free(&r);
}

static void label_values_and_help_are_escaped(void **state)
{
	struct reply r;
	struct metrics_writer w;
	struct metrics_label l[] = { { "rule", "a\\b\"c\nd" } };

	reply_init(&r);
	metrics_writer_init(&w, &r, "gate\"way");
	metrics_family(&w, "m", METRICS_GAUGE, "line one\nback\\slash \"quoted\"");
	metrics_sample_double(&w, l, 1, 0.5);
	assert_string_equal(r.data, "# HELP m line one\\nback\\\\slash \"quoted\"\n"
				    "# TYPE m gauge\n"
				    "m{role=\"gate\\\"way\",rule=\"a\\\\b\\\"c\\nd\"} 0.5\n");
	reply_free(&r);
}

static void a_histogram_is_cumulative_and_ends_in_inf(void **state)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	struct metrics_histogram h;
	struct reply r;
	struct metrics_writer w;

	metrics_histogram_init(&h, bounds, 3, 1e6);
	metrics_observe(&h, 500);     /* 0.5 ms */
	metrics_observe(&h, 1000);    /* exactly 1 ms: le is inclusive */
	metrics_observe(&h, 20000);   /* 20 ms */
	metrics_observe(&h, 3000000); /* 3 s: only +Inf */
	reply_init(&r);
	metrics_writer_init(&w, &r, "converter");
	metrics_family(&w, "mpconv_setup_seconds", METRICS_HISTOGRAM, "Set-up time.");
	metrics_histogram(&w, NULL, 0, &h);
	assert_string_equal(r.data,
			    "# HELP mpconv_setup_seconds Set-up time.\n"
			    "# TYPE mpconv_setup_seconds histogram\n"
			    "mpconv_setup_seconds_bucket{role=\"converter\",le=\"0.001\"} 2\n"
			    "mpconv_setup_seconds_bucket{role=\"converter\",le=\"0.01\"} 2\n"
			    "mpconv_setup_seconds_bucket{role=\"converter\",le=\"0.1\"} 3\n"
			    "mpconv_setup_seconds_bucket{role=\"converter\",le=\"+Inf\"} 4\n"
			    "mpconv_setup_seconds_sum{role=\"converter\"} 3.0215000000000001\n"
			    "mpconv_setup_seconds_count{role=\"converter\"} 4\n");
	reply_free(&r);
}

static void special_values_are_spelled_as_prometheus_does(void **state)
{
	struct reply r;
	struct metrics_writer w;

	reply_init(&r);
	metrics_writer_init(&w, &r, "x");
	metrics_family(&w, "g", METRICS_GAUGE, "h");
	metrics_sample_double(&w, NULL, 0, 1.0 / 0.0);
	metrics_sample_double(&w, NULL, 0, -1.0 / 0.0);
	metrics_sample_double(&w, NULL, 0, 0.0 / 0.0);
	assert_non_null(
		strstr(r.data, "g{role=\"x\"} +Inf\ng{role=\"x\"} -Inf\ng{role=\"x\"} NaN\n"));
	reply_free(&r);
}

static void names_are_checked(void **state)
{
	assert_true(metrics_name_ok("mpconv_sessions_total", false));
	assert_true(metrics_name_ok("a:b", false));
	assert_false(metrics_name_ok("a:b", true));
	assert_false(metrics_name_ok("1abc", false));
	assert_false(metrics_name_ok("a-b", false));
	assert_false(metrics_name_ok("", true));
}

static struct metrics_histogram shared_hist;

static void *observer(void *arg)
{
	for (int i = 0; i < 100000; i++)
		metrics_observe(&shared_hist, (uint64_t)(i % 7) * 1000);
	return NULL;
}

static void concurrent_observers_lose_nothing(void **state)
{
	static const double bounds[] = { 0.002, 0.004 };
	pthread_t t[4];
	unsigned long total = 0;

	metrics_histogram_init(&shared_hist, bounds, 2, 1e6);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, observer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i <= 2; i++)
		total += atomic_load(&shared_hist.buckets[i]);
	assert_int_equal(total, 400000);
	/* i % 7 in ms: 0,1,2 -> first bucket; 3,4 -> second; 5,6 -> +Inf. */
	assert_int_equal(atomic_load(&shared_hist.buckets[2]), 4 * 2 * (100000 / 7));
}

static void netstat_counters_are_found_by_name(void **state)
{
	static const char text[] = "TcpExt: SyncookiesSent ListenDrops\n"
				   "TcpExt: 0 7\n"
				   "IpExt: InNoRoutes\n"
				   "IpExt: 3\n"
				   "MPTcpExt: MPCapableSYNRX NoDSSInWindow MPTCPRetrans\n"
				   "MPTcpExt: 12 4567 89\n";
	uint64_t v = 0;

	(void)state;
	assert_int_equal(metrics_netstat_parse(text, "MPTcpExtNoDSSInWindow", &v), 0);
	assert_int_equal(v, 4567);
	assert_int_equal(metrics_netstat_parse(text, "MPTcpExtMPTCPRetrans", &v), 0);
	assert_int_equal(v, 89);
	assert_int_equal(metrics_netstat_parse(text, "TcpExtListenDrops", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(metrics_netstat_parse(text, "MPTcpExtNoDSS", &v), -ENOENT);
	assert_int_equal(metrics_netstat_parse(text, "MPTcpExtAbsent", &v), -ENOENT);
	assert_int_equal(metrics_netstat_parse(text, "TcpExtInNoRoutes", &v), -ENOENT);
	assert_int_equal(metrics_netstat_parse("MPTcpExt: A B\nMPTcpExt: 1\n", "MPTcpExtB", &v),
			 -ENOENT);
	assert_int_equal(metrics_netstat_parse("", "MPTcpExtB", &v), -ENOENT);
	assert_int_equal(metrics_netstat_parse("MPTcpExt: B", "MPTcpExtB", &v), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_counter_family_is_help_type_then_samples),
		cmocka_unit_test(label_values_and_help_are_escaped),
		cmocka_unit_test(a_histogram_is_cumulative_and_ends_in_inf),
		cmocka_unit_test(special_values_are_spelled_as_prometheus_does),
		cmocka_unit_test(names_are_checked),
		cmocka_unit_test(concurrent_observers_lose_nothing),
		cmocka_unit_test(netstat_counters_are_found_by_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
