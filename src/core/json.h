#ifndef NETGRIND_CORE_JSON_H
#define NETGRIND_CORE_JSON_H

/* A streaming JSON writer onto a FILE: commas, nesting and string escaping are handled
 * here, so callers emit keys and values in order. Numbers are written with the C locale
 * whatever the process locale; a non-finite double is written as null, never NaN. Pretty
 * (two-space indent) or compact (one line, for --json-stream). Not thread-safe. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
    FILE *out;
    bool pretty;
    int depth;
    bool first[JSON_MAX_DEPTH]; /* no member yet at this depth */
    bool after_key;
    bool error; /* nesting misuse or depth overflow: sticky, the output is then invalid */
};

void json_init(struct json *j, FILE *out, bool pretty);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* The key of the next member; must be inside an object. */
void json_key(struct json *j, const char *key);

void json_string(struct json *j, const char *s);
/* len bytes of s, escaped; invalid UTF-8 bytes become U+FFFD. */
void json_string_n(struct json *j, const char *s, size_t len);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
/* Shortest round-trip form ("%.17g" trimmed); null when not finite. */
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
 * saw misuse or the stream an error. */
int json_finish(struct json *j);

#endif
