/* Unit tests for core/json: exact output of the streaming writer. */
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

#include "core/json.h"

#include "comma_locale.h"

/* A writer onto a memory buffer. */
struct sink {
    char *buf;
    size_t len;
    FILE *f;
    struct json j;
};

static void sink_open(struct sink *s, bool pretty)
{
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    assert_non_null(s->f);
    json_init(&s->j, s->f, pretty);
}

/* Finishes the document, checks json_finish's result and the exact text, frees. */
static void sink_expect(struct sink *s, int want_rc, const char *want)
{
    int rc = json_finish(&s->j);
    fclose(s->f);
    assert_int_equal(rc, want_rc);
    if (want)
        assert_string_equal(s->buf, want);
    free(s->buf);
}

/* The nested document used by the pretty and compact tests. */
static void write_nested(struct json *j)
{
    json_object_begin(j);
    json_kv_string(j, "name", "x");
    json_kv_u64(j, "count", 3);
    json_key(j, "list");
    json_array_begin(j);
    json_i64(j, -1);
    json_array_begin(j);
    json_array_end(j);
    json_object_begin(j);
    json_kv_bool(j, "ok", true);
    json_object_end(j);
    json_null(j);
    json_array_end(j);
    json_key(j, "empty");
    json_object_begin(j);
    json_object_end(j);
    json_kv_double(j, "ratio", 0.5);
    json_object_end(j);
}

static void test_compact_nested(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    write_nested(&s.j);
    sink_expect(&s, 0,
                "{\"name\":\"x\",\"count\":3,\"list\":[-1,[],{\"ok\":true},null],"
                "\"empty\":{},\"ratio\":0.5}\n");
}

static void test_pretty_nested(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, true);
    write_nested(&s.j);
    sink_expect(&s, 0,
                "{\n"
                "  \"name\": \"x\",\n"
                "  \"count\": 3,\n"
                "  \"list\": [\n"
                "    -1,\n"
                "    [],\n"
                "    {\n"
                "      \"ok\": true\n"
                "    },\n"
                "    null\n"
                "  ],\n"
                "  \"empty\": {},\n"
                "  \"ratio\": 0.5\n"
                "}\n");
}

static void test_scalar_roots(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, true);
    json_u64(&s.j, UINT64_MAX);
    sink_expect(&s, 0, "18446744073709551615\n");

    sink_open(&s, false);
    json_i64(&s.j, INT64_MIN);
    sink_expect(&s, 0, "-9223372036854775808\n");

    sink_open(&s, false);
    json_bool(&s.j, false);
    sink_expect(&s, 0, "false\n");

    sink_open(&s, false);
    json_string(&s.j, NULL);
    sink_expect(&s, 0, "null\n");
}

static void test_stream_of_documents(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    for (int i = 0; i < 3; i++) {
        json_object_begin(&s.j);
        json_kv_i64(&s.j, "i", i);
        json_object_end(&s.j);
        assert_int_equal(json_finish(&s.j), 0);
    }
    sink_expect(&s, 0, "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n");
}

static void test_escapes(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_string(&s.j, "q\"b\\s/n\nt\tr\rb\bf\f\x01\x1f\x7f end");
    sink_expect(&s, 0, "\"q\\\"b\\\\s/n\\nt\\tr\\rb\\bf\\f\\u0001\\u001f\x7f end\"\n");

    /* An embedded NUL via json_string_n, and escaped keys. */
    sink_open(&s, false);
    json_object_begin(&s.j);
    json_key(&s.j, "k\"ey\n");
    json_string_n(&s.j, "a\0b", 3);
    json_object_end(&s.j);
    sink_expect(&s, 0, "{\"k\\\"ey\\n\":\"a\\u0000b\"}\n");
}

static void test_utf8_valid_passes(void **state)
{
    (void)state;
    struct sink s;
    /* 2-, 3- and 4-byte characters, and the extremes U+0080, U+07FF, U+FFFF, U+10FFFF. */
    const char *in = "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\x80\xDF\xBF\xEF\xBF\xBF"
                     "\xF4\x8F\xBF\xBF";
    sink_open(&s, false);
    json_string(&s.j, in);
    char want[128];
    snprintf(want, sizeof(want), "\"%s\"\n", in);
    sink_expect(&s, 0, want);
}

#define FFFD "\xEF\xBF\xBD"

static void check_utf8(const char *in, size_t len, const char *want_inner)
{
    struct sink s;
    sink_open(&s, false);
    json_string_n(&s.j, in, len);
    char want[256];
    snprintf(want, sizeof(want), "\"%s\"\n", want_inner);
    sink_expect(&s, 0, want);
}

static void test_utf8_invalid_replaced(void **state)
{
    (void)state;
    check_utf8("a\x80z", 3, "a" FFFD "z");                      /* lone continuation */
    check_utf8("a\xFFz", 3, "a" FFFD "z");                      /* never valid */
    check_utf8("\xC0\xAF", 2, FFFD FFFD);                       /* overlong '/' */
    check_utf8("\xE0\x80\xAF", 3, FFFD FFFD FFFD);              /* overlong 3-byte */
    check_utf8("\xED\xA0\x80", 3, FFFD FFFD FFFD);              /* surrogate U+D800 */
    check_utf8("\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);     /* above U+10FFFF */
    check_utf8("\xE2\x82z", 3, FFFD "z");                       /* truncated, one FFFD */
    check_utf8("\xF0\x9F\x98", 3, FFFD);                        /* truncated at the end */
    check_utf8("\xE2\x82\xE2\x82\xAC", 5, FFFD "\xE2\x82\xAC"); /* next char survives */
}

static void check_double(double v, const char *want)
{
    char buf[JSON_NUM_BUF];
    int n = json_format_double(buf, sizeof(buf), v);
    assert_string_equal(buf, want);
    if (isfinite(v)) {
        assert_int_equal(n, (int)strlen(want));
        assert_true(strtod(buf, NULL) == v);
    } else {
        assert_int_equal(n, -1);
    }
}

static void test_double_shortest(void **state)
{
    (void)state;
    check_double(0.1, "0.1");
    check_double(0.5, "0.5");
    check_double(3.0, "3");
    check_double(-2.25, "-2.25");
    check_double(1e21, "1e+21");
    check_double(1e-7, "1e-07");
    check_double(0.1 + 0.2, "0.30000000000000004"); /* needs 17 digits */
    check_double(1.0 / 3.0, "0.3333333333333333");  /* needs 16 digits */
    check_double(5e-324, "4.94065645841247e-324");  /* denormal: 15 digits suffice */
    check_double(1.7976931348623157e308, "1.7976931348623157e+308");
    check_double(NAN, "null");
    check_double(INFINITY, "null");
    check_double(-INFINITY, "null");
}

static void test_fixed(void **state)
{
    (void)state;
    char buf[JSON_NUM_BUF];
    assert_int_equal(json_format_fixed(buf, sizeof(buf), 2.345678, 3), 5);
    assert_string_equal(buf, "2.346");
    json_format_fixed(buf, sizeof(buf), 12.0, 0);
    assert_string_equal(buf, "12");
    json_format_fixed(buf, sizeof(buf), -0.05, 1);
    assert_string_equal(buf, "-0.1");
    json_format_fixed(buf, sizeof(buf), 1.5, -4); /* clamped to 0 decimals, even rounding */
    assert_string_equal(buf, "2");
    assert_int_equal(json_format_fixed(buf, sizeof(buf), NAN, 2), -1);
    assert_string_equal(buf, "null");
    /* The largest double in %f is 309 digits: fits JSON_NUM_BUF with 30 decimals. */
    assert_int_equal(json_format_fixed(buf, sizeof(buf), 1.7976931348623157e308, 99), 309 + 31);
    /* Too small a buffer is an error, not a truncated number. */
    assert_int_equal(json_format_fixed(buf, 4, 12345.0, 0), -1);
}

static void test_nonfinite_values_are_null(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_array_begin(&s.j);
    json_double(&s.j, NAN);
    json_double(&s.j, INFINITY);
    json_fixed(&s.j, -INFINITY, 2);
    json_fixed(&s.j, 1.25, 1);
    json_double(&s.j, -0.0);
    json_array_end(&s.j);
    sink_expect(&s, 0, "[null,null,null,1.2,-0]\n");
}

/* Misuse: each case sets the error; json_finish returns -1. */
static void test_misuse_value_without_key(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_object_begin(&s.j);
    json_u64(&s.j, 1);
    json_object_end(&s.j);
    assert_true(s.j.error);
    sink_expect(&s, -1, NULL);
}

static void test_misuse_key_outside_object(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_array_begin(&s.j);
    json_key(&s.j, "k");
    json_array_end(&s.j);
    sink_expect(&s, -1, NULL);

    sink_open(&s, false);
    json_key(&s.j, "k");
    sink_expect(&s, -1, NULL);
}

static void test_misuse_key_twice(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_object_begin(&s.j);
    json_key(&s.j, "a");
    json_key(&s.j, "b");
    sink_expect(&s, -1, NULL);

    /* A key with no value before the end. */
    sink_open(&s, false);
    json_object_begin(&s.j);
    json_key(&s.j, "a");
    json_object_end(&s.j);
    sink_expect(&s, -1, NULL);
}

static void test_misuse_end_without_begin(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_object_end(&s.j);
    sink_expect(&s, -1, "");

    sink_open(&s, false);
    json_array_begin(&s.j);
    json_object_end(&s.j); /* mismatched */
    sink_expect(&s, -1, NULL);
}

static void test_misuse_unclosed(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_object_begin(&s.j);
    sink_expect(&s, -1, "{");
}

static void test_misuse_two_roots(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_u64(&s.j, 1);
    json_u64(&s.j, 2);
    sink_expect(&s, -1, "1");
}

static void test_depth_limit(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        json_array_begin(&s.j);
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        json_array_end(&s.j);
    char want[2 * JSON_MAX_DEPTH + 2];
    memset(want, '[', JSON_MAX_DEPTH);
    memset(want + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
    strcpy(want + 2 * JSON_MAX_DEPTH, "\n");
    sink_expect(&s, 0, want);

    sink_open(&s, false);
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
        json_array_begin(&s.j);
    assert_true(s.j.error);
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
        json_array_end(&s.j);
    sink_expect(&s, -1, NULL);
}

static void test_error_is_sticky(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, false);
    json_object_end(&s.j);
    assert_int_equal(json_finish(&s.j), -1);
    json_u64(&s.j, 7); /* ignored: the writer is in error */
    sink_expect(&s, -1, "");
}

static void test_stream_write_error(void **state)
{
    (void)state;
    /* A read-only stream: the writes fail and json_finish must say so. */
    FILE *f = fopen("/dev/null", "r");
    assert_non_null(f);
    struct json j;
    json_init(&j, f, false);
    json_object_begin(&j);
    json_kv_string(&j, "k", "v");
    json_object_end(&j);
    assert_int_equal(json_finish(&j), -1);
    fclose(f);
}

static void test_decimal_comma_locale(void **state)
{
    (void)state;
    const char *name = comma_locale_find();
    if (!name) {
        print_message("no decimal-comma locale installed, and localedef cannot make one: "
                      "skipping\n");
        skip();
    }
    /* Under the global locale (setlocale) and under a thread locale (uselocale). */
    assert_non_null(setlocale(LC_NUMERIC, name));
    char check[32];
    snprintf(check, sizeof(check), "%.1f", 1.5);
    assert_string_equal(check, "1,5"); /* the locale really is in force */

    struct sink s;
    sink_open(&s, false);
    json_array_begin(&s.j);
    json_double(&s.j, 1.5);
    json_double(&s.j, 0.1 + 0.2);
    json_fixed(&s.j, 2.25, 2);
    json_array_end(&s.j);
    sink_expect(&s, 0, "[1.5,0.30000000000000004,2.25]\n");
    setlocale(LC_NUMERIC, "C");

    locale_t loc = newlocale(LC_NUMERIC_MASK, name, (locale_t)0);
    assert_non_null(loc);
    locale_t old = uselocale(loc);
    char buf[JSON_NUM_BUF];
    json_format_double(buf, sizeof(buf), -1234.5);
    assert_string_equal(buf, "-1234.5");
    json_format_fixed(buf, sizeof(buf), 0.125, 1);
    assert_string_equal(buf, "0.1");
    uselocale(old);
    freelocale(loc);
    comma_locale_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_nested),
        cmocka_unit_test(test_pretty_nested),
        cmocka_unit_test(test_scalar_roots),
        cmocka_unit_test(test_stream_of_documents),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_utf8_valid_passes),
        cmocka_unit_test(test_utf8_invalid_replaced),
        cmocka_unit_test(test_double_shortest),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_nonfinite_values_are_null),
        cmocka_unit_test(test_misuse_value_without_key),
        cmocka_unit_test(test_misuse_key_outside_object),
        cmocka_unit_test(test_misuse_key_twice),
        cmocka_unit_test(test_misuse_end_without_begin),
        cmocka_unit_test(test_misuse_unclosed),
        cmocka_unit_test(test_misuse_two_roots),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_stream_write_error),
        cmocka_unit_test(test_decimal_comma_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
