// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the RFC 8803 Convert codec (src/proto/convert.c): byte-exact vectors written out
 * by hand from the RFC's figures, one test per rejection (return value and the Error code to
 * answer), encode/decode round trips, need-more behaviour, the error-reply builder and the
 * sockaddr helpers. Pure: no sockets, no files, no mocks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ctype.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "convert.h"

#define HDR(words)     0x01, (words), 0x22, 0x63
#define V4(a, b, c, d) 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, (a), (b), (c), (d)
#define V6_DOC1	       0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 /* 2001:db8::1 */

static const uint8_t addr_doc4[16] = { V4(192, 0, 2, 1) };
static const uint8_t addr_doc6[16] = { V6_DOC1 };

/* --- helpers ----------------------------------------------------------------------------- */

static int parse(const uint8_t *buf, size_t len, enum conv_sender from, struct conv_message *m)
{
	struct conv_parse_error err;

	return conv_parse(buf, len, CONV_MAX_LEN, from, 0, m, &err);
}

/* Asserts a rejection: the return value and the RFC 8803 Error code to answer with. */
static struct conv_parse_error expect_reject(const uint8_t *buf, size_t len, enum conv_sender from,
					     int want_ret, enum conv_error_code want_code)
{
	struct conv_message m;
	struct conv_parse_error err;

	memset(&err, 0xa5, sizeof(err));
	assert_int_equal(conv_parse(buf, len, CONV_MAX_LEN, from, 0, &m, &err), want_ret);
	assert_int_equal(err.code, want_code);
	assert_non_null(err.reason);
	assert_true(err.offset <= len);
	assert_false(m.has_connect || m.has_info || m.has_error || m.length);
	return err;
}

#define REJECT(arr, from, ret, code) expect_reject(arr, sizeof(arr), from, ret, code)

/* A Connect message written byte by byte, bypassing the encoder's own checks. */
static size_t raw_connect(uint8_t *buf, const uint8_t addr[16], const uint8_t *opts,
			  size_t opts_len)
{
	size_t words = 1 + 5 + (opts_len + 3) / 4;

	memset(buf, 0, words * 4);
	buf[0] = 1;
	buf[1] = (uint8_t)words;
	buf[2] = 0x22;
	buf[3] = 0x63;
	buf[4] = CONV_TLV_CONNECT;
	buf[5] = (uint8_t)(words - 1);
	buf[6] = 0x01; /* port 443 */
	buf[7] = 0xbb;
	memcpy(buf + 8, addr, 16);
	if (opts_len)
		memcpy(buf + 24, opts, opts_len);
	return words * 4;
}

static void reject_connect_options(const uint8_t *opts, size_t len, size_t want_offset)
{
	uint8_t buf[128];
	size_t n = raw_connect(buf, addr_doc4, opts, len);
	struct conv_parse_error err =
		expect_reject(buf, n, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);

	assert_int_equal(err.offset, want_offset);
}

/* Decodes, re-encodes and decodes again: structures equal, bytes equal. */
static void round_trip(const uint8_t *buf, size_t len, enum conv_sender from)
{
	struct conv_message a, b;
	uint8_t out[CONV_MAX_LEN];
	int n;

	assert_int_equal(parse(buf, len, from, &a), (int)len);
	n = conv_write_message(out, sizeof(out), &a);
	assert_int_equal(n, (int)len);
	assert_memory_equal(out, buf, len);
	assert_int_equal(parse(out, (size_t)n, from, &b), n);
	assert_true(conv_message_equal(&a, &b));
}

/* --- byte-exact vectors ----------------------------------------------------------------- */

/* Laid out one 32-bit word per line, as in the RFC figures. */
/* clang-format off */
static const uint8_t info_msg[] = {
	HDR(2),
	0x01, 0x01, 0x00, 0x00,
};

static const uint8_t connect_v4_msg[] = {
	HDR(6),
	0x0a, 0x05, 0x01, 0xbb,		/* Connect, 5 words, port 443 */
	V4(192, 0, 2, 1),
};

/* Connect carrying a TFO option with an 8-byte cookie: 10 bytes of options, 2 of padding. */
static const uint8_t connect_tfo_msg[] = {
	HDR(9),
	0x0a, 0x08, 0x01, 0xbb,
	V4(192, 0, 2, 1),
	0x22, 0x0a, 0xc0, 0x0c,		/* TFO, length 10 */
	0x1e, 0xd1, 0x0b, 0xad,
	0xf0, 0x0d, 0x00, 0x00,
};

/* Connect to [2001:db8::1]:80 asking for MP_CAPABLE and SACK-permitted. */
static const uint8_t connect_v6_msg[] = {
	HDR(8),
	0x0a, 0x07, 0x00, 0x50,
	V6_DOC1,
	0x1e, 0x04, 0x01, 0x81,		/* MP_CAPABLE v1 */
	0x04, 0x02, 0x00, 0x00,		/* SACK-permitted, padding */
};

static const uint8_t supported_ext_msg[] = {
	HDR(3),
	0x15, 0x02, 0x00, 0x00,
	0x1e, 0x22, 0x00, 0x00,		/* MPTCP (30), TFO (34), padding */
};

/* Extended TCP Header: MSS 1460, NOP, window scale 7 from the Server's SYN+ACK. */
static const uint8_t ext_tcp_header_msg[] = {
	HDR(4),
	0x14, 0x03, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xb4,
	0x01, 0x03, 0x03, 0x07,
};

static const uint8_t cookie_msg[] = {
	HDR(4),
	0x16, 0x03, 0x00, 0x00,
	0xde, 0xad, 0xbe, 0xef,
	0x01, 0x02, 0x03, 0x04,
};
/* clang-format on */

static void info_message_encodes_to_the_rfc_bytes(void **state)
{
	uint8_t buf[16];
	struct conv_writer w;

	conv_writer_begin(&w, buf, sizeof(buf));
	assert_int_equal(conv_put_info(&w), 0);
	assert_int_equal(conv_writer_finish(&w), sizeof(info_msg));
	assert_memory_equal(buf, info_msg, sizeof(info_msg));
}

static void info_message_decodes_from_the_rfc_bytes(void **state)
{
	struct conv_message m;

	assert_int_equal(parse(info_msg, sizeof(info_msg), CONV_FROM_CLIENT, &m), 8);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.length, 8);
	assert_true(m.has_info);
	assert_false(m.has_connect || m.has_cookie || m.has_error);
}

static void connect_to_ipv4_is_encoded_as_a_mapped_address(void **state)
{
	uint8_t buf[64];
	struct conv_writer w;

	conv_writer_begin(&w, buf, sizeof(buf));
	assert_int_equal(conv_put_connect(&w, 443, addr_doc4, NULL, 0), 0);
	assert_int_equal(conv_writer_finish(&w), sizeof(connect_v4_msg));
	assert_memory_equal(buf, connect_v4_msg, sizeof(connect_v4_msg));
}

static void connect_to_ipv4_decodes_port_and_address(void **state)
{
	struct conv_message m;

	assert_int_equal(parse(connect_v4_msg, sizeof(connect_v4_msg), CONV_FROM_CLIENT, &m), 24);
	assert_true(m.has_connect);
	assert_int_equal(m.connect.port, 443);
	assert_memory_equal(m.connect.addr, addr_doc4, 16);
	assert_int_equal(m.connect.options_len, 0);
}

static void connect_with_tfo_cookie_is_padded_to_a_word(void **state)
{
	static const uint8_t tfo[] = { 0x22, 0x0a, 0xc0, 0x0c, 0x1e, 0xd1, 0x0b, 0xad, 0xf0, 0x0d };
	uint8_t buf[64];
	struct conv_writer w;
	struct conv_message m;

	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_connect(&w, 443, addr_doc4, tfo, sizeof(tfo));
	assert_int_equal(conv_writer_finish(&w), sizeof(connect_tfo_msg));
	assert_memory_equal(buf, connect_tfo_msg, sizeof(connect_tfo_msg));

	assert_int_equal(parse(buf, sizeof(connect_tfo_msg), CONV_FROM_CLIENT, &m), 36);
	assert_int_equal(m.connect.options_len, sizeof(tfo)); /* padding stripped */
	assert_memory_equal(m.connect.options, tfo, sizeof(tfo));
}

static void connect_to_ipv6_with_options_decodes(void **state)
{
	struct conv_message m;

	assert_int_equal(parse(connect_v6_msg, sizeof(connect_v6_msg), CONV_FROM_CLIENT, &m), 32);
	assert_int_equal(m.connect.port, 80);
	assert_memory_equal(m.connect.addr, addr_doc6, 16);
	assert_int_equal(m.connect.options_len, 6);
}

static void connect_options_iterate_as_kind_length_value(void **state)
{
	struct conv_message m;
	struct conv_opt_iter it;
	struct conv_tcp_option opt;

	parse(connect_v6_msg, sizeof(connect_v6_msg), CONV_FROM_CLIENT, &m);
	conv_opt_iter_init(&it, &m.connect);
	assert_int_equal(conv_opt_next(&it, &opt), 1);
	assert_int_equal(opt.kind, 30);
	assert_int_equal(opt.len, 4);
	assert_int_equal(opt.value[0], 0x01);
	assert_int_equal(opt.value[1], 0x81);
	assert_int_equal(conv_opt_next(&it, &opt), 1);
	assert_int_equal(opt.kind, 4);
	assert_int_equal(opt.len, 2);
	assert_int_equal(conv_opt_next(&it, &opt), 0);
	assert_int_equal(conv_opt_next(&it, &opt), 0);
}

static void option_iterator_stops_on_a_broken_list(void **state)
{
	static const uint8_t opts[] = { 0x02, 0x04, 0x05, 0xb4, 0x01 };
	struct conv_connect cn = { .options = opts, .options_len = sizeof(opts) };
	struct conv_opt_iter it;
	struct conv_tcp_option opt;

	conv_opt_iter_init(&it, &cn);
	assert_int_equal(conv_opt_next(&it, &opt), 1);
	assert_int_equal(conv_opt_next(&it, &opt), -EBADMSG);
	assert_int_equal(conv_opt_next(&it, &opt), 0);
}

static void supported_extensions_list_mptcp_and_tfo(void **state)
{
	static const uint8_t kinds[] = { 30, 34 };
	uint8_t buf[32];
	struct conv_writer w;
	struct conv_message m;

	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_supported_ext(&w, kinds, sizeof(kinds));
	assert_int_equal(conv_writer_finish(&w), sizeof(supported_ext_msg));
	assert_memory_equal(buf, supported_ext_msg, sizeof(supported_ext_msg));

	assert_int_equal(parse(buf, sizeof(supported_ext_msg), CONV_FROM_CONVERTER, &m), 12);
	assert_true(m.has_supported_ext);
	assert_int_equal(m.supported_ext_len, 2);
	assert_memory_equal(m.supported_ext, kinds, 2);
}

static void extended_tcp_header_is_carried_opaque(void **state)
{
	uint8_t buf[32];
	struct conv_writer w;
	struct conv_message m;

	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_ext_tcp_header(&w, ext_tcp_header_msg + 8, 8);
	assert_int_equal(conv_writer_finish(&w), sizeof(ext_tcp_header_msg));
	assert_memory_equal(buf, ext_tcp_header_msg, sizeof(ext_tcp_header_msg));

	assert_int_equal(
		parse(ext_tcp_header_msg, sizeof(ext_tcp_header_msg), CONV_FROM_CONVERTER, &m), 16);
	assert_true(m.has_ext_tcp_header);
	assert_ptr_equal(m.ext_tcp_header, ext_tcp_header_msg + 8);
	assert_int_equal(m.ext_tcp_header_len, 8);
}

static void cookie_is_a_view_into_the_buffer(void **state)
{
	struct conv_message m;

	assert_int_equal(parse(cookie_msg, sizeof(cookie_msg), CONV_FROM_CLIENT, &m), 16);
	assert_true(m.has_cookie);
	assert_ptr_equal(m.cookie, cookie_msg + 8);
	assert_int_equal(m.cookie_len, 8);
}

static void cookie_of_odd_length_is_zero_padded(void **state)
{
	static const uint8_t want[] = { HDR(3), 0x16, 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0x00 };
	static const uint8_t cookie[] = { 0xaa, 0xbb, 0xcc };
	uint8_t buf[32];
	struct conv_writer w;

	memset(buf, 0xee, sizeof(buf));
	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_cookie(&w, cookie, sizeof(cookie));
	assert_int_equal(conv_writer_finish(&w), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

/* One Error TLV per IANA code, with the value each code carries (RFC 8803 §3.2.8). */
static const struct {
	enum conv_error_code code;
	uint8_t value[5];
	size_t value_len;
	uint8_t tlv[12];
	size_t tlv_len;
} error_vectors[] = {
	{ CONV_ERR_UNSUPPORTED_VERSION, { 1 }, 1, { 0x1e, 0x01, 0x00, 0x01 }, 4 },
	/* Malformed and Unsupported Message echo the message after one zero byte. */
	{ CONV_ERR_MALFORMED_MESSAGE,
	  { 0x00, 0x01, 0x00, 0x22, 0x63 },
	  5,
	  { 0x1e, 0x02, 0x01, 0x00, 0x01, 0x00, 0x22, 0x63 },
	  8 },
	{ CONV_ERR_UNSUPPORTED_MESSAGE,
	  { 0x00, 0x01, 0x02, 0x22, 0x63 },
	  5,
	  { 0x1e, 0x02, 0x02, 0x00, 0x01, 0x02, 0x22, 0x63 },
	  8 },
	{ CONV_ERR_MISSING_COOKIE, { 0 }, 0, { 0x1e, 0x01, 0x03, 0x00 }, 4 },
	{ CONV_ERR_NOT_AUTHORIZED, { 0 }, 0, { 0x1e, 0x01, 0x20, 0x00 }, 4 },
	{ CONV_ERR_UNSUPPORTED_TCP_OPTION, { 29 }, 1, { 0x1e, 0x01, 0x21, 0x1d }, 4 },
	{ CONV_ERR_RESOURCE_EXCEEDED, { 0 }, 0, { 0x1e, 0x01, 0x40, 0x00 }, 4 },
	{ CONV_ERR_NETWORK_FAILURE, { 0 }, 0, { 0x1e, 0x01, 0x41, 0x00 }, 4 },
	{ CONV_ERR_CONNECTION_RESET, { 0 }, 0, { 0x1e, 0x01, 0x60, 0x00 }, 4 },
	/* Destination Unreachable carries the ICMP code, here 3 (port unreachable). */
	{ CONV_ERR_DESTINATION_UNREACHABLE, { 3 }, 1, { 0x1e, 0x01, 0x61, 0x03 }, 4 },
};

static void error_tlv_encodes_every_iana_code_byte_exact(void **state)
{
	for (size_t i = 0; i < sizeof(error_vectors) / sizeof(error_vectors[0]); i++) {
		uint8_t buf[32];
		struct conv_writer w;
		int n;

		conv_writer_begin(&w, buf, sizeof(buf));
		conv_put_error(&w, error_vectors[i].code, error_vectors[i].value,
			       error_vectors[i].value_len);
		n = conv_writer_finish(&w);
		assert_int_equal(n, 4 + error_vectors[i].tlv_len);
		assert_int_equal(buf[1], n / 4);
		assert_memory_equal(buf + 4, error_vectors[i].tlv, error_vectors[i].tlv_len);
	}
}

static void error_tlv_decodes_every_iana_code(void **state)
{
	for (size_t i = 0; i < sizeof(error_vectors) / sizeof(error_vectors[0]); i++) {
		uint8_t buf[32] = { HDR(0) };
		struct conv_message m;
		size_t n = 4 + error_vectors[i].tlv_len;

		buf[1] = (uint8_t)(n / 4);
		memcpy(buf + 4, error_vectors[i].tlv, error_vectors[i].tlv_len);
		assert_int_equal(parse(buf, n, CONV_FROM_CONVERTER, &m), (int)n);
		assert_true(m.has_error);
		assert_int_equal(m.error.code, error_vectors[i].code);
		/* The value view includes the padding: a 1-byte value reads as 1, none as 1 zero.
		 */
		assert_int_equal(m.error.value_len, error_vectors[i].tlv_len - 3);
		if (error_vectors[i].value_len)
			assert_memory_equal(m.error.value, error_vectors[i].value,
					    error_vectors[i].value_len);
		assert_string_equal(conv_error_name(m.error.code),
				    conv_error_name(error_vectors[i].code));
	}
}

static void error_and_tlv_names_cover_every_registered_value(void **state)
{
	for (size_t i = 0; i < sizeof(error_vectors) / sizeof(error_vectors[0]); i++)
		assert_string_not_equal(conv_error_name(error_vectors[i].code), "unknown");
	assert_string_equal(conv_error_name(CONV_ERR_MISSING_COOKIE), "Missing Cookie");
	assert_string_equal(conv_error_name((enum conv_error_code)4), "unknown");
	/* the slug is the name, lower case, words joined by '_': one spelling in every output */
	for (size_t i = 0; i < sizeof(error_vectors) / sizeof(error_vectors[0]); i++) {
		const char *name = conv_error_name(error_vectors[i].code);
		const char *slug = conv_error_slug(error_vectors[i].code);

		assert_int_equal(strlen(slug), strlen(name));
		for (size_t k = 0; name[k]; k++)
			assert_int_equal(slug[k], name[k] == ' ' ? '_' : tolower((unsigned char)name[k]));
	}
	assert_string_equal(conv_error_slug(CONV_ERR_RESOURCE_EXCEEDED), "resource_exceeded");
	assert_string_equal(conv_error_slug((enum conv_error_code)4), "unknown");
	assert_string_equal(conv_tlv_name(CONV_TLV_INFO), "Info");
	assert_string_equal(conv_tlv_name(CONV_TLV_CONNECT), "Connect");
	assert_string_equal(conv_tlv_name(CONV_TLV_EXT_TCP_HEADER), "Extended TCP Header");
	assert_string_equal(conv_tlv_name(CONV_TLV_SUPPORTED_EXT), "Supported TCP Extensions");
	assert_string_equal(conv_tlv_name(CONV_TLV_COOKIE), "Cookie");
	assert_string_equal(conv_tlv_name(CONV_TLV_ERROR), "Error");
	assert_string_equal(conv_tlv_name(0), "unknown");
}

static void application_data_after_the_message_is_not_consumed(void **state)
{
	uint8_t buf[64];
	struct conv_message m;

	memcpy(buf, connect_v4_msg, sizeof(connect_v4_msg));
	memcpy(buf + sizeof(connect_v4_msg), "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(parse(buf, sizeof(connect_v4_msg) + 16, CONV_FROM_CLIENT, &m),
			 sizeof(connect_v4_msg));
}

/* --- rejections ------------------------------------------------------------------------- */

static void version_2_is_answered_with_the_supported_versions(void **state)
{
	static const uint8_t msg[] = { 0x02, 0x02, 0x22, 0x63, 0x01, 0x01, 0x00, 0x00 };
	struct conv_parse_error err =
		REJECT(msg, CONV_FROM_CLIENT, -EPROTONOSUPPORT, CONV_ERR_UNSUPPORTED_VERSION);

	assert_int_equal(err.value_len, 1);
	assert_int_equal(err.value[0], 1);
	assert_int_equal(err.offset, 0);
	assert_null(err.echo);
}

static void version_is_checked_before_the_header_is_complete(void **state)
{
	static const uint8_t msg[] = { 0x00 };

	REJECT(msg, CONV_FROM_CLIENT, -EPROTONOSUPPORT, CONV_ERR_UNSUPPORTED_VERSION);
}

static void bad_magic_is_malformed(void **state)
{
	static const uint8_t msg[] = { HDR(2), 0x01, 0x01, 0x00, 0x00 };
	uint8_t bad[sizeof(msg)];

	memcpy(bad, msg, sizeof(msg));
	bad[3] = 0x64;
	assert_int_equal(expect_reject(bad, sizeof(bad), CONV_FROM_CLIENT, -EBADMSG,
				       CONV_ERR_MALFORMED_MESSAGE)
				 .offset,
			 2);
}

static void zero_total_length_is_malformed(void **state)
{
	static const uint8_t msg[] = { HDR(0), 0x01, 0x01, 0x00, 0x00 };

	REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
}

static void total_length_beyond_the_callers_limit_is_resource_exceeded(void **state)
{
	static const uint8_t msg[] = { HDR(17) };
	struct conv_message m;
	struct conv_parse_error err;

	/* Rejected from the header alone: no point waiting for 68 bytes we will not take. */
	assert_int_equal(conv_parse(msg, sizeof(msg), 64, CONV_FROM_CLIENT, 0, &m, &err),
			 -EMSGSIZE);
	assert_int_equal(err.code, CONV_ERR_RESOURCE_EXCEEDED);
	assert_int_equal(conv_parse(msg, sizeof(msg), 68, CONV_FROM_CLIENT, 0, &m, &err), -EAGAIN);
}

static void zero_length_tlv_is_rejected(void **state)
{
	/* clang-format off */
	static const uint8_t msg[] = {
		HDR(3),
		0x01, 0x00, 0x00, 0x00,		/* zero-length TLV */
		0x01, 0x01, 0x00, 0x00,
		'd', 'a', 't', 'a',		/* application data after the message */
	};
	/* clang-format on */
	struct conv_parse_error err =
		REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);

	assert_int_equal(err.offset, 5);
}

static void tlv_running_past_the_message_end_is_rejected(void **state)
{
	/* clang-format off */
	static const uint8_t msg[] = {
		HDR(3),
		0x16, 0x03, 0x00, 0x00,		/* Cookie of 3 words in a 3-word message */
		0xaa, 0xbb, 0xcc, 0xdd,
		0x01, 0x02, 0x03, 0x04,
	};
	/* clang-format on */

	REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
}

static void connect_shorter_than_five_words_is_rejected(void **state)
{
	/* clang-format off */
	static const uint8_t msg[] = {
		HDR(5),
		0x0a, 0x04, 0x01, 0xbb,		/* Connect of 4 words: address cut short */
		0, 0, 0, 0,
		0, 0, 0, 0,
		0, 0, 0xff, 0xff,
	};
	/* clang-format on */

	REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
}

static void info_longer_than_one_word_is_rejected(void **state)
{
	static const uint8_t msg[] = { HDR(3), 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

	REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
}

static void duplicate_tlv_is_rejected(void **state)
{
	static const uint8_t msg[] = { HDR(3), 0x01, 0x01, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00 };
	struct conv_parse_error err =
		REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);

	assert_int_equal(err.offset, 8);
}

static void reserved_tlv_type_zero_is_rejected(void **state)
{
	static const uint8_t msg[] = { HDR(2), 0x00, 0x01, 0x00, 0x00 };

	REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
}

static void unknown_tlv_type_is_an_unsupported_message(void **state)
{
	static const uint8_t msg[] = { HDR(2), 0x63, 0x01, 0x00, 0x00 };

	REJECT(msg, CONV_FROM_CLIENT, -EOPNOTSUPP, CONV_ERR_UNSUPPORTED_MESSAGE);
	REJECT(msg, CONV_FROM_CONVERTER, -EOPNOTSUPP, CONV_ERR_UNSUPPORTED_MESSAGE);
}

static void converter_tlv_from_a_client_is_an_unsupported_message(void **state)
{
	REJECT(supported_ext_msg, CONV_FROM_CLIENT, -EOPNOTSUPP, CONV_ERR_UNSUPPORTED_MESSAGE);
	REJECT(ext_tcp_header_msg, CONV_FROM_CLIENT, -EOPNOTSUPP, CONV_ERR_UNSUPPORTED_MESSAGE);
}

static void client_tlv_from_a_converter_is_an_unsupported_message(void **state)
{
	REJECT(connect_v4_msg, CONV_FROM_CONVERTER, -EOPNOTSUPP, CONV_ERR_UNSUPPORTED_MESSAGE);
	REJECT(info_msg, CONV_FROM_CONVERTER, -EOPNOTSUPP, CONV_ERR_UNSUPPORTED_MESSAGE);
}

static void error_and_cookie_are_accepted_from_both_sides(void **state)
{
	static const uint8_t msg[] = { HDR(3), 0x1e, 0x01, 0x01, 0x00, 0x16, 0x01, 0x00, 0x00 };
	struct conv_message m;

	assert_int_equal(parse(msg, sizeof(msg), CONV_FROM_CLIENT, &m), 12);
	assert_true(m.has_error && m.has_cookie);
	assert_int_equal(m.cookie_len, 0);
	assert_int_equal(parse(msg, sizeof(msg), CONV_FROM_CONVERTER, &m), 12);
}

/* Which destinations are refused is the destination policy's (torture_destination.c): the
 * codec reads any address exactly, so every entrance meets the same policy afterwards. */
static void codec_reads_special_connect_addresses_for_the_policy_to_judge(void **state)
{
	static const uint8_t special[][16] = {
		{ V4(127, 0, 0, 1) }, { V4(224, 0, 0, 251) }, { V4(255, 255, 255, 255) },
		{ V4(0, 0, 0, 0) },   { [15] = 1 },	      { 0xff, 0x02, [15] = 1 },
	};

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		uint8_t buf[64];
		struct conv_message m;
		size_t n = raw_connect(buf, special[i], NULL, 0);

		assert_int_equal(parse(buf, n, CONV_FROM_CLIENT, &m), (int)n);
		assert_memory_equal(m.connect.addr, special[i], 16);
	}
}

static void eol_inside_connect_options_is_rejected(void **state)
{
	static const uint8_t opts[] = { 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x00, 0x00 };

	reject_connect_options(opts, sizeof(opts), 24);
}

static void nop_inside_connect_options_is_rejected(void **state)
{
	static const uint8_t opts[] = { 0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07 };

	reject_connect_options(opts, sizeof(opts), 28);
}

static void option_length_below_two_is_rejected(void **state)
{
	static const uint8_t opts[] = { 0x22, 0x01, 0x00, 0x00 };

	reject_connect_options(opts, sizeof(opts), 24);
}

static void option_running_past_the_list_is_rejected(void **state)
{
	static const uint8_t opts[] = { 0x22, 0x12, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

	reject_connect_options(opts, sizeof(opts), 24);
}

static void a_whole_word_of_zero_padding_is_an_eol(void **state)
{
	static const uint8_t opts[] = { 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

	reject_connect_options(opts, sizeof(opts), 26);
}

static void non_zero_bytes_after_padding_are_rejected(void **state)
{
	static const uint8_t opts[] = { 0x04, 0x02, 0x00, 0x01 };

	reject_connect_options(opts, sizeof(opts), 26);
}

static void tcp_ao_in_connect_is_an_unsupported_tcp_option(void **state)
{
	static const uint8_t opts[] = { 0x02, 0x04, 0x05, 0xb4, 0x1d, 0x04, 0x01, 0x02 };
	uint8_t buf[64];
	size_t n = raw_connect(buf, addr_doc4, opts, sizeof(opts));
	struct conv_parse_error err = expect_reject(buf, n, CONV_FROM_CLIENT, -ENOPROTOOPT,
						    CONV_ERR_UNSUPPORTED_TCP_OPTION);

	assert_int_equal(err.value_len, 1);
	assert_int_equal(err.value[0], 29);
	assert_int_equal(err.offset, 28);
}

static void malformed_connect_wins_over_tcp_ao(void **state)
{
	static const uint8_t opts[] = { 0x1d, 0x04, 0x01, 0x02, 0x01, 0x00, 0x00, 0x00 };
	uint8_t buf[64];
	size_t n = raw_connect(buf, addr_doc4, opts, sizeof(opts));

	expect_reject(buf, n, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
}

static void supported_extensions_listing_eol_nop_or_mss_is_rejected(void **state)
{
	static const uint8_t nop[] = { HDR(3), 0x15, 0x02, 0x00, 0x00, 0x1e, 0x01, 0x00, 0x00 };
	static const uint8_t mss[] = { HDR(3), 0x15, 0x02, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x00 };
	static const uint8_t eol[] = { HDR(3), 0x15, 0x02, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x00 };
	static const uint8_t zeros[] = { HDR(3), 0x15, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

	REJECT(nop, CONV_FROM_CONVERTER, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
	REJECT(mss, CONV_FROM_CONVERTER, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
	REJECT(eol, CONV_FROM_CONVERTER, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
	REJECT(zeros, CONV_FROM_CONVERTER, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
}

static void reserved_bytes_are_ignored_on_receipt(void **state)
{
	static const uint8_t msg[] = { HDR(2), 0x01, 0x01, 0xff, 0xff };
	struct conv_message m;

	assert_int_equal(parse(msg, sizeof(msg), CONV_FROM_CLIENT, &m), 8);
	assert_true(m.has_info);
}

static void header_only_message_is_accepted(void **state)
{
	static const uint8_t msg[] = { HDR(1) };
	struct conv_message m;

	assert_int_equal(parse(msg, sizeof(msg), CONV_FROM_CLIENT, &m), 4);
	assert_false(m.has_info || m.has_connect || m.has_cookie || m.has_error);
}

static void malformed_message_is_echoed_after_one_zero_byte(void **state)
{
	static const uint8_t msg[] = { HDR(3), 0x01, 0x00, 0x00, 0x00, 0x01, 0x01,
				       0x00,   0x00, 'd',  'a',	 't',  'a' };
	struct conv_parse_error err =
		REJECT(msg, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);

	assert_int_equal(err.value_len, 1);
	assert_int_equal(err.value[0], 0);
	assert_ptr_equal(err.echo, msg);
	assert_int_equal(err.echo_len, 12); /* the message, not the data after it */
}

static void unsupported_message_is_echoed_too(void **state)
{
	struct conv_parse_error err = REJECT(supported_ext_msg, CONV_FROM_CLIENT, -EOPNOTSUPP,
					     CONV_ERR_UNSUPPORTED_MESSAGE);

	assert_int_equal(err.value_len, 1);
	assert_ptr_equal(err.echo, supported_ext_msg);
	assert_int_equal(err.echo_len, sizeof(supported_ext_msg));
}

static void bad_arguments_are_einval(void **state)
{
	struct conv_message m;
	struct conv_parse_error err;

	assert_int_equal(conv_parse(NULL, 4, CONV_MAX_LEN, CONV_FROM_CLIENT, 0, &m, &err), -EINVAL);
	assert_int_equal(conv_parse(info_msg, 8, 3, CONV_FROM_CLIENT, 0, &m, &err), -EINVAL);
	assert_int_equal(conv_parse(info_msg, 8, CONV_MAX_LEN, (enum conv_sender)7, 0, &m, &err),
			 -EINVAL);
	/* err may be NULL; a limit above 1020 means 1020. */
	assert_int_equal(conv_parse(info_msg, 8, 4096, CONV_FROM_CLIENT, 0, &m, NULL), 8);
}

/* --- need more bytes -------------------------------------------------------------------- */

static const struct {
	const uint8_t *buf;
	size_t len;
	enum conv_sender from;
} valid_messages[] = {
	{ info_msg, sizeof(info_msg), CONV_FROM_CLIENT },
	{ connect_v4_msg, sizeof(connect_v4_msg), CONV_FROM_CLIENT },
	{ connect_tfo_msg, sizeof(connect_tfo_msg), CONV_FROM_CLIENT },
	{ connect_v6_msg, sizeof(connect_v6_msg), CONV_FROM_CLIENT },
	{ cookie_msg, sizeof(cookie_msg), CONV_FROM_CLIENT },
	{ supported_ext_msg, sizeof(supported_ext_msg), CONV_FROM_CONVERTER },
	{ ext_tcp_header_msg, sizeof(ext_tcp_header_msg), CONV_FROM_CONVERTER },
};

#define N_VALID (sizeof(valid_messages) / sizeof(valid_messages[0]))

static void every_proper_prefix_needs_more_bytes(void **state)
{
	for (size_t i = 0; i < N_VALID; i++) {
		for (size_t len = 0; len < valid_messages[i].len; len++) {
			struct conv_message m;
			struct conv_parse_error err = { .reason = "untouched" };

			assert_int_equal(conv_parse(valid_messages[i].buf, len, CONV_MAX_LEN,
						    valid_messages[i].from, 0, &m, &err),
					 -EAGAIN);
			assert_string_equal(err.reason, "untouched");
		}
	}
}

static void every_proper_prefix_at_end_of_stream_is_malformed(void **state)
{
	for (size_t i = 0; i < N_VALID; i++) {
		for (size_t len = 0; len < valid_messages[i].len; len++) {
			struct conv_message m;
			struct conv_parse_error err;

			assert_int_equal(conv_parse(valid_messages[i].buf, len, CONV_MAX_LEN,
						    valid_messages[i].from, CONV_PARSE_EOF, &m,
						    &err),
					 -EBADMSG);
			assert_int_equal(err.code, CONV_ERR_MALFORMED_MESSAGE);
			assert_int_equal(err.offset, len);
		}
	}
}

static void whole_message_at_end_of_stream_is_accepted(void **state)
{
	for (size_t i = 0; i < N_VALID; i++) {
		struct conv_message m;
		struct conv_parse_error err;

		assert_int_equal(conv_parse(valid_messages[i].buf, valid_messages[i].len,
					    CONV_MAX_LEN, valid_messages[i].from, CONV_PARSE_EOF,
					    &m, &err),
				 (int)valid_messages[i].len);
	}
}

/* --- round trips ------------------------------------------------------------------------ */

static void every_vector_round_trips_byte_exact(void **state)
{
	for (size_t i = 0; i < N_VALID; i++)
		round_trip(valid_messages[i].buf, valid_messages[i].len, valid_messages[i].from);
}

static void client_request_with_connect_and_cookie_round_trips(void **state)
{
	static const uint8_t opts[] = { 0x1e, 0x04, 0x01, 0x81, 0x22, 0x02, 0x08, 0x0a,
					0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t cookie[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t buf[128];
	struct conv_writer w;
	struct conv_message m;
	int n;

	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_connect(&w, 8080, addr_doc6, opts, sizeof(opts));
	conv_put_cookie(&w, cookie, sizeof(cookie));
	n = conv_writer_finish(&w);
	assert_int_equal(n, 4 + 20 + 16 + 4 + 12);
	round_trip(buf, (size_t)n, CONV_FROM_CLIENT);
	parse(buf, (size_t)n, CONV_FROM_CLIENT, &m);
	assert_int_equal(m.connect.port, 8080);
	assert_memory_equal(m.connect.options, opts, sizeof(opts));
	assert_memory_equal(m.cookie, cookie, sizeof(cookie));
}

static void converter_reply_with_every_converter_tlv_round_trips(void **state)
{
	static const uint8_t hdr[] = { 0x02, 0x04, 0x05, 0xb4, 0x1e, 0x0c, 0x01, 0x81,
				       0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	static const uint8_t kinds[] = { 30, 34, 8 };
	static const uint8_t cookie[] = { 0xca, 0xfe };
	static const uint8_t icmp_code = 1;
	uint8_t buf[128];
	struct conv_writer w;
	struct conv_message m;
	int n;

	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_ext_tcp_header(&w, hdr, sizeof(hdr));
	conv_put_supported_ext(&w, kinds, sizeof(kinds));
	conv_put_cookie(&w, cookie, sizeof(cookie));
	conv_put_error(&w, CONV_ERR_DESTINATION_UNREACHABLE, &icmp_code, 1);
	n = conv_writer_finish(&w);
	assert_int_equal(n, 4 + 20 + 8 + 8 + 4);
	round_trip(buf, (size_t)n, CONV_FROM_CONVERTER);
	parse(buf, (size_t)n, CONV_FROM_CONVERTER, &m);
	assert_int_equal(m.supported_ext_len, 3);
	assert_int_equal(m.error.code, CONV_ERR_DESTINATION_UNREACHABLE);
	assert_int_equal(m.error.value[0], 1);
}

static void ipv4_and_ipv6_connect_round_trip_with_options(void **state)
{
	static const uint8_t opts[] = {
		0x08, 0x0a, 1, 2, 3, 4, 0, 0, 0, 0, 0x04, 0x02, 0x22, 0x02
	};
	const uint8_t *addrs[] = { addr_doc4, addr_doc6 };

	for (size_t i = 0; i < 2; i++) {
		/* Every option boundary: none, timestamps, + SACK-permitted, + TFO request. */
		for (size_t j = 0; j < 4; j++) {
			static const size_t lens[] = { 0, 10, 12, 14 };
			uint8_t buf[64];
			struct conv_writer w;
			int n;

			conv_writer_begin(&w, buf, sizeof(buf));
			conv_put_connect(&w, 443, addrs[i], opts, lens[j]);
			n = conv_writer_finish(&w);
			assert_true(n > 0);
			round_trip(buf, (size_t)n, CONV_FROM_CLIENT);
		}
	}
}

/* --- encoder refusals -------------------------------------------------------------------- */

static int put_connect_options(const uint8_t *opts, size_t len)
{
	uint8_t buf[64];
	struct conv_writer w;

	conv_writer_begin(&w, buf, sizeof(buf));
	conv_put_connect(&w, 443, addr_doc4, opts, len);
	return conv_writer_finish(&w);
}

static void encoder_refuses_eol_nop_and_broken_connect_options(void **state)
{
	assert_int_equal(put_connect_options((const uint8_t[]){ 0x00 }, 1), -EINVAL);
	assert_int_equal(put_connect_options((const uint8_t[]){ 0x01 }, 1), -EINVAL);
	assert_int_equal(put_connect_options((const uint8_t[]){ 0x04, 0x02, 0x00 }, 3), -EINVAL);
	assert_int_equal(put_connect_options((const uint8_t[]){ 0x22, 0x01 }, 2), -EINVAL);
	assert_int_equal(put_connect_options((const uint8_t[]){ 0x22, 0x04, 0x00 }, 3), -EINVAL);
	assert_int_equal(put_connect_options((const uint8_t[]){ 0x22 }, 1), -EINVAL);
}

static void encoder_refuses_tcp_ao(void **state)
{
	uint8_t buf[64];
	struct conv_writer w;

	assert_int_equal(put_connect_options((const uint8_t[]){ 0x1d, 0x04, 0x01, 0x02 }, 4),
			 -EINVAL);
	conv_writer_begin(&w, buf, sizeof(buf));
	assert_int_equal(conv_put_connect(&w, 443, addr_doc4, (const uint8_t[]){ 0x1d, 0x02 }, 2),
			 -EINVAL);
	assert_int_equal(conv_writer_finish(&w), -EINVAL);
}

static void encoder_refuses_listing_eol_nop_or_mss(void **state)
{
	for (uint8_t kind = 0; kind <= 2; kind++) {
		uint8_t buf[32];
		struct conv_writer w;
		const uint8_t kinds[] = { 30, kind };

		conv_writer_begin(&w, buf, sizeof(buf));
		assert_int_equal(conv_put_supported_ext(&w, kinds, 2), -EINVAL);
	}
}

static void encoder_refuses_a_second_tlv_of_the_same_type(void **state)
{
	uint8_t buf[32];
	struct conv_writer w;

	conv_writer_begin(&w, buf, sizeof(buf));
	assert_int_equal(conv_put_info(&w), 0);
	assert_int_equal(conv_put_info(&w), -EINVAL);
	/* The error sticks: later calls fail and so does finish. */
	assert_int_equal(conv_put_cookie(&w, NULL, 0), -EINVAL);
	assert_int_equal(conv_writer_finish(&w), -EINVAL);
}

static void encoder_refuses_to_pass_the_buffer_or_1020_bytes(void **state)
{
	static uint8_t big[2048];
	static const uint8_t cookie[1013];
	struct conv_writer w;

	conv_writer_begin(&w, big, 8);
	assert_int_equal(conv_put_info(&w), 0);
	assert_int_equal(conv_put_cookie(&w, cookie, 1), -EMSGSIZE);

	conv_writer_begin(&w, big, 3);
	assert_int_equal(conv_writer_finish(&w), -EMSGSIZE);

	/* 4 header + 4 TLV header + 1012 = 1020: the largest message there is. */
	conv_writer_begin(&w, big, sizeof(big));
	assert_int_equal(conv_put_cookie(&w, cookie, 1012), 0);
	assert_int_equal(conv_writer_finish(&w), 1020);
	assert_int_equal(big[1], 255);
	assert_int_equal(big[5], 254);

	conv_writer_begin(&w, big, sizeof(big));
	assert_int_equal(conv_put_cookie(&w, cookie, 1013), -EMSGSIZE);
}

/* --- error replies ---------------------------------------------------------------------- */

static void missing_cookie_reply_carries_the_error_and_a_cookie(void **state)
{
	/* clang-format off */
	static const uint8_t want[] = {
		HDR(4),
		0x1e, 0x01, 0x03, 0x00,		/* Error: Missing Cookie */
		0x16, 0x02, 0x00, 0x00,		/* Cookie */
		0xaa, 0xbb, 0xcc, 0xdd,
	};
	/* clang-format on */
	static const uint8_t cookie[] = { 0xaa, 0xbb, 0xcc, 0xdd };
	struct conv_parse_error err = { .code = CONV_ERR_MISSING_COOKIE };
	uint8_t buf[64];

	assert_int_equal(conv_write_error_reply(buf, sizeof(buf), &err, cookie, sizeof(cookie)),
			 sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void rejection_reply_echoes_the_message(void **state)
{
	static const uint8_t bad[] = { 0x01, 0x01, 0x22, 0x64 };
	static const uint8_t want[] = { HDR(3), 0x1e, 0x02, 0x01, 0x00, 0x01, 0x01, 0x22, 0x64 };
	struct conv_parse_error err =
		REJECT(bad, CONV_FROM_CLIENT, -EBADMSG, CONV_ERR_MALFORMED_MESSAGE);
	uint8_t buf[64];

	assert_int_equal(conv_write_error_reply(buf, sizeof(buf), &err, NULL, 0), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void unsupported_version_reply_lists_version_1(void **state)
{
	static const uint8_t v2[] = { 0x02, 0x01, 0x22, 0x63 };
	static const uint8_t want[] = { HDR(2), 0x1e, 0x01, 0x00, 0x01 };
	struct conv_parse_error err =
		REJECT(v2, CONV_FROM_CLIENT, -EPROTONOSUPPORT, CONV_ERR_UNSUPPORTED_VERSION);
	uint8_t buf[64];

	assert_int_equal(conv_write_error_reply(buf, sizeof(buf), &err, NULL, 0), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void long_echo_is_cut_to_fit_1020_bytes(void **state)
{
	static uint8_t msg[1020];
	uint8_t buf[1100];
	struct conv_parse_error err;
	struct conv_message m;
	int n;

	/* A full-size message whose last TLV is unknown: Unsupported Message, echo of 1020. */
	msg[0] = 1;
	msg[1] = 255;
	msg[2] = 0x22;
	msg[3] = 0x63;
	msg[4] = 0x16;
	msg[5] = 253;
	msg[1016] = 0x63;
	msg[1017] = 1;
	expect_reject(msg, sizeof(msg), CONV_FROM_CLIENT, -EOPNOTSUPP,
		      CONV_ERR_UNSUPPORTED_MESSAGE);
	conv_parse(msg, sizeof(msg), CONV_MAX_LEN, CONV_FROM_CLIENT, 0, &m, &err);
	assert_int_equal(err.echo_len, 1020);

	n = conv_write_error_reply(buf, sizeof(buf), &err, NULL, 0);
	assert_int_equal(n, 1020);
	assert_int_equal(parse(buf, (size_t)n, CONV_FROM_CONVERTER, &m), 1020);
	assert_int_equal(m.error.code, CONV_ERR_UNSUPPORTED_MESSAGE);
	assert_int_equal(m.error.value_len, 1013);
	assert_memory_equal(m.error.value + 1, msg, 1012);

	/* A smaller buffer cuts the echo further; one too small for the TLV is refused. */
	n = conv_write_error_reply(buf, 64, &err, NULL, 0);
	assert_int_equal(n, 64);
	assert_int_equal(conv_write_error_reply(buf, 7, &err, NULL, 0), -EMSGSIZE);
}

/* --- sockaddr helpers --------------------------------------------------------------------- */

static void mapped_address_converts_to_af_inet(void **state)
{
	struct conv_connect cn = { .port = 443 };
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t len;

	memcpy(cn.addr, addr_doc4, 16);
	conv_connect_to_sockaddr(&cn, &ss, &len);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 443);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000201);
}

static void ipv6_address_converts_to_af_inet6(void **state)
{
	struct conv_connect cn = { .port = 80 };
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;

	memcpy(cn.addr, addr_doc6, 16);
	conv_connect_to_sockaddr(&cn, &ss, &len);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 80);
	assert_memory_equal(&sin6->sin6_addr, addr_doc6, 16);
}

static void socket_addresses_convert_to_connect_addresses(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(443) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
	struct sockaddr sa = { .sa_family = AF_UNIX };
	uint8_t addr[16];
	uint16_t port;

	sin.sin_addr.s_addr = htonl(0xc0000201);
	memcpy(&sin6.sin6_addr, addr_doc6, 16);
	assert_int_equal(conv_addr_from_sockaddr((struct sockaddr *)&sin, sizeof(sin), addr, &port),
			 0);
	assert_memory_equal(addr, addr_doc4, 16);
	assert_int_equal(port, 443);
	assert_int_equal(
		conv_addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), addr, &port), 0);
	assert_memory_equal(addr, addr_doc6, 16);
	assert_int_equal(port, 80);
	assert_int_equal(conv_addr_from_sockaddr(&sa, sizeof(sa), addr, &port), -EAFNOSUPPORT);
	assert_int_equal(conv_addr_from_sockaddr((struct sockaddr *)&sin6, 8, addr, &port),
			 -EINVAL);
}

/* The Extended TCP Header describing a server: byte-exact, a parseable TCP header whose
 * options are a list the Connect TLV's option walker accepts. */
static void server_description_is_a_syn_ack_header_with_the_negotiated_options(void **state)
{
	static const uint8_t want[] = {
		0x01, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* port 443, seq, ack zero */
		0xa0, 0x12, 0, 0, 0, 0, 0, 0,		 /* 40 bytes, SYN|ACK */
		0x02, 0x04, 0x05, 0xb4,			 /* MSS 1460 */
		0x04, 0x02,				 /* SACK permitted */
		0x08, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0,	 /* timestamps, values withheld */
		0x03, 0x03, 0x07,			 /* window scale 7 */
		0x01,					 /* NOP to 32 bits */
	};
	const struct conv_server_desc desc = {
		.port = 443, .mss = 1460, .sack = true, .timestamps = true, .wscale = 7
	};
	uint8_t out[64];

	assert_int_equal(conv_describe_server(&desc, out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void server_description_carries_mp_capable_and_respects_the_buffer(void **state)
{
	const struct conv_server_desc desc = { .port = 80, .wscale = -1, .mptcp = true };
	const struct conv_server_desc bare = { .port = 80, .wscale = -1 };
	uint8_t out[64];

	assert_int_equal(conv_describe_server(&desc, out, sizeof(out)), 32);
	assert_int_equal(out[12] >> 4, 8);
	assert_int_equal(out[20], CONV_TCPOPT_MPTCP);
	assert_int_equal(out[21], 12);
	assert_int_equal(out[22], 0x01); /* subtype 0, version 1 */
	assert_int_equal(conv_describe_server(&desc, out, 31), 0);
	assert_int_equal(conv_describe_server(&bare, out, sizeof(out)), 20);
	assert_int_equal(out[12], 0x50);
	assert_int_equal(out[13], 0x12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(info_message_encodes_to_the_rfc_bytes),
		cmocka_unit_test(info_message_decodes_from_the_rfc_bytes),
		cmocka_unit_test(connect_to_ipv4_is_encoded_as_a_mapped_address),
		cmocka_unit_test(connect_to_ipv4_decodes_port_and_address),
		cmocka_unit_test(connect_with_tfo_cookie_is_padded_to_a_word),
		cmocka_unit_test(connect_to_ipv6_with_options_decodes),
		cmocka_unit_test(connect_options_iterate_as_kind_length_value),
		cmocka_unit_test(option_iterator_stops_on_a_broken_list),
		cmocka_unit_test(supported_extensions_list_mptcp_and_tfo),
		cmocka_unit_test(extended_tcp_header_is_carried_opaque),
		cmocka_unit_test(cookie_is_a_view_into_the_buffer),
		cmocka_unit_test(cookie_of_odd_length_is_zero_padded),
		cmocka_unit_test(error_tlv_encodes_every_iana_code_byte_exact),
		cmocka_unit_test(error_tlv_decodes_every_iana_code),
		cmocka_unit_test(error_and_tlv_names_cover_every_registered_value),
		cmocka_unit_test(application_data_after_the_message_is_not_consumed),
		cmocka_unit_test(version_2_is_answered_with_the_supported_versions),
		cmocka_unit_test(version_is_checked_before_the_header_is_complete),
		cmocka_unit_test(bad_magic_is_malformed),
		cmocka_unit_test(zero_total_length_is_malformed),
		cmocka_unit_test(total_length_beyond_the_callers_limit_is_resource_exceeded),
		cmocka_unit_test(zero_length_tlv_is_rejected),
		cmocka_unit_test(tlv_running_past_the_message_end_is_rejected),
		cmocka_unit_test(connect_shorter_than_five_words_is_rejected),
		cmocka_unit_test(info_longer_than_one_word_is_rejected),
		cmocka_unit_test(duplicate_tlv_is_rejected),
		cmocka_unit_test(reserved_tlv_type_zero_is_rejected),
		cmocka_unit_test(unknown_tlv_type_is_an_unsupported_message),
		cmocka_unit_test(converter_tlv_from_a_client_is_an_unsupported_message),
		cmocka_unit_test(client_tlv_from_a_converter_is_an_unsupported_message),
		cmocka_unit_test(error_and_cookie_are_accepted_from_both_sides),
		cmocka_unit_test(codec_reads_special_connect_addresses_for_the_policy_to_judge),
		cmocka_unit_test(eol_inside_connect_options_is_rejected),
		cmocka_unit_test(nop_inside_connect_options_is_rejected),
		cmocka_unit_test(option_length_below_two_is_rejected),
		cmocka_unit_test(option_running_past_the_list_is_rejected),
		cmocka_unit_test(a_whole_word_of_zero_padding_is_an_eol),
		cmocka_unit_test(non_zero_bytes_after_padding_are_rejected),
		cmocka_unit_test(tcp_ao_in_connect_is_an_unsupported_tcp_option),
		cmocka_unit_test(malformed_connect_wins_over_tcp_ao),
		cmocka_unit_test(supported_extensions_listing_eol_nop_or_mss_is_rejected),
		cmocka_unit_test(reserved_bytes_are_ignored_on_receipt),
		cmocka_unit_test(header_only_message_is_accepted),
		cmocka_unit_test(malformed_message_is_echoed_after_one_zero_byte),
		cmocka_unit_test(unsupported_message_is_echoed_too),
		cmocka_unit_test(bad_arguments_are_einval),
		cmocka_unit_test(every_proper_prefix_needs_more_bytes),
		cmocka_unit_test(every_proper_prefix_at_end_of_stream_is_malformed),
		cmocka_unit_test(whole_message_at_end_of_stream_is_accepted),
		cmocka_unit_test(every_vector_round_trips_byte_exact),
		cmocka_unit_test(client_request_with_connect_and_cookie_round_trips),
		cmocka_unit_test(converter_reply_with_every_converter_tlv_round_trips),
		cmocka_unit_test(ipv4_and_ipv6_connect_round_trip_with_options),
		cmocka_unit_test(encoder_refuses_eol_nop_and_broken_connect_options),
		cmocka_unit_test(encoder_refuses_tcp_ao),
		cmocka_unit_test(server_description_is_a_syn_ack_header_with_the_negotiated_options),
		cmocka_unit_test(server_description_carries_mp_capable_and_respects_the_buffer),
		cmocka_unit_test(encoder_refuses_listing_eol_nop_or_mss),
		cmocka_unit_test(encoder_refuses_a_second_tlv_of_the_same_type),
		cmocka_unit_test(encoder_refuses_to_pass_the_buffer_or_1020_bytes),
		cmocka_unit_test(missing_cookie_reply_carries_the_error_and_a_cookie),
		cmocka_unit_test(rejection_reply_echoes_the_message),
		cmocka_unit_test(unsupported_version_reply_lists_version_1),
		cmocka_unit_test(long_echo_is_cut_to_fit_1020_bytes),
		cmocka_unit_test(mapped_address_converts_to_af_inet),
		cmocka_unit_test(ipv6_address_converts_to_af_inet6),
		cmocka_unit_test(socket_addresses_convert_to_connect_addresses),
	};

	return cmocka_run_group_tests_name("convert", tests, NULL, NULL);
}
