// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the CPE identity codecs (src/proto/cpe.c): the input is read as a Cookie
 * TLV value (a credential from the network) and as CPE table text. Properties: a parsed
 * credential's id lies inside the input and is a valid id; a credential made from a parsed id
 * parses back to the same id and verifies; a table that parses has sorted unique ids, each of
 * which it finds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpe.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_credential(const uint8_t *data, size_t size)
{
	static const uint8_t key[CPE_KEY_LEN] = { 1, 2, 3 };
	static const uint8_t addr[16] = { [10] = 0xff, [11] = 0xff, 198, 51, 100, 7 };
	struct cpe_cred cred, again;
	uint8_t out[CPE_CRED_MAX];
	char id[CPE_ID_MAX + 1];
	int len;

	if (cpe_cred_parse(data, size, &cred) < 0)
		return;
	CHECK((const uint8_t *)cred.id >= data && (const uint8_t *)cred.id + cred.id_len <= data + size);
	CHECK(cpe_id_ok(cred.id, cred.id_len));
	CHECK(cred.mac + CPE_MAC_LEN <= data + size);
	memcpy(id, cred.id, cred.id_len);
	id[cred.id_len] = '\0';
	len = cpe_cred_make(id, key, addr, 443, 123456789, out, sizeof(out));
	CHECK(len > 0 && cpe_cred_parse(out, (size_t)len, &again) == 0);
	CHECK(again.id_len == cred.id_len && !memcmp(again.id, id, cred.id_len));
	CHECK(cpe_cred_verify(&again, key, addr, 443, 123456789));
	(void)cpe_cred_verify(&cred, key, addr, 443, 123456789);
}

static void check_table(const uint8_t *data, size_t size)
{
	struct cpe_table t;
	char err[128];

	if (cpe_table_parse((const char *)data, size, &t, err, sizeof(err)) < 0) {
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0]);
		return;
	}
	for (size_t i = 0; i < t.len; i++) {
		CHECK(cpe_id_ok(t.entries[i].id, strlen(t.entries[i].id)));
		CHECK(i == 0 || strcmp(t.entries[i - 1].id, t.entries[i].id) < 0);
		CHECK(cpe_table_find(&t, t.entries[i].id, strlen(t.entries[i].id)) == &t.entries[i]);
	}
	cpe_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_credential(data, size);
	check_table(data, size);
	return 0;
}
