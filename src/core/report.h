#ifndef NETGRIND_CORE_REPORT_H
#define NETGRIND_CORE_REPORT_H

/* What the tools' sinks share: the interval schedule, the JSON shapes every tool writes
 * (histogram summaries, --json-stream event lines) and locale-independent text formatting.
 *
 * The schedule. Interval k (k = 0, 1, ...) covers [start + k*I, start + (k+1)*I) on the
 * monotonic clock, and its report is due at its end. Deadlines are always computed from
 * start, never as "last wake-up + I", so a late wake-up does not shift every later tick
 * (no drift). A wake-up that comes after several deadlines have passed reports them as one
 * lumped report, saying how many interval ends it missed, rather than inventing figures
 * for intervals whose counters were never read separately. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/hist.h"
#include "core/json.h"

/* ---- interval schedule ---------------------------------------------------------------- */

struct report_schedule {
    uint64_t start_ns;    /* monotonic time of the start of interval 0 */
    uint64_t interval_ns; /* > 0 */
    uint64_t next;        /* the oldest interval not yet reported */
};

/* One report: intervals first..index (inclusive) lumped together. */
struct report_tick {
    uint64_t first;    /* oldest interval covered (the one after the previous report) */
    uint64_t index;    /* newest interval covered: the one whose end is due */
    uint64_t missed;   /* index - first: interval ends passed without a report of their own */
    uint64_t begin_ns; /* start + first*I: where this report's span begins */
    uint64_t end_ns;   /* start + (index+1)*I; for report_schedule_final, the time passed in */
    uint64_t late_ns;  /* now - the due deadline (0 for report_schedule_final) */
    bool partial;      /* report_schedule_final only: end_ns is before the interval's end */
};

/* Starts a schedule at start_ns. Returns 0, or -EINVAL when interval_ns is 0. */
int report_schedule_init(struct report_schedule *s, uint64_t start_ns, uint64_t interval_ns);

/* The end of interval k, start + (k+1)*I, saturated at UINT64_MAX. Pure. */
uint64_t report_schedule_deadline(const struct report_schedule *s, uint64_t k);

/* The deadline to sleep until: the end of the oldest unreported interval. */
uint64_t report_schedule_next_deadline(const struct report_schedule *s);

/* Given the monotonic time now: false if no interval end has passed since the last report
 * (a spurious or early wake-up). Otherwise fills t with the intervals now due — index is
 * the newest interval that has ended by now, missed how many older unreported interval ends
 * it lumps in — marks them reported, and returns true. */
bool report_schedule_due(struct report_schedule *s, uint64_t now_ns, struct report_tick *t);

/* The last report of a run that stops at now (which need not be on an interval end): covers
 * every unreported interval up to now, the last one possibly partial (t->partial, with
 * t->end_ns = now). Marks them reported. When now is not after the oldest unreported
 * interval's beginning, t covers nothing (t->end_ns == t->begin_ns) and false is returned. */
bool report_schedule_final(struct report_schedule *s, uint64_t now_ns, struct report_tick *t);

/* ---- JSON shapes --------------------------------------------------------------------- */

enum report_unit {
    REPORT_UNIT_NS, /* integers for min, max and percentiles; mean and stddev with 1 decimal */
    REPORT_UNIT_US, /* value / 1e3 with 3 decimals (nanosecond resolution) */
    REPORT_UNIT_MS, /* value / 1e6 with 6 decimals */
};

/* "ns", "us" or "ms". */
const char *report_unit_suffix(enum report_unit unit);

/* The JSON key of percentile p in the given unit: "p" + p written shortest with '.' turned
 * into '_' + "_" + suffix, e.g. 99.9 -> "p99_9_us", 50 -> "p50_ns". Returns the length, or
 * -1 (buf too small, p not finite). 32 bytes is always enough. */
int report_percentile_key(char *buf, size_t size, double p, enum report_unit unit);

/* Writes the summary of h (histogram of nanosecond values) as the next JSON value:
 * {"count":N,"min_<u>":..,"max_<u>":..,"mean_<u>":..,"stddev_<u>":..,"p50_<u>":..,
 *  "p90_<u>":..,"p99_<u>":..,"p99_9_<u>":..,"p99_99_<u>":..}
 * When h is empty, count is 0 and every other member is null (there is no minimum of no
 * values). The caller writes the key first when inside an object. */
void report_json_hist(struct json *j, const struct hist *h, enum report_unit unit);

/* The same with the caller's percentiles (0..100) in place of the default five, in the order
 * given (tcpkali's --latency-percentiles). */
void report_json_hist_pcts(struct json *j, const struct hist *h, enum report_unit unit,
                           const double *pcts, size_t npcts);

/* One --json-stream line: {"event":"<event>","data":{ ... }} then a newline and a flush.
 * j must be a compact writer (json_init(j, out, false)) between documents. Call
 * report_event_begin, write the data members (json_kv_*, json_key + values), then
 * report_event_end, which returns json_finish's result (0, or -1 on misuse or a stream
 * error). */
void report_event_begin(struct json *j, const char *event);
int report_event_end(struct json *j);

/* ---- text in the C locale ------------------------------------------------------------ */

/* fprintf / snprintf with LC_NUMERIC "C" whatever the process locale, so "%.3f" always
 * writes a '.' as the originals' output does. Same return values as fprintf / snprintf.
 * Non-finite values print as printf prints them ("inf", "-nan"), as flowgrind's table
 * does. Any thread. */
int report_printf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int report_vprintf(FILE *out, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int report_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "%.*f" of v into buf (truncated to size), returned for use as a "%s" argument:
 * report_fmt_fixed(b, sizeof(b), 0.25, 1) is "0.2" (round-half-even, as printf does). */
#define REPORT_FMT_BUF 64
const char *report_fmt_fixed(char *buf, size_t size, double v, int decimals);

#endif
