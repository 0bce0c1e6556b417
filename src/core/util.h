#ifndef NETGRIND_CORE_UTIL_H
#define NETGRIND_CORE_UTIL_H

#include <stddef.h>

/* The struct that embeds MEMBER at PTR: handlers embed a loop_fd or loop_timer in their
 * own state and get back to it here, so the loop never needs a void *user pointer. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_SEC 1000000000ULL

#endif
