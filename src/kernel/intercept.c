// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Transparent capture on the gateway: renders and loads our one nftables table (inet "mpconv")
 * through libnftables, and adds the policy routing that delivers TPROXY'd packets locally
 * (fwmark rule + "local default dev lo" route, IPv4 and IPv6) through rtnetlink with libmnl.
 * It owns exactly that table, those rules and those routes: never another table, never a rule
 * or route it did not describe. The table is replaced in one transaction (a stale one from a
 * crashed run goes with it). No logging: errors come back as -errno with the context in err.
 */
#include "intercept.h"

#include "strbuf.h"

#include "onpath.h"
#include "rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/rtnetlink.h>

#include <nftables/libnftables.h>

#define INTERCEPT_DEFAULT_MARK	0x6d70 /* "mp" */
#define INTERCEPT_DEFAULT_TABLE 0x6d70
/* Preference of our fwmark rule: fixed, so removal deletes this rule and no look-alike; ahead
 * of the main table (32766) and of rules added without a preference (they count down from it). */
#define INTERCEPT_RULE_PREF 0x6d70
/* Conntrack mark bit of native MPTCP connections (set at their SYN, never diverted after). */
#define INTERCEPT_CT_NATIVE 0x40000000u
/* Matches a SYN, and only a SYN: no SYN-ACK, no stray RST/FIN combinations. */
#define INTERCEPT_SYN	 "tcp flags syn / fin,syn,rst,ack"

static void intercept_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void intercept_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t intercept_mark(const struct intercept_config *cfg)
{
	return cfg->fwmark ? cfg->fwmark : INTERCEPT_DEFAULT_MARK;
}

static uint32_t intercept_table(const struct intercept_config *cfg)
{
	return cfg->table ? cfg->table : INTERCEPT_DEFAULT_TABLE;
}

/* What the kernel takes for a device name (dev_valid_name), minus what would break out of an
 * nft string. A trailing '*' is nft's wildcard ("lan*") and stays allowed. */
static bool intercept_ifname_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *c = name; *c; c++) {
		if (*c <= ' ' || *c == 0x7f || *c == '/' || *c == ':' || *c == '"' || *c == '\\')
			return false;
	}
	return true;
}

static int intercept_validate(const struct intercept_config *cfg)
{
	uint32_t table = intercept_table(cfg);

	if ((cfg->lan_len == 0 && !cfg->local) || cfg->lan_len > INTERCEPT_MAX_LAN ||
	    cfg->exclude_len > INTERCEPT_MAX_EXCLUDE || cfg->port == 0 ||
	    cfg->native_ports_len > INTERCEPT_MAX_NATIVE_PORTS)
		return -EINVAL;
	/* default (253), main (254) and local (255) belong to the system */
	if (table >= RT_TABLE_DEFAULT && table <= RT_TABLE_LOCAL)
		return -EINVAL;
	for (size_t i = 0; i < cfg->lan_len; i++) {
		if (!intercept_ifname_ok(cfg->lan_ifaces[i]))
			return -EINVAL;
	}
	for (size_t i = 0; i < cfg->exclude_len; i++) {
		if (cfg->exclude[i].len > 128)
			return -EINVAL;
	}
	return 0;
}

static bool intercept_is_v4(const struct acl_prefix *p)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return p->len >= 96 && !memcmp(p->ip, mapped, sizeof(mapped));
}

/* "a.b.c.d/n" or "x::/n". Host bits are cleared: acl_parse_prefix already refuses them, this
 * only keeps a hand-made config from reaching nft as an address that is not a prefix. */
static void intercept_put_prefix(struct strbuf *b, const struct acl_prefix *p)
{
	uint8_t ip[16];
	char text[INET6_ADDRSTRLEN];
	unsigned len = p->len;

	memcpy(ip, p->ip, sizeof(ip));
	for (unsigned bit = len; bit < 128; bit++)
		ip[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	if (intercept_is_v4(p)) {
		inet_ntop(AF_INET, ip + 12, text, sizeof(text));
		len -= 96;
	} else {
		inet_ntop(AF_INET6, ip, text, sizeof(text));
	}
	strbuf_put(b, "%s/%u", text, len);
}

/* One interval set of the excluded prefixes of a family; nothing when there are none. */
static bool intercept_put_set(struct strbuf *b, const struct intercept_config *cfg, bool v4)
{
	bool any = false;

	for (size_t i = 0; i < cfg->exclude_len; i++) {
		if (intercept_is_v4(&cfg->exclude[i]) != v4)
			continue;
		if (!any) {
			strbuf_put(b,
				      "\tset exclude%c {\n"
				      "\t\ttype %s\n"
				      "\t\tflags interval\n"
				      "\t\tauto-merge\n"
				      "\t\telements = { ",
				      v4 ? '4' : '6', v4 ? "ipv4_addr" : "ipv6_addr");
		} else {
			strbuf_put(b, ", ");
		}
		intercept_put_prefix(b, &cfg->exclude[i]);
		any = true;
	}
	if (any)
		strbuf_put(b, " }\n\t}\n");
	return any;
}

/* What a chain lets pass before anything else: other interfaces, non-TCP, IPv6 when off,
 * traffic to this host and to the excluded prefixes. */
static void intercept_put_skips(struct strbuf *b, const struct intercept_config *cfg,
				bool ex4, bool ex6)
{
	strbuf_put(b, "\t\tiifname != { ");
	for (size_t i = 0; i < cfg->lan_len; i++)
		strbuf_put(b, "%s\"%s\"", i ? ", " : "", cfg->lan_ifaces[i]);
	strbuf_put(b, " } return\n"
			 "\t\tmeta l4proto != tcp return\n");
	if (!cfg->ipv6)
		strbuf_put(b, "\t\tmeta nfproto ipv6 return\n");
	strbuf_put(b, "\t\tfib daddr type local accept\n");
	if (ex4)
		strbuf_put(b, "\t\tip daddr @exclude4 accept\n");
	if (ex6)
		strbuf_put(b, "\t\tip6 daddr @exclude6 accept\n");
}

/*
 * Host mode's chain. The nat output hook sees only a connection's first packet, its SYN, so
 * "tcp option mptcp exists" there is the whole native-MPTCP test (MP_JOIN SYNs carry it too).
 * The daemon's own connections are skipped by their socket mark, not by destination alone: a
 * direct (policy or converter-down) connection goes to the same servers the host's programs do.
 */
static void intercept_put_local(struct strbuf *b, const struct intercept_config *cfg, bool ex4,
				bool ex6)
{
	strbuf_put(b,
		   "\tchain output {\n"
		   /* nft 1.0.6 takes "dstnat" only on prerouting: -100 is its value */
		   "\t\ttype nat hook output priority -100; policy accept;\n"
		   "\t\tmeta l4proto != tcp return\n");
	if (!cfg->ipv6)
		strbuf_put(b, "\t\tmeta nfproto ipv6 return\n");
	strbuf_put(b,
		   "\t\tmeta mark 0x%08x return\n"
		   "\t\toifname \"lo\" return\n"
		   "\t\tfib daddr type local return\n",
		   cfg->own_mark ? cfg->own_mark : INTERCEPT_OWN_MARK);
	if (ex4)
		strbuf_put(b, "\t\tip daddr @exclude4 return\n");
	if (ex6)
		strbuf_put(b, "\t\tip6 daddr @exclude6 return\n");
	strbuf_put(b,
		   "\t\ttcp option mptcp exists return\n"
		   "\t\tmeta l4proto tcp redirect to :%u\n"
		   "\t}\n}\n",
		   cfg->port);
}

int intercept_render(const struct intercept_config *cfg, char *buf, size_t len)
{
	struct strbuf b = { .p = buf, .len = len };
	uint32_t mark = intercept_mark(cfg);
	bool ex4, ex6 = false;
	int ret;

	ret = intercept_validate(cfg);
	if (ret)
		return ret;
	if (!buf || len == 0)
		return -ENOSPC;
	buf[0] = '\0';

	/* "add" then "delete" so that a missing table is no error (nft 1.0.6 has no "destroy") */
	strbuf_put(&b, "add table inet mpconv\n"
			  "delete table inet mpconv\n"
			  "table inet mpconv {\n");
	ex4 = intercept_put_set(&b, cfg, true);
	if (cfg->ipv6)
		ex6 = intercept_put_set(&b, cfg, false);

	if (cfg->local) {
		intercept_put_local(&b, cfg, ex4, ex6);
		return b.full ? -ENOSPC : (int)b.used;
	}
	strbuf_put(&b, "\tchain prerouting {\n"
			  "\t\ttype filter hook prerouting priority mangle; policy accept;\n");
	intercept_put_skips(&b, cfg, ex4, ex6);
	if (cfg->redirect) {
		/* mangle runs before dstnat: the nat chain sees the native-MPTCP mark */
		strbuf_put(&b,
			      "\t\t" INTERCEPT_SYN
			      " tcp option mptcp exists ct mark set ct mark | 0x%08x accept\n"
			      "\t}\n"
			      "\tchain divert {\n"
			      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n",
			      INTERCEPT_CT_NATIVE);
		intercept_put_skips(&b, cfg, ex4, ex6);
		strbuf_put(&b,
			      "\t\tct mark & 0x%08x == 0x%08x accept\n"
			      "\t\tmeta l4proto tcp redirect to :%u\n"
			      "\t}\n}\n",
			      INTERCEPT_CT_NATIVE, INTERCEPT_CT_NATIVE, cfg->port);
	} else if (cfg->mptcp_only) {
		/* the on-path converter: MPTCP is what it terminates, the rest is routed on */
		struct onpath_rules r = { .port = cfg->port,
					  .mark = mark,
					  .log_group = cfg->log_group,
					  .ipv6 = cfg->ipv6,
					  .native_ports_len = cfg->native_ports_len,
					  .draining = cfg->draining };

		memcpy(r.native_ports, cfg->native_ports, sizeof(r.native_ports));
		ret = b.full ? -ENOSPC : onpath_render(&r, b.p + b.used, b.len - b.used);
		if (ret < 0)
			return ret;
		b.used += (size_t)ret;
		strbuf_put(&b, "\t}\n}\n");
		return b.full ? -ENOSPC : (int)b.used;
	} else {
		strbuf_put(&b,
			      "\t\tct mark & 0x%08x == 0x%08x accept\n"
			      "\t\tsocket transparent 1 meta mark set 0x%08x accept\n"
			      "\t\t" INTERCEPT_SYN
			      " tcp option mptcp exists ct mark set ct mark | 0x%08x accept\n"
			      "\t\t" INTERCEPT_SYN
			      " meta nfproto ipv4 tproxy ip to :%u meta mark set 0x%08x accept\n",
			      INTERCEPT_CT_NATIVE, INTERCEPT_CT_NATIVE, mark, INTERCEPT_CT_NATIVE,
			      cfg->port, mark);
	}
	if (!cfg->redirect) {
		if (cfg->ipv6)
			strbuf_put(&b,
				      "\t\t" INTERCEPT_SYN
				      " meta nfproto ipv6 tproxy ip6 to :%u meta mark set 0x%08x "
				      "accept\n",
				      cfg->port, mark);
		strbuf_put(&b, "\t}\n}\n");
	}

	if (b.full)
		return -ENOSPC;
	return (int)b.used;
}

/* ------------------------------------------------------------------------------------------ */
/* nftables */

static int intercept_nft_run(const char *cmds, const char *what, char *err, size_t errlen)
{
	struct nft_ctx *nft;
	const char *msg;
	int ret = 0;

	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft) {
		intercept_err(err, errlen, "%s: cannot create an nftables context", what);
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	errno = 0;
	if (nft_run_cmd_from_buffer(nft, cmds)) {
		/* libnftables only keeps errno meaningful for what the kernel refused outright */
		ret = errno == EPERM || errno == ENOMEM ? -errno : -EINVAL;
		msg = nft_ctx_get_error_buffer(nft);
		if (!msg || !*msg)
			msg = "failed\n";
		intercept_err(err, errlen, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
	}
	nft_ctx_free(nft);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* rtnetlink: the fwmark rule and the local default route, per family */

static const char *intercept_family(int family)
{
	return family == AF_INET6 ? "-6 " : "";
}

static void intercept_routing(int family, uint32_t mark, uint32_t table, unsigned lo,
			      struct rtnl_rule *rule, struct rtnl_route *route)
{
	*rule = (struct rtnl_rule){
		.family = family, .pref = INTERCEPT_RULE_PREF, .table = table, .fwmark = mark
	};
	*route = (struct rtnl_route){
		.family = family, .table = table, .type = RTNL_ROUTE_LOCAL, .oif = lo
	};
}

/* Adds the rule and the route of one family; "already there" is success. */
static int intercept_routing_add(struct rtnl *nl, int family, uint32_t mark, uint32_t table,
				 unsigned lo, char *err, size_t errlen)
{
	struct rtnl_rule rule;
	struct rtnl_route route;
	int ret;

	intercept_routing(family, mark, table, lo, &rule, &route);
	ret = rtnl_route_add(nl, &route);
	if (ret && ret != -EEXIST) {
		intercept_err(err, errlen, "ip %sroute add local default dev lo table %u: %s",
			      intercept_family(family), table, strerror(-ret));
		return ret;
	}
	ret = rtnl_rule_add(nl, &rule);
	if (ret && ret != -EEXIST) {
		intercept_err(err, errlen, "ip %srule add pref %u fwmark 0x%x lookup %u: %s",
			      intercept_family(family), INTERCEPT_RULE_PREF, mark, table,
			      strerror(-ret));
		return ret;
	}
	return 0;
}

/* Deletes the rule and the route of one family; "not there" is success. First error kept. */
static int intercept_routing_del(struct rtnl *nl, int family, uint32_t mark, uint32_t table,
				 unsigned lo, char *err, size_t errlen)
{
	struct rtnl_rule rule;
	struct rtnl_route route;
	int ret, first = 0;

	intercept_routing(family, mark, table, lo, &rule, &route);
	ret = rtnl_rule_del(nl, &rule);
	if (ret && ret != -ENOENT) {
		intercept_err(err, errlen, "ip %srule del pref %u fwmark 0x%x lookup %u: %s",
			      intercept_family(family), INTERCEPT_RULE_PREF, mark, table,
			      strerror(-ret));
		first = ret;
	}
	ret = rtnl_route_del(nl, &route);
	if (ret && ret != -ESRCH && ret != -ENOENT) {
		if (!first)
			intercept_err(err, errlen,
				      "ip %sroute del local default dev lo table %u: %s",
				      intercept_family(family), table, strerror(-ret));
		first = first ? first : ret;
	}
	return first;
}

static int intercept_nl_open(struct rtnl *nl, unsigned *lo, char *err, size_t errlen)
{
	int ret;

	*lo = if_nametoindex("lo");
	if (*lo == 0) {
		ret = -errno;
		intercept_err(err, errlen, "loopback device: %s", strerror(-ret));
		return ret;
	}
	ret = rtnl_open(nl);
	if (ret)
		intercept_err(err, errlen, "rtnetlink socket: %s", strerror(-ret));
	return ret;
}

/* ------------------------------------------------------------------------------------------ */

int intercept_install(const struct intercept_config *cfg, char *err, size_t errlen)
{
	char rules[8192]; /* the worst case (all maxima) renders to about 3 KiB */
	struct rtnl nl;
	uint32_t mark = intercept_mark(cfg), table = intercept_table(cfg);
	unsigned lo;
	int ret;

	intercept_err(err, errlen, "%s", "");
	ret = intercept_render(cfg, rules, sizeof(rules));
	if (ret < 0) {
		intercept_err(err, errlen, "intercept ruleset: %s", strerror(-ret));
		return ret;
	}
	/* Routing first: it only concerns marked packets, and nothing is marked before the table
	 * exists; the other order would forward a diverted SYN for a moment. */
	if (cfg->redirect || cfg->local)
		return intercept_nft_run(rules, "nft table inet mpconv", err, errlen);
	ret = intercept_nl_open(&nl, &lo, err, errlen);
	if (ret)
		return ret;
	ret = intercept_routing_add(&nl, AF_INET, mark, table, lo, err, errlen);
	if (!ret && cfg->ipv6)
		ret = intercept_routing_add(&nl, AF_INET6, mark, table, lo, err, errlen);
	rtnl_close(&nl);
	if (!ret)
		ret = intercept_nft_run(rules, "nft table inet mpconv", err, errlen);
	/* A failed install leaves nothing behind: what it added (or found) goes, err keeps the
	 * first error. Callers hold the instance lock: nothing here is another run's. */
	if (ret)
		intercept_remove(cfg, NULL, 0);
	return ret;
}

int intercept_remove(const struct intercept_config *cfg, char *err, size_t errlen)
{
	struct rtnl nl;
	uint32_t mark = intercept_mark(cfg), table = intercept_table(cfg);
	unsigned lo;
	int ret, r;

	intercept_err(err, errlen, "%s", "");
	/* the table first: no packet gets marked once it is gone */
	ret = intercept_nft_run("add table inet mpconv\ndelete table inet mpconv\n",
				"nft delete table inet mpconv", err, errlen);
	if (cfg->redirect || cfg->local)
		return ret;
	r = intercept_nl_open(&nl, &lo, ret ? NULL : err, errlen);
	if (r)
		return ret ? ret : r;
	r = intercept_routing_del(&nl, AF_INET, mark, table, lo, ret ? NULL : err, errlen);
	ret = ret ? ret : r;
	if (cfg->ipv6) {
		r = intercept_routing_del(&nl, AF_INET6, mark, table, lo, ret ? NULL : err, errlen);
		ret = ret ? ret : r;
	}
	rtnl_close(&nl);
	return ret;
}
