/* Clocks: monotonic never goes back, realtime is wall time, both waits end at or after
 * their deadline (never early) and not long after it, and a wait spins only under the spin
 * threshold (CPU time). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "core/clock.h"
#include "core/util.h"

static void test_mono_never_goes_back(void **state)
{
    (void)state;
    uint64_t prev = clock_mono_ns();

    for (int i = 0; i < 100000; i++) {
        uint64_t now = clock_mono_ns();
        assert_true(now >= prev);
        prev = now;
    }
}

static void test_real_is_wall_time(void **state)
{
    (void)state;
    uint64_t ns = clock_real_ns();
    time_t t = time(NULL);

    /* Same second as time(), give or take one tick. */
    assert_true(ns / NS_PER_SEC + 1 >= (uint64_t)t);
    assert_true(ns / NS_PER_SEC <= (uint64_t)t + 1);
}

/* A shared machine can preempt a spinning thread for a whole scheduler slice: every try
 * must end at or after its deadline, and the best of a few must end close to it. */
#define TRIES 5

static void test_spin_until(void **state)
{
    (void)state;
    uint64_t best = UINT64_MAX;

    for (int i = 0; i < TRIES; i++) {
        uint64_t deadline = clock_mono_ns() + 300 * NS_PER_US;
        uint64_t end = clock_spin_until(deadline);
        assert_true(end >= deadline);
        assert_true(clock_mono_ns() >= end);
        if (end - deadline < best)
            best = end - deadline;
    }
    assert_true(best < 5 * NS_PER_MS);
    /* A deadline in the past returns at once. */
    uint64_t now = clock_mono_ns();
    assert_true(clock_spin_until(now - 1000) >= now);
}

static void test_wait_until(void **state)
{
    (void)state;
    uint64_t best = UINT64_MAX, deadline, end;

    /* 3 ms: sleeps 2 ms, spins the last 1 ms. */
    for (int i = 0; i < TRIES; i++) {
        deadline = clock_mono_ns() + 3 * NS_PER_MS;
        end = clock_wait_until(deadline, CLOCK_SPIN_THRESHOLD_NS);
        assert_true(end >= deadline);
        if (end - deadline < best)
            best = end - deadline;
    }
    assert_true(best < 5 * NS_PER_MS);
    /* No spin at all: the sleep alone, still never early. */
    deadline = clock_mono_ns() + 2 * NS_PER_MS;
    end = clock_wait_until(deadline, 0);
    assert_true(end >= deadline);
    assert_true(end - deadline < 50 * NS_PER_MS);
    /* Past deadline. */
    uint64_t now = clock_mono_ns();
    assert_true(clock_wait_until(now - 1, CLOCK_SPIN_THRESHOLD_NS) >= now);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* This thread's CPU time during clock_wait_until(now + delay_ns, 1 ms), as a share of the
 * wall time of the wait. */
static double cpu_share_of_wait(uint64_t delay_ns)
{
    uint64_t cpu0 = thread_cpu_ns(), wall0 = clock_mono_ns();
    clock_wait_until(wall0 + delay_ns, CLOCK_SPIN_THRESHOLD_NS);
    return (double)(thread_cpu_ns() - cpu0) / (double)(clock_mono_ns() - wall0);
}

/* Waits under the threshold spin (a share near 1 unless preempted: the best of a few tries
 * must show it); longer ones sleep and spin only the last 1 ms (for 20 ms, about 5%; a
 * sleeping thread cannot gather CPU time, so every try must stay low). */
static void test_wait_spins_only_under_the_threshold(void **state)
{
    (void)state;
    double best_spin = 0;
    for (int i = 0; i < TRIES; i++) {
        double spin = cpu_share_of_wait(800 * NS_PER_US);
        if (spin > best_spin)
            best_spin = spin;
        double sleep = cpu_share_of_wait(20 * NS_PER_MS);
        if (sleep >= 0.25)
            fail_msg("a 20 ms wait used %.0f%% of a CPU: it spun instead of sleeping", sleep * 100);
    }
    if (best_spin <= 0.5)
        fail_msg("an 800 us wait used at best %.0f%% of a CPU: it slept instead of spinning",
                 best_spin * 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_never_goes_back),
        cmocka_unit_test(test_real_is_wall_time),
        cmocka_unit_test(test_spin_until),
        cmocka_unit_test(test_wait_until),
        cmocka_unit_test(test_wait_spins_only_under_the_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
