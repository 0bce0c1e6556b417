#ifndef NETGRIND_SEQTEST_SUMMARY_H
#define NETGRIND_SEQTEST_SUMMARY_H

/* seqtest's results: the original's summary statistics, computed exactly from every
 * sample with the original's integer rules, the violation kinds and their text block, and
 * the dump-file lines. Pure apart from writing to the FILE given. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Violation kinds, in the order every output lists them. */
enum seq_viol {
    SEQ_V_SEQNO,
    SEQ_V_TS1_BACKWARDS,
    SEQ_V_TIME_TRAVEL,
    SEQ_V_NEGATIVE_COST,
    SEQ_V_TS1_MISMATCH,
    SEQ_V_ECHO,
    SEQ_V_SIZE,
    SEQ_V_HEADER,
    SEQ_V_PAYLOAD,
    SEQ_V_CLOSED_EARLY,
    SEQ_V_IO_ERROR,
    SEQ_V_COUNT
};

/* The kind's name as text and JSON show it ("seqno", "ts1_backwards", ...). */
const char *seq_viol_name(enum seq_viol v);

struct seq_viol_counts {
    uint64_t n[SEQ_V_COUNT];
};
uint64_t seq_viol_total(const struct seq_viol_counts *c);
void seq_viol_add(struct seq_viol_counts *dst, const struct seq_viol_counts *src);
/* "Violations: N" then "  kind: n" for every kind, in order. */
void seq_viol_print(FILE *out, const struct seq_viol_counts *c);

/* The original's figures, in nanoseconds. */
struct seq_stats {
    uint64_t n;
    uint64_t mean_ns;  /* floor(sum / n) */
    uint64_t variance; /* floor(sum((x - mean)^2) / n), saturated at UINT64_MAX */
    double stddev_ns;  /* sqrt(variance) */
    double median_ns, p90_ns, p99_ns, p999_ns;
    uint64_t min_ns, max_ns;
};

/* The original's percentile rule on sorted samples s[0..n): x = n * p / 100 in double; if x
 * is not an integer s[ceil(x) - 1], else (s[x-1] + s[x]) / 2. 0 when n == 0. For p < 100. */
double seq_pctile(const uint64_t *sorted, size_t n, double p);

/* Sorts samples[0..n) in place and computes every figure; all zero when n == 0. The sum
 * and the squares are accumulated in 128 bits, so nothing wraps. */
void seq_stats_compute(uint64_t *samples, size_t n, struct seq_stats *st);

/* The eight latency figures of the summary, in its order: the text label (with the
 * original's spacing) and the --json summary_us key of each. */
#define SEQ_FIGURES 8
struct seq_figure {
    const char *label; /* "Average:  ", "Stddev:   ", ... */
    const char *key;   /* "average", "stddev", ... */
};
extern const struct seq_figure seq_figures[SEQ_FIGURES];
/* The values of the eight figures of st, in microseconds, in seq_figures' order. */
void seq_stats_figures_us(const struct seq_stats *st, double us[SEQ_FIGURES]);

/* The original's summary text, exactly:
 * "Received N replies\nTime: T us\nROUND TRIP LATENCY:\nAverage:  A us\n..." */
void seq_summary_print(FILE *out, const struct seq_stats *st, uint64_t elapsed_ns);

/* One dump line: "slot time latency rsz ssz\n", time signed. */
void seq_dump_line(FILE *out, uint64_t slot, int64_t time_ns, uint64_t latency_ns, unsigned rsz,
                   unsigned ssz);
#define SEQ_DUMP_HEADER "# thread time latency rsz ssz\n"

#endif
