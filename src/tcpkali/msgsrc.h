#ifndef NETGRIND_TCPKALI_MSGSRC_H
#define NETGRIND_TCPKALI_MSGSRC_H

/* The message source: what a connection sends. tcpkali's send stream is the "once" part
 * (the -1 values in order, after any transport handshake), then the message (every -m/-f
 * value in order, concatenated: ONE message for -r and marker purposes) repeated forever.
 *
 * Two kinds of source, one interface to the connection engine:
 *
 * - Constant (every piece of every argument is TK_SCOPE_CONSTANT: text, files, global.re,
 *   \{ws.*} frames): every connection sends the same bytes, so the source holds them once
 *   for the whole process: the once part, one message, and the message replicated to at
 *   least TK_REP_MIN bytes of WHOLE messages (tcpkali's 64 KiB "sweet spot"). A
 *   connection then only keeps an offset into those shared buffers, and an unlimited
 *   sender writes up to the whole replicated buffer with one send().
 *
 * - Per-connection or per-message (\{connection.uid}, \{connection.ptr},
 *   \{connection.re ...}, \{re ...}, \{message.marker}): the source has `ops`; the engine
 *   gives each connection a state block of ops->conn_state_size bytes and asks the source
 *   to append the once part, and then one message at a time, into the connection's own
 *   buffer, and to stamp markers right before the bytes are written.
 *
 * The framing of a transport (WebSocket frames each argument separately) is applied by the
 * source, argument by argument (enum tk_framing). A constant source framed for a WebSocket
 * client still builds its replicated buffer once: every frame in it has its own random
 * masking key, and the buffer cycles every TK_REP_MIN bytes or so (a new key per frame on
 * every send would make every payload per-message and cost the replication). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tcpkali/config.h"

#define TK_REP_MIN 65536

/* A growable byte buffer owned by a connection. */
struct tk_buf {
    uint8_t *data;
    size_t len, cap;
};
/* Appends n bytes (grows the buffer). 0 or -ENOMEM. */
int tk_buf_append(struct tk_buf *b, const void *p, size_t n);
/* Makes room for n more bytes and returns where they go (len not changed), or NULL. */
uint8_t *tk_buf_reserve(struct tk_buf *b, size_t n);
void tk_buf_free(struct tk_buf *b);

/* How message arguments are framed for the transport. */
enum tk_framing {
    TK_FRAMING_NONE,      /* bytes go as they are (plain TCP, TLS); a \{ws.*} piece is
                           * still its frame, unmasked (the side is not known here) */
    TK_FRAMING_WS_CLIENT, /* each argument (each part around a \{ws.*} or \{raw}) is one
                           * masked text frame; \{ws.*} frames are masked too; every frame
                           * gets its own random masking key */
    TK_FRAMING_WS_SERVER, /* the same, unmasked */
};

struct tk_msgsrc;

/* Hooks of a non-constant source. cs is the connection's state block (zeroed, size
 * conn_state_size); uid the connection's number (1, 2, ... over the process). */
struct tk_msgsrc_ops {
    size_t conn_state_size;
    int (*conn_init)(const struct tk_msgsrc *s, void *cs, uint64_t uid);
    void (*conn_free)(const struct tk_msgsrc *s, void *cs);
    /* Appends the once part. 0 or -errno. */
    int (*first)(const struct tk_msgsrc *s, void *cs, struct tk_buf *out);
    /* Appends one message; *len receives its size (>= 1). 0 or -errno. */
    int (*next)(const struct tk_msgsrc *s, void *cs, struct tk_buf *out, size_t *len);
    /* Right before bytes buf->data[off, off + n) are written: fill in the message markers
     * that START in that range with the current time (masked as their frame is, with
     * --ws). buf is the buffer first/next appended to; the engine empties it (len = 0)
     * only after every byte in it was written, and calls stamp again for the rest after a
     * partial write, so a marker is re-stamped only while none of its bytes went out.
     * May be NULL (no markers). */
    void (*stamp)(const struct tk_msgsrc *s, void *cs, struct tk_buf *buf, size_t off,
                  size_t n);
};

struct tk_msgsrc {
    bool constant;
    bool has_messages; /* any -m/-f: a repeated message exists (msg_len >= 1 if constant) */
    bool has_markers;  /* some argument has \{message.marker}: the engine should parse
                        * message markers in what it receives (tcpkali's implicit
                        * --message-marker); then ops->stamp is set */
    /* Constant sources: shared, read-only while the engine runs. */
    uint8_t *first;
    size_t first_len;
    uint8_t *msg;
    size_t msg_len;
    uint8_t *rep;    /* msg repeated rep_msgs times, rep_len = rep_msgs * msg_len */
    size_t rep_len;
    size_t rep_msgs;
    /* Non-constant sources. */
    const struct tk_msgsrc_ops *ops;
    void *impl;
};

/* Compiles cfg's message arguments (-1, -m, -f, in argv order) for one side (outgoing
 * connections, or accepted ones in --listen-mode=active) through the expression parser
 * (expr.h), framing as asked. -e rules (tk_unescape) apply where the argument says so; file
 * contents are sent as they are (bug 9: never unescaped, never parsed). NULL with a message
 * in err and *exit_code set (1 for an expression error or an unreadable file, as tcpkali). */
struct tk_msgsrc *tk_msgsrc_new(const struct tk_config *cfg, enum tk_framing framing,
                                int *exit_code, char *err, size_t errlen);
void tk_msgsrc_free(struct tk_msgsrc *s);

/* Seeds the per-connection generators of a non-constant source (\{re}, \{connection.re},
 * masking keys): connection uid draws from a generator seeded from (seed, uid), so a fixed
 * seed gives every connection a fixed sequence. Without this call the seed comes from the
 * kernel's entropy. Call before any conn_init (not thread-safe); no effect on a constant
 * source, whose buffers are built by tk_msgsrc_new. */
void tk_msgsrc_set_seed(struct tk_msgsrc *s, uint64_t seed);

/* ---- Sending from the replicated buffer ------------------------------------------------
 * A connection's position in a constant source's replicated buffer (R bytes of whole
 * messages of L bytes) is one offset `off` (0 <= off < R); message k starts at k * L. */

/* How many bytes to offer the socket at off: the rest of the message in flight plus up to
 * `allow` new whole messages that fit before the end of the buffer (at most one message
 * per send without write combining). 0 when nothing is in flight and allow is 0. */
size_t tk_rep_slice(size_t off, size_t L, size_t R, uint64_t allow, bool combine);
/* How many messages start in [off, off + n): the multiples of L there. */
uint64_t tk_rep_starts(size_t off, size_t n, size_t L);

/* tcpkali's -e unescaping of a literal (spec §4.5), into out (at most len bytes; out may
 * be in). Returns the length. \n \r \f \b; \xH and \xHH; \0 followed by up to 3 octal
 * digits (\0101 is 'A'); "\\" stays two backslashes; any other \c is c (so \t is 't');
 * a trailing lone backslash is kept. */
size_t tk_unescape(const char *in, size_t len, uint8_t *out);

#endif
