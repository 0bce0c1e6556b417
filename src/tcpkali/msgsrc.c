/* Message source: every -1/-m/-f argument compiled through the expression parser (expr.h)
 * and assembled into what a connection sends; see msgsrc.h.
 *
 * Compiled form. Each argument becomes a run of "items" (its pieces, in order) cut into
 * segments, the unit of WebSocket framing (spec §4.3): a run of ordinary pieces is one text
 * frame, a \{ws.*} piece is its own frame (never re-framed), and a run of \{raw} pieces
 * goes out unframed. Segments never span two arguments, so every argument is framed
 * separately, and `-m 'a\{ws.ping}b'` is a text frame "a", the ping, a text frame "b".
 * Without WebSocket framing the segments are only concatenated, but \{ws.*} pieces are still
 * frames (the user asked for those bytes; unmasked, since the side is not known here).
 *
 * Sources. When every piece is constant, the bytes are built once here and shared by every
 * connection (first, msg, rep); with a WebSocket client's framing the replicated buffer is
 * made of freshly framed copies of the message, so each frame in it has its own masking
 * key. Otherwise the source has ops and each connection has a struct ms_conn: its own
 * generator, its per-connection values (uid, ptr, connection.re: evaluated once in
 * conn_init, bug 35 fixed), and the positions of the message markers in its buffer.
 *
 * Markers. A marker piece reserves the zero token; its position (and its frame's masking
 * key and key phase, when masked) is recorded as it is appended, so stamp() writes the
 * current time straight into place, masked as the frame is, without searching the buffer
 * (a search could never find a masked token anyway). */
#include "tcpkali/msgsrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/rng.h"
#include "core/util.h"
#include "tcpkali/expr.h"
#include "tcpkali/marker.h"
#include "tcpkali/regen.h"
#include "tcpkali/ws.h"

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
            while (n < 2 && i < len && (d = util_hex_digit((unsigned char)in[i])) >= 0) {
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


/* ---- Compiled arguments ----------------------------------------------------------------- */

struct ms_arg {
    struct tk_expr ex;
    struct tk_piece file_piece; /* -f contents (bug 9: one constant piece, never parsed) */
    bool from_file;
};

/* One piece as the assembler walks it. */
struct ms_item {
    const struct tk_piece *pc;
    uint32_t slot; /* TK_PC_CONN_*: index of the connection's cached value */
};

enum ms_seg_kind {
    MS_SEG_TEXT, /* a run of ordinary pieces: one text frame when framed */
    MS_SEG_WS,   /* one \{ws.*} piece: its own frame */
    MS_SEG_RAW,  /* a run of \{raw} pieces: never framed */
};

struct ms_seg {
    enum ms_seg_kind kind;
    uint32_t i0, i1; /* items [i0, i1) */
};

/* The once part (-1 arguments) or the message (-m and -f arguments). */
struct ms_part {
    struct ms_seg *segs;
    size_t nsegs, cap;
    enum tk_expr_scope scope; /* the most variable piece */
    bool can_be_nonempty;     /* some evaluation gives at least one byte */
};

struct ms_impl {
    enum tk_framing framing;
    struct ms_arg *args;
    size_t nargs;
    struct ms_item *items;
    size_t nitems, items_cap;
    uint32_t nslots;
    struct ms_part once, msg;
    uint64_t seed; /* of the per-connection generators */
};

/* ---- Per-connection state --------------------------------------------------------------- */

/* A marker in the connection's buffer: where its first byte is and how its frame masks it. */
struct ms_mark {
    size_t off;
    uint8_t key[4];
    uint8_t phase; /* payload offset of the token's first byte, mod 4 */
    bool masked;
};

struct ms_val {
    size_t off, len; /* in ms_conn.vals */
};

/* A masked frame in the precomputed message: its key at key_off, then len payload bytes. */
struct ms_preframe {
    size_t key_off, len;
};

struct ms_conn {
    struct rng rng;
    struct tk_buf vals;  /* the per-connection values, one after another */
    struct ms_val *val;  /* by slot */
    /* Fast path: the message has no per-message piece, so it is the same bytes every time
     * but for a client's masking keys (left zero in pre; pf locates them). */
    struct tk_buf pre;
    bool have_pre;
    bool zero_keys; /* while building pre: masking keys left zero, frames recorded */
    struct ms_preframe *pf;
    size_t npf, pf_cap;
    /* Markers in the engine's buffer, in order; mk_next is the first one not yet passed by
     * the engine's write offset; mk_end the buffer length after the last append. */
    struct ms_mark *mk;
    size_t nmk, mk_cap, mk_next, mk_end;
};

/* The reserved token, stamped before it is written. */
static const uint8_t zero_token[] = TK_MSGMARK_PREFIX "0000000000000000.";
_Static_assert(sizeof(zero_token) - 1 == TK_MSGMARK_LEN, "marker token length");

/* Grows an array to hold at least need elements. 0 or -ENOMEM. */
static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(*v, n * elem);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = n;
    return 0;
}

static enum tk_expr_scope piece_scope(const struct tk_piece *pc)
{
    switch (pc->kind) {
    case TK_PC_CONN_UID:
    case TK_PC_CONN_PTR:
    case TK_PC_CONN_RE:
        return TK_SCOPE_CONNECTION;
    case TK_PC_RE:
    case TK_PC_MARKER:
        return TK_SCOPE_MESSAGE;
    case TK_PC_BYTES:
    case TK_PC_WS_FRAME:
        break;
    }
    return TK_SCOPE_CONSTANT;
}

static bool piece_may_have_bytes(const struct tk_piece *pc)
{
    switch (pc->kind) {
    case TK_PC_BYTES:
        return pc->len > 0;
    case TK_PC_CONN_RE:
    case TK_PC_RE:
        return tk_regen_max_len(pc->re) > 0;
    default:
        return true;
    }
}

/* ---- Compiling -------------------------------------------------------------------------- */

static int part_add_seg(struct ms_part *part, enum ms_seg_kind kind, uint32_t item)
{
    if (grow((void **)&part->segs, &part->cap, part->nsegs + 1, sizeof(*part->segs)) < 0)
        return -ENOMEM;
    part->segs[part->nsegs++] = (struct ms_seg){kind, item, item + 1};
    return 0;
}

/* Adds one argument's pieces to part, cut into segments (see the top of the file). */
static int part_add_expr(struct ms_impl *m, struct ms_part *part, const struct tk_expr *ex)
{
    bool open = false; /* the last segment belongs to this argument and may grow */

    for (size_t j = 0; j < ex->n; j++) {
        const struct tk_piece *pc = &ex->v[j];
        if (pc->kind == TK_PC_BYTES && pc->len == 0)
            continue;
        if (grow((void **)&m->items, &m->items_cap, m->nitems + 1, sizeof(*m->items)) < 0)
            return -ENOMEM;
        uint32_t it = (uint32_t)m->nitems;
        m->items[it].pc = pc;
        m->items[it].slot = piece_scope(pc) == TK_SCOPE_CONNECTION ? m->nslots++ : 0;
        m->nitems++;

        enum ms_seg_kind kind = pc->kind == TK_PC_WS_FRAME ? MS_SEG_WS
                                : pc->raw                  ? MS_SEG_RAW
                                                           : MS_SEG_TEXT;
        if (open && kind != MS_SEG_WS && part->segs[part->nsegs - 1].kind == kind) {
            part->segs[part->nsegs - 1].i1 = it + 1;
        } else {
            if (part_add_seg(part, kind, it) < 0)
                return -ENOMEM;
            open = kind != MS_SEG_WS;
        }
        if (piece_scope(pc) > part->scope)
            part->scope = piece_scope(pc);
        if (kind == MS_SEG_WS || (kind == MS_SEG_TEXT && m->framing != TK_FRAMING_NONE) ||
            piece_may_have_bytes(pc))
            part->can_be_nonempty = true;
    }
    return 0;
}

/* Parses one argument (or takes a file's bytes as they are) into m->args[m->nargs]. */
static int compile_arg(struct ms_impl *m, const struct tk_msg_arg *in, struct rng *prng,
                       char *err, size_t errlen)
{
    struct ms_arg *a = &m->args[m->nargs];
    memset(a, 0, sizeof(*a));
    if (in->from_file) {
        a->from_file = true;
        a->file_piece.kind = TK_PC_BYTES;
        if (in->len) {
            a->file_piece.bytes = malloc(in->len);
            if (!a->file_piece.bytes)
                return -ENOMEM;
            memcpy(a->file_piece.bytes, in->text, in->len);
            a->file_piece.len = in->len;
        }
        a->ex.v = &a->file_piece;
        a->ex.n = 1;
    } else {
        int rc = tk_expr_parse(in->text, in->len, in->unescape, prng, &a->ex, err, errlen);
        if (rc < 0)
            return rc;
    }
    m->nargs++;
    return part_add_expr(m, in->kind == TK_MSG_FIRST ? &m->once : &m->msg, &a->ex);
}

static void impl_free(struct ms_impl *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nargs; i++) {
        if (m->args[i].from_file)
            free(m->args[i].file_piece.bytes);
        else
            tk_expr_free(&m->args[i].ex);
    }
    free(m->args);
    free(m->items);
    free(m->once.segs);
    free(m->msg.segs);
    free(m);
}

/* ---- Assembling ------------------------------------------------------------------------- */

/* The masking key of the next frame: NULL when frames go unmasked. */
static const uint8_t *frame_key(const struct ms_impl *m, struct ms_conn *c, uint8_t key[4])
{
    if (m->framing != TK_FRAMING_WS_CLIENT)
        return NULL;
    if (c->zero_keys) {
        memset(key, 0, 4);
    } else {
        uint32_t r = (uint32_t)(rng_next(&c->rng) >> 32);
        memcpy(key, &r, 4);
    }
    return key;
}

/* While building the precomputed message: remember a masked frame whose key (at key_off)
 * and payload are to be filled in by next(). */
static int note_preframe(struct ms_conn *c, size_t key_off, size_t len)
{
    if (grow((void **)&c->pf, &c->pf_cap, c->npf + 1, sizeof(*c->pf)) < 0)
        return -ENOMEM;
    c->pf[c->npf++] = (struct ms_preframe){key_off, len};
    return 0;
}

static int mark_push(struct ms_conn *c, size_t off)
{
    if (grow((void **)&c->mk, &c->mk_cap, c->nmk + 1, sizeof(*c->mk)) < 0)
        return -ENOMEM;
    c->mk[c->nmk++] = (struct ms_mark){.off = off};
    return 0;
}

static void marks_reset(struct ms_conn *c)
{
    c->nmk = c->mk_next = c->mk_end = 0;
}

/* Appends one item's value (never a \{ws.*} piece: those are segments of their own). */
static int eval_item(struct ms_conn *c, const struct ms_item *it, struct tk_buf *out)
{
    const struct tk_piece *pc = it->pc;
    switch (pc->kind) {
    case TK_PC_BYTES:
        return tk_buf_append(out, pc->bytes, pc->len);
    case TK_PC_CONN_UID:
    case TK_PC_CONN_PTR:
    case TK_PC_CONN_RE: {
        const struct ms_val *v = &c->val[it->slot];
        return v->len ? tk_buf_append(out, c->vals.data + v->off, v->len) : 0;
    }
    case TK_PC_RE: {
        size_t max = tk_regen_max_len(pc->re);
        if (max == 0)
            return 0;
        uint8_t *d = tk_buf_reserve(out, max);
        if (!d)
            return -ENOMEM;
        out->len += tk_regen_generate(pc->re, &c->rng, d);
        return 0;
    }
    case TK_PC_MARKER: /* "% N" on a marker (a parse error) would be ignored, never abort */
        if (mark_push(c, out->len) < 0)
            return -ENOMEM;
        return tk_buf_append(out, zero_token, TK_MSGMARK_LEN);
    case TK_PC_WS_FRAME:
        break;
    }
    return -EINVAL;
}

static int eval_items(struct ms_conn *c, const struct ms_item *items, const struct ms_seg *sg,
                      struct tk_buf *out)
{
    for (uint32_t i = sg->i0; i < sg->i1; i++) {
        int rc = eval_item(c, &items[i], out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A run of ordinary pieces as one text frame. The payload is evaluated in place behind the
 * shortest header, which is moved over when the payload turns out longer than 125 bytes;
 * markers recorded meanwhile move with it and take the frame's key and phase. */
static int emit_text_frame(const struct ms_impl *m, struct ms_conn *c, const struct ms_seg *sg,
                           struct tk_buf *out)
{
    uint8_t keyb[4], hdr[TK_WS_MAX_HEADER];
    const uint8_t *key = frame_key(m, c, keyb);
    const size_t guess = key ? 6 : 2;
    const size_t h = out->len, mk0 = c->nmk;

    if (!tk_buf_reserve(out, guess))
        return -ENOMEM;
    out->len += guess;
    int rc = eval_items(c, m->items, sg, out);
    if (rc < 0)
        return rc;
    size_t plen = out->len - h - guess;
    size_t hl = tk_ws_header_encode(hdr, TK_WS_FIN | TK_WS_OP_TEXT, plen, key);
    if (hl > guess) {
        size_t more = hl - guess;
        if (!tk_buf_reserve(out, more))
            return -ENOMEM;
        memmove(out->data + h + hl, out->data + h + guess, plen);
        out->len += more;
        for (size_t i = mk0; i < c->nmk; i++)
            c->mk[i].off += more;
    }
    memcpy(out->data + h, hdr, hl);
    if (key) {
        const size_t pay = h + hl;
        tk_ws_mask(out->data + pay, plen, key, 0);
        for (size_t i = mk0; i < c->nmk; i++) {
            memcpy(c->mk[i].key, key, 4);
            c->mk[i].phase = (uint8_t)((c->mk[i].off - pay) & 3);
            c->mk[i].masked = true;
        }
        if (c->zero_keys && note_preframe(c, pay - 4, plen) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* A \{ws.*} piece: its frame as given (opcode, FIN, RSV bits), masked as the side's. */
static int emit_ws_frame(const struct ms_impl *m, struct ms_conn *c, const struct tk_piece *pc,
                         struct tk_buf *out)
{
    uint8_t keyb[4];
    const uint8_t *key = frame_key(m, c, keyb);
    if (tk_ws_frame_append(out, pc->ws_byte0, pc->bytes, pc->len, key) < 0)
        return -ENOMEM;
    if (key && c->zero_keys)
        return note_preframe(c, out->len - pc->len - 4, pc->len);
    return 0;
}

/* Appends a whole part (the once part, or one message), argument by argument. */
static int emit_part(const struct ms_impl *m, struct ms_conn *c, const struct ms_part *part,
                     struct tk_buf *out)
{
    for (size_t k = 0; k < part->nsegs; k++) {
        const struct ms_seg *sg = &part->segs[k];
        int rc;
        if (sg->kind == MS_SEG_WS)
            rc = emit_ws_frame(m, c, m->items[sg->i0].pc, out);
        else if (sg->kind == MS_SEG_TEXT && m->framing != TK_FRAMING_NONE)
            rc = emit_text_frame(m, c, sg, out);
        else
            rc = eval_items(c, m->items, sg, out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- Per-connection operations ---------------------------------------------------------- */

static int put_value(struct ms_conn *c, uint32_t slot, const void *p, size_t n)
{
    c->val[slot].off = c->vals.len;
    c->val[slot].len = n;
    return tk_buf_append(&c->vals, p, n);
}

/* Evaluates the per-connection pieces once: uid and ptr (either "% N"), connection.re. */
static int conn_values(const struct ms_impl *m, struct ms_conn *c, uint64_t uid)
{
    for (size_t i = 0; i < m->nitems; i++) {
        const struct ms_item *it = &m->items[i];
        const struct tk_piece *pc = it->pc;
        char num[40];
        int n = -1;
        int rc = 0;
        if (pc->kind == TK_PC_CONN_UID) {
            unsigned long long v = pc->modulo ? uid % pc->modulo : uid;
            n = snprintf(num, sizeof(num), "%llu", v);
        } else if (pc->kind == TK_PC_CONN_PTR) {
            /* The connection's address, as tcpkali prints its connection struct's. */
            if (pc->modulo)
                n = snprintf(num, sizeof(num), "%llu",
                             (unsigned long long)((uintptr_t)c % pc->modulo));
            else
                n = snprintf(num, sizeof(num), "%p", (void *)c);
        } else if (pc->kind == TK_PC_CONN_RE) {
            size_t max = tk_regen_max_len(pc->re);
            c->val[it->slot].off = c->vals.len;
            c->val[it->slot].len = 0;
            uint8_t *d = max ? tk_buf_reserve(&c->vals, max) : NULL;
            if (max && !d)
                return -ENOMEM;
            if (max) {
                size_t got = tk_regen_generate(pc->re, &c->rng, d);
                c->vals.len += got;
                c->val[it->slot].len = got;
            }
            continue;
        } else {
            continue;
        }
        if (n < 0 || (rc = put_value(c, it->slot, num, (size_t)n)) < 0)
            return rc < 0 ? rc : -EINVAL;
    }
    return 0;
}

static int ms_conn_init(const struct tk_msgsrc *s, void *cs, uint64_t uid)
{
    const struct ms_impl *m = s->impl;
    struct ms_conn *c = cs;
    uint64_t x = m->seed ^ (uid * 0x9E3779B97F4A7C15ull);

    rng_seed(&c->rng, rng_splitmix64(&x));
    if (m->nslots) {
        c->val = calloc(m->nslots, sizeof(*c->val));
        if (!c->val)
            return -ENOMEM;
    }
    int rc = conn_values(m, c, uid);
    if (rc < 0)
        return rc;
    /* Fast path. tcpkali gives a connection whose payload has per-connection values its own
     * buffer of the message replicated to 64 KiB. Here the engine's batch buffer (filled by
     * next() up to TK_REP_MIN bytes) plays that part, so the message is evaluated and
     * framed once, now, and each next() is one memcpy (plus, for a client, a fresh masking
     * key per frame, which tcpkali never had). */
    if (s->has_messages && m->msg.scope <= TK_SCOPE_CONNECTION) {
        c->zero_keys = true;
        rc = emit_part(m, c, &m->msg, &c->pre);
        c->zero_keys = false;
        if (rc < 0)
            return rc;
        c->have_pre = c->pre.len > 0;
    }
    return 0;
}

static void ms_conn_free(const struct tk_msgsrc *s, void *cs)
{
    struct ms_conn *c = cs;
    (void)s;
    tk_buf_free(&c->vals);
    tk_buf_free(&c->pre);
    free(c->val);
    free(c->pf);
    free(c->mk);
    c->val = NULL;
    c->pf = NULL;
    c->mk = NULL;
}

/* Forgets the markers when the engine has emptied its buffer since the last append. */
static void marks_sync(struct ms_conn *c, const struct tk_buf *out)
{
    if (out->len == 0 || out->len < c->mk_end)
        marks_reset(c);
}

static int ms_first(const struct tk_msgsrc *s, void *cs, struct tk_buf *out)
{
    const struct ms_impl *m = s->impl;
    struct ms_conn *c = cs;
    marks_sync(c, out);
    int rc = emit_part(m, c, &m->once, out);
    c->mk_end = out->len;
    return rc;
}

/* How many times next() evaluates a message that came out empty (\{re a?} alone) before
 * giving up for now: messages are never empty by contract. */
#define MS_EMPTY_RETRIES 64

static int ms_next(const struct tk_msgsrc *s, void *cs, struct tk_buf *out, size_t *len)
{
    const struct ms_impl *m = s->impl;
    struct ms_conn *c = cs;
    const size_t start = out->len;
    int rc = 0;

    marks_sync(c, out);
    const size_t mk0 = c->nmk;
    if (c->have_pre) {
        if (tk_buf_append(out, c->pre.data, c->pre.len) < 0) {
            rc = -ENOMEM;
        } else {
            for (size_t i = 0; i < c->npf; i++) {
                uint8_t key[4];
                uint8_t *k = out->data + start + c->pf[i].key_off;
                frame_key(m, c, key);
                memcpy(k, key, 4);
                tk_ws_mask(k + 4, c->pf[i].len, key, 0);
            }
        }
    } else {
        for (int t = 0; t < MS_EMPTY_RETRIES && rc == 0 && out->len == start; t++)
            rc = emit_part(m, c, &m->msg, out);
    }
    if (rc < 0 || out->len == start) {
        out->len = start;
        c->nmk = mk0;
        if (c->mk_next > mk0)
            c->mk_next = mk0;
        *len = 0;
        c->mk_end = out->len;
        return rc < 0 ? rc : -EAGAIN;
    }
    *len = out->len - start;
    c->mk_end = out->len;
    return 0;
}

static uint64_t wallclock_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void ms_stamp(const struct tk_msgsrc *s, void *cs, struct tk_buf *buf, size_t off,
                     size_t n)
{
    struct ms_conn *c = cs;
    (void)s;
    if (buf->len < c->mk_end) { /* emptied since: those markers are gone */
        marks_reset(c);
        return;
    }
    size_t i = c->mk_next;
    while (i < c->nmk && c->mk[i].off < off)
        i++; /* their first byte went out: stamped for good */
    c->mk_next = i;
    if (i == c->nmk || c->mk[i].off - off >= n)
        return;

    uint8_t tok[TK_MSGMARK_LEN];
    tk_msgmark_format(wallclock_us(), tok);
    for (; i < c->nmk && c->mk[i].off - off < n; i++) {
        const struct ms_mark *k = &c->mk[i];
        uint8_t *dst = buf->data + k->off;
        if (k->off + TK_MSGMARK_LEN > buf->len)
            break;
        memcpy(dst, tok, TK_MSGMARK_LEN);
        if (k->masked)
            tk_ws_mask(dst, TK_MSGMARK_LEN, k->key, k->phase);
    }
}

static const struct tk_msgsrc_ops ops_plain = {
    .conn_state_size = sizeof(struct ms_conn),
    .conn_init = ms_conn_init,
    .conn_free = ms_conn_free,
    .first = ms_first,
    .next = ms_next,
    .stamp = NULL,
};

static const struct tk_msgsrc_ops ops_markers = {
    .conn_state_size = sizeof(struct ms_conn),
    .conn_init = ms_conn_init,
    .conn_free = ms_conn_free,
    .first = ms_first,
    .next = ms_next,
    .stamp = ms_stamp,
};

/* ---- The source ------------------------------------------------------------------------- */

/* A constant source's shared buffers: the once part, one message, and the message repeated
 * to at least TK_REP_MIN bytes. Framed for a client, each copy is framed afresh, so every
 * frame in the buffer has its own masking key. */
static int build_constant(struct tk_msgsrc *s, const struct ms_impl *m)
{
    struct ms_conn tmp;
    struct tk_buf first = {0}, msg = {0}, rep = {0};
    int rc;

    memset(&tmp, 0, sizeof(tmp));
    rng_seed(&tmp.rng, rng_entropy_seed());
    if ((rc = emit_part(m, &tmp, &m->once, &first)) < 0 ||
        (rc = emit_part(m, &tmp, &m->msg, &msg)) < 0)
        goto out;
    if (msg.len == 0) {
        /* Every -m was empty: nothing to repeat. tcpkali's option check warns about this
         * ("--message may resolve to zero length"); the engine sends the once part only. */
        s->has_messages = false;
    }
    if (s->has_messages) {
        size_t k = (TK_REP_MIN + msg.len - 1) / msg.len;
        if (!tk_buf_reserve(&rep, k * msg.len)) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < k; i++) {
            if (m->framing == TK_FRAMING_WS_CLIENT)
                rc = emit_part(m, &tmp, &m->msg, &rep);
            else
                rc = tk_buf_append(&rep, msg.data, msg.len);
            if (rc < 0)
                goto out;
        }
        s->rep_msgs = k;
    }
    s->first = first.data;
    s->first_len = first.len;
    s->msg = msg.data;
    s->msg_len = msg.len;
    s->rep = rep.data;
    s->rep_len = rep.len;
    first.data = msg.data = rep.data = NULL;
out:
    tk_buf_free(&first);
    tk_buf_free(&msg);
    tk_buf_free(&rep);
    ms_conn_free(NULL, &tmp);
    return rc;
}

struct tk_msgsrc *tk_msgsrc_new(const struct tk_config *cfg, enum tk_framing framing,
                                int *exit_code, char *err, size_t errlen)
{
    struct tk_msgsrc *s = calloc(1, sizeof(*s));
    struct ms_impl *m = calloc(1, sizeof(*m));
    struct rng prng;
    int rc = -ENOMEM;

    if (!s || !m)
        goto fail;
    s->impl = m;
    m->framing = framing;
    m->seed = rng_entropy_seed();
    rng_seed(&prng, rng_entropy_seed()); /* \{global.re}: drawn once, at parse time */
    m->args = calloc(cfg->nmsgs ? cfg->nmsgs : 1, sizeof(*m->args));
    if (!m->args)
        goto fail;
    for (size_t i = 0; i < cfg->nmsgs; i++) {
        rc = compile_arg(m, &cfg->msgs[i], &prng, err, errlen);
        if (rc < 0)
            goto fail;
        if (cfg->msgs[i].kind == TK_MSG_REPEAT)
            s->has_messages = true;
    }
    for (size_t i = 0; i < m->nitems; i++)
        if (m->items[i].pc->kind == TK_PC_MARKER)
            s->has_markers = true;
    /* An -m that can only be empty repeats nothing (as an empty literal -m). */
    s->has_messages = s->has_messages && m->msg.can_be_nonempty;

    if (m->once.scope == TK_SCOPE_CONSTANT && m->msg.scope == TK_SCOPE_CONSTANT) {
        s->constant = true;
        rc = build_constant(s, m);
        if (rc < 0)
            goto fail;
    } else {
        s->constant = false;
        s->ops = s->has_markers ? &ops_markers : &ops_plain;
    }
    return s;

fail:
    if (rc == -ENOMEM || !s || !m) {
        snprintf(err, errlen, "Out of memory building the messages");
        *exit_code = 71;
    } else {
        /* The parser's message (the original's three lines, or "Can't open ..."). */
        *exit_code = 1;
    }
    if (s)
        s->impl = NULL;
    impl_free(m);
    tk_msgsrc_free(s);
    return NULL;
}

void tk_msgsrc_set_seed(struct tk_msgsrc *s, uint64_t seed)
{
    struct ms_impl *m = s->impl;
    if (m)
        m->seed = seed;
}

void tk_msgsrc_free(struct tk_msgsrc *s)
{
    if (!s)
        return;
    impl_free(s->impl);
    free(s->first);
    free(s->msg);
    free(s->rep);
    free(s);
}
