/* Unit tests for core/report: the interval schedule, the shared JSON shapes, C-locale text. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hist.h"
#include "core/report.h"

#include "comma_locale.h"

/* ---- schedule ------------------------------------------------------------------------ */

static void test_schedule_init(void **state)
{
    (void)state;
    struct report_schedule s;
    assert_int_equal(report_schedule_init(&s, 5, 0), -EINVAL);
    assert_int_equal(report_schedule_init(&s, 1000, 100), 0);
    assert_int_equal(report_schedule_next_deadline(&s), 1100);
    assert_int_equal(report_schedule_deadline(&s, 0), 1100);
    assert_int_equal(report_schedule_deadline(&s, 9), 2000);
}

static void test_schedule_on_time_and_late(void **state)
{
    (void)state;
    struct report_schedule s;
    struct report_tick t;
    report_schedule_init(&s, 1000, 100);

    assert_false(report_schedule_due(&s, 500, &t));  /* before the start */
    assert_false(report_schedule_due(&s, 1099, &t)); /* early wake-up */

    assert_true(report_schedule_due(&s, 1100, &t)); /* exactly on time */
    assert_int_equal(t.first, 0);
    assert_int_equal(t.index, 0);
    assert_int_equal(t.missed, 0);
    assert_int_equal(t.begin_ns, 1000);
    assert_int_equal(t.end_ns, 1100);
    assert_int_equal(t.late_ns, 0);
    assert_false(report_schedule_due(&s, 1100, &t)); /* already reported */
    assert_false(report_schedule_due(&s, 1150, &t));

    assert_true(report_schedule_due(&s, 1230, &t)); /* 30 ns late */
    assert_int_equal(t.index, 1);
    assert_int_equal(t.end_ns, 1200);
    assert_int_equal(t.late_ns, 30);
    /* No drift: the next deadline is start + 3I, not 1230 + I. */
    assert_int_equal(report_schedule_next_deadline(&s), 1300);

    /* A wake-up 3.5 intervals late lumps intervals 2..5 together and says so. */
    assert_true(report_schedule_due(&s, 1650, &t));
    assert_int_equal(t.first, 2);
    assert_int_equal(t.index, 5);
    assert_int_equal(t.missed, 3);
    assert_int_equal(t.begin_ns, 1200);
    assert_int_equal(t.end_ns, 1600);
    assert_int_equal(t.late_ns, 50);
    assert_int_equal(report_schedule_next_deadline(&s), 1700);
}

static void test_schedule_no_drift_under_jitter(void **state)
{
    (void)state;
    /* Wake up late by a varying amount every time; every report must still end on
     * start + k*I, and the reports must cover every interval exactly once. */
    struct report_schedule s;
    struct report_tick t;
    const uint64_t start = 123456789, iv = 1000000;
    report_schedule_init(&s, start, iv);
    uint64_t covered = 0, lumped = 0;
    uint64_t lcg = 1;
    for (int i = 0; i < 10000; i++) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t lateness = (lcg >> 33) % (3 * iv); /* up to 3 intervals late */
        uint64_t now = report_schedule_next_deadline(&s) + lateness;
        assert_true(report_schedule_due(&s, now, &t));
        assert_int_equal(t.first, covered);
        assert_int_equal(t.end_ns, start + (t.index + 1) * iv);
        assert_int_equal(t.begin_ns, start + t.first * iv);
        assert_true(t.late_ns < iv);
        assert_int_equal(t.missed, t.index - t.first);
        lumped += t.missed;
        covered = t.index + 1;
    }
    assert_true(lumped > 0); /* the jitter really did make some wake-ups miss ends */
    assert_int_equal(s.next, covered);
}

static void test_schedule_final(void **state)
{
    (void)state;
    struct report_schedule s;
    struct report_tick t;
    report_schedule_init(&s, 0, 100);
    assert_true(report_schedule_due(&s, 210, &t)); /* intervals 0, 1 */
    assert_int_equal(t.index, 1);

    /* Stop at 275: the partial interval 2, [200, 275). */
    assert_true(report_schedule_final(&s, 275, &t));
    assert_int_equal(t.first, 2);
    assert_int_equal(t.index, 2);
    assert_int_equal(t.missed, 0);
    assert_int_equal(t.begin_ns, 200);
    assert_int_equal(t.end_ns, 275);
    assert_true(t.partial);
    /* Nothing more to report. */
    assert_false(report_schedule_final(&s, 275, &t));
    assert_false(report_schedule_final(&s, 300, &t));
    assert_int_equal(t.begin_ns, 300);
    assert_int_equal(t.end_ns, 300);

    /* Stop exactly on an interval end: a whole interval, not partial. */
    report_schedule_init(&s, 0, 100);
    assert_true(report_schedule_final(&s, 100, &t));
    assert_int_equal(t.index, 0);
    assert_false(t.partial);

    /* Stop long after the last report: everything since, lumped. */
    report_schedule_init(&s, 0, 100);
    assert_true(report_schedule_final(&s, 350, &t));
    assert_int_equal(t.first, 0);
    assert_int_equal(t.index, 3);
    assert_int_equal(t.missed, 3);
    assert_true(t.partial);

    /* Stop before the start. */
    report_schedule_init(&s, 1000, 100);
    assert_false(report_schedule_final(&s, 999, &t));
}

static void test_schedule_saturates(void **state)
{
    (void)state;
    struct report_schedule s;
    report_schedule_init(&s, UINT64_MAX - 50, 100);
    assert_int_equal(report_schedule_deadline(&s, 0), UINT64_MAX);
    assert_int_equal(report_schedule_deadline(&s, UINT64_MAX), UINT64_MAX);
    report_schedule_init(&s, 0, UINT64_MAX / 2);
    assert_int_equal(report_schedule_deadline(&s, 5), UINT64_MAX);
    struct report_tick t;
    assert_false(report_schedule_due(&s, UINT64_MAX / 2 - 1, &t));
    assert_true(report_schedule_due(&s, UINT64_MAX / 2, &t));
}

/* ---- JSON ---------------------------------------------------------------------------- */

struct sink {
    char *buf;
    size_t len;
    FILE *f;
    struct json j;
};

static void sink_open(struct sink *s)
{
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    assert_non_null(s->f);
    json_init(&s->j, s->f, false);
}

static void sink_expect(struct sink *s, const char *want)
{
    int rc = json_finish(&s->j);
    fclose(s->f);
    assert_int_equal(rc, 0);
    assert_string_equal(s->buf, want);
    free(s->buf);
}

static void test_percentile_key(void **state)
{
    (void)state;
    char k[32];
    assert_int_equal(report_percentile_key(k, sizeof(k), 99.9, REPORT_UNIT_US), 8);
    assert_string_equal(k, "p99_9_us");
    report_percentile_key(k, sizeof(k), 50, REPORT_UNIT_NS);
    assert_string_equal(k, "p50_ns");
    report_percentile_key(k, sizeof(k), 99.99, REPORT_UNIT_MS);
    assert_string_equal(k, "p99_99_ms");
    report_percentile_key(k, sizeof(k), 100, REPORT_UNIT_NS);
    assert_string_equal(k, "p100_ns");
    assert_int_equal(report_percentile_key(k, sizeof(k), NAN, REPORT_UNIT_NS), -1);
    assert_int_equal(report_percentile_key(k, 6, 99.9, REPORT_UNIT_NS), -1);
}

static void test_hist_json_ns(void **state)
{
    (void)state;
    struct hist h;
    assert_int_equal(hist_init(&h, HIST_SUB_BITS_DEFAULT), 0);
    for (uint64_t v = 1; v <= 100; v++) /* below 2^7: every value exact */
        hist_record(&h, v);
    struct sink s;
    sink_open(&s);
    report_json_hist(&s.j, &h, REPORT_UNIT_NS);
    /* Population stddev of 1..100 = sqrt(9999/12) = 28.866... */
    sink_expect(&s, "{\"count\":100,\"min_ns\":1,\"max_ns\":100,\"mean_ns\":50.5,"
                    "\"stddev_ns\":28.9,\"p50_ns\":50,\"p90_ns\":90,\"p99_ns\":99,"
                    "\"p99_9_ns\":100,\"p99_99_ns\":100}\n");
    hist_free(&h);
}

static void test_hist_json_us(void **state)
{
    (void)state;
    struct hist h;
    assert_int_equal(hist_init(&h, 16), 0); /* exact below 65536 */
    for (uint64_t v = 1; v <= 50; v++)
        hist_record(&h, v * 1000);
    struct sink s;
    sink_open(&s);
    json_object_begin(&s.j);
    json_key(&s.j, "rtt");
    report_json_hist(&s.j, &h, REPORT_UNIT_US);
    json_object_end(&s.j);
    /* stddev = 1000 * sqrt(2499/12) = 14430.869 ns */
    sink_expect(&s, "{\"rtt\":{\"count\":50,\"min_us\":1.000,\"max_us\":50.000,"
                    "\"mean_us\":25.500,\"stddev_us\":14.431,\"p50_us\":25.000,"
                    "\"p90_us\":45.000,\"p99_us\":50.000,\"p99_9_us\":50.000,"
                    "\"p99_99_us\":50.000}}\n");
    hist_free(&h);
}

static void test_hist_json_custom_pcts_ms(void **state)
{
    (void)state;
    struct hist h;
    assert_int_equal(hist_init(&h, 16), 0);
    for (uint64_t v = 1; v <= 200; v++)
        hist_record(&h, v * 100);
    const double pcts[] = {95, 99, 99.5};
    struct sink s;
    sink_open(&s);
    report_json_hist_pcts(&s.j, &h, REPORT_UNIT_MS, pcts, 3);
    sink_expect(&s, "{\"count\":200,\"min_ms\":0.000100,\"max_ms\":0.020000,"
                    "\"mean_ms\":0.010050,\"stddev_ms\":0.005773,\"p95_ms\":0.019000,"
                    "\"p99_ms\":0.019800,\"p99_5_ms\":0.019900}\n");
    hist_free(&h);
}

static void test_hist_json_empty(void **state)
{
    (void)state;
    struct hist h;
    assert_int_equal(hist_init(&h, HIST_SUB_BITS_DEFAULT), 0);
    struct sink s;
    sink_open(&s);
    report_json_hist(&s.j, &h, REPORT_UNIT_US);
    sink_expect(&s, "{\"count\":0,\"min_us\":null,\"max_us\":null,\"mean_us\":null,"
                    "\"stddev_us\":null,\"p50_us\":null,\"p90_us\":null,\"p99_us\":null,"
                    "\"p99_9_us\":null,\"p99_99_us\":null}\n");
    hist_free(&h);
}

static void test_event_stream(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s);
    report_event_begin(&s.j, "start");
    json_kv_string(&s.j, "tool", "seqtest");
    assert_int_equal(report_event_end(&s.j), 0);
    report_event_begin(&s.j, "interval");
    json_kv_u64(&s.j, "bytes_sent", 1234);
    json_kv_double(&s.j, "rate_bps", 2.5);
    assert_int_equal(report_event_end(&s.j), 0);
    report_event_begin(&s.j, "end");
    assert_int_equal(report_event_end(&s.j), 0);
    fflush(s.f);
    /* Each event is on its own line the moment it ends (flushed). */
    assert_string_equal(s.buf, "{\"event\":\"start\",\"data\":{\"tool\":\"seqtest\"}}\n"
                               "{\"event\":\"interval\",\"data\":{\"bytes_sent\":1234,"
                               "\"rate_bps\":2.5}}\n"
                               "{\"event\":\"end\",\"data\":{}}\n");
    fclose(s.f);
    free(s.buf);
}

static void test_event_misuse_reported(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s);
    report_event_begin(&s.j, "x");
    json_u64(&s.j, 1); /* a value without a key inside data */
    assert_int_equal(report_event_end(&s.j), -1);
    fclose(s.f);
    free(s.buf);
}

/* ---- text ---------------------------------------------------------------------------- */

static void test_fmt_fixed(void **state)
{
    (void)state;
    char b[REPORT_FMT_BUF];
    assert_string_equal(report_fmt_fixed(b, sizeof(b), 0.25, 1), "0.2");
    assert_string_equal(report_fmt_fixed(b, sizeof(b), 15.84, 1), "15.8");
    assert_string_equal(report_fmt_fixed(b, sizeof(b), 6067.0137482, 6), "6067.013748");
    assert_string_equal(report_fmt_fixed(b, sizeof(b), INFINITY, 3), "inf");
    assert_string_equal(report_fmt_fixed(b, sizeof(b), 2.0, 0), "2");
    char small[4];
    assert_string_equal(report_fmt_fixed(small, sizeof(small), 123.456, 2), "123");

    char line[64];
    assert_int_equal(report_snprintf(line, sizeof(line), "Test duration: %g s.", 3.00443),
                     (int)strlen("Test duration: 3.00443 s."));
    assert_string_equal(line, "Test duration: 3.00443 s.");
}

static void test_printf_to_stream(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(report_printf(f, "Average:  %.1f us\n", 15.84), 18);
    fclose(f);
    assert_string_equal(buf, "Average:  15.8 us\n");
    free(buf);
}

static void test_text_under_comma_locale(void **state)
{
    (void)state;
    const char *name = comma_locale_find();
    if (!name) {
        print_message("no decimal-comma locale installed, and localedef cannot make one: "
                      "skipping\n");
        skip();
    }
    assert_non_null(setlocale(LC_NUMERIC, name));
    char b[REPORT_FMT_BUF];
    snprintf(b, sizeof(b), "%.1f", 1.5);
    assert_string_equal(b, "1,5"); /* the locale really is in force */
    assert_string_equal(report_fmt_fixed(b, sizeof(b), 1.5, 1), "1.5");
    report_snprintf(b, sizeof(b), "%.3f/%g", 0.125, 2.5);
    assert_string_equal(b, "0.125/2.5");
    /* And the process locale is back to the comma afterwards. */
    snprintf(b, sizeof(b), "%.1f", 1.5);
    assert_string_equal(b, "1,5");
    setlocale(LC_NUMERIC, "C");
    comma_locale_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_init),
        cmocka_unit_test(test_schedule_on_time_and_late),
        cmocka_unit_test(test_schedule_no_drift_under_jitter),
        cmocka_unit_test(test_schedule_final),
        cmocka_unit_test(test_schedule_saturates),
        cmocka_unit_test(test_percentile_key),
        cmocka_unit_test(test_hist_json_ns),
        cmocka_unit_test(test_hist_json_us),
        cmocka_unit_test(test_hist_json_custom_pcts_ms),
        cmocka_unit_test(test_hist_json_empty),
        cmocka_unit_test(test_event_stream),
        cmocka_unit_test(test_event_misuse_reported),
        cmocka_unit_test(test_fmt_fixed),
        cmocka_unit_test(test_printf_to_stream),
        cmocka_unit_test(test_text_under_comma_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
