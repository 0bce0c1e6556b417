/* tcpkali marker search: the streaming KMP search finds exactly the matches of a naive
 * non-overlapping search, at the same positions, however the stream is cut into reads
 * (every one- and two-cut split, byte by byte, and random splits of random texts); partial
 * overlapping prefixes ("aab" in "aaab"); matches never overlap; --latency-marker-skip;
 * message-marker tokens parsed across every split, damaged tokens dropped, and the token
 * format round trip. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "tcpkali/marker.h"

#define MAXM 256

/* Non-overlapping matches by brute force: the end offsets. */
static size_t naive(const uint8_t *t, size_t n, const uint8_t *p, size_t m, size_t *ends)
{
    size_t k = 0;
    for (size_t i = 0; i + m <= n;) {
        if (memcmp(t + i, p, m) == 0) {
            ends[k++] = i + m;
            i += m;
        } else {
            i++;
        }
    }
    return k;
}

/* The streaming search over t cut at the given points; end offsets in stream terms. */
static size_t streamed(const struct tk_marker *mk, const uint8_t *t, size_t n, const size_t *cuts,
                       size_t ncuts, size_t *ends)
{
    uint32_t st = 0;
    size_t k = 0, from = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t to = c < ncuts ? cuts[c] : n;
        size_t pos = 0;
        while (tk_marker_find(mk, &st, t + from, to - from, &pos))
            ends[k++] = from + pos;
        assert_int_equal(pos, to - from);
        from = to;
    }
    return k;
}

static void check_all_splits(const char *text, const char *pat)
{
    const uint8_t *t = (const uint8_t *)text, *p = (const uint8_t *)pat;
    size_t n = strlen(text), m = strlen(pat);
    size_t want[MAXM], got[MAXM], cuts[MAXM];
    struct tk_marker mk;

    assert_int_equal(tk_marker_init(&mk, p, m), 0);
    size_t nw = naive(t, n, p, m, want);
    /* No cut, one cut anywhere, two cuts anywhere. */
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            cuts[0] = i;
            cuts[1] = j;
            size_t ng = streamed(&mk, t, n, cuts, 2, got);
            assert_int_equal(ng, nw);
            assert_memory_equal(got, want, nw * sizeof(size_t));
        }
    }
    /* Byte by byte. */
    for (size_t i = 0; i < n; i++)
        cuts[i] = i + 1;
    size_t ng = streamed(&mk, t, n, cuts, n ? n - 1 : 0, got);
    assert_int_equal(ng, nw);
    assert_memory_equal(got, want, nw * sizeof(size_t));
    tk_marker_free(&mk);
}

static void test_overlapping_prefix(void **state)
{
    (void)state;
    /* "aab" in "aaab": after "aa" the third 'a' must fall back to "aa", not to nothing. */
    check_all_splits("aaab", "aab");
    size_t ends[4];
    struct tk_marker mk;
    uint32_t st = 0;
    size_t pos = 0;
    assert_int_equal(tk_marker_init(&mk, "aab", 3), 0);
    assert_true(tk_marker_find(&mk, &st, (const uint8_t *)"aaab", 4, &pos));
    assert_int_equal(pos, 4);
    tk_marker_free(&mk);
    assert_int_equal(naive((const uint8_t *)"aaab", 4, (const uint8_t *)"aab", 3, ends), 1);
}

static void test_known_cases(void **state)
{
    (void)state;
    check_all_splits("hello\nhello\nhello\n", "hello");
    check_all_splits("abababab", "abab");      /* non-overlapping: 2 matches, not 3 */
    check_all_splits("aaaa", "aa");            /* 2 */
    check_all_splits("abcabdabcabcabd", "abcabd");
    check_all_splits("xyz", "xyzw");           /* longer than the text: none */
    check_all_splits("TCPKaliTCPKaliMsgTS-", "TCPKaliMsgTS-");
    check_all_splits("a", "a");
    check_all_splits("", "a");
}

static void test_non_overlapping_count(void **state)
{
    (void)state;
    struct tk_marker mk;
    uint32_t st = 0;
    size_t pos = 0, n = 0;
    assert_int_equal(tk_marker_init(&mk, "abab", 4), 0);
    while (tk_marker_find(&mk, &st, (const uint8_t *)"abababab", 8, &pos))
        n++;
    assert_int_equal(n, 2);
    assert_int_equal(st, 0);
    tk_marker_free(&mk);
}

static void test_random_model(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 42);
    uint8_t text[200], pat[8];
    size_t want[200], got[200], cuts[16];

    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)rng_below(&r, sizeof(text) + 1);
        size_t m = 1 + (size_t)rng_below(&r, sizeof(pat));
        unsigned alpha = 1 + (unsigned)rng_below(&r, 3); /* tiny alphabets: many overlaps */
        for (size_t i = 0; i < n; i++)
            text[i] = (uint8_t)('a' + rng_below(&r, alpha));
        for (size_t i = 0; i < m; i++)
            pat[i] = (uint8_t)('a' + rng_below(&r, alpha));
        struct tk_marker mk;
        assert_int_equal(tk_marker_init(&mk, pat, m), 0);
        size_t ncuts = (size_t)rng_below(&r, 16);
        for (size_t c = 0; c < ncuts; c++)
            cuts[c] = n ? (size_t)rng_below(&r, n + 1) : 0;
        /* sort the cuts */
        for (size_t a = 1; a < ncuts; a++)
            for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
                size_t tmp = cuts[b];
                cuts[b] = cuts[b - 1];
                cuts[b - 1] = tmp;
            }
        size_t nw = naive(text, n, pat, m, want);
        size_t ng = streamed(&mk, text, n, cuts, ncuts, got);
        assert_int_equal(ng, nw);
        assert_memory_equal(got, want, nw * sizeof(size_t));
        tk_marker_free(&mk);
    }
}

static void test_init_errors(void **state)
{
    (void)state;
    struct tk_marker mk;
    assert_int_equal(tk_marker_init(&mk, "", 0), -EINVAL);
    tk_marker_free(&mk);
}

static void test_skip(void **state)
{
    (void)state;
    struct tk_marker mk;
    assert_int_equal(tk_marker_init(&mk, "hello", 5), 0);
    const char *t = "hellohellohello";
    /* Skip 1, fed in pieces "hel" "lohel" "lohello": 2 matches reported, at 10 and 15. */
    const char *pieces[] = {"hel", "lohel", "lohello"};
    uint32_t st = 0;
    uint64_t skip = 1;
    size_t base = 0, ends[4], k = 0;
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(pieces[i]), pos = 0;
        while (tk_marker_find_skip(&mk, &st, &skip, (const uint8_t *)pieces[i], len, &pos))
            ends[k++] = base + pos;
        base += len;
    }
    assert_int_equal(base, strlen(t));
    assert_int_equal(k, 2);
    assert_int_equal(ends[0], 10);
    assert_int_equal(ends[1], 15);
    assert_int_equal(skip, 0);

    /* A skip larger than the matches swallows them all and keeps counting down. */
    st = 0;
    skip = 5;
    size_t pos = 0;
    assert_false(tk_marker_find_skip(&mk, &st, &skip, (const uint8_t *)t, strlen(t), &pos));
    assert_int_equal(skip, 2);
    tk_marker_free(&mk);
}

/* ---- message-marker tokens ---------------------------------------------------------- */

static size_t parse_split(const uint8_t *t, size_t n, size_t cut1, size_t cut2, uint64_t *out)
{
    struct tk_marker pre;
    struct tk_msgmark_state s;
    size_t k = 0, cuts[3] = {cut1, cut2, n}, from = 0;
    assert_int_equal(tk_marker_init(&pre, TK_MSGMARK_PREFIX, strlen(TK_MSGMARK_PREFIX)), 0);
    tk_msgmark_state_init(&s);
    for (int c = 0; c < 3; c++) {
        size_t pos = 0;
        uint64_t ts;
        while (tk_msgmark_next(&pre, &s, t + from, cuts[c] - from, &pos, &ts))
            out[k++] = ts;
        assert_int_equal(pos, cuts[c] - from);
        from = cuts[c];
    }
    tk_marker_free(&pre);
    return k;
}

static void test_msgmark_tokens(void **state)
{
    (void)state;
    uint8_t tok[TK_MSGMARK_LEN];
    tk_msgmark_format(0x000660eb77f2bf78ULL, tok);
    assert_memory_equal(tok, "TCPKaliMsgTS-000660eb77f2bf78.", TK_MSGMARK_LEN);

    /* Two tokens around junk, one damaged (17 digits) and one with a non-hex digit. */
    const char *text = "xx TCPKaliMsgTS-000660eb77f2bf78.yy"
                       "TCPKaliMsgTS-0000000000000000a."          /* 17 chars: dropped */
                       "TCPKaliMsgTS-00000000000000zf."           /* 'z' counts as 0 */
                       "TCPKaliMsgTTCPKaliMsgTS-0000000000000001.";
    const uint8_t *t = (const uint8_t *)text;
    size_t n = strlen(text);
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j += 3) {
            uint64_t got[8];
            size_t k = parse_split(t, n, i, j, got);
            assert_int_equal(k, 3);
            assert_int_equal(got[0], 0x000660eb77f2bf78ULL);
            assert_int_equal(got[1], 0x0fULL);
            assert_int_equal(got[2], 1);
        }
    }
}

static void test_msgmark_round_trip(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < 1000; i++) {
        uint64_t v = rng_next(&r);
        uint8_t tok[TK_MSGMARK_LEN];
        uint64_t got[8];
        tk_msgmark_format(v, tok);
        size_t cut = (size_t)rng_below(&r, TK_MSGMARK_LEN + 1);
        assert_int_equal(parse_split(tok, TK_MSGMARK_LEN, cut, cut, got), 1);
        assert_true(got[0] == v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlapping_prefix),
        cmocka_unit_test(test_known_cases),
        cmocka_unit_test(test_non_overlapping_count),
        cmocka_unit_test(test_random_model),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_msgmark_tokens),
        cmocka_unit_test(test_msgmark_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
