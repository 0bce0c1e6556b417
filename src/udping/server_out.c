/* udping_server's emission: session timers, the original's JSON line, statsd (plain and
 * tag style), the --json document and the --json-stream events (see server.h and
 * doc/man/udping_server.1). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report.h"
#include "core/util.h"
#include "core/version.h"
#include "udping/server.h"

/* ---- timers ----------------------------------------------------------------------------- */

static struct udping_server *server_of(struct udping_session *s)
{
    return container_of(s->table, struct udping_server, table);
}

void udping_out_arm(struct udping_server *srv, struct udping_session *s)
{
    uint64_t d = udping_session_deadline(&srv->table, s);
    if (!loop_timer_armed(&s->timer) || s->timer.node.deadline_ns > d)
        loop_timer_arm(srv->loop, &s->timer, d);
}

/* A session's timer: emit if its deadline has come, else wait for the new one (packets
 * that came since it was armed moved it; re-arming per packet would cost a heap update
 * each). */
void udping_out_on_timer(struct loop *loop, struct loop_timer *t)
{
    struct udping_session *s = container_of(t, struct udping_session, timer);
    struct udping_server *srv = server_of(s);
    uint64_t d = udping_session_deadline(&srv->table, s);
    if (loop_now(loop) < d) {
        loop_timer_arm(loop, t, d);
        return;
    }
    udping_out_emit(srv, s, s->have_control ? UDPING_TRIGGER_GRACE : UDPING_TRIGGER_KEEPALIVE);
}

/* ---- text helpers ----------------------------------------------------------------------- */

void udping_out_underscore(char *dst, size_t size, const char *s)
{
    if (size == 0)
        return;
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        dst[i] = s[i] == '.' ? '_' : s[i];
    dst[i] = '\0';
}

/* The value of a JSON string: the original writes host names unescaped; netgrind escapes
 * the few bytes that would break the line (none appear in a host name or GUID). */
static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            putc(c, out);
    }
}

static void line_str(FILE *out, bool first, const char *key, const char *v)
{
    fprintf(out, "%s\"%s\":\"", first ? "{" : ",", key);
    put_escaped(out, v);
    putc('"', out);
}

static void line_u64(FILE *out, const char *key, uint64_t v)
{
    fprintf(out, ",\"%s\":\"%" PRIu64 "\"", key, v);
}

static void line_i64(FILE *out, const char *key, int64_t v)
{
    fprintf(out, ",\"%s\":\"%" PRId64 "\"", key, v);
}

/* C's %lf in the C locale, as the original prints sum, sumOfSquares and max. */
static void line_lf(FILE *out, const char *key, double v)
{
    char buf[400];
    report_snprintf(buf, sizeof buf, "%lf", v);
    fprintf(out, ",\"%s\":\"%s\"", key, buf);
}

static const char *ts_source(const struct udping_server *srv, const struct udping_summary *u)
{
    if (u->ts_user)
        return "user";
    if (u->ts_kernel)
        return "kernel";
    return srv->kernel_ts ? "kernel" : "user";
}

/* ---- the original's line ---------------------------------------------------------------- */

static void print_line(struct udping_server *srv, const struct udping_summary *u,
                       const char *from_host)
{
    FILE *out = stdout;
    line_str(out, true, "from_host", from_host);
    fprintf(out, ",\"from_port\":\"%u\"", sock_addr_port(&u->from));
    line_str(out, false, "to_host", srv->to_host);
    fprintf(out, ",\"to_port\":\"%u\"", srv->to_port);
    line_str(out, false, "guid", u->guid);
    line_u64(out, "count", u->count);
    line_u64(out, "targetCount", u->expected);
    line_lf(out, "sum", u->sum_ms);
    line_lf(out, "sumOfSquares", u->sumsq_ms);
    line_lf(out, "max", u->max_ms);
    /* netgrind's keys, after the original's */
    line_i64(out, "lost", u->lost);
    line_u64(out, "duplicates", u->duplicates);
    line_u64(out, "reordered", u->reordered);
    line_lf(out, "p50", u->p50_ms);
    line_lf(out, "p90", u->p90_ms);
    line_lf(out, "p99", u->p99_ms);
    line_lf(out, "p99_9", u->p99_9_ms);
    fprintf(out, ",\"ts_source\":\"%s\"", ts_source(srv, u));
    line_u64(out, "negative", u->negative);
    fputs("}\n", out);
    fflush(out);
}

/* ---- statsd ----------------------------------------------------------------------------- */

struct metric {
    const char *name;
    enum statsd_type type;
    char value[STATSD_VALUE_BUF];
    bool ok;
};

static void metric_values(const struct udping_summary *u, struct metric m[5])
{
    m[0] = (struct metric){.name = "count", .type = STATSD_COUNTER};
    m[1] = (struct metric){.name = "targetCount", .type = STATSD_COUNTER};
    m[2] = (struct metric){.name = "sum", .type = STATSD_COUNTER};
    m[3] = (struct metric){.name = "sos", .type = STATSD_COUNTER};
    m[4] = (struct metric){.name = "max", .type = STATSD_GAUGE};
    m[0].ok = statsd_fmt_u64(m[0].value, sizeof m[0].value, u->count) > 0;
    m[1].ok = statsd_fmt_u64(m[1].value, sizeof m[1].value, u->expected) > 0;
    m[2].ok = statsd_fmt_g(m[2].value, sizeof m[2].value, u->sum_ms) > 0;
    m[3].ok = statsd_fmt_g(m[3].value, sizeof m[3].value, u->sumsq_ms) > 0;
    m[4].ok = statsd_fmt_g(m[4].value, sizeof m[4].value, u->max_ms) > 0;
}

static void batch_line(struct udping_statsd_target *t, const char *line, int len)
{
    if (len > 0)
        statsd_batch_add(&t->batch, line, (size_t)len);
}

static void send_statsd(struct udping_server *srv, const struct udping_summary *u,
                        const char *from_host)
{
    if (!srv->plain.on && !srv->tagged.on)
        return;
    struct metric m[5];
    metric_values(u, m);
    char port[8], to_port[8], line[2048];
    snprintf(port, sizeof port, "%u", sock_addr_port(&u->from));
    snprintf(to_port, sizeof to_port, "%u", srv->to_port);
    if (srv->plain.on) {
        char prefix[2400];
        snprintf(prefix, sizeof prefix, "%s.%s.%s.%s", from_host, port, srv->to_host, to_port);
        for (int i = 0; i < 5; i++)
            if (m[i].ok)
                batch_line(&srv->plain,
                           line, statsd_line(line, sizeof line, prefix, m[i].name, m[i].value,
                                             m[i].type));
        statsd_batch_flush(&srv->plain.batch);
    }
    if (srv->tagged.on) {
        const struct statsd_tag tags[4] = {
            {"from_host", from_host},
            {"from_port", port},
            {"to_host", srv->to_host},
            {"to_port", to_port},
        };
        const char *metric = srv->cfg.metric ? srv->cfg.metric : "udping";
        for (int i = 0; i < 5; i++)
            if (m[i].ok)
                batch_line(&srv->tagged, line,
                           statsd_line_tagged(line, sizeof line, metric, m[i].name, tags, 4,
                                              m[i].value, m[i].type));
        statsd_batch_flush(&srv->tagged.batch);
    }
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void kv_ms(struct json *j, const char *key, double v, bool have)
{
    json_key(j, key);
    if (have)
        json_double(j, v);
    else
        json_null(j);
}

/* A session's members, into the object open now. */
static void json_session_members(struct json *j, const struct udping_server *srv,
                                 const struct udping_emitted *e)
{
    const struct udping_summary *u = &e->sum;
    bool have = u->count > 0;
    json_kv_string(j, "from_host", e->from_host);
    json_kv_string(j, "from_address", e->from_address);
    json_kv_u64(j, "from_port", sock_addr_port(&u->from));
    json_kv_string(j, "to_host", srv->to_host);
    json_kv_u64(j, "to_port", srv->to_port);
    json_kv_string(j, "guid", u->guid);
    json_kv_i64(j, "client_start", u->client_start);
    json_kv_string(j, "trigger", udping_trigger_name(u->trigger));
    json_kv_string(j, "expected_source", udping_expected_source_name(u->exp_source));
    json_kv_u64(j, "count", u->count);
    json_kv_u64(j, "expected", u->expected);
    json_key(j, "lost");
    if (u->exp_source == UDPING_EXP_NONE)
        json_null(j);
    else
        json_i64(j, u->lost);
    json_kv_u64(j, "duplicates", u->duplicates);
    json_kv_u64(j, "reordered", u->reordered);
    json_kv_u64(j, "unchecked", u->unchecked);
    json_kv_u64(j, "negative", u->negative);
    json_kv_string(j, "ts_source", ts_source(srv, u));
    json_kv_u64(j, "ts_kernel_packets", u->ts_kernel);
    json_kv_u64(j, "ts_user_packets", u->ts_user);
    kv_ms(j, "latency_sum_ms", u->sum_ms, true);
    kv_ms(j, "latency_sum_sq_ms2", u->sumsq_ms, true);
    kv_ms(j, "latency_min_ms", u->min_ms, have);
    kv_ms(j, "latency_mean_ms", u->mean_ms, have);
    kv_ms(j, "latency_max_ms", u->max_ms, have);
    kv_ms(j, "latency_p50_ms", u->p50_ms, have);
    kv_ms(j, "latency_p90_ms", u->p90_ms, have);
    kv_ms(j, "latency_p99_ms", u->p99_ms, have);
    kv_ms(j, "latency_p99_9_ms", u->p99_9_ms, have);
}

static void json_session(struct json *j, const struct udping_server *srv,
                         const struct udping_emitted *e)
{
    json_object_begin(j);
    json_session_members(j, srv, e);
    json_object_end(j);
}

static void keep_for_doc(struct udping_server *srv, const struct udping_emitted *e)
{
    if (srv->ndoc >= UDPING_DOC_SESSIONS_MAX) {
        srv->doc_omitted++;
        return;
    }
    if (srv->ndoc == srv->capdoc) {
        size_t cap = srv->capdoc ? srv->capdoc * 2 : 64;
        struct udping_emitted *v = realloc(srv->doc, cap * sizeof *v);
        if (!v) {
            srv->doc_omitted++;
            return;
        }
        srv->doc = v;
        srv->capdoc = cap;
    }
    struct udping_emitted *d = &srv->doc[srv->ndoc];
    *d = *e;
    d->from_host = strdup(e->from_host);
    if (!d->from_host) {
        srv->doc_omitted++;
        return;
    }
    srv->ndoc++;
}

/* ---- emission --------------------------------------------------------------------------- */

void udping_out_emit(struct udping_server *srv, struct udping_session *s,
                     enum udping_trigger trigger)
{
    loop_timer_cancel(srv->loop, &s->timer);
    struct udping_emitted e;
    memset(&e, 0, sizeof e);
    udping_table_close(&srv->table, s, trigger, &e.sum);
    const struct udping_summary *u = &e.sum;
    sock_addr_host(&u->from, e.from_address, sizeof e.from_address);
    char from_host[1100];
    const struct udping_name *name = u->host;
    udping_out_underscore(from_host, sizeof from_host,
                          name ? udping_name_text(name) : e.from_address);
    e.from_host = from_host;
    srv->emitted++;
    if (!srv->cfg.json && !srv->cfg.json_stream && !srv->cfg.quiet)
        print_line(srv, u, from_host);
    if (srv->cfg.json_stream) {
        report_event_begin(&srv->stream, "session");
        json_session_members(&srv->stream, srv, &e);
        report_event_end(&srv->stream);
    }
    if (srv->cfg.json)
        keep_for_doc(srv, &e);
    send_statsd(srv, u, from_host);
}

void udping_out_emit_all(struct udping_server *srv)
{
    /* Always take the oldest: emitting removes it, so nothing is erased under an iterator. */
    while (srv->table.head)
        udping_out_emit(srv, srv->table.head, UDPING_TRIGGER_EXIT);
}

void udping_out_listening(struct udping_server *srv)
{
    if (!srv->cfg.json_stream)
        return;
    report_event_begin(&srv->stream, "listening");
    json_kv_string(&srv->stream, "address", srv->bound_text);
    json_kv_string(&srv->stream, "to_host", srv->to_host);
    json_kv_u64(&srv->stream, "to_port", srv->to_port);
    report_event_end(&srv->stream);
}

static void json_config(struct json *j, const struct udping_server *srv)
{
    const struct udping_server_config *c = &srv->cfg;
    json_key(j, "config");
    json_object_begin(j);
    json_kv_string(j, "listen_host", c->listen_host);
    json_kv_u64(j, "port", c->port);
    json_kv_u64(j, "keepalive_s", c->keepalive);
    json_kv_string(j, "receive_hostname", c->recv_host);
    json_kv_string(j, "statsd", c->statsd);
    json_kv_string(j, "tag_statsd", c->tag_statsd);
    json_kv_string(j, "metric", c->metric ? c->metric : "udping");
    json_kv_bool(j, "verbose", c->verbose);
    json_kv_bool(j, "quiet", c->quiet);
    json_object_end(j);
}

static void json_counters(struct json *j, const struct udping_server *srv)
{
    const struct udping_table *t = &srv->table;
    json_key(j, "timestamps");
    json_object_begin(j);
    json_kv_bool(j, "kernel_enabled", srv->kernel_ts);
    json_kv_u64(j, "kernel_packets", srv->kernel_packets);
    json_kv_u64(j, "user_packets", srv->user_packets);
    json_object_end(j);
    json_kv_i64(j, "rcvbuf_bytes", srv->rcvbuf);
    json_key(j, "packets");
    json_object_begin(j);
    json_kv_u64(j, "received", srv->received);
    json_kv_u64(j, "data", t->data);
    json_kv_u64(j, "control", t->controls);
    json_kv_u64(j, "duplicates", t->duplicates);
    json_kv_u64(j, "late", t->late);
    json_kv_u64(j, "refused", t->refused + t->nomem);
    json_kv_u64(j, "socket_drops", srv->socket_drops);
    json_kv_u64(j, "receive_errors", srv->recv_errors);
    json_object_end(j);
    json_key(j, "malformed");
    json_object_begin(j);
    uint64_t total = 0;
    for (int k = 0; k <= UDPING_W_TIME; k++)
        total += srv->malformed[k];
    json_kv_u64(j, "total", total);
    json_kv_u64(j, "short", srv->malformed[UDPING_W_SHORT]);
    json_kv_u64(j, "size", srv->malformed[UDPING_W_SIZE]);
    json_kv_u64(j, "version", srv->malformed[UDPING_W_VERSION]);
    json_kv_u64(j, "guid", srv->malformed[UDPING_W_GUID]);
    json_kv_u64(j, "control", srv->malformed[UDPING_W_CONTROL]);
    json_kv_u64(j, "time", srv->malformed[UDPING_W_TIME]);
    json_object_end(j);
    json_kv_u64(j, "sessions_emitted", srv->emitted);
}

static void json_statsd(struct json *j, const struct udping_server *srv)
{
    json_key(j, "statsd");
    json_object_begin(j);
    json_kv_u64(j, "datagrams", srv->plain.batch.datagrams + srv->tagged.batch.datagrams);
    json_kv_u64(j, "errors", srv->plain.batch.send_errors + srv->tagged.batch.send_errors);
    json_object_end(j);
}

/* The members shared by the document and the stream's "end" event. */
static void json_members(struct json *j, struct udping_server *srv, bool sessions)
{
    bool configured = srv->table_ready;
    json_kv_string(j, "tool", UDPING_PROG);
    json_kv_string(j, "version", NETGRIND_VERSION);
    json_config(j, srv);
    if (configured) {
        json_kv_string(j, "listen", srv->bound_text);
        json_kv_string(j, "to_host", srv->to_host);
        json_kv_u64(j, "to_port", srv->to_port);
        json_counters(j, srv);
        if (sessions) {
            json_key(j, "sessions");
            json_array_begin(j);
            for (size_t i = 0; i < srv->ndoc; i++)
                json_session(j, srv, &srv->doc[i]);
            json_array_end(j);
            json_kv_u64(j, "sessions_omitted", srv->doc_omitted);
        }
        json_statsd(j, srv);
    }
    json_kv_string(j, "error", srv->error[0] ? srv->error : NULL);
    json_kv_i64(j, "exit_code", srv->exit_code);
}

void udping_out_final(struct udping_server *srv)
{
    if (srv->cfg.json_stream) {
        report_event_begin(&srv->stream, "end");
        json_members(&srv->stream, srv, false);
        report_event_end(&srv->stream);
    } else if (srv->cfg.json) {
        struct json j;
        json_init(&j, stdout, true);
        json_object_begin(&j);
        json_members(&j, srv, true);
        json_object_end(&j);
        json_finish(&j);
    }
    fflush(stdout);
}

void udping_out_free(struct udping_server *srv)
{
    for (size_t i = 0; i < srv->ndoc; i++)
        free(srv->doc[i].from_host);
    free(srv->doc);
    srv->doc = NULL;
    srv->ndoc = srv->capdoc = 0;
}
