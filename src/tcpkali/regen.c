/* The `re` generator: a regex subset compiled into a small tree of nodes kept in one array,
 * then walked to produce random matching strings. See regen.h for the grammar.
 *
 * The tree has five kinds of node: a literal byte string, a class (its members listed in
 * one 256-byte slot, so a uniform member is one table lookup), a sequence, an alternation,
 * and a repeat of one child. The compiler is a recursive-descent parser whose recursion
 * depth is bounded by the group nesting limit (REGEN_MAX_DEPTH), so hostile input cannot
 * exhaust the stack; generation recurses along the same tree and so is bounded the same
 * way. Lengths are computed bottom-up while parsing (saturating), so the longest possible
 * output is known before anything is generated, and a subtree that can only produce the
 * empty string is dropped, so no generation loops over nothing. */
#include "tcpkali/regen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGEN_MAX_DEPTH 64 /* nested groups */
#define REGEN_STAR_MAX 16  /* '*' and '+' repeat at most this often, as the original */

enum regen_kind {
    RN_LIT,    /* pool[off, off + n) */
    RN_CLASS,  /* n members at pool[off, off + n) (a 256-byte slot) */
    RN_SEQ,    /* kids[off, off + n) in order */
    RN_ALT,    /* one of kids[off, off + n) */
    RN_REPEAT, /* kid `child`, rmin..rmax times */
};

struct regen_node {
    enum regen_kind kind;
    uint32_t off, n;
    uint32_t child;
    uint32_t rmin, rmax;
    size_t min_len, max_len;
};

struct tk_regen {
    struct regen_node *nodes;
    size_t nnodes, cap_nodes;
    uint32_t *kids;
    size_t nkids, cap_kids;
    uint8_t *pool;
    size_t npool, cap_pool;
    uint32_t root;
};

/* Parser state: the text, the position, the tree being built and the first error. */
struct regen_parser {
    const char *s;
    size_t len, pos;
    struct tk_regen *g;
    char *err;
    size_t errlen;
    int rc;
};

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t sat_mul(size_t a, size_t b)
{
    if (a && b > SIZE_MAX / a)
        return SIZE_MAX;
    return a * b;
}

/* Records the first error (later ones are consequences of it). Returns rc. */
static int fail(struct regen_parser *p, int rc, const char *fmt, ...)
{
    if (p->rc == 0) {
        p->rc = rc;
        if (p->err && p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err, p->errlen, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

static bool grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *n = realloc(*v, c * elem);
    if (!n)
        return false;
    *v = n;
    *cap = c;
    return true;
}

/* Appends a node; returns its index, or UINT32_MAX (error recorded). */
static uint32_t new_node(struct regen_parser *p, enum regen_kind kind)
{
    struct tk_regen *g = p->g;
    if (g->nnodes >= UINT32_MAX - 1 ||
        !grow((void **)&g->nodes, &g->cap_nodes, g->nnodes + 1, sizeof *g->nodes)) {
        fail(p, -ENOMEM, "out of memory");
        return UINT32_MAX;
    }
    struct regen_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    return (uint32_t)g->nnodes++;
}

static bool pool_append(struct regen_parser *p, const uint8_t *b, size_t n)
{
    struct tk_regen *g = p->g;
    if (g->npool + n >= UINT32_MAX || !grow((void **)&g->pool, &g->cap_pool, g->npool + n, 1)) {
        fail(p, -ENOMEM, "out of memory");
        return false;
    }
    memcpy(g->pool + g->npool, b, n);
    g->npool += n;
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_special(char c)
{
    return strchr("[]{}+?|*()", c) != NULL && c != '\0';
}

static void skip_space(struct regen_parser *p)
{
    while (p->pos < p->len && is_space(p->s[p->pos]))
        p->pos++;
}

/* The current character (after whitespace), or -1 at the end. */
static int peek(struct regen_parser *p)
{
    skip_space(p);
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

/* A printable description of the character at pos, for messages. */
static const char *describe(struct regen_parser *p, char *buf, size_t n)
{
    if (p->pos >= p->len)
        snprintf(buf, n, "end of regex");
    else if ((unsigned char)p->s[p->pos] > 32 && (unsigned char)p->s[p->pos] < 127)
        snprintf(buf, n, "'%c'", p->s[p->pos]);
    else
        snprintf(buf, n, "byte \\x%02x", (unsigned char)p->s[p->pos]);
    return buf;
}

static uint32_t parse_alt(struct regen_parser *p, int depth);

/* [members]: ranges a-z and literal bytes; '-' first or last is literal; the union, sorted
 * and without duplicates, goes into one 256-byte pool slot. */
static uint32_t parse_class(struct regen_parser *p)
{
    size_t start = p->pos++; /* the '[' */
    bool in[256] = {false};
    bool any = false;

    for (;;) {
        if (p->pos >= p->len) {
            fail(p, -EINVAL, "unterminated character class at offset %zu, expecting ']'", start);
            return UINT32_MAX;
        }
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == ']')
            break;
        if (p->pos + 2 < p->len && p->s[p->pos + 1] == '-' && p->s[p->pos + 2] != ']') {
            unsigned char hi = (unsigned char)p->s[p->pos + 2];
            unsigned char lo = c;
            if (lo > hi) { /* z-a: the same set as a-z */
                lo = hi;
                hi = c;
            }
            for (unsigned v = lo; v <= hi; v++)
                in[v] = true;
            p->pos += 3;
        } else {
            in[c] = true;
            p->pos++;
        }
        any = true;
    }
    if (!any) {
        fail(p, -EINVAL, "empty character class at offset %zu", start);
        return UINT32_MAX;
    }
    p->pos++; /* the ']' */

    uint8_t members[256];
    size_t n = 0;
    for (unsigned v = 0; v < 256; v++)
        if (in[v])
            members[n++] = (uint8_t)v;
    uint32_t id = new_node(p, RN_CLASS);
    if (id == UINT32_MAX)
        return id;
    uint32_t off = (uint32_t)p->g->npool;
    if (!pool_append(p, members, n))
        return UINT32_MAX;
    struct regen_node *node = &p->g->nodes[id];
    node->off = off;
    node->n = (uint32_t)n;
    node->min_len = node->max_len = 1;
    return id;
}

/* A decimal repeat bound at pos (whitespace before it skipped). */
static bool parse_bound(struct regen_parser *p, uint32_t *v)
{
    char what[32];
    if (peek(p) < '0' || peek(p) > '9') {
        fail(p, -EINVAL, "unexpected %s at offset %zu, expecting a repeat count",
             describe(p, what, sizeof what), p->pos);
        return false;
    }
    size_t start = p->pos;
    uint64_t x = 0;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        x = x * 10 + (uint64_t)(p->s[p->pos] - '0');
        if (x > TK_REGEN_MAX_REPEAT) {
            fail(p, -EINVAL, "repeat count at offset %zu is above %d", start, TK_REGEN_MAX_REPEAT);
            return false;
        }
        p->pos++;
    }
    *v = (uint32_t)x;
    return true;
}

/* An optional quantifier after a piece: sets *min and *max, true if there was one. */
static bool parse_quantifier(struct regen_parser *p, uint32_t *min, uint32_t *max)
{
    char what[32];
    int c = peek(p);
    switch (c) {
    case '?':
        *min = 0, *max = 1;
        break;
    case '*':
        *min = 0, *max = REGEN_STAR_MAX;
        break;
    case '+':
        *min = 1, *max = REGEN_STAR_MAX;
        break;
    case '{': {
        p->pos++;
        if (!parse_bound(p, min))
            return false;
        *max = *min;
        if (peek(p) == ',') {
            p->pos++;
            if (!parse_bound(p, max))
                return false;
        }
        if (peek(p) != '}') {
            fail(p, -EINVAL, "unexpected %s at offset %zu, expecting ',' or '}'",
                 describe(p, what, sizeof what), p->pos);
            return false;
        }
        if (*min > *max) { /* {5,2} is {2,5}, as the original */
            uint32_t t = *min;
            *min = *max;
            *max = t;
        }
        break;
    }
    default:
        return false;
    }
    p->pos++;
    return true;
}

/* Wraps child in a repeat node. */
static uint32_t make_repeat(struct regen_parser *p, uint32_t child, uint32_t min, uint32_t max)
{
    uint32_t id = new_node(p, RN_REPEAT);
    if (id == UINT32_MAX)
        return id;
    struct regen_node *n = &p->g->nodes[id];
    const struct regen_node *c = &p->g->nodes[child];
    n->child = child;
    n->rmin = min;
    n->rmax = max;
    n->min_len = sat_mul(c->min_len, min);
    n->max_len = sat_mul(c->max_len, max);
    return id;
}

/* One piece: a literal byte, a class or a group. *lit is set for a literal byte. */
static uint32_t parse_atom(struct regen_parser *p, int depth, int *lit)
{
    char what[32];
    int c = peek(p);
    *lit = -1;
    if (c == '[')
        return parse_class(p);
    if (c == '(') {
        size_t open = p->pos++;
        if (depth >= REGEN_MAX_DEPTH) {
            fail(p, -EINVAL, "groups nested deeper than %d at offset %zu", REGEN_MAX_DEPTH, open);
            return UINT32_MAX;
        }
        uint32_t id = parse_alt(p, depth + 1);
        if (id == UINT32_MAX)
            return id;
        if (peek(p) != ')') {
            fail(p, -EINVAL, "unexpected %s at offset %zu, expecting ')' for the '(' at %zu",
                 describe(p, what, sizeof what), p->pos, open);
            return UINT32_MAX;
        }
        p->pos++;
        return id;
    }
    if (c < 0 || is_special((char)c)) {
        if (c == '?' || c == '*' || c == '+' || c == '{')
            fail(p, -EINVAL, "unexpected %s at offset %zu: nothing to repeat",
                 describe(p, what, sizeof what), p->pos);
        else
            fail(p, -EINVAL, "unexpected %s at offset %zu", describe(p, what, sizeof what), p->pos);
        return UINT32_MAX;
    }
    *lit = c;
    p->pos++;
    return 0; /* no node yet: the caller merges literal bytes */
}

/* Appends kid to the kids array; false on error. */
static bool push_kid(struct regen_parser *p, uint32_t **v, size_t *n, size_t *cap, uint32_t kid)
{
    if (!grow((void **)v, cap, *n + 1, sizeof **v)) {
        fail(p, -ENOMEM, "out of memory");
        return false;
    }
    (*v)[(*n)++] = kid;
    return true;
}

/* Makes a node listing kids (SEQ or ALT), copying them into the tree's kids array. */
static uint32_t make_list(struct regen_parser *p, enum regen_kind kind, const uint32_t *kids,
                          size_t n)
{
    struct tk_regen *g = p->g;
    if (g->nkids + n >= UINT32_MAX ||
        !grow((void **)&g->kids, &g->cap_kids, g->nkids + n, sizeof *g->kids)) {
        fail(p, -ENOMEM, "out of memory");
        return UINT32_MAX;
    }
    uint32_t id = new_node(p, kind);
    if (id == UINT32_MAX)
        return id;
    struct regen_node *node = &g->nodes[id];
    node->off = (uint32_t)g->nkids;
    node->n = (uint32_t)n;
    if (n) /* n == 0: an empty sequence, such as (a{0}) */
        memcpy(g->kids + g->nkids, kids, n * sizeof *kids);
    g->nkids += n;
    if (kind == RN_SEQ) {
        node->min_len = node->max_len = 0;
        for (size_t i = 0; i < n; i++) {
            node->min_len = sat_add(node->min_len, g->nodes[kids[i]].min_len);
            node->max_len = sat_add(node->max_len, g->nodes[kids[i]].max_len);
        }
    } else {
        node->min_len = SIZE_MAX;
        node->max_len = 0;
        for (size_t i = 0; i < n; i++) {
            const struct regen_node *k = &g->nodes[kids[i]];
            if (k->min_len < node->min_len)
                node->min_len = k->min_len;
            if (k->max_len > node->max_len)
                node->max_len = k->max_len;
        }
    }
    return id;
}

/* A sequence of pieces up to '|', ')' or the end. Consecutive literal bytes without a
 * quantifier share one literal node; a quantifier takes only the byte before it. */
static uint32_t parse_seq(struct regen_parser *p, int depth)
{
    uint32_t *items = NULL;
    size_t n = 0, cap = 0;
    uint32_t result = UINT32_MAX;
    uint32_t lit_node = UINT32_MAX; /* the literal node still open for more bytes */
    bool any = false;

    for (;;) {
        int c = peek(p);
        if (c < 0 || c == '|' || c == ')')
            break;
        int lit;
        any = true;
        uint32_t id = parse_atom(p, depth, &lit);
        if (id == UINT32_MAX)
            goto out;
        uint32_t min, max;
        bool quantified = parse_quantifier(p, &min, &max);
        if (p->rc)
            goto out;
        if (lit >= 0 && !quantified && lit_node != UINT32_MAX) {
            uint8_t b = (uint8_t)lit;
            if (!pool_append(p, &b, 1))
                goto out;
            p->g->nodes[lit_node].n++;
            p->g->nodes[lit_node].min_len++;
            p->g->nodes[lit_node].max_len++;
            continue;
        }
        if (lit >= 0) {
            id = new_node(p, RN_LIT);
            if (id == UINT32_MAX)
                goto out;
            uint8_t b = (uint8_t)lit;
            p->g->nodes[id].off = (uint32_t)p->g->npool;
            if (!pool_append(p, &b, 1))
                goto out;
            p->g->nodes[id].n = 1;
            p->g->nodes[id].min_len = p->g->nodes[id].max_len = 1;
        }
        lit_node = (lit >= 0 && !quantified) ? id : UINT32_MAX;
        if (quantified) {
            id = make_repeat(p, id, min, max);
            if (id == UINT32_MAX)
                goto out;
            char what[32];
            int q = peek(p);
            if (q == '?' || q == '*' || q == '+' || q == '{') {
                fail(p, -EINVAL, "unexpected %s at offset %zu: a piece takes one quantifier",
                     describe(p, what, sizeof what), p->pos);
                goto out;
            }
        }
        if (p->g->nodes[id].max_len == 0)
            continue; /* a{0}, (b{0})*: produces nothing, so it is left out */
        if (!push_kid(p, &items, &n, &cap, id))
            goto out;
    }
    if (!any) {
        fail(p, -EINVAL, "empty alternative at offset %zu", p->pos);
        goto out;
    }
    if (n == 1)
        result = items[0];
    else
        result = make_list(p, RN_SEQ, items, n);
out:
    free(items);
    return result;
}

/* Alternatives separated by '|'; none may be empty. */
static uint32_t parse_alt(struct regen_parser *p, int depth)
{
    uint32_t *alts = NULL;
    size_t n = 0, cap = 0;
    uint32_t result = UINT32_MAX;

    for (;;) {
        uint32_t id = parse_seq(p, depth);
        if (id == UINT32_MAX || !push_kid(p, &alts, &n, &cap, id))
            goto out;
        if (peek(p) != '|')
            break;
        p->pos++;
    }
    result = n == 1 ? alts[0] : make_list(p, RN_ALT, alts, n);
out:
    free(alts);
    return result;
}

int tk_regen_compile(const char *re, size_t len, struct tk_regen **out, char *err, size_t errlen)
{
    struct regen_parser p = {.s = re, .len = len, .err = err, .errlen = errlen};
    char what[32];

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    p.g = calloc(1, sizeof *p.g);
    if (!p.g) {
        fail(&p, -ENOMEM, "out of memory");
        return -ENOMEM;
    }
    if (peek(&p) < 0) {
        fail(&p, -EINVAL, "empty regular expression");
        goto bad;
    }
    uint32_t root = parse_alt(&p, 0);
    if (root == UINT32_MAX)
        goto bad;
    if (peek(&p) >= 0) { /* only ')' stops the top-level alternation early */
        fail(&p, -EINVAL, "unexpected %s at offset %zu", describe(&p, what, sizeof what), p.pos);
        goto bad;
    }
    p.g->root = root;
    if (p.g->nodes[root].max_len > TK_REGEN_MAX_LEN) {
        fail(&p, -EINVAL, "the longest string it can produce is above the limit of %u bytes",
             (unsigned)TK_REGEN_MAX_LEN);
        goto bad;
    }
    *out = p.g;
    return 0;
bad:
    tk_regen_free(p.g);
    return p.rc ? p.rc : -EINVAL;
}

void tk_regen_free(struct tk_regen *g)
{
    if (!g)
        return;
    free(g->nodes);
    free(g->kids);
    free(g->pool);
    free(g);
}

size_t tk_regen_min_len(const struct tk_regen *g)
{
    return g->nodes[g->root].min_len;
}

size_t tk_regen_max_len(const struct tk_regen *g)
{
    return g->nodes[g->root].max_len;
}

/* Uniform members of a class of n (1..256) for a repeat: four 16-bit draws from each 64-bit
 * random word (the multiply-shift method with rejection, Lemire 2019), so a long run costs a
 * quarter of the generator calls and no division. Unbiased: a 16-bit draw r maps to
 * (r * n) >> 16 and is rejected when its low half is below 65536 mod n. */
static size_t gen_class_run(const uint8_t *members, uint32_t n, uint64_t count, struct rng *rng,
                            uint8_t *out)
{
    const uint32_t reject_below = 65536u % n;
    uint64_t bits = 0;
    int left = 0;
    for (uint64_t i = 0; i < count;) {
        if (left == 0) {
            bits = rng_next(rng);
            left = 4;
        }
        uint32_t m = (uint32_t)(bits & 0xffff) * n;
        bits >>= 16;
        left--;
        if ((m & 0xffff) >= reject_below)
            out[i++] = members[m >> 16];
    }
    return count;
}

/* Generates node id at out; returns the length. Recursion depth follows the tree, which the
 * group nesting limit bounds. */
static size_t gen_node(const struct tk_regen *g, uint32_t id, struct rng *rng, uint8_t *out)
{
    const struct regen_node *n = &g->nodes[id];
    switch (n->kind) {
    case RN_LIT:
        memcpy(out, g->pool + n->off, n->n);
        return n->n;
    case RN_CLASS:
        out[0] = g->pool[n->off + rng_below(rng, n->n)];
        return 1;
    case RN_SEQ: {
        size_t len = 0;
        for (uint32_t i = 0; i < n->n; i++)
            len += gen_node(g, g->kids[n->off + i], rng, out + len);
        return len;
    }
    case RN_ALT:
        return gen_node(g, g->kids[n->off + rng_below(rng, n->n)], rng, out);
    case RN_REPEAT: {
        uint64_t count = n->rmin == n->rmax ? n->rmin : rng_range(rng, n->rmin, n->rmax);
        const struct regen_node *c = &g->nodes[n->child];
        if (c->kind == RN_CLASS) /* the hot case: [a-z]{64} */
            return gen_class_run(g->pool + c->off, c->n, count, rng, out);
        if (c->kind == RN_LIT && c->n == 1) {
            memset(out, g->pool[c->off], count);
            return count;
        }
        size_t len = 0;
        for (uint64_t i = 0; i < count; i++)
            len += gen_node(g, n->child, rng, out + len);
        return len;
    }
    }
    return 0;
}

size_t tk_regen_generate(const struct tk_regen *g, struct rng *rng, uint8_t *out)
{
    return gen_node(g, g->root, rng, out);
}
