/* libFuzzer target: tcpkali's WebSocket handshake parsers (ws.c), the server's request
 * parser and the client's response parser, on untrusted bytes.
 *
 * Input layout: byte 0 bit 0 chooses the parser (request or response, the latter for the
 * RFC's example key), bytes 0 and 1 seed the split pattern, the rest is the stream. Fed
 * whole and in pieces of pseudo-random sizes (1..300 bytes), the parser must give the same
 * result and consume the same bytes (exactly the head on success, never past it); a valid
 * request must yield a key that is base64 of 16 bytes; the reason text must be printable. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcpkali/ws.h"

static const char rfc_key[] = "dGhlIHNhbXBsZSBub25jZQ==";

static int run(struct tk_ws_hs_parser *p, bool server, const uint8_t *s, size_t n,
               uint32_t seed, bool split, size_t *consumed)
{
    if (server)
        tk_ws_request_parser_init(p);
    else
        tk_ws_response_parser_init(p, rfc_key);
    size_t at = 0;
    int rc = TK_WS_HS_MORE;
    while (at < n && rc == TK_WS_HS_MORE) {
        size_t piece = n - at;
        if (split) {
            seed = seed * 1103515245u + 12345u;
            piece = 1 + (seed >> 16) % 300;
            if (piece > n - at)
                piece = n - at;
        }
        size_t used = 0;
        rc = tk_ws_hs_parse(p, s + at, piece, &used);
        if (used > piece || (rc == TK_WS_HS_MORE && used != piece))
            abort();
        at += used;
    }
    *consumed = at;
    if (rc != TK_WS_HS_MORE) {
        size_t used = 1;
        if (tk_ws_hs_parse(p, s, n, &used) != rc || used != 0)
            abort();
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    bool server = data[0] & 1;
    uint32_t seed = (uint32_t)data[0] << 8 | data[1];
    static struct tk_ws_hs_parser a, b;
    size_t ca, cb;
    int ra = run(&a, server, data + 2, size - 2, seed, false, &ca);
    int rb = run(&b, server, data + 2, size - 2, seed, true, &cb);
    if (ra != rb || ca != cb)
        abort();
    if (ra == TK_WS_HS_OK) {
        /* Exactly the head: it ends with the blank line. */
        if (ca < 4 || memcmp(data + 2 + ca - 4, "\r\n\r\n", 4) != 0 || ca > TK_WS_MAX_HANDSHAKE)
            abort();
        if (server) {
            uint8_t nonce[20];
            if (strlen(a.key) != TK_WS_KEY_LEN ||
                tk_ws_base64_decode(a.key, TK_WS_KEY_LEN, nonce, sizeof(nonce)) != 16)
                abort();
        }
    }
    if (ra != TK_WS_HS_MORE && ra != TK_WS_HS_OK) {
        if (!a.reason[0] || strcmp(a.reason, b.reason) != 0)
            abort();
        for (const char *c = a.reason; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7F)
                abort();
    }
    return 0;
}
