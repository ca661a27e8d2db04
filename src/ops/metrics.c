// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Prometheus text format (0.0.4) writer and a lock-free histogram. Writes into a struct
 * reply; owns nothing. The writer formats what the role hands it and keeps the format's rules
 * (HELP and TYPE before samples, escaped label values, cumulative buckets ending in +Inf).
 */
#include "metrics.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void metrics_writer_init(struct metrics_writer *w, struct reply *out, const char *role)
{
	*w = (struct metrics_writer){ .out = out, .role = role };
}

bool metrics_name_ok(const char *name, bool label)
{
	if (!name || !*name)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (!label && c == ':') || (p != name && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void metrics_escaped(struct reply *r, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			reply_puts(r, "\\\\");
		else if (*s == '\n')
			reply_puts(r, "\\n");
		else if (quote && *s == '"')
			reply_puts(r, "\\\"");
		else
			reply_append(r, s, 1);
	}
}

void metrics_family(struct metrics_writer *w, const char *name, enum metrics_type type,
		    const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	assert(metrics_name_ok(name, false));
	w->family = name;
	reply_printf(w->out, "# HELP %s ", name);
	metrics_escaped(w->out, help, false);
	reply_printf(w->out, "\n# TYPE %s %s\n", name, types[type]);
}

/* name{role="...",labels...,extra="..."} with the extra label (le) last, as Prometheus does. */
static void metrics_head(struct metrics_writer *w, const char *suffix,
			 const struct metrics_label *labels, size_t n, const char *extra_name,
			 const char *extra_value)
{
	reply_printf(w->out, "%s%s{role=\"", w->family, suffix);
	metrics_escaped(w->out, w->role, true);
	reply_puts(w->out, "\"");
	for (size_t i = 0; i < n; i++) {
		assert(metrics_name_ok(labels[i].name, true));
		reply_printf(w->out, ",%s=\"", labels[i].name);
		metrics_escaped(w->out, labels[i].value ? labels[i].value : "", true);
		reply_puts(w->out, "\"");
	}
	if (extra_name)
		reply_printf(w->out, ",%s=\"%s\"", extra_name, extra_value);
	reply_puts(w->out, "} ");
}

void metrics_sample(struct metrics_writer *w, const struct metrics_label *labels, size_t n,
		    uint64_t value)
{
	metrics_head(w, "", labels, n, NULL, NULL);
	reply_printf(w->out, "%llu\n", (unsigned long long)value);
}

static void metrics_double(struct reply *r, double value)
{
	if (isnan(value))
		reply_puts(r, "NaN");
	else if (isinf(value))
		reply_puts(r, value > 0 ? "+Inf" : "-Inf");
	else
		reply_printf(r, "%.17g", value);
}

void metrics_sample_double(struct metrics_writer *w, const struct metrics_label *labels, size_t n,
			   double value)
{
	metrics_head(w, "", labels, n, NULL, NULL);
	metrics_double(w->out, value);
	reply_puts(w->out, "\n");
}

void metrics_histogram_init(struct metrics_histogram *h, const double *bounds, size_t len,
			    double scale)
{
	assert(len <= METRICS_MAX_BUCKETS);
	h->bounds = bounds;
	h->bounds_len = len;
	h->scale = scale;
	for (size_t i = 0; i <= METRICS_MAX_BUCKETS; i++)
		atomic_init(&h->buckets[i], 0);
	atomic_init(&h->sum, 0);
}

void metrics_observe(struct metrics_histogram *h, uint64_t value)
{
	double v = (double)value / h->scale;
	size_t i = 0;

	while (i < h->bounds_len && v > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

void metrics_histogram(struct metrics_writer *w, const struct metrics_label *labels, size_t n,
		       struct metrics_histogram *h)
{
	unsigned long cumulative = 0;
	char le[32];

	for (size_t i = 0; i <= h->bounds_len; i++) {
		cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
		if (i < h->bounds_len)
			snprintf(le, sizeof(le), "%g", h->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		metrics_head(w, "_bucket", labels, n, "le", le);
		reply_printf(w->out, "%lu\n", cumulative);
	}
	metrics_head(w, "_sum", labels, n, NULL, NULL);
	metrics_double(w->out,
		       (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / h->scale);
	reply_puts(w->out, "\n");
	metrics_head(w, "_count", labels, n, NULL, NULL);
	reply_printf(w->out, "%lu\n", cumulative);
}

/* ------------------------------------------------------------------------------------------ */
/* kernel counters: a few MIBs are worth a gauge (the kernel's own symptoms of a known problem) */

int metrics_netstat_parse(const char *text, const char *name, uint64_t *value)
{
	const char *names = text;

	while (names && *names) {
		const char *colon = strchr(names, ':'), *eol = strchr(names, '\n'), *values;
		size_t plen, idx = 0;
		const char *p;

		if (!colon || !eol || colon > eol)
			return -ENOENT;
		values = eol + 1;
		plen = (size_t)(colon - names);
		if (strncmp(values, names, plen + 1)) /* not a names/values pair: skip a line */
			goto next;
		if (strncmp(name, names, plen)) /* another group (TcpExt, IpExt...) */
			goto pair;
		for (p = colon + 1; p < eol; idx++) {
			size_t len;

			while (*p == ' ')
				p++;
			len = strcspn(p, " \n");
			if (len == strlen(name + plen) && !strncmp(p, name + plen, len)) {
				const char *v = values + plen + 1;

				for (size_t i = 0; i <= idx; i++) {
					char *end;
					unsigned long long n = strtoull(v, &end, 10);

					if (end == v)
						return -ENOENT;
					if (i == idx) {
						*value = n;
						return 0;
					}
					v = end;
				}
			}
			p += len;
		}
		return -ENOENT;
pair:
		eol = strchr(values, '\n');
next:
		names = eol ? eol + 1 : NULL;
	}
	return -ENOENT;
}

int metrics_netstat_read(const char *name, uint64_t *value)
{
	char buf[16384];
	ssize_t n, used = 0;
	int fd = open("/proc/net/netstat", O_RDONLY | O_CLOEXEC), ret;

	if (fd == -1)
		return -errno;
	while (used < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + used, sizeof(buf) - 1 - (size_t)used)) > 0)
		used += n;
	ret = used > 0 ? 0 : -EIO;
	close(fd);
	if (ret)
		return ret;
	buf[used] = '\0';
	return metrics_netstat_parse(buf, name, value);
}
