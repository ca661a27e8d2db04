// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-client counters for the converter's limits: a chained hash table over a fixed array of
 * entries with a free list. Owns both arrays; allocates only in clients_init. Never trusts a
 * release without a matching acquire: counters do not wrap below zero.
 */
#include "clients.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int clients_init(struct clients *clients, size_t capacity)
{
	size_t buckets = 64;

	memset(clients, 0, sizeof(*clients));
	if (capacity == 0 || capacity > INT32_MAX / 2)
		return -EINVAL;
	while (buckets < capacity)
		buckets *= 2;
	clients->entries = calloc(capacity, sizeof(*clients->entries));
	clients->buckets = malloc(buckets * sizeof(*clients->buckets));
	if (!clients->entries || !clients->buckets) {
		free(clients->entries);
		free(clients->buckets);
		return -ENOMEM;
	}
	pthread_mutex_init(&clients->lock, NULL);
	clients->capacity = capacity;
	clients->bucket_count = buckets;
	for (size_t i = 0; i < buckets; i++)
		clients->buckets[i] = -1;
	for (size_t i = 0; i < capacity; i++)
		clients->entries[i].next = i + 1 < capacity ? (int32_t)(i + 1) : -1;
	clients->free_head = 0;
	return 0;
}

void clients_destroy(struct clients *clients)
{
	if (!clients->entries)
		return;
	pthread_mutex_destroy(&clients->lock);
	free(clients->entries);
	free(clients->buckets);
	memset(clients, 0, sizeof(*clients));
}

/* FNV-1a: addresses are not secret and chains stay short at our load factor. */
static size_t bucket_of(const struct clients *clients, const uint8_t ip[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h & (clients->bucket_count - 1);
}

/* Returns the entry index or -1; *link points at the reference to it (for unlinking). */
static int32_t find(struct clients *clients, const uint8_t ip[16], int32_t **link)
{
	int32_t *ref = &clients->buckets[bucket_of(clients, ip)];

	while (*ref != -1 && memcmp(clients->entries[*ref].ip, ip, 16) != 0)
		ref = &clients->entries[*ref].next;
	*link = ref;
	return *ref;
}

/* Unlinks entry idx (referenced by *link) and frees it once no counter holds it. */
static void drop_if_unused(struct clients *clients, int32_t *link, int32_t idx)
{
	struct clients_entry *e = &clients->entries[idx];

	for (int i = 0; i < CLIENTS_COUNTERS; i++)
		if (e->count[i] != 0)
			return;
	*link = e->next;
	e->next = clients->free_head;
	clients->free_head = idx;
}

bool clients_acquire(struct clients *clients, const uint8_t ip[16], enum clients_counter which,
		     uint32_t limit)
{
	int32_t *link, idx;
	bool counted = false;

	pthread_mutex_lock(&clients->lock);
	idx = find(clients, ip, &link);
	if (idx == -1 && clients->free_head != -1) {
		idx = clients->free_head;
		clients->free_head = clients->entries[idx].next;
		memcpy(clients->entries[idx].ip, ip, 16);
		memset(clients->entries[idx].count, 0, sizeof(clients->entries[idx].count));
		clients->entries[idx].warned_ms = 0;
		clients->entries[idx].next = -1;
		*link = idx;
	}
	if (idx != -1 && (limit == 0 || clients->entries[idx].count[which] < limit)) {
		clients->entries[idx].count[which]++;
		counted = true;
	}
	if (idx != -1 && !counted)
		drop_if_unused(clients, link, idx); /* a fresh entry that counted nothing */
	pthread_mutex_unlock(&clients->lock);
	return counted;
}

void clients_release(struct clients *clients, const uint8_t ip[16], enum clients_counter which)
{
	int32_t *link, idx;

	pthread_mutex_lock(&clients->lock);
	idx = find(clients, ip, &link);
	if (idx != -1) {
		if (clients->entries[idx].count[which] > 0)
			clients->entries[idx].count[which]--;
		drop_if_unused(clients, link, idx);
	}
	pthread_mutex_unlock(&clients->lock);
}

static bool clients_due(uint64_t *last_ms, uint64_t now_ms, uint64_t interval_ms)
{
	if (*last_ms && now_ms - *last_ms < interval_ms)
		return false;
	*last_ms = now_ms ? now_ms : 1;
	return true;
}

bool clients_warn_due(struct clients *clients, const uint8_t ip[16], uint64_t now_ms,
		      uint64_t interval_ms)
{
	int32_t *link, idx;
	bool due;

	pthread_mutex_lock(&clients->lock);
	idx = find(clients, ip, &link);
	due = clients_due(idx != -1 ? &clients->entries[idx].warned_ms
				    : &clients->tableless_warned_ms,
			  now_ms, interval_ms);
	pthread_mutex_unlock(&clients->lock);
	return due;
}

uint32_t clients_count(struct clients *clients, const uint8_t ip[16], enum clients_counter which)
{
	int32_t *link, idx;
	uint32_t n = 0;

	pthread_mutex_lock(&clients->lock);
	idx = find(clients, ip, &link);
	if (idx != -1)
		n = clients->entries[idx].count[which];
	pthread_mutex_unlock(&clients->lock);
	return n;
}
