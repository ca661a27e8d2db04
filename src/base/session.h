/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_SESSION_H
#define MPCONV_SESSION_H

#include "addr.h"
#include "list.h"
#include "loop.h"
#include "relay.h"
#include "sock.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * What every proxied connection is, in either role: a relay between a client side (A: the
 * converter's client, the gateway's LAN host) and a server side (B: the server, the converter),
 * its place on its owner's list, its addresses, one timer and when it started. Each role embeds
 * a struct session first in its own and ends it the one way relayd does, with a close function
 * of its own (cv_close / gw_close: one log line, the counters) whose last step is
 * session_release. How a session ended is a slug, usable as a metric label.
 */
enum session_end {
	SESSION_END_CLOSED,	       /* relayed, both directions ended with FIN */
	SESSION_END_RESET_BY_CLIENT,   /* relayed, the client side reset or failed */
	SESSION_END_RESET_BY_SERVER,   /* relayed, the server side reset or failed */
	SESSION_END_IDLE,	       /* relayed, idle timeout */
	SESSION_END_RELAY_ERROR,       /* relayed, local resource failure */
	SESSION_END_SHUTDOWN,	       /* relayed, cut by the daemon's shutdown */
	SESSION_END_REFUSED,	       /* refused before the relay (an Error TLV, a block rule...) */
	SESSION_END_INFO,	       /* the converter answered an Info request */
	SESSION_END_NOT_RELAYED,       /* ended before the relay for any other reason */
	SESSION_END_BLOCKED,	       /* a block rule refused it (gateway) */
	SESSION_END_PROBE,	       /* a link probe answered (converter: a bare Convert header) */
	SESSION_END_UNUSED,	       /* closed before its first byte: a pooled connection retired */
	SESSION_END_COUNT
};

struct session {
	struct relay relay; /* io[RELAY_A]: client side, io[RELAY_B]: server side (-1 until set) */
	struct list_node node;
	struct loop_timer timer;
	struct addr_port client, dest;
	uint64_t started_ms;
	bool relayed; /* the relay was started */
};

/*
 * Sets s up around an accepted client socket (relay prepared, client fd's events to on_client,
 * the timer to on_timer), on list. The relay knows the loop from now on, so session_release
 * unregisters the fds even before the relay starts.
 */
void session_init(struct session *s, struct list *list, struct loop *loop, int client_fd,
		  void (*on_client)(struct loop_io *io, uint32_t events),
		  void (*on_timer)(struct loop_timer *timer));
/* Arms the session's timer. false when it could not be armed (out of memory): the caller
 * must end the session, since nothing would ever wake it. */
bool session_arm(struct session *s, uint64_t delay_ms);
/* How a session ended, from its relay's end (or SESSION_END_NOT_RELAYED before it ran). */
enum session_end session_end_of(const struct session *s);
const char *session_end_name(enum session_end end);
/* The last step of a role's close: timer cancelled, fds closed (the client side reset when
 * reset_client, or when the relay was cut), unlinked from list. The caller then frees. */
void session_release(struct session *s, struct list *list, bool reset_client);

#endif
