// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CPE identity at the converter (issue 16): with a cpe-table, a Connect must carry its CPE's
 * credential (Cookie TLV, proto/cpe.h), checked before any connect; from then on the session
 * counts under its CPE, not its address, so CPEs behind one CGNAT address have limits of their
 * own and a CPE's DSL and LTE lines share one. Never connects anything and never logs a key.
 */
#include "converter.h"

#include <string.h>
#include <time.h>

/* The checks against cfg, the newest configuration: a CPE revoked by a reload is refused from
 * its next Connect on, even on a connection accepted (pooled) before the reload. */
static bool cv_identity_with(struct cv_session *s, const struct conv_message *msg,
			     const struct config_converter *cc)
{
	struct cv_shared *shared = s->worker->shared;
	const struct cpe_entry *entry;
	struct cpe_cred cred;

	if (!cc->cpe_table_path) {
		/* a table at accept, none now: this session was not counted yet */
		if (s->cfg->config.converter.cpe_table_path &&
		    !(s->counted_session = clients_acquire(&shared->clients, s->client_key,
							   CLIENTS_SESSIONS,
							   cc->max_sessions_per_client))) {
			cv_refuse_limit(s, "max-sessions-per-client", true);
			return false;
		}
		return true;
	}
	if (!msg->has_connect)
		return true; /* an Info request names no destination: a probe needs no identity */
	if (!msg->has_cookie || cpe_cred_parse(msg->cookie, msg->cookie_len, &cred) < 0) {
		cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED, "no CPE credential");
		return false;
	}
	entry = cpe_table_find(&cc->cpes, cred.id, cred.id_len);
	if (!entry) {
		cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED, "CPE not in cpe-table");
		return false;
	}
	if (!cpe_cred_verify(&cred, entry->key, msg->connect.addr, msg->connect.port,
			     (uint64_t)time(NULL))) {
		cv_fail_code(s, CONV_ERR_NOT_AUTHORIZED, "CPE credential invalid or expired");
		return false;
	}
	if (s->counted_session) { /* accepted without a table: counted by address until now */
		clients_release(&shared->clients, s->client_key, CLIENTS_SESSIONS);
		s->counted_session = false;
	}
	memcpy(s->cpe, cred.id, cred.id_len);
	s->cpe[cred.id_len] = '\0';
	/* Idle time was counted under the address (the identity was not known yet, and that
	 * counter is released already); sessions and pending connects count under the CPE. */
	cpe_limit_key(cred.id, cred.id_len, s->client_key);
	s->counted_session = clients_acquire(&shared->clients, s->client_key, CLIENTS_SESSIONS,
					     cc->max_sessions_per_client);
	if (!s->counted_session) {
		cv_refuse_limit(s, "max-sessions-per-client", true);
		return false;
	}
	return true;
}

bool cv_identity_check(struct cv_session *s, const struct conv_message *msg)
{
	struct cv_cfg *now = cv_cfg_get(s->worker->shared);
	bool ok = cv_identity_with(s, msg, &now->config.converter);

	cv_cfg_put(now);
	return ok;
}
