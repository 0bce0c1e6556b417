#ifndef NETGRIND_TCPKALI_JSON_OUT_H
#define NETGRIND_TCPKALI_JSON_OUT_H

/* tcpkali's --json and --json-stream shapes: the configuration echo, one interval's
 * figures, and the summary (every figure of the text summary with its unit in the key,
 * the connection counts and failures by cause, and the full latency percentiles). Pure
 * writers onto a struct json; tcpkali.c decides when each is written. */

#include "core/json.h"
#include "tcpkali/engine.h"
#include "tcpkali/output.h"
#include "tcpkali/opts.h"

/* The members of the "config" object (the caller opened it). */
void tk_json_config(struct json *j, const struct tk_opts *o);

/* One interval's figures, as the members of the current object. d is the difference of
 * the totals over the interval (gauges as at its end). */
struct tk_json_interval {
    const char *phase; /* "ramp_up" or "steady" */
    double start_s, end_s; /* since the start of the run */
    struct tk_counters d;
};
void tk_json_interval(struct json *j, const struct tk_json_interval *iv);

/* The members of the "summary" object: s's figures (as the text summary has them),
 * total = the steady-state counter differences (gauges at the end), max_open. */
void tk_json_summary(struct json *j, const struct tk_summary *s, const struct tk_counters *total,
                     uint64_t max_open);

#endif
