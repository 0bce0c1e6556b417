/* seqtest -o verify: the payload pattern (any offset computable alone, the checker finds the
 * first wrong byte and counts them), the request header's tag and check value (every bit
 * of every field matters), and pinned values so that two netgrind versions stay
 * compatible. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "seqtest/verify.h"

static void test_fill_any_offset(void **state)
{
    (void)state;
    uint8_t whole[WIRE_MSG_MAX];
    uint64_t key = verify_key(3, VERIFY_REQUEST, 17, 123456789);
    verify_fill(key, 0, whole, sizeof whole);
    /* Every (offset, length) piece equals the same bytes of the whole. */
    for (uint32_t off = 0; off < 80; off++)
        for (size_t len = 0; len < 40; len++) {
            uint8_t piece[64];
            verify_fill(key, off, piece, len);
            assert_memory_equal(piece, whole + off, len);
        }
    uint8_t tail[100];
    verify_fill(key, WIRE_MSG_MAX - 100, tail, sizeof tail);
    assert_memory_equal(tail, whole + WIRE_MSG_MAX - 100, sizeof tail);
}

static void test_keys_differ(void **state)
{
    (void)state;
    uint64_t k = verify_key(1, VERIFY_REQUEST, 5, 1000);
    assert_true(k != verify_key(2, VERIFY_REQUEST, 5, 1000));
    assert_true(k != verify_key(1, VERIFY_REPLY, 5, 1000));
    assert_true(k != verify_key(1, VERIFY_REQUEST, 6, 1000));
    assert_true(k != verify_key(1, VERIFY_REQUEST, 5, 1001));
    uint8_t a[64], b[64];
    verify_fill(k, 40, a, sizeof a);
    verify_fill(verify_key(1, VERIFY_REQUEST, 6, 1000), 40, b, sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_check(void **state)
{
    (void)state;
    uint64_t key = verify_key(0, VERIFY_REPLY, 0, 42);
    uint8_t buf[1000];
    verify_fill(key, 40, buf, sizeof buf);
    size_t nbad = 99;
    uint8_t want = 0;
    assert_int_equal(verify_check(key, 40, buf, sizeof buf, &nbad, &want), sizeof buf);
    assert_int_equal(nbad, 0);
    uint8_t orig300 = buf[300];
    buf[300] ^= 0x10;
    buf[301] ^= 0xFF;
    buf[999] ^= 0x01;
    assert_int_equal(verify_check(key, 40, buf, sizeof buf, &nbad, &want), 300);
    assert_int_equal(nbad, 3);
    assert_int_equal(want, orig300);
    /* A slice checked at its own offset. */
    assert_int_equal(verify_check(key, 40 + 301, buf + 301, 10, &nbad, NULL), 0);
    assert_int_equal(nbad, 1);
    /* Zeros (a payload sent without -o verify) do not pass. */
    uint8_t zeros[64] = {0};
    assert_true(verify_check(key, 40, zeros, sizeof zeros, &nbad, NULL) < sizeof zeros);
    assert_true(nbad > 50);
}

/* A payload fed in slices: the tracker keeps the first wrong byte (its message offset, the
 * byte received and the byte expected) and counts every wrong byte across the slices. */
static void test_tracker_slices(void **state)
{
    (void)state;
    uint64_t key = verify_key(7, VERIFY_REQUEST, 3, 99);
    uint8_t payload[500];
    verify_fill(key, 40, payload, sizeof payload);
    struct verify_tracker t;
    verify_tracker_start(&t, key);
    verify_tracker_feed(&t, 40, payload, 100);
    assert_int_equal(t.nbad, 0);
    uint8_t want210 = payload[170];
    payload[170] ^= 0x0F; /* message offset 210 */
    payload[171] ^= 0x80;
    payload[499] ^= 0x01;
    verify_tracker_feed(&t, 140, payload + 100, 71);  /* ends at message offset 210 */
    verify_tracker_feed(&t, 211, payload + 171, 329); /* the rest */
    assert_int_equal(t.nbad, 3);
    assert_int_equal(t.first, 210);
    assert_int_equal(t.got, want210 ^ 0x0F);
    assert_int_equal(t.want, want210);
    /* Starting again forgets the previous message. */
    verify_tracker_start(&t, key);
    assert_int_equal(t.nbad, 0);
    assert_true(t.key == key);
}

static void test_request_seal(void **state)
{
    (void)state;
    struct wire_hdr h = {7, 123456789, 0, 0, 1000, 200, 40};
    verify_seal_request(&h, 42);
    assert_true(h.ts2 == (((uint64_t)VERIFY_TAG << 32) | 42));
    uint32_t conn = 0;
    assert_true(verify_request_ok(&h, &conn));
    assert_int_equal(conn, 42);
    /* Any single bit flip of the 40 bytes is caught. */
    uint8_t bytes[WIRE_HDR_LEN];
    wire_hdr_encode(&h, bytes);
    for (int bit = 0; bit < WIRE_HDR_LEN * 8; bit++) {
        uint8_t b[WIRE_HDR_LEN];
        memcpy(b, bytes, sizeof b);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct wire_hdr d;
        wire_hdr_decode(b, &d);
        assert_false(verify_request_ok(&d, &conn));
    }
    /* The original's request (ts2 = ts3 = 0) is not a verified one. */
    struct wire_hdr plain = {7, 123456789, 0, 0, 1000, 200, 40};
    assert_false(verify_request_ok(&plain, &conn));
    assert_false(verify_parse_ts2(0, &conn));
}

/* Pinned: the pattern and check value are part of the wire between netgrind versions. */
static void test_pinned_values(void **state)
{
    (void)state;
    assert_true(verify_mix64(0) == 0);
    assert_true(verify_mix64(1) == 0x5692161D100B05E5ULL);
    struct wire_hdr h = {1, 2, 0, 0, 3, 40, 40};
    verify_seal_request(&h, 0);
    assert_true(h.ts3 == 0x5c9d4473954405afULL);
    uint8_t a[8];
    static const uint8_t want[8] = {0x49, 0x5b, 0x41, 0x3a, 0xe6, 0x64, 0x6c, 0xcf};
    verify_fill(verify_key(0, VERIFY_REQUEST, 0, 0), 40, a, 8);
    assert_memory_equal(a, want, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_any_offset), cmocka_unit_test(test_keys_differ),
        cmocka_unit_test(test_check),           cmocka_unit_test(test_request_seal),
        cmocka_unit_test(test_pinned_values),   cmocka_unit_test(test_tracker_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
