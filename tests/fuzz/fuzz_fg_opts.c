/* libFuzzer target for the flowgrind controller's command line (src/flowgrind/opts.c): the
 * input is split at NUL bytes into argv words after "flowgrind" and parsed, with help and
 * error text going to /dev/null. The parser must never crash or leak, must give one of its
 * three results, and on success every endpoint's settings must be within what the daemons
 * accept (specs/flowgrind.md §3.1). Parsing twice per input also checks that no state is
 * left behind between calls (getopt's is reset). */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgrind/opts.h"
#include "fuzz_argv.h"

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

#define MAX_WORDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_endpoint(const struct fg_opts_endpoint *oe, int flow)
{
    const struct fg_endpoint_settings *s = &oe->s;
    CHECK(s->flow_id == flow);
    CHECK(s->bind_address[0] != '\0');
    CHECK(strncmp(oe->url, "http://", 7) == 0);
    CHECK(s->write_delay >= 0 && s->write_duration >= 0);
    CHECK(s->read_delay >= 0 && s->read_duration >= 0);
    CHECK(s->reporting_interval >= 0);
    CHECK(s->requested_send_buffer_size >= 0 && s->requested_read_buffer_size >= 0);
    CHECK(s->maximum_block_size >= 40);
    CHECK(s->write_rate >= 0);
    CHECK(strlen(s->cc_alg) <= 15);
    CHECK(s->dscp >= 0 && s->dscp <= 63);
    CHECK(s->request.distribution >= 0 && s->request.distribution <= 6);
    CHECK(s->response.distribution >= 0 && s->response.distribution <= 6);
    CHECK(s->gap.distribution >= 0 && s->gap.distribution <= 6);
    CHECK(s->n_extra == 0);
}

static enum fg_opts_result parse_once(int argc, char **argv, FILE *sink)
{
    struct fg_opts o;
    enum fg_opts_result r = fg_opts_parse(argc, argv, &o, sink, sink);
    CHECK(r == FG_OPTS_RUN || r == FG_OPTS_DONE || r == FG_OPTS_ERROR);
    if (r != FG_OPTS_RUN) {
        CHECK(o.flows == NULL);
        return r;
    }
    CHECK(o.n_flows >= 1 && o.n_flows <= FG_OPTS_MAX_FLOWS);
    CHECK(o.interval_s > 0);
    for (int f = 0; f < o.n_flows; f++) {
        const struct fg_opts_flow *fl = &o.flows[f];
        CHECK(fl->ep[0].s.random_seed == fl->ep[1].s.random_seed);
        CHECK(fl->ep[0].s.write_duration > 0 || fl->ep[1].s.write_duration > 0);
        CHECK(fl->ep[0].s.read_duration == fl->ep[1].s.write_duration);
        for (int e = 0; e < 2; e++)
            check_endpoint(&fl->ep[e], f);
    }
    fg_opts_free(&o);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *argv[MAX_WORDS + 2];
    int argc;
    char *buf = fuzz_argv(data, size, "flowgrind", argv, MAX_WORDS, &argc);
    if (!buf)
        return 0;

    FILE *sink = fopen("/dev/null", "w");
    if (sink) {
        enum fg_opts_result first = parse_once(argc, argv, sink);
        CHECK(parse_once(argc, argv, sink) == first);
        fclose(sink);
    }
    free(buf);
    return 0;
}
