// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The converter's configuration snapshots (reference-counted: live sessions keep the one
 * they started with) and SIGHUP: the command line again, a new snapshot built and validated,
 * then swapped in; a broken one changes nothing.
 */
#include "converter.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Takes ownership of *config (moved in) on success. */
struct cv_cfg *cv_cfg_new(struct config *config)
{
	struct cv_cfg *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->config = *config;
	memset(config, 0, sizeof(*config));
	atomic_init(&cfg->refs, 1);
	return cfg;
}

void cv_cfg_put(struct cv_cfg *cfg)
{
	if (cfg && atomic_fetch_sub(&cfg->refs, 1) == 1) {
		config_free(&cfg->config);
		free(cfg);
	}
}

struct cv_cfg *cv_cfg_get(struct cv_shared *shared)
{
	struct cv_cfg *cfg;

	pthread_mutex_lock(&shared->cfg_lock);
	cfg = shared->cfg;
	atomic_fetch_add(&cfg->refs, 1);
	pthread_mutex_unlock(&shared->cfg_lock);
	return cfg;
}

/* SIGHUP or `mpconvctl reload`. 0, or -errno with the reason in why. */
int cv_reload(struct cv_shared *shared, char why[CONFIG_ERR_LEN])
{
	struct cv_cfg *old = cv_cfg_get(shared), *fresh;
	struct config config;
	char err[CONFIG_ERR_LEN] = "";

	static const uint8_t unset_secret[COOKIE_SECRET_LEN];
	int consumed = 0;

	if (!old->config.path) {
		snprintf(why, CONFIG_ERR_LEN,
			 "no configuration file (started from flags only); nothing to do");
		log_warnx("reload: %s", why);
		cv_cfg_put(old);
		return -ENOENT;
	}
	/* The same command line again, so flags keep overriding the (re-read) file. */
	config_init(&config);
	if (config_parse_args(&config, shared->argc - 1, shared->argv + 1, &consumed, err) == 0 &&
	    !memcmp(config.converter.cookie_secret.key, unset_secret, COOKIE_SECRET_LEN))
		/* A generated secret survives reloads: outstanding cookies stay valid. */
		memcpy(config.converter.cookie_secret.key, old->config.converter.cookie_secret.key,
		       COOKIE_SECRET_LEN);
	if (err[0] || config_finish(&config, err) < 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		snprintf(why, CONFIG_ERR_LEN, "%s; keeping the running configuration", err);
		config_free(&config);
		cv_cfg_put(old);
		return -EINVAL;
	}
	if (config.converter.listen_len != old->config.converter.listen_len ||
	    memcmp(config.converter.listen, old->config.converter.listen,
		   sizeof(config.converter.listen[0]) * config.converter.listen_len))
		log_warnx("reload: listen addresses changed; they take effect at restart");
	if (strcmp(config.converter.common.control.socket, old->config.converter.common.control.socket) ||
	    config.converter.common.control.metrics != old->config.converter.common.control.metrics ||
	    memcmp(&config.converter.common.control.metrics_listen,
		   &old->config.converter.common.control.metrics_listen,
		   sizeof(config.converter.common.control.metrics_listen)))
		log_warnx("reload: control-socket or metrics-listen changed; they take effect at "
			  "restart");
	fresh = cv_cfg_new(&config);
	if (!fresh) {
		snprintf(why, CONFIG_ERR_LEN, "cannot build the new configuration");
		config_free(&config);
		cv_cfg_put(old);
		return -ENOMEM;
	}
	log_set_level(fresh->config.converter.common.log_level);
	pthread_mutex_lock(&shared->cfg_lock);
	shared->cfg = fresh;
	pthread_mutex_unlock(&shared->cfg_lock);
	cv_cfg_put(old); /* our reference */
	cv_cfg_put(old); /* the one shared->cfg held; live sessions keep theirs */
	log_info("reload: configuration from %s applied to new sessions", fresh->config.path);
	snprintf(why, CONFIG_ERR_LEN, "configuration from %s applied to new sessions",
		 fresh->config.path);
	return 0;
}
