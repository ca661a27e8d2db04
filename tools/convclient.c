// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * convclient: an RFC 8803 client for tests and probes. Sends a Convert message (in the SYN with
 * TFO, or after the handshake), reads and reports the converter's reply on stderr as one
 * key=value line, then relays stdin -> connection and connection -> stdout until both end.
 * It never retries and never hides an error: the exit code tells what happened.
 *   exit 0: converted and relayed; 3: converter sent an Error TLV; 1: anything else.
 */
#include "addr.h"
#include "convert.h"
#include "sock.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct client_opts {
	struct addr_port converter, dest;
	bool has_dest, tfo, tcp, info, relay, keep_open;
	const char *early, *raw_hex, *cookie_hex;
	int timeout_ms;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: convclient [options] CONVERTER_ADDR:PORT [DEST_ADDR:PORT]\n"
		"  --tfo            put the request in the SYN (TCP Fast Open, no cookie)\n"
		"  --tcp            plain TCP instead of MPTCP\n"
		"  --info           add an Info TLV (alone when no destination is given)\n"
		"  --cookie HEX     add a Cookie TLV with these bytes\n"
		"  --early TEXT     application bytes sent right after the request\n"
		"  --raw HEX        send these bytes as the request instead of encoding one\n"
		"  --no-relay       stop after the reply\n"
		"  --keep-open      do not half-close when stdin ends; wait for the server to close\n"
		"  --timeout MS     reply timeout (default 10000)\n"
		"stderr gets one line: result=converted|error|closed ...; stdout gets relayed data.\n");
}

static int hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		if (n == cap || sscanf(hex, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
	}
	return hex[0] ? -1 : (int)n;
}

static int build_request(const struct client_opts *o, uint8_t *buf, size_t cap)
{
	struct conv_writer w;
	uint8_t cookie[256];
	int cookie_len = 0;

	if (o->raw_hex)
		return hex_decode(o->raw_hex, buf, cap);
	if (o->cookie_hex && (cookie_len = hex_decode(o->cookie_hex, cookie, sizeof(cookie))) < 0)
		return -1;
	conv_writer_begin(&w, buf, cap);
	if (o->info || !o->has_dest)
		conv_put_info(&w);
	if (o->has_dest)
		conv_put_connect(&w, o->dest.port, o->dest.ip, NULL, 0);
	if (o->cookie_hex)
		conv_put_cookie(&w, cookie, (size_t)cookie_len);
	return conv_writer_finish(&w);
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, timeout_ms);

	return n < 0 ? -errno : n == 0 ? -ETIMEDOUT : 0;
}

/* Reads exactly len bytes (the reply's length is known from its header). */
static int read_exact(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
	size_t have = 0;

	while (have < len) {
		ssize_t n;
		int ret = wait_fd(fd, POLLIN, timeout_ms);

		if (ret < 0)
			return ret;
		n = recv(fd, buf + have, len - have, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		have += (size_t)n;
	}
	return 0;
}

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", p[i]);
}

/* Prints the reply line; returns 0 (converted), 3 (Error TLV) or 1 (bad reply). */
static int report_reply(const uint8_t *buf, size_t len, int fd)
{
	struct conv_message msg;
	struct conv_parse_error perr;
	int ret = conv_parse(buf, len, CONV_MAX_LEN, CONV_FROM_CONVERTER, CONV_PARSE_EOF, &msg,
			     &perr);
	int mptcp = sock_is_mptcp(fd);

	if (ret < 0) {
		fprintf(stderr, "result=bad-reply reason=\"%s\" bytes=", perr.reason);
		print_hex(buf, len);
		fputc('\n', stderr);
		return 1;
	}
	if (msg.has_error) {
		fprintf(stderr, "result=error code=%u name=\"%s\" value=", msg.error.code,
			conv_error_name(msg.error.code));
		print_hex(msg.error.value, msg.error.value_len);
		if (msg.has_cookie) {
			fprintf(stderr, " cookie=");
			print_hex(msg.cookie, msg.cookie_len);
		}
		fprintf(stderr, " mptcp=%d\n", mptcp);
		return 3;
	}
	fprintf(stderr, "result=converted reply_len=%zu ext_tcp_header=%d", len,
		msg.has_ext_tcp_header);
	if (msg.has_ext_tcp_header) {
		bool server_mptcp = false;

		/* Options follow a 20-byte TCP header in our converter's form; scan for kind 30. */
		for (size_t i = 20; i + 1 < msg.ext_tcp_header_len;) {
			uint8_t kind = msg.ext_tcp_header[i];

			if (kind == 0)
				break;
			if (kind == 1) {
				i++;
				continue;
			}
			if (kind == 30)
				server_mptcp = true;
			if (msg.ext_tcp_header[i + 1] < 2)
				break;
			i += msg.ext_tcp_header[i + 1];
		}
		fprintf(stderr, " server_mptcp=%d", server_mptcp);
	}
	if (msg.has_supported_ext) {
		fprintf(stderr, " supported_ext=");
		for (size_t i = 0; i < msg.supported_ext_len; i++)
			fprintf(stderr, "%s%u", i ? "," : "", msg.supported_ext[i]);
	}
	/* the reply itself, so tests can hold it against other clients' parsers */
	fprintf(stderr, " reply=");
	print_hex(buf, (size_t)ret);
	fprintf(stderr, " mptcp=%d\n", mptcp);
	return 0;
}

/* stdin -> fd, fd -> stdout, half-closes preserved; returns 0 or 1. */
static int relay_stdio(int fd, bool keep_open)
{
	struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	static uint8_t buf[65536];
	bool in_open = true, net_open = true;

	while (net_open) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (in_open && p[0].revents) {
			ssize_t n = read(0, buf, sizeof(buf));

			if (n <= 0) {
				in_open = false;
				p[0].fd = -1;
				if (!keep_open)
					shutdown(fd, SHUT_WR);
			} else {
				for (ssize_t off = 0; off < n;) {
					ssize_t m = send(fd, buf + off, (size_t)(n - off),
							 MSG_NOSIGNAL);

					if (m < 0) {
						perror("convclient: send");
						return 1;
					}
					off += m;
				}
			}
		}
		if (p[1].revents) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n < 0) {
				perror("convclient: recv");
				return 1;
			}
			if (n == 0) {
				net_open = false;
				break;
			}
			for (ssize_t off = 0; off < n;) {
				ssize_t m = write(1, buf + off, (size_t)(n - off));

				if (m < 0) {
					perror("convclient: write");
					return 1;
				}
				off += m;
			}
		}
	}
	return 0;
}

static int run(const struct client_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t ss_len = addr_to_sockaddr(&o->converter, &ss);
	uint8_t req[CONV_MAX_LEN + 4096], reply[CONV_MAX_LEN];
	size_t early_len = o->early ? strlen(o->early) : 0;
	int req_len = build_request(o, req, sizeof(req) - 4096);
	int fd, ret = 1;
	size_t total;

	if (req_len < 0) {
		fprintf(stderr, "convclient: cannot build the request (bad --raw/--cookie hex?)\n");
		return 1;
	}
	if (early_len > 4096) {
		fprintf(stderr, "convclient: --early longer than 4096 bytes\n");
		return 1;
	}
	memcpy(req + req_len, o->early ? o->early : "", early_len);
	total = (size_t)req_len + early_len;

	fd = socket(ss.ss_family, SOCK_STREAM, o->tcp ? IPPROTO_TCP : IPPROTO_MPTCP);
	if (fd < 0) {
		perror("convclient: socket");
		return 1;
	}
	if (o->tfo) {
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one));
		if (sendto(fd, req, total, MSG_FASTOPEN | MSG_NOSIGNAL, (struct sockaddr *)&ss,
			   ss_len) != (ssize_t)total) {
			perror("convclient: sendto(MSG_FASTOPEN)");
			goto out;
		}
	} else {
		if (connect(fd, (struct sockaddr *)&ss, ss_len) < 0) {
			perror("convclient: connect");
			goto out;
		}
		if (send(fd, req, total, MSG_NOSIGNAL) != (ssize_t)total) {
			perror("convclient: send");
			goto out;
		}
	}

	/* Reply: the header first, then the rest of what its Total Length announces. */
	ret = read_exact(fd, reply, CONV_HDR_LEN, o->timeout_ms);
	if (ret == -ECONNRESET) {
		fprintf(stderr, "result=closed mptcp=%d\n", sock_is_mptcp(fd));
		ret = 1;
		goto out;
	}
	if (ret == 0 && reply[1] * 4 > CONV_HDR_LEN)
		ret = read_exact(fd, reply + CONV_HDR_LEN, (size_t)reply[1] * 4 - CONV_HDR_LEN,
				 o->timeout_ms);
	if (ret < 0) {
		fprintf(stderr, "result=no-reply reason=\"%s\"\n", strerror(-ret));
		ret = 1;
		goto out;
	}
	ret = report_reply(reply, reply[1] ? (size_t)reply[1] * 4 : CONV_HDR_LEN, fd);
	if (ret == 0 && o->relay && o->has_dest)
		ret = relay_stdio(fd, o->keep_open);
out:
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tfo", no_argument, NULL, 't' },
		{ "tcp", no_argument, NULL, 'T' },
		{ "info", no_argument, NULL, 'i' },
		{ "cookie", required_argument, NULL, 'c' },
		{ "early", required_argument, NULL, 'e' },
		{ "raw", required_argument, NULL, 'r' },
		{ "no-relay", no_argument, NULL, 'n' },
		{ "keep-open", no_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts o = { .relay = true, .timeout_ms = 10000 };
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o.tfo = true;
			break;
		case 'T':
			o.tcp = true;
			break;
		case 'i':
			o.info = true;
			break;
		case 'c':
			o.cookie_hex = optarg;
			break;
		case 'e':
			o.early = optarg;
			break;
		case 'r':
			o.raw_hex = optarg;
			break;
		case 'n':
			o.relay = false;
			break;
		case 'k':
			o.keep_open = true;
			break;
		case 'w':
			o.timeout_ms = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind >= argc || !addr_parse(argv[optind], -1, &o.converter)) {
		fprintf(stderr, "convclient: need CONVERTER_ADDR:PORT, got '%s'\n",
			optind < argc ? argv[optind] : "");
		return 1;
	}
	if (optind + 1 < argc) {
		if (!addr_parse(argv[optind + 1], -1, &o.dest)) {
			fprintf(stderr, "convclient: bad destination '%s'\n", argv[optind + 1]);
			return 1;
		}
		o.has_dest = true;
	}
	return run(&o);
}
