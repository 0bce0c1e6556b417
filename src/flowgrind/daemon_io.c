/* flowgrindd's data path (spec §5): request blocks on their schedule, responses, reading
 * blocks header first, and the RTT / IAT / one-way delay samples. Engine thread.
 *
 * Responses: 0.8.2 writes a response synchronously inside the read handler, retrying on
 * EAGAIN, which stalls every other flow while one peer is slow. Here a response is queued on
 * its connection (its 40 header bytes; the payload comes from the send buffer when written)
 * and written at once as far as the socket takes it; what does not fit (or waits behind a
 * half-written request block) goes out on the next writable events, after the request block
 * being written (if any) is complete and before the next request block starts, so blocks
 * never interleave. When
 * FGD_RESP_QUEUE_MAX responses wait, reading pauses until they drain. */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "core/clock.h"
#include "core/util.h"
#include "flowgrind/daemon_int.h"

void fgd_counters_reset(struct fgd_counters *c)
{
    memset(c, 0, sizeof(*c));
    c->rtt_min = c->iat_min = c->delay_min = FG_RPC_NO_MIN;
    c->rtt_max = c->iat_max = c->delay_max = FG_RPC_NO_MAX;
}

static void fgd_sample_one(double *min, double *max, double *sum, int64_t *n, double v)
{
    if (v < *min)
        *min = v;
    if (v > *max)
        *max = v;
    *sum += v;
    (*n)++;
}

void fgd_counters_sample(struct fgd_flow *f, int which, double v)
{
    for (int i = 0; i < 2; i++) {
        struct fgd_counters *c = &f->c[i];
        if (which == 0)
            fgd_sample_one(&c->rtt_min, &c->rtt_max, &c->rtt_sum, &c->rtt_samples, v);
        else if (which == 1)
            fgd_sample_one(&c->iat_min, &c->iat_max, &c->iat_sum, &c->iat_samples, v);
        else
            fgd_sample_one(&c->delay_min, &c->delay_max, &c->delay_sum, &c->delay_samples, v);
    }
}

void fgd_io_fill_sendbuf(struct fgd_flow *f)
{
    if (!f->s.byte_counting)
        return; /* calloc'd: zeros */
    for (int32_t i = 0; i < f->s.maximum_block_size; i++)
        f->sendbuf[i] = (uint8_t)(i & 0xff);
}

static bool fgd_write_active(const struct fgd_flow *f, uint64_t now)
{
    return !f->wr.finished && now >= f->wr.start_ns;
}

bool fgd_io_wants_write(const struct fgd_flow *f, uint64_t now)
{
    if (!f->connected || f->wr_shut)
        return false;
    return f->out_active || f->resp_len > 0 || (fgd_write_active(f, now) && now >= f->next_due);
}

bool fgd_io_wants_read(const struct fgd_flow *f)
{
    return f->connected && !f->rd_shut && !f->peer_eof && f->resp_len < FGD_RESP_QUEUE_MAX;
}

static double fgd_real_diff(uint64_t now_real, const struct timespec *then)
{
    double t = (double)then->tv_sec + (double)then->tv_nsec / 1e9;
    return (double)now_real / 1e9 - t;
}

/* --- writing ------------------------------------------------------------------------ */

/* Sends the rest of o: 1 when complete, 0 when the socket is full, -errno on error. */
static int fgd_send_out(struct fgd_flow *f, struct fgd_out *o)
{
    for (;;) {
        struct iovec iov[2];
        int n_iov = 0;
        if (o->off < FG_BLOCK_HDR_LEN)
            iov[n_iov++] = (struct iovec){o->hdr + o->off, (size_t)(FG_BLOCK_HDR_LEN - o->off)};
        int32_t from = o->off > FG_BLOCK_HDR_LEN ? o->off : FG_BLOCK_HDR_LEN;
        if (o->size > from)
            iov[n_iov++] = (struct iovec){f->sendbuf + from, (size_t)(o->size - from)};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t n = sendmsg(f->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        }
        o->off += (int32_t)n;
        f->c[0].bytes_written += (uint64_t)n;
        f->c[1].bytes_written += (uint64_t)n;
        if (o->off >= o->size)
            return 1;
    }
}

/* The response at the head of the queue was completely written. */
static void fgd_response_done(struct fgd_flow *f)
{
    f->resp_head = (f->resp_head + 1) % f->resp_cap;
    f->resp_len--;
    f->c[0].response_blocks_written++;
    f->c[1].response_blocks_written++;
}

/* Draws the next request block and encodes its header, stamped with at (taken right before
 * the block is sent). Returns the block's size. */
static int32_t fgd_stamp_block(struct fgd_flow *f, const struct timespec *at,
                               uint8_t hdr[FG_BLOCK_HDR_LEN])
{
    struct fg_block_hdr h;
    int32_t req, resp;

    fg_traffic_next_block(&f->traffic, &req, &resp);
    memset(&h, 0, sizeof(h));
    h.this_size = req;
    h.request_size = resp;
    h.data = *at;
    memcpy(h.data2, f->sendbuf + 24, sizeof(h.data2)); /* -E: the pattern shows from 24 on */
    fg_block_encode(&h, hdr);
    return req;
}

static void fgd_begin_block(struct fgd_flow *f)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    f->out.size = fgd_stamp_block(f, &now, f->out.hdr);
    f->out.off = 0;
    f->out_active = true;
}

/* A request block was completely written: counters, next due time, -C, cork toggle.
 * Returns false when the flow was aborted (-C). */
static bool fgd_request_done(struct fgd_flow *f, uint64_t now)
{
    f->out_active = false;
    f->c[0].request_blocks_written++;
    f->c[1].request_blocks_written++;
    double gap = fg_traffic_next_gap(&f->traffic);
    if (gap > 0) {
        f->next_due += isfinite(gap) && gap < 1e9 ? (uint64_t)llround(gap * 1e9) : UINT64_MAX / 4;
        if (f->next_due <= now && ++f->congestion > FGD_CONGESTION_LIMIT && f->s.flow_control) {
            fgd_log(f->d, true, "flow %d: schedule fell behind %d times, aborting (-C)",
                    (int)f->id, FGD_CONGESTION_LIMIT);
            fgd_flow_end(f, false);
            return false;
        }
    }
    if (f->s.cork) {
        int off = 0, on = 1;
        setsockopt(f->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
        setsockopt(f->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    }
    return true;
}

static void fgd_io_fail(struct fgd_flow *f, const char *what, int err)
{
    /* A peer that ended first resets or closes the connection: routine at a test's end. */
    bool routine = err == ECONNRESET || err == EPIPE;
    fgd_log(f->d, !routine, "flow %d: %s: %s", (int)f->id, what, strerror(err));
    /* After the peer's EOF or while draining, a peer that closed abruptly (0.8.2) ends the
     * flow normally: its last interval is reported. */
    fgd_flow_end(f, routine && (f->draining || f->peer_eof));
}

/* The next thing to write: the unfinished request block, a queued response, or a new
 * request block when one is due. NULL: nothing now. */
static struct fgd_out *fgd_next_out(struct fgd_flow *f, uint64_t now, bool *is_resp)
{
    *is_resp = false;
    if (f->out_active)
        return &f->out;
    if (f->resp_len > 0) {
        *is_resp = true;
        return &f->resp[f->resp_head];
    }
    if (fgd_write_active(f, now) && now >= f->next_due) {
        fgd_begin_block(f);
        return &f->out;
    }
    return NULL;
}

/* Whether the next write may be a burst: bulk traffic (every block the same, due at once,
 * nothing random drawn), nothing half written or queued, no cork toggling per block. */
static bool fgd_burst_ok(const struct fgd_flow *f, uint64_t now)
{
    return !f->out_active && f->resp_len == 0 && !f->s.cork && fgd_write_active(f, now) &&
           now >= f->next_due && fg_traffic_is_bulk(&f->traffic);
}

/* Sends bulk blocks, FGD_BURST_BYTES (at least one block) in one sendmsg: the same bytes as
 * block by block, but one send per 8 KiB block spent most of the sender's CPU on per-packet
 * work (iperf3 writes 128 KiB at a time). All blocks carry the same stamp: they enter the
 * socket in the same call. A block left half written continues as f->out; blocks not sent
 * at all are dropped, which bulk traffic allows (fg_traffic_is_bulk). 1: all sent, 0: the
 * socket is full, -1: the flow ended. */
static int fgd_write_burst(struct fgd_flow *f, uint64_t now)
{
    uint8_t hdr[FGD_BURST_BLOCKS][FG_BLOCK_HDR_LEN];
    struct iovec iov[2 * FGD_BURST_BLOCKS];
    struct timespec stamp;
    size_t n_iov = 0, total = 0;
    int32_t size = 0; /* the same for every block: constant sizes */
    int n = 0;

    clock_gettime(CLOCK_REALTIME, &stamp);
    while (n < FGD_BURST_BLOCKS && total < FGD_BURST_BYTES) {
        size = fgd_stamp_block(f, &stamp, hdr[n]);
        iov[n_iov++] = (struct iovec){hdr[n], FG_BLOCK_HDR_LEN};
        if (size > FG_BLOCK_HDR_LEN)
            iov[n_iov++] = (struct iovec){f->sendbuf + FG_BLOCK_HDR_LEN,
                                          (size_t)(size - FG_BLOCK_HDR_LEN)};
        total += (size_t)size;
        n++;
    }
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n_iov};
    ssize_t sent;
    do
        sent = sendmsg(f->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        fgd_io_fail(f, "write", errno);
        return -1;
    }
    f->c[0].bytes_written += (uint64_t)sent;
    f->c[1].bytes_written += (uint64_t)sent;
    size_t left = (size_t)sent;
    for (int i = 0; i < n && left > 0; i++) {
        if (left < (size_t)size) {
            memcpy(f->out.hdr, hdr[i], FG_BLOCK_HDR_LEN);
            f->out.size = size;
            f->out.off = (int32_t)left;
            f->out_active = true;
            return 0;
        }
        left -= (size_t)size;
        if (!fgd_request_done(f, now))
            return -1;
    }
    return (size_t)sent == total ? 1 : 0;
}

/* Writes one block (or the rest of one) or one burst of bulk blocks, or with -P until the
 * socket is full. Returns false when the flow ended. */
static bool fgd_write_some(struct fgd_flow *f)
{
    for (int blocks = 0; blocks < FGD_PUSHY_MAX_BLOCKS; blocks++) {
        uint64_t now = clock_mono_ns();
        if (fgd_burst_ok(f, now)) {
            int rc = fgd_write_burst(f, now);
            if (rc <= 0)
                return rc == 0;
            if (!f->s.pushy)
                return true;
            continue;
        }
        bool is_resp;
        struct fgd_out *o = fgd_next_out(f, now, &is_resp);
        if (!o)
            return true;
        int rc = fgd_send_out(f, o);
        if (rc < 0) {
            fgd_io_fail(f, "write", -rc);
            return false;
        }
        if (rc == 0)
            return true;
        if (is_resp)
            fgd_response_done(f);
        else if (!fgd_request_done(f, now)) {
            return false;
        }
        if (!f->s.pushy)
            return true;
    }
    return true; /* -P: the rest on the next event (level-triggered), other flows first */
}

/* --- reading ------------------------------------------------------------------------ */

static bool fgd_queue_response(struct fgd_flow *f, const struct fg_block_hdr *req)
{
    if (f->resp_len == f->resp_cap) {
        size_t cap = f->resp_cap ? f->resp_cap * 2 : 16;
        struct fgd_out *v = malloc(cap * sizeof(*v));
        if (!v)
            return false;
        for (size_t i = 0; i < f->resp_len; i++)
            v[i] = f->resp[(f->resp_head + i) % f->resp_cap];
        free(f->resp);
        f->resp = v;
        f->resp_cap = cap;
        f->resp_head = 0;
    }
    struct fgd_out *o = &f->resp[(f->resp_head + f->resp_len) % f->resp_cap];
    struct fg_block_hdr h;
    fg_block_response_hdr(req, req->request_size, &h);
    fg_block_encode(&h, o->hdr);
    o->size = req->request_size;
    o->off = 0;
    f->resp_len++;
    return true;
}

static void fgd_request_read(struct fgd_flow *f, uint64_t now, uint64_t now_real)
{
    const struct fg_block_hdr *h = &f->rd_block;

    f->c[0].request_blocks_read++;
    f->c[1].request_blocks_read++;
    if (f->last_block_mono)
        fgd_counters_sample(f, 1, (double)(now - f->last_block_mono) / 1e9);
    f->last_block_mono = now;
    double delay = fgd_real_diff(now_real, &h->data);
    if (delay >= 0) {
        fgd_counters_sample(f, 2, delay);
    } else if (!f->warned_delay) { /* once per flow: 0.8.2 flooded syslog (bug 54) */
        f->warned_delay = true;
        fgd_log_limited(f->d, FGD_LIMIT_DELAY, false,
                        "flow %d: calculated malformed delay %.6f s (clocks out-of-sync?)",
                        (int)f->id, delay);
    }
    /* Answered until the FIN went out, also while draining (bug 47: every request read is
     * answered, so both endpoints count the same response blocks). */
    if (h->request_size >= FG_BLOCK_MIN_SIZE && !f->wr_shut && !fgd_queue_response(f, h))
        fgd_log(f->d, true, "flow %d: out of memory, response dropped", (int)f->id);
}

/* Writes queued responses now, until the socket is full, unless a request block is half
 * written (blocks never interleave). Returns false when the flow ended on a write error. */
static bool fgd_flush_responses(struct fgd_flow *f)
{
    while (f->resp_len > 0 && !f->out_active) {
        int rc = fgd_send_out(f, &f->resp[f->resp_head]);
        if (rc < 0) {
            fgd_io_fail(f, "write", -rc);
            return false;
        }
        if (rc == 0)
            return true;
        fgd_response_done(f);
    }
    return true;
}

/* A complete block was read. Returns false when the flow ended. */
static bool fgd_block_read(struct fgd_flow *f)
{
    uint64_t now = clock_mono_ns(), now_real = clock_real_ns();

    if (fg_block_is_response(&f->rd_block)) {
        f->c[0].response_blocks_read++;
        f->c[1].response_blocks_read++;
        double rtt = fgd_real_diff(now_real, &f->rd_block.data);
        if (rtt >= 0)
            fgd_counters_sample(f, 0, rtt);
    } else {
        fgd_request_read(f, now, now_real);
    }
    f->rd_off = f->rd_size = 0;
    /* A response goes out at once, as 0.8.2 sends it: waiting for the next writable event
     * lets Nagle hold it behind the previous one when the peer delays its ACKs. */
    return fgd_flush_responses(f);
}

/* Decodes the header just read. A request_size out of range only costs the response (as
 * 0.8.2); a block size out of range ends the flow (bug 45: 0.8.2 desynchronised). */
static bool fgd_decode_header(struct fgd_flow *f)
{
    char err[160];
    int32_t max = f->s.maximum_block_size;
    int rc = fg_block_decode(f->rd_hdr, FG_BLOCK_HDR_LEN, max, &f->rd_block, err, sizeof(err));

    if (rc == -EPROTO) {
        uint32_t be;
        memcpy(&be, f->rd_hdr, 4);
        int32_t size = (int32_t)ntohl(be);
        if (size >= FG_BLOCK_MIN_SIZE && size <= max) {
            memset(f->rd_hdr + 4, 0, 4); /* keep the block, drop the response request */
            rc = fg_block_decode(f->rd_hdr, FG_BLOCK_HDR_LEN, max, &f->rd_block, err,
                                 sizeof(err));
        }
    }
    if (rc < 0) {
        fgd_log(f->d, true, "flow %d: %s; ending the flow", (int)f->id, err);
        fgd_flow_end(f, false);
        return false;
    }
    f->rd_size = f->rd_block.this_size;
    return true;
}

/* EOF from the peer. With -N, or once the read timer expired (draining), or within the grace
 * period before it (the peer's timers ran a little ahead), it ends the read direction
 * normally and the flow goes on to its own end (bug 47). Otherwise the peer ended early: the
 * flow ends at once with its FINAL report (§5.5). Returns false when the flow ended. */
static bool fgd_on_eof(struct fgd_flow *f)
{
    uint64_t now = clock_mono_ns();
    bool near_end = f->started && now + fgd_flow_grace_ns(f) >= f->rd.stop_ns;

    if (f->s.shutdown || f->rd.finished || f->draining || near_end) {
        f->peer_eof = true;
        if (!f->rd.finished) {
            f->rd.finished = true;
            f->rd.normal_end = true;
        }
        if (f->s.shutdown)
            f->rd_shut = true;
        return fgd_flow_update(f);
    }
    fgd_log(f->d, false, "premature shutdown of server flow %d", (int)f->id);
    fgd_flow_end(f, false);
    return false;
}

/* One recv of up to FGD_SCRATCH_LEN bytes into the daemon's scratch: bytes read, 0 at EOF,
 * -EAGAIN, -errno. It may hold the rest of one block and any number of the next: reading a
 * block's header and then its payload with two calls of their own spent most of a bulk
 * receiver's CPU on system calls. */
static ssize_t fgd_recv_some(struct fgd_flow *f)
{
    for (;;) {
        ssize_t n = recv(f->fd, f->d->scratch, FGD_SCRATCH_LEN, MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* Walks n bytes just read through the block parser: header bytes are kept and decoded,
 * payload bytes skipped, and every block completed is accounted for in order, each with its
 * own arrival time. Returns false when the flow ended. */
static bool fgd_consume(struct fgd_flow *f, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t take;
        if (f->rd_size == 0) {
            take = (size_t)(FG_BLOCK_HDR_LEN - f->rd_off);
            take = take < n ? take : n;
            memcpy(f->rd_hdr + f->rd_off, p, take);
        } else {
            take = (size_t)(f->rd_size - f->rd_off);
            take = take < n ? take : n;
        }
        f->rd_off += (int32_t)take;
        p += take;
        n -= take;
        if (f->rd_size == 0 && f->rd_off == FG_BLOCK_HDR_LEN && !fgd_decode_header(f))
            return false;
        if (f->rd_size > 0 && f->rd_off == f->rd_size && !fgd_block_read(f))
            return false;
    }
    return true;
}

/* Reads what the socket holds (one recv), or with -P until it is empty. Returns false when
 * the flow ended. */
static bool fgd_read_some(struct fgd_flow *f)
{
    for (int reads = 0; reads < FGD_PUSHY_MAX_BLOCKS; reads++) {
        ssize_t n = fgd_recv_some(f);
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            fgd_io_fail(f, "read", (int)-n);
            return false;
        }
        if (n == 0)
            return fgd_on_eof(f);
        f->c[0].bytes_read += (uint64_t)n;
        f->c[1].bytes_read += (uint64_t)n;
        if (!fgd_consume(f, f->d->scratch, (size_t)n))
            return false;
        if (!f->s.pushy || !fgd_io_wants_read(f))
            return true;
    }
    return true;
}

/* --- events --------------------------------------------------------------------------- */

void fgd_io_on_events(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    struct fgd_flow *f = container_of(h, struct fgd_flow, lfd);
    (void)loop;

    if (f->connecting) {
        fgd_flow_connect_done(f);
        return;
    }
    if (events & EPOLLERR) {
        int rc = sock_connect_result(f->fd);
        fgd_io_fail(f, "data connection", rc < 0 ? -rc : EIO);
        return;
    }
    if (!f->started || ((events & EPOLLHUP) && !fgd_io_wants_read(f))) {
        if (events & EPOLLHUP) /* both directions are gone: nothing more can move */
            fgd_flow_end(f, f->peer_eof || f->draining);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP)) && !fgd_read_some(f))
        return;
    if ((events & EPOLLOUT) && !fgd_write_some(f))
        return;
    fgd_flow_update(f);
}
