/* tcpkali WebSocket codec and handshake (ws.c): the RFC 6455 §5.7 example frames encoded
 * and decoded byte for byte; the three length forms at their boundaries; masking in pieces
 * at every phase and alignment against a byte-at-a-time reference; the streaming decoder
 * fed byte by byte and in random splits of random frame streams; every protocol error;
 * the accept key for the RFC's example key and for tcpkali's fixed key; the client request
 * against the bytes the spec captured from tcpkali; the request and response parsers split
 * at every byte position, keeping the bytes after the head; refusals (status, accept,
 * upgrade, version, key, method, malformed, oversized). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "tcpkali/ws.h"

#define HELLO "Hello"

static void assert_buf(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* ---- Encoder ------------------------------------------------------------------------ */

static void test_rfc_examples_encode(void **state)
{
    (void)state;
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    struct tk_buf b = {0};

    /* A single-frame unmasked text message. */
    static const uint8_t unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)HELLO, 5, NULL), 0);
    assert_buf(b.data, b.len, unmasked, sizeof(unmasked));

    /* A single-frame masked text message. */
    static const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                     0x7f, 0x9f, 0x4d, 0x51, 0x58};
    b.len = 0;
    assert_int_equal(tk_ws_frame_append(&b, 0x81, (const uint8_t *)HELLO, 5, key), 0);
    assert_buf(b.data, b.len, masked, sizeof(masked));

    /* A fragmented unmasked text message: "Hel" then "lo". */
    static const uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    b.len = 0;
    assert_int_equal(tk_ws_frame_append(&b, TK_WS_OP_TEXT, (const uint8_t *)"Hel", 3, NULL), 0);
    assert_int_equal(
        tk_ws_frame_append(&b, TK_WS_FIN | TK_WS_OP_CONT, (const uint8_t *)"lo", 2, NULL), 0);
    assert_buf(b.data, b.len, frag, sizeof(frag));

    /* Unmasked ping, masked pong, both "Hello". */
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    b.len = 0;
    assert_int_equal(tk_ws_frame_append(&b, TK_WS_FIN | TK_WS_OP_PING,
                                        (const uint8_t *)HELLO, 5, NULL), 0);
    assert_buf(b.data, b.len, ping, sizeof(ping));
    b.len = 0;
    assert_int_equal(tk_ws_frame_append(&b, TK_WS_FIN | TK_WS_OP_PONG,
                                        (const uint8_t *)HELLO, 5, key), 0);
    assert_buf(b.data, b.len, pong, sizeof(pong));

    /* 256 bytes binary message in a single unmasked frame: 0x82 0x7E 0x0100. */
    uint8_t *payload = calloc(65536, 1);
    assert_non_null(payload);
    for (size_t i = 0; i < 65536; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    b.len = 0;
    assert_int_equal(tk_ws_frame_append(&b, 0x82, payload, 256, NULL), 0);
    static const uint8_t h256[] = {0x82, 0x7E, 0x01, 0x00};
    assert_int_equal(b.len, 4 + 256);
    assert_memory_equal(b.data, h256, 4);
    assert_memory_equal(b.data + 4, payload, 256);

    /* 64 KiB binary message in a single unmasked frame: 0x82 0x7F 0x0000000000010000. */
    b.len = 0;
    assert_int_equal(tk_ws_frame_append(&b, 0x82, payload, 65536, NULL), 0);
    static const uint8_t h64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    assert_int_equal(b.len, 10 + 65536);
    assert_memory_equal(b.data, h64k, 10);
    assert_memory_equal(b.data + 10, payload, 65536);
    free(payload);
    tk_buf_free(&b);
}

static void test_length_forms(void **state)
{
    (void)state;
    static const uint8_t key[4] = {1, 2, 3, 4};
    struct {
        uint64_t len;
        size_t hlen;
        uint8_t h[10];
    } cases[] = {
        {0, 2, {0x82, 0}},
        {1, 2, {0x82, 1}},
        {125, 2, {0x82, 125}},
        {126, 4, {0x82, 126, 0x00, 0x7E}},
        {127, 4, {0x82, 126, 0x00, 0x7F}},
        {65535, 4, {0x82, 126, 0xFF, 0xFF}},
        {65536, 10, {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
        {0x123456789ull, 10, {0x82, 127, 0, 0, 0, 1, 0x23, 0x45, 0x67, 0x89}},
        {0x7FFFFFFFFFFFFFFFull, 10, {0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t out[TK_WS_MAX_HEADER];
        size_t n = tk_ws_header_encode(out, 0x82, cases[i].len, NULL);
        assert_buf(out, n, cases[i].h, cases[i].hlen);
        /* Masked: the MASK bit and the key after the length. */
        n = tk_ws_header_encode(out, 0x82, cases[i].len, key);
        assert_int_equal(n, cases[i].hlen + 4);
        assert_int_equal(out[1], cases[i].h[1] | 0x80);
        assert_memory_equal(out + 2, cases[i].h + 2, cases[i].hlen - 2);
        assert_memory_equal(out + cases[i].hlen, key, 4);
    }
}

static void mask_reference(uint8_t *p, size_t n, const uint8_t key[4], uint64_t phase)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= key[(phase + i) % 4];
}

static void test_mask_phase_and_alignment(void **state)
{
    (void)state;
    static const uint8_t key[4] = {0xA5, 0x3C, 0x0F, 0xF0};
    struct rng r;
    rng_seed(&r, 6455);
    uint8_t src[300], a[310], b[310];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)rng_next(&r);
    /* Every start alignment, phase and length up to 300. */
    for (size_t align = 0; align < 8; align++) {
        for (uint64_t phase = 0; phase < 9; phase++) {
            for (size_t n = 0; n <= 300; n += (n < 40 ? 1 : 13)) {
                memcpy(a + align, src, n);
                memcpy(b + align, src, n);
                tk_ws_mask(a + align, n, key, phase);
                mask_reference(b + align, n, key, phase);
                assert_memory_equal(a + align, b + align, n);
            }
        }
    }
    /* A payload masked in random pieces equals the payload masked at once. */
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)rng_below(&r, 300) + 1;
        memcpy(a, src, n);
        memcpy(b, src, n);
        mask_reference(b, n, key, 0);
        size_t at = 0;
        while (at < n) {
            size_t piece = (size_t)rng_below(&r, n - at) + 1;
            tk_ws_mask(a + at, piece, key, at);
            at += piece;
        }
        assert_memory_equal(a, b, n);
        tk_ws_mask(a, n, key, 0); /* masking twice restores */
        assert_memory_equal(a, src, n);
    }
}

/* ---- Decoder ------------------------------------------------------------------------ */

#define MAXF 64

struct decoded {
    size_t n;
    struct tk_ws_frame f[MAXF]; /* as of each frame's header */
    uint8_t *payload[MAXF];
    size_t got[MAXF];
    bool ended[MAXF];
    size_t frame_events; /* frames reported as one TK_WS_EV_FRAME */
    const char *error;
};

static void decoded_free(struct decoded *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->payload[i]);
    memset(d, 0, sizeof(*d));
}

/* Feeds a copy of wire[0, n) to a fresh decoder in pieces ending at cuts[] (sorted), and
 * records every event. */
static void decode_split(const uint8_t *wire, size_t n, const size_t *cuts, size_t ncuts,
                         struct decoded *out)
{
    memset(out, 0, sizeof(*out));
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, wire, n);
    struct tk_ws_decoder dec;
    tk_ws_decoder_init(&dec);
    size_t from = 0;
    for (size_t c = 0; c <= ncuts && !out->error; c++) {
        size_t to = c < ncuts ? cuts[c] : n;
        uint8_t *p = copy + from;
        size_t left = to - from;
        for (;;) {
            size_t used = 0, len = 0;
            uint8_t *data = NULL;
            enum tk_ws_event ev = tk_ws_decode(&dec, p, left, &used, &data, &len);
            assert_true(used <= left);
            p += used;
            left -= used;
            if (ev == TK_WS_EV_NEED_MORE) {
                assert_int_equal(left, 0);
                break;
            }
            if (ev == TK_WS_EV_ERROR) {
                out->error = dec.error;
                assert_non_null(out->error);
                break;
            }
            if (ev == TK_WS_EV_HEADER || ev == TK_WS_EV_FRAME) {
                assert_true(out->n < MAXF);
                size_t k = out->n++;
                out->f[k] = dec.frame;
                out->f[k].offset = 0; /* as of the header */
                out->payload[k] = malloc(dec.frame.len + 1);
                assert_non_null(out->payload[k]);
                if (ev == TK_WS_EV_FRAME) {
                    out->frame_events++;
                    assert_int_equal(len, dec.frame.len);
                    assert_ptr_equal(data + len, p);
                    memcpy(out->payload[k], data, len);
                    out->got[k] = len;
                    out->ended[k] = true;
                }
            } else if (ev == TK_WS_EV_PAYLOAD) {
                size_t k = out->n - 1;
                assert_true(len > 0 && out->got[k] + len <= out->f[k].len);
                assert_ptr_equal(data, p - used);
                memcpy(out->payload[k] + out->got[k], data, len);
                out->got[k] += len;
            } else {
                assert_int_equal(ev, TK_WS_EV_END);
                size_t k = out->n - 1;
                assert_false(out->ended[k]);
                assert_int_equal(out->got[k], out->f[k].len);
                out->ended[k] = true;
            }
        }
        from = to;
    }
    free(copy);
}

static void decode_whole(const uint8_t *wire, size_t n, struct decoded *out)
{
    decode_split(wire, n, NULL, 0, out);
}

static void decode_bytewise(const uint8_t *wire, size_t n, struct decoded *out)
{
    size_t *cuts = malloc((n + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i < n; i++)
        cuts[i] = i;
    decode_split(wire, n, cuts, n, out);
    free(cuts);
}

static void assert_frame(const struct decoded *d, size_t k, uint8_t byte0, bool masked,
                         const void *payload, size_t len)
{
    assert_true(k < d->n);
    assert_int_equal(d->f[k].byte0, byte0);
    assert_int_equal(d->f[k].opcode, byte0 & 0x0F);
    assert_int_equal(d->f[k].fin, (byte0 & 0x80) != 0);
    assert_int_equal(d->f[k].masked, masked);
    assert_int_equal(d->f[k].len, len);
    assert_true(d->ended[k]);
    assert_memory_equal(d->payload[k], payload, len);
}

static void test_rfc_examples_decode(void **state)
{
    (void)state;
    static const uint8_t stream[] = {
        0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f,                         /* unmasked */
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, /* masked */
        0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f,             /* fragmented */
        0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f,                         /* ping */
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, /* masked pong */
        0x88, 0x00,                                                       /* empty close */
    };
    struct decoded d;
    for (int mode = 0; mode < 2; mode++) {
        if (mode == 0)
            decode_whole(stream, sizeof(stream), &d);
        else
            decode_bytewise(stream, sizeof(stream), &d);
        assert_null(d.error);
        assert_int_equal(d.n, 7);
        assert_frame(&d, 0, 0x81, false, HELLO, 5);
        assert_frame(&d, 1, 0x81, true, HELLO, 5);
        assert_memory_equal(d.f[1].mask_key, "\x37\xfa\x21\x3d", 4);
        assert_frame(&d, 2, 0x01, false, "Hel", 3);
        assert_frame(&d, 3, 0x80, false, "lo", 2);
        assert_frame(&d, 4, 0x89, false, HELLO, 5);
        assert_frame(&d, 5, 0x8a, true, HELLO, 5);
        assert_frame(&d, 6, 0x88, false, "", 0);
        /* Whole: every frame in one event; a byte at a time: only the empty close. */
        assert_int_equal(d.frame_events, mode == 0 ? 7 : 1);
        decoded_free(&d);
    }

    /* The 256-byte and 64 KiB binary frames. */
    struct tk_buf b = {0};
    uint8_t *payload = malloc(65536);
    assert_non_null(payload);
    for (size_t i = 0; i < 65536; i++)
        payload[i] = (uint8_t)(i ^ (i >> 8));
    assert_int_equal(tk_ws_frame_append(&b, 0x82, payload, 256, NULL), 0);
    assert_int_equal(tk_ws_frame_append(&b, 0x82, payload, 65536, NULL), 0);
    decode_whole(b.data, b.len, &d);
    assert_null(d.error);
    assert_int_equal(d.n, 2);
    assert_frame(&d, 0, 0x82, false, payload, 256);
    assert_frame(&d, 1, 0x82, false, payload, 65536);
    decoded_free(&d);
    free(payload);
    tk_buf_free(&b);
}

/* A stream of random frames (every length form, masked or not, random keys and byte0 among
 * valid opcodes) decodes to the same frames however it is split. */
static void test_decoder_random_splits(void **state)
{
    (void)state;
    static const uint8_t ops[] = {0x0, 0x1, 0x2, 0x8, 0x9, 0xA};
    static const size_t lens[] = {0, 1, 5, 125, 126, 127, 300, 65535, 65536, 70000};
    struct rng r;
    rng_seed(&r, 42);
    uint8_t *payload = malloc(70000);
    assert_non_null(payload);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (uint8_t)rng_next(&r);
    for (int round = 0; round < 30; round++) {
        struct tk_buf b = {0};
        size_t nf = (size_t)rng_below(&r, 12) + 1;
        uint8_t byte0[16];
        size_t flen[16];
        bool masked[16];
        uint8_t keys[16][4];
        for (size_t k = 0; k < nf; k++) {
            uint8_t op = ops[rng_below(&r, sizeof(ops))];
            bool control = op >= 8;
            flen[k] = control ? (size_t)rng_below(&r, 126) : lens[rng_below(&r, 10)];
            byte0[k] = (uint8_t)(op | (control || rng_below(&r, 2) ? 0x80 : 0) |
                                 (rng_below(&r, 4) == 0 ? TK_WS_RSV1 : 0));
            masked[k] = rng_below(&r, 2);
            uint64_t kv = rng_next(&r);
            memcpy(keys[k], &kv, 4);
            assert_int_equal(tk_ws_frame_append(&b, byte0[k], payload, flen[k],
                                                masked[k] ? keys[k] : NULL), 0);
        }
        size_t cuts[64], ncuts = (size_t)rng_below(&r, 64);
        for (size_t c = 0; c < ncuts; c++)
            cuts[c] = (size_t)rng_below(&r, b.len + 1);
        for (size_t i = 1; i < ncuts; i++) /* insertion sort */
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        struct decoded d;
        decode_split(b.data, b.len, cuts, ncuts, &d);
        assert_null(d.error);
        assert_int_equal(d.n, nf);
        for (size_t k = 0; k < nf; k++) {
            assert_frame(&d, k, byte0[k], masked[k], payload, flen[k]);
            if (masked[k])
                assert_memory_equal(d.f[k].mask_key, keys[k], 4);
        }
        decoded_free(&d);
        /* Byte by byte too, for the smaller streams. */
        if (b.len < 4096) {
            decode_bytewise(b.data, b.len, &d);
            assert_null(d.error);
            assert_int_equal(d.n, nf);
            for (size_t k = 0; k < nf; k++)
                assert_frame(&d, k, byte0[k], masked[k], payload, flen[k]);
            decoded_free(&d);
        }
        tk_buf_free(&b);
    }
    free(payload);
}

static void expect_error(const uint8_t *wire, size_t n, const char *why_part, size_t frames_ok)
{
    for (int mode = 0; mode < 2; mode++) {
        struct decoded d;
        if (mode == 0)
            decode_whole(wire, n, &d);
        else
            decode_bytewise(wire, n, &d);
        assert_non_null(d.error);
        assert_non_null(strstr(d.error, why_part));
        assert_int_equal(d.n, frames_ok);
        decoded_free(&d);
    }
}

static void test_decoder_protocol_errors(void **state)
{
    (void)state;
    /* Reserved opcodes, after one good frame. */
    for (uint8_t op = 0; op < 16; op++) {
        if (op <= 2 || (op >= 8 && op <= 0xA))
            continue;
        uint8_t w[] = {0x81, 0x01, 'x', (uint8_t)(0x80 | op), 0x00};
        expect_error(w, sizeof(w), "reserved opcode", 1);
    }
    /* Control frames: longer than 125 (16- and 64-bit forms), or fragmented. */
    static const uint8_t long_ping[] = {0x89, 126, 0x00, 126};
    expect_error(long_ping, sizeof(long_ping), "longer than 125", 0);
    static const uint8_t long_close[] = {0x88, 127, 0, 0, 0, 0, 0, 0, 0, 126};
    expect_error(long_close, sizeof(long_close), "longer than 125", 0);
    static const uint8_t frag_pong[] = {0x0A, 0x00};
    expect_error(frag_pong, sizeof(frag_pong), "fragmented control", 0);
    /* The 64-bit length's top bit. */
    static const uint8_t top[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    expect_error(top, sizeof(top), "top bit", 0);

    /* The error state is sticky. */
    struct tk_ws_decoder dec;
    tk_ws_decoder_init(&dec);
    uint8_t bad[] = {0x83, 0x00, 0x81, 0x00};
    size_t used, len;
    uint8_t *data;
    assert_int_equal(tk_ws_decode(&dec, bad, 4, &used, &data, &len), TK_WS_EV_ERROR);
    assert_int_equal(tk_ws_decode(&dec, bad + 2, 2, &used, &data, &len), TK_WS_EV_ERROR);
    assert_int_equal(used, 0);

    /* Not errors: a 125-byte ping, RSV bits, a 63-bit length, an unmasked "client" frame. */
    uint8_t ok[2 + 125] = {0x89, 125};
    struct decoded d;
    decode_whole(ok, sizeof(ok), &d);
    assert_null(d.error);
    assert_int_equal(d.n, 1);
    decoded_free(&d);
    uint8_t rsv[] = {0xF1, 0x00};
    decode_whole(rsv, sizeof(rsv), &d);
    assert_null(d.error);
    assert_int_equal(d.f[0].byte0, 0xF1);
    decoded_free(&d);
    tk_ws_decoder_init(&dec);
    uint8_t big[] = {0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 'a'};
    assert_int_equal(tk_ws_decode(&dec, big, sizeof(big), &used, &data, &len), TK_WS_EV_HEADER);
    assert_int_equal(used, 10);
    assert_int_equal(dec.frame.len, 0x7FFFFFFFFFFFFFFFull);
    assert_int_equal(tk_ws_decode(&dec, big + 10, 1, &used, &data, &len), TK_WS_EV_PAYLOAD);
    assert_int_equal(len, 1);
    assert_int_equal(dec.frame.offset, 1);
}

/* A zeroed decoder works without tk_ws_decoder_init (per-connection state is zeroed). */
static void test_decoder_zeroed(void **state)
{
    (void)state;
    struct tk_ws_decoder dec;
    memset(&dec, 0, sizeof(dec));
    uint8_t w[] = {0x81, 0x02, 'h', 'i', 0x82, 0x02, 'y', 'o'};
    size_t used, len;
    uint8_t *data;
    /* The header alone, then the payload: three events. */
    assert_int_equal(tk_ws_decode(&dec, w, 3, &used, &data, &len), TK_WS_EV_HEADER);
    assert_int_equal(used, 2);
    assert_int_equal(tk_ws_decode(&dec, w + 2, 2, &used, &data, &len), TK_WS_EV_PAYLOAD);
    assert_int_equal(len, 2);
    assert_memory_equal(data, "hi", 2);
    assert_int_equal(tk_ws_decode(&dec, w + 4, 0, &used, &data, &len), TK_WS_EV_END);
    assert_int_equal(tk_ws_decode(&dec, w + 4, 0, &used, &data, &len), TK_WS_EV_NEED_MORE);
    /* The whole frame at once: one event. */
    assert_int_equal(tk_ws_decode(&dec, w + 4, 4, &used, &data, &len), TK_WS_EV_FRAME);
    assert_int_equal(used, 4);
    assert_int_equal(len, 2);
    assert_ptr_equal(data, w + 6);
    assert_int_equal(dec.frame.byte0, 0x82);
    assert_int_equal(tk_ws_decode(&dec, w + 8, 0, &used, &data, &len), TK_WS_EV_NEED_MORE);
}

/* ---- Base64 and accept key ---------------------------------------------------------- */

static void test_base64(void **state)
{
    (void)state;
    char out[64];
    /* RFC 4648 §10 vectors. */
    static const char *const vec[][2] = {{"", ""},         {"f", "Zg=="},
                                         {"fo", "Zm8="},   {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < 7; i++) {
        size_t n = tk_ws_base64_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]), out);
        assert_int_equal(n, strlen(vec[i][1]));
        assert_string_equal(out, vec[i][1]);
        uint8_t dec[16];
        int dn = tk_ws_base64_decode(vec[i][1], n, dec, sizeof(dec));
        assert_int_equal(dn, (int)strlen(vec[i][0]));
        assert_memory_equal(dec, vec[i][0], (size_t)dn);
    }
    uint8_t dec[32];
    /* The RFC's nonce is 16 bytes. */
    assert_int_equal(tk_ws_base64_decode("dGhlIHNhbXBsZSBub25jZQ==", 24, dec, sizeof(dec)), 16);
    assert_memory_equal(dec, "the sample nonce", 16);
    /* Invalid: bad length, bad character, padding in the middle, non-zero padding bits,
     * too little room. */
    assert_int_equal(tk_ws_base64_decode("Zm9", 3, dec, sizeof(dec)), -1);
    assert_int_equal(tk_ws_base64_decode("Zm9*", 4, dec, sizeof(dec)), -1);
    assert_int_equal(tk_ws_base64_decode("Zg==Zm9v", 8, dec, sizeof(dec)), -1);
    assert_int_equal(tk_ws_base64_decode("Zh==", 4, dec, sizeof(dec)), -1);
    assert_int_equal(tk_ws_base64_decode("Zm9vYmFy", 8, dec, 5), -1);
    uint8_t nonce[16];
    for (int i = 0; i < 16; i++)
        nonce[i] = (uint8_t)(0xF0 + i);
    char key[TK_WS_KEY_LEN + 1];
    tk_ws_make_key(nonce, key);
    assert_int_equal(strlen(key), TK_WS_KEY_LEN);
    assert_int_equal(tk_ws_base64_decode(key, TK_WS_KEY_LEN, dec, sizeof(dec)), 16);
    assert_memory_equal(dec, nonce, 16);
}

static void test_accept_key(void **state)
{
    (void)state;
    char out[TK_WS_ACCEPT_LEN + 1];
    /* RFC 6455 §1.3. */
    tk_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* tcpkali's fixed key; derived with `openssl sha1 -binary | base64`. */
    tk_ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

/* ---- Request and response ----------------------------------------------------------- */

static const char spec_request[] =
    "GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:21005\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Sec-WebSocket-Version: 13\r\nX-Test: 1\r\n\r\n";

static const char spec_response[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n";

static void test_request_build(void **state)
{
    (void)state;
    const char *text = "127.0.0.1:21005/chat?x=1";
    assert_int_equal(tk_ws_dest_host_len(text), 15);
    assert_int_equal(tk_ws_dest_host_len("[::1]:80"), 8);
    const char *hdrs[] = {"X-Test: 1"};
    struct tk_buf b = {0};
    assert_int_equal(tk_ws_request_build(&b, text, tk_ws_dest_host_len(text), "/chat?x=1",
                                         "x3JJHMbDL1EzLkh9GBhXDw==", hdrs, 1), 0);
    assert_buf(b.data, b.len, (const uint8_t *)spec_request, strlen(spec_request));
    /* No path: "/"; no extra headers. */
    b.len = 0;
    assert_int_equal(tk_ws_request_build(&b, "h:1", 3, NULL, "k", NULL, 0), 0);
    static const char want[] = "GET / HTTP/1.1\r\nHost: h:1\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Key: k\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n";
    assert_buf(b.data, b.len, (const uint8_t *)want, strlen(want));
    tk_buf_free(&b);
}

static void test_response_build(void **state)
{
    (void)state;
    struct tk_buf b = {0};
    assert_int_equal(tk_ws_response_build(&b, "x3JJHMbDL1EzLkh9GBhXDw=="), 0);
    assert_int_equal(b.len, 129); /* the spec's figure for the fixed key */
    assert_buf(b.data, b.len, (const uint8_t *)spec_response, strlen(spec_response));
    b.len = 0;
    assert_int_equal(tk_ws_response_400_build(&b), 0);
    static const char want[] = "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n\r\n";
    assert_buf(b.data, b.len, (const uint8_t *)want, strlen(want));
    tk_buf_free(&b);
}

/* Feeds head + tail split at cut; returns the result and checks that exactly the head was
 * consumed (the tail, the first frame bytes, is left to the caller). */
static int parse_split(struct tk_ws_hs_parser *p, const char *head, const char *tail, size_t cut)
{
    size_t hn = strlen(head), tn = strlen(tail), n = hn + tn;
    char *all = malloc(n + 1);
    assert_non_null(all);
    memcpy(all, head, hn);
    memcpy(all + hn, tail, tn);
    size_t used1 = 0, used2 = 0;
    int rc = tk_ws_hs_parse(p, (const uint8_t *)all, cut, &used1);
    if (rc == TK_WS_HS_MORE) {
        assert_int_equal(used1, cut);
        rc = tk_ws_hs_parse(p, (const uint8_t *)all + cut, n - cut, &used2);
    }
    if (rc != TK_WS_HS_MORE && rc != TK_WS_HS_MALFORMED)
        assert_int_equal(used1 + used2, hn);
    /* Final results repeat and consume nothing. */
    size_t again = 1;
    assert_int_equal(tk_ws_hs_parse(p, (const uint8_t *)"x", 1, &again), rc);
    assert_int_equal(again, rc == TK_WS_HS_MORE ? 1 : 0);
    free(all);
    return rc;
}

static void test_parsers_every_split(void **state)
{
    (void)state;
    struct tk_ws_hs_parser *p = malloc(sizeof(*p));
    assert_non_null(p);
    const char *tail = "\x81\x05Hello";
    for (size_t cut = 0; cut <= strlen(spec_request) + 7; cut++) {
        tk_ws_request_parser_init(p);
        assert_int_equal(parse_split(p, spec_request, tail, cut), TK_WS_HS_OK);
        assert_string_equal(p->key, "x3JJHMbDL1EzLkh9GBhXDw==");
    }
    for (size_t cut = 0; cut <= strlen(spec_response) + 7; cut++) {
        tk_ws_response_parser_init(p, "x3JJHMbDL1EzLkh9GBhXDw==");
        assert_int_equal(parse_split(p, spec_response, tail, cut), TK_WS_HS_OK);
    }
    /* Byte by byte. */
    tk_ws_request_parser_init(p);
    size_t n = strlen(spec_request), used;
    for (size_t i = 0; i < n; i++) {
        int rc = tk_ws_hs_parse(p, (const uint8_t *)spec_request + i, 1, &used);
        assert_int_equal(used, 1);
        assert_int_equal(rc, i + 1 < n ? TK_WS_HS_MORE : TK_WS_HS_OK);
    }
    free(p);
}

static int parse_response(struct tk_ws_hs_parser *p, const char *key, const char *resp)
{
    tk_ws_response_parser_init(p, key);
    return parse_split(p, resp, "", strlen(resp) / 2);
}

static int parse_request(struct tk_ws_hs_parser *p, const char *req)
{
    tk_ws_request_parser_init(p);
    return parse_split(p, req, "", strlen(req) / 3);
}

static void test_response_refusals(void **state)
{
    (void)state;
    struct tk_ws_hs_parser *p = malloc(sizeof(*p));
    assert_non_null(p);
    const char *key = "x3JJHMbDL1EzLkh9GBhXDw==";
    /* Other spellings that are still valid: HTTP/1.0, case, lists, whitespace. */
    assert_int_equal(parse_response(p, key,
                                     "HTTP/1.0 101\r\nupgrade:WebSocket\r\nCONNECTION: keep-alive"
                                     ", Upgrade \r\nsec-websocket-accept: \t"
                                     "HSmrc0sMlYUkAGmm5OPpG2HaGWk= \r\nServer: x\r\n\r\n"),
                     TK_WS_HS_OK);
    /* Bad status. */
    assert_int_equal(parse_response(p, key, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
                     TK_WS_HS_STATUS);
    assert_string_equal(p->reason, "HTTP/1.1 404 Not Found");
    assert_int_equal(parse_response(p, key, "HTTP/1.1 200 OK\r\n\r\n"), TK_WS_HS_STATUS);
    /* Bad accept: wrong value (the RFC key's), missing, duplicated. */
    assert_int_equal(parse_response(p, key,
                                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
                     TK_WS_HS_ACCEPT);
    assert_non_null(strstr(p->reason, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_int_equal(parse_response(p, key,
                                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n\r\n"),
                     TK_WS_HS_ACCEPT);
    assert_int_equal(parse_response(p, key,
                                    "HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade"
                                    "\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"
                                    "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n"),
                     TK_WS_HS_ACCEPT);
    /* No Upgrade, or Connection without the upgrade token. */
    assert_int_equal(parse_response(p, key,
                                    "HTTP/1.1 101 X\r\nConnection: Upgrade\r\nSec-WebSocket-Accept:"
                                    " HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n"),
                     TK_WS_HS_ACCEPT);
    assert_int_equal(parse_response(p, key,
                                    "HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: "
                                    "upgrades\r\nSec-WebSocket-Accept: "
                                    "HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n"),
                     TK_WS_HS_ACCEPT);
    /* Malformed: not HTTP, HTTP/2, a header line without a colon, a bare LF. */
    assert_int_equal(parse_response(p, key, "SSH-2.0-OpenSSH\r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_int_equal(parse_response(p, key, "HTTP/2 101\r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_int_equal(parse_response(p, key, "HTTP/1.1 1010 X\r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_int_equal(parse_response(p, key, "HTTP/1.1 101\r\nnocolon\r\n\r\n"),
                     TK_WS_HS_MALFORMED);
    assert_int_equal(parse_response(p, key, "HTTP/1.1 101\r\nA: b\nc\r\n\r\n"),
                     TK_WS_HS_MALFORMED);
    assert_int_equal(parse_response(p, key, "\r\n\r\n"), TK_WS_HS_MALFORMED);
    /* Non-printable bytes are not copied into the reason. */
    assert_int_equal(parse_response(p, key, "\x01\xff\r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_null(strchr(p->reason, '\x01'));
    free(p);
}

static void test_oversized_head(void **state)
{
    (void)state;
    struct tk_ws_hs_parser *p = malloc(sizeof(*p));
    assert_non_null(p);
    static char big[TK_WS_MAX_HANDSHAKE + 128];
    size_t n = TK_WS_MAX_HANDSHAKE + 100;
    /* A head of exactly the limit still parses (the padding header fills it up). */
    const char *start = "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\nX-Pad: ";
    size_t sl = strlen(start);
    memcpy(big, start, sl);
    size_t pad = TK_WS_MAX_HANDSHAKE - sl - 4;
    memset(big + sl, 'a', pad);
    memcpy(big + sl + pad, "\r\n\r\n", 5);
    assert_int_equal(strlen(big), TK_WS_MAX_HANDSHAKE);
    assert_int_equal(parse_response(p, "x3JJHMbDL1EzLkh9GBhXDw==", big), TK_WS_HS_OK);
    /* One byte more: malformed, whether it arrives at once or byte by byte. */
    memset(big + sl, 'a', pad + 1);
    memcpy(big + sl + pad + 1, "\r\n\r\n", 5);
    assert_int_equal(parse_response(p, "x3JJHMbDL1EzLkh9GBhXDw==", big), TK_WS_HS_MALFORMED);
    tk_ws_request_parser_init(p);
    int rc = TK_WS_HS_MORE;
    size_t used, i;
    for (i = 0; i < strlen(big) && rc == TK_WS_HS_MORE; i++)
        rc = tk_ws_hs_parse(p, (const uint8_t *)big + i, 1, &used);
    assert_int_equal(rc, TK_WS_HS_MALFORMED);
    assert_int_equal(i, TK_WS_MAX_HANDSHAKE);
    /* A stream that never ends its head. */
    memset(big, 'G', n);
    tk_ws_request_parser_init(p);
    assert_int_equal(tk_ws_hs_parse(p, (const uint8_t *)big, n, &used), TK_WS_HS_MALFORMED);
    assert_non_null(strstr(p->reason, "8192"));
    free(p);
}

static void test_request_refusals(void **state)
{
    (void)state;
    struct tk_ws_hs_parser *p = malloc(sizeof(*p));
    assert_non_null(p);
    /* Valid: the RFC's example request (§1.2) with other header order and spellings. */
    assert_int_equal(parse_request(p, "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
                                      "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Origin: http://example.com\r\n"
                                      "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                      "sec-websocket-version: 13\r\n\r\n"),
                     TK_WS_HS_OK);
    assert_string_equal(p->key, "dGhlIHNhbXBsZSBub25jZQ==");
    const char *ok_hdrs = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Version: 13\r\n";
    char req[512];
    /* Method, version. */
    snprintf(req, sizeof req, "POST / HTTP/1.1\r\n%sSec-WebSocket-Key: %s\r\n\r\n", ok_hdrs,
             "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(parse_request(p, req), TK_WS_HS_REQUEST);
    snprintf(req, sizeof req, "GET / HTTP/1.0\r\n%sSec-WebSocket-Key: %s\r\n\r\n", ok_hdrs,
             "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(parse_request(p, req), TK_WS_HS_REQUEST);
    /* Keys: missing, short, not base64, 17 bytes, twice. */
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\n%s\r\n", ok_hdrs);
    assert_int_equal(parse_request(p, req), TK_WS_HS_REQUEST);
    assert_non_null(strstr(p->reason, "Sec-WebSocket-Key"));
    static const char *const bad_keys[] = {"abc", "dGhlIHNhbXBsZSBub25jZQ=*",
                                           "dGhlIHNhbXBsZSBub25jZQ", "AAAAAAAAAAAAAAAAAAAAAAA=",
                                           ("dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: "
                                            "dGhlIHNhbXBsZSBub25jZQ==")};
    for (size_t i = 0; i < 5; i++) {
        snprintf(req, sizeof req, "GET / HTTP/1.1\r\n%sSec-WebSocket-Key: %s\r\n\r\n", ok_hdrs,
                 bad_keys[i]);
        assert_int_equal(parse_request(p, req), TK_WS_HS_REQUEST);
    }
    /* Version other than 13, or none. */
    assert_int_equal(parse_request(p, "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: "
                                      "Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: "
                                      "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
                     TK_WS_HS_REQUEST);
    assert_int_equal(parse_request(p, "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: "
                                      "Upgrade\r\nSec-WebSocket-Key: "
                                      "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
                     TK_WS_HS_REQUEST);
    /* A plain HTTP request. */
    assert_int_equal(parse_request(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), TK_WS_HS_REQUEST);
    /* Malformed request lines and header lines. */
    assert_int_equal(parse_request(p, "GET /\r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_int_equal(parse_request(p, "GET  HTTP/1.1\r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_int_equal(parse_request(p, "GET / HTTP/1.1 \r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_int_equal(parse_request(p, "GET / HTTP/1.1\r\n: x\r\n\r\n"), TK_WS_HS_MALFORMED);
    assert_int_equal(parse_request(p, "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
                     TK_WS_HS_MALFORMED);
    assert_int_equal(parse_request(p, "GET / HTTP/1.1\r\n folded\r\n\r\n"), TK_WS_HS_MALFORMED);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples_encode),
        cmocka_unit_test(test_length_forms),
        cmocka_unit_test(test_mask_phase_and_alignment),
        cmocka_unit_test(test_rfc_examples_decode),
        cmocka_unit_test(test_decoder_random_splits),
        cmocka_unit_test(test_decoder_protocol_errors),
        cmocka_unit_test(test_decoder_zeroed),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_request_build),
        cmocka_unit_test(test_response_build),
        cmocka_unit_test(test_parsers_every_split),
        cmocka_unit_test(test_response_refusals),
        cmocka_unit_test(test_oversized_head),
        cmocka_unit_test(test_request_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
