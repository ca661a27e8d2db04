// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inbound-session keys of both roles (issue 15): the gateway's `publish` lines, its name
 * and key at the converter; the converter's reverse listener, public address, port range and
 * CPE table. Pure parsing and the checks that span these keys; a key is never quoted back in
 * an error (a mistyped secret is one character away from the real one).
 */
#include "config_values.h"

#include "cpe.h"
#include "publish.h"

_Static_assert(CONFIG_INBOUND_KEY_LEN == CPE_KEY_LEN, "an inbound key is a CPE key");
_Static_assert(CONFIG_INBOUND_NAME_LEN == PUB_NAME_MAX + 1, "an inbound name is a CPE name");

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "LO-HI" (or one port): 1..65535, LO <= HI. */
static bool inbound_range_parse(const char *text, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	a = strtoul(text, &end, 10);
	if (end == text)
		return false;
	if (*end == '-') {
		const char *t = end + 1;

		b = strtoul(t, &end, 10);
		if (end == t)
			return false;
	} else {
		b = a;
	}
	if (*end || a < 1 || b > 65535 || a > b)
		return false;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

/* publish = tcp PUBLICPORT to LANADDR:LANPORT */
bool config_set_publish(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_inbound_gateway *in = config_field(base, key);
	char proto[8], to[8], lan[80], extra[2];
	unsigned long port;
	struct config_publish p;

	if (sscanf(value, "%7s %lu %7s %79s %1s", proto, &port, to, lan, extra) != 4 ||
	    strcmp(proto, "tcp") || strcmp(to, "to"))
		return config_fail(err, "%s: not 'tcp PUBLICPORT to LANADDR:LANPORT': '%s'",
				   key->name, value);
	if (port < 1 || port > 65535)
		return config_fail(err, "%s: public port not in 1..65535: '%s'", key->name, value);
	if (!addr_parse(lan, 0, &p.lan) || p.lan.port == 0)
		return config_fail(err, "%s: LAN destination is not an address:port: '%s'",
				   key->name, value);
	if (addr_is_unspecified(p.lan.ip) || addr_classify(p.lan.ip) == ADDR_CLASS_MULTICAST)
		return config_fail(err, "%s: LAN destination must be one host: '%s'", key->name,
				   value);
	p.public_port = (uint16_t)port;
	for (size_t i = 0; i < in->publish_len; i++)
		if (in->publish[i].public_port == p.public_port)
			return config_fail(err, "%s: public port %lu published twice: '%s'",
					   key->name, port, value);
	if (in->publish_len == CONFIG_MAX_PUBLISH)
		return config_fail(err, "%s: more than %d services: '%s'", key->name,
				   CONFIG_MAX_PUBLISH, value);
	in->publish[in->publish_len++] = p;
	return true;
}

bool config_set_inbound_converter(const struct config_key *key, void *base, const char *value,
				  char *err)
{
	struct config_inbound_gateway *in = config_field(base, key);

	if (!addr_parse(value, CONFIG_INBOUND_PORT, &in->converter))
		return config_fail(err, "%s: not an address:port: '%s'", key->name, value);
	in->has_converter = true;
	return true;
}

bool config_set_inbound_name(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_inbound_gateway *in = config_field(base, key);

	if (!pub_name_valid(value))
		return config_fail(err, "%s: 1 to %d of A-Z a-z 0-9 . _ -: '%s'", key->name,
				   CONFIG_INBOUND_NAME_LEN - 1, value);
	strcpy(in->name, value);
	return true;
}

bool config_set_inbound_key(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_inbound_gateway *in = config_field(base, key);

	if (!cpe_key_parse(value, strlen(value), in->key))
		return config_fail(err, "%s: not %d hex digits, or all zero (value not shown)",
				   key->name, 2 * CONFIG_INBOUND_KEY_LEN);
	in->has_key = true;
	return true;
}

bool config_set_inbound_listen(const struct config_key *key, void *base, const char *value,
			       char *err)
{
	struct config_inbound_converter *in = config_field(base, key);

	if (!addr_parse(value, CONFIG_INBOUND_PORT, &in->listen))
		return config_fail(err, "%s: not an address:port: '%s'", key->name, value);
	in->on = true;
	return true;
}

bool config_set_inbound_public(const struct config_key *key, void *base, const char *value,
			       char *err)
{
	struct config_inbound_converter *in = config_field(base, key);

	if (!addr_parse(value, 0, &in->public_addr) || in->public_addr.port != 0)
		return config_fail(err, "%s: not an address (without port): '%s'", key->name,
				   value);
	return true;
}

bool config_set_inbound_ports(const struct config_key *key, void *base, const char *value,
			      char *err)
{
	struct config_inbound_converter *in = config_field(base, key);

	if (!inbound_range_parse(value, &in->port_min, &in->port_max))
		return config_fail(err, "%s: not a port range LO-HI in 1..65535: '%s'", key->name,
				   value);
	return true;
}

/* inbound-cpe = NAME KEYHEX [LO-HI] */
bool config_set_inbound_cpe(const struct config_key *key, void *base, const char *value, char *err)
{
	struct config_inbound_converter *in = config_field(base, key);
	struct config_inbound_cpe cpe = { .port_min = 0 };
	const char *p = value, *name, *hex, *range;
	size_t name_len, hex_len;
	bool ok = false;

	name = p;
	name_len = strcspn(p, " \t");
	p += name_len;
	p += strspn(p, " \t");
	hex = p;
	hex_len = strcspn(p, " \t");
	p += hex_len;
	p += strspn(p, " \t");
	range = p;
	if (name_len == 0 || name_len >= sizeof(cpe.name) || hex_len == 0)
		return config_fail(err, "%s: not 'NAME KEY [LO-HI]' (value not shown)", key->name);
	memcpy(cpe.name, name, name_len);
	if (!pub_name_valid(cpe.name))
		return config_fail(err, "%s: a name is 1 to %d of A-Z a-z 0-9 . _ -: '%s'",
				   key->name, CONFIG_INBOUND_NAME_LEN - 1, cpe.name);
	if (!cpe_key_parse(hex, hex_len, cpe.key)) {
		config_fail(err, "%s: %s: key is not %d hex digits, or all zero (value not shown)",
			    key->name, cpe.name, 2 * CONFIG_INBOUND_KEY_LEN);
		goto cleanup;
	}
	if (*range &&
	    (strpbrk(range, " \t") || !inbound_range_parse(range, &cpe.port_min, &cpe.port_max))) {
		config_fail(err, "%s: %s: not a port range LO-HI: '%s'", key->name, cpe.name,
			    range);
		goto cleanup;
	}
	for (size_t i = 0; i < in->cpes_len; i++) {
		if (!strcmp(in->cpes[i].name, cpe.name)) {
			config_fail(err, "%s: CPE '%s' named twice", key->name, cpe.name);
			goto cleanup;
		}
	}
	if (in->cpes_len == CONFIG_MAX_CPES) {
		config_fail(err, "%s: more than %d CPEs", key->name, CONFIG_MAX_CPES);
		goto cleanup;
	}
	in->cpes[in->cpes_len++] = cpe;
	ok = true;
cleanup:
	sodium_memzero(&cpe, sizeof(cpe));
	return ok;
}

int config_finish_inbound_gateway(struct config_gateway *gw, char err[CONFIG_ERR_LEN])
{
	struct config_inbound_gateway *in = &gw->inbound;

	if (in->publish_len == 0)
		return 0;
	if (!in->name[0] || !in->has_key) {
		config_fail(err, "publish: needs inbound-name and inbound-key (this CPE's name and "
				 "key in the converter's inbound-cpe table)");
		return -EINVAL;
	}
	if (!in->has_converter) {
		in->converter = gw->converters[0];
		in->converter.port = CONFIG_INBOUND_PORT;
	}
	return 0;
}

int config_finish_inbound_converter(struct config_converter *conv, char err[CONFIG_ERR_LEN])
{
	struct config_inbound_converter *in = &conv->inbound;

	if (!in->on)
		return 0;
	if (!in->port_min) {
		config_fail(err, "inbound-listen: needs inbound-ports (the public ports CPEs may "
				 "publish)");
		return -EINVAL;
	}
	if (in->cpes_len == 0) {
		config_fail(err, "inbound-listen: needs at least one inbound-cpe");
		return -EINVAL;
	}
	for (size_t i = 0; i < in->cpes_len; i++) {
		struct config_inbound_cpe *c = &in->cpes[i];

		if (!c->port_min) {
			c->port_min = in->port_min;
			c->port_max = in->port_max;
		} else if (c->port_min < in->port_min || c->port_max > in->port_max) {
			config_fail(err, "inbound-cpe: %s: ports %u-%u outside inbound-ports %u-%u",
				    c->name, c->port_min, c->port_max, in->port_min, in->port_max);
			return -EINVAL;
		}
	}
	return 0;
}
