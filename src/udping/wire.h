#ifndef NETGRIND_UDPING_WIRE_H
#define NETGRIND_UDPING_WIRE_H

/* The UDPing datagram: the original's generation-1 header, 72 bytes, little-endian fields
 * at the x86-64 offsets with zero padding, followed by zero bytes up to `size`:
 *
 *   off size field
 *    0   1   proto_version   1 for data; UDPING_PROTO_CONTROL for netgrind's control packet
 *    8   8   client_start    seconds (time_t) when the client's port session was created
 *   16  21   guid            20 lowercase hex characters and a NUL
 *   40   4   seq             per source port, from 0, wrapping at 2^32
 *   48   8   sent_sec        CLOCK_REALTIME at send
 *   56   8   sent_nsec
 *   64   4   size            total UDP payload length, header included
 *
 * The control packet (netgrind's, not in the original's generation 1) ends a measurement
 * period: same layout, proto_version = UDPING_PROTO_CONTROL, guid = the period's GUID,
 * seq = the number of data packets sent under that GUID, size = 72. An original server
 * rejects it as an unknown protocol version and drops it, so netgrind's client can talk to
 * an original server; no data packet can be mistaken for it because the version byte
 * differs. Pure codec: no syscalls. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UDPING_HDR_LEN 72
#define UDPING_GUID_LEN 20
#define UDPING_MAX_PAYLOAD 2000 /* the original's MAXBUF: largest -m */
#define UDPING_PROTO_DATA 1
#define UDPING_PROTO_CONTROL 0x81 /* generation 1 with the control bit (0x80) set */

struct udping_hdr {
    uint8_t proto_version;
    int64_t client_start;
    char guid[UDPING_GUID_LEN + 1]; /* NUL-terminated */
    uint32_t seq;
    int64_t sent_sec;
    int64_t sent_nsec;
    uint32_t size;
};

/* Writes the 72 header bytes (padding zeroed) into out. */
void udping_hdr_encode(const struct udping_hdr *h, uint8_t out[UDPING_HDR_LEN]);

enum udping_verdict {
    UDPING_OK_DATA,
    UDPING_OK_CONTROL,
    UDPING_BAD_SHORT,     /* fewer than 72 bytes */
    UDPING_BAD_SIZE,      /* size field differs from the datagram's length */
    UDPING_BAD_VERSION,   /* neither 1 nor UDPING_PROTO_CONTROL */
    UDPING_BAD_GUID,      /* not 20 hex characters followed by a NUL */
    UDPING_BAD_CONTROL,   /* a control packet whose size is not 72 */
    UDPING_BAD_TIME,      /* sent_nsec outside [0, 1e9) */
};

/* Parses a received datagram of len bytes. Fills *h for the OK verdicts (and as much as
 * was readable otherwise, for the warning text). Never reads past len. */
enum udping_verdict udping_hdr_decode(const uint8_t *buf, size_t len, struct udping_hdr *h);

/* The original's warning text for a bad verdict, e.g. "Malformed packet - expected 100,
 * got 72" or "Incorrect protocol version.  Expected 1, got 7" (two spaces, as the
 * original). Writes into buf; returns buf. */
const char *udping_verdict_text(enum udping_verdict v, const struct udping_hdr *h, size_t len,
                                char *buf, size_t buflen);

#endif
