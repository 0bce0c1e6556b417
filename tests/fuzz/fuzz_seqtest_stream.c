/* libFuzzer harness for seqtest's header codec and stream parser: arbitrary bytes, cut into
 * reads at split points taken from the input itself, framed as requests or replies, with
 * every payload slice checked against the verify pattern. Asserts the parser's invariants:
 * nothing is consumed twice or skipped, payload slices are contiguous and inside the
 * message, every delivered header has valid sizes, and after a bad size nothing more is
 * consumed. The same bytes fed in one read must give the same messages. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seqtest/verify.h"
#include "seqtest/wire.h"

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

struct tally {
    uint64_t messages, payload_bytes, bad;
    uint64_t consumed;
    uint64_t sum; /* of seqnos, to compare the two feeds */
};

static void feed(struct wire_parser *p, const uint8_t *buf, size_t len, struct tally *t,
                 uint32_t *next_off, uint16_t *msg_len)
{
    size_t start = len;
    struct wire_event ev;
    for (;;) {
        size_t before = len;
        enum wire_event_type type = wire_parse(p, &buf, &len, &ev);
        CHECK(len <= before);
        if (type == WIRE_EV_MORE) {
            CHECK(len == 0);
            break;
        }
        if (type == WIRE_EV_BAD_SIZE) {
            CHECK(wire_parse(p, &buf, &len, &ev) == WIRE_EV_BAD_SIZE);
            CHECK(len == before || before - len <= WIRE_HDR_LEN);
            t->bad++;
            break;
        }
        if (type == WIRE_EV_HEADER) {
            CHECK(wire_check_sizes(&ev.hdr, p->kind) == WIRE_BAD_NONE);
            /* Codec round trip: encode(decode(x)) == x. */
            uint8_t b[WIRE_HDR_LEN];
            struct wire_hdr back;
            wire_hdr_encode(&ev.hdr, b);
            wire_hdr_decode(b, &back);
            CHECK(memcmp(&back, &ev.hdr, sizeof back) == 0);
            *msg_len = p->kind == WIRE_REQUESTS ? ev.hdr.ssz : ev.hdr.rsz;
            *next_off = WIRE_HDR_LEN;
            CHECK(ev.msg_stream_off + WIRE_HDR_LEN == p->stream_off);
        } else if (type == WIRE_EV_PAYLOAD) {
            CHECK(ev.offset == *next_off);
            CHECK(ev.len > 0 && ev.offset + ev.len <= *msg_len);
            size_t nbad;
            size_t first = verify_check(ev.hdr.seqno, ev.offset, ev.data, ev.len, &nbad, NULL);
            CHECK(first <= ev.len && (nbad == 0) == (first == ev.len));
            *next_off += (uint32_t)ev.len;
            t->payload_bytes += ev.len;
        } else if (type == WIRE_EV_MESSAGE) {
            CHECK(*next_off == *msg_len);
            t->messages++;
            t->sum += ev.hdr.seqno;
        }
    }
    t->consumed += start - len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    enum wire_stream kind = data[0] & 1 ? WIRE_REPLIES : WIRE_REQUESTS;
    unsigned step = data[1] | (data[2] << 8);
    data += 3;
    size -= 3;

    struct wire_parser split, whole;
    struct tally ts = {0}, tw = {0};
    uint32_t off_s = 0, off_w = 0;
    uint16_t len_s = 0, len_w = 0;
    wire_parser_init(&split, kind);
    wire_parser_init(&whole, kind);

    /* Reads of varying size: step, step*3+1, ... (mod 257), at least one byte each. */
    size_t at = 0;
    unsigned cut = step % 257 + 1;
    while (at < size && !split.failed) {
        size_t n = cut < size - at ? cut : size - at;
        feed(&split, data + at, n, &ts, &off_s, &len_s);
        at += n;
        cut = (cut * 3 + 1) % 257 + 1;
    }
    feed(&whole, data, size, &tw, &off_w, &len_w);

    CHECK(ts.messages == tw.messages);
    CHECK(ts.sum == tw.sum);
    CHECK(ts.payload_bytes == tw.payload_bytes);
    CHECK(ts.bad == tw.bad);
    CHECK(split.stream_off == whole.stream_off);
    if (!whole.failed)
        CHECK(whole.stream_off == size);
    return 0;
}
