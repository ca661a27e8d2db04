// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway's words for what it reports: a session's state and a converter's (or SOCKS
 * server's) error code as the slugs of logs, metrics and JSON. Names only: no state, no I/O.
 */
#include "gateway.h"

#include "convert.h"
#include "socks.h"

const char *gw_state_name(enum gw_state state)
{
	static const char *const names[] = { "accepted", "wait-early", "upstream-connecting",
		"wait-reply", "direct-connecting", "relay", "refused-wait" };

	return names[state];
}

const char *gw_error_slug(const struct gateway *gw, int code)
{
	if (code < 0)
		return "-";
	return gw->config.gateway.upstream_protocol == CONFIG_UPSTREAM_SOCKS5 ?
		socks_reply_slug((enum socks_reply)code) : conv_error_slug((enum conv_error_code)code);
}
