/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CONFIG_KEYS_H
#define MPCONV_CONFIG_KEYS_H

#include "config_values.h"

/* Inside the config folder only: the key table (config_keys.c). */
extern const struct config_key config_keys[];
extern const size_t config_keys_len;

/* The key of that name in that role's section, or NULL. */
const struct config_key *config_find_key(const char *name, enum config_section section);

#endif
