/* A log-linear histogram.
 *
 * Latencies span many orders of magnitude (a loopback round trip is a few microseconds, a
 * stalled connection minutes), and what people read from them is relative: "the p99 is
 * 1.2 ms" needs two or three significant digits, never nanosecond resolution at a
 * millisecond. So the buckets grow with the value: with s = sub_bits, every power of two
 * [2^k, 2^(k+1)) is cut into 2^s buckets of width 2^(k-s), and the values below 2^s, for
 * which that width would be under 1, each get their own bucket. The bucket of a value is
 * found with one count-leading-zeros and one shift:
 *
 *     v < 2^s:   index = v
 *     v >= 2^s:  k = floor(log2 v),  index = (k - s) * 2^s + (v >> (k - s))
 *
 * The second line also gives index = v for k = s, so the two pieces join without a gap,
 * and every index below 2^(s+1) holds exactly one value. In reverse, index i >= 2^s has
 * shift = i / 2^s - 1 and covers [(2^s + i mod 2^s) << shift, that + 2^shift - 1]. The
 * largest value, 2^64 - 1, lands in index (65 - s) * 2^s - 1: 7,424 buckets for s = 7.
 *
 * Reading a percentile back gives the midpoint of its bucket: the true value is at least
 * 2^k and at most half a bucket, 2^(k-s-1), away, so the relative error is at most
 * 2^-(s+1). The midpoint is then clamped to the exact [min, max], so the extremes (and
 * every percentile of a histogram holding one value) come back exact.
 *
 * The bucket array grows lazily up to the largest value seen, so a histogram of loopback
 * latencies stays a few kilobytes. Count, min and max are kept exactly beside the buckets;
 * the sum in a long double (64-bit mantissa: exact while the sum stays under 2^64), and the
 * spread as the sum of squared deviations from the running mean (Welford's update, Chan's
 * formula to merge), because the textbook sum of squares loses every digit of the variance
 * when the values are large and close together (a 1 s timer with 1 ns of jitter). */

#include "core/hist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HIST_SUB_BITS_MAX 16

static size_t hist_total_buckets(unsigned s)
{
    return (size_t)(65 - s) << s;
}

static size_t hist_index(unsigned s, uint64_t v)
{
    if (v < (1ULL << s))
        return (size_t)v;
    unsigned k = 63 - (unsigned)__builtin_clzll(v);
    return ((size_t)(k - s) << s) + (size_t)(v >> (k - s));
}

static uint64_t hist_bucket_lo(unsigned s, size_t i)
{
    if (i < ((size_t)1 << s))
        return i;
    unsigned shift = (unsigned)(i >> s) - 1;
    return ((1ULL << s) + (i & (((size_t)1 << s) - 1))) << shift;
}

static uint64_t hist_bucket_hi(unsigned s, size_t i)
{
    if (i < ((size_t)1 << s))
        return i;
    unsigned shift = (unsigned)(i >> s) - 1;
    return hist_bucket_lo(s, i) + ((1ULL << shift) - 1);
}

int hist_init(struct hist *h, unsigned sub_bits)
{
    if (sub_bits < 1 || sub_bits > HIST_SUB_BITS_MAX)
        return -EINVAL;
    memset(h, 0, sizeof *h);
    h->sub_bits = sub_bits;
    return 0;
}

void hist_free(struct hist *h)
{
    free(h->counts);
    h->counts = NULL;
    h->nbuckets = 0;
    hist_reset(h);
}

void hist_reset(struct hist *h)
{
    if (h->counts)
        memset(h->counts, 0, h->nbuckets * sizeof h->counts[0]);
    h->count = 0;
    h->min = h->max = 0;
    h->sum = h->sum_sq = 0;
}

/* Makes counts[index] addressable. Grows at least by doubling, in whole powers of two
 * (2^s buckets), so a histogram whose values creep upward reallocates O(log) times. */
static int hist_grow(struct hist *h, size_t index)
{
    if (index < h->nbuckets)
        return 0;
    size_t block = (size_t)1 << h->sub_bits;
    size_t want = index + 1;
    if (want < 2 * h->nbuckets)
        want = 2 * h->nbuckets;
    want = (want + block - 1) / block * block;
    if (want > hist_total_buckets(h->sub_bits))
        want = hist_total_buckets(h->sub_bits);
    /* calloc, not realloc and memset: a large array comes zeroed from fresh pages, which the
     * kernel only backs where a count is written. */
    uint64_t *counts = calloc(want, sizeof counts[0]);
    if (!counts)
        return -ENOMEM;
    if (h->nbuckets)
        memcpy(counts, h->counts, h->nbuckets * sizeof counts[0]);
    free(h->counts);
    h->counts = counts;
    h->nbuckets = want;
    return 0;
}

/* Count, extremes, sum and squared deviations for n copies of value (Welford with weight). */
static void hist_add_moments(struct hist *h, uint64_t value, uint64_t n)
{
    if (h->count == 0) {
        h->min = h->max = value;
    } else {
        if (value < h->min)
            h->min = value;
        if (value > h->max)
            h->max = value;
    }
    long double old_mean = h->count ? h->sum / h->count : 0;
    h->count += n;
    h->sum += (long double)value * n;
    long double new_mean = h->sum / h->count;
    h->sum_sq += (long double)n * ((long double)value - old_mean) * ((long double)value - new_mean);
}

int hist_record_n(struct hist *h, uint64_t value, uint64_t n)
{
    if (n == 0)
        return 0;
    hist_add_moments(h, value, n);
    size_t index = hist_index(h->sub_bits, value);
    int err = hist_grow(h, index);
    if (err) {
        if (h->nbuckets > 0)
            h->counts[h->nbuckets - 1] += n;
        return err;
    }
    h->counts[index] += n;
    return 0;
}

int hist_merge(struct hist *dst, const struct hist *src)
{
    if (dst->sub_bits != src->sub_bits)
        return -EINVAL;
    if (src->count == 0)
        return 0;
    size_t top = src->nbuckets;
    while (top > 0 && src->counts[top - 1] == 0)
        top--;
    if (top > 0) {
        int err = hist_grow(dst, top - 1);
        if (err)
            return err;
    }
    for (size_t i = 0; i < top; i++)
        dst->counts[i] += src->counts[i];

    if (dst->count == 0) {
        dst->min = src->min;
        dst->max = src->max;
        dst->count = src->count;
        dst->sum = src->sum;
        dst->sum_sq = src->sum_sq;
        return 0;
    }
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    /* Chan, Golub and LeVeque: M2 = M2a + M2b + delta^2 * na * nb / (na + nb). */
    long double na = dst->count, nb = src->count;
    long double delta = src->sum / nb - dst->sum / na;
    dst->sum_sq += src->sum_sq + delta * delta * na * nb / (na + nb);
    dst->sum += src->sum;
    dst->count += src->count;
    return 0;
}

uint64_t hist_min(const struct hist *h)
{
    return h->count ? h->min : 0;
}

uint64_t hist_max(const struct hist *h)
{
    return h->count ? h->max : 0;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)(h->sum / h->count) : 0.0;
}

double hist_stddev(const struct hist *h)
{
    if (h->count == 0 || h->sum_sq <= 0)
        return 0.0;
    return (double)sqrtl(h->sum_sq / h->count);
}

/* The buckets [*first, *end) that can be non-zero: those of min to max, within the array
 * (which a failed allocation can leave shorter than max needs). */
static void hist_used_range(const struct hist *h, size_t *first, size_t *end)
{
    if (h->count == 0 || h->nbuckets == 0) {
        *first = *end = 0;
        return;
    }
    *first = hist_index(h->sub_bits, h->min);
    *end = hist_index(h->sub_bits, h->max) + 1;
    if (*end > h->nbuckets)
        *end = h->nbuckets;
    if (*first >= *end)
        *first = *end - 1; /* the top bucket then holds what did not fit */
}

/* The rank (1-based) of percentile p in count values: ceil(p/100 * count), at least 1. A
 * product within rounding of a whole number is that number: p = 99.9 is really
 * 99.900000000000006 as a double, and of 1000 values it means the 999th, not the 1000th. */
static uint64_t hist_rank(double p, uint64_t count)
{
    long double exact = (long double)p * count / 100.0L;
    long double nearest = roundl(exact);
    long double want =
        fabsl(exact - nearest) <= 1e-9L * (nearest > 1 ? nearest : 1) ? nearest : ceill(exact);
    if (want < 1)
        return 1;
    if (want >= (long double)count)
        return count;
    return (uint64_t)want;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (!(p > 0)) /* also NaN */
        return h->min;
    if (p >= 100)
        return h->max;
    uint64_t rank = hist_rank(p, h->count);
    uint64_t seen = 0;
    size_t first, end;
    hist_used_range(h, &first, &end);
    for (size_t i = first; i < end; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t lo = hist_bucket_lo(h->sub_bits, i);
            uint64_t hi = hist_bucket_hi(h->sub_bits, i);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                return h->min;
            if (mid > h->max)
                return h->max;
            return mid;
        }
    }
    return h->max; /* only after a failed allocation left counts short */
}

double hist_relative_error(const struct hist *h)
{
    return ldexp(1.0, -(int)h->sub_bits - 1);
}

void hist_foreach(const struct hist *h,
                  void (*fn)(uint64_t lo, uint64_t hi, uint64_t count, void *arg), void *arg)
{
    size_t first, end;
    hist_used_range(h, &first, &end);
    for (size_t i = first; i < end; i++) {
        if (h->counts[i])
            fn(hist_bucket_lo(h->sub_bits, i), hist_bucket_hi(h->sub_bits, i), h->counts[i], arg);
    }
}
