// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The MPTCP path manager client: generic netlink family "mptcp_pm" through libmnl. Owns two
 * netlink sockets (requests; the "mptcp_pm_events" multicast group) and nothing else.
 * Requests are built in a stack buffer; replies and events are parsed in place into tables of
 * const attribute pointers whose lengths are checked before any read. Never allocates per
 * message and never logs: every call returns -errno, with the kernel's extended ack text (if
 * any) in pm->err_msg for the caller to log.
 */
#include "pm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/*
 * The kernel's uapi (include/uapi/linux/mptcp_pm.h, generated from mptcp_pm.yaml). Debian 12's
 * <linux/mptcp.h> is from 6.1 and lacks some of these; rather than mix its enums with ours we
 * spell the numbers out under our own prefix.
 */
#define PM_NL_FAMILY	   "mptcp_pm"
#define PM_NL_VERSION	   1
#define PM_NL_EVENTS_GROUP "mptcp_pm_events"

#define PM_NL_CMD_GET_ADDR	  3
#define PM_NL_CMD_GET_LIMITS	  6
#define PM_NL_CMD_SET_FLAGS	  7
#define PM_NL_CMD_REMOVE	  9
#define PM_NL_CMD_SUBFLOW_CREATE  10
#define PM_NL_CMD_SUBFLOW_DESTROY 11

#define PM_NL_ATTR_ADDR	       1 /* nested PM_NL_ADDR_ATTR_* */
#define PM_NL_ATTR_RCV_ADD_ADDRS 2 /* u32: limit add_addr_accepted */
#define PM_NL_ATTR_SUBFLOWS    3 /* u32: limit subflows */
#define PM_NL_ATTR_TOKEN       4 /* u32 */
#define PM_NL_ATTR_LOC_ID      5 /* u8 */
#define PM_NL_ATTR_ADDR_REMOTE 6 /* nested PM_NL_ADDR_ATTR_* */

#define PM_NL_ADDR_ATTR_FAMILY 1 /* u16 */
#define PM_NL_ADDR_ATTR_ID     2 /* u8 */
#define PM_NL_ADDR_ATTR_ADDR4  3 /* be32 */
#define PM_NL_ADDR_ATTR_ADDR6  4 /* 16 bytes */
#define PM_NL_ADDR_ATTR_PORT   5 /* u16, host byte order (the kernel does htons itself) */
#define PM_NL_ADDR_ATTR_FLAGS  6 /* u32 */
#define PM_NL_ADDR_ATTR_IF_IDX 7 /* s32 */

#define PM_NL_ADDR_FLAG_BACKUP (1u << 2)

/* Event attributes (enum mptcp_event_attr). */
enum {
	PM_NL_EV_TOKEN = 1, /* u32 */
	PM_NL_EV_FAMILY,    /* u16 */
	PM_NL_EV_LOC_ID,    /* u8 */
	PM_NL_EV_REM_ID,    /* u8 */
	PM_NL_EV_SADDR4,    /* be32 */
	PM_NL_EV_SADDR6,    /* 16 bytes */
	PM_NL_EV_DADDR4,    /* be32 */
	PM_NL_EV_DADDR6,    /* 16 bytes */
	PM_NL_EV_SPORT,	    /* be16 (unlike the request's PORT) */
	PM_NL_EV_DPORT,	    /* be16 */
	PM_NL_EV_BACKUP,    /* u8 */
	PM_NL_EV_ERROR,	    /* u8 (sk_err) */
	PM_NL_EV_FLAGS,	    /* u16 */
	PM_NL_EV_TIMEOUT,   /* u32 */
	PM_NL_EV_IF_IDX,    /* s32 */
	PM_NL_EV_RESET_REASON,
	PM_NL_EV_RESET_FLAGS,
	PM_NL_EV_SERVER_SIDE,
	PM_NL_EV_MAX = PM_NL_EV_SERVER_SIDE,
};

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

/* Requests are a few hundred bytes; replies and events fit a page. */
#define PM_REQ_SIZE  512
#define PM_RECV_SIZE 8192
/* Events come in bursts (every subflow of every connection): room for a few thousand. */
#define PM_EVENTS_RCVBUF (1 << 20)

/* One request in flight: its callback for data messages and where the answer goes. */
struct pm_req {
	struct pm *pm;
	int (*on_data)(const struct nlmsghdr *nlh, void *arg);
	void *arg;
};

/* An attribute table: tb[type] points at the attribute, NULL when absent or not checked. */
struct pm_attr_rule {
	uint8_t min, max; /* payload length bounds; 0, 0 = not expected (ignored) */
};

struct pm_attr_table {
	const struct nlattr **tb;
	const struct pm_attr_rule *rules;
	uint16_t max;
	bool bad; /* an expected attribute had a wrong length */
};

static int pm_attr_cb(const struct nlattr *attr, void *data)
{
	struct pm_attr_table *t = data;
	uint16_t type = mnl_attr_get_type(attr);
	uint16_t len = mnl_attr_get_payload_len(attr);

	if (type > t->max || t->rules[type].max == 0)
		return MNL_CB_OK; /* newer kernel, newer attribute: skip it */
	if (len < t->rules[type].min || len > t->rules[type].max) {
		t->bad = true;
		return MNL_CB_OK;
	}
	t->tb[type] = attr;
	return MNL_CB_OK;
}

/* A u8/u16/u32 attribute of any of those widths (the rules already bounded the length). */
static uint32_t pm_attr_uint(const struct nlattr *attr)
{
	switch (mnl_attr_get_payload_len(attr)) {
	case 1:
		return mnl_attr_get_u8(attr);
	case 2:
		return mnl_attr_get_u16(attr);
	default:
		return mnl_attr_get_u32(attr);
	}
}

/* ---- extended acks ------------------------------------------------------------------------ */

static int pm_ext_ack_cb(const struct nlattr *attr, void *data)
{
	struct pm *pm = data;
	const char *msg;
	size_t len;

	if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	msg = mnl_attr_get_str(attr);
	len = strnlen(msg, mnl_attr_get_payload_len(attr));
	if (len >= sizeof(pm->err_msg))
		len = sizeof(pm->err_msg) - 1;
	memcpy(pm->err_msg, msg, len);
	pm->err_msg[len] = '\0';
	return MNL_CB_OK;
}

/*
 * NLMSG_ERROR (an ack when error == 0). With NLM_F_ACK_TLVS the kernel appends attributes
 * after struct nlmsgerr and, unless NLM_F_CAPPED, after a copy of our whole request.
 */
static int pm_error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct pm_req *req = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t payload = mnl_nlmsg_get_payload_len(nlh), offset = sizeof(*err);

	if (payload < sizeof(*err)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && err->msg.nlmsg_len >= sizeof(err->msg))
			offset += MNL_ALIGN(err->msg.nlmsg_len - sizeof(err->msg));
		if (offset < payload)
			mnl_attr_parse(nlh, (unsigned int)offset, pm_ext_ack_cb, req->pm);
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	errno = err->error < 0 ? -err->error : err->error;
	return MNL_CB_ERROR;
}

static int pm_done_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_STOP;
}

static int pm_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct pm_req *req = data;

	return req->on_data ? req->on_data(nlh, req->arg) : MNL_CB_OK;
}

/* ---- requests ----------------------------------------------------------------------------- */

static struct nlmsghdr *pm_msg_start(void *buf, uint16_t type, uint8_t cmd, uint8_t version,
				     uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

/* Sends nlh and reads until its ack: 0, or -errno with pm->err_msg set when the kernel said why. */
static int pm_transact(struct pm *pm, const struct nlmsghdr *nlh,
		       int (*on_data)(const struct nlmsghdr *nlh, void *arg), void *arg)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = pm_error_cb,
		[NLMSG_DONE] = pm_done_cb,
	};
	alignas(struct nlmsghdr) char buf[PM_RECV_SIZE];
	struct pm_req req = { .pm = pm, .on_data = on_data, .arg = arg };
	unsigned int portid;
	ssize_t n;
	int ret;

	pm->err_msg[0] = '\0';
	if (!pm->cmd)
		return -EBADF;
	portid = mnl_socket_get_portid(pm->cmd);
	if (mnl_socket_sendto(pm->cmd, nlh, nlh->nlmsg_len) == -1)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(pm->cmd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		errno = 0;
		ret = mnl_cb_run2(buf, (size_t)n, nlh->nlmsg_seq, portid, pm_data_cb, &req, ctl,
				  MNL_ARRAY_SIZE(ctl));
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EPROTO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/*
 * A nested mptcp_pm address. port 0, id 0, flags 0 and ifindex 0 are left out (the kernel
 * reads an absent attribute as 0 / "any").
 */
static void pm_put_addr(struct nlmsghdr *nlh, uint16_t type, const struct addr_port *ap, uint8_t id,
			uint32_t flags, int ifindex)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);

	if (addr_is_v4mapped(ap->ip)) {
		mnl_attr_put_u16(nlh, PM_NL_ADDR_ATTR_FAMILY, AF_INET);
		mnl_attr_put(nlh, PM_NL_ADDR_ATTR_ADDR4, 4, ap->ip + 12);
	} else {
		mnl_attr_put_u16(nlh, PM_NL_ADDR_ATTR_FAMILY, AF_INET6);
		mnl_attr_put(nlh, PM_NL_ADDR_ATTR_ADDR6, 16, ap->ip);
	}
	if (id)
		mnl_attr_put_u8(nlh, PM_NL_ADDR_ATTR_ID, id);
	if (ap->port)
		mnl_attr_put_u16(nlh, PM_NL_ADDR_ATTR_PORT, ap->port); /* host order, see above */
	if (flags)
		mnl_attr_put_u32(nlh, PM_NL_ADDR_ATTR_FLAGS, flags);
	if (ifindex > 0)
		mnl_attr_put_u32(nlh, PM_NL_ADDR_ATTR_IF_IDX, (uint32_t)ifindex);
	mnl_attr_nest_end(nlh, nest);
}

/* One per-connection command: TOKEN, the local address (ADDR) and the remote (ADDR_REMOTE). */
static int pm_subflow_cmd(struct pm *pm, uint8_t cmd, uint32_t token, uint8_t local_id,
			  const struct addr_port *local, int ifindex,
			  const struct addr_port *remote, uint32_t flags)
{
	alignas(struct nlmsghdr) char buf[PM_REQ_SIZE];
	struct nlmsghdr *nlh;

	pm->err_msg[0] = '\0';
	if (!pm->family_id)
		return -EBADF;
	if (addr_is_v4mapped(local->ip) != addr_is_v4mapped(remote->ip)) {
		/* the kernel would refuse it too ("families mismatch") */
		snprintf(pm->err_msg, sizeof(pm->err_msg), "local and remote families differ");
		return -EAFNOSUPPORT;
	}
	nlh = pm_msg_start(buf, pm->family_id, cmd, PM_NL_VERSION, ++pm->seq);
	mnl_attr_put_u32(nlh, PM_NL_ATTR_TOKEN, token);
	pm_put_addr(nlh, PM_NL_ATTR_ADDR, local, local_id, flags, ifindex);
	pm_put_addr(nlh, PM_NL_ATTR_ADDR_REMOTE, remote, 0, 0, 0);
	return pm_transact(pm, nlh, NULL, NULL);
}

int pm_subflow_create(struct pm *pm, uint32_t token, uint8_t local_id,
		      const struct addr_port *local, int ifindex, const struct addr_port *remote,
		      bool backup)
{
	/* id 0 is the initial subflow's; 6.18 takes a 0 literally rather than picking one */
	if (remote->port == 0 || local_id == 0) {
		snprintf(pm->err_msg, sizeof(pm->err_msg), "%s",
			 local_id ? "missing remote port" : "local id 0 is the initial subflow's");
		return -EINVAL;
	}
	return pm_subflow_cmd(pm, PM_NL_CMD_SUBFLOW_CREATE, token, local_id, local, ifindex, remote,
			      backup ? PM_NL_ADDR_FLAG_BACKUP : 0);
}

int pm_subflow_destroy(struct pm *pm, uint32_t token, const struct addr_port *local,
		       const struct addr_port *remote)
{
	return pm_subflow_cmd(pm, PM_NL_CMD_SUBFLOW_DESTROY, token, 0, local, 0, remote, 0);
}

int pm_subflow_set_backup(struct pm *pm, uint32_t token, const struct addr_port *local,
			  const struct addr_port *remote, bool backup)
{
	return pm_subflow_cmd(pm, PM_NL_CMD_SET_FLAGS, token, 0, local, 0, remote,
			      backup ? PM_NL_ADDR_FLAG_BACKUP : 0);
}

int pm_remove_addr(struct pm *pm, uint32_t token, uint8_t local_id)
{
	alignas(struct nlmsghdr) char buf[PM_REQ_SIZE];
	struct nlmsghdr *nlh;

	pm->err_msg[0] = '\0';
	if (!pm->family_id)
		return -EBADF;
	nlh = pm_msg_start(buf, pm->family_id, PM_NL_CMD_REMOVE, PM_NL_VERSION, ++pm->seq);
	mnl_attr_put_u32(nlh, PM_NL_ATTR_TOKEN, token);
	mnl_attr_put_u8(nlh, PM_NL_ATTR_LOC_ID, local_id);
	return pm_transact(pm, nlh, NULL, NULL);
}

static const struct pm_attr_rule pm_limits_rules[PM_NL_ATTR_SUBFLOWS + 1] = {
	[PM_NL_ATTR_RCV_ADD_ADDRS] = { 4, 4 },
	[PM_NL_ATTR_SUBFLOWS] = { 4, 4 },
};

static int pm_limits_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[PM_NL_ATTR_SUBFLOWS + 1] = { NULL };
	struct pm_attr_table t = { .tb = tb, .rules = pm_limits_rules, .max = PM_NL_ATTR_SUBFLOWS };
	struct pm_limits *limits = arg;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), pm_attr_cb, &t);
	if (t.bad || !tb[PM_NL_ATTR_RCV_ADD_ADDRS] || !tb[PM_NL_ATTR_SUBFLOWS])
		return MNL_CB_ERROR; /* errno 0: -EPROTO */
	limits->add_addr_accepted = mnl_attr_get_u32(tb[PM_NL_ATTR_RCV_ADD_ADDRS]);
	limits->subflows = mnl_attr_get_u32(tb[PM_NL_ATTR_SUBFLOWS]);
	return MNL_CB_OK;
}

int pm_get_limits(struct pm *pm, struct pm_limits *limits)
{
	alignas(struct nlmsghdr) char buf[PM_REQ_SIZE];
	struct nlmsghdr *nlh;

	pm->err_msg[0] = '\0';
	if (!pm->family_id)
		return -EBADF;
	nlh = pm_msg_start(buf, pm->family_id, PM_NL_CMD_GET_LIMITS, PM_NL_VERSION, ++pm->seq);
	return pm_transact(pm, nlh, pm_limits_cb, limits);
}

/* ---- endpoints (`ip mptcp endpoint show`) ---- */

struct pm_endpoints_req {
	void (*on_endpoint)(const struct pm_endpoint *ep, void *arg);
	void *arg;
};

static const struct pm_attr_rule pm_top_rules[PM_NL_ATTR_ADDR + 1] = {
	[PM_NL_ATTR_ADDR] = { 4, 255 },
};

static const struct pm_attr_rule pm_addr_rules[PM_NL_ADDR_ATTR_IF_IDX + 1] = {
	[PM_NL_ADDR_ATTR_FAMILY] = { 2, 2 }, [PM_NL_ADDR_ATTR_ID] = { 1, 1 },
	[PM_NL_ADDR_ATTR_ADDR4] = { 4, 4 },  [PM_NL_ADDR_ATTR_ADDR6] = { 16, 16 },
	[PM_NL_ADDR_ATTR_PORT] = { 2, 2 },   [PM_NL_ADDR_ATTR_FLAGS] = { 4, 4 },
	[PM_NL_ADDR_ATTR_IF_IDX] = { 4, 4 },
};

static void pm_event_addr(const struct nlattr *a4, const struct nlattr *a6,
			  const struct nlattr *port, struct addr_port *out);

static int pm_endpoint_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *top[PM_NL_ATTR_ADDR + 1] = { NULL };
	const struct nlattr *a[PM_NL_ADDR_ATTR_IF_IDX + 1] = { NULL };
	struct pm_attr_table t = { .tb = top, .rules = pm_top_rules, .max = PM_NL_ATTR_ADDR };
	struct pm_attr_table at = { .tb = a, .rules = pm_addr_rules, .max = PM_NL_ADDR_ATTR_IF_IDX };
	struct pm_endpoints_req *req = arg;
	struct pm_endpoint ep = { .id = 0 };

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), pm_attr_cb, &t);
	if (t.bad || !top[PM_NL_ATTR_ADDR])
		return MNL_CB_OK; /* not an endpoint: skip it */
	mnl_attr_parse_nested(top[PM_NL_ATTR_ADDR], pm_attr_cb, &at);
	if (at.bad || (!a[PM_NL_ADDR_ATTR_ADDR4] && !a[PM_NL_ADDR_ATTR_ADDR6]))
		return MNL_CB_OK;
	pm_event_addr(a[PM_NL_ADDR_ATTR_ADDR4], a[PM_NL_ADDR_ATTR_ADDR6], NULL, &ep.addr);
	if (a[PM_NL_ADDR_ATTR_PORT])
		ep.addr.port = mnl_attr_get_u16(a[PM_NL_ADDR_ATTR_PORT]); /* host order, see above */
	if (a[PM_NL_ADDR_ATTR_ID])
		ep.id = mnl_attr_get_u8(a[PM_NL_ADDR_ATTR_ID]);
	if (a[PM_NL_ADDR_ATTR_FLAGS])
		ep.flags = mnl_attr_get_u32(a[PM_NL_ADDR_ATTR_FLAGS]);
	if (a[PM_NL_ADDR_ATTR_IF_IDX])
		ep.ifindex = (int)mnl_attr_get_u32(a[PM_NL_ADDR_ATTR_IF_IDX]);
	req->on_endpoint(&ep, req->arg);
	return MNL_CB_OK;
}

int pm_get_endpoints(struct pm *pm, void (*on_endpoint)(const struct pm_endpoint *ep, void *arg),
		     void *arg)
{
	alignas(struct nlmsghdr) char buf[PM_REQ_SIZE];
	struct pm_endpoints_req req = { .on_endpoint = on_endpoint, .arg = arg };
	struct nlmsghdr *nlh;

	pm->err_msg[0] = '\0';
	if (!pm->family_id)
		return -EBADF;
	nlh = pm_msg_start(buf, pm->family_id, PM_NL_CMD_GET_ADDR, PM_NL_VERSION, ++pm->seq);
	/* a dump ends with NLMSG_DONE; an ack after it would be read as the next answer */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	return pm_transact(pm, nlh, pm_endpoint_cb, &req);
}

/* ---- family resolution -------------------------------------------------------------------- */

static const struct pm_attr_rule pm_ctrl_rules[CTRL_ATTR_MAX + 1] = {
	[CTRL_ATTR_FAMILY_ID] = { 2, 2 },
	[CTRL_ATTR_MCAST_GROUPS] = { 0, UINT8_MAX }, /* walked by hand below */
};

static const struct pm_attr_rule pm_grp_rules[CTRL_ATTR_MCAST_GRP_MAX + 1] = {
	[CTRL_ATTR_MCAST_GRP_NAME] = { 1, GENL_NAMSIZ },
	[CTRL_ATTR_MCAST_GRP_ID] = { 4, 4 },
};

static int pm_family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct pm *pm = arg;
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { 0 };
	struct pm_attr_table t = { tb, pm_ctrl_rules, CTRL_ATTR_MAX, false };
	const struct nlattr *grp;

	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), pm_attr_cb, &t) < 0)
		return MNL_CB_ERROR;
	if (t.bad || !tb[CTRL_ATTR_FAMILY_ID]) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	pm->family_id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return MNL_CB_OK;
	mnl_attr_for_each_nested(grp, tb[CTRL_ATTR_MCAST_GROUPS])
	{
		const struct nlattr *gtb[CTRL_ATTR_MCAST_GRP_MAX + 1] = { 0 };
		struct pm_attr_table gt = { gtb, pm_grp_rules, CTRL_ATTR_MCAST_GRP_MAX, false };

		if (mnl_attr_parse_nested(grp, pm_attr_cb, &gt) < 0 || gt.bad)
			continue;
		if (!gtb[CTRL_ATTR_MCAST_GRP_NAME] || !gtb[CTRL_ATTR_MCAST_GRP_ID] ||
		    mnl_attr_validate(gtb[CTRL_ATTR_MCAST_GRP_NAME], MNL_TYPE_NUL_STRING) < 0)
			continue;
		if (strcmp(mnl_attr_get_str(gtb[CTRL_ATTR_MCAST_GRP_NAME]), PM_NL_EVENTS_GROUP) ==
		    0)
			pm->events_group = mnl_attr_get_u32(gtb[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return MNL_CB_OK;
}

static void pm_set_int(struct mnl_socket *nl, int name, int value)
{
	/* best effort: kernels without the option answer without the extra detail */
	mnl_socket_setsockopt(nl, name, &value, sizeof(value));
}

int pm_open(struct pm *pm)
{
	alignas(struct nlmsghdr) char buf[PM_REQ_SIZE];
	struct nlmsghdr *nlh;
	int ret;

	memset(pm, 0, sizeof(*pm));
	pm->cmd = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!pm->cmd)
		return -errno;
	if (mnl_socket_bind(pm->cmd, 0, MNL_SOCKET_AUTOPID) == -1) {
		ret = -errno;
		goto cleanup;
	}
	pm_set_int(pm->cmd, NETLINK_EXT_ACK, 1);
	pm_set_int(pm->cmd, NETLINK_CAP_ACK, 1);

	nlh = pm_msg_start(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, ++pm->seq);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, PM_NL_FAMILY);
	ret = pm_transact(pm, nlh, pm_family_cb, pm);
	if (ret == 0 && !pm->family_id)
		ret = -ENOENT;
	if (ret == 0)
		return 0;
cleanup:
	mnl_socket_close(pm->cmd);
	pm->cmd = NULL;
	pm->family_id = 0;
	return ret;
}

void pm_close(struct pm *pm)
{
	if (pm->cmd)
		mnl_socket_close(pm->cmd);
	if (pm->events)
		mnl_socket_close(pm->events);
	pm->cmd = NULL;
	pm->events = NULL;
	pm->family_id = 0;
}

/* ---- events ------------------------------------------------------------------------------- */

int pm_subscribe(struct pm *pm)
{
	struct mnl_socket *nl = NULL;
	unsigned int group = pm->events_group;
	int rcvbuf = PM_EVENTS_RCVBUF, ret;

	if (pm->events)
		return mnl_socket_get_fd(pm->events);
	if (!pm->family_id || !group)
		return -ENOENT;
	nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		ret = -errno;
		goto cleanup;
	}
	/* the group is GENL_UNS_ADMIN_PERM: -EPERM without CAP_NET_ADMIN in the netns */
	if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) == -1) {
		ret = -errno;
		goto cleanup;
	}
	/* best effort: bursts of events should not overrun the default buffer */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	pm->events = nl;
	return mnl_socket_get_fd(nl);
cleanup:
	mnl_socket_close(nl);
	return ret;
}

static const struct pm_attr_rule pm_event_rules[PM_NL_EV_MAX + 1] = {
	[PM_NL_EV_TOKEN] = { 4, 4 },  [PM_NL_EV_FAMILY] = { 2, 2 },
	[PM_NL_EV_LOC_ID] = { 1, 1 }, [PM_NL_EV_REM_ID] = { 1, 1 },
	[PM_NL_EV_SADDR4] = { 4, 4 }, [PM_NL_EV_SADDR6] = { 16, 16 },
	[PM_NL_EV_DADDR4] = { 4, 4 }, [PM_NL_EV_DADDR6] = { 16, 16 },
	[PM_NL_EV_SPORT] = { 2, 2 },  [PM_NL_EV_DPORT] = { 2, 2 },
	[PM_NL_EV_BACKUP] = { 1, 1 }, [PM_NL_EV_ERROR] = { 1, 4 },
	[PM_NL_EV_IF_IDX] = { 4, 4 }, [PM_NL_EV_FLAGS] = { 1, 4 },
};

static void pm_event_addr(const struct nlattr *a4, const struct nlattr *a6,
			  const struct nlattr *port, struct addr_port *out)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a4) {
		memcpy(out->ip, v4mapped, sizeof(v4mapped));
		memcpy(out->ip + 12, mnl_attr_get_payload(a4), 4);
	} else if (a6) {
		memcpy(out->ip, mnl_attr_get_payload(a6), 16);
	}
	if (port)
		out->port = ntohs(mnl_attr_get_u16(port));
}

/*
 * Parses one event message into *event. 0, or -EBADMSG for a message we cannot trust (short
 * header, an attribute of the wrong size): the caller skips it.
 */
static int pm_parse_event(const struct nlmsghdr *nlh, struct pm_event *event)
{
	const struct nlattr *tb[PM_NL_EV_MAX + 1] = { 0 };
	struct pm_attr_table t = { tb, pm_event_rules, PM_NL_EV_MAX, false };
	const struct genlmsghdr *genl;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl))
		return -EBADMSG;
	genl = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*genl), pm_attr_cb, &t) < 0 || t.bad)
		return -EBADMSG;

	memset(event, 0, sizeof(*event));
	event->type = (enum pm_event_type)genl->cmd;
	if (tb[PM_NL_EV_TOKEN])
		event->token = mnl_attr_get_u32(tb[PM_NL_EV_TOKEN]);
	if (tb[PM_NL_EV_SADDR4] || tb[PM_NL_EV_SADDR6] || tb[PM_NL_EV_DADDR4] ||
	    tb[PM_NL_EV_DADDR6]) {
		event->has_addrs = true;
		pm_event_addr(tb[PM_NL_EV_SADDR4], tb[PM_NL_EV_SADDR6], tb[PM_NL_EV_SPORT],
			      &event->local);
		pm_event_addr(tb[PM_NL_EV_DADDR4], tb[PM_NL_EV_DADDR6], tb[PM_NL_EV_DPORT],
			      &event->remote);
	}
	if (tb[PM_NL_EV_LOC_ID])
		event->loc_id = mnl_attr_get_u8(tb[PM_NL_EV_LOC_ID]);
	if (tb[PM_NL_EV_REM_ID])
		event->rem_id = mnl_attr_get_u8(tb[PM_NL_EV_REM_ID]);
	if (tb[PM_NL_EV_IF_IDX])
		event->ifindex = (int)mnl_attr_get_u32(tb[PM_NL_EV_IF_IDX]);
	if (tb[PM_NL_EV_BACKUP])
		event->backup = mnl_attr_get_u8(tb[PM_NL_EV_BACKUP]) != 0;
	if (tb[PM_NL_EV_ERROR])
		event->error = (int)pm_attr_uint(tb[PM_NL_EV_ERROR]);
	/* MPTCP_PM_EV_FLAG_DENY_JOIN_ID0: the peer's MP_CAPABLE had the C flag */
	if (tb[PM_NL_EV_FLAGS])
		event->deny_join_id0 = (pm_attr_uint(tb[PM_NL_EV_FLAGS]) & 1u) != 0;
	return 0;
}

struct pm_event_ctx {
	uint16_t family_id;
	void (*on_event)(const struct pm_event *event, void *arg);
	void *arg;
};

static int pm_event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct pm_event_ctx *ctx = data;
	struct pm_event event;

	if (nlh->nlmsg_type != ctx->family_id)
		return MNL_CB_OK;
	if (pm_parse_event(nlh, &event) == 0)
		ctx->on_event(&event, ctx->arg);
	return MNL_CB_OK; /* a malformed event is skipped, not fatal */
}

int pm_read_events(struct pm *pm, void (*on_event)(const struct pm_event *event, void *arg),
		   void *arg)
{
	alignas(struct nlmsghdr) char buf[PM_RECV_SIZE];
	struct pm_event_ctx ctx = { pm->family_id, on_event, arg };
	ssize_t n;

	if (!pm->events)
		return -EBADF;
	for (;;) {
		n = mnl_socket_recvfrom(pm->events, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			/* ENOBUFS: the kernel dropped events; the socket stays usable */
			return -errno;
		}
		/* seq and portid 0: multicast, nothing to match */
		if (mnl_cb_run(buf, (size_t)n, 0, 0, pm_event_cb, &ctx) == MNL_CB_ERROR)
			return -errno;
	}
}

const char *pm_event_name(enum pm_event_type type)
{
	switch (type) {
	case PM_EVENT_CREATED:
		return "created";
	case PM_EVENT_ESTABLISHED:
		return "established";
	case PM_EVENT_CLOSED:
		return "closed";
	case PM_EVENT_ANNOUNCED:
		return "announced";
	case PM_EVENT_REMOVED:
		return "removed";
	case PM_EVENT_SUB_ESTABLISHED:
		return "sub_established";
	case PM_EVENT_SUB_CLOSED:
		return "sub_closed";
	case PM_EVENT_SUB_PRIORITY:
		return "sub_priority";
	case PM_EVENT_LISTENER_CREATED:
		return "listener_created";
	case PM_EVENT_LISTENER_CLOSED:
		return "listener_closed";
	}
	return "unknown";
}
