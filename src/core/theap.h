#ifndef NETGRIND_CORE_THEAP_H
#define NETGRIND_CORE_THEAP_H

/* A binary min-heap of timer nodes keyed by deadline, with O(log n) push, pop and removal
 * of any node (each node remembers its index). Nodes with equal deadlines come out in the
 * order they were pushed, so timer order is deterministic. Pure: no allocation per node,
 * the caller embeds struct theap_node in its own state. Not thread-safe: one heap belongs to
 * one loop thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THEAP_NONE SIZE_MAX

struct theap_node {
    uint64_t deadline_ns;
    uint64_t order; /* push sequence number: ties break first-in first-out */
    size_t index;   /* position in the heap, THEAP_NONE when not in a heap */
};

struct theap {
    struct theap_node **nodes;
    size_t len, cap;
    uint64_t next_order;
};

/* An empty heap; grows on demand. */
void theap_init(struct theap *h);
/* Frees the heap's array (not the nodes). */
void theap_free(struct theap *h);
/* A node not in any heap. */
void theap_node_init(struct theap_node *n);
static inline bool theap_node_queued(const struct theap_node *n)
{
    return n->index != THEAP_NONE;
}

/* Inserts n with the given deadline; if n is already in h it is moved instead.
 * Returns 0 or -ENOMEM (n then stays out of the heap). */
int theap_push(struct theap *h, struct theap_node *n, uint64_t deadline_ns);
/* Removes n if it is in h; a node not queued is ignored. */
void theap_remove(struct theap *h, struct theap_node *n);
/* The earliest node, or NULL when empty. */
struct theap_node *theap_peek(const struct theap *h);
/* Removes and returns the earliest node, or NULL when empty. */
struct theap_node *theap_pop(struct theap *h);
static inline size_t theap_len(const struct theap *h)
{
    return h->len;
}

#endif
