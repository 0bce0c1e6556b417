/* flowgrind block header codec; see block.h for the layout. Every field is serialised
 * explicitly, never by casting the struct onto the buffer. */

#include "flowgrind/block.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void put_be32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
}

static int32_t get_be32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (int32_t)u;
}

static void put_le64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}

static int64_t get_le64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    return (int64_t)u;
}

void fg_block_encode(const struct fg_block_hdr *h, uint8_t *out)
{
    put_be32(out, h->this_size);
    put_be32(out + 4, h->request_size);
    put_le64(out + 8, (int64_t)h->data.tv_sec);
    put_le64(out + 16, (int64_t)h->data.tv_nsec);
    memcpy(out + 24, h->data2, sizeof(h->data2));
}

static int fail(char *err, size_t errlen, int code, const char *fmt, int32_t v, int32_t max)
{
    if (err && errlen > 0)
        snprintf(err, errlen, fmt, v, max);
    return code;
}

int fg_block_decode(const uint8_t *in, size_t len, int32_t max_block_size, struct fg_block_hdr *h,
                    char *err, size_t errlen)
{
    if (max_block_size < FG_BLOCK_MIN_SIZE)
        return fail(err, errlen, -EINVAL,
                    "maximum block size %" PRId32 " is below the header size %" PRId32,
                    max_block_size, FG_BLOCK_MIN_SIZE);
    if (len < FG_BLOCK_HDR_LEN)
        return fail(err, errlen, -EAGAIN,
                    "block header incomplete: %" PRId32 " of %" PRId32 " bytes", (int32_t)len,
                    FG_BLOCK_HDR_LEN);
    int32_t size = get_be32(in);
    int32_t req = get_be32(in + 4);
    if (size < FG_BLOCK_MIN_SIZE || size > max_block_size)
        return fail(err, errlen, -EPROTO,
                    "illegal block size %" PRId32 " (accepted: 40 to %" PRId32 ")", size,
                    max_block_size);
    if (req != FG_BLOCK_RESPONSE && req != 0 && (req < FG_BLOCK_MIN_SIZE || req > max_block_size))
        return fail(err, errlen, -EPROTO,
                    "illegal requested response size %" PRId32
                    " (accepted: -1, 0, or 40 to %" PRId32 ")",
                    req, max_block_size);
    h->this_size = size;
    h->request_size = req;
    h->data.tv_sec = (time_t)get_le64(in + 8);
    h->data.tv_nsec = (long)get_le64(in + 16);
    memcpy(h->data2, in + 24, sizeof(h->data2));
    return 0;
}

void fg_block_response_hdr(const struct fg_block_hdr *req, int32_t size, struct fg_block_hdr *resp)
{
    resp->this_size = size;
    resp->request_size = FG_BLOCK_RESPONSE;
    resp->data = req->data;
    memcpy(resp->data2, req->data2, sizeof(resp->data2));
}
