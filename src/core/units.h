#ifndef NETGRIND_CORE_UNITS_H
#define NETGRIND_CORE_UNITS_H

/* Numbers with units as the tools' command lines write them. Pure; every error fills err
 * with what was wrong ("'12x' is not a number", "'70000' is above 65535"). */

#include <stddef.h>
#include <stdint.h>

/* A strict unsigned decimal (no sign, no suffix, no spaces, no overflow) in [min, max].
 * 0 or -EINVAL / -ERANGE. */
int units_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                    size_t errlen);

#endif
