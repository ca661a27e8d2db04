// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One request per connection, on a struct loop: the socket half of the control socket and the
 * HTTP endpoint. Owns the listener, the connections and their buffers; knows no protocol (the
 * serve_ops do). A client that is slow, silent or gone never holds the loop: every socket call
 * is non-blocking, requests are bounded, each connection has a deadline for its request and one
 * for the whole exchange. Nor does it hold the others out: connections are capped per peer, and
 * at a cap the one waiting longest for its request is closed to make room for the newcomer.
 */
#include "serve.h"

#include "addr.h"

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
	struct serve_peer peer;
	uint64_t accepted_ms; /* loop time; the whole-exchange deadline counts from it */
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

void serve_peer_of(int fd, struct serve_peer *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addr_port ap;
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);

	memset(peer, 0, sizeof(*peer));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_UNIX) {
		/* Local clients: the socket's mode already limits them to root and the daemon's
		 * group; one uid among them cannot crowd out the others (root's mpconvctl). */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == -1)
			return;
		peer->kind = SERVE_PEER_UID;
		memcpy(peer->id, &cred.uid, sizeof(cred.uid));
		return;
	}
	if (!addr_from_sockaddr((const struct sockaddr *)&ss, len, &ap))
		return;
	peer->kind = SERVE_PEER_IP;
	/* IPv4 (mapped): the whole address. IPv6: its /64, all one host can choose from. */
	memcpy(peer->id, ap.ip, addr_is_v4mapped(ap.ip) ? 16 : 8);
}

static uint64_t serve_head_timeout(const struct serve *srv)
{
	const struct serve_opts *o = &srv->opts;

	return o->head_timeout_ms && o->head_timeout_ms < o->timeout_ms ? o->head_timeout_ms
									: o->timeout_ms;
}

static bool serve_same_peer(const struct serve_conn *c, const struct serve_peer *peer)
{
	return !memcmp(&c->peer, peer, sizeof(*peer));
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
	/* The request is in: from now on only the whole exchange's deadline counts. Re-arming an
	 * armed timer cannot fail (it takes back its own heap slot). */
	if (serve_head_timeout(srv) < srv->opts.timeout_ms) {
		uint64_t end = c->accepted_ms + srv->opts.timeout_ms;

		loop_timer_arm(srv->loop, &c->timer,
			       end > srv->loop->now_ms ? end - srv->loop->now_ms : 0);
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

/*
 * The connection that has waited longest for its request, among peer's (NULL: anyone's). Those
 * with a request in are never chosen: their answer is on its way. The list is newest first.
 */
static struct serve_conn *serve_oldest_reading(struct serve *srv, const struct serve_peer *peer)
{
	struct serve_conn *oldest = NULL;

	for (struct serve_conn *c = srv->conns; c; c = c->next)
		if (c->state == SERVE_READING && (!peer || serve_same_peer(c, peer)))
			oldest = c;
	return oldest;
}

/*
 * Room for a newcomer from peer: under both caps, or after closing the connection that has
 * waited longest for its request (the peer's own at the per-peer cap, anyone's at the global
 * one; one peer alone never reaches the global cap, so it can only push out its own). false:
 * every slot holds a request being answered, the newcomer is turned away.
 */
static bool serve_make_room(struct serve *srv, const struct serve_peer *peer)
{
	struct serve_conn *victim;
	unsigned n = 0;

	if (srv->opts.max_per_peer) {
		for (struct serve_conn *c = srv->conns; c; c = c->next)
			n += serve_same_peer(c, peer);
		if (n >= srv->opts.max_per_peer) {
			victim = serve_oldest_reading(srv, peer);
			if (!victim)
				return false;
			serve_close(victim);
			srv->evicted++;
		}
	}
	if (srv->conns_len >= srv->opts.max_conns) {
		victim = serve_oldest_reading(srv, NULL);
		if (!victim)
			return false;
		serve_close(victim);
		srv->evicted++;
	}
	return true;
}

static void serve_accept(struct serve *srv, int fd)
{
	struct serve_conn *c = NULL;
	struct serve_peer peer;

	serve_peer_of(fd, &peer);
	if (serve_make_room(srv, &peer)) {
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
	c->peer = peer;
	c->accepted_ms = srv->loop->now_ms;
	reply_init(&c->reply);
	c->reply.on_done = serve_on_done;
	loop_timer_init(&c->timer, serve_on_timeout);
	if (loop_add(srv->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0 ||
	    loop_timer_arm(srv->loop, &c->timer, serve_head_timeout(srv)) < 0) {
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
