/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CLIENTS_H
#define MPCONV_CLIENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Per-client-address counters shared by all workers (SO_REUSEPORT spreads one client's
 * connections over every worker), for the per-client limits. Touched at session start, phase
 * changes and close, never per packet, so a mutex is fine. Fixed capacity, no allocation after
 * init: a client entry exists while it has at least one counted connection.
 */
enum clients_counter {
	CLIENTS_SESSIONS, /* every connection of this client */
	CLIENTS_IDLE,	  /* connected, Convert message not yet received */
	CLIENTS_PENDING,  /* downstream connect in flight */
	CLIENTS_COUNTERS
};

struct clients_entry {
	uint8_t ip[16];
	uint32_t count[CLIENTS_COUNTERS];
	uint64_t warned_ms; /* when a refusal of this client was last logged */
	int32_t next; /* hash chain or free list; -1 = end */
};

struct clients {
	pthread_mutex_t lock;
	struct clients_entry *entries; /* owned, capacity entries */
	int32_t *buckets;	       /* owned, bucket_count heads */
	size_t capacity, bucket_count;
	int32_t free_head;
	uint64_t tableless_warned_ms; /* the same, for clients the full table could not hold */
};

/* capacity = most distinct clients tracked at once (>= max sessions). 0 or -ENOMEM. */
int clients_init(struct clients *clients, size_t capacity);
void clients_destroy(struct clients *clients);
/*
 * Adds one to counter `which` of `ip` unless it already reached `limit` (0 = no limit).
 * true if counted; false if over the limit or the table is full (callers answer both with
 * Resource Exceeded).
 */
bool clients_acquire(struct clients *clients, const uint8_t ip[16], enum clients_counter which,
		     uint32_t limit);
/* Undoes one clients_acquire that returned true. */
void clients_release(struct clients *clients, const uint8_t ip[16], enum clients_counter which);
/* Whether a refusal of ip should be logged now: true at most once per interval_ms per client
 * (and once per interval for all clients the table had no room for); records it. */
bool clients_warn_due(struct clients *clients, const uint8_t ip[16], uint64_t now_ms,
		      uint64_t interval_ms);
uint32_t clients_count(struct clients *clients, const uint8_t ip[16], enum clients_counter which);

#endif
