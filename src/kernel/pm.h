/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_PM_H
#define MPCONV_PM_H

#include "addr.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The kernel's MPTCP path manager over generic netlink (family "mptcp_pm", libmnl): per-
 * connection subflow control for the userspace path manager (net.mptcp.path_manager=userspace)
 * and the event stream (group "mptcp_pm_events"). Never logs; returns -errno, with the kernel's
 * extended ack message (if any) in pm->err_msg.
 */
/* The kernel's numbers (enum mptcp_event_type, include/uapi/linux/mptcp_pm.h): not contiguous. */
enum pm_event_type {
	PM_EVENT_CREATED = 1,
	PM_EVENT_ESTABLISHED = 2,
	PM_EVENT_CLOSED = 3,
	PM_EVENT_ANNOUNCED = 6,
	PM_EVENT_REMOVED = 7,
	PM_EVENT_SUB_ESTABLISHED = 10,
	PM_EVENT_SUB_CLOSED = 11,
	PM_EVENT_SUB_PRIORITY = 13,
	PM_EVENT_LISTENER_CREATED = 15,
	PM_EVENT_LISTENER_CLOSED = 16,
};

struct pm_event {
	enum pm_event_type type;
	uint32_t token;
	/* CREATED/ESTABLISHED: the initial subflow's; subflow events: that subflow's; ANNOUNCED:
	 * remote only. Absent parts stay zero. */
	struct addr_port local, remote;
	bool has_addrs;
	uint8_t loc_id, rem_id; /* address ids (subflow events; rem_id also ANNOUNCED/REMOVED) */
	int ifindex;		/* 0 if absent */
	/* The peer asked for this subflow to be backup (ss flag B). Our own request (the backup
	 * of pm_subflow_create/set_backup, ss flag b) shows only in the peer's events. */
	bool backup;
	int error; /* SUB_CLOSED: the subflow's error (positive errno), 0 if none */
	/* CREATED/ESTABLISHED: the peer set the C flag (no joins to its initial address and
	 * port: a converter instance behind a shared address, which announces its own) */
	bool deny_join_id0;
};

struct mnl_socket;

struct pm {
	struct mnl_socket *cmd;	   /* requests, owned */
	struct mnl_socket *events; /* multicast events, owned; NULL until pm_subscribe */
	uint16_t family_id;
	uint32_t events_group;
	uint32_t seq;
	char err_msg[128];
};

/* Resolves the family (needs a kernel with MPTCP). 0 or -errno. */
int pm_open(struct pm *pm);
void pm_close(struct pm *pm);

/*
 * Userspace PM: adds a subflow to the connection `token` from local (port 0 = any) over
 * ifindex (0 = routing decides) to remote. local_id must be unique per connection and > 0 (the
 * initial subflow has id 0). backup marks the subflow as backup priority. 0 or -errno.
 */
int pm_subflow_create(struct pm *pm, uint32_t token, uint8_t local_id,
		      const struct addr_port *local, int ifindex, const struct addr_port *remote,
		      bool backup);
/* Needs local and remote with their ports, as SUB_ESTABLISHED gave them (-EINVAL without the
 * local port, -ESRCH for no such subflow). 0 or -errno. */
int pm_subflow_destroy(struct pm *pm, uint32_t token, const struct addr_port *local,
		       const struct addr_port *remote);
/* Changes a subflow's backup flag (SET_FLAGS with a token; local port 0 = matched on the
 * address alone), sending MP_PRIO: the peer sees SUB_PRIORITY, we see no event. 0 or -errno. */
int pm_subflow_set_backup(struct pm *pm, uint32_t token, const struct addr_port *local,
			  const struct addr_port *remote, bool backup);

/*
 * Userspace PM: withdraws local address id local_id from the connection `token` (REMOVE): the
 * kernel sends REMOVE_ADDR over any live subflow, so the peer closes its subflows from that
 * address at once (and sends again what they carried) instead of waiting for them to time
 * out, and closes ours. 0 or -errno (-EINVAL: no such id on this connection).
 */
int pm_remove_addr(struct pm *pm, uint32_t token, uint8_t local_id);

/* The in-kernel path manager's limits of this network namespace (`ip mptcp limits`): extra
 * subflows per connection, ADD_ADDRs accepted. A listener with the in-kernel PM accepts no more
 * MP_JOINs than `subflows`. 0 or -errno. */
struct pm_limits {
	uint32_t subflows, add_addr_accepted;
};
int pm_get_limits(struct pm *pm, struct pm_limits *limits);

/* An in-kernel path manager endpoint (`ip mptcp endpoint`): flags PM_ENDPOINT_*. */
#define PM_ENDPOINT_SIGNAL  (1u << 0)
#define PM_ENDPOINT_SUBFLOW (1u << 1)
#define PM_ENDPOINT_BACKUP  (1u << 2)
struct pm_endpoint {
	uint8_t id;
	uint32_t flags;
	int ifindex; /* 0 = none given */
	struct addr_port addr;
};
/* Calls on_endpoint for each endpoint of this network namespace. 0 or -errno. */
int pm_get_endpoints(struct pm *pm, void (*on_endpoint)(const struct pm_endpoint *ep, void *arg),
		     void *arg);

/* Joins the event group; returns the fd to poll (non-blocking), or -errno. */
int pm_subscribe(struct pm *pm);
/* Reads every pending event, calling on_event for each. 0 when drained, or -errno. */
int pm_read_events(struct pm *pm, void (*on_event)(const struct pm_event *event, void *arg),
		   void *arg);
const char *pm_event_name(enum pm_event_type type);

#endif
