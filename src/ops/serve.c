// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One request per connection, on a struct loop: the socket half of the control socket and the
 * HTTP endpoint. Owns the listener, the connections and their buffers; knows no protocol (the
 * serve_ops do). A client that is slow, silent or gone never holds the loop: every socket call
 * is non-blocking, requests are bounded, each connection has one deadline.
 */
#include "serve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum serve_state { SERVE_READING, SERVE_WAITING, SERVE_WRITING };

struct serve_conn {
	struct loop_io io;
	struct serve *srv;
	struct serve_conn *prev, *next;
	struct loop_timer timer;
	enum serve_state state;
	bool in_request; /* inside ops->request: a synchronous reply is written after it returns */
	bool abandoned;	 /* closed while an answer was pending: freed when it arrives */
	bool broken;	 /* the answer could not be built: closed without one */
	char *in;	 /* owned, max_request + 1 bytes */
	size_t in_len, sent;
	struct reply reply;
};

struct reply *serve_conn_reply(struct serve_conn *c)
{
	return &c->reply;
}

static void serve_free(struct serve_conn *c)
{
	reply_free(&c->reply);
	free(c->in);
	free(c);
}

/* The one way a connection ends. */
static void serve_close(struct serve_conn *c)
{
	struct serve *srv = c->srv;

	loop_timer_cancel(srv->loop, &c->timer);
	loop_remove(srv->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->conns_len--;
	if (c->state == SERVE_WAITING) {
		if (!c->reply.cancel) {
			c->abandoned = true; /* the role still holds the reply: free it on done */
			return;
		}
		c->reply.cancel(&c->reply);
	}
	serve_free(c);
}

static void serve_write(struct serve_conn *c)
{
	if (c->broken) {
		serve_close(c); /* no half answer: a closed connection says it all */
		return;
	}
	while (c->sent < c->reply.len) {
		ssize_t n = send(c->io.fd, c->reply.data + c->sent, c->reply.len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* EPOLLOUT resumes */
		if (n <= 0) {
			serve_close(c);
			return;
		}
		c->sent += (size_t)n;
	}
	c->srv->served++;
	/* Whatever the client sent beyond its request would turn our close into a reset. */
	while (recv(c->io.fd, c->in, c->srv->opts.max_request, MSG_DONTWAIT) > 0)
		;
	shutdown(c->io.fd, SHUT_WR);
	serve_close(c);
}

static void serve_on_done(struct reply *r)
{
	struct serve_conn *c = container_of(r, struct serve_conn, reply);

	if (c->abandoned) {
		serve_free(c);
		return;
	}
	if (c->srv->ops->frame)
		c->srv->ops->frame(c->srv, r);
	c->broken = r->oom;
	c->state = SERVE_WRITING;
	if (!c->in_request)
		serve_write(c);
}

static void serve_read(struct serve_conn *c)
{
	struct serve *srv = c->srv;
	bool eof = false;
	int ret;

	for (;;) {
		size_t room = srv->opts.max_request - c->in_len;
		ssize_t n;

		if (room == 0)
			break;
		n = recv(c->io.fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			serve_close(c);
			return;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		c->in_len += (size_t)n;
	}
	c->in[c->in_len] = '\0';
	c->state = SERVE_WAITING;
	c->in_request = true;
	ret = srv->ops->request(srv, c, c->in, c->in_len, eof, c->in_len == srv->opts.max_request);
	c->in_request = false;
	if (ret == -EAGAIN) {
		c->state = SERVE_READING;
		if (eof || c->in_len == srv->opts.max_request)
			serve_close(c); /* the protocol should have answered; never spin */
		return;
	}
	if (c->state == SERVE_WRITING)
		serve_write(c);
}

static void serve_on_conn(struct loop_io *io, uint32_t events)
{
	struct serve_conn *c = container_of(io, struct serve_conn, io);

	switch (c->state) {
	case SERVE_READING:
		if (events & EPOLLERR)
			serve_close(c);
		else if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
			serve_read(c);
		break;
	case SERVE_WAITING:
		/* A client that hangs up while its answer is computed is dropped at once. */
		if (events & (EPOLLERR | EPOLLHUP))
			serve_close(c);
		break;
	case SERVE_WRITING:
		if (events & (EPOLLERR | EPOLLHUP))
			serve_close(c);
		else if (events & EPOLLOUT)
			serve_write(c);
		break;
	}
}

static void serve_on_timeout(struct loop_timer *timer)
{
	serve_close(container_of(timer, struct serve_conn, timer));
}

static void serve_accept(struct serve *srv, int fd)
{
	struct serve_conn *c = NULL;

	if (srv->conns_len < srv->opts.max_conns) {
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(srv->opts.max_request + 1);
	}
	if (!c || !c->in) {
		srv->refused++;
		if (c)
			free(c);
		close(fd);
		return;
	}
	c->srv = srv;
	c->io.fd = fd;
	c->io.on_event = serve_on_conn;
	reply_init(&c->reply);
	c->reply.on_done = serve_on_done;
	loop_timer_init(&c->timer, serve_on_timeout);
	if (loop_add(srv->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0 ||
	    loop_timer_arm(srv->loop, &c->timer, srv->opts.timeout_ms) < 0) {
		srv->refused++;
		loop_remove(srv->loop, &c->io);
		close(fd);
		serve_free(c);
		return;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->conns_len++;
	serve_read(c); /* the request may already be here */
}

static void serve_on_listener(struct loop_io *io, uint32_t events)
{
	struct serve *srv = container_of(io, struct serve, listener);

	for (;;) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EAGAIN: done. EMFILE and friends: the queued client waits for the next
			 * connection's event; the data path matters more than the control path. */
			return;
		}
		serve_accept(srv, fd);
	}
}

int serve_start(struct serve *srv, struct loop *loop, int fd, const struct serve_ops *ops,
		void *ctx, const struct serve_opts *opts)
{
	int ret;

	*srv = (struct serve){ .loop = loop, .ops = ops, .ctx = ctx, .opts = *opts };
	srv->listener.fd = fd;
	srv->listener.on_event = serve_on_listener;
	ret = loop_add(loop, &srv->listener, EPOLLIN | EPOLLET);
	if (ret < 0) {
		srv->listener.fd = -1;
		return ret;
	}
	return 0;
}

void serve_stop(struct serve *srv)
{
	if (!srv->loop)
		return;
	while (srv->conns)
		serve_close(srv->conns);
	if (srv->listener.fd >= 0) {
		loop_remove(srv->loop, &srv->listener);
		close(srv->listener.fd);
		srv->listener.fd = -1;
	}
	srv->loop = NULL;
}
