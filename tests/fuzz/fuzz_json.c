/* libFuzzer target for core/json: strings from untrusted bytes (packet fields, names) and
 * arbitrary call sequences.
 *
 * Checks: an escaped string is valid UTF-8, holds no raw control byte and no unescaped '"',
 * and equals its input when the input needed no change; a random sequence of writer calls
 * never crashes, and when json_finish accepts it the brackets balance. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

/* An independent UTF-8 check (RFC 3629): no overlongs, surrogates or values > U+10FFFF. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        unsigned need, min;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + need >= n)
            return false;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

static bool needs_no_change(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (data[i] < 0x20 || data[i] == '"' || data[i] == '\\')
            return false;
    return valid_utf8(data, size);
}

static void check_string(const uint8_t *data, size_t size)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    struct json j;
    json_init(&j, f, false);
    json_string_n(&j, (const char *)data, size);
    if (json_finish(&j) != 0)
        abort();
    fclose(f);
    /* "...."\n */
    if (len < 3 || buf[0] != '"' || buf[len - 2] != '"' || buf[len - 1] != '\n')
        abort();
    const unsigned char *body = (const unsigned char *)buf + 1;
    size_t blen = len - 3;
    if (!valid_utf8(body, blen))
        abort();
    for (size_t i = 0; i < blen; i++) {
        if (body[i] < 0x20)
            abort();
        if (body[i] == '\\') {
            i++; /* the escaped character */
            continue;
        }
        if (body[i] == '"')
            abort();
    }
    if (needs_no_change(data, size) && (blen != size || memcmp(body, data, size) != 0))
        abort();
    free(buf);
}

/* Each byte is one call; the low bits pick it. */
static void check_calls(const uint8_t *data, size_t size)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    struct json j;
    json_init(&j, f, size > 0 && (data[0] & 0x80));
    for (size_t i = 0; i < size; i++) {
        switch (data[i] % 12) {
        case 0:
            json_object_begin(&j);
            break;
        case 1:
            json_object_end(&j);
            break;
        case 2:
            json_array_begin(&j);
            break;
        case 3:
            json_array_end(&j);
            break;
        case 4:
            json_key(&j, "k");
            break;
        case 5:
            json_u64(&j, data[i]);
            break;
        case 6:
            json_i64(&j, -(int64_t)data[i]);
            break;
        case 7:
            json_double(&j, data[i] / 7.0);
            break;
        case 8:
            json_fixed(&j, data[i] / 3.0, data[i] % 5);
            break;
        case 9:
            json_bool(&j, data[i] & 1);
            break;
        case 10:
            json_string(&j, "s\"\n");
            break;
        case 11:
            json_null(&j);
            break;
        }
    }
    int rc = json_finish(&j);
    fclose(f);
    if (rc == 0) {
        /* Accepted: outside strings, brackets balance and never go negative. */
        int depth = 0;
        bool in_str = false;
        for (size_t i = 0; i < len; i++) {
            char c = buf[i];
            if (in_str) {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    in_str = false;
            } else if (c == '"') {
                in_str = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth < 0)
                    abort();
            }
        }
        if (depth != 0 || in_str)
            abort();
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_string(data, size);
    check_calls(data, size);
    return 0;
}
