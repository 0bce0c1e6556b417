/* tcpkali's TLS transport (transport_tls.c) over real loopback TCP pairs, both ends
 * non-blocking: handshakes driven to DONE, data both ways, a 1 MiB transfer through a small
 * send buffer (stalled records kept pending and flushed), exact wire byte counts (what one
 * side wrote is what the other read), close_notify (sent by shutdown, or by an OpenSSL peer)
 * and plain EOF as recv 0, TLS 1.2 with an
 * independent OpenSSL peer, SNI only for host names, handshake failures by cause (garbage
 * from a plain TCP peer, a peer closing or resetting mid-handshake), and certificate
 * loading errors (exit 66, the file named); and the stacks tk_transport_new builds (plain,
 * TLS, ws, wss), their framing, and freeing a whole stack.
 *
 * The certificate and key are a test-only pair embedded here (EC P-256, CN=localhost,
 * generated once with `openssl req -x509 -newkey ec`), written to a temporary directory. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tcpkali/transport.h"

static const char test_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgDCCASWgAwIBAgIURfODx8JLoOjVgaszIO5CtoQmpvIwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzA5MzMzNFoYDzIxMjYxMDMw\n"
    "MDkzMzM0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAATjIDd8xvQjWbtG5iD2zO2u/MvOhdi0MeLhWFUqOFJrutTkTtf1Y/gM\n"
    "Zhh4+CFVs0XI4JtgEyZB1JOWkVzVu2CLo1MwUTAdBgNVHQ4EFgQU9pTvEURkdPnF\n"
    "M615+1nTJiEruvwwHwYDVR0jBBgwFoAU9pTvEURkdPnFM615+1nTJiEruvwwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAl1Ici0sl0SfhOl9+1pxd\n"
    "5JGx5NwF5lMGZUIrZghf1YACIQDCH9Cl1dKrRG7R6P9il1dTTXn1QMwAMaQv+Qs3\n"
    "IMkwLQ==\n"
    "-----END CERTIFICATE-----\n";

static const char test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbphrVWGi4fuEM1tO\n"
    "PAZl/KtQIuLw04fN2MBHP0tuf+ihRANCAATjIDd8xvQjWbtG5iD2zO2u/MvOhdi0\n"
    "MeLhWFUqOFJrutTkTtf1Y/gMZhh4+CFVs0XI4JtgEyZB1JOWkVzVu2CL\n"
    "-----END PRIVATE KEY-----\n";

static char g_dir[64];
static char g_cert[128], g_key[128], g_junk[128], g_other_key[128], g_ed_key[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/tk_tls_test_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_cert, sizeof g_cert, "%s/cert.pem", g_dir);
    snprintf(g_key, sizeof g_key, "%s/key.pem", g_dir);
    snprintf(g_junk, sizeof g_junk, "%s/junk.pem", g_dir);
    write_file(g_cert, test_cert_pem);
    write_file(g_key, test_key_pem);
    write_file(g_junk, "this is not a certificate\n");
    /* A valid key that is not the certificate's. */
    snprintf(g_other_key, sizeof g_other_key, "%s/other_key.pem", g_dir);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    FILE *f = fopen(g_other_key, "w");
    if (!k || !f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
        return -1;
    fclose(f);
    EVP_PKEY_free(k);
    /* A key of another type: OpenSSL takes it and drops the certificate instead. */
    snprintf(g_ed_key, sizeof g_ed_key, "%s/ed_key.pem", g_dir);
    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    f = fopen(g_ed_key, "w");
    if (!k || !f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
        return -1;
    fclose(f);
    EVP_PKEY_free(k);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(g_cert);
    unlink(g_key);
    unlink(g_junk);
    unlink(g_other_key);
    unlink(g_ed_key);
    rmdir(g_dir);
    return 0;
}

/* ---- plumbing ------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* A connected loopback TCP pair, both non-blocking. sndbuf/rcvbuf > 0 shrink the client's
 * send and the server's receive buffer. */
static void tcp_pair(int *cfd, int *sfd, int sndbuf, int rcvbuf)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    if (rcvbuf > 0)
        assert_int_equal(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    *cfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*cfd >= 0);
    if (sndbuf > 0)
        assert_int_equal(setsockopt(*cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    assert_int_equal(connect(*cfd, (struct sockaddr *)&a, sizeof a), 0);
    *sfd = accept(l, NULL, NULL);
    assert_true(*sfd >= 0);
    close(l);
    set_nonblock(*cfd);
    set_nonblock(*sfd);
}

/* Waits until fd has one of events or the deadline passes. */
static void wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    uint64_t now = now_ms();
    if (now >= deadline)
        fail_msg("timed out waiting on fd %d", fd);
    (void)poll(&p, 1, (int)(deadline - now));
}

static struct tk_dest g_dest;
static struct tk_config g_cfg;

/* A TLS transport that can both connect (to dest_text) and accept. */
static struct tk_transport *tls_both(const char *dest_text)
{
    int code = 0;
    char err[512] = "";
    memset(&g_dest, 0, sizeof g_dest);
    snprintf(g_dest.text, sizeof g_dest.text, "%s", dest_text);
    g_dest.path = "/";
    memset(&g_cfg, 0, sizeof g_cfg);
    g_cfg.ssl = true;
    g_cfg.listen = true;
    g_cfg.dests = &g_dest;
    g_cfg.ndests = 1;
    g_cfg.ssl_cert = g_cert;
    g_cfg.ssl_key = g_key;
    struct tk_transport *t = tk_transport_tls_new(&g_cfg, &code, err, sizeof err);
    if (!t)
        fail_msg("tk_transport_tls_new: %s (exit %d)", err, code);
    assert_string_equal(t->name, "tls");
    assert_null(t->lower);
    return t;
}

/* Frees a lone TLS layer with its own destroy, as tk_transport_free does for each layer
 * (test_transport_stacks covers tk_transport_free). */
static void tls_free(struct tk_transport *t)
{
    assert_non_null(t->destroy);
    t->destroy(t);
}

/* One end of a connection as the engine holds it. */
struct end {
    const struct tk_transport *t;
    void *ts;
    int fd;
    struct tk_io io; /* totals over every call */
    int hs;          /* the last handshake result */
};

static void end_init(struct end *e, const struct tk_transport *t, int fd, bool outgoing)
{
    memset(e, 0, sizeof *e);
    e->t = t;
    e->fd = fd;
    e->hs = TK_HS_WANT_READ;
    e->ts = calloc(1, t->conn_state_size);
    assert_non_null(e->ts);
    assert_int_equal(t->conn_init(t, e->ts, outgoing, outgoing ? &g_dest : NULL), 0);
}

static void end_free(struct end *e)
{
    e->t->conn_free(e->t, e->ts);
    free(e->ts);
    if (e->fd >= 0)
        close(e->fd);
}

static int end_handshake(struct end *e)
{
    e->hs = e->t->handshake(e->t, e->ts, e->fd, &e->io);
    return e->hs;
}

static short want_events(int hs)
{
    return hs == TK_HS_WANT_WRITE ? POLLOUT : POLLIN;
}

/* Drives both handshakes to DONE within 5 s. */
static void handshake_both(struct end *c, struct end *s)
{
    uint64_t deadline = now_ms() + 5000;
    for (;;) {
        if (c->hs != TK_HS_DONE && end_handshake(c) < 0)
            fail_msg("client handshake: %d", c->hs);
        if (s->hs != TK_HS_DONE && end_handshake(s) < 0)
            fail_msg("server handshake: %d", s->hs);
        if (c->hs == TK_HS_DONE && s->hs == TK_HS_DONE)
            return;
        struct pollfd p[2] = {{.fd = c->fd, .events = want_events(c->hs)},
                              {.fd = s->fd, .events = want_events(s->hs)}};
        if (now_ms() >= deadline)
            fail_msg("handshakes not done in 5 s");
        (void)poll(p, 2, 100);
    }
}

/* Receives exactly n bytes on e within 5 s and checks them against want. */
static void recv_exactly(struct end *e, const void *want, size_t n)
{
    uint8_t buf[65536];
    size_t got = 0;
    uint64_t deadline = now_ms() + 5000;
    while (got < n) {
        ssize_t r = e->t->recv(e->t, e->ts, e->fd, buf, sizeof buf, &e->io);
        if (r == -EAGAIN) {
            wait_fd(e->fd, POLLIN, deadline);
            continue;
        }
        if (r <= 0)
            fail_msg("recv: %zd after %zu of %zu bytes", r, got, n);
        assert_true(got + (size_t)r <= n);
        assert_memory_equal(buf, (const uint8_t *)want + got, (size_t)r);
        got += (size_t)r;
    }
}

static void send_all(struct end *e, const void *p, size_t n)
{
    size_t done = 0;
    uint64_t deadline = now_ms() + 5000;
    while (done < n) {
        ssize_t r = e->t->send(e->t, e->ts, e->fd, (const uint8_t *)p + done, n - done, &e->io);
        if (r == -EAGAIN) {
            wait_fd(e->fd, POLLOUT, deadline);
            continue;
        }
        if (r <= 0)
            fail_msg("send: %zd", r);
        done += (size_t)r;
    }
    while (e->t->pending(e->t, e->ts) > 0) {
        int rc = e->t->flush(e->t, e->ts, e->fd, &e->io);
        if (rc == -EAGAIN)
            wait_fd(e->fd, POLLOUT, deadline);
        else
            assert_int_equal(rc, 0);
    }
}

/* Waits for recv to return 0 (an orderly close) within 5 s. */
static void expect_close(struct end *e)
{
    uint8_t buf[1024];
    uint64_t deadline = now_ms() + 5000;
    for (;;) {
        ssize_t r = e->t->recv(e->t, e->ts, e->fd, buf, sizeof buf, &e->io);
        if (r == 0)
            return;
        if (r != -EAGAIN)
            fail_msg("recv gave %zd, want 0 (orderly close)", r);
        wait_fd(e->fd, POLLIN, deadline);
    }
}

/* ---- handshake and data ----------------------------------------------------------------- */

static void test_handshake_and_data_both_ways(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end c, s;
    end_init(&c, t, cfd, true);
    end_init(&s, t, sfd, false);

    handshake_both(&c, &s);
    /* The handshake crossed the socket, and was counted on both sides. */
    assert_true(c.io.wire_out > 100 && c.io.wire_in > 100);
    assert_true(s.io.wire_out > 100 && s.io.wire_in > 100);
    assert_true(c.io.writes > 0 && c.io.reads > 0);
    assert_null(t->pending(t, c.ts) ? "pending" : NULL);

    static const char ping[] = "hello over TLS";
    static const char pong[] = "and back again, a little longer";
    uint64_t c_out0 = c.io.wire_out;
    send_all(&c, ping, sizeof ping);
    /* A record carries overhead: more wire bytes than application bytes. */
    assert_true(c.io.wire_out - c_out0 > sizeof ping);
    recv_exactly(&s, ping, sizeof ping);
    send_all(&s, pong, sizeof pong);
    recv_exactly(&c, pong, sizeof pong);

    /* Nothing more to read: -EAGAIN, not 0. */
    uint8_t buf[64];
    assert_int_equal(t->recv(t, c.ts, c.fd, buf, sizeof buf, &c.io), -EAGAIN);

    /* Every byte one side wrote, the other side read, and was counted there. */
    assert_true(c.io.wire_out == s.io.wire_in);
    assert_true(s.io.wire_out == c.io.wire_in);

    end_free(&c);
    end_free(&s);
    tls_free(t);
}

/* The engine closing a connection: shutdown sends close_notify, which the peer's recv sees
 * as an orderly close (0) and answers with its own; before the handshake it sends nothing. */
static void test_shutdown_sends_close_notify(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    assert_non_null(t->shutdown);
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end c, s;
    end_init(&c, t, cfd, true);
    end_init(&s, t, sfd, false);

    t->shutdown(t, c.ts, c.fd, &c.io); /* not past the handshake: nothing */
    assert_int_equal(c.io.wire_out, 0);

    handshake_both(&c, &s);
    send_all(&s, "last words", 10);
    uint64_t out0 = c.io.wire_out;
    t->shutdown(t, c.ts, c.fd, &c.io);
    assert_true(c.io.wire_out > out0); /* the alert record */
    t->shutdown(t, c.ts, c.fd, &c.io); /* once only */
    uint64_t out1 = c.io.wire_out;
    expect_close(&s);
    /* The client still reads what came before the server's close_notify, then 0. */
    recv_exactly(&c, "last words", 10);
    expect_close(&c);
    assert_true(c.io.wire_out == out1);
    assert_true(c.io.wire_out == s.io.wire_in);
    assert_true(s.io.wire_out == c.io.wire_in);

    end_free(&c);
    end_free(&s);
    tls_free(t);
}

/* 1 MiB through a 4 KiB send buffer and a small receive buffer: SSL_write stalls in the
 * middle of records, the transport keeps them pending and flushes them, the stream arrives
 * intact, and the wire counts agree exactly. */
static void test_bulk_small_sndbuf(void **state)
{
    (void)state;
    enum { TOTAL = 1 << 20 };
    uint8_t *data = malloc(TOTAL);
    uint8_t *rbuf = malloc(65536);
    assert_non_null(data);
    assert_non_null(rbuf);
    for (size_t i = 0; i < TOTAL; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 9));

    struct tk_transport *t = tls_both("127.0.0.1:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 4096, 8192);
    struct end c, s;
    end_init(&c, t, cfd, true);
    end_init(&s, t, sfd, false);
    handshake_both(&c, &s);

    size_t sent = 0, got = 0;
    bool saw_pending = false;
    uint64_t deadline = now_ms() + 10000;

    /* The server does not read yet: the client's socket fills in the middle of a record,
     * whose bytes the transport took and now holds. */
    while (t->pending(t, c.ts) == 0) {
        ssize_t r = t->send(t, c.ts, c.fd, data + sent, 65536, &c.io);
        if (r == -EAGAIN || now_ms() >= deadline)
            fail_msg("send gave %zd with nothing pending after %zu bytes", r, sent);
        assert_true(r > 0);
        sent += (size_t)r;
    }
    size_t held = t->pending(t, c.ts);
    assert_true(held > 0 && held <= 16384);
    /* While it is held and the socket is full, send takes nothing and flush cannot finish. */
    assert_int_equal(t->send(t, c.ts, c.fd, data + sent, 100, &c.io), -EAGAIN);
    assert_int_equal(t->flush(t, c.ts, c.fd, &c.io), -EAGAIN);
    assert_int_equal(t->pending(t, c.ts), held);

    while (got < TOTAL) {
        bool progress = false;
        if (t->pending(t, c.ts) > 0) {
            saw_pending = true;
            int rc = t->flush(t, c.ts, c.fd, &c.io);
            assert_true(rc == 0 || rc == -EAGAIN);
            progress |= rc == 0;
        } else if (sent < TOTAL) {
            size_t n = TOTAL - sent < 65536 ? TOTAL - sent : 65536;
            ssize_t r = t->send(t, c.ts, c.fd, data + sent, n, &c.io);
            if (r > 0)
                sent += (size_t)r, progress = true;
            else
                assert_int_equal(r, -EAGAIN);
        }
        ssize_t r = t->recv(t, s.ts, s.fd, rbuf, 65536, &s.io);
        if (r > 0) {
            assert_true(got + (size_t)r <= sent);
            assert_memory_equal(rbuf, data + got, (size_t)r);
            got += (size_t)r;
            progress = true;
        } else {
            assert_int_equal(r, -EAGAIN);
        }
        if (!progress) {
            struct pollfd p[2] = {{.fd = c.fd, .events = POLLOUT}, {.fd = s.fd, .events = POLLIN}};
            if (now_ms() >= deadline)
                fail_msg("1 MiB not through in 10 s: sent %zu, got %zu", sent, got);
            (void)poll(p, 2, 50);
        }
    }
    assert_int_equal(sent, TOTAL);
    assert_int_equal(t->pending(t, c.ts), 0);
    assert_true(saw_pending);
    assert_true(c.io.wire_out >= TOTAL);
    assert_true(s.io.wire_in == c.io.wire_out);
    assert_true(s.io.reads > 1 && c.io.writes > 1);

    end_free(&c);
    end_free(&s);
    tls_free(t);
    free(data);
    free(rbuf);
}

/* ---- an independent OpenSSL peer -------------------------------------------------------- */

/* A raw OpenSSL connection on fd, driven by the test itself. */
static SSL *raw_new(bool server, int max_version, SSL_CTX **ctx_out, int fd)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    assert_non_null(ctx);
    if (max_version)
        assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    if (server) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, g_cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, g_key, SSL_FILETYPE_PEM), 1);
    }
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    assert_int_equal(SSL_set_fd(ssl, fd), 1);
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    *ctx_out = ctx;
    return ssl;
}

/* Drives our end's handshake and the raw peer's together to completion. */
static void handshake_with_raw(struct end *e, SSL *raw, int raw_fd)
{
    uint64_t deadline = now_ms() + 5000;
    bool raw_done = false;
    for (;;) {
        if (e->hs != TK_HS_DONE && end_handshake(e) < 0)
            fail_msg("our handshake: %d", e->hs);
        short raw_ev = POLLIN;
        if (!raw_done) {
            int r = SSL_do_handshake(raw);
            if (r == 1)
                raw_done = true;
            else if (SSL_get_error(raw, r) == SSL_ERROR_WANT_WRITE)
                raw_ev = POLLOUT;
            else if (SSL_get_error(raw, r) != SSL_ERROR_WANT_READ)
                fail_msg("peer handshake failed");
        }
        if (raw_done && e->hs == TK_HS_DONE)
            return;
        struct pollfd p[2] = {{.fd = e->fd, .events = want_events(e->hs)},
                              {.fd = raw_fd, .events = raw_ev}};
        if (now_ms() >= deadline)
            fail_msg("handshake with the OpenSSL peer not done in 5 s");
        (void)poll(p, 2, 100);
    }
}

/* A TLS 1.2-only OpenSSL client against our listener: the handshake completes at 1.2, data
 * goes both ways, and the peer's close_notify is recv 0 and answered with ours. */
static void test_tls12_peer_and_close_notify(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    SSL_CTX *rctx;
    SSL *raw = raw_new(false, TLS1_2_VERSION, &rctx, cfd);
    struct end s;
    end_init(&s, t, sfd, false);
    handshake_with_raw(&s, raw, cfd);
    assert_int_equal(SSL_version(raw), TLS1_2_VERSION);

    assert_int_equal(SSL_write(raw, "from peer", 9), 9);
    recv_exactly(&s, "from peer", 9);
    send_all(&s, "to peer", 7);
    char buf[32];
    int r;
    uint64_t deadline = now_ms() + 5000;
    while ((r = SSL_read(raw, buf, sizeof buf)) <= 0) {
        assert_int_equal(SSL_get_error(raw, r), SSL_ERROR_WANT_READ);
        wait_fd(cfd, POLLIN, deadline);
    }
    assert_int_equal(r, 7);
    assert_memory_equal(buf, "to peer", 7);

    assert_true(SSL_shutdown(raw) >= 0); /* sends close_notify */
    expect_close(&s);
    /* Our close_notify came back. */
    while ((r = SSL_read(raw, buf, sizeof buf)) <= 0 &&
           SSL_get_error(raw, r) == SSL_ERROR_WANT_READ)
        wait_fd(cfd, POLLIN, deadline);
    assert_int_equal(SSL_get_error(raw, r), SSL_ERROR_ZERO_RETURN);
    assert_true(SSL_get_shutdown(raw) & SSL_RECEIVED_SHUTDOWN);

    SSL_free(raw);
    SSL_CTX_free(rctx);
    close(cfd);
    end_free(&s);
    tls_free(t);
}

/* Our client against an OpenSSL server (TLS 1.3): a plain EOF after the handshake, without
 * close_notify, is an orderly close too (tcpkali's peers often just close). */
static void test_plain_eof_is_close(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    SSL_CTX *rctx;
    SSL *raw = raw_new(true, 0, &rctx, sfd);
    struct end c;
    end_init(&c, t, cfd, true);
    handshake_with_raw(&c, raw, sfd);
    assert_int_equal(SSL_version(raw), TLS1_3_VERSION);
    assert_int_equal(SSL_write(raw, "data", 4), 4);
    recv_exactly(&c, "data", 4);
    assert_int_equal(shutdown(sfd, SHUT_WR), 0);
    expect_close(&c);
    SSL_free(raw);
    SSL_CTX_free(rctx);
    close(sfd);
    end_free(&c);
    tls_free(t);
}

/* Sending to a peer that reset the connection is an error return, never SIGPIPE (which
 * would end this program: its disposition is the default here). */
static void test_send_after_reset_is_errno(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end c, s;
    end_init(&c, t, cfd, true);
    end_init(&s, t, sfd, false);
    handshake_both(&c, &s);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(sfd);
    s.fd = -1;

    static const uint8_t chunk[4096];
    ssize_t r = 0;
    uint64_t deadline = now_ms() + 5000;
    while (now_ms() < deadline) {
        r = t->send(t, c.ts, c.fd, chunk, sizeof chunk, &c.io);
        if (r < 0 && r != -EAGAIN)
            break;
        if (r == -EAGAIN)
            wait_fd(c.fd, POLLOUT, deadline);
    }
    if (r != -ECONNRESET && r != -EPIPE)
        fail_msg("send after a reset gave %zd, want -ECONNRESET or -EPIPE", r);
    end_free(&c);
    end_free(&s);
    tls_free(t);
}

/* ---- SNI ---------------------------------------------------------------------------------- */

/* The ClientHello our client sends for dest_text, as raw bytes. */
static size_t client_hello(const char *dest_text, uint8_t *buf, size_t cap)
{
    struct tk_transport *t = tls_both(dest_text);
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end c;
    end_init(&c, t, cfd, true);
    assert_int_equal(end_handshake(&c), TK_HS_WANT_READ);
    size_t n = 0;
    uint64_t deadline = now_ms() + 5000;
    while (n < (size_t)c.io.wire_out) {
        ssize_t r = recv(sfd, buf + n, cap - n, 0);
        if (r > 0)
            n += (size_t)r;
        else
            wait_fd(sfd, POLLIN, deadline);
    }
    assert_int_equal(n, c.io.wire_out);
    assert_int_equal(buf[0], 22); /* a handshake record */
    end_free(&c);
    close(sfd);
    tls_free(t);
    return n;
}

static void test_sni_only_for_names(void **state)
{
    (void)state;
    uint8_t hello[4096];
    size_t n = client_hello("localhost:4433", hello, sizeof hello);
    assert_non_null(memmem(hello, n, "localhost", 9));
    n = client_hello("localhost:4433/chat?room=1", hello, sizeof hello);
    assert_non_null(memmem(hello, n, "localhost", 9));
    assert_null(memmem(hello, n, "chat", 4));
    n = client_hello("127.0.0.1:4433", hello, sizeof hello);
    assert_null(memmem(hello, n, "127.0.0.1", 9));
    n = client_hello("[::1]:4433", hello, sizeof hello);
    assert_null(memmem(hello, n, "::1", 3));
}

/* ---- handshake failures ----------------------------------------------------------------- */

/* Drives e's handshake until it stops asking to wait; returns the result. */
static int handshake_until_result(struct end *e)
{
    uint64_t deadline = now_ms() + 5000;
    while (end_handshake(e) > 0)
        wait_fd(e->fd, want_events(e->hs), deadline);
    return e->hs;
}

static void assert_failure(struct end *e, enum tk_hs_fail want, const char *text_part)
{
    char text[256] = "";
    assert_int_equal(e->hs, TK_HS_FAILED);
    assert_int_equal(e->t->fail_cause(e->t, e->ts, text, sizeof text), want);
    if (strncmp(text, "TLS handshake failed: ", 22) != 0 || !strstr(text, text_part))
        fail_msg("failure text \"%s\", want it to contain \"%s\"", text, text_part);
}

/* Reads what is there (the ClientHello) from a raw fd. */
static void drain(int fd)
{
    uint8_t buf[4096];
    uint64_t deadline = now_ms() + 5000;
    wait_fd(fd, POLLIN, deadline);
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

static void test_server_against_plain_text(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end s;
    end_init(&s, t, sfd, false);
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_int_equal(send(cfd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    assert_int_equal(handshake_until_result(&s), TK_HS_FAILED);
    assert_failure(&s, TK_HSF_TLS_PROTOCOL, "");
    assert_true(s.io.wire_in > 0);
    close(cfd);
    end_free(&s);
    tls_free(t);
}

static void test_client_against_plain_tcp_server(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end c;
    end_init(&c, t, cfd, true);
    assert_int_equal(end_handshake(&c), TK_HS_WANT_READ);
    drain(sfd);
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(send(sfd, resp, sizeof resp - 1, 0), (ssize_t)(sizeof resp - 1));
    assert_int_equal(handshake_until_result(&c), TK_HS_FAILED);
    assert_failure(&c, TK_HSF_TLS_PROTOCOL, "wrong version number");
    close(sfd);
    end_free(&c);
    tls_free(t);
}

static void test_client_peer_closes_mid_handshake(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end c;
    end_init(&c, t, cfd, true);
    assert_int_equal(end_handshake(&c), TK_HS_WANT_READ);
    drain(sfd);
    close(sfd); /* a FIN: everything sent was read */
    assert_int_equal(handshake_until_result(&c), TK_HS_FAILED);
    assert_failure(&c, TK_HSF_TLS_EOF, "closed");
    end_free(&c);
    tls_free(t);
}

static void test_server_peer_closes_mid_handshake(void **state)
{
    (void)state;
    uint8_t hello[4096];
    size_t n = client_hello("localhost:4433", hello, sizeof hello);
    assert_true(n > 40);

    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end s;
    end_init(&s, t, sfd, false);
    assert_int_equal(send(cfd, hello, 40, 0), 40); /* a third of a ClientHello, then FIN */
    assert_int_equal(shutdown(cfd, SHUT_WR), 0);
    assert_int_equal(handshake_until_result(&s), TK_HS_FAILED);
    assert_failure(&s, TK_HSF_TLS_EOF, "closed");
    close(cfd);
    end_free(&s);
    tls_free(t);
}

/* A reset is a socket error (-ECONNRESET, counted like any reset), not a TLS failure. */
static void test_reset_mid_handshake_is_errno(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    int cfd, sfd;
    tcp_pair(&cfd, &sfd, 0, 0);
    struct end c;
    end_init(&c, t, cfd, true);
    assert_int_equal(end_handshake(&c), TK_HS_WANT_READ);
    drain(sfd);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(sfd);
    assert_int_equal(handshake_until_result(&c), -ECONNRESET);
    end_free(&c);
    tls_free(t);
}

/* ---- setup errors ----------------------------------------------------------------------- */

static void expect_load_error(struct tk_config *cfg, const char *file, const char *reason)
{
    int code = 0;
    char err[512] = "";
    struct tk_transport *t = tk_transport_tls_new(cfg, &code, err, sizeof err);
    assert_null(t);
    assert_int_equal(code, 66);
    if (!strstr(err, file) || !strstr(err, reason))
        fail_msg("message \"%s\" should name %s and say \"%s\"", err, file, reason);
}

static void test_certificate_errors(void **state)
{
    (void)state;
    struct tk_config cfg = {.ssl = true, .listen = true, .ssl_cert = g_cert, .ssl_key = g_key};
    static const char missing[] = "/nonexistent-netgrind-dir/cert.pem";

    cfg.ssl_cert = missing;
    expect_load_error(&cfg, missing, "No such file or directory");
    cfg.ssl_cert = g_cert;
    cfg.ssl_key = missing;
    expect_load_error(&cfg, missing, "No such file or directory");
    cfg.ssl_key = g_key;
    cfg.ssl_cert = g_junk;
    expect_load_error(&cfg, g_junk, "no start line (PEM routines)");
    cfg.ssl_cert = g_cert;
    cfg.ssl_key = g_cert; /* a certificate where the key should be */
    expect_load_error(&cfg, g_cert, "Cannot load TLS private key from --ssl-key file");
    cfg.ssl_key = g_other_key;
    expect_load_error(&cfg, g_other_key, "match"); /* "key values mismatch" */
    cfg.ssl_key = g_ed_key;
    expect_load_error(&cfg, g_ed_key, "does not match the certificate in --ssl-cert file");

    /* A client needs no certificate: defaults that do not exist are not even opened... */
    struct tk_dest d = {.text = "localhost:4433", .path = "/"};
    struct tk_config cli = {.ssl = true, .dests = &d, .ndests = 1, .ssl_cert = missing,
                            .ssl_key = missing};
    int code = 0;
    char err[512] = "";
    struct tk_transport *t = tk_transport_tls_new(&cli, &code, err, sizeof err);
    assert_non_null(t);
    /* ...and it has no server side: an accepted connection cannot start. */
    void *ts = calloc(1, t->conn_state_size);
    assert_non_null(ts);
    assert_int_equal(t->conn_init(t, ts, false, NULL), -EINVAL);
    t->conn_free(t, ts);
    free(ts);
    tls_free(t);
    /* ...but one given explicitly must load. */
    cli.ssl_cert_given = true;
    expect_load_error(&cli, missing, "No such file or directory");
    cli.ssl_cert = g_cert;
    cli.ssl_key = g_key;
    t = tk_transport_tls_new(&cli, &code, err, sizeof err);
    assert_non_null(t);
    tls_free(t);
}

/* ---- the stack tk_transport_new builds (transport.c) ------------------------------------ */

static void test_transport_stacks(void **state)
{
    (void)state;
    static const struct {
        bool ssl, ws;
        const char *top, *lower;
    } cases[] = {
        {false, false, "tcp", NULL},
        {true, false, "tls", NULL},
        {false, true, "ws", "tcp"},
        {true, true, "wss", "tls"},
    };
    struct tk_dest d = {.text = "localhost:4433", .path = "/"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tk_config cfg = {.ssl = cases[i].ssl, .websocket = cases[i].ws, .listen = true,
                                .dests = &d, .ndests = 1, .ssl_cert = g_cert, .ssl_key = g_key};
        int code = 0;
        char err[512] = "";
        struct tk_transport *t = tk_transport_new(&cfg, &code, err, sizeof err);
        if (!t)
            fail_msg("stack %zu: %s", i, err);
        assert_string_equal(t->name, cases[i].top);
        if (cases[i].lower) {
            assert_non_null(t->lower);
            assert_string_equal(t->lower->name, cases[i].lower);
            assert_null(t->lower->lower);
            /* A stacked layer's state holds its lower's. */
            assert_true(t->conn_state_size >= t->lower->conn_state_size);
        } else {
            assert_null(t->lower);
        }
        enum tk_framing out = cases[i].ws ? TK_FRAMING_WS_CLIENT : TK_FRAMING_NONE;
        enum tk_framing in = cases[i].ws ? TK_FRAMING_WS_SERVER : TK_FRAMING_NONE;
        assert_int_equal(tk_transport_framing(t, true), out);
        assert_int_equal(tk_transport_framing(t, false), in);
        tk_transport_free(t); /* the whole stack: LeakSanitizer checks it in `make san` */
    }
    tk_transport_free(NULL);

    /* A TLS layer that cannot load its certificate fails the whole stack, WebSocket or
     * not, with exit 66. */
    struct tk_config bad = {.ssl = true, .websocket = true, .listen = true,
                            .ssl_cert = "/nonexistent-netgrind-dir/c.pem", .ssl_key = g_key};
    int code = 0;
    char err[512] = "";
    assert_null(tk_transport_new(&bad, &code, err, sizeof err));
    assert_int_equal(code, 66);
    assert_non_null(strstr(err, "/nonexistent-netgrind-dir/c.pem"));

    assert_string_equal(tk_hs_fail_name(TK_HSF_TLS_PROTOCOL), "tls_protocol");
    assert_string_equal(tk_hs_fail_name(TK_HSF_TLS_EOF), "tls_eof");
    assert_string_equal(tk_hs_fail_name(TK_HSF_COUNT), "unknown");
}

/* conn_free on state whose conn_init never ran (the engine frees after a failed init). */
static void test_free_zeroed_state(void **state)
{
    (void)state;
    struct tk_transport *t = tls_both("localhost:4433");
    void *ts = calloc(1, t->conn_state_size);
    assert_non_null(ts);
    t->conn_free(t, ts);
    assert_int_equal(t->pending(t, ts), 0);
    free(ts);
    tls_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_data_both_ways),
        cmocka_unit_test(test_shutdown_sends_close_notify),
        cmocka_unit_test(test_bulk_small_sndbuf),
        cmocka_unit_test(test_tls12_peer_and_close_notify),
        cmocka_unit_test(test_plain_eof_is_close),
        cmocka_unit_test(test_send_after_reset_is_errno),
        cmocka_unit_test(test_sni_only_for_names),
        cmocka_unit_test(test_server_against_plain_text),
        cmocka_unit_test(test_client_against_plain_tcp_server),
        cmocka_unit_test(test_client_peer_closes_mid_handshake),
        cmocka_unit_test(test_server_peer_closes_mid_handshake),
        cmocka_unit_test(test_reset_mid_handshake_is_errno),
        cmocka_unit_test(test_certificate_errors),
        cmocka_unit_test(test_free_zeroed_state),
        cmocka_unit_test(test_transport_stacks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
