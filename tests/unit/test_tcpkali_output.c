/* tcpkali's output: the final summary byte for byte against the spec's real outputs
 * (tcpkali.md §3.3 (a)-(d)) given the same figures, the human-readable sizes, the pieces of
 * the live status line (§3.2: ribbon, traffic line, clocks, latency part), the smoothed
 * rates, the StatsD lines and datagrams (§6), the difference histograms of
 * --statsd-latency-window, the -r @Latency search on simulated time (§5.4) and the JSON
 * shapes. */

#include <errno.h>
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
#include "core/json.h"
#include "core/statsd.h"
#include "core/util.h"
#include "tcpkali/json_out.h"
#include "tcpkali/output.h"
#include "tcpkali/ratesearch.h"
#include "tcpkali/statsd_out.h"

#define CAP 8192

static void capture_summary(const struct tk_summary *s, char *buf)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    tk_print_summary(f, s);
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, CAP - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void set_pcts(struct tk_config *c, const char *list)
{
    char err[200];
    memset(c, 0, sizeof *c);
    assert_int_equal(tk_parse_percentiles(c, list, err, sizeof err), 0);
}

/* ---- summary ---------------------------------------------------------------------------- */

static void test_human_size(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(tk_human_size(0, b, sizeof b), "0 bytes");
    assert_string_equal(tk_human_size(387, b, sizeof b), "387 bytes");
    assert_string_equal(tk_human_size(2047, b, sizeof b), "2047 bytes");
    assert_string_equal(tk_human_size(2048, b, sizeof b), "2.0 KiB");
    assert_string_equal(tk_human_size(15135, b, sizeof b), "14.8 KiB");
    assert_string_equal(tk_human_size(21189, b, sizeof b), "20.7 KiB");
    assert_string_equal(tk_human_size(512 * 1024 - 1, b, sizeof b), "512.0 KiB");
    assert_string_equal(tk_human_size(512 * 1024, b, sizeof b), "0.5 MiB");
    assert_string_equal(tk_human_size(3444388530ULL, b, sizeof b), "3284.8 MiB");
    assert_string_equal(tk_human_size(4870915544ULL, b, sizeof b), "4645.3 MiB");
}

/* (a): client `tcpkali -c 10 -m hello -T 3 127.0.0.1:21001` and its sink. */
static void test_summary_a(void **state)
{
    (void)state;
    char out[CAP];
    struct tk_summary s = {
        .bytes_sent = 3444388530ULL,
        .writes = 52558,
        .duration_s = 3.0044272593,
        .channels = 10,
    };
    capture_summary(&s, out);
    assert_string_equal(out, "Total data sent:     3284.8 MiB (3444388530 bytes)\n"
                             "Total data received: 0 bytes (0 bytes)\n"
                             "Bandwidth per channel: 917.150⇅ Mbps (114643.8 kBps)\n"
                             "Aggregate bandwidth: 0.000↓, 9171.501↑ Mbps\n"
                             "Packet rate estimate: 0.0↓, 787208.3↑ (0↓, 45↑ TCP MSS/op)\n"
                             "Test duration: 3.00443 s.\n");
    /* The sink, with the original's divisor: 1 when no connection is left (bug 26). */
    struct tk_summary sink = {
        .bytes_rcvd = 3578276535ULL,
        .reads = 219061,
        .duration_s = 6.0054917903,
        .channels = 0,
    };
    capture_summary(&sink, out);
    assert_string_equal(out, "Total data sent:     0 bytes (0 bytes)\n"
                             "Total data received: 3412.5 MiB (3578276535 bytes)\n"
                             "Bandwidth per channel: 4766.672⇅ Mbps (595834.1 kBps)\n"
                             "Aggregate bandwidth: 4766.672↓, 0.000↑ Mbps\n"
                             "Packet rate estimate: 437721.4↓, 0.0↑ (12↓, 0↑ TCP MSS/op)\n"
                             "Test duration: 6.00549 s.\n");
    /* netgrind divides by the connections that carried the traffic (10 at most). */
    sink.channels = 10;
    capture_summary(&sink, out);
    assert_non_null(strstr(out, "Bandwidth per channel: 476.667⇅ Mbps (59583.4 kBps)\n"));
}

/* (b): `-c 10 -m hello -r 100 -T 3`. */
static void test_summary_b(void **state)
{
    (void)state;
    char out[CAP];
    struct tk_summary s = {
        .bytes_sent = 15135,
        .writes = 3027,
        .duration_s = 3.00801,
        .channels = 10,
    };
    capture_summary(&s, out);
    assert_string_equal(out, "Total data sent:     14.8 KiB (15135 bytes)\n"
                             "Total data received: 0 bytes (0 bytes)\n"
                             "Bandwidth per channel: 0.004⇅ Mbps (0.5 kBps)\n"
                             "Aggregate bandwidth: 0.000↓, 0.040↑ Mbps\n"
                             "Packet rate estimate: 0.0↓, 1006.3↑ (0↓, 1↑ TCP MSS/op)\n"
                             "Test duration: 3.00801 s.\n");
}

static void record_ms(struct hist *h, double ms, unsigned n)
{
    hist_record_n(h, (uint64_t)(ms * 1e6), n);
}

/* (c): --latency-marker against an echo server. */
static void test_summary_c(void **state)
{
    (void)state;
    struct tk_config c;
    set_pcts(&c, "95,99,99.5");
    struct hist h;
    hist_init(&h, HIST_SUB_BITS_DEFAULT);
    record_ms(&h, 0.4, 950);
    record_ms(&h, 0.5, 40);
    record_ms(&h, 0.8, 10);
    char out[CAP];
    struct tk_summary s = {
        .bytes_sent = 21189,
        .bytes_rcvd = 21189,
        .writes = 3027,
        .reads = 3027,
        .duration_s = 3.00145,
        .channels = 10,
        .lat_message = &h,
        .pcts = c.percentiles,
        .npcts = c.npercentiles,
    };
    capture_summary(&s, out);
    assert_string_equal(out, "Total data sent:     20.7 KiB (21189 bytes)\n"
                             "Total data received: 20.7 KiB (21189 bytes)\n"
                             "Bandwidth per channel: 0.011⇅ Mbps (1.4 kBps)\n"
                             "Aggregate bandwidth: 0.056↓, 0.056↑ Mbps\n"
                             "Packet rate estimate: 1008.5↓, 1008.5↑ (1↓, 1↑ TCP MSS/op)\n"
                             "Message latency at percentiles: 0.4/0.5/0.8 ms (95/99/99.5%)\n"
                             "Test duration: 3.00145 s.\n");
    /* With -r, latency is from intended send times: one more line says so. */
    s.intended_time = true;
    capture_summary(&s, out);
    assert_non_null(strstr(out, "Message latency at percentiles: 0.4/0.5/0.8 ms (95/99/99.5%)\n"
                                "Message latency is measured from each message's intended send "
                                "time (-r), free of coordinated omission.\n"
                                "Test duration: 3.00145 s.\n"));
    hist_free(&h);
}

/* (d): three latency kinds with --latency-percentiles 50,90,99.9,100. */
static void test_summary_d(void **state)
{
    (void)state;
    struct tk_config c;
    set_pcts(&c, "50,90,99.9,100");
    struct hist hc, hf, hm;
    hist_init(&hc, HIST_SUB_BITS_DEFAULT);
    hist_init(&hf, HIST_SUB_BITS_DEFAULT);
    hist_init(&hm, HIST_SUB_BITS_DEFAULT);
    record_ms(&hc, 0.3, 5);
    record_ms(&hc, 0.7, 5);
    record_ms(&hf, 11.1, 5);
    record_ms(&hf, 11.8, 4);
    record_ms(&hf, 13.1, 1);
    record_ms(&hm, 0.1, 800);
    record_ms(&hm, 0.3, 198);
    record_ms(&hm, 3.8, 2);
    char out[CAP];
    struct tk_summary s = {
        .duration_s = 2.00826,
        .channels = 10,
        .lat_connect = &hc,
        .lat_first_byte = &hf,
        .lat_message = &hm,
        .pcts = c.percentiles,
        .npcts = c.npercentiles,
    };
    capture_summary(&s, out);
    const char *tail = "TCP connect latency at percentiles: 0.3/0.7/0.7/0.7 ms (50/90/99.9/100%)\n"
                       "First byte latency at percentiles: 11.1/11.8/13.1/13.1 ms "
                       "(50/90/99.9/100%)\n"
                       "Message latency at percentiles: 0.1/0.3/3.8/3.8 ms (50/90/99.9/100%)\n"
                       "Test duration: 2.00826 s.\n";
    assert_non_null(strstr(out, tail));
    assert_string_equal(out + strlen(out) - strlen(tail), tail);
    hist_free(&hc);
    hist_free(&hf);
    hist_free(&hm);
}

static void test_summary_extras(void **state)
{
    (void)state;
    struct tk_config c;
    set_pcts(&c, "50.0,99");
    struct hist empty, hm;
    hist_init(&empty, HIST_SUB_BITS_DEFAULT);
    hist_init(&hm, HIST_SUB_BITS_DEFAULT);
    record_ms(&hm, 2.0, 10);
    char out[CAP];
    /* Message-marker mode: the message rate line; an enabled kind without samples prints 0.0;
     * labels as typed; failures counted; a zero duration divides nothing. */
    struct tk_summary s = {
        .bytes_sent = 1000, .bytes_rcvd = 500, .writes = 10, .reads = 5,
        .msgs_sent = 400, .msgs_rcvd = 200, .duration_s = 2,
        .channels = 4, .message_rate = true,
        .lat_connect = &empty, .lat_message = &hm,
        .pcts = c.percentiles, .npcts = c.npercentiles,
        .connect_refused = 3, .connect_timeouts = 2, .connect_other = 1,
    };
    capture_summary(&s, out);
    assert_string_equal(out, "Total data sent:     1000 bytes (1000 bytes)\n"
                             "Total data received: 500 bytes (500 bytes)\n"
                             "Bandwidth per channel: 0.002⇅ Mbps (0.2 kBps)\n"
                             "Aggregate bandwidth: 0.002↓, 0.004↑ Mbps\n"
                             "Aggregate message rate: 100.000↓, 200.000↑ mps\n"
                             "Packet rate estimate: 2.5↓, 5.0↑ (1↓, 1↑ TCP MSS/op)\n"
                             "TCP connect latency at percentiles: 0.0/0.0 ms (50.0/99%)\n"
                             "Message latency at percentiles: 2.0/2.0 ms (50.0/99%)\n"
                             "Connection failures: 6 (3 refused, 2 timed out, 1 other)\n"
                             "Test duration: 2 s.\n");
    /* Closed loop: transactions instead of the message latency line. */
    struct tk_summary cl = {
        .duration_s = 4, .closed_loop = true, .transactions = 1000,
        .lat_message = &hm, .pcts = c.percentiles, .npcts = c.npercentiles,
    };
    capture_summary(&cl, out);
    assert_non_null(strstr(out, "Transaction rate: 250.000 tps (1000 transactions)\n"
                                "Transaction latency at percentiles: 2.0/2.0 ms (50.0/99%)\n"
                                "Test duration: 4 s.\n"));
    assert_null(strstr(out, "Message latency"));
    struct tk_summary zero = {.bytes_sent = 5};
    capture_summary(&zero, out);
    assert_non_null(strstr(out, "Aggregate bandwidth: 0.000↓, 0.000↑ Mbps\n"));
    assert_non_null(strstr(out, "Test duration: 0 s.\n"));
    hist_free(&empty);
    hist_free(&hm);
}

/* Failed handshakes: one line per kind, only nonzero causes, before "Test duration"; none
 * at all when nothing failed (the default output stays the original's). */
static void test_summary_handshake_failures(void **state)
{
    (void)state;
    char out[CAP];
    struct tk_summary s = {.bytes_sent = 10, .writes = 1, .duration_s = 1};
    capture_summary(&s, out);
    assert_null(strstr(out, "failures"));
    s.hs_failures[TK_HSF_WS_STATUS] = 2;
    s.hs_failures[TK_HSF_WS_EOF] = 1;
    capture_summary(&s, out);
    assert_non_null(strstr(out, "Packet rate estimate: 0.0↓, 1.0↑ (0↓, 1↑ TCP MSS/op)\n"
                                "WebSocket upgrade failures: 3 (ws_status: 2, ws_eof: 1)\n"
                                "Test duration: 1 s.\n"));
    assert_null(strstr(out, "TLS"));
    s.hs_failures[TK_HSF_TLS_PROTOCOL] = 4;
    s.hs_failures[TK_HSF_WS_ACCEPT] = 5;
    s.hs_failures[TK_HSF_WS_MALFORMED] = 6;
    s.hs_failures[TK_HSF_WS_REQUEST] = 7;
    s.hs_failures[TK_HSF_TLS_EOF] = 8;
    s.connect_refused = 1;
    capture_summary(&s, out);
    assert_non_null(strstr(out, "Connection failures: 1 (1 refused, 0 timed out, 0 other)\n"
                                "WebSocket upgrade failures: 21 (ws_status: 2, ws_accept: 5, "
                                "ws_malformed: 6, ws_request: 7, ws_eof: 1)\n"
                                "TLS handshake failures: 12 (tls_protocol: 4, tls_eof: 8)\n"
                                "Test duration: 1 s.\n"));
    /* The same lines alone (after "Could not create N connections"). */
    uint64_t only_tls[TK_HSF_COUNT] = {0};
    only_tls[TK_HSF_TLS_EOF] = 1;
    FILE *f = tmpfile();
    tk_print_hs_failures(f, only_tls);
    fflush(f);
    rewind(f);
    size_t n = fread(out, 1, CAP - 1, f);
    out[n] = '\0';
    fclose(f);
    assert_string_equal(out, "TLS handshake failures: 1 (tls_eof: 1)\n");
}

/* ---- status line -------------------------------------------------------------------------- */

static void test_ribbon(void **state)
{
    (void)state;
    char b[256];
    /* The spec's captures on an 80-column terminal: a 48-character bar. */
    assert_string_equal(tk_status_ribbon(b, sizeof b, 80, 0, 10, 0),
                        "|>----------------------------------------------| 0 of 10 (0)");
    assert_string_equal(tk_status_ribbon(b, sizeof b, 80, 6007, 20000, 6009),
                        "|=============>---------------------------------| 6007 of 20000 (6009)");
    /* Full: the arrow at the end; wide terminals cap the bar at 50. */
    tk_status_ribbon(b, sizeof b, 200, 10, 10, 12);
    assert_string_equal(b, "|================================================>| 10 of 10 (12)");
    /* Too narrow: the plain figures. */
    assert_string_equal(tk_status_ribbon(b, sizeof b, 12, 5, 10, 7), "5 of 10 (7)");
}

static void test_traffic_line(void **state)
{
    (void)state;
    char b[512];
    struct tk_status st = {
        .clock = true, .elapsed_frac = 1.0 / 12 + 0.01,
        .mbps_in = 0, .mbps_out = 18201.0434,
        .conns_out = 10, .conns_seen = 10,
    };
    assert_string_equal(tk_status_traffic(b, sizeof b, &st),
                        "🕐  Traffic 0.000↓, 18201.043↑ Mbps (conns 0↓ 10↑ 0⇡; seen 10)");
    struct tk_status lat = {
        .clock = true, .elapsed_frac = 0,
        .mbps_in = 0.04, .mbps_out = 0.04, .conns_out = 10, .conns_seen = 10,
        .latency_on = true, .lat_connect = true, .lat_first_byte = true, .lat_message = true,
        .p95_connect_ms = 0.7, .p95_first_byte_ms = 13.1, .p95_message_ms = 2.1,
    };
    assert_string_equal(tk_status_traffic(b, sizeof b, &lat),
                        "🕛  Traffic 0.040↓, 0.040↑ Mbps (0↓ 10↑ 0⇡; 10) (c=0.7 fb=13.1 m=2.1 "
                        "ms⁹⁵ᵖ)");
    struct tk_status mps = {
        .clock = true, .elapsed_frac = 8.5 / 12, .mbps_out = 0.044,
        .conns_out = 4, .conns_seen = 4, .latency_on = true, .mps = true,
        .mps_in = 0, .mps_out = 177.4, .lat_message = true, .p95_message_ms = NAN,
    };
    assert_string_equal(tk_status_traffic(b, sizeof b, &mps),
                        "🕗  Traffic 0.000↓, 0.044↑ Mbps (0↓ 4↑ 0⇡; 4) (0↓ 177↑ mps) (m=? "
                        "ms⁹⁵ᵖ)");
    struct tk_status sink = {
        .clock = true, .elapsed_frac = 7.2 / 12, .mbps_in = 0.021, .conns_in = 4,
        .conns_seen = 5, .latency_on = true, .mps = true, .mps_in = 83,
        .lat_message = true, .p95_message_ms = 0.1,
    };
    assert_string_equal(tk_status_traffic(b, sizeof b, &sink),
                        "🕖  Traffic 0.021↓, 0.000↑ Mbps (4↓ 0↑ 0⇡; 5) (83↓ 0↑ mps) (m=0.1 "
                        "ms⁹⁵ᵖ)");
    /* No clock without UTF-8; the end of -T shows eleven o'clock; no -T: seconds mod 12. */
    st.clock = false;
    assert_true(strncmp(tk_status_traffic(b, sizeof b, &st), "Traffic ", 8) == 0);
    st.clock = true;
    st.elapsed_frac = 1.0;
    assert_true(strncmp(tk_status_traffic(b, sizeof b, &st), "🕚  ", 6) == 0);
    st.elapsed_frac = -1;
    st.elapsed_s = 14.5;
    assert_true(strncmp(tk_status_traffic(b, sizeof b, &st), "🕑  ", 6) == 0);
    assert_true(tk_lang_is_utf8("en_US.UTF-8"));
    assert_true(tk_lang_is_utf8("C.utf8"));
    assert_false(tk_lang_is_utf8("C"));
    assert_false(tk_lang_is_utf8(NULL));
}

static void test_ema(void **state)
{
    (void)state;
    struct tk_ema e;
    tk_ema_init(&e);
    assert_true(tk_ema_rate(&e) == 0);
    /* A constant 5000 B/s reads 5000 from the first sample (no creeping, bug 28). */
    for (int i = 0; i < 20; i++) {
        tk_ema_add(&e, 1250, 0.25);
        assert_true(fabs(tk_ema_rate(&e) - 5000) < 1e-6);
    }
    /* A step to 10000 B/s moves towards it with a 3 s time constant: after 3 s, with the
     * start correction of the 5 s before, 8397 B/s. */
    for (int i = 0; i < 12; i++)
        tk_ema_add(&e, 2500, 0.25);
    double r = tk_ema_rate(&e);
    assert_true(r > 8300 && r < 8500);
    /* 3 s without data: 0. */
    for (int i = 0; i < 11; i++)
        tk_ema_add(&e, 0, 0.25);
    assert_true(tk_ema_rate(&e) > 0);
    tk_ema_add(&e, 0, 0.25);
    assert_true(tk_ema_rate(&e) == 0);
    tk_ema_add(&e, 0, 0); /* no time: ignored */
}

/* ---- StatsD ------------------------------------------------------------------------------- */

struct captured {
    char data[16][600];
    size_t len[16];
    int n;
};

static int capture_send(const char *data, size_t len, void *arg)
{
    struct captured *c = arg;
    assert_true(c->n < 16);
    assert_true(len <= 512);
    memcpy(c->data[c->n], data, len);
    c->data[c->n][len] = '\0';
    c->len[c->n++] = len;
    return 0;
}

static void test_statsd_lines(void **state)
{
    (void)state;
    struct captured cap = {0};
    struct statsd_batch b;
    assert_int_equal(statsd_batch_init(&b, STATSD_DATAGRAM_TCPKALI, capture_send, &cap), 0);
    struct tk_statsd_figures zero = {0};
    assert_int_equal(tk_statsd_add_traffic(&b, "tcpkali", &zero), 0);
    statsd_batch_flush(&b);
    assert_int_equal(cap.n, 1);
    assert_string_equal(cap.data[0], "tcpkali.connections.opened:0|c\n"
                                     "tcpkali.connections.total:0|g\n"
                                     "tcpkali.connections.total.in:0|g\n"
                                     "tcpkali.connections.total.out:0|g\n"
                                     "tcpkali.traffic.bitrate:0|g\n"
                                     "tcpkali.traffic.bitrate.in:0|g\n"
                                     "tcpkali.traffic.bitrate.out:0|g\n"
                                     "tcpkali.traffic.data:0|c\n"
                                     "tcpkali.traffic.data.rcvd:0|c\n"
                                     "tcpkali.traffic.data.sent:0|c\n"
                                     "tcpkali.traffic.data.reads:0|c\n"
                                     "tcpkali.traffic.data.writes:0|c\n"
                                     "tcpkali.traffic.msgs.rcvd:0|c\n"
                                     "tcpkali.traffic.msgs.sent:0|c\n");
    struct tk_statsd_figures f = {
        .opened = 3, .conns_in = 2, .conns_out = 5, .bitrate_in = 1000.7, .bitrate_out = 64,
        .bytes_rcvd = 100, .bytes_sent = 23, .reads = 4, .writes = 6, .msgs_rcvd = 7,
        .msgs_sent = 8,
    };
    struct tk_config c;
    set_pcts(&c, "95,99.5");
    struct hist h;
    hist_init(&h, HIST_SUB_BITS_DEFAULT);
    record_ms(&h, 1.0, 90);
    record_ms(&h, 12.0, 10);
    assert_int_equal(tk_statsd_add_traffic(&b, "ns", &f), 0);
    assert_int_equal(tk_statsd_add_latency(&b, "ns", "message", &h, c.percentiles,
                                           c.npercentiles), 0);
    statsd_batch_flush(&b);
    /* Several datagrams of at most 512 bytes, lines never split. */
    char all[4096] = "";
    for (int i = 1; i < cap.n; i++) {
        assert_true(cap.len[i] <= 512);
        assert_int_equal(cap.data[i][cap.len[i] - 1], '\n');
        strcat(all, cap.data[i]);
    }
    assert_string_equal(all, "ns.connections.opened:3|c\n"
                             "ns.connections.total:7|g\n"
                             "ns.connections.total.in:2|g\n"
                             "ns.connections.total.out:5|g\n"
                             "ns.traffic.bitrate:1064|g\n"
                             "ns.traffic.bitrate.in:1000|g\n"
                             "ns.traffic.bitrate.out:64|g\n"
                             "ns.traffic.data:123|c\n"
                             "ns.traffic.data.rcvd:100|c\n"
                             "ns.traffic.data.sent:23|c\n"
                             "ns.traffic.data.reads:4|c\n"
                             "ns.traffic.data.writes:6|c\n"
                             "ns.traffic.msgs.rcvd:7|c\n"
                             "ns.traffic.msgs.sent:8|c\n"
                             "ns.latency.message.95:12.0|g\n"
                             "ns.latency.message.99.5:12.0|g\n"
                             "ns.latency.message.min:1.0|g\n"
                             "ns.latency.message.mean:2.1|g\n"
                             "ns.latency.message.max:12.0|g\n");
    /* With --ws or --ssl: connections.handshake_failures after the original's lines. */
    int first = cap.n;
    struct tk_statsd_figures hs = {.handshakes = true, .hs_failures = 9};
    assert_int_equal(tk_statsd_add_traffic(&b, "ns", &hs), 0);
    statsd_batch_flush(&b);
    assert_int_equal(cap.n, first + 1);
    assert_non_null(strstr(cap.data[first], "ns.traffic.msgs.sent:0|c\n"
                                            "ns.connections.handshake_failures:9|c\n"));
    /* A kind without samples sends nothing. */
    struct hist empty;
    hist_init(&empty, HIST_SUB_BITS_DEFAULT);
    int before = cap.n;
    tk_statsd_add_latency(&b, "ns", "connect", &empty, c.percentiles, c.npercentiles);
    statsd_batch_flush(&b);
    assert_int_equal(cap.n, before);
    hist_free(&h);
    hist_free(&empty);
}

static void test_hist_diff(void **state)
{
    (void)state;
    struct hist older, newer, d;
    hist_init(&older, HIST_SUB_BITS_DEFAULT);
    hist_init(&newer, HIST_SUB_BITS_DEFAULT);
    hist_init(&d, HIST_SUB_BITS_DEFAULT);
    record_ms(&older, 1.0, 100);
    hist_merge(&newer, &older);
    record_ms(&newer, 5.0, 50);
    record_ms(&newer, 1.0, 10);
    assert_int_equal(tk_hist_diff(&d, &newer, &older), 0);
    assert_true(hist_count(&d) == 60);
    assert_true(fabs((double)hist_percentile(&d, 50) / 1e6 - 5.0) < 0.02);
    assert_true(fabs((double)hist_min(&d) / 1e6 - 1.0) < 0.01);
    assert_true(fabs((double)hist_max(&d) / 1e6 - 5.0) < 0.02);
    /* Nothing new: empty. No older: a copy. */
    assert_int_equal(tk_hist_diff(&d, &older, &older), 0);
    assert_true(hist_count(&d) == 0);
    assert_int_equal(tk_hist_diff(&d, &newer, NULL), 0);
    assert_true(hist_count(&d) == 160);
    struct hist other;
    hist_init(&other, 3);
    assert_int_equal(tk_hist_diff(&other, &newer, &older), -EINVAL);
    hist_free(&older);
    hist_free(&newer);
    hist_free(&d);
    hist_free(&other);
}

/* ---- -r @Latency -------------------------------------------------------------------------- */

#define SEC 1000000000ULL

/* A simulated target: p95 = base + rate * slope ms. Runs the search for up to limit seconds,
 * applying each change; returns the last action. */
static enum tk_search_action simulate(struct tk_search *s, double base, double slope,
                                      unsigned limit, unsigned *changes)
{
    tk_search_init(s, 5.0, 0);
    *changes = 0;
    for (unsigned t = 1; t <= limit; t++) {
        double p95 = base + s->rate * slope;
        enum tk_search_action a = tk_search_tick(s, t * SEC, p95);
        if (a == TK_SEARCH_CHANGE)
            (*changes)++;
        if (a == TK_SEARCH_DONE)
            return a;
    }
    return TK_SEARCH_NONE;
}

static void test_rate_search(void **state)
{
    (void)state;
    struct tk_search s;
    tk_search_init(&s, 5, 0);
    assert_true(s.rate == 100 && s.mode == TK_SEARCH_RAMP && isinf(s.max));
    /* Nothing happens within the first 10 s when latency is fine. */
    for (unsigned t = 1; t < 10; t++)
        assert_int_equal(tk_search_tick(&s, t * SEC, 1.0), TK_SEARCH_NONE);
    /* At 10 s: p95 < 0.95x target: min = 100, rate x4. */
    assert_int_equal(tk_search_tick(&s, 10 * SEC, 1.0), TK_SEARCH_CHANGE);
    assert_true(s.rate == 400 && s.min == 100 && isinf(s.max));
    /* p95 between 0.95x and 1.5x: x4 without moving min. */
    assert_int_equal(tk_search_tick(&s, 20 * SEC, 6.0), TK_SEARCH_CHANGE);
    assert_true(s.rate == 1600 && s.min == 100);
    /* Above 1.5x: binary between min and the rate. */
    assert_int_equal(tk_search_tick(&s, 30 * SEC, 8.0), TK_SEARCH_CHANGE);
    assert_int_equal(s.mode, TK_SEARCH_BINARY);
    assert_true(s.max == 1600 && s.rate == 850);
    /* In binary: within [0.98, 1.01]x target is success. */
    assert_int_equal(tk_search_tick(&s, 40 * SEC, 5.02), TK_SEARCH_DONE);
    assert_int_equal(s.mode, TK_SEARCH_FOUND);
    assert_true(s.rate == 850);
    assert_int_equal(tk_search_tick(&s, 50 * SEC, 5.0), TK_SEARCH_NONE);

    /* The fast path: p95 above 2x target and rising for more than 3 s goes binary early. */
    tk_search_init(&s, 5, 0);
    double p = 11;
    enum tk_search_action a = TK_SEARCH_NONE;
    unsigned t;
    for (t = 1; t < 10 && a == TK_SEARCH_NONE; t++)
        a = tk_search_tick(&s, t * SEC, p += 1);
    assert_int_equal(a, TK_SEARCH_CHANGE);
    assert_int_equal(t - 1, 5); /* 11+1 first, then 4 rises: worsening 4 > 3 */
    assert_int_equal(s.mode, TK_SEARCH_BINARY);
    assert_true(s.max == 100 && s.rate == 50);
    /* A fall disables the fast path. */
    tk_search_init(&s, 5, 0);
    tk_search_tick(&s, 1 * SEC, 20);
    tk_search_tick(&s, 2 * SEC, 19);
    for (t = 3; t < 10; t++)
        assert_int_equal(tk_search_tick(&s, t * SEC, 20.0 + t), TK_SEARCH_NONE);

    /* A linear target converges on the rate where p95 = 5 ms: 0.5 + rate * 0.001. */
    unsigned changes = 0;
    assert_int_equal(simulate(&s, 0.5, 0.001, 100000, &changes), TK_SEARCH_DONE);
    assert_int_equal(s.mode, TK_SEARCH_FOUND);
    double p95 = 0.5 + s.rate * 0.001;
    assert_true(p95 >= 0.98 * 5 && p95 <= 1.01 * 5);
    assert_true(changes > 3);
    /* No samples at all: treated as too slow, and eventually unstable, never found. */
    tk_search_init(&s, 5, 0);
    a = TK_SEARCH_NONE;
    for (t = 1; t < 100000 && a != TK_SEARCH_DONE; t++)
        a = tk_search_tick(&s, t * SEC, NAN);
    assert_int_equal(a, TK_SEARCH_DONE);
    assert_int_equal(s.mode, TK_SEARCH_UNSTABLE);
    /* A target that answers in exactly the target at any rate above 200 keeps halving. */
    assert_int_equal(simulate(&s, 100, 0, 1000000, &changes), TK_SEARCH_DONE);
    assert_int_equal(s.mode, TK_SEARCH_UNSTABLE);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void test_json_summary(void **state)
{
    (void)state;
    struct tk_config c;
    set_pcts(&c, "95,99.5");
    struct hist h;
    hist_init(&h, HIST_SUB_BITS_DEFAULT);
    record_ms(&h, 2.0, 10);
    struct tk_summary s = {
        .bytes_sent = 1000, .bytes_rcvd = 2000, .writes = 10, .reads = 20, .duration_s = 2,
        .channels = 2, .lat_message = &h, .pcts = c.percentiles, .npcts = c.npercentiles,
    };
    struct tk_counters total = {
        .bytes_sent = 1000, .bytes_rcvd = 2000, .writes = 10, .reads = 20, .conns_out = 2,
        .connect_failures = 3, .connect_refused = 2, .connect_timeouts = 1,
    };
    FILE *f = tmpfile();
    struct json j;
    json_init(&j, f, false);
    json_object_begin(&j);
    tk_json_summary(&j, &s, &total, 2);
    json_object_end(&j);
    assert_int_equal(json_finish(&j), 0);
    char buf[CAP];
    rewind(f);
    size_t n = fread(buf, 1, CAP - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "\"duration_s\":2,"));
    assert_non_null(strstr(buf, "\"bytes_sent\":1000,\"bytes_rcvd\":2000,"));
    assert_non_null(strstr(buf, "\"bandwidth_per_channel_Mbps\":0.006,"));
    assert_non_null(strstr(buf, "\"bandwidth_in_Mbps\":0.008,"));
    assert_non_null(strstr(buf, "\"connect_failures\":{\"total\":3,\"refused\":2,\"timed_out\":1,"
                                "\"other\":0}"));
    assert_non_null(strstr(buf, "\"max_open\":2"));
    assert_non_null(strstr(buf, "\"message\":{\"count\":10,"));
    assert_non_null(strstr(buf, "\"p99_5_ms\":"));
    assert_null(strstr(buf, "\"connect\":{"));
    assert_non_null(strstr(buf, "\"send_lag_us\":null")); /* no -r */
    /* Transport figures: always there, every cause by name. */
    assert_non_null(strstr(buf, "\"transport\":{\"ws_frames_rcvd\":0,\"handshake_failures\":"
                                "{\"total\":0,\"ws_status\":0,\"ws_accept\":0,"
                                "\"ws_malformed\":0,\"ws_request\":0,\"ws_eof\":0,"
                                "\"tls_protocol\":0,\"tls_eof\":0}}"));
    total.ws_frames_rcvd = 12;
    total.hs_failures[TK_HSF_WS_ACCEPT] = 2;
    total.hs_failures[TK_HSF_TLS_EOF] = 1;
    f = tmpfile();
    json_init(&j, f, false);
    json_object_begin(&j);
    tk_json_summary(&j, &s, &total, 2);
    json_object_end(&j);
    assert_int_equal(json_finish(&j), 0);
    rewind(f);
    n = fread(buf, 1, CAP - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "\"transport\":{\"ws_frames_rcvd\":12,\"handshake_failures\":"
                                "{\"total\":3,\"ws_status\":0,\"ws_accept\":2,"));
    assert_non_null(strstr(buf, "\"tls_eof\":1}}"));
    hist_free(&h);
}

/* The summary's JSON text for s (no latency kinds). */
static void json_summary_text(const struct tk_summary *s, char *buf)
{
    struct tk_counters total = {0};
    FILE *f = tmpfile();
    struct json j;
    json_init(&j, f, false);
    json_object_begin(&j);
    tk_json_summary(&j, s, &total, 1);
    json_object_end(&j);
    assert_int_equal(json_finish(&j), 0);
    rewind(f);
    size_t n = fread(buf, 1, CAP - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void test_json_send_lag(void **state)
{
    (void)state;
    struct hist lag;
    hist_init(&lag, HIST_SUB_BITS_DEFAULT);
    for (int i = 0; i < 1000; i++)
        hist_record(&lag, 1000); /* 1 us */
    hist_record(&lag, 2500000);  /* 2.5 ms */
    struct tk_summary s = {.duration_s = 1, .send_lag = &lag};
    char buf[CAP];
    json_summary_text(&s, buf);
    assert_non_null(strstr(buf, "\"send_lag_us\":{\"count\":1001,"));
    /* Microseconds with three decimals; percentiles within the histogram's resolution. */
    assert_non_null(strstr(buf, "\"min_us\":1.000,\"max_us\":2500.000,"));
    assert_non_null(strstr(buf, "\"p50_us\":1.00"));
    assert_non_null(strstr(buf, "\"p90_us\":1.00"));
    assert_non_null(strstr(buf, "\"p99_us\":1.00"));
    assert_non_null(strstr(buf, "\"p99_9_us\":"));
    hist_free(&lag);
}

/* ---- per-connection message limiter --------------------------------------------------------- */

static void test_linelimit(void **state)
{
    (void)state;
    const uint64_t S = 1000000000ULL;
    struct tk_linelimit l = {0};
    uint64_t report = 99;
    /* The first five of a window print, the rest are counted. */
    for (int i = 0; i < TK_LINES_PER_WINDOW; i++) {
        assert_true(tk_linelimit_admit(&l, 10 * S + (uint64_t)i, &report));
        assert_int_equal(report, 0);
    }
    for (int i = 0; i < 95; i++)
        assert_false(tk_linelimit_admit(&l, 10 * S + S / 2, &report));
    assert_int_equal(report, 0);
    /* Within the window nothing is reported; once it is over, its count is, once. */
    assert_int_equal(tk_linelimit_flush(&l, 10 * S + S - 1, false), 0);
    assert_int_equal(tk_linelimit_flush(&l, 11 * S, false), 95);
    assert_int_equal(tk_linelimit_flush(&l, 11 * S, false), 0);
    /* A new window starts with the next line; a line after its end reports it first. */
    for (int i = 0; i < 7; i++)
        tk_linelimit_admit(&l, 20 * S, &report);
    assert_true(tk_linelimit_admit(&l, 21 * S, &report));
    assert_int_equal(report, 2);
    /* At the end, the current window's count goes out too. */
    for (int i = 0; i < 5; i++)
        tk_linelimit_admit(&l, 21 * S + 1, &report);
    assert_int_equal(tk_linelimit_flush(&l, 21 * S + 2, true), 1);
    assert_int_equal(tk_linelimit_flush(&l, 21 * S + 2, true), 0);
    char buf[96];
    assert_string_equal(tk_linelimit_text(buf, sizeof(buf), 95),
                        "(95 more connection messages in the last second)");
    assert_string_equal(tk_linelimit_text(buf, sizeof(buf), 1),
                        "(1 more connection message in the last second)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_human_size),
        cmocka_unit_test(test_summary_a),
        cmocka_unit_test(test_summary_b),
        cmocka_unit_test(test_summary_c),
        cmocka_unit_test(test_summary_d),
        cmocka_unit_test(test_summary_extras),
        cmocka_unit_test(test_summary_handshake_failures),
        cmocka_unit_test(test_ribbon),
        cmocka_unit_test(test_traffic_line),
        cmocka_unit_test(test_ema),
        cmocka_unit_test(test_statsd_lines),
        cmocka_unit_test(test_hist_diff),
        cmocka_unit_test(test_rate_search),
        cmocka_unit_test(test_json_summary),
        cmocka_unit_test(test_json_send_lag),
        cmocka_unit_test(test_linelimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
