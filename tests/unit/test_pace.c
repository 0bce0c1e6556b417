/* pace: on a simulated clock, token buckets hold their rate exactly over a million tokens
 * (to the nanosecond), honour the burst, debts and refunds; fixed schedules put send k at
 * exactly start + k / rate; catch-up counts and skips after a stall; Poisson schedules have
 * the right mean gap and pass a Kolmogorov-Smirnov test against the exponential cdf. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/dist.h"
#include "core/pace.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

static struct pace_rate rate_of(double per_sec)
{
    struct pace_rate r;
    assert_int_equal(pace_rate_from_per_sec(per_sec, &r), 0);
    return r;
}

static void assert_rate(double per_sec, uint64_t units, uint64_t per_ns)
{
    struct pace_rate r = rate_of(per_sec);
    if (r.units != units || r.per_ns != per_ns)
        fail_msg("%g/s gave %llu per %llu ns, want %llu per %llu", per_sec,
                 (unsigned long long)r.units, (unsigned long long)r.per_ns,
                 (unsigned long long)units, (unsigned long long)per_ns);
}

static void test_rate_from_per_sec(void **state)
{
    (void)state;
    assert_rate(1000, 1, 1000000);
    assert_rate(3000, 3, 1000000);
    assert_rate(1, 1, SEC);
    assert_rate(0.25, 1, 4 * SEC);
    assert_rate(1.5, 3, 2 * SEC);
    assert_rate(33.333333, 33333333, 1000000000000000ULL);
    assert_rate(1e12, 1000, 1);
    assert_rate(1e-9, 1, 1000000000000000000ULL); /* one every 31.7 years */

    struct pace_rate r = {7, 7};
    assert_int_equal(pace_rate_from_per_sec(0, &r), -EINVAL);
    assert_int_equal(pace_rate_from_per_sec(-5, &r), -EINVAL);
    assert_int_equal(pace_rate_from_per_sec(NAN, &r), -EINVAL);
    assert_int_equal(pace_rate_from_per_sec(INFINITY, &r), -EINVAL);
    assert_int_equal(pace_rate_from_per_sec(1e-12, &r), -EINVAL); /* once per 31,700 years */
    assert_int_equal(pace_rate_from_per_sec(1e30, &r), -EINVAL);
    assert_int_equal(r.units, 7); /* untouched on error */
}

/* Takes `count` single tokens as fast as the bucket allows, starting at t = 0, checking on
 * the way that every wait is exact (one ns less is not enough). Returns the time of the
 * last take. */
static uint64_t take_all(struct pace_bucket *b, uint64_t count, uint64_t min_wait,
                         uint64_t max_wait)
{
    uint64_t now = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t wait = pace_bucket_take(b, 1, now);
        if (wait) {
            if (wait < min_wait || wait > max_wait)
                fail_msg("take %llu: wait %llu outside [%llu, %llu]", (unsigned long long)i,
                         (unsigned long long)wait, (unsigned long long)min_wait,
                         (unsigned long long)max_wait);
            if (wait > 1)
                assert_int_equal(pace_bucket_take(b, 1, now + wait - 1), 1);
            now += wait;
            assert_int_equal(pace_bucket_take(b, 1, now), 0);
        }
    }
    return now;
}

/* A million tokens at 1000/s with a burst of one: the first is free at t = 0, the last at
 * exactly 999.999 s, so the run spans 1000 s to one token, with no drift. */
static void test_bucket_long_run_exact(void **state)
{
    (void)state;
    struct pace_bucket b;
    assert_int_equal(pace_bucket_init(&b, rate_of(1000), 1, 0), 0);
    assert_int_equal(take_all(&b, 1000000, MS, MS), 999999 * MS);
}

/* 3000/s is 333333.33 ns per token, which no whole-ns gap represents: token k is available
 * at ceil(k * 10^9 / 3000) ns, and waits alternate between 333333 and 333334 ns. */
static void test_bucket_fractional_period_exact(void **state)
{
    (void)state;
    struct pace_bucket b;
    assert_int_equal(pace_bucket_init(&b, rate_of(3000), 1, 0), 0);
    /* token 2999999 at ceil(2999999 * 10^9 / 3000) = ceil(999999666666.67) */
    assert_int_equal(take_all(&b, 3000000, 333333, 333334), 999999666667ULL);

    /* 0.25/s: one token every 4 s */
    assert_int_equal(pace_bucket_init(&b, rate_of(0.25), 1, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 0), 4 * SEC);
    assert_int_equal(pace_bucket_take(&b, 1, 3 * SEC), SEC);
    assert_int_equal(pace_bucket_take(&b, 1, 4 * SEC), 0);
}

/* A bandwidth cap as a tool uses it: every 50 us (less than a burst's worth), write what
 * is available. Over 10 s at 10^9 bytes/s, exactly the burst plus 10^10 bytes go out. */
static void test_bucket_bandwidth_exact(void **state)
{
    (void)state;
    struct pace_bucket b;
    const uint64_t burst = 65536;
    assert_int_equal(pace_bucket_init(&b, rate_of(1e9), burst, 0), 0);
    uint64_t sent = 0;
    for (uint64_t now = 0; now <= 10 * SEC; now += 50000) {
        uint64_t avail = pace_bucket_available(&b, now);
        assert_true(avail <= burst);
        assert_int_equal(pace_bucket_take(&b, avail, now), 0);
        sent += avail;
    }
    assert_int_equal(sent, burst + 10 * SEC);
}

static void test_bucket_burst(void **state)
{
    (void)state;
    struct pace_bucket b;
    assert_int_equal(pace_bucket_init(&b, rate_of(100), 10, 5 * SEC), 0);
    assert_int_equal(pace_bucket_available(&b, 5 * SEC), 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(pace_bucket_take(&b, 1, 5 * SEC), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 5 * SEC), 10 * MS);
    assert_int_equal(pace_bucket_take(&b, 3, 5 * SEC), 30 * MS);
    /* an hour idle fills the bucket to the burst, not to 360000 tokens */
    assert_int_equal(pace_bucket_available(&b, 3605 * SEC), 10);
    assert_int_equal(pace_bucket_take(&b, 10, 3605 * SEC), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 3605 * SEC), 10 * MS);
    /* n == 0 is free even when empty */
    assert_int_equal(pace_bucket_take(&b, 0, 3605 * SEC), 0);
}

static void test_bucket_debt(void **state)
{
    (void)state;
    struct pace_bucket b;
    assert_int_equal(pace_bucket_init(&b, rate_of(1000), 10, 0), 0);
    /* 25 > burst: allowed on a full bucket, leaves a debt of 15 */
    assert_int_equal(pace_bucket_take(&b, 25, 0), 0);
    assert_int_equal(pace_bucket_available(&b, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 0), 16 * MS);
    assert_int_equal(pace_bucket_take(&b, 1, 16 * MS), 0);
    /* not full: a large take waits for a full bucket (10 tokens from 0) */
    assert_int_equal(pace_bucket_take(&b, 25, 16 * MS), 10 * MS);
    assert_int_equal(pace_bucket_take(&b, 25, 26 * MS), 0);
    /* so 1000 takes of 25 average 1000 tokens/s: 25 ms apart after the first */
    uint64_t now = 26 * MS;
    for (int i = 0; i < 1000; i++) {
        uint64_t wait = pace_bucket_take(&b, 25, now);
        assert_int_equal(wait, 25 * MS);
        now += wait;
        assert_int_equal(pace_bucket_take(&b, 25, now), 0);
    }
    assert_int_equal(now, 26 * MS + 1000 * 25 * MS);
}

static void test_bucket_refund_and_rate_change(void **state)
{
    (void)state;
    struct pace_bucket b;
    assert_int_equal(pace_bucket_init(&b, rate_of(1000), 10, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 10, 0), 0);
    pace_bucket_refund(&b, 4); /* a short write */
    assert_int_equal(pace_bucket_available(&b, 0), 4);
    pace_bucket_refund(&b, 100);
    assert_int_equal(pace_bucket_available(&b, 0), 10);

    assert_int_equal(pace_bucket_take(&b, 10, 0), 0);
    /* 5.5 tokens earned at 1000/s by 5.5 ms; the change keeps 5 whole ones */
    assert_int_equal(pace_bucket_set_rate(&b, rate_of(10), 5500000), 0);
    assert_int_equal(pace_bucket_available(&b, 5500000), 5);
    assert_int_equal(pace_bucket_take(&b, 6, 5500000), 100 * MS);
    assert_int_equal(pace_bucket_set_rate(&b, (struct pace_rate){0, 1}, 0), -EINVAL);
}

static void test_bucket_time_backwards_and_invalid(void **state)
{
    (void)state;
    struct pace_bucket b;
    assert_int_equal(pace_bucket_init(&b, rate_of(1000), 1, 10 * SEC), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 10 * SEC), 0);
    /* an earlier time is treated as the last one: no credit, no underflow */
    assert_int_equal(pace_bucket_take(&b, 1, 5 * SEC), MS);
    assert_int_equal(pace_bucket_take(&b, 1, 10 * SEC + MS), 0);

    assert_int_equal(pace_bucket_init(&b, (struct pace_rate){0, SEC}, 1, 0), -EINVAL);
    assert_int_equal(pace_bucket_init(&b, (struct pace_rate){1, 0}, 1, 0), -EINVAL);
    assert_int_equal(pace_bucket_init(&b, rate_of(1), 0, 0), -EINVAL);
    /* a burst whose credit would not fit */
    assert_int_equal(pace_bucket_init(&b, (struct pace_rate){1, UINT64_MAX}, UINT64_MAX, 0),
                     -EINVAL);
}

/* Fixed schedules: send k is due at exactly start + floor(k * per_ns / units). */
static void test_sched_fixed_exact(void **state)
{
    (void)state;
    struct pace_sched s;
    assert_int_equal(pace_sched_init_fixed(&s, rate_of(1000), 7), 0);
    for (uint64_t k = 0; k < 1000000; k++)
        assert_int_equal(pace_sched_advance(&s), 7 + k * MS);
    assert_int_equal(pace_sched_next(&s), 7 + 1000 * SEC);

    assert_int_equal(pace_sched_init_fixed(&s, rate_of(3000), 0), 0);
    uint64_t prev = pace_sched_advance(&s);
    for (uint64_t k = 1; k < 3000000; k++) {
        uint64_t t = pace_sched_advance(&s);
        assert_true(t - prev == 333333 || t - prev == 333334);
        prev = t;
    }
    assert_int_equal(pace_sched_next(&s), 1000 * SEC); /* send 3e6, exactly 1000 s */

    assert_int_equal(pace_sched_init_fixed(&s, (struct pace_rate){0, 1}, 0), -EINVAL);
}

/* A sender that stalls for 50 ms at 1000/s finds 51 sends due, whose intended times are
 * the ones the schedule always had; the schedule then continues at 51 ms, not at
 * now + 1 ms. */
static void test_sched_fixed_catch_up(void **state)
{
    (void)state;
    struct pace_sched s;
    assert_int_equal(pace_sched_init_fixed(&s, rate_of(1000), 0), 0);
    assert_int_equal(pace_sched_due(&s, 0, 0), 1);
    assert_int_equal(pace_sched_advance(&s), 0);
    assert_int_equal(pace_sched_due(&s, MS - 1, 0), 0);

    uint64_t now = 50 * MS + 500000; /* stalled until 50.5 ms */
    assert_int_equal(pace_sched_due(&s, now, 0), 50);
    assert_int_equal(pace_sched_due(&s, now, 8), 8);
    assert_int_equal(pace_sched_due(&s, 50 * MS, 0), 50); /* due at exactly its time */
    assert_int_equal(pace_sched_due(&s, 50 * MS - 1, 0), 49);
    uint64_t latency_sum = 0;
    for (uint64_t k = 1; k <= 50; k++) {
        uint64_t intended = pace_sched_advance(&s);
        assert_int_equal(intended, k * MS);
        latency_sum += now - intended; /* what the stall cost, in full */
    }
    assert_int_equal(latency_sum, 50 * now - 1275 * MS);
    assert_int_equal(pace_sched_due(&s, now, 0), 0);
    assert_int_equal(pace_sched_next(&s), 51 * MS);

    /* skipping instead: at 80 ms the 30 sends due at 51..80 ms are dropped and counted */
    assert_int_equal(pace_sched_skip(&s, 80 * MS), 30);
    assert_int_equal(pace_sched_next(&s), 81 * MS);
    assert_int_equal(pace_sched_skip(&s, 80 * MS), 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Poisson: 100k gaps of mean 1 ms; their mean is within five standard errors and they pass
 * a KS test against the exponential cdf at alpha = 0.001 (sqrt(n) D < 1.9495). */
static void test_sched_poisson_gaps(void **state)
{
    (void)state;
    enum {
        N = 100000
    };
    const double mean = 1e6;
    struct pace_sched s;
    assert_int_equal(pace_sched_init_poisson(&s, mean, 42, 1000), 0);
    double *gap = malloc(N * sizeof *gap);
    assert_non_null(gap);
    uint64_t prev = pace_sched_advance(&s);
    assert_int_equal(prev, 1000); /* the first send is at start */
    double sum = 0;
    for (size_t i = 0; i < N; i++) {
        uint64_t t = pace_sched_advance(&s);
        gap[i] = (double)(t - prev);
        sum += gap[i];
        prev = t;
    }
    assert_true(fabs(sum / N - mean) < 5 * mean / sqrt(N));

    struct dist expo;
    assert_int_equal(dist_init(&expo, DIST_EXPONENTIAL, mean, 0, NULL, 0), 0);
    qsort(gap, N, sizeof *gap, cmp_double);
    double worst = 0;
    for (size_t i = 0; i < N; i++) {
        double f = dist_cdf(&expo, gap[i]);
        worst = fmax(worst, fmax((double)(i + 1) / N - f, f - (double)i / N));
    }
    if (worst * sqrt(N) >= 1.9495)
        fail_msg("KS sqrt(n)D = %.4f", worst * sqrt(N));
    free(gap);
}

/* Poisson catch-up: pace_sched_due looks ahead without consuming, and agrees with the
 * advances that follow; intended times after a stall are still the schedule's own. */
static void test_sched_poisson_catch_up(void **state)
{
    (void)state;
    struct pace_sched s, copy;
    assert_int_equal(pace_sched_init_poisson(&s, 1e6, 9, 0), 0);
    uint64_t now = 100 * MS;
    uint64_t due = pace_sched_due(&s, now, 0);
    assert_true(due > 60 && due < 140);                /* about 101 */
    assert_int_equal(pace_sched_due(&s, now, 0), due); /* looking changes nothing */
    assert_int_equal(pace_sched_due(&s, now, 5), 5);
    copy = s;
    for (uint64_t i = 0; i < due; i++)
        assert_true(pace_sched_advance(&s) <= now);
    assert_true(pace_sched_next(&s) > now);
    assert_int_equal(pace_sched_due(&s, now, 0), 0);

    assert_int_equal(pace_sched_skip(&copy, now), due);
    assert_int_equal(pace_sched_next(&copy), pace_sched_next(&s));
    assert_memory_equal(copy.rng.s, s.rng.s, sizeof s.rng.s);
}

static void test_sched_poisson_determinism(void **state)
{
    (void)state;
    struct pace_sched a, b, c;
    assert_int_equal(pace_sched_init_poisson(&a, 5000, 1234, 0), 0);
    assert_int_equal(pace_sched_init_poisson(&b, 5000, 1234, 0), 0);
    assert_int_equal(pace_sched_init_poisson(&c, 5000, 1235, 0), 0);
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t ta = pace_sched_advance(&a);
        assert_int_equal(ta, pace_sched_advance(&b));
        same += ta == pace_sched_advance(&c);
    }
    assert_true(same < 5); /* only t0 and ties */

    assert_int_equal(pace_sched_init_poisson(&a, 0, 1, 0), -EINVAL);
    assert_int_equal(pace_sched_init_poisson(&a, -1, 1, 0), -EINVAL);
    assert_int_equal(pace_sched_init_poisson(&a, NAN, 1, 0), -EINVAL);
}

/* At the end of time the schedule saturates instead of wrapping around. */
static void test_sched_saturates(void **state)
{
    (void)state;
    struct pace_sched s;
    assert_int_equal(pace_sched_init_fixed(&s, rate_of(1), UINT64_MAX - SEC / 2), 0);
    assert_int_equal(pace_sched_advance(&s), UINT64_MAX - SEC / 2);
    assert_int_equal(pace_sched_next(&s), UINT64_MAX);
    assert_int_equal(pace_sched_init_poisson(&s, 1e18, 3, UINT64_MAX - 10), 0);
    pace_sched_advance(&s);
    for (int i = 0; i < 100 && pace_sched_next(&s) != UINT64_MAX; i++)
        pace_sched_advance(&s);
    assert_int_equal(pace_sched_next(&s), UINT64_MAX);
    assert_int_equal(pace_sched_due(&s, UINT64_MAX, 0), 1);
    assert_int_equal(pace_sched_skip(&s, UINT64_MAX), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_from_per_sec),
        cmocka_unit_test(test_bucket_long_run_exact),
        cmocka_unit_test(test_bucket_fractional_period_exact),
        cmocka_unit_test(test_bucket_bandwidth_exact),
        cmocka_unit_test(test_bucket_burst),
        cmocka_unit_test(test_bucket_debt),
        cmocka_unit_test(test_bucket_refund_and_rate_change),
        cmocka_unit_test(test_bucket_time_backwards_and_invalid),
        cmocka_unit_test(test_sched_fixed_exact),
        cmocka_unit_test(test_sched_fixed_catch_up),
        cmocka_unit_test(test_sched_poisson_gaps),
        cmocka_unit_test(test_sched_poisson_catch_up),
        cmocka_unit_test(test_sched_poisson_determinism),
        cmocka_unit_test(test_sched_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
