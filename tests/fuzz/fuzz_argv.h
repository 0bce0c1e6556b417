/* The command line of the option fuzzers (fuzz_*_opts.c): the input, NUL-separated, is the
 * words after argv[0]. */
#ifndef NETGRIND_FUZZ_ARGV_H
#define NETGRIND_FUZZ_ARGV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Fills argv (max + 2 slots) with argv0 and at most max - 1 words of data, then NULL, and
 * sets *argc. Returns the NUL-terminated copy of data the words point into (free it after
 * the last use of argv), or NULL when out of memory. */
static inline char *fuzz_argv(const uint8_t *data, size_t size, const char *argv0, char **argv,
                              int max, int *argc)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return NULL;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int n = 0;
    argv[n++] = (char *)argv0;
    for (char *p = buf; p < buf + size + 1 && n < max; p += strlen(p) + 1)
        argv[n++] = p;
    argv[n] = NULL;
    *argc = n;
    return buf;
}

#endif
