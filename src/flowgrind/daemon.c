/* flowgrindd's flow engine: the engine thread, the request hand-over and the report queue
 * (daemon.h). Flows themselves live in daemon_flow.c and daemon_io.c, their sockets in
 * daemon_sock.c. */

#include "flowgrind/daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/util.h"
#include "flowgrind/daemon_int.h"

enum fgd_req_kind {
    FGD_REQ_ADD,
    FGD_REQ_START,
    FGD_REQ_STOP,
    FGD_REQ_SHUTDOWN
};

/* One request handed to the engine thread; lives on the requester's stack. */
struct fgd_req {
    struct fg_daemon *d;
    enum fgd_req_kind kind;
    struct fgd_flow *flow; /* FGD_REQ_ADD: a prepared flow the engine takes over */
    int32_t flow_id;       /* FGD_REQ_STOP */
    int rc;
    char *msg;
    size_t msglen;
    bool done;
};

/* --- report queue ------------------------------------------------------------------------ */

static int fgd_reports_grow(struct fg_daemon *d)
{
    size_t cap = d->rep_cap ? d->rep_cap * 2 : 64;
    struct fg_report *v = malloc(cap * sizeof(*v));

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < d->rep_len; i++)
        v[i] = d->reps[(d->rep_head + i) % d->rep_cap];
    free(d->reps);
    d->reps = v;
    d->rep_cap = cap;
    d->rep_head = 0;
    return 0;
}

/* 0.8.2 queued at most 250 interval reports whatever the number of flows, so with more than
 * a few hundred flows most interval reports were dropped before any controller could fetch
 * them. The cap here grows with the flow endpoints held (a few intervals of backlog each),
 * and stays 0.8.2's for small runs. Engine thread (num_flows is engine-owned). */
static size_t fgd_interval_queue_cap(const struct fg_daemon *d)
{
    size_t per_flows = FG_DAEMON_QUEUED_PER_FLOW * d->num_flows;
    return per_flows > FG_DAEMON_MAX_QUEUED ? per_flows : FG_DAEMON_MAX_QUEUED;
}

void fgd_queue_report(struct fg_daemon *d, const struct fg_report *r)
{
    pthread_mutex_lock(&d->rep_lock);
    bool drop = r->type != FG_REPORT_FINAL && d->rep_nonfinal >= fgd_interval_queue_cap(d);
    if (!drop && (d->rep_len < d->rep_cap || fgd_reports_grow(d) == 0)) {
        d->reps[(d->rep_head + d->rep_len) % d->rep_cap] = *r;
        d->rep_len++;
        if (r->type != FG_REPORT_FINAL)
            d->rep_nonfinal++;
    }
    pthread_mutex_unlock(&d->rep_lock);
}

void fgd_clear_reports(struct fg_daemon *d)
{
    pthread_mutex_lock(&d->rep_lock);
    d->rep_head = d->rep_len = d->rep_nonfinal = 0;
    pthread_mutex_unlock(&d->rep_lock);
}

size_t fg_daemon_take_reports(struct fg_daemon *d, struct fg_report *out, size_t cap,
                              bool *has_more)
{
    size_t n = 0;

    pthread_mutex_lock(&d->rep_lock);
    while (n < cap && d->rep_len > 0) {
        out[n] = d->reps[d->rep_head];
        if (out[n].type != FG_REPORT_FINAL)
            d->rep_nonfinal--;
        d->rep_head = (d->rep_head + 1) % d->rep_cap;
        d->rep_len--;
        n++;
    }
    *has_more = d->rep_len > 0;
    pthread_mutex_unlock(&d->rep_lock);
    return n;
}

void fgd_publish_status(struct fg_daemon *d)
{
    pthread_mutex_lock(&d->rep_lock);
    if (d->num_flows == 0)
        d->started = false;
    d->pub_started = d->started;
    d->pub_num_flows = d->num_flows;
    pthread_mutex_unlock(&d->rep_lock);
}

void fg_daemon_status(struct fg_daemon *d, struct fg_status_reply *r)
{
    pthread_mutex_lock(&d->rep_lock);
    r->started = d->pub_started ? 1 : 0;
    r->num_flows = (int32_t)d->pub_num_flows;
    pthread_mutex_unlock(&d->rep_lock);
}

void fgd_log(struct fg_daemon *d, bool warning, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (!d->cfg.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    d->cfg.log(d->cfg.log_ctx, warning, line);
}

void fgd_log_limited(struct fg_daemon *d, enum fgd_limit kind, bool warning, const char *fmt, ...)
{
    struct fgd_ratelimit *l = &d->limits[kind];
    uint64_t now = clock_mono_ns();
    char line[512];
    va_list ap;

    if (now - l->window_start >= NS_PER_SEC) {
        if (l->suppressed)
            fgd_log(d, warning, "(%u similar messages suppressed)", l->suppressed);
        l->window_start = now;
        l->used = l->suppressed = 0;
    }
    if (l->used >= FGD_LOG_BURST) {
        l->suppressed++;
        return;
    }
    l->used++;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fgd_log(d, warning, "%s", line);
}

/* --- requests on the engine thread -------------------------------------------------------- */

static void fgd_engine_add(struct fgd_req *q)
{
    struct fg_daemon *d = q->d;

    if (d->num_flows >= d->cfg.max_flows) {
        snprintf(q->msg, q->msglen, "Can not accept another flow, already handling %zu flows.",
                 d->num_flows);
        q->rc = FG_FAULT_HANDLER;
        fgd_flow_destroy(q->flow);
        return;
    }
    if (d->num_flows == 0)
        fgd_clear_reports(d); /* a new controller run: earlier runs' reports are stale */
    fgd_flow_link(q->flow);
    int rc = fgd_flow_arm_socket(q->flow);
    if (rc < 0) {
        char addr[SOCK_ADDR_STRLEN];
        if (q->flow->endpoint == FG_SOURCE)
            snprintf(q->msg, q->msglen, "could not connect data socket to %s: %s",
                     sock_addr_format(&q->flow->peer, addr, sizeof(addr)), strerror(-rc));
        else
            snprintf(q->msg, q->msglen, "could not watch data listen socket: %s", strerror(-rc));
        q->rc = FG_FAULT_HANDLER;
        fgd_flow_destroy(q->flow);
    }
    fgd_publish_status(d);
}

static void fgd_engine_start(struct fgd_req *q)
{
    struct fg_daemon *d = q->d;
    struct fgd_flow *next;

    if (d->num_flows > 0)
        d->started = true;
    for (struct fgd_flow *f = d->head; f; f = next) {
        next = f->next;
        if (!f->started)
            fgd_flow_start(f); /* may end f (a failed late connect) */
    }
    fgd_publish_status(d);
}

static void fgd_engine_stop(struct fgd_req *q)
{
    struct fg_daemon *d = q->d;
    struct fgd_flow *next;
    bool found = false;

    for (struct fgd_flow *f = d->head; f; f = next) {
        next = f->next;
        if (q->flow_id != -1 && f->id != q->flow_id)
            continue;
        found = true;
        fgd_flow_end(f, true);
        if (q->flow_id != -1)
            break;
    }
    if (!found && q->flow_id != -1) {
        snprintf(q->msg, q->msglen, "Unknown flow id");
        q->rc = FG_FAULT_HANDLER;
    }
    fgd_publish_status(d);
}

static void fgd_engine_shutdown(struct fgd_req *q)
{
    struct fg_daemon *d = q->d;

    while (d->head)
        fgd_flow_destroy(d->head);
    fgd_publish_status(d);
    loop_stop(d->loop);
}

static void fgd_engine_run_req(void *arg)
{
    struct fgd_req *q = arg;
    struct fg_daemon *d = q->d;

    switch (q->kind) {
    case FGD_REQ_ADD:
        fgd_engine_add(q);
        break;
    case FGD_REQ_START:
        fgd_engine_start(q);
        break;
    case FGD_REQ_STOP:
        fgd_engine_stop(q);
        break;
    case FGD_REQ_SHUTDOWN:
        fgd_engine_shutdown(q);
        break;
    }
    pthread_mutex_lock(&d->req_lock);
    q->done = true;
    pthread_cond_broadcast(&d->done_cond);
    pthread_mutex_unlock(&d->req_lock);
}

/* Hands q to the engine thread and waits until it ran. */
static int fgd_submit(struct fg_daemon *d, struct fgd_req *q)
{
    q->d = d;
    q->done = false;
    pthread_mutex_lock(&d->req_lock);
    int rc = loop_post(d->loop, fgd_engine_run_req, q);
    if (rc == 0) {
        while (!q->done)
            pthread_cond_wait(&d->done_cond, &d->req_lock);
    }
    pthread_mutex_unlock(&d->req_lock);
    return rc;
}

/* --- public requests ------------------------------------------------------------------ */

static int fgd_submit_add(struct fg_daemon *d, struct fgd_flow *f, char *msg, size_t msglen)
{
    struct fgd_req q = {.kind = FGD_REQ_ADD, .flow = f, .msg = msg, .msglen = msglen};

    if (fgd_submit(d, &q) < 0) {
        fgd_flow_destroy(f);
        snprintf(msg, msglen, "out of memory");
        return FG_FAULT_HANDLER;
    }
    return q.rc;
}

int fg_daemon_add_destination(struct fg_daemon *d, const struct fg_endpoint_settings *s,
                              struct fg_add_destination_reply *r, char *msg, size_t msglen)
{
    int fault = fgd_validate(s, NULL, msg, msglen);
    if (fault)
        return fault;
    struct fgd_flow *f = fgd_flow_new(d, s, FG_DESTINATION, msg, msglen, &fault);
    if (!f)
        return fault;
    fault = fgd_listen_socket(s, &f->listen_fd, msg, msglen);
    if (fault) {
        fgd_flow_destroy(f);
        return fault;
    }
    struct sock_addr bound;
    memset(r, 0, sizeof(*r));
    r->flow_id = s->flow_id;
    if (sock_local_addr(f->listen_fd, &bound) == 0)
        r->listen_data_port = sock_addr_port(&bound);
    fgd_read_buffers(f->listen_fd, &r->real_listen_send_buffer_size,
                     &r->real_listen_read_buffer_size);
    fault = fgd_dump_start(f, s->bind_address, (uint16_t)r->listen_data_port, msg, msglen);
    if (fault) {
        fgd_flow_destroy(f);
        return fault;
    }
    return fgd_submit_add(d, f, msg, msglen);
}

int fg_daemon_add_source(struct fg_daemon *d, const struct fg_endpoint_settings *s,
                         const struct fg_source_target *t, struct fg_add_source_reply *r, char *msg,
                         size_t msglen)
{
    int fault = fgd_validate(s, t, msg, msglen);
    if (fault)
        return fault;
    struct fgd_flow *f = fgd_flow_new(d, s, FG_SOURCE, msg, msglen, &fault);
    if (!f)
        return fault;
    f->target = *t;
    fault = fgd_source_socket(s, t, &f->fd, &f->peer, msg, msglen);
    if (fault) {
        fgd_flow_destroy(f);
        return fault;
    }
    memset(r, 0, sizeof(*r));
    r->flow_id = s->flow_id;
    fgd_read_cc(f->fd, r->cc_alg, sizeof(r->cc_alg));
    fgd_read_buffers(f->fd, &r->real_send_buffer_size, &r->real_read_buffer_size);
    const char *own = s->bind_address[0] ? s->bind_address : t->destination_address;
    fault = fgd_dump_start(f, own, (uint16_t)t->destination_port, msg, msglen);
    if (fault) {
        fgd_flow_destroy(f);
        return fault;
    }
    return fgd_submit_add(d, f, msg, msglen);
}

int fg_daemon_start_flows(struct fg_daemon *d, int32_t start_timestamp)
{
    struct fgd_req q = {.kind = FGD_REQ_START};

    (void)start_timestamp; /* ignored, as 0.8.2 does (bug 33 kept for interop) */
    fgd_submit(d, &q);
    return 0;
}

int fg_daemon_stop_flow(struct fg_daemon *d, int32_t flow_id, char *msg, size_t msglen)
{
    struct fgd_req q = {.kind = FGD_REQ_STOP, .flow_id = flow_id, .msg = msg, .msglen = msglen};

    if (fgd_submit(d, &q) < 0) {
        snprintf(msg, msglen, "out of memory");
        return FG_FAULT_HANDLER;
    }
    return q.rc;
}

/* --- lifetime ----------------------------------------------------------------------- */

static void *fgd_engine_main(void *arg)
{
    struct fg_daemon *d = arg;

    loop_run(d->loop);
    loop_run_posted(d->loop); /* requests posted before the stop still complete */
    return NULL;
}

/* Enough descriptors for max_flows endpoints (each one socket, a destination briefly two). */
static void fgd_raise_nofile(size_t max_flows)
{
    unsigned long got = 0;
    unsigned long want = max_flows > 65536 ? 131072 : (unsigned long)max_flows * 2 + 256;

    (void)sock_raise_nofile(want, &got);
}

static int fgd_init_sync(struct fg_daemon *d)
{
    if (pthread_mutex_init(&d->req_lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&d->done_cond, NULL) != 0)
        return -1;
    if (pthread_mutex_init(&d->rep_lock, NULL) != 0)
        return -1;
    return 0;
}

struct fg_daemon *fg_daemon_new(const struct fg_daemon_config *cfg, char *err, size_t errlen)
{
    struct fg_daemon *d = calloc(1, sizeof(*d));

    if (!d || fgd_init_sync(d) < 0 || !(d->scratch = malloc(FGD_SCRATCH_LEN))) {
        snprintf(err, errlen, "flow engine: out of memory");
        if (d)
            free(d->scratch);
        free(d);
        return NULL;
    }
    if (cfg)
        d->cfg = *cfg;
    if (!d->cfg.max_flows)
        d->cfg.max_flows = FG_DAEMON_DEFAULT_MAX_FLOWS;
    d->loop = loop_new(err, errlen);
    if (!d->loop) {
        free(d->scratch);
        free(d);
        return NULL;
    }
    /* Block due times are met by epoll_pwait2's ns timeouts; spinning would burn a core
     * shared with the peer daemon. */
    loop_set_spin_threshold(d->loop, 0);
    fgd_raise_nofile(d->cfg.max_flows);
    int rc = pthread_create(&d->thread, NULL, fgd_engine_main, d);
    if (rc != 0) {
        snprintf(err, errlen, "flow engine thread: %s", strerror(rc));
        loop_free(d->loop);
        free(d->scratch);
        free(d);
        return NULL;
    }
    return d;
}

void fg_daemon_free(struct fg_daemon *d)
{
    if (!d)
        return;
    struct fgd_req q = {.kind = FGD_REQ_SHUTDOWN};
    if (fgd_submit(d, &q) < 0)
        loop_stop(d->loop);
    pthread_join(d->thread, NULL);
    while (d->head)
        fgd_flow_destroy(d->head);
    loop_free(d->loop);
    pthread_mutex_destroy(&d->req_lock);
    pthread_cond_destroy(&d->done_cond);
    pthread_mutex_destroy(&d->rep_lock);
    free(d->reps);
    free(d->scratch);
    free(d);
}
