#ifndef NETGRIND_TCPKALI_WS_H
#define NETGRIND_TCPKALI_WS_H

/* WebSocket (RFC 6455) pieces for tcpkali: the frame codec, the opening handshake on both
 * sides, and the accept key. Pure functions and small state machines over bytes; the
 * WebSocket transport (transport_ws.c) drives them on a connection, and the message source
 * (msgsrc.c) frames messages with tk_ws_frame_append.
 *
 * The lead wrote the encoder contract below (msgsrc.c codes against it); the owner of this
 * module adds the decoder and handshake functions under their own contract comments. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpkali/expr.h" /* TK_WS_OP_*, TK_WS_FIN, TK_WS_RSVn */
#include "tcpkali/msgsrc.h" /* struct tk_buf */

#define TK_WS_MAX_HEADER 14 /* 2 + 8 (64-bit length) + 4 (masking key) */

/* Encodes a frame header for a payload of len bytes into out: byte0 as given (FIN, RSV,
 * opcode), the MASK bit and key when mask_key is not NULL, and the shortest length form
 * (7-bit up to 125, 16-bit up to 65535, else 64-bit). Returns the header's length. */
size_t tk_ws_header_encode(uint8_t out[TK_WS_MAX_HEADER], uint8_t byte0, uint64_t len,
                           const uint8_t *mask_key);

/* XORs p[0, n) with key, starting at key byte (phase % 4): masking and unmasking are the
 * same operation, and phase lets a payload be handled in pieces. */
void tk_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t phase);

/* Appends one whole frame (header and payload, the payload masked with mask_key when it is
 * not NULL) to out. 0 or -ENOMEM. */
int tk_ws_frame_append(struct tk_buf *out, uint8_t byte0, const uint8_t *payload, size_t len,
                       const uint8_t *mask_key);

/* ---- Frame decoder ------------------------------------------------------------------ *
 * A streaming decoder: feed it the received byte stream split anywhere (one byte at a time
 * works); it reports each frame's header, then its payload in pieces (unmasked in place in
 * the caller's buffer, so payload never needs a copy), then the frame's end. It checks only
 * what makes the stream unparseable or is a protocol error whatever was negotiated:
 * reserved opcodes (3-7, B-F), control frames longer than 125 bytes or without FIN, and a
 * 64-bit length with the top bit set. It does not reject RSV bits (tcpkali's \{ws.* rsvN}
 * sends them), unmasked client frames (tcpkali 1.1.1 masks with a zero key, harmless) or
 * continuation frames out of sequence; payload length is unbounded because the payload
 * streams through. */

/* What the previous tk_ws_decode call found. */
enum tk_ws_event {
    TK_WS_EV_NEED_MORE, /* the input is used up: call again with more */
    TK_WS_EV_HEADER,    /* a frame header is complete: dec->frame describes it */
    TK_WS_EV_PAYLOAD,   /* *data, *len: the next piece of the payload, unmasked */
    TK_WS_EV_END,       /* the current frame's payload is complete (after any PAYLOAD) */
    TK_WS_EV_FRAME,     /* a whole frame at once (the rest of its header and all of its
                         * payload were in the input): dec->frame describes it, *data, *len
                         * its unmasked payload (*len may be 0); no PAYLOAD or END follows */
    TK_WS_EV_ERROR,     /* protocol error, reason in dec->error; the decoder stays here */
};

/* The frame being decoded (valid from its TK_WS_EV_HEADER to its TK_WS_EV_END, or with its
 * TK_WS_EV_FRAME until the next call). */
struct tk_ws_frame {
    uint8_t byte0;      /* FIN, RSV1-3 and opcode, as received */
    uint8_t opcode;     /* byte0 & 0x0F */
    bool fin;
    bool masked;
    uint8_t mask_key[4];
    uint64_t len;       /* payload length */
    uint64_t offset;    /* payload bytes already reported */
};

/* The decoder's state. Zero it (or call tk_ws_decoder_init) before the first byte. */
struct tk_ws_decoder {
    uint8_t hdr[TK_WS_MAX_HEADER];
    uint8_t hdr_have;   /* header bytes gathered so far */
    uint8_t hdr_need;   /* header bytes needed (2 until the second byte is known) */
    uint8_t phase;      /* 0: header, 1: payload, 2: end to report, 3: error */
    struct tk_ws_frame frame;
    const char *error;  /* static text naming the protocol error */
};

void tk_ws_decoder_init(struct tk_ws_decoder *d);

/* Decodes from in[0, n): advances *used (bytes consumed, <= n) and returns the first event
 * it reaches. Payload bytes are unmasked IN PLACE in `in`, and for TK_WS_EV_PAYLOAD *data
 * points to them there (*len > 0). Call repeatedly with in + *used until it returns
 * TK_WS_EV_NEED_MORE; header bytes are gathered in the decoder, so a header split over
 * calls is fine. A frame is reported either as TK_WS_EV_HEADER, then TK_WS_EV_PAYLOAD
 * pieces, then TK_WS_EV_END, or, when all of its payload is in the input that completes its
 * header, as one TK_WS_EV_FRAME (the fast path for small frames; always so for an empty
 * payload): callers handle both. */
enum tk_ws_event tk_ws_decode(struct tk_ws_decoder *d, uint8_t *in, size_t n, size_t *used,
                              uint8_t **data, size_t *len);

/* True for close, ping and pong (and reserved control opcodes). */
static inline bool tk_ws_is_control(uint8_t opcode)
{
    return (opcode & 0x08) != 0;
}

/* ---- Opening handshake (RFC 6455 §4) ------------------------------------------------- */

#define TK_WS_MAX_HANDSHAKE 8192 /* a request or response head longer than this is refused */
#define TK_WS_KEY_LEN 24         /* base64 of the 16-byte nonce */
#define TK_WS_ACCEPT_LEN 28      /* base64 of a 20-byte SHA-1 */

/* Standard base64 (with '=' padding) of in[0, n) into out, NUL-terminated; out needs
 * 4 * ((n + 2) / 3) + 1 bytes. Returns the text's length. */
size_t tk_ws_base64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes standard padded base64 text[0, n) (length a multiple of 4, no whitespace) into
 * out: the decoded length, or -1 when it is not valid base64 or needs more than cap. */
int tk_ws_base64_decode(const char *text, size_t n, uint8_t *out, size_t cap);

/* The Sec-WebSocket-Accept value for key[0, key_len): base64(SHA-1(key + GUID)) into out,
 * NUL-terminated. The key is used as given (the caller trims header whitespace). */
void tk_ws_accept_key(const char *key, size_t key_len, char out[TK_WS_ACCEPT_LEN + 1]);

/* A Sec-WebSocket-Key from 16 nonce bytes (the caller provides fresh random bytes per
 * connection, RFC 6455 §4.1): base64, NUL-terminated. */
void tk_ws_make_key(const uint8_t nonce[16], char out[TK_WS_KEY_LEN + 1]);

/* Appends the client's upgrade request, byte for byte as tcpkali sends it:
 * "GET <path> HTTP/1.1\r\nHost: <host>\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n
 * Sec-WebSocket-Key: <key>\r\nSec-WebSocket-Version: 13\r\n", then "<h>\r\n" for each of the
 * nheaders extra header lines, then "\r\n". host is host:port as the destination was typed
 * (host[0, host_len)); path is "/..." (NULL: "/"). 0 or -ENOMEM. */
int tk_ws_request_build(struct tk_buf *out, const char *host, size_t host_len,
                        const char *path, const char *key, const char *const *headers,
                        size_t nheaders);

/* The Host value for a destination's text "host:port[/path]": its length up to the path. */
size_t tk_ws_dest_host_len(const char *dest_text);

/* Result of a handshake parser (request or response). */
enum tk_ws_hs_result {
    TK_WS_HS_MORE = 0,       /* the head is not complete yet: feed more */
    TK_WS_HS_OK = 1,         /* complete and valid */
    TK_WS_HS_MALFORMED = -1, /* not HTTP, a line without ':' or CRLF structure, or longer
                              * than TK_WS_MAX_HANDSHAKE */
    TK_WS_HS_STATUS = -2,    /* response: the status is not 101 */
    TK_WS_HS_ACCEPT = -3,    /* response: Upgrade/Connection/Sec-WebSocket-Accept wrong or
                              * missing */
    TK_WS_HS_REQUEST = -4,   /* request: not a valid WebSocket upgrade request */
};

/* Incremental parser of an HTTP head (status or request line plus header fields) that
 * accumulates bytes up to the blank line, then validates. Used for both sides. It holds the
 * whole head (about 8.4 KiB): a connection allocates one for its handshake only. */
struct tk_ws_hs_parser {
    char head[TK_WS_MAX_HANDSHAKE];
    size_t len;        /* bytes of head gathered */
    int result;        /* enum tk_ws_hs_result once final, else TK_WS_HS_MORE */
    bool server;       /* parsing a client's request (else a server's response) */
    char expect_accept[TK_WS_ACCEPT_LEN + 1]; /* client: the accept value the key implies */
    char key[TK_WS_KEY_LEN + 1];              /* server: the request's key, when valid */
    char reason[128];  /* why it failed, for -v (status line text, missing header, ...) */
};

/* Starts a client's response parser for the request that carried key. */
void tk_ws_response_parser_init(struct tk_ws_hs_parser *p, const char *key);

/* Starts a server's request parser. */
void tk_ws_request_parser_init(struct tk_ws_hs_parser *p);

/* Feeds in[0, n): consumes bytes up to and including the head's final CRLFCRLF and no
 * further (*used says how many; the rest of the input, if any, is the first frame data and
 * belongs to the caller). Returns TK_WS_HS_MORE (all of in used), TK_WS_HS_OK, or a
 * negative failure with p->reason set; a final result repeats on further calls (nothing
 * consumed). Response rules: "HTTP/1.x 101" status line; Upgrade equal to "websocket" and
 * Connection containing the token "upgrade" (case-insensitive, comma lists); Sec-WebSocket-
 * Accept equal to the key's accept value. Request rules: "GET <target> HTTP/1.1" (or later
 * 1.x), Upgrade: websocket, Connection containing upgrade, Sec-WebSocket-Version: 13, and a
 * Sec-WebSocket-Key that is base64 of 16 bytes (stored in p->key). Header names are
 * case-insensitive; values are trimmed of spaces and tabs. */
int tk_ws_hs_parse(struct tk_ws_hs_parser *p, const uint8_t *in, size_t n, size_t *used);

/* Appends the server's answer to a valid request with key: "HTTP/1.1 101 Switching
 * Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept:
 * <accept>\r\n\r\n". 0 or -ENOMEM. */
int tk_ws_response_build(struct tk_buf *out, const char *key);

/* Appends the server's answer to a request it refuses: "HTTP/1.1 400 Bad Request" with
 * "Sec-WebSocket-Version: 13", "Content-Length: 0" and "Connection: close". 0 or -ENOMEM. */
int tk_ws_response_400_build(struct tk_buf *out);

#endif
