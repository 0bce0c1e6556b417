/* flowgrindd -M: pcap capture of a flow endpoint (dump.h). */

#include "flowgrind/dump.h"

#include <stdio.h>
#include <string.h>

#ifdef NETGRIND_HAVE_PCAP

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FG_DUMP_SNAPLEN 130

struct fg_dump {
    pcap_t *pcap;
    pcap_dumper_t *dumper;
    char path[4096];
};

/* True when the interface address a equals b (same family and address bytes). */
static bool fg_dump_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return false;
}

/* The interface owning one of address's addresses, or "any". */
static void fg_dump_interface(const char *address, char *out, size_t outlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    struct ifaddrs *list = NULL;

    snprintf(out, outlen, "any");
    if (!address[0] || getaddrinfo(address, NULL, &hints, &res) != 0)
        return;
    if (getifaddrs(&list) == 0) {
        for (struct addrinfo *r = res; r; r = r->ai_next) {
            for (struct ifaddrs *i = list; i; i = i->ifa_next) {
                if (i->ifa_addr && fg_dump_same_addr(i->ifa_addr, r->ai_addr)) {
                    snprintf(out, outlen, "%s", i->ifa_name);
                    goto done;
                }
            }
        }
    }
done:
    freeifaddrs(list);
    freeaddrinfo(res);
}

/* <dir>/<prefix><time>-<host>-<iface>[-<id>-<S|D>].pcap */
static void fg_dump_name(const struct fg_dump_spec *spec, const char *iface, char *out,
                         size_t outlen)
{
    char stamp[64], host[256] = "unknown";
    time_t now = time(NULL);
    struct tm tm;
    const char *dir = spec->dir && spec->dir[0] ? spec->dir : ".";

    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d-%H:%M:%S", &tm);
    gethostname(host, sizeof(host) - 1);
    snprintf(out, outlen, "%s/%s%s-%s-%s.pcap", dir, spec->prefix, stamp, host, iface);
    if (access(out, F_OK) == 0)
        snprintf(out, outlen, "%s/%s%s-%s-%s-%d-%c.pcap", dir, spec->prefix, stamp, host, iface,
                 (int)spec->flow_id, spec->source ? 'S' : 'D');
}

static int fg_dump_activate(struct fg_dump *dp, const char *iface, uint16_t port, char *err,
                            size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "", filter[64];
    struct bpf_program prog;

    dp->pcap = pcap_create(iface, ebuf);
    if (!dp->pcap) {
        snprintf(err, errlen, "traffic dump: %s", ebuf);
        return -1;
    }
    pcap_set_snaplen(dp->pcap, FG_DUMP_SNAPLEN);
    pcap_set_promisc(dp->pcap, 0);
    pcap_set_immediate_mode(dp->pcap, 1);
    int rc = pcap_activate(dp->pcap);
    if (rc < 0) {
        snprintf(err, errlen, "traffic dump on %s: %s", iface, pcap_geterr(dp->pcap));
        return -1;
    }
    snprintf(filter, sizeof(filter), "tcp port %u", (unsigned)port);
    if (pcap_compile(dp->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
        pcap_setfilter(dp->pcap, &prog) < 0) {
        snprintf(err, errlen, "traffic dump filter '%s': %s", filter, pcap_geterr(dp->pcap));
        return -1;
    }
    pcap_freecode(&prog);
    if (pcap_setnonblock(dp->pcap, 1, ebuf) < 0) {
        snprintf(err, errlen, "traffic dump: %s", ebuf);
        return -1;
    }
    return 0;
}

struct fg_dump *fg_dump_open(const struct fg_dump_spec *spec, char *err, size_t errlen)
{
    struct fg_dump *dp = calloc(1, sizeof(*dp));
    char iface[IF_NAMESIZE + 8];

    if (!dp) {
        snprintf(err, errlen, "traffic dump: out of memory");
        return NULL;
    }
    fg_dump_interface(spec->address, iface, sizeof(iface));
    if (fg_dump_activate(dp, iface, spec->port, err, errlen) < 0) {
        fg_dump_close(dp);
        return NULL;
    }
    fg_dump_name(spec, iface, dp->path, sizeof(dp->path));
    dp->dumper = pcap_dump_open(dp->pcap, dp->path);
    if (!dp->dumper) {
        snprintf(err, errlen, "traffic dump file %s: %s", dp->path, pcap_geterr(dp->pcap));
        fg_dump_close(dp);
        return NULL;
    }
    return dp;
}

int fg_dump_fd(const struct fg_dump *dp)
{
    return pcap_get_selectable_fd(dp->pcap);
}

void fg_dump_poll(struct fg_dump *dp)
{
    /* Bounded: a busy link cannot keep the engine here for ever. */
    for (int i = 0; i < 64; i++)
        if (pcap_dispatch(dp->pcap, -1, pcap_dump, (u_char *)dp->dumper) <= 0)
            break;
}

void fg_dump_close(struct fg_dump *dp)
{
    if (!dp)
        return;
    if (dp->dumper) {
        fg_dump_poll(dp);
        pcap_dump_close(dp->dumper);
    }
    if (dp->pcap)
        pcap_close(dp->pcap);
    free(dp);
}

#else /* !NETGRIND_HAVE_PCAP */

struct fg_dump {
    int unused;
};

struct fg_dump *fg_dump_open(const struct fg_dump_spec *spec, char *err, size_t errlen)
{
    (void)spec;
    snprintf(err, errlen, "traffic dump: not supported, flowgrindd was built without libpcap");
    return NULL;
}

int fg_dump_fd(const struct fg_dump *dp)
{
    (void)dp;
    return -1;
}

void fg_dump_poll(struct fg_dump *dp)
{
    (void)dp;
}

void fg_dump_close(struct fg_dump *dp)
{
    (void)dp;
}

#endif
