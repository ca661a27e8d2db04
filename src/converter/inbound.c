// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Inbound sessions on the converter (issue 15), all on the main thread's loop: gateways open
 * reverse connections to inbound-listen, get a fresh challenge, register their published
 * services with an HMAC of their key (inbound-cpe); a registered connection waits idle until an
 * Internet client connects to one of that CPE's public ports, then carries it (Connect TLV of
 * the service first). Never lets a CPE take a port outside its range or another CPE's port;
 * never opens anything towards a CPE: the gateway always dials.
 */
#include "inbound.h"

#include "addr.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "sock.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CVI_REGISTER_WAIT_MS 10000 /* a reverse connection registers within this */
#define CVI_CLIENT_WAIT_MS   5000  /* an Internet client waits this long for a reverse conn */

struct cvi_rev {
	struct loop_io io;
	struct cv_inbound *in;
	struct list_node node; /* on in->pending, then on its CPE's idle list */
	struct loop_timer timer;
	int cpe; /* -1 until registered */
	uint64_t since_ms;
	uint8_t nonce[PUB_NONCE_LEN];
	uint8_t buf[PUB_MSG_MAX];
	size_t len;
};

struct cvi_session {
	struct session base; /* A: the Internet client, B: the reverse connection */
	struct cv_inbound *in;
	unsigned cpe;
	uint16_t public_port;
	struct cvi_service *waiting_on; /* no reverse connection yet; NULL once relaying */
	uint8_t open[64];		/* the Connect message, sent before the client's bytes */
	uint8_t open_len;
};

static void cvi_rev_free(struct cvi_rev *rev, struct list *on)
{
	loop_timer_cancel(rev->in->loop, &rev->timer);
	if (on)
		list_remove(on, &rev->node);
	if (rev->io.fd >= 0) {
		loop_remove(rev->in->loop, &rev->io);
		close(rev->io.fd);
	}
	free(rev);
}

static void cvi_close(struct cvi_session *s, const char *reason)
{
	struct cv_inbound *in = s->in;
	char client[ADDR_STRLEN];
	uint64_t up = s->base.relay.dir[RELAY_A].bytes, down = s->base.relay.dir[RELAY_B].bytes;

	if (s->base.relayed) {
		/* the Connect message was the relay's prefix towards B: not the client's bytes */
		up = up >= s->open_len ? up - s->open_len : 0;
		in->stats.bytes_in += up;
		in->stats.bytes_out += down;
	} else {
		in->stats.refused++;
	}
	if (s->waiting_on)
		s->waiting_on->waiting--;
	log_info("inbound %s -> %s port %u: %s, %llu bytes in, %llu out, %llu ms",
		 addr_format(&s->base.client, true, client), in->cpes[s->cpe].name, s->public_port,
		 reason, (unsigned long long)up, (unsigned long long)down,
		 (unsigned long long)(in->loop->now_ms - s->base.started_ms));
	session_release(&s->base, &in->sessions, !s->base.relayed);
	free(s);
}

static void cvi_on_relay_end(struct relay *r)
{
	struct cvi_session *s = container_of(r, struct cvi_session, base.relay);

	cvi_close(s, relay_end_name(r->end));
}

static void cvi_on_waiting_client(struct loop_io *io, uint32_t events)
{
	struct cvi_session *s = container_of(io, struct cvi_session, base.relay.io[RELAY_A]);

	/* a half-close (request sent, SHUT_WR) is no departure: the relay passes it on */
	if (events & (EPOLLHUP | EPOLLERR))
		cvi_close(s, "client left before a reverse connection was free");
}

static void cvi_on_session_timer(struct loop_timer *t)
{
	struct cvi_session *s = container_of(t, struct cvi_session, base.timer);

	cvi_close(s, "no reverse connection of the CPE (gateway away?)");
}

/* Hands the CPE's newest idle reverse connection to s and starts relaying. */
static void cvi_attach(struct cvi_session *s, struct cvi_rev *rev)
{
	struct cv_inbound *in = s->in;
	struct relay_params params = { .idle_timeout_ms = in->cc->common.idle_timeout_ms,
				       .use_splice = in->cc->common.splice };
	int fd = rev->io.fd;

	list_remove(&in->cpes[rev->cpe].idle, &rev->node);
	loop_remove(in->loop, &rev->io);
	rev->io.fd = -1;
	cvi_rev_free(rev, NULL);
	loop_timer_cancel(in->loop, &s->base.timer);
	if (s->waiting_on)
		s->waiting_on->waiting--;
	s->waiting_on = NULL;
	s->base.relay.io[RELAY_B].fd = fd;
	if (loop_add(in->loop, &s->base.relay.io[RELAY_B], RELAY_EPOLL_EVENTS) < 0) {
		close(fd);
		s->base.relay.io[RELAY_B].fd = -1;
		cvi_close(s, "out of memory");
		return;
	}
	relay_set_prefix(&s->base.relay, RELAY_B, s->open, s->open_len);
	s->base.relayed = true;
	in->stats.sessions++;
	in->cpes[s->cpe].sessions++;
	if (relay_start(&s->base.relay, in->loop, &in->pipes, &params, cvi_on_relay_end) < 0) {
		s->base.relayed = false;
		cvi_close(s, "relay start failed");
	}
}

static struct cvi_rev *cvi_idle_rev(struct cv_inbound *in, unsigned cpe)
{
	struct list_node *n = in->cpes[cpe].idle.first;

	return n ? list_entry(n, struct cvi_rev, node) : NULL;
}

static void cvi_on_public_accept(struct loop_io *io, uint32_t events)
{
	struct cvi_service *svc = container_of(io, struct cvi_service, io);
	struct cv_inbound *in = svc->in;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct cvi_session *s;
	struct cvi_rev *rev;
	int fd, ret;

	(void)events;
	for (;;) {
		len = sizeof(ss);
		fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		s = calloc(1, sizeof(*s));
		if (!s) {
			close(fd);
			continue;
		}
		s->in = in;
		s->cpe = svc->cpe;
		s->public_port = svc->public_port;
		session_init(&s->base, &in->sessions, in->loop, fd, cvi_on_waiting_client,
			     cvi_on_session_timer);
		addr_from_sockaddr((struct sockaddr *)&ss, len, &s->base.client);
		memcpy(s->base.dest.ip, svc->svc.lan_addr, 16);
		s->base.dest.port = svc->svc.lan_port;
		sock_set_nodelay(fd);
		ret = pub_write_open(s->open, sizeof(s->open), svc->svc.lan_addr, svc->svc.lan_port,
				     s->base.client.ip, s->base.client.port);
		s->open_len = ret > 0 ? (uint8_t)ret : 0;
		if (ret < 0 ||
		    loop_add(in->loop, &s->base.relay.io[RELAY_A], RELAY_EPOLL_EVENTS) < 0) {
			cvi_close(s, "out of memory");
			continue;
		}
		svc->sessions++;
		rev = cvi_idle_rev(in, svc->cpe);
		if (rev) {
			cvi_attach(s, rev);
			continue;
		}
		/* None ready: the gateway refills its pool within a round trip or two. */
		if (svc->waiting >= CVI_MAX_WAITING) {
			cvi_close(s, "too many clients waiting for this CPE");
			continue;
		}
		svc->waiting++;
		s->waiting_on = svc;
		if (!session_arm(&s->base, CVI_CLIENT_WAIT_MS))
			cvi_close(s, "out of memory");
	}
}

static struct cvi_service *cvi_find_service(struct cv_inbound *in, uint16_t port, size_t *at)
{
	for (size_t i = 0; i < in->services_len; i++) {
		if (in->services[i]->public_port == port) {
			if (at)
				*at = i;
			return in->services[i];
		}
	}
	return NULL;
}

static void cvi_service_remove(struct cv_inbound *in, size_t at)
{
	struct cvi_service *svc = in->services[at];
	struct list_node *n = in->sessions.first;

	while (n) {
		struct cvi_session *s = list_entry(n, struct cvi_session, base.node);

		n = n->next;
		if (s->waiting_on == svc)
			cvi_close(s, "service withdrawn");
	}
	loop_remove(in->loop, &svc->io);
	close(svc->io.fd);
	free(svc);
	in->services[at] = in->services[--in->services_len];
}

static uint8_t cvi_service_open(struct cv_inbound *in, unsigned cpe, const struct pub_service *ps)
{
	const struct config_inbound_cpe *conf = &in->cc->inbound.cpes[cpe];
	struct sock_listen_opts opts = { .mptcp = true, .backlog = 128 };
	struct addr_port where = in->cc->inbound.public_addr;
	struct cvi_service *svc = cvi_find_service(in, ps->public_port, NULL);
	bool mptcp;
	int fd;

	if (ps->public_port < conf->port_min || ps->public_port > conf->port_max) {
		in->stats.ports_not_allowed++;
		return PUB_STATUS_NOT_ALLOWED;
	}
	if (svc && svc->cpe != cpe) {
		in->stats.ports_taken++;
		return PUB_STATUS_TAKEN;
	}
	if (svc) {
		svc->svc = *ps; /* same CPE: the LAN side may have changed */
		return PUB_STATUS_LISTENING;
	}
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return PUB_STATUS_FAILED;
	where.port = ps->public_port;
	fd = sock_listen(&where, &opts, &mptcp);
	if (fd < 0) {
		log_warnc(fd, "inbound: %s: cannot listen on public port %u", in->cpes[cpe].name,
			  ps->public_port);
		free(svc);
		return PUB_STATUS_FAILED;
	}
	svc->io.fd = fd;
	svc->io.on_event = cvi_on_public_accept;
	svc->in = in;
	svc->cpe = cpe;
	svc->public_port = ps->public_port;
	svc->svc = *ps;
	if (loop_add(in->loop, &svc->io, EPOLLIN) < 0) {
		close(fd);
		free(svc);
		return PUB_STATUS_FAILED;
	}
	in->services[in->services_len++] = svc;
	log_info("inbound: %s publishes public port %u", in->cpes[cpe].name, ps->public_port);
	return PUB_STATUS_LISTENING;
}

/* The CPE's services become exactly those of its latest registration. */
static void cvi_apply(struct cv_inbound *in, unsigned cpe, const struct pub_message *m,
		      uint8_t *status)
{
	for (size_t i = 0; i < in->services_len;) {
		struct cvi_service *svc = in->services[i];
		bool kept = false;

		for (size_t j = 0; j < m->services_len && svc->cpe == cpe; j++)
			kept |= m->services[j].public_port == svc->public_port;
		if (svc->cpe == cpe && !kept) {
			log_info("inbound: %s withdrew public port %u", in->cpes[cpe].name,
				 svc->public_port);
			cvi_service_remove(in, i);
			continue;
		}
		i++;
	}
	for (size_t j = 0; j < m->services_len; j++)
		status[j] = cvi_service_open(in, cpe, &m->services[j]);
}

/* A registered reverse connection is ready: a waiting client of its CPE takes it first. */
static void cvi_rev_ready(struct cv_inbound *in, struct cvi_rev *rev)
{
	struct list_node *n = in->sessions.first, *oldest = NULL;

	list_push(&in->cpes[rev->cpe].idle, &rev->node);
	for (; n; n = n->next) {
		struct cvi_session *s = list_entry(n, struct cvi_session, base.node);

		if (s->waiting_on && s->cpe == (unsigned)rev->cpe)
			oldest = n;
	}
	if (oldest)
		cvi_attach(list_entry(oldest, struct cvi_session, base.node), rev);
}

static int cvi_find_cpe(const struct cv_inbound *in, const char *name)
{
	for (size_t i = 0; i < in->cc->inbound.cpes_len; i++)
		if (!strcmp(in->cc->inbound.cpes[i].name, name))
			return (int)i;
	return -1;
}

/* The registration is in: authenticate, apply, answer. false: rev was freed. */
static bool cvi_register(struct cv_inbound *in, struct cvi_rev *rev, const struct pub_message *m)
{
	uint8_t status[PUB_MAX_SERVICES], out[64];
	char peer[ADDR_STRLEN] = "?";
	struct addr_port ap;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int cpe = cvi_find_cpe(in, m->name), len;

	if (getpeername(rev->io.fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    addr_from_sockaddr((struct sockaddr *)&ss, sl, &ap))
		addr_format(&ap, true, peer);
	if (cpe < 0 || !pub_register_verify(m, rev->nonce, in->cc->inbound.cpes[cpe].key)) {
		in->stats.auth_failures++;
		log_warnx("inbound: registration from %s as '%s' refused: %s", peer, m->name,
			  cpe < 0 ? "unknown CPE" : "bad key");
		len = pub_write_error(out, sizeof(out), 32 /* Not Authorized */);
		if (write(rev->io.fd, out, (size_t)len) < 0) {
			/* closing anyway */
		}
		cvi_rev_free(rev, &in->pending);
		return false;
	}
	if (in->cpes[cpe].idle.len >= CVI_MAX_IDLE) {
		len = pub_write_error(out, sizeof(out), 64 /* Resource Exceeded */);
	} else {
		cvi_apply(in, (unsigned)cpe, m, status);
		len = pub_write_accept(out, sizeof(out), status, m->services_len);
	}
	if (len < 0 || write(rev->io.fd, out, (size_t)len) != len ||
	    in->cpes[cpe].idle.len >= CVI_MAX_IDLE) {
		cvi_rev_free(rev, &in->pending);
		return false;
	}
	if (!in->cpes[cpe].registered)
		log_info("inbound: %s registered from %s (%zu services)", m->name, peer,
			 m->services_len);
	in->cpes[cpe].registered = true;
	in->cpes[cpe].registrations++;
	in->cpes[cpe].last_ms = in->loop->now_ms;
	in->stats.registrations++;
	list_remove(&in->pending, &rev->node);
	loop_timer_cancel(in->loop, &rev->timer);
	rev->cpe = cpe;
	rev->since_ms = in->loop->now_ms;
	cvi_rev_ready(in, rev);
	return true;
}

static void cvi_on_rev_event(struct loop_io *io, uint32_t events)
{
	struct cvi_rev *rev = container_of(io, struct cvi_rev, io);
	struct cv_inbound *in = rev->in;
	struct pub_message m;
	ssize_t n;
	int ret;

	if (rev->cpe >= 0) {
		/* idle: a registered connection has nothing more to say; any event is its end */
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			in->stats.reverse_dropped++;
			cvi_rev_free(rev, &in->cpes[rev->cpe].idle);
		}
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	while (rev->len < sizeof(rev->buf)) {
		n = read(io->fd, rev->buf + rev->len, sizeof(rev->buf) - rev->len);
		if (n > 0) {
			rev->len += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			break;
		cvi_rev_free(rev, &in->pending); /* EOF or error before registering */
		return;
	}
	ret = pub_parse(rev->buf, rev->len, &m);
	if (ret == -EAGAIN && rev->len < sizeof(rev->buf))
		return;
	if (ret < 0 || m.kind != PUB_REGISTER || (size_t)ret != rev->len) {
		in->stats.malformed++;
		log_warnx("inbound: malformed registration on a reverse connection");
		cvi_rev_free(rev, &in->pending);
		return;
	}
	cvi_register(in, rev, &m);
}

static void cvi_on_rev_timer(struct loop_timer *t)
{
	struct cvi_rev *rev = container_of(t, struct cvi_rev, timer);

	rev->in->stats.malformed++;
	cvi_rev_free(rev, &rev->in->pending);
}

static void cvi_on_accept(struct loop_io *io, uint32_t events)
{
	struct cv_inbound *in = container_of(io, struct cv_inbound, listener);
	uint8_t challenge[64];
	struct cvi_rev *rev;
	int fd, len;

	(void)events;
	while ((fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		rev = in->pending.len < CVI_MAX_PENDING ? calloc(1, sizeof(*rev)) : NULL;
		if (!rev) {
			close(fd);
			continue;
		}
		rev->io.fd = fd;
		rev->io.on_event = cvi_on_rev_event;
		rev->in = in;
		rev->cpe = -1;
		loop_timer_init(&rev->timer, cvi_on_rev_timer);
		randombytes_buf(rev->nonce, sizeof(rev->nonce));
		sock_set_nodelay(fd);
		list_push(&in->pending, &rev->node);
		len = pub_write_challenge(challenge, sizeof(challenge), rev->nonce);
		if (len < 0 || write(fd, challenge, (size_t)len) != len ||
		    loop_add(in->loop, &rev->io, EPOLLIN | EPOLLRDHUP | EPOLLET) < 0 ||
		    loop_timer_arm(in->loop, &rev->timer, CVI_REGISTER_WAIT_MS) < 0) {
			cvi_rev_free(rev, &in->pending);
			continue;
		}
	}
}

int cvi_start(struct cv_inbound *in, struct loop *loop, const struct config_converter *cc)
{
	struct sock_listen_opts opts = { .mptcp = true, .backlog = 256 };
	char where[ADDR_STRLEN];
	bool mptcp = false;
	int fd, ret;

	memset(in, 0, sizeof(*in));
	in->listener.fd = -1;
	in->loop = loop;
	in->cc = cc;
	if (!cc->inbound.on)
		return 0;
	for (size_t i = 0; i < cc->inbound.cpes_len; i++)
		strcpy(in->cpes[i].name, cc->inbound.cpes[i].name);
	ret = pipe_pool_init(&in->pipes, cc->common.pipe_size, 16);
	if (ret < 0) {
		log_warnc(ret, "inbound: pipes");
		return ret;
	}
	fd = sock_listen(&cc->inbound.listen, &opts, &mptcp);
	if (fd < 0) {
		log_warnc(fd, "inbound: cannot listen on %s",
			  addr_format(&cc->inbound.listen, true, where));
		pipe_pool_destroy(&in->pipes);
		return fd;
	}
	in->listener.fd = fd;
	in->listener.on_event = cvi_on_accept;
	ret = loop_add(loop, &in->listener, EPOLLIN);
	if (ret < 0) {
		close(fd);
		in->listener.fd = -1;
		pipe_pool_destroy(&in->pipes);
		return ret;
	}
	in->on = true;
	log_info("inbound: reverse connections on %s (%s), public ports %u-%u, %zu CPEs",
		 addr_format(&cc->inbound.listen, true, where), mptcp ? "MPTCP" : "TCP only",
		 cc->inbound.port_min, cc->inbound.port_max, cc->inbound.cpes_len);
	return 0;
}

void cvi_stop(struct cv_inbound *in)
{
	if (!in->on)
		return;
	while (in->sessions.first)
		cvi_close(list_entry(in->sessions.first, struct cvi_session, base.node),
			  "shutdown");
	while (in->services_len)
		cvi_service_remove(in, in->services_len - 1);
	while (in->pending.first)
		cvi_rev_free(list_entry(in->pending.first, struct cvi_rev, node), &in->pending);
	for (size_t i = 0; i < CONFIG_MAX_CPES; i++)
		while (in->cpes[i].idle.first)
			cvi_rev_free(list_entry(in->cpes[i].idle.first, struct cvi_rev, node),
				     &in->cpes[i].idle);
	loop_remove(in->loop, &in->listener);
	close(in->listener.fd);
	pipe_pool_destroy(&in->pipes);
	in->on = false;
}

void cvi_report(const struct cv_inbound *in, struct reply *r, bool json)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], age[REPLY_UNIT_LEN];
	struct addr_port lan;
	const char *sep = "";

	if (json)
		reply_puts(r, "{\"role\":\"converter\",\"services\":[");
	else
		reply_printf(r,
			     "inbound: %s\nSERVICE  CPE              LAN DESTINATION          "
			     "READY  SESSIONS\n",
			     in->on ? "on" : "off (no inbound-listen)");
	for (size_t i = 0; i < in->services_len; i++) {
		const struct cvi_service *svc = in->services[i];

		memcpy(lan.ip, svc->svc.lan_addr, 16);
		lan.port = svc->svc.lan_port;
		addr_format(&lan, true, a);
		if (json) {
			reply_printf(r, "%s{\"public_port\":%u,\"cpe\":", sep, svc->public_port);
			reply_json_string(r, in->cpes[svc->cpe].name);
			reply_printf(r, ",\"lan\":\"%s\",\"ready\":%zu,\"sessions\":%lu}", a,
				     in->cpes[svc->cpe].idle.len, svc->sessions);
			sep = ",";
		} else {
			reply_printf(r, "%-8u %-16s %-24s %-6zu %lu\n", svc->public_port,
				     in->cpes[svc->cpe].name, a, in->cpes[svc->cpe].idle.len,
				     svc->sessions);
		}
	}
	sep = "";
	if (json)
		reply_puts(r, "],\"sessions\":[");
	else
		reply_puts(
			r,
			"\nCLIENT                          PORT   CPE              STATE    AGE\n");
	for (const struct list_node *n = in->sessions.first; n; n = n->next) {
		const struct cvi_session *s = list_entry(n, struct cvi_session, base.node);
		uint64_t ms = in->loop->now_ms - s->base.started_ms;

		addr_format(&s->base.client, true, b);
		if (json) {
			reply_printf(r, "%s{\"client\":\"%s\",\"public_port\":%u,\"cpe\":", sep, b,
				     s->public_port);
			reply_json_string(r, in->cpes[s->cpe].name);
			reply_printf(r,
				     ",\"state\":\"%s\",\"age_ms\":%llu,\"bytes_in\":%llu,"
				     "\"bytes_out\":%llu}",
				     s->waiting_on ? "waiting" : "relay", (unsigned long long)ms,
				     (unsigned long long)s->base.relay.dir[RELAY_A].bytes,
				     (unsigned long long)s->base.relay.dir[RELAY_B].bytes);
			sep = ",";
		} else {
			reply_printf(r, "%-31s %-6u %-16s %-8s %s\n", b, s->public_port,
				     in->cpes[s->cpe].name, s->waiting_on ? "waiting" : "relay",
				     reply_fmt_age(ms, age));
		}
	}
	if (json) {
		reply_puts(r, "],\"cpes\":[");
		for (size_t i = 0; in->cc && i < in->cc->inbound.cpes_len; i++) {
			reply_printf(r, "%s{\"name\":", i ? "," : "");
			reply_json_string(r, in->cpes[i].name);
			reply_printf(r,
				     ",\"registered\":%s,\"ready\":%zu,\"registrations\":%lu,"
				     "\"sessions\":%lu}",
				     in->cpes[i].registered ? "true" : "false",
				     in->cpes[i].idle.len, in->cpes[i].registrations,
				     in->cpes[i].sessions);
		}
	}
	if (json)
		reply_printf(r,
			     "],\"sessions_total\":%lu,\"registrations\":%lu,"
			     "\"auth_failures\":%lu}\n",
			     in->stats.sessions, in->stats.registrations, in->stats.auth_failures);
}

void cvi_metrics(const struct cv_inbound *in, struct metrics_writer *w)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "mpconv_inbound_sessions_total", "Inbound sessions relayed to a CPE.",
		  offsetof(struct cvi_stats, sessions) },
		{ "mpconv_inbound_refused_total",
		  "Inbound clients closed before relaying (no reverse connection of the CPE in time).",
		  offsetof(struct cvi_stats, refused) },
		{ "mpconv_inbound_registrations_total", "Reverse connections registered by CPEs.",
		  offsetof(struct cvi_stats, registrations) },
		{ "mpconv_inbound_auth_failures_total",
		  "Registrations refused: unknown CPE or wrong key.",
		  offsetof(struct cvi_stats, auth_failures) },
		{ "mpconv_inbound_ports_taken_total",
		  "Services refused: public port held by another CPE.",
		  offsetof(struct cvi_stats, ports_taken) },
		{ "mpconv_inbound_bytes_in_total",
		  "Inbound bytes, Internet client to LAN (ended sessions).",
		  offsetof(struct cvi_stats, bytes_in) },
		{ "mpconv_inbound_bytes_out_total",
		  "Inbound bytes, LAN to Internet client (ended sessions).",
		  offsetof(struct cvi_stats, bytes_out) },
	};
	size_t ready = 0;

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		metrics_family(w, counters[i].name, METRICS_COUNTER, counters[i].help);
		metrics_sample(
			w, NULL, 0,
			*(const unsigned long *)((const char *)&in->stats + counters[i].off));
	}
	for (size_t i = 0; i < CONFIG_MAX_CPES; i++)
		ready += in->cpes[i].idle.len;
	metrics_family(w, "mpconv_inbound_services", METRICS_GAUGE,
		       "Published services with a public listener.");
	metrics_sample(w, NULL, 0, in->services_len);
	metrics_family(w, "mpconv_inbound_reverse_ready", METRICS_GAUGE,
		       "Registered reverse connections waiting for an inbound session.");
	metrics_sample(w, NULL, 0, ready);
	metrics_family(w, "mpconv_inbound_sessions", METRICS_GAUGE,
		       "Inbound sessions open (relaying or waiting).");
	metrics_sample(w, NULL, 0, in->sessions.len);
}
