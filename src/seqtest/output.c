/* seqtest's output: the Address lines, the original's summary and dump file, the
 * replier's summary, and the JSON document (see run.h and doc/man/seqtest.1). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/report.h"
#include "core/version.h"
#include "seqtest/run.h"
#include "seqtest/sender.h"

/* ---- collecting -------------------------------------------------------------------- */

/* Pools every worker's latency samples for the original's exact statistics, and merges
 * the histograms. */
static void merge_samples(struct seq_run *r)
{
    size_t n = 0;
    for (unsigned k = 0; k < r->nworkers; k++)
        n += r->sworkers[k].nlat;
    uint64_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t at = 0;
    for (unsigned k = 0; k < r->nworkers; k++) {
        struct seq_sworker *w = &r->sworkers[k];
        if (all && w->nlat) /* w->lat is NULL when the worker has no sample */
            memcpy(all + at, w->lat, w->nlat * sizeof *all);
        at += w->nlat;
        hist_merge(&r->latency_hist, &w->latency_hist);
        hist_merge(&r->round_trip_hist, &w->round_trip_hist);
        if (w->oom)
            seq_run_set_error(r, 1, "out of memory keeping the latency samples");
    }
    if (all)
        seq_stats_compute(all, n, &r->stats);
    else
        seq_run_set_error(r, 1, "out of memory computing the summary");
    free(all);
}

static void collect_sender(struct seq_run *r)
{
    if (r->sworkers)
        merge_samples(r);
    for (size_t i = 0; i < r->nconns; i++) {
        const struct seq_sconn *c = &r->conns[i];
        r->messages += c->msgs_sent;
        r->replies_expected += c->replies_expected;
        r->replies += c->replies_rx;
        r->bytes_sent += c->bytes_sent;
        r->bytes_rx += c->bytes_rx;
        seq_viol_add(&r->viol, &c->log.viol);
    }
}

static void collect_replier(struct seq_run *r)
{
    for (unsigned k = 0; r->rworkers && k < r->nworkers; k++) {
        const struct seq_rworker *w = &r->rworkers[k];
        r->accepted += w->accepted;
        r->closed_on_error += w->closed_on_error;
        r->messages += w->messages;
        r->replies += w->replies;
        r->bytes_rx += w->bytes_rx;
        r->bytes_sent += w->bytes_tx;
        seq_viol_add(&r->viol, &w->viol);
    }
}

void seq_collect(struct seq_run *r)
{
    if (r->collected)
        return;
    r->collected = true;
    if (r->mode == SEQ_MODE_REPLIER)
        collect_replier(r);
    else
        collect_sender(r);
    if (r->mode != SEQ_MODE_REPLIER && r->cfg->verify && seq_viol_total(&r->viol) > 0)
        seq_run_set_error(r, 1, "%" PRIu64 " violations found", seq_viol_total(&r->viol));
}

/* ---- text -------------------------------------------------------------------------- */

static void stream_address(struct seq_run *r, size_t i, const char *host, unsigned port)
{
    struct json *j = &r->js;
    report_event_begin(j, "address");
    json_kv_u64(j, "index", i);
    json_kv_string(j, "host", host);
    json_kv_u64(j, "port", port);
    report_event_end(j);
}

void seq_print_addresses(struct seq_run *r)
{
    if (!r->text && !r->stream)
        return;
    pthread_mutex_lock(&r->out_lock);
    for (size_t i = 0; i < r->ntargets; i++) {
        char host[SOCK_ADDR_STRLEN];
        const struct sock_addr *a = &r->targets[i].addr;
        sock_addr_host(a, host, sizeof host);
        if (r->text)
            printf("Address %zu: Host %s Port %u\n", i, host, sock_addr_port(a));
        else
            stream_address(r, i, host, sock_addr_port(a));
    }
    fflush(stdout);
    pthread_mutex_unlock(&r->out_lock);
}

/* The dump file: grouped by connection, in order of arrival within one. A connection lives
 * on one worker, whose records are in arrival order, so a stable counting sort by
 * connection gives exactly that. */
static void write_dump(struct seq_run *r)
{
    size_t n = 0;
    for (unsigned k = 0; k < r->nworkers; k++)
        n += r->sworkers[k].ndump;
    struct seq_dump_rec *all = malloc((n ? n : 1) * sizeof *all);
    size_t *start = calloc(r->nconns + 1, sizeof *start);
    if (!all || !start) {
        seq_msg(r, "out of memory writing the dump file");
        free(all);
        free(start);
        return;
    }
    for (unsigned k = 0; k < r->nworkers; k++)
        for (size_t i = 0; i < r->sworkers[k].ndump; i++)
            start[r->sworkers[k].dump[i].conn + 1]++;
    for (size_t c = 0; c < r->nconns; c++)
        start[c + 1] += start[c];
    for (unsigned k = 0; k < r->nworkers; k++)
        for (size_t i = 0; i < r->sworkers[k].ndump; i++) {
            const struct seq_dump_rec *d = &r->sworkers[k].dump[i];
            all[start[d->conn]++] = *d;
        }
    free(start);
    fputs(SEQ_DUMP_HEADER, r->dump);
    bool sync = r->mode == SEQ_MODE_SYNC;
    for (size_t i = 0; i < n; i++) {
        const struct seq_dump_rec *d = &all[i];
        uint64_t slot = sync ? d->conn : 2ull * d->conn + 1;
        seq_dump_line(r->dump, slot, d->time_ns, d->lat_ns, d->rsz, d->ssz);
    }
    free(all);
}

/* -d characters have no newline of their own: end their line, so that the summary starts
 * on a line of its own. One was printed per message sent (senders) or received (replier). */
static void end_debug_line(const struct seq_run *r)
{
    if (r->debug && r->messages > 0)
        putchar('\n');
}

void seq_print_sender_results(struct seq_run *r)
{
    seq_collect(r);
    /* The original prints nothing after a -S fault or a setup failure. */
    if (!r->started || (r->mode == SEQ_MODE_SYNC && atomic_load(&r->fatal)))
        return;
    if (r->dump)
        write_dump(r);
    if (!r->text)
        return;
    uint64_t end = r->finish_ns > r->begin_ns ? r->finish_ns : r->begin_ns;
    pthread_mutex_lock(&r->out_lock);
    end_debug_line(r);
    seq_summary_print(stdout, &r->stats, end - r->begin_ns);
    if (r->cfg->verify)
        seq_viol_print(stdout, &r->viol);
    fflush(stdout);
    pthread_mutex_unlock(&r->out_lock);
}

void seq_print_replier_results(struct seq_run *r)
{
    seq_collect(r);
    if (!r->text || !r->started)
        return;
    pthread_mutex_lock(&r->out_lock);
    end_debug_line(r);
    printf("Connections: %" PRIu64 " accepted, %" PRIu64 " closed on error\n", r->accepted,
           r->closed_on_error);
    printf("Messages: %" PRIu64 " received, %" PRIu64 " replies sent\n", r->messages, r->replies);
    seq_viol_print(stdout, &r->viol);
    fflush(stdout);
    pthread_mutex_unlock(&r->out_lock);
}

/* ---- JSON -------------------------------------------------------------------------- */

static const char *mode_name(enum seq_mode m)
{
    return m == SEQ_MODE_SYNC ? "sync" : m == SEQ_MODE_REPLIER ? "replier" : "async";
}

static void json_config(struct json *j, const struct seq_run *r)
{
    const struct seq_config *c = r->cfg;
    json_key(j, "config");
    json_object_begin(j);
    if (r->mode != SEQ_MODE_REPLIER) {
        json_kv_u64(j, "ssize_min", c->ssize.min);
        json_kv_u64(j, "ssize_max", c->ssize.max);
        json_kv_u64(j, "rsize_min", c->rsize.min);
        json_kv_u64(j, "rsize_max", c->rsize.max);
        json_kv_u64(j, "sdelay_min_ns", c->sdelay.min);
        json_kv_u64(j, "sdelay_max_ns", c->sdelay.max);
        json_kv_u64(j, "rdelay_min_ns", c->rdelay.min);
        json_kv_u64(j, "rdelay_max_ns", c->rdelay.max);
        json_kv_u64(j, "rinterval", c->rinterval);
        json_kv_u64(j, "count", c->count);
        json_kv_u64(j, "threads", r->nconns ? r->nconns : c->threads);
    }
    json_kv_u64(j, "workers", r->nworkers);
    json_kv_bool(j, "verify", c->verify);
    if (r->mode != SEQ_MODE_REPLIER) {
        json_kv_u64(j, "seed", r->seed);
        json_key(j, "dump");
        if (c->dump_path)
            json_string(j, c->dump_path);
        else
            json_null(j);
    }
    json_object_end(j);
}

static void json_addresses(struct json *j, const struct seq_run *r)
{
    json_key(j, "addresses");
    json_array_begin(j);
    for (size_t i = 0; i < r->ntargets; i++) {
        char host[SOCK_ADDR_STRLEN];
        sock_addr_host(&r->targets[i].addr, host, sizeof host);
        json_object_begin(j);
        json_kv_u64(j, "index", i);
        json_kv_string(j, "host", host);
        json_kv_u64(j, "port", sock_addr_port(&r->targets[i].addr));
        json_object_end(j);
    }
    json_array_end(j);
}

static void json_violations(struct json *j, const struct seq_viol_counts *v)
{
    json_key(j, "violations");
    json_object_begin(j);
    json_kv_u64(j, "total", seq_viol_total(v));
    for (int i = 0; i < SEQ_V_COUNT; i++)
        json_kv_u64(j, seq_viol_name((enum seq_viol)i), v->n[i]);
    json_object_end(j);
}

static void json_summary(struct json *j, const struct seq_stats *st)
{
    double us[SEQ_FIGURES];
    seq_stats_figures_us(st, us);
    json_key(j, "summary_us");
    json_object_begin(j);
    for (int i = 0; i < SEQ_FIGURES; i++) {
        json_key(j, seq_figures[i].key);
        json_fixed(j, us[i], 1);
    }
    json_object_end(j);
}

static void json_connections(struct json *j, const struct seq_run *r)
{
    json_key(j, "connections");
    json_array_begin(j);
    for (size_t i = 0; i < r->nconns; i++) {
        const struct seq_sconn *c = &r->conns[i];
        char buf[SOCK_ADDR_STRLEN];
        json_object_begin(j);
        json_kv_u64(j, "id", c->id);
        json_kv_string(j, "remote", sock_addr_format(&c->target->addr, buf, sizeof buf));
        json_key(j, "local");
        if (c->local.len)
            json_string(j, sock_addr_format(&c->local, buf, sizeof buf));
        else
            json_null(j);
        json_kv_u64(j, "messages_sent", c->msgs_sent);
        json_kv_u64(j, "replies_expected", c->replies_expected);
        json_kv_u64(j, "replies_received", c->replies_rx);
        json_kv_u64(j, "bytes_sent", c->bytes_sent);
        json_kv_u64(j, "bytes_received", c->bytes_rx);
        json_kv_u64(j, "violations", seq_viol_total(&c->log.viol));
        json_kv_string(j, "status", c->state == SCONN_DONE ? "ok" : "failed");
        json_key(j, "error");
        if (c->error)
            json_string(j, c->error);
        else if (c->state != SCONN_DONE)
            json_string(j, "did not finish (the run stopped)");
        else
            json_null(j);
        json_object_end(j);
    }
    json_array_end(j);
}

static void json_sender_results(struct json *j, struct seq_run *r)
{
    uint64_t end = r->finish_ns > r->begin_ns ? r->finish_ns : r->begin_ns;
    json_kv_u64(j, "elapsed_ns", r->started ? end - r->begin_ns : 0);
    json_kv_u64(j, "messages_sent", r->messages);
    json_kv_u64(j, "replies_expected", r->replies_expected);
    json_kv_u64(j, "replies_received", r->replies);
    json_kv_u64(j, "bytes_sent", r->bytes_sent);
    json_kv_u64(j, "bytes_received", r->bytes_rx);
    json_summary(j, &r->stats);
    json_key(j, "latency");
    report_json_hist(j, &r->latency_hist, REPORT_UNIT_NS);
    json_kv_double(j, "latency_relative_error", hist_relative_error(&r->latency_hist));
    json_key(j, "round_trip_raw");
    report_json_hist(j, &r->round_trip_hist, REPORT_UNIT_NS);
    json_connections(j, r);
}

static void json_replier_results(struct json *j, struct seq_run *r)
{
    json_kv_u64(j, "connections_accepted", r->accepted);
    json_kv_u64(j, "connections_closed_on_error", r->closed_on_error);
    json_kv_u64(j, "messages_received", r->messages);
    json_kv_u64(j, "replies_sent", r->replies);
    json_kv_u64(j, "bytes_received", r->bytes_rx);
    json_kv_u64(j, "bytes_sent", r->bytes_sent);
}

static void json_members(struct json *j, struct seq_run *r, bool configured)
{
    json_kv_string(j, "tool", "seqtest");
    json_kv_string(j, "version", NETGRIND_VERSION);
    json_kv_string(j, "mode", mode_name(r->mode));
    if (configured) {
        json_config(j, r);
        json_addresses(j, r);
        seq_collect(r);
        if (r->mode == SEQ_MODE_REPLIER)
            json_replier_results(j, r);
        else
            json_sender_results(j, r);
        json_violations(j, &r->viol);
    }
    json_key(j, "error");
    if (r->error[0])
        json_string(j, r->error);
    else
        json_null(j);
    json_kv_i64(j, "exit_code", r->exit_code);
}

void seq_print_json(struct seq_run *r)
{
    bool configured = r->cfg != NULL && r->nworkers > 0;
    pthread_mutex_lock(&r->out_lock);
    if (r->stream) {
        report_event_begin(&r->js, "end");
        json_members(&r->js, r, configured);
        report_event_end(&r->js);
    } else {
        struct json j;
        json_init(&j, stdout, true);
        json_object_begin(&j);
        json_members(&j, r, configured);
        json_object_end(&j);
        json_finish(&j);
    }
    fflush(stdout);
    pthread_mutex_unlock(&r->out_lock);
}
