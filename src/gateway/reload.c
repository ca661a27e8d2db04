// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway's configuration again, on SIGHUP or `mpconvctl reload`: a new configuration is
 * built and validated first (from the same command line, so from the same file), then swapped
 * in; a broken one changes nothing. Live sessions keep their copy of their rule.
 */
#include "gateway.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int gw_build_policy(const struct config_gateway *gc, struct pol_table *table,
			   char err[POL_ERR_LEN])
{
	const char *link_names[LINKS_MAX];

	for (size_t i = 0; i < gc->links_len; i++)
		link_names[i] = gc->links[i].name;
	pol_init(table, (enum pol_action)gc->default_action);
	for (size_t i = 0; i < gc->rules_len; i++) {
		struct pol_rule rule;

		if (pol_parse_rule(gc->rules[i], link_names, gc->links_len, &rule, err) < 0) {
			pol_free(table);
			return -EINVAL;
		}
		/* The DSCP of a TPROXY'd SYN reaches no socket option; a rule that could never
		 * match as written is refused rather than silently ignored. */
		if (rule.dscp >= 0) {
			snprintf(err, POL_ERR_LEN,
				 "rule: 'dscp' is not supported by the gateway (it cannot see the "
				 "LAN SYN's DSCP) in '%s'",
				 gc->rules[i]);
			pol_free(table);
			return -EINVAL;
		}
		if (pol_add(table, &rule) < 0) {
			pol_free(table);
			snprintf(err, POL_ERR_LEN, "out of memory for the policy");
			return -ENOMEM;
		}
	}
	return 0;
}

static bool gw_links_equal(const struct config_gateway *a, const struct config_gateway *b)
{
	return a->links_len == b->links_len &&
	       !memcmp(a->links, b->links, a->links_len * sizeof(a->links[0]));
}

/*
 * SIGHUP (or `mpconvctl reload`): the configuration again, from the same command line (so from
 * the same file). Applied at once: policy rules and default action, converters, timeouts, pool
 * bounds, probe settings, early-data wait, log level; live sessions keep their rule. What the
 * running system is built on (links, LAN interfaces, port, capture method, mode, path manager)
 * takes effect at restart. 0, or -errno with why filled in; the running configuration stays.
 */
int gw_reload(struct gateway *gw, char why[CONFIG_ERR_LEN])
{
	struct config fresh, old;
	struct config_gateway *now = &gw->config.gateway, *next;
	struct pol_table policy, old_policy;
	char err[POL_ERR_LEN];
	int consumed = 0;

	config_init(&fresh);
	fresh.role = CONFIG_GATEWAY;
	if (config_parse_args(&fresh, gw->argc - 1, gw->argv + 1, &consumed, why) < 0 ||
	    config_finish(&fresh, why) < 0) {
		config_free(&fresh);
		log_warnx("reload: %s; keeping the running configuration", why);
		return -EINVAL;
	}
	next = &fresh.gateway;
	if (!gw_links_equal(now, next) || now->lan_len != next->lan_len ||
	    memcmp(now->lan, next->lan, sizeof(now->lan)) || now->port != next->port ||
	    now->intercept != next->intercept ||
	    (now->intercept_method != next->intercept_method && !gw->redirect_forced) ||
	    now->mode != next->mode || now->path_manager != next->path_manager ||
	    now->link_table != next->link_table)
		log_warnx("reload: links, lan, port, intercept, mode, path-manager and link-table "
			  "take effect at restart");
	/* Keep what the running system is built on; the policy names the running links. */
	memcpy(next->links, now->links, sizeof(now->links));
	next->links_len = now->links_len;
	memcpy(next->lan, now->lan, sizeof(now->lan));
	next->lan_len = now->lan_len;
	next->port = now->port;
	next->intercept = now->intercept;
	next->intercept_method = now->intercept_method;
	next->mode = now->mode;
	next->path_manager = now->path_manager;
	next->link_table = now->link_table;
	if (gw_build_policy(next, &policy, err) < 0) {
		snprintf(why, CONFIG_ERR_LEN, "%s", err);
		config_free(&fresh);
		log_warnx("reload: %s; keeping the running configuration", why);
		return -EINVAL;
	}
	old = gw->config;
	old_policy = gw->policy;
	gw->config = fresh;
	gw->policy = policy;
	/* every worker takes the new ones (their live sessions keep their rule's copy); only
	 * then are the old ones, which the workers shared, freed */
	now = &gw->config.gateway;
	/* a new list of converters: no back-off carried over (before the workers' pools follow
	 * it, so none picks from the old list's length) */
	pthread_mutex_lock(&gw->upstream_lock);
	upstream_init(&gw->upstream, (unsigned)now->converters_len);
	pthread_mutex_unlock(&gw->upstream_lock);
	gw_workers_reload(gw);
	config_free(&old);
	pol_free(&old_policy);
	log_set_level(now->common.log_level);
	if (gw->pool_on) {
		struct pool_params limits = {
			.connect = gw_upstream_opts(gw),
			.min = now->pool_min,
			.max = now->pool_max,
			.max_idle_ms = now->pool_max_idle_ms,
			.connect_timeout_ms = now->common.connect_timeout_ms,
		};

		/* config_finish validated the bounds: the pool takes them */
		pool_set_limits(&gw->pool, &limits);
		gw->pool_link = -2; /* reconnect: the converter list may have changed */
		gw_pool_sync(gw);
	}
	if (gw->links_on)
		links_set_probes(&gw->links, now->probe_interval_ms, now->probe_down, now->probe_up,
				 now->has_probe_target ? &now->probe_target : now->converters,
				 now->has_probe_target ? 1 : (unsigned)now->converters_len);
	gw_workers_inbound(gw, GW_INBOUND_RELOAD);
	log_info("reload: configuration applied to new connections (%zu rules, %zu converters)",
		 gw->policy.len, now->converters_len);
	return 0;
}
