// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * linkemu: an access-link emulator for the namespace test bed (the kernel here has no netem).
 * It bridges two interfaces of a middle namespace at layer 2 through AF_PACKET sockets and, per
 * direction, applies a one-way delay, uniform jitter, random loss and an up/down state.
 * It owns two packet sockets and two preallocated FIFO rings; it never shapes rate (tbf on the
 * egress interfaces does that), never allocates per packet and never reorders packets.
 *
 * Timing: departures are scheduled on CLOCK_MONOTONIC and waited for with ppoll() and a
 * nanosecond timeout, with the timer slack set to 1 ns. Jitter keeps FIFO order: a packet's
 * departure is max(arrival + delay + U[0, jitter], departure of the packet ahead of it), so
 * under load jitter also adds queueing delay, as on a real link.
 *
 * Signals: SIGUSR1 = link down (everything dropped, queued packets included), SIGUSR2 = link up,
 * SIGHUP = print counters, SIGTERM/SIGINT = print counters and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#define SLOT_DATA   2048 /* a 1500-byte MTU frame fits; offloads must be off (no GSO frames) */
#define RX_BATCH    64 /* frames read per wake-up and socket, so one side cannot starve the other */
#define QUEUE_DFLT  8192 /* slots per direction: 16 MiB, holds 25 ms of 1 Gbit/s traffic */
#define NSEC_PER_MS 1000000LL

enum { DIR_AB, DIR_BA, DIR_COUNT };

struct slot {
	uint64_t arrive_ns;
	uint64_t depart_ns;
	uint32_t len;
	uint8_t data[SLOT_DATA];
};

struct counters {
	uint64_t rx;
	uint64_t forwarded;
	uint64_t loss;	   /* random loss */
	uint64_t down;	   /* link down, at arrival or at departure */
	uint64_t overflow; /* our ring was full */
	uint64_t qdisc;	   /* the egress qdisc (tbf) refused it: ENOBUFS */
	uint64_t txerr;	   /* any other send error */
	uint64_t oversize; /* frame larger than a slot */
	uint64_t csum_partial;
	uint64_t late_max_ns; /* worst lateness of a departure against its schedule */
	uint64_t late_sum_ns;
	uint64_t late_over_1ms;
};

/* One direction: frames read on in_fd wait in the ring, then leave through out_fd. */
struct direction {
	const char *name;
	int in_fd, out_fd;
	const char *in_if, *out_if;
	uint64_t delay_ns, jitter_ns;
	double loss_pct;
	uint64_t loss_threshold; /* drop when rng < threshold */
	bool loss_all;
	uint64_t rng[4];
	struct slot *ring;
	uint32_t cap, head, count;
	uint64_t last_depart_ns;
	bool tx_blocked; /* the out socket said EAGAIN: wait for POLLOUT */
	struct counters c;
};

static bool link_down;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, and good enough that loss counts follow the binomial law. */
static uint64_t rng_next(uint64_t s[4])
{
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static void rng_seed(uint64_t s[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		s[i] = splitmix64(&seed);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: linkemu [options] IF_A IF_B\n"
		"Bridges IF_A and IF_B (AF_PACKET) with per-direction delay, jitter, loss and up/down.\n"
		"Direction ab is IF_A -> IF_B, ba is IF_B -> IF_A. Rates are not emulated: use tbf.\n"
		"  --delay-ms MS      one-way delay, both directions (decimals allowed; default 0)\n"
		"  --delay-ab MS, --delay-ba MS       per-direction overrides\n"
		"  --jitter-ms MS     uniform extra delay in [0, MS], FIFO order kept (default 0)\n"
		"  --jitter-ab MS, --jitter-ba MS\n"
		"  --loss PCT         random loss in percent, decimals allowed, e.g. 1.5 (default 0)\n"
		"  --loss-ab PCT, --loss-ba PCT\n"
		"  --seed N           PRNG seed (default: from the clock; printed at start)\n"
		"  --queue N          frames queued per direction before overflow drops (default %d)\n"
		"  --down             start with the link down\n"
		"  --pidfile FILE     write our pid to FILE once both sockets are bound\n"
		"  --rt-prio N        run SCHED_FIFO at priority N (1-99): the link keeps its timing\n"
		"                     when the endpoints load the CPUs\n"
		"  -q, --quiet        no start-up line on stderr\n"
		"Prints \"ready\" on stdout once both sockets are bound.\n"
		"Signals: USR1 = down, USR2 = up, HUP = print counters, TERM/INT = counters and exit.\n"
		"Exit: 0 on TERM/INT, 1 on runtime error, 2 on bad usage or unknown interface.\n",
		QUEUE_DFLT);
}

/* Parses a non-negative decimal number of milliseconds into nanoseconds. */
static bool parse_ms(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 3600e3)
		return false;
	*ns = (uint64_t)llround(v * NSEC_PER_MS);
	return true;
}

/* Parses a percentage in [0, 100], decimals allowed, an optional trailing '%'. */
static bool parse_pct(const char *s, double *pct)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*end == '%')
		end++;
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 100)
		return false;
	*pct = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

static void set_loss(struct direction *d, double pct)
{
	d->loss_pct = pct;
	d->loss_all = pct >= 100.0;
	/* 2^64 * pct / 100, computed in long double so that small rates keep their precision */
	d->loss_threshold =
		d->loss_all ? UINT64_MAX : (uint64_t)(pct / 100.0L * 18446744073709551616.0L);
}

/*
 * Opens a packet socket that receives every frame seen on ifname (promiscuous) except the ones
 * this host sends, and that sends raw frames out of it. Returns the fd, -1 with a message.
 */
static int open_port(const char *ifname, unsigned int ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)ifindex,
	};
	struct packet_mreq mr = {
		.mr_ifindex = (int)ifindex,
		.mr_type = PACKET_MR_PROMISC,
	};
	int one = 1, big = 4 << 20;
	int fd;

	/* Protocol 0: receive nothing until bind() names the interface. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		fprintf(stderr, "linkemu: socket(AF_PACKET): %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == -1) {
		fprintf(stderr, "linkemu: %s: packet socket options: %s\n", ifname,
			strerror(errno));
		goto fail;
	}
	/* Room for bursts on receive, and for frames waiting in the egress tbf (they are charged
	 * to this socket until the veth takes them). Best effort: the FORCE variants need root. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		fprintf(stderr, "linkemu: bind to %s: %s\n", ifname, strerror(errno));
		goto fail;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) == -1) {
		fprintf(stderr, "linkemu: %s: promiscuous mode: %s\n", ifname, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * The frame's arrival on CLOCK_MONOTONIC: the kernel's receive timestamp (CLOCK_REALTIME) moved
 * by the current offset between the two clocks, so the time a frame waited in the socket queue
 * while we were busy counts as delay already served. Falls back to `now` if it looks wrong.
 */
static uint64_t arrival_ns(const struct timespec *rx, uint64_t now, int64_t real_minus_mono)
{
	int64_t t;

	if (!rx)
		return now;
	t = (int64_t)rx->tv_sec * 1000000000LL + rx->tv_nsec - real_minus_mono;
	if (t > (int64_t)now || t < (int64_t)now - 1000 * NSEC_PER_MS)
		return now;
	return (uint64_t)t;
}

static int64_t real_minus_mono_ns(void)
{
	struct timespec r;
	uint64_t m1 = now_ns(), m2;

	clock_gettime(CLOCK_REALTIME, &r);
	m2 = now_ns();
	return (int64_t)r.tv_sec * 1000000000LL + r.tv_nsec - (int64_t)((m1 + m2) / 2);
}

/* Reads up to RX_BATCH frames from d->in_fd into d's ring, applying down state and loss. */
static int rx_batch(struct direction *d)
{
	int64_t offset = real_minus_mono_ns();

	for (int n = 0; n < RX_BATCH; n++) {
		struct slot *s = &d->ring[(d->head + d->count) % d->cap];
		static uint8_t scratch[SLOT_DATA];
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata)) +
				    CMSG_SPACE(sizeof(struct timespec))];
		} ctrl;
		struct timespec rx_ts, *rx = NULL;
		struct sockaddr_ll from;
		struct iovec iov;
		struct msghdr msg = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctrl.buf,
			.msg_controllen = sizeof(ctrl.buf),
		};
		bool full = d->count == d->cap;
		ssize_t len;

		/* When the ring is full, the frame is still read (and dropped) to keep draining. */
		iov.iov_base = full ? scratch : s->data;
		iov.iov_len = SLOT_DATA;
		len = recvmsg(d->in_fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
		if (len == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno ==
			    ENETDOWN) /* the interface went down; it reports again when up */
				return 0;
			fprintf(stderr, "linkemu: recv on %s: %s\n", d->in_if, strerror(errno));
			return -1;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		d->c.rx++;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct tpacket_auxdata aux;

			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
				memcpy(&rx_ts, CMSG_DATA(cm), sizeof(rx_ts));
				rx = &rx_ts;
				continue;
			}
			if (cm->cmsg_level != SOL_PACKET || cm->cmsg_type != PACKET_AUXDATA)
				continue;
			memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
			if ((aux.tp_status & TP_STATUS_CSUMNOTREADY) && d->c.csum_partial++ == 0)
				fprintf(stderr,
					"linkemu: %s: frame with a partial checksum; are offloads "
					"on? (ethtool -K %s tx off tso off gso off gro off)\n",
					d->in_if, d->in_if);
		}
		if ((size_t)len > SLOT_DATA) {
			d->c.oversize++;
			continue;
		}
		if (link_down) {
			d->c.down++;
			continue;
		}
		if (d->loss_all || (d->loss_threshold && rng_next(d->rng) < d->loss_threshold)) {
			d->c.loss++;
			continue;
		}
		if (full) {
			d->c.overflow++;
			continue;
		}

		uint64_t now = arrival_ns(rx, now_ns(), offset), depart = now + d->delay_ns;

		if (d->jitter_ns)
			depart += rng_next(d->rng) % (d->jitter_ns + 1);
		if (depart < d->last_depart_ns) /* FIFO: never overtake the frame ahead */
			depart = d->last_depart_ns;
		d->last_depart_ns = depart;
		s->arrive_ns = now;
		s->depart_ns = depart;
		s->len = (uint32_t)len;
		d->count++;
	}
	return 0;
}

/* Sends every frame of d whose departure time has come. */
static void tx_due(struct direction *d, uint64_t now)
{
	while (d->count && !d->tx_blocked) {
		struct slot *s = &d->ring[d->head];

		if (s->depart_ns > now) {
			now = now_ns();
			if (s->depart_ns > now)
				return;
		}
		if (link_down) {
			d->c.down++;
		} else if (send(d->out_fd, s->data, s->len, MSG_DONTWAIT) == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				d->tx_blocked = true;
				return;
			}
			if (errno == ENOBUFS)
				d->c.qdisc++;
			else
				d->c.txerr++;
		} else {
			uint64_t late = now - s->depart_ns;

			d->c.forwarded++;
			d->c.late_sum_ns += late;
			if (late > d->c.late_max_ns)
				d->c.late_max_ns = late;
			if (late > NSEC_PER_MS)
				d->c.late_over_1ms++;
		}
		d->head = (d->head + 1) % d->cap;
		d->count--;
	}
}

static void print_counters(const struct direction *dirs)
{
	for (int i = 0; i < DIR_COUNT; i++) {
		const struct direction *d = &dirs[i];
		const struct counters *c = &d->c;

		fprintf(stderr,
			"linkemu: %s %s->%s rx=%" PRIu64 " forwarded=%" PRIu64
			" dropped-loss=%" PRIu64 " dropped-down=%" PRIu64
			" dropped-overflow=%" PRIu64 " dropped-qdisc=%" PRIu64
			" dropped-txerr=%" PRIu64 " dropped-oversize=%" PRIu64
			" csum-partial=%" PRIu64 " queued=%" PRIu32 " late-avg-us=%" PRIu64
			" late-max-us=%" PRIu64 " late-over-1ms=%" PRIu64 "\n",
			d->name, d->in_if, d->out_if, c->rx, c->forwarded, c->loss, c->down,
			c->overflow, c->qdisc, c->txerr, c->oversize, c->csum_partial, d->count,
			c->forwarded ? c->late_sum_ns / c->forwarded / 1000 : 0,
			c->late_max_ns / 1000, c->late_over_1ms);
	}
	fflush(stderr);
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		fprintf(stderr, "linkemu: pidfile %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) == EOF) {
		fprintf(stderr, "linkemu: pidfile %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns the signalfd for the signals we handle, blocked from normal delivery. */
static int setup_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd;
}

/* Handles queued signals; returns true when we must exit. */
static bool handle_signals(int sfd, struct direction *dirs)
{
	struct signalfd_siginfo si;
	bool quit = false;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			link_down = true;
			break;
		case SIGUSR2:
			link_down = false;
			break;
		case SIGHUP:
			print_counters(dirs);
			break;
		default:
			quit = true;
			break;
		}
	}
	return quit;
}

/* Clears a pending socket error; returns -1 when the interface is gone for good. */
static int check_socket_error(int fd, const char *ifname)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (if_nametoindex(ifname) == 0) {
		fprintf(stderr, "linkemu: interface %s disappeared\n", ifname);
		return -1;
	}
	if (err && err != ENETDOWN)
		fprintf(stderr, "linkemu: %s: %s\n", ifname, strerror(err));
	return 0;
}

enum {
	OPT_DELAY = 256,
	OPT_DELAY_AB,
	OPT_DELAY_BA,
	OPT_JITTER,
	OPT_JITTER_AB,
	OPT_JITTER_BA,
	OPT_LOSS,
	OPT_LOSS_AB,
	OPT_LOSS_BA,
	OPT_SEED,
	OPT_QUEUE,
	OPT_DOWN,
	OPT_PIDFILE,
	OPT_RT_PRIO,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "delay-ab", required_argument, NULL, OPT_DELAY_AB },
		{ "delay-ba", required_argument, NULL, OPT_DELAY_BA },
		{ "jitter-ms", required_argument, NULL, OPT_JITTER },
		{ "jitter", required_argument, NULL, OPT_JITTER },
		{ "jitter-ab", required_argument, NULL, OPT_JITTER_AB },
		{ "jitter-ba", required_argument, NULL, OPT_JITTER_BA },
		{ "loss", required_argument, NULL, OPT_LOSS },
		{ "loss-ab", required_argument, NULL, OPT_LOSS_AB },
		{ "loss-ba", required_argument, NULL, OPT_LOSS_BA },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "down", no_argument, NULL, OPT_DOWN },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "rt-prio", required_argument, NULL, OPT_RT_PRIO },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct direction dirs[DIR_COUNT] = {
		[DIR_AB] = { .name = "ab", .in_fd = -1, .out_fd = -1 },
		[DIR_BA] = { .name = "ba", .in_fd = -1, .out_fd = -1 },
	};
	const char *pidfile = NULL;
	uint64_t seed = 0, queue = QUEUE_DFLT, rt_prio = 0, v;
	bool have_seed = false, quiet = false;
	int fd_a = -1, fd_b = -1, sfd = -1, ret = 1, opt, li = 0;
	unsigned int idx_a, idx_b;
	double pct;

	while ((opt = getopt_long(argc, argv, "qh", longopts, &li)) != -1) {
		bool okay = true;

		switch (opt) {
		case OPT_DELAY:
			okay = parse_ms(optarg, &v);
			dirs[DIR_AB].delay_ns = dirs[DIR_BA].delay_ns = v;
			break;
		case OPT_DELAY_AB:
		case OPT_DELAY_BA:
			okay = parse_ms(optarg,
					&dirs[opt == OPT_DELAY_AB ? DIR_AB : DIR_BA].delay_ns);
			break;
		case OPT_JITTER:
			okay = parse_ms(optarg, &v);
			dirs[DIR_AB].jitter_ns = dirs[DIR_BA].jitter_ns = v;
			break;
		case OPT_JITTER_AB:
		case OPT_JITTER_BA:
			okay = parse_ms(optarg,
					&dirs[opt == OPT_JITTER_AB ? DIR_AB : DIR_BA].jitter_ns);
			break;
		case OPT_LOSS:
			okay = parse_pct(optarg, &pct);
			dirs[DIR_AB].loss_pct = dirs[DIR_BA].loss_pct = pct;
			break;
		case OPT_LOSS_AB:
		case OPT_LOSS_BA:
			okay = parse_pct(optarg,
					 &dirs[opt == OPT_LOSS_AB ? DIR_AB : DIR_BA].loss_pct);
			break;
		case OPT_SEED:
			okay = parse_u64(optarg, &seed);
			have_seed = true;
			break;
		case OPT_QUEUE:
			okay = parse_u64(optarg, &queue) && queue >= 1 && queue <= (1u << 20);
			break;
		case OPT_DOWN:
			link_down = true;
			break;
		case OPT_PIDFILE:
			pidfile = optarg;
			break;
		case OPT_RT_PRIO:
			okay = parse_u64(optarg, &rt_prio) && rt_prio >= 1 && rt_prio <= 99;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!okay) {
			fprintf(stderr, "linkemu: invalid value '%s' for --%s\n", optarg,
				longopts[li].name);
			return 2;
		}
		li = 0;
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	dirs[DIR_AB].in_if = dirs[DIR_BA].out_if = argv[optind];
	dirs[DIR_BA].in_if = dirs[DIR_AB].out_if = argv[optind + 1];
	idx_a = if_nametoindex(argv[optind]);
	if (!idx_a) {
		fprintf(stderr, "linkemu: no such interface '%s'\n", argv[optind]);
		return 2;
	}
	idx_b = if_nametoindex(argv[optind + 1]);
	if (!idx_b) {
		fprintf(stderr, "linkemu: no such interface '%s'\n", argv[optind + 1]);
		return 2;
	}
	if (idx_a == idx_b) {
		fprintf(stderr, "linkemu: IF_A and IF_B are the same interface '%s'\n",
			argv[optind]);
		return 2;
	}
	if (!have_seed)
		seed = now_ns() ^ ((uint64_t)getpid() << 32);

	/* 1 ns of timer slack: departures fire when scheduled, not up to 50 us later */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (rt_prio) {
		struct sched_param sp = { .sched_priority = (int)rt_prio };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) == -1) {
			fprintf(stderr, "linkemu: SCHED_FIFO priority %" PRIu64 ": %s\n", rt_prio,
				strerror(errno));
			goto out;
		}
	}
	sfd = setup_signals();
	if (sfd == -1) {
		fprintf(stderr, "linkemu: signalfd: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < DIR_COUNT; i++) {
		dirs[i].cap = (uint32_t)queue;
		dirs[i].ring = calloc(dirs[i].cap, sizeof(struct slot));
		if (!dirs[i].ring) {
			fprintf(stderr, "linkemu: cannot allocate %" PRIu64 " slots\n", queue);
			goto out;
		}
		set_loss(&dirs[i], dirs[i].loss_pct);
		rng_seed(dirs[i].rng, seed + (uint64_t)i * 0x5851f42d4c957f2dULL);
	}
	fd_a = open_port(argv[optind], idx_a);
	if (fd_a == -1)
		goto out;
	fd_b = open_port(argv[optind + 1], idx_b);
	if (fd_b == -1)
		goto out;
	dirs[DIR_AB].in_fd = dirs[DIR_BA].out_fd = fd_a;
	dirs[DIR_BA].in_fd = dirs[DIR_AB].out_fd = fd_b;

	if (pidfile && write_pidfile(pidfile) == -1)
		goto out;
	if (!quiet) {
		for (int i = 0; i < DIR_COUNT; i++)
			fprintf(stderr,
				"linkemu: %s %s->%s delay=%.3fms jitter=%.3fms loss=%g%% "
				"queue=%" PRIu32 "%s\n",
				dirs[i].name, dirs[i].in_if, dirs[i].out_if,
				(double)dirs[i].delay_ns / NSEC_PER_MS,
				(double)dirs[i].jitter_ns / NSEC_PER_MS, dirs[i].loss_pct,
				dirs[i].cap, link_down ? " (down)" : "");
		fprintf(stderr, "linkemu: seed=%" PRIu64 "\n", seed);
	}
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = fd_a, .events = POLLIN },
			{ .fd = fd_b, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		struct timespec ts, *tsp = NULL;
		uint64_t now = now_ns(), next = UINT64_MAX;

		for (int i = 0; i < DIR_COUNT; i++) {
			struct direction *d = &dirs[i];

			tx_due(d, now);
			if (d->tx_blocked)
				pfd[d->out_fd == fd_a ? 0 : 1].events |= POLLOUT;
			else if (d->count && d->ring[d->head].depart_ns < next)
				next = d->ring[d->head].depart_ns;
		}
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000000ULL);
			ts.tv_nsec = (long)(wait % 1000000000ULL);
			tsp = &ts;
		}
		if (ppoll(pfd, 3, tsp, NULL) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "linkemu: ppoll: %s\n", strerror(errno));
			goto out;
		}
		if ((pfd[2].revents & POLLIN) && handle_signals(sfd, dirs)) {
			ret = 0;
			goto out;
		}
		for (int i = 0; i < 2; i++) {
			struct direction *in = &dirs[i == 0 ? DIR_AB : DIR_BA];
			struct direction *out = &dirs[i == 0 ? DIR_BA : DIR_AB];

			if (pfd[i].revents & POLLERR) {
				if (check_socket_error(pfd[i].fd, in->in_if) == -1)
					goto out;
			}
			if (pfd[i].revents & POLLOUT)
				out->tx_blocked = false;
			if ((pfd[i].revents & POLLIN) && rx_batch(in) == -1)
				goto out;
		}
	}
out:
	print_counters(dirs);
	if (pidfile && ret == 0)
		unlink(pidfile);
	for (int i = 0; i < DIR_COUNT; i++)
		free(dirs[i].ring);
	if (fd_a != -1)
		close(fd_a);
	if (fd_b != -1)
		close(fd_b);
	if (sfd != -1)
		close(sfd);
	return ret;
}
