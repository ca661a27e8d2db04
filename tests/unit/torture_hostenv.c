// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostenv: what the host gives capture, read from a faked /proc/sys and /sys under a temporary
 * root: IPv6 there or not (no stack, "all" or lo disabled), and a LAN bridge with br_netfilter
 * on (exact names, wildcards, a bridge without br_netfilter, br_netfilter without a bridge).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

/* Creates root + path (and its directories), with text as content; a directory when NULL. */
static void put(const char *path, const char *text)
{
	char full[HOSTENV_PATH_MAX];
	FILE *f;

	snprintf(full, sizeof(full), "%s%s", root, path);
	for (char *p = full + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(full, 0755);
			*p = '/';
		}
	}
	if (!text) {
		mkdir(full, 0755);
		return;
	}
	f = fopen(full, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/torture_hostenv.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void ipv6_is_usable_unless_disabled(void **state)
{
	assert_false(hostenv_ipv6_usable(root)); /* no /proc/sys/net/ipv6: ipv6.disable=1 */
	put("/proc/sys/net/ipv6/conf/all/disable_ipv6", "0\n");
	put("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "0\n");
	assert_true(hostenv_ipv6_usable(root));
	put("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1\n");
	assert_false(hostenv_ipv6_usable(root));
	put("/proc/sys/net/ipv6/conf/all/disable_ipv6", "0\n");
	put("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "1\n");
	assert_false(hostenv_ipv6_usable(root)); /* the local route goes through lo */
}

static void bridge_with_br_netfilter_is_found(void **state)
{
	const char *exact[] = { "lan0", "br-lan" }, *wild[] = { "br*" }, *none[] = { "eth*" };
	char bridge[32] = "";

	put("/sys/class/net/lan0", NULL);
	put("/sys/class/net/br-lan/bridge", NULL);
	/* a bridge, but no br_netfilter */
	assert_false(hostenv_bridge_netfilter(root, exact, 2, bridge, sizeof(bridge)));
	put("/proc/sys/net/bridge/bridge-nf-call-iptables", "0\n");
	put("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0\n");
	assert_false(hostenv_bridge_netfilter(root, exact, 2, bridge, sizeof(bridge)));
	/* either family's switch is enough */
	put("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1\n");
	assert_true(hostenv_bridge_netfilter(root, exact, 2, bridge, sizeof(bridge)));
	assert_string_equal(bridge, "br-lan");
	put("/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
	assert_true(hostenv_bridge_netfilter(root, wild, 1, bridge, sizeof(bridge)));
	assert_string_equal(bridge, "br-lan");
	/* br_netfilter on, but no LAN interface is a bridge */
	assert_false(hostenv_bridge_netfilter(root, exact, 1, bridge, sizeof(bridge)));
	assert_false(hostenv_bridge_netfilter(root, none, 1, bridge, sizeof(bridge)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ipv6_is_usable_unless_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(bridge_with_br_netfilter_is_found, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
