/* seqtest's summary statistics, violation block and dump lines (see summary.h). */
#include "seqtest/summary.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "core/report.h"

static const char *const viol_names[SEQ_V_COUNT] = {
    [SEQ_V_SEQNO] = "seqno",
    [SEQ_V_TS1_BACKWARDS] = "ts1_backwards",
    [SEQ_V_TIME_TRAVEL] = "time_travel",
    [SEQ_V_NEGATIVE_COST] = "negative_cost",
    [SEQ_V_TS1_MISMATCH] = "ts1_mismatch",
    [SEQ_V_ECHO] = "echo",
    [SEQ_V_SIZE] = "size",
    [SEQ_V_HEADER] = "header",
    [SEQ_V_PAYLOAD] = "payload",
    [SEQ_V_CLOSED_EARLY] = "closed_early",
    [SEQ_V_IO_ERROR] = "io_error",
};

const char *seq_viol_name(enum seq_viol v)
{
    return (unsigned)v < SEQ_V_COUNT ? viol_names[v] : "unknown";
}

uint64_t seq_viol_total(const struct seq_viol_counts *c)
{
    uint64_t t = 0;
    for (int i = 0; i < SEQ_V_COUNT; i++)
        t += c->n[i];
    return t;
}

void seq_viol_add(struct seq_viol_counts *dst, const struct seq_viol_counts *src)
{
    for (int i = 0; i < SEQ_V_COUNT; i++)
        dst->n[i] += src->n[i];
}

void seq_viol_print(FILE *out, const struct seq_viol_counts *c)
{
    fprintf(out, "Violations: %" PRIu64 "\n", seq_viol_total(c));
    for (int i = 0; i < SEQ_V_COUNT; i++)
        fprintf(out, "  %s: %" PRIu64 "\n", viol_names[i], c->n[i]);
}

double seq_pctile(const uint64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    /* The same double expression as the original, so the integer test agrees with it. */
    double x = (double)n * p / 100.0;
    double k = ceil(x);
    if (k < 1.0)
        return (double)sorted[0];
    if (k != x)
        return (double)sorted[(size_t)k - 1];
    size_t i = (size_t)k;
    if (i >= n)
        return (double)sorted[n - 1];
    return (double)(sorted[i - 1] + sorted[i]) / 2.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void seq_stats_compute(uint64_t *samples, size_t n, struct seq_stats *st)
{
    *st = (struct seq_stats){0};
    if (n == 0)
        return;
    qsort(samples, n, sizeof *samples, cmp_u64);
    unsigned __int128 sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += samples[i];
    uint64_t mean = (uint64_t)(sum / n);
    unsigned __int128 sq = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = samples[i] >= mean ? samples[i] - mean : mean - samples[i];
        sq += (unsigned __int128)d * d;
    }
    unsigned __int128 var = sq / n;
    st->n = n;
    st->mean_ns = mean;
    st->variance = var > UINT64_MAX ? UINT64_MAX : (uint64_t)var;
    st->stddev_ns = sqrt((double)st->variance);
    st->median_ns = seq_pctile(samples, n, 50.0);
    st->p90_ns = seq_pctile(samples, n, 90.0);
    st->p99_ns = seq_pctile(samples, n, 99.0);
    st->p999_ns = seq_pctile(samples, n, 99.9);
    st->min_ns = samples[0];
    st->max_ns = samples[n - 1];
}

const struct seq_figure seq_figures[SEQ_FIGURES] = {
    {"Average:  ", "average"}, {"Stddev:   ", "stddev"},  {"Median:   ", "median"},
    {"90.0%ile: ", "p90"},     {"99.0%ile: ", "p99"},     {"99.9%ile: ", "p99_9"},
    {"Minimum:  ", "minimum"}, {"Maximum:  ", "maximum"},
};

void seq_stats_figures_us(const struct seq_stats *st, double us[SEQ_FIGURES])
{
    const double ns[SEQ_FIGURES] = {(double)st->mean_ns, st->stddev_ns,     st->median_ns,
                                    st->p90_ns,          st->p99_ns,        st->p999_ns,
                                    (double)st->min_ns,  (double)st->max_ns};
    for (int i = 0; i < SEQ_FIGURES; i++)
        us[i] = ns[i] / 1000.0;
}

void seq_summary_print(FILE *out, const struct seq_stats *st, uint64_t elapsed_ns)
{
    double us[SEQ_FIGURES];
    seq_stats_figures_us(st, us);
    report_printf(out, "Received %" PRIu64 " replies\n", st->n);
    report_printf(out, "Time: %.1f us\n", elapsed_ns / 1000.0);
    report_printf(out, "ROUND TRIP LATENCY:\n");
    for (int i = 0; i < SEQ_FIGURES; i++)
        report_printf(out, "%s%.1f us\n", seq_figures[i].label, us[i]);
}

void seq_dump_line(FILE *out, uint64_t slot, int64_t time_ns, uint64_t latency_ns, unsigned rsz,
                   unsigned ssz)
{
    fprintf(out, "%" PRIu64 " %" PRId64 " %" PRIu64 " %u %u\n", slot, time_ns, latency_ns, rsz,
            ssz);
}
