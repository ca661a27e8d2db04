/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_LIST_H
#define MPCONV_LIST_H

#include <stddef.h>

/*
 * An intrusive doubly linked list with a count: the owner embeds a struct list_node in each
 * element and one struct list for the whole. Unlinking is O(1) and happens in one place, so no
 * module hand-rolls its own prev/next bookkeeping. Not thread-safe: one owner, one thread.
 */
struct list_node {
	struct list_node *prev, *next;
};

struct list {
	struct list_node *first;
	size_t len;
};

#define list_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* Adds node at the front. */
static inline void list_push(struct list *list, struct list_node *node)
{
	node->prev = NULL;
	node->next = list->first;
	if (list->first)
		list->first->prev = node;
	list->first = node;
	list->len++;
}

/* Unlinks node, which must be on list. */
static inline void list_remove(struct list *list, struct list_node *node)
{
	if (node->prev)
		node->prev->next = node->next;
	else
		list->first = node->next;
	if (node->next)
		node->next->prev = node->prev;
	node->prev = node->next = NULL;
	list->len--;
}

#endif
