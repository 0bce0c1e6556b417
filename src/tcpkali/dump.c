/* Dump formatting; see dump.h. */
#include "tcpkali/dump.h"

#include <errno.h>
#include <stdio.h>

int tk_dump_escape(struct tk_buf *out, const uint8_t *p, size_t n)
{
    /* Worst case: every byte becomes \ooo (4 bytes), or \n + newline + TAB (4 bytes). */
    if (n > (SIZE_MAX - 1) / 4)
        return -ENOMEM;
    uint8_t *o = tk_buf_reserve(out, n * 4 + 1);
    if (!o)
        return -ENOMEM;
    uint8_t *start = o;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        switch (b) {
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            *o++ = '\n';
            *o++ = '\t';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        default:
            if (b >= 0x20 && b < 0x7f) {
                *o++ = b;
            } else {
                *o++ = '\\';
                *o++ = (uint8_t)('0' + ((b >> 6) & 7));
                *o++ = (uint8_t)('0' + ((b >> 3) & 7));
                *o++ = (uint8_t)('0' + (b & 7));
            }
            break;
        }
    }
    out->len += (size_t)(o - start);
    return 0;
}

int tk_dump_line(struct tk_buf *out, const char *what, int fd, const uint8_t *p, size_t n)
{
    char head[64];
    int hl = snprintf(head, sizeof(head), "%s(%d, %zu): [", what, fd, n);
    if (hl < 0 || tk_buf_append(out, head, (size_t)hl) < 0 || tk_dump_escape(out, p, n) < 0 ||
        tk_buf_append(out, "]\n", 2) < 0)
        return -ENOMEM;
    return 0;
}
