/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CONFIG_H
#define MPCONV_CONFIG_H

#include "acl.h"
#include "addr.h"
#include "cookie.h"
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
#define CONFIG_MAX_LISTEN 16
#define CONFIG_ERR_LEN	  256

struct config_converter {
	struct addr_port listen[CONFIG_MAX_LISTEN];
	size_t listen_len;	      /* 0 after parsing = the default [::]:5124 (dual stack) */
	struct acl allow_clients;     /* default deny: empty = nobody */
	struct acl deny_destinations; /* on top of the built-in forbidden classes */
	unsigned workers;	      /* 0 = one per online CPU */
	bool tfo;		      /* TFO on the listener (SYN data accepted); default true */
	bool reply_extended_header;   /* reply carries the Extended TCP Header TLV; default true */
	bool downstream_mptcp; /* open the server leg with MPTCP to learn support; default true */
	bool cookies;	       /* require the Cookie TLV; default false */
	struct cookie_secret cookie_secret; /* random at load unless configured */
	uint32_t max_sessions;		    /* whole daemon; default 10000 */
	uint32_t max_sessions_per_client;   /* default 512 */
	uint32_t max_pending_per_client;    /* downstream connects in flight; default 64 */
	uint32_t max_idle_per_client;	    /* connected, no Convert message yet; default 32 */
	uint32_t convert_wait_ms; /* how long an idle connection may wait for its message; 60000 */
	uint32_t connect_timeout_ms; /* downstream connect; default 10000 */
	uint32_t idle_timeout_ms;    /* relayed session without traffic; default 600000; 0 = none */
	uint32_t error_grace_ms;     /* after an Error TLV, wait this long for the client's close
					before resetting; default 2000 */
	uint32_t drain_timeout_ms; /* SIGTERM: wait this long for sessions to end; default 30000 */
	int syn_retries;	   /* TCP_SYNCNT on the downstream socket; default 3 */
	uint32_t socket_buffer;	   /* SO_RCVBUF/SO_SNDBUF on MPTCP sockets, bytes; default 4 MiB;
				      0 = kernel autotuning */
	uint32_t pipe_size;	   /* splice pipe size, bytes; default 1 MiB */
	bool splice;		   /* default true; false forces the copy relay */
	enum log_level log_level;  /* default info */
};

struct config {
	char *path; /* owned; NULL when built from flags only */
	struct config_converter converter;
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
/* Reads and parses a file; refuses a file writable by group or others. 0 or -errno. */
int config_load_file(struct config *cfg, const char *path, char err[CONFIG_ERR_LEN]);
/*
 * Parses "--key value" / "--key=value" / "--flag" (booleans) arguments; "--config PATH" loads a
 * file at that point. Stops at the first non-option; *consumed = arguments used. 0 or -EINVAL.
 * argv[0] is the first argument examined, not a program name: pass argv + 1.
 */
int config_parse_args(struct config *cfg, int argc, char **argv, int *consumed,
		      char err[CONFIG_ERR_LEN]);
/* Cross-field validation and derived defaults (listen default, random cookie secret). */
int config_finish(struct config *cfg, char err[CONFIG_ERR_LEN]);
/* Usage text for every key, for --help. */
void config_print_help(FILE *out);

#endif
