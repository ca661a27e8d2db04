/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CONFIG_H
#define MPCONV_CONFIG_H

#include "acl.h"
#include "addr.h"
#include "cookie.h"
#include "cpe.h"
#include "link_conf.h"
#include "policy.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Daemon configuration: one key table serves the INI file ([converter] section, "key = value")
 * and the command line ("--key value"), so every option has one name, one parser and one error
 * message quoting the bad value. Parsing and validation are pure (no sockets, no files except
 * config_load_file); a reload builds a whole new struct config and swaps it in.
 */
#define CONFIG_MAX_LISTEN   16
#define CONFIG_ERR_LEN	    256
#define CONFIG_PATH_LEN	    108 /* a unix socket path, NUL included */
#define CONFIG_METRICS_PORT 9124

#define CONFIG_MAX_HOSTS 8
#define CONFIG_HOST_LEN	 254 /* a DNS name (253 characters) and its NUL */

/*
 * The metrics endpoint: where it listens, and the Host names it answers to besides the loopback
 * ones and its own address (http.c refuses any other, against DNS rebinding). No padding, so a
 * reload can memcmp two of them.
 */
struct config_metrics_listen {
	struct addr_port addr; /* loopback when given without an address */
	uint16_t hosts_len;
	char hosts[CONFIG_MAX_HOSTS][CONFIG_HOST_LEN]; /* metrics-host: lower case, no final dot;
							  an IPv6 address in brackets or not */
};

/* Operator access, the same for both roles: control socket and metrics endpoint. */
struct config_control {
	char socket[CONFIG_PATH_LEN]; /* "" = none; default /run/mpconv/<role>.sock */
	bool socket_set;	      /* given explicitly: failing to bind it is fatal */
	bool metrics;		      /* metrics-listen given (off by default) */
	struct config_metrics_listen metrics_listen;
};

/*
 * The keys both roles have: one entry each in the key table, parsed once, into the role's own
 * copy (each role keeps its own defaults, e.g. its control socket path).
 */
struct config_common {
	unsigned workers;	     /* converter: 0 = one per online CPU */
	uint32_t connect_timeout_ms; /* the connection a role opens (server, converter); 10 s */
	uint32_t idle_timeout_ms;    /* relayed session without traffic; 600 s; 0 = none */
	uint32_t drain_timeout_ms;   /* SIGTERM: wait this long for sessions to end; 30 s */
	uint32_t socket_buffer;	     /* SO_RCVBUF/SO_SNDBUF on MPTCP sockets; 0 = autotuning */
	uint32_t pipe_size;	     /* splice pipe size, bytes; 1 MiB */
	bool splice;		     /* false forces the copy relay; default true */
	enum log_level log_level;    /* default info */
	struct config_control control;
};

/*
 * Inbound sessions (issue 15; config_inbound.c). The gateway publishes LAN services and keeps
 * a reverse pool of registered MPTCP connections to its converter; the converter listens on a
 * public port per published service, for the CPE that registered it with its key.
 */
#define CONFIG_MAX_PUBLISH	16 /* = PUB_MAX_SERVICES */
#define CONFIG_MAX_CPES		64
#define CONFIG_INBOUND_PORT	5127
#define CONFIG_INBOUND_NAME_LEN 33 /* PUB_NAME_MAX and its NUL */
#define CONFIG_INBOUND_KEY_LEN	32 /* PUB_KEY_LEN */

enum config_publish_source { CONFIG_PUBLISH_CLIENT, CONFIG_PUBLISH_GATEWAY };

struct config_publish {
	uint16_t public_port;	/* on the converter's public address */
	struct addr_port lan;	/* the LAN service */
};

struct config_inbound_gateway {
	struct config_publish publish[CONFIG_MAX_PUBLISH];
	size_t publish_len;		    /* 0 = inbound off */
	enum config_publish_source source;  /* the LAN host sees: client (default) or gateway */
	struct addr_port converter;	    /* default: the first converter, port 5127 */
	bool has_converter;
	char name[CONFIG_INBOUND_NAME_LEN]; /* this CPE's name at the converter */
	uint8_t key[CONFIG_INBOUND_KEY_LEN];
	bool has_key;
	uint32_t pool; /* registered reverse connections kept idle; default 4 */
};

struct config_inbound_cpe {
	char name[CONFIG_INBOUND_NAME_LEN];
	uint8_t key[CONFIG_INBOUND_KEY_LEN];
	uint16_t port_min, port_max; /* the public ports it may register; default the global range */
};

struct config_inbound_converter {
	bool on;		  /* inbound-listen given */
	struct addr_port listen;  /* where gateways open reverse connections; port 5127 */
	struct addr_port public_addr; /* public listeners' address (port unused); default [::] */
	uint16_t port_min, port_max;  /* inbound-ports: required with inbound-listen */
	struct config_inbound_cpe cpes[CONFIG_MAX_CPES];
	size_t cpes_len;
};

#define CONFIG_MAX_LAN	  8
#define CONFIG_IFNAME_LEN 16
#define CONFIG_MAX_NATIVE_PORTS 16

struct config_converter {
	struct addr_port listen[CONFIG_MAX_LISTEN];
	size_t listen_len;	      /* 0 after parsing = the default [::]:5124 (dual stack) */
	struct addr_port socks_listen[CONFIG_MAX_LISTEN]; /* SOCKS 5 clients; none by default */
	size_t socks_listen_len;
	/* On-path mode: MPTCP connections forwarded through these interfaces are terminated
	 * (TPROXY) and relayed to their destination as plain TCP; none by default. */
	char transparent_lan[CONFIG_MAX_LAN][CONFIG_IFNAME_LEN];
	size_t transparent_lan_len;
	uint32_t transparent_port; /* the TPROXY listener's port; default 5125 */
	/* On-path: MPTCP to these destinations / ports is routed on untouched (native end to end
	 * MPTCP with servers that speak it); none by default. */
	struct acl transparent_native;
	uint16_t transparent_native_ports[CONFIG_MAX_NATIVE_PORTS];
	size_t transparent_native_ports_len;
	struct acl allow_clients;     /* default deny: empty = nobody */
	bool allow_any; /* a prefix of length 0 in allow_clients is meant; default false */
	struct acl deny_destinations; /* on top of the built-in forbidden classes */
	bool tfo;		      /* TFO on the listener (SYN data accepted); default true */
	bool reply_extended_header;   /* reply carries the Extended TCP Header TLV; default true */
	bool downstream_mptcp; /* open the server leg with MPTCP to learn support; default true */
	bool cookies;	       /* require the Cookie TLV; default false */
	struct cookie_secret cookie_secret; /* random at load unless configured */
	/* CPE identity (issue 16): with a table, every Connect carries a CPE credential and the
	 * per-client limits count CPEs, not addresses. Read by config_finish (so on every reload). */
	char *cpe_table_path; /* owned; NULL = no table (clients are their addresses) */
	struct cpe_table cpes; /* owned; loaded from cpe_table_path */
	uint32_t max_sessions;		    /* asking for something, whole daemon; default 10000 */
	uint32_t max_idle;		    /* waiting for their message, whole daemon; 2048 */
	uint32_t client_prefix6;	    /* an IPv6 client is its /N for the limits; 64 */
	uint32_t max_sessions_per_client;   /* default 512 */
	uint32_t max_pending_per_client;    /* downstream connects in flight; default 64 */
	uint32_t max_idle_per_client;	    /* connected, no Convert message yet; default 32 */
	uint32_t convert_wait_ms; /* how long an idle connection may wait for its message; 60000 */
	uint32_t error_grace_ms;     /* after an Error TLV, wait this long for the client's close
					before resetting; default 2000 */
	int syn_retries;	   /* TCP_SYNCNT on the downstream socket; default 3 */
	struct config_inbound_converter inbound;
	struct config_common common;
};

/* Choices of the gateway's keys, in the order of their names in the key table (a choice key
 * stores the index of the name it was given). */
enum config_gateway_mode { CONFIG_MODE_POOL, CONFIG_MODE_TFO, CONFIG_MODE_PLAIN };
enum config_path_manager { CONFIG_PM_USERSPACE, CONFIG_PM_KERNEL };
enum config_converter_down { CONFIG_DOWN_CLOSED, CONFIG_DOWN_DIRECT };
enum config_intercept_method { CONFIG_INTERCEPT_TPROXY, CONFIG_INTERCEPT_REDIRECT };
enum config_upstream_protocol { CONFIG_UPSTREAM_CONVERT, CONFIG_UPSTREAM_SOCKS5,
				CONFIG_UPSTREAM_NONE };

#define CONFIG_MAX_CONVERTERS 4
#define CONFIG_MAX_RULES      64

struct config_gateway {
	struct addr_port converters[CONFIG_MAX_CONVERTERS]; /* in failover order */
	size_t converters_len;
	char lan[CONFIG_MAX_LAN][CONFIG_IFNAME_LEN]; /* interfaces whose TCP is intercepted */
	size_t lan_len;
	struct acl exclude;	     /* destinations never intercepted (converters are added) */
	uint32_t port;		     /* TPROXY listener port; default 5126 */
	enum config_gateway_mode mode; /* default pool */
	uint32_t pool_min, pool_max; /* per worker; default 2 and 32 */
	uint32_t pool_max_idle_ms;   /* recycle before the converter's convert-wait; default 30 s */
	char *rules[CONFIG_MAX_RULES]; /* owned policy rule texts, parsed by the gateway */
	unsigned rule_lines[CONFIG_MAX_RULES]; /* its line in the file; 0 = the command line */
	size_t rules_len;
	struct link_conf links[LINKS_MAX]; /* access links; none = routing decides everything */
	size_t links_len;
	enum config_path_manager path_manager; /* userspace: subflows per connection (default) */
	uint32_t link_table;	     /* link i: routing table and rule preference base + i; 5100 */
	uint32_t probe_interval_ms;  /* ICMP echo per link; default 1 s; 0 = carrier only */
	uint32_t probe_down, probe_up; /* lost / answered in a row to change state; 3 and 2 */
	struct addr_port probe_target; /* default: every converter, in turn */
	bool has_probe_target;
	enum pol_action default_action; /* bond by default */
	enum config_converter_down converter_down; /* direct (default); closed: reset them */
	uint32_t max_sessions_per_host; /* per LAN address (IPv6: /64); default 512; 0 = none */
	bool intercept;	    /* install the nftables rules; default true */
	/* host mode (`mpconvd host`): this machine's own outgoing TCP is captured (nftables
	 * output hook, REDIRECT) instead of a LAN's; lan unused, intercept-method redirect */
	bool host;
	enum config_intercept_method intercept_method; /* tproxy (default), redirect */
	enum config_upstream_protocol upstream_protocol; /* Convert (default), SOCKS 5, none */
	uint32_t establish_timeout_ms; /* converter silent this long: another link; 1 s */
	uint32_t reply_timeout_ms;     /* a destination's answer (via converter or direct); 10 s */
	uint32_t early_data_wait_ms; /* pool mode: wait for the LAN client's first bytes; 2 ms */
	struct config_inbound_gateway inbound;
	char cpe_id[CPE_ID_MAX + 1]; /* "" = send no credential */
	uint8_t cpe_key[CPE_KEY_LEN];
	struct config_common common;
};

/* Which role's keys the command line sets; an INI file sets keys by its section headers. */
enum config_section { CONFIG_CONVERTER, CONFIG_GATEWAY };

struct config {
	char *path;		  /* owned; NULL when built from flags only */
	enum config_section role; /* CONFIG_CONVERTER after config_init */
	struct config_converter converter;
	struct config_gateway gateway;
};

/* Defaults as documented above (cookie secret left zero: see config_finish). */
void config_init(struct config *cfg);
void config_free(struct config *cfg);

/*
 * Sets one option by its key ("listen", "allow", "deny-destination", "workers", "tfo", ...).
 * Repeatable keys (listen, allow, deny-destination) append. 0, or -EINVAL with err filled in
 * as "<key>: <reason>: '<value>'".
 */
int config_set(struct config *cfg, const char *key, const char *value, char err[CONFIG_ERR_LEN]);

/* Parses INI text; errors are prefixed "<origin>:<line>: ". 0 or -EINVAL. */
int config_parse_ini(struct config *cfg, const char *text, size_t len, const char *origin,
		     char err[CONFIG_ERR_LEN]);
/* Reads (config_file_read) and parses a file; cfg->path names it. 0 or -errno. */
int config_load_file(struct config *cfg, const char *path, char err[CONFIG_ERR_LEN]);
/*
 * A configuration file's text (config_file.c), NUL-terminated, owned by the caller, at most max
 * bytes (-EFBIG past it). Refuses a
 * file that someone other than root or the daemon's user could have written: writable by group
 * or others, owned by another user, or in a directory (the one named, and the file's real one
 * behind symbolic links) that is writable by group or others or owned by another user. 0 or
 * -errno (-EPERM for those) with err saying why.
 */
int config_file_read(const char *path, size_t max, char **text, size_t *len,
		     char err[CONFIG_ERR_LEN]);
/* The largest configuration file read (a CPE table has its own, larger bound). */
#define CONFIG_MAX_FILE (1024 * 1024)
/*
 * Parses "--key value" / "--key=value" / "--flag" (booleans) arguments; "--config PATH" loads a
 * file at that point. Stops at the first non-option; *consumed = arguments used. 0 or -EINVAL.
 * argv[0] is the first argument examined, not a program name: pass argv + 1.
 */
int config_parse_args(struct config *cfg, int argc, char **argv, int *consumed,
		      char err[CONFIG_ERR_LEN]);
/* Cross-field validation and derived defaults (listen default, random cookie secret). */
int config_finish(struct config *cfg, char err[CONFIG_ERR_LEN]);
/* Usage text for every key of the converter, or of one role, for --help. */
void config_print_help(FILE *out);
void config_print_role_help(FILE *out, enum config_section role);
/*
 * `mpconvd ROLE --help-keys`: one line per key of the role, "KEY<TAB>DEFAULT", the default as
 * its help text states it ("-" when it states none), for scripts that check the man page and
 * the example configurations against the daemon (tests/tree/check-docs.sh).
 */
void config_print_role_keys(FILE *out, enum config_section role);
/* The default a help text states: its last "(default[:] VALUE" up to ',', ';' or ')'; a
 * "; ROLE VALUE" in the same parenthesis overrides it for that role ("(default 10s; gateway
 * 2s)"). "-" when there is none. Returns buf. Pure. */
char *config_help_default(const char *help, enum config_section role, char *buf, size_t len);

#endif
