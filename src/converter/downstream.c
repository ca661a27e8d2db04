// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The server leg of a converter session: the destination policy (one for every entrance),
 * the non-blocking connect (MPTCP by default, to learn whether the server speaks it), and what
 * follows: the reply once connected, or the Error TLV that says why not. It never connects
 * anywhere the destination policy refuses.
 */
#include "converter.h"

#include "log.h"
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* errno of a failed connect -> RFC 8803 error (3.2.8), with the ICMP code when one arrived. */
void cv_connect_failed(struct cv_session *s, int err)
{
	struct conv_parse_error perr = { .code = CONV_ERR_NETWORK_FAILURE };
	uint8_t type, code;

	switch (err) {
	case ECONNREFUSED:
		perr.code = CONV_ERR_CONNECTION_RESET;
		break;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENONET:
	case EPROTO:
	case EACCES:
	case EPERM:
		perr.code = CONV_ERR_DESTINATION_UNREACHABLE;
		perr.value_len = 1;
		if (s->base.relay.io[RELAY_B].fd >= 0 &&
		    sock_icmp_error(s->base.relay.io[RELAY_B].fd, &type, &code) == 0)
			perr.value[0] = code;
		else if (addr_is_v4mapped(s->base.dest.ip)) /* no ICMP: the local route said no */
			perr.value[0] = err == ENETUNREACH ? 0 : 1; /* net / host unreachable */
		else
			perr.value[0] =
				err == ENETUNREACH ? 0 : 3; /* no route / address unreachable */
		break;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
	case EADDRNOTAVAIL:
		perr.code = CONV_ERR_RESOURCE_EXCEEDED;
		break;
	default:
		break;
	}
	/* the session keeps the reason until its close line: glibc's own static description */
	cv_fail(s, &perr, strerrordesc_np(err) ? strerrordesc_np(err) : "connect failed");
}

static void cv_connected(struct cv_session *s)
{
	int len;

	if (s->counted_pending) {
		clients_release(&s->worker->shared->clients, s->client_key, CLIENTS_PENDING);
		s->counted_pending = false;
	}
	s->server_mptcp = sock_is_mptcp(s->base.relay.io[RELAY_B].fd) == 1;
	/* IP_RECVERR was for the connect's ICMP code; left on, a stray ICMP error would become a
	 * hard error and reset a live session. */
	if (!s->cfg->config.converter.downstream_mptcp) /* MPTCP sockets never had it on */
		sock_disable_recverr(s->base.relay.io[RELAY_B].fd,
				     addr_is_v4mapped(s->base.dest.ip) ? AF_INET : AF_INET6);
	if (s->proto == CV_PROTO_SOCKS) {
		struct sockaddr_storage ss;
		socklen_t ss_len = sizeof(ss);
		struct addr_port bound = { .ip = { [10] = 0xff, [11] = 0xff } };

		if (getsockname(s->base.relay.io[RELAY_B].fd, (struct sockaddr *)&ss, &ss_len) == 0)
			addr_from_sockaddr((struct sockaddr *)&ss, ss_len, &bound);
		len = (int)socks_put_reply(s->reply, SOCKS_OK, &bound);
	} else if (s->proto == CV_PROTO_TRANSPARENT) {
		len = 0; /* the client thinks it talks to the server: nothing to say */
	} else {
		len = cv_build_success_reply(s);
	}
	cv_reply_ready(s, len);
}

static void cv_on_server_event(struct loop_io *io, uint32_t events)
{
	struct cv_session *s = container_of(io, struct cv_session, base.relay.io[RELAY_B]);
	int err;

	if (s->state != CV_CONNECTING)
		return; /* waiting for the client: the relay will find whatever the server sent */
	err = sock_pending_error(io->fd);
	if (err < 0)
		err = -err;
	if (err) {
		cv_connect_failed(s, err);
		return;
	}
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		cv_connected(s);
}

/*
 * The destination policy (destination.h), one for every entrance, applied once the destination
 * is final; a refusal is answered in the entrance's own terms. msg: the Convert message, echoed
 * back when the answer is Malformed Message (RFC 8803 3.2.8); NULL for the other entrances.
 * false when the session was refused.
 */
static bool cv_destination_allowed(struct cv_session *s, const struct conv_message *msg)
{
	struct cv_shared *shared = s->worker->shared;
	const struct dest_policy policy = {
		.deny = &s->cfg->config.converter.deny_destinations,
		.is_own = ownaddr_is_own,
		.own_arg = &shared->own,
	};
	struct dest_judgement j = dest_judge(&policy, s->base.dest.ip, s->base.dest.port);
	struct conv_parse_error perr = { .code = dest_convert_error(j) };

	if (j.verdict == DEST_ALLOWED)
		return true;
	atomic_fetch_add(&shared->stats.dest_refused[j.verdict], 1);
	if (s->proto == CV_PROTO_SOCKS)
		s->socks_refusal = dest_socks_reply(j);
	if (msg && perr.code == CONV_ERR_MALFORMED_MESSAGE) {
		perr.value_len = 1; /* value[0] = 0: the echo is shifted by one byte */
		perr.echo = s->worker->scratch;
		perr.echo_len = msg->length;
	}
	cv_fail(s, &perr, dest_explain(j));
	return false;
}

/* s->base.dest is known: the filters, then the non-blocking connect to it. msg: the Convert message
 * that named it (for the Convert entrance's answers), else NULL. */
void cv_connect_dest(struct cv_session *s, const struct conv_message *msg)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	struct cv_shared *shared = s->worker->shared;
	struct sock_connect_opts opts = {
		.mptcp = cc->downstream_mptcp,
		.syn_retries = cc->syn_retries,
		.buffer_size = cc->common.socket_buffer,
		.nodelay = true,
	};
	int fd;

	if (!cv_destination_allowed(s, msg))
		return;
	if (!clients_acquire(&shared->clients, s->client_key, CLIENTS_PENDING,
			     cc->max_pending_per_client)) {
		cv_refuse_limit(s, "max-pending-per-client", true);
		return;
	}
	s->counted_pending = true;

	fd = sock_connect(&s->base.dest, &opts);
	if (fd < 0) {
		cv_connect_failed(s, -fd);
		return;
	}
	s->base.relay.io[RELAY_B].fd = fd;
	s->base.relay.io[RELAY_B].on_event = cv_on_server_event;
	if (loop_add(&s->worker->loop, &s->base.relay.io[RELAY_B], RELAY_EPOLL_EVENTS) < 0) {
		cv_fail_code(s, CONV_ERR_RESOURCE_EXCEEDED, "epoll registration failed");
		return;
	}
	s->state = CV_CONNECTING;
	cv_arm(s, cc->common.connect_timeout_ms);
}
