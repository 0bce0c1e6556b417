/* libFuzzer target for src/core/units.c: every parser on the same input, with the
 * invariants their contracts promise checked on success and on failure. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

/* The error text must be a terminated string that fits, and nonempty on failure. */
static void check_err(int rc, const char *err, size_t cap)
{
    size_t n = strnlen(err, cap);
    CHECK(n < cap);
    if (rc != 0)
        CHECK(n > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char err[128];
    uint64_t u = 0;
    double d = 0;
    int rc;

    err[0] = '\0';
    rc = units_parse_u64(s, 10, 65535, &u, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(u >= 10 && u <= 65535);

    err[0] = '\0';
    rc = units_parse_hex_u64(s, 0, 0x3f, &u, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(u <= 0x3f);

    err[0] = '\0';
    rc = units_parse_double(s, -1, 1e6, &d, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(isfinite(d) && d >= -1 && d <= 1e6);

    const struct units_suffix *tables[] = {UNITS_TCPKALI_COUNT, UNITS_TCPKALI_SIZE,
                                           UNITS_TCPKALI_TIME, UNITS_TCPKALI_BANDWIDTH};
    for (size_t i = 0; i < 4; i++) {
        err[0] = '\0';
        rc = units_parse_scaled("--opt", s, tables[i], &d, err, sizeof err);
        check_err(rc, err, sizeof err);
        if (rc == 0)
            CHECK(isfinite(d));
    }

    err[0] = '\0';
    rc = units_parse_count("-c", s, 1, 1000000, &u, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(u >= 1 && u <= 1000000);

    err[0] = '\0';
    rc = units_parse_size("--rcvbuf", s, 0, UINT64_MAX, &u, err, sizeof err);
    check_err(rc, err, sizeof err);

    err[0] = '\0';
    rc = units_parse_rate("-r", s, &d, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(isfinite(d) && d >= 0);

    err[0] = '\0';
    rc = units_parse_bandwidth("--bw", s, &d, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(isfinite(d) && d >= 0);

    err[0] = '\0';
    rc = units_parse_duration_ns("-T", s, &u, err, sizeof err);
    check_err(rc, err, sizeof err);

    err[0] = '\0';
    rc = units_parse_seconds_ns(s, &u, err, sizeof err);
    check_err(rc, err, sizeof err);

    err[0] = '\0';
    rc = units_parse_flowgrind_rate(s, &d, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(isfinite(d) && d > 0);

    /* A tiny error buffer must still be safe. */
    char tiny[1];
    (void)units_parse_scaled("--opt", s, UNITS_TCPKALI_TIME, &d, tiny, sizeof tiny);

    free(s);
    return 0;
}
