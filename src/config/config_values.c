// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The parsers of configuration values (config_values.h): numbers, durations, sizes, addresses,
 * prefixes, interface names, rules and links, choices. Each reads one value into its key's
 * field and, when it cannot, says so quoting the value. Pure: no file, no socket, no logging.
 */
#include "config_values.h"

#include "units.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool config_fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, CONFIG_ERR_LEN, fmt, ap);
	va_end(ap);
	return false;
}

void *config_field(const void *base, const struct config_key *key)
{
	return (char *)base + key->offset;
}

bool config_set_listen(const struct config_key *key, void *base, const char *value,
			      char *err)
{
	struct config_converter *conv = base;
	struct addr_port ap;

	if (!addr_parse(value, CONFIG_DEFAULT_PORT, &ap))
		return config_fail(err, "%s: not an address:port: '%s'", key->name, value);
	for (size_t i = 0; i < conv->listen_len; i++) {
		if (!memcmp(conv->listen[i].ip, ap.ip, 16) && conv->listen[i].port == ap.port)
			return config_fail(err, "%s: given twice: '%s'", key->name, value);
	}
	if (conv->listen_len == CONFIG_MAX_LISTEN)
		return config_fail(err, "%s: more than %d addresses: '%s'", key->name,
				   CONFIG_MAX_LISTEN, value);
	conv->listen[conv->listen_len++] = ap;
	return true;
}

bool config_set_socks_listen(const struct config_key *key, void *base, const char *value,
				    char *err)
{
	struct config_converter *conv = base;
	struct addr_port ap;

	if (!addr_parse(value, 1080, &ap))
		return config_fail(err, "%s: not an address:port: '%s'", key->name, value);
	if (conv->socks_listen_len == CONFIG_MAX_LISTEN)
		return config_fail(err, "%s: more than %d addresses: '%s'", key->name,
				   CONFIG_MAX_LISTEN, value);
	conv->socks_listen[conv->socks_listen_len++] = ap;
	return true;
}

/* An interface name for nftables (a trailing * is its wildcard). */
static bool config_ifname_ok(const char *value)
{
	size_t len = strlen(value);

	return len > 0 && len < CONFIG_IFNAME_LEN && !strpbrk(value, " /\t\"'");
}

bool config_set_transparent_lan(const struct config_key *key, void *base,
				       const char *value, char *err)
{
	struct config_converter *conv = base;

	if (!config_ifname_ok(value))
		return config_fail(err, "%s: not an interface name: '%s'", key->name, value);
	if (conv->transparent_lan_len == CONFIG_MAX_LAN)
		return config_fail(err, "%s: more than %d interfaces: '%s'", key->name,
				   CONFIG_MAX_LAN, value);
	strcpy(conv->transparent_lan[conv->transparent_lan_len++], value);
	return true;
}

bool config_set_native_port(const struct config_key *key, void *base, const char *value,
			    char *err)
{
	struct config_converter *conv = base;
	char *end;
	unsigned long port;

	errno = 0;
	port = strtoul(value, &end, 10);
	if (errno || end == value || *end || port == 0 || port > 65535 || *value == '-')
		return config_fail(err, "%s: not a port: '%s'", key->name, value);
	if (conv->transparent_native_ports_len == CONFIG_MAX_NATIVE_PORTS)
		return config_fail(err, "%s: more than %d ports: '%s'", key->name,
				   CONFIG_MAX_NATIVE_PORTS, value);
	conv->transparent_native_ports[conv->transparent_native_ports_len++] = (uint16_t)port;
	return true;
}

bool config_set_acl(const struct config_key *key, void *base, const char *value, char *err)
{
	struct acl_prefix prefix;

	if (!acl_parse_prefix(value, &prefix))
		return config_fail(err, "%s: not an address or prefix with zero host bits: '%s'",
				   key->name, value);
	if (acl_add(config_field(base, key), &prefix))
		return config_fail(err, "%s: out of memory: '%s'", key->name, value);
	return true;
}

static_assert(sizeof(unsigned) == sizeof(uint32_t), "workers is stored as a uint32_t");

bool config_set_u32(const struct config_key *key, void *base, const char *value, char *err)
{
	const char *p = value;
	uint64_t n;

	if (!units_parse_digits(&p, &n) || *p || n < key->min || n > key->max)
		return config_fail(err, "%s: not a number in %llu..%llu: '%s'", key->name,
				   (unsigned long long)key->min, (unsigned long long)key->max,
				   value);
	*(uint32_t *)config_field(base, key) = (uint32_t)n;
	return true;
}

bool config_set_int(const struct config_key *key, void *base, const char *value, char *err)
{
	const char *p = value;
	uint64_t n;

	if (!units_parse_digits(&p, &n) || *p || n < key->min || n > key->max)
		return config_fail(err, "%s: not a number in %llu..%llu: '%s'", key->name,
				   (unsigned long long)key->min, (unsigned long long)key->max,
				   value);
	*(int *)config_field(base, key) = (int)n;
	return true;
}

bool config_set_bool(const struct config_key *key, void *base, const char *value, char *err)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
			*(bool *)config_field(base, key) = !strcasecmp(value, yes[i]);
			return true;
		}
	}
	return config_fail(err, "%s: not a boolean (yes|no|true|false|on|off|1|0): '%s'", key->name,
			   value);
}

bool config_set_ms(const struct config_key *key, void *base, const char *value, char *err)
{
	char lo[32], hi[32];
	uint64_t ms;

	if (!units_parse_duration(value, &ms) || ms < key->min || ms > key->max)
		return config_fail(
			err, "%s: not a duration in %s..%s (a number with ms, s, m or h): '%s'",
			key->name, units_fmt_ms(key->min, lo), units_fmt_ms(key->max, hi), value);
	*(uint32_t *)config_field(base, key) = (uint32_t)ms;
	return true;
}

/* The cookie epoch is kept in seconds (cookie.h), so sub-second values are refused, not rounded. */
bool config_set_rotate(const struct config_key *key, void *base, const char *value,
			      char *err)
{
	struct config_converter *conv = base;
	char lo[32], hi[32];
	uint64_t ms;

	if (!units_parse_duration(value, &ms) || ms % SEC || ms < key->min || ms > key->max)
		return config_fail(
			err,
			"%s: not a whole number of seconds in %s..%s (a number with s, m or h): '%s'",
			key->name, units_fmt_ms(key->min, lo), units_fmt_ms(key->max, hi), value);
	conv->cookie_secret.rotate_seconds = (uint32_t)(ms / SEC);
	return true;
}

bool config_set_size(const struct config_key *key, void *base, const char *value, char *err)
{
	char lo[32], hi[32];
	uint64_t bytes;

	if (!units_parse_size(value, &bytes) || bytes < key->min || bytes > key->max)
		return config_fail(
			err, "%s: not a size in %s..%s (bytes, or a number with k or m): '%s'",
			key->name, units_fmt_size(key->min, lo), units_fmt_size(key->max, hi),
			value);
	*(uint32_t *)config_field(base, key) = (uint32_t)bytes;
	return true;
}

/*
 * The one error that does not quote its value: a mistyped secret is usually one character away
 * from the real one, and error messages end up in logs that are not secret.
 */
bool config_set_secret(const struct config_key *key, void *base, const char *value,
			      char *err)
{
	struct config_converter *conv = base;
	uint8_t decoded[COOKIE_SECRET_LEN];
	size_t len = strlen(value), n = 0;
	bool ok = len == 2 * COOKIE_SECRET_LEN &&
		  sodium_hex2bin(decoded, sizeof(decoded), value, len, NULL, &n, NULL) == 0 &&
		  n == sizeof(decoded);

	if (!ok)
		config_fail(err, "%s: not %d hex digits (%zu characters; value not shown)",
			    key->name, 2 * COOKIE_SECRET_LEN, len);
	else if (sodium_is_zero(decoded, sizeof(decoded)))
		ok = config_fail(err, "%s: all zero (value not shown)", key->name);
	else
		memcpy(conv->cookie_secret.key, decoded, sizeof(decoded));
	sodium_memzero(decoded, sizeof(decoded));
	return ok;
}

/* Converter: the CPE table's path; the file is read by config_finish. */
bool config_set_cpe_table(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_converter *conv = base;
	char *copy;

	if (!value[0])
		return config_fail(err, "%s: empty path", key->name);
	copy = strdup(value);
	if (!copy)
		return config_fail(err, "%s: out of memory", key->name);
	free(conv->cpe_table_path);
	conv->cpe_table_path = copy;
	return true;
}

bool config_set_cpe_id(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_gateway *gw = base;

	if (!cpe_id_ok(value, strlen(value)))
		return config_fail(err, "%s: not a CPE id (1..%d of A-Z a-z 0-9 . _ : @ -): '%s'",
				   key->name, CPE_ID_MAX, value);
	strcpy(gw->cpe_id, value);
	return true;
}

/* Like cookie-secret, the value is never quoted. */
bool config_set_cpe_key(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_gateway *gw = base;

	if (!cpe_key_parse(value, strlen(value), gw->cpe_key))
		return config_fail(err, "%s: not %d hex digits, not all zero (value not shown)",
				   key->name, 2 * CPE_KEY_LEN);
	return true;
}

bool config_set_log_level(const struct config_key *key, void *base, const char *value,
				 char *err)
{
	static const char *const names[] = {
		[LOG_LEVEL_ERR] = "error",
		[LOG_LEVEL_WARN] = "warning",
		[LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_DEBUG] = "debug",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(value, names[i])) {
			*(enum log_level *)config_field(base, key) = (enum log_level)i;
			return true;
		}
	}
	return config_fail(err, "%s: not one of error|warning|info|debug: '%s'", key->name, value);
}

/* Gateway: a converter to use, in failover order; port 5124 if omitted. */
bool config_set_converter(const struct config_key *key, void *base, const char *value,
				 char *err)
{
	struct config_gateway *gw = base;
	struct addr_port ap;

	if (!addr_parse(value, CONFIG_DEFAULT_PORT, &ap))
		return config_fail(err, "%s: not an address:port: '%s'", key->name, value);
	if (gw->converters_len == CONFIG_MAX_CONVERTERS)
		return config_fail(err, "%s: more than %d converters: '%s'", key->name,
				   CONFIG_MAX_CONVERTERS, value);
	gw->converters[gw->converters_len++] = ap;
	return true;
}

bool config_set_lan(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_gateway *gw = base;

	if (!config_ifname_ok(value))
		return config_fail(err, "%s: not an interface name: '%s'", key->name, value);
	if (gw->lan_len == CONFIG_MAX_LAN)
		return config_fail(err, "%s: more than %d interfaces: '%s'", key->name,
				   CONFIG_MAX_LAN, value);
	strcpy(gw->lan[gw->lan_len++], value);
	return true;
}

/* Rules are kept as text: they name links, which the gateway resolves when it starts. */
bool config_set_rule(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_gateway *gw = base;
	char *copy;

	if (gw->rules_len == CONFIG_MAX_RULES)
		return config_fail(err, "%s: more than %d rules: '%s'", key->name, CONFIG_MAX_RULES,
				   value);
	copy = strdup(value);
	if (!copy)
		return config_fail(err, "%s: out of memory", key->name);
	gw->rules[gw->rules_len++] = copy;
	return true;
}

/* Links are checked here (line numbers in errors), resolved by the gateway when it starts. */
bool config_set_link(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_gateway *gw = base;
	char why[LINKS_ERR_LEN];

	if (gw->links_len == LINKS_MAX)
		return config_fail(err, "%s: more than %d links: '%s'", key->name, LINKS_MAX, value);
	if (link_conf_parse(value, &gw->links[gw->links_len], why) < 0)
		return config_fail(err, "%s", why);
	for (size_t i = 0; i < gw->links_len; i++) {
		if (!strcmp(gw->links[i].name, gw->links[gw->links_len].name))
			return config_fail(err, "%s: name '%s' given twice", key->name,
					   gw->links[i].name);
	}
	gw->links_len++;
	return true;
}

bool config_set_probe_target(const struct config_key *key, void *base, const char *value,
				    char *err)
{
	struct config_gateway *gw = base;

	if (!addr_parse(value, 0, &gw->probe_target))
		return config_fail(err, "%s: not an address: '%s'", key->name, value);
	gw->has_probe_target = true;
	return true;
}

/* A unix socket path, or none|off to go without. */
bool config_set_control_socket(const struct config_key *key, void *base, const char *value,
				      char *err)
{
	struct config_control *ctl = config_field(base, key);
	size_t len = strlen(value);

	if (!strcasecmp(value, "none") || !strcasecmp(value, "off")) {
		ctl->socket[0] = '\0';
		ctl->socket_set = true;
		return true;
	}
	if (len == 0 || value[0] != '/' || len >= sizeof(ctl->socket))
		return config_fail(err, "%s: not an absolute path shorter than %zu bytes: '%s'",
				   key->name, sizeof(ctl->socket), value);
	memcpy(ctl->socket, value, len + 1);
	ctl->socket_set = true;
	return true;
}

/* [ADDR][:PORT], PORT alone, or yes (loopback:9124); none|off|no turns it off. */
bool config_set_metrics_listen(const struct config_key *key, void *base, const char *value,
				      char *err)
{
	struct config_control *ctl = config_field(base, key);
	const char *port = value[0] == ':' ? value + 1 : value;
	const char *p = port;
	uint64_t n;

	if (!strcasecmp(value, "none") || !strcasecmp(value, "off") || !strcasecmp(value, "no")) {
		ctl->metrics = false;
		return true;
	}
	if (!strcasecmp(value, "yes") || !strcasecmp(value, "on")) {
		addr_parse("127.0.0.1", CONFIG_METRICS_PORT, &ctl->metrics_listen.addr);
		ctl->metrics = true;
		return true;
	}
	if (units_parse_digits(&p, &n) && !*p) {
		if (n == 0 || n > 65535)
			return config_fail(err, "%s: not a port in 1..65535: '%s'", key->name,
					   value);
		addr_parse("127.0.0.1", (int)n, &ctl->metrics_listen.addr);
		ctl->metrics = true;
		return true;
	}
	if (!addr_parse(value, CONFIG_METRICS_PORT, &ctl->metrics_listen.addr) ||
	    ctl->metrics_listen.addr.port == 0)
		return config_fail(err, "%s: not [ADDR][:PORT]: '%s'", key->name, value);
	ctl->metrics = true;
	return true;
}

/*
 * A DNS name (letters, digits, '-', '_', dots between non-empty labels, one final dot allowed
 * and dropped) or an IP address (IPv6 with or without brackets). No port: the endpoint answers
 * on its own port whatever the Host header says about it. No wildcard: a name that matches
 * anything would let DNS rebinding back in.
 */
bool config_set_metrics_host(const struct config_key *key, void *base, const char *value,
				    char *err)
{
	struct config_metrics_listen *m =
		&((struct config_control *)config_field(base, key))->metrics_listen;
	size_t len = strlen(value);
	char name[CONFIG_HOST_LEN];
	uint8_t ip[16];
	bool ok = len > 0 && len < sizeof(name);

	if (ok && value[len - 1] == '.' && !strchr(value, ':'))
		len--;
	if (ok && len > 0) {
		memcpy(name, value, len);
		name[len] = '\0';
	}
	if (ok && len > 2 && name[0] == '[' && name[len - 1] == ']') {
		name[len - 1] = '\0';
		ok = strchr(name, ':') && addr_parse_ip(name + 1, ip);
		name[len - 1] = ']';
	} else if (ok && strchr(value, ':')) {
		ok = addr_parse_ip(name, ip);
	} else if (ok) {
		char prev = '.';

		for (size_t i = 0; ok && i < len; i++) {
			char ch = (char)tolower((unsigned char)name[i]);

			ok = isalnum((unsigned char)ch) || ch == '-' || ch == '_' ||
			     (ch == '.' && prev != '.');
			name[i] = prev = ch;
		}
		ok = ok && len > 0 && prev != '.';
	}
	if (!ok)
		return config_fail(err,
				   "%s: not a host name or IP address (no port, no wildcard): "
				   "'%s'",
				   key->name, value);
	if (m->hosts_len == CONFIG_MAX_HOSTS)
		return config_fail(err, "%s: more than %d names: '%s'", key->name, CONFIG_MAX_HOSTS,
				   value);
	memcpy(m->hosts[m->hosts_len++], name, len + 1);
	return true;
}

/* Every enum a choice key stores into is int-sized (config_set_choice writes an int). */
_Static_assert(sizeof(enum config_gateway_mode) == sizeof(int) &&
		       sizeof(enum config_upstream_protocol) == sizeof(int) &&
		       sizeof(enum pol_action) == sizeof(int),
	       "choice keys store an int");

/* One of key->choices ("a|b|c"), stored as its index. */
bool config_set_choice(const struct config_key *key, void *base, const char *value,
			      char *err)
{
	const char *choice = key->choices;

	for (int i = 0; choice; i++) {
		const char *bar = strchr(choice, '|');
		size_t len = bar ? (size_t)(bar - choice) : strlen(choice);

		if (strlen(value) == len && !strncasecmp(value, choice, len)) {
			*(int *)config_field(base, key) = i;
			return true;
		}
		choice = bar ? bar + 1 : NULL;
	}
	return config_fail(err, "%s: not one of %s: '%s'", key->name, key->choices, value);
}

