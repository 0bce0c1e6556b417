/* Unit tests for src/core/addr.c: endpoints, ports, UDPing's port descriptors and MAC
 * lists, flowgrind's endpoint lists and -H values. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"

static char err[512];

struct endpoint_case {
    const char *in;
    unsigned flags;
    const char *host, *port, *local, *path; /* local NULL: has_local false; path NULL: none */
};

static void check_endpoint(const struct endpoint_case *c)
{
    struct addr_endpoint e;
    int rc = addr_parse_endpoint(c->in, c->flags, &e, err, sizeof err);
    if (rc != 0)
        fail_msg("'%s': unexpected error %d: %s", c->in, rc, err);
    assert_string_equal(e.host, c->host);
    assert_string_equal(e.port, c->port);
    if (c->local) {
        assert_true(e.has_local);
        assert_string_equal(e.local, c->local);
    } else {
        assert_false(e.has_local);
        assert_string_equal(e.local, "");
    }
    if (c->path) {
        assert_non_null(e.path);
        assert_string_equal(e.path, c->path);
        assert_true(e.path >= c->in && e.path < c->in + strlen(c->in)); /* points into s */
    } else {
        assert_null(e.path);
    }
}

static void test_endpoint_forms(void **state)
{
    (void)state;
    const unsigned L = ADDR_F_LOCAL, O = ADDR_F_PORT_OPTIONAL, P = ADDR_F_PATH;
    const struct endpoint_case cases[] = {
        {"127.0.0.1:80", 0, "127.0.0.1", "80", NULL, NULL},
        {"localhost:http", 0, "localhost", "http", NULL, NULL},
        {"[::1]:80", 0, "::1", "80", NULL, NULL},
        {"::1:80", 0, "::1", "80", NULL, NULL},
        {"[fe80::1%lo]:5999", 0, "fe80::1%lo", "5999", NULL, NULL},
        {":80", 0, "", "80", NULL, NULL},
        {"host:0", 0, "host", "0", NULL, NULL},
        {"127.0.0.2,127.0.0.1:80", L, "127.0.0.1", "80", "127.0.0.2", NULL},
        {"[::1],[::1]:80", L, "::1", "80", "::1", NULL},
        {"::1,[::1]:80", L, "::1", "80", "::1", NULL},
        {"h:80", L, "h", "80", NULL, NULL},
        {"host", O, "host", "", NULL, NULL},
        {"[::1]", O, "::1", "", NULL, NULL},
        {"host:81", O, "host", "81", NULL, NULL},
        {"h:80/chat", P, "h", "80", NULL, "/chat"},
        {"h:80/", P, "h", "80", NULL, "/"},
        {"[::1]:80/a/b?c", P, "::1", "80", NULL, "/a/b?c"},
        {"l,h:80/p", L | P, "h", "80", "l", "/p"},
        {"h/p", O | P, "h", "", NULL, "/p"},
        {"h:80", P, "h", "80", NULL, NULL},
        {"12345", ADDR_F_HOST_OPTIONAL, "", "12345", NULL, NULL},
        {"12345", ADDR_F_HOST_OPTIONAL | O, "", "12345", NULL, NULL},
        {"12345", O, "12345", "", NULL, NULL},
        {"h:12345", ADDR_F_HOST_OPTIONAL, "h", "12345", NULL, NULL},
        {"l,80", ADDR_F_HOST_OPTIONAL | L, "", "80", "l", NULL},
        {"80/p", ADDR_F_HOST_OPTIONAL | P, "", "80", NULL, "/p"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_endpoint(&cases[i]);
}

struct endpoint_error {
    const char *in;
    unsigned flags;
    const char *msg;
};

static void test_endpoint_errors(void **state)
{
    (void)state;
    const unsigned L = ADDR_F_LOCAL, O = ADDR_F_PORT_OPTIONAL, P = ADDR_F_PATH;
    const struct endpoint_error cases[] = {
        {"", 0, "empty address"},
        {"host", 0, "missing port in 'host'"},
        {"[::1]", 0, "missing port in '[::1]'"},
        {"host:", 0, "missing port after ':' in 'host:'"},
        {"host:", O, "missing port after ':' in 'host:'"},
        {"[::1:80", 0, "unbalanced '[' in '[::1:80'"},
        {"::1]:80", 0, "unbalanced ']' in '::1]:80'"},
        {"a[b:80", 0, "unbalanced '[' in 'a[b:80'"},
        {"[::1]x:80", 0, "unexpected 'x' after ']' in '[::1]x:80'"},
        {"[]:80", 0, "empty address in brackets in '[]:80'"},
        {"[[::1]]:80", 0, "unbalanced '[' in '[[::1]]:80'"},
        {"a,b:80", 0, "unexpected ',' in 'a,b:80'"},
        {",b:80", L, "empty local address before ',' in ',b:80'"},
        {"a,b,c:80", L, "more than one ',' in 'a,b,c:80'"},
        {"[a]:1,b:80", L, "unexpected port in local address in '[a]:1,b:80'"},
        {"[a,b:80", L, "unbalanced '[' in '[a,b:80'"},
        {"a,", L, "missing host in 'a,'"},
        {"h:80/p", 0, "unexpected '/' in 'h:80/p'"},
        {"/p", P, "missing host in '/p'"},
        {"h/p", P, "missing port in 'h/p'"},
        {"h:8]0", 0, "unbalanced ']' in 'h:8]0'"},
        {"[::1]:8]0", 0, "invalid character ']' in port of '[::1]:8]0'"},
        {"h:80:", 0, "missing port after ':' in 'h:80:'"},
        {"h o:80", 0, "invalid character 0x20 in address 'h o:80'"},
        {"h:8\t0", 0, "invalid character 0x09 in address 'h:8\t0'"},
        {"80", 0, "missing port in '80'"},
        {"80x", ADDR_F_HOST_OPTIONAL, "missing port in '80x'"},
        {"999999999999999999999999999999999", ADDR_F_HOST_OPTIONAL,
         "port too long in '999999999999999999999999999999999' (at most 31 bytes)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct addr_endpoint e;
        int rc = addr_parse_endpoint(cases[i].in, cases[i].flags, &e, err, sizeof err);
        if (rc != -EINVAL)
            fail_msg("'%s': expected -EINVAL, got %d", cases[i].in, rc);
        if (strcmp(err, cases[i].msg) != 0)
            fail_msg("'%s': message '%s', expected '%s'", cases[i].in, err, cases[i].msg);
    }
}

static void test_endpoint_length_limits(void **state)
{
    (void)state;
    struct addr_endpoint e;
    char in[600];
    memset(in, 'a', ADDR_HOST_MAX - 1);
    strcpy(in + ADDR_HOST_MAX - 1, ":80");
    assert_int_equal(addr_parse_endpoint(in, 0, &e, err, sizeof err), 0);
    assert_int_equal(strlen(e.host), ADDR_HOST_MAX - 1);

    memset(in, 'a', ADDR_HOST_MAX);
    strcpy(in + ADDR_HOST_MAX, ":80");
    assert_int_equal(addr_parse_endpoint(in, 0, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "host too long"));

    memset(in, 'a', ADDR_HOST_MAX);
    strcpy(in + ADDR_HOST_MAX, ",h:80");
    assert_int_equal(addr_parse_endpoint(in, ADDR_F_LOCAL, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "local address too long"));

    strcpy(in, "h:");
    memset(in + 2, '9', ADDR_PORT_MAX);
    in[2 + ADDR_PORT_MAX] = '\0';
    assert_int_equal(addr_parse_endpoint(in, 0, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "port too long"));
    in[2 + ADDR_PORT_MAX - 1] = '\0';
    assert_int_equal(addr_parse_endpoint(in, 0, &e, err, sizeof err), 0);
}

static void test_port(void **state)
{
    (void)state;
    uint16_t p = 7;
    assert_int_equal(addr_parse_port("0", &p), 0);
    assert_int_equal(p, 0);
    assert_int_equal(addr_parse_port("65535", &p), 0);
    assert_int_equal(p, 65535);
    assert_int_equal(addr_parse_port("00080", &p), 0);
    assert_int_equal(p, 80);
    p = 7;
    const char *bad[] = {"", "65536", "99999", "-1", "+1", " 1", "1 ", "8x", "http", "000080"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(addr_parse_port(bad[i], &p), -EINVAL);
    assert_int_equal(addr_parse_port(NULL, &p), -EINVAL);
    assert_int_equal(p, 7);
}

static size_t parse_ports(const char *s, unsigned count, uint16_t *ports, size_t cap, int *rc)
{
    size_t n = 99;
    *rc = addr_parse_port_list(s, 1024, 60000, count, ports, cap, &n, err, sizeof err);
    return n;
}

static void test_port_list(void **state)
{
    (void)state;
    uint16_t ports[5000];
    int rc;
    size_t n = parse_ports("2000", 0, ports, 5000, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 1);
    assert_int_equal(ports[0], 2000);

    n = parse_ports("2000-2003,1024,60000", 0, ports, 5000, &rc);
    assert_int_equal(rc, 0);
    const uint16_t want[] = {2000, 2001, 2002, 2003, 1024, 60000};
    assert_int_equal(n, 6);
    assert_memory_equal(ports, want, sizeof want);

    n = parse_ports("5000-5000", 0, ports, 5000, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 1);

    /* -n turns one start port into a range. */
    n = parse_ports("3000", 3, ports, 5000, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_int_equal(ports[0], 3000);
    assert_int_equal(ports[2], 3002);

    /* Exactly the capacity is fine; one more is not. */
    n = parse_ports("10000-14999", 0, ports, 5000, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5000);
    assert_int_equal(ports[4999], 14999);
    n = parse_ports("10000-15000", 0, ports, 5000, &rc);
    assert_int_equal(rc, -ERANGE);
    assert_string_equal(err, "Too many ports defined");
    n = parse_ports("10000", 5001, ports, 5000, &rc);
    assert_int_equal(rc, -ERANGE);
    assert_string_equal(err, "Too many ports defined");
}

struct port_error {
    const char *in;
    unsigned count;
    int rc;
    const char *msg;
};

static void test_port_list_errors(void **state)
{
    (void)state;
    const struct port_error cases[] = {
        {"", 0, -EINVAL, "Invalid source port descriptor "},
        {"2000 ", 0, -EINVAL, "Invalid source port descriptor 2000 "},
        {"2000;2001", 0, -EINVAL, "Invalid source port descriptor 2000;2001"},
        {"+2000", 0, -EINVAL, "Invalid source port descriptor +2000"},
        {"0x800", 0, -EINVAL, "Invalid source port descriptor 0x800"},
        {"2000,,2001", 0, -EINVAL, "Invalid source port descriptor 2000,,2001"},
        {"2000,", 0, -EINVAL, "Invalid source port descriptor 2000,"},
        {",2000", 0, -EINVAL, "Invalid source port descriptor ,2000"},
        {"-", 0, -EINVAL, "Invalid source port descriptor -"},
        {"2000-", 0, -EINVAL, "Invalid source port descriptor 2000-"},
        {"-2000", 0, -EINVAL, "Invalid source port descriptor -2000"},
        {"2000-2001-2002", 0, -EINVAL, "Invalid source port descriptor 2000-2001-2002"},
        {"1023", 0, -ERANGE, "Port too low: 1023"},
        {"0", 0, -ERANGE, "Port too low: 0"},
        {"60001", 0, -ERANGE, "Port too high: 60001"},
        {"2000-70000", 0, -ERANGE, "Port too high: 70000"},
        {"1000-2000", 0, -ERANGE, "Port too low: 1000"},
        {"99999999999999999999", 0, -ERANGE, "Port too high: (more than 4294967294)"},
        {"3000-2000", 0, -EINVAL, "Invalid port range 3000-2000"},
        {"2000,2000", 0, -EINVAL, "Duplicate port 2000 in source port descriptor 2000,2000"},
        {"2000-2005,2003", 0, -EINVAL,
         "Duplicate port 2003 in source port descriptor 2000-2005,2003"},
        {"2000-2005,1999-2000", 0, -EINVAL,
         "Duplicate port 2000 in source port descriptor 2000-2005,1999-2000"},
        {"59999", 5, -ERANGE, "Port too high: 60003"},
        {"59999", 4294967295u, -ERANGE, "Port too high: (more than 4294967294)"},
        {"2000,2001", 2, -EINVAL, "-n applies to a single start port, not to '2000,2001'"},
        {"2000-2001", 2, -EINVAL, "-n applies to a single start port, not to '2000-2001'"},
        {"1000", 2, -ERANGE, "Port too low: 1000"},
    };
    uint16_t ports[5000];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        parse_ports(cases[i].in, cases[i].count, ports, 5000, &rc);
        if (rc != cases[i].rc)
            fail_msg("'%s': rc %d, expected %d (%s)", cases[i].in, rc, cases[i].rc, err);
        if (strcmp(err, cases[i].msg) != 0)
            fail_msg("'%s': message '%s', expected '%s'", cases[i].in, err, cases[i].msg);
    }
    size_t n = 9;
    assert_int_equal(addr_parse_port_list(NULL, 1024, 60000, 0, ports, 5000, &n, err, sizeof err),
                     -EINVAL);
    assert_int_equal(n, 0);
}

static void test_mac_list(void **state)
{
    (void)state;
    uint8_t macs[4][6];
    size_t n = 0;
    assert_int_equal(addr_parse_mac_list("11:22:33:44:55:66,aa:bb:cc:dd:ee:ff,0:3:5:7:9:A", macs, 4,
                                         &n, err, sizeof err),
                     0);
    assert_int_equal(n, 3);
    const uint8_t want[3][6] = {{0x11, 0x22, 0x33, 0x44, 0x55, 0x66},
                                {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
                                {0x00, 0x03, 0x05, 0x07, 0x09, 0x0a}};
    assert_memory_equal(macs, want, sizeof want);

    const struct {
        const char *in, *msg;
    } bad[] = {
        {"", "Invalid MAC string ''"},
        {"11:22:33", "Invalid MAC string '11:22:33'"},
        {"11:22:33:44:55:66:77", "Invalid MAC string '11:22:33:44:55:66:77'"},
        {"11:22:33:44:55:666", "Invalid MAC string '11:22:33:44:55:666'"},
        {"11:22:33:44:55:6g", "Invalid MAC string '11:22:33:44:55:6g'"},
        {"11-22-33-44-55-66", "Invalid MAC string '11-22-33-44-55-66'"},
        {"11:22:33:44::66", "Invalid MAC string '11:22:33:44::66'"},
        {"11:22:33:44:55:66,", "Invalid MAC string ''"},
        {"11:22:33:44:55:66,bad", "Invalid MAC string 'bad'"},
        {"11:22:33:44:55:66 ", "Invalid MAC string '11:22:33:44:55:66 '"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(addr_parse_mac_list(bad[i].in, macs, 4, &n, err, sizeof err), -EINVAL);
        assert_string_equal(err, bad[i].msg);
    }
    assert_int_equal(
        addr_parse_mac_list("1:2:3:4:5:6,1:2:3:4:5:6,1:2:3:4:5:6", macs, 2, &n, err, sizeof err),
        -ERANGE);
    assert_string_equal(err, "too many MAC addresses (at most 2)");
}

static void test_flow_list(void **state)
{
    (void)state;
    struct addr_flow_item it[8];
    size_t n = 0;
    assert_int_equal(addr_split_flow_list('W', "s=8192,d=4096", it, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(it[0].which, 's');
    assert_int_equal(it[0].value_len, 4);
    assert_memory_equal(it[0].value, "8192", 4);
    assert_int_equal(it[1].which, 'd');
    assert_memory_equal(it[1].value, "4096", 4);

    /* '=' optional; bare endpoint; values with '=' and ':' inside. */
    assert_int_equal(
        addr_split_flow_list('O', "s=TCP_CONGESTION=reno,d=SO_DEBUG,b", it, 8, &n, err, sizeof err),
        0);
    assert_int_equal(n, 3);
    assert_int_equal(it[0].value_len, strlen("TCP_CONGESTION=reno"));
    assert_memory_equal(it[0].value, "TCP_CONGESTION=reno", it[0].value_len);
    assert_int_equal(it[2].which, 'b');
    assert_int_equal(it[2].value_len, 0);
    assert_int_equal(addr_split_flow_list('B', "s8192", it, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(it[0].value, "8192", 4);
    assert_int_equal(
        addr_split_flow_list('G', "s=q:C:40,s=p:N:2000:50", it, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(it[1].value_len, strlen("p:N:2000:50"));
    assert_int_equal(addr_split_flow_list('A', "s=", it, 8, &n, err, sizeof err), 0);
    assert_int_equal(it[0].value_len, 0);

    const char *bad[] = {"32000", "", "x=1", "s=1,", ",s=1", "s=1,,d=2", "S=1", " s=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(addr_split_flow_list('U', bad[i], it, 8, &n, err, sizeof err), -EINVAL);
        assert_string_equal(err, "Invalid endpoint specifier in Option -U");
    }
    assert_int_equal(addr_split_flow_list('H', "s=a,d=b,b=c", it, 2, &n, err, sizeof err), -ERANGE);
    assert_string_equal(err, "too many endpoint items in Option -H");
}

struct fg_case {
    const char *in;
    const char *test, *control;
    unsigned port;
    bool has_control;
    const char *url, *label;
};

static void test_flowgrind_host(void **state)
{
    (void)state;
    const struct fg_case cases[] = {
        {"127.0.0.1", "127.0.0.1", "127.0.0.1", 5999, false, "http://127.0.0.1:5999/RPC2",
         "127.0.0.1"},
        {"localhost", "localhost", "localhost", 5999, false, "http://localhost:5999/RPC2",
         "localhost"},
        {"::1", "::1", "::1", 5999, false, "http://[::1]:5999/RPC2", "::1"},
        {"[::1]", "::1", "::1", 5999, false, "http://[::1]:5999/RPC2", "::1"},
        {"127.0.0.1/127.0.0.1:20100", "127.0.0.1", "127.0.0.1", 20100, true,
         "http://127.0.0.1:20100/RPC2", "127.0.0.1:20100"},
        {"::1/127.0.0.1:20100", "::1", "127.0.0.1", 20100, true, "http://127.0.0.1:20100/RPC2",
         "::1/127.0.0.1:20100"},
        {"10.0.0.1/[::1]:20100", "10.0.0.1", "::1", 20100, true, "http://[::1]:20100/RPC2",
         "10.0.0.1/::1:20100"},
        {"10.0.0.1/::1", "10.0.0.1", "::1", 5999, true, "http://[::1]:5999/RPC2", "10.0.0.1/::1"},
        {"a/ctl.example:6000", "a", "ctl.example", 6000, true, "http://ctl.example:6000/RPC2",
         "a/ctl.example:6000"},
        {"a/b", "a", "b", 5999, true, "http://b:5999/RPC2", "a/b"},
        {"a/a", "a", "a", 5999, true, "http://a:5999/RPC2", "a"},
        /* netgrind extension (issue #224): HOST:PORT means the control port of HOST. */
        {"127.0.0.1:20100", "127.0.0.1", "127.0.0.1", 20100, false, "http://127.0.0.1:20100/RPC2",
         "127.0.0.1:20100"},
        {"[::1]:20100", "::1", "::1", 20100, false, "http://[::1]:20100/RPC2", "::1:20100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct addr_flowgrind_host h;
        int rc = addr_parse_flowgrind_host(cases[i].in, &h, err, sizeof err);
        if (rc)
            fail_msg("'%s': error %s", cases[i].in, err);
        assert_string_equal(h.test, cases[i].test);
        assert_string_equal(h.control, cases[i].control);
        assert_int_equal(h.port, cases[i].port);
        assert_int_equal(h.has_control, cases[i].has_control);
        char buf[600];
        assert_int_equal(addr_flowgrind_url(&h, buf, sizeof buf), strlen(cases[i].url));
        assert_string_equal(buf, cases[i].url);
        assert_int_equal(addr_flowgrind_label(&h, buf, sizeof buf), strlen(cases[i].label));
        assert_string_equal(buf, cases[i].label);
    }
}

static void test_flowgrind_host_errors(void **state)
{
    (void)state;
    const struct {
        const char *in, *msg;
    } cases[] = {
        {"", "empty test address in -H value ''"},
        {"/b", "empty test address in -H value '/b'"},
        {"a/", "empty control address in -H value 'a/'"},
        {"a:1/b", "a port on the test address in -H value 'a:1/b' (the port belongs to the "
                  "control address after '/')"},
        {"a/b/c", "more than one '/' in -H value 'a/b/c'"},
        {"a/b:0", "invalid control port '0' in -H value 'a/b:0'"},
        {"a/b:70000", "invalid control port '70000' in -H value 'a/b:70000'"},
        {"a/b:", "invalid control port '' in -H value 'a/b:'"},
        {"a/b:x", "invalid control port 'x' in -H value 'a/b:x'"},
        {"a/[::1]:", "invalid control port '' in -H value 'a/[::1]:'"},
        {"[::1", "unbalanced '[' in -H value '[::1'"},
        {"[]", "unbalanced '[' in -H value '[]'"},
        {"[::1]x", "unexpected 'x' after ']' in -H value '[::1]x'"},
        {":80", "empty test address in -H value ':80'"},
        {"a b", "invalid character in test address of -H value 'a b'"},
        {"a]b", "invalid character in test address of -H value 'a]b'"},
        {"a,b", "invalid character in test address of -H value 'a,b'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct addr_flowgrind_host h;
        int rc = addr_parse_flowgrind_host(cases[i].in, &h, err, sizeof err);
        if (rc != -EINVAL)
            fail_msg("'%s': rc %d", cases[i].in, rc);
        if (strcmp(err, cases[i].msg) != 0)
            fail_msg("'%s': message '%s', expected '%s'", cases[i].in, err, cases[i].msg);
    }
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    struct addr_flowgrind_host h;
    assert_int_equal(addr_parse_flowgrind_host(longname, &h, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "test address too long"));
}

static void test_flowgrind_label_truncates_safely(void **state)
{
    (void)state;
    struct addr_flowgrind_host h;
    assert_int_equal(addr_parse_flowgrind_host("::1/127.0.0.1:20100", &h, err, sizeof err), 0);
    char small[6];
    int n = addr_flowgrind_label(&h, small, sizeof small);
    assert_int_equal(n, strlen("::1/127.0.0.1:20100"));
    assert_string_equal(small, "::1/1");
    assert_int_equal(addr_flowgrind_label(&h, NULL, 0), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_forms),
        cmocka_unit_test(test_endpoint_errors),
        cmocka_unit_test(test_endpoint_length_limits),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_port_list),
        cmocka_unit_test(test_port_list_errors),
        cmocka_unit_test(test_mac_list),
        cmocka_unit_test(test_flow_list),
        cmocka_unit_test(test_flowgrind_host),
        cmocka_unit_test(test_flowgrind_host_errors),
        cmocka_unit_test(test_flowgrind_label_truncates_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
