/* flowgrind's interval table against the real 0.8.2 output of spec §7.5: the report values
 * are read off each sample row (byte counts and durations chosen so that they print the
 * sample's figures), and header lines and rows must come out byte for byte. Where the
 * original's bugs 1 and 2 show in a sample, the expected row is the sample's with the cell
 * the documentation promises (min IAT = the minimum IAT), and the test says so. Then the
 * width rules (grow at once, shrink after 5 rows, header every 25 rows), symbols and -p,
 * -c groups, the OS rules, and the two bug fixes on their own. */

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowgrind/table.h"

/* ---- helpers ------------------------------------------------------------------------- */

struct capture {
    char *buf;
    size_t len;
    FILE *f;
};

static void cap_open(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

/* Closes the stream; the caller frees c->buf. */
static void cap_close(struct capture *c)
{
    assert_int_equal(fclose(c->f), 0);
}

/* A Linux loopback endpoint's TCP_INFO as the bulk samples show it. */
static struct fg_table_report endpoint(bool source, double begin)
{
    struct fg_table_report r = {
        .flow_id = 0,
        .source = source,
        .begin_s = begin,
        .end_s = begin + 0.5,
        .cwnd = source ? 18 : 10,
        .ssthresh = 2147483647u,
        .unacked = source ? 1 : 0,
        .reordering = 3,
        .rto_us = 204000,
        .ca_state = 0,
        .snd_mss = source ? 65483 : 32768,
        .pmtu = 65535,
    };
    return r;
}

/* bytes written that print as mbit Mbit/s: the report's end is set to match. */
static void set_mbit(struct fg_table_report *r, double mbit, uint64_t bytes)
{
    r->bytes_written = bytes;
    r->end_s = r->begin_s + (double)bytes * 8.0 / (mbit * 1e6);
}

static void set_mib(struct fg_table_report *r, double mib, uint64_t bytes)
{
    r->bytes_written = bytes;
    r->end_s = r->begin_s + (double)bytes / (mib * 1048576.0);
}

/* Both through (Mbit/s) and transac from one duration: `responses` response blocks read. */
static void set_mbit_transac(struct fg_table_report *r, double mbit, double transac,
                             uint64_t responses)
{
    double d0 = (double)responses / transac;
    uint64_t bytes = (uint64_t)llround(mbit * 1e6 / 8.0 * d0);
    r->response_blocks_read = responses;
    set_mbit(r, mbit, bytes);
}

static struct fg_table_stat stat_ms(double min_ms, double avg_ms, double max_ms, uint64_t n)
{
    struct fg_table_stat s = {.min_s = min_ms / 1e3,
                              .max_s = max_ms / 1e3,
                              .sum_s = avg_ms / 1e3 * (double)n,
                              .samples = n};
    return s;
}

static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

/* ---- the spec's samples -------------------------------------------------------------- */

#define BULK_H1                                                                               \
    "# ID  begin    end   through  transac  min IAT  avg IAT  max IAT  cwnd     ssth  uack  " \
    "sack  lost  retr  tret  fack  reor  bkof   rtt  rttvar    rto  ca state   smss       "   \
    "pmtu\n"
#define BULK_U1                                                                                \
    "#       [s]    [s]  [Mbit/s]    [#/s]     [ms]     [ms]     [ms]   [#]      [#]   [#]   " \
    "[#]   [#]   [#]   [#]   [#]   [#]   [#]  [ms]    [ms]   [ms]              [B]        "    \
    "[B]\n"
#define BULK_H2                                                                              \
    "# ID  begin    end      through  transac  min IAT  avg IAT  max IAT  cwnd     ssth  "   \
    "uack  sack  lost  retr  tret  fack  reor  bkof   rtt  rttvar    rto  ca state   smss  " \
    "     pmtu\n"
#define BULK_U2                                                                              \
    "#       [s]    [s]     [Mbit/s]    [#/s]     [ms]     [ms]     [ms]   [#]      [#]   "  \
    "[#]   [#]   [#]   [#]   [#]   [#]   [#]   [#]  [ms]    [ms]   [ms]              [B]   " \
    "     [B]\n"

/* Plain bulk test, -i 0.05: the first four rows. The sample's D rows print `inf` in min IAT
 * (bug 1: that column showed rtt_min); here they show the IAT minimum given, 0.009/0.008. */
static void test_sample_bulk(void **state)
{
    (void)state;
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);

    struct fg_table_report d1 = endpoint(false, 0.0);
    d1.end_s = 0.05;
    d1.iat = stat_ms(0.009, 0.011, 0.523, 4000);
    struct fg_table_report s1 = endpoint(true, 0.0);
    set_mbit(&s1, 6010.480555, 37565503);
    struct fg_table_report d2 = endpoint(false, 0.05);
    d2.end_s = 0.1;
    d2.iat = stat_ms(0.008, 0.010, 0.119, 4500);
    struct fg_table_report s2 = endpoint(true, 0.05);
    set_mbit(&s2, 6288.095835, 39300599);
    const struct fg_table_report *rows[] = {&d1, &s1, &d2, &s2};
    for (int i = 0; i < 4; i++)
        assert_int_equal(fg_table_print(&t, rows[i], c.f), 0);
    cap_close(&c);

    const char *want = BULK_H1 BULK_U1
        "D  0  0.000  0.050  0.000000     0.00    0.009    0.011    0.523    10  INT_MAX     0 "
        "    0     0     0     0     0     3     0   0.0     0.0  204.0      open  32768  "
        "USHRT_MAX\n" BULK_H2 BULK_U2
        "S  0  0.000  0.050  6010.480555     0.00      inf      inf      inf    18  INT_MAX     "
        "1     0     0     0     0     0     3     0   0.0     0.0  204.0      open  65483  "
        "USHRT_MAX\n"
        "D  0  0.050  0.100     0.000000     0.00    0.008    0.010    0.119    10  INT_MAX     "
        "0     0     0     0     0     0     3     0   0.0     0.0  204.0      open  32768  "
        "USHRT_MAX\n"
        "S  0  0.050  0.100  6288.095835     0.00      inf      inf      inf    18  INT_MAX     "
        "1     0     0     0     0     0     3     0   0.0     0.0  204.0      open  65483  "
        "USHRT_MAX\n";
    assert_string_equal(c.buf, want);
    free(c.buf);
}

/* `-m -p -c interval,through,blocks,kernel`: the whole sample table, byte for byte. */
static void test_sample_mib_numeric_columns(void **state)
{
    (void)state;
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.mib = true;
    o.numeric = true;
    assert_int_equal(fg_table_parse_groups("interval,through,blocks,kernel", &o.groups), 0);
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);

    struct fg_table_report d1 = endpoint(false, 0.0);
    d1.end_s = 0.501;
    d1.reordering = 8;
    d1.rto_us = 200000;
    struct fg_table_report s1 = endpoint(true, 0.0);
    s1.reordering = 8;
    s1.request_blocks_written = 42996;
    set_mib(&s1, 670.470742, 42996ull * 8192);
    struct fg_table_report d2 = d1;
    d2.begin_s = 0.501;
    d2.end_s = 1.0;
    struct fg_table_report s2 = endpoint(true, 0.501);
    s2.reordering = 8;
    s2.request_blocks_written = 42918;
    set_mib(&s2, 671.830609, 42918ull * 8192);
    const struct fg_table_report *rows[] = {&d1, &s1, &d2, &s2};
    for (int i = 0; i < 4; i++)
        assert_int_equal(fg_table_print(&t, rows[i], c.f), 0);
    cap_close(&c);

    const char *want =
        "# ID  begin    end   through  requ  resp  cwnd        ssth  uack  sack  lost  retr  "
        "tret  fack  reor  bkof   rtt  rttvar    rto  ca state   smss   pmtu\n"
        "#       [s]    [s]   [MiB/s]   [#]   [#]   [#]         [#]   [#]   [#]   [#]   [#]   "
        "[#]   [#]   [#]   [#]  [ms]    [ms]   [ms]              [B]    [B]\n"
        "D  0  0.000  0.501  0.000000     0     0    10  2147483647     0     0     0     0     "
        "0     0     8     0   0.0     0.0  200.0      open  32768  65535\n"
        "# ID  begin    end     through   requ  resp  cwnd        ssth  uack  sack  lost  retr  "
        "tret  fack  reor  bkof   rtt  rttvar    rto  ca state   smss   pmtu\n"
        "#       [s]    [s]     [MiB/s]    [#]   [#]   [#]         [#]   [#]   [#]   [#]   [#]  "
        " [#]   [#]   [#]   [#]  [ms]    [ms]   [ms]              [B]    [B]\n"
        "S  0  0.000  0.501  670.470742  42996     0    18  2147483647     1     0     0     0    "
        " 0     0     8     0   0.0     0.0  204.0      open  65483  65535\n"
        "D  0  0.501  1.000    0.000000      0     0    10  2147483647     0     0     0     0    "
        " 0     0     8     0   0.0     0.0  200.0      open  32768  65535\n"
        "S  0  0.501  1.000  671.830609  42918     0    18  2147483647     1     0     0     0    "
        " 0     0     8     0   0.0     0.0  204.0      open  65483  65535\n";
    assert_string_equal(c.buf, want);
    free(c.buf);
}

/* `-T s=1,d=1 -Y d=0.5 -c interval,through,blocks,rtt`: the whole sample table. */
static void test_sample_bidirectional_rtt_columns(void **state)
{
    (void)state;
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    assert_int_equal(fg_table_parse_groups("interval,through,blocks,rtt", &o.groups), 0);
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);

    static const struct {
        bool source;
        double begin, mbit;
        uint64_t blocks;
    } in[] = {
        {false, 0.0, 0.131065, 1},        {true, 0.0, 5934.594648, 45280},
        {false, 0.5, 4067.461209, 31031}, {true, 0.5, 4067.382258, 31031},
        {false, 1.0, 8279.513449, 63167}, {true, 1.0, 0.0, 0},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        struct fg_table_report r = endpoint(in[i].source, in[i].begin);
        r.request_blocks_written = in[i].blocks;
        if (in[i].blocks)
            set_mbit(&r, in[i].mbit, in[i].blocks * 8192);
        assert_int_equal(fg_table_print(&t, &r, c.f), 0);
    }
    cap_close(&c);

    const char *want = "# ID  begin    end   through  requ  resp  min RTT  avg RTT  max RTT\n"
                       "#       [s]    [s]  [Mbit/s]   [#]   [#]     [ms]     [ms]     [ms]\n"
                       "D  0  0.000  0.500  0.131065     1     0      inf      inf      inf\n"
                       "# ID  begin    end      through   requ  resp  min RTT  avg RTT  max RTT\n"
                       "#       [s]    [s]     [Mbit/s]    [#]   [#]     [ms]     [ms]     [ms]\n"
                       "S  0  0.000  0.500  5934.594648  45280     0      inf      inf      inf\n"
                       "D  0  0.500  1.000  4067.461209  31031     0      inf      inf      inf\n"
                       "S  0  0.500  1.000  4067.382258  31031     0      inf      inf      inf\n"
                       "D  0  1.000  1.500  8279.513449  63167     0      inf      inf      inf\n"
                       "S  0  1.000  1.500     0.000000      0     0      inf      inf      inf\n";
    assert_string_equal(c.buf, want);
    free(c.buf);
}

/* `-A s`: RTT and IAT columns. In the sample the S row's min IAT shows 0.030 = min RTT and
 * the D rows' shows inf (bug 1); here S shows inf (no IAT sample) and D its IAT minimum. */
static void test_sample_minimal_response_rtt(void **state)
{
    (void)state;
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.groups |= FG_GROUP_RTT; /* what -A does */
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);

    struct fg_table_report d1 = endpoint(false, 0.0);
    d1.cwnd = 18;
    d1.reordering = 8;
    set_mbit(&d1, 20.253690, 31646ull * 40);
    d1.iat = stat_ms(0.012, 0.016, 0.601, 31646);
    struct fg_table_report s1 = endpoint(true, 0.0);
    s1.reordering = 8;
    set_mbit_transac(&s1, 4148.078975, 63290.66, 31645);
    s1.rtt = stat_ms(0.030, 0.038, 0.676, 31645);
    struct fg_table_report d2 = endpoint(false, 0.5);
    d2.cwnd = 18;
    d2.reordering = 8;
    set_mbit(&d2, 21.301414, 33283ull * 40);
    d2.iat = stat_ms(0.011, 0.015, 2.058, 33283);
    const struct fg_table_report *rows[] = {&d1, &s1, &d2};
    for (int i = 0; i < 3; i++)
        assert_int_equal(fg_table_print(&t, rows[i], c.f), 0);
    cap_close(&c);

    const char *want =
        "# ID  begin    end    through  transac  min RTT  avg RTT  max RTT  min IAT  avg IAT  "
        "max IAT  cwnd     ssth  uack  sack  lost  retr  tret  fack  reor  bkof   rtt  rttvar   "
        " rto  ca state   smss       pmtu\n"
        "#       [s]    [s]   [Mbit/s]    [#/s]     [ms]     [ms]     [ms]     [ms]     [ms]     "
        "[ms]   [#]      [#]   [#]   [#]   [#]   [#]   [#]   [#]   [#]   [#]  [ms]    [ms]   "
        "[ms]              [B]        [B]\n"
        "D  0  0.000  0.500  20.253690     0.00      inf      inf      inf    0.012    0.016    "
        "0.601    18  INT_MAX     0     0     0     0     0     0     8     0   0.0     0.0  "
        "204.0      open  32768  USHRT_MAX\n"
        "# ID  begin    end      through   transac  min RTT  avg RTT  max RTT  min IAT  avg IAT  "
        "max IAT  cwnd     ssth  uack  sack  lost  retr  tret  fack  reor  bkof   rtt  rttvar   "
        " rto  ca state   smss       pmtu\n"
        "#       [s]    [s]     [Mbit/s]     [#/s]     [ms]     [ms]     [ms]     [ms]     [ms]  "
        "   [ms]   [#]      [#]   [#]   [#]   [#]   [#]   [#]   [#]   [#]   [#]  [ms]    [ms]   "
        "[ms]              [B]        [B]\n"
        "S  0  0.000  0.500  4148.078975  63290.66    0.030    0.038    0.676      inf      inf  "
        "    inf    18  INT_MAX     1     0     0     0     0     0     8     0   0.0     0.0  "
        "204.0      open  65483  USHRT_MAX\n"
        "D  0  0.500  1.000    21.301414      0.00      inf      inf      inf    0.011    0.015  "
        "  2.058    18  INT_MAX     0     0     0     0     0     0     8     0   0.0     0.0  "
        "204.0      open  32768  USHRT_MAX\n";
    assert_string_equal(c.buf, want);
    free(c.buf);
}

/* `-I`: delay columns; one header, no width change. D rows' min IAT as above. */
static void test_sample_delay_columns(void **state)
{
    (void)state;
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.groups |= FG_GROUP_DELAY; /* what -I does */
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);

    struct fg_table_report d1 = endpoint(false, 0.0);
    d1.end_s = 0.501;
    d1.reordering = 8;
    d1.rto_us = 200000;
    d1.iat = stat_ms(9.500, 9.825, 10.330, 49);
    d1.delay = stat_ms(0.013, 0.076, 0.135, 50);
    struct fg_table_report s1 = endpoint(true, 0.0);
    s1.unacked = 0;
    s1.reordering = 8;
    s1.rtt_us = 100;
    s1.snd_mss = 35328;
    set_mbit(&s1, 0.797649, 50000);
    struct fg_table_report d2 = d1;
    d2.begin_s = 0.501;
    d2.end_s = 1.002;
    d2.iat = stat_ms(9.512, 10.019, 10.297, 50);
    d2.delay = stat_ms(0.012, 0.071, 0.110, 50);
    struct fg_table_report s2 = s1;
    s2.begin_s = 0.501;
    s2.rtt_us = 0;
    set_mbit(&s2, 0.798431, 50000);
    const struct fg_table_report *rows[] = {&d1, &s1, &d2, &s2};
    for (int i = 0; i < 4; i++)
        assert_int_equal(fg_table_print(&t, rows[i], c.f), 0);
    cap_close(&c);

    const char *want =
        "# ID  begin    end   through  transac  min IAT  avg IAT  max IAT  min DLY  avg DLY  max "
        "DLY  cwnd     ssth  uack  sack  lost  retr  tret  fack  reor  bkof   rtt  rttvar    rto "
        " ca state   smss       pmtu\n"
        "#       [s]    [s]  [Mbit/s]    [#/s]     [ms]     [ms]     [ms]     [ms]     [ms]     "
        "[ms]   [#]      [#]   [#]   [#]   [#]   [#]   [#]   [#]   [#]   [#]  [ms]    [ms]   [ms]"
        "              [B]        [B]\n"
        "D  0  0.000  0.501  0.000000     0.00    9.500    9.825   10.330    0.013    0.076    "
        "0.135    10  INT_MAX     0     0     0     0     0     0     8     0   0.0     0.0  "
        "200.0      open  32768  USHRT_MAX\n"
        "S  0  0.000  0.501  0.797649     0.00      inf      inf      inf      inf      inf      "
        "inf    18  INT_MAX     0     0     0     0     0     0     8     0   0.1     0.0  204.0 "
        "     open  35328  USHRT_MAX\n"
        "D  0  0.501  1.002  0.000000     0.00    9.512   10.019   10.297    0.012    0.071    "
        "0.110    10  INT_MAX     0     0     0     0     0     0     8     0   0.0     0.0  "
        "200.0      open  32768  USHRT_MAX\n"
        "S  0  0.501  1.002  0.798431     0.00      inf      inf      inf      inf      inf      "
        "inf    18  INT_MAX     0     0     0     0     0     0     8     0   0.0     0.0  204.0 "
        "     open  35328  USHRT_MAX\n";
    assert_string_equal(c.buf, want);
    free(c.buf);
}

/* ---- the rules on their own ---------------------------------------------------------- */

/* One column (through) and a chosen value per row; returns the output. */
static char *through_rows(const double *mbit, int n)
{
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.groups = FG_GROUP_THROUGH;
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);
    for (int i = 0; i < n; i++) {
        struct fg_table_report r = endpoint(true, 0.0);
        r.end_s = 1.0;
        r.bytes_written = (uint64_t)llround(mbit[i] * 1e6 / 8.0);
        assert_int_equal(fg_table_print(&t, &r, c.f), 0);
    }
    cap_close(&c);
    return c.buf;
}

/* The bulk sample's "header repeated at data rows 26, 51, 76": after the first row, every
 * 25 rows, however many width-change headers came between. */
static void test_header_every_25_rows(void **state)
{
    (void)state;
    double mbit[80];
    mbit[0] = 0.0;
    for (int i = 1; i < 80; i++)
        mbit[i] = 6000.0; /* grows at row 2, then constant */
    char *out = through_rows(mbit, 80);
    int data = 0;
    int headers_before[4] = {0}, nh = 0;
    for (char *p = out; *p; p = strchr(p, '\n') + 1) {
        if (strncmp(p, "# ID", 4) == 0) {
            if (nh < 4)
                headers_before[nh] = data + 1;
            nh++;
        } else if (p[0] == 'S') {
            data++;
        }
    }
    assert_int_equal(data, 80);
    assert_int_equal(nh, 5);
    assert_int_equal(headers_before[0], 1);
    assert_int_equal(headers_before[1], 2); /* width change */
    assert_int_equal(headers_before[2], 26);
    assert_int_equal(headers_before[3], 51);
    assert_int_equal(count_lines_starting(out, "#     [Mbit/s]"), 1);    /* 0.000000 */
    assert_int_equal(count_lines_starting(out, "#        [Mbit/s]"), 4); /* 6000.000000 */
    free(out);
}

/* Grows at once; shrinks only on the 5th consecutive row that is more than one character
 * too wide, with a header before that row. */
static void test_shrink_after_five_rows(void **state)
{
    (void)state;
    const double mbit[] = {1000.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    char *out = through_rows(mbit, 7);
    const char *want = "# ID      through\n"
                       "#        [Mbit/s]\n"
                       "S  0  1000.000000\n"
                       "S  0     1.000000\n"
                       "S  0     1.000000\n"
                       "S  0     1.000000\n"
                       "S  0     1.000000\n"
                       "# ID   through\n"
                       "#     [Mbit/s]\n"
                       "S  0  1.000000\n"
                       "S  0  1.000000\n";
    assert_string_equal(out, want);
    free(out);
}

/* A row only one character narrower than the width is not "too wide": it restarts the
 * count. */
static void test_one_char_narrower_resets_count(void **state)
{
    (void)state;
    const double mbit[] = {1000.0, 1.0, 1.0, 1.0, 1.0, 100.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    char *out = through_rows(mbit, 11);
    assert_int_equal(count_lines_starting(out, "# ID"), 2);
    const char *tail = "# ID   through\n"
                       "#     [Mbit/s]\n"
                       "S  0  1.000000\n";
    size_t n = strlen(out), m = strlen(tail);
    assert_true(n > m);
    assert_string_equal(out + n - m, tail); /* shrunk on the 5th narrow row after 100.0 */
    free(out);
}

/* One kernel row with extreme values; returns the row text (last line). */
static char *kernel_row(bool numeric, const struct fg_table_report *r)
{
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.groups = FG_GROUP_KERNEL;
    o.numeric = numeric;
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);
    assert_int_equal(fg_table_print(&t, r, c.f), 0);
    cap_close(&c);
    return c.buf;
}

static void test_symbols_and_numeric(void **state)
{
    (void)state;
    struct fg_table_report r = endpoint(true, 0.0);
    r.cwnd = UINT_MAX;
    r.ssthresh = INT_MAX;
    r.snd_mss = 65535;
    r.pmtu = 65534;
    r.ca_state = 9;
    char *sym = kernel_row(false, &r);
    assert_non_null(strstr(sym, "\nS  0  UINT_MAX  INT_MAX "));
    assert_non_null(strstr(sym, "unknown  USHRT_MAX  65534\n"));
    char *num = kernel_row(true, &r);
    assert_non_null(strstr(num, "\nS  0  4294967295  2147483647 "));
    assert_non_null(strstr(num, "unknown  65535  65534\n"));
    free(sym);
    free(num);
}

/* Bug 1: min IAT is the IAT minimum, never the RTT minimum. Bug 2: averages divide by the
 * number of samples, not by blocks read. */
static void test_bug_fixes_min_iat_and_averages(void **state)
{
    (void)state;
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.groups = FG_GROUP_RTT | FG_GROUP_IAT | FG_GROUP_DELAY;
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);
    struct fg_table_report r = endpoint(false, 0.0);
    r.rtt = (struct fg_table_stat){.min_s = 0.000017, .max_s = 0.001, .sum_s = 0.002, .samples = 4};
    /* 100 request blocks read but only 5 IAT samples: avg 2.000, not 0.100 */
    r.iat = (struct fg_table_stat){.min_s = 0.0015, .max_s = 0.003, .sum_s = 0.010, .samples = 5};
    /* the original daemon's "no sample" sentinel stays inf even with a count */
    r.delay = (struct fg_table_stat){.min_s = FLT_MAX, .max_s = FLT_MIN, .sum_s = 0, .samples = 1};
    assert_int_equal(fg_table_print(&t, &r, c.f), 0);
    r.rtt.samples = 0; /* no response read: inf */
    assert_int_equal(fg_table_print(&t, &r, c.f), 0);
    cap_close(&c);
    const char *want =
        "# ID  min RTT  avg RTT  max RTT  min IAT  avg IAT  max IAT  min DLY  avg DLY  max DLY\n"
        "#        [ms]     [ms]     [ms]     [ms]     [ms]     [ms]     [ms]     [ms]     [ms]\n"
        "D  0    0.017    0.500    1.000    1.500    2.000    3.000      inf      inf      inf\n"
        "D  0      inf      inf      inf    1.500    2.000    3.000      inf      inf      inf\n";
    assert_string_equal(c.buf, want);
    free(c.buf);
}

static void test_zero_length_report_never_nan(void **state)
{
    (void)state;
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.groups = FG_GROUP_THROUGH | FG_GROUP_TRANSAC;
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);
    struct fg_table_report r = endpoint(true, 1.0);
    r.end_s = 1.0;
    assert_int_equal(fg_table_print(&t, &r, c.f), 0);
    r.bytes_written = 10;
    r.response_blocks_read = 1;
    assert_int_equal(fg_table_print(&t, &r, c.f), 0);
    cap_close(&c);
    assert_null(strstr(c.buf, "nan"));
    assert_non_null(strstr(c.buf, "S  0  0.000000     0.00\n"));
    assert_non_null(strstr(c.buf, "S  0       inf      inf\n"));
    free(c.buf);
}

static void test_parse_groups(void **state)
{
    (void)state;
    unsigned g = 12345;
    assert_int_equal(fg_table_parse_groups("interval", &g), 0);
    assert_int_equal(g, FG_GROUP_INTERVAL);
    assert_int_equal(
        fg_table_parse_groups("interval,through,transac,blocks,rtt,iat,delay,kernel", &g), 0);
    assert_int_equal(g, 0xffu);
    assert_int_equal(fg_table_parse_groups("rtt,rtt", &g), 0);
    assert_int_equal(g, FG_GROUP_RTT);
    g = 7;
    assert_int_equal(fg_table_parse_groups("", &g), -EINVAL);
    assert_int_equal(fg_table_parse_groups("rtt,", &g), -EINVAL);
    assert_int_equal(fg_table_parse_groups(",rtt", &g), -EINVAL);
    assert_int_equal(fg_table_parse_groups("rtt,,iat", &g), -EINVAL);
    assert_int_equal(fg_table_parse_groups("RTT", &g), -EINVAL);
    assert_int_equal(fg_table_parse_groups("interva", &g), -EINVAL);
    assert_int_equal(fg_table_parse_groups("intervals", &g), -EINVAL);
    assert_int_equal(g, 7);
}

/* Header of a kernel-only table under the given OS options. */
static char *kernel_header(bool linux_, bool freebsd, bool bytes)
{
    struct fg_table_opts o;
    fg_table_opts_init(&o);
    o.groups = FG_GROUP_KERNEL;
    o.any_linux = linux_;
    o.any_freebsd = freebsd;
    o.kernel_bytes = bytes;
    struct fg_table t;
    fg_table_init(&t, &o);
    struct capture c;
    cap_open(&c);
    struct fg_table_report r = endpoint(true, 0.0);
    assert_int_equal(fg_table_print(&t, &r, c.f), 0);
    cap_close(&c);
    return c.buf;
}

static void test_os_visibility_and_units(void **state)
{
    (void)state;
    char *fb = kernel_header(false, true, true);
    assert_string_equal(fb, "# ID  cwnd     ssth   rtt  rttvar    rto   smss\n"
                            "#      [B]      [B]  [ms]    [ms]   [ms]    [B]\n"
                            "S  0    18  INT_MAX   0.0     0.0  204.0  65483\n");
    char *none = kernel_header(false, false, false);
    assert_string_equal(none, "# ID\n#   \nS  0\n");
    free(fb);
    free(none);
}

/* The headlines of the bulk and the -m samples. */
static void test_headline(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    assert_int_equal(fg_table_headline(c.f, "2026-11-23-06:09:12", "vm", 1, 0.05, false, "0.8.2"),
                     0);
    assert_int_equal(fg_table_headline(c.f, "2026-11-23-06:09:36", "vm", 1, 0.5, true, "0.8.2"), 0);
    cap_close(&c);
    assert_string_equal(c.buf,
                        "# Date: 2026-11-23-06:09:12, controlling host = vm, number of flows = "
                        "1, reporting interval = 0.05s, [through] = 10**6 bit/second (0.8.2)\n"
                        "# Date: 2026-11-23-06:09:36, controlling host = vm, number of flows = "
                        "1, reporting interval = 0.50s, [through] = 2**20 bytes/second (0.8.2)\n");
    free(c.buf);
}

static void test_ca_state_names(void **state)
{
    (void)state;
    assert_string_equal(fg_table_ca_state_name(0), "open");
    assert_string_equal(fg_table_ca_state_name(1), "disorder");
    assert_string_equal(fg_table_ca_state_name(2), "cwr");
    assert_string_equal(fg_table_ca_state_name(3), "recover");
    assert_string_equal(fg_table_ca_state_name(4), "loss");
    assert_string_equal(fg_table_ca_state_name(5), "unknown");
    assert_string_equal(fg_table_ca_state_name(UINT32_MAX), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_bulk),
        cmocka_unit_test(test_sample_mib_numeric_columns),
        cmocka_unit_test(test_sample_bidirectional_rtt_columns),
        cmocka_unit_test(test_sample_minimal_response_rtt),
        cmocka_unit_test(test_sample_delay_columns),
        cmocka_unit_test(test_header_every_25_rows),
        cmocka_unit_test(test_shrink_after_five_rows),
        cmocka_unit_test(test_one_char_narrower_resets_count),
        cmocka_unit_test(test_symbols_and_numeric),
        cmocka_unit_test(test_bug_fixes_min_iat_and_averages),
        cmocka_unit_test(test_zero_length_report_never_nan),
        cmocka_unit_test(test_parse_groups),
        cmocka_unit_test(test_os_visibility_and_units),
        cmocka_unit_test(test_headline),
        cmocka_unit_test(test_ca_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
