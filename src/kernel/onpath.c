// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The on-path converter's classification of the SYNs crossing it (the nftables rule text,
 * pure), the join listeners it keeps per destination port while that port has sessions, and
 * the nflog watch that opens a port's join listener at its first MP_CAPABLE SYN. It owns those
 * listeners and that netlink socket; it never accepts from a join listener (joins attach to
 * their connection inside the kernel) and never touches a packet.
 */
#include "onpath.h"

#include "strbuf.h"

#include "addr.h"
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

/* Matches a SYN, and only a SYN: no SYN-ACK, no stray RST/FIN combinations. */
#define ONPATH_SYN	   "tcp flags syn / fin,syn,rst,ack"
#define ONPATH_SNAPLEN	   96 /* IPv6 header + TCP header: all a notice needs */
#define ONPATH_SWEEP_MS	   1000
#define ONPATH_JOIN_BACKLOG 64 /* joins wait there only for their handshake */

int onpath_render(const struct onpath_rules *r, char *buf, size_t len)
{
	struct strbuf b = { .p = buf, .len = len };

	if (!buf || len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	/* The operator's "do not interfere with native MPTCP": such servers get it end to end. */
	if (r->native_ports_len) {
		strbuf_put(&b, "\t\ttcp dport { ");
		for (size_t i = 0; i < r->native_ports_len && i < ONPATH_MAX_NATIVE_PORTS; i++)
			strbuf_put(&b, "%s%u", i ? ", " : "", r->native_ports[i]);
		strbuf_put(&b, " } accept\n");
	}
	/* SYNs first, each kind decided here and never by a socket lookup: a lookup also finds
	 * listeners, and a listener of a port would swallow every later SYN to that port. */
	strbuf_put(&b, "\t\t" ONPATH_SYN " tcp option mptcp missing accept\n");
	if (r->log_group && !r->draining)
		strbuf_put(&b,
			   "\t\t" ONPATH_SYN " tcp option mptcp subtype 0 log group %u snaplen %u"
			   " queue-threshold 1\n",
			   r->log_group, ONPATH_SNAPLEN);
	if (!r->draining)
		strbuf_put(&b,
			   "\t\t" ONPATH_SYN " tcp option mptcp subtype 0 meta nfproto ipv4"
			   " tproxy ip to 127.0.0.1:%u meta mark set 0x%08x accept\n",
			   r->port, r->mark);
	if (r->ipv6 && !r->draining)
		strbuf_put(&b,
			   "\t\t" ONPATH_SYN " tcp option mptcp subtype 0 meta nfproto ipv6"
			   " tproxy ip6 to [::1]:%u meta mark set 0x%08x accept\n",
			   r->port, r->mark);
	/* Port-less: the join keeps its port and finds that port's join listener, if any. */
	strbuf_put(&b,
		   "\t\t" ONPATH_SYN " tcp option mptcp subtype 1 meta nfproto ipv4"
		   " tproxy ip to 127.0.0.1 meta mark set 0x%08x accept\n",
		   r->mark);
	if (r->ipv6)
		strbuf_put(&b,
			   "\t\t" ONPATH_SYN " tcp option mptcp subtype 1 meta nfproto ipv6"
			   " tproxy ip6 to [::1] meta mark set 0x%08x accept\n",
			   r->mark);
	/* No listener took it (a join for a port without our sessions, another subtype, the
	 * daemon not ready): not ours, routed on as it came. */
	strbuf_put(&b, "\t\t" ONPATH_SYN " accept\n"
		       "\t\tsocket transparent 1 meta mark set 0x%08x accept\n",
		   r->mark);
	if (b.full)
		return -ENOSPC;
	return (int)b.used;
}

int onpath_syn_dest(const uint8_t *pkt, size_t len, bool *v6, uint16_t *port)
{
	size_t l4;

	if (len < 1)
		return -EBADMSG;
	switch (pkt[0] >> 4) {
	case 4:
		l4 = (size_t)(pkt[0] & 0x0f) * 4;
		if (l4 < 20 || len < l4 + 4 || pkt[9] != 6 /* TCP */)
			return -EBADMSG;
		*v6 = false;
		break;
	case 6:
		/* a SYN with extension headers is not worth parsing: its join listener opens at
		 * accept instead */
		l4 = 40;
		if (len < l4 + 4 || pkt[6] != 6)
			return -EBADMSG;
		*v6 = true;
		break;
	default:
		return -EBADMSG;
	}
	*port = (uint16_t)(pkt[l4 + 2] << 8 | pkt[l4 + 3]);
	return *port ? 0 : -EBADMSG;
}

/* ------------------------------------------------------------------------------------------ */
/* join listeners */

static int onpath_open_loopback(uint16_t port, bool v6)
{
	struct sock_listen_opts opts = {
		.mptcp = true, .transparent = true, .backlog = ONPATH_JOIN_BACKLOG
	};
	struct addr_port where = { .port = port };
	bool mptcp;
	int fd;

	if (v6)
		where.ip[15] = 1; /* ::1 */
	else
		memcpy(where.ip, (const uint8_t[]){ [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 }, 16);
	fd = sock_listen(&where, &opts, &mptcp);
	if (fd >= 0 && !mptcp) {
		close(fd);
		return -EPROTONOSUPPORT;
	}
	return fd;
}

int onpath_joins_init(struct onpath_joins *j)
{
	memset(j, 0, sizeof(*j));
	j->grace_ms = ONPATH_JOIN_GRACE_MS;
	j->open_listener = onpath_open_loopback;
	return -pthread_mutex_init(&j->lock, NULL);
}

static void onpath_join_close(struct onpath_joins *j, struct onpath_join *e)
{
	for (int f = 0; f < 2; f++) {
		if (e->fd[f] >= 0) {
			close(e->fd[f]);
			e->fd[f] = -1;
			j->closed++;
		}
	}
}

void onpath_joins_destroy(struct onpath_joins *j)
{
	for (size_t i = 0; i < j->len; i++)
		onpath_join_close(j, &j->v[i]);
	free(j->v);
	j->v = NULL;
	j->len = j->cap = 0;
	pthread_mutex_destroy(&j->lock);
}

/* The port's entry, created if needed. Lock held. */
static struct onpath_join *onpath_join_get(struct onpath_joins *j, uint16_t port)
{
	struct onpath_join *e;

	for (size_t i = 0; i < j->len; i++) {
		if (j->v[i].port == port)
			return &j->v[i];
	}
	if (j->len == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 16;
		struct onpath_join *v = realloc(j->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		j->v = v;
		j->cap = cap;
	}
	e = &j->v[j->len++];
	*e = (struct onpath_join){ .port = port, .fd = { -1, -1 } };
	return e;
}

/* Lock held. */
static int onpath_join_open(struct onpath_joins *j, struct onpath_join *e, bool v6)
{
	int fd;

	if (e->fd[v6] >= 0)
		return 0;
	fd = j->open_listener(e->port, v6);
	if (fd < 0)
		return fd;
	e->fd[v6] = fd;
	j->opened++;
	return 0;
}

int onpath_joins_prepare(struct onpath_joins *j, uint16_t port, bool v6, uint64_t now_ms)
{
	struct onpath_join *e;
	int ret = -ENOMEM;

	pthread_mutex_lock(&j->lock);
	e = onpath_join_get(j, port);
	if (e) {
		e->last_ms = now_ms;
		ret = onpath_join_open(j, e, v6);
	}
	pthread_mutex_unlock(&j->lock);
	return ret;
}

int onpath_joins_hold(struct onpath_joins *j, uint16_t port, bool v6, uint64_t now_ms)
{
	struct onpath_join *e;
	int ret = -ENOMEM;

	pthread_mutex_lock(&j->lock);
	e = onpath_join_get(j, port);
	if (e) {
		e->refs++; /* held even when the open failed: release stays symmetric */
		e->last_ms = now_ms;
		ret = onpath_join_open(j, e, v6);
	}
	pthread_mutex_unlock(&j->lock);
	return ret;
}

void onpath_joins_release(struct onpath_joins *j, uint16_t port, uint64_t now_ms)
{
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < j->len; i++) {
		if (j->v[i].port == port && j->v[i].refs > 0) {
			j->v[i].refs--;
			j->v[i].last_ms = now_ms;
			break;
		}
	}
	pthread_mutex_unlock(&j->lock);
}

size_t onpath_joins_sweep(struct onpath_joins *j, uint64_t now_ms)
{
	size_t kept = 0;

	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < j->len; i++) {
		struct onpath_join *e = &j->v[i];

		/* grace: a SYN just seen has a handshake (and maybe a join) on its way */
		if (e->refs == 0 && now_ms >= e->last_ms + j->grace_ms)
			onpath_join_close(j, e);
		else
			j->v[kept++] = *e;
	}
	j->len = kept;
	pthread_mutex_unlock(&j->lock);
	return kept;
}

/* ------------------------------------------------------------------------------------------ */
/* nflog: one notice per MP_CAPABLE SYN */

static struct nlmsghdr *onpath_log_msg(char *buf, uint16_t group)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(group);
	return nlh;
}

static int onpath_log_config(int fd, uint16_t group)
{
	char buf[256] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = { .copy_range = htonl(ONPATH_SNAPLEN),
					       .copy_mode = NFULNL_COPY_PACKET };
	struct nlmsghdr *nlh = onpath_log_msg(buf, group);
	struct nlmsgerr *e;
	ssize_t n;

	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
	if (send(fd, nlh, nlh->nlmsg_len, 0) == -1)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n == -1)
		return -errno;
	nlh = (struct nlmsghdr *)buf;
	if (!mnl_nlmsg_ok(nlh, (int)n) || nlh->nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	e = mnl_nlmsg_get_payload(nlh);
	return e->error; /* 0 or -errno; EBUSY: another process has the group */
}

static int onpath_log_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= NFULA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int onpath_log_packet(const struct nlmsghdr *nlh, void *data)
{
	struct onpath_watch *w = data;
	const struct nlattr *tb[NFULA_MAX + 1] = { NULL };
	uint16_t port;
	bool v6;

	if ((nlh->nlmsg_type & 0xff) != NFULNL_MSG_PACKET)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), onpath_log_attr, tb);
	if (!tb[NFULA_PAYLOAD] ||
	    onpath_syn_dest(mnl_attr_get_payload(tb[NFULA_PAYLOAD]),
			    mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]), &v6, &port) < 0)
		return MNL_CB_OK;
	w->notices++;
	if (onpath_joins_prepare(w->joins, port, v6, loop_clock_ms()) < 0)
		w->failures++; /* the accept will try again, and log */
	return MNL_CB_OK;
}

static void onpath_on_log(struct loop_io *io, uint32_t events)
{
	struct onpath_watch *w = container_of(io, struct onpath_watch, io);
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t n;

	(void)events;
	for (;;) {
		n = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == -1 && errno == ENOBUFS)
			continue; /* notices lost: those ports' listeners open at accept */
		if (n <= 0)
			return;
		mnl_cb_run(buf, (size_t)n, 0, 0, onpath_log_packet, w);
	}
}

static void onpath_on_sweep(struct loop_timer *t)
{
	struct onpath_watch *w = container_of(t, struct onpath_watch, sweep);

	onpath_on_log(&w->io, 0); /* notices first: a listener about to be used stays */
	onpath_joins_sweep(w->joins, loop_clock_ms());
	loop_timer_arm(w->loop, &w->sweep, ONPATH_SWEEP_MS);
}

int onpath_watch_start(struct onpath_watch *w, struct loop *loop, struct onpath_joins *joins,
		       uint16_t group)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, ret;

	*w = (struct onpath_watch){ .loop = loop, .joins = joins, .group = group };
	w->io.fd = -1;
	w->io.on_event = onpath_on_log;
	loop_timer_init(&w->sweep, onpath_on_sweep);
	ret = loop_timer_arm(loop, &w->sweep, ONPATH_SWEEP_MS);
	if (ret < 0)
		return ret;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd == -1)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		ret = -errno;
		goto cleanup;
	}
	ret = onpath_log_config(fd, group);
	if (ret < 0)
		goto cleanup;
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		ret = -errno;
		goto cleanup;
	}
	w->io.fd = fd;
	ret = loop_add(loop, &w->io, EPOLLIN);
	if (ret < 0) {
		w->io.fd = -1;
		goto cleanup;
	}
	return 0;
cleanup:
	close(fd);
	return ret;
}

void onpath_watch_stop(struct onpath_watch *w)
{
	if (!w->loop)
		return;
	loop_timer_cancel(w->loop, &w->sweep);
	if (w->io.fd >= 0) {
		loop_remove(w->loop, &w->io);
		close(w->io.fd);
		w->io.fd = -1;
	}
	w->loop = NULL;
}
