/* flowgrind traffic generation (spec §5.2, §5.4, §6.2): constant and uniform sizes, the -U
 * cap with its re-draw-then-clamp rule for requests and clamp-once rule for responses, the
 * draw order, reproducibility from the seed, the sample means of E, N, W, P and L against
 * their models (fixed seed, so deterministic), and gaps: -R from the actual block size
 * (bug 18 fixed) and never negative (bug 50 fixed). */

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
#include "flowgrind/traffic.h"

#define N_DRAWS 20000
#define SEED 12345
#define BIG_BLOCK (1 << 24) /* a -U so large the cap does not bend the statistics */

static void set_dist(struct dist *d, enum dist_kind kind, double p1, double p2)
{
    char err[128] = "";
    assert_int_equal(dist_init(d, kind, p1, p2, err, sizeof(err)), 0);
}

static void init_ok(struct fg_traffic *t, uint64_t seed)
{
    char err[128] = "";
    assert_int_equal(fg_traffic_init(t, seed, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

static void test_defaults(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    init_ok(&t, SEED);
    for (int i = 0; i < 100; i++) {
        int32_t req = -1, resp = -1;
        fg_traffic_next_block(&t, &req, &resp);
        assert_int_equal(req, 8192);
        assert_int_equal(resp, 0);
        assert_true(fg_traffic_next_gap(&t) == 0.0);
    }
}

static void test_constant_sizes(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_CONSTANT, 350, 0);
    set_dist(&t.response, DIST_CONSTANT, 2000, 0);
    set_dist(&t.gap, DIST_CONSTANT, 0.01, 0);
    init_ok(&t, SEED);
    for (int i = 0; i < 100; i++) {
        int32_t req, resp;
        fg_traffic_next_block(&t, &req, &resp);
        assert_int_equal(req, 350);
        assert_int_equal(resp, 2000);
        assert_true(fg_traffic_next_gap(&t) == 0.01);
    }
}

/* U:100:200 gave 100..199 on the original: every value, and nothing else. */
static void test_uniform_sizes(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_UNIFORM, 100, 200);
    t.maximum_block_size = 200;
    init_ok(&t, SEED);
    int seen[201] = {0};
    for (int i = 0; i < N_DRAWS; i++) {
        int32_t req;
        fg_traffic_next_block(&t, &req, NULL);
        assert_in_range(req, 100, 199);
        seen[req]++;
    }
    for (int v = 100; v <= 199; v++)
        assert_true(seen[v] > 0);
}

/* The cap: a request far above -U ends clamped to it, one far below ends at 40. */
static void test_request_clamped_after_draws(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_NORMAL, 100000, 10);
    init_ok(&t, SEED);
    for (int i = 0; i < 1000; i++) {
        int32_t req;
        fg_traffic_next_block(&t, &req, NULL);
        assert_int_equal(req, 8192);
    }
    set_dist(&t.request, DIST_NORMAL, -1000, 10);
    for (int i = 0; i < 1000; i++) {
        int32_t req;
        fg_traffic_next_block(&t, &req, NULL);
        assert_int_equal(req, FG_TRAFFIC_MIN_BLOCK);
    }
}

/* Exactly FG_TRAFFIC_MAX_DRAWS draws before giving up: a uniform sample takes one rng step,
 * so after one block that never fits the generator is exactly 10 steps on. */
static void test_request_draw_count(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_UNIFORM, 10000, 20000);
    init_ok(&t, SEED);
    int32_t req;
    fg_traffic_next_block(&t, &req, NULL);
    assert_int_equal(req, 8192);
    struct rng model;
    rng_seed(&model, SEED);
    for (int i = 0; i < FG_TRAFFIC_MAX_DRAWS; i++)
        (void)rng_next(&model);
    assert_true(rng_next(&model) == rng_next(&t.rng));
}

/* Re-drawing, not clamping at once: U:0:100 is below 40 with probability 0.4, so clamping at
 * once would give 40 about 40% of the time; re-drawing gives 40 only as an honest draw
 * (1%) or after ten misses (0.4^10). */
static void test_request_redrawn(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_UNIFORM, 0, 100);
    init_ok(&t, SEED);
    int forty = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        int32_t req;
        fg_traffic_next_block(&t, &req, NULL);
        assert_in_range(req, 40, 99);
        forty += req == 40;
    }
    assert_true(forty < N_DRAWS / 50);
    assert_true(forty > 0);
}

static void test_response_rules(void **state)
{
    (void)state;
    struct fg_traffic t;
    int32_t req, resp;
    fg_traffic_defaults(&t);
    init_ok(&t, SEED);

    set_dist(&t.response, DIST_CONSTANT, 20000, 0);
    fg_traffic_next_block(&t, &req, &resp);
    assert_int_equal(resp, 8192);
    set_dist(&t.response, DIST_CONSTANT, 10, 0);
    fg_traffic_next_block(&t, &req, &resp);
    assert_int_equal(resp, FG_TRAFFIC_MIN_BLOCK);
    set_dist(&t.response, DIST_CONSTANT, 0, 0);
    fg_traffic_next_block(&t, &req, &resp);
    assert_int_equal(resp, 0);

    /* Drawn once and clamped: U:0:100 gives 40 for every draw below 40 (about 40%). */
    set_dist(&t.response, DIST_UNIFORM, 0, 100);
    int forty = 0, zero = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        fg_traffic_next_block(&t, &req, &resp);
        assert_int_equal(req, 8192);
        if (resp == 0)
            zero++;
        else
            assert_in_range(resp, 40, 99);
        forty += resp == 40;
    }
    assert_in_range(forty, N_DRAWS * 36 / 100, N_DRAWS * 44 / 100);
    assert_in_range(zero, 1, N_DRAWS / 50); /* [0, 1) truncates to 0, which stays 0 */
}

/* Request draw, response draw, then the gap, each straight from the one generator. */
static void test_draw_order(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_UNIFORM, 100, 1000);
    set_dist(&t.response, DIST_UNIFORM, 2000, 3000);
    set_dist(&t.gap, DIST_UNIFORM, 0.001, 0.002);
    init_ok(&t, SEED);
    struct rng model;
    rng_seed(&model, SEED);
    for (int i = 0; i < 100; i++) {
        int32_t req, resp;
        fg_traffic_next_block(&t, &req, &resp);
        double gap = fg_traffic_next_gap(&t);
        assert_int_equal(req, (int32_t)floor(dist_sample(&t.request, &model)));
        assert_int_equal(resp, (int32_t)floor(dist_sample(&t.response, &model)));
        assert_true(gap == dist_sample(&t.gap, &model));
    }
}

static void fill_sequence(uint64_t seed, int32_t *out, double *gaps, int n)
{
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_NORMAL, 2000, 500);
    set_dist(&t.response, DIST_EXPONENTIAL, 300, 0);
    set_dist(&t.gap, DIST_EXPONENTIAL, 0.005, 0);
    init_ok(&t, seed);
    assert_true(t.seed == seed);
    for (int i = 0; i < n; i++) {
        fg_traffic_next_block(&t, &out[2 * i], &out[2 * i + 1]);
        gaps[i] = fg_traffic_next_gap(&t);
    }
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    int32_t a[200], b[200], c[200];
    double ga[100], gb[100], gc[100];
    fill_sequence(SEED, a, ga, 100);
    fill_sequence(SEED, b, gb, 100);
    fill_sequence(SEED + 1, c, gc, 100);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_equal(ga, gb, sizeof(ga));
    assert_true(memcmp(a, c, sizeof(a)) != 0);
    assert_true(memcmp(ga, gc, sizeof(ga)) != 0);
}

struct moments {
    double mean, sd, min;
};

static struct moments request_moments(enum dist_kind kind, double p1, double p2, int use_log)
{
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, kind, p1, p2);
    t.maximum_block_size = BIG_BLOCK;
    init_ok(&t, SEED);
    double sum = 0, sum2 = 0, min = INFINITY;
    for (int i = 0; i < N_DRAWS; i++) {
        int32_t req;
        fg_traffic_next_block(&t, &req, NULL);
        assert_in_range(req, FG_TRAFFIC_MIN_BLOCK, BIG_BLOCK);
        double x = use_log ? log(req) : req;
        sum += x;
        sum2 += x * x;
        if (x < min)
            min = x;
    }
    double mean = sum / N_DRAWS;
    return (struct moments){mean, sqrt(sum2 / N_DRAWS - mean * mean), min};
}

static void assert_near(double got, double want, double rel)
{
    if (fabs(got - want) > rel * fabs(want))
        fail_msg("got %g, want %g within %g%%", got, want, rel * 100);
}

static void test_sample_means(void **state)
{
    (void)state;
    /* E:500, #1 the mean. Draws below 40 are re-drawn, and the exponential is memoryless,
     * so the mean of what is kept is 40 + 500 (less the half byte of rounding). */
    struct moments m = request_moments(DIST_EXPONENTIAL, 500, 0, 0);
    assert_near(m.mean, 539.5, 0.02);
    assert_true(m.min >= 40);

    /* N:2000:50: #1 the mean, #2 the standard deviation (not the variance). */
    m = request_moments(DIST_NORMAL, 2000, 50, 0);
    assert_near(m.mean, 2000, 0.002);
    assert_near(m.sd, 50, 0.04);

    /* W:1000:2: scale 1000, shape 2, mean 1000 * Gamma(1.5). */
    m = request_moments(DIST_WEIBULL, 1000, 2, 0);
    assert_near(m.mean, 1000 * tgamma(1.5), 0.02);

    /* P:3:100: shape 3, x_min 100: nothing below x_min, mean 3 * 100 / 2. */
    m = request_moments(DIST_PARETO, 3, 100, 0);
    assert_true(m.min >= 100 && m.min <= 101);
    assert_near(m.mean, 150, 0.02);

    /* L:7:1, a real lognormal as documented: ln(size) has mean 7 and deviation 1 (the
     * original's normal(7, 1) gave only 40-byte blocks). */
    m = request_moments(DIST_LOGNORMAL, 7, 1, 1);
    assert_near(m.mean, 7, 0.01);
    assert_near(m.sd, 1, 0.04);
}

/* L:7:1 under the default -U 8192: the ~2% of draws above the cap are re-drawn, so sizes
 * spread over the range and few sit at either bound. */
static void test_lognormal_capped(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.request, DIST_LOGNORMAL, 7, 1);
    init_ok(&t, SEED);
    int at_bound = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        int32_t req;
        fg_traffic_next_block(&t, &req, NULL);
        assert_in_range(req, 40, 8192);
        at_bound += req == 40 || req == 8192;
    }
    assert_true(at_bound < N_DRAWS / 100);
}

/* -R: 10Mb = 1310720 B/s; 8192-byte blocks are 6.25 ms apart, and 4096-byte blocks 3.125 ms
 * apart even with -U 8192 (the original said 6.25 ms: bug 18). The gap distribution is not
 * used. */
static void test_gap_write_rate(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    t.write_rate = 1310720;
    set_dist(&t.gap, DIST_CONSTANT, 5, 0);
    init_ok(&t, SEED);
    assert_true(fg_traffic_next_gap(&t) == 0.0); /* no block written yet */
    fg_traffic_next_block(&t, NULL, NULL);
    assert_true(fg_traffic_next_gap(&t) == 0.00625);
    set_dist(&t.request, DIST_CONSTANT, 4096, 0);
    fg_traffic_next_block(&t, NULL, NULL);
    assert_true(fg_traffic_next_gap(&t) == 0.003125);

    /* Varying sizes: every gap is that block's size over the rate. */
    set_dist(&t.request, DIST_UNIFORM, 100, 8000);
    for (int i = 0; i < 100; i++) {
        int32_t req;
        fg_traffic_next_block(&t, &req, NULL);
        assert_true(fg_traffic_next_gap(&t) == req / 1310720.0);
    }
}

/* N:-0.001:0.002 as a gap: about 2/3 of the draws are negative and count as 0; the rest are
 * positive and passed through uncapped. E:0.005 keeps its mean. */
static void test_gap_distribution(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    set_dist(&t.gap, DIST_NORMAL, -0.001, 0.002);
    init_ok(&t, SEED);
    int zero = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        fg_traffic_next_block(&t, NULL, NULL);
        double g = fg_traffic_next_gap(&t);
        assert_true(g >= 0);
        zero += g == 0;
    }
    assert_in_range(zero, N_DRAWS * 65 / 100, N_DRAWS * 73 / 100);

    set_dist(&t.gap, DIST_EXPONENTIAL, 0.005, 0);
    double sum = 0;
    for (int i = 0; i < N_DRAWS; i++)
        sum += fg_traffic_next_gap(&t);
    assert_near(sum / N_DRAWS, 0.005, 0.03);
}

static void test_init_errors(void **state)
{
    (void)state;
    struct fg_traffic t;
    char err[128] = "";
    fg_traffic_defaults(&t);
    t.maximum_block_size = 39;
    assert_int_equal(fg_traffic_init(&t, SEED, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maximum block size must be >= 40, not 39");

    fg_traffic_defaults(&t);
    t.write_rate = -1;
    assert_int_equal(fg_traffic_init(&t, SEED, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "write rate must be finite and >= 0, not -1");
    t.write_rate = NAN;
    assert_int_equal(fg_traffic_init(&t, SEED, NULL, 0), -EINVAL);
}

/* Bulk: every block the same and due at once; anything random, a response, a gap or a rate
 * is not. */
static void test_is_bulk(void **state)
{
    (void)state;
    struct fg_traffic t;
    fg_traffic_defaults(&t);
    assert_true(fg_traffic_is_bulk(&t));
    t.request.p1 = 350;
    assert_true(fg_traffic_is_bulk(&t));

    fg_traffic_defaults(&t);
    assert_int_equal(dist_init(&t.response, DIST_CONSTANT, 2000, 0, NULL, 0), 0);
    assert_false(fg_traffic_is_bulk(&t));

    fg_traffic_defaults(&t);
    assert_int_equal(dist_init(&t.gap, DIST_CONSTANT, 0.001, 0, NULL, 0), 0);
    assert_false(fg_traffic_is_bulk(&t));

    fg_traffic_defaults(&t);
    t.write_rate = 1e6;
    assert_false(fg_traffic_is_bulk(&t));

    fg_traffic_defaults(&t);
    assert_int_equal(dist_init(&t.request, DIST_UNIFORM, 100, 200, NULL, 0), 0);
    assert_false(fg_traffic_is_bulk(&t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_constant_sizes),
        cmocka_unit_test(test_uniform_sizes),
        cmocka_unit_test(test_request_clamped_after_draws),
        cmocka_unit_test(test_request_draw_count),
        cmocka_unit_test(test_request_redrawn),
        cmocka_unit_test(test_response_rules),
        cmocka_unit_test(test_draw_order),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_sample_means),
        cmocka_unit_test(test_lognormal_capped),
        cmocka_unit_test(test_gap_write_rate),
        cmocka_unit_test(test_gap_distribution),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_is_bulk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
