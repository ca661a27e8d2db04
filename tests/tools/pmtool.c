// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pmtool: drives src/kernel/pm.c (the mptcp_pm generic netlink client) for the integration tests.
 *   pmtool events [--count N] [--timeout S]       print MPTCP events, one key=value line each
 *   pmtool connect HOST PORT --subflow ADDR[@IF]... one MPTCP connection whose extra subflows
 *                                                  are made through pm.c (userspace PM)
 *   pmtool create TOKEN LOCAL[@IF] REMOTE:PORT     one SUBFLOW_CREATE, to see the kernel's errors
 *   pmtool destroy | set-backup TOKEN LOCAL REMOTE the other two commands, one shot
 * connect talks to testserver.py --mode sink: it sends a byte pattern, half-closes, and checks
 * the server's "GOT <bytes> <sha256>" line against its own digest.
 */
#include "addr.h"
#include "pm.h"
#include "sock.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBFLOWS 8
#define CHUNK	     65536

struct subflow {
	struct addr_port local; /* port learnt from SUB_ESTABLISHED */
	int ifindex;
	bool backup;
	uint8_t id;
	int state; /* 0 pending, 1 established, -1 closed */
};

struct conn {
	uint32_t token; /* 0: print every event */
	bool established;
	struct subflow sub[MAX_SUBFLOWS];
	int nsub;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_event(const struct pm_event *ev)
{
	char l[ADDR_STRLEN], r[ADDR_STRLEN];
	const char *name = pm_event_name(ev->type);

	if (strcmp(name, "unknown") == 0)
		printf("event=unknown-%d token=%08x", (int)ev->type, ev->token);
	else
		printf("event=%s token=%08x", name, ev->token);
	if (ev->has_addrs)
		printf(" local=%s remote=%s", addr_format(&ev->local, true, l),
		       addr_format(&ev->remote, true, r));
	printf(" loc_id=%u rem_id=%u ifindex=%d backup=%d error=%d\n", ev->loc_id, ev->rem_id,
	       ev->ifindex, ev->backup, ev->error);
	fflush(stdout);
}

static void on_conn_event(const struct pm_event *ev, void *arg)
{
	struct conn *c = arg;

	if (c->token && ev->token != c->token)
		return;
	print_event(ev);
	if (ev->type == PM_EVENT_ESTABLISHED)
		c->established = true;
	if (ev->type != PM_EVENT_SUB_ESTABLISHED && ev->type != PM_EVENT_SUB_CLOSED)
		return;
	for (int i = 0; i < c->nsub; i++) {
		struct subflow *s = &c->sub[i];

		if (memcmp(s->local.ip, ev->local.ip, 16) != 0)
			continue;
		if (ev->type == PM_EVENT_SUB_ESTABLISHED && s->state == 0) {
			s->state = 1;
			s->local.port = ev->local.port;
			return;
		}
		if (ev->type == PM_EVENT_SUB_CLOSED && s->local.port == ev->local.port) {
			s->state = -1;
			return;
		}
	}
}

/* Reads events until done(c) or the deadline; false on timeout or error. */
static bool wait_events(struct pm *pm, int fd, struct conn *c, bool (*done)(struct conn *c),
			double timeout)
{
	double deadline = now() + timeout;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ret = pm_read_events(pm, on_conn_event, c);

		if (ret < 0) {
			fprintf(stderr, "pmtool: reading events: %s\n", strerror(-ret));
			if (ret != -ENOBUFS)
				return false;
		}
		if (done && done(c))
			return true;
		if (now() >= deadline)
			return false;
		poll(&pfd, 1, 20);
	}
}

static bool is_established(struct conn *c)
{
	return c->established;
}

static bool subflows_settled(struct conn *c)
{
	for (int i = 0; i < c->nsub; i++)
		if (c->sub[i].state == 0)
			return false;
	return true;
}

static bool subflows_closed(struct conn *c)
{
	for (int i = 0; i < c->nsub; i++)
		if (c->sub[i].state == 1)
			return false;
	return true;
}

/* ADDR[@IFNAME] */
static bool parse_local(const char *text, struct addr_port *ap, int *ifindex)
{
	char buf[128];
	char *at;

	if (strlen(text) >= sizeof(buf))
		return false;
	strcpy(buf, text);
	*ifindex = 0;
	at = strchr(buf, '@');
	if (at) {
		*at++ = '\0';
		*ifindex = (int)if_nametoindex(at);
		if (*ifindex == 0) {
			fprintf(stderr, "pmtool: no interface '%s'\n", at);
			return false;
		}
	}
	memset(ap, 0, sizeof(*ap));
	if (!addr_parse_ip(buf, ap->ip)) {
		fprintf(stderr, "pmtool: bad address '%s'\n", buf);
		return false;
	}
	return true;
}

static void print_error(const char *what, int ret, const struct pm *pm)
{
	const char *name = strerrorname_np(-ret);

	printf("%s rc=%d errno=%s msg=\"%s\"\n", what, ret, name ? name : "?", pm->err_msg);
	fflush(stdout);
}

static int open_pm(struct pm *pm, int *fd)
{
	int ret = pm_open(pm);

	if (ret < 0) {
		fprintf(stderr, "pmtool: pm_open: %s\n", strerror(-ret));
		return ret;
	}
	if (!fd)
		return 0;
	*fd = pm_subscribe(pm);
	if (*fd < 0) {
		fprintf(stderr, "pmtool: pm_subscribe: %s\n", strerror(-*fd));
		pm_close(pm);
		return *fd;
	}
	return 0;
}

static void on_any_event(const struct pm_event *ev, void *arg)
{
	long *seen = arg;

	print_event(ev);
	(*seen)++;
}

/* Prints events until --count of them (the last read may print a few more) or --timeout. */
static int cmd_events(int argc, char **argv)
{
	struct pm pm;
	long count = -1, seen = 0;
	double timeout = 30, deadline;
	int fd, ret;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atol(argv[++i]);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atof(argv[++i]);
		else
			return 2;
	}
	if (open_pm(&pm, &fd) < 0)
		return 1;
	printf("ready family=%u group=%u\n", pm.family_id, pm.events_group);
	fflush(stdout);
	deadline = now() + timeout;
	while (count < 0 || seen < count) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double left = deadline - now();

		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		ret = pm_read_events(&pm, on_any_event, &seen);
		if (ret < 0 && ret != -ENOBUFS) {
			fprintf(stderr, "pmtool: %s\n", strerror(-ret));
			break;
		}
	}
	pm_close(&pm);
	return count < 0 || seen >= count ? 0 : 1;
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(offset + i);
}

/* Sends bytes [*sent, upto) of the pattern, updating the digest. */
static int send_pattern(int s, uint64_t *sent, uint64_t upto, crypto_hash_sha256_state *sha)
{
	static uint8_t buf[CHUNK];

	while (*sent < upto) {
		size_t len = upto - *sent < CHUNK ? (size_t)(upto - *sent) : CHUNK;
		ssize_t n;

		fill_pattern(buf, len, *sent);
		n = send(s, buf, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		crypto_hash_sha256_update(sha, buf, (size_t)n);
		*sent += (uint64_t)n;
	}
	return 0;
}

static int subflow_count(int s, struct sock_mptcp_info *info)
{
	int ret = sock_mptcp_info(s, info);

	if (ret < 0)
		return ret;
	return info->subflows_total ? info->subflows_total : info->subflows + 1;
}

static bool file_exists(struct conn *c)
{
	(void)c;
	return false;
}

static int cmd_connect(int argc, char **argv)
{
	struct pm pm = { 0 };
	struct conn c = { 0 };
	struct addr_port remote = { 0 };
	struct sockaddr_storage ss;
	struct sock_mptcp_info info;
	crypto_hash_sha256_state sha;
	uint8_t digest[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1], reply[256], got_hex[80];
	uint64_t bytes = 1 << 20, sent = 0, got = 0;
	double timeout = 10;
	int next_id = 1;
	bool backup_last = false, destroy = false, set_backup = false, ok = true;
	const char *hold = NULL;
	int fd = -1, s = -1, ret, k, kmax = 0;
	size_t rlen = 0;
	ssize_t n;

	if (argc < 4 || !addr_parse_ip(argv[2], remote.ip) || atoi(argv[3]) <= 0 ||
	    atoi(argv[3]) > 65535)
		return 2;
	remote.port = (uint16_t)atoi(argv[3]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--subflow") && i + 1 < argc && c.nsub < MAX_SUBFLOWS) {
			struct subflow *sf = &c.sub[c.nsub];

			if (!parse_local(argv[++i], &sf->local, &sf->ifindex))
				return 2;
			sf->id = (uint8_t)next_id++;
			c.nsub++;
		} else if (!strcmp(argv[i], "--first-id") && i + 1 < argc) {
			next_id = atoi(argv[++i]); /* ids of the next --subflow options */
		} else if (!strcmp(argv[i], "--backup-last")) {
			backup_last = true;
		} else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
			bytes = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--hold") && i + 1 < argc) {
			hold = argv[++i];
		} else if (!strcmp(argv[i], "--destroy")) {
			destroy = true;
		} else if (!strcmp(argv[i], "--set-backup")) {
			set_backup = true;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout = atof(argv[++i]);
		} else {
			return 2;
		}
	}
	if (bytes < 1)
		bytes = 1; /* the client is fully established only once the server acks data */
	if (backup_last && c.nsub)
		c.sub[c.nsub - 1].backup = true;
	if (sodium_init() < 0 || open_pm(&pm, &fd) < 0)
		return 1;
	crypto_hash_sha256_init(&sha);

	s = socket(addr_is_v4mapped(remote.ip) ? AF_INET : AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
	if (s == -1 || connect(s, (struct sockaddr *)&ss, addr_to_sockaddr(&remote, &ss)) == -1) {
		fprintf(stderr, "pmtool: connect: %s\n", strerror(errno));
		ok = false;
		goto cleanup;
	}
	if (sock_is_mptcp(s) != 1 || sock_mptcp_info(s, &info) < 0) {
		fprintf(stderr, "pmtool: the connection fell back to TCP\n");
		ok = false;
		goto cleanup;
	}
	c.token = info.token;
	printf("connected token=%08x\n", c.token);
	fflush(stdout);

	ret = send_pattern(s, &sent, bytes < CHUNK ? bytes : CHUNK, &sha);
	if (ret < 0 || !wait_events(&pm, fd, &c, is_established, timeout)) {
		fprintf(stderr, "pmtool: no ESTABLISHED event for %08x\n", c.token);
		ok = false;
		goto cleanup;
	}

	for (int i = 0; i < c.nsub; i++) {
		struct subflow *sf = &c.sub[i];
		char a[ADDR_STRLEN];

		ret = pm_subflow_create(&pm, c.token, sf->id, &sf->local, sf->ifindex, &remote,
					sf->backup);
		printf("create id=%u local=%s ifindex=%d backup=%d rc=%d msg=\"%s\"\n", sf->id,
		       addr_format(&sf->local, false, a), sf->ifindex, sf->backup, ret, pm.err_msg);
		fflush(stdout);
		if (ret < 0) {
			sf->state = -1;
			ok = false;
		}
	}
	if (!wait_events(&pm, fd, &c, subflows_settled, timeout))
		ok = false;
	k = subflow_count(s, &info);
	kmax = k;
	printf("state subflows=%d token=%08x\n", k, c.token);
	fflush(stdout);

	if (hold) {
		double deadline = now() + 30;

		while (access(hold, F_OK) != 0 && now() < deadline)
			wait_events(&pm, fd, &c, file_exists, 0.02);
	}
	if (set_backup) {
		for (int i = 0; i < c.nsub; i++) {
			struct subflow *sf = &c.sub[i];

			if (sf->state != 1)
				continue;
			ret = pm_subflow_set_backup(&pm, c.token, &sf->local, &remote, !sf->backup);
			printf("set_backup id=%u backup=%d rc=%d msg=\"%s\"\n", sf->id, !sf->backup,
			       ret, pm.err_msg);
			fflush(stdout);
			if (ret < 0)
				ok = false;
		}
		wait_events(&pm, fd, &c, NULL, 0.2);
	}
	if (destroy) {
		for (int i = 0; i < c.nsub; i++) {
			struct subflow *sf = &c.sub[i];

			if (sf->state != 1)
				continue;
			ret = pm_subflow_destroy(&pm, c.token, &sf->local, &remote);
			printf("destroy id=%u local_port=%u rc=%d msg=\"%s\"\n", sf->id,
			       sf->local.port, ret, pm.err_msg);
			fflush(stdout);
			if (ret < 0)
				ok = false;
		}
		if (!wait_events(&pm, fd, &c, subflows_closed, timeout))
			ok = false;
		k = subflow_count(s, &info);
		printf("state subflows=%d token=%08x\n", k, c.token);
		fflush(stdout);
	}

	ret = send_pattern(s, &sent, bytes, &sha);
	if (ret < 0 || shutdown(s, SHUT_WR) == -1) {
		fprintf(stderr, "pmtool: send: %s\n", strerror(ret < 0 ? -ret : errno));
		ok = false;
		goto cleanup;
	}
	while (rlen < sizeof(reply) - 1) {
		n = recv(s, reply + rlen, sizeof(reply) - 1 - rlen, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rlen += (size_t)n;
	}
	reply[rlen] = '\0';
	k = subflow_count(s, &info);
	crypto_hash_sha256_final(&sha, digest);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	got_hex[0] = '\0';
	if (sscanf(reply, "GOT %" SCNu64 " %79s", &got, got_hex) != 2)
		got = 0;
	wait_events(&pm, fd, &c, NULL, 0.05);
	printf("subflows=%d subflows_max=%d token=%08x bytes=%" PRIu64 " got=%" PRIu64
	       " verified=%d\n",
	       k, kmax > k ? kmax : k, c.token, sent, got,
	       got == sent && strcmp(got_hex, hex) == 0);
	if (got != sent || strcmp(got_hex, hex) != 0)
		ok = false;
cleanup:
	if (s != -1)
		close(s);
	pm_close(&pm);
	return ok ? 0 : 1;
}

static int cmd_create(int argc, char **argv)
{
	struct pm pm;
	struct addr_port local, remote;
	bool backup = false;
	int ifindex, ret;
	unsigned long id = 1;

	if (argc < 5 || !parse_local(argv[3], &local, &ifindex) ||
	    !addr_parse(argv[4], -1, &remote))
		return 2;
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "--id") && i + 1 < argc)
			id = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--backup"))
			backup = true;
		else
			return 2;
	}
	if (open_pm(&pm, NULL) < 0)
		return 1;
	ret = pm_subflow_create(&pm, (uint32_t)strtoul(argv[2], NULL, 16), (uint8_t)id, &local,
				ifindex, &remote, backup);
	print_error("create", ret, &pm);
	pm_close(&pm);
	return ret < 0 ? 1 : 0;
}

/* destroy TOKEN LOCAL:PORT REMOTE:PORT and set-backup TOKEN LOCAL:PORT REMOTE:PORT 0|1 */
static int cmd_subflow(int argc, char **argv)
{
	struct pm pm;
	struct addr_port local, remote;
	bool set = !strcmp(argv[1], "set-backup");
	uint32_t token;
	int ret;

	if (argc != (set ? 6 : 5) || !addr_parse(argv[3], 0, &local) ||
	    !addr_parse(argv[4], -1, &remote))
		return 2;
	token = (uint32_t)strtoul(argv[2], NULL, 16);
	if (open_pm(&pm, NULL) < 0)
		return 1;
	if (set)
		ret = pm_subflow_set_backup(&pm, token, &local, &remote, atoi(argv[5]) != 0);
	else
		ret = pm_subflow_destroy(&pm, token, &local, &remote);
	print_error(argv[1], ret, &pm);
	pm_close(&pm);
	return ret < 0 ? 1 : 0;
}

static void usage(FILE *f)
{
	fputs("usage: pmtool events [--count N] [--timeout S]\n"
	      "       pmtool connect HOST PORT [--first-id N] [--subflow ADDR[@IFNAME]]...\n"
	      "                      [--backup-last] [--bytes N] [--hold FILE] [--set-backup]\n"
	      "                      [--destroy] [--timeout S]\n"
	      "       pmtool create TOKEN(hex) LOCAL[@IFNAME] REMOTE:PORT [--id N] [--backup]\n"
	      "       pmtool destroy TOKEN(hex) LOCAL[:PORT] REMOTE:PORT\n"
	      "       pmtool set-backup TOKEN(hex) LOCAL[:PORT] REMOTE:PORT 0|1\n",
	      f);
}

int main(int argc, char **argv)
{
	int ret = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "events"))
		ret = cmd_events(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "connect"))
		ret = cmd_connect(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "create"))
		ret = cmd_create(argc, argv);
	else if (argc >= 2 && (!strcmp(argv[1], "destroy") || !strcmp(argv[1], "set-backup")))
		ret = cmd_subflow(argc, argv);
	if (ret == 2)
		usage(stderr);
	return ret;
}
