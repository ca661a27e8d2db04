// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Parsing and printing of the numbers operators write: digits, durations, sizes.
 * Shared by config and policy so a unit means one thing everywhere. Pure, no allocation;
 * every function refuses what it does not fully understand rather than guessing.
 */
#include "units.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Decimal digits, at least one; stops at the first non-digit. No sign, no hex, no overflow. */
bool units_parse_digits(const char **text, uint64_t *out)
{
	const char *p = *text;
	uint64_t value = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (value > (UINT64_MAX - 9) / 10)
			return false;
		value = value * 10 + (uint64_t)(*p - '0');
	}
	*text = p;
	*out = value;
	return true;
}

/* "0", or a number with one of ms, s, m, h. A bare number is refused: whether it would mean
 * seconds (systemd) or milliseconds (HAProxy) is a coin toss, so the unit is spelled out. */
bool units_parse_duration(const char *text, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "s", UNITS_SEC }, { "m", UNITS_MIN }, { "h", UNITS_HOUR } };
	uint64_t value;

	if (!units_parse_digits(&text, &value))
		return false;
	if (!*text && value == 0) {
		*ms = 0;
		return true;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(text, units[i].suffix))
			continue;
		if (value > UINT32_MAX)
			return false;
		*ms = value * units[i].ms;
		return true;
	}
	return false;
}

/* Bytes, or a number with k (KiB) or m (MiB), either case. */
bool units_parse_size(const char *text, uint64_t *bytes)
{
	uint64_t value, unit = 1;

	if (!units_parse_digits(&text, &value))
		return false;
	if (!strcasecmp(text, "k"))
		unit = UNITS_KIB;
	else if (!strcasecmp(text, "m"))
		unit = UNITS_MIB;
	else if (*text)
		return false;
	if (value > UINT32_MAX)
		return false;
	*bytes = value * unit;
	return true;
}

/* Bounds in the units a user writes, for error messages: "1h", "4k", "0". */
const char *units_fmt_ms(uint64_t ms, char buf[32])
{
	if (ms == 0)
		snprintf(buf, 32, "0");
	else if (ms % UNITS_HOUR == 0)
		snprintf(buf, 32, "%lluh", (unsigned long long)(ms / UNITS_HOUR));
	else if (ms % UNITS_MIN == 0)
		snprintf(buf, 32, "%llum", (unsigned long long)(ms / UNITS_MIN));
	else if (ms % UNITS_SEC == 0)
		snprintf(buf, 32, "%llus", (unsigned long long)(ms / UNITS_SEC));
	else
		snprintf(buf, 32, "%llums", (unsigned long long)ms);
	return buf;
}

const char *units_fmt_size(uint64_t bytes, char buf[32])
{
	if (bytes && bytes % UNITS_MIB == 0)
		snprintf(buf, 32, "%llum", (unsigned long long)(bytes / UNITS_MIB));
	else if (bytes && bytes % UNITS_KIB == 0)
		snprintf(buf, 32, "%lluk", (unsigned long long)(bytes / UNITS_KIB));
	else
		snprintf(buf, 32, "%llu", (unsigned long long)bytes);
	return buf;
}
