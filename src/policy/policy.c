// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Gateway policy: parses rule text into struct pol_rule, prints it back in one canonical form,
 * and picks the first rule a LAN flow matches. A table owns its rule array and nothing else.
 * Pure: no global state, no I/O, no logging; errors go to the caller's buffer and quote both the
 * offending word and the whole rule, because the caller only knows the config line.
 * Never guesses: a unit, a link name or a keyword it does not know is an error, not a default.
 * Prefix matching is acl.c's; this file only adds the rule that a prefix matches its own family.
 */
#include "policy.h"
#include "units.h"

#include "addr.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longer than any prefix, list of eight link names or rate a person would write. */
#define POL_WORD_LEN  256
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Where a rule is being parsed: the text to quote in errors and the links names resolve to. */
struct pol_parser {
	const char *text; /* the rule without its surrounding white space */
	int text_len;
	const char *const *link_names;
	size_t links_len;
	char *err;
};

static bool pol_fail(struct pol_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool pol_fail(struct pol_parser *p, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (!p->err)
		return false;
	used = (size_t)snprintf(p->err, POL_ERR_LEN, "rule: ");
	va_start(ap, fmt);
	vsnprintf(p->err + used, POL_ERR_LEN - used, fmt, ap);
	va_end(ap);
	used = strlen(p->err);
	snprintf(p->err + used, POL_ERR_LEN - used, " in '%.*s'", p->text_len, p->text);
	return false;
}

static bool pol_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Copies the next word at *cursor into word and moves past it. 1, 0 at the end of the text, or
 * -1 for a word too long (then word holds its truncated start, for the error message).
 */
static int pol_next_word(const char **cursor, char word[POL_WORD_LEN])
{
	const char *p = *cursor, *start;
	size_t len;

	while (pol_is_space(*p))
		p++;
	start = p;
	while (*p && !pol_is_space(*p))
		p++;
	*cursor = p;
	len = (size_t)(p - start);
	if (len == 0)
		return 0;
	if (len >= POL_WORD_LEN) {
		snprintf(word, POL_WORD_LEN, "%.40s...", start);
		return -1;
	}
	memcpy(word, start, len);
	word[len] = '\0';
	return 1;
}

/* An IPv4 prefix is one inside ::ffff:0:0/96, however it was spelt. */
static bool pol_prefix_is_v4(const struct acl_prefix *prefix)
{
	return prefix->len >= 96 && addr_is_v4mapped(prefix->ip);
}

/*
 * The family check is ours: acl.c lets ::/0 cover IPv4 clients (right for an allow-list), but a
 * rule written "to ::/0" means IPv6 traffic.
 */
static bool pol_prefix_matches(const struct acl_prefix *prefix, const uint8_t ip[16])
{
	struct acl_prefix copy = *prefix;
	struct acl one = { .prefixes = &copy, .len = 1, .cap = 1 };

	if (pol_prefix_is_v4(prefix) != addr_is_v4mapped(ip))
		return false;
	return acl_contains(&one, ip);
}

static int pol_find_link(struct pol_parser *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->links_len; i++) {
		if (p->link_names[i] && strlen(p->link_names[i]) == len &&
		    !memcmp(p->link_names[i], name, len))
			return (int)i;
	}
	return -1;
}

/* Lists the declared links: the likely fix for a typo is one of them. */
static bool pol_fail_unknown_link(struct pol_parser *p, const char *name, size_t len)
{
	char known[128] = "none declared";
	size_t used = 0;

	for (size_t i = 0; i < p->links_len && used < sizeof(known); i++) {
		int n = snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
				 p->link_names[i] ? p->link_names[i] : "?");

		if (n > 0)
			used += (size_t)n;
	}
	return pol_fail(p, "unknown link '%.*s' (links: %s)", (int)len, name, known);
}

/* ---- one parser per keyword; each quotes its value on error ---- */

static bool pol_parse_prefix(struct pol_parser *p, const char *keyword, const char *value,
			     struct acl_prefix *out)
{
	if (!acl_parse_prefix(value, out))
		return pol_fail(p,
				"bad %s prefix '%s' (an address or a prefix with zero host bits)",
				keyword, value);
	return true;
}

static bool pol_parse_from(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	rule->has_src = true;
	return pol_parse_prefix(p, "from", value, &rule->src);
}

static bool pol_parse_to(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	rule->has_dst = true;
	return pol_parse_prefix(p, "to", value, &rule->dst);
}

/* "N" or "N-M", 1..65535, N <= M. Port 0 is refused: no connection goes to it. */
static bool pol_parse_port(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	const char *cursor = value;
	uint64_t lo, hi;

	if (!units_parse_digits(&cursor, &lo))
		goto bad;
	hi = lo;
	if (*cursor == '-') {
		cursor++;
		if (!units_parse_digits(&cursor, &hi))
			goto bad;
	}
	if (*cursor || lo < 1 || hi > 65535 || lo > hi)
		goto bad;
	rule->port_min = (uint16_t)lo;
	rule->port_max = (uint16_t)hi;
	return true;
bad:
	return pol_fail(p, "bad port '%s' (N or N-M, 1..65535, N <= M)", value);
}

static bool pol_parse_dscp(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	const char *cursor = value;
	uint64_t dscp;

	if (!units_parse_digits(&cursor, &dscp) || *cursor || dscp > 63)
		return pol_fail(p, "bad dscp '%s' (0..63)", value);
	rule->dscp = (int)dscp;
	return true;
}

/* "a,b,c": known link names, each once, no empty items. */
static bool pol_parse_link_list(struct pol_parser *p, const char *keyword, const char *value,
				uint8_t *mask)
{
	const char *item = value;

	*mask = 0;
	for (;;) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);
		int link;

		if (len == 0)
			return pol_fail(p, "empty link name: %s '%s'", keyword, value);
		link = pol_find_link(p, item, len);
		if (link < 0)
			return pol_fail_unknown_link(p, item, len);
		if (*mask & (1u << link))
			return pol_fail(p, "link '%.*s' listed twice: %s '%s'", (int)len, item,
					keyword, value);
		*mask |= (uint8_t)(1u << link);
		if (!comma)
			return true;
		item = comma + 1;
	}
}

static bool pol_parse_links(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	return pol_parse_link_list(p, "links", value, &rule->links);
}

static bool pol_parse_backup(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	return pol_parse_link_list(p, "backup", value, &rule->backup);
}

/*
 * A number with ms, s, m or h, as in the config file. A bare number is refused (seconds or
 * milliseconds?), and so is 0: "the gateway's default" is said by leaving idle out.
 */
static bool pol_parse_idle(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	uint64_t ms;

	if (!units_parse_duration(value, &ms) || ms == 0 || ms > UINT32_MAX)
		return pol_fail(
			p, "bad idle '%s' (a duration above 0 with ms, s, m or h, under 49 days)",
			value);
	rule->idle_timeout_ms = (uint32_t)ms;
	return true;
}

/*
 * tc's spelling, any case: bits per second bare or with bit, kbit, mbit, gbit, tbit (powers of
 * 1000), bytes per second with bps, kbps, mbps, gbps. 0 is refused: unlimited is no rate word.
 */
static const struct {
	const char *suffix;
	uint64_t bps;
} pol_rate_units[] = {
	{ "", 1 },
	{ "bit", 1 },
	{ "kbit", 1000ULL },
	{ "mbit", 1000000ULL },
	{ "gbit", 1000000000ULL },
	{ "tbit", 1000000000000ULL },
	{ "bps", 8 },
	{ "kbps", 8000ULL },
	{ "mbps", 8000000ULL },
	{ "gbps", 8000000000ULL },
};

static bool pol_parse_rate(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	const char *cursor = value;
	uint64_t n;

	if (!units_parse_digits(&cursor, &n) || n == 0)
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(pol_rate_units); i++) {
		if (strcasecmp(cursor, pol_rate_units[i].suffix))
			continue;
		if (n > UINT64_MAX / pol_rate_units[i].bps)
			goto bad;
		rule->rate_bps = n * pol_rate_units[i].bps;
		return true;
	}
bad:
	return pol_fail(p,
			"bad rate '%s' (above 0: bits/s, or with kbit, mbit, gbit, kbps, mbps...)",
			value);
}

/* Letters, digits, '-' and '_': safe in logs, metrics labels and mpconvctl arguments. */
static bool pol_parse_name(struct pol_parser *p, const char *value, struct pol_rule *rule)
{
	size_t len = strlen(value);

	if (len >= POL_NAME_LEN)
		goto bad;
	for (const char *c = value; *c; c++) {
		if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
		    !(*c >= '0' && *c <= '9') && *c != '-' && *c != '_')
			goto bad;
	}
	memcpy(rule->name, value, len + 1);
	return true;
bad:
	return pol_fail(p, "bad name '%s' (letters, digits, '-' and '_', at most %d)", value,
			POL_NAME_LEN - 1);
}

#define POL_FOR_BLOCK  (1u << POL_BLOCK)
#define POL_FOR_DIRECT (1u << POL_DIRECT)
#define POL_FOR_BOND   (1u << POL_BOND)
#define POL_FOR_ALL    (POL_FOR_BLOCK | POL_FOR_DIRECT | POL_FOR_BOND)

#define POL_WHY_LINKS "only bond spreads over links; direct:LINK picks one"

/* One table: the keyword, its parser, and the actions it means something for. */
static const struct pol_keyword {
	const char *name;
	bool (*parse)(struct pol_parser *p, const char *value, struct pol_rule *rule);
	unsigned actions;
	const char *why_not; /* for the actions it is refused with */
} pol_keywords[] = {
	{ "from", pol_parse_from, POL_FOR_ALL, NULL },
	{ "to", pol_parse_to, POL_FOR_ALL, NULL },
	{ "port", pol_parse_port, POL_FOR_ALL, NULL },
	{ "dscp", pol_parse_dscp, POL_FOR_ALL, NULL },
	{ "links", pol_parse_links, POL_FOR_BOND, POL_WHY_LINKS },
	{ "backup", pol_parse_backup, POL_FOR_BOND, POL_WHY_LINKS },
	{ "idle", pol_parse_idle, POL_FOR_BOND | POL_FOR_DIRECT, "a blocked flow never idles" },
	{ "rate", pol_parse_rate, POL_FOR_BOND | POL_FOR_DIRECT, "a blocked flow has no rate" },
	{ "name", pol_parse_name, POL_FOR_ALL, NULL },
};

static_assert(ARRAY_SIZE(pol_keywords) <= 32, "keywords seen are kept in a 32-bit mask");

static const char *const pol_action_names[] = {
	[POL_BOND] = "bond",
	[POL_DIRECT] = "direct",
	[POL_BLOCK] = "block",
};

bool pol_parse_action(const char *text, enum pol_action *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(pol_action_names); i++) {
		if (!strcmp(text, pol_action_names[i])) {
			*out = (enum pol_action)i;
			return true;
		}
	}
	return false;
}

const char *pol_action_name(enum pol_action action)
{
	if ((size_t)action < ARRAY_SIZE(pol_action_names))
		return pol_action_names[action];
	return "?";
}

/* "bond", "block", "direct" or "direct:LINK". */
static bool pol_parse_action_word(struct pol_parser *p, const char *word, struct pol_rule *rule)
{
	const char *colon = strchr(word, ':');
	char action[16];
	size_t len = colon ? (size_t)(colon - word) : strlen(word);

	if (len >= sizeof(action))
		goto unknown;
	memcpy(action, word, len);
	action[len] = '\0';
	if (!pol_parse_action(action, &rule->action))
		goto unknown;
	if (!colon)
		return true;
	if (rule->action != POL_DIRECT)
		return pol_fail(p, "only direct takes a link: '%s'", word);
	if (!colon[1])
		return pol_fail(p, "no link name after '%s'", word);
	rule->direct_link = pol_find_link(p, colon + 1, strlen(colon + 1));
	if (rule->direct_link < 0)
		return pol_fail_unknown_link(p, colon + 1, strlen(colon + 1));
	return true;
unknown:
	return pol_fail(p, "unknown action '%s' (bond, direct, direct:LINK or block)", word);
}

/* Checks that need the whole rule, whatever order its words came in. */
static bool pol_check_rule(struct pol_parser *p, const struct pol_rule *rule)
{
	uint8_t usable = rule->links ? rule->links : (uint8_t)((1u << p->links_len) - 1);

	if (rule->has_src && rule->has_dst &&
	    pol_prefix_is_v4(&rule->src) != pol_prefix_is_v4(&rule->dst))
		return pol_fail(
			p, "'from' and 'to' are of different address families (never matches)");
	for (size_t i = 0; rule->links && i < p->links_len; i++) {
		if (rule->backup & ~rule->links & (1u << i))
			return pol_fail(p, "backup link '%s' is not one of the links",
					p->link_names[i]);
	}
	/* All-backup is refused: a backup with nothing to back up is a typo, not a policy. */
	if (rule->backup && rule->backup == usable) {
		char names[128] = "";
		size_t used = 0;

		for (size_t i = 0; i < p->links_len && used < sizeof(names); i++) {
			if (rule->backup & (1u << i)) {
				int n = snprintf(names + used, sizeof(names) - used, "%s%s",
						 used ? "," : "", p->link_names[i]);

				if (n > 0)
					used += (size_t)n;
			}
		}
		return pol_fail(p, "backup '%s' leaves no primary link", names);
	}
	return true;
}

int pol_parse_rule(const char *text, const char *const *link_names, size_t links_len,
		   struct pol_rule *out, char err[POL_ERR_LEN])
{
	struct pol_parser p = { .link_names = link_names, .links_len = links_len, .err = err };
	char word[POL_WORD_LEN], value[POL_WORD_LEN];
	const char *cursor, *end;
	struct pol_rule rule;
	uint32_t seen = 0;
	int ret;

	/* Trimmed, so the quote in errors is the rule and not the config line's indentation. */
	while (pol_is_space(*text))
		text++;
	end = text + strlen(text);
	while (end > text && pol_is_space(end[-1]))
		end--;
	p.text = text;
	p.text_len = end - text > 1024 ? 1024 : (int)(end - text);
	cursor = text;

	memset(&rule, 0, sizeof(rule));
	rule.port_max = 65535;
	rule.dscp = -1;
	rule.direct_link = -1;

	if (links_len > POL_MAX_LINKS) {
		pol_fail(&p, "%zu links declared, at most %d", links_len, POL_MAX_LINKS);
		return -EINVAL;
	}
	ret = pol_next_word(&cursor, word);
	if (ret == 0) {
		pol_fail(&p, "empty, expected an action (bond, direct, direct:LINK or block)");
		return -EINVAL;
	}
	if (ret < 0) {
		pol_fail(&p, "word too long: '%s'", word);
		return -EINVAL;
	}
	if (!pol_parse_action_word(&p, word, &rule))
		return -EINVAL;

	while ((ret = pol_next_word(&cursor, word)) != 0) {
		const struct pol_keyword *keyword = NULL;
		size_t i;

		if (ret < 0) {
			pol_fail(&p, "word too long: '%s'", word);
			return -EINVAL;
		}
		for (i = 0; i < ARRAY_SIZE(pol_keywords); i++) {
			if (!strcmp(word, pol_keywords[i].name)) {
				keyword = &pol_keywords[i];
				break;
			}
		}
		if (!keyword) {
			pol_fail(&p, "unknown keyword '%s'", word);
			return -EINVAL;
		}
		if (seen & (1u << i)) {
			pol_fail(&p, "'%s' given twice", word);
			return -EINVAL;
		}
		seen |= 1u << i;
		if (!(keyword->actions & (1u << rule.action))) {
			pol_fail(&p, "'%s' does not apply to %s (%s)", word,
				 pol_action_name(rule.action), keyword->why_not);
			return -EINVAL;
		}
		ret = pol_next_word(&cursor, value);
		if (ret == 0) {
			pol_fail(&p, "'%s' needs a value", word);
			return -EINVAL;
		}
		if (ret < 0) {
			pol_fail(&p, "word too long: '%s'", value);
			return -EINVAL;
		}
		if (!keyword->parse(&p, value, &rule))
			return -EINVAL;
	}
	if (!pol_check_rule(&p, &rule))
		return -EINVAL;
	memcpy(out, &rule, sizeof(rule));
	return 0;
}

void pol_init(struct pol_table *table, enum pol_action fallback)
{
	memset(table, 0, sizeof(*table));
	table->fallback.action = fallback;
	snprintf(table->fallback.name, sizeof(table->fallback.name), "default");
	table->fallback.port_max = 65535;
	table->fallback.dscp = -1;
	table->fallback.direct_link = -1;
}

/* The default rule survives, so a freed table is an empty one, safe to use or free again. */
void pol_free(struct pol_table *table)
{
	free(table->rules);
	table->rules = NULL;
	table->len = table->cap = 0;
}

int pol_add(struct pol_table *table, const struct pol_rule *rule)
{
	struct pol_rule *added;

	if (table->len == table->cap) {
		size_t cap = table->cap ? table->cap * 2 : 8;
		struct pol_rule *grown = reallocarray(table->rules, cap, sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		table->rules = grown;
		table->cap = cap;
	}
	added = &table->rules[table->len++];
	*added = *rule;
	if (!added->name[0])
		snprintf(added->name, sizeof(added->name), "rule%zu", table->len);
	return 0;
}

static bool pol_rule_matches(const struct pol_rule *rule, const struct pol_flow *flow)
{
	if (rule->has_src && !pol_prefix_matches(&rule->src, flow->src))
		return false;
	if (rule->has_dst && !pol_prefix_matches(&rule->dst, flow->dst))
		return false;
	if (flow->dport < rule->port_min || flow->dport > rule->port_max)
		return false;
	if (rule->dscp >= 0 && flow->dscp != rule->dscp)
		return false;
	return true;
}

const struct pol_rule *pol_match(const struct pol_table *table, const struct pol_flow *flow)
{
	for (size_t i = 0; i < table->len; i++) {
		if (pol_rule_matches(&table->rules[i], flow))
			return &table->rules[i];
	}
	return &table->fallback;
}

/* ---- formatting: appends that never overrun and leave buf terminated ---- */

struct pol_out {
	char *buf;
	size_t len, used;
};

static void pol_put(struct pol_out *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pol_put(struct pol_out *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (out->used >= out->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out->buf + out->used, out->len - out->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		out->used += (size_t)n;
}

/* A link index the names do not cover is printed as "?N": a caller's bug, never parsed back. */
static void pol_put_link(struct pol_out *out, int link, const char *const *link_names,
			 size_t links_len)
{
	if (link >= 0 && (size_t)link < links_len && link_names[link])
		pol_put(out, "%s", link_names[link]);
	else
		pol_put(out, "?%d", link);
}

static void pol_put_links(struct pol_out *out, const char *keyword, uint8_t mask,
			  const char *const *link_names, size_t links_len)
{
	const char *sep = " ";

	pol_put(out, " %s", keyword);
	for (int i = 0; i < 8; i++) {
		if (!(mask & (1u << i)))
			continue;
		pol_put(out, "%s", sep);
		pol_put_link(out, i, link_names, links_len);
		sep = ",";
	}
}

/* IPv4 prefixes in dotted form with their IPv4 length, so they parse back the same. */
static void pol_put_prefix(struct pol_out *out, const char *keyword,
			   const struct acl_prefix *prefix)
{
	struct addr_port ap = { .port = 0 };
	char host[ADDR_STRLEN];
	bool v4 = pol_prefix_is_v4(prefix);

	memcpy(ap.ip, prefix->ip, sizeof(ap.ip));
	addr_format(&ap, false, host);
	pol_put(out, " %s %s/%u", keyword, host, v4 ? prefix->len - 96u : (unsigned)prefix->len);
}

char *pol_format(const struct pol_rule *rule, const char *const *link_names, size_t links_len,
		 char *buf, size_t len)
{
	struct pol_out out = { .buf = buf, .len = len };

	if (len == 0)
		return buf;
	buf[0] = '\0';
	pol_put(&out, "%s", pol_action_name(rule->action));
	if (rule->action == POL_DIRECT && rule->direct_link >= 0) {
		pol_put(&out, ":");
		pol_put_link(&out, rule->direct_link, link_names, links_len);
	}
	if (rule->has_src)
		pol_put_prefix(&out, "from", &rule->src);
	if (rule->has_dst)
		pol_put_prefix(&out, "to", &rule->dst);
	if (rule->port_min == rule->port_max)
		pol_put(&out, " port %u", rule->port_min);
	else if (rule->port_min != 0 || rule->port_max != 65535)
		pol_put(&out, " port %u-%u", rule->port_min, rule->port_max);
	if (rule->dscp >= 0)
		pol_put(&out, " dscp %d", rule->dscp);
	if (rule->links)
		pol_put_links(&out, "links", rule->links, link_names, links_len);
	if (rule->backup)
		pol_put_links(&out, "backup", rule->backup, link_names, links_len);
	if (rule->idle_timeout_ms) {
		char idle[32];

		pol_put(&out, " idle %s", units_fmt_ms(rule->idle_timeout_ms, idle));
	}
	if (rule->rate_bps) {
		/* The largest bit unit that divides exactly; byte units are input only. */
		size_t unit = 1;

		for (size_t i = 2; i <= 5; i++) {
			if (rule->rate_bps % pol_rate_units[i].bps == 0)
				unit = i;
		}
		pol_put(&out, " rate %llu%s",
			(unsigned long long)(rule->rate_bps / pol_rate_units[unit].bps),
			pol_rate_units[unit].suffix);
	}
	if (rule->name[0])
		pol_put(&out, " name %s", rule->name);
	return buf;
}
