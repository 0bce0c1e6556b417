/* Pacing without drift.
 *
 * A rate limiter that keeps its state in floating point ("tokens += elapsed * rate") or
 * that rounds 1/rate to whole nanoseconds ("next += 333333 ns" for 3000/s) is off by a
 * little on every step, and the error adds up: a 1/3 ns rounding at 3000/s is a 0.0001%
 * rate error, and a float accumulator stops adding anything at all once its total is
 * large enough. Load tests run for hours at fixed rates and compare counts on both ends,
 * so here nothing is rounded except what a caller reads out:
 *
 * - A rate is a fraction, `units` per `per_ns` nanoseconds.
 * - The token bucket keeps credit as an integer in units of 1/per_ns token: one
 *   nanosecond adds exactly `units` credit, a token costs exactly `per_ns`. Only the wait
 *   it reports is rounded, and up (ceil), so a caller that sleeps that long always
 *   succeeds; time itself comes from the caller and is never accumulated here. 128-bit
 *   arithmetic keeps products like elapsed * units exact.
 * - A fixed schedule computes send k's intended time from k (start + floor(k * per_ns /
 *   units)), so send one million is exactly where it should be, not where a million
 *   rounded gaps put it.
 *
 * The schedule is also the answer to coordinated omission. Each next intended time is the
 * previous intended time plus a gap, never "now" plus a gap: when the sender stalls, its
 * intended times stay where they were, the sends pile up as due (pace_sched_due says how
 * many), and their latencies, measured from the intended time, include the stall. A
 * sender that rescheduled from "now" would silently send fewer messages and time the ones
 * it did send from after the stall, which is how a load tool hides the worst latencies of
 * the system it measures. Poisson schedules (exponential gaps) add the other property a
 * probe needs: sends that cannot synchronise with a periodic disturbance in the system
 * (PASTA: Poisson arrivals see time averages). */

#include "core/pace.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/util.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

/* Bound on credit, far below the 2^127 that an __int128 holds, so that no sum or
 * difference of two credits can overflow. */
#define PACE_CREDIT_LIMIT ((s128)1 << 120)

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static struct pace_rate pace_rate_reduced(uint64_t units, uint64_t per_ns)
{
    uint64_t g = gcd_u64(units, per_ns);
    return (struct pace_rate){units / g, per_ns / g};
}

int pace_rate_from_per_sec(double per_sec, struct pace_rate *out)
{
    if (!(per_sec > 0) || !isfinite(per_sec))
        return -EINVAL;
    if (per_sec >= 0x1p64)
        return -EINVAL;
    double micro = per_sec * 1e6;
    if (per_sec == floor(per_sec) || micro >= 0x1p63) {
        double whole = round(per_sec); /* a fraction is below 1e-6 relative here */
        *out = pace_rate_reduced(whole >= 0x1p64 ? UINT64_MAX : (uint64_t)whole, NS_PER_SEC);
        return 0;
    }
    if (micro >= 0.5) {
        /* six decimals: units per 10^15 ns (10^6 s) */
        *out = pace_rate_reduced((uint64_t)llround(micro), 1000000000000000ULL);
        return 0;
    }
    double gap_ns = 1e9 / per_sec; /* below one per 10^6 s: one per gap_ns */
    if (gap_ns >= 0x1p64)
        return -EINVAL;
    *out = (struct pace_rate){1, (uint64_t)llround(gap_ns)};
    return 0;
}

static bool pace_rate_valid(struct pace_rate rate)
{
    return rate.units > 0 && rate.per_ns > 0;
}

static s128 pace_bucket_cap(const struct pace_bucket *b)
{
    return (s128)((u128)b->burst * b->rate.per_ns);
}

/* A rate and burst whose full bucket stays within the credit bound. */
static bool pace_bucket_params_valid(struct pace_rate rate, uint64_t burst)
{
    return pace_rate_valid(rate) && burst > 0 &&
           (u128)burst * rate.per_ns + rate.units < (u128)PACE_CREDIT_LIMIT;
}

int pace_bucket_init(struct pace_bucket *b, struct pace_rate rate, uint64_t burst, uint64_t now_ns)
{
    if (!pace_bucket_params_valid(rate, burst))
        return -EINVAL;
    memset(b, 0, sizeof *b);
    b->rate = rate;
    b->burst = burst;
    b->credit = pace_bucket_cap(b);
    b->last_ns = now_ns;
    return 0;
}

/* Adds the credit earned since last_ns, up to a full bucket plus less than one ns of
 * earnings. That margin is what keeps a busy bucket exact: a caller can only arrive on a
 * whole nanosecond, so when the token it waits for completes, up to units - 1 credit has
 * already been earned towards the next one; with a burst of 1 a hard cap would throw it
 * away on every take (at 3000/s, 2 ns in every 3 tokens' time). */
static void pace_bucket_refill(struct pace_bucket *b, uint64_t now_ns)
{
    if (now_ns <= b->last_ns)
        return;
    u128 earned = (u128)(now_ns - b->last_ns) * b->rate.units;
    b->last_ns = now_ns;
    s128 cap = pace_bucket_cap(b) + (s128)(b->rate.units - 1);
    if (b->credit >= cap)
        return;
    u128 room = (u128)(cap - b->credit);
    b->credit = earned >= room ? cap : b->credit + (s128)earned;
}

/* ceil(deficit / units) in ns, at least 1, at most UINT64_MAX. */
static uint64_t pace_bucket_wait_for(const struct pace_bucket *b, s128 deficit)
{
    u128 wait = ((u128)deficit + b->rate.units - 1) / b->rate.units;
    if (wait == 0)
        return 1;
    return wait > UINT64_MAX ? UINT64_MAX : (uint64_t)wait;
}

uint64_t pace_bucket_take(struct pace_bucket *b, uint64_t n, uint64_t now_ns)
{
    pace_bucket_refill(b, now_ns);
    if (n == 0)
        return 0;
    s128 cap = pace_bucket_cap(b);
    if (n <= b->burst) {
        s128 need = (s128)((u128)n * b->rate.per_ns);
        if (b->credit < need)
            return pace_bucket_wait_for(b, need - b->credit);
        b->credit -= need;
        return 0;
    }
    /* More than a bucketful: wait for a full bucket, then go into debt for the rest. */
    if (b->credit < cap)
        return pace_bucket_wait_for(b, cap - b->credit);
    u128 need = (u128)n * b->rate.per_ns;
    b->credit = need - (u128)cap >= (u128)PACE_CREDIT_LIMIT ? -PACE_CREDIT_LIMIT : cap - (s128)need;
    return 0;
}

uint64_t pace_bucket_available(struct pace_bucket *b, uint64_t now_ns)
{
    pace_bucket_refill(b, now_ns);
    if (b->credit <= 0)
        return 0;
    s128 tokens = b->credit / b->rate.per_ns;
    return tokens > (s128)b->burst ? b->burst : (uint64_t)tokens;
}

void pace_bucket_refund(struct pace_bucket *b, uint64_t n)
{
    s128 cap = pace_bucket_cap(b);
    u128 back = (u128)n * b->rate.per_ns;
    if (b->credit >= cap || back >= (u128)(cap - b->credit))
        b->credit = cap;
    else
        b->credit += (s128)back;
}

int pace_bucket_set_rate(struct pace_bucket *b, struct pace_rate rate, uint64_t now_ns)
{
    if (!pace_bucket_params_valid(rate, b->burst))
        return -EINVAL;
    pace_bucket_refill(b, now_ns);
    s128 tokens = b->credit / (s128)b->rate.per_ns; /* toward zero: a debt shrinks a little */
    b->rate = rate;
    b->credit = tokens * (s128)rate.per_ns;
    if (b->credit < -PACE_CREDIT_LIMIT)
        b->credit = -PACE_CREDIT_LIMIT;
    return 0;
}

/* ---- schedules ---- */

/* start + floor(k * per_ns / units), saturating at the end of time. */
static uint64_t pace_fixed_time(const struct pace_sched *s, uint64_t k)
{
    u128 offset = (u128)k * s->rate.per_ns / s->rate.units;
    if (offset >= (u128)(UINT64_MAX - s->start_ns))
        return UINT64_MAX;
    return s->start_ns + (uint64_t)offset;
}

int pace_sched_init_fixed(struct pace_sched *s, struct pace_rate rate, uint64_t start_ns)
{
    if (!pace_rate_valid(rate))
        return -EINVAL;
    memset(s, 0, sizeof *s);
    s->kind = PACE_SCHED_FIXED;
    s->rate = rate;
    s->start_ns = start_ns;
    s->next_ns = start_ns;
    return 0;
}

int pace_sched_init_poisson(struct pace_sched *s, double mean_gap_ns, uint64_t seed,
                            uint64_t start_ns)
{
    struct dist gap;
    if (dist_init(&gap, DIST_EXPONENTIAL, mean_gap_ns, 0, NULL, 0) < 0)
        return -EINVAL;
    memset(s, 0, sizeof *s);
    s->kind = PACE_SCHED_POISSON;
    s->gap = gap;
    rng_seed(&s->rng, seed);
    s->start_ns = start_ns;
    s->next_ns = start_ns;
    return 0;
}

/* One exponential gap, rounded to the nearest ns (no bias in the mean). */
static uint64_t pace_poisson_gap(struct pace_sched *s)
{
    double gap = round(dist_sample(&s->gap, &s->rng));
    return gap >= 0x1p64 ? UINT64_MAX : (uint64_t)gap;
}

uint64_t pace_sched_advance(struct pace_sched *s)
{
    uint64_t intended = s->next_ns;
    s->k++;
    if (s->kind == PACE_SCHED_FIXED) {
        s->next_ns = pace_fixed_time(s, s->k);
    } else {
        uint64_t gap = pace_poisson_gap(s);
        s->next_ns = gap > UINT64_MAX - intended ? UINT64_MAX : intended + gap;
    }
    return intended;
}

/* Fixed: the last k with start + floor(k * per_ns / units) <= now, i.e. k * per_ns <
 * (now - start + 1) * units, so k = floor(((now - start + 1) * units - 1) / per_ns). */
static uint64_t pace_fixed_due(const struct pace_sched *s, uint64_t now_ns)
{
    u128 span = (u128)(now_ns - s->start_ns) + 1;
    u128 last = (span * s->rate.units - 1) / s->rate.per_ns;
    u128 due = last + 1 - s->k;
    return due > UINT64_MAX ? UINT64_MAX : (uint64_t)due;
}

uint64_t pace_sched_due(const struct pace_sched *s, uint64_t now_ns, uint64_t cap)
{
    if (s->next_ns > now_ns)
        return 0;
    if (s->kind == PACE_SCHED_FIXED) {
        uint64_t due = pace_fixed_due(s, now_ns);
        return cap && due > cap ? cap : due;
    }
    /* Poisson: walk a copy forward; its private generator makes the same draws that the
     * real advances will make later. */
    struct pace_sched ahead = *s;
    uint64_t due = 0;
    while (ahead.next_ns <= now_ns && (cap == 0 || due < cap)) {
        if (ahead.next_ns == UINT64_MAX && due > 0)
            break; /* saturated: the end of time is one send, not infinitely many */
        pace_sched_advance(&ahead);
        due++;
    }
    return due;
}

uint64_t pace_sched_skip(struct pace_sched *s, uint64_t now_ns)
{
    if (s->next_ns > now_ns)
        return 0;
    if (s->kind == PACE_SCHED_FIXED) {
        uint64_t due = pace_fixed_due(s, now_ns);
        s->k += due;
        s->next_ns = pace_fixed_time(s, s->k);
        return due;
    }
    uint64_t skipped = 0;
    while (s->next_ns <= now_ns) {
        uint64_t was = s->next_ns;
        pace_sched_advance(s);
        skipped++;
        if (was == UINT64_MAX)
            break; /* saturated: the end of time is one send, not infinitely many */
    }
    return skipped;
}
