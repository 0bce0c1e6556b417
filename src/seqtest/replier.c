/* seqtest's replier (-r): accepts connections on the control thread, hands each to a
 * worker loop, checks every request and replies as the request asks.
 *
 * Memory: a connection holds only its state (a few hundred bytes, with the 40 bytes of a
 * partial header inside the stream parser). Reads go into a per-worker buffer; replies
 * with no delay are built in a per-worker buffer and written with one send() per read.
 * Only when a connection must pause — a reply delay (rdly), or a send the kernel did not
 * take — does it allocate: the unprocessed rest of the read (stash) and the unsent reply
 * bytes (pend), freed as soon as they are used. While paused it does not read, so the
 * peer's own flow control holds the rest, and requests are answered strictly in order.
 *
 * Latency: a round trip through the event loop costs the replier three system calls
 * (epoll_wait, recv, send), where a replier with one blocking socket needs two. So a
 * worker whose only connection is in a ping-pong (the peer sends its next request as soon
 * as it has the reply, as -S does) waits for the next request in a blocking recv() instead
 * of epoll (rconn_wait_direct), and goes back to the loop as soon as there is anything
 * else to do. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/util.h"
#include "seqtest/run.h"
#include "seqtest/verify.h"

#define SEQ_R_RXBUF (64 * 1024)
#define SEQ_R_TXBUF (64 * 1024)
#define SEQ_R_BACKLOG 4096
#define SEQ_R_PORT_TRIES 16 /* "name:0" on several addresses: ports tried for one free on all */
#define SEQ_R_READS_PER_EVENT 8
#define SEQ_R_ACCEPTS_PER_EVENT 256
/* How long a direct wait lasts without a request before the worker goes back to epoll;
 * also how late a new connection or a stop can be noticed while it waits. */
#define SEQ_R_DIRECT_WAIT_US 1000

struct seq_rconn {
    struct loop_fd lfd;
    struct loop_timer reply_timer; /* the current request's reply delay (rdly) */
    struct seq_rworker *w;
    struct seq_rconn *prev, *next; /* the worker's list of open connections */
    int fd;
    bool paused;       /* not reading: a delayed reply or unsent bytes come first */
    bool ping_pong;    /* the last request came right after the previous reply */
    bool timeouts_set; /* SO_RCVTIMEO and SO_SNDTIMEO set for the direct wait */
    bool conn_known;   /* conn_id came from a verified header (-o verify) */
    bool have_prev;    /* prev_ts1 holds the previous request's ts1 */
    uint32_t conn_id;
    uint64_t expect_seqno, reply_seqno, prev_ts1;
    struct wire_parser rx;
    struct wire_hdr cur;           /* the request being received or waiting for its reply */
    uint64_t cur_ts2;              /* when cur was received in full */
    uint64_t last_reply_ns;        /* when the previous reply was built */
    struct verify_tracker payload; /* -o verify: the check of cur's payload */
    uint8_t *stash;                /* input not yet processed while paused ... */
    uint32_t stash_len;
    uint64_t stash_ts; /* ... and when it was received */
    uint8_t *pend;     /* reply bytes the kernel has not taken */
    uint32_t pend_len, pend_off;
    uint64_t msgs, replies, bytes_rx, bytes_tx;
    struct seq_conn_log log;
    struct sock_addr peer;
};

/* Where a connection stands after its input was handled. */
enum rconn_status {
    RCONN_GONE,    /* closed and freed: the caller must not touch it again */
    RCONN_PAUSED,  /* not reading until a delayed reply or unsent bytes are out */
    RCONN_DRAINED, /* nothing more to read for now */
    RCONN_READING, /* input processed; more may follow */
};

static enum rconn_status rconn_process(struct seq_rconn *c, const uint8_t *buf, size_t len,
                                       uint64_t ts);
static void rconn_resume(struct seq_rconn *c);

/* ---- reporting and closing --------------------------------------------------------- */

static void rconn_report(struct seq_rconn *c, enum seq_viol kind, const struct seq_at *at,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void rconn_report(struct seq_rconn *c, enum seq_viol kind, const struct seq_at *at,
                         const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct seq_where where = {true, c->conn_known ? (int64_t)c->conn_id : -1, &c->peer};
    seq_conn_report(c->w->run, &c->log, &where, kind, at, text);
}

/* Adds the connection's figures to its worker's. */
static void rconn_fold_counts(struct seq_rworker *w, const struct seq_rconn *c)
{
    seq_viol_add(&w->viol, &c->log.viol);
    w->messages += c->msgs;
    w->replies += c->replies;
    w->bytes_rx += c->bytes_rx;
    w->bytes_tx += c->bytes_tx;
}

static void rconn_free(struct seq_rconn *c)
{
    close(c->fd);
    free(c->stash);
    free(c->pend);
    free(c);
}

static void rconn_close(struct seq_rconn *c, bool on_error)
{
    struct seq_rworker *w = c->w;
    struct loop *loop = w->w->loop;
    if (w->batch_owner == c) {
        w->batch_owner = NULL;
        w->txlen = 0;
    }
    loop_timer_cancel(loop, &c->reply_timer);
    loop_del_fd(loop, &c->lfd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    rconn_fold_counts(w, c);
    if (on_error)
        w->closed_on_error++;
    rconn_free(c);
}

/* Closes a connection that failed to send or ran out of memory. Returns false. */
static bool rconn_send_failed(struct seq_rconn *c, const char *why)
{
    rconn_report(c, SEQ_V_IO_ERROR, NULL, "send: %s", why);
    rconn_close(c, true);
    return false;
}

/* ---- sending replies --------------------------------------------------------------- */

static void want_events(struct seq_rconn *c)
{
    uint32_t ev = (c->paused ? 0 : EPOLLIN) | (c->pend ? EPOLLOUT : 0);
    loop_mod_fd(c->w->w->loop, &c->lfd, ev);
}

static bool append_pend(struct seq_rconn *c, const uint8_t *buf, size_t len)
{
    size_t have = c->pend_len - c->pend_off;
    uint8_t *p = malloc(have + len);
    if (!p)
        return false;
    if (have)
        memcpy(p, c->pend + c->pend_off, have);
    memcpy(p + have, buf, len);
    free(c->pend);
    c->pend = p;
    c->pend_len = (uint32_t)(have + len);
    c->pend_off = 0;
    return true;
}

/* Sends len bytes, keeping what the kernel does not take (behind bytes already kept, so
 * the order holds). Returns false when the connection was closed. */
static bool rconn_send(struct seq_rconn *c, const uint8_t *buf, size_t len)
{
    ssize_t n = c->pend ? 0 : sock_send(c->fd, buf, len);
    if (n < 0 && n != -EAGAIN)
        return rconn_send_failed(c, strerror((int)-n));
    if (n < 0)
        n = 0;
    c->bytes_tx += (uint64_t)n;
    if ((size_t)n == len)
        return true;
    if (!append_pend(c, buf + n, len - (size_t)n))
        return rconn_send_failed(c, "out of memory");
    return true;
}

/* Sends the kept reply bytes (the socket became writable). When they are all out, reading
 * resumes unless a reply delay is still running. */
static void rconn_flush_pend(struct seq_rconn *c)
{
    ssize_t n = sock_send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off);
    if (n < 0 && n != -EAGAIN) {
        rconn_send_failed(c, strerror((int)-n));
        return;
    }
    if (n > 0) {
        c->bytes_tx += (uint64_t)n;
        c->pend_off += (uint32_t)n;
    }
    if (c->pend_off < c->pend_len)
        return;
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    if (loop_timer_armed(&c->reply_timer))
        want_events(c); /* stop polling for output; the timer resumes */
    else
        rconn_resume(c);
}

/* Sends the replies batched in the worker's buffer. Returns false when the connection was
 * closed. */
static bool flush_batch(struct seq_rconn *c)
{
    struct seq_rworker *w = c->w;
    if (w->batch_owner != c || w->txlen == 0)
        return true;
    size_t len = w->txlen;
    w->txlen = 0;
    w->batch_owner = NULL;
    return rconn_send(c, w->txbuf, len);
}

static void build_reply(const struct seq_rconn *c, uint8_t *buf, uint64_t ts3)
{
    struct wire_hdr h = {c->reply_seqno, c->cur.ts1, c->cur_ts2, ts3,
                         c->cur.rdly,    c->cur.ssz, c->cur.rsz};
    size_t payload = (size_t)c->cur.rsz - WIRE_HDR_LEN;
    if (c->w->run->cfg->verify)
        verify_fill(verify_key(c->conn_id, VERIFY_REPLY, h.seqno, h.ts1), WIRE_HDR_LEN,
                    buf + WIRE_HDR_LEN, payload);
    else
        memset(buf + WIRE_HDR_LEN, 0, payload);
    wire_hdr_encode(&h, buf);
}

/* Queues the reply to c->cur: into the worker's batch, or behind bytes already kept. The
 * batch only ever holds the replies of the connection being processed: every path out of
 * processing flushes it (or the close drops it). Returns false when the connection was
 * closed. */
static bool queue_reply(struct seq_rconn *c)
{
    struct seq_rworker *w = c->w;
    size_t rsz = c->cur.rsz;
    if (!c->pend && w->txlen + rsz > w->txcap && !flush_batch(c))
        return false;
    uint64_t ts3 = clock_mono_ns();
    if (c->pend) {
        uint8_t reply[WIRE_MSG_MAX];
        build_reply(c, reply, ts3);
        if (!append_pend(c, reply, rsz))
            return rconn_send_failed(c, "out of memory");
    } else {
        w->batch_owner = c;
        build_reply(c, w->txbuf + w->txlen, ts3);
        w->txlen += rsz;
    }
    c->last_reply_ns = ts3;
    c->reply_seqno++;
    c->replies++;
    if (w->run->debug)
        seq_debug_char(w->run, '+');
    return true;
}

/* ---- pausing ----------------------------------------------------------------------- */

/* Keeps the unprocessed input rest[0..len) received at ts and stops reading. */
static enum rconn_status pause_with(struct seq_rconn *c, const uint8_t *rest, size_t len,
                                    uint64_t ts)
{
    if (len) {
        uint8_t *s = malloc(len);
        if (!s) {
            rconn_report(c, SEQ_V_IO_ERROR, NULL, "replier/recv: out of memory");
            rconn_close(c, true);
            return RCONN_GONE;
        }
        memcpy(s, rest, len);
        c->stash = s;
        c->stash_len = (uint32_t)len;
        c->stash_ts = ts;
    }
    c->paused = true;
    want_events(c);
    return RCONN_PAUSED;
}

static void on_reply_due(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct seq_rconn *c = container_of(t, struct seq_rconn, reply_timer);
    if (!queue_reply(c) || !flush_batch(c))
        return;
    if (c->pend)
        want_events(c); /* resume once the bytes are out */
    else
        rconn_resume(c);
}

/* Processes the input kept while paused, then reads again. */
static void rconn_resume(struct seq_rconn *c)
{
    uint8_t *stash = c->stash;
    size_t len = c->stash_len;
    c->stash = NULL;
    c->stash_len = 0;
    c->paused = false;
    enum rconn_status st = len ? rconn_process(c, stash, len, c->stash_ts) : RCONN_READING;
    free(stash);
    if (st == RCONN_READING)
        want_events(c);
}

/* ---- checking requests ------------------------------------------------------------- */

/* Closes a connection because of a fault in its input. The replies to the requests before
 * the fault are already batched: send them first, so that the sender gets every reply it
 * was owed up to the fault. */
static enum rconn_status close_on_fault(struct seq_rconn *c)
{
    if (flush_batch(c))
        rconn_close(c, true);
    return RCONN_GONE;
}

/* With -o verify the replier closes a connection at its first violation, so that the
 * sender learns of a fault in its own direction too (as an early close, exit 1). */
static enum rconn_status close_after_fault(struct seq_rconn *c)
{
    rconn_report(c, SEQ_V_COUNT, NULL, "closing connection after a violation (-o verify)");
    return close_on_fault(c);
}

/* The position of a header that cannot be trusted: the seqno expected there. */
static struct seq_at at_expected(const struct seq_rconn *c, const struct wire_event *ev)
{
    return (struct seq_at){.has_seqno = true,
                           .seqno = c->expect_seqno,
                           .has_stream = true,
                           .stream_off = ev->msg_stream_off};
}

static enum rconn_status size_fault(struct seq_rconn *c, const struct wire_event *ev)
{
    struct seq_at at = at_expected(c, ev);
    char text[128];
    seq_format_size_fault(text, sizeof text, ev);
    rconn_report(c, SEQ_V_SIZE, &at, "%s", text);
    return close_on_fault(c);
}

/* -o verify: the header must carry a valid check value and, after the first, the same
 * connection index. A damaged header means the framing can no longer be trusted. Returns
 * false when the connection was closed. */
static bool check_verified_header(struct seq_rconn *c, const struct wire_event *ev)
{
    uint32_t id = 0;
    bool ok = verify_request_ok(&ev->hdr, &id) && (!c->conn_known || id == c->conn_id);
    if (!ok) {
        struct seq_at at = at_expected(c, ev);
        rconn_report(c, SEQ_V_HEADER, &at,
                     "damaged header at seqno %" PRIu64 " (stream offset %" PRIu64
                     "): check value mismatch, closing connection",
                     c->expect_seqno, ev->msg_stream_off);
        close_on_fault(c);
        return false;
    }
    c->conn_known = true;
    c->conn_id = id;
    verify_tracker_start(&c->payload, verify_key(id, VERIFY_REQUEST, ev->hdr.seqno, ev->hdr.ts1));
    return true;
}

static enum rconn_status on_request_header(struct seq_rconn *c, const struct wire_event *ev)
{
    const struct wire_hdr *h = &ev->hdr;
    bool verify = c->w->run->cfg->verify;
    if (verify && !check_verified_header(c, ev))
        return RCONN_GONE;
    struct seq_at at = {
        .has_seqno = true, .seqno = h->seqno, .has_stream = true, .stream_off = ev->msg_stream_off};
    bool fault = false;
    if (h->seqno != c->expect_seqno) {
        rconn_report(c, SEQ_V_SEQNO, &at,
                     "request seqno out of order (%" PRIu64 " != %" PRIu64 ")!!", h->seqno,
                     c->expect_seqno);
        fault = true;
    }
    c->expect_seqno = h->seqno + 1; /* resynchronise: one gap, one report */
    if (c->have_prev && h->ts1 < c->prev_ts1) {
        rconn_report(c, SEQ_V_TS1_BACKWARDS, &at, "ts1 backwards %" PRIu64 " < %" PRIu64 " !!",
                     h->ts1, c->prev_ts1);
        fault = true;
    }
    c->prev_ts1 = h->ts1;
    c->have_prev = true;
    c->cur = *h;
    if (fault && verify)
        return close_after_fault(c);
    return RCONN_READING;
}

/* A complete request, received at ts: reply now, after its delay, or not at all. */
static enum rconn_status on_request_done(struct seq_rconn *c, const struct wire_event *ev,
                                         uint64_t ts)
{
    struct seq_run *r = c->w->run;
    c->msgs++;
    if (r->debug)
        seq_debug_char(r, '-');
    if (c->payload.nbad) {
        char text[256];
        struct seq_at at;
        seq_format_payload_mismatch(text, sizeof text, &at, c->cur.seqno, &c->payload,
                                    ev->msg_stream_off, c->cur.ssz - WIRE_HDR_LEN);
        rconn_report(c, SEQ_V_PAYLOAD, &at, "%s", text);
        return close_after_fault(c);
    }
    if (c->cur.rsz == 0)
        return RCONN_READING;
    c->cur_ts2 = ts;
    if (c->cur.rdly == 0) {
        if (!queue_reply(c))
            return RCONN_GONE;
        return c->pend ? RCONN_PAUSED : RCONN_READING; /* kernel full: wait until it drains */
    }
    if (!flush_batch(c))
        return RCONN_GONE;
    loop_timer_arm(c->w->w->loop, &c->reply_timer, ts + c->cur.rdly);
    return RCONN_PAUSED;
}

/* Frames, checks and answers the requests in buf (received at time ts). */
static enum rconn_status rconn_process(struct seq_rconn *c, const uint8_t *buf, size_t len,
                                       uint64_t ts)
{
    struct wire_event ev;
    enum rconn_status st = RCONN_READING;
    while (st == RCONN_READING) {
        switch (wire_parse(&c->rx, &buf, &len, &ev)) {
        case WIRE_EV_MORE:
            if (!flush_batch(c))
                return RCONN_GONE;
            if (c->pend) /* the kernel did not take it all: wait until it does */
                return pause_with(c, NULL, 0, ts);
            return RCONN_READING;
        case WIRE_EV_BAD_SIZE:
            return size_fault(c, &ev);
        case WIRE_EV_HEADER:
            st = on_request_header(c, &ev);
            break;
        case WIRE_EV_PAYLOAD:
            if (c->w->run->cfg->verify)
                verify_tracker_feed(&c->payload, ev.offset, ev.data, ev.len);
            break;
        case WIRE_EV_MESSAGE:
            st = on_request_done(c, &ev, ts);
            break;
        }
    }
    if (st == RCONN_PAUSED) {
        if (!flush_batch(c))
            return RCONN_GONE;
        return pause_with(c, buf, len, ts);
    }
    return st;
}

/* ---- reading ----------------------------------------------------------------------- */

/* Handles the result n of one recv() that returned at now. */
static enum rconn_status rconn_received(struct seq_rconn *c, ssize_t n, uint64_t now)
{
    if (n == -EAGAIN)
        return RCONN_DRAINED;
    if (n < 0) {
        rconn_report(c, SEQ_V_IO_ERROR, NULL, "replier/recv: %s", strerror((int)-n));
        rconn_close(c, true);
        return RCONN_GONE;
    }
    if (n == 0) { /* the original closes silently at EOF */
        rconn_close(c, false);
        return RCONN_GONE;
    }
    c->bytes_rx += (uint64_t)n;
    c->ping_pong = c->replies > 0 && now - c->last_reply_ns < SEQ_R_DIRECT_WAIT_US * NS_PER_US;
    return rconn_process(c, c->w->rxbuf, (size_t)n, now);
}

static enum rconn_status rconn_read(struct seq_rconn *c)
{
    struct seq_rworker *w = c->w;
    /* A bounded number of full reads per event, so one busy peer cannot starve the other
     * connections of this worker; epoll (level-triggered) reports the rest again. */
    for (int i = 0; i < SEQ_R_READS_PER_EVENT; i++) {
        ssize_t n = sock_recv(c->fd, w->rxbuf, w->rxcap);
        enum rconn_status st = rconn_received(c, n, clock_mono_ns());
        if (st != RCONN_READING || (size_t)n < w->rxcap)
            return st;
    }
    return RCONN_READING;
}

/* Whether the worker may wait for c's next request in a blocking recv(): c is in a
 * ping-pong, is the worker's only connection, and the worker has nothing else to do (no
 * connection waiting to be adopted, no stop). */
static bool direct_wait_ok(const struct seq_rconn *c)
{
    const struct seq_rworker *w = c->w;
    return c->ping_pong && !c->paused && w->list == c && c->next == NULL &&
           atomic_load(&w->adopting) == 0 && !loop_stopping(w->w->loop);
}

/* Makes c's socket blocking for the direct wait, or non-blocking again. While blocking,
 * receive and send time out after SEQ_R_DIRECT_WAIT_US, so that a silent peer sends the
 * worker back to epoll and a peer that does not read cannot hold a reply send forever (it
 * then returns short, and the connection pauses as with a full non-blocking socket). */
static int rconn_set_blocking(struct seq_rconn *c, bool blocking)
{
    if (blocking && !c->timeouts_set) {
        struct timeval tv = {0, SEQ_R_DIRECT_WAIT_US};
        if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
            return -errno;
        c->timeouts_set = true;
    }
    return sock_set_nonblock(c->fd, !blocking);
}

/* Answers c's requests from a blocking recv() while direct_wait_ok() holds: recv + send
 * per round trip, no epoll. A connection posted to this worker meanwhile waits for the
 * next request on c or the receive timeout (at most SEQ_R_DIRECT_WAIT_US). */
static void rconn_wait_direct(struct seq_rconn *c)
{
    struct seq_rworker *w = c->w;
    if (rconn_set_blocking(c, true) < 0)
        return; /* stay on epoll */
    enum rconn_status st;
    do {
        ssize_t n = sock_recv(c->fd, w->rxbuf, w->rxcap);
        st = rconn_received(c, n, clock_mono_ns());
    } while (st == RCONN_READING && direct_wait_ok(c));
    if (st == RCONN_GONE)
        return;
    int rc = rconn_set_blocking(c, false);
    if (rc < 0) { /* a blocking socket would stall the event loop */
        rconn_report(c, SEQ_V_IO_ERROR, NULL, "replier/recv: fcntl: %s", strerror(-rc));
        rconn_close(c, true);
    }
}

static void on_rconn_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    (void)loop;
    struct seq_rconn *c = container_of(h, struct seq_rconn, lfd);
    if ((events & EPOLLOUT) && c->pend) {
        rconn_flush_pend(c);
        return;
    }
    if (c->paused) {
        /* Not reading, but epoll reports errors and hang-ups anyway: a peer that is gone
         * cannot take its replies, so close now rather than spin on the event. */
        if (events & (EPOLLERR | EPOLLHUP)) {
            int e = sock_connect_result(c->fd);
            if (e < 0)
                rconn_report(c, SEQ_V_IO_ERROR, NULL, "replier/recv: %s", strerror(-e));
            rconn_close(c, e < 0);
        }
        return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && rconn_read(c) == RCONN_READING &&
        direct_wait_ok(c))
        rconn_wait_direct(c);
}

/* ---- accepting --------------------------------------------------------------------- */

struct accepted {
    int fd;
    struct sock_addr peer;
};

static void worker_adopt(struct worker *wk, void *arg)
{
    struct seq_rworker *w = wk->state;
    struct accepted *a = arg;
    struct seq_rconn *c = calloc(1, sizeof *c);
    w->accepted++;
    atomic_fetch_sub(&w->adopting, 1);
    if (!c || loop_add_fd(wk->loop, &c->lfd, a->fd, EPOLLIN, on_rconn_events) < 0) {
        seq_msg(w->run, "cannot take a connection: out of memory");
        w->closed_on_error++;
        close(a->fd);
        free(c);
        free(a);
        return;
    }
    c->w = w;
    c->fd = a->fd;
    c->peer = a->peer;
    wire_parser_init(&c->rx, WIRE_REQUESTS);
    loop_timer_init(&c->reply_timer, on_reply_due);
    c->next = w->list;
    if (w->list)
        w->list->prev = c;
    w->list = c;
    free(a);
}

/* Hands an accepted connection to the next worker, round robin. */
static void hand_to_worker(struct seq_run *r, struct accepted *a)
{
    unsigned k = atomic_fetch_add(&r->next_worker, 1) % r->nworkers;
    struct seq_rworker *w = &r->rworkers[k];
    atomic_fetch_add(&w->adopting, 1); /* before the post: a direct wait must see it */
    if (worker_post(w->w, worker_adopt, a) < 0) {
        atomic_fetch_sub(&w->adopting, 1);
        close(a->fd);
        free(a);
    }
}

static void on_listener_retry(struct loop *loop, struct loop_timer *t)
{
    struct seq_listener *l = container_of(t, struct seq_listener, retry);
    loop_mod_fd(loop, &l->lfd, EPOLLIN);
}

static void on_listener_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    (void)events;
    struct seq_listener *l = container_of(h, struct seq_listener, lfd);
    for (int i = 0; i < SEQ_R_ACCEPTS_PER_EVENT; i++) {
        struct accepted *a = malloc(sizeof *a);
        if (!a)
            return;
        int fd = sock_accept(h->fd, &a->peer);
        if (fd < 0) {
            free(a);
            if (fd == -EAGAIN || fd == -ECONNABORTED || fd == -EINTR)
                return;
            if (!l->said_error) {
                l->said_error = true;
                seq_msg(l->run, "accept: %s (new connections wait in the queue)", strerror(-fd));
            }
            /* EMFILE and the like persist: stop polling the listener for a while instead
             * of spinning on it. */
            loop_mod_fd(loop, h, 0);
            loop_timer_arm(loop, &l->retry, clock_mono_ns() + 100 * NS_PER_MS);
            return;
        }
        a->fd = fd;
        hand_to_worker(l->run, a);
    }
}

/* ---- the run ----------------------------------------------------------------------- */

static void worker_init(struct worker *wk)
{
    loop_set_spin_threshold(wk->loop, CLOCK_SPIN_THRESHOLD_NS);
}

/* Binds targets [first, end), which came from one operand. With port 0 they share the port
 * the first got. On failure the group's sockets are closed again, except that *held gets the
 * first one's when a later address had its port taken (-1 otherwise). */
static int bind_group(struct seq_run *r, size_t first, size_t end, bool pick_port, int *held,
                      char *err, size_t errlen)
{
    unsigned flags = SOCK_F_NONBLOCK | SOCK_F_NODELAY | SOCK_F_REUSEADDR | SOCK_F_V6ONLY;
    *held = -1;
    for (size_t i = first; i < end; i++) {
        struct seq_target *t = &r->targets[i];
        struct seq_listener *l = &r->listeners[i];
        if (pick_port) {
            uint16_t port = i == first ? 0 : sock_addr_port(&r->listeners[first].bound);
            sock_addr_set_port(&t->addr, port);
        }
        int fd = sock_tcp_listen(&t->addr, SEQ_R_BACKLOG, flags, &l->bound, err, errlen);
        if (fd < 0) {
            if (fd == -EADDRINUSE && pick_port && i > first)
                *held = r->listeners[first].lfd.fd;
            while (i-- > first)
                if (r->listeners[i].lfd.fd != *held)
                    close(r->listeners[i].lfd.fd);
            return fd;
        }
        l->lfd.fd = fd;
    }
    return 0;
}

/* Listens on targets [first, end) of one operand and hands them to the control loop. The
 * port the kernel picked for the first address may be taken on another ("localhost:0": a
 * connection of some other program holds it on 127.0.0.1 but not on ::1). Then the group
 * starts over, a bounded number of times, while the first address keeps the port it got, so
 * that the kernel (which would pick the same port again) picks another. */
static int listen_group(struct seq_run *r, size_t first, size_t end, char *err, size_t errlen)
{
    bool pick_port = sock_addr_port(&r->targets[first].addr) == 0;
    int held[SEQ_R_PORT_TRIES], nheld = 0, rc;
    for (;;) {
        rc = bind_group(r, first, end, pick_port, &held[nheld], err, errlen);
        if (rc != -EADDRINUSE || held[nheld] < 0 || ++nheld == SEQ_R_PORT_TRIES)
            break;
    }
    while (nheld > 0)
        close(held[--nheld]);
    if (rc < 0)
        return rc;
    for (size_t i = first; i < end; i++) {
        struct seq_listener *l = &r->listeners[i];
        l->run = r;
        loop_timer_init(&l->retry, on_listener_retry);
        r->nlisteners = i + 1; /* closed by the run's end from here on */
        rc = loop_add_fd(r->control, &l->lfd, l->lfd.fd, EPOLLIN, on_listener_events);
        if (rc < 0) {
            for (size_t k = i + 1; k < end; k++)
                close(r->listeners[k].lfd.fd);
            snprintf(err, errlen, "epoll_ctl: %s", strerror(-rc));
            return rc;
        }
        r->targets[i].addr = l->bound;
    }
    return 0;
}

/* Listens on every target. Targets that came from one operand with port 0 share the port
 * the first of them got, so "localhost:0" listens on one port for both families. */
static int listen_all(struct seq_run *r, char *err, size_t errlen)
{
    r->listeners = calloc(r->ntargets, sizeof *r->listeners);
    if (!r->listeners) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t first = 0, end; first < r->ntargets; first = end) {
        for (end = first + 1;
             end < r->ntargets && r->targets[end].operand == r->targets[first].operand; end++)
            ;
        int rc = listen_group(r, first, end, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int setup_workers(struct seq_run *r, char *err, size_t errlen)
{
    r->rworkers = calloc(r->nworkers, sizeof *r->rworkers);
    if (!r->rworkers)
        goto oom;
    for (unsigned k = 0; k < r->nworkers; k++) {
        struct seq_rworker *w = &r->rworkers[k];
        w->run = r;
        w->w = worker_pool_get(r->pool, k);
        w->w->state = w;
        w->rxcap = SEQ_R_RXBUF;
        w->txcap = SEQ_R_TXBUF;
        w->rxbuf = malloc(w->rxcap);
        w->txbuf = malloc(w->txcap);
        if (!w->rxbuf || !w->txbuf)
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

/* After the workers are joined: counts and frees the connections still open. */
static void close_remaining(struct seq_run *r)
{
    for (unsigned k = 0; k < r->nworkers; k++) {
        struct seq_rworker *w = &r->rworkers[k];
        while (w->list) {
            struct seq_rconn *c = w->list;
            w->list = c->next;
            rconn_fold_counts(w, c);
            rconn_free(c);
        }
    }
    for (size_t i = 0; i < r->nlisteners; i++)
        close(r->listeners[i].lfd.fd);
}

int seq_replier_run(struct seq_run *r)
{
    char err[512];
    if (seq_control_open(r, err, sizeof err) < 0)
        goto fail;
    if (listen_all(r, err, sizeof err) < 0)
        goto fail;
    seq_print_addresses(r);
    r->pool = worker_pool_new(r->nworkers, r->control, err, sizeof err);
    if (!r->pool || setup_workers(r, err, sizeof err) < 0)
        goto fail;
    if (worker_pool_start(r->pool, worker_init, err, sizeof err) < 0)
        goto fail;
    r->started = true;
    loop_run(r->control);
    worker_pool_stop(r->pool);
    close_remaining(r);
    r->finished = true;
    return r->exit_code;
fail:
    return seq_run_fail(r, err);
}
