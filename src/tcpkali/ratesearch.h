#ifndef NETGRIND_TCPKALI_RATESEARCH_H
#define NETGRIND_TCPKALI_RATESEARCH_H

/* The -r @Latency search (tcpkali.md §5.4): the highest message rate per connection whose
 * p95 message latency stays at the target. A pure state machine on the caller's clock, fed
 * once a second with the p95 measured since the last rate change; the caller applies each
 * new rate (tk_engine_set_message_rate) and forgets the latencies measured so far
 * (tk_engine_reset_message_latency).
 *
 * Ramp: every 10 s, while p95 < 1.5x target the rate is multiplied by 4 (the lower bound
 * moves up to the rate when p95 < 0.95x target); otherwise the search turns binary with the
 * rate as its upper bound. A fast path turns binary early when p95 is above 2x target and
 * still rising for more than 3 seconds in a row (a fall disables the fast path).
 * Binary: every 10 s, p95 < 0.98x target raises the lower bound, p95 > 1.01x target lowers
 * the upper one, anything between is success; at most 15 steps (then: unstable); it also
 * ends when the bounds are within 0.1% (success when p95 <= target). The next rate is the
 * middle of the bounds. */

#include <stdbool.h>
#include <stdint.h>

#define TK_SEARCH_START_RATE 100.0
#define TK_SEARCH_STEP_NS (10ULL * 1000000000ULL)
#define TK_SEARCH_MAX_BINARY_STEPS 15

enum tk_search_mode {
    TK_SEARCH_RAMP,
    TK_SEARCH_BINARY,
    TK_SEARCH_FOUND,
    TK_SEARCH_UNSTABLE,
};

enum tk_search_action {
    TK_SEARCH_NONE,   /* keep going */
    TK_SEARCH_CHANGE, /* apply s->rate (and reset the latencies) */
    TK_SEARCH_DONE,   /* s->mode says how; s->rate is the answer when FOUND */
};

struct tk_search {
    double target_ms;
    double rate, min, max; /* max: INFINITY while open */
    enum tk_search_mode mode;
    int worsening;
    double prev_p95_ms; /* NaN: none since the last change */
    unsigned binary_steps;
    uint64_t last_change_ns;
};

void tk_search_init(struct tk_search *s, double target_ms, uint64_t now_ns);

/* Call once a second with the p95 (ms) since the last change (NaN: no samples). */
enum tk_search_action tk_search_tick(struct tk_search *s, uint64_t now_ns, double p95_ms);

#endif
