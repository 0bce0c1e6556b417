/* The controller's run state: daemon registry, report matching, rows and summaries.
 * Pure (no I/O); see ctl.h. */

#include "flowgrind/ctl.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

int ctl_run_init(struct ctl_run *run, const struct fg_opts *o, bool keep_reports)
{
    memset(run, 0, sizeof(*run));
    run->opts = o;
    run->keep_reports = keep_reports;
    run->flows = calloc((size_t)o->n_flows, sizeof(*run->flows));
    return run->flows ? 0 : -ENOMEM;
}

void ctl_run_free(struct ctl_run *run)
{
    if (run->flows)
        for (int i = 0; i < run->opts->n_flows; i++)
            for (int e = 0; e < 2; e++)
                free(run->flows[i].ep[e].intervals);
    free(run->flows);
    free(run->daemons);
    free(run->urls);
    memset(run, 0, sizeof(*run));
}

int ctl_collect_urls(struct ctl_run *run)
{
    size_t cap = 2 * (size_t)run->opts->n_flows;
    run->urls = calloc(cap, sizeof(*run->urls));
    run->daemons = calloc(cap, sizeof(*run->daemons));
    if (!run->urls || !run->daemons)
        return -ENOMEM;
    run->n_urls = 0;
    for (int i = 0; i < run->opts->n_flows; i++) {
        for (int e = FG_SOURCE; e <= FG_DESTINATION; e++) {
            const char *url = run->opts->flows[i].ep[e].url;
            size_t u = 0;
            while (u < run->n_urls && strcmp(run->urls[u].url, url) != 0)
                u++;
            if (u == run->n_urls)
                run->urls[run->n_urls++].url = url;
            run->flows[i].ep[e].url = u;
        }
    }
    return (int)run->n_urls;
}

long ctl_add_daemon(struct ctl_run *run, size_t url_index, const char *uuid)
{
    size_t d = 0;
    while (d < run->n_daemons && strcmp(run->daemons[d].uuid, uuid) != 0)
        d++;
    if (d == run->n_daemons) {
        struct ctl_daemon *nd = &run->daemons[run->n_daemons++];
        memset(nd, 0, sizeof(*nd));
        snprintf(nd->url, sizeof(nd->url), "%s", run->urls[url_index].url);
        snprintf(nd->uuid, sizeof(nd->uuid), "%s", uuid);
    }
    run->urls[url_index].daemon = d;
    return (long)d;
}

void ctl_assign_endpoints(struct ctl_run *run)
{
    for (int i = 0; i < run->opts->n_flows; i++)
        for (int e = 0; e < 2; e++)
            run->flows[i].ep[e].daemon = run->urls[run->flows[i].ep[e].url].daemon;
}

static bool os_is(const struct ctl_daemon *d, const char *name)
{
    return d->have_version && strcmp(d->version.os_name, name) == 0;
}

void ctl_table_opts(const struct ctl_run *run, struct fg_table_opts *t)
{
    *t = run->opts->table;
    t->any_linux = false;
    t->any_freebsd = false;
    for (size_t d = 0; d < run->n_daemons; d++) {
        t->any_linux |= os_is(&run->daemons[d], "Linux");
        t->any_freebsd |= os_is(&run->daemons[d], "FreeBSD");
    }
    switch (run->opts->tcp_stack) {
    case FG_TCP_STACK_BYTE:
        t->kernel_bytes = true;
        break;
    case FG_TCP_STACK_SEGMENT:
        t->kernel_bytes = false;
        break;
    default:
        t->kernel_bytes = run->n_daemons > 0 && !os_is(&run->daemons[0], "Linux");
        break;
    }
}

double ctl_ts_diff(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void fill_stat(struct fg_table_stat *st, double min, double max, double sum, int64_t sent,
                      uint64_t estimate)
{
    st->min_s = min;
    st->max_s = max;
    st->sum_s = sum;
    st->samples = sent >= 0 ? (uint64_t)sent : estimate;
}

void ctl_report_stats(const struct fg_report *r, bool first_blocks, struct fg_table_stat *rtt,
                      struct fg_table_stat *iat, struct fg_table_stat *delay)
{
    uint64_t blocks = r->request_blocks_read;
    /* the flow's very first block has no predecessor, so no IAT sample (spec §5.2) */
    uint64_t iat_estimate = first_blocks && blocks > 0 ? blocks - 1 : blocks;
    fill_stat(rtt, r->rtt_min, r->rtt_max, r->rtt_sum, r->rtt_samples, r->response_blocks_read);
    fill_stat(iat, r->iat_min, r->iat_max, r->iat_sum, r->iat_samples, iat_estimate);
    fill_stat(delay, r->delay_min, r->delay_max, r->delay_sum, r->delay_samples, blocks);
}

static void fill_row(const struct ctl_endpoint *ep, const struct fg_report *r, bool first_blocks,
                     struct fg_table_report *row)
{
    memset(row, 0, sizeof(*row));
    row->flow_id = r->id;
    row->source = r->endpoint == FG_SOURCE;
    row->begin_s = ctl_ts_diff(&ep->first_begin, &r->begin);
    row->end_s = ctl_ts_diff(&ep->first_begin, &r->end);
    row->bytes_written = r->bytes_written;
    row->request_blocks_written = r->request_blocks_written;
    row->response_blocks_written = r->response_blocks_written;
    row->response_blocks_read = r->response_blocks_read;
    ctl_report_stats(r, first_blocks, &row->rtt, &row->iat, &row->delay);
    row->cwnd = r->tcpi.snd_cwnd;
    row->ssthresh = r->tcpi.snd_ssthresh;
    row->unacked = r->tcpi.unacked;
    row->sacked = r->tcpi.sacked;
    row->lost = r->tcpi.lost;
    row->retrans = r->tcpi.retrans;
    row->retransmits = r->tcpi.retransmits;
    row->fackets = r->tcpi.fackets;
    row->reordering = r->tcpi.reordering;
    row->backoff = r->tcpi.backoff;
    row->rtt_us = r->tcpi.rtt;
    row->rttvar_us = r->tcpi.rttvar;
    row->rto_us = r->tcpi.rto;
    row->ca_state = r->tcpi.ca_state;
    row->snd_mss = r->tcpi.snd_mss;
    row->pmtu = r->pmtu > 0 ? (uint32_t)r->pmtu : 0;
}

static void keep_interval(struct ctl_endpoint *ep, const struct fg_report *r)
{
    if (ep->n_intervals == ep->cap_intervals) {
        size_t cap = ep->cap_intervals ? 2 * ep->cap_intervals : 16;
        struct fg_report *n = realloc(ep->intervals, cap * sizeof(*n));
        if (!n)
            return; /* the JSON document then lacks the rest; the text output is complete */
        ep->intervals = n;
        ep->cap_intervals = cap;
    }
    ep->intervals[ep->n_intervals++] = *r;
}

enum ctl_accept ctl_accept_report(struct ctl_run *run, size_t daemon, const struct fg_report *r,
                                  struct fg_table_report *row)
{
    if (r->id < 0 || r->id >= run->opts->n_flows ||
        (r->endpoint != FG_SOURCE && r->endpoint != FG_DESTINATION) ||
        (r->type != FG_REPORT_INTERVAL && r->type != FG_REPORT_FINAL)) {
        run->stale_reports++;
        return CTL_STALE;
    }
    struct ctl_endpoint *ep = &run->flows[r->id].ep[r->endpoint];
    if (!ep->created || ep->daemon != daemon || ep->have_final) {
        run->stale_reports++;
        return CTL_STALE;
    }
    if (!ep->have_first) {
        ep->first_begin = r->begin;
        ep->have_first = true;
    }
    if (r->type == FG_REPORT_FINAL) {
        ep->final = *r;
        ep->have_final = true;
        return CTL_FINAL;
    }
    fill_row(ep, r, ep->blocks_read_before == 0, row);
    ep->blocks_read_before += r->request_blocks_read;
    if (run->keep_reports)
        keep_interval(ep, r);
    return CTL_INTERVAL;
}

void ctl_summary_fill(const struct ctl_run *run, size_t flow, int endpoint, struct fg_summary *s)
{
    const struct fg_opts_flow *of = &run->opts->flows[flow];
    const struct fg_opts_endpoint *oe = &of->ep[endpoint];
    const struct ctl_endpoint *ep = &run->flows[flow].ep[endpoint];
    const struct fg_report *f = &ep->final;

    memset(s, 0, sizeof(*s));
    s->flow_id = (int)flow;
    s->source = endpoint == FG_SOURCE;
    s->have_final = ep->have_final;
    if (!s->have_final)
        return;
    s->test_address = oe->host.test;
    s->control_address = oe->host.control;
    s->control_port = oe->host.port;
    if (ep->daemon < run->n_daemons && run->daemons[ep->daemon].have_version) {
        s->os_name = run->daemons[ep->daemon].version.os_name;
        s->os_release = run->daemons[ep->daemon].version.os_release;
    }
    s->random_seed = oe->s.random_seed;
    s->sbuf_real = ep->real_sbuf;
    s->sbuf_req = oe->s.requested_send_buffer_size;
    s->rbuf_real = ep->real_rbuf;
    s->rbuf_req = oe->s.requested_read_buffer_size;
    s->smss = (int)f->tcpi.snd_mss;
    s->pmtu = f->pmtu;
    s->imtu = f->imtu;
    s->cc = oe->cc_given ? oe->s.cc_alg : NULL;
    s->write_duration_s = oe->s.write_duration;
    s->write_delay_s = oe->s.write_delay;
    s->read_duration_s = oe->s.read_duration;
    s->read_delay_s = oe->s.read_delay;
    s->report_time_s = ctl_ts_diff(&f->begin, &f->end);
    s->bytes_written = f->bytes_written;
    s->bytes_read = f->bytes_read;
    s->request_blocks_written = f->request_blocks_written;
    s->request_blocks_read = f->request_blocks_read;
    s->response_blocks_written = f->response_blocks_written;
    s->response_blocks_read = f->response_blocks_read;
    ctl_report_stats(f, true, &s->rtt, &s->iat, &s->delay);
    s->mib = run->opts->table.mib;
    s->rate = oe->rate_text[0] ? oe->rate_text : NULL;
    s->elcn = oe->s.elcn != 0;
    s->cork = oe->s.cork != 0;
    s->pushy = oe->s.pushy;
    s->nodelay = oe->s.nonagle != 0;
    s->mtcp = oe->s.mtcp != 0;
    s->late_connect = of->late_connect;
    s->shutdown = oe->s.shutdown;
    s->dscp = oe->s.dscp;
}

double ctl_expected_duration(const struct fg_opts *o)
{
    double longest = 0;
    for (int i = 0; i < o->n_flows; i++) {
        for (int e = 0; e < 2; e++) {
            const struct fg_endpoint_settings *s = &o->flows[i].ep[e].s;
            double w = s->write_delay + s->write_duration;
            double r = s->read_delay + s->read_duration;
            if (w > longest)
                longest = w;
            if (r > longest)
                longest = r;
        }
    }
    return longest;
}

size_t ctl_unfinished(const struct ctl_run *run)
{
    size_t n = 0;
    for (int i = 0; i < run->opts->n_flows; i++)
        for (int e = 0; e < 2; e++)
            n += run->flows[i].ep[e].created && !run->flows[i].ep[e].have_final;
    return n;
}

bool ctl_daemon_busy(const struct ctl_run *run, size_t d)
{
    for (int i = 0; i < run->opts->n_flows; i++)
        for (int e = 0; e < 2; e++) {
            const struct ctl_endpoint *ep = &run->flows[i].ep[e];
            if (ep->daemon == d && ep->created && !ep->have_final)
                return true;
        }
    return false;
}

static void letter(int v, char out[2])
{
    out[0] = v >= 0x20 && v < 0x7f ? (char)v : '?';
    out[1] = '\0';
}

void ctl_status_letters(int32_t status, char read_state[2], char write_state[2])
{
    letter((status >> 8) & 0xff, read_state);
    letter(status & 0xff, write_state);
}
