/* flowgrind's XML-RPC shapes (rpc.h) against the real 0.8.2 traffic of spec §4: the calls the
 * controller builds and the replies the daemon builds are serialised with xmlrpc-c and compared
 * byte for byte with the captured bodies (CRLF line endings; the captured Content-Length of
 * each body is checked too). Then every parse function: round trips through XML text, and
 * every way a peer can get a shape wrong — each missing member, each mistyped member, wrong
 * param counts, too-long strings, bad extra socket options, reports of 8 or 10 structs. The
 * member lists used for the error loops are written here from the spec's §3.1 table, not taken
 * from rpc.c, so they check its tables as well. */

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowgrind/rpc.h"

/* --- helpers ------------------------------------------------------------------------------- */

/* s with every "\n" turned into "\r\n"; the spec shows bodies with LF. */
static char *crlf(const char *s)
{
    size_t n = strlen(s), lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += s[i] == '\n';
    char *out = malloc(n + lines + 1), *p = out;
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            *p++ = '\r';
        *p++ = s[i];
    }
    *p = '\0';
    return out;
}

static char *block_text(xmlrpc_mem_block *mb)
{
    size_t n = xmlrpc_mem_block_size(mb);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, xmlrpc_mem_block_contents(mb), n);
    s[n] = '\0';
    xmlrpc_mem_block_free(mb);
    return s;
}

/* The body xmlrpc-c sends for method(params); params is released. */
static char *call_text(const char *method, xmlrpc_value *params)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    assert_non_null(params);
    xmlrpc_mem_block *mb = xmlrpc_mem_block_new(&env, 0);
    xmlrpc_serialize_call(&env, mb, method, params);
    assert_false(env.fault_occurred);
    xmlrpc_DECREF(params);
    xmlrpc_env_clean(&env);
    return block_text(mb);
}

/* The body of a successful response carrying v; v is released. */
static char *response_text(xmlrpc_value *v)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    assert_non_null(v);
    xmlrpc_mem_block *mb = xmlrpc_mem_block_new(&env, 0);
    xmlrpc_serialize_response(&env, mb, v);
    assert_false(env.fault_occurred);
    xmlrpc_DECREF(v);
    xmlrpc_env_clean(&env);
    return block_text(mb);
}

/* got equals the spec's LF text expected_lf in CRLF form, and has content_length bytes
 * (0: not checked). got is freed. */
static void assert_body(char *got, const char *expected_lf, size_t content_length)
{
    char *want = crlf(expected_lf);
    assert_string_equal(got, want);
    if (content_length)
        assert_int_equal(strlen(got), content_length);
    free(want);
    free(got);
}

/* params through XML text and back, as the daemon receives them; params is released. */
static xmlrpc_value *via_call_xml(xmlrpc_value *params)
{
    char *text = call_text("m", params);
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    const char *method = NULL;
    xmlrpc_value *back = NULL;
    xmlrpc_parse_call(&env, text, strlen(text), &method, &back);
    assert_false(env.fault_occurred);
    assert_string_equal(method, "m");
    free((void *)method);
    free(text);
    xmlrpc_env_clean(&env);
    return back;
}

/* A reply value through XML text and back, as the controller receives it; v is released. */
static xmlrpc_value *via_response_xml(xmlrpc_value *v)
{
    char *text = response_text(v);
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *back = NULL;
    int code = 0;
    const char *fault = NULL;
    xmlrpc_parse_response2(&env, text, strlen(text), &back, &code, &fault);
    assert_false(env.fault_occurred);
    assert_null(fault);
    free(text);
    xmlrpc_env_clean(&env);
    return back;
}

/* The call params parsed from hand-written XML (a request body). */
static xmlrpc_value *params_from_xml(const char *xml)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    const char *method = NULL;
    xmlrpc_value *params = NULL;
    xmlrpc_parse_call(&env, xml, strlen(xml), &method, &params);
    assert_false(env.fault_occurred);
    free((void *)method);
    xmlrpc_env_clean(&env);
    return params;
}

/* A copy of struct st without member drop (NULL: none), plus name = add when add is given. */
static xmlrpc_value *struct_edit(xmlrpc_value *st, const char *drop, const char *name,
                                 xmlrpc_value *add)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *out = xmlrpc_struct_new(&env);
    int n = xmlrpc_struct_size(&env, st);
    for (int i = 0; i < n; i++) {
        xmlrpc_value *key = NULL, *val = NULL;
        xmlrpc_struct_read_member(&env, st, (unsigned)i, &key, &val);
        assert_false(env.fault_occurred);
        const char *k = NULL;
        xmlrpc_read_string(&env, key, &k);
        if (drop == NULL || strcmp(k, drop) != 0)
            xmlrpc_struct_set_value(&env, out, k, val);
        free((void *)k);
        xmlrpc_DECREF(key);
        xmlrpc_DECREF(val);
    }
    if (add != NULL)
        xmlrpc_struct_set_value(&env, out, name, add);
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
    return out;
}

/* A copy of array arr with item idx replaced by repl (not released). */
static xmlrpc_value *array_with(xmlrpc_value *arr, int idx, xmlrpc_value *repl)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *out = xmlrpc_array_new(&env);
    int n = xmlrpc_array_size(&env, arr);
    for (int i = 0; i < n; i++) {
        xmlrpc_value *item = NULL;
        xmlrpc_array_read_item(&env, arr, (unsigned)i, &item);
        xmlrpc_array_append_item(&env, out, i == idx ? repl : item);
        xmlrpc_DECREF(item);
    }
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
    return out;
}

/* arr[idx] (a struct) with member name dropped (repl NULL) or replaced by repl. */
static xmlrpc_value *params_edit(xmlrpc_value *arr, int idx, const char *name, xmlrpc_value *repl)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *st = NULL;
    xmlrpc_array_read_item(&env, arr, (unsigned)idx, &st);
    assert_false(env.fault_occurred);
    xmlrpc_value *edited = struct_edit(st, name, name, repl);
    xmlrpc_value *out = array_with(arr, idx, edited);
    xmlrpc_DECREF(edited);
    xmlrpc_DECREF(st);
    xmlrpc_env_clean(&env);
    return out;
}

/* A copy of arr with only its first n items, or with extra appended when n is larger. */
static xmlrpc_value *array_resized(xmlrpc_value *arr, int n, xmlrpc_value *extra)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *out = xmlrpc_array_new(&env);
    int have = xmlrpc_array_size(&env, arr);
    for (int i = 0; i < n; i++) {
        if (i < have) {
            xmlrpc_value *item = NULL;
            xmlrpc_array_read_item(&env, arr, (unsigned)i, &item);
            xmlrpc_array_append_item(&env, out, item);
            xmlrpc_DECREF(item);
        } else {
            xmlrpc_array_append_item(&env, out, extra);
        }
    }
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
    return out;
}

/* A value of a type other than type (the spec's letters: i d b s A). */
static xmlrpc_value *wrong_value(char type)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *v;
    switch (type) {
    case 'i':
        v = xmlrpc_double_new(&env, 1.0); /* 0.8.2: -501 "DOUBLE supplied where INT expected" */
        break;
    case 'd':
        v = xmlrpc_int_new(&env, 1); /* crashed 0.8.2 (bug 35) */
        break;
    case 'b':
        v = xmlrpc_int_new(&env, 1); /* crashed 0.8.2 (bug 35) */
        break;
    case 's':
        v = xmlrpc_int_new(&env, 7);
        break;
    default:
        v = xmlrpc_string_new(&env, "x");
        break;
    }
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
    return v;
}

static const char *type_words(char type)
{
    switch (type) {
    case 'i':
        return "an int";
    case 'd':
        return "a double";
    case 'b':
        return "a boolean";
    case 's':
        return "a string";
    default:
        return "an array";
    }
}

/* Expects rc -1 and env's fault code and string; cleans env for the next use. */
static void assert_fault(int rc, xmlrpc_env *env, int code, const char *msg)
{
    assert_int_equal(rc, -1);
    assert_true(env->fault_occurred);
    assert_int_equal(env->fault_code, code);
    assert_string_equal(env->fault_string, msg);
    xmlrpc_env_clean(env);
    xmlrpc_env_init(env);
}

/* --- §3.1's member table, written from the spec ------------------------------------------ */

struct spec_member {
    int param; /* 1-based */
    const char *name;
    char type;
};

static const struct spec_member settings_members[] = {
    {1, "bind_address", 's'},
    {2, "flow_id", 'i'},
    {3, "write_delay", 'd'},
    {3, "write_duration", 'd'},
    {3, "read_delay", 'd'},
    {3, "read_duration", 'd'},
    {3, "reporting_interval", 'd'},
    {4, "requested_send_buffer_size", 'i'},
    {4, "requested_read_buffer_size", 'i'},
    {5, "maximum_block_size", 'i'},
    {6, "traffic_dump", 'b'},
    {6, "so_debug", 'b'},
    {6, "route_record", 'b'},
    {6, "pushy", 'b'},
    {6, "shutdown", 'b'},
    {7, "write_rate", 'i'},
    {7, "random_seed", 'i'},
    {8, "traffic_generation_request_distribution", 'i'},
    {8, "traffic_generation_request_param_one", 'd'},
    {8, "traffic_generation_request_param_two", 'd'},
    {9, "traffic_generation_response_distribution", 'i'},
    {9, "traffic_generation_response_param_one", 'd'},
    {9, "traffic_generation_response_param_two", 'd'},
    {10, "traffic_generation_gap_distribution", 'i'},
    {10, "traffic_generation_gap_param_one", 'd'},
    {10, "traffic_generation_gap_param_two", 'd'},
    {11, "flow_control", 'b'},
    {11, "byte_counting", 'b'},
    {11, "cork", 'i'},
    {11, "nonagle", 'i'},
    {12, "cc_alg", 's'},
    {13, "elcn", 'i'},
    {13, "lcd", 'i'},
    {13, "mtcp", 'i'},
    {13, "dscp", 'i'},
    {13, "ipmtudiscover", 'i'},
    {14, "dump_prefix", 's'},
    {15, "num_extra_socket_options", 'i'},
    {15, "extra_socket_options", 'A'},
    /* add_flow_source only */
    {16, "destination_address", 's'},
    {16, "destination_port", 'i'},
    {16, "late_connect", 'i'},
};
#define N_SETTINGS_MEMBERS (sizeof settings_members / sizeof settings_members[0])

/* The 9 report structs (§3.1 table, order of the §4.7 capture). */
static const struct spec_member report_members[] = {
    {1, "id", 'i'},
    {1, "endpoint", 'i'},
    {1, "type", 'i'},
    {1, "begin_tv_sec", 'i'},
    {1, "begin_tv_nsec", 'i'},
    {1, "end_tv_sec", 'i'},
    {1, "end_tv_nsec", 'i'},
    {2, "bytes_read_high", 'i'},
    {2, "bytes_read_low", 'i'},
    {2, "bytes_written_high", 'i'},
    {2, "bytes_written_low", 'i'},
    {3, "request_blocks_read", 'i'},
    {3, "request_blocks_written", 'i'},
    {3, "response_blocks_read", 'i'},
    {3, "response_blocks_written", 'i'},
    {4, "rtt_min", 'd'},
    {4, "rtt_max", 'd'},
    {4, "rtt_sum", 'd'},
    {4, "iat_min", 'd'},
    {4, "iat_max", 'd'},
    {4, "iat_sum", 'd'},
    {4, "delay_min", 'd'},
    {4, "delay_max", 'd'},
    {4, "delay_sum", 'd'},
    {5, "pmtu", 'i'},
    {5, "imtu", 'i'},
    {6, "tcpi_snd_cwnd", 'i'},
    {6, "tcpi_snd_ssthresh", 'i'},
    {6, "tcpi_unacked", 'i'},
    {6, "tcpi_sacked", 'i'},
    {6, "tcpi_lost", 'i'},
    {7, "tcpi_retrans", 'i'},
    {7, "tcpi_retransmits", 'i'},
    {7, "tcpi_fackets", 'i'},
    {7, "tcpi_reordering", 'i'},
    {7, "tcpi_rtt", 'i'},
    {8, "tcpi_rttvar", 'i'},
    {8, "tcpi_rto", 'i'},
    {8, "tcpi_backoff", 'i'},
    {8, "tcpi_ca_state", 'i'},
    {8, "tcpi_snd_mss", 'i'},
    {9, "status", 'i'},
};
#define N_REPORT_MEMBERS (sizeof report_members / sizeof report_members[0])

/* --- captured bodies ------------------------------------------------------------------------ */

/* §4.4, Content-Length 4108. */
static const char ADD_DESTINATION_CALL[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<methodCall>\n"
    "<methodName>add_flow_destination</methodName>\n"
    "<params>\n"
    "<param><value><struct>\n"
    "<member><name>bind_address</name>\n"
    "<value><string>127.0.0.1</string></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>flow_id</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>write_delay</name>\n"
    "<value><double>0</double></value></member>\n"
    "<member><name>write_duration</name>\n"
    "<value><double>0</double></value></member>\n"
    "<member><name>read_delay</name>\n"
    "<value><double>0</double></value></member>\n"
    "<member><name>read_duration</name>\n"
    "<value><double>2</double></value></member>\n"
    "<member><name>reporting_interval</name>\n"
    "<value><double>0.5</double></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>requested_send_buffer_size</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>requested_read_buffer_size</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>maximum_block_size</name>\n"
    "<value><i4>8192</i4></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>traffic_dump</name>\n"
    "<value><boolean>0</boolean></value></member>\n"
    "<member><name>so_debug</name>\n"
    "<value><boolean>0</boolean></value></member>\n"
    "<member><name>route_record</name>\n"
    "<value><boolean>0</boolean></value></member>\n"
    "<member><name>pushy</name>\n"
    "<value><boolean>0</boolean></value></member>\n"
    "<member><name>shutdown</name>\n"
    "<value><boolean>0</boolean></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>write_rate</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>random_seed</name>\n"
    "<value><i4>-355570555</i4></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>traffic_generation_request_distribution</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>traffic_generation_request_param_one</name>\n"
    "<value><double>8192</double></value></member>\n"
    "<member><name>traffic_generation_request_param_two</name>\n"
    "<value><double>0</double></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>traffic_generation_response_distribution</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>traffic_generation_response_param_one</name>\n"
    "<value><double>0</double></value></member>\n"
    "<member><name>traffic_generation_response_param_two</name>\n"
    "<value><double>0</double></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>traffic_generation_gap_distribution</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>traffic_generation_gap_param_one</name>\n"
    "<value><double>0</double></value></member>\n"
    "<member><name>traffic_generation_gap_param_two</name>\n"
    "<value><double>0</double></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>flow_control</name>\n"
    "<value><boolean>0</boolean></value></member>\n"
    "<member><name>byte_counting</name>\n"
    "<value><boolean>0</boolean></value></member>\n"
    "<member><name>cork</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>nonagle</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>cc_alg</name>\n"
    "<value><string></string></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>elcn</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>lcd</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>mtcp</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>dscp</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>ipmtudiscover</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>dump_prefix</name>\n"
    "<value><string>flowgrind-</string></value></member>\n"
    "</struct></value></param>\n"
    "<param><value><struct>\n"
    "<member><name>num_extra_socket_options</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>extra_socket_options</name>\n"
    "<value><array><data>\n"
    "</data></array></value></member>\n"
    "</struct></value></param>\n"
    "</params>\n"
    "</methodCall>\n";

/* §4.7: the first get_reports response up to and including its first report. */
static const char REPORTS_HEAD[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<methodResponse>\n"
    "<params>\n"
    "<param><value><array><data>\n"
    "<value><i4>0</i4></value>\n"
    "<value><array><data>\n"
    "<value><struct>\n"
    "<member><name>id</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>endpoint</name>\n"
    "<value><i4>1</i4></value></member>\n"
    "<member><name>type</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>begin_tv_sec</name>\n"
    "<value><i4>1795414111</i4></value></member>\n"
    "<member><name>begin_tv_nsec</name>\n"
    "<value><i4>464231839</i4></value></member>\n"
    "<member><name>end_tv_sec</name>\n"
    "<value><i4>1795414111</i4></value></member>\n"
    "<member><name>end_tv_nsec</name>\n"
    "<value><i4>964246824</i4></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>bytes_read_high</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>bytes_read_low</name>\n"
    "<value><i4>361144320</i4></value></member>\n"
    "<member><name>bytes_written_high</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>bytes_written_low</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>request_blocks_read</name>\n"
    "<value><i4>44085</i4></value></member>\n"
    "<member><name>request_blocks_written</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>response_blocks_read</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>response_blocks_written</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>rtt_min</name>\n"
    "<value><double>340282346638529000000000000000000000000</double></value></member>\n"
    "<member><name>rtt_max</name>\n"
    "<value><double>0.000000000000000000000000000000000000011754943508222874</double></value></"
    "member>\n"
    "<member><name>rtt_sum</name>\n"
    "<value><double>0</double></value></member>\n"
    "<member><name>iat_min</name>\n"
    "<value><double>0.000008623000000000001</double></value></member>\n"
    "<member><name>iat_max</name>\n"
    "<value><double>0.005165901</double></value></member>\n"
    "<member><name>iat_sum</name>\n"
    "<value><double>0.49990379900000239</double></value></member>\n"
    "<member><name>delay_min</name>\n"
    "<value><double>0.0000086029999999999999</double></value></member>\n"
    "<member><name>delay_max</name>\n"
    "<value><double>0.0051659510000000008</double></value></member>\n"
    "<member><name>delay_sum</name>\n"
    "<value><double>0.49762955999999596</double></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>pmtu</name>\n"
    "<value><i4>65535</i4></value></member>\n"
    "<member><name>imtu</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>tcpi_snd_cwnd</name>\n"
    "<value><i4>10</i4></value></member>\n"
    "<member><name>tcpi_snd_ssthresh</name>\n"
    "<value><i4>2147483647</i4></value></member>\n"
    "<member><name>tcpi_unacked</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>tcpi_sacked</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>tcpi_lost</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>tcpi_retrans</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>tcpi_retransmits</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>tcpi_fackets</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>tcpi_reordering</name>\n"
    "<value><i4>3</i4></value></member>\n"
    "<member><name>tcpi_rtt</name>\n"
    "<value><i4>15</i4></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>tcpi_rttvar</name>\n"
    "<value><i4>7</i4></value></member>\n"
    "<member><name>tcpi_rto</name>\n"
    "<value><i4>200000</i4></value></member>\n"
    "<member><name>tcpi_backoff</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>tcpi_ca_state</name>\n"
    "<value><i4>0</i4></value></member>\n"
    "<member><name>tcpi_snd_mss</name>\n"
    "<value><i4>32768</i4></value></member>\n"
    "</struct></value>\n"
    "<value><struct>\n"
    "<member><name>status</name>\n"
    "<value><i4>28271</i4></value></member>\n"
    "</struct></value>\n"
    "</data></array></value>\n";

static const char REPORTS_TAIL[] = "</data></array></value></param>\n"
                                   "</params>\n"
                                   "</methodResponse>\n";

/* The settings of the §4.4 capture: `-T s=2 -i 0.5`, destination side, seed 3939396741. */
static void spec_destination_settings(struct fg_endpoint_settings *s)
{
    fg_rpc_settings_defaults(s);
    snprintf(s->bind_address, sizeof s->bind_address, "127.0.0.1");
    s->read_duration = 2;
    s->reporting_interval = 0.5;
    s->random_seed = 3939396741u;
}

/* src with the one occurrence of old replaced by new_text; a new string. */
static char *replace_once(const char *src, const char *old, const char *new_text)
{
    const char *at = strstr(src, old);
    assert_non_null(at);
    assert_null(strstr(at + 1, old));
    size_t head = (size_t)(at - src), n = strlen(src) - strlen(old) + strlen(new_text);
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, src, head);
    strcpy(out + head, new_text);
    strcat(out, at + strlen(old));
    return out;
}

static void replace_in_place(char **s, const char *old, const char *new_text)
{
    char *r = replace_once(*s, old, new_text);
    free(*s);
    *s = r;
}

/* Every settings field set to a distinct value. xmlrpc-c 1.33's own double parser lands one
 * ulp off for many fractions (0.05, 0.0625, 0.75 all come back 1 ulp high; checked for 0.05
 * below), so the doubles here are ones it reads back exactly (0.5, 0.25, 0.125, 1.5, ...). */
static void full_settings(struct fg_endpoint_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->bind_address, sizeof s->bind_address, "::1");
    s->flow_id = 7;
    s->write_delay = 0.25;
    s->write_duration = 1.5;
    s->read_delay = 0.125;
    s->read_duration = 3.75;
    s->reporting_interval = 0.25;
    s->requested_send_buffer_size = 16384;
    s->requested_read_buffer_size = 131072;
    s->maximum_block_size = 32000;
    s->traffic_dump = true;
    s->so_debug = false;
    s->route_record = true;
    s->pushy = true;
    s->shutdown = true;
    s->write_rate = 1310720;
    s->random_seed = 4294967295u;
    s->request = (struct fg_dist_param){FG_DIST_NORMAL, 8192, 100.5};
    s->response = (struct fg_dist_param){FG_DIST_PARETO, 40, 2.5};
    s->gap = (struct fg_dist_param){FG_DIST_EXPONENTIAL, 4.5, 0};
    s->flow_control = true;
    s->byte_counting = true;
    s->cork = 1;
    s->nonagle = 1;
    snprintf(s->cc_alg, sizeof s->cc_alg, "reno");
    s->elcn = 2;
    s->lcd = 3;
    s->mtcp = 4;
    s->dscp = 46;
    s->ipmtudiscover = 1;
    snprintf(s->dump_prefix, sizeof s->dump_prefix, "run-<&>-");
    s->num_extra_socket_options = 2;
    s->n_extra = 2;
    s->extra[0] = (struct fg_extra_sockopt){.level = 1, .optname = 1, .len = 4};
    memcpy(s->extra[0].value, "\x01\x00\x00\x00", 4);
    s->extra[1] = (struct fg_extra_sockopt){.level = 0, .optname = 7, .len = 100};
    for (int i = 0; i < 100; i++)
        s->extra[1].value[i] = (uint8_t)(255 - i);
}

/* Report 1 of the §4.7 capture (the destination's interval report). */
static void spec_report_1(struct fg_report *r)
{
    fg_rpc_report_init(r);
    r->id = 0;
    r->endpoint = FG_DESTINATION;
    r->type = FG_REPORT_INTERVAL;
    r->begin = (struct timespec){1795414111, 464231839};
    r->end = (struct timespec){1795414111, 964246824};
    r->bytes_read = 361144320;
    r->request_blocks_read = 44085;
    r->iat_min = 0.000008623000000000001;
    r->iat_max = 0.005165901;
    r->iat_sum = 0.49990379900000239;
    r->delay_min = 0.0000086029999999999999;
    r->delay_max = 0.0051659510000000008;
    r->delay_sum = 0.49762955999999596;
    r->rtt_samples = r->iat_samples = r->delay_samples = -1; /* 0.8.2 does not send them */
    r->pmtu = 65535;
    r->imtu = 0;
    r->tcpi = (struct fg_report_tcp_info){.snd_cwnd = 10,
                                          .snd_ssthresh = 2147483647,
                                          .reordering = 3,
                                          .rtt = 15,
                                          .rttvar = 7,
                                          .rto = 200000,
                                          .snd_mss = 32768};
    r->status = 28271;
}

/* Report 2 as §4.7 describes it (the source's interval report). */
static void spec_report_2(struct fg_report *r)
{
    fg_rpc_report_init(r);
    r->endpoint = FG_SOURCE;
    r->begin = (struct timespec){1795414111, 464300000};
    r->end = (struct timespec){1795414111, 964300000};
    r->bytes_written = 361152512;
    r->request_blocks_written = 44086;
    r->rtt_samples = r->iat_samples = r->delay_samples = -1;
    r->pmtu = 65535;
    r->tcpi = (struct fg_report_tcp_info){.snd_cwnd = 18,
                                          .snd_ssthresh = 2147483647,
                                          .unacked = 1,
                                          .reordering = 3,
                                          .rtt = 7,
                                          .rto = 204000,
                                          .snd_mss = 65483};
    r->status = 28526;
}

/* --- controller calls, byte for byte --------------------------------------------------------- */

static void test_get_uuid_call(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    assert_body(call_text("get_uuid", fg_rpc_no_params(&env)),
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<methodCall>\n"
                "<methodName>get_uuid</methodName>\n"
                "<params>\n"
                "</params>\n"
                "</methodCall>\n",
                125);
    xmlrpc_env_clean(&env);
}

static void test_add_destination_call(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_endpoint_settings s;
    spec_destination_settings(&s);
    assert_body(call_text("add_flow_destination", fg_rpc_add_destination_params(&env, &s)),
                ADD_DESTINATION_CALL, 4108);
    xmlrpc_env_clean(&env);
}

static void test_add_source_call(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_endpoint_settings s;
    spec_destination_settings(&s);
    s.write_duration = 2;
    s.read_duration = 0;
    struct fg_source_target t = {
        .destination_address = "127.0.0.1", .destination_port = 48383, .late_connect = 0};

    char *want = replace_once(ADD_DESTINATION_CALL, "<methodName>add_flow_destination<",
                              "<methodName>add_flow_source<");
    replace_in_place(&want, "write_duration</name>\n<value><double>0<",
                     "write_duration</name>\n<value><double>2<");
    replace_in_place(&want, "read_duration</name>\n<value><double>2<",
                     "read_duration</name>\n<value><double>0<");
    replace_in_place(&want, "</params>\n",
                     "<param><value><struct>\n"
                     "<member><name>destination_address</name>\n"
                     "<value><string>127.0.0.1</string></value></member>\n"
                     "<member><name>destination_port</name>\n"
                     "<value><i4>48383</i4></value></member>\n"
                     "<member><name>late_connect</name>\n"
                     "<value><i4>0</i4></value></member>\n"
                     "</struct></value></param>\n"
                     "</params>\n");
    assert_body(call_text("add_flow_source", fg_rpc_add_source_params(&env, &s, &t)), want, 4398);
    free(want);
    xmlrpc_env_clean(&env);
}

static void test_start_and_stop_calls(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    assert_body(call_text("start_flows", fg_rpc_start_flows_params(&env, 1795414113)),
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<methodCall>\n"
                "<methodName>start_flows</methodName>\n"
                "<params>\n"
                "<param><value><struct>\n"
                "<member><name>start_timestamp</name>\n"
                "<value><i4>1795414113</i4></value></member>\n"
                "</struct></value></param>\n"
                "</params>\n"
                "</methodCall>\n",
                0);
    static const char stop0[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                "<methodCall>\n"
                                "<methodName>stop_flow</methodName>\n"
                                "<params>\n"
                                "<param><value><struct>\n"
                                "<member><name>flow_id</name>\n"
                                "<value><i4>0</i4></value></member>\n"
                                "</struct></value></param>\n"
                                "</params>\n"
                                "</methodCall>\n";
    assert_body(call_text("stop_flow", fg_rpc_stop_flow_params(&env, 0)), stop0, 243); /* §4.8 */
    /* flowgrind-stop's call: flow_id -1 stops every flow */
    char *all = replace_once(stop0, "<i4>0</i4>", "<i4>-1</i4>");
    assert_body(call_text("stop_flow", fg_rpc_stop_flow_params(&env, -1)), all, 244);
    free(all);
    xmlrpc_env_clean(&env);
}

/* --- daemon replies, byte for byte ----------------------------------------------------------- */

#define RESPONSE_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse>\n<params>\n"
#define RESPONSE_TAIL "</params>\n</methodResponse>\n"

static void test_small_replies(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    assert_body(response_text(fg_rpc_uuid_reply(&env, "4ed5a584-e704-11f1-866b-02fc00000001")),
                RESPONSE_HEAD "<param><value><struct>\n"
                              "<member><name>server_uuid</name>\n"
                              "<value><string>4ed5a584-e704-11f1-866b-02fc00000001</string>"
                              "</value></member>\n"
                              "</struct></value></param>\n" RESPONSE_TAIL,
                262);

    struct fg_version_reply ver = {"0.8.2", 3, "Linux", "6.18.44-fc-v669"};
    assert_body(response_text(fg_rpc_version_reply(&env, &ver)),
                RESPONSE_HEAD "<param><value><struct>\n"
                              "<member><name>version</name>\n"
                              "<value><string>0.8.2</string></value></member>\n"
                              "<member><name>api_version</name>\n"
                              "<value><i4>3</i4></value></member>\n"
                              "<member><name>os_name</name>\n"
                              "<value><string>Linux</string></value></member>\n"
                              "<member><name>os_release</name>\n"
                              "<value><string>6.18.44-fc-v669</string></value></member>\n"
                              "</struct></value></param>\n" RESPONSE_TAIL,
                0);

    struct fg_status_reply st = {0, 0};
    assert_body(response_text(fg_rpc_status_reply(&env, &st)),
                RESPONSE_HEAD "<param><value><struct>\n"
                              "<member><name>started</name>\n"
                              "<value><i4>0</i4></value></member>\n"
                              "<member><name>num_flows</name>\n"
                              "<value><i4>0</i4></value></member>\n"
                              "</struct></value></param>\n" RESPONSE_TAIL,
                0);

    struct fg_add_destination_reply dr = {0, 48383, 16384, 131072};
    assert_body(response_text(fg_rpc_add_destination_reply(&env, &dr)),
                RESPONSE_HEAD "<param><value><struct>\n"
                              "<member><name>flow_id</name>\n"
                              "<value><i4>0</i4></value></member>\n"
                              "<member><name>listen_data_port</name>\n"
                              "<value><i4>48383</i4></value></member>\n"
                              "<member><name>real_listen_send_buffer_size</name>\n"
                              "<value><i4>16384</i4></value></member>\n"
                              "<member><name>real_listen_read_buffer_size</name>\n"
                              "<value><i4>131072</i4></value></member>\n"
                              "</struct></value></param>\n" RESPONSE_TAIL,
                0);

    struct fg_add_source_reply sr = {0, "bbr", 16384, 131072};
    assert_body(response_text(fg_rpc_add_source_reply(&env, &sr)),
                RESPONSE_HEAD "<param><value><struct>\n"
                              "<member><name>flow_id</name>\n"
                              "<value><i4>0</i4></value></member>\n"
                              "<member><name>cc_alg</name>\n"
                              "<value><string>bbr</string></value></member>\n"
                              "<member><name>real_send_buffer_size</name>\n"
                              "<value><i4>16384</i4></value></member>\n"
                              "<member><name>real_read_buffer_size</name>\n"
                              "<value><i4>131072</i4></value></member>\n"
                              "</struct></value></param>\n" RESPONSE_TAIL,
                0);

    assert_body(response_text(fg_rpc_start_flows_reply(&env)),
                RESPONSE_HEAD "<param><value><i4>0</i4></value></param>\n" RESPONSE_TAIL, 0);
    assert_body(response_text(fg_rpc_stop_flow_reply(&env)),
                RESPONSE_HEAD "<param><value><array><data>\n"
                              "</data></array></value></param>\n" RESPONSE_TAIL,
                0);
    assert_body(response_text(fg_rpc_reports_reply(&env, false, NULL, 0)),
                RESPONSE_HEAD "<param><value><array><data>\n"
                              "<value><i4>0</i4></value>\n"
                              "</data></array></value></param>\n" RESPONSE_TAIL,
                0);
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
}

static void test_reports_reply_capture(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_report r[2];
    spec_report_1(&r[0]);
    spec_report_2(&r[1]);

    /* report 1 verbatim, as the §4.7 capture shows it */
    size_t n1 = strlen(REPORTS_HEAD) + strlen(REPORTS_TAIL) + 1;
    char *one = malloc(n1);
    assert_non_null(one);
    snprintf(one, n1, "%s%s", REPORTS_HEAD, REPORTS_TAIL);
    assert_body(response_text(fg_rpc_reports_reply(&env, false, r, 1)), one, 0);
    free(one);

    /* both: report 1 verbatim, then report 2 in the same layout, has_more as the first item */
    char *both = response_text(fg_rpc_reports_reply(&env, true, r, 2));
    char *head = replace_once(REPORTS_HEAD, "<value><i4>0</i4></value>\n<value><array>",
                              "<value><i4>1</i4></value>\n<value><array>");
    char *want_head = crlf(head);
    assert_memory_equal(both, want_head, strlen(want_head));
    char *want_tail = crlf(REPORTS_TAIL);
    assert_string_equal(both + strlen(both) - strlen(want_tail), want_tail);
    /* report 2 is the one report of its own reply */
    char *single = response_text(fg_rpc_reports_reply(&env, false, &r[1], 1));
    char *single_head = crlf(RESPONSE_HEAD "<param><value><array><data>\n"
                                           "<value><i4>0</i4></value>\n");
    assert_memory_equal(single, single_head, strlen(single_head));
    size_t body2 = strlen(single) - strlen(single_head) - strlen(want_tail);
    assert_int_equal(strlen(both), strlen(want_head) + body2 + strlen(want_tail));
    assert_memory_equal(both + strlen(want_head), single + strlen(single_head), body2);
    assert_non_null(strstr(single, "<member><name>bytes_written_low</name>\r\n"
                                   "<value><i4>361152512</i4></value></member>"));
    assert_non_null(strstr(single, "<member><name>status</name>\r\n"
                                   "<value><i4>28526</i4></value></member>"));
    free(both);
    free(head);
    free(want_head);
    free(want_tail);
    free(single);
    free(single_head);
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
}

/* netgrind's sample counts go at the end of struct 4, after delay_sum, and only when >= 0. */
static void test_report_sample_counts_appended(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_report r;
    spec_report_1(&r);
    r.rtt_samples = 0;
    r.iat_samples = 44084;
    r.delay_samples = 44085;
    char *text = response_text(fg_rpc_reports_reply(&env, false, &r, 1));
    char *want = crlf("<member><name>delay_sum</name>\n"
                      "<value><double>0.49762955999999596</double></value></member>\n"
                      "<member><name>rtt_samples</name>\n"
                      "<value><i4>0</i4></value></member>\n"
                      "<member><name>iat_samples</name>\n"
                      "<value><i4>44084</i4></value></member>\n"
                      "<member><name>delay_samples</name>\n"
                      "<value><i4>44085</i4></value></member>\n"
                      "</struct></value>\n"
                      "<value><struct>\n"
                      "<member><name>pmtu</name>\n");
    assert_non_null(strstr(text, want));
    free(want);
    free(text);

    r.rtt_samples = -1; /* only the ones known go out */
    text = response_text(fg_rpc_reports_reply(&env, false, &r, 1));
    assert_null(strstr(text, "rtt_samples"));
    assert_non_null(strstr(text, "iat_samples"));
    free(text);
    xmlrpc_env_clean(&env);
}

/* --- round trips ----------------------------------------------------------------------------- */

static void test_settings_round_trip(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_endpoint_settings s, back;
    full_settings(&s);
    xmlrpc_value *params = via_call_xml(fg_rpc_add_destination_params(&env, &s));
    memset(&back, 0xa5, sizeof back);
    assert_int_equal(fg_rpc_parse_add_destination(&env, params, &back), 0);
    assert_false(env.fault_occurred);
    assert_memory_equal(&back, &s, sizeof s);
    xmlrpc_DECREF(params);

    struct fg_source_target t = {"192.0.2.1", 65535, 1}, tback;
    params = via_call_xml(fg_rpc_add_source_params(&env, &s, &t));
    memset(&back, 0xa5, sizeof back);
    memset(&tback, 0xa5, sizeof tback);
    assert_int_equal(fg_rpc_parse_add_source(&env, params, &back, &tback), 0);
    assert_memory_equal(&back, &s, sizeof s);
    assert_memory_equal(&tback, &t, sizeof t);
    xmlrpc_DECREF(params);

    /* the §4.4 settings: the seed travels as -355570555 and comes back unsigned */
    spec_destination_settings(&s);
    params = via_call_xml(fg_rpc_add_destination_params(&env, &s));
    assert_int_equal(fg_rpc_parse_add_destination(&env, params, &back), 0);
    assert_int_equal(back.random_seed, 3939396741u);
    assert_string_equal(back.bind_address, "127.0.0.1");
    assert_true(back.read_duration == 2.0 && back.reporting_interval == 0.5);
    assert_int_equal(back.n_extra, 0);
    xmlrpc_DECREF(params);

    /* the default interval 0.05 goes out as "0.05" and comes back within an ulp */
    fg_rpc_settings_defaults(&s);
    params = via_call_xml(fg_rpc_add_destination_params(&env, &s));
    assert_int_equal(fg_rpc_parse_add_destination(&env, params, &back), 0);
    assert_true(fabs(back.reporting_interval - 0.05) <= 0.05 * 1e-15);
    xmlrpc_DECREF(params);
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
}

static void test_start_stop_round_trip(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    const int32_t values[] = {0, -1, 1795414113, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        int32_t got = 12345;
        xmlrpc_value *p = via_call_xml(fg_rpc_start_flows_params(&env, values[i]));
        assert_int_equal(fg_rpc_parse_start_flows(&env, p, &got), 0);
        assert_int_equal(got, values[i]);
        xmlrpc_DECREF(p);
        p = via_call_xml(fg_rpc_stop_flow_params(&env, values[i]));
        got = 12345;
        assert_int_equal(fg_rpc_parse_stop_flow(&env, p, &got), 0);
        assert_int_equal(got, values[i]);
        xmlrpc_DECREF(p);
    }
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
}

static void test_reply_round_trips(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    char uuid[64];
    xmlrpc_value *v =
        via_response_xml(fg_rpc_uuid_reply(&env, "4ed5a584-e704-11f1-866b-02fc00000001"));
    assert_int_equal(fg_rpc_parse_uuid_reply(&env, v, uuid, sizeof uuid), 0);
    assert_string_equal(uuid, "4ed5a584-e704-11f1-866b-02fc00000001");
    xmlrpc_DECREF(v);

    struct fg_version_reply ver = {"0.8.2", 3, "Linux", "6.18.44-fc-v669"}, vb;
    memset(&vb, 0, sizeof vb);
    v = via_response_xml(fg_rpc_version_reply(&env, &ver));
    assert_int_equal(fg_rpc_parse_version_reply(&env, v, &vb), 0);
    assert_memory_equal(&vb, &ver, sizeof ver);
    xmlrpc_DECREF(v);

    struct fg_status_reply st = {1, 512}, sb = {0, 0};
    v = via_response_xml(fg_rpc_status_reply(&env, &st));
    assert_int_equal(fg_rpc_parse_status_reply(&env, v, &sb), 0);
    assert_int_equal(sb.started, 1);
    assert_int_equal(sb.num_flows, 512);
    xmlrpc_DECREF(v);

    struct fg_add_destination_reply dr = {3, 48383, 16384, 131072}, db;
    v = via_response_xml(fg_rpc_add_destination_reply(&env, &dr));
    assert_int_equal(fg_rpc_parse_add_destination_reply(&env, v, &db), 0);
    assert_memory_equal(&db, &dr, sizeof dr);
    xmlrpc_DECREF(v);

    struct fg_add_source_reply sr = {3, "bbr", 16384, 131072}, srb;
    memset(&srb, 0, sizeof srb);
    v = via_response_xml(fg_rpc_add_source_reply(&env, &sr));
    assert_int_equal(fg_rpc_parse_add_source_reply(&env, v, &srb), 0);
    assert_memory_equal(&srb, &sr, sizeof sr);
    xmlrpc_DECREF(v);
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
}

static void assert_reports_equal(const struct fg_report *a, const struct fg_report *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->endpoint, b->endpoint);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->begin.tv_sec, b->begin.tv_sec);
    assert_int_equal(a->begin.tv_nsec, b->begin.tv_nsec);
    assert_int_equal(a->end.tv_sec, b->end.tv_sec);
    assert_int_equal(a->end.tv_nsec, b->end.tv_nsec);
    assert_int_equal(a->bytes_read, b->bytes_read);
    assert_int_equal(a->bytes_written, b->bytes_written);
    assert_int_equal(a->request_blocks_read, b->request_blocks_read);
    assert_int_equal(a->request_blocks_written, b->request_blocks_written);
    assert_int_equal(a->response_blocks_read, b->response_blocks_read);
    assert_int_equal(a->response_blocks_written, b->response_blocks_written);
    const double *da[] = {&a->rtt_min, &a->rtt_max,   &a->rtt_sum,   &a->iat_min,  &a->iat_max,
                          &a->iat_sum, &a->delay_min, &a->delay_max, &a->delay_sum};
    const double *db[] = {&b->rtt_min, &b->rtt_max,   &b->rtt_sum,   &b->iat_min,  &b->iat_max,
                          &b->iat_sum, &b->delay_min, &b->delay_max, &b->delay_sum};
    for (size_t i = 0; i < 9; i++) {
        /* sentinels exactly; measured values within xmlrpc-c's printing and parsing */
        if (*db[i] == FLT_MAX || *db[i] == FLT_MIN || *db[i] == 0)
            assert_true(*da[i] == *db[i]);
        else
            assert_true(fabs(*da[i] - *db[i]) <= fabs(*db[i]) * 1e-15);
    }
    assert_int_equal(a->rtt_samples, b->rtt_samples);
    assert_int_equal(a->iat_samples, b->iat_samples);
    assert_int_equal(a->delay_samples, b->delay_samples);
    assert_int_equal(a->pmtu, b->pmtu);
    assert_int_equal(a->imtu, b->imtu);
    assert_memory_equal(&a->tcpi, &b->tcpi, sizeof a->tcpi);
    assert_int_equal(a->status, b->status);
}

static void test_reports_round_trip(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_report r[3];
    spec_report_1(&r[0]);
    spec_report_2(&r[1]);
    /* edges: halves whose low word has the sign bit, counts past 2^31, seconds past 2038,
     * the sentinels, sample counts present (one past 2^31, so it travels as <i8>) */
    fg_rpc_report_init(&r[2]);
    r[2].id = 2047;
    r[2].type = FG_REPORT_FINAL;
    r[2].begin = (struct timespec){4000000000, 0};
    r[2].end = (struct timespec){4000000001, 999999999};
    r[2].bytes_read = UINT64_C(0x180000001);
    r[2].bytes_written = UINT64_MAX;
    r[2].request_blocks_read = 4000000000u;
    r[2].response_blocks_written = UINT32_MAX;
    r[2].rtt_min = 0.5;
    r[2].rtt_max = 1.25;
    r[2].rtt_sum = 7.75;
    r[2].rtt_samples = 12;
    r[2].iat_samples = 0;
    r[2].delay_samples = INT64_C(3000000000);
    r[2].tcpi.snd_ssthresh = UINT32_MAX;
    r[2].imtu = 65536;
    r[2].status = 'n' * 256 + 'f';

    xmlrpc_value *v = via_response_xml(fg_rpc_reports_reply(&env, true, r, 3));
    struct fg_report out[4];
    bool more = false;
    size_t n = 99;
    assert_int_equal(fg_rpc_parse_reports_reply(&env, v, &more, out, 4, &n), 0);
    assert_false(env.fault_occurred);
    assert_true(more);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_reports_equal(&out[i], &r[i]);
    /* the sentinels are exact after the trip, though xmlrpc-c prints them with 15-17 digits */
    assert_true(out[0].rtt_min == FLT_MAX && out[0].rtt_max == FLT_MIN);
    assert_true(out[1].iat_min == FLT_MAX && out[1].delay_max == FLT_MIN);
    xmlrpc_DECREF(v);

    /* exactly as many as there is room for */
    v = via_response_xml(fg_rpc_reports_reply(&env, false, r, 3));
    assert_int_equal(fg_rpc_parse_reports_reply(&env, v, &more, out, 3, &n), 0);
    assert_false(more);
    assert_int_equal(n, 3);
    xmlrpc_DECREF(v);

    v = via_response_xml(fg_rpc_reports_reply(&env, false, NULL, 0));
    assert_int_equal(fg_rpc_parse_reports_reply(&env, v, &more, out, 0, &n), 0);
    assert_int_equal(n, 0);
    xmlrpc_DECREF(v);
    xmlrpc_env_clean(&env);
}

/* What 0.8.2's parser accepts, ours does too: <int>, an untyped string, exponent doubles, any
 * member order, extra members. */
static void test_lenient_input(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    char *xml = strdup(ADD_DESTINATION_CALL);
    assert_non_null(xml);
    replace_in_place(&xml, "<value><string>127.0.0.1</string></value>", "<value>127.0.0.1</value>");
    replace_in_place(&xml, "<double>8192</double>", "<double>8192e0</double>");
    replace_in_place(&xml, "<double>0.5</double>", "<double>5.0E-01</double>");
    replace_in_place(&xml, "<i4>-355570555</i4>", "<int>-355570555</int>");
    replace_in_place(&xml, "<member><name>flow_id</name>",
                     "<member><name>bogus</name><value><i4>1</i4></value></member>\n"
                     "<member><name>flow_id</name>");
    xmlrpc_value *params = params_from_xml(xml);
    free(xml);
    /* move write_delay to the end of its struct */
    xmlrpc_value *val = xmlrpc_double_new(&env, 0);
    xmlrpc_value *moved = params_edit(params, 2, "write_delay", val);
    xmlrpc_DECREF(val);

    struct fg_endpoint_settings want, got;
    spec_destination_settings(&want);
    assert_int_equal(fg_rpc_parse_add_destination(&env, moved, &got), 0);
    assert_false(env.fault_occurred);
    assert_memory_equal(&got, &want, sizeof want);
    xmlrpc_DECREF(moved);
    xmlrpc_DECREF(params);
    xmlrpc_env_clean(&env);
}

static void test_defaults(void **state)
{
    (void)state;
    struct fg_endpoint_settings s;
    memset(&s, 0x5a, sizeof s);
    fg_rpc_settings_defaults(&s);
    assert_string_equal(s.bind_address, "localhost");
    assert_string_equal(s.dump_prefix, "flowgrind-");
    assert_string_equal(s.cc_alg, "");
    assert_true(s.reporting_interval == 0.05 && s.write_duration == 0 && s.read_duration == 0);
    assert_int_equal(s.maximum_block_size, 8192);
    assert_int_equal(s.request.distribution, FG_DIST_CONSTANT);
    assert_true(s.request.param_one == 8192 && s.request.param_two == 0);
    assert_true(s.response.param_one == 0 && s.gap.param_one == 0);
    assert_int_equal(s.random_seed, 0);
    assert_int_equal(s.n_extra, 0);
    assert_false(s.pushy || s.traffic_dump || s.shutdown || s.flow_control);

    struct fg_report r;
    memset(&r, 0x5a, sizeof r);
    fg_rpc_report_init(&r);
    assert_true(r.rtt_min == FLT_MAX && r.iat_min == FLT_MAX && r.delay_min == FLT_MAX);
    assert_true(r.rtt_max == FLT_MIN && r.iat_max == FLT_MIN && r.delay_max == FLT_MIN);
    assert_true(r.rtt_sum == 0 && r.iat_sum == 0 && r.delay_sum == 0);
    assert_int_equal(r.rtt_samples, 0);
    assert_int_equal(r.bytes_read, 0);
    assert_int_equal(r.status, 0);
}

/* --- parse errors: daemon side ---------------------------------------------------------------- */

typedef int (*settings_parser)(xmlrpc_env *env, xmlrpc_value *params);

static int parse_destination(xmlrpc_env *env, xmlrpc_value *params)
{
    struct fg_endpoint_settings s;
    return fg_rpc_parse_add_destination(env, params, &s);
}

static int parse_source(xmlrpc_env *env, xmlrpc_value *params)
{
    struct fg_endpoint_settings s;
    struct fg_source_target t;
    return fg_rpc_parse_add_source(env, params, &s, &t);
}

static xmlrpc_value *valid_source_params(xmlrpc_env *env)
{
    struct fg_endpoint_settings s;
    full_settings(&s);
    struct fg_source_target t = {"127.0.0.1", 48383, 0};
    return fg_rpc_add_source_params(env, &s, &t);
}

static xmlrpc_value *valid_destination_params(xmlrpc_env *env)
{
    struct fg_endpoint_settings s;
    full_settings(&s);
    return fg_rpc_add_destination_params(env, &s);
}

/* Every member of every param, missing and then mistyped: -501 naming method, param, member. */
static void check_each_member(const char *method, xmlrpc_value *(*make_params)(xmlrpc_env *),
                              int nparams, settings_parser parse)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *params = make_params(&env);
    assert_int_equal(parse(&env, params), 0);
    char msg[256];
    for (size_t i = 0; i < N_SETTINGS_MEMBERS; i++) {
        const struct spec_member *m = &settings_members[i];
        if (m->param > nparams)
            continue;
        xmlrpc_value *bad = params_edit(params, m->param - 1, m->name, NULL);
        snprintf(msg, sizeof msg, "%s param %d: no member '%s'", method, m->param, m->name);
        assert_fault(parse(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);

        xmlrpc_value *wrong = wrong_value(m->type);
        bad = params_edit(params, m->param - 1, m->name, wrong);
        xmlrpc_DECREF(wrong);
        snprintf(msg, sizeof msg, "%s param %d: member '%s' must be %s", method, m->param, m->name,
                 type_words(m->type));
        assert_fault(parse(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
    }
    /* a param that is not a struct at all */
    xmlrpc_value *seven = xmlrpc_int_new(&env, 7);
    for (int p = 0; p < nparams; p++) {
        xmlrpc_value *bad = array_with(params, p, seven);
        snprintf(msg, sizeof msg, "%s param %d: not a struct", method, p + 1);
        assert_fault(parse(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
    }
    /* one param too few, one too many, none */
    xmlrpc_value *st = xmlrpc_struct_new(&env);
    const int counts[] = {nparams - 1, nparams + 1, 0};
    for (size_t c = 0; c < 3; c++) {
        xmlrpc_value *bad = array_resized(params, counts[c], st);
        snprintf(msg, sizeof msg, "%s takes exactly %d params (one struct each), got %d", method,
                 nparams, counts[c]);
        assert_fault(parse(&env, bad), &env, FG_FAULT_PARAMS, msg);
        xmlrpc_DECREF(bad);
    }
    xmlrpc_DECREF(st);
    xmlrpc_DECREF(seven);
    xmlrpc_DECREF(params);
    xmlrpc_env_clean(&env);
}

static void test_destination_member_errors(void **state)
{
    (void)state;
    check_each_member("add_flow_destination", valid_destination_params, 15, parse_destination);
}

static void test_source_member_errors(void **state)
{
    (void)state;
    check_each_member("add_flow_source", valid_source_params, 16, parse_source);
}

/* Strings up to FG_RPC_STRING_MAX - 1 bytes pass; one more, or a NUL inside, is -501. */
static void test_string_limits(void **state)
{
    (void)state;
    static const struct {
        int param;
        const char *name;
    } strings[] = {
        {1, "bind_address"}, {12, "cc_alg"}, {14, "dump_prefix"}, {16, "destination_address"}};
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *params = valid_source_params(&env);
    char longest[FG_RPC_STRING_MAX + 1];
    memset(longest, 'a', sizeof longest);
    char msg[256];
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        xmlrpc_value *v = xmlrpc_string_new_lp(&env, FG_RPC_STRING_MAX - 1, longest);
        xmlrpc_value *ok = params_edit(params, strings[i].param - 1, strings[i].name, v);
        xmlrpc_DECREF(v);
        struct fg_endpoint_settings s;
        struct fg_source_target t;
        assert_int_equal(fg_rpc_parse_add_source(&env, ok, &s, &t), 0);
        xmlrpc_DECREF(ok);

        v = xmlrpc_string_new_lp(&env, FG_RPC_STRING_MAX, longest);
        xmlrpc_value *bad = params_edit(params, strings[i].param - 1, strings[i].name, v);
        xmlrpc_DECREF(v);
        snprintf(msg, sizeof msg, "add_flow_source param %d: member '%s' longer than %d bytes",
                 strings[i].param, strings[i].name, FG_RPC_STRING_MAX - 1);
        assert_fault(parse_source(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);

        v = xmlrpc_string_new_lp(&env, 3, "a\0b");
        bad = params_edit(params, strings[i].param - 1, strings[i].name, v);
        xmlrpc_DECREF(v);
        snprintf(msg, sizeof msg, "add_flow_source param %d: member '%s' contains a NUL byte",
                 strings[i].param, strings[i].name);
        assert_fault(parse_source(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
    }
    xmlrpc_DECREF(params);
    xmlrpc_env_clean(&env);
}

/* One extra socket option struct with the given parts (NULL: member left out). */
static xmlrpc_value *extra_option(xmlrpc_value *level, xmlrpc_value *optname, xmlrpc_value *value)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *st = xmlrpc_struct_new(&env);
    if (level)
        xmlrpc_struct_set_value(&env, st, "level", level);
    if (optname)
        xmlrpc_struct_set_value(&env, st, "optname", optname);
    if (value)
        xmlrpc_struct_set_value(&env, st, "value", value);
    assert_false(env.fault_occurred);
    xmlrpc_env_clean(&env);
    return st;
}

/* The destination params with extra_socket_options = n copies of item (param 15). */
static xmlrpc_value *with_extra(xmlrpc_value *params, xmlrpc_value *item, int n)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *arr = xmlrpc_array_new(&env);
    for (int i = 0; i < n; i++)
        xmlrpc_array_append_item(&env, arr, item);
    xmlrpc_value *out = params_edit(params, 14, "extra_socket_options", arr);
    xmlrpc_DECREF(arr);
    xmlrpc_env_clean(&env);
    return out;
}

static void test_extra_socket_options(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *params = valid_destination_params(&env);
    uint8_t bytes[FG_RPC_EXTRA_SOCKOPT_LEN + 1];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 7);
    xmlrpc_value *one = xmlrpc_int_new(&env, 1), *two = xmlrpc_int_new(&env, 2);
    xmlrpc_value *dbl = xmlrpc_double_new(&env, 2.0), *str = xmlrpc_string_new(&env, "AAAA");
    xmlrpc_value *v100 = xmlrpc_base64_new(&env, 100, bytes);
    xmlrpc_value *v101 = xmlrpc_base64_new(&env, 101, bytes);
    struct fg_endpoint_settings s;

    /* ten options of 100 bytes each: the most there is room for */
    xmlrpc_value *good = extra_option(one, two, v100);
    xmlrpc_value *p = with_extra(params, good, FG_RPC_MAX_EXTRA_SOCKOPTS);
    assert_int_equal(fg_rpc_parse_add_destination(&env, p, &s), 0);
    assert_int_equal(s.n_extra, 10);
    assert_int_equal(s.num_extra_socket_options, 2); /* as sent; checking it is the daemon's */
    assert_int_equal(s.extra[9].level, 1);
    assert_int_equal(s.extra[9].optname, 2);
    assert_int_equal(s.extra[9].len, 100);
    assert_memory_equal(s.extra[9].value, bytes, 100);
    xmlrpc_DECREF(p);

    p = with_extra(params, good, FG_RPC_MAX_EXTRA_SOCKOPTS + 1);
    assert_fault(parse_destination(&env, p), &env, FG_FAULT_SETTINGS,
                 "add_flow_destination param 15: 11 extra_socket_options, at most 10 allowed");
    xmlrpc_DECREF(p);

    static const char pre[] = "add_flow_destination param 15: extra_socket_options[0]: ";
    struct {
        xmlrpc_value *item;
        const char *msg;
    } cases[] = {
        {extra_option(one, two, v101), "member 'value' longer than 100 bytes"},
        {extra_option(NULL, two, v100), "no member 'level'"},
        {extra_option(one, NULL, v100), "no member 'optname'"},
        {extra_option(one, two, NULL), "no member 'value'"},
        {extra_option(dbl, two, v100), "member 'level' must be an int"},
        {extra_option(one, dbl, v100), "member 'optname' must be an int"},
        {extra_option(one, two, str), "member 'value' must be base64"},
        {xmlrpc_int_new(&env, 3), "not a struct"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s%s", pre, cases[i].msg);
        p = with_extra(params, cases[i].item, 1);
        assert_fault(parse_destination(&env, p), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(p);
        xmlrpc_DECREF(cases[i].item);
    }

    /* the controller never sends more than fit, whatever the settings say */
    full_settings(&s);
    s.n_extra = 12;
    for (size_t i = 2; i < FG_RPC_MAX_EXTRA_SOCKOPTS; i++)
        s.extra[i] = s.extra[0];
    s.extra[0].len = 500;
    xmlrpc_value *sent = via_call_xml(fg_rpc_add_destination_params(&env, &s));
    struct fg_endpoint_settings back;
    assert_int_equal(fg_rpc_parse_add_destination(&env, sent, &back), 0);
    assert_int_equal(back.n_extra, FG_RPC_MAX_EXTRA_SOCKOPTS);
    assert_int_equal(back.extra[0].len, FG_RPC_EXTRA_SOCKOPT_LEN);
    xmlrpc_DECREF(sent);

    xmlrpc_DECREF(good);
    xmlrpc_DECREF(one);
    xmlrpc_DECREF(two);
    xmlrpc_DECREF(dbl);
    xmlrpc_DECREF(str);
    xmlrpc_DECREF(v100);
    xmlrpc_DECREF(v101);
    xmlrpc_DECREF(params);
    xmlrpc_env_clean(&env);
}

static void test_start_stop_errors(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    int32_t x;
    xmlrpc_value *empty = fg_rpc_no_params(&env);
    assert_fault(fg_rpc_parse_start_flows(&env, empty, &x), &env, FG_FAULT_PARAMS,
                 "start_flows takes exactly 1 params (one struct each), got 0");
    assert_fault(fg_rpc_parse_stop_flow(&env, empty, &x), &env, FG_FAULT_PARAMS,
                 "stop_flow takes exactly 1 params (one struct each), got 0");
    xmlrpc_value *start = fg_rpc_start_flows_params(&env, 5);
    xmlrpc_value *st = xmlrpc_struct_new(&env);
    xmlrpc_value *two = array_resized(start, 2, st);
    assert_fault(fg_rpc_parse_start_flows(&env, two, &x), &env, FG_FAULT_PARAMS,
                 "start_flows takes exactly 1 params (one struct each), got 2");
    /* a double timestamp: -501 as 0.8.2 answers (§3.8) */
    xmlrpc_value *dbl = xmlrpc_double_new(&env, 5.0);
    xmlrpc_value *bad = params_edit(start, 0, "start_timestamp", dbl);
    assert_fault(fg_rpc_parse_start_flows(&env, bad, &x), &env, FG_FAULT_SETTINGS,
                 "start_flows param 1: member 'start_timestamp' must be an int");
    xmlrpc_DECREF(bad);
    bad = params_edit(start, 0, "start_timestamp", NULL);
    assert_fault(fg_rpc_parse_start_flows(&env, bad, &x), &env, FG_FAULT_SETTINGS,
                 "start_flows param 1: no member 'start_timestamp'");
    xmlrpc_DECREF(bad);
    xmlrpc_value *stop = fg_rpc_stop_flow_params(&env, -1);
    bad = params_edit(stop, 0, "flow_id", dbl);
    assert_fault(fg_rpc_parse_stop_flow(&env, bad, &x), &env, FG_FAULT_SETTINGS,
                 "stop_flow param 1: member 'flow_id' must be an int");
    xmlrpc_DECREF(bad);
    /* stop_flow's params where start_flows' are: the member name is what counts */
    assert_fault(fg_rpc_parse_stop_flow(&env, start, &x), &env, FG_FAULT_SETTINGS,
                 "stop_flow param 1: no member 'flow_id'");
    /* params that are not an array at all (a caller's mistake, still a fault) */
    assert_fault(fg_rpc_parse_stop_flow(&env, dbl, &x), &env, FG_FAULT_PARAMS,
                 "stop_flow: params are not an array");
    xmlrpc_DECREF(stop);
    xmlrpc_DECREF(dbl);
    xmlrpc_DECREF(two);
    xmlrpc_DECREF(st);
    xmlrpc_DECREF(start);
    xmlrpc_DECREF(empty);
    xmlrpc_env_clean(&env);
}

/* --- parse errors: controller side ------------------------------------------------------------ */

typedef int (*reply_parser)(xmlrpc_env *env, xmlrpc_value *v);

static int parse_uuid(xmlrpc_env *env, xmlrpc_value *v)
{
    char uuid[64];
    return fg_rpc_parse_uuid_reply(env, v, uuid, sizeof uuid);
}

static int parse_version(xmlrpc_env *env, xmlrpc_value *v)
{
    struct fg_version_reply r;
    return fg_rpc_parse_version_reply(env, v, &r);
}

static int parse_status(xmlrpc_env *env, xmlrpc_value *v)
{
    struct fg_status_reply r;
    return fg_rpc_parse_status_reply(env, v, &r);
}

static int parse_destination_reply(xmlrpc_env *env, xmlrpc_value *v)
{
    struct fg_add_destination_reply r;
    return fg_rpc_parse_add_destination_reply(env, v, &r);
}

static int parse_source_reply(xmlrpc_env *env, xmlrpc_value *v)
{
    struct fg_add_source_reply r;
    return fg_rpc_parse_add_source_reply(env, v, &r);
}

/* reply: the valid reply (released); members: "name:type" words of the spec (§3.1). */
static void check_reply_members(const char *method, xmlrpc_value *reply, reply_parser parse,
                                const char *const *members, size_t n)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    assert_int_equal(parse(&env, reply), 0);
    char msg[256];
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s", members[i]);
        char *colon = strchr(name, ':');
        assert_non_null(colon);
        *colon = '\0';
        char type = colon[1];
        xmlrpc_value *bad = struct_edit(reply, name, NULL, NULL);
        snprintf(msg, sizeof msg, "%s reply: no member '%s'", method, name);
        assert_fault(parse(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
        xmlrpc_value *wrong = wrong_value(type);
        bad = struct_edit(reply, name, name, wrong);
        xmlrpc_DECREF(wrong);
        snprintf(msg, sizeof msg, "%s reply: member '%s' must be %s", method, name,
                 type_words(type));
        assert_fault(parse(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
    }
    xmlrpc_value *arr = xmlrpc_array_new(&env);
    snprintf(msg, sizeof msg, "%s reply: not a struct", method);
    assert_fault(parse(&env, arr), &env, FG_FAULT_SETTINGS, msg);
    xmlrpc_DECREF(arr);
    xmlrpc_DECREF(reply);
    xmlrpc_env_clean(&env);
}

static void test_reply_errors(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    static const char *const uuid_m[] = {"server_uuid:s"};
    check_reply_members("get_uuid", fg_rpc_uuid_reply(&env, "4ed5a584"), parse_uuid, uuid_m, 1);

    struct fg_version_reply ver = {"0.8.2", 3, "Linux", "6.18"};
    static const char *const version_m[] = {"version:s", "api_version:i", "os_name:s",
                                            "os_release:s"};
    check_reply_members("get_version", fg_rpc_version_reply(&env, &ver), parse_version, version_m,
                        4);

    struct fg_status_reply st = {0, 0};
    static const char *const status_m[] = {"started:i", "num_flows:i"};
    check_reply_members("get_status", fg_rpc_status_reply(&env, &st), parse_status, status_m, 2);

    struct fg_add_destination_reply dr = {0, 1, 2, 3};
    static const char *const dest_m[] = {"flow_id:i", "listen_data_port:i",
                                         "real_listen_send_buffer_size:i",
                                         "real_listen_read_buffer_size:i"};
    check_reply_members("add_flow_destination", fg_rpc_add_destination_reply(&env, &dr),
                        parse_destination_reply, dest_m, 4);

    struct fg_add_source_reply sr = {0, "cubic", 2, 3};
    static const char *const src_m[] = {"flow_id:i", "cc_alg:s", "real_send_buffer_size:i",
                                        "real_read_buffer_size:i"};
    check_reply_members("add_flow_source", fg_rpc_add_source_reply(&env, &sr), parse_source_reply,
                        src_m, 4);

    /* a uuid longer than the caller's buffer is refused, not cut (it identifies a daemon) */
    char small[8];
    xmlrpc_value *u = fg_rpc_uuid_reply(&env, "4ed5a584-e704");
    assert_fault(fg_rpc_parse_uuid_reply(&env, u, small, sizeof small), &env, FG_FAULT_SETTINGS,
                 "get_uuid reply: member 'server_uuid' longer than 7 bytes");
    xmlrpc_DECREF(u);
    u = fg_rpc_uuid_reply(&env, "4ed5a58");
    assert_int_equal(fg_rpc_parse_uuid_reply(&env, u, small, sizeof small), 0);
    assert_string_equal(small, "4ed5a58");
    xmlrpc_DECREF(u);
    xmlrpc_env_clean(&env);
}

static int parse_reports(xmlrpc_env *env, xmlrpc_value *v)
{
    struct fg_report out[4];
    bool more;
    size_t n;
    return fg_rpc_parse_reports_reply(env, v, &more, out, 4, &n);
}

static void test_reports_errors(void **state)
{
    (void)state;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    struct fg_report r[2];
    spec_report_1(&r[0]);
    spec_report_2(&r[1]);
    r[1].rtt_samples = 3; /* so the optional members are in the struct too */
    xmlrpc_value *reply = fg_rpc_reports_reply(&env, false, r, 2);
    assert_int_equal(parse_reports(&env, reply), 0);
    xmlrpc_value *report = NULL;
    xmlrpc_array_read_item(&env, reply, 2, &report);
    char msg[256];

    /* each member of report 2, missing and then mistyped */
    for (size_t i = 0; i < N_REPORT_MEMBERS; i++) {
        const struct spec_member *m = &report_members[i];
        xmlrpc_value *bad_report = params_edit(report, m->param - 1, m->name, NULL);
        xmlrpc_value *bad = array_with(reply, 2, bad_report);
        snprintf(msg, sizeof msg, "get_reports reply: report 2 struct %d: no member '%s'", m->param,
                 m->name);
        assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
        xmlrpc_DECREF(bad_report);

        xmlrpc_value *wrong = wrong_value(m->type);
        bad_report = params_edit(report, m->param - 1, m->name, wrong);
        xmlrpc_DECREF(wrong);
        bad = array_with(reply, 2, bad_report);
        snprintf(msg, sizeof msg, "get_reports reply: report 2 struct %d: member '%s' must be %s",
                 m->param, m->name, type_words(m->type));
        assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
        xmlrpc_DECREF(bad_report);
    }

    /* 8 and 10 structs */
    xmlrpc_value *st = xmlrpc_struct_new(&env);
    const int sizes[] = {8, 10, 0};
    for (size_t i = 0; i < 3; i++) {
        xmlrpc_value *resized = array_resized(report, sizes[i], st);
        xmlrpc_value *bad = array_with(reply, 2, resized);
        snprintf(msg, sizeof msg, "get_reports reply: report 2 has %d structs, expected 9",
                 sizes[i]);
        assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS, msg);
        xmlrpc_DECREF(bad);
        xmlrpc_DECREF(resized);
    }
    /* a struct where a report should be; an int where a struct should be */
    xmlrpc_value *bad = array_with(reply, 1, st);
    assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS,
                 "get_reports reply: report 1 is not an array");
    xmlrpc_DECREF(bad);
    xmlrpc_value *seven = xmlrpc_int_new(&env, 7);
    xmlrpc_value *bad_report = array_with(report, 4, seven);
    bad = array_with(reply, 2, bad_report);
    assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS,
                 "get_reports reply: report 2 struct 5: not a struct");
    xmlrpc_DECREF(bad);
    xmlrpc_DECREF(bad_report);

    /* nanoseconds outside a second */
    xmlrpc_value *ns = xmlrpc_int_new(&env, 1000000000);
    bad_report = params_edit(report, 0, "end_tv_nsec", ns);
    bad = array_with(reply, 2, bad_report);
    assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS,
                 "get_reports reply: report 2 struct 1: member 'end_tv_nsec' out of range "
                 "(1000000000)");
    xmlrpc_DECREF(bad);
    xmlrpc_DECREF(bad_report);
    xmlrpc_DECREF(ns);
    /* a sample count as a double */
    xmlrpc_value *dbl = xmlrpc_double_new(&env, 3);
    bad_report = params_edit(report, 3, "rtt_samples", dbl);
    bad = array_with(reply, 2, bad_report);
    assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS,
                 "get_reports reply: report 2 struct 4: member 'rtt_samples' must be an int");
    xmlrpc_DECREF(bad);
    xmlrpc_DECREF(bad_report);

    /* has_more not an int; not an array; empty; more reports than room */
    bad = array_with(reply, 0, dbl);
    assert_fault(parse_reports(&env, bad), &env, FG_FAULT_SETTINGS,
                 "get_reports reply: element 0 (has_more) must be an int");
    xmlrpc_DECREF(bad);
    assert_fault(parse_reports(&env, st), &env, FG_FAULT_SETTINGS,
                 "get_reports reply: not an array");
    xmlrpc_value *empty = xmlrpc_array_new(&env);
    assert_fault(parse_reports(&env, empty), &env, FG_FAULT_SETTINGS,
                 "get_reports reply: empty array");
    xmlrpc_DECREF(empty);
    struct fg_report out[1];
    bool more;
    size_t n;
    assert_fault(fg_rpc_parse_reports_reply(&env, reply, &more, out, 1, &n), &env,
                 FG_FAULT_SETTINGS, "get_reports reply: 2 reports, room for 1");

    xmlrpc_DECREF(dbl);
    xmlrpc_DECREF(seven);
    xmlrpc_DECREF(st);
    xmlrpc_DECREF(report);
    xmlrpc_DECREF(reply);
    xmlrpc_env_clean(&env);
}

/* Every wire code names its distribution; anything else is no distribution and leaves
 * *kind alone. */
static void test_dist_kind(void **state)
{
    (void)state;
    static const struct {
        int32_t code;
        enum dist_kind kind;
    } wire[] = {{FG_DIST_CONSTANT, DIST_CONSTANT},       {FG_DIST_NORMAL, DIST_NORMAL},
                {FG_DIST_WEIBULL, DIST_WEIBULL},         {FG_DIST_UNIFORM, DIST_UNIFORM},
                {FG_DIST_EXPONENTIAL, DIST_EXPONENTIAL}, {FG_DIST_PARETO, DIST_PARETO},
                {FG_DIST_LOGNORMAL, DIST_LOGNORMAL}};
    for (size_t k = 0; k < sizeof wire / sizeof wire[0]; k++) {
        enum dist_kind kind = (enum dist_kind) - 1;
        assert_true(fg_rpc_dist_kind(wire[k].code, &kind));
        assert_int_equal(kind, wire[k].kind);
    }
    static const int32_t bad[] = {-1, 7, INT32_MIN, INT32_MAX};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        enum dist_kind kind = DIST_WEIBULL;
        assert_false(fg_rpc_dist_kind(bad[k], &kind));
        assert_int_equal(kind, DIST_WEIBULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_uuid_call),
        cmocka_unit_test(test_dist_kind),
        cmocka_unit_test(test_add_destination_call),
        cmocka_unit_test(test_add_source_call),
        cmocka_unit_test(test_start_and_stop_calls),
        cmocka_unit_test(test_small_replies),
        cmocka_unit_test(test_reports_reply_capture),
        cmocka_unit_test(test_report_sample_counts_appended),
        cmocka_unit_test(test_settings_round_trip),
        cmocka_unit_test(test_start_stop_round_trip),
        cmocka_unit_test(test_reply_round_trips),
        cmocka_unit_test(test_reports_round_trip),
        cmocka_unit_test(test_lenient_input),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_destination_member_errors),
        cmocka_unit_test(test_source_member_errors),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_extra_socket_options),
        cmocka_unit_test(test_start_stop_errors),
        cmocka_unit_test(test_reply_errors),
        cmocka_unit_test(test_reports_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
