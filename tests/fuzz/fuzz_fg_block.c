/* libFuzzer harness for flowgrind's block header decoder. The first two input bytes pick
 * the receiver's maximum block size (0..65535, so the "below 40" error is reached too); the
 * rest is decoded as a header. Invariants: the result is 0, -EAGAIN, -EINVAL or -EPROTO; the
 * error text is a terminated string; an accepted header has sizes in the accepted ranges and
 * re-encodes to exactly the bytes it came from. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowgrind/block.h"

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int32_t max = (int32_t)(data[0] << 8 | data[1]);
    data += 2;
    size -= 2;

    struct fg_block_hdr h;
    char err[96];
    memset(err, 'x', sizeof err);
    int rc = fg_block_decode(data, size, max, &h, err, sizeof err);
    CHECK(rc == 0 || rc == -EAGAIN || rc == -EINVAL || rc == -EPROTO);
    if (rc != 0) {
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        return 0;
    }
    CHECK(size >= FG_BLOCK_HDR_LEN);
    CHECK(h.this_size >= FG_BLOCK_MIN_SIZE && h.this_size <= max);
    CHECK(h.request_size == FG_BLOCK_RESPONSE || h.request_size == 0 ||
          (h.request_size >= FG_BLOCK_MIN_SIZE && h.request_size <= max));
    uint8_t out[FG_BLOCK_HDR_LEN];
    fg_block_encode(&h, out);
    CHECK(memcmp(out, data, FG_BLOCK_HDR_LEN) == 0);
    return 0;
}
