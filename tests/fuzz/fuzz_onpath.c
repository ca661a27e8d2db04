// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for what the on-path converter reads of a packet (src/onpath.c): the bytes
 * nflog copies of a SYN, and the netstat text the gateway's /metrics reads (src/metrics.c).
 * Properties: a SYN parse never reads past its input and succeeds only with a TCP header's
 * destination port (non-zero) inside it; the netstat parser never reads past the text's end.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "onpath.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t port = 0;
	uint64_t value;
	bool v6 = false;
	char *text;
	int ret;

	ret = onpath_syn_dest(data, size, &v6, &port);
	CHECK(ret == 0 || ret == -EBADMSG);
	if (ret == 0) {
		size_t l4 = v6 ? 40 : (size_t)(data[0] & 0x0f) * 4;

		CHECK(port != 0 && size >= l4 + 4);
		CHECK(port == (uint16_t)(data[l4 + 2] << 8 | data[l4 + 3]));
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	ret = metrics_netstat_parse(text, "MPTcpExtNoDSSInWindow", &value);
	CHECK(ret == 0 || ret == -ENOENT);
	free(text);
	return 0;
}
