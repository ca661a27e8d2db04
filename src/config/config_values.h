/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CONFIG_VALUES_H
#define MPCONV_CONFIG_VALUES_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Inside the config folder only: one key of the table (config_keys.c) and the parsers of its
 * values (config_values.c). A parser reads one value (one item of a list) into the key's
 * field; false with err filled in, quoting the value.
 */
#define CONFIG_DEFAULT_PORT 5124
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
	bool common; /* a key of both roles: offset into struct config_common, any section */
	const char *choices; /* config_set_choice: "a|b|c", stored as the index in an enum */
	const char *help;
};

/* Fills err (CONFIG_ERR_LEN) and returns false, so a parser can `return config_fail(...)`. */
bool config_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The key's field in base (a struct config_converter or config_gateway). */
void *config_field(const void *base, const struct config_key *key);

bool config_set_listen(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_socks_listen(const struct config_key *key, void *base, const char *value,
			     char *err);
bool config_set_transparent_lan(const struct config_key *key, void *base, const char *value,
				char *err);
bool config_set_native_port(const struct config_key *key, void *base, const char *value,
			    char *err);
bool config_set_acl(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_u32(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_int(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_bool(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_ms(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_rotate(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_size(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_secret(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_cpe_table(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_cpe_id(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_cpe_key(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_log_level(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_converter(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_lan(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_rule(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_link(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_probe_target(const struct config_key *key, void *base, const char *value,
			     char *err);
bool config_set_control_socket(const struct config_key *key, void *base, const char *value,
			       char *err);
bool config_set_metrics_listen(const struct config_key *key, void *base, const char *value,
			       char *err);
bool config_set_metrics_host(const struct config_key *key, void *base, const char *value,
			     char *err);
bool config_set_choice(const struct config_key *key, void *base, const char *value, char *err);

/* config_inbound.c: inbound sessions (issue 15) */
bool config_set_publish(const struct config_key *key, void *base, const char *value, char *err);
bool config_set_inbound_converter(const struct config_key *key, void *base, const char *value,
				  char *err);
bool config_set_inbound_name(const struct config_key *key, void *base, const char *value,
			     char *err);
bool config_set_inbound_key(const struct config_key *key, void *base, const char *value,
			    char *err);
bool config_set_inbound_listen(const struct config_key *key, void *base, const char *value,
			       char *err);
bool config_set_inbound_public(const struct config_key *key, void *base, const char *value,
			       char *err);
bool config_set_inbound_ports(const struct config_key *key, void *base, const char *value,
			      char *err);
bool config_set_inbound_cpe(const struct config_key *key, void *base, const char *value,
			    char *err);
/* The checks spanning the inbound keys, and their derived defaults. 0 or -EINVAL. */
int config_finish_inbound_gateway(struct config_gateway *gw, char err[CONFIG_ERR_LEN]);
int config_finish_inbound_converter(struct config_converter *conv, char err[CONFIG_ERR_LEN]);

#endif
