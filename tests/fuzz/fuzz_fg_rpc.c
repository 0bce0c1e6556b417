/* libFuzzer harness for flowgrind's XML-RPC shapes (rpc.h), both sides. The input is an HTTP
 * body, screened first by fg_rpc_xml_acceptable as both sides screen it (xmlrpc-c 1.33 itself
 * dies on some bodies). As a daemon sees it: xmlrpc_parse_call, then the parser of the named
 * method (any other name: every call parser). As a controller sees it: xmlrpc_parse_response2,
 * then every reply parser on the result. Invariants: a parser returns 0 with no fault, or -1 with a fault code
 * and a non-empty one-line message; parsed strings are terminated and within their buffers;
 * at most cap reports; and what parsed, rebuilt by the matching builder and parsed again, gives
 * the same struct (values, not XML text, so xmlrpc-c's lossy double parsing is out of it). */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xmlrpc-c/base.h>

#include "flowgrind/rpc.h"

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

#define REPORT_CAP FG_RPC_REPORTS_PER_CALL

/* rc and env agree; a fault has a code and a message. Cleans env for the next parser. */
static bool outcome(xmlrpc_env *env, int rc)
{
    if (rc == 0) {
        CHECK(!env->fault_occurred);
        return true;
    }
    CHECK(rc == -1 && env->fault_occurred);
    CHECK(env->fault_code != 0);
    CHECK(env->fault_string != NULL && env->fault_string[0] != '\0');
    CHECK(strchr(env->fault_string, '\n') == NULL);
    xmlrpc_env_clean(env);
    xmlrpc_env_init(env);
    return false;
}

static void check_terminated(const char *s, size_t size)
{
    CHECK(memchr(s, '\0', size) != NULL);
}

static bool settings_finite(const struct fg_endpoint_settings *s)
{
    const double d[] = {s->write_delay,        s->write_duration,     s->read_delay,
                        s->read_duration,      s->reporting_interval, s->request.param_one,
                        s->request.param_two,  s->response.param_one, s->response.param_two,
                        s->gap.param_one,      s->gap.param_two};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (!isfinite(d[i]))
            return false;
    return true;
}

static void check_settings(const struct fg_endpoint_settings *s)
{
    check_terminated(s->bind_address, sizeof s->bind_address);
    check_terminated(s->cc_alg, sizeof s->cc_alg);
    check_terminated(s->dump_prefix, sizeof s->dump_prefix);
    CHECK(s->n_extra <= FG_RPC_MAX_EXTRA_SOCKOPTS);
    for (size_t i = 0; i < s->n_extra; i++)
        CHECK(s->extra[i].len <= FG_RPC_EXTRA_SOCKOPT_LEN);
}

static void daemon_side(xmlrpc_env *env, const char *method, xmlrpc_value *params)
{
    bool all = strcmp(method, "add_flow_destination") != 0 &&
               strcmp(method, "add_flow_source") != 0 && strcmp(method, "start_flows") != 0 &&
               strcmp(method, "stop_flow") != 0;
    struct fg_endpoint_settings s, s2;
    struct fg_source_target t, t2;
    int32_t x;

    if (all || strcmp(method, "add_flow_destination") == 0) {
        if (outcome(env, fg_rpc_parse_add_destination(env, params, &s))) {
            check_settings(&s);
            xmlrpc_value *again = fg_rpc_add_destination_params(env, &s);
            CHECK(again != NULL);
            CHECK(outcome(env, fg_rpc_parse_add_destination(env, again, &s2)));
            /* the builder sends num_extra_socket_options as given and the array as parsed */
            if (settings_finite(&s))
                CHECK(memcmp(&s, &s2, sizeof s) == 0);
            xmlrpc_DECREF(again);
        }
    }
    if (all || strcmp(method, "add_flow_source") == 0) {
        if (outcome(env, fg_rpc_parse_add_source(env, params, &s, &t))) {
            check_settings(&s);
            check_terminated(t.destination_address, sizeof t.destination_address);
            xmlrpc_value *again = fg_rpc_add_source_params(env, &s, &t);
            CHECK(again != NULL);
            CHECK(outcome(env, fg_rpc_parse_add_source(env, again, &s2, &t2)));
            if (settings_finite(&s))
                CHECK(memcmp(&s, &s2, sizeof s) == 0);
            CHECK(memcmp(&t, &t2, sizeof t) == 0);
            xmlrpc_DECREF(again);
        }
    }
    if (all || strcmp(method, "start_flows") == 0)
        outcome(env, fg_rpc_parse_start_flows(env, params, &x));
    if (all || strcmp(method, "stop_flow") == 0)
        outcome(env, fg_rpc_parse_stop_flow(env, params, &x));
}

static bool reports_finite(const struct fg_report *r)
{
    const double d[] = {r->rtt_min,   r->rtt_max, r->rtt_sum,   r->iat_min,  r->iat_max,
                        r->iat_sum,   r->delay_min, r->delay_max, r->delay_sum};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (!isfinite(d[i]))
            return false;
    return true;
}

static void reports_side(xmlrpc_env *env, xmlrpc_value *v)
{
    static struct fg_report out[REPORT_CAP], out2[REPORT_CAP];
    bool more = false, more2 = false;
    size_t n = 0, n2 = 0;
    if (!outcome(env, fg_rpc_parse_reports_reply(env, v, &more, out, REPORT_CAP, &n)))
        return;
    CHECK(n <= REPORT_CAP);
    xmlrpc_value *again = fg_rpc_reports_reply(env, more, out, n);
    CHECK(again != NULL);
    CHECK(outcome(env, fg_rpc_parse_reports_reply(env, again, &more2, out2, REPORT_CAP, &n2)));
    CHECK(more == more2 && n == n2);
    for (size_t i = 0; i < n; i++) {
        CHECK(out[i].begin.tv_nsec >= 0 && out[i].begin.tv_nsec < 1000000000);
        CHECK(out[i].end.tv_nsec >= 0 && out[i].end.tv_nsec < 1000000000);
        CHECK(out[i].rtt_samples >= -1 && out[i].iat_samples >= -1 && out[i].delay_samples >= -1);
        if (reports_finite(&out[i]))
            CHECK(memcmp(&out[i], &out2[i], sizeof out[i]) == 0);
    }
    xmlrpc_DECREF(again);
}

static void controller_side(xmlrpc_env *env, xmlrpc_value *v)
{
    char uuid[64];
    if (outcome(env, fg_rpc_parse_uuid_reply(env, v, uuid, sizeof uuid)))
        check_terminated(uuid, sizeof uuid);
    struct fg_version_reply ver;
    if (outcome(env, fg_rpc_parse_version_reply(env, v, &ver))) {
        check_terminated(ver.version, sizeof ver.version);
        check_terminated(ver.os_name, sizeof ver.os_name);
        check_terminated(ver.os_release, sizeof ver.os_release);
    }
    struct fg_status_reply st;
    outcome(env, fg_rpc_parse_status_reply(env, v, &st));
    struct fg_add_destination_reply dr;
    outcome(env, fg_rpc_parse_add_destination_reply(env, v, &dr));
    struct fg_add_source_reply sr;
    if (outcome(env, fg_rpc_parse_add_source_reply(env, v, &sr)))
        check_terminated(sr.cc_alg, sizeof sr.cc_alg);
    reports_side(env, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fg_rpc_xml_acceptable((const char *)data, size, NULL, 0))
        return 0;
    xmlrpc_env env;
    xmlrpc_env_init(&env);

    const char *method = NULL;
    xmlrpc_value *params = NULL;
    xmlrpc_parse_call(&env, (const char *)data, size, &method, &params);
    if (!env.fault_occurred) {
        daemon_side(&env, method, params);
        xmlrpc_DECREF(params);
        free((void *)method);
    }
    xmlrpc_env_clean(&env);
    xmlrpc_env_init(&env);

    xmlrpc_value *result = NULL;
    int fault_code = 0;
    const char *fault_string = NULL;
    xmlrpc_parse_response2(&env, (const char *)data, size, &result, &fault_code, &fault_string);
    if (!env.fault_occurred) {
        if (fault_string != NULL)
            free((void *)fault_string);
        else if (result != NULL) {
            controller_side(&env, result);
            xmlrpc_DECREF(result);
        }
    }
    xmlrpc_env_clean(&env);
    return 0;
}
