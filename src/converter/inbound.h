/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CV_INBOUND_H
#define MPCONV_CV_INBOUND_H

#include "config.h"
#include "list.h"
#include "loop.h"
#include "metrics.h"
#include "pipe.h"
#include "publish.h"
#include "reply.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The converter's side of inbound sessions (issue 15), on the main thread's loop: the reverse
 * listener where gateways register (challenge, HMAC-checked registration), the public
 * listener of each published service, and the sessions from an Internet client to a CPE's
 * reverse connection. main.c starts and stops it; ops.c reports it.
 */
#define CVI_MAX_PENDING 256 /* reverse connections not yet registered */
#define CVI_MAX_IDLE	64  /* registered reverse connections kept per CPE */
#define CVI_MAX_WAITING 64  /* Internet clients waiting for a reverse connection, per service */

struct cv_inbound;

struct cvi_stats {
	unsigned long registrations, auth_failures, malformed, reverse_dropped;
	unsigned long sessions, refused, bytes_in, bytes_out; /* in: client -> LAN */
	unsigned long ports_taken, ports_not_allowed;
};

struct cvi_cpe {
	char name[CONFIG_INBOUND_NAME_LEN];
	struct list idle; /* registered reverse connections (struct cvi_rev) */
	bool registered;  /* has registered since start */
	unsigned long sessions, registrations;
	uint64_t last_ms;
};

struct cvi_service {
	struct loop_io io; /* the public listener */
	struct cv_inbound *in;
	unsigned cpe;
	uint16_t public_port;
	struct pub_service svc; /* as the CPE registered it */
	unsigned waiting;	/* clients waiting for a reverse connection */
	unsigned long sessions;
};

struct cv_inbound {
	struct loop *loop;
	const struct config_converter *cc; /* the start-up configuration (keys, ports) */
	struct pipe_pool pipes;
	struct loop_io listener;
	struct list pending;  /* reverse connections before their registration */
	struct list sessions; /* relaying (and waiting) inbound sessions */
	struct cvi_cpe cpes[CONFIG_MAX_CPES];
	struct cvi_service *services[CONFIG_MAX_CPES * PUB_MAX_SERVICES]; /* owned */
	size_t services_len;
	struct cvi_stats stats;
	bool on;
};

/* Listens for reverse connections when inbound-listen is set (else does nothing). cc must
 * outlive it. 0 or -errno (logged). */
int cvi_start(struct cv_inbound *in, struct loop *loop, const struct config_converter *cc);
/* Closes listeners, reverse connections and sessions. */
void cvi_stop(struct cv_inbound *in);
/* `mpconvctl inbound`: services, CPEs, sessions. */
void cvi_report(const struct cv_inbound *in, struct reply *r, bool json);
void cvi_metrics(const struct cv_inbound *in, struct metrics_writer *w);

#endif
