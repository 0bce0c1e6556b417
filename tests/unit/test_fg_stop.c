/* flowgrind-stop (stop.c) end to end on loopback, with a one-shot fake daemon in a thread:
 * the request is the original's byte for byte (stop_flow with flow_id -1, spec §4.8 and
 * §1.1); an empty-array answer exits 0, a fault or a refused connection exits 1 with the
 * original's warning (the fix of bug 52); usage errors exit 64 and contact nobody; -h prints
 * the §2.4 text verbatim. stdout and stderr are captured into temporary files. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "flowgrind/flowgrind.h"

#define IO_TIMEOUT_MS 5000

struct captured {
    char out[4096];
    char err[4096];
    int status;
};

static void read_all(FILE *f, char *buf, size_t len)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
}

/* Runs flowgrind-stop with argv, stdout and stderr redirected into c. */
static void run_stop(struct captured *c, int argc, char **argv)
{
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    assert_true(saved_out >= 0 && saved_err >= 0);
    assert_true(dup2(fileno(out), 1) >= 0 && dup2(fileno(err), 2) >= 0);
    c->status = flowgrind_stop_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    read_all(out, c->out, sizeof c->out);
    read_all(err, c->err, sizeof c->err);
    fclose(out);
    fclose(err);
}

/* A listening loopback socket on an ephemeral port; *port gets the port. */
static int listen_loopback(uint16_t *port, bool do_listen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

struct fake_daemon {
    int listen_fd;
    const char *answer_body; /* the XML of the response */
    char request[8192];
    size_t request_len;
    bool served;
    pthread_t thread;
};

static bool wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, IO_TIMEOUT_MS) == 1;
}

/* Accepts one connection, reads one request (headers and Content-Length body), answers. */
static void *fake_daemon_run(void *arg)
{
    struct fake_daemon *d = arg;
    if (!wait_readable(d->listen_fd))
        return NULL;
    int c = accept(d->listen_fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t want = 0;
    while (d->request_len < sizeof d->request - 1 && wait_readable(c)) {
        ssize_t n = read(c, d->request + d->request_len, sizeof d->request - 1 - d->request_len);
        if (n <= 0)
            break;
        d->request_len += (size_t)n;
        d->request[d->request_len] = '\0';
        const char *end = strstr(d->request, "\r\n\r\n");
        const char *cl = strstr(d->request, "Content-Length: ");
        if (end && cl)
            want = (size_t)(end + 4 - d->request) + strtoul(cl + 16, NULL, 10);
        if (want && d->request_len >= want)
            break;
    }
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nContent-type: text/xml; charset=utf-8\r\n"
                      "Content-length: %zu\r\nConnection: close\r\n\r\n",
                      strlen(d->answer_body));
    if (write(c, head, (size_t)hn) == hn &&
        write(c, d->answer_body, strlen(d->answer_body)) == (ssize_t)strlen(d->answer_body))
        d->served = true;
    close(c);
    return NULL;
}

static const char EMPTY_ARRAY_ANSWER[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
                                         "<methodResponse>\r\n<params>\r\n"
                                         "<param><value><array><data>\r\n"
                                         "</data></array></value></param>\r\n"
                                         "</params>\r\n</methodResponse>\r\n";

static const char FAULT_ANSWER[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
                                   "<methodResponse>\r\n<fault>\r\n<value><struct>\r\n"
                                   "<member><name>faultCode</name>\r\n"
                                   "<value><i4>-500</i4></value></member>\r\n"
                                   "<member><name>faultString</name>\r\n"
                                   "<value><string>Unknown flow id</string></value></member>\r\n"
                                   "</struct></value>\r\n</fault>\r\n</methodResponse>\r\n";

/* The body flowgrind-stop 0.8.2 sends (captured: Content-Length 244). */
static const char STOP_ALL_BODY[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
                                    "<methodCall>\r\n"
                                    "<methodName>stop_flow</methodName>\r\n"
                                    "<params>\r\n"
                                    "<param><value><struct>\r\n"
                                    "<member><name>flow_id</name>\r\n"
                                    "<value><i4>-1</i4></value></member>\r\n"
                                    "</struct></value></param>\r\n"
                                    "</params>\r\n"
                                    "</methodCall>\r\n";

/* Starts a fake daemon answering body to one request; addr gets its "127.0.0.1:PORT". */
static void fake_start(struct fake_daemon *d, const char *body, char *addr, size_t addrlen)
{
    uint16_t port;
    memset(d, 0, sizeof *d);
    d->listen_fd = listen_loopback(&port, true);
    d->answer_body = body;
    snprintf(addr, addrlen, "127.0.0.1:%u", (unsigned)port);
    assert_int_equal(pthread_create(&d->thread, NULL, fake_daemon_run, d), 0);
}

static void fake_finish(struct fake_daemon *d)
{
    pthread_join(d->thread, NULL);
    close(d->listen_fd);
}

/* Runs flowgrind-stop against a fake daemon answering body; fills c and d. */
static void stop_against_fake(struct captured *c, struct fake_daemon *d, const char *body,
                              char *addr, size_t addrlen)
{
    fake_start(d, body, addr, addrlen);
    char *argv[] = {"flowgrind-stop", addr, NULL};
    run_stop(c, 2, argv);
    fake_finish(d);
}

static void test_stops_a_daemon(void **state)
{
    (void)state;
    struct captured c;
    struct fake_daemon d;
    char addr[64], line[128];
    stop_against_fake(&c, &d, EMPTY_ARRAY_ANSWER, addr, sizeof addr);
    assert_true(d.served);
    assert_int_equal(c.status, 0);
    snprintf(line, sizeof line, "Stopping all flows on http://%s/RPC2\n", addr);
    assert_string_equal(c.out, line);
    assert_string_equal(c.err, "");

    /* the request: the original's headers and body */
    snprintf(line, sizeof line, "POST /RPC2 HTTP/1.1\r\nHost: %s\r\n", addr);
    assert_memory_equal(d.request, line, strlen(line));
    assert_non_null(strstr(d.request, "\r\nContent-Type: text/xml\r\n"));
    assert_non_null(strstr(d.request, "\r\nUser-Agent: Xmlrpc-c/"));
    assert_non_null(strstr(d.request, "\r\nContent-Length: 244\r\n"));
    const char *body = strstr(d.request, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, STOP_ALL_BODY);
}

static void test_fault_is_a_failure(void **state)
{
    (void)state;
    struct captured c;
    struct fake_daemon d;
    char addr[64], line[256];
    stop_against_fake(&c, &d, FAULT_ANSWER, addr, sizeof addr);
    assert_true(d.served);
    assert_int_equal(c.status, 1);
    snprintf(line, sizeof line,
             "flowgrind-stop: warning: could not stop flows on http://%s/RPC2: RPC failed at "
             "server.  Unknown flow id (-500)\n",
             addr);
    assert_string_equal(c.err, line);
}

/* A refused connection is a warning; the next daemon is still called; exit 1. */
static void test_unreachable_daemon_then_next(void **state)
{
    (void)state;
    uint16_t closed_port;
    int closed = listen_loopback(&closed_port, false); /* bound, not listening: refused */
    struct fake_daemon d;
    char a1[64], a2[64];
    snprintf(a1, sizeof a1, "127.0.0.1:%u", (unsigned)closed_port);
    fake_start(&d, EMPTY_ARRAY_ANSWER, a2, sizeof a2);
    char *argv[] = {"flowgrind-stop", a1, a2, NULL};
    struct captured c;
    run_stop(&c, 3, argv);
    fake_finish(&d);
    close(closed);

    assert_true(d.served);
    assert_int_equal(c.status, 1);
    char want[256];
    snprintf(want, sizeof want,
             "Stopping all flows on http://%s/RPC2\nStopping all flows on http://%s/RPC2\n", a1,
             a2);
    assert_string_equal(c.out, want);
    snprintf(want, sizeof want,
             "flowgrind-stop: warning: could not stop flows on http://%s/RPC2: libcurl failed", a1);
    assert_memory_equal(c.err, want, strlen(want));
    assert_non_null(strstr(c.err, "(-504)\n"));
    /* one warning only: the second daemon was stopped */
    assert_null(strstr(strchr(c.err, '\n') + 1, "warning"));
}

static void test_usage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *arg; /* NULL: no argument */
        const char *err;
    } cases[] = {
        {NULL, "flowgrind-stop: error: no address given\n"},
        {"-x", "flowgrind-stop: error: invalid option -- x\n"},
        {"--bogus", "flowgrind-stop: error: unrecognized option '--bogus'\n"},
        {"localhost:70000", "flowgrind-stop: error: invalid daemon address 'localhost:70000' "
                            "(expected HOST, HOST:PORT, [IPv6]:PORT or IPv6, port 1..65535)\n"},
        {"localhost:0", "flowgrind-stop: error: invalid daemon address 'localhost:0' "
                        "(expected HOST, HOST:PORT, [IPv6]:PORT or IPv6, port 1..65535)\n"},
        {"[::1", "flowgrind-stop: error: invalid daemon address '[::1' "
                 "(expected HOST, HOST:PORT, [IPv6]:PORT or IPv6, port 1..65535)\n"},
        {"a/b:5999", "flowgrind-stop: error: invalid daemon address 'a/b:5999' "
                     "(expected HOST, HOST:PORT, [IPv6]:PORT or IPv6, port 1..65535)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* a good address first: nothing is contacted when any address is bad */
        char *argv[] = {"flowgrind-stop", "127.0.0.1:1", (char *)cases[i].arg, NULL};
        int argc = cases[i].arg ? 3 : 1;
        struct captured c;
        run_stop(&c, argc, argv);
        assert_int_equal(c.status, 64);
        assert_string_equal(c.out, "");
        char want[512];
        snprintf(want, sizeof want, "%sTry 'flowgrind-stop -h' for more information\n",
                 cases[i].err);
        assert_string_equal(c.err, want);
    }
}

static void test_help_and_version(void **state)
{
    (void)state;
    struct captured c;
    char *help[] = {"flowgrind-stop", "-h", NULL};
    run_stop(&c, 2, help);
    assert_int_equal(c.status, 0);
    assert_string_equal(c.out, "Usage: flowgrind-stop [OPTION]... [ADDRESS]...\n"
                               "Stop all flows on the daemons running at the given addresses.\n"
                               "\n"
                               "Mandatory arguments to long options are mandatory for short "
                               "options too.\n"
                               "  -h, --help     display this help and exit\n"
                               "  -v, --version  print version information and exit\n"
                               "\n"
                               "Example:\n"
                               "   flowgrind-stop localhost 127.2.3.4:5999 example.com\n");
    char *longhelp[] = {"flowgrind-stop", "--help", NULL};
    struct captured c2;
    run_stop(&c2, 2, longhelp);
    assert_string_equal(c2.out, c.out);

    char *version[] = {"flowgrind-stop", "--version", NULL};
    run_stop(&c, 2, version);
    assert_int_equal(c.status, 0);
    assert_memory_equal(c.out, "flowgrind-stop 0.8.2 (netgrind ", 31);
    assert_string_equal(c.err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stops_a_daemon),
        cmocka_unit_test(test_fault_is_a_failure),
        cmocka_unit_test(test_unreachable_daemon_then_next),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
