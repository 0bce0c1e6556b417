/* udping_client's raw mode (udping.md §3.5): the interface that owns -l, its MAC and MTU,
 * and the AF_PACKET socket the frames leave by. */
#include "udping/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* The name of the interface that has the IPv4 address want (network order), or -ENOENT.
 * Only AF_INET entries are looked at (the original cast every entry to sockaddr_in). */
static int find_interface(struct in_addr want, char *name, size_t namelen, char *err,
                          size_t errlen)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) < 0) {
        int e = errno;
        snprintf(err, errlen, "getifaddrs: %s", strerror(e));
        return -e;
    }
    int rc = -ENOENT;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
        if (sin->sin_addr.s_addr == want.s_addr) {
            snprintf(name, namelen, "%s", i->ifa_name);
            rc = 0;
            break;
        }
    }
    freeifaddrs(list);
    return rc;
}

/* Index, MAC (SIOCGIFHWADDR) and MTU of the interface c->ifname. */
static int interface_details(struct udping_client *c, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket for interface queries: %s", strerror(e));
        return -e;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", c->ifname);
    const char *what = "SIOCGIFHWADDR";
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
        goto fail;
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER && ifr.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK) {
        close(fd);
        snprintf(err, errlen, "interface %s is not an Ethernet interface (hardware type %u)",
                 c->ifname, (unsigned)ifr.ifr_hwaddr.sa_family);
        return -EINVAL;
    }
    memcpy(c->addrs.src_mac, ifr.ifr_hwaddr.sa_data, 6);
    what = "SIOCGIFMTU";
    if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
        goto fail;
    c->mtu = (unsigned)ifr.ifr_mtu;
    what = "SIOCGIFINDEX";
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
        goto fail;
    c->ifindex = ifr.ifr_ifindex;
    close(fd);
    return 0;
fail:;
    int e = errno;
    close(fd);
    snprintf(err, errlen, "%s on %s: %s", what, c->ifname, strerror(e));
    return -e;
}

int udping_raw_setup(struct udping_client *c, FILE *info, char *err, size_t errlen)
{
    const struct udping_client_config *cfg = c->cfg;
    struct in_addr local;
    if (inet_pton(AF_INET, cfg->local, &local) != 1) {
        snprintf(err, errlen, "raw mode (-a) needs -l to be an IPv4 address, not '%s'",
                 cfg->local);
        return UDPING_CLIENT_EXIT_USAGE;
    }
    if (info)
        fprintf(info, "Getting interface info for %s\n", cfg->local);
    int rc = find_interface(local, c->ifname, sizeof c->ifname, err, errlen);
    if (rc == -ENOENT) {
        snprintf(err, errlen, "no interface has the address %s (-l)", cfg->local);
        return UDPING_CLIENT_EXIT_NOHOST;
    }
    if (rc < 0)
        return UDPING_CLIENT_EXIT_OSERR;
    if (interface_details(c, err, errlen) < 0)
        return UDPING_CLIENT_EXIT_OSERR;
    if (info) {
        char mac[18];
        fprintf(info, "The interface is named %s\n", c->ifname);
        fprintf(info, "MAC address is %s\n", frame_mac_format(c->addrs.src_mac, mac, sizeof mac));
        fprintf(info, "Index is %d\n", c->ifindex);
        fflush(info);
    }
    if (frame_check_mtu(c->ifname, c->mtu, (size_t)cfg->max_size, err, errlen) < 0)
        return UDPING_CLIENT_EXIT_USAGE;
    c->addrs.src_ip = ntohl(local.s_addr);
    /* Protocol 0: a send-only packet socket. The original asked for ETH_P_ALL, which makes
     * the kernel queue a copy of every frame on the host to a socket nobody reads. */
    c->packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (c->packet_fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket(AF_PACKET, SOCK_RAW): %s", strerror(e));
        return UDPING_CLIENT_EXIT_OSERR;
    }
    return 0;
}

static void fill_ll(const struct udping_client *c, const uint8_t *dst_mac, struct sockaddr_ll *ll)
{
    memset(ll, 0, sizeof *ll);
    ll->sll_family = AF_PACKET;
    ll->sll_protocol = htons(FRAME_ETHERTYPE_IPV4);
    ll->sll_ifindex = c->ifindex;
    ll->sll_halen = 6;
    memcpy(ll->sll_addr, dst_mac, 6); /* the destination (the original put the source) */
}

int udping_raw_send_one(struct udping_client *c, struct udping_port *p, uint8_t *slot,
                        size_t len, const uint8_t *mac)
{
    c->addrs.src_port = p->port;
    memcpy(c->addrs.dst_mac, mac, 6);
    size_t flen = frame_finish(slot, UDPING_SLOT_LEN, &c->addrs, len);
    if (flen == 0)
        return -EMSGSIZE;
    struct sockaddr_ll ll;
    fill_ll(c, mac, &ll);
    ssize_t n = sendto(c->packet_fd, slot, flen, 0, (const struct sockaddr *)&ll, sizeof ll);
    if (n < 0)
        return -errno;
    return (size_t)n == flen ? 0 : -EMSGSIZE;
}

int udping_raw_send_batch(struct udping_client *c, uint8_t **slots, const size_t *lens, size_t n)
{
    struct mmsghdr msgs[UDPING_BATCH];
    struct iovec iov[UDPING_BATCH];
    struct sockaddr_ll ll[UDPING_BATCH];
    if (n > UDPING_BATCH)
        n = UDPING_BATCH;
    for (size_t i = 0; i < n; i++) {
        fill_ll(c, slots[i], &ll[i]); /* a frame starts with its destination MAC */
        iov[i].iov_base = slots[i];
        iov[i].iov_len = lens[i];
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = &ll[i];
        msgs[i].msg_hdr.msg_namelen = sizeof ll[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(c->packet_fd, msgs, (unsigned)n, 0);
    return sent < 0 ? -errno : sent;
}
