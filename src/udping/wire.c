/* The UDPing generation-1 datagram codec (see wire.h for the layout). Every field is
 * written and read byte by byte in little-endian order at its fixed offset, so the result
 * does not depend on the host's struct layout or byte order. */
#include "udping/wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum {
    OFF_VERSION = 0,
    OFF_CLIENT_START = 8,
    OFF_GUID = 16,
    OFF_SEQ = 40,
    OFF_SENT_SEC = 48,
    OFF_SENT_NSEC = 56,
    OFF_SIZE = 64,
};

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void udping_hdr_encode(const struct udping_hdr *h, uint8_t out[UDPING_HDR_LEN])
{
    memset(out, 0, UDPING_HDR_LEN);
    out[OFF_VERSION] = h->proto_version;
    put_le(out + OFF_CLIENT_START, (uint64_t)h->client_start, 8);
    /* guid[20] stays 0: the original's char[21] carries its NUL on the wire. */
    size_t glen = strnlen(h->guid, UDPING_GUID_LEN);
    memcpy(out + OFF_GUID, h->guid, glen);
    put_le(out + OFF_SEQ, h->seq, 4);
    put_le(out + OFF_SENT_SEC, (uint64_t)h->sent_sec, 8);
    put_le(out + OFF_SENT_NSEC, (uint64_t)h->sent_nsec, 8);
    put_le(out + OFF_SIZE, h->size, 4);
}

static bool is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool guid_ok(const uint8_t *g)
{
    for (unsigned i = 0; i < UDPING_GUID_LEN; i++)
        if (!is_hex(g[i]))
            return false;
    return g[UDPING_GUID_LEN] == 0;
}

/* Fills the fields that lie within the first len bytes; the rest stay zero. */
static void decode_fields(const uint8_t *buf, size_t len, struct udping_hdr *h)
{
    memset(h, 0, sizeof *h);
    if (len > OFF_VERSION)
        h->proto_version = buf[OFF_VERSION];
    if (len >= OFF_CLIENT_START + 8)
        h->client_start = (int64_t)get_le(buf + OFF_CLIENT_START, 8);
    if (len >= OFF_GUID + UDPING_GUID_LEN) {
        /* Copy the 20 characters as they are; the caller checks them before any use. */
        memcpy(h->guid, buf + OFF_GUID, UDPING_GUID_LEN);
        h->guid[UDPING_GUID_LEN] = 0;
    }
    if (len >= OFF_SEQ + 4)
        h->seq = (uint32_t)get_le(buf + OFF_SEQ, 4);
    if (len >= OFF_SENT_SEC + 8)
        h->sent_sec = (int64_t)get_le(buf + OFF_SENT_SEC, 8);
    if (len >= OFF_SENT_NSEC + 8)
        h->sent_nsec = (int64_t)get_le(buf + OFF_SENT_NSEC, 8);
    if (len >= OFF_SIZE + 4)
        h->size = (uint32_t)get_le(buf + OFF_SIZE, 4);
}

enum udping_verdict udping_hdr_decode(const uint8_t *buf, size_t len, struct udping_hdr *h)
{
    decode_fields(buf, len, h);
    /* The original's checks, in its order: length, size field, version. */
    if (len < UDPING_HDR_LEN)
        return UDPING_BAD_SHORT;
    if ((uint64_t)h->size != (uint64_t)len)
        return UDPING_BAD_SIZE;
    if (h->proto_version != UDPING_PROTO_DATA && h->proto_version != UDPING_PROTO_CONTROL)
        return UDPING_BAD_VERSION;
    /* netgrind's own: the GUID becomes a JSON value and a session key, so it must be
     * exactly what a client writes; a control packet is header-only; a time is a time. */
    if (!guid_ok(buf + OFF_GUID))
        return UDPING_BAD_GUID;
    if (h->proto_version == UDPING_PROTO_CONTROL)
        return h->size == UDPING_HDR_LEN ? UDPING_OK_CONTROL : UDPING_BAD_CONTROL;
    if (h->sent_nsec < 0 || h->sent_nsec >= 1000000000)
        return UDPING_BAD_TIME;
    return UDPING_OK_DATA;
}

const char *udping_verdict_text(enum udping_verdict v, const struct udping_hdr *h, size_t len,
                                char *buf, size_t buflen)
{
    if (buflen == 0)
        return buf;
    switch (v) {
    case UDPING_OK_DATA:
        snprintf(buf, buflen, "Data packet");
        break;
    case UDPING_OK_CONTROL:
        snprintf(buf, buflen, "Control packet");
        break;
    case UDPING_BAD_SHORT:
        snprintf(buf, buflen, "Malformed packet - size %zu is less than header size %d", len,
                 UDPING_HDR_LEN);
        break;
    case UDPING_BAD_SIZE:
        snprintf(buf, buflen, "Malformed packet - expected %" PRIu32 ", got %zu", h->size, len);
        break;
    case UDPING_BAD_VERSION:
        snprintf(buf, buflen, "Incorrect protocol version.  Expected 1, got %u",
                 (unsigned)h->proto_version);
        break;
    case UDPING_BAD_GUID:
        snprintf(buf, buflen, "Malformed packet - GUID is not 20 hex digits");
        break;
    case UDPING_BAD_CONTROL:
        snprintf(buf, buflen, "Malformed control packet - size %" PRIu32 ", expected %d",
                 h->size, UDPING_HDR_LEN);
        break;
    case UDPING_BAD_TIME:
        snprintf(buf, buflen, "Malformed packet - sent nanoseconds %" PRId64 " out of range",
                 h->sent_nsec);
        break;
    default:
        snprintf(buf, buflen, "Unknown verdict %d", (int)v);
        break;
    }
    return buf;
}
