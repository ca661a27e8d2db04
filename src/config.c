// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Daemon configuration: one key table drives the INI parser, the command line and --help, so an
 * option has exactly one name, one parser and one error message, which quotes the bad value.
 * Owns the struct config it fills (ACLs, path); keeps no global state, never logs (errors go to
 * the caller's buffer) and touches no file except the one config_load_file is asked to read.
 * Validation that spans keys lives in config_finish, so the order of keys never matters.
 */
#include "config.h"
#include "units.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_DEFAULT_PORT 5124
#define CONFIG_MAX_FILE	    (1024 * 1024)
#define CONFIG_MAX_LINE	    4096
#define KIB		    1024ULL
#define MIB		    (1024ULL * 1024)
#define SEC		    1000ULL
#define MIN		    (60 * SEC)
#define HOUR		    (60 * MIN)

struct config_key {
	const char *name;
	const char *arg; /* placeholder in --help; NULL for booleans */
	/* Parses one value (one item of a list) into the field; false with err filled in. */
	bool (*set)(const struct config_key *key, void *base, const char *value, char *err);
	size_t offset; /* of the field in struct config_converter */
	uint64_t min, max;
	bool list; /* repeatable, and a value may hold several comma-separated items */
	enum config_section section; /* CONFIG_CONVERTER (0) unless said */
	const char *choices;	     /* config_set_choice: "a|b|c", stored as the index (int) */
	const char *help;
};

static bool config_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool config_fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, CONFIG_ERR_LEN, fmt, ap);
	va_end(ap);
	return false;
}

static void *config_field(void *base, const struct config_key *key)
{
	return (char *)base + key->offset;
}

static bool config_set_listen(const struct config_key *key, void *base, const char *value,
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

static bool config_set_socks_listen(const struct config_key *key, void *base, const char *value,
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

static bool config_set_transparent_lan(const struct config_key *key, void *base,
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

static bool config_set_native_port(const struct config_key *key, void *base, const char *value,
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

static bool config_set_acl(const struct config_key *key, void *base, const char *value, char *err)
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

static bool config_set_u32(const struct config_key *key, void *base, const char *value, char *err)
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

static bool config_set_int(const struct config_key *key, void *base, const char *value, char *err)
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

static bool config_set_bool(const struct config_key *key, void *base, const char *value, char *err)
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

static bool config_set_ms(const struct config_key *key, void *base, const char *value, char *err)
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
static bool config_set_rotate(const struct config_key *key, void *base, const char *value,
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

static bool config_set_size(const struct config_key *key, void *base, const char *value, char *err)
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

static int config_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The one error that does not quote its value: a mistyped secret is usually one character away
 * from the real one, and error messages end up in logs that are not secret.
 */
static bool config_set_secret(const struct config_key *key, void *base, const char *value,
			      char *err)
{
	struct config_converter *conv = base;
	uint8_t decoded[COOKIE_SECRET_LEN];
	size_t len = strlen(value);
	bool ok = len == 2 * COOKIE_SECRET_LEN;

	for (size_t i = 0; ok && i < COOKIE_SECRET_LEN; i++) {
		int hi = config_hex_digit(value[2 * i]), lo = config_hex_digit(value[2 * i + 1]);

		ok = hi >= 0 && lo >= 0;
		if (ok)
			decoded[i] = (uint8_t)(hi << 4 | lo);
	}
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

static bool config_set_log_level(const struct config_key *key, void *base, const char *value,
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
static bool config_set_converter(const struct config_key *key, void *base, const char *value,
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

static bool config_set_lan(const struct config_key *key, void *base, const char *value, char *err)
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
static bool config_set_rule(const struct config_key *key, void *base, const char *value, char *err)
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
static bool config_set_link(const struct config_key *key, void *base, const char *value, char *err)
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

static bool config_set_probe_target(const struct config_key *key, void *base, const char *value,
				    char *err)
{
	struct config_gateway *gw = base;

	if (!addr_parse(value, 0, &gw->probe_target))
		return config_fail(err, "%s: not an address: '%s'", key->name, value);
	gw->has_probe_target = true;
	return true;
}

/* A unix socket path, or none|off to go without. */
static bool config_set_control_socket(const struct config_key *key, void *base, const char *value,
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
static bool config_set_metrics_listen(const struct config_key *key, void *base, const char *value,
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
		addr_parse("127.0.0.1", CONFIG_METRICS_PORT, &ctl->metrics_listen);
		ctl->metrics = true;
		return true;
	}
	if (units_parse_digits(&p, &n) && !*p) {
		if (n == 0 || n > 65535)
			return config_fail(err, "%s: not a port in 1..65535: '%s'", key->name,
					   value);
		addr_parse("127.0.0.1", (int)n, &ctl->metrics_listen);
		ctl->metrics = true;
		return true;
	}
	if (!addr_parse(value, CONFIG_METRICS_PORT, &ctl->metrics_listen) ||
	    ctl->metrics_listen.port == 0)
		return config_fail(err, "%s: not [ADDR][:PORT]: '%s'", key->name, value);
	ctl->metrics = true;
	return true;
}

/* One of key->choices ("a|b|c"), stored as its index. */
static bool config_set_choice(const struct config_key *key, void *base, const char *value,
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

#define FIELD(f) offsetof(struct config_converter, f)

/* Help texts state the defaults that config_init sets; keep the two in step. */
static const struct config_key config_keys[] = {
	{ .name = "listen",
	  .arg = "ADDR[:PORT]",
	  .set = config_set_listen,
	  .list = true,
	  .help = "address to accept clients on, port 5124 if omitted; repeatable "
		  "(default [::]:5124, dual stack)" },
	{ .name = "socks-listen",
	  .arg = "ADDR[:PORT]",
	  .set = config_set_socks_listen,
	  .list = true,
	  .help = "also serve SOCKS 5 (RFC 1928, CONNECT, no authentication) there, port 1080 if "
		  "omitted; repeatable (default none)" },
	{ .name = "transparent-lan",
	  .arg = "IFACE",
	  .set = config_set_transparent_lan,
	  .list = true,
	  .help = "on-path mode: terminate MPTCP connections forwarded through this interface "
		  "(TPROXY) and relay them as TCP; repeatable (default none)" },
	{ .name = "transparent-port",
	  .arg = "PORT",
	  .set = config_set_u32,
	  .offset = FIELD(transparent_port),
	  .min = 1,
	  .max = 65535,
	  .help = "local port of the on-path mode's TPROXY listener (default 5125)" },
	{ .name = "transparent-native",
	  .arg = "PREFIX",
	  .set = config_set_acl,
	  .offset = FIELD(transparent_native),
	  .list = true,
	  .help = "on-path mode: MPTCP to these servers is routed on untouched (native end-to-end "
		  "MPTCP), not terminated; repeatable (default none)" },
	{ .name = "transparent-native-port",
	  .arg = "PORT",
	  .set = config_set_native_port,
	  .list = true,
	  .help = "on-path mode: MPTCP to this destination port is routed on untouched; "
		  "repeatable, up to 16 (default none)" },
	{ .name = "allow",
	  .arg = "PREFIX",
	  .set = config_set_acl,
	  .offset = FIELD(allow_clients),
	  .list = true,
	  .help = "client prefix allowed to use the converter; repeatable (default: nobody)" },
	{ .name = "deny-destination",
	  .arg = "PREFIX",
	  .set = config_set_acl,
	  .offset = FIELD(deny_destinations),
	  .list = true,
	  .help = "destination prefix refused on top of the special addresses "
		  "(loopback, multicast, ...); repeatable" },
	{ .name = "workers",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = FIELD(workers),
	  .max = 256,
	  .help = "worker threads; 0 = one per online CPU (default 0)" },
	{ .name = "tfo",
	  .set = config_set_bool,
	  .offset = FIELD(tfo),
	  .help = "TCP Fast Open on the listener, so SYN data is accepted (default yes)" },
	{ .name = "reply-extended-header",
	  .set = config_set_bool,
	  .offset = FIELD(reply_extended_header),
	  .help = "reply with an Extended TCP Header TLV (default yes)" },
	{ .name = "downstream-mptcp",
	  .set = config_set_bool,
	  .offset = FIELD(downstream_mptcp),
	  .help = "connect to servers with MPTCP, to learn whether they support it (default yes)" },
	{ .name = "cookies",
	  .set = config_set_bool,
	  .offset = FIELD(cookies),
	  .help = "require a Cookie TLV from clients (default no)" },
	{ .name = "cookie-secret",
	  .arg = "HEX",
	  .set = config_set_secret,
	  .help = "64 hex digits keying cookies; put it in the file, not on the command line "
		  "(default random)" },
	{ .name = "cookie-rotate",
	  .arg = "DURATION",
	  .set = config_set_rotate,
	  .min = 1 * SEC,
	  .max = 24 * HOUR,
	  .help = "cookie epoch; a cookie is valid in its epoch and the next (default 1h)" },
	{ .name = "max-sessions",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = FIELD(max_sessions),
	  .min = 1,
	  .max = 1000000,
	  .help = "sessions in the whole daemon (default 10000)" },
	{ .name = "max-sessions-per-client",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = FIELD(max_sessions_per_client),
	  .min = 1,
	  .max = 1000000,
	  .help = "sessions per client address (default 512)" },
	{ .name = "max-pending-per-client",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = FIELD(max_pending_per_client),
	  .min = 1,
	  .max = 1000000,
	  .help = "server connects in flight per client address (default 64)" },
	{ .name = "max-idle-per-client",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = FIELD(max_idle_per_client),
	  .min = 1,
	  .max = 1000000,
	  .help = "connections per client address still waiting for their Convert message "
		  "(default 32)" },
	{ .name = "convert-wait",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = FIELD(convert_wait_ms),
	  .min = 1,
	  .max = 1 * HOUR,
	  .help = "how long a connection may wait for its Convert message (default 60s)" },
	{ .name = "connect-timeout",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = FIELD(connect_timeout_ms),
	  .min = 1,
	  .max = 10 * MIN,
	  .help = "server connect timeout (default 10s)" },
	{ .name = "idle-timeout",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = FIELD(idle_timeout_ms),
	  .max = 168 * HOUR,
	  .help = "close a relayed session after this long without traffic; 0 = never "
		  "(default 10m)" },
	{ .name = "error-grace",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = FIELD(error_grace_ms),
	  .max = 1 * MIN,
	  .help = "after an Error TLV, wait this long for the client to close before a reset "
		  "(default 2s)" },
	{ .name = "drain-timeout",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = FIELD(drain_timeout_ms),
	  .max = 1 * HOUR,
	  .help = "on SIGTERM, wait this long for sessions to end (default 30s)" },
	{ .name = "syn-retries",
	  .arg = "N",
	  .set = config_set_int,
	  .offset = FIELD(syn_retries),
	  .min = 1,
	  .max = 10,
	  .help = "SYN retransmissions towards servers, TCP_SYNCNT (default 3)" },
	{ .name = "socket-buffer",
	  .arg = "SIZE",
	  .set = config_set_size,
	  .offset = FIELD(socket_buffer),
	  .max = 512 * MIB,
	  .help = "SO_RCVBUF and SO_SNDBUF of MPTCP sockets; 0 = kernel autotuning (default 0)" },
	{ .name = "pipe-size",
	  .arg = "SIZE",
	  .set = config_set_size,
	  .offset = FIELD(pipe_size),
	  .min = 4 * KIB,
	  .max = 64 * MIB,
	  .help = "splice pipe size (default 1m)" },
	{ .name = "splice",
	  .set = config_set_bool,
	  .offset = FIELD(splice),
	  .help = "relay with splice; no = copy through a buffer (default yes)" },
	{ .name = "log-level",
	  .arg = "LEVEL",
	  .set = config_set_log_level,
	  .offset = FIELD(log_level),
	  .help = "error, warning, info or debug (default info)" },
	{ .name = "control-socket",
	  .arg = "PATH",
	  .set = config_set_control_socket,
	  .offset = FIELD(control),
	  .help = "unix socket for mpconvctl, mode 0660; none = no socket "
		  "(default /run/mpconv/converter.sock)" },
	{ .name = "metrics-listen",
	  .arg = "ADDR:PORT",
	  .set = config_set_metrics_listen,
	  .offset = FIELD(control),
	  .help = "serve /metrics and the status page over HTTP; a port alone means loopback "
		  "(default off; port 9124)" },
#define GW(f) offsetof(struct config_gateway, f)
	{ .section = CONFIG_GATEWAY,
	  .name = "converter",
	  .arg = "ADDR[:PORT]",
	  .set = config_set_converter,
	  .list = true,
	  .help = "converter for bonded connections, port 5124 if omitted; repeatable, tried in "
		  "order (required)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "lan",
	  .arg = "IFACE",
	  .set = config_set_lan,
	  .list = true,
	  .help = "interface whose TCP is intercepted; repeatable, wlan* style wildcards" },
	{ .section = CONFIG_GATEWAY,
	  .name = "exclude",
	  .arg = "PREFIX",
	  .set = config_set_acl,
	  .offset = GW(exclude),
	  .list = true,
	  .help = "destination never intercepted; repeatable (the converters never are)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "port",
	  .arg = "PORT",
	  .set = config_set_u32,
	  .offset = GW(port),
	  .min = 1,
	  .max = 65535,
	  .help = "local port intercepted connections are diverted to (default 5126)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "mode",
	  .arg = "MODE",
	  .set = config_set_choice,
	  .choices = "pool|tfo|plain",
	  .offset = GW(mode),
	  .help = "upstream: pool (pre-established, default), tfo (request in the SYN) or plain" },
	{ .section = CONFIG_GATEWAY,
	  .name = "pool-min",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = GW(pool_min),
	  .max = 1000,
	  .help = "pre-established connections kept per worker, at least (default 2)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "pool-max",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = GW(pool_max),
	  .min = 1,
	  .max = 1000,
	  .help = "at most, as the connection rate grows (default 32)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "pool-max-idle",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = GW(pool_max_idle_ms),
	  .min = 100,
	  .max = HOUR,
	  .help = "recycle pooled connections unused this long, below the converter's "
		  "convert-wait (default 30s)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "rule",
	  .arg = "RULE",
	  .set = config_set_rule,
	  .help = "policy rule, repeatable, first match wins: bond|direct[:LINK]|block [from P] "
		  "[to P] [port N[-M]] [dscp N] [idle D] [rate R] [name N]" },
	{ .section = CONFIG_GATEWAY,
	  .name = "link",
	  .arg = "LINK",
	  .set = config_set_link,
	  .list = true,
	  .help = "access link, repeatable: NAME dev IF [addr A] [via GW] "
		  "[role primary|secondary|backup] (none: routing decides, no path management)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "path-manager",
	  .arg = "PM",
	  .set = config_set_choice,
	  .choices = "userspace|kernel",
	  .offset = GW(path_manager),
	  .help = "with links: userspace (mpconvd adds subflows per link, default) or kernel "
		  "(endpoints configured by the operator)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "link-table",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = GW(link_table),
	  .min = 256,
	  .max = 0x7fff0000,
	  .help = "link i gets routing table and rule preference N + i (default 5100)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "probe-interval",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = GW(probe_interval_ms),
	  .max = 10 * MIN,
	  .help = "ICMP echo to the converter over each link, 0 = carrier only (default 1s)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "probe-down",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = GW(probe_down),
	  .min = 1,
	  .max = 100,
	  .help = "probes lost in a row before a link counts as dead (default 3)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "probe-up",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = GW(probe_up),
	  .min = 1,
	  .max = 100,
	  .help = "probes answered in a row before a dead link is used again (default 2)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "probe-target",
	  .arg = "ADDR",
	  .set = config_set_probe_target,
	  .help = "address probed over each link (default: the first converter)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "default-action",
	  .arg = "ACTION",
	  .set = config_set_choice,
	  .choices = "bond|direct|block",
	  .offset = GW(default_action),
	  .help = "for connections no rule matches (default bond)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "converter-down",
	  .arg = "WHAT",
	  .set = config_set_choice,
	  .choices = "closed|direct",
	  .offset = GW(converter_down),
	  .help = "no converter reachable: reset bonded connections (closed, default) or go direct" },
	{ .section = CONFIG_GATEWAY,
	  .name = "intercept",
	  .set = config_set_bool,
	  .offset = GW(intercept),
	  .help = "install the nftables interception table and routes (default yes)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "intercept-method",
	  .arg = "METHOD",
	  .set = config_set_choice,
	  .choices = "tproxy|redirect",
	  .offset = GW(intercept_method),
	  .help = "tproxy (default) or redirect (nat + SO_ORIGINAL_DST, without TPROXY)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "upstream-protocol",
	  .arg = "PROTOCOL",
	  .set = config_set_choice,
	  .choices = "convert|socks5|none",
	  .offset = GW(upstream_protocol),
	  .help = "what the gateway speaks to the converter: convert (RFC 8803, default), socks5 "
		  "(RFC 1928 proxies, as mobile operators deploy) or none (on-path: MPTCP straight "
		  "to the server, terminated by a converter on the routing path)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "workers",
	  .arg = "N",
	  .set = config_set_u32,
	  .offset = GW(workers),
	  .max = 256,
	  .help = "worker threads, 0 = one per CPU (default 0)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "connect-timeout",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = GW(connect_timeout_ms),
	  .min = 1,
	  .max = 10 * MIN,
	  .help = "connect to a converter or a direct destination (default 10s)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "reply-timeout",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = GW(reply_timeout_ms),
	  .min = 1,
	  .max = 10 * MIN,
	  .help = "wait for the converter's Convert reply (default 10s)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "early-data-wait",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = GW(early_data_wait_ms),
	  .max = 1000,
	  .help = "pool mode: wait this long for the LAN client's first bytes, sent with the "
		  "Convert message; 0 = never (default 2ms)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "idle-timeout",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = GW(idle_timeout_ms),
	  .max = 168 * HOUR,
	  .help = "close relayed connections idle this long, 0 = never (default 10m)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "drain-timeout",
	  .arg = "DURATION",
	  .set = config_set_ms,
	  .offset = GW(drain_timeout_ms),
	  .max = HOUR,
	  .help = "on SIGTERM, wait this long for connections to end (default 30s)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "socket-buffer",
	  .arg = "SIZE",
	  .set = config_set_size,
	  .offset = GW(socket_buffer),
	  .max = 512 * MIB,
	  .help = "SO_RCVBUF/SO_SNDBUF of MPTCP sockets, 0 = autotuning (default 0)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "pipe-size",
	  .arg = "SIZE",
	  .set = config_set_size,
	  .offset = GW(pipe_size),
	  .min = 4 * KIB,
	  .max = 64 * MIB,
	  .help = "splice pipe size (default 1m)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "splice",
	  .set = config_set_bool,
	  .offset = GW(splice),
	  .help = "relay with splice; no = copy through a buffer (default yes)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "log-level",
	  .arg = "LEVEL",
	  .set = config_set_log_level,
	  .offset = GW(log_level),
	  .help = "error, warning, info or debug (default info)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "control-socket",
	  .arg = "PATH",
	  .set = config_set_control_socket,
	  .offset = GW(control),
	  .help = "unix socket for mpconvctl, mode 0660; none = no socket "
		  "(default /run/mpconv/gateway.sock)" },
	{ .section = CONFIG_GATEWAY,
	  .name = "metrics-listen",
	  .arg = "ADDR:PORT",
	  .set = config_set_metrics_listen,
	  .offset = GW(control),
	  .help = "serve /metrics and the status page over HTTP; a port alone means loopback "
		  "(default off; port 9124)" },
};

static const struct config_key *config_find_key(const char *name, enum config_section section)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (config_keys[i].section == section && !strcmp(config_keys[i].name, name))
			return &config_keys[i];
	}
	return NULL;
}

static void *config_section_base(struct config *cfg, enum config_section section)
{
	return section == CONFIG_GATEWAY ? (void *)&cfg->gateway : (void *)&cfg->converter;
}

static char *config_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

void config_init(struct config *cfg)
{
	*cfg = (struct config){
		.converter =
			{
				.tfo = true,
				.reply_extended_header = true,
				.downstream_mptcp = true,
				.cookie_secret.rotate_seconds = 3600,
				.max_sessions = 10000,
				.transparent_port = 5125,
				.max_sessions_per_client = 512,
				.max_pending_per_client = 64,
				.max_idle_per_client = 32,
				.convert_wait_ms = 60000,
				.connect_timeout_ms = 10000,
				.idle_timeout_ms = 600000,
				.error_grace_ms = 2000,
				.drain_timeout_ms = 30000,
				.syn_retries = 3,
				.socket_buffer = 0, /* autotuning: bonds 0.95 of the links, 4m 0.88 */
				.pipe_size = 1 * MIB,
				.splice = true,
				.log_level = LOG_LEVEL_INFO,
				.control.socket = "/run/mpconv/converter.sock",
			},
		.gateway =
			{
				.port = 5126,
				.mode = CONFIG_MODE_POOL,
				.pool_min = 2,
				.pool_max = 32,
				.pool_max_idle_ms = 30000,
				.link_table = 5100,
				.probe_interval_ms = 1000,
				.probe_down = 3,
				.probe_up = 2,
				.intercept = true,
				.connect_timeout_ms = 10000,
				.reply_timeout_ms = 10000,
				.early_data_wait_ms = 2,
				.idle_timeout_ms = 600000,
				.drain_timeout_ms = 30000,
				.socket_buffer = 0, /* autotuning: bonds 0.95 of the links, 4m 0.88 */
				.pipe_size = 1 * MIB,
				.splice = true,
				.log_level = LOG_LEVEL_INFO,
				.control.socket = "/run/mpconv/gateway.sock",
			},
	};
}

void config_free(struct config *cfg)
{
	acl_free(&cfg->converter.allow_clients);
	acl_free(&cfg->converter.deny_destinations);
	acl_free(&cfg->converter.transparent_native);
	sodium_memzero(&cfg->converter.cookie_secret, sizeof(cfg->converter.cookie_secret));
	acl_free(&cfg->gateway.exclude);
	for (size_t i = 0; i < cfg->gateway.rules_len; i++)
		free(cfg->gateway.rules[i]);
	cfg->gateway.rules_len = 0;
	free(cfg->path);
	cfg->path = NULL;
}

static int config_set_key(struct config *cfg, const struct config_key *key, const char *value,
			  char *err)
{
	char *items, *item, *next;
	int ret = 0;

	if (!key->list)
		return key->set(key, config_section_base(cfg, key->section), value, err) ? 0
											 : -EINVAL;
	/* "allow = 10.0.0.0/8, 192.168.0.0/16" is the same as two allow lines. */
	items = strdup(value);
	if (!items) {
		config_fail(err, "%s: out of memory", key->name);
		return -ENOMEM;
	}
	for (item = items; item; item = next) {
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		if (!key->set(key, config_section_base(cfg, key->section), config_trim(item),
			      err)) {
			ret = -EINVAL;
			break;
		}
	}
	free(items);
	return ret;
}

static int config_set_in(struct config *cfg, enum config_section section, const char *key,
			 const char *value, char err[CONFIG_ERR_LEN])
{
	const struct config_key *k = config_find_key(key, section);

	if (!k) {
		config_fail(err, "unknown key '%s'", key);
		return -EINVAL;
	}
	return config_set_key(cfg, k, value, err);
}

int config_set(struct config *cfg, const char *key, const char *value, char err[CONFIG_ERR_LEN])
{
	return config_set_in(cfg, cfg->role, key, value, err);
}

/* A comment runs from '#' or ';' to the end of the line: no value ever contains either. */
int config_parse_ini(struct config *cfg, const char *text, size_t len, const char *origin,
		     char err[CONFIG_ERR_LEN])
{
	char line[CONFIG_MAX_LINE], why[CONFIG_ERR_LEN];
	bool in_section = false;
	enum config_section section = CONFIG_CONVERTER;
	unsigned lineno = 0;
	size_t pos = 0;
	int ret;

	while (pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		char *s, *eq, *key, *value;

		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n >= sizeof(line)) {
			config_fail(err, "%s:%u: line longer than %d characters", origin, lineno,
				    CONFIG_MAX_LINE - 1);
			return -EINVAL;
		}
		if (memchr(start, '\0', n)) {
			config_fail(err, "%s:%u: NUL byte in line", origin, lineno);
			return -EINVAL;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		line[strcspn(line, "#;")] = '\0';
		s = config_trim(line);
		if (!*s)
			continue;

		if (*s == '[') {
			size_t l = strlen(s);

			if (s[l - 1] != ']') {
				config_fail(err, "%s:%u: not a section header: '%s'", origin,
					    lineno, s);
				return -EINVAL;
			}
			s[l - 1] = '\0';
			s = config_trim(s + 1);
			/* Other sections (the gateway's) are not ours to read yet: an error, so a
			 * misspelt "[convertor]" does not silently drop its keys. */
			if (!strcmp(s, "converter"))
				section = CONFIG_CONVERTER;
			else if (!strcmp(s, "gateway"))
				section = CONFIG_GATEWAY;
			else {
				config_fail(err, "%s:%u: unknown section '[%s]'", origin, lineno,
					    s);
				return -EINVAL;
			}
			in_section = true;
			continue;
		}

		eq = strchr(s, '=');
		if (!eq) {
			config_fail(err, "%s:%u: not 'key = value': '%s'", origin, lineno, s);
			return -EINVAL;
		}
		*eq = '\0';
		key = config_trim(s);
		value = config_trim(eq + 1);
		if (!*key) {
			config_fail(err, "%s:%u: no key before '=': '= %s'", origin, lineno, value);
			return -EINVAL;
		}
		if (!in_section) {
			config_fail(
				err,
				"%s:%u: key '%s' outside a section (start with [converter] or [gateway])",
				origin, lineno, key);
			return -EINVAL;
		}
		ret = config_set_in(cfg, section, key, value, why);
		if (ret) {
			config_fail(err, "%s:%u: %s", origin, lineno, why);
			return ret;
		}
	}
	return 0;
}

int config_load_file(struct config *cfg, const char *path, char err[CONFIG_ERR_LEN])
{
	struct stat st;
	char *text = NULL, *copy = NULL;
	size_t len = 0;
	int fd, ret;

	/* O_NONBLOCK: opening a FIFO must fail the regular-file check below, not hang. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		ret = -errno;
		config_fail(err, "%s: %s", path, strerror(-ret));
		goto out;
	}
	/* fstat on the open fd, so the checks apply to the very file that is read. */
	if (fstat(fd, &st) == -1) {
		ret = -errno;
		config_fail(err, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		config_fail(err, "%s: not a regular file", path);
		goto out;
	}
	/* The file may hold the cookie secret and decides who may use the converter. */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ret = -EPERM;
		config_fail(err,
			    "%s: writable by group or others (mode %04o); run chmod go-w on it",
			    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > CONFIG_MAX_FILE) {
		ret = -EFBIG;
		config_fail(err, "%s: larger than %d bytes", path, CONFIG_MAX_FILE);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		ret = -ENOMEM;
		config_fail(err, "%s: out of memory", path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ret = -errno;
			config_fail(err, "%s: %s", path, strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = config_parse_ini(cfg, text, len, path, err);
	if (ret)
		goto out;
	copy = strdup(path);
	if (!copy) {
		ret = -ENOMEM;
		config_fail(err, "%s: out of memory", path);
		goto out;
	}
	free(cfg->path);
	cfg->path = copy;
out:
	free(text);
	if (fd != -1)
		close(fd);
	return ret;
}

int config_parse_args(struct config *cfg, int argc, char **argv, int *consumed,
		      char err[CONFIG_ERR_LEN])
{
	int i, ret = 0;

	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct config_key *key;
		char buf[64];
		size_t len;

		if (!strcmp(arg, "--")) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (arg[1] != '-') {
			config_fail(err, "unknown option '%s' (options are spelled --key value)",
				    arg);
			ret = -EINVAL;
			break;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if (len >= sizeof(buf)) {
			config_fail(err, "unknown option '%s'", arg);
			ret = -EINVAL;
			break;
		}
		memcpy(buf, name, len);
		buf[len] = '\0';
		key = config_find_key(buf, cfg->role);

		/* --no-KEY for booleans; "--no-tfo=yes" is an unknown option, not a riddle. */
		if (!key && !eq && !strncmp(buf, "no-", 3)) {
			key = config_find_key(buf + 3, cfg->role);
			if (key && key->set == config_set_bool) {
				ret = config_set_key(cfg, key, "no", err);
				if (ret)
					break;
				continue;
			}
			key = NULL;
		}
		if (!key && strcmp(buf, "config")) {
			config_fail(err, "unknown option '--%s'", buf);
			ret = -EINVAL;
			break;
		}
		if (eq)
			value = eq + 1;
		else if (key && key->set == config_set_bool)
			value = "yes";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			config_fail(err, "%s: missing value", buf);
			ret = -EINVAL;
			break;
		}
		ret = key ? config_set_key(cfg, key, value, err)
			  : config_load_file(cfg, value, err);
		if (ret)
			break;
	}
	*consumed = i;
	return ret;
}

/* The gateway's cross-field checks; converters are never intercepted. */
static int config_finish_gateway(struct config_gateway *gw, char err[CONFIG_ERR_LEN])
{
	if (gw->converters_len == 0) {
		config_fail(err, "converter: at least one converter address is required");
		return -EINVAL;
	}
	if (gw->intercept && gw->lan_len == 0) {
		config_fail(err, "lan: at least one LAN interface is required to intercept");
		return -EINVAL;
	}
	if (!gw->has_probe_target) /* the converter itself, as reachable from each link */
		gw->probe_target = gw->converters[0];
	if (gw->pool_min > gw->pool_max) {
		config_fail(err, "pool-min (%u) is larger than pool-max (%u)", gw->pool_min,
			    gw->pool_max);
		return -EINVAL;
	}
	for (size_t i = 0; i < gw->converters_len; i++) {
		struct acl_prefix prefix = { .len = 128 };

		memcpy(prefix.ip, gw->converters[i].ip, 16);
		if (acl_add(&gw->exclude, &prefix) < 0) {
			config_fail(err, "exclude: out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

int config_finish(struct config *cfg, char err[CONFIG_ERR_LEN])
{
	struct config_converter *conv = &cfg->converter;
	int ret;

	if (cfg->role == CONFIG_GATEWAY)
		return config_finish_gateway(&cfg->gateway, err);

	if (conv->listen_len == 0) {
		/* [::] without IPV6_V6ONLY accepts IPv4 clients too. */
		conv->listen[0] = (struct addr_port){ .port = CONFIG_DEFAULT_PORT };
		conv->listen_len = 1;
	}
	/* A per-client limit above the one that contains it can never bind: cap it rather than
	 * refuse, so lowering max-sessions alone (say, to 3 for a test) is a valid config. */
	if (conv->max_sessions_per_client > conv->max_sessions)
		conv->max_sessions_per_client = conv->max_sessions;
	if (conv->max_pending_per_client > conv->max_sessions_per_client)
		conv->max_pending_per_client = conv->max_sessions_per_client;
	if (conv->max_idle_per_client > conv->max_sessions_per_client)
		conv->max_idle_per_client = conv->max_sessions_per_client;
	/* An all-zero key means "not configured": config_set_secret refuses a zero secret. */
	if (sodium_is_zero(conv->cookie_secret.key, sizeof(conv->cookie_secret.key))) {
		ret = cookie_secret_random(&conv->cookie_secret,
					   conv->cookie_secret.rotate_seconds);
		if (ret) {
			config_fail(err, "cookie-secret: no random bytes: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void config_print_help(FILE *out)
{
	config_print_role_help(out, CONFIG_CONVERTER);
}

void config_print_role_help(FILE *out, enum config_section role)
{
	fprintf(out, "options (also \"key = value\" lines in the [%s] section of a file):\n",
		role == CONFIG_GATEWAY ? "gateway" : "converter");
	fprintf(out, "  --%-26s %s\n", "config PATH",
		"read a file at this point; later options override it");
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		const struct config_key *key = &config_keys[i];
		char spelled[64];

		if (key->section != role)
			continue;
		if (key->arg)
			snprintf(spelled, sizeof(spelled), "%s %s", key->name, key->arg);
		else
			snprintf(spelled, sizeof(spelled), "[no-]%s", key->name);
		fprintf(out, "  --%-26s %s\n", spelled, key->help);
	}
	fprintf(out, "durations take ms, s, m or h (60s); sizes take k or m (4m = 4 MiB)\n");
}
