// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config: every key's happy path and error message (which must quote the bad value), the INI
 * syntax with its line numbers, the command line and its precedence over files, the file
 * permission check, and the defaults config_finish fills in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIB	      (1024u * 1024u)

/* ---- helpers ---- */

static char tmpdir[256]; /* short, so every path built from it fits PATH_MAX */

static int make_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/torture_config.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name with exactly this mode (fchmod ignores the umask). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_int_not_equal(fd, -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void set_ok(struct config *cfg, const char *key, const char *value)
{
	char err[CONFIG_ERR_LEN] = "";

	if (config_set(cfg, key, value, err))
		fail_msg("%s = '%s' refused: %s", key, value, err);
}

static int ini(struct config *cfg, const char *text, char err[CONFIG_ERR_LEN])
{
	return config_parse_ini(cfg, text, strlen(text), "t.ini", err);
}

static int args(struct config *cfg, const char *const *argv, int *consumed,
		char err[CONFIG_ERR_LEN])
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return config_parse_args(cfg, argc, (char **)argv, consumed, err);
}

static bool ip_is(const uint8_t ip[16], const char *text)
{
	uint8_t want[16];

	assert_true(addr_parse_ip(text, want));
	return !memcmp(ip, want, 16);
}

/* ---- every key: values that work ---- */

enum kind { NONE, U32, INT, BOOL, LEVEL };
#define F(field) offsetof(struct config_converter, field)

static const struct {
	const char *key, *value;
	enum kind kind;
	size_t offset;
	uint64_t expected;
} good[] = {
	/* list keys and the secret are checked in detail by their own tests */
	{ "listen", "192.0.2.1:5124", NONE, 0, 0 },
	{ "allow", "10.0.0.0/8", NONE, 0, 0 },
	{ "allow-any", "yes", BOOL, F(allow_any), 1 },
	{ "allow-any", "no", BOOL, F(allow_any), 0 },
	{ "metrics-host", "metrics.example.net", NONE, 0, 0 },
	{ "metrics-host", "192.0.2.7, [2001:db8::7], 2001:db8::8, host_1.lan.", NONE, 0, 0 },
	{ "deny-destination", "2001:db8::/32", NONE, 0, 0 },
	{ "cookie-secret", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", NONE,
	  0, 0 },
	{ "cpe-table", "/etc/mpconv/cpes", NONE, 0, 0 },
	{ "workers", "0", U32, F(common.workers), 0 },
	{ "workers", "8", U32, F(common.workers), 8 },
	{ "workers", "256", U32, F(common.workers), 256 },
	{ "tfo", "no", BOOL, F(tfo), 0 },
	{ "tfo", "off", BOOL, F(tfo), 0 },
	{ "tfo", "false", BOOL, F(tfo), 0 },
	{ "tfo", "0", BOOL, F(tfo), 0 },
	{ "tfo", "NO", BOOL, F(tfo), 0 },
	{ "cookies", "yes", BOOL, F(cookies), 1 },
	{ "cookies", "on", BOOL, F(cookies), 1 },
	{ "cookies", "true", BOOL, F(cookies), 1 },
	{ "cookies", "1", BOOL, F(cookies), 1 },
	{ "cookies", "Yes", BOOL, F(cookies), 1 },
	{ "reply-extended-header", "no", BOOL, F(reply_extended_header), 0 },
	{ "downstream-mptcp", "off", BOOL, F(downstream_mptcp), 0 },
	{ "splice", "false", BOOL, F(common.splice), 0 },
	{ "cookie-rotate", "1s", U32, F(cookie_secret.rotate_seconds), 1 },
	{ "cookie-rotate", "90m", U32, F(cookie_secret.rotate_seconds), 5400 },
	{ "cookie-rotate", "24h", U32, F(cookie_secret.rotate_seconds), 86400 },
	{ "cookie-rotate", "2000ms", U32, F(cookie_secret.rotate_seconds), 2 },
	{ "max-sessions", "1", U32, F(max_sessions), 1 },
	{ "max-sessions", "1000000", U32, F(max_sessions), 1000000 },
	{ "max-sessions-per-client", "100", U32, F(max_sessions_per_client), 100 },
	{ "max-pending-per-client", "10", U32, F(max_pending_per_client), 10 },
	{ "max-idle-per-client", "5", U32, F(max_idle_per_client), 5 },
	{ "max-idle", "100", U32, F(max_idle), 100 },
	{ "client-prefix6", "56", U32, F(client_prefix6), 56 },
	{ "client-prefix6", "128", U32, F(client_prefix6), 128 },
	{ "convert-wait", "60s", U32, F(convert_wait_ms), 60000 },
	{ "convert-wait", "500ms", U32, F(convert_wait_ms), 500 },
	{ "convert-wait", "2m", U32, F(convert_wait_ms), 120000 },
	{ "convert-wait", "1h", U32, F(convert_wait_ms), 3600000 },
	{ "convert-wait", "1ms", U32, F(convert_wait_ms), 1 },
	{ "connect-timeout", "10m", U32, F(common.connect_timeout_ms), 600000 },
	{ "connect-timeout", "250ms", U32, F(common.connect_timeout_ms), 250 },
	{ "idle-timeout", "0", U32, F(common.idle_timeout_ms), 0 },
	{ "idle-timeout", "168h", U32, F(common.idle_timeout_ms), 604800000 },
	{ "error-grace", "0", U32, F(error_grace_ms), 0 },
	{ "error-grace", "1m", U32, F(error_grace_ms), 60000 },
	{ "drain-timeout", "30s", U32, F(common.drain_timeout_ms), 30000 },
	{ "drain-timeout", "0ms", U32, F(common.drain_timeout_ms), 0 },
	{ "syn-retries", "1", INT, F(syn_retries), 1 },
	{ "syn-retries", "10", INT, F(syn_retries), 10 },
	{ "socket-buffer", "0", U32, F(common.socket_buffer), 0 },
	{ "control-socket", "/run/test/c.sock", NONE, 0, 0 },
	{ "socks-listen", "192.0.2.1", NONE, 0, 0 },
	{ "socks-listen", "[::]:1081", NONE, 0, 0 },
	{ "transparent-lan", "acc*", NONE, 0, 0 },
	{ "transparent-port", "5125", U32, F(transparent_port), 5125 },
	{ "transparent-native", "192.0.2.0/24", NONE, 0, 0 },
	{ "transparent-native", "2001:db8::/32", NONE, 0, 0 },
	{ "transparent-native-port", "443", NONE, 0, 0 },
	{ "control-socket", "none", NONE, 0, 0 },
	{ "metrics-listen", "9200", NONE, 0, 0 },
	{ "metrics-listen", "[::1]:9200", NONE, 0, 0 },
	{ "socket-buffer", "65536", U32, F(common.socket_buffer), 65536 },
	{ "socket-buffer", "512k", U32, F(common.socket_buffer), 524288 },
	{ "socket-buffer", "4m", U32, F(common.socket_buffer), 4 * MIB },
	{ "socket-buffer", "512M", U32, F(common.socket_buffer), 512 * MIB },
	{ "pipe-size", "4k", U32, F(common.pipe_size), 4096 },
	{ "pipe-size", "4K", U32, F(common.pipe_size), 4096 },
	{ "pipe-size", "64m", U32, F(common.pipe_size), 64 * MIB },
	{ "log-level", "error", LEVEL, F(common.log_level), LOG_LEVEL_ERR },
	{ "log-level", "warning", LEVEL, F(common.log_level), LOG_LEVEL_WARN },
	{ "log-level", "info", LEVEL, F(common.log_level), LOG_LEVEL_INFO },
	{ "log-level", "debug", LEVEL, F(common.log_level), LOG_LEVEL_DEBUG },
	{ "log-level", "DEBUG", LEVEL, F(common.log_level), LOG_LEVEL_DEBUG },
	/* inbound sessions: checked in detail by torture_config_inbound */
	{ "inbound-listen", "192.0.2.1", NONE, 0, 0 },
	{ "inbound-public", "[::]", NONE, 0, 0 },
	{ "inbound-ports", "20000-20099", NONE, 0, 0 },
	{ "inbound-cpe", "cpe1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	  NONE, 0, 0 },
};

static void every_key_accepts_its_documented_values(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct config cfg;
		const char *field;
		uint64_t got = 0;

		config_init(&cfg);
		if (good[i].kind == BOOL) /* start from the opposite, so the set is visible */
			set_ok(&cfg, good[i].key, good[i].expected ? "no" : "yes");
		set_ok(&cfg, good[i].key, good[i].value);
		field = (const char *)&cfg.converter + good[i].offset;
		switch (good[i].kind) {
		case NONE:
			break;
		case U32:
			got = *(const uint32_t *)field;
			break;
		case INT:
			got = (uint64_t)(*(const int *)field);
			break;
		case BOOL:
			got = *(const bool *)field;
			break;
		case LEVEL:
			got = *(const enum log_level *)field;
			break;
		}
		if (good[i].kind != NONE && got != good[i].expected)
			fail_msg("%s = '%s': got %llu, expected %llu", good[i].key, good[i].value,
				 (unsigned long long)got, (unsigned long long)good[i].expected);
		config_free(&cfg);
	}
}

/* ---- every key: values that fail, with the message the user sees ---- */

static const struct {
	const char *key, *value, *err;
} bad[] = {
	{ "socks-listen", "192.0.2.1:0", "socks-listen: not an address:port: '192.0.2.1:0'" },
	{ "transparent-lan", "has space", "transparent-lan: not an interface name: 'has space'" },
	{ "transparent-port", "0", "transparent-port: not a number in 1..65535: '0'" },
	{ "transparent-native", "192.0.2.1/24",
	  "transparent-native: not an address or prefix with zero host bits: '192.0.2.1/24'" },
	{ "transparent-native-port", "0", "transparent-native-port: not a port: '0'" },
	{ "transparent-native-port", "65536", "transparent-native-port: not a port: '65536'" },
	{ "control-socket", "run/c.sock",
	  "control-socket: not an absolute path shorter than 108 bytes: 'run/c.sock'" },
	{ "metrics-listen", "70000", "metrics-listen: not a port in 1..65535: '70000'" },
	{ "metrics-listen", "10.0.0.300", "metrics-listen: not [ADDR][:PORT]: '10.0.0.300'" },
	{ "allow-any", "everyone",
	  "allow-any: not a boolean (yes|no|true|false|on|off|1|0): 'everyone'" },
	{ "metrics-host", "metrics.example.net:9124",
	  "metrics-host: not a host name or IP address (no port, no wildcard): 'metrics.example.net:9124'" },
	{ "metrics-host", "*.example.net",
	  "metrics-host: not a host name or IP address (no port, no wildcard): '*.example.net'" },
	{ "metrics-host", "a..b",
	  "metrics-host: not a host name or IP address (no port, no wildcard): 'a..b'" },
	{ "metrics-host", ".",
	  "metrics-host: not a host name or IP address (no port, no wildcard): '.'" },
	{ "metrics-host", "",
	  "metrics-host: not a host name or IP address (no port, no wildcard): ''" },
	{ "metrics-host", "[::1",
	  "metrics-host: not a host name or IP address (no port, no wildcard): '[::1'" },
	{ "metrics-host", "[127.0.0.1]",
	  "metrics-host: not a host name or IP address (no port, no wildcard): '[127.0.0.1]'" },
	{ "metrics-host", "[::1]:9124",
	  "metrics-host: not a host name or IP address (no port, no wildcard): '[::1]:9124'" },
	{ "metrics-host", "http://x",
	  "metrics-host: not a host name or IP address (no port, no wildcard): 'http://x'" },
	{ "listen", "10.0.0.300:5124", "listen: not an address:port: '10.0.0.300:5124'" },
	{ "listen", "192.0.2.1:0", "listen: not an address:port: '192.0.2.1:0'" },
	{ "listen", "192.0.2.1:65536", "listen: not an address:port: '192.0.2.1:65536'" },
	{ "listen", "[::1:5124", "listen: not an address:port: '[::1:5124'" },
	{ "listen", "", "listen: not an address:port: ''" },
	{ "allow", "10.0.0.1/8",
	  "allow: not an address or prefix with zero host bits: '10.0.0.1/8'" },
	{ "allow", "10.0.0.0/33",
	  "allow: not an address or prefix with zero host bits: '10.0.0.0/33'" },
	{ "deny-destination", "2001:db8::/129",
	  "deny-destination: not an address or prefix with zero host bits: '2001:db8::/129'" },
	{ "deny-destination", "example.com",
	  "deny-destination: not an address or prefix with zero host bits: 'example.com'" },
	{ "workers", "many", "workers: not a number in 0..256: 'many'" },
	{ "workers", "257", "workers: not a number in 0..256: '257'" },
	{ "workers", "-1", "workers: not a number in 0..256: '-1'" },
	{ "workers", "", "workers: not a number in 0..256: ''" },
	{ "workers", "99999999999999999999999",
	  "workers: not a number in 0..256: '99999999999999999999999'" },
	{ "tfo", "maybe", "tfo: not a boolean (yes|no|true|false|on|off|1|0): 'maybe'" },
	{ "reply-extended-header", "2",
	  "reply-extended-header: not a boolean (yes|no|true|false|on|off|1|0): '2'" },
	{ "downstream-mptcp", "",
	  "downstream-mptcp: not a boolean (yes|no|true|false|on|off|1|0): ''" },
	{ "cookies", "yes please",
	  "cookies: not a boolean (yes|no|true|false|on|off|1|0): 'yes please'" },
	{ "splice", "y", "splice: not a boolean (yes|no|true|false|on|off|1|0): 'y'" },
	{ "cookie-secret", "abc",
	  "cookie-secret: not 64 hex digits (3 characters; value not shown)" },
	{ "cookie-secret", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
	  "cookie-secret: not 64 hex digits (64 characters; value not shown)" },
	{ "cookie-secret", "0000000000000000000000000000000000000000000000000000000000000000",
	  "cookie-secret: all zero (value not shown)" },
	{ "cookie-rotate", "1500ms",
	  "cookie-rotate: not a whole number of seconds in 1s..24h (a number with s, m or h): '1500ms'" },
	{ "cookie-rotate", "0",
	  "cookie-rotate: not a whole number of seconds in 1s..24h (a number with s, m or h): '0'" },
	{ "cookie-rotate", "25h",
	  "cookie-rotate: not a whole number of seconds in 1s..24h (a number with s, m or h): '25h'" },
	{ "cookie-rotate", "3600",
	  "cookie-rotate: not a whole number of seconds in 1s..24h (a number with s, m or h): '3600'" },
	{ "max-sessions", "0", "max-sessions: not a number in 1..1000000: '0'" },
	{ "max-sessions", "1000001", "max-sessions: not a number in 1..1000000: '1000001'" },
	{ "max-sessions", "1e6", "max-sessions: not a number in 1..1000000: '1e6'" },
	{ "max-sessions-per-client", "",
	  "max-sessions-per-client: not a number in 1..1000000: ''" },
	{ "max-pending-per-client", "0x10",
	  "max-pending-per-client: not a number in 1..1000000: '0x10'" },
	{ "max-idle-per-client", " 5", "max-idle-per-client: not a number in 1..1000000: ' 5'" },
	{ "max-idle", "0", "max-idle: not a number in 1..1000000: '0'" },
	{ "client-prefix6", "31", "client-prefix6: not a number in 32..128: '31'" },
	{ "client-prefix6", "/64", "client-prefix6: not a number in 32..128: '/64'" },
	{ "convert-wait", "60",
	  "convert-wait: not a duration in 1ms..1h (a number with ms, s, m or h): '60'" },
	{ "convert-wait", "0",
	  "convert-wait: not a duration in 1ms..1h (a number with ms, s, m or h): '0'" },
	{ "convert-wait", "61m",
	  "convert-wait: not a duration in 1ms..1h (a number with ms, s, m or h): '61m'" },
	{ "convert-wait", "1.5s",
	  "convert-wait: not a duration in 1ms..1h (a number with ms, s, m or h): '1.5s'" },
	{ "convert-wait", "60 s",
	  "convert-wait: not a duration in 1ms..1h (a number with ms, s, m or h): '60 s'" },
	{ "convert-wait", "-1s",
	  "convert-wait: not a duration in 1ms..1h (a number with ms, s, m or h): '-1s'" },
	{ "convert-wait", "5000000000ms",
	  "convert-wait: not a duration in 1ms..1h (a number with ms, s, m or h): '5000000000ms'" },
	{ "connect-timeout", "11m",
	  "connect-timeout: not a duration in 1ms..10m (a number with ms, s, m or h): '11m'" },
	{ "idle-timeout", "169h",
	  "idle-timeout: not a duration in 0..168h (a number with ms, s, m or h): '169h'" },
	{ "idle-timeout", "4294967296s",
	  "idle-timeout: not a duration in 0..168h (a number with ms, s, m or h): '4294967296s'" },
	{ "error-grace", "2 s",
	  "error-grace: not a duration in 0..1m (a number with ms, s, m or h): '2 s'" },
	{ "drain-timeout", "2d",
	  "drain-timeout: not a duration in 0..1h (a number with ms, s, m or h): '2d'" },
	{ "syn-retries", "0", "syn-retries: not a number in 1..10: '0'" },
	{ "syn-retries", "11", "syn-retries: not a number in 1..10: '11'" },
	{ "socket-buffer", "513m",
	  "socket-buffer: not a size in 0..512m (bytes, or a number with k or m): '513m'" },
	{ "socket-buffer", "4g",
	  "socket-buffer: not a size in 0..512m (bytes, or a number with k or m): '4g'" },
	{ "socket-buffer", "4mb",
	  "socket-buffer: not a size in 0..512m (bytes, or a number with k or m): '4mb'" },
	{ "socket-buffer", "4294967296k",
	  "socket-buffer: not a size in 0..512m (bytes, or a number with k or m): '4294967296k'" },
	{ "pipe-size", "4095",
	  "pipe-size: not a size in 4k..64m (bytes, or a number with k or m): '4095'" },
	{ "pipe-size", "65m",
	  "pipe-size: not a size in 4k..64m (bytes, or a number with k or m): '65m'" },
	{ "cpe-table", "", "cpe-table: empty path" },
	{ "log-level", "loud", "log-level: not one of error|warning|info|debug: 'loud'" },
	{ "log-level", "warn", "log-level: not one of error|warning|info|debug: 'warn'" },
	{ "inbound-listen", "nowhere", "inbound-listen: not an address:port: 'nowhere'" },
	{ "inbound-public", "192.0.2.1:80",
	  "inbound-public: not an address (without port): '192.0.2.1:80'" },
	{ "inbound-ports", "10-5", "inbound-ports: not a port range LO-HI in 1..65535: '10-5'" },
	{ "inbound-cpe", "cpe1", "inbound-cpe: not 'NAME KEY [LO-HI]' (value not shown)" },
};

static void every_key_error_quotes_the_bad_value(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN] = "";

		config_init(&cfg);
		if (config_set(&cfg, bad[i].key, bad[i].value, err) != -EINVAL)
			fail_msg("%s = '%s' accepted", bad[i].key, bad[i].value);
		if (strcmp(err, bad[i].err))
			fail_msg("%s = '%s':\n  got      %s\n  expected %s", bad[i].key,
				 bad[i].value, err, bad[i].err);
		config_free(&cfg);
	}
}

/* The tables above must grow with the key table: every key --help lists is in both. */
static void every_key_in_help_has_good_and_bad_vectors(void **state)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0, keys = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	config_print_help(out);
	fclose(out);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		bool in_good = false, in_bad = false;

		if (sscanf(line, "  --%63s", name) != 1 || !strcmp(name, "config"))
			continue;
		if (!strncmp(name, "[no-]", 5))
			memmove(name, name + 5, strlen(name + 5) + 1);
		keys++;
		for (size_t i = 0; i < ARRAY_SIZE(good); i++)
			in_good |= !strcmp(good[i].key, name);
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
			in_bad |= !strcmp(bad[i].key, name);
		if (!in_good || !in_bad)
			fail_msg("key '%s' lacks %s vectors", name, in_good ? "bad" : "good");
	}
	assert_int_equal(keys, 40);
	free(text);
}

static void unknown_key_is_refused_by_name(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	config_init(&cfg);
	assert_int_equal(config_set(&cfg, "lisen", "[::]:5124", err), -EINVAL);
	assert_string_equal(err, "unknown key 'lisen'");
	assert_int_equal(config_set(&cfg, "config", "/etc/passwd", err), -EINVAL);
	assert_string_equal(err, "unknown key 'config'");
	config_free(&cfg);
}

static void secret_error_never_shows_the_secret(void **state)
{
	const char *almost = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	config_init(&cfg);
	assert_int_equal(config_set(&cfg, "cookie-secret", almost, err), -EINVAL);
	assert_null(strstr(err, "0123456789"));
	assert_string_equal(err,
			    "cookie-secret: not 64 hex digits (63 characters; value not shown)");
	config_free(&cfg);
}

static void configured_secret_is_decoded_and_kept_by_finish(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	config_init(&cfg);
	set_ok(&cfg, "cookie-secret",
	       "000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f");
	assert_int_equal(config_finish(&cfg, err), 0);
	for (unsigned i = 0; i < COOKIE_SECRET_LEN; i++)
		assert_int_equal(cfg.converter.cookie_secret.key[i], i);
	config_free(&cfg);
}

static void refused_secret_leaves_the_old_one(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	config_init(&cfg);
	set_ok(&cfg, "cookie-secret",
	       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	assert_int_equal(
		config_set(&cfg, "cookie-secret",
			   "00000000000000000000000000000000000000000000000000000000000000zz", err),
		-EINVAL);
	for (unsigned i = 0; i < COOKIE_SECRET_LEN; i++)
		assert_int_equal(cfg.converter.cookie_secret.key[i], 0xff);
	config_free(&cfg);
}

/* ---- list keys ---- */

static void listen_appends_and_takes_comma_lists(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	config_init(&cfg);
	set_ok(&cfg, "listen", "192.0.2.1:5124");
	set_ok(&cfg, "listen", "[2001:db8::1]:443 , 198.51.100.1");
	assert_int_equal(cfg.converter.listen_len, 3);
	assert_true(ip_is(cfg.converter.listen[1].ip, "2001:db8::1"));
	assert_int_equal(cfg.converter.listen[1].port, 443);
	assert_true(ip_is(cfg.converter.listen[2].ip, "198.51.100.1"));
	assert_int_equal(cfg.converter.listen[2].port, 5124); /* default port */

	assert_int_equal(config_set(&cfg, "listen", "[::ffff:192.0.2.1]:5124", err), -EINVAL);
	assert_string_equal(err, "listen: given twice: '[::ffff:192.0.2.1]:5124'");
	assert_int_equal(config_set(&cfg, "listen", "192.0.2.9:1, 10.0.0.256:2", err), -EINVAL);
	assert_string_equal(err, "listen: not an address:port: '10.0.0.256:2'");
	assert_int_equal(config_set(&cfg, "listen", "192.0.2.10:1,", err), -EINVAL);
	assert_string_equal(err, "listen: not an address:port: ''");
	config_free(&cfg);
}

static void listen_refuses_more_than_its_table(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN], text[32];

	config_init(&cfg);
	for (unsigned i = 1; i <= CONFIG_MAX_LISTEN; i++) {
		snprintf(text, sizeof(text), "192.0.2.1:%u", i);
		set_ok(&cfg, "listen", text);
	}
	assert_int_equal(config_set(&cfg, "listen", "192.0.2.1:99", err), -EINVAL);
	assert_string_equal(err, "listen: more than 16 addresses: '192.0.2.1:99'");
	config_free(&cfg);
}

static void allow_and_deny_lists_append(void **state)
{
	struct config cfg;
	uint8_t ip[16];

	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8, 192.168.0.0/16");
	set_ok(&cfg, "allow", "2001:db8::/32");
	set_ok(&cfg, "deny-destination", "198.18.0.0/15");
	assert_int_equal(cfg.converter.allow_clients.len, 3);
	assert_int_equal(cfg.converter.deny_destinations.len, 1);
	assert_true(addr_parse_ip("192.168.7.7", ip));
	assert_true(acl_contains(&cfg.converter.allow_clients, ip));
	assert_false(acl_contains(&cfg.converter.deny_destinations, ip));
	assert_true(addr_parse_ip("198.19.255.255", ip));
	assert_true(acl_contains(&cfg.converter.deny_destinations, ip));
	config_free(&cfg);
}

static void later_scalar_value_wins(void **state)
{
	struct config cfg;

	config_init(&cfg);
	set_ok(&cfg, "workers", "4");
	set_ok(&cfg, "workers", "2");
	assert_int_equal(cfg.converter.common.workers, 2);
	config_free(&cfg);
}

/* ---- INI ---- */

static void ini_with_comments_blank_lines_and_spacing_parses(void **state)
{
	const char *text = "# mpconv converter\n"
			   "; the other comment style\n"
			   "\n"
			   "[converter]\n"
			   "listen = 192.0.2.1:5124      # inline comment\n"
			   "listen = [2001:db8::1]:5124\n"
			   "allow = 10.0.0.0/8, 192.168.0.0/16 ; two at once\n"
			   "allow = 2001:db8::/32\n"
			   "deny-destination = 198.18.0.0/15\n"
			   "\tworkers=4\n"
			   "   tfo   =   no   \n"
			   "convert-wait = 30s\r\n"
			   "socket-buffer = 8m\n"
			   "log-level = debug\n"
			   "  [ converter ]  \n"
			   "cookies = yes"; /* no final newline */
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";

	config_init(&cfg);
	if (ini(&cfg, text, err))
		fail_msg("%s", err);
	assert_int_equal(cfg.converter.listen_len, 2);
	assert_int_equal(cfg.converter.allow_clients.len, 3);
	assert_int_equal(cfg.converter.deny_destinations.len, 1);
	assert_int_equal(cfg.converter.common.workers, 4);
	assert_false(cfg.converter.tfo);
	assert_int_equal(cfg.converter.convert_wait_ms, 30000);
	assert_int_equal(cfg.converter.common.socket_buffer, 8 * MIB);
	assert_int_equal(cfg.converter.common.log_level, LOG_LEVEL_DEBUG);
	assert_true(cfg.converter.cookies);
	config_free(&cfg);
}

static void ini_empty_or_comment_only_is_fine(void **state)
{
	static const char *const texts[] = { "", "\n\n", "# nothing\n; here\n", "[converter]\n" };
	char err[CONFIG_ERR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		struct config cfg;

		config_init(&cfg);
		assert_int_equal(ini(&cfg, texts[i], err), 0);
		config_free(&cfg);
	}
}

static void ini_errors_name_origin_and_line(void **state)
{
	static const struct {
		const char *text, *err;
	} vectors[] = {
		{ "listen = 192.0.2.1:5124\n",
		  "t.ini:1: key 'listen' outside a section (start with [converter] or [gateway])" },
		{ "# gateway\n[gatewy]\n", "t.ini:2: unknown section '[gatewy]'" },
		{ "[convertor]\n", "t.ini:1: unknown section '[convertor]'" },
		{ "[]\n", "t.ini:1: unknown section '[]'" },
		{ "[converter\n", "t.ini:1: not a section header: '[converter'" },
		{ "[converter]\nworkers\n", "t.ini:2: not 'key = value': 'workers'" },
		{ "[converter]\n= 4\n", "t.ini:2: no key before '=': '= 4'" },
		{ "[converter]\n\n# c\nworkers = many\n",
		  "t.ini:4: workers: not a number in 0..256: 'many'" },
		{ "[converter]\nworkers =\n", "t.ini:2: workers: not a number in 0..256: ''" },
		{ "[converter]\nlisten = 10.0.0.300:5124\n",
		  "t.ini:2: listen: not an address:port: '10.0.0.300:5124'" },
		{ "[converter]\nworkers = 4 # four\nworkers = 1000\n",
		  "t.ini:3: workers: not a number in 0..256: '1000'" },
		{ "[converter]\nallow = 10.0.0.0/8, 10.0.0.1/8\n",
		  "t.ini:2: allow: not an address or prefix with zero host bits: '10.0.0.1/8'" },
		{ "[converter]\r\nlisen = x\r\n", "t.ini:2: unknown key 'lisen'" },
		{ "[converter]\nWorkers = 4\n", "t.ini:2: unknown key 'Workers'" },
		{ "[converter]\nmax_sessions = 4\n", "t.ini:2: unknown key 'max_sessions'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN] = "";

		config_init(&cfg);
		assert_int_equal(ini(&cfg, vectors[i].text, err), -EINVAL);
		if (strcmp(err, vectors[i].err))
			fail_msg("vector %zu:\n  got      %s\n  expected %s", i, err,
				 vectors[i].err);
		config_free(&cfg);
	}
}

static void ini_unknown_key_reports_its_line_number(void **state)
{
	const char *text = "# line 1\n"
			   "[converter]\n"
			   "listen = [::]:5124\n"
			   "\n"
			   "; line 5\n"
			   "workers = 2\n"
			   "tfo = yes\n"
			   "\n"
			   "\n"
			   "cookies = no\n"
			   "# line 11\n"
			   "lisen = [::]:5125\n";
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	config_init(&cfg);
	assert_int_equal(config_parse_ini(&cfg, text, strlen(text), "config.ini", err), -EINVAL);
	assert_string_equal(err, "config.ini:12: unknown key 'lisen'");
	config_free(&cfg);
}

static void ini_nul_byte_and_overlong_line_are_refused(void **state)
{
	static const char nul[] = "[converter]\nwork\0ers = 1\n";
	struct config cfg;
	char err[CONFIG_ERR_LEN], *text;

	config_init(&cfg);
	assert_int_equal(config_parse_ini(&cfg, nul, sizeof(nul) - 1, "t.ini", err), -EINVAL);
	assert_string_equal(err, "t.ini:2: NUL byte in line");

	text = malloc(5000 + 32);
	assert_non_null(text);
	strcpy(text, "[converter]\nallow = ");
	memset(text + strlen(text), '1', 5000);
	text[20 + 5000] = '\0';
	assert_int_equal(ini(&cfg, text, err), -EINVAL);
	assert_string_equal(err, "t.ini:2: line longer than 4095 characters");
	free(text);
	config_free(&cfg);
}

/* ---- command line ---- */

static void args_take_every_spelling(void **state)
{
	const char *argv[] = { "--workers",
			       "4",
			       "--listen=192.0.2.1:80",
			       "--no-tfo",
			       "--cookies",
			       "--splice=off",
			       "--convert-wait=5s",
			       "--log-level",
			       "debug",
			       NULL };
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";
	int consumed = -1;

	config_init(&cfg);
	if (args(&cfg, argv, &consumed, err))
		fail_msg("%s", err);
	assert_int_equal(consumed, 9);
	assert_int_equal(cfg.converter.common.workers, 4);
	assert_int_equal(cfg.converter.listen_len, 1);
	assert_int_equal(cfg.converter.listen[0].port, 80);
	assert_false(cfg.converter.tfo);
	assert_true(cfg.converter.cookies);
	assert_false(cfg.converter.common.splice);
	assert_int_equal(cfg.converter.convert_wait_ms, 5000);
	assert_int_equal(cfg.converter.common.log_level, LOG_LEVEL_DEBUG);
	config_free(&cfg);
}

static void args_boolean_takes_every_explicit_value(void **state)
{
	static const struct {
		const char *arg;
		bool tfo;
	} vectors[] = {
		{ "--tfo", true },     { "--no-tfo", false },  { "--tfo=yes", true },
		{ "--tfo=no", false }, { "--tfo=true", true }, { "--tfo=false", false },
		{ "--tfo=on", true },  { "--tfo=off", false }, { "--tfo=1", true },
		{ "--tfo=0", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const char *argv[] = { vectors[i].arg, NULL };
		struct config cfg;
		char err[CONFIG_ERR_LEN];
		int consumed;

		config_init(&cfg);
		cfg.converter.tfo = !vectors[i].tfo;
		assert_int_equal(args(&cfg, argv, &consumed, err), 0);
		assert_int_equal(consumed, 1);
		if (cfg.converter.tfo != vectors[i].tfo)
			fail_msg("%s: tfo=%d", vectors[i].arg, cfg.converter.tfo);
		config_free(&cfg);
	}
}

static void args_stop_at_the_first_non_option(void **state)
{
	static const struct {
		const char *argv[6];
		int consumed;
	} vectors[] = {
		{ { "--workers", "2", "run", "--no-tfo", NULL }, 2 },
		{ { "--workers", "2", "--", "--no-tfo", NULL }, 3 },
		{ { "-", "--no-tfo", NULL }, 0 },
		{ { "--splice", "no", NULL }, 1 }, /* a boolean never takes the next argument */
		{ { NULL }, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN];
		int consumed = -1;

		config_init(&cfg);
		assert_int_equal(args(&cfg, vectors[i].argv, &consumed, err), 0);
		assert_int_equal(consumed, vectors[i].consumed);
		assert_true(cfg.converter.tfo);
		config_free(&cfg);
	}
}

static void args_errors_quote_the_option_or_value(void **state)
{
	static const struct {
		const char *argv[4];
		const char *err;
	} vectors[] = {
		{ { "--lisen", "x", NULL }, "unknown option '--lisen'" },
		{ { "-v", NULL }, "unknown option '-v' (options are spelled --key value)" },
		{ { "--no-workers", NULL }, "unknown option '--no-workers'" },
		{ { "--no-tfo=yes", NULL }, "unknown option '--no-tfo'" },
		{ { "--=4", NULL }, "unknown option '--'" },
		{ { "--workers", NULL }, "workers: missing value" },
		{ { "--config", NULL }, "config: missing value" },
		{ { "--workers", "many", NULL }, "workers: not a number in 0..256: 'many'" },
		{ { "--workers=many", NULL }, "workers: not a number in 0..256: 'many'" },
		{ { "--workers=", NULL }, "workers: not a number in 0..256: ''" },
		{ { "--tfo=maybe", NULL },
		  "tfo: not a boolean (yes|no|true|false|on|off|1|0): 'maybe'" },
		{ { "--listen", "10.0.0.300:5124", NULL },
		  "listen: not an address:port: '10.0.0.300:5124'" },
		{ { "--config", "/nonexistent/mpconv.ini", NULL },
		  "/nonexistent/mpconv.ini: No such file or directory" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN] = "";
		int consumed;

		config_init(&cfg);
		assert_int_not_equal(args(&cfg, vectors[i].argv, &consumed, err), 0);
		if (strcmp(err, vectors[i].err))
			fail_msg("%s:\n  got      %s\n  expected %s", vectors[i].argv[0], err,
				 vectors[i].err);
		config_free(&cfg);
	}
}

static void flags_after_config_override_the_file(void **state)
{
	const char *path =
		write_file("override.ini",
			   "[converter]\nworkers = 4\ntfo = no\nlisten = 192.0.2.1:5124\n", 0600);
	char saved[PATH_MAX], err[CONFIG_ERR_LEN] = "";
	struct config cfg;
	int consumed;

	snprintf(saved, sizeof(saved), "%s", path);
	{
		const char *argv[] = { "--workers", "2", "--config", saved, NULL };

		config_init(&cfg);
		if (args(&cfg, argv, &consumed, err))
			fail_msg("%s", err);
		assert_int_equal(consumed, 4);
		assert_int_equal(cfg.converter.common.workers, 4); /* the file came later */
		assert_false(cfg.converter.tfo);
		assert_string_equal(cfg.path, saved);
		config_free(&cfg);
	}
	{
		const char *argv[] = { "--config", saved,      "--workers",  "2",
				       "--tfo",	   "--listen", "[::1]:5124", NULL };

		config_init(&cfg);
		if (args(&cfg, argv, &consumed, err))
			fail_msg("%s", err);
		assert_int_equal(cfg.converter.common.workers, 2);
		assert_true(cfg.converter.tfo);
		assert_int_equal(cfg.converter.listen_len, 2); /* lists append */
		config_free(&cfg);
	}
	{
		char arg[PATH_MAX + 16];
		const char *argv[] = { arg, NULL };

		snprintf(arg, sizeof(arg), "--config=%s", saved);
		config_init(&cfg);
		assert_int_equal(args(&cfg, argv, &consumed, err), 0);
		assert_int_equal(cfg.converter.common.workers, 4);
		config_free(&cfg);
	}
}

/* ---- metrics-host ---- */

static void metrics_host_keeps_names_in_lower_case_without_the_final_dot(void **state)
{
	struct config cfg;
	const struct config_metrics_listen *m = &cfg.converter.common.control.metrics_listen;
	char err[CONFIG_ERR_LEN] = "";

	config_init(&cfg);
	set_ok(&cfg, "metrics-host", "Metrics.Example.NET., [2001:DB8::7]");
	set_ok(&cfg, "metrics-host", "192.0.2.7");
	set_ok(&cfg, "metrics-listen", "192.0.2.1:9200"); /* the address does not touch the names */
	assert_int_equal(m->hosts_len, 3);
	assert_string_equal(m->hosts[0], "metrics.example.net");
	assert_string_equal(m->hosts[1], "[2001:DB8::7]");
	assert_string_equal(m->hosts[2], "192.0.2.7");
	assert_int_equal(m->addr.port, 9200);
	for (int i = 3; i < CONFIG_MAX_HOSTS; i++)
		set_ok(&cfg, "metrics-host", "example.org");
	assert_int_equal(config_set(&cfg, "metrics-host", "one.too.many", err), -EINVAL);
	assert_string_equal(err, "metrics-host: more than 8 names: 'one.too.many'");
	config_free(&cfg);

	/* The gateway has its own. */
	config_init(&cfg);
	cfg.role = CONFIG_GATEWAY;
	set_ok(&cfg, "metrics-host", "gw.lan");
	assert_int_equal(cfg.gateway.common.control.metrics_listen.hosts_len, 1);
	assert_string_equal(cfg.gateway.common.control.metrics_listen.hosts[0], "gw.lan");
	assert_int_equal(m->hosts_len, 0);
	config_free(&cfg);
}

/* ---- allow-any: an open converter is said twice ---- */

static void an_allow_list_open_to_everyone_needs_allow_any(void **state)
{
	static const struct {
		const char *allow;
		const char *err; /* without allow-any; NULL: accepted */
	} vectors[] = {
		{ "0.0.0.0/0",
		  "allow: 0.0.0.0/0 admits every IPv4 address on the Internet; set "
		  "allow-any = yes (--allow-any) if the converter is really meant to be "
		  "open" },
		{ "::/0", "allow: ::/0 admits every address on the Internet; set allow-any = yes "
			  "(--allow-any) if the converter is really meant to be open" },
		{ "::ffff:0:0/96",
		  "allow: 0.0.0.0/0 admits every IPv4 address on the Internet; set "
		  "allow-any = yes (--allow-any) if the converter is really meant to "
		  "be open" },
		{ "10.0.0.0/8, 192.0.2.0/24, ::/0", "allow: ::/0 admits every address on the "
						    "Internet; set allow-any = yes (--allow-any) "
						    "if the converter is really meant to be open" },
		{ "0.0.0.0/1", NULL },
		{ "128.0.0.0/1, 2000::/3", NULL },
		{ "10.0.0.0/8", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN] = "";
		int ret;

		config_init(&cfg);
		set_ok(&cfg, "allow", vectors[i].allow);
		ret = config_finish(&cfg, err);
		if (!vectors[i].err && ret)
			fail_msg("allow = %s refused: %s", vectors[i].allow, err);
		if (vectors[i].err) {
			assert_int_equal(ret, -EINVAL);
			assert_string_equal(err, vectors[i].err);
		}
		config_free(&cfg);

		/* Said twice, it stands, in either order. */
		config_init(&cfg);
		set_ok(&cfg, "allow-any", "yes");
		set_ok(&cfg, "allow", vectors[i].allow);
		if (config_finish(&cfg, err))
			fail_msg("allow = %s with allow-any refused: %s", vectors[i].allow, err);
		config_free(&cfg);
	}
}

static void allow_any_in_a_file_or_as_a_flag(void **state)
{
	const char *open_file = write_file("open.ini", "[converter]\nallow = ::/0\n", 0600);
	const char *with_flag[] = { "--config", open_file, "--allow-any", NULL };
	const char *without[] = { "--config", open_file, NULL };
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";
	int consumed;

	config_init(&cfg);
	assert_int_equal(args(&cfg, with_flag, &consumed, err), 0);
	assert_int_equal(config_finish(&cfg, err), 0);
	config_free(&cfg);
	config_init(&cfg);
	assert_int_equal(args(&cfg, without, &consumed, err), 0);
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_non_null(strstr(err, "allow: ::/0 admits every address"));
	config_free(&cfg);
	config_init(&cfg);
	write_file("open.ini", "[converter]\nallow = ::/0\nallow-any = yes\n", 0600);
	assert_int_equal(args(&cfg, without, &consumed, err), 0);
	assert_int_equal(config_finish(&cfg, err), 0);
	config_free(&cfg);
}

/* ---- files ---- */

static void config_file_writable_by_others_is_refused(void **state)
{
	static const struct {
		mode_t mode;
		bool accepted;
	} vectors[] = {
		{ 0666, false }, { 0664, false }, { 0646, false }, { 0620, false }, { 0602, false },
		{ 0644, true },	 { 0640, true },  { 0600, true },  { 0400, true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const char *path =
			write_file("mode.ini", "[converter]\nworkers = 3\n", vectors[i].mode);
		char expected[PATH_MAX + 128], err[CONFIG_ERR_LEN] = "";
		struct config cfg;
		int ret;

		config_init(&cfg);
		ret = config_load_file(&cfg, path, err);
		if (vectors[i].accepted) {
			if (ret)
				fail_msg("mode %04o refused: %s", (unsigned)vectors[i].mode, err);
			assert_int_equal(cfg.converter.common.workers, 3);
			assert_string_equal(cfg.path, path);
		} else {
			assert_int_equal(ret, -EPERM);
			snprintf(
				expected, sizeof(expected),
				"%s: writable by group or others (mode %04o); run chmod go-w on it",
				path, (unsigned)vectors[i].mode);
			assert_string_equal(err, expected);
			assert_int_equal(cfg.converter.common.workers, 0);
			assert_null(cfg.path);
		}
		config_free(&cfg);
	}
}

/* Makes tmpdir/name a fresh directory with exactly mode; returns its path. */
static const char *make_dir(const char *name, mode_t mode)
{
	static char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	rmdir(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, mode), 0);
	return dir;
}

/* Writes a valid config into dir/c.ini, mode 0600; returns its path. */
static const char *write_in(const char *dir, const char *name)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_int_not_equal(fd, -1);
	assert_int_equal(write(fd, "[converter]\nworkers = 3\n", 24), 24);
	close(fd);
	return path;
}

static void config_file_in_a_directory_others_can_write_is_refused(void **state)
{
	static const struct {
		mode_t mode;
		bool accepted;
	} vectors[] = {
		{ 0777, false }, { 01777, false }, /* sticky, as /tmp: still refused */
		{ 0775, false }, { 0757, false },  { 0730, false }, { 01770, false },
		{ 0755, true },	 { 0750, true },   { 0700, true },  { 0711, true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		char dir[PATH_MAX], expected[2 * PATH_MAX + 256], err[CONFIG_ERR_LEN] = "";
		const char *path;
		struct config cfg;
		int ret;

		snprintf(dir, sizeof(dir), "%s", make_dir("d", vectors[i].mode));
		path = write_in(dir, "c.ini");
		config_init(&cfg);
		ret = config_load_file(&cfg, path, err);
		if (vectors[i].accepted) {
			if (ret)
				fail_msg("directory mode %04o refused: %s",
					 (unsigned)vectors[i].mode, err);
			assert_int_equal(cfg.converter.common.workers, 3);
		} else {
			assert_int_equal(ret, -EPERM);
			snprintf(
				expected, sizeof(expected),
				"%s: its directory %s is writable by group or others (mode %04o): "
				"they could replace the file; move it to a directory only root can "
				"write, such as /etc/mpconv",
				path, dir, (unsigned)vectors[i].mode);
			assert_string_equal(err, expected);
			assert_int_equal(cfg.converter.common.workers, 0);
			assert_null(cfg.path);
		}
		config_free(&cfg);
		unlink(path);
		rmdir(dir);
	}
}

/* A link from a safe directory to a file in an unsafe one: the file's real directory counts. */
static void config_file_behind_a_symlink_is_judged_by_its_real_directory(void **state)
{
	char dir[PATH_MAX], target[PATH_MAX], link[PATH_MAX], err[CONFIG_ERR_LEN] = "";
	struct config cfg;

	snprintf(dir, sizeof(dir), "%s", make_dir("open", 01777));
	snprintf(target, sizeof(target), "%s", write_in(dir, "real.ini"));
	snprintf(link, sizeof(link), "%s/link.ini", tmpdir);
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, link, err), -EPERM);
	assert_non_null(strstr(err, link));
	assert_non_null(strstr(err, "its directory"));
	assert_non_null(strstr(err, "/open is writable by group or others (mode 1777)"));
	config_free(&cfg);

	/* The same link to a file in a safe directory is fine. */
	assert_int_equal(chmod(dir, 0755), 0);
	config_init(&cfg);
	if (config_load_file(&cfg, link, err))
		fail_msg("%s", err);
	assert_int_equal(cfg.converter.common.workers, 3);
	config_free(&cfg);
	unlink(link);
	unlink(target);
	rmdir(dir);
}

/* Changing a file's owner takes root; as anyone else this test is skipped. */
static void config_file_or_directory_owned_by_another_user_is_refused(void **state)
{
	const uid_t other = 65534; /* nobody */
	char dir[PATH_MAX], path[PATH_MAX], expected[2 * PATH_MAX + 256], err[CONFIG_ERR_LEN] = "";
	struct config cfg;

	if (geteuid() != 0)
		skip();
	snprintf(dir, sizeof(dir), "%s", make_dir("owned", 0755));
	snprintf(path, sizeof(path), "%s", write_in(dir, "c.ini"));
	assert_int_equal(chown(path, other, (gid_t)-1), 0);
	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, path, err), -EPERM);
	snprintf(expected, sizeof(expected),
		 "%s: owned by uid 65534, not root or the daemon's user (uid 0); run chown root on "
		 "it",
		 path);
	assert_string_equal(err, expected);
	assert_null(cfg.path);
	config_free(&cfg);

	/* The file is root's again, but another user owns the directory. */
	assert_int_equal(chown(path, 0, (gid_t)-1), 0);
	assert_int_equal(chown(dir, other, (gid_t)-1), 0);
	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, path, err), -EPERM);
	snprintf(expected, sizeof(expected),
		 "%s: its directory %s is owned by uid 65534, not root or the daemon's user (uid "
		 "0): that user could replace the file",
		 path, dir);
	assert_string_equal(err, expected);
	config_free(&cfg);

	/* The daemon's own user (as its unit runs it) may own both. */
	assert_int_equal(chown(path, other, (gid_t)-1), 0);
	assert_int_equal(chmod(tmpdir, 0711), 0); /* so that it reaches the file */
	config_init(&cfg);
	assert_int_equal(seteuid(other), 0);
	if (config_load_file(&cfg, path, err)) {
		assert_int_equal(seteuid(0), 0);
		fail_msg("uid %u refused its own file: %s", (unsigned)other, err);
	}
	assert_int_equal(seteuid(0), 0);
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_int_equal(cfg.converter.common.workers, 3);
	config_free(&cfg);
	unlink(path);
	rmdir(dir);
}

static void config_file_must_be_a_regular_file(void **state)
{
	char fifo[PATH_MAX], expected[PATH_MAX + 64], err[CONFIG_ERR_LEN];
	struct config cfg;

	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, tmpdir, err), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: not a regular file", tmpdir);
	assert_string_equal(err, expected);

	/* A FIFO must be refused, not block the daemon waiting for a writer. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(config_load_file(&cfg, fifo, err), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: not a regular file", fifo);
	assert_string_equal(err, expected);
	unlink(fifo);
	config_free(&cfg);
}

static void config_file_errors_carry_its_path_and_line(void **state)
{
	const char *path = write_file("bad.ini", "[converter]\nworkers = many\n", 0600);
	char expected[PATH_MAX + 128], err[CONFIG_ERR_LEN];
	struct config cfg;

	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, path, err), -EINVAL);
	snprintf(expected, sizeof(expected), "%s:2: workers: not a number in 0..256: 'many'", path);
	assert_string_equal(err, expected);
	assert_null(cfg.path);
	config_free(&cfg);
}

/* Rules are parsed once the links are known, yet a bad one still names its file and line. */
static void a_bad_rule_names_its_file_and_line(void **state)
{
	const char *path = write_file("rule.ini",
				      "[gateway]\nconverter = 10.0.0.1:5124\nlan = lo\n"
				      "rule = direct to 10.0.0.0/8\n\nrule = bond to 10.9.0.0/16 links nope\n",
				      0600);
	char expected[PATH_MAX + 160], err[CONFIG_ERR_LEN];
	struct config cfg;

	config_init(&cfg);
	cfg.role = CONFIG_GATEWAY;
	assert_int_equal(config_load_file(&cfg, path, err), 0);
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	snprintf(expected, sizeof(expected),
		 "%s:6: rule: unknown link 'nope' (links: none declared) in "
		 "'bond to 10.9.0.0/16 links nope'",
		 path);
	assert_string_equal(err, expected);
	config_free(&cfg);
	/* the same rule given with --rule has no line to name */
	config_init(&cfg);
	cfg.role = CONFIG_GATEWAY;
	set_ok(&cfg, "converter", "10.0.0.1:5124");
	set_ok(&cfg, "lan", "lo");
	set_ok(&cfg, "rule", "bond to 10.9.0.0/16 links nope");
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_string_equal(err, "rule: unknown link 'nope' (links: none declared) in "
				 "'bond to 10.9.0.0/16 links nope'");
	config_free(&cfg);
}

static void help_defaults_read_as_scripts_need_them(void **state)
{
	char buf[64];

	assert_string_equal(config_help_default("x (default 10m)", CONFIG_CONVERTER, buf, sizeof(buf)),
			    "10m");
	assert_string_equal(config_help_default("x (default [::]:5124, dual stack)", CONFIG_CONVERTER,
						buf, sizeof(buf)),
			    "[::]:5124");
	assert_string_equal(config_help_default("x (default: nobody)", CONFIG_GATEWAY, buf, sizeof(buf)),
			    "nobody");
	assert_string_equal(config_help_default("a (default 1) b (default 0; the gateway runs one)",
						CONFIG_GATEWAY, buf, sizeof(buf)),
			    "0");
	assert_string_equal(config_help_default("t (default 10s; gateway 2s)", CONFIG_CONVERTER, buf,
						sizeof(buf)),
			    "10s");
	assert_string_equal(config_help_default("t (default 10s; gateway 2s)", CONFIG_GATEWAY, buf,
						sizeof(buf)),
			    "2s");
	assert_string_equal(config_help_default("repeatable (required)", CONFIG_GATEWAY, buf, sizeof(buf)),
			    "-");
}

/* The default --help states is the one the code sets: a key set to it (the way a file or a flag
 * would) leaves the finished configuration as it was. Keys whose default is not a value ("none",
 * "every converter in turn") or that own memory are left out. */
static void every_stated_default_is_the_real_one(void **state)
{
	static const char *const skip[] = { "listen", "control-socket" };

	for (int role = CONFIG_CONVERTER; role <= CONFIG_GATEWAY; role++) {
		char *text = NULL, *line, *save = NULL;
		size_t len = 0, checked = 0;
		FILE *out = open_memstream(&text, &len);

		assert_non_null(out);
		config_print_role_keys(out, (enum config_section)role);
		fclose(out);
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *def = strchr(line, '\t'), err[CONFIG_ERR_LEN] = "";
			struct config_gateway gw;
			struct config_converter cv;
			struct config a, b;
			bool skipped = false;

			assert_non_null(def);
			*def++ = '\0';
			for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
				skipped |= !strcmp(line, skip[i]);
			if (skipped || strchr(def, ' ') || !strcmp(def, "-") || !strcmp(def, "none") ||
			    !strcmp(def, "nobody") || !strcmp(def, "off") || !strcmp(def, "random"))
				continue;
			/* b a byte copy of a (padding included), before either owns memory */
			config_init(&a);
			a.role = (enum config_section)role;
			memcpy(&b, &a, sizeof(b));
			if (role == CONFIG_GATEWAY) {
				set_ok(&a, "converter", "10.0.0.1");
				set_ok(&b, "converter", "10.0.0.1");
				set_ok(&a, "lan", "lo");
				set_ok(&b, "lan", "lo");
			}
			set_ok(&b, line, def);
			if (config_finish(&a, err) || config_finish(&b, err))
				fail_msg("%s = %s: %s", line, def, err);
			/* what each finished config allocated for itself is not compared */
			memcpy(&gw, &b.gateway, sizeof(gw)); /* padding included */
			gw.exclude = a.gateway.exclude;
			memcpy(&cv, &b.converter, sizeof(cv));
			cv.allow_clients = a.converter.allow_clients;
			cv.deny_destinations = a.converter.deny_destinations;
			cv.transparent_native = a.converter.transparent_native;
			memcpy(&cv.cookie_secret, &a.converter.cookie_secret, sizeof(cv.cookie_secret));
			if (role == CONFIG_GATEWAY ? memcmp(&a.gateway, &gw, sizeof(gw))
						   : memcmp(&a.converter, &cv, sizeof(cv)))
				fail_msg("%s: --help says default %s, the code sets another", line, def);
			checked++;
			config_free(&a);
			config_free(&b);
		}
		assert_true(checked >= 20);
		free(text);
	}
}

static void missing_config_file_reports_errno(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, "/nonexistent/mpconv.ini", err), -ENOENT);
	assert_string_equal(err, "/nonexistent/mpconv.ini: No such file or directory");
	config_free(&cfg);
}

/* ---- config_finish ---- */

static void defaults_after_finish_are_the_documented_ones(void **state)
{
	static const uint8_t zero[COOKIE_SECRET_LEN];
	struct config cfg;
	struct config_converter *c = &cfg.converter;
	char err[CONFIG_ERR_LEN] = "", buf[ADDR_STRLEN];

	config_init(&cfg);
	if (config_finish(&cfg, err)) /* an empty allow list is for the daemon to warn about */
		fail_msg("%s", err);
	assert_null(cfg.path);
	assert_int_equal(c->listen_len, 1);
	assert_string_equal(addr_format(&c->listen[0], true, buf), "[::]:5124");
	assert_int_equal(c->allow_clients.len, 0);
	assert_int_equal(c->deny_destinations.len, 0);
	assert_int_equal(c->common.workers, 0);
	assert_true(c->tfo);
	assert_true(c->reply_extended_header);
	assert_true(c->downstream_mptcp);
	assert_false(c->cookies);
	assert_memory_not_equal(c->cookie_secret.key, zero, COOKIE_SECRET_LEN);
	assert_int_equal(c->cookie_secret.rotate_seconds, 3600);
	assert_int_equal(c->max_sessions, 10000);
	assert_int_equal(c->max_sessions_per_client, 4096);
	assert_int_equal(c->max_pending_per_client, 1024);
	assert_int_equal(c->max_idle_per_client, 256);
	assert_int_equal(c->convert_wait_ms, 60000);
	assert_int_equal(c->common.connect_timeout_ms, 10000);
	assert_int_equal(c->common.idle_timeout_ms, 600000);
	assert_int_equal(c->error_grace_ms, 2000);
	assert_int_equal(c->common.drain_timeout_ms, 30000);
	assert_int_equal(c->syn_retries, 3);
	assert_int_equal(c->common.socket_buffer, 0);
	assert_int_equal(c->common.pipe_size, 1 * MIB);
	assert_true(c->common.splice);
	assert_int_equal(c->common.log_level, LOG_LEVEL_INFO);
	config_free(&cfg);
}

static void finish_keeps_configured_listen_and_rotation(void **state)
{
	struct config a, b;
	char err[CONFIG_ERR_LEN];

	config_init(&a);
	config_init(&b);
	set_ok(&a, "listen", "192.0.2.1:5124");
	set_ok(&a, "cookie-rotate", "10m");
	assert_int_equal(config_finish(&a, err), 0);
	assert_int_equal(config_finish(&b, err), 0);
	assert_int_equal(a.converter.listen_len, 1);
	assert_true(ip_is(a.converter.listen[0].ip, "192.0.2.1"));
	assert_int_equal(a.converter.cookie_secret.rotate_seconds, 600);
	/* Two daemons without a configured secret do not share one. */
	assert_memory_not_equal(a.converter.cookie_secret.key, b.converter.cookie_secret.key,
				COOKIE_SECRET_LEN);
	config_free(&a);
	config_free(&b);
}

static void finish_caps_per_client_limits_at_the_enclosing_limit(void **state)
{
	/* settings, then the expected max-sessions-per-client, pending, idle after finish */
	static const struct {
		const char *settings[4][2];
		uint32_t per_client, pending, idle;
	} vectors[] = {
		{ { { "max-sessions", "100" } }, 100, 100, 100 },
		{ { { "max-sessions", "3" } }, 3, 3, 3 },
		{ { { "max-sessions-per-client", "10" } }, 10, 10, 10 },
		{ { { "max-idle", "10" } }, 4096, 1024, 10 },
		{ { { "max-sessions-per-client", "64" }, { "max-idle-per-client", "65" } },
		  64,
		  64,
		  64 },
		{ { { "max-sessions", "64" },
		    { "max-sessions-per-client", "64" },
		    { "max-pending-per-client", "64" },
		    { "max-idle-per-client", "64" } },
		  64,
		  64,
		  64 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct config cfg;
		char err[CONFIG_ERR_LEN] = "";

		config_init(&cfg);
		for (size_t j = 0; j < 4 && vectors[i].settings[j][0]; j++)
			set_ok(&cfg, vectors[i].settings[j][0], vectors[i].settings[j][1]);
		if (config_finish(&cfg, err))
			fail_msg("vector %zu refused: %s", i, err);
		assert_int_equal(cfg.converter.max_sessions_per_client, vectors[i].per_client);
		assert_int_equal(cfg.converter.max_pending_per_client, vectors[i].pending);
		assert_int_equal(cfg.converter.max_idle_per_client, vectors[i].idle);
		config_free(&cfg);
	}
}

/*
 * Issue 13: a busy household behind one gateway (a few hundred connections, a burst of 100+
 * opening at once, the pool's idle connections) meets no limit of a converter with default
 * settings; the gateway's own defaults keep the household online and notice trouble in about
 * a second.
 */
static void a_household_fits_the_default_limits(void **state)
{
	const uint32_t burst = 100, concurrent = 500;
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";

	config_init(&cfg);
	cfg.role = CONFIG_GATEWAY;
	set_ok(&cfg, "converter", "192.0.2.1");
	set_ok(&cfg, "lan", "lan0");
	if (config_finish(&cfg, err))
		fail_msg("%s", err);
	assert_true(cfg.converter.max_idle_per_client >= cfg.gateway.pool_max + burst);
	assert_true(cfg.converter.max_idle >= cfg.converter.max_idle_per_client);
	assert_true(cfg.converter.max_pending_per_client >= burst + cfg.gateway.pool_max);
	assert_true(cfg.converter.max_sessions_per_client >=
		    concurrent + cfg.gateway.pool_max + burst);
	/* one LAN host alone cannot fill the converter's share of the whole gateway */
	assert_true(cfg.gateway.max_sessions_per_host >= 2 * burst);
	assert_true(cfg.gateway.max_sessions_per_host < cfg.converter.max_sessions_per_client);
	assert_int_equal(cfg.gateway.converter_down, CONFIG_DOWN_DIRECT);
	assert_int_equal(cfg.gateway.establish_timeout_ms, 1000);
	assert_int_equal(cfg.gateway.common.connect_timeout_ms, 2000);
	assert_int_equal(cfg.gateway.reply_timeout_ms, 10000);
	assert_true(cfg.gateway.probe_interval_ms * cfg.gateway.probe_down <= 1500);
	assert_false(cfg.gateway.has_probe_target); /* every converter, in turn */
	config_free(&cfg);
}

static void help_lists_every_key_once(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	config_print_help(out);
	fclose(out);
	assert_non_null(strstr(text, "--listen ADDR[:PORT]"));
	assert_non_null(strstr(text, "--[no-]tfo"));
	assert_non_null(strstr(text, "--config PATH"));
	assert_non_null(strstr(text, "--convert-wait DURATION"));
	assert_non_null(strstr(text, "--pipe-size SIZE"));
	free(text);
}

static void free_after_init_and_twice_is_safe(void **state)
{
	struct config cfg;

	config_init(&cfg);
	config_free(&cfg);
	config_free(&cfg);
}

static void gateway_keys_parse_in_their_section_and_flags_follow_the_role(void **state)
{
	static const char ini[] = "[gateway]\n"
				  "converter = 10.99.0.1\n"
				  "converter = [fd00:99::1]:6000\n"
				  "lan = lan0, wlan*\n"
				  "mode = plain\n"
				  "rule = bond from 10.0.1.0/24 port 443 name web\n"
				  "rule = block port 25\n"
				  "default-action = direct\n"
				  "converter-down = direct\n"
				  "pool-max-idle = 20s\n"
				  "link = dsl dev wan0 via 192.0.2.1 role primary\n"
				  "link = lte dev wwan0 addr 198.51.100.7 role backup\n"
				  "probe-interval = 250ms\n"
				  "path-manager = kernel\n"
				  "[converter]\n"
				  "allow = 10.0.0.0/8\n";
	char *argv[] = { "--pool-min", "3", "--no-splice", NULL };
	struct config cfg;
	char err[CONFIG_ERR_LEN] = "";
	int consumed = 0;

	config_init(&cfg);
	cfg.role = CONFIG_GATEWAY;
	assert_int_equal(config_parse_ini(&cfg, ini, sizeof(ini) - 1, "gw.ini", err), 0);
	assert_int_equal(config_parse_args(&cfg, 3, argv, &consumed, err), 0);
	assert_int_equal(config_finish(&cfg, err), 0);
	assert_int_equal(cfg.gateway.converters_len, 2);
	assert_int_equal(cfg.gateway.converters[0].port, 5124);
	assert_int_equal(cfg.gateway.converters[1].port, 6000);
	assert_int_equal(cfg.gateway.lan_len, 2);
	assert_string_equal(cfg.gateway.lan[1], "wlan*");
	assert_int_equal(cfg.gateway.mode, CONFIG_MODE_PLAIN);
	assert_int_equal(cfg.gateway.rules_len, 2);
	assert_string_equal(cfg.gateway.rules[1], "block port 25");
	assert_int_equal(cfg.gateway.default_action, 1);
	assert_int_equal(cfg.gateway.converter_down, 1);
	assert_int_equal(cfg.gateway.pool_max_idle_ms, 20000);
	assert_int_equal(cfg.gateway.pool_min, 3);
	assert_false(cfg.gateway.common.splice);
	assert_int_equal(cfg.gateway.links_len, 2);
	assert_string_equal(cfg.gateway.links[1].name, "lte");
	assert_int_equal(cfg.gateway.links[1].role, LINK_BACKUP);
	assert_true(cfg.gateway.links[0].has_via4);
	assert_int_equal(cfg.gateway.probe_interval_ms, 250);
	assert_int_equal(cfg.gateway.path_manager, 1);
	assert_int_equal(cfg.gateway.link_table, 5100);
	/* The probes go to the first converter unless told otherwise. */
	assert_memory_equal(cfg.gateway.probe_target.ip, cfg.gateway.converters[0].ip, 16);
	/* Converters are never intercepted: finish put both in the exclude set. */
	assert_true(acl_contains(&cfg.gateway.exclude, cfg.gateway.converters[0].ip));
	assert_true(acl_contains(&cfg.gateway.exclude, cfg.gateway.converters[1].ip));
	/* The [converter] section still went to the converter's settings. */
	assert_int_equal(cfg.converter.allow_clients.len, 1);
	config_free(&cfg);
}

/* The table is read by finish (so on every reload); a bad one fails the whole config. */
static void cpe_table_is_loaded_by_finish_and_a_bad_one_refused(void **state)
{
	static const char key[] = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
	char path[PATH_MAX], line[160], err[CONFIG_ERR_LEN] = "";
	struct config cfg;

	snprintf(line, sizeof(line), "cpe-1 %s\ncpe-2 %s\n", key, key);
	snprintf(path, sizeof(path), "%s", write_file("cpes", line, 0600));
	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "cpe-table", path);
	if (config_finish(&cfg, err))
		fail_msg("%s", err);
	assert_int_equal(cfg.converter.cpes.len, 2);
	assert_non_null(cpe_table_find(&cfg.converter.cpes, "cpe-2", 5));
	config_free(&cfg);

	/* its keys are secrets: a table others may write is refused, like a config file */
	write_file("cpes", line, 0666);
	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "cpe-table", path);
	assert_int_equal(config_finish(&cfg, err), -EPERM);
	assert_non_null(strstr(err, "writable by group or others"));
	config_free(&cfg);

	snprintf(line, sizeof(line), "cpe-1 %s\ncpe-2 nothex\n", key);
	write_file("cpes", line, 0600);
	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "cpe-table", path);
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_non_null(strstr(err, "line 2: CPE cpe-2"));
	assert_null(strstr(err, "nothex"));
	config_free(&cfg);

	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "cpe-table", path);
	set_ok(&cfg, "cookies", "yes");
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_non_null(strstr(err, "exclude each other"));
	config_free(&cfg);

	unlink(path);
	config_init(&cfg);
	set_ok(&cfg, "allow", "10.0.0.0/8");
	set_ok(&cfg, "cpe-table", path);
	assert_int_equal(config_finish(&cfg, err), -ENOENT);
	config_free(&cfg);

	config_init(&cfg);
	cfg.role = CONFIG_GATEWAY;
	set_ok(&cfg, "converter", "192.0.2.1");
	set_ok(&cfg, "lan", "lan0");
	set_ok(&cfg, "cpe-id", "cpe-1");
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_string_equal(err, "cpe-id cpe-1: cpe-key is required with it");
	set_ok(&cfg, "cpe-key", key);
	assert_int_equal(config_finish(&cfg, err), 0);
	assert_int_equal(cfg.gateway.cpe_key[31], 0x20);
	config_free(&cfg);
}

static void gateway_errors_quote_the_value_and_require_a_converter(void **state)
{
	static const struct {
		const char *key, *value, *err;
	} vectors[] = {
		{ "mode", "turbo", "mode: not one of pool|tfo|plain: 'turbo'" },
		{ "default-action", "bounce",
		  "default-action: not one of bond|direct|block: 'bounce'" },
		{ "lan", "has space", "lan: not an interface name: 'has space'" },
		{ "lan", "averyveryverylongname",
		  "lan: not an interface name: 'averyveryverylongname'" },
		{ "converter", "10.0.0.300", "converter: not an address:port: '10.0.0.300'" },
		{ "listen", "10.0.0.1", "unknown key 'listen'" },
		{ "link", "dsl via 192.0.2.1", "link: missing 'dev IFNAME' in 'dsl via 192.0.2.1'" },
		{ "link", "dsl dev wan0 role lead",
		  "link: role is primary, secondary, backup or overflow, not 'lead' in 'dsl dev wan0 "
		  "role lead'" },
		{ "path-manager", "bpf", "path-manager: not one of userspace|kernel: 'bpf'" },
		{ "probe-target", "nowhere", "probe-target: not an address: 'nowhere'" },
		{ "cpe-id", "has space",
		  "cpe-id: not a CPE id (1..32 of A-Z a-z 0-9 . _ : @ -): 'has space'" },
		{ "cpe-key", "0102", "cpe-key: not 64 hex digits, not all zero (value not shown)" },
	};
	struct config cfg;
	char err[CONFIG_ERR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		config_init(&cfg);
		cfg.role = CONFIG_GATEWAY;
		err[0] = '\0';
		assert_int_equal(config_set(&cfg, vectors[i].key, vectors[i].value, err), -EINVAL);
		assert_string_equal(err, vectors[i].err);
		config_free(&cfg);
	}
	config_init(&cfg);
	cfg.role = CONFIG_GATEWAY;
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_string_equal(err, "converter: at least one converter address is required");
	assert_int_equal(config_set(&cfg, "converter", "10.99.0.1", err), 0);
	assert_int_equal(config_finish(&cfg, err), -EINVAL);
	assert_string_equal(err, "lan: at least one LAN interface is required to intercept");
	assert_int_equal(config_set(&cfg, "intercept", "no", err), 0);
	assert_int_equal(config_finish(&cfg, err), 0);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_key_accepts_its_documented_values),
		cmocka_unit_test(every_key_error_quotes_the_bad_value),
		cmocka_unit_test(every_key_in_help_has_good_and_bad_vectors),
		cmocka_unit_test(cpe_table_is_loaded_by_finish_and_a_bad_one_refused),
		cmocka_unit_test(unknown_key_is_refused_by_name),
		cmocka_unit_test(secret_error_never_shows_the_secret),
		cmocka_unit_test(configured_secret_is_decoded_and_kept_by_finish),
		cmocka_unit_test(refused_secret_leaves_the_old_one),
		cmocka_unit_test(metrics_host_keeps_names_in_lower_case_without_the_final_dot),
		cmocka_unit_test(an_allow_list_open_to_everyone_needs_allow_any),
		cmocka_unit_test(allow_any_in_a_file_or_as_a_flag),
		cmocka_unit_test(listen_appends_and_takes_comma_lists),
		cmocka_unit_test(listen_refuses_more_than_its_table),
		cmocka_unit_test(allow_and_deny_lists_append),
		cmocka_unit_test(later_scalar_value_wins),
		cmocka_unit_test(ini_with_comments_blank_lines_and_spacing_parses),
		cmocka_unit_test(ini_empty_or_comment_only_is_fine),
		cmocka_unit_test(ini_errors_name_origin_and_line),
		cmocka_unit_test(ini_unknown_key_reports_its_line_number),
		cmocka_unit_test(ini_nul_byte_and_overlong_line_are_refused),
		cmocka_unit_test(args_take_every_spelling),
		cmocka_unit_test(args_boolean_takes_every_explicit_value),
		cmocka_unit_test(args_stop_at_the_first_non_option),
		cmocka_unit_test(args_errors_quote_the_option_or_value),
		cmocka_unit_test(flags_after_config_override_the_file),
		cmocka_unit_test(config_file_writable_by_others_is_refused),
		cmocka_unit_test(config_file_in_a_directory_others_can_write_is_refused),
		cmocka_unit_test(config_file_behind_a_symlink_is_judged_by_its_real_directory),
		cmocka_unit_test(config_file_or_directory_owned_by_another_user_is_refused),
		cmocka_unit_test(config_file_must_be_a_regular_file),
		cmocka_unit_test(config_file_errors_carry_its_path_and_line),
		cmocka_unit_test(a_bad_rule_names_its_file_and_line),
		cmocka_unit_test(help_defaults_read_as_scripts_need_them),
		cmocka_unit_test(every_stated_default_is_the_real_one),
		cmocka_unit_test(missing_config_file_reports_errno),
		cmocka_unit_test(defaults_after_finish_are_the_documented_ones),
		cmocka_unit_test(finish_keeps_configured_listen_and_rotation),
		cmocka_unit_test(finish_caps_per_client_limits_at_the_enclosing_limit),
		cmocka_unit_test(a_household_fits_the_default_limits),
		cmocka_unit_test(help_lists_every_key_once),
		cmocka_unit_test(free_after_init_and_twice_is_safe),
		cmocka_unit_test(gateway_keys_parse_in_their_section_and_flags_follow_the_role),
		cmocka_unit_test(gateway_errors_quote_the_value_and_require_a_converter),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
