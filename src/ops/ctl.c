// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket: a unix stream socket, one request line in, "OK"/"ERR" and a body out.
 * Owns the socket file (created at start, removed at stop, never someone else's) and the command
 * table; the answers come from the role's struct ctl_provider. Never blocks its loop: the socket
 * half is serve.c's, and slow answers are asynchronous replies.
 */
#include "ctl.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Clients are local (root and the daemon's group: the socket's mode) and mpconvctl writes its
 * line at once, so a client gets CTL_HEAD_TIMEOUT_MS to send it and each uid (SO_PEERCRED)
 * CTL_MAX_PER_UID connections: a stuck script of one user cannot lock root's mpconvctl out, and
 * at a cap the connection that has waited longest for its line makes room (serve.c).
 */
#define CTL_MAX_CONNS	    32
#define CTL_MAX_PER_UID	    8
#define CTL_HEAD_TIMEOUT_MS 2000
#define CTL_TIMEOUT_MS	    30000 /* a probe over a slow link may take seconds */

int ctl_parse_request(const char *in, size_t len, bool final, struct ctl_request *req)
{
	const char *nl = memchr(in, '\n', len);
	size_t line_len = nl ? (size_t)(nl - in) : len;
	char *p, *end;

	if (!nl && !final)
		return len > CTL_REQUEST_MAX ? -EBADMSG : -EAGAIN;
	if (line_len > CTL_REQUEST_MAX)
		return -EBADMSG;
	if (line_len > 0 && in[line_len - 1] == '\r')
		line_len--; /* "nc -C" and friends */
	*req = (struct ctl_request){ .argc = 0 };
	for (size_t i = 0; i < line_len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return -EBADMSG;
	}
	memcpy(req->line, in, line_len);
	req->line[line_len] = '\0';
	p = req->line;
	end = req->line + line_len;
	while (p < end) {
		char *word;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		word = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		*p++ = '\0';
		if (!strcmp(word, "-j") || !strcmp(word, "--json")) {
			req->json = true;
			continue;
		}
		if (req->argc == CTL_MAX_ARGS)
			return -EBADMSG;
		req->argv[req->argc++] = word;
	}
	if (req->argc == 0)
		return -EBADMSG;
	return (int)(nl ? line_len + 1 + (in[line_len] == '\r') : line_len);
}

typedef int ctl_callback(void *ctx, struct reply *r, const struct ctl_request *req);

struct ctl_command {
	const char *name;
	const char *help;
	const char *missing; /* the answer when the role has no callback */
};

static const struct ctl_command ctl_commands[] = {
	{ "status", "role, version, uptime, configuration, totals", "not offered" },
	{ "sessions", "one line per session, with its subflows", "not offered" },
	{ "links", "each access link: state, probe RTT and loss, bytes, subflows",
	  "not a gateway" },
	{ "probe", "test the converter over each link", "not a gateway" },
	{ "reload", "re-read the configuration (as SIGHUP)", "not offered" },
	{ "inbound", "published services, reverse connections and inbound sessions",
	  "not offered" },
	{ "reset-quota", "start the links' quota periods again", "not a gateway" },
	{ "help", "list the commands", NULL },
};

static ctl_callback *ctl_find(const struct ctl_provider *p, const char *name)
{
	if (!strcmp(name, "status"))
		return p->status;
	if (!strcmp(name, "sessions"))
		return p->sessions;
	if (!strcmp(name, "links"))
		return p->links;
	if (!strcmp(name, "probe"))
		return p->probe;
	if (!strcmp(name, "reload"))
		return p->reload;
	if (!strcmp(name, "inbound"))
		return p->inbound;
	if (!strcmp(name, "reset-quota"))
		return p->reset_quota;
	return NULL;
}

static int ctl_help(const struct ctl *ctl, struct reply *r, bool json)
{
	reply_puts(r, json ? "{\"commands\":[" : "");
	for (size_t i = 0, n = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++) {
		const struct ctl_command *cmd = &ctl_commands[i];

		if (cmd->missing && !ctl_find(ctl->provider, cmd->name))
			continue;
		if (json) {
			reply_puts(r, n++ ? "," : "");
			reply_json_string(r, cmd->name);
		} else {
			reply_printf(r, "%-10s %s\n", cmd->name, cmd->help);
		}
	}
	reply_puts(r, json ? "]}\n" : "");
	return 0;
}

static int ctl_dispatch(struct ctl *ctl, struct reply *r, const struct ctl_request *req)
{
	const char *name = req->argv[0];
	ctl_callback *fn;

	if (!strcmp(name, "help"))
		return ctl_help(ctl, r, req->json);
	for (size_t i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++) {
		if (strcmp(name, ctl_commands[i].name))
			continue;
		fn = ctl_find(ctl->provider, name);
		if (!fn) {
			reply_printf(r, "%s: %s (this is mpconvd %s)", name,
				     ctl_commands[i].missing, ctl->provider->role);
			return -EOPNOTSUPP;
		}
		return fn(ctl->provider->ctx, r, req);
	}
	reply_printf(r, "unknown command '%.64s' (try help)", name);
	return -EINVAL;
}

static int ctl_on_request(struct serve *srv, struct serve_conn *c, const char *in, size_t len,
			  bool eof, bool full)
{
	struct ctl *ctl = srv->ctx;
	struct reply *r = serve_conn_reply(c);
	struct ctl_request req;
	int ret = ctl_parse_request(in, len, eof || full, &req);

	if (ret == -EAGAIN)
		return ret;
	if (ret < 0) {
		reply_printf(r,
			     "malformed request: one line 'COMMAND [ARG...] [-j]' of at most %d "
			     "printable bytes",
			     CTL_REQUEST_MAX);
		reply_done(r, ret);
		return 0;
	}
	ret = ctl_dispatch(ctl, r, &req);
	if (ret != REPLY_LATER)
		reply_done(r, ret);
	return 0;
}

static void ctl_frame(struct serve *srv, struct reply *r)
{
	if (r->status >= 0) {
		reply_prepend(r, "OK\n");
		return;
	}
	while (r->len && r->data[r->len - 1] == '\n')
		r->data[--r->len] = '\0';
	if (r->len == 0)
		reply_puts(r, strerror(-r->status));
	/* The message is one line: the client prints it after its own prefix. */
	for (size_t i = 0; i < r->len; i++)
		if (r->data[i] == '\n')
			r->data[i] = ' ';
	reply_prepend(r, "ERR ");
	reply_puts(r, "\n");
}

static const struct serve_ops ctl_ops = {
	.request = ctl_on_request,
	.frame = ctl_frame,
};

/* "control socket PATH: [WHAT: ]strerror", and returns ret. */
static int ctl_fail(char *err, int ret, const char *path, const char *what)
{
	snprintf(err, CTL_ERR_LEN, "control socket %s: %s%s%s", path, what ? what : "",
		 what ? ": " : "", strerror(-ret));
	return ret;
}

/* A socket file already there: a live daemon's (refuse) or a stale one (remove). */
static int ctl_claim_path(const char *path, const struct sockaddr_un *sun, char *err)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : ctl_fail(err, -errno, path, NULL);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, CTL_ERR_LEN, "control socket %s: exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return ctl_fail(err, -errno, path, NULL);
	ret = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ? 0 : -errno;
	close(fd);
	if (ret == 0 || ret == -EAGAIN) {
		snprintf(err, CTL_ERR_LEN,
			 "control socket %s: another daemon is answering on it (stop it, or set "
			 "control-socket)",
			 path);
		return -EADDRINUSE;
	}
	if (ret != -ECONNREFUSED)
		return ctl_fail(err, ret, path, "cannot check the existing socket");
	if (unlink(path) == -1 && errno != ENOENT)
		return ctl_fail(err, -errno, path, "cannot remove the stale socket");
	return 0;
}

static int ctl_make_parent(const char *path, char *err)
{
	char dir[CTL_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return ctl_fail(err, -errno, dir, "cannot create the directory");
	return 0;
}

int ctl_start(struct ctl *ctl, struct loop *loop, const char *path,
	      const struct ctl_provider *provider, char err[CTL_ERR_LEN])
{
	const struct serve_opts opts = {
		.max_request = CTL_REQUEST_MAX + 2,
		.max_conns = CTL_MAX_CONNS,
		.max_per_peer = CTL_MAX_PER_UID,
		.head_timeout_ms = CTL_HEAD_TIMEOUT_MS,
		.timeout_ms = CTL_TIMEOUT_MS,
	};
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd = -1, ret;

	*ctl = (struct ctl){ .provider = provider };
	if (!path || !*path || strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, CTL_ERR_LEN, "control socket '%s': empty or longer than %zu bytes",
			 path ? path : "", sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ret = ctl_make_parent(path, err);
	if (ret == 0)
		ret = ctl_claim_path(path, &sun, err);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return ctl_fail(err, -errno, path, NULL);
	if (bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) == -1) {
		ret = ctl_fail(err, -errno, path, "bind");
		close(fd);
		return ret;
	}
	/* Root and the daemon's group only: the commands reveal every client and can reload. */
	if (chmod(path, 0660) == -1 || stat(path, &st) == -1 || listen(fd, 16) == -1) {
		ret = ctl_fail(err, -errno, path, NULL);
		goto fail;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	memcpy(ctl->path, path, strlen(path) + 1);
	ret = serve_start(&ctl->srv, loop, fd, &ctl_ops, ctl, &opts);
	if (ret < 0) {
		ctl_fail(err, ret, path, NULL);
		goto fail;
	}
	ctl->started = true;
	return 0;
fail:
	close(fd);
	unlink(path);
	return ret;
}

int ctl_serve(struct ctl *ctl, struct loop *loop, const char *path, bool required,
	      const struct ctl_provider *provider)
{
	char err[CTL_ERR_LEN];
	int ret;

	if (!path[0])
		return 0;
	ret = ctl_start(ctl, loop, path, provider, err);
	if (ret < 0 && required) {
		log_warnx("%s", err);
		return ret;
	}
	if (ret < 0)
		log_warnx("%s; running without a control socket", err);
	else
		log_info("control socket %s", path);
	return 0;
}

void ctl_stop(struct ctl *ctl)
{
	struct stat st;

	if (!ctl->started)
		return;
	serve_stop(&ctl->srv);
	/* Someone may have replaced the file since (a second daemon after a forced start). */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	ctl->started = false;
}
