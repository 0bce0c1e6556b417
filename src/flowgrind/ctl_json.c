/* The controller's --json document (netgrind's addition). See ctl.h and doc/man/flowgrind.1.
 *
 * One object: "program", "version", "config" (the options as sent to the daemons),
 * "daemons", "flows" (per flow and endpoint: every interval report and the final one),
 * "stale_reports_ignored", "interrupted", and "error" when the run failed. Units are in the
 * keys; counts are integers; a statistic without samples is null. */

#include "flowgrind/ctl.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/json.h"

/* The distribution's name; "unknown" for a code outside the protocol's. */
static const char *dist_code_name(int32_t code)
{
    enum dist_kind kind;
    return fg_rpc_dist_kind(code, &kind) ? dist_name(kind) : "unknown";
}

static void json_dist(struct json *j, const char *key, const struct fg_dist_param *p)
{
    json_key(j, key);
    json_object_begin(j);
    json_kv_string(j, "distribution", dist_code_name(p->distribution));
    json_kv_double(j, "param_one", p->param_one);
    json_kv_double(j, "param_two", p->param_two);
    json_object_end(j);
}

static void json_config_endpoint(struct json *j, const struct fg_opts_endpoint *oe)
{
    const struct fg_endpoint_settings *s = &oe->s;
    json_object_begin(j);
    json_kv_string(j, "url", oe->url);
    json_kv_string(j, "test_address", oe->host.test);
    json_kv_string(j, "label", oe->label);
    json_kv_double(j, "write_delay_s", s->write_delay);
    json_kv_double(j, "write_duration_s", s->write_duration);
    json_kv_double(j, "read_delay_s", s->read_delay);
    json_kv_double(j, "read_duration_s", s->read_duration);
    json_kv_double(j, "reporting_interval_s", s->reporting_interval);
    json_kv_i64(j, "requested_send_buffer_bytes", s->requested_send_buffer_size);
    json_kv_i64(j, "requested_read_buffer_bytes", s->requested_read_buffer_size);
    json_kv_i64(j, "maximum_block_size_bytes", s->maximum_block_size);
    json_kv_i64(j, "write_rate_bytes_per_s", s->write_rate);
    if (oe->rate_text[0])
        json_kv_string(j, "rate", oe->rate_text);
    json_kv_u64(j, "random_seed", s->random_seed);
    json_dist(j, "request_size_bytes", &s->request);
    json_dist(j, "response_size_bytes", &s->response);
    json_dist(j, "gap_s", &s->gap);
    json_kv_bool(j, "traffic_dump", s->traffic_dump);
    json_kv_bool(j, "so_debug", s->so_debug);
    json_kv_bool(j, "route_record", s->route_record);
    json_kv_bool(j, "pushy", s->pushy);
    json_kv_bool(j, "shutdown", s->shutdown);
    json_kv_bool(j, "flow_control", s->flow_control);
    json_kv_bool(j, "byte_counting", s->byte_counting);
    json_kv_bool(j, "cork", s->cork != 0);
    json_kv_bool(j, "nodelay", s->nonagle != 0);
    json_kv_string(j, "cc_alg", s->cc_alg);
    json_kv_bool(j, "elcn", s->elcn != 0);
    json_kv_bool(j, "lcd", s->lcd != 0);
    json_kv_bool(j, "mtcp", s->mtcp != 0);
    json_kv_i64(j, "dscp", s->dscp);
    json_kv_bool(j, "ipmtudiscover", s->ipmtudiscover != 0);
    json_kv_string(j, "dump_prefix", s->dump_prefix);
    json_object_end(j);
}

static void json_config(struct json *j, const struct fg_opts *o)
{
    json_key(j, "config");
    json_object_begin(j);
    json_kv_i64(j, "flows", o->n_flows);
    json_kv_double(j, "report_interval_s", o->interval_s);
    json_kv_string(j, "throughput_unit", o->table.mib ? "MiB/s" : "Mbit/s");
    json_kv_bool(j, "log_to_file", o->log_to_file);
    json_key(j, "flow_settings");
    json_array_begin(j);
    for (int i = 0; i < o->n_flows; i++) {
        const struct fg_opts_flow *f = &o->flows[i];
        json_object_begin(j);
        json_kv_i64(j, "flow_id", i);
        json_kv_bool(j, "late_connect", f->late_connect);
        json_kv_bool(j, "summary_only", f->quiet);
        json_key(j, "source");
        json_config_endpoint(j, &f->ep[FG_SOURCE]);
        json_key(j, "destination");
        json_config_endpoint(j, &f->ep[FG_DESTINATION]);
        json_object_end(j);
    }
    json_array_end(j);
    json_object_end(j);
}

static void json_daemons(struct json *j, const struct ctl_run *run)
{
    json_key(j, "daemons");
    json_array_begin(j);
    for (size_t d = 0; d < run->n_daemons; d++) {
        const struct ctl_daemon *dm = &run->daemons[d];
        json_object_begin(j);
        json_kv_string(j, "url", dm->url);
        json_kv_string(j, "uuid", dm->uuid);
        if (dm->have_version) {
            json_kv_string(j, "version", dm->version.version);
            json_kv_i64(j, "api_version", dm->version.api_version);
            json_kv_string(j, "os_name", dm->version.os_name);
            json_kv_string(j, "os_release", dm->version.os_release);
        }
        json_object_end(j);
    }
    json_array_end(j);
}

/* Milliseconds to the nanosecond: the daemons' clocks give no more, and 0.011391 reads
 * better than 0.011391000000000007. */
static void json_kv_ms(struct json *j, const char *key, double ms)
{
    json_kv_double(j, key, round(ms * 1e6) / 1e6);
}

static void json_stat(struct json *j, const char *key, const struct fg_table_stat *st)
{
    json_key(j, key);
    if (st->samples == 0 || st->min_s >= FLT_MAX) {
        json_null(j);
        return;
    }
    json_object_begin(j);
    json_kv_ms(j, "min", st->min_s * 1e3);
    json_kv_ms(j, "avg", st->sum_s / (double)st->samples * 1e3);
    json_kv_ms(j, "max", st->max_s * 1e3);
    json_kv_u64(j, "samples", st->samples);
    json_object_end(j);
}

static void json_tcp_info(struct json *j, const struct fg_report *r)
{
    json_key(j, "tcp_info");
    json_object_begin(j);
    json_kv_u64(j, "snd_cwnd", r->tcpi.snd_cwnd);
    json_kv_u64(j, "snd_ssthresh", r->tcpi.snd_ssthresh);
    json_kv_u64(j, "unacked", r->tcpi.unacked);
    json_kv_u64(j, "sacked", r->tcpi.sacked);
    json_kv_u64(j, "lost", r->tcpi.lost);
    json_kv_u64(j, "retrans", r->tcpi.retrans);
    json_kv_u64(j, "retransmits", r->tcpi.retransmits);
    json_kv_u64(j, "fackets", r->tcpi.fackets);
    json_kv_u64(j, "reordering", r->tcpi.reordering);
    json_kv_u64(j, "backoff", r->tcpi.backoff);
    json_kv_double(j, "rtt_ms", r->tcpi.rtt / 1e3);
    json_kv_double(j, "rttvar_ms", r->tcpi.rttvar / 1e3);
    json_kv_double(j, "rto_ms", r->tcpi.rto / 1e3);
    json_kv_string(j, "ca_state", fg_table_ca_state_name(r->tcpi.ca_state));
    json_kv_u64(j, "snd_mss_bytes", r->tcpi.snd_mss);
    json_object_end(j);
}

/* per second over d seconds; 0 for a span of no length (JSON has no infinity) */
static double rate(double count, double d)
{
    return d > 0 ? count / d : 0.0;
}

/* One report. span_s divides the counters: the report's own length for an interval
 * report, the summary's max(real read, real write) time for the final one (spec §7.3). */
static void json_report(struct json *j, const struct ctl_endpoint *ep, const struct fg_report *r,
                        bool first_blocks, double span_s)
{
    struct fg_table_stat rtt, iat, delay;
    char rd[2], wr[2];
    ctl_report_stats(r, first_blocks, &rtt, &iat, &delay);
    ctl_status_letters(r->status, rd, wr);

    json_object_begin(j);
    json_kv_double(j, "begin_s", ctl_ts_diff(&ep->first_begin, &r->begin));
    json_kv_double(j, "end_s", ctl_ts_diff(&ep->first_begin, &r->end));
    json_kv_double(j, "begin_unix_s", (double)r->begin.tv_sec + r->begin.tv_nsec / 1e9);
    json_kv_double(j, "end_unix_s", (double)r->end.tv_sec + r->end.tv_nsec / 1e9);
    json_kv_u64(j, "bytes_written", r->bytes_written);
    json_kv_u64(j, "bytes_read", r->bytes_read);
    json_kv_double(j, "throughput_written_mbit_per_s",
                   rate((double)r->bytes_written, span_s) * 8 / 1e6);
    json_kv_double(j, "throughput_read_mbit_per_s", rate((double)r->bytes_read, span_s) * 8 / 1e6);
    json_kv_u64(j, "request_blocks_written", r->request_blocks_written);
    json_kv_u64(j, "request_blocks_read", r->request_blocks_read);
    json_kv_u64(j, "response_blocks_written", r->response_blocks_written);
    json_kv_u64(j, "response_blocks_read", r->response_blocks_read);
    json_kv_double(j, "transactions_per_s", rate((double)r->response_blocks_read, span_s));
    json_stat(j, "rtt_ms", &rtt);
    json_stat(j, "iat_ms", &iat);
    json_stat(j, "delay_ms", &delay);
    json_kv_bool(j, "sample_counts_from_daemon", r->iat_samples >= 0);
    json_kv_i64(j, "pmtu_bytes", r->pmtu);
    json_kv_i64(j, "interface_mtu_bytes", r->imtu);
    json_tcp_info(j, r);
    json_kv_string(j, "read_state", rd);
    json_kv_string(j, "write_state", wr);
    json_object_end(j);
}

static double final_span(const struct fg_summary *s)
{
    double real_write = s->write_duration_s != 0 ? s->report_time_s - s->write_delay_s : 0;
    double real_read = s->read_duration_s != 0 ? s->report_time_s - s->read_delay_s : 0;
    return real_write > real_read ? real_write : real_read;
}

static void json_endpoint(struct json *j, const struct ctl_run *run, size_t flow, int e)
{
    const struct ctl_endpoint *ep = &run->flows[flow].ep[e];
    json_object_begin(j);
    if (ep->daemon < run->n_daemons)
        json_kv_string(j, "daemon_url", run->daemons[ep->daemon].url);
    json_kv_bool(j, "created", ep->created);
    json_kv_i64(j, "real_send_buffer_bytes", ep->real_sbuf);
    json_kv_i64(j, "real_read_buffer_bytes", ep->real_rbuf);
    if (e == FG_SOURCE && ep->cc_alg[0])
        json_kv_string(j, "cc_alg", ep->cc_alg);
    json_key(j, "intervals");
    json_array_begin(j);
    uint64_t blocks_before = 0;
    for (size_t k = 0; k < ep->n_intervals; k++) {
        const struct fg_report *r = &ep->intervals[k];
        json_report(j, ep, r, blocks_before == 0, ctl_ts_diff(&r->begin, &r->end));
        blocks_before += r->request_blocks_read;
    }
    json_array_end(j);
    json_key(j, "final");
    if (ep->have_final) {
        struct fg_summary s;
        ctl_summary_fill(run, flow, e, &s);
        json_report(j, ep, &ep->final, true, final_span(&s));
    } else {
        json_null(j);
    }
    json_object_end(j);
}

static void json_flows(struct json *j, const struct ctl_run *run)
{
    json_key(j, "flows");
    json_array_begin(j);
    for (int i = 0; i < run->opts->n_flows; i++) {
        json_object_begin(j);
        json_kv_i64(j, "flow_id", i);
        json_key(j, "source");
        json_endpoint(j, run, (size_t)i, FG_SOURCE);
        json_key(j, "destination");
        json_endpoint(j, run, (size_t)i, FG_DESTINATION);
        json_object_end(j);
    }
    json_array_end(j);
}

int ctl_json_write(const struct ctl_run *run, FILE *out)
{
    struct json j;
    json_init(&j, out, true);
    json_object_begin(&j);
    json_kv_string(&j, "program", "flowgrind");
    json_kv_string(&j, "version", FG_RPC_VERSION);
    json_config(&j, run->opts);
    json_daemons(&j, run);
    json_flows(&j, run);
    json_kv_u64(&j, "stale_reports_ignored", run->stale_reports);
    json_kv_bool(&j, "interrupted", run->interrupted);
    if (run->error[0])
        json_kv_string(&j, "error", run->error);
    json_object_end(&j);
    return json_finish(&j);
}
