#ifndef NETGRIND_FLOWGRIND_RPC_H
#define NETGRIND_FLOWGRIND_RPC_H

/* flowgrind's XML-RPC control protocol (specs/flowgrind.md §3, §4), on xmlrpc-c values.
 *
 * One module knows every method's parameter and reply shapes, for both sides: the controller
 * builds calls and parses replies, the daemon parses calls and builds replies. The shapes are
 * 0.8.2's exactly, member order included, because xmlrpc-c serialises members in the order
 * they were added and the real daemon crashes on a missing member or a wrong type (§3.8):
 *  - add_flow_destination: 15 params, add_flow_source: 16, each param one struct;
 *  - `b` members as <boolean>, `d` members as <double> even when integral, `i` as <i4>;
 *  - unsigned values (seed, block counts) and the halves of 64-bit counters as signed i4;
 *  - get_reports: [has_more, report...], each report an array of exactly 9 structs.
 *
 * Parsing is strict where the daemon must not be fooled and lenient where 0.8.2 is lenient:
 * the param count must be exact (fault -502), every listed member present with its type
 * (fault -501 naming the member and param; xmlrpc-c already accepts <int> for <i4>, an
 * untyped value as a string and exponent doubles), extra members and member order ignored.
 * A parse failure sets env's fault (code and one line naming what was wrong) and leaves the
 * output struct unspecified: the daemon answers that fault and keeps serving (the original
 * crashed, its bug 35).
 *
 * netgrind's daemon adds three members to a report's fourth struct, rtt_samples,
 * iat_samples and delay_samples (the original's averages divided by block counts, bug 2;
 * with the sample counts a controller divides by samples). Extra members are ignored by
 * 0.8.2's controller. A report from a daemon without them parses with the counts -1.
 *
 * Functions returning xmlrpc_value * return a new reference the caller must xmlrpc_DECREF,
 * or NULL with env's fault set (only on out-of-memory). Pure apart from allocation; any
 * thread, with its own env. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <xmlrpc-c/base.h>

#include "core/dist.h"

#define FG_RPC_VERSION \
    "0.8.2" /* what we answer and expect: the real controller stalls 5 s otherwise */
#define FG_RPC_API_VERSION 3
#define FG_RPC_PATH "/RPC2"
#define FG_RPC_REPORTS_PER_CALL 50 /* get_reports returns at most this many, has_more = 1 then */

/* Fault codes (spec §3.7): -500 handler error, -501 type error / settings incorrect (also
 * xmlrpc-c's XMLRPC_TYPE_ERROR), -502 wrong number of params (XMLRPC_INDEX_ERROR),
 * -506 unknown method (XMLRPC_NO_SUCH_METHOD_ERROR). */
#define FG_FAULT_HANDLER (-500)
#define FG_FAULT_SETTINGS (-501)
#define FG_FAULT_PARAMS (-502)

enum fg_endpoint {
    FG_SOURCE = 0,
    FG_DESTINATION = 1
};
enum fg_report_type {
    FG_REPORT_INTERVAL = 0,
    FG_REPORT_FINAL = 1
};

/* Distribution codes on the wire (§3.1). */
enum fg_dist_code {
    FG_DIST_CONSTANT = 0,
    FG_DIST_NORMAL = 1,
    FG_DIST_WEIBULL = 2,
    FG_DIST_UNIFORM = 3,
    FG_DIST_EXPONENTIAL = 4,
    FG_DIST_PARETO = 5,
    FG_DIST_LOGNORMAL = 6,
};

struct fg_dist_param {
    int32_t distribution; /* enum fg_dist_code */
    double param_one, param_two;
};

/* The distribution a wire code stands for (core/dist.h); false for a code outside
 * enum fg_dist_code, *kind then unchanged. */
bool fg_rpc_dist_kind(int32_t code, enum dist_kind *kind);

#define FG_RPC_MAX_EXTRA_SOCKOPTS 10
#define FG_RPC_EXTRA_SOCKOPT_LEN 100
#define FG_RPC_CC_ALG_MAX 16  /* longer cc_alg: fault -501 (the daemon checks) */
#define FG_RPC_STRING_MAX 256 /* longer strings in a call: fault -501 */

/* One setsockopt passthrough, level 0..5 = SOL_SOCKET, SOL_TCP, IPPROTO_IP, IPPROTO_SCTP,
 * IPPROTO_TCP, IPPROTO_UDP (the original's enum), value up to 100 bytes (base64 on the wire). */
struct fg_extra_sockopt {
    int32_t level;
    int32_t optname;
    uint8_t value[FG_RPC_EXTRA_SOCKOPT_LEN];
    size_t len;
};

/* Params 1..15 of add_flow_destination and add_flow_source: the settings of one flow
 * endpoint, member names as on the wire (§3.1 gives each one's meaning). */
struct fg_endpoint_settings {
    char bind_address[FG_RPC_STRING_MAX]; /* test address of this endpoint; "" = wildcard */
    int32_t flow_id;
    double write_delay, write_duration, read_delay, read_duration, reporting_interval;
    int32_t requested_send_buffer_size, requested_read_buffer_size;
    int32_t maximum_block_size;
    bool traffic_dump, so_debug, route_record, pushy, shutdown;
    int32_t write_rate;   /* bytes/s, 0 = unlimited */
    uint32_t random_seed; /* travels as signed i4; 0 = the daemon picks one */
    struct fg_dist_param request, response, gap;
    bool flow_control, byte_counting;
    int32_t cork, nonagle;
    char cc_alg[FG_RPC_STRING_MAX]; /* "" = unset */
    int32_t elcn, lcd, mtcp, dscp, ipmtudiscover;
    char dump_prefix[FG_RPC_STRING_MAX];
    int32_t num_extra_socket_options; /* as sent; the array's length is n_extra */
    struct fg_extra_sockopt extra[FG_RPC_MAX_EXTRA_SOCKOPTS];
    size_t n_extra;
};

/* Param 16 of add_flow_source. */
struct fg_source_target {
    char destination_address[FG_RPC_STRING_MAX];
    int32_t destination_port;
    int32_t late_connect;
};

struct fg_add_destination_reply {
    int32_t flow_id, listen_data_port;
    int32_t real_listen_send_buffer_size, real_listen_read_buffer_size;
};

struct fg_add_source_reply {
    int32_t flow_id;
    char cc_alg[FG_RPC_STRING_MAX]; /* the congestion control actually on the socket */
    int32_t real_send_buffer_size, real_read_buffer_size;
};

struct fg_version_reply {
    char version[FG_RPC_STRING_MAX];
    int32_t api_version;
    char os_name[FG_RPC_STRING_MAX];
    char os_release[FG_RPC_STRING_MAX];
};

struct fg_status_reply {
    int32_t started, num_flows;
};

/* The TCP_INFO members a report carries (§3.1 structs 6-8), as the kernel gives them;
 * rtt, rttvar and rto in microseconds. */
struct fg_report_tcp_info {
    uint32_t snd_cwnd, snd_ssthresh, unacked, sacked, lost;
    uint32_t retrans, retransmits, fackets, reordering, rtt;
    uint32_t rttvar, rto, backoff, ca_state, snd_mss;
};

/* "No sample" sentinels of the min/max/sum triples (the original's FLT_MAX / FLT_MIN / 0). */
#define FG_RPC_NO_MIN 3.40282346638528859811704183484516925e+38 /* FLT_MAX */
#define FG_RPC_NO_MAX 1.17549435082228750796873653722224568e-38 /* FLT_MIN */

/* One interval or final report of one flow endpoint. */
struct fg_report {
    int32_t id;                         /* flow id */
    int32_t endpoint;                   /* enum fg_endpoint */
    int32_t type;                       /* enum fg_report_type */
    struct timespec begin, end;         /* CLOCK_REALTIME; seconds travel as 32-bit i4 */
    uint64_t bytes_read, bytes_written; /* travel as _high/_low signed i4 halves */
    uint32_t request_blocks_read, request_blocks_written;
    uint32_t response_blocks_read, response_blocks_written;
    double rtt_min, rtt_max, rtt_sum; /* seconds */
    double iat_min, iat_max, iat_sum;
    double delay_min, delay_max, delay_sum;
    int64_t rtt_samples, iat_samples, delay_samples; /* netgrind members; -1 = not sent */
    int32_t pmtu, imtu;
    struct fg_report_tcp_info tcpi;
    int32_t status; /* read_state * 256 + write_state, ASCII letters (§3.1 struct 9) */
};

/* --- controller side: calls ----------------------------------------------------------- */

/* The 15 params of add_flow_destination for s. */
xmlrpc_value *fg_rpc_add_destination_params(xmlrpc_env *env, const struct fg_endpoint_settings *s);

/* The 16 params of add_flow_source for s and its target t. */
xmlrpc_value *fg_rpc_add_source_params(xmlrpc_env *env, const struct fg_endpoint_settings *s,
                                       const struct fg_source_target *t);

/* The one param of start_flows: {start_timestamp: i4}. */
xmlrpc_value *fg_rpc_start_flows_params(xmlrpc_env *env, int32_t start_timestamp);

/* The one param of stop_flow: {flow_id: i4}; -1 = all flows. */
xmlrpc_value *fg_rpc_stop_flow_params(xmlrpc_env *env, int32_t flow_id);

/* An empty param array (get_uuid, get_version, get_status, get_reports). */
xmlrpc_value *fg_rpc_no_params(xmlrpc_env *env);

/* --- controller side: replies. Each returns 0, or -1 with env's fault set to a message
 * naming the member that was missing or mistyped ("get_version reply: no member 'version'"). */
int fg_rpc_parse_uuid_reply(xmlrpc_env *env, xmlrpc_value *v, char *uuid, size_t len);
int fg_rpc_parse_version_reply(xmlrpc_env *env, xmlrpc_value *v, struct fg_version_reply *out);
int fg_rpc_parse_status_reply(xmlrpc_env *env, xmlrpc_value *v, struct fg_status_reply *out);
int fg_rpc_parse_add_destination_reply(xmlrpc_env *env, xmlrpc_value *v,
                                       struct fg_add_destination_reply *out);
int fg_rpc_parse_add_source_reply(xmlrpc_env *env, xmlrpc_value *v,
                                  struct fg_add_source_reply *out);

/* get_reports' reply: *has_more, and up to cap reports into out (*n of them). More reports
 * than cap, a report that is not an array of 9 structs, or a missing member: -1 with the
 * fault naming the report's index and the member. */
int fg_rpc_parse_reports_reply(xmlrpc_env *env, xmlrpc_value *v, bool *has_more,
                               struct fg_report *out, size_t cap, size_t *n);

/* --- daemon side: calls. Each takes the method's param array and returns 0, or -1 with
 * env's fault set: -502 for a wrong number of params, -501 for a missing or mistyped member
 * or a string longer than FG_RPC_STRING_MAX - 1 ("add_flow_source param 6: member 'pushy'
 * must be a boolean"). Range checks of the values are the daemon's (fault -501 "Flow settings
 * incorrect" there). */
int fg_rpc_parse_add_destination(xmlrpc_env *env, xmlrpc_value *params,
                                 struct fg_endpoint_settings *s);
int fg_rpc_parse_add_source(xmlrpc_env *env, xmlrpc_value *params, struct fg_endpoint_settings *s,
                            struct fg_source_target *t);
int fg_rpc_parse_start_flows(xmlrpc_env *env, xmlrpc_value *params, int32_t *start_timestamp);
int fg_rpc_parse_stop_flow(xmlrpc_env *env, xmlrpc_value *params, int32_t *flow_id);

/* --- daemon side: replies ------------------------------------------------------------- */
xmlrpc_value *fg_rpc_uuid_reply(xmlrpc_env *env, const char *uuid);
xmlrpc_value *fg_rpc_version_reply(xmlrpc_env *env, const struct fg_version_reply *r);
xmlrpc_value *fg_rpc_status_reply(xmlrpc_env *env, const struct fg_status_reply *r);
xmlrpc_value *fg_rpc_add_destination_reply(xmlrpc_env *env,
                                           const struct fg_add_destination_reply *r);
xmlrpc_value *fg_rpc_add_source_reply(xmlrpc_env *env, const struct fg_add_source_reply *r);
/* start_flows: a bare <i4>0</i4>. */
xmlrpc_value *fg_rpc_start_flows_reply(xmlrpc_env *env);
/* stop_flow: an empty array. */
xmlrpc_value *fg_rpc_stop_flow_reply(xmlrpc_env *env);
/* get_reports: [has_more, report...], each report the 9 structs of §3.1 in the original's
 * member order, then netgrind's sample counts appended to struct 4 when >= 0. */
xmlrpc_value *fg_rpc_reports_reply(xmlrpc_env *env, bool has_more, const struct fg_report *r,
                                   size_t n);

/* A report with every field zero/none: counters 0, min/max/sum sentinels, sample counts 0. */
void fg_rpc_report_init(struct fg_report *r);

/* Fills a defaults settings struct as the real controller sends for an endpoint without
 * options (§4.4): bind_address "localhost", durations 0, interval 0.05, block 8192, request
 * constant 8192, response and gap constant 0, dump_prefix "flowgrind-", everything else 0. */
void fg_rpc_settings_defaults(struct fg_endpoint_settings *s);

/* --- the screen before xmlrpc-c parses a body (rpc_screen.c) ------------------------- */

/* Whether an XML-RPC body (a call or a response) may be handed to xmlrpc-c 1.33: nested at
 * most FG_RPC_MAX_XML_DEPTH elements, no document type declaration, every <i8> a plain
 * in-range integer; any of these crashes or exhausts that library. reason (may be NULL)
 * names the first failure. Pure; any thread. */
#define FG_RPC_MAX_XML_DEPTH 256
bool fg_rpc_xml_acceptable(const char *xml, size_t len, char *reason, size_t reasonlen);

#endif
