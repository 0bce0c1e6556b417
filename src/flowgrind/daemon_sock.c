/* flowgrindd's test sockets: the settings' sanity checks, the destination's listen socket,
 * the source's socket and every socket option a flow can ask for (spec §3.1, §3.4). These
 * run on the XML-RPC thread that asked, before the flow is handed to the engine thread, so a
 * slow name lookup never stalls running flows. */

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/util.h"
#include "flowgrind/daemon_int.h"

static const char *const fgd_settings_fault = "Flow settings incorrect";

static bool fgd_seconds_ok(double v)
{
    return isfinite(v) && v >= 0;
}

static bool fgd_dist_code_ok(int32_t code)
{
    return code >= FG_DIST_CONSTANT && code <= FG_DIST_LOGNORMAL;
}

static bool fgd_times_ok(const struct fg_endpoint_settings *s)
{
    return fgd_seconds_ok(s->write_delay) && fgd_seconds_ok(s->write_duration) &&
           fgd_seconds_ok(s->read_delay) && fgd_seconds_ok(s->read_duration) &&
           fgd_seconds_ok(s->reporting_interval);
}

static bool fgd_sizes_ok(const struct fg_endpoint_settings *s)
{
    return s->requested_send_buffer_size >= 0 && s->requested_read_buffer_size >= 0 &&
           s->maximum_block_size >= FG_BLOCK_MIN_SIZE &&
           s->maximum_block_size <= FGD_MAX_BLOCK_SIZE && s->write_rate >= 0;
}

static bool fgd_options_ok(const struct fg_endpoint_settings *s)
{
    return strlen(s->cc_alg) <= FG_RPC_CC_ALG_MAX && s->num_extra_socket_options >= 0 &&
           s->num_extra_socket_options <= FG_RPC_MAX_EXTRA_SOCKOPTS &&
           (size_t)s->num_extra_socket_options == s->n_extra && s->dscp >= 0 && s->dscp <= 255 &&
           fgd_dist_code_ok(s->request.distribution) &&
           fgd_dist_code_ok(s->response.distribution) && fgd_dist_code_ok(s->gap.distribution);
}

int fgd_validate(const struct fg_endpoint_settings *s, const struct fg_source_target *t, char *msg,
                 size_t msglen)
{
    bool ok = fgd_times_ok(s) && fgd_sizes_ok(s) && fgd_options_ok(s);

    if (t && (t->destination_port < 1 || t->destination_port > 65535))
        ok = false;
    if (!ok) {
        snprintf(msg, msglen, "%s", fgd_settings_fault);
        return FG_FAULT_SETTINGS;
    }
#ifndef NETGRIND_HAVE_PCAP
    if (s->traffic_dump) {
        snprintf(msg, msglen, "%s: traffic dump (-M) needs libpcap, this flowgrindd has none",
                 fgd_settings_fault);
        return FG_FAULT_SETTINGS;
    }
#endif
    return 0;
}

int fgd_dump_start(struct fgd_flow *f, const char *address, uint16_t port, char *msg, size_t msglen)
{
    struct fg_dump_spec spec = {
        .dir = f->d->cfg.dump_dir,
        .prefix = f->s.dump_prefix,
        .address = address,
        .port = port,
        .flow_id = f->id,
        .source = f->endpoint == FG_SOURCE,
    };
    char err[512];

    if (!f->s.traffic_dump)
        return 0;
    f->dump = fg_dump_open(&spec, err, sizeof(err));
    if (!f->dump) {
        snprintf(msg, msglen, "Unable to start traffic dump: %s", err);
        return FG_FAULT_HANDLER;
    }
    return 0;
}

/* --- options ----------------------------------------------------------------------------- */

static int fgd_opt_fail(char *msg, size_t msglen, const char *what, int err)
{
    snprintf(msg, msglen, "Unable to set %s: %s", what, strerror(err));
    return FG_FAULT_HANDLER;
}

static int fgd_setint(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? errno : 0;
}

/* SO_SNDBUF / SO_RCVBUF: a refused size is retried at 7/8 until accepted (§2.5). */
static void fgd_set_buffer(int fd, int name, int32_t want)
{
    int32_t v = want;

    while (v > 0 && fgd_setint(fd, SOL_SOCKET, name, v) != 0)
        v = (int32_t)((int64_t)v * 7 / 8);
}

static int fgd_set_route_record(int fd)
{
    /* IPOPT_NOP, then IPOPT_RR with room for nine addresses: 3 + 9 * 4 = 39 bytes. */
    uint8_t opt[40] = {IPOPT_NOP, IPOPT_RR, 39, 4};

    return setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)) < 0 ? errno : 0;
}

static int fgd_set_pmtudisc(int fd)
{
    if (sock_fd_family(fd) == AF_INET6) /* otherwise (also on error) IPv4's option */
        return fgd_setint(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO);
    return fgd_setint(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
}

static int fgd_extra_level(int32_t level)
{
    static const int levels[] = {SOL_SOCKET,   SOL_TCP,     IPPROTO_IP,
                                 IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
    return level >= 0 && (size_t)level < ARRAY_LEN(levels) ? levels[level] : -1;
}

static int fgd_apply_extra(int fd, const struct fg_endpoint_settings *s, char *msg, size_t msglen)
{
    for (size_t i = 0; i < s->n_extra; i++) {
        const struct fg_extra_sockopt *o = &s->extra[i];
        int level = fgd_extra_level(o->level);
        if (level < 0 || setsockopt(fd, level, o->optname, o->value, (socklen_t)o->len) < 0) {
            char what[64];
            snprintf(what, sizeof(what), "socket option %d/%d", (int)o->level, (int)o->optname);
            return fgd_opt_fail(msg, msglen, what, level < 0 ? EINVAL : errno);
        }
    }
    return 0;
}

/* The TCP options 0.8.2 knows from other kernels; Linux has none of them. */
static int fgd_apply_foreign(const struct fg_endpoint_settings *s, char *msg, size_t msglen)
{
    if (s->elcn)
        return fgd_opt_fail(msg, msglen, "TCP_ELCN", EOPNOTSUPP);
    if (s->lcd)
        return fgd_opt_fail(msg, msglen, "TCP_LCD", EOPNOTSUPP);
    if (s->mtcp)
        return fgd_opt_fail(msg, msglen, "TCP_MTCP", EOPNOTSUPP);
    return 0;
}

int fgd_apply_options(int fd, const struct fg_endpoint_settings *s, char *msg, size_t msglen)
{
    int e;

    fgd_set_buffer(fd, SO_SNDBUF, s->requested_send_buffer_size);
    fgd_set_buffer(fd, SO_RCVBUF, s->requested_read_buffer_size);
    if (s->cc_alg[0] && (e = -sock_set_congestion(fd, s->cc_alg)))
        return fgd_opt_fail(msg, msglen, "congestion control algorithm", e);
    if (s->nonagle && (e = -sock_set_nodelay(fd, true)))
        return fgd_opt_fail(msg, msglen, "TCP_NODELAY", e);
    if (s->cork && (e = fgd_setint(fd, IPPROTO_TCP, TCP_CORK, 1)))
        return fgd_opt_fail(msg, msglen, "TCP_CORK", e);
    if (s->so_debug && (e = fgd_setint(fd, SOL_SOCKET, SO_DEBUG, 1)))
        return fgd_opt_fail(msg, msglen, "SO_DEBUG", e);
    if (s->route_record && (e = fgd_set_route_record(fd)))
        return fgd_opt_fail(msg, msglen, "ROUTE_RECORD", e);
    if (s->dscp && (e = -sock_set_tos(fd, (s->dscp << 2) & 0xff)))
        return fgd_opt_fail(msg, msglen, "dscp value", e);
    if (s->ipmtudiscover && (e = fgd_set_pmtudisc(fd)))
        return fgd_opt_fail(msg, msglen, "IP_MTU_DISCOVER", e);
    int fault = fgd_apply_foreign(s, msg, msglen);
    return fault ? fault : fgd_apply_extra(fd, s, msg, msglen);
}

/* --- sockets ------------------------------------------------------------------------- */

static int fgd_listen_fail(char *msg, size_t msglen, const char *why)
{
    snprintf(msg, msglen, "could not create listen socket for data connection: %s", why);
    return FG_FAULT_HANDLER;
}

/* The first address of host with the given family (AF_UNSPEC: any); sock_resolve fails
 * rather than return no address. 0, or -1 with why. */
static int fgd_resolve_first(const char *host, const char *port, int family, int flags,
                             struct sock_addr *out, char *why, size_t whylen)
{
    struct sock_addr_list l;

    if (sock_resolve(host, port, family, SOCK_STREAM, flags, &l, why, whylen) != 0)
        return -1;
    *out = l.v[0];
    sock_addr_list_free(&l);
    return 0;
}

/* The address to listen on: bind_address's first result, or the dual-stack wildcard. */
static int fgd_listen_addr(const char *bind_address, struct sock_addr *a, char *msg, size_t msglen)
{
    char why[256];
    const char *host = bind_address[0] ? bind_address : "::";
    int rc = fgd_resolve_first(host, "0", AF_UNSPEC, AI_PASSIVE, a, why, sizeof(why));

    if (rc != 0 && !bind_address[0])
        rc = fgd_resolve_first("0.0.0.0", "0", AF_INET, AI_PASSIVE, a, why, sizeof(why));
    if (rc != 0) {
        char line[FG_RPC_STRING_MAX + sizeof(why) + 4];
        snprintf(line, sizeof(line), "%s: %s", host, why);
        return fgd_listen_fail(msg, msglen, line);
    }
    return 0;
}

int fgd_listen_socket(const struct fg_endpoint_settings *s, int *fd_out, char *msg, size_t msglen)
{
    struct sock_addr a;
    char why[256];
    int fault = fgd_listen_addr(s->bind_address, &a, msg, msglen);

    if (fault)
        return fault;
    int fd = sock_tcp_socket(sock_addr_family(&a), true, why, sizeof(why));
    if (fd < 0)
        return fgd_listen_fail(msg, msglen, why);
    if (sock_addr_family(&a) == AF_INET6 && !s->bind_address[0])
        (void)fgd_setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0); /* wildcard: IPv4 peers too */
    fault = fgd_apply_options(fd, s, msg, msglen);
    if (!fault && sock_bind(fd, &a, why, sizeof(why)) < 0)
        fault = fgd_listen_fail(msg, msglen, why);
    if (!fault && listen(fd, 1) < 0)
        fault = fgd_listen_fail(msg, msglen, strerror(errno));
    if (fault) {
        close(fd);
        return fault;
    }
    *fd_out = fd;
    return 0;
}

static int fgd_source_fail(char *msg, size_t msglen, const char *what, const char *host,
                           const char *why)
{
    snprintf(msg, msglen, "could not %s %s: %s", what, host, why);
    return FG_FAULT_HANDLER;
}

/* Bug 36 fixed: the test socket leaves from bind_address when one was given. */
static int fgd_source_bind(int fd, const char *host, int family, char *msg, size_t msglen)
{
    struct sock_addr a;
    char why[256];

    if (!host[0])
        return 0;
    if (fgd_resolve_first(host, "0", family, AI_PASSIVE, &a, why, sizeof(why)) < 0)
        return fgd_source_fail(msg, msglen, "bind data socket to", host, why);
    if (sock_bind(fd, &a, why, sizeof(why)) < 0)
        return fgd_source_fail(msg, msglen, "bind data socket to", host, why);
    return 0;
}

int fgd_source_socket(const struct fg_endpoint_settings *s, const struct fg_source_target *t,
                      int *fd_out, struct sock_addr *dst, char *msg, size_t msglen)
{
    char port[16], why[256];

    snprintf(port, sizeof(port), "%d", (int)t->destination_port);
    if (fgd_resolve_first(t->destination_address, port, AF_UNSPEC, 0, dst, why, sizeof(why)) < 0)
        return fgd_source_fail(msg, msglen, "resolve destination", t->destination_address, why);
    int fd = sock_tcp_socket(sock_addr_family(dst), true, why, sizeof(why));
    if (fd < 0)
        return fgd_source_fail(msg, msglen, "create data socket for", t->destination_address, why);
    int fault = fgd_apply_options(fd, s, msg, msglen);
    if (!fault)
        fault = fgd_source_bind(fd, s->bind_address, sock_addr_family(dst), msg, msglen);
    if (fault) {
        close(fd);
        return fault;
    }
    *fd_out = fd;
    return 0;
}

/* --- read-backs ------------------------------------------------------------------------ */

static int32_t fgd_getint(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof(v);

    return getsockopt(fd, level, name, &v, &len) < 0 ? 0 : v;
}

void fgd_read_buffers(int fd, int32_t *sndbuf, int32_t *rcvbuf)
{
    *sndbuf = fgd_getint(fd, SOL_SOCKET, SO_SNDBUF);
    *rcvbuf = fgd_getint(fd, SOL_SOCKET, SO_RCVBUF);
}

void fgd_read_cc(int fd, char *out, size_t outlen)
{
    char name[64] = "";
    socklen_t len = sizeof(name) - 1;

    if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len) < 0)
        name[0] = '\0';
    name[sizeof(name) - 1] = '\0';
    snprintf(out, outlen, "%s", name);
}

int32_t fgd_path_mtu(int fd)
{
    if (sock_fd_family(fd) == AF_INET6) /* otherwise (also on error) IPv4's option */
        return fgd_getint(fd, IPPROTO_IPV6, IPV6_MTU);
    return fgd_getint(fd, IPPROTO_IP, IP_MTU);
}

/* True when the interface address ifa is the socket's local address a (a v4-mapped IPv6
 * local address matches the interface's IPv4 address). */
static bool fgd_addr_matches(const struct sockaddr *ifa, const struct sock_addr *a)
{
    const struct sockaddr *la = (const struct sockaddr *)&a->ss;
    const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)la;

    if (ifa->sa_family == AF_INET) {
        const struct in_addr *ia = &((const struct sockaddr_in *)ifa)->sin_addr;
        if (la->sa_family == AF_INET)
            return ia->s_addr == ((const struct sockaddr_in *)la)->sin_addr.s_addr;
        return la->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr) &&
               memcmp(&l6->sin6_addr.s6_addr[12], &ia->s_addr, 4) == 0;
    }
    if (ifa->sa_family == AF_INET6 && la->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)ifa)->sin6_addr, &l6->sin6_addr, 16) == 0;
    return false;
}

int32_t fgd_interface_mtu(int fd)
{
    struct sock_addr local;
    struct ifaddrs *list = NULL;
    int32_t mtu = 0;

    if (sock_local_addr(fd, &local) < 0 || getifaddrs(&list) < 0)
        return 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || !fgd_addr_matches(i->ifa_addr, &local))
            continue;
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->ifa_name);
        if (ioctl(fd, SIOCGIFMTU, &ifr) == 0)
            mtu = ifr.ifr_mtu;
        break;
    }
    freeifaddrs(list);
    return mtu;
}
