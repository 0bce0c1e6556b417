/* tcpkali message source (msgsrc.c): -e unescaping (the spec's measured vector and every
 * rule), constant sources (first and repeated parts, the replicated buffer), sending whole
 * messages from it (tk_rep_slice, tk_rep_starts), WebSocket framing both ways (headers,
 * all three length forms, a masking key per frame, unmasking gives the text), \{ws.*}
 * splitting an argument, \{raw}, per-connection values (uid, uid % N, ptr, connection.re)
 * against per-message ones (re), message markers (stamped once while their first byte is
 * in range, masked in masked frames, in the once part), -f contents taken as they are, and
 * parse errors. Frames are decoded here by hand, independently of ws.c's decoder. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include "core/rng.h"
#include "tcpkali/marker.h"
#include "tcpkali/msgsrc.h"

/* ---- helpers ------------------------------------------------------------------------- */

static struct tk_msg_arg arg(enum tk_msg_kind k, const char *t, bool unescape, bool file)
{
    struct tk_msg_arg a = {k, t, strlen(t), unescape, file, file ? "f" : NULL};
    return a;
}

static struct tk_msg_arg m_arg(const char *t)
{
    return arg(TK_MSG_REPEAT, t, false, false);
}

static struct tk_msg_arg first_arg(const char *t)
{
    return arg(TK_MSG_FIRST, t, false, false);
}

static struct tk_msgsrc *src_new(struct tk_msg_arg *msgs, size_t n, enum tk_framing framing)
{
    struct tk_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.msgs = msgs;
    cfg.nmsgs = n;
    int code = 0;
    char err[512] = "";
    struct tk_msgsrc *s = tk_msgsrc_new(&cfg, framing, &code, err, sizeof(err));
    if (!s)
        fail_msg("tk_msgsrc_new: exit %d: %s", code, err);
    return s;
}

/* One connection of a non-constant source, as the engine drives it. */
struct conn {
    void *cs;
    struct tk_buf buf;
};

static void conn_open(const struct tk_msgsrc *s, struct conn *c, uint64_t uid)
{
    assert_false(s->constant);
    assert_non_null(s->ops);
    c->cs = calloc(1, s->ops->conn_state_size);
    assert_non_null(c->cs);
    memset(&c->buf, 0, sizeof(c->buf));
    assert_int_equal(s->ops->conn_init(s, c->cs, uid), 0);
}

static void conn_close(const struct tk_msgsrc *s, struct conn *c)
{
    s->ops->conn_free(s, c->cs);
    free(c->cs);
    tk_buf_free(&c->buf);
}

/* Empties the connection's buffer and appends one message; returns its length. */
static size_t conn_next1(const struct tk_msgsrc *s, struct conn *c)
{
    size_t len = 0;
    c->buf.len = 0;
    assert_int_equal(s->ops->next(s, c->cs, &c->buf, &len), 0);
    assert_int_equal(len, c->buf.len);
    return len;
}

/* A frame decoded by hand (RFC 6455 §5.2). */
struct frame {
    uint8_t byte0;
    bool masked;
    uint8_t key[4];
    size_t hdr_len;
    uint64_t plen;
    uint8_t *payload; /* unmasked copy (malloc) */
};

static size_t decode_frame(const uint8_t *p, size_t n, struct frame *f)
{
    assert_true(n >= 2);
    f->byte0 = p[0];
    f->masked = (p[1] & 0x80) != 0;
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        assert_true(n >= 4);
        len = (uint64_t)p[2] << 8 | p[3];
        assert_true(len >= 126); /* shortest form */
        h = 4;
    } else if (len == 127) {
        assert_true(n >= 10);
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        assert_true(len > 65535);
        h = 10;
    }
    if (f->masked) {
        assert_true(n >= h + 4);
        memcpy(f->key, p + h, 4);
        h += 4;
    }
    assert_true(n >= h + len);
    f->hdr_len = h;
    f->plen = len;
    f->payload = malloc(len ? len : 1);
    assert_non_null(f->payload);
    for (uint64_t i = 0; i < len; i++)
        f->payload[i] = (uint8_t)(p[h + i] ^ (f->masked ? f->key[i % 4] : 0));
    return h + (size_t)len;
}

/* Decodes the frame at *pos and checks byte 0, the mask bit and the unmasked payload. */
static void expect_frame(const uint8_t *p, size_t n, size_t *pos, uint8_t byte0, bool masked,
                         const void *payload, size_t plen)
{
    struct frame f;
    *pos += decode_frame(p + *pos, n - *pos, &f);
    assert_int_equal(f.byte0, byte0);
    assert_int_equal(f.masked, masked);
    assert_int_equal(f.plen, plen);
    if (plen)
        assert_memory_equal(f.payload, payload, plen);
    free(f.payload);
}

static uint64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Parses the message-marker tokens in p[0, n): how many, and checks each timestamp is in
 * [lo, hi]. */
static size_t count_tokens(const uint8_t *p, size_t n, uint64_t lo, uint64_t hi)
{
    struct tk_marker prefix;
    struct tk_msgmark_state st;
    size_t pos = 0, count = 0;
    uint64_t ts;
    assert_int_equal(tk_marker_init(&prefix, TK_MSGMARK_PREFIX, strlen(TK_MSGMARK_PREFIX)), 0);
    tk_msgmark_state_init(&st);
    while (tk_msgmark_next(&prefix, &st, p, n, &pos, &ts)) {
        assert_true(ts >= lo && ts <= hi);
        count++;
    }
    tk_marker_free(&prefix);
    return count;
}

static const char zero_token[] = "TCPKaliMsgTS-0000000000000000.";

/* ---- -e unescaping --------------------------------------------------------------------- */

static void assert_unescape(const char *in, const void *want, size_t wantlen)
{
    uint8_t out[256];
    size_t n = tk_unescape(in, strlen(in), out);
    if (n != wantlen || memcmp(out, want, n) != 0)
        fail_msg("unescape(\"%s\") gave %zu bytes, want %zu", in, n, wantlen);
}

static void test_unescape_spec_vector(void **state)
{
    (void)state;
    /* spec §4.5, measured: -e -m 'a\tb\\c\x41\0101\r' -> a t b \ \ c A A CR */
    static const uint8_t want[] = {'a', 't', 'b', '\\', '\\', 'c', 'A', 'A', '\r'};
    assert_unescape("a\\tb\\\\c\\x41\\0101\\r", want, sizeof(want));
}

static void test_unescape_rules(void **state)
{
    (void)state;
    assert_unescape("\\n\\r\\f\\b", "\n\r\f\b", 4);
    assert_unescape("\\x4", "\x04", 1);          /* one hex digit */
    assert_unescape("\\x4g", "\x04g", 2);        /* the second is not hex */
    assert_unescape("\\x414", "A4", 2);          /* at most two */
    assert_unescape("\\xZ", "xZ", 2);            /* no digit: a plain x */
    assert_unescape("\\0", "\0", 1);             /* \0 alone is NUL */
    assert_unescape("\\0101", "A", 1);
    assert_unescape("\\01012", "A2", 2);         /* at most three octal digits */
    assert_unescape("\\08", "\0" "8", 2);
    assert_unescape("\\0777", "\xff", 1);        /* wraps to a byte */
    assert_unescape("\\\\", "\\\\", 2);          /* stays two backslashes */
    assert_unescape("a\\\\{b", "a\\\\{b", 5);
    assert_unescape("\\t\\q\\1", "tq1", 3);      /* other \c is c */
    assert_unescape("end\\", "end\\", 4);        /* trailing backslash kept */
    assert_unescape("", "", 0);
    assert_unescape("plain", "plain", 5);
}

static void test_unescape_in_place(void **state)
{
    (void)state;
    char buf[] = "x\\x41\\n";
    size_t n = tk_unescape(buf, strlen(buf), (uint8_t *)buf);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "xA\n", 3);
}

/* ---- constant sources ------------------------------------------------------------------ */

static void test_constant_literal(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {
        first_arg("A\\n"),
        m_arg("hello"),
        arg(TK_MSG_FIRST, "B\\n", true, false),
        arg(TK_MSG_REPEAT, "\\x41\\n", true, false),
        arg(TK_MSG_REPEAT, "\\n", true, true), /* file contents: never unescaped */
    };
    struct tk_msgsrc *s = src_new(msgs, 5, TK_FRAMING_NONE);
    assert_true(s->constant);
    assert_null(s->ops);
    assert_true(s->has_messages);
    assert_false(s->has_markers);
    assert_int_equal(s->first_len, 5);
    assert_memory_equal(s->first, "A\\nB\n", 5);
    assert_int_equal(s->msg_len, 9);
    assert_memory_equal(s->msg, "helloA\n\\n", 9);
    assert_true(s->rep_len >= TK_REP_MIN);
    assert_int_equal(s->rep_len % s->msg_len, 0);
    assert_int_equal(s->rep_len / s->msg_len, s->rep_msgs);
    assert_true(s->rep_len - s->msg_len < TK_REP_MIN); /* no more than needed */
    for (size_t k = 0; k < s->rep_msgs; k++)
        assert_memory_equal(s->rep + k * s->msg_len, s->msg, s->msg_len);
    tk_msgsrc_free(s);
}

static void test_constant_no_messages(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {first_arg("hi"), m_arg("")};
    struct tk_msgsrc *s = src_new(msgs, 2, TK_FRAMING_NONE);
    assert_true(s->constant);
    assert_false(s->has_messages); /* an empty -m repeats nothing */
    assert_int_equal(s->first_len, 2);
    assert_null(s->rep);
    tk_msgsrc_free(s);

    s = src_new(msgs, 0, TK_FRAMING_NONE);
    assert_false(s->has_messages);
    assert_int_equal(s->first_len, 0);
    tk_msgsrc_free(s);

    /* Framed, an empty -m is still no frame at all. */
    s = src_new(msgs, 2, TK_FRAMING_WS_SERVER);
    assert_false(s->has_messages);
    assert_int_equal(s->first_len, 4);
    assert_memory_equal(s->first, "\x81\x02hi", 4);
    tk_msgsrc_free(s);
}

static void test_constant_file_untouched(void **state)
{
    (void)state;
    /* A "file" with an expression opener, an escape and a ws opener: sent as it is. */
    static const char file[] = "a\\{foo}\\n\\x41\\{ws.ping}";
    struct tk_msg_arg msgs[] = {arg(TK_MSG_REPEAT, file, true, true),
                                arg(TK_MSG_FIRST, file, true, true)};
    struct tk_msgsrc *s = src_new(msgs, 2, TK_FRAMING_NONE);
    assert_true(s->constant);
    assert_int_equal(s->msg_len, strlen(file));
    assert_memory_equal(s->msg, file, strlen(file));
    assert_int_equal(s->first_len, strlen(file));
    assert_memory_equal(s->first, file, strlen(file));
    tk_msgsrc_free(s);

    /* With --ws the file is one text frame, its bytes untouched. */
    s = src_new(msgs, 1, TK_FRAMING_WS_SERVER);
    size_t pos = 0;
    expect_frame(s->msg, s->msg_len, &pos, 0x81, false, file, strlen(file));
    assert_int_equal(pos, s->msg_len);
    tk_msgsrc_free(s);
}

static void test_global_re_constant(void **state)
{
    (void)state;
    /* \{global.re} is drawn once at parse time: a constant source, one value throughout. */
    struct tk_msg_arg msgs[] = {m_arg("<\\{global.re [a-z]{8}}>")};
    struct tk_msgsrc *s = src_new(msgs, 1, TK_FRAMING_NONE);
    assert_true(s->constant);
    assert_int_equal(s->msg_len, 10);
    for (size_t k = 0; k < s->rep_msgs; k++)
        assert_memory_equal(s->rep + k * 10, s->msg, 10);
    for (int i = 1; i <= 8; i++)
        assert_true(s->msg[i] >= 'a' && s->msg[i] <= 'z');
    tk_msgsrc_free(s);
}

static void test_parse_error(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("ok"), m_arg("x\\{foo}")};
    struct tk_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.msgs = msgs;
    cfg.nmsgs = 2;
    int code = 0;
    char err[512] = "";
    assert_null(tk_msgsrc_new(&cfg, TK_FRAMING_NONE, &code, err, sizeof(err)));
    assert_int_equal(code, 1);
    assert_non_null(strstr(err, "foo"));
}

/* ---- sending whole messages from the replicated buffer -------------------------------- */

static void test_rep_slice(void **state)
{
    (void)state;
    const size_t L = 5, R = 20; /* four messages */
    assert_int_equal(tk_rep_slice(0, L, R, 0, true), 0);
    assert_int_equal(tk_rep_slice(0, L, R, 1, true), 5);
    assert_int_equal(tk_rep_slice(0, L, R, 3, true), 15);
    assert_int_equal(tk_rep_slice(0, L, R, UINT64_MAX, true), 20);
    assert_int_equal(tk_rep_slice(7, L, R, 0, true), 3);          /* rest of message 1 */
    assert_int_equal(tk_rep_slice(7, L, R, 1, true), 8);
    assert_int_equal(tk_rep_slice(7, L, R, UINT64_MAX, true), 13); /* up to the end */
    assert_int_equal(tk_rep_slice(15, L, R, 5, true), 5);          /* last one, then wrap */
    assert_int_equal(tk_rep_slice(0, L, R, UINT64_MAX, false), 5); /* one message per send */
    assert_int_equal(tk_rep_slice(7, L, R, 9, false), 3);          /* the rest first */

    assert_int_equal(tk_rep_starts(0, 1, L), 1);
    assert_int_equal(tk_rep_starts(0, 5, L), 1);
    assert_int_equal(tk_rep_starts(0, 6, L), 2);
    assert_int_equal(tk_rep_starts(1, 4, L), 0);
    assert_int_equal(tk_rep_starts(4, 2, L), 1);
    assert_int_equal(tk_rep_starts(3, 0, L), 0);
    assert_int_equal(tk_rep_starts(5, 15, L), 3);
}

/* ---- WebSocket framing ------------------------------------------------------------------ */

static void test_framing_server(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {first_arg("hi"), m_arg("hello"), m_arg("world!")};
    struct tk_msgsrc *s = src_new(msgs, 3, TK_FRAMING_WS_SERVER);
    assert_true(s->constant);
    assert_int_equal(s->first_len, 4);
    assert_memory_equal(s->first, "\x81\x02hi", 4);
    /* Every argument its own unmasked text frame; the message is both. */
    assert_int_equal(s->msg_len, 7 + 8);
    assert_memory_equal(s->msg, "\x81\x05hello\x81\x06world!", 15);
    for (size_t k = 0; k < s->rep_msgs; k++)
        assert_memory_equal(s->rep + k * s->msg_len, s->msg, s->msg_len);
    tk_msgsrc_free(s);
}

static void test_framing_client_keys(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {first_arg("hi"), m_arg("hello"), m_arg("world!")};
    struct tk_msgsrc *s = src_new(msgs, 3, TK_FRAMING_WS_CLIENT);
    assert_true(s->constant);
    size_t pos = 0;
    expect_frame(s->first, s->first_len, &pos, 0x81, true, "hi", 2);
    assert_int_equal(pos, s->first_len);
    assert_int_equal(s->msg_len, 11 + 12);
    assert_int_equal(s->rep_len, s->rep_msgs * s->msg_len);

    /* The replicated buffer: whole framed messages, each frame with its own key. */
    size_t nframes = 0, same = 0;
    uint8_t prev[4] = {0};
    pos = 0;
    while (pos < s->rep_len) {
        struct frame f;
        bool first_of_msg = pos % s->msg_len == 0;
        pos += decode_frame(s->rep + pos, s->rep_len - pos, &f);
        assert_int_equal(f.byte0, 0x81);
        assert_true(f.masked);
        if (first_of_msg)
            assert_memory_equal(f.payload, "hello", 5);
        else
            assert_memory_equal(f.payload, "world!", 6);
        if (nframes && memcmp(prev, f.key, 4) == 0)
            same++;
        memcpy(prev, f.key, 4);
        free(f.payload);
        nframes++;
    }
    assert_int_equal(pos, s->rep_len);
    assert_int_equal(nframes, 2 * s->rep_msgs);
    assert_true(same <= 1); /* consecutive keys collide with probability 2^-32 each */
    tk_msgsrc_free(s);
}

/* Payload lengths at the edges of the three length forms, both sides. */
static void test_framing_lengths(void **state)
{
    (void)state;
    static const size_t sizes[] = {125, 126, 65535, 65536};
    static const size_t hdr[] = {2, 4, 4, 10};
    char *text = malloc(65537);
    assert_non_null(text);
    for (int side = 0; side < 2; side++) {
        bool client = side == 1;
        for (size_t i = 0; i < 4; i++) {
            for (size_t j = 0; j < sizes[i]; j++)
                text[j] = (char)('a' + j % 26);
            text[sizes[i]] = 0;
            struct tk_msg_arg msgs[] = {m_arg(text)};
            struct tk_msgsrc *s =
                src_new(msgs, 1, client ? TK_FRAMING_WS_CLIENT : TK_FRAMING_WS_SERVER);
            size_t want_hdr = hdr[i] + (client ? 4 : 0);
            assert_int_equal(s->msg_len, want_hdr + sizes[i]);
            size_t pos = 0;
            struct frame f;
            pos = decode_frame(s->msg, s->msg_len, &f);
            assert_int_equal(pos, s->msg_len);
            assert_int_equal(f.hdr_len, want_hdr);
            assert_int_equal(f.plen, sizes[i]);
            assert_int_equal(f.masked, client);
            assert_int_equal(f.byte0, 0x81);
            assert_memory_equal(f.payload, text, sizes[i]);
            free(f.payload);
            tk_msgsrc_free(s);
        }
    }
    free(text);
}

static void test_ws_pieces_split(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("pre\\{ws.ping \"x\"}post"),
                                m_arg("\\{ws.binary \"b\" ...}"),
                                m_arg("\\{ws.close rsv1}")};
    /* --ws server: prefix, frame and remainder each a frame of its own. */
    struct tk_msgsrc *s = src_new(msgs, 3, TK_FRAMING_WS_SERVER);
    assert_true(s->constant);
    size_t pos = 0;
    expect_frame(s->msg, s->msg_len, &pos, 0x81, false, "pre", 3);
    expect_frame(s->msg, s->msg_len, &pos, 0x89, false, "x", 1);
    expect_frame(s->msg, s->msg_len, &pos, 0x81, false, "post", 4);
    expect_frame(s->msg, s->msg_len, &pos, 0x02, false, "b", 1); /* "...": no FIN */
    expect_frame(s->msg, s->msg_len, &pos, 0xC8, false, "", 0);  /* FIN | RSV1 | close */
    assert_int_equal(pos, s->msg_len);
    tk_msgsrc_free(s);

    /* --ws client: all masked. */
    s = src_new(msgs, 1, TK_FRAMING_WS_CLIENT);
    pos = 0;
    expect_frame(s->msg, s->msg_len, &pos, 0x81, true, "pre", 3);
    expect_frame(s->msg, s->msg_len, &pos, 0x89, true, "x", 1);
    expect_frame(s->msg, s->msg_len, &pos, 0x81, true, "post", 4);
    assert_int_equal(pos, s->msg_len);
    tk_msgsrc_free(s);

    /* No --ws: the text stays text, the \{ws.*} piece is still a frame. */
    s = src_new(msgs, 1, TK_FRAMING_NONE);
    assert_int_equal(s->msg_len, 10);
    assert_memory_equal(s->msg, "pre\x89\x01xpost", 10);
    tk_msgsrc_free(s);
}

static void test_raw_unframed(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("a\\{raw \"RAW\"}b")};
    struct tk_msgsrc *s = src_new(msgs, 1, TK_FRAMING_WS_CLIENT);
    size_t pos = 0;
    expect_frame(s->msg, s->msg_len, &pos, 0x81, true, "a", 1);
    assert_true(s->msg_len - pos >= 3);
    assert_memory_equal(s->msg + pos, "RAW", 3);
    pos += 3;
    expect_frame(s->msg, s->msg_len, &pos, 0x81, true, "b", 1);
    assert_int_equal(pos, s->msg_len);
    tk_msgsrc_free(s);

    s = src_new(msgs, 1, TK_FRAMING_NONE);
    assert_int_equal(s->msg_len, 5);
    assert_memory_equal(s->msg, "aRAWb", 5);
    tk_msgsrc_free(s);
}

/* ---- per-connection and per-message values --------------------------------------------- */

static void test_connection_uid(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {first_arg("hello \\{connection.uid}\n"),
                                m_arg("u=\\{connection.uid} m=\\{connection.uid % 2};")};
    struct tk_msgsrc *s = src_new(msgs, 2, TK_FRAMING_NONE);
    assert_false(s->constant);
    assert_true(s->has_messages);
    assert_false(s->has_markers);
    assert_null(s->ops->stamp);
    static const char *want[] = {"u=1 m=1;", "u=2 m=0;", "u=3 m=1;"};
    for (uint64_t uid = 1; uid <= 3; uid++) {
        struct conn c;
        conn_open(s, &c, uid);
        assert_int_equal(s->ops->first(s, c.cs, &c.buf), 0);
        char hello[32];
        snprintf(hello, sizeof(hello), "hello %llu\n", (unsigned long long)uid);
        assert_int_equal(c.buf.len, strlen(hello));
        assert_memory_equal(c.buf.data, hello, strlen(hello));
        for (int k = 0; k < 3; k++) { /* the same message every time */
            size_t len = conn_next1(s, &c);
            assert_int_equal(len, strlen(want[uid - 1]));
            assert_memory_equal(c.buf.data, want[uid - 1], len);
        }
        /* Several messages appended into one buffer, as the engine batches them. */
        size_t len = 0;
        assert_int_equal(s->ops->next(s, c.cs, &c.buf, &len), 0);
        assert_int_equal(c.buf.len, 2 * len);
        assert_memory_equal(c.buf.data + len, want[uid - 1], len);
        conn_close(s, &c);
    }
    tk_msgsrc_free(s);
}

static void test_connection_ptr(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("\\{connection.ptr}|\\{connection.ptr % 1000}")};
    struct tk_msgsrc *s = src_new(msgs, 1, TK_FRAMING_NONE);
    struct conn c;
    conn_open(s, &c, 7);
    size_t len = conn_next1(s, &c);
    char want[64];
    int n = snprintf(want, sizeof(want), "%p|%llu", c.cs,
                     (unsigned long long)((uintptr_t)c.cs % 1000));
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(c.buf.data, want, len);
    conn_close(s, &c);
    tk_msgsrc_free(s);
}

/* connection.re: one value per connection, even beside a per-message \{re} (bug 35). */
static void test_connection_re_stable(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("\\{connection.re [a-z]{16}}|\\{re [a-z]{16}}")};
    struct tk_msgsrc *s = src_new(msgs, 1, TK_FRAMING_NONE);
    char conn_val[2][16];
    for (int k = 0; k < 2; k++) {
        struct conn c;
        conn_open(s, &c, (uint64_t)k + 1);
        char first_re[16];
        size_t differ = 0;
        for (int i = 0; i < 20; i++) {
            size_t len = conn_next1(s, &c);
            assert_int_equal(len, 33);
            assert_int_equal(c.buf.data[16], '|');
            for (int j = 0; j < 33; j++)
                if (j != 16)
                    assert_true(c.buf.data[j] >= 'a' && c.buf.data[j] <= 'z');
            if (i == 0) {
                memcpy(conn_val[k], c.buf.data, 16);
                memcpy(first_re, c.buf.data + 17, 16);
            } else {
                assert_memory_equal(c.buf.data, conn_val[k], 16);
                differ += memcmp(c.buf.data + 17, first_re, 16) != 0;
            }
        }
        assert_true(differ >= 18); /* 26^-16 per repeat */
        conn_close(s, &c);
    }
    assert_memory_not_equal(conn_val[0], conn_val[1], 16);
    tk_msgsrc_free(s);
}

/* The same seed gives every connection the same sequence; messages are never empty. */
static void test_seed_and_nonempty(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("\\{re (a|bb)?}")};
    char out[2][200];
    size_t outlen[2];
    for (int run = 0; run < 2; run++) {
        struct tk_msgsrc *s = src_new(msgs, 1, TK_FRAMING_NONE);
        assert_true(s->has_messages);
        tk_msgsrc_set_seed(s, 42);
        struct conn c;
        conn_open(s, &c, 5);
        outlen[run] = 0;
        for (int i = 0; i < 100; i++) {
            size_t len = conn_next1(s, &c);
            assert_true(len == 1 || len == 2);
            memcpy(out[run] + outlen[run], c.buf.data, len);
            outlen[run] += len;
            if (outlen[run] > sizeof(out[run]) - 2)
                break;
        }
        conn_close(s, &c);
        tk_msgsrc_free(s);
    }
    assert_int_equal(outlen[0], outlen[1]);
    assert_memory_equal(out[0], out[1], outlen[0]);
}

/* Per-message values framed for a client: fresh keys per message, lengths past 125. */
static void test_per_message_framed(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("\\{re [a-z]{200}}"), m_arg("#\\{connection.uid}")};
    struct tk_msgsrc *s = src_new(msgs, 2, TK_FRAMING_WS_CLIENT);
    struct conn c;
    conn_open(s, &c, 3);
    uint8_t prev_key[4] = {0};
    for (int i = 0; i < 10; i++) {
        size_t len = conn_next1(s, &c), pos = 0;
        struct frame f;
        pos += decode_frame(c.buf.data, len, &f);
        assert_int_equal(f.byte0, 0x81);
        assert_true(f.masked);
        assert_int_equal(f.hdr_len, 8);
        assert_int_equal(f.plen, 200);
        for (int j = 0; j < 200; j++)
            assert_true(f.payload[j] >= 'a' && f.payload[j] <= 'z');
        if (i)
            assert_memory_not_equal(prev_key, f.key, 4);
        memcpy(prev_key, f.key, 4);
        free(f.payload);
        expect_frame(c.buf.data, len, &pos, 0x81, true, "#3", 2);
        assert_int_equal(pos, len);
    }
    conn_close(s, &c);
    tk_msgsrc_free(s);
}

/* The per-connection fast path framed for a client: the same text, a new key every time. */
static void test_per_connection_framed(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("id \\{connection.uid}"), m_arg("\\{ws.pong \"p\"}")};
    struct tk_msgsrc *s = src_new(msgs, 2, TK_FRAMING_WS_CLIENT);
    struct conn c;
    conn_open(s, &c, 12);
    uint8_t keys[2][4];
    for (int i = 0; i < 2; i++) {
        size_t len = conn_next1(s, &c), pos = 0;
        struct frame f;
        pos += decode_frame(c.buf.data, len, &f);
        assert_true(f.masked);
        assert_int_equal(f.plen, 5);
        assert_memory_equal(f.payload, "id 12", 5);
        memcpy(keys[i], f.key, 4);
        free(f.payload);
        expect_frame(c.buf.data, len, &pos, 0x8A, true, "p", 1);
        assert_int_equal(pos, len);
    }
    assert_memory_not_equal(keys[0], keys[1], 4);
    conn_close(s, &c);
    tk_msgsrc_free(s);
}

/* ---- message markers --------------------------------------------------------------------- */

static void test_marker_stamp_once(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {m_arg("x\\{message.marker}y")};
    struct tk_msgsrc *s = src_new(msgs, 1, TK_FRAMING_NONE);
    assert_false(s->constant);
    assert_true(s->has_markers);
    assert_non_null(s->ops->stamp);
    struct conn c;
    conn_open(s, &c, 1);
    size_t len = 0;
    assert_int_equal(s->ops->next(s, c.cs, &c.buf, &len), 0);
    assert_int_equal(len, 32);
    assert_int_equal(s->ops->next(s, c.cs, &c.buf, &len), 0);
    assert_int_equal(c.buf.len, 64); /* markers start at 1 and 33 */
    assert_memory_equal(c.buf.data + 1, zero_token, 30);
    assert_memory_equal(c.buf.data + 33, zero_token, 30);

    uint64_t t0 = now_us();
    s->ops->stamp(s, c.cs, &c.buf, 0, 1); /* no marker starts in [0, 1) */
    assert_memory_equal(c.buf.data + 1, zero_token, 30);
    s->ops->stamp(s, c.cs, &c.buf, 0, 2); /* the first does */
    assert_memory_not_equal(c.buf.data + 1, zero_token, 30);
    assert_memory_equal(c.buf.data + 33, zero_token, 30);
    assert_int_equal(count_tokens(c.buf.data, 32, t0, now_us()), 1);

    /* 20 bytes went out; the rest is offered: the first marker is not touched again. */
    memset(c.buf.data + 1, 'Z', 30);
    s->ops->stamp(s, c.cs, &c.buf, 20, 44);
    assert_int_equal(c.buf.data[1], 'Z');
    assert_int_equal(c.buf.data[30], 'Z');
    assert_int_equal(count_tokens(c.buf.data + 32, 32, t0, now_us()), 1);
    assert_int_equal(c.buf.data[63], 'y');

    /* A write that took nothing: stamped again (none of its bytes went out). */
    memset(c.buf.data + 33, 'Z', 30);
    s->ops->stamp(s, c.cs, &c.buf, 20, 44);
    assert_int_equal(count_tokens(c.buf.data + 32, 32, t0, now_us()), 1);

    /* The engine empties the buffer: old markers are forgotten, new ones recorded. */
    c.buf.len = 0;
    assert_int_equal(s->ops->next(s, c.cs, &c.buf, &len), 0);
    assert_int_equal(c.buf.len, 32);
    s->ops->stamp(s, c.cs, &c.buf, 0, 32);
    assert_int_equal(count_tokens(c.buf.data, 32, t0, now_us()), 1);
    /* Emptied without a next(): stamp must not write past the end. */
    c.buf.len = 0;
    s->ops->stamp(s, c.cs, &c.buf, 0, 0);
    conn_close(s, &c);
    tk_msgsrc_free(s);
}

/* A marker in a masked frame is stamped masked: unmasking the payload gives a valid token.
 * Phases 0..3, and a payload long enough to move the header to the 16-bit form. */
static void test_marker_masked(void **state)
{
    (void)state;
    char big[400];
    memset(big, 'q', 300);
    strcpy(big + 300, "\\{message.marker}!");
    const char *texts[] = {"\\{message.marker}", "a\\{message.marker}", "ab\\{message.marker}",
                           "abc\\{message.marker}", big};
    const size_t pre[] = {0, 1, 2, 3, 300};
    for (size_t t = 0; t < 5; t++) {
        struct tk_msg_arg msgs[] = {m_arg(texts[t])};
        struct tk_msgsrc *s = src_new(msgs, 1, TK_FRAMING_WS_CLIENT);
        struct conn c;
        conn_open(s, &c, 1);
        size_t len = 0;
        for (int k = 0; k < 3; k++) /* three messages, three keys */
            assert_int_equal(s->ops->next(s, c.cs, &c.buf, &len), 0);
        uint64_t t0 = now_us();
        s->ops->stamp(s, c.cs, &c.buf, 0, c.buf.len);
        uint64_t t1 = now_us();
        size_t pos = 0;
        for (int k = 0; k < 3; k++) {
            struct frame f;
            pos += decode_frame(c.buf.data + pos, c.buf.len - pos, &f);
            assert_true(f.masked);
            assert_int_equal(f.plen, pre[t] + 30 + (t == 4));
            assert_int_equal(count_tokens(f.payload, f.plen, t0, t1), 1);
            assert_memory_equal(f.payload, texts[t], pre[t]);
            free(f.payload);
        }
        assert_int_equal(pos, c.buf.len);
        conn_close(s, &c);
        tk_msgsrc_free(s);
    }
}

/* -1 with a marker (issue #43 aborted the original) and a constant -m after it. */
static void test_marker_in_first(void **state)
{
    (void)state;
    struct tk_msg_arg msgs[] = {first_arg("T\\{message.marker}"), m_arg("ping")};
    struct tk_msgsrc *s = src_new(msgs, 2, TK_FRAMING_NONE);
    assert_false(s->constant);
    assert_true(s->has_markers);
    struct conn c;
    conn_open(s, &c, 1);
    assert_int_equal(s->ops->first(s, c.cs, &c.buf), 0);
    assert_int_equal(c.buf.len, 31);
    uint64_t t0 = now_us();
    s->ops->stamp(s, c.cs, &c.buf, 0, 31);
    assert_int_equal(count_tokens(c.buf.data, 31, t0, now_us()), 1);
    /* once_done empties the buffer; then the messages. */
    c.buf.len = 0;
    size_t len = conn_next1(s, &c);
    assert_int_equal(len, 4);
    assert_memory_equal(c.buf.data, "ping", 4);
    s->ops->stamp(s, c.cs, &c.buf, 0, 4);
    assert_memory_equal(c.buf.data, "ping", 4);
    conn_close(s, &c);
    tk_msgsrc_free(s);
}

/* ---- random arguments ---------------------------------------------------------------------- */

/* Walks buf as the wire would carry it: with framing, whole frames (text or ping) end to end,
 * masked exactly when the side is a client; the text payloads (or, unframed, the bytes)
 * must hold exactly `markers` valid tokens, stamped between lo and hi. */
static void verify_stream(const uint8_t *buf, size_t len, enum tk_framing framing,
                          size_t markers, uint64_t lo, uint64_t hi)
{
    if (framing == TK_FRAMING_NONE) {
        assert_int_equal(count_tokens(buf, len, lo, hi), markers);
        return;
    }
    struct tk_buf text = {0};
    size_t pos = 0;
    while (pos < len) {
        struct frame f;
        pos += decode_frame(buf + pos, len - pos, &f);
        assert_true(f.byte0 == 0x81 || f.byte0 == 0x89);
        assert_int_equal(f.masked, framing == TK_FRAMING_WS_CLIENT);
        if (f.byte0 == 0x81)
            assert_int_equal(tk_buf_append(&text, f.payload, f.plen), 0);
        free(f.payload);
    }
    assert_int_equal(pos, len);
    assert_int_equal(count_tokens(text.data, text.len, lo, hi), markers);
    tk_buf_free(&text);
}

/* Random mixes of every kind of piece, in -1 and -m arguments, under each framing: the
 * stream always decodes, and every marker is stamped once and readable. */
static void test_random_arguments(void **state)
{
    (void)state;
    static const char *vocab[] = {
        "ab", "\\{connection.uid}", "\\{connection.uid % 3}", "\\{re [a-z]{0,300}}",
        "\\{connection.re x{1,200}}", "\\{message.marker}", "\\{ws.ping \"p\"}",
        "\\{connection.ptr}",
    };
    enum { MARKER = 5 };
    struct rng r;
    rng_seed(&r, 2024);
    char text[4][512];
    for (int round = 0; round < 150; round++) {
        struct tk_msg_arg msgs[4];
        size_t nargs = 1 + rng_below(&r, 4), mk_first = 0, mk_msg = 0;
        for (size_t a = 0; a < nargs; a++) {
            bool first = a == 0 && rng_below(&r, 2);
            size_t npieces = 1 + rng_below(&r, 5);
            text[a][0] = 0;
            for (size_t k = 0; k < npieces; k++) {
                size_t v = rng_below(&r, sizeof(vocab) / sizeof(vocab[0]));
                strcat(text[a], vocab[v]);
                if (v == MARKER)
                    *(first ? &mk_first : &mk_msg) += 1;
            }
            msgs[a] = first ? first_arg(text[a]) : m_arg(text[a]);
        }
        for (int fr = 0; fr < 3; fr++) {
            enum tk_framing framing = (enum tk_framing)fr;
            struct tk_msgsrc *s = src_new(msgs, nargs, framing);
            if (s->constant) {
                verify_stream(s->first, s->first_len, framing, 0, 0, 0);
                verify_stream(s->rep, s->rep_len, framing, 0, 0, 0);
                tk_msgsrc_free(s);
                continue;
            }
            tk_msgsrc_set_seed(s, (uint64_t)round);
            struct conn c;
            conn_open(s, &c, (uint64_t)round + 1);
            uint64_t t0 = now_us();
            assert_int_equal(s->ops->first(s, c.cs, &c.buf), 0);
            if (s->ops->stamp)
                s->ops->stamp(s, c.cs, &c.buf, 0, c.buf.len);
            verify_stream(c.buf.data, c.buf.len, framing, mk_first, t0, now_us());
            if (s->has_messages) {
                c.buf.len = 0;
                size_t len;
                for (int k = 0; k < 3; k++)
                    assert_int_equal(s->ops->next(s, c.cs, &c.buf, &len), 0);
                /* Offered in two writes split at a random point. */
                size_t cut = rng_below(&r, c.buf.len + 1);
                if (s->ops->stamp) {
                    s->ops->stamp(s, c.cs, &c.buf, 0, cut);
                    s->ops->stamp(s, c.cs, &c.buf, cut, c.buf.len - cut);
                }
                verify_stream(c.buf.data, c.buf.len, framing, 3 * mk_msg, t0, now_us());
            }
            conn_close(s, &c);
            tk_msgsrc_free(s);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unescape_spec_vector),
        cmocka_unit_test(test_unescape_rules),
        cmocka_unit_test(test_unescape_in_place),
        cmocka_unit_test(test_constant_literal),
        cmocka_unit_test(test_constant_no_messages),
        cmocka_unit_test(test_constant_file_untouched),
        cmocka_unit_test(test_global_re_constant),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_rep_slice),
        cmocka_unit_test(test_framing_server),
        cmocka_unit_test(test_framing_client_keys),
        cmocka_unit_test(test_framing_lengths),
        cmocka_unit_test(test_ws_pieces_split),
        cmocka_unit_test(test_raw_unframed),
        cmocka_unit_test(test_connection_uid),
        cmocka_unit_test(test_connection_ptr),
        cmocka_unit_test(test_connection_re_stable),
        cmocka_unit_test(test_seed_and_nonempty),
        cmocka_unit_test(test_per_message_framed),
        cmocka_unit_test(test_per_connection_framed),
        cmocka_unit_test(test_marker_stamp_once),
        cmocka_unit_test(test_marker_masked),
        cmocka_unit_test(test_marker_in_first),
        cmocka_unit_test(test_random_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
