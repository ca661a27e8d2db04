// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The part of a session both roles share (session.h): set-up around the accepted socket, the
 * timer, the end reason as a slug, and the release that closes, unlinks and leaves the freeing
 * to the owner. It never logs and never counts: the role's close does, once.
 */
#include "session.h"

#include <string.h>

void session_init(struct session *s, struct list *list, struct loop *loop, int client_fd,
		  void (*on_client)(struct loop_io *io, uint32_t events),
		  void (*on_timer)(struct loop_timer *timer))
{
	relay_prepare(&s->relay, client_fd, -1);
	/* relay_close must unregister the fds even before the relay starts, so that no event
	 * still pending in this batch reaches a freed session. */
	s->relay.loop = loop;
	s->relay.io[RELAY_A].on_event = on_client;
	loop_timer_init(&s->timer, on_timer);
	s->started_ms = loop->now_ms;
	list_push(list, &s->node);
}

bool session_arm(struct session *s, uint64_t delay_ms)
{
	return loop_timer_arm(s->relay.loop, &s->timer, delay_ms) == 0;
}

enum session_end session_end_of(const struct session *s)
{
	if (!s->relayed)
		return SESSION_END_NOT_RELAYED;
	switch (s->relay.end) {
	case RELAY_END_CLOSED:
		return SESSION_END_CLOSED;
	case RELAY_END_RESET_BY_A:
		return SESSION_END_RESET_BY_CLIENT;
	case RELAY_END_RESET_BY_B:
		return SESSION_END_RESET_BY_SERVER;
	case RELAY_END_IDLE:
		return SESSION_END_IDLE;
	case RELAY_END_ERROR:
		return SESSION_END_RELAY_ERROR;
	case RELAY_END_NONE:
		break;
	}
	return SESSION_END_SHUTDOWN;
}

const char *session_end_name(enum session_end end)
{
	static const char *const names[SESSION_END_COUNT] = {
		[SESSION_END_CLOSED] = "closed",
		[SESSION_END_RESET_BY_CLIENT] = "reset_by_client",
		[SESSION_END_RESET_BY_SERVER] = "reset_by_server",
		[SESSION_END_IDLE] = "idle",
		[SESSION_END_RELAY_ERROR] = "relay_error",
		[SESSION_END_SHUTDOWN] = "shutdown",
		[SESSION_END_REFUSED] = "refused",
		[SESSION_END_INFO] = "info",
		[SESSION_END_NOT_RELAYED] = "not_relayed",
		[SESSION_END_BLOCKED] = "blocked",
		[SESSION_END_PROBE] = "probe",
		[SESSION_END_UNUSED] = "unused",
	};

	return end < SESSION_END_COUNT ? names[end] : "?";
}

void session_release(struct session *s, struct list *list, bool reset_client)
{
	loop_timer_cancel(s->relay.loop, &s->timer);
	if (reset_client && s->relay.io[RELAY_A].fd >= 0)
		sock_set_reset_on_close(s->relay.io[RELAY_A].fd);
	relay_close(&s->relay);
	list_remove(list, &s->node);
}
