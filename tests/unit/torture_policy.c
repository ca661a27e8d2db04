// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy: every keyword's happy path, every error (which must quote the offending word and the
 * whole rule, and leave the output alone), first-match order and the fallback, address families
 * kept apart, port and dscp boundaries, the canonical text and its round trip, and table memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"
#include "addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

static const char *const links[] = { "dsl", "lte", "sat" };
#define DSL (1u << 0)
#define LTE (1u << 1)
#define SAT (1u << 2)

static struct pol_rule parse_ok(const char *text)
{
	struct pol_rule rule;
	char err[POL_ERR_LEN] = "";

	if (pol_parse_rule(text, links, ARRAY_SIZE(links), &rule, err))
		fail_msg("refused '%s': %s", text, err);
	return rule;
}

static void assert_prefix(bool has, const struct acl_prefix *prefix, const char *expected,
			  const char *text)
{
	struct acl_prefix want;

	if (!expected) {
		if (has)
			fail_msg("'%s': unexpected prefix", text);
		return;
	}
	assert_true(acl_parse_prefix(expected, &want));
	if (!has || prefix->len != want.len || memcmp(prefix->ip, want.ip, 16))
		fail_msg("'%s': prefix is not %s", text, expected);
}

static void assert_rules_equal(const struct pol_rule *a, const struct pol_rule *b, const char *text)
{
	bool same =
		!strcmp(a->name, b->name) && a->action == b->action && a->has_src == b->has_src &&
		a->has_dst == b->has_dst &&
		(!a->has_src || (a->src.len == b->src.len && !memcmp(a->src.ip, b->src.ip, 16))) &&
		(!a->has_dst || (a->dst.len == b->dst.len && !memcmp(a->dst.ip, b->dst.ip, 16))) &&
		a->port_min == b->port_min && a->port_max == b->port_max && a->dscp == b->dscp &&
		a->links == b->links && a->backup == b->backup &&
		a->direct_link == b->direct_link && a->idle_timeout_ms == b->idle_timeout_ms &&
		a->rate_bps == b->rate_bps;

	if (!same)
		fail_msg("'%s' did not parse back into the same rule", text);
}

static struct pol_flow flow(const char *src, const char *dst, uint16_t dport, uint8_t dscp)
{
	struct pol_flow f = { .dport = dport, .dscp = dscp };

	assert_true(addr_parse_ip(src, f.src));
	assert_true(addr_parse_ip(dst, f.dst));
	return f;
}

static void table_of(struct pol_table *table, enum pol_action fallback, const char *const *rules,
		     size_t n)
{
	pol_init(table, fallback);
	for (size_t i = 0; i < n; i++) {
		struct pol_rule rule = parse_ok(rules[i]);

		assert_int_equal(pol_add(table, &rule), 0);
	}
}

/* ---- parsing: happy paths ---- */

static void every_keyword_parses_into_its_field(void **state)
{
	/* Absent fields mean "the default": any port (0,0 here), no dscp, every link... */
	static const struct {
		const char *text;
		enum pol_action action;
		const char *direct, *from, *to;
		uint16_t port_min, port_max;
		bool has_dscp;
		int dscp;
		uint8_t links, backup;
		uint32_t idle_ms;
		uint64_t rate_bps;
		const char *name;
	} vectors[] = {
		{ .text = "bond", .action = POL_BOND },
		{ .text = "direct", .action = POL_DIRECT },
		{ .text = "block", .action = POL_BLOCK },
		{ "direct:lte", POL_DIRECT, .direct = "lte" },
		{ "direct:sat", POL_DIRECT, .direct = "sat" },
		{ "bond from 10.0.1.0/24", POL_BOND, .from = "10.0.1.0/24" },
		{ "bond from 192.0.2.1", POL_BOND, .from = "192.0.2.1/32" },
		{ "bond to 2001:db8::/32", POL_BOND, .to = "2001:db8::/32" },
		{ "bond to ::/0", POL_BOND, .to = "::/0" },
		{ "block from 0.0.0.0/0 to 198.51.100.0/24", POL_BLOCK, .from = "0.0.0.0/0",
		  .to = "198.51.100.0/24" },
		{ "bond port 443", POL_BOND, .port_min = 443, .port_max = 443 },
		{ "bond port 1", POL_BOND, .port_min = 1, .port_max = 1 },
		{ "bond port 65535", POL_BOND, .port_min = 65535, .port_max = 65535 },
		{ "bond port 1-1024", POL_BOND, .port_min = 1, .port_max = 1024 },
		{ "bond port 1-65535", POL_BOND, .port_min = 1, .port_max = 65535 },
		{ "bond port 8080-8080", POL_BOND, .port_min = 8080, .port_max = 8080 },
		{ "bond port 00443", POL_BOND, .port_min = 443, .port_max = 443 },
		{ "bond dscp 0", POL_BOND, .has_dscp = true, .dscp = 0 },
		{ "bond dscp 46", POL_BOND, .has_dscp = true, .dscp = 46 },
		{ "bond dscp 63", POL_BOND, .has_dscp = true, .dscp = 63 },
		{ "bond links dsl,lte", POL_BOND, .links = DSL | LTE },
		{ "bond links lte,dsl", POL_BOND, .links = DSL | LTE },
		{ "bond links sat", POL_BOND, .links = SAT },
		{ "bond links dsl,lte,sat", POL_BOND, .links = DSL | LTE | SAT },
		{ "bond links dsl,lte backup lte", POL_BOND, .links = DSL | LTE, .backup = LTE },
		{ "bond backup lte links dsl,lte", POL_BOND, .links = DSL | LTE, .backup = LTE },
		{ "bond backup sat", POL_BOND, .backup = SAT },
		{ "bond backup lte,sat", POL_BOND, .backup = LTE | SAT },
		{ "bond idle 500ms", POL_BOND, .idle_ms = 500 },
		{ "bond idle 30s", POL_BOND, .idle_ms = 30000 },
		{ "bond idle 10m", POL_BOND, .idle_ms = 600000 },
		{ "bond idle 1h", POL_BOND, .idle_ms = 3600000 },
		{ "bond idle 1000h", POL_BOND, .idle_ms = 3600000000u },
		{ "direct idle 90s", POL_DIRECT, .idle_ms = 90000 },
		{ "bond rate 1000000", POL_BOND, .rate_bps = 1000000 },
		{ "bond rate 1500bit", POL_BOND, .rate_bps = 1500 },
		{ "bond rate 500kbit", POL_BOND, .rate_bps = 500000 },
		{ "bond rate 20mbit", POL_BOND, .rate_bps = 20000000 },
		{ "bond rate 20MBit", POL_BOND, .rate_bps = 20000000 },
		{ "bond rate 1gbit", POL_BOND, .rate_bps = 1000000000 },
		{ "bond rate 2tbit", POL_BOND, .rate_bps = 2000000000000ULL },
		{ "bond rate 125bps", POL_BOND, .rate_bps = 1000 },
		{ "bond rate 10kbps", POL_BOND, .rate_bps = 80000 },
		{ "bond rate 2mbps", POL_BOND, .rate_bps = 16000000 },
		{ "bond rate 1gbps", POL_BOND, .rate_bps = 8000000000ULL },
		{ "direct:dsl rate 1mbit", POL_DIRECT, .direct = "dsl", .rate_bps = 1000000 },
		{ "bond name web", POL_BOND, .name = "web" },
		{ "block name a-b_C9", POL_BLOCK, .name = "a-b_C9" },
		{ "bond name abcdefghijklmnopqrstuvwxyz01234", POL_BOND,
		  .name = "abcdefghijklmnopqrstuvwxyz01234" },
		/* The header's example, every keyword at once, then in another order. */
		{ "bond from 10.0.1.0/24 port 443 links dsl,lte backup lte rate 20mbit name web",
		  POL_BOND, .from = "10.0.1.0/24", .port_min = 443, .port_max = 443,
		  .links = DSL | LTE, .backup = LTE, .rate_bps = 20000000, .name = "web" },
		{ "bond name web rate 20mbit backup lte links dsl,lte port 443 from 10.0.1.0/24",
		  POL_BOND, .from = "10.0.1.0/24", .port_min = 443, .port_max = 443,
		  .links = DSL | LTE, .backup = LTE, .rate_bps = 20000000, .name = "web" },
		{ "block from 10.0.0.0/8 to 203.0.113.0/24 port 25 dscp 8 name nosmtp", POL_BLOCK,
		  .from = "10.0.0.0/8", .to = "203.0.113.0/24", .port_min = 25, .port_max = 25,
		  .has_dscp = true, .dscp = 8, .name = "nosmtp" },
		{ "direct:sat to 192.0.2.0/24 dscp 10 idle 2m", POL_DIRECT, .direct = "sat",
		  .to = "192.0.2.0/24", .has_dscp = true, .dscp = 10, .idle_ms = 120000 },
		/* White space is any run of spaces and tabs, a trailing newline included. */
		{ "  bond\tport   443 \n", POL_BOND, .port_min = 443, .port_max = 443 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const char *text = vectors[i].text;
		struct pol_rule rule = parse_ok(text);
		int direct = -1;

		for (size_t l = 0; vectors[i].direct && l < ARRAY_SIZE(links); l++) {
			if (!strcmp(links[l], vectors[i].direct))
				direct = (int)l;
		}
		if (rule.action != vectors[i].action)
			fail_msg("'%s': action %d", text, rule.action);
		if (rule.direct_link != direct)
			fail_msg("'%s': direct link %d", text, rule.direct_link);
		assert_prefix(rule.has_src, &rule.src, vectors[i].from, text);
		assert_prefix(rule.has_dst, &rule.dst, vectors[i].to, text);
		if (vectors[i].port_max) {
			if (rule.port_min != vectors[i].port_min ||
			    rule.port_max != vectors[i].port_max)
				fail_msg("'%s': ports %u-%u", text, rule.port_min, rule.port_max);
		} else if (rule.port_min != 0 || rule.port_max != 65535) {
			fail_msg("'%s': ports %u-%u, expected any", text, rule.port_min,
				 rule.port_max);
		}
		if (rule.dscp != (vectors[i].has_dscp ? vectors[i].dscp : -1))
			fail_msg("'%s': dscp %d", text, rule.dscp);
		if (rule.links != vectors[i].links || rule.backup != vectors[i].backup)
			fail_msg("'%s': links %#x backup %#x", text, rule.links, rule.backup);
		if (rule.idle_timeout_ms != vectors[i].idle_ms)
			fail_msg("'%s': idle %u ms", text, rule.idle_timeout_ms);
		if (rule.rate_bps != vectors[i].rate_bps)
			fail_msg("'%s': rate %llu", text, (unsigned long long)rule.rate_bps);
		/* No name given: empty until pol_add numbers it. */
		assert_string_equal(rule.name, vectors[i].name ? vectors[i].name : "");
	}
}

/* ---- parsing: errors ---- */

static void every_error_quotes_the_word_and_the_rule(void **state)
{
	static const struct {
		const char *text, *word; /* word: what the message must quote */
	} vectors[] = {
		/* empty */
		{ "", "" },
		{ " \t\n", "" },
		/* actions */
		{ "bnd", "bnd" },
		{ "Bond", "Bond" },
		{ "blocks port 25", "blocks" },
		{ "directdsl", "directdsl" },
		{ "port 443", "port" },
		{ "from 10.0.0.0/8 bond", "from" },
		{ "bond:dsl", "bond:dsl" },
		{ "block:dsl", "block:dsl" },
		{ "direct:", "direct:" },
		{ "direct:lte2", "lte2" },
		{ "direct:DSL", "DSL" },
		/* keywords */
		{ "bond prot 443", "prot" },
		{ "bond 443", "443" },
		{ "bond Port 443", "Port" },
		{ "bond port 443 bond", "bond" },
		{ "bond rate 20 mbit", "mbit" },
		/* missing value at the end of the line */
		{ "bond from", "from" },
		{ "bond to", "to" },
		{ "bond port", "port" },
		{ "bond dscp", "dscp" },
		{ "bond links", "links" },
		{ "bond backup", "backup" },
		{ "bond idle", "idle" },
		{ "bond rate", "rate" },
		{ "bond port 80 name", "name" },
		/* duplicates */
		{ "bond port 1 port 2", "port" },
		{ "bond from 10.0.0.0/8 from 10.0.0.0/8", "from" },
		{ "bond to ::/0 to ::/0", "to" },
		{ "bond dscp 1 dscp 1", "dscp" },
		{ "bond links dsl links lte", "links" },
		{ "bond backup dsl backup lte", "backup" },
		{ "bond idle 1s idle 2s", "idle" },
		{ "bond rate 1 rate 2", "rate" },
		{ "bond name a name b", "name" },
		/* prefixes */
		{ "bond from 10.0.0.1/8", "10.0.0.1/8" },
		{ "bond to 10.0.0.0/33", "10.0.0.0/33" },
		{ "bond to host.example", "host.example" },
		{ "bond from [::1]", "[::1]" },
		{ "bond from 10.0.0.0/8 to 2001:db8::/32", "to" },
		{ "bond from ::/0 to 192.0.2.0/24", "to" },
		/* ports */
		{ "bond port 0", "0" },
		{ "bond port 65536", "65536" },
		{ "bond port 0-80", "0-80" },
		{ "bond port 1-65536", "1-65536" },
		{ "bond port 2-1", "2-1" },
		{ "bond port -1", "-1" },
		{ "bond port 1-", "1-" },
		{ "bond port -80", "-80" },
		{ "bond port +80", "+80" },
		{ "bond port 80,443", "80,443" },
		{ "bond port 0x50", "0x50" },
		{ "bond port http", "http" },
		{ "bond port 1-2-3", "1-2-3" },
		{ "bond port 99999999999999999999999", "99999999999999999999999" },
		/* dscp */
		{ "bond dscp 64", "64" },
		{ "bond dscp -1", "-1" },
		{ "bond dscp ef", "ef" },
		{ "bond dscp 4.5", "4.5" },
		{ "bond dscp 99999999999999999999999", "99999999999999999999999" },
		/* links */
		{ "bond links lte2", "lte2" },
		{ "bond links dsl,lte2", "lte2" },
		{ "bond links dsl,,lte", "dsl,,lte" },
		{ "bond links dsl,", "dsl," },
		{ "bond links ,dsl", ",dsl" },
		{ "bond links dsl,dsl", "dsl" },
		{ "bond backup lte2", "lte2" },
		{ "bond links dsl backup lte", "lte" },
		{ "bond backup lte links dsl", "lte" },
		{ "bond links dsl,lte backup sat", "sat" },
		{ "bond links dsl,lte backup dsl,lte", "dsl,lte" },
		{ "bond backup sat,lte,dsl", "dsl,lte,sat" },
		/* keywords that mean nothing for the action */
		{ "block links dsl", "links" },
		{ "block backup dsl", "backup" },
		{ "block idle 5m", "idle" },
		{ "block rate 1mbit", "rate" },
		{ "direct links dsl", "links" },
		{ "direct:dsl backup lte", "backup" },
		/* names */
		{ "bond name web!", "web!" },
		{ "bond name a.b", "a.b" },
		{ "bond name r\xc3\xa9gle", "r\xc3\xa9gle" },
		{ "bond name abcdefghijklmnopqrstuvwxyz012345",
		  "abcdefghijklmnopqrstuvwxyz012345" },
		/* durations */
		{ "bond idle 10", "10" },
		{ "bond idle 0", "0" },
		{ "bond idle 0s", "0s" },
		{ "bond idle 5d", "5d" },
		{ "bond idle 10M", "10M" },
		{ "bond idle -5s", "-5s" },
		{ "bond idle 1.5s", "1.5s" },
		{ "bond idle 1194h", "1194h" }, /* past UINT32_MAX milliseconds */
		{ "bond idle s", "s" },
		/* rates */
		{ "bond rate 0", "0" },
		{ "bond rate 0mbit", "0mbit" },
		{ "bond rate 5xbit", "5xbit" },
		{ "bond rate mbit", "mbit" },
		{ "bond rate 1.5mbit", "1.5mbit" },
		{ "bond rate -1", "-1" },
		{ "bond rate 20mb", "20mb" },
		{ "bond rate 18446744073709551gbit", "18446744073709551gbit" }, /* overflows */
		{ "bond rate 99999999999999999999999", "99999999999999999999999" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const char *text = vectors[i].text, *start = text, *end;
		char err[POL_ERR_LEN] = "", quoted_word[300], quoted_rule[300];
		struct pol_rule rule, untouched;
		size_t err_len;

		memset(&rule, 0xa5, sizeof(rule));
		untouched = rule;
		if (pol_parse_rule(text, links, ARRAY_SIZE(links), &rule, err) != -EINVAL)
			fail_msg("accepted '%s'", text);
		if (memcmp(&rule, &untouched, sizeof(rule)))
			fail_msg("'%s': output written on error", text);

		/* The rule is quoted trimmed, at the end, after "in". */
		while (*start == ' ' || *start == '\t' || *start == '\n')
			start++;
		end = start + strlen(start);
		while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
			end--;
		snprintf(quoted_word, sizeof(quoted_word), "'%s'", vectors[i].word);
		snprintf(quoted_rule, sizeof(quoted_rule), " in '%.*s'", (int)(end - start), start);
		err_len = strlen(err);
		if (strncmp(err, "rule: ", 6) || !strstr(err, quoted_word) ||
		    err_len < strlen(quoted_rule) ||
		    strcmp(err + err_len - strlen(quoted_rule), quoted_rule))
			fail_msg("'%s': message does not quote %s and the rule: %s", text,
				 quoted_word, err);
	}
}

static void error_messages_read_as_documented(void **state)
{
	static const struct {
		const char *text, *err;
	} vectors[] = {
		{ "bond prot 443", "rule: unknown keyword 'prot' in 'bond prot 443'" },
		{ "bond links dsl,lte2",
		  "rule: unknown link 'lte2' (links: dsl, lte, sat) in 'bond links dsl,lte2'" },
		{ "bond port 1 port 2", "rule: 'port' given twice in 'bond port 1 port 2'" },
		{ "bond port", "rule: 'port' needs a value in 'bond port'" },
		{ "bond links dsl backup lte",
		  "rule: backup link 'lte' is not one of the links in 'bond links dsl backup lte'" },
		{ "",
		  "rule: empty, expected an action (bond, direct, direct:LINK or block) in ''" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct pol_rule rule;
		char err[POL_ERR_LEN];

		assert_int_equal(
			pol_parse_rule(vectors[i].text, links, ARRAY_SIZE(links), &rule, err),
			-EINVAL);
		assert_string_equal(err, vectors[i].err);
	}
}

static void unknown_link_error_says_when_no_links_are_declared(void **state)
{
	struct pol_rule rule;
	char err[POL_ERR_LEN];

	assert_int_equal(pol_parse_rule("direct:dsl", NULL, 0, &rule, err), -EINVAL);
	assert_string_equal(err, "rule: unknown link 'dsl' (links: none declared) in 'direct:dsl'");
	/* Rules that name no link need no links. */
	assert_int_equal(pol_parse_rule("bond port 443", NULL, 0, &rule, err), 0);
}

static void more_links_than_the_maximum_are_refused(void **state)
{
	static const char *const many[POL_MAX_LINKS + 1] = { "a", "b", "c", "d", "e",
							     "f", "g", "h", "i" };
	struct pol_rule rule;
	char err[POL_ERR_LEN];

	assert_int_equal(pol_parse_rule("bond links h", many, POL_MAX_LINKS, &rule, err), 0);
	assert_int_equal(rule.links, 1u << 7);
	assert_int_equal(pol_parse_rule("bond", many, POL_MAX_LINKS + 1, &rule, err), -EINVAL);
	assert_non_null(strstr(err, "9 links declared"));
}

static void an_overlong_word_is_refused_and_the_message_stays_bounded(void **state)
{
	char text[2048], err[POL_ERR_LEN];
	struct pol_rule rule;

	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "bond name ", 10);
	assert_int_equal(pol_parse_rule(text, links, ARRAY_SIZE(links), &rule, err), -EINVAL);
	assert_true(strlen(err) < POL_ERR_LEN);
	assert_non_null(strstr(err, "word too long"));
}

static void a_null_error_buffer_is_allowed(void **state)
{
	struct pol_rule rule;

	assert_int_equal(pol_parse_rule("bond prot 443", links, ARRAY_SIZE(links), &rule, NULL),
			 -EINVAL);
}

/* ---- actions ---- */

static void action_names_parse_and_print_both_ways(void **state)
{
	static const enum pol_action actions[] = { POL_BOND, POL_DIRECT, POL_BLOCK };
	enum pol_action action;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		assert_true(pol_parse_action(pol_action_name(actions[i]), &action));
		assert_int_equal(action, actions[i]);
	}
	assert_string_equal(pol_action_name(POL_BOND), "bond");
	assert_string_equal(pol_action_name(POL_DIRECT), "direct");
	assert_string_equal(pol_action_name(POL_BLOCK), "block");
	assert_false(pol_parse_action("direct:dsl", &action));
	assert_false(pol_parse_action("BOND", &action));
	assert_false(pol_parse_action("", &action));
}

/* ---- matching ---- */

static void first_matching_rule_wins_in_table_order(void **state)
{
	static const char *const rules[] = {
		"block port 25 name smtp",
		"direct:dsl to 192.0.2.0/24 name local",
		"bond from 10.0.1.0/24 port 443 name web",
		"bond from 10.0.1.0/24 name lan1",
		"direct port 443 name https", /* never reached for 10.0.1.x on 443 */
		"bond dscp 46 name voice",
	};
	static const struct {
		const char *src, *dst;
		uint16_t port;
		uint8_t dscp;
		const char *rule;
	} vectors[] = {
		{ "10.0.1.5", "192.0.2.1", 25, 0, "smtp" }, /* first of three that match */
		{ "10.0.1.5", "192.0.2.1", 443, 0, "local" },
		{ "10.0.1.5", "198.51.100.1", 443, 0, "web" },
		{ "10.0.1.5", "198.51.100.1", 80, 0, "lan1" },
		{ "10.0.2.5", "198.51.100.1", 443, 46, "https" },
		{ "10.0.2.5", "198.51.100.1", 5060, 46, "voice" },
		{ "10.0.2.5", "198.51.100.1", 5060, 0, "default" },
	};
	struct pol_table table;

	table_of(&table, POL_BOND, rules, ARRAY_SIZE(rules));
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct pol_flow f =
			flow(vectors[i].src, vectors[i].dst, vectors[i].port, vectors[i].dscp);
		const struct pol_rule *match = pol_match(&table, &f);

		if (strcmp(match->name, vectors[i].rule))
			fail_msg("%s -> %s:%u dscp %u: matched %s, expected %s", vectors[i].src,
				 vectors[i].dst, vectors[i].port, vectors[i].dscp, match->name,
				 vectors[i].rule);
	}
	pol_free(&table);
}

static void every_criterion_of_a_rule_must_match(void **state)
{
	static const char *const rules[] = {
		"block from 10.0.0.0/8 to 192.0.2.0/24 port 22 dscp 8",
	};
	static const struct {
		const char *src, *dst;
		uint16_t port;
		uint8_t dscp;
		bool blocked;
	} vectors[] = {
		{ "10.1.1.1", "192.0.2.9", 22, 8, true },
		{ "11.1.1.1", "192.0.2.9", 22, 8, false },
		{ "10.1.1.1", "192.0.3.9", 22, 8, false },
		{ "10.1.1.1", "192.0.2.9", 23, 8, false },
		{ "10.1.1.1", "192.0.2.9", 22, 9, false },
	};
	struct pol_table table;

	table_of(&table, POL_BOND, rules, ARRAY_SIZE(rules));
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct pol_flow f =
			flow(vectors[i].src, vectors[i].dst, vectors[i].port, vectors[i].dscp);

		if ((pol_match(&table, &f)->action == POL_BLOCK) != vectors[i].blocked)
			fail_msg("vector %zu: expected blocked=%d", i, vectors[i].blocked);
	}
	pol_free(&table);
}

static void fallback_is_returned_when_nothing_matches(void **state)
{
	static const enum pol_action actions[] = { POL_BOND, POL_DIRECT, POL_BLOCK };
	static const char *const rules[] = { "block port 25", "direct to 192.0.2.0/24" };

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		struct pol_flow f = flow("10.0.0.1", "198.51.100.1", 443, 0);
		struct pol_table table;
		const struct pol_rule *match;

		/* An empty table, then one whose rules all miss. */
		pol_init(&table, actions[i]);
		match = pol_match(&table, &f);
		assert_ptr_equal(match, &table.fallback);
		assert_int_equal(match->action, actions[i]);
		assert_string_equal(match->name, "default");
		assert_int_equal(match->direct_link, -1);
		pol_free(&table);

		table_of(&table, actions[i], rules, ARRAY_SIZE(rules));
		assert_ptr_equal(pol_match(&table, &f), &table.fallback);
		pol_free(&table);
	}
}

static void a_prefix_only_matches_flows_of_its_own_family(void **state)
{
	static const struct {
		const char *rule, *src, *dst;
		bool match;
	} vectors[] = {
		{ "bond to 0.0.0.0/0", "10.0.0.1", "192.0.2.1", true },
		{ "bond to 0.0.0.0/0", "2001:db8::1", "2001:db8::2", false },
		{ "bond from 0.0.0.0/0", "2001:db8::1", "2001:db8::2", false },
		{ "bond to ::/0", "2001:db8::1", "2001:db8::2", true },
		/* acl.c lets ::/0 cover IPv4; a rule does not. */
		{ "bond to ::/0", "10.0.0.1", "192.0.2.1", false },
		{ "bond from ::/0", "10.0.0.1", "192.0.2.1", false },
		{ "bond to 10.0.0.0/8", "2001:db8::1", "a00::1", false },
		{ "bond to 10.0.0.0/8", "2001:db8::1", "::10.0.0.1", false },
		{ "bond to 2001:db8::/32", "10.0.0.1", "192.0.2.1", false },
		/* Spelt as IPv6 but inside ::ffff:0:0/96: an IPv4 prefix. */
		{ "bond to ::ffff:0:0/96", "10.0.0.1", "192.0.2.1", true },
		{ "bond to ::ffff:0:0/96", "2001:db8::1", "2001:db8::2", false },
		{ "bond from ::ffff:10.0.0.0/104", "10.0.0.1", "192.0.2.1", true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct pol_flow f = flow(vectors[i].src, vectors[i].dst, 443, 0);
		struct pol_table table;

		table_of(&table, POL_BLOCK, &vectors[i].rule, 1);
		if ((pol_match(&table, &f) != &table.fallback) != vectors[i].match)
			fail_msg("'%s' for %s -> %s: expected match=%d", vectors[i].rule,
				 vectors[i].src, vectors[i].dst, vectors[i].match);
		pol_free(&table);
	}
}

static void ports_match_inclusively_at_both_ends(void **state)
{
	static const struct {
		const char *rule;
		uint16_t port;
		bool match;
	} vectors[] = {
		{ "bond port 1000-2000", 999, false },
		{ "bond port 1000-2000", 1000, true },
		{ "bond port 1000-2000", 1500, true },
		{ "bond port 1000-2000", 2000, true },
		{ "bond port 1000-2000", 2001, false },
		{ "bond port 443", 442, false },
		{ "bond port 443", 443, true },
		{ "bond port 443", 444, false },
		{ "bond port 1", 0, false },
		{ "bond port 1", 1, true },
		{ "bond port 65535", 65534, false },
		{ "bond port 65535", 65535, true },
		{ "bond port 1-65535", 0, false },
		{ "bond port 1-65535", 65535, true },
		{ "bond", 0, true }, /* no port word: any port */
		{ "bond", 65535, true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct pol_flow f = flow("10.0.0.1", "192.0.2.1", vectors[i].port, 0);
		struct pol_table table;

		table_of(&table, POL_BLOCK, &vectors[i].rule, 1);
		if ((pol_match(&table, &f) != &table.fallback) != vectors[i].match)
			fail_msg("'%s' port %u: expected match=%d", vectors[i].rule,
				 vectors[i].port, vectors[i].match);
		pol_free(&table);
	}
}

static void dscp_matches_exactly_and_is_any_when_absent(void **state)
{
	static const struct {
		const char *rule;
		uint8_t dscp;
		bool match;
	} vectors[] = {
		{ "bond dscp 46", 46, true },  { "bond dscp 46", 45, false },
		{ "bond dscp 46", 47, false }, { "bond dscp 0", 0, true },
		{ "bond dscp 0", 1, false },   { "bond dscp 63", 63, true },
		{ "bond dscp 63", 62, false }, { "bond", 0, true },
		{ "bond", 63, true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct pol_flow f = flow("10.0.0.1", "192.0.2.1", 443, vectors[i].dscp);
		struct pol_table table;

		table_of(&table, POL_BLOCK, &vectors[i].rule, 1);
		if ((pol_match(&table, &f) != &table.fallback) != vectors[i].match)
			fail_msg("'%s' dscp %u: expected match=%d", vectors[i].rule,
				 vectors[i].dscp, vectors[i].match);
		pol_free(&table);
	}
}

/* ---- table ---- */

static void unnamed_rules_are_numbered_by_position(void **state)
{
	static const char *const rules[] = { "bond", "block name mine", "direct", "bond" };
	static const char *const names[] = { "rule1", "mine", "rule3", "rule4" };
	struct pol_table table;

	table_of(&table, POL_BOND, rules, ARRAY_SIZE(rules));
	assert_int_equal(table.len, ARRAY_SIZE(rules));
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		assert_string_equal(table.rules[i].name, names[i]);
	pol_free(&table);
}

static void free_releases_many_rules_and_leaves_an_empty_table(void **state)
{
	struct pol_flow f = flow("10.0.0.1", "192.0.2.1", 4999, 0);
	const struct pol_rule *match;
	struct pol_table table;

	pol_init(&table, POL_DIRECT);
	for (unsigned port = 1; port <= 5000; port++) {
		char text[64];
		struct pol_rule rule;

		snprintf(text, sizeof(text), "bond port %u", port);
		rule = parse_ok(text);
		assert_int_equal(pol_add(&table, &rule), 0);
	}
	assert_int_equal(table.len, 5000);
	match = pol_match(&table, &f);
	assert_string_equal(match->name, "rule4999");
	assert_int_equal(match->port_min, 4999);

	pol_free(&table);
	assert_null(table.rules);
	assert_int_equal(table.len, 0);
	assert_ptr_equal(pol_match(&table, &f), &table.fallback);
	assert_int_equal(table.fallback.action, POL_DIRECT);
	pol_free(&table); /* twice is harmless */
}

/* ---- formatting ---- */

static void format_is_canonical_and_parses_back_to_the_same_rule(void **state)
{
	static const struct {
		const char *text, *canonical;
	} vectors[] = {
		{ "bond", "bond" },
		{ "direct", "direct" },
		{ "block", "block" },
		{ "direct:lte", "direct:lte" },
		{ "bond from 192.0.2.1", "bond from 192.0.2.1/32" },
		{ "bond to 2001:db8::1", "bond to 2001:db8::1/128" },
		{ "bond to ::/0", "bond to ::/0" },
		{ "bond to ::ffff:0:0/96", "bond to 0.0.0.0/0" },
		{ "bond to ::ffff:10.0.0.0/104", "bond to 10.0.0.0/8" },
		{ "bond port 443-443", "bond port 443" },
		{ "bond port 00080", "bond port 80" },
		{ "bond port 1-65535", "bond port 1-65535" },
		{ "bond dscp 0", "bond dscp 0" },
		{ "bond links lte,dsl", "bond links dsl,lte" },
		{ "bond backup sat", "bond backup sat" },
		{ "bond idle 500ms", "bond idle 500ms" },
		{ "bond idle 1500ms", "bond idle 1500ms" },
		{ "bond idle 60s", "bond idle 1m" },
		{ "bond idle 120m", "bond idle 2h" },
		{ "bond idle 90s", "bond idle 90s" },
		{ "bond rate 1000000", "bond rate 1mbit" },
		{ "bond rate 1500", "bond rate 1500bit" },
		{ "bond rate 1500000", "bond rate 1500kbit" },
		{ "bond rate 20MBIT", "bond rate 20mbit" },
		{ "bond rate 2mbps", "bond rate 16mbit" },
		{ "bond rate 1bps", "bond rate 8bit" },
		{ "bond rate 3tbit", "bond rate 3tbit" },
		{ "bond rate 123456789", "bond rate 123456789bit" },
		{ "bond name web rate 20mbit backup lte links dsl,lte port 443 from 10.0.1.0/24",
		  "bond from 10.0.1.0/24 port 443 links dsl,lte backup lte rate 20mbit name web" },
		{ "block name nosmtp dscp 8 port 25 to 203.0.113.0/24 from 10.0.0.0/8",
		  "block from 10.0.0.0/8 to 203.0.113.0/24 port 25 dscp 8 name nosmtp" },
		{ "direct:sat  idle 2m\tto 2001:db8::/48 rate 1gbit",
		  "direct:sat to 2001:db8::/48 idle 2m rate 1gbit" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct pol_rule rule = parse_ok(vectors[i].text), again;
		char buf[512], buf2[512];

		pol_format(&rule, links, ARRAY_SIZE(links), buf, sizeof(buf));
		if (strcmp(buf, vectors[i].canonical))
			fail_msg("'%s' formatted as '%s', expected '%s'", vectors[i].text, buf,
				 vectors[i].canonical);
		again = parse_ok(buf);
		assert_rules_equal(&rule, &again, buf);
		/* The canonical text is a fixed point. */
		assert_string_equal(
			pol_format(&again, links, ARRAY_SIZE(links), buf2, sizeof(buf2)), buf);
	}
}

static void format_of_a_table_rule_carries_its_number(void **state)
{
	static const char *const rules[] = { "bond port 443", "block port 25" };
	struct pol_table table;
	struct pol_rule again;
	char buf[128];

	table_of(&table, POL_BOND, rules, ARRAY_SIZE(rules));
	assert_string_equal(pol_format(&table.rules[1], links, ARRAY_SIZE(links), buf, sizeof(buf)),
			    "block port 25 name rule2");
	again = parse_ok(buf);
	assert_rules_equal(&table.rules[1], &again, buf);
	assert_string_equal(pol_format(&table.fallback, links, ARRAY_SIZE(links), buf, sizeof(buf)),
			    "bond name default");
	pol_free(&table);
}

static void format_never_overruns_a_short_buffer(void **state)
{
	struct pol_rule rule = parse_ok(
		"bond from 10.0.1.0/24 port 443 links dsl,lte backup lte rate 20mbit name web");
	char buf[16];

	for (size_t len = 1; len <= sizeof(buf); len++) {
		memset(buf, 'x', sizeof(buf));
		assert_ptr_equal(pol_format(&rule, links, ARRAY_SIZE(links), buf, len), buf);
		assert_int_equal(strlen(buf), len - 1);
		for (size_t j = len; j < sizeof(buf); j++)
			assert_int_equal(buf[j], 'x');
	}
	buf[0] = 'x';
	pol_format(&rule, links, ARRAY_SIZE(links), buf, 0);
	assert_int_equal(buf[0], 'x');
}

static void format_marks_a_link_the_names_do_not_cover(void **state)
{
	struct pol_rule rule = parse_ok("direct:sat");
	char buf[64];

	/* A caller's bug, so it must not read past the names nor print a parseable rule. */
	assert_string_equal(pol_format(&rule, links, 2, buf, sizeof(buf)), "direct:?2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_keyword_parses_into_its_field),
		cmocka_unit_test(every_error_quotes_the_word_and_the_rule),
		cmocka_unit_test(error_messages_read_as_documented),
		cmocka_unit_test(unknown_link_error_says_when_no_links_are_declared),
		cmocka_unit_test(more_links_than_the_maximum_are_refused),
		cmocka_unit_test(an_overlong_word_is_refused_and_the_message_stays_bounded),
		cmocka_unit_test(a_null_error_buffer_is_allowed),
		cmocka_unit_test(action_names_parse_and_print_both_ways),
		cmocka_unit_test(first_matching_rule_wins_in_table_order),
		cmocka_unit_test(every_criterion_of_a_rule_must_match),
		cmocka_unit_test(fallback_is_returned_when_nothing_matches),
		cmocka_unit_test(a_prefix_only_matches_flows_of_its_own_family),
		cmocka_unit_test(ports_match_inclusively_at_both_ends),
		cmocka_unit_test(dscp_matches_exactly_and_is_any_when_absent),
		cmocka_unit_test(unnamed_rules_are_numbered_by_position),
		cmocka_unit_test(free_releases_many_rules_and_leaves_an_empty_table),
		cmocka_unit_test(format_is_canonical_and_parses_back_to_the_same_rule),
		cmocka_unit_test(format_of_a_table_rule_carries_its_number),
		cmocka_unit_test(format_never_overruns_a_short_buffer),
		cmocka_unit_test(format_marks_a_link_the_names_do_not_cover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
