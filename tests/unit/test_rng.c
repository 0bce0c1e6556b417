/* rng: reference vectors for splitmix64, xoshiro256** and its jump; determinism; the bounds
 * of every draw; and chi-square uniformity with fixed seeds (deterministic, so never flaky).
 *
 * Where the vectors come from: the splitmix64 outputs for seed 1234567 and the xoshiro256**
 * outputs from state {1, 2, 3, 4} are the values published alongside those generators (and
 * the first three xoshiro outputs were checked by hand: rotl(2 * 5, 7) * 9 = 11520, then 0
 * since s[1] becomes 0, then rotl(262149 * 5, 7) * 9 = 1509978240). The jump result was
 * computed independently of the jump polynomial: a Python model built the 256x256 GF(2)
 * transition matrix T of the engine, squared it 128 times to get T^(2^128), and applied it
 * to {1, 2, 3, 4}; it agrees with the published polynomial. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"

/* chi-square critical values at alpha = 0.001 */
#define CHI2_DF9_CRIT 27.877
#define CHI2_DF63_CRIT 103.442
#define CHI2_DF99_CRIT 148.230

static void test_splitmix64_vector(void **state)
{
    (void)state;
    static const uint64_t want[] = {6457827717110365317ULL, 3203168211198807973ULL,
                                    9817491932198370423ULL, 4593380528125082431ULL,
                                    16408922859458223821ULL};
    uint64_t x = 1234567;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(rng_splitmix64(&x), want[i]);
}

static void test_xoshiro_vector(void **state)
{
    (void)state;
    static const uint64_t want[] = {11520ULL,
                                    0ULL,
                                    1509978240ULL,
                                    1215971899390074240ULL,
                                    1216172134540287360ULL,
                                    607988272756665600ULL};
    struct rng r = {.s = {1, 2, 3, 4}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(rng_next(&r), want[i]);
}

/* rng_seed is splitmix64 from the seed, four times: seed 0 and seed 42. */
static void test_seed_vector(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 0);
    assert_int_equal(r.s[0], 0xe220a8397b1dcdafULL);
    assert_int_equal(r.s[1], 0x6e789e6aa1b965f4ULL);
    assert_int_equal(r.s[2], 0x06c45d188009454fULL);
    assert_int_equal(r.s[3], 0xf88bb8a8724c81ecULL);
    assert_int_equal(rng_next(&r), 0x99ec5f36cb75f2b4ULL);
    assert_int_equal(rng_next(&r), 0xbf6e1f784956452aULL);

    rng_seed(&r, 42);
    assert_int_equal(rng_next(&r), 0x15780b2e0c2ec716ULL);
    assert_int_equal(rng_next(&r), 0x6104d9866d113a7eULL);
    assert_int_equal(rng_next(&r), 0xae17533239e499a1ULL);
    assert_int_equal(rng_next(&r), 0xecb8ad4703b360a1ULL);
}

static void test_jump_vector(void **state)
{
    (void)state;
    struct rng r = {.s = {1, 2, 3, 4}};
    rng_jump(&r);
    assert_int_equal(r.s[0], 0x8c7a153956b5f3d1ULL);
    assert_int_equal(r.s[1], 0x701f1a713401d85eULL);
    assert_int_equal(r.s[2], 0x6527f66a65469085ULL);
    assert_int_equal(r.s[3], 0x8386b786c4408050ULL);
}

/* A jump is a power of the transition, so it commutes with a step; and two jumps from one
 * seed give streams that differ from each other and from the original. */
static void test_jump_commutes(void **state)
{
    (void)state;
    struct rng a, b;
    rng_seed(&a, 7);
    b = a;
    rng_next(&a);
    rng_jump(&a);
    rng_jump(&b);
    rng_next(&b);
    assert_memory_equal(a.s, b.s, sizeof a.s);

    struct rng s0, s1, s2;
    rng_seed(&s0, 7);
    s1 = s0;
    rng_jump(&s1);
    s2 = s1;
    rng_jump(&s2);
    uint64_t x0 = rng_next(&s0), x1 = rng_next(&s1), x2 = rng_next(&s2);
    assert_true(x0 != x1 && x1 != x2 && x0 != x2);
}

static void test_determinism(void **state)
{
    (void)state;
    struct rng a, b, c;
    rng_seed(&a, 123456789);
    rng_seed(&b, 123456789);
    rng_seed(&c, 123456790);
    int same_as_c = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t x = rng_next(&a);
        assert_int_equal(x, rng_next(&b));
        same_as_c += x == rng_next(&c);
    }
    assert_int_equal(same_as_c, 0);
}

static void test_seed_zero_not_stuck(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 0);
    assert_true((r.s[0] | r.s[1] | r.s[2] | r.s[3]) != 0);
    uint64_t first = rng_next(&r);
    assert_true(first != rng_next(&r));
}

static void test_entropy_seed_differs(void **state)
{
    (void)state;
    /* Equal with probability 2^-64. */
    assert_true(rng_entropy_seed() != rng_entropy_seed());
}

static void test_double_bounds(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 1);
    double sum = 0;
    for (int i = 0; i < 200000; i++) {
        double d = rng_double(&r);
        assert_true(d >= 0.0 && d < 1.0);
        double e = rng_double_open0(&r);
        assert_true(e > 0.0 && e <= 1.0);
        sum += d;
    }
    /* mean 1/2, sd of the mean sqrt(1/12 / 2e5) = 6.5e-4: 0.004 is six sigma */
    assert_true(sum / 200000 > 0.496 && sum / 200000 < 0.504);

    /* The extremes of the mapping. s[1] = 0 makes the next output 0; s[1] = the preimage
     * of all ones under rotl(x * 5, 7) * 9 makes it 2^64 - 1. */
    struct rng zero = {.s = {1, 0, 0, 0}};
    struct rng zero2 = zero;
    assert_true(rng_double(&zero) == 0.0);
    assert_true(rng_double_open0(&zero2) == 0x1.0p-53);
    struct rng ones = {.s = {1, 0x4fc71c71c71c71c7ULL, 0, 0}};
    struct rng ones2 = ones, ones3 = ones;
    assert_int_equal(rng_next(&ones3), UINT64_MAX);
    assert_true(rng_double(&ones) == 1.0 - 0x1.0p-53);
    assert_true(rng_double_open0(&ones2) == 1.0);
}

static double chi_square(const uint64_t *observed, size_t k, double expected_each)
{
    double chi2 = 0;
    for (size_t i = 0; i < k; i++) {
        double d = (double)observed[i] - expected_each;
        chi2 += d * d / expected_each;
    }
    return chi2;
}

static void test_below_chi_square(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 2024);
    uint64_t counts[100] = {0};
    const int n = 1000000;
    for (int i = 0; i < n; i++) {
        uint64_t v = rng_below(&r, 100);
        assert_true(v < 100);
        counts[v]++;
    }
    assert_true(chi_square(counts, 100, n / 100.0) < CHI2_DF99_CRIT);
}

static void test_double_chi_square(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 99);
    uint64_t counts[64] = {0};
    const int n = 640000;
    for (int i = 0; i < n; i++)
        counts[(int)(rng_double(&r) * 64)]++;
    assert_true(chi_square(counts, 64, n / 64.0) < CHI2_DF63_CRIT);
}

/* n = 3 * 2^62: "x % n" would give [0, 2^62) twice the probability of the other two
 * quarters (x in [n, 2^64) folds back onto it). Unbiased, the top two bits of the result
 * are 0, 1, 2 equally often. */
static void test_below_no_modulo_bias(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 5);
    const uint64_t n = 3ULL << 62;
    uint64_t counts[3] = {0};
    const int draws = 300000;
    for (int i = 0; i < draws; i++) {
        uint64_t v = rng_below(&r, n);
        assert_true(v < n);
        counts[v >> 62]++;
    }
    /* df = 2, alpha = 0.001: 13.816 */
    assert_true(chi_square(counts, 3, draws / 3.0) < 13.816);
}

static void test_below_edges(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 3);
    assert_int_equal(rng_below(&r, 0), 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rng_below(&r, 1), 0);
        assert_true(rng_below(&r, 2) < 2);
        assert_true(rng_below(&r, UINT64_MAX) < UINT64_MAX);
        assert_true(rng_below(&r, (1ULL << 63) + 1) <= (1ULL << 63));
    }
}

static void test_range(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 11);
    assert_int_equal(rng_range(&r, 5, 5), 5);
    assert_int_equal(rng_range(&r, 9, 2), 9);

    uint64_t seen[10] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        uint64_t v = rng_range(&r, 1000, 1009);
        assert_true(v >= 1000 && v <= 1009);
        seen[v - 1000]++;
    }
    assert_true(chi_square(seen, 10, n / 10.0) < CHI2_DF9_CRIT);

    /* The full range: every 64-bit value is possible; the top bit is set about half the
     * time. */
    int top = 0;
    for (int i = 0; i < 10000; i++)
        top += rng_range(&r, 0, UINT64_MAX) >> 63;
    assert_true(top > 4700 && top < 5300);

    /* A range touching the top. */
    for (int i = 0; i < 1000; i++)
        assert_true(rng_range(&r, UINT64_MAX - 1, UINT64_MAX) >= UINT64_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splitmix64_vector),   cmocka_unit_test(test_xoshiro_vector),
        cmocka_unit_test(test_seed_vector),         cmocka_unit_test(test_jump_vector),
        cmocka_unit_test(test_jump_commutes),       cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_seed_zero_not_stuck), cmocka_unit_test(test_entropy_seed_differs),
        cmocka_unit_test(test_double_bounds),       cmocka_unit_test(test_double_chi_square),
        cmocka_unit_test(test_below_chi_square),    cmocka_unit_test(test_below_no_modulo_bias),
        cmocka_unit_test(test_below_edges),         cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
