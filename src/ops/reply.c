// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Replies for the control socket and the HTTP endpoint: a growable, always NUL-terminated text
 * buffer with sticky allocation failure, JSON string escaping, human units, and the completion
 * hook that returns a finished reply to its server. Owns the buffer; knows no protocol and no
 * socket. Never logs.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_init(struct reply *r)
{
	*r = (struct reply){ .data = NULL };
}

void reply_free(struct reply *r)
{
	free(r->data);
	r->data = NULL;
	r->len = r->cap = 0;
}

void reply_reset(struct reply *r)
{
	r->len = 0;
	r->oom = false;
	if (r->data)
		r->data[0] = '\0';
}

/* Makes room for `more` bytes plus the terminating NUL. */
static bool reply_reserve(struct reply *r, size_t more)
{
	size_t need, cap;
	char *data;

	if (r->oom)
		return false;
	if (more > REPLY_MAX || r->len + more >= REPLY_MAX) {
		r->oom = true;
		return false;
	}
	need = r->len + more + 1;
	if (need <= r->cap)
		return true;
	cap = r->cap ? r->cap : 1024;
	while (cap < need)
		cap *= 2;
	data = realloc(r->data, cap);
	if (!data) {
		r->oom = true;
		return false;
	}
	r->data = data;
	r->cap = cap;
	return true;
}

void reply_append(struct reply *r, const void *data, size_t len)
{
	if (!reply_reserve(r, len))
		return;
	memcpy(r->data + r->len, data, len);
	r->len += len;
	r->data[r->len] = '\0';
}

void reply_puts(struct reply *r, const char *s)
{
	reply_append(r, s, strlen(s));
}

static void reply_vprintf(struct reply *r, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void reply_vprintf(struct reply *r, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n >= 0 && reply_reserve(r, (size_t)n)) {
		vsnprintf(r->data + r->len, (size_t)n + 1, fmt, again);
		r->len += (size_t)n;
	}
	va_end(again);
}

void reply_printf(struct reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vprintf(r, fmt, ap);
	va_end(ap);
}

void reply_prepend(struct reply *r, const char *fmt, ...)
{
	size_t old = r->len;
	va_list ap;

	va_start(ap, fmt);
	reply_vprintf(r, fmt, ap);
	va_end(ap);
	if (r->oom || r->len == old)
		return;
	/* Rotate the new tail to the front: [body][head] -> [head][body]. */
	size_t head = r->len - old;
	char *tmp = malloc(head);

	if (!tmp) {
		r->oom = true;
		return;
	}
	memcpy(tmp, r->data + old, head);
	memmove(r->data + head, r->data, old);
	memcpy(r->data, tmp, head);
	free(tmp);
}

void reply_json_string(struct reply *r, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (!s) {
		reply_puts(r, "null");
		return;
	}
	reply_append(r, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };

		if (*p == '"' || *p == '\\') {
			reply_append(r, "\\", 1);
			reply_append(r, p, 1);
		} else if (*p == '\n') {
			reply_append(r, "\\n", 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			reply_append(r, esc, sizeof(esc));
		} else {
			reply_append(r, p, 1);
		}
	}
	reply_append(r, "\"", 1);
}

void reply_pad_to(struct reply *r, size_t width)
{
	size_t col = 0;

	while (col < r->len && r->data[r->len - 1 - col] != '\n')
		col++;
	reply_append(r, " ", 1); /* columns never touch, even when one overflows */
	for (col++; col < width; col++)
		reply_append(r, " ", 1);
}

void reply_done(struct reply *r, int status)
{
	r->status = status;
	r->cancel = NULL;
	if (r->on_done)
		r->on_done(r);
}

const char *reply_fmt_bytes(uint64_t bytes, char buf[REPLY_UNIT_LEN])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t i = 0;

	if (bytes < 1024) {
		snprintf(buf, REPLY_UNIT_LEN, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && i + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		i++;
	}
	snprintf(buf, REPLY_UNIT_LEN,
		 v < 10	   ? "%.2f %s"
		 : v < 100 ? "%.1f %s"
			   : "%.0f %s",
		 v, units[i]);
	return buf;
}

const char *reply_fmt_rate(double bps, char buf[REPLY_UNIT_LEN])
{
	if (bps < 1e3)
		snprintf(buf, REPLY_UNIT_LEN, "%.0f bit/s", bps);
	else if (bps < 1e6)
		snprintf(buf, REPLY_UNIT_LEN, "%.1f kbit/s", bps / 1e3);
	else if (bps < 1e9)
		snprintf(buf, REPLY_UNIT_LEN, "%.1f Mbit/s", bps / 1e6);
	else
		snprintf(buf, REPLY_UNIT_LEN, "%.2f Gbit/s", bps / 1e9);
	return buf;
}

const char *reply_fmt_age(uint64_t ms, char buf[REPLY_UNIT_LEN])
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, REPLY_UNIT_LEN, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(buf, REPLY_UNIT_LEN, "%.1fs", (double)ms / 1000);
	else if (s < 3600)
		snprintf(buf, REPLY_UNIT_LEN, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, REPLY_UNIT_LEN, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
	else
		snprintf(buf, REPLY_UNIT_LEN, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s / 3600 % 24));
	return buf;
}
