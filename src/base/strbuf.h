/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_STRBUF_H
#define MPCONV_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Text appended into a caller's fixed buffer: the first overflow sticks (full), so a renderer
 * writes everything and checks once at the end. The text stays NUL-terminated.
 */
struct strbuf {
	char *p;
	size_t len, used;
	bool full;
};

void strbuf_put(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
