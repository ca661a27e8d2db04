// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mpconvctl doctor, the probes: reads the daemon's configuration with the daemon's own parser,
 * then the sysctls, MPTCP limits, routes, interfaces, nftables, clock, limits and systemd units
 * of this host (and network namespace) that decide whether mpconv can bond or convert, and
 * probes the converter over each link as the gateway does. It changes nothing: nftables is
 * asked in dry-run mode, a probe carries a bare Convert header, which opens nothing. Judging
 * is doctor_verdict.c's.
 */
#include "config.h"
#include "convert.h"
#include "doctor.h"
#include "hostenv.h"
#include "pm.h"
#include "rtnl.h"
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#ifndef MPCONV_SYSCONFDIR
#define MPCONV_SYSCONFDIR "/etc"
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define PROBE_TIMEOUT_MS 2000
#define UNIT_TEXT_MAX	 (64 * 1024)

struct doctor {
	struct doctor_report report;
	struct config cfg;
	bool gateway;
	int timeout_ms;
	char unit_text[UNIT_TEXT_MAX]; /* the role's unit and its drop-ins, in order; "" if none */
	char unit_name[DOCTOR_SUBJECT_LEN];
};

/* ---- small readers -------------------------------------------------------------------------- */

/* A sysctl (or any one-line file) as text, trailing newline cut; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok = f && fgets(buf, (int)len, f);

	if (f)
		fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

static long long read_int(const char *path, long long absent)
{
	char buf[64], *end;
	long long v;

	if (!read_line(path, buf, sizeof(buf)))
		return absent;
	v = strtoll(buf, &end, 0);
	return end == buf ? absent : v;
}

/* Appends a file's text to buf (NUL-terminated) separated by a newline; false if unreadable. */
static bool append_file(const char *path, char *buf, size_t cap)
{
	size_t used = strlen(buf), n;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	if (used + 1 < cap)
		buf[used++] = '\n';
	n = fread(buf + used, 1, cap - used - 1, f);
	buf[used + n] = '\0';
	fclose(f);
	return true;
}

/* ---- configuration ------------------------------------------------------------------------- */

/*
 * Loads path into d->cfg and decides the role: --role, else a file that names a converter or a
 * LAN is a gateway's. A file that does not exist is reported and the defaults are checked.
 */
static int doctor_config(struct doctor *d, const char *role, const char *path)
{
	char err[CONFIG_ERR_LEN];
	struct stat st;
	bool missing = stat(path, &st) == -1;
	int ret;

	config_init(&d->cfg);

	if (missing) {
		doctor_add(&d->report, DOCTOR_WARN, "config", "",
			   "give the daemon's file with --config PATH",
			   "no file %s: checking the built-in defaults", path);
	} else {
		ret = config_load_file(&d->cfg, path, err);
		if (ret < 0) {
			doctor_add(&d->report, DOCTOR_FAIL, "config", "",
				   "correct the file (mpconv.conf(5)): mpconvd refuses it too", "%s",
				   err);
			return ret;
		}
	}
	if (role)
		d->gateway = !strcmp(role, "gateway");
	else
		d->gateway = d->cfg.gateway.converters_len > 0 || d->cfg.gateway.lan_len > 0;
	d->report.role = d->gateway ? "gateway" : "converter";
	d->cfg.role = d->gateway ? CONFIG_GATEWAY : CONFIG_CONVERTER;
	ret = config_finish(&d->cfg, err);
	if (ret < 0) {
		doctor_add(&d->report, DOCTOR_FAIL, "config", "",
			   "correct the file (mpconv.conf(5)): mpconvd refuses it too", "%s", err);
		return ret;
	}
	if (!missing)
		doctor_add(&d->report, DOCTOR_OK, "config", "", NULL,
			   "%s read as a %s's configuration", path, d->report.role);
	return 0;
}

/* ---- systemd unit ---------------------------------------------------------------------------- */

/* The role's unit file (first found, as systemd searches) and its drop-ins, into unit_text. */
static void doctor_load_unit(struct doctor *d)
{
	static const char *const dirs[] = { "/etc/systemd/system", "/run/systemd/system",
					    "/usr/local/lib/systemd/system", "/lib/systemd/system",
					    "/usr/lib/systemd/system" };
	char path[512];
	glob_t g;

	snprintf(d->unit_name, sizeof(d->unit_name), "mpconv-%s.service", d->report.role);
	d->unit_text[0] = '\0';
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], d->unit_name);
		if (append_file(path, d->unit_text, sizeof(d->unit_text)))
			break;
	}
	if (!d->unit_text[0])
		return;
	/* drop-ins, lowest precedence first, so that the last assignment read wins */
	for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
		snprintf(path, sizeof(path), "%s/%s.d/*.conf", dirs[i], d->unit_name);
		if (glob(path, 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc; j++)
			append_file(g.gl_pathv[j], d->unit_text, sizeof(d->unit_text));
		globfree(&g);
	}
}

static bool doctor_unit_has(const struct doctor *d, const char *key, char *value, size_t len)
{
	return d->unit_text[0] && doctor_unit_value(d->unit_text, key, value, len);
}

/* ---- kernel: MPTCP, sysctls ---------------------------------------------------------------- */

static void doctor_mptcp(struct doctor *d)
{
	struct config_gateway *gc = &d->cfg.gateway;
	bool userspace = d->gateway && gc->path_manager == CONFIG_PM_USERSPACE;
	char available[128];
	struct pm_limits limits = { 0 };
	struct pm pm;
	bool read_ok = false;

	doctor_judge_mptcp_enabled(&d->report,
				   (int)read_int("/proc/sys/net/mptcp/enabled", -1));
	doctor_judge_path_manager(&d->report, d->gateway, userspace,
				  read_line("/proc/sys/net/mptcp/available_path_managers",
					    available, sizeof(available))
					  ? available
					  : NULL);
	if (pm_open(&pm) == 0) {
		read_ok = pm_get_limits(&pm, &limits) == 0;
		pm_close(&pm);
	}
	doctor_judge_limits(&d->report, d->gateway, userspace, read_ok, limits.subflows,
			    limits.add_addr_accepted, gc->links_len);
	doctor_judge_fastopen(&d->report, d->gateway,
			      d->gateway ? gc->mode == CONFIG_MODE_TFO : d->cfg.converter.tfo,
			      (int)read_int("/proc/sys/net/ipv4/tcp_fastopen", -1));
}

/* ---- gateway: links ------------------------------------------------------------------------ */

/* The interface's first global address of the family (as the gateway picks it). */
static bool iface_addr(const char *dev, bool v4, uint8_t out[16])
{
	struct ifaddrs *ifa, *i;
	struct addr_port ap;
	bool found = false;

	if (getifaddrs(&ifa) == -1)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, dev) ||
		    i->ifa_addr->sa_family != (v4 ? AF_INET : AF_INET6))
			continue;
		if (!addr_from_sockaddr(i->ifa_addr, v4 ? sizeof(struct sockaddr_in)
							: sizeof(struct sockaddr_in6),
					&ap) ||
		    addr_is_link_local(ap.ip) || addr_is_loopback(ap.ip))
			continue;
		memcpy(out, ap.ip, 16);
		found = true;
	}
	freeifaddrs(ifa);
	return found;
}

/* A link's local address for the converter's family: configured, else the interface's. */
static bool link_addr(const struct link_conf *l, bool v4, uint8_t out[16])
{
	if (v4 && l->has_addr4) {
		memcpy(out, l->addr4, 16);
		return true;
	}
	if (!v4 && l->has_addr6) {
		memcpy(out, l->addr6, 16);
		return true;
	}
	return iface_addr(l->dev, v4, out);
}

/* Is the gateway running here (its control socket answers)? Then its tables should be in place. */
static bool gateway_running(const struct doctor *d)
{
	const char *path = d->cfg.gateway.common.control.socket;
	struct stat st;

	return path[0] && stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Where traffic from the link's address to the converter leaves: by the link, or not. */
static void doctor_link_route(struct doctor *d, struct rtnl *rtnl, const struct link_conf *l,
			      unsigned ifindex, const uint8_t src[16], size_t index)
{
	const struct addr_port *cv = &d->cfg.gateway.converters[0];
	bool v4 = addr_is_v4mapped(cv->ip);
	char a[ADDR_STRLEN], c[ADDR_STRLEN], via[ADDR_STRLEN + 5] = "", other[IF_NAMESIZE] = "?";
	char fix[DOCTOR_TEXT_LEN];
	struct addr_port sp = { .port = 0 }, gw = { .port = 0 };
	unsigned oif = 0;
	uint32_t table = d->cfg.gateway.link_table + (uint32_t)index;
	int ret;

	memcpy(sp.ip, src, 16);
	addr_format(&sp, false, a);
	addr_format(cv, false, c);
	ret = rtnl_route_get(rtnl, v4 ? AF_INET : AF_INET6, v4 ? cv->ip + 12 : cv->ip,
			     v4 ? src + 12 : src, &oif);
	if (ret == 0 && oif == ifindex) {
		doctor_add(&d->report, DOCTOR_OK, "route", l->name, NULL,
			   "%s to %s leaves by %s (source routing in place)", a, c, l->dev);
		return;
	}
	if (oif)
		if_indextoname(oif, other);
	if (v4 ? l->has_via4 : l->has_via6) {
		memcpy(gw.ip, v4 ? l->via4 : l->via6, 16);
		strcpy(via, "via ");
		addr_format(&gw, false, via + 4);
		strcat(via, " ");
	}
	/* both commands: the rule may exist with its table emptied, or the other way round */
	snprintf(fix, sizeof(fix),
		 "ip route replace default %sdev %s table %u; ip rule add from %s lookup %u "
		 "(a running gateway adds both itself: link-table)",
		 via, l->dev, table, a, table);
	doctor_add(&d->report, gateway_running(d) ? DOCTOR_FAIL : DOCTOR_WARN, "route", l->name,
		   fix, "%s to %s %s%s%s: no default route by %s for this source%s", a, c,
		   ret ? "has no route (" : "leaves by ", ret ? strerror(-ret) : other,
		   ret ? ")" : "", l->dev,
		   gateway_running(d) ? "" : " (the gateway is not running here)");
}

static void doctor_rp_filter(struct doctor *d, const char *dev)
{
	char path[128];
	int all = (int)read_int("/proc/sys/net/ipv4/conf/all/rp_filter", 0);

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", dev);
	doctor_judge_rp_filter(&d->report, dev, all, (int)read_int(path, 0));
}

/* Milliseconds since t0. */
static int ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Waits for events on fd until the deadline (ms after t0): poll's result. */
static int wait_fd(int fd, short events, const struct timespec *t0, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int left = timeout_ms - ms_since(t0);

	return poll(&pfd, 1, left > 0 ? left : 0);
}

/*
 * The gateway's own probe (mpconvctl probe), from here: an MPTCP connection bound to the
 * link's address and interface (as the gateway's subflows are) carries a bare Convert header
 * in its SYN (Fast Open, no cookie); the converter answers it with an Error TLV and opens
 * nothing. Reachable? Did the MPTCP options survive the path (a fallback to TCP means a
 * middlebox stripped them, or the converter's host has MPTCP off)? Was the SYN data taken?
 * Did mpconvd answer?
 */
static void doctor_reach(struct doctor *d, const char *subject, const char *dev,
			 const uint8_t *src, const struct addr_port *cv)
{
	struct sockaddr_storage ss;
	struct addr_port local = { .port = 0 };
	struct conv_writer w;
	struct tcp_info ti;
	struct timespec t0;
	uint8_t header[CONV_MAX_LEN];
	char c[ADDR_STRLEN], via[IF_NAMESIZE + 8] = "", buf[64];
	socklen_t sl = sizeof(ti);
	int fd, ret = 0, ms, is_mptcp, syn_data = -1, header_len, one = 1;
	bool answered, sent = false;

	addr_format(cv, true, c);
	if (dev)
		snprintf(via, sizeof(via), " over %s", dev);
	conv_writer_begin(&w, header, sizeof(header));
	header_len = conv_writer_finish(&w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = socket(addr_is_v4mapped(cv->ip) ? AF_INET : AF_INET6,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd == -1) {
		doctor_add(&d->report, DOCTOR_FAIL, "reach", subject, "see the mptcp line above",
			   "cannot open an MPTCP socket: %s", strerror(errno));
		return;
	}
	if (dev)
		/* needs CAP_NET_RAW; without it the source address alone picks the route */
		setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev));
	/* data in the SYN without a cookie, as the gateway sends it (an old kernel: after) */
	setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one));
	if (src) {
		memcpy(local.ip, src, 16);
		sl = addr_to_sockaddr(&local, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) == -1) {
			doctor_add(&d->report, DOCTOR_FAIL, "reach", subject,
				   "check the link's address", "cannot bind the link's address: %s",
				   strerror(errno));
			goto out;
		}
	}
	sl = addr_to_sockaddr(cv, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) == -1 && errno != EINPROGRESS)
		ret = errno;
	/* in the SYN when Fast Open works; else (EAGAIN: still connecting) once connected */
	if (!ret && send(fd, header, (size_t)header_len, MSG_NOSIGNAL) == header_len)
		sent = true;
	else if (!ret && errno != EINPROGRESS && errno != EAGAIN)
		ret = errno;
	if (!ret)
		/* SO_ERROR is a positive errno; a failing getsockopt a negative one */
		ret = wait_fd(fd, POLLOUT, &t0, d->timeout_ms) == 1 ? abs(sock_pending_error(fd))
								    : ETIMEDOUT;
	if (!ret && !sent && send(fd, header, (size_t)header_len, MSG_NOSIGNAL) != header_len)
		ret = errno ? errno : EIO;
	ms = ms_since(&t0);
	if (ret) {
		doctor_add(&d->report, DOCTOR_FAIL, "reach", subject,
			   ret == ECONNREFUSED ? "start the converter there, or correct the "
						 "converter address"
					       : "check the link and the route to the converter",
			   "%s%s: %s after %d ms", c, via,
			   ret == ETIMEDOUT ? "no answer" : strerror(ret), ms);
		goto out;
	}
	is_mptcp = sock_is_mptcp(fd);
	sl = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl) == 0 &&
	    sl >= offsetof(struct tcp_info, tcpi_rto))
		syn_data = (ti.tcpi_options & TCPI_OPT_SYN_DATA) != 0;
	/* the converter's Error TLV, or its close */
	answered = wait_fd(fd, POLLIN, &t0, d->timeout_ms) == 1 &&
		   recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	if (is_mptcp != 1)
		doctor_add(&d->report, DOCTOR_FAIL, "reach", subject,
			   "on the converter: net.mptcp.enabled=1 and tcp_fastopen with bit 0x2 "
			   "(this kernel answers SYN data it refuses as plain TCP); else a middlebox "
			   "on this path strips TCP options",
			   "%s%s: connected in %d ms, but as plain TCP: the MPTCP options did not "
			   "survive",
			   c, via, ms);
	else if (!answered)
		doctor_add(&d->report, DOCTOR_WARN, "reach", subject,
			   "check that mpconvd converter listens there",
			   "%s%s: MPTCP connected in %d ms, but no answer to a Convert header "
			   "within %d ms",
			   c, via, ms, d->timeout_ms);
	else if (syn_data == 0)
		doctor_add(&d->report, DOCTOR_WARN, "reach", subject,
			   "net.ipv4.tcp_fastopen with bit 0x1 here and 0x2 on the converter; a path "
			   "that keeps SYN data",
			   "%s%s: MPTCP in %d ms, answered, but the SYN data was not taken (mode tfo "
			   "loses its saved round trip)",
			   c, via, ms);
	else
		doctor_add(&d->report, DOCTOR_OK, "reach", subject, NULL,
			   "%s%s: MPTCP in %d ms, SYN data taken%s, converter answered", c, via, ms,
			   syn_data < 0 ? " (unknown)" : "");
out:
	close(fd);
}

#define DOCTOR_MAX_ENDPOINTS 32

struct endpoints {
	struct pm_endpoint ep[DOCTOR_MAX_ENDPOINTS];
	size_t len;
};

static void endpoint_add(const struct pm_endpoint *ep, void *arg)
{
	struct endpoints *eps = arg;

	if (eps->len < DOCTOR_MAX_ENDPOINTS)
		eps->ep[eps->len++] = *ep;
}

/*
 * With path-manager = kernel, the kernel opens a subflow from a link only for an endpoint with
 * flag subflow on its address or interface (`ip mptcp endpoint`); the gateway adds none.
 */
static void doctor_endpoint(struct doctor *d, const struct endpoints *eps,
			    const struct link_conf *l, unsigned ifindex, const uint8_t src[16])
{
	struct addr_port a = { .port = 0 };
	char text[ADDR_STRLEN], fix[DOCTOR_TEXT_LEN];

	for (size_t i = 0; i < eps->len; i++) {
		const struct pm_endpoint *ep = &eps->ep[i];

		if (!(ep->flags & PM_ENDPOINT_SUBFLOW))
			continue;
		if (!memcmp(ep->addr.ip, src, 16) || (ep->ifindex && (unsigned)ep->ifindex == ifindex)) {
			doctor_add(&d->report, DOCTOR_OK, "endpoint", l->name, NULL,
				   "endpoint id %u with flag subflow", ep->id);
			return;
		}
	}
	memcpy(a.ip, src, 16);
	addr_format(&a, false, text);
	snprintf(fix, sizeof(fix), "ip mptcp endpoint add %s dev %s subflow%s", text, l->dev,
		 l->role == LINK_BACKUP ? " backup" : "");
	doctor_add(&d->report, DOCTOR_WARN, "endpoint", l->name, fix,
		   "no MPTCP endpoint with flag subflow for %s on %s: the in-kernel path manager "
		   "opens no subflow from this link (unless it carries the first one)",
		   text, l->dev);
}

static void doctor_links(struct doctor *d)
{
	struct config_gateway *gc = &d->cfg.gateway;
	bool v4 = addr_is_v4mapped(gc->converters[0].ip);
	struct rtnl rtnl = { 0 };
	bool have_rtnl = rtnl_open(&rtnl) == 0;
	bool kernel_pm = gc->path_manager == CONFIG_PM_KERNEL;
	static struct endpoints eps;
	struct pm pm;

	eps.len = 0;
	if (kernel_pm) {
		/* unreadable: no endpoint lines (the limits line already says it could not read) */
		kernel_pm = false;
		if (pm_open(&pm) == 0) {
			kernel_pm = pm_get_endpoints(&pm, endpoint_add, &eps) == 0;
			pm_close(&pm);
		}
	}

	if (gc->links_len == 0) {
		doctor_add(&d->report, DOCTOR_OK, "links", "", NULL,
			   "no link declared: routing decides every subflow");
		for (size_t c = 0; c < gc->converters_len; c++)
			doctor_reach(d, "", NULL, NULL, &gc->converters[c]);
	}
	for (size_t i = 0; i < gc->links_len; i++) {
		const struct link_conf *l = &gc->links[i];
		unsigned ifindex = if_nametoindex(l->dev);
		uint8_t src[16];

		if (!ifindex) {
			doctor_add(&d->report, DOCTOR_FAIL, "link", l->name,
				   "correct `dev` in the link line, or bring the interface up",
				   "no interface %s", l->dev);
			continue;
		}
		if (!rtnl_link_is_up(ifindex)) {
			doctor_add(&d->report, DOCTOR_FAIL, "link", l->name, "ip link set dev IF up",
				   "%s is down (no carrier or not up)", l->dev);
			continue;
		}
		if (!link_addr(l, v4, src)) {
			doctor_add(&d->report, DOCTOR_FAIL, "link", l->name,
				   "give the interface an address (or `addr` in the link line)",
				   "%s has no global IPv%c address to reach the converter from",
				   l->dev, v4 ? '4' : '6');
			continue;
		}
		doctor_add(&d->report, DOCTOR_OK, "link", l->name, NULL, "%s up (%s)", l->dev,
			   link_role_name(l->role));
		if (kernel_pm)
			doctor_endpoint(d, &eps, l, ifindex, src);
		if (have_rtnl)
			doctor_link_route(d, &rtnl, l, ifindex, src, i);
		if (v4)
			doctor_rp_filter(d, l->dev);
		for (size_t c = 0; c < gc->converters_len; c++)
			if (addr_is_v4mapped(gc->converters[c].ip) == v4)
				doctor_reach(d, l->name, l->dev, src, &gc->converters[c]);
	}
	if (have_rtnl)
		rtnl_close(&rtnl);
}

/* ---- gateway: interception ----------------------------------------------------------------- */

/* Asks nftables to check (dry run: the kernel validates, nothing is committed) a ruleset. */
static int nft_check(const char *ruleset, char *err, size_t len)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	if (!ctx)
		return -ENOMEM;
	nft_ctx_set_dry_run(ctx, true);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	ret = nft_run_cmd_from_buffer(ctx, ruleset);
	snprintf(err, len, "%s", nft_ctx_get_error_buffer(ctx));
	err[strcspn(err, "\n")] = '\0';
	nft_ctx_free(ctx);
	return ret ? -EINVAL : 0;
}

static void doctor_intercept(struct doctor *d)
{
	struct config_gateway *gc = &d->cfg.gateway;
	const char *lan[CONFIG_MAX_LAN];
	char err[256], bridge[IF_NAMESIZE];
	bool tproxy = gc->intercept_method == CONFIG_INTERCEPT_TPROXY;
	int ret;

	if (!gc->intercept) {
		doctor_add(&d->report, DOCTOR_OK, "intercept", "", NULL,
			   "intercept = no: nothing to capture");
		return;
	}
	if (geteuid() != 0) {
		/* libnftables would print its own permission error on stderr */
		doctor_add(&d->report, DOCTOR_WARN, "intercept", tproxy ? "tproxy" : "redirect",
			   "run the doctor as root", "nftables answers root only: not checked");
		goto bridge;
	}
	ret = nft_check(tproxy ? "table inet mpconv_doctor { chain p { type filter hook prerouting "
				 "priority mangle; meta l4proto tcp socket transparent 1 accept; "
				 "meta l4proto tcp tproxy ip to 127.0.0.1:9 accept; }; }"
			       : "table ip mpconv_doctor { chain p { type nat hook prerouting "
				 "priority dstnat; tcp dport 9 redirect to :9; }; }",
			err, sizeof(err));
	if (ret)
		doctor_add(&d->report, DOCTOR_FAIL, "intercept", tproxy ? "tproxy" : "redirect",
			   tproxy ? "modprobe nft_tproxy nft_socket (or intercept-method = redirect)"
				  : "modprobe nft_redir nft_nat",
			   "nftables refuses a %s rule: %s", tproxy ? "TPROXY" : "REDIRECT",
			   err[0] ? err : "(no message; run as root)");
	else
		doctor_add(&d->report, DOCTOR_OK, "intercept", tproxy ? "tproxy" : "redirect", NULL,
			   "nftables accepts %s rules (dry run)", tproxy ? "TPROXY" : "REDIRECT");

bridge:
	for (size_t i = 0; i < gc->lan_len; i++)
		lan[i] = gc->lan[i];
	if (tproxy && hostenv_bridge_netfilter("", lan, gc->lan_len, bridge, sizeof(bridge)))
		doctor_add(&d->report, DOCTOR_WARN, "br-netfilter", bridge,
			   "sysctl -w net.bridge.bridge-nf-call-iptables=0 "
			   "net.bridge.bridge-nf-call-ip6tables=0 (or intercept-method = redirect)",
			   "LAN bridge %s with br_netfilter on: TPROXY cannot capture there, the "
			   "gateway falls back to REDIRECT",
			   bridge);
	else
		doctor_add(&d->report, DOCTOR_OK, "br-netfilter", "", NULL,
			   "no LAN bridge passes its frames through the IP hooks");
}

/* ---- converter ----------------------------------------------------------------------------- */

static void doctor_converter(struct doctor *d)
{
	struct config_converter *cc = &d->cfg.converter;

	if (cc->allow_clients.len == 0 && !cc->allow_any)
		doctor_add(&d->report, DOCTOR_FAIL, "allow", "",
			   "allow = PREFIX (the gateways' addresses) in the [converter] section",
			   "no client is allowed: the allow list is default-deny");
	else
		doctor_add(&d->report, DOCTOR_OK, "allow", "", NULL, "%zu client prefixes allowed",
			   cc->allow_clients.len);
}

/* ---- host: clock, fds, pipes, systemd ------------------------------------------------------ */

static void doctor_host(struct doctor *d)
{
	struct config_common *common = d->gateway ? &d->cfg.gateway.common : &d->cfg.converter.common;
	uint64_t sessions = d->gateway ? (d->cfg.gateway.max_sessions_per_host
						  ? d->cfg.gateway.max_sessions_per_host
						  : 1024)
				       : d->cfg.converter.max_sessions;
	struct timex tx = { .modes = 0 };
	struct rlimit rl = { 0 };
	char value[256], source[64];
	uint64_t limit;
	bool cap;
	int state = adjtimex(&tx);

	doctor_judge_clock(&d->report, time(NULL), state == -1 ? -1 : state != TIME_ERROR,
			   !d->gateway && d->cfg.converter.cookies,
			   d->cfg.converter.cookie_secret.rotate_seconds);

	if (doctor_unit_has(d, "LimitNOFILE", value, sizeof(value))) {
		limit = strtoull(value, NULL, 10);
		snprintf(source, sizeof(source), "LimitNOFILE of %s", d->unit_name);
	} else {
		getrlimit(RLIMIT_NOFILE, &rl);
		limit = rl.rlim_max;
		snprintf(source, sizeof(source), "this shell's hard limit");
	}
	doctor_judge_fds(&d->report, limit, source, sessions);

	cap = doctor_unit_has(d, "AmbientCapabilities", value, sizeof(value))
		      ? strstr(value, "CAP_SYS_RESOURCE") != NULL
		      : geteuid() == 0;
	doctor_judge_pipes(&d->report, common->splice,
			   (uint64_t)read_int("/proc/sys/fs/pipe-user-pages-soft", 0),
			   common->pipe_size, cap, sessions);

	if (d->unit_text[0])
		doctor_judge_tunables(&d->report, d->gateway, d->unit_name,
				      doctor_unit_has(d, "ProtectKernelTunables", value,
						      sizeof(value)) &&
					      doctor_unit_bool(value));
	else
		doctor_add(&d->report, DOCTOR_OK, "systemd", "", NULL, "no %s unit installed",
			   d->unit_name);
}

/* ---- entry --------------------------------------------------------------------------------- */

/* A configuration file that sets a converter address: a gateway's. */
static bool names_converter(const char *path)
{
	char err[CONFIG_ERR_LEN];
	struct config cfg;
	bool yes;

	config_init(&cfg);
	yes = access(path, F_OK) == 0 && config_load_file(&cfg, path, err) == 0 &&
	      cfg.gateway.converters_len > 0;
	config_free(&cfg);
	return yes;
}

static void doctor_usage(FILE *out)
{
	fprintf(out, "usage: mpconvctl [-j] [--role converter|gateway] doctor [--config PATH] "
		     "[--timeout MS]\n");
}

int doctor_main(const char *role, bool json, int argc, char **argv)
{
	static struct doctor d; /* unit text and report: too big for the stack */
	char path_buf[512];
	const char *path = NULL;
	int ret;

	memset(&d, 0, sizeof(d));
	d.timeout_ms = PROBE_TIMEOUT_MS;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			d.timeout_ms = atoi(argv[++i]);
			if (d.timeout_ms <= 0) {
				fprintf(stderr, "mpconvctl: --timeout takes milliseconds > 0\n");
				return 1;
			}
		} else {
			doctor_usage(stderr);
			return 1;
		}
	}
	if (!path) {
		/* the role's file; without --role, the gateway's if it names a converter (the
		 * package installs both examples), else the converter's */
		snprintf(path_buf, sizeof(path_buf), MPCONV_SYSCONFDIR "/mpconv/%s.conf",
			 role ? role : "gateway");
		if (!role && !names_converter(path_buf))
			snprintf(path_buf, sizeof(path_buf),
				 MPCONV_SYSCONFDIR "/mpconv/converter.conf");
		else if (!role)
			role = "gateway";
		path = path_buf;
	}
	d.report.role = role ? role : "converter";
	d.report.config = path;
	ret = doctor_config(&d, role, path);
	if (ret == 0) {
		doctor_load_unit(&d);
		doctor_mptcp(&d);
		if (d.gateway) {
			doctor_links(&d);
			doctor_intercept(&d);
		} else {
			doctor_converter(&d);
		}
		doctor_host(&d);
	}
	if (json)
		doctor_print_json(stdout, &d.report);
	else
		doctor_print_text(stdout, &d.report);
	config_free(&d.cfg);
	return doctor_count(&d.report, DOCTOR_FAIL) ? 1 : 0;
}
