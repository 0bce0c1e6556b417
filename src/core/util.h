#ifndef NETGRIND_CORE_UTIL_H
#define NETGRIND_CORE_UTIL_H

#include <stddef.h>

/* The struct that embeds MEMBER at PTR: handlers embed a loop_fd or loop_timer in their
 * own state and get back to it here, so the loop never needs a void *user pointer. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The value of a hexadecimal digit (either case), or -1 for any other character. */
static inline int util_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_SEC 1000000000ULL

#endif
