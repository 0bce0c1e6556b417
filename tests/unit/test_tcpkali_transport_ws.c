/* tcpkali WebSocket transport (transport_ws.c) over a socketpair with the plain transport
 * below it: client and server handshakes against each other and against a raw peer (the
 * request's bytes, a fresh key per connection, the 101's accept, frames that arrive with
 * the 101, a 404, a wrong accept, EOF, a bad request answered 400, a request written a
 * byte at a time); data frames both ways de-framed, counted in frames_in; ping answered by
 * pong (masked from the client), close by close; echo mode; our own frames held while the
 * send stream is in the middle of a frame and while the socket is full (pending, flush,
 * -EAGAIN from send); stacking over a lower transport with its own state and handshake
 * (named "wss", the lower's handshake first, its state kept apart, its failure cause). */

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tcpkali/transport.h"
#include "tcpkali/ws.h"

struct side {
    struct tk_transport *t;
    void *ts;
    int fd;
    struct tk_io io;
    int hs; /* last handshake result */
};

static const char *const test_headers[] = {"X-Test: 1"};

static struct tk_transport *ws_new(enum tk_listen_mode mode)
{
    struct tk_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.headers = (const char **)test_headers;
    cfg.nheaders = 1;
    cfg.listen_mode = mode;
    int code = 0;
    char err[128];
    struct tk_transport *t = tk_transport_ws_new(&cfg, &tk_transport_plain, &code, err,
                                                 sizeof(err));
    assert_non_null(t);
    assert_string_equal(t->name, "ws");
    assert_ptr_equal(t->lower, &tk_transport_plain);
    assert_true(t->conn_state_size > 0);
    assert_int_equal(t->echoes, mode == TK_LISTEN_ECHO);
    return t;
}

static struct tk_dest test_dest = {.text = "127.0.0.1:21005/chat?x=1", .path = "/chat?x=1"};

static void side_open(struct side *s, struct tk_transport *t, int fd, bool outgoing)
{
    memset(s, 0, sizeof(*s));
    s->t = t;
    s->fd = fd;
    s->ts = calloc(1, t->conn_state_size);
    assert_non_null(s->ts);
    assert_int_equal(t->conn_init(t, s->ts, outgoing, outgoing ? &test_dest : NULL), 0);
    s->hs = TK_HS_WANT_READ;
}

static void side_close(struct side *s)
{
    s->t->conn_free(s->t, s->ts);
    free(s->ts);
}

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

/* Waits (bounded) until fd is readable; false on timeout. */
static bool wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 2000) == 1;
}

/* Runs both handshakes until neither wants more (bounded). */
static void handshake_both(struct side *c, struct side *s)
{
    for (int i = 0; i < 100; i++) {
        if (c->hs > 0)
            c->hs = c->t->handshake(c->t, c->ts, c->fd, &c->io);
        if (s->hs > 0)
            s->hs = s->t->handshake(s->t, s->ts, s->fd, &s->io);
        if (c->hs <= 0 && s->hs <= 0)
            return;
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = s->fd, .events = POLLIN}};
        assert_true(poll(p, 2, 2000) > 0);
    }
    fail_msg("handshake did not finish");
}

/* Raw I/O on the peer's end. */
static void raw_write(int fd, const void *p, size_t n)
{
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* Reads what is there (waiting for the first byte). */
static size_t raw_read(int fd, uint8_t *buf, size_t cap)
{
    assert_true(wait_readable(fd));
    ssize_t r = read(fd, buf, cap);
    assert_true(r > 0);
    return (size_t)r;
}

/* Reads until the peer's head ends (CRLFCRLF); the head's length is returned and the
 * bytes are NUL-terminated in buf. */
static size_t raw_read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (!memmem(buf, n, "\r\n\r\n", 4)) {
        assert_true(n + 1 < cap);
        n += raw_read(fd, (uint8_t *)buf + n, cap - 1 - n);
    }
    buf[n] = '\0';
    return n;
}

/* Decodes exactly one whole frame from wire[0, n); returns its total length. */
static size_t decode_one(uint8_t *wire, size_t n, struct tk_ws_frame *f, uint8_t *payload)
{
    struct tk_ws_decoder d;
    tk_ws_decoder_init(&d);
    size_t at = 0, got = 0;
    for (;;) {
        size_t used, len;
        uint8_t *data;
        enum tk_ws_event ev = tk_ws_decode(&d, wire + at, n - at, &used, &data, &len);
        at += used;
        assert_int_not_equal(ev, TK_WS_EV_ERROR);
        assert_int_not_equal(ev, TK_WS_EV_NEED_MORE);
        if (ev == TK_WS_EV_PAYLOAD || ev == TK_WS_EV_FRAME) {
            memcpy(payload + got, data, len);
            got += len;
        }
        if (ev == TK_WS_EV_END || ev == TK_WS_EV_FRAME) {
            *f = d.frame;
            return at;
        }
    }
}

/* A receive that must give exactly want[0, n) (possibly over several calls). */
static void expect_recv(struct side *s, const char *want, size_t n)
{
    uint8_t buf[4096];
    size_t got = 0;
    while (got < n) {
        assert_true(wait_readable(s->fd));
        ssize_t r = s->t->recv(s->t, s->ts, s->fd, buf + got, sizeof(buf) - got, &s->io);
        if (r == -EAGAIN)
            continue;
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, n);
    assert_memory_equal(buf, want, n);
}

/* ---- Handshakes --------------------------------------------------------------------- */

static void test_handshake_both_sides_and_data(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_SILENT);
    int sv[2];
    pair(sv);
    struct side c, s;
    side_open(&c, t, sv[0], true);
    side_open(&s, t, sv[1], false);
    handshake_both(&c, &s);
    assert_int_equal(c.hs, TK_HS_DONE);
    assert_int_equal(s.hs, TK_HS_DONE);
    assert_true(c.io.wire_out > 150 && c.io.wire_out == s.io.wire_in);
    assert_int_equal(s.io.wire_out, 129); /* the 101 */
    assert_int_equal(c.io.wire_in, 129);

    /* Client to server: masked frames, the payload comes out. */
    struct tk_buf b = {0};
    static const uint8_t key[4] = {9, 8, 7, 6};
    assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)"hello", 5, key), 0);
    assert_int_equal(tk_ws_frame_append(&b, 0x82, (const uint8_t *)"world!", 6, key), 0);
    memset(&s.io, 0, sizeof(s.io));
    assert_int_equal(t->send(t, c.ts, c.fd, b.data, b.len, &c.io), (ssize_t)b.len);
    expect_recv(&s, "helloworld!", 11);
    assert_int_equal(s.io.frames_in, 2);
    assert_int_equal(s.io.wire_in, b.len);
    /* Server to client: unmasked. */
    b.len = 0;
    assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)"back", 4, NULL), 0);
    assert_int_equal(t->send(t, s.ts, s.fd, b.data, b.len, &s.io), (ssize_t)b.len);
    expect_recv(&c, "back", 4);
    assert_int_equal(t->pending(t, c.ts), 0);
    assert_int_equal(t->pending(t, s.ts), 0);
    tk_buf_free(&b);
    side_close(&c);
    side_close(&s);
    close(sv[0]);
    close(sv[1]);
    t->destroy(t);
}

/* The client against a raw server: the request's bytes, then a 101 and frames in one
 * write. */
static void test_client_request_and_leftover(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_SILENT);
    char keys[2][TK_WS_KEY_LEN + 1];
    for (int k = 0; k < 2; k++) {
        int sv[2];
        pair(sv);
        struct side c;
        side_open(&c, t, sv[0], true);
        assert_int_equal(t->handshake(t, c.ts, c.fd, &c.io), TK_HS_WANT_READ);
        char req[1024];
        size_t n = raw_read_head(sv[1], req, sizeof(req));
        /* The spec's bytes with this connection's key. */
        const char *kp = strstr(req, "Sec-WebSocket-Key: ");
        assert_non_null(kp);
        memcpy(keys[k], kp + 19, TK_WS_KEY_LEN);
        keys[k][TK_WS_KEY_LEN] = '\0';
        char want[1024];
        snprintf(want, sizeof(want),
                 "GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:21005\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                 "X-Test: 1\r\n\r\n",
                 keys[k]);
        assert_string_equal(req, want);
        assert_int_equal(c.io.wire_out, n);
        uint8_t nonce[20];
        assert_int_equal(tk_ws_base64_decode(keys[k], TK_WS_KEY_LEN, nonce, sizeof(nonce)), 16);

        /* The 101 and two frames in one segment: the frames are not lost. */
        struct tk_buf b = {0};
        assert_int_equal(tk_ws_response_build(&b, keys[k]), 0);
        assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)"first", 5, NULL), 0);
        assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)"second", 6, NULL), 0);
        raw_write(sv[1], b.data, b.len);
        assert_true(wait_readable(c.fd));
        assert_int_equal(t->handshake(t, c.ts, c.fd, &c.io), TK_HS_DONE);
        assert_int_equal(c.io.wire_in, b.len);
        /* Nothing more arrives on the socket: the first recv delivers the kept frames. */
        uint8_t buf[64];
        memset(&c.io, 0, sizeof(c.io));
        assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof(buf), &c.io), 11);
        assert_memory_equal(buf, "firstsecond", 11);
        assert_int_equal(c.io.frames_in, 2);
        assert_int_equal(c.io.wire_in, 0);
        assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof(buf), &c.io), -EAGAIN);
        /* Kept bytes handed out in pieces when the caller's buffer is small. */
        tk_buf_free(&b);
        side_close(&c);
        close(sv[0]);
        close(sv[1]);
    }
    assert_string_not_equal(keys[0], keys[1]); /* a fresh key per connection */
    t->destroy(t);
}

/* The client's refusals: status, accept, EOF; each counted by its cause with a text. */
static void client_refused(struct tk_transport *t, const char *resp, bool eof,
                           enum tk_hs_fail want, const char *text_part)
{
    int sv[2];
    pair(sv);
    struct side c;
    side_open(&c, t, sv[0], true);
    assert_int_equal(t->handshake(t, c.ts, c.fd, &c.io), TK_HS_WANT_READ);
    char req[1024];
    raw_read_head(sv[1], req, sizeof(req));
    if (resp)
        raw_write(sv[1], resp, strlen(resp));
    if (eof)
        shutdown(sv[1], SHUT_WR);
    int rc = TK_HS_WANT_READ;
    for (int i = 0; i < 10 && rc == TK_HS_WANT_READ; i++) {
        assert_true(wait_readable(c.fd));
        rc = t->handshake(t, c.ts, c.fd, &c.io);
    }
    assert_int_equal(rc, TK_HS_FAILED);
    char text[256];
    assert_int_equal(t->fail_cause(t, c.ts, text, sizeof(text)), want);
    assert_non_null(strstr(text, text_part));
    side_close(&c);
    close(sv[0]);
    close(sv[1]);
}

static void test_client_refusals(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_SILENT);
    client_refused(t, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false,
                   TK_HSF_WS_STATUS, "WebSocket upgrade refused: HTTP/1.1 404 Not Found");
    /* The accept of tcpkali's fixed key, not of this connection's key. */
    client_refused(t,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                   "Upgrade\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n",
                   false, TK_HSF_WS_ACCEPT, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    client_refused(t, "HTTP/1.1 101 Switching", true, TK_HSF_WS_EOF, "closed");
    client_refused(t, NULL, true, TK_HSF_WS_EOF, "closed");
    client_refused(t, "garbage\r\n\r\n", false, TK_HSF_WS_MALFORMED, "garbage");
    t->destroy(t);
}

/* The server: a bad request gets a 400 and fails as ws_request; a request written one byte
 * at a time is understood (tcpkali 1.1.1's bug 33). */
static void test_server_request_split_and_refused(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_SILENT);
    int sv[2];
    pair(sv);
    struct side s;
    side_open(&s, t, sv[1], false);
    static const char req[] =
        "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    int rc = 0;
    for (size_t i = 0; i < strlen(req); i++) {
        raw_write(sv[0], req + i, 1);
        rc = t->handshake(t, s.ts, s.fd, &s.io);
        assert_int_equal(rc, i + 1 < strlen(req) ? TK_HS_WANT_READ : TK_HS_DONE);
    }
    char resp[512];
    raw_read_head(sv[0], resp, sizeof(resp));
    assert_string_equal(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                              "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    side_close(&s);
    close(sv[0]);
    close(sv[1]);

    pair(sv);
    side_open(&s, t, sv[1], false);
    raw_write(sv[0], "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27);
    assert_int_equal(t->handshake(t, s.ts, s.fd, &s.io), TK_HS_FAILED);
    char text[256];
    assert_int_equal(t->fail_cause(t, s.ts, text, sizeof(text)), TK_HSF_WS_REQUEST);
    assert_non_null(strstr(text, "Upgrade"));
    raw_read_head(sv[0], resp, sizeof(resp));
    assert_non_null(strstr(resp, "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(resp, "Sec-WebSocket-Version: 13\r\n"));
    side_close(&s);
    close(sv[0]);
    close(sv[1]);
    t->destroy(t);
}

/* ---- Control frames ----------------------------------------------------------------- */

/* A client handshaken against a raw server; returns the client side, sv[1] is raw. */
static void client_with_raw_server(struct tk_transport *t, int sv[2], struct side *c)
{
    pair(sv);
    side_open(c, t, sv[0], true);
    assert_int_equal(t->handshake(t, c->ts, c->fd, &c->io), TK_HS_WANT_READ);
    char req[1024];
    raw_read_head(sv[1], req, sizeof(req));
    const char *kp = strstr(req, "Sec-WebSocket-Key: ");
    assert_non_null(kp);
    char key[TK_WS_KEY_LEN + 1];
    memcpy(key, kp + 19, TK_WS_KEY_LEN);
    key[TK_WS_KEY_LEN] = '\0';
    struct tk_buf b = {0};
    assert_int_equal(tk_ws_response_build(&b, key), 0);
    raw_write(sv[1], b.data, b.len);
    tk_buf_free(&b);
    assert_true(wait_readable(c->fd));
    assert_int_equal(t->handshake(t, c->ts, c->fd, &c->io), TK_HS_DONE);
}

/* A server handshaken against a raw client (request written raw). */
static void server_with_raw_client(struct tk_transport *t, int sv[2], struct side *s)
{
    pair(sv);
    side_open(s, t, sv[1], false);
    static const char req[] =
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    raw_write(sv[0], req, strlen(req));
    assert_int_equal(t->handshake(t, s->ts, s->fd, &s->io), TK_HS_DONE);
    char resp[512];
    raw_read_head(sv[0], resp, sizeof(resp));
}

static void test_ping_pong_close(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_SILENT);
    int sv[2];
    struct side c;
    client_with_raw_server(t, sv, &c);

    /* Ping "Hello" (RFC 6455 §5.7): the client answers with a masked pong "Hello". */
    static const uint8_t ping[] = {0x89, 0x05, 'H', 'e', 'l', 'l', 'o'};
    raw_write(sv[1], ping, sizeof(ping));
    assert_true(wait_readable(c.fd));
    uint8_t buf[256], payload[256];
    memset(&c.io, 0, sizeof(c.io));
    assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof(buf), &c.io), -EAGAIN);
    assert_int_equal(c.io.frames_in, 1);
    assert_int_equal(t->pending(t, c.ts), 0); /* written from recv */
    size_t n = raw_read(sv[1], buf, sizeof(buf));
    struct tk_ws_frame f;
    assert_int_equal(decode_one(buf, n, &f, payload), n);
    assert_int_equal(f.byte0, 0x8A);
    assert_true(f.masked);
    assert_int_equal(f.len, 5);
    assert_memory_equal(payload, "Hello", 5);
    assert_int_equal(c.io.wire_out, 11);

    /* Data, then close 1000 "bye" in one segment: the data first, then 0, and the close
     * reply (masked, status code echoed) is on the wire. */
    static const uint8_t close_and_data[] = {0x81, 0x02, 'o', 'k', 0x88, 0x05, 0x03, 0xE8,
                                             'b',  'y',  'e'};
    raw_write(sv[1], close_and_data, sizeof(close_and_data));
    assert_true(wait_readable(c.fd));
    assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof(buf), &c.io), 2);
    assert_memory_equal(buf, "ok", 2);
    assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof(buf), &c.io), 0);
    n = raw_read(sv[1], buf, sizeof(buf));
    assert_int_equal(decode_one(buf, n, &f, payload), n);
    assert_int_equal(f.byte0, 0x88);
    assert_true(f.masked);
    assert_int_equal(f.len, 2);
    assert_memory_equal(payload, "\x03\xE8", 2);
    side_close(&c);
    close(sv[0]);
    close(sv[1]);

    /* The server side: an unmasked pong; an empty close gets an empty close. */
    struct side s;
    server_with_raw_client(t, sv, &s);
    struct tk_buf b = {0};
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    assert_int_equal(tk_ws_frame_append(&b, 0x89, (const uint8_t *)"p", 1, key), 0);
    assert_int_equal(tk_ws_frame_append(&b, 0x88, NULL, 0, key), 0);
    raw_write(sv[0], b.data, b.len);
    assert_true(wait_readable(s.fd));
    assert_int_equal(t->recv(t, s.ts, s.fd, buf, sizeof(buf), &s.io), 0);
    n = raw_read(sv[0], buf, sizeof(buf));
    static const uint8_t want[] = {0x8A, 0x01, 'p', 0x88, 0x00};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    tk_buf_free(&b);
    side_close(&s);
    close(sv[0]);
    close(sv[1]);
    t->destroy(t);
}

static void test_protocol_error(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_SILENT);
    int sv[2];
    struct side c;
    client_with_raw_server(t, sv, &c);
    static const uint8_t bad[] = {0x83, 0x00};
    raw_write(sv[1], bad, sizeof(bad));
    assert_true(wait_readable(c.fd));
    uint8_t buf[64];
    assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof(buf), &c.io), -EPROTO);
    assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof(buf), &c.io), -EPROTO);
    /* The peer is told: a masked close with status 1002. */
    uint8_t payload[8];
    struct tk_ws_frame f;
    size_t n = raw_read(sv[1], buf, sizeof(buf));
    assert_int_equal(decode_one(buf, n, &f, payload), n);
    assert_int_equal(f.byte0, 0x88);
    assert_true(f.masked);
    assert_int_equal(f.len, 2);
    assert_memory_equal(payload, "\x03\xEA", 2);
    side_close(&c);
    close(sv[0]);
    close(sv[1]);
    t->destroy(t);
}

/* ---- Echo ----------------------------------------------------------------------------- */

static void test_echo_mode(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_ECHO);
    int sv[2];
    struct side s;
    server_with_raw_client(t, sv, &s);
    /* Masked frames from the client, one fragmented message with a ping in between. */
    struct tk_buf b = {0};
    static const uint8_t key[4] = {1, 2, 3, 4};
    assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)"abc", 3, key), 0);
    assert_int_equal(tk_ws_frame_append(&b, 0x02, (const uint8_t *)"de", 2, key), 0);
    assert_int_equal(tk_ws_frame_append(&b, 0x89, (const uint8_t *)"P", 1, key), 0);
    assert_int_equal(tk_ws_frame_append(&b, 0x80, (const uint8_t *)"f", 1, key), 0);
    /* Written in two parts cut inside the first frame's payload. */
    raw_write(sv[0], b.data, 8);
    expect_recv(&s, "ab", 2);
    raw_write(sv[0], b.data + 8, b.len - 8);
    expect_recv(&s, "cdef", 4);
    assert_int_equal(s.io.frames_in, 4);
    assert_int_equal(t->pending(t, s.ts), 0);
    static const uint8_t want[] = {0x81, 0x03, 'a', 'b', 'c', 0x02, 0x02, 'd', 'e',
                                   0x8A, 0x01, 'P', 0x80, 0x01, 'f'};
    uint8_t buf[64];
    size_t n = 0;
    while (n < sizeof(want))
        n += raw_read(sv[0], buf + n, sizeof(buf) - n);
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    tk_buf_free(&b);
    side_close(&s);
    close(sv[0]);
    close(sv[1]);
    t->destroy(t);
}

/* ---- Pending output and a full socket ---------------------------------------------- */

/* Reads everything the peer has and decodes it into frames; returns how many, the last
 * one in *last. */
static size_t drain_frames(int fd, struct tk_ws_decoder *d, uint8_t *last_byte0,
                           uint8_t *last_payload, uint64_t *last_len)
{
    static uint8_t buf[1 << 16];
    size_t frames = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0)
            break;
        size_t at = 0;
        for (;;) {
            size_t used, len;
            uint8_t *data;
            enum tk_ws_event ev = tk_ws_decode(d, buf + at, (size_t)r - at, &used, &data, &len);
            at += used;
            assert_int_not_equal(ev, TK_WS_EV_ERROR);
            if (ev == TK_WS_EV_NEED_MORE)
                break;
            if ((ev == TK_WS_EV_PAYLOAD || ev == TK_WS_EV_FRAME) && d->frame.len <= 16)
                memcpy(last_payload + d->frame.offset - len, data, len);
            if (ev == TK_WS_EV_END || ev == TK_WS_EV_FRAME) {
                frames++;
                *last_byte0 = d->frame.byte0;
                *last_len = d->frame.len;
            }
        }
    }
    return frames;
}

static void test_pending_with_full_socket(void **state)
{
    (void)state;
    struct tk_transport *t = ws_new(TK_LISTEN_SILENT);
    int sv[2];
    struct side s;
    server_with_raw_client(t, sv, &s);
    int small = 4096;
    assert_int_equal(setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);

    /* 1. In the middle of a frame: a big frame the socket cannot take at once. */
    struct tk_buf big = {0};
    uint8_t *payload = calloc(1, 200000);
    assert_non_null(payload);
    assert_int_equal(tk_ws_frame_append(&big, 0x82, payload, 200000, NULL), 0);
    ssize_t r = t->send(t, s.ts, s.fd, big.data, big.len, &s.io);
    assert_true(r > 0 && (size_t)r < big.len);
    size_t off = (size_t)r;
    /* A ping arrives: its pong must wait for the end of our frame. */
    struct tk_buf pb = {0};
    static const uint8_t key[4] = {5, 6, 7, 8};
    assert_int_equal(tk_ws_frame_append(&pb, 0x89, (const uint8_t *)"x1", 2, key), 0);
    raw_write(sv[0], pb.data, pb.len);
    uint8_t buf[64];
    assert_true(wait_readable(s.fd));
    assert_int_equal(t->recv(t, s.ts, s.fd, buf, sizeof(buf), &s.io), -EAGAIN);
    assert_int_equal(t->pending(t, s.ts), 4);
    assert_int_equal(t->flush(t, s.ts, s.fd, &s.io), 0); /* mid-frame: holds, no error */
    assert_int_equal(t->pending(t, s.ts), 4);
    /* The peer reads; the rest of the frame goes, then the pong right after it. */
    struct tk_ws_decoder d;
    tk_ws_decoder_init(&d);
    uint8_t lb0 = 0, lp[16];
    uint64_t ll = 0;
    size_t frames = 0;
    for (int i = 0; i < 100000 && off < big.len; i++) {
        frames += drain_frames(sv[0], &d, &lb0, lp, &ll);
        r = t->send(t, s.ts, s.fd, big.data + off, big.len - off, &s.io);
        assert_true(r > 0 || r == -EAGAIN);
        if (r > 0)
            off += (size_t)r;
    }
    assert_int_equal(off, big.len);
    for (int i = 0; i < 100 && t->pending(t, s.ts) > 0; i++) {
        frames += drain_frames(sv[0], &d, &lb0, lp, &ll);
        int rc = t->flush(t, s.ts, s.fd, &s.io);
        assert_true(rc == 0 || rc == -EAGAIN);
    }
    assert_int_equal(t->pending(t, s.ts), 0);
    for (int i = 0; i < 100 && frames < 2; i++) {
        wait_readable(sv[0]);
        frames += drain_frames(sv[0], &d, &lb0, lp, &ll);
    }
    assert_int_equal(frames, 2); /* the big frame whole, then the pong */
    assert_int_equal(lb0, 0x8A);
    assert_int_equal(ll, 2);
    assert_memory_equal(lp, "x1", 2);

    /* 2. At a frame boundary with the socket full: whole small frames until send refuses. */
    struct tk_buf one = {0};
    assert_int_equal(tk_ws_frame_append(&one, 0x82, (const uint8_t *)"z", 1, NULL), 0);
    size_t sent_frames = 0, got = 0;
    for (int i = 0; i < 1000000; i++) {
        r = t->send(t, s.ts, s.fd, one.data, one.len, &s.io);
        if (r == (ssize_t)one.len) {
            sent_frames++;
            continue;
        }
        if (r == -EAGAIN)
            break;
        /* Part of a frame: let the peer read some, then finish this frame. */
        assert_true(r > 0);
        size_t o = (size_t)r;
        while (o < one.len) {
            got += drain_frames(sv[0], &d, &lb0, lp, &ll);
            r = t->send(t, s.ts, s.fd, one.data + o, one.len - o, &s.io);
            if (r > 0)
                o += (size_t)r;
        }
        sent_frames++;
    }
    assert_int_equal(r, -EAGAIN);
    raw_write(sv[0], pb.data, pb.len);
    assert_true(wait_readable(s.fd));
    assert_int_equal(t->recv(t, s.ts, s.fd, buf, sizeof(buf), &s.io), -EAGAIN);
    assert_int_equal(t->pending(t, s.ts), 4);
    /* Our pong must go first: send refuses, flush says the socket is full. */
    assert_int_equal(t->send(t, s.ts, s.fd, one.data, one.len, &s.io), -EAGAIN);
    assert_int_equal(t->flush(t, s.ts, s.fd, &s.io), -EAGAIN);
    for (int i = 0; i < 1000 && t->pending(t, s.ts) > 0; i++) {
        got += drain_frames(sv[0], &d, &lb0, lp, &ll);
        int rc = t->flush(t, s.ts, s.fd, &s.io);
        assert_true(rc == 0 || rc == -EAGAIN);
    }
    assert_int_equal(t->pending(t, s.ts), 0);
    for (int i = 0; i < 100 && got < sent_frames + 1; i++) {
        wait_readable(sv[0]);
        got += drain_frames(sv[0], &d, &lb0, lp, &ll);
    }
    assert_int_equal(got, sent_frames + 1); /* every small frame, then the pong */
    assert_int_equal(lb0, 0x8A);
    assert_memory_equal(lp, "x1", 2);

    free(payload);
    tk_buf_free(&big);
    tk_buf_free(&pb);
    tk_buf_free(&one);
    side_close(&s);
    close(sv[0]);
    close(sv[1]);
    t->destroy(t);
}

/* ---- Stacking over a lower transport with a handshake and state -------------------- */

/* A stand-in for TLS: 16 bytes of state it fills with a pattern, a handshake that takes two
 * steps (or fails), plain I/O. */
struct fake_lower_state {
    uint8_t pattern[15];
    uint8_t steps;
};
static int fake_frees, fake_fail;

static int fake_init(const struct tk_transport *t, void *ts, bool outgoing,
                     const struct tk_dest *dest)
{
    (void)t;
    (void)outgoing;
    (void)dest;
    struct fake_lower_state *f = ts;
    memset(f->pattern, 0xAB, sizeof(f->pattern));
    return 0;
}

static int fake_handshake(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    (void)t;
    (void)fd;
    (void)io;
    struct fake_lower_state *f = ts;
    if (fake_fail)
        return TK_HS_FAILED;
    return ++f->steps < 2 ? TK_HS_WANT_WRITE : TK_HS_DONE;
}

static enum tk_hs_fail fake_cause(const struct tk_transport *t, void *ts, char *text, size_t len)
{
    (void)t;
    (void)ts;
    snprintf(text, len, "TLS handshake failed: test");
    return TK_HSF_TLS_PROTOCOL;
}

static ssize_t fake_send(const struct tk_transport *t, void *ts, int fd, const uint8_t *p,
                         size_t n, struct tk_io *io)
{
    (void)t;
    const struct fake_lower_state *f = ts;
    assert_int_equal(f->steps, 2); /* nothing goes before the lower's handshake is done */
    return tk_transport_plain.send(&tk_transport_plain, NULL, fd, p, n, io);
}

static ssize_t fake_recv(const struct tk_transport *t, void *ts, int fd, uint8_t *buf,
                         size_t cap, struct tk_io *io)
{
    (void)t;
    (void)ts;
    return tk_transport_plain.recv(&tk_transport_plain, NULL, fd, buf, cap, io);
}

static void fake_free(const struct tk_transport *t, void *ts)
{
    (void)t;
    const struct fake_lower_state *f = ts;
    for (size_t i = 0; i < sizeof(f->pattern); i++)
        assert_int_equal(f->pattern[i], 0xAB); /* the upper layer kept off our state */
    fake_frees++;
}

static const struct tk_transport fake_lower = {
    .name = "tls",
    .conn_state_size = sizeof(struct fake_lower_state),
    .conn_init = fake_init,
    .handshake = fake_handshake,
    .fail_cause = fake_cause,
    .send = fake_send,
    .recv = fake_recv,
    .conn_free = fake_free,
};

static void test_stacked_over_lower(void **state)
{
    (void)state;
    struct tk_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    int code = 0;
    char err[128];
    struct tk_transport *t = tk_transport_ws_new(&cfg, &fake_lower, &code, err, sizeof(err));
    assert_non_null(t);
    assert_string_equal(t->name, "wss");
    assert_true(t->conn_state_size >= sizeof(struct fake_lower_state) + 64);

    int sv[2];
    pair(sv);
    struct side c, s;
    fake_frees = fake_fail = 0;
    side_open(&c, t, sv[0], true);
    side_open(&s, t, sv[1], false);
    /* The lower's handshake goes first, one step per call. */
    assert_int_equal(t->handshake(t, c.ts, c.fd, &c.io), TK_HS_WANT_WRITE);
    assert_int_equal(t->handshake(t, s.ts, s.fd, &s.io), TK_HS_WANT_WRITE);
    handshake_both(&c, &s);
    assert_int_equal(c.hs, TK_HS_DONE);
    assert_int_equal(s.hs, TK_HS_DONE);
    struct tk_buf b = {0};
    static const uint8_t key[4] = {1, 1, 1, 1};
    assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)"wss", 3, key), 0);
    assert_int_equal(t->send(t, c.ts, c.fd, b.data, b.len, &c.io), (ssize_t)b.len);
    expect_recv(&s, "wss", 3);
    tk_buf_free(&b);
    side_close(&c);
    side_close(&s);
    assert_int_equal(fake_frees, 2);
    close(sv[0]);
    close(sv[1]);

    /* A failed lower handshake reports the lower's cause. */
    pair(sv);
    fake_fail = 1;
    side_open(&c, t, sv[0], true);
    assert_int_equal(t->handshake(t, c.ts, c.fd, &c.io), TK_HS_FAILED);
    char text[128];
    assert_int_equal(t->fail_cause(t, c.ts, text, sizeof(text)), TK_HSF_TLS_PROTOCOL);
    assert_string_equal(text, "TLS handshake failed: test");
    side_close(&c);
    close(sv[0]);
    close(sv[1]);
    t->destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_both_sides_and_data),
        cmocka_unit_test(test_client_request_and_leftover),
        cmocka_unit_test(test_client_refusals),
        cmocka_unit_test(test_server_request_split_and_refused),
        cmocka_unit_test(test_ping_pong_close),
        cmocka_unit_test(test_protocol_error),
        cmocka_unit_test(test_echo_mode),
        cmocka_unit_test(test_pending_with_full_socket),
        cmocka_unit_test(test_stacked_over_lower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
