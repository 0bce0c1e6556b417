/* Distributions: samplers from their textbook definitions (Devroye, "Non-Uniform Random
 * Variate Generation", 1986: inverse transform; Marsaglia and Bray, 1964: polar method),
 * moments and cdfs from their closed forms. */

#include "core/dist.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

const char *dist_name(enum dist_kind kind)
{
    switch (kind) {
    case DIST_CONSTANT:
        return "constant";
    case DIST_UNIFORM:
        return "uniform";
    case DIST_EXPONENTIAL:
        return "exponential";
    case DIST_NORMAL:
        return "normal";
    case DIST_LOGNORMAL:
        return "lognormal";
    case DIST_PARETO:
        return "pareto";
    case DIST_WEIBULL:
        return "weibull";
    }
    return "unknown";
}

__attribute__((format(printf, 3, 4))) static int dist_fail(char *err, size_t errlen,
                                                           const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int dist_init(struct dist *d, enum dist_kind kind, double p1, double p2, char *err, size_t errlen)
{
    const char *name = dist_name(kind);
    if ((int)kind < (int)DIST_CONSTANT || (int)kind > (int)DIST_WEIBULL)
        return dist_fail(err, errlen, "unknown distribution %d", (int)kind);
    if (!isfinite(p1))
        return dist_fail(err, errlen, "%s: first parameter is not a finite number", name);
    bool two = kind != DIST_CONSTANT && kind != DIST_EXPONENTIAL;
    if (two && !isfinite(p2))
        return dist_fail(err, errlen, "%s: second parameter is not a finite number", name);

    switch (kind) {
    case DIST_CONSTANT:
        break;
    case DIST_UNIFORM:
        if (p1 > p2)
            return dist_fail(err, errlen, "uniform min %g is above max %g", p1, p2);
        break;
    case DIST_EXPONENTIAL:
        if (!(p1 > 0))
            return dist_fail(err, errlen, "exponential mean must be > 0, not %g", p1);
        break;
    case DIST_NORMAL:
    case DIST_LOGNORMAL:
        if (p2 < 0)
            return dist_fail(err, errlen, "%s standard deviation must be >= 0, not %g", name, p2);
        break;
    case DIST_PARETO:
        if (!(p1 > 0))
            return dist_fail(err, errlen, "pareto shape must be > 0, not %g", p1);
        if (!(p2 > 0))
            return dist_fail(err, errlen, "pareto scale must be > 0, not %g", p2);
        break;
    case DIST_WEIBULL:
        if (!(p1 > 0))
            return dist_fail(err, errlen, "weibull scale must be > 0, not %g", p1);
        if (!(p2 > 0))
            return dist_fail(err, errlen, "weibull shape must be > 0, not %g", p2);
        break;
    }
    d->kind = kind;
    d->p1 = p1;
    d->p2 = two ? p2 : 0;
    return 0;
}

/* Marsaglia's polar method: a point uniform in the unit disc (by rejection from the
 * square) has an angle uniform on the circle and a squared radius s uniform on (0, 1), so
 * u * sqrt(-2 ln s / s) is a standard normal, with no trigonometry. The second normal of
 * the pair, v * sqrt(...), is thrown away so that the dist stays stateless. */
static double dist_std_normal(struct rng *r)
{
    double u, v, s;
    do {
        u = 2 * rng_double(r) - 1;
        v = 2 * rng_double(r) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    return u * sqrt(-2 * log(s) / s);
}

double dist_sample(const struct dist *d, struct rng *r)
{
    switch (d->kind) {
    case DIST_CONSTANT:
        return d->p1;
    case DIST_UNIFORM:
        return d->p1 + (d->p2 - d->p1) * rng_double(r);
    case DIST_EXPONENTIAL:
        /* F^-1(1 - u) = -mean ln u; u in (0, 1] so the log is finite */
        return -d->p1 * log(rng_double_open0(r));
    case DIST_NORMAL:
        return d->p1 + d->p2 * dist_std_normal(r);
    case DIST_LOGNORMAL:
        return exp(d->p1 + d->p2 * dist_std_normal(r));
    case DIST_PARETO:
        /* P(X > x) = (xm / x)^a = u  =>  x = xm * u^(-1/a); u = 1 gives xm */
        return d->p2 * pow(rng_double_open0(r), -1 / d->p1);
    case DIST_WEIBULL:
        /* P(X > x) = exp(-(x / l)^k) = u  =>  x = l * (-ln u)^(1/k) */
        return d->p1 * pow(-log(rng_double_open0(r)), 1 / d->p2);
    }
    return NAN;
}

double dist_mean(const struct dist *d)
{
    double a = d->p1, b = d->p2;
    switch (d->kind) {
    case DIST_CONSTANT:
        return a;
    case DIST_UNIFORM:
        return a + (b - a) / 2;
    case DIST_EXPONENTIAL:
        return a;
    case DIST_NORMAL:
        return a;
    case DIST_LOGNORMAL:
        return exp(a + b * b / 2);
    case DIST_PARETO:
        return a > 1 ? a * b / (a - 1) : INFINITY;
    case DIST_WEIBULL:
        return a * tgamma(1 + 1 / b);
    }
    return NAN;
}

double dist_variance(const struct dist *d)
{
    double a = d->p1, b = d->p2;
    switch (d->kind) {
    case DIST_CONSTANT:
        return 0;
    case DIST_UNIFORM:
        return (b - a) * (b - a) / 12;
    case DIST_EXPONENTIAL:
        return a * a;
    case DIST_NORMAL:
        return b * b;
    case DIST_LOGNORMAL:
        return expm1(b * b) * exp(2 * a + b * b);
    case DIST_PARETO:
        return a > 2 ? b * b * a / ((a - 1) * (a - 1) * (a - 2)) : INFINITY;
    case DIST_WEIBULL: {
        double g1 = tgamma(1 + 1 / b);
        return a * a * (tgamma(1 + 2 / b) - g1 * g1);
    }
    }
    return NAN;
}

/* The normal cdf through erfc, which keeps its precision far into the lower tail. */
static double dist_normal_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

double dist_cdf(const struct dist *d, double x)
{
    double a = d->p1, b = d->p2;
    switch (d->kind) {
    case DIST_CONSTANT:
        return x < a ? 0 : 1;
    case DIST_UNIFORM:
        if (x < a)
            return 0;
        if (x >= b)
            return 1;
        return (x - a) / (b - a);
    case DIST_EXPONENTIAL:
        return x <= 0 ? 0 : -expm1(-x / a);
    case DIST_NORMAL:
        if (b == 0)
            return x < a ? 0 : 1;
        return dist_normal_cdf((x - a) / b);
    case DIST_LOGNORMAL:
        if (x <= 0)
            return 0;
        if (b == 0)
            return log(x) < a ? 0 : 1;
        return dist_normal_cdf((log(x) - a) / b);
    case DIST_PARETO:
        return x < b ? 0 : -expm1(a * log(b / x));
    case DIST_WEIBULL:
        return x <= 0 ? 0 : -expm1(-pow(x / a, b));
    }
    return NAN;
}
