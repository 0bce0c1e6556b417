/* flowgrindd's flows: creation, the data connection coming up, start, the direction timers,
 * interval and final reports, and the end of a flow (spec §3.4, §5.5, §5.6, §6.1). Engine
 * thread, except fgd_flow_new and fgd_flow_destroy of a flow not handed over yet. */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/util.h"
#include "flowgrind/daemon_int.h"

#define FGD_MAX_SECONDS 1e9 /* longer delays and durations are treated as this (31 years) */

static void fgd_on_event_timer(struct loop *loop, struct loop_timer *t);
static void fgd_on_report_timer(struct loop *loop, struct loop_timer *t);

static uint64_t fgd_seconds_ns(double s)
{
    if (!(s > 0))
        return 0;
    return (uint64_t)llround(fmin(s, FGD_MAX_SECONDS) * 1e9);
}

/* --- creation ------------------------------------------------------------------------- */

static int fgd_dist(struct dist *out, const struct fg_dist_param *p, char *err, size_t errlen)
{
    enum dist_kind kind = DIST_CONSTANT; /* an unknown code: constant, as 0.8.2 treats it */
    (void)fg_rpc_dist_kind(p->distribution, &kind);
    return dist_init(out, kind, p->param_one, p->param_two, err, errlen);
}

/* The traffic generator from the settings; seed 0 means "pick one" (§3.1). */
static int fgd_traffic_setup(struct fgd_flow *f, char *err, size_t errlen)
{
    struct fg_traffic *t = &f->traffic;
    const struct fg_endpoint_settings *s = &f->s;

    fg_traffic_defaults(t);
    if (fgd_dist(&t->request, &s->request, err, errlen) < 0 ||
        fgd_dist(&t->response, &s->response, err, errlen) < 0 ||
        fgd_dist(&t->gap, &s->gap, err, errlen) < 0)
        return -EINVAL;
    t->maximum_block_size = s->maximum_block_size;
    t->write_rate = s->write_rate;
    uint64_t seed = s->random_seed ? s->random_seed : (uint32_t)rng_entropy_seed();
    return fg_traffic_init(t, seed, err, errlen);
}

struct fgd_flow *fgd_flow_new(struct fg_daemon *d, const struct fg_endpoint_settings *s,
                              enum fg_endpoint ep, char *msg, size_t msglen, int *fault)
{
    struct fgd_flow *f = calloc(1, sizeof(*f));
    char why[256];

    if (!f || !(f->sendbuf = calloc(1, (size_t)s->maximum_block_size))) {
        free(f);
        snprintf(msg, msglen, "out of memory");
        *fault = FG_FAULT_HANDLER;
        return NULL;
    }
    f->d = d;
    f->s = *s;
    f->id = s->flow_id;
    f->endpoint = ep;
    f->fd = f->listen_fd = -1;
    loop_timer_init(&f->event_timer, fgd_on_event_timer);
    loop_timer_init(&f->report_timer, fgd_on_report_timer);
    fgd_counters_reset(&f->c[FGD_INTERVAL]);
    fgd_counters_reset(&f->c[FGD_FINAL]);
    /* Known before start, for the status letters of a flow stopped before it ran. */
    f->wr.zero = f->wr.finished = fgd_seconds_ns(s->write_duration) == 0;
    f->rd.zero = f->rd.finished = fgd_seconds_ns(s->read_duration) == 0;
    if (fgd_traffic_setup(f, why, sizeof(why)) < 0) {
        fgd_flow_destroy(f);
        snprintf(msg, msglen, "Flow settings incorrect: %s", why);
        *fault = FG_FAULT_SETTINGS;
        return NULL;
    }
    fgd_io_fill_sendbuf(f);
    return f;
}

void fgd_flow_link(struct fgd_flow *f)
{
    struct fg_daemon *d = f->d;

    f->prev = d->tail;
    if (d->tail)
        d->tail->next = f;
    else
        d->head = f;
    d->tail = f;
    f->linked = true;
    d->num_flows++;
}

static void fgd_flow_unlink(struct fgd_flow *f)
{
    struct fg_daemon *d = f->d;

    if (!f->linked)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        d->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        d->tail = f->prev;
    f->linked = false;
    d->num_flows--;
}

void fgd_flow_destroy(struct fgd_flow *f)
{
    struct loop *loop = f->d->loop;

    fgd_flow_unlink(f);
    if (f->lfd_registered)
        loop_del_fd(loop, &f->lfd);
    if (f->listen_registered)
        loop_del_fd(loop, &f->listen_lfd);
    if (f->dump_registered)
        loop_del_fd(loop, &f->dump_lfd);
    fg_dump_close(f->dump);
    loop_timer_cancel(loop, &f->event_timer);
    loop_timer_cancel(loop, &f->report_timer);
    if (f->fd >= 0)
        close(f->fd);
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    free(f->sendbuf);
    free(f->resp);
    free(f);
}

/* --- the data connection --------------------------------------------------------------- */

static void fgd_on_accept(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    struct fgd_flow *f = container_of(h, struct fgd_flow, listen_lfd);
    (void)events;

    int fd = sock_accept(f->listen_fd, &f->peer);
    if (fd < 0)
        return; /* EAGAIN, or a connection that died before we took it */
    loop_del_fd(loop, &f->listen_lfd);
    f->listen_registered = false;
    close(f->listen_fd);
    f->listen_fd = -1;
    f->fd = fd;
    fgd_flow_connected(f);
}

void fgd_flow_connected(struct fgd_flow *f)
{
    char msg[256];

    f->connecting = false;
    f->connected = true;
    if (f->endpoint == FG_DESTINATION && fgd_apply_options(f->fd, &f->s, msg, sizeof(msg)))
        fgd_log(f->d, true, "flow %d: %s", (int)f->id, msg);
    if (!f->lfd_registered) {
        if (loop_add_fd(f->d->loop, &f->lfd, f->fd, 0, fgd_io_on_events) < 0) {
            fgd_log(f->d, true, "flow %d: cannot watch the data socket", (int)f->id);
            fgd_flow_end(f, false);
            return;
        }
        f->lfd_registered = true;
    }
    fgd_flow_update(f);
}

/* Starts the source's non-blocking connect. 0 or -errno. */
static int fgd_flow_connect(struct fgd_flow *f)
{
    char why[256];
    int rc = sock_connect(f->fd, &f->peer, why, sizeof(why));

    if (rc < 0 && rc != -EINPROGRESS) {
        if (f->started) /* -L: no RPC reply carries the error */
            fgd_log(f->d, true, "flow %d: %s", (int)f->id, why);
        return rc;
    }
    if (loop_add_fd(f->d->loop, &f->lfd, f->fd, EPOLLOUT, fgd_io_on_events) < 0)
        return -ENOMEM;
    f->lfd_registered = true;
    f->connecting = true; /* completion (or 0: at once) is seen on EPOLLOUT */
    return 0;
}

void fgd_flow_connect_done(struct fgd_flow *f)
{
    int rc = sock_connect_result(f->fd);
    char addr[SOCK_ADDR_STRLEN];

    if (rc < 0) {
        fgd_log(f->d, true, "flow %d: connect to %s: %s", (int)f->id,
                sock_addr_format(&f->peer, addr, sizeof(addr)), strerror(-rc));
        fgd_flow_end(f, false);
        return;
    }
    fgd_flow_connected(f);
}

static void fgd_on_dump(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    (void)loop;
    (void)events;
    fg_dump_poll(container_of(h, struct fgd_flow, dump_lfd)->dump);
}

int fgd_flow_arm_socket(struct fgd_flow *f)
{
    if (f->dump) {
        int rc = loop_add_fd(f->d->loop, &f->dump_lfd, fg_dump_fd(f->dump), EPOLLIN, fgd_on_dump);
        if (rc < 0)
            return rc;
        f->dump_registered = true;
    }
    if (f->endpoint == FG_SOURCE)
        return f->target.late_connect ? 0 : fgd_flow_connect(f);
    int rc = loop_add_fd(f->d->loop, &f->listen_lfd, f->listen_fd, EPOLLIN, fgd_on_accept);
    if (rc == 0)
        f->listen_registered = true;
    return rc;
}

/* --- start and the direction timers ---------------------------------------------------- */

static void fgd_dir_init(struct fgd_dir *dir, uint64_t start, double delay, double duration)
{
    dir->start_ns = start + fgd_seconds_ns(delay);
    dir->stop_ns = dir->start_ns + fgd_seconds_ns(duration);
    dir->zero = fgd_seconds_ns(duration) == 0;
    dir->finished = dir->zero;
    dir->normal_end = false;
}

static uint64_t fgd_interval_ns(const struct fgd_flow *f)
{
    return fgd_seconds_ns(f->s.reporting_interval);
}

void fgd_flow_start(struct fgd_flow *f)
{
    f->started = true;
    f->start_mono = f->last_report_mono = clock_mono_ns();
    f->start_real = f->last_report_real = clock_real_ns();
    fgd_dir_init(&f->wr, f->start_mono, f->s.write_delay, f->s.write_duration);
    fgd_dir_init(&f->rd, f->start_mono, f->s.read_delay, f->s.read_duration);
    f->next_due = f->wr.start_ns;
    if (fgd_interval_ns(f) > 0) {
        f->report_k = 1;
        loop_timer_arm(f->d->loop, &f->report_timer, f->start_mono + fgd_interval_ns(f));
    }
    /* -L: connect right after start, without waiting for the write delay (as 0.8.2). */
    if (f->endpoint == FG_SOURCE && f->target.late_connect && fgd_flow_connect(f) < 0) {
        fgd_flow_end(f, false);
        return;
    }
    fgd_flow_update(f);
}

static void fgd_finish_write(struct fgd_flow *f)
{
    f->wr.finished = true;
    f->wr.normal_end = true;
}

static void fgd_finish_read(struct fgd_flow *f)
{
    f->rd.finished = true;
    f->rd.normal_end = true;
    if (f->s.shutdown && f->connected && !f->rd_shut) {
        fgd_log_limited(f->d, FGD_LIMIT_SHUTDOWN, true, "server flow %d missed to shutdown",
                        (int)f->id);
        shutdown(f->fd, SHUT_RD);
        f->rd_shut = true;
    }
}

/* The FIN goes out once nothing is left to write: with -N as soon as the write direction is
 * over; otherwise once the flow drains (both directions over), which tells a draining peer
 * that it has read everything. An endpoint that answers requests keeps answering while it
 * drains, until the requester's FIN (its last request), so that every request is answered. */
static void fgd_maybe_shutdown_write(struct fgd_flow *f)
{
    bool responder = f->c[FGD_FINAL].response_blocks_written > 0 || f->resp_len > 0;
    bool drained = f->draining && (!responder || f->peer_eof || f->rd_shut);
    bool done = drained || (f->s.shutdown && !f->wr.zero && f->wr.finished);

    if (done && f->connected && !f->wr_shut && !f->out_active && f->resp_len == 0) {
        shutdown(f->fd, SHUT_WR);
        f->wr_shut = true;
    }
}

/* 0.5 s is far more than the skew of the two endpoints' timers (one start_flows call each,
 * milliseconds apart) plus a round trip; two reporting intervals let a peer whose timers run
 * an interval late (a slow controller between the two start_flows) still end gracefully. The
 * bound also keeps a peer that never sends its FIN (0.8.2 closes abruptly) from holding the
 * flow: it ends at the deadline as before. */
uint64_t fgd_flow_grace_ns(const struct fgd_flow *f)
{
    uint64_t half = NS_PER_SEC / 2, two = 2 * fgd_interval_ns(f);
    return two > half ? two : half;
}

/* Both directions are over: drain until the peer's EOF (or the grace deadline), the FIN sent
 * as soon as nothing is left to write. True when the flow may end now. */
static bool fgd_drain(struct fgd_flow *f, uint64_t now)
{
    if (!f->draining) {
        f->draining = true;
        f->drain_deadline = now + fgd_flow_grace_ns(f);
    }
    fgd_maybe_shutdown_write(f);
    if (!f->connected || now >= f->drain_deadline)
        return true;
    return (f->peer_eof || f->rd_shut) && !f->out_active && f->resp_len == 0;
}

static uint64_t fgd_min_deadline(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The next moment f's state changes by itself (UINT64_MAX: none). */
static uint64_t fgd_next_deadline(const struct fgd_flow *f, uint64_t now)
{
    uint64_t t = UINT64_MAX;

    if (!f->wr.finished) {
        t = fgd_min_deadline(t, now < f->wr.start_ns ? f->wr.start_ns : f->wr.stop_ns);
        if (!f->out_active && f->next_due > now)
            t = fgd_min_deadline(t, f->next_due);
    }
    if (!f->rd.finished)
        t = fgd_min_deadline(t, f->rd.stop_ns);
    if (f->draining)
        t = fgd_min_deadline(t, f->drain_deadline);
    return t;
}

static void fgd_flow_arm_event(struct fgd_flow *f, uint64_t now)
{
    uint64_t t = fgd_next_deadline(f, now);

    if (t == UINT64_MAX) {
        loop_timer_cancel(f->d->loop, &f->event_timer);
        return;
    }
    if (loop_timer_armed(&f->event_timer) && f->event_timer.node.deadline_ns == t)
        return;
    loop_timer_arm(f->d->loop, &f->event_timer, t);
}

static void fgd_flow_set_events(struct fgd_flow *f, uint64_t now)
{
    uint32_t ev = 0;

    if (!f->lfd_registered || f->connecting)
        return;
    if (f->started && fgd_io_wants_read(f))
        ev |= EPOLLIN;
    if (f->started && fgd_io_wants_write(f, now))
        ev |= EPOLLOUT;
    loop_mod_fd(f->d->loop, &f->lfd, ev);
}

bool fgd_flow_update(struct fgd_flow *f)
{
    if (!f->started) {
        fgd_flow_set_events(f, 0);
        return true;
    }
    uint64_t now = clock_mono_ns();
    if (!f->wr.finished && now >= f->wr.stop_ns)
        fgd_finish_write(f);
    if (!f->rd.finished && now >= f->rd.stop_ns)
        fgd_finish_read(f);
    if (f->wr.finished && f->rd.finished && fgd_drain(f, now)) {
        fgd_flow_end(f, true);
        return false;
    }
    fgd_maybe_shutdown_write(f);
    fgd_flow_set_events(f, now);
    fgd_flow_arm_event(f, now);
    return true;
}

static void fgd_on_event_timer(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    fgd_flow_update(container_of(t, struct fgd_flow, event_timer));
}

/* --- reports ---------------------------------------------------------------------------- */

void fgd_flow_sample_tcpi(struct fgd_flow *f)
{
    if (f->fd >= 0 && f->connected)
        f->have_tcpi = sock_get_tcp_info(f->fd, &f->tcpi) == 0;
}

/* §3.1 struct 9: d in delay, l nothing moved yet, o zero duration, n data moved,
 * c finished normally after data moved, f finished (or ended) with nothing moved. */
static char fgd_dir_letter(const struct fgd_flow *f, const struct fgd_dir *dir, bool moved,
                           bool final, uint64_t now)
{
    if (dir->zero)
        return 'o';
    if (!f->started || now < dir->start_ns)
        return final ? 'f' : 'd';
    if (dir->finished && dir->normal_end)
        return moved ? 'c' : 'f';
    if (final)
        return moved ? 'n' : 'f';
    return moved ? 'n' : 'l';
}

static int32_t fgd_status(const struct fgd_flow *f, bool final, uint64_t now)
{
    const struct fgd_counters *c = &f->c[FGD_FINAL];
    char r = fgd_dir_letter(f, &f->rd, c->bytes_read > 0, final, now);
    char w = fgd_dir_letter(f, &f->wr, c->request_blocks_written > 0, final, now);
    return (int32_t)r * 256 + (int32_t)w;
}

static void fgd_copy_tcpi(const struct sock_tcp_info *k, struct fg_report_tcp_info *t)
{
    t->snd_cwnd = k->snd_cwnd;
    t->snd_ssthresh = k->snd_ssthresh;
    t->unacked = k->unacked;
    t->sacked = k->sacked;
    t->lost = k->lost;
    t->retrans = k->retrans;
    t->retransmits = k->retransmits;
    t->fackets = k->fackets;
    t->reordering = k->reordering;
    t->rtt = k->rtt_us;
    t->rttvar = k->rttvar_us;
    t->rto = k->rto_us;
    t->backoff = k->backoff;
    t->ca_state = k->ca_state;
    t->snd_mss = k->snd_mss;
}

static void fgd_ns_to_ts(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / NS_PER_SEC);
    ts->tv_nsec = (long)(ns % NS_PER_SEC);
}

static void fgd_copy_counters(const struct fgd_counters *c, struct fg_report *r)
{
    r->bytes_read = c->bytes_read;
    r->bytes_written = c->bytes_written;
    r->request_blocks_read = c->request_blocks_read;
    r->request_blocks_written = c->request_blocks_written;
    r->response_blocks_read = c->response_blocks_read;
    r->response_blocks_written = c->response_blocks_written;
    r->rtt_min = c->rtt_min, r->rtt_max = c->rtt_max, r->rtt_sum = c->rtt_sum;
    r->iat_min = c->iat_min, r->iat_max = c->iat_max, r->iat_sum = c->iat_sum;
    r->delay_min = c->delay_min, r->delay_max = c->delay_max, r->delay_sum = c->delay_sum;
    r->rtt_samples = c->rtt_samples;
    r->iat_samples = c->iat_samples;
    r->delay_samples = c->delay_samples;
}

/* The report of the given type covering [begin_real, end_real]. */
static void fgd_make_report(struct fgd_flow *f, enum fg_report_type type, uint64_t begin_real,
                            uint64_t end_real, uint64_t now, struct fg_report *out)
{
    struct fg_report r;
    bool final = type == FG_REPORT_FINAL;

    memset(&r, 0, sizeof(r));
    r.id = f->id;
    r.endpoint = f->endpoint;
    r.type = type;
    fgd_ns_to_ts(begin_real, &r.begin);
    fgd_ns_to_ts(end_real, &r.end);
    fgd_copy_counters(&f->c[final ? FGD_FINAL : FGD_INTERVAL], &r);
    if (f->connected) {
        r.pmtu = fgd_path_mtu(f->fd);
        r.imtu = final ? fgd_interface_mtu(f->fd) : 0;
    }
    if (f->have_tcpi)
        fgd_copy_tcpi(&f->tcpi, &r.tcpi);
    r.status = fgd_status(f, final, now);
    *out = r;
}

/* The interval report ending now; starts the next interval. */
static void fgd_make_interval(struct fgd_flow *f, uint64_t now, struct fg_report *out)
{
    uint64_t real = clock_real_ns();

    fgd_make_report(f, FG_REPORT_INTERVAL, f->last_report_real, real, now, out);
    fgd_counters_reset(&f->c[FGD_INTERVAL]);
    f->last_report_real = real;
    f->last_report_mono = now;
}

static void fgd_on_report_timer(struct loop *loop, struct loop_timer *t)
{
    struct fgd_flow *f = container_of(t, struct fgd_flow, report_timer);
    uint64_t now = clock_mono_ns();
    uint64_t iv = fgd_interval_ns(f);

    struct fg_report r;

    fgd_flow_sample_tcpi(f);
    fgd_make_interval(f, now, &r);
    fgd_queue_report(f->d, &r);
    /* Absolute schedule start + k * interval; slots the engine was too late for are skipped
     * rather than delivered as a burst of tiny reports. */
    do
        f->report_k++;
    while (f->start_mono + f->report_k * iv <= now);
    loop_timer_arm(loop, t, f->start_mono + f->report_k * iv);
}

void fgd_flow_end(struct fgd_flow *f, bool last_interval)
{
    struct fg_daemon *d = f->d;
    uint64_t now = clock_mono_ns();
    uint64_t iv = fgd_interval_ns(f);

    struct fg_report last, final;

    fgd_flow_sample_tcpi(f);
    /* The 20 % rule: a last slice shorter than a fifth of the interval is not reported. */
    bool with_last = last_interval && f->started && iv > 0 &&
                     (now - f->last_report_mono) * 5 >= iv;
    if (with_last)
        fgd_make_interval(f, now, &last);
    uint64_t real = clock_real_ns();
    fgd_make_report(f, FG_REPORT_FINAL, f->started ? f->start_real : real, real, now, &final);
    /* The flow is gone from get_status before its FINAL report can be fetched. */
    fgd_flow_destroy(f);
    fgd_publish_status(d);
    if (with_last)
        fgd_queue_report(d, &last);
    fgd_queue_report(d, &final);
}
