// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RFC 8803 cookies: epoch || truncated HMAC-SHA256 over epoch and client address.
 * Owns no state beyond libsodium's one-time initialisation; the secret belongs to the config.
 * Must never compare MACs with memcmp (timing leaks which byte differs) and never keep
 * per-client state: validation is a pure function of secret, address, time and cookie bytes.
 */
#include "cookie.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

#define COOKIE_EPOCH_LEN 4
#define COOKIE_MAC_LEN	 (COOKIE_LEN - COOKIE_EPOCH_LEN)

static_assert(COOKIE_SECRET_LEN == crypto_auth_hmacsha256_KEYBYTES, "key size");
static_assert(COOKIE_MAC_LEN <= crypto_auth_hmacsha256_BYTES, "truncated MAC");

/*
 * sodium_init() is thread-safe and idempotent, so a race here costs one redundant call. A
 * failure is retried on the next cookie, not reported: HMAC-SHA256 is plain C with no runtime
 * CPU dispatch and gives the same bytes either way.
 */
static void cookie_sodium_init(void)
{
	static atomic_bool ready;

	if (atomic_load_explicit(&ready, memory_order_acquire))
		return;
	if (sodium_init() < 0)
		return; /* tried again next time */
	atomic_store_explicit(&ready, true, memory_order_release);
}

int cookie_secret_random(struct cookie_secret *secret, uint32_t rotate_seconds)
{
	size_t done = 0;

	if (rotate_seconds == 0)
		return -EINVAL;
	while (done < sizeof(secret->key)) {
		ssize_t n = getrandom(secret->key + done, sizeof(secret->key) - done, 0);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	secret->rotate_seconds = rotate_seconds;
	return 0;
}

static void cookie_mac(const struct cookie_secret *secret, const uint8_t client_ip[16],
		       const uint8_t epoch_be[COOKIE_EPOCH_LEN], uint8_t mac[COOKIE_MAC_LEN])
{
	uint8_t msg[COOKIE_EPOCH_LEN + 16];
	uint8_t full[crypto_auth_hmacsha256_BYTES];

	cookie_sodium_init();
	memcpy(msg, epoch_be, COOKIE_EPOCH_LEN);
	memcpy(msg + COOKIE_EPOCH_LEN, client_ip, 16);
	crypto_auth_hmacsha256(full, msg, sizeof(msg), secret->key);
	memcpy(mac, full, COOKIE_MAC_LEN);
}

/* Epochs count modulo 2^32: with the shortest rotation (1 s) that wraps after 136 years, and the
 * unsigned difference below stays right across the wrap anyway. */
static uint32_t cookie_epoch(const struct cookie_secret *secret, uint64_t now)
{
	assert(secret->rotate_seconds > 0);
	return (uint32_t)(now / secret->rotate_seconds);
}

void cookie_make(const struct cookie_secret *secret, const uint8_t client_ip[16], uint64_t now,
		 uint8_t out[COOKIE_LEN])
{
	uint32_t epoch = cookie_epoch(secret, now);

	out[0] = (uint8_t)(epoch >> 24);
	out[1] = (uint8_t)(epoch >> 16);
	out[2] = (uint8_t)(epoch >> 8);
	out[3] = (uint8_t)epoch;
	cookie_mac(secret, client_ip, out, out + COOKIE_EPOCH_LEN);
}

bool cookie_check(const struct cookie_secret *secret, const uint8_t client_ip[16], uint64_t now,
		  const uint8_t *cookie, size_t len)
{
	uint8_t mac[COOKIE_MAC_LEN];
	uint32_t epoch, age;

	if (len != COOKIE_LEN)
		return false;
	epoch = (uint32_t)cookie[0] << 24 | (uint32_t)cookie[1] << 16 | (uint32_t)cookie[2] << 8 |
		(uint32_t)cookie[3];
	/* Valid in its own epoch and the next: a cookie issued just before a boundary still works
	 * for at least one full period. A cookie from the future is refused too (age wraps). */
	age = cookie_epoch(secret, now) - epoch;
	if (age > 1)
		return false;
	cookie_mac(secret, client_ip, cookie, mac);
	return sodium_memcmp(mac, cookie + COOKIE_EPOCH_LEN, COOKIE_MAC_LEN) == 0;
}
