// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * upstream: the gateway's converter choice and the RFC 8803 back-off, without sockets or a
 * clock: order of preference, doubling, the caps, a refusal against an unreachable converter,
 * and the end of a back-off when a converter answers.
 */
#include <stdarg.h>
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

static void a_refusal_backs_off_30_s_doubling_to_5_min(void **state)
{
	struct upstream up;
	uint64_t now = 1000, backoff;
	const uint64_t want[] = { 30000, 60000, 120000, 240000, 300000, 300000 };

	upstream_init(&up, 2);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_true(upstream_failed(&up, 0, true, now, &backoff));
		assert_int_equal(backoff, want[i]);
		assert_false(upstream_usable(&up, 0, now + backoff - 1));
		assert_int_equal(upstream_pick(&up, 0, now), 1);
		now += backoff;
		assert_true(upstream_usable(&up, 0, now));
	}
}

static void failures_while_backing_off_do_not_extend_it(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 1);
	assert_true(upstream_failed(&up, 0, false, 0, &backoff));
	assert_int_equal(backoff, UPSTREAM_BACKOFF_UNREACHABLE_MS);
	assert_false(upstream_failed(&up, 0, false, 10, &backoff));
	assert_int_equal(up.conv[0].retry_at_ms, UPSTREAM_BACKOFF_UNREACHABLE_MS);
	assert_int_equal(up.conv[0].failures, 2);
}

static void an_unreachable_converter_is_tried_anyway_a_refusing_one_is_not(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 2);
	upstream_failed(&up, 0, false, 0, &backoff); /* unreachable */
	upstream_failed(&up, 1, true, 0, &backoff);  /* refused */
	assert_int_equal(upstream_pick(&up, 0, 10), -1);
	assert_int_equal(upstream_pick_for(&up, 0, 10), 0);
	assert_int_equal(upstream_pick_for(&up, 1u << 0, 10), -1);
}

static void an_answer_ends_the_back_off(void **state)
{
	struct upstream up;
	uint64_t backoff;

	upstream_init(&up, 1);
	upstream_failed(&up, 0, true, 0, &backoff);
	upstream_ok(&up, 0);
	assert_true(upstream_usable(&up, 0, 1));
	assert_true(upstream_failed(&up, 0, true, 1, &backoff));
	assert_int_equal(backoff, UPSTREAM_BACKOFF_REFUSED_MS); /* starts over, not doubled */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_first_converter_in_order_is_picked),
		cmocka_unit_test(a_refusal_backs_off_30_s_doubling_to_5_min),
		cmocka_unit_test(failures_while_backing_off_do_not_extend_it),
		cmocka_unit_test(an_unreachable_converter_is_tried_anyway_a_refusing_one_is_not),
		cmocka_unit_test(an_answer_ends_the_back_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
