#ifndef NETGRIND_CORE_DIST_H
#define NETGRIND_CORE_DIST_H

/* Continuous distributions for stochastic traffic (block sizes, gaps): constant, uniform,
 * exponential, normal, lognormal, pareto, weibull. Each can be sampled from an rng and
 * gives its analytic mean, variance and cdf. A struct dist is immutable after dist_init,
 * so one may be shared by threads as long as each brings its own rng.
 *
 * Parameters (p1, p2), in the order and meaning flowgrind's -G x=?:L:#1:#2 uses them with
 * its GSL build (see specs/flowgrind.md §6.2), so a tool passes #1 and #2 straight through:
 *
 *   DIST_CONSTANT     p1 = the value                      p2 unused
 *   DIST_UNIFORM      p1 = min, p2 = max (min <= max)     samples in [min, max)
 *   DIST_EXPONENTIAL  p1 = the MEAN (> 0), i.e. 1/lambda  p2 unused
 *   DIST_NORMAL       p1 = mean, p2 = STANDARD DEVIATION (>= 0; flowgrind's help says
 *                     "variance" but its sampler and ours take the deviation)
 *   DIST_LOGNORMAL    p1 = zeta, the mean of ln X; p2 = sigma (>= 0), the standard deviation
 *                     of ln X: X = exp(zeta + sigma * N(0,1)). (flowgrind 0.8.2 documents
 *                     this and by a bug samples normal(#1, #2); the tool decides which.)
 *   DIST_PARETO       p1 = shape a (> 0), p2 = scale x_min (> 0): X >= x_min,
 *                     P(X > x) = (x_min / x)^a
 *   DIST_WEIBULL      p1 = scale lambda (> 0), p2 = shape k (> 0):
 *                     P(X > x) = exp(-(x / lambda)^k)
 *
 * Samplers are the standard ones, written here: inverse transform for exponential, pareto
 * and weibull, Marsaglia's polar method for normal (and so lognormal). Same rng state, same
 * samples. Pure; any thread. */

#include <stddef.h>

#include "core/rng.h"

enum dist_kind {
    DIST_CONSTANT,
    DIST_UNIFORM,
    DIST_EXPONENTIAL,
    DIST_NORMAL,
    DIST_LOGNORMAL,
    DIST_PARETO,
    DIST_WEIBULL,
};

struct dist {
    enum dist_kind kind;
    double p1, p2; /* as passed to dist_init; meaning per kind above */
};

/* Checks the parameters for kind (finite, and the ranges above) and fills d. 0, or -EINVAL
 * with err (when not NULL) saying which parameter is wrong, e.g. "exponential mean must be
 * > 0, not -3". */
int dist_init(struct dist *d, enum dist_kind kind, double p1, double p2, char *err, size_t errlen);

/* One sample. Draws one or more values from r (polar normal: two per try, about 1.27 tries
 * on average; constant: none). */
double dist_sample(const struct dist *d, struct rng *r);

/* The analytic mean and variance: INFINITY where they diverge (pareto with shape <= 1 for
 * the mean, <= 2 for the variance). */
double dist_mean(const struct dist *d);
double dist_variance(const struct dist *d);

/* P(X <= x). */
double dist_cdf(const struct dist *d, double x);

/* "constant", "uniform", "exponential", "normal", "lognormal", "pareto", "weibull";
 * "unknown" for anything else. Static storage. */
const char *dist_name(enum dist_kind kind);

#endif
