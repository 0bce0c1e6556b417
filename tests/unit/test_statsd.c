/* Unit tests for core/statsd: exact line bytes, batching boundaries, a loopback send. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/statsd.h"

/* ---- values -------------------------------------------------------------------------- */

static void check_g(double v, const char *want)
{
    char buf[STATSD_VALUE_BUF];
    assert_int_equal(statsd_fmt_g(buf, sizeof(buf), v), (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_value_formats(void **state)
{
    (void)state;
    /* UDPing: C++ stream default, 6 significant digits (spec §5.3 examples). */
    check_g(4.578589123, "4.57859");
    check_g(0.28755, "0.28755");
    check_g(0.7581791, "0.758179");
    check_g(29.0, "29");
    check_g(-9521.74, "-9521.74");
    check_g(1234567.0, "1.23457e+06");

    char buf[STATSD_VALUE_BUF];
    /* tcpkali: doubles with %.1f, integers as integers. */
    assert_int_equal(statsd_fmt_fixed(buf, sizeof(buf), 0.44, 1), 3);
    assert_string_equal(buf, "0.4");
    statsd_fmt_fixed(buf, sizeof(buf), 13.06, 1);
    assert_string_equal(buf, "13.1");
    assert_int_equal(statsd_fmt_u64(buf, sizeof(buf), UINT64_MAX), 20);
    assert_string_equal(buf, "18446744073709551615");
    statsd_fmt_i64(buf, sizeof(buf), -5);
    assert_string_equal(buf, "-5");

    /* Not finite: refused, never "nan" on the wire. */
    assert_int_equal(statsd_fmt_g(buf, sizeof(buf), NAN), -EINVAL);
    assert_int_equal(statsd_fmt_fixed(buf, sizeof(buf), INFINITY, 1), -EINVAL);
    /* Too small a buffer. */
    assert_int_equal(statsd_fmt_u64(buf, 3, 1234), -ENOSPC);
    assert_string_equal(buf, "");
    assert_int_equal(statsd_fmt_fixed(buf, sizeof(buf), 1e40, 1), -ENOSPC);
}

/* ---- lines --------------------------------------------------------------------------- */

static void test_plain_udping_line(void **state)
{
    (void)state;
    char line[256];
    /* udping.md §5.3: "localhost.22012.localhost.22001.count:29|c" */
    int n = statsd_line(line, sizeof(line), "localhost.22012.localhost.22001", "count", "29",
                        STATSD_COUNTER);
    assert_string_equal(line, "localhost.22012.localhost.22001.count:29|c\n");
    assert_int_equal(n, (int)strlen(line));

    char v[STATSD_VALUE_BUF];
    statsd_fmt_g(v, sizeof(v), 0.245419);
    statsd_line(line, sizeof(line), "localhost.22012.localhost.22001", "max", v, STATSD_GAUGE);
    assert_string_equal(line, "localhost.22012.localhost.22001.max:0.245419|g\n");
}

static void test_plain_tcpkali_lines(void **state)
{
    (void)state;
    char line[256], v[STATSD_VALUE_BUF];
    /* tcpkali.md §6: <ns>.<name>:<value>|<type>, namespace "tcpkali". */
    statsd_fmt_u64(v, sizeof(v), 10);
    statsd_line(line, sizeof(line), "tcpkali", "connections.opened", v, STATSD_COUNTER);
    assert_string_equal(line, "tcpkali.connections.opened:10|c\n");
    statsd_line(line, sizeof(line), "tcpkali", "connections.total.out", v, STATSD_GAUGE);
    assert_string_equal(line, "tcpkali.connections.total.out:10|g\n");
    statsd_fmt_fixed(v, sizeof(v), 0.4, 1);
    statsd_line(line, sizeof(line), "tcpkali", "latency.message.99.5", v, STATSD_GAUGE);
    assert_string_equal(line, "tcpkali.latency.message.99.5:0.4|g\n");
    /* A timer, and no prefix at all. */
    statsd_line(line, sizeof(line), NULL, "rtt", "12", STATSD_TIMER);
    assert_string_equal(line, "rtt:12|ms\n");
    statsd_line(line, sizeof(line), "", "rtt", "12", STATSD_TIMER);
    assert_string_equal(line, "rtt:12|ms\n");
}

static void test_tagged_udping_line(void **state)
{
    (void)state;
    char line[256], v[STATSD_VALUE_BUF];
    const struct statsd_tag tags[] = {
        {"from_host", "localhost"},
        {"from_port", "22012"},
        {"to_host", "localhost"},
        {"to_port", "22001"},
    };
    /* udping.md §5.4, exactly. */
    statsd_fmt_g(v, sizeof(v), 0.758179);
    int n = statsd_line_tagged(line, sizeof(line), "mymetric", "sos", tags, 4, v, STATSD_COUNTER);
    assert_string_equal(line, "mymetric.sos,from_host=localhost,from_port=22012,"
                              "to_host=localhost,to_port=22001:0.758179|c\n");
    assert_int_equal(n, (int)strlen(line));

    statsd_line_tagged(line, sizeof(line), "udping", "max", tags, 4, "0.5", STATSD_GAUGE);
    assert_string_equal(line, "udping.max,from_host=localhost,from_port=22012,"
                              "to_host=localhost,to_port=22001:0.5|g\n");
    /* No tags: the plain form. */
    statsd_line_tagged(line, sizeof(line), "udping", "count", NULL, 0, "3", STATSD_COUNTER);
    assert_string_equal(line, "udping.count:3|c\n");
}

static void test_names_sanitized(void **state)
{
    (void)state;
    char line[256];
    statsd_line(line, sizeof(line), "a b", "c:d|e@f,g=h\ni", "1", STATSD_COUNTER);
    assert_string_equal(line, "a_b.c_d_e_f_g_h_i:1|c\n");
    const struct statsd_tag tags[] = {{"k=1", "v,2:3"}};
    statsd_line_tagged(line, sizeof(line), "m", "n", tags, 1, "1", STATSD_GAUGE);
    assert_string_equal(line, "m.n,k_1=v_2_3:1|g\n");

    char comp[64];
    assert_int_equal(statsd_path_component(comp, sizeof(comp), "127.0.0.1"), 9);
    assert_string_equal(comp, "127_0_0_1");
    statsd_path_component(comp, sizeof(comp), "host.example:x");
    assert_string_equal(comp, "host_example_x");
    assert_int_equal(statsd_path_component(comp, 4, "abcdef"), 3);
    assert_string_equal(comp, "abc");
}

static void test_line_errors(void **state)
{
    (void)state;
    char line[32];
    assert_int_equal(statsd_line(line, sizeof(line), "p", "", "1", STATSD_COUNTER), -EINVAL);
    assert_int_equal(statsd_line(line, sizeof(line), "p", "n", NULL, STATSD_COUNTER), -EINVAL);
    const struct statsd_tag bad[] = {{"", "v"}};
    assert_int_equal(statsd_line_tagged(line, sizeof(line), "m", "n", bad, 1, "1", STATSD_GAUGE),
                     -EINVAL);
    /* "p.n:1|c\n" is 8 bytes: needs 9 with the NUL. */
    assert_int_equal(statsd_line(line, 9, "p", "n", "1", STATSD_COUNTER), 8);
    assert_int_equal(statsd_line(line, 8, "p", "n", "1", STATSD_COUNTER), -ENOSPC);
    assert_string_equal(line, "");
    assert_int_equal(statsd_line(line, 0, "p", "n", "1", STATSD_COUNTER), -ENOSPC);
}

/* ---- batcher ------------------------------------------------------------------------- */

/* A send function that records datagrams, and can be told to fail. */
struct capture {
    int n;
    char data[8][STATSD_DATAGRAM_MAX + 1];
    size_t len[8];
    int fail_with; /* 0, or the negative errno to return */
};

static int capture_send(const char *data, size_t len, void *arg)
{
    struct capture *c = arg;
    if (c->fail_with)
        return c->fail_with;
    assert_true(c->n < 8);
    memcpy(c->data[c->n], data, len);
    c->data[c->n][len] = '\0';
    c->len[c->n] = len;
    c->n++;
    return 0;
}

static struct capture cap;
static struct statsd_batch batch;

static int add(const char *line)
{
    return statsd_batch_add(&batch, line, strlen(line));
}

static void test_batch_init_errors(void **state)
{
    (void)state;
    assert_int_equal(statsd_batch_init(&batch, 0, capture_send, &cap), -EINVAL);
    assert_int_equal(statsd_batch_init(&batch, STATSD_DATAGRAM_MAX + 1, capture_send, &cap),
                     -EINVAL);
    assert_int_equal(statsd_batch_init(&batch, 100, NULL, &cap), -EINVAL);
    assert_int_equal(statsd_batch_init(&batch, STATSD_DATAGRAM_MAX, capture_send, &cap), 0);
}

static void test_batch_packs_lines(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof(cap));
    assert_int_equal(statsd_batch_init(&batch, 20, capture_send, &cap), 0);
    assert_int_equal(statsd_batch_flush(&batch), 0); /* empty: no datagram */
    assert_int_equal(cap.n, 0);

    assert_int_equal(add("aaaa:1|c\n"), 0); /* 9 bytes */
    assert_int_equal(add("bbbb:2|c\n"), 0); /* 18 */
    assert_int_equal(cap.n, 0);
    assert_int_equal(add("cc:3|c\n"), 0); /* 7: 25 > 20, so the first two go out */
    assert_int_equal(cap.n, 1);
    assert_string_equal(cap.data[0], "aaaa:1|c\nbbbb:2|c\n");
    assert_int_equal(statsd_batch_flush(&batch), 0);
    assert_int_equal(cap.n, 2);
    assert_string_equal(cap.data[1], "cc:3|c\n");
    assert_int_equal(batch.datagrams, 2);
    assert_int_equal(statsd_batch_flush(&batch), 0); /* nothing left */
    assert_int_equal(cap.n, 2);
}

static void test_batch_exact_fit_and_one_over(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof(cap));
    statsd_batch_init(&batch, 20, capture_send, &cap);
    /* 9 + 11 = 20: exactly the limit, one datagram. */
    add("aaaa:1|c\n");
    add("bbbbbb:2|c\n");
    assert_int_equal(cap.n, 0);
    add("x:1|c\n");
    assert_int_equal(cap.n, 1);
    assert_int_equal(cap.len[0], 20);
    assert_string_equal(cap.data[0], "aaaa:1|c\nbbbbbb:2|c\n");

    /* The waiting "x:1|c\n" (6) plus 14 bytes is again exactly 20: still one datagram. */
    add("yyyyyyyy:22|c\n");
    assert_int_equal(cap.n, 1);
    statsd_batch_flush(&batch);
    assert_int_equal(cap.n, 2);
    assert_string_equal(cap.data[1], "x:1|c\nyyyyyyyy:22|c\n");

    /* 6 + 15 = 21: one byte too many, so the second line starts a new datagram. */
    add("x:1|c\n");
    add("zzzzzzzzz:22|c\n");
    assert_int_equal(cap.n, 3);
    assert_string_equal(cap.data[2], "x:1|c\n");
    statsd_batch_flush(&batch);
    assert_int_equal(cap.n, 4);
    assert_string_equal(cap.data[3], "zzzzzzzzz:22|c\n");
}

static void test_batch_line_of_exactly_limit(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof(cap));
    statsd_batch_init(&batch, 10, capture_send, &cap);
    add("a:1|c\n");
    assert_int_equal(add("abcde:1|c\n"), 0); /* 10 bytes: its own, full datagram */
    assert_int_equal(cap.n, 1);
    statsd_batch_flush(&batch);
    assert_int_equal(cap.n, 2);
    assert_int_equal(cap.len[1], 10);
    assert_string_equal(cap.data[1], "abcde:1|c\n");
}

static void test_batch_oversize_line_refused(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof(cap));
    statsd_batch_init(&batch, 10, capture_send, &cap);
    add("a:1|c\n");
    assert_int_equal(add("abcdef:1|c\n"), -EMSGSIZE); /* 11 > 10 */
    assert_int_equal(batch.oversize, 1);
    assert_int_equal(cap.n, 0); /* the waiting line is neither sent nor lost */
    statsd_batch_flush(&batch);
    assert_int_equal(cap.n, 1);
    assert_string_equal(cap.data[0], "a:1|c\n");
}

static void test_batch_bad_lines(void **state)
{
    (void)state;
    statsd_batch_init(&batch, 100, capture_send, &cap);
    assert_int_equal(add(""), -EINVAL);
    assert_int_equal(add("no newline"), -EINVAL);
    assert_int_equal(statsd_batch_add(&batch, NULL, 3), -EINVAL);
}

static void test_batch_send_error(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof(cap));
    statsd_batch_init(&batch, 12, capture_send, &cap);
    add("a:1|c\n");
    cap.fail_with = -ECONNREFUSED;
    assert_int_equal(add("bb:2|c\n"), -ECONNREFUSED); /* the first datagram failed... */
    assert_int_equal(batch.send_errors, 1);
    cap.fail_with = 0;
    assert_int_equal(statsd_batch_flush(&batch), 0); /* ...but this line was kept */
    assert_int_equal(cap.n, 1);
    assert_string_equal(cap.data[0], "bb:2|c\n");
    cap.fail_with = -EAGAIN;
    add("c:3|c\n");
    assert_int_equal(statsd_batch_flush(&batch), -EAGAIN);
    assert_int_equal(batch.len, 0);
    assert_int_equal(batch.send_errors, 2);
    assert_int_equal(batch.datagrams, 1);
}

/* ---- sender over loopback ------------------------------------------------------------ */

static void test_sender_loopback(void **state)
{
    (void)state;
    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(rx >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(rx, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t alen = sizeof(a);
    assert_int_equal(getsockname(rx, (struct sockaddr *)&a, &alen), 0);

    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct statsd_sender s;
    char err[256] = "";
    assert_int_equal(statsd_sender_open(&s, (struct sockaddr *)&a, sizeof(a),
                                        (struct sockaddr *)&src, sizeof(src), err, sizeof(err)),
                     0);
    statsd_batch_init(&batch, STATSD_DATAGRAM_DEFAULT, statsd_sender_send, &s);
    assert_int_equal(add("udping.count:3|c\n"), 0);
    assert_int_equal(add("udping.max:0.5|g\n"), 0);
    assert_int_equal(statsd_batch_flush(&batch), 0);

    struct pollfd pfd = {.fd = rx, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    char buf[2048];
    ssize_t n = recv(rx, buf, sizeof(buf) - 1, 0);
    assert_int_equal(n, 34);
    buf[n] = '\0';
    assert_string_equal(buf, "udping.count:3|c\nudping.max:0.5|g\n");

    statsd_sender_close(&s);
    statsd_sender_close(&s); /* idempotent */
    assert_int_equal(statsd_sender_send("x:1|c\n", 6, &s), -EBADF);
    close(rx);
}

static void test_sender_open_error(void **state)
{
    (void)state;
    /* Binding to an address of the other family fails, and says where. */
    struct sockaddr_in dst = {
        .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 src = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct statsd_sender s;
    char err[256] = "";
    int rc = statsd_sender_open(&s, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&src,
                                sizeof(src), err, sizeof(err));
    assert_true(rc < 0);
    assert_int_equal(s.fd, -1);
    assert_non_null(strstr(err, "bind to [::1]:0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_formats),
        cmocka_unit_test(test_plain_udping_line),
        cmocka_unit_test(test_plain_tcpkali_lines),
        cmocka_unit_test(test_tagged_udping_line),
        cmocka_unit_test(test_names_sanitized),
        cmocka_unit_test(test_line_errors),
        cmocka_unit_test(test_batch_init_errors),
        cmocka_unit_test(test_batch_packs_lines),
        cmocka_unit_test(test_batch_exact_fit_and_one_over),
        cmocka_unit_test(test_batch_line_of_exactly_limit),
        cmocka_unit_test(test_batch_oversize_line_refused),
        cmocka_unit_test(test_batch_bad_lines),
        cmocka_unit_test(test_batch_send_error),
        cmocka_unit_test(test_sender_loopback),
        cmocka_unit_test(test_sender_open_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
