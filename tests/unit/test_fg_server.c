/* flowgrindd's XML-RPC server (flowgrind/server.h): allow-list networks, the v1 UUID, the
 * body check, and the methods end to end through the call processor on a real engine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <xmlrpc-c/base.h>

#include "flowgrind/daemon.h"
#include "flowgrind/rpc.h"
#include "flowgrind/server.h"

static bool match_text(const char *net, const char *addr)
{
    struct fg_cidr c;
    char err[128];
    assert_int_equal(fg_cidr_parse(net, &c, err, sizeof err), 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
    }
    return fg_cidr_match(&c, 1, (struct sockaddr *)&ss);
}

static void test_cidr_match(void **state)
{
    (void)state;
    assert_true(match_text("192.0.2.0/24", "192.0.2.77"));
    assert_false(match_text("192.0.2.0/24", "192.0.3.1"));
    assert_true(match_text("192.0.2.1/24", "192.0.2.200")); /* host bits ignored */
    assert_true(match_text("10.0.0.0/9", "10.127.255.255"));
    assert_false(match_text("10.0.0.0/9", "10.128.0.0"));
    assert_true(match_text("127.0.0.1", "127.0.0.1"));
    assert_false(match_text("127.0.0.1", "127.0.0.2"));
    assert_true(match_text("0.0.0.0/0", "203.0.113.9"));
    assert_true(match_text("::1", "::1"));
    assert_false(match_text("::1", "::2"));
    assert_true(match_text("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(match_text("2001:db8::/33", "2001:db8:8000::1"));
    assert_true(match_text("127.0.0.0/8", "::ffff:127.1.2.3")); /* mapped matches IPv4 */
    assert_false(match_text("::/0", "127.0.0.1"));              /* families apart */
    assert_false(match_text("127.0.0.0/8", "::1"));
}

static void test_cidr_parse_errors(void **state)
{
    (void)state;
    static const char *bad[] = {"",           "/8",          "10.0.0.0/",   "10.0.0.0/33",
                                "::/129",     "10.0.0.0/8x", "10.0.0.0/-1", "host.example",
                                "10.0.0.256", "1.2.3.4/ 8"};
    struct fg_cidr c;
    char err[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(fg_cidr_parse(bad[i], &c, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "invalid network"));
    }
}

static void test_uuid_v1(void **state)
{
    (void)state;
    /* 2026-11-23 06:08:31 UTC, the capture of spec §4.1 (4ed5a584-e704-11f1-...). */
    struct timespec t = {.tv_sec = 1795414111, .tv_nsec = 0};
    uint8_t rnd[8] = {0x06, 0x6b, 0x02, 0xfc, 0x00, 0x00, 0x00, 0x01};
    char out[37];
    fg_server_make_uuid(&t, rnd, out);
    assert_int_equal(strlen(out), 36);
    /* Same second as the capture: the high time fields and the version match it. */
    assert_memory_equal(out + 8, "-e704-11f1-", 11);
    assert_string_equal(out + 19, "866b-03fc00000001"); /* variant 10, multicast bit set */
    /* 100 ns later: only time_low moves, by one. */
    struct timespec t2 = {.tv_sec = t.tv_sec, .tv_nsec = 100};
    char out2[37];
    fg_server_make_uuid(&t2, rnd, out2);
    assert_int_equal(strtoul(out2, NULL, 16) - strtoul(out, NULL, 16), 1);
    /* The epoch itself (1582-10-15) is timestamp 0. */
    struct timespec epoch = {.tv_sec = -12219292800LL, .tv_nsec = 0};
    fg_server_make_uuid(&epoch, rnd, out);
    assert_memory_equal(out, "00000000-0000-1000-", 19);
}

static void test_xml_acceptable(void **state)
{
    (void)state;
    char reason[128];
    const char *ok = "<?xml version=\"1.0\"?><methodCall><methodName>get_status</methodName>"
                     "<params><param><value><i4>1</i4></value></param></params></methodCall>";
    assert_true(fg_rpc_xml_acceptable(ok, strlen(ok), reason, sizeof reason));

    /* Depth: the limit passes, one more does not, whatever hides the nesting. */
    size_t cap = 64 * 1024;
    char *deep = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < FG_RPC_MAX_XML_DEPTH; i++)
        n += (size_t)snprintf(deep + n, cap - n, "<a>");
    assert_true(fg_rpc_xml_acceptable(deep, n, reason, sizeof reason));
    n += (size_t)snprintf(deep + n, cap - n, "<a>");
    assert_false(fg_rpc_xml_acceptable(deep, n, reason, sizeof reason));
    assert_non_null(strstr(reason, "nested deeper than 256"));

    /* Fake closers in text, comments, CDATA and attribute values must not count. */
    static const char *tricks[] = {"<a>/>", "<a><!-- </a> -->", "<a><![CDATA[</a>]]>",
                                   "<a x=\"/>\">", "<a x='/>'>"};
    for (size_t k = 0; k < sizeof tricks / sizeof tricks[0]; k++) {
        n = 0;
        for (int i = 0; i <= FG_RPC_MAX_XML_DEPTH; i++)
            n += (size_t)snprintf(deep + n, cap - n, "%s", tricks[k]);
        assert_false(fg_rpc_xml_acceptable(deep, n, reason, sizeof reason));
    }
    /* Empty elements and closed siblings do not add up. */
    n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(deep + n, cap - n, "<a/><b></b>");
    assert_true(fg_rpc_xml_acceptable(deep, n, reason, sizeof reason));
    free(deep);

    const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>";
    assert_false(fg_rpc_xml_acceptable(dtd, strlen(dtd), reason, sizeof reason));
    assert_non_null(strstr(reason, "document type"));
}

/* xmlrpc-c 1.33 dies on an <i8> it cannot convert (its error path formats a null string):
 * only plain in-range integers pass, in calls and responses alike. */
static void test_xml_i8_screen(void **state)
{
    (void)state;
    static const char *good[] = {"0",
                                 "-1",
                                 "+1",
                                 "9223372036854775807",
                                 "-9223372036854775808",
                                 "000000000000000000000000042"};
    static const char *bad[] = {"1,384",
                                "1x",
                                "x",
                                "-",
                                "1 ",
                                "0x10",
                                "1e5",
                                "9223372036854775808",
                                "-9223372036854775809",
                                "99999999999999999999999",
                                "1&#44;3",
                                "<![CDATA[1,3]]>",
                                "1<!-- c -->2"};
    static const char *tags[][2] = {
        {"<i8>", "</i8>"}, {"<ex:i8>", "</ex:i8>"}, {"<i8 a='1'>", "</i8>"}};
    char xml[512], reason[128];
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
        for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
            snprintf(xml, sizeof xml,
                     "<methodResponse><params><param><value>%s%s%s</value>"
                     "</param></params></methodResponse>",
                     tags[t][0], good[k], tags[t][1]);
            assert_true(fg_rpc_xml_acceptable(xml, strlen(xml), reason, sizeof reason));
        }
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            snprintf(xml, sizeof xml,
                     "<methodResponse><params><param><value>%s%s%s</value>"
                     "</param></params></methodResponse>",
                     tags[t][0], bad[k], tags[t][1]);
            assert_false(fg_rpc_xml_acceptable(xml, strlen(xml), reason, sizeof reason));
            assert_non_null(strstr(reason, "<i8>"));
        }
    }
    /* Other elements whose names start with i8, and an empty <i8/>, are not its business. */
    const char *other = "<i80>x</i80><i8/><i4>1,3</i4>";
    assert_true(fg_rpc_xml_acceptable(other, strlen(other), reason, sizeof reason));
}

/* --- the methods through the processor, on a real engine -------------------------------- */

static struct fg_daemon *dmn;
static struct fg_server *srv;

static int setup_server(void **state)
{
    (void)state;
    char err[256];
    struct fg_cidr allow;
    assert_int_equal(fg_cidr_parse("127.0.0.0/8", &allow, err, sizeof err), 0);
    struct fg_daemon_config dcfg = {.max_flows = 2};
    dmn = fg_daemon_new(&dcfg, err, sizeof err);
    assert_non_null(dmn);
    struct fg_server_config scfg = {
        .daemon = dmn, .allow_destination = &allow, .n_allow_destination = 1};
    srv = fg_server_new(&scfg, err, sizeof err);
    assert_non_null(srv);
    return 0;
}

static int teardown_server(void **state)
{
    (void)state;
    assert_true(fg_server_close(srv, 1000));
    fg_daemon_free(dmn);
    fg_server_free(srv);
    return 0;
}

/* Runs one body through the processor and returns the response (malloc'd, NUL-terminated). */
static char *call_body(const char *xml, size_t len)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_mem_block *resp = NULL;
    fg_server_process_call(&env, srv, xml, len, NULL, &resp);
    assert_false(env.fault_occurred);
    assert_non_null(resp);
    size_t n = XMLRPC_MEMBLOCK_SIZE(char, resp);
    char *out = malloc(n + 1);
    memcpy(out, XMLRPC_MEMBLOCK_CONTENTS(char, resp), n);
    out[n] = '\0';
    XMLRPC_MEMBLOCK_FREE(char, resp);
    xmlrpc_env_clean(&env);
    return out;
}

/* Runs one call and returns the response body (malloc'd, NUL-terminated). */
static char *call(const char *method, xmlrpc_value *params)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_mem_block *body = xmlrpc_mem_block_new(&env, 0);
    xmlrpc_serialize_call(&env, body, method, params);
    assert_false(env.fault_occurred);
    char *out = call_body(XMLRPC_MEMBLOCK_CONTENTS(char, body), XMLRPC_MEMBLOCK_SIZE(char, body));
    XMLRPC_MEMBLOCK_FREE(char, body);
    xmlrpc_env_clean(&env);
    return out;
}

static char *call_no_params(const char *method)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *p = fg_rpc_no_params(&env);
    char *out = call(method, p);
    xmlrpc_DECREF(p);
    xmlrpc_env_clean(&env);
    return out;
}

/* get_status answers, and the engine holds n flows. */
static void assert_num_flows(int n)
{
    char want[64];
    snprintf(want, sizeof want, "<name>num_flows</name>\r\n<value><i4>%d</i4>", n);
    char *st = call_no_params("get_status");
    assert_non_null(strstr(st, want));
    free(st);
}

static void test_identity_methods(void **state)
{
    (void)state;
    char *v = call_no_params("get_version");
    assert_non_null(strstr(v, "<member><name>version</name>\r\n<value><string>0.8.2</string>"));
    assert_non_null(strstr(v, "<name>api_version</name>\r\n<value><i4>3</i4>"));
    assert_non_null(strstr(v, "<name>os_name</name>\r\n<value><string>Linux</string>"));
    free(v);
    char *u = call_no_params("get_uuid");
    char *s = strstr(u, "<name>server_uuid</name>\r\n<value><string>");
    assert_non_null(s);
    s += strlen("<name>server_uuid</name>\r\n<value><string>");
    assert_memory_equal(s, fg_server_uuid(srv), 36);
    assert_int_equal(s[14], '1'); /* version 1 */
    free(u);
    char *st = call_no_params("get_status");
    assert_non_null(strstr(st, "<name>started</name>\r\n<value><i4>0</i4>"));
    assert_non_null(strstr(st, "<name>num_flows</name>\r\n<value><i4>0</i4>"));
    free(st);
    char *r = call_no_params("get_reports");
    assert_non_null(strstr(r, "<array><data>\r\n<value><i4>0</i4></value>\r\n</data></array>"));
    free(r);
    char *bad = call_no_params("no_such_method");
    assert_non_null(strstr(bad, "<i4>-506</i4>"));
    free(bad);
}

/* The body that killed xmlrpc-c's parser gets a parse fault, and the next call is served. */
static void test_bad_i8_call_is_a_fault(void **state)
{
    (void)state;
    const char *xml = "<?xml version=\"1.0\"?><methodCall><methodName>get_status</methodName>"
                      "<params><param><value><i8>1,384</i8></value></param></params>"
                      "</methodCall>";
    char *r = call_body(xml, strlen(xml));
    assert_non_null(strstr(r, "<i4>-503</i4>"));
    assert_non_null(strstr(r, "&lt;i8&gt; value is not a plain 64-bit integer"));
    free(r);
    assert_num_flows(0);
}

static void test_stop_unknown_flow(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *p = fg_rpc_stop_flow_params(&env, 7);
    char *out = call("stop_flow", p);
    assert_non_null(strstr(out, "<i4>-500</i4>"));
    assert_non_null(strstr(out, "Unknown flow id"));
    free(out);
    xmlrpc_DECREF(p);
    xmlrpc_env_clean(&env);
}

static void test_destination_allow_list(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_endpoint_settings s;
    fg_rpc_settings_defaults(&s);
    struct fg_source_target t = {.destination_port = 9, .late_connect = 1};

    /* Outside the allowed network: refused before the engine sees it. */
    snprintf(t.destination_address, sizeof t.destination_address, "192.0.2.1");
    xmlrpc_value *p = fg_rpc_add_source_params(&env, &s, &t);
    char *out = call("add_flow_source", p);
    assert_non_null(strstr(out, "<i4>-500</i4>"));
    assert_non_null(strstr(out, "destination 192.0.2.1 not allowed"));
    free(out);
    xmlrpc_DECREF(p);

    /* A destination bind address outside it, and the wildcard. */
    snprintf(s.bind_address, sizeof s.bind_address, "192.0.2.1");
    p = fg_rpc_add_destination_params(&env, &s);
    out = call("add_flow_destination", p);
    assert_non_null(strstr(out, "bind address 192.0.2.1 not allowed"));
    free(out);
    xmlrpc_DECREF(p);
    s.bind_address[0] = '\0';
    p = fg_rpc_add_destination_params(&env, &s);
    out = call("add_flow_destination", p);
    assert_non_null(strstr(out, "bind address (wildcard) not allowed"));
    free(out);
    xmlrpc_DECREF(p);

    /* Inside: the engine creates the endpoint (late connect, so nothing is sent). */
    snprintf(s.bind_address, sizeof s.bind_address, "127.0.0.1");
    p = fg_rpc_add_destination_params(&env, &s);
    out = call("add_flow_destination", p);
    assert_non_null(strstr(out, "<name>listen_data_port</name>"));
    free(out);
    xmlrpc_DECREF(p);
    assert_num_flows(1);
    xmlrpc_value *stop = fg_rpc_stop_flow_params(&env, -1);
    out = call("stop_flow", stop);
    assert_non_null(strstr(out, "<array><data>\r\n</data></array>"));
    free(out);
    xmlrpc_DECREF(stop);
    xmlrpc_env_clean(&env);
}

static void test_closed_server_refuses(void **state)
{
    (void)state;
    char err[256];
    struct fg_daemon_config dcfg = {.max_flows = 1};
    struct fg_daemon *d = fg_daemon_new(&dcfg, err, sizeof err);
    struct fg_server_config scfg = {.daemon = d};
    struct fg_server *saved = srv;
    srv = fg_server_new(&scfg, err, sizeof err);
    assert_true(fg_server_close(srv, 100));
    char *out = call_no_params("get_status");
    assert_non_null(strstr(out, "daemon shutting down"));
    free(out);
    fg_daemon_free(d);
    fg_server_free(srv);
    srv = saved;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_cidr_parse_errors),
        cmocka_unit_test(test_uuid_v1),
        cmocka_unit_test(test_xml_acceptable),
        cmocka_unit_test(test_xml_i8_screen),
        cmocka_unit_test(test_identity_methods),
        cmocka_unit_test(test_bad_i8_call_is_a_fault),
        cmocka_unit_test(test_stop_unknown_flow),
        cmocka_unit_test(test_destination_allow_list),
        cmocka_unit_test(test_closed_server_refuses),
    };
    return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
