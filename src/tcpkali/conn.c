/* tcpkali's connection state machine and connect pacer (see engine_int.h).
 *
 * A connection lives on one worker's loop from connect() or accept() to close():
 *
 *   CONNECTING --EPOLLOUT, SO_ERROR == 0--> [HANDSHAKE] --> ACTIVE
 *
 * (HANDSHAKE only for transports that have one: WebSocket, TLS; accepted connections start
 * there. An outgoing connection is counted as established, conns_out, only once ACTIVE;
 * --connect-timeout covers CONNECTING and HANDSHAKE together.) An ACTIVE connection
 * reads whenever the socket is readable (unless a downstream cap or an echo backlog holds
 * it back) and writes its send stream: the once part, then the message forever, either as
 * fast as the socket takes it, or -r messages per second from a fixed intended-send
 * schedule (core/pace), or in closed loop one message per reply.
 *
 * Memory: struct tk_conn is all an idle plain connection costs. Constant payloads are
 * shared (msgsrc.h) and a connection keeps only an offset into them; reads go to the
 * worker's buffer. The optional struct tk_conn_ext is allocated only when an option needs
 * per-connection state (rates, caps, markers, echo backlog, transports with state).
 *
 * Connect and lifetime deadlines are the same duration for every connection of a run, so
 * each is a FIFO per worker with one timer, not a timer per connection.
 *
 * The connect pacer: each worker owns its share of the target and of --connect-rate (a
 * token bucket on the monotonic clock) and opens its own connections, so the control
 * thread sends nothing per connection and stays free to end the run on time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/util.h"
#include "tcpkali/dump.h"
#include "tcpkali/engine_int.h"
#include "tcpkali/plan.h"

enum {
    TK_SR_OK,     /* everything asked for was written */
    TK_SR_DONE,   /* nothing (more) is allowed now */
    TK_SR_FULL,   /* the socket took less: wait for EPOLLOUT */
    TK_SR_CAPPED, /* the upstream cap holds the rest back: the send timer is armed */
    TK_SR_YIELD,  /* this event's budget is spent: come back on the next EPOLLOUT */
    TK_SR_CLOSED, /* the connection was closed */
};

static void conn_on_events(struct loop *loop, struct loop_fd *h, uint32_t events);
static bool conn_write(struct tk_conn *c);

/* ---- small helpers -------------------------------------------------------------------- */

static const struct tk_config *conn_cfg(const struct tk_conn *c)
{
    return c->w->e->cfg;
}

static const struct tk_msgsrc *conn_src(const struct tk_conn *c)
{
    const struct tk_engine *e = c->w->e;
    return (c->flags & TK_CF_OUTGOING) ? e->src_out : e->src_in;
}

/* The peer's address for a message: the destination, or getpeername for accepted ones. */
static const char *conn_peer_text(const struct tk_conn *c, char *buf, size_t len)
{
    if (c->flags & TK_CF_OUTGOING)
        return tk_addr_format(&conn_cfg(c)->dests[c->dest].addr, buf, len);
    struct sock_addr a;
    memset(&a, 0, sizeof(a));
    a.len = sizeof(a.ss);
    if (getpeername(c->lfd.fd, (struct sockaddr *)&a.ss, &a.len) < 0)
        return "[?]";
    return tk_addr_format(&a, buf, len);
}

static void conn_dump(const struct tk_conn *c, const char *what, const uint8_t *p, size_t n)
{
    struct tk_buf b = {0};
    if (tk_dump_line(&b, what, c->lfd.fd, p, n) == 0)
        fwrite(b.data, 1, b.len, stderr);
    tk_buf_free(&b);
}

/* struct tk_io's dump hook: handshake bytes the transport wrote (out) or read, for -d. */
static void conn_dump_hook(void *ctx, bool out, const uint8_t *p, size_t n)
{
    const struct tk_conn *c = ctx;
    if (c->flags & (out ? TK_CF_DUMP_OUT : TK_CF_DUMP_IN))
        conn_dump(c, out ? "Snd" : "Rcv", p, n);
}

static void io_account(struct tk_worker *w, const struct tk_io *io)
{
    w->f.c.bytes_sent += io->wire_out;
    w->f.c.bytes_rcvd += io->wire_in;
    w->f.c.writes += io->writes;
    w->f.c.reads += io->reads;
    w->f.c.ws_frames_rcvd += io->frames_in;
}

static void *conn_ts(const struct tk_conn *c)
{
    return c->x ? c->x->ts : NULL;
}

/* Bytes of the transport's own output (pong, close reply, echoed frame, TLS record) that
 * the socket has not taken yet. */
static size_t tr_pending(const struct tk_conn *c)
{
    const struct tk_transport *tr = c->w->e->tr;
    return tr->pending ? tr->pending(tr, conn_ts(c)) : 0;
}

static bool reading_on(const struct tk_conn *c)
{
    return !(c->flags & (TK_CF_READ_OFF | TK_CF_NEVER_READ | TK_CF_ECHO_HOLD)) &&
           tr_pending(c) <= TK_TR_PENDING_HOLD;
}

static void conn_update_events(struct tk_conn *c)
{
    uint32_t ev = 0;
    if (c->state == TK_CS_ACTIVE) {
        if (reading_on(c))
            ev |= EPOLLIN;
        if ((c->flags & TK_CF_WANT_WRITE) || tr_pending(c) > 0)
            ev |= EPOLLOUT;
    }
    loop_mod_fd(c->w->loop, &c->lfd, ev);
}

static void want_write(struct tk_conn *c, bool on)
{
    if (on)
        c->flags |= TK_CF_WANT_WRITE;
    else
        c->flags &= (uint16_t)~TK_CF_WANT_WRITE;
}

/* ---- lists and FIFOs ------------------------------------------------------------------ */

static void list_add(struct tk_worker *w, struct tk_conn *c)
{
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
}

static void list_del(struct tk_worker *w, struct tk_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void fifo_push(struct tk_fifo *f, struct tk_conn *c, uint64_t now)
{
    c->deadline_ns = now + f->dur_ns;
    c->fifo = f->id;
    c->fnext = NULL;
    c->fprev = f->tail;
    if (f->tail)
        f->tail->fnext = c;
    else
        f->head = c;
    f->tail = c;
    if (!loop_timer_armed(&f->timer))
        loop_timer_arm(f->w->loop, &f->timer, f->head->deadline_ns);
}

static void fifo_remove(struct tk_worker *w, struct tk_conn *c)
{
    if (!c->fifo)
        return;
    struct tk_fifo *f = c->fifo == w->connecting.id ? &w->connecting : &w->lifetime;
    if (c->fprev)
        c->fprev->fnext = c->fnext;
    else
        f->head = c->fnext;
    if (c->fnext)
        c->fnext->fprev = c->fprev;
    else
        f->tail = c->fprev;
    c->fprev = c->fnext = NULL;
    c->fifo = 0;
    /* The timer may stay armed for a deadline no longer in the FIFO: it then re-arms. */
}

/* ---- the optional part ---------------------------------------------------------------- */

static void on_send_timer(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct tk_conn_ext *x = container_of(t, struct tk_conn_ext, send_timer);
    conn_write(x->c);
}

static bool conn_read(struct tk_conn *c);

static void on_read_timer(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct tk_conn *c = container_of(t, struct tk_conn_ext, read_timer)->c;
    c->flags &= (uint16_t)~TK_CF_READ_OFF;
    conn_update_events(c);
    conn_read(c);
}

static struct tk_conn_ext *conn_ext(struct tk_conn *c)
{
    if (c->x)
        return c->x;
    struct tk_conn_ext *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->c = c;
    loop_timer_init(&x->send_timer, on_send_timer);
    loop_timer_init(&x->read_timer, on_read_timer);
    tk_msgmark_state_init(&x->mm);
    x->cl_credit = true;
    c->x = x;
    return x;
}

static void ext_free(struct tk_conn *c)
{
    struct tk_conn_ext *x = c->x;
    const struct tk_engine *e = c->w->e;
    if (!x)
        return;
    loop_timer_cancel(c->w->loop, &x->send_timer);
    loop_timer_cancel(c->w->loop, &x->read_timer);
    free(x->fifo.v);
    free(x->mstart);
    tk_buf_free(&x->echo);
    tk_buf_free(&x->obuf);
    if (x->ts) {
        if (e->tr->conn_free)
            e->tr->conn_free(e->tr, x->ts);
        free(x->ts);
    }
    if (x->ms) {
        const struct tk_msgsrc *src = conn_src(c);
        if (src && src->ops && src->ops->conn_free)
            src->ops->conn_free(src, x->ms);
        free(x->ms);
    }
    free(x);
    c->x = NULL;
}

/* ---- closing -------------------------------------------------------------------------- */

static void worker_kick_connect(struct tk_worker *w)
{
    if (w->connect_on && !w->stopping && !loop_timer_armed(&w->connect_timer))
        loop_timer_arm(w->loop, &w->connect_timer, loop_now(w->loop));
}

static void conn_free(struct tk_conn *c)
{
    struct tk_worker *w = c->w;
    fifo_remove(w, c);
    list_del(w, c);
    ext_free(c);
    loop_del_fd(w->loop, &c->lfd);
    close(c->lfd.fd);
    if (w->dumping == c)
        w->dumping = NULL;
    free(c);
}

/* A connect to dest that did not succeed (timed_out: by --connect-timeout): counted by
 * cause, reported (-v), and replaced by the pacer at the connect rate like any other. */
static void connect_failure(struct tk_worker *w, const struct tk_dest *dest, int err,
                            bool timed_out)
{
    struct tk_counters *k = &w->f.c;

    k->connect_failures++;
    if (timed_out || err == ETIMEDOUT)
        k->connect_timeouts++;
    else if (err == ECONNREFUSED)
        k->connect_refused++;
    else
        k->connect_other_errors++;
    if (w->e->cfg->verbose >= 1) {
        char addr[SOCK_ADDR_STRLEN + 8];
        tk_addr_format(&dest->addr, addr, sizeof(addr));
        if (timed_out)
            tk_engine_conn_message(w->e, "Connection to %s is being closed: %s", addr,
                                   strerror(ETIMEDOUT));
        else
            tk_engine_conn_message(w->e, "Closing %s: %s", addr, strerror(err));
    }
    worker_kick_connect(w);
}

static void connect_failed(struct tk_conn *c, int err, bool timed_out)
{
    struct tk_worker *w = c->w;
    const struct tk_dest *dest = &conn_cfg(c)->dests[c->dest];

    w->f.c.conns_connecting--;
    w->out_open--;
    conn_free(c);
    connect_failure(w, dest, err, timed_out);
}

/* The engine itself ends an established connection: the transport's best-effort goodbye
 * (TLS close_notify, WebSocket close frame), never waiting for an answer. */
static void conn_say_goodbye(struct tk_conn *c)
{
    const struct tk_transport *tr = c->w->e->tr;
    if (!tr->shutdown)
        return;
    struct tk_io io = {0};
    tr->shutdown(tr, conn_ts(c), c->lfd.fd, &io);
    io_account(c->w, &io);
}

static void conn_close(struct tk_conn *c, enum tk_close_why why, int err)
{
    struct tk_worker *w = c->w;
    struct tk_counters *k = &w->f.c;
    bool outgoing = c->flags & TK_CF_OUTGOING;
    /* Counted as open (conns_out, conns_in) only once past any handshake. */
    bool established = c->state == TK_CS_ACTIVE;

    if (c->state == TK_CS_CONNECTING) {
        connect_failed(c, err ? err : ECONNABORTED, false);
        return;
    }
    if (established && (why == TK_CLOSE_LIFETIME || why == TK_CLOSE_STOP))
        conn_say_goodbye(c);
    switch (why) {
    case TK_CLOSE_EOF: k->conns_closed_by_peer++; break;
    case TK_CLOSE_ERROR: k->conns_reset++; break;
    case TK_CLOSE_LIFETIME: k->conns_lifetime_ended++; break;
    case TK_CLOSE_STOP: break;
    case TK_CLOSE_FATAL: k->conns_reset++; break;
    case TK_CLOSE_HANDSHAKE: break; /* hs_failures, by cause */
    }
    if (why == TK_CLOSE_ERROR && conn_cfg(c)->verbose >= 1) {
        char addr[SOCK_ADDR_STRLEN + 8];
        tk_engine_conn_message(w->e, "Closing %s: %s", conn_peer_text(c, addr, sizeof(addr)),
                               strerror(err));
    }
    if (outgoing) {
        if (established)
            k->conns_out--;
        else
            k->conns_connecting--;
        w->out_open--;
    } else if (established) {
        k->conns_in--;
    }
    conn_free(c);
    if (outgoing && why != TK_CLOSE_STOP)
        worker_kick_connect(w);
}

void tk_worker_close_all(struct tk_worker *w)
{
    while (w->conns) {
        struct tk_conn *c = w->conns;
        if (c->state == TK_CS_CONNECTING) {
            w->f.c.conns_connecting--;
            w->out_open--;
            conn_free(c);
        } else {
            conn_close(c, TK_CLOSE_STOP, 0);
        }
    }
}

/* ---- sending -------------------------------------------------------------------------- */

static void arm_send_timer(struct tk_conn *c, uint64_t deadline)
{
    struct tk_conn_ext *x = c->x;
    if (x && (!loop_timer_armed(&x->send_timer) || x->send_timer.node.deadline_ns > deadline))
        loop_timer_arm(c->w->loop, &x->send_timer, deadline);
}

/* The -r timer for a message due at `due`: the worker's pacing lead early, so that the
 * loop, which spins for timers closer than the lead, finishes the wait on time (plan.h).
 * The early wake-up finds nothing due yet and re-arms here for `due` itself. */
static void arm_pace_timer(struct tk_conn *c, uint64_t due, uint64_t now)
{
    uint64_t lead = c->w->pace_lead_ns;
    arm_send_timer(c, due > now + lead ? due - lead : due);
}

static void fatal_once(struct tk_conn *c, const char *msg)
{
    tk_engine_post_fatal(c->w->e, 1, msg);
}

static bool tsring_push(struct tk_tsring *r, uint64_t t)
{
    if (r->count == r->cap) {
        uint32_t ncap = r->cap ? r->cap * 2 : 16;
        if ((size_t)ncap * sizeof(uint64_t) > TK_FIFO_MAX_BYTES)
            return false;
        uint64_t *v = malloc((size_t)ncap * sizeof(*v));
        if (!v)
            return false;
        for (uint32_t i = 0; i < r->count; i++)
            v[i] = r->v[(r->head + i) % (r->cap ? r->cap : 1)];
        free(r->v);
        r->v = v;
        r->cap = ncap;
        r->head = 0;
    }
    r->v[(r->head + r->count) % r->cap] = t;
    r->count++;
    return true;
}

static bool tsring_pop(struct tk_tsring *r, uint64_t *t)
{
    if (r->count == 0)
        return false;
    *t = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->count--;
    return true;
}

/* `starts` messages had their first byte written at `now`. Returns false when the run
 * must end (the timestamp ring is full). */
static bool conn_msgs_started(struct tk_conn *c, uint64_t starts, uint64_t now)
{
    struct tk_worker *w = c->w;
    const struct tk_engine *e = w->e;
    struct tk_conn_ext *x = c->x;

    w->f.c.msgs_sent += starts;
    c->flags |= TK_CF_SENT_MSG;
    if (!x)
        return true;
    bool lat = e->have_lat;
    if (x->sched_on || lat) {
        for (uint64_t i = 0; i < starts; i++) {
            uint64_t t = now;
            if (x->sched_on) {
                uint64_t intended = pace_sched_advance(&x->sched);
                hist_record(&w->f.send_lag, now > intended ? now - intended : 0);
                if (e->rate_intended)
                    t = intended;
            }
            if (lat && !tsring_push(&x->fifo, t)) {
                fatal_once(c, "Sending messages too fast, not receiving them back fast enough. "
                              "Choose a different --latency-marker or a lower --message-rate.");
                return false;
            }
        }
    }
    if (e->closed_loop)
        x->cl_credit = false;
    return true;
}

/* ---- bandwidth caps ------------------------------------------------------------------- */

/* When `want` bytes of allowance will be there (never now: the caller saw less). */
static uint64_t cap_wait(struct pace_bucket *b, uint64_t want, uint64_t now)
{
    uint64_t wait = pace_bucket_take(b, want, now);
    if (wait == 0) {
        pace_bucket_refund(b, want); /* only asked, not taken */
        wait = 1;
    }
    return wait;
}

/* How many of len bytes a cap lets through now. The cap moves a step at a time
 * (tk_plan_cap_step): less than a step (or than len, if that is smaller) is not worth a
 * system call, so then 0 is returned and *wait_ns says when the step will be there. */
static uint64_t cap_allowed(struct pace_bucket *b, uint64_t len, uint64_t now, uint64_t *wait_ns)
{
    uint64_t step = tk_plan_cap_step(b->burst);
    uint64_t want = len < step ? len : step;
    uint64_t avail = pace_bucket_available(b, now);
    if (avail >= want)
        return avail < len ? avail : len;
    *wait_ns = cap_wait(b, want, now);
    return 0;
}

/* Where a slice offered to the transport may end: at head, head + unit, head + 2 * unit,
 * ... (unit 0: at head only; head is at most the slice's length). The engine offers every
 * tr->send() a slice that ends on a message boundary (transport.h); these say where the
 * other boundaries inside it are, for the one thing that cuts a slice short, the upstream
 * cap. */
struct tk_bounds {
    size_t head, unit;
};

static const struct tk_bounds tk_bounds_any = {1, 1}; /* echoed bytes: no framing */

static struct tk_bounds bounds_whole(size_t len)
{
    return (struct tk_bounds){len, 0};
}

/* The upstream cap for a framing transport: the longest prefix of len bytes that ends on a
 * boundary and that the bucket allows, taken from it now (*taken). A first message larger
 * than the allowance waits for the bucket and then goes whole (pace_bucket_take lets a
 * full bucket go into debt), so a frame is never cut. 0 with *wait_ns when nothing may go. */
static uint64_t cap_take_whole(struct pace_bucket *b, size_t len, struct tk_bounds bd,
                               uint64_t now, uint64_t *wait_ns)
{
    uint64_t avail = pace_bucket_available(b, now);
    uint64_t head = bd.head && bd.head < len ? bd.head : len;
    uint64_t want = head;
    if (avail > head && bd.unit) {
        uint64_t room = (avail < len ? avail : len) - head;
        want += room / bd.unit * bd.unit;
    }
    uint64_t wait = pace_bucket_take(b, want, now);
    if (wait) {
        *wait_ns = wait;
        return 0;
    }
    return want;
}

/* Sends up to len bytes from p under the upstream cap (cut only at bd's boundaries with a
 * framing transport). *sent receives the count. TK_SR_OK (all sent), TK_SR_FULL,
 * TK_SR_CAPPED (part or none sent, timer armed) or TK_SR_CLOSED. */
static int conn_send_bytes(struct tk_conn *c, const uint8_t *p, size_t len, uint64_t now,
                           size_t *sent, struct tk_bounds bd)
{
    struct tk_worker *w = c->w;
    const struct tk_engine *e = w->e;
    struct tk_conn_ext *x = c->x;
    bool capped = false;
    uint64_t taken = 0; /* allowance taken before the send (framing transports) */

    *sent = 0;
    if (x && x->up_on) {
        uint64_t wait = 0;
        uint64_t allowed = e->framed && bd.unit != 1
                               ? (taken = cap_take_whole(&x->up, len, bd, now, &wait))
                               : cap_allowed(&x->up, len, now, &wait);
        if (allowed == 0) {
            arm_send_timer(c, now + wait);
            return TK_SR_CAPPED;
        }
        capped = allowed < len;
        len = (size_t)allowed;
    }
    struct tk_io io = {0};
    ssize_t n = e->tr->send(e->tr, x ? x->ts : NULL, c->lfd.fd, p, len, &io);
    io_account(w, &io);
    if (taken)
        pace_bucket_refund(&x->up, n > 0 ? taken - (uint64_t)n : taken);
    if (n == -EAGAIN)
        return TK_SR_FULL;
    if (n < 0) {
        conn_close(c, TK_CLOSE_ERROR, (int)-n);
        return TK_SR_CLOSED;
    }
    if (x && x->up_on && !taken)
        pace_bucket_take(&x->up, (uint64_t)n, now);
    if (c->flags & TK_CF_DUMP_OUT)
        conn_dump(c, "Snd", p, (size_t)n);
    *sent = (size_t)n;
    if ((size_t)n < len)
        return TK_SR_FULL;
    if (capped) {
        /* The allowance is spent: come back when the next step is. */
        arm_send_timer(c, now + cap_wait(&x->up, tk_plan_cap_step(x->up.burst), now));
        return TK_SR_CAPPED;
    }
    return TK_SR_OK;
}

/* The once part: shared bytes (constant source) or the connection's buffer. */
static int send_once(struct tk_conn *c, const struct tk_msgsrc *src, uint64_t now)
{
    struct tk_conn_ext *x = c->x;
    for (;;) {
        const uint8_t *p;
        size_t len, n;
        if (src->constant) {
            p = src->first + c->off;
            len = src->first_len - c->off;
        } else {
            p = x->obuf.data + x->obuf_off;
            len = x->obuf.len - x->obuf_off;
            if (len && src->ops->stamp)
                src->ops->stamp(src, x->ms, &x->obuf, x->obuf_off, len);
        }
        if (len == 0)
            return TK_SR_DONE;
        int rc = conn_send_bytes(c, p, len, now, &n, bounds_whole(len));
        if (rc == TK_SR_CLOSED)
            return rc;
        if (src->constant)
            c->off += (uint32_t)n;
        else
            x->obuf_off += n;
        if (rc != TK_SR_OK)
            return rc;
    }
}

/* Constant messages: the rest of the message in flight plus up to `allow` whole messages,
 * straight from the shared replicated buffer. Message k of the buffer starts at k * L, so
 * the messages whose first byte a write covers are the multiples of L in [off, off + n). */
static int send_msgs_constant(struct tk_conn *c, const struct tk_msgsrc *src, uint64_t allow,
                              uint64_t now)
{
    const size_t L = src->msg_len, R = src->rep_len;
    const bool combine = conn_cfg(c)->write_combine;
    size_t total = 0;
    unsigned sends = 0;

    for (;;) {
        size_t off = c->off;
        size_t len = tk_rep_slice(off, L, R, allow, combine);
        if (len == 0)
            return TK_SR_DONE;
        size_t n, into = off % L;
        struct tk_bounds bd = {into ? L - into : L, L};
        int rc = conn_send_bytes(c, src->rep + off, len, now, &n, bd);
        if (rc == TK_SR_CLOSED)
            return rc;
        if (n) {
            uint64_t starts = tk_rep_starts(off, n, L);
            if (starts) {
                if (!conn_msgs_started(c, starts, now))
                    return TK_SR_DONE;
                allow -= starts < allow ? starts : allow;
            }
            c->off = (uint32_t)(off + n == R ? 0 : off + n);
            total += n;
        }
        if (rc != TK_SR_OK)
            return rc;
        if (++sends >= TK_SENDS_PER_EVENT || total >= TK_SEND_BUDGET)
            return TK_SR_YIELD;
    }
}

/* Remembers that a message starts at off in the connection's buffer. 0 or -ENOMEM. */
static int mstart_push(struct tk_conn_ext *x, size_t off)
{
    if (x->mstart_n == x->mstart_cap) {
        size_t cap = x->mstart_cap ? x->mstart_cap * 2 : 64;
        uint32_t *v = realloc(x->mstart, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        x->mstart = v;
        x->mstart_cap = cap;
    }
    x->mstart[x->mstart_n++] = (uint32_t)off;
    return 0;
}

/* How many messages of the buffer start before `end` and were not counted yet. */
static uint64_t mstart_count(struct tk_conn_ext *x, size_t end)
{
    uint64_t k = 0;
    while (x->mstart_i < x->mstart_n && x->mstart[x->mstart_i] < end) {
        x->mstart_i++;
        k++;
    }
    return k;
}

/* Non-constant messages (expressions): evaluated into the connection's buffer when it has
 * been fully written, one message at a time, or with write combining as many as are
 * allowed up to TK_REP_MIN bytes. The buffer only ever holds messages that are allowed now
 * (due, with -r), so message boundaries are kept whatever their lengths (bug 30), and every
 * send offers the rest of the buffer, which ends where its last message ends. A message
 * counts as sent when its first byte is written (bug 40). Markers are stamped right before
 * each write. Under the upstream cap with a framing transport each batch is one message,
 * so the cap never has to hold back a whole batch. */
static int send_msgs_dynamic(struct tk_conn *c, const struct tk_msgsrc *src, uint64_t allow,
                             uint64_t now)
{
    struct tk_conn_ext *x = c->x;
    const bool combine = conn_cfg(c)->write_combine && !(c->w->e->framed && x->up_on);
    size_t total = 0;
    unsigned sends = 0;

    for (;;) {
        if (x->obuf_off == x->obuf.len) {
            x->obuf.len = 0;
            x->obuf_off = 0;
            x->mstart_n = x->mstart_i = 0;
            uint64_t k = 0;
            while (k < allow && x->obuf.len < TK_REP_MIN && (combine || k == 0)) {
                size_t mlen = 0, at = x->obuf.len;
                if (mstart_push(x, at) < 0 || src->ops->next(src, x->ms, &x->obuf, &mlen) < 0 ||
                    mlen == 0) {
                    x->obuf.len = at;
                    x->mstart_n = (size_t)k;
                    break;
                }
                k++;
            }
            if (k == 0)
                return TK_SR_DONE;
            allow -= k < allow ? k : allow;
        }
        uint8_t *p = x->obuf.data + x->obuf_off;
        size_t len = x->obuf.len - x->obuf_off, n;
        if (src->ops->stamp)
            src->ops->stamp(src, x->ms, &x->obuf, x->obuf_off, len);
        int rc = conn_send_bytes(c, p, len, now, &n, bounds_whole(len));
        if (rc == TK_SR_CLOSED)
            return rc;
        x->obuf_off += n;
        total += n;
        uint64_t starts = n ? mstart_count(x, x->obuf_off) : 0;
        if (starts && !conn_msgs_started(c, starts, now))
            return TK_SR_DONE;
        if (rc != TK_SR_OK)
            return rc;
        if (++sends >= TK_SENDS_PER_EVENT || total >= TK_SEND_BUDGET)
            return TK_SR_YIELD;
    }
}

static bool at_message_boundary(const struct tk_conn *c, const struct tk_msgsrc *src)
{
    if (src->constant)
        return src->msg_len == 0 || c->off % src->msg_len == 0;
    return c->x == NULL || c->x->obuf_off == c->x->obuf.len;
}

/* How many new messages may start now. */
static uint64_t msgs_allowed(struct tk_conn *c, uint64_t now)
{
    const struct tk_engine *e = c->w->e;
    struct tk_conn_ext *x = c->x;
    uint64_t allow = UINT64_MAX;

    if (x && x->sched_on)
        allow = pace_sched_due(&x->sched, now, 0);
    if (e->closed_loop && !(x && x->cl_credit))
        allow = 0;
    else if (e->closed_loop && allow > 1)
        allow = 1;
    return allow;
}

/* Echo mode: writes what the socket did not take before. false when closed. */
static bool echo_flush(struct tk_conn *c, uint64_t now)
{
    struct tk_conn_ext *x = c->x;
    size_t n;
    int rc = conn_send_bytes(c, x->echo.data + x->echo_off, x->echo.len - x->echo_off, now, &n,
                             tk_bounds_any);
    if (rc == TK_SR_CLOSED)
        return false;
    x->echo_off += n;
    if (x->echo_off == x->echo.len) {
        tk_buf_free(&x->echo);
        x->echo_off = 0;
        c->flags &= (uint16_t)~TK_CF_ECHO_HOLD;
        want_write(c, false);
    } else {
        want_write(c, rc == TK_SR_FULL);
    }
    conn_update_events(c);
    return true;
}

/* The once part is out: the message (or nothing) follows, from the start of its buffer. */
static void once_done(struct tk_conn *c, const struct tk_msgsrc *src)
{
    c->phase = src->has_messages ? TK_PH_MSGS : TK_PH_IDLE;
    c->off = 0;
    if (c->x) {
        c->x->obuf.len = 0;
        c->x->obuf_off = 0;
    }
}

/* --channel-lifetime 0: a connection ends once it has written its first message whole (or
 * all it had to send, or nothing when there is nothing to send), so that each connection
 * carries one message and the pacer opens the next; rc is the last send's result. */
static bool lifetime_zero_over(const struct tk_conn *c, const struct tk_msgsrc *src, int rc)
{
    if (c->phase == TK_PH_IDLE)
        return rc != TK_SR_FULL && rc != TK_SR_CAPPED;
    return (c->flags & TK_CF_SENT_MSG) && at_message_boundary(c, src);
}

/* Writes the transport's pending output. false when the connection was closed; *blocked
 * when the socket did not take all of it (EPOLLOUT stays on while any is pending). */
static bool tr_flush(struct tk_conn *c, bool *blocked)
{
    const struct tk_transport *tr = c->w->e->tr;
    *blocked = false;
    if (!tr->flush || tr_pending(c) == 0)
        return true;
    struct tk_io io = {0};
    int rc = tr->flush(tr, conn_ts(c), c->lfd.fd, &io);
    io_account(c->w, &io);
    if (rc == -EAGAIN) {
        *blocked = true;
        return true;
    }
    if (rc < 0) {
        conn_close(c, TK_CLOSE_ERROR, -rc);
        return false;
    }
    return true;
}

/* Writes what the connection may send now and sets up the next wake-up (EPOLLOUT or the
 * send timer). Returns false when the connection was closed. */
static bool conn_write(struct tk_conn *c)
{
    const struct tk_engine *e = c->w->e;
    const struct tk_msgsrc *src = conn_src(c);
    struct tk_conn_ext *x = c->x;
    uint64_t now = clock_mono_ns();
    int rc = TK_SR_DONE;
    bool blocked = false;

    if (c->state != TK_CS_ACTIVE)
        return true;
    /* The transport's own output goes first: it goes between whole frames of ours. */
    if (!tr_flush(c, &blocked))
        return false;
    if (blocked) {
        conn_update_events(c);
        return true;
    }
    if (x && x->echo.len > x->echo_off)
        return echo_flush(c, now);
    if (!(c->flags & TK_CF_SENDS)) {
        want_write(c, false);
        conn_update_events(c);
        return true;
    }
    if (c->phase == TK_PH_ONCE) {
        rc = send_once(c, src, now);
        if (rc == TK_SR_CLOSED)
            return false;
        if (rc == TK_SR_DONE)
            once_done(c, src);
    }
    if (c->phase == TK_PH_MSGS) {
        uint64_t allow = msgs_allowed(c, now);
        rc = src->constant ? send_msgs_constant(c, src, allow, now)
                           : send_msgs_dynamic(c, src, allow, now);
        if (rc == TK_SR_CLOSED)
            return false;
        if (rc == TK_SR_DONE && x && x->sched_on && (!e->closed_loop || x->cl_credit) &&
            at_message_boundary(c, src))
            arm_pace_timer(c, pace_sched_next(&x->sched), now);
    }
    want_write(c, rc == TK_SR_FULL || rc == TK_SR_YIELD);
    if (e->lifetime_zero && lifetime_zero_over(c, src, rc)) {
        conn_close(c, TK_CLOSE_LIFETIME, 0);
        return false;
    }
    conn_update_events(c);
    return true;
}

/* ---- receiving ------------------------------------------------------------------------ */

static bool echo_send(struct tk_conn *c, const uint8_t *buf, size_t n, uint64_t now)
{
    size_t sent = 0;
    int rc = TK_SR_FULL;
    /* Bytes still held back go first: echo keeps the stream's order. */
    if (!(c->x && c->x->echo.len > c->x->echo_off))
        rc = conn_send_bytes(c, buf, n, now, &sent, tk_bounds_any);
    if (rc == TK_SR_CLOSED)
        return false;
    if (sent < n) {
        struct tk_conn_ext *x = conn_ext(c);
        if (!x || tk_buf_append(&x->echo, buf + sent, n - sent) < 0) {
            conn_close(c, TK_CLOSE_FATAL, ENOMEM);
            return false;
        }
        /* Hold reading until the peer has taken its bytes back. */
        c->flags |= TK_CF_ECHO_HOLD;
        want_write(c, rc == TK_SR_FULL);
        conn_update_events(c);
    }
    return true;
}

/* --latency-marker matches in buf. false when the connection was closed. */
static bool latency_scan(struct tk_conn *c, const uint8_t *buf, size_t n, uint64_t now,
                         bool *reply)
{
    struct tk_worker *w = c->w;
    struct tk_engine *e = w->e;
    struct tk_conn_ext *x = c->x;
    size_t pos = 0;

    while (tk_marker_find_skip(&e->lat_marker, &x->lat_state, &x->lat_skip, buf, n, &pos)) {
        uint64_t t;
        if (!tsring_pop(&x->fifo, &t)) {
            fatal_once(c, "More messages received than sent. Choose a different "
                          "--latency-marker.");
            conn_close(c, TK_CLOSE_FATAL, 0);
            return false;
        }
        hist_record(&w->f.lat_message, now > t ? now - t : 0);
        if (e->closed_loop) {
            w->f.c.transactions++;
            x->cl_credit = true;
            *reply = true;
        }
    }
    return true;
}

static void msgmark_scan(struct tk_conn *c, const uint8_t *buf, size_t n)
{
    struct tk_worker *w = c->w;
    struct tk_conn_ext *x = c->x;
    size_t pos = 0;
    uint64_t ts_us, now_us = 0;

    while (tk_msgmark_next(&w->e->mm_prefix, &x->mm, buf, n, &pos, &ts_us)) {
        if (!now_us)
            now_us = clock_real_ns() / 1000;
        w->f.c.msgs_rcvd++;
        hist_record(&w->f.lat_message, now_us > ts_us ? (now_us - ts_us) * 1000 : 0);
    }
}

static void stop_scan(struct tk_conn *c, const uint8_t *buf, size_t n)
{
    struct tk_engine *e = c->w->e;
    size_t pos = 0;
    if (tk_marker_find(&e->stop_marker, &c->x->stop_state, buf, n, &pos)) {
        size_t from = pos > 4096 ? pos - 4096 : 0;
        size_t to = n - pos > 4096 ? pos + 4096 : n;
        tk_engine_post_message_stop(e, buf + from, to - from);
    }
}

/* Everything that looks at received bytes. false when the connection was closed. */
static bool conn_received(struct tk_conn *c, const uint8_t *buf, size_t n, uint64_t now)
{
    struct tk_worker *w = c->w;
    const struct tk_engine *e = w->e;
    bool reply = false;

    if (!(c->flags & TK_CF_FIRST_BYTE)) {
        c->flags |= TK_CF_FIRST_BYTE;
        hist_record(&w->f.lat_first_byte, now - c->start_ns);
    }
    if (c->flags & TK_CF_DUMP_IN)
        conn_dump(c, "Rcv", buf, n);
    if (e->cfg->verbose >= 2) {
        size_t keep = n < sizeof(w->last_rx) ? n : sizeof(w->last_rx);
        memcpy(w->last_rx, buf + n - keep, keep);
        w->last_rx_len = keep;
    }
    if (e->have_stop && c->x)
        stop_scan(c, buf, n);
    if (e->have_lat && (c->flags & TK_CF_SENDS) && c->x && !latency_scan(c, buf, n, now, &reply))
        return false;
    if (e->have_mm && c->x)
        msgmark_scan(c, buf, n);
    if ((c->flags & TK_CF_ECHO) && !echo_send(c, buf, n, now))
        return false;
    if (reply)
        return conn_write(c);
    return true;
}

static bool conn_read(struct tk_conn *c)
{
    struct tk_worker *w = c->w;
    const struct tk_engine *e = w->e;

    for (int i = 0; i < TK_READS_PER_EVENT && reading_on(c); i++) {
        struct tk_conn_ext *x = c->x;
        size_t cap = TK_RXBUF;
        uint64_t now = clock_mono_ns();
        if (x && x->down_on) {
            uint64_t wait = 0;
            uint64_t allowed = cap_allowed(&x->down, cap, now, &wait);
            if (allowed == 0) {
                /* Stop reading until the next step of allowance: the peer's flow control
                 * holds the rest back meanwhile. */
                c->flags |= TK_CF_READ_OFF;
                conn_update_events(c);
                loop_timer_arm(w->loop, &x->read_timer, now + wait);
                return true;
            }
            cap = (size_t)allowed;
        }
        struct tk_io io = {0};
        ssize_t n = e->tr->recv(e->tr, x ? x->ts : NULL, c->lfd.fd, w->rxbuf, cap, &io);
        io_account(w, &io);
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            conn_close(c, TK_CLOSE_ERROR, (int)-n);
            return false;
        }
        if (n == 0) {
            /* A WebSocket close: its reply may be queued; one try to deliver it. */
            bool blocked;
            if (tr_flush(c, &blocked))
                conn_close(c, TK_CLOSE_EOF, 0);
            return false;
        }
        if (x && x->down_on)
            pace_bucket_take(&x->down, (uint64_t)n, now);
        if (!conn_received(c, w->rxbuf, (size_t)n, now))
            return false;
        if ((size_t)n < cap)
            return true;
    }
    return true;
}

/* ---- becoming active ------------------------------------------------------------------ */

static int bucket_for(struct pace_bucket *b, double Bps, uint64_t now)
{
    struct pace_rate r;
    if (pace_rate_from_per_sec(Bps, &r) < 0)
        return -EINVAL;
    return pace_bucket_init(b, r, tk_plan_cap_burst(Bps), now);
}

static bool conn_needs_ext(const struct tk_conn *c, const struct tk_msgsrc *src, bool sends)
{
    const struct tk_engine *e = c->w->e;
    const struct tk_config *cfg = e->cfg;
    bool msgs = sends && src->has_messages;

    return (msgs && (c->w->rate_on || e->closed_loop || e->have_lat)) ||
           (sends && cfg->bandwidth_up_Bps > 0) || cfg->bandwidth_down_Bps > 0 ||
           e->have_stop || e->have_mm || (sends && !src->constant) ||
           e->tr->conn_state_size > 0;
}

/* The optional part of a connection that has become active: the -r schedule, the caps'
 * buckets, the marker skip count and a non-constant source's state, from now on. 0 or
 * -ENOMEM. */
static int conn_setup_ext(struct tk_conn *c, const struct tk_msgsrc *src, bool sends)
{
    struct tk_worker *w = c->w;
    const struct tk_config *cfg = w->e->cfg;
    struct tk_conn_ext *x = conn_ext(c);
    uint64_t now = clock_mono_ns();

    if (!x)
        return -ENOMEM;
    x->lat_skip = cfg->latency_marker_skip;
    if (sends && src->has_messages && w->rate_on)
        x->sched_on = pace_sched_init_fixed(&x->sched, w->rate, now) == 0;
    if (sends && cfg->bandwidth_up_Bps > 0)
        x->up_on = bucket_for(&x->up, cfg->bandwidth_up_Bps, now) == 0;
    if (cfg->bandwidth_down_Bps > 0)
        x->down_on = bucket_for(&x->down, cfg->bandwidth_down_Bps, now) == 0;
    if (sends && !src->constant) {
        x->ms = calloc(1, src->ops->conn_state_size ? src->ops->conn_state_size : 1);
        uint64_t uid = atomic_fetch_add(&w->e->conn_uid, 1) + 1;
        if (!x->ms || (src->ops->conn_init && src->ops->conn_init(src, x->ms, uid) < 0) ||
            (src->ops->first && src->ops->first(src, x->ms, &x->obuf) < 0))
            return -ENOMEM;
    }
    return 0;
}

/* Sets up sending and receiving once connected (and past any handshake). false when the
 * connection was closed. */
static bool conn_begin(struct tk_conn *c)
{
    struct tk_worker *w = c->w;
    const struct tk_engine *e = w->e;
    const struct tk_config *cfg = e->cfg;
    const struct tk_msgsrc *src = conn_src(c);
    bool sends = src && (src->first_len > 0 || src->has_messages || !src->constant);

    c->state = TK_CS_ACTIVE;
    /* A transport that echoes frames itself (WebSocket) gets no echo of its payload on top. */
    if (!(c->flags & TK_CF_OUTGOING) && cfg->listen_mode == TK_LISTEN_ECHO && !e->tr->echoes)
        c->flags |= TK_CF_ECHO;
    if (sends)
        c->flags |= TK_CF_SENDS;
    if (cfg->bandwidth_down_Bps == 0)
        c->flags |= TK_CF_NEVER_READ;
    c->off = 0;
    c->phase = TK_PH_IDLE;
    if (sends)
        c->phase = (src->constant && src->first_len == 0) ? TK_PH_MSGS : TK_PH_ONCE;

    if (conn_needs_ext(c, src, sends) && conn_setup_ext(c, src, sends) < 0) {
        conn_close(c, TK_CLOSE_FATAL, ENOMEM);
        return false;
    }
    if (e->lifetime_zero && !sends) {
        conn_close(c, TK_CLOSE_LIFETIME, 0);
        return false;
    }
    if (sends)
        return conn_write(c);
    conn_update_events(c);
    return true;
}

static void conn_pick_dump(struct tk_conn *c)
{
    struct tk_worker *w = c->w;
    const struct tk_config *cfg = w->e->cfg;
    unsigned d = cfg->dump;

    if (d & TK_DUMP_ALL_IN)
        c->flags |= TK_CF_DUMP_IN;
    if (d & TK_DUMP_ALL_OUT)
        c->flags |= TK_CF_DUMP_OUT;
    if (!(d & (TK_DUMP_ONE_IN | TK_DUMP_ONE_OUT)) || w->index != 0 || w->dumping)
        return;
    /* With destinations, only outgoing connections are dumped (as tcpkali does). */
    if (!(c->flags & TK_CF_OUTGOING) && cfg->ndests > 0 && cfg->connections > 0)
        return;
    w->dumping = c;
    if (d & TK_DUMP_ONE_IN)
        c->flags |= TK_CF_DUMP_IN;
    if (d & TK_DUMP_ONE_OUT)
        c->flags |= TK_CF_DUMP_OUT;
}

/* Past connect() and any handshake: the connection is established. An outgoing one now
 * counts in conns_out (ramp-up), leaves the connect-timeout FIFO and starts its lifetime;
 * an accepted one counts in conns_in. Then sending and receiving begin. */
static bool conn_ready(struct tk_conn *c)
{
    struct tk_worker *w = c->w;
    struct tk_counters *k = &w->f.c;

    if (c->flags & TK_CF_OUTGOING) {
        fifo_remove(w, c);
        k->conns_connecting--;
        k->conns_out++;
        k->conns_connected++;
        if (w->lifetime.dur_ns)
            fifo_push(&w->lifetime, c, clock_mono_ns());
    } else {
        k->conns_in++;
    }
    c->state = TK_CS_ACTIVE; /* a close from here on counts as an established one */
    return conn_begin(c);
}

/* The transport refused the handshake: counted by cause, reported (-v), closed. */
static void conn_handshake_failed(struct tk_conn *c)
{
    struct tk_worker *w = c->w;
    const struct tk_transport *tr = w->e->tr;
    char text[256] = "";
    enum tk_hs_fail f = TK_HSF_COUNT;

    if (tr->fail_cause)
        f = tr->fail_cause(tr, conn_ts(c), text, sizeof(text));
    if ((unsigned)f < TK_HSF_COUNT)
        w->f.c.hs_failures[f]++;
    if (w->e->cfg->verbose >= 1) {
        char addr[SOCK_ADDR_STRLEN + 8];
        tk_engine_conn_message(w->e, "Closing %s: %s", conn_peer_text(c, addr, sizeof(addr)),
                               text[0] ? text : tk_hs_fail_name(f));
    }
    conn_close(c, TK_CLOSE_HANDSHAKE, 0);
}

/* One step of the transport's handshake; events: what the socket reported (0: none). */
static void conn_handshake(struct tk_conn *c, uint32_t events)
{
    const struct tk_engine *e = c->w->e;
    struct tk_io io = {0};
    if (c->flags & (TK_CF_DUMP_IN | TK_CF_DUMP_OUT)) {
        io.dump = conn_dump_hook;
        io.dump_ctx = c;
    }
    int rc = e->tr->handshake(e->tr, conn_ts(c), c->lfd.fd, &io);
    io_account(c->w, &io);
    if (rc == TK_HS_FAILED) {
        conn_handshake_failed(c);
        return;
    }
    if (rc < 0) {
        conn_close(c, TK_CLOSE_ERROR, -rc);
        return;
    }
    if (rc == TK_HS_DONE) {
        /* Bytes that came with the handshake's end (frames after the 101, records OpenSSL
         * decrypted ahead) are held by the transport: level-triggered epoll will not signal
         * them again, so read once now. */
        if (conn_ready(c) && reading_on(c) && conn_read(c))
            conn_update_events(c);
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        /* The socket is dead, yet the transport still waits: it never will get more. */
        int err = sock_connect_result(c->lfd.fd);
        conn_close(c, err ? TK_CLOSE_ERROR : TK_CLOSE_EOF, -err);
        return;
    }
    loop_mod_fd(c->w->loop, &c->lfd, rc == TK_HS_WANT_WRITE ? EPOLLOUT : EPOLLIN);
}

/* Connected (outgoing) or accepted: the transport's state, then its handshake, or straight
 * to established. */
static void conn_transport_start(struct tk_conn *c, const struct tk_dest *dest)
{
    const struct tk_engine *e = c->w->e;

    c->state = TK_CS_HANDSHAKE; /* not established yet: conn_ready counts it */
    if (e->tr->conn_state_size) {
        struct tk_conn_ext *x = conn_ext(c);
        if (!x || !(x->ts = calloc(1, e->tr->conn_state_size)) ||
            (e->tr->conn_init &&
             e->tr->conn_init(e->tr, x->ts, c->flags & TK_CF_OUTGOING, dest) < 0)) {
            conn_close(c, TK_CLOSE_FATAL, ENOMEM); /* conn_free copes with a failed init */
            return;
        }
    }
    if (e->tr->handshake) {
        conn_handshake(c, 0);
        return;
    }
    conn_ready(c);
}

/* connect() succeeded (SO_ERROR 0). Connect latency ends here; the connect timeout goes on
 * through the handshake, and the connection counts as established only after it. */
static void conn_connected(struct tk_conn *c, uint64_t now)
{
    struct tk_worker *w = c->w;
    const struct tk_config *cfg = w->e->cfg;

    w->dest_ok[c->dest]++;
    hist_record(&w->f.lat_connect, now - c->start_ns);
    if (cfg->verbose >= 2) {
        struct sock_addr local;
        char la[SOCK_ADDR_STRLEN + 8], ra[SOCK_ADDR_STRLEN + 8];
        if (sock_local_addr(c->lfd.fd, &local) == 0)
            fprintf(stderr, "Connection %s -> %s opened as %d\n",
                    tk_addr_format(&local, la, sizeof(la)),
                    tk_addr_format(&cfg->dests[c->dest].addr, ra, sizeof(ra)), c->lfd.fd);
    }
    conn_pick_dump(c);
    conn_transport_start(c, &cfg->dests[c->dest]);
}

static void conn_on_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    (void)loop;
    struct tk_conn *c = container_of(h, struct tk_conn, lfd);

    if (c->state == TK_CS_CONNECTING) {
        int rc = sock_connect_result(c->lfd.fd);
        if (rc == 0 && !(events & EPOLLERR))
            conn_connected(c, clock_mono_ns());
        else
            connect_failed(c, rc ? -rc : ECONNREFUSED, false);
        return;
    }
    if (c->state == TK_CS_HANDSHAKE) {
        conn_handshake(c, events);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (reading_on(c)) {
            if (!conn_read(c))
                return;
        } else if (events & (EPOLLHUP | EPOLLERR)) {
            /* Not reading (capped, or never): the socket is dead all the same. */
            int rc = sock_connect_result(c->lfd.fd);
            conn_close(c, rc ? TK_CLOSE_ERROR : TK_CLOSE_EOF, -rc);
            return;
        }
    }
    if (events & EPOLLOUT) {
        conn_write(c);
        return;
    }
    /* What was read may have queued transport output (a pong) or reached the hold. */
    conn_update_events(c);
}

/* ---- opening -------------------------------------------------------------------------- */

void tk_conn_sockopts(const struct tk_config *cfg, int fd)
{
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    /* --nagle on: TCP_NODELAY 0; off, or --write-combine off: 1 (bug 2); unset: untouched. */
    if (cfg->nagle == 1)
        sock_set_nodelay(fd, false);
    else if (cfg->nagle == 0 || !cfg->write_combine)
        sock_set_nodelay(fd, true);
    if (cfg->rcvbuf || cfg->sndbuf)
        sock_set_buffers(fd, cfg->rcvbuf, cfg->sndbuf);
}

/* Binds fd to the next source address, if any: --source-ip round-robin over the whole
 * process (bug 19), or loopback spreading; never a port (IP_BIND_ADDRESS_NO_PORT, bug 21). */
static int conn_bind_source(struct tk_engine *e, int fd, const struct tk_dest *dest)
{
    int fam = sock_addr_family(&dest->addr);
    const struct sock_addr *list = fam == AF_INET ? e->src4 : e->src6;
    size_t n = fam == AF_INET ? e->nsrc4 : e->nsrc6;
    struct sock_addr a;

    if (n) {
        a = list[atomic_fetch_add(&e->src_rr, 1) % n];
    } else if (fam == AF_INET && e->nloop > 1 && sock_addr_is_loopback(&dest->addr)) {
        tk_plan_loop_addr((unsigned)(atomic_fetch_add(&e->src_rr, 1) % e->nloop), &a);
    } else {
        return 0;
    }
    sock_addr_set_port(&a, 0);
    sock_set_bind_no_port(fd);
    if (bind(fd, (const struct sockaddr *)&a.ss, a.len) < 0)
        return -errno;
    return 0;
}

/* A socket for an outgoing connection to dest, options set and source bound: the fd, or
 * -errno. Running out of descriptors ends the run, with tcpkali's advice. */
static int open_socket(struct tk_engine *e, const struct tk_dest *dest)
{
    int fd = socket(sock_addr_family(&dest->addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    IPPROTO_TCP);
    if (fd < 0) {
        int err = errno;
        if (err == EMFILE || err == ENFILE) {
            char msg[256];
            snprintf(msg, sizeof(msg), "Cannot create socket: %s\n%s", strerror(err),
                     err == EMFILE ? "Increase `ulimit -n` to twice exceed the --connections."
                                   : "Increase kern.maxfiles/fs.file-max sysctls");
            tk_engine_post_fatal(e, 1, msg);
        }
        return -err;
    }
    tk_conn_sockopts(e->cfg, fd);
    int rc = conn_bind_source(e, fd, dest);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static void conn_open(struct tk_worker *w)
{
    struct tk_engine *e = w->e;
    const struct tk_config *cfg = e->cfg;
    size_t d = tk_plan_pick_dest(cfg->ndests, w->dest_attempts, w->dest_ok, &w->dest_next);
    const struct tk_dest *dest = &cfg->dests[d];
    struct tk_counters *k = &w->f.c;

    k->conns_initiated++;
    k->conns_seen++;
    w->dest_attempts[d]++;
    int fd = open_socket(e, dest);
    struct tk_conn *c = fd >= 0 ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        if (fd >= 0)
            close(fd);
        connect_failure(w, dest, fd < 0 ? -fd : ENOMEM, false);
        return;
    }
    c->w = w;
    c->flags = TK_CF_OUTGOING;
    c->dest = (uint16_t)d;
    c->state = TK_CS_CONNECTING;
    c->lfd.fd = fd;
    c->start_ns = clock_mono_ns();
    int rc = connect(fd, (const struct sockaddr *)&dest->addr.ss, dest->addr.len);
    int err = rc < 0 && errno != EINPROGRESS ? errno : 0;
    if (!err && loop_add_fd(w->loop, &c->lfd, fd, EPOLLOUT, conn_on_events) < 0)
        err = ENOMEM;
    if (err) {
        close(fd);
        free(c);
        connect_failure(w, dest, err, false);
        return;
    }
    list_add(w, c);
    w->out_open++;
    k->conns_connecting++;
    if (rc == 0)
        conn_connected(c, clock_mono_ns());
    else if (w->connecting.dur_ns)
        fifo_push(&w->connecting, c, c->start_ns);
}

void tk_worker_connect_more(struct tk_worker *w)
{
    struct tk_engine *e = w->e;

    if (!w->connect_on || w->stopping || atomic_load(&e->fatal_sent))
        return;
    uint64_t now = clock_mono_ns(), next;
    uint64_t need = w->out_open < w->target ? w->target - w->out_open : 0;
    uint64_t n = tk_plan_connect_step(&w->cbucket, now, need, TK_CONNECTS_PER_EVENT, &next);
    for (uint64_t i = 0; i < n && !atomic_load(&e->fatal_sent); i++)
        conn_open(w);
    if (next)
        loop_timer_arm(w->loop, &w->connect_timer, next);
}

static void on_connect_timer(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    tk_worker_connect_more(container_of(t, struct tk_worker, connect_timer));
}

static void on_fifo_timer(struct loop *loop, struct loop_timer *t)
{
    struct tk_fifo *f = container_of(t, struct tk_fifo, timer);
    struct tk_worker *w = f->w;
    uint64_t now = loop_update_now(loop);

    while (f->head && f->head->deadline_ns <= now) {
        struct tk_conn *c = f->head;
        fifo_remove(w, c);
        if (f == &w->connecting)
            connect_failed(c, ETIMEDOUT, true);
        else
            conn_close(c, TK_CLOSE_LIFETIME, 0);
    }
    if (f->head && !loop_timer_armed(&f->timer))
        loop_timer_arm(loop, &f->timer, f->head->deadline_ns);
}

void tk_worker_conn_init(struct tk_worker *w)
{
    const struct tk_engine *e = w->e;
    const struct tk_config *cfg = e->cfg;
    uint64_t now = clock_mono_ns();

    loop_timer_init(&w->connect_timer, on_connect_timer);
    w->connecting.w = w->lifetime.w = w;
    w->connecting.id = 1;
    w->lifetime.id = 2;
    loop_timer_init(&w->connecting.timer, on_fifo_timer);
    loop_timer_init(&w->lifetime.timer, on_fifo_timer);
    w->connecting.dur_ns = cfg->connect_timeout_ns;
    if (cfg->channel_lifetime_set && cfg->channel_lifetime_ns > 0)
        w->lifetime.dur_ns = cfg->channel_lifetime_ns;

    w->target = cfg->ndests ? tk_plan_share(cfg->connections, e->nworkers, w->index) : 0;
    double rate = tk_plan_rate_share(cfg->connect_rate, cfg->connections, e->nworkers, w->index);
    struct pace_rate pr;
    if (w->target > 0 && pace_rate_from_per_sec(rate, &pr) == 0 &&
        pace_bucket_init(&w->cbucket, pr, tk_plan_connect_burst(rate), now) == 0) {
        w->connect_on = true;
        loop_timer_arm(w->loop, &w->connect_timer, now);
    }
}

/* ---- accepting ------------------------------------------------------------------------ */

void tk_conn_accepted(struct tk_worker *w, int fd, const struct sock_addr *peer)
{
    const struct tk_config *cfg = w->e->cfg;
    struct tk_counters *k = &w->f.c;
    (void)peer;

    k->conns_accepted++;
    k->conns_seen++;
    /* SO_KEEPALIVE, TCP_NODELAY and the buffer sizes are inherited from the listener
     * (tk_conn_sockopts there), which saves a syscall per accepted connection. The usual
     * interest (reading) is registered at once, so a silent sink needs no EPOLL_CTL_MOD. */
    struct tk_conn *c = calloc(1, sizeof(*c));
    uint32_t ev = cfg->bandwidth_down_Bps == 0 ? 0 : EPOLLIN;
    if (!c || loop_add_fd(w->loop, &c->lfd, fd, ev, conn_on_events) < 0) {
        free(c);
        close(fd);
        k->accept_errors++;
        return;
    }
    c->w = w;
    c->state = TK_CS_HANDSHAKE;
    c->start_ns = clock_mono_ns();
    list_add(w, c);
    conn_pick_dump(c);
    if (w->lifetime.dur_ns)
        fifo_push(&w->lifetime, c, c->start_ns);
    /* With --ws the upgrade is answered in every listen mode, silent included. */
    conn_transport_start(c, NULL);
}

/* ---- live rate changes ---------------------------------------------------------------- */

void tk_worker_apply_rate(struct tk_worker *w)
{
    uint64_t now = clock_mono_ns();
    struct tk_conn *c = w->conns, *next;

    for (; c; c = next) {
        next = c->next;
        const struct tk_msgsrc *src = conn_src(c);
        if (c->state != TK_CS_ACTIVE || !(c->flags & TK_CF_SENDS) || !src->has_messages)
            continue;
        struct tk_conn_ext *x = conn_ext(c);
        if (!x)
            continue;
        loop_timer_cancel(w->loop, &x->send_timer);
        x->sched_on = w->rate_on && pace_sched_init_fixed(&x->sched, w->rate, now) == 0;
        conn_write(c);
    }
}
