// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One converter client from accept to its request: the per-client and global limits, the
 * Convert message (peeked, so early data stays queued for the relay), a SOCKS 5 greeting and
 * CONNECT, or an on-path connection's own address; then the server leg (downstream.c).
 * A connection whose request is already there at accept is never counted as idle.
 */
#include "converter.h"

#include "cookie.h"
#include "log.h"
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void cv_handle_message(struct cv_session *s, const struct conv_message *msg)
{
	const struct config_converter *cc = &s->cfg->config.converter;

	s->info_requested = msg->has_info;
	/* A bare header, no TLV at all, is how a gateway probes a link (gateway/probe.c): it is
	 * answered as RFC 8803 says (an Error TLV), but counted as a probe, not as an error. */
	s->probe = msg->length == 4 && !msg->has_info && !msg->has_connect && !msg->has_cookie &&
		   !msg->has_error && !msg->has_supported_ext && !msg->has_ext_tcp_header;
	if (msg->has_error) {
		s->reset_on_close = true;
		cv_close(s, "client sent an Error TLV");
		return;
	}
	if (!cv_identity_check(s, msg))
		return;
	if (cc->cookies && !msg->has_cookie) {
		cv_fail_code(s, CONV_ERR_MISSING_COOKIE, "cookie required");
		return;
	}
	if (cc->cookies && !cookie_check(&cc->cookie_secret, s->base.client.ip, (uint64_t)time(NULL),
					 msg->cookie, msg->cookie_len)) {
		cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED, "invalid cookie");
		return;
	}
	if (!msg->has_connect) {
		if (!msg->has_info) {
			cv_fail_code(s, CONV_ERR_MALFORMED_MESSAGE,
				     s->probe ? "a probe (bare Convert header)" : "neither Connect nor Info");
			return;
		}
		cv_reply_ready(s, cv_build_success_reply(s));
		return;
	}

	memcpy(s->base.dest.ip, msg->connect.addr, 16);
	s->base.dest.port = msg->connect.port;
	s->has_dest = true;
	cv_connect_dest(s, msg);
}

/* The client's message (or SOCKS request) is in, well-formed or not: no longer idle. */
static void cv_not_idle(struct cv_session *s)
{
	if (s->counted_idle) {
		clients_release(&s->worker->shared->clients, s->client_key, CLIENTS_IDLE);
		atomic_fetch_sub(&s->worker->shared->idle, 1);
		s->counted_idle = false;
	}
	loop_timer_cancel(&s->worker->loop, &s->base.timer);
}

/* A session that asked for something takes one of max-sessions; idle ones never do, so they
 * cannot crowd out clients that relay. false when refused (the session is failed). */
static bool cv_take_active(struct cv_session *s)
{
	struct cv_shared *shared = s->worker->shared;

	if (atomic_fetch_add(&shared->active, 1) >= s->cfg->config.converter.max_sessions) {
		atomic_fetch_sub(&shared->active, 1);
		cv_refuse_limit(s, "max-sessions", false);
		return false;
	}
	s->counted_active = true;
	return true;
}

/* Still waiting for the message after a first read: from now on an idle connection, within
 * the client's max-idle-per-client and the converter's max-idle. false when refused. */
static bool cv_take_idle(struct cv_session *s)
{
	struct cv_shared *shared = s->worker->shared;
	const struct config_converter *cc = &s->cfg->config.converter;

	if (atomic_fetch_add(&shared->idle, 1) >= cc->max_idle) {
		atomic_fetch_sub(&shared->idle, 1);
		cv_refuse_limit(s, "max-idle", false);
		return false;
	}
	if (!clients_acquire(&shared->clients, s->client_key, CLIENTS_IDLE,
			     cc->max_idle_per_client)) {
		atomic_fetch_sub(&shared->idle, 1);
		cv_refuse_limit(s, "max-idle-per-client", true);
		return false;
	}
	s->counted_idle = true;
	return true;
}

/*
 * SOCKS 5: the greeting (answered at once: no authentication), then the CONNECT request.
 * Both are peeked and consumed exactly, so data the client pipelined after them stays queued
 * for the relay. true while the session still waits for more of them.
 */
static bool cv_read_socks(struct cv_session *s)
{
	struct cv_worker *w = s->worker;
	int fd = s->base.relay.io[RELAY_A].fd;
	char name[SOCKS_NAME_MAX + 1];
	enum socks_reply refuse;
	uint8_t method[2];
	bool no_auth;
	ssize_t n;
	int len;

	n = recv(fd, w->scratch, sizeof(w->scratch), MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return true;
	if (n <= 0) {
		cv_close(s, "client closed before its SOCKS request");
		return false;
	}
	if (!s->socks_greeted) {
		len = socks_parse_greeting(w->scratch, (size_t)n, &no_auth);
		if (len == -EAGAIN && s->client_eof) {
			cv_close(s, "client closed in the middle of its SOCKS greeting");
			return false;
		}
		if (len == -EAGAIN)
			return true;
		if (len < 0 || recv(fd, w->scratch, (size_t)len, MSG_DONTWAIT) != len) {
			s->reset_on_close = true;
			cv_close(s, "not a SOCKS 5 greeting");
			return false;
		}
		if (!no_auth) {
			cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED,
				     "SOCKS client offers no unauthenticated method");
			return false;
		}
		socks_put_method(method, SOCKS_METHOD_NONE);
		if (send(fd, method, sizeof(method), MSG_NOSIGNAL | MSG_DONTWAIT) != 2) {
			s->reset_on_close = true;
			cv_close(s, "client gone before the SOCKS method choice");
			return false;
		}
		s->socks_greeted = true;
		return cv_read_socks(s); /* a pipelined request is here already */
	}
	len = socks_parse_request(w->scratch, (size_t)n, &s->base.dest, &refuse);
	if (len == -EAGAIN && s->client_eof) {
		cv_close(s, "client closed in the middle of its SOCKS request");
		return false;
	}
	if (len == -EAGAIN)
		return true;
	if (len < 0 || recv(fd, w->scratch, (size_t)len, MSG_DONTWAIT) != len) {
		s->reset_on_close = true;
		cv_close(s, "malformed SOCKS request");
		return false;
	}
	cv_not_idle(s);
	s->has_dest = refuse == SOCKS_OK;
	if (refuse == SOCKS_ADDRESS_UNSUPPORTED && socks_request_name(w->scratch, (size_t)len, name)) {
		/* a host name: resolved off the loop, then the same way as an address */
		if (!cv_take_active(s))
			return false;
		if (cv_resolve(s, name, s->base.dest.port) < 0) {
			cv_fail_code(s, CONV_ERR_RESOURCE_EXCEEDED, "out of memory for a name lookup");
			return false;
		}
		s->state = CV_CONNECTING; /* connect-timeout covers the lookup too */
		cv_arm(s, s->cfg->config.converter.common.connect_timeout_ms);
		return false;
	}
	if (refuse != SOCKS_OK) {
		struct conv_parse_error perr = { .code = CONV_ERR_UNSUPPORTED_MESSAGE };

		s->socks_refusal = refuse;
		cv_fail(s, &perr, socks_reply_name(refuse));
		return false;
	}
	if (cv_take_active(s))
		cv_connect_dest(s, NULL);
	return false;
}

void cv_resolved(struct cv_session *s, int err, const struct addr_port *addr, const char *name)
{
	char where[ADDR_STRLEN];

	if (err) {
		struct conv_parse_error perr = { .code = CONV_ERR_DESTINATION_UNREACHABLE };

		log_debug("SOCKS: %s: %s", name, err == ENOENT ? "no such name" : strerror(err));
		s->socks_refusal = SOCKS_HOST_UNREACHABLE;
		cv_fail(s, &perr, err == ENOENT ? "host name not found" : "host name lookup failed");
		return;
	}
	log_debug("SOCKS: %s is %s", name, addr_format(addr, false, where));
	s->base.dest = *addr;
	s->has_dest = true;
	cv_connect_dest(s, NULL); /* the destination policy judges the address it resolved to */
}

/* On-path mode: the TPROXY'd connection's own address is where the client was going. */
static void cv_open_transparent(struct cv_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	cv_not_idle(s);
	if (getsockname(s->base.relay.io[RELAY_A].fd, (struct sockaddr *)&ss, &len) < 0 ||
	    !addr_from_sockaddr((struct sockaddr *)&ss, len, &s->base.dest)) {
		s->reset_on_close = true;
		cv_close(s, "original destination unknown");
		return;
	}
	s->has_dest = true;
	if (!cv_take_active(s))
		return;
	if (s->client_mptcp) {
		/* usually open since the SYN (nflog notice); this keeps it while the session lives */
		int ret = onpath_joins_hold(&s->worker->shared->joins, s->base.dest.port,
					    !addr_is_v4mapped(s->base.dest.ip), s->worker->loop.now_ms);

		s->join_held = true;
		if (ret < 0)
			log_warnc(ret, "on-path: no join listener on port %u (single path)",
				  s->base.dest.port);
	}
	cv_connect_dest(s, NULL);
}

/* Peeks at the Convert message so that bytes after it stay queued for the relay. true while
 * the session still waits for (the rest of) it. */
static bool cv_read_message(struct cv_session *s)
{
	struct cv_worker *w = s->worker;
	int fd = s->base.relay.io[RELAY_A].fd;
	struct conv_message msg;
	struct conv_parse_error perr;
	ssize_t n;
	int len;

	if (s->proto == CV_PROTO_SOCKS)
		return cv_read_socks(s);

	n = recv(fd, w->scratch, sizeof(w->scratch), MSG_PEEK | MSG_DONTWAIT);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		cv_close(s, "client error before the Convert message");
		return false;
	}
	if (n == 0) {
		if (!s->first_byte_ms) {
			/* a gateway retiring a pooled connection it never used */
			s->unused = true;
			cv_close(s, "closed unused (a pooled connection retired)");
			return false;
		}
		cv_close(s, "client closed before sending a Convert message");
		return false;
	}
	if (!s->first_byte_ms)
		s->first_byte_ms = w->loop.now_ms ? w->loop.now_ms : 1;
	len = conv_parse(w->scratch, (size_t)n, CONV_MAX_LEN, CONV_FROM_CLIENT,
			 s->client_eof ? CONV_PARSE_EOF : 0, &msg, &perr);
	if (len == -EAGAIN)
		return true;
	cv_not_idle(s);
	if (len < 0) {
		cv_fail(s, &perr, perr.reason);
		return false;
	}
	/* Consume exactly the message; msg's views stay valid (same bytes land in scratch). */
	if (recv(fd, w->scratch, (size_t)len, MSG_DONTWAIT) != len) {
		s->reset_on_close = true;
		cv_close(s, "client error consuming the Convert message");
		return false;
	}
	if (cv_take_active(s))
		cv_handle_message(s, &msg);
	return false;
}

static void cv_on_client_event(struct loop_io *io, uint32_t events)
{
	struct cv_session *s = container_of(io, struct cv_session, base.relay.io[RELAY_A]);

	if (events & (EPOLLRDHUP | EPOLLHUP))
		s->client_eof = true;
	switch (s->state) {
	case CV_WAIT_MESSAGE:
		if (events & EPOLLERR) {
			cv_close(s, "client error before the Convert message");
			return;
		}
		cv_read_message(s);
		break;
	case CV_CONNECTING:
	case CV_WAIT_CLIENT:
		if (events & (EPOLLERR | EPOLLHUP)) {
			s->reset_on_close = true;
			cv_close(s, "client reset before the reply");
			return;
		}
		if (s->state == CV_WAIT_CLIENT)
			cv_try_reply(s);
		break;
	case CV_CLOSING: {
		ssize_t n;

		/* Discard what the client still sends; its FIN or reset ends the session. */
		while ((n = recv(io->fd, s->worker->scratch, sizeof(s->worker->scratch),
				 MSG_DONTWAIT)) > 0)
			;
		if (n == 0)
			s->client_eof = true;
		if (events & EPOLLERR)
			cv_close(s, "client reset after the reply");
		else
			cv_closing_check(s);
		break;
	}
	case CV_RELAY:
		break; /* the relay owns the events now */
	}
}

static void cv_on_timer(struct loop_timer *timer)
{
	struct cv_session *s = container_of(timer, struct cv_session, base.timer);

	switch (s->state) {
	case CV_WAIT_MESSAGE:
		cv_close(s, "no Convert message within convert-wait");
		break;
	case CV_CONNECTING:
		cv_connect_failed(s, ETIMEDOUT);
		break;
	case CV_WAIT_CLIENT:
		cv_try_reply(s);
		break;
	case CV_CLOSING:
		cv_closing_check(s);
		break;
	case CV_RELAY:
		break;
	}
}

void cv_open_session(struct cv_worker *w, int fd, const struct sockaddr_storage *ss,
		     socklen_t ss_len, enum cv_proto proto)
{
	struct cv_shared *shared = w->shared;
	struct cv_cfg *cfg = cv_cfg_get(shared);
	const struct config_converter *cc = &cfg->config.converter;
	unsigned open_now = atomic_fetch_add(&shared->sessions, 1) + 1;
	struct cv_session *s = NULL;

	atomic_fetch_add(&shared->stats.accepted, 1);
	if (open_now <= cv_session_cap(cc))
		s = calloc(1, sizeof(*s));
	if (!s) {
		/* Past the overflow allowance nothing is spent on the client: reset at once. */
		atomic_fetch_sub(&shared->sessions, 1);
		cv_cfg_put(cfg);
		sock_set_reset_on_close(fd);
		close(fd);
		return;
	}
	s->worker = w;
	s->cfg = cfg;
	s->proto = proto;
	s->error_code = -1;
	session_init(&s->base, &w->sessions, &w->loop, fd, cv_on_client_event, cv_on_timer);
	addr_from_sockaddr((const struct sockaddr *)ss, ss_len, &s->base.client);
	addr_client_key(s->base.client.ip, cc->client_prefix6, s->client_key);

	if (loop_add(&w->loop, &s->base.relay.io[RELAY_A], RELAY_EPOLL_EVENTS) < 0) {
		s->reset_on_close = true;
		cv_close(s, "epoll registration failed");
		return;
	}
	/* SO_PROTOCOL says what the listener handed out; TCP_IS_MPTCP also catches a fallback. */
	s->client_mptcp = sock_protocol(fd) == IPPROTO_MPTCP && sock_is_mptcp(fd) == 1;
	/* Without it this kernel adds ~40 ms per request (Nagle vs delayed ACK), 4. */
	sock_set_nodelay(fd);
	if (s->client_mptcp)
		sock_set_buffers(fd, cc->common.socket_buffer);

	if (!acl_contains(&cc->allow_clients, s->base.client.ip)) {
		cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED, "client not in the allow list");
		return;
	}
	/* With a cpe-table the session counts under its CPE once the credential is checked
	 * (identity.c): CPEs behind one CGNAT address must not share a limit. */
	if (!cc->cpe_table_path &&
	    !(s->counted_session = clients_acquire(&shared->clients, s->client_key,
						   CLIENTS_SESSIONS, cc->max_sessions_per_client))) {
		cv_refuse_limit(s, "max-sessions-per-client", true);
		return;
	}
	s->state = CV_WAIT_MESSAGE;
	if (proto == CV_PROTO_TRANSPARENT) {
		cv_open_transparent(s);
		return;
	}
	/* With TFO the message is usually here already: such a client is never idle, so idle
	 * connections, however many, cannot keep 0-RTT clients out. */
	if (cv_read_message(s) && cv_take_idle(s))
		cv_arm(s, cc->convert_wait_ms);
}
