// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a converter's client is told: the success reply (Supported Extensions on request, the
 * Extended TCP Header describing the server), written only once the client's MPTCP key is known
 * (docs/linux-mptcp.md 2a), then the relay; or a refusal in the client's own protocol (an
 * Error TLV, a SOCKS reply, a reset on-path) followed by a reset after error-grace.
 */
#include "converter.h"

#include "cookie.h"
#include "log.h"
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Ends the session with an Error TLV (RFC 8803 3.2.8): reply, shut down, reset after grace. */
/* The SOCKS reply code closest to an RFC 8803 error. */
static enum socks_reply cv_socks_code(const struct conv_parse_error *perr)
{
	switch (perr->code) {
	case CONV_ERR_NOT_AUTHORIZED:
	case CONV_ERR_MISSING_COOKIE:
		return SOCKS_NOT_ALLOWED;
	case CONV_ERR_CONNECTION_RESET:
		return SOCKS_REFUSED;
	case CONV_ERR_DESTINATION_UNREACHABLE:
		return perr->value_len && perr->value[0] == 0 ? SOCKS_NET_UNREACHABLE
							      : SOCKS_HOST_UNREACHABLE;
	default:
		return SOCKS_GENERAL_FAILURE;
	}
}

/* A refusal in the client's protocol: an Error TLV, a SOCKS reply (or "no acceptable
 * method" before the greeting was answered). Returns its length, or -1. */
static int cv_refusal(struct cv_session *s, const struct conv_parse_error *perr)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	uint8_t cookie[COOKIE_LEN];
	bool with_cookie = perr->code == CONV_ERR_MISSING_COOKIE;
	struct addr_port none = { .ip = { [10] = 0xff, [11] = 0xff } };

	if (s->proto == CV_PROTO_SOCKS)
		return s->socks_greeted
			       ? (int)socks_put_reply(s->reply,
						      s->socks_refusal ? s->socks_refusal
								       : cv_socks_code(perr),
						      &none)
			       : (int)socks_put_method(s->reply, SOCKS_NO_METHOD);
	if (with_cookie)
		cookie_make(&cc->cookie_secret, s->base.client.ip, (uint64_t)time(NULL), cookie);
	return conv_write_error_reply(s->reply, sizeof(s->reply), perr, with_cookie ? cookie : NULL,
				      with_cookie ? sizeof(cookie) : 0);
}

void cv_fail(struct cv_session *s, const struct conv_parse_error *perr, const char *why)
{
	int len;

	if (s->proto == CV_PROTO_TRANSPARENT) {
		/* nothing to answer with but a reset, as the server itself would */
		s->error_code = perr->code;
		s->reset_on_close = true;
		cv_close(s, why);
		return;
	}
	len = cv_refusal(s, perr);
	if (len < 0) {
		s->reset_on_close = true;
		cv_close(s, "cannot encode error reply");
		return;
	}
	log_debug("client %s: %s: %s", addr_format(&s->base.client, true, (char[ADDR_STRLEN]){ 0 }),
		  conv_error_name(perr->code), why);
	s->reply_len = (uint16_t)len;
	s->reply_is_error = true;
	s->error_code = perr->code;
	s->refusal = why;
	s->reset_on_close = true;
	if (s->base.relay.io[RELAY_B].fd >= 0) {
		loop_remove(&s->worker->loop, &s->base.relay.io[RELAY_B]);
		close(s->base.relay.io[RELAY_B].fd);
		s->base.relay.io[RELAY_B].fd = -1;
	}
	if (s->counted_pending) {
		clients_release(&s->worker->shared->clients, s->client_key, CLIENTS_PENDING);
		s->counted_pending = false;
	}
	s->state = CV_WAIT_CLIENT;
	s->wait_since_ms = s->worker->loop.now_ms;
	cv_try_reply(s);
}

void cv_fail_code(struct cv_session *s, enum conv_error_code code, const char *why)
{
	struct conv_parse_error perr = { .code = code };

	cv_fail(s, &perr, why);
}

/* What the server negotiated, read back from TCP_INFO (Linux never hands an application the
 * SYN+ACK of an active open); the codec turns it into the Extended TCP Header's form. */
static size_t cv_describe_server(int fd, const struct cv_session *s, uint8_t *out, size_t cap)
{
	struct tcp_info info;
	socklen_t info_len = sizeof(info);
	struct conv_server_desc desc = { .port = s->base.dest.port, .wscale = -1 };

	memset(&info, 0, sizeof(info));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_len) == -1)
		return 0;
	desc.timestamps = info.tcpi_options & TCPI_OPT_TIMESTAMPS;
	desc.sack = info.tcpi_options & TCPI_OPT_SACK;
	/* the MSS option counts the bytes the timestamp option takes from each segment */
	if (info.tcpi_snd_mss)
		desc.mss = (uint16_t)(info.tcpi_snd_mss + (desc.timestamps ? 12 : 0));
	if (info.tcpi_options & TCPI_OPT_WSCALE)
		desc.wscale = info.tcpi_snd_wscale;
	desc.mptcp = s->server_mptcp;
	return conv_describe_server(&desc, out, cap);
}

void cv_reply_ready(struct cv_session *s, int len)
{
	if (len < 0) {
		cv_fail_code(s, CONV_ERR_NETWORK_FAILURE, "cannot encode reply");
		return;
	}
	s->reply_len = (uint16_t)len;
	s->state = CV_WAIT_CLIENT;
	s->wait_since_ms = s->worker->loop.now_ms;
	cv_try_reply(s);
}

int cv_build_success_reply(struct cv_session *s)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	struct conv_writer w;
	uint8_t hdr[64];
	size_t hdr_len;

	conv_writer_begin(&w, s->reply, sizeof(s->reply));
	if (s->info_requested) {
		uint8_t kinds[2];
		size_t n = 0;

		kinds[n++] = CONV_TCPOPT_MPTCP;
		if (cc->tfo)
			kinds[n++] = CV_TCPOPT_TFO;
		conv_put_supported_ext(&w, kinds, n);
	}
	if (s->has_dest && cc->reply_extended_header) {
		hdr_len = cv_describe_server(s->base.relay.io[RELAY_B].fd, s, hdr, sizeof(hdr));
		if (hdr_len)
			conv_put_ext_tcp_header(&w, hdr, hdr_len);
	}
	return conv_writer_finish(&w);
}

static bool cv_client_ready(struct cv_session *s)
{
	struct sock_mptcp_info info;
	int ret;

	if (!s->client_mptcp)
		return true;
	ret = sock_mptcp_info(s->base.relay.io[RELAY_A].fd, &info);
	/* EOPNOTSUPP: the client fell back to TCP, which has no such stall. */
	return ret < 0 || (info.flags & SOCK_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED);
}

static void cv_on_relay_end(struct relay *relay)
{
	struct cv_session *s = container_of(relay, struct cv_session, base.relay);

	cv_close(s, relay_end_name(relay->end));
}

static void cv_start_relay(struct cv_session *s)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	struct relay_params params = {
		.meter = &s->worker->meter,
		.idle_timeout_ms = cc->common.idle_timeout_ms,
		.use_splice = cc->common.splice,
	};
	int ret;

	loop_timer_cancel(&s->worker->loop, &s->base.timer);
	/* From the request's first byte: a pooled connection's idle wait is not setup time. */
	metrics_observe(&s->worker->shared->stats.setup,
			(s->worker->loop.now_ms -
			 (s->first_byte_ms ? s->first_byte_ms : s->base.started_ms)) *
				1000);
	relay_set_prefix(&s->base.relay, RELAY_A, s->reply, s->reply_len);
	s->state = CV_RELAY;
	s->base.relayed = true;
	ret = relay_start(&s->base.relay, &s->worker->loop, &s->worker->pipes, &params, cv_on_relay_end);
	if (ret < 0) {
		s->reset_on_close = true;
		cv_close(s, "relay could not start");
	}
}

void cv_try_reply(struct cv_session *s)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	int fd = s->base.relay.io[RELAY_A].fd;
	ssize_t n;

	if (!cv_client_ready(s)) {
		if (s->worker->loop.now_ms - s->wait_since_ms > cc->convert_wait_ms) {
			s->reset_on_close = true;
			cv_close(s, "client never completed its MPTCP handshake");
			return;
		}
		cv_arm(s, CV_KEY_RECHECK_MS);
		return;
	}
	if (!s->reply_is_error && s->has_dest) {
		cv_start_relay(s);
		return;
	}
	/* An Error, or the answer to an Info-only request: write it, then close. */
	n = send(fd, s->reply, s->reply_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)s->reply_len) {
		s->reset_on_close = true;
		cv_close(s,
			 n < 0 ? "client gone before the reply" : "reply did not fit the socket");
		return;
	}
	shutdown(fd, SHUT_WR);
	s->state = CV_CLOSING;
	s->wait_since_ms = s->worker->loop.now_ms;
	cv_arm(s, cc->error_grace_ms);
}

/*
 * After an Error or Info reply: close once the client has closed too and our reply has left
 * the send queue (a reset would discard it), or when error-grace runs out.
 */
void cv_closing_check(struct cv_session *s)
{
	uint64_t grace = s->cfg->config.converter.error_grace_ms;
	uint64_t elapsed = s->worker->loop.now_ms - s->wait_since_ms;
	const char *reason = s->reply_is_error ? "error sent" : "info sent";

	if (elapsed >= grace || (s->client_eof && sock_unsent(s->base.relay.io[RELAY_A].fd) <= 0)) {
		cv_close(s, reason);
		return;
	}
	cv_arm(s, s->client_eof ? CV_KEY_RECHECK_MS : grace - elapsed);
}

/* "192.0.2.1" or "2001:db8:1:2::/64": the client as the per-client limits count it. */
static char *cv_client_key_text(const struct cv_session *s, char buf[ADDR_STRLEN + 4])
{
	const struct config_converter *cc = &s->cfg->config.converter;
	struct addr_port ap = { .port = 0 };

	if (s->cpe[0]) {
		snprintf(buf, ADDR_STRLEN + 4, "cpe %s", s->cpe);
		return buf;
	}
	memcpy(ap.ip, s->client_key, 16);
	addr_format(&ap, false, buf);
	if (!addr_is_v4mapped(ap.ip) && cc->client_prefix6 < 128)
		snprintf(buf + strlen(buf), 5, "/%u", cc->client_prefix6);
	return buf;
}

/*
 * A limit refuses this connection with Resource Exceeded, and says so at warning level once per
 * CV_LIMIT_WARN_MS per client (per-client limits) or per converter (global ones), so an operator
 * sees which limit binds without a line per refused connection.
 */
void cv_refuse_limit(struct cv_session *s, const char *limit, bool per_client)
{
	struct cv_shared *shared = s->worker->shared;
	uint64_t now = s->worker->loop.now_ms;
	char who[ADDR_STRLEN + 4];
	bool warn;

	if (per_client) {
		warn = clients_warn_due(&shared->clients, s->client_key, now, CV_LIMIT_WARN_MS);
	} else {
		unsigned long long last = atomic_load(&shared->global_warned_ms);

		warn = (last == 0 || now - last >= CV_LIMIT_WARN_MS) &&
		       atomic_compare_exchange_strong(&shared->global_warned_ms, &last, now);
	}
	if (warn)
		log_warnx("%s%s: %s reached, refusing with Resource Exceeded (said at most every "
			  "%d s)",
			  per_client ? "client " : "converter",
			  per_client ? cv_client_key_text(s, who) : "", limit,
			  CV_LIMIT_WARN_MS / 1000);
	cv_fail_code(s, CONV_ERR_RESOURCE_EXCEEDED, limit);
}
