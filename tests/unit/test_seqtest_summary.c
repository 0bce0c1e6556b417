/* seqtest's summary: the original's integer mean and stddev and its even/odd percentile
 * rule against hand-computed values, n = 0, 1, 2 and larger, the exact text format, the
 * violation block and the dump line (signed time). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "seqtest/summary.h"

static void test_n0(void **state)
{
    (void)state;
    struct seq_stats st;
    uint64_t none[1] = {0};
    seq_stats_compute(none, 0, &st);
    assert_true(st.n == 0);
    assert_true(st.mean_ns == 0 && st.variance == 0 && st.min_ns == 0 && st.max_ns == 0);
    assert_true(st.median_ns == 0.0 && st.p999_ns == 0.0 && st.stddev_ns == 0.0);
}

static void test_n1(void **state)
{
    (void)state;
    struct seq_stats st;
    uint64_t s[] = {5000};
    seq_stats_compute(s, 1, &st);
    assert_true(st.n == 1);
    assert_true(st.mean_ns == 5000);
    assert_true(st.variance == 0);
    /* x = 0.5, 0.9, 0.99, 0.999: never an integer, so s[ceil(x) - 1] = s[0]. */
    assert_true(st.median_ns == 5000.0);
    assert_true(st.p90_ns == 5000.0);
    assert_true(st.p999_ns == 5000.0);
    assert_true(st.min_ns == 5000 && st.max_ns == 5000);
}

static void test_n2(void **state)
{
    (void)state;
    struct seq_stats st;
    uint64_t s[] = {3001, 1000}; /* unsorted on purpose */
    seq_stats_compute(s, 2, &st);
    assert_true(s[0] == 1000 && s[1] == 3001); /* sorted in place */
    assert_true(st.mean_ns == 2000);           /* floor(4001 / 2) */
    /* (1000 - 2000)^2 + (3001 - 2000)^2 = 1000000 + 1002001 = 2002001; / 2 = 1001000 (floor). */
    assert_true(st.variance == 1001000);
    assert_true(st.stddev_ns > 1000.49 && st.stddev_ns < 1000.5);
    /* Median: x = 1 is an integer, so (s[0] + s[1]) / 2. */
    assert_true(st.median_ns == 2000.5);
    assert_true(st.p90_ns == 3001.0); /* x = 1.8 -> s[1] */
    assert_true(st.p99_ns == 3001.0);
    assert_true(st.min_ns == 1000 && st.max_ns == 3001);
}

static void test_n10(void **state)
{
    (void)state;
    uint64_t s[10];
    for (int i = 0; i < 10; i++)
        s[i] = (uint64_t)(10 - i) * 1000; /* 10000 .. 1000 */
    struct seq_stats st;
    seq_stats_compute(s, 10, &st);
    assert_true(st.mean_ns == 5500);
    /* sum (x - 5500)^2 = 1e6 * (4.5^2 + 3.5^2 + ... ) * 2 = 82500000; / 10 = 8250000 */
    assert_true(st.variance == 8250000);
    assert_true(st.median_ns == 5500.0); /* x = 5: (s[4] + s[5]) / 2 = (5000 + 6000) / 2 */
    assert_true(st.p90_ns == 9500.0);    /* x = 9: (9000 + 10000) / 2 */
    assert_true(st.p99_ns == 10000.0);   /* x = 9.9 -> s[9] */
    assert_true(st.p999_ns == 10000.0);
}

static void test_n1000_integer_rule(void **state)
{
    (void)state;
    enum {
        N = 1000
    };
    static uint64_t s[N];
    for (int i = 0; i < N; i++)
        s[i] = (uint64_t)i * 2 + 1; /* 1, 3, ..., 1999 */
    /* 1000 * 99.9 / 100 is 999 exactly in doubles: the even rule applies. */
    assert_true(seq_pctile(s, N, 99.9) == (s[998] + s[999]) / 2.0);
    assert_true(seq_pctile(s, N, 99.0) == (s[989] + s[990]) / 2.0);
    assert_true(seq_pctile(s, N, 50.0) == (s[499] + s[500]) / 2.0);
    /* n = 999: x = 998.001 for 99.9 -> s[998]. */
    assert_true(seq_pctile(s, 999, 99.9) == (double)s[998]);
    assert_true(seq_pctile(s, 999, 50.0) == (double)s[499]); /* x = 499.5 -> s[499] */
    assert_true(seq_pctile(s, 0, 50.0) == 0.0);
}

static void test_no_wrap(void **state)
{
    (void)state;
    /* Squares of differences near 2^40 overflow 64 bits; the 128-bit sums must not. */
    uint64_t s[] = {0, 1ULL << 41};
    struct seq_stats st;
    seq_stats_compute(s, 2, &st);
    assert_true(st.mean_ns == 1ULL << 40);
    assert_true(st.variance == UINT64_MAX); /* 2^80 saturates */
    uint64_t big[] = {UINT64_MAX, UINT64_MAX};
    seq_stats_compute(big, 2, &st);
    assert_true(st.mean_ns == UINT64_MAX);
    assert_true(st.variance == 0);
}

static char *capture_summary(const struct seq_stats *st, uint64_t elapsed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    seq_summary_print(f, st, elapsed);
    fclose(f);
    return buf;
}

static void test_summary_text(void **state)
{
    (void)state;
    uint64_t s[] = {1000, 3001};
    struct seq_stats st;
    seq_stats_compute(s, 2, &st);
    char *text = capture_summary(&st, 81233449);
    assert_string_equal(text, "Received 2 replies\n"
                              "Time: 81233.4 us\n"
                              "ROUND TRIP LATENCY:\n"
                              "Average:  2.0 us\n"
                              "Stddev:   1.0 us\n"
                              "Median:   2.0 us\n"
                              "90.0%ile: 3.0 us\n"
                              "99.0%ile: 3.0 us\n"
                              "99.9%ile: 3.0 us\n"
                              "Minimum:  1.0 us\n"
                              "Maximum:  3.0 us\n");
    free(text);
    seq_stats_compute(s, 0, &st);
    text = capture_summary(&st, 0);
    assert_string_equal(text, "Received 0 replies\n"
                              "Time: 0.0 us\n"
                              "ROUND TRIP LATENCY:\n"
                              "Average:  0.0 us\n"
                              "Stddev:   0.0 us\n"
                              "Median:   0.0 us\n"
                              "90.0%ile: 0.0 us\n"
                              "99.0%ile: 0.0 us\n"
                              "99.9%ile: 0.0 us\n"
                              "Minimum:  0.0 us\n"
                              "Maximum:  0.0 us\n");
    free(text);
}

static void test_violation_block(void **state)
{
    (void)state;
    struct seq_viol_counts a = {0}, b = {0};
    a.n[SEQ_V_SEQNO] = 2;
    b.n[SEQ_V_SEQNO] = 1;
    b.n[SEQ_V_PAYLOAD] = 4;
    seq_viol_add(&a, &b);
    assert_true(seq_viol_total(&a) == 7);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    seq_viol_print(f, &a);
    fclose(f);
    assert_string_equal(buf, "Violations: 7\n"
                             "  seqno: 3\n"
                             "  ts1_backwards: 0\n"
                             "  time_travel: 0\n"
                             "  negative_cost: 0\n"
                             "  ts1_mismatch: 0\n"
                             "  echo: 0\n"
                             "  size: 0\n"
                             "  header: 0\n"
                             "  payload: 4\n"
                             "  closed_early: 0\n"
                             "  io_error: 0\n");
    free(buf);
    assert_string_equal(seq_viol_name(SEQ_V_CLOSED_EARLY), "closed_early");
    assert_string_equal(seq_viol_name(SEQ_V_COUNT), "unknown");
}

static void test_dump_line(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fputs(SEQ_DUMP_HEADER, f);
    seq_dump_line(f, 0, -1234, 15800, 40, 100); /* stamped before the start: negative */
    seq_dump_line(f, 3, 987654321, 7, 0, 0);
    fclose(f);
    assert_string_equal(buf, "# thread time latency rsz ssz\n"
                             "0 -1234 15800 40 100\n"
                             "3 987654321 7 0 0\n");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_n0),
        cmocka_unit_test(test_n1),
        cmocka_unit_test(test_n2),
        cmocka_unit_test(test_n10),
        cmocka_unit_test(test_n1000_integer_rule),
        cmocka_unit_test(test_no_wrap),
        cmocka_unit_test(test_summary_text),
        cmocka_unit_test(test_violation_block),
        cmocka_unit_test(test_dump_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
