/* flowgrind's block header: the bytes captured from the real 0.8.2 source and destination
 * (spec §5.1) decode to the documented fields and re-encode byte for byte; sizes outside the
 * accepted ranges fail with a message instead of desynchronising the stream (bug 45). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowgrind/block.h"

/* Request block from `-G s=q:C:100` (header only; the 60 payload bytes are zeros):
 * 00000064 00000000 | b9d8036b00000000 7c08160400000000 | 00 x 16 */
static const uint8_t captured_request[FG_BLOCK_HDR_LEN] = {
    0x00, 0x00, 0x00, 0x64,                         /* this_size 100, big-endian */
    0x00, 0x00, 0x00, 0x00,                         /* request_size 0 */
    0xb9, 0xd8, 0x03, 0x6b, 0x00, 0x00, 0x00, 0x00, /* tv_sec, little-endian */
    0x7c, 0x08, 0x16, 0x04, 0x00, 0x00, 0x00, 0x00, /* tv_nsec */
};

/* The destination's answer when 60 bytes were asked for: 0000003c ffffffff, then the
 * request's 16 timestamp bytes and its bytes 24..39. */
static const uint8_t captured_response[FG_BLOCK_HDR_LEN] = {
    0x00, 0x00, 0x00, 0x3c,                         /* this_size 60 */
    0xff, 0xff, 0xff, 0xff,                         /* -1: a response */
    0xb9, 0xd8, 0x03, 0x6b, 0x00, 0x00, 0x00, 0x00, /* echoed tv_sec */
    0x7c, 0x08, 0x16, 0x04, 0x00, 0x00, 0x00, 0x00, /* echoed tv_nsec */
};

static void test_decode_captured_request(void **state)
{
    (void)state;
    struct fg_block_hdr h;
    char err[128] = "";
    assert_int_equal(
        fg_block_decode(captured_request, sizeof captured_request, 8192, &h, err, sizeof err), 0);
    assert_int_equal(h.this_size, 100);
    assert_int_equal(h.request_size, 0);
    assert_false(fg_block_is_response(&h));
    assert_int_equal(h.data.tv_sec, 0x6b03d8b9);
    assert_int_equal(h.data.tv_nsec, 0x0416087c);
    static const uint8_t zeros[16];
    assert_memory_equal(h.data2, zeros, 16);
}

static void test_encode_captured_request(void **state)
{
    (void)state;
    struct fg_block_hdr h = {.this_size = 100, .request_size = 0};
    h.data.tv_sec = 0x6b03d8b9;
    h.data.tv_nsec = 0x0416087c;
    uint8_t out[FG_BLOCK_HDR_LEN + 1];
    memset(out, 0xee, sizeof out);
    fg_block_encode(&h, out);
    assert_memory_equal(out, captured_request, FG_BLOCK_HDR_LEN);
    assert_int_equal(out[FG_BLOCK_HDR_LEN], 0xee); /* exactly 40 bytes written */
}

static void test_response_echoes_request(void **state)
{
    (void)state;
    struct fg_block_hdr req, resp;
    assert_int_equal(fg_block_decode(captured_request, FG_BLOCK_HDR_LEN, 8192, &req, NULL, 0), 0);
    fg_block_response_hdr(&req, 60, &resp);
    uint8_t out[FG_BLOCK_HDR_LEN];
    fg_block_encode(&resp, out);
    assert_memory_equal(out, captured_response, FG_BLOCK_HDR_LEN);

    struct fg_block_hdr back;
    assert_int_equal(fg_block_decode(captured_response, FG_BLOCK_HDR_LEN, 8192, &back, NULL, 0), 0);
    assert_true(fg_block_is_response(&back));
    assert_int_equal(back.this_size, 60);
}

static void test_data2_and_negative_stamp_round_trip(void **state)
{
    (void)state;
    struct fg_block_hdr h = {.this_size = 8192, .request_size = 40};
    h.data.tv_sec = -2;
    h.data.tv_nsec = 999999999;
    for (int i = 0; i < 16; i++)
        h.data2[i] = (uint8_t)(0xa0 + i);
    uint8_t out[FG_BLOCK_HDR_LEN];
    fg_block_encode(&h, out);
    assert_int_equal(out[8], 0xfe); /* -2, little-endian */
    assert_int_equal(out[15], 0xff);
    assert_int_equal(out[24], 0xa0);
    assert_int_equal(out[39], 0xaf);
    struct fg_block_hdr back;
    assert_int_equal(fg_block_decode(out, sizeof out, 8192, &back, NULL, 0), 0);
    assert_int_equal(back.this_size, 8192);
    assert_int_equal(back.request_size, 40);
    assert_int_equal(back.data.tv_sec, -2);
    assert_int_equal(back.data.tv_nsec, 999999999);
    assert_memory_equal(back.data2, h.data2, 16);
}

/* Decodes a header with the given sizes against max 8192; returns the result and the text. */
static int decode_sizes(int32_t size, int32_t req, char *err, size_t errlen)
{
    struct fg_block_hdr h = {.this_size = size, .request_size = req};
    uint8_t buf[FG_BLOCK_HDR_LEN];
    fg_block_encode(&h, buf);
    struct fg_block_hdr out;
    err[0] = '\0';
    return fg_block_decode(buf, sizeof buf, 8192, &out, err, errlen);
}

static void test_size_bounds(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(decode_sizes(40, 0, err, sizeof err), 0);
    assert_int_equal(decode_sizes(8192, 0, err, sizeof err), 0);
    assert_int_equal(decode_sizes(39, 0, err, sizeof err), -EPROTO);
    assert_string_equal(err, "illegal block size 39 (accepted: 40 to 8192)");
    assert_int_equal(decode_sizes(8193, 0, err, sizeof err), -EPROTO);
    assert_string_equal(err, "illegal block size 8193 (accepted: 40 to 8192)");
    assert_int_equal(decode_sizes(-1, 0, err, sizeof err), -EPROTO);
    assert_int_equal(decode_sizes(INT32_MIN, 0, err, sizeof err), -EPROTO);
    assert_string_equal(err, "illegal block size -2147483648 (accepted: 40 to 8192)");
}

static void test_request_size_bounds(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(decode_sizes(100, -1, err, sizeof err), 0);
    assert_int_equal(decode_sizes(100, 0, err, sizeof err), 0);
    assert_int_equal(decode_sizes(100, 40, err, sizeof err), 0);
    assert_int_equal(decode_sizes(100, 8192, err, sizeof err), 0);
    assert_int_equal(decode_sizes(100, 39, err, sizeof err), -EPROTO);
    assert_string_equal(err, "illegal requested response size 39 (accepted: -1, 0, or 40 to 8192)");
    assert_int_equal(decode_sizes(100, 1, err, sizeof err), -EPROTO);
    assert_int_equal(decode_sizes(100, -2, err, sizeof err), -EPROTO);
    assert_int_equal(decode_sizes(100, 8193, err, sizeof err), -EPROTO);
}

static void test_short_input_and_bad_max(void **state)
{
    (void)state;
    struct fg_block_hdr h;
    char err[128];
    for (size_t len = 0; len < FG_BLOCK_HDR_LEN; len++)
        assert_int_equal(fg_block_decode(captured_request, len, 8192, &h, err, sizeof err),
                         -EAGAIN);
    assert_string_equal(err, "block header incomplete: 39 of 40 bytes");
    assert_int_equal(fg_block_decode(captured_request, 40, 39, &h, err, sizeof err), -EINVAL);
    assert_string_equal(err, "maximum block size 39 is below the header size 40");
    /* a small error buffer truncates and stays terminated; no buffer is fine */
    char tiny[8];
    assert_int_equal(fg_block_decode(captured_request, 40, 50, &h, tiny, sizeof tiny), -EPROTO);
    assert_string_equal(tiny, "illegal");
    assert_int_equal(fg_block_decode(captured_request, 40, 50, &h, NULL, 0), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_captured_request),
        cmocka_unit_test(test_encode_captured_request),
        cmocka_unit_test(test_response_echoes_request),
        cmocka_unit_test(test_data2_and_negative_stamp_round_trip),
        cmocka_unit_test(test_size_bounds),
        cmocka_unit_test(test_request_size_bounds),
        cmocka_unit_test(test_short_input_and_bad_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
