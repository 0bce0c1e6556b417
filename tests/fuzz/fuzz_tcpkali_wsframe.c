/* libFuzzer target: tcpkali's streaming WebSocket frame decoder (ws.c) on untrusted bytes.
 *
 * Input layout: byte 0 and 1 seed the split pattern, the rest is the received stream. The
 * stream is decoded twice, whole and in pieces of pseudo-random sizes (1..64 bytes); both
 * runs (whole frames as one TK_WS_EV_FRAME or as header, pieces, end) must report the same
 * frames (byte0, mask, length, unmasked payload) and fail at the
 * same point with the same reason, each payload piece must lie inside its input and the
 * pieces must add up to the frame's length. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcpkali/ws.h"

struct summary {
    uint64_t frames;
    uint64_t hash;       /* over every header field and payload byte, in order */
    size_t consumed;     /* stream bytes used before an error (or all) */
    const char *error;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDull;
}

static void run(const uint8_t *stream, size_t n, uint32_t seed, bool split, struct summary *out)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, stream, n);
    struct tk_ws_decoder d;
    tk_ws_decoder_init(&d);
    memset(out, 0, sizeof(*out));
    uint64_t got = 0;
    size_t at = 0;
    while (at < n && !out->error) {
        size_t piece = n - at;
        if (split) {
            seed = seed * 1103515245u + 12345u;
            piece = 1 + (seed >> 16) % 64;
            if (piece > n - at)
                piece = n - at;
        }
        uint8_t *p = copy + at;
        size_t left = piece;
        for (;;) {
            size_t used = 0, len = 0;
            uint8_t *data = NULL;
            enum tk_ws_event ev = tk_ws_decode(&d, p, left, &used, &data, &len);
            if (used > left)
                abort();
            p += used;
            left -= used;
            at += used;
            if (ev == TK_WS_EV_NEED_MORE) {
                if (left != 0)
                    abort();
                break;
            }
            if (ev == TK_WS_EV_ERROR) {
                if (!d.error)
                    abort();
                out->error = d.error;
                break;
            }
            if (ev == TK_WS_EV_HEADER || ev == TK_WS_EV_FRAME) {
                const struct tk_ws_frame *f = &d.frame;
                if (f->len > 125 && tk_ws_is_control(f->opcode))
                    abort();
                if (f->len >> 63)
                    abort();
                out->frames++;
                got = 0;
                out->hash = mix(out->hash, f->byte0);
                out->hash = mix(out->hash, f->masked);
                out->hash = mix(out->hash, f->len);
                if (ev == TK_WS_EV_FRAME) {
                    if (len != f->len || data + len != p)
                        abort();
                    for (size_t i = 0; i < len; i++)
                        out->hash = mix(out->hash, data[i]);
                    out->hash = mix(out->hash, 0x100);
                }
            } else if (ev == TK_WS_EV_PAYLOAD) {
                if (len == 0 || data != p - used || got + len > d.frame.len)
                    abort();
                got += len;
                for (size_t i = 0; i < len; i++)
                    out->hash = mix(out->hash, data[i]);
            } else if (ev == TK_WS_EV_END) {
                if (got != d.frame.len)
                    abort();
                out->hash = mix(out->hash, 0x100);
            }
        }
        (void)piece;
    }
    out->consumed = at;
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = (uint32_t)data[0] << 8 | data[1];
    struct summary whole, pieces;
    run(data + 2, size - 2, seed, false, &whole);
    run(data + 2, size - 2, seed, true, &pieces);
    if (whole.frames != pieces.frames || whole.hash != pieces.hash ||
        whole.consumed != pieces.consumed || whole.error != pieces.error)
        abort();
    return 0;
}
