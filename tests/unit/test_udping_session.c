/* udping_server's accounting (src/udping/session.c) on made-up datagram sequences: counts
 * in order, loss at the start, in the middle (bursts of 13 and 1000) and at the end,
 * duplicates, reordering, the wrap of sequence numbers at 2^32, the successor rule between
 * periods, control packets against inferred counts, deadlines, and the signed latency
 * figures. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "udping/session.h"

#define SEC 1000000000LL
#define MS 1000000LL
#define T0 (1700000000LL * SEC) /* the server's start, CLOCK_REALTIME */

static const char *const GA = "aaaaaaaaaaaaaaaaaaaa";
static const char *const GB = "bbbbbbbbbbbbbbbbbbbb";
static const char *const GC = "cccccccccccccccccccc";

struct fixture {
    struct udping_table t;
    uint64_t mono; /* the monotonic clock of the test */
    int64_t real;  /* the server's wall clock */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(udping_table_init(&f->t, 5 * SEC, T0), 0);
    f->mono = 1000 * SEC;
    f->real = T0 + 10 * SEC;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    udping_table_free(&f->t);
    free(f);
    return 0;
}

static struct sock_addr v4(uint16_t port)
{
    struct sock_addr a;
    memset(&a, 0, sizeof a);
    struct sockaddr_in *s = (struct sockaddr_in *)&a.ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    s->sin_addr.s_addr = htonl(0x7f000001);
    a.len = sizeof *s;
    return a;
}

/* One datagram from 127.0.0.1:port, sent 100 us before it arrives (no clock offset),
 * the clocks advancing 1 ms per datagram. */
static struct udping_rx_result feed_full(struct fixture *f, uint16_t port, const char *guid,
                                         uint32_t seq, bool control, int64_t client_start,
                                         int64_t latency_ns)
{
    struct sock_addr from = v4(port);
    struct udping_hdr h;
    memset(&h, 0, sizeof h);
    h.proto_version = control ? UDPING_PROTO_CONTROL : UDPING_PROTO_DATA;
    h.client_start = client_start;
    memcpy(h.guid, guid, UDPING_GUID_LEN);
    h.seq = seq;
    if (!control) {
        int64_t sent = f->real - latency_ns;
        int64_t sec = sent / SEC, nsec = sent % SEC;
        if (nsec < 0) {
            nsec += SEC;
            sec--;
        }
        h.sent_sec = sec;
        h.sent_nsec = nsec;
    }
    h.size = UDPING_HDR_LEN;
    struct udping_rx rx = {
        .from = &from,
        .hdr = &h,
        .control = control,
        .rx_real_ns = f->real,
        .ts_kernel = true,
        .now_mono_ns = f->mono,
    };
    struct udping_rx_result res;
    udping_table_receive(&f->t, &rx, &res);
    f->mono += MS;
    f->real += MS;
    return res;
}

/* An original client that started before the server (no first-period rule). */
#define OLD_START (T0 / SEC - 3600)

static struct udping_session *data(struct fixture *f, const char *guid, uint32_t seq)
{
    struct udping_rx_result r = feed_full(f, 22011, guid, seq, false, OLD_START, 100000);
    return r.s;
}

static void data_range(struct fixture *f, const char *guid, uint32_t from, uint32_t to_incl)
{
    for (uint32_t s = from;; s++) {
        data(f, guid, s);
        if (s == to_incl)
            break;
    }
}

static struct udping_session *find(struct fixture *f, const char *guid)
{
    for (struct udping_session *s = f->t.head; s; s = s->next)
        if (strcmp(s->guid, guid) == 0)
            return s;
    return NULL;
}

static struct udping_summary close_guid(struct fixture *f, const char *guid,
                                        enum udping_trigger trig)
{
    struct udping_session *s = find(f, guid);
    assert_non_null(s);
    struct udping_summary u;
    udping_table_close(&f->t, s, trig, &u);
    return u;
}

/* ---- counting from sequence numbers ------------------------------------------------- */

static void test_in_order(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 1000, 1099);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.exp_source, UDPING_EXP_INFERRED);
    assert_int_equal(u.count, 100);
    assert_int_equal(u.expected, 100);
    assert_int_equal(u.lost, 0);
    assert_int_equal(u.duplicates, 0);
    assert_int_equal(u.reordered, 0);
    assert_int_equal(u.negative, 0);
    assert_int_equal(u.ts_kernel, 100);
    assert_string_equal(u.guid, GA);
    assert_int_equal(sock_addr_port(&u.from), 22011);
    assert_int_equal(f->t.nsessions, 0);
}

static void test_mid_burst_of_13(void **state)
{
    /* The original's ±10 window printed count 63 with targetCount 52 here. */
    struct fixture *f = *state;
    data_range(f, GA, 500, 549);
    data_range(f, GA, 563, 575); /* 550..562 lost: 13 */
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.count, 63);
    assert_int_equal(u.expected, 76);
    assert_int_equal(u.lost, 13);
}

static void test_mid_burst_of_1000_and_single(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 0, 99);
    data_range(f, GA, 1100, 1149); /* 100..1099 lost */
    data(f, GA, 1151);             /* 1150 lost */
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.count, 151);
    assert_int_equal(u.expected, 1152);
    assert_int_equal(u.lost, 1001);
}

static void test_duplicates_not_counted(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 10, 19);
    data(f, GA, 13);
    data(f, GA, 19); /* the highest again */
    data(f, GA, 13);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.count, 10);
    assert_int_equal(u.duplicates, 3);
    assert_int_equal(u.expected, 10);
    assert_int_equal(u.lost, 0);
    assert_int_equal(f->t.duplicates, 3);
}

static void test_reordering(void **state)
{
    struct fixture *f = *state;
    uint32_t order[] = {100, 101, 103, 102, 104, 107, 105, 106, 108, 99};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        data(f, GA, order[i]);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.count, 10);
    assert_int_equal(u.reordered, 4); /* 102, 105, 106, 99 */
    assert_int_equal(u.expected, 10); /* 99..108 */
    assert_int_equal(u.lost, 0);
}

static void test_wrap_around(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 0xFFFFFFF0u, 0xFFFFFFFFu); /* 16 */
    data_range(f, GA, 0, 9);                     /* 10 */
    data(f, GA, 0xFFFFFFFEu);                    /* duplicate across the wrap */
    data_range(f, GA, 20, 29);                   /* 10..19 lost */
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.count, 36);
    assert_int_equal(u.duplicates, 1);
    assert_int_equal(u.expected, 46);
    assert_int_equal(u.lost, 10);
}

static void test_wrap_reordered_below_zero(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 0, 4);
    data(f, GA, 0xFFFFFFFDu); /* three below 0, late */
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.count, 6);
    assert_int_equal(u.reordered, 1);
    assert_int_equal(u.expected, 8); /* 0xFFFFFFFD..4 */
}

/* ---- periods: the successor rule, the first period, the last ------------------------ */

static void test_tail_loss_charged_via_successor(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 1000, 1089); /* 1090..1099 lost at A's tail */
    data_range(f, GB, 1100, 1199);
    struct udping_summary a = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(a.count, 90);
    assert_int_equal(a.expected, 100);
    assert_int_equal(a.lost, 10);
    struct udping_summary b = close_guid(f, GB, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(b.expected, 100); /* nothing charged twice */
    assert_int_equal(b.lost, 0);
}

static void test_leading_loss_of_next_period_goes_to_earlier(void **state)
{
    /* The boundary is not on the wire: a gap between A's last and B's first received
     * is charged to A when B is open at A's emission. */
    struct fixture *f = *state;
    data_range(f, GA, 0, 99);
    data_range(f, GB, 150, 199);
    struct udping_summary a = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(a.expected, 150);
    struct udping_summary b = close_guid(f, GB, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(b.expected, 50);
}

static void test_gap_after_emitted_period_goes_to_next(void **state)
{
    /* A emitted before B began (a long outage): B's range starts right after A's. */
    struct fixture *f = *state;
    data_range(f, GA, 0, 89);
    struct udping_summary a = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(a.expected, 90); /* the tail of a last period cannot be known */
    data_range(f, GB, 105, 199);
    struct udping_summary b = close_guid(f, GB, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(b.count, 95);
    assert_int_equal(b.expected, 110); /* 90..199 */
    assert_int_equal(b.lost, 15);
}

static void test_successor_is_the_nearest_open_session(void **state)
{
    /* Short periods, long keepalive: three sessions open at once. */
    struct fixture *f = *state;
    data_range(f, GA, 0, 9);
    data_range(f, GB, 12, 19);
    data_range(f, GC, 25, 29);
    struct udping_summary a = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(a.expected, 12); /* 0..11, not up to C */
    struct udping_summary b = close_guid(f, GB, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(b.expected, 13); /* 12..24 */
    struct udping_summary c = close_guid(f, GC, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(c.expected, 5);
}

static void test_successor_across_wrap(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 0xFFFFFFF0u, 0xFFFFFFF9u);
    data_range(f, GB, 5, 9); /* 0xFFFFFFFA..4 lost: 11 */
    struct udping_summary a = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(a.count, 10);
    assert_int_equal(a.expected, 21);
}

static void test_other_run_is_not_a_successor(void **state)
{
    /* The client restarted (another client_start): its numbers start again. */
    struct fixture *f = *state;
    data_range(f, GA, 1000, 1049);
    for (uint32_t s = 0; s < 10; s++)
        feed_full(f, 22011, GB, s, false, OLD_START + 60, 100000);
    struct udping_summary a = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(a.expected, 50);
}

static void test_first_period_counts_from_zero(void **state)
{
    /* The client started 5 s after the server; its clock is 3 s ahead of the server's:
     * the rule compares on the client's clock, so the offset does not matter. */
    struct fixture *f = *state;
    int64_t start = (f->real + 3 * SEC) / SEC - 4; /* client clock: started 4 s ago */
    assert_true(start * SEC > T0 + 3 * SEC);
    for (uint32_t s = 7; s < 50; s++) /* 0..6 lost at the start */
        feed_full(f, 22012, GA, s, false, start, 100000 - 3 * SEC);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.count, 43);
    assert_int_equal(u.expected, 50);
    assert_int_equal(u.lost, 7);
    assert_int_equal(u.negative, 43); /* the offset shows as negative latency */
}

static void test_client_older_than_server_not_from_zero(void **state)
{
    /* The client ran before the server started: its early numbers belong to periods the
     * server never saw, so the first session starts at its own lowest number. */
    struct fixture *f = *state;
    int64_t start = T0 / SEC - 30;
    for (uint32_t s = 7; s < 50; s++)
        feed_full(f, 22012, GA, s, false, start, 100000);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.expected, 43);
}

static void test_second_period_not_from_zero(void **state)
{
    struct fixture *f = *state;
    int64_t start = f->real / SEC - 1;
    for (uint32_t s = 0; s < 10; s++)
        feed_full(f, 22012, GA, s, false, start, 100000);
    struct udping_summary a = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(a.expected, 10);
    for (uint32_t s = 10; s < 20; s++)
        feed_full(f, 22012, GB, s, false, start, 100000);
    struct udping_summary b = close_guid(f, GB, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(b.expected, 10);
}

/* ---- control packets ---------------------------------------------------------------- */

static struct udping_rx_result ctl(struct fixture *f, const char *guid, uint32_t count)
{
    return feed_full(f, 22011, guid, count, true, OLD_START, 0);
}

static void test_control_gives_expected(void **state)
{
    struct fixture *f = *state;
    for (uint32_t s = 0; s < 20; s++) {
        if (s == 4 || s == 19)
            continue;
        struct udping_rx_result r = feed_full(f, 22011, GA, s, false, OLD_START, 100000);
        assert_false(r.complete);
    }
    struct udping_rx_result r = ctl(f, GA, 20);
    assert_int_equal(r.outcome, UDPING_RX_CONTROL);
    assert_false(r.complete); /* 18 of 20: wait for stragglers */
    assert_true(r.s->src->sends_control);
    /* the grace deadline comes before the keepalive */
    assert_true(udping_session_deadline(&f->t, r.s) == f->mono - MS + f->t.grace_ns);
    r = feed_full(f, 22011, GA, 4, false, OLD_START, 100000); /* a straggler */
    assert_int_equal(r.outcome, UDPING_RX_COUNTED);
    assert_false(r.complete);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_GRACE);
    assert_int_equal(u.exp_source, UDPING_EXP_CONTROL);
    assert_int_equal(u.expected, 20);
    assert_int_equal(u.count, 19);
    assert_int_equal(u.lost, 1);
    assert_int_equal(u.reordered, 1);
}

static void test_control_complete_at_once(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 100, 109); /* a netgrind client numbers across periods too */
    struct udping_rx_result r = ctl(f, GA, 10);
    assert_true(r.complete);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_CONTROL);
    assert_int_equal(u.expected, 10);
    assert_int_equal(u.lost, 0);
}

static void test_control_before_last_packet(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 0, 8);
    struct udping_rx_result r = ctl(f, GA, 10);
    assert_false(r.complete);
    r = feed_full(f, 22011, GA, 9, false, OLD_START, 100000);
    assert_true(r.complete);
}

static void test_control_then_late_packets(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 0, 9);
    assert_true(ctl(f, GA, 10).complete);
    close_guid(f, GA, UDPING_TRIGGER_CONTROL);
    struct udping_rx_result r = feed_full(f, 22011, GA, 9, false, OLD_START, 100000);
    assert_int_equal(r.outcome, UDPING_RX_LATE);
    r = ctl(f, GA, 10);
    assert_int_equal(r.outcome, UDPING_RX_LATE);
    assert_int_equal(f->t.late, 2);
    assert_int_equal(f->t.nsessions, 0);
}

static void test_control_repeated_and_empty(void **state)
{
    struct fixture *f = *state;
    data_range(f, GA, 0, 4);
    ctl(f, GA, 9);
    struct udping_rx_result r = ctl(f, GA, 5);
    assert_int_equal(r.outcome, UDPING_RX_CONTROL_AGAIN);
    assert_false(r.complete); /* the first count stands */
    r = ctl(f, GB, 0);
    assert_int_equal(r.outcome, UDPING_RX_CONTROL_EMPTY);
    assert_null(find(f, GB));
}

static void test_control_for_all_lost_period(void **state)
{
    struct fixture *f = *state;
    struct udping_rx_result r = ctl(f, GA, 25);
    assert_int_equal(r.outcome, UDPING_RX_CONTROL);
    assert_true(r.created);
    assert_false(r.complete);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_GRACE);
    assert_int_equal(u.count, 0);
    assert_int_equal(u.expected, 25);
    assert_int_equal(u.lost, 25);
    assert_true(u.max_ms == 0 && u.sum_ms == 0 && u.p50_ms == 0);
}

static void test_netgrind_source_without_control_is_unknown(void **state)
{
    /* A source that has sent control packets is a netgrind client: a session that ends
     * without one reports expected 0 (the README's promise), not an inferred count. */
    struct fixture *f = *state;
    data_range(f, GA, 0, 9);
    assert_true(ctl(f, GA, 10).complete);
    close_guid(f, GA, UDPING_TRIGGER_CONTROL);
    data_range(f, GB, 10, 14);
    struct udping_summary u = close_guid(f, GB, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.exp_source, UDPING_EXP_NONE);
    assert_int_equal(u.expected, 0);
    assert_int_equal(u.lost, 0);
    assert_int_equal(u.count, 5);
}

/* ---- deadlines, limits, sources ----------------------------------------------------- */

static void test_keepalive_deadline_follows_last_packet(void **state)
{
    struct fixture *f = *state;
    struct udping_session *s = data(f, GA, 0);
    assert_true(udping_session_deadline(&f->t, s) == f->mono - MS + 5 * SEC);
    f->mono += 2 * SEC;
    data(f, GA, 1);
    assert_true(udping_session_deadline(&f->t, s) == f->mono - MS + 5 * SEC);
}

static void test_grace_is_capped_by_keepalive(void **state)
{
    (void)state;
    struct udping_table t;
    assert_int_equal(udping_table_init(&t, 1 * SEC, T0), 0);
    assert_true(t.grace_ns == 1 * SEC);
    udping_table_free(&t);
    assert_int_equal(udping_table_init(&t, 60 * SEC, T0), 0);
    assert_true(t.grace_ns == UDPING_GRACE_NS);
    udping_table_free(&t);
}

static void test_session_limit(void **state)
{
    struct fixture *f = *state;
    f->t.max_sessions = 2;
    assert_int_equal(feed_full(f, 22011, GA, 0, false, OLD_START, 1).outcome, UDPING_RX_COUNTED);
    assert_int_equal(feed_full(f, 22012, GA, 0, false, OLD_START, 1).outcome, UDPING_RX_COUNTED);
    assert_int_equal(feed_full(f, 22013, GA, 0, false, OLD_START, 1).outcome, UDPING_RX_REFUSED);
    assert_int_equal(feed_full(f, 22011, GA, 1, false, OLD_START, 1).outcome, UDPING_RX_COUNTED);
    assert_int_equal(f->t.refused, 1);
}

static void test_same_guid_other_port_is_another_session(void **state)
{
    struct fixture *f = *state;
    feed_full(f, 22011, GA, 0, false, OLD_START, 1);
    feed_full(f, 22012, GA, 0, false, OLD_START, 1);
    assert_int_equal(f->t.nsessions, 2);
    assert_int_equal(f->t.nsources, 2);
}

static void test_sources_evicted_when_idle(void **state)
{
    struct fixture *f = *state;
    f->t.max_sources = 3;
    for (uint16_t p = 1; p <= 3; p++) {
        feed_full(f, (uint16_t)(30000 + p), GA, 0, false, OLD_START, 1);
        close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    }
    feed_full(f, 30001, GB, 0, false, OLD_START, 1); /* 30001 active again: newest */
    struct udping_rx_result r = feed_full(f, 30009, GA, 0, false, OLD_START, 1);
    assert_int_equal(r.outcome, UDPING_RX_COUNTED);
    assert_true(r.src_created);
    assert_int_equal(f->t.nsources, 3);
    /* 30002 (the oldest idle) went: its closed GUID is forgotten */
    r = feed_full(f, 30002, GA, 0, false, OLD_START, 1);
    assert_true(r.src_created);
}

static void test_many_sessions_rehash(void **state)
{
    struct fixture *f = *state;
    char guid[UDPING_GUID_LEN + 1];
    for (unsigned i = 0; i < 3000; i++) {
        snprintf(guid, sizeof guid, "%020u", i);
        feed_full(f, (uint16_t)(20000 + i % 300), guid, i, false, OLD_START, 1);
    }
    assert_int_equal(f->t.nsessions, 3000);
    snprintf(guid, sizeof guid, "%020u", 1234u);
    struct udping_rx_result r = feed_full(f, 20000 + 1234 % 300, guid, 1235, false, OLD_START, 1);
    assert_false(r.created);
    assert_int_equal(r.s->count, 2);
    while (f->t.head) {
        struct udping_summary u;
        udping_table_close(&f->t, f->t.head, UDPING_TRIGGER_EXIT, &u);
    }
    assert_int_equal(f->t.nsessions, 0);
    assert_true(f->t.seq_budget == UDPING_SEQ_BUDGET);
}

/* ---- latency ------------------------------------------------------------------------ */

static void test_latency_formula(void **state)
{
    (void)state;
    int64_t ns;
    double ms = udping_latency_ms(1700000001LL * SEC + 500, 1700000000, 999999000, &ns);
    assert_true(ns == 1500);
    assert_true(ms == 0.0015);
    ms = udping_latency_ms(1700000000LL * SEC, 1700000010, 0, &ns);
    assert_true(ns == -10 * SEC);
    assert_true(ms == -10000.0);
    /* absurd fields from the wire: no overflow, saturated ns */
    ms = udping_latency_ms(1700000000LL * SEC, INT64_MIN, INT64_MIN, &ns);
    assert_true(ns == INT64_MAX);
    assert_true(ms > 1e20);
    ms = udping_latency_ms(0, INT64_MAX, INT64_MAX, &ns);
    assert_true(ns == INT64_MIN);
    assert_true(ms < -1e20);
}

static void test_latency_figures_and_percentiles(void **state)
{
    struct fixture *f = *state;
    /* 1..100 ms */
    for (uint32_t s = 0; s < 100; s++)
        feed_full(f, 22011, GA, s, false, OLD_START, (int64_t)(s + 1) * MS);
    struct udping_session *s = find(f, GA);
    double p50 = udping_session_percentile(s, 50);
    assert_true(p50 > 49.5 && p50 < 50.5);
    double p99 = udping_session_percentile(s, 99);
    assert_true(p99 > 98.2 && p99 < 99.8);
    assert_true(udping_session_percentile(s, 100) == 100.0);
    assert_true(udping_session_percentile(s, 0) == 1.0);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_true(u.sum_ms == 5050.0);
    assert_true(u.sumsq_ms == 338350.0);
    assert_true(u.max_ms == 100.0);
    assert_true(u.min_ms == 1.0);
    assert_true(u.mean_ms == 50.5);
}

static void test_negative_latency_kept(void **state)
{
    struct fixture *f = *state;
    /* -30..-1 ms and 1..10 ms: a clock offset */
    for (uint32_t s = 0; s < 30; s++)
        feed_full(f, 22011, GA, s, false, OLD_START, -(int64_t)(s + 1) * MS);
    for (uint32_t s = 30; s < 40; s++)
        feed_full(f, 22011, GA, s, false, OLD_START, (int64_t)(s - 29) * MS);
    struct udping_session *s = find(f, GA);
    double p50 = udping_session_percentile(s, 50); /* the 20th smallest: -11 ms */
    assert_true(p50 < -10.9 && p50 > -11.1);
    assert_true(udping_session_percentile(s, 0) == -30.0);
    assert_true(udping_session_percentile(s, 100) == 10.0);
    double p90 = udping_session_percentile(s, 90); /* the 36th: 6 ms */
    assert_true(p90 > 5.9 && p90 < 6.1);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_int_equal(u.negative, 30);
    assert_true(u.max_ms == 10.0);
    assert_true(u.min_ms == -30.0);
    assert_true(u.sum_ms == -465.0 + 55.0);
}

static void test_all_negative_max_is_negative(void **state)
{
    struct fixture *f = *state;
    feed_full(f, 22011, GA, 0, false, OLD_START, -10 * SEC);
    feed_full(f, 22011, GA, 1, false, OLD_START, -9 * SEC);
    struct udping_summary u = close_guid(f, GA, UDPING_TRIGGER_KEEPALIVE);
    assert_true(u.max_ms == -9000.0); /* not 0, not -DBL_MAX */
    assert_true(u.p99_9_ms == -9000.0);
}

/* ---- the sequence-number set on its own --------------------------------------------- */

static void test_seqs_window_grows_and_slides(void **state)
{
    (void)state;
    struct udping_seqs q = {0};
    size_t budget = UDPING_SEQ_BUDGET;
    for (uint32_t s = 0; s < 5000; s++)
        assert_int_equal(udping_seqs_add(&q, s, &budget), UDPING_SEQ_NEW);
    assert_true(q.nbits >= 5000);
    assert_int_equal(udping_seqs_add(&q, 17, &budget), UDPING_SEQ_DUPLICATE);
    assert_int_equal(udping_seqs_span(&q), 5000);
    /* a jump far beyond the largest window: older numbers are no longer checkable */
    uint32_t far = 5000 + 3 * UDPING_SEQ_BITS_MAX;
    assert_int_equal(udping_seqs_add(&q, far, &budget), UDPING_SEQ_NEW);
    assert_int_equal(q.nbits, UDPING_SEQ_BITS_MAX);
    assert_int_equal(udping_seqs_add(&q, 4999, &budget), UDPING_SEQ_UNCHECKED);
    assert_int_equal(udping_seqs_add(&q, far - 5, &budget), UDPING_SEQ_REORDERED);
    assert_int_equal(udping_seqs_add(&q, far - 5, &budget), UDPING_SEQ_DUPLICATE);
    assert_int_equal(udping_seqs_add(&q, far, &budget), UDPING_SEQ_DUPLICATE);
    assert_int_equal(udping_seqs_min(&q), 0);
    udping_seqs_free(&q, &budget);
    assert_true(budget == UDPING_SEQ_BUDGET);
}

static void test_seqs_budget_limits_growth(void **state)
{
    (void)state;
    struct udping_seqs q = {0};
    size_t budget = UDPING_SEQ_BITS_MIN / 8; /* room for the first bitmap only */
    for (uint32_t s = 0; s < 2000; s++)
        udping_seqs_add(&q, s, &budget);
    assert_int_equal(q.nbits, UDPING_SEQ_BITS_MIN);
    assert_int_equal(budget, 0);
    /* inside the window: checked; below it: unchecked */
    assert_int_equal(udping_seqs_add(&q, 1990, &budget), UDPING_SEQ_DUPLICATE);
    assert_int_equal(udping_seqs_add(&q, 10, &budget), UDPING_SEQ_UNCHECKED);
    udping_seqs_free(&q, &budget);
    assert_int_equal(budget, UDPING_SEQ_BITS_MIN / 8);
}

/* Random walks near a moving front against an exact set, across the wrap at 2^32, with
 * the window free to grow (budget) or held at its first size so that it slides. */
static void model_check(size_t budget)
{
    struct udping_seqs q = {0};
    size_t start_budget = budget;
    static uint8_t seen[1 << 16];
    memset(seen, 0, sizeof seen);
    uint32_t base = 0xFFFFF800u;
    uint32_t front = 0, lo = UINT32_MAX;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 60000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t off = front + (uint32_t)(x % 64);
        off = off > 32 ? off - 32 : 0;
        if (off >= (1u << 16))
            break;
        if (off > front)
            front = off;
        enum udping_seq_class c = udping_seqs_add(&q, base + off, &budget);
        if (seen[off]) {
            assert_int_equal(c, UDPING_SEQ_DUPLICATE);
        } else {
            assert_true(c != UDPING_SEQ_DUPLICATE);
            seen[off] = 1;
        }
        if (off < lo)
            lo = off;
        if (i % 8 == 0)
            front++;
    }
    assert_true(front > 4 * UDPING_SEQ_BITS_MIN); /* the window had to slide */
    assert_int_equal(udping_seqs_min(&q), base + lo);
    udping_seqs_free(&q, &budget);
    assert_true(budget == start_budget);
}

static void test_seqs_model_check(void **state)
{
    (void)state;
    model_check(UDPING_SEQ_BUDGET);
    model_check(UDPING_SEQ_BITS_MIN / 8);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_in_order),
        T(test_mid_burst_of_13),
        T(test_mid_burst_of_1000_and_single),
        T(test_duplicates_not_counted),
        T(test_reordering),
        T(test_wrap_around),
        T(test_wrap_reordered_below_zero),
        T(test_tail_loss_charged_via_successor),
        T(test_leading_loss_of_next_period_goes_to_earlier),
        T(test_gap_after_emitted_period_goes_to_next),
        T(test_successor_is_the_nearest_open_session),
        T(test_successor_across_wrap),
        T(test_other_run_is_not_a_successor),
        T(test_first_period_counts_from_zero),
        T(test_client_older_than_server_not_from_zero),
        T(test_second_period_not_from_zero),
        T(test_control_gives_expected),
        T(test_control_complete_at_once),
        T(test_control_before_last_packet),
        T(test_control_then_late_packets),
        T(test_control_repeated_and_empty),
        T(test_control_for_all_lost_period),
        T(test_netgrind_source_without_control_is_unknown),
        T(test_keepalive_deadline_follows_last_packet),
        cmocka_unit_test(test_grace_is_capped_by_keepalive),
        T(test_session_limit),
        T(test_same_guid_other_port_is_another_session),
        T(test_sources_evicted_when_idle),
        T(test_many_sessions_rehash),
        cmocka_unit_test(test_latency_formula),
        T(test_latency_figures_and_percentiles),
        T(test_negative_latency_kept),
        T(test_all_negative_max_is_negative),
        cmocka_unit_test(test_seqs_window_grows_and_slides),
        cmocka_unit_test(test_seqs_budget_limits_growth),
        cmocka_unit_test(test_seqs_model_check),
    };
#undef T
    return cmocka_run_group_tests_name("udping_session", tests, NULL, NULL);
}
