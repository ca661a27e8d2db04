// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The link line of the gateway's configuration, parsed into a struct link_conf. Pure: the
 * interface and its addresses are looked up later, by gateway/links.c; an error quotes the bad
 * word and never touches the system.
 */
#include "link_conf.h"

#include "addr.h"
#include "units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *link_role_name(enum link_role role)
{
	static const char *const names[] = { "primary", "secondary", "backup", "overflow" };

	return names[role];
}

/* digits then one of the suffixes (each worth its multiplier), none meaning 1 when bare_ok;
 * 0 on overflow or junk. */
static uint64_t link_conf_number(const char *text, const char *const *suffixes,
				 const uint64_t *mult, size_t n, bool bare_ok)
{
	const char *p = text;
	uint64_t v;

	if (!units_parse_digits(&p, &v) || v > UINT32_MAX)
		return 0;
	if (!*p)
		return bare_ok ? v : 0;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(p, suffixes[i]))
			return v * mult[i];
	return 0;
}

static int link_conf_fail(char err[LINKS_ERR_LEN], const char *text, const char *what,
			  const char *word)
{
	snprintf(err, LINKS_ERR_LEN, "link: %s '%s' in '%s'", what, word, text);
	return -EINVAL;
}

int link_conf_parse(const char *text, struct link_conf *out, char err[LINKS_ERR_LEN])
{
	char copy[512], *save = NULL, *word;
	bool has_dev = false;

	memset(out, 0, sizeof(*out));
	out->role = LINK_SECONDARY;
	if (strlen(text) >= sizeof(copy))
		return link_conf_fail(err, "...", "line too long", "");
	strcpy(copy, text);
	word = strtok_r(copy, " \t", &save);
	if (!word)
		return link_conf_fail(err, text, "missing name", "");
	if (strlen(word) >= LINK_NAME_LEN || strspn(word, "abcdefghijklmnopqrstuvwxyz"
							 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
						     strlen(word))
		return link_conf_fail(err, text, "bad name (letters, digits, - and _)", word);
	strcpy(out->name, word);
	while ((word = strtok_r(NULL, " \t", &save))) {
		char *value = strtok_r(NULL, " \t", &save);
		uint8_t ip[16];

		if (!value)
			return link_conf_fail(err, text, "missing value after", word);
		if (!strcmp(word, "dev")) {
			if (strlen(value) >= sizeof(out->dev) || strchr(value, '/'))
				return link_conf_fail(err, text, "bad interface name", value);
			strcpy(out->dev, value);
			has_dev = true;
		} else if (!strcmp(word, "addr") || !strcmp(word, "via")) {
			bool v4, is_addr = word[0] == 'a';

			if (!addr_parse_ip(value, ip))
				return link_conf_fail(err, text, "bad address", value);
			v4 = addr_is_v4mapped(ip);
			if (is_addr) {
				memcpy(v4 ? out->addr4 : out->addr6, ip, 16);
				*(v4 ? &out->has_addr4 : &out->has_addr6) = true;
			} else {
				memcpy(v4 ? out->via4 : out->via6, ip, 16);
				*(v4 ? &out->has_via4 : &out->has_via6) = true;
			}
		} else if (!strcmp(word, "role")) {
			if (!strcmp(value, "primary"))
				out->role = LINK_PRIMARY;
			else if (!strcmp(value, "secondary"))
				out->role = LINK_SECONDARY;
			else if (!strcmp(value, "backup"))
				out->role = LINK_BACKUP;
			else if (!strcmp(value, "overflow"))
				out->role = LINK_OVERFLOW;
			else
				return link_conf_fail(
					err, text, "role is primary, secondary, backup or overflow, not",
					value);
		} else if (!strcmp(word, "rate")) {
			static const char *const sfx[] = { "kbit", "mbit", "gbit" };
			static const uint64_t mult[] = { 1000, 1000000, 1000000000 };

			out->rate_bps = link_conf_number(value, sfx, mult, 3, false);
			if (!out->rate_bps)
				return link_conf_fail(err, text, "rate is N kbit|mbit|gbit, not", value);
		} else if (!strcmp(word, "quota")) {
			static const char *const sfx[] = { "k", "m", "g", "t" };
			static const uint64_t mult[] = { 1ULL << 10, 1ULL << 20, 1ULL << 30, 1ULL << 40 };

			out->quota_bytes = link_conf_number(value, sfx, mult, 4, true);
			if (!out->quota_bytes)
				return link_conf_fail(err, text, "quota is a size (10G), not", value);
		} else {
			return link_conf_fail(err, text, "unknown word", word);
		}
	}
	if (!has_dev)
		return link_conf_fail(err, text, "missing", "dev IFNAME");
	return 0;
}
