/* tcpkali message expressions: every \{...} form of spec §4.1 turned into the piece list of
 * expr.h (kinds, flags, modulo, payloads, WebSocket byte 0), literal text and its backslash
 * rules with and without -e, quoted strings, files (temporary files made here), raw, ws ops
 * and flags, the merging of constant bytes, scope, marker count and length bounds, the
 * nested braces of re, and every error message, asserted in full. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/rng.h"
#include "tcpkali/expr.h"

static struct rng test_rng;

static void parse_ok_n(const char *text, size_t len, bool unescape, struct tk_expr *e)
{
    char err[1024] = "";
    int rc = tk_expr_parse(text, len, unescape, &test_rng, e, err, sizeof err);
    if (rc != 0)
        fail_msg("parse \"%s\": %d\n%s", text, rc, err);
}

static void parse_ok(const char *text, bool unescape, struct tk_expr *e)
{
    parse_ok_n(text, strlen(text), unescape, e);
}

static void parse_err(const char *text, int want_rc, const char *want)
{
    struct tk_expr e;
    char err[1024] = "";
    assert_int_equal(tk_expr_parse(text, strlen(text), false, &test_rng, &e, err, sizeof err),
                     want_rc);
    assert_string_equal(err, want);
    assert_int_equal(e.n, 0); /* nothing left to free */
    assert_null(e.v);
}

static void assert_bytes(const struct tk_piece *pc, bool raw, const char *want, size_t n)
{
    assert_int_equal(pc->kind, TK_PC_BYTES);
    assert_int_equal(pc->raw, raw);
    assert_int_equal(pc->len, n);
    assert_memory_equal(pc->bytes, want, n);
}

/* A temporary file with the given contents; its name in path. */
static void make_file(char *path, size_t n, const char *contents)
{
    snprintf(path, n, "/tmp/netgrind_expr_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(contents);
    assert_int_equal(write(fd, contents, len), (ssize_t)len);
    close(fd);
}

static void test_empty_and_literal(void **state)
{
    (void)state;
    struct tk_expr e;
    parse_ok("", false, &e);
    assert_int_equal(e.n, 0);
    assert_int_equal(e.scope, TK_SCOPE_CONSTANT);
    assert_int_equal(e.min_len, 0);
    assert_int_equal(e.max_len, 0);
    tk_expr_free(&e);

    parse_ok("hello world", false, &e);
    assert_int_equal(e.n, 1);
    assert_bytes(&e.v[0], false, "hello world", 11);
    assert_int_equal(e.min_len, 11);
    assert_int_equal(e.max_len, 11);
    tk_expr_free(&e);

    /* NUL bytes are text like any other */
    parse_ok_n("a\0b", 3, false, &e);
    assert_bytes(&e.v[0], false, "a\0b", 3);
    tk_expr_free(&e);

    /* '}', '{' and '<' outside an expression are literal */
    parse_ok("{x} <y>", false, &e);
    assert_bytes(&e.v[0], false, "{x} <y>", 7);
    tk_expr_free(&e);
}

/* Outside an expression a lone `\` or a `\\` pair is literal and both characters of the pair
 * are kept, so `a\\{b` has no expression; `\\\{...}` is a pair then an expression. */
static void test_backslashes(void **state)
{
    (void)state;
    struct tk_expr e;
    parse_ok("a\\\\{b", false, &e);
    assert_int_equal(e.n, 1);
    assert_bytes(&e.v[0], false, "a\\\\{b", 5);
    tk_expr_free(&e);

    parse_ok("a\\b\\", false, &e);
    assert_bytes(&e.v[0], false, "a\\b\\", 4);
    tk_expr_free(&e);

    parse_ok("\\\\\\{connection.uid}", false, &e);
    assert_int_equal(e.n, 2);
    assert_bytes(&e.v[0], false, "\\\\", 2);
    assert_int_equal(e.v[1].kind, TK_PC_CONN_UID);
    tk_expr_free(&e);

    /* -e keeps "\\" as two backslashes too */
    parse_ok("a\\\\{b", true, &e);
    assert_bytes(&e.v[0], false, "a\\\\{b", 5);
    tk_expr_free(&e);
}

/* -e applies to literal text (spec §4.5's measured example), not without it; quoted strings
 * are always unescaped; `\x5c{` with -e is how to send a literal `\{`. */
static void test_unescape(void **state)
{
    (void)state;
    struct tk_expr e;
    const char *in = "a\\tb\\\\c\\x41\\0101\\r";
    parse_ok(in, true, &e);
    assert_bytes(&e.v[0], false, "atb\\\\cAA\r", 9);
    tk_expr_free(&e);

    parse_ok(in, false, &e);
    assert_bytes(&e.v[0], false, in, strlen(in));
    tk_expr_free(&e);

    parse_ok("\\x5c{x}", true, &e);
    assert_int_equal(e.n, 1);
    assert_bytes(&e.v[0], false, "\\{x}", 4);
    tk_expr_free(&e);

    /* each literal run around an expression is unescaped on its own */
    parse_ok("a\\n\\{connection.uid}\\x42", true, &e);
    assert_int_equal(e.n, 3);
    assert_bytes(&e.v[0], false, "a\n", 2);
    assert_bytes(&e.v[2], false, "B", 1);
    tk_expr_free(&e);

    /* quoted strings: unescaped with or without -e; \" inside is a quote */
    for (int u = 0; u < 2; u++) {
        parse_ok("\\{raw \"x\\ny\\\"z\\x41\"}", u, &e);
        assert_bytes(&e.v[0], true, "x\ny\"zA", 6);
        tk_expr_free(&e);
    }
}

static void test_connection_uid_ptr(void **state)
{
    (void)state;
    struct tk_expr e;
    parse_ok("u=\\{connection.uid} p=\\{connection.ptr}", false, &e);
    assert_int_equal(e.n, 4);
    assert_bytes(&e.v[0], false, "u=", 2);
    assert_int_equal(e.v[1].kind, TK_PC_CONN_UID);
    assert_int_equal(e.v[1].modulo, 0);
    assert_false(e.v[1].raw);
    assert_bytes(&e.v[2], false, " p=", 3);
    assert_int_equal(e.v[3].kind, TK_PC_CONN_PTR);
    assert_int_equal(e.scope, TK_SCOPE_CONNECTION);
    assert_int_equal(e.min_len, 5 + 1 + 3);   /* "0x1" at least */
    assert_int_equal(e.max_len, 5 + 20 + 18); /* 2^64-1 and 0x + 16 hex digits */
    tk_expr_free(&e);

    /* % N, whitespace anywhere inside */
    parse_ok("\\{ connection . uid % 10 }\\{connection.ptr%1000}", false, &e);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.v[0].kind, TK_PC_CONN_UID);
    assert_int_equal(e.v[0].modulo, 10);
    assert_int_equal(e.v[1].kind, TK_PC_CONN_PTR);
    assert_int_equal(e.v[1].modulo, 1000);
    assert_int_equal(e.min_len, 2);
    assert_int_equal(e.max_len, 1 + 3); /* 0..9 and 0..999 */
    tk_expr_free(&e);

    parse_ok("\\{connection.uid % 18446744073709551614}", false, &e);
    assert_int_equal(e.v[0].modulo, UINT64_MAX - 1);
    tk_expr_free(&e);
}

static void test_marker(void **state)
{
    (void)state;
    struct tk_expr e;
    parse_ok("a\\{message.marker}b\\{ message.marker }", false, &e);
    assert_int_equal(e.n, 4);
    assert_int_equal(e.v[1].kind, TK_PC_MARKER);
    assert_int_equal(e.v[3].kind, TK_PC_MARKER);
    assert_int_equal(e.nmarkers, 2);
    assert_int_equal(e.scope, TK_SCOPE_MESSAGE);
    assert_int_equal(e.min_len, 62);
    assert_int_equal(e.max_len, 62);
    tk_expr_free(&e);
}

static void test_re_forms(void **state)
{
    (void)state;
    struct tk_expr e;
    parse_ok("\\{re [a-z]{64}}", false, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.v[0].kind, TK_PC_RE);
    assert_non_null(e.v[0].re);
    assert_int_equal(e.scope, TK_SCOPE_MESSAGE);
    assert_int_equal(e.min_len, 64);
    assert_int_equal(e.max_len, 64);
    tk_expr_free(&e);

    /* the regex runs to the brace that closes the expression: {2,5} nests */
    parse_ok("\\{re c{2,5}}x", false, &e);
    assert_int_equal(e.n, 2);
    assert_int_equal(tk_regen_min_len(e.v[0].re), 2);
    assert_int_equal(tk_regen_max_len(e.v[0].re), 5);
    assert_bytes(&e.v[1], false, "x", 1);
    tk_expr_free(&e);

    /* a class may hold braces; the first unmatched '}' ends the regex */
    parse_ok("\\{re [{}]{3}}\\{re a}b}", false, &e);
    assert_int_equal(e.n, 3);
    uint8_t out[8];
    assert_int_equal(tk_regen_generate(e.v[0].re, &test_rng, out), 3);
    for (int i = 0; i < 3; i++)
        assert_true(out[i] == '{' || out[i] == '}');
    assert_int_equal(tk_regen_max_len(e.v[1].re), 1);
    assert_bytes(&e.v[2], false, "b}", 2);
    tk_expr_free(&e);

    parse_ok("\\{connection.re (a|b){1,3}}", false, &e);
    assert_int_equal(e.v[0].kind, TK_PC_CONN_RE);
    assert_int_equal(e.scope, TK_SCOPE_CONNECTION);
    assert_int_equal(e.min_len, 1);
    assert_int_equal(e.max_len, 3);
    tk_expr_free(&e);

    /* a per-message piece decides the scope over per-connection ones */
    parse_ok("\\{connection.uid}\\{re x}", false, &e);
    assert_int_equal(e.scope, TK_SCOPE_MESSAGE);
    tk_expr_free(&e);
}

/* \{global.re} is generated once, from the rng given, and folded into the bytes around it. */
static void test_global_re(void **state)
{
    (void)state;
    struct tk_expr e;
    struct rng a, b;
    char err[256];
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    assert_int_equal(tk_expr_parse("x\\{global.re [a-z]{8}}y", 23, false, &a, &e, err, sizeof err),
                     0);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.scope, TK_SCOPE_CONSTANT);
    assert_int_equal(e.v[0].len, 10);
    assert_int_equal(e.v[0].bytes[0], 'x');
    assert_int_equal(e.v[0].bytes[9], 'y');
    for (int i = 1; i < 9; i++)
        assert_true(e.v[0].bytes[i] >= 'a' && e.v[0].bytes[i] <= 'z');

    struct tk_expr e2;
    assert_int_equal(tk_expr_parse("x\\{global.re [a-z]{8}}y", 23, false, &b, &e2, err, sizeof err),
                     0);
    assert_memory_equal(e.v[0].bytes, e2.v[0].bytes, 10); /* same seed, same value */
    tk_expr_free(&e);
    tk_expr_free(&e2);

    /* no rng given: one is seeded from entropy */
    assert_int_equal(tk_expr_parse("\\{global.re q{3}}", 17, false, NULL, &e, err, sizeof err), 0);
    assert_bytes(&e.v[0], false, "qqq", 3);
    tk_expr_free(&e);
}

static void test_files(void **state)
{
    (void)state;
    char path[64], text[256];
    struct tk_expr e;
    make_file(path, sizeof path, "FILE\\nDATA");

    snprintf(text, sizeof text, "a\\{<%s>}b", path);
    parse_ok(text, true, &e); /* -e does not touch file contents */
    assert_int_equal(e.n, 1);
    assert_bytes(&e.v[0], false, "aFILE\\nDATAb", 12);
    assert_int_equal(e.scope, TK_SCOPE_CONSTANT);
    tk_expr_free(&e);

    snprintf(text, sizeof text, "\\{<\"%s\">}\\{ < %s > }", path, path);
    parse_ok(text, false, &e);
    assert_bytes(&e.v[0], false, "FILE\\nDATAFILE\\nDATA", 20);
    tk_expr_free(&e);

    snprintf(text, sizeof text, "\\{raw <%s>}", path);
    parse_ok(text, false, &e);
    assert_bytes(&e.v[0], true, "FILE\\nDATA", 10);
    tk_expr_free(&e);

    /* an empty file adds nothing */
    char empty[64];
    make_file(empty, sizeof empty, "");
    snprintf(text, sizeof text, "x\\{<%s>}", empty);
    parse_ok(text, false, &e);
    assert_int_equal(e.n, 1);
    assert_bytes(&e.v[0], false, "x", 1);
    tk_expr_free(&e);

    unlink(path);
    unlink(empty);

    /* unreadable: the original's one line, and the errno */
    snprintf(text, sizeof text, "\\{<%s>}", path);
    char want[256];
    snprintf(want, sizeof want, "Can't open \"%s\": No such file or directory", path);
    parse_err(text, -ENOENT, want);
    snprintf(text, sizeof text, "\\{ws.text <\"%s\">}", path);
    parse_err(text, -ENOENT, want);
    parse_err("\\{</tmp>}", -EISDIR, "Can't read \"/tmp\": Is a directory");
}

static void test_raw(void **state)
{
    (void)state;
    struct tk_expr e;
    parse_ok("a\\{raw \"RAW\"}b", false, &e);
    assert_int_equal(e.n, 3); /* raw bytes are not merged with framed ones */
    assert_bytes(&e.v[0], false, "a", 1);
    assert_bytes(&e.v[1], true, "RAW", 3);
    assert_bytes(&e.v[2], false, "b", 1);
    assert_int_equal(e.min_len, 5);
    tk_expr_free(&e);

    parse_ok("\\{raw \"x\"}\\{raw \"y\"}", false, &e);
    assert_int_equal(e.n, 1); /* two raw pieces in a row merge */
    assert_bytes(&e.v[0], true, "xy", 2);
    tk_expr_free(&e);

    parse_ok("\\{raw {connection.uid % 7}}\\{raw {re z}}\\{raw {message.marker}}"
             "\\{raw {raw \"in\"}}\\{raw{global.re w}}",
             false, &e);
    assert_int_equal(e.n, 4);
    assert_int_equal(e.v[0].kind, TK_PC_CONN_UID);
    assert_int_equal(e.v[0].modulo, 7);
    assert_true(e.v[0].raw);
    assert_int_equal(e.v[1].kind, TK_PC_RE);
    assert_true(e.v[1].raw);
    assert_int_equal(e.v[2].kind, TK_PC_MARKER);
    assert_true(e.v[2].raw);
    assert_bytes(&e.v[3], true, "inw", 3);
    assert_int_equal(e.nmarkers, 1);
    tk_expr_free(&e);

    parse_ok("\\{raw \"\"}", false, &e); /* empty: nothing */
    assert_int_equal(e.n, 0);
    tk_expr_free(&e);
}

/* The spec's frame example: opcodes, FIN, RSV bits, data from strings and files. */
static void test_ws_frames(void **state)
{
    (void)state;
    char path[64], text[512];
    struct tk_expr e;
    make_file(path, sizeof path, "FILEDATA");
    snprintf(text, sizeof text,
             "\\{ws.text \"hi\"}\\{ws.ping}\\{ws.binary <%s>}\\{ws.close rsv1}"
             "\\{ws.text \"a\" ...}\\{ws.cont \"b\"}\\{raw \"RAW\"}",
             path);
    parse_ok(text, false, &e);
    assert_int_equal(e.n, 7);
    static const struct {
        uint8_t byte0;
        const char *data;
    } want[] = {{0x81, "hi"}, {0x89, ""}, {0x82, "FILEDATA"}, {0xc8, ""}, {0x01, "a"}, {0x80, "b"}};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(e.v[i].kind, TK_PC_WS_FRAME);
        assert_int_equal(e.v[i].ws_byte0, want[i].byte0);
        assert_int_equal(e.v[i].len, strlen(want[i].data));
        if (e.v[i].len)
            assert_memory_equal(e.v[i].bytes, want[i].data, e.v[i].len);
        assert_false(e.v[i].raw);
    }
    assert_bytes(&e.v[6], true, "RAW", 3);
    assert_int_equal(e.scope, TK_SCOPE_CONSTANT);
    /* frames count with their header: 2 bytes each unmasked, 6 with a masking key */
    assert_int_equal(e.min_len, 6 * 2 + 2 + 8 + 1 + 1 + 3);
    assert_int_equal(e.max_len, 6 * 6 + 2 + 8 + 1 + 1 + 3);
    tk_expr_free(&e);

    /* data concatenated from strings and files; every opcode name; flags combine */
    snprintf(text, sizeof text,
             "\\{ws.binary \"a\" <%s> \"b\" ... rsv2 rsv3}\\{ws.pong}\\{ws.continuation rsv1 "
             "rsv2 rsv3}\\{ws . close}",
             path);
    parse_ok(text, false, &e);
    assert_int_equal(e.n, 4);
    assert_int_equal(e.v[0].ws_byte0, 0x02 | 0x20 | 0x10);
    assert_int_equal(e.v[0].len, 10);
    assert_memory_equal(e.v[0].bytes, "aFILEDATAb", 10);
    assert_int_equal(e.v[1].ws_byte0, 0x8a);
    assert_int_equal(e.v[2].ws_byte0, 0x80 | 0x70);
    assert_int_equal(e.v[3].ws_byte0, 0x88);
    tk_expr_free(&e);
    unlink(path);

    /* larger payloads take the 16- and 64-bit length forms in the bounds */
    char big[300];
    memset(big, 'x', sizeof big);
    snprintf(text, sizeof text, "\\{ws.text \"%.*s\"}", 200, big);
    parse_ok(text, false, &e);
    assert_int_equal(e.min_len, 4 + 200);
    assert_int_equal(e.max_len, 8 + 200);
    tk_expr_free(&e);
}

/* Adjacent constant bytes (text, files, global.re, raw with raw) become one piece. */
static void test_merging(void **state)
{
    (void)state;
    char path[64], text[256];
    struct tk_expr e;
    make_file(path, sizeof path, "F");
    snprintf(text, sizeof text, "a\\{<%s>}b\\{global.re c}d\\{raw \"r\"}\\{raw <%s>}e", path, path);
    parse_ok(text, false, &e);
    assert_int_equal(e.n, 3);
    assert_bytes(&e.v[0], false, "aFbcd", 5);
    assert_bytes(&e.v[1], true, "rF", 2);
    assert_bytes(&e.v[2], false, "e", 1);
    tk_expr_free(&e);
    unlink(path);

    /* a frame between constant bytes keeps them apart */
    parse_ok("a\\{ws.ping}b", false, &e);
    assert_int_equal(e.n, 3);
    tk_expr_free(&e);
}

#define FAILED(arg) "\nFailed to parse \"\"" arg "\"\""

static void test_errors_tokens(void **state)
{
    (void)state;
    parse_err("\\{foo}", -EINVAL,
              "Unexpected token in message expression: foo\n"
              "Parse error near token \"foo\": syntax error, unexpected end of expression" FAILED(
                  "\\\\{foo}"));
    /* the spec's measured output, bison's two spaces included */
    parse_err("\\{connection.foo}", -EINVAL,
              "Unexpected token in message expression: foo\n"
              "Parse error near token \"foo\": syntax error, unexpected end of expression, "
              "expecting  ptr or uid or re" FAILED("\\\\{connection.foo}"));
    parse_err("x \\{connectionx.uid}", -EINVAL,
              "Unexpected token in message expression: connectionx\n"
              "Parse error near token \"connectionx\": syntax error, unexpected end of "
              "expression" FAILED("x \\\\{connectionx.uid}"));
    /* `re` must be followed by a space: re[a-z] is one unknown word, as the original */
    parse_err(
        "\\{re[a-z]}", -EINVAL,
        "Unexpected token in message expression: re[a-z]\n"
        "Parse error near token \"re[a-z]\": syntax error, unexpected end of expression" FAILED(
            "\\\\{re[a-z]}"));
    parse_err("\\{\"abc}", -EINVAL,
              "Unexpected token in message expression: \"\n"
              "Parse error near token \"\"\": syntax error, unexpected end of expression" FAILED(
                  "\\\\{\\\"abc}"));
    parse_err("\\{connection.uid 5x}", -EINVAL,
              "Unexpected token in message expression: 5x\n"
              "Parse error near token \"5x\": syntax error, unexpected end of expression, "
              "expecting '%' or '}'" FAILED("\\\\{connection.uid 5x}"));
}

static void test_errors_grammar(void **state)
{
    (void)state;
    parse_err("\\{connection}", -EINVAL,
              "Parse error near token \"}\": syntax error, unexpected '}', expecting '.'" FAILED(
                  "\\\\{connection}"));
    parse_err("\\{connection.marker}", -EINVAL,
              "Parse error near token \"marker\": syntax error, unexpected marker, "
              "expecting  ptr or uid or re" FAILED("\\\\{connection.marker}"));
    parse_err(
        "\\{message.uid}", -EINVAL,
        "Parse error near token \"uid\": syntax error, unexpected uid, expecting marker" FAILED(
            "\\\\{message.uid}"));
    parse_err("\\{global.uid}", -EINVAL,
              "Parse error near token \"uid\": syntax error, unexpected uid, expecting re" FAILED(
                  "\\\\{global.uid}"));
    parse_err("\\{}", -EINVAL,
              "Parse error near token \"}\": syntax error, unexpected '}'" FAILED("\\\\{}"));
    parse_err("\\{text}", -EINVAL,
              "Parse error near token \"text\": syntax error, unexpected \"text, binary, close, "
              "ping, pong, continuation\"" FAILED("\\\\{text}"));
    parse_err("\\{ws.foo}", -EINVAL,
              "Unexpected token in message expression: foo\n"
              "Parse error near token \"foo\": syntax error, unexpected end of expression, "
              "expecting \"text, binary, close, ping, pong, continuation\"" FAILED("\\\\{ws.foo}"));
    parse_err(
        "\\{ws.text 5}", -EINVAL,
        "Parse error near token \"5\": syntax error, unexpected integer" FAILED("\\\\{ws.text 5}"));
    /* data comes before the flags */
    parse_err("\\{ws.text ... \"a\"}", -EINVAL,
              "Parse error near token \"\"a\"\": syntax error, unexpected quoted string, "
              "expecting ... or \"rsv1, rsv2, rsv3\" or '}'" FAILED("\\\\{ws.text ... \\\"a\\\"}"));
    parse_err("\\{raw}", -EINVAL,
              "Parse error near token \"}\": syntax error, unexpected '}', expecting quoted "
              "string or '<' or '{'" FAILED("\\\\{raw}"));
    parse_err("\\{raw \"a\" \"b\"}", -EINVAL,
              "Parse error near token \"\"b\"\": syntax error, unexpected quoted string, "
              "expecting '}'" FAILED("\\\\{raw \\\"a\\\" \\\"b\\\"}"));
    /* no frames inside raw, as the original's grammar */
    parse_err(
        "\\{raw {ws.text}}", -EINVAL,
        "Parse error near token \"ws\": syntax error, unexpected ws" FAILED("\\\\{raw {ws.text}}"));
    parse_err("\\{connection.uid % x}", -EINVAL,
              "Unexpected token in message expression: x\n"
              "Parse error near token \"x\": syntax error, unexpected end of expression, "
              "expecting integer" FAILED("\\\\{connection.uid % x}"));
    parse_err("\\{connection.uid % 2 % 3}", -EINVAL,
              "Parse error near token \"%\": syntax error, unexpected '%', expecting '}'" FAILED(
                  "\\\\{connection.uid % 2 % 3}"));
    parse_err("\\{connection.uid % 0}", -EINVAL,
              "Unexpected token in message expression: 0\n"
              "Parse error near token \"0\": syntax error, unexpected integer 0, expecting a "
              "modulo of 1 or more" FAILED("\\\\{connection.uid % 0}"));
    parse_err("\\{connection.uid % 99999999999999999999}", -EINVAL,
              "Unexpected token in message expression: 99999999999999999999\n"
              "Parse error near token \"99999999999999999999\": syntax error, unexpected "
              "integer, expecting a modulo below 2^64 - 1" FAILED(
                  "\\\\{connection.uid % 99999999999999999999}"));
    /* bug 36: a marker is a token, not a number */
    parse_err("\\{message.marker % 5}", -EINVAL,
              "Unexpected token in message expression: %\n"
              "Parse error near token \"%\": syntax error, unexpected '%', expecting '}' "
              "(\\{message.marker} is a timestamp token, not a number)" FAILED(
                  "\\\\{message.marker % 5}"));
    parse_err("\\{message.marker x}", -EINVAL,
              "Unexpected token in message expression: x\n"
              "Parse error near token \"x\": syntax error, unexpected end of expression, "
              "expecting '}'" FAILED("\\\\{message.marker x}"));
}

static void test_errors_unterminated(void **state)
{
    (void)state;
    parse_err("abc\\{", -EINVAL,
              "Parse error near token \"\\{\": syntax error, unexpected end of expression" FAILED(
                  "abc\\\\{"));
    parse_err("abc\\{connection.uid", -EINVAL,
              "Parse error near token \"uid\": syntax error, unexpected end of expression, "
              "expecting '%' or '}'" FAILED("abc\\\\{connection.uid"));
    parse_err("\\{re abc", -EINVAL,
              "Parse error near token \"re\": syntax error, unexpected end of expression, "
              "expecting '}'" FAILED("\\\\{re abc"));
    parse_err("\\{re c{2,5}", -EINVAL,
              "Parse error near token \"re\": syntax error, unexpected end of expression, "
              "expecting '}'" FAILED("\\\\{re c{2,5}"));
    parse_err("\\{ws.text \"a\"", -EINVAL,
              "Parse error near token \"\"a\"\": syntax error, unexpected end of expression" FAILED(
                  "\\\\{ws.text \\\"a\\\""));
    parse_err("\\{raw {connection.uid}", -EINVAL,
              "Parse error near token \"}\": syntax error, unexpected end of expression, "
              "expecting '}'" FAILED("\\\\{raw {connection.uid}"));
}

static void test_errors_regex(void **state)
{
    (void)state;
    parse_err(
        "\\{re (ab|) }", -EINVAL,
        "Unexpected token in regular expression: (ab|)\n"
        "Parse error near token \"(ab|)\": syntax error, empty alternative at offset 4" FAILED(
            "\\\\{re (ab|) }"));
    parse_err("\\{re [ab}", -EINVAL,
              "Unexpected token in regular expression: [ab}\n"
              "Parse error near token \"[ab}\": syntax error, unexpected end of expression, "
              "expecting ']'" FAILED("\\\\{re [ab}"));
    parse_err("\\{re }", -EINVAL,
              "Unexpected token in message expression: }\n"
              "Parse error near token \"}\": syntax error, unexpected '}', expecting arbitrary "
              "string or '[' or '('" FAILED("\\\\{re }"));
    parse_err("\\{connection.re a{70000}}", -EINVAL,
              "Unexpected token in regular expression: a{70000}\n"
              "Parse error near token \"a{70000}\": syntax error, repeat count at offset 2 is "
              "above 65535" FAILED("\\\\{connection.re a{70000}}"));
    parse_err("\\{global.re +}", -EINVAL,
              "Unexpected token in regular expression: +\n"
              "Parse error near token \"+\": syntax error, unexpected '+' at offset 0: nothing "
              "to repeat" FAILED("\\\\{global.re +}"));
}

static void test_errors_files(void **state)
{
    (void)state;
    parse_err("\\{<a(b>}", -EINVAL,
              "Unexpected filename format: (b\n"
              "Parse error near token \"(b\": syntax error, unexpected end of expression, "
              "expecting '>'" FAILED("\\\\{<a(b>}"));
    parse_err(
        "\\{<>}", -EINVAL,
        "Parse error near token \">\": syntax error, unexpected '>', expecting file name" FAILED(
            "\\\\{<>}"));
    parse_err(
        "\\{<a b>}", -EINVAL,
        "Parse error near token \"b\": syntax error, unexpected file name, expecting '>'" FAILED(
            "\\\\{<a b>}"));
    parse_err("\\{<\"a\\\"b\">}", -EINVAL,
              "Unexpected filename format: \"a\\\"b\"\n"
              "Parse error near token \"\"a\\\"b\"\": syntax error, unexpected end of "
              "expression, expecting file name" FAILED("\\\\{<\\\"a\\\\\\\"b\\\">}"));
    parse_err("\\{<a", -EINVAL,
              "Parse error near token \"a\": syntax error, unexpected end of expression, "
              "expecting '>'" FAILED("\\\\{<a"));
}

/* The argument in the last line is quoted as tcpkali prints data: \r, \n plus a newline and
 * TAB, \", \\ and octal for other bytes. */
static void test_error_quoting(void **state)
{
    (void)state;
    struct tk_expr e;
    char err[512];
    const char in[] = "a\r\n\"\x01\xff\\{x}";
    assert_int_equal(tk_expr_parse(in, sizeof in - 1, false, &test_rng, &e, err, sizeof err),
                     -EINVAL);
    const char *last = strstr(err, "Failed to parse");
    assert_non_null(last);
    assert_string_equal(last, "Failed to parse \"\"a\\r\\n\n\t\\\"\\001\\377\\\\{x}\"\"");

    /* a small buffer is truncated, never overrun */
    char small[16];
    memset(small, 'Z', sizeof small);
    assert_int_equal(tk_expr_parse("\\{foo}", 6, false, &test_rng, &e, small, 10), -EINVAL);
    assert_int_equal(strlen(small), 9);
    assert_int_equal(small[10], 'Z');
}

/* Nesting limits keep hostile input from recursing deeply. */
static void test_nesting_limits(void **state)
{
    (void)state;
    char text[2048];
    size_t k = 0;
    for (int i = 0; i < 100; i++) {
        memcpy(text + k, i ? "raw {" : "\\{raw {", i ? 5 : 7);
        k += i ? 5 : 7;
    }
    text[k] = '\0';
    struct tk_expr e;
    char err[1024];
    assert_int_equal(tk_expr_parse(text, k, false, &test_rng, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "syntax error, \\{raw {...}} nested too deeply"));

    /* 20 levels work */
    k = 0;
    k += (size_t)sprintf(text + k, "\\{");
    for (int i = 0; i < 20; i++)
        k += (size_t)sprintf(text + k, "raw {");
    k += (size_t)sprintf(text + k, "connection.uid");
    for (int i = 0; i < 21; i++)
        text[k++] = '}';
    parse_ok_n(text, k, false, &e);
    assert_int_equal(e.n, 1);
    assert_true(e.v[0].raw);
    tk_expr_free(&e);

    k = (size_t)sprintf(text, "\\{re ");
    memset(text + k, '(', 100);
    k += 100;
    text[k++] = '}';
    assert_int_equal(tk_expr_parse(text, k, false, &test_rng, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "groups nested deeper than 64"));
}

static int setup(void **state)
{
    (void)state;
    rng_seed(&test_rng, 12345);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_literal),
        cmocka_unit_test(test_backslashes),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_connection_uid_ptr),
        cmocka_unit_test(test_marker),
        cmocka_unit_test(test_re_forms),
        cmocka_unit_test(test_global_re),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_ws_frames),
        cmocka_unit_test(test_merging),
        cmocka_unit_test(test_errors_tokens),
        cmocka_unit_test(test_errors_grammar),
        cmocka_unit_test(test_errors_unterminated),
        cmocka_unit_test(test_errors_regex),
        cmocka_unit_test(test_errors_files),
        cmocka_unit_test(test_error_quoting),
        cmocka_unit_test(test_nesting_limits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
