/* Streaming marker search (Knuth-Morris-Pratt) and message-marker tokens; see marker.h. */
#include "tcpkali/marker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int tk_marker_init(struct tk_marker *m, const void *pat, size_t len)
{
    memset(m, 0, sizeof(*m));
    if (len == 0 || len > TK_MARKER_MAX_LEN)
        return -EINVAL;
    m->pat = malloc(len);
    m->fail = malloc((len + 1) * sizeof(*m->fail));
    if (!m->pat || !m->fail) {
        tk_marker_free(m);
        return -ENOMEM;
    }
    memcpy(m->pat, pat, len);
    m->len = (uint32_t)len;

    /* fail[j] for the prefix of length j: the classic border computation. */
    m->fail[0] = 0;
    m->fail[1] = 0;
    uint32_t k = 0;
    for (uint32_t j = 1; j < m->len; j++) {
        while (k > 0 && m->pat[j] != m->pat[k])
            k = m->fail[k];
        if (m->pat[j] == m->pat[k])
            k++;
        m->fail[j + 1] = k;
    }
    return 0;
}

void tk_marker_free(struct tk_marker *m)
{
    free(m->pat);
    free(m->fail);
    m->pat = NULL;
    m->fail = NULL;
    m->len = 0;
}

bool tk_marker_find(const struct tk_marker *m, uint32_t *state, const uint8_t *buf, size_t len,
                    size_t *pos)
{
    const uint8_t *pat = m->pat;
    uint32_t j = *state;
    size_t i = *pos;

    while (i < len) {
        if (j == 0) {
            /* Nothing matched: skip straight to the next candidate first byte. */
            const uint8_t *hit = memchr(buf + i, pat[0], len - i);
            if (!hit) {
                i = len;
                break;
            }
            i = (size_t)(hit - buf) + 1;
            j = 1;
        } else {
            uint8_t b = buf[i];
            while (j > 0 && b != pat[j])
                j = m->fail[j];
            if (b == pat[j])
                j++;
            i++;
        }
        if (j == m->len) {
            *state = 0;
            *pos = i;
            return true;
        }
    }
    *state = j;
    *pos = len;
    return false;
}

bool tk_marker_find_skip(const struct tk_marker *m, uint32_t *state, uint64_t *skip,
                         const uint8_t *buf, size_t len, size_t *pos)
{
    while (tk_marker_find(m, state, buf, len, pos)) {
        if (*skip == 0)
            return true;
        (*skip)--;
    }
    return false;
}

bool tk_msgmark_next(const struct tk_marker *prefix, struct tk_msgmark_state *s,
                     const uint8_t *buf, size_t len, size_t *pos, uint64_t *ts_us)
{
    size_t i = *pos;

    while (i < len) {
        if (s->digits < 0) {
            if (!tk_marker_find(prefix, &s->prefix, buf, len, &i))
                break;
            s->digits = 0;
            s->value = 0;
            continue;
        }
        uint8_t b = buf[i++];
        if (s->digits < TK_MSGMARK_DIGITS) {
            int d = util_hex_digit(b);
            s->value = (s->value << 4) | (uint64_t)(d < 0 ? 0 : d); /* tcpkali: non-hex is 0 */
            s->digits++;
            continue;
        }
        /* 16 digits read: this byte must close the token. */
        s->digits = -1;
        if (b == '.') {
            *pos = i;
            *ts_us = s->value;
            return true;
        }
        /* Dropped. The byte may start a new prefix: look at it again. */
        i--;
        if (b != (uint8_t)TK_MSGMARK_PREFIX[0])
            i++;
    }
    *pos = len;
    return false;
}

void tk_msgmark_format(uint64_t ts_us, uint8_t out[TK_MSGMARK_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t plen = sizeof(TK_MSGMARK_PREFIX) - 1;

    memcpy(out, TK_MSGMARK_PREFIX, plen);
    for (int d = 0; d < TK_MSGMARK_DIGITS; d++)
        out[plen + (size_t)d] = (uint8_t)hex[(ts_us >> (4 * (TK_MSGMARK_DIGITS - 1 - d))) & 15];
    out[TK_MSGMARK_LEN - 1] = '.';
}
