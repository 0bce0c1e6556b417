/* WebSocket (RFC 6455) codec and opening handshake; see ws.h. */
#include "tcpkali/ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- Frame encoder ------------------------------------------------------------------ */

size_t tk_ws_header_encode(uint8_t out[TK_WS_MAX_HEADER], uint8_t byte0, uint64_t len,
                           const uint8_t *mask_key)
{
    uint8_t mask_bit = mask_key ? 0x80 : 0;
    size_t n = 0;
    out[n++] = byte0;
    if (len <= 125) {
        out[n++] = (uint8_t)(mask_bit | len);
    } else if (len <= 0xFFFF) {
        out[n++] = (uint8_t)(mask_bit | 126);
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = (uint8_t)(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out[n++] = (uint8_t)(len >> shift);
    }
    if (mask_key) {
        memcpy(out + n, mask_key, 4);
        n += 4;
    }
    return n;
}

/* The masking key rotated so that its first byte applies at phase, repeated to fill a
 * machine word in memory order: XORing the word over 8 bytes of payload at a position
 * congruent to phase (mod 4) masks them all. */
static uint64_t mask_word(const uint8_t key[4], unsigned phase)
{
    uint8_t rot[8];
    for (unsigned i = 0; i < 8; i++)
        rot[i] = key[(phase + i) & 3];
    uint64_t w;
    memcpy(&w, rot, sizeof(w));
    return w;
}

void tk_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t phase)
{
    unsigned ph = (unsigned)(phase & 3);
    if (n < 16) { /* short payloads: setting up words costs more than it saves */
        for (size_t i = 0; i < n; i++)
            p[i] ^= key[(ph + i) & 3];
        return;
    }
    /* Head: bytes one at a time until p is 8-byte aligned, so the bulk loop does aligned
     * word loads and stores. */
    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        *p++ ^= key[ph];
        ph = (ph + 1) & 3;
        n--;
    }
    if (n >= 8) {
        /* 8 is a multiple of 4, so the phase is the same at every word. */
        uint64_t w = mask_word(key, ph);
        while (n >= 32) {
            uint64_t a, b, c, d;
            memcpy(&a, p, 8);
            memcpy(&b, p + 8, 8);
            memcpy(&c, p + 16, 8);
            memcpy(&d, p + 24, 8);
            a ^= w;
            b ^= w;
            c ^= w;
            d ^= w;
            memcpy(p, &a, 8);
            memcpy(p + 8, &b, 8);
            memcpy(p + 16, &c, 8);
            memcpy(p + 24, &d, 8);
            p += 32;
            n -= 32;
        }
        while (n >= 8) {
            uint64_t a;
            memcpy(&a, p, 8);
            a ^= w;
            memcpy(p, &a, 8);
            p += 8;
            n -= 8;
        }
    }
    while (n > 0) {
        *p++ ^= key[ph];
        ph = (ph + 1) & 3;
        n--;
    }
}

int tk_ws_frame_append(struct tk_buf *out, uint8_t byte0, const uint8_t *payload, size_t len,
                       const uint8_t *mask_key)
{
    uint8_t hdr[TK_WS_MAX_HEADER];
    size_t hl = tk_ws_header_encode(hdr, byte0, len, mask_key);
    uint8_t *dst = tk_buf_reserve(out, hl + len);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, hdr, hl);
    if (len > 0) {
        memcpy(dst + hl, payload, len);
        if (mask_key)
            tk_ws_mask(dst + hl, len, mask_key, 0);
    }
    out->len += hl + len;
    return 0;
}

/* ---- Frame decoder ------------------------------------------------------------------ */

enum { DEC_HEADER, DEC_PAYLOAD, DEC_END, DEC_ERROR };

void tk_ws_decoder_init(struct tk_ws_decoder *d)
{
    memset(d, 0, sizeof(*d));
    d->hdr_need = 2;
}

static enum tk_ws_event dec_fail(struct tk_ws_decoder *d, const char *why)
{
    d->phase = DEC_ERROR;
    d->error = why;
    return TK_WS_EV_ERROR;
}

static bool opcode_reserved(uint8_t op)
{
    return (op >= 0x3 && op <= 0x7) || op >= 0xB;
}

/* The header's full length from its second byte. */
static uint8_t header_len(uint8_t b1)
{
    uint8_t len7 = b1 & 0x7F;
    return (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0));
}

/* Checks what the first two header bytes h[0, 2) say on their own: NULL, or the error. */
static const char *check_first_two(const uint8_t *h)
{
    uint8_t op = h[0] & 0x0F, len7 = h[1] & 0x7F;
    if (opcode_reserved(op))
        return "reserved opcode";
    if (tk_ws_is_control(op) && !(h[0] & TK_WS_FIN))
        return "fragmented control frame";
    if (tk_ws_is_control(op) && len7 > 125)
        return "control frame longer than 125 bytes";
    return NULL;
}

/* The whole header h[0, header_len(h[1])) is in: fill d->frame. */
static enum tk_ws_event dec_header_done(struct tk_ws_decoder *d, const uint8_t *h)
{
    struct tk_ws_frame *f = &d->frame;
    uint8_t len7 = h[1] & 0x7F;
    size_t at = 2;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        at = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        at = 10;
        if (len >> 63)
            return dec_fail(d, "64-bit payload length with the top bit set");
    }
    f->byte0 = h[0];
    f->opcode = h[0] & 0x0F;
    f->fin = (h[0] & TK_WS_FIN) != 0;
    f->masked = (h[1] & 0x80) != 0;
    if (f->masked)
        memcpy(f->mask_key, h + at, 4);
    else
        memset(f->mask_key, 0, 4);
    f->len = len;
    f->offset = 0;
    d->phase = len > 0 ? DEC_PAYLOAD : DEC_END;
    d->hdr_have = 0;
    d->hdr_need = 2;
    return TK_WS_EV_HEADER;
}

/* Gathers header bytes; returns HEADER when complete, NEED_MORE when the input ran out. */
static enum tk_ws_event dec_header(struct tk_ws_decoder *d, const uint8_t *in, size_t n,
                                   size_t *used)
{
    /* Fast path: a whole header at the start of the input is read where it is. */
    if (d->hdr_have == 0 && n >= 2 && n >= header_len(in[1])) {
        const char *why = check_first_two(in);
        if (why) {
            *used = 2; /* as many as the byte-wise path takes before it fails */
            return dec_fail(d, why);
        }
        *used = header_len(in[1]);
        return dec_header_done(d, in);
    }
    while (*used < n) {
        size_t take = d->hdr_need - d->hdr_have;
        if (take > n - *used)
            take = n - *used;
        memcpy(d->hdr + d->hdr_have, in + *used, take);
        d->hdr_have = (uint8_t)(d->hdr_have + take);
        *used += take;
        if (d->hdr_have < d->hdr_need)
            break;
        if (d->hdr_have == 2) {
            const char *why = check_first_two(d->hdr);
            if (why)
                return dec_fail(d, why);
            d->hdr_need = header_len(d->hdr[1]);
            if (d->hdr_have < d->hdr_need)
                continue;
        }
        return dec_header_done(d, d->hdr);
    }
    return TK_WS_EV_NEED_MORE;
}

enum tk_ws_event tk_ws_decode(struct tk_ws_decoder *d, uint8_t *in, size_t n, size_t *used,
                              uint8_t **data, size_t *len)
{
    *used = 0;
    *data = NULL;
    *len = 0;
    if (d->hdr_need == 0) /* zeroed, never initialised */
        d->hdr_need = 2;
    switch (d->phase) {
    case DEC_HEADER: {
        enum tk_ws_event ev = dec_header(d, in, n, used);
        struct tk_ws_frame *f = &d->frame;
        if (ev == TK_WS_EV_HEADER && f->len <= n - *used) {
            /* The whole payload is here too: one event for the frame. */
            size_t plen = (size_t)f->len;
            if (f->masked)
                tk_ws_mask(in + *used, plen, f->mask_key, 0);
            *data = in + *used;
            *len = plen;
            *used += plen;
            f->offset = f->len;
            d->phase = DEC_HEADER;
            return TK_WS_EV_FRAME;
        }
        return ev;
    }
    case DEC_PAYLOAD: {
        struct tk_ws_frame *f = &d->frame;
        if (n == 0)
            return TK_WS_EV_NEED_MORE;
        uint64_t left = f->len - f->offset;
        size_t take = left < n ? (size_t)left : n;
        if (f->masked)
            tk_ws_mask(in, take, f->mask_key, f->offset);
        f->offset += take;
        if (f->offset == f->len)
            d->phase = DEC_END;
        *used = take;
        *data = in;
        *len = take;
        return TK_WS_EV_PAYLOAD;
    }
    case DEC_END:
        d->phase = DEC_HEADER;
        return TK_WS_EV_END;
    default:
        return TK_WS_EV_ERROR;
    }
}

/* ---- Base64 and the accept key ------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t tk_ws_base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tk_ws_base64_decode(const char *text, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = 0;
        if (last && text[i + 3] == '=')
            pad = text[i + 2] == '=' ? 2 : 1;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int x = k >= 4 - pad ? 0 : b64_value(text[i + k]);
            if (x < 0)
                return -1;
            v = v << 6 | (uint32_t)x;
        }
        /* Padding must leave the unused low bits zero (canonical encoding). */
        if ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF)))
            return -1;
        size_t bytes = 3 - (size_t)pad;
        if (o + bytes > cap)
            return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (bytes > 1)
            out[o++] = (uint8_t)(v >> 8);
        if (bytes > 2)
            out[o++] = (uint8_t)v;
    }
    return (int)o;
}

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void tk_ws_accept_key(const char *key, size_t key_len, char out[TK_WS_ACCEPT_LEN + 1])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
              EVP_DigestUpdate(ctx, key, key_len) &&
              EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) &&
              EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok) /* only on allocation failure: a value no peer's key can match */
        memset(md, 0, 20);
    tk_ws_base64_encode(md, 20, out);
}

void tk_ws_make_key(const uint8_t nonce[16], char out[TK_WS_KEY_LEN + 1])
{
    tk_ws_base64_encode(nonce, 16, out);
}

/* ---- Request and response builders -------------------------------------------------- */

static int buf_puts(struct tk_buf *out, const char *s)
{
    return tk_buf_append(out, s, strlen(s));
}

int tk_ws_request_build(struct tk_buf *out, const char *host, size_t host_len,
                        const char *path, const char *key, const char *const *headers,
                        size_t nheaders)
{
    int rc = 0;
    rc |= buf_puts(out, "GET ");
    rc |= buf_puts(out, path && *path ? path : "/");
    rc |= buf_puts(out, " HTTP/1.1\r\nHost: ");
    rc |= tk_buf_append(out, host, host_len);
    rc |= buf_puts(out, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    rc |= buf_puts(out, key);
    rc |= buf_puts(out, "\r\nSec-WebSocket-Version: 13\r\n");
    for (size_t i = 0; i < nheaders; i++) {
        rc |= buf_puts(out, headers[i]);
        rc |= buf_puts(out, "\r\n");
    }
    rc |= buf_puts(out, "\r\n");
    return rc ? -ENOMEM : 0;
}

size_t tk_ws_dest_host_len(const char *dest_text)
{
    return strcspn(dest_text, "/");
}

int tk_ws_response_build(struct tk_buf *out, const char *key)
{
    char accept[TK_WS_ACCEPT_LEN + 1];
    tk_ws_accept_key(key, strlen(key), accept);
    int rc = 0;
    rc |= buf_puts(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    rc |= buf_puts(out, accept);
    rc |= buf_puts(out, "\r\n\r\n");
    return rc ? -ENOMEM : 0;
}

int tk_ws_response_400_build(struct tk_buf *out)
{
    return buf_puts(out, "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n")
               ? -ENOMEM
               : 0;
}

/* ---- Handshake parsers -------------------------------------------------------------- */

void tk_ws_response_parser_init(struct tk_ws_hs_parser *p, const char *key)
{
    p->len = 0;
    p->result = TK_WS_HS_MORE;
    p->server = false;
    p->key[0] = '\0';
    p->reason[0] = '\0';
    tk_ws_accept_key(key, strlen(key), p->expect_accept);
}

void tk_ws_request_parser_init(struct tk_ws_hs_parser *p)
{
    p->len = 0;
    p->result = TK_WS_HS_MORE;
    p->server = true;
    p->key[0] = '\0';
    p->expect_accept[0] = '\0';
    p->reason[0] = '\0';
}

/* A piece of the head: s[0, n), not NUL-terminated (the head may contain NUL bytes). */
struct span {
    const char *s;
    size_t n;
};

static int hs_fail(struct tk_ws_hs_parser *p, int result, const char *fmt, struct span what)
{
    /* The peer's bytes go into a line a person reads: printable ASCII only. */
    char clean[80];
    size_t n = what.n < sizeof(clean) - 1 ? what.n : sizeof(clean) - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)what.s[i];
        clean[i] = c >= 0x20 && c < 0x7F ? (char)c : '?';
    }
    clean[n] = '\0';
    snprintf(p->reason, sizeof(p->reason), fmt, clean);
    p->result = result;
    return result;
}

static bool span_ieq(struct span a, const char *lit)
{
    return a.n == strlen(lit) && strncasecmp(a.s, lit, a.n) == 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static struct span span_trim(struct span a)
{
    while (a.n > 0 && is_space(a.s[0])) {
        a.s++;
        a.n--;
    }
    while (a.n > 0 && is_space(a.s[a.n - 1]))
        a.n--;
    return a;
}

/* True when the comma-separated list v has an element equal to token (case-insensitive). */
static bool list_has_token(struct span v, const char *token)
{
    size_t i = 0;
    while (i <= v.n) {
        size_t j = i;
        while (j < v.n && v.s[j] != ',')
            j++;
        if (span_ieq(span_trim((struct span){v.s + i, j - i}), token))
            return true;
        i = j + 1;
    }
    return false;
}

/* The header fields the handshake looks at; a missing one has s == NULL. */
struct hs_fields {
    struct span upgrade, connection, key, version, accept;
    bool dup_key, dup_accept;
};

static void field_set(struct span *slot, bool *dup, struct span v)
{
    if (slot->s && dup)
        *dup = true;
    *slot = v;
}

/* Splits the header lines after the start line (head[at, end), each ending in CRLF, the
 * last one empty) into f. false on a line that is not "name: value". */
static bool hs_fields_parse(const char *head, size_t at, size_t end, struct hs_fields *f,
                            struct span *bad)
{
    memset(f, 0, sizeof(*f));
    while (at < end) {
        const char *line = head + at;
        const char *crlf = memmem(line, end - at, "\r\n", 2);
        if (!crlf) /* cannot happen: the head ends in CRLFCRLF */
            break;
        size_t n = (size_t)(crlf - line);
        at += n + 2;
        if (n == 0)
            break;
        struct span l = {line, n};
        const char *colon = memchr(line, ':', n);
        if (!colon || colon == line || memchr(line, '\r', n) || memchr(line, '\n', n)) {
            *bad = l;
            return false;
        }
        struct span name = {line, (size_t)(colon - line)};
        for (size_t i = 0; i < name.n; i++) {
            unsigned char c = (unsigned char)name.s[i];
            if (c <= 0x20 || c >= 0x7F) {
                *bad = l;
                return false;
            }
        }
        struct span v = span_trim((struct span){colon + 1, n - name.n - 1});
        if (span_ieq(name, "upgrade"))
            field_set(&f->upgrade, NULL, v);
        else if (span_ieq(name, "connection"))
            field_set(&f->connection, NULL, v);
        else if (span_ieq(name, "sec-websocket-key"))
            field_set(&f->key, &f->dup_key, v);
        else if (span_ieq(name, "sec-websocket-version"))
            field_set(&f->version, NULL, v);
        else if (span_ieq(name, "sec-websocket-accept"))
            field_set(&f->accept, &f->dup_accept, v);
    }
    return true;
}

/* "HTTP/1.<digit>": the version prefix of a status line or the end of a request line. */
static bool is_http1(const char *s, size_t n)
{
    return n == 8 && memcmp(s, "HTTP/1.", 7) == 0 && s[7] >= '0' && s[7] <= '9';
}

static bool upgrade_ok(const struct hs_fields *f)
{
    return f->upgrade.s && list_has_token(f->upgrade, "websocket") && f->connection.s &&
           list_has_token(f->connection, "upgrade");
}

static int hs_check_response(struct tk_ws_hs_parser *p, struct span start,
                             const struct hs_fields *f)
{
    /* "HTTP/1.x 101" then the end or " reason". */
    bool http = start.n >= 12 && is_http1(start.s, 8) && start.s[8] == ' ';
    for (size_t i = 9; http && i < 12; i++)
        http = start.s[i] >= '0' && start.s[i] <= '9';
    if (!http || (start.n > 12 && start.s[12] != ' '))
        return hs_fail(p, TK_WS_HS_MALFORMED, "not an HTTP/1.x status line: %s", start);
    if (memcmp(start.s + 9, "101", 3) != 0)
        return hs_fail(p, TK_WS_HS_STATUS, "%s", start);
    if (!upgrade_ok(f))
        return hs_fail(p, TK_WS_HS_ACCEPT, "no Upgrade: websocket and Connection: upgrade%s",
                       (struct span){"", 0});
    if (!f->accept.s)
        return hs_fail(p, TK_WS_HS_ACCEPT, "no Sec-WebSocket-Accept%s", (struct span){"", 0});
    if (f->dup_accept || f->accept.n != TK_WS_ACCEPT_LEN ||
        memcmp(f->accept.s, p->expect_accept, TK_WS_ACCEPT_LEN) != 0)
        return hs_fail(p, TK_WS_HS_ACCEPT, "wrong Sec-WebSocket-Accept: %s", f->accept);
    p->result = TK_WS_HS_OK;
    return TK_WS_HS_OK;
}

static int hs_check_request(struct tk_ws_hs_parser *p, struct span start,
                            const struct hs_fields *f)
{
    /* "METHOD SP target SP HTTP/1.x" */
    const char *sp1 = memchr(start.s, ' ', start.n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', start.n - (size_t)(sp1 + 1 - start.s)) : NULL;
    if (!sp1 || !sp2 || sp1 == start.s || sp2 == sp1 + 1 ||
        !is_http1(sp2 + 1, start.n - (size_t)(sp2 + 1 - start.s)))
        return hs_fail(p, TK_WS_HS_MALFORMED, "not an HTTP/1.x request line: %s", start);
    if (sp1 - start.s != 3 || memcmp(start.s, "GET", 3) != 0 || sp2[8] == '0')
        return hs_fail(p, TK_WS_HS_REQUEST, "not a GET with HTTP/1.1: %s", start);
    if (!upgrade_ok(f))
        return hs_fail(p, TK_WS_HS_REQUEST, "no Upgrade: websocket and Connection: upgrade%s",
                       (struct span){"", 0});
    if (!f->version.s || !span_ieq(f->version, "13"))
        return hs_fail(p, TK_WS_HS_REQUEST, "Sec-WebSocket-Version is not 13%s",
                       (struct span){"", 0});
    uint8_t nonce[18];
    if (!f->key.s || f->dup_key || f->key.n != TK_WS_KEY_LEN ||
        tk_ws_base64_decode(f->key.s, f->key.n, nonce, sizeof(nonce)) != 16)
        return hs_fail(p, TK_WS_HS_REQUEST, "bad Sec-WebSocket-Key: %s",
                       f->key.s ? f->key : (struct span){"(none)", 6});
    memcpy(p->key, f->key.s, TK_WS_KEY_LEN);
    p->key[TK_WS_KEY_LEN] = '\0';
    p->result = TK_WS_HS_OK;
    return TK_WS_HS_OK;
}

/* The whole head is in p->head[0, p->len), ending in CRLFCRLF: validate it. */
static int hs_validate(struct tk_ws_hs_parser *p)
{
    const char *crlf = memmem(p->head, p->len, "\r\n", 2);
    struct span start = {p->head, crlf ? (size_t)(crlf - p->head) : 0};
    if (start.n == 0 || memchr(start.s, '\n', start.n) || memchr(start.s, '\r', start.n))
        return hs_fail(p, TK_WS_HS_MALFORMED, "bad start line: %s", start);
    struct hs_fields f;
    struct span bad = {"", 0};
    if (!hs_fields_parse(p->head, start.n + 2, p->len, &f, &bad))
        return hs_fail(p, TK_WS_HS_MALFORMED, "bad header line: %s", bad);
    return p->server ? hs_check_request(p, start, &f) : hs_check_response(p, start, &f);
}

int tk_ws_hs_parse(struct tk_ws_hs_parser *p, const uint8_t *in, size_t n, size_t *used)
{
    *used = 0;
    if (p->result != TK_WS_HS_MORE)
        return p->result;
    size_t old = p->len, room = sizeof(p->head) - old;
    size_t take = n < room ? n : room;
    memcpy(p->head + old, in, take);
    /* The terminator may straddle the previous piece and this one. */
    size_t from = old >= 3 ? old - 3 : 0;
    const char *end = memmem(p->head + from, old + take - from, "\r\n\r\n", 4);
    if (end) {
        p->len = (size_t)(end - p->head) + 4;
        *used = p->len - old;
        return hs_validate(p);
    }
    p->len = old + take;
    *used = take;
    if (p->len == sizeof(p->head))
        return hs_fail(p, TK_WS_HS_MALFORMED, "header longer than 8192 bytes%s",
                       (struct span){"", 0});
    return TK_WS_HS_MORE;
}
