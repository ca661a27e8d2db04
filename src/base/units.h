/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_UNITS_H
#define MPCONV_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Numbers as operators write them in config files, flags and policy rules: plain digits,
 * durations with a unit, sizes with k/m. One parser for all of them, so "10m" means the same
 * everywhere. Pure.
 */
#define UNITS_SEC  1000ULL
#define UNITS_MIN  (60 * UNITS_SEC)
#define UNITS_HOUR (60 * UNITS_MIN)
#define UNITS_KIB  1024ULL
#define UNITS_MIB  (1024ULL * 1024)

/* Decimal digits, at least one; advances *text past them. No sign, no hex, no overflow. */
bool units_parse_digits(const char **text, uint64_t *out);
/* "0", or a number with ms, s, m or h (never bare: seconds or milliseconds would be a guess),
 * the number at most 2^32 - 1. Milliseconds in *ms. */
bool units_parse_duration(const char *text, uint64_t *ms);
/* Bytes, or a number with k (KiB) or m (MiB), either case; the number at most 2^32 - 1. */
bool units_parse_size(const char *text, uint64_t *bytes);
/* The largest whole unit: "0", "1h", "90s", "250ms"; "4m", "64k", "100". Return buf. */
const char *units_fmt_ms(uint64_t ms, char buf[32]);
const char *units_fmt_size(uint64_t bytes, char buf[32]);

#endif
