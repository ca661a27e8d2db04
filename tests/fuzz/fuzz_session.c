// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target for the converter's session code, not only its codec: an input is what a client
 * sends on a fresh connection (first byte: 0 = open converter, 1 = cookies required), run
 * through the real session (peek, parse, cookie, ACL, destination filter, reply, close) on a
 * worker's event loop over a socketpair. The harness denies every destination, so no input can
 * make it connect anywhere. Properties: the session always ends, never leaks, and whatever it
 * answers parses as a valid converter message.
 */
#include "../../src/converter/session.c"

#define FZ_GUARD_MS 5000

struct fz_converter {
	struct cv_shared shared;
	struct cv_worker worker;
};

static struct fz_converter fz[2];

static void fz_set(struct config *config, const char *key, const char *value)
{
	char err[CONFIG_ERR_LEN];

	if (config_set(config, key, value, err) < 0) {
		fprintf(stderr, "fuzz_session: %s\n", err);
		abort();
	}
}

static void fz_init(struct fz_converter *c, bool cookies)
{
	struct config config;
	char err[CONFIG_ERR_LEN];

	config_init(&config);
	fz_set(&config, "allow", "0.0.0.0/0");
	fz_set(&config, "allow", "::/0");
	fz_set(&config, "allow-any", "yes"); /* every client: the harness is the only one */
	fz_set(&config, "deny-destination", "0.0.0.0/0");
	fz_set(&config, "deny-destination", "::/0");
	fz_set(&config, "error-grace", "0");
	fz_set(&config, "log-level", "error");
	if (cookies)
		fz_set(&config, "cookies", "yes");
	if (config_finish(&config, err) < 0) {
		fprintf(stderr, "fuzz_session: %s\n", err);
		abort();
	}
	config.converter.listen_len = 0; /* the harness hands sessions their socket itself */
	log_set_level(LOG_LEVEL_ERR);
	pthread_mutex_init(&c->shared.cfg_lock, NULL);
	if (clients_init(&c->shared.clients, 64) < 0)
		abort();
	c->shared.cfg = cv_cfg_new(&config);
	if (!c->shared.cfg ||
	    cv_worker_init(&c->worker, 0, &c->shared, &c->shared.cfg->config.converter) < 0)
		abort();
	c->worker.draining = true; /* cv_close stops the loop once the session is gone */
}

static void fz_guard_expired(struct loop_timer *timer)
{
	fprintf(stderr, "fuzz_session: session still open after %d ms\n", FZ_GUARD_MS);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct loop_timer guard;
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct fz_converter *c;
	uint8_t reply[4096];
	ssize_t n;
	int sv[2];
	bool socks;

	if (!ready) {
		fz_init(&fz[0], false);
		fz_init(&fz[1], true);
		ready = true;
	}
	if (size < 1)
		return 0;
	c = &fz[data[0] & 1];
	data++;
	size = size - 1 > 4096 ? 4096 : size - 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);

	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	sin->sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	/* A Convert message starts with version 1, a SOCKS greeting with 5: the same input
	 * drives whichever listener would have accepted it. */
	socks = size && data[0] == 5;
	cv_open_session(&c->worker, sv[0], &ss, sizeof(*sin),
			socks ? CV_PROTO_SOCKS : CV_PROTO_CONVERT);
	if (c->worker.sessions.len) {
		loop_timer_init(&guard, fz_guard_expired);
		c->worker.loop.stopping = false;
		c->worker.loop.now_ms = loop_clock_ms();
		loop_timer_arm(&c->worker.loop, &guard, FZ_GUARD_MS);
		loop_run(&c->worker.loop);
		loop_timer_cancel(&c->worker.loop, &guard);
	}
	if (c->worker.sessions.len)
		abort();

	n = read(sv[1], reply, sizeof(reply));
	if (n > 0 && socks) {
		/* the method choice, then (if a request came) a reply; never anything else */
		enum socks_reply code;
		int len = socks_parse_server(reply, (size_t)n, &code);

		if (!(reply[0] == 5 && (n == 2 || len == n))) {
			fprintf(stderr, "fuzz_session: SOCKS answer does not parse (%zd bytes)\n", n);
			abort();
		}
	} else if (n > 0) {
		struct conv_message msg;
		struct conv_parse_error perr;

		if (conv_parse(reply, (size_t)n, CONV_MAX_LEN, CONV_FROM_CONVERTER, CONV_PARSE_EOF,
			       &msg, &perr) < 0) {
			fprintf(stderr, "fuzz_session: reply does not parse: %s\n", perr.reason);
			abort();
		}
	}
	close(sv[1]);
	return 0;
}
