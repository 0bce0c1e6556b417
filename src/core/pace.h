#ifndef NETGRIND_CORE_PACE_H
#define NETGRIND_CORE_PACE_H

/* Pacing: token buckets (bandwidth caps, connect rates) and intended-send schedules
 * (message rates, Poisson probes). All integer nanosecond arithmetic on times the caller
 * passes in (clock_mono_ns, or a simulated clock in tests), so a rate holds exactly over
 * any run length. See pace.c for why. Pure; one object per thread, not thread-safe.
 *
 * LATENCY MUST BE MEASURED FROM THE INTENDED SEND TIME (pace_sched_advance's return
 * value), not from when the send actually happened. A sender that stalls (a full socket
 * buffer, a descheduled thread, a slow server holding it up) sends its backlog late; timed
 * from the actual send, those late messages look fast and the stall vanishes from the
 * percentiles ("coordinated omission"). Timed from the intended time, the stall shows up
 * in full in every message it delayed. */

#include <stdint.h>

#include "core/dist.h"
#include "core/rng.h"

/* A rate as an exact fraction: `units` every `per_ns` nanoseconds (both > 0). 1000/s is
 * {1000, 1000000000}; 0.25/s is {1, 4000000000}. */
struct pace_rate {
    uint64_t units;
    uint64_t per_ns;
};

/* The rate for `per_sec` units per second (finite, > 0), exact for whole numbers and for
 * fractions with up to six decimals (0.25, 1.5, 33.333333), else within 1e-6 relative.
 * 0, or -EINVAL for 0, negative, NaN, infinite, or a rate too small to represent (below
 * one per 584 years). */
int pace_rate_from_per_sec(double per_sec, struct pace_rate *out);

/* ---- Token bucket ---------------------------------------------------------------------
 * Holds up to `burst` tokens (and the fraction of a token that less than one nanosecond
 * earns, so that waits rounded up to whole ns lose nothing) and gains them at `rate`.
 * Credit is kept in units of 1/per_ns token (a token is per_ns credit, one nanosecond adds
 * `units` credit), so it is an integer and nothing is ever rounded away. */
struct pace_bucket {
    struct pace_rate rate;
    uint64_t burst;
    __int128 credit;  /* tokens * rate.per_ns; negative after a take larger than burst */
    uint64_t last_ns; /* the time credit was last brought up to date */
};

/* A full bucket at now_ns (a first take of up to `burst` succeeds at once). burst >= 1.
 * 0 or -EINVAL (zero rate or burst). */
int pace_bucket_init(struct pace_bucket *b, struct pace_rate rate, uint64_t burst, uint64_t now_ns);

/* Takes n tokens at now_ns. Returns 0 when they were taken, else the nanoseconds to wait
 * (>= 1) before the same take will succeed; nothing is taken then. A take larger than the
 * burst is allowed once the bucket is full, and leaves the bucket in debt (negative) for
 * the excess, so large writes still average out to the rate. n == 0 always succeeds.
 * now_ns earlier than a previous call is treated as that call's time. */
uint64_t pace_bucket_take(struct pace_bucket *b, uint64_t n, uint64_t now_ns);

/* Whole tokens available at now_ns (0 while in debt): how much may be taken at once,
 * e.g. the byte count to offer write() under a bandwidth cap. */
uint64_t pace_bucket_available(struct pace_bucket *b, uint64_t now_ns);

/* Gives back n tokens taken but not used (a short write), up to the burst. */
void pace_bucket_refund(struct pace_bucket *b, uint64_t n);

/* Changes the rate from now_ns on: credit earned up to now_ns at the old rate is kept
 * (as tokens, rounded down). 0 or -EINVAL. */
int pace_bucket_set_rate(struct pace_bucket *b, struct pace_rate rate, uint64_t now_ns);

/* ---- Intended-send schedule ------------------------------------------------------------
 * The intended times t0, t1, t2, ... of a stream of sends: t0 = start, and each next
 * intended time is the previous INTENDED time plus a gap (never the actual send time plus a
 * gap), so a late send does not push the rest of the schedule back. Fixed: send k is due at
 * start + floor(k * per_ns / units), computed from k, so no rounding error accumulates.
 * Poisson: the gaps are independent exponentials with the given mean (rounded to the
 * nanosecond), drawn from the schedule's own generator. */
enum pace_sched_kind {
    PACE_SCHED_FIXED,
    PACE_SCHED_POISSON,
};

struct pace_sched {
    enum pace_sched_kind kind;
    struct pace_rate rate; /* fixed */
    uint64_t start_ns;     /* fixed: t0 */
    uint64_t k;            /* sends consumed so far */
    uint64_t next_ns;      /* intended time of send k */
    struct dist gap;       /* Poisson: exponential, mean in ns */
    struct rng rng;        /* Poisson: private, so pace_sched_due can look ahead */
};

/* `rate.units` sends every `rate.per_ns` ns, the first at start_ns. 0 or -EINVAL. */
int pace_sched_init_fixed(struct pace_sched *s, struct pace_rate rate, uint64_t start_ns);

/* Poisson sends (exponential gaps of mean mean_gap_ns > 0, finite), the first at start_ns,
 * the gaps drawn from a generator seeded with seed (derive one per schedule, e.g. with
 * rng_splitmix64, so that the same run seed gives the same schedule). 0 or -EINVAL. */
int pace_sched_init_poisson(struct pace_sched *s, double mean_gap_ns, uint64_t seed,
                            uint64_t start_ns);

/* The intended time of the next send. */
static inline uint64_t pace_sched_next(const struct pace_sched *s)
{
    return s->next_ns;
}

/* Consumes the next send: returns its intended time (measure its latency from this) and
 * moves on to the following one. Call it when the send is made, however late. */
uint64_t pace_sched_advance(struct pace_sched *s);

/* How many sends are due by now_ns (intended time <= now_ns), counting at most `cap`
 * of them (0: no cap). Does not consume them: a sender that fell behind calls this, then
 * pace_sched_advance once per send it makes; with a cap it catches up in bursts of at most
 * cap sends per call. Without a cap, a Poisson schedule's count costs one draw per due
 * send (a fixed one is O(1)). */
uint64_t pace_sched_due(const struct pace_sched *s, uint64_t now_ns, uint64_t cap);

/* Gives up on every send due by now_ns without sending it (for tools whose policy is to
 * drop a backlog rather than burst it): returns how many were skipped, which the tool must
 * report, since skipped sends are exactly what coordinated omission would hide. */
uint64_t pace_sched_skip(struct pace_sched *s, uint64_t now_ns);

#endif
