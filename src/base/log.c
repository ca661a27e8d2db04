// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging: one line per call to stderr, prefixed by program name and level.
 * Owns nothing but the level; never allocates, so it is safe on every error path.
 * Per-packet paths must not log; sessions log one line when they close.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_progname = "mpconv";
/* atomic: a reload on the main thread sets it while worker threads log */
static atomic_int log_threshold = LOG_LEVEL_INFO;
static bool log_timestamps;

void log_init(const char *progname, enum log_level level, bool timestamps)
{
	log_progname = progname;
	atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
	log_timestamps = timestamps;
}

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

__attribute__((format(printf, 3, 0))) static void log_vemit(enum log_level level, int errnum,
							    const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	size_t len = 0;
	int n;

	if (log_timestamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + len, sizeof(line) - len, ".%03ld ", ts.tv_nsec / 1000000);
		len += n > 0 ? (size_t)n : 0;
	}
	n = snprintf(line + len, sizeof(line) - len, "%s: %s: ", log_progname, names[level]);
	len += n > 0 ? (size_t)n : 0;
	if (len < sizeof(line)) {
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		len += n > 0 ? (size_t)n : 0;
	}
	if (errnum && len < sizeof(line)) {
		n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(errnum));
		len += n > 0 ? (size_t)n : 0;
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}

#define LOG_BODY(level, errnum)                                                                    \
	do {                                                                                       \
		va_list ap;                                                                        \
		if (!log_enabled(level))                                                           \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		log_vemit(level, errnum, fmt, ap);                                                 \
		va_end(ap);                                                                        \
	} while (0)

void log_warn(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY(LOG_LEVEL_WARN, saved);
	errno = saved;
}

void log_warnc(int err, const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, err < 0 ? -err : err);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void log_errx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERR, 0);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

noreturn void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
