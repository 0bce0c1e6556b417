#include "core/json.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- locale-independent numbers ------------------------------------------------------ */

/* One "C" locale object for the whole process, made on first use. printf and strtod obey
 * LC_NUMERIC, so a tool run under a decimal-comma locale would otherwise write 1,5. */
static locale_t c_locale = (locale_t)0;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_make(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t json_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_make);
    return c_locale;
}

/* If no C locale object could be made (out of memory), the number was formatted under the
 * process locale: put '.' where the locale's decimal point is. */
static void fix_decimal_point(char *buf)
{
    const char *dp = localeconv()->decimal_point;
    size_t dlen = dp ? strlen(dp) : 0;
    if (dlen == 0 || (dlen == 1 && dp[0] == '.'))
        return;
    char *at = strstr(buf, dp);
    if (!at)
        return;
    *at = '.';
    memmove(at + 1, at + dlen, strlen(at + dlen) + 1);
}

static int write_null(char *buf, size_t size)
{
    if (size >= 5)
        memcpy(buf, "null", 5);
    else if (size > 0)
        buf[0] = '\0';
    return -1;
}

int json_format_double(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        return write_null(buf, size);
    locale_t c = json_c_locale();
    if (!c) {
        int n = snprintf(buf, size, "%.17g", v);
        if (n < 0 || (size_t)n >= size)
            return -1;
        fix_decimal_point(buf);
        return (int)strlen(buf);
    }
    locale_t old = uselocale(c);
    int n = -1;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, v);
        if (n < 0 || (size_t)n >= size) {
            n = -1;
            break;
        }
        if (prec == 17 || strtod_l(buf, NULL, c) == v)
            break;
    }
    uselocale(old);
    return n;
}

int json_format_fixed(char *buf, size_t size, double v, int decimals)
{
    if (!isfinite(v))
        return write_null(buf, size);
    if (decimals < 0)
        decimals = 0;
    if (decimals > 30)
        decimals = 30;
    locale_t c = json_c_locale();
    locale_t old = c ? uselocale(c) : (locale_t)0;
    int n = snprintf(buf, size, "%.*f", decimals, v);
    if (c)
        uselocale(old);
    if (n < 0 || (size_t)n >= size)
        return -1;
    if (!c) {
        fix_decimal_point(buf);
        n = (int)strlen(buf);
    }
    return n;
}

/* ---- structure ----------------------------------------------------------------------- */

void json_init(struct json *j, FILE *out, bool pretty)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->pretty = pretty;
}

static void newline_indent(struct json *j, int depth)
{
    if (!j->pretty)
        return;
    fputc('\n', j->out);
    for (int i = 0; i < depth; i++)
        fputs("  ", j->out);
}

/* Everything that must come before a value: checks that a value may go here, and writes
 * the comma and indentation of an array element. Returns false (and sets the error) on
 * misuse; nothing may then be written. */
static bool before_value(struct json *j)
{
    if (j->error)
        return false;
    if (j->depth == 0) {
        if (j->root_done || j->after_key) {
            j->error = true;
            return false;
        }
        return true;
    }
    int d = j->depth - 1;
    if (j->in_object[d]) {
        if (!j->after_key) {
            j->error = true;
            return false;
        }
        j->after_key = false;
        return true;
    }
    if (!j->first[d])
        fputc(',', j->out);
    j->first[d] = false;
    newline_indent(j, j->depth);
    return true;
}

/* After a complete value: at the top level the document's root is written. */
static void after_value(struct json *j)
{
    if (j->depth == 0)
        j->root_done = true;
}

static void container_begin(struct json *j, bool object)
{
    if (!before_value(j))
        return;
    if (j->depth >= JSON_MAX_DEPTH) {
        j->error = true;
        return;
    }
    fputc(object ? '{' : '[', j->out);
    j->first[j->depth] = true;
    j->in_object[j->depth] = object;
    j->depth++;
}

static void container_end(struct json *j, bool object)
{
    if (j->error)
        return;
    if (j->depth == 0 || j->in_object[j->depth - 1] != object || j->after_key) {
        j->error = true;
        return;
    }
    j->depth--;
    if (!j->first[j->depth])
        newline_indent(j, j->depth);
    fputc(object ? '}' : ']', j->out);
    after_value(j);
}

void json_object_begin(struct json *j)
{
    container_begin(j, true);
}
void json_object_end(struct json *j)
{
    container_end(j, true);
}
void json_array_begin(struct json *j)
{
    container_begin(j, false);
}
void json_array_end(struct json *j)
{
    container_end(j, false);
}

/* ---- strings ------------------------------------------------------------------------- */

static void put_escaped_byte(FILE *out, unsigned char c)
{
    switch (c) {
    case '"':
        fputs("\\\"", out);
        return;
    case '\\':
        fputs("\\\\", out);
        return;
    case '\b':
        fputs("\\b", out);
        return;
    case '\f':
        fputs("\\f", out);
        return;
    case '\n':
        fputs("\\n", out);
        return;
    case '\r':
        fputs("\\r", out);
        return;
    case '\t':
        fputs("\\t", out);
        return;
    default:
        if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

/* The length of the well-formed UTF-8 sequence at s (1..4), or, when it is ill-formed,
 * minus the length of its maximal ill-formed subpart (Unicode's "maximal subpart" rule, so
 * that one U+FFFD replaces each broken sequence and the next valid character survives).
 * s[0] >= 0x80. Overlong forms, surrogates and values above U+10FFFF are ill-formed. */
static int utf8_sequence(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    int need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else
        return -1; /* continuation byte, C0, C1 or F5..FF */
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= len)
            return -i;
        unsigned char b = s[i];
        bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok)
            return -i;
    }
    return need;
}

static void put_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            put_escaped_byte(out, p[i]);
            i++;
            continue;
        }
        int n = utf8_sequence(p + i, len - i);
        if (n > 0) {
            fwrite(p + i, 1, (size_t)n, out);
            i += (size_t)n;
        } else {
            fputs("\xEF\xBF\xBD", out); /* U+FFFD REPLACEMENT CHARACTER */
            i += (size_t)-n;
        }
    }
    fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
    if (j->error)
        return;
    if (j->depth == 0 || !j->in_object[j->depth - 1] || j->after_key || !key) {
        j->error = true;
        return;
    }
    int d = j->depth - 1;
    if (!j->first[d])
        fputc(',', j->out);
    j->first[d] = false;
    newline_indent(j, j->depth);
    put_string(j->out, key, strlen(key));
    fputs(j->pretty ? ": " : ":", j->out);
    j->after_key = true;
}

void json_string_n(struct json *j, const char *s, size_t len)
{
    if (!s && len == 0) {
        json_null(j);
        return;
    }
    if (!s) {
        j->error = true;
        return;
    }
    if (!before_value(j))
        return;
    put_string(j->out, s, len);
    after_value(j);
}

void json_string(struct json *j, const char *s)
{
    if (!s)
        json_null(j);
    else
        json_string_n(j, s, strlen(s));
}

/* ---- scalars ------------------------------------------------------------------------- */

static void put_raw(struct json *j, const char *text)
{
    if (!before_value(j))
        return;
    fputs(text, j->out);
    after_value(j);
}

void json_u64(struct json *j, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    put_raw(j, buf);
}

void json_i64(struct json *j, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    put_raw(j, buf);
}

void json_double(struct json *j, double v)
{
    char buf[JSON_NUM_BUF];
    if (json_format_double(buf, sizeof(buf), v) < 0)
        put_raw(j, "null");
    else
        put_raw(j, buf);
}

void json_fixed(struct json *j, double v, int decimals)
{
    char buf[JSON_NUM_BUF];
    if (json_format_fixed(buf, sizeof(buf), v, decimals) < 0)
        put_raw(j, "null");
    else
        put_raw(j, buf);
}

void json_bool(struct json *j, bool v)
{
    put_raw(j, v ? "true" : "false");
}
void json_null(struct json *j)
{
    put_raw(j, "null");
}

void json_kv_string(struct json *j, const char *key, const char *v)
{
    json_key(j, key);
    json_string(j, v);
}

void json_kv_u64(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_u64(j, v);
}

void json_kv_i64(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_i64(j, v);
}

void json_kv_double(struct json *j, const char *key, double v)
{
    json_key(j, key);
    json_double(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
    json_key(j, key);
    json_bool(j, v);
}

int json_finish(struct json *j)
{
    if (j->depth != 0 || j->after_key)
        j->error = true;
    if (!j->error && j->root_done)
        fputc('\n', j->out);
    /* Ready for the next document of a stream. */
    j->depth = 0;
    j->after_key = false;
    j->root_done = false;
    bool failed = fflush(j->out) != 0 || ferror(j->out);
    return j->error || failed ? -1 : 0;
}
