/* The screen every XML-RPC body passes before xmlrpc-c 1.33 parses it (rpc.h), on both sides:
 * the daemon screens calls, the controller and flowgrind-stop screen responses. It refuses
 * what that library mishandles:
 *  - nesting deeper than FG_RPC_MAX_XML_DEPTH: the parser frees its element tree
 *    recursively, so deep nesting overflows a thread's stack;
 *  - a document type declaration: the parser expands internal entities;
 *  - an <i8> (or <ex:i8>) whose text is not a plain in-range 64-bit integer: its error path
 *    formats a null string and the process dies (found by fuzz_fg_rpc: "<i8>1,384</i8>").
 * One pass over the bytes; tags, quoted attribute values, comments and CDATA sections are
 * followed exactly enough that nothing can hide an opening tag or fake a closing one;
 * anything unusual only over-counts or refuses. */
#include "flowgrind/rpc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *skip_past(const char *p, const char *end, const char *token)
{
    size_t n = strlen(token);
    const char *hit = memmem(p, (size_t)(end - p), token, n);
    return hit ? hit + n : NULL;
}

/* Whether the tag whose name starts at name is exactly want (the name ends at white space,
 * '>' or '/'). */
static bool tag_named(const char *name, const char *end, const char *want)
{
    size_t n = strlen(want);
    if ((size_t)(end - name) <= n || memcmp(name, want, n) != 0)
        return false;
    char c = name[n];
    return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether text (up to end) starts with [+-]?[0-9]+ in the int64 range followed by "</": the
 * only <i8> content passed on. Anything else (entities, CDATA, comments, white space) is
 * refused, though xmlrpc-c would fault on some of it by itself: a fault either way. */
static bool plain_int64(const char *text, const char *end)
{
    const char *p = text;
    bool negative = p < end && *p == '-';
    if (p < end && (*p == '+' || *p == '-'))
        p++;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    const char *digits = p;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    return p > digits && end - p >= 2 && p[0] == '<' && p[1] == '/';
}

/* Skips a comment or CDATA section after "<!": the position after it, or NULL when it is
 * unterminated (the parser reports that). Sets *dtd for anything else after "<!". */
static const char *skip_markup(const char *p, const char *end, bool *dtd)
{
    *dtd = false;
    if ((size_t)(end - p) >= 3 && memcmp(p, "!--", 3) == 0)
        return skip_past(p + 3, end, "-->");
    if ((size_t)(end - p) >= 8 && memcmp(p, "![CDATA[", 8) == 0)
        return skip_past(p + 8, end, "]]>");
    *dtd = true;
    return NULL;
}

/* The position after the '>' closing the tag that starts at p (after '<'), or NULL; *slash
 * tells whether the character before that '>' was '/' (an empty element). */
static const char *tag_end(const char *p, const char *end, bool *slash)
{
    char quote = 0, prev = 0;
    for (; p < end; prev = *p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '>') {
            *slash = prev == '/';
            return p + 1;
        }
    }
    return NULL;
}

bool fg_rpc_xml_acceptable(const char *xml, size_t len, char *reason, size_t reasonlen)
{
    const char *p = xml, *end = xml + len;
    unsigned depth = 0;
    char dummy[1];
    if (!reason) {
        reason = dummy;
        reasonlen = sizeof dummy;
    }
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt)
            break;
        const char *name = lt + 1;
        if (name < end && *name == '!') {
            bool dtd;
            p = skip_markup(name, end, &dtd);
            if (dtd) {
                snprintf(reason, reasonlen, "XML document type declarations are not accepted");
                return false;
            }
            if (!p)
                break;
            continue;
        }
        bool slash = false;
        p = tag_end(name, end, &slash);
        if (!p)
            break; /* unterminated: the parser reports it */
        bool closing = name < end && *name == '/', special = name < end && *name == '?';
        if (special || (slash && !closing))
            continue; /* <?xml ...?> or an empty element <x/> */
        if (closing) {
            if (depth)
                depth--;
            continue;
        }
        if (++depth > FG_RPC_MAX_XML_DEPTH) {
            snprintf(reason, reasonlen, "XML nested deeper than %d elements", FG_RPC_MAX_XML_DEPTH);
            return false;
        }
        if ((tag_named(name, end, "i8") || tag_named(name, end, "ex:i8")) && !plain_int64(p, end)) {
            snprintf(reason, reasonlen, "<i8> value is not a plain 64-bit integer");
            return false;
        }
    }
    return true;
}
