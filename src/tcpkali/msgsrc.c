/* Message source: literal arguments compiled into shared constant buffers; see msgsrc.h. */
#include "tcpkali/msgsrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tk_buf_append(struct tk_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t *dst = tk_buf_reserve(b, n);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

uint8_t *tk_buf_reserve(struct tk_buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2)
                return NULL;
            cap *= 2;
        }
        uint8_t *p = realloc(b->data, cap);
        if (!p)
            return NULL;
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

void tk_buf_free(struct tk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t tk_rep_slice(size_t off, size_t L, size_t R, uint64_t allow, bool combine)
{
    size_t into = off % L;
    size_t rem = into ? L - into : 0;
    size_t room = (R - off - rem) / L;
    uint64_t k = allow < room ? allow : room;
    if (!combine)
        k = rem ? 0 : (k ? 1 : 0);
    return rem + (size_t)k * L;
}

uint64_t tk_rep_starts(size_t off, size_t n, size_t L)
{
    return (uint64_t)((off + n + L - 1) / L - (off + L - 1) / L);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t tk_unescape(const char *in, size_t len, uint8_t *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        char ch = in[i++];
        if (ch != '\\' || i == len) { /* plain byte, or a trailing backslash: kept */
            out[o++] = (uint8_t)ch;
            continue;
        }
        char e = in[i++];
        switch (e) {
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 'f': out[o++] = '\f'; break;
        case 'b': out[o++] = '\b'; break;
        case '\\': /* tcpkali keeps both characters */
            out[o++] = '\\';
            out[o++] = '\\';
            break;
        case 'x': {
            int v = 0, n = 0, d;
            while (n < 2 && i < len && (d = hex_value(in[i])) >= 0) {
                v = v * 16 + d;
                i++;
                n++;
            }
            out[o++] = n ? (uint8_t)v : (uint8_t)'x';
            break;
        }
        case '0': {
            int v = 0, n = 0;
            while (n < 3 && i < len && in[i] >= '0' && in[i] <= '7') {
                v = v * 8 + (in[i] - '0');
                i++;
                n++;
            }
            out[o++] = (uint8_t)v; /* \0777 wraps to one byte, as a C char would */
            break;
        }
        default:
            out[o++] = (uint8_t)e;
            break;
        }
    }
    return o;
}

/* Appends one argument's literal bytes (unescaped if asked), framed. */
static int add_literal(struct tk_buf *out, const struct tk_msg_arg *a, enum tk_framing framing)
{
    const uint8_t *p = (const uint8_t *)a->text;
    size_t n = a->len;
    uint8_t *tmp = NULL;
    int rc;

    if (a->unescape && !a->from_file && n) {
        tmp = malloc(n);
        if (!tmp)
            return -ENOMEM;
        n = tk_unescape(a->text, a->len, tmp);
        p = tmp;
    }
    (void)framing; /* WebSocket framing and expressions: being written (issue #5) */
    rc = tk_buf_append(out, p, n);
    free(tmp);
    return rc;
}

struct tk_msgsrc *tk_msgsrc_new(const struct tk_config *cfg, enum tk_framing framing,
                                int *exit_code, char *err, size_t errlen)
{
    struct tk_msgsrc *s = calloc(1, sizeof(*s));
    struct tk_buf first = {0}, msg = {0};
    int rc = 0;

    if (!s)
        goto nomem;
    s->constant = true;
    for (size_t i = 0; i < cfg->nmsgs && rc == 0; i++) {
        const struct tk_msg_arg *a = &cfg->msgs[i];
        if (a->kind == TK_MSG_FIRST) {
            rc = add_literal(&first, a, framing);
        } else {
            s->has_messages = true;
            rc = add_literal(&msg, a, framing);
        }
    }
    if (rc < 0)
        goto nomem;
    if (s->has_messages && msg.len == 0) {
        /* Every -m was empty: nothing to repeat. tcpkali's option check warns about this
         * ("--message may resolve to zero length"); the engine sends the once part only. */
        s->has_messages = false;
    }
    s->first = first.data;
    s->first_len = first.len;
    s->msg = msg.data;
    s->msg_len = msg.len;
    if (s->has_messages) {
        s->rep_msgs = (TK_REP_MIN + msg.len - 1) / msg.len;
        s->rep_len = s->rep_msgs * msg.len;
        s->rep = malloc(s->rep_len);
        if (!s->rep)
            goto nomem;
        for (size_t k = 0; k < s->rep_msgs; k++)
            memcpy(s->rep + k * msg.len, msg.data, msg.len);
    }
    return s;

nomem:
    if (s) {
        s->first = first.data;
        s->msg = msg.data;
    } else {
        tk_buf_free(&first);
        tk_buf_free(&msg);
    }
    tk_msgsrc_free(s);
    snprintf(err, errlen, "Out of memory building the messages");
    *exit_code = 71;
    return NULL;
}

void tk_msgsrc_free(struct tk_msgsrc *s)
{
    if (!s)
        return;
    free(s->first);
    free(s->msg);
    free(s->rep);
    free(s);
}
