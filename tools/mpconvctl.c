// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mpconvctl: the operator's command-line client. A subcommand table that also prints usage;
 * daemon commands send one request line over mpconvd's control socket and print the answer
 * (the daemon formats it: aligned text, or JSON with -j). It never changes daemon state except
 * through that socket, and every failure ends with a clear message and exit status 1.
 */
#include "ctl.h"
#include "doctor.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MPCONV_VERSION
#define MPCONV_VERSION "0.1.0"
#endif

#define RUN_DIR		  "/run/mpconv"
#define ANSWER_TIMEOUT_MS 35000 /* the daemon gives up on a request after 30 s */
#define ANSWER_MAX	  (64u << 20)

struct options {
	const char *socket; /* -s PATH */
	const char *role;   /* --role converter|gateway */
	bool json;
};

struct subcommand {
	const char *name;
	int (*run)(const struct options *opts, int argc, char **argv);
	const char *description;
};

static int daemon_command(const struct options *opts, int argc, char **argv);
static int show_version(const struct options *opts, int argc, char **argv);
static int show_help(const struct options *opts, int argc, char **argv);
static int run_doctor(const struct options *opts, int argc, char **argv);

static const struct subcommand subcommands[] = {
	{ "status", daemon_command, "role, version, uptime, configuration, totals" },
	{ "sessions", daemon_command, "sessions with client, destination, bytes and subflows" },
	{ "links", daemon_command, "gateway: each link's state, probe RTT and loss, bytes" },
	{ "probe", daemon_command, "gateway: test the converter over each link" },
	{ "reload", daemon_command, "re-read the configuration file (as SIGHUP)" },
	{ "doctor", run_doctor, "check this host for what keeps mpconv from bonding (no daemon needed)" },
	{ "inbound", daemon_command, "published services, reverse connections, inbound sessions" },
	{ "reset-quota", daemon_command, "gateway: start the links' quota periods again" },
	{ "version", show_version, "print the version" },
	{ "help", show_help, "show this help" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: mpconvctl [-j] [-s PATH | --role converter|gateway] <command> "
		     "[arguments]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(out, "\noptions:\n"
		     "  -j, --json            JSON output\n"
		     "  -s, --socket PATH     the daemon's control socket\n"
		     "  --role ROLE           " RUN_DIR "/ROLE.sock (default: converter, else "
		     "gateway)\n");
}

static int show_version(const struct options *opts, int argc, char **argv)
{
	printf("mpconvctl %s\n", MPCONV_VERSION);
	return 0;
}

/* doctor [--config PATH] [--timeout MS]: reads the system, not the daemon (doctor.c). */
static int run_doctor(const struct options *opts, int argc, char **argv)
{
	return doctor_main(opts->role, opts->json, argc, argv);
}

static int show_help(const struct options *opts, int argc, char **argv)
{
	usage(stdout);
	return 0;
}

/* -s, then --role, then whichever of the two roles' sockets exists (converter first). */
static const char *socket_path(const struct options *opts, char buf[CTL_PATH_MAX])
{
	if (opts->socket)
		return opts->socket;
	if (opts->role) {
		snprintf(buf, CTL_PATH_MAX, RUN_DIR "/%s.sock", opts->role);
		return buf;
	}
	if (access(RUN_DIR "/converter.sock", F_OK) != 0 &&
	    access(RUN_DIR "/gateway.sock", F_OK) == 0)
		return RUN_DIR "/gateway.sock";
	return RUN_DIR "/converter.sock";
}

static int connect_daemon(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "mpconvctl: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		perror("mpconvctl: socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	err = errno;
	close(fd);
	if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
		fprintf(stderr, "mpconvctl: mpconvd is not running (no control socket at %s)\n",
			path);
	else if (err == EACCES || err == EPERM)
		fprintf(stderr,
			"mpconvctl: permission denied on %s (run as root or in the daemon's group)\n",
			path);
	else
		fprintf(stderr, "mpconvctl: %s: %s\n", path, strerror(err));
	return -1;
}

static bool send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads until the daemon closes; NULL on error or timeout. *len excludes the added NUL. */
static char *read_answer(int fd, size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap), *grown;

	*len = 0;
	while (buf) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (*len + 1 == cap) {
			grown = cap < ANSWER_MAX ? realloc(buf, cap * 2) : NULL;
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		if (poll(&pfd, 1, ANSWER_TIMEOUT_MS) == 0) {
			fprintf(stderr, "mpconvctl: no answer within %d s\n",
				ANSWER_TIMEOUT_MS / 1000);
			break;
		}
		n = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			perror("mpconvctl: reading the answer");
			break;
		}
		if (n == 0) {
			buf[*len] = '\0';
			return buf;
		}
		*len += (size_t)n;
	}
	free(buf);
	return NULL;
}

static int daemon_command(const struct options *opts, int argc, char **argv)
{
	char request[CTL_REQUEST_MAX + 2], pathbuf[CTL_PATH_MAX], *answer = NULL;
	const char *path = socket_path(opts, pathbuf);
	size_t len = 0, answer_len;
	int fd, ret = 1;

	for (int i = 0; i < argc; i++) {
		int n = snprintf(request + len, sizeof(request) - len, "%s%s", i ? " " : "",
				 argv[i]);

		if (n < 0 || (size_t)n >= sizeof(request) - len || strpbrk(argv[i], " \t\n")) {
			fprintf(stderr, "mpconvctl: arguments too long or with white space\n");
			return 1;
		}
		len += (size_t)n;
	}
	len += (size_t)snprintf(request + len, sizeof(request) - len, "%s\n",
				opts->json ? " -j" : "");
	fd = connect_daemon(path);
	if (fd < 0)
		return 1;
	if (!send_all(fd, request, len)) {
		fprintf(stderr, "mpconvctl: %s: the daemon closed the connection\n", path);
		goto out;
	}
	shutdown(fd, SHUT_WR);
	answer = read_answer(fd, &answer_len);
	if (!answer)
		goto out;
	if (!strncmp(answer, "OK\n", 3)) {
		fwrite(answer + 3, 1, answer_len - 3, stdout);
		ret = fflush(stdout) == 0 ? 0 : 1;
	} else if (!strncmp(answer, "ERR ", 4)) {
		fprintf(stderr, "mpconvctl: %s", answer + 4);
		if (answer[answer_len - 1] != '\n')
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "mpconvctl: %s: unexpected answer (%zu bytes): is it mpconvd?\n",
			path, answer_len);
	}
out:
	free(answer);
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	struct options opts = { .json = false };
	char *args[CTL_MAX_ARGS];
	int nargs = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			opts.json = true;
		} else if (!strcmp(a, "-s") || !strcmp(a, "--socket") || !strcmp(a, "--role")) {
			if (i + 1 == argc) {
				fprintf(stderr, "mpconvctl: %s needs a value\n", a);
				return 1;
			}
			if (a[2] == 'r')
				opts.role = argv[++i];
			else
				opts.socket = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			return show_version(&opts, 0, NULL);
		} else if (a[0] == '-' && nargs == 0) {
			fprintf(stderr, "mpconvctl: unknown option '%s'\n", a);
			usage(stderr);
			return 1;
		} else if (nargs == CTL_MAX_ARGS) {
			fprintf(stderr, "mpconvctl: too many arguments\n");
			return 1;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (opts.role && strcmp(opts.role, "converter") && strcmp(opts.role, "gateway")) {
		fprintf(stderr, "mpconvctl: --role is converter or gateway, not '%s'\n", opts.role);
		return 1;
	}
	if (nargs == 0) {
		usage(stderr);
		return 1;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(args[0], subcommands[i].name))
			return subcommands[i].run(&opts, nargs, args);
	fprintf(stderr, "mpconvctl: unknown command '%s'\n", args[0]);
	usage(stderr);
	return 1;
}
