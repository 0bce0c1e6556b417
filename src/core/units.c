/* Numbers with units: strict decimals and the tools' suffix grammars. */

#include "core/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct units_suffix UNITS_TCPKALI_COUNT[] = {
    {"k", 1e3},
    {"m", 1e6},
    {NULL, 0},
};

const struct units_suffix UNITS_TCPKALI_SIZE[] = {
    {"k", 1024.0},
    {"m", 1048576.0},
    {NULL, 0},
};

const struct units_suffix UNITS_TCPKALI_TIME[] = {
    {"ms", 0.001},
    {"millisecond", 0.001},
    {"milliseconds", 0.001},
    {"s", 1},
    {"second", 1},
    {"seconds", 1},
    {"m", 60},
    {"min", 60},
    {"minute", 60},
    {"minutes", 60},
    {"h", 3600},
    {"hr", 3600},
    {"hour", 3600},
    {"hours", 3600},
    {"d", 86400},
    {"day", 86400},
    {"days", 86400},
    {"y", 31536000},
    {"year", 31536000},
    {"years", 31536000},
    {NULL, 0},
};

const struct units_suffix UNITS_TCPKALI_BANDWIDTH[] = {
    {"bps", 1.0 / 8}, {"kbps", 125},    {"Kbps", 125}, {"mbps", 125000}, {"Mbps", 125000},
    {"gbps", 1.25e8}, {"Gbps", 1.25e8}, {"Bps", 1},    {"kBps", 1000},   {"KBps", 1000},
    {"mBps", 1e6},    {"MBps", 1e6},    {"gBps", 1e9}, {"GBps", 1e9},    {NULL, 0},
};

static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Accumulates the digits of s in the given base (10 or 16). false on a non-digit or an
 * empty string; *overflow is set when the value does not fit. */
static bool accumulate_digits(const char *s, unsigned base, uint64_t *out, bool *overflow)
{
    uint64_t v = 0;
    *overflow = false;
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            *overflow = true;
        else
            v = v * base + d;
    }
    *out = v;
    return true;
}

/* The range check shared by the integer parsers; fmt_max prints max in the given style. */
static int check_u64_range(const char *s, bool overflow, uint64_t v, uint64_t min, uint64_t max,
                           bool hex, uint64_t *out, char *err, size_t errlen)
{
    if (overflow || v > max) {
        snprintf(err, errlen, hex ? "'%s' is above 0x%llx" : "'%s' is above %llu", s,
                 (unsigned long long)max);
        return -ERANGE;
    }
    if (v < min) {
        snprintf(err, errlen, hex ? "'%s' is below 0x%llx" : "'%s' is below %llu", s,
                 (unsigned long long)min);
        return -ERANGE;
    }
    *out = v;
    return 0;
}

int units_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                    size_t errlen)
{
    if (!s || !*s) {
        snprintf(err, errlen, "empty value where a number is expected");
        return -EINVAL;
    }
    uint64_t v = 0;
    bool overflow;
    if (!accumulate_digits(s, 10, &v, &overflow)) {
        snprintf(err, errlen, "'%s' is not a number", s);
        return -EINVAL;
    }
    return check_u64_range(s, overflow, v, min, max, false, out, err, errlen);
}

int units_parse_hex_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                        size_t errlen)
{
    if (!s || !*s) {
        snprintf(err, errlen, "empty value where a hexadecimal number is expected");
        return -EINVAL;
    }
    const char *digits = s;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        digits = s + 2;
    uint64_t v = 0;
    bool overflow;
    if (!accumulate_digits(digits, 16, &v, &overflow)) {
        snprintf(err, errlen, "'%s' is not a hexadecimal number", s);
        return -EINVAL;
    }
    return check_u64_range(s, overflow, v, min, max, true, out, err, errlen);
}

/* strtod with the checks every caller wants: something was parsed, no leading space.
 * Returns a pointer to the rest, or NULL when s does not start with a number. */
static const char *parse_leading_double(const char *s, double *out)
{
    if (!*s || is_space(*s))
        return NULL;
    char *end = NULL;
    *out = strtod(s, &end);
    if (end == s)
        return NULL;
    return end;
}

int units_parse_double(const char *s, double min, double max, double *out, char *err, size_t errlen)
{
    double v;
    const char *rest = s ? parse_leading_double(s, &v) : NULL;
    if (!rest || *rest) {
        snprintf(err, errlen, "'%s' is not a number", s ? s : "");
        return -EINVAL;
    }
    if (!isfinite(v)) {
        snprintf(err, errlen, "'%s' is not a finite number", s);
        return -ERANGE;
    }
    if (v < min) {
        snprintf(err, errlen, "'%s' is below %.15g", s, min);
        return -ERANGE;
    }
    if (v > max) {
        snprintf(err, errlen, "'%s' is above %.15g", s, max);
        return -ERANGE;
    }
    *out = v;
    return 0;
}

int units_parse_scaled(const char *opt, const char *s, const struct units_suffix *table,
                       double *out, char *err, size_t errlen)
{
    if (!s || !*s) {
        snprintf(err, errlen, "\"\" is not a number");
        return -EDOM;
    }
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s) {
        snprintf(err, errlen, "\"%s\" is not a number", s);
        return -EDOM;
    }
    if (*end) {
        const struct units_suffix *row = table;
        while (row->suffix && strcmp(end, row->suffix) != 0)
            row++;
        if (!row->suffix) {
            snprintf(err, errlen, "Unknown prefix \"%s\" in %s", end, s);
            return -EINVAL;
        }
        v *= row->mult;
    }
    if (!isfinite(v)) {
        snprintf(err, errlen, "Option %s parses to infinite value", opt ? opt : "");
        return -ERANGE;
    }
    *out = v;
    return 0;
}

/* units_parse_scaled, then a check that the value is not negative. */
static int parse_scaled_nonneg(const char *opt, const char *s, const struct units_suffix *table,
                               double *out, char *err, size_t errlen)
{
    int rc = units_parse_scaled(opt, s, table, out, err, errlen);
    if (rc)
        return rc;
    if (*out < 0 || signbit(*out)) {
        if (*out == 0) { /* "-0" is zero */
            *out = 0;
            return 0;
        }
        snprintf(err, errlen, "'%s' must not be negative", s);
        return -ERANGE;
    }
    return 0;
}

/* A nonnegative double that must be a whole number in [min, max]. */
static int whole_in_range(const char *s, double v, uint64_t min, uint64_t max, uint64_t *out,
                          char *err, size_t errlen)
{
    if (v != floor(v)) {
        snprintf(err, errlen, "'%s' is not a whole number", s);
        return -EINVAL;
    }
    /* 2^64 is exactly representable; anything at or above it does not fit. */
    if (v >= 18446744073709551616.0 || (uint64_t)v > max) {
        snprintf(err, errlen, "'%s' is above %llu", s, (unsigned long long)max);
        return -ERANGE;
    }
    if ((uint64_t)v < min) {
        snprintf(err, errlen, "'%s' is below %llu", s, (unsigned long long)min);
        return -ERANGE;
    }
    *out = (uint64_t)v;
    return 0;
}

int units_parse_count(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                      char *err, size_t errlen)
{
    double v;
    int rc = parse_scaled_nonneg(opt, s, UNITS_TCPKALI_COUNT, &v, err, errlen);
    return rc ? rc : whole_in_range(s, v, min, max, out, err, errlen);
}

int units_parse_rate(const char *opt, const char *s, double *per_sec, char *err, size_t errlen)
{
    return parse_scaled_nonneg(opt, s, UNITS_TCPKALI_COUNT, per_sec, err, errlen);
}

int units_parse_size(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *bytes,
                     char *err, size_t errlen)
{
    double v;
    int rc = parse_scaled_nonneg(opt, s, UNITS_TCPKALI_SIZE, &v, err, errlen);
    return rc ? rc : whole_in_range(s, v, min, max, bytes, err, errlen);
}

int units_seconds_to_ns(double seconds, uint64_t *ns)
{
    if (!isfinite(seconds) || seconds < 0)
        return -ERANGE;
    double v = round(seconds * 1e9);
    if (v >= 18446744073709551616.0)
        return -ERANGE;
    *ns = (uint64_t)v;
    return 0;
}

/* Seconds to ns with the messages shared by the duration parsers. */
static int seconds_to_ns_msg(const char *s, double seconds, uint64_t *ns, char *err, size_t errlen)
{
    if (units_seconds_to_ns(seconds, ns) < 0) {
        snprintf(err, errlen, "'%s' is too long a time (at most 584 years)", s);
        return -ERANGE;
    }
    if (*ns == 0 && seconds > 0) {
        snprintf(err, errlen, "'%s' is shorter than a nanosecond", s);
        return -ERANGE;
    }
    return 0;
}

int units_parse_duration_ns(const char *opt, const char *s, uint64_t *ns, char *err, size_t errlen)
{
    double v;
    int rc = parse_scaled_nonneg(opt, s, UNITS_TCPKALI_TIME, &v, err, errlen);
    return rc ? rc : seconds_to_ns_msg(s, v, ns, err, errlen);
}

int units_parse_bandwidth(const char *opt, const char *s, double *bytes_per_sec, char *err,
                          size_t errlen)
{
    return parse_scaled_nonneg(opt, s, UNITS_TCPKALI_BANDWIDTH, bytes_per_sec, err, errlen);
}

int units_parse_seconds_ns(const char *s, uint64_t *ns, char *err, size_t errlen)
{
    double v;
    int rc = units_parse_double(s, 0, INFINITY, &v, err, errlen);
    if (rc == -ERANGE && s && s[0] == '-')
        snprintf(err, errlen, "'%s' must not be negative", s);
    if (rc)
        return rc;
    return seconds_to_ns_msg(s, v, ns, err, errlen);
}

static double flowgrind_unit_factor(char unit)
{
    switch (unit) {
    case 'z':
        return 1;
    case 'k':
        return 1 << 10;
    case 'M':
        return 1 << 20;
    case 'G':
        return 1 << 30;
    default:
        return 0;
    }
}

int units_parse_flowgrind_rate(const char *s, double *bytes_per_sec, char *err, size_t errlen)
{
    double v;
    const char *rest = s ? parse_leading_double(s, &v) : NULL;
    if (!rest) {
        snprintf(err, errlen, "'%s' is not a number", s ? s : "");
        return -EINVAL;
    }
    /* flowgrind checks the unit letter first (an absent one passes), then the type. */
    double factor = 1;
    if (rest[0]) {
        factor = flowgrind_unit_factor(rest[0]);
        if (factor == 0) {
            snprintf(err, errlen, "illegal unit specifier");
            return -EINVAL;
        }
    }
    if (!rest[0] || (rest[1] != 'b' && rest[1] != 'B')) {
        snprintf(err, errlen, "illegal type specifier (either 'b' or 'B')");
        return -EINVAL;
    }
    if (rest[2]) {
        snprintf(err, errlen, "unexpected '%s' after the rate", rest + 2);
        return -EINVAL;
    }
    v *= factor;
    if (rest[1] == 'b')
        v /= 8;
    if (!isfinite(v)) {
        snprintf(err, errlen, "rate is not finite");
        return -ERANGE;
    }
    if (!(v > 0)) {
        snprintf(err, errlen, "rate must be positive");
        return -ERANGE;
    }
    *bytes_per_sec = v;
    return 0;
}
