#ifndef NETGRIND_UDPING_FRAME_H
#define NETGRIND_UDPING_FRAME_H

/* Raw-mode frames for udping_client: Ethernet + IPv4 + UDP headers in front of a UDPing
 * datagram, built byte by byte with every multi-byte field in network byte order, and the
 * RFC 1071 checksums computed over big-endian 16-bit words read byte by byte, so the result
 * is the same on any host byte order (the original summed native words, which is right on
 * little-endian hosts only). Also the per-port next-hop MAC rotation and the MTU check.
 * Pure: no syscalls; any thread.
 *
 * Frame layout (offsets in bytes):
 *    0  Ethernet: dst MAC (6), src MAC (6), type 0x0800 (2)
 *   14  IPv4: 0x45, TOS 0, total length, ID 0, flags/fragment 0, TTL 255, protocol 17,
 *       header checksum, source, destination (20 bytes, no options)
 *   34  UDP: source port, destination port, length, checksum (8)
 *   42  payload (the UDPing datagram) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_ETH_LEN 14
#define FRAME_IP_LEN 20
#define FRAME_UDP_LEN 8
#define FRAME_IP_OFF FRAME_ETH_LEN                    /* 14 */
#define FRAME_UDP_OFF (FRAME_ETH_LEN + FRAME_IP_LEN)  /* 34 */
#define FRAME_PAYLOAD_OFF (FRAME_UDP_OFF + FRAME_UDP_LEN) /* 42 */
#define FRAME_IP_UDP_OVERHEAD (FRAME_IP_LEN + FRAME_UDP_LEN) /* 28: counts against the MTU */
#define FRAME_TTL 255
#define FRAME_ETHERTYPE_IPV4 0x0800
#define FRAME_IPPROTO_UDP 17

/* ---- RFC 1071 Internet checksum ---------------------------------------------------------
 * The sum is kept in a 64-bit accumulator of 16-bit big-endian words; carries are folded
 * only at the end, which the one's-complement sum allows (RFC 1071 §2: deferred carries).
 * An odd final byte is the high byte of a last word padded with zero. */

/* Adds len bytes at p to acc as big-endian 16-bit words and returns the new accumulator.
 * When len is odd, the last byte counts as the high byte of a word whose low byte is 0:
 * so only the last piece of a chained sum may have an odd length. */
uint64_t frame_sum16(uint64_t acc, const void *p, size_t len);

/* Folds the accumulator's carries into 16 bits and complements it: the checksum as a
 * number whose big-endian bytes are what goes on the wire. */
uint16_t frame_csum_fold(uint64_t acc);

/* The Internet checksum of len bytes (frame_csum_fold(frame_sum16(0, p, len))). */
uint16_t frame_csum(const void *p, size_t len);

/* ---- frames ----------------------------------------------------------------------------- */

/* The fixed addressing of one client: IPv4 addresses as host-order numbers (0xC6120001 is
 * 198.18.0.1), ports as numbers; the frame writes them big-endian. */
struct frame_addrs {
    uint8_t src_mac[6];
    uint8_t dst_mac[6];
    uint32_t src_ip;
    uint32_t dst_ip;
    uint16_t src_port;
    uint16_t dst_port;
};

/* Completes a frame whose payload (payload_len bytes) is already in place at
 * frame + FRAME_PAYLOAD_OFF: writes the Ethernet, IPv4 and UDP headers, the IPv4 header
 * checksum and the UDP checksum (pseudo-header + UDP header + the whole payload; 0 is sent
 * as 0xFFFF, RFC 768). Returns the frame's length (42 + payload_len), or 0 when that
 * exceeds cap or the IPv4 total length would exceed 65535. */
size_t frame_finish(uint8_t *frame, size_t cap, const struct frame_addrs *a, size_t payload_len);

/* Big-endian field helpers (also for the unit tests). */
static inline void frame_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline uint16_t frame_get_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline void frame_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- next-hop MAC rotation --------------------------------------------------------------
 * Each source port rotates through the -a list on its own, starting with the first MAC
 * (the original gave each port session its own copy of the list): the port's k-th data
 * packet goes to MAC k mod n. A port keeps its position in a size_t, starting at 0. */

/* The MAC for the port's next packet, advancing *pos. n >= 1. */
const uint8_t *frame_mac_next(const uint8_t (*macs)[6], size_t n, size_t *pos);
/* The MAC the next frame_mac_next would return, without advancing (control packets). */
const uint8_t *frame_mac_peek(const uint8_t (*macs)[6], size_t n, size_t pos);

/* "aa:bb:cc:dd:ee:ff" (lower case, two digits per octet) into buf (>= 18 bytes). */
const char *frame_mac_format(const uint8_t mac[6], char *buf, size_t buflen);

/* ---- MTU -------------------------------------------------------------------------------- */

/* Checks that an IP packet carrying the largest datagram (max_payload bytes; below the
 * 72-byte header the header's size counts) fits the interface MTU: 28 + payload <= mtu.
 * 0, or -EMSGSIZE with err naming the interface, its MTU and the largest -m that fits. */
int frame_check_mtu(const char *ifname, unsigned mtu, size_t max_payload, char *err,
                    size_t errlen);

#endif
