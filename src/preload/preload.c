// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libmpconv.so, the RFC 8803 client for programs run under LD_PRELOAD: their outgoing TCP
 * becomes MPTCP through the converter named by MPCONV_CONVERTER. It owns a per-fd flag ("a
 * stream socket we made, not connected yet") and the Convert handshake done inside connect():
 * the converter's reply is read and checked before connect() returns, so the program never
 * sees a byte of it. It never touches a socket it did not create, nor one already connected,
 * and without MPCONV_CONVERTER it does nothing at all. docs/man/libmpconv.7 is the contract.
 */
#include "convert.h"
#include "convert_errno.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif
#ifndef TCP_FASTOPEN_NO_COOKIE
#define TCP_FASTOPEN_NO_COOKIE 34
#endif

#define PRE_MAX_FD	    65536 /* fds above are left alone (never converted) */
#define PRE_MAX_EXCLUDE	    16
#define PRE_DEFAULT_TIMEOUT 20000 /* ms: connect to the converter + its reply */

/* Symbols the library exports: the interposed calls, nothing else (-fvisibility=hidden). */
#define PRE_EXPORT __attribute__((visibility("default")))

struct pre_prefix {
	uint8_t ip[16]; /* IPv4 as v4-mapped */
	unsigned len;	/* 0..128 */
};

struct pre_conf {
	bool on;
	bool has4, has6;
	struct sockaddr_in conv4;
	struct sockaddr_in6 conv6;
	uint8_t conv_ip[2][16]; /* the converters' own addresses: never converted */
	struct pre_prefix exclude[PRE_MAX_EXCLUDE];
	size_t exclude_len;
	int timeout_ms;
	bool tfo, debug;
};

static struct pre_conf pre_conf;
static pthread_once_t pre_once = PTHREAD_ONCE_INIT;
static atomic_uchar pre_fresh[PRE_MAX_FD]; /* 1: our stream socket, connect not seen yet */

static int (*real_socket)(int, int, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static int (*real_close)(int);

static const uint8_t pre_mapped[12] = { [10] = 0xff, [11] = 0xff };

static void pre_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void pre_debug(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!pre_conf.debug)
		return;
	va_start(ap, fmt);
	fputs("libmpconv: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	errno = saved;
}

/* "a.b.c.d", "x::y", "[x::y]" with an optional ":port" -> one converter address. */
static bool pre_parse_converter(const char *text, struct pre_conf *c)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	unsigned long p = CONV_PORT;
	size_t n;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || (size_t)(end - text - 1) >= sizeof(host))
			return false;
		n = (size_t)(end - text - 1);
		memcpy(host, text + 1, n);
		host[n] = 0;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return false;
	} else {
		const char *colon = strchr(text, ':');

		/* more than one colon: a bare IPv6 address without a port */
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		n = colon ? (size_t)(colon - text) : strlen(text);
		if (n >= sizeof(host))
			return false;
		memcpy(host, text, n);
		host[n] = 0;
		if (colon)
			port = colon + 1;
	}
	if (port) {
		char *end;

		p = strtoul(port, &end, 10);
		if (*port == 0 || *end || p == 0 || p > 65535)
			return false;
	}
	if (inet_pton(AF_INET, host, &c->conv4.sin_addr) == 1) {
		c->conv4.sin_family = AF_INET;
		c->conv4.sin_port = htons((uint16_t)p);
		memcpy(c->conv_ip[0], pre_mapped, 12);
		memcpy(c->conv_ip[0] + 12, &c->conv4.sin_addr, 4);
		c->has4 = true;
		return true;
	}
	if (inet_pton(AF_INET6, host, &c->conv6.sin6_addr) == 1) {
		c->conv6.sin6_family = AF_INET6;
		c->conv6.sin6_port = htons((uint16_t)p);
		memcpy(c->conv_ip[1], &c->conv6.sin6_addr, 16);
		c->has6 = true;
		return true;
	}
	return false;
}

static bool pre_parse_prefix(const char *text, struct pre_prefix *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long len;
	char *end;

	if (n >= sizeof(addr))
		return false;
	memcpy(addr, text, n);
	addr[n] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->ip + 12) == 1) {
		memcpy(out->ip, pre_mapped, 12);
		len = slash ? strtoul(slash + 1, &end, 10) : 32;
		if ((slash && (*end || slash[1] == 0)) || len > 32)
			return false;
		out->len = 96 + (unsigned)len;
		return true;
	}
	if (inet_pton(AF_INET6, addr, out->ip) != 1)
		return false;
	len = slash ? strtoul(slash + 1, &end, 10) : 128;
	if ((slash && (*end || slash[1] == 0)) || len > 128)
		return false;
	out->len = (unsigned)len;
	return true;
}

static bool pre_in_prefix(const uint8_t ip[16], const struct pre_prefix *p)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(ip, p->ip, full))
		return false;
	return rest == 0 || ((ip[full] ^ p->ip[full]) & (0xff << (8 - rest))) == 0;
}

/* Reads the environment once; an unusable MPCONV_CONVERTER turns the library off (said on
 * stderr: a program silently not converted is worse than a line of noise). */
static void pre_init(void)
{
	const char *conv = getenv("MPCONV_CONVERTER"), *ex = getenv("MPCONV_EXCLUDE");
	const char *timeout = getenv("MPCONV_TIMEOUT_MS"), *tfo = getenv("MPCONV_TFO");
	const char *debug = getenv("MPCONV_DEBUG");
	struct pre_conf c = { .timeout_ms = PRE_DEFAULT_TIMEOUT };
	char list[1024], *save = NULL, *item;

	real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	real_sendto = (ssize_t(*)(int, const void *, size_t, int, const struct sockaddr *,
				  socklen_t))dlsym(RTLD_NEXT, "sendto");
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	c.debug = debug && *debug && strcmp(debug, "0");
	c.tfo = tfo && *tfo && strcmp(tfo, "0");
	if (!conv || !*conv || !real_socket || !real_connect || !real_sendto || !real_close)
		goto done;
	snprintf(list, sizeof(list), "%s", conv);
	for (item = strtok_r(list, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
		if (!pre_parse_converter(item, &c)) {
			fprintf(stderr, "libmpconv: MPCONV_CONVERTER: cannot use '%s' (ADDR[:PORT], "
					"[IPV6][:PORT]): not converting\n",
				item);
			goto done;
		}
	}
	if (ex) {
		snprintf(list, sizeof(list), "%s", ex);
		for (item = strtok_r(list, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
			if (c.exclude_len == PRE_MAX_EXCLUDE ||
			    !pre_parse_prefix(item, &c.exclude[c.exclude_len])) {
				fprintf(stderr, "libmpconv: MPCONV_EXCLUDE: cannot use '%s' (at most "
						"%d prefixes): not converting\n",
					item, PRE_MAX_EXCLUDE);
				goto done;
			}
			c.exclude_len++;
		}
	}
	if (timeout) {
		long t = strtol(timeout, NULL, 10);

		if (t > 0 && t < 3600000)
			c.timeout_ms = (int)t;
	}
	c.on = c.has4 || c.has6;
done:
	pre_conf = c;
}

static void pre_ready(void)
{
	pthread_once(&pre_once, pre_init);
}

/* Destinations that are never converted: loopback, unspecified, link-local, the converters
 * themselves, MPCONV_EXCLUDE. */
static bool pre_excluded(const uint8_t ip[16])
{
	static const struct pre_prefix builtin[] = {
		{ { [10] = 0xff, [11] = 0xff, 127 }, 104 },	 /* 127.0.0.0/8 */
		{ { [10] = 0xff, [11] = 0xff, 0 }, 104 },	 /* 0.0.0.0/8 */
		{ { [10] = 0xff, [11] = 0xff, 169, 254 }, 112 }, /* link-local */
		{ { [15] = 1 }, 128 },				 /* ::1 */
		{ { 0 }, 128 },					 /* :: */
		{ { 0xfe, 0x80 }, 10 },				 /* fe80::/10 */
	};

	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (pre_in_prefix(ip, &builtin[i]))
			return true;
	if ((pre_conf.has4 && !memcmp(ip, pre_conf.conv_ip[0], 16)) ||
	    (pre_conf.has6 && !memcmp(ip, pre_conf.conv_ip[1], 16)))
		return true;
	for (size_t i = 0; i < pre_conf.exclude_len; i++)
		if (pre_in_prefix(ip, &pre_conf.exclude[i]))
			return true;
	return false;
}

static bool pre_take_fresh(int fd)
{
	return fd >= 0 && fd < PRE_MAX_FD && atomic_exchange(&pre_fresh[fd], 0);
}

static int64_t pre_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline. 0, or a positive errno (ETIMEDOUT). */
static int pre_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - pre_now_ms();
		int n;

		if (left <= 0)
			return ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return errno;
	}
}

/* Exactly len bytes of the reply: never one more, the server's data follows it. */
static int pre_read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	size_t have = 0;

	while (have < len) {
		ssize_t n = recv(fd, buf + have, len - have, MSG_DONTWAIT);
		int ret;

		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n == 0)
			return ECONNREFUSED; /* closed without a reply: a refusal */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return errno == ECONNRESET ? ECONNREFUSED : errno;
		ret = pre_wait(fd, POLLIN, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

static int pre_write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		int ret;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* EINPROGRESS: TFO could not put it in the SYN; the handshake is under way */
		if (n < 0 && errno != EAGAIN && errno != EINPROGRESS)
			return errno;
		ret = pre_wait(fd, POLLOUT, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The handshake, on the program's socket: connect to the converter, send the Convert message
 * (in the SYN with MPCONV_TFO), read and check the reply. The socket is non-blocking for the
 * time of it (whatever the program asked for) and bounded by MPCONV_TIMEOUT_MS. 0, or the
 * positive errno connect() should fail with.
 */
static int pre_convert(int fd, int family, const uint8_t dest[16], uint16_t port)
{
	int64_t deadline = pre_now_ms() + pre_conf.timeout_ms;
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };
	const struct sockaddr *conv;
	socklen_t conv_len;
	uint8_t req[64], reply[CONV_MAX_LEN];
	struct conv_writer w;
	struct conv_message msg;
	int flags, len, ret, err;
	socklen_t errlen = sizeof(err);

	if (family == AF_INET) {
		conv = (const struct sockaddr *)&pre_conf.conv4;
		conv_len = sizeof(pre_conf.conv4);
	} else if (pre_conf.has6) {
		conv = (const struct sockaddr *)&pre_conf.conv6;
		conv_len = sizeof(pre_conf.conv6);
	} else {
		/* an IPv6 socket reaches an IPv4 converter through its mapped address */
		memcpy(mapped.sin6_addr.s6_addr, pre_conf.conv_ip[0], 16);
		mapped.sin6_port = pre_conf.conv4.sin_port;
		conv = (const struct sockaddr *)&mapped;
		conv_len = sizeof(mapped);
	}
	conv_writer_begin(&w, req, sizeof(req));
	conv_put_connect(&w, port, dest, NULL, 0);
	len = conv_writer_finish(&w);
	if (len < 0)
		return EINVAL;
	flags = fcntl(fd, F_GETFL);
	if (flags == -1)
		return errno;
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return errno;
	if (pre_conf.tfo) {
		int one = 1;

		/* the Convert message rides in the SYN; a refusal just means no TFO */
		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) == 0)
			setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one));
	}
	ret = 0;
	if (real_connect(fd, conv, conv_len) == -1 && errno != EINPROGRESS)
		ret = errno;
	if (!ret && !pre_conf.tfo) {
		ret = pre_wait(fd, POLLOUT, deadline);
		if (!ret && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == 0 && err)
			ret = err;
	}
	if (!ret)
		ret = pre_write_all(fd, req, (size_t)len, deadline);
	if (!ret)
		ret = pre_read_exact(fd, reply, CONV_HDR_LEN, deadline);
	if (!ret && (reply[0] != CONV_VERSION || reply[1] == 0 || reply[2] != (CONV_MAGIC >> 8) ||
		     reply[3] != (CONV_MAGIC & 0xff)))
		ret = EPROTO;
	if (!ret)
		ret = pre_read_exact(fd, reply + CONV_HDR_LEN, (size_t)reply[1] * 4 - CONV_HDR_LEN,
				     deadline);
	if (!ret && conv_parse(reply, (size_t)reply[1] * 4, CONV_MAX_LEN, CONV_FROM_CONVERTER,
			       CONV_PARSE_EOF, &msg, NULL) < 0)
		ret = EPROTO;
	if (!ret && msg.has_error)
		ret = conv_error_errno(msg.error.code, msg.error.value, msg.error.value_len,
				       memcmp(dest, pre_mapped, 12) != 0);
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags) == -1 && !ret)
		ret = errno;
	if (ret)
		shutdown(fd, SHUT_RDWR); /* nothing of a failed attempt reaches the program */
	return ret;
}

static void pre_format(const uint8_t ip[16], uint16_t port, char *out, size_t cap)
{
	char text[INET6_ADDRSTRLEN];

	if (!memcmp(ip, pre_mapped, 12)) {
		inet_ntop(AF_INET, ip + 12, text, sizeof(text));
		snprintf(out, cap, "%s:%u", text, port);
	} else {
		inet_ntop(AF_INET6, ip, text, sizeof(text));
		snprintf(out, cap, "[%s]:%u", text, port);
	}
}

/* connect() of a fresh socket of ours: 1 = not ours to convert (run the real call), else 0 with
 * *err set (0 = converted). */
static int pre_connect(int fd, const struct sockaddr *sa, socklen_t len, int *err)
{
	uint8_t dest[16];
	uint16_t port;
	int family, type;
	socklen_t flen = sizeof(family);
	char where[INET6_ADDRSTRLEN + 8];

	if (!sa || conv_addr_from_sockaddr(sa, len, dest, &port) < 0 || pre_excluded(dest))
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &flen) == -1)
		return 1;
	/* still the stream socket we made (a stale flag must never convert anything else) */
	flen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &flen) == -1 || type != SOCK_STREAM)
		return 1;
	if (family == AF_INET && !pre_conf.has4)
		return 1; /* no IPv4 converter for an IPv4-only socket: left alone */
	*err = pre_convert(fd, family, dest, port);
	pre_format(dest, port, where, sizeof(where));
	pre_debug("fd %d to %s: %s", fd, where, *err ? strerror(*err) : "converted");
	return 0;
}

PRE_EXPORT int socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), fd;

	pre_ready();
	if (!real_socket) {
		errno = ENOSYS;
		return -1;
	}
	if (!pre_conf.on || (domain != AF_INET && domain != AF_INET6) || base != SOCK_STREAM ||
	    (protocol != 0 && protocol != IPPROTO_TCP)) {
		fd = real_socket(domain, type, protocol);
		/* a flag left by a socket closed behind our back (close_range, dup2) goes */
		if (fd >= 0 && fd < PRE_MAX_FD)
			atomic_store(&pre_fresh[fd], 0);
		return fd;
	}
	fd = real_socket(domain, type, IPPROTO_MPTCP);
	/* MPTCP compiled out or disabled (net.mptcp.enabled=0): plain TCP, still converted */
	if (fd == -1 && (errno == EPROTONOSUPPORT || errno == EINVAL || errno == ENOPROTOOPT))
		fd = real_socket(domain, type, protocol);
	if (fd >= 0 && fd < PRE_MAX_FD)
		atomic_store(&pre_fresh[fd], 1);
	return fd;
}

/*
 * Blocking socket: returns once the converter said yes (0) or no (-1, the mapped errno).
 * Non-blocking socket: the same handshake runs before returning (bounded by MPCONV_TIMEOUT_MS),
 * then -1/EINPROGRESS as the program expects; the socket is already connected, so its poll
 * or epoll reports it writable at once and SO_ERROR is 0. A refusal fails at once with its
 * errno, as a connect() may.
 */
PRE_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int err = 0, flags;

	pre_ready();
	if (!real_connect) {
		errno = ENOSYS;
		return -1;
	}
	if (!pre_take_fresh(fd) || pre_connect(fd, sa, len, &err))
		return real_connect(fd, sa, len);
	if (err) {
		errno = err;
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags != -1 && (flags & O_NONBLOCK)) {
		errno = EINPROGRESS;
		return -1;
	}
	return 0;
}

/* sendto(MSG_FASTOPEN) is connect + send: the handshake first, then the data. */
PRE_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa,
			  socklen_t len)
{
	int err = 0;

	pre_ready();
	if (!real_sendto) {
		errno = ENOSYS;
		return -1;
	}
	if (!(flags & MSG_FASTOPEN) || !sa || !pre_take_fresh(fd))
		return real_sendto(fd, buf, n, flags, sa, len);
	if (pre_connect(fd, sa, len, &err))
		return real_sendto(fd, buf, n, flags, sa, len);
	if (err) {
		errno = err;
		return -1;
	}
	return send(fd, buf, n, flags & ~MSG_FASTOPEN);
}

PRE_EXPORT int close(int fd)
{
	pre_ready();
	if (fd >= 0 && fd < PRE_MAX_FD)
		atomic_store(&pre_fresh[fd], 0);
	if (!real_close) {
		errno = ENOSYS;
		return -1;
	}
	return real_close(fd);
}
