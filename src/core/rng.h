#ifndef NETGRIND_CORE_RNG_H
#define NETGRIND_CORE_RNG_H

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64: fast, 2^256-1 period, and
 * the same seed always gives the same sequence on every host. One generator per worker or
 * per connection; not thread-safe. */

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* Seeds from one 64-bit value (any value, 0 included). */
void rng_seed(struct rng *r, uint64_t seed);
/* A seed from the kernel's entropy (getrandom), for runs without a user-given seed. */
uint64_t rng_entropy_seed(void);

/* One splitmix64 step: advances *x and returns the next output. Used by rng_seed; handy for
 * deriving several independent seeds from one. */
uint64_t rng_splitmix64(uint64_t *x);

/* The next 64 random bits. */
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_double(struct rng *r);
/* Uniform in (0, 1]: safe to take the logarithm of. */
double rng_double_open0(struct rng *r);
/* Uniform integer in [0, n) without modulo bias; 0 when n == 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform integer in [lo, hi], both inclusive; lo when hi <= lo. */
uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi);
/* Advances by 2^128 steps: gives non-overlapping streams from one seed. */
void rng_jump(struct rng *r);

#endif
