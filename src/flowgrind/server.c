/* flowgrindd's XML-RPC method handlers: rpc.h parses and builds, daemon.h acts; this file
 * adds the allow-lists, the UUID and the shutdown gate (server.h). */
#include "flowgrind/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <xmlrpc-c/server_abyss.h> /* SessionGetChannelInfo */

#include "core/units.h"
#include "flowgrind/rpc.h"

/* getaddrinfo() with NSS modules can need well over Abyss's default thread stack. */
#define METHOD_STACK_BYTES (512 * 1024)
#define LOG_INTERVAL_S 1 /* at most one "not allowed" log line per second */

struct fg_server {
    struct fg_daemon *daemon;
    xmlrpc_registry *registry;
    struct fg_cidr controllers[FG_SERVER_MAX_NETS];
    size_t n_controllers;
    struct fg_cidr destinations[FG_SERVER_MAX_NETS];
    size_t n_destinations;
    fg_daemon_log_fn log;
    void *log_ctx;
    char uuid[37];
    struct fg_version_reply version;

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t idle;  /* signalled when in_flight drops to 0 while closing */
    bool closing;
    unsigned in_flight;
    time_t last_log;
};

/* --- networks -------------------------------------------------------------------------- */

/* Clears the host bits so that matching compares whole bytes and one partial byte. */
static void cidr_mask(struct fg_cidr *c)
{
    unsigned bytes = c->family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned bit0 = i * 8;
        if (bit0 >= c->prefix)
            c->addr[i] = 0;
        else if (c->prefix - bit0 < 8)
            c->addr[i] &= (uint8_t)(0xff00u >> (c->prefix - bit0));
    }
}

int fg_cidr_parse(const char *text, struct fg_cidr *out, char *err, size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    memset(out, 0, sizeof *out);
    if (hlen == 0 || hlen >= sizeof host)
        goto bad;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
    } else {
        goto bad;
    }
    if (slash) {
        uint64_t prefix;
        char why[96];
        if (units_parse_u64(slash + 1, 0, out->prefix, &prefix, why, sizeof why) < 0)
            goto bad;
        out->prefix = (unsigned)prefix;
    }
    cidr_mask(out);
    return 0;
bad:
    snprintf(err, errlen, "invalid network '%s' (expected ADDRESS[/PREFIX])", text);
    return -EINVAL;
}

static bool cidr_contains(const struct fg_cidr *c, int family, const uint8_t *addr)
{
    if (c->family != family)
        return false;
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (addr[full] & mask) == c->addr[full];
}

bool fg_cidr_match(const struct fg_cidr *nets, size_t n, const struct sockaddr *sa)
{
    int family;
    const uint8_t *addr;
    if (sa->sa_family == AF_INET) {
        family = AF_INET;
        addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
        addr = family == AF_INET ? a6->s6_addr + 12 : a6->s6_addr;
    } else {
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&nets[i], family, addr))
            return true;
    return false;
}

/* --- UUID ------------------------------------------------------------------------------ */

/* 100 ns intervals between 1582-10-15 00:00 (the Gregorian reform) and 1970-01-01 00:00. */
#define UUID_EPOCH_OFFSET 0x01B21DD213814000ULL

void fg_server_make_uuid(const struct timespec *now, const uint8_t rnd[8], char out[37])
{
    uint64_t ts =
        (uint64_t)now->tv_sec * 10000000u + (uint64_t)now->tv_nsec / 100u + UUID_EPOCH_OFFSET;
    uint32_t time_low = (uint32_t)ts;
    unsigned time_mid = (unsigned)(ts >> 32) & 0xffffu;
    unsigned time_hi_version = ((unsigned)(ts >> 48) & 0x0fffu) | 0x1000u; /* version 1 */
    unsigned clock_seq = ((unsigned)rnd[0] << 8 | rnd[1]) & 0x3fffu;
    unsigned clock_seq_hi = (clock_seq >> 8) | 0x80u; /* variant 10x (RFC 4122) */
    unsigned clock_seq_low = clock_seq & 0xffu;
    uint8_t node[6];
    memcpy(node, rnd + 2, 6);
    node[0] |= 0x01; /* multicast bit: a random node id, never a real MAC (§4.5) */
    snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", (unsigned)time_low,
             time_mid, time_hi_version, clock_seq_hi, clock_seq_low, node[0], node[1], node[2],
             node[3], node[4], node[5]);
}

static void make_process_uuid(char out[37])
{
    uint8_t rnd[8];
    struct timespec now;
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        /* No entropy source: time and pid still make the id unique enough per host. */
        uint64_t mix = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
        memcpy(rnd, &mix, sizeof rnd);
    }
    clock_gettime(CLOCK_REALTIME, &now);
    fg_server_make_uuid(&now, rnd, out);
}

/* --- the gate: allow-list of controllers and shutdown ---------------------------------- */

static void log_refusal(struct fg_server *s, const char *line)
{
    if (!s->log)
        return;
    time_t now = time(NULL);
    bool emit;
    pthread_mutex_lock(&s->lock);
    emit = now - s->last_log >= LOG_INTERVAL_S;
    if (emit)
        s->last_log = now;
    pthread_mutex_unlock(&s->lock);
    if (emit)
        s->log(s->log_ctx, true, line);
}

/* The call's peer from the channel info the daemon gave Abyss; false when unknown. */
static bool call_peer(void *call_info, struct fg_server_peer *out)
{
    void *info = NULL;
    if (!call_info)
        return false;
    SessionGetChannelInfo((TSession *)call_info, &info);
    if (!info)
        return false;
    memcpy(out, info, sizeof *out);
    return out->len > 0 && (out->addr.ss_family == AF_INET || out->addr.ss_family == AF_INET6);
}

/* The numeric host, IPv4-mapped IPv6 addresses shown as plain IPv4. */
static void format_host(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    struct sockaddr_in v4;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
    if (sa->sa_family == AF_INET6 && len >= sizeof *v6 && IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
        memset(&v4, 0, sizeof v4);
        v4.sin_family = AF_INET;
        memcpy(&v4.sin_addr, v6->sin6_addr.s6_addr + 12, 4);
        sa = (const struct sockaddr *)&v4;
        len = sizeof v4;
    }
    if (getnameinfo(sa, len, buf, (socklen_t)buflen, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, buflen, "(unknown)");
}

static bool controller_allowed(struct fg_server *s, xmlrpc_env *env, void *call_info,
                               const char *method)
{
    struct fg_server_peer peer;
    char host[NI_MAXHOST] = "(unknown)";
    if (s->n_controllers == 0)
        return true;
    if (call_peer(call_info, &peer)) {
        if (fg_cidr_match(s->controllers, s->n_controllers, (struct sockaddr *)&peer.addr))
            return true;
        format_host((struct sockaddr *)&peer.addr, peer.len, host, sizeof host);
    }
    xmlrpc_env_set_fault_formatted(env, FG_FAULT_HANDLER, "controller %s not allowed", host);
    char line[NI_MAXHOST + 128];
    snprintf(line, sizeof line, "refused %s from controller %s: not in --allow-controller", method,
             host);
    log_refusal(s, line);
    return false;
}

/* Lets a call in: peer allowed and the daemon not closing. Pair with leave(). */
static bool enter(struct fg_server *s, xmlrpc_env *env, void *call_info, const char *method)
{
    if (!controller_allowed(s, env, call_info, method))
        return false;
    pthread_mutex_lock(&s->lock);
    bool closing = s->closing;
    if (!closing)
        s->in_flight++;
    pthread_mutex_unlock(&s->lock);
    if (closing)
        xmlrpc_env_set_fault(env, FG_FAULT_HANDLER, "daemon shutting down");
    return !closing;
}

static void leave(struct fg_server *s)
{
    pthread_mutex_lock(&s->lock);
    if (--s->in_flight == 0 && s->closing)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

/* --- allow-list of destinations -------------------------------------------------------- */

/* Resolves host (in place, FG_RPC_STRING_MAX bytes) and replaces it by the first of its
 * addresses that lies in an allowed network; faults when none does. what names the member
 * in the fault ("destination", "bind address"). */
static bool destination_allowed(struct fg_server *s, xmlrpc_env *env, char *host, const char *what)
{
    if (s->n_destinations == 0)
        return true;
    if (host[0] == '\0') {
        struct sockaddr_in any = {.sin_family = AF_INET};
        if (fg_cidr_match(s->destinations, s->n_destinations, (struct sockaddr *)&any))
            return true;
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_HANDLER, "%s (wildcard) not allowed", what);
        return false;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        xmlrpc_env_set_fault_formatted(env, FG_FAULT_HANDLER, "%s %s not allowed: %s", what, host,
                                       gai_strerror(rc));
        return false;
    }
    char first[NI_MAXHOST] = "";
    bool ok = false;
    for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
        char numeric[NI_MAXHOST];
        format_host(ai->ai_addr, ai->ai_addrlen, numeric, sizeof numeric);
        if (!first[0])
            snprintf(first, sizeof first, "%s", numeric);
        size_t len = strlen(numeric);
        if (fg_cidr_match(s->destinations, s->n_destinations, ai->ai_addr) &&
            len < FG_RPC_STRING_MAX) {
            memcpy(host, numeric, len + 1);
            ok = true;
        }
    }
    freeaddrinfo(res);
    if (!ok) {
        if (strcmp(first, host) == 0)
            xmlrpc_env_set_fault_formatted(env, FG_FAULT_HANDLER, "%s %s not allowed", what, host);
        else
            xmlrpc_env_set_fault_formatted(env, FG_FAULT_HANDLER, "%s %s (%s) not allowed", what,
                                           host, first);
        char line[600];
        snprintf(line, sizeof line, "refused flow: %s", env->fault_string);
        log_refusal(s, line);
    }
    return ok;
}

/* --- the methods ----------------------------------------------------------------------- */

static xmlrpc_value *daemon_fault(xmlrpc_env *env, int code, const char *msg)
{
    xmlrpc_env_set_fault(env, code, msg[0] ? msg : "request failed");
    return NULL;
}

static xmlrpc_value *m_add_flow_destination(xmlrpc_env *env, xmlrpc_value *params,
                                            void *server_info, void *call_info)
{
    struct fg_server *s = server_info;
    struct fg_endpoint_settings st;
    struct fg_add_destination_reply r = {0};
    char msg[512] = "";
    xmlrpc_value *out = NULL;

    if (!enter(s, env, call_info, "add_flow_destination"))
        return NULL;
    if (fg_rpc_parse_add_destination(env, params, &st) == 0 &&
        destination_allowed(s, env, st.bind_address, "bind address")) {
        int rc = fg_daemon_add_destination(s->daemon, &st, &r, msg, sizeof msg);
        out = rc ? daemon_fault(env, rc, msg) : fg_rpc_add_destination_reply(env, &r);
    }
    leave(s);
    return out;
}

static xmlrpc_value *m_add_flow_source(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                       void *call_info)
{
    struct fg_server *s = server_info;
    struct fg_endpoint_settings st;
    struct fg_source_target t;
    struct fg_add_source_reply r = {0};
    char msg[512] = "";
    xmlrpc_value *out = NULL;

    if (!enter(s, env, call_info, "add_flow_source"))
        return NULL;
    if (fg_rpc_parse_add_source(env, params, &st, &t) == 0 &&
        destination_allowed(s, env, t.destination_address, "destination")) {
        int rc = fg_daemon_add_source(s->daemon, &st, &t, &r, msg, sizeof msg);
        out = rc ? daemon_fault(env, rc, msg) : fg_rpc_add_source_reply(env, &r);
    }
    leave(s);
    return out;
}

static xmlrpc_value *m_start_flows(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                   void *call_info)
{
    struct fg_server *s = server_info;
    int32_t start_timestamp;
    xmlrpc_value *out = NULL;

    if (!enter(s, env, call_info, "start_flows"))
        return NULL;
    if (fg_rpc_parse_start_flows(env, params, &start_timestamp) == 0) {
        fg_daemon_start_flows(s->daemon, start_timestamp);
        out = fg_rpc_start_flows_reply(env);
    }
    leave(s);
    return out;
}

static xmlrpc_value *m_stop_flow(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                 void *call_info)
{
    struct fg_server *s = server_info;
    int32_t flow_id;
    char msg[512] = "";
    xmlrpc_value *out = NULL;

    if (!enter(s, env, call_info, "stop_flow"))
        return NULL;
    if (fg_rpc_parse_stop_flow(env, params, &flow_id) == 0) {
        int rc = fg_daemon_stop_flow(s->daemon, flow_id, msg, sizeof msg);
        out = rc ? daemon_fault(env, rc, msg) : fg_rpc_stop_flow_reply(env);
    }
    leave(s);
    return out;
}

/* get_reports: at most FG_RPC_REPORTS_PER_CALL per call, has_more when more are queued.
 * Params are ignored, as 0.8.2 does. */
static xmlrpc_value *m_get_reports(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                   void *call_info)
{
    struct fg_server *s = server_info;
    bool has_more = false;
    xmlrpc_value *out;
    (void)params;

    if (!enter(s, env, call_info, "get_reports"))
        return NULL;
    struct fg_report *reports = calloc(FG_RPC_REPORTS_PER_CALL, sizeof *reports);
    if (!reports) {
        leave(s);
        xmlrpc_env_set_fault(env, FG_FAULT_HANDLER, "out of memory");
        return NULL;
    }
    size_t n = fg_daemon_take_reports(s->daemon, reports, FG_RPC_REPORTS_PER_CALL, &has_more);
    leave(s);
    /* The reports have left the daemon's queue: a reply that fails to build loses them, as
     * a lost HTTP response would in 0.8.2. */
    out = fg_rpc_reports_reply(env, has_more, reports, n);
    free(reports);
    return out;
}

static xmlrpc_value *m_get_version(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                   void *call_info)
{
    struct fg_server *s = server_info;
    (void)params;
    if (!controller_allowed(s, env, call_info, "get_version"))
        return NULL;
    return fg_rpc_version_reply(env, &s->version);
}

static xmlrpc_value *m_get_status(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                  void *call_info)
{
    struct fg_server *s = server_info;
    struct fg_status_reply r = {0};
    (void)params;
    if (!enter(s, env, call_info, "get_status"))
        return NULL;
    fg_daemon_status(s->daemon, &r);
    leave(s);
    return fg_rpc_status_reply(env, &r);
}

static xmlrpc_value *m_get_uuid(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                void *call_info)
{
    struct fg_server *s = server_info;
    (void)params;
    if (!controller_allowed(s, env, call_info, "get_uuid"))
        return NULL;
    return fg_rpc_uuid_reply(env, s->uuid);
}

static const struct {
    const char *name;
    xmlrpc_method2 fn;
    const char *help;
} methods[] = {
    {"add_flow_destination", m_add_flow_destination,
     "Creates the destination endpoint of a flow and its data listen socket"},
    {"add_flow_source", m_add_flow_source,
     "Creates the source endpoint of a flow and connects it to the destination"},
    {"start_flows", m_start_flows, "Starts every flow of this daemon"},
    {"get_reports", m_get_reports, "Returns queued interval and final reports"},
    {"stop_flow", m_stop_flow, "Stops one flow endpoint, or all with flow_id -1"},
    {"get_version", m_get_version, "Returns the flowgrind version and API version"},
    {"get_status", m_get_status, "Returns whether flows run and how many are held"},
    {"get_uuid", m_get_uuid, "Returns this daemon process's UUID"},
};

/* --- the body check before xmlrpc-c parses ------------------------------------------- */

void fg_server_process_call(xmlrpc_env *env, void *arg, const char *xml, size_t len,
                            TSession *session, xmlrpc_mem_block **response)
{
    struct fg_server *s = arg;
    char reason[128];
    xmlrpc_env refusal;
    xmlrpc_env_init(&refusal);
    /* A controller that is not allowed gets its fault before xmlrpc-c parses anything, for
     * every method including the library's system.* ones. */
    if (controller_allowed(s, &refusal, session, "a call")) {
        if (fg_rpc_xml_acceptable(xml, len, reason, sizeof reason)) {
            xmlrpc_env_clean(&refusal);
            xmlrpc_registry_process_call2(env, s->registry, xml, len, session, response);
            return;
        }
        xmlrpc_env_set_fault(&refusal, XMLRPC_PARSE_ERROR, reason);
    }
    xmlrpc_mem_block *out = xmlrpc_mem_block_new(env, 0);
    if (!env->fault_occurred) {
        xmlrpc_serialize_fault(env, out, &refusal);
        if (env->fault_occurred)
            xmlrpc_mem_block_free(out);
        else
            *response = out;
    }
    xmlrpc_env_clean(&refusal);
}

/* --- lifetime -------------------------------------------------------------------------- */

static void fill_version(struct fg_version_reply *v)
{
    struct utsname u;
    memset(v, 0, sizeof *v);
    snprintf(v->version, sizeof v->version, "%s", FG_RPC_VERSION);
    v->api_version = FG_RPC_API_VERSION;
    if (uname(&u) == 0) {
        snprintf(v->os_name, sizeof v->os_name, "%s", u.sysname);
        snprintf(v->os_release, sizeof v->os_release, "%s", u.release);
    } else {
        snprintf(v->os_name, sizeof v->os_name, "Linux");
    }
}

static int register_methods(struct fg_server *s, char *err, size_t errlen)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    s->registry = xmlrpc_registry_new(&env);
    for (size_t i = 0; !env.fault_occurred && i < sizeof methods / sizeof methods[0]; i++) {
        struct xmlrpc_method_info3 info = {
            .methodName = methods[i].name,
            .methodFunction = methods[i].fn,
            .serverInfo = s,
            .stackSize = METHOD_STACK_BYTES,
            .signatureString = "?",
            .help = methods[i].help,
        };
        xmlrpc_registry_add_method3(&env, s->registry, &info);
    }
    int rc = 0;
    if (env.fault_occurred) {
        snprintf(err, errlen, "XML-RPC registry: %s", env.fault_string);
        rc = -ENOMEM;
    }
    xmlrpc_env_clean(&env);
    return rc;
}

struct fg_server *fg_server_new(const struct fg_server_config *cfg, char *err, size_t errlen)
{
    if (cfg->n_allow_controller > FG_SERVER_MAX_NETS ||
        cfg->n_allow_destination > FG_SERVER_MAX_NETS) {
        snprintf(err, errlen, "at most %d networks per allow-list", FG_SERVER_MAX_NETS);
        return NULL;
    }
    struct fg_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->daemon = cfg->daemon;
    s->log = cfg->log;
    s->log_ctx = cfg->log_ctx;
    s->n_controllers = cfg->n_allow_controller;
    if (s->n_controllers)
        memcpy(s->controllers, cfg->allow_controller, s->n_controllers * sizeof(struct fg_cidr));
    s->n_destinations = cfg->n_allow_destination;
    if (s->n_destinations)
        memcpy(s->destinations, cfg->allow_destination, s->n_destinations * sizeof(struct fg_cidr));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    make_process_uuid(s->uuid);
    fill_version(&s->version);
    if (register_methods(s, err, errlen) < 0) {
        fg_server_free(s);
        return NULL;
    }
    return s;
}

xmlrpc_registry *fg_server_registry(struct fg_server *s)
{
    return s->registry;
}

const char *fg_server_uuid(const struct fg_server *s)
{
    return s->uuid;
}

bool fg_server_close(struct fg_server *s, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    while (s->in_flight > 0)
        if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == ETIMEDOUT)
            break;
    bool idle = s->in_flight == 0;
    pthread_mutex_unlock(&s->lock);
    return idle;
}

void fg_server_free(struct fg_server *s)
{
    if (!s)
        return;
    if (s->registry)
        xmlrpc_registry_free(s->registry);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
