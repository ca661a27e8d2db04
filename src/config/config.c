// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Daemon configuration: one key table (config_keys.c, values parsed by config_values.c) drives
 * the INI parser, the command line and --help, so an option has exactly one name, one parser
 * and one error message, which quotes the bad value.
 * Owns the struct config it fills (ACLs, path); keeps no global state, never logs (errors go to
 * the caller's buffer) and touches no file: config_file.c reads the ones it is given.
 * Validation that spans keys lives in config_finish, so the order of keys never matters.
 */
#include "config.h"
#include "config_keys.h"
#include "units.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_LINE 4096

/* Where a key of that section stores its value: the role's struct, or its common part. */
static void *config_key_base(struct config *cfg, const struct config_key *key,
			     enum config_section section)
{
	if (key->common)
		return section == CONFIG_GATEWAY ? (void *)&cfg->gateway.common
						 : (void *)&cfg->converter.common;
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

/* The defaults of the keys both roles have; the control socket's path and the connect timeout
 * differ (the gateway's covers reaching a converter over two links, 1 s each). */
#define CONFIG_COMMON_DEFAULTS(socket_path, connect_ms)                                         \
	{                                                                                          \
		.connect_timeout_ms = connect_ms, .idle_timeout_ms = 600000,                       \
		.drain_timeout_ms = 30000,                                                         \
		.socket_buffer = 0, /* autotuning: bonds 0.95 of the links, 4m 0.88 */            \
		.pipe_size = 1 * MIB, .splice = true, .log_level = LOG_LEVEL_INFO,                 \
		.control.socket = socket_path,                                                     \
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
				.max_idle = 2048,
				.client_prefix6 = 64,
				.transparent_port = 5125,
				/* a busy household behind one gateway: hundreds of
				 * connections, bursts of 100+ at once, the pool's idle ones */
				.max_sessions_per_client = 4096,
				.max_pending_per_client = 1024,
				.max_idle_per_client = 256,
				.convert_wait_ms = 60000,
				.error_grace_ms = 2000,
				.syn_retries = 3,
				.common = CONFIG_COMMON_DEFAULTS("/run/mpconv/converter.sock", 10000),
			},
		.gateway =
			{
				.port = 5126,
				.mode = CONFIG_MODE_POOL,
				.pool_min = 2,
				.pool_max = 32,
				.pool_max_idle_ms = 30000,
				.link_table = 5100,
				.probe_interval_ms = 500, /* a dead link noticed in ~1.5 s */
				.probe_down = 3,
				.probe_up = 2,
				.converter_down = CONFIG_DOWN_DIRECT, /* the household stays online */
				.max_sessions_per_host = 512,
				.intercept = true,
				.establish_timeout_ms = 1000, /* one initial RTO */
				.reply_timeout_ms = 10000,
				.early_data_wait_ms = 2,
				.inbound.pool = 4,
				.common = CONFIG_COMMON_DEFAULTS("/run/mpconv/gateway.sock", 2000),
			},
	};
}

void config_free(struct config *cfg)
{
	acl_free(&cfg->converter.allow_clients);
	acl_free(&cfg->converter.deny_destinations);
	acl_free(&cfg->converter.transparent_native);
	sodium_memzero(&cfg->converter.cookie_secret, sizeof(cfg->converter.cookie_secret));
	sodium_memzero(&cfg->converter.inbound, sizeof(cfg->converter.inbound));
	sodium_memzero(cfg->gateway.inbound.key, sizeof(cfg->gateway.inbound.key));
	cpe_table_free(&cfg->converter.cpes);
	free(cfg->converter.cpe_table_path);
	cfg->converter.cpe_table_path = NULL;
	sodium_memzero(cfg->gateway.cpe_key, sizeof(cfg->gateway.cpe_key));
	acl_free(&cfg->gateway.exclude);
	for (size_t i = 0; i < cfg->gateway.rules_len; i++)
		free(cfg->gateway.rules[i]);
	cfg->gateway.rules_len = 0;
	free(cfg->path);
	cfg->path = NULL;
}

static int config_set_key(struct config *cfg, const struct config_key *key,
			  enum config_section section, const char *value, char *err)
{
	void *base = config_key_base(cfg, key, section);
	char *items, *item, *next;
	int ret = 0;

	if (!key->list)
		return key->set(key, base, value, err) ? 0 : -EINVAL;
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
		if (!key->set(key, base, config_trim(item), err)) {
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
	return config_set_key(cfg, k, section, value, err);
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
		/* rules are parsed once the links are known (config_finish): keep their line */
		if (section == CONFIG_GATEWAY && !strcmp(key, "rule") && cfg->gateway.rules_len)
			cfg->gateway.rule_lines[cfg->gateway.rules_len - 1] = lineno;
	}
	return 0;
}

int config_load_file(struct config *cfg, const char *path, char err[CONFIG_ERR_LEN])
{
	char *text = NULL, *copy;
	size_t len;
	int ret = config_file_read(path, CONFIG_MAX_FILE, &text, &len, err);

	if (ret == 0)
		ret = config_parse_ini(cfg, text, len, path, err);
	free(text);
	if (ret)
		return ret;
	copy = strdup(path);
	if (!copy) {
		config_fail(err, "%s: out of memory", path);
		return -ENOMEM;
	}
	free(cfg->path);
	cfg->path = copy;
	return 0;
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
				ret = config_set_key(cfg, key, cfg->role, "no", err);
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
		ret = key ? config_set_key(cfg, key, cfg->role, value, err)
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
	if (gw->host) {
		/* locally originated connections: only REDIRECT sees them (the output hook) */
		gw->intercept_method = CONFIG_INTERCEPT_REDIRECT;
		if (gw->lan_len) {
			config_fail(err, "lan: host mode captures this machine's own connections, "
					 "not a LAN's; remove lan or host");
			return -EINVAL;
		}
	} else if (gw->intercept && gw->lan_len == 0) {
		config_fail(err, "lan: at least one LAN interface is required to intercept");
		return -EINVAL;
	}
	/* Shown as the first converter; unless set, the links are probed towards every
	 * converter in turn (links_targets), so one dead converter kills no link. */
	if (!gw->has_probe_target)
		gw->probe_target = gw->converters[0];
	if (config_finish_inbound_gateway(gw, err) < 0)
		return -EINVAL;
	if (gw->pool_min > gw->pool_max) {
		config_fail(err, "pool-min (%u) is larger than pool-max (%u)", gw->pool_min,
			    gw->pool_max);
		return -EINVAL;
	}
	if (gw->cpe_id[0] && sodium_is_zero(gw->cpe_key, sizeof(gw->cpe_key))) {
		config_fail(err, "cpe-id %s: cpe-key is required with it", gw->cpe_id);
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

/*
 * An allow prefix of length 0 opens the converter to the whole Internet: an open proxy that
 * anyone can bounce through. That is occasionally meant (a lab, a converter behind its own
 * firewall) but far more often a placeholder left in, so it takes allow-any = yes as well.
 */
static int config_finish_allow(const struct config_converter *conv, char err[CONFIG_ERR_LEN])
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (conv->allow_any)
		return 0;
	for (size_t i = 0; i < conv->allow_clients.len; i++) {
		const struct acl_prefix *p = &conv->allow_clients.prefixes[i];
		bool all_v4 = p->len == 96 && !memcmp(p->ip, v4mapped, sizeof(v4mapped));

		if (p->len == 0 || all_v4) {
			config_fail(
				err,
				"allow: %s admits every %saddress on the Internet; set allow-any = "
				"yes (--allow-any) if the converter is really meant to be open",
				all_v4 ? "0.0.0.0/0" : "::/0", all_v4 ? "IPv4 " : "");
			return -EINVAL;
		}
	}
	return 0;
}

/* Every rule parses against the declared links, or the error names its file and line (or
 * --rule on the command line), like any other key's. */
static int config_check_rules(const struct config *cfg, char err[CONFIG_ERR_LEN])
{
	const struct config_gateway *gc = &cfg->gateway;
	const char *link_names[LINKS_MAX];
	char why[POL_ERR_LEN];

	for (size_t i = 0; i < gc->links_len; i++)
		link_names[i] = gc->links[i].name;
	for (size_t i = 0; i < gc->rules_len; i++) {
		struct pol_rule rule;

		if (pol_parse_rule(gc->rules[i], link_names, gc->links_len, &rule, why) == 0)
			continue;
		if (gc->rule_lines[i] && cfg->path)
			config_fail(err, "%s:%u: %s", cfg->path, gc->rule_lines[i], why);
		else
			config_fail(err, "%s", why); /* "rule: ...", as given with --rule */
		return -EINVAL;
	}
	return 0;
}

/* The CPE table file, whole: a table is re-read on every reload (adding or revoking a CPE is
 * an edit and a SIGHUP), and one that does not parse keeps the running configuration. */
static int config_load_cpes(struct config_converter *conv, char err[CONFIG_ERR_LEN])
{
	enum { CPE_FILE_MAX = 64 << 20 };
	char why[128] = "";
	char *text = NULL;
	size_t len = 0;
	int ret;

	if (!conv->cpe_table_path)
		return 0;
	/* the keys in it are secrets: trusted like a configuration file (config_file_read) */
	ret = config_file_read(conv->cpe_table_path, CPE_FILE_MAX, &text, &len, err);
	if (ret < 0)
		return ret;
	ret = cpe_table_parse(text, len, &conv->cpes, why, sizeof(why));
	if (ret < 0)
		config_fail(err, "cpe-table %s: %s", conv->cpe_table_path, why);
	sodium_memzero(text, len);
	free(text);
	return ret;
}

int config_finish(struct config *cfg, char err[CONFIG_ERR_LEN])
{
	struct config_converter *conv = &cfg->converter;
	int ret;

	if (cfg->role == CONFIG_GATEWAY) {
		ret = config_check_rules(cfg, err);
		return ret ? ret : config_finish_gateway(&cfg->gateway, err);
	}

	ret = config_finish_allow(conv, err);
	if (ret < 0)
		return ret;
	ret = config_finish_inbound_converter(conv, err);
	if (ret < 0)
		return ret;
	if (conv->cookies && conv->cpe_table_path) {
		/* one Cookie TLV per message: it carries the CPE credential or an address cookie */
		config_fail(err, "cookies and cpe-table exclude each other (the CPE credential is "
				 "the cookie)");
		return -EINVAL;
	}
	ret = config_load_cpes(conv, err);
	if (ret < 0)
		return ret;
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
	/* With a cpe-table idle connections count per address (no identity yet) and sessions
	 * per CPE: many CPEs behind one CGNAT address share the idle budget, so no cap. */
	if (conv->max_idle_per_client > conv->max_sessions_per_client && !conv->cpe_table_path)
		conv->max_idle_per_client = conv->max_sessions_per_client;
	if (conv->max_idle_per_client > conv->max_idle)
		conv->max_idle_per_client = conv->max_idle;
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
	for (size_t i = 0; i < config_keys_len; i++) {
		const struct config_key *key = &config_keys[i];
		char spelled[64];

		if (!key->common && key->section != role)
			continue;
		if (key->arg)
			snprintf(spelled, sizeof(spelled), "%s %s", key->name, key->arg);
		else
			snprintf(spelled, sizeof(spelled), "[no-]%s", key->name);
		fprintf(out, "  --%-26s %s\n", spelled, key->help);
	}
	fprintf(out, "durations take ms, s, m or h (60s); sizes take k or m (4m = 4 MiB)\n");
}

/* Copies the value starting at p (up to ',', ';', ')' or the end) into buf. */
static void config_help_value(const char *p, char *buf, size_t len)
{
	size_t n = strcspn(p, ",;)");

	while (n > 0 && p[n - 1] == ' ')
		n--;
	snprintf(buf, len, "%.*s", (int)n, p);
}

char *config_help_default(const char *help, enum config_section role, char *buf, size_t len)
{
	const char *role_name = role == CONFIG_GATEWAY ? "gateway" : "converter";
	const char *p = NULL, *end;
	size_t rl = strlen(role_name);

	for (const char *q = strstr(help, "(default"); q; q = strstr(q + 1, "(default"))
		p = q;
	snprintf(buf, len, "-");
	if (!p)
		return buf;
	p += strlen("(default");
	if (*p == ':')
		p++;
	while (*p == ' ')
		p++;
	config_help_value(p, buf, len);
	end = strchr(p, ')');
	for (const char *q = strchr(p, ';'); q && (!end || q < end); q = strchr(q + 1, ';')) {
		const char *w = q + 1;

		while (*w == ' ')
			w++;
		if (!strncmp(w, role_name, rl) && w[rl] == ' ')
			config_help_value(w + rl + 1, buf, len);
	}
	return buf;
}

void config_print_role_keys(FILE *out, enum config_section role)
{
	for (size_t i = 0; i < config_keys_len; i++) {
		const struct config_key *key = &config_keys[i];
		char def[64];

		if (!key->common && key->section != role)
			continue;
		config_help_default(key->help, role, def, sizeof(def));
		if (!strcmp(def, "/run/mpconv/<role>.sock")) /* the one default spelled per role */
			snprintf(def, sizeof(def), "/run/mpconv/%s.sock",
				 role == CONFIG_GATEWAY ? "gateway" : "converter");
		fprintf(out, "%s\t%s\n", key->name, def);
	}
}
