#include "flowgrind/traffic.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

void fg_traffic_defaults(struct fg_traffic *t)
{
    *t = (struct fg_traffic){0};
    /* Constant parameters that dist_init always accepts; no error to report. */
    (void)dist_init(&t->request, DIST_CONSTANT, FG_TRAFFIC_DEFAULT_BLOCK, 0, NULL, 0);
    (void)dist_init(&t->response, DIST_CONSTANT, 0, 0, NULL, 0);
    (void)dist_init(&t->gap, DIST_CONSTANT, 0, 0, NULL, 0);
    t->maximum_block_size = FG_TRAFFIC_DEFAULT_BLOCK;
    t->write_rate = 0;
}

int fg_traffic_init(struct fg_traffic *t, uint64_t seed, char *err, size_t errlen)
{
    if (t->maximum_block_size < FG_TRAFFIC_MIN_BLOCK) {
        if (err)
            snprintf(err, errlen, "maximum block size must be >= %d, not %d", FG_TRAFFIC_MIN_BLOCK,
                     (int)t->maximum_block_size);
        return -EINVAL;
    }
    if (!isfinite(t->write_rate) || t->write_rate < 0) {
        if (err)
            snprintf(err, errlen, "write rate must be finite and >= 0, not %g", t->write_rate);
        return -EINVAL;
    }
    t->seed = seed;
    rng_seed(&t->rng, seed);
    t->last_request_size = 0;
    return 0;
}

/* One size draw as a whole number of bytes, still as a double so that huge or negative
 * draws can be compared with the bounds before any integer conversion. Uniform truncates
 * (U:100:200 gives 100..199, as measured on the original); the others round to nearest. */
static double draw_size(const struct dist *d, struct rng *r)
{
    double x = dist_sample(d, r);
    if (isnan(x))
        return 0;
    return d->kind == DIST_UNIFORM ? floor(x) : round(x);
}

static int32_t clamp_size(double x, int32_t max)
{
    if (x < FG_TRAFFIC_MIN_BLOCK)
        return FG_TRAFFIC_MIN_BLOCK;
    if (x > max)
        return max;
    return (int32_t)x;
}

static int32_t draw_request(struct fg_traffic *t)
{
    double x = 0;
    for (int draws = 0; draws < FG_TRAFFIC_MAX_DRAWS; draws++) {
        x = draw_size(&t->request, &t->rng);
        if (x >= FG_TRAFFIC_MIN_BLOCK && x <= t->maximum_block_size)
            break;
        /* A constant never changes: re-drawing it would only waste time. */
        if (t->request.kind == DIST_CONSTANT)
            break;
    }
    return clamp_size(x, t->maximum_block_size);
}

static int32_t draw_response(struct fg_traffic *t)
{
    double x = draw_size(&t->response, &t->rng);
    if (x == 0)
        return 0;
    return clamp_size(x, t->maximum_block_size);
}

void fg_traffic_next_block(struct fg_traffic *t, int32_t *req_size, int32_t *resp_size)
{
    int32_t req = draw_request(t);
    int32_t resp = draw_response(t);
    t->last_request_size = req;
    if (req_size)
        *req_size = req;
    if (resp_size)
        *resp_size = resp;
}

double fg_traffic_next_gap(struct fg_traffic *t)
{
    double gap;
    if (t->write_rate > 0)
        gap = t->last_request_size / t->write_rate;
    else
        gap = dist_sample(&t->gap, &t->rng);
    /* A negative (or NaN) gap would move the schedule backwards: it means "now". */
    if (!(gap > 0))
        return 0;
    return gap;
}

bool fg_traffic_is_bulk(const struct fg_traffic *t)
{
    return t->request.kind == DIST_CONSTANT && t->response.kind == DIST_CONSTANT &&
           t->response.p1 == 0 && t->gap.kind == DIST_CONSTANT && t->gap.p1 == 0 &&
           t->write_rate == 0;
}
