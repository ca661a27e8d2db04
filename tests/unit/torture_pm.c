// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pm: the netlink messages src/kernel/pm.c builds and parses, without a kernel. Includes pm.c to reach
 * its static builders and parsers: event parsing (addresses, byte orders, ids, unknown and
 * malformed attributes), the address nest of a request (port in host order), extended acks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/kernel/pm.c"

static alignas(struct nlmsghdr) char buf[PM_RECV_SIZE];

static struct nlmsghdr *event_start(uint8_t cmd)
{
	memset(buf, 0, sizeof(buf));
	return pm_msg_start(buf, 28, cmd, PM_NL_VERSION, 0);
}

static void put_v4(struct nlmsghdr *nlh, uint16_t type, const char *text)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	mnl_attr_put(nlh, type, 4, &a);
}

static void sub_established_is_parsed_with_ports_in_network_order(void **state)
{
	struct nlmsghdr *nlh = event_start(PM_EVENT_SUB_ESTABLISHED);
	struct pm_event ev;
	char a[ADDR_STRLEN];

	mnl_attr_put_u32(nlh, PM_NL_EV_TOKEN, 0xc57ad8d7);
	mnl_attr_put_u16(nlh, PM_NL_EV_FAMILY, AF_INET);
	mnl_attr_put_u8(nlh, PM_NL_EV_LOC_ID, 1);
	mnl_attr_put_u8(nlh, PM_NL_EV_REM_ID, 0);
	put_v4(nlh, PM_NL_EV_SADDR4, "10.10.2.1");
	put_v4(nlh, PM_NL_EV_DADDR4, "10.99.0.1");
	mnl_attr_put_u16(nlh, PM_NL_EV_SPORT, htons(53559));
	mnl_attr_put_u16(nlh, PM_NL_EV_DPORT, htons(7400));
	mnl_attr_put_u8(nlh, PM_NL_EV_BACKUP, 1);
	mnl_attr_put_u32(nlh, PM_NL_EV_IF_IDX, 3);
	mnl_attr_put_u8(nlh, PM_NL_EV_ERROR, 104);

	assert_int_equal(pm_parse_event(nlh, &ev), 0);
	assert_int_equal(ev.type, PM_EVENT_SUB_ESTABLISHED);
	assert_string_equal(pm_event_name(ev.type), "sub_established");
	assert_int_equal(ev.token, 0xc57ad8d7);
	assert_true(ev.has_addrs);
	assert_string_equal(addr_format(&ev.local, true, a), "10.10.2.1:53559");
	assert_string_equal(addr_format(&ev.remote, true, a), "10.99.0.1:7400");
	assert_int_equal(ev.loc_id, 1);
	assert_int_equal(ev.rem_id, 0);
	assert_int_equal(ev.ifindex, 3);
	assert_true(ev.backup);
	assert_int_equal(ev.error, 104);
}

static void ipv6_addresses_are_kept_as_is(void **state)
{
	struct nlmsghdr *nlh = event_start(PM_EVENT_ESTABLISHED);
	struct in6_addr s6, d6;
	struct pm_event ev;
	char a[ADDR_STRLEN];

	inet_pton(AF_INET6, "fd00:10:2::1", &s6);
	inet_pton(AF_INET6, "fd00:99::1", &d6);
	mnl_attr_put(nlh, PM_NL_EV_SADDR6, 16, &s6);
	mnl_attr_put(nlh, PM_NL_EV_DADDR6, 16, &d6);
	mnl_attr_put_u16(nlh, PM_NL_EV_DPORT, htons(443));
	assert_int_equal(pm_parse_event(nlh, &ev), 0);
	assert_string_equal(addr_format(&ev.local, true, a), "[fd00:10:2::1]:0");
	assert_string_equal(addr_format(&ev.remote, true, a), "[fd00:99::1]:443");
}

static void closed_event_has_no_addresses(void **state)
{
	struct nlmsghdr *nlh = event_start(PM_EVENT_CLOSED);
	struct pm_event ev;

	mnl_attr_put_u32(nlh, PM_NL_EV_TOKEN, 7);
	assert_int_equal(pm_parse_event(nlh, &ev), 0);
	assert_int_equal(ev.type, PM_EVENT_CLOSED);
	assert_false(ev.has_addrs);
	assert_int_equal(ev.token, 7);
}

static void unknown_attributes_and_events_are_skipped(void **state)
{
	struct nlmsghdr *nlh = event_start(99);
	struct pm_event ev;

	mnl_attr_put_u32(nlh, PM_NL_EV_TOKEN, 9);
	mnl_attr_put_u64(nlh, 200, 1); /* a future attribute */
	mnl_attr_put_u32(nlh, PM_NL_EV_RESET_REASON, 1);
	assert_int_equal(pm_parse_event(nlh, &ev), 0);
	assert_int_equal(ev.token, 9);
	assert_string_equal(pm_event_name(ev.type), "unknown");
}

static void wrong_sized_attribute_rejects_the_event(void **state)
{
	struct nlmsghdr *nlh = event_start(PM_EVENT_SUB_CLOSED);
	struct pm_event ev;

	mnl_attr_put_u16(nlh, PM_NL_EV_TOKEN, 9); /* u32 expected */
	assert_int_equal(pm_parse_event(nlh, &ev), -EBADMSG);
	nlh = event_start(PM_EVENT_SUB_CLOSED);
	mnl_attr_put(nlh, PM_NL_EV_SADDR4, 3, "abc");
	assert_int_equal(pm_parse_event(nlh, &ev), -EBADMSG);
}

static void truncated_header_rejects_the_event(void **state)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));
	struct pm_event ev;

	nlh->nlmsg_len += 2; /* half a genlmsghdr */
	assert_int_equal(pm_parse_event(nlh, &ev), -EBADMSG);
}

static void request_address_nest_has_port_in_host_order(void **state)
{
	struct nlmsghdr *nlh = event_start(PM_NL_CMD_SUBFLOW_CREATE);
	struct addr_port ap = { 0 };
	const struct nlattr *nest, *attr;
	int seen = 0;

	assert_true(addr_parse("10.10.2.1:7400", -1, &ap));
	pm_put_addr(nlh, PM_NL_ATTR_ADDR, &ap, 3, PM_NL_ADDR_FLAG_BACKUP, 4);
	nest = (const struct nlattr *)mnl_nlmsg_get_payload_offset(nlh, sizeof(struct genlmsghdr));
	assert_int_equal(mnl_attr_get_type(nest), PM_NL_ATTR_ADDR);
	mnl_attr_for_each_nested(attr, nest)
	{
		switch (mnl_attr_get_type(attr)) {
		case PM_NL_ADDR_ATTR_FAMILY:
			assert_int_equal(mnl_attr_get_u16(attr), AF_INET);
			break;
		case PM_NL_ADDR_ATTR_ADDR4:
			assert_memory_equal(mnl_attr_get_payload(attr), ap.ip + 12, 4);
			break;
		case PM_NL_ADDR_ATTR_ID:
			assert_int_equal(mnl_attr_get_u8(attr), 3);
			break;
		case PM_NL_ADDR_ATTR_PORT:
			assert_int_equal(mnl_attr_get_u16(attr), 7400);
			break;
		case PM_NL_ADDR_ATTR_FLAGS:
			assert_int_equal(mnl_attr_get_u32(attr), 4);
			break;
		case PM_NL_ADDR_ATTR_IF_IDX:
			assert_int_equal(mnl_attr_get_u32(attr), 4);
			break;
		default:
			fail();
		}
		seen++;
	}
	assert_int_equal(seen, 6);
}

/* An NLMSG_ERROR as the kernel sends it with NETLINK_EXT_ACK and NETLINK_CAP_ACK. */
static struct nlmsghdr *ext_ack(int error, const char *msg, bool capped)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));
	struct nlmsgerr *err;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0);
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = error;
	err->msg.nlmsg_len = sizeof(err->msg) + (capped ? 0 : 24);
	if (!capped)
		mnl_nlmsg_put_extra_header(nlh, 24); /* the echoed request's payload */
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	return nlh;
}

static void extended_ack_message_reaches_err_msg(void **state)
{
	struct pm pm = { 0 };
	struct pm_req req = { .pm = &pm };

	errno = 0;
	assert_int_equal(pm_error_cb(ext_ack(-EINVAL, "invalid token", true), &req), MNL_CB_ERROR);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(pm.err_msg, "invalid token");

	pm.err_msg[0] = '\0';
	assert_int_equal(pm_error_cb(ext_ack(-ESRCH, "subflow not found", false), &req),
			 MNL_CB_ERROR);
	assert_int_equal(errno, ESRCH);
	assert_string_equal(pm.err_msg, "subflow not found");

	pm.err_msg[0] = '\0';
	assert_int_equal(pm_error_cb(ext_ack(0, "", true), &req), MNL_CB_STOP);
}

static void overlong_kernel_message_is_truncated(void **state)
{
	struct pm pm = { 0 };
	struct pm_req req = { .pm = &pm };
	char longmsg[300];

	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	pm_error_cb(ext_ack(-EINVAL, longmsg, true), &req);
	assert_int_equal(strlen(pm.err_msg), sizeof(pm.err_msg) - 1);
}

static void local_id_zero_is_refused_before_the_kernel(void **state)
{
	struct pm pm = { .family_id = 28 };
	struct addr_port l = { 0 }, r = { 0 };

	assert_true(addr_parse_ip("10.10.2.1", l.ip));
	assert_true(addr_parse("10.99.0.1:7400", -1, &r));
	assert_int_equal(pm_subflow_create(&pm, 1, 0, &l, 0, &r, false), -EINVAL);
	assert_true(pm.err_msg[0] != '\0');
	assert_true(addr_parse("[fd00:99::1]:7400", -1, &r));
	assert_int_equal(pm_subflow_create(&pm, 1, 1, &l, 0, &r, false), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sub_established_is_parsed_with_ports_in_network_order),
		cmocka_unit_test(ipv6_addresses_are_kept_as_is),
		cmocka_unit_test(closed_event_has_no_addresses),
		cmocka_unit_test(unknown_attributes_and_events_are_skipped),
		cmocka_unit_test(wrong_sized_attribute_rejects_the_event),
		cmocka_unit_test(truncated_header_rejects_the_event),
		cmocka_unit_test(request_address_nest_has_port_in_host_order),
		cmocka_unit_test(extended_ack_message_reaches_err_msg),
		cmocka_unit_test(overlong_kernel_message_is_truncated),
		cmocka_unit_test(local_id_zero_is_refused_before_the_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
