/* xoshiro256** and splitmix64, written from Blackman and Vigna, "Scrambled Linear
 * Pseudorandom Number Generators" (ACM TOMS 47(4), 2021), and Lemire, "Fast Random Integer
 * Generation in an Interval" (ACM TOMACS 29(1), 2019). */

#include "core/rng.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rotl64(uint64_t x, unsigned k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64 (Steele, Lea and Flood): a Weyl sequence through a 64-bit mixer. Its outputs
 * are equidistributed, so four of them never make the all-zero state xoshiro must avoid
 * except with probability 2^-256 (and that is handled below anyway). */
uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1; /* the one state xoshiro cannot leave */
}

uint64_t rng_entropy_seed(void)
{
    uint64_t v;
    for (;;) {
        ssize_t got = getrandom(&v, sizeof v, 0);
        if (got == (ssize_t)sizeof v)
            return v;
        if (got < 0 && errno == EINTR)
            continue;
        break;
    }
    /* No getrandom (very old kernel, seccomp): the clock and pid, mixed, still give distinct
     * runs distinct seeds, which is all a seed without a user is for. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x =
        ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32);
    return rng_splitmix64(&x);
}

/* The generator: a linear engine over GF(2)^256 (xor, shift, rotate) with the "**"
 * scrambler, rotl(s1 * 5, 7) * 9, on its output. */
uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

double rng_double(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double rng_double_open0(struct rng *r)
{
    return (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53;
}

/* Lemire: the high word of x * n is uniform over [0, n) except that some results get one
 * extra x; those extra x are exactly the ones whose low word is below 2^64 mod n, so
 * rejecting them removes the bias. The division for the threshold is only done when the
 * low word is small enough for rejection to be possible at all. */
uint64_t rng_below(struct rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n; /* 2^64 mod n */
        while (low < threshold) {
            m = (unsigned __int128)rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = hi - lo;
    if (span == UINT64_MAX)
        return rng_next(r);
    return lo + rng_below(r, span + 1);
}

/* The state after 2^128 steps is a fixed linear function of the current state: the jump
 * polynomial J(x) = x^(2^128) mod the characteristic polynomial of the engine, evaluated at
 * the transition matrix T. J(T)s = sum of T^i s over the set coefficients i, so walk the
 * state forward one step per coefficient and xor it into an accumulator where the bit is
 * set. The coefficients are those published with the generator. */
void rng_jump(struct rng *r)
{
    static const uint64_t jump[4] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                     0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t acc[4] = {0, 0, 0, 0};

    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 64; b++) {
            if (jump[i] & (1ULL << b)) {
                for (int w = 0; w < 4; w++)
                    acc[w] ^= r->s[w];
            }
            rng_next(r);
        }
    }
    for (int w = 0; w < 4; w++)
        r->s[w] = acc[w];
}
