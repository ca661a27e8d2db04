// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the Convert Error TLV -> errno table (src/proto/convert_errno.c): every
 * registered code, the ICMP and ICMPv6 codes Destination Unreachable carries, and the
 * unknown-value fallbacks. Pure: a vector table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "convert_errno.h"

struct errno_vector {
	uint8_t code;
	int value; /* -1: no value */
	bool v6;
	int want;
};

static const struct errno_vector vectors[] = {
	{ CONV_ERR_UNSUPPORTED_VERSION, 1, false, EPROTO },
	{ CONV_ERR_MALFORMED_MESSAGE, -1, false, EPROTO },
	{ CONV_ERR_UNSUPPORTED_MESSAGE, -1, false, EPROTO },
	{ CONV_ERR_MISSING_COOKIE, -1, false, EACCES },
	{ CONV_ERR_NOT_AUTHORIZED, 0, false, EACCES },
	{ CONV_ERR_UNSUPPORTED_TCP_OPTION, 29, false, EOPNOTSUPP },
	{ CONV_ERR_RESOURCE_EXCEEDED, -1, false, ENOBUFS },
	{ CONV_ERR_NETWORK_FAILURE, -1, false, ETIMEDOUT },
	{ CONV_ERR_CONNECTION_RESET, 0, false, ECONNREFUSED },
	{ CONV_ERR_CONNECTION_RESET, 0, true, ECONNREFUSED },
	/* Destination Unreachable, IPv4: ICMP codes as Linux maps them for a direct connect */
	{ CONV_ERR_DESTINATION_UNREACHABLE, 0, false, ENETUNREACH },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 1, false, EHOSTUNREACH },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 3, false, ECONNREFUSED },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 13, false, EHOSTUNREACH },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 7, false, EHOSTDOWN },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 200, false, EHOSTUNREACH },
	{ CONV_ERR_DESTINATION_UNREACHABLE, -1, false, EHOSTUNREACH },
	/* IPv6: ICMPv6 codes */
	{ CONV_ERR_DESTINATION_UNREACHABLE, 0, true, ENETUNREACH },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 1, true, EACCES },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 3, true, EHOSTUNREACH },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 4, true, ECONNREFUSED },
	{ CONV_ERR_DESTINATION_UNREACHABLE, 13, true, EHOSTUNREACH },
	/* unregistered codes are refusals */
	{ 4, -1, false, ECONNREFUSED },
	{ 255, 0, true, ECONNREFUSED },
};

static void every_error_maps_to_the_errno_of_a_direct_connect(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct errno_vector *v = &vectors[i];
		uint8_t value = (uint8_t)(v->value < 0 ? 0 : v->value);
		int got = conv_error_errno(v->code, v->value < 0 ? NULL : &value,
					   v->value < 0 ? 0 : 1, v->v6);

		if (got != v->want)
			fail_msg("code %u value %d v6 %d: errno %d (%s), want %d (%s)", v->code,
				 v->value, v->v6, got, strerror(got), v->want, strerror(v->want));
	}
}

static void no_code_ever_maps_to_success(void **state)
{
	for (unsigned code = 0; code < 256; code++) {
		for (unsigned value = 0; value < 256; value += 17) {
			uint8_t b = (uint8_t)value;

			assert_true(conv_error_errno((uint8_t)code, &b, 1, false) > 0);
			assert_true(conv_error_errno((uint8_t)code, &b, 1, true) > 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_error_maps_to_the_errno_of_a_direct_connect),
		cmocka_unit_test(no_code_ever_maps_to_success),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
