/* tcpkali's command line: every option with its suffix grammar (tcpkali.md §1, §2), every
 * validation message and exit code (stderr captured byte for byte), getopt's permuting and
 * combined short flags, the help texts, the -e order rule, --latency-percentiles, -r
 * @Latency, and the startup cross-checks in the original's order, including the fixes of
 * the original's bugs (1, 4, 5, 7, 8, 13, 14, 15). */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "tcpkali/opts.h"
#include "tcpkali/syslimits.h"

#define MAX_WORDS 32
#define CAP 65536

/* One parse: argv, what went to stdout and stderr, the result. */
struct res {
    struct tk_opts o;
    char *argv[MAX_WORDS + 2];
    int argc;
    bool ok;
    int code;
    char out[CAP];
    char err[CAP];
};

static struct res R;

static void slurp(FILE *f, char *buf)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, CAP - 1, f);
    buf[n] = '\0';
}

static void free_res(void)
{
    tk_opts_free(&R.o);
    for (int i = 0; i < R.argc; i++)
        free(R.argv[i]);
    R.argc = 0;
}

enum stage {
    PARSE,   /* tk_opts_parse only */
    EARLY,   /* ... and tk_opts_check_early */
    ALL,     /* every step: early, limits, resolve, late */
};

/* Runs the stages on "tcpkali" + the NULL-terminated words, capturing fd 2 (getopt's and
 * the checks' messages) and the help stream. */
static bool run_words(enum stage stage, const char *const *words)
{
    free_res();
    memset(&R, 0, sizeof R);
    R.argv[R.argc++] = strdup("tcpkali");
    for (size_t i = 0; words[i]; i++)
        R.argv[R.argc++] = strdup(words[i]);
    R.argv[R.argc] = NULL;

    FILE *out = tmpfile();
    FILE *errf = tmpfile();
    assert_non_null(out);
    assert_non_null(errf);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(errf), STDERR_FILENO);

    tk_opts_init(&R.o, out, stderr);
    R.o.ncpus = 2; /* the spec's host */
    R.o.tty = false;
    R.ok = tk_opts_parse(&R.o, R.argc, R.argv);
    if (R.ok && stage >= EARLY)
        R.ok = tk_opts_check_early(&R.o);
    if (R.ok && stage >= ALL)
        R.ok = tk_opts_check_limits(&R.o) && tk_opts_resolve(&R.o) && tk_opts_check_late(&R.o);
    R.code = R.ok ? -1 : R.o.exit_code;

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    slurp(out, R.out);
    slurp(errf, R.err);
    fclose(out);
    fclose(errf);
    return R.ok;
}

#define RUN(stage, ...) run_words(stage, (const char *const[]){__VA_ARGS__, NULL})

/* Expects the run to stop with code and exactly this stderr. */
static void expect_fail(int code, const char *err)
{
    if (R.ok || R.code != code || strcmp(R.err, err) != 0)
        print_error("code %d (want %d), stderr:\n%s---- want:\n%s----\n", R.code, code, R.err,
                    err);
    assert_false(R.ok);
    assert_int_equal(R.code, code);
    assert_string_equal(R.err, err);
}

static void expect_ok(void)
{
    if (!R.ok)
        print_error("stopped with %d:\n%s", R.code, R.err);
    assert_true(R.ok);
}

/* ---- defaults and grammar ---------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    RUN(EARLY, "127.0.0.1:1");
    expect_ok();
    const struct tk_config *c = &R.o.cfg;
    assert_true(c->connections == 1);
    assert_true(c->connect_rate == 100);
    assert_true(c->connect_timeout_ns == 1000000000ULL);
    assert_false(c->channel_lifetime_set);
    assert_true(c->duration_ns == 10000000000ULL);
    assert_int_equal(c->nagle, -1);
    assert_true(c->write_combine);
    assert_int_equal(c->verbose, 1); /* the help text's default (bug 3) */
    assert_string_equal(c->statsd_host, "localhost"); /* bug 8 */
    assert_int_equal(c->statsd_port, 8125);
    assert_string_equal(c->statsd_namespace, "tcpkali");
    assert_true(c->bandwidth_down_Bps < 0);
    assert_true(c->bandwidth_up_Bps == 0);
    assert_true(c->message_rate == 0);
    assert_int_equal(c->listen_mode, TK_LISTEN_SILENT);
    assert_int_equal(c->npercentiles, 3);
    assert_string_equal(c->percentiles[0].label, "95");
    assert_string_equal(c->percentiles[1].label, "99");
    assert_string_equal(c->percentiles[2].label, "99.5");
    assert_true(c->percentiles[2].value == 99.5);
    assert_int_equal(R.o.ndest_args, 1);
    assert_string_equal(R.o.dest_args[0], "127.0.0.1:1");
    /* -c 1 below 2 CPUs, no -l: one worker (§3.8). */
    assert_int_equal(c->workers, 1);
    assert_string_equal(R.err, "");
}

static void test_permute_and_combined_flags(void **state)
{
    (void)state;
    /* Options after the operand, -c10 glued, -em (-e then -m's argument), -l12345. */
    RUN(PARSE, "127.0.0.1:1", "-c10", "-em", "a\\nb", "-l12345", "host:2", "-T", "3");
    expect_ok();
    assert_true(R.o.cfg.connections == 10);
    assert_true(R.o.cfg.listen);
    assert_int_equal(R.o.cfg.listen_port, 12345);
    assert_int_equal(R.o.ndest_args, 2);
    assert_string_equal(R.o.dest_args[0], "127.0.0.1:1");
    assert_string_equal(R.o.dest_args[1], "host:2");
    assert_int_equal(R.o.cfg.nmsgs, 1);
    assert_true(R.o.cfg.msgs[0].unescape);
    assert_string_equal(R.o.cfg.msgs[0].text, "a\\nb"); /* raw; the source unescapes */
    assert_true(R.o.cfg.duration_ns == 3000000000ULL);
    /* -dv combined flags. */
    RUN(PARSE, "-dv", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.dump, TK_DUMP_ONE_IN | TK_DUMP_ONE_OUT);
    assert_int_equal(R.o.cfg.verbose, 2);
    /* "--" ends the options. */
    RUN(PARSE, "--", "-c");
    expect_ok();
    assert_int_equal(R.o.ndest_args, 1);
    assert_string_equal(R.o.dest_args[0], "-c");
}

static void test_connections(void **state)
{
    (void)state;
    RUN(PARSE, "-c", "5k", "x:1");
    expect_ok();
    assert_true(R.o.cfg.connections == 5000);
    RUN(PARSE, "-c", "1.5k", "x:1");
    expect_ok();
    assert_true(R.o.cfg.connections == 1500);
    RUN(PARSE, "--connections=1m", "x:1");
    expect_ok();
    assert_true(R.o.cfg.connections == 1000000);
    RUN(PARSE, "-c", "10x", "127.0.0.1:21000");
    expect_fail(64, "Unknown prefix \"x\" in 10x\nExpecting --connections > 0\n");
    RUN(PARSE, "-c", "1M");
    expect_fail(64, "Unknown prefix \"M\" in 1M\nExpecting --connections > 0\n");
    RUN(PARSE, "-c", "abc");
    expect_fail(64, "Expecting --connections > 0\n");
    RUN(PARSE, "-c", "-1");
    expect_fail(64, "Expecting --connections > 0\n");
    /* 0 contradicts the message; the original accepted it (bug 5). */
    RUN(PARSE, "-c", "0");
    expect_fail(64, "Expecting --connections > 0\n");
    RUN(PARSE, "-c", "2.5");
    expect_fail(64, "Expecting --connections > 0\n");
    RUN(PARSE, "-c", "3e9");
    expect_fail(64, "Expecting --connections <= 2147483647\n");
    RUN(PARSE, "-c", "1e999");
    expect_fail(64, "Option --connections parses to infinite value\nExpecting --connections > 0\n");
    /* The prefix table is case-sensitive and whole: "kk", "K" are unknown. */
    RUN(PARSE, "-c", "1K");
    expect_fail(64, "Unknown prefix \"K\" in 1K\nExpecting --connections > 0\n");
}

static void test_rates(void **state)
{
    (void)state;
    RUN(PARSE, "--connect-rate", "2.5k", "x:1");
    expect_ok();
    assert_true(R.o.cfg.connect_rate == 2500);
    RUN(PARSE, "--connect-rate", "0");
    expect_fail(64, "Expected positive --connect-rate=0\n");
    RUN(PARSE, "--connect-rate", "5s");
    expect_fail(64, "Unknown prefix \"s\" in 5s\nExpected positive --connect-rate=5s\n");
    RUN(PARSE, "-r", "1k", "-m", "x", "x:1");
    expect_ok();
    assert_true(R.o.cfg.message_rate == 1000);
    assert_false(R.o.cfg.rate_search);
    RUN(PARSE, "-r", "0.25", "x:1");
    expect_ok();
    assert_true(R.o.cfg.message_rate == 0.25);
    RUN(PARSE, "-r", "0");
    expect_fail(64, "Expecting --message-rate > 0\n");
    RUN(PARSE, "--message-rate=-5");
    expect_fail(64, "Expecting --message-rate > 0\n");
    RUN(PARSE, "--latency-marker-skip", "2k", "x:1");
    expect_ok();
    assert_true(R.o.cfg.latency_marker_skip == 2000);
    RUN(PARSE, "--latency-marker-skip", "-1");
    expect_fail(64, "Expecting --latency-marker-skip >= 0\n");
}

static void test_times(void **state)
{
    (void)state;
    static const struct {
        const char *arg;
        uint64_t ns;
    } ok[] = {
        {"500ms", 500000000ULL},         {"1.5", 1500000000ULL},
        {"2s", 2000000000ULL},           {"1millisecond", 1000000ULL},
        {"3milliseconds", 3000000ULL},   {"1second", 1000000000ULL},
        {"2seconds", 2000000000ULL},     {"1.5m", 90000000000ULL},
        {"1min", 60000000000ULL},        {"1minute", 60000000000ULL},
        {"2minutes", 120000000000ULL},   {"1h", 3600000000000ULL},
        {"1hr", 3600000000000ULL},       {"1hour", 3600000000000ULL},
        {"2hours", 7200000000000ULL},    {"1d", 86400000000000ULL},
        {"1day", 86400000000000ULL},     {"2days", 172800000000000ULL},
        {"1y", 31536000000000000ULL},    {"1year", 31536000000000000ULL},
        {"2years", 63072000000000000ULL}, {"1e-3", 1000000ULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        RUN(PARSE, "-T", ok[i].arg, "x:1");
        expect_ok();
        assert_true(R.o.cfg.duration_ns == ok[i].ns);
    }
    RUN(PARSE, "-T", "5q", "127.0.0.1:21000");
    expect_fail(64, "Unknown prefix \"q\" in 5q\nExpected positive --duration=5q\n");
    RUN(PARSE, "-T", "0");
    expect_fail(64, "Expected positive --duration=0\n");
    RUN(PARSE, "-T", "5S");
    expect_fail(64, "Unknown prefix \"S\" in 5S\nExpected positive --duration=5S\n");
    RUN(PARSE, "-T", "inf");
    expect_fail(64, "Option --duration parses to infinite value\nExpected positive --duration=inf\n");
    /* tcpkali 1.2's -T -1: until interrupted. */
    RUN(PARSE, "-T", "-1", "x:1");
    expect_ok();
    assert_true(R.o.cfg.duration_ns == UINT64_MAX);

    RUN(PARSE, "--connect-timeout", "300ms", "x:1");
    expect_ok();
    assert_true(R.o.cfg.connect_timeout_ns == 300000000ULL);
    RUN(PARSE, "--connect-timeout", "0");
    expect_fail(64, "Expected positive --connect-timeout=0\n");
    RUN(PARSE, "--channel-lifetime", "0.5", "x:1");
    expect_ok();
    assert_true(R.o.cfg.channel_lifetime_set);
    assert_true(R.o.cfg.channel_lifetime_ns == 500000000ULL);
    RUN(PARSE, "--channel-lifetime", "0", "x:1");
    expect_ok();
    assert_true(R.o.cfg.channel_lifetime_set);
    assert_true(R.o.cfg.channel_lifetime_ns == 0);
    RUN(PARSE, "--channel-lifetime", "-1");
    expect_fail(64, "Expected non-negative --channel-lifetime=-1\n");
}

static void test_bandwidth(void **state)
{
    (void)state;
    static const struct {
        const char *arg;
        double Bps;
    } ok[] = {
        {"80kbps", 10000}, {"1Kbps", 125},   {"1mbps", 125000}, {"2Mbps", 250000},
        {"1gbps", 1.25e8}, {"1Gbps", 1.25e8}, {"8bps", 1},      {"5Bps", 5},
        {"1kBps", 1000},   {"1KBps", 1000},  {"1mBps", 1e6},    {"3MBps", 3e6},
        {"1gBps", 1e9},    {"1GBps", 1e9},   {"100", 100},      {"0.5kBps", 500},
    };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        RUN(PARSE, "--channel-bandwidth-upstream", ok[i].arg, "x:1");
        expect_ok();
        assert_true(fabs(R.o.cfg.bandwidth_up_Bps - ok[i].Bps) < 1e-9 * ok[i].Bps);
        RUN(PARSE, "--channel-bandwidth-downstream", ok[i].arg, "x:1");
        expect_ok();
        assert_true(fabs(R.o.cfg.bandwidth_down_Bps - ok[i].Bps) < 1e-9 * ok[i].Bps);
    }
    RUN(PARSE, "--channel-bandwidth-upstream", "0");
    expect_fail(64, "Expecting --channel-bandwidth-upstream > 0\n");
    RUN(PARSE, "--channel-bandwidth-upstream", "1mbit");
    expect_fail(64, "Unknown prefix \"mbit\" in 1mbit\nExpecting --channel-bandwidth-upstream > 0\n");
    /* 0 downstream is accepted: "do not read" (the man page's example). */
    RUN(PARSE, "--channel-bandwidth-downstream", "0", "x:1");
    expect_ok();
    assert_true(R.o.cfg.bandwidth_down_Bps == 0);
    RUN(PARSE, "--channel-bandwidth-downstream", "-1");
    expect_fail(64, "Expecting --channel-bandwidth-downstream > 0\n");
    /* -r and the upstream cap are separate settings (bug 6). */
    RUN(PARSE, "--channel-bandwidth-upstream", "1kBps", "-r", "5", "-m", "x", "x:1");
    expect_ok();
    assert_true(R.o.cfg.bandwidth_up_Bps == 1000);
    assert_true(R.o.cfg.message_rate == 5);
}

static void test_sizes(void **state)
{
    (void)state;
    RUN(PARSE, "--rcvbuf", "5k", "--sndbuf", "1m", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.rcvbuf, 5120);
    assert_int_equal(R.o.cfg.sndbuf, 1048576);
    RUN(PARSE, "--rcvbuf", "100", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.rcvbuf, 100);
    RUN(PARSE, "--rcvbuf", "0");
    expect_fail(64, "Expecting --rcvbuf > 0\n");
    RUN(PARSE, "--sndbuf", "1x");
    expect_fail(64, "Unknown prefix \"x\" in 1x\nExpecting --sndbuf > 0\n");
    RUN(PARSE, "--sndbuf", "4g");
    expect_fail(64, "Unknown prefix \"g\" in 4g\nExpecting --sndbuf > 0\n");
    RUN(PARSE, "--rcvbuf", "3000m");
    expect_fail(64, "Expecting --rcvbuf <= 2147483647\n");
}

static void test_workers(void **state)
{
    (void)state;
    RUN(EARLY, "-w", "2", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.workers, 2);
    /* The original said "> 1" for 0 (bug 4). */
    RUN(PARSE, "-w", "0");
    expect_fail(64, "Expected --workers > 0\n");
    RUN(PARSE, "-ws");
    expect_fail(64, "Expected -w <N> (--workers) or --ws (--websocket), but not -ws.\n");
    RUN(PARSE, "-w", "-1");
    expect_fail(64, "Expected --workers <N> (-w <N>), or --websocket (--ws)\n");
    RUN(PARSE, "--workers=2x");
    expect_fail(64, "Expected --workers <N> (-w <N>), or --websocket (--ws)\n");
    RUN(EARLY, "-w", "64", "x:1");
    expect_fail(64, "Value --workers=64 is unreasonably large, only 2 CPUs detected\n");
    /* Defaults (§3.8): -c below the CPUs without -l: -c workers; else the CPUs. */
    RUN(EARLY, "-c", "10", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.workers, 2);
    RUN(EARLY, "-l", "1234", "-c", "1", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.workers, 2);
    struct tk_config c;
    memset(&c, 0, sizeof c);
    c.connections = 3;
    assert_int_equal(tk_default_workers(&c, 8), 3);
    c.listen = true;
    assert_int_equal(tk_default_workers(&c, 8), 8);
    c.listen = false;
    c.connections = 100;
    assert_int_equal(tk_default_workers(&c, 8), 8);
    assert_int_equal(tk_default_workers(&c, 0), 1);
}

static void test_verbose_dump_flags(void **state)
{
    (void)state;
    RUN(PARSE, "-vvvv", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.verbose, 3);
    RUN(PARSE, "--verbose", "0", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.verbose, 0);
    RUN(PARSE, "--verbose=3", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.verbose, 3);
    RUN(PARSE, "--verbose", "4");
    expect_fail(64, "Expecting --verbose=[0..3]\n");
    RUN(PARSE, "--verbose", "x");
    expect_fail(64, "Expecting --verbose=[0..3]\n");
    RUN(PARSE, "--dump-one-in", "--dump-all-out", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.dump, TK_DUMP_ONE_IN | TK_DUMP_ALL_OUT);
    RUN(PARSE, "--dump-all", "--dump-one-out", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.dump, TK_DUMP_ALL_IN | TK_DUMP_ALL_OUT | TK_DUMP_ONE_OUT);
    RUN(PARSE, "--dump-all-in", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.dump, TK_DUMP_ALL_IN);
    RUN(PARSE, "--latency-connect", "--latency-first-byte", "--message-marker", "--statsd",
        "--closed-loop", "--json", "x:1");
    expect_ok();
    assert_true(R.o.cfg.latency_connect && R.o.cfg.latency_first_byte);
    assert_true(R.o.cfg.message_marker && R.o.cfg.statsd && R.o.cfg.closed_loop);
    assert_true(R.o.cfg.json && !R.o.cfg.json_stream);
    RUN(PARSE, "--json-stream", "x:1");
    expect_ok();
    assert_true(R.o.cfg.json_stream);
}

static void test_socket_options(void **state)
{
    (void)state;
    RUN(PARSE, "--nagle", "on", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.nagle, 1);
    RUN(PARSE, "--nagle=off", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.nagle, 0);
    RUN(PARSE, "--nagle", "maybe");
    expect_fail(64, "Expecting --nagle \"on\" or \"off\"\n");
    RUN(PARSE, "--write-combine", "off", "x:1");
    expect_ok();
    assert_false(R.o.cfg.write_combine);
    RUN(PARSE, "--write-combine", "on", "x:1");
    expect_ok();
    assert_true(R.o.cfg.write_combine);
    assert_string_equal(R.err, "NOTE: --write-combine on is a default setting\n");
    RUN(PARSE, "--write-combine", "no");
    expect_fail(64, "Expecting --write-combine off\n");
    RUN(PARSE, "--source-ip", "127.0.0.1", "--source-ip", "::1", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.nsource_ips, 2);
    RUN(PARSE, "--source-ip", "10.9.9.9");
    expect_fail(64, "[10.9.9.9]:0 is not local: Cannot assign requested address\n"
                    "--source-ip=10.9.9.9: local IP address expected\n");
    RUN(PARSE, "--source-ip", "localhost");
    expect_fail(64, "--source-ip=localhost: local IP address expected\n");
}

static void test_listen(void **state)
{
    (void)state;
    RUN(PARSE, "-l", "12345");
    expect_ok();
    assert_true(R.o.cfg.listen);
    assert_int_equal(R.o.cfg.listen_port, 12345);
    assert_string_equal(R.o.listen_host, "");
    RUN(PARSE, "--listen-port", "127.0.0.1:2000");
    expect_ok();
    assert_string_equal(R.o.listen_host, "127.0.0.1");
    assert_int_equal(R.o.cfg.listen_port, 2000);
    RUN(PARSE, "-l", "[::1]:2001");
    expect_ok();
    assert_string_equal(R.o.listen_host, "::1");
    /* 65535 is a port (the original refused it: bug 7); 0 picks a free one (netgrind). */
    RUN(PARSE, "-l", "65535");
    expect_ok();
    RUN(PARSE, "-l", "0");
    expect_ok();
    assert_int_equal(R.o.cfg.listen_port, 0);
    RUN(PARSE, "--listen-port=70000");
    expect_fail(64, "--listen-port=70000 is not in [1..65535]\n");
    RUN(PARSE, "-l", "http");
    expect_fail(64, "--listen-port=http is not in [1..65535]\n");
    /* --listen-mode=silent, the documented default, is accepted (bug 1). */
    RUN(PARSE, "-l", "1", "--listen-mode=silent");
    expect_ok();
    assert_int_equal(R.o.cfg.listen_mode, TK_LISTEN_SILENT);
    RUN(PARSE, "-l", "1", "--listen-mode", "active");
    expect_ok();
    assert_int_equal(R.o.cfg.listen_mode, TK_LISTEN_ACTIVE);
    RUN(PARSE, "-l", "1", "--listen-mode=echo");
    expect_ok();
    assert_int_equal(R.o.cfg.listen_mode, TK_LISTEN_ECHO);
    RUN(PARSE, "--listen-mode=loud");
    expect_fail(64, "--listen-mode=loud is not one of {silent|active|echo}\n");
}

static void test_statsd(void **state)
{
    (void)state;
    RUN(PARSE, "--statsd", "--statsd-host", "127.0.0.2", "--statsd-port", "65535",
        "--statsd-namespace", "ns", "--statsd-latency-window", "1s", "x:1");
    expect_ok();
    assert_string_equal(R.o.cfg.statsd_host, "127.0.0.2");
    assert_int_equal(R.o.cfg.statsd_port, 65535);
    assert_string_equal(R.o.cfg.statsd_namespace, "ns");
    assert_true(R.o.cfg.statsd_latency_window_ns == 1000000000ULL);
    RUN(PARSE, "--statsd-port", "0");
    expect_fail(64, "--statsd-port=0 is not in [1..65535]\n");
    RUN(PARSE, "--statsd-port", "65536");
    expect_fail(64, "--statsd-port=65536 is not in [1..65535]\n");
    RUN(PARSE, "--statsd-latency-window", "0.1s");
    expect_fail(64, "--statsd-latency-window=0.1s is too small. Try 0.5s.\n");
    RUN(EARLY, "--statsd-latency-window", "20s", "x:1");
    expect_fail(64, "--statsd-latency-window=20s exceeds --duration=10s.\n");
    RUN(EARLY, "-T", "4", "--statsd-latency-window", "5s", "x:1");
    expect_fail(64, "--statsd-latency-window=5s exceeds --duration=4.\n");
    RUN(EARLY, "--statsd-latency-window", "6s", "x:1");
    expect_ok();
    assert_string_equal(R.err, "WARNING: --statsd-latency-window=6s is at least half of "
                               "--duration=10s, expect at most two windows.\n");
}

/* ---- messages, markers, -e -------------------------------------------------------------- */

static char *temp_file(const char *content, size_t len)
{
    static char path[64];
    strcpy(path, "/tmp/tk_opts_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_messages(void **state)
{
    (void)state;
    char *p = strdup(temp_file("F\\n\0{", 5));
    RUN(PARSE, "-1", "one", "-m", "two\\n", "-e", "-m", "three\\n", "-f", p,
        "--first-message-file", p, "--message=four", "x:1");
    expect_ok();
    const struct tk_config *c = &R.o.cfg;
    assert_int_equal(c->nmsgs, 6);
    assert_int_equal(c->msgs[0].kind, TK_MSG_FIRST);
    assert_string_equal(c->msgs[0].text, "one");
    assert_false(c->msgs[0].unescape);
    assert_int_equal(c->msgs[1].kind, TK_MSG_REPEAT);
    assert_false(c->msgs[1].unescape); /* -e applies only after it (§4.5) */
    assert_true(c->msgs[2].unescape);
    assert_int_equal(c->msgs[3].kind, TK_MSG_REPEAT);
    assert_true(c->msgs[3].from_file);
    assert_false(c->msgs[3].unescape); /* file bytes go as they are (bug 9) */
    assert_int_equal(c->msgs[3].len, 5);
    assert_memory_equal(c->msgs[3].text, "F\\n\0{", 5);
    assert_string_equal(c->msgs[3].file_name, p);
    assert_int_equal(c->msgs[4].kind, TK_MSG_FIRST);
    assert_true(c->msgs[4].from_file);
    assert_true(c->msgs[5].unescape);
    assert_int_equal(c->msgs[5].len, 4);
    unlink(p);
    free(p);

    RUN(PARSE, "-f", "/nonexistent/tk_msg");
    expect_fail(65, "/nonexistent/tk_msg: No such file or directory\n");
    RUN(PARSE, "--first-message-file", "/nonexistent/tk_msg");
    expect_fail(65, "/nonexistent/tk_msg: No such file or directory\n");
    p = strdup(temp_file("", 0));
    RUN(PARSE, "-f", p, "x:1");
    expect_ok();
    char want[200];
    snprintf(want, sizeof want, "WARNING: --message-file=%s: the file is empty\n", p);
    assert_string_equal(R.err, want);
    unlink(p);
    free(p);
}

static void test_markers_and_stop(void **state)
{
    (void)state;
    RUN(PARSE, "--latency-marker", "hello\\n", "-e", "--message-stop", "ST\\x4fP", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.latency_marker_len, 7);
    assert_memory_equal(R.o.cfg.latency_marker, "hello\\n", 7); /* before -e: as typed */
    assert_int_equal(R.o.cfg.message_stop_len, 4);
    assert_memory_equal(R.o.cfg.message_stop, "STOP", 4);
    RUN(PARSE, "-e", "--latency-marker", "a\\nb", "x:1");
    expect_ok();
    assert_int_equal(R.o.cfg.latency_marker_len, 3);
    assert_memory_equal(R.o.cfg.latency_marker, "a\nb", 3);
    RUN(PARSE, "--latency-marker", "");
    expect_fail(64, "--latency-marker: Non-empty marker expected\n");
    RUN(PARSE, "--message-marker", "--latency-marker", "x");
    expect_fail(64, "--latency-marker: --message-marker is already specified, use one or the "
                    "other\n");
    RUN(PARSE, "--latency-marker", "x", "--message-marker");
    expect_fail(64, "--message-marker: --latency-marker is already specified, use one or the "
                    "other\n");
    RUN(PARSE, "--message-stop", "");
    expect_fail(64, "--message-stop: Non-empty message expected\n");
    RUN(PARSE, "--message-stop", "a\\{connection.uid}");
    expect_fail(64, "--message-stop: Non-trivial expressions are not supported\n");
}

/* A file name that does not exist (in the current directory either). */
#define NO_SUCH_FILE "/nonexistent-netgrind-test/none.pem"

static void test_ssl(void **state)
{
    (void)state;
    RUN(EARLY, "x:1");
    expect_ok();
    assert_false(R.o.cfg.ssl);
    assert_string_equal(R.o.cfg.ssl_cert, "cert.pem"); /* tcpkali 1.2's defaults */
    assert_string_equal(R.o.cfg.ssl_key, "key.pem");
    assert_false(R.o.cfg.ssl_cert_given);
    assert_false(R.o.cfg.ssl_key_given);
    /* A client needs no files: it presents a certificate only when one is given. */
    RUN(EARLY, "--ssl", "x:1");
    expect_ok();
    assert_true(R.o.cfg.ssl);
    RUN(PARSE, "--ssl", "--ssl-cert", "c.pem", "--ssl-key=k.pem", "--ws", "x:1");
    expect_ok();
    assert_string_equal(R.o.cfg.ssl_cert, "c.pem");
    assert_string_equal(R.o.cfg.ssl_key, "k.pem");
    assert_true(R.o.cfg.ssl_cert_given);
    assert_true(R.o.cfg.ssl_key_given);
    assert_true(R.o.cfg.websocket);
    RUN(PARSE, "--ssl-cert");
    expect_fail(64, "tcpkali: option '--ssl-cert' requires an argument\n--ssl-cert: option "
                    "requires an argument\n");
    RUN(PARSE, "--ssl=1");
    expect_fail(64, "tcpkali: option '--ssl' doesn't allow an argument\n--ssl=1: option "
                    "takes no argument\n");
    /* A listener needs its certificate and key: the original's messages, exit 66. */
    RUN(EARLY, "--ssl", "-l", "1", "--ssl-cert", NO_SUCH_FILE);
    expect_fail(66, NO_SUCH_FILE ": Can not access X.509 certificate file.\n");
    char self[64];
    snprintf(self, sizeof self, "/proc/%d/stat", (int)getpid()); /* a file that exists */
    RUN(EARLY, "--ssl", "-l", "1", "--ssl-cert", self, "--ssl-key", NO_SUCH_FILE);
    expect_fail(66, NO_SUCH_FILE ": Can not access SSL private key file\n");
    RUN(EARLY, "--ssl", "-l", "1", "--ssl-cert", self, "--ssl-key", self);
    expect_ok();
    /* Without --ssl the files are not looked at. */
    RUN(EARLY, "-l", "1", "--ssl-cert", NO_SUCH_FILE);
    expect_ok();
    /* --help lists them after --ws, as tcpkali 1.2 does. */
    RUN(PARSE, "--help");
    assert_non_null(strstr(R.out,
                           "  --ws, --websocket            Use RFC6455 WebSocket transport\n"
                           "  --ssl                        Enable TLS\n"
                           "  --ssl-cert <filename>        X.509 certificate file (default: "
                           "cert.pem)\n"
                           "  --ssl-key <filename>         Private key file (default: key.pem)\n"
                           "  -H, --header <string>        Add HTTP header into WebSocket "
                           "handshake\n"));
}

static void test_headers_and_ws(void **state)
{
    (void)state;
    RUN(EARLY, "-H", "X-Test: 1", "x:1");
    expect_fail(64, "--header option ignored without --websocket\n");
    /* WebSocket is supported now: --ws and -H with it pass the early checks. */
    RUN(EARLY, "--ws", "-H", "X-Test: 1", "x:1");
    expect_ok();
    assert_true(R.o.cfg.websocket);
    assert_int_equal(R.o.cfg.nheaders, 1);
    assert_string_equal(R.err, "");
    RUN(EARLY, "-H", "X-Test: 1", "--websocket", "x:1"); /* order does not matter */
    expect_ok();
    RUN(PARSE, "--websocket", "-H", "X-A: 1", "--header", "", "-H", "1bad: x", "x:1");
    expect_ok();
    assert_true(R.o.cfg.websocket);
    assert_int_equal(R.o.cfg.nheaders, 2);
    assert_string_equal(R.o.cfg.headers[0], "X-A: 1");
    assert_string_equal(R.err, "WARNING: --header: empty header ignored\n"
                               "WARNING: --header \"1bad: x\" does not start with a letter\n");
    RUN(PARSE, "-e", "-H", "A: 1\\nB: 2");
    expect_fail(64, "--header \"A: 1\\nB: 2\" must not contain a line break\n");
    char big[700];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    RUN(PARSE, "-H", big, "-H", big);
    expect_fail(64, "--header adds too many HTTP headers\n");
}

static void test_percentiles(void **state)
{
    (void)state;
    RUN(PARSE, "--latency-percentiles", "50,90/99.9,100", "--latency-percentiles", "50.0",
        "x:1");
    expect_ok();
    const struct tk_config *c = &R.o.cfg;
    assert_int_equal(c->npercentiles, 5);
    static const char *labels[] = {"50", "90", "99.9", "100", "50.0"};
    static const double values[] = {50, 90, 99.9, 100, 50};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(c->percentiles[i].label, labels[i]);
        assert_true(c->percentiles[i].value == values[i]);
    }
    RUN(PARSE, "--latency-percentiles", "0", "x:1");
    expect_ok();
    static const struct {
        const char *arg, *why;
    } bad[] = {
        {"95,abc", "bad number"},
        {"101", "bad latency percentile specification, expected range is [0..100]"},
        {"95;99", "invalid separator, use ',' or '/'"},
        {"95 99", "invalid separator, use ',' or '/'"},
        {"99.", "Fractional part is missing"},
        {"99.99999", "Unreasonably precise percentile specification"},
        {"-1", "bad number"},
        {"", "bad number"},
        {"95,", "bad number"},
        {"9x", "bad number"},
        {"1.2.3", "bad number"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char want[300];
        snprintf(want, sizeof want, "--latency-percentiles: %s: Failed to parse: %s\n",
                 bad[i].arg, bad[i].why);
        RUN(PARSE, "--latency-percentiles", bad[i].arg);
        expect_fail(64, want);
    }
    struct tk_config many;
    memset(&many, 0, sizeof many);
    char err[200];
    for (int i = 0; i < TK_MAX_PERCENTILES; i++)
        assert_int_equal(tk_parse_percentiles(&many, "50", err, sizeof err), 0);
    assert_int_equal(tk_parse_percentiles(&many, "50", err, sizeof err), -1);
    assert_string_equal(err, "--latency-percentiles: 50: Failed to parse: too many percentiles "
                             "(at most 32)");
}

static void test_rate_search(void **state)
{
    (void)state;
    RUN(EARLY, "-r", "@5ms", "x:1");
    expect_ok();
    assert_true(R.o.cfg.rate_search);
    assert_true(R.o.cfg.rate_search_target_ns == 5000000ULL);
    assert_true(R.o.cfg.message_rate == 100);
    assert_true(R.o.cfg.duration_ns == UINT64_MAX); /* searches until done */
    assert_string_equal(R.err, "");
    RUN(EARLY, "-T", "30", "-r", "@5ms", "x:1");
    expect_ok();
    assert_true(R.o.cfg.duration_ns == 30000000000ULL);
    RUN(EARLY, "-r", "@10", "x:1");
    expect_ok();
    assert_true(R.o.cfg.rate_search_target_ns == 10000000000ULL);
    assert_string_equal(R.err, "WARNING: --message-rate @10: target latency is greater than one "
                               "second (10 s)\nSuggesting using --message-rate @10ms\n");
    RUN(EARLY, "-r", "@2s", "x:1"); /* a unit says it was meant */
    expect_ok();
    assert_string_equal(R.err, "");
    RUN(PARSE, "-r", "@5ms", "-r", "100", "x:1");
    expect_ok();
    assert_false(R.o.cfg.rate_search);
    assert_true(R.o.cfg.message_rate == 100);
    assert_string_equal(R.err, "WARNING: --message-rate=100 overrides the earlier --message-rate "
                               "@5ms\n");
    RUN(PARSE, "-r", "100", "-r", "@5ms", "x:1");
    expect_ok();
    assert_true(R.o.cfg.rate_search);
    assert_string_equal(R.err, "WARNING: --message-rate=@5ms overrides the earlier "
                               "--message-rate\n");
    RUN(PARSE, "-r", "@0");
    expect_fail(64, "Expecting --message-rate @<Latency> > 0\n");
    RUN(PARSE, "-r", "@5x");
    expect_fail(64, "Unknown prefix \"x\" in 5x\nExpecting --message-rate @<Latency> > 0\n");
    /* The search needs a message latency: --latency-marker, or (as tcpkali 1.2)
     * --message-marker. */
    RUN(ALL, "-r", "@5ms", "-m", "x", "127.0.0.1:1");
    assert_false(R.ok);
    assert_int_equal(R.code, 64);
    assert_non_null(strstr(R.err, "--message-rate @<Latency> requires specifying "
                                  "--latency-marker as well.\n"));
    RUN(ALL, "-r", "@5ms", "-m", "x", "--message-marker", "127.0.0.1:1");
    expect_ok();
}

/* ---- getopt, help, version ---------------------------------------------------------------- */

static void test_unknown_and_missing(void **state)
{
    (void)state;
    RUN(PARSE, "--bogus", "127.0.0.1:21000");
    expect_fail(64, "tcpkali: unrecognized option '--bogus'\n--bogus: unknown option\n");
    assert_true(strncmp(R.out, "Usage: tcpkali [OPTIONS] [-l <port>] [<host:port>...]\nWhere "
                               "OPTIONS are:\n", 71) == 0);
    /* The original said "-c: unknown option" for a missing argument (bug 14). */
    RUN(PARSE, "-c");
    expect_fail(64, "tcpkali: option requires an argument -- 'c'\n-c: option requires an "
                    "argument\n");
    RUN(PARSE, "--duration");
    expect_fail(64, "tcpkali: option '--duration' requires an argument\n--duration: option "
                    "requires an argument\n");
    RUN(PARSE, "--statsd=1");
    expect_fail(64, "tcpkali: option '--statsd' doesn't allow an argument\n--statsd=1: option "
                    "takes no argument\n");
    RUN(PARSE, "-x");
    expect_fail(64, "tcpkali: invalid option -- 'x'\n-x: unknown option\n");
    /* No help text on a JSON stdout. */
    RUN(PARSE, "--json", "--bogus");
    assert_int_equal(R.code, 64);
    assert_string_equal(R.out, "");
}

static void test_help_and_version(void **state)
{
    (void)state;
    /* 0, not the original's 64 (bug 13). */
    RUN(PARSE, "--help");
    assert_false(R.ok);
    assert_int_equal(R.code, 0);
    assert_true(R.o.help_long);
    assert_non_null(strstr(R.out, "  -w, --workers <N=2>          Number of parallel threads to "
                                  "use\n"));
    assert_non_null(strstr(R.out, "               \"silent\"        Do not send data, ignore "
                                  "received data (default)\n"));
    assert_non_null(strstr(R.out, "  <Rate>, <Time> and <Latency> can be fractional values, such "
                                  "as 0.25.\n"));
    assert_string_equal(R.err, "");
    /* Every line of the help is aligned as the original's (help at column 31). */
    assert_non_null(strstr(R.out, "  --statsd-latency-window <T>  Aggregate latencies in discrete "
                                  "windows\n"));
    RUN(PARSE, "-h");
    assert_int_equal(R.code, 0);
    assert_true(R.o.help_short);
    assert_non_null(strstr(R.out, "Where some OPTIONS are:\n"));
    assert_non_null(strstr(R.out, "Use `tcpkali --help` or `man tcpkali` for a full set of "
                                  "supported options.\n"));
    RUN(PARSE, "--version", "-c", "bad");
    assert_int_equal(R.code, 0);
    assert_string_equal(R.out, "tcpkali version 1.1.1 (netgrind 0.1.0)\n");
    /* A CPU count of 10 or more takes the padding space (§1.1). */
    struct tk_opts o;
    tk_opts_init(&o, NULL, NULL);
    o.ncpus = 16;
    FILE *f = tmpfile();
    tk_opts_print_help(&o, f);
    char buf[CAP];
    slurp(f, buf);
    fclose(f);
    assert_non_null(strstr(buf, "  -w, --workers <N=16>         Number of parallel threads to "
                                "use\n"));
    tk_opts_free(&o);
    bool stream = false;
    char *argv[] = {"tcpkali", "--json-stream", "x:1", NULL};
    assert_true(tk_opts_wants_json(3, argv, &stream));
    assert_true(stream);
}

/* ---- the cross-checks --------------------------------------------------------------------- */

static void test_destinations(void **state)
{
    (void)state;
    RUN(ALL, "-T", "1", "127.0.0.1:21000/chat?x=1", "[::1]:21001");
    expect_ok();
    assert_string_equal(R.err, "Destination: [127.0.0.1]:21000\nDestination: [::1]:21001\n");
    assert_int_equal(R.o.cfg.ndests, 2);
    assert_string_equal(R.o.cfg.dests[0].path, "/chat?x=1");
    assert_string_equal(R.o.cfg.dests[0].text, "127.0.0.1:21000/chat?x=1");
    assert_string_equal(R.o.cfg.dests[1].path, "/");
    RUN(ALL, "127.0.0.1");
    expect_fail(64, "Expected :port specification. See --help.\n");
    RUN(ALL, "127.0.0.1:");
    expect_fail(64, "Expected :port specification. See --help.\n");
    RUN(ALL, "127.0.0.1:99999/x");
    expect_fail(64, "127.0.0.1:99999: port 99999 is not in [1..65535]\n");
    RUN(ALL, "127.0.0.1:0");
    expect_fail(64, "127.0.0.1:0: port 0 is not in [1..65535]\n");
    RUN(ALL, "127.0.0.1:nosuchservice");
    assert_false(R.ok);
    assert_int_equal(R.code, 68);
    assert_true(strncmp(R.err, "tcpkali: Resolving 127.0.0.1:nosuchservice: ", 44) == 0);
}

static void test_listen_addresses(void **state)
{
    (void)state;
    RUN(ALL, "-l", "127.0.0.1:21002");
    expect_ok();
    assert_string_equal(R.err, "Listen on: [127.0.0.1]:21002\n");
    RUN(ALL, "-l", "[::1]:21003");
    expect_ok();
    assert_string_equal(R.err, "Listen on: [::1]:21003\n");
    RUN(ALL, "-l", "21004");
    expect_ok();
    assert_non_null(strstr(R.err, "Listen on: [0.0.0.0]:21004\n"));
    /* -l 0: printed once bound (by the program). */
    RUN(ALL, "-l", "0");
    expect_ok();
    assert_string_equal(R.err, "");
}

static void test_late_checks(void **state)
{
    (void)state;
    RUN(ALL, "--latency-marker", "x", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n--latency-marker is given, but no messages are "
                    "supposed to be sent. Specify --message?\n");
    RUN(ALL, "--latency-marker", "x", "-m", "x", "-l", "127.0.0.1:2");
    expect_fail(64, "Listen on: [127.0.0.1]:2\n--latency-marker is given, but no connections "
                    "are supposed to be initiated. Specify <host:port>?\n");
    RUN(ALL, "-r", "5", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n--message-rate parameter makes no sense without "
                    "--message or --message-file\n");
    RUN(ALL, "-r", "5", "-m", "", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n--message may resolve to zero length, "
                    "double-check regular expression\n");
    RUN(ALL, "-r", "@5ms", "-m", "x", "-T", "1", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n--message-rate @<Latency> requires specifying "
                    "--latency-marker as well.\n");
    RUN(ALL, "--closed-loop", "-m", "x", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n--closed-loop requires --latency-marker (the end "
                    "of each reply)\n");
    RUN(ALL, "--closed-loop", "-m", "x", "--latency-marker", "x", "-r", "@1ms", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n--closed-loop and --message-rate @<Latency> can "
                    "not be used together\n");
    RUN(ALL, "--closed-loop", "-m", "x", "--latency-marker", "x", "127.0.0.1:1");
    expect_ok();
    /* --write-combine off: Nagle off, TCP_NODELAY=1 (the original turned it on: bug 2). */
    RUN(ALL, "--write-combine", "off", "127.0.0.1:1");
    expect_ok();
    assert_int_equal(R.o.cfg.nagle, 0);
    assert_string_equal(R.err, "Destination: [127.0.0.1]:1\nNOTE: --write-combine=off presumes "
                               "--nagle=off.\n");
    RUN(ALL, "--write-combine", "off", "--nagle", "on", "127.0.0.1:1");
    expect_ok();
    assert_int_equal(R.o.cfg.nagle, 1);
    assert_string_equal(R.err, "Destination: [127.0.0.1]:1\nWARNING: --write-combine=off makes "
                               "little sense with --nagle=on.\n");
    RUN(ALL, "-c", "5");
    expect_fail(64, "Expecting target <host:port> or --listen-port. See -h or --help.\n");
    assert_non_null(strstr(R.out, "Where some OPTIONS are:\n"));
}

static void test_feasibility(void **state)
{
    (void)state;
    RUN(ALL, "-c", "100", "--connect-rate", "10", "-T", "5", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n100 connections can not be opened at a rate "
                    "10 within test duration 5.\nDecrease --connections=100, or increase "
                    "--duration=5 or --connect-rate=10.\n");
    RUN(ALL, "-c", "10", "--connect-rate", "10", "-T", "5", "127.0.0.1:1");
    expect_ok();
    assert_string_equal(R.err, "Destination: [127.0.0.1]:1\nWARNING: 10 connections might not "
                               "be opened at a rate 10 within test duration 5.\nDecrease "
                               "--connections=10, or increase --duration=5 or "
                               "--connect-rate=10.\n");
    RUN(ALL, "-c", "10", "-T", "5", "127.0.0.1:1");
    expect_ok();
    assert_string_equal(R.err, "Destination: [127.0.0.1]:1\n");
    RUN(ALL, "-c", "50", "--connect-rate", "0.5k", "-T", "0.05", "127.0.0.1:1");
    expect_fail(64, "Destination: [127.0.0.1]:1\n50 connections can not be opened at a rate "
                    "500 within test duration 0.05.\nDecrease --connections=50, or "
                    "increase --duration=0.05 or --connect-rate=500.\n");
    /* -T -1 (no end) checks nothing. */
    RUN(ALL, "-c", "100", "--connect-rate", "1", "-T", "-1", "127.0.0.1:1");
    expect_ok();
}

/* ---- system limits (pure, with made-up limits) --------------------------------------------- */

static struct tk_dest mkdest(const char *ip, uint16_t port)
{
    struct tk_dest d;
    memset(&d, 0, sizeof d);
    snprintf(d.text, sizeof d.text, "%s:%u", ip, port);
    struct sockaddr_in *in = (struct sockaddr_in *)&d.addr.ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&d.addr.ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        d.addr.len = sizeof *in;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        d.addr.len = sizeof *in6;
    }
    return d;
}

static void test_syslimits(void **state)
{
    (void)state;
    struct tk_syslimits sl = {
        .nofile_soft = 1024, .nofile_hard = 4096, .port_lo = 32768, .port_hi = 60999,
        .conntrack_max = 262144, .conntrack_count = 100, .tw_reuse = 2,
        .rmem_max = 212992, .wmem_max = 212992,
    };
    char msg[1024];
    assert_int_equal(tk_syslimits_nofile(&sl, 500, 600, msg, sizeof msg), 0);
    assert_int_equal(tk_syslimits_nofile(&sl, 20000, 20080, msg, sizeof msg), -1);
    assert_string_equal(msg, "Open files limit (`ulimit -n`) 1024 is too low for the expected "
                             "scale (-c 20000): about 20080 descriptors are needed and the hard "
                             "limit is 4096. Raise the hard limit (as root: `ulimit -Hn 20080`, "
                             "LimitNOFILE= for a systemd unit, or /etc/security/limits.conf), or "
                             "lower --connections.");
    assert_int_equal(tk_syslimits_buffer("--rcvbuf", "net.core.rmem_max", 100000, 212992, msg,
                                         sizeof msg), 0);
    assert_int_equal(tk_syslimits_buffer("--rcvbuf", "net.core.rmem_max", 4194304, 212992, msg,
                                         sizeof msg), -1);
    assert_string_equal(msg, "--rcvbuf 4194304 is above net.core.rmem_max 212992, so the kernel "
                             "caps it at 212992. Raise the cap: sysctl -w "
                             "net.core.rmem_max=4194304");
    assert_int_equal(tk_syslimits_port_count(&sl), 28232);

    struct tk_dest remote = mkdest("192.0.2.1", 80), lo = mkdest("127.0.0.1", 80),
                   lo6 = mkdest("::1", 80);
    struct tk_syslimits_load load = {.connections = 30000, .ndests = 1, .dests = &remote};
    struct tk_syslimits_verdict v;
    tk_syslimits_check(&sl, &load, &v);
    assert_true(v.ports_short);
    assert_true(v.time_wait); /* tw_reuse=2 does not cover a remote destination */
    assert_false(v.conntrack_short);
    tk_syslimits_ports_message(&sl, &load, msg, sizeof msg);
    assert_string_equal(msg, "-c 30000 opens 30000 connections to 192.0.2.1:80 from 1 source "
                             "address, but the ephemeral port range 32768-60999 "
                             "(/proc/sys/net/ipv4/ip_local_port_range) has only 28232 ports per "
                             "source address. Widen it (sysctl -w "
                             "net.ipv4.ip_local_port_range=\"1024 65535\"), add --source-ip "
                             "addresses, or add destinations.");
    tk_syslimits_time_wait_message(&sl, &load, msg, sizeof msg);
    assert_string_equal(msg, "Not reusing TIME_WAIT sockets (tcp_tw_reuse=2: loopback only), "
                             "might not open 30000 simultaneous connections. Adjust "
                             "\"/proc/sys/net/ipv4/tcp_tw_reuse\" value (1: reuse for every "
                             "destination).");
    /* Two source addresses double the room. */
    load.nsource_ips = 2;
    tk_syslimits_check(&sl, &load, &v);
    assert_false(v.ports_short);
    /* Loopback IPv4 without --source-ip spreads over 127.x sources: no port limit, and
     * tw_reuse=2 covers loopback (bug 45). */
    load.nsource_ips = 0;
    load.dests = &lo;
    load.connections = 100000;
    tk_syslimits_check(&sl, &load, &v);
    assert_false(v.ports_short);
    assert_false(v.time_wait);
    /* ::1 has one address. */
    load.dests = &lo6;
    tk_syslimits_check(&sl, &load, &v);
    assert_true(v.ports_short);
    /* Several destinations share the connections. */
    struct tk_dest two[2] = {remote, mkdest("192.0.2.2", 80)};
    load.dests = two;
    load.ndests = 2;
    load.connections = 50000;
    tk_syslimits_check(&sl, &load, &v);
    assert_false(v.ports_short);
    /* Conntrack. */
    load.connections = 262100;
    tk_syslimits_check(&sl, &load, &v);
    assert_true(v.conntrack_short);
    tk_syslimits_conntrack_message(&sl, &load, msg, sizeof msg);
    assert_string_equal(msg, "-c 262100 may not fit in the connection tracking table: "
                             "nf_conntrack_max is 262144 with 100 entries in use, and new "
                             "connections are dropped while it is full. Raise it: sysctl -w "
                             "net.netfilter.nf_conntrack_max=524300");
    /* tw_reuse 1: never a warning; 0: with churn or scarce ports. */
    sl.tw_reuse = 1;
    load.connections = 10;
    load.ndests = 1;
    load.dests = &remote;
    load.churn = true;
    tk_syslimits_check(&sl, &load, &v);
    assert_false(v.time_wait);
    sl.tw_reuse = 0;
    tk_syslimits_check(&sl, &load, &v);
    assert_true(v.time_wait);
    load.churn = false;
    tk_syslimits_check(&sl, &load, &v);
    assert_false(v.time_wait);
    /* Unknown limits decide nothing. */
    struct tk_syslimits none = {.port_lo = -1, .port_hi = -1, .conntrack_max = -1,
                                .tw_reuse = -1, .rmem_max = -1, .wmem_max = -1};
    load.connections = 1000000;
    tk_syslimits_check(&none, &load, &v);
    assert_false(v.ports_short || v.conntrack_short || v.time_wait);
}

static int teardown(void **state)
{
    (void)state;
    free_res();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, teardown),
        cmocka_unit_test_teardown(test_permute_and_combined_flags, teardown),
        cmocka_unit_test_teardown(test_connections, teardown),
        cmocka_unit_test_teardown(test_rates, teardown),
        cmocka_unit_test_teardown(test_times, teardown),
        cmocka_unit_test_teardown(test_bandwidth, teardown),
        cmocka_unit_test_teardown(test_sizes, teardown),
        cmocka_unit_test_teardown(test_workers, teardown),
        cmocka_unit_test_teardown(test_verbose_dump_flags, teardown),
        cmocka_unit_test_teardown(test_socket_options, teardown),
        cmocka_unit_test_teardown(test_listen, teardown),
        cmocka_unit_test_teardown(test_statsd, teardown),
        cmocka_unit_test_teardown(test_messages, teardown),
        cmocka_unit_test_teardown(test_markers_and_stop, teardown),
        cmocka_unit_test_teardown(test_headers_and_ws, teardown),
        cmocka_unit_test_teardown(test_percentiles, teardown),
        cmocka_unit_test_teardown(test_rate_search, teardown),
        cmocka_unit_test_teardown(test_unknown_and_missing, teardown),
        cmocka_unit_test_teardown(test_help_and_version, teardown),
        cmocka_unit_test_teardown(test_ssl, teardown),
        cmocka_unit_test_teardown(test_destinations, teardown),
        cmocka_unit_test_teardown(test_listen_addresses, teardown),
        cmocka_unit_test_teardown(test_late_checks, teardown),
        cmocka_unit_test_teardown(test_feasibility, teardown),
        cmocka_unit_test_teardown(test_syslimits, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
