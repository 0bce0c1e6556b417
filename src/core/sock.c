/* Socket helpers; see sock.h. Error text always names the failed call and the address, so
 * a person reading "connect to [::1]:5000: Connection refused" knows what to fix. */

#include "core/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with the newest fields, TCP_* options */
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- addresses ---------------------------------------------------------------------- */

const char *sock_addr_host(const struct sock_addr *a, char *buf, size_t buflen)
{
    const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];

    if (buflen == 0)
        return buf;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, tmp, sizeof(tmp));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, tmp, INET6_ADDRSTRLEN);
        if (in6->sin6_scope_id) {
            /* Link-local: the zone is part of the address ("fe80::1%eth0"). */
            char ifname[IF_NAMESIZE];
            size_t used = strlen(tmp);
            if (if_indextoname(in6->sin6_scope_id, ifname))
                snprintf(tmp + used, sizeof(tmp) - used, "%%%s", ifname);
            else
                snprintf(tmp + used, sizeof(tmp) - used, "%%%u", in6->sin6_scope_id);
        }
    } else {
        snprintf(tmp, sizeof(tmp), "(family %d)", sa->sa_family);
    }
    snprintf(buf, buflen, "%s", tmp);
    return buf;
}

const char *sock_addr_format(const struct sock_addr *a, char *buf, size_t buflen)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    int family = sock_addr_family(a);

    sock_addr_host(a, host, sizeof(host));
    if (family == AF_INET6)
        snprintf(buf, buflen, "[%s]:%u", host, sock_addr_port(a));
    else if (family == AF_INET)
        snprintf(buf, buflen, "%s:%u", host, sock_addr_port(a));
    else
        snprintf(buf, buflen, "%s", host);
    return buf;
}

uint16_t sock_addr_port(const struct sock_addr *a)
{
    switch (a->ss.ss_family) {
    case AF_INET:
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    case AF_INET6:
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    default:
        return 0;
    }
}

void sock_addr_set_port(struct sock_addr *a, uint16_t port)
{
    switch (a->ss.ss_family) {
    case AF_INET:
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
        break;
    case AF_INET6:
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
        break;
    default:
        break;
    }
}

int sock_addr_family(const struct sock_addr *a)
{
    return a->ss.ss_family;
}

bool sock_addr_is_loopback(const struct sock_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        uint32_t ip = ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);
        return (ip >> 24) == 127;
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct in6_addr *ip6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(ip6))
            return true;
        /* ::ffff:127.x.y.z, how a dual-stack socket sees an IPv4 loopback peer */
        return IN6_IS_ADDR_V4MAPPED(ip6) && ip6->s6_addr[12] == 127;
    }
    return false;
}

/* ---- resolution --------------------------------------------------------------------- */

static bool sock_addr_list_has(const struct sock_addr_list *l, const struct sockaddr *sa,
                               socklen_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].len == len && memcmp(&l->v[i].ss, sa, len) == 0)
            return true;
    return false;
}

int sock_resolve(const char *host, const char *port, int family, int socktype, int ai_flags,
                 struct sock_addr_list *out, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = family,
        .ai_socktype = socktype,
        .ai_flags = ai_flags,
    };
    struct addrinfo *res = NULL;

    out->n = 0;
    out->v = NULL;
    if ((ai_flags & AI_PASSIVE) && host && strcmp(host, "*") == 0)
        host = NULL;
    if (host && host[0] == '\0')
        host = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        if (rc == EAI_SYSTEM)
            snprintf(err, errlen, "%s", strerror(errno));
        else
            snprintf(err, errlen, "%s", gai_strerror(rc));
        return rc;
    }
    size_t count = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        count++;
    out->v = calloc(count ? count : 1, sizeof(*out->v));
    if (!out->v) {
        freeaddrinfo(res);
        snprintf(err, errlen, "%s", gai_strerror(EAI_MEMORY));
        return EAI_MEMORY;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(out->v[0].ss))
            continue;
        /* getaddrinfo lists an address once per socktype/protocol when none is given. */
        if (sock_addr_list_has(out, ai->ai_addr, ai->ai_addrlen))
            continue;
        memcpy(&out->v[out->n].ss, ai->ai_addr, ai->ai_addrlen);
        out->v[out->n].len = ai->ai_addrlen;
        out->n++;
    }
    freeaddrinfo(res);
    if (out->n == 0) {
        sock_addr_list_free(out);
        snprintf(err, errlen, "%s", gai_strerror(EAI_NONAME));
        return EAI_NONAME;
    }
    return 0;
}

void sock_addr_list_free(struct sock_addr_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- sockets ------------------------------------------------------------------------ */

static const char *sock_family_name(int family)
{
    switch (family) {
    case AF_INET:
        return "AF_INET";
    case AF_INET6:
        return "AF_INET6";
    case AF_UNIX:
        return "AF_UNIX";
    default:
        return "unknown family";
    }
}

/* Fills err with "<what> <addr>: <strerror>" and returns -e. */
static int sock_fail(char *err, size_t errlen, const char *what, const struct sock_addr *a, int e)
{
    char addr[SOCK_ADDR_STRLEN];

    if (a)
        snprintf(err, errlen, "%s %s: %s", what, sock_addr_format(a, addr, sizeof(addr)),
                 strerror(e));
    else
        snprintf(err, errlen, "%s: %s", what, strerror(e));
    return -e;
}

int sock_tcp_socket(int family, bool nonblock, char *err, size_t errlen)
{
    int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
    int fd = socket(family, type, IPPROTO_TCP);

    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket(%s, SOCK_STREAM): %s", sock_family_name(family), strerror(e));
        return -e;
    }
    return fd;
}

int sock_bind(int fd, const struct sock_addr *a, char *err, size_t errlen)
{
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
        return sock_fail(err, errlen, "bind", a, errno);
    return 0;
}

int sock_connect(int fd, const struct sock_addr *a, char *err, size_t errlen)
{
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
        return 0;
    if (errno == EINPROGRESS)
        return -EINPROGRESS;
    return sock_fail(err, errlen, "connect to", a, errno);
}

int sock_connect_result(int fd)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return -errno;
    return -soerr;
}

static int sock_setopt_int(int fd, int level, int name, int value)
{
    if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
        return -errno;
    return 0;
}

/* The listener's options, before bind. "setsockopt(NAME) for ADDR: reason" on failure. */
static int sock_listen_options(int fd, const struct sock_addr *a, unsigned flags, char *err,
                               size_t errlen)
{
    int rc;

    if ((flags & SOCK_F_REUSEADDR) && (rc = sock_setopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)))
        return sock_fail(err, errlen, "setsockopt(SO_REUSEADDR) for", a, -rc);
    if ((flags & SOCK_F_V6ONLY) && sock_addr_family(a) == AF_INET6 &&
        (rc = sock_setopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)))
        return sock_fail(err, errlen, "setsockopt(IPV6_V6ONLY) for", a, -rc);
    /* Accepted sockets inherit TCP_NODELAY from the listener on Linux. */
    if ((flags & SOCK_F_NODELAY) && (rc = sock_setopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1)))
        return sock_fail(err, errlen, "setsockopt(TCP_NODELAY) for", a, -rc);
    return 0;
}

int sock_tcp_listen(const struct sock_addr *a, int backlog, unsigned flags, struct sock_addr *bound,
                    char *err, size_t errlen)
{
    int fd = sock_tcp_socket(sock_addr_family(a), flags & SOCK_F_NONBLOCK, err, errlen);
    if (fd < 0)
        return fd;

    int rc = sock_listen_options(fd, a, flags, err, errlen);
    if (rc == 0)
        rc = sock_bind(fd, a, err, errlen);
    if (rc == 0 && listen(fd, backlog) < 0)
        rc = sock_fail(err, errlen, "listen on", a, errno);
    if (rc == 0 && bound && (rc = sock_local_addr(fd, bound)) < 0)
        sock_fail(err, errlen, "getsockname for", a, -rc);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int sock_accept(int lfd, struct sock_addr *peer)
{
    struct sock_addr tmp;
    struct sock_addr *p = peer ? peer : &tmp;

    p->len = sizeof(p->ss);
    int fd = accept4(lfd, (struct sockaddr *)&p->ss, &p->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int sock_local_addr(int fd, struct sock_addr *out)
{
    memset(out, 0, sizeof(*out));
    out->len = sizeof(out->ss);
    if (getsockname(fd, (struct sockaddr *)&out->ss, &out->len) < 0)
        return -errno;
    return 0;
}

int sock_set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && fcntl(fd, F_SETFL, want) < 0)
        return -errno;
    return 0;
}

int sock_set_nodelay(int fd, bool on)
{
    return sock_setopt_int(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

int sock_set_buffers(int fd, int rcvbuf, int sndbuf)
{
    int rc;

    if (rcvbuf && (rc = sock_setopt_int(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf)))
        return rc;
    if (sndbuf && (rc = sock_setopt_int(fd, SOL_SOCKET, SO_SNDBUF, sndbuf)))
        return rc;
    return 0;
}

int sock_fd_family(int fd)
{
    struct sock_addr a;
    int rc = sock_local_addr(fd, &a);
    return rc < 0 ? rc : sock_addr_family(&a);
}

int sock_set_tos(int fd, int tos)
{
    int family = sock_fd_family(fd);

    if (family < 0)
        return family;
    if (family == AF_INET6) {
        int rc = sock_setopt_int(fd, IPPROTO_IPV6, IPV6_TCLASS, tos);
        if (rc < 0)
            return rc;
        /* A dual-stack socket may carry IPv4 (mapped) traffic, which uses IP_TOS; best
         * effort, since a v6-only socket may refuse it. */
        (void)sock_setopt_int(fd, IPPROTO_IP, IP_TOS, tos);
        return 0;
    }
    return sock_setopt_int(fd, IPPROTO_IP, IP_TOS, tos);
}

int sock_set_congestion(int fd, const char *name)
{
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)strlen(name)) < 0)
        return -errno;
    return 0;
}

int sock_set_bind_no_port(int fd)
{
    return sock_setopt_int(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
}

ssize_t sock_send(int fd, const void *buf, size_t len)
{
    ssize_t n;

    do
        n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t sock_recv(int fd, void *buf, size_t len)
{
    ssize_t n;

    do
        n = recv(fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int sock_raise_nofile(unsigned long want, unsigned long *got)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t target = want;
        if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
            target = rl.rlim_max;
        if (target > rl.rlim_cur) {
            rl.rlim_cur = target;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        }
    }
    if (got)
        *got = rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1 : (unsigned long)rl.rlim_cur;
    return 0;
}

/* ---- TCP_INFO ----------------------------------------------------------------------- */

/* Copies field SRC of the kernel's struct tcp_info into OUT->DST only when the length the
 * kernel returned covers it: an older kernel returns a shorter struct. */
#define SOCK_TI_COPY(dst, src)                                              \
    do {                                                                    \
        if ((size_t)len >= offsetof(struct tcp_info, src) + sizeof(ki.src)) \
            out->dst = ki.src;                                              \
    } while (0)

int sock_get_tcp_info(int fd, struct sock_tcp_info *out)
{
    struct tcp_info ki;
    socklen_t len = sizeof(ki);

    memset(&ki, 0, sizeof(ki));
    memset(out, 0, sizeof(*out));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ki, &len) < 0)
        return -errno;

    SOCK_TI_COPY(state, tcpi_state);
    SOCK_TI_COPY(ca_state, tcpi_ca_state);
    SOCK_TI_COPY(retransmits, tcpi_retransmits);
    SOCK_TI_COPY(probes, tcpi_probes);
    SOCK_TI_COPY(backoff, tcpi_backoff);
    SOCK_TI_COPY(options, tcpi_options);
    /* The window scales are bit-fields in the byte after tcpi_options. */
    if ((size_t)len > offsetof(struct tcp_info, tcpi_options) + 1) {
        out->snd_wscale = ki.tcpi_snd_wscale;
        out->rcv_wscale = ki.tcpi_rcv_wscale;
    }
    SOCK_TI_COPY(rto_us, tcpi_rto);
    SOCK_TI_COPY(ato_us, tcpi_ato);
    SOCK_TI_COPY(snd_mss, tcpi_snd_mss);
    SOCK_TI_COPY(rcv_mss, tcpi_rcv_mss);
    SOCK_TI_COPY(unacked, tcpi_unacked);
    SOCK_TI_COPY(sacked, tcpi_sacked);
    SOCK_TI_COPY(lost, tcpi_lost);
    SOCK_TI_COPY(retrans, tcpi_retrans);
    SOCK_TI_COPY(fackets, tcpi_fackets);
    SOCK_TI_COPY(last_data_sent_ms, tcpi_last_data_sent);
    SOCK_TI_COPY(last_ack_sent_ms, tcpi_last_ack_sent);
    SOCK_TI_COPY(last_data_recv_ms, tcpi_last_data_recv);
    SOCK_TI_COPY(last_ack_recv_ms, tcpi_last_ack_recv);
    SOCK_TI_COPY(pmtu, tcpi_pmtu);
    SOCK_TI_COPY(rcv_ssthresh, tcpi_rcv_ssthresh);
    SOCK_TI_COPY(rtt_us, tcpi_rtt);
    SOCK_TI_COPY(rttvar_us, tcpi_rttvar);
    SOCK_TI_COPY(snd_ssthresh, tcpi_snd_ssthresh);
    SOCK_TI_COPY(snd_cwnd, tcpi_snd_cwnd);
    SOCK_TI_COPY(advmss, tcpi_advmss);
    SOCK_TI_COPY(reordering, tcpi_reordering);
    SOCK_TI_COPY(rcv_rtt_us, tcpi_rcv_rtt);
    SOCK_TI_COPY(rcv_space, tcpi_rcv_space);
    SOCK_TI_COPY(total_retrans, tcpi_total_retrans);
    SOCK_TI_COPY(bytes_acked, tcpi_bytes_acked);
    SOCK_TI_COPY(bytes_received, tcpi_bytes_received);
    SOCK_TI_COPY(delivery_rate_Bps, tcpi_delivery_rate);
    SOCK_TI_COPY(min_rtt_us, tcpi_min_rtt);
    return 0;
}
