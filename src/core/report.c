#include "core/report.h"

#include <errno.h>
#include <locale.h>
#include <string.h>

/* ---- interval schedule ---------------------------------------------------------------- */

int report_schedule_init(struct report_schedule *s, uint64_t start_ns, uint64_t interval_ns)
{
    if (interval_ns == 0)
        return -EINVAL;
    s->start_ns = start_ns;
    s->interval_ns = interval_ns;
    s->next = 0;
    return 0;
}

/* start + n*I, saturated: a schedule never wraps into the past. */
static uint64_t schedule_at(const struct report_schedule *s, uint64_t n)
{
    uint64_t offset, t;
    if (__builtin_mul_overflow(n, s->interval_ns, &offset) ||
        __builtin_add_overflow(s->start_ns, offset, &t))
        return UINT64_MAX;
    return t;
}

uint64_t report_schedule_deadline(const struct report_schedule *s, uint64_t k)
{
    if (k == UINT64_MAX)
        return UINT64_MAX;
    return schedule_at(s, k + 1);
}

uint64_t report_schedule_next_deadline(const struct report_schedule *s)
{
    return report_schedule_deadline(s, s->next);
}

/* How many intervals have ended by now: floor((now - start) / I). */
static uint64_t intervals_ended(const struct report_schedule *s, uint64_t now_ns)
{
    if (now_ns < s->start_ns)
        return 0;
    return (now_ns - s->start_ns) / s->interval_ns;
}

bool report_schedule_due(struct report_schedule *s, uint64_t now_ns, struct report_tick *t)
{
    uint64_t ended = intervals_ended(s, now_ns);
    if (ended <= s->next)
        return false;
    t->first = s->next;
    t->index = ended - 1;
    t->missed = t->index - t->first;
    t->begin_ns = schedule_at(s, t->first);
    t->end_ns = report_schedule_deadline(s, t->index);
    t->late_ns = now_ns - t->end_ns;
    t->partial = false;
    s->next = ended;
    return true;
}

bool report_schedule_final(struct report_schedule *s, uint64_t now_ns, struct report_tick *t)
{
    t->first = s->next;
    t->begin_ns = schedule_at(s, s->next);
    t->late_ns = 0;
    if (now_ns <= t->begin_ns) {
        t->index = t->first;
        t->missed = 0;
        t->end_ns = t->begin_ns;
        t->partial = true;
        return false;
    }
    /* The interval that contains now, or that ends exactly at now. */
    uint64_t since = now_ns - s->start_ns;
    uint64_t last = since / s->interval_ns - (since % s->interval_ns == 0 ? 1 : 0);
    t->index = last;
    t->missed = last - t->first;
    t->end_ns = now_ns;
    t->partial = now_ns < report_schedule_deadline(s, last);
    s->next = last + 1;
    return true;
}

/* ---- JSON shapes --------------------------------------------------------------------- */

static const double default_pcts[] = {50.0, 90.0, 99.0, 99.9, 99.99};

const char *report_unit_suffix(enum report_unit unit)
{
    switch (unit) {
    case REPORT_UNIT_US:
        return "us";
    case REPORT_UNIT_MS:
        return "ms";
    case REPORT_UNIT_NS:
        break;
    }
    return "ns";
}

int report_percentile_key(char *buf, size_t size, double p, enum report_unit unit)
{
    char num[JSON_NUM_BUF];
    if (json_format_double(num, sizeof(num), p) < 0)
        return -1;
    for (char *c = num; *c; c++)
        if (*c == '.')
            *c = '_';
    int n = snprintf(buf, size, "p%s_%s", num, report_unit_suffix(unit));
    if (n < 0 || (size_t)n >= size)
        return -1;
    return n;
}

/* A nanosecond figure in the caller's unit; integral ones stay exact integers in ns. */
static void json_ns_u64(struct json *j, uint64_t ns, enum report_unit unit)
{
    switch (unit) {
    case REPORT_UNIT_US:
        json_fixed(j, (double)ns / 1e3, 3);
        return;
    case REPORT_UNIT_MS:
        json_fixed(j, (double)ns / 1e6, 6);
        return;
    case REPORT_UNIT_NS:
        break;
    }
    json_u64(j, ns);
}

static void json_ns_double(struct json *j, double ns, enum report_unit unit)
{
    switch (unit) {
    case REPORT_UNIT_US:
        json_fixed(j, ns / 1e3, 3);
        return;
    case REPORT_UNIT_MS:
        json_fixed(j, ns / 1e6, 6);
        return;
    case REPORT_UNIT_NS:
        break;
    }
    json_fixed(j, ns, 1);
}

/* Writes the key "<name>_<unit>"; false when the value is to be null (empty histogram). */
static bool json_key_ns(struct json *j, const char *name, enum report_unit unit, bool empty)
{
    char key[64];
    snprintf(key, sizeof(key), "%s_%s", name, report_unit_suffix(unit));
    json_key(j, key);
    if (empty)
        json_null(j);
    return !empty;
}

void report_json_hist_pcts(struct json *j, const struct hist *h, enum report_unit unit,
                           const double *pcts, size_t npcts)
{
    bool empty = hist_count(h) == 0;
    json_object_begin(j);
    json_kv_u64(j, "count", hist_count(h));
    if (json_key_ns(j, "min", unit, empty))
        json_ns_u64(j, hist_min(h), unit);
    if (json_key_ns(j, "max", unit, empty))
        json_ns_u64(j, hist_max(h), unit);
    if (json_key_ns(j, "mean", unit, empty))
        json_ns_double(j, hist_mean(h), unit);
    if (json_key_ns(j, "stddev", unit, empty))
        json_ns_double(j, hist_stddev(h), unit);
    for (size_t i = 0; i < npcts; i++) {
        char key[64];
        if (report_percentile_key(key, sizeof(key), pcts[i], unit) < 0) {
            j->error = true; /* a non-finite percentile is the caller's bug */
            continue;
        }
        json_key(j, key);
        if (empty)
            json_null(j);
        else
            json_ns_u64(j, hist_percentile(h, pcts[i]), unit);
    }
    json_object_end(j);
}

void report_json_hist(struct json *j, const struct hist *h, enum report_unit unit)
{
    report_json_hist_pcts(j, h, unit, default_pcts, sizeof(default_pcts) / sizeof(default_pcts[0]));
}

void report_event_begin(struct json *j, const char *event)
{
    json_object_begin(j);
    json_kv_string(j, "event", event);
    json_key(j, "data");
    json_object_begin(j);
}

int report_event_end(struct json *j)
{
    json_object_end(j);
    json_object_end(j);
    return json_finish(j);
}

/* ---- text in the C locale ------------------------------------------------------------ */

int report_vprintf(FILE *out, const char *fmt, va_list ap)
{
    locale_t c = json_c_locale();
    locale_t old = c ? uselocale(c) : (locale_t)0;
    int n = vfprintf(out, fmt, ap);
    if (c)
        uselocale(old);
    return n;
}

int report_printf(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = report_vprintf(out, fmt, ap);
    va_end(ap);
    return n;
}

int report_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    locale_t c = json_c_locale();
    locale_t old = c ? uselocale(c) : (locale_t)0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (c)
        uselocale(old);
    return n;
}

const char *report_fmt_fixed(char *buf, size_t size, double v, int decimals)
{
    report_snprintf(buf, size, "%.*f", decimals, v);
    return buf;
}
