/* Socket helpers over loopback only: listeners on port 0 (v4, and v6 when the host has
 * it), non-blocking connect, error texts, resolution of names and numbers, address
 * formatting, TCP_INFO, MSG_NOSIGNAL, close-on-exec and option setters. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/sock.h"
#include "core/util.h"

#define WAIT_MS 3000

static struct sock_addr v4(const char *ip, uint16_t port)
{
    struct sock_addr a;
    struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;

    memset(&a, 0, sizeof(a));
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    a.len = sizeof(*in);
    return a;
}

static struct sock_addr v6(const char *ip, uint16_t port)
{
    struct sock_addr a;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;

    memset(&a, 0, sizeof(a));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    a.len = sizeof(*in6);
    return a;
}

static bool is_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl >= 0 && (fl & FD_CLOEXEC);
}

static void wait_for(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    assert_int_equal(poll(&p, 1, WAIT_MS), 1);
}

/* ---- addresses ---------------------------------------------------------------------- */

static void test_format(void **state)
{
    (void)state;
    char buf[SOCK_ADDR_STRLEN];
    struct sock_addr a = v4("127.0.0.1", 5000);
    struct sock_addr b = v6("::1", 5001);
    struct sock_addr c = v6("2001:db8::ffff:1:2", 65535);

    assert_string_equal(sock_addr_format(&a, buf, sizeof(buf)), "127.0.0.1:5000");
    assert_string_equal(sock_addr_host(&a, buf, sizeof(buf)), "127.0.0.1");
    assert_string_equal(sock_addr_format(&b, buf, sizeof(buf)), "[::1]:5001");
    assert_string_equal(sock_addr_host(&b, buf, sizeof(buf)), "::1");
    assert_string_equal(sock_addr_format(&c, buf, sizeof(buf)), "[2001:db8::ffff:1:2]:65535");
    assert_int_equal(sock_addr_family(&a), AF_INET);
    assert_int_equal(sock_addr_family(&b), AF_INET6);
    assert_int_equal(sock_addr_port(&a), 5000);
    sock_addr_set_port(&a, 0);
    sock_addr_set_port(&b, 443);
    assert_string_equal(sock_addr_format(&a, buf, sizeof(buf)), "127.0.0.1:0");
    assert_string_equal(sock_addr_format(&b, buf, sizeof(buf)), "[::1]:443");
    /* The longest v6 text with a port still fits. */
    struct sock_addr d = v6("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535);
    sock_addr_format(&d, buf, sizeof(buf));
    assert_true(strlen(buf) < SOCK_ADDR_STRLEN);
    assert_non_null(strstr(buf, "]:65535"));
    /* Truncation is safe. */
    char tiny[6];
    sock_addr_format(&c, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), 5);
}

static void test_loopback(void **state)
{
    (void)state;
    struct sock_addr a = v4("127.1.2.3", 1), b = v4("10.0.0.1", 1), c = v6("::1", 1),
                     d = v6("::ffff:127.0.0.1", 1), e = v6("2001:db8::1", 1);

    assert_true(sock_addr_is_loopback(&a));
    assert_false(sock_addr_is_loopback(&b));
    assert_true(sock_addr_is_loopback(&c));
    assert_true(sock_addr_is_loopback(&d));
    assert_false(sock_addr_is_loopback(&e));
}

static void test_resolve(void **state)
{
    (void)state;
    struct sock_addr_list l;
    char err[256] = "", buf[SOCK_ADDR_STRLEN];

    assert_int_equal(
        sock_resolve("localhost", "7", AF_UNSPEC, SOCK_STREAM, 0, &l, err, sizeof(err)), 0);
    assert_true(l.n >= 1);
    for (size_t i = 0; i < l.n; i++) {
        assert_true(sock_addr_is_loopback(&l.v[i]));
        assert_int_equal(sock_addr_port(&l.v[i]), 7);
    }
    sock_addr_list_free(&l);
    assert_null(l.v);

    /* Numeric, and no socktype given: still one entry (duplicates per protocol merged). */
    assert_int_equal(sock_resolve("127.0.0.1", "80", AF_UNSPEC, 0, 0, &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(sock_addr_format(&l.v[0], buf, sizeof(buf)), "127.0.0.1:80");
    sock_addr_list_free(&l);

    assert_int_equal(
        sock_resolve("::1", "80", AF_INET6, SOCK_STREAM, AI_NUMERICHOST, &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(sock_addr_format(&l.v[0], buf, sizeof(buf)), "[::1]:80");
    sock_addr_list_free(&l);

    /* Passive with "*": the wildcard address. */
    assert_int_equal(sock_resolve("*", "9", AF_INET, SOCK_STREAM, AI_PASSIVE, &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.n, 1);
    assert_string_equal(sock_addr_format(&l.v[0], buf, sizeof(buf)), "0.0.0.0:9");
    sock_addr_list_free(&l);

    /* Failure: the EAI code and gai_strerror's text (AI_NUMERICHOST: no DNS query). */
    int rc = sock_resolve("not-a-number", "80", AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST, &l, err,
                          sizeof(err));
    assert_int_equal(rc, EAI_NONAME);
    assert_string_equal(err, gai_strerror(EAI_NONAME));
    assert_int_equal(l.n, 0);
    assert_null(l.v);
    rc = sock_resolve("127.0.0.1", "no-such-service-xyz", AF_INET, SOCK_STREAM, 0, &l, err,
                      sizeof(err));
    assert_true(rc != 0);
    assert_string_equal(err, gai_strerror(rc));
}

/* ---- listen, connect, accept -------------------------------------------------------- */

static void test_listen_v4_port0(void **state)
{
    (void)state;
    char err[256] = "", buf[SOCK_ADDR_STRLEN], want[SOCK_ADDR_STRLEN];
    struct sock_addr a = v4("127.0.0.1", 0), bound;

    int lfd = sock_tcp_listen(&a, 16, SOCK_F_NONBLOCK | SOCK_F_REUSEADDR | SOCK_F_NODELAY, &bound,
                              err, sizeof(err));
    assert_true(lfd >= 0);
    assert_true(is_cloexec(lfd));
    assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    assert_int_equal(sock_addr_family(&bound), AF_INET);
    assert_true(sock_addr_port(&bound) != 0);
    snprintf(want, sizeof(want), "127.0.0.1:%u", sock_addr_port(&bound));
    assert_string_equal(sock_addr_format(&bound, buf, sizeof(buf)), want);

    /* sock_local_addr agrees. */
    struct sock_addr again;
    assert_int_equal(sock_local_addr(lfd, &again), 0);
    assert_int_equal(sock_addr_port(&again), sock_addr_port(&bound));

    /* Nothing to accept yet on a non-blocking listener. */
    assert_int_equal(sock_accept(lfd, NULL), -EAGAIN);

    /* A second bind to the same port names the call and the address. */
    int fd = sock_tcp_socket(AF_INET, false, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(sock_bind(fd, &bound, err, sizeof(err)), -EADDRINUSE);
    snprintf(want, sizeof(want), "bind 127.0.0.1:%u: ", sock_addr_port(&bound));
    assert_true(strncmp(err, want, strlen(want)) == 0);
    assert_string_equal(err + strlen(want), strerror(EADDRINUSE));
    close(fd);
    close(lfd);
}

static void test_listen_v6_port0(void **state)
{
    (void)state;
    char err[256] = "", buf[SOCK_ADDR_STRLEN], want[SOCK_ADDR_STRLEN];
    struct sock_addr a = v6("::1", 0), bound;

    int lfd = sock_tcp_listen(&a, 16, SOCK_F_V6ONLY, &bound, err, sizeof(err));
    if (lfd == -EAFNOSUPPORT || lfd == -EADDRNOTAVAIL) {
        print_message("no IPv6 loopback here (%s): skipped\n", err);
        skip();
    }
    assert_true(lfd >= 0);
    assert_true(is_cloexec(lfd));
    int v6only = 0;
    socklen_t len = sizeof(v6only);
    assert_int_equal(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
    assert_int_equal(v6only, 1);
    assert_true(sock_addr_port(&bound) != 0);
    snprintf(want, sizeof(want), "[::1]:%u", sock_addr_port(&bound));
    assert_string_equal(sock_addr_format(&bound, buf, sizeof(buf)), want);

    /* Connect and accept over v6. */
    int cfd = sock_tcp_socket(AF_INET6, true, err, sizeof(err));
    assert_true(cfd >= 0);
    int rc = sock_connect(cfd, &bound, err, sizeof(err));
    assert_true(rc == 0 || rc == -EINPROGRESS);
    wait_for(cfd, POLLOUT);
    assert_int_equal(sock_connect_result(cfd), 0);
    wait_for(lfd, POLLIN);
    struct sock_addr peer;
    int afd = sock_accept(lfd, &peer);
    assert_true(afd >= 0);
    assert_int_equal(sock_addr_family(&peer), AF_INET6);
    assert_true(sock_addr_is_loopback(&peer));
    close(afd);
    close(cfd);
    close(lfd);
}

/* A connected pair over 127.0.0.1: *c client (non-blocking), *s accepted server side. */
static void tcp_pair(int *c, int *s)
{
    char err[256] = "";
    struct sock_addr a = v4("127.0.0.1", 0), bound, peer, local;

    int lfd = sock_tcp_listen(&a, 4, 0, &bound, err, sizeof(err));
    assert_true(lfd >= 0);
    *c = sock_tcp_socket(AF_INET, true, err, sizeof(err));
    assert_true(*c >= 0);
    int rc = sock_connect(*c, &bound, err, sizeof(err));
    assert_true(rc == 0 || rc == -EINPROGRESS);
    wait_for(*c, POLLOUT);
    assert_int_equal(sock_connect_result(*c), 0);
    *s = sock_accept(lfd, &peer);
    assert_true(*s >= 0);
    assert_true(is_cloexec(*c));
    assert_true(is_cloexec(*s));
    assert_true(fcntl(*s, F_GETFL) & O_NONBLOCK);
    /* The accepted peer is the client's local address. */
    assert_int_equal(sock_local_addr(*c, &local), 0);
    assert_int_equal(sock_addr_port(&peer), sock_addr_port(&local));
    close(lfd);
}

static void test_connect_nonblocking_and_data(void **state)
{
    (void)state;
    int c, s;
    char buf[64];

    tcp_pair(&c, &s);
    assert_int_equal(sock_send(c, "ping", 4), 4);
    wait_for(s, POLLIN);
    assert_int_equal(sock_recv(s, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(sock_recv(s, buf, sizeof(buf)), -EAGAIN);
    close(c);
    wait_for(s, POLLIN);
    assert_int_equal(sock_recv(s, buf, sizeof(buf)), 0); /* EOF */
    close(s);
}

static void test_connect_refused_message(void **state)
{
    (void)state;
    char err[256] = "", want[128];
    struct sock_addr a = v4("127.0.0.1", 0), bound;

    /* A port that was free a moment ago: bind it, note it, close it. */
    int lfd = sock_tcp_listen(&a, 1, 0, &bound, err, sizeof(err));
    assert_true(lfd >= 0);
    close(lfd);
    int fd = sock_tcp_socket(AF_INET, false, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(sock_connect(fd, &bound, err, sizeof(err)), -ECONNREFUSED);
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%u: %s", sock_addr_port(&bound),
             strerror(ECONNREFUSED));
    assert_string_equal(err, want);
    close(fd);

    /* Non-blocking: the refusal arrives through SO_ERROR. */
    fd = sock_tcp_socket(AF_INET, true, err, sizeof(err));
    assert_true(fd >= 0);
    int rc = sock_connect(fd, &bound, err, sizeof(err));
    if (rc == -EINPROGRESS) {
        wait_for(fd, POLLOUT);
        rc = sock_connect_result(fd);
    }
    assert_int_equal(rc, -ECONNREFUSED);
    close(fd);
}

static void test_socket_error_message(void **state)
{
    (void)state;
    char err[256] = "";

    int rc = sock_tcp_socket(12345, false, err, sizeof(err));
    assert_true(rc < 0);
    assert_non_null(strstr(err, "socket("));
    assert_non_null(strstr(err, strerror(-rc)));
}

static void test_send_no_sigpipe(void **state)
{
    (void)state;
    int c, s;
    char buf[4096];
    ssize_t rc = 0;

    memset(buf, 'x', sizeof(buf));
    tcp_pair(&c, &s);
    close(s);
    /* The first sends may be accepted before the RST arrives; bounded retries. A SIGPIPE
     * would kill this test program. */
    uint64_t deadline = clock_mono_ns() + 3 * NS_PER_SEC;
    while (clock_mono_ns() < deadline) {
        rc = sock_send(c, buf, sizeof(buf));
        if (rc == -EPIPE || rc == -ECONNRESET)
            break;
        struct pollfd p = {.fd = c, .events = POLLOUT};
        poll(&p, 1, 10);
    }
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    close(c);
}

/* ---- options ------------------------------------------------------------------------ */

static int get_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

static void test_options(void **state)
{
    (void)state;
    int c, s;

    tcp_pair(&c, &s);
    assert_int_equal(sock_set_nodelay(c, true), 0);
    assert_int_equal(get_int(c, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(sock_set_nodelay(c, false), 0);
    assert_int_equal(get_int(c, IPPROTO_TCP, TCP_NODELAY), 0);

    assert_int_equal(sock_set_buffers(c, 65536, 0), 0);
    assert_true(get_int(c, SOL_SOCKET, SO_RCVBUF) >= 65536); /* the kernel doubles it */
    assert_int_equal(sock_set_buffers(c, 0, 131072), 0);
    assert_true(get_int(c, SOL_SOCKET, SO_SNDBUF) >= 131072);

    assert_int_equal(sock_set_tos(c, 0x10), 0);
    assert_int_equal(get_int(c, IPPROTO_IP, IP_TOS), 0x10);

    assert_int_equal(sock_set_nonblock(c, false), 0);
    assert_false(fcntl(c, F_GETFL) & O_NONBLOCK);
    assert_int_equal(sock_set_nonblock(c, true), 0);
    assert_true(fcntl(c, F_GETFL) & O_NONBLOCK);

    /* Congestion control: "reno" is always built in. */
    char name[32] = "";
    socklen_t len = sizeof(name);
    assert_int_equal(sock_set_congestion(c, "reno"), 0);
    assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "reno");
    assert_true(sock_set_congestion(c, "no-such-cc") < 0);

    int fd = sock_tcp_socket(AF_INET, false, NULL, 0);
    assert_true(fd >= 0);
    assert_int_equal(sock_set_bind_no_port(fd), 0);
    assert_int_equal(get_int(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT), 1);
    close(fd);
    assert_true(sock_set_nodelay(-1, true) == -EBADF);
    close(c);
    close(s);
}

static void test_tcp_info(void **state)
{
    (void)state;
    int c, s;
    char buf[1000];
    struct sock_tcp_info ti;

    memset(buf, 'y', sizeof(buf));
    tcp_pair(&c, &s);
    assert_int_equal(sock_send(c, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    size_t got = 0;
    while (got < sizeof(buf)) {
        wait_for(s, POLLIN);
        ssize_t n = sock_recv(s, buf, sizeof(buf));
        assert_true(n > 0);
        got += (size_t)n;
    }
    /* The ACK for the data may still be on its way: poll for it with a deadline. */
    uint64_t deadline = clock_mono_ns() + 3 * NS_PER_SEC;
    do {
        assert_int_equal(sock_get_tcp_info(c, &ti), 0);
    } while (ti.bytes_acked < sizeof(buf) && clock_mono_ns() < deadline);
    assert_int_equal(ti.state, 1); /* TCP_ESTABLISHED */
    assert_true(ti.snd_mss > 0);
    assert_true(ti.pmtu > 0);
    assert_true(ti.snd_cwnd > 0);
    assert_true(ti.rto_us > 0);
    assert_true(ti.rtt_us > 0);
    assert_true(ti.bytes_acked >= sizeof(buf));
    assert_int_equal(sock_get_tcp_info(s, &ti), 0);
    assert_true(ti.bytes_received >= sizeof(buf));
    assert_int_equal(sock_get_tcp_info(-1, &ti), -EBADF);
    close(c);
    close(s);
}

static void test_raise_nofile(void **state)
{
    (void)state;
    struct rlimit old;
    unsigned long got = 0;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    /* Lower request: no change. */
    assert_int_equal(sock_raise_nofile(1, &got), 0);
    assert_int_equal(got, (unsigned long)old.rlim_cur);
    /* Up to the hard limit at most. */
    assert_int_equal(sock_raise_nofile((unsigned long)-2, &got), 0);
    if (old.rlim_max != RLIM_INFINITY)
        assert_int_equal(got, (unsigned long)old.rlim_max);
    struct rlimit now;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
    assert_true(now.rlim_cur >= old.rlim_cur);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_listen_v4_port0),
        cmocka_unit_test(test_listen_v6_port0),
        cmocka_unit_test(test_connect_nonblocking_and_data),
        cmocka_unit_test(test_connect_refused_message),
        cmocka_unit_test(test_socket_error_message),
        cmocka_unit_test(test_send_no_sigpipe),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_tcp_info),
        cmocka_unit_test(test_raise_nofile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
