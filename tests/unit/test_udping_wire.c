/* UDPing's datagram codec: the 72-byte generation-1 header against known bytes (every
 * field little-endian at the original's x86-64 offset, padding zero), decoding of data and
 * control packets, every bad verdict in the original's order, and the exact warning texts. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "udping/wire.h"

static const struct udping_hdr known = {
    .proto_version = 1,
    .client_start = 0x0102030405060708LL,
    .guid = "0123456789abcdef4567",
    .seq = 0x11121314u,
    .sent_sec = 0x2122232425262728LL,
    .sent_nsec = 0x0000000031323334LL,
    .size = 0x000000A0u, /* 160 */
};

/* What the original writes on x86-64 for `known` (spec §3.2). */
static const uint8_t known_bytes[UDPING_HDR_LEN] = {
    0x01, 0, 0, 0, 0, 0, 0, 0,                      /*  0: proto_version, 7 padding */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /*  8: client_start */
    '0', '1', '2', '3', '4', '5', '6', '7',         /* 16: guid */
    '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',         /* 24 */
    '4', '5', '6', '7', 0,                          /* 32..36: guid end and its NUL */
    0, 0, 0,                                        /* 37: padding */
    0x14, 0x13, 0x12, 0x11, 0, 0, 0, 0,             /* 40: seq, 4 padding */
    0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, /* 48: sent_sec */
    0x34, 0x33, 0x32, 0x31, 0, 0, 0, 0,             /* 56: sent_nsec */
    0xA0, 0, 0, 0, 0, 0, 0, 0,                      /* 64: size, 4 padding */
};

/* A datagram of len bytes: the header of h then zero bytes. */
static uint8_t *datagram(const struct udping_hdr *h, size_t len)
{
    uint8_t *b = calloc(1, len > UDPING_HDR_LEN ? len : UDPING_HDR_LEN);
    assert_non_null(b);
    udping_hdr_encode(h, b);
    return b;
}

static struct udping_hdr data_hdr(uint32_t size)
{
    struct udping_hdr h = known;
    h.sent_nsec = 123456789;
    h.size = size;
    return h;
}

static void test_encode_known_bytes(void **state)
{
    (void)state;
    uint8_t out[UDPING_HDR_LEN + 1];
    memset(out, 0xEE, sizeof out);
    udping_hdr_encode(&known, out);
    assert_memory_equal(out, known_bytes, UDPING_HDR_LEN);
    assert_int_equal(out[UDPING_HDR_LEN], 0xEE); /* exactly 72 bytes */
}

static void test_encode_zeroes_padding(void **state)
{
    (void)state;
    /* All fields at their largest: every byte outside a field must still be 0. */
    struct udping_hdr h = {
        .proto_version = 0xFF,
        .client_start = -1,
        .guid = "ffffffffffffffffffff",
        .seq = UINT32_MAX,
        .sent_sec = -1,
        .sent_nsec = -1,
        .size = UINT32_MAX,
    };
    uint8_t out[UDPING_HDR_LEN];
    memset(out, 0xAB, sizeof out);
    udping_hdr_encode(&h, out);
    static const struct {
        int off, len;
    } pads[] = {{1, 7}, {36, 4}, {44, 4}, {68, 4}};
    for (size_t p = 0; p < sizeof pads / sizeof pads[0]; p++)
        for (int i = 0; i < pads[p].len; i++)
            assert_int_equal(out[pads[p].off + i], 0);
    for (int i = 8; i < 16; i++)
        assert_int_equal(out[i], 0xFF);
    for (int i = 40; i < 44; i++)
        assert_int_equal(out[i], 0xFF);
    for (int i = 48; i < 64; i++)
        assert_int_equal(out[i], 0xFF);
    for (int i = 64; i < 68; i++)
        assert_int_equal(out[i], 0xFF);
}

static void test_encode_short_guid_is_nul_padded(void **state)
{
    (void)state;
    struct udping_hdr h = known;
    strcpy(h.guid, "abc");
    uint8_t out[UDPING_HDR_LEN];
    memset(out, 0xAB, sizeof out);
    udping_hdr_encode(&h, out);
    assert_memory_equal(out + 16, "abc", 3);
    for (int i = 19; i < 40; i++)
        assert_int_equal(out[i], 0);
}

static void test_decode_known_bytes(void **state)
{
    (void)state;
    uint8_t buf[160] = {0};
    memcpy(buf, known_bytes, UDPING_HDR_LEN);
    struct udping_hdr h;
    /* known's sent_nsec (0x31323334 = 825373492) is a valid nanosecond count */
    assert_int_equal(udping_hdr_decode(buf, sizeof buf, &h), UDPING_OK_DATA);
    assert_int_equal(h.proto_version, 1);
    assert_true(h.client_start == known.client_start);
    assert_string_equal(h.guid, known.guid);
    assert_int_equal(h.seq, known.seq);
    assert_true(h.sent_sec == known.sent_sec);
    assert_true(h.sent_nsec == known.sent_nsec);
    assert_int_equal(h.size, 160);
}

static void test_round_trip_negative_and_wide_values(void **state)
{
    (void)state;
    struct udping_hdr h = {
        .proto_version = 1,
        .client_start = -5,
        .guid = "00000000000000000000",
        .seq = 0xFFFFFFFFu,
        .sent_sec = INT64_MIN,
        .sent_nsec = 999999999,
        .size = UDPING_HDR_LEN,
    };
    uint8_t b[UDPING_HDR_LEN];
    udping_hdr_encode(&h, b);
    struct udping_hdr d;
    assert_int_equal(udping_hdr_decode(b, sizeof b, &d), UDPING_OK_DATA);
    assert_true(d.client_start == -5);
    assert_true(d.seq == 0xFFFFFFFFu);
    assert_true(d.sent_sec == INT64_MIN);
    assert_true(d.sent_nsec == 999999999);
}

static void test_decode_accepts_largest_and_uppercase(void **state)
{
    (void)state;
    struct udping_hdr h = data_hdr(UDPING_MAX_PAYLOAD);
    strcpy(h.guid, "ABCDEF0123456789abcd");
    uint8_t *b = datagram(&h, UDPING_MAX_PAYLOAD);
    struct udping_hdr d;
    assert_int_equal(udping_hdr_decode(b, UDPING_MAX_PAYLOAD, &d), UDPING_OK_DATA);
    assert_string_equal(d.guid, "ABCDEF0123456789abcd");
    free(b);
}

static void test_control_packet(void **state)
{
    (void)state;
    struct udping_hdr h = {
        .proto_version = UDPING_PROTO_CONTROL,
        .client_start = 1700000000,
        .guid = "73a6427709ce72f132d1",
        .seq = 42,
        .size = UDPING_HDR_LEN,
    };
    uint8_t b[UDPING_HDR_LEN];
    udping_hdr_encode(&h, b);
    assert_int_equal(b[0], 0x81);
    struct udping_hdr d;
    assert_int_equal(udping_hdr_decode(b, sizeof b, &d), UDPING_OK_CONTROL);
    assert_int_equal(d.seq, 42);
    assert_string_equal(d.guid, "73a6427709ce72f132d1");
}

/* The original's checks first and in its order: length, size field, version. */
static void test_bad_short(void **state)
{
    (void)state;
    struct udping_hdr h = data_hdr(UDPING_HDR_LEN);
    uint8_t *b = datagram(&h, UDPING_HDR_LEN);
    struct udping_hdr d;
    char text[200];
    for (size_t len = 0; len < UDPING_HDR_LEN; len++) {
        assert_int_equal(udping_hdr_decode(b, len, &d), UDPING_BAD_SHORT);
    }
    assert_int_equal(udping_hdr_decode(b, 71, &d), UDPING_BAD_SHORT);
    assert_string_equal(udping_verdict_text(UDPING_BAD_SHORT, &d, 71, text, sizeof text),
                        "Malformed packet - size 71 is less than header size 72");
    assert_int_equal(udping_hdr_decode(b, 0, &d), UDPING_BAD_SHORT);
    assert_string_equal(udping_verdict_text(UDPING_BAD_SHORT, &d, 0, text, sizeof text),
                        "Malformed packet - size 0 is less than header size 72");
    /* a short datagram still yields the fields it holds */
    assert_int_equal(udping_hdr_decode(b, 44, &d), UDPING_BAD_SHORT);
    assert_int_equal(d.seq, h.seq);
    assert_int_equal(d.size, 0);
    free(b);
}

static void test_bad_size(void **state)
{
    (void)state;
    struct udping_hdr h = data_hdr(100);
    uint8_t *b = datagram(&h, 100);
    struct udping_hdr d;
    char text[200];
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_SIZE);
    assert_string_equal(udping_verdict_text(UDPING_BAD_SIZE, &d, 72, text, sizeof text),
                        "Malformed packet - expected 100, got 72");
    assert_int_equal(udping_hdr_decode(b, 99, &d), UDPING_BAD_SIZE);
    /* the size check comes before the version check, as the original's */
    b[0] = 7;
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_SIZE);
    free(b);
    h.size = 0xFFFFFFFFu;
    b = datagram(&h, 72);
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_SIZE);
    assert_string_equal(udping_verdict_text(UDPING_BAD_SIZE, &d, 72, text, sizeof text),
                        "Malformed packet - expected 4294967295, got 72");
    free(b);
}

static void test_bad_version(void **state)
{
    (void)state;
    struct udping_hdr h = data_hdr(72);
    uint8_t *b = datagram(&h, 72);
    struct udping_hdr d;
    char text[200];
    static const uint8_t bad[] = {0, 2, 7, 0x80, 0x82, 0xFF};
    for (size_t i = 0; i < sizeof bad; i++) {
        b[0] = bad[i];
        assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_VERSION);
    }
    b[0] = 7;
    udping_hdr_decode(b, 72, &d);
    assert_string_equal(udping_verdict_text(UDPING_BAD_VERSION, &d, 72, text, sizeof text),
                        "Incorrect protocol version.  Expected 1, got 7");
    b[0] = 0xFF;
    udping_hdr_decode(b, 72, &d);
    assert_string_equal(udping_verdict_text(UDPING_BAD_VERSION, &d, 72, text, sizeof text),
                        "Incorrect protocol version.  Expected 1, got 255");
    free(b);
}

static void test_bad_guid(void **state)
{
    (void)state;
    struct udping_hdr h = data_hdr(72);
    struct udping_hdr d;
    char text[200];
    uint8_t *b = datagram(&h, 72);
    b[16 + 5] = 'g'; /* not hex */
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_GUID);
    assert_string_equal(udping_verdict_text(UDPING_BAD_GUID, &d, 72, text, sizeof text),
                        "Malformed packet - GUID is not 20 hex digits");
    b[16 + 5] = '0';
    b[16 + 20] = 'x'; /* no NUL after the 20 characters */
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_GUID);
    assert_int_equal(strlen(d.guid), 20); /* always terminated, whatever came */
    b[16 + 20] = 0;
    b[16 + 19] = 0; /* only 19 characters */
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_GUID);
    b[16 + 19] = '"'; /* a quote would break the JSON line */
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_GUID);
    free(b);
}

static void test_bad_control(void **state)
{
    (void)state;
    struct udping_hdr h = data_hdr(100);
    h.proto_version = UDPING_PROTO_CONTROL;
    uint8_t *b = datagram(&h, 100);
    struct udping_hdr d;
    char text[200];
    assert_int_equal(udping_hdr_decode(b, 100, &d), UDPING_BAD_CONTROL);
    assert_string_equal(udping_verdict_text(UDPING_BAD_CONTROL, &d, 100, text, sizeof text),
                        "Malformed control packet - size 100, expected 72");
    free(b);
}

static void test_bad_time(void **state)
{
    (void)state;
    struct udping_hdr h = data_hdr(72);
    struct udping_hdr d;
    char text[200];
    h.sent_nsec = 1000000000;
    uint8_t *b = datagram(&h, 72);
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_TIME);
    assert_string_equal(udping_verdict_text(UDPING_BAD_TIME, &d, 72, text, sizeof text),
                        "Malformed packet - sent nanoseconds 1000000000 out of range");
    free(b);
    h.sent_nsec = -1;
    b = datagram(&h, 72);
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_BAD_TIME);
    assert_string_equal(udping_verdict_text(UDPING_BAD_TIME, &d, 72, text, sizeof text),
                        "Malformed packet - sent nanoseconds -1 out of range");
    free(b);
    /* a control packet's time is not looked at (it is zero by contract) */
    h.proto_version = UDPING_PROTO_CONTROL;
    b = datagram(&h, 72);
    assert_int_equal(udping_hdr_decode(b, 72, &d), UDPING_OK_CONTROL);
    free(b);
}

static void test_padding_is_not_checked(void **state)
{
    (void)state;
    /* The original never looks at padding; neither does netgrind (a sender's garbage in
     * padding is harmless). */
    struct udping_hdr h = data_hdr(80);
    uint8_t *b = datagram(&h, 80);
    struct udping_hdr d;
    b[3] = 0x55;
    b[38] = 0x55;
    b[46] = 0x55;
    b[70] = 0x55;
    b[79] = 0x55;
    assert_int_equal(udping_hdr_decode(b, 80, &d), UDPING_OK_DATA);
    free(b);
}

static void test_verdict_text_small_buffer(void **state)
{
    (void)state;
    struct udping_hdr d = {.size = 100};
    char text[8];
    udping_verdict_text(UDPING_BAD_SIZE, &d, 72, text, sizeof text);
    assert_string_equal(text, "Malform");
    assert_string_equal(udping_verdict_text(UDPING_OK_DATA, &d, 72, text, 0), "Malform");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_known_bytes),
        cmocka_unit_test(test_encode_zeroes_padding),
        cmocka_unit_test(test_encode_short_guid_is_nul_padded),
        cmocka_unit_test(test_decode_known_bytes),
        cmocka_unit_test(test_round_trip_negative_and_wide_values),
        cmocka_unit_test(test_decode_accepts_largest_and_uppercase),
        cmocka_unit_test(test_control_packet),
        cmocka_unit_test(test_bad_short),
        cmocka_unit_test(test_bad_size),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_guid),
        cmocka_unit_test(test_bad_control),
        cmocka_unit_test(test_bad_time),
        cmocka_unit_test(test_padding_is_not_checked),
        cmocka_unit_test(test_verdict_text_small_buffer),
    };
    return cmocka_run_group_tests_name("udping_wire", tests, NULL, NULL);
}
