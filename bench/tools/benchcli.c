// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * benchcli: the client end of the benchmark (bench/run.sh), plain TCP, optionally through a
 * SOCKS5 proxy (no authentication, CONNECT). It talks to benchsrv and prints one line of
 * key=value words per run:
 *   rate HOST PORT      connections per second: connect, 1 KiB request, 1 KiB reply, close
 *                       (benchsrv rr), from --threads blocking threads for --seconds
 *   latency HOST PORT   connect-to-first-byte: clock from socket() to the first reply byte of a
 *                       1-byte request (benchsrv echo), --count probes one after the other
 *   hold HOST PORT      opens --count connections that each echo one byte (so every relay on the
 *                       way is established), prints "held=N ..." and sleeps until SIGTERM; a
 *                       thread stops early after 20 failures in a row (the relay ran out of fds)
 *   bulk HOST PORT      one download (benchsrv source) of --bytes N or for --seconds S: goodput,
 *                       the longest gap between two reads, and the content check (i % 251)
 * Blocking sockets and threads keep it short; it measures, it never tunes anything.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
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
#include <netinet/tcp.h>
#include <sys/socket.h>

#define RR_SIZE	    1024
#define PATTERN_MOD 251
#define BULK_BUF    (256 * 1024)

struct options {
	struct sockaddr_in dst;
	struct sockaddr_in socks;
	struct sockaddr_in bind;
	bool use_socks, use_bind;
	int threads;
	int count;
	double seconds;
	double timeout;
	uint64_t bytes;
};

static struct options opt = { .threads = 4, .count = 20, .seconds = 5, .timeout = 10 };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool parse_addr(const char *host, const char *port, struct sockaddr_in *sa)
{
	char *end;
	long p = strtol(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)p);
	return !*end && p > 0 && p < 65536 && inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static bool parse_hostport(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	return parse_addr(host, colon + 1, sa);
}

static bool read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, (char *)buf + got, n - got, 0);

		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

static bool write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);

		if (k <= 0)
			return false;
		done += (size_t)k;
	}
	return true;
}

/* SOCKS5 no-auth greeting and CONNECT to opt.dst on a connected fd: two round trips. */
static bool socks5_connect(int fd)
{
	unsigned char req[10] = { 5, 1, 0, 1 }, rep[10];

	if (!write_full(fd, "\x05\x01\x00", 3) || !read_full(fd, rep, 2) || rep[0] != 5 ||
	    rep[1] != 0)
		return false;
	memcpy(req + 4, &opt.dst.sin_addr, 4);
	memcpy(req + 8, &opt.dst.sin_port, 2);
	return write_full(fd, req, sizeof(req)) && read_full(fd, rep, sizeof(rep)) &&
	       rep[1] == 0 && rep[3] == 1;
}

/* A connected socket to opt.dst (through the proxy if any), or -1. */
static int dial(void)
{
	const struct sockaddr_in *to = opt.use_socks ? &opt.socks : &opt.dst;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct timeval tv = { .tv_sec = (time_t)opt.timeout };

	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((opt.use_bind && bind(fd, (const struct sockaddr *)&opt.bind, sizeof(opt.bind)) == -1) ||
	    connect(fd, (const struct sockaddr *)to, sizeof(*to)) == -1 ||
	    (opt.use_socks && !socks5_connect(fd))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- rate ---------------------------------------------------------------------------- */

struct rate_thread {
	pthread_t tid;
	double deadline;
	uint64_t done, errors;
	double lat_sum;
};

static void *rate_worker(void *arg)
{
	struct rate_thread *t = arg;
	char req[RR_SIZE], rep[RR_SIZE + 1];

	memset(req, 'q', sizeof(req));
	while (now() < t->deadline) {
		double t0 = now();
		size_t got = 0;
		ssize_t k;
		int fd = dial();

		if (fd == -1) {
			t->errors++;
			continue;
		}
		if (!write_full(fd, req, sizeof(req))) {
			t->errors++;
			close(fd);
			continue;
		}
		while ((k = recv(fd, rep + got, sizeof(rep) - got, 0)) > 0)
			got += (size_t)k;
		close(fd);
		if (k < 0 || got != RR_SIZE) {
			t->errors++;
			continue;
		}
		t->done++;
		t->lat_sum += now() - t0;
	}
	return NULL;
}

static int cmd_rate(void)
{
	struct rate_thread *th = calloc((size_t)opt.threads, sizeof(*th));
	double t0 = now(), dt, lat = 0;
	uint64_t done = 0, errors = 0;
	int i;

	if (!th)
		return 1;
	for (i = 0; i < opt.threads; i++) {
		th[i].deadline = t0 + opt.seconds;
		pthread_create(&th[i].tid, NULL, rate_worker, &th[i]);
	}
	for (i = 0; i < opt.threads; i++) {
		pthread_join(th[i].tid, NULL);
		done += th[i].done;
		errors += th[i].errors;
		lat += th[i].lat_sum;
	}
	dt = now() - t0;
	printf("conns=%" PRIu64 " errors=%" PRIu64 " seconds=%.3f rate=%.0f mean_ms=%.3f\n", done,
	       errors, dt, (double)done / dt, done ? lat / (double)done * 1e3 : 0.0);
	free(th);
	return done ? 0 : 1;
}

/* ---- latency ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmd_latency(void)
{
	double *ms = calloc((size_t)opt.count, sizeof(*ms));
	int i, n = 0, errors = 0;

	if (!ms)
		return 1;
	for (i = 0; i < opt.count; i++) {
		double t0 = now();
		char b;
		int fd = dial();

		if (fd == -1 || !write_full(fd, "x", 1) || recv(fd, &b, 1, 0) != 1) {
			errors++;
		} else {
			ms[n++] = (now() - t0) * 1e3;
		}
		if (fd != -1)
			close(fd);
		usleep(20000);
	}
	printf("count=%d errors=%d", n, errors);
	if (n) {
		printf(" samples=");
		for (i = 0; i < n; i++)
			printf("%s%.2f", i ? "," : "", ms[i]);
		qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
		printf(" min_ms=%.2f median_ms=%.2f max_ms=%.2f", ms[0], ms[n / 2], ms[n - 1]);
	}
	printf("\n");
	free(ms);
	return n ? 0 : 1;
}

/* ---- hold ---------------------------------------------------------------------------- */

struct hold_thread {
	pthread_t tid;
	int want, held, errors;
};

static void *hold_worker(void *arg)
{
	struct hold_thread *t = arg;
	int i, failed_in_a_row = 0;

	/* 20 failures in a row: the relay ran out of something; report what it held. */
	for (i = 0; i < t->want && failed_in_a_row < 20; i++) {
		char b;
		int fd = dial();

		if (fd == -1 || !write_full(fd, "h", 1) || recv(fd, &b, 1, 0) != 1) {
			t->errors++;
			failed_in_a_row++;
			if (fd != -1)
				close(fd);
			continue;
		}
		failed_in_a_row = 0;
		t->held++; /* kept open on purpose until the process ends */
	}
	return NULL;
}

static int cmd_hold(void)
{
	struct hold_thread *th = calloc((size_t)opt.threads, sizeof(*th));
	int i, held = 0, errors = 0;
	double t0 = now();
	sigset_t set;

	if (!th)
		return 1;
	for (i = 0; i < opt.threads; i++) {
		th[i].want = opt.count / opt.threads + (i < opt.count % opt.threads);
		pthread_create(&th[i].tid, NULL, hold_worker, &th[i]);
	}
	for (i = 0; i < opt.threads; i++) {
		pthread_join(th[i].tid, NULL);
		held += th[i].held;
		errors += th[i].errors;
	}
	printf("held=%d errors=%d seconds=%.3f\n", held, errors, now() - t0);
	fflush(stdout);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigwait(&set, &i);
	free(th);
	return 0;
}

/* ---- bulk ---------------------------------------------------------------------------- */

static int cmd_bulk(void)
{
	static unsigned char buf[BULK_BUF], ref[BULK_BUF + PATTERN_MOD];
	uint64_t want = opt.bytes, got = 0, hdr = htobe64(opt.bytes);
	double t0, first = 0, last = 0, gap = 0, end;
	bool ok = true, eof = false;
	struct pollfd p;
	int fd, i;

	for (i = 0; i < (int)sizeof(ref); i++)
		ref[i] = (unsigned char)(i % PATTERN_MOD);
	t0 = now();
	fd = dial();
	if (fd == -1 || !write_full(fd, &hdr, sizeof(hdr))) {
		printf("bytes=0 expected=%" PRIu64 " error=connect\n", want);
		return 1;
	}
	end = t0 + opt.seconds;
	p.fd = fd;
	p.events = POLLIN;
	while (!want || got < want) {
		double t;
		ssize_t k;
		int r = poll(&p, 1, (int)(opt.timeout * 1000));

		if (r <= 0)
			break; /* nothing for --timeout seconds: the stall ends the run */
		k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k == -1 && errno == EAGAIN)
			continue;
		if (k <= 0) {
			eof = k == 0;
			break;
		}
		t = now();
		if (!first)
			first = t;
		else if (t - last > gap)
			gap = t - last;
		last = t;
		if (memcmp(buf, ref + got % PATTERN_MOD, (size_t)k))
			ok = false;
		got += (uint64_t)k;
		if (!want && t >= end)
			break;
	}
	close(fd);
	t0 = first ? first : t0;
	last = last > t0 ? last : now();
	printf("bytes=%" PRIu64 " expected=%" PRIu64 " lost=%" PRIu64
	       " seconds=%.3f mbps=%.1f max_gap_ms=%.1f verified=%d eof=%d\n",
	       got, want, want > got ? want - got : 0, last - t0,
	       (double)got * 8 / (last - t0) / 1e6, gap * 1e3, ok, eof);
	return ok && (!want || got == want) ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: benchcli rate|latency|hold|bulk HOST PORT [--socks5 HOST:PORT]\n"
		   "         [--bind ADDR] [--threads N] [--count N] [--seconds S] [--bytes N] [--timeout S]\n");
}

int main(int argc, char **argv)
{
	const char *cmd;
	int i;

	if (argc < 4 || !parse_addr(argv[2], argv[3], &opt.dst)) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	for (i = 4; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--socks5")) {
			if (!parse_hostport(v, &opt.socks)) {
				fprintf(stderr, "benchcli: bad --socks5 '%s'\n", v);
				return 2;
			}
			opt.use_socks = true;
		} else if (!strcmp(a, "--bind")) {
			if (!parse_addr(v, "1", &opt.bind)) {
				fprintf(stderr, "benchcli: bad --bind '%s'\n", v);
				return 2;
			}
			opt.bind.sin_port = 0;
			opt.use_bind = true;
		} else if (!strcmp(a, "--threads")) {
			opt.threads = atoi(v);
		} else if (!strcmp(a, "--count")) {
			opt.count = atoi(v);
		} else if (!strcmp(a, "--seconds")) {
			opt.seconds = atof(v);
		} else if (!strcmp(a, "--timeout")) {
			opt.timeout = atof(v);
		} else if (!strcmp(a, "--bytes")) {
			opt.bytes = strtoull(v, NULL, 10);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (opt.threads < 1 || opt.count < 1) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "rate"))
		return cmd_rate();
	if (!strcmp(cmd, "latency"))
		return cmd_latency();
	if (!strcmp(cmd, "hold"))
		return cmd_hold();
	if (!strcmp(cmd, "bulk"))
		return cmd_bulk();
	usage(stderr);
	return 2;
}
