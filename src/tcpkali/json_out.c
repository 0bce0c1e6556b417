/* tcpkali's JSON shapes (see json_out.h). */
#include "tcpkali/json_out.h"

#include <stdint.h>

#include "core/report.h"
#include "core/sock.h"
#include "core/util.h"

static void kv_seconds_or_null(struct json *j, const char *key, uint64_t ns, bool is_set)
{
    json_key(j, key);
    if (!is_set || ns == UINT64_MAX)
        json_null(j);
    else
        json_double(j, (double)ns / 1e9);
}

static void kv_string_n_or_null(struct json *j, const char *key, const char *s, size_t n)
{
    json_key(j, key);
    if (s)
        json_string_n(j, s, n);
    else
        json_null(j);
}

static const char *listen_mode_name(enum tk_listen_mode m)
{
    switch (m) {
    case TK_LISTEN_ACTIVE:
        return "active";
    case TK_LISTEN_ECHO:
        return "echo";
    case TK_LISTEN_SILENT:
        break;
    }
    return "silent";
}

static void config_messages(struct json *j, const struct tk_config *c)
{
    json_key(j, "messages");
    json_array_begin(j);
    for (size_t i = 0; i < c->nmsgs; i++) {
        const struct tk_msg_arg *m = &c->msgs[i];
        json_object_begin(j);
        json_kv_string(j, "kind", m->kind == TK_MSG_FIRST ? "first" : "repeat");
        json_kv_u64(j, "bytes", m->len);
        json_kv_bool(j, "unescape", m->unescape);
        json_key(j, "file");
        json_string(j, m->from_file ? m->file_name : NULL);
        json_object_end(j);
    }
    json_array_end(j);
}

static void config_addresses(struct json *j, const struct tk_opts *o)
{
    const struct tk_config *c = &o->cfg;
    char buf[SOCK_ADDR_STRLEN + 4];
    json_key(j, "destinations");
    json_array_begin(j);
    for (size_t i = 0; i < o->ndest_args; i++)
        json_string(j, o->dest_args[i]);
    json_array_end(j);
    json_key(j, "destination_addresses");
    json_array_begin(j);
    for (size_t i = 0; i < c->ndests; i++)
        json_string(j, tk_addr_format(&c->dests[i].addr, buf, sizeof buf));
    json_array_end(j);
    json_key(j, "listen_addresses");
    json_array_begin(j);
    for (size_t i = 0; i < c->listen_addrs.n; i++)
        json_string(j, tk_addr_format(&c->listen_addrs.v[i], buf, sizeof buf));
    json_array_end(j);
    json_key(j, "source_ips");
    json_array_begin(j);
    for (size_t i = 0; i < c->nsource_ips; i++) {
        sock_addr_host(&c->source_ips[i], buf, sizeof buf);
        json_string(j, buf);
    }
    json_array_end(j);
}

void tk_json_config(struct json *j, const struct tk_opts *o)
{
    const struct tk_config *c = &o->cfg;
    config_addresses(j, o);
    json_kv_u64(j, "connections", c->connections);
    json_kv_double(j, "connect_rate_per_s", c->connect_rate);
    kv_seconds_or_null(j, "connect_timeout_s", c->connect_timeout_ns, true);
    kv_seconds_or_null(j, "channel_lifetime_s", c->channel_lifetime_ns, c->channel_lifetime_set);
    json_key(j, "channel_bandwidth_upstream_Bps");
    if (c->bandwidth_up_Bps > 0)
        json_double(j, c->bandwidth_up_Bps);
    else
        json_null(j);
    json_key(j, "channel_bandwidth_downstream_Bps");
    if (c->bandwidth_down_Bps >= 0)
        json_double(j, c->bandwidth_down_Bps);
    else
        json_null(j);
    kv_seconds_or_null(j, "duration_s", c->duration_ns, true);
    json_kv_u64(j, "workers", c->workers);
    json_key(j, "listen_port");
    if (c->listen)
        json_u64(j, c->listen_port);
    else
        json_null(j);
    json_kv_string(j, "listen_mode", listen_mode_name(c->listen_mode));
    json_kv_bool(j, "websocket", c->websocket);
    json_key(j, "headers");
    json_array_begin(j);
    for (size_t i = 0; i < c->nheaders; i++)
        json_string(j, c->headers[i]);
    json_array_end(j);
    json_kv_bool(j, "ssl", c->ssl);
    json_kv_string(j, "ssl_cert", c->ssl_cert);
    json_kv_string(j, "ssl_key", c->ssl_key);
    json_key(j, "nagle");
    if (c->nagle < 0)
        json_null(j);
    else
        json_bool(j, c->nagle == 1);
    json_kv_bool(j, "write_combine", c->write_combine);
    json_kv_i64(j, "rcvbuf_bytes", c->rcvbuf);
    json_kv_i64(j, "sndbuf_bytes", c->sndbuf);
    config_messages(j, c);
    json_key(j, "message_rate_per_s");
    if (c->message_rate > 0 && !c->rate_search)
        json_double(j, c->message_rate);
    else
        json_null(j);
    json_key(j, "message_rate_search_latency_ms");
    if (c->rate_search)
        json_double(j, (double)c->rate_search_target_ns / 1e6);
    else
        json_null(j);
    kv_string_n_or_null(j, "message_stop", c->message_stop, c->message_stop_len);
    json_kv_bool(j, "closed_loop", c->closed_loop);
    json_kv_bool(j, "latency_connect", c->latency_connect);
    json_kv_bool(j, "latency_first_byte", c->latency_first_byte);
    kv_string_n_or_null(j, "latency_marker", c->latency_marker, c->latency_marker_len);
    json_kv_u64(j, "latency_marker_skip", c->latency_marker_skip);
    json_kv_bool(j, "message_marker", c->message_marker);
    json_key(j, "latency_percentiles");
    json_array_begin(j);
    for (size_t i = 0; i < c->npercentiles; i++)
        json_string(j, c->percentiles[i].label);
    json_array_end(j);
    json_kv_i64(j, "verbose", c->verbose);
    json_kv_bool(j, "statsd", c->statsd);
    json_kv_string(j, "statsd_host", c->statsd_host);
    json_kv_u64(j, "statsd_port", c->statsd_port);
    json_kv_string(j, "statsd_namespace", c->statsd_namespace);
    kv_seconds_or_null(j, "statsd_latency_window_s", c->statsd_latency_window_ns,
                       c->statsd_latency_window_ns != 0);
}

/* "transport": WebSocket frames received and failed handshakes by cause (every cause,
 * zero or not, so the keys are always there). */
static void transport_figures(struct json *j, const struct tk_counters *d)
{
    uint64_t total = 0;
    for (int i = 0; i < TK_HSF_COUNT; i++)
        total += d->hs_failures[i];
    json_key(j, "transport");
    json_object_begin(j);
    json_kv_u64(j, "ws_frames_rcvd", d->ws_frames_rcvd);
    json_key(j, "handshake_failures");
    json_object_begin(j);
    json_kv_u64(j, "total", total);
    for (int i = 0; i < TK_HSF_COUNT; i++)
        json_kv_u64(j, tk_hs_fail_name((enum tk_hs_fail)i), d->hs_failures[i]);
    json_object_end(j);
    json_object_end(j);
}

static void counters(struct json *j, const struct tk_counters *d)
{
    json_kv_u64(j, "bytes_sent", d->bytes_sent);
    json_kv_u64(j, "bytes_rcvd", d->bytes_rcvd);
    json_kv_u64(j, "writes", d->writes);
    json_kv_u64(j, "reads", d->reads);
    json_kv_u64(j, "msgs_sent", d->msgs_sent);
    json_kv_u64(j, "msgs_rcvd", d->msgs_rcvd);
    json_kv_u64(j, "transactions", d->transactions);
    transport_figures(j, d);
}

static void connections(struct json *j, const struct tk_counters *d)
{
    json_kv_u64(j, "open_in", d->conns_in);
    json_kv_u64(j, "open_out", d->conns_out);
    json_kv_u64(j, "connecting", d->conns_connecting);
    json_kv_u64(j, "seen", d->conns_seen);
    json_kv_u64(j, "initiated", d->conns_initiated);
    json_kv_u64(j, "accepted", d->conns_accepted);
    json_key(j, "connect_failures");
    json_object_begin(j);
    json_kv_u64(j, "total", d->connect_failures);
    json_kv_u64(j, "refused", d->connect_refused);
    json_kv_u64(j, "timed_out", d->connect_timeouts);
    json_kv_u64(j, "other", d->connect_other_errors);
    json_object_end(j);
    json_key(j, "closed");
    json_object_begin(j);
    json_kv_u64(j, "by_peer", d->conns_closed_by_peer);
    json_kv_u64(j, "reset_or_error", d->conns_reset);
    json_kv_u64(j, "lifetime_ended", d->conns_lifetime_ended);
    json_object_end(j);
    json_kv_u64(j, "accept_errors", d->accept_errors);
}

void tk_json_interval(struct json *j, const struct tk_json_interval *iv)
{
    double dt = iv->end_s - iv->start_s;
    json_kv_string(j, "phase", iv->phase);
    json_kv_double(j, "start_s", iv->start_s);
    json_kv_double(j, "end_s", iv->end_s);
    counters(j, &iv->d);
    json_kv_double(j, "bandwidth_in_Mbps", dt > 0 ? 8.0 * (double)iv->d.bytes_rcvd / dt / 1e6 : 0);
    json_kv_double(j, "bandwidth_out_Mbps", dt > 0 ? 8.0 * (double)iv->d.bytes_sent / dt / 1e6 : 0);
    json_key(j, "connections");
    json_object_begin(j);
    connections(j, &iv->d);
    json_object_end(j);
}

static double rate(double v, double s)
{
    return s > 0 ? v / s : 0;
}

static void latency(struct json *j, const char *key, const struct hist *h,
                    const struct tk_summary *s)
{
    if (!h)
        return;
    double pcts[TK_MAX_PERCENTILES];
    for (size_t i = 0; i < s->npcts && i < TK_MAX_PERCENTILES; i++)
        pcts[i] = s->pcts[i].value;
    json_key(j, key);
    report_json_hist_pcts(j, h, REPORT_UNIT_MS, pcts, s->npcts);
}

void tk_json_summary(struct json *j, const struct tk_summary *s, const struct tk_counters *total,
                     uint64_t max_open)
{
    double d = s->duration_s;
    double all = (double)s->bytes_sent + (double)s->bytes_rcvd;
    double ch = s->channels ? (double)s->channels : 1;
    json_kv_double(j, "duration_s", d);
    counters(j, total);
    json_kv_u64(j, "channels", s->channels ? s->channels : 1);
    json_kv_double(j, "bandwidth_per_channel_Mbps", rate(8 * all, d) / ch / 1e6);
    json_kv_double(j, "bandwidth_per_channel_kBps", rate(all, d) / ch / 1e3);
    json_kv_double(j, "bandwidth_in_Mbps", rate(8.0 * (double)s->bytes_rcvd, d) / 1e6);
    json_kv_double(j, "bandwidth_out_Mbps", rate(8.0 * (double)s->bytes_sent, d) / 1e6);
    json_kv_double(j, "message_rate_in_per_s", rate((double)s->msgs_rcvd, d));
    json_kv_double(j, "message_rate_out_per_s", rate((double)s->msgs_sent, d));
    json_kv_double(j, "transactions_per_s", rate((double)s->transactions, d));
    unsigned mi = tk_mss_per_op(s->bytes_rcvd, s->reads);
    unsigned mo = tk_mss_per_op(s->bytes_sent, s->writes);
    json_kv_u64(j, "mss_per_read", mi);
    json_kv_u64(j, "mss_per_write", mo);
    json_kv_double(j, "packet_rate_in_per_s", rate((double)mi * (double)s->reads, d));
    json_kv_double(j, "packet_rate_out_per_s", rate((double)mo * (double)s->writes, d));
    json_key(j, "connections");
    json_object_begin(j);
    json_kv_u64(j, "max_open", max_open);
    connections(j, total);
    json_object_end(j);
    json_key(j, "latency");
    json_object_begin(j);
    latency(j, "connect", s->lat_connect, s);
    latency(j, "first_byte", s->lat_first_byte, s);
    latency(j, "message", s->lat_message, s);
    json_object_end(j);
    json_kv_bool(j, "latency_from_intended_send_time", s->intended_time);
    /* How late -r sent its messages: the pacing error, which latency measured from the
     * intended send time includes. */
    static const double lag_pcts[] = {50, 90, 99, 99.9};
    json_key(j, "send_lag_us");
    if (s->send_lag)
        report_json_hist_pcts(j, s->send_lag, REPORT_UNIT_US, lag_pcts, ARRAY_LEN(lag_pcts));
    else
        json_null(j);
}
