/* flowgrindd's flow engine (daemon.h), driven in-process over 127.0.0.1 with source and
 * destination on one daemon: a bulk flow (bytes and blocks agree between the endpoints'
 * FINAL reports, status letters, sample counts), request/response (responses counted, RTT
 * samples), interval reports at the interval's spacing, stop_flow, settings faults, unknown
 * flow ids, stale reports dropped at a new run, a malformed block header ending the flow,
 * get_status, and 500 flows (1000 endpoints) at once. Every wait polls with a deadline. */

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/sock.h"
#include "core/util.h"
#include "flowgrind/block.h"
#include "flowgrind/daemon.h"
#include "flowgrind/rpc.h"

#define LETTERS(r, w) ((int32_t)(r)*256 + (int32_t)(w))

/* --- harness ---------------------------------------------------------------------------- */

struct logbuf {
    pthread_mutex_t lock;
    char text[1 << 16];
    size_t len;
};

static struct logbuf g_log = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void test_log(void *ctx, bool warning, const char *line)
{
    struct logbuf *l = ctx;
    (void)warning;
    pthread_mutex_lock(&l->lock);
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", line);
    if (n > 0 && l->len + (size_t)n < sizeof(l->text))
        l->len += (size_t)n;
    pthread_mutex_unlock(&l->lock);
}

static bool log_contains(const char *needle)
{
    pthread_mutex_lock(&g_log.lock);
    bool found = strstr(g_log.text, needle) != NULL;
    pthread_mutex_unlock(&g_log.lock);
    return found;
}

static struct fg_daemon *new_daemon_in(const char *dump_dir)
{
    char err[256] = "";
    struct fg_daemon_config cfg = {.log = test_log, .log_ctx = &g_log, .dump_dir = dump_dir};

    pthread_mutex_lock(&g_log.lock);
    g_log.len = 0;
    g_log.text[0] = '\0';
    pthread_mutex_unlock(&g_log.lock);
    struct fg_daemon *d = fg_daemon_new(&cfg, err, sizeof(err));
    assert_non_null(d);
    return d;
}

static struct fg_daemon *new_daemon(void)
{
    return new_daemon_in(NULL);
}

static void settings(struct fg_endpoint_settings *s, int32_t id)
{
    fg_rpc_settings_defaults(s);
    snprintf(s->bind_address, sizeof(s->bind_address), "127.0.0.1");
    s->flow_id = id;
    s->reporting_interval = 0;
    s->random_seed = 42;
}

/* Adds destination dst then source src (its target the destination's port). */
static void add_pair(struct fg_daemon *d, const struct fg_endpoint_settings *dst,
                     const struct fg_endpoint_settings *src)
{
    struct fg_add_destination_reply dr;
    struct fg_add_source_reply sr;
    struct fg_source_target t = {.destination_address = "127.0.0.1"};
    char msg[256] = "";

    assert_int_equal(fg_daemon_add_destination(d, dst, &dr, msg, sizeof(msg)), 0);
    assert_int_equal(dr.flow_id, dst->flow_id);
    assert_true(dr.listen_data_port > 0);
    assert_true(dr.real_listen_send_buffer_size > 0);
    t.destination_port = dr.listen_data_port;
    assert_int_equal(fg_daemon_add_source(d, src, &t, &sr, msg, sizeof(msg)), 0);
    assert_int_equal(sr.flow_id, src->flow_id);
    assert_true(sr.cc_alg[0] != '\0');
    assert_true(sr.real_send_buffer_size > 0);
}

struct reports {
    struct fg_report *v;
    size_t n, cap;
    size_t finals;
};

static void reports_take(struct fg_daemon *d, struct reports *rs)
{
    struct fg_report batch[FG_RPC_REPORTS_PER_CALL];
    bool more = true;

    while (more) {
        size_t n = fg_daemon_take_reports(d, batch, FG_RPC_REPORTS_PER_CALL, &more);
        for (size_t i = 0; i < n; i++) {
            if (rs->n == rs->cap) {
                rs->cap = rs->cap ? rs->cap * 2 : 64;
                rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
                assert_non_null(rs->v);
            }
            rs->v[rs->n++] = batch[i];
            if (batch[i].type == FG_REPORT_FINAL)
                rs->finals++;
        }
    }
}

/* Polls the daemon's queue until `finals` FINAL reports arrived or timeout_s passed. */
static void wait_finals(struct fg_daemon *d, struct reports *rs, size_t finals, double timeout_s)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)(timeout_s * 1e9);

    for (;;) {
        reports_take(d, rs);
        if (rs->finals >= finals || clock_mono_ns() > deadline)
            break;
        usleep(2000);
    }
    assert_int_equal(rs->finals, finals);
}

static const struct fg_report *find_report(const struct reports *rs, int32_t id, int ep, int type)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].id == id && rs->v[i].endpoint == ep && rs->v[i].type == type)
            return &rs->v[i];
    return NULL;
}

static size_t count_reports(const struct reports *rs, int32_t id, int ep, int type)
{
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        n += rs->v[i].id == id && rs->v[i].endpoint == ep && rs->v[i].type == type;
    return n;
}

static double ts_sec(const struct timespec *t)
{
    return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static void status_is(struct fg_daemon *d, int started, int num_flows)
{
    struct fg_status_reply st;
    fg_daemon_status(d, &st);
    assert_int_equal(st.started, started);
    assert_int_equal(st.num_flows, num_flows);
}

/* --- tests ------------------------------------------------------------------------------ */

/* A 0.3 s bulk flow. The destination reads longer than the source writes, so it reads to the
 * source's close: every byte written is read. */
static void test_bulk_flow(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};

    settings(&dst, 0);
    dst.read_duration = 1.0;
    dst.reporting_interval = 0.1;
    settings(&src, 0);
    src.write_duration = 0.3;
    src.reporting_interval = 0.1;
    add_pair(d, &dst, &src);
    status_is(d, 0, 2);
    fg_daemon_start_flows(d, 0);
    status_is(d, 1, 2);
    wait_finals(d, &rs, 2, 5);

    const struct fg_report *s = find_report(&rs, 0, FG_SOURCE, FG_REPORT_FINAL);
    const struct fg_report *r = find_report(&rs, 0, FG_DESTINATION, FG_REPORT_FINAL);
    assert_non_null(s);
    assert_non_null(r);
    assert_true(s->request_blocks_written > 10);
    assert_true(s->bytes_written >= 8192ull * s->request_blocks_written);
    assert_true(s->bytes_written == r->bytes_read);
    assert_int_equal(s->request_blocks_written, r->request_blocks_read);
    assert_int_equal(s->bytes_read, 0);
    assert_int_equal(r->bytes_written, 0);
    /* Sample counts: one delay per block, one IAT per block after the first. */
    assert_int_equal(r->delay_samples, (int64_t)r->request_blocks_read);
    assert_int_equal(r->iat_samples, (int64_t)r->request_blocks_read - 1);
    assert_true(r->delay_min > 0 && r->delay_min <= r->delay_max);
    assert_true(r->rtt_min == FG_RPC_NO_MIN && r->rtt_max == FG_RPC_NO_MAX);
    assert_int_equal(s->rtt_samples, 0);
    /* Source: read zero duration, write completed; the destination ended by EOF. */
    assert_int_equal(s->status, LETTERS('o', 'c'));
    assert_int_equal(r->status, LETTERS('n', 'o'));
    double dur = ts_sec(&s->end) - ts_sec(&s->begin);
    assert_true(dur >= 0.29 && dur < 0.6);
    assert_true(s->tcpi.snd_mss > 0 && s->tcpi.rto > 0);
    assert_true(s->pmtu > 0 && s->imtu > 0);
    assert_true(count_reports(&rs, 0, FG_SOURCE, FG_REPORT_INTERVAL) >= 2);
    status_is(d, 0, 0);
    free(rs.v);
    fg_daemon_free(d);
}

/* -G s=q:C:350 -G s=p:C:2000 with a 2 ms gap: responses come back and give RTT samples. */
static void test_request_response(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};

    settings(&dst, 3);
    dst.read_duration = 0.3;
    dst.maximum_block_size = 2000;
    settings(&src, 3);
    src.write_duration = 0.3;
    src.maximum_block_size = 2000;
    src.request.param_one = 350;
    src.response.param_one = 2000;
    src.gap.param_one = 0.002;
    src.byte_counting = true;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    wait_finals(d, &rs, 2, 5);

    const struct fg_report *s = find_report(&rs, 3, FG_SOURCE, FG_REPORT_FINAL);
    const struct fg_report *r = find_report(&rs, 3, FG_DESTINATION, FG_REPORT_FINAL);
    assert_non_null(s);
    assert_non_null(r);
    /* 0.3 s at one block per 2 ms: about 150 blocks. */
    assert_true(s->request_blocks_written >= 100 && s->request_blocks_written <= 160);
    assert_true(r->request_blocks_read >= 100);
    assert_true(r->response_blocks_written >= 100);
    assert_true(s->response_blocks_read >= 100);
    assert_true(s->response_blocks_read <= r->response_blocks_written);
    assert_true(s->rtt_samples == (int64_t)s->response_blocks_read);
    assert_true(s->rtt_min > 0 && s->rtt_min <= s->rtt_max && s->rtt_max < 0.5);
    assert_true(s->rtt_sum >= s->rtt_min * (double)s->rtt_samples);
    assert_true(s->bytes_written >= 350ull * s->request_blocks_written);
    assert_true(s->bytes_read >= 2000ull * s->response_blocks_read);
    /* The gap shows in the destination's IAT: about 2 ms on average. */
    double iat_avg = r->iat_sum / (double)r->iat_samples;
    assert_true(iat_avg > 0.0015 && iat_avg < 0.004);
    free(rs.v);
    fg_daemon_free(d);
}

/* Interval reports every 50 ms on the monotonic schedule, contiguous begin/end. */
static void test_interval_spacing(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};

    settings(&dst, 1);
    dst.read_duration = 0.4;
    dst.reporting_interval = 0.05;
    settings(&src, 1);
    src.write_duration = 0.4;
    src.reporting_interval = 0.05;
    src.gap.param_one = 0.001;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    wait_finals(d, &rs, 2, 5);

    const struct fg_report *prev = NULL;
    size_t n = 0;
    uint64_t blocks = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const struct fg_report *r = &rs.v[i];
        if (r->endpoint != FG_SOURCE || r->type != FG_REPORT_INTERVAL)
            continue;
        double len = ts_sec(&r->end) - ts_sec(&r->begin);
        if (prev) {
            assert_true(fabs(ts_sec(&r->begin) - ts_sec(&prev->end)) < 1e-9);
            assert_true(len > 0.035 && len < 0.065);
        }
        blocks += r->request_blocks_written;
        prev = r;
        n++;
    }
    assert_true(n >= 7 && n <= 8);
    const struct fg_report *fin = find_report(&rs, 1, FG_SOURCE, FG_REPORT_FINAL);
    assert_non_null(fin);
    /* Intervals cover the flow; only a last slice under 20 % of the interval may be left
     * out (the 20 % rule), so at most a few blocks are missing from their sum. */
    assert_true(blocks <= fin->request_blocks_written);
    assert_true(blocks * 4 >= fin->request_blocks_written * 3);
    free(rs.v);
    fg_daemon_free(d);
}

/* stop_flow(id) stops the first endpoint with that id, the destination; the source then sees
 * the close and ends too. Unknown ids fault. */
static void test_stop_flow(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};
    char msg[256] = "";

    settings(&dst, 7);
    dst.read_duration = 30;
    dst.reporting_interval = 0.02;
    settings(&src, 7);
    src.write_duration = 30;
    src.gap.param_one = 0.001;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    uint64_t deadline = clock_mono_ns() + 3 * NS_PER_SEC;
    while (count_reports(&rs, 7, FG_DESTINATION, FG_REPORT_INTERVAL) < 2 &&
           clock_mono_ns() < deadline) {
        reports_take(d, &rs);
        usleep(2000);
    }
    assert_true(count_reports(&rs, 7, FG_DESTINATION, FG_REPORT_INTERVAL) >= 2);
    assert_int_equal(fg_daemon_stop_flow(d, 8, msg, sizeof(msg)), FG_FAULT_HANDLER);
    assert_string_equal(msg, "Unknown flow id");
    assert_int_equal(fg_daemon_stop_flow(d, 7, msg, sizeof(msg)), 0);
    reports_take(d, &rs);
    const struct fg_report *r = find_report(&rs, 7, FG_DESTINATION, FG_REPORT_FINAL);
    assert_non_null(r);
    assert_true(r->request_blocks_read > 0);
    assert_int_equal(r->status, LETTERS('n', 'o'));
    wait_finals(d, &rs, 2, 3);
    assert_non_null(find_report(&rs, 7, FG_SOURCE, FG_REPORT_FINAL));
    status_is(d, 0, 0);
    assert_int_equal(fg_daemon_stop_flow(d, -1, msg, sizeof(msg)), 0);
    free(rs.v);
    fg_daemon_free(d);
}

static void expect_fault(struct fg_daemon *d, const struct fg_endpoint_settings *s, bool source,
                         int fault, const char *prefix)
{
    struct fg_add_destination_reply dr;
    struct fg_add_source_reply sr;
    struct fg_source_target t = {.destination_address = "127.0.0.1", .destination_port = 9};
    char msg[256] = "";
    int rc = source ? fg_daemon_add_source(d, s, &t, &sr, msg, sizeof(msg))
                    : fg_daemon_add_destination(d, s, &dr, msg, sizeof(msg));
    assert_int_equal(rc, fault);
    assert_true(strncmp(msg, prefix, strlen(prefix)) == 0);
}

static void test_settings_faults(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings s;
    const char *bad = "Flow settings incorrect";

    settings(&s, 0);
    s.maximum_block_size = 39;
    expect_fault(d, &s, false, FG_FAULT_SETTINGS, bad);
    expect_fault(d, &s, true, FG_FAULT_SETTINGS, bad);
    settings(&s, 0);
    s.write_duration = -1;
    expect_fault(d, &s, false, FG_FAULT_SETTINGS, bad);
    settings(&s, 0);
    s.read_delay = NAN;
    expect_fault(d, &s, true, FG_FAULT_SETTINGS, bad);
    settings(&s, 0);
    s.write_rate = -5;
    expect_fault(d, &s, true, FG_FAULT_SETTINGS, bad);
    settings(&s, 0);
    s.request.distribution = 9;
    expect_fault(d, &s, true, FG_FAULT_SETTINGS, bad);
    settings(&s, 0);
    s.request.distribution = FG_DIST_UNIFORM; /* min > max */
    s.request.param_one = 500;
    s.request.param_two = 100;
    expect_fault(d, &s, true, FG_FAULT_SETTINGS, bad);
    settings(&s, 0);
    snprintf(s.cc_alg, sizeof(s.cc_alg), "no-such-cc");
    expect_fault(d, &s, true, FG_FAULT_HANDLER, "Unable to set congestion control algorithm: ");
    expect_fault(d, &s, false, FG_FAULT_HANDLER, "Unable to set congestion control algorithm: ");
    settings(&s, 0);
    snprintf(s.bind_address, sizeof(s.bind_address), "no.such.host.invalid");
    expect_fault(d, &s, false, FG_FAULT_HANDLER,
                 "could not create listen socket for data connection: ");

    struct fg_source_target t = {.destination_address = "127.0.0.1", .destination_port = 0};
    struct fg_add_source_reply sr;
    char msg[256];
    settings(&s, 0);
    assert_int_equal(fg_daemon_add_source(d, &s, &t, &sr, msg, sizeof(msg)), FG_FAULT_SETTINGS);

    /* A port nobody listens on: the non-blocking connect fails later, and the source ends
     * with a FINAL report (even before start) and a log line. */
    struct fg_add_destination_reply dr;
    struct reports rs = {0};
    assert_int_equal(fg_daemon_add_destination(d, &s, &dr, msg, sizeof(msg)), 0);
    assert_int_equal(fg_daemon_stop_flow(d, 0, msg, sizeof(msg)), 0); /* closes its port */
    t.destination_port = dr.listen_data_port;
    s.write_duration = 1;
    assert_int_equal(fg_daemon_add_source(d, &s, &t, &sr, msg, sizeof(msg)), 0);
    wait_finals(d, &rs, 1, 3);
    assert_int_equal(rs.v[0].endpoint, FG_SOURCE);
    assert_int_equal(rs.v[0].status, LETTERS('o', 'f'));
    char want[128];
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: Connection refused",
             dr.listen_data_port);
    assert_true(log_contains(want));
    free(rs.v);
    status_is(d, 0, 0);
    fg_daemon_free(d);
}

/* Reports of an earlier run (here: flows stopped before start) are dropped when the next run
 * adds its first flow. */
static void test_stale_reports_dropped(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct fg_report out[4];
    bool more;
    char msg[256];

    settings(&dst, 0);
    dst.read_duration = 1;
    settings(&src, 0);
    src.write_duration = 1;
    add_pair(d, &dst, &src);
    assert_int_equal(fg_daemon_stop_flow(d, -1, msg, sizeof(msg)), 0);
    status_is(d, 0, 0);
    assert_int_equal(fg_daemon_take_reports(d, out, 1, &more), 1);
    assert_true(more);
    assert_int_equal(out[0].type, FG_REPORT_FINAL);
    assert_int_equal(out[0].status, LETTERS('f', 'o')); /* never started, nothing moved */
    add_pair(d, &dst, &src);
    assert_int_equal(fg_daemon_take_reports(d, out, 4, &more), 0);
    assert_false(more);
    fg_daemon_free(d); /* flows still held: freed without reports */
}

/* A block header announcing more than maximum_block_size ends the flow with a FINAL report
 * and a log line (bug 45 fixed). */
static void test_bad_block_header(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst;
    struct fg_add_destination_reply dr;
    struct reports rs = {0};
    char msg[256], err[256];

    settings(&dst, 5);
    dst.read_duration = 5;
    assert_int_equal(fg_daemon_add_destination(d, &dst, &dr, msg, sizeof(msg)), 0);
    fg_daemon_start_flows(d, 0);
    struct sock_addr_list l;
    char port[16];
    snprintf(port, sizeof(port), "%d", dr.listen_data_port);
    assert_int_equal(sock_resolve("127.0.0.1", port, AF_INET, SOCK_STREAM, 0, &l, err, sizeof(err)),
                     0);
    int fd = sock_tcp_socket(AF_INET, false, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(sock_connect(fd, &l.v[0], err, sizeof(err)), 0);
    sock_addr_list_free(&l);
    struct fg_block_hdr h = {.this_size = 100000, .request_size = 0};
    uint8_t wire[FG_BLOCK_HDR_LEN];
    fg_block_encode(&h, wire);
    assert_int_equal(sock_send(fd, wire, sizeof(wire)), (ssize_t)sizeof(wire));
    wait_finals(d, &rs, 1, 3);
    const struct fg_report *r = find_report(&rs, 5, FG_DESTINATION, FG_REPORT_FINAL);
    assert_non_null(r);
    assert_int_equal(r->bytes_read, FG_BLOCK_HDR_LEN);
    assert_int_equal(r->request_blocks_read, 0);
    assert_true(log_contains("ending the flow"));
    close(fd);
    free(rs.v);
    fg_daemon_free(d);
}

/* A blocking socket of ours, with a receive timeout so a missing byte fails the test. */
static void set_rcv_timeout(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

static void recv_exact(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
}

static int32_t be32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return (int32_t)ntohl(v);
}

/* The source's bytes on the wire (§5.1, §5.3): -L connects only at start; the header's
 * sizes, a CLOCK_REALTIME stamp, the -E pattern from byte 24 on; a response we send back
 * gives the source one response block and one RTT sample. */
static void test_source_wire_bytes(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings src;
    struct fg_add_source_reply sr;
    struct reports rs = {0};
    struct sock_addr any, bound;
    char err[256], msg[256];

    struct sock_addr_list l;
    assert_int_equal(
        sock_resolve("127.0.0.1", "0", AF_INET, SOCK_STREAM, AI_PASSIVE, &l, err, sizeof(err)), 0);
    any = l.v[0];
    sock_addr_list_free(&l);
    int lfd = sock_tcp_listen(&any, 4, 0, &bound, err, sizeof(err));
    assert_true(lfd >= 0);
    settings(&src, 2);
    src.write_duration = 0.5;
    src.maximum_block_size = 100;
    src.request.param_one = 100;
    src.response.param_one = 60;
    src.gap.param_one = 0.05;
    src.byte_counting = true;
    struct fg_source_target t = {.destination_address = "127.0.0.1",
                                 .destination_port = sock_addr_port(&bound),
                                 .late_connect = 1};
    assert_int_equal(fg_daemon_add_source(d, &src, &t, &sr, msg, sizeof(msg)), 0);
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 50), 0); /* -L: no connection before start */
    fg_daemon_start_flows(d, 0);
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    set_rcv_timeout(fd, 2000);

    uint8_t blk[100];
    recv_exact(fd, blk, sizeof(blk));
    assert_int_equal(be32_at(blk), 100);
    assert_int_equal(be32_at(blk + 4), 60);
    int64_t sec;
    memcpy(&sec, blk + 8, 8);
    assert_true(llabs(sec - (int64_t)time(NULL)) <= 2);
    for (int i = 24; i < 100; i++)
        assert_int_equal(blk[i], i & 0xff);

    uint8_t resp[60] = {0};
    struct fg_block_hdr req, rh;
    assert_int_equal(fg_block_decode(blk, sizeof(blk), 100, &req, NULL, 0), 0);
    fg_block_response_hdr(&req, 60, &rh);
    fg_block_encode(&rh, resp);
    assert_int_equal(send(fd, resp, sizeof(resp), 0), (ssize_t)sizeof(resp));
    wait_finals(d, &rs, 1, 3);
    const struct fg_report *r = find_report(&rs, 2, FG_SOURCE, FG_REPORT_FINAL);
    assert_non_null(r);
    assert_int_equal(r->response_blocks_read, 1);
    assert_int_equal(r->rtt_samples, 1);
    assert_int_equal(r->bytes_read, 60);
    assert_true(r->request_blocks_written >= 9 && r->request_blocks_written <= 11);
    close(fd);
    close(lfd);
    free(rs.v);
    fg_daemon_free(d);
}

/* The destination answers a request at once (§5.2): size, -1, bytes 8..39 echoed, the -E
 * pattern from 40 on. */
static void test_destination_response_bytes(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst;
    struct fg_add_destination_reply dr;
    struct reports rs = {0};
    char msg[256], err[256], port[16];

    settings(&dst, 4);
    dst.read_duration = 5;
    dst.maximum_block_size = 200;
    dst.byte_counting = true;
    assert_int_equal(fg_daemon_add_destination(d, &dst, &dr, msg, sizeof(msg)), 0);
    struct sock_addr_list l;
    snprintf(port, sizeof(port), "%d", dr.listen_data_port);
    assert_int_equal(sock_resolve("127.0.0.1", port, AF_INET, SOCK_STREAM, 0, &l, err, sizeof(err)),
                     0);
    int fd = sock_tcp_socket(AF_INET, false, err, sizeof(err));
    assert_int_equal(sock_connect(fd, &l.v[0], err, sizeof(err)), 0);
    sock_addr_list_free(&l);
    set_rcv_timeout(fd, 2000);
    fg_daemon_start_flows(d, 0);

    uint8_t blk[150] = {0};
    struct fg_block_hdr h = {.this_size = 150, .request_size = 120};
    clock_gettime(CLOCK_REALTIME, &h.data);
    for (int i = 0; i < 16; i++)
        h.data2[i] = (uint8_t)(0xa0 + i);
    fg_block_encode(&h, blk);
    assert_int_equal(send(fd, blk, sizeof(blk), 0), (ssize_t)sizeof(blk));
    uint8_t resp[120];
    recv_exact(fd, resp, sizeof(resp));
    assert_int_equal(be32_at(resp), 120);
    assert_int_equal(be32_at(resp + 4), -1);
    assert_memory_equal(resp + 8, blk + 8, 32);
    for (int i = 40; i < 120; i++)
        assert_int_equal(resp[i], i & 0xff);
    close(fd);
    wait_finals(d, &rs, 1, 3);
    const struct fg_report *r = find_report(&rs, 4, FG_DESTINATION, FG_REPORT_FINAL);
    assert_non_null(r);
    assert_int_equal(r->request_blocks_read, 1);
    assert_int_equal(r->response_blocks_written, 1);
    assert_int_equal(r->bytes_written, 120);
    assert_int_equal(r->bytes_read, 150);
    assert_int_equal(r->delay_samples, 1);
    assert_int_equal(r->iat_samples, 0);
    free(rs.v);
    fg_daemon_free(d);
}

/* -N: the source shuts its sending side down when its write time is over; the destination
 * takes that EOF as the normal end of its read direction ('c'), without the "premature
 * shutdown" line, and still sends its last interval report. */
static void test_shutdown_flag(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};

    settings(&dst, 9);
    dst.read_duration = 3;
    dst.shutdown = true;
    dst.reporting_interval = 0.1;
    settings(&src, 9);
    src.write_duration = 0.25;
    src.shutdown = true;
    src.gap.param_one = 0.001;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    wait_finals(d, &rs, 2, 3);
    const struct fg_report *r = find_report(&rs, 9, FG_DESTINATION, FG_REPORT_FINAL);
    const struct fg_report *s = find_report(&rs, 9, FG_SOURCE, FG_REPORT_FINAL);
    assert_non_null(r);
    assert_non_null(s);
    assert_int_equal(r->status, LETTERS('c', 'o'));
    assert_int_equal(s->status, LETTERS('o', 'c'));
    assert_true(ts_sec(&r->end) - ts_sec(&r->begin) < 1.0); /* ended by the FIN, not at 3 s */
    assert_true(r->bytes_read == s->bytes_written);
    assert_true(count_reports(&rs, 9, FG_DESTINATION, FG_REPORT_INTERVAL) >= 2);
    assert_false(log_contains("premature"));
    free(rs.v);
    fg_daemon_free(d);
}

/* -C: a schedule that cannot be kept (a 1 us gap) aborts the flow after 10000 late blocks,
 * long before its 10 s are over; without -C the same flow runs on. */
static void test_flow_control(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};
    char msg[256];

    settings(&dst, 11);
    dst.read_duration = 10;
    settings(&src, 11);
    src.write_duration = 10;
    src.gap.param_one = 1e-6;
    src.flow_control = true;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    wait_finals(d, &rs, 2, 5);
    const struct fg_report *s = find_report(&rs, 11, FG_SOURCE, FG_REPORT_FINAL);
    assert_non_null(s);
    assert_true(s->request_blocks_written > 10000 && s->request_blocks_written < 10100);
    assert_true(log_contains("schedule fell behind"));

    settings(&dst, 12);
    dst.read_duration = 10;
    src.flow_id = 12;
    src.flow_control = false;
    src.reporting_interval = 0.05;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    /* Its interval reports show it writing on past 10000 late blocks. */
    uint64_t deadline = clock_mono_ns() + 5 * NS_PER_SEC;
    uint64_t blocks = 0;
    size_t seen = 0;
    while (blocks <= 15000 && clock_mono_ns() < deadline) {
        usleep(2000);
        reports_take(d, &rs);
        for (; seen < rs.n; seen++)
            if (rs.v[seen].id == 12 && rs.v[seen].endpoint == FG_SOURCE)
                blocks += rs.v[seen].request_blocks_written;
    }
    assert_true(blocks > 15000);
    assert_null(find_report(&rs, 12, FG_SOURCE, FG_REPORT_FINAL));
    assert_int_equal(fg_daemon_stop_flow(d, -1, msg, sizeof(msg)), 0);
    free(rs.v);
    fg_daemon_free(d);
}

/* Nobody fetches: at most 250 interval reports wait, FINAL reports are always queued. */
static void test_queue_cap(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct fg_status_reply st;

    settings(&dst, 13);
    dst.read_duration = 0.4;
    dst.reporting_interval = 0.001;
    settings(&src, 13);
    src.write_duration = 0.4;
    src.reporting_interval = 0.001;
    src.gap.param_one = 0.001;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    uint64_t deadline = clock_mono_ns() + 3 * NS_PER_SEC;
    do {
        usleep(5000);
        fg_daemon_status(d, &st);
    } while (st.num_flows > 0 && clock_mono_ns() < deadline);
    assert_int_equal(st.num_flows, 0);
    struct reports rs = {0};
    reports_take(d, &rs);
    assert_int_equal(rs.finals, 2);
    assert_int_equal(rs.n - rs.finals, FG_DAEMON_MAX_QUEUED);
    free(rs.v);
    fg_daemon_free(d);
}

/* Packet records in a pcap file (-1 when it is not one). */
static long pcap_records(const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint32_t hdr[6], rec[4];
    long n = 0;

    if (!fp)
        return -1;
    if (fread(hdr, sizeof(hdr), 1, fp) != 1 || hdr[0] != 0xa1b2c3d4u) {
        fclose(fp);
        return -1;
    }
    while (fread(rec, sizeof(rec), 1, fp) == 1 && fseek(fp, (long)rec[2], SEEK_CUR) == 0)
        n++;
    fclose(fp);
    return n;
}

/* -M: with the rights to capture, both endpoints write a pcap file of their connection into
 * the dump directory (the second one, same second, with its "-<id>-<S|D>" suffix); without
 * them add_flow fails with -500 and says why. */
static void test_traffic_dump(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_fg_daemon_dumpXXXXXX";
    assert_non_null(mkdtemp(dir));
    struct fg_daemon *d = new_daemon_in(dir);
    struct fg_endpoint_settings dst, src;
    struct fg_add_destination_reply dr;
    struct reports rs = {0};
    char msg[256] = "";

    settings(&dst, 6);
    dst.read_duration = 1;
    dst.traffic_dump = true;
    settings(&src, 6);
    src.write_duration = 0.1;
    src.traffic_dump = true;
    snprintf(src.dump_prefix, sizeof(src.dump_prefix), "unit-");
    int rc = fg_daemon_add_destination(d, &dst, &dr, msg, sizeof(msg));
#ifdef NETGRIND_HAVE_PCAP
    if (geteuid() != 0) {
        assert_int_equal(rc, FG_FAULT_HANDLER);
        assert_non_null(strstr(msg, "Unable to start traffic dump"));
        fg_daemon_free(d);
        rmdir(dir);
        return;
    }
    assert_int_equal(rc, 0);
    struct fg_source_target t = {.destination_address = "127.0.0.1",
                                 .destination_port = dr.listen_data_port};
    struct fg_add_source_reply sr;
    assert_int_equal(fg_daemon_add_source(d, &src, &t, &sr, msg, sizeof(msg)), 0);
    fg_daemon_start_flows(d, 0);
    wait_finals(d, &rs, 2, 5);
    fg_daemon_free(d);

    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ls %s", dir);
    FILE *ls = popen(cmd, "r");
    char name[300];
    int files = 0;
    while (fgets(name, sizeof(name), ls)) {
        name[strcspn(name, "\n")] = '\0';
        char path[700];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_true(strstr(name, "-lo") != NULL);
        assert_true(strncmp(name, "flowgrind-", 10) == 0 || strncmp(name, "unit-", 5) == 0);
        assert_true(pcap_records(path) > 3); /* handshake and data at least */
        unlink(path);
        files++;
    }
    pclose(ls);
    assert_int_equal(files, 2);
#else
    assert_int_equal(rc, FG_FAULT_SETTINGS);
    fg_daemon_free(d);
#endif
    rmdir(dir);
    free(rs.v);
}

/* 500 flows, 1000 endpoints on one daemon (0.8.2 stopped at 512 endpoints). */
#define MANY_FLOWS 500
static void test_many_flows(void **state)
{
    (void)state;
    unsigned long got = 0;
    assert_int_equal(sock_raise_nofile(4 * MANY_FLOWS + 64, &got), 0);
    if (got < 2 * MANY_FLOWS + 64) {
        skip();
        return;
    }
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};

    for (int i = 0; i < MANY_FLOWS; i++) {
        settings(&dst, i);
        dst.read_duration = 2;
        settings(&src, i);
        src.write_duration = 0.3;
        src.request.param_one = 1000;
        src.gap.param_one = 0.02;
        add_pair(d, &dst, &src);
    }
    status_is(d, 0, 2 * MANY_FLOWS);
    fg_daemon_start_flows(d, 0);
    wait_finals(d, &rs, 2 * MANY_FLOWS, 10);
    uint64_t *written = calloc(MANY_FLOWS, sizeof(*written));
    uint64_t *read = calloc(MANY_FLOWS, sizeof(*read));
    for (size_t i = 0; i < rs.n; i++) {
        const struct fg_report *r = &rs.v[i];
        assert_true(r->id >= 0 && r->id < MANY_FLOWS);
        if (r->endpoint == FG_SOURCE) {
            assert_true(r->request_blocks_written >= 10 && r->request_blocks_written <= 16);
            written[r->id] = r->bytes_written;
        } else {
            read[r->id] = r->bytes_read;
        }
    }
    for (int i = 0; i < MANY_FLOWS; i++)
        assert_true(written[i] > 0 && written[i] == read[i]);
    status_is(d, 0, 0);
    free(written);
    free(read);
    free(rs.v);
    fg_daemon_free(d);
}

/* The last INTERVAL report of (id, ep) comes before its FINAL and ends at the flow's end. */
static void last_interval_at_end(const struct reports *rs, int32_t id, int ep)
{
    size_t last = SIZE_MAX, fin = SIZE_MAX;

    for (size_t i = 0; i < rs->n; i++) {
        if (rs->v[i].id != id || rs->v[i].endpoint != ep)
            continue;
        if (rs->v[i].type == FG_REPORT_INTERVAL)
            last = i;
        else if (fin == SIZE_MAX)
            fin = i;
    }
    assert_true(fin != SIZE_MAX && last != SIZE_MAX && last < fin);
    double end = ts_sec(&rs->v[fin].end), begin = ts_sec(&rs->v[fin].begin);
    /* The flow lasts its 0.4 s plus a short drain; an interval is 0.1 s, and the 20 % rule
     * leaves out a last slice under 20 ms. */
    assert_true(end - begin >= 0.39 && end - begin < 0.9);
    assert_true(ts_sec(&rs->v[last].end) >= end - 0.021);
    assert_true(ts_sec(&rs->v[last].end) <= end + 1e-6);
}

/* Bug 47: source and destination end on their own equal timers. The destination drains the
 * source's last blocks and both send a FIN, so nothing is lost and nobody sees a reset: a bulk
 * flow and a request/response flow agree exactly, both endpoints report their last interval
 * before their FINAL, and no endpoint logs a premature shutdown or a reset. */
static void test_graceful_end(void **state)
{
    (void)state;
    struct fg_daemon *d = new_daemon();
    struct fg_endpoint_settings dst, src;
    struct reports rs = {0};

    settings(&dst, 10);
    dst.read_duration = 0.4;
    dst.reporting_interval = 0.1;
    settings(&src, 10);
    src.write_duration = 0.4;
    src.reporting_interval = 0.1;
    add_pair(d, &dst, &src);
    settings(&dst, 11);
    dst.read_duration = 0.4;
    dst.reporting_interval = 0.1;
    dst.maximum_block_size = 2000;
    settings(&src, 11);
    src.write_duration = 0.4;
    src.reporting_interval = 0.1;
    src.maximum_block_size = 2000;
    src.request.param_one = 350;
    src.response.param_one = 2000;
    src.gap.param_one = 0.001;
    add_pair(d, &dst, &src);
    fg_daemon_start_flows(d, 0);
    wait_finals(d, &rs, 4, 5);

    for (int32_t id = 10; id <= 11; id++) {
        const struct fg_report *s = find_report(&rs, id, FG_SOURCE, FG_REPORT_FINAL);
        const struct fg_report *r = find_report(&rs, id, FG_DESTINATION, FG_REPORT_FINAL);
        assert_non_null(s);
        assert_non_null(r);
        assert_true(s->request_blocks_written > 50);
        assert_int_equal(s->request_blocks_written, r->request_blocks_read);
        assert_true(s->bytes_written == r->bytes_read);
        assert_int_equal(r->response_blocks_written, s->response_blocks_read);
        assert_true(r->bytes_written == s->bytes_read);
        last_interval_at_end(&rs, id, FG_SOURCE);
        last_interval_at_end(&rs, id, FG_DESTINATION);
        assert_int_equal(s->status & 0xff, 'c');
        assert_int_equal(r->status >> 8, 'c');
    }
    const struct fg_report *rr = find_report(&rs, 11, FG_SOURCE, FG_REPORT_FINAL);
    assert_non_null(rr);
    assert_true(rr->response_blocks_read > 50);
    /* Every request read was answered, the last ones too (the destination drained). */
    assert_int_equal(rr->response_blocks_read, rr->request_blocks_written);
    assert_false(log_contains("premature"));
    assert_false(log_contains("reset"));
    assert_false(log_contains("Broken pipe"));
    status_is(d, 0, 0);
    free(rs.v);
    fg_daemon_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_flow),
        cmocka_unit_test(test_request_response),
        cmocka_unit_test(test_interval_spacing),
        cmocka_unit_test(test_stop_flow),
        cmocka_unit_test(test_settings_faults),
        cmocka_unit_test(test_stale_reports_dropped),
        cmocka_unit_test(test_bad_block_header),
        cmocka_unit_test(test_source_wire_bytes),
        cmocka_unit_test(test_destination_response_bytes),
        cmocka_unit_test(test_traffic_dump),
        cmocka_unit_test(test_shutdown_flag),
        cmocka_unit_test(test_flow_control),
        cmocka_unit_test(test_queue_cap),
        cmocka_unit_test(test_many_flows),
        cmocka_unit_test(test_graceful_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
