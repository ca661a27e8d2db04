/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_REPLY_H
#define MPCONV_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A reply being built for the control socket or the HTTP endpoint: a growable text buffer with
 * printf, JSON and human-unit writers, and the completion that hands it back to the server.
 *
 * Roles answer through callbacks that get a struct reply *r:
 *   - synchronous: write into r, return 0 (or -errno with an error message written into r);
 *   - asynchronous: return REPLY_LATER, and later, on the same loop thread, call
 *     reply_done(r, 0 or -errno) exactly once. Set r->cancel (and r->cancel_arg) before
 *     returning: the server calls it instead of waiting when the client goes away or the server
 *     stops, and the role must forget r right there (r is freed after cancel returns).
 * A failed allocation is sticky (r->oom): writers become no-ops and the server answers with an
 * error, so callers need not check every write. The buffer is always NUL-terminated.
 */
#define REPLY_LATER 1
#define REPLY_MAX   (64u << 20) /* a body larger than this is an error, not a memory hog */

struct reply {
	char *data; /* owned; NULL until the first write */
	size_t len, cap;
	bool oom;
	int status;	  /* set by reply_done: 0 or -errno */
	const char *type; /* static media type for HTTP ("text/plain" when NULL) */
	/* Set by the server: called once by reply_done. */
	void (*on_done)(struct reply *r);
	/* Set by an asynchronous role: called instead of completion when the answer is no longer
	 * wanted. */
	void (*cancel)(struct reply *r);
	void *cancel_arg;
};

void reply_init(struct reply *r);
void reply_free(struct reply *r);
/* Drops the content (keeps the memory and the callbacks). */
void reply_reset(struct reply *r);

void reply_append(struct reply *r, const void *data, size_t len);
void reply_puts(struct reply *r, const char *s);
void reply_printf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Inserts formatted text before the current content (protocol headers once a body is known). */
void reply_prepend(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal: quotes, backslash escapes, \u00XX for control bytes. NULL -> null. */
void reply_json_string(struct reply *r, const char *s);
/* Pads with spaces up to column `width` counted from the last newline (aligned tables). */
void reply_pad_to(struct reply *r, size_t width);

/* Finishes an asynchronous (or synchronous) reply: records status and calls r->on_done. */
void reply_done(struct reply *r, int status);

/*
 * Human units, as `ip -h` and `ss` print them: "512 B", "1.5 KiB", "12.3 MiB"; "840 kbit/s",
 * "93.1 Mbit/s"; "1h02m", "3m05s", "42s", "250ms". Each returns buf.
 */
#define REPLY_UNIT_LEN 32
const char *reply_fmt_bytes(uint64_t bytes, char buf[REPLY_UNIT_LEN]);
const char *reply_fmt_rate(double bits_per_second, char buf[REPLY_UNIT_LEN]);
const char *reply_fmt_age(uint64_t ms, char buf[REPLY_UNIT_LEN]);

#endif
