// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Transport Converter role (RFC 8803, network side): per-worker listeners, one session per
 * client connection, from the Convert message to the relay hand-over, plus the process around
 * it (worker threads, signals, reload, drain). Owns sessions and config snapshots.
 * Whatever a client or server can cause ends in cv_close(session, reason): one log line, the
 * daemon lives on. It must never connect anywhere the destination filter refuses.
 */
#include "converter.h"

#include "acl.h"
#include "addr.h"
#include "clients.h"
#include "config.h"
#include "convert.h"
#include "cookie.h"
#include "ctl.h"
#include "destination.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "pipe.h"
#include "relay.h"
#include "intercept.h"
#include "onpath.h"
#include "ownaddr.h"
#include "sock.h"
#include "socks.h"
#include "status.h"
#include "webui.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define CV_REPLY_MAX	     160 /* header + Supported Ext + Extended TCP Header, or an Error */
#define CV_KEY_RECHECK_MS    2	 /* no event marks the client's MPTCP key arriving */
#define CV_ACCEPT_BACKOFF_MS 100
#define CV_OVERFLOW_SESSIONS 256 /* beyond the limits: answered with Resource Exceeded */
#define CV_LIMIT_WARN_MS     10000 /* a binding limit is logged at most this often per client */
#define TCPOPT_KIND_MPTCP    30
#define TCPOPT_KIND_TFO	     34

/* A validated configuration plus what is derived from it; shared, reference-counted. */
struct cv_cfg {
	atomic_int refs;
	struct config config;
};

/* How a session ended, for the close-reason counters. */
enum cv_end {
	CV_END_CLOSED,	     /* relayed, both directions ended with FIN */
	CV_END_RESET_CLIENT, /* relayed, the client reset or failed */
	CV_END_RESET_SERVER, /* relayed, the server reset or failed */
	CV_END_IDLE,	     /* relayed, idle timeout */
	CV_END_RELAY_ERROR,  /* relayed, local resource failure */
	CV_END_SHUTDOWN,     /* relayed, cut by the daemon's shutdown */
	CV_END_ERROR_SENT,   /* refused with an Error TLV */
	CV_END_INFO,	     /* an Info request answered */
	CV_END_ABORTED,	     /* ended before the relay without a reply (client gone, timeout) */
	CV_END_COUNT,
};

/* Metric labels of the destination policy's refusals (special classes are one label). */
static const char *const cv_dest_verdict_names[DEST_VERDICT_COUNT] = {
	[DEST_ALLOWED] = "allowed",	    [DEST_PORT_ZERO] = "port-zero",
	[DEST_SPECIAL] = "special-address", [DEST_OWN_ADDRESS] = "own-address",
	[DEST_DENIED] = "denied-destination",
};

static const char *const cv_end_names[CV_END_COUNT] = {
	"closed",      "reset_by_client", "reset_by_server", "idle",
	"relay_error", "shutdown",	  "error_sent",	     "info",
	"aborted",
};

/* Totals since start, updated once per session (never per packet), read by /metrics. */
struct cv_stats {
	atomic_ulong accepted;
	atomic_ulong sessions;
	atomic_ulong client_tcp; /* client leg plain TCP: not asked for, or fell back */
	atomic_ulong client_mptcp;
	atomic_ulong server_mptcp; /* downstream negotiated MPTCP */
	atomic_ulong server_tcp;   /* downstream fell back / server without MPTCP */
	atomic_ulong relayed;	   /* sessions that reached the relay */
	atomic_ulong bytes_up;	   /* relayed client -> server, counted when a session ends */
	atomic_ulong bytes_down;
	atomic_ulong errors[98]; /* Error TLVs sent, by code (codes are < 98) */
	atomic_ulong dest_refused[DEST_VERDICT_COUNT]; /* refusals by the destination policy */
	atomic_ulong ends[CV_END_COUNT];
	struct metrics_histogram setup; /* accept -> relay start (reply written), µs */
};

struct cv_shared {
	struct cv_stats stats;
	int argc; /* the role's command line, re-run on reload */
	char **argv;
	struct clients clients;
	struct ownaddr own; /* the host's addresses, never a destination; main thread refreshes */
	atomic_uint sessions; /* every open session: the hard cap on memory and fds */
	atomic_uint idle;     /* of which waiting for their message (max-idle) */
	atomic_uint active;   /* of which past their message (max-sessions) */
	atomic_ullong global_warned_ms; /* last warning about a global limit */
	atomic_bool draining;
	pthread_mutex_t cfg_lock;
	struct cv_cfg *cfg; /* current; sessions hold references to older ones */
	/* On-path mode: the join listener of each destination port with sessions (src/onpath.h) */
	struct onpath_joins joins;
};

enum cv_state {
	CV_WAIT_MESSAGE, /* connected; waiting for the Convert message */
	CV_CONNECTING,	 /* downstream connect in flight */
	CV_WAIT_CLIENT,	 /* reply ready; waiting until the client's MPTCP key is known */
	CV_RELAY,	 /* bytes flow; the relay owns the fds' events */
	CV_CLOSING,	 /* reply (error or info) written and shut down; waiting for the client */
};

struct cv_worker;
struct cv_part;

/* What the client speaks, by the listener that accepted it. */
enum cv_proto {
	CV_PROTO_CONVERT,     /* RFC 8803: the Convert message first */
	CV_PROTO_SOCKS,	      /* RFC 1928: greeting, CONNECT */
	CV_PROTO_TRANSPARENT, /* on-path: the destination is the accepted socket's address */
};

struct cv_session {
	struct relay relay; /* io[RELAY_A]: client, io[RELAY_B]: server (fd -1 until connect) */
	struct cv_worker *worker;
	struct cv_cfg *cfg; /* reference */
	struct cv_session *prev, *next;
	enum cv_proto proto;
	bool socks_greeted;		/* SOCKS: the method choice was sent */
	enum socks_reply socks_refusal; /* SOCKS: a refusal of its own kind, else 0 */
	enum cv_state state;
	struct addr_port client, dest;
	struct loop_timer timer;
	uint64_t started_ms, wait_since_ms;
	bool client_mptcp, server_mptcp, client_eof, has_dest;
	bool join_held; /* on-path: holds its port's join listener (shared->joins) */
	bool counted_session, counted_idle, counted_pending, counted_active;
	uint8_t client_key[16]; /* the client's address as the per-client limits count it */
	bool info_requested, reply_is_error, reset_on_close;
	int error_code;	     /* sent, or -1 */
	const char *refusal; /* why error_code was sent (static), for the close line */
	uint16_t reply_len;
	uint8_t reply[CV_REPLY_MAX];
};

struct cv_listener {
	struct loop_io io;
	struct cv_worker *worker;
	enum cv_proto proto;
};

struct cv_worker {
	pthread_t thread;
	unsigned index;
	struct cv_shared *shared;
	struct loop loop;
	struct pipe_pool pipes;
	struct cv_listener listeners[2 * CONFIG_MAX_LISTEN + 2];
	size_t listeners_len;
	struct loop_timer accept_retry, drain_timer;
	struct loop_io wakeup; /* eventfd: the main thread asks for drain or a snapshot */
	pthread_mutex_t inbox_lock;
	struct cv_part *inbox; /* snapshot requests from the main thread, under inbox_lock */
	struct cv_session *sessions;
	size_t sessions_len;
	bool draining;
	uint8_t scratch[CONV_MAX_LEN];
};

static void cv_on_client_event(struct loop_io *io, uint32_t events);
static void cv_on_server_event(struct loop_io *io, uint32_t events);

/* ---- configuration snapshots ---- */

/* Takes ownership of *config (moved in) on success. */
static struct cv_cfg *cv_cfg_new(struct config *config)
{
	struct cv_cfg *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->config = *config;
	memset(config, 0, sizeof(*config));
	atomic_init(&cfg->refs, 1);
	return cfg;
}

static void cv_cfg_put(struct cv_cfg *cfg)
{
	if (cfg && atomic_fetch_sub(&cfg->refs, 1) == 1) {
		config_free(&cfg->config);
		free(cfg);
	}
}

static struct cv_cfg *cv_cfg_get(struct cv_shared *shared)
{
	struct cv_cfg *cfg;

	pthread_mutex_lock(&shared->cfg_lock);
	cfg = shared->cfg;
	atomic_fetch_add(&cfg->refs, 1);
	pthread_mutex_unlock(&shared->cfg_lock);
	return cfg;
}

/* ---- session life cycle ---- */

static const char *state_name(enum cv_state state)
{
	static const char *const names[] = { "wait-message", "connecting", "wait-client", "relay",
					     "closing" };
	return names[state];
}

/* Bytes relayed server -> client, without our reply (the relay sent it as its prefix). */
static uint64_t cv_bytes_down(const struct cv_session *s)
{
	uint64_t down = s->relay.dir[RELAY_B].bytes;

	if (s->state == CV_RELAY)
		down = down > s->reply_len ? down - s->reply_len : 0;
	return down;
}

static enum cv_end cv_end_of(const struct cv_session *s)
{
	if (s->state == CV_RELAY) {
		switch (s->relay.end) {
		case RELAY_END_CLOSED:
			return CV_END_CLOSED;
		case RELAY_END_RESET_BY_A:
			return CV_END_RESET_CLIENT;
		case RELAY_END_RESET_BY_B:
			return CV_END_RESET_SERVER;
		case RELAY_END_IDLE:
			return CV_END_IDLE;
		case RELAY_END_ERROR:
			return CV_END_RELAY_ERROR;
		case RELAY_END_NONE:
			return CV_END_SHUTDOWN;
		}
	}
	if (s->error_code >= 0)
		return CV_END_ERROR_SENT;
	if (s->state == CV_CLOSING)
		return CV_END_INFO;
	return CV_END_ABORTED;
}

static void cv_close(struct cv_session *s, const char *reason)
{
	struct cv_worker *w = s->worker;
	struct cv_shared *shared = w->shared;
	int client_fd = s->relay.io[RELAY_A].fd, server_fd = s->relay.io[RELAY_B].fd;
	char client[ADDR_STRLEN], dest[ADDR_STRLEN];
	/* the subflow count is a syscall: only for a log line that is written */
	int subflows = client_fd >= 0 && log_enabled(LOG_LEVEL_INFO) ? sock_subflows(client_fd) : 0;
	uint64_t down = cv_bytes_down(s);

	log_info("session client=%s dest=%s state=%s up=%llu down=%llu duration_ms=%llu "
		 "subflows=%d client_mptcp=%d server_mptcp=%d error=%d reason=\"%s\"%s%s%s",
		 addr_format(&s->client, true, client),
		 s->has_dest ? addr_format(&s->dest, true, dest) : "-", state_name(s->state),
		 (unsigned long long)s->relay.dir[RELAY_A].bytes, (unsigned long long)down,
		 (unsigned long long)(w->loop.now_ms - s->started_ms), subflows < 0 ? 0 : subflows,
		 s->client_mptcp, s->server_mptcp, s->error_code, reason,
		 s->refusal ? " refusal=\"" : "", s->refusal ? s->refusal : "", s->refusal ? "\"" : "");

	atomic_fetch_add(&shared->stats.sessions, 1);
	atomic_fetch_add(&shared->stats.ends[cv_end_of(s)], 1);
	atomic_fetch_add(&shared->stats.bytes_up, s->relay.dir[RELAY_A].bytes);
	atomic_fetch_add(&shared->stats.bytes_down, down);
	if (client_fd >= 0)
		atomic_fetch_add(s->client_mptcp ? &shared->stats.client_mptcp
						 : &shared->stats.client_tcp,
				 1);
	if (s->state == CV_RELAY) {
		atomic_fetch_add(&shared->stats.relayed, 1);
		atomic_fetch_add(s->server_mptcp ? &shared->stats.server_mptcp
						 : &shared->stats.server_tcp,
				 1);
	}
	if (s->error_code >= 0 && s->error_code < 98)
		atomic_fetch_add(&shared->stats.errors[s->error_code], 1);

	if (s->join_held)
		onpath_joins_release(&shared->joins, s->dest.port, w->loop.now_ms);
	if (s->counted_idle) {
		clients_release(&shared->clients, s->client_key, CLIENTS_IDLE);
		atomic_fetch_sub(&shared->idle, 1);
	}
	if (s->counted_active)
		atomic_fetch_sub(&shared->active, 1);
	if (s->counted_pending)
		clients_release(&shared->clients, s->client_key, CLIENTS_PENDING);
	if (s->counted_session)
		clients_release(&shared->clients, s->client_key, CLIENTS_SESSIONS);
	loop_timer_cancel(&w->loop, &s->timer);
	if (s->reset_on_close && client_fd >= 0)
		sock_set_reset_on_close(client_fd);
	if (s->reset_on_close && server_fd >= 0 && s->state != CV_RELAY)
		sock_set_reset_on_close(server_fd);
	relay_close(&s->relay);

	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	w->sessions_len--;
	atomic_fetch_sub(&shared->sessions, 1);
	cv_cfg_put(s->cfg);
	free(s);
	if (w->draining && w->sessions_len == 0)
		loop_stop(&w->loop);
}

static void cv_arm(struct cv_session *s, uint64_t delay_ms)
{
	if (loop_timer_arm(&s->worker->loop, &s->timer, delay_ms) < 0)
		cv_close(s, "out of memory arming a timer");
}

/* Writes the reply once the client can take it; see docs/linux-mptcp.md 2a, bug 2. */
static void cv_try_reply(struct cv_session *s);

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
		cookie_make(&cc->cookie_secret, s->client.ip, (uint64_t)time(NULL), cookie);
	return conv_write_error_reply(s->reply, sizeof(s->reply), perr, with_cookie ? cookie : NULL,
				      with_cookie ? sizeof(cookie) : 0);
}

static void cv_fail(struct cv_session *s, const struct conv_parse_error *perr, const char *why)
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
	log_debug("client %s: %s: %s", addr_format(&s->client, true, (char[ADDR_STRLEN]){ 0 }),
		  conv_error_name(perr->code), why);
	s->reply_len = (uint16_t)len;
	s->reply_is_error = true;
	s->error_code = perr->code;
	s->refusal = why;
	s->reset_on_close = true;
	if (s->relay.io[RELAY_B].fd >= 0) {
		loop_remove(&s->worker->loop, &s->relay.io[RELAY_B]);
		close(s->relay.io[RELAY_B].fd);
		s->relay.io[RELAY_B].fd = -1;
	}
	if (s->counted_pending) {
		clients_release(&s->worker->shared->clients, s->client_key, CLIENTS_PENDING);
		s->counted_pending = false;
	}
	s->state = CV_WAIT_CLIENT;
	s->wait_since_ms = s->worker->loop.now_ms;
	cv_try_reply(s);
}

static void cv_fail_code(struct cv_session *s, enum conv_error_code code, const char *why)
{
	struct conv_parse_error perr = { .code = code };

	cv_fail(s, &perr, why);
}

/* ---- reply ---- */

/* What the server negotiated, read back from TCP_INFO (Linux never hands an application the
 * SYN+ACK of an active open); the codec turns it into the Extended TCP Header's form. */
static size_t cv_describe_server(int fd, const struct cv_session *s, uint8_t *out, size_t cap)
{
	struct tcp_info info;
	socklen_t info_len = sizeof(info);
	struct conv_server_desc desc = { .port = s->dest.port, .wscale = -1 };

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

static int cv_build_success_reply(struct cv_session *s)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	struct conv_writer w;
	uint8_t hdr[64];
	size_t hdr_len;

	conv_writer_begin(&w, s->reply, sizeof(s->reply));
	if (s->info_requested) {
		uint8_t kinds[2];
		size_t n = 0;

		kinds[n++] = TCPOPT_KIND_MPTCP;
		if (cc->tfo)
			kinds[n++] = TCPOPT_KIND_TFO;
		conv_put_supported_ext(&w, kinds, n);
	}
	if (s->has_dest && cc->reply_extended_header) {
		hdr_len = cv_describe_server(s->relay.io[RELAY_B].fd, s, hdr, sizeof(hdr));
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
	ret = sock_mptcp_info(s->relay.io[RELAY_A].fd, &info);
	/* EOPNOTSUPP: the client fell back to TCP, which has no such stall. */
	return ret < 0 || (info.flags & SOCK_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED);
}

static void cv_on_relay_end(struct relay *relay)
{
	struct cv_session *s = container_of(relay, struct cv_session, relay);

	cv_close(s, relay_end_name(relay->end));
}

static void cv_start_relay(struct cv_session *s)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	struct relay_params params = {
		.idle_timeout_ms = cc->common.idle_timeout_ms,
		.use_splice = cc->common.splice,
	};
	int ret;

	loop_timer_cancel(&s->worker->loop, &s->timer);
	metrics_observe(&s->worker->shared->stats.setup,
			(s->worker->loop.now_ms - s->started_ms) * 1000);
	relay_set_prefix(&s->relay, RELAY_A, s->reply, s->reply_len);
	s->state = CV_RELAY;
	ret = relay_start(&s->relay, &s->worker->loop, &s->worker->pipes, &params, cv_on_relay_end);
	if (ret < 0) {
		s->reset_on_close = true;
		cv_close(s, "relay could not start");
	}
}

static void cv_closing_check(struct cv_session *s);

static void cv_try_reply(struct cv_session *s)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	int fd = s->relay.io[RELAY_A].fd;
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
static void cv_closing_check(struct cv_session *s)
{
	uint64_t grace = s->cfg->config.converter.error_grace_ms;
	uint64_t elapsed = s->worker->loop.now_ms - s->wait_since_ms;
	const char *reason = s->reply_is_error ? "error sent" : "info sent";

	if (elapsed >= grace || (s->client_eof && sock_unsent(s->relay.io[RELAY_A].fd) <= 0)) {
		cv_close(s, reason);
		return;
	}
	cv_arm(s, s->client_eof ? CV_KEY_RECHECK_MS : grace - elapsed);
}

/* ---- downstream connect ---- */

/* errno of a failed connect -> RFC 8803 error (3.2.8), with the ICMP code when one arrived. */
static void cv_connect_failed(struct cv_session *s, int err)
{
	struct conv_parse_error perr = { .code = CONV_ERR_NETWORK_FAILURE };
	uint8_t type, code;
	char why[96];

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
		if (s->relay.io[RELAY_B].fd >= 0 &&
		    sock_icmp_error(s->relay.io[RELAY_B].fd, &type, &code) == 0)
			perr.value[0] = code;
		else if (addr_is_v4mapped(s->dest.ip)) /* no ICMP: the local route said no */
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
	snprintf(why, sizeof(why), "connect: %s", strerror(err));
	cv_fail(s, &perr, why);
}

static void cv_connected(struct cv_session *s)
{
	int len;

	if (s->counted_pending) {
		clients_release(&s->worker->shared->clients, s->client_key, CLIENTS_PENDING);
		s->counted_pending = false;
	}
	s->server_mptcp = sock_is_mptcp(s->relay.io[RELAY_B].fd) == 1;
	/* IP_RECVERR was for the connect's ICMP code; left on, a stray ICMP error would become a
	 * hard error and reset a live session. */
	if (!s->cfg->config.converter.downstream_mptcp) /* MPTCP sockets never had it on */
		sock_disable_recverr(s->relay.io[RELAY_B].fd,
				     addr_is_v4mapped(s->dest.ip) ? AF_INET : AF_INET6);
	if (s->proto == CV_PROTO_SOCKS) {
		struct sockaddr_storage ss;
		socklen_t ss_len = sizeof(ss);
		struct addr_port bound = { .ip = { [10] = 0xff, [11] = 0xff } };

		if (getsockname(s->relay.io[RELAY_B].fd, (struct sockaddr *)&ss, &ss_len) == 0)
			addr_from_sockaddr((struct sockaddr *)&ss, ss_len, &bound);
		len = (int)socks_put_reply(s->reply, SOCKS_OK, &bound);
	} else if (s->proto == CV_PROTO_TRANSPARENT) {
		len = 0; /* the client thinks it talks to the server: nothing to say */
	} else {
		len = cv_build_success_reply(s);
	}
	if (len < 0) {
		cv_fail_code(s, CONV_ERR_NETWORK_FAILURE, "cannot encode reply");
		return;
	}
	s->reply_len = (uint16_t)len;
	s->state = CV_WAIT_CLIENT;
	s->wait_since_ms = s->worker->loop.now_ms;
	cv_try_reply(s);
}

static void cv_on_server_event(struct loop_io *io, uint32_t events)
{
	struct cv_session *s = container_of(io, struct cv_session, relay.io[RELAY_B]);
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
	struct dest_judgement j = dest_judge(&policy, s->dest.ip, s->dest.port);
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

/* "192.0.2.1" or "2001:db8:1:2::/64": the client as the per-client limits count it. */
static char *cv_client_key_text(const struct cv_session *s, char buf[ADDR_STRLEN + 4])
{
	const struct config_converter *cc = &s->cfg->config.converter;
	struct addr_port ap = { .port = 0 };

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
static void cv_refuse_limit(struct cv_session *s, const char *limit, bool per_client)
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

static void cv_connect_dest(struct cv_session *s, const struct conv_message *msg);

static void cv_handle_message(struct cv_session *s, const struct conv_message *msg)
{
	const struct config_converter *cc = &s->cfg->config.converter;
	int len;

	s->info_requested = msg->has_info;
	if (msg->has_error) {
		s->reset_on_close = true;
		cv_close(s, "client sent an Error TLV");
		return;
	}
	if (cc->cookies && !msg->has_cookie) {
		cv_fail_code(s, CONV_ERR_MISSING_COOKIE, "cookie required");
		return;
	}
	if (cc->cookies && !cookie_check(&cc->cookie_secret, s->client.ip, (uint64_t)time(NULL),
					 msg->cookie, msg->cookie_len)) {
		cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED, "invalid cookie");
		return;
	}
	if (!msg->has_connect) {
		if (!msg->has_info) {
			cv_fail_code(s, CONV_ERR_MALFORMED_MESSAGE, "neither Connect nor Info");
			return;
		}
		len = cv_build_success_reply(s);
		if (len < 0) {
			cv_fail_code(s, CONV_ERR_NETWORK_FAILURE, "cannot encode reply");
			return;
		}
		s->reply_len = (uint16_t)len;
		s->state = CV_WAIT_CLIENT;
		s->wait_since_ms = s->worker->loop.now_ms;
		cv_try_reply(s);
		return;
	}

	memcpy(s->dest.ip, msg->connect.addr, 16);
	s->dest.port = msg->connect.port;
	s->has_dest = true;
	cv_connect_dest(s, msg);
}

/* s->dest is known: the filters, then the non-blocking connect to it. msg: the Convert message
 * that named it (for the Convert entrance's answers), else NULL. */
static void cv_connect_dest(struct cv_session *s, const struct conv_message *msg)
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

	fd = sock_connect(&s->dest, &opts);
	if (fd < 0) {
		cv_connect_failed(s, -fd);
		return;
	}
	s->relay.io[RELAY_B].fd = fd;
	s->relay.io[RELAY_B].on_event = cv_on_server_event;
	if (loop_add(&s->worker->loop, &s->relay.io[RELAY_B], RELAY_EPOLL_EVENTS) < 0) {
		cv_fail_code(s, CONV_ERR_RESOURCE_EXCEEDED, "epoll registration failed");
		return;
	}
	s->state = CV_CONNECTING;
	cv_arm(s, cc->common.connect_timeout_ms);
}

/* The client's message (or SOCKS request) is in, well-formed or not: no longer idle. */
static void cv_not_idle(struct cv_session *s)
{
	if (s->counted_idle) {
		clients_release(&s->worker->shared->clients, s->client_key, CLIENTS_IDLE);
		atomic_fetch_sub(&s->worker->shared->idle, 1);
		s->counted_idle = false;
	}
	loop_timer_cancel(&s->worker->loop, &s->timer);
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
	int fd = s->relay.io[RELAY_A].fd;
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
	len = socks_parse_request(w->scratch, (size_t)n, &s->dest, &refuse);
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

/* On-path mode: the TPROXY'd connection's own address is where the client was going. */
static void cv_open_transparent(struct cv_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	cv_not_idle(s);
	if (getsockname(s->relay.io[RELAY_A].fd, (struct sockaddr *)&ss, &len) < 0 ||
	    !addr_from_sockaddr((struct sockaddr *)&ss, len, &s->dest)) {
		s->reset_on_close = true;
		cv_close(s, "original destination unknown");
		return;
	}
	s->has_dest = true;
	if (!cv_take_active(s))
		return;
	if (s->client_mptcp) {
		/* usually open since the SYN (nflog notice); this keeps it while the session lives */
		int ret = onpath_joins_hold(&s->worker->shared->joins, s->dest.port,
					    !addr_is_v4mapped(s->dest.ip), s->worker->loop.now_ms);

		s->join_held = true;
		if (ret < 0)
			log_warnc(ret, "on-path: no join listener on port %u (single path)",
				  s->dest.port);
	}
	cv_connect_dest(s, NULL);
}

/* Peeks at the Convert message so that bytes after it stay queued for the relay. true while
 * the session still waits for (the rest of) it. */
static bool cv_read_message(struct cv_session *s)
{
	struct cv_worker *w = s->worker;
	int fd = s->relay.io[RELAY_A].fd;
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
		cv_close(s, "client closed before sending a Convert message");
		return false;
	}
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
	struct cv_session *s = container_of(io, struct cv_session, relay.io[RELAY_A]);

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
	struct cv_session *s = container_of(timer, struct cv_session, timer);

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

/* Every session open at once: those asking for something, those still idle, and a few more
 * that get a Resource Exceeded answer rather than a bare reset. */
static unsigned cv_session_cap(const struct config_converter *cc)
{
	return cc->max_sessions + cc->max_idle + CV_OVERFLOW_SESSIONS;
}

static void cv_open_session(struct cv_worker *w, int fd, const struct sockaddr_storage *ss,
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
	s->started_ms = w->loop.now_ms;
	loop_timer_init(&s->timer, cv_on_timer);
	relay_prepare(&s->relay, fd, -1);
	/* relay_close must unregister the fds even before the relay starts, so that no event
	 * still pending in this batch reaches a freed session. */
	s->relay.loop = &w->loop;
	s->relay.io[RELAY_A].on_event = cv_on_client_event;
	addr_from_sockaddr((const struct sockaddr *)ss, ss_len, &s->client);
	addr_client_key(s->client.ip, cc->client_prefix6, s->client_key);
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
	w->sessions_len++;

	if (loop_add(&w->loop, &s->relay.io[RELAY_A], RELAY_EPOLL_EVENTS) < 0) {
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

	if (!acl_contains(&cc->allow_clients, s->client.ip)) {
		cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED, "client not in the allow list");
		return;
	}
	s->counted_session = clients_acquire(&shared->clients, s->client_key, CLIENTS_SESSIONS,
					     cc->max_sessions_per_client);
	if (!s->counted_session) {
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

/* ---- workers ---- */

static void cv_pause_accepting(struct cv_worker *w)
{
	if (!loop_timer_armed(&w->accept_retry))
		loop_timer_arm(&w->loop, &w->accept_retry, CV_ACCEPT_BACKOFF_MS);
}

static void cv_accept_all(struct cv_worker *w, int lfd, enum cv_proto proto)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		if (loop_timer_armed(&w->accept_retry) || w->draining)
			return;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* Out of fds or memory: back off instead of spinning on the listener. */
			log_warn("worker %u: accept", w->index);
			cv_pause_accepting(w);
			return;
		}
		cv_open_session(w, fd, &ss, len, proto);
	}
}

static void cv_on_listener(struct loop_io *io, uint32_t events)
{
	struct cv_listener *l = container_of(io, struct cv_listener, io);

	cv_accept_all(l->worker, io->fd, l->proto);
}

static void cv_on_accept_retry(struct loop_timer *timer)
{
	struct cv_worker *w = container_of(timer, struct cv_worker, accept_retry);

	/* Edge-triggered listeners raise no new event for connections already queued. */
	for (size_t i = 0; i < w->listeners_len; i++)
		cv_accept_all(w, w->listeners[i].io.fd, w->listeners[i].proto);
}

static void cv_close_all(struct cv_worker *w, bool idle_only, const char *reason)
{
	struct cv_session *s = w->sessions, *next;

	for (; s; s = next) {
		next = s->next;
		if (!idle_only || s->state == CV_WAIT_MESSAGE)
			cv_close(s, reason);
	}
}

static void cv_on_drain_timeout(struct loop_timer *timer)
{
	struct cv_worker *w = container_of(timer, struct cv_worker, drain_timer);

	cv_close_all(w, false, "shutdown: drain timeout");
	loop_stop(&w->loop);
}

/* SIGTERM: stop accepting, let converted sessions finish, close idle ones at once. */
static void cv_start_drain(struct cv_worker *w)
{
	struct cv_cfg *cfg = cv_cfg_get(w->shared);

	w->draining = true;
	for (size_t i = 0; i < w->listeners_len; i++) {
		loop_remove(&w->loop, &w->listeners[i].io);
		close(w->listeners[i].io.fd);
	}
	w->listeners_len = 0;
	loop_timer_cancel(&w->loop, &w->accept_retry);
	cv_close_all(w, true, "shutdown: no Convert message yet");
	if (w->sessions_len == 0)
		loop_stop(&w->loop);
	else
		loop_timer_arm(&w->loop, &w->drain_timer, cfg->config.converter.common.drain_timeout_ms);
	cv_cfg_put(cfg);
}

/* ---- snapshots for the control socket and the status page (worker side) ---- */

enum cv_query_kind { CV_QUERY_SESSIONS, CV_QUERY_STATUS };

#define CV_TOP_SESSIONS 10 /* the status page's "top sessions" */
#define CV_MAX_LINKS	32

struct cv_query;

/* One worker's share of a query: queued in its inbox, filled by it, read by the main thread
 * once the query's remaining count reached zero. */
struct cv_part {
	struct cv_part *next; /* in the worker's inbox */
	struct cv_query *query;
	struct status_session *rows; /* owned; the worker's largest sessions first */
	size_t rows_len;
	unsigned link_subflows[CV_MAX_LINKS];
};

/* A question to every worker. Owned by the main thread's control (its in-flight list). */
struct cv_query {
	struct cv_query *next;
	struct cv_control *control;
	struct reply *reply; /* NULL once the client went away */
	enum cv_query_kind kind;
	bool json;
	size_t limit;				/* sessions per worker; 0 = all */
	struct status_link links[CV_MAX_LINKS]; /* read-only for the workers */
	size_t links_len;
	atomic_uint remaining;	/* workers yet to answer */
	struct cv_part parts[]; /* one per worker */
};

static uint64_t cv_weight(const struct cv_session *s)
{
	return s->relay.dir[RELAY_A].bytes + s->relay.dir[RELAY_B].bytes;
}

static void cv_snapshot(const struct cv_session *s, uint64_t now, struct status_session *row)
{
	int n = sock_subflows_info(s->relay.io[RELAY_A].fd, row->subflows, STATUS_MAX_SUBFLOWS);

	row->client = s->client;
	row->dest = s->dest;
	row->has_dest = s->has_dest;
	row->client_mptcp = s->client_mptcp;
	row->server_mptcp = s->server_mptcp;
	row->state = state_name(s->state);
	row->age_ms = now - s->started_ms;
	row->bytes_up = s->relay.dir[RELAY_A].bytes;
	row->bytes_down = cv_bytes_down(s);
	row->subflows_total = n < 0 ? 0 : n;
	row->subflows_len = n < 0 ? 0 : n > STATUS_MAX_SUBFLOWS ? STATUS_MAX_SUBFLOWS : (size_t)n;
}

static void cv_count_link_subflows(const struct cv_query *q, struct cv_part *part,
				   const struct cv_session *s)
{
	struct sock_subflow sf[STATUS_MAX_SUBFLOWS];
	int n = sock_subflows_info(s->relay.io[RELAY_A].fd, sf, STATUS_MAX_SUBFLOWS);

	for (int i = 0; i < n && i < STATUS_MAX_SUBFLOWS; i++) {
		int k = status_link_of(q->links, q->links_len, &sf[i]);

		if (k >= 0)
			part->link_subflows[k]++;
	}
}

/* Fills part with this worker's sessions (the `limit` largest, or all), on its own thread. */
static void cv_answer(struct cv_worker *w, struct cv_part *part)
{
	struct cv_query *q = part->query;
	size_t cap = q->limit && q->limit < w->sessions_len ? q->limit : w->sessions_len, n = 0;
	struct cv_session **top = NULL;

	if (cap) {
		part->rows = calloc(cap, sizeof(*part->rows));
		top = calloc(cap, sizeof(*top));
	}
	if (cap && (!part->rows || !top))
		cap = 0; /* out of memory: answer with what fits, nothing */
	for (struct cv_session *s = w->sessions; s; s = s->next) {
		size_t i;

		if (q->kind == CV_QUERY_STATUS)
			cv_count_link_subflows(q, part, s);
		if (cap == 0 || (n == cap && cv_weight(s) <= cv_weight(top[cap - 1])))
			continue;
		/* Insertion into the sorted top: cap is small (status) or everything (sessions). */
		i = n < cap ? n++ : cap - 1;
		for (; i > 0 && cv_weight(top[i - 1]) < cv_weight(s); i--)
			top[i] = top[i - 1];
		top[i] = s;
	}
	for (size_t i = 0; i < n; i++)
		cv_snapshot(top[i], w->loop.now_ms, &part->rows[i]);
	part->rows_len = n;
	free(top);
}

static void cv_answer_inbox(struct cv_worker *w);

static void cv_on_wakeup(struct loop_io *io, uint32_t events)
{
	struct cv_worker *w = container_of(io, struct cv_worker, wakeup);
	uint64_t value;

	while (read(io->fd, &value, sizeof(value)) > 0)
		;
	cv_answer_inbox(w);
	if (atomic_load(&w->shared->draining) && !w->draining)
		cv_start_drain(w);
}

static void cv_worker_destroy(struct cv_worker *w)
{
	cv_close_all(w, false, "shutdown");
	for (size_t i = 0; i < w->listeners_len; i++)
		close(w->listeners[i].io.fd);
	w->listeners_len = 0;
	if (w->wakeup.fd >= 0)
		close(w->wakeup.fd);
	w->wakeup.fd = -1;
	pipe_pool_destroy(&w->pipes);
	loop_destroy(&w->loop);
	pthread_mutex_destroy(&w->inbox_lock);
}

/* One more listener of this worker (SO_REUSEPORT: every worker has its own). */
static int cv_worker_listen(struct cv_worker *w, const struct config_converter *cc,
			    const struct addr_port *where, enum cv_proto proto)
{
	struct sock_listen_opts opts = {
		.mptcp = true,
		.reuseport = true,
		.tfo_queue = cc->tfo && proto == CV_PROTO_CONVERT ? 4096 : 0,
		.backlog = 4096,
		.buffer_size = cc->common.socket_buffer,
		.transparent = proto == CV_PROTO_TRANSPARENT,
	};
	struct cv_listener *l = &w->listeners[w->listeners_len];
	char text[ADDR_STRLEN];
	bool mptcp;
	int fd = sock_listen(where, &opts, &mptcp);

	if (fd < 0) {
		log_warnc(fd, "listen on %s", addr_format(where, true, text));
		return fd;
	}
	if (!mptcp && w->index == 0)
		log_warnx("listen on %s: MPTCP unavailable (net.mptcp.enabled?), plain TCP only",
			  addr_format(where, true, text));
	l->io.fd = fd;
	l->io.on_event = cv_on_listener;
	l->worker = w;
	l->proto = proto;
	w->listeners_len++;
	return loop_add(&w->loop, &l->io, EPOLLIN | EPOLLET);
}

static int cv_worker_init(struct cv_worker *w, unsigned index, struct cv_shared *shared,
			  const struct config_converter *cc)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->shared = shared;
	w->wakeup.fd = -1;
	pthread_mutex_init(&w->inbox_lock, NULL);
	loop_timer_init(&w->accept_retry, cv_on_accept_retry);
	loop_timer_init(&w->drain_timer, cv_on_drain_timeout);
	ret = loop_init(&w->loop);
	if (ret < 0)
		return ret;
	ret = pipe_pool_init(&w->pipes, cc->common.pipe_size, 64);
	if (ret < 0)
		return ret;
	w->wakeup.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wakeup.fd == -1)
		return -errno;
	w->wakeup.on_event = cv_on_wakeup;
	ret = loop_add(&w->loop, &w->wakeup, EPOLLIN);
	if (ret < 0)
		return ret;

	for (size_t i = 0; i < cc->listen_len; i++) {
		ret = cv_worker_listen(w, cc, &cc->listen[i], CV_PROTO_CONVERT);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < cc->socks_listen_len; i++) {
		ret = cv_worker_listen(w, cc, &cc->socks_listen[i], CV_PROTO_SOCKS);
		if (ret < 0)
			return ret;
	}
	if (cc->transparent_lan_len) {
		/* On loopback: TPROXY finds them there, and a socket lookup by a packet's own
		 * address (nft `socket`) never does, so they cannot swallow routed traffic. */
		struct addr_port lo4 = { .ip = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 },
					 .port = (uint16_t)cc->transparent_port };
		struct addr_port lo6 = { .ip = { [15] = 1 }, .port = (uint16_t)cc->transparent_port };

		ret = cv_worker_listen(w, cc, &lo4, CV_PROTO_TRANSPARENT);
		if (ret < 0)
			return ret;
		if (cv_worker_listen(w, cc, &lo6, CV_PROTO_TRANSPARENT) < 0 && index == 0)
			log_warnx("on-path mode: no IPv6 listener: MPTCP over IPv6 is routed on");
	}
	return 0;
}

static void *cv_worker_thread(void *arg)
{
	struct cv_worker *w = arg;
	int ret = loop_run(&w->loop);

	if (ret < 0) {
		log_warnc(ret, "worker %u: event loop failed", w->index);
	}
	return NULL;
}

/* ---- process ---- */

static void cv_check_kernel(const struct config_converter *cc)
{
	FILE *f;
	int value = 0;

	if (!cc->tfo)
		return;
	f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r");
	if (f && fscanf(f, "%i", &value) == 1 && !(value & 0x2))
		log_warnx("net.ipv4.tcp_fastopen=%#x lacks the server bit 0x2: SYN data will be "
			  "refused and MPTCP clients sending it fall back to plain TCP; "
			  "set it with: sysctl -w net.ipv4.tcp_fastopen=%#x",
			  value, value | 0x2);
	if (f)
		fclose(f);
}

static void cv_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* SIGHUP or `mpconvctl reload`. 0, or -errno with the reason in why. */
static int cv_reload(struct cv_shared *shared, char why[CONFIG_ERR_LEN])
{
	struct cv_cfg *old = cv_cfg_get(shared), *fresh;
	struct config config;
	char err[CONFIG_ERR_LEN] = "";

	static const uint8_t unset_secret[COOKIE_SECRET_LEN];
	int consumed = 0;

	if (!old->config.path) {
		snprintf(why, CONFIG_ERR_LEN,
			 "no configuration file (started from flags only); nothing to do");
		log_warnx("reload: %s", why);
		cv_cfg_put(old);
		return -ENOENT;
	}
	/* The same command line again, so flags keep overriding the (re-read) file. */
	config_init(&config);
	if (config_parse_args(&config, shared->argc - 1, shared->argv + 1, &consumed, err) == 0 &&
	    !memcmp(config.converter.cookie_secret.key, unset_secret, COOKIE_SECRET_LEN))
		/* A generated secret survives reloads: outstanding cookies stay valid. */
		memcpy(config.converter.cookie_secret.key, old->config.converter.cookie_secret.key,
		       COOKIE_SECRET_LEN);
	if (err[0] || config_finish(&config, err) < 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		snprintf(why, CONFIG_ERR_LEN, "%s; keeping the running configuration", err);
		config_free(&config);
		cv_cfg_put(old);
		return -EINVAL;
	}
	if (config.converter.listen_len != old->config.converter.listen_len ||
	    memcmp(config.converter.listen, old->config.converter.listen,
		   sizeof(config.converter.listen[0]) * config.converter.listen_len))
		log_warnx("reload: listen addresses changed; they take effect at restart");
	if (strcmp(config.converter.common.control.socket, old->config.converter.common.control.socket) ||
	    config.converter.common.control.metrics != old->config.converter.common.control.metrics ||
	    memcmp(&config.converter.common.control.metrics_listen,
		   &old->config.converter.common.control.metrics_listen,
		   sizeof(config.converter.common.control.metrics_listen)))
		log_warnx("reload: control-socket or metrics-listen changed; they take effect at "
			  "restart");
	fresh = cv_cfg_new(&config);
	if (!fresh) {
		snprintf(why, CONFIG_ERR_LEN, "cannot build the new configuration");
		config_free(&config);
		cv_cfg_put(old);
		return -ENOMEM;
	}
	log_set_level(fresh->config.converter.common.log_level);
	pthread_mutex_lock(&shared->cfg_lock);
	shared->cfg = fresh;
	pthread_mutex_unlock(&shared->cfg_lock);
	cv_cfg_put(old); /* our reference */
	cv_cfg_put(old); /* the one shared->cfg held; live sessions keep theirs */
	log_info("reload: configuration from %s applied to new sessions", fresh->config.path);
	snprintf(why, CONFIG_ERR_LEN, "configuration from %s applied to new sessions",
		 fresh->config.path);
	return 0;
}

static void cv_log_stats(struct cv_stats *stats)
{
	char errors[256] = "";
	size_t len = 0;

	for (int code = 0; code < 98; code++) {
		unsigned long n = atomic_load(&stats->errors[code]);
		int w;

		if (!n || len >= sizeof(errors))
			continue;
		w = snprintf(errors + len, sizeof(errors) - len, "%s%d:%lu", len ? "," : "", code,
			     n);
		len += w > 0 ? (size_t)w : 0;
	}
	log_info("totals: sessions=%lu relayed=%lu client_tcp=%lu server_mptcp=%lu server_tcp=%lu "
		 "errors=%s",
		 atomic_load(&stats->sessions), atomic_load(&stats->relayed),
		 atomic_load(&stats->client_tcp), atomic_load(&stats->server_mptcp),
		 atomic_load(&stats->server_tcp), len ? errors : "none");
}

/* ---- operator access: control socket, metrics, status page (main thread) ---- */

/* The main thread's side of operator access; one per process. */
struct cv_control {
	struct cv_shared *shared;
	struct cv_worker *workers;
	unsigned nworkers;
	struct loop loop;
	struct loop_io signals; /* signalfd: HUP reloads, TERM/INT stop the loop */
	struct loop_io answers; /* eventfd: a worker finished its part of a query */
	struct loop_io own_events; /* rtnetlink: the host's addresses changed */
	struct ctl ctl;
	struct ctl_provider provider;
	struct http http;
	struct http_handlers routes;
	struct status_history *history; /* owned; the interfaces' counters, once a second */
	struct loop_timer sample;
	struct cv_query *queries; /* in flight, owned */
	uint64_t started_ms;
};

static void cv_answer_inbox(struct cv_worker *w)
{
	struct cv_part *part, *next;

	pthread_mutex_lock(&w->inbox_lock);
	part = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	for (; part; part = next) {
		struct cv_query *q = part->query;

		next = part->next;
		cv_answer(w, part);
		/* The last worker to answer wakes the main thread; seq_cst orders the rows. */
		if (atomic_fetch_sub(&q->remaining, 1) == 1)
			eventfd_write(q->control->answers.fd, 1);
	}
}

static void cv_query_free(struct cv_query *q, unsigned nworkers)
{
	for (unsigned i = 0; i < nworkers; i++)
		free(q->parts[i].rows);
	free(q);
}

static void cv_query_cancel(struct reply *r)
{
	struct cv_query *q = r->cancel_arg;

	q->reply = NULL; /* the workers' answers will be dropped */
}

/* Asks every worker; the answer comes back through cv_on_answers. Returns REPLY_LATER. */
static int cv_query_start(struct cv_control *c, struct reply *r, enum cv_query_kind kind, bool json,
			  size_t limit)
{
	struct cv_query *q = calloc(1, sizeof(*q) + c->nworkers * sizeof(q->parts[0]));
	int n;

	if (!q) {
		reply_puts(r, "out of memory");
		return -ENOMEM;
	}
	q->control = c;
	q->reply = r;
	q->kind = kind;
	q->json = json;
	q->limit = limit;
	if (kind == CV_QUERY_STATUS) {
		n = status_read_interfaces(q->links, CV_MAX_LINKS);
		q->links_len = n < 0 ? 0 : (size_t)n;
	}
	atomic_init(&q->remaining, c->nworkers);
	q->next = c->queries;
	c->queries = q;
	r->cancel = cv_query_cancel;
	r->cancel_arg = q;
	for (unsigned i = 0; i < c->nworkers; i++) {
		struct cv_worker *w = &c->workers[i];

		q->parts[i].query = q;
		pthread_mutex_lock(&w->inbox_lock);
		q->parts[i].next = w->inbox;
		w->inbox = &q->parts[i];
		pthread_mutex_unlock(&w->inbox_lock);
		eventfd_write(w->wakeup.fd, 1);
	}
	return REPLY_LATER;
}

/* Every worker's rows in one array, largest sessions first. NULL with *n = 0 if none. */
static struct status_session *cv_query_rows(const struct cv_query *q, unsigned nworkers, size_t *n)
{
	struct status_session *all;
	size_t total = 0;

	for (unsigned i = 0; i < nworkers; i++)
		total += q->parts[i].rows_len;
	*n = 0;
	if (total == 0)
		return NULL;
	all = malloc(total * sizeof(*all));
	if (!all)
		return NULL;
	for (unsigned i = 0; i < nworkers; i++) {
		if (q->parts[i].rows_len == 0)
			continue; /* rows may be NULL */
		memcpy(all + *n, q->parts[i].rows, q->parts[i].rows_len * sizeof(*all));
		*n += q->parts[i].rows_len;
	}
	status_sort_sessions(all, *n);
	return all;
}

static void cv_status_json(struct cv_control *c, struct reply *r, struct cv_query *q,
			   const struct status_session *rows, size_t n);

static void cv_query_finish(struct cv_control *c, struct cv_query *q)
{
	struct reply *r = q->reply;
	struct status_session *rows;
	size_t n;

	if (!r)
		return;
	rows = cv_query_rows(q, c->nworkers, &n);
	if (q->kind == CV_QUERY_STATUS) {
		cv_status_json(c, r, q, rows, n < CV_TOP_SESSIONS ? n : CV_TOP_SESSIONS);
	} else {
		status_sessions_reply(r, rows, n, q->json);
	}
	free(rows);
	reply_done(r, 0);
}

static void cv_on_answers(struct loop_io *io, uint32_t events)
{
	struct cv_control *c = container_of(io, struct cv_control, answers);
	struct cv_query **pp = &c->queries;
	uint64_t value;

	while (read(io->fd, &value, sizeof(value)) > 0)
		;
	while (*pp) {
		struct cv_query *q = *pp;

		if (atomic_load(&q->remaining) != 0) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		cv_query_finish(c, q);
		cv_query_free(q, c->nworkers);
	}
}

static const char *cv_error_slug(int code, char buf[40])
{
	const char *name = conv_error_name(code);
	size_t i = 0;

	for (; name[i] && i < 39; i++)
		buf[i] = name[i] == ' ' ? '_' : (char)(name[i] | 0x20);
	buf[i] = '\0';
	return buf;
}

static const int cv_error_codes[] = {
	CONV_ERR_UNSUPPORTED_VERSION, CONV_ERR_MALFORMED_MESSAGE,
	CONV_ERR_UNSUPPORTED_MESSAGE, CONV_ERR_MISSING_COOKIE,
	CONV_ERR_NOT_AUTHORIZED,      CONV_ERR_UNSUPPORTED_TCP_OPTION,
	CONV_ERR_RESOURCE_EXCEEDED,   CONV_ERR_NETWORK_FAILURE,
	CONV_ERR_CONNECTION_RESET,    CONV_ERR_DESTINATION_UNREACHABLE,
};

#define CV_NCODES (sizeof(cv_error_codes) / sizeof(cv_error_codes[0]))

static unsigned long cv_load(atomic_ulong *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* The totals as one JSON object's members (no braces), shared by status -j and status.json. */
static void cv_totals_json(struct cv_control *c, struct reply *r)
{
	struct cv_stats *st = &c->shared->stats;
	char slug[40];

	reply_printf(r,
		     "\"sessions_open\":%u,\"sessions_accepted\":%lu,\"sessions_total\":%lu,"
		     "\"sessions_relayed\":%lu,\"bytes_up\":%lu,\"bytes_down\":%lu,"
		     "\"client_mptcp\":%lu,\"client_tcp\":%lu,\"server_mptcp\":%lu,"
		     "\"server_tcp\":%lu,\"errors_sent\":{",
		     atomic_load(&c->shared->sessions), cv_load(&st->accepted),
		     cv_load(&st->sessions), cv_load(&st->relayed), cv_load(&st->bytes_up),
		     cv_load(&st->bytes_down), cv_load(&st->client_mptcp), cv_load(&st->client_tcp),
		     cv_load(&st->server_mptcp), cv_load(&st->server_tcp));
	for (size_t i = 0, n = 0; i < CV_NCODES; i++) {
		unsigned long v = cv_load(&st->errors[cv_error_codes[i]]);

		if (v)
			reply_printf(r, "%s\"%s\":%lu", n++ ? "," : "",
				     cv_error_slug(cv_error_codes[i], slug), v);
	}
	reply_puts(r, "}");
}

static void cv_identity_json(struct cv_control *c, struct reply *r, const struct cv_cfg *cfg)
{
	reply_printf(r,
		     "\"role\":\"converter\",\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%llu,"
		     "\"workers\":%u,\"config\":",
		     MPCONV_VERSION, (long)getpid(),
		     (unsigned long long)((loop_clock_ms() - c->started_ms) / 1000), c->nworkers);
	reply_json_string(r, cfg->config.path);
}

static uint64_t cv_wall_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

static void cv_status_json(struct cv_control *c, struct reply *r, struct cv_query *q,
			   const struct status_session *rows, size_t n)
{
	struct cv_cfg *cfg = cv_cfg_get(c->shared);

	for (size_t k = 0; k < q->links_len; k++)
		for (unsigned i = 0; i < c->nworkers; i++)
			q->links[k].subflows += q->parts[i].link_subflows[k];
	reply_puts(r, "{");
	cv_identity_json(c, r, cfg);
	reply_printf(r, ",\"time_ms\":%llu,", (unsigned long long)cv_wall_ms());
	cv_totals_json(c, r);
	reply_puts(r, ",\"links\":");
	status_links_json(r, q->links, q->links_len);
	reply_puts(r, ",\"sessions\":");
	status_sessions_json(r, rows, n);
	reply_puts(r, "}\n");
	cv_cfg_put(cfg);
}

static int cv_ctl_status(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct cv_control *c = ctx;
	struct cv_stats *st = &c->shared->stats;
	struct cv_cfg *cfg = cv_cfg_get(c->shared);
	const struct config_converter *cc = &cfg->config.converter;
	char u1[REPLY_UNIT_LEN], u2[REPLY_UNIT_LEN], where[ADDR_STRLEN], slug[40];
	size_t errors = 0;

	if (req->json) {
		reply_puts(r, "{");
		cv_identity_json(c, r, cfg);
		reply_puts(r, ",\"listen\":[");
		for (size_t i = 0; i < cc->listen_len; i++) {
			reply_puts(r, i ? "," : "");
			reply_json_string(r, addr_format(&cc->listen[i], true, where));
		}
		reply_puts(r, "],");
		cv_totals_json(c, r);
		reply_puts(r, "}\n");
		cv_cfg_put(cfg);
		return 0;
	}
	reply_printf(r, "%-10s converter %s (pid %ld)\n", "role", MPCONV_VERSION, (long)getpid());
	reply_printf(r, "%-10s %s\n", "uptime", reply_fmt_age(loop_clock_ms() - c->started_ms, u1));
	reply_printf(r, "%-10s %s\n", "config", cfg->config.path ? cfg->config.path : "(flags)");
	reply_printf(r, "%-10s", "listen");
	for (size_t i = 0; i < cc->listen_len; i++)
		reply_printf(r, " %s", addr_format(&cc->listen[i], true, where));
	reply_printf(r, "\n%-10s %u\n", "workers", c->nworkers);
	reply_printf(r, "%-10s %u open, %lu ended (%lu relayed), %lu accepted\n", "sessions",
		     atomic_load(&c->shared->sessions), cv_load(&st->sessions),
		     cv_load(&st->relayed), cv_load(&st->accepted));
	reply_printf(r, "%-10s %s up, %s down (ended sessions)\n", "bytes",
		     reply_fmt_bytes(cv_load(&st->bytes_up), u1),
		     reply_fmt_bytes(cv_load(&st->bytes_down), u2));
	reply_printf(r, "%-10s %lu MPTCP, %lu TCP\n", "clients", cv_load(&st->client_mptcp),
		     cv_load(&st->client_tcp));
	reply_printf(r, "%-10s %lu MPTCP, %lu TCP\n", "servers", cv_load(&st->server_mptcp),
		     cv_load(&st->server_tcp));
	reply_printf(r, "%-10s", "errors");
	for (size_t i = 0; i < CV_NCODES; i++) {
		unsigned long v = cv_load(&st->errors[cv_error_codes[i]]);

		if (v)
			reply_printf(r, "%s %s %lu", errors++ ? "," : "",
				     cv_error_slug(cv_error_codes[i], slug), v);
	}
	reply_puts(r, errors ? "\n" : " none\n");
	cv_cfg_put(cfg);
	return 0;
}

static int cv_ctl_sessions(void *ctx, struct reply *r, const struct ctl_request *req)
{
	return cv_query_start(ctx, r, CV_QUERY_SESSIONS, req->json, 0);
}

static int cv_ctl_reload(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct cv_control *c = ctx;
	char why[CONFIG_ERR_LEN] = "";
	int ret = cv_reload(c->shared, why);

	if (req->json && ret == 0) {
		reply_puts(r, "{\"reloaded\":true,\"message\":");
		reply_json_string(r, why);
		reply_puts(r, "}\n");
	} else {
		reply_printf(r, "%s%s", why, ret == 0 ? "\n" : "");
	}
	return ret;
}

static int cv_http_status(void *ctx, struct reply *r)
{
	return cv_query_start(ctx, r, CV_QUERY_STATUS, true, CV_TOP_SESSIONS);
}

/* A counter family with one label taking two values. */
static void cv_metrics_pair(struct metrics_writer *w, const char *name, const char *help,
			    const char *label, const char *a, unsigned long va, const char *b,
			    unsigned long vb)
{
	struct metrics_label l = { label, a };

	metrics_family(w, name, METRICS_COUNTER, help);
	metrics_sample(w, &l, 1, va);
	l.value = b;
	metrics_sample(w, &l, 1, vb);
}

static int cv_http_metrics(void *ctx, struct reply *r)
{
	struct cv_control *c = ctx;
	struct cv_stats *st = &c->shared->stats;
	struct metrics_writer w;
	struct metrics_label l[1];
	char slug[40];

	metrics_writer_init(&w, r, "converter");
	metrics_family(&w, "mpconv_build_info", METRICS_GAUGE, "Version of the running mpconvd.");
	l[0] = (struct metrics_label){ "version", MPCONV_VERSION };
	metrics_sample(&w, l, 1, 1);
	metrics_family(&w, "mpconv_uptime_seconds", METRICS_GAUGE, "Seconds since start.");
	metrics_sample(&w, NULL, 0, (loop_clock_ms() - c->started_ms) / 1000);
	metrics_family(&w, "mpconv_sessions_open", METRICS_GAUGE, "Sessions open now.");
	metrics_sample(&w, NULL, 0, atomic_load(&c->shared->sessions));
	metrics_family(&w, "mpconv_sessions_accepted_total", METRICS_COUNTER,
		       "Client connections accepted.");
	metrics_sample(&w, NULL, 0, cv_load(&st->accepted));
	metrics_family(&w, "mpconv_sessions_total", METRICS_COUNTER, "Sessions ended.");
	metrics_sample(&w, NULL, 0, cv_load(&st->sessions));
	metrics_family(&w, "mpconv_sessions_relayed_total", METRICS_COUNTER,
		       "Ended sessions that reached the relay.");
	metrics_sample(&w, NULL, 0, cv_load(&st->relayed));
	metrics_family(&w, "mpconv_sessions_closed_total", METRICS_COUNTER,
		       "Ended sessions by how they ended.");
	for (int i = 0; i < CV_END_COUNT; i++) {
		l[0] = (struct metrics_label){ "reason", cv_end_names[i] };
		metrics_sample(&w, l, 1, cv_load(&st->ends[i]));
	}
	cv_metrics_pair(&w, "mpconv_bytes_total",
			"Bytes relayed by ended sessions; up is client to server.", "direction",
			"up", cv_load(&st->bytes_up), "down", cv_load(&st->bytes_down));
	cv_metrics_pair(&w, "mpconv_client_connections_total",
			"Ended sessions by the client leg's protocol (tcp: plain TCP or an MPTCP "
			"fallback).",
			"protocol", "mptcp", cv_load(&st->client_mptcp), "tcp",
			cv_load(&st->client_tcp));
	cv_metrics_pair(&w, "mpconv_server_connections_total",
			"Relayed sessions by the protocol the server negotiated.", "protocol",
			"mptcp", cv_load(&st->server_mptcp), "tcp", cv_load(&st->server_tcp));
	metrics_family(&w, "mpconv_convert_errors_sent_total", METRICS_COUNTER,
		       "RFC 8803 Error TLVs sent to clients, by error code.");
	for (size_t i = 0; i < CV_NCODES; i++) {
		l[0] = (struct metrics_label){ "code", cv_error_slug(cv_error_codes[i], slug) };
		metrics_sample(&w, l, 1, cv_load(&st->errors[cv_error_codes[i]]));
	}
	metrics_family(&w, "mpconv_destinations_refused_total", METRICS_COUNTER,
		       "Destinations refused by the destination policy, by reason (every entrance).");
	for (int i = DEST_PORT_ZERO; i < DEST_VERDICT_COUNT; i++) {
		l[0] = (struct metrics_label){ "reason", cv_dest_verdict_names[i] };
		metrics_sample(&w, l, 1, cv_load(&st->dest_refused[i]));
	}
	metrics_family(&w, "mpconv_sessions_idle", METRICS_GAUGE,
		       "Connections waiting for their message now (limit: max-idle).");
	metrics_sample(&w, NULL, 0, atomic_load(&c->shared->idle));
	metrics_family(&w, "mpconv_own_addresses", METRICS_GAUGE,
		       "Local, broadcast and anycast routes of this host, never a destination.");
	metrics_sample(&w, NULL, 0, ownaddr_count(&c->shared->own));
	metrics_family(&w, "mpconv_setup_seconds", METRICS_HISTOGRAM,
		       "From accept to the reply written and the relay started.");
	metrics_histogram(&w, NULL, 0, &st->setup);
	return 0;
}

static int cv_http_history(void *ctx, struct reply *r)
{
	struct cv_control *c = ctx;

	status_history_json(r, c->history);
	return 0;
}

/* The status page's recent past: this namespace's interface counters, once a second. */
static void cv_on_sample(struct loop_timer *timer)
{
	struct cv_control *c = container_of(timer, struct cv_control, sample);
	struct status_link links[CV_MAX_LINKS];
	int n = status_read_interfaces(links, CV_MAX_LINKS);

	if (n >= 0)
		status_history_add(c->history, cv_wall_ms(), links, (size_t)n);
	loop_timer_arm(&c->loop, &c->sample, c->history->interval_ms);
}

static const struct http_route cv_routes[] = {
	{ "/metrics", HTTP_METRICS_TYPE, cv_http_metrics },
	{ "/status.json", "application/json", cv_http_status },
	{ "/history.json", "application/json", cv_http_history },
	{ "/", WEBUI_TYPE, webui_page },
};

/* The host's own addresses moved: the next destination check sees the new set. */
static void cv_on_own_events(struct loop_io *io, uint32_t events)
{
	struct cv_control *c = container_of(io, struct cv_control, own_events);
	int ret = ownaddr_on_readable(&c->shared->own);

	(void)events;
	if (ret < 0) {
		log_warnc(ret, "cannot refresh the host's own addresses (the previous set stays)");
	} else if (ret > 0) {
		log_info("own addresses refreshed: %zu local routes",
			 ownaddr_count(&c->shared->own));
	}
}

static void cv_on_signal(struct loop_io *io, uint32_t events)
{
	struct cv_control *c = container_of(io, struct cv_control, signals);
	struct signalfd_siginfo si;
	char why[CONFIG_ERR_LEN];

	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			cv_reload(c->shared, why);
			continue;
		}
		log_info("signal %u: draining %u sessions", si.ssi_signo,
			 atomic_load(&c->shared->sessions));
		loop_stop(&c->loop);
		return;
	}
}

/*
 * The main thread's loop: signals, the control socket (unless control-socket = none) and the
 * metrics endpoint (if metrics-listen is set). A default control socket that is busy (another
 * converter on this host) is a warning; an explicit one, or the metrics address, is fatal.
 */
static int cv_control_start(struct cv_control *c, int sfd, const struct config_control *cfg)
{
	int ret;

	c->signals.fd = sfd;
	c->signals.on_event = cv_on_signal;
	c->answers.on_event = cv_on_answers;
	ret = loop_add(&c->loop, &c->signals, EPOLLIN);
	if (ret < 0)
		return ret;
	c->answers.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->answers.fd == -1)
		return -errno;
	ret = loop_add(&c->loop, &c->answers, EPOLLIN);
	if (ret < 0)
		return ret;
	c->own_events.fd = ownaddr_fd(&c->shared->own);
	c->own_events.on_event = cv_on_own_events;
	ret = loop_add(&c->loop, &c->own_events, EPOLLIN);
	if (ret < 0)
		return ret;
	c->provider = (struct ctl_provider){
		.role = "converter",
		.ctx = c,
		.status = cv_ctl_status,
		.sessions = cv_ctl_sessions,
		.reload = cv_ctl_reload,
	};
	ret = ctl_serve(&c->ctl, &c->loop, cfg->socket, cfg->socket_set, &c->provider);
	if (ret < 0)
		return ret;
	if (cfg->metrics) {
		c->history = malloc(sizeof(*c->history));
		if (!c->history)
			return -ENOMEM;
		status_history_init(c->history, 1000);
		loop_timer_init(&c->sample, cv_on_sample);
		cv_on_sample(&c->sample);
		ret = http_serve(&c->http, &c->loop, &cfg->metrics_listen, &c->routes, cv_routes,
				 sizeof(cv_routes) / sizeof(cv_routes[0]), c);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Stops serving; pending answers are cancelled (their queries stay until the workers end). */
static void cv_control_stop(struct cv_control *c)
{
	ctl_stop(&c->ctl);
	http_stop(&c->http);
}

/* After the workers are joined: nothing can answer a query any more. */
static void cv_control_destroy(struct cv_control *c)
{
	while (c->queries) {
		struct cv_query *q = c->queries;

		c->queries = q->next;
		cv_query_free(q, c->nworkers);
	}
	if (c->answers.fd >= 0)
		close(c->answers.fd);
	c->answers.fd = -1;
	loop_destroy(&c->loop);
	free(c->history);
	c->history = NULL;
}

/*
 * On-path mode: our nftables table diverts MPTCP SYNs (MP_CAPABLE, and MP_JOIN to a port with
 * sessions) forwarded through the transparent-lan interfaces to the transparent and join
 * listeners; plain TCP and native MPTCP are routed on untouched (src/onpath.h has the whole
 * classification). The nflog watch opens a port's join listener at its first MP_CAPABLE SYN.
 * Removed at exit. 0, or -errno (logged).
 */
static int cv_onpath_start(const struct config_converter *cc, struct intercept_config *ic,
			   struct onpath_watch *watch, struct loop *loop, struct onpath_joins *joins)
{
	char err[256] = "";
	int ret;

	if (cc->transparent_lan_len == 0)
		return 0;
	if (cc->transparent_native.len > INTERCEPT_MAX_EXCLUDE) {
		log_warnx("on-path mode: more than %d transparent-native prefixes",
			  INTERCEPT_MAX_EXCLUDE);
		return -EINVAL;
	}
	*ic = (struct intercept_config){ .port = (uint16_t)cc->transparent_port,
					 .ipv6 = true,
					 .mptcp_only = true };
	for (size_t i = 0; i < cc->transparent_lan_len; i++)
		ic->lan_ifaces[ic->lan_len++] = cc->transparent_lan[i];
	for (size_t i = 0; i < cc->transparent_native.len; i++)
		ic->exclude[ic->exclude_len++] = cc->transparent_native.prefixes[i];
	for (size_t i = 0; i < cc->transparent_native_ports_len; i++)
		ic->native_ports[ic->native_ports_len++] = cc->transparent_native_ports[i];
	/* the watch before the table: no SYN is diverted before its notices are read */
	ret = onpath_watch_start(watch, loop, joins, ONPATH_LOG_GROUP);
	if (ret == 0)
		ic->log_group = ONPATH_LOG_GROUP;
	else
		log_warnx("on-path mode: no nflog notices (%s): join listeners open at accept, "
			  "a first join may need its SYN retransmitted",
			  strerror(-ret));
	ret = intercept_install(ic, err, sizeof(err));
	if (ret < 0) {
		log_warnx("on-path mode: cannot install the capture: %s", err);
		ic->lan_len = 0;
		return ret;
	}
	log_info("on-path mode: terminating MPTCP forwarded through %zu interface(s), port %u, "
		 "%zu native prefix(es), %zu native port(s)",
		 ic->lan_len, ic->port, ic->exclude_len, ic->native_ports_len);
	return 0;
}

/* Shutdown, before the drain: new MPTCP connections are routed on to their servers from now
 * on, while the terminated ones keep reaching their sockets until they end (drain-timeout);
 * removing the table at once would send their packets on to servers that know nothing of them.
 */
static void cv_onpath_drain(struct intercept_config *ic)
{
	char err[256] = "";

	if (ic->lan_len == 0)
		return;
	ic->draining = true;
	if (intercept_install(ic, err, sizeof(err)) < 0)
		log_warnx("on-path mode: cannot stop diverting new connections: %s", err);
}

static void cv_onpath_stop(struct intercept_config *ic, struct onpath_watch *watch)
{
	char err[256] = "";

	if (ic->lan_len && intercept_remove(ic, err, sizeof(err)) < 0)
		log_warnx("on-path mode: cannot remove the capture: %s", err);
	if (ic->lan_len)
		log_info("on-path mode: %lu SYN notices, %lu join listeners opened, %lu closed",
			 watch->notices, watch->joins ? watch->joins->opened : 0,
			 watch->joins ? watch->joins->closed : 0);
	onpath_watch_stop(watch);
	ic->lan_len = 0;
}

static unsigned cv_worker_count(const struct config_converter *cc)
{
	long cpus;

	if (cc->common.workers)
		return cc->common.workers;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (unsigned)cpus : 1;
}

static void cv_usage(FILE *out)
{
	fprintf(out, "usage: mpconvd converter [--config FILE] [--key value ...]\n"
		     "  e.g. mpconvd converter --listen 0.0.0.0:5124 --allow 192.0.2.0/24\n\n");
	config_print_help(out);
}

int converter_main(int argc, char **argv)
{
	static const double setup_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					       0.25,  0.5,    1,     2.5,  5,	  10 };
	struct cv_shared shared = { .cfg = NULL };
	struct cv_control control = { .loop.epoll_fd = -1, .answers.fd = -1, .signals.fd = -1 };
	struct intercept_config onpath = { .lan_len = 0 };
	struct onpath_watch watch = { .loop = NULL };
	struct cv_worker *workers = NULL;
	struct config config;
	char err[CONFIG_ERR_LEN] = "";
	unsigned nworkers = 0, started = 0;
	bool own_started = false;
	sigset_t signals;
	int consumed = 0, sfd = -1, ret = 1;
	char where[ADDR_STRLEN];

	shared.argc = argc;
	shared.argv = argv;
	config_init(&config);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cv_usage(stdout);
			config_free(&config);
			return 0;
		}
	}
	if (config_parse_args(&config, argc - 1, argv + 1, &consumed, err) < 0 ||
	    config_finish(&config, err) < 0) {
		log_warnx("%s", err);
		config_free(&config);
		return 2;
	}
	if (consumed != argc - 1) {
		log_warnx("unexpected argument '%s'", argv[1 + consumed]);
		cv_usage(stderr);
		config_free(&config);
		return 2;
	}
	log_set_level(config.converter.common.log_level);
	if (config.converter.allow_clients.len == 0)
		log_warnx("no client is allowed (allow list empty): every request will be refused");
	cv_check_kernel(&config.converter);
	cv_raise_fd_limit();

	pthread_mutex_init(&shared.cfg_lock, NULL);
	if (onpath_joins_init(&shared.joins) < 0) {
		log_warnx("on-path join table");
		goto cleanup;
	}
	metrics_histogram_init(&shared.stats.setup, setup_bounds,
			       sizeof(setup_bounds) / sizeof(setup_bounds[0]), 1e6);
	atomic_init(&shared.sessions, 0);
	atomic_init(&shared.draining, false);
	nworkers = cv_worker_count(&config.converter);
	if (clients_init(&shared.clients, cv_session_cap(&config.converter)) < 0) {
		log_warnx("out of memory for the client table");
		goto cleanup;
	}
	shared.cfg = cv_cfg_new(&config);
	if (!shared.cfg)
		goto cleanup;
	ret = ownaddr_start(&shared.own);
	if (ret < 0) {
		log_warnc(ret, "cannot read the host's own addresses (rtnetlink)");
		ret = 1;
		goto cleanup;
	}
	own_started = true;
	ret = 1;

	/* Signals go to the main thread's signalfd only: block them before threads exist. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd == -1) {
		log_warn("signalfd");
		goto cleanup;
	}
	if (loop_init(&control.loop) < 0) {
		log_warn("main event loop");
		goto cleanup;
	}
	control.shared = &shared;
	control.started_ms = loop_clock_ms();

	workers = calloc(nworkers, sizeof(*workers));
	if (!workers) {
		log_warnx("out of memory for %u workers", nworkers);
		goto cleanup;
	}
	for (unsigned i = 0; i < nworkers; i++) {
		int r = cv_worker_init(&workers[i], i, &shared, &shared.cfg->config.converter);

		started = i + 1; /* initialised (maybe partly): destroyed at cleanup */
		if (r < 0) {
			log_warnc(r, "worker %u: start-up failed", i);
			goto cleanup;
		}
	}
	for (unsigned i = 0; i < nworkers; i++) {
		int r = pthread_create(&workers[i].thread, NULL, cv_worker_thread, &workers[i]);

		if (r != 0) {
			log_warnc(r, "worker %u: pthread_create", i);
			atomic_store(&shared.draining, true);
			for (unsigned j = 0; j < i; j++)
				eventfd_write(workers[j].wakeup.fd, 1);
			for (unsigned j = 0; j < i; j++)
				pthread_join(workers[j].thread, NULL);
			goto cleanup;
		}
	}
	for (size_t i = 0; i < shared.cfg->config.converter.listen_len; i++)
		log_info("converter listening on %s (%u workers, TFO %s)",
			 addr_format(&shared.cfg->config.converter.listen[i], true, where),
			 nworkers, shared.cfg->config.converter.tfo ? "on" : "off");
	for (size_t i = 0; i < shared.cfg->config.converter.socks_listen_len; i++)
		log_info("SOCKS 5 on %s",
			 addr_format(&shared.cfg->config.converter.socks_listen[i], true, where));
	if (cv_onpath_start(&shared.cfg->config.converter, &onpath, &watch, &control.loop,
			    &shared.joins) < 0) {
		ret = 1;
		goto stop_workers;
	}

	control.workers = workers;
	control.nworkers = nworkers;
	ret = cv_control_start(&control, sfd, &shared.cfg->config.converter.common.control);
	if (ret == 0) {
		ret = loop_run(&control.loop);
		if (ret < 0) {
			log_warnc(ret, "main event loop");
		}
	}
	ret = ret < 0 ? 1 : 0;
stop_workers:
	cv_onpath_drain(&onpath);
	cv_control_stop(&control);
	atomic_store(&shared.draining, true);
	for (unsigned i = 0; i < nworkers; i++)
		eventfd_write(workers[i].wakeup.fd, 1);
	for (unsigned i = 0; i < nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	cv_onpath_stop(&onpath, &watch);
	cv_log_stats(&shared.stats);
	log_info("converter stopped");

cleanup:
	cv_control_destroy(&control);
	for (unsigned i = 0; i < started; i++)
		cv_worker_destroy(&workers[i]);
	free(workers);
	if (sfd >= 0)
		close(sfd);
	cv_cfg_put(shared.cfg);
	if (own_started)
		ownaddr_stop(&shared.own);
	clients_destroy(&shared.clients);
	pthread_mutex_destroy(&shared.cfg_lock);
	onpath_joins_destroy(&shared.joins);
	config_free(&config);
	return ret;
}
