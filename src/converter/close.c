// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The one way a converter session ends: cv_close(s, reason) logs one line (client,
 * destination, bytes, duration, subflows, why), counts it, gives back every limit it held and
 * its on-path join hold, then releases and frees it. Whatever a client or a server can cause
 * ends here; the daemon lives on.
 */
#include "converter.h"

#include "log.h"
#include "sock.h"

#include <stdlib.h>

const char *cv_state_name(enum cv_state state)
{
	static const char *const names[] = { "wait-message", "connecting", "wait-client", "relay",
					     "closing" };
	return names[state];
}

uint64_t cv_bytes_down(const struct cv_session *s)
{
	uint64_t down = s->base.relay.dir[RELAY_B].bytes;

	if (s->state == CV_RELAY)
		down = down > s->reply_len ? down - s->reply_len : 0;
	return down;
}

/* The error sent, as a slug: a SOCKS reply on that entrance, else an RFC 8803 code. */
static const char *cv_error_slug_of(const struct cv_session *s)
{
	if (s->proto == CV_PROTO_SOCKS && s->socks_refusal)
		return socks_reply_slug(s->socks_refusal);
	return conv_error_slug((enum conv_error_code)s->error_code);
}

/* How it ended, as a metric label: the relay's end, else refused (an Error TLV or SOCKS
 * refusal was sent), an Info request answered, or ended before the relay for another reason. */
static enum session_end cv_end_of(const struct cv_session *s)
{
	if (s->base.relayed)
		return session_end_of(&s->base);
	if (s->probe)
		return SESSION_END_PROBE;
	if (s->unused)
		return SESSION_END_UNUSED;
	if (s->error_code >= 0)
		return SESSION_END_REFUSED;
	if (s->state == CV_CLOSING)
		return SESSION_END_INFO;
	return SESSION_END_NOT_RELAYED;
}

void cv_close(struct cv_session *s, const char *reason)
{
	struct cv_worker *w = s->worker;
	struct cv_shared *shared = w->shared;
	int client_fd = s->base.relay.io[RELAY_A].fd, server_fd = s->base.relay.io[RELAY_B].fd;
	char client[ADDR_STRLEN], dest[ADDR_STRLEN];
	enum session_end end = cv_end_of(s);
	/* A gateway's probes and retired pooled connections are routine: debug, not info. */
	enum log_level level = end == SESSION_END_PROBE || end == SESSION_END_UNUSED
				       ? LOG_LEVEL_DEBUG
				       : LOG_LEVEL_INFO;
	/* the subflow count is a syscall: only for a log line that is written */
	int subflows = client_fd >= 0 && log_enabled(level) ? sock_subflows_used(client_fd) : 0;
	uint64_t down = cv_bytes_down(s);

	if (log_enabled(level))
		(level == LOG_LEVEL_DEBUG ? log_debug : log_info)(
			"session client=%s dest=%s state=%s up=%llu down=%llu duration_ms=%llu "
			"subflows=%d client_mptcp=%d server_mptcp=%d error=%d code=%s end=%s "
			"reason=\"%s\"%s%s%s",
			addr_format(&s->base.client, true, client),
			s->has_dest ? addr_format(&s->base.dest, true, dest) : "-",
			cv_state_name(s->state), (unsigned long long)s->base.relay.dir[RELAY_A].bytes,
			(unsigned long long)down,
			(unsigned long long)(w->loop.now_ms - s->base.started_ms),
			subflows < 0 ? 0 : subflows, s->client_mptcp, s->server_mptcp, s->error_code,
			s->error_code >= 0 ? cv_error_slug_of(s) : "-", session_end_name(end), reason,
			s->refusal ? " refusal=\"" : "", s->refusal ? s->refusal : "",
			s->refusal ? "\"" : "");

	atomic_fetch_add(&shared->stats.sessions, 1);
	atomic_fetch_add(&shared->stats.ends[end], 1);
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
	if (s->error_code >= 0 && s->error_code < 98 && !s->probe)
		atomic_fetch_add(&shared->stats.errors[s->error_code], 1);

	cv_resolve_cancel(s);
	if (s->join_held)
		onpath_joins_release(&shared->joins, s->base.dest.port, w->loop.now_ms);
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
	if (s->reset_on_close && server_fd >= 0 && s->state != CV_RELAY)
		sock_set_reset_on_close(server_fd);
	session_release(&s->base, &w->sessions, s->reset_on_close);
	atomic_fetch_sub(&shared->sessions, 1);
	cv_cfg_put(s->cfg);
	free(s);
	if (w->draining && w->sessions.len == 0)
		loop_stop(&w->loop);
}

void cv_arm(struct cv_session *s, uint64_t delay_ms)
{
	if (loop_timer_arm(&s->worker->loop, &s->base.timer, delay_ms) < 0)
		cv_close(s, "out of memory arming a timer");
}
