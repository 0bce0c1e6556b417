#ifndef NETGRIND_TCPKALI_TRANSPORT_H
#define NETGRIND_TCPKALI_TRANSPORT_H

/* The transport between a connection's state machine and its socket: plain TCP, TLS
 * (transport_tls.c, OpenSSL), and WebSocket (transport_ws.c) over either of them (wss).
 * Transports stack: a WebSocket transport has a `lower` one (plain or TLS) and does all its
 * socket I/O through it.
 *
 * The engine calls, per connection: conn_init once (outgoing or accepted), then handshake
 * until it returns TK_HS_DONE (no handshake: NULL), then send and recv with application
 * bytes. send takes bytes of the send stream (already framed by the message source for
 * WebSocket; TLS encrypts them); recv gives back application bytes (WebSocket: the
 * de-framed, unmasked payload of data frames; TLS: decrypted), on which the engine searches
 * markers. Every function reports what crossed the socket in *io, because tcpkali's counters
 * are wire bytes.
 *
 * Transport-owned output: a transport may have bytes of its own to write (a WebSocket pong
 * or close reply, a frame echoed in --listen-mode=echo, a TLS record not yet fully written).
 * It writes them from recv or send when it can; what the socket did not take stays
 * `pending`. The engine then waits for EPOLLOUT and calls flush; while pending() is above
 * TK_TR_PENDING_HOLD it stops reading (the peer's flow control holds the rest), as it does
 * for its own echo backlog. A WebSocket transport inserts its own frames only between
 * frames of the send stream: the engine guarantees that each send() call's bytes end on a
 * message boundary (the message source frames whole messages), so "the previous send took
 * all it was given" means "at a frame boundary".
 *
 * Every engine call on a connection happens on that connection's worker thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tcpkali/config.h"
#include "tcpkali/msgsrc.h"

#define TK_TR_PENDING_HOLD (256u * 1024)

/* What crossed the socket in one call. */
struct tk_io {
    uint64_t wire_in, wire_out; /* bytes */
    uint64_t reads, writes;     /* recv/send calls that moved data */
    uint64_t frames_in;         /* WebSocket frames received (every opcode) */
    /* Optional (NULL: none), set by the engine for a connection it dumps (-d): a transport
     * calls it with the protocol bytes of its own handshake that it wrote (out) or read,
     * as they crossed its lower layer (the WebSocket request and 101 response, in
     * plaintext). The engine dumps application bytes itself; TLS records are not passed. */
    void (*dump)(void *ctx, bool out, const uint8_t *p, size_t n);
    void *dump_ctx;
};

enum {
    TK_HS_DONE = 0,
    TK_HS_WANT_READ = 1,
    TK_HS_WANT_WRITE = 2,
    /* Negative: -errno for a socket error (counted like a reset), or TK_HS_FAILED for a
     * protocol failure, whose cause fail_cause() gives. */
    TK_HS_FAILED = -100000,
};

/* Why a handshake failed, counted per cause (struct tk_counters.hs_failures). */
enum tk_hs_fail {
    TK_HSF_WS_STATUS,    /* client: the response was not "HTTP/1.x 101" */
    TK_HSF_WS_ACCEPT,    /* client: Sec-WebSocket-Accept missing or wrong, or no Upgrade */
    TK_HSF_WS_MALFORMED, /* either side: not HTTP, or headers beyond TK_WS_MAX_HANDSHAKE */
    TK_HSF_WS_REQUEST,   /* server: not a WebSocket upgrade request (answered 400) */
    TK_HSF_WS_EOF,       /* the peer closed before the upgrade finished */
    TK_HSF_TLS_PROTOCOL, /* TLS alert or protocol error (version, cipher, bad record) */
    TK_HSF_TLS_EOF,      /* the peer closed during the TLS handshake */
    TK_HSF_COUNT
};

/* Short names for output, JSON and statsd: "ws_status", "ws_accept", "ws_malformed",
 * "ws_request", "ws_eof", "tls_protocol", "tls_eof". */
const char *tk_hs_fail_name(enum tk_hs_fail f);

struct tk_transport {
    const char *name;                 /* "tcp", "tls", "ws", "wss" */
    const struct tk_transport *lower; /* WebSocket: the byte transport under it; else NULL */
    void *ctx;                        /* the transport's shared state (SSL_CTX, config) */
    /* Per-connection state the engine allocates (zeroed) for conn_init: this transport's
     * and its lower's together (a stacked transport places the lower's state after its
     * own and says so in its size). 0: none. */
    size_t conn_state_size;
    /* True when the transport answers accepted connections' data itself in
     * --listen-mode=echo (WebSocket echoes each data frame as a server frame), so the
     * engine must not echo the application bytes as well. */
    bool echoes;
    /* dest is NULL for accepted connections. 0 or -errno. */
    int (*conn_init)(const struct tk_transport *t, void *ts, bool outgoing,
                     const struct tk_dest *dest);
    /* Drives the handshake on fd: TK_HS_DONE, TK_HS_WANT_READ/WRITE (call again when the
     * socket is ready), -errno, or TK_HS_FAILED. NULL: no handshake. */
    int (*handshake)(const struct tk_transport *t, void *ts, int fd, struct tk_io *io);
    /* After TK_HS_FAILED: the cause, and a line for -v ("WebSocket upgrade refused: HTTP/1.1
     * 404 Not Found", "TLS handshake failed: wrong version number") into text. */
    enum tk_hs_fail (*fail_cause)(const struct tk_transport *t, void *ts, char *text,
                                  size_t len);
    /* Sends up to n bytes of the send stream: how many were taken (> 0), -EAGAIN when the
     * socket is full (or transport output is pending and must go first), or another -errno. */
    ssize_t (*send)(const struct tk_transport *t, void *ts, int fd, const uint8_t *p, size_t n,
                    struct tk_io *io);
    /* Receives application bytes into buf: > 0, 0 at the peer's orderly close (a WebSocket
     * close frame, after the close reply was queued), -EAGAIN when nothing is there for the
     * application now (control frames only, a partial frame or TLS record), or another
     * -errno. */
    ssize_t (*recv)(const struct tk_transport *t, void *ts, int fd, uint8_t *buf, size_t cap,
                    struct tk_io *io);
    /* Bytes of transport-owned output not yet written. NULL: never any. */
    size_t (*pending)(const struct tk_transport *t, const void *ts);
    /* Writes pending output: 0 when none is left, -EAGAIN when the socket is full, or
     * -errno. NULL when pending is NULL. */
    int (*flush)(const struct tk_transport *t, void *ts, int fd, struct tk_io *io);
    /* Optional, best effort: says goodbye on a connection the engine itself is closing
     * (lifetime over, end of the run) before it closes fd: TLS sends close_notify, a
     * WebSocket layer may send a close frame and then call its lower's shutdown. At most
     * non-blocking writes of what fits now; never waits for an answer. Only for connections
     * past the handshake, and not after an error or the peer's own close. NULL: nothing. */
    void (*shutdown)(const struct tk_transport *t, void *ts, int fd, struct tk_io *io);
    /* Frees what conn_init (and the handshake) allocated in ts, not ts itself (the engine
     * frees it). Also called on a zeroed ts whose conn_init failed or never ran. Must not
     * write to the socket: the engine may have closed the fd already. */
    void (*conn_free)(const struct tk_transport *t, void *ts);
    /* Frees this layer: its ctx and the struct itself, never its lower (tk_transport_free
     * walks the stack and frees each layer). NULL: free(t) is enough. Main thread, after
     * every connection's conn_free. */
    void (*destroy)(struct tk_transport *t);
};

/* Plain TCP: send(MSG_NOSIGNAL) and recv(), no state, no framing. */
extern const struct tk_transport tk_transport_plain;

/* The transport stack cfg asks for: plain, TLS (--ssl), WebSocket (--ws) over plain or TLS.
 * Ownership: each layer is its own heap object; a WebSocket layer does NOT own its lower
 * (it only calls it). tk_transport_free frees the whole stack from the top down, calling each
 * layer's destroy (or free()). A WebSocket layer names itself "ws" over plain and "wss" over
 * TLS; tk_transport_framing goes by that name.
 * Loads what it needs (TLS: --ssl-cert and --ssl-key for a listener; a client presents
 * them only when they were given explicitly). NULL with a message in err and *exit_code set
 * (66 for an unreadable certificate or key, 70 otherwise). Free with tk_transport_free. */
struct tk_transport *tk_transport_new(const struct tk_config *cfg, int *exit_code, char *err,
                                      size_t errlen);
void tk_transport_free(struct tk_transport *t);

/* The framing the message source must apply for this transport on one side: for a stack
 * whose top is a WebSocket layer ("ws"/"wss"), TK_FRAMING_WS_CLIENT for outgoing
 * connections and TK_FRAMING_WS_SERVER for accepted ones; TK_FRAMING_NONE otherwise. */
enum tk_framing tk_transport_framing(const struct tk_transport *t, bool outgoing);

/* Constructors of the layers (transport_tls.c, transport_ws.c), used by tk_transport_new.
 * Each returns a heap transport or NULL with err and *exit_code; free it with
 * tk_transport_free (which also frees its lower, if any).
 *
 * TLS: one SSL_CTX for outgoing connections (made when cfg->ndests > 0) and one for accepted
 * ones (made when cfg->listen), shared by all workers; SSL objects are per connection. The
 * listener loads cfg->ssl_cert and cfg->ssl_key (PEM); a missing, unreadable or invalid file
 * gives exit code 66 and a message naming the file and OpenSSL's reason. The client does
 * NOT verify the server's certificate (a load generator talks to test servers with
 * self-signed certificates), sends SNI when the destination is a host name, and presents
 * a certificate only when --ssl-cert/--ssl-key were given. TLS 1.2 and 1.3. wire_in/wire_out
 * count the bytes that crossed the socket (records, handshake, alerts). send may take bytes
 * whose record the socket did not fully accept: they are then pending() until flush (or the
 * next send or recv) writes them (at most one record, 16 KiB, so TLS alone never reaches
 * TK_TR_PENDING_HOLD). recv returns 0 on close_notify (answered with ours) or a plain EOF;
 * shutdown sends close_notify. Sends never raise SIGPIPE. */
struct tk_transport *tk_transport_tls_new(const struct tk_config *cfg, int *exit_code,
                                          char *err, size_t errlen);
struct tk_transport *tk_transport_ws_new(const struct tk_config *cfg,
                                         const struct tk_transport *lower, int *exit_code,
                                         char *err, size_t errlen);

#endif
