/* The flowgrind controller's command line (src/flowgrind/opts.c; specs/flowgrind.md §2, §3.1,
 * §3.5, §4.5, §6.2, §7.4, §8.1): every option's effect on the settings sent to each flow
 * endpoint, 0.8.2's error texts (compared with /usr/bin/flowgrind 0.8.2, stderr byte for
 * byte), the checks after parsing, and netgrind's fixes of 0.8.2's option bugs. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowgrind/opts.h"

#define MAX_WORDS 48
#define TRY "Try 'flowgrind -h' for more information\n"

/* One parse: the result, the options and what went to out and errout. */
struct res {
    enum fg_opts_result rc;
    struct fg_opts o;
    char *out, *err;
};

static struct res R;

static void free_res(void)
{
    if (R.rc == FG_OPTS_RUN && R.o.flows)
        fg_opts_free(&R.o);
    free(R.out);
    free(R.err);
    memset(&R, 0, sizeof R);
    R.rc = FG_OPTS_ERROR;
}

static enum fg_opts_result run_words(const char *const *words)
{
    free_res();
    char *argv[MAX_WORDS + 2];
    int argc = 0;
    argv[argc++] = strdup("/usr/bin/flowgrind");
    for (size_t i = 0; words[i]; i++)
        argv[argc++] = strdup(words[i]);
    argv[argc] = NULL;
    size_t n_out, n_err;
    FILE *out = open_memstream(&R.out, &n_out);
    FILE *err = open_memstream(&R.err, &n_err);
    assert_non_null(out);
    assert_non_null(err);
    R.rc = fg_opts_parse(argc, argv, &R.o, out, err);
    fclose(out);
    fclose(err);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return R.rc;
}

#define RUN(...) run_words((const char *const[]){__VA_ARGS__, NULL})

static void expect_ok(void)
{
    if (R.rc != FG_OPTS_RUN)
        print_error("parse stopped with %d:\n%s", R.rc, R.err);
    assert_int_equal(R.rc, FG_OPTS_RUN);
}

/* Expects an error with exactly this stderr. */
static void expect_error(const char *err)
{
    if (R.rc != FG_OPTS_ERROR || strcmp(R.err, err) != 0)
        print_error("rc %d, stderr:\n%s---- want:\n%s----\n", R.rc, R.err, err);
    assert_int_equal(R.rc, FG_OPTS_ERROR);
    assert_string_equal(R.err, err);
    assert_null(R.o.flows);
}

/* A parse error: 0.8.2's "flowgrind: error: MSG" and the hint. */
static void expect_usage(const char *msg)
{
    char want[512];
    snprintf(want, sizeof want, "flowgrind: error: %s\n" TRY, msg);
    expect_error(want);
}

/* An error of the checks after parsing: no hint. */
static void expect_after_parse(const char *msg)
{
    char want[512];
    snprintf(want, sizeof want, "flowgrind: error: %s\n", msg);
    expect_error(want);
}

static const struct fg_endpoint_settings *S(int flow)
{
    return &R.o.flows[flow].ep[FG_SOURCE].s;
}

static const struct fg_endpoint_settings *D(int flow)
{
    return &R.o.flows[flow].ep[FG_DESTINATION].s;
}

static void assert_dist(const struct fg_dist_param *d, int code, double p1, double p2)
{
    assert_int_equal(d->distribution, code);
    assert_true(d->param_one == p1);
    assert_true(d->param_two == p2);
}

/* ---- defaults and the §4.5 capture -------------------------------------------------------- */

/* Everything an endpoint without options gets (§4.4's request), per endpoint. */
static void assert_defaults(const struct fg_endpoint_settings *s, int flow, bool source)
{
    assert_string_equal(s->bind_address, "localhost");
    assert_int_equal(s->flow_id, flow);
    assert_true(s->write_delay == 0 && s->read_delay == 0);
    assert_true(s->write_duration == (source ? 10 : 0));
    assert_true(s->read_duration == (source ? 0 : 10));
    assert_true(s->reporting_interval == 0.05);
    assert_int_equal(s->requested_send_buffer_size, 0);
    assert_int_equal(s->requested_read_buffer_size, 0);
    assert_int_equal(s->maximum_block_size, 8192);
    assert_false(s->traffic_dump || s->so_debug || s->route_record || s->pushy || s->shutdown);
    assert_int_equal(s->write_rate, 0);
    assert_dist(&s->request, FG_DIST_CONSTANT, 8192, 0);
    assert_dist(&s->response, FG_DIST_CONSTANT, 0, 0);
    assert_dist(&s->gap, FG_DIST_CONSTANT, 0, 0);
    assert_false(s->flow_control || s->byte_counting);
    assert_int_equal(s->cork + s->nonagle + s->elcn + s->lcd + s->mtcp + s->dscp, 0);
    assert_int_equal(s->ipmtudiscover, 0);
    assert_string_equal(s->cc_alg, "");
    assert_string_equal(s->dump_prefix, "flowgrind-");
    assert_int_equal(s->num_extra_socket_options, 0);
    assert_int_equal(s->n_extra, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    RUN("-n", "3");
    expect_ok();
    assert_int_equal(R.o.n_flows, 3);
    assert_true(R.o.interval_s == 0.05);
    assert_int_equal(R.o.table.groups, FG_GROUP_DEFAULT);
    assert_false(R.o.table.mib || R.o.table.numeric || R.o.quiet || R.o.log_to_file);
    assert_false(R.o.overwrite || R.o.json || R.o.show_rtt || R.o.show_delay);
    assert_int_equal(R.o.tcp_stack, FG_TCP_STACK_AUTO);
    assert_string_equal(R.o.progname, "flowgrind");
    assert_string_equal(R.o.log_file, "");
    assert_string_equal(R.err, "");
    for (int f = 0; f < 3; f++) {
        const struct fg_opts_flow *fl = &R.o.flows[f];
        assert_defaults(S(f), f, true);
        assert_defaults(D(f), f, false);
        assert_false(fl->late_connect || fl->quiet || fl->seed_given);
        /* a seed from the urandom device, the same at both endpoints, never 0 ("daemon picks") */
        assert_int_not_equal(S(f)->random_seed, 0);
        assert_int_equal(S(f)->random_seed, D(f)->random_seed);
        for (int e = 0; e < 2; e++) {
            const struct fg_opts_endpoint *oe = &fl->ep[e];
            assert_string_equal(oe->host.test, "localhost");
            assert_string_equal(oe->url, "http://localhost:5999/RPC2");
            assert_string_equal(oe->label, "localhost");
            assert_string_equal(oe->rate_text, "");
            assert_false(oe->cc_given);
        }
    }
    /* per flow: three 32-bit draws colliding is a 1 in 2^31 event */
    assert_false(S(0)->random_seed == S(1)->random_seed && S(1)->random_seed == S(2)->random_seed);
}

/* §4.5 "How options map": the real controller's second capture, member by member. */
static void test_capture_mapping(void **state)
{
    (void)state;
    RUN("-T", "s=1,d=1", "-Y", "d=0.2", "-L", "-N", "-Q", "-R", "s=10Mb", "-O", "s=TCP_NODELAY",
        "-O", "d=TCP_CONGESTION=reno", "-D", "s=0x2e", "-J", "12345", "-A", "s", "-E");
    expect_ok();
    assert_string_equal(R.err, "");
    const struct fg_endpoint_settings *d = D(0), *s = S(0);
    assert_true(d->write_delay == 0.2 && d->write_duration == 1);
    assert_true(d->read_delay == 0 && d->read_duration == 1);
    assert_true(d->reporting_interval == 0);
    assert_true(d->shutdown && d->byte_counting);
    assert_int_equal(d->random_seed, 12345);
    assert_string_equal(d->cc_alg, "reno");
    assert_int_equal(d->write_rate, 0);
    assert_int_equal(d->nonagle, 0);
    assert_int_equal(d->dscp, 0);
    assert_dist(&d->response, FG_DIST_CONSTANT, 0, 0);
    assert_true(s->write_delay == 0 && s->write_duration == 1);
    assert_true(s->read_delay == 0.2 && s->read_duration == 1);
    assert_true(s->reporting_interval == 0);
    assert_true(s->shutdown && s->byte_counting);
    assert_int_equal(s->write_rate, 1310720);
    assert_int_equal(s->random_seed, 12345);
    assert_dist(&s->response, FG_DIST_CONSTANT, 40, 0);
    assert_int_equal(s->nonagle, 1);
    assert_int_equal(s->dscp, 46);
    assert_string_equal(s->cc_alg, "");
    assert_int_equal(s->maximum_block_size, 8192);
    assert_dist(&s->request, FG_DIST_CONSTANT, 8192, 0);
    const struct fg_opts_flow *fl = &R.o.flows[0];
    assert_true(fl->late_connect && fl->quiet && fl->seed_given);
    assert_true(fl->ep[FG_DESTINATION].cc_given);
    assert_false(fl->ep[FG_SOURCE].cc_given);
    assert_string_equal(fl->ep[FG_SOURCE].rate_text, "10Mb");
    assert_true(R.o.show_rtt);
    assert_int_equal(R.o.table.groups, FG_GROUP_DEFAULT | FG_GROUP_RTT);
}

/* ---- -H ------------------------------------------------------------------------------------ */

static void test_host_forms(void **state)
{
    (void)state;
    RUN("-n", "4", "-F", "0", "-H", "s=127.0.0.1,d=::1", "-F", "1", "-H",
        "b=10.0.0.1/127.0.0.1:20100", "-F", "2", "-H", "s=127.0.0.1:20100", "-H", "d=[::1]:6000",
        "-F", "3", "-H", "s=::1/[::1]:20100", "-H", "d=host.example/ctl");
    expect_ok();
    const struct fg_opts_flow *f = R.o.flows;
    assert_string_equal(S(0)->bind_address, "127.0.0.1");
    assert_string_equal(f[0].ep[0].url, "http://127.0.0.1:5999/RPC2");
    assert_string_equal(f[0].ep[0].label, "127.0.0.1");
    assert_string_equal(D(0)->bind_address, "::1");
    assert_string_equal(f[0].ep[1].url, "http://[::1]:5999/RPC2");
    for (int e = 0; e < 2; e++) {
        assert_string_equal(f[1].ep[e].s.bind_address, "10.0.0.1");
        assert_string_equal(f[1].ep[e].url, "http://127.0.0.1:20100/RPC2");
        assert_string_equal(f[1].ep[e].label, "10.0.0.1/127.0.0.1:20100");
        assert_true(f[1].ep[e].host.has_control);
    }
    /* HOST:PORT without '/' (0.8.2's bug 30 rejected it as an IPv6 address) */
    assert_string_equal(S(2)->bind_address, "127.0.0.1");
    assert_string_equal(f[2].ep[0].url, "http://127.0.0.1:20100/RPC2");
    assert_string_equal(f[2].ep[0].label, "127.0.0.1:20100");
    assert_string_equal(D(2)->bind_address, "::1");
    assert_string_equal(f[2].ep[1].url, "http://[::1]:6000/RPC2");
    assert_string_equal(S(3)->bind_address, "::1");
    assert_string_equal(f[3].ep[0].url, "http://[::1]:20100/RPC2");
    assert_string_equal(f[3].ep[0].label, "::1:20100");
    assert_string_equal(D(3)->bind_address, "host.example");
    assert_string_equal(f[3].ep[1].url, "http://ctl:5999/RPC2");
    assert_string_equal(f[3].ep[1].label, "host.example/ctl");
    /* the last -H for an endpoint wins */
    RUN("-H", "s=a,s=b");
    expect_ok();
    assert_string_equal(S(0)->bind_address, "b");
    assert_string_equal(D(0)->bind_address, "localhost");
}

static void test_host_errors(void **state)
{
    (void)state;
    RUN("-H", "x=foo");
    expect_usage("Invalid endpoint specifier in Option -H");
    RUN("-H", "s=");
    expect_usage("flow 0: no test host given in argument");
    RUN("-H", "s=a,d");
    expect_usage("flow 0: no test host given in argument");
    RUN("-H", "s=/b");
    expect_usage("flow 0: no test host given in argument");
    RUN("-H", "s=a/b:99999");
    expect_usage("flow 0: invalid port for RPC");
    RUN("-H", "s=a/b:");
    expect_usage("flow 0: invalid port for RPC");
    RUN("-n", "2", "-F", "1", "-H", "d=a/b:x");
    expect_usage("flow 1: invalid port for RPC");
    RUN("-H", "s=[::1");
    expect_usage("flow 0: unbalanced '[' in -H value '[::1'");
    RUN("-H", "s=a/");
    expect_usage("flow 0: empty control address in -H value 'a/'");
    RUN("-H");
    expect_usage("option requires an argument -- H");
}

/* ---- -G, -A, -S, -U: traffic and block sizes ---------------------------------------------- */

static void test_traffic_distributions(void **state)
{
    (void)state;
    RUN("-G", "s=q:C:100", "-G", "s=p:U:100:20000", "-G", "s=g:E:0.01");
    expect_ok();
    assert_dist(&S(0)->request, FG_DIST_CONSTANT, 100, 0);
    assert_dist(&S(0)->response, FG_DIST_UNIFORM, 100, 20000);
    assert_dist(&S(0)->gap, FG_DIST_EXPONENTIAL, 0.01, 0);
    /* U raises the maximum block size of both endpoints to #2 */
    assert_int_equal(S(0)->maximum_block_size, 20000);
    assert_int_equal(D(0)->maximum_block_size, 20000);
    assert_dist(&D(0)->request, FG_DIST_CONSTANT, 8192, 0);

    RUN("-G", "d=q:N:2000:50,s=p:L:7:1", "-G", "b=g:W:1000:2");
    expect_ok();
    assert_dist(&D(0)->request, FG_DIST_NORMAL, 2000, 50);
    assert_dist(&S(0)->response, FG_DIST_LOGNORMAL, 7, 1);
    assert_dist(&S(0)->gap, FG_DIST_WEIBULL, 1000, 2);
    assert_dist(&D(0)->gap, FG_DIST_WEIBULL, 1000, 2);
    assert_int_equal(S(0)->maximum_block_size, 8192);

    RUN("-G", "s=p:P:1:100", "-G", "d=q:C:100000");
    expect_ok();
    assert_dist(&S(0)->response, FG_DIST_PARETO, 1, 100);
    assert_dist(&D(0)->request, FG_DIST_CONSTANT, 100000, 0);
    assert_int_equal(S(0)->maximum_block_size, 100000); /* C raises to #1, both endpoints */
    assert_int_equal(D(0)->maximum_block_size, 100000);
    assert_string_equal(R.err, "");
}

static void test_traffic_errors(void **state)
{
    (void)state;
    const char *G = "flow 0: option -G: ";
    static const struct {
        const char *arg, *msg;
    } cases[] = {
        {"s=q:C:0", "constant distribution needs one positive parameters"},
        {"s=q:C:-1", "constant distribution needs one positive parameters"},
        {"s=q:E:0", "exponential distribution needs one positive parameter"},
        {"s=q:U:10", "uniform distribution needs two positive parameters"},
        {"s=q:U:20:10", "uniform distribution needs two positive parameters"},
        {"s=q:U:0:10", "uniform distribution needs two positive parameters"},
        {"s=q:N:0:1", "normal distribution needs two non-zero parameters"},
        {"s=q:N:1", "normal distribution needs two non-zero parameters"},
        {"s=q:L:0:1", "lognormal distribution needs two non-zero parameters"},
        {"s=q:P:0:1", "pareto distribution needs two non-zero parameters"},
        {"s=q:W:1:0", "weibull distribution needs two non-zero parameters"},
        {"s=q:X:10", "syntax error: X is not a distribution"},
        {"s=q:c:10", "syntax error: c is not a distribution"},
        {"s=x:C:10", "syntax error: x is not a flow parameter (q, p or g)"},
        {"s=q:C", "malformed traffic generation parameters"},
        {"s=q", "malformed traffic generation parameters"},
        {"s", "malformed traffic generation parameters"},
        {"s=qC10", "malformed traffic generation parameters"},
        {"s=q:C:abc", "malformed traffic generation parameters"},
        {"s=q:C:10:abc", "malformed traffic generation parameters"},
        {"s=q:U:1:2:3", "malformed traffic generation parameters"},
        /* what the samplers need beyond 0.8.2's checks: core/dist.h's own words */
        {"s=q:P:-1:100", "pareto shape must be > 0, not -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[256];
        RUN("-G", cases[i].arg);
        snprintf(msg, sizeof msg, "%s%s", G, cases[i].msg);
        expect_usage(msg);
    }
    RUN("-G", "q:C:10");
    expect_usage("Invalid endpoint specifier in Option -G");
}

static void test_block_sizes(void **state)
{
    (void)state;
    /* -S: constant request size; raises the maximum block size of every flow, both ends */
    RUN("-n", "2", "-F", "0", "-S", "s=20000");
    expect_ok();
    assert_dist(&S(0)->request, FG_DIST_CONSTANT, 20000, 0);
    assert_dist(&S(1)->request, FG_DIST_CONSTANT, 8192, 0);
    for (int f = 0; f < 2; f++) {
        assert_int_equal(S(f)->maximum_block_size, 20000);
        assert_int_equal(D(f)->maximum_block_size, 20000);
    }
    /* -U sets it directly, in command-line order with -S */
    RUN("-S", "s=20000", "-U", "s=100");
    expect_ok();
    assert_int_equal(S(0)->maximum_block_size, 100);
    assert_int_equal(D(0)->maximum_block_size, 20000);
    /* a bare -U number sets both endpoints (0.8.2's bug 20) */
    RUN("-U", "32000");
    expect_ok();
    assert_int_equal(S(0)->maximum_block_size, 32000);
    assert_int_equal(D(0)->maximum_block_size, 32000);
    RUN("-U", "d=50000");
    expect_ok();
    assert_int_equal(S(0)->maximum_block_size, 8192);
    assert_int_equal(D(0)->maximum_block_size, 50000);
    RUN("-U", "s=abc");
    expect_usage("in flow 0: option -U needs positive integer");
    RUN("-U", "s=-5");
    expect_usage("in flow 0: option -U needs positive integer");
    RUN("-U", "s=10");
    expect_usage("in flow 0: option -U: a block needs at least 40 bytes (the header)");
    RUN("-U", "x32000");
    expect_usage("Invalid endpoint specifier in Option -U");
    /* -S below 40: accepted (the daemon raises it), with a warning */
    RUN("-S", "s=10");
    expect_ok();
    assert_dist(&S(0)->request, FG_DIST_CONSTANT, 10, 0);
    assert_string_equal(R.err, "flowgrind: warning: in flow 0: option -S: blocks are at least 40 "
                               "bytes (the header), 10 is raised to 40\n");
    RUN("-S", "s=-1");
    expect_usage("in flow 0: option -S needs positive integer");
}

/* -A: constant 40-byte responses and the RTT columns; -A/-G/-R/-S overriding each other warns
 * at either endpoint (0.8.2: an error at the destination only, bug 19). */
static void test_minimal_response_and_conflicts(void **state)
{
    (void)state;
    RUN("-A", "d");
    expect_ok();
    assert_dist(&D(0)->response, FG_DIST_CONSTANT, 40, 0);
    assert_dist(&S(0)->response, FG_DIST_CONSTANT, 0, 0);
    assert_true(R.o.show_rtt);
    RUN("-A", "s=1");
    expect_ok();
    assert_dist(&S(0)->response, FG_DIST_CONSTANT, 40, 0);
    assert_string_equal(R.err, "flowgrind: warning: option -A takes no value, '1' ignored\n");
    RUN("-A", "s", "-G", "s=p:C:100");
    expect_ok();
    assert_dist(&S(0)->response, FG_DIST_CONSTANT, 100, 0);
    assert_string_equal(R.err, "flowgrind: warning: In flow 0: option -G conflicts with option "
                               "-A (the later one is used)\n");
    RUN("-G", "d=q:C:100", "-S", "d=50");
    expect_ok();
    assert_dist(&D(0)->request, FG_DIST_CONSTANT, 50, 0);
    assert_string_equal(R.err, "flowgrind: warning: In flow 0: option -S conflicts with option "
                               "-G (the later one is used)\n");
    RUN("-R", "s=10Mb", "-G", "s=g:C:0.5");
    expect_ok();
    assert_string_equal(R.err, "flowgrind: warning: In flow 0: option -G conflicts with option "
                               "-R (the rate of -R is used)\n");
    /* different fields do not conflict; neither does an option repeated */
    RUN("-A", "d", "-G", "d=q:C:100", "-S", "s=100", "-S", "s=200", "-R", "d=10Mb");
    expect_ok();
    assert_string_equal(R.err, "");
    RUN("-A");
    expect_usage("option requires an argument -- A");
    RUN("-A", "x");
    expect_usage("Invalid endpoint specifier in Option -A");
}

/* ---- -R ------------------------------------------------------------------------------------ */

static void test_rate_forms(void **state)
{
    (void)state;
    static const struct {
        const char *arg;
        int32_t bps;
    } cases[] = {
        {"s=10Mb", 1310720},   {"s=10kB", 10240},   {"s=1.5Mb", 196608}, {"s=80000zb", 10000},
        {"s=1GB", 1073741824}, {"s=10M", 1310720}, /* type letter defaults to b (bug 17) */
        {"s=80000", 10000},    {"s=80000b", 10000}, {"s=10000B", 10000}, {"s=80kb", 10240},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RUN("-R", cases[i].arg);
        expect_ok();
        assert_int_equal(S(0)->write_rate, cases[i].bps);
        assert_int_equal(D(0)->write_rate, 0);
        assert_string_equal(R.o.flows[0].ep[0].rate_text, cases[i].arg + 2);
    }
    RUN("-R", "b=100GB");
    expect_ok();
    assert_int_equal(S(0)->write_rate, INT32_MAX);
    assert_string_equal(R.err, "flowgrind: warning: rate of flow 0 too high (capped at 2147483647 "
                               "bytes/s)\n");
}

static void test_rate_errors(void **state)
{
    (void)state;
    RUN("-R", "s=0zb");
    expect_usage("flow 0: option -R: rate of 0");
    RUN("-R", "s=abc");
    expect_usage("flow 0: option -R: malformed rate");
    RUN("-R", "s=10xb");
    expect_usage("flow 0: option -R: illegal unit specifier");
    RUN("-R", "s=10kx");
    expect_usage("flow 0: option -R: illegal type specifier (either 'b' or 'B')");
    RUN("-R", "s");
    expect_usage("in flow 0: option -R requires a value for each given endpoint");
    RUN("-R", "10Mb");
    expect_usage("Invalid endpoint specifier in Option -R");
    RUN("-R", "s=-1zb");
    expect_usage("flow 0: option -R: rate must be positive");
    /* fewer than one (largest) block per second */
    RUN("-R", "s=8zb");
    expect_after_parse("client block size for flow 0 is too big for specified rate");
    RUN("-R", "d=65535zb");
    expect_after_parse("server block size for flow 0 is too big for specified rate");
    RUN("-R", "s=65536zb");
    expect_ok();
    RUN("-R", "s=1kB", "-S", "s=100");
    expect_ok(); /* the block written decides (0.8.2's bug 18 used the maximum size) */
    RUN("-R", "s=1kB", "-G", "s=q:U:100:2000");
    expect_after_parse("client block size for flow 0 is too big for specified rate");
}

/* ---- -F and -n ----------------------------------------------------------------------------- */

static void test_flow_selection(void **state)
{
    (void)state;
    RUN("-n", "3", "-F", "0,2", "-T", "s=5", "-F", "-1", "-W", "d=4096", "-F", "1", "-E");
    expect_ok();
    assert_true(S(0)->write_duration == 5 && S(2)->write_duration == 5);
    assert_true(S(1)->write_duration == 10);
    assert_true(D(0)->read_duration == 5 && D(1)->read_duration == 10);
    for (int f = 0; f < 3; f++)
        assert_int_equal(D(f)->requested_read_buffer_size, 4096);
    assert_false(S(0)->byte_counting || S(2)->byte_counting);
    assert_true(S(1)->byte_counting && D(1)->byte_counting);
    /* -n applies first wherever it stands */
    RUN("-F", "1", "-T", "s=0", "-n", "2");
    expect_after_parse("server and client flow have both zero runtime for flow 1");
    RUN("-F", "1");
    expect_usage("must not specify option for non-existing flow");
    RUN("-n", "2", "-F", "2");
    expect_usage("must not specify option for non-existing flow");
    RUN("-F", "abc");
    expect_usage("Malformed flow specifier");
    RUN("-F", "0,abc");
    expect_usage("Malformed flow specifier");
    RUN("-F", "0,");
    expect_usage("Malformed flow specifier");
    RUN("-F", "-2");
    expect_usage("Malformed flow specifier");
    RUN("-n", "2048");
    expect_ok();
    assert_int_equal(R.o.n_flows, 2048);
    assert_int_equal(D(2047)->flow_id, 2047);
    RUN("-n", "2049");
    expect_usage("option -n (number of flows) must be within [1..2048]");
    RUN("-n", "abc");
    expect_usage("option -n (number of flows) must be within [1..2048]");
    RUN("-n", "0");
    expect_usage("option -n (number of flows) must be within [1..2048]");
    RUN("--flows=2", "--flows", "3");
    expect_ok();
    assert_int_equal(R.o.n_flows, 3);
}

/* ---- controller options -------------------------------------------------------------------- */

static void test_columns(void **state)
{
    (void)state;
    RUN("-c", "interval,rtt");
    expect_ok();
    assert_int_equal(R.o.table.groups, FG_GROUP_INTERVAL | FG_GROUP_RTT);
    /* -A and -I show their columns whatever the order with -c (0.8.2's bug 8) */
    RUN("-A", "s", "-I", "-c", "through");
    expect_ok();
    assert_int_equal(R.o.table.groups, FG_GROUP_THROUGH | FG_GROUP_RTT | FG_GROUP_DELAY);
    assert_true(R.o.show_rtt && R.o.show_delay);
    RUN("--show-colon=blocks,delay,kernel", "-c", "iat");
    expect_ok();
    assert_int_equal(R.o.table.groups, FG_GROUP_IAT);
    RUN("-c", "foo");
    expect_usage("malformed option '-c'");
    RUN("-c", "interval,");
    expect_usage("malformed option '-c'");
    RUN("--show-colon");
    expect_usage("option '--show-colon' requires an argument");
}

static void test_interval(void **state)
{
    (void)state;
    RUN("-n", "2", "-i", "0.5", "-F", "1", "-Q");
    expect_ok();
    assert_true(R.o.interval_s == 0.5);
    assert_true(S(0)->reporting_interval == 0.5 && D(0)->reporting_interval == 0.5);
    assert_true(S(1)->reporting_interval == 0 && D(1)->reporting_interval == 0);
    assert_true(R.o.flows[1].quiet && !R.o.flows[0].quiet);
    RUN("--report-interval=2");
    expect_ok();
    assert_true(S(0)->reporting_interval == 2);
    static const char *const bad[] = {"0", "abc", "-1", "1x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN("-i", bad[i]);
        expect_usage("option -i needs a positive number (in seconds)");
    }
}

static void test_output_options(void **state)
{
    (void)state;
    RUN("-m", "-p", "-q", "-o", "-s", "byte", "--json", "-e", "pre-", "-w");
    expect_ok();
    assert_true(R.o.table.mib && R.o.table.numeric && R.o.quiet && R.o.overwrite && R.o.json);
    assert_true(R.o.log_to_file);
    assert_string_equal(R.o.log_file, "");
    assert_int_equal(R.o.tcp_stack, FG_TCP_STACK_BYTE);
    assert_string_equal(S(0)->dump_prefix, "pre-");
    assert_string_equal(D(0)->dump_prefix, "pre-");
    RUN("--tcp-stack=segment", "--quiet", "--dump-prefix", "x");
    expect_ok();
    assert_int_equal(R.o.tcp_stack, FG_TCP_STACK_SEGMENT);
    assert_string_equal(D(0)->dump_prefix, "x");
    RUN("-s", "foo");
    expect_usage("invalid argument 'foo' for option -s");
    RUN("--tcp-stack");
    expect_usage("option '--tcp-stack' requires an argument");
}

static void test_log_file(void **state)
{
    (void)state;
    RUN("--log-file=out.log");
    expect_ok();
    assert_true(R.o.log_to_file);
    assert_string_equal(R.o.log_file, "out.log");
    /* with a space (0.8.2's bug 27: "uncaught option tag!") */
    RUN("--log-file", "space.log", "-n", "2");
    expect_ok();
    assert_string_equal(R.o.log_file, "space.log");
    assert_int_equal(R.o.n_flows, 2);
    RUN("--log-file", "-n", "2");
    expect_ok();
    assert_true(R.o.log_to_file);
    assert_string_equal(R.o.log_file, "");
    RUN("--log-file=");
    expect_after_parse("could not open logfile ''");
}

/* ---- endpoint options ---------------------------------------------------------------------- */

static void test_dscp(void **state)
{
    (void)state;
    static const struct {
        const char *arg;
        int32_t v;
    } ok[] = {{"s=46", 46}, {"s=0x2e", 46}, {"s=0X3F", 63}, {"s=2e", 46}, {"s=0", 0}, {"s=63", 63}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        RUN("-D", ok[i].arg);
        expect_ok();
        assert_int_equal(S(0)->dscp, ok[i].v);
        assert_int_equal(D(0)->dscp, 0);
    }
    static const char *const bad[] = {"s=64", "s=0x40", "s=zz", "s=", "s=-1", "s=0x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN("-D", bad[i]);
        expect_usage("in flow 0: option -D service code point is malformed");
    }
    RUN("-D", "0x2e");
    expect_usage("Invalid endpoint specifier in Option -D");
}

static void test_socket_options(void **state)
{
    (void)state;
    RUN("-O", "s=TCP_CORK,s=SO_DEBUG,s=IP_MTU_DISCOVER,s=ROUTE_RECORD", "-O",
        "d=TCP_MTCP,d=TCP_ELCN,d=TCP_LCD,d=TCP_CONG_MODULE=cubic", "-O", "b=TCP_NODELAY");
    expect_ok();
    const struct fg_endpoint_settings *s = S(0), *d = D(0);
    assert_int_equal(s->cork, 1);
    assert_true(s->so_debug && s->route_record);
    assert_int_equal(s->ipmtudiscover, 1);
    assert_int_equal(s->mtcp + s->elcn + s->lcd, 0);
    assert_int_equal(d->mtcp, 1);
    assert_int_equal(d->elcn, 1);
    assert_int_equal(d->lcd, 1);
    assert_int_equal(d->cork, 0);
    assert_false(d->so_debug || d->route_record);
    assert_string_equal(d->cc_alg, "cubic");
    assert_true(R.o.flows[0].ep[1].cc_given);
    assert_int_equal(s->nonagle, 1);
    assert_int_equal(d->nonagle, 1);
    RUN("-O", "s=TCP_CONGESTION=abcdefghijklmno"); /* 15 characters: the limit */
    expect_ok();
    assert_string_equal(S(0)->cc_alg, "abcdefghijklmno");
    RUN("-O", "s=TCP_CONGESTION=abcdefghijklmnop");
    expect_usage("in flow 0: option -O: too large string for TCP_CONGESTION");
    RUN("-O", "s=FOO");
    expect_usage("in flow 0: option -O: unknown socket option or socket option not implemented");
    RUN("-O", "s=TCP_NODELAY=1");
    expect_usage("in flow 0: option -O: unknown socket option or socket option not implemented");
    RUN("-O", "s");
    expect_usage("in flow 0: option -O requires a value for each endpoint");
}

static void test_buffers_and_flags(void **state)
{
    (void)state;
    RUN("-B", "s=16384,d=0", "-W", "d=4096", "-M", "d", "-P", "s", "-N", "-L", "-T", "d=1");
    expect_ok();
    assert_int_equal(S(0)->requested_send_buffer_size, 16384);
    assert_int_equal(D(0)->requested_send_buffer_size, 0);
    assert_int_equal(D(0)->requested_read_buffer_size, 4096);
    assert_true(D(0)->traffic_dump && !S(0)->traffic_dump);
    assert_true(S(0)->pushy && !D(0)->pushy);
    assert_true(S(0)->shutdown && D(0)->shutdown);
    assert_true(R.o.flows[0].late_connect);
    RUN("-P", "s=1");
    expect_ok();
    assert_true(S(0)->pushy);
    assert_string_equal(R.err, "flowgrind: warning: option -P takes no value, '1' ignored\n");
    RUN("-B", "s=abc");
    expect_usage("in flow 0: option -B needs positive integer");
    RUN("-B", "s=-1");
    expect_usage("in flow 0: option -B needs positive integer");
    RUN("-B", "s");
    expect_usage("in flow 0: option -B needs positive integer");
    RUN("-W", "s=-1");
    expect_usage("in flow 0: option -W needs non-negative number");
    RUN("-M", "x");
    expect_usage("Invalid endpoint specifier in Option -M");
}

/* -C x works (0.8.2's bug 11); a bare -C stays the no-op it was, with a warning. */
static void test_flow_control(void **state)
{
    (void)state;
    RUN("-C", "s");
    expect_ok();
    assert_true(S(0)->flow_control);
    assert_false(D(0)->flow_control);
    RUN("-n", "2", "-F", "1", "-Cd", "-C", "s,d", "-T", "s=2");
    expect_ok();
    assert_false(S(0)->flow_control || D(0)->flow_control);
    assert_true(S(1)->flow_control && D(1)->flow_control);
    assert_true(S(1)->write_duration == 2);
    RUN("-C", "-T", "s=2");
    expect_ok();
    assert_false(S(0)->flow_control || D(0)->flow_control);
    assert_true(S(0)->write_duration == 2);
    assert_string_equal(R.err, "flowgrind: warning: option -C needs an endpoint (-C s, -C d or "
                               "-C b); a bare -C is ignored, as by flowgrind 0.8.2\n");
}

static void test_durations_and_checks(void **state)
{
    (void)state;
    RUN("-T", "s=1.5,d=2", "-Y", "s=0.25");
    expect_ok();
    assert_true(S(0)->write_duration == 1.5 && S(0)->write_delay == 0.25);
    assert_true(D(0)->read_duration == 1.5 && D(0)->read_delay == 0.25);
    assert_true(D(0)->write_duration == 2 && S(0)->read_duration == 2);
    RUN("-T", "s=0");
    expect_after_parse("server and client flow have both zero runtime for flow 0");
    RUN("-T", "s=0", "-Y", "s=1");
    expect_after_parse("client flow 0 has a delay but no runtime");
    RUN("-Y", "d=1");
    expect_after_parse("server flow 0 has a delay but no runtime");
    RUN("-T", "s=0", "-R", "s=8zb");
    expect_after_parse("server and client flow have both zero runtime for flow 0");
    RUN("-L", "-T", "d=1", "-Y", "s=1");
    expect_after_parse("server flow 0 starts earlier than client flow while late connecting");
    RUN("-L", "-T", "d=1", "-Y", "s=1,d=1");
    expect_ok();
    RUN("-T", "s=abc");
    expect_usage("in flow 0: option -T needs positive number");
    RUN("-T", "s=-1");
    expect_usage("in flow 0: option -T needs positive number");
    RUN("-T", "s");
    expect_usage("in flow 0: option -T needs positive number");
    RUN("-Y", "s=-1");
    expect_usage("in flow 0: option -Y needs non-negative number");
    RUN("-Y", "s=abc");
    expect_usage("in flow 0: option -Y needs non-negative number");
}

static void test_seeds(void **state)
{
    (void)state;
    RUN("-n", "3", "-J", "7", "-F", "1", "-J", "-1");
    expect_ok();
    assert_int_equal(S(0)->random_seed, 7);
    assert_int_equal(D(2)->random_seed, 7);
    assert_int_equal(S(1)->random_seed, 4294967295u);
    assert_int_equal(D(1)->random_seed, 4294967295u);
    assert_true(R.o.flows[1].seed_given);
    RUN("-J", "4294967295");
    expect_ok();
    assert_int_equal(S(0)->random_seed, 4294967295u);
    RUN("-J", "abc");
    expect_usage("option -J needs an integer argument");
    RUN("-J", "4294967296");
    expect_usage("option -J needs an integer argument");
    RUN("-J", "");
    expect_usage("option -J needs an integer argument");
}

/* ---- getopt's errors, help and version ----------------------------------------------------- */

static void test_getopt_errors(void **state)
{
    (void)state;
    RUN("-x");
    expect_usage("invalid option -- x");
    RUN("-d");
    expect_usage("invalid option -- d");
    RUN("--foo");
    expect_usage("unrecognized option '--foo'");
    RUN("--quiet=x");
    expect_usage("option '--quiet' doesn't allow an argument");
    RUN("--version=1");
    expect_usage("option '--version' doesn't allow an argument");
    RUN("-e");
    expect_usage("option requires an argument -- e");
    RUN("foo");
    expect_usage("unexpected argument 'foo'");
    RUN("-T", "s=1", "-E", "x");
    expect_usage("unexpected argument 'x'");
}

static void test_help_and_version(void **state)
{
    (void)state;
    RUN("--help");
    assert_int_equal(R.rc, FG_OPTS_DONE);
    assert_null(R.o.flows);
    assert_string_equal(R.err, "");
    assert_memory_equal(R.out, "Usage: flowgrind [OPTION]...\nAdvanced TCP traffic generator", 59);
    assert_non_null(strstr(R.out, "\n      --json     print the results as one JSON document"));
    assert_non_null(strstr(R.out, "(same as -G x=p:C:40)\n"));
    assert_non_null(strstr(R.out, "\n  -Y x=#.#       set initial delay before the host starts to "
                                  "send, in seconds\n"));
    RUN("-T", "s=1", "-h");
    assert_int_equal(R.rc, FG_OPTS_DONE);
    assert_memory_equal(R.out, "Usage: flowgrind", 16);
    static const char *const socket_forms[][2] = {
        {"--help=socket", NULL}, {"-hsocket", NULL}, {"-h", "socket"}, {"--help", "socket"}};
    for (size_t i = 0; i < 4; i++) {
        if (socket_forms[i][1])
            RUN(socket_forms[i][0], socket_forms[i][1]);
        else
            RUN(socket_forms[i][0]);
        assert_int_equal(R.rc, FG_OPTS_DONE);
        assert_memory_equal(R.out,
                            "flowgrind allows to set the following standard and "
                            "non-standard socket options. \n",
                            81);
    }
    RUN("-h", "traffic");
    assert_int_equal(R.rc, FG_OPTS_DONE);
    assert_memory_equal(R.out, "flowgrind supports stochastic traffic generation", 48);
    assert_non_null(strstr(R.out, "N = normal (#1: mu - mean value, #2: sigma - standard "
                                  "deviation)\n"));
    RUN("--help=foo");
    expect_usage("invalid argument 'foo' for --help");
    RUN("-hfoo");
    expect_usage("invalid argument 'foo' for -h");
    RUN("-v");
    assert_int_equal(R.rc, FG_OPTS_DONE);
    assert_memory_equal(R.out, "flowgrind 0.8.2 (netgrind ", 26);
    RUN("--version");
    assert_int_equal(R.rc, FG_OPTS_DONE);
    assert_memory_equal(R.out, "flowgrind 0.8.2 (netgrind ", 26);
}

/* The same words parse the same way twice in a row (getopt's state is reset). */
static void test_repeatable(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        RUN("-n", "2", "-F", "1", "-LNs", "-T", "s=3", "-J", "5");
        expect_usage("invalid argument '-T' for option -s"); /* -s took "-T" */
        RUN("-n", "2", "-F", "1", "-LN", "-T", "s=3", "-J", "5");
        expect_ok();
        assert_true(S(1)->write_duration == 3 && S(0)->write_duration == 10);
        assert_true(R.o.flows[1].late_connect && !R.o.flows[0].late_connect);
        assert_int_equal(S(1)->random_seed, 5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_capture_mapping),
        cmocka_unit_test(test_host_forms),
        cmocka_unit_test(test_host_errors),
        cmocka_unit_test(test_traffic_distributions),
        cmocka_unit_test(test_traffic_errors),
        cmocka_unit_test(test_block_sizes),
        cmocka_unit_test(test_minimal_response_and_conflicts),
        cmocka_unit_test(test_rate_forms),
        cmocka_unit_test(test_rate_errors),
        cmocka_unit_test(test_flow_selection),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_output_options),
        cmocka_unit_test(test_log_file),
        cmocka_unit_test(test_dscp),
        cmocka_unit_test(test_socket_options),
        cmocka_unit_test(test_buffers_and_flags),
        cmocka_unit_test(test_flow_control),
        cmocka_unit_test(test_durations_and_checks),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_getopt_errors),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_repeatable),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free_res();
    return rc;
}
