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
 * the kernel did not take are copied to a small per-connection buffer until it drains. */
#include "seqtest/sender.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
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

enum send_result {
    SEND_FAILED = -1,
    SEND_PENDING = 0,
    SEND_DONE = 1,
};

static void sconn_pump(struct seq_sconn *c);
static bool sync_next(struct seq_sconn *c);

/* ---- reporting --------------------------------------------------------------------- */

static struct seq_run *run_of(const struct seq_sconn *c)
{
    return c->w->run;
}

/* Counts a violation of kind (SEQ_V_COUNT: none) and prints its line while the connection
 * has lines left. After a -S fault has stopped the run, other connections stay quiet. */
static void sconn_vreport(struct seq_sconn *c, enum seq_viol kind, const struct seq_at *at,
                          const char *fmt, va_list ap)
{
    struct seq_run *r = run_of(c);
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    if (kind < SEQ_V_COUNT)
        c->viol.n[kind]++;
    if (r->mode == SEQ_MODE_SYNC && atomic_load(&r->fatal))
        return;
    if (c->lines >= SEQ_LINES_PER_CONN)
        return;
    c->lines++;
    struct seq_where where = {false, c->id, &c->target->addr};
    if (c->lines == SEQ_LINES_PER_CONN)
        seq_diag(r, &where, kind, at,
                 "%s (further diagnostics on this connection are only "
                 "counted)",
                 text);
    else
        seq_diag(r, &where, kind, at, "%s", text);
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
    loop_timer_cancel(loop, &c->timer);
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
    if (seq_run_set_error(r, 1, "%s", text))
        seq_msg(r, "%s", text);
    if (!atomic_exchange(&r->fatal, true))
        worker_post_control(w->w, on_control_stop, r);
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
    loop_timer_arm(c->w->w->loop, &c->timer, clock_mono_ns() + delay_ns);
}

/* -s: builds and sends messages until the socket is full, a delay is due, or all are sent. */
static void async_pump(struct seq_sconn *c)
{
    struct seq_sworker *w = c->w;
    const struct seq_config *cfg = w->run->cfg;
    if (c->pend) {
        enum send_result sr = sconn_flush_pend(c);
        if (sr != SEND_DONE)
            return;
    }
    bool paced = cfg->sdelay.max > 0;
    for (int batch = 0; c->next_seqno < cfg->count; batch++) {
        if (batch == SEQ_BATCHES_PER_EVENT) {
            want_output(c, true); /* writable: the loop calls back after other work */
            return;
        }
        size_t len = 0;
        uint64_t ts1 = clock_mono_ns();
        while (c->next_seqno < cfg->count) {
            struct seq_draw d;
            seq_draw_msg(cfg, c->seed, c->next_seqno, &d);
            if (paced && d.sdelay_ns > 0 && !c->delay_done) {
                if (len > 0)
                    break; /* send what is built, then wait */
                want_output(c, false);
                arm_delay(c, d.sdelay_ns);
                return;
            }
            if (len + d.ssz > w->txcap)
                break;
            c->delay_done = false;
            build_message(c, w->txbuf + len, c->next_seqno, ts1, &d);
            len += d.ssz;
            note_sent(c, ts1);
        }
        if (sconn_send(c, w->txbuf, len) != SEND_DONE)
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

static void sconn_pump(struct seq_sconn *c)
{
    if (run_of(c)->mode == SEQ_MODE_SYNC) {
        if (c->pend && sconn_flush_pend(c) == SEND_DONE)
            want_output(c, false);
    } else {
        async_pump(c);
    }
}

static void on_delay(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct seq_sconn *c = container_of(t, struct seq_sconn, timer);
    if (c->state != SCONN_RUNNING)
        return;
    if (run_of(c)->mode == SEQ_MODE_SYNC) {
        sync_send_now(c);
    } else {
        c->delay_done = true;
        async_pump(c);
    }
}

/* ---- replies ----------------------------------------------------------------------- */

static void record_sample(struct seq_sconn *c, const struct wire_hdr *h, uint64_t lat)
{
    struct seq_sworker *w = c->w;
    struct seq_run *r = w->run;
    if (w->nlat == w->caplat) {
        size_t cap = w->caplat ? w->caplat * 2 : 1024;
        uint64_t *v = realloc(w->lat, cap * sizeof *v);
        if (!v) {
            w->oom = true;
            return;
        }
        w->lat = v;
        w->caplat = cap;
    }
    w->lat[w->nlat++] = lat;
    hist_record(&w->hist, lat);
    if (!r->dump)
        return;
    if (w->ndump == w->capdump) {
        size_t cap = w->capdump ? w->capdump * 2 : 1024;
        struct seq_dump_rec *v = realloc(w->dump, cap * sizeof *v);
        if (!v) {
            w->oom = true;
            return;
        }
        w->dump = v;
        w->capdump = cap;
    }
    bool sync = r->mode == SEQ_MODE_SYNC;
    w->dump[w->ndump++] = (struct seq_dump_rec){
        .conn = c->id,
        .rsz = sync ? h->rsz : 0,
        .ssz = sync ? c->sent.ssz : 0,
        .time_ns = (int64_t)(h->ts1 - r->begin_ns),
        .lat_ns = lat,
    };
}

static bool size_fault(struct seq_sconn *c, const struct wire_event *ev)
{
    bool rsz = ev->bad_field == WIRE_BAD_RSZ;
    unsigned v = rsz ? ev->hdr.rsz : ev->hdr.ssz;
    struct seq_at at = {.has_seqno = true,
                        .seqno = c->replies_rx,
                        .has_stream = true,
                        .stream_off = ev->msg_stream_off};
    sconn_fail(c, SEQ_V_SIZE, &at, "h->%s too %s (%u %s %d), closing connection",
               rsz ? "rsz" : "ssz", v > WIRE_MSG_MAX ? "big" : "small", v,
               v > WIRE_MSG_MAX ? ">" : "<", v > WIRE_MSG_MAX ? WIRE_MSG_MAX : WIRE_HDR_LEN);
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

/* -s: the original's non-fatal checks, plus the plausibility checks of -o verify, after
 * which a fault means the framing is lost. Returns false when the connection ended. */
static bool async_reply_header(struct seq_sconn *c, const struct wire_event *ev, uint64_t now)
{
    const struct wire_hdr *h = &ev->hdr;
    const struct seq_config *cfg = run_of(c)->cfg;
    struct seq_at at = {
        .has_seqno = true, .seqno = h->seqno, .has_stream = true, .stream_off = ev->msg_stream_off};
    bool ok = true;
    if (h->seqno != c->expect_reply_seqno) {
        sconn_report(c, SEQ_V_SEQNO, &at, "reply seqno out of order (%" PRIu64 " != %" PRIu64 ")!!",
                     h->seqno, c->expect_reply_seqno);
        ok = false;
    }
    c->expect_reply_seqno = h->seqno + 1;
    if (c->have_prev && h->ts1 < c->prev_ts1) {
        sconn_report(c, SEQ_V_TS1_BACKWARDS, &at, "ts1 backwards %" PRIu64 " < %" PRIu64 " !!",
                     h->ts1, c->prev_ts1);
        ok = false;
    }
    if (c->have_prev && now < c->prev_ts1) {
        sconn_report(c, SEQ_V_TIME_TRAVEL, &at, "time-travelling packet");
        ok = false;
    }
    if (h->ts3 < h->ts2) {
        sconn_report(c, SEQ_V_NEGATIVE_COST, &at,
                     "negative packet processing cost (ts3 %" PRIu64 " < ts2 %" PRIu64 ")", h->ts3,
                     h->ts2);
        ok = false;
    }
    c->prev_ts1 = h->ts1;
    c->have_prev = true;
    if (!cfg->verify)
        return true;

    if (h->ts1 < c->first_ts1 || h->ts1 > now) {
        sconn_report(c, SEQ_V_TS1_MISMATCH, &at,
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
        sconn_report(c, SEQ_V_ECHO, &at, "%s", text);
        ok = false;
    }
    if (!ok) {
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
    c->vkey = verify_key(c->id, VERIFY_REPLY, ev->hdr.seqno, ev->hdr.ts1);
    c->vbad = 0;
    return true;
}

static void on_reply_payload(struct seq_sconn *c, const struct wire_event *ev)
{
    if (!run_of(c)->cfg->verify)
        return;
    size_t nbad = 0;
    uint8_t want = 0;
    size_t i = verify_check(c->vkey, ev->offset, ev->data, ev->len, &nbad, &want);
    if (nbad == 0)
        return;
    if (c->vbad == 0) {
        c->vfirst = ev->offset + (uint32_t)i;
        c->vgot = ev->data[i];
        c->vwant = want;
    }
    c->vbad += (uint32_t)nbad;
}

/* A complete reply. Returns false when the connection ended. */
static bool on_reply_done(struct seq_sconn *c, const struct wire_event *ev, uint64_t now)
{
    const struct wire_hdr *h = &ev->hdr;
    struct seq_run *r = run_of(c);
    if (c->vbad) {
        struct seq_at at = {true, true, true, h->seqno, c->vfirst, ev->msg_stream_off + c->vfirst};
        const char *fmt = "payload mismatch at seqno %" PRIu64 " offset %u (stream offset %" PRIu64
                          "): got 0x%02x, expected 0x%02x (%u of %u payload bytes differ)";
        if (r->mode == SEQ_MODE_SYNC) {
            sconn_fail(c, SEQ_V_PAYLOAD, &at, fmt, h->seqno, c->vfirst, at.stream_off, c->vgot,
                       c->vwant, c->vbad, h->rsz - WIRE_HDR_LEN);
            return false;
        }
        sconn_report(c, SEQ_V_PAYLOAD, &at, fmt, h->seqno, c->vfirst, at.stream_off, c->vgot,
                     c->vwant, c->vbad, h->rsz - WIRE_HDR_LEN);
    }
    /* Every reply is a sample, as in the original; implausible timestamps (already
     * reported) count as 0 instead of wrapping around. */
    uint64_t rtt = now >= h->ts1 ? now - h->ts1 : 0;
    uint64_t cost = h->ts3 >= h->ts2 ? h->ts3 - h->ts2 : 0;
    record_sample(c, h, rtt > cost ? rtt - cost : 0);
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
            on_reply_payload(c, &ev);
            break;
        case WIRE_EV_MESSAGE:
            if (!on_reply_done(c, &ev, now))
                return false;
            break;
        }
    }
}

/* Handles the result n of one recv() at time now. Returns true when the caller may read
 * again (the connection is still running and the read filled the buffer, or for the direct
 * path, is still running). */
static bool sconn_after_recv(struct seq_sconn *c, ssize_t n, uint64_t now)
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
        if (!sconn_after_recv(c, n, clock_mono_ns()))
            return;
    }
}

/* -S with one connection on the worker: the reply is read with a blocking recv() right
 * after the request is written, one syscall fewer per round trip than waiting in epoll.
 * The receive and send timeouts (100 ms) let it notice a stop request. Processing a reply
 * sends the next request (sync_next), so this loop only reads. */
static void sync_direct(struct seq_sconn *c)
{
    struct loop *loop = c->w->w->loop;
    struct timeval tv = {0, 100000};
    if (sock_set_nonblock(c->fd, false) < 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
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
        if (n == -EAGAIN || n == -EWOULDBLOCK)
            continue; /* the timeout: look at the stop flag */
        sconn_after_recv(c, n, now);
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
        run_abort(c->w, text);
        sconn_close(c);
        c->state = SCONN_FAILED;
        if (!c->error)
            c->error = strdup(text);
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
        sconn_pump(c);
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
            c->state = SCONN_FAILED;
            c->error = strdup(err);
            run_abort(w, err);
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
            sync_direct(c);
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

static int setup_workers(struct seq_run *r, char *err, size_t errlen)
{
    r->sworkers = calloc(r->nworkers, sizeof *r->sworkers);
    if (!r->sworkers)
        goto oom;
    size_t per = (r->nconns + r->nworkers - 1) / r->nworkers;
    for (unsigned k = 0; k < r->nworkers; k++) {
        struct seq_sworker *w = &r->sworkers[k];
        w->run = r;
        w->w = worker_pool_get(r->pool, k);
        w->w->state = w;
        w->rxcap = SEQ_RXBUF;
        w->txcap = tx_capacity(r, per);
        w->rxbuf = malloc(w->rxcap);
        w->txbuf = malloc(w->txcap);
        w->conns = calloc(per ? per : 1, sizeof *w->conns);
        if (!w->rxbuf || !w->txbuf || !w->conns)
            goto oom;
        hist_init(&w->hist, HIST_SUB_BITS_DEFAULT);
    }
    for (size_t i = 0; i < r->nconns; i++) {
        struct seq_sconn *c = &r->conns[i];
        struct seq_sworker *w = &r->sworkers[i % r->nworkers];
        c->w = w;
        c->id = (uint32_t)i;
        c->fd = -1;
        c->target = &r->targets[i % r->ntargets];
        c->seed = seq_conn_seed(r->seed, c->id);
        loop_timer_init(&c->timer, on_delay);
        wire_parser_init(&c->rx, WIRE_REPLIES);
        const struct seq_config *cfg = r->cfg;
        c->replies_expected =
            cfg->rinterval ? (cfg->count + cfg->rinterval - 1) / cfg->rinterval : 0;
        w->conns[w->nconns++] = c;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory setting up %zu connections", r->nconns);
    return -ENOMEM;
}

static void on_signal(struct loop *loop, struct loop_signal *s, int signo)
{
    (void)s;
    (void)signo;
    loop_stop(loop);
}

int seq_sender_run(struct seq_run *r)
{
    char err[512];
    struct loop_signal sig;
    static const int signals[] = {SIGINT, SIGTERM};
    r->control = loop_new(err, sizeof err);
    if (!r->control)
        goto fail;
    if (loop_signal_add(r->control, &sig, signals, ARRAY_LEN(signals), on_signal, err, sizeof err) <
        0)
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
    if (!r->finished && !atomic_load(&r->fatal)) {
        r->interrupted = true;
        if (seq_run_set_error(r, 1, "interrupted by a signal"))
            seq_msg(r, "interrupted by a signal");
    }
    for (size_t i = 0; i < r->nconns; i++)
        if (r->conns[i].fd >= 0) {
            close(r->conns[i].fd);
            r->conns[i].fd = -1;
        }
    return r->exit_code;
fail:
    if (seq_run_set_error(r, 1, "%s", err))
        seq_msg(r, "%s", err);
    return 1;
}
