/* The WebSocket transport: RFC 6455 over a lower byte transport (plain TCP or TLS); see
 * transport.h for the contract and ws.h for the codec it drives.
 *
 * Per connection it runs the opening handshake (client: request, then the 101 response
 * checked; server: request parsed, 101 or 400), then passes the send stream (already framed
 * by the message source) to the lower transport, and de-frames what it receives: data
 * frame payload goes to the engine, pings get pongs, a close gets a close, a protocol
 * error gets a close with status 1002 (and -EPROTO), and with --listen-mode=echo each data
 * frame received on an accepted connection goes back as a server frame. Its own frames
 * (pong, close, echo) wait in `out` and are written only between frames of the send
 * stream: send() tracks whether the previous send took all it was given, which the engine
 * guarantees is a frame boundary. flush() in the middle of a frame returns 0 with output
 * still pending, so that the engine goes on to finish its frame (its next send writes ours
 * right after).
 *
 * Frames that arrive together with the handshake's last bytes are kept and handed out by
 * the next recv(); the engine should call recv once after TK_HS_DONE, since the socket
 * will not signal those bytes again. */
#include "tcpkali/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tcpkali/ws.h"

/* The layer's shared state. */
struct ws_ctx {
    const char *const *headers; /* -H lines */
    size_t nheaders;
    bool echo; /* --listen-mode=echo: echo data frames on accepted connections */
};

enum ws_hs_state {
    WS_HS_LOWER,    /* the lower transport's handshake (TLS) */
    WS_HS_SEND,     /* writing the request (client) or the 101 (server) from out */
    WS_HS_READ,     /* reading the response (client) or the request (server) */
    WS_HS_REFUSE,   /* server: writing the 400, then failing */
    WS_HS_DONE,
    WS_HS_FAILED,
};

/* Per-connection state; the lower transport's state follows it (at lower_off). */
struct ws_conn {
    bool outgoing;
    uint8_t hs;                  /* enum ws_hs_state */
    uint8_t fail;                /* enum tk_hs_fail, when hs == WS_HS_FAILED */
    bool mid_frame;              /* the last send() did not take all it was given */
    bool echo_open;              /* an echo frame's payload is still arriving */
    bool close_seen;             /* a close frame arrived: recv returns 0 from now on */
    bool proto_error;            /* the decoder failed: recv returns -EPROTO */
    uint8_t ctl_len;             /* control frame payload gathered in ctl */
    uint8_t ctl[125];
    const struct tk_dest *dest;  /* client: where the request goes */
    struct tk_ws_decoder dec;
    struct tk_buf out;           /* handshake bytes, then our own frames */
    size_t out_off;              /* bytes of out already written */
    struct tk_buf left;          /* bytes read after the handshake head: frames */
    size_t left_off;
    struct tk_ws_hs_parser *hsp; /* during the handshake (and after a failure, for its text) */
};

/* The lower state sits after ours, aligned for anything. */
static size_t lower_off(void)
{
    size_t a = _Alignof(max_align_t);
    return (sizeof(struct ws_conn) + a - 1) / a * a;
}

static void *lower_ts(void *ts)
{
    return (char *)ts + lower_off();
}

static const void *lower_cts(const void *ts)
{
    return (const char *)ts + lower_off();
}

/* Random bytes for keys and masks: one generator per worker thread, seeded from the
 * kernel's entropy on first use (every call on a connection happens on its worker). */
static void ws_random(uint8_t *p, size_t n)
{
    static __thread struct rng r;
    static __thread bool seeded;
    if (!seeded) {
        rng_seed(&r, rng_entropy_seed());
        seeded = true;
    }
    while (n > 0) {
        uint64_t v = rng_next(&r);
        size_t k = n < 8 ? n : 8;
        memcpy(p, &v, k);
        p += k;
        n -= k;
    }
}

static int ws_conn_init(const struct tk_transport *t, void *ts, bool outgoing,
                        const struct tk_dest *dest)
{
    struct ws_conn *s = ts;
    s->outgoing = outgoing;
    s->dest = dest;
    s->hs = WS_HS_LOWER;
    tk_ws_decoder_init(&s->dec);
    if (t->lower->conn_init)
        return t->lower->conn_init(t->lower, lower_ts(ts), outgoing, dest);
    return 0;
}

static void ws_conn_free(const struct tk_transport *t, void *ts)
{
    struct ws_conn *s = ts;
    tk_buf_free(&s->out);
    tk_buf_free(&s->left);
    free(s->hsp);
    s->hsp = NULL;
    if (t->lower->conn_free)
        t->lower->conn_free(t->lower, lower_ts(ts));
}

/* ---- Writing our own bytes -------------------------------------------------------------- */

static size_t out_left(const struct ws_conn *s)
{
    return s->out.len - s->out_off;
}

/* Writes out through the lower transport, then whatever the lower still holds (a TLS
 * record): 0 when all went, -EAGAIN, or -errno. */
static int out_write(const struct tk_transport *t, struct ws_conn *s, int fd, struct tk_io *io)
{
    const struct tk_transport *lo = t->lower;
    void *lts = lower_ts(s);
    while (out_left(s) > 0) {
        ssize_t r = lo->send(lo, lts, fd, s->out.data + s->out_off, out_left(s), io);
        if (r < 0)
            return (int)r;
        s->out_off += (size_t)r;
    }
    s->out.len = s->out_off = 0;
    if (lo->pending && lo->pending(lo, lts) > 0)
        return lo->flush(lo, lts, fd, io);
    return 0;
}

/* Drops the written part of out once it is most of the buffer, so that a connection whose
 * socket never quite drains (echo under load) does not grow it without end. */
static void out_compact(struct ws_conn *s)
{
    if (s->out_off > 0 && s->out_off >= s->out.len / 2) {
        memmove(s->out.data, s->out.data + s->out_off, out_left(s));
        s->out.len -= s->out_off;
        s->out_off = 0;
    }
}

static size_t ws_pending(const struct tk_transport *t, const void *ts)
{
    const struct ws_conn *s = ts;
    const struct tk_transport *lo = t->lower;
    return out_left(s) + (lo->pending ? lo->pending(lo, lower_cts(ts)) : 0);
}

static int ws_flush(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    struct ws_conn *s = ts;
    const struct tk_transport *lo = t->lower;
    if (lo->pending && lo->pending(lo, lower_ts(ts)) > 0) {
        int rc = lo->flush(lo, lower_ts(ts), fd, io);
        if (rc < 0)
            return rc;
    }
    /* In the middle of a frame of the send stream ours must wait: the engine's next send
     * finishes that frame and then writes them. */
    if (s->mid_frame)
        return 0;
    return out_write(t, s, fd, io);
}

/* Queues one whole frame of ours (pong, close reply): masked with a fresh key when we are
 * the client. 0 or -ENOMEM. */
static int queue_frame(struct ws_conn *s, uint8_t byte0, const uint8_t *p, size_t n)
{
    uint8_t key[4];
    if (s->outgoing)
        ws_random(key, sizeof(key));
    return tk_ws_frame_append(&s->out, byte0, p, n, s->outgoing ? key : NULL);
}

/* ---- Handshake ------------------------------------------------------------------------ */

static int hs_fail(struct ws_conn *s, enum tk_hs_fail why)
{
    s->hs = WS_HS_FAILED;
    s->fail = (uint8_t)why;
    return TK_HS_FAILED;
}

/* Client: the request for this connection's destination, with a fresh key. */
static int hs_client_start(const struct tk_transport *t, struct ws_conn *s)
{
    const struct ws_ctx *ctx = t->ctx;
    uint8_t nonce[16];
    char key[TK_WS_KEY_LEN + 1];
    ws_random(nonce, sizeof(nonce));
    tk_ws_make_key(nonce, key);
    const char *text = s->dest ? s->dest->text : "localhost";
    const char *path = s->dest ? s->dest->path : "/";
    if (tk_ws_request_build(&s->out, text, tk_ws_dest_host_len(text), path, key, ctx->headers,
                            ctx->nheaders) < 0)
        return -ENOMEM;
    tk_ws_response_parser_init(s->hsp, key);
    return 0;
}

static int hs_begin(const struct tk_transport *t, struct ws_conn *s)
{
    s->hsp = malloc(sizeof(*s->hsp));
    if (!s->hsp)
        return -ENOMEM;
    if (s->outgoing) {
        s->hs = WS_HS_SEND;
        return hs_client_start(t, s);
    }
    tk_ws_request_parser_init(s->hsp);
    s->hs = WS_HS_READ;
    return 0;
}

/* Internal to the handshake's steps: go on with the next state now. */
#define WS_HS_CONTINUE 100

static enum tk_hs_fail fail_of(int parse_result)
{
    switch (parse_result) {
    case TK_WS_HS_STATUS:
        return TK_HSF_WS_STATUS;
    case TK_WS_HS_ACCEPT:
        return TK_HSF_WS_ACCEPT;
    case TK_WS_HS_REQUEST:
        return TK_HSF_WS_REQUEST;
    default:
        return TK_HSF_WS_MALFORMED;
    }
}

/* The head is complete: keep what followed it (the first frames), then answer (server) or
 * finish (client). */
static int hs_head_done(struct ws_conn *s, int rc, const uint8_t *rest, size_t nrest)
{
    if (rc == TK_WS_HS_OK && nrest > 0 && tk_buf_append(&s->left, rest, nrest) < 0)
        return -ENOMEM;
    if (s->outgoing) {
        if (rc != TK_WS_HS_OK)
            return hs_fail(s, fail_of(rc));
        s->hs = WS_HS_DONE;
        return WS_HS_CONTINUE;
    }
    if (rc == TK_WS_HS_OK) {
        if (tk_ws_response_build(&s->out, s->hsp->key) < 0)
            return -ENOMEM;
        s->hs = WS_HS_SEND;
    } else {
        if (tk_ws_response_400_build(&s->out) < 0)
            return -ENOMEM;
        s->fail = (uint8_t)fail_of(rc);
        s->hs = WS_HS_REFUSE;
    }
    return WS_HS_CONTINUE; /* the caller's loop writes the answer now */
}

/* Handshake bytes for the engine's -d dump, when it asked for them. */
static void hs_dump(struct tk_io *io, bool out, const uint8_t *p, size_t n)
{
    if (io->dump && n > 0)
        io->dump(io->dump_ctx, out, p, n);
}

/* Writes the handshake bytes in out (request, 101 or 400) like out_write, showing each
 * chunk the lower transport took to the dump hook. */
static int hs_write(const struct tk_transport *t, struct ws_conn *s, int fd, struct tk_io *io)
{
    const struct tk_transport *lo = t->lower;
    while (out_left(s) > 0) {
        const uint8_t *p = s->out.data + s->out_off;
        ssize_t r = lo->send(lo, lower_ts(s), fd, p, out_left(s), io);
        if (r < 0)
            return (int)r;
        hs_dump(io, true, p, (size_t)r);
        s->out_off += (size_t)r;
    }
    return out_write(t, s, fd, io); /* resets out, flushes what the lower still holds */
}

/* Reads the head from the lower transport until it is complete: WS_HS_CONTINUE then, or
 * TK_HS_WANT_READ, TK_HS_FAILED, -errno. */
static int hs_read(const struct tk_transport *t, struct ws_conn *s, int fd, struct tk_io *io)
{
    const struct tk_transport *lo = t->lower;
    uint8_t buf[4096];
    for (;;) {
        ssize_t r = lo->recv(lo, lower_ts(s), fd, buf, sizeof(buf), io);
        if (r == -EAGAIN)
            return TK_HS_WANT_READ;
        if (r < 0)
            return (int)r;
        if (r == 0)
            return hs_fail(s, TK_HSF_WS_EOF);
        size_t used = 0;
        int rc = tk_ws_hs_parse(s->hsp, buf, (size_t)r, &used);
        hs_dump(io, false, buf, used);
        if (rc != TK_WS_HS_MORE)
            return hs_head_done(s, rc, buf + used, (size_t)r - used);
    }
}

static int ws_handshake(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    struct ws_conn *s = ts;
    const struct tk_transport *lo = t->lower;
    int rc;

    for (;;) {
        switch (s->hs) {
        case WS_HS_LOWER:
            if (lo->handshake) {
                rc = lo->handshake(lo, lower_ts(ts), fd, io);
                if (rc != TK_HS_DONE)
                    return rc;
            }
            if ((rc = hs_begin(t, s)) < 0)
                return rc;
            break;
        case WS_HS_SEND:
            rc = hs_write(t, s, fd, io);
            if (rc == -EAGAIN)
                return TK_HS_WANT_WRITE;
            if (rc < 0)
                return rc;
            if (s->outgoing) {
                s->hs = WS_HS_READ;
                break;
            }
            s->hs = WS_HS_DONE;
            break;
        case WS_HS_READ:
            rc = hs_read(t, s, fd, io);
            if (rc != WS_HS_CONTINUE)
                return rc;
            break;
        case WS_HS_REFUSE:
            /* One try to tell the peer why; the connection closes either way. */
            (void)hs_write(t, s, fd, io);
            return hs_fail(s, (enum tk_hs_fail)s->fail);
        case WS_HS_DONE:
            free(s->hsp);
            s->hsp = NULL;
            return TK_HS_DONE;
        default:
            return TK_HS_FAILED;
        }
    }
}

static enum tk_hs_fail ws_fail_cause(const struct tk_transport *t, void *ts, char *text,
                                     size_t len)
{
    struct ws_conn *s = ts;
    const struct tk_transport *lo = t->lower;
    if (s->hs == WS_HS_LOWER && lo->fail_cause) /* the TLS handshake failed */
        return lo->fail_cause(lo, lower_ts(ts), text, len);
    const char *why = s->hsp && s->hsp->reason[0] ? s->hsp->reason : "";
    switch ((enum tk_hs_fail)s->fail) {
    case TK_HSF_WS_STATUS:
        snprintf(text, len, "WebSocket upgrade refused: %s", why);
        break;
    case TK_HSF_WS_ACCEPT:
        snprintf(text, len, "WebSocket upgrade not confirmed: %s", why);
        break;
    case TK_HSF_WS_REQUEST:
        snprintf(text, len, "Not a WebSocket upgrade request: %s", why);
        break;
    case TK_HSF_WS_EOF:
        snprintf(text, len, "Peer closed during the WebSocket handshake");
        break;
    default:
        snprintf(text, len, "Malformed WebSocket handshake: %s", why);
        break;
    }
    return (enum tk_hs_fail)s->fail;
}

/* ---- Data ----------------------------------------------------------------------------- */

static ssize_t ws_send(const struct tk_transport *t, void *ts, int fd, const uint8_t *p,
                       size_t n, struct tk_io *io)
{
    struct ws_conn *s = ts;
    const struct tk_transport *lo = t->lower;
    if (!s->mid_frame) {
        /* At a frame boundary: our own frames go first. */
        int rc = out_write(t, s, fd, io);
        if (rc < 0)
            return rc;
        /* An echo frame still arriving must not be cut by the send stream. (Accepted
         * connections in echo mode have no messages of their own, so this does not
         * happen; the guard keeps the wire valid should it ever.) */
        if (s->echo_open)
            return -EAGAIN;
    }
    ssize_t r = lo->send(lo, lower_ts(ts), fd, p, n, io);
    if (r < 0)
        return r;
    s->mid_frame = (size_t)r < n;
    if (!s->mid_frame && out_left(s) > 0) {
        /* Back at a boundary: frames queued meanwhile go now if the socket takes them (an
         * error shows up on the next call). */
        (void)out_write(t, s, fd, io);
    }
    return r;
}

/* A control frame is complete: ping gets pong, close gets close. */
static int on_control(struct ws_conn *s)
{
    uint8_t op = s->dec.frame.opcode;
    if (op == TK_WS_OP_PING)
        return queue_frame(s, TK_WS_FIN | TK_WS_OP_PONG, s->ctl, s->ctl_len);
    if (op == TK_WS_OP_CLOSE) {
        s->close_seen = true;
        /* Echo the status code (RFC 6455 §5.5.1), without the reason. */
        return queue_frame(s, TK_WS_FIN | TK_WS_OP_CLOSE, s->ctl, s->ctl_len >= 2 ? 2 : 0);
    }
    return 0; /* pong: nothing to do */
}

/* What decode_into does with each part of a frame. */
struct rx {
    uint8_t *buf;
    size_t out; /* data payload bytes moved to the front of buf */
    bool echo;  /* echo data frames (an accepted connection in echo mode) */
};

static int rx_header(struct ws_conn *s, struct rx *rx, struct tk_io *io)
{
    const struct tk_ws_frame *f = &s->dec.frame;
    io->frames_in++;
    s->ctl_len = 0;
    if (rx->echo && !tk_ws_is_control(f->opcode)) {
        uint8_t hdr[TK_WS_MAX_HEADER];
        size_t hl = tk_ws_header_encode(hdr, f->byte0, f->len, NULL);
        if (tk_buf_append(&s->out, hdr, hl) < 0)
            return -ENOMEM;
        s->echo_open = true;
    }
    return 0;
}

static int rx_payload(struct ws_conn *s, struct rx *rx, const uint8_t *data, size_t len)
{
    if (tk_ws_is_control(s->dec.frame.opcode)) {
        memcpy(s->ctl + s->ctl_len, data, len); /* the decoder caps it at 125 */
        s->ctl_len = (uint8_t)(s->ctl_len + len);
        return 0;
    }
    if (rx->echo && tk_buf_append(&s->out, data, len) < 0)
        return -ENOMEM;
    if (data != rx->buf + rx->out)
        memmove(rx->buf + rx->out, data, len);
    rx->out += len;
    return 0;
}

static int rx_end(struct ws_conn *s)
{
    s->echo_open = false;
    if (tk_ws_is_control(s->dec.frame.opcode))
        return on_control(s);
    return 0;
}

/* Decodes buf[0, n) in place: the payload of data frames is moved to the front of buf;
 * returns its length, or -EPROTO / -ENOMEM. Stops at a close frame. */
static ssize_t decode_into(const struct tk_transport *t, struct ws_conn *s, uint8_t *buf,
                           size_t n, struct tk_io *io)
{
    const struct ws_ctx *ctx = t->ctx;
    struct rx rx = {.buf = buf, .echo = ctx->echo && !s->outgoing};
    size_t at = 0;
    out_compact(s);
    while (!s->close_seen) {
        size_t used = 0, len = 0;
        uint8_t *data = NULL;
        enum tk_ws_event ev = tk_ws_decode(&s->dec, buf + at, n - at, &used, &data, &len);
        at += used;
        int rc = 0;
        switch (ev) {
        case TK_WS_EV_NEED_MORE:
            return (ssize_t)rx.out;
        case TK_WS_EV_ERROR:
            s->proto_error = true;
            return -EPROTO;
        case TK_WS_EV_FRAME:
            rc = rx_header(s, &rx, io);
            if (rc == 0 && len > 0)
                rc = rx_payload(s, &rx, data, len);
            if (rc == 0)
                rc = rx_end(s);
            break;
        case TK_WS_EV_HEADER:
            rc = rx_header(s, &rx, io);
            break;
        case TK_WS_EV_PAYLOAD:
            rc = rx_payload(s, &rx, data, len);
            break;
        case TK_WS_EV_END:
            rc = rx_end(s);
            break;
        }
        if (rc < 0)
            return rc;
    }
    return (ssize_t)rx.out;
}

static ssize_t ws_recv(const struct tk_transport *t, void *ts, int fd, uint8_t *buf, size_t cap,
                       struct tk_io *io)
{
    struct ws_conn *s = ts;
    const struct tk_transport *lo = t->lower;
    for (;;) {
        if (s->close_seen)
            return 0;
        if (s->proto_error)
            return -EPROTO;
        size_t n;
        if (s->left.len > s->left_off) {
            /* Frames that came with the handshake's last read. */
            n = s->left.len - s->left_off;
            if (n > cap)
                n = cap;
            memcpy(buf, s->left.data + s->left_off, n);
            s->left_off += n;
            if (s->left_off == s->left.len) {
                tk_buf_free(&s->left);
                s->left_off = 0;
            }
        } else {
            ssize_t r = lo->recv(lo, lower_ts(ts), fd, buf, cap, io);
            if (r <= 0)
                return r;
            n = (size_t)r;
        }
        ssize_t out = decode_into(t, s, buf, n, io);
        if (out == -EPROTO) {
            /* Fail the connection (RFC 6455 §7.1.7): one try at a close frame with status
             * 1002 (protocol error), when our stream is between frames. */
            static const uint8_t status_1002[2] = {0x03, 0xEA};
            if (!s->mid_frame && !s->echo_open &&
                queue_frame(s, TK_WS_FIN | TK_WS_OP_CLOSE, status_1002, 2) == 0)
                (void)out_write(t, s, fd, io);
            return out;
        }
        if (out < 0)
            return out;
        /* Pongs, close replies and echoes go out now if we are between frames of ours. */
        if (out_left(s) > 0 && !s->mid_frame) {
            int rc = out_write(t, s, fd, io);
            if (rc < 0 && rc != -EAGAIN)
                return rc;
        }
        if (out > 0)
            return out; /* a close after this data: the next call returns 0 */
        /* Only control frames or part of a frame: read on (the lower may hold more, as TLS
         * does), so that -EAGAIN means the socket is really empty. */
    }
}

/* The engine ends the connection: a close frame (status 1000, normal closure) when our
 * stream is between frames and no close was exchanged yet, written only as far as the socket
 * takes it now, then the lower's goodbye (TLS close_notify). */
static void ws_shutdown(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    struct ws_conn *s = ts;
    const struct tk_transport *lo = t->lower;
    static const uint8_t status_1000[2] = {0x03, 0xE8};
    if (!s->mid_frame && !s->echo_open && !s->close_seen && !s->proto_error &&
        queue_frame(s, TK_WS_FIN | TK_WS_OP_CLOSE, status_1000, 2) == 0)
        (void)out_write(t, s, fd, io);
    if (lo->shutdown)
        lo->shutdown(lo, lower_ts(ts), fd, io);
}

static void ws_destroy(struct tk_transport *t)
{
    free(t->ctx);
    free(t);
}

struct tk_transport *tk_transport_ws_new(const struct tk_config *cfg,
                                         const struct tk_transport *lower, int *exit_code,
                                         char *err, size_t errlen)
{
    struct tk_transport *t = calloc(1, sizeof(*t));
    struct ws_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!t || !ctx || !lower) {
        free(t);
        free(ctx);
        *exit_code = 70;
        snprintf(err, errlen, lower ? "Out of memory" : "WebSocket: no lower transport");
        return NULL;
    }
    ctx->headers = cfg->headers;
    ctx->nheaders = cfg->nheaders;
    ctx->echo = cfg->listen_mode == TK_LISTEN_ECHO;
    t->name = lower->name && strcmp(lower->name, "tcp") == 0 ? "ws" : "wss";
    t->lower = lower;
    t->ctx = ctx;
    t->conn_state_size = lower_off() + lower->conn_state_size;
    t->echoes = ctx->echo;
    t->conn_init = ws_conn_init;
    t->handshake = ws_handshake;
    t->fail_cause = ws_fail_cause;
    t->send = ws_send;
    t->recv = ws_recv;
    t->pending = ws_pending;
    t->flush = ws_flush;
    t->shutdown = ws_shutdown;
    t->conn_free = ws_conn_free;
    t->destroy = ws_destroy;
    return t;
}
