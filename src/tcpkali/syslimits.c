/* System limits against the requested load (see syslimits.h). */
#include "tcpkali/syslimits.h"

#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* Reads up to two integers from a /proc file; how many were read. */
static int read_longs(const char *path, long *a, long *b)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = fscanf(f, "%ld %ld", a, b);
    fclose(f);
    return n < 0 ? 0 : n;
}

static long read_long(const char *path)
{
    long a = -1, b = -1;
    return read_longs(path, &a, &b) >= 1 ? a : -1;
}

void tk_syslimits_read(struct tk_syslimits *sl)
{
    memset(sl, 0, sizeof *sl);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        sl->nofile_soft = rl.rlim_cur == RLIM_INFINITY ? ULONG_MAX : (unsigned long)rl.rlim_cur;
        sl->nofile_hard = rl.rlim_max == RLIM_INFINITY ? ULONG_MAX : (unsigned long)rl.rlim_max;
    }
    sl->port_lo = sl->port_hi = -1;
    if (read_longs("/proc/sys/net/ipv4/ip_local_port_range", &sl->port_lo, &sl->port_hi) != 2)
        sl->port_lo = sl->port_hi = -1;
    sl->conntrack_max = read_long("/proc/sys/net/netfilter/nf_conntrack_max");
    sl->conntrack_count = read_long("/proc/sys/net/netfilter/nf_conntrack_count");
    sl->tw_reuse = (int)read_long("/proc/sys/net/ipv4/tcp_tw_reuse");
    sl->rmem_max = read_long("/proc/sys/net/core/rmem_max");
    sl->wmem_max = read_long("/proc/sys/net/core/wmem_max");
}

int tk_syslimits_nofile(const struct tk_syslimits *sl, uint64_t connections, unsigned long need,
                        char *msg, size_t len)
{
    if (sl->nofile_soft >= need)
        return 0;
    char hard[32];
    if (sl->nofile_hard == ULONG_MAX)
        snprintf(hard, sizeof hard, "unlimited");
    else
        snprintf(hard, sizeof hard, "%lu", sl->nofile_hard);
    snprintf(msg, len,
             "Open files limit (`ulimit -n`) %lu is too low for the expected scale (-c %llu): "
             "about %lu descriptors are needed and the hard limit is %s. Raise the hard limit "
             "(as root: `ulimit -Hn %lu`, LimitNOFILE= for a systemd unit, or "
             "/etc/security/limits.conf), or lower --connections.",
             sl->nofile_soft, (unsigned long long)connections, need, hard, need);
    return -1;
}

int tk_syslimits_buffer(const char *opt, const char *sysctl, int value, long max, char *msg,
                        size_t len)
{
    if (max <= 0 || value <= max)
        return 0;
    snprintf(msg, len,
             "%s %d is above %s %ld, so the kernel caps it at %ld. Raise the cap: "
             "sysctl -w %s=%d",
             opt, value, sysctl, max, max, sysctl, value);
    return -1;
}

long tk_syslimits_port_count(const struct tk_syslimits *sl)
{
    if (sl->port_lo <= 0 || sl->port_hi < sl->port_lo)
        return 0;
    return sl->port_hi - sl->port_lo + 1;
}

static bool dest_is_loopback(const struct tk_dest *d)
{
    const struct sockaddr *sa = (const struct sockaddr *)&d->addr.ss;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static bool dest_is_v4_loopback(const struct tk_dest *d)
{
    return dest_is_loopback(d) && d->addr.ss.ss_family == AF_INET;
}

bool tk_syslimits_dest_limited(const struct tk_dest *d, size_t nsource_ips)
{
    return nsource_ips > 0 || !dest_is_v4_loopback(d);
}

/* Connections each destination gets (they are dealt round-robin). */
static uint64_t per_dest(const struct tk_syslimits_load *load)
{
    size_t n = load->ndests ? load->ndests : 1;
    return (load->connections + n - 1) / n;
}

/* The first destination whose connections do not fit in the port range, or NULL. */
static const struct tk_dest *short_dest(const struct tk_syslimits *sl,
                                        const struct tk_syslimits_load *load)
{
    long ports = tk_syslimits_port_count(sl);
    if (ports <= 0)
        return NULL;
    uint64_t sources = load->nsource_ips ? load->nsource_ips : 1;
    for (size_t i = 0; i < load->ndests; i++) {
        const struct tk_dest *d = &load->dests[i];
        if (tk_syslimits_dest_limited(d, load->nsource_ips) &&
            per_dest(load) > (uint64_t)ports * sources)
            return d;
    }
    return NULL;
}

void tk_syslimits_check(const struct tk_syslimits *sl, const struct tk_syslimits_load *load,
                        struct tk_syslimits_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->ports_short = short_dest(sl, load) != NULL;
    if (sl->conntrack_max > 0) {
        long used = sl->conntrack_count > 0 ? sl->conntrack_count : 0;
        v->conntrack_short = load->connections + (uint64_t)used > (uint64_t)sl->conntrack_max;
    }
    /* tcp_tw_reuse 1 reuses for every destination, 2 (the kernel's default) for loopback
     * only; the original warned for anything but 1 (bug 45). It matters when the ports
     * get scarce or connections are replaced. */
    bool any_remote = false;
    for (size_t i = 0; i < load->ndests; i++)
        any_remote |= !dest_is_loopback(&load->dests[i]);
    bool no_reuse = sl->tw_reuse == 0 || (sl->tw_reuse == 2 && any_remote);
    long ports = tk_syslimits_port_count(sl);
    bool scarce = ports > 0 && per_dest(load) * 2 > (uint64_t)ports;
    v->time_wait = no_reuse && (scarce || load->churn);
}

void tk_syslimits_ports_message(const struct tk_syslimits *sl,
                                const struct tk_syslimits_load *load, char *msg, size_t len)
{
    const struct tk_dest *d = short_dest(sl, load);
    char host[300] = "?";
    if (d)
        snprintf(host, sizeof host, "%s", d->text);
    uint64_t sources = load->nsource_ips ? load->nsource_ips : 1;
    snprintf(msg, len,
             "-c %llu opens %llu connections to %s from %llu source address%s, but the ephemeral "
             "port range %ld-%ld (/proc/sys/net/ipv4/ip_local_port_range) has only %ld ports "
             "per source address. Widen it (sysctl -w net.ipv4.ip_local_port_range=\"1024 "
             "65535\"), add --source-ip addresses, or add destinations.",
             (unsigned long long)load->connections, (unsigned long long)per_dest(load), host,
             (unsigned long long)sources, sources == 1 ? "" : "es", sl->port_lo, sl->port_hi,
             tk_syslimits_port_count(sl));
}

void tk_syslimits_conntrack_message(const struct tk_syslimits *sl,
                                    const struct tk_syslimits_load *load, char *msg, size_t len)
{
    long used = sl->conntrack_count > 0 ? sl->conntrack_count : 0;
    unsigned long long want = (unsigned long long)load->connections * 2 + (unsigned long long)used;
    snprintf(msg, len,
             "-c %llu may not fit in the connection tracking table: nf_conntrack_max is %ld with "
             "%ld entries in use, and new connections are dropped while it is full. Raise it: "
             "sysctl -w net.netfilter.nf_conntrack_max=%llu",
             (unsigned long long)load->connections, sl->conntrack_max, used, want);
}

void tk_syslimits_time_wait_message(const struct tk_syslimits *sl,
                                    const struct tk_syslimits_load *load, char *msg, size_t len)
{
    snprintf(msg, len,
             "Not reusing TIME_WAIT sockets (tcp_tw_reuse=%d%s), might not open %llu "
             "simultaneous connections. Adjust \"/proc/sys/net/ipv4/tcp_tw_reuse\" value "
             "(1: reuse for every destination).",
             sl->tw_reuse, sl->tw_reuse == 2 ? ": loopback only" : "",
             (unsigned long long)load->connections);
}
