/* dist: for every distribution, 100k samples from a fixed seed must match the analytic mean
 * and variance within five standard errors and pass a Kolmogorov-Smirnov test against the
 * cdf at alpha = 0.001 (a fixed seed makes each outcome deterministic, so the test is
 * never flaky, and a wrong sampler or cdf fails it). Also flowgrind's parameter meanings,
 * cdf reference points, parameter checks and determinism. */

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
#include "core/rng.h"

#define N_SAMPLES 100000
/* Kolmogorov's limit: P(sqrt(n) D > c) = alpha for c = sqrt(-ln(alpha / 2) / 2);
 * alpha = 0.001 gives 1.9495. */
#define KS_CRIT_001 1.9495

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* sqrt(n) times the largest distance between the empirical cdf of the sorted x and F. */
static double ks_statistic(const struct dist *d, const double *sorted, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double f = dist_cdf(d, sorted[i]);
        double above = (double)(i + 1) / n - f, below = f - (double)i / n;
        if (above > worst)
            worst = above;
        if (below > worst)
            worst = below;
    }
    return worst * sqrt((double)n);
}

static double *draw_sorted(const struct dist *d, uint64_t seed, size_t n)
{
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    struct rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = dist_sample(d, &r);
    qsort(x, n, sizeof *x, cmp_double);
    return x;
}

static void check_distribution(enum dist_kind kind, double p1, double p2, uint64_t seed)
{
    struct dist d;
    char err[128] = "";
    assert_int_equal(dist_init(&d, kind, p1, p2, err, sizeof err), 0);
    double *x = draw_sorted(&d, seed, N_SAMPLES);
    const double n = N_SAMPLES;

    long double sum = 0;
    for (size_t i = 0; i < N_SAMPLES; i++)
        sum += x[i];
    double mean = (double)(sum / N_SAMPLES);
    long double m2 = 0, m4 = 0;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        long double dev = x[i] - mean;
        m2 += dev * dev;
        m4 += dev * dev * dev * dev;
    }
    double var = (double)(m2 / N_SAMPLES), fourth = (double)(m4 / N_SAMPLES);

    double want_mean = dist_mean(&d), want_var = dist_variance(&d);
    double mean_tol = 5 * sqrt(want_var / n);
    /* the standard error of a sample variance is sqrt((mu4 - sigma^4) / n) */
    double var_tol = 5 * sqrt((fourth - var * var) / n);
    double ks = ks_statistic(&d, x, N_SAMPLES);
    if (fabs(mean - want_mean) > mean_tol || fabs(var - want_var) > var_tol || ks > KS_CRIT_001)
        fail_msg("%s(%g, %g): mean %g (want %g +- %g), variance %g (want %g +- %g), "
                 "KS sqrt(n)D %.4f (limit %.4f)",
                 dist_name(kind), p1, p2, mean, want_mean, mean_tol, var, want_var, var_tol, ks,
                 KS_CRIT_001);
    free(x);
}

static void test_uniform(void **state)
{
    (void)state;
    check_distribution(DIST_UNIFORM, 100, 200, 1);
    check_distribution(DIST_UNIFORM, 0.005, 0.01, 2); /* flowgrind's gap example */
}

static void test_exponential(void **state)
{
    (void)state;
    check_distribution(DIST_EXPONENTIAL, 500, 0, 3);
    check_distribution(DIST_EXPONENTIAL, 1e-3, 0, 4);
}

static void test_normal(void **state)
{
    (void)state;
    check_distribution(DIST_NORMAL, 2000, 50, 5);
    check_distribution(DIST_NORMAL, -3, 0.25, 6);
}

static void test_lognormal(void **state)
{
    (void)state;
    check_distribution(DIST_LOGNORMAL, 1, 0.5, 7);
    check_distribution(DIST_LOGNORMAL, 7, 0.3, 8);
}

static void test_pareto(void **state)
{
    (void)state;
    check_distribution(DIST_PARETO, 5, 100, 9);
    check_distribution(DIST_PARETO, 9, 0.5, 10);
}

static void test_weibull(void **state)
{
    (void)state;
    check_distribution(DIST_WEIBULL, 1000, 2, 11);
    check_distribution(DIST_WEIBULL, 3, 0.8, 12);
}

/* The KS test has teeth: exponential samples against a cdf whose mean is 2% off, and
 * normal samples against a deviation 3% off, are both rejected. */
static void test_ks_rejects_wrong_cdf(void **state)
{
    (void)state;
    struct dist d, wrong;
    dist_init(&d, DIST_EXPONENTIAL, 500, 0, NULL, 0);
    dist_init(&wrong, DIST_EXPONENTIAL, 510, 0, NULL, 0);
    double *x = draw_sorted(&d, 3, N_SAMPLES);
    assert_true(ks_statistic(&d, x, N_SAMPLES) < KS_CRIT_001);
    assert_true(ks_statistic(&wrong, x, N_SAMPLES) > KS_CRIT_001);
    free(x);

    dist_init(&d, DIST_NORMAL, 0, 1, NULL, 0);
    dist_init(&wrong, DIST_NORMAL, 0, 1.03, NULL, 0);
    x = draw_sorted(&d, 5, N_SAMPLES);
    assert_true(ks_statistic(&wrong, x, N_SAMPLES) > KS_CRIT_001);
    free(x);
}

static void test_constant(void **state)
{
    (void)state;
    struct dist d;
    assert_int_equal(dist_init(&d, DIST_CONSTANT, 40, 12345, NULL, 0), 0);
    struct rng r, before;
    rng_seed(&r, 1);
    before = r;
    for (int i = 0; i < 100; i++)
        assert_true(dist_sample(&d, &r) == 40);
    assert_memory_equal(r.s, before.s, sizeof r.s); /* draws nothing */
    assert_true(dist_mean(&d) == 40);
    assert_true(dist_variance(&d) == 0);
    assert_true(dist_cdf(&d, 39.999) == 0);
    assert_true(dist_cdf(&d, 40) == 1);
    assert_true(d.p2 == 0); /* the unused parameter is cleared */
}

static void assert_near(double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("got %.12g, want %.12g", got, want);
}

/* The parameter meanings flowgrind's -G uses (specs/flowgrind.md §6.2). */
static void test_flowgrind_parameters(void **state)
{
    (void)state;
    struct dist d;
    struct rng r;
    rng_seed(&r, 77);

    dist_init(&d, DIST_EXPONENTIAL, 500, 0, NULL, 0); /* E:500 = mean 500 */
    assert_near(dist_mean(&d), 500, 1e-12);
    assert_near(dist_cdf(&d, 500), 1 - exp(-1), 1e-15);

    dist_init(&d, DIST_NORMAL, 2000, 50, NULL, 0); /* N:2000:50 = sd 50 */
    assert_near(dist_variance(&d), 2500, 1e-9);
    assert_near(dist_cdf(&d, 2000), 0.5, 1e-15);
    assert_near(dist_cdf(&d, 2050), 0.841344746068543, 1e-12);

    dist_init(&d, DIST_PARETO, 1, 100, NULL, 0); /* P:1:100 = shape 1, x_min 100 */
    assert_true(isinf(dist_mean(&d)));
    assert_true(isinf(dist_variance(&d)));
    assert_near(dist_cdf(&d, 200), 0.5, 1e-15);
    assert_true(dist_cdf(&d, 99.9) == 0);
    for (int i = 0; i < 10000; i++)
        assert_true(dist_sample(&d, &r) >= 100);

    dist_init(&d, DIST_WEIBULL, 1000, 2, NULL, 0); /* W:1000:2 = scale 1000, shape 2 */
    assert_near(dist_mean(&d), 1000 * sqrt(M_PI) / 2, 1e-9);
    assert_near(dist_cdf(&d, 1000), 1 - exp(-1), 1e-15);
    assert_near(dist_variance(&d), 1e6 * (1 - M_PI / 4), 1e-6);

    dist_init(&d, DIST_LOGNORMAL, 7, 1, NULL, 0); /* L:7:1 = zeta 7, sigma 1 */
    assert_near(dist_mean(&d), exp(7.5), 1e-9);
    assert_near(dist_cdf(&d, exp(7)), 0.5, 1e-15);
    assert_true(dist_cdf(&d, 0) == 0 && dist_cdf(&d, -1) == 0);

    dist_init(&d, DIST_UNIFORM, 100, 200, NULL, 0); /* U:100:200 */
    assert_near(dist_mean(&d), 150, 0);
    assert_near(dist_cdf(&d, 125), 0.25, 1e-15);
    for (int i = 0; i < 10000; i++) {
        double v = dist_sample(&d, &r);
        assert_true(v >= 100 && v < 200);
    }
}

/* Degenerate but valid: zero spread gives the location, min == max gives that value. */
static void test_degenerate(void **state)
{
    (void)state;
    struct dist d;
    struct rng r;
    rng_seed(&r, 8);
    assert_int_equal(dist_init(&d, DIST_NORMAL, 7, 0, NULL, 0), 0);
    assert_true(dist_sample(&d, &r) == 7);
    assert_true(dist_cdf(&d, 6.9) == 0 && dist_cdf(&d, 7) == 1);
    assert_int_equal(dist_init(&d, DIST_UNIFORM, 3, 3, NULL, 0), 0);
    assert_true(dist_sample(&d, &r) == 3);
    assert_true(dist_cdf(&d, 2.9) == 0 && dist_cdf(&d, 3) == 1);
    assert_int_equal(dist_init(&d, DIST_LOGNORMAL, 0, 0, NULL, 0), 0);
    assert_true(dist_sample(&d, &r) == 1);
    assert_true(dist_cdf(&d, 0.99) == 0 && dist_cdf(&d, 1) == 1);
}

static void expect_invalid(enum dist_kind kind, double p1, double p2, const char *needle)
{
    struct dist d = {.kind = DIST_CONSTANT, .p1 = 123};
    char err[128] = "";
    assert_int_equal(dist_init(&d, kind, p1, p2, err, sizeof err), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("error text '%s' does not mention '%s'", err, needle);
    assert_true(d.p1 == 123); /* untouched */
    assert_int_equal(dist_init(&d, kind, p1, p2, NULL, 0), -EINVAL);
}

static void test_invalid_parameters(void **state)
{
    (void)state;
    expect_invalid(DIST_UNIFORM, 200, 100, "min 200 is above max 100");
    expect_invalid(DIST_EXPONENTIAL, 0, 0, "exponential mean must be > 0, not 0");
    expect_invalid(DIST_EXPONENTIAL, -3, 0, "not -3");
    expect_invalid(DIST_NORMAL, 1, -1, "normal standard deviation");
    expect_invalid(DIST_LOGNORMAL, 1, -0.5, "lognormal standard deviation");
    expect_invalid(DIST_PARETO, 0, 100, "pareto shape");
    expect_invalid(DIST_PARETO, 1, 0, "pareto scale");
    expect_invalid(DIST_WEIBULL, -1, 2, "weibull scale");
    expect_invalid(DIST_WEIBULL, 1, 0, "weibull shape");
    expect_invalid(DIST_CONSTANT, NAN, 0, "not a finite number");
    expect_invalid(DIST_NORMAL, 0, INFINITY, "second parameter");
    expect_invalid((enum dist_kind)42, 1, 1, "unknown distribution 42");
    /* p2 is ignored where unused, even when it is not a number */
    struct dist d;
    assert_int_equal(dist_init(&d, DIST_EXPONENTIAL, 1, NAN, NULL, 0), 0);
}

static void test_determinism(void **state)
{
    (void)state;
    static const enum dist_kind kinds[] = {DIST_UNIFORM,   DIST_EXPONENTIAL, DIST_NORMAL,
                                           DIST_LOGNORMAL, DIST_PARETO,      DIST_WEIBULL};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        struct dist d;
        assert_int_equal(dist_init(&d, kinds[k], 2, 3, NULL, 0), 0);
        struct rng a, b;
        rng_seed(&a, 1000 + k);
        rng_seed(&b, 1000 + k);
        for (int i = 0; i < 1000; i++) {
            double x = dist_sample(&d, &a), y = dist_sample(&d, &b);
            assert_memory_equal(&x, &y, sizeof x);
        }
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(dist_name(DIST_CONSTANT), "constant");
    assert_string_equal(dist_name(DIST_PARETO), "pareto");
    assert_string_equal(dist_name(DIST_WEIBULL), "weibull");
    assert_string_equal(dist_name((enum dist_kind)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_exponential),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_lognormal),
        cmocka_unit_test(test_pareto),
        cmocka_unit_test(test_weibull),
        cmocka_unit_test(test_ks_rejects_wrong_cdf),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_flowgrind_parameters),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_invalid_parameters),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
