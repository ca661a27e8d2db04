/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_LOG_H
#define MPCONV_LOG_H

#include <stdbool.h>
#include <stdnoreturn.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Set once at start-up; the default is INFO to stderr with no timestamp (journald adds one). */
void log_init(const char *progname, enum log_level level, bool timestamps);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/*
 * The one way to log a failure's cause: log_warn appends ": strerror(errno)" (right after a
 * failed call), log_warnc the same for an error code a function returned (-errno or errno).
 * Never format strerror by hand in a log line. log_warnx has no cause.
 */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnc(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "error:": what stops the daemon (a fatal configuration error); the caller then exits. */
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only for start-up: prints and exits 1. Never on input a peer can send. */
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
