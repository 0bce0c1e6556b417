/* seqtest's senders: -s (asynchronous: send back to back, read replies as they come) and
 * -S (synchronous: one request, wait for its reply, then the next), as connection state
 * machines on worker loops.
 *
 * Flow of a run: every worker opens its connections (at most SEQ_CONNECT_WINDOW connects in
 * flight per worker, so tens of thousands of connections do not overflow the replier's
 * accept queue at once); when the last connection of the run is established the control
 * thread stamps the begin time and posts the start to every worker; each connection then
 * sends its count messages and checks the replies; the last connection to finish stamps
 * the finish time and stops the control loop.
 *
 * With sdelay 0 the asynchronous sender fills a per-worker buffer with as many messages as
 * fit and writes them with one send(), so 40-byte messages are not one syscall each. Bytes
 * the kernel did not take are copied to a small per-connection buffer until it drains.
 *
 * With -S, a worker that owns a single connection does not use epoll at all: it writes the
 * request and waits for the reply in a blocking recv() (sync_wait_direct), two system
 * calls per round trip. */
#include "seqtest/sender.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/util.h"
#include "seqtest/verify.h"

#define SEQ_CONNECT_WINDOW 512
#define SEQ_RXBUF (64 * 1024)
#define SEQ_BATCHES_PER_EVENT 8
#define SEQ_READS_PER_EVENT 8
/* Sample arrays are allocated for up to this many replies per worker before the run, so
 * that no reallocation (and copy) happens while round trips are being timed. */
#define SEQ_SAMPLES_RESERVED (1u << 20)
/* -S direct wait: how often a blocking recv() or send() looks at the stop flag. */
#define SEQ_DIRECT_TIMEOUT_US 100000

enum send_result {
    SEND_FAILED = -1,
    SEND_PENDING = 0,
    SEND_DONE = 1,
};

static bool sync_next(struct seq_sconn *c);

/* ---- reporting --------------------------------------------------------------------- */

static struct seq_run *run_of(const struct seq_sconn *c)
{
    return c->w->run;
}

static void sconn_vreport(struct seq_sconn *c, enum seq_viol kind, const struct seq_at *at,
                          const char *fmt, va_list ap)
{
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    struct seq_where where = {false, c->id, &c->target->addr};
    seq_conn_report(run_of(c), &c->log, &where, kind, at, text);
}

static void sconn_report(struct seq_sconn *c, enum seq_viol kind, const struct seq_at *at,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void sconn_report(struct seq_sconn *c, enum seq_viol kind, const struct seq_at *at,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sconn_vreport(c, kind, at, fmt, ap);
    va_end(ap);
}

/* ---- ending connections ------------------------------------------------------------ */

static void on_control_stop(void *arg)
{
    struct seq_run *r = arg;
    loop_stop(r->control);
}

static void on_all_done(void *arg)
{
    struct seq_run *r = arg;
    r->finish_ns = clock_mono_ns();
    r->finished = true;
    loop_stop(r->control);
}

static void on_all_connected(void *arg);

static void sconn_close(struct seq_sconn *c)
{
    struct loop *loop = c->w->w->loop;
    loop_timer_cancel(loop, &c->delay_timer);
    if (c->fd >= 0) {
        loop_del_fd(loop, &c->lfd);
        close(c->fd);
        c->fd = -1;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
}

static void sconn_finished(struct seq_sconn *c)
{
    struct seq_run *r = run_of(c);
    if (atomic_fetch_add(&r->done, 1) + 1 == r->nconns)
        worker_post_control(c->w->w, on_all_done, r);
}

static void sconn_complete(struct seq_sconn *c)
{
    c->state = SCONN_DONE;
    sconn_close(c);
    sconn_finished(c);
}

/* Ends the connection because of a fault: prints and counts it, keeps its text for the
 * results; with -S the whole run stops (the original exits 1 at the first fault). */
static void sconn_fail(struct seq_sconn *c, enum seq_viol kind, const struct seq_at *at,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void sconn_fail(struct seq_sconn *c, enum seq_viol kind, const struct seq_at *at,
                       const char *fmt, ...)
{
    struct seq_run *r = run_of(c);
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sconn_report(c, kind, at, "%s", text);
    if (!c->error)
        c->error = strdup(text);
    c->state = SCONN_FAILED;
    sconn_close(c);
    char where[SOCK_ADDR_STRLEN];
    seq_run_set_error(r, 1, "conn %u %s: %s", c->id,
                      sock_addr_format(&c->target->addr, where, sizeof where), text);
    if (r->mode == SEQ_MODE_SYNC && !atomic_exchange(&r->fatal, true))
        worker_post_control(c->w->w, on_control_stop, r);
    sconn_finished(c);
}

/* A setup failure (socket, bind, connect): the whole run stops with exit 1. */
static void run_abort(struct seq_sworker *w, const char *text)
{
    struct seq_run *r = w->run;
    seq_run_fail(r, text);
    if (!atomic_exchange(&r->fatal, true))
        worker_post_control(w->w, on_control_stop, r);
}

/* The connection could not be set up: keep why, and stop the run. */
static void sconn_setup_failed(struct seq_sconn *c, const char *text)
{
    sconn_close(c);
    c->state = SCONN_FAILED;
    if (!c->error)
        c->error = strdup(text);
    run_abort(c->w, text);
}

/* ---- sending ----------------------------------------------------------------------- */

static void want_output(struct seq_sconn *c, bool on)
{
    loop_mod_fd(c->w->w->loop, &c->lfd, EPOLLIN | (on ? EPOLLOUT : 0));
}

/* Writes one message (header and payload) into buf. */
static void build_message(const struct seq_sconn *c, uint8_t *buf, uint64_t seqno, uint64_t ts1,
                          const struct seq_draw *d)
{
    struct wire_hdr h = {seqno, ts1, 0, 0, d->rdly, d->ssz, d->rsz};
    size_t payload = (size_t)d->ssz - WIRE_HDR_LEN;
    if (run_of(c)->cfg->verify) {
        verify_seal_request(&h, c->id);
        verify_fill(verify_key(c->id, VERIFY_REQUEST, seqno, ts1), WIRE_HDR_LEN, buf + WIRE_HDR_LEN,
                    payload);
    } else {
        memset(buf + WIRE_HDR_LEN, 0, payload);
    }
    wire_hdr_encode(&h, buf);
}

static enum send_result send_failed(struct seq_sconn *c, ssize_t n)
{
    sconn_fail(c, SEQ_V_IO_ERROR, NULL, "sender/send: %s", strerror((int)-n));
    return SEND_FAILED;
}

/* Sends len bytes; what the kernel does not take goes to c->pend. */
static enum send_result sconn_send(struct seq_sconn *c, const uint8_t *buf, size_t len)
{
    ssize_t n = sock_send(c->fd, buf, len);
    if (n == (ssize_t)len) {
        c->bytes_sent += len;
        return SEND_DONE;
    }
    if (n < 0 && n != -EAGAIN)
        return send_failed(c, n);
    if (n < 0)
        n = 0;
    c->bytes_sent += (uint64_t)n;
    size_t rest = len - (size_t)n;
    c->pend = malloc(rest);
    if (!c->pend) {
        sconn_fail(c, SEQ_V_IO_ERROR, NULL, "sender/send: out of memory");
        return SEND_FAILED;
    }
    memcpy(c->pend, buf + n, rest);
    c->pend_len = (uint32_t)rest;
    c->pend_off = 0;
    want_output(c, true);
    return SEND_PENDING;
}

static enum send_result sconn_flush_pend(struct seq_sconn *c)
{
    size_t rest = c->pend_len - c->pend_off;
    ssize_t n = sock_send(c->fd, c->pend + c->pend_off, rest);
    if (n < 0 && n != -EAGAIN)
        return send_failed(c, n);
    if (n < 0)
        return SEND_PENDING;
    c->bytes_sent += (uint64_t)n;
    if ((size_t)n < rest) {
        c->pend_off += (uint32_t)n;
        return SEND_PENDING;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    return SEND_DONE;
}

static void note_sent(struct seq_sconn *c, uint64_t ts1)
{
    if (c->next_seqno == 0)
        c->first_ts1 = ts1;
    c->next_seqno++;
    c->msgs_sent++;
    if (run_of(c)->debug)
        seq_debug_char(run_of(c), '>');
}

static void arm_delay(struct seq_sconn *c, uint64_t delay_ns)
{
    loop_timer_arm(c->w->w->loop, &c->delay_timer, clock_mono_ns() + delay_ns);
}

/* -s: builds into the worker's buffer as many of the next messages as fit, all stamped
 * ts1, and stops before a message whose send delay has not been waited yet. Returns the
 * bytes built; *delay_ns receives that delay (0 when none stopped the batch). */
static size_t async_build_batch(struct seq_sconn *c, uint64_t ts1, uint64_t *delay_ns)
{
    struct seq_sworker *w = c->w;
    const struct seq_config *cfg = w->run->cfg;
    bool paced = cfg->sdelay.max > 0;
    size_t len = 0;
    *delay_ns = 0;
    while (c->next_seqno < cfg->count) {
        struct seq_draw d;
        seq_draw_msg(cfg, c->seed, c->next_seqno, &d);
        if (paced && d.sdelay_ns > 0 && !c->delay_done) {
            *delay_ns = d.sdelay_ns;
            break;
        }
        if (len + d.ssz > w->txcap)
            break;
        c->delay_done = false;
        build_message(c, w->txbuf + len, c->next_seqno, ts1, &d);
        len += d.ssz;
        note_sent(c, ts1);
    }
    return len;
}

/* -s: builds and sends messages until the socket is full, a delay is due, or all are sent. */
static void async_pump(struct seq_sconn *c)
{
    const struct seq_config *cfg = run_of(c)->cfg;
    if (c->pend && sconn_flush_pend(c) != SEND_DONE)
        return;
    for (int batch = 0; c->next_seqno < cfg->count; batch++) {
        if (batch == SEQ_BATCHES_PER_EVENT) {
            want_output(c, true); /* writable: the loop calls back after other work */
            return;
        }
        uint64_t delay_ns;
        size_t len = async_build_batch(c, clock_mono_ns(), &delay_ns);
        if (len == 0 && delay_ns > 0) { /* what was built before the delay is sent */
            want_output(c, false);
            arm_delay(c, delay_ns);
            return;
        }
        if (sconn_send(c, c->w->txbuf, len) != SEND_DONE)
            return;
    }
    c->sent_all = true;
    want_output(c, false);
    if (c->replies_rx >= c->replies_expected)
        sconn_complete(c);
}

/* -S: sends the request drawn in c->sent. */
static void sync_send_now(struct seq_sconn *c)
{
    struct seq_sworker *w = c->w;
    uint64_t ts1 = clock_mono_ns();
    build_message(c, w->txbuf, c->next_seqno, ts1, &c->sent);
    c->sent_ts1 = ts1;
    note_sent(c, ts1);
    sconn_send(c, w->txbuf, c->sent.ssz);
}

/* -S: the next request, after its delay. Returns false when the connection ended. */
static bool sync_next(struct seq_sconn *c)
{
    const struct seq_config *cfg = run_of(c)->cfg;
    if (c->next_seqno >= cfg->count) {
        c->sent_all = true;
        sconn_complete(c);
        return false;
    }
    seq_draw_msg(cfg, c->seed, c->next_seqno, &c->sent);
    if (c->sent.sdelay_ns > 0 && c->direct) {
        /* Nothing else runs on this worker: wait here (spinning under 1 ms). */
        clock_wait_until(clock_mono_ns() + c->sent.sdelay_ns, CLOCK_SPIN_THRESHOLD_NS);
    } else if (c->sent.sdelay_ns > 0) {
        arm_delay(c, c->sent.sdelay_ns);
        return true;
    }
    sync_send_now(c);
    return c->state == SCONN_RUNNING;
}

/* The socket is writable: send what waits. */
static void sconn_on_writable(struct seq_sconn *c)
{
    if (run_of(c)->mode != SEQ_MODE_SYNC)
        async_pump(c);
    else if (c->pend && sconn_flush_pend(c) == SEND_DONE)
        want_output(c, false);
}

static void on_delay(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct seq_sconn *c = container_of(t, struct seq_sconn, delay_timer);
    if (c->state != SCONN_RUNNING)
        return;
    if (run_of(c)->mode == SEQ_MODE_SYNC) {
        sync_send_now(c);
    } else {
        c->delay_done = true;
        async_pump(c);
    }
}

/* ---- samples ----------------------------------------------------------------------- */

/* Room for element n of an array of cap elements of size bytes: v itself, or v grown
 * (doubled) with *cap updated; NULL when out of memory (v is then unchanged). */
static void *grow_for(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return v;
    size_t ncap = *cap ? *cap * 2 : 1024;
    void *p = realloc(v, ncap * size);
    if (p)
        *cap = ncap;
    return p;
}

static void keep_dump_record(struct seq_sconn *c, const struct wire_hdr *h, uint64_t lat)
{
    struct seq_sworker *w = c->w;
    struct seq_run *r = w->run;
    struct seq_dump_rec *v = grow_for(w->dump, &w->capdump, w->ndump, sizeof *v);
    if (!v) {
        w->oom = true;
        return;
    }
    w->dump = v;
    bool sync = r->mode == SEQ_MODE_SYNC;
    w->dump[w->ndump++] = (struct seq_dump_rec){
        .conn = c->id,
        .rsz = sync ? h->rsz : 0,
        .ssz = sync ? c->sent.ssz : 0,
        .time_ns = (int64_t)(h->ts1 - r->begin_ns),
        .lat_ns = lat,
    };
}

/* One reply's sample: rtt is the raw round trip, lat the latency (rtt minus the replier's
 * processing time) that the summary and the dump file report. */
static void record_sample(struct seq_sconn *c, const struct wire_hdr *h, uint64_t rtt, uint64_t lat)
{
    struct seq_sworker *w = c->w;
    uint64_t *v = grow_for(w->lat, &w->caplat, w->nlat, sizeof *v);
    if (!v) {
        w->oom = true;
        return;
    }
    w->lat = v;
    w->lat[w->nlat++] = lat;
    hist_record(&w->latency_hist, lat);
    hist_record(&w->round_trip_hist, rtt);
    if (w->run->dump)
        keep_dump_record(c, h, lat);
}

/* ---- replies ----------------------------------------------------------------------- */

static bool size_fault(struct seq_sconn *c, const struct wire_event *ev)
{
    struct seq_at at = {.has_seqno = true,
                        .seqno = c->replies_rx,
                        .has_stream = true,
                        .stream_off = ev->msg_stream_off};
    char text[128];
    seq_format_size_fault(text, sizeof text, ev);
    sconn_fail(c, SEQ_V_SIZE, &at, "%s", text);
    return false;
}

/* The echo check of -o verify: the reply must echo what request req_seqno asked. Returns
 * true when it does; otherwise text describes the difference. */
static bool echo_ok(const struct wire_hdr *h, uint64_t req_seqno, const struct seq_draw *d,
                    char *text, size_t len)
{
    if (h->ssz == d->ssz && h->rsz == d->rsz && h->rdly == d->rdly)
        return true;
    snprintf(text, len,
             "reply %" PRIu64 " echoes ssz %u rsz %u rdly %u, request %" PRIu64
             " had ssz %u rsz %u rdly %u",
             h->seqno, h->ssz, h->rsz, h->rdly, req_seqno, d->ssz, d->rsz, d->rdly);
    return false;
}

/* -S: the original's checks, every one fatal. Returns false when the connection ended. */
static bool sync_reply_header(struct seq_sconn *c, const struct wire_event *ev)
{
    const struct wire_hdr *h = &ev->hdr;
    uint64_t sent_seqno = c->next_seqno - 1;
    struct seq_at at = {.has_seqno = true,
                        .seqno = sent_seqno,
                        .has_stream = true,
                        .stream_off = ev->msg_stream_off};
    if (!c->next_seqno || c->pend) {
        sconn_fail(c, SEQ_V_SEQNO, &at, "reply seqno %" PRIu64 " before its request was sent",
                   h->seqno);
        return false;
    }
    if (h->seqno != sent_seqno) {
        sconn_fail(c, SEQ_V_SEQNO, &at, "reply seqno out of order (%" PRIu64 " != %" PRIu64 ")!!",
                   h->seqno, sent_seqno);
        return false;
    }
    if (h->ts3 < h->ts2) {
        sconn_fail(c, SEQ_V_NEGATIVE_COST, &at,
                   "negative packet processing cost (ts3 %" PRIu64 " < ts2 %" PRIu64 ")", h->ts3,
                   h->ts2);
        return false;
    }
    if (h->ts1 != c->sent_ts1) {
        sconn_fail(c, SEQ_V_TS1_MISMATCH, &at, "mismatched timestamps: %" PRIu64 " != %" PRIu64,
                   h->ts1, c->sent_ts1);
        return false;
    }
    char text[300];
    if (run_of(c)->cfg->verify && !echo_ok(h, sent_seqno, &c->sent, text, sizeof text)) {
        sconn_fail(c, SEQ_V_ECHO, &at, "%s", text);
        return false;
    }
    return true;
}

/* -s: the original's checks, all non-fatal: seqno continuity, ts1 order, time travel and
 * the processing cost. Returns false when one of them failed. */
static bool async_original_checks(struct seq_sconn *c, const struct wire_hdr *h, uint64_t now,
                                  const struct seq_at *at)
{
    bool ok = true;
    if (h->seqno != c->expect_reply_seqno) {
        sconn_report(c, SEQ_V_SEQNO, at, "reply seqno out of order (%" PRIu64 " != %" PRIu64 ")!!",
                     h->seqno, c->expect_reply_seqno);
        ok = false;
    }
    c->expect_reply_seqno = h->seqno + 1;
    if (c->have_prev && h->ts1 < c->prev_ts1) {
        sconn_report(c, SEQ_V_TS1_BACKWARDS, at, "ts1 backwards %" PRIu64 " < %" PRIu64 " !!",
                     h->ts1, c->prev_ts1);
        ok = false;
    }
    if (c->have_prev && now < c->prev_ts1) {
        sconn_report(c, SEQ_V_TIME_TRAVEL, at, "time-travelling packet");
        ok = false;
    }
    if (h->ts3 < h->ts2) {
        sconn_report(c, SEQ_V_NEGATIVE_COST, at,
                     "negative packet processing cost (ts3 %" PRIu64 " < ts2 %" PRIu64 ")", h->ts3,
                     h->ts2);
        ok = false;
    }
    c->prev_ts1 = h->ts1;
    c->have_prev = true;
    return ok;
}

/* -s -o verify: the echoed ts1 must be one this connection sent, and the echoed sizes and
 * delay those its request asked for. Returns false when one of them failed. */
static bool async_verify_checks(struct seq_sconn *c, const struct wire_hdr *h, uint64_t now,
                                const struct seq_at *at)
{
    const struct seq_config *cfg = run_of(c)->cfg;
    bool ok = true;
    if (h->ts1 < c->first_ts1 || h->ts1 > now) {
        sconn_report(c, SEQ_V_TS1_MISMATCH, at,
                     "mismatched timestamps: reply %" PRIu64 " ts1 %" PRIu64 " outside [%" PRIu64
                     ", %" PRIu64 "]",
                     h->seqno, h->ts1, c->first_ts1, now);
        ok = false;
    }
    uint64_t req = c->replies_rx * cfg->rinterval;
    struct seq_draw d;
    seq_draw_msg(cfg, c->seed, req, &d);
    char text[300];
    if (!echo_ok(h, req, &d, text, sizeof text)) {
        sconn_report(c, SEQ_V_ECHO, at, "%s", text);
        ok = false;
    }
    return ok;
}

/* -s: the original's checks, then, with -o verify, the plausibility checks, after which a
 * fault means the framing is lost. Returns false when the connection ended. */
static bool async_reply_header(struct seq_sconn *c, const struct wire_event *ev, uint64_t now)
{
    const struct wire_hdr *h = &ev->hdr;
    struct seq_at at = {
        .has_seqno = true, .seqno = h->seqno, .has_stream = true, .stream_off = ev->msg_stream_off};
    bool ok = async_original_checks(c, h, now, &at);
    if (!run_of(c)->cfg->verify)
        return true;
    if (!async_verify_checks(c, h, now, &at) || !ok) {
        sconn_fail(c, SEQ_V_COUNT, &at, "reply header damaged, framing lost, closing connection");
        return false;
    }
    return true;
}

static bool on_reply_header(struct seq_sconn *c, const struct wire_event *ev, uint64_t now)
{
    bool sync = run_of(c)->mode == SEQ_MODE_SYNC;
    if (!(sync ? sync_reply_header(c, ev) : async_reply_header(c, ev, now)))
        return false;
    if (run_of(c)->cfg->verify)
        verify_tracker_start(&c->payload,
                             verify_key(c->id, VERIFY_REPLY, ev->hdr.seqno, ev->hdr.ts1));
    return true;
}

/* Reports the wrong payload bytes of a complete reply; with -S the connection fails.
 * Returns false when the connection ended. */
static bool payload_fault(struct seq_sconn *c, const struct wire_event *ev)
{
    const struct wire_hdr *h = &ev->hdr;
    char text[256];
    struct seq_at at;
    seq_format_payload_mismatch(text, sizeof text, &at, h->seqno, &c->payload, ev->msg_stream_off,
                                h->rsz - WIRE_HDR_LEN);
    if (run_of(c)->mode == SEQ_MODE_SYNC) {
        sconn_fail(c, SEQ_V_PAYLOAD, &at, "%s", text);
        return false;
    }
    sconn_report(c, SEQ_V_PAYLOAD, &at, "%s", text);
    return true;
}

/* A complete reply, received at now. Returns false when the connection ended. */
static bool on_reply_done(struct seq_sconn *c, const struct wire_event *ev, uint64_t now)
{
    const struct wire_hdr *h = &ev->hdr;
    struct seq_run *r = run_of(c);
    if (c->payload.nbad && !payload_fault(c, ev))
        return false;
    /* Every reply is a sample, as in the original; implausible timestamps (already
     * reported) count as 0 instead of wrapping around. */
    uint64_t rtt = now >= h->ts1 ? now - h->ts1 : 0;
    uint64_t cost = h->ts3 >= h->ts2 ? h->ts3 - h->ts2 : 0;
    record_sample(c, h, rtt, rtt > cost ? rtt - cost : 0);
    c->replies_rx++;
    if (r->debug)
        seq_debug_char(r, '<');
    if (r->mode == SEQ_MODE_SYNC)
        return sync_next(c);
    if (c->sent_all && c->replies_rx >= c->replies_expected) {
        sconn_complete(c);
        return false;
    }
    return true;
}

/* Frames and checks the replies in buf. Returns false when the connection ended. */
static bool process_replies(struct seq_sconn *c, const uint8_t *buf, size_t len, uint64_t now)
{
    struct wire_event ev;
    for (;;) {
        switch (wire_parse(&c->rx, &buf, &len, &ev)) {
        case WIRE_EV_MORE:
            return true;
        case WIRE_EV_BAD_SIZE:
            return size_fault(c, &ev);
        case WIRE_EV_HEADER:
            if (!on_reply_header(c, &ev, now))
                return false;
            break;
        case WIRE_EV_PAYLOAD:
            if (run_of(c)->cfg->verify)
                verify_tracker_feed(&c->payload, ev.offset, ev.data, ev.len);
            break;
        case WIRE_EV_MESSAGE:
            if (!on_reply_done(c, &ev, now))
                return false;
            break;
        }
    }
}

/* Handles the result n of one recv() that returned at now. Returns true when more may be
 * waiting: the connection still runs and the read filled the buffer. */
static bool sconn_received(struct seq_sconn *c, ssize_t n, uint64_t now)
{
    struct seq_sworker *w = c->w;
    if (n == -EAGAIN)
        return false;
    if (n < 0) {
        sconn_fail(c, SEQ_V_IO_ERROR, NULL, "rcvr/recv: %s", strerror((int)-n));
        return false;
    }
    if (n == 0) {
        bool sync = run_of(c)->mode == SEQ_MODE_SYNC;
        if (c->state == SCONN_RUNNING && c->sent_all && c->replies_rx >= c->replies_expected)
            sconn_complete(c);
        else
            sconn_fail(c, SEQ_V_CLOSED_EARLY, NULL,
                       "%s: recv closed too soon (%" PRIu64 " rx, expected %" PRIu64 ")",
                       sync ? "sender" : "receiver", c->replies_rx, c->replies_expected);
        return false;
    }
    c->bytes_rx += (uint64_t)n;
    if (c->state != SCONN_RUNNING) {
        sconn_fail(c, SEQ_V_SEQNO, NULL, "data from the replier before the first request");
        return false;
    }
    if (!process_replies(c, w->rxbuf, (size_t)n, now))
        return false;
    return (size_t)n == w->rxcap;
}

static void sconn_read(struct seq_sconn *c)
{
    struct seq_sworker *w = c->w;
    /* Bounded per event (fairness between the connections of a worker); epoll is
     * level-triggered and reports the rest. */
    for (int i = 0; i < SEQ_READS_PER_EVENT; i++) {
        ssize_t n = sock_recv(c->fd, w->rxbuf, w->rxcap);
        if (!sconn_received(c, n, clock_mono_ns()))
            return;
    }
}

/* Makes the socket blocking, with timeouts so that the wait looks at the stop flag. The
 * timeouts come first: when they cannot be set the socket stays non-blocking. */
static bool set_blocking_with_timeouts(int fd)
{
    struct timeval tv = {0, SEQ_DIRECT_TIMEOUT_US};
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
           setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0 &&
           sock_set_nonblock(fd, false) == 0;
}

/* -S with one connection on the worker: the reply is read with a blocking recv() right
 * after the request is written, one syscall fewer per round trip than waiting in epoll.
 * Processing a reply sends the next request (sync_next), so this loop only reads; it
 * ends with the connection or when the worker is stopped. */
static void sync_wait_direct(struct seq_sconn *c)
{
    struct loop *loop = c->w->w->loop;
    if (!set_blocking_with_timeouts(c->fd)) {
        c->direct = false;
        sync_next(c);
        return;
    }
    loop_mod_fd(loop, &c->lfd, 0);
    if (!sync_next(c))
        return;
    while (c->state == SCONN_RUNNING && !loop_stopping(loop)) {
        if (c->pend) {
            if (sconn_flush_pend(c) == SEND_FAILED)
                return;
            continue;
        }
        ssize_t n = sock_recv(c->fd, c->w->rxbuf, c->w->rxcap);
        uint64_t now = clock_mono_ns();
        if (n != -EAGAIN) /* EAGAIN: the timeout, to look at the stop flag */
            sconn_received(c, n, now);
    }
}

/* ---- connecting -------------------------------------------------------------------- */

static void worker_open_more(struct seq_sworker *w);

static void on_connected(struct seq_sconn *c)
{
    struct seq_run *r = run_of(c);
    int rc = sock_connect_result(c->fd);
    if (rc < 0) {
        char addr[SOCK_ADDR_STRLEN], text[300];
        snprintf(text, sizeof text, "connect to %s: %s",
                 sock_addr_format(&c->target->addr, addr, sizeof addr), strerror(-rc));
        sconn_setup_failed(c, text);
        return;
    }
    sock_local_addr(c->fd, &c->local);
    c->state = SCONN_READY;
    loop_mod_fd(c->w->w->loop, &c->lfd, EPOLLIN);
    if (atomic_fetch_add(&r->connected, 1) + 1 == r->nconns)
        worker_post_control(c->w->w, on_all_connected, r);
}

static void on_sconn_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    (void)loop;
    struct seq_sconn *c = container_of(h, struct seq_sconn, lfd);
    if (c->state == SCONN_CONNECTING) {
        c->w->inflight--;
        on_connected(c);
        worker_open_more(c->w);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        sconn_read(c);
        if (c->state != SCONN_RUNNING && c->state != SCONN_READY)
            return;
    }
    if ((events & EPOLLOUT) && c->state == SCONN_RUNNING)
        sconn_on_writable(c);
}

static int sconn_open(struct seq_sconn *c, char *err, size_t errlen)
{
    const struct seq_target *t = c->target;
    int fd = sock_tcp_socket(sock_addr_family(&t->addr), true, err, errlen);
    if (fd < 0)
        return fd;
    sock_set_nodelay(fd, true);
    if (t->has_local) {
        char berr[256];
        sock_set_bind_no_port(fd);
        int rc = sock_bind(fd, &t->local, berr, sizeof berr);
        if (rc < 0) {
            snprintf(err, errlen, "binding sender: %s", berr);
            close(fd);
            return rc;
        }
    }
    int rc = sock_connect(fd, &t->addr, err, errlen);
    if (rc < 0 && rc != -EINPROGRESS) {
        close(fd);
        return rc;
    }
    rc = loop_add_fd(c->w->w->loop, &c->lfd, fd, EPOLLOUT, on_sconn_events);
    if (rc < 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(-rc));
        close(fd);
        return rc;
    }
    c->fd = fd;
    c->state = SCONN_CONNECTING;
    return 0;
}

/* Keeps up to SEQ_CONNECT_WINDOW connects of this worker in flight. */
static void worker_open_more(struct seq_sworker *w)
{
    while (w->next_open < w->nconns && w->inflight < SEQ_CONNECT_WINDOW) {
        if (atomic_load(&w->run->fatal))
            return;
        struct seq_sconn *c = w->conns[w->next_open++];
        char err[400];
        if (sconn_open(c, err, sizeof err) < 0) {
            sconn_setup_failed(c, err);
            return;
        }
        w->inflight++;
    }
}

/* ---- start and the worker's life --------------------------------------------------- */

static void worker_start(struct worker *wk, void *arg)
{
    (void)arg;
    struct seq_sworker *w = wk->state;
    for (size_t i = 0; i < w->nconns; i++) {
        struct seq_sconn *c = w->conns[i];
        if (c->state != SCONN_READY)
            continue;
        c->state = SCONN_RUNNING;
        if (w->run->mode != SEQ_MODE_SYNC) {
            async_pump(c);
        } else if (w->nconns == 1) {
            c->direct = true;
            sync_wait_direct(c);
        } else {
            sync_next(c);
        }
    }
}

static void on_all_connected(void *arg)
{
    struct seq_run *r = arg;
    if (atomic_load(&r->fatal))
        return;
    r->begin_ns = clock_mono_ns();
    r->started = true;
    worker_pool_post_all(r->pool, worker_start, NULL);
}

static void worker_init(struct worker *wk)
{
    struct seq_sworker *w = wk->state;
    loop_set_spin_threshold(wk->loop, CLOCK_SPIN_THRESHOLD_NS);
    worker_open_more(w);
}

/* Batch size: large batches for few connections, smaller ones for many, so that the copies
 * of unsent bytes stay small in total. Always room for one message of the largest size. */
static size_t tx_capacity(const struct seq_run *r, size_t nconns)
{
    if (r->mode == SEQ_MODE_SYNC)
        return WIRE_MSG_MAX;
    size_t cap = nconns ? (4u << 20) / nconns : 65536;
    if (cap > 65536)
        cap = 65536;
    if (cap < 16384)
        cap = 16384;
    return cap;
}

/* Allocates the sample arrays for the replies the worker's connections expect (up to
 * SEQ_SAMPLES_RESERVED; beyond that they grow). Pages not yet used cost no memory. */
static bool reserve_samples(struct seq_sworker *w)
{
    uint64_t want = 0;
    for (size_t i = 0; i < w->nconns; i++)
        want += w->conns[i]->replies_expected;
    if (want > SEQ_SAMPLES_RESERVED)
        want = SEQ_SAMPLES_RESERVED;
    if (want == 0)
        return true;
    w->lat = malloc(want * sizeof *w->lat);
    w->caplat = w->lat ? want : 0;
    if (w->run->dump) {
        w->dump = malloc(want * sizeof *w->dump);
        w->capdump = w->dump ? want : 0;
    }
    return w->lat && (!w->run->dump || w->dump);
}

static bool init_worker(struct seq_run *r, unsigned k, size_t conns_per_worker)
{
    struct seq_sworker *w = &r->sworkers[k];
    w->run = r;
    w->w = worker_pool_get(r->pool, k);
    w->w->state = w;
    w->rxcap = SEQ_RXBUF;
    w->txcap = tx_capacity(r, conns_per_worker);
    w->rxbuf = malloc(w->rxcap);
    w->txbuf = malloc(w->txcap);
    w->conns = calloc(conns_per_worker ? conns_per_worker : 1, sizeof *w->conns);
    hist_init(&w->latency_hist, HIST_SUB_BITS_DEFAULT);
    hist_init(&w->round_trip_hist, HIST_SUB_BITS_DEFAULT);
    return w->rxbuf && w->txbuf && w->conns;
}

/* Connection i goes to target i mod targets and runs on worker i mod workers. */
static void init_conn(struct seq_run *r, size_t i)
{
    const struct seq_config *cfg = r->cfg;
    struct seq_sconn *c = &r->conns[i];
    struct seq_sworker *w = &r->sworkers[i % r->nworkers];
    c->w = w;
    c->id = (uint32_t)i;
    c->fd = -1;
    c->target = &r->targets[i % r->ntargets];
    c->seed = seq_conn_seed(r->seed, c->id);
    loop_timer_init(&c->delay_timer, on_delay);
    wire_parser_init(&c->rx, WIRE_REPLIES);
    c->replies_expected = cfg->rinterval ? (cfg->count + cfg->rinterval - 1) / cfg->rinterval : 0;
    w->conns[w->nconns++] = c;
}

static int setup_workers(struct seq_run *r, char *err, size_t errlen)
{
    r->sworkers = calloc(r->nworkers, sizeof *r->sworkers);
    if (!r->sworkers)
        goto oom;
    size_t per = (r->nconns + r->nworkers - 1) / r->nworkers;
    for (unsigned k = 0; k < r->nworkers; k++)
        if (!init_worker(r, k, per))
            goto oom;
    for (size_t i = 0; i < r->nconns; i++)
        init_conn(r, i);
    for (unsigned k = 0; k < r->nworkers; k++)
        if (!reserve_samples(&r->sworkers[k]))
            goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory setting up %zu connections", r->nconns);
    return -ENOMEM;
}

int seq_sender_run(struct seq_run *r)
{
    char err[512];
    if (seq_control_open(r, err, sizeof err) < 0)
        goto fail;
    r->pool = worker_pool_new(r->nworkers, r->control, err, sizeof err);
    if (!r->pool || setup_workers(r, err, sizeof err) < 0)
        goto fail;
    if (worker_pool_start(r->pool, worker_init, err, sizeof err) < 0)
        goto fail;
    loop_run(r->control);
    if (!r->finished)
        r->finish_ns = clock_mono_ns();
    worker_pool_stop(r->pool);
    if (!r->finished && !atomic_load(&r->fatal))
        seq_run_fail(r, "interrupted by a signal");
    for (size_t i = 0; i < r->nconns; i++)
        if (r->conns[i].fd >= 0) {
            close(r->conns[i].fd);
            r->conns[i].fd = -1;
        }
    return r->exit_code;
fail:
    return seq_run_fail(r, err);
}
