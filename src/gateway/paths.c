// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-connection subflows through the userspace path manager. Connections are found by
 * their MPTCP token (hash table); the kernel's events drive everything: ESTABLISHED (the
 * connection may now have subflows), SUB_ESTABLISHED / SUB_CLOSED (which link has one),
 * plus the links' state changes and a retry timer for failed attempts. Owns the pm sockets
 * and the connection records; the gateway owns the sockets themselves.
 */
#include "paths.h"

#include "log.h"
#include "sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PATHS_RETRY_TICK_MS  250
#define PATHS_RETRY_MIN_MS   500
#define PATHS_RETRY_MAX_MS   30000
#define PATHS_JOIN_WAIT_MS   10000 /* no event for a requested subflow: ask again */

static struct paths_conn **paths_slot(struct paths *paths, uint32_t token)
{
	struct paths_conn **slot = &paths->buckets[(token * 2654435761u) % PATHS_BUCKETS];

	while (*slot && (*slot)->token != token)
		slot = &(*slot)->hnext;
	return slot;
}

static struct paths_conn *paths_find(struct paths *paths, uint32_t token)
{
	return *paths_slot(paths, token);
}

static bool paths_link_allowed(const struct paths_conn *conn, int link)
{
	return !conn->allowed || (conn->allowed & (1u << link));
}

/* Asks for a subflow on every usable link the connection may use and lacks. */
static void paths_fill(struct paths *paths, struct paths_conn *conn, bool restoring)
{
	struct links *links = paths->links;
	int family = addr_is_v4mapped(conn->target.ip) ? AF_INET : AF_INET6;

	/* A fleet instance (C flag) takes joins only at the address it announces: none before. */
	if (!conn->established || (conn->deny_initial && !conn->announced))
		return;
	for (unsigned i = 0; i < links->len; i++) {
		struct paths_subflow *sub = &conn->sub[i];
		const struct link_state *l = &links->link[i];
		struct addr_port local;
		bool backup;
		int ret;

		if (sub->pending && paths->loop->now_ms >= sub->retry_at_ms)
			sub->pending = false; /* its event never came */
		if (sub->up || sub->pending || !l->usable || !paths_link_allowed(conn, (int)i) ||
		    paths->loop->now_ms < sub->retry_at_ms ||
		    !links_local_addr(links, (int)i, family, &local))
			continue;
		backup = l->conf.role == LINK_BACKUP ||
			 ((conn->backup | paths->backup_links) & (1u << i));
		ret = pm_subflow_create(&paths->pm, conn->token, (uint8_t)(i + 1), &local,
					(int)l->ifindex, &conn->target, backup);
		if (ret == 0) {
			sub->pending = true;
			sub->retry_at_ms = paths->loop->now_ms + PATHS_JOIN_WAIT_MS;
			paths->stats.created++;
			if (restoring)
				paths->stats.restored++;
			continue;
		}
		sub->failures++;
		sub->retry_at_ms = paths->loop->now_ms +
				   (sub->failures > 6 ? PATHS_RETRY_MAX_MS
						      : PATHS_RETRY_MIN_MS << (sub->failures - 1));
		paths->stats.create_failed++;
		log_debug("paths: token %08x: subflow on link %s failed: %s%s%s", conn->token,
			  l->conf.name, strerror(-ret), paths->pm.err_msg[0] ? ": " : "",
			  paths->pm.err_msg);
	}
}

/* One subflow more (+1) or less (-1) on conn, for `subflows=` over its life. */
static void paths_count_subflow(struct paths_conn *conn, int delta)
{
	if (delta > 0) {
		if (conn->sf_opened < UINT8_MAX)
			conn->sf_opened++;
		if (conn->sf_up < UINT8_MAX)
			conn->sf_up++;
		if (conn->sf_up > conn->sf_max)
			conn->sf_max = conn->sf_up;
	} else if (conn->sf_up > 0) {
		conn->sf_up--;
	}
}

/* An event for a connection not tracked yet: kept (early_len of them) for paths_track. Each worker
 * sees every connection's events, most of them for other workers' tokens: a CLOSED forgets a
 * token (so another worker's ended connections do not linger here), and a full table replaces
 * its oldest entry (so the one just seen, this worker's about to be tracked, stays). */
static void paths_remember(struct paths *paths, const struct pm_event *ev)
{
	struct paths_early *e = NULL, *oldest = NULL;

	if (ev->type == PM_EVENT_CLOSED) {
		for (unsigned i = 0; i < paths->early_len; i++)
			if (paths->early[i].token == ev->token)
				paths->early[i] = (struct paths_early){ .token = 0 };
		return;
	}
	if (ev->type != PM_EVENT_ESTABLISHED && ev->type != PM_EVENT_ANNOUNCED)
		return;
	for (unsigned i = 0; i < paths->early_len && !e; i++) {
		struct paths_early *x = &paths->early[i];

		if (x->token == ev->token)
			e = x;
		else if (!oldest || (oldest->token && (!x->token || x->seen < oldest->seen)))
			oldest = x;
	}
	if (!e) {
		e = oldest;
		if (!e)
			return; /* not started */
		*e = (struct paths_early){ .token = ev->token, .seen = ++paths->early_seen };
	}
	if (ev->type == PM_EVENT_ESTABLISHED) {
		e->established = true;
		e->deny_initial = ev->deny_join_id0;
	} else if (ev->has_addrs) {
		e->announced = true;
		e->addr = ev->remote;
	}
}

/*
 * Follows the converter to the address it announced, once both are known: the C flag (the
 * ESTABLISHED event) and the announcement (ANNOUNCED), in either order (the instance announces
 * as soon as it is fully established, often before the gateway is). Only a fleet instance is
 * followed: a lone converter's extra addresses change nothing (joins keep going to remote).
 */
static void paths_follow(struct paths *paths, struct paths_conn *conn)
{
	if (!conn->deny_initial || !conn->heard || conn->announced ||
	    addr_is_v4mapped(conn->heard_addr.ip) != addr_is_v4mapped(conn->remote.ip))
		return;
	conn->announced = true;
	conn->target = conn->heard_addr;
	if (!conn->target.port) /* ADD_ADDR without a port: the initial subflow's */
		conn->target.port = conn->remote.port;
	/* The initial subflow goes to the shared address: every link, its own included, now
	 * gets one to the instance's, so the connection outlives the shared route (a drain). */
	if (conn->initial_link >= 0)
		conn->sub[conn->initial_link] = (struct paths_subflow){ .up = false };
	paths->stats.announced++;
	paths_fill(paths, conn, false);
}

static void paths_heard(struct paths *paths, struct paths_conn *conn, const struct addr_port *addr)
{
	if (conn->heard)
		return; /* the first announcement is the instance's address */
	conn->heard = true;
	conn->heard_addr = *addr;
	paths_follow(paths, conn);
}

/* Whether a subflow event is about the subflow in sub[link] (with a fleet, not the initial
 * subflow to the shared address, which shares its link with one to the instance's). */
static bool paths_is_tracked_subflow(struct paths *paths, struct paths_conn *conn,
				     const struct pm_event *ev)
{
	if (!conn->announced || !memcmp(ev->remote.ip, conn->target.ip, 16))
		return true;
	if (ev->type == PM_EVENT_SUB_CLOSED && conn->initial_up) {
		/* The shared address no longer leads to the instance (drained: the router sends
		 * it elsewhere, whose resets reach us but never the instance). REMOVE_ADDR over a
		 * live subflow has the instance drop its end and resend what that one carried
		 * at once, rather than after its retransmissions time out. */
		conn->initial_up = false;
		pm_remove_addr(&paths->pm, conn->token, 0);
	}
	return false;
}

static void paths_on_event(const struct pm_event *ev, void *arg)
{
	struct paths *paths = arg;
	struct paths_conn *conn = paths_find(paths, ev->token);
	int link;

	if (!conn) {
		paths_remember(paths, ev);
		return;
	}
	switch (ev->type) {
	case PM_EVENT_ESTABLISHED:
		conn->established = true;
		paths_count_subflow(conn, 1);
		conn->deny_initial = ev->deny_join_id0;
		paths_follow(paths, conn);
		paths_fill(paths, conn, false);
		break;
	case PM_EVENT_ANNOUNCED:
		if (ev->has_addrs)
			paths_heard(paths, conn, &ev->remote);
		break;
	case PM_EVENT_SUB_ESTABLISHED:
		paths_count_subflow(conn, 1);
		link = links_find_by_addr(paths->links, ev->local.ip);
		if (link < 0 || !paths_is_tracked_subflow(paths, conn, ev))
			break;
		conn->sub[link] = (struct paths_subflow){ .up = true,
							  .local = ev->local,
							  .remote = ev->remote };
		/* A link that died while the join was on its way loses it at once. */
		if (!paths->links->link[link].usable)
			paths_link_changed(paths, link, false);
		break;
	case PM_EVENT_SUB_CLOSED:
		paths_count_subflow(conn, -1);
		link = links_find_by_addr(paths->links, ev->local.ip);
		if (link < 0 || !paths_is_tracked_subflow(paths, conn, ev))
			break;
		conn->sub[link].up = false;
		conn->sub[link].pending = false;
		conn->sub[link].failures++;
		conn->sub[link].retry_at_ms = paths->loop->now_ms + PATHS_RETRY_MIN_MS;
		break;
	case PM_EVENT_CLOSED:
		conn->established = false;
		break;
	default:
		break;
	}
}

static void paths_on_events(struct loop_io *io, uint32_t events)
{
	struct paths *paths = container_of(io, struct paths, events_io);
	int ret = pm_read_events(&paths->pm, paths_on_event, paths);

	if (ret == -ENOBUFS)
		paths->stats.events_lost++; /* the retry timer fills what was missed */
	else if (ret < 0)
		log_warnc(ret, "paths: reading path-manager events");
}

static void paths_on_retry(struct loop_timer *timer)
{
	struct paths *paths = container_of(timer, struct paths, retry_timer);

	for (unsigned b = 0; b < PATHS_BUCKETS; b++) {
		for (struct paths_conn *c = paths->buckets[b]; c; c = c->hnext)
			paths_fill(paths, c, false);
	}
	loop_timer_arm(paths->loop, &paths->retry_timer, PATHS_RETRY_TICK_MS);
}

int paths_start(struct paths *paths, struct loop *loop, struct links *links, unsigned subscribers)
{
	int fd, ret;

	memset(paths, 0, sizeof(*paths));
	paths->loop = loop;
	paths->links = links;
	paths->events_io.fd = -1;
	loop_timer_init(&paths->retry_timer, paths_on_retry);
	paths->early_len = PATHS_EARLY_TOKENS * (subscribers ? subscribers : 1);
	paths->early = calloc(paths->early_len, sizeof(*paths->early));
	if (!paths->early) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = pm_open(&paths->pm);
	if (ret < 0) {
		log_warnc(ret, "paths: the kernel's MPTCP path manager (genetlink mptcp_pm)");
		goto fail;
	}
	fd = pm_subscribe(&paths->pm);
	if (fd < 0) {
		log_warnc(fd, "paths: path-manager events");
		ret = fd;
		goto fail;
	}
	paths->events_io.fd = fd;
	paths->events_io.on_event = paths_on_events;
	if (loop_add(loop, &paths->events_io, EPOLLIN | EPOLLET) < 0) {
		ret = -errno;
		log_warn("paths: epoll");
		paths->events_io.fd = -1;
		goto fail;
	}
	loop_timer_arm(loop, &paths->retry_timer, PATHS_RETRY_TICK_MS);
	return 0;
fail:
	pm_close(&paths->pm); /* nothing to close in a zeroed one */
	free(paths->early);
	paths->early = NULL;
	paths->loop = NULL;
	return ret;
}

void paths_stop(struct paths *paths)
{
	if (!paths->loop)
		return;
	loop_timer_cancel(paths->loop, &paths->retry_timer);
	if (paths->events_io.fd >= 0)
		loop_remove(paths->loop, &paths->events_io);
	paths->events_io.fd = -1;
	for (unsigned b = 0; b < PATHS_BUCKETS; b++) {
		while (paths->buckets[b]) {
			struct paths_conn *c = paths->buckets[b];

			paths->buckets[b] = c->hnext;
			free(c);
		}
	}
	pm_close(&paths->pm);
	free(paths->early);
	paths->early = NULL;
	paths->loop = NULL;
}

struct paths_conn *paths_track(struct paths *paths, int fd, uint8_t allowed, uint8_t backup)
{
	struct sock_mptcp_info info;
	struct sockaddr_storage local, remote;
	socklen_t local_len = sizeof(local), remote_len = sizeof(remote);
	struct paths_conn *conn, **slot;

	if (sock_mptcp_info(fd, &info) < 0 || info.token == 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &local_len) < 0 ||
	    getpeername(fd, (struct sockaddr *)&remote, &remote_len) < 0)
		return NULL;
	slot = paths_slot(paths, info.token);
	if (*slot)
		return NULL; /* a token collision with a live connection: leave it alone */
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->token = info.token;
	conn->allowed = allowed;
	conn->backup = backup;
	addr_from_sockaddr((struct sockaddr *)&remote, remote_len, &conn->remote);
	conn->target = conn->remote;
	conn->initial_up = true;
	conn->initial_link = -1;
	{
		struct addr_port l;

		addr_from_sockaddr((struct sockaddr *)&local, local_len, &l);
		conn->initial_link = links_find_by_addr(paths->links, l.ip);
		if (conn->initial_link >= 0)
			conn->sub[conn->initial_link] = (struct paths_subflow){
				.up = true, .local = l, .remote = conn->remote
			};
	}
	*slot = conn;
	paths->conns++;
	for (unsigned i = 0; i < paths->early_len; i++) {
		struct paths_early *e = &paths->early[i];

		if (e->token != conn->token)
			continue;
		conn->established = e->established;
		if (e->established)
			paths_count_subflow(conn, 1);
		conn->deny_initial = e->deny_initial;
		if (e->announced)
			paths_heard(paths, conn, &e->addr);
		*e = (struct paths_early){ .token = 0 };
	}
	paths_fill(paths, conn, false);
	return conn;
}

void paths_set_policy(struct paths *paths, struct paths_conn *conn, uint8_t allowed,
		      uint8_t backup)
{
	conn->allowed = allowed;
	conn->backup = backup;
	paths_fill(paths, conn, false);
}

void paths_forget(struct paths *paths, struct paths_conn *conn)
{
	struct paths_conn **slot = paths_slot(paths, conn->token);

	if (*slot == conn) {
		*slot = conn->hnext;
		paths->conns--;
	}
	free(conn);
}

void paths_link_changed(struct paths *paths, int link, bool usable)
{
	for (unsigned b = 0; b < PATHS_BUCKETS; b++) {
		for (struct paths_conn *c = paths->buckets[b]; c; c = c->hnext) {
			struct paths_subflow *sub = &c->sub[link];
			int removed;

			if (usable) {
				sub->failures = 0;
				sub->retry_at_ms = 0;
				paths_fill(paths, c, true);
				continue;
			}
			if (!sub->up)
				continue;
			/* Closed now rather than when its retransmissions time out, on both ends:
			 * REMOVE_ADDR reaches the converter over a live subflow, so what the dead
			 * one carried is sent again over the others at once. */
			removed = pm_remove_addr(&paths->pm, c->token,
						 link == c->initial_link && !c->announced
							 ? 0
							 : (uint8_t)(link + 1));
			if (link == c->initial_link && c->announced && c->initial_up)
				pm_remove_addr(&paths->pm, c->token, 0); /* to the shared address */
			/* REMOVE leaves our own subflow in place: closed here. */
			if (pm_subflow_destroy(&paths->pm, c->token, &sub->local, &sub->remote) ==
				    0 ||
			    removed == 0)
				paths->stats.closed_by_link_down++;
			sub->up = false;
		}
	}
}

unsigned paths_set_link_backup(struct paths *paths, int link, bool backup)
{
	const struct link_state *l = &paths->links->link[link];
	unsigned changed = 0;

	if (backup)
		paths->backup_links |= (uint8_t)(1u << link);
	else
		paths->backup_links &= (uint8_t) ~(1u << link);
	for (unsigned b = 0; b < PATHS_BUCKETS; b++) {
		for (struct paths_conn *c = paths->buckets[b]; c; c = c->hnext) {
			struct paths_subflow *sub = &c->sub[link];
			/* what the link's role or the connection's rule asks for stays */
			bool want = backup || l->conf.role == LINK_BACKUP || (c->backup & (1u << link));

			/* the initial subflow is the connection's own: never demoted */
			if (!sub->up || link == c->initial_link)
				continue;
			if (pm_subflow_set_backup(&paths->pm, c->token, &sub->local, &sub->remote,
						  want) == 0)
				changed++;
		}
	}
	return changed;
}

unsigned paths_subflows(const struct paths_conn *conn)
{
	/* with a fleet, the initial subflow (to the shared address) is not in sub[] */
	unsigned n = conn->announced && conn->initial_up;

	for (unsigned i = 0; i < LINKS_MAX; i++)
		n += conn->sub[i].up;
	return n;
}
