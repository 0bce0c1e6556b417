/* The flowgrind controller's pure parts (src/flowgrind/ctl.h): daemons de-duplicated by
 * uuid, reports matched per daemon with stale ones ignored (bug 38), a report turned into a
 * table row and a summary line (sample counts from the daemon or estimated from blocks),
 * the OS column rules, the --json document of a fake run, the log file name and the tee
 * that writes the same text to stdout and the log file (bug 6). */

#include <errno.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <math.h>

#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#include "flowgrind/ctl.h"

static void set_endpoint(struct fg_opts_endpoint *e, const char *h, int flow)
{
    char err[256];
    fg_rpc_settings_defaults(&e->s);
    e->s.flow_id = flow;
    assert_int_equal(addr_parse_flowgrind_host(h, &e->host, err, sizeof(err)), 0);
    snprintf(e->s.bind_address, sizeof(e->s.bind_address), "%s", e->host.test);
    addr_flowgrind_url(&e->host, e->url, sizeof(e->url));
    addr_flowgrind_label(&e->host, e->label, sizeof(e->label));
}

/* n flows; hosts[2*i] / hosts[2*i+1] the -H values of flow i's source / destination. */
static void make_opts(struct fg_opts *o, int n, const char *const *hosts)
{
    memset(o, 0, sizeof(*o));
    o->n_flows = n;
    o->interval_s = 0.5;
    fg_table_opts_init(&o->table);
    o->flows = calloc((size_t)n, sizeof(*o->flows));
    assert_non_null(o->flows);
    for (int i = 0; i < n; i++) {
        set_endpoint(&o->flows[i].ep[FG_SOURCE], hosts[2 * i], i);
        set_endpoint(&o->flows[i].ep[FG_DESTINATION], hosts[2 * i + 1], i);
        o->flows[i].ep[FG_SOURCE].s.write_duration = 2.0;
        o->flows[i].ep[FG_DESTINATION].s.read_duration = 2.0;
        o->flows[i].ep[FG_SOURCE].s.random_seed = 972097349;
        o->flows[i].ep[FG_DESTINATION].s.random_seed = 972097349;
    }
}

static void set_version(struct ctl_daemon *d, const char *os)
{
    d->have_version = true;
    snprintf(d->version.version, sizeof(d->version.version), "0.8.2");
    d->version.api_version = 3;
    snprintf(d->version.os_name, sizeof(d->version.os_name), "%s", os);
    snprintf(d->version.os_release, sizeof(d->version.os_release), "6.1.0");
}

/* A one-flow run on one daemon, both endpoints created. */
static void one_flow_run(struct fg_opts *o, struct ctl_run *run, bool keep)
{
    static const char *const hosts[] = {"127.0.0.1/127.0.0.1:20100", "127.0.0.1/127.0.0.1:20100"};
    make_opts(o, 1, hosts);
    assert_int_equal(ctl_run_init(run, o, keep), 0);
    assert_int_equal(ctl_collect_urls(run), 1);
    assert_int_equal(ctl_add_daemon(run, 0, "uuid-a"), 0);
    ctl_assign_endpoints(run);
    set_version(&run->daemons[0], "Linux");
    run->flows[0].ep[0].created = run->flows[0].ep[1].created = true;
    run->flows[0].ep[0].real_sbuf = run->flows[0].ep[1].real_sbuf = 16384;
    run->flows[0].ep[0].real_rbuf = run->flows[0].ep[1].real_rbuf = 131072;
}

static void free_run(struct fg_opts *o, struct ctl_run *run)
{
    ctl_run_free(run);
    free(o->flows);
}

static struct fg_report report(int id, int endpoint, int type, double begin, double end)
{
    struct fg_report r;
    fg_rpc_report_init(&r);
    r.rtt_samples = r.iat_samples = r.delay_samples = -1; /* a 0.8.2 daemon sends no counts */
    r.id = id;
    r.endpoint = endpoint;
    r.type = type;
    r.begin.tv_sec = (time_t)begin;
    r.begin.tv_nsec = (long)((begin - (double)(time_t)begin) * 1e9 + 0.5);
    r.end.tv_sec = (time_t)end;
    r.end.tv_nsec = (long)((end - (double)(time_t)end) * 1e9 + 0.5);
    return r;
}

/* ---- daemons -------------------------------------------------------------------------- */

/* URLs in the original's order (flow 0 S, flow 0 D, flow 1 S, ...), each once; two URLs
 * reaching one daemon process (same uuid) make one daemon, reached by the first URL. */
static void test_urls_and_dedupe(void **state)
{
    (void)state;
    static const char *const hosts[] = {
        "a/10.0.0.1:1", "b/10.0.0.2:2", /* flow 0 */
        "c/10.0.0.3:3", "a/10.0.0.1:1", /* flow 1 */
    };
    struct fg_opts o;
    struct ctl_run run;
    make_opts(&o, 2, hosts);
    assert_int_equal(ctl_run_init(&run, &o, false), 0);
    assert_int_equal(ctl_collect_urls(&run), 3);
    assert_string_equal(run.urls[0].url, "http://10.0.0.1:1/RPC2");
    assert_string_equal(run.urls[1].url, "http://10.0.0.2:2/RPC2");
    assert_string_equal(run.urls[2].url, "http://10.0.0.3:3/RPC2");
    assert_int_equal(ctl_add_daemon(&run, 0, "u1"), 0);
    assert_int_equal(ctl_add_daemon(&run, 1, "u2"), 1);
    assert_int_equal(ctl_add_daemon(&run, 2, "u1"), 0); /* same process as URL 0 */
    assert_int_equal(run.n_daemons, 2);
    assert_string_equal(run.daemons[0].url, "http://10.0.0.1:1/RPC2");
    ctl_assign_endpoints(&run);
    assert_int_equal(run.flows[0].ep[FG_SOURCE].daemon, 0);
    assert_int_equal(run.flows[0].ep[FG_DESTINATION].daemon, 1);
    assert_int_equal(run.flows[1].ep[FG_SOURCE].daemon, 0);
    assert_int_equal(run.flows[1].ep[FG_DESTINATION].daemon, 0);
    free_run(&o, &run);
}

/* §7.2: columns by the OSes involved; the kernel unit by the first daemon unless -s. */
static void test_table_os_rules(void **state)
{
    (void)state;
    static const char *const hosts[] = {"a/10.0.0.1:1", "b/10.0.0.2:2"};
    struct fg_opts o;
    struct ctl_run run;
    struct fg_table_opts t;
    make_opts(&o, 1, hosts);
    assert_int_equal(ctl_run_init(&run, &o, false), 0);
    ctl_collect_urls(&run);
    ctl_add_daemon(&run, 0, "u1");
    ctl_add_daemon(&run, 1, "u2");
    set_version(&run.daemons[0], "FreeBSD");
    set_version(&run.daemons[1], "Linux");
    ctl_table_opts(&run, &t);
    assert_true(t.any_linux);
    assert_true(t.any_freebsd);
    assert_true(t.kernel_bytes); /* first daemon is not Linux */
    o.tcp_stack = FG_TCP_STACK_SEGMENT;
    ctl_table_opts(&run, &t);
    assert_false(t.kernel_bytes);
    o.tcp_stack = FG_TCP_STACK_AUTO;
    set_version(&run.daemons[0], "Linux");
    set_version(&run.daemons[1], "Darwin");
    ctl_table_opts(&run, &t);
    assert_true(t.any_linux);
    assert_false(t.any_freebsd);
    assert_false(t.kernel_bytes);
    o.tcp_stack = FG_TCP_STACK_BYTE;
    ctl_table_opts(&run, &t);
    assert_true(t.kernel_bytes);
    set_version(&run.daemons[0], "Darwin");
    o.tcp_stack = FG_TCP_STACK_AUTO;
    ctl_table_opts(&run, &t);
    assert_false(t.any_linux);
    free_run(&o, &run);
}

/* ---- matching --------------------------------------------------------------------------- */

/* Reports that are not for an endpoint of this run on that daemon are ignored and counted
 * (bug 38): unknown flow id, bad endpoint or type, wrong daemon, an endpoint never created,
 * anything after the endpoint's FINAL report. */
static void test_stale_reports(void **state)
{
    (void)state;
    static const char *const hosts[] = {"a/10.0.0.1:1", "b/10.0.0.2:2"};
    struct fg_opts o;
    struct ctl_run run;
    struct fg_table_report row;
    make_opts(&o, 1, hosts);
    assert_int_equal(ctl_run_init(&run, &o, false), 0);
    ctl_collect_urls(&run);
    ctl_add_daemon(&run, 0, "u1");
    ctl_add_daemon(&run, 1, "u2");
    ctl_assign_endpoints(&run);
    run.flows[0].ep[FG_SOURCE].created = true;

    struct fg_report r = report(1, FG_SOURCE, FG_REPORT_INTERVAL, 100, 100.5);
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_STALE); /* flow 1: not ours */
    r = report(-1, FG_SOURCE, FG_REPORT_INTERVAL, 100, 100.5);
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_STALE);
    r = report(0, 2, FG_REPORT_INTERVAL, 100, 100.5);
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_STALE);
    r = report(0, FG_SOURCE, 7, 100, 100.5);
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_STALE);
    r = report(0, FG_SOURCE, FG_REPORT_INTERVAL, 100, 100.5);
    assert_int_equal(ctl_accept_report(&run, 1, &r, &row), CTL_STALE); /* source is on 0 */
    r = report(0, FG_DESTINATION, FG_REPORT_INTERVAL, 100, 100.5);
    assert_int_equal(ctl_accept_report(&run, 1, &r, &row), CTL_STALE); /* not created */
    assert_false(run.flows[0].ep[FG_SOURCE].have_first); /* stale ones set no origin */
    assert_int_equal(run.stale_reports, 6);

    r = report(0, FG_SOURCE, FG_REPORT_INTERVAL, 100, 100.5);
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_INTERVAL);
    r = report(0, FG_SOURCE, FG_REPORT_FINAL, 100, 102);
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_FINAL);
    assert_true(run.flows[0].ep[FG_SOURCE].have_final);
    assert_int_equal(ctl_unfinished(&run), 0);
    assert_false(ctl_daemon_busy(&run, 0));
    r = report(0, FG_SOURCE, FG_REPORT_FINAL, 90, 95); /* a second FINAL: stale */
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_STALE);
    assert_near(run.flows[0].ep[FG_SOURCE].final.end.tv_sec, 102, 0);
    assert_int_equal(run.stale_reports, 7);
    free_run(&o, &run);
}

/* An interval row: times relative to the endpoint's first report, counters and TCP_INFO
 * copied, sample counts estimated from blocks for a 0.8.2 daemon (one IAT sample fewer in
 * the report holding the flow's first block), taken from the daemon when it sent them. */
static void test_interval_row(void **state)
{
    (void)state;
    struct fg_opts o;
    struct ctl_run run;
    struct fg_table_report row;
    one_flow_run(&o, &run, true);
    assert_int_equal(ctl_unfinished(&run), 2);
    assert_true(ctl_daemon_busy(&run, 0));

    struct fg_report r = report(0, FG_DESTINATION, FG_REPORT_INTERVAL, 1000.25, 1000.75);
    r.bytes_written = 123;
    r.request_blocks_read = 10;
    r.iat_min = 0.001, r.iat_max = 0.003, r.iat_sum = 0.018;
    r.delay_min = 0.0005, r.delay_max = 0.001, r.delay_sum = 0.007;
    r.tcpi.snd_cwnd = 10;
    r.tcpi.snd_ssthresh = 2147483647;
    r.tcpi.rtt = 1500;
    r.tcpi.snd_mss = 32768;
    r.pmtu = 65535;
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_INTERVAL);
    assert_false(row.source);
    assert_int_equal(row.flow_id, 0);
    assert_near(row.begin_s, 0.0, 1e-9);
    assert_near(row.end_s, 0.5, 1e-6);
    assert_int_equal(row.bytes_written, 123);
    assert_int_equal(row.iat.samples, 9); /* first block: no IAT sample */
    assert_int_equal(row.delay.samples, 10);
    assert_int_equal(row.rtt.samples, 0);
    assert_int_equal(row.cwnd, 10);
    assert_int_equal(row.ssthresh, 2147483647);
    assert_int_equal(row.rtt_us, 1500);
    assert_int_equal(row.snd_mss, 32768);
    assert_int_equal(row.pmtu, 65535);

    r = report(0, FG_DESTINATION, FG_REPORT_INTERVAL, 1000.75, 1001.25);
    r.request_blocks_read = 10;
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_INTERVAL);
    assert_near(row.begin_s, 0.5, 1e-6);
    assert_near(row.end_s, 1.0, 1e-6);
    assert_int_equal(row.iat.samples, 10);

    r = report(0, FG_SOURCE, FG_REPORT_INTERVAL, 1000.5, 1001);
    r.response_blocks_read = 7;
    r.rtt_samples = 5; /* a netgrind daemon's own counts win */
    r.iat_samples = 0;
    r.delay_samples = 0;
    assert_int_equal(ctl_accept_report(&run, 0, &r, &row), CTL_INTERVAL);
    assert_true(row.source);
    assert_near(row.begin_s, 0.0, 1e-9); /* its own origin, not the D's */
    assert_int_equal(row.rtt.samples, 5);
    assert_int_equal(row.iat.samples, 0);
    assert_int_equal(run.flows[0].ep[FG_DESTINATION].n_intervals, 2); /* kept for JSON */
    assert_int_equal(run.flows[0].ep[FG_SOURCE].n_intervals, 1);
    free_run(&o, &run);
}

/* The summary lines of a fake run, through fg_summary_print, byte for byte. */
static void test_summary_lines(void **state)
{
    (void)state;
    struct fg_opts o;
    struct ctl_run run;
    struct fg_table_report row;
    one_flow_run(&o, &run, false);
    struct fg_report s = report(0, FG_SOURCE, FG_REPORT_FINAL, 1000, 1002);
    s.bytes_written = 1000000000;
    s.request_blocks_written = 122070;
    s.tcpi.snd_mss = 65483;
    s.pmtu = 65535;
    s.imtu = 65536;
    struct fg_report d = report(0, FG_DESTINATION, FG_REPORT_FINAL, 1000, 1002);
    d.bytes_read = 1000000000;
    d.request_blocks_read = 100001;
    d.iat_min = 0.000001, d.iat_max = 0.002, d.iat_sum = 0.5; /* 100000 samples: 0.005 ms */
    d.delay_min = 0.000002, d.delay_max = 0.003, d.delay_sum = 0.300003;
    d.tcpi.snd_mss = 32768;
    d.pmtu = 65535;
    d.imtu = 1500;
    assert_int_equal(ctl_accept_report(&run, 0, &s, &row), CTL_FINAL);
    assert_int_equal(ctl_accept_report(&run, 0, &d, &row), CTL_FINAL);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct fg_summary sum;
    ctl_summary_fill(&run, 0, FG_SOURCE, &sum);
    fg_summary_print(&sum, f);
    ctl_summary_fill(&run, 0, FG_DESTINATION, &sum);
    fg_summary_print(&sum, f);
    fclose(f);
    assert_string_equal(
        buf, "# ID   0 S: 127.0.0.1:20100 (Linux 6.1.0), random seed: 972097349, sbuf = 16384/0 "
             "[B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 "
             "[B], Interface MTU = 65536 (unknown) [B], duration = 2.000/2.000 [s] (real/req), "
             "through = 4000.000000/0.000000 [Mbit/s] (out/in), request blocks = 122070/0 [#] "
             "(out/in)\n"
             "# ID   0 D: 127.0.0.1:20100 (Linux 6.1.0), random seed: 972097349, sbuf = 16384/0 "
             "[B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 32768 [B], PMTU = 65535 "
             "[B], Interface MTU = 1500 (Ethernet/PPP) [B], through = 0.000000/4000.000000 "
             "[Mbit/s] (out/in), request blocks = 0/100001 [#] (out/in), IAT = "
             "0.001/0.005/2.000 [ms] (min/avg/max), delay = 0.002/0.003/3.000 [ms] "
             "(min/avg/max)\n");
    free(buf);
    free_run(&o, &run);
}

static void test_summary_missing_final(void **state)
{
    (void)state;
    struct fg_opts o;
    struct ctl_run run;
    one_flow_run(&o, &run, false);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct fg_summary sum;
    ctl_summary_fill(&run, 0, FG_DESTINATION, &sum);
    fg_summary_print(&sum, f);
    fclose(f);
    assert_string_equal(buf, "# ID   0 D: Error: no final report received\n");
    free(buf);
    free_run(&o, &run);
}

/* The summary's options part comes from the endpoint's settings: CC only when -O
 * TCP_CONGESTION was given, -R's text, flags, late connect of the flow. */
static void test_summary_flags(void **state)
{
    (void)state;
    struct fg_opts o;
    struct ctl_run run;
    struct fg_table_report row;
    one_flow_run(&o, &run, false);
    struct fg_opts_endpoint *oe = &o.flows[0].ep[FG_SOURCE];
    snprintf(oe->rate_text, sizeof(oe->rate_text), "10Mb");
    snprintf(oe->s.cc_alg, sizeof(oe->s.cc_alg), "reno");
    oe->cc_given = true;
    oe->s.nonagle = 1;
    oe->s.dscp = 0x2e;
    oe->s.shutdown = true;
    o.flows[0].late_connect = true;
    struct fg_report s = report(0, FG_SOURCE, FG_REPORT_FINAL, 1000, 1002);
    assert_int_equal(ctl_accept_report(&run, 0, &s, &row), CTL_FINAL);
    struct fg_summary sum;
    ctl_summary_fill(&run, 0, FG_SOURCE, &sum);
    assert_string_equal(sum.cc, "reno");
    assert_string_equal(sum.rate, "10Mb");
    assert_true(sum.nodelay);
    assert_true(sum.late_connect);
    assert_true(sum.shutdown);
    assert_int_equal(sum.dscp, 0x2e);
    assert_string_equal(sum.os_name, "Linux");
    assert_int_equal(sum.control_port, 20100);
    oe->cc_given = false;
    oe->rate_text[0] = '\0';
    ctl_summary_fill(&run, 0, FG_SOURCE, &sum);
    assert_null(sum.cc);
    assert_null(sum.rate);
    free_run(&o, &run);
}

static void test_expected_duration_and_status(void **state)
{
    (void)state;
    static const char *const hosts[] = {"a", "b", "a", "b"};
    struct fg_opts o;
    make_opts(&o, 2, hosts);
    o.flows[1].ep[FG_DESTINATION].s.write_delay = 1.5;
    o.flows[1].ep[FG_DESTINATION].s.write_duration = 3;
    assert_near(ctl_expected_duration(&o), 4.5, 1e-12);
    free(o.flows);

    char rd[2], wr[2];
    ctl_status_letters(28271, rd, wr); /* 'n' * 256 + 'o' */
    assert_string_equal(rd, "n");
    assert_string_equal(wr, "o");
    ctl_status_letters(0x0107, rd, wr);
    assert_string_equal(rd, "?");
    assert_string_equal(wr, "?");
}

/* ---- JSON ------------------------------------------------------------------------------- */

static char *json_of(const struct ctl_run *run)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(ctl_json_write(run, f), 0);
    fclose(f);
    return buf;
}

/* Brackets balanced outside strings, one top-level object, no NaN or infinity. */
static void assert_json_shape(const char *s)
{
    int depth = 0;
    bool in_string = false;
    for (const char *p = s; *p; p++) {
        if (in_string) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_string = false;
            continue;
        }
        if (*p == '"')
            in_string = true;
        else if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            assert_true(--depth >= 0);
    }
    assert_false(in_string);
    assert_int_equal(depth, 0);
    assert_int_equal(s[0], '{');
    assert_null(strstr(s, ": nan"));
    assert_null(strstr(s, ": inf"));
    assert_null(strstr(s, ": -inf"));
}

static void test_json_run(void **state)
{
    (void)state;
    struct fg_opts o;
    struct ctl_run run;
    struct fg_table_report row;
    one_flow_run(&o, &run, true);
    snprintf(run.daemons[0].uuid, sizeof(run.daemons[0].uuid), "4ed5a584-e704");
    struct fg_report r = report(0, FG_DESTINATION, FG_REPORT_INTERVAL, 1000, 1000.5);
    r.bytes_read = 62500000; /* 1000 Mbit/s over 0.5 s */
    r.request_blocks_read = 3;
    r.iat_min = 0.001, r.iat_max = 0.003, r.iat_sum = 0.004;
    ctl_accept_report(&run, 0, &r, &row);
    r = report(0, FG_DESTINATION, FG_REPORT_FINAL, 1000, 1002);
    r.bytes_read = 250000000;
    ctl_accept_report(&run, 0, &r, &row);
    run.stale_reports = 4;

    char *s = json_of(&run);
    assert_json_shape(s);
    assert_non_null(strstr(s, "\"program\": \"flowgrind\""));
    assert_non_null(strstr(s, "\"report_interval_s\": 0.5"));
    /* the defaults: constant 8192-byte requests, no response, no gap */
    const char *req = strstr(s, "\"request_size_bytes\": {");
    assert_non_null(req);
    const char *dist = strstr(req, "\"distribution\": ");
    assert_non_null(dist);
    assert_memory_equal(dist + strlen("\"distribution\": "), "\"constant\",", 11);
    assert_non_null(strstr(s, "\"url\": \"http://127.0.0.1:20100/RPC2\""));
    assert_non_null(strstr(s, "\"uuid\": \"4ed5a584-e704\""));
    assert_non_null(strstr(s, "\"os_name\": \"Linux\""));
    assert_non_null(strstr(s, "\"throughput_read_mbit_per_s\": 1000,"));
    assert_non_null(strstr(s, "\"min\": 1,")); /* iat_ms */
    assert_non_null(strstr(s, "\"avg\": 2,")); /* 4 ms over 2 samples (3 blocks, first none) */
    assert_non_null(strstr(s, "\"samples\": 2"));
    assert_non_null(strstr(s, "\"rtt_ms\": null"));
    /* final: 250 MB read over the 2 s read duration = 1000 Mbit/s */
    assert_non_null(strstr(s, "\"end_s\": 2,"));
    assert_non_null(strstr(s, "\"final\": null")); /* the source sent none */
    assert_non_null(strstr(s, "\"stale_reports_ignored\": 4"));
    assert_non_null(strstr(s, "\"interrupted\": false"));
    assert_null(strstr(s, "\"error\""));
    free(s);

    snprintf(run.error, sizeof(run.error), "XML-RPC Fault: \"boom\" (-500)");
    s = json_of(&run);
    assert_json_shape(s);
    assert_non_null(strstr(s, "\"error\": \"XML-RPC Fault: \\\"boom\\\" (-500)\""));
    free(s);
    free_run(&o, &run);
}

/* A run that failed before any daemon answered is still one valid document. */
static void test_json_failed_early(void **state)
{
    (void)state;
    static const char *const hosts[] = {"a", "b"};
    struct fg_opts o;
    struct ctl_run run;
    make_opts(&o, 1, hosts);
    assert_int_equal(ctl_run_init(&run, &o, true), 0);
    snprintf(run.error, sizeof(run.error), "log file exists");
    char *s = json_of(&run);
    assert_json_shape(s);
    assert_non_null(strstr(s, "\"daemons\": []"));
    assert_non_null(strstr(s, "\"error\": \"log file exists\""));
    free(s);
    free_run(&o, &run);
}

/* ---- output sinks ----------------------------------------------------------------------- */

static void test_default_log_name(void **state)
{
    (void)state;
    char buf[128];
    setenv("TZ", "UTC", 1);
    tzset();
    ctl_default_log_name("flowgrind", 1795414181, buf, sizeof(buf));
    assert_string_equal(buf, "flowgrind-2026-11-23-06:09:41.log");
    ctl_default_log_name("", 1795414181, buf, sizeof(buf));
    assert_string_equal(buf, "flowgrind-2026-11-23-06:09:41.log");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* -q --log-file: the file gets exactly the text written (formatted once, bug 6); an
 * existing file is refused unless -o. */
static void test_log_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_fg_ctl_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct fg_opts o;
    memset(&o, 0, sizeof(o));
    o.quiet = true;
    o.log_to_file = true;
    snprintf(o.log_file, sizeof(o.log_file), "%s/run.log", dir);

    struct ctl_out out;
    char err[256];
    assert_int_equal(ctl_out_open(&out, &o, err, sizeof(err)), 0);
    assert_false(out.to_stdout);
    fg_table_headline(out.text, "2026-11-23-06:09:12", "vm", 1, 0.05, false, "0.8.2");
    fprintf(out.text, "%s %d\n", "second", 2);
    ctl_out_close(&out);
    assert_string_equal(slurp(o.log_file),
                        "# Date: 2026-11-23-06:09:12, controlling host = vm, number of flows = 1, "
                        "reporting interval = 0.05s, [through] = 10**6 bit/second (0.8.2)\n"
                        "second 2\n");

    assert_int_equal(ctl_out_open(&out, &o, err, sizeof(err)), -1);
    assert_string_equal(err, "log file exists");
    o.overwrite = true;
    assert_int_equal(ctl_out_open(&out, &o, err, sizeof(err)), 0);
    fputs("new\n", out.text);
    ctl_out_close(&out);
    assert_string_equal(slurp(o.log_file), "new\n");

    unlink(o.log_file);
    rmdir(dir);
}

/* --json sends no text to stdout; without a log file the text goes nowhere. */
static void test_json_no_text_sink(void **state)
{
    (void)state;
    struct fg_opts o;
    memset(&o, 0, sizeof(o));
    o.json = true;
    struct ctl_out out;
    char err[256];
    assert_int_equal(ctl_out_open(&out, &o, err, sizeof(err)), 0);
    assert_false(out.to_stdout);
    assert_null(out.log);
    assert_true(fprintf(out.text, "dropped\n") > 0);
    assert_int_equal(fflush(out.text), 0); /* the stream with no sink takes it all */
    assert_false(ferror(out.text));
    ctl_out_close(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls_and_dedupe),
        cmocka_unit_test(test_table_os_rules),
        cmocka_unit_test(test_stale_reports),
        cmocka_unit_test(test_interval_row),
        cmocka_unit_test(test_summary_lines),
        cmocka_unit_test(test_summary_missing_final),
        cmocka_unit_test(test_summary_flags),
        cmocka_unit_test(test_expected_duration_and_status),
        cmocka_unit_test(test_json_run),
        cmocka_unit_test(test_json_failed_early),
        cmocka_unit_test(test_default_log_name),
        cmocka_unit_test(test_log_file),
        cmocka_unit_test(test_json_no_text_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
