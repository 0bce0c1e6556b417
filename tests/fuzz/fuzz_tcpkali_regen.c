/* libFuzzer target: tcpkali's `re` generator on untrusted regexes.
 *
 * Input layout: byte 0 = rng seed, the rest is the regex. Compiling must succeed or fail
 * cleanly with a message; a compiled regex generates a few strings, each of a length within
 * [min_len, max_len] and never writing past max_len bytes (the buffer is exactly that big,
 * so AddressSanitizer catches an overrun). Regexes that can produce more than 64 KiB are
 * only compiled, to keep each run fast. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rng.h"
#include "tcpkali/regen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct tk_regen *g = NULL;
    char err[256];
    int rc = tk_regen_compile((const char *)data + 1, size - 1, &g, err, sizeof err);
    if (rc != 0) {
        if (g || err[0] == '\0')
            abort();
        return 0;
    }
    size_t min = tk_regen_min_len(g), max = tk_regen_max_len(g);
    if (min > max || max > TK_REGEN_MAX_LEN)
        abort();
    if (max <= 65536) {
        uint8_t *out = malloc(max ? max : 1);
        struct rng rng;
        rng_seed(&rng, data[0]);
        for (int i = 0; out && i < 4; i++) {
            size_t n = tk_regen_generate(g, &rng, out);
            if (n < min || n > max)
                abort();
        }
        free(out);
    }
    tk_regen_free(g);
    return 0;
}
