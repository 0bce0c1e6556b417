/* flowgrind's XML-RPC shapes (rpc.h). Every struct the protocol carries is described once, as
 * a table of members (wire name, wire type, where the value lives in the C struct); the same
 * table builds the struct for the wire and parses it back, so member order and types cannot
 * drift apart between the two sides. Tables list members in the order 0.8.2 sends them
 * (spec §4.4-§4.7), which is the order xmlrpc-c serialises them in.
 *
 * Two wire facts shape the parsing of doubles and strings:
 *  - xmlrpc-c 1.33 prints a double with at most ~17 significant digits and drops the rest
 *    (FLT_MAX goes out as 340282346638529000000000000000000000000, which reads back 4 ulps
 *    away), so report doubles within 1e-12 (relative) of the FLT_MAX / FLT_MIN sentinels are
 *    snapped back onto them: "no sample" must survive the trip exactly.
 *  - xmlrpc-c refuses to build a double that is not finite; a NaN goes out as 0 and an
 *    infinity as +-DBL_MAX rather than failing a whole reply.
 * Strings are read with their length: longer than the buffer allows, or with a NUL inside,
 * is a fault, never a silent truncation. */

#include "flowgrind/rpc.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a member travels and where it lives. */
enum member_kind {
    K_I32,   /* int32_t as <i4> */
    K_U32,   /* uint32_t as a signed <i4> (the original's unsigned counts and seed) */
    K_BOOL,  /* bool as <boolean> */
    K_DBL,   /* double as <double> */
    K_STAT,  /* double as <double>, FLT_MAX / FLT_MIN sentinels snapped back when read */
    K_STR,   /* char[size] as <string> */
    K_EXTRA, /* fg_endpoint_settings' extra socket options as an array of structs */
    K_SEC,   /* time_t as 32-bit <i4> (the original's (int)tv_sec) */
    K_NSEC,  /* long nanoseconds as <i4>, 0..999999999 */
    K_HI,    /* high half of a uint64_t as a signed <i4> */
    K_LO,    /* low half of a uint64_t as a signed <i4> */
    K_COUNT, /* optional int64_t sample count: sent only when >= 0, absent reads as -1 */
};

struct member {
    const char *name;
    enum member_kind kind;
    size_t off;
    size_t size; /* K_STR: the buffer's size */
};

struct shape {
    const struct member *members;
    size_t n;
};

#define SHAPE(a)                        \
    {                                   \
        (a), sizeof(a) / sizeof((a)[0]) \
    }

/* --- add_flow_destination / add_flow_source params 1..15 (§3.1, §4.4) ---------------------- */

#define SET(f) offsetof(struct fg_endpoint_settings, f)
#define SET_STR(f) SET(f), sizeof(((struct fg_endpoint_settings *)0)->f)

static const struct member settings_1[] = {{"bind_address", K_STR, SET_STR(bind_address)}};
static const struct member settings_2[] = {{"flow_id", K_I32, SET(flow_id), 0}};
static const struct member settings_3[] = {
    {"write_delay", K_DBL, SET(write_delay), 0},
    {"write_duration", K_DBL, SET(write_duration), 0},
    {"read_delay", K_DBL, SET(read_delay), 0},
    {"read_duration", K_DBL, SET(read_duration), 0},
    {"reporting_interval", K_DBL, SET(reporting_interval), 0},
};
static const struct member settings_4[] = {
    {"requested_send_buffer_size", K_I32, SET(requested_send_buffer_size), 0},
    {"requested_read_buffer_size", K_I32, SET(requested_read_buffer_size), 0},
};
static const struct member settings_5[] = {
    {"maximum_block_size", K_I32, SET(maximum_block_size), 0},
};
static const struct member settings_6[] = {
    {"traffic_dump", K_BOOL, SET(traffic_dump), 0}, {"so_debug", K_BOOL, SET(so_debug), 0},
    {"route_record", K_BOOL, SET(route_record), 0}, {"pushy", K_BOOL, SET(pushy), 0},
    {"shutdown", K_BOOL, SET(shutdown), 0},
};
static const struct member settings_7[] = {
    {"write_rate", K_I32, SET(write_rate), 0},
    {"random_seed", K_U32, SET(random_seed), 0},
};
static const struct member settings_8[] = {
    {"traffic_generation_request_distribution", K_I32, SET(request.distribution), 0},
    {"traffic_generation_request_param_one", K_DBL, SET(request.param_one), 0},
    {"traffic_generation_request_param_two", K_DBL, SET(request.param_two), 0},
};
static const struct member settings_9[] = {
    {"traffic_generation_response_distribution", K_I32, SET(response.distribution), 0},
    {"traffic_generation_response_param_one", K_DBL, SET(response.param_one), 0},
    {"traffic_generation_response_param_two", K_DBL, SET(response.param_two), 0},
};
static const struct member settings_10[] = {
    {"traffic_generation_gap_distribution", K_I32, SET(gap.distribution), 0},
    {"traffic_generation_gap_param_one", K_DBL, SET(gap.param_one), 0},
    {"traffic_generation_gap_param_two", K_DBL, SET(gap.param_two), 0},
};
static const struct member settings_11[] = {
    {"flow_control", K_BOOL, SET(flow_control), 0},
    {"byte_counting", K_BOOL, SET(byte_counting), 0},
    {"cork", K_I32, SET(cork), 0},
    {"nonagle", K_I32, SET(nonagle), 0},
};
static const struct member settings_12[] = {{"cc_alg", K_STR, SET_STR(cc_alg)}};
static const struct member settings_13[] = {
    {"elcn", K_I32, SET(elcn), 0},
    {"lcd", K_I32, SET(lcd), 0},
    {"mtcp", K_I32, SET(mtcp), 0},
    {"dscp", K_I32, SET(dscp), 0},
    {"ipmtudiscover", K_I32, SET(ipmtudiscover), 0},
};
static const struct member settings_14[] = {{"dump_prefix", K_STR, SET_STR(dump_prefix)}};
static const struct member settings_15[] = {
    {"num_extra_socket_options", K_I32, SET(num_extra_socket_options), 0},
    {"extra_socket_options", K_EXTRA, 0, 0},
};

static const struct shape settings_shape[] = {
    SHAPE(settings_1),  SHAPE(settings_2),  SHAPE(settings_3),  SHAPE(settings_4),
    SHAPE(settings_5),  SHAPE(settings_6),  SHAPE(settings_7),  SHAPE(settings_8),
    SHAPE(settings_9),  SHAPE(settings_10), SHAPE(settings_11), SHAPE(settings_12),
    SHAPE(settings_13), SHAPE(settings_14), SHAPE(settings_15),
};
#define SETTINGS_PARAMS (sizeof settings_shape / sizeof settings_shape[0])

#define TGT(f) offsetof(struct fg_source_target, f)
static const struct member target_members[] = {
    {"destination_address", K_STR, TGT(destination_address),
     sizeof(((struct fg_source_target *)0)->destination_address)},
    {"destination_port", K_I32, TGT(destination_port), 0},
    {"late_connect", K_I32, TGT(late_connect), 0},
};
static const struct shape target_shape = SHAPE(target_members);

/* --- small call params and replies -------------------------------------------------------- */

static const struct member start_members[] = {{"start_timestamp", K_I32, 0, 0}};
static const struct member stop_members[] = {{"flow_id", K_I32, 0, 0}};

#define VER(f) offsetof(struct fg_version_reply, f)
#define VER_STR(f) VER(f), sizeof(((struct fg_version_reply *)0)->f)
static const struct member version_members[] = {
    {"version", K_STR, VER_STR(version)},
    {"api_version", K_I32, VER(api_version), 0},
    {"os_name", K_STR, VER_STR(os_name)},
    {"os_release", K_STR, VER_STR(os_release)},
};

static const struct member status_members[] = {
    {"started", K_I32, offsetof(struct fg_status_reply, started), 0},
    {"num_flows", K_I32, offsetof(struct fg_status_reply, num_flows), 0},
};

#define ADR(f) offsetof(struct fg_add_destination_reply, f)
static const struct member add_destination_members[] = {
    {"flow_id", K_I32, ADR(flow_id), 0},
    {"listen_data_port", K_I32, ADR(listen_data_port), 0},
    {"real_listen_send_buffer_size", K_I32, ADR(real_listen_send_buffer_size), 0},
    {"real_listen_read_buffer_size", K_I32, ADR(real_listen_read_buffer_size), 0},
};

#define ASR(f) offsetof(struct fg_add_source_reply, f)
static const struct member add_source_members[] = {
    {"flow_id", K_I32, ASR(flow_id), 0},
    {"cc_alg", K_STR, ASR(cc_alg), sizeof(((struct fg_add_source_reply *)0)->cc_alg)},
    {"real_send_buffer_size", K_I32, ASR(real_send_buffer_size), 0},
    {"real_read_buffer_size", K_I32, ASR(real_read_buffer_size), 0},
};

/* --- get_reports: the 9 structs of one report (§3.1, §4.7) -------------------------------- */

#define REP(f) offsetof(struct fg_report, f)
static const struct member report_1[] = {
    {"id", K_I32, REP(id), 0},
    {"endpoint", K_I32, REP(endpoint), 0},
    {"type", K_I32, REP(type), 0},
    {"begin_tv_sec", K_SEC, REP(begin.tv_sec), 0},
    {"begin_tv_nsec", K_NSEC, REP(begin.tv_nsec), 0},
    {"end_tv_sec", K_SEC, REP(end.tv_sec), 0},
    {"end_tv_nsec", K_NSEC, REP(end.tv_nsec), 0},
};
static const struct member report_2[] = {
    {"bytes_read_high", K_HI, REP(bytes_read), 0},
    {"bytes_read_low", K_LO, REP(bytes_read), 0},
    {"bytes_written_high", K_HI, REP(bytes_written), 0},
    {"bytes_written_low", K_LO, REP(bytes_written), 0},
};
static const struct member report_3[] = {
    {"request_blocks_read", K_U32, REP(request_blocks_read), 0},
    {"request_blocks_written", K_U32, REP(request_blocks_written), 0},
    {"response_blocks_read", K_U32, REP(response_blocks_read), 0},
    {"response_blocks_written", K_U32, REP(response_blocks_written), 0},
};
static const struct member report_4[] = {
    {"rtt_min", K_STAT, REP(rtt_min), 0},
    {"rtt_max", K_STAT, REP(rtt_max), 0},
    {"rtt_sum", K_STAT, REP(rtt_sum), 0},
    {"iat_min", K_STAT, REP(iat_min), 0},
    {"iat_max", K_STAT, REP(iat_max), 0},
    {"iat_sum", K_STAT, REP(iat_sum), 0},
    {"delay_min", K_STAT, REP(delay_min), 0},
    {"delay_max", K_STAT, REP(delay_max), 0},
    {"delay_sum", K_STAT, REP(delay_sum), 0},
    /* netgrind's members, after the original's so 0.8.2 sees its struct unchanged */
    {"rtt_samples", K_COUNT, REP(rtt_samples), 0},
    {"iat_samples", K_COUNT, REP(iat_samples), 0},
    {"delay_samples", K_COUNT, REP(delay_samples), 0},
};
static const struct member report_5[] = {
    {"pmtu", K_I32, REP(pmtu), 0},
    {"imtu", K_I32, REP(imtu), 0},
};
static const struct member report_6[] = {
    {"tcpi_snd_cwnd", K_U32, REP(tcpi.snd_cwnd), 0},
    {"tcpi_snd_ssthresh", K_U32, REP(tcpi.snd_ssthresh), 0},
    {"tcpi_unacked", K_U32, REP(tcpi.unacked), 0},
    {"tcpi_sacked", K_U32, REP(tcpi.sacked), 0},
    {"tcpi_lost", K_U32, REP(tcpi.lost), 0},
};
static const struct member report_7[] = {
    {"tcpi_retrans", K_U32, REP(tcpi.retrans), 0},
    {"tcpi_retransmits", K_U32, REP(tcpi.retransmits), 0},
    {"tcpi_fackets", K_U32, REP(tcpi.fackets), 0},
    {"tcpi_reordering", K_U32, REP(tcpi.reordering), 0},
    {"tcpi_rtt", K_U32, REP(tcpi.rtt), 0},
};
static const struct member report_8[] = {
    {"tcpi_rttvar", K_U32, REP(tcpi.rttvar), 0},   {"tcpi_rto", K_U32, REP(tcpi.rto), 0},
    {"tcpi_backoff", K_U32, REP(tcpi.backoff), 0}, {"tcpi_ca_state", K_U32, REP(tcpi.ca_state), 0},
    {"tcpi_snd_mss", K_U32, REP(tcpi.snd_mss), 0},
};
static const struct member report_9[] = {{"status", K_I32, REP(status), 0}};

static const struct shape report_shape[] = {
    SHAPE(report_1), SHAPE(report_2), SHAPE(report_3), SHAPE(report_4), SHAPE(report_5),
    SHAPE(report_6), SHAPE(report_7), SHAPE(report_8), SHAPE(report_9),
};
#define REPORT_STRUCTS (sizeof report_shape / sizeof report_shape[0])

/* --- building values ----------------------------------------------------------------------- */

#define AT(base, m, type) ((type *)(void *)((char *)(base) + (m)->off))
#define AT_CONST(base, m, type) ((const type *)(const void *)((const char *)(base) + (m)->off))

/* xmlrpc-c refuses non-finite doubles; send the nearest finite value instead. */
static double finite_or_clamped(double d)
{
    if (isnan(d))
        return 0.0;
    if (isinf(d))
        return d > 0 ? DBL_MAX : -DBL_MAX;
    return d;
}

/* Adds v to st under name and drops our reference; a NULL v (fault already set) is passed over. */
static void struct_put(xmlrpc_env *env, xmlrpc_value *st, const char *name, xmlrpc_value *v)
{
    if (v == NULL)
        return;
    if (!env->fault_occurred)
        xmlrpc_struct_set_value(env, st, name, v);
    xmlrpc_DECREF(v);
}

static void array_put(xmlrpc_env *env, xmlrpc_value *arr, xmlrpc_value *v)
{
    if (v == NULL)
        return;
    if (!env->fault_occurred)
        xmlrpc_array_append_item(env, arr, v);
    xmlrpc_DECREF(v);
}

/* Returns v, or NULL (v released) when env carries a fault. */
static xmlrpc_value *or_null(xmlrpc_env *env, xmlrpc_value *v)
{
    if (env->fault_occurred && v != NULL) {
        xmlrpc_DECREF(v);
        return NULL;
    }
    return v;
}

static xmlrpc_value *extra_options_value(xmlrpc_env *env, const struct fg_endpoint_settings *s)
{
    xmlrpc_value *arr = xmlrpc_array_new(env);
    size_t n = s->n_extra < FG_RPC_MAX_EXTRA_SOCKOPTS ? s->n_extra : FG_RPC_MAX_EXTRA_SOCKOPTS;
    for (size_t i = 0; i < n && !env->fault_occurred; i++) {
        const struct fg_extra_sockopt *o = &s->extra[i];
        size_t len = o->len < FG_RPC_EXTRA_SOCKOPT_LEN ? o->len : FG_RPC_EXTRA_SOCKOPT_LEN;
        xmlrpc_value *st = xmlrpc_struct_new(env);
        if (env->fault_occurred)
            break;
        struct_put(env, st, "level", xmlrpc_int_new(env, o->level));
        struct_put(env, st, "optname", xmlrpc_int_new(env, o->optname));
        struct_put(env, st, "value", xmlrpc_base64_new(env, len, o->value));
        array_put(env, arr, st);
    }
    return or_null(env, arr);
}

/* The wire value of member m of base, or NULL: for an unsent K_COUNT (no fault), or on a fault. */
static xmlrpc_value *member_value(xmlrpc_env *env, const struct member *m, const void *base)
{
    switch (m->kind) {
    case K_I32:
        return xmlrpc_int_new(env, *AT_CONST(base, m, int32_t));
    case K_U32:
        return xmlrpc_int_new(env, (int32_t)*AT_CONST(base, m, uint32_t));
    case K_BOOL:
        return xmlrpc_bool_new(env, *AT_CONST(base, m, bool));
    case K_DBL:
    case K_STAT:
        return xmlrpc_double_new(env, finite_or_clamped(*AT_CONST(base, m, double)));
    case K_STR:
        return xmlrpc_string_new(env, AT_CONST(base, m, char));
    case K_EXTRA:
        return extra_options_value(env, base);
    case K_SEC:
        return xmlrpc_int_new(env, (int32_t)(uint32_t)*AT_CONST(base, m, time_t));
    case K_NSEC:
        return xmlrpc_int_new(env, (int32_t)*AT_CONST(base, m, long));
    case K_HI:
        return xmlrpc_int_new(env, (int32_t)(uint32_t)(*AT_CONST(base, m, uint64_t) >> 32));
    case K_LO:
        return xmlrpc_int_new(env, (int32_t)(uint32_t)*AT_CONST(base, m, uint64_t));
    case K_COUNT: {
        int64_t c = *AT_CONST(base, m, int64_t);
        if (c < 0)
            return NULL;
        /* <i4> like every other count; a count past 2^31 - 1 goes out as <i8> rather than
         * wrapping (xmlrpc-c parsers read both) */
        return c <= INT32_MAX ? xmlrpc_int_new(env, (int32_t)c) : xmlrpc_i8_new(env, c);
    }
    }
    return NULL;
}

static xmlrpc_value *struct_build(xmlrpc_env *env, const struct shape *sh, const void *base)
{
    xmlrpc_value *st = xmlrpc_struct_new(env);
    if (env->fault_occurred)
        return NULL;
    for (size_t i = 0; i < sh->n && !env->fault_occurred; i++)
        struct_put(env, st, sh->members[i].name, member_value(env, &sh->members[i], base));
    return or_null(env, st);
}

/* Appends one struct per shape, all read from base. */
static void params_append(xmlrpc_env *env, xmlrpc_value *arr, const struct shape *shapes, size_t n,
                          const void *base)
{
    for (size_t i = 0; i < n && !env->fault_occurred; i++)
        array_put(env, arr, struct_build(env, &shapes[i], base));
}

/* --- parsing values ------------------------------------------------------------------------ */

static const char *type_phrase(enum member_kind k)
{
    switch (k) {
    case K_BOOL:
        return "a boolean";
    case K_DBL:
    case K_STAT:
        return "a double";
    case K_STR:
        return "a string";
    case K_EXTRA:
        return "an array";
    default:
        return "an int";
    }
}

static xmlrpc_type wire_type(enum member_kind k)
{
    switch (k) {
    case K_BOOL:
        return XMLRPC_TYPE_BOOL;
    case K_DBL:
    case K_STAT:
        return XMLRPC_TYPE_DOUBLE;
    case K_STR:
        return XMLRPC_TYPE_STRING;
    case K_EXTRA:
        return XMLRPC_TYPE_ARRAY;
    default:
        return XMLRPC_TYPE_INT;
    }
}

/* A value read back within 1e-12 of a sentinel is the sentinel (see the top of this file). */
static double snap_sentinel(double d)
{
    if (fabs(d - FG_RPC_NO_MIN) <= FG_RPC_NO_MIN * 1e-12)
        return FG_RPC_NO_MIN;
    if (fabs(d - FG_RPC_NO_MAX) <= FG_RPC_NO_MAX * 1e-12)
        return FG_RPC_NO_MAX;
    return d;
}

/* Looks up name in struct st: the value (a new reference), or NULL when absent. */
static xmlrpc_value *find_member(xmlrpc_env *env, xmlrpc_value *st, const char *name)
{
    xmlrpc_value *v = NULL;
    xmlrpc_struct_find_value(env, st, name, &v);
    if (env->fault_occurred)
        return NULL;
    return v;
}

/* Copies string value v into out[size]; -1 with a fault when too long or NUL inside. */
static int read_string_into(xmlrpc_env *env, const char *where, const char *name, xmlrpc_value *v,
                            char *out, size_t size)
{
    size_t len = 0;
    const char *str = NULL;
    xmlrpc_read_string_lp(env, v, &len, &str);
    if (env->fault_occurred)
        return -1;
    int rc = -1;
    if (len > size - 1)
        xmlrpc_env_set_fault_formatted(
            env, FG_FAULT_SETTINGS, "%s: member '%s' longer than %zu bytes", where, name, size - 1);
    else if (memchr(str, '\0', len) != NULL)
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS,
                                       "%s: member '%s' contains a NUL byte", where, name);
    else {
        memcpy(out, str, len);
        out[len] = '\0';
        rc = 0;
    }
    free((void *)str);
    return rc;
}

/* Reads one extra socket option struct {level: i, optname: i, value: base64}. */
static int read_extra_option(xmlrpc_env *env, const char *where, xmlrpc_value *item,
                             struct fg_extra_sockopt *o)
{
    static const char *const int_names[] = {"level", "optname"};
    int32_t *const int_dest[] = {&o->level, &o->optname};
    if (xmlrpc_value_type(item) != XMLRPC_TYPE_STRUCT) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS, "%s: not a struct", where);
        return -1;
    }
    for (size_t i = 0; i < 2; i++) {
        xmlrpc_value *v = find_member(env, item, int_names[i]);
        if (v == NULL || xmlrpc_value_type(v) != XMLRPC_TYPE_INT) {
            if (!env->fault_occurred)
                xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS,
                                               v ? "%s: member '%s' must be an int"
                                                 : "%s: no member '%s'",
                                               where, int_names[i]);
            if (v)
                xmlrpc_DECREF(v);
            return -1;
        }
        int x = 0;
        xmlrpc_read_int(env, v, &x);
        xmlrpc_DECREF(v);
        *int_dest[i] = x;
    }
    xmlrpc_value *v = find_member(env, item, "value");
    if (v == NULL || xmlrpc_value_type(v) != XMLRPC_TYPE_BASE64) {
        if (!env->fault_occurred)
            xmlrpc_env_set_fault_formatted(
                env, FG_FAULT_SETTINGS,
                v ? "%s: member 'value' must be base64" : "%s: no member 'value'", where);
        if (v)
            xmlrpc_DECREF(v);
        return -1;
    }
    size_t len = 0;
    const unsigned char *bytes = NULL;
    xmlrpc_read_base64(env, v, &len, &bytes);
    xmlrpc_DECREF(v);
    if (env->fault_occurred)
        return -1;
    int rc = 0;
    if (len > FG_RPC_EXTRA_SOCKOPT_LEN) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS,
                                       "%s: member 'value' longer than %d bytes", where,
                                       FG_RPC_EXTRA_SOCKOPT_LEN);
        rc = -1;
    } else {
        memcpy(o->value, bytes, len);
        o->len = len;
    }
    free((void *)bytes);
    return rc;
}

static int read_extra_options(xmlrpc_env *env, const char *where, xmlrpc_value *arr,
                              struct fg_endpoint_settings *s)
{
    int n = xmlrpc_array_size(env, arr);
    if (env->fault_occurred)
        return -1;
    if (n > FG_RPC_MAX_EXTRA_SOCKOPTS) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS,
                                       "%s: %d extra_socket_options, at most %d allowed", where, n,
                                       FG_RPC_MAX_EXTRA_SOCKOPTS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char item_where[160];
        snprintf(item_where, sizeof item_where, "%s: extra_socket_options[%d]", where, i);
        xmlrpc_value *item = NULL;
        xmlrpc_array_read_item(env, arr, (unsigned)i, &item);
        if (env->fault_occurred)
            return -1;
        int rc = read_extra_option(env, item_where, item, &s->extra[i]);
        xmlrpc_DECREF(item);
        if (rc < 0)
            return -1;
    }
    s->n_extra = (size_t)n;
    return 0;
}

/* Stores the already type-checked value v of member m into base. */
static int member_store(xmlrpc_env *env, const char *where, const struct member *m, xmlrpc_value *v,
                        void *base)
{
    if (m->kind == K_STR)
        return read_string_into(env, where, m->name, v, AT(base, m, char), m->size);
    if (m->kind == K_EXTRA)
        return read_extra_options(env, where, v, base);
    if (m->kind == K_BOOL) {
        xmlrpc_bool b = 0;
        xmlrpc_read_bool(env, v, &b);
        *AT(base, m, bool) = b != 0;
        return env->fault_occurred ? -1 : 0;
    }
    if (m->kind == K_DBL || m->kind == K_STAT) {
        double d = 0;
        xmlrpc_read_double(env, v, &d);
        *AT(base, m, double) = m->kind == K_STAT ? snap_sentinel(d) : d;
        return env->fault_occurred ? -1 : 0;
    }
    if (m->kind == K_COUNT && xmlrpc_value_type(v) == XMLRPC_TYPE_I8) {
        xmlrpc_int64 c = 0;
        xmlrpc_read_i8(env, v, &c);
        *AT(base, m, int64_t) = c < 0 ? -1 : c;
        return env->fault_occurred ? -1 : 0;
    }
    int x = 0;
    xmlrpc_read_int(env, v, &x);
    if (env->fault_occurred)
        return -1;
    switch (m->kind) {
    case K_I32:
        *AT(base, m, int32_t) = x;
        break;
    case K_U32:
        *AT(base, m, uint32_t) = (uint32_t)x;
        break;
    case K_SEC: /* 32 bits on the wire; read as unsigned, which stays right until 2106 */
        *AT(base, m, time_t) = (time_t)(uint32_t)x;
        break;
    case K_NSEC:
        if (x < 0 || x > 999999999) {
            xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS,
                                           "%s: member '%s' out of range (%d)", where, m->name, x);
            return -1;
        }
        *AT(base, m, long) = x;
        break;
    case K_HI: {
        uint64_t *p = AT(base, m, uint64_t);
        *p = (*p & UINT64_C(0xffffffff)) | (uint64_t)(uint32_t)x << 32;
        break;
    }
    case K_LO: {
        uint64_t *p = AT(base, m, uint64_t);
        *p = (*p & ~UINT64_C(0xffffffff)) | (uint32_t)x;
        break;
    }
    case K_COUNT:
        *AT(base, m, int64_t) = x < 0 ? -1 : x;
        break;
    default:
        break;
    }
    return 0;
}

/* Reads member m of struct st into base; where names the struct in messages. */
static int member_read(xmlrpc_env *env, const char *where, const struct member *m, xmlrpc_value *st,
                       void *base)
{
    xmlrpc_value *v = find_member(env, st, m->name);
    if (env->fault_occurred)
        return -1;
    if (v == NULL) {
        if (m->kind == K_COUNT) {
            *AT(base, m, int64_t) = -1;
            return 0;
        }
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS, "%s: no member '%s'", where,
                                       m->name);
        return -1;
    }
    xmlrpc_type t = xmlrpc_value_type(v);
    int rc;
    if (t == wire_type(m->kind) || (m->kind == K_COUNT && t == XMLRPC_TYPE_I8))
        rc = member_store(env, where, m, v, base);
    else {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS, "%s: member '%s' must be %s", where,
                                       m->name, type_phrase(m->kind));
        rc = -1;
    }
    xmlrpc_DECREF(v);
    return rc;
}

static int struct_parse(xmlrpc_env *env, const char *where, xmlrpc_value *st,
                        const struct shape *sh, void *base)
{
    if (xmlrpc_value_type(st) != XMLRPC_TYPE_STRUCT) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS, "%s: not a struct", where);
        return -1;
    }
    for (size_t i = 0; i < sh->n; i++)
        if (member_read(env, where, &sh->members[i], st, base) < 0)
            return -1;
    return 0;
}

/* Checks that params is an array of exactly n values (fault -502 otherwise). */
static int check_param_count(xmlrpc_env *env, const char *method, xmlrpc_value *params, size_t n)
{
    if (xmlrpc_value_type(params) != XMLRPC_TYPE_ARRAY) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_PARAMS, "%s: params are not an array", method);
        return -1;
    }
    int have = xmlrpc_array_size(env, params);
    if (env->fault_occurred)
        return -1;
    if ((size_t)have != n) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_PARAMS,
                                       "%s takes exactly %zu params (one struct each), got %d",
                                       method, n, have);
        return -1;
    }
    return 0;
}

/* Parses params[first .. first + n - 1] with shapes[0 .. n - 1] into base. */
static int params_parse(xmlrpc_env *env, const char *method, xmlrpc_value *params, size_t first,
                        const struct shape *shapes, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        char where[96];
        snprintf(where, sizeof where, "%s param %zu", method, first + i + 1);
        xmlrpc_value *st = NULL;
        xmlrpc_array_read_item(env, params, (unsigned)(first + i), &st);
        if (env->fault_occurred)
            return -1;
        int rc = struct_parse(env, where, st, &shapes[i], base);
        xmlrpc_DECREF(st);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* A one-struct reply v parsed with sh into base. */
static int reply_parse(xmlrpc_env *env, const char *method, xmlrpc_value *v, const struct shape *sh,
                       void *base)
{
    char where[64];
    snprintf(where, sizeof where, "%s reply", method);
    return struct_parse(env, where, v, sh, base);
}

/* --- controller side: calls ----------------------------------------------------------------- */

xmlrpc_value *fg_rpc_add_destination_params(xmlrpc_env *env, const struct fg_endpoint_settings *s)
{
    xmlrpc_value *arr = xmlrpc_array_new(env);
    if (env->fault_occurred)
        return NULL;
    params_append(env, arr, settings_shape, SETTINGS_PARAMS, s);
    return or_null(env, arr);
}

xmlrpc_value *fg_rpc_add_source_params(xmlrpc_env *env, const struct fg_endpoint_settings *s,
                                       const struct fg_source_target *t)
{
    xmlrpc_value *arr = fg_rpc_add_destination_params(env, s);
    if (arr == NULL)
        return NULL;
    params_append(env, arr, &target_shape, 1, t);
    return or_null(env, arr);
}

static xmlrpc_value *one_int_struct_params(xmlrpc_env *env, const struct member *m, int32_t value)
{
    const struct shape sh = {m, 1};
    xmlrpc_value *arr = xmlrpc_array_new(env);
    if (env->fault_occurred)
        return NULL;
    params_append(env, arr, &sh, 1, &value);
    return or_null(env, arr);
}

xmlrpc_value *fg_rpc_start_flows_params(xmlrpc_env *env, int32_t start_timestamp)
{
    return one_int_struct_params(env, start_members, start_timestamp);
}

xmlrpc_value *fg_rpc_stop_flow_params(xmlrpc_env *env, int32_t flow_id)
{
    return one_int_struct_params(env, stop_members, flow_id);
}

xmlrpc_value *fg_rpc_no_params(xmlrpc_env *env)
{
    xmlrpc_value *arr = xmlrpc_array_new(env);
    return or_null(env, arr);
}

/* --- controller side: replies ---------------------------------------------------------------- */

int fg_rpc_parse_uuid_reply(xmlrpc_env *env, xmlrpc_value *v, char *uuid, size_t len)
{
    const struct member m = {"server_uuid", K_STR, 0, len};
    const struct shape sh = {&m, 1};
    if (len == 0) {
        xmlrpc_env_set_fault(env, FG_FAULT_SETTINGS, "get_uuid reply: no room for the uuid");
        return -1;
    }
    return reply_parse(env, "get_uuid", v, &sh, uuid);
}

int fg_rpc_parse_version_reply(xmlrpc_env *env, xmlrpc_value *v, struct fg_version_reply *out)
{
    const struct shape sh = SHAPE(version_members);
    return reply_parse(env, "get_version", v, &sh, out);
}

int fg_rpc_parse_status_reply(xmlrpc_env *env, xmlrpc_value *v, struct fg_status_reply *out)
{
    const struct shape sh = SHAPE(status_members);
    return reply_parse(env, "get_status", v, &sh, out);
}

int fg_rpc_parse_add_destination_reply(xmlrpc_env *env, xmlrpc_value *v,
                                       struct fg_add_destination_reply *out)
{
    const struct shape sh = SHAPE(add_destination_members);
    return reply_parse(env, "add_flow_destination", v, &sh, out);
}

int fg_rpc_parse_add_source_reply(xmlrpc_env *env, xmlrpc_value *v, struct fg_add_source_reply *out)
{
    const struct shape sh = SHAPE(add_source_members);
    return reply_parse(env, "add_flow_source", v, &sh, out);
}

/* Report number idx (1-based, its index in the reply array) from the array rv. */
static int report_parse(xmlrpc_env *env, size_t idx, xmlrpc_value *rv, struct fg_report *r)
{
    if (xmlrpc_value_type(rv) != XMLRPC_TYPE_ARRAY) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS,
                                       "get_reports reply: report %zu is not an array", idx);
        return -1;
    }
    int n = xmlrpc_array_size(env, rv);
    if (env->fault_occurred)
        return -1;
    if (n != (int)REPORT_STRUCTS) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_SETTINGS,
                                       "get_reports reply: report %zu has %d structs, expected %zu",
                                       idx, n, REPORT_STRUCTS);
        return -1;
    }
    fg_rpc_report_init(r);
    for (size_t i = 0; i < REPORT_STRUCTS; i++) {
        char where[96];
        snprintf(where, sizeof where, "get_reports reply: report %zu struct %zu", idx, i + 1);
        xmlrpc_value *st = NULL;
        xmlrpc_array_read_item(env, rv, (unsigned)i, &st);
        if (env->fault_occurred)
            return -1;
        int rc = struct_parse(env, where, st, &report_shape[i], r);
        xmlrpc_DECREF(st);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int fg_rpc_parse_reports_reply(xmlrpc_env *env, xmlrpc_value *v, bool *has_more,
                               struct fg_report *out, size_t cap, size_t *n)
{
    *n = 0;
    if (xmlrpc_value_type(v) != XMLRPC_TYPE_ARRAY) {
        xmlrpc_env_set_fault(env, FG_FAULT_SETTINGS, "get_reports reply: not an array");
        return -1;
    }
    int size = xmlrpc_array_size(env, v);
    if (env->fault_occurred)
        return -1;
    if (size < 1) {
        xmlrpc_env_set_fault(env, FG_FAULT_SETTINGS, "get_reports reply: empty array");
        return -1;
    }
    if ((size_t)(size - 1) > cap) {
        xmlrpc_env_set_fault_formatted(
            env, FG_FAULT_SETTINGS, "get_reports reply: %d reports, room for %zu", size - 1, cap);
        return -1;
    }
    xmlrpc_value *first = NULL;
    xmlrpc_array_read_item(env, v, 0, &first);
    if (env->fault_occurred)
        return -1;
    int more = 0;
    if (xmlrpc_value_type(first) == XMLRPC_TYPE_INT)
        xmlrpc_read_int(env, first, &more);
    else
        xmlrpc_env_set_fault(env, FG_FAULT_SETTINGS,
                             "get_reports reply: element 0 (has_more) must be an int");
    xmlrpc_DECREF(first);
    if (env->fault_occurred)
        return -1;
    *has_more = more != 0;
    for (int i = 1; i < size; i++) {
        xmlrpc_value *rv = NULL;
        xmlrpc_array_read_item(env, v, (unsigned)i, &rv);
        if (env->fault_occurred)
            return -1;
        int rc = report_parse(env, (size_t)i, rv, &out[i - 1]);
        xmlrpc_DECREF(rv);
        if (rc < 0)
            return -1;
        *n = (size_t)i;
    }
    return 0;
}

/* --- daemon side: calls ---------------------------------------------------------------------- */

/* Clears what the parse fills, so an unsent optional part (n_extra) is never stale. */
static void settings_clear(struct fg_endpoint_settings *s)
{
    memset(s, 0, sizeof *s);
}

int fg_rpc_parse_add_destination(xmlrpc_env *env, xmlrpc_value *params,
                                 struct fg_endpoint_settings *s)
{
    static const char method[] = "add_flow_destination";
    settings_clear(s);
    if (check_param_count(env, method, params, SETTINGS_PARAMS) < 0)
        return -1;
    return params_parse(env, method, params, 0, settings_shape, SETTINGS_PARAMS, s);
}

int fg_rpc_parse_add_source(xmlrpc_env *env, xmlrpc_value *params, struct fg_endpoint_settings *s,
                            struct fg_source_target *t)
{
    static const char method[] = "add_flow_source";
    settings_clear(s);
    memset(t, 0, sizeof *t);
    if (check_param_count(env, method, params, SETTINGS_PARAMS + 1) < 0)
        return -1;
    if (params_parse(env, method, params, 0, settings_shape, SETTINGS_PARAMS, s) < 0)
        return -1;
    return params_parse(env, method, params, SETTINGS_PARAMS, &target_shape, 1, t);
}

static int parse_one_int_struct(xmlrpc_env *env, const char *method, xmlrpc_value *params,
                                const struct member *m, int32_t *out)
{
    const struct shape sh = {m, 1};
    if (check_param_count(env, method, params, 1) < 0)
        return -1;
    return params_parse(env, method, params, 0, &sh, 1, out);
}

int fg_rpc_parse_start_flows(xmlrpc_env *env, xmlrpc_value *params, int32_t *start_timestamp)
{
    return parse_one_int_struct(env, "start_flows", params, start_members, start_timestamp);
}

int fg_rpc_parse_stop_flow(xmlrpc_env *env, xmlrpc_value *params, int32_t *flow_id)
{
    return parse_one_int_struct(env, "stop_flow", params, stop_members, flow_id);
}

/* --- daemon side: replies -------------------------------------------------------------------- */

xmlrpc_value *fg_rpc_uuid_reply(xmlrpc_env *env, const char *uuid)
{
    const struct member m = {"server_uuid", K_STR, 0, 0};
    const struct shape sh = {&m, 1};
    return struct_build(env, &sh, uuid);
}

xmlrpc_value *fg_rpc_version_reply(xmlrpc_env *env, const struct fg_version_reply *r)
{
    const struct shape sh = SHAPE(version_members);
    return struct_build(env, &sh, r);
}

xmlrpc_value *fg_rpc_status_reply(xmlrpc_env *env, const struct fg_status_reply *r)
{
    const struct shape sh = SHAPE(status_members);
    return struct_build(env, &sh, r);
}

xmlrpc_value *fg_rpc_add_destination_reply(xmlrpc_env *env,
                                           const struct fg_add_destination_reply *r)
{
    const struct shape sh = SHAPE(add_destination_members);
    return struct_build(env, &sh, r);
}

xmlrpc_value *fg_rpc_add_source_reply(xmlrpc_env *env, const struct fg_add_source_reply *r)
{
    const struct shape sh = SHAPE(add_source_members);
    return struct_build(env, &sh, r);
}

xmlrpc_value *fg_rpc_start_flows_reply(xmlrpc_env *env)
{
    return xmlrpc_int_new(env, 0);
}

xmlrpc_value *fg_rpc_stop_flow_reply(xmlrpc_env *env)
{
    return fg_rpc_no_params(env);
}

static xmlrpc_value *report_value(xmlrpc_env *env, const struct fg_report *r)
{
    xmlrpc_value *arr = xmlrpc_array_new(env);
    if (env->fault_occurred)
        return NULL;
    params_append(env, arr, report_shape, REPORT_STRUCTS, r);
    return or_null(env, arr);
}

xmlrpc_value *fg_rpc_reports_reply(xmlrpc_env *env, bool has_more, const struct fg_report *r,
                                   size_t n)
{
    xmlrpc_value *arr = xmlrpc_array_new(env);
    if (env->fault_occurred)
        return NULL;
    array_put(env, arr, xmlrpc_int_new(env, has_more ? 1 : 0));
    for (size_t i = 0; i < n && !env->fault_occurred; i++)
        array_put(env, arr, report_value(env, &r[i]));
    return or_null(env, arr);
}

void fg_rpc_report_init(struct fg_report *r)
{
    memset(r, 0, sizeof *r);
    r->rtt_min = r->iat_min = r->delay_min = FG_RPC_NO_MIN;
    r->rtt_max = r->iat_max = r->delay_max = FG_RPC_NO_MAX;
}

void fg_rpc_settings_defaults(struct fg_endpoint_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->bind_address, sizeof s->bind_address, "%s", "localhost");
    s->reporting_interval = 0.05;
    s->maximum_block_size = 8192;
    s->request.distribution = FG_DIST_CONSTANT;
    s->request.param_one = 8192;
    s->response.distribution = FG_DIST_CONSTANT;
    s->gap.distribution = FG_DIST_CONSTANT;
    snprintf(s->dump_prefix, sizeof s->dump_prefix, "%s", "flowgrind-");
}

bool fg_rpc_dist_kind(int32_t code, enum dist_kind *kind)
{
    static const enum dist_kind kinds[] = {
        [FG_DIST_CONSTANT] = DIST_CONSTANT,       [FG_DIST_NORMAL] = DIST_NORMAL,
        [FG_DIST_WEIBULL] = DIST_WEIBULL,         [FG_DIST_UNIFORM] = DIST_UNIFORM,
        [FG_DIST_EXPONENTIAL] = DIST_EXPONENTIAL, [FG_DIST_PARETO] = DIST_PARETO,
        [FG_DIST_LOGNORMAL] = DIST_LOGNORMAL,
    };
    if (code < 0 || (size_t)code >= sizeof kinds / sizeof kinds[0])
        return false;
    *kind = kinds[code];
    return true;
}
