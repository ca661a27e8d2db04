// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the inbound-session codec (src/proto/publish.c), what a converter reads
 * from a gateway (the registration) and a gateway from a converter (challenge, answer, open).
 * Properties: a parse never claims more bytes than it was given, nor a length that is not
 * the header's; a parsed message re-encodes (challenge, accept, error, open) to the very same
 * bytes, so no two encodings mean one thing; a registration's MAC check never passes for a
 * key that did not write it. The shortest valid message is 8 bytes (an Error).
 */
#include <errno.h>
#include <string.h>

#include "publish.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reencodes(const struct pub_message *m, const uint8_t *data, int len)
{
	uint8_t out[PUB_MSG_MAX];
	int n = -1;

	switch (m->kind) {
	case PUB_CHALLENGE:
		n = pub_write_challenge(out, sizeof(out), m->nonce);
		break;
	case PUB_ACCEPT:
		n = pub_write_accept(out, sizeof(out), m->status, m->status_len);
		break;
	case PUB_ERROR:
		n = pub_write_error(out, sizeof(out), m->error);
		break;
	case PUB_OPEN:
		if (!m->has_client)
			return; /* a Connect alone: the writer always adds the client */
		n = pub_write_open(out, sizeof(out), m->dest_addr, m->dest_port, m->client_addr,
				   m->client_port);
		break;
	case PUB_REGISTER:
		return;
	}
	CHECK(n == len);
	CHECK(!memcmp(out, data, (size_t)len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t nonce[PUB_NONCE_LEN], key[PUB_KEY_LEN] = { 1 };
	struct pub_message m;
	int len = pub_parse(data, size, &m);

	CHECK(len == -EAGAIN || len == -EBADMSG || (len >= 8 && (size_t)len <= size));
	if (len < 0)
		return 0;
	CHECK((size_t)len == (size_t)data[1] * 4 && m.length == (size_t)len);
	check_reencodes(&m, data, len);
	if (m.kind == PUB_REGISTER) {
		uint8_t out[PUB_MSG_MAX];
		struct pub_message again;
		int n;

		CHECK(m.services_len >= 1 && m.services_len <= PUB_MAX_SERVICES);
		CHECK(pub_name_valid(m.name));
		/* written with our key: verifies; the input's own MAC is almost never ours */
		n = pub_write_register(out, sizeof(out), m.name, m.services, m.services_len, nonce,
				       key);
		CHECK(n > 0 && pub_parse(out, (size_t)n, &again) == n);
		CHECK(pub_register_verify(&again, nonce, key));
		CHECK(again.services_len == m.services_len);
		CHECK(!memcmp(again.services, m.services, m.services_len * sizeof(m.services[0])));
	}
	return 0;
}
