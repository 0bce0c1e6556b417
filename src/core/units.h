#ifndef NETGRIND_CORE_UNITS_H
#define NETGRIND_CORE_UNITS_H

/* Numbers with units as the tools' command lines write them. Pure; every error fills err
 * with what was wrong ("'12x' is not a number", "'70000' is above 65535").
 *
 * Three grammars live here:
 * - strict decimals (seqtest, UDPing's ranges, flowgrind's plain numbers): units_parse_u64,
 *   units_parse_double, units_parse_hex_u64;
 * - tcpkali's suffix grammar: strtod() on the whole argument, then the rest must equal
 *   exactly one suffix of the option kind's table (case-sensitive): units_parse_scaled with
 *   one of the four UNITS_TCPKALI_* tables, and convenience wrappers that return the unit
 *   the engine uses (counts, bytes, ns, per second, bytes/s);
 * - flowgrind's rate "#.#(z|k|M|G)(b|B)": units_parse_flowgrind_rate.
 * All functions are pure and thread-safe. strtod follows LC_NUMERIC; the tools never call
 * setlocale, so the decimal point is always '.'. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A strict unsigned decimal (no sign, no suffix, no spaces, no overflow) in [min, max].
 * 0 or -EINVAL / -ERANGE. */
int units_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                    size_t errlen);

/* A strict hexadecimal number, with or without a "0x"/"0X" prefix, in [min, max]
 * (flowgrind's -D DSCP). 0, or -EINVAL ("'x' is not a hexadecimal number") / -ERANGE. */
int units_parse_hex_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                        size_t errlen);

/* A finite decimal number (strtod syntax, no leading space, nothing after it) in
 * [min, max]. 0, or -EINVAL ("'x' is not a number") / -ERANGE ("'x' is below 0"). */
int units_parse_double(const char *s, double min, double max, double *out, char *err,
                       size_t errlen);

/* One row of a suffix table: the exact suffix text and the factor it applies. Tables end
 * with a row whose suffix is NULL. No suffix at all always means a factor of 1. */
struct units_suffix {
    const char *suffix;
    double mult;
};

/* tcpkali's tables (tcpkali.md §2).
 * COUNT: N and Rate (-c, --connect-rate, -r, --latency-marker-skip): k=1e3, m=1e6.
 * SIZE: SizeBytes (--rcvbuf, --sndbuf): k=1024, m=1048576.
 * TIME: Time and Latency, in seconds: ms/millisecond(s), s/second(s), m/min/minute(s),
 *       h/hr/hour(s), d/day(s), y/year(s).
 * BANDWIDTH: in bytes/s: bps, kbps/Kbps, mbps/Mbps, gbps/Gbps (bits); Bps, kBps/KBps,
 *       mBps/MBps, gBps/GBps (bytes). */
extern const struct units_suffix UNITS_TCPKALI_COUNT[];
extern const struct units_suffix UNITS_TCPKALI_SIZE[];
extern const struct units_suffix UNITS_TCPKALI_TIME[];
extern const struct units_suffix UNITS_TCPKALI_BANDWIDTH[];

/* tcpkali's parse_with_multipliers: strtod on the whole of s, then the rest must equal one
 * suffix of table exactly. The value may be negative or fractional (the caller checks its
 * range, as tcpkali does). Returns 0 and *out, or:
 *   -EINVAL  "Unknown prefix \"<rest>\" in <s>"         (tcpkali's text)
 *   -EDOM    "\"<s>\" is not a number"                  (tcpkali printed nothing here; its
 *                                                         own range check followed)
 *   -ERANGE  "Option <opt> parses to infinite value"    (tcpkali's text; also for NaN)
 * opt is the option's name as the message should show it (e.g. "--duration"). */
int units_parse_scaled(const char *opt, const char *s, const struct units_suffix *table,
                       double *out, char *err, size_t errlen);

/* Convenience wrappers on units_parse_scaled for new code: the same grammar and messages,
 * plus a range check ("'-1' must not be negative", "'1.5' is not a whole number",
 * "'5m' is above 1000"), and the result in the engine's unit. */

/* An N (COUNT table) that must be a whole number in [min, max]. */
int units_parse_count(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                      char *err, size_t errlen);
/* A Rate (COUNT table) per second, >= 0, may be fractional. */
int units_parse_rate(const char *opt, const char *s, double *per_sec, char *err, size_t errlen);
/* A SizeBytes (SIZE table): a whole number of bytes in [min, max]. */
int units_parse_size(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *bytes,
                     char *err, size_t errlen);
/* A Time (TIME table), >= 0, rounded to the nearest nanosecond; -ERANGE above UINT64_MAX
 * ns (about 584 years). A nonzero time that rounds to 0 ns is an error. */
int units_parse_duration_ns(const char *opt, const char *s, uint64_t *ns, char *err, size_t errlen);
/* A Bandwidth (BANDWIDTH table) in bytes per second, >= 0. */
int units_parse_bandwidth(const char *opt, const char *s, double *bytes_per_sec, char *err,
                          size_t errlen);

/* Seconds as a decimal number (flowgrind's -T, -Y, -i: "#.#", no suffix), >= 0, rounded to
 * the nearest nanosecond. 0, or -EINVAL / -ERANGE with err filled. */
int units_parse_seconds_ns(const char *s, uint64_t *ns, char *err, size_t errlen);

/* Converts seconds to nanoseconds, rounded to nearest. -ERANGE when negative, not finite
 * or above UINT64_MAX ns. */
int units_seconds_to_ns(double seconds, uint64_t *ns);

/* flowgrind's -R value "#.#(z|k|M|G)(b|B)" (flowgrind.md §2.5, §5.4): a number, a unit
 * letter (z = 1, k = 2^10, M = 2^20, G = 2^30; binary even for bits) and a type letter
 * (b = bits/s, divided by 8; B = bytes/s), both letters required. *bytes_per_sec is not
 * truncated (the caller decides). Errors, in flowgrind's order and words:
 *   -EINVAL "illegal unit specifier"                      (a letter other than z, k, M, G)
 *   -EINVAL "illegal type specifier (either 'b' or 'B')"  (missing or other type letter)
 *   -EINVAL "'x' is not a number", "unexpected 'x' after the rate"
 *   -ERANGE "rate must be positive", "rate is not finite" */
int units_parse_flowgrind_rate(const char *s, double *bytes_per_sec, char *err, size_t errlen);

#endif
