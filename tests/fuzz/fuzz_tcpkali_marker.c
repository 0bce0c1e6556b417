/* libFuzzer target: tcpkali's streaming marker search, message-marker token parser and -e
 * unescaping, on untrusted bytes.
 *
 * Input layout: byte 0 = pattern length (1..32, mod), byte 1 = read size (1..64, mod),
 * then the pattern, then the stream. The streaming search, fed in reads of that size, must
 * report exactly the matches of a brute-force non-overlapping search; the token parser must
 * consume every byte and never report more tokens than fit; unescaping must never grow
 * its input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcpkali/marker.h"
#include "tcpkali/msgsrc.h"

static size_t naive_count(const uint8_t *t, size_t n, const uint8_t *p, size_t m)
{
    size_t k = 0;
    for (size_t i = 0; i + m <= n;) {
        if (memcmp(t + i, p, m) == 0) {
            k++;
            i += m;
        } else {
            i++;
        }
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t m = 1 + data[0] % 32, chunk = 1 + data[1] % 64;
    data += 2;
    size -= 2;
    if (m > size)
        m = size;
    const uint8_t *pat = data, *text = data + m;
    size_t n = size - m;

    /* Marker search in reads of `chunk` bytes against the brute force. */
    struct tk_marker mk;
    if (tk_marker_init(&mk, pat, m) != 0)
        abort();
    uint32_t st = 0;
    size_t found = 0;
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk, pos = 0, last = 0;
        bool first = true;
        while (tk_marker_find(&mk, &st, text + off, len, &pos)) {
            if (pos > len || (!first && pos <= last))
                abort(); /* every match ends past the previous one, inside the read */
            last = pos;
            first = false;
            found++;
        }
        if (pos != len || st >= m)
            abort();
    }
    if (found != naive_count(text, n, pat, m))
        abort();
    tk_marker_free(&mk);

    /* Message-marker tokens over the whole input, in the same reads. */
    struct tk_marker pre;
    if (tk_marker_init(&pre, TK_MSGMARK_PREFIX, strlen(TK_MSGMARK_PREFIX)) != 0)
        abort();
    struct tk_msgmark_state ms;
    tk_msgmark_state_init(&ms);
    size_t tokens = 0;
    for (size_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk, pos = 0;
        uint64_t ts;
        while (tk_msgmark_next(&pre, &ms, data + off, len, &pos, &ts))
            tokens++;
        if (pos != len)
            abort();
    }
    if (tokens > size / TK_MSGMARK_LEN)
        abort();
    tk_marker_free(&pre);

    /* Unescaping never grows the input (in place is allowed). */
    uint8_t *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (tk_unescape((const char *)buf, size, buf) > size)
        abort();
    free(buf);
    return 0;
}
