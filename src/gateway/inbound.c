// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Inbound sessions on the gateway (issue 15): a reverse pool of MPTCP connections it opens to
 * its converter's inbound-listen (subflows on every usable link, by `paths`, like the outbound
 * pool), each registered with the published services (challenge answered with an HMAC of
 * inbound-key). When the converter hands one an Internet client (a Connect TLV naming a LAN
 * service), it connects to that LAN host and relays. It only ever connects to a destination
 * it published itself; anything else resets the reverse connection.
 */
#include "gateway.h"

#include "log.h"
#include "publish.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GWI_TICK_MS	   250
#define GWI_BACKOFF_MIN_MS 100
#define GWI_BACKOFF_MAX_MS 30000 /* RFC 8803's wait after a refusal */
#define GWI_REGISTER_MS	   10000 /* connect + challenge + answer */
#define GWI_HEALTHY_MS	   1000	 /* a registered connection dropped later is no failure */
/* An idle reverse connection is renewed after this (plus up to a quarter more, so they do not
 * all go at once): NATs and CGNs on access links forget idle flows after a few minutes. */
#define GWI_MAX_IDLE_MS 120000

enum gwi_state { GWI_CONNECTING, GWI_WAIT_CHALLENGE, GWI_WAIT_ACCEPT, GWI_IDLE };

struct gwi_rev {
	struct loop_io io;
	struct gw_inbound *in;
	struct list_node node;
	struct loop_timer timer;
	enum gwi_state state;
	struct paths_conn *path;
	uint64_t since_ms;
	uint8_t buf[PUB_MSG_MAX]; /* a peeked message */
};

struct gwi_session {
	struct session base; /* A: the reverse connection (the Internet client), B: the LAN host */
	struct gw_inbound *in;
	struct paths_conn *path;
	bool transparent; /* the LAN host sees the client's address */
};

struct gw_inbound {
	struct gateway *gw;
	struct list revs;     /* connecting, registering and idle */
	struct list sessions; /* struct gwi_session */
	unsigned idle;
	struct loop_timer tick;
	uint64_t backoff_ms, retry_at_ms;
	bool auth_warned;
	uint8_t status[PUB_MAX_SERVICES]; /* the converter's last answer, per publish line */
	size_t status_len;
	struct gwi_stats {
		unsigned long opened, registered, failed, refused_auth, sessions, refused_dest,
			lan_failures, bytes_in, bytes_out;
	} stats;
};

static void gwi_on_rev(struct loop_io *io, uint32_t events);

static const struct config_inbound_gateway *gwi_conf(const struct gw_inbound *in)
{
	return &in->gw->config.gateway.inbound;
}

static void gwi_rev_free(struct gwi_rev *rev, bool reset)
{
	struct gw_inbound *in = rev->in;

	loop_timer_cancel(&in->gw->loop, &rev->timer);
	list_remove(&in->revs, &rev->node);
	if (rev->state == GWI_IDLE)
		in->idle--;
	if (rev->path)
		paths_forget(&in->gw->paths, rev->path);
	if (rev->io.fd >= 0) {
		loop_remove(&in->gw->loop, &rev->io);
		if (reset)
			sock_set_reset_on_close(rev->io.fd);
		close(rev->io.fd);
	}
	free(rev);
}

static void gwi_failed(struct gw_inbound *in, uint64_t floor_ms)
{
	in->stats.failed++;
	in->backoff_ms = in->backoff_ms ? in->backoff_ms * 2 : GWI_BACKOFF_MIN_MS;
	if (in->backoff_ms < floor_ms)
		in->backoff_ms = floor_ms;
	if (in->backoff_ms > GWI_BACKOFF_MAX_MS)
		in->backoff_ms = GWI_BACKOFF_MAX_MS;
	in->retry_at_ms = in->gw->loop.now_ms + in->backoff_ms;
}

static void gwi_on_rev_timer(struct loop_timer *t)
{
	struct gwi_rev *rev = container_of(t, struct gwi_rev, timer);
	struct gw_inbound *in = rev->in;

	gwi_rev_free(rev, true);
	gwi_failed(in, 0);
}

static void gwi_open_one(struct gw_inbound *in)
{
	struct gateway *gw = in->gw;
	const struct config_inbound_gateway *conf = gwi_conf(in);
	struct sock_connect_opts opts = gw_upstream_opts(gw);
	struct gwi_rev *rev = calloc(1, sizeof(*rev));
	int family = gw_family(&conf->converter), fd, link;

	if (!rev) {
		gwi_failed(in, 0);
		return;
	}
	/* The initial subflow leaves by the best live link, as the outbound pool's do. */
	if (gw->links_on) {
		link = links_pick_initial(&gw->links, 0, family);
		opts.has_local =
			link >= 0 && links_local_addr(&gw->links, link, family, &opts.local);
	}
	fd = sock_connect(&conf->converter, &opts);
	if (fd < 0) {
		free(rev);
		gwi_failed(in, 0);
		return;
	}
	rev->io.fd = fd;
	rev->io.on_event = gwi_on_rev;
	rev->in = in;
	rev->state = GWI_CONNECTING;
	rev->since_ms = gw->loop.now_ms;
	loop_timer_init(&rev->timer, gwi_on_rev_timer);
	list_push(&in->revs, &rev->node);
	in->stats.opened++;
	if (loop_add(&gw->loop, &rev->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0 ||
	    loop_timer_arm(&gw->loop, &rev->timer, GWI_REGISTER_MS) < 0) {
		gwi_rev_free(rev, true);
		gwi_failed(in, 0);
	}
}

static void gwi_refill(struct gw_inbound *in)
{
	if (in->gw->draining || in->gw->loop.now_ms < in->retry_at_ms)
		return;
	while (in->revs.len < gwi_conf(in)->pool) {
		size_t before = in->revs.len;

		gwi_open_one(in);
		if (in->revs.len == before)
			return;
	}
}

/* Closes idle reverse connections older than max_age_ms (0: all); the refill replaces them. */
static void gwi_renew(struct gw_inbound *in, uint64_t max_age_ms)
{
	struct list_node *n = in->revs.first;
	uint64_t now = in->gw->loop.now_ms;

	while (n) {
		struct gwi_rev *rev = list_entry(n, struct gwi_rev, node);
		/* a spread from the connection's own address, stable over its life */
		uint64_t spread = max_age_ms ? ((uintptr_t)rev >> 4) % (max_age_ms / 4) : 0;

		n = n->next;
		if (rev->state == GWI_IDLE && now - rev->since_ms >= max_age_ms + spread)
			gwi_rev_free(rev, false);
	}
}

static void gwi_on_tick(struct loop_timer *t)
{
	struct gw_inbound *in = container_of(t, struct gw_inbound, tick);

	gwi_renew(in, GWI_MAX_IDLE_MS);
	gwi_refill(in);
	loop_timer_arm(&in->gw->loop, &in->tick, GWI_TICK_MS);
}

static int gwi_send_register(struct gw_inbound *in, struct gwi_rev *rev, const uint8_t *nonce)
{
	const struct config_inbound_gateway *conf = gwi_conf(in);
	struct pub_service svc[PUB_MAX_SERVICES];
	uint8_t out[PUB_MSG_MAX];
	int len;

	for (size_t i = 0; i < conf->publish_len; i++) {
		svc[i].public_port = conf->publish[i].public_port;
		svc[i].lan_port = conf->publish[i].lan.port;
		memcpy(svc[i].lan_addr, conf->publish[i].lan.ip, 16);
	}
	len = pub_write_register(out, sizeof(out), conf->name, svc, conf->publish_len, nonce,
				 conf->key);
	if (len < 0)
		return len;
	return write(rev->io.fd, out, (size_t)len) == len ? 0 : -EIO;
}

/* The registration's answer: per-service status, or a refusal. false: rev was freed. */
static bool gwi_accepted(struct gw_inbound *in, struct gwi_rev *rev, const struct pub_message *m)
{
	if (m->kind == PUB_ERROR) {
		if (m->error == 32) {
			in->stats.refused_auth++;
			if (!in->auth_warned)
				log_warnx(
					"inbound: the converter refused our registration as '%s' "
					"(Not Authorized: inbound-name or inbound-key differ from "
					"its inbound-cpe); retrying every %d s",
					gwi_conf(in)->name, GWI_BACKOFF_MAX_MS / 1000);
			in->auth_warned = true;
		}
		gwi_rev_free(rev, false);
		gwi_failed(in, m->error == 32 ? GWI_BACKOFF_MAX_MS : 0);
		return false;
	}
	for (size_t i = 0; i < m->status_len; i++) {
		if (m->status[i] != PUB_STATUS_LISTENING &&
		    (in->status_len <= i || in->status[i] != m->status[i]))
			log_warnx("inbound: public port %u: %s",
				  gwi_conf(in)->publish[i].public_port,
				  pub_status_name(m->status[i]));
	}
	if (!in->stats.registered || in->auth_warned)
		log_info("inbound: registered with the converter (%zu services)", m->status_len);
	memcpy(in->status, m->status, m->status_len);
	in->status_len = m->status_len;
	in->auth_warned = false;
	in->stats.registered++;
	in->backoff_ms = 0;
	loop_timer_cancel(&in->gw->loop, &rev->timer);
	rev->state = GWI_IDLE;
	rev->since_ms = in->gw->loop.now_ms;
	in->idle++;
	return true;
}

/* The published service the converter names, or -1: nothing else is ever connected to. */
static int gwi_published(const struct gw_inbound *in, const struct pub_message *m)
{
	const struct config_inbound_gateway *conf = gwi_conf(in);

	for (size_t i = 0; i < conf->publish_len; i++)
		if (conf->publish[i].lan.port == m->dest_port &&
		    !memcmp(conf->publish[i].lan.ip, m->dest_addr, 16))
			return (int)i;
	return -1;
}

static void gwi_close(struct gwi_session *s, const char *reason)
{
	struct gw_inbound *in = s->in;
	char client[ADDR_STRLEN], dest[ADDR_STRLEN];
	uint64_t up = s->base.relay.dir[RELAY_A].bytes, down = s->base.relay.dir[RELAY_B].bytes;

	in->stats.bytes_in += up;
	in->stats.bytes_out += down;
	log_info("inbound %s -> %s%s: %s, %llu bytes in, %llu out, %llu ms",
		 addr_format(&s->base.client, true, client), addr_format(&s->base.dest, true, dest),
		 s->transparent ? "" : " (from the gateway's address)", reason,
		 (unsigned long long)up, (unsigned long long)down,
		 (unsigned long long)(in->gw->loop.now_ms - s->base.started_ms));
	if (s->path)
		paths_forget(&in->gw->paths, s->path);
	session_release(&s->base, &in->sessions, !s->base.relayed);
	free(s);
}

static void gwi_on_relay_end(struct relay *r)
{
	struct gwi_session *s = container_of(r, struct gwi_session, base.relay);

	gwi_close(s, relay_end_name(r->end));
}

static void gwi_on_lan(struct loop_io *io, uint32_t events)
{
	struct gwi_session *s = container_of(io, struct gwi_session, base.relay.io[RELAY_B]);
	struct gw_inbound *in = s->in;
	struct gateway *gw = in->gw;
	struct relay_params params = { .idle_timeout_ms = gw->config.gateway.common.idle_timeout_ms,
				       .use_splice = gw->config.gateway.common.splice };
	int err = sock_pending_error(io->fd);

	if (err == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
		in->stats.lan_failures++;
		gwi_close(s, "LAN host unreachable or refused");
		return;
	}
	loop_timer_cancel(&gw->loop, &s->base.timer);
	s->base.relayed = true;
	in->stats.sessions++;
	if (relay_start(&s->base.relay, &gw->loop, &gw->pipes, &params, gwi_on_relay_end) < 0) {
		s->base.relayed = false;
		gwi_close(s, "relay start failed");
	}
}

static void gwi_on_rev_in_session(struct loop_io *io, uint32_t events)
{
	struct gwi_session *s = container_of(io, struct gwi_session, base.relay.io[RELAY_A]);

	/* a half-close (request sent, SHUT_WR) is no departure: the relay passes it on */
	if (events & (EPOLLHUP | EPOLLERR))
		gwi_close(s, "the Internet client left before the LAN host answered");
}

static void gwi_on_session_timer(struct loop_timer *t)
{
	struct gwi_session *s = container_of(t, struct gwi_session, base.timer);

	s->in->stats.lan_failures++;
	gwi_close(s, "LAN host did not answer");
}

/* The LAN leg: from the client's own address when allowed, else the gateway's. */
static int gwi_lan_connect(struct gw_inbound *in, struct gwi_session *s)
{
	struct sockaddr_storage dst, src;
	socklen_t dlen = addr_to_sockaddr(&s->base.dest, &dst), slen;
	struct addr_port from = s->base.client;
	bool v4 = addr_is_v4mapped(s->base.dest.ip);
	int fd, one = 1;

	fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	sock_set_nodelay(fd);
	s->transparent = gwi_conf(in)->source == CONFIG_PUBLISH_CLIENT &&
			 in->gw->intercept_installed && !in->gw->redirect_forced &&
			 in->gw->config.gateway.intercept_method == CONFIG_INTERCEPT_TPROXY &&
			 addr_is_v4mapped(from.ip) == v4 && !addr_is_unspecified(from.ip);
	if (s->transparent) {
		from.port = 0;
		slen = addr_to_sockaddr(&from, &src);
		if (setsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT,
			       &one, sizeof(one)) == -1 ||
		    bind(fd, (struct sockaddr *)&src, slen) == -1)
			s->transparent = false; /* the gateway's own address, said in the close */
	}
	if (connect(fd, (struct sockaddr *)&dst, dlen) == -1 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * The converter handed rev an Internet client: the message is peeked (the client's bytes
 * behind it stay in the socket for the relay), checked, consumed; then the LAN connect.
 * false while the message is not complete.
 */
static bool gwi_open(struct gw_inbound *in, struct gwi_rev *rev)
{
	struct gateway *gw = in->gw;
	struct pub_message m;
	struct gwi_session *s;
	ssize_t n = recv(rev->io.fd, rev->buf, sizeof(rev->buf), MSG_PEEK);
	int ret, fd, rfd;

	if (n == -1 && errno == EAGAIN)
		return false;
	if (n <= 0) {
		gwi_rev_free(rev, false); /* the converter closed it (restart, shutdown) */
		return true;
	}
	ret = pub_parse(rev->buf, (size_t)n, &m);
	if (ret == -EAGAIN && (size_t)n < sizeof(rev->buf))
		return false;
	if (ret < 0 || m.kind != PUB_OPEN || gwi_published(in, &m) < 0) {
		in->stats.refused_dest++;
		log_warnx("inbound: the converter asked for %s: refused (only published services "
			  "are reached)",
			  ret < 0 || m.kind != PUB_OPEN ? "something malformed"
							: "an unpublished destination");
		gwi_rev_free(rev, true);
		return true;
	}
	if (recv(rev->io.fd, rev->buf, (size_t)ret, 0) != ret) {
		gwi_rev_free(rev, true);
		return true;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		gwi_rev_free(rev, true);
		return true;
	}
	rfd = rev->io.fd;
	loop_remove(&gw->loop, &rev->io);
	rev->io.fd = -1;
	s->path = rev->path; /* the session keeps managing its subflows */
	rev->path = NULL;
	gwi_rev_free(rev, false);
	gwi_refill(in); /* a replacement now, not at the next tick: bursts come in groups */
	s->in = in;
	session_init(&s->base, &in->sessions, &gw->loop, rfd, gwi_on_rev_in_session,
		     gwi_on_session_timer);
	memcpy(s->base.client.ip, m.client_addr, 16);
	s->base.client.port = m.client_port;
	memcpy(s->base.dest.ip, m.dest_addr, 16);
	s->base.dest.port = m.dest_port;
	if (loop_add(&gw->loop, &s->base.relay.io[RELAY_A], RELAY_EPOLL_EVENTS) < 0) {
		gwi_close(s, "out of memory");
		return true;
	}
	fd = gwi_lan_connect(in, s);
	if (fd < 0) {
		in->stats.lan_failures++;
		gwi_close(s, "LAN connect failed");
		return true;
	}
	s->base.relay.io[RELAY_B].fd = fd;
	s->base.relay.io[RELAY_B].on_event = gwi_on_lan;
	if (loop_add(&gw->loop, &s->base.relay.io[RELAY_B], RELAY_EPOLL_EVENTS) < 0 ||
	    !session_arm(&s->base, gw->config.gateway.common.connect_timeout_ms))
		gwi_close(s, "out of memory");
	return true;
}

static void gwi_on_rev(struct loop_io *io, uint32_t events)
{
	struct gwi_rev *rev = container_of(io, struct gwi_rev, io);
	struct gw_inbound *in = rev->in;
	struct gateway *gw = in->gw;
	struct pub_message m;
	int ret;

	if (rev->state == GWI_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLIN | EPOLLERR | EPOLLHUP)))
			return;
		if (sock_pending_error(io->fd) != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			gwi_rev_free(rev, false);
			gwi_failed(in, 0);
			return;
		}
		rev->state = GWI_WAIT_CHALLENGE;
		if (gw->paths_on) /* subflows on every usable link once the exchange is acked */
			rev->path = paths_track(&gw->paths, io->fd, 0, 0);
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	if (rev->state == GWI_IDLE) {
		bool healthy = gw->loop.now_ms - rev->since_ms >= GWI_HEALTHY_MS;

		if (gwi_open(in, rev) || !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			return;
		/* a message cut short by the converter's end */
		gwi_rev_free(rev, true);
		if (!healthy)
			gwi_failed(in, 0);
		return;
	}
	for (;;) {
		/* one message at a time, peeked then consumed: whatever follows it (the converter's
		 * first OPEN right behind its ACCEPT) stays in the socket */
		ssize_t n = recv(io->fd, rev->buf, sizeof(rev->buf), MSG_PEEK);

		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0)
			goto failed;
		ret = pub_parse(rev->buf, (size_t)n, &m);
		if (ret == -EAGAIN && (size_t)n < sizeof(rev->buf)) {
			if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				goto failed;
			return;
		}
		if (ret < 0 || (rev->state == GWI_WAIT_CHALLENGE && m.kind != PUB_CHALLENGE) ||
		    (rev->state == GWI_WAIT_ACCEPT && m.kind != PUB_ACCEPT &&
		     m.kind != PUB_ERROR)) {
			log_warnx("inbound: unexpected answer from the converter (is "
				  "inbound-converter its inbound-listen?)");
			goto failed;
		}
		if (recv(io->fd, rev->buf, (size_t)ret, 0) != ret)
			goto failed;
		if (rev->state == GWI_WAIT_CHALLENGE) {
			if (gwi_send_register(in, rev, m.nonce) < 0)
				goto failed;
			rev->state = GWI_WAIT_ACCEPT;
			continue;
		}
		/* edge-triggered: an OPEN already behind the ACCEPT gets no event of its own */
		if (gwi_accepted(in, rev, &m))
			gwi_open(in, rev);
		return;
	}
failed:
	gwi_rev_free(rev, true);
	gwi_failed(in, 0);
}

int gwi_start(struct gateway *gw)
{
	const struct config_inbound_gateway *conf = &gw->config.gateway.inbound;
	struct gw_inbound *in;
	char where[ADDR_STRLEN];

	if (conf->publish_len == 0)
		return 0;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->gw = gw;
	loop_timer_init(&in->tick, gwi_on_tick);
	gw->inbound = in;
	if (conf->source == CONFIG_PUBLISH_CLIENT &&
	    (!gw->config.gateway.intercept ||
	     gw->config.gateway.intercept_method != CONFIG_INTERCEPT_TPROXY || gw->redirect_forced))
		log_warnx("inbound: publish-source = client needs the TPROXY capture (its socket "
			  "rule brings the LAN host's answers back): LAN hosts see the gateway's "
			  "address");
	log_info("inbound: %zu services published through %s as '%s', %u reverse connections",
		 conf->publish_len, addr_format(&conf->converter, true, where), conf->name,
		 conf->pool);
	gwi_refill(in);
	return loop_timer_arm(&gw->loop, &in->tick, GWI_TICK_MS);
}

void gwi_stop(struct gateway *gw)
{
	struct gw_inbound *in = gw->inbound;

	if (!in)
		return;
	while (in->sessions.first)
		gwi_close(list_entry(in->sessions.first, struct gwi_session, base.node),
			  "shutdown");
	while (in->revs.first)
		gwi_rev_free(list_entry(in->revs.first, struct gwi_rev, node), false);
	loop_timer_cancel(&gw->loop, &in->tick);
	free(in);
	gw->inbound = NULL;
}

void gwi_reload(struct gateway *gw)
{
	if (!gw->inbound) {
		if (gwi_start(gw) < 0)
			log_warnx("inbound: cannot start after the reload");
		return;
	}
	if (gw->config.gateway.inbound.publish_len == 0) {
		log_info("inbound: nothing published any more");
		gwi_stop(gw);
		return;
	}
	/* the next registrations carry the new services, name and key */
	gw->inbound->backoff_ms = 0;
	gw->inbound->retry_at_ms = 0;
	gwi_renew(gw->inbound, 0);
	gwi_refill(gw->inbound);
}

void gwi_report(const struct gateway *gw, struct reply *r, bool json)
{
	const struct gw_inbound *in = gw->inbound;
	const struct config_inbound_gateway *conf = &gw->config.gateway.inbound;
	char a[ADDR_STRLEN], b[ADDR_STRLEN], age[REPLY_UNIT_LEN];
	const char *sep = "";

	if (json)
		reply_printf(r, "{\"role\":\"gateway\",\"on\":%s,\"ready\":%u,\"services\":[",
			     in ? "true" : "false", in ? in->idle : 0);
	else
		reply_printf(r,
			     "inbound: %s, %u reverse connections ready\n"
			     "PUBLIC   LAN DESTINATION          STATUS\n",
			     in ? "on" : "off (nothing published)", in ? in->idle : 0);
	for (size_t i = 0; in && i < conf->publish_len; i++) {
		const char *st =
			i < in->status_len ? pub_status_name(in->status[i]) : "not registered yet";

		addr_format(&conf->publish[i].lan, true, a);
		if (json) {
			reply_printf(r, "%s{\"public_port\":%u,\"lan\":\"%s\",\"status\":", sep,
				     conf->publish[i].public_port, a);
			reply_json_string(r, st);
			reply_puts(r, "}");
			sep = ",";
		} else {
			reply_printf(r, "%-8u %-24s %s\n", conf->publish[i].public_port, a, st);
		}
	}
	sep = "";
	reply_puts(
		r,
		json ? "],\"sessions\":["
		     : "\nCLIENT                          LAN DESTINATION          STATE    AGE\n");
	for (const struct list_node *n = in ? in->sessions.first : NULL; n; n = n->next) {
		const struct gwi_session *s = list_entry(n, struct gwi_session, base.node);
		uint64_t ms = gw->loop.now_ms - s->base.started_ms;

		addr_format(&s->base.client, true, a);
		addr_format(&s->base.dest, true, b);
		if (json) {
			reply_printf(r,
				     "%s{\"client\":\"%s\",\"lan\":\"%s\",\"state\":\"%s\","
				     "\"age_ms\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
				     "\"transparent\":%s,\"subflows\":%u}",
				     sep, a, b, s->base.relayed ? "relay" : "connecting",
				     (unsigned long long)ms,
				     (unsigned long long)s->base.relay.dir[RELAY_A].bytes,
				     (unsigned long long)s->base.relay.dir[RELAY_B].bytes,
				     s->transparent ? "true" : "false",
				     s->path ? paths_subflows(s->path) : 1);
			sep = ",";
		} else {
			reply_printf(r, "%-31s %-24s %-8s %s\n", a, b,
				     s->base.relayed ? "relay" : "connect", reply_fmt_age(ms, age));
		}
	}
	if (json)
		reply_printf(r,
			     "],\"sessions_total\":%lu,\"registered\":%lu,"
			     "\"refused_auth\":%lu,\"refused_destinations\":%lu}\n",
			     in ? in->stats.sessions : 0, in ? in->stats.registered : 0,
			     in ? in->stats.refused_auth : 0, in ? in->stats.refused_dest : 0);
}

void gwi_metrics(const struct gateway *gw, struct metrics_writer *w)
{
	const struct gw_inbound *in = gw->inbound;
	const struct gwi_stats zero = { 0 }, *st = in ? &in->stats : &zero;

	metrics_family(w, "mpconv_inbound_sessions_total", METRICS_COUNTER,
		       "Inbound sessions relayed to a LAN host.");
	metrics_sample(w, NULL, 0, st->sessions);
	metrics_family(w, "mpconv_inbound_registrations_total", METRICS_COUNTER,
		       "Reverse connections registered with the converter.");
	metrics_sample(w, NULL, 0, st->registered);
	metrics_family(w, "mpconv_inbound_refused_destinations_total", METRICS_COUNTER,
		       "Converter requests for an unpublished destination, refused.");
	metrics_sample(w, NULL, 0, st->refused_dest);
	metrics_family(w, "mpconv_inbound_auth_refusals_total", METRICS_COUNTER,
		       "Registrations the converter refused (Not Authorized).");
	metrics_sample(w, NULL, 0, st->refused_auth);
	metrics_family(w, "mpconv_inbound_lan_failures_total", METRICS_COUNTER,
		       "Inbound sessions whose LAN host refused or did not answer.");
	metrics_sample(w, NULL, 0, st->lan_failures);
	metrics_family(w, "mpconv_inbound_bytes_in_total", METRICS_COUNTER,
		       "Inbound bytes, Internet client to LAN host (ended sessions).");
	metrics_sample(w, NULL, 0, st->bytes_in);
	metrics_family(w, "mpconv_inbound_bytes_out_total", METRICS_COUNTER,
		       "Inbound bytes, LAN host to Internet client (ended sessions).");
	metrics_sample(w, NULL, 0, st->bytes_out);
	metrics_family(w, "mpconv_inbound_reverse_ready", METRICS_GAUGE,
		       "Registered reverse connections waiting for an inbound session.");
	metrics_sample(w, NULL, 0, in ? in->idle : 0);
	metrics_family(w, "mpconv_inbound_sessions", METRICS_GAUGE, "Inbound sessions open.");
	metrics_sample(w, NULL, 0, in ? in->sessions.len : 0);
}
