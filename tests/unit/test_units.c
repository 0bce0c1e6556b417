/* Unit tests for src/core/units.c: strict decimals, tcpkali's suffix tables and messages,
 * the engine-unit wrappers and flowgrind's rate grammar. */

#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/units.h"

static char err[256];

static void test_u64_accepts_plain_decimals(void **state)
{
    (void)state;
    uint64_t v = 99;
    assert_int_equal(units_parse_u64("0", 0, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(units_parse_u64("10", 0, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, 10);
    assert_int_equal(units_parse_u64("007", 0, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(units_parse_u64("18446744073709551615", 0, UINT64_MAX, &v, err, sizeof err),
                     0);
    assert_true(v == UINT64_MAX);
}

static void test_u64_rejects_junk_and_out_of_range(void **state)
{
    (void)state;
    uint64_t v = 42;
    const char *junk[] = {"", "-1", "+1", " 1", "1 ", "12x", "0x10", "1e3", "1.0", "k"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        assert_int_equal(units_parse_u64(junk[i], 0, 100, &v, err, sizeof err), -EINVAL);
        assert_int_equal(v, 42); /* untouched on error */
    }
    assert_int_equal(units_parse_u64("12x", 0, 100, &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "'12x' is not a number");
    assert_int_equal(units_parse_u64("", 0, 100, &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "empty value where a number is expected");
    assert_int_equal(units_parse_u64("70000", 0, 65535, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'70000' is above 65535");
    assert_int_equal(units_parse_u64("0", 1, 65535, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'0' is below 1");
    assert_int_equal(units_parse_u64("18446744073709551616", 0, UINT64_MAX, &v, err, sizeof err),
                     -ERANGE);
    assert_string_equal(err, "'18446744073709551616' is above 18446744073709551615");
    assert_int_equal(units_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v, err, sizeof err),
                     -ERANGE);
    assert_int_equal(units_parse_u64(NULL, 0, 1, &v, err, sizeof err), -EINVAL);
    assert_int_equal(v, 42);
}

static void test_hex(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(units_parse_hex_u64("2e", 0, 0x3f, &v, err, sizeof err), 0);
    assert_int_equal(v, 46);
    assert_int_equal(units_parse_hex_u64("0x2E", 0, 0x3f, &v, err, sizeof err), 0);
    assert_int_equal(v, 46);
    assert_int_equal(units_parse_hex_u64("3f", 0, 0x3f, &v, err, sizeof err), 0);
    assert_int_equal(v, 63);
    assert_int_equal(units_parse_hex_u64("46", 0, 0x3f, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'46' is above 0x3f");
    assert_int_equal(units_parse_hex_u64("0x", 0, 0x3f, &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "'0x' is not a hexadecimal number");
    assert_int_equal(units_parse_hex_u64("g1", 0, 0x3f, &v, err, sizeof err), -EINVAL);
    assert_int_equal(units_parse_hex_u64("", 0, 0x3f, &v, err, sizeof err), -EINVAL);
    assert_int_equal(units_parse_hex_u64("-1", 0, 0x3f, &v, err, sizeof err), -EINVAL);
    assert_int_equal(units_parse_hex_u64("ffffffffffffffff", 0, UINT64_MAX, &v, err, sizeof err),
                     0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(units_parse_hex_u64("10000000000000000", 0, UINT64_MAX, &v, err, sizeof err),
                     -ERANGE);
}

static void test_double(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(units_parse_double("0.05", 0, 10, &v, err, sizeof err), 0);
    assert_true(v == 0.05);
    assert_int_equal(units_parse_double("-2.5", -3, 10, &v, err, sizeof err), 0);
    assert_true(v == -2.5);
    assert_int_equal(units_parse_double("1e1", 0, 10, &v, err, sizeof err), 0);
    assert_true(v == 10);
    assert_int_equal(units_parse_double("10.5", 0, 10, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'10.5' is above 10");
    assert_int_equal(units_parse_double("-1", 0, 10, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'-1' is below 0");
    assert_int_equal(units_parse_double("1s", 0, 10, &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "'1s' is not a number");
    assert_int_equal(units_parse_double(" 1", 0, 10, &v, err, sizeof err), -EINVAL);
    assert_int_equal(units_parse_double("", 0, 10, &v, err, sizeof err), -EINVAL);
    assert_int_equal(units_parse_double("inf", 0, INFINITY, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'inf' is not a finite number");
    assert_int_equal(units_parse_double("nan", 0, 10, &v, err, sizeof err), -ERANGE);
    assert_int_equal(units_parse_double("1e999", 0, INFINITY, &v, err, sizeof err), -ERANGE);
}

/* Every row of a table: "2<suffix>" parses to 2 * mult. */
static void check_table(const struct units_suffix *table, size_t expected_rows)
{
    size_t rows = 0;
    for (const struct units_suffix *r = table; r->suffix; r++, rows++) {
        char s[64];
        snprintf(s, sizeof s, "2%s", r->suffix);
        double v = -1;
        assert_int_equal(units_parse_scaled("--x", s, table, &v, err, sizeof err), 0);
        assert_true(fabs(v - 2 * r->mult) <= 1e-12 * fabs(2 * r->mult));
    }
    assert_int_equal(rows, expected_rows);
}

static double table_mult(const struct units_suffix *table, const char *suffix)
{
    for (const struct units_suffix *r = table; r->suffix; r++)
        if (strcmp(r->suffix, suffix) == 0)
            return r->mult;
    return -1;
}

static void test_tcpkali_tables_have_the_spec_values(void **state)
{
    (void)state;
    check_table(UNITS_TCPKALI_COUNT, 2);
    check_table(UNITS_TCPKALI_SIZE, 2);
    check_table(UNITS_TCPKALI_TIME, 20);
    check_table(UNITS_TCPKALI_BANDWIDTH, 14);

    assert_true(table_mult(UNITS_TCPKALI_COUNT, "k") == 1e3);
    assert_true(table_mult(UNITS_TCPKALI_COUNT, "m") == 1e6);
    assert_true(table_mult(UNITS_TCPKALI_SIZE, "k") == 1024);
    assert_true(table_mult(UNITS_TCPKALI_SIZE, "m") == 1048576);

    const struct {
        const char *suffix;
        double mult;
    } time[] = {{"ms", 0.001},
                {"millisecond", 0.001},
                {"milliseconds", 0.001},
                {"s", 1},
                {"second", 1},
                {"seconds", 1},
                {"m", 60},
                {"min", 60},
                {"minute", 60},
                {"minutes", 60},
                {"h", 3600},
                {"hr", 3600},
                {"hour", 3600},
                {"hours", 3600},
                {"d", 86400},
                {"day", 86400},
                {"days", 86400},
                {"y", 31536000},
                {"year", 31536000},
                {"years", 31536000}};
    for (size_t i = 0; i < sizeof time / sizeof time[0]; i++)
        assert_true(table_mult(UNITS_TCPKALI_TIME, time[i].suffix) == time[i].mult);

    const struct {
        const char *suffix;
        double mult;
    } bw[] = {{"bps", 0.125},   {"kbps", 125},    {"Kbps", 125}, {"mbps", 125000}, {"Mbps", 125000},
              {"gbps", 1.25e8}, {"Gbps", 1.25e8}, {"Bps", 1},    {"kBps", 1000},   {"KBps", 1000},
              {"mBps", 1e6},    {"MBps", 1e6},    {"gBps", 1e9}, {"GBps", 1e9}};
    for (size_t i = 0; i < sizeof bw / sizeof bw[0]; i++)
        assert_true(table_mult(UNITS_TCPKALI_BANDWIDTH, bw[i].suffix) == bw[i].mult);
}

static void test_scaled_grammar(void **state)
{
    (void)state;
    double v = 0;
    /* strtod grammar: decimals, exponents, signs, no suffix means factor 1. */
    assert_int_equal(units_parse_scaled("-c", "10", UNITS_TCPKALI_COUNT, &v, err, sizeof err), 0);
    assert_true(v == 10);
    assert_int_equal(units_parse_scaled("-c", "1.5k", UNITS_TCPKALI_COUNT, &v, err, sizeof err), 0);
    assert_true(v == 1500);
    assert_int_equal(units_parse_scaled("-c", "1e3k", UNITS_TCPKALI_COUNT, &v, err, sizeof err), 0);
    assert_true(v == 1e6);
    assert_int_equal(units_parse_scaled("-T", "-1", UNITS_TCPKALI_TIME, &v, err, sizeof err), 0);
    assert_true(v == -1);
    assert_int_equal(units_parse_scaled("-T", "0.25", UNITS_TCPKALI_TIME, &v, err, sizeof err), 0);
    assert_true(v == 0.25);
    assert_int_equal(units_parse_scaled("-T", "250ms", UNITS_TCPKALI_TIME, &v, err, sizeof err), 0);
    assert_true(fabs(v - 0.25) < 1e-15);
    assert_int_equal(units_parse_scaled("--rcvbuf", "5k", UNITS_TCPKALI_SIZE, &v, err, sizeof err),
                     0);
    assert_true(v == 5120);
    assert_int_equal(
        units_parse_scaled("--x", "8Mbps", UNITS_TCPKALI_BANDWIDTH, &v, err, sizeof err), 0);
    assert_true(v == 1e6);
}

static void test_scaled_errors_have_tcpkali_text(void **state)
{
    (void)state;
    double v = 7;
    assert_int_equal(
        units_parse_scaled("--connections", "10x", UNITS_TCPKALI_COUNT, &v, err, sizeof err),
        -EINVAL);
    assert_string_equal(err, "Unknown prefix \"x\" in 10x");
    assert_int_equal(
        units_parse_scaled("--duration", "5q", UNITS_TCPKALI_TIME, &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "Unknown prefix \"q\" in 5q");
    /* Case-sensitive: M is not m for counts; "MS" is not "ms". */
    assert_int_equal(units_parse_scaled("-c", "1M", UNITS_TCPKALI_COUNT, &v, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "Unknown prefix \"M\" in 1M");
    assert_int_equal(units_parse_scaled("-T", "1MS", UNITS_TCPKALI_TIME, &v, err, sizeof err),
                     -EINVAL);
    /* The rest must equal a suffix exactly: no spaces, no prefix match, no extra. */
    assert_int_equal(units_parse_scaled("-T", "1 s", UNITS_TCPKALI_TIME, &v, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "Unknown prefix \" s\" in 1 s");
    assert_int_equal(units_parse_scaled("-T", "1mss", UNITS_TCPKALI_TIME, &v, err, sizeof err),
                     -EINVAL);
    assert_int_equal(units_parse_scaled("-T", "1sec", UNITS_TCPKALI_TIME, &v, err, sizeof err),
                     -EINVAL);
    assert_int_equal(units_parse_scaled("-c", "5kk", UNITS_TCPKALI_COUNT, &v, err, sizeof err),
                     -EINVAL);
    /* Bandwidth tables have no "Kbps"-style lower/upper mixes beyond the listed ones. */
    assert_int_equal(
        units_parse_scaled("--x", "1KBPS", UNITS_TCPKALI_BANDWIDTH, &v, err, sizeof err), -EINVAL);
    assert_int_equal(units_parse_scaled("--x", "1MBps", UNITS_TCPKALI_SIZE, &v, err, sizeof err),
                     -EINVAL);
    /* Not a number at all. */
    assert_int_equal(units_parse_scaled("-c", "abc", UNITS_TCPKALI_COUNT, &v, err, sizeof err),
                     -EDOM);
    assert_string_equal(err, "\"abc\" is not a number");
    assert_int_equal(units_parse_scaled("-c", "k", UNITS_TCPKALI_COUNT, &v, err, sizeof err),
                     -EDOM);
    assert_int_equal(units_parse_scaled("-c", "", UNITS_TCPKALI_COUNT, &v, err, sizeof err), -EDOM);
    /* Non-finite. */
    assert_int_equal(
        units_parse_scaled("--duration", "inf", UNITS_TCPKALI_TIME, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "Option --duration parses to infinite value");
    assert_int_equal(
        units_parse_scaled("--duration", "1e308y", UNITS_TCPKALI_TIME, &v, err, sizeof err),
        -ERANGE);
    assert_string_equal(err, "Option --duration parses to infinite value");
    assert_int_equal(units_parse_scaled("-c", "nan", UNITS_TCPKALI_COUNT, &v, err, sizeof err),
                     -ERANGE);
    assert_int_equal(units_parse_scaled("-c", "1e999", UNITS_TCPKALI_COUNT, &v, err, sizeof err),
                     -ERANGE);
    assert_true(v == 7); /* untouched on every error */
}

static void test_count(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(units_parse_count("-c", "5k", 0, 1000000, &v, err, sizeof err), 0);
    assert_int_equal(v, 5000);
    assert_int_equal(units_parse_count("-c", "0", 0, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(units_parse_count("-c", "-0", 0, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(units_parse_count("-c", "1.5k", 0, 10000, &v, err, sizeof err), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(units_parse_count("-c", "1m", 0, 1000000, &v, err, sizeof err), 0);
    assert_int_equal(v, 1000000);
    assert_int_equal(units_parse_count("-c", "1.5", 0, 10, &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "'1.5' is not a whole number");
    assert_int_equal(units_parse_count("-c", "-1", 0, 10, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'-1' must not be negative");
    assert_int_equal(units_parse_count("-c", "2m", 0, 1000, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'2m' is above 1000");
    assert_int_equal(units_parse_count("-c", "0", 1, 1000, &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'0' is below 1");
    assert_int_equal(units_parse_count("-c", "1e20", 0, UINT64_MAX, &v, err, sizeof err), -ERANGE);
    assert_int_equal(units_parse_count("-c", "1e19", 0, UINT64_MAX, &v, err, sizeof err), 0);
    assert_true(v == 10000000000000000000ULL);
    assert_int_equal(units_parse_count("-c", "10x", 0, 100, &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "Unknown prefix \"x\" in 10x");
}

static void test_rate_size_bandwidth(void **state)
{
    (void)state;
    double r = 0;
    assert_int_equal(units_parse_rate("-r", "0.25", &r, err, sizeof err), 0);
    assert_true(r == 0.25);
    assert_int_equal(units_parse_rate("-r", "2k", &r, err, sizeof err), 0);
    assert_true(r == 2000);
    assert_int_equal(units_parse_rate("-r", "-5", &r, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'-5' must not be negative");
    assert_int_equal(units_parse_rate("-r", "5K", &r, err, sizeof err), -EINVAL);

    uint64_t b = 0;
    assert_int_equal(units_parse_size("--rcvbuf", "5k", 1, UINT64_MAX, &b, err, sizeof err), 0);
    assert_int_equal(b, 5120);
    assert_int_equal(units_parse_size("--rcvbuf", "1m", 1, UINT64_MAX, &b, err, sizeof err), 0);
    assert_int_equal(b, 1048576);
    assert_int_equal(units_parse_size("--rcvbuf", "0.5k", 1, UINT64_MAX, &b, err, sizeof err), 0);
    assert_int_equal(b, 512);
    assert_int_equal(units_parse_size("--rcvbuf", "0.1k", 1, UINT64_MAX, &b, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "'0.1k' is not a whole number");
    assert_int_equal(units_parse_size("--rcvbuf", "0", 1, UINT64_MAX, &b, err, sizeof err),
                     -ERANGE);
    assert_int_equal(units_parse_size("--rcvbuf", "3kB", 1, UINT64_MAX, &b, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "Unknown prefix \"kB\" in 3kB");

    double bw = 0;
    assert_int_equal(units_parse_bandwidth("--x", "100", &bw, err, sizeof err), 0);
    assert_true(bw == 100);
    assert_int_equal(units_parse_bandwidth("--x", "1bps", &bw, err, sizeof err), 0);
    assert_true(bw == 0.125);
    assert_int_equal(units_parse_bandwidth("--x", "10Mbps", &bw, err, sizeof err), 0);
    assert_true(bw == 1250000);
    assert_int_equal(units_parse_bandwidth("--x", "2GBps", &bw, err, sizeof err), 0);
    assert_true(bw == 2e9);
    assert_int_equal(units_parse_bandwidth("--x", "0", &bw, err, sizeof err), 0);
    assert_true(bw == 0);
    assert_int_equal(units_parse_bandwidth("--x", "-1kbps", &bw, err, sizeof err), -ERANGE);
    assert_int_equal(units_parse_bandwidth("--x", "1mbit", &bw, err, sizeof err), -EINVAL);
}

static void test_duration(void **state)
{
    (void)state;
    uint64_t ns = 1;
    assert_int_equal(units_parse_duration_ns("-T", "10", &ns, err, sizeof err), 0);
    assert_true(ns == 10 * 1000000000ULL);
    assert_int_equal(units_parse_duration_ns("-T", "0", &ns, err, sizeof err), 0);
    assert_true(ns == 0);
    assert_int_equal(units_parse_duration_ns("-T", "1ms", &ns, err, sizeof err), 0);
    assert_true(ns == 1000000);
    assert_int_equal(units_parse_duration_ns("-T", "0.5ms", &ns, err, sizeof err), 0);
    assert_true(ns == 500000);
    assert_int_equal(units_parse_duration_ns("-T", "1.5m", &ns, err, sizeof err), 0);
    assert_true(ns == 90 * 1000000000ULL);
    assert_int_equal(units_parse_duration_ns("-T", "2h", &ns, err, sizeof err), 0);
    assert_true(ns == 7200 * 1000000000ULL);
    assert_int_equal(units_parse_duration_ns("-T", "1d", &ns, err, sizeof err), 0);
    assert_true(ns == 86400 * 1000000000ULL);
    assert_int_equal(units_parse_duration_ns("-T", "1y", &ns, err, sizeof err), 0);
    assert_true(ns == 31536000 * 1000000000ULL);
    assert_int_equal(units_parse_duration_ns("-T", "1e-9", &ns, err, sizeof err), 0);
    assert_true(ns == 1);
    assert_int_equal(units_parse_duration_ns("-T", "1e-10", &ns, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'1e-10' is shorter than a nanosecond");
    assert_int_equal(units_parse_duration_ns("-T", "600y", &ns, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'600y' is too long a time (at most 584 years)");
    assert_int_equal(units_parse_duration_ns("-T", "-1s", &ns, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'-1s' must not be negative");
    assert_int_equal(units_parse_duration_ns("-T", "5q", &ns, err, sizeof err), -EINVAL);
    assert_string_equal(err, "Unknown prefix \"q\" in 5q");

    assert_int_equal(units_parse_seconds_ns("0.05", &ns, err, sizeof err), 0);
    assert_true(ns == 50000000);
    assert_int_equal(units_parse_seconds_ns("0", &ns, err, sizeof err), 0);
    assert_true(ns == 0);
    assert_int_equal(units_parse_seconds_ns("-1", &ns, err, sizeof err), -ERANGE);
    assert_string_equal(err, "'-1' must not be negative");
    assert_int_equal(units_parse_seconds_ns("1s", &ns, err, sizeof err), -EINVAL);
    assert_string_equal(err, "'1s' is not a number");
    assert_int_equal(units_parse_seconds_ns("1e300", &ns, err, sizeof err), -ERANGE);

    assert_int_equal(units_seconds_to_ns(1.0000000005, &ns), 0);
    assert_true(ns == 1000000001ULL || ns == 1000000000ULL); /* nearest, ties either way */
    assert_int_equal(units_seconds_to_ns(-1, &ns), -ERANGE);
    assert_int_equal(units_seconds_to_ns(NAN, &ns), -ERANGE);
    assert_int_equal(units_seconds_to_ns(1.9e10, &ns), -ERANGE);
    assert_int_equal(units_seconds_to_ns(1.8e10, &ns), 0);
}

static void test_flowgrind_rate(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(units_parse_flowgrind_rate("10Mb", &v, err, sizeof err), 0);
    assert_true(v == 1310720); /* 10 * 2^20 / 8, flowgrind.md §5.4 */
    assert_int_equal(units_parse_flowgrind_rate("10zb", &v, err, sizeof err), 0);
    assert_true(v == 1.25);
    assert_int_equal(units_parse_flowgrind_rate("10kB", &v, err, sizeof err), 0);
    assert_true(v == 10240);
    assert_int_equal(units_parse_flowgrind_rate("1.5Mb", &v, err, sizeof err), 0);
    assert_true(v == 1.5 * 1048576 / 8);
    assert_int_equal(units_parse_flowgrind_rate("1GB", &v, err, sizeof err), 0);
    assert_true(v == 1073741824.0);
    assert_int_equal(units_parse_flowgrind_rate("10M", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "illegal type specifier (either 'b' or 'B')");
    assert_int_equal(units_parse_flowgrind_rate("10", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "illegal type specifier (either 'b' or 'B')");
    assert_int_equal(units_parse_flowgrind_rate("10b", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "illegal unit specifier");
    assert_int_equal(units_parse_flowgrind_rate("10mb", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "illegal unit specifier");
    assert_int_equal(units_parse_flowgrind_rate("10Mx", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "illegal type specifier (either 'b' or 'B')");
    assert_int_equal(units_parse_flowgrind_rate("10Mbs", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "unexpected 's' after the rate");
    assert_int_equal(units_parse_flowgrind_rate("0Mb", &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "rate must be positive");
    assert_int_equal(units_parse_flowgrind_rate("-1Mb", &v, err, sizeof err), -ERANGE);
    assert_int_equal(units_parse_flowgrind_rate("1e308GB", &v, err, sizeof err), -ERANGE);
    assert_string_equal(err, "rate is not finite");
    assert_int_equal(units_parse_flowgrind_rate("Mb", &v, err, sizeof err), -EINVAL);
    assert_string_equal(err, "'Mb' is not a number");
    assert_int_equal(units_parse_flowgrind_rate("", &v, err, sizeof err), -EINVAL);
}

static void test_small_err_buffer_is_terminated(void **state)
{
    (void)state;
    char small[8];
    double v;
    assert_int_equal(
        units_parse_scaled("-c", "10xyzxyzxyz", UNITS_TCPKALI_COUNT, &v, small, sizeof small),
        -EINVAL);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, "Unknown", 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_accepts_plain_decimals),
        cmocka_unit_test(test_u64_rejects_junk_and_out_of_range),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_tcpkali_tables_have_the_spec_values),
        cmocka_unit_test(test_scaled_grammar),
        cmocka_unit_test(test_scaled_errors_have_tcpkali_text),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_rate_size_bandwidth),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_flowgrind_rate),
        cmocka_unit_test(test_small_err_buffer_is_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
