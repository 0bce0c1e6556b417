/* tcpkali's message expressions: a hand-written lexer and recursive-descent parser that turn
 * one message argument into the flat piece list of expr.h.
 *
 * Outside an expression everything is literal text; `\{` opens an expression (a `\\` pair is
 * literal and kept whole, so `a\\{b` has no expression). Inside, the lexer works as the
 * original's flex scanner does: whitespace is skipped, a word is a maximal run of bytes
 * other than whitespace and `"<{}.%`, and a word that is not a keyword or a number is an
 * unexpected token. After `re` the regex text runs to the `}` that closes the expression,
 * counting `{...}` repeat specs and skipping `[...]` classes. After `<` comes a file name.
 *
 * Errors are reported in the original's shape (its bison parser's wording, token names
 * included, so "expecting  ptr or uid or re" has bison's two spaces): an "Unexpected token"
 * line (only when the lexer could not make a token, as the original's flex scanner prints
 * it), a "Parse error near token" line and a "Failed to parse" line quoting the argument.
 * The grammar is small enough that each parse function knows the tokens it expects. */
#include "tcpkali/expr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tcpkali/msgsrc.h"

#define EXPR_MAX_RAW_DEPTH 64      /* \{raw {raw {...}}} nesting */
#define EXPR_MAX_FILE (256u << 20) /* \{<file>} larger than this is an error */
#define EXPR_MARKER_LEN 30         /* "TCPKaliMsgTS-" + 16 hex digits + "." */
#define EXPR_SHOW_MAX 200          /* longest token quoted in a message */

enum tok_kind {
    T_END,
    T_LBRACE,
    T_RBRACE,
    T_DOT,
    T_ELLIPSIS,
    T_PERCENT,
    T_LT,
    T_GT,
    T_QUOTED,
    T_INT,
    T_FILENAME,
    T_WS,
    T_RAW,
    T_OPCODE,
    T_RSV,
    T_GLOBAL,
    T_CONNECTION,
    T_MESSAGE,
    T_PTR,
    T_UID,
    T_RE,
    T_MARKER,
    T_BAD, /* a lexer error: an unknown word, or a byte no token starts with */
};

/* Token names as the original's bison grammar spells them in its messages. */
static const char *const tok_names[] = {
    [T_END] = "end of expression",
    [T_LBRACE] = "'{'",
    [T_RBRACE] = "'}'",
    [T_DOT] = "'.'",
    [T_ELLIPSIS] = "...",
    [T_PERCENT] = "'%'",
    [T_LT] = "'<'",
    [T_GT] = "'>'",
    [T_QUOTED] = "quoted string",
    [T_INT] = "integer",
    [T_FILENAME] = "file name",
    [T_WS] = "ws",
    [T_RAW] = "raw",
    [T_OPCODE] = "\"text, binary, close, ping, pong, continuation\"",
    [T_RSV] = "\"rsv1, rsv2, rsv3\"",
    [T_GLOBAL] = "global",
    [T_CONNECTION] = "connection",
    [T_MESSAGE] = "message",
    [T_PTR] = " ptr",
    [T_UID] = "uid",
    [T_RE] = "re",
    [T_MARKER] = "marker",
    [T_BAD] = "end of expression", /* the original's lexer fails with a negative token */
};

static const struct {
    const char *word;
    enum tok_kind kind;
    uint8_t value; /* opcode or RSV bit */
} keywords[] = {
    {"ws", T_WS, 0},
    {"raw", T_RAW, 0},
    {"cont", T_OPCODE, TK_WS_OP_CONT},
    {"continuation", T_OPCODE, TK_WS_OP_CONT},
    {"text", T_OPCODE, TK_WS_OP_TEXT},
    {"binary", T_OPCODE, TK_WS_OP_BINARY},
    {"close", T_OPCODE, TK_WS_OP_CLOSE},
    {"ping", T_OPCODE, TK_WS_OP_PING},
    {"pong", T_OPCODE, TK_WS_OP_PONG},
    {"connection", T_CONNECTION, 0},
    {"message", T_MESSAGE, 0},
    {"global", T_GLOBAL, 0},
    {"ptr", T_PTR, 0},
    {"uid", T_UID, 0},
    {"re", T_RE, 0},
    {"marker", T_MARKER, 0},
    {"rsv1", T_RSV, TK_WS_RSV1},
    {"rsv2", T_RSV, TK_WS_RSV2},
    {"rsv3", T_RSV, TK_WS_RSV3},
};

struct tok {
    enum tok_kind kind;
    const char *text; /* the lexeme in the argument */
    size_t len;
    uint64_t value; /* T_INT (saturated at UINT64_MAX), T_OPCODE, T_RSV */
};

struct expr_parser {
    const char *s;
    size_t len, pos;
    bool unescape;
    struct rng *rng;
    struct tk_expr *e;
    size_t cap;
    char *err;
    size_t errlen;
    struct tok cur;  /* the token just lexed */
    struct tok prev; /* the one before it: "near" text when the input ends */
};

/* ---- Messages ----------------------------------------------------------------------- */

struct strbuf {
    char *b;
    size_t cap, len;
};

static void sb_addn(struct strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n && sb->len + 1 < sb->cap; i++)
        sb->b[sb->len++] = s[i];
    if (sb->cap)
        sb->b[sb->len] = '\0';
}

static void sb_add(struct strbuf *sb, const char *s)
{
    sb_addn(sb, s, strlen(s));
}

static void sb_addf(struct strbuf *sb, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_addn(sb, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A token's text, capped so one huge word cannot crowd out the rest of the message. */
static void sb_add_token(struct strbuf *sb, const char *s, size_t n)
{
    if (n > EXPR_SHOW_MAX) {
        sb_addn(sb, s, EXPR_SHOW_MAX);
        sb_add(sb, "...");
    } else {
        sb_addn(sb, s, n);
    }
}

/* The argument quoted as tcpkali 1.1.1 prints data (spec §3.12): in double quotes, with
 * \r, \n (plus a newline and TAB after it, unless last), \\, \" and \ooo escapes. */
static void sb_add_printable(struct strbuf *sb, const char *s, size_t n)
{
    sb_add(sb, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r')
            sb_add(sb, "\\r");
        else if (c == '\n')
            sb_add(sb, i + 1 == n ? "\\n" : "\\n\n\t");
        else if (c == '"')
            sb_add(sb, "\\\"");
        else if (c == '\\')
            sb_add(sb, "\\\\");
        else if (c >= 32 && c <= 126)
            sb_addn(sb, (const char *)&c, 1);
        else
            sb_addf(sb, "\\%03o", c);
    }
    sb_add(sb, "\"");
}

/* The lines: "<line1_prefix><what>" (omitted when line1_prefix is NULL), "Parse error near
 * token "<near>": syntax error, <detail>", and "Failed to parse "<argument>"". -EINVAL. */
static int parse_error(struct expr_parser *p, const char *line1_prefix, const char *what,
                       size_t what_len, const char *near, size_t near_len, const char *detail)
{
    struct strbuf sb = {p->err, p->errlen, 0};
    if (!p->err || !p->errlen)
        return -EINVAL;
    if (line1_prefix) {
        sb_add(&sb, line1_prefix);
        sb_add_token(&sb, what, what_len);
        sb_add(&sb, "\n");
    }
    sb_add(&sb, "Parse error near token \"");
    sb_add_token(&sb, near, near_len);
    sb_add(&sb, "\": syntax error, ");
    sb_add(&sb, detail);
    sb_add(&sb, "\nFailed to parse \"");
    sb_add_printable(&sb, p->s, p->len);
    sb_add(&sb, "\"");
    return -EINVAL;
}

/* The current token was not one of expected[0..n): the original's bison message, which
 * lists the expected tokens only when there are at most four. */
static int unexpected(struct expr_parser *p, const enum tok_kind *expected, size_t n)
{
    struct strbuf sb;
    char detail[512];
    const struct tok *near = &p->cur;

    sb = (struct strbuf){detail, sizeof detail, 0};
    sb_add(&sb, "unexpected ");
    sb_add(&sb, tok_names[p->cur.kind]);
    if (n <= 4) {
        for (size_t i = 0; i < n; i++) {
            sb_add(&sb, i ? " or " : ", expecting ");
            sb_add(&sb, tok_names[expected[i]]);
        }
    }
    if (p->cur.kind == T_END && p->prev.text) /* nothing left: name where it stopped */
        near = &p->prev;
    /* As the original: its lexer prints the "Unexpected token" line only for what it cannot
     * tokenize; a well-formed token in the wrong place is the parser's two lines alone. */
    const char *line1 = p->cur.kind == T_BAD ? "Unexpected token in message expression: " : NULL;
    return parse_error(p, line1, near->text, near->len, near->text, near->len, detail);
}

/* A message of its own about the current token (a value out of range, a marker modulo). */
static int bad_token(struct expr_parser *p, const char *detail)
{
    return parse_error(p, "Unexpected token in message expression: ", p->cur.text, p->cur.len,
                       p->cur.text, p->cur.len, detail);
}

/* ---- Lexer -------------------------------------------------------------------------- */

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_word_char(char c)
{
    return !is_wsp(c) && c != '"' && c != '<' && c != '{' && c != '}' && c != '.' && c != '%';
}

static void skip_wsp(struct expr_parser *p)
{
    while (p->pos < p->len && is_wsp(p->s[p->pos]))
        p->pos++;
}

static void set_tok(struct expr_parser *p, enum tok_kind kind, size_t start, size_t end)
{
    p->prev = p->cur;
    p->cur = (struct tok){.kind = kind, .text = p->s + start, .len = end - start};
}

/* Classifies a word: a keyword, a decimal integer, or a lexer error. */
static void classify_word(struct expr_parser *p)
{
    struct tok *t = &p->cur;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (strlen(keywords[i].word) == t->len && memcmp(keywords[i].word, t->text, t->len) == 0) {
            t->kind = keywords[i].kind;
            t->value = keywords[i].value;
            return;
        }
    }
    uint64_t v = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->text[i] < '0' || t->text[i] > '9')
            return; /* stays T_BAD */
        unsigned d = (unsigned)(t->text[i] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    t->kind = T_INT;
    t->value = v;
}

/* The next token inside an expression. */
static void lex(struct expr_parser *p)
{
    skip_wsp(p);
    size_t start = p->pos;
    if (p->pos >= p->len) {
        set_tok(p, T_END, start, start);
        return;
    }
    char c = p->s[p->pos++];
    switch (c) {
    case '{':
        set_tok(p, T_LBRACE, start, p->pos);
        return;
    case '}':
        set_tok(p, T_RBRACE, start, p->pos);
        return;
    case '%':
        set_tok(p, T_PERCENT, start, p->pos);
        return;
    case '<':
        set_tok(p, T_LT, start, p->pos);
        return;
    case '.':
        if (p->len - p->pos >= 2 && p->s[p->pos] == '.' && p->s[p->pos + 1] == '.') {
            p->pos += 2;
            set_tok(p, T_ELLIPSIS, start, p->pos);
        } else {
            set_tok(p, T_DOT, start, p->pos);
        }
        return;
    case '"':
        /* "..." with backslash escapes; unterminated, the quote alone is the bad token */
        for (size_t i = p->pos; i < p->len; i++) {
            if (p->s[i] == '\\' && i + 1 < p->len) {
                i++;
            } else if (p->s[i] == '"') {
                p->pos = i + 1;
                set_tok(p, T_QUOTED, start, p->pos);
                return;
            }
        }
        set_tok(p, T_BAD, start, p->pos);
        return;
    default:
        while (p->pos < p->len && is_word_char(p->s[p->pos]))
            p->pos++;
        set_tok(p, T_BAD, start, p->pos);
        classify_word(p);
        return;
    }
}

/* After '<': a file name (bare, or in double quotes), '>', the end, or a malformed name. */
static void lex_filename(struct expr_parser *p)
{
    skip_wsp(p);
    size_t start = p->pos;
    if (p->pos >= p->len) {
        set_tok(p, T_END, start, start);
        return;
    }
    char c = p->s[p->pos];
    if (c == '>') {
        p->pos++;
        set_tok(p, T_GT, start, p->pos);
        return;
    }
    if (c == '"') {
        /* backslashes are kept as they are, but not one before the closing quote */
        for (size_t i = p->pos + 1; i < p->len; i++) {
            char d = p->s[i];
            if (d == '\r' || d == '\n' || d == '\0' ||
                (d == '\\' && i + 1 < p->len && p->s[i + 1] == '"'))
                break;
            if (d == '"') {
                p->pos = i + 1;
                set_tok(p, T_FILENAME, start, p->pos);
                return;
            }
        }
    } else if (!strchr("[]\"'{}<()", c) && c != '\0') {
        while (p->pos < p->len && !is_wsp(p->s[p->pos]) && p->s[p->pos] != '\0' &&
               !strchr("[]\"'{}<>()", p->s[p->pos]))
            p->pos++;
        set_tok(p, T_FILENAME, start, p->pos);
        return;
    }
    /* malformed: the bad token runs to the next '>' or space, as the original shows it */
    while (p->pos < p->len && p->s[p->pos] != '>' && p->s[p->pos] != ' ')
        p->pos++;
    set_tok(p, T_BAD, start, p->pos);
}

/* ---- Pieces ------------------------------------------------------------------------- */

static struct tk_piece *new_piece(struct expr_parser *p, enum tk_piece_kind kind, bool raw)
{
    struct tk_expr *e = p->e;
    if (e->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct tk_piece *v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return NULL;
        e->v = v;
        p->cap = cap;
    }
    struct tk_piece *pc = &e->v[e->n++];
    memset(pc, 0, sizeof *pc);
    pc->kind = kind;
    pc->raw = raw;
    return pc;
}

/* Appends constant bytes: merged into the previous piece when that is constant bytes with
 * the same raw flag; nothing for n == 0. */
static int add_bytes(struct expr_parser *p, const uint8_t *b, size_t n, bool raw)
{
    if (n == 0)
        return 0;
    struct tk_expr *e = p->e;
    struct tk_piece *last = e->n ? &e->v[e->n - 1] : NULL;
    if (last && last->kind == TK_PC_BYTES && last->raw == raw) {
        uint8_t *m = realloc(last->bytes, last->len + n);
        if (!m)
            return -ENOMEM;
        memcpy(m + last->len, b, n);
        last->bytes = m;
        last->len += n;
        return 0;
    }
    uint8_t *copy = malloc(n);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, b, n);
    struct tk_piece *pc = new_piece(p, TK_PC_BYTES, raw);
    if (!pc) {
        free(copy);
        return -ENOMEM;
    }
    pc->bytes = copy;
    pc->len = n;
    return 0;
}

/* A growable byte string for quoted strings, files and frame payloads. */
struct bytes {
    uint8_t *b;
    size_t len;
};

static int bytes_append(struct bytes *d, const uint8_t *b, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t *m = realloc(d->b, d->len + n);
    if (!m)
        return -ENOMEM;
    memcpy(m + d->len, b, n);
    d->b = m;
    d->len += n;
    return 0;
}

/* The value of the current T_QUOTED token: its contents, always unescaped. */
static int quoted_value(struct expr_parser *p, struct bytes *out)
{
    size_t n = p->cur.len - 2;
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp)
        return -ENOMEM;
    n = tk_unescape(p->cur.text + 1, n, tmp);
    int rc = bytes_append(out, tmp, n);
    free(tmp);
    return rc;
}

/* Reads a whole file (regular or not, up to EXPR_MAX_FILE) into out. */
static int read_file(struct expr_parser *p, const char *name, struct bytes *out)
{
    struct strbuf sb = {p->err, p->errlen, 0};
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        sb_addf(&sb, "Can't open \"%s\": %s", name, strerror(-rc));
        return rc;
    }
    size_t cap = out->len, first = out->len; /* out may hold data already (ws frames) */
    int rc = 0;
    for (;;) {
        if (out->len == cap) {
            if (cap - first >= EXPR_MAX_FILE) {
                rc = -EFBIG;
                break;
            }
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *m = realloc(out->b, ncap);
            if (!m) {
                rc = -ENOMEM;
                break;
            }
            out->b = m;
            cap = ncap;
        }
        ssize_t r = read(fd, out->b + out->len, cap - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
    }
    close(fd);
    if (rc)
        sb_addf(&sb, "Can't read \"%s\": %s", name, strerror(-rc));
    return rc;
}

/* After '<': file name, '>'; the file's contents appended to out. */
static int parse_file(struct expr_parser *p, struct bytes *out)
{
    static const enum tok_kind want_name[] = {T_FILENAME};
    static const enum tok_kind want_gt[] = {T_GT};

    lex_filename(p);
    if (p->cur.kind == T_BAD)
        return parse_error(p, "Unexpected filename format: ", p->cur.text, p->cur.len, p->cur.text,
                           p->cur.len, "unexpected end of expression, expecting file name");
    if (p->cur.kind != T_FILENAME)
        return unexpected(p, want_name, 1);
    const char *name = p->cur.text;
    size_t name_len = p->cur.len;
    if (name[0] == '"') {
        name++;
        name_len -= 2;
    }
    lex_filename(p);
    if (p->cur.kind == T_BAD)
        return parse_error(p, "Unexpected filename format: ", p->cur.text, p->cur.len, p->cur.text,
                           p->cur.len, "unexpected end of expression, expecting '>'");
    if (p->cur.kind != T_GT)
        return unexpected(p, want_gt, 1);
    char *cname = strndup(name, name_len);
    if (!cname)
        return -ENOMEM;
    int rc = read_file(p, cname, out);
    free(cname);
    return rc;
}

/* Lexes the next token and checks that it is `want`. */
static int expect(struct expr_parser *p, enum tok_kind want)
{
    lex(p);
    return p->cur.kind == want ? 0 : unexpected(p, &want, 1);
}

/* After `re`: the regex text up to the '}' that closes the expression (repeat specs
 * {n,m} nest, classes [...] are skipped), compiled. p->pos is left at that '}'. */
static int parse_regex(struct expr_parser *p, struct tk_regen **out)
{
    size_t start = p->pos;
    while (start < p->len && is_wsp(p->s[start]))
        start++;
    size_t i = start;
    int depth = 0;
    bool in_class = false;
    for (; i < p->len; i++) {
        char c = p->s[i];
        if (in_class) {
            in_class = c != ']';
        } else if (c == '[') {
            in_class = true;
        } else if (c == '{') {
            depth++;
        } else if (c == '}') {
            if (depth == 0)
                break;
            depth--;
        }
    }
    if (i == p->len) {
        static const enum tok_kind want_close[] = {T_RBRACE};
        p->pos = i;
        if (in_class)
            return parse_error(p, "Unexpected token in regular expression: ", p->s + start,
                               i - start, p->s + start, i - start,
                               "unexpected end of expression, expecting ']'");
        set_tok(p, T_END, i, i); /* "near" the `re` */
        return unexpected(p, want_close, 1);
    }
    p->pos = i;
    size_t end = i; /* the regex without the whitespace around it, for offsets in messages */
    while (start < end && is_wsp(p->s[start]))
        start++;
    while (end > start && is_wsp(p->s[end - 1]))
        end--;
    if (start == end) { /* \{re } */
        set_tok(p, T_RBRACE, i, i + 1);
        return parse_error(p, "Unexpected token in message expression: ", "}", 1, "}", 1,
                           "unexpected '}', expecting arbitrary string or '[' or '('");
    }
    char rerr[256];
    int rc = tk_regen_compile(p->s + start, end - start, out, rerr, sizeof rerr);
    if (rc == -EINVAL)
        return parse_error(p, "Unexpected token in regular expression: ", p->s + start, end - start,
                           p->s + start, end - start, rerr);
    return rc;
}

/* \{global.re R}: one string now, folded into the constant bytes. */
static int add_global_re(struct expr_parser *p, const struct tk_regen *g, bool raw)
{
    struct rng local;
    struct rng *rng = p->rng;
    if (!rng) {
        rng_seed(&local, rng_entropy_seed());
        rng = &local;
    }
    size_t max = tk_regen_max_len(g);
    uint8_t *buf = malloc(max ? max : 1);
    if (!buf)
        return -ENOMEM;
    size_t n = tk_regen_generate(g, rng, buf);
    int rc = add_bytes(p, buf, n, raw);
    free(buf);
    return rc;
}

/* \{connection.uid|ptr [% N]} after the uid or ptr; consumes the closing '}'. */
static int parse_numeric(struct expr_parser *p, enum tk_piece_kind kind, bool raw)
{
    static const enum tok_kind want_mod_or_close[] = {T_PERCENT, T_RBRACE};
    static const enum tok_kind want_int[] = {T_INT};
    uint64_t modulo = 0;

    lex(p);
    if (p->cur.kind == T_PERCENT) {
        lex(p);
        if (p->cur.kind != T_INT)
            return unexpected(p, want_int, 1);
        if (p->cur.value == 0)
            return bad_token(p, "unexpected integer 0, expecting a modulo of 1 or more");
        if (p->cur.value == UINT64_MAX)
            return bad_token(p, "unexpected integer, expecting a modulo below 2^64 - 1");
        modulo = p->cur.value;
        lex(p);
        if (p->cur.kind != T_RBRACE)
            return unexpected(p, want_mod_or_close + 1, 1);
    } else if (p->cur.kind != T_RBRACE) {
        return unexpected(p, want_mod_or_close, 2);
    }
    struct tk_piece *pc = new_piece(p, kind, raw);
    if (!pc)
        return -ENOMEM;
    pc->modulo = modulo;
    return 0;
}

/* \{ws.OP [data...] [... | rsvN]...} after `ws`; consumes the closing '}'. */
static int parse_ws(struct expr_parser *p)
{
    static const enum tok_kind want_data[] = {T_QUOTED, T_LT, T_ELLIPSIS, T_RSV, T_RBRACE};
    static const enum tok_kind want_flag[] = {T_ELLIPSIS, T_RSV, T_RBRACE};
    struct bytes payload = {NULL, 0};
    bool flags_seen = false;
    int rc;

    if ((rc = expect(p, T_DOT)) || (rc = expect(p, T_OPCODE)))
        return rc;
    uint8_t byte0 = TK_WS_FIN | (uint8_t)p->cur.value;
    for (;;) {
        lex(p);
        if (p->cur.kind == T_RBRACE)
            break;
        if (p->cur.kind == T_ELLIPSIS) {
            byte0 &= (uint8_t)~TK_WS_FIN;
            flags_seen = true;
        } else if (p->cur.kind == T_RSV) {
            byte0 |= (uint8_t)p->cur.value;
            flags_seen = true;
        } else if (p->cur.kind == T_QUOTED && !flags_seen) {
            rc = quoted_value(p, &payload);
        } else if (p->cur.kind == T_LT && !flags_seen) {
            rc = parse_file(p, &payload);
        } else {
            rc = flags_seen ? unexpected(p, want_flag, 3) : unexpected(p, want_data, 5);
        }
        if (rc) {
            free(payload.b);
            return rc;
        }
    }
    struct tk_piece *pc = new_piece(p, TK_PC_WS_FRAME, false);
    if (!pc) {
        free(payload.b);
        return -ENOMEM;
    }
    pc->bytes = payload.b;
    pc->len = payload.len;
    pc->ws_byte0 = byte0;
    return 0;
}

/* \{re R} or \{connection.re R} after the `re`; consumes the closing '}'. */
static int parse_re_piece(struct expr_parser *p, enum tk_piece_kind kind, bool raw)
{
    struct tk_regen *g = NULL;
    int rc = parse_regex(p, &g);
    if (!rc)
        rc = expect(p, T_RBRACE);
    struct tk_piece *pc = rc ? NULL : new_piece(p, kind, raw);
    if (!pc) {
        tk_regen_free(g);
        return rc ? rc : -ENOMEM;
    }
    pc->re = g;
    return 0;
}

/* The inside of \{ ... } after the opening brace, up to and including its '}'. `raw`: inside
 * \{raw {...}} (no ws frames there, as the original's grammar). */
static int parse_body(struct expr_parser *p, bool raw, int depth)
{
    static const enum tok_kind want_any[] = {T_WS,      T_RAW, T_GLOBAL, T_CONNECTION,
                                             T_MESSAGE, T_RE,  T_LT};
    static const enum tok_kind want_raw[] = {T_QUOTED, T_LT, T_LBRACE};
    static const enum tok_kind want_conn[] = {T_PTR, T_UID, T_RE};
    static const enum tok_kind want_close[] = {T_RBRACE};
    struct bytes data = {NULL, 0};
    struct tk_regen *g = NULL;
    int rc = 0;

    lex(p);
    switch (p->cur.kind) {
    case T_LT: /* \{<file>} */
        if (!(rc = parse_file(p, &data)) && !(rc = add_bytes(p, data.b, data.len, raw)))
            rc = expect(p, T_RBRACE);
        break;
    case T_WS:
        if (raw)
            return unexpected(p, want_any + 1, 6);
        return parse_ws(p);
    case T_RAW:
        lex(p);
        if (p->cur.kind == T_QUOTED) {
            if (!(rc = quoted_value(p, &data)))
                rc = add_bytes(p, data.b, data.len, true);
        } else if (p->cur.kind == T_LT) {
            if (!(rc = parse_file(p, &data)))
                rc = add_bytes(p, data.b, data.len, true);
        } else if (p->cur.kind == T_LBRACE) {
            if (depth + 1 >= EXPR_MAX_RAW_DEPTH)
                return bad_token(p, "\\{raw {...}} nested too deeply");
            rc = parse_body(p, true, depth + 1);
        } else {
            return unexpected(p, want_raw, 3);
        }
        if (!rc)
            rc = expect(p, T_RBRACE);
        break;
    case T_GLOBAL:
        if ((rc = expect(p, T_DOT)) || (rc = expect(p, T_RE)) || (rc = parse_regex(p, &g)))
            break;
        if (!(rc = add_global_re(p, g, raw)))
            rc = expect(p, T_RBRACE);
        break;
    case T_CONNECTION:
        if ((rc = expect(p, T_DOT)))
            break;
        lex(p);
        if (p->cur.kind == T_UID || p->cur.kind == T_PTR)
            return parse_numeric(p, p->cur.kind == T_UID ? TK_PC_CONN_UID : TK_PC_CONN_PTR, raw);
        if (p->cur.kind != T_RE)
            return unexpected(p, want_conn, 3);
        return parse_re_piece(p, TK_PC_CONN_RE, raw);
    case T_RE:
        return parse_re_piece(p, TK_PC_RE, raw);
    case T_MESSAGE:
        if ((rc = expect(p, T_DOT)) || (rc = expect(p, T_MARKER)))
            break;
        lex(p);
        if (p->cur.kind == T_PERCENT)
            return bad_token(p, "unexpected '%', expecting '}' (\\{message.marker} is a "
                                "timestamp token, not a number)");
        if (p->cur.kind != T_RBRACE)
            return unexpected(p, want_close, 1);
        if (!new_piece(p, TK_PC_MARKER, raw))
            rc = -ENOMEM;
        break;
    default:
        return raw ? unexpected(p, want_any + 1, 6) : unexpected(p, want_any, 7);
    }
    free(data.b);
    tk_regen_free(g);
    return rc;
}

/* Literal text from pos up to the next `\{` (a `\\` pair is literal and kept whole). */
static int parse_literal(struct expr_parser *p)
{
    size_t start = p->pos, i = p->pos;
    while (i < p->len) {
        if (p->s[i] == '\\' && i + 1 < p->len && p->s[i + 1] == '{')
            break;
        i += (p->s[i] == '\\' && i + 1 < p->len && p->s[i + 1] == '\\') ? 2 : 1;
    }
    p->pos = i;
    size_t n = i - start;
    if (!p->unescape)
        return add_bytes(p, (const uint8_t *)p->s + start, n, false);
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp)
        return -ENOMEM;
    n = tk_unescape(p->s + start, n, tmp);
    int rc = add_bytes(p, tmp, n, false);
    free(tmp);
    return rc;
}

/* Bounds of one evaluated piece. */
static void piece_bounds(const struct tk_piece *pc, size_t *min, size_t *max)
{
    switch (pc->kind) {
    case TK_PC_BYTES:
        *min = *max = pc->len;
        return;
    case TK_PC_CONN_UID:
    case TK_PC_CONN_PTR:
        if (pc->modulo) { /* decimal of 0 .. N-1 */
            char digits[24];
            *min = 1;
            *max = (size_t)snprintf(digits, sizeof digits, "%llu",
                                    (unsigned long long)(pc->modulo - 1));
        } else if (pc->kind == TK_PC_CONN_UID) {
            *min = 1;
            *max = 20; /* UINT64_MAX */
        } else {
            *min = 3;  /* "0x1" */
            *max = 18; /* "0x" and 16 hex digits */
        }
        return;
    case TK_PC_CONN_RE:
    case TK_PC_RE:
        *min = tk_regen_min_len(pc->re);
        *max = tk_regen_max_len(pc->re);
        return;
    case TK_PC_MARKER:
        *min = *max = EXPR_MARKER_LEN;
        return;
    case TK_PC_WS_FRAME: {
        size_t hdr = pc->len < 126 ? 2 : pc->len < 65536 ? 4 : 10;
        *min = hdr + pc->len;     /* a server's unmasked frame */
        *max = hdr + 4 + pc->len; /* a client's frame with its masking key */
        return;
    }
    }
    *min = *max = 0;
}

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static void summarize(struct tk_expr *e)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct tk_piece *pc = &e->v[i];
        enum tk_expr_scope scope = TK_SCOPE_CONSTANT;
        size_t min, max;
        if (pc->kind == TK_PC_CONN_UID || pc->kind == TK_PC_CONN_PTR || pc->kind == TK_PC_CONN_RE)
            scope = TK_SCOPE_CONNECTION;
        else if (pc->kind == TK_PC_RE || pc->kind == TK_PC_MARKER)
            scope = TK_SCOPE_MESSAGE;
        if (scope > e->scope)
            e->scope = scope;
        if (pc->kind == TK_PC_MARKER)
            e->nmarkers++;
        piece_bounds(pc, &min, &max);
        e->min_len = sat_add(e->min_len, min);
        e->max_len = sat_add(e->max_len, max);
    }
}

int tk_expr_parse(const char *text, size_t len, bool unescape, struct rng *rng, struct tk_expr *out,
                  char *err, size_t errlen)
{
    struct expr_parser p = {.s = text ? text : "",
                            .len = text ? len : 0,
                            .unescape = unescape,
                            .rng = rng,
                            .e = out,
                            .err = err,
                            .errlen = errlen};
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    while (p.pos < p.len && rc == 0) {
        if (p.s[p.pos] == '\\' && p.pos + 1 < p.len && p.s[p.pos + 1] == '{') {
            set_tok(&p, T_LBRACE, p.pos, p.pos + 2);
            p.pos += 2;
            rc = parse_body(&p, false, 0);
        } else {
            rc = parse_literal(&p);
        }
    }
    if (rc) {
        if (rc == -ENOMEM && err && errlen)
            snprintf(err, errlen, "Out of memory parsing a message expression");
        tk_expr_free(out);
        return rc;
    }
    summarize(out);
    return 0;
}

void tk_expr_free(struct tk_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].bytes);
        tk_regen_free(e->v[i].re);
    }
    free(e->v);
    memset(e, 0, sizeof *e);
}
