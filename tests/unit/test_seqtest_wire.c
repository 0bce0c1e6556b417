/* seqtest's wire format: the 40-byte header against known bytes (little-endian at the
 * original's offsets), and the stream parser split at every byte boundary, with oversize
 * and undersize size fields rejected. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "seqtest/wire.h"

static const struct wire_hdr known = {
    .seqno = 0x0102030405060708ULL,
    .ts1 = 0x1112131415161718ULL,
    .ts2 = 0x2122232425262728ULL,
    .ts3 = 0x3132333435363738ULL,
    .rdly = 0x41424344u,
    .ssz = 0x5152,
    .rsz = 0x6162,
};

/* What the original wrote on x86 for `known`: each field little-endian at its offset. */
static const uint8_t known_bytes[WIRE_HDR_LEN] = {
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* seqno */
    0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, /* ts1 */
    0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, /* ts2 */
    0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31, /* ts3 */
    0x44, 0x43, 0x42, 0x41,                         /* rdly */
    0x52, 0x51,                                     /* ssz */
    0x62, 0x61,                                     /* rsz */
};

static void test_encode_known_bytes(void **state)
{
    (void)state;
    uint8_t out[WIRE_HDR_LEN + 1];
    memset(out, 0xEE, sizeof out);
    wire_hdr_encode(&known, out);
    for (int i = 0; i < WIRE_HDR_LEN; i++)
        assert_int_equal(out[i], known_bytes[i]);
    assert_int_equal(out[WIRE_HDR_LEN], 0xEE); /* writes exactly 40 bytes */
}

static void test_decode_known_bytes(void **state)
{
    (void)state;
    struct wire_hdr h;
    wire_hdr_decode(known_bytes, &h);
    assert_true(h.seqno == known.seqno);
    assert_true(h.ts1 == known.ts1);
    assert_true(h.ts2 == known.ts2);
    assert_true(h.ts3 == known.ts3);
    assert_int_equal(h.rdly, known.rdly);
    assert_int_equal(h.ssz, known.ssz);
    assert_int_equal(h.rsz, known.rsz);
}

/* A realistic request as the original sends it: seqno 5, ts1, ts2 = ts3 = 0, rdly 1000,
 * ssz 100, rsz 40. */
static void test_encode_typical_request(void **state)
{
    (void)state;
    struct wire_hdr h = {5, 1000000007ULL, 0, 0, 1000, 100, 40};
    uint8_t b[WIRE_HDR_LEN];
    wire_hdr_encode(&h, b);
    assert_int_equal(b[0], 5);
    for (int i = 1; i < 8; i++)
        assert_int_equal(b[i], 0);
    /* 1000000007 = 0x3B9ACA07 */
    assert_int_equal(b[8], 0x07);
    assert_int_equal(b[9], 0xCA);
    assert_int_equal(b[10], 0x9A);
    assert_int_equal(b[11], 0x3B);
    for (int i = 16; i < 32; i++)
        assert_int_equal(b[i], 0);
    assert_int_equal(b[32], 0xE8); /* 1000 = 0x3E8 */
    assert_int_equal(b[33], 0x03);
    assert_int_equal(b[36], 100);
    assert_int_equal(b[37], 0);
    assert_int_equal(b[38], 40);
    assert_int_equal(b[39], 0);
}

static void test_check_sizes(void **state)
{
    (void)state;
    struct wire_hdr h = {0};
    h.ssz = 40;
    h.rsz = 0;
    assert_int_equal(wire_check_sizes(&h, WIRE_REQUESTS), WIRE_BAD_NONE);
    h.ssz = 8000;
    h.rsz = 8000;
    assert_int_equal(wire_check_sizes(&h, WIRE_REQUESTS), WIRE_BAD_NONE);
    h.ssz = 39;
    assert_int_equal(wire_check_sizes(&h, WIRE_REQUESTS), WIRE_BAD_SSZ);
    h.ssz = 8001;
    assert_int_equal(wire_check_sizes(&h, WIRE_REQUESTS), WIRE_BAD_SSZ);
    h.ssz = 40;
    h.rsz = 39;
    assert_int_equal(wire_check_sizes(&h, WIRE_REQUESTS), WIRE_BAD_RSZ);
    h.rsz = 1;
    assert_int_equal(wire_check_sizes(&h, WIRE_REQUESTS), WIRE_BAD_RSZ);
    h.rsz = 65535;
    assert_int_equal(wire_check_sizes(&h, WIRE_REQUESTS), WIRE_BAD_RSZ);
    /* A reply is framed by rsz, which must be 40..8000 (0 is not a reply). */
    h.ssz = 40;
    h.rsz = 0;
    assert_int_equal(wire_check_sizes(&h, WIRE_REPLIES), WIRE_BAD_RSZ);
    h.rsz = 40;
    assert_int_equal(wire_check_sizes(&h, WIRE_REPLIES), WIRE_BAD_NONE);
    h.ssz = 0;
    assert_int_equal(wire_check_sizes(&h, WIRE_REPLIES), WIRE_BAD_SSZ);
    h.ssz = 40;
    h.rsz = 8001;
    assert_int_equal(wire_check_sizes(&h, WIRE_REPLIES), WIRE_BAD_RSZ);
}

/* ---- stream parser --------------------------------------------------------------------- */

#define NMSG 5

/* Requests of sizes 40, 41, 100, 8000, 40 whose payload byte k of message m is (m*31 + k). */
static size_t build_stream(uint8_t *buf, uint16_t *sizes)
{
    static const uint16_t sz[NMSG] = {40, 41, 100, 8000, 40};
    size_t len = 0;
    for (int m = 0; m < NMSG; m++) {
        struct wire_hdr h = {(uint64_t)m, 1000 + (uint64_t)m, 0, 0, 0, sz[m], m % 2 ? 0 : 40};
        wire_hdr_encode(&h, buf + len);
        for (unsigned k = WIRE_HDR_LEN; k < sz[m]; k++)
            buf[len + k] = (uint8_t)(m * 31 + k);
        len += sz[m];
        sizes[m] = sz[m];
    }
    return len;
}

struct seen {
    int headers, messages;
    uint64_t seqno[NMSG];
    uint32_t next_offset; /* payload bytes must come contiguously from 40 */
    uint64_t msg_start[NMSG];
    int bad_payload;
};

static void feed(struct wire_parser *p, const uint8_t *buf, size_t len, struct seen *s,
                 const uint16_t *sizes)
{
    struct wire_event ev;
    enum wire_event_type t;
    while ((t = wire_parse(p, &buf, &len, &ev)) != WIRE_EV_MORE) {
        assert_int_not_equal(t, WIRE_EV_BAD_SIZE);
        if (t == WIRE_EV_HEADER) {
            assert_true(s->headers < NMSG);
            s->seqno[s->headers] = ev.hdr.seqno;
            s->msg_start[s->headers] = ev.msg_stream_off;
            s->headers++;
            s->next_offset = WIRE_HDR_LEN;
        } else if (t == WIRE_EV_PAYLOAD) {
            int m = s->headers - 1;
            assert_int_equal(ev.offset, s->next_offset);
            assert_true(ev.len > 0);
            for (size_t i = 0; i < ev.len; i++)
                if (ev.data[i] != (uint8_t)(m * 31 + ev.offset + i))
                    s->bad_payload++;
            s->next_offset += (uint32_t)ev.len;
        } else if (t == WIRE_EV_MESSAGE) {
            int m = s->headers - 1;
            assert_int_equal(s->messages, m);
            assert_int_equal(s->next_offset, sizes[m]);
            assert_true(ev.hdr.seqno == (uint64_t)m);
            s->messages++;
        }
    }
    assert_int_equal(len, 0);
}

static void check_seen(const struct seen *s, const uint16_t *sizes)
{
    assert_int_equal(s->headers, NMSG);
    assert_int_equal(s->messages, NMSG);
    assert_int_equal(s->bad_payload, 0);
    uint64_t off = 0;
    for (int m = 0; m < NMSG; m++) {
        assert_true(s->seqno[m] == (uint64_t)m);
        assert_true(s->msg_start[m] == off);
        off += sizes[m];
    }
}

static void test_parser_whole(void **state)
{
    (void)state;
    static uint8_t buf[NMSG * WIRE_MSG_MAX];
    uint16_t sizes[NMSG];
    size_t len = build_stream(buf, sizes);
    struct wire_parser p;
    struct seen s = {0};
    wire_parser_init(&p, WIRE_REQUESTS);
    feed(&p, buf, len, &s, sizes);
    check_seen(&s, sizes);
    assert_true(wire_parser_idle(&p));
    assert_true(p.stream_off == len);
}

/* Every split point of the stream into two reads gives the same messages. */
static void test_parser_every_split(void **state)
{
    (void)state;
    static uint8_t buf[NMSG * WIRE_MSG_MAX];
    uint16_t sizes[NMSG];
    size_t len = build_stream(buf, sizes);
    for (size_t cut = 0; cut <= len; cut++) {
        struct wire_parser p;
        struct seen s = {0};
        wire_parser_init(&p, WIRE_REQUESTS);
        feed(&p, buf, cut, &s, sizes);
        feed(&p, buf + cut, len - cut, &s, sizes);
        check_seen(&s, sizes);
    }
}

/* One byte per read: the worst case for a partial header. */
static void test_parser_byte_by_byte(void **state)
{
    (void)state;
    static uint8_t buf[NMSG * WIRE_MSG_MAX];
    uint16_t sizes[NMSG];
    size_t len = build_stream(buf, sizes);
    struct wire_parser p;
    struct seen s = {0};
    wire_parser_init(&p, WIRE_REQUESTS);
    for (size_t i = 0; i < len; i++) {
        feed(&p, buf + i, 1, &s, sizes);
        assert_int_equal(wire_parser_idle(&p),
                         s.messages == NMSG || (s.messages == s.headers && p.hdr_len == 0));
    }
    check_seen(&s, sizes);
}

static void expect_bad(enum wire_stream kind, uint16_t ssz, uint16_t rsz, enum wire_bad_field field)
{
    uint8_t b[WIRE_HDR_LEN + 10];
    struct wire_hdr h = {7, 1, 0, 0, 0, ssz, rsz};
    wire_hdr_encode(&h, b);
    memset(b + WIRE_HDR_LEN, 0, 10);
    struct wire_parser p;
    wire_parser_init(&p, kind);
    const uint8_t *in = b;
    size_t len = sizeof b;
    struct wire_event ev;
    assert_int_equal(wire_parse(&p, &in, &len, &ev), WIRE_EV_BAD_SIZE);
    assert_int_equal(ev.bad_field, field);
    assert_true(ev.hdr.seqno == 7);
    assert_int_equal(len, 10); /* stopped right after the bad header */
    /* The framing is lost: the parser refuses everything after. */
    assert_int_equal(wire_parse(&p, &in, &len, &ev), WIRE_EV_BAD_SIZE);
    assert_int_equal(len, 10);
}

static void test_parser_rejects_bad_sizes(void **state)
{
    (void)state;
    expect_bad(WIRE_REQUESTS, 39, 0, WIRE_BAD_SSZ);
    expect_bad(WIRE_REQUESTS, 0, 0, WIRE_BAD_SSZ);
    expect_bad(WIRE_REQUESTS, 8001, 40, WIRE_BAD_SSZ);
    expect_bad(WIRE_REQUESTS, 65535, 40, WIRE_BAD_SSZ);
    expect_bad(WIRE_REQUESTS, 40, 20, WIRE_BAD_RSZ);
    expect_bad(WIRE_REQUESTS, 40, 9000, WIRE_BAD_RSZ);
    expect_bad(WIRE_REPLIES, 40, 0, WIRE_BAD_RSZ);
    expect_bad(WIRE_REPLIES, 40, 39, WIRE_BAD_RSZ);
    expect_bad(WIRE_REPLIES, 40, 8001, WIRE_BAD_RSZ);
    expect_bad(WIRE_REPLIES, 30000, 40, WIRE_BAD_SSZ);
}

/* Replies are framed by rsz, not ssz. */
static void test_parser_replies_framed_by_rsz(void **state)
{
    (void)state;
    uint8_t b[200];
    struct wire_hdr h = {0, 1, 2, 3, 0, 8000, 100}; /* echoes an 8000-byte request */
    wire_hdr_encode(&h, b);
    memset(b + 40, 0xAB, 60);
    h.seqno = 1;
    h.rsz = 40;
    wire_hdr_encode(&h, b + 100);
    struct wire_parser p;
    wire_parser_init(&p, WIRE_REPLIES);
    const uint8_t *in = b;
    size_t len = 140;
    struct wire_event ev;
    int messages = 0;
    size_t payload = 0;
    enum wire_event_type t;
    while ((t = wire_parse(&p, &in, &len, &ev)) != WIRE_EV_MORE) {
        assert_int_not_equal(t, WIRE_EV_BAD_SIZE);
        if (t == WIRE_EV_PAYLOAD)
            payload += ev.len;
        if (t == WIRE_EV_MESSAGE)
            assert_true(ev.hdr.seqno == (uint64_t)messages++);
    }
    assert_int_equal(messages, 2);
    assert_int_equal(payload, 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_known_bytes),
        cmocka_unit_test(test_decode_known_bytes),
        cmocka_unit_test(test_encode_typical_request),
        cmocka_unit_test(test_check_sizes),
        cmocka_unit_test(test_parser_whole),
        cmocka_unit_test(test_parser_every_split),
        cmocka_unit_test(test_parser_byte_by_byte),
        cmocka_unit_test(test_parser_rejects_bad_sizes),
        cmocka_unit_test(test_parser_replies_framed_by_rsz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
