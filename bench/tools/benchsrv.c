// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * benchsrv: the server end of the benchmark (bench/run.sh), one epoll loop per thread, plain TCP.
 * It serves what benchcli asks for, on as many ports as given:
 *   rr:PORT      read a 1 KiB request, answer 1 KiB, then close (the server closes first, so
 *                TIME_WAIT stays here and the client's ephemeral ports are not used up)
 *   echo:PORT    echo every byte back, keep the connection open (idle connections)
 *   source:PORT  read an 8-byte big-endian count (0 = endless), send that many pattern bytes
 *                (byte at offset i is i % 251), then close
 * It must never be the bottleneck: no per-request allocation beyond one small struct, no logging.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define RR_SIZE	    1024
#define PATTERN_MOD 251
#define SRC_CHUNK   (256 * 1024)
#define MAX_PORTS   8

enum mode { MODE_RR, MODE_ECHO, MODE_SOURCE };

struct port {
	enum mode mode;
	int port;
};

/* One accepted connection; owned by its thread's loop, freed in conn_close(). */
struct conn {
	int fd;
	enum mode mode;
	bool listener;
	bool sending;	/* source: header read, sending */
	bool endless;	/* source: count was 0 */
	size_t have;	/* rr: request bytes read; source: header bytes read */
	uint64_t left;	/* source: bytes still to send */
	uint64_t off;	/* source: offset in the pattern */
	size_t pending; /* echo/rr: bytes in buf still to write */
	size_t sent;
	unsigned char buf[RR_SIZE];
};

static struct port ports[MAX_PORTS];
static int nports;
static const char *bind_addr = "0.0.0.0";
static unsigned char pattern[SRC_CHUNK + PATTERN_MOD];

static int listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd, one = 1;

	if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 4096) == -1) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void set_events(int ep, struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void do_accept(int ep, struct conn *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct epoll_event e = { .events = EPOLLIN };
		struct conn *c;

		if (fd == -1)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->mode = l->mode;
		e.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == -1) {
			close(fd);
			free(c);
		}
	}
}

/* One send(): bytes sent, 0 when the socket is full (EPOLLOUT armed), -1 on an error. */
static ssize_t send_some(int ep, struct conn *c, const void *buf, size_t len)
{
	ssize_t k = send(c->fd, buf, len, MSG_NOSIGNAL);

	if (k == -1 && errno == EAGAIN) {
		set_events(ep, c, EPOLLOUT);
		return 0;
	}
	return k;
}

/* Writes c->buf[sent..pending); false when the connection is to be closed. */
static bool flush_buf(int ep, struct conn *c)
{
	while (c->sent < c->pending) {
		ssize_t k = send_some(ep, c, c->buf + c->sent, c->pending - c->sent);

		if (k <= 0)
			return k == 0;
		c->sent += (size_t)k;
	}
	c->sent = c->pending = 0;
	set_events(ep, c, EPOLLIN);
	return true;
}

/* Sends pattern bytes until the socket is full or all is sent; false: close the connection. */
static bool source_send(int ep, struct conn *c)
{
	while (c->endless || c->left) {
		size_t n = SRC_CHUNK;
		ssize_t k;

		if (!c->endless && c->left < n)
			n = (size_t)c->left;
		k = send_some(ep, c, pattern + c->off % PATTERN_MOD, n);
		if (k <= 0)
			return k == 0;
		c->off += (uint64_t)k;
		if (!c->endless)
			c->left -= (uint64_t)k;
	}
	return false; /* all sent: close (FIN after the data) */
}

static bool on_readable(int ep, struct conn *c)
{
	unsigned char tmp[4096];
	ssize_t k;

	switch (c->mode) {
	case MODE_SOURCE:
		if (c->sending)
			return source_send(ep, c);
		k = recv(c->fd, c->buf + c->have, 8 - c->have, 0);
		if (k <= 0)
			return k == -1 && errno == EAGAIN;
		c->have += (size_t)k;
		if (c->have < 8)
			return true;
		memcpy(&c->left, c->buf, 8);
		c->left = be64toh(c->left);
		c->endless = c->left == 0;
		c->sending = true;
		return source_send(ep, c);
	case MODE_RR:
		k = recv(c->fd, tmp, sizeof(tmp), 0);
		if (k <= 0)
			return k == -1 && errno == EAGAIN;
		c->have += (size_t)k;
		if (c->have < RR_SIZE)
			return true;
		memset(c->buf, 'r', RR_SIZE);
		c->pending = RR_SIZE;
		if (!flush_buf(ep, c))
			return false;
		if (c->pending == 0)
			shutdown(c->fd, SHUT_WR);
		return true; /* close once the client's FIN arrives (recv 0) */
	case MODE_ECHO:
		if (c->pending)
			return true;
		k = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (k <= 0)
			return k == -1 && errno == EAGAIN;
		c->pending = (size_t)k;
		return flush_buf(ep, c);
	}
	return false;
}

static bool on_writable(int ep, struct conn *c)
{
	if (c->mode == MODE_SOURCE)
		return source_send(ep, c);
	if (!flush_buf(ep, c))
		return false;
	if (c->mode == MODE_RR && c->pending == 0)
		shutdown(c->fd, SHUT_WR);
	return true;
}

static void *loop(void *arg)
{
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC), i;

	(void)arg;
	if (ep == -1) {
		perror("epoll_create1");
		exit(1);
	}
	for (i = 0; i < nports; i++) {
		struct conn *l = calloc(1, sizeof(*l));
		struct epoll_event e = { .events = EPOLLIN };

		if (!l)
			exit(1);
		l->fd = listen_on(ports[i].port);
		if (l->fd < 0) {
			fprintf(stderr, "benchsrv: listen %s:%d: %s\n", bind_addr, ports[i].port,
				strerror(-l->fd));
			exit(1);
		}
		l->mode = ports[i].mode;
		l->listener = true;
		e.data.ptr = l;
		epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &e);
	}
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			bool keep;

			if (c->listener) {
				do_accept(ep, c);
				continue;
			}
			if (evs[i].events & EPOLLOUT)
				keep = on_writable(ep, c);
			else
				keep = on_readable(ep, c);
			if (!keep)
				conn_close(ep, c);
		}
	}
	return NULL;
}

static bool parse_port(const char *s)
{
	const char *colon = strchr(s, ':');
	struct port *p = &ports[nports];
	char *end;
	long v;

	if (!colon || nports == MAX_PORTS)
		return false;
	if (!strncmp(s, "rr:", 3))
		p->mode = MODE_RR;
	else if (!strncmp(s, "echo:", 5))
		p->mode = MODE_ECHO;
	else if (!strncmp(s, "source:", 7))
		p->mode = MODE_SOURCE;
	else
		return false;
	v = strtol(colon + 1, &end, 10);
	if (*end || v <= 0 || v > 65535)
		return false;
	p->port = (int)v;
	nports++;
	return true;
}

int main(int argc, char **argv)
{
	pthread_t tid;
	int i, threads = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-b") && i + 1 < argc) {
			bind_addr = argv[++i];
		} else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			threads = atoi(argv[++i]);
		} else if (!parse_port(argv[i])) {
			fprintf(stderr, "usage: benchsrv [-b ADDR] [-t THREADS] "
					"{rr|echo|source}:PORT...\n  bad argument '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (nports == 0 || threads < 1) {
		fprintf(stderr, "usage: benchsrv [-b ADDR] [-t THREADS] {rr|echo|source}:PORT...\n");
		return 2;
	}
	for (i = 0; i < (int)sizeof(pattern); i++)
		pattern[i] = (unsigned char)(i % PATTERN_MOD);
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < threads; i++)
		pthread_create(&tid, NULL, loop, NULL);
	loop(NULL);
	return 0;
}
