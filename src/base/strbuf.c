// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The sticky-overflow text buffer (strbuf.h). Never allocates; never writes past len.
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>

void strbuf_put(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->used) {
		b->full = true;
		return;
	}
	b->used += (size_t)n;
}
