#ifndef NETGRIND_CORE_JSON_H
#define NETGRIND_CORE_JSON_H

/* A streaming JSON writer onto a FILE: commas, nesting and string escaping are handled
 * here, so callers emit keys and values in order. Numbers are written with the C locale
 * whatever the process locale; a non-finite double is written as null, never NaN. Pretty
 * (two-space indent, "key": value) or compact (one line, no spaces: {"key":value}, for
 * --json-stream). Empty containers are written {} and [] in both modes.
 *
 * Misuse — a value without a key inside an object, a key outside an object or twice in a
 * row, an end that does not match its begin or has no begin, nesting deeper than
 * JSON_MAX_DEPTH, a second top-level value before json_finish — sets the sticky error flag;
 * from then on nothing more is written and json_finish returns -1.
 *
 * One writer may carry several documents in a row (a --json-stream): json_finish ends one
 * and the next value starts the next. Not thread-safe. */

#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
    FILE *out;
    bool pretty;
    int depth;
    bool first[JSON_MAX_DEPTH];     /* no member yet at this depth */
    bool in_object[JSON_MAX_DEPTH]; /* the container open at this depth is an object */
    bool after_key;
    bool root_done; /* a complete top-level value has been written */
    bool error;     /* nesting misuse or depth overflow: sticky, the output is then invalid */
};

void json_init(struct json *j, FILE *out, bool pretty);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* The key of the next member; must be inside an object. */
void json_key(struct json *j, const char *key);

void json_string(struct json *j, const char *s);
/* len bytes of s, escaped: '"', '\\' and control bytes as \" \\ \n \t \r \b \f or \u00XX;
 * each ill-formed UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated, stray byte)
 * becomes one U+FFFD. json_string(j, NULL) writes null. */
void json_string_n(struct json *j, const char *s, size_t len);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
/* Shortest round-trip form (json_format_double); null when not finite. */
void json_double(struct json *j, double v);
/* Fixed decimals ("%.*f"); null when not finite. */
void json_fixed(struct json *j, double v, int decimals);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* key + value in one call. */
void json_kv_string(struct json *j, const char *key, const char *v);
void json_kv_u64(struct json *j, const char *key, uint64_t v);
void json_kv_i64(struct json *j, const char *key, int64_t v);
void json_kv_double(struct json *j, const char *key, double v);
void json_kv_bool(struct json *j, const char *key, bool v);

/* Ends the document: a newline at depth 0, and a flush. Returns 0, or -1 if the writer
 * saw misuse (including a document left open), or the stream an error. The writer is then
 * ready for the next document of a stream; the error flag stays set. */
int json_finish(struct json *j);

/* Locale-independent number formatting, also for the text sinks. Each writes a
 * NUL-terminated string into buf (size >= JSON_NUM_BUF is always enough) and returns its
 * length, or -1 when v is not finite (buf then holds "null") or buf is too small. Any
 * thread. */
#define JSON_NUM_BUF 400
/* Shortest of "%.15g", "%.16g", "%.17g" that reads back as exactly v. */
int json_format_double(char *buf, size_t size, double v);
/* "%.*f" with decimals clamped to [0, 30], always with '.' as the decimal point. */
int json_format_fixed(char *buf, size_t size, double v, int decimals);

/* The process-wide "C" locale object these use (made on first call; (locale_t)0 only if
 * newlocale failed), for other modules that format numbers (report_printf). Any thread. */
locale_t json_c_locale(void);

#endif
