/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_COOKIE_H
#define MPCONV_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * RFC 8803 Cookie TLV values, bound to the client address with a keyed MAC.
 * Stateless rotation: the cookie carries its epoch (time / rotate_seconds) and the MAC covers
 * epoch and address, so no per-client state is kept and no key needs swapping between threads.
 * A cookie is valid in its own epoch and the one after it.
 *   cookie = epoch (4 bytes, big endian) || HMAC-SHA256(secret, epoch || client ip[16])[0..15]
 */
#define COOKIE_SECRET_LEN 32
#define COOKIE_LEN	  20

struct cookie_secret {
	uint8_t key[COOKIE_SECRET_LEN];
	uint32_t rotate_seconds; /* epoch length; > 0 */
};

/* Fills key from getrandom(). 0 or -errno. */
int cookie_secret_random(struct cookie_secret *secret, uint32_t rotate_seconds);
/* now: seconds since the epoch (time(NULL)); passed in so tests control time. */
void cookie_make(const struct cookie_secret *secret, const uint8_t client_ip[16], uint64_t now,
		 uint8_t out[COOKIE_LEN]);
bool cookie_check(const struct cookie_secret *secret, const uint8_t client_ip[16], uint64_t now,
		  const uint8_t *cookie, size_t len);

#endif
