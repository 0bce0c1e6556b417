/* The -r @Latency search state machine (see ratesearch.h). */
#include "tcpkali/ratesearch.h"

#include <math.h>
#include <string.h>

void tk_search_init(struct tk_search *s, double target_ms, uint64_t now_ns)
{
    memset(s, 0, sizeof *s);
    s->target_ms = target_ms;
    s->rate = TK_SEARCH_START_RATE;
    s->min = 0;
    s->max = INFINITY;
    s->mode = TK_SEARCH_RAMP;
    s->prev_p95_ms = NAN;
    s->last_change_ns = now_ns;
}

static enum tk_search_action change(struct tk_search *s, uint64_t now_ns, double rate)
{
    s->rate = rate;
    s->last_change_ns = now_ns;
    s->prev_p95_ms = NAN;
    return TK_SEARCH_CHANGE;
}

static enum tk_search_action go_binary(struct tk_search *s, uint64_t now_ns)
{
    s->mode = TK_SEARCH_BINARY;
    s->max = s->rate;
    s->worsening = 0;
    return change(s, now_ns, (s->min + s->max) / 2);
}

static enum tk_search_action done(struct tk_search *s, enum tk_search_mode how)
{
    s->mode = how;
    return TK_SEARCH_DONE;
}

/* The fast path of the ramp, once a second. */
static bool worsening_too_long(struct tk_search *s, double p95)
{
    if (isnan(p95))
        return false;
    if (!isnan(s->prev_p95_ms)) {
        if (p95 > 2 * s->target_ms && p95 > s->prev_p95_ms)
            s->worsening++;
        else if (p95 < s->prev_p95_ms)
            s->worsening = -1000;
    }
    s->prev_p95_ms = p95;
    return s->worsening > 3;
}

static enum tk_search_action ramp_step(struct tk_search *s, uint64_t now_ns, double p95)
{
    double t = s->target_ms;
    if (!isnan(p95) && p95 < 1.5 * t) {
        if (p95 < 0.95 * t) {
            s->min = s->rate;
            s->max = INFINITY;
        }
        return change(s, now_ns, s->rate * 4);
    }
    return go_binary(s, now_ns);
}

static enum tk_search_action binary_step(struct tk_search *s, uint64_t now_ns, double p95)
{
    double t = s->target_ms;
    if (++s->binary_steps > TK_SEARCH_MAX_BINARY_STEPS)
        return done(s, TK_SEARCH_UNSTABLE);
    if (isnan(p95) || p95 > 1.01 * t)
        s->max = s->rate;
    else if (p95 < 0.98 * t)
        s->min = s->rate;
    else
        return done(s, TK_SEARCH_FOUND);
    if (s->min > 0 && (s->max - s->min) / 2 / s->min < 0.001)
        return done(s, !isnan(p95) && p95 <= t ? TK_SEARCH_FOUND : TK_SEARCH_UNSTABLE);
    return change(s, now_ns, (s->min + s->max) / 2);
}

enum tk_search_action tk_search_tick(struct tk_search *s, uint64_t now_ns, double p95_ms)
{
    if (s->mode == TK_SEARCH_FOUND || s->mode == TK_SEARCH_UNSTABLE)
        return TK_SEARCH_NONE;
    if (s->mode == TK_SEARCH_RAMP && worsening_too_long(s, p95_ms))
        return go_binary(s, now_ns);
    if (now_ns - s->last_change_ns < TK_SEARCH_STEP_NS)
        return TK_SEARCH_NONE;
    if (s->mode == TK_SEARCH_RAMP)
        return ramp_step(s, now_ns, p95_ms);
    return binary_step(s, now_ns, p95_ms);
}
