/* hist: a model check against a sorted array (every percentile within the promised relative
 * error of the exact order statistic at the same rank), bucket geometry at every power of
 * two, merge equal to one histogram of the union, exact moments, record_n, empty
 * histograms and bad arguments. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hist.h"
#include "core/rng.h"

#define MODEL_N 100000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Values from several shapes: exact small integers, zeros, log-uniform from 1 ns to ten
 * minutes, exponential around 1 ms, a narrow bump around 50 ms, and values just below and
 * above 2^63. */
static void fill_values(uint64_t *v, size_t n, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        switch (rng_below(&r, 7)) {
        case 0:
            v[i] = rng_below(&r, 256);
            break;
        case 1:
            v[i] = 0;
            break;
        case 2:
            v[i] = (uint64_t)exp(rng_double(&r) * log(600e9));
            break;
        case 3:
            v[i] = (uint64_t)(-1e6 * log(rng_double_open0(&r)));
            break;
        case 4:
            v[i] = 50000000 + rng_below(&r, 100000);
            break;
        case 5:
            v[i] = (1ULL << 63) - 1 - rng_below(&r, 1000);
            break;
        default:
            v[i] = (1ULL << 63) + rng_below(&r, 1000);
            break;
        }
    }
}

/* The rank rule of hist.h, restated: ceil(p/100 * n) within [1, n], where a product within
 * rounding of a whole number counts as that number (p = 99.9 of 1000 is rank 999). */
static size_t model_rank(double p, size_t n)
{
    long double x = (long double)p * n / 100.0L;
    long double want = fabsl(x - roundl(x)) <= 1e-9L * fmaxl(1, roundl(x)) ? roundl(x) : ceill(x);
    if (want < 1)
        return 1;
    if (want > n)
        return n;
    return (size_t)want;
}

static void check_percentiles(const struct hist *h, const uint64_t *sorted, size_t n)
{
    double rel = hist_relative_error(h);
    for (int step = 0; step <= 1000; step++) {
        double p = step / 10.0;
        if (step % 7 == 3)
            p += 0.0137; /* and some that are not multiples of 0.1 */
        if (p > 100)
            p = 100;
        uint64_t exact = sorted[model_rank(p, n) - 1];
        uint64_t got = hist_percentile(h, p);
        double err = fabs((double)got - (double)exact);
        if (err > rel * (double)exact)
            fail_msg("sub_bits %u p %.4f: got %llu, exact %llu", h->sub_bits, p,
                     (unsigned long long)got, (unsigned long long)exact);
    }
    for (double p = 99.9; p < 100; p = 100 - (100 - p) / 10) {
        uint64_t exact = sorted[model_rank(p, n) - 1];
        uint64_t got = hist_percentile(h, p);
        assert_true(fabs((double)got - (double)exact) <= rel * (double)exact);
        if (100 - p < 1e-6)
            break;
    }
    assert_int_equal(hist_percentile(h, 0), sorted[0]);
    assert_int_equal(hist_percentile(h, 100), sorted[n - 1]);
}

static void moments(const uint64_t *v, size_t n, long double *mean, long double *sd)
{
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    *mean = sum / n;
    long double ss = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = v[i] - *mean;
        ss += d * d;
    }
    *sd = sqrtl(ss / n);
}

static void assert_close(double got, long double want, double rel)
{
    if (fabsl(got - want) > rel * fabsl(want))
        fail_msg("got %.17g want %.17Lg", got, want);
}

static void test_model_check(void **state)
{
    (void)state;
    uint64_t *v = malloc(MODEL_N * sizeof *v);
    assert_non_null(v);
    fill_values(v, MODEL_N, 17);

    static const unsigned sub_bits[] = {1, 4, 7, 10};
    for (size_t b = 0; b < sizeof sub_bits / sizeof sub_bits[0]; b++) {
        struct hist h;
        assert_int_equal(hist_init(&h, sub_bits[b]), 0);
        for (size_t i = 0; i < MODEL_N; i++)
            assert_int_equal(hist_record(&h, v[i]), 0);
        if (b == 0)
            qsort(v, MODEL_N, sizeof *v, cmp_u64);
        assert_int_equal(hist_count(&h), MODEL_N);
        assert_int_equal(hist_min(&h), v[0]);
        assert_int_equal(hist_max(&h), v[MODEL_N - 1]);
        long double mean, sd;
        moments(v, MODEL_N, &mean, &sd);
        assert_close(hist_mean(&h), mean, 1e-12);
        assert_close(hist_stddev(&h), sd, 1e-9);
        check_percentiles(&h, v, MODEL_N);
        hist_free(&h);
    }
    free(v);
}

/* A small model check for each sub_bits: values from 0 to 2^40 so every sub_bits fits. */
static void test_model_every_sub_bits(void **state)
{
    (void)state;
    enum {
        N = 5000
    };
    static uint64_t v[N];
    struct rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < N; i++)
        v[i] = rng_below(&r, 1ULL << rng_below(&r, 41));
    for (unsigned s = 1; s <= 16; s++) {
        struct hist h;
        assert_int_equal(hist_init(&h, s), 0);
        for (size_t i = 0; i < N; i++)
            hist_record(&h, v[i]);
        if (s == 1)
            qsort(v, N, sizeof v[0], cmp_u64);
        check_percentiles(&h, v, N);
        hist_free(&h);
    }
}

struct bucket_walk {
    uint64_t value; /* the one value recorded */
    unsigned sub_bits;
    int calls;
};

static void check_single_bucket(uint64_t lo, uint64_t hi, uint64_t count, void *arg)
{
    struct bucket_walk *w = arg;
    w->calls++;
    assert_int_equal(count, 1);
    assert_true(lo <= w->value && w->value <= hi);
    uint64_t width = hi - lo + 1;
    /* width is 1 below 2^(s+1), else 2^(k-s) <= value / 2^s */
    if (w->value < (2ULL << w->sub_bits))
        assert_int_equal(width, 1);
    else
        assert_true(width <= (w->value >> w->sub_bits));
    assert_true((width & (width - 1)) == 0);
}

/* Around every power of two: the value falls in its bucket, buckets are at most value/2^s
 * wide, and neighbouring values land in the same or the adjacent bucket with no gap. */
static void test_bucket_geometry(void **state)
{
    (void)state;
    for (unsigned s = 1; s <= 16; s += 5) {
        for (int k = 0; k < 64; k++) {
            uint64_t base = 1ULL << k;
            uint64_t vals[] = {base - 1, base, base + 1, base + (base >> 1), base * 2 - 1};
            for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
                struct hist h;
                hist_init(&h, s);
                hist_record(&h, vals[i]);
                struct bucket_walk w = {.value = vals[i], .sub_bits = s};
                hist_foreach(&h, check_single_bucket, &w);
                assert_int_equal(w.calls, 1);
                assert_int_equal(hist_percentile(&h, 50), vals[i]); /* clamped */
                hist_free(&h);
            }
        }
        struct hist h;
        hist_init(&h, s);
        hist_record(&h, UINT64_MAX);
        struct bucket_walk w = {.value = UINT64_MAX, .sub_bits = s};
        hist_foreach(&h, check_single_bucket, &w);
        assert_int_equal(w.calls, 1);
        hist_free(&h);
    }
}

struct contiguity {
    uint64_t next_lo;
    uint64_t total;
    int buckets;
};

static void check_contiguous(uint64_t lo, uint64_t hi, uint64_t count, void *arg)
{
    struct contiguity *c = arg;
    assert_int_equal(lo, c->next_lo);
    assert_true(hi >= lo);
    c->next_lo = hi + 1;
    c->total += count;
    c->buckets++;
}

/* Every value 0..2^14: the buckets tile the line with no gap or overlap. */
static void test_buckets_tile(void **state)
{
    (void)state;
    struct hist h;
    hist_init(&h, 3);
    for (uint64_t x = 0; x < (1 << 14); x++)
        hist_record(&h, x);
    struct contiguity c = {0};
    hist_foreach(&h, check_contiguous, &c);
    assert_int_equal(c.total, 1 << 14);
    assert_int_equal(c.next_lo, 1 << 14);
    /* 16 exact buckets below 2^4, then 8 per power of two for 2^4..2^13 */
    assert_int_equal(c.buckets, 16 + 10 * 8);
    hist_free(&h);
}

struct bucket_list {
    size_t n;
    uint64_t lo[8192], hi[8192], count[8192];
};

static void collect(uint64_t lo, uint64_t hi, uint64_t count, void *arg)
{
    struct bucket_list *l = arg;
    assert_true(l->n < 8192);
    l->lo[l->n] = lo;
    l->hi[l->n] = hi;
    l->count[l->n] = count;
    l->n++;
}

static void test_merge_equals_union(void **state)
{
    (void)state;
    enum {
        N = 50000
    };
    static uint64_t v[N];
    fill_values(v, N, 23);
    struct hist a, b, all, empty;
    hist_init(&a, 7);
    hist_init(&b, 7);
    hist_init(&all, 7);
    hist_init(&empty, 7);
    struct rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < N; i++) {
        /* b gets only small values, so a merge must grow a's array and b's is shorter */
        hist_record(v[i] < 1000000 && rng_below(&r, 2) ? &b : &a, v[i]);
        hist_record(&all, v[i]);
    }
    assert_int_equal(hist_merge(&a, &b), 0);
    assert_int_equal(hist_merge(&a, &empty), 0);

    static struct bucket_list la, lall;
    la.n = lall.n = 0;
    hist_foreach(&a, collect, &la);
    hist_foreach(&all, collect, &lall);
    assert_int_equal(la.n, lall.n);
    assert_memory_equal(la.lo, lall.lo, la.n * sizeof la.lo[0]);
    assert_memory_equal(la.hi, lall.hi, la.n * sizeof la.hi[0]);
    assert_memory_equal(la.count, lall.count, la.n * sizeof la.count[0]);
    assert_int_equal(hist_count(&a), hist_count(&all));
    assert_int_equal(hist_min(&a), hist_min(&all));
    assert_int_equal(hist_max(&a), hist_max(&all));
    assert_close(hist_mean(&a), hist_mean(&all), 1e-15);
    assert_close(hist_stddev(&a), hist_stddev(&all), 1e-12);
    for (double p = 0; p <= 100; p += 0.5)
        assert_int_equal(hist_percentile(&a, p), hist_percentile(&all, p));

    /* Into an empty histogram: a copy. */
    assert_int_equal(hist_merge(&empty, &all), 0);
    assert_int_equal(hist_count(&empty), N);
    assert_int_equal(hist_min(&empty), hist_min(&all));
    assert_int_equal(hist_percentile(&empty, 99), hist_percentile(&all, 99));
    assert_close(hist_stddev(&empty), hist_stddev(&all), 1e-15);

    hist_free(&a);
    hist_free(&b);
    hist_free(&all);
    hist_free(&empty);
}

static void test_merge_bad_sub_bits(void **state)
{
    (void)state;
    struct hist a, b;
    hist_init(&a, 7);
    hist_init(&b, 8);
    hist_record(&b, 5);
    assert_int_equal(hist_merge(&a, &b), -EINVAL);
    assert_int_equal(hist_count(&a), 0);
    hist_free(&a);
    hist_free(&b);
}

/* Moments are exact, not read from buckets; in particular large values close together keep
 * their spread (a sum of squares would cancel it away). */
static void test_exact_moments(void **state)
{
    (void)state;
    struct hist h;
    hist_init(&h, 7);
    hist_record(&h, 1000);
    hist_record(&h, 1003);
    hist_record(&h, 1007);
    hist_record(&h, 999);
    assert_int_equal(hist_min(&h), 999);
    assert_int_equal(hist_max(&h), 1007);
    assert_true(hist_mean(&h) == 1002.25);
    /* deviations -2.25, 0.75, 4.75, -3.25: squares sum to 38.75, over 4 */
    assert_close(hist_stddev(&h), sqrtl(38.75L / 4), 1e-15);
    hist_free(&h);

    hist_init(&h, 7);
    const uint64_t base = 1000000000000000ULL;     /* 1e15 */
    for (int i = 0; i < 15000; i++)                /* the sum, 1.5e19, stays below 2^64 */
        hist_record(&h, base + (uint64_t)(i % 3)); /* 0, 1, 2: sd sqrt(2/3) */
    assert_true(hist_mean(&h) == 1000000000000001.0);
    /* The running mean carries long double rounding (1e15 * 2^-64 = 5e-5), so a few digits
     * of a spread of 1 in 1e15 go; a sum of squares would leave none. */
    assert_close(hist_stddev(&h), sqrtl(2.0L / 3), 1e-6);
    hist_free(&h);
}

static void test_empty(void **state)
{
    (void)state;
    struct hist h;
    assert_int_equal(hist_init(&h, HIST_SUB_BITS_DEFAULT), 0);
    assert_int_equal(hist_count(&h), 0);
    assert_int_equal(hist_min(&h), 0);
    assert_int_equal(hist_max(&h), 0);
    assert_true(hist_mean(&h) == 0.0);
    assert_true(hist_stddev(&h) == 0.0);
    assert_int_equal(hist_percentile(&h, 0), 0);
    assert_int_equal(hist_percentile(&h, 50), 0);
    assert_int_equal(hist_percentile(&h, 100), 0);
    struct contiguity c = {0};
    hist_foreach(&h, check_contiguous, &c);
    assert_int_equal(c.buckets, 0);
    assert_true(hist_relative_error(&h) == 1.0 / 256);
    hist_free(&h);
    hist_free(&h); /* twice is harmless */
}

static void test_record_n(void **state)
{
    (void)state;
    struct hist a, b;
    hist_init(&a, 5);
    hist_init(&b, 5);
    assert_int_equal(hist_record_n(&a, 77, 0), 0);
    assert_int_equal(hist_count(&a), 0);
    assert_int_equal(hist_min(&a), 0);

    static const uint64_t vals[] = {3, 1000, 123456789, 3, 0};
    static const uint64_t reps[] = {10, 1, 500, 7, 2};
    for (size_t i = 0; i < 5; i++) {
        hist_record_n(&a, vals[i], reps[i]);
        for (uint64_t k = 0; k < reps[i]; k++)
            hist_record(&b, vals[i]);
    }
    assert_int_equal(hist_count(&a), 520);
    assert_int_equal(hist_count(&a), hist_count(&b));
    assert_int_equal(hist_min(&a), 0);
    assert_int_equal(hist_max(&a), 123456789);
    assert_close(hist_mean(&a), hist_mean(&b), 1e-15);
    assert_close(hist_stddev(&a), hist_stddev(&b), 1e-12);
    for (double p = 0; p <= 100; p += 1)
        assert_int_equal(hist_percentile(&a, p), hist_percentile(&b, p));
    hist_free(&a);
    hist_free(&b);
}

static void test_percentile_ranks(void **state)
{
    (void)state;
    struct hist h;
    hist_init(&h, 7);
    hist_record(&h, 10);
    hist_record(&h, 1000);
    assert_int_equal(hist_percentile(&h, 0), 10);
    assert_int_equal(hist_percentile(&h, 50), 10);      /* rank ceil(1.0) = 1 */
    assert_int_equal(hist_percentile(&h, 50.01), 1000); /* rank 2: mid of [1000,1003] → max */
    assert_int_equal(hist_percentile(&h, 100), 1000);
    assert_int_equal(hist_percentile(&h, -5), 10);
    assert_int_equal(hist_percentile(&h, 250), 1000);
    assert_int_equal(hist_percentile(&h, NAN), 10);
    hist_free(&h);

    /* 1000 values 1..1000: p99.9 is the 999th, not the 1000th */
    hist_init(&h, 12);
    for (uint64_t x = 1; x <= 1000; x++)
        hist_record(&h, x);
    assert_int_equal(hist_percentile(&h, 99.9), 999);
    assert_int_equal(hist_percentile(&h, 50), 500);
    assert_int_equal(hist_percentile(&h, 0.1), 1);
    hist_free(&h);
}

static void test_reset_and_bad_init(void **state)
{
    (void)state;
    struct hist h;
    assert_int_equal(hist_init(&h, 0), -EINVAL);
    assert_int_equal(hist_init(&h, 17), -EINVAL);
    assert_int_equal(hist_init(&h, 16), 0);
    hist_record(&h, 5000);
    hist_record(&h, 7);
    size_t kept = h.nbuckets;
    hist_reset(&h);
    assert_int_equal(hist_count(&h), 0);
    assert_int_equal(hist_max(&h), 0);
    assert_int_equal(h.nbuckets, kept);
    hist_record(&h, 42);
    assert_int_equal(hist_min(&h), 42);
    assert_int_equal(hist_max(&h), 42);
    assert_int_equal(hist_percentile(&h, 50), 42);
    assert_true(hist_stddev(&h) == 0.0);
    hist_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_check),        cmocka_unit_test(test_model_every_sub_bits),
        cmocka_unit_test(test_bucket_geometry),    cmocka_unit_test(test_buckets_tile),
        cmocka_unit_test(test_merge_equals_union), cmocka_unit_test(test_merge_bad_sub_bits),
        cmocka_unit_test(test_exact_moments),      cmocka_unit_test(test_empty),
        cmocka_unit_test(test_record_n),           cmocka_unit_test(test_percentile_ranks),
        cmocka_unit_test(test_reset_and_bad_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
