/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CTL_H
#define MPCONV_CTL_H

#include "loop.h"
#include "reply.h"
#include "serve.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The daemon's control socket: a unix stream socket (mode 0660) that mpconvctl talks to.
 *
 * Protocol: the client sends one line, "COMMAND [ARG...] [-j]\n" (at most CTL_REQUEST_MAX
 * bytes; -j or --json anywhere asks for JSON). The daemon answers "OK\n" followed by the body
 * (text, or one JSON document with -j), or "ERR message\n", then closes the connection.
 *
 * Roles plug in through a struct ctl_provider (one per daemon). Every callback answers into r:
 * return 0 (done), -errno with a one-line message written into r, or REPLY_LATER and call
 * reply_done(r, status) later on the loop's thread, after setting r->cancel (see reply.h).
 * A NULL callback means the role does not offer the command; links and probe then answer
 * "ERR not a gateway". Callbacks run on the loop the socket was started on.
 *
 * For the gateway (one event loop):
 *   static const struct ctl_provider gw_ctl = { .role = "gateway", .ctx = gw,
 *	.status = gw_ctl_status, .sessions = gw_ctl_sessions, .links = gw_ctl_links,
 *	.probe = gw_ctl_probe, .reload = gw_ctl_reload };
 *   ctl_start(&gw->ctl, &gw->loop, cfg->control_socket, &gw_ctl, err);  ...  ctl_stop(&gw->ctl);
 */
#define CTL_REQUEST_MAX 512
#define CTL_MAX_ARGS	8
#define CTL_ERR_LEN	256
#define CTL_PATH_MAX	108 /* sizeof(sockaddr_un.sun_path) */

struct ctl_request {
	char line[CTL_REQUEST_MAX + 1]; /* the words, NUL-separated; argv points into it */
	const char *argv[CTL_MAX_ARGS]; /* argv[0] is the command; -j/--json removed */
	int argc;
	bool json;
};

struct ctl_provider {
	const char *role; /* "converter", "gateway": status output and error messages */
	void *ctx;	  /* passed back to every callback */
	/* role, version, uptime, config file, workers, totals */
	int (*status)(void *ctx, struct reply *r, const struct ctl_request *req);
	/* one entry per session: client, destination, age, bytes, subflows */
	int (*sessions)(void *ctx, struct reply *r, const struct ctl_request *req);
	/* gateway: each link's state, probe RTT/loss, bytes, subflows */
	int (*links)(void *ctx, struct reply *r, const struct ctl_request *req);
	/* gateway: test the converter over each link; usually REPLY_LATER */
	int (*probe)(void *ctx, struct reply *r, const struct ctl_request *req);
	/* re-read the configuration, as SIGHUP does */
	int (*reload)(void *ctx, struct reply *r, const struct ctl_request *req);
	/* inbound sessions: published services, reverse connections, sessions (issue 15) */
	int (*inbound)(void *ctx, struct reply *r, const struct ctl_request *req);
	/* gateway: start every link's quota period again (the links leave backup-only) */
	int (*reset_quota)(void *ctx, struct reply *r, const struct ctl_request *req);
};

struct ctl {
	struct serve srv;
	const struct ctl_provider *provider;
	char path[CTL_PATH_MAX];
	dev_t dev; /* of the socket file we bound: only that one is unlinked at stop */
	ino_t ino;
	bool started;
};

/*
 * Binds path (creating its parent directory, mode 0755, if missing; the socket gets mode
 * 0660), refuses a path where another daemon answers (-EADDRINUSE) or that is not a socket
 * (-EEXIST), removes a stale socket, and serves on loop. 0, or -errno with err filled in.
 */
int ctl_start(struct ctl *ctl, struct loop *loop, const char *path,
	      const struct ctl_provider *provider, char err[CTL_ERR_LEN]);
/*
 * A role's control socket as configured: none when path is empty; a failure is fatal (-errno)
 * when the path was given explicitly (required), else a warning and no socket. Logs either way.
 */
int ctl_serve(struct ctl *ctl, struct loop *loop, const char *path, bool required,
	      const struct ctl_provider *provider);
/* Closes every client (pending replies are cancelled) and removes the socket file. */
void ctl_stop(struct ctl *ctl);

/*
 * Parses one request line from in[0..len). final: no more bytes will come (EOF or the buffer is
 * full), so a last line without its newline counts. Returns the bytes used, -EAGAIN when the
 * line is not complete yet, -EBADMSG when it is malformed (too long, NUL or control bytes,
 * empty, more than CTL_MAX_ARGS words). Pure.
 */
int ctl_parse_request(const char *in, size_t len, bool final, struct ctl_request *req);

#endif
