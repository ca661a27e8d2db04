/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CONVERT_ERRNO_H
#define MPCONV_CONVERT_ERRNO_H

#include "convert.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What a program's connect() should fail with when the converter answered with an Error TLV
 * (libmpconv, the LD_PRELOAD client): the errno a direct connect would have given for the same
 * cause. value/value_len: the Error TLV's value (Destination Unreachable carries the ICMP or,
 * for an IPv6 destination, ICMPv6 code the converter received). Never 0: an unregistered code
 * is ECONNREFUSED, as a refusal it is.
 */
int conv_error_errno(uint8_t code, const uint8_t *value, size_t value_len, bool dest_v6);

#endif
