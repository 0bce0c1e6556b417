/* libFuzzer target for tcpkali's command line (src/tcpkali/opts.c): the input is split at
 * NUL bytes into argv words after "tcpkali", then parsed and run through the checks that
 * need no network (the early checks; destinations are never resolved). The parser must never
 * crash, and must either go on or stop with a documented exit code and a message. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpkali/opts.h"
#include "fuzz_argv.h"

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

#define MAX_WORDS 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool known_code(int code)
{
    /* 66: a --ssl listener's certificate or key file is missing. */
    return code == 0 || code == 64 || code == 65 || code == 66 || code == 70;
}

/* A word that could make the parser read a file the fuzzer names (/dev/zero would never
 * end): -f in a cluster of short options, or a long option abbreviating a file option. */
static bool reads_files(const char *w)
{
    if (w[0] != '-')
        return false;
    if (w[1] != '-')
        return strchr(w, 'f') != NULL;
    size_t n = strcspn(w, "=");
    return (n <= strlen("--message-file") && strncmp(w, "--message-file", n) == 0) ||
           (n <= strlen("--first-message-file") && strncmp(w, "--first-message-file", n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *argv[MAX_WORDS + 2];
    int argc;
    char *buf = fuzz_argv(data, size, "tcpkali", argv, MAX_WORDS, &argc);
    if (!buf)
        return 0;
    /* File options would read the fuzzer's paths: keep them out. */
    for (int i = 1; i < argc; i++)
        if (reads_files(argv[i]))
            argv[i] = (char *)"-v";

    FILE *sink = fopen("/dev/null", "w");
    struct tk_opts o;
    tk_opts_init(&o, sink, sink);
    o.ncpus = 2;
    bool ok = tk_opts_parse(&o, argc, argv);
    if (ok)
        ok = tk_opts_check_early(&o);
    if (!ok) {
        CHECK(known_code(o.exit_code));
        if (o.exit_code != 0)
            CHECK(o.error[0] != '\0' || o.exit_code == 64);
    } else {
        const struct tk_config *c = &o.cfg;
        CHECK(c->connections >= 1);
        CHECK(c->connect_rate > 0);
        CHECK(c->duration_ns > 0);
        CHECK(c->workers >= 1 && c->workers <= 2);
        CHECK(c->npercentiles >= 1 && c->npercentiles <= TK_MAX_PERCENTILES);
        for (size_t i = 0; i < c->npercentiles; i++)
            CHECK(c->percentiles[i].value >= 0 && c->percentiles[i].value <= 100);
        CHECK(c->verbose >= 0 && c->verbose <= 3);
        CHECK(c->ssl_cert != NULL && c->ssl_key != NULL);
        CHECK(!c->nheaders || c->websocket); /* -H without --ws stops early */
        for (size_t i = 0; i < c->nmsgs; i++)
            CHECK(c->msgs[i].text != NULL || c->msgs[i].len == 0);
    }
    tk_opts_free(&o);
    fclose(sink);
    free(buf);
    return 0;
}
