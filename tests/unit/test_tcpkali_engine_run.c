/* tcpkali engine, run in-process over loopback (127.0.0.1, port 0), each case bounded to
 * about a second: client and sink byte counts agree; echo mode with --latency-marker and
 * -r; closed-loop transactions; "More messages received than sent" reported through
 * on_fatal; a non-constant message source (variable-length messages, per-connection state,
 * stamping) keeps message boundaries under -r; --channel-lifetime replaces connections;
 * refused connects are counted; a second listener on a taken port fails with tcpkali's bind
 * message and exit code 69; stop after stop and snapshot after stop. */

#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/loop.h"
#include "core/sock.h"
#include "core/util.h"
#include "tcpkali/engine.h"
#include "tcpkali/engine_int.h"

#define MS 1000000ULL

struct fatal_seen {
    int code;
    char msg[256];
    int stops;
};

static void on_fatal(void *ctx, int code, const char *msg)
{
    struct fatal_seen *f = ctx;
    f->code = code;
    snprintf(f->msg, sizeof(f->msg), "%s", msg);
}

static void on_stop(void *ctx, const uint8_t *last, size_t len)
{
    (void)last;
    (void)len;
    ((struct fatal_seen *)ctx)->stops++;
}

static void base_config(struct tk_config *c)
{
    memset(c, 0, sizeof(*c));
    c->connections = 1;
    c->connect_rate = 1000;
    c->connect_timeout_ns = 1000 * MS;
    c->bandwidth_down_Bps = -1;
    c->workers = 1;
    c->duration_ns = UINT64_MAX;
    c->nagle = -1;
    c->write_combine = true;
}

struct rig {
    struct loop *control;
    struct fatal_seen seen;
    struct tk_engine_events ev;
    struct tk_config sink_cfg, cli_cfg;
    struct sock_addr_list listen;
    struct tk_dest dest;
    struct tk_engine *sink, *cli;
    struct tk_msg_arg msgs[4];
};

/* Appends one message argument (its text is a literal; unescape as -e would) to the client's
 * configuration. */
static void rig_add_msg(struct rig *r, enum tk_msg_kind kind, const char *text, bool unescape)
{
    assert_true(r->cli_cfg.nmsgs < ARRAY_LEN(r->msgs));
    r->msgs[r->cli_cfg.nmsgs++] =
        (struct tk_msg_arg){kind, text, strlen(text), unescape, false, NULL};
    r->cli_cfg.msgs = r->msgs;
}

static void rig_set_marker(struct rig *r, const char *marker)
{
    r->cli_cfg.latency_marker = marker;
    r->cli_cfg.latency_marker_len = strlen(marker);
}

static void rig_init(struct rig *r)
{
    char err[256];
    memset(r, 0, sizeof(*r));
    r->control = loop_new(err, sizeof(err));
    assert_non_null(r->control);
    r->ev = (struct tk_engine_events){&r->seen, on_fatal, on_stop};
    base_config(&r->sink_cfg);
    base_config(&r->cli_cfg);
    assert_int_equal(sock_resolve("127.0.0.1", "0", AF_INET, SOCK_STREAM, 0, &r->listen, err,
                                  sizeof(err)),
                     0);
    r->sink_cfg.listen = true;
    r->sink_cfg.listen_addrs = r->listen;
}

static void start_sink(struct rig *r, enum tk_listen_mode mode)
{
    int code;
    char err[256];
    size_t n;
    r->sink_cfg.listen_mode = mode;
    r->sink = tk_engine_new(&r->sink_cfg, r->control, &r->ev, &code, err, sizeof(err));
    assert_non_null(r->sink);
    if (tk_engine_start(r->sink, &code, err, sizeof(err)) != 0)
        fail_msg("sink start: %s", err);
    const struct sock_addr *b = tk_engine_listen_addrs(r->sink, &n);
    assert_int_equal(n, 1);
    assert_int_not_equal(sock_addr_port(&b[0]), 0);
    r->dest.addr = b[0];
    snprintf(r->dest.text, sizeof(r->dest.text), "127.0.0.1:%u", sock_addr_port(&b[0]));
    r->cli_cfg.dests = &r->dest;
    r->cli_cfg.ndests = 1;
}

static void start_client(struct rig *r)
{
    int code;
    char err[256];
    r->cli = tk_engine_new(&r->cli_cfg, r->control, &r->ev, &code, err, sizeof(err));
    if (!r->cli)
        fail_msg("client: %s", err);
    if (tk_engine_start(r->cli, &code, err, sizeof(err)) != 0)
        fail_msg("client start: %s", err);
}

static void rig_free(struct rig *r)
{
    tk_engine_free(r->cli);
    tk_engine_free(r->sink);
    sock_addr_list_free(&r->listen);
    loop_free(r->control);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct tk_counters counters(struct tk_engine *e)
{
    struct tk_snapshot s;
    tk_engine_snapshot(e, &s);
    struct tk_counters c = s.c;
    tk_snapshot_free(&s);
    return c;
}

/* Polls until the sink has received `bytes` (or 5 s pass). */
static struct tk_counters wait_rcvd(struct tk_engine *sink, uint64_t bytes)
{
    uint64_t deadline = clock_mono_ns() + 5000 * MS;
    struct tk_counters c;
    while ((c = counters(sink)).bytes_rcvd < bytes && clock_mono_ns() < deadline)
        sleep_ms(5);
    return c;
}

static struct tk_counters wait_conns_out(struct tk_engine *e, uint64_t n)
{
    uint64_t deadline = clock_mono_ns() + 5000 * MS;
    struct tk_counters c;
    while ((c = counters(e)).conns_out < n && clock_mono_ns() < deadline)
        sleep_ms(2);
    return c;
}

static void test_bytes_agree(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_SILENT);
    rig_add_msg(&r, TK_MSG_FIRST, "first!", false);
    rig_add_msg(&r, TK_MSG_REPEAT, "hello", false);
    r.cli_cfg.connections = 4;
    r.cli_cfg.workers = 2;
    start_client(&r);
    assert_int_equal(wait_conns_out(r.cli, 4).conns_out, 4);
    sleep_ms(150);
    tk_engine_stop(r.cli);
    struct tk_counters cc = counters(r.cli);
    assert_true(cc.bytes_sent > 4 * 6);
    assert_true(cc.msgs_sent > 1000);
    assert_int_equal(cc.conns_connected, 4);
    assert_int_equal(cc.conns_out, 4); /* figures as they were at the stop */
    struct tk_counters sc = wait_rcvd(r.sink, cc.bytes_sent);
    assert_int_equal(sc.bytes_rcvd, cc.bytes_sent);
    assert_int_equal(sc.conns_accepted, 4);
    tk_engine_stop(r.cli); /* idempotent */
    rig_free(&r);
}

static void test_echo_latency_marker_rate(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_ECHO);
    rig_add_msg(&r, TK_MSG_REPEAT, "ping\\n", true);
    r.cli_cfg.connections = 2;
    r.cli_cfg.message_rate = 200;
    rig_set_marker(&r, "ping");
    uint64_t t0 = clock_mono_ns();
    start_client(&r);
    wait_conns_out(r.cli, 2);
    uint64_t t1 = clock_mono_ns();
    sleep_ms(300);
    struct tk_snapshot s;
    tk_engine_snapshot(r.cli, &s);
    assert_true(s.latency_from_intended_time);
    /* 2 connections at 200/s: one message at connect time, then one every 5 ms. */
    uint64_t lo = 2 * ((s.taken_ns - t1) / (5 * MS)), hi = 2 * ((s.taken_ns - t0) / (5 * MS) + 1);
    assert_in_range(s.c.msgs_sent, lo, hi);
    assert_true(hist_count(&s.lat_message) >= s.c.msgs_sent - 4);
    assert_true(hist_max(&s.lat_message) < 200 * MS);
    assert_int_equal(s.c.bytes_sent, s.c.msgs_sent * 5);
    tk_snapshot_free(&s);
    assert_int_equal(r.seen.code, 0);
    rig_free(&r);
}

static void test_closed_loop(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_ECHO);
    rig_add_msg(&r, TK_MSG_REPEAT, "req.", false);
    r.cli_cfg.connections = 2;
    r.cli_cfg.closed_loop = true;
    rig_set_marker(&r, "req.");
    start_client(&r);
    wait_conns_out(r.cli, 2);
    sleep_ms(200);
    tk_engine_stop(r.cli);
    struct tk_snapshot s;
    tk_engine_snapshot(r.cli, &s);
    assert_false(s.latency_from_intended_time);
    assert_true(s.c.transactions > 50);
    /* One message in flight per connection: sent = replies + at most one each. */
    assert_in_range(s.c.msgs_sent - s.c.transactions, 0, 2);
    assert_int_equal(hist_count(&s.lat_message), s.c.transactions);
    tk_snapshot_free(&s);
    rig_free(&r);
}

static void test_more_received_than_sent(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_ECHO);
    rig_add_msg(&r, TK_MSG_FIRST, "hello", false);
    rig_add_msg(&r, TK_MSG_REPEAT, "hello", false);
    r.cli_cfg.message_rate = 10;
    rig_set_marker(&r, "hello");
    start_client(&r);
    uint64_t deadline = clock_mono_ns() + 3000 * MS;
    while (r.seen.code == 0 && clock_mono_ns() < deadline) {
        sleep_ms(5);
        loop_run_posted(r.control);
    }
    assert_int_equal(r.seen.code, 1);
    assert_string_equal(r.seen.msg,
                        "More messages received than sent. Choose a different --latency-marker.");
    rig_free(&r);
}

static void test_latency_marker_skip(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_ECHO);
    rig_add_msg(&r, TK_MSG_FIRST, "hello", false);
    rig_add_msg(&r, TK_MSG_REPEAT, "hello", false);
    r.cli_cfg.message_rate = 50;
    rig_set_marker(&r, "hello");
    r.cli_cfg.latency_marker_skip = 1;
    start_client(&r);
    wait_conns_out(r.cli, 1);
    sleep_ms(200);
    loop_run_posted(r.control);
    assert_int_equal(r.seen.code, 0);
    struct tk_snapshot s;
    tk_engine_snapshot(r.cli, &s);
    assert_true(hist_count(&s.lat_message) >= 5);
    tk_snapshot_free(&s);
    rig_free(&r);
}

/* ---- a non-constant source, as the expression language will plug in ------------------- */

struct vstate {
    uint64_t uid, k;
};

static int v_init(const struct tk_msgsrc *s, void *cs, uint64_t uid)
{
    (void)s;
    ((struct vstate *)cs)->uid = uid;
    return 0;
}

static int v_first(const struct tk_msgsrc *s, void *cs, struct tk_buf *out)
{
    (void)s;
    char t[32];
    int n = snprintf(t, sizeof(t), "conn%llu;", (unsigned long long)((struct vstate *)cs)->uid);
    return tk_buf_append(out, t, (size_t)n);
}

/* Messages of growing length: "<" + k dots + ">" with k = 1, 2, 3, ... */
static int v_next(const struct tk_msgsrc *s, void *cs, struct tk_buf *out, size_t *len)
{
    (void)s;
    struct vstate *v = cs;
    v->k++;
    size_t n = 2 + (size_t)(v->k % 50);
    uint8_t *p = tk_buf_reserve(out, n);
    if (!p)
        return -ENOMEM;
    p[0] = '<';
    memset(p + 1, '.', n - 2);
    p[n - 1] = '>';
    out->len += n;
    *len = n;
    return 0;
}

static const struct tk_msgsrc_ops v_ops = {
    .conn_state_size = sizeof(struct vstate),
    .conn_init = v_init,
    .first = v_first,
    .next = v_next,
};

static void test_dynamic_source(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_ECHO);
    rig_add_msg(&r, TK_MSG_REPEAT, "x", false);
    r.cli_cfg.connections = 1;
    r.cli_cfg.message_rate = 100;
    rig_set_marker(&r, ">");
    int code;
    char err[256];
    r.cli = tk_engine_new(&r.cli_cfg, r.control, &r.ev, &code, err, sizeof(err));
    assert_non_null(r.cli);
    /* Swap in the non-constant source before the start (engine_int.h). */
    struct tk_msgsrc *src = r.cli->src_out;
    src->constant = false;
    src->ops = &v_ops;
    assert_int_equal(tk_engine_start(r.cli, &code, err, sizeof(err)), 0);
    wait_conns_out(r.cli, 1);
    sleep_ms(300);
    tk_engine_stop(r.cli);
    loop_run_posted(r.control);
    assert_int_equal(r.seen.code, 0); /* every '>' echoed matched a message sent */
    struct tk_snapshot s;
    tk_engine_snapshot(r.cli, &s);
    assert_true(s.c.msgs_sent >= 25);
    /* Whole messages only: the once part plus messages 1..n, at 100/s. */
    uint64_t want = strlen("conn1;");
    for (uint64_t k = 1; k <= s.c.msgs_sent; k++)
        want += 2 + k % 50;
    assert_int_equal(s.c.bytes_sent, want);
    assert_true(hist_count(&s.lat_message) >= s.c.msgs_sent - 2);
    tk_snapshot_free(&s);
    rig_free(&r);
}

/* ---- a fake stacked transport, standing in for WebSocket or TLS ------------------------
 * Handshake: the client writes "HS?" (first round: then it waits to read), and reads the
 * server's 3-byte answer (second round): "HS!" is done, anything else fails (ws_status), EOF
 * fails (ws_eof). The server reads "HS?" and answers by fake_server_mode: 0 "HS!" (done),
 * 1 "NO!" and fails (ws_request), 2 never answers. On accepted connections the transport
 * echoes itself (echoes = true): recv queues what it read as transport-owned output and never
 * writes it, so only the engine's EPOLLOUT-and-flush can deliver it. Every recv with data is
 * one "frame". send counts calls whose length is not a multiple of fake_unit (when set). */

static int fake_server_mode;
static size_t fake_unit;
static atomic_int fake_cut_sends;
/* Mode 3 (the server's answer carries data): "HS!" and FAKE_EXTRA in one send; the client
 * reads all it can in its last handshake read and holds the extra bytes for its next recv,
 * as the WebSocket transport holds frames that came with the 101. */
#define FAKE_EXTRA "early\n"
static atomic_int fake_shutdowns; /* shutdown calls (it writes nothing) */

struct fake_ts {
    bool outgoing;
    int step;
    uint8_t in[3];
    size_t nin;
    enum tk_hs_fail cause;
    struct tk_buf pend;
    size_t pend_off;
    uint8_t held[16]; /* client, mode 3: read past the answer, for the next recv */
    size_t nheld;
};

static int fake_init(const struct tk_transport *t, void *ts, bool outgoing,
                     const struct tk_dest *dest)
{
    (void)t;
    (void)dest;
    ((struct fake_ts *)ts)->outgoing = outgoing;
    return 0;
}

static void fake_free(const struct tk_transport *t, void *ts)
{
    (void)t;
    tk_buf_free(&((struct fake_ts *)ts)->pend);
}

/* Reads the 3 handshake bytes: 1 when they are all there, 0 to wait, or TK_HS_FAILED/-errno. */
static int fake_read3(struct fake_ts *f, int fd, struct tk_io *io)
{
    if (f->outgoing && fake_server_mode == 3) {
        /* Everything there is, as a transport reading ahead does; what follows the answer
         * is held. */
        uint8_t b[3 + sizeof(f->held)];
        ssize_t r = recv(fd, b, 3 - f->nin + sizeof(f->held), MSG_DONTWAIT);
        if (r > 0) {
            io->wire_in += (uint64_t)r;
            io->reads++;
            size_t take = (size_t)r < 3 - f->nin ? (size_t)r : 3 - f->nin;
            memcpy(f->in + f->nin, b, take);
            f->nin += take;
            memcpy(f->held, b + take, (size_t)r - take);
            f->nheld = (size_t)r - take;
            return f->nin == 3;
        }
        if (r == 0) {
            f->cause = TK_HSF_WS_EOF;
            return TK_HS_FAILED;
        }
        return errno == EAGAIN ? 0 : -errno;
    }
    ssize_t r = recv(fd, f->in + f->nin, 3 - f->nin, MSG_DONTWAIT);
    if (r == 0) {
        f->cause = TK_HSF_WS_EOF;
        return TK_HS_FAILED;
    }
    if (r < 0)
        return errno == EAGAIN ? 0 : -errno;
    io->wire_in += (uint64_t)r;
    io->reads++;
    f->nin += (size_t)r;
    return f->nin == 3;
}

static int fake_send3(int fd, const char *what, struct tk_io *io)
{
    if (send(fd, what, 3, MSG_NOSIGNAL | MSG_DONTWAIT) != 3)
        return -EIO;
    io->wire_out += 3;
    io->writes++;
    return 0;
}

static int fake_handshake(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    (void)t;
    struct fake_ts *f = ts;
    if (f->outgoing && f->step == 0) {
        f->step = 1;
        int rc = fake_send3(fd, "HS?", io);
        return rc < 0 ? rc : TK_HS_WANT_READ;
    }
    if (f->step == 99) { /* mode 2: never answers, until the client gives up */
        uint8_t b[16];
        ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (r == 0)
            f->cause = TK_HSF_WS_EOF;
        return r == 0 ? TK_HS_FAILED : r < 0 && errno != EAGAIN ? -errno : TK_HS_WANT_READ;
    }
    int rc = fake_read3(f, fd, io);
    if (rc <= 0)
        return rc == 0 ? TK_HS_WANT_READ : rc;
    if (f->outgoing) {
        if (memcmp(f->in, "HS!", 3) == 0)
            return TK_HS_DONE;
        f->cause = TK_HSF_WS_STATUS;
        return TK_HS_FAILED;
    }
    if (memcmp(f->in, "HS?", 3) != 0) {
        f->cause = TK_HSF_WS_MALFORMED;
        return TK_HS_FAILED;
    }
    if (fake_server_mode == 2) {
        f->step = 99;
        return TK_HS_WANT_READ;
    }
    if (fake_server_mode == 3) {
        static const char answer[] = "HS!" FAKE_EXTRA;
        if (send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) !=
            (ssize_t)sizeof(answer) - 1)
            return -EIO;
        io->wire_out += sizeof(answer) - 1;
        io->writes++;
        return TK_HS_DONE;
    }
    rc = fake_send3(fd, fake_server_mode == 1 ? "NO!" : "HS!", io);
    if (rc < 0)
        return rc;
    if (fake_server_mode == 1) {
        f->cause = TK_HSF_WS_REQUEST;
        return TK_HS_FAILED;
    }
    return TK_HS_DONE;
}

static enum tk_hs_fail fake_cause(const struct tk_transport *t, void *ts, char *text,
                                  size_t len)
{
    (void)t;
    snprintf(text, len, "fake handshake refused");
    return ((struct fake_ts *)ts)->cause;
}

static size_t fake_pending(const struct tk_transport *t, const void *ts)
{
    (void)t;
    const struct fake_ts *f = ts;
    return f->pend.len - f->pend_off;
}

static int fake_flush(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    (void)t;
    struct fake_ts *f = ts;
    while (f->pend_off < f->pend.len) {
        ssize_t r = send(fd, f->pend.data + f->pend_off, f->pend.len - f->pend_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0)
            return errno == EAGAIN ? -EAGAIN : -errno;
        io->wire_out += (uint64_t)r;
        io->writes++;
        f->pend_off += (size_t)r;
    }
    f->pend.len = f->pend_off = 0;
    return 0;
}

static ssize_t fake_send(const struct tk_transport *t, void *ts, int fd, const uint8_t *p,
                         size_t n, struct tk_io *io)
{
    if (fake_pending(t, ts))
        return -EAGAIN; /* the transport's own output goes first */
    if (fake_unit && n % fake_unit)
        atomic_fetch_add(&fake_cut_sends, 1);
    return tk_transport_plain.send(t, NULL, fd, p, n, io);
}

static ssize_t fake_recv(const struct tk_transport *t, void *ts, int fd, uint8_t *buf, size_t cap,
                         struct tk_io *io)
{
    struct fake_ts *f = ts;
    if (f->nheld > 0 && cap >= f->nheld) { /* already counted on the wire */
        size_t n = f->nheld;
        memcpy(buf, f->held, n);
        f->nheld = 0;
        io->frames_in++;
        return (ssize_t)n;
    }
    ssize_t r = tk_transport_plain.recv(t, NULL, fd, buf, cap, io);
    if (r > 0) {
        io->frames_in++;
        if (!f->outgoing && t->echoes && tk_buf_append(&f->pend, buf, (size_t)r) < 0)
            return -ENOMEM;
    }
    return r;
}

static void fake_shutdown(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    (void)t;
    (void)ts;
    (void)fd;
    (void)io;
    atomic_fetch_add(&fake_shutdowns, 1);
}

static struct tk_transport fake_tr = {
    .name = "fake",
    .conn_state_size = sizeof(struct fake_ts),
    .echoes = true,
    .conn_init = fake_init,
    .handshake = fake_handshake,
    .fail_cause = fake_cause,
    .send = fake_send,
    .recv = fake_recv,
    .pending = fake_pending,
    .flush = fake_flush,
    .shutdown = fake_shutdown,
    .conn_free = fake_free,
};

/* The engines of the rig with the fake transport swapped in before their start (the real
 * one is put back for tk_engine_free). */
static struct tk_transport *sink_tr, *cli_tr;

static void start_sink_fake(struct rig *r, enum tk_listen_mode mode, int server_mode)
{
    int code;
    char err[256];
    size_t n;
    fake_server_mode = server_mode;
    r->sink_cfg.listen_mode = mode;
    r->sink = tk_engine_new(&r->sink_cfg, r->control, &r->ev, &code, err, sizeof(err));
    assert_non_null(r->sink);
    sink_tr = r->sink->tr;
    r->sink->tr = &fake_tr;
    if (tk_engine_start(r->sink, &code, err, sizeof(err)) != 0)
        fail_msg("sink start: %s", err);
    const struct sock_addr *b = tk_engine_listen_addrs(r->sink, &n);
    r->dest.addr = b[0];
    r->cli_cfg.dests = &r->dest;
    r->cli_cfg.ndests = 1;
}

static void start_client_fake(struct rig *r, bool framed)
{
    int code;
    char err[256];
    r->cli = tk_engine_new(&r->cli_cfg, r->control, &r->ev, &code, err, sizeof(err));
    if (!r->cli)
        fail_msg("client: %s", err);
    cli_tr = r->cli->tr;
    r->cli->tr = &fake_tr;
    r->cli->framed = framed;
    if (tk_engine_start(r->cli, &code, err, sizeof(err)) != 0)
        fail_msg("client start: %s", err);
}

static void rig_free_fake(struct rig *r)
{
    tk_engine_stop(r->cli);
    tk_engine_stop(r->sink);
    if (r->cli)
        r->cli->tr = cli_tr;
    if (r->sink)
        r->sink->tr = sink_tr;
    rig_free(r);
    fake_unit = 0;
    fake_server_mode = 0;
}

static uint64_t hs_total(const struct tk_counters *c)
{
    uint64_t n = 0;
    for (int i = 0; i < TK_HSF_COUNT; i++)
        n += c->hs_failures[i];
    return n;
}

/* Two-round handshake, then the server's transport echoes through pending output and
 * flush; the engine must not echo as well (a doubled echo would match more markers than
 * messages were sent: "More messages received than sent", exit 1). */
static void test_fake_transport_echo(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink_fake(&r, TK_LISTEN_ECHO, 0);
    rig_add_msg(&r, TK_MSG_REPEAT, "ping\\n", true);
    r.cli_cfg.connections = 2;
    r.cli_cfg.message_rate = 200;
    rig_set_marker(&r, "ping");
    start_client_fake(&r, false);
    assert_int_equal(wait_conns_out(r.cli, 2).conns_out, 2);
    sleep_ms(300);
    struct tk_counters sc = counters(r.sink);
    assert_int_equal(sc.conns_in, 2);
    assert_true(sc.ws_frames_rcvd > 0);
    assert_int_equal(hs_total(&sc), 0);
    tk_engine_stop(r.cli);
    loop_run_posted(r.control);
    assert_int_equal(r.seen.code, 0);
    struct tk_snapshot s;
    tk_engine_snapshot(r.cli, &s);
    assert_int_equal(s.c.conns_connected, 2);
    assert_int_equal(hs_total(&s.c), 0);
    assert_true(s.c.msgs_sent >= 40);
    /* Every message but those in flight came back: the flush path works. */
    assert_true(hist_count(&s.lat_message) + 4 >= s.c.msgs_sent);
    /* Wire bytes: the handshake's 3 bytes per connection, then 5 per message. */
    assert_int_equal(s.c.bytes_sent, 2 * 3 + 5 * s.c.msgs_sent);
    assert_true(s.c.ws_frames_rcvd > 0);
    tk_snapshot_free(&s);
    rig_free_fake(&r);
}

/* Bytes that came with the handshake's last read and are held by the transport: the socket
 * will not signal them again, so the engine must read once right after TK_HS_DONE. The
 * client sends nothing, so nothing else ever arrives. Then the engine's stop says goodbye
 * (shutdown) on each established connection, and only on those. */
static void test_fake_transport_data_with_handshake(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink_fake(&r, TK_LISTEN_SILENT, 3);
    r.cli_cfg.connections = 2;
    r.cli_cfg.message_stop = "early";
    r.cli_cfg.message_stop_len = 5;
    atomic_store(&fake_shutdowns, 0);
    start_client_fake(&r, false);
    assert_int_equal(wait_conns_out(r.cli, 2).conns_out, 2);
    uint64_t deadline = clock_mono_ns() + 3000 * MS;
    struct tk_counters c;
    while ((c = counters(r.cli)).ws_frames_rcvd < 2 && clock_mono_ns() < deadline)
        sleep_ms(5);
    assert_int_equal(c.ws_frames_rcvd, 2);
    assert_int_equal(c.bytes_rcvd, 2 * (3 + strlen(FAKE_EXTRA)));
    loop_run_posted(r.control);
    assert_int_equal(r.seen.stops, 1); /* the held bytes reached the scan (posted once) */
    assert_int_equal(atomic_load(&fake_shutdowns), 0);
    tk_engine_stop(r.cli);
    assert_int_equal(atomic_load(&fake_shutdowns), 2);
    rig_free_fake(&r);
}

/* A refused handshake: counted by cause on both sides, never as an established connection
 * nor as a connect failure. */
static void test_fake_transport_refused(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink_fake(&r, TK_LISTEN_SILENT, 1);
    rig_add_msg(&r, TK_MSG_REPEAT, "x", false);
    start_client_fake(&r, false);
    uint64_t deadline = clock_mono_ns() + 3000 * MS;
    struct tk_counters c;
    while ((c = counters(r.cli)).hs_failures[TK_HSF_WS_STATUS] < 3 && clock_mono_ns() < deadline)
        sleep_ms(5);
    assert_true(c.hs_failures[TK_HSF_WS_STATUS] >= 3);
    assert_int_equal(hs_total(&c), c.hs_failures[TK_HSF_WS_STATUS]);
    assert_int_equal(c.conns_out, 0);
    assert_int_equal(c.conns_connected, 0);
    assert_int_equal(c.connect_failures, 0);
    assert_int_equal(c.msgs_sent, 0);
    /* Only handshakes went out: 3 bytes each, at most one per attempt. */
    assert_int_equal(c.bytes_sent % 3, 0);
    assert_true(c.bytes_sent <= 3 * c.conns_initiated);
    assert_true(c.bytes_sent >= 3 * c.hs_failures[TK_HSF_WS_STATUS]);
    struct tk_counters sc = counters(r.sink);
    assert_true(sc.hs_failures[TK_HSF_WS_REQUEST] >= 1);
    assert_int_equal(sc.conns_in, 0);
    assert_true(sc.conns_accepted >= 1);
    rig_free_fake(&r);
}

/* A server that never answers: the connection stays "connecting" (not in conns_out) until
 * --connect-timeout, which covers the handshake too. */
static void test_fake_transport_handshake_timeout(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink_fake(&r, TK_LISTEN_SILENT, 2);
    r.cli_cfg.connect_timeout_ns = 200 * MS;
    r.cli_cfg.connect_rate = 1;
    start_client_fake(&r, false);
    uint64_t t0 = clock_mono_ns();
    struct tk_counters c;
    while ((c = counters(r.sink)).conns_accepted < 1 && clock_mono_ns() < t0 + 2000 * MS)
        sleep_ms(2);
    c = counters(r.cli);
    if (clock_mono_ns() < t0 + 150 * MS) { /* still within the timeout */
        assert_int_equal(c.conns_connecting, 1);
        assert_int_equal(c.conns_out, 0);
    }
    while ((c = counters(r.cli)).connect_timeouts < 1 && clock_mono_ns() < t0 + 3000 * MS)
        sleep_ms(5);
    assert_int_equal(c.connect_timeouts, 1);
    assert_true(clock_mono_ns() - t0 >= 200 * MS);
    assert_int_equal(c.conns_connected, 0);
    assert_int_equal(c.conns_out, 0);
    /* The sink saw the client give up during the handshake. */
    uint64_t deadline = clock_mono_ns() + 2000 * MS;
    struct tk_counters sc;
    while ((sc = counters(r.sink)).hs_failures[TK_HSF_WS_EOF] < 1 && clock_mono_ns() < deadline)
        sleep_ms(5);
    assert_int_equal(sc.hs_failures[TK_HSF_WS_EOF], 1);
    assert_int_equal(sc.conns_in, 0);
    rig_free_fake(&r);
}

/* Under the upstream cap a framing transport is offered whole messages only; plain
 * transports are cut anywhere (the contrast shows the check can fail). */
static void test_framed_cap_boundaries(void **state)
{
    (void)state;
    char msg[101];
    memset(msg, 'x', 100);
    msg[100] = '\0';
    for (int framed = 1; framed >= 0; framed--) {
        struct rig r;
        rig_init(&r);
        start_sink_fake(&r, TK_LISTEN_SILENT, 0);
        rig_add_msg(&r, TK_MSG_REPEAT, msg, false);
        r.cli_cfg.bandwidth_up_Bps = 2000; /* 20 bytes a 10 ms step */
        fake_unit = 100;
        atomic_store(&fake_cut_sends, 0);
        start_client_fake(&r, framed);
        wait_conns_out(r.cli, 1);
        sleep_ms(400);
        tk_engine_stop(r.cli);
        struct tk_counters c = counters(r.cli);
        assert_true(c.msgs_sent >= 4);
        if (framed) {
            assert_int_equal(atomic_load(&fake_cut_sends), 0);
            assert_int_equal((c.bytes_sent - 3) % 100, 0);
            assert_true(c.bytes_sent - 3 <= 100 * 12); /* the cap holds: ~0.4 s of 2000 B/s */
        } else {
            assert_true(atomic_load(&fake_cut_sends) > 0);
        }
        rig_free_fake(&r);
    }
}

static void test_lifetime_replaces(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_SILENT);
    r.cli_cfg.connections = 2;
    r.cli_cfg.channel_lifetime_set = true;
    r.cli_cfg.channel_lifetime_ns = 40 * MS;
    start_client(&r);
    uint64_t deadline = clock_mono_ns() + 3000 * MS;
    struct tk_counters c;
    while ((c = counters(r.cli)).conns_lifetime_ended < 6 && clock_mono_ns() < deadline)
        sleep_ms(5);
    assert_true(c.conns_lifetime_ended >= 6);
    assert_true(c.conns_connected >= c.conns_lifetime_ended);
    assert_true(c.conns_out + c.conns_connecting <= 2);
    rig_free(&r);
}

static void test_lifetime_zero_ramps(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_SILENT);
    rig_add_msg(&r, TK_MSG_REPEAT, "bye", false);
    r.cli_cfg.connections = 5;
    r.cli_cfg.channel_lifetime_set = true;
    r.cli_cfg.channel_lifetime_ns = 0;
    start_client(&r);
    uint64_t deadline = clock_mono_ns() + 3000 * MS;
    struct tk_counters c;
    while ((c = counters(r.cli)).conns_connected < 5 && clock_mono_ns() < deadline)
        sleep_ms(5);
    assert_true(c.conns_connected >= 5); /* every one of the 5 was established once */
    tk_engine_stop(r.cli);
    c = counters(r.cli);
    assert_true(c.conns_lifetime_ended >= 5);
    assert_true(c.msgs_sent >= c.conns_lifetime_ended); /* each sent its message first */
    rig_free(&r);
}

static void test_refused_counted(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_SILENT);
    /* Take the sink's port away: connects to it are refused. */
    tk_engine_stop(r.sink);
    r.cli_cfg.connections = 2;
    start_client(&r);
    uint64_t deadline = clock_mono_ns() + 3000 * MS;
    struct tk_counters c;
    while ((c = counters(r.cli)).connect_refused < 5 && clock_mono_ns() < deadline)
        sleep_ms(5);
    assert_true(c.connect_refused >= 5);
    assert_int_equal(c.connect_failures, c.connect_refused + c.connect_timeouts +
                                             c.connect_other_errors);
    assert_int_equal(c.conns_connected, 0);
    assert_int_equal(c.conns_out, 0);
    rig_free(&r);
}

static void test_bind_conflict(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    start_sink(&r, TK_LISTEN_SILENT);
    struct tk_config c2;
    base_config(&c2);
    struct sock_addr_list l = {1, &r.dest.addr};
    c2.listen = true;
    c2.listen_addrs = l;
    int code = 0;
    char err[256], want[128];
    struct tk_engine *e2 = tk_engine_new(&c2, r.control, &r.ev, &code, err, sizeof(err));
    assert_non_null(e2);
    assert_true(tk_engine_start(e2, &code, err, sizeof(err)) < 0);
    assert_int_equal(code, 69);
    snprintf(want, sizeof(want), "Bind [127.0.0.1]:%u is not done on thread 0: %s",
             sock_addr_port(&r.dest.addr), strerror(EADDRINUSE));
    assert_string_equal(err, want);
    tk_engine_free(e2);
    rig_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_agree),
        cmocka_unit_test(test_echo_latency_marker_rate),
        cmocka_unit_test(test_closed_loop),
        cmocka_unit_test(test_more_received_than_sent),
        cmocka_unit_test(test_latency_marker_skip),
        cmocka_unit_test(test_dynamic_source),
        cmocka_unit_test(test_fake_transport_echo),
        cmocka_unit_test(test_fake_transport_data_with_handshake),
        cmocka_unit_test(test_fake_transport_refused),
        cmocka_unit_test(test_fake_transport_handshake_timeout),
        cmocka_unit_test(test_framed_cap_boundaries),
        cmocka_unit_test(test_lifetime_replaces),
        cmocka_unit_test(test_lifetime_zero_ramps),
        cmocka_unit_test(test_refused_counted),
        cmocka_unit_test(test_bind_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
