/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_DOCTOR_H
#define MPCONV_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/*
 * mpconvctl doctor: checks a host for what silently keeps mpconv from bonding or converting.
 * doctor_verdict.c holds the pure part (facts in, verdict lines out, and their text or JSON),
 * doctor.c the probes that read the system. Every line names the check, its subject (a link,
 * an interface, a converter) and, unless it is ok, the fix.
 */
enum doctor_verdict { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

#define DOCTOR_MAX_LINES  96
#define DOCTOR_CHECK_LEN  24
#define DOCTOR_SUBJECT_LEN 48
#define DOCTOR_TEXT_LEN	  320

struct doctor_line {
	enum doctor_verdict verdict;
	char check[DOCTOR_CHECK_LEN];	  /* "mptcp", "rp-filter", "reach"... */
	char subject[DOCTOR_SUBJECT_LEN]; /* a link, interface or address; "" = the host */
	char detail[DOCTOR_TEXT_LEN];	  /* what was found */
	char fix[DOCTOR_TEXT_LEN];	  /* what to do; "" when ok */
};

struct doctor_report {
	const char *role;   /* "converter" or "gateway" */
	const char *config; /* the file read, or NULL */
	struct doctor_line lines[DOCTOR_MAX_LINES];
	size_t len;
	bool overflow; /* lines past DOCTOR_MAX_LINES were dropped */
};

/* Appends a line; detail is printf-style. fix may be NULL. */
void doctor_add(struct doctor_report *r, enum doctor_verdict v, const char *check,
		const char *subject, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Lines with that verdict. */
size_t doctor_count(const struct doctor_report *r, enum doctor_verdict v);
void doctor_print_text(FILE *out, const struct doctor_report *r);
void doctor_print_json(FILE *out, const struct doctor_report *r);

/* ---- judgments: pure, each appends one line ---- */

/* net.mptcp.enabled: 1, 0, or -1 when the sysctl is absent (no MPTCP in this kernel). */
void doctor_judge_mptcp_enabled(struct doctor_report *r, int enabled);
/*
 * The path manager. gateway: userspace_pm = the config's path-manager (the gateway switches
 * the namespace to it; `available` lists what the kernel has); kernel_limits = false when the
 * limits could not be read. extra_subflows_needed: the converter's listener accepts that many
 * MP_JOINs per connection only if `subflows` allows them (in-kernel PM); a gateway with the
 * in-kernel PM opens links - 1 extra subflows, so the same.
 */
void doctor_judge_path_manager(struct doctor_report *r, bool gateway, bool userspace_pm,
			       const char *available);
void doctor_judge_limits(struct doctor_report *r, bool gateway, bool userspace_pm, bool read_ok,
			 uint32_t subflows, uint32_t add_addr_accepted, size_t links);
/* rp_filter of a link's interface: the kernel uses max(all, dev). */
void doctor_judge_rp_filter(struct doctor_report *r, const char *dev, int all, int dev_value);
/* net.ipv4.tcp_fastopen for the role: a converter with tfo needs 0x2, a gateway in tfo mode 0x1. */
void doctor_judge_fastopen(struct doctor_report *r, bool gateway, bool needed, int value);
/* Wall clock (cookie epochs): now, whether the kernel says the clock is synchronised (-1 =
 * unknown), and the cookies' use (converter with cookies on; epoch of rotate seconds). */
void doctor_judge_clock(struct doctor_report *r, time_t now, int synced, bool cookies,
			uint32_t rotate);
/* Descriptors the daemon gets (limit, and where that number comes from) against 6 per session
 * (two sockets, two pipes) for sessions sessions. */
void doctor_judge_fds(struct doctor_report *r, uint64_t limit, const char *source,
		      uint64_t sessions);
/* Splice pipes: soft_pages = fs.pipe-user-pages-soft (0 = no quota); without CAP_SYS_RESOURCE
 * the daemon's user gets full-size pipes for that many bytes only. */
void doctor_judge_pipes(struct doctor_report *r, bool splice, uint64_t soft_pages,
			uint32_t pipe_size, bool cap_sys_resource, uint64_t sessions);
/* A unit's ProtectKernelTunables (the gateway writes net.mptcp sysctls; the converter reads). */
void doctor_judge_tunables(struct doctor_report *r, bool gateway, const char *unit, bool protect);

/*
 * The value of the last "Key=value" assignment of key in systemd unit text (drop-ins are
 * read after the unit: pass them in order and keep the last hit). true when found.
 */
bool doctor_unit_value(const char *text, const char *key, char *value, size_t len);
/* A systemd boolean ("yes", "true", "on", "1"). */
bool doctor_unit_bool(const char *value);

/* doctor.c: runs every check for the role of the configuration. argc/argv after "doctor". */
int doctor_main(const char *role, bool json, int argc, char **argv);

#endif
