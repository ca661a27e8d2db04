// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * upstream: the gateway's converter choice and the RFC 8803 back-off, without sockets or a
 * clock: order of preference, no back-off for one refused connection, failures in a row,
 * doubling, the 30 s cap, a refusal against an unreachable converter, and the end of a
 * back-off when a converter answers.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "upstream.h"

static void the_first_converter_in_order_is_picked(void **state)
{
	struct upstream up;

	upstream_init(&up, 3);
	assert_int_equal(upstream_pick(&up, 0, 1000), 0);
	assert_int_equal(upstream_pick(&up, 1u << 0, 1000), 1);
	assert_int_equal(upstream_pick(&up, 7, 1000), -1);
	upstream_init(&up, 0);
	assert_int_equal(upstream_pick(&up, 0, 1000), -1);
}

/* n failures of converter i at now: the last one's result. */
static bool fail_n(struct upstream *up, unsigned i, bool refused, uint64_t now, unsigned n,
		   uint64_t *backoff)
{
	bool started = false;

	for (unsigned k = 0; k < n; k++)
		started = upstream_failed(up, i, refused, now, backoff);
	return started;
}

static void one_refused_connection_backs_nothing_off(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 1);
	for (unsigned k = 1; k < UPSTREAM_FAILS_IN_ROW; k++) {
		assert_false(upstream_failed(&up, 0, true, 1000, &backoff));
		assert_int_equal(backoff, 0);
		assert_true(upstream_usable(&up, 0, 1000));
		assert_int_equal(upstream_pick_for(&up, 0, 1000), 0);
	}
}

static void a_success_between_refusals_resets_the_count(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 1);
	for (int round = 0; round < 10; round++) {
		assert_false(fail_n(&up, 0, true, 1000, UPSTREAM_FAILS_IN_ROW - 1, &backoff));
		assert_false(upstream_ok(&up, 0)); /* was not backing off */
	}
	assert_true(upstream_usable(&up, 0, 1000));
	assert_int_equal(up.conv[0].failures, 10 * (UPSTREAM_FAILS_IN_ROW - 1));
}

static void failures_in_a_row_back_off_1_s_doubling_to_30_s(void **state)
{
	struct upstream up;
	uint64_t now = 1000, backoff;
	const uint64_t want[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };

	upstream_init(&up, 2);
	assert_true(fail_n(&up, 0, true, now, UPSTREAM_FAILS_IN_ROW, &backoff));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (i) /* after a back-off, one more failure is enough to extend it */
			assert_true(upstream_failed(&up, 0, true, now, &backoff));
		assert_int_equal(backoff, want[i]);
		assert_false(upstream_usable(&up, 0, now + backoff - 1));
		assert_int_equal(upstream_pick(&up, 0, now), 1);
		assert_int_equal(upstream_active(&up, now), 1);
		now += backoff;
		assert_true(upstream_usable(&up, 0, now));
		assert_int_equal(upstream_active(&up, now), 0);
	}
}

static void after_a_back_off_one_connection_tries_it_the_others_go_on(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 2);
	fail_n(&up, 0, false, 0, UPSTREAM_FAILS_IN_ROW, &backoff);
	assert_int_equal(upstream_pick_for(&up, 0, 10), 1);
	/* the back-off is over: the first connection tries converter 0 ... */
	assert_int_equal(upstream_pick_for(&up, 0, backoff), 0);
	/* ... the next ones keep using converter 1 while that trial runs */
	assert_int_equal(upstream_pick_for(&up, 0, backoff + 10), 1);
	assert_int_equal(upstream_active(&up, backoff + 10), 1);
	/* the trial failed: a longer back-off at once, no new count of failures in a row */
	assert_true(upstream_failed(&up, 0, false, backoff + 900, &backoff));
	assert_int_equal(backoff, 2 * UPSTREAM_BACKOFF_FIRST_MS);
	/* a trial that never reports ends by itself */
	assert_int_equal(upstream_pick_for(&up, 0, 1000 + 900 + 2000), 0);
	assert_int_equal(upstream_pick_for(&up, 0, 1000 + 900 + 2000 + UPSTREAM_TRIAL_MS), 0);
	/* the trial answered: back to normal */
	assert_true(upstream_ok(&up, 0));
	assert_int_equal(upstream_pick_for(&up, 0, 10000), 0);
	assert_int_equal(upstream_pick_for(&up, 0, 10001), 0);
}

static void never_longer_than_rfc_8803_asks(void **state)
{
	struct upstream up;
	uint64_t now = 0, backoff;

	upstream_init(&up, 1);
	for (int k = 0; k < 100; k++) {
		upstream_failed(&up, 0, k & 1, now, &backoff);
		assert_true(backoff <= 30000);
		now += backoff + 1;
	}
}

static void failures_while_backing_off_do_not_extend_it(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 1);
	assert_true(fail_n(&up, 0, false, 0, UPSTREAM_FAILS_IN_ROW, &backoff));
	assert_int_equal(backoff, UPSTREAM_BACKOFF_FIRST_MS);
	assert_false(upstream_failed(&up, 0, false, 10, &backoff));
	assert_int_equal(up.conv[0].retry_at_ms, UPSTREAM_BACKOFF_FIRST_MS);
	assert_int_equal(up.conv[0].failures, UPSTREAM_FAILS_IN_ROW + 1);
}

static void an_unreachable_converter_is_tried_anyway_a_refusing_one_is_not(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 2);
	fail_n(&up, 0, false, 0, UPSTREAM_FAILS_IN_ROW, &backoff); /* unreachable */
	fail_n(&up, 1, true, 0, UPSTREAM_FAILS_IN_ROW, &backoff);  /* refused */
	assert_int_equal(upstream_pick(&up, 0, 10), -1);
	assert_int_equal(upstream_pick_for(&up, 0, 10), 0);
	assert_int_equal(upstream_pick_for(&up, 1u << 0, 10), -1);
	assert_int_equal(upstream_active(&up, 10), 0);
}

static void an_answer_or_probe_ends_the_back_off(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 1);
	fail_n(&up, 0, true, 0, UPSTREAM_FAILS_IN_ROW + 3, &backoff);
	assert_true(upstream_ok(&up, 0));
	assert_true(upstream_usable(&up, 0, 1));
	/* starts over: a count of failures in a row again, then the short first back-off */
	assert_false(upstream_failed(&up, 0, true, 1, &backoff));
	assert_true(fail_n(&up, 0, true, 1, UPSTREAM_FAILS_IN_ROW - 1, &backoff));
	assert_int_equal(backoff, UPSTREAM_BACKOFF_FIRST_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_first_converter_in_order_is_picked),
		cmocka_unit_test(one_refused_connection_backs_nothing_off),
		cmocka_unit_test(a_success_between_refusals_resets_the_count),
		cmocka_unit_test(failures_in_a_row_back_off_1_s_doubling_to_30_s),
		cmocka_unit_test(after_a_back_off_one_connection_tries_it_the_others_go_on),
		cmocka_unit_test(never_longer_than_rfc_8803_asks),
		cmocka_unit_test(failures_while_backing_off_do_not_extend_it),
		cmocka_unit_test(an_unreachable_converter_is_tried_anyway_a_refusing_one_is_not),
		cmocka_unit_test(an_answer_or_probe_ends_the_back_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
