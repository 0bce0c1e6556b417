#ifndef NETGRIND_CORE_HIST_H
#define NETGRIND_CORE_HIST_H

/* A log-linear histogram of non-negative integer values (nanoseconds, usually), in the
 * style of HdrHistogram, with s = sub_bits: values below 2^s are counted exactly; each
 * power of two [2^k, 2^(k+1)) above is split into 2^s equal buckets of width 2^(k-s). A
 * bucket is therefore at most value / 2^s wide, and a percentile read back as the bucket's
 * midpoint is off by at most 2^-(s+1) of the true value. Count, min, max, sum and the sum
 * of squared deviations are kept beside the buckets, so min, max, mean and standard deviation
 * are exact (to long double rounding), not read from the buckets.
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
    long double sum;    /* exact while it stays below 2^64 */
    long double sum_sq; /* sum of squared deviations from the mean (Welford), not of squares */
};

/* An empty histogram with 2^sub_bits sub-buckets per power of two (1 <= sub_bits <= 16).
 * Returns 0 or -EINVAL. No allocation until the first record. */
int hist_init(struct hist *h, unsigned sub_bits);
/* Frees the bucket array; h is then empty and may be recorded into again (or freed again). */
void hist_free(struct hist *h);
/* Forgets every value; keeps the memory. */
void hist_reset(struct hist *h);

/* Counts value n times. 0, or -ENOMEM when the bucket array could not grow (the value is
 * then still counted in count/min/max/sum, and in the top bucket). */
int hist_record_n(struct hist *h, uint64_t value, uint64_t n);
static inline int hist_record(struct hist *h, uint64_t value)
{
    return hist_record_n(h, value, 1);
}

/* Adds every count of src into dst (same sub_bits). 0, -EINVAL or -ENOMEM. */
int hist_merge(struct hist *dst, const struct hist *src);

static inline uint64_t hist_count(const struct hist *h)
{
    return h->count;
}
/* 0 when empty. */
uint64_t hist_min(const struct hist *h);
uint64_t hist_max(const struct hist *h);
double hist_mean(const struct hist *h);
/* Population standard deviation; 0 when empty. */
double hist_stddev(const struct hist *h);

/* The value at percentile p (0 <= p <= 100): the smallest recorded bucket whose cumulative
 * count reaches ceil(p/100 * count), reported as the bucket's midpoint clamped to
 * [min, max], so p=0 gives min and p=100 gives max. 0 when empty. A product p/100 * count
 * within 1e-9 (relative) of a whole number counts as that number, so p = 99.9 of 1000
 * values is the 999th, whatever the binary rounding of 99.9. p below 0 (or NaN) acts as 0,
 * above 100 as 100. Walks the buckets from min to max: O(buckets), not O(1). */
uint64_t hist_percentile(const struct hist *h, double p);

/* The largest relative error a percentile can have: 2^-(sub_bits+1). */
double hist_relative_error(const struct hist *h);

/* Calls fn for each non-empty bucket in increasing order with its inclusive value range
 * and count. */
void hist_foreach(const struct hist *h,
                  void (*fn)(uint64_t lo, uint64_t hi, uint64_t count, void *arg), void *arg);

#endif
