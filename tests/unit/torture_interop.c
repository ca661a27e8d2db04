// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Golden vectors for interoperating with the independent RFC 8803 client (the LD_PRELOAD
 * library of the draft's authors), written by us from its wire behaviour, not copied: the
 * requests it sends (Connect with an IPv4-mapped address, optionally a Cookie TLV padded to a
 * word) decoded by our codec, and the replies it accepts. Its reply parser takes a 4-byte
 * header {1, words, 0x2263} followed only by Extended TCP Header (20, any length, opaque) or
 * Error (30) TLVs; any other TLV type, a bad magic or a short message is a refusal, which it
 * reports to the program as ECONNREFUSED. `model_client_accepts` below is that rule, so the
 * replies our converter builds (its own reply builder, on a loopback socket) are checked
 * against it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "convert.h"
#include "converter.h"

/* "0a0b" -> {0x0a, 0x0b}; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned int v;

		assert_true(n < cap);
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	assert_int_equal(hex[0], 0);
	return n;
}

enum model_verdict { MODEL_REFUSED = -1, MODEL_CONVERTED = 0, MODEL_ERROR_TLV = 1 };

/* The independent client's acceptance rule for a reply (see the header comment). */
static enum model_verdict model_client_accepts(const uint8_t *buf, size_t len)
{
	size_t total, off = 4;
	enum model_verdict v = MODEL_CONVERTED;

	if (len < 4 || buf[0] != 1 || buf[2] != 0x22 || buf[3] != 0x63)
		return MODEL_REFUSED;
	total = (size_t)buf[1] * 4;
	if (total < 4 || total > len)
		return MODEL_REFUSED;
	while (off < total) {
		size_t tlv = (size_t)buf[off + 1] * 4;

		if (total - off < 4 || tlv == 0 || tlv > total - off)
			return MODEL_REFUSED;
		if (buf[off] == CONV_TLV_ERROR)
			v = MODEL_ERROR_TLV;
		else if (buf[off] != CONV_TLV_EXT_TCP_HEADER)
			return MODEL_REFUSED;
		off += tlv;
	}
	return v;
}

/* --- what the client sends -------------------------------------------------------------- */

/* Connect to 192.0.2.1:443: header {1, 6 words, 0x2263}, Connect {10, 5 words, port, ::ffff:ip} */
#define REQ_CONNECT_V4 "01062263" "0a0501bb" "00000000000000000000ffffc0000201"
/* The same plus a 6-byte Cookie TLV: {22, 3 words, 0, 0, cookie, 2 bytes of zero padding} */
#define REQ_CONNECT_V4_COOKIE "01092263" "0a0501bb" "00000000000000000000ffffc0000201" \
			      "16030000" "a1b2c3d4e5f60000"
/* Connect to [2001:db8::5]:8080 */
#define REQ_CONNECT_V6 "01062263" "0a051f90" "20010db8000000000000000000000005"

static void client_connect_to_ipv4_decodes_to_a_mapped_address_and_port(void **state)
{
	uint8_t buf[64];
	size_t n = unhex(REQ_CONNECT_V4, buf, sizeof(buf));
	const uint8_t want[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	struct conv_message m;

	assert_int_equal(conv_parse(buf, n, CONV_MAX_LEN, CONV_FROM_CLIENT, 0, &m, NULL), 24);
	assert_int_equal(m.version, 1);
	assert_true(m.has_connect);
	assert_false(m.has_info || m.has_cookie || m.has_error);
	assert_int_equal(m.connect.port, 443);
	assert_memory_equal(m.connect.addr, want, 16);
	assert_int_equal(m.connect.options_len, 0);
}

static void client_connect_with_cookie_decodes_the_padded_cookie(void **state)
{
	uint8_t buf[64];
	size_t n = unhex(REQ_CONNECT_V4_COOKIE, buf, sizeof(buf));
	const uint8_t cookie[8] = { 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0, 0 };
	struct conv_message m;

	assert_int_equal(n, 36);
	assert_int_equal(conv_parse(buf, n, CONV_MAX_LEN, CONV_FROM_CLIENT, 0, &m, NULL), 36);
	assert_true(m.has_connect && m.has_cookie);
	assert_int_equal(m.connect.port, 443);
	/* a cookie is kept as sent, padding included: that is what the converter compares */
	assert_int_equal(m.cookie_len, sizeof(cookie));
	assert_memory_equal(m.cookie, cookie, sizeof(cookie));
}

static void client_connect_to_ipv6_decodes(void **state)
{
	uint8_t buf[64];
	size_t n = unhex(REQ_CONNECT_V6, buf, sizeof(buf));
	const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
	struct conv_message m;

	assert_int_equal(conv_parse(buf, n, CONV_MAX_LEN, CONV_FROM_CLIENT, 0, &m, NULL), 24);
	assert_int_equal(m.connect.port, 8080);
	assert_memory_equal(m.connect.addr, want, 16);
}

static void client_request_followed_by_application_bytes_consumes_only_the_message(void **state)
{
	uint8_t buf[64];
	size_t n = unhex(REQ_CONNECT_V4 "474554202f20", buf, sizeof(buf)); /* + "GET / " */
	struct conv_message m;

	assert_int_equal(conv_parse(buf, n, CONV_MAX_LEN, CONV_FROM_CLIENT, 0, &m, NULL), 24);
}

/* Our encoder writes the same bytes the client does, so our own clients (convclient, the
 * gateway, libmpconv) look alike on the wire. */
static void our_encoder_writes_the_clients_bytes(void **state)
{
	uint8_t want[64], buf[64];
	size_t n = unhex(REQ_CONNECT_V4_COOKIE, want, sizeof(want));
	const uint8_t addr[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	const uint8_t cookie[6] = { 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6 };
	struct conv_writer w;

	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_connect(&w, 443, addr, NULL, 0);
	conv_put_cookie(&w, cookie, sizeof(cookie));
	assert_int_equal(conv_writer_finish(&w), (int)n);
	assert_memory_equal(buf, want, n);
}

/* --- what the client accepts ------------------------------------------------------------ */

#define REPLY_BARE	"01012263"
#define REPLY_EMPTY_EXT "01022263" "14010000"

static void minimal_replies_decode_and_the_model_accepts_them(void **state)
{
	uint8_t buf[16];
	struct conv_message m;
	size_t n;

	n = unhex(REPLY_BARE, buf, sizeof(buf));
	assert_int_equal(conv_parse(buf, n, CONV_MAX_LEN, CONV_FROM_CONVERTER, 0, &m, NULL), 4);
	assert_false(m.has_ext_tcp_header || m.has_error || m.has_supported_ext);
	assert_int_equal(model_client_accepts(buf, n), MODEL_CONVERTED);

	n = unhex(REPLY_EMPTY_EXT, buf, sizeof(buf));
	assert_int_equal(conv_parse(buf, n, CONV_MAX_LEN, CONV_FROM_CONVERTER, 0, &m, NULL), 8);
	assert_true(m.has_ext_tcp_header);
	assert_int_equal(m.ext_tcp_header_len, 0);
	assert_int_equal(model_client_accepts(buf, n), MODEL_CONVERTED);
}

static void model_refuses_what_the_client_refuses(void **state)
{
	uint8_t buf[32];

	/* bad magic (the pre-RFC draft's zero field) */
	assert_int_equal(model_client_accepts(buf, unhex("01010000", buf, sizeof(buf))),
			 MODEL_REFUSED);
	/* Supported TCP Extensions: the client does not parse it */
	assert_int_equal(model_client_accepts(buf, unhex("01032263" "15020000" "1e000000", buf,
							 sizeof(buf))),
			 MODEL_REFUSED);
	/* a length running past what was received */
	assert_int_equal(model_client_accepts(buf, unhex("01032263" "14010000", buf, sizeof(buf))),
			 MODEL_REFUSED);
	/* an Error TLV is understood (and becomes ECONNREFUSED for the program) */
	assert_int_equal(model_client_accepts(buf, unhex("01022263" "1e016100", buf, sizeof(buf))),
			 MODEL_ERROR_TLV);
}

/*
 * The converter's reply to a Connect without Info (src/converter/answer.c,
 * cv_build_success_reply): with reply-extended-header=no a bare header; by default a header and
 * one Extended TCP Header describing the server. The Supported TCP Extensions TLV, which the
 * client would refuse, is only written when the request carried an Info TLV, which that client
 * never sends. Both forms are built here with the calls answer.c makes and must pass the model.
 */
static void converters_replies_to_a_connect_without_info_are_accepted(void **state)
{
	const struct conv_server_desc descs[] = {
		{ .port = 443, .wscale = -1 },
		{ .port = 443, .mss = 1460, .sack = true, .timestamps = true, .wscale = 7 },
		{ .port = 80, .mss = 1400, .sack = true, .timestamps = true, .wscale = 14,
		  .mptcp = true },
	};
	uint8_t buf[CONV_MAX_LEN], hdr[64];
	struct conv_writer w;
	struct conv_message m;
	int n;

	conv_writer_begin(&w, buf, sizeof(buf));
	n = conv_writer_finish(&w);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "\x01\x01\x22\x63", 4);
	assert_int_equal(model_client_accepts(buf, (size_t)n), MODEL_CONVERTED);

	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		size_t hlen = conv_describe_server(&descs[i], hdr, sizeof(hdr));

		assert_true(hlen >= 20);
		conv_writer_begin(&w, buf, sizeof(buf));
		assert_int_equal(conv_put_ext_tcp_header(&w, hdr, hlen), 0);
		n = conv_writer_finish(&w);
		assert_true(n > 4);
		assert_int_equal(model_client_accepts(buf, (size_t)n), MODEL_CONVERTED);
		assert_int_equal(conv_parse(buf, (size_t)n, CONV_MAX_LEN, CONV_FROM_CONVERTER, 0,
					    &m, NULL),
				 n);
		assert_true(m.has_ext_tcp_header && !m.has_supported_ext);
	}
}

/* A connected loopback TCP socket (the converter's server leg, for TCP_INFO), or -1. */
static int loopback_pair(int *accepted)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(l >= 0 && c >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, alen), 0);
	*accepted = accept(l, NULL, NULL);
	assert_true(*accepted >= 0);
	close(l);
	return c;
}

/*
 * The converter's own reply builder (answer.c) for a Connect without Info, against a real
 * server leg: by default a header and an Extended TCP Header, with reply-extended-header = no a
 * bare header; both pass the model. With Info (which that client never sends) the reply lists
 * Supported TCP Extensions, which the model refuses: the answer depends on the request.
 */
static void converter_reply_builder_answers_a_request_without_info_acceptably(void **state)
{
	struct cv_cfg *cfg = calloc(1, sizeof(*cfg));
	struct cv_session *s = calloc(1, sizeof(*s));
	int peer, len;

	assert_non_null(cfg);
	assert_non_null(s);
	config_init(&cfg->config);
	s->cfg = cfg;
	s->has_dest = true;
	s->base.dest.port = 443;
	s->base.relay.io[RELAY_B].fd = loopback_pair(&peer);

	len = cv_build_success_reply(s);
	assert_true(len > 4);
	assert_int_equal(model_client_accepts(s->reply, (size_t)len), MODEL_CONVERTED);
	assert_int_equal(s->reply[4], CONV_TLV_EXT_TCP_HEADER);

	cfg->config.converter.reply_extended_header = false;
	len = cv_build_success_reply(s);
	assert_int_equal(len, 4);
	assert_int_equal(model_client_accepts(s->reply, (size_t)len), MODEL_CONVERTED);

	s->info_requested = true;
	len = cv_build_success_reply(s);
	assert_int_equal(model_client_accepts(s->reply, (size_t)len), MODEL_REFUSED);

	close(s->base.relay.io[RELAY_B].fd);
	close(peer);
	config_free(&cfg->config);
	free(cfg);
	free(s);
}

/* Error replies of every registered code are understood as refusals, never as success. */
static void error_replies_are_understood_as_errors(void **state)
{
	const enum conv_error_code codes[] = {
		CONV_ERR_UNSUPPORTED_VERSION,	 CONV_ERR_MALFORMED_MESSAGE,
		CONV_ERR_UNSUPPORTED_MESSAGE,	 CONV_ERR_NOT_AUTHORIZED,
		CONV_ERR_UNSUPPORTED_TCP_OPTION, CONV_ERR_RESOURCE_EXCEEDED,
		CONV_ERR_NETWORK_FAILURE,	 CONV_ERR_CONNECTION_RESET,
		CONV_ERR_DESTINATION_UNREACHABLE,
	};
	uint8_t buf[CONV_MAX_LEN];

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct conv_parse_error e = { .code = codes[i] };
		int n = conv_write_error_reply(buf, sizeof(buf), &e, NULL, 0);

		assert_true(n >= 8);
		assert_int_equal(model_client_accepts(buf, (size_t)n), MODEL_ERROR_TLV);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_connect_to_ipv4_decodes_to_a_mapped_address_and_port),
		cmocka_unit_test(client_connect_with_cookie_decodes_the_padded_cookie),
		cmocka_unit_test(client_connect_to_ipv6_decodes),
		cmocka_unit_test(client_request_followed_by_application_bytes_consumes_only_the_message),
		cmocka_unit_test(our_encoder_writes_the_clients_bytes),
		cmocka_unit_test(minimal_replies_decode_and_the_model_accepts_them),
		cmocka_unit_test(model_refuses_what_the_client_refuses),
		cmocka_unit_test(converters_replies_to_a_connect_without_info_are_accepted),
		cmocka_unit_test(converter_reply_builder_answers_a_request_without_info_acceptably),
		cmocka_unit_test(error_replies_are_understood_as_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
