// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mpconvctl doctor, the pure part: what each fact means for bonding or conversion, and the fix
 * to print with it; the report as aligned text or JSON. It never reads the system: doctor.c
 * measures, this file judges, so tests/unit/torture_doctor.c can give it any fact.
 */
#include "doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SESSION_FDS 6 /* two sockets and two splice pipes (docs/linux-mptcp.md) */
#define PAGE	    4096

static void doctor_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void doctor_add(struct doctor_report *r, enum doctor_verdict v, const char *check,
		const char *subject, const char *fix, const char *fmt, ...)
{
	struct doctor_line *l;
	va_list ap;

	if (r->len == DOCTOR_MAX_LINES) {
		r->overflow = true;
		return;
	}
	l = &r->lines[r->len++];
	l->verdict = v;
	doctor_copy(l->check, sizeof(l->check), check);
	doctor_copy(l->subject, sizeof(l->subject), subject);
	doctor_copy(l->fix, sizeof(l->fix), v == DOCTOR_OK ? NULL : fix);
	va_start(ap, fmt);
	vsnprintf(l->detail, sizeof(l->detail), fmt, ap);
	va_end(ap);
}

size_t doctor_count(const struct doctor_report *r, enum doctor_verdict v)
{
	size_t n = 0;

	for (size_t i = 0; i < r->len; i++)
		n += r->lines[i].verdict == v;
	return n;
}

static const char *const verdict_names[] = { "ok", "warn", "fail" };

void doctor_print_text(FILE *out, const struct doctor_report *r)
{
	fprintf(out, "mpconv doctor: %s%s%s\n", r->role, r->config ? ", " : "",
		r->config ? r->config : "");
	for (size_t i = 0; i < r->len; i++) {
		const struct doctor_line *l = &r->lines[i];
		char name[DOCTOR_CHECK_LEN + DOCTOR_SUBJECT_LEN + 2];

		snprintf(name, sizeof(name), "%s%s%s", l->check, *l->subject ? " " : "", l->subject);
		fprintf(out, "%-4s  %-22s %s\n", verdict_names[l->verdict], name, l->detail);
		if (*l->fix)
			fprintf(out, "%-4s  %-22s fix: %s\n", "", "", l->fix);
	}
	if (r->overflow)
		fprintf(out, "(more lines than %d: the rest were dropped)\n", DOCTOR_MAX_LINES);
	fprintf(out, "%zu ok, %zu warn, %zu fail\n", doctor_count(r, DOCTOR_OK),
		doctor_count(r, DOCTOR_WARN), doctor_count(r, DOCTOR_FAIL));
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void doctor_print_json(FILE *out, const struct doctor_report *r)
{
	fprintf(out, "{\"role\":");
	json_string(out, r->role);
	fprintf(out, ",\"config\":");
	if (r->config)
		json_string(out, r->config);
	else
		fprintf(out, "null");
	fprintf(out, ",\"ok\":%zu,\"warn\":%zu,\"fail\":%zu,\"checks\":[", doctor_count(r, DOCTOR_OK),
		doctor_count(r, DOCTOR_WARN), doctor_count(r, DOCTOR_FAIL));
	for (size_t i = 0; i < r->len; i++) {
		const struct doctor_line *l = &r->lines[i];

		fprintf(out, "%s{\"check\":", i ? "," : "");
		json_string(out, l->check);
		fprintf(out, ",\"subject\":");
		json_string(out, l->subject);
		fprintf(out, ",\"verdict\":\"%s\",\"detail\":", verdict_names[l->verdict]);
		json_string(out, l->detail);
		fprintf(out, ",\"fix\":");
		json_string(out, l->fix);
		fputc('}', out);
	}
	fprintf(out, "]}\n");
}

/* ---- judgments ------------------------------------------------------------------------------ */

void doctor_judge_mptcp_enabled(struct doctor_report *r, int enabled)
{
	if (enabled < 0)
		doctor_add(r, DOCTOR_FAIL, "mptcp", "", "a kernel built with CONFIG_MPTCP (5.6+; 6.x)",
			   "no net.mptcp.enabled: this kernel has no Multipath TCP");
	else if (enabled == 0)
		doctor_add(r, DOCTOR_FAIL, "mptcp", "", "sysctl -w net.mptcp.enabled=1",
			   "net.mptcp.enabled = 0: MPTCP sockets cannot be created (in this "
			   "network namespace)");
	else
		doctor_add(r, DOCTOR_OK, "mptcp", "", NULL, "net.mptcp.enabled = 1");
}

void doctor_judge_path_manager(struct doctor_report *r, bool gateway, bool userspace_pm,
			       const char *available)
{
	if (!gateway) {
		doctor_add(r, DOCTOR_OK, "path-manager", "", NULL,
			   "the converter accepts joins with the in-kernel path manager (limits below)");
		return;
	}
	if (!userspace_pm) {
		doctor_add(r, DOCTOR_OK, "path-manager", "", NULL,
			   "path-manager = kernel: subflows come from `ip mptcp endpoint` entries "
			   "(one with flag subflow per extra link) and the limits below");
		return;
	}
	if (available && !strstr(available, "userspace"))
		doctor_add(r, DOCTOR_FAIL, "path-manager", "",
			   "path-manager = kernel in the gateway's config (with endpoints per link), "
			   "or a kernel with the userspace path manager (6.x)",
			   "path-manager = userspace, but the kernel offers only '%s'", available);
	else
		doctor_add(r, DOCTOR_OK, "path-manager", "", NULL,
			   "path-manager = userspace: the gateway opens one subflow per link itself");
}

void doctor_judge_limits(struct doctor_report *r, bool gateway, bool userspace_pm, bool read_ok,
			 uint32_t subflows, uint32_t add_addr_accepted, size_t links)
{
	uint32_t needed;
	char fix[DOCTOR_TEXT_LEN];

	if (!read_ok) {
		doctor_add(r, DOCTOR_WARN, "limits", "", "run as root (CAP_NET_ADMIN) to read them",
			   "could not read the MPTCP limits (ip mptcp limits)");
		return;
	}
	if (gateway && userspace_pm) {
		doctor_add(r, DOCTOR_OK, "limits", "", NULL,
			   "subflows %u add_addr_accepted %u: not used by the userspace path manager%s",
			   subflows, add_addr_accepted,
			   links > 1 ? "; the converter's subflows limit must allow a join per link "
				       "but one (run doctor there)"
				     : "");
		return;
	}
	/* The converter must accept a join per extra link of its gateways (the kernel's default,
	 * 2, serves three links). */
	needed = gateway ? (links > 1 ? (uint32_t)(links - 1) : 0) : 2;
	snprintf(fix, sizeof(fix), "ip mptcp limits set subflows %u add_addr_accepted %u",
		 needed > 8 ? 8 : needed, add_addr_accepted);
	if (subflows == 0)
		doctor_add(r, DOCTOR_FAIL, "limits", "", fix,
			   "subflows 0: %s", gateway ? "no extra subflow is ever opened"
						  : "every MP_JOIN is refused: clients cannot bond");
	else if (subflows < needed)
		doctor_add(r, DOCTOR_WARN, "limits", "", fix,
			   "subflows %u: fewer than the %u extra subflows %s", subflows, needed,
			   gateway ? "the links need" : "of a gateway with 3 links");
	else
		doctor_add(r, DOCTOR_OK, "limits", "", NULL, "subflows %u add_addr_accepted %u",
			   subflows, add_addr_accepted);
}

void doctor_judge_rp_filter(struct doctor_report *r, const char *dev, int all, int dev_value)
{
	int effective = all > dev_value ? all : dev_value;
	char fix[DOCTOR_TEXT_LEN];

	if (effective == 1) {
		snprintf(fix, sizeof(fix), "sysctl -w net.ipv4.conf.%s.rp_filter=2 (loose)", dev);
		doctor_add(r, DOCTOR_WARN, "rp-filter", dev, fix,
			   "strict reverse-path filter (all %d, %s %d): a reply arriving on this link "
			   "is dropped whenever its source routing is incomplete",
			   all, dev, dev_value);
	} else {
		doctor_add(r, DOCTOR_OK, "rp-filter", dev, NULL, "rp_filter %d (%s)", effective,
			   effective ? "loose" : "off");
	}
}

void doctor_judge_fastopen(struct doctor_report *r, bool gateway, bool needed, int value)
{
	int bit = gateway ? 0x1 : 0x2;
	char fix[DOCTOR_TEXT_LEN];

	snprintf(fix, sizeof(fix), "sysctl -w net.ipv4.tcp_fastopen=%d (and in /etc/sysctl.d)",
		 value < 0 ? 3 : value | bit);
	if (!needed)
		doctor_add(r, DOCTOR_OK, "tcp-fastopen", "", NULL,
			   "net.ipv4.tcp_fastopen = %d (not needed: %s)", value,
			   gateway ? "mode is not tfo" : "tfo = no");
	else if (value < 0)
		doctor_add(r, DOCTOR_FAIL, "tcp-fastopen", "", fix, "no net.ipv4.tcp_fastopen");
	else if (!(value & bit))
		doctor_add(r, DOCTOR_FAIL, "tcp-fastopen", "", fix,
			   "net.ipv4.tcp_fastopen = %d lacks the %s bit %#x: %s", value,
			   gateway ? "client" : "server", bit,
			   gateway ? "no data goes in the SYN (mode tfo adds a round trip)"
				   : "SYN data is refused and MPTCP clients sending it fall back to "
				     "plain TCP");
	else
		doctor_add(r, DOCTOR_OK, "tcp-fastopen", "", NULL,
			   "net.ipv4.tcp_fastopen = %d (%s bit set)", value,
			   gateway ? "client" : "server");
}

void doctor_judge_clock(struct doctor_report *r, time_t now, int synced, bool cookies,
			uint32_t rotate)
{
	/* 2024-01-01: any earlier wall clock was never set (an RTC-less CPE boots in 1970) */
	if (now < 1704067200)
		doctor_add(r, DOCTOR_FAIL, "clock", "", "set the clock (systemd-timesyncd, chrony)",
			   "the wall clock reads %lld s since 1970: not set; cookie epochs and log "
			   "times are wrong",
			   (long long)now);
	else if (cookies && synced == 0)
		doctor_add(r, DOCTOR_WARN, "clock", "",
			   "synchronise the clock (systemd-timesyncd, chrony): converters sharing "
			   "a cookie secret must agree within the epoch",
			   "the kernel says the clock is not synchronised; cookies use epochs of "
			   "%u s",
			   rotate);
	else
		doctor_add(r, DOCTOR_OK, "clock", "", NULL, "wall clock set%s",
			   synced == 1 ? " and synchronised" : "");
}

void doctor_judge_fds(struct doctor_report *r, uint64_t limit, const char *source,
		      uint64_t sessions)
{
	uint64_t needed = sessions * SESSION_FDS + 64;

	if (limit < needed)
		doctor_add(r, DOCTOR_WARN, "fd-limit", "",
			   "LimitNOFILE= in the unit (it ships 1048576), or ulimit -Hn before "
			   "starting mpconvd",
			   "%llu descriptors (%s): fewer than %llu for %llu sessions (%d each)",
			   (unsigned long long)limit, source, (unsigned long long)needed,
			   (unsigned long long)sessions, SESSION_FDS);
	else
		doctor_add(r, DOCTOR_OK, "fd-limit", "", NULL, "%llu descriptors (%s)",
			   (unsigned long long)limit, source);
}

void doctor_judge_pipes(struct doctor_report *r, bool splice, uint64_t soft_pages,
			uint32_t pipe_size, bool cap_sys_resource, uint64_t sessions)
{
	uint64_t full;

	if (!splice || pipe_size == 0) {
		doctor_add(r, DOCTOR_OK, "pipes", "", NULL, "splice off: no pipes");
		return;
	}
	if (cap_sys_resource || soft_pages == 0) {
		doctor_add(r, DOCTOR_OK, "pipes", "", NULL, "pipe-size %u for every session (%s)",
			   pipe_size, cap_sys_resource ? "CAP_SYS_RESOURCE" : "no per-user quota");
		return;
	}
	full = soft_pages * PAGE / ((uint64_t)pipe_size * 2);
	if (full < sessions)
		doctor_add(r, DOCTOR_WARN, "pipes", "",
			   "CAP_SYS_RESOURCE for the daemon (the units grant it), or raise "
			   "fs.pipe-user-pages-soft",
			   "fs.pipe-user-pages-soft = %llu pages: only %llu sessions get pipes of %u "
			   "bytes, later ones get 8 KiB pipes (slow splice)",
			   (unsigned long long)soft_pages, (unsigned long long)full, pipe_size);
	else
		doctor_add(r, DOCTOR_OK, "pipes", "", NULL,
			   "fs.pipe-user-pages-soft = %llu pages: room for %llu sessions",
			   (unsigned long long)soft_pages, (unsigned long long)full);
}

void doctor_judge_tunables(struct doctor_report *r, bool gateway, const char *unit, bool protect)
{
	if (protect && gateway)
		doctor_add(r, DOCTOR_FAIL, "systemd", unit,
			   "remove ProtectKernelTunables=yes (systemctl edit mpconv-gateway)",
			   "ProtectKernelTunables=yes: the gateway cannot set net.mptcp.path_manager "
			   "and blackhole_timeout, and will not start its links");
	else if (protect)
		doctor_add(r, DOCTOR_OK, "systemd", unit, NULL,
			   "ProtectKernelTunables=yes: the converter only reads sysctls (sysctl.d sets "
			   "tcp_fastopen at boot)");
	else
		doctor_add(r, DOCTOR_OK, "systemd", unit, NULL, "sysctls writable by the service");
}

/* ---- systemd unit text -------------------------------------------------------------------- */

bool doctor_unit_value(const char *text, const char *key, char *value, size_t len)
{
	size_t klen = strlen(key);
	bool found = false;

	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		const char *s = text;

		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		if (n > klen && !strncmp(s, key, klen) && s[klen] == '=') {
			size_t vlen = n - klen - 1;

			while (vlen && (s[klen + vlen] == ' ' || s[klen + vlen] == '\r'))
				vlen--;
			if (vlen >= len)
				vlen = len - 1;
			memcpy(value, s + klen + 1, vlen);
			value[vlen] = '\0';
			found = true;
		}
		text = nl ? nl + 1 : NULL;
	}
	return found;
}

bool doctor_unit_bool(const char *value)
{
	return !strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcasecmp(value, "on") ||
	       !strcmp(value, "1");
}
