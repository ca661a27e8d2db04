// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the SOCKS 5 codec (src/proto/socks.c): the input is parsed as a client stream
 * (greeting, then request) and as a server answer, and the properties the converter and the
 * gateway rely on are checked: a parse never claims more bytes than it was given; a request
 * that parses with SOCKS_OK re-encodes (as the gateway's hello) to bytes that parse back to the
 * same destination; a refusal comes with a code the reply writer can send. A parsed
 * destination then goes through the converter's destination policy (destination.h), as the
 * SOCKS entrance does: what it lets through is an ordinary address and port, what it refuses
 * gets SOCKS's "not allowed by ruleset". The shortest request is 8 bytes (a one-letter name).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "destination.h"
#include "socks.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The SOCKS entrance's use of the destination policy: never lets a special address or port 0
 * through, answers every refusal with a reply it can write. */
static void check_policy(const struct addr_port *dest)
{
	static const struct dest_policy bare = { .deny = NULL };
	struct dest_judgement j = dest_judge(&bare, dest->ip, dest->port);
	enum socks_reply code = dest_socks_reply(j);
	uint8_t reply[SOCKS_REPLY_MAX];

	if (j.verdict == DEST_ALLOWED) {
		CHECK(code == SOCKS_OK && dest->port != 0);
		CHECK(addr_classify(dest->ip) == ADDR_CLASS_ORDINARY);
	} else {
		CHECK(code == SOCKS_NOT_ALLOWED);
		CHECK(dest->port == 0 || addr_classify(dest->ip) != ADDR_CLASS_ORDINARY);
		CHECK(socks_put_reply(reply, code, dest) <= SOCKS_REPLY_MAX);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_port dest, again;
	enum socks_reply code;
	bool no_auth;
	int g, r;

	g = socks_parse_greeting(data, size, &no_auth);
	CHECK(g == -EAGAIN || g == -EPROTO || (g >= 3 && (size_t)g <= size));
	if (g > 0) {
		r = socks_parse_request(data + g, size - (size_t)g, &dest, &code);
		CHECK(r == -EAGAIN || r == -EPROTO || (r >= 8 && (size_t)r <= size - (size_t)g));
		if (r > 0 && code == SOCKS_OK) {
			uint8_t hello[3 + SOCKS_REPLY_MAX], reply[SOCKS_REPLY_MAX];
			size_t n = socks_put_client_hello(hello, &dest);
			enum socks_reply code2;
			int g2 = socks_parse_greeting(hello, n, &no_auth);

			CHECK(g2 == 3 && no_auth);
			CHECK(socks_parse_request(hello + 3, n - 3, &again, &code2) == (int)n - 3);
			CHECK(code2 == SOCKS_OK && !memcmp(&again, &dest, sizeof(dest)));
			CHECK(socks_put_reply(reply, SOCKS_OK, &dest) <= SOCKS_REPLY_MAX);
			check_policy(&dest);
		} else if (r > 0) {
			CHECK(code == SOCKS_COMMAND_UNSUPPORTED || code == SOCKS_ADDRESS_UNSUPPORTED);
		}
	}
	r = socks_parse_server(data, size, &code);
	CHECK(r == -EAGAIN || r == -EPROTO || (r >= 2 && (size_t)r <= size));
	return 0;
}
