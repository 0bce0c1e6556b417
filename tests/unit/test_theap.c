/* Timer heap: a model check against a sorted array over many random operations, plus the
 * edge cases (empty heap, FIFO ties, re-push moves, removal of nodes not queued). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/theap.h"

#define MODEL_NODES 512
#define MODEL_OPS 100000

/* The model: the queued node ids in the order they must come out, kept sorted by
 * (deadline, push sequence) with a plain insertion. */
struct model {
    size_t len;
    unsigned ids[MODEL_NODES];
    uint64_t deadline[MODEL_NODES];
    uint64_t seq[MODEL_NODES];
    uint64_t next_seq;
};

static uint64_t test_rng_state = 0x9E3779B97F4A7C15ULL;

/* splitmix64: a small deterministic generator for the test only. */
static uint64_t test_rand(void)
{
    uint64_t z = (test_rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static long model_find(const struct model *m, unsigned id)
{
    for (size_t i = 0; i < m->len; i++)
        if (m->ids[i] == id)
            return (long)i;
    return -1;
}

static void model_remove(struct model *m, unsigned id)
{
    long i = model_find(m, id);
    if (i < 0)
        return;
    memmove(&m->ids[i], &m->ids[i + 1], (m->len - (size_t)i - 1) * sizeof(m->ids[0]));
    m->len--;
}

static bool model_before(const struct model *m, unsigned a, unsigned b)
{
    if (m->deadline[a] != m->deadline[b])
        return m->deadline[a] < m->deadline[b];
    return m->seq[a] < m->seq[b];
}

static void model_push(struct model *m, unsigned id, uint64_t deadline)
{
    model_remove(m, id);
    m->deadline[id] = deadline;
    m->seq[id] = m->next_seq++;
    size_t i = m->len;
    while (i > 0 && model_before(m, id, m->ids[i - 1])) {
        m->ids[i] = m->ids[i - 1];
        i--;
    }
    m->ids[i] = id;
    m->len++;
}

static void test_model_check(void **state)
{
    (void)state;
    static struct theap_node nodes[MODEL_NODES];
    static struct model m;
    struct theap h;
    size_t pops = 0, ties = 0;

    memset(&m, 0, sizeof(m));
    theap_init(&h);
    for (unsigned i = 0; i < MODEL_NODES; i++)
        theap_node_init(&nodes[i]);

    for (unsigned op = 0; op < MODEL_OPS; op++) {
        unsigned id = (unsigned)(test_rand() % MODEL_NODES);
        unsigned kind = (unsigned)(test_rand() % 10);
        /* A narrow deadline range so equal deadlines are common. */
        uint64_t deadline = 1000 + test_rand() % 64;

        if (kind < 5) {
            assert_int_equal(theap_push(&h, &nodes[id], deadline), 0);
            model_push(&m, id, deadline);
        } else if (kind < 7) {
            theap_remove(&h, &nodes[id]);
            model_remove(&m, id);
        } else {
            struct theap_node *n = theap_pop(&h);
            if (m.len == 0) {
                assert_null(n);
            } else {
                unsigned want = m.ids[0];
                assert_ptr_equal(n, &nodes[want]);
                if (m.len > 1 && m.deadline[m.ids[1]] == m.deadline[want])
                    ties++;
                model_remove(&m, want);
                pops++;
            }
            if (n)
                assert_false(theap_node_queued(n));
        }
        assert_int_equal(theap_len(&h), m.len);
        struct theap_node *top = theap_peek(&h);
        if (m.len)
            assert_ptr_equal(top, &nodes[m.ids[0]]);
        else
            assert_null(top);
        assert_true(theap_node_queued(&nodes[id]) == (model_find(&m, id) >= 0));
    }
    /* Drain: everything comes out in model order. */
    for (size_t i = 0; i < m.len; i++)
        assert_ptr_equal(theap_pop(&h), &nodes[m.ids[i]]);
    assert_null(theap_pop(&h));
    /* The run must actually have exercised pops and FIFO ties. */
    assert_true(pops > 10000);
    assert_true(ties > 1000);
    theap_free(&h);
}

static void test_empty(void **state)
{
    (void)state;
    struct theap h;
    struct theap_node n;

    theap_init(&h);
    theap_node_init(&n);
    assert_null(theap_peek(&h));
    assert_null(theap_pop(&h));
    assert_int_equal(theap_len(&h), 0);
    theap_remove(&h, &n); /* not queued: ignored */
    assert_false(theap_node_queued(&n));
    theap_free(&h);
}

static void test_fifo_ties(void **state)
{
    (void)state;
    struct theap h;
    struct theap_node n[100];

    theap_init(&h);
    for (int i = 0; i < 100; i++) {
        theap_node_init(&n[i]);
        assert_int_equal(theap_push(&h, &n[i], 42), 0);
    }
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(theap_pop(&h), &n[i]);
    theap_free(&h);
}

static void test_repush_moves(void **state)
{
    (void)state;
    struct theap h;
    struct theap_node a, b, c;

    theap_init(&h);
    theap_node_init(&a);
    theap_node_init(&b);
    theap_node_init(&c);
    assert_int_equal(theap_push(&h, &a, 10), 0);
    assert_int_equal(theap_push(&h, &b, 20), 0);
    assert_int_equal(theap_push(&h, &c, 20), 0);
    /* Moving a later puts it behind b and c, which share its new deadline. */
    assert_int_equal(theap_push(&h, &a, 20), 0);
    assert_int_equal(theap_len(&h), 3);
    assert_ptr_equal(theap_pop(&h), &b);
    assert_ptr_equal(theap_pop(&h), &c);
    assert_ptr_equal(theap_pop(&h), &a);
    assert_int_equal(a.deadline_ns, 20);
    theap_free(&h);
}

static void test_free_unqueues(void **state)
{
    (void)state;
    struct theap h;
    struct theap_node a;

    theap_init(&h);
    theap_node_init(&a);
    assert_int_equal(theap_push(&h, &a, 5), 0);
    theap_free(&h);
    assert_false(theap_node_queued(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_check),   cmocka_unit_test(test_empty),
        cmocka_unit_test(test_fifo_ties),     cmocka_unit_test(test_repush_moves),
        cmocka_unit_test(test_free_unqueues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
