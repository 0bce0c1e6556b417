/* Worker pool: init and call_all run on each worker's own thread, posts keep their order,
 * workers block the signals, posts to the control loop arrive, stopped or never-started
 * workers never hang call_all, stop and free are idempotent. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/loop.h"
#include "core/util.h"
#include "core/worker.h"

#define NWORKERS 3
#define NPOSTS 500

struct wstate {
    pthread_t init_thread;
    pthread_t call_thread;
    unsigned calls;
    bool blocks_sigint, blocks_sigterm, blocks_sigpipe, blocks_sigusr1;
    unsigned seq_seen;
    bool seq_in_order;
};

static struct wstate states[NWORKERS];

static void on_init(struct worker *w)
{
    struct wstate *s = &states[w->index];
    sigset_t mask;

    w->state = s;
    s->init_thread = pthread_self();
    s->seq_in_order = true;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    s->blocks_sigint = sigismember(&mask, SIGINT);
    s->blocks_sigterm = sigismember(&mask, SIGTERM);
    s->blocks_sigpipe = sigismember(&mask, SIGPIPE);
    s->blocks_sigusr1 = sigismember(&mask, SIGUSR1);
}

static void on_call(struct worker *w, void *arg)
{
    struct wstate *s = w->state;
    unsigned *total = arg;

    s->call_thread = pthread_self();
    s->calls++;
    __atomic_fetch_add(total, 1, __ATOMIC_RELAXED);
}

static void on_seq(struct worker *w, void *arg)
{
    struct wstate *s = w->state;
    unsigned n = (unsigned)(uintptr_t)arg;

    if (n != s->seq_seen)
        s->seq_in_order = false;
    s->seq_seen++;
}

static struct worker_pool *new_pool(unsigned n, struct loop *control)
{
    char err[256] = "";
    struct worker_pool *p = worker_pool_new(n, control, err, sizeof(err));
    if (!p)
        fail_msg("worker_pool_new: %s", err);
    return p;
}

static void start_pool(struct worker_pool *p)
{
    char err[256] = "";
    memset(states, 0, sizeof(states));
    if (worker_pool_start(p, on_init, err, sizeof(err)) != 0)
        fail_msg("worker_pool_start: %s", err);
}

static void test_call_all_on_own_threads(void **state)
{
    (void)state;
    struct worker_pool *p = new_pool(NWORKERS, NULL);
    unsigned total = 0;

    assert_int_equal(worker_pool_size(p), NWORKERS);
    assert_null(worker_pool_get(p, NWORKERS));
    start_pool(p);
    /* The start barrier: every init has run once start returns. */
    for (unsigned i = 0; i < NWORKERS; i++) {
        struct worker *w = worker_pool_get(p, i);
        assert_int_equal(w->index, i);
        assert_ptr_equal(w->pool, p);
        assert_ptr_equal(w->state, &states[i]);
        assert_true(pthread_equal(states[i].init_thread, w->thread));
    }
    for (int round = 1; round <= 3; round++) {
        assert_int_equal(worker_pool_call_all(p, on_call, &total), NWORKERS);
        assert_int_equal(total, NWORKERS * round);
        for (unsigned i = 0; i < NWORKERS; i++) {
            struct worker *w = worker_pool_get(p, i);
            assert_int_equal(states[i].calls, round);
            assert_true(pthread_equal(states[i].call_thread, w->thread));
            assert_false(pthread_equal(states[i].call_thread, pthread_self()));
            for (unsigned j = 0; j < i; j++)
                assert_false(pthread_equal(states[i].call_thread, states[j].call_thread));
        }
    }
    worker_pool_free(p);
}

static void test_workers_block_signals(void **state)
{
    (void)state;
    struct worker_pool *p = new_pool(2, NULL);
    sigset_t before, after;

    pthread_sigmask(SIG_SETMASK, NULL, &before);
    start_pool(p);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    for (unsigned i = 0; i < 2; i++) {
        assert_true(states[i].blocks_sigint);
        assert_true(states[i].blocks_sigterm);
        assert_true(states[i].blocks_sigpipe);
        assert_true(states[i].blocks_sigusr1);
    }
    /* The control thread's own mask is unchanged. */
    assert_int_equal(sigismember(&before, SIGINT), sigismember(&after, SIGINT));
    assert_int_equal(sigismember(&before, SIGTERM), sigismember(&after, SIGTERM));
    worker_pool_free(p);
}

static void test_post_order(void **state)
{
    (void)state;
    struct worker_pool *p = new_pool(2, NULL);
    unsigned total = 0;

    start_pool(p);
    for (unsigned i = 0; i < NPOSTS; i++) {
        assert_int_equal(worker_post(worker_pool_get(p, 0), on_seq, (void *)(uintptr_t)i), 0);
        assert_int_equal(worker_pool_post_all(p, on_seq, (void *)(uintptr_t)i), 0);
    }
    /* call_all is queued behind the posts, so when it returns they have all run. */
    assert_int_equal(worker_pool_call_all(p, on_call, &total), 2);
    assert_int_equal(states[0].seq_seen, 2 * NPOSTS);
    assert_int_equal(states[1].seq_seen, NPOSTS);
    assert_true(states[1].seq_in_order);
    /* Worker 0 got each number twice in a row: its own order is i, i, i+1, i+1, ... */
    assert_false(states[0].seq_in_order);
    worker_pool_free(p);
}

/* worker -> control: the control loop runs the call, which stops it. */
struct control_test {
    struct loop *control;
    pthread_t ran_on;
    unsigned runs;
    int post_rc;
};

static struct control_test ct;

static void on_control(void *arg)
{
    struct control_test *c = arg;
    c->ran_on = pthread_self();
    c->runs++;
    loop_stop(c->control);
}

static void post_to_control(struct worker *w, void *arg)
{
    (void)arg;
    ct.post_rc = worker_post_control(w, on_control, &ct); /* checked on the main thread */
}

static bool guard_fired;
static void on_guard(struct loop *loop, struct loop_timer *t)
{
    (void)t;
    guard_fired = true;
    loop_stop(loop);
}

static void test_post_control(void **state)
{
    (void)state;
    char err[256];
    struct loop_timer guard;

    memset(&ct, 0, sizeof(ct));
    ct.control = loop_new(err, sizeof(err));
    assert_non_null(ct.control);
    struct worker_pool *p = new_pool(1, ct.control);
    assert_ptr_equal(worker_pool_control(p), ct.control);
    start_pool(p);
    assert_int_equal(worker_post(worker_pool_get(p, 0), post_to_control, NULL), 0);
    loop_timer_init(&guard, on_guard);
    guard_fired = false;
    assert_int_equal(loop_timer_arm(ct.control, &guard, clock_mono_ns() + 5 * NS_PER_SEC), 0);
    assert_int_equal(loop_run(ct.control), 0);
    assert_false(guard_fired);
    assert_int_equal(ct.runs, 1);
    assert_true(pthread_equal(ct.ran_on, pthread_self()));
    worker_pool_free(p); /* joins: the worker's store of post_rc is visible after it */
    assert_int_equal(ct.post_rc, 0);
    loop_free(ct.control);
}

static void test_stop_and_free_twice(void **state)
{
    (void)state;
    struct worker_pool *p = new_pool(2, NULL);
    unsigned total = 0;

    start_pool(p);
    worker_pool_stop(p);
    worker_pool_stop(p);
    /* Stopped workers: nothing runs, nothing hangs, and the count says so. */
    assert_int_equal(worker_pool_call_all(p, on_call, &total), 0);
    assert_int_equal(total, 0);
    assert_int_equal(worker_post(worker_pool_get(p, 0), on_seq, NULL), -ESHUTDOWN);
    assert_int_equal(worker_pool_post_all(p, on_seq, NULL), -ESHUTDOWN);
    worker_pool_free(p); /* stops again: still fine */
    worker_pool_free(NULL);
}

static void test_one_worker_stopped(void **state)
{
    (void)state;
    struct worker_pool *p = new_pool(2, NULL);
    unsigned total = 0;

    start_pool(p);
    /* Worker 1's loop stops on its own (as if its tool asked it to). Whether its thread has
     * exited yet or not, call_all returns, and worker 0 always runs fn. */
    loop_stop(worker_pool_get(p, 1)->loop);
    unsigned ran = worker_pool_call_all(p, on_call, &total);
    assert_true(ran == 1 || ran == 2);
    assert_int_equal(total, ran);
    assert_int_equal(states[0].calls, 1);
    if (ran == 2) /* queued before worker 1 exited: run on its own thread as it exited */
        assert_true(pthread_equal(states[1].call_thread, worker_pool_get(p, 1)->thread));
    /* Once worker 1 has exited it is skipped: poll (bounded) until it is. */
    uint64_t deadline = clock_mono_ns() + 3 * NS_PER_SEC;
    while (worker_post(worker_pool_get(p, 1), on_seq, NULL) != -ESHUTDOWN &&
           clock_mono_ns() < deadline)
        sched_yield();
    assert_int_equal(worker_pool_call_all(p, on_call, &total), 1);
    assert_int_equal(states[0].calls, 2);
    worker_pool_free(p);
}

static void test_never_started(void **state)
{
    (void)state;
    struct worker_pool *p = new_pool(2, NULL);
    unsigned total = 0;

    memset(states, 0, sizeof(states));
    /* Queued for a start that never comes: dropped unrun at free (and not leaked). */
    assert_int_equal(worker_post(worker_pool_get(p, 0), on_call, &total), 0);
    assert_int_equal(worker_pool_call_all(p, on_call, &total), 0);
    worker_pool_free(p);
    assert_int_equal(total, 0);
}

static void test_posted_before_start_runs(void **state)
{
    (void)state;
    struct worker_pool *p = new_pool(1, NULL);
    unsigned total = 0;

    memset(states, 0, sizeof(states));
    states[0].seq_in_order = true;
    assert_int_equal(worker_post(worker_pool_get(p, 0), on_seq, (void *)(uintptr_t)0), 0);
    start_pool(p); /* clears states; init runs before the queued call */
    assert_int_equal(worker_pool_call_all(p, on_call, &total), 1);
    assert_int_equal(states[0].seq_seen, 1);
    char err[64];
    assert_int_equal(worker_pool_start(p, on_init, err, sizeof(err)), -EALREADY);
    worker_pool_free(p);
}

static void test_bad_args_and_default_count(void **state)
{
    (void)state;
    char err[256] = "";

    assert_null(worker_pool_new(0, NULL, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    unsigned n = worker_default_count();
    assert_true(n >= 1 && n <= 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_all_on_own_threads),
        cmocka_unit_test(test_workers_block_signals),
        cmocka_unit_test(test_post_order),
        cmocka_unit_test(test_post_control),
        cmocka_unit_test(test_stop_and_free_twice),
        cmocka_unit_test(test_one_worker_stopped),
        cmocka_unit_test(test_never_started),
        cmocka_unit_test(test_posted_before_start_runs),
        cmocka_unit_test(test_bad_args_and_default_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
