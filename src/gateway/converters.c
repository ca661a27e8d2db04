// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which converter and which link a worker's new upstream connections use: the converters'
 * back-off shared by every worker (the main one's struct upstream, under upstream_lock), the
 * worker's pool following it, and the source address of the best live link. Split out of
 * session.c with the worker threads (issue 14); session.c, worker.c, probe.c and reload.c call
 * it, it calls none of them.
 */
#include "gateway.h"

#include "log.h"

#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/* The source address for a new connection of family that may use the links in allowed:
 * the best live link's (primary first). false = no link is usable (or none declared). */
bool gw_pick_local(struct gateway *gw, uint8_t allowed, int family, int *link,
		   struct addr_port *local)
{
	*link = -1;
	if (!gw->links_on)
		return false;
	*link = links_pick_initial(&gw->links, allowed, family);
	return *link >= 0 && links_local_addr(&gw->links, *link, family, local);
}

int gw_family(const struct addr_port *ap)
{
	return addr_is_v4mapped(ap->ip) ? AF_INET : AF_INET6;
}

struct sock_connect_opts gw_upstream_opts(const struct gateway *gw)
{
	return (struct sock_connect_opts){
		.mptcp = true,
		.nodelay = true,
		.buffer_size = gw->config.gateway.common.socket_buffer,
		.mark = gw_own_mark(gw), /* host mode: the capture lets the daemon's own through */
	};
}

/* The converters' back-off is the gateway's, not a worker's (a converter's failures count
 * whichever worker saw them): the main one's struct upstream, under upstream_lock, taken when a
 * connection picks, fails or succeeds, never per byte. */
struct upstream *gw_upstream_lock(struct gateway *gw)
{
	pthread_mutex_lock(&gw->main->upstream_lock);
	return &gw->main->upstream;
}

void gw_upstream_unlock(struct gateway *gw)
{
	pthread_mutex_unlock(&gw->main->upstream_lock);
}

/* A back-off started or ended: every worker's pool follows (the main thread tells them). */
static void gw_up_changed(struct gateway *gw)
{
	atomic_store(&gw->main->upstream_changed, true);
	if (gw->main->wakeup.fd >= 0)
		eventfd_write(gw->main->wakeup.fd, 1);
}

void gw_pool_sync(struct gateway *gw)
{
	const struct config_gateway *gc = &gw->config.gateway;
	struct sock_connect_opts opts = gw_upstream_opts(gw);
	int conv = upstream_pick(gw_upstream_lock(gw), 0, gw->loop.now_ms), link;

	gw_upstream_unlock(gw);

	if (!gw->pool_on)
		return;
	if (conv < 0)
		conv = (int)gw->pool_converter; /* all backing off: keep trying the current one */
	opts.has_local = gw_pick_local(gw, 0, gw_family(&gc->converters[conv]), &link, &opts.local);
	if ((unsigned)conv == gw->pool_converter && link == gw->pool_link)
		return;
	if ((unsigned)conv != gw->pool_converter)
		log_info("pool: now connecting to converter %d", conv);
	gw->pool_converter = (unsigned)conv;
	gw->pool_link = link;
	pool_retarget(&gw->pool, &gc->converters[conv], &opts);
}

/* Converter i failed a connection: after several in a row its back-off starts (said once per
 * back-off), and the pool moves on if it used that one. */
void gw_converter_failed(struct gateway *gw, unsigned i, bool refused, const char *why)
{
	uint64_t backoff_ms;
	struct upstream *up = gw_upstream_lock(gw);
	bool started = upstream_failed(up, i, refused, gw->loop.now_ms, &backoff_ms);
	unsigned fails = up->conv[i].fails_in_row;

	gw_upstream_unlock(gw);
	if (!started)
		return;
	log_warnx("converter %u: %u failures in a row (last: %s): not asked for %llu ms", i, fails,
		  why, (unsigned long long)backoff_ms);
	gw_pool_sync(gw);
	gw_up_changed(gw);
}

/* Converter i answered (a connection, or `mpconvctl probe`): a back-off ends at once. */
void gw_converter_ok(struct gateway *gw, unsigned i)
{
	bool ended;

	if (gw->converter_failing)
		log_info("converter answers again");
	gw->converter_failing = false;
	ended = upstream_ok(gw_upstream_lock(gw), i);
	gw_upstream_unlock(gw);
	if (!ended)
		return;
	log_info("converter %u answers again: its back-off is over", i);
	gw_pool_sync(gw);
	gw_up_changed(gw);
}
