/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_OWNADDR_H
#define MPCONV_OWNADDR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"

/*
 * The host's own addresses, kept current: every destination the kernel would deliver locally
 * (the `local` routing table's local, broadcast and anycast routes: each address of each
 * interface, directed broadcasts, AnyIP prefixes). Read from an rtnetlink dump at start and
 * dumped again whenever the kernel announces a change to that table, so an address added after
 * start is refused as soon as the kernel has it. One thread (the converter's main loop) reads
 * the notifications; any thread may ask ownaddr_contains (a read lock, once per session).
 */
struct mnl_socket;

struct ownaddr {
	pthread_rwlock_t lock;
	struct acl set;		   /* under lock */
	struct mnl_socket *events; /* owned: route notifications, non-blocking */
	struct mnl_socket *dump;   /* owned: requests */
	uint32_t seq;
	unsigned long refreshes; /* dumps done, for logs and tests */
};

/* Subscribes and dumps once. 0 or -errno (nothing to free on failure). */
int ownaddr_start(struct ownaddr *own);
void ownaddr_stop(struct ownaddr *own);
/* The notification socket to poll for input. */
int ownaddr_fd(const struct ownaddr *own);
/* Drains the notifications; dumps again when one touched the local table or some were lost.
 * 1 when the set was refreshed, 0 when nothing relevant came, -errno on failure (the old set
 * stays in force). */
int ownaddr_on_readable(struct ownaddr *own);
/* Dumps the local table and swaps the new set in. 0 or -errno. */
int ownaddr_refresh(struct ownaddr *own);
bool ownaddr_contains(struct ownaddr *own, const uint8_t ip[16]);
/* For dest_policy.is_own. */
bool ownaddr_is_own(void *own, const uint8_t ip[16]);
size_t ownaddr_count(struct ownaddr *own);

#endif
