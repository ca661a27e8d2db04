// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `mpconvctl probe`: the converter tested over each link, now. An MPTCP connection from the
 * link's address carries a bare Convert header in its SYN (Fast Open, no cookie); the
 * converter answers it with an Error TLV without opening anything. The answer shows the link
 * reaches the converter (and in how long), and whether MPTCP options and SYN data get through.
 * Owns its probes until they answer, time out or are cancelled; never touches a session.
 */
#include "gateway.h"

#include "convert.h"
#include "log.h"
#include "reply.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_PROBE_TIMEOUT_MS 3000

struct gw_probe;

struct gw_probe_link {
	struct loop_io io;
	struct gw_probe *probe;
	int link;     /* -1: no declared links, routing decides */
	int err;      /* connect error (positive errno), 0 if none */
	int rtt_ms;   /* connect time, -1 until connected */
	int mptcp;    /* -1 unknown */
	int syn_data; /* SYN payload acknowledged: 1, 0, or -1 unknown */
	bool answered, done;
};

struct gw_probe {
	struct gateway *gw;
	struct gw_probe *next;
	struct reply *reply;
	bool json;
	uint64_t started_ms;
	unsigned converter; /* the one probed: an answer ends its back-off */
	struct loop_timer timer;
	size_t len, pending;
	struct gw_probe_link links[LINKS_MAX];
};

static void gw_probe_link_end(struct gw_probe_link *pl)
{
	struct gateway *gw = pl->probe->gw;

	if (pl->io.fd >= 0) {
		loop_remove(&gw->loop, &pl->io);
		close(pl->io.fd);
		pl->io.fd = -1;
	}
	if (!pl->done) {
		pl->done = true;
		pl->probe->pending--;
	}
}

static const char *gw_probe_verdict(const struct gw_probe_link *pl)
{
	if (pl->err == ENETDOWN)
		return "link down (no carrier)";
	if (pl->err == EADDRNOTAVAIL)
		return "no address of the converter's family on this link";
	if (pl->rtt_ms < 0)
		return pl->err ? "unreachable" : "no answer to the SYN";
	if (pl->mptcp == 0)
		return "MPTCP stripped on the path (plain TCP only)";
	if (!pl->answered)
		return "connected, but no answer from the converter";
	if (pl->syn_data == 0)
		return "ok, but SYN data not accepted (use mode pool, not tfo)";
	return "ok";
}

static const char *gw_tristate(int v)
{
	return v < 0 ? "?" : v ? "yes" : "no";
}

static void gw_probe_free(struct gw_probe *p)
{
	struct gateway *gw = p->gw;
	struct gw_probe **pp = &gw->probes;

	for (size_t i = 0; i < p->len; i++)
		gw_probe_link_end(&p->links[i]);
	loop_timer_cancel(&gw->loop, &p->timer);
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	free(p);
}

static void gw_probe_finish(struct gw_probe *p)
{
	struct reply *r = p->reply;
	char rtt[16];

	for (size_t i = 0; i < p->len; i++)
		gw_probe_link_end(&p->links[i]);
	if (p->json)
		reply_puts(r, "{\"links\":[");
	else
		reply_printf(r, "%-10s %-8s %-6s %-9s %-9s %s\n", "link", "rtt", "mptcp", "syn-data",
			     "answered", "verdict");
	for (size_t i = 0; i < p->len; i++) {
		const struct gw_probe_link *pl = &p->links[i];
		const char *name = pl->link >= 0 ? p->gw->links.link[pl->link].conf.name
						 : "(routing)";

		if (p->json) {
			reply_puts(r, i ? ",{\"name\":" : "{\"name\":");
			reply_json_string(r, name);
			reply_printf(r, ",\"rtt_ms\":");
			if (pl->rtt_ms < 0)
				reply_puts(r, "null");
			else
				reply_printf(r, "%d", pl->rtt_ms);
			reply_printf(r, ",\"mptcp\":%s,\"syn_data\":%s,\"answered\":%s,\"verdict\":",
				     pl->mptcp < 0 ? "null" : pl->mptcp ? "true" : "false",
				     pl->syn_data < 0 ? "null" : pl->syn_data ? "true" : "false",
				     pl->answered ? "true" : "false");
			reply_json_string(r, gw_probe_verdict(pl));
			reply_puts(r, "}");
			continue;
		}
		if (pl->rtt_ms < 0)
			snprintf(rtt, sizeof(rtt), "-");
		else
			snprintf(rtt, sizeof(rtt), "%dms", pl->rtt_ms);
		reply_printf(r, "%-10s %-8s %-6s %-9s %-9s %s\n", name, rtt, gw_tristate(pl->mptcp),
			     gw_tristate(pl->syn_data), pl->answered ? "yes" : "no",
			     gw_probe_verdict(pl));
	}
	if (p->json)
		reply_puts(r, "]}\n");
	p->reply = NULL;
	gw_probe_free(p);
	reply_done(r, 0);
}

static void gw_probe_on_event(struct loop_io *io, uint32_t events)
{
	struct gw_probe_link *pl = container_of(io, struct gw_probe_link, io);
	struct gw_probe *p = pl->probe;
	char buf[64];

	if (pl->rtt_ms < 0) {
		int err = sock_pending_error(io->fd);

		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			pl->err = err > 0 ? err : ECONNREFUSED;
			gw_probe_link_end(pl);
		} else if (events & (EPOLLOUT | EPOLLIN)) {
			struct tcp_info ti;
			socklen_t len = sizeof(ti);

			pl->rtt_ms = (int)(p->gw->loop.now_ms - p->started_ms);
			pl->mptcp = sock_is_mptcp(io->fd);
			if (getsockopt(io->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
			    len >= offsetof(struct tcp_info, tcpi_rto))
				pl->syn_data = (ti.tcpi_options & TCPI_OPT_SYN_DATA) != 0;
		}
	}
	if (!pl->done && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) &&
	    recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
		pl->answered = true;
		if (p->converter < p->gw->upstream.len)
			gw_converter_ok(p->gw, p->converter);
		gw_probe_link_end(pl);
	}
	if (p->pending == 0)
		gw_probe_finish(p);
}

static void gw_probe_on_timeout(struct loop_timer *timer)
{
	gw_probe_finish(container_of(timer, struct gw_probe, timer));
}

static void gw_probe_cancel(struct reply *r)
{
	struct gw_probe *p = r->cancel_arg;

	p->reply = NULL;
	gw_probe_free(p);
}

void gw_probe_cancel_all(struct gateway *gw)
{
	while (gw->probes) {
		struct gw_probe *p = gw->probes;
		struct reply *r = p->reply;

		p->reply = NULL;
		gw_probe_free(p);
		if (r)
			reply_done(r, -ECANCELED);
	}
}

int gw_ctl_probe(void *ctx, struct reply *r, const struct ctl_request *req)
{
	struct gateway *gw = ctx;
	const struct config_gateway *gc = &gw->config.gateway;
	int conv;
	const struct addr_port *dst;
	uint8_t header[CONV_MAX_LEN];
	struct conv_writer w;
	struct gw_probe *p = calloc(1, sizeof(*p));
	int header_len;

	pthread_mutex_lock(&gw->upstream_lock); /* the workers' too */
	conv = upstream_pick(&gw->upstream, 0, gw->loop.now_ms);
	pthread_mutex_unlock(&gw->upstream_lock);
	dst = &gc->converters[conv < 0 ? 0 : conv];
	if (!p) {
		reply_puts(r, "out of memory");
		return -ENOMEM;
	}
	conv_writer_begin(&w, header, sizeof(header));
	header_len = conv_writer_finish(&w);
	p->gw = gw;
	p->reply = r;
	p->json = req->json;
	p->started_ms = gw->loop.now_ms;
	p->converter = conv < 0 ? 0 : (unsigned)conv;
	p->len = gw->links_on ? gw->links.len : 1;
	loop_timer_init(&p->timer, gw_probe_on_timeout);
	p->next = gw->probes;
	gw->probes = p;
	for (size_t i = 0; i < p->len; i++) {
		struct gw_probe_link *pl = &p->links[i];
		struct sock_connect_opts opts = gw_upstream_opts(gw);
		int fd;

		*pl = (struct gw_probe_link){ .probe = p,
					      .link = gw->links_on ? (int)i : -1,
					      .rtt_ms = -1,
					      .mptcp = -1,
					      .syn_data = -1 };
		pl->io.fd = -1;
		pl->io.on_event = gw_probe_on_event;
		p->pending++;
		if (gw->links_on && !gw->links.link[i].carrier) {
			pl->err = ENETDOWN; /* nothing would leave: say so at once */
			gw_probe_link_end(pl);
			continue;
		}
		if (gw->links_on &&
		    !links_local_addr(&gw->links, (int)i, gw_family(dst), &opts.local)) {
			pl->err = EADDRNOTAVAIL;
			gw_probe_link_end(pl);
			continue;
		}
		opts.has_local = gw->links_on;
		fd = sock_connect_tfo(dst, &opts, header, (size_t)(header_len > 0 ? header_len : 0));
		if (fd < 0) {
			pl->err = -fd;
			gw_probe_link_end(pl);
			continue;
		}
		pl->io.fd = fd;
		if (loop_add(&gw->loop, &pl->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
			close(fd);
			pl->io.fd = -1;
			pl->err = ENOMEM;
			gw_probe_link_end(pl);
		}
	}
	/* even when every link failed at once, the answer leaves from the loop */
	loop_timer_arm(&gw->loop, &p->timer, p->pending ? GW_PROBE_TIMEOUT_MS : 0);
	r->cancel = gw_probe_cancel;
	r->cancel_arg = p;
	return REPLY_LATER;
}

