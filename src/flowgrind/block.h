#ifndef NETGRIND_FLOWGRIND_BLOCK_H
#define NETGRIND_FLOWGRIND_BLOCK_H

/* flowgrind's test-data blocks (spec §5.1). The data connection carries back-to-back blocks,
 * each starting with a 40-byte header whose byte order is mixed, as flowgrind 0.8.2 on amd64
 * writes it:
 *
 *   off size field         encoding
 *     0   4  this_size     int32, network byte order: the whole block, header included
 *     4   4  request_size  int32, network byte order: response size wanted from the peer;
 *                          0 = none, FG_BLOCK_RESPONSE (-1) = this block is a response
 *     8  16  data          struct timespec (CLOCK_REALTIME send stamp): tv_sec int64 then
 *                          tv_nsec int64, little-endian (the original's raw host order)
 *    24  16  data2         raw bytes, echoed in responses
 *
 * The original logs a this_size outside [40, maximum_block_size] and keeps the previous size,
 * so the stream desynchronises silently (its bug 45). Here decoding such a header fails with
 * a message naming the value and the bounds, and the caller ends the flow. Pure. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define FG_BLOCK_HDR_LEN 40
#define FG_BLOCK_MIN_SIZE FG_BLOCK_HDR_LEN /* MIN_BLOCK_SIZE of a 64-bit build */
#define FG_BLOCK_RESPONSE (-1)             /* request_size of a response block */

struct fg_block_hdr {
    int32_t this_size;
    int32_t request_size;
    struct timespec data;
    uint8_t data2[16];
};

/* Serialises h into out[0..39] with each field's wire byte order. Writes exactly 40 bytes. */
void fg_block_encode(const struct fg_block_hdr *h, uint8_t *out);

/* Reads and validates the header in in[0..len). max_block_size is the receiver's
 * maximum_block_size (>= 40). Accepts this_size in [40, max_block_size] and request_size
 * -1, 0 or in [40, max_block_size]. Returns 0 and fills h; otherwise h is unspecified, err
 * (may be NULL when errlen is 0) gets one line naming the field, value and accepted range,
 * and the return is -EAGAIN (len < 40: read more), -EINVAL (max_block_size < 40) or
 * -EPROTO (a size out of range: the stream cannot be framed any further). Any thread. */
int fg_block_decode(const uint8_t *in, size_t len, int32_t max_block_size, struct fg_block_hdr *h,
                    char *err, size_t errlen);

/* True if h is a response block. */
static inline int fg_block_is_response(const struct fg_block_hdr *h)
{
    return h->request_size == FG_BLOCK_RESPONSE;
}

/* The header of the response to request req, size bytes long (>= 40): request_size -1, data
 * and data2 echoed from the request (spec §5.2). */
void fg_block_response_hdr(const struct fg_block_hdr *req, int32_t size, struct fg_block_hdr *resp);

#endif
