#ifndef NETGRIND_TCPKALI_EXPR_H
#define NETGRIND_TCPKALI_EXPR_H

/* tcpkali's message expression language (spec tcpkali.md §4.1): a message argument (-m, -1,
 * -f contents, --latency-marker) is literal text with `\{ ... }` expressions in it. The
 * parser turns one argument into a flat list of pieces; the message source (msgsrc.c)
 * evaluates them per connection or per message and frames them for WebSocket.
 *
 * What is folded at parse time into constant bytes: literal text (with tcpkali's -e rules
 * applied when the argument says so, tk_unescape), `\{<file>}` (read now), `\{global.re R}`
 * (generated once now, from the rng given), and the payload of `\{ws.OP ...}`.
 *
 * Differences from the original, on purpose (spec "Known bugs"):
 * - 35: `\{connection.re R}` is one value per connection, whatever else the message has.
 * - 36: `\{message.marker % N}` is a parse error with a clear message (a marker is a
 *   timestamp token, not a number), never a runtime abort.
 * - 37: no debug output, ever.
 * - 9:  -f file contents are not expression-parsed (tk_msg_arg.from_file): the caller makes
 *   them one TK_PC_BYTES piece and does not call this parser.
 * Parse errors print the original's three lines (see tk_expr_parse) and exit 1.
 *
 * Pure apart from reading `\{<file>}`; thread-safe on distinct outputs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "tcpkali/regen.h"

enum tk_piece_kind {
    TK_PC_BYTES,     /* constant bytes: text, files, global.re, already folded */
    TK_PC_CONN_UID,  /* \{connection.uid [% N]}: decimal, per connection */
    TK_PC_CONN_PTR,  /* \{connection.ptr [% N]}: "%p" of the connection (or its value % N) */
    TK_PC_CONN_RE,   /* \{connection.re R}: generated once per connection */
    TK_PC_RE,        /* \{re R}: generated for every message */
    TK_PC_MARKER,    /* \{message.marker}: the 30-byte timestamp token, per message */
    TK_PC_WS_FRAME,  /* \{ws.OP ...}: one complete WebSocket frame, never re-framed */
};

/* WebSocket opcodes and byte-0 flags (RFC 6455 §5.2), for TK_PC_WS_FRAME. */
#define TK_WS_OP_CONT 0x0
#define TK_WS_OP_TEXT 0x1
#define TK_WS_OP_BINARY 0x2
#define TK_WS_OP_CLOSE 0x8
#define TK_WS_OP_PING 0x9
#define TK_WS_OP_PONG 0xA
#define TK_WS_FIN 0x80
#define TK_WS_RSV1 0x40
#define TK_WS_RSV2 0x20
#define TK_WS_RSV3 0x10

/* bytes/len are set only for TK_PC_BYTES and TK_PC_WS_FRAME (an empty frame payload is
 * NULL, 0). A TK_PC_BYTES piece is never empty, and two adjacent TK_PC_BYTES pieces always
 * differ in `raw` (constant bytes are merged as they are parsed); an empty argument gives
 * n == 0. TK_PC_WS_FRAME pieces are never raw (the grammar has no frame inside raw). */
struct tk_piece {
    enum tk_piece_kind kind;
    bool raw;          /* inside \{raw ...}: sent without WebSocket framing */
    uint64_t modulo;   /* TK_PC_CONN_UID / _PTR: "% N", 0 when absent (1 <= N < 2^64 - 1) */
    uint8_t *bytes;    /* TK_PC_BYTES: the bytes; TK_PC_WS_FRAME: the frame's payload */
    size_t len;
    uint8_t ws_byte0;  /* TK_PC_WS_FRAME: FIN | RSVn | opcode, as the frame's first byte */
    struct tk_regen *re; /* TK_PC_CONN_RE / TK_PC_RE (owned) */
};

/* How often an expression's value changes: the most variable piece decides. */
enum tk_expr_scope {
    TK_SCOPE_CONSTANT = 0,  /* same bytes for every connection and message */
    TK_SCOPE_CONNECTION = 1,/* uid, ptr, connection.re */
    TK_SCOPE_MESSAGE = 2,   /* re, message.marker */
};

struct tk_expr {
    struct tk_piece *v;
    size_t n;
    enum tk_expr_scope scope;
    size_t nmarkers;    /* TK_PC_MARKER pieces */
    size_t min_len, max_len; /* bounds of the evaluated (unframed) length; max may be
                              * large but finite. Per piece: bytes as they are; uid 1..20
                              * digits, ptr "0x1".."0x" + 16 hex digits, with % N 1 to the
                              * digits of N - 1; marker 30; re its tk_regen bounds; a ws
                              * frame its payload plus header: min without a masking key
                              * (server), max with one (client) */
};

/* Parses text[0, len) (any bytes; NUL allowed in literal parts). `unescape`: apply -e to
 * the literal text outside expressions (tk_unescape, spec §4.5), and only there: never to
 * file contents or \{global.re} values; quoted strings inside expressions are always
 * unescaped. `rng` draws \{global.re} values (NULL: one seeded from entropy).
 * On success 0 and *out filled (free with tk_expr_free). On failure *out is empty, and
 * -EINVAL (or -ENOMEM, or -errno of an unreadable file) with err holding the lines the tool
 * prints, separated by '\n', without a final newline. For a parse error, the lines in the
 * original's shape (its bison wording and token names), e.g. for `\{connection.foo}`:
 *     Unexpected token in message expression: foo
 *     Parse error near token "foo": syntax error, unexpected end of expression,
 *         expecting  ptr or uid or re            (one line, bison's two spaces)
 *     Failed to parse ""\\{connection.foo}""
 * (the last line quotes the argument as tcpkali 1.1.1 prints data: in double quotes, with
 * \\ \" \r \n and \ooo escapes, measured in spec §2). The original prints the first line
 * only when its lexer fails (an unknown word such as `foo`); for a grammar error such as
 * `\{connection}` it starts at "Parse error", and so does this parser. Regex errors read
 *     Unexpected token in regular expression: (ab|)
 *     Parse error near token "(ab|)": syntax error, empty alternative at offset 4
 *     Failed to parse ""\\{re (ab|)}""
 * An unreadable file is one line, `Can't open "name": No such file or directory` (or
 * `Can't read "name": Is a directory`, `...: File too large` above 256 MiB).
 * Grammar notes, as the original: `re` must be followed by whitespace (`re[a-z]` is one
 * unknown word); in \{ws.OP ...} the data (quoted strings, <file>s) comes before `...` and
 * rsvN; `\{raw {...}}` holds anything but a ws frame. Unlike the original, a second `% N`
 * (`uid % 4 % 3`) and `% 0` are errors, and \{raw {...}} nests at most 64 deep.
 * The tool exits 1 after printing the message. */
int tk_expr_parse(const char *text, size_t len, bool unescape, struct rng *rng,
                  struct tk_expr *out, char *err, size_t errlen);
void tk_expr_free(struct tk_expr *e);

#endif
