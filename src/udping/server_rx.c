/* udping_server's receive path: recvmmsg batches, kernel timestamps, decoding, accounting,
 * and the rate-limited warnings (see server.h and doc/man/udping_server.1). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "core/report.h"
#include "core/util.h"
#include "udping/server.h"

#define CTRL_LEN 128 /* room for SCM_TIMESTAMPNS and SO_RXQ_OVFL */
#define WARN_WINDOW_NS 1000000000ull

/* ---- warnings --------------------------------------------------------------------------- */

static const char *const warn_kind_names[UDPING_W_COUNT] = {
    "short", "size", "version", "guid", "control", "time", "recv", "refused", "nomem", "statsd",
};

static void warn_print(struct udping_server *srv, enum udping_warn_kind kind, const char *text,
                       uint64_t more)
{
    if (more)
        fprintf(stderr, UDPING_PROG ": %s (%" PRIu64 " more suppressed)\n", text, more);
    else
        fprintf(stderr, UDPING_PROG ": %s\n", text);
    if (srv->cfg.json_stream) {
        report_event_begin(&srv->stream, "warning");
        json_kv_string(&srv->stream, "kind", warn_kind_names[kind]);
        json_kv_string(&srv->stream, "message", text);
        json_kv_u64(&srv->stream, "suppressed", more);
        report_event_end(&srv->stream);
    }
}

static void warn_arm(struct udping_server *srv)
{
    uint64_t next = UINT64_MAX;
    for (int k = 0; k < UDPING_W_COUNT; k++)
        if (srv->warn[k].held && srv->warn[k].window_end_ns < next)
            next = srv->warn[k].window_end_ns;
    if (next == UINT64_MAX)
        loop_timer_cancel(srv->loop, &srv->warn_timer);
    else
        loop_timer_arm(srv->loop, &srv->warn_timer, next);
}

/* Prints what kind k held back: its last text and how many others. */
static void warn_release(struct udping_server *srv, enum udping_warn_kind k, uint64_t now)
{
    struct udping_warn_state *st = &srv->warn[k];
    if (!st->held)
        return;
    warn_print(srv, k, st->last, st->held - 1);
    st->held = 0;
    st->window_end_ns = now + WARN_WINDOW_NS;
}

void udping_warn(struct udping_server *srv, enum udping_warn_kind kind, const char *fmt, ...)
{
    struct udping_warn_state *st = &srv->warn[kind];
    char text[sizeof st->last];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    uint64_t now = clock_mono_ns();
    if (now >= st->window_end_ns && !st->held) {
        warn_print(srv, kind, text, 0);
        st->window_end_ns = now + WARN_WINDOW_NS;
        return;
    }
    st->held++;
    memcpy(st->last, text, sizeof st->last);
    warn_arm(srv);
}

void udping_warn_on_timer(struct loop *loop, struct loop_timer *t)
{
    struct udping_server *srv = container_of(t, struct udping_server, warn_timer);
    uint64_t now = loop_update_now(loop);
    for (int k = 0; k < UDPING_W_COUNT; k++)
        if (srv->warn[k].held && now >= srv->warn[k].window_end_ns)
            warn_release(srv, (enum udping_warn_kind)k, now);
    warn_arm(srv);
}

void udping_warn_flush(struct udping_server *srv)
{
    uint64_t now = clock_mono_ns();
    for (int k = 0; k < UDPING_W_COUNT; k++)
        warn_release(srv, (enum udping_warn_kind)k, now);
    if (srv->loop)
        loop_timer_cancel(srv->loop, &srv->warn_timer);
}

/* ---- setup ------------------------------------------------------------------------------ */

static void set_rcvbuf(struct udping_server *srv)
{
    int want = UDPING_RCVBUF;
    /* SO_RCVBUFFORCE passes net.core.rmem_max when privileged; otherwise the plain one is
     * capped by it. */
    if (setsockopt(srv->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
        setsockopt(srv->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    int got = 0;
    socklen_t len = sizeof got;
    if (getsockopt(srv->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0)
        srv->rcvbuf = got;
}

int udping_rx_setup(struct udping_server *srv)
{
    srv->msgs = calloc(UDPING_RX_BATCH, sizeof *srv->msgs);
    srv->iov = calloc(UDPING_RX_BATCH, sizeof *srv->iov);
    srv->bufs = malloc((size_t)UDPING_RX_BATCH * UDPING_MAX_PAYLOAD);
    srv->ctrl = malloc((size_t)UDPING_RX_BATCH * CTRL_LEN);
    srv->from = calloc(UDPING_RX_BATCH, sizeof *srv->from);
    if (!srv->msgs || !srv->iov || !srv->bufs || !srv->ctrl || !srv->from)
        return -ENOMEM;
    int on = 1;
    srv->kernel_ts = setsockopt(srv->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
    srv->drops_on = setsockopt(srv->fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) == 0;
    set_rcvbuf(srv);
    return 0;
}

void udping_rx_free(struct udping_server *srv)
{
    free(srv->msgs);
    free(srv->iov);
    free(srv->bufs);
    free(srv->ctrl);
    free(srv->from);
    srv->msgs = NULL;
    srv->iov = NULL;
    srv->bufs = NULL;
    srv->ctrl = NULL;
    srv->from = NULL;
}

/* recvmmsg rewrites the lengths: reset them before every call. */
static void prepare_batch(struct udping_server *srv)
{
    for (unsigned i = 0; i < UDPING_RX_BATCH; i++) {
        struct msghdr *m = &srv->msgs[i].msg_hdr;
        srv->iov[i].iov_base = srv->bufs + (size_t)i * UDPING_MAX_PAYLOAD;
        srv->iov[i].iov_len = UDPING_MAX_PAYLOAD;
        m->msg_name = &srv->from[i];
        m->msg_namelen = sizeof srv->from[i];
        m->msg_iov = &srv->iov[i];
        m->msg_iovlen = 1;
        m->msg_control = srv->ctrl + (size_t)i * CTRL_LEN;
        m->msg_controllen = CTRL_LEN;
        m->msg_flags = 0;
        srv->msgs[i].msg_len = 0;
    }
}

/* The kernel's receive time of a datagram, if it gave one; also notes the drop counter. */
static bool read_cmsgs(struct udping_server *srv, struct msghdr *m, int64_t *ts_ns)
{
    bool have = false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            if (ts.tv_sec != 0 || ts.tv_nsec != 0) {
                *ts_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
                have = true;
            }
        } else if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            uint32_t drops;
            memcpy(&drops, CMSG_DATA(c), sizeof drops);
            /* The socket's running total, mod 2^32. */
            srv->socket_drops += (uint32_t)(drops - srv->drops_last);
            srv->drops_last = drops;
        }
    }
    return have;
}

static enum udping_warn_kind verdict_kind(enum udping_verdict v)
{
    switch (v) {
    case UDPING_BAD_SHORT:
        return UDPING_W_SHORT;
    case UDPING_BAD_SIZE:
        return UDPING_W_SIZE;
    case UDPING_BAD_VERSION:
        return UDPING_W_VERSION;
    case UDPING_BAD_GUID:
        return UDPING_W_GUID;
    case UDPING_BAD_CONTROL:
        return UDPING_W_CONTROL;
    default:
        return UDPING_W_TIME;
    }
}

static void print_verbose(const struct udping_hdr *h)
{
    printf("%s:%" PRId64 ":%" PRIu32 " - %" PRId64 ":%" PRId64 "\n", h->guid, h->client_start,
           h->seq, h->sent_sec, h->sent_nsec);
}

static void account(struct udping_server *srv, const struct udping_rx *rx)
{
    struct udping_rx_result res;
    udping_table_receive(&srv->table, rx, &res);
    if (res.src_created && res.src)
        res.src->host = udping_names_get(srv->names, rx->from);
    char addr[SOCK_ADDR_STRLEN];
    switch (res.outcome) {
    case UDPING_RX_REFUSED:
        udping_warn(srv, UDPING_W_REFUSED, "too many open sessions (%u), dropping packet from %s",
                    UDPING_SESSIONS_MAX, sock_addr_format(rx->from, addr, sizeof addr));
        return;
    case UDPING_RX_NOMEM:
        udping_warn(srv, UDPING_W_NOMEM, "out of memory, dropping packet from %s",
                    sock_addr_format(rx->from, addr, sizeof addr));
        return;
    case UDPING_RX_LATE:
    case UDPING_RX_CONTROL_EMPTY:
        return;
    default:
        break;
    }
    if (res.complete)
        udping_out_emit(srv, res.s, UDPING_TRIGGER_CONTROL);
    else if (res.created || res.outcome == UDPING_RX_CONTROL)
        udping_out_arm(srv, res.s);
}

static void process(struct udping_server *srv, unsigned i, int64_t user_ns, uint64_t now,
                    bool *printed)
{
    struct msghdr *m = &srv->msgs[i].msg_hdr;
    const uint8_t *buf = srv->bufs + (size_t)i * UDPING_MAX_PAYLOAD;
    size_t len = srv->msgs[i].msg_len;
    srv->received++;
    int64_t ts = 0;
    bool kernel = read_cmsgs(srv, m, &ts);
    struct udping_hdr h;
    enum udping_verdict v = udping_hdr_decode(buf, len, &h);
    if (v != UDPING_OK_DATA && v != UDPING_OK_CONTROL) {
        char text[200];
        enum udping_warn_kind k = verdict_kind(v);
        srv->malformed[k]++;
        udping_warn(srv, k, "%s", udping_verdict_text(v, &h, len, text, sizeof text));
        return;
    }
    if (v == UDPING_OK_DATA && srv->cfg.verbose && !srv->cfg.json && !srv->cfg.json_stream) {
        print_verbose(&h);
        *printed = true;
    }
    struct sock_addr from = {.len = m->msg_namelen};
    memcpy(&from.ss, &srv->from[i], sizeof from.ss);
    if (kernel)
        srv->kernel_packets++;
    else
        srv->user_packets++;
    struct udping_rx rx = {
        .from = &from,
        .hdr = &h,
        .control = v == UDPING_OK_CONTROL,
        .rx_real_ns = kernel ? ts : user_ns,
        .ts_kernel = kernel,
        .now_mono_ns = now,
    };
    account(srv, &rx);
}

void udping_rx_on_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    (void)events;
    struct udping_server *srv = container_of(h, struct udping_server, rx);
    bool printed = false;
    for (unsigned round = 0; round < UDPING_RX_ROUNDS && !loop_stopping(loop); round++) {
        prepare_batch(srv);
        int n = recvmmsg(srv->fd, srv->msgs, UDPING_RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                srv->recv_errors++;
                udping_warn(srv, UDPING_W_RECV, "Error receiving data: %s", strerror(errno));
            }
            break;
        }
        /* One user-space time for the batch: the fallback when the kernel gave none. */
        int64_t user_ns = (int64_t)clock_real_ns();
        uint64_t now = loop_update_now(loop);
        for (int i = 0; i < n; i++)
            process(srv, (unsigned)i, user_ns, now, &printed);
        if (n < UDPING_RX_BATCH)
            break;
    }
    if (printed)
        fflush(stdout);
}
