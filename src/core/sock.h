#ifndef NETGRIND_CORE_SOCK_H
#define NETGRIND_CORE_SOCK_H

/* Socket helpers. Every function that can fail for a reason a person must read fills the
 * caller's err buffer with the failed call and the address, e.g.
 * "connect to 127.0.0.1:5000: Connection refused", and returns a negative errno (or, for
 * resolution, the negative getaddrinfo code as documented). Sockets are created
 * close-on-exec. Sends never raise SIGPIPE (MSG_NOSIGNAL). Any thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct sock_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

struct sock_addr_list {
    size_t n;
    struct sock_addr *v;
};

/* "host:port" for IPv4, "[host]:port" for IPv6; numeric. Fits in SOCK_ADDR_STRLEN. */
#define SOCK_ADDR_STRLEN 64
const char *sock_addr_format(const struct sock_addr *a, char *buf, size_t buflen);
/* The numeric host alone ("127.0.0.1", "::1"). */
const char *sock_addr_host(const struct sock_addr *a, char *buf, size_t buflen);
uint16_t sock_addr_port(const struct sock_addr *a);
void sock_addr_set_port(struct sock_addr *a, uint16_t port);
int sock_addr_family(const struct sock_addr *a);
bool sock_addr_is_loopback(const struct sock_addr *a);

/* getaddrinfo(host, port) with the given family (AF_UNSPEC for both), socktype and ai
 * flags (AI_PASSIVE for listeners; host may then be NULL or "*"). Fills out with every
 * distinct address in resolver order; out->v is malloc'd (sock_addr_list_free).
 * Returns 0, or getaddrinfo's EAI_* code (negative in glibc; pass it to gai_strerror) with
 * "<reason>" (gai_strerror's text) in err; the caller adds the host:port it was resolving. */
int sock_resolve(const char *host, const char *port, int family, int socktype, int ai_flags,
                 struct sock_addr_list *out, char *err, size_t errlen);
void sock_addr_list_free(struct sock_addr_list *l);

/* A TCP socket for the family, non-blocking if asked. fd or -errno. */
int sock_tcp_socket(int family, bool nonblock, char *err, size_t errlen);
/* bind() with the address in the message. 0 or -errno. */
int sock_bind(int fd, const struct sock_addr *a, char *err, size_t errlen);
/* Starts a connect: 0 when connected at once, -EINPROGRESS on a non-blocking socket that
 * is still connecting, else -errno with a message. */
int sock_connect(int fd, const struct sock_addr *a, char *err, size_t errlen);
/* The outcome of a non-blocking connect (SO_ERROR): 0 or -errno. */
int sock_connect_result(int fd);

/* A listening TCP socket bound to a (port 0 picks a free port). flags: SOCK_F_*.
 * *bound (may be NULL) receives the address actually bound. fd or -errno with a message. */
#define SOCK_F_NONBLOCK 1u
#define SOCK_F_REUSEADDR 2u
#define SOCK_F_NODELAY 4u
#define SOCK_F_V6ONLY 8u
int sock_tcp_listen(const struct sock_addr *a, int backlog, unsigned flags, struct sock_addr *bound,
                    char *err, size_t errlen);
/* accept4(), non-blocking and close-on-exec; peer may be NULL. fd or -errno. */
int sock_accept(int lfd, struct sock_addr *peer);
/* The local address of a socket. 0 or -errno. */
int sock_local_addr(int fd, struct sock_addr *out);
/* The address family of fd's local address (AF_INET, AF_INET6), or -errno. */
int sock_fd_family(int fd);

int sock_set_nonblock(int fd, bool on);
int sock_set_nodelay(int fd, bool on);
/* SO_RCVBUF / SO_SNDBUF when nonzero. 0 or -errno. */
int sock_set_buffers(int fd, int rcvbuf, int sndbuf);
/* IP_TOS or IPV6_TCLASS depending on the socket's family. */
int sock_set_tos(int fd, int tos);
int sock_set_congestion(int fd, const char *name);
/* IP_BIND_ADDRESS_NO_PORT: bind a source address without reserving a port until connect. */
int sock_set_bind_no_port(int fd);

/* send() with MSG_NOSIGNAL: bytes sent, or -errno (-EAGAIN on a full non-blocking socket). */
ssize_t sock_send(int fd, const void *buf, size_t len);
/* recv(): bytes read (0 at EOF) or -errno. */
ssize_t sock_recv(int fd, void *buf, size_t len);

/* Raises RLIMIT_NOFILE's soft limit towards want (up to the hard limit). *got receives
 * the soft limit in force afterwards. 0 or -errno. */
int sock_raise_nofile(unsigned long want, unsigned long *got);

/* The kernel's TCP_INFO, the fields every tool reports, in one struct. */
struct sock_tcp_info {
    uint8_t state, ca_state, retransmits, probes, backoff, options;
    uint8_t snd_wscale, rcv_wscale;
    uint32_t rto_us, ato_us, snd_mss, rcv_mss;
    uint32_t unacked, sacked, lost, retrans, fackets;
    uint32_t last_data_sent_ms, last_ack_sent_ms, last_data_recv_ms, last_ack_recv_ms;
    uint32_t pmtu, rcv_ssthresh, rtt_us, rttvar_us, snd_ssthresh, snd_cwnd, advmss;
    uint32_t reordering, rcv_rtt_us, rcv_space, total_retrans;
    uint64_t bytes_acked, bytes_received, delivery_rate_Bps, min_rtt_us;
};
/* getsockopt(TCP_INFO) into *out (fields the kernel lacks are 0). 0 or -errno. */
int sock_get_tcp_info(int fd, struct sock_tcp_info *out);

#endif
