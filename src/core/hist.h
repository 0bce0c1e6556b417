#ifndef NETGRIND_CORE_HIST_H
#define NETGRIND_CORE_HIST_H

/* A log-linear histogram of non-negative integer values (nanoseconds, usually), in the
 * style of HdrHistogram, with s = sub_bits: values below 2^s are counted exactly; each
 * power of two [2^k, 2^(k+1)) above is split into 2^s equal buckets of width 2^(k-s). A
 * bucket is therefore at most value / 2^s wide, and a percentile read back as the bucket's
 * midpoint is off by at most 2^-(s+1) of the true value. Count, min, max, sum and the sum
 * of squares are kept exactly, so min, max, mean and standard deviation are exact.
 *
 * One histogram per worker, merged by the control thread. Not thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS_DEFAULT 7 /* relative error <= 2^-8 = 0.39% */

struct hist {
    unsigned sub_bits;
    size_t nbuckets;
    uint64_t *counts; /* allocated up to the largest value recorded so far */
    uint64_t count;
    uint64_t min, max;
    long double sum, sum_sq; /* exact enough for 2^64 ns values */
};

/* An empty histogram with 2^sub_bits sub-buckets per power of two (1 <= sub_bits <= 16).
 * Returns 0 or -EINVAL. No allocation until the first record. */
int hist_init(struct hist *h, unsigned sub_bits);
void hist_free(struct hist *h);
/* Forgets every value; keeps the memory. */
void hist_reset(struct hist *h);

/* Counts value n times. 0, or -ENOMEM when the bucket array could not grow (the value is
 * then still counted in count/min/max/sum, and in the top bucket). */
int hist_record_n(struct hist *h, uint64_t value, uint64_t n);
static inline int hist_record(struct hist *h, uint64_t value) { return hist_record_n(h, value, 1); }

/* Adds every count of src into dst (same sub_bits). 0, -EINVAL or -ENOMEM. */
int hist_merge(struct hist *dst, const struct hist *src);

static inline uint64_t hist_count(const struct hist *h) { return h->count; }
/* 0 when empty. */
uint64_t hist_min(const struct hist *h);
uint64_t hist_max(const struct hist *h);
double hist_mean(const struct hist *h);
/* Population standard deviation; 0 when empty. */
double hist_stddev(const struct hist *h);

/* The value at percentile p (0 <= p <= 100): the smallest recorded bucket whose cumulative
 * count reaches ceil(p/100 * count), reported as the bucket's midpoint clamped to
 * [min, max], so p=0 gives min and p=100 gives max. 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);

/* The largest relative error a percentile can have: 2^-(sub_bits+1). */
double hist_relative_error(const struct hist *h);

/* Calls fn for each non-empty bucket in increasing order with its inclusive value range
 * and count. */
void hist_foreach(const struct hist *h,
                  void (*fn)(uint64_t lo, uint64_t hi, uint64_t count, void *arg), void *arg);

#endif
