// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the host gives transparent capture (hostenv.h): a few files of /proc/sys and /sys read
 * under a root prefix. It owns nothing, changes nothing and never logs: the gateway decides
 * what to do about what it finds.
 */
#include "hostenv.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The integer in root + path, or fallback when it cannot be read. */
static int hostenv_read_int(const char *root, const char *path, int fallback)
{
	char full[HOSTENV_PATH_MAX];
	FILE *f;
	int value;

	snprintf(full, sizeof(full), "%s%s", root, path);
	f = fopen(full, "re");
	if (!f)
		return fallback;
	if (fscanf(f, "%d", &value) != 1)
		value = fallback;
	fclose(f);
	return value;
}

static bool hostenv_exists(const char *root, const char *path)
{
	char full[HOSTENV_PATH_MAX];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", root, path);
	return stat(full, &st) == 0;
}

bool hostenv_ipv6_usable(const char *root)
{
	if (!hostenv_exists(root, "/proc/sys/net/ipv6"))
		return false; /* ipv6.disable=1, or no IPv6 in the kernel */
	return hostenv_read_int(root, "/proc/sys/net/ipv6/conf/all/disable_ipv6", 0) != 1 &&
	       hostenv_read_int(root, "/proc/sys/net/ipv6/conf/lo/disable_ipv6", 0) != 1;
}

static bool hostenv_is_bridge(const char *root, const char *ifname)
{
	char path[HOSTENV_PATH_MAX];

	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", ifname);
	return hostenv_exists(root, path);
}

/* name matches pattern: equal, or pattern ends with '*' and name starts with what precedes it. */
static bool hostenv_name_matches(const char *pattern, const char *name)
{
	size_t len = strlen(pattern);

	if (len > 0 && pattern[len - 1] == '*')
		return !strncmp(pattern, name, len - 1);
	return !strcmp(pattern, name);
}

static bool hostenv_find_bridge(const char *root, const char *pattern, char *bridge,
				size_t bridge_len)
{
	char path[HOSTENV_PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *dir;

	if (!strchr(pattern, '*')) {
		if (!hostenv_is_bridge(root, pattern))
			return false;
		snprintf(bridge, bridge_len, "%s", pattern);
		return true;
	}
	snprintf(path, sizeof(path), "%s/sys/class/net", root);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] == '.' || !hostenv_name_matches(pattern, e->d_name))
			continue;
		if (hostenv_is_bridge(root, e->d_name)) {
			snprintf(bridge, bridge_len, "%s", e->d_name);
			found = true;
		}
	}
	closedir(dir);
	return found;
}

bool hostenv_bridge_netfilter(const char *root, const char *const *lan, size_t lan_len,
			      char *bridge, size_t bridge_len)
{
	if (hostenv_read_int(root, "/proc/sys/net/bridge/bridge-nf-call-iptables", 0) != 1 &&
	    hostenv_read_int(root, "/proc/sys/net/bridge/bridge-nf-call-ip6tables", 0) != 1)
		return false; /* br_netfilter not loaded, or both off */
	for (size_t i = 0; i < lan_len; i++) {
		if (lan[i] && hostenv_find_bridge(root, lan[i], bridge, bridge_len))
			return true;
	}
	return false;
}
