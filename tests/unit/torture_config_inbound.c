// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config_inbound: the publish lines (IPv4 and IPv6 LAN services, several lines, duplicates,
 * malformed ones), the gateway's name and key, the converter's reverse listener, port range
 * and CPE table, and the checks that span them (config_finish). Keys never appear in errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <errno.h>
#include <string.h>

#define KEY_A	      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B	      "f0e0d0c0b0a090807060504030201000f0e0d0c0b0a090807060504030201000"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void set_ok(struct config *cfg, const char *key, const char *value)
{
	char err[CONFIG_ERR_LEN] = "";

	if (config_set(cfg, key, value, err))
		fail_msg("%s = '%s' refused: %s", key, value, err);
}

static void gateway_cfg(struct config *cfg)
{
	config_init(cfg);
	cfg->role = CONFIG_GATEWAY;
	set_ok(cfg, "converter", "192.0.2.1");
	set_ok(cfg, "lan", "lan0");
}

static bool ip_is(const uint8_t ip[16], const char *text)
{
	uint8_t want[16];

	assert_true(addr_parse_ip(text, want));
	return !memcmp(ip, want, 16);
}

static void publish_lines_take_ipv4_and_ipv6_services(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";

	gateway_cfg(&cfg);
	set_ok(&cfg, "publish", "tcp 8443 to 192.168.1.10:443");
	set_ok(&cfg, "publish", "tcp   2222  to   [fd00:1::10]:22");
	set_ok(&cfg, "inbound-name", "home-1");
	set_ok(&cfg, "inbound-key", KEY_A);
	assert_int_equal(config_finish(&cfg, err), 0);
	assert_int_equal(cfg.gateway.inbound.publish_len, 2);
	assert_int_equal(cfg.gateway.inbound.publish[0].public_port, 8443);
	assert_int_equal(cfg.gateway.inbound.publish[0].lan.port, 443);
	assert_true(ip_is(cfg.gateway.inbound.publish[0].lan.ip, "192.168.1.10"));
	assert_int_equal(cfg.gateway.inbound.publish[1].public_port, 2222);
	assert_true(ip_is(cfg.gateway.inbound.publish[1].lan.ip, "fd00:1::10"));
	/* the converter's inbound listener defaults to the first converter, port 5127 */
	assert_true(ip_is(cfg.gateway.inbound.converter.ip, "192.0.2.1"));
	assert_int_equal(cfg.gateway.inbound.converter.port, CONFIG_INBOUND_PORT);
	assert_int_equal(cfg.gateway.inbound.source, CONFIG_PUBLISH_CLIENT);
	assert_int_equal(cfg.gateway.inbound.pool, 4);
	assert_int_equal(cfg.gateway.inbound.key[1], 0x01);
	config_free(&cfg);
}

static void malformed_publish_lines_are_refused_with_the_value(void **state)
{
	static const struct {
		const char *value, *err;
	} bad[] = {
		{ "udp 53 to 192.168.1.1:53",
		  "publish: not 'tcp PUBLICPORT to LANADDR:LANPORT': 'udp 53 to 192.168.1.1:53'" },
		{ "tcp 8443 192.168.1.10:443",
		  "publish: not 'tcp PUBLICPORT to LANADDR:LANPORT': 'tcp 8443 192.168.1.10:443'" },
		{ "tcp 8443 to 192.168.1.10:443 extra",
		  "publish: not 'tcp PUBLICPORT to LANADDR:LANPORT': 'tcp 8443 to 192.168.1.10:443 "
		  "extra'" },
		{ "tcp 0 to 192.168.1.10:443",
		  "publish: public port not in 1..65535: 'tcp 0 to 192.168.1.10:443'" },
		{ "tcp 70000 to 192.168.1.10:443",
		  "publish: public port not in 1..65535: 'tcp 70000 to 192.168.1.10:443'" },
		{ "tcp 8443 to 192.168.1.10",
		  "publish: LAN destination is not an address:port: 'tcp 8443 to 192.168.1.10'" },
		{ "tcp 8443 to host.lan:443",
		  "publish: LAN destination is not an address:port: 'tcp 8443 to host.lan:443'" },
		{ "tcp 8443 to 0.0.0.0:443",
		  "publish: LAN destination must be one host: 'tcp 8443 to 0.0.0.0:443'" },
		{ "tcp 8443 to [ff02::1]:443",
		  "publish: LAN destination must be one host: 'tcp 8443 to [ff02::1]:443'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN] = "";

		gateway_cfg(&cfg);
		if (config_set(&cfg, "publish", bad[i].value, err) != -EINVAL)
			fail_msg("'%s' accepted", bad[i].value);
		if (strcmp(err, bad[i].err))
			fail_msg("'%s':\n  got      %s\n  expected %s", bad[i].value, err,
				 bad[i].err);
		config_free(&cfg);
	}
}

static void a_public_port_published_twice_is_refused(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";

	gateway_cfg(&cfg);
	set_ok(&cfg, "publish", "tcp 8443 to 192.168.1.10:443");
	assert_int_equal(config_set(&cfg, "publish", "tcp 8443 to 192.168.1.11:443", err), -EINVAL);
	assert_string_equal(err, "publish: public port 8443 published twice: "
				 "'tcp 8443 to 192.168.1.11:443'");
	config_free(&cfg);
}

static void more_than_sixteen_services_are_refused(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "", line[64];

	gateway_cfg(&cfg);
	for (int i = 0; i < CONFIG_MAX_PUBLISH; i++) {
		snprintf(line, sizeof(line), "tcp %d to 192.168.1.10:80", 8000 + i);
		set_ok(&cfg, "publish", line);
	}
	assert_int_equal(config_set(&cfg, "publish", "tcp 9000 to 192.168.1.10:80", err), -EINVAL);
	config_free(&cfg);
}

static void publishing_needs_a_name_and_a_key(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";

	gateway_cfg(&cfg);
	set_ok(&cfg, "publish", "tcp 8443 to 192.168.1.10:443");
	set_ok(&cfg, "inbound-name", "home");
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_non_null(strstr(err, "inbound-key"));
	config_free(&cfg);
	/* without publish lines, inbound is off and needs nothing */
	gateway_cfg(&cfg);
	assert_int_equal(config_finish(&cfg, err), 0);
	assert_int_equal(cfg.gateway.inbound.publish_len, 0);
	config_free(&cfg);
}

static void gateway_key_and_name_errors_never_show_the_key(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";
	static const char almost[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g";

	gateway_cfg(&cfg);
	assert_int_equal(config_set(&cfg, "inbound-key", almost, err), -EINVAL);
	assert_null(strstr(err, "0001020304"));
	assert_int_equal(config_set(&cfg, "inbound-key", KEY_A "00", err), -EINVAL);
	assert_int_equal(
		config_set(&cfg, "inbound-key",
			   "0000000000000000000000000000000000000000000000000000000000000000", err),
		-EINVAL);
	assert_int_equal(config_set(&cfg, "inbound-name", "has space", err), -EINVAL);
	assert_int_equal(
		config_set(&cfg, "inbound-name", "a-name-that-is-longer-than-32-chars", err),
		-EINVAL);
	set_ok(&cfg, "publish-source", "gateway");
	assert_int_equal(cfg.gateway.inbound.source, CONFIG_PUBLISH_GATEWAY);
	assert_int_equal(config_set(&cfg, "publish-source", "server", err), -EINVAL);
	set_ok(&cfg, "inbound-converter", "[2001:db8::1]");
	assert_int_equal(cfg.gateway.inbound.converter.port, CONFIG_INBOUND_PORT);
	assert_int_equal(config_set(&cfg, "inbound-pool", "0", err), -EINVAL);
	config_free(&cfg);
}

static void converter_cpe_table_parses_and_inherits_the_range(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";

	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "inbound-listen", "[::]");
	set_ok(&cfg, "inbound-public", "203.0.113.1");
	set_ok(&cfg, "inbound-ports", "20000-20999");
	set_ok(&cfg, "inbound-cpe", "home-1 " KEY_A " 20000-20009");
	set_ok(&cfg, "inbound-cpe", "home-2\t" KEY_B);
	assert_int_equal(config_finish(&cfg, err), 0);
	assert_true(cfg.converter.inbound.on);
	assert_int_equal(cfg.converter.inbound.listen.port, CONFIG_INBOUND_PORT);
	assert_true(ip_is(cfg.converter.inbound.public_addr.ip, "203.0.113.1"));
	assert_int_equal(cfg.converter.inbound.cpes_len, 2);
	assert_string_equal(cfg.converter.inbound.cpes[0].name, "home-1");
	assert_int_equal(cfg.converter.inbound.cpes[0].port_min, 20000);
	assert_int_equal(cfg.converter.inbound.cpes[0].port_max, 20009);
	assert_int_equal(cfg.converter.inbound.cpes[1].port_min, 20000);
	assert_int_equal(cfg.converter.inbound.cpes[1].port_max, 20999);
	assert_int_equal(cfg.converter.inbound.cpes[1].key[0], 0xf0);
	config_free(&cfg);
}

static void converter_cpe_errors_are_refused_without_the_key(void **state)
{
	static const struct {
		const char *value, *err;
	} bad[] = {
		{ "home " KEY_A " 20000-20009 extra",
		  "inbound-cpe: home: not a port range LO-HI: '20000-20009 extra'" },
		{ "home " KEY_A " 9-1", "inbound-cpe: home: not a port range LO-HI: '9-1'" },
		{ "home " KEY_A "ff",
		  "inbound-cpe: home: key is not 64 hex digits, or all zero (value not shown)" },
		{ "h/me " KEY_A, "inbound-cpe: a name is 1 to 32 of A-Z a-z 0-9 . _ -: 'h/me'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN] = "";

		config_init(&cfg);
		if (config_set(&cfg, "inbound-cpe", bad[i].value, err) != -EINVAL)
			fail_msg("'%s' accepted", bad[i].value);
		if (strcmp(err, bad[i].err))
			fail_msg("'%s':\n  got      %s\n  expected %s", bad[i].value, err,
				 bad[i].err);
		assert_null(strstr(err, "0001020304"));
		config_free(&cfg);
	}
}

static void converter_inbound_needs_ports_cpes_and_ranges_inside(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";

	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "inbound-listen", "192.0.2.1");
	set_ok(&cfg, "inbound-cpe", "a " KEY_A);
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_non_null(strstr(err, "inbound-ports"));
	config_free(&cfg);

	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "inbound-listen", "192.0.2.1");
	set_ok(&cfg, "inbound-ports", "20000-20099");
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_non_null(strstr(err, "inbound-cpe"));
	set_ok(&cfg, "inbound-cpe", "a " KEY_A " 19999-20010");
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_string_equal(err, "inbound-cpe: a: ports 19999-20010 outside inbound-ports "
				 "20000-20099");
	config_free(&cfg);

	config_init(&cfg);
	set_ok(&cfg, "inbound-cpe", "a " KEY_A);
	assert_int_equal(config_set(&cfg, "inbound-cpe", "a " KEY_B, err), -EINVAL);
	assert_string_equal(err, "inbound-cpe: CPE 'a' named twice");
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(publish_lines_take_ipv4_and_ipv6_services),
		cmocka_unit_test(malformed_publish_lines_are_refused_with_the_value),
		cmocka_unit_test(a_public_port_published_twice_is_refused),
		cmocka_unit_test(more_than_sixteen_services_are_refused),
		cmocka_unit_test(publishing_needs_a_name_and_a_key),
		cmocka_unit_test(gateway_key_and_name_errors_never_show_the_key),
		cmocka_unit_test(converter_cpe_table_parses_and_inherits_the_range),
		cmocka_unit_test(converter_cpe_errors_are_refused_without_the_key),
		cmocka_unit_test(converter_inbound_needs_ports_cpes_and_ranges_inside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
