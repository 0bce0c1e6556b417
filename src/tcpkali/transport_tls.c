/* TLS transport (--ssl) on OpenSSL 3: the contract is in transport.h.
 *
 * One SSL_CTX for outgoing connections and one for accepted ones, made once and shared by
 * every worker thread (OpenSSL 3 makes SSL_new on a shared SSL_CTX thread-safe); each
 * connection owns its SSL object, used only on its worker thread.
 *
 * Wire bytes: the connection's socket BIO (our own, over send and recv) adds every byte and
 * call it moves to the tk_io of the transport call in progress, so handshake records, alerts
 * and record overhead are counted exactly as they crossed the socket.
 *
 * Writes: an SSL_write that could not finish its record (WANT_WRITE) must be retried with
 * the same bytes, while the engine may come back with other bytes or none at all. So each
 * SSL_write gets at most one record's worth (TLS_RECORD_MAX), and when one stalls, its bytes
 * are copied here, reported as taken, and retried from the copy (pending/flush, or the next
 * send or recv); SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the retry from another address.
 *
 * Reads: recv decrypts records until the buffer is full or the socket is empty, but starts
 * another record only when a whole one fits, so that decrypted bytes rarely stay buffered
 * inside OpenSSL where epoll cannot see them (only a recv smaller than one record leaves
 * some; the engine calls recv again when cap was filled). No read-ahead for the same
 * reason. */
#include "tcpkali/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/addr.h"

#define TLS_RECORD_MAX 16384 /* largest plaintext of one TLS record (RFC 8446 §5.1) */
#define TLS_EXIT_NOINPUT 66  /* EX_NOINPUT: a certificate or key file cannot be used */
#define TLS_EXIT_SOFTWARE 70

struct tls_ctx {
    SSL_CTX *client; /* outgoing connections; NULL when there are no destinations */
    SSL_CTX *server; /* accepted connections; NULL when not listening */
    BIO_METHOD *bio_method;
};

struct tls_conn {
    SSL *ssl;
    int fd;                   /* set by the first handshake call */
    bool eof;                 /* recv() returned 0 */
    int sys_errno;            /* errno of the socket BIO's last failed call */
    struct tk_io *io;         /* the current call's counters, for the socket BIO */
    uint8_t *wbuf;            /* the bytes of a stalled SSL_write, to retry (TLS_RECORD_MAX) */
    size_t wlen;              /* 0: no write to retry */
    bool read_wants_write;    /* SSL_read stalled on a write: wait for EPOLLOUT */
    bool close_notify_sent;
    bool has_deferred;        /* a recv result to give at the next recv (after data) */
    ssize_t deferred;
    enum tk_hs_fail fail;
    char fail_text[200];
};

/* ---- errors ----------------------------------------------------------------------------- */

/* OpenSSL's reason for the oldest error in this thread's queue ("wrong version number"),
 * with its library when with_lib ("no start line (PEM routines)"), or fallback when the
 * queue is empty. Empties the queue. */
static void tls_reason_lib(char *out, size_t len, const char *fallback, bool with_lib)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(out, len, "%s", fallback);
        return;
    }
    const char *r = ERR_reason_error_string(e);
    const char *lib = ERR_lib_error_string(e);
    if (r && lib && with_lib)
        snprintf(out, len, "%s (%s)", r, lib);
    else if (r)
        snprintf(out, len, "%s", r);
    else
        ERR_error_string_n(e, out, len);
    ERR_clear_error();
}

static void tls_reason(char *out, size_t len, const char *fallback)
{
    tls_reason_lib(out, len, fallback, false);
}

/* True when the error queue says the peer closed the socket without close_notify (OpenSSL
 * 3 reports that as SSL_ERROR_SSL with this reason). */
static bool tls_queue_is_eof(void)
{
    unsigned long e = ERR_peek_error();
    return e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL &&
           ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* ---- the context ------------------------------------------------------------------------ */

/* Fails with a message naming the file unless it can be opened for reading: OpenSSL's own
 * report for a missing file is less clear than strerror. */
static int tls_check_readable(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Cannot open %s file %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* Loads a certificate chain and its private key (PEM) into ctx. 0, or -1 with err. */
static int tls_load_identity(SSL_CTX *ctx, const char *cert, const char *key, char *err,
                             size_t errlen)
{
    char why[200];

    if (tls_check_readable("--ssl-cert", cert, err, errlen) < 0 ||
        tls_check_readable("--ssl-key", key, err, errlen) < 0)
        return -1;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_reason_lib(why, sizeof why, "unknown error", true);
        snprintf(err, errlen, "Cannot load TLS certificate from --ssl-cert file %s: %s", cert,
                 why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_reason_lib(why, sizeof why, "unknown error", true);
        snprintf(err, errlen, "Cannot load TLS private key from --ssl-key file %s: %s", key,
                 why);
        return -1;
    }
    /* OpenSSL accepts a key that does not match the certificate and drops the certificate
     * instead, so the mismatch is found here. */
    if (!SSL_CTX_get0_certificate(ctx) || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "TLS private key in --ssl-key file %s does not match the certificate in "
                 "--ssl-cert file %s",
                 key, cert);
        return -1;
    }
    return 0;
}

/* What both sides share: TLS 1.2 and 1.3, no renegotiation (a TLS 1.2 peer asking for one
 * gets a warning alert), the write modes the pending-record logic relies on, and buffers
 * released while a connection is idle (tcpkali holds many idle connections). */
static SSL_CTX *tls_ctx_new(const SSL_METHOD *method, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx) {
        char why[200];
        tls_reason(why, sizeof why, "out of memory");
        snprintf(err, errlen, "Cannot create a TLS context: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

/* The client: no verification of the server's certificate, on purpose. A load generator is
 * pointed at test servers, which mostly have self-signed certificates; what it measures is
 * the cost of the handshake and of the records, not the trust chain. A client certificate
 * is presented only when --ssl-cert or --ssl-key was given (each file then comes from its
 * option or its default). */
static SSL_CTX *tls_client_ctx(const struct tk_config *cfg, int *exit_code, char *err,
                               size_t errlen)
{
    SSL_CTX *ctx = tls_ctx_new(TLS_client_method(), err, errlen);
    if (!ctx) {
        *exit_code = TLS_EXIT_SOFTWARE;
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if ((cfg->ssl_cert_given || cfg->ssl_key_given) &&
        tls_load_identity(ctx, cfg->ssl_cert, cfg->ssl_key, err, errlen) < 0) {
        SSL_CTX_free(ctx);
        *exit_code = TLS_EXIT_NOINPUT;
        return NULL;
    }
    return ctx;
}

/* The listener: its certificate and key are required. No session cache and no TLS 1.3
 * session tickets: tcpkali's clients never resume, and every ticket is work and bytes on
 * each new connection. */
static SSL_CTX *tls_server_ctx(const struct tk_config *cfg, int *exit_code, char *err,
                               size_t errlen)
{
    SSL_CTX *ctx = tls_ctx_new(TLS_server_method(), err, errlen);
    if (!ctx) {
        *exit_code = TLS_EXIT_SOFTWARE;
        return NULL;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    if (tls_load_identity(ctx, cfg->ssl_cert, cfg->ssl_key, err, errlen) < 0) {
        SSL_CTX_free(ctx);
        *exit_code = TLS_EXIT_NOINPUT;
        return NULL;
    }
    return ctx;
}

/* ---- per connection --------------------------------------------------------------------- */

/* The socket BIO: OpenSSL's own socket BIO uses write(), which raises SIGPIPE on a reset
 * connection, so this one uses send(MSG_NOSIGNAL) and recv(), and counts what it moves
 * into the tk_io of the transport call in progress. Its data is the connection's state. */
static int tls_bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    struct tls_conn *tc = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = send(tc->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r >= 0) {
        *written = (size_t)r;
        if (tc->io && r > 0) {
            tc->io->wire_out += (uint64_t)r;
            tc->io->writes++;
        }
        return 1;
    }
    tc->sys_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        BIO_set_retry_write(b);
    *written = 0;
    return 0;
}

static int tls_bio_read(BIO *b, char *buf, size_t len, size_t *readbytes)
{
    struct tls_conn *tc = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    *readbytes = 0;
    ssize_t r = recv(tc->fd, buf, len, MSG_DONTWAIT);
    if (r > 0) {
        *readbytes = (size_t)r;
        if (tc->io) {
            tc->io->wire_in += (uint64_t)r;
            tc->io->reads++;
        }
        return 1;
    }
    if (r == 0) {
        tc->eof = true; /* OpenSSL asks BIO_eof() to tell EOF from an error */
        return 0;
    }
    tc->sys_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        BIO_set_retry_read(b);
    return 0;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    struct tls_conn *tc = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* nothing is buffered here */
    case BIO_CTRL_EOF:
        return tc && tc->eof;
    case BIO_C_GET_FD:
        if (!tc)
            return -1;
        if (ptr)
            *(int *)ptr = tc->fd;
        return tc->fd;
    default:
        return 0;
    }
}

static BIO_METHOD *tls_bio_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tcpkali socket");
    if (m && (!BIO_meth_set_write_ex(m, tls_bio_write) || !BIO_meth_set_read_ex(m, tls_bio_read) ||
              !BIO_meth_set_ctrl(m, tls_bio_ctrl))) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

/* Gives the SSL object its socket once (conn_init has no fd yet). 0 or -ENOMEM. */
static int tls_attach(const struct tls_ctx *c, struct tls_conn *tc, int fd)
{
    if (SSL_get_rbio(tc->ssl))
        return 0;
    BIO *bio = BIO_new(c->bio_method);
    if (!bio)
        return -ENOMEM;
    tc->fd = fd;
    BIO_set_data(bio, tc);
    BIO_set_init(bio, 1);
    SSL_set_bio(tc->ssl, bio, bio); /* the SSL object owns the BIO from here */
    return 0;
}

/* The host name to send as SNI for dest, into out: false when the destination is an
 * address literal (RFC 6066 §3 forbids literals in SNI) or has no host. */
static bool tls_sni_name(const struct tk_dest *dest, char *out, size_t len)
{
    struct addr_endpoint ep;
    char why[200];
    unsigned char bin[sizeof(struct in6_addr)];

    if (addr_parse_endpoint(dest->text, ADDR_F_PATH, &ep, why, sizeof why) < 0 || !ep.host[0])
        return false;
    if (inet_pton(AF_INET, ep.host, bin) == 1 || inet_pton(AF_INET6, ep.host, bin) == 1)
        return false;
    snprintf(out, len, "%s", ep.host);
    return true;
}

static int tls_conn_init(const struct tk_transport *t, void *ts, bool outgoing,
                         const struct tk_dest *dest)
{
    const struct tls_ctx *c = t->ctx;
    struct tls_conn *tc = ts;
    SSL_CTX *ctx = outgoing ? c->client : c->server;
    char host[ADDR_HOST_MAX];

    memset(tc, 0, sizeof *tc);
    if (!ctx)
        return -EINVAL;
    tc->ssl = SSL_new(ctx);
    if (!tc->ssl)
        return -ENOMEM;
    if (outgoing) {
        SSL_set_connect_state(tc->ssl);
        if (dest && tls_sni_name(dest, host, sizeof host))
            SSL_set_tlsext_host_name(tc->ssl, host);
    } else {
        SSL_set_accept_state(tc->ssl);
    }
    ERR_clear_error();
    return 0;
}

static void tls_set_failure(struct tls_conn *tc, enum tk_hs_fail cause, const char *why)
{
    tc->fail = cause;
    snprintf(tc->fail_text, sizeof tc->fail_text, "TLS handshake failed: %s", why);
}

/* The handshake's result after SSL_do_handshake returned r <= 0; sys_errno is the socket
 * BIO's errno (0 when no socket call failed). */
static int tls_handshake_error(struct tls_conn *tc, int r, int sys_errno)
{
    char why[160];

    switch (SSL_get_error(tc->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return TK_HS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TK_HS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        tls_set_failure(tc, TK_HSF_TLS_EOF, "the peer closed the connection");
        break;
    case SSL_ERROR_SYSCALL:
        if (sys_errno != 0 && sys_errno != EAGAIN) {
            ERR_clear_error();
            return -sys_errno; /* a reset: counted as a socket error */
        }
        tls_set_failure(tc, TK_HSF_TLS_EOF, "the peer closed the connection");
        break;
    case SSL_ERROR_SSL:
        if (tls_queue_is_eof()) {
            tls_set_failure(tc, TK_HSF_TLS_EOF, "the peer closed the connection");
            break;
        }
        tls_reason(why, sizeof why, "protocol error");
        tls_set_failure(tc, TK_HSF_TLS_PROTOCOL, why);
        break;
    default:
        tls_reason(why, sizeof why, "unexpected OpenSSL result");
        tls_set_failure(tc, TK_HSF_TLS_PROTOCOL, why);
        break;
    }
    ERR_clear_error();
    return TK_HS_FAILED;
}

static int tls_handshake(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    struct tls_conn *tc = ts;
    if (!tc->ssl)
        return -EINVAL;
    if (tls_attach(t->ctx, tc, fd) < 0)
        return -ENOMEM;
    tc->io = io;
    ERR_clear_error();
    tc->sys_errno = 0;
    int r = SSL_do_handshake(tc->ssl);
    int rc = r == 1 ? TK_HS_DONE : tls_handshake_error(tc, r, tc->sys_errno);
    tc->io = NULL;
    return rc;
}

static enum tk_hs_fail tls_fail_cause(const struct tk_transport *t, void *ts, char *text,
                                      size_t len)
{
    (void)t;
    const struct tls_conn *tc = ts;
    if (text && len)
        snprintf(text, len, "%s", tc->fail_text[0] ? tc->fail_text : "TLS handshake failed");
    return tc->fail;
}

/* The -errno for a failed SSL_read or SSL_write that is neither WANT_* nor ZERO_RETURN. */
static ssize_t tls_io_error(int ssl_err, int sys_errno, ssize_t on_eof)
{
    ssize_t rc;
    if (ssl_err == SSL_ERROR_SYSCALL)
        rc = (sys_errno != 0 && sys_errno != EAGAIN) ? -sys_errno : on_eof;
    else if (ssl_err == SSL_ERROR_SSL && tls_queue_is_eof())
        rc = on_eof;
    else
        rc = -EPROTO;
    ERR_clear_error();
    return rc;
}

/* Retries the stalled write until it is all out: 0, -EAGAIN, or -errno. */
static int tls_write_pending(struct tls_conn *tc)
{
    while (tc->wlen > 0) {
        ERR_clear_error();
        tc->sys_errno = 0;
        int r = SSL_write(tc->ssl, tc->wbuf, (int)tc->wlen);
        if (r > 0) {
            /* All of it normally (one record); with a smaller record size the rest is new
             * data for the next SSL_write. */
            tc->wlen -= (size_t)r;
            memmove(tc->wbuf, tc->wbuf + r, tc->wlen);
            continue;
        }
        int sys_errno = tc->sys_errno;
        int e = SSL_get_error(tc->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            return -EAGAIN;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            ERR_clear_error();
            return -EPIPE;
        }
        return (int)tls_io_error(e, sys_errno, -EPIPE);
    }
    return 0;
}

/* Keeps the bytes of a stalled SSL_write for its retry. 0 or -ENOMEM. */
static int tls_keep_stalled(struct tls_conn *tc, const uint8_t *p, size_t n)
{
    if (!tc->wbuf && !(tc->wbuf = malloc(TLS_RECORD_MAX)))
        return -ENOMEM;
    memcpy(tc->wbuf, p, n);
    tc->wlen = n;
    return 0;
}

static ssize_t tls_send_io(struct tls_conn *tc, const uint8_t *p, size_t n)
{
    if (tc->wlen > 0) {
        int rc = tls_write_pending(tc);
        if (rc < 0)
            return rc;
    }
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done < TLS_RECORD_MAX ? n - done : TLS_RECORD_MAX;
        ERR_clear_error();
        tc->sys_errno = 0;
        int r = SSL_write(tc->ssl, p + done, (int)chunk);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        int sys_errno = tc->sys_errno;
        int e = SSL_get_error(tc->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            /* OpenSSL holds this chunk's record half written: it must be retried with these
             * very bytes, so they are ours now. */
            ERR_clear_error();
            if (tls_keep_stalled(tc, p + done, chunk) < 0)
                return done ? (ssize_t)done : -ENOMEM;
            return (ssize_t)(done + chunk);
        }
        ssize_t rc = e == SSL_ERROR_ZERO_RETURN ? -EPIPE : tls_io_error(e, sys_errno, -EPIPE);
        ERR_clear_error();
        /* Bytes already written are reported; the error comes again at the next call. */
        return done ? (ssize_t)done : rc;
    }
    return (ssize_t)done;
}

static ssize_t tls_send(const struct tk_transport *t, void *ts, int fd, const uint8_t *p,
                        size_t n, struct tk_io *io)
{
    (void)t;
    (void)fd;
    struct tls_conn *tc = ts;
    if (!tc->ssl)
        return -EINVAL;
    tc->io = io;
    ssize_t rc = n ? tls_send_io(tc, p, n) : 0;
    tc->io = NULL;
    return rc;
}

/* Sends our close_notify, once, best effort (the socket may be full or already reset; the
 * engine closes the connection next either way): in answer to the peer's, or first. */
static void tls_send_close_notify(struct tls_conn *tc)
{
    if (tc->close_notify_sent)
        return;
    tc->close_notify_sent = true;
    ERR_clear_error();
    (void)SSL_shutdown(tc->ssl);
    ERR_clear_error();
}

/* The result of an SSL_read that returned r <= 0: -EAGAIN, 0 (orderly close) or -errno. */
static ssize_t tls_read_result(struct tls_conn *tc, int r, int sys_errno)
{
    int e = SSL_get_error(tc->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        ERR_clear_error();
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        tc->read_wants_write = true;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        tls_send_close_notify(tc);
        return 0;
    default:
        return tls_io_error(e, sys_errno, 0);
    }
}

static ssize_t tls_recv_io(struct tls_conn *tc, uint8_t *buf, size_t cap)
{
    if (tc->has_deferred) {
        tc->has_deferred = false;
        return tc->deferred;
    }
    if (tc->wlen > 0)
        (void)tls_write_pending(tc); /* opportunistic; send or flush reports its errors */
    size_t got = 0;
    while (got < cap && (got == 0 || cap - got >= TLS_RECORD_MAX || SSL_pending(tc->ssl) > 0)) {
        size_t want = cap - got < INT_MAX ? cap - got : INT_MAX;
        ERR_clear_error();
        tc->sys_errno = 0;
        int r = SSL_read(tc->ssl, buf + got, (int)want);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        ssize_t rc = tls_read_result(tc, r, tc->sys_errno);
        if (got == 0)
            return rc;
        if (rc != -EAGAIN) {
            tc->has_deferred = true; /* after the data already decrypted */
            tc->deferred = rc;
        }
        break;
    }
    return (ssize_t)got;
}

static ssize_t tls_recv(const struct tk_transport *t, void *ts, int fd, uint8_t *buf,
                        size_t cap, struct tk_io *io)
{
    (void)t;
    (void)fd;
    struct tls_conn *tc = ts;
    if (!tc->ssl)
        return -EINVAL;
    if (cap == 0)
        return -EAGAIN;
    tc->io = io;
    ssize_t rc = tls_recv_io(tc, buf, cap);
    tc->io = NULL;
    return rc;
}

/* The stalled record's plaintext still to go, or 1 while a read waits for the socket to
 * take a write (so that the engine waits for EPOLLOUT and calls flush). */
static size_t tls_pending(const struct tk_transport *t, const void *ts)
{
    (void)t;
    const struct tls_conn *tc = ts;
    return tc->wlen + (tc->read_wants_write ? 1 : 0);
}

static int tls_flush(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    (void)t;
    (void)fd;
    struct tls_conn *tc = ts;
    if (!tc->ssl)
        return 0;
    tc->io = io;
    int rc = tls_write_pending(tc);
    if (rc == 0)
        tc->read_wants_write = false; /* the socket takes writes: the next recv retries */
    tc->io = NULL;
    return rc;
}

/* close_notify before the engine closes the socket, once, if the handshake is done and no
 * record is half written (an alert cannot cut into one). */
static void tls_shutdown(const struct tk_transport *t, void *ts, int fd, struct tk_io *io)
{
    (void)t;
    (void)fd;
    struct tls_conn *tc = ts;
    if (!tc->ssl || tc->close_notify_sent || !SSL_is_init_finished(tc->ssl))
        return;
    tc->io = io;
    if (tc->wlen == 0 || tls_write_pending(tc) == 0)
        tls_send_close_notify(tc);
    ERR_clear_error();
    tc->io = NULL;
}

/* Frees the SSL object (and its BIO) without writing anything: the fd may be closed
 * already, and its number reused by another connection. */
static void tls_conn_free(const struct tk_transport *t, void *ts)
{
    (void)t;
    struct tls_conn *tc = ts;
    SSL_free(tc->ssl);
    free(tc->wbuf);
    tc->ssl = NULL;
    tc->wbuf = NULL;
    tc->wlen = 0;
}

static void tls_destroy(struct tk_transport *t)
{
    struct tls_ctx *c = t->ctx;
    if (c) {
        SSL_CTX_free(c->client);
        SSL_CTX_free(c->server);
        BIO_meth_free(c->bio_method);
        free(c);
    }
    free(t);
}

struct tk_transport *tk_transport_tls_new(const struct tk_config *cfg, int *exit_code,
                                          char *err, size_t errlen)
{
    struct tk_transport *t = calloc(1, sizeof *t);
    struct tls_ctx *c = calloc(1, sizeof *c);
    if (!t || !c) {
        free(t);
        free(c);
        *exit_code = TLS_EXIT_SOFTWARE;
        snprintf(err, errlen, "Out of memory");
        return NULL;
    }
    t->name = "tls";
    t->ctx = c;
    t->conn_state_size = sizeof(struct tls_conn);
    t->conn_init = tls_conn_init;
    t->handshake = tls_handshake;
    t->fail_cause = tls_fail_cause;
    t->send = tls_send;
    t->recv = tls_recv;
    t->pending = tls_pending;
    t->flush = tls_flush;
    t->shutdown = tls_shutdown;
    t->conn_free = tls_conn_free;
    t->destroy = tls_destroy;

    if (!(c->bio_method = tls_bio_method_new())) {
        *exit_code = TLS_EXIT_SOFTWARE;
        snprintf(err, errlen, "Cannot create the TLS socket BIO: out of memory");
        tls_destroy(t);
        return NULL;
    }
    if ((cfg->listen && !(c->server = tls_server_ctx(cfg, exit_code, err, errlen))) ||
        (cfg->ndests > 0 && !(c->client = tls_client_ctx(cfg, exit_code, err, errlen)))) {
        ERR_clear_error();
        tls_destroy(t);
        return NULL;
    }
    return t;
}
