// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading a configuration file: open it without hanging (FIFOs), check that only root or the
 * daemon's own user can have written it, read it whole, parse it (config.c). The file decides
 * who may use the converter, may hold the cookie secret and names the control socket: a file
 * another user can write or replace would hand them the daemon. Never logs: errors go to the
 * caller's buffer, quoting the path and the reason.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int config_file_fail(char *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int config_file_fail(char *err, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, CONFIG_ERR_LEN, fmt, ap);
	va_end(ap);
	return ret;
}

/* "PATH: strerror(errno)"; returns -errno. */
static int config_file_errno(char *err, const char *path)
{
	int ret = -errno;

	return config_file_fail(err, ret, "%s: %s", path, strerror(-ret));
}

/* Root, or the user the daemon runs as (the unit's User=, or whoever started it by hand). */
static bool config_file_owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/*
 * The directory holding the file: whoever can write to it can replace the file by a rename,
 * whatever the file's own mode. The sticky bit (/tmp) does not help: the name can be taken
 * before the file is made, and a world-writable directory is no place for a daemon's config.
 */
static int config_file_check_dir(const char *path, const char *dir, char *err)
{
	struct stat st;

	if (stat(dir, &st) == -1) {
		int ret = -errno;

		return config_file_fail(err, ret, "%s: its directory %s: %s", path, dir,
					strerror(-ret));
	}
	if (!config_file_owner_ok(st.st_uid))
		return config_file_fail(err, -EPERM,
					"%s: its directory %s is owned by uid %u, not root or the "
					"daemon's user (uid %u): that user could replace the file",
					path, dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return config_file_fail(
			err, -EPERM,
			"%s: its directory %s is writable by group or others (mode "
			"%04o): they could replace the file; move it to a directory "
			"only root can write, such as /etc/mpconv",
			path, dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The directory part of path, as dirname(3) without modifying path: "." for a bare name. */
static void config_file_dirname(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash) {
		strcpy(dir, ".");
		return;
	}
	while (slash > path && slash[-1] == '/')
		slash--;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= PATH_MAX)
		len = PATH_MAX - 1;
	memcpy(dir, path, len);
	dir[len] = '\0';
}

/*
 * Who could have written the open file fd (st: its fstat): the file itself, the directory named
 * in path, and, when path goes through a symbolic link, the directory the file really is in
 * (from /proc/self/fd, so it is the very file that was opened; realpath if /proc is absent).
 */
static int config_file_check_trust(const char *path, int fd, const struct stat *st, char *err)
{
	char named[PATH_MAX], real[PATH_MAX], link[64], *resolved;
	ssize_t n;
	int ret;

	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return config_file_fail(
			err, -EPERM,
			"%s: writable by group or others (mode %04o); run chmod go-w on it", path,
			(unsigned)(st->st_mode & 07777));
	if (!config_file_owner_ok(st->st_uid))
		return config_file_fail(
			err, -EPERM,
			"%s: owned by uid %u, not root or the daemon's user (uid %u); "
			"run chown root on it",
			path, (unsigned)st->st_uid, (unsigned)geteuid());
	config_file_dirname(path, named);
	ret = config_file_check_dir(path, named, err);
	if (ret < 0)
		return ret;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n > 0 && real[0] == '/') {
		real[n] = '\0';
		resolved = real;
	} else {
		resolved = realpath(path, real);
		if (!resolved) {
			ret = -errno;
			return config_file_fail(err, ret, "%s: %s", path, strerror(-ret));
		}
	}
	config_file_dirname(resolved, real);
	if (strcmp(real, named))
		return config_file_check_dir(path, real, err);
	return 0;
}

int config_file_read(const char *path, size_t max, char **out, size_t *out_len,
		     char err[CONFIG_ERR_LEN])
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd, ret;

	/* O_NONBLOCK: opening a FIFO must fail the regular-file check below, not hang. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		ret = config_file_errno(err, path);
		goto out;
	}
	/* fstat on the open fd, so the checks apply to the very file that is read. */
	if (fstat(fd, &st) == -1) {
		ret = config_file_errno(err, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = config_file_fail(err, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	ret = config_file_check_trust(path, fd, &st, err);
	if (ret < 0)
		goto out;
	if ((uint64_t)st.st_size > max) {
		ret = config_file_fail(err, -EFBIG, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		ret = config_file_fail(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ret = config_file_errno(err, path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	*out = text;
	*out_len = len;
	text = NULL;
	ret = 0;
out:
	free(text);
	if (fd != -1)
		close(fd);
	return ret;
}
