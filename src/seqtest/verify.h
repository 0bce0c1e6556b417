#ifndef NETGRIND_SEQTEST_VERIFY_H
#define NETGRIND_SEQTEST_VERIFY_H

/* seqtest's integrity checks (-o verify): payload patterns and the request header's check
 * value. Both ends compute the same bytes from what the header carries, so nothing but the
 * original 40-byte header travels and the original wire stays intact when verify is off.
 *
 * A request with verify carries in ts2 (0 in the original's requests, never read by any
 * replier) the tag VERIFY_TAG in the upper 32 bits and the sender's connection index in the
 * lower 32, and in ts3 (also 0 and unread) a 64-bit check value over all the other fields.
 *
 * Payload byte k (k >= 40) of a message is byte (k mod 8) of mix64(key + (k / 8) * C), where
 * key = verify_key(connection, direction, seqno, ts1). Any byte can be computed without the
 * bytes before it, so a receiver checks each slice of the stream as it arrives. mix64 is
 * the splitmix64 finaliser (Steele, Lea and Flood); this is a corruption detector, not a
 * cryptographic MAC. Pure and thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seqtest/wire.h"

#define VERIFY_TAG 0x4E475631u /* "NGV1" */

enum verify_dir {
    VERIFY_REQUEST = 0,
    VERIFY_REPLY = 1,
};

/* The splitmix64 output function: a bijective 64-bit mixer. */
uint64_t verify_mix64(uint64_t x);

/* The ts2 value of a verified request from connection conn. */
static inline uint64_t verify_tag_ts2(uint32_t conn)
{
    return ((uint64_t)VERIFY_TAG << 32) | conn;
}
/* True when ts2 carries the tag; *conn receives the connection index. */
bool verify_parse_ts2(uint64_t ts2, uint32_t *conn);

/* The check value over seqno, ts1, ts2, rdly, ssz and rsz (ts3 excluded: it carries it). */
uint64_t verify_hdr_check(const struct wire_hdr *h);
/* Sets ts2 and ts3 of request h (other fields already set) for connection conn. */
void verify_seal_request(struct wire_hdr *h, uint32_t conn);
/* True when request h carries a valid tag and check value; *conn receives the index. */
bool verify_request_ok(const struct wire_hdr *h, uint32_t *conn);

/* The pattern key of one message. */
uint64_t verify_key(uint32_t conn, enum verify_dir dir, uint64_t seqno, uint64_t ts1);

/* Writes the pattern bytes for message offsets [offset, offset + len) into buf. */
void verify_fill(uint64_t key, uint32_t offset, uint8_t *buf, size_t len);

/* Compares buf (message offsets [offset, offset + len)) with the pattern. Returns the
 * index in buf of the first differing byte, or len when all match; *nbad (may be NULL)
 * receives how many bytes differ and *expected (may be NULL) the pattern byte at the first
 * difference. */
size_t verify_check(uint64_t key, uint32_t offset, const uint8_t *buf, size_t len, size_t *nbad,
                    uint8_t *expected);

/* The payload check of one message whose payload arrives in slices. */
struct verify_tracker {
    uint64_t key;
    uint32_t nbad;     /* payload bytes that differ so far */
    uint32_t first;    /* message offset of the first wrong byte (valid when nbad > 0) */
    uint8_t got, want; /* that byte as received and as the pattern has it */
};

/* Starts the check of a message whose pattern key is key. */
void verify_tracker_start(struct verify_tracker *t, uint64_t key);
/* Checks data[0..len), the bytes at message offsets [offset, offset + len). */
void verify_tracker_feed(struct verify_tracker *t, uint32_t offset, const uint8_t *data,
                         size_t len);

#endif
