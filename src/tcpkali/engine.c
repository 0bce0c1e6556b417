/* tcpkali's engine: lifecycle, listeners, snapshots and the calls the control thread makes
 * (see engine.h). The connections themselves are in conn.c.
 *
 * Listening: every worker has its own listening socket per address, all bound to the same
 * port with SO_REUSEPORT, so the kernel spreads incoming connections over the workers and
 * each worker accepts in batches (accept4 until EAGAIN). Before the group is bound, one
 * probe socket without SO_REUSEPORT is bound to the address: if another program (a second
 * tcpkali included) already listens there, the probe fails with EADDRINUSE and the run
 * stops with tcpkali's bind message, instead of silently sharing the port (bug 46). For
 * port 0 (-l 0: any free port) the first probe also chooses the port that every address
 * (0.0.0.0 and :: alike) and every worker then shares, so a client needs one port number
 * whatever family it uses. */
#include "tcpkali/engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
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
#include "tcpkali/syslimits.h"

/* ---- figures -------------------------------------------------------------------------- */

/* The histograms of figures and of snapshots, in the same order, so that every operation
 * on them is one loop. */
#define TK_NHIST 4

static void figures_hists(struct tk_figures *f, struct hist *v[TK_NHIST])
{
    v[0] = &f->lat_connect;
    v[1] = &f->lat_first_byte;
    v[2] = &f->lat_message;
    v[3] = &f->send_lag;
}

static void snapshot_hists(struct tk_snapshot *s, struct hist *v[TK_NHIST])
{
    v[0] = &s->lat_connect;
    v[1] = &s->lat_first_byte;
    v[2] = &s->lat_message;
    v[3] = &s->send_lag;
}

static int hists_init(struct hist *v[TK_NHIST])
{
    int rc = 0;
    for (int i = 0; i < TK_NHIST; i++)
        if (hist_init(v[i], HIST_SUB_BITS_DEFAULT) < 0)
            rc = -EINVAL;
    return rc;
}

static void hists_free(struct hist *v[TK_NHIST])
{
    for (int i = 0; i < TK_NHIST; i++)
        hist_free(v[i]);
}

static void hists_merge(struct hist *dst[TK_NHIST], struct hist *src[TK_NHIST])
{
    for (int i = 0; i < TK_NHIST; i++)
        hist_merge(dst[i], src[i]);
}

static int figures_init(struct tk_figures *f)
{
    struct hist *v[TK_NHIST];
    memset(f, 0, sizeof(*f));
    figures_hists(f, v);
    return hists_init(v);
}

static void figures_free(struct tk_figures *f)
{
    struct hist *v[TK_NHIST];
    figures_hists(f, v);
    hists_free(v);
}

static void figures_copy(struct tk_figures *dst, struct tk_figures *src)
{
    struct hist *d[TK_NHIST], *s[TK_NHIST];
    figures_hists(dst, d);
    figures_hists(src, s);
    dst->c = src->c;
    for (int i = 0; i < TK_NHIST; i++)
        hist_reset(d[i]);
    hists_merge(d, s);
}

static void counters_add(struct tk_counters *a, const struct tk_counters *b)
{
    a->conns_in += b->conns_in;
    a->conns_out += b->conns_out;
    a->conns_connecting += b->conns_connecting;
    a->conns_seen += b->conns_seen;
    a->conns_initiated += b->conns_initiated;
    a->conns_accepted += b->conns_accepted;
    a->connect_failures += b->connect_failures;
    a->connect_refused += b->connect_refused;
    a->connect_timeouts += b->connect_timeouts;
    a->connect_other_errors += b->connect_other_errors;
    a->conns_reset += b->conns_reset;
    a->conns_closed_by_peer += b->conns_closed_by_peer;
    a->conns_lifetime_ended += b->conns_lifetime_ended;
    a->accept_errors += b->accept_errors;
    a->bytes_sent += b->bytes_sent;
    a->bytes_rcvd += b->bytes_rcvd;
    a->writes += b->writes;
    a->reads += b->reads;
    a->msgs_sent += b->msgs_sent;
    a->msgs_rcvd += b->msgs_rcvd;
    a->transactions += b->transactions;
    a->conns_connected += b->conns_connected;
    for (int i = 0; i < TK_HSF_COUNT; i++)
        a->hs_failures[i] += b->hs_failures[i];
    a->ws_frames_rcvd += b->ws_frames_rcvd;
}

void tk_counters_diff(const struct tk_counters *a, const struct tk_counters *b,
                      struct tk_counters *out)
{
#define TK_D(f) out->f = b->f - a->f
    TK_D(conns_seen);
    TK_D(conns_initiated);
    TK_D(conns_accepted);
    TK_D(connect_failures);
    TK_D(connect_refused);
    TK_D(connect_timeouts);
    TK_D(connect_other_errors);
    TK_D(conns_reset);
    TK_D(conns_closed_by_peer);
    TK_D(conns_lifetime_ended);
    TK_D(accept_errors);
    TK_D(bytes_sent);
    TK_D(bytes_rcvd);
    TK_D(writes);
    TK_D(reads);
    TK_D(msgs_sent);
    TK_D(msgs_rcvd);
    TK_D(transactions);
    TK_D(conns_connected);
    TK_D(ws_frames_rcvd);
    for (int i = 0; i < TK_HSF_COUNT; i++)
        TK_D(hs_failures[i]);
#undef TK_D
    out->conns_in = b->conns_in;
    out->conns_out = b->conns_out;
    out->conns_connecting = b->conns_connecting;
}

/* ---- events to the control thread ----------------------------------------------------- */

/* A report for the control thread. It carries a copy of the callbacks, not the engine, so
 * a post still queued when the engine is freed cannot reach freed memory. */
struct tk_post {
    struct tk_engine_events ev;
    int code;
    size_t len;
    uint8_t data[];
};

static void control_fatal(void *arg)
{
    struct tk_post *p = arg;
    if (p->ev.on_fatal)
        p->ev.on_fatal(p->ev.ctx, p->code, (const char *)p->data);
    free(p);
}

static void control_message_stop(void *arg)
{
    struct tk_post *p = arg;
    if (p->ev.on_message_stop)
        p->ev.on_message_stop(p->ev.ctx, p->data, p->len);
    free(p);
}

static void post_control(struct tk_engine *e, void (*fn)(void *), int code, const void *data,
                         size_t len)
{
    struct tk_post *p = malloc(sizeof(*p) + len + 1);
    if (!p)
        return;
    p->ev = e->ev;
    p->code = code;
    p->len = len;
    memcpy(p->data, data, len);
    p->data[len] = 0;
    if (!e->control || loop_post(e->control, fn, p) < 0)
        free(p);
}

void tk_engine_post_fatal(struct tk_engine *e, int exit_code, const char *msg)
{
    if (atomic_exchange(&e->fatal_sent, true))
        return;
    post_control(e, control_fatal, exit_code, msg, strlen(msg));
}

void tk_engine_post_message_stop(struct tk_engine *e, const uint8_t *last, size_t len)
{
    if (atomic_exchange(&e->stop_sent, true))
        return;
    post_control(e, control_message_stop, 2, last, len);
}

/* ---- per-connection messages ---------------------------------------------------------- */

static void print_left_out(uint64_t n)
{
    char buf[96];
    if (n)
        fprintf(stderr, "%s\n", tk_linelimit_text(buf, sizeof(buf), n));
}

void tk_engine_conn_message(struct tk_engine *e, const char *fmt, ...)
{
    if (e->cfg->verbose < 1)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    uint64_t left_out = 0;
    pthread_mutex_lock(&e->msg_lock);
    bool print = e->cfg->verbose >= 2 ||
                 tk_linelimit_admit(&e->msg_limit, clock_mono_ns(), &left_out);
    print_left_out(left_out);
    if (print)
        fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&e->msg_lock);
}

/* Reports the lines a finished window left out, so the count shows up even when no further
 * message comes (the control thread calls this with every snapshot, and at the stop). */
static void conn_messages_flush(struct tk_engine *e, bool at_end)
{
    pthread_mutex_lock(&e->msg_lock);
    print_left_out(tk_linelimit_flush(&e->msg_limit, clock_mono_ns(), at_end));
    pthread_mutex_unlock(&e->msg_lock);
}

/* ---- creation ------------------------------------------------------------------------- */

static int split_sources(struct tk_engine *e, const struct tk_config *cfg)
{
    if (!cfg->nsource_ips)
        return 0;
    e->src4 = calloc(cfg->nsource_ips, sizeof(*e->src4));
    e->src6 = calloc(cfg->nsource_ips, sizeof(*e->src6));
    if (!e->src4 || !e->src6)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nsource_ips; i++) {
        if (sock_addr_family(&cfg->source_ips[i]) == AF_INET6)
            e->src6[e->nsrc6++] = cfg->source_ips[i];
        else
            e->src4[e->nsrc4++] = cfg->source_ips[i];
    }
    return 0;
}

/* The ephemeral port range's size, for loopback spreading (plan.h). */
static uint32_t port_range(void)
{
    struct tk_syslimits sl;
    tk_syslimits_read(&sl);
    long n = tk_syslimits_port_count(&sl);
    return n > 0 ? (uint32_t)n : TK_PLAN_DEFAULT_PORT_RANGE;
}

static int compile_markers(struct tk_engine *e, const struct tk_config *cfg, char *err,
                           size_t errlen)
{
    if (cfg->latency_marker && cfg->latency_marker_len) {
        if (tk_marker_init(&e->lat_marker, cfg->latency_marker, cfg->latency_marker_len) < 0) {
            snprintf(err, errlen, "--latency-marker: Non-empty marker expected");
            return -EINVAL;
        }
        e->have_lat = true;
    }
    if (cfg->message_stop && cfg->message_stop_len) {
        if (tk_marker_init(&e->stop_marker, cfg->message_stop, cfg->message_stop_len) < 0) {
            snprintf(err, errlen, "--message-stop: Non-empty string expected");
            return -EINVAL;
        }
        e->have_stop = true;
    }
    if (cfg->message_marker) {
        if (tk_marker_init(&e->mm_prefix, TK_MSGMARK_PREFIX, strlen(TK_MSGMARK_PREFIX)) < 0) {
            snprintf(err, errlen, "Out of memory");
            return -ENOMEM;
        }
        e->have_mm = true;
    }
    return 0;
}

static bool src_has_markers(const struct tk_msgsrc *s)
{
    return s && s->has_markers;
}

/* Message-marker mode is also on when the messages carry markers (tcpkali 1.2 does the
 * same): every connection then parses the tokens it receives. With --latency-marker as well
 * the two would feed one histogram, so that is refused as the explicit combination is. */
static int implicit_message_marker(struct tk_engine *e, char *err, size_t errlen)
{
    if (e->have_mm || !(src_has_markers(e->src_out) || src_has_markers(e->src_in)))
        return 0;
    if (e->have_lat) {
        snprintf(err, errlen, "--latency-marker: \\{message.marker} in the messages turns on "
                              "--message-marker, use one or the other");
        return -EINVAL;
    }
    if (tk_marker_init(&e->mm_prefix, TK_MSGMARK_PREFIX, strlen(TK_MSGMARK_PREFIX)) < 0) {
        snprintf(err, errlen, "Out of memory");
        return -ENOMEM;
    }
    e->have_mm = true;
    return 0;
}

bool tk_engine_message_marker(const struct tk_engine *e)
{
    return e && e->have_mm;
}

/* -r for w's connections (0: none), and the pacing lead that goes with it. The loop's spin
 * threshold is set from the lead by the worker itself (worker_init, rate_fn). A pure
 * listener (--listen-mode=active with -r) does not know how many connections will come, so
 * it does not spin at all rather than risk a CPU per worker. */
static void worker_set_rate(struct tk_worker *w, double per_second)
{
    const struct tk_config *cfg = w->e->cfg;
    w->rate_on = per_second > 0 && pace_rate_from_per_sec(per_second, &w->rate) == 0;
    uint64_t conns = tk_plan_share(cfg->connections, w->e->nworkers, w->index);
    w->pace_lead_ns = w->rate_on && cfg->ndests ? tk_plan_pace_lead(per_second, conns) : 0;
}

/* The workers' state (their threads come with pool_new). 0 or -ENOMEM. */
static int workers_new(struct tk_engine *e)
{
    const struct tk_config *cfg = e->cfg;
    size_t nd = cfg->ndests ? cfg->ndests : 1;

    e->workers = calloc(e->nworkers, sizeof(*e->workers));
    e->final = calloc(e->nworkers, sizeof(*e->final));
    if (!e->workers || !e->final)
        return -ENOMEM;
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct tk_worker *w = &e->workers[i];
        w->e = e;
        w->index = i;
        if (figures_init(&w->f) < 0 || figures_init(&e->final[i]) < 0)
            return -ENOMEM;
        w->rxbuf = malloc(TK_RXBUF);
        w->dest_attempts = calloc(nd, sizeof(uint32_t));
        w->dest_ok = calloc(nd, sizeof(uint32_t));
        if (!w->rxbuf || !w->dest_attempts || !w->dest_ok)
            return -ENOMEM;
        /* Workers start their destination rotation at different places (as tcpkali). */
        w->dest_next = cfg->ndests ? i % cfg->ndests : 0;
        worker_set_rate(w, cfg->message_rate > 0 ? cfg->message_rate
                                                 : (cfg->rate_search ? 100.0 : 0));
    }
    return 0;
}

/* The worker threads, each with its loop, bound to the workers' state. */
static int pool_new(struct tk_engine *e, char *err, size_t errlen)
{
    char perr[256];
    e->pool = worker_pool_new(e->nworkers, e->control, perr, sizeof(perr));
    if (!e->pool) {
        snprintf(err, errlen, "%s", perr);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct worker *wk = worker_pool_get(e->pool, i);
        e->workers[i].wk = wk;
        e->workers[i].loop = wk->loop;
        wk->state = &e->workers[i];
    }
    return 0;
}

struct tk_engine *tk_engine_new(const struct tk_config *cfg, struct loop *control,
                                const struct tk_engine_events *ev, int *exit_code, char *err,
                                size_t errlen)
{
    struct tk_engine *e = calloc(1, sizeof(*e));

    *exit_code = 70;
    if (!e) {
        snprintf(err, errlen, "Out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->msg_lock, NULL);
    e->cfg = cfg;
    e->control = control;
    if (ev)
        e->ev = *ev;
    e->nworkers = cfg->workers ? cfg->workers : 1;
    e->tr = tk_transport_new(cfg, exit_code, err, errlen);
    if (!e->tr)
        goto fail;
    e->closed_loop = cfg->closed_loop;
    e->lifetime_zero = cfg->channel_lifetime_set && cfg->channel_lifetime_ns == 0;
    e->rate_intended = (cfg->message_rate > 0 || cfg->rate_search) && !cfg->closed_loop;
    atomic_init(&e->src_rr, 0);
    atomic_init(&e->conn_uid, 0);
    atomic_init(&e->fatal_sent, false);
    atomic_init(&e->stop_sent, false);

    if (cfg->closed_loop && !(cfg->latency_marker && cfg->latency_marker_len)) {
        snprintf(err, errlen, "Closed-loop mode requires --latency-marker");
        *exit_code = 64;
        goto fail;
    }
    if (compile_markers(e, cfg, err, errlen) < 0) {
        *exit_code = 64;
        goto fail;
    }
    if (split_sources(e, cfg) < 0)
        goto nomem;
    e->nloop = cfg->nsource_ips ? 1 : tk_plan_loop_sources(cfg->connections, port_range());

    e->framed = tk_transport_framing(e->tr, true) != TK_FRAMING_NONE ||
                tk_transport_framing(e->tr, false) != TK_FRAMING_NONE;
    e->src_out = tk_msgsrc_new(cfg, tk_transport_framing(e->tr, true), exit_code, err,
                               errlen);
    if (!e->src_out)
        goto fail;
    if (cfg->listen && cfg->listen_mode == TK_LISTEN_ACTIVE) {
        e->src_in = tk_msgsrc_new(cfg, tk_transport_framing(e->tr, false), exit_code, err,
                                  errlen);
        if (!e->src_in)
            goto fail;
    }
    if (implicit_message_marker(e, err, errlen) < 0) {
        *exit_code = 64;
        goto fail;
    }

    if (workers_new(e) < 0)
        goto nomem;
    if (pool_new(e, err, errlen) < 0) {
        *exit_code = 71;
        goto fail;
    }
    return e;

nomem:
    snprintf(err, errlen, "Out of memory");
    *exit_code = 71;
fail:
    tk_engine_free(e);
    return NULL;
}

/* ---- listeners ------------------------------------------------------------------------ */

static int listen_socket(const struct tk_config *cfg, const struct sock_addr *a, bool reuseport,
                         bool do_listen)
{
    int one = 1;
    int fd = socket(sock_addr_family(a), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (sock_addr_family(a) == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
        goto fail;
    if (do_listen)
        tk_conn_sockopts(cfg, fd);
    if (do_listen && listen(fd, TK_LISTEN_BACKLOG) < 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

static int bind_fail(char *err, size_t errlen, const struct sock_addr *a, unsigned worker, int e)
{
    char addr[SOCK_ADDR_STRLEN + 8];
    snprintf(err, errlen, "Bind %s is not done on thread %u: %s",
             tk_addr_format(a, addr, sizeof(addr)), worker, strerror(e));
    return -e;
}

/* The port listening address i asks for: its own, else -l's (0: any free port). */
static uint16_t wanted_port(const struct tk_config *cfg, size_t i)
{
    uint16_t p = sock_addr_port(&cfg->listen_addrs.v[i]);
    return p ? p : cfg->listen_port;
}

/* Binds listening address i at port (0: the kernel picks): the probe, then one socket per
 * worker on the port the probe got (e->bound[i]). On failure returns -errno with *at and
 * *worker naming where it failed. */
static int bind_address(struct tk_engine *e, size_t i, uint16_t port, struct sock_addr *at,
                        unsigned *worker)
{
    const struct tk_config *cfg = e->cfg;
    size_t na = cfg->listen_addrs.n;
    struct sock_addr a = cfg->listen_addrs.v[i];

    sock_addr_set_port(&a, port);
    *at = a;
    *worker = 0;
    /* The probe: fails if anybody listens here already; picks the port for port 0. */
    int fd = listen_socket(cfg, &a, false, false);
    if (fd < 0)
        return fd;
    if (sock_local_addr(fd, &e->bound[i]) < 0)
        e->bound[i] = a;
    close(fd);
    *at = e->bound[i];
    for (unsigned w = 0; w < e->nworkers; w++) {
        fd = listen_socket(cfg, &e->bound[i], true, true);
        if (fd < 0) {
            *worker = w;
            return fd;
        }
        e->lfds[w * na + i] = fd;
    }
    e->nbound = i + 1;
    return 0;
}

static void close_listeners(struct tk_engine *e)
{
    size_t nfds = (e->cfg->listen_addrs.n ? e->cfg->listen_addrs.n : 1) * e->nworkers;
    for (size_t k = 0; k < nfds; k++) {
        if (e->lfds[k] >= 0)
            close(e->lfds[k]);
        e->lfds[k] = -1;
    }
    e->nbound = 0;
}

/* Binds address i's family to port without listening (no SO_REUSEADDR): while this socket
 * holds the port, the kernel picks another one for port 0. The fd, or -1. */
static int hold_port(const struct tk_config *cfg, size_t i, uint16_t port)
{
    struct sock_addr a = cfg->listen_addrs.v[i];
    sock_addr_set_port(&a, port);
    int fd = socket(sock_addr_family(&a), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd >= 0 && bind(fd, (const struct sockaddr *)&a.ss, a.len) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Tries for a shared free port (-l 0): the port the kernel picks for the first address may
 * be taken for another family by some other program. Then that pick is held (hold_port), so
 * that the next attempt gets a different one (the kernel's choice is not random enough to
 * count on: in a narrow range it picks the same port again). */
#define TK_LISTEN_PORT_TRIES 8

/* How an attempt at binding every address went. */
struct bind_try {
    struct sock_addr at; /* where it failed */
    unsigned worker;     /* on which worker's socket */
    bool retry;          /* a shared pick (-l 0) that a later address could not take */
    size_t picked_at;    /* the first address whose port the kernel picked */
    uint16_t picked;     /* that port */
};

/* One attempt: 0, or -errno with t saying where and whether a new pick may do. */
static int bind_all(struct tk_engine *e, struct bind_try *t)
{
    const struct tk_config *cfg = e->cfg;
    uint16_t shared = 0; /* the kernel's pick for the first port-0 address */
    int rc = 0;

    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < cfg->listen_addrs.n && rc == 0; i++) {
        uint16_t want = wanted_port(cfg, i);
        rc = bind_address(e, i, want ? want : shared, &t->at, &t->worker);
        if (rc == 0 && !want && !shared) {
            shared = sock_addr_port(&e->bound[i]);
            t->picked_at = i;
            t->picked = shared;
        }
        t->retry = rc == -EADDRINUSE && !want && shared;
    }
    return rc;
}

static int open_listeners(struct tk_engine *e, char *err, size_t errlen)
{
    const struct tk_config *cfg = e->cfg;
    size_t na = cfg->listen_addrs.n;
    int held[TK_LISTEN_PORT_TRIES];
    unsigned nheld = 0;
    int rc;

    e->bound = calloc(na ? na : 1, sizeof(*e->bound));
    e->lfds = malloc((na ? na : 1) * e->nworkers * sizeof(int));
    if (!e->bound || !e->lfds) {
        snprintf(err, errlen, "Out of memory");
        return -ENOMEM;
    }
    for (size_t k = 0; k < (na ? na : 1) * e->nworkers; k++)
        e->lfds[k] = -1;
    for (;;) {
        struct bind_try t;
        rc = bind_all(e, &t);
        if (rc == 0)
            break;
        close_listeners(e);
        if (!t.retry || nheld == TK_LISTEN_PORT_TRIES ||
            (held[nheld] = hold_port(cfg, t.picked_at, t.picked)) < 0) {
            rc = bind_fail(err, errlen, &t.at, t.worker, -rc);
            break;
        }
        nheld++;
    }
    while (nheld)
        close(held[--nheld]);
    return rc;
}

static void accept_pause(struct tk_worker *w, bool pause)
{
    for (size_t i = 0; i < w->nls; i++)
        loop_mod_fd(w->loop, &w->ls[i].lfd, pause ? 0 : EPOLLIN);
}

static void on_accept_timer(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct tk_worker *w = container_of(t, struct tk_worker, accept_timer);
    if (!w->stopping)
        accept_pause(w, false);
}

static void listener_on_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    struct tk_listener *l = container_of(h, struct tk_listener, lfd);
    struct tk_worker *w = l->w;
    (void)events;

    for (unsigned i = 0; i < TK_ACCEPTS_PER_EVENT && !w->stopping; i++) {
        struct sock_addr peer;
        int fd = sock_accept(h->fd, &peer);
        if (fd >= 0) {
            tk_conn_accepted(w, fd, &peer);
            continue;
        }
        if (fd == -EAGAIN || fd == -EWOULDBLOCK)
            return;
        if (fd == -EINTR || fd == -ECONNABORTED || fd == -EPROTO)
            continue;
        w->f.c.accept_errors++;
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            /* Out of descriptors or memory: stop accepting for a moment instead of
             * spinning on a listener that stays readable. Never fatal. */
            accept_pause(w, true);
            loop_timer_arm(loop, &w->accept_timer, loop_now(loop) + TK_ACCEPT_BACKOFF_NS);
        }
        return;
    }
}

static void worker_init(struct worker *wk)
{
    struct tk_worker *w = wk->state;
    struct tk_engine *e = w->e;
    size_t na = e->nbound;

    /* Spin only to finish -r's early wake-ups (plan.h: tk_plan_pace_lead); everything else
     * waits blocked, so an idle or bulk worker costs no CPU. */
    loop_set_spin_threshold(w->loop, w->pace_lead_ns);
    loop_timer_init(&w->accept_timer, on_accept_timer);
    if (na) {
        w->ls = calloc(na, sizeof(*w->ls));
        for (size_t i = 0; w->ls && i < na; i++) {
            int fd = e->lfds[w->index * e->cfg->listen_addrs.n + i];
            w->ls[i].w = w;
            if (loop_add_fd(w->loop, &w->ls[i].lfd, fd, EPOLLIN, listener_on_events) == 0) {
                e->lfds[w->index * e->cfg->listen_addrs.n + i] = -1;
                w->nls = i + 1;
            } else {
                break;
            }
        }
    }
    tk_worker_conn_init(w);
}

int tk_engine_start(struct tk_engine *e, int *exit_code, char *err, size_t errlen)
{
    if (e->started) {
        snprintf(err, errlen, "engine already started");
        *exit_code = 70;
        return -EALREADY;
    }
    if (e->cfg->listen) {
        int rc = open_listeners(e, err, errlen);
        if (rc < 0) {
            *exit_code = 69;
            return rc;
        }
    }
    char perr[256];
    int rc = worker_pool_start(e->pool, worker_init, perr, sizeof(perr));
    if (rc < 0) {
        snprintf(err, errlen, "%s", perr);
        *exit_code = 71;
        return rc;
    }
    e->started = true;
    return 0;
}

const struct sock_addr *tk_engine_listen_addrs(const struct tk_engine *e, size_t *n)
{
    *n = e->nbound;
    return e->nbound ? e->bound : NULL;
}

/* ---- snapshots ------------------------------------------------------------------------ */

static void snap_fn(struct worker *wk, void *arg)
{
    struct tk_figures *slots = arg;
    struct tk_worker *w = wk->state;
    figures_copy(&slots[w->index], &w->f);
}

static void merge_into(struct tk_engine *e, struct tk_figures *slots, struct tk_snapshot *out)
{
    struct hist *o[TK_NHIST], *w[TK_NHIST];
    snapshot_hists(out, o);
    for (unsigned i = 0; i < e->nworkers; i++) {
        counters_add(&out->c, &slots[i].c);
        figures_hists(&slots[i], w);
        hists_merge(o, w);
    }
}

void tk_engine_snapshot(struct tk_engine *e, struct tk_snapshot *out)
{
    struct hist *v[TK_NHIST];
    memset(out, 0, sizeof(*out));
    snapshot_hists(out, v);
    hists_init(v);
    out->latency_from_intended_time = e->rate_intended;
    if (!e->started) {
        out->taken_ns = clock_mono_ns();
        return;
    }
    if (e->stopped) {
        out->taken_ns = e->final_ns;
        merge_into(e, e->final, out);
        return;
    }
    struct tk_figures *slots = calloc(e->nworkers, sizeof(*slots));
    if (!slots)
        return;
    for (unsigned i = 0; i < e->nworkers; i++)
        figures_init(&slots[i]);
    worker_pool_call_all(e->pool, snap_fn, slots);
    out->taken_ns = clock_mono_ns();
    conn_messages_flush(e, false);
    merge_into(e, slots, out);
    for (unsigned i = 0; i < e->nworkers; i++)
        figures_free(&slots[i]);
    free(slots);
}

void tk_snapshot_free(struct tk_snapshot *s)
{
    struct hist *v[TK_NHIST];
    snapshot_hists(s, v);
    hists_free(v);
}

/* ---- live changes --------------------------------------------------------------------- */

static void rate_fn(struct worker *wk, void *arg)
{
    struct tk_worker *w = wk->state;
    worker_set_rate(w, *(const double *)arg);
    loop_set_spin_threshold(w->loop, w->pace_lead_ns);
    tk_worker_apply_rate(w);
}

void tk_engine_set_message_rate(struct tk_engine *e, double per_second)
{
    if (e->started && !e->stopped)
        worker_pool_call_all(e->pool, rate_fn, &per_second);
}

static void reset_lat_fn(struct worker *wk, void *arg)
{
    (void)arg;
    struct tk_worker *w = wk->state;
    hist_reset(&w->f.lat_message);
}

void tk_engine_reset_message_latency(struct tk_engine *e)
{
    if (e->started && !e->stopped)
        worker_pool_call_all(e->pool, reset_lat_fn, NULL);
}

/* ---- stopping ------------------------------------------------------------------------- */

static void print_latency(const struct tk_config *cfg, const char *title, const struct hist *h)
{
    fprintf(stderr, "  %s:\n", title);
    for (size_t i = 0; i < cfg->npercentiles; i++) {
        char label[sizeof(cfg->percentiles[i].label)];
        snprintf(label, sizeof(label), "%s", cfg->percentiles[i].label);
        for (char *p = label; *p; p++)
            if (*p == '.')
                *p = '_';
        fprintf(stderr, "    %.1f latency_%s_ms\n",
                (double)hist_percentile(h, cfg->percentiles[i].value) / 1e6, label);
    }
    fprintf(stderr, "    %.1f latency_mean_ms\n", hist_mean(h) / 1e6);
    fprintf(stderr, "    %.1f latency_max_ms\n", (double)hist_max(h) / 1e6);
}

/* -vv: the per-worker block tcpkali prints when a worker exits. */
static void print_worker_exit(const struct tk_worker *w)
{
    const struct tk_config *cfg = w->e->cfg;
    const struct tk_counters *k = &w->f.c;

    flockfile(stderr);
    fprintf(stderr, "Exiting worker %u\n", w->index);
    fprintf(stderr, "  %llu\u2193, %llu\u2191 open connections (%llu connecting)\n",
            (unsigned long long)k->conns_in, (unsigned long long)k->conns_out,
            (unsigned long long)k->conns_connecting);
    fprintf(stderr, "  %llu connections_counter\n", (unsigned long long)k->conns_seen);
    fprintf(stderr, "  \u21b3 %llu connections_initiated\n", (unsigned long long)k->conns_initiated);
    fprintf(stderr, "  \u21b3 %llu connections_accepted\n", (unsigned long long)k->conns_accepted);
    fprintf(stderr, "  %llu connection_failures\n", (unsigned long long)k->connect_failures);
    fprintf(stderr, "  \u21b3 %llu connection_timeouts\n", (unsigned long long)k->connect_timeouts);
    fprintf(stderr, "  %llu worker_data_sent\n", (unsigned long long)k->bytes_sent);
    fprintf(stderr, "  %llu worker_data_rcvd\n", (unsigned long long)k->bytes_rcvd);
    fprintf(stderr, "  %llu worker_num_writes\n", (unsigned long long)k->writes);
    fprintf(stderr, "  %llu worker_num_reads\n", (unsigned long long)k->reads);
    if (cfg->latency_connect)
        print_latency(cfg, "Connect latency", &w->f.lat_connect);
    if (cfg->latency_first_byte)
        print_latency(cfg, "First byte latency", &w->f.lat_first_byte);
    if (cfg->latency_marker || w->e->have_mm)
        print_latency(cfg, "Marker latency", &w->f.lat_message);
    if (w->last_rx_len) {
        struct tk_buf b = {0};
        if (tk_dump_escape(&b, w->last_rx, w->last_rx_len) == 0)
            fprintf(stderr, "Last received bytes (%zu): [%.*s]\n", w->last_rx_len, (int)b.len,
                    (const char *)b.data);
        tk_buf_free(&b);
    }
    funlockfile(stderr);
}

/* On each worker's own thread: keep its final figures, then close everything. */
static void final_fn(struct worker *wk, void *arg)
{
    (void)arg;
    struct tk_worker *w = wk->state;
    struct tk_engine *e = w->e;

    figures_copy(&e->final[w->index], &w->f);
    if (e->cfg->verbose >= 2)
        print_worker_exit(w);
    w->stopping = true;
    w->connect_on = false;
    loop_timer_cancel(w->loop, &w->connect_timer);
    loop_timer_cancel(w->loop, &w->accept_timer);
    loop_timer_cancel(w->loop, &w->connecting.timer);
    loop_timer_cancel(w->loop, &w->lifetime.timer);
    for (size_t i = 0; i < w->nls; i++) {
        loop_del_fd(w->loop, &w->ls[i].lfd);
        close(w->ls[i].lfd.fd);
    }
    w->nls = 0;
    /* Closing says goodbye on established connections (a WebSocket close frame, TLS
     * close_notify): those bytes crossed the socket, so the final figures count them. */
    struct tk_counters before = w->f.c;
    tk_worker_close_all(w);
    struct tk_counters *fc = &e->final[w->index].c;
    fc->bytes_sent += w->f.c.bytes_sent - before.bytes_sent;
    fc->bytes_rcvd += w->f.c.bytes_rcvd - before.bytes_rcvd;
    fc->writes += w->f.c.writes - before.writes;
    fc->reads += w->f.c.reads - before.reads;
}

void tk_engine_stop(struct tk_engine *e)
{
    if (!e || e->stopped)
        return;
    if (!e->started) {
        e->stopped = true;
        e->final_ns = clock_mono_ns();
        return;
    }
    unsigned ran = worker_pool_call_all(e->pool, final_fn, NULL);
    e->final_ns = clock_mono_ns();
    worker_pool_stop(e->pool);
    if (ran < e->nworkers) {
        /* A worker whose loop had already returned: its thread is joined now, so its state
         * can be read and closed from here. */
        for (unsigned i = 0; i < e->nworkers; i++)
            if (!e->workers[i].stopping)
                final_fn(e->workers[i].wk, NULL);
    }
    conn_messages_flush(e, true);
    e->stopped = true;
}

void tk_engine_free(struct tk_engine *e)
{
    if (!e)
        return;
    tk_engine_stop(e);
    worker_pool_free(e->pool);
    tk_transport_free(e->tr);
    if (e->workers) {
        for (unsigned i = 0; i < e->nworkers; i++) {
            struct tk_worker *w = &e->workers[i];
            figures_free(&w->f);
            free(w->rxbuf);
            free(w->dest_attempts);
            free(w->dest_ok);
            free(w->ls);
        }
    }
    if (e->final)
        for (unsigned i = 0; i < e->nworkers; i++)
            figures_free(&e->final[i]);
    if (e->lfds)
        close_listeners(e);
    free(e->lfds);
    free(e->bound);
    free(e->final);
    free(e->workers);
    free(e->src4);
    free(e->src6);
    tk_marker_free(&e->lat_marker);
    tk_marker_free(&e->stop_marker);
    tk_marker_free(&e->mm_prefix);
    tk_msgsrc_free(e->src_out);
    tk_msgsrc_free(e->src_in);
    pthread_mutex_destroy(&e->msg_lock);
    free(e);
}
