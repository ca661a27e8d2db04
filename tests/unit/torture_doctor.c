// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * doctor_verdict: the pure half of `mpconvctl doctor`. Facts in, verdict lines out: MPTCP off
 * or absent, limits per role and path manager, rp_filter (max of all and the interface), TFO
 * bits per role, clock, descriptors, pipe quota, ProtectKernelTunables per role; unit text
 * parsing (last assignment wins); the JSON escapes what it quotes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "doctor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct doctor_report report;

static const struct doctor_line *judged(void)
{
	assert_int_equal(report.len, 1);
	return &report.lines[0];
}

static void fresh(void)
{
	memset(&report, 0, sizeof(report));
	report.role = "converter";
}

static void mptcp_off_or_absent_fails_with_the_sysctl_as_fix(void **state)
{
	fresh();
	doctor_judge_mptcp_enabled(&report, 0);
	assert_int_equal(judged()->verdict, DOCTOR_FAIL);
	assert_string_equal(judged()->fix, "sysctl -w net.mptcp.enabled=1");
	fresh();
	doctor_judge_mptcp_enabled(&report, -1);
	assert_int_equal(judged()->verdict, DOCTOR_FAIL);
	fresh();
	doctor_judge_mptcp_enabled(&report, 1);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	assert_string_equal(judged()->fix, ""); /* an ok line carries no fix */
}

static void limits_depend_on_role_and_path_manager(void **state)
{
	/* converter: subflows 0 refuses every join */
	fresh();
	doctor_judge_limits(&report, false, false, true, 0, 0, 0);
	assert_int_equal(judged()->verdict, DOCTOR_FAIL);
	assert_string_equal(judged()->fix, "ip mptcp limits set subflows 2 add_addr_accepted 0");
	fresh();
	doctor_judge_limits(&report, false, false, true, 1, 0, 0);
	assert_int_equal(judged()->verdict, DOCTOR_WARN);
	fresh();
	doctor_judge_limits(&report, false, false, true, 2, 0, 0);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	/* gateway, in-kernel PM, 4 links: 3 extra subflows needed */
	fresh();
	doctor_judge_limits(&report, true, false, true, 2, 1, 4);
	assert_int_equal(judged()->verdict, DOCTOR_WARN);
	assert_string_equal(judged()->fix, "ip mptcp limits set subflows 3 add_addr_accepted 1");
	/* gateway, userspace PM: the limits do not apply */
	fresh();
	doctor_judge_limits(&report, true, true, true, 0, 0, 4);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	/* unreadable: a warning, not a pass */
	fresh();
	doctor_judge_limits(&report, false, false, false, 0, 0, 0);
	assert_int_equal(judged()->verdict, DOCTOR_WARN);
}

static void rp_filter_is_the_stricter_of_all_and_the_interface(void **state)
{
	fresh();
	doctor_judge_rp_filter(&report, "wan1", 1, 0);
	assert_int_equal(judged()->verdict, DOCTOR_WARN);
	assert_string_equal(judged()->subject, "wan1");
	assert_non_null(strstr(judged()->fix, "net.ipv4.conf.wan1.rp_filter=2"));
	fresh();
	doctor_judge_rp_filter(&report, "wan1", 1, 2); /* max(1, 2) = 2: loose */
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	fresh();
	doctor_judge_rp_filter(&report, "wan1", 0, 0);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
}

static void fastopen_needs_the_server_bit_on_a_converter_the_client_bit_on_a_gateway(void **state)
{
	fresh();
	doctor_judge_fastopen(&report, false, true, 1);
	assert_int_equal(judged()->verdict, DOCTOR_FAIL);
	assert_non_null(strstr(judged()->fix, "net.ipv4.tcp_fastopen=3"));
	fresh();
	doctor_judge_fastopen(&report, false, true, 2);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	fresh();
	doctor_judge_fastopen(&report, true, true, 2);
	assert_int_equal(judged()->verdict, DOCTOR_FAIL);
	fresh();
	doctor_judge_fastopen(&report, true, false, 0); /* gateway not in tfo mode */
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	fresh();
	doctor_judge_fastopen(&report, false, false, 0); /* converter with tfo = no */
	assert_int_equal(judged()->verdict, DOCTOR_OK);
}

static void clock_unset_fails_unsynchronised_warns_only_with_cookies(void **state)
{
	fresh();
	doctor_judge_clock(&report, 86400, 1, false, 3600);
	assert_int_equal(judged()->verdict, DOCTOR_FAIL);
	fresh();
	doctor_judge_clock(&report, 1800000000, 0, true, 3600);
	assert_int_equal(judged()->verdict, DOCTOR_WARN);
	fresh();
	doctor_judge_clock(&report, 1800000000, 0, false, 3600);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
}

static void fds_and_pipes_are_sized_per_session(void **state)
{
	fresh();
	doctor_judge_fds(&report, 1024, "test", 10000);
	assert_int_equal(judged()->verdict, DOCTOR_WARN);
	fresh();
	doctor_judge_fds(&report, 1048576, "test", 10000);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	/* 16384 pages of 4 KiB = 64 MiB: 32 sessions of two 1 MiB pipes */
	fresh();
	doctor_judge_pipes(&report, true, 16384, 1 << 20, false, 33);
	assert_int_equal(judged()->verdict, DOCTOR_WARN);
	assert_non_null(strstr(judged()->detail, "only 32 sessions"));
	fresh();
	doctor_judge_pipes(&report, true, 16384, 1 << 20, false, 32);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	fresh();
	doctor_judge_pipes(&report, true, 16384, 1 << 20, true, 100000);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
	fresh();
	doctor_judge_pipes(&report, false, 16384, 1 << 20, false, 100000);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
}

static void protect_kernel_tunables_blocks_only_the_gateway(void **state)
{
	fresh();
	doctor_judge_tunables(&report, true, "mpconv-gateway.service", true);
	assert_int_equal(judged()->verdict, DOCTOR_FAIL);
	fresh();
	doctor_judge_tunables(&report, false, "mpconv-converter.service", true);
	assert_int_equal(judged()->verdict, DOCTOR_OK);
}

static void unit_text_last_assignment_wins(void **state)
{
	const char *text = "[Service]\nProtectKernelTunables=yes\nLimitNOFILE=1048576\n"
			   "\n[Service]\n  ProtectKernelTunables=no  \nProtectKernelTunablesX=yes\n";
	char value[32];

	assert_true(doctor_unit_value(text, "ProtectKernelTunables", value, sizeof(value)));
	assert_string_equal(value, "no");
	assert_false(doctor_unit_bool(value));
	assert_true(doctor_unit_value(text, "LimitNOFILE", value, sizeof(value)));
	assert_string_equal(value, "1048576");
	assert_false(doctor_unit_value(text, "User", value, sizeof(value)));
	assert_true(doctor_unit_bool("yes") && doctor_unit_bool("true") && doctor_unit_bool("1"));
}

static void json_escapes_quotes_and_counts_verdicts(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fresh();
	doctor_add(&report, DOCTOR_FAIL, "config", "", "fix \"it\"", "bad \"value\"\n");
	doctor_add(&report, DOCTOR_OK, "mptcp", "", "never shown", "on");
	assert_string_equal(report.lines[1].fix, "");
	doctor_print_json(f, &report);
	fclose(f);
	assert_non_null(strstr(buf, "\"detail\":\"bad \\\"value\\\"\\u000a\""));
	assert_non_null(strstr(buf, "\"ok\":1,\"warn\":0,\"fail\":1"));
	free(buf);
}

static void report_drops_lines_past_its_size(void **state)
{
	fresh();
	for (int i = 0; i < DOCTOR_MAX_LINES + 3; i++)
		doctor_add(&report, DOCTOR_OK, "x", "", NULL, "%d", i);
	assert_int_equal(report.len, DOCTOR_MAX_LINES);
	assert_true(report.overflow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mptcp_off_or_absent_fails_with_the_sysctl_as_fix),
		cmocka_unit_test(limits_depend_on_role_and_path_manager),
		cmocka_unit_test(rp_filter_is_the_stricter_of_all_and_the_interface),
		cmocka_unit_test(fastopen_needs_the_server_bit_on_a_converter_the_client_bit_on_a_gateway),
		cmocka_unit_test(clock_unset_fails_unsynchronised_warns_only_with_cookies),
		cmocka_unit_test(fds_and_pipes_are_sized_per_session),
		cmocka_unit_test(protect_kernel_tunables_blocks_only_the_gateway),
		cmocka_unit_test(unit_text_last_assignment_wins),
		cmocka_unit_test(json_escapes_quotes_and_counts_verdicts),
		cmocka_unit_test(report_drops_lines_past_its_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
