/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_METRICS_H
#define MPCONV_METRICS_H

#include "reply.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Prometheus text exposition (format 0.0.4) for /metrics, and a lock-free histogram that any
 * thread may observe into.
 *
 * A role's metrics callback writes families one after the other:
 *   metrics_family(w, "mpconv_sessions_total", METRICS_COUNTER, "Sessions ended.");
 *   metrics_sample(w, NULL, 0, n);                               ->
 * mpconv_sessions_total{role="converter"} n struct metrics_label by_code[] = { { "code",
 * "not_authorized" } }; metrics_sample(w, by_code, 1, m);                            ->
 * ...{role="converter",code="not_authorized"} m metrics_family(w, "mpconv_setup_seconds",
 * METRICS_HISTOGRAM, "..."); metrics_histogram(w, NULL, 0, &hist);                        ->
 * _bucket{le=...}, _sum, _count Every sample carries the writer's role label first. Label values
 * are escaped (\\, \", \n); names are ours, so they are checked in debug builds only
 * (metrics_name_ok).
 */
enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_label {
	const char *name;
	const char *value;
};

struct metrics_writer {
	struct reply *out;
	const char *role;
	const char *family; /* the current family's name */
};

void metrics_writer_init(struct metrics_writer *w, struct reply *out, const char *role);
/* "# HELP" and "# TYPE" lines; samples written after it belong to this family. */
void metrics_family(struct metrics_writer *w, const char *name, enum metrics_type type,
		    const char *help);
void metrics_sample(struct metrics_writer *w, const struct metrics_label *labels, size_t n,
		    uint64_t value);
void metrics_sample_double(struct metrics_writer *w, const struct metrics_label *labels, size_t n,
			   double value);

/* One kernel counter of this network namespace from netstat text ("MPTcpExt: names" then
 * "MPTcpExt: values" lines, as /proc/net/netstat); name is "MPTcpExtNoDSSInWindow". 0, or
 * -ENOENT when this kernel has no such counter. Pure. */
int metrics_netstat_parse(const char *text, const char *name, uint64_t *value);
/* The same read from /proc/net/netstat now: 0 or -errno. */
int metrics_netstat_read(const char *name, uint64_t *value);

#define METRICS_MAX_BUCKETS 16

/*
 * Cumulative on output, stored per bucket. Observed from any thread with relaxed atomics: a
 * scrape may see a sample in _count a moment before _sum, which Prometheus tolerates.
 */
struct metrics_histogram {
	const double *bounds; /* upper bounds, ascending, in the unit of the metric */
	size_t bounds_len;    /* at most METRICS_MAX_BUCKETS */
	double scale;	      /* observed integer units per metric unit (1e6: µs -> seconds) */
	atomic_ulong buckets[METRICS_MAX_BUCKETS + 1]; /* the last one: above every bound */
	atomic_ulong sum;			       /* in observed units */
};

void metrics_histogram_init(struct metrics_histogram *h, const double *bounds, size_t len,
			    double scale);
/* value in observed units (e.g. microseconds). */
void metrics_observe(struct metrics_histogram *h, uint64_t value);
void metrics_histogram(struct metrics_writer *w, const struct metrics_label *labels, size_t n,
		       struct metrics_histogram *h);

/* [a-zA-Z_:][a-zA-Z0-9_:]* (metric) or [a-zA-Z_][a-zA-Z0-9_]* (label). Pure. */
bool metrics_name_ok(const char *name, bool label);

#endif
