// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tproxy_echo: drives src/kernel/intercept.c for real in the test bed. It installs the interception
 * (intercept_install), listens with IP_TRANSPARENT/IPV6_TRANSPARENT on [::]:PORT (MPTCP, plain
 * TCP when MPTCP is refused) and answers each diverted connection with one line
 *   orig=ADDR:PORT peer=ADDR:PORT
 * (getsockname, i.e. the original destination, and getpeername, the real LAN client), then
 * echoes. Each connection is also reported on stdout as "conn orig=... peer=...". On SIGTERM or
 * SIGINT it calls intercept_remove() and exits (status 1 when removal failed).
 * Unlike the other tools it links mpconv: the module under test is the point.
 */
#include "intercept.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mptcp_compat.h"

#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

#define MAX_CONNS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tproxy_echo --lan IF [--lan IF]... [--exclude PREFIX]... --port PORT\n"
		   "                   [--no-ipv6] [--fwmark M] [--table T]\n"
		   "                   [--print | --install | --remove]\n"
		   "Default: install, serve until SIGTERM, remove. --print shows the ruleset;\n"
		   "--install and --remove only do that and exit.\n");
}

/* "a.b.c.d:p" for IPv4 and IPv4-mapped, "[x::y]:p" for IPv6. */
static void fmt_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, sizeof(ip));
			snprintf(out, len, "%s:%u", ip, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
			snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
		}
	}
}

static int listen_transparent(uint16_t port, bool *mptcp)
{
	static const int protos[] = { IPPROTO_MPTCP, IPPROTO_TCP };
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int one = 1, zero = 0;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, protos[i]);

		if (fd == -1)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == -1 ||
		    setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) == -1 ||
		    setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) == -1 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 64) == -1) {
			fprintf(stderr, "tproxy_echo: %s listener on [::]:%u: %s\n",
				protos[i] == IPPROTO_MPTCP ? "MPTCP" : "TCP", port,
				strerror(errno));
			close(fd);
			continue;
		}
		*mptcp = protos[i] == IPPROTO_MPTCP;
		return fd;
	}
	return -1;
}

static void greet(int fd)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	char l[80] = "?", p[80] = "?", line[200];
	int n;

	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		fmt_addr(&local, l, sizeof(l));
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
		fmt_addr(&peer, p, sizeof(p));
	printf("conn orig=%s peer=%s\n", l, p);
	fflush(stdout);
	n = snprintf(line, sizeof(line), "orig=%s peer=%s\n", l, p);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		fprintf(stderr, "tproxy_echo: greeting: %s\n", strerror(errno));
}

/* One read, echoed back; false when the connection is done. */
static bool echo_once(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

		if (w == -1)
			return false;
		off += w;
	}
	return true;
}

static int serve(int lfd)
{
	struct pollfd pfd[1 + MAX_CONNS];
	size_t nconn = 0;
	sigset_t none;

	sigemptyset(&none);
	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	while (!stop) {
		int ready = ppoll(pfd, 1 + nconn, NULL, &none);

		if (ready == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "tproxy_echo: poll: %s\n", strerror(errno));
			return -1;
		}
		for (size_t i = 1; i <= nconn;) {
			if (pfd[i].revents && !echo_once(pfd[i].fd)) {
				close(pfd[i].fd);
				pfd[i] = pfd[nconn--];
				continue;
			}
			i++;
		}
		if (pfd[0].revents & POLLIN) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (cfd == -1)
				continue;
			if (nconn == MAX_CONNS) {
				close(cfd);
				continue;
			}
			greet(cfd);
			pfd[++nconn] = (struct pollfd){ .fd = cfd, .events = POLLIN };
		}
	}
	for (size_t i = 1; i <= nconn; i++)
		close(pfd[i].fd);
	return 0;
}

enum {
	OPT_LAN = 256,
	OPT_EXCLUDE,
	OPT_PORT,
	OPT_NO_IPV6,
	OPT_FWMARK,
	OPT_TABLE,
	OPT_PRINT,
	OPT_INSTALL,
	OPT_REMOVE
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lan", required_argument, NULL, OPT_LAN },
		{ "exclude", required_argument, NULL, OPT_EXCLUDE },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "no-ipv6", no_argument, NULL, OPT_NO_IPV6 },
		{ "fwmark", required_argument, NULL, OPT_FWMARK },
		{ "table", required_argument, NULL, OPT_TABLE },
		{ "print", no_argument, NULL, OPT_PRINT },
		{ "install", no_argument, NULL, OPT_INSTALL },
		{ "remove", no_argument, NULL, OPT_REMOVE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct intercept_config cfg = { .ipv6 = true };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;
	char err[512], text[8192];
	int opt, mode = 0, lfd, ret, rc = 0;
	bool mptcp = false;
	unsigned long v;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_LAN:
			if (cfg.lan_len == INTERCEPT_MAX_LAN) {
				fprintf(stderr, "tproxy_echo: too many --lan\n");
				return 2;
			}
			cfg.lan_ifaces[cfg.lan_len++] = optarg;
			break;
		case OPT_EXCLUDE:
			if (cfg.exclude_len == INTERCEPT_MAX_EXCLUDE ||
			    !acl_parse_prefix(optarg, &cfg.exclude[cfg.exclude_len])) {
				fprintf(stderr, "tproxy_echo: bad or too many --exclude '%s'\n",
					optarg);
				return 2;
			}
			cfg.exclude_len++;
			break;
		case OPT_PORT:
		case OPT_FWMARK:
		case OPT_TABLE:
			errno = 0;
			v = strtoul(optarg, NULL, 0);
			if (errno || v > (opt == OPT_PORT ? 65535UL : 0xffffffffUL)) {
				fprintf(stderr, "tproxy_echo: bad number '%s'\n", optarg);
				return 2;
			}
			if (opt == OPT_PORT)
				cfg.port = (uint16_t)v;
			else if (opt == OPT_FWMARK)
				cfg.fwmark = (uint32_t)v;
			else
				cfg.table = (uint32_t)v;
			break;
		case OPT_NO_IPV6:
			cfg.ipv6 = false;
			break;
		case OPT_PRINT:
		case OPT_INSTALL:
		case OPT_REMOVE:
			mode = opt;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || cfg.lan_len == 0 || cfg.port == 0) {
		usage(stderr);
		return 2;
	}

	if (mode == OPT_PRINT) {
		ret = intercept_render(&cfg, text, sizeof(text));
		if (ret < 0) {
			fprintf(stderr, "tproxy_echo: render: %s\n", strerror(-ret));
			return 1;
		}
		fputs(text, stdout);
		return 0;
	}
	if (mode == OPT_REMOVE) {
		ret = intercept_remove(&cfg, err, sizeof(err));
		if (ret)
			fprintf(stderr, "tproxy_echo: remove: %s (%s)\n", err, strerror(-ret));
		return ret ? 1 : 0;
	}

	/* block the signals before installing, so a TERM at any point still leads to removal */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	ret = intercept_install(&cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "tproxy_echo: install: %s (%s)\n", err, strerror(-ret));
		return 1;
	}
	if (mode == OPT_INSTALL)
		return 0;

	lfd = listen_transparent(cfg.port, &mptcp);
	if (lfd == -1) {
		rc = 1;
	} else {
		printf("ready port=%u mptcp=%d\n", cfg.port, mptcp);
		fflush(stdout);
		if (serve(lfd))
			rc = 1;
		close(lfd);
	}
	ret = intercept_remove(&cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "tproxy_echo: remove: %s (%s)\n", err, strerror(-ret));
		rc = 1;
	} else {
		printf("removed\n");
	}
	return rc;
}
