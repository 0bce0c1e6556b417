#ifndef NETGRIND_TCPKALI_REGEN_H
#define NETGRIND_TCPKALI_REGEN_H

/* The `re` generator (spec tcpkali.md §4.2): random strings matching a small regular
 * expression subset, for \{re R}, \{connection.re R} and \{global.re R}.
 *
 * Grammar, as the original: literal characters are anything but [ ] { } + ? | * ( ) and
 * whitespace ('.' is a literal dot, "\d" is backslash and d, no anchors, no escapes);
 * whitespace between tokens is ignored; classes [a-z0-9_] with ranges and literals (a
 * leading or trailing '-' is literal, '^' is literal, duplicates removed); quantifiers
 * ? (0..1), * (0..16), + (1..16), {n}, {n,m} (bounds swapped when reversed), applying to
 * the last single character of a literal run, a class or a group; groups ( ... ) with
 * alternation |; an empty alternative is an error.
 * Beyond the original's asserts (bug 38): any number of alternatives and pieces, and a full
 * 256-member class, work. Repeat bounds above TK_REGEN_MAX_REPEAT are an error.
 *
 * Generation: a uniform choice of alternative, a uniform class member, a repeat count
 * uniform in [min, max], from the caller's rng (so a seeded rng gives a fixed sequence). */

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

#define TK_REGEN_MAX_REPEAT 65535
#define TK_REGEN_MAX_LEN (16u << 20) /* a longer possible output is an error at compile */

struct tk_regen;

/* Compiles re[0, len) (any bytes). 0 and *out, or -EINVAL with a one-line message in err
 * naming what was wrong and its byte offset in re, e.g. "empty alternative at offset 4",
 * "unexpected ')' at offset 1", "unterminated character class at offset 0, expecting ']'",
 * or -ENOMEM. Also errors: an empty regex, an empty class `[]` (a class cannot contain ']'),
 * two quantifiers on one piece (`a**`), groups nested deeper than 64. A reversed class range
 * `z-a` is the range a-z. A piece that can only be empty (`a{0}`) is dropped. */
int tk_regen_compile(const char *re, size_t len, struct tk_regen **out, char *err,
                     size_t errlen);
void tk_regen_free(struct tk_regen *g);

/* The shortest and longest strings it can produce. */
size_t tk_regen_min_len(const struct tk_regen *g);
size_t tk_regen_max_len(const struct tk_regen *g);

/* Writes one random string into out (room for tk_regen_max_len bytes); returns its length.
 * Not thread-safe on one rng; g itself is read-only here and may be shared by threads. */
size_t tk_regen_generate(const struct tk_regen *g, struct rng *rng, uint8_t *out);

#endif
