/* seqtest's replier (-r): accepts connections on the control thread, hands each to a
 * worker loop, checks every request and replies as the request asks.
 *
 * Memory: a connection holds only its state (a few hundred bytes, with the 40 bytes of a
 * partial header inside the stream parser). Reads go into a per-worker buffer; replies
 * with no delay are built in a per-worker buffer and written with one send() per read.
 * Only when a connection must pause — a reply delay (rdly), or a send the kernel did not
 * take — does it allocate: the unprocessed rest of the read (stash) and the unsent reply
 * bytes (pend), freed as soon as they are used. While paused it does not read, so the
 * peer's own flow control holds the rest, and requests are answered strictly in order. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/util.h"
#include "seqtest/run.h"
#include "seqtest/verify.h"

#define SEQ_R_RXBUF (64 * 1024)
#define SEQ_R_TXBUF (64 * 1024)
#define SEQ_R_BACKLOG 4096
#define SEQ_R_READS_PER_EVENT 8

struct seq_rconn {
    struct loop_fd lfd;
    struct loop_timer timer; /* the current request's reply delay */
    struct seq_rworker *w;
    struct seq_rconn *prev, *next;
    int fd;
    bool paused; /* not reading: a delayed reply or unsent bytes come first */
    bool conn_known;
    bool have_prev;
    uint16_t lines;
    uint32_t conn_id;
    uint64_t expect_seqno, reply_seqno, prev_ts1;
    struct wire_parser rx;
    struct wire_hdr cur; /* the request being received or waiting for its reply */
    uint64_t cur_ts2;
    uint64_t vkey;
    uint32_t vbad, vfirst;
    uint8_t vgot, vwant;
    uint8_t *stash; /* input not yet processed while paused */
    uint32_t stash_len;
    uint64_t stash_ts;
    uint8_t *pend; /* reply bytes the kernel has not taken */
    uint32_t pend_len, pend_off;
    uint64_t msgs, replies, bytes_rx, bytes_tx;
    struct seq_viol_counts viol;
    struct sock_addr peer;
};

static bool rconn_process(struct seq_rconn *c, const uint8_t *buf, size_t len, uint64_t ts);
static void rconn_resume(struct seq_rconn *c);
static bool close_on_fault(struct seq_rconn *c);

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
    if (kind < SEQ_V_COUNT)
        c->viol.n[kind]++;
    if (c->lines >= SEQ_LINES_PER_CONN)
        return;
    c->lines++;
    struct seq_where where = {true, c->conn_known ? (int64_t)c->conn_id : -1, &c->peer};
    if (c->lines == SEQ_LINES_PER_CONN)
        seq_diag(c->w->run, &where, kind, at,
                 "%s (further diagnostics on this connection are only counted)", text);
    else
        seq_diag(c->w->run, &where, kind, at, "%s", text);
}

static void rconn_close(struct seq_rconn *c, bool on_error)
{
    struct seq_rworker *w = c->w;
    struct loop *loop = w->w->loop;
    if (w->batch_owner == c) {
        w->batch_owner = NULL;
        w->txlen = 0;
    }
    loop_timer_cancel(loop, &c->timer);
    loop_del_fd(loop, &c->lfd);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    seq_viol_add(&w->viol, &c->viol);
    w->messages += c->msgs;
    w->replies += c->replies;
    w->bytes_rx += c->bytes_rx;
    w->bytes_tx += c->bytes_tx;
    if (on_error)
        w->closed_on_error++;
    free(c->stash);
    free(c->pend);
    free(c);
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

/* Sends len bytes, keeping what the kernel does not take. Returns false when the
 * connection was closed. */
static bool rconn_send(struct seq_rconn *c, const uint8_t *buf, size_t len)
{
    ssize_t n = c->pend ? 0 : sock_send(c->fd, buf, len);
    if (n < 0 && n != -EAGAIN) {
        rconn_report(c, SEQ_V_IO_ERROR, NULL, "send: %s", strerror((int)-n));
        rconn_close(c, true);
        return false;
    }
    if (n < 0)
        n = 0;
    c->bytes_tx += (uint64_t)n;
    if ((size_t)n == len)
        return true;
    if (!append_pend(c, buf + n, len - (size_t)n)) {
        rconn_report(c, SEQ_V_IO_ERROR, NULL, "send: out of memory");
        rconn_close(c, true);
        return false;
    }
    return true;
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

/* Queues the reply to c->cur: into the worker's batch, or after bytes already pending.
 * Returns false when the connection was closed. */
static bool queue_reply(struct seq_rconn *c)
{
    struct seq_rworker *w = c->w;
    size_t rsz = c->cur.rsz;
    if (w->batch_owner && w->batch_owner != c && w->txlen > 0) {
        /* Cannot happen (every batch is flushed before its owner yields), but a reply
         * must never be appended to another connection's batch. */
        w->batch_owner = NULL;
        w->txlen = 0;
    }
    if (!c->pend && w->batch_owner == c && w->txlen + rsz > w->txcap && !flush_batch(c))
        return false;
    if (c->pend) {
        uint8_t tmp[WIRE_MSG_MAX];
        build_reply(c, tmp, clock_mono_ns());
        if (!append_pend(c, tmp, rsz)) {
            rconn_report(c, SEQ_V_IO_ERROR, NULL, "send: out of memory");
            rconn_close(c, true);
            return false;
        }
    } else {
        w->batch_owner = c;
        build_reply(c, w->txbuf + w->txlen, clock_mono_ns());
        w->txlen += rsz;
    }
    c->reply_seqno++;
    c->replies++;
    if (w->run->debug)
        seq_debug_char(w->run, '+');
    return true;
}

/* Keeps the unprocessed input and stops reading. Returns false when out of memory (the
 * connection is then closed). */
static bool pause_with(struct seq_rconn *c, const uint8_t *rest, size_t len, uint64_t ts)
{
    if (len) {
        uint8_t *s = malloc(len);
        if (!s) {
            rconn_report(c, SEQ_V_IO_ERROR, NULL, "replier/recv: out of memory");
            rconn_close(c, true);
            return false;
        }
        memcpy(s, rest, len);
        c->stash = s;
        c->stash_len = (uint32_t)len;
        c->stash_ts = ts;
    }
    c->paused = true;
    want_events(c);
    return true;
}

static void on_reply_due(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct seq_rconn *c = container_of(t, struct seq_rconn, timer);
    if (!queue_reply(c) || !flush_batch(c))
        return;
    if (c->pend) {
        want_events(c); /* resume once the bytes are out */
        return;
    }
    rconn_resume(c);
}

/* ---- checking requests ------------------------------------------------------------- */

static bool size_fault(struct seq_rconn *c, const struct wire_event *ev)
{
    bool rsz = ev->bad_field == WIRE_BAD_RSZ;
    unsigned v = rsz ? ev->hdr.rsz : ev->hdr.ssz;
    bool big = v > WIRE_MSG_MAX;
    struct seq_at at = {.has_seqno = true,
                        .seqno = c->expect_seqno,
                        .has_stream = true,
                        .stream_off = ev->msg_stream_off};
    rconn_report(c, SEQ_V_SIZE, &at, "h->%s too %s (%u %s %d), closing connection",
                 rsz ? "rsz" : "ssz", big ? "big" : "small", v, big ? ">" : "<",
                 big ? WIRE_MSG_MAX : WIRE_HDR_LEN);
    return close_on_fault(c);
}

/* Closes a connection because of a fault in its input. The replies to the requests before
 * the fault are already batched: send them first, so that the sender gets every reply it
 * was owed up to the fault. Returns false (the connection is gone). */
static bool close_on_fault(struct seq_rconn *c)
{
    if (flush_batch(c))
        rconn_close(c, true);
    return false;
}

/* With -o verify the replier closes a connection at its first violation, so that the
 * sender learns of a fault in its own direction too (as an early close, exit 1). */
static bool close_after_fault(struct seq_rconn *c)
{
    rconn_report(c, SEQ_V_COUNT, NULL, "closing connection after a violation (-o verify)");
    return close_on_fault(c);
}

/* Returns false when the connection was closed (a fault under -o verify). */
static bool on_request_header(struct seq_rconn *c, const struct wire_event *ev)
{
    const struct wire_hdr *h = &ev->hdr;
    struct seq_at at = {
        .has_seqno = true, .seqno = h->seqno, .has_stream = true, .stream_off = ev->msg_stream_off};
    if (c->w->run->cfg->verify) {
        uint32_t id = 0;
        bool ok = verify_request_ok(h, &id);
        if (ok && c->conn_known && id != c->conn_id)
            ok = false;
        if (!ok) {
            at.seqno = c->expect_seqno;
            rconn_report(c, SEQ_V_HEADER, &at,
                         "damaged header at seqno %" PRIu64 " (stream offset %" PRIu64
                         "): check value mismatch, closing "
                         "connection",
                         c->expect_seqno, ev->msg_stream_off);
            return close_on_fault(c);
        }
        c->conn_known = true;
        c->conn_id = id;
        c->vkey = verify_key(id, VERIFY_REQUEST, h->seqno, h->ts1);
        c->vbad = 0;
    }
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
    if (fault && c->w->run->cfg->verify)
        return close_after_fault(c);
    return true;
}

static void on_request_payload(struct seq_rconn *c, const struct wire_event *ev)
{
    if (!c->w->run->cfg->verify)
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

/* A complete request. Returns false when processing must stop (paused or closed); the
 * caller then keeps the rest of the input. */
static bool on_request_done(struct seq_rconn *c, const struct wire_event *ev, uint64_t ts,
                            bool *closed)
{
    struct seq_run *r = c->w->run;
    c->msgs++;
    if (r->debug)
        seq_debug_char(r, '-');
    if (c->vbad) {
        struct seq_at at = {true,         true,      true,
                            c->cur.seqno, c->vfirst, ev->msg_stream_off + c->vfirst};
        rconn_report(c, SEQ_V_PAYLOAD, &at,
                     "payload mismatch at seqno %" PRIu64 " offset %u (stream offset %" PRIu64
                     "): got 0x%02x, expected 0x%02x (%u of %u payload bytes differ)",
                     c->cur.seqno, c->vfirst, at.stream_off, c->vgot, c->vwant, c->vbad,
                     c->cur.ssz - WIRE_HDR_LEN);
        c->vbad = 0;
        *closed = true;
        return close_after_fault(c);
    }
    if (c->cur.rsz == 0)
        return true;
    c->cur_ts2 = ts;
    if (c->cur.rdly == 0) {
        if (!queue_reply(c)) {
            *closed = true;
            return false;
        }
        return c->pend == NULL;
    }
    if (!flush_batch(c)) {
        *closed = true;
        return false;
    }
    loop_timer_arm(c->w->w->loop, &c->timer, ts + c->cur.rdly);
    return false;
}

/* Frames, checks and answers the requests in buf (received at time ts). Returns false when
 * the connection was closed or paused. */
static bool rconn_process(struct seq_rconn *c, const uint8_t *buf, size_t len, uint64_t ts)
{
    struct wire_event ev;
    for (;;) {
        bool closed = false;
        switch (wire_parse(&c->rx, &buf, &len, &ev)) {
        case WIRE_EV_MORE:
            if (!flush_batch(c))
                return false;
            if (c->pend) { /* the kernel did not take it all: wait until it does */
                pause_with(c, NULL, 0, ts);
                return false;
            }
            return true;
        case WIRE_EV_BAD_SIZE:
            return size_fault(c, &ev);
        case WIRE_EV_HEADER:
            if (!on_request_header(c, &ev))
                return false;
            break;
        case WIRE_EV_PAYLOAD:
            on_request_payload(c, &ev);
            break;
        case WIRE_EV_MESSAGE:
            if (!on_request_done(c, &ev, ts, &closed)) {
                if (closed || !flush_batch(c))
                    return false;
                pause_with(c, buf, len, ts);
                return false;
            }
            break;
        }
    }
}

/* Processes the stashed input after a pause, then reads again. */
static void rconn_resume(struct seq_rconn *c)
{
    uint8_t *stash = c->stash;
    size_t len = c->stash_len;
    c->stash = NULL;
    c->stash_len = 0;
    c->paused = false;
    bool alive = rconn_process(c, stash ? stash : (const uint8_t *)"", len, c->stash_ts);
    free(stash);
    if (alive)
        want_events(c);
}

/* ---- reading ----------------------------------------------------------------------- */

static void rconn_read(struct seq_rconn *c)
{
    struct seq_rworker *w = c->w;
    /* A bounded number of full reads per event, so one busy peer cannot starve the other
     * connections of this worker; epoll (level-triggered) reports the rest again. */
    for (int i = 0; i < SEQ_R_READS_PER_EVENT; i++) {
        ssize_t n = sock_recv(c->fd, w->rxbuf, w->rxcap);
        uint64_t now = clock_mono_ns();
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            rconn_report(c, SEQ_V_IO_ERROR, NULL, "replier/recv: %s", strerror((int)-n));
            rconn_close(c, true);
            return;
        }
        if (n == 0) { /* the original closes silently at EOF */
            rconn_close(c, false);
            return;
        }
        c->bytes_rx += (uint64_t)n;
        if (!rconn_process(c, w->rxbuf, (size_t)n, now))
            return;
        if ((size_t)n < w->rxcap)
            return;
    }
}

static void on_rconn_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    (void)loop;
    struct seq_rconn *c = container_of(h, struct seq_rconn, lfd);
    if ((events & EPOLLOUT) && c->pend) {
        ssize_t n = sock_send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off);
        if (n < 0 && n != -EAGAIN) {
            rconn_report(c, SEQ_V_IO_ERROR, NULL, "send: %s", strerror((int)-n));
            rconn_close(c, true);
            return;
        }
        if (n > 0) {
            c->bytes_tx += (uint64_t)n;
            c->pend_off += (uint32_t)n;
        }
        if (c->pend_off == c->pend_len) {
            free(c->pend);
            c->pend = NULL;
            c->pend_len = c->pend_off = 0;
            if (!loop_timer_armed(&c->timer)) {
                rconn_resume(c);
                return;
            }
            want_events(c);
        }
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
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        rconn_read(c);
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
    loop_timer_init(&c->timer, on_reply_due);
    c->next = w->list;
    if (w->list)
        w->list->prev = c;
    w->list = c;
    free(a);
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
    struct seq_run *r = l->run;
    for (int i = 0; i < 256; i++) {
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
                seq_msg(r, "accept: %s (new connections wait in the queue)", strerror(-fd));
            }
            /* EMFILE and the like persist: stop polling the listener for a while instead
             * of spinning on it. */
            loop_mod_fd(loop, h, 0);
            loop_timer_arm(loop, &l->retry, clock_mono_ns() + 100 * NS_PER_MS);
            return;
        }
        a->fd = fd;
        unsigned k = atomic_fetch_add(&r->next_worker, 1) % r->nworkers;
        if (worker_post(worker_pool_get(r->pool, k), worker_adopt, a) < 0) {
            close(fd);
            free(a);
        }
    }
}

/* ---- the run ----------------------------------------------------------------------- */

static void on_signal(struct loop *loop, struct loop_signal *s, int signo)
{
    (void)s;
    (void)signo;
    loop_stop(loop);
}

static void worker_init(struct worker *wk)
{
    loop_set_spin_threshold(wk->loop, CLOCK_SPIN_THRESHOLD_NS);
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
    unsigned flags = SOCK_F_NONBLOCK | SOCK_F_NODELAY | SOCK_F_REUSEADDR | SOCK_F_V6ONLY;
    for (size_t i = 0; i < r->ntargets; i++) {
        struct seq_target *t = &r->targets[i];
        struct seq_listener *l = &r->listeners[i];
        if (i > 0 && sock_addr_port(&t->addr) == 0 && t->operand == r->targets[i - 1].operand)
            sock_addr_set_port(&t->addr, sock_addr_port(&r->listeners[i - 1].bound));
        int fd = sock_tcp_listen(&t->addr, SEQ_R_BACKLOG, flags, &l->bound, err, errlen);
        if (fd < 0)
            return fd;
        l->run = r;
        loop_timer_init(&l->retry, on_listener_retry);
        r->nlisteners = i + 1;
        int rc = loop_add_fd(r->control, &l->lfd, fd, EPOLLIN, on_listener_events);
        if (rc < 0) {
            close(fd);
            snprintf(err, errlen, "epoll_ctl: %s", strerror(-rc));
            return rc;
        }
        t->addr = l->bound;
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
            seq_viol_add(&w->viol, &c->viol);
            w->messages += c->msgs;
            w->replies += c->replies;
            w->bytes_rx += c->bytes_rx;
            w->bytes_tx += c->bytes_tx;
            close(c->fd);
            free(c->stash);
            free(c->pend);
            free(c);
        }
    }
    for (size_t i = 0; i < r->nlisteners; i++)
        close(r->listeners[i].lfd.fd);
}

int seq_replier_run(struct seq_run *r)
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
    if (seq_run_set_error(r, 1, "%s", err))
        seq_msg(r, "%s", err);
    return 1;
}
