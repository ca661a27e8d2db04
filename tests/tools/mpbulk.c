// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mpbulk: a tiny MPTCP bulk-transfer tool for the test bed (iperf3 3.12 has no MPTCP).
 * The client connects (IPPROTO_MPTCP unless --tcp), says in a 32-byte header which way the data
 * goes, then one side sends a deterministic byte pattern and the other verifies it byte for byte.
 * The receiver answers with a 16-byte trailer (bytes seen, verified), so both sides can report
 * the same outcome. Each side prints one line:
 *   bytes=N seconds=S mbps=M mptcp=0|1 subflows=K verified=0|1 role=... dir=... cc=...
 *   subflows_max=K max_gap_ms=G paths=LOCAL>REMOTE=BYTES,...
 * (max_gap_ms: the receiver's longest wait between two reads once data flows, e.g. a failover
 * stall)
 * and exits non-zero on any error or content mismatch. It never forks and serves one
 * connection at a time; it is a measuring stick, not a server.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/socket.h>

#include "mptcp_compat.h"

#define BUF_SIZE     (256 * 1024)
#define MAX_SUBFLOWS 16
#define DEFAULT_PORT 5201
#define HDR_MAGIC    0x4d5042554c4b3031ULL /* "MPBULK01" */
#define END_MAGIC    0x4d50424b454e4430ULL /* "MPBKEND0" */

enum { MODE_UPLOAD = 0, MODE_DOWNLOAD = 1 };

/* Client -> server, network byte order. bytes = 0 and duration_ms = 0 means "until EOF". */
struct bulk_hdr {
	uint64_t magic;
	uint32_t mode;
	uint32_t seed;
	uint64_t bytes;
	uint64_t duration_ms;
};

/* Receiver -> sender once the sender's EOF arrived, network byte order. */
struct bulk_end {
	uint64_t magic;
	uint64_t bytes_verified; /* bytes received; top bit set on a content mismatch */
};

struct report {
	const char *role;
	bool sender;
	uint64_t bytes;
	double seconds;
	bool mptcp;
	int subflows;
	int subflows_max;
	bool verified;
	double max_gap; /* receiver: longest time between two reads with data, s */
	char cc[16];
	char paths[1024];
	struct sockaddr_storage local,
		remote; /* taken at connect: a closed TCP socket forgets them */
};

struct options {
	bool tcp, once, download, v6;
	uint64_t bytes;
	double seconds;
	double timeout;
	const char *bind_addr;
	const char *port;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pattern: byte i is byte (i % 8) of mix(seed, i / 8), little-endian. Never periodic. */
static uint64_t mix(uint64_t seed, uint64_t k)
{
	uint64_t z = k * 0x9e3779b97f4a7c15ULL + seed;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void pattern_fill(uint8_t *buf, uint64_t seed, uint64_t off, size_t n)
{
	while (n) {
		uint64_t w = mix(seed, off >> 3);
		unsigned int start = (unsigned int)(off & 7);

		for (unsigned int b = start; b < 8 && n; b++, n--, off++)
			*buf++ = (uint8_t)(w >> (8 * b));
	}
}

static bool set_timeouts(int fd, double seconds)
{
	struct timeval tv = {
		.tv_sec = (time_t)seconds,
		.tv_usec = (suseconds_t)((seconds - floor(seconds)) * 1e6),
	};

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0;
}

static const char *errstr(int err)
{
	return err == EAGAIN ? "stalled (no progress before --timeout)" : strerror(err);
}

/* Writes all of buf; returns 0 or -errno. */
static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly n bytes; returns 0, -EPIPE on an early EOF, or -errno. */
static int read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = recv(fd, p, n, 0);

		if (r == 0)
			return -EPIPE;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const void *a = ss->ss_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, a, out, (socklen_t)len))
		snprintf(out, len, "?");
}

/* Number of subflows now (initial one included), or 1 on plain TCP, -1 on error. */
static int count_subflows(int fd, bool mptcp)
{
	struct mpc_mptcp_info info;
	socklen_t len = sizeof(info);

	if (!mptcp)
		return 1;
	memset(&info, 0, sizeof(info));
	if (getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len) == -1)
		return -1;
	return info.subflows + 1;
}

/* Fills r->paths with "local>remote=bytes" for each subflow (bytes acked or received). */
static void describe_paths(int fd, struct report *r)
{
	struct {
		struct mpc_subflow_data d;
		struct tcp_info ti[MAX_SUBFLOWS];
	} tinfo;
	struct {
		struct mpc_subflow_data d;
		struct mpc_subflow_addrs a[MAX_SUBFLOWS];
	} addrs;
	socklen_t tlen = sizeof(tinfo), alen = sizeof(addrs);
	size_t used = 0;
	uint32_t n;

	r->paths[0] = '\0';
	if (!r->mptcp) {
		struct tcp_info ti;
		socklen_t l = sizeof(ti);
		char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];

		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == -1)
			return;
		format_addr(&r->local, la, sizeof(la));
		format_addr(&r->remote, ra, sizeof(ra));
		snprintf(r->paths, sizeof(r->paths), "%s>%s=%" PRIu64, la, ra,
			 (uint64_t)(r->sender ? ti.tcpi_bytes_acked : ti.tcpi_bytes_received));
		return;
	}
	memset(&tinfo, 0, sizeof(tinfo));
	memset(&addrs, 0, sizeof(addrs));
	tinfo.d.size_subflow_data = sizeof(tinfo.d);
	tinfo.d.size_user = sizeof(tinfo.ti[0]);
	addrs.d.size_subflow_data = sizeof(addrs.d);
	addrs.d.size_user = sizeof(addrs.a[0]);
	if (getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, &tinfo, &tlen) == -1 ||
	    getsockopt(fd, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, &addrs, &alen) == -1)
		return;
	n = tinfo.d.num_subflows < addrs.d.num_subflows ? tinfo.d.num_subflows
							: addrs.d.num_subflows;
	if (n > MAX_SUBFLOWS)
		n = MAX_SUBFLOWS;
	for (uint32_t i = 0; i < n && used < sizeof(r->paths); i++) {
		char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
		uint64_t b =
			r->sender ? tinfo.ti[i].tcpi_bytes_acked : tinfo.ti[i].tcpi_bytes_received;
		int w;

		format_addr(&addrs.a[i].local, la, sizeof(la));
		format_addr(&addrs.a[i].remote, ra, sizeof(ra));
		w = snprintf(r->paths + used, sizeof(r->paths) - used, "%s%s>%s=%" PRIu64,
			     i ? "," : "", la, ra, b);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* Records what the transfer ran on: MPTCP or not, congestion control, subflows and paths. */
static void final_sample(int fd, struct report *r)
{
	socklen_t len = sizeof(r->cc) - 1;
	int n = count_subflows(fd, r->mptcp);

	r->subflows = n;
	if (n > r->subflows_max)
		r->subflows_max = n;
	memset(r->cc, 0, sizeof(r->cc));
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, r->cc, &len) == -1)
		snprintf(r->cc, sizeof(r->cc), "?");
	describe_paths(fd, r);
}

static void print_report(const struct report *r)
{
	double mbps = r->seconds > 0 ? (double)r->bytes * 8 / r->seconds / 1e6 : 0;

	printf("bytes=%" PRIu64 " seconds=%.3f mbps=%.2f mptcp=%d subflows=%d verified=%d "
	       "role=%s dir=%s cc=%s subflows_max=%d max_gap_ms=%.0f paths=%s\n",
	       r->bytes, r->seconds, mbps, r->mptcp, r->subflows, r->verified, r->role,
	       r->sender ? "send" : "recv", r->cc, r->subflows_max, r->max_gap * 1000,
	       r->paths[0] ? r->paths : "-");
	fflush(stdout);
}

static bool is_mptcp(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &v, &len) == 0 && v == 1;
}

/* Notes what the connection is: MPTCP or not, and its addresses. */
static void note_connection(int fd, struct report *r)
{
	socklen_t l1 = sizeof(r->local), l2 = sizeof(r->remote);

	r->mptcp = is_mptcp(fd);
	if (getsockname(fd, (struct sockaddr *)&r->local, &l1) == -1)
		r->local.ss_family = AF_UNSPEC;
	if (getpeername(fd, (struct sockaddr *)&r->remote, &l2) == -1)
		r->remote.ss_family = AF_UNSPEC;
}

/*
 * Sends the pattern until `limit` bytes (0 = no limit) or `duration` seconds (0 = none), then
 * half-closes and waits for the receiver's trailer. Returns 0 when the receiver verified all.
 */
static int run_sender(int fd, uint32_t seed, uint64_t limit, double duration, struct report *r)
{
	static uint8_t buf[BUF_SIZE];
	struct bulk_end end;
	double t0 = now_s(), deadline = duration > 0 ? t0 + duration : 0, next_sample = t0 + 0.5;
	uint64_t got;
	int err;

	r->sender = true;
	while (!limit || r->bytes < limit) {
		size_t n = BUF_SIZE;
		double t = now_s();

		if (deadline && t >= deadline)
			break;
		if (t >= next_sample) {
			int sf = count_subflows(fd, r->mptcp);

			if (sf > r->subflows_max)
				r->subflows_max = sf;
			next_sample = t + 0.5;
		}
		if (limit && limit - r->bytes < n)
			n = (size_t)(limit - r->bytes);
		pattern_fill(buf, seed, r->bytes, n);
		err = write_all(fd, buf, n);
		if (err) {
			fprintf(stderr, "mpbulk: send after %" PRIu64 " bytes: %s\n", r->bytes,
				errstr(-err));
			return -1;
		}
		r->bytes += n;
	}
	if (shutdown(fd, SHUT_WR) == -1) {
		fprintf(stderr, "mpbulk: shutdown: %s\n", strerror(errno));
		return -1;
	}
	err = read_all(fd, &end, sizeof(end));
	r->seconds = now_s() - t0;
	final_sample(fd, r);
	if (err) {
		fprintf(stderr, "mpbulk: no result from the receiver: %s\n",
			err == -EPIPE ? "connection closed" : errstr(-err));
		return -1;
	}
	if (be64toh(end.magic) != END_MAGIC) {
		fprintf(stderr, "mpbulk: bad result message from the receiver\n");
		return -1;
	}
	got = be64toh(end.bytes_verified);
	r->verified = !(got >> 63) && got == r->bytes;
	if (!r->verified) {
		fprintf(stderr, "mpbulk: receiver got %" PRIu64 " of %" PRIu64 " bytes%s\n",
			(uint64_t)(got & ~(1ULL << 63)), r->bytes,
			got >> 63 ? ", content mismatch" : "");
		return -1;
	}
	return 0;
}

/* Reads and verifies the pattern until EOF, then sends the trailer. 0 when all matched. */
static int run_receiver(int fd, uint32_t seed, struct report *r)
{
	static uint8_t buf[BUF_SIZE], want[BUF_SIZE];
	struct bulk_end end;
	double t0 = now_s(), next_sample = t0 + 0.5, last_data = 0;
	bool mismatch = false;
	int err;

	r->sender = false;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		double t;

		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mpbulk: recv after %" PRIu64 " bytes: %s\n", r->bytes,
				errstr(errno));
			return -1;
		}
		if (!mismatch) {
			pattern_fill(want, seed, r->bytes, (size_t)n);
			if (memcmp(buf, want, (size_t)n) != 0) {
				ssize_t i = 0;

				while (buf[i] == want[i])
					i++;
				fprintf(stderr,
					"mpbulk: content mismatch at byte %" PRIu64
					": got 0x%02x, want 0x%02x\n",
					r->bytes + (uint64_t)i, buf[i], want[i]);
				mismatch = true;
			}
		}
		r->bytes += (uint64_t)n;
		t = now_s();
		/* the longest wait for data once it flows: a failover stall */
		if (last_data > 0 && t - last_data > r->max_gap)
			r->max_gap = t - last_data;
		last_data = t;
		if (t >= next_sample) {
			int sf = count_subflows(fd, r->mptcp);

			if (sf > r->subflows_max)
				r->subflows_max = sf;
			next_sample = t + 0.5;
		}
	}
	r->seconds = now_s() - t0;
	final_sample(fd, r);
	r->verified = !mismatch;
	end.magic = htobe64(END_MAGIC);
	end.bytes_verified = htobe64(r->bytes | (mismatch ? 1ULL << 63 : 0));
	err = write_all(fd, &end, sizeof(end));
	if (err) {
		fprintf(stderr, "mpbulk: sending the result: %s\n", errstr(-err));
		return -1;
	}
	return mismatch ? -1 : 0;
}

static int open_stream(int family, const struct options *o)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, o->tcp ? IPPROTO_TCP : IPPROTO_MPTCP);

	if (fd == -1) {
		if (!o->tcp &&
		    (errno == EPROTONOSUPPORT || errno == EINVAL || errno == ENOPROTOOPT))
			fprintf(stderr,
				"mpbulk: MPTCP sockets unavailable here (%s); "
				"net.mptcp.enabled=0? use --tcp for plain TCP\n",
				strerror(errno));
		else
			fprintf(stderr, "mpbulk: socket: %s\n", strerror(errno));
	}
	return fd;
}

/* Parses a numeric address (and port) into ss; returns the family or -1. */
static int parse_sockaddr(const char *host, const char *port, int family,
			  struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints =
				{
					.ai_family = family,
					.ai_socktype = SOCK_STREAM,
					.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				},
			*res;
	int rc = getaddrinfo(host, port, &hints, &res);

	if (rc) {
		fprintf(stderr, "mpbulk: bad address '%s' port '%s': %s\n", host ? host : "*", port,
			gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	rc = res->ai_family;
	freeaddrinfo(res);
	return rc;
}

static int serve_one(int fd, const struct options *o)
{
	struct report r = { .role = "server", .verified = false };
	struct bulk_hdr h;
	int err;

	note_connection(fd, &r);
	if (!set_timeouts(fd, o->timeout)) {
		fprintf(stderr, "mpbulk: socket timeouts: %s\n", strerror(errno));
		return -1;
	}
	err = read_all(fd, &h, sizeof(h));
	if (err || be64toh(h.magic) != HDR_MAGIC) {
		fprintf(stderr, "mpbulk: no valid request header (%s)\n",
			err ? errstr(-err) : "bad magic");
		return -1;
	}
	if (ntohl(h.mode) == MODE_DOWNLOAD)
		err = run_sender(fd, ntohl(h.seed), be64toh(h.bytes),
				 (double)be64toh(h.duration_ms) / 1000.0, &r);
	else
		err = run_receiver(fd, ntohl(h.seed), &r);
	print_report(&r);
	return err;
}

static int cmd_server(const struct options *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family = o->v6 ? AF_INET6 : AF_INET;
	int lfd, one = 1, zero = 0, ret = 1;

	if (parse_sockaddr(o->bind_addr, o->port, family, &ss, &len) == -1)
		return 2;
	lfd = open_stream(family, o);
	if (lfd == -1)
		return 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(lfd, (struct sockaddr *)&ss, len) == -1 || listen(lfd, 16) == -1) {
		fprintf(stderr, "mpbulk: listen on port %s: %s\n", o->port, strerror(errno));
		goto out;
	}
	fprintf(stderr, "mpbulk: listening on %s port %s (%s)\n",
		o->bind_addr ? o->bind_addr : (o->v6 ? "::" : "0.0.0.0"), o->port,
		o->tcp ? "tcp" : "mptcp");
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		int err;

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "mpbulk: accept: %s\n", strerror(errno));
			goto out;
		}
		err = serve_one(fd, o);
		close(fd);
		if (o->once) {
			ret = err ? 1 : 0;
			goto out;
		}
	}
out:
	close(lfd);
	return ret;
}

static int cmd_client(const char *host, const struct options *o)
{
	struct report r = { .role = "client" };
	struct sockaddr_storage dst, src;
	socklen_t dlen, slen;
	struct bulk_hdr h;
	uint32_t seed;
	int family, fd, err, ret = 1;

	family = parse_sockaddr(host, o->port, AF_UNSPEC, &dst, &dlen);
	if (family == -1)
		return 2;
	if (o->bind_addr && parse_sockaddr(o->bind_addr, "0", family, &src, &slen) == -1)
		return 2;
	fd = open_stream(family, o);
	if (fd == -1)
		return 1;
	if (!set_timeouts(fd, o->timeout)) {
		fprintf(stderr, "mpbulk: socket timeouts: %s\n", strerror(errno));
		goto out;
	}
	if (o->bind_addr && bind(fd, (struct sockaddr *)&src, slen) == -1) {
		fprintf(stderr, "mpbulk: bind %s: %s\n", o->bind_addr, strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&dst, dlen) == -1) {
		fprintf(stderr, "mpbulk: connect %s port %s: %s\n", host, o->port, errstr(errno));
		goto out;
	}
	note_connection(fd, &r);
	seed = (uint32_t)(now_s() * 1e6) ^ (uint32_t)getpid();
	h.magic = htobe64(HDR_MAGIC);
	h.mode = htonl(o->download ? MODE_DOWNLOAD : MODE_UPLOAD);
	h.seed = htonl(seed);
	h.bytes = htobe64(o->bytes);
	h.duration_ms = htobe64(o->bytes ? 0 : (uint64_t)llround(o->seconds * 1000));
	err = write_all(fd, &h, sizeof(h));
	if (err) {
		fprintf(stderr, "mpbulk: sending the request: %s\n", errstr(-err));
		goto out;
	}
	if (o->download)
		err = run_receiver(fd, seed, &r);
	else
		err = run_sender(fd, seed, o->bytes, o->bytes ? 0 : o->seconds, &r);
	print_report(&r);
	ret = err ? 1 : 0;
out:
	close(fd);
	return ret;
}

/* Parses N with an optional K/M/G suffix (powers of 1000; Ki/Mi/Gi for powers of 1024). */
static bool parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (*s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (*end) {
		static const char units[] = "kmg";
		const char *u = strchr(units, *end | 0x20);
		bool bin = end[1] == 'i';

		if (!u || end[1 + bin] != '\0')
			return false;
		for (long i = 0; i <= u - units; i++)
			mult *= bin ? 1024 : 1000;
	}
	if (v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return *out > 0;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 86400)
		return false;
	*out = v;
	return true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mpbulk server [-4|-6] [-p PORT] [-b ADDR] [--tcp] [--once] [--timeout S]\n"
		"       mpbulk client HOST PORT [--bytes N | --seconds S] [--download] [--tcp]\n"
		"                     [--bind ADDR] [--timeout S]\n"
		"Sends a verified byte pattern over MPTCP (plain TCP with --tcp) and prints one line:\n"
		"  bytes=N seconds=S mbps=M mptcp=0|1 subflows=K verified=0|1 role=R dir=send|recv\n"
		"  cc=ALGO subflows_max=K paths=LOCAL>REMOTE=BYTES,...\n"
		"The client uploads unless --download. Default: --seconds 5, port %d.\n"
		"--bytes takes K/M/G (x1000) or Ki/Mi/Gi (x1024) suffixes. --timeout (default 30 s)\n"
		"fails the transfer when no byte moves for that long.\n",
		DEFAULT_PORT);
}

enum { OPT_TCP = 256, OPT_ONCE, OPT_BYTES, OPT_SECONDS, OPT_DOWNLOAD, OPT_BIND, OPT_TIMEOUT };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tcp", no_argument, NULL, OPT_TCP },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "bytes", required_argument, NULL, OPT_BYTES },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "download", no_argument, NULL, OPT_DOWNLOAD },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char port_buf[16];
	struct options o = { .seconds = 5, .timeout = 30 };
	const char *cmd;
	bool server;
	int opt, li = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	if (strcmp(cmd, "server") && strcmp(cmd, "client")) {
		fprintf(stderr, "mpbulk: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	server = !strcmp(cmd, "server");
	snprintf(port_buf, sizeof(port_buf), "%d", DEFAULT_PORT);
	o.port = port_buf;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "46p:b:h", longopts, &li)) != -1) {
		bool okay = true;

		switch (opt) {
		case '4':
			o.v6 = false;
			break;
		case '6':
			o.v6 = true;
			break;
		case 'p':
			o.port = optarg;
			break;
		case 'b':
		case OPT_BIND:
			o.bind_addr = optarg;
			break;
		case OPT_TCP:
			o.tcp = true;
			break;
		case OPT_ONCE:
			o.once = true;
			break;
		case OPT_BYTES:
			okay = parse_bytes(optarg, &o.bytes);
			break;
		case OPT_SECONDS:
			okay = parse_seconds(optarg, &o.seconds);
			o.bytes = 0;
			break;
		case OPT_DOWNLOAD:
			o.download = true;
			break;
		case OPT_TIMEOUT:
			okay = parse_seconds(optarg, &o.timeout);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!okay) {
			fprintf(stderr, "mpbulk: invalid value '%s' for --%s\n", optarg,
				longopts[li].name);
			return 2;
		}
		li = 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (server) {
		if (optind != argc) {
			fprintf(stderr, "mpbulk: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		return cmd_server(&o);
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	o.port = argv[optind + 1];
	return cmd_client(argv[optind], &o);
}
