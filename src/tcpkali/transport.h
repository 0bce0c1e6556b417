#ifndef NETGRIND_TCPKALI_TRANSPORT_H
#define NETGRIND_TCPKALI_TRANSPORT_H

/* The transport between a connection's state machine and its socket: plain TCP now;
 * WebSocket (handshake, framing, de-framing) and TLS plug in here in the next issue
 * without touching the engine.
 *
 * The engine calls, per connection: conn_init once (outgoing or accepted), then handshake
 * until it returns TK_HS_DONE (plain TCP: no handshake), then send and recv with
 * application bytes: send takes bytes to deliver to the peer (a WebSocket transport would
 * take bytes already framed by the message source, a TLS one would encrypt them) and recv
 * gives back application bytes (de-framed, decrypted), on which the engine searches
 * markers. Every function reports the bytes that crossed the socket in *io, because
 * tcpkali's counters are wire bytes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tcpkali/config.h"
#include "tcpkali/msgsrc.h"

/* What crossed the socket in one call. */
struct tk_io {
    uint64_t wire_in, wire_out; /* bytes */
    uint64_t reads, writes;     /* recv/send calls that moved data */
};

enum {
    TK_HS_DONE = 0,
    TK_HS_WANT_READ = 1,
    TK_HS_WANT_WRITE = 2,
};

struct tk_transport {
    const char *name;
    /* Per-connection state the engine allocates (zeroed) for conn_init; 0: none. */
    size_t conn_state_size;
    /* dest is NULL for accepted connections. 0 or -errno. */
    int (*conn_init)(const struct tk_transport *t, void *ts, bool outgoing,
                     const struct tk_dest *dest);
    /* Drives the handshake on fd: TK_HS_DONE, TK_HS_WANT_READ/WRITE (call again when the
     * socket is ready), or -errno (the connection fails). NULL: no handshake. */
    int (*handshake)(const struct tk_transport *t, void *ts, int fd, struct tk_io *io);
    /* Sends up to n application bytes: how many were taken (> 0), -EAGAIN when the socket
     * is full, or another -errno. */
    ssize_t (*send)(const struct tk_transport *t, void *ts, int fd, const uint8_t *p, size_t n,
                    struct tk_io *io);
    /* Receives application bytes into buf: > 0, 0 at the peer's orderly close, -EAGAIN
     * when nothing is there for the application now, or another -errno. */
    ssize_t (*recv)(const struct tk_transport *t, void *ts, int fd, uint8_t *buf, size_t cap,
                    struct tk_io *io);
    void (*conn_free)(const struct tk_transport *t, void *ts);
    /* Framing of message arguments for outgoing and for accepted connections (NULL: the
     * bytes go as they are), handed to tk_msgsrc_new. */
    tk_frame_fn frame_client, frame_server;
    const void *frame_ctx;
};

/* Plain TCP: send(MSG_NOSIGNAL) and recv(), no state, no framing. */
extern const struct tk_transport tk_transport_plain;

/* The transport cfg asks for (plain TCP until --ws and --ssl arrive). */
const struct tk_transport *tk_transport_for(const struct tk_config *cfg);

#endif
