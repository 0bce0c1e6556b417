/* Raw-mode frames: headers, RFC 1071 checksums, MAC rotation, MTU check (see frame.h). */
#include "udping/frame.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "udping/wire.h"

uint64_t frame_sum16(uint64_t acc, const void *p, size_t len)
{
    const uint8_t *b = p;
    /* Each word is assembled from its two bytes, high byte first, so the host's byte order
     * never enters. 64 bits of accumulator cannot overflow below 2^48 bytes. The body sums
     * four words per step with independent terms, which the compiler can vectorise. */
    while (len >= 8) {
        acc += ((uint32_t)b[0] << 8 | b[1]) + ((uint32_t)b[2] << 8 | b[3]) +
               ((uint32_t)b[4] << 8 | b[5]) + ((uint32_t)b[6] << 8 | b[7]);
        b += 8;
        len -= 8;
    }
    while (len >= 2) {
        acc += (uint32_t)b[0] << 8 | b[1];
        b += 2;
        len -= 2;
    }
    if (len)
        acc += (uint32_t)b[0] << 8; /* odd tail: the high byte of a zero-padded word */
    return acc;
}

uint16_t frame_csum_fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

uint16_t frame_csum(const void *p, size_t len)
{
    return frame_csum_fold(frame_sum16(0, p, len));
}

static void put_ipv4(uint8_t *ip, const struct frame_addrs *a, size_t payload_len)
{
    ip[0] = 0x45; /* version 4, IHL 5 words */
    ip[1] = 0;    /* TOS */
    frame_put_be16(ip + 2, (uint16_t)(FRAME_IP_UDP_OVERHEAD + payload_len));
    frame_put_be16(ip + 4, 0); /* identification */
    frame_put_be16(ip + 6, 0); /* no flags (DF clear), fragment offset 0: as the original */
    ip[8] = FRAME_TTL;
    ip[9] = FRAME_IPPROTO_UDP;
    frame_put_be16(ip + 10, 0);
    frame_put_be32(ip + 12, a->src_ip);
    frame_put_be32(ip + 16, a->dst_ip);
    frame_put_be16(ip + 10, frame_csum(ip, FRAME_IP_LEN));
}

/* The UDP checksum: pseudo-header (source, destination, zero, protocol, UDP length), the
 * UDP header with its checksum field 0, and the payload. */
static uint16_t udp_checksum(const uint8_t *ip, const uint8_t *udp, size_t udp_len)
{
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8); /* source and destination addresses, as on the wire */
    pseudo[8] = 0;
    pseudo[9] = FRAME_IPPROTO_UDP;
    frame_put_be16(pseudo + 10, (uint16_t)udp_len);
    uint64_t acc = frame_sum16(0, pseudo, sizeof pseudo);
    acc = frame_sum16(acc, udp, udp_len);
    uint16_t c = frame_csum_fold(acc);
    return c == 0 ? 0xffff : c; /* RFC 768: 0 means "no checksum"; send its other form */
}

size_t frame_finish(uint8_t *frame, size_t cap, const struct frame_addrs *a, size_t payload_len)
{
    size_t total = FRAME_PAYLOAD_OFF + payload_len;
    if (total > cap || FRAME_IP_UDP_OVERHEAD + payload_len > 0xffff)
        return 0;
    memcpy(frame, a->dst_mac, 6);
    memcpy(frame + 6, a->src_mac, 6);
    frame_put_be16(frame + 12, FRAME_ETHERTYPE_IPV4);

    uint8_t *ip = frame + FRAME_IP_OFF;
    put_ipv4(ip, a, payload_len);

    uint8_t *udp = frame + FRAME_UDP_OFF;
    size_t udp_len = FRAME_UDP_LEN + payload_len;
    frame_put_be16(udp, a->src_port);
    frame_put_be16(udp + 2, a->dst_port);
    frame_put_be16(udp + 4, (uint16_t)udp_len);
    frame_put_be16(udp + 6, 0);
    frame_put_be16(udp + 6, udp_checksum(ip, udp, udp_len));
    return total;
}

const uint8_t *frame_mac_next(const uint8_t (*macs)[6], size_t n, size_t *pos)
{
    const uint8_t *m = frame_mac_peek(macs, n, *pos);
    *pos = (*pos % n + 1) % n;
    return m;
}

const uint8_t *frame_mac_peek(const uint8_t (*macs)[6], size_t n, size_t pos)
{
    return macs[pos % n];
}

const char *frame_mac_format(const uint8_t mac[6], char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
    return buf;
}

int frame_check_mtu(const char *ifname, unsigned mtu, size_t max_payload, char *err,
                    size_t errlen)
{
    size_t largest = max_payload < UDPING_HDR_LEN ? UDPING_HDR_LEN : max_payload;
    if (FRAME_IP_UDP_OVERHEAD + largest <= mtu)
        return 0;
    if (mtu < FRAME_IP_UDP_OVERHEAD + UDPING_HDR_LEN)
        snprintf(err, errlen,
                 "-m %zu: a %zu-byte datagram needs IP packets of %zu bytes, but the MTU of %s "
                 "is %u, too small even for the %d-byte header",
                 max_payload, largest, FRAME_IP_UDP_OVERHEAD + largest, ifname, mtu,
                 UDPING_HDR_LEN);
    else
        snprintf(err, errlen,
                 "-m %zu: a %zu-byte datagram needs IP packets of %zu bytes, but the MTU of %s "
                 "is %u (use -m %u or less)",
                 max_payload, largest, FRAME_IP_UDP_OVERHEAD + largest, ifname, mtu,
                 mtu - FRAME_IP_UDP_OVERHEAD);
    return -EMSGSIZE;
}
