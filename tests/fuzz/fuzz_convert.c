// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the Convert codec (src/proto/convert.c): parses the input from both senders,
 * with and without end of stream, and checks the properties the rest of mpconv relies on:
 * a parse that succeeds re-encodes to a message that parses back equal and of equal length;
 * a parse that fails yields an error reply that itself parses; -EAGAIN turns into Malformed
 * at end of stream. Any violation aborts. Never writes outside its own stack buffers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_options(const struct conv_connect *cn)
{
	struct conv_opt_iter it;
	struct conv_tcp_option opt;
	size_t total = 0;
	int ret;

	conv_opt_iter_init(&it, cn);
	while ((ret = conv_opt_next(&it, &opt)) == 1) {
		CHECK(opt.kind > 1 && opt.len >= 2);
		total += opt.len;
	}
	/* A parsed options view is a whole list of options: no error, nothing left over. */
	CHECK(ret == 0 && total == cn->options_len);
}

static void check_sockaddr(const struct conv_connect *cn)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint8_t addr[16];
	uint16_t port;

	conv_connect_to_sockaddr(cn, &ss, &sslen);
	CHECK(conv_addr_from_sockaddr((struct sockaddr *)&ss, sslen, addr, &port) == 0);
	CHECK(port == cn->port && memcmp(addr, cn->addr, 16) == 0);
}

static void check_success(const uint8_t *data, size_t size, enum conv_sender from, int ret,
			  const struct conv_message *msg)
{
	uint8_t out[CONV_MAX_LEN];
	struct conv_message again;
	struct conv_parse_error err;
	int n;

	CHECK(ret >= CONV_HDR_LEN && ret % 4 == 0 && (size_t)ret <= size);
	CHECK((size_t)ret == msg->length && msg->version == CONV_VERSION);
	if (msg->has_connect) {
		CHECK(from == CONV_FROM_CLIENT);
		check_options(&msg->connect);
		check_sockaddr(&msg->connect);
	}
	/* Every view lies inside the message. */
	if (msg->has_cookie)
		CHECK(msg->cookie >= data && msg->cookie + msg->cookie_len <= data + ret);

	n = conv_write_message(out, sizeof(out), msg);
	CHECK(n == ret);
	CHECK(conv_parse(out, (size_t)n, CONV_MAX_LEN, from, 0, &again, &err) == n);
	CHECK(conv_message_equal(msg, &again));
}

static void check_failure(const uint8_t *data, size_t size, int ret,
			  const struct conv_parse_error *err)
{
	uint8_t out[CONV_MAX_LEN];
	struct conv_message reply;
	struct conv_parse_error err2;
	int n;

	CHECK(ret == -EPROTONOSUPPORT || ret == -EBADMSG || ret == -EOPNOTSUPP ||
	      ret == -ENOPROTOOPT || ret == -EMSGSIZE);
	CHECK(err->reason != NULL && err->offset <= size && err->value_len <= 4);
	CHECK(!err->echo || (err->echo == data && err->echo_len <= size));

	/* The answer to any rejection must itself be a valid Converter reply. */
	n = conv_write_error_reply(out, sizeof(out), err, NULL, 0);
	CHECK(n > 0);
	CHECK(conv_parse(out, (size_t)n, CONV_MAX_LEN, CONV_FROM_CONVERTER, 0, &reply, &err2) == n);
	CHECK(reply.has_error && reply.error.code == err->code);
}

static void run(const uint8_t *data, size_t size, size_t max_len, enum conv_sender from)
{
	struct conv_message msg, msg_eof;
	struct conv_parse_error err, err_eof;
	int ret, ret_eof;

	ret = conv_parse(data, size, max_len, from, 0, &msg, &err);
	ret_eof = conv_parse(data, size, max_len, from, CONV_PARSE_EOF, &msg_eof, &err_eof);

	if (ret == -EAGAIN) {
		/* Need-more only while the header is plausible; at end of stream it is Malformed.
		 */
		CHECK(ret_eof == -EBADMSG && err_eof.code == CONV_ERR_MALFORMED_MESSAGE);
	} else {
		/* End of stream changes nothing once the whole message is there. */
		CHECK(ret_eof == ret);
	}
	if (ret >= 0) {
		CHECK(conv_message_equal(&msg, &msg_eof));
		check_success(data, size, from, ret, &msg);
	} else if (ret != -EAGAIN) {
		check_failure(data, size, ret, &err);
	}
	if (ret_eof < 0)
		check_failure(data, size, ret_eof, &err_eof);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, CONV_MAX_LEN, CONV_FROM_CLIENT);
	run(data, size, CONV_MAX_LEN, CONV_FROM_CONVERTER);
	/* A small receive limit exercises Resource Exceeded. */
	run(data, size, 64, CONV_FROM_CLIENT);
	return 0;
}
