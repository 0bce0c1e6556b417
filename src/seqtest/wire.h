#ifndef NETGRIND_SEQTEST_WIRE_H
#define NETGRIND_SEQTEST_WIRE_H

/* seqtest's wire format: every message and every reply starts with a 40-byte header,
 * little-endian (the original wrote its struct in host order, and runs on x86):
 *
 *   off size field  request                       reply
 *     0   8  seqno  sender's message counter      replier's reply counter
 *     8   8  ts1    sender clock at send          echoes the request's ts1
 *    16   8  ts2    0 (verify: tag | conn id)     replier clock at receive
 *    24   8  ts3    0 (verify: check value)       replier clock at send
 *    32   4  rdly   reply delay in ns             echoed
 *    36   2  ssz    total request size            echoed
 *    38   2  rsz    total reply size (0: none)    echoed; the reply is rsz bytes
 *
 * The size fields are the only framing. The stream parser below frames a byte stream of
 * requests (by ssz) or replies (by rsz) incrementally, whatever the split of the bytes into
 * reads, validates the size fields, and yields each header and the payload as slices of
 * the caller's buffer: it never copies a payload, so a connection needs only the 40 bytes
 * of a partial header. Pure; no allocation. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR_LEN 40
#define WIRE_MSG_MAX 8000

struct wire_hdr {
    uint64_t seqno;
    uint64_t ts1, ts2, ts3;
    uint32_t rdly;
    uint16_t ssz, rsz;
};

/* Serialises h into out[0..39], each field little-endian at its offset. */
void wire_hdr_encode(const struct wire_hdr *h, uint8_t *out);
/* Reads a header from in[0..39]. */
void wire_hdr_decode(const uint8_t *in, struct wire_hdr *h);

/* Which size fields a header of this stream must satisfy. A request is framed by ssz
 * (40..8000) and may ask for no reply (rsz 0) or for 40..8000 bytes; a reply is framed by
 * rsz (40..8000) and echoes a request's ssz (40..8000). */
enum wire_stream {
    WIRE_REQUESTS,
    WIRE_REPLIES,
};

enum wire_bad_field {
    WIRE_BAD_NONE,
    WIRE_BAD_SSZ,
    WIRE_BAD_RSZ,
};

/* Checks the size fields of h for the given stream. Returns WIRE_BAD_NONE or the first bad
 * field. */
enum wire_bad_field wire_check_sizes(const struct wire_hdr *h, enum wire_stream kind);

enum wire_event_type {
    WIRE_EV_MORE,     /* the input is used up; call again with the next bytes */
    WIRE_EV_HEADER,   /* a complete header with valid sizes: ev.hdr, ev.msg_stream_off */
    WIRE_EV_PAYLOAD,  /* ev.data[0..ev.len) are bytes ev.offset.. of the current message */
    WIRE_EV_MESSAGE,  /* the current message is complete (ev.hdr is its header again) */
    WIRE_EV_BAD_SIZE, /* a header with an invalid size field: ev.bad_field, ev.hdr; the
                       * framing is lost and the parser refuses further input */
};

struct wire_event {
    enum wire_event_type type;
    struct wire_hdr hdr;
    const uint8_t *data; /* WIRE_EV_PAYLOAD: points into the caller's buffer */
    size_t len;
    uint32_t offset;         /* WIRE_EV_PAYLOAD: offset of data[0] within the message */
    uint64_t msg_stream_off; /* stream offset of the current message's first byte */
    enum wire_bad_field bad_field;
};

struct wire_parser {
    enum wire_stream kind;
    bool failed;         /* after WIRE_EV_BAD_SIZE */
    bool in_message;     /* the header is complete and the payload is being delivered */
    uint8_t hdr_len;     /* bytes of the header collected so far */
    uint16_t msg_len;    /* total size of the current message (valid when in_message) */
    uint16_t msg_have;   /* bytes of the current message consumed so far */
    uint64_t stream_off; /* bytes consumed since the start of the stream */
    uint64_t msg_start;  /* stream offset of the current message's first byte */
    struct wire_hdr hdr; /* the current message's header */
    uint8_t hdr_buf[WIRE_HDR_LEN];
};

void wire_parser_init(struct wire_parser *p, enum wire_stream kind);

/* Consumes bytes from *buf (advancing *buf and decreasing *len) until the next event, and
 * returns it in *ev. Call in a loop until it returns WIRE_EV_MORE (all input used) or
 * WIRE_EV_BAD_SIZE. After WIRE_EV_BAD_SIZE it consumes nothing and returns
 * WIRE_EV_BAD_SIZE again. Payload slices are never longer than what is in *buf,
 * so a message split across reads comes as several WIRE_EV_PAYLOAD events. */
enum wire_event_type wire_parse(struct wire_parser *p, const uint8_t **buf, size_t *len,
                                struct wire_event *ev);

/* True when the parser is between messages (no partial header or payload pending). */
static inline bool wire_parser_idle(const struct wire_parser *p)
{
    return !p->in_message && p->hdr_len == 0;
}

#endif
