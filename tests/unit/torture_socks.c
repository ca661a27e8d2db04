// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * socks: every message, every truncation (each prefix of a valid message asks for more bytes
 * and never reads past them), what is refused and with which reply code, and the gateway's
 * pipelined hello read back by the server side.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "socks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct addr_port ap(const char *text)
{
	struct addr_port a;

	if (!addr_parse(text, -1, &a))
		fail_msg("bad address '%s'", text);
	return a;
}

/* Each strict prefix of msg[0..len) parses as "need more", on a heap copy of exactly that size
 * (ASan catches any read past it). */
static void prefixes_ask_for_more(const uint8_t *msg, size_t len, int which)
{
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		struct addr_port dest;
		enum socks_reply code;
		bool no_auth;
		int ret;

		memcpy(copy, msg, n);
		ret = which == 0   ? socks_parse_greeting(copy, n, &no_auth)
		      : which == 1 ? socks_parse_request(copy, n, &dest, &code)
				   : socks_parse_server(copy, n, &code);
		free(copy);
		if (ret != -EAGAIN)
			fail_msg("prefix of %zu/%zu bytes gave %d", n, len, ret);
	}
}

static void greeting(void **state)
{
	static const uint8_t ok[] = { 5, 2, 2, 0 }, auth_only[] = { 5, 1, 2 }, v4[] = { 4, 1, 0 },
			     empty[] = { 5, 0 };
	bool no_auth = false;

	assert_int_equal(socks_parse_greeting(ok, sizeof(ok), &no_auth), 4);
	assert_true(no_auth);
	assert_int_equal(socks_parse_greeting(auth_only, sizeof(auth_only), &no_auth), 3);
	assert_false(no_auth);
	assert_int_equal(socks_parse_greeting(v4, sizeof(v4), &no_auth), -EPROTO);
	assert_int_equal(socks_parse_greeting(empty, sizeof(empty), &no_auth), -EPROTO);
	prefixes_ask_for_more(ok, sizeof(ok), 0);
}

static void requests(void **state)
{
	static const uint8_t v4[] = { 5, 1, 0, 1, 10, 0, 2, 2, 0x1f, 0x90, 'x' },
			     v6[] = { 5, 1, 0, 4, 0xfd, 0, 0, 2, 0, 0, 0, 0,
				      0,    0, 0, 0, 0,    0, 0, 2, 0, 80 },
			     name[] = { 5, 1, 0, 3, 3, 'a', '.', 'b', 0, 80 },
			     bind[] = { 5, 2, 0, 1, 10, 0, 2, 2, 0, 80 },
			     bad_atyp[] = { 5, 1, 0, 9, 1, 2, 3, 4, 0, 80 },
			     bad_rsv[] = { 5, 1, 1, 1, 1, 2, 3, 4, 0, 80 };
	struct addr_port dest, want;
	enum socks_reply code;

	assert_int_equal(socks_parse_request(v4, sizeof(v4), &dest, &code), 10); /* 'x' stays */
	assert_int_equal(code, SOCKS_OK);
	want = ap("10.0.2.2:8080");
	assert_memory_equal(&dest, &want, sizeof(dest));
	assert_int_equal(socks_parse_request(v6, sizeof(v6), &dest, &code), 22);
	want = ap("[fd00:2::2]:80");
	assert_memory_equal(&dest, &want, sizeof(dest));
	assert_int_equal(socks_parse_request(name, sizeof(name), &dest, &code), 10);
	assert_int_equal(code, SOCKS_ADDRESS_UNSUPPORTED);
	{
		static const uint8_t host[] = { 5, 1, 0, 3, 8, 's', 'r', 'v', '.', 't', 'e', 's', 't', 0, 80 },
				     odd[] = { 5, 1, 0, 3, 3, 'a', '/', 'b', 0, 80 };
		char out[SOCKS_NAME_MAX + 1];

		assert_true(socks_request_name(host, sizeof(host), out));
		assert_string_equal(out, "srv.test");
		assert_false(socks_request_name(host, sizeof(host) - 1, out)); /* the port is missing */
		assert_false(socks_request_name(odd, sizeof(odd), out)); /* not a host name */
		assert_false(socks_request_name(v4, sizeof(v4), out));
	}
	assert_int_equal(socks_parse_request(bind, sizeof(bind), &dest, &code), 10);
	assert_int_equal(code, SOCKS_COMMAND_UNSUPPORTED);
	assert_int_equal(socks_parse_request(bad_atyp, sizeof(bad_atyp), &dest, &code), -EPROTO);
	assert_int_equal(socks_parse_request(bad_rsv, sizeof(bad_rsv), &dest, &code), -EPROTO);
	prefixes_ask_for_more(v4, 10, 1);
	prefixes_ask_for_more(v6, sizeof(v6), 1);
	prefixes_ask_for_more(name, sizeof(name), 1);
}

/* What the gateway sends, the server side reads back, message by message. */
static void client_hello_round_trip(void **state)
{
	const char *const dests[] = { "192.0.2.9:443", "[2001:db8::9]:22" };

	for (size_t i = 0; i < 2; i++) {
		uint8_t hello[3 + SOCKS_REPLY_MAX];
		struct addr_port dest, want = ap(dests[i]);
		enum socks_reply code;
		bool no_auth = false;
		size_t len = socks_put_client_hello(hello, &want);
		int g = socks_parse_greeting(hello, len, &no_auth);

		assert_int_equal(g, 3);
		assert_true(no_auth);
		assert_int_equal(socks_parse_request(hello + g, len - (size_t)g, &dest, &code),
				 (int)len - g);
		assert_int_equal(code, SOCKS_OK);
		assert_memory_equal(&dest, &want, sizeof(dest));
	}
}

static void server_answers(void **state)
{
	uint8_t buf[2 + SOCKS_REPLY_MAX + 3];
	struct addr_port bound = ap("10.0.2.1:40000"), bound6 = ap("[fd00:2::1]:40000");
	enum socks_reply code = SOCKS_GENERAL_FAILURE;
	size_t n = socks_put_method(buf, SOCKS_METHOD_NONE);
	static const uint8_t no_method[] = { 5, 0xff }, bad[] = { 5, 0, 4, 0, 0, 1 },
			     name[] = { 5, 0, 5, 0, 0, 3, 2, 'h', 'i', 0, 1 };

	n += socks_put_reply(buf + n, SOCKS_OK, &bound);
	assert_int_equal(n, 12);
	memcpy(buf + n, "abc", 3); /* data after the reply stays for the relay */
	assert_int_equal(socks_parse_server(buf, n + 3, &code), 12);
	assert_int_equal(code, SOCKS_OK);
	prefixes_ask_for_more(buf, n, 2);

	n = socks_put_method(buf, SOCKS_METHOD_NONE);
	n += socks_put_reply(buf + n, SOCKS_REFUSED, &bound6);
	assert_int_equal(n, 24);
	assert_int_equal(socks_parse_server(buf, n, &code), 24);
	assert_int_equal(code, SOCKS_REFUSED);

	assert_int_equal(socks_parse_server(no_method, sizeof(no_method), &code), 2);
	assert_int_equal(code, SOCKS_NOT_ALLOWED);
	assert_int_equal(socks_parse_server(bad, sizeof(bad), &code), -EPROTO);
	assert_int_equal(socks_parse_server(name, sizeof(name), &code), (int)sizeof(name));
	assert_string_equal(socks_reply_name(SOCKS_REFUSED), "connection refused");
	assert_string_equal(socks_reply_name((enum socks_reply)42), "unknown");
	assert_string_equal(socks_reply_slug(SOCKS_REFUSED), "connection_refused");
	assert_string_equal(socks_reply_slug(SOCKS_HOST_UNREACHABLE), "host_unreachable");
	assert_string_equal(socks_reply_slug((enum socks_reply)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(greeting),
		cmocka_unit_test(requests),
		cmocka_unit_test(client_hello_round_trip),
		cmocka_unit_test(server_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
