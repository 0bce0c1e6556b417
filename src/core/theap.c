/* A binary min-heap of timer nodes; see theap.h.
 *
 * The key is (deadline_ns, order): order is a per-heap sequence number taken at push time,
 * so two nodes with the same deadline leave in the order they were pushed. Every node keeps
 * its own index, so removing an arbitrary node is a swap with the last slot and one sift
 * (up or down) — O(log n) with no search. */

#include "core/theap.h"

#include <errno.h>
#include <stdlib.h>

#define THEAP_MIN_CAP 16

void theap_init(struct theap *h)
{
    h->nodes = NULL;
    h->len = 0;
    h->cap = 0;
    h->next_order = 0;
}

void theap_free(struct theap *h)
{
    for (size_t i = 0; i < h->len; i++)
        h->nodes[i]->index = THEAP_NONE;
    free(h->nodes);
    theap_init(h);
}

void theap_node_init(struct theap_node *n)
{
    n->deadline_ns = 0;
    n->order = 0;
    n->index = THEAP_NONE;
}

static bool theap_before(const struct theap_node *a, const struct theap_node *b)
{
    if (a->deadline_ns != b->deadline_ns)
        return a->deadline_ns < b->deadline_ns;
    return a->order < b->order;
}

static void theap_place(struct theap *h, struct theap_node *n, size_t i)
{
    h->nodes[i] = n;
    n->index = i;
}

/* Moves the node at i towards the root while it sorts before its parent. */
static void theap_sift_up(struct theap *h, size_t i)
{
    struct theap_node *n = h->nodes[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!theap_before(n, h->nodes[parent]))
            break;
        theap_place(h, h->nodes[parent], i);
        i = parent;
    }
    theap_place(h, n, i);
}

/* Moves the node at i towards the leaves while a child sorts before it. */
static void theap_sift_down(struct theap *h, size_t i)
{
    struct theap_node *n = h->nodes[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && theap_before(h->nodes[child + 1], h->nodes[child]))
            child++;
        if (!theap_before(h->nodes[child], n))
            break;
        theap_place(h, h->nodes[child], i);
        i = child;
    }
    theap_place(h, n, i);
}

static int theap_reserve(struct theap *h, size_t want)
{
    if (want <= h->cap)
        return 0;
    size_t cap = h->cap ? h->cap * 2 : THEAP_MIN_CAP;
    while (cap < want)
        cap *= 2;
    struct theap_node **nodes = realloc(h->nodes, cap * sizeof(*nodes));
    if (!nodes)
        return -ENOMEM;
    h->nodes = nodes;
    h->cap = cap;
    return 0;
}

int theap_push(struct theap *h, struct theap_node *n, uint64_t deadline_ns)
{
    /* A re-armed node goes behind others with the same deadline, as a fresh push would. */
    if (theap_node_queued(n))
        theap_remove(h, n);
    if (theap_reserve(h, h->len + 1) < 0)
        return -ENOMEM;
    n->deadline_ns = deadline_ns;
    n->order = h->next_order++;
    theap_place(h, n, h->len++);
    theap_sift_up(h, n->index);
    return 0;
}

void theap_remove(struct theap *h, struct theap_node *n)
{
    size_t i = n->index;

    if (i == THEAP_NONE || i >= h->len || h->nodes[i] != n)
        return; /* not queued, or queued in another heap */
    n->index = THEAP_NONE;
    struct theap_node *last = h->nodes[--h->len];
    if (i == h->len)
        return;
    theap_place(h, last, i);
    if (i > 0 && theap_before(last, h->nodes[(i - 1) / 2]))
        theap_sift_up(h, i);
    else
        theap_sift_down(h, i);
}

struct theap_node *theap_peek(const struct theap *h)
{
    return h->len ? h->nodes[0] : NULL;
}

struct theap_node *theap_pop(struct theap *h)
{
    struct theap_node *n = theap_peek(h);

    if (n)
        theap_remove(h, n);
    return n;
}
