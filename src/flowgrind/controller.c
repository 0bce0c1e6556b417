/* flowgrind, the controller: drives flowgrindd daemons over XML-RPC (spec §3.2), prints the
 * interval table and the summary lines (§7), or one JSON document with --json.
 *
 * The run, in the original's order: get_uuid once per distinct control URL, daemons
 * de-duplicated by uuid; get_version and get_status per daemon; per flow
 * add_flow_destination then add_flow_source; start_flows per daemon; then get_reports per
 * daemon every -i seconds until every endpoint has sent its FINAL report, one last round,
 * the summary. What differs from 0.8.2, each on purpose (doc/man/flowgrind.1):
 *  - polls are on a schedule, start + k*interval on the monotonic clock, sleeping in
 *    between (0.8.2 spun: a seconds value passed to usleep, bug 40);
 *  - before creating flows, each daemon's report queue is emptied and reports that match
 *    no endpoint of this run on that daemon are ignored (0.8.2 printed stale reports of an
 *    earlier run as garbage rows, bug 38);
 *  - a fault during preparation stops the flows already created (bug 37);
 *  - a version mismatch is one warning naming both versions, without a 5 s stall (bug 41);
 *  - a run whose daemons never send a FINAL report ends some seconds after the flows
 *    should have ended, stopping them, instead of polling for ever. */

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "flowgrind/ctl.h"
#include "flowgrind/flowgrind.h"

/* A flow's FINAL report may come this long after its last timer on the daemon (connect
 * retries, a stalled peer, the daemon's 10 ms loop) before the controller gives up on it. */
#define CTL_GRACE_S 5.0
#define CTL_REPORT_BUF 1024 /* reports parsed per get_reports reply (the daemon sends <= 50) */

static volatile sig_atomic_t sigint_count;

/* First SIGINT: the main loop closes the flows gracefully. Second: leave at once. */
static void on_sigint(int sig)
{
    (void)sig;
    if (sigint_count > 0)
        _exit(1);
    sigint_count = 1;
}

struct ctl {
    struct fg_opts opts;
    struct ctl_run run;
    struct ctl_client *client;
    struct ctl_out out;
    struct fg_table table;
    bool table_ready;
    bool *daemon_failed; /* a call to this daemon failed during the run: skip it */
    struct fg_report *reports;
    char err[1024];
};

/* Records the run's error (the first one wins) and prints it as 0.8.2 does. */
static void fail(struct ctl *c, const char *msg)
{
    fprintf(stderr, "flowgrind: error: %s\n", msg);
    if (!c->run.error[0])
        snprintf(c->run.error, sizeof(c->run.error), "%s", msg);
}

static const char *daemon_url(const struct ctl *c, size_t d)
{
    return c->run.daemons[d].url;
}

/* A call without params; 0 or -1 with c->err filled. */
static int call_noparams(struct ctl *c, const char *url, const char *method, xmlrpc_value **res)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *p = fg_rpc_no_params(&env);
    xmlrpc_env_clean(&env);
    return ctl_call(c->client, url, method, p, res, c->err, sizeof(c->err));
}

/* Ends the parse of reply res whose result is rc: on failure env's fault goes into c->err;
 * env is cleaned and res released either way. Returns rc. */
static int reply_parsed(struct ctl *c, xmlrpc_env *env, xmlrpc_value *res, int rc)
{
    if (rc < 0)
        ctl_fault_text(env, c->err, sizeof(c->err));
    xmlrpc_env_clean(env);
    xmlrpc_DECREF(res);
    return rc;
}

/* ---- preparation ------------------------------------------------------------------------ */

static int ask_uuids(struct ctl *c)
{
    if (ctl_collect_urls(&c->run) < 0) {
        fail(c, "out of memory");
        return -1;
    }
    for (size_t u = 0; u < c->run.n_urls; u++) {
        xmlrpc_value *res;
        if (call_noparams(c, c->run.urls[u].url, "get_uuid", &res) < 0) {
            fail(c, c->err);
            return -1;
        }
        char uuid[CTL_UUID_MAX];
        xmlrpc_env env;
        xmlrpc_env_init(&env);
        int rc = reply_parsed(c, &env, res, fg_rpc_parse_uuid_reply(&env, res, uuid, sizeof(uuid)));
        if (rc < 0) {
            fail(c, c->err);
            return -1;
        }
        ctl_add_daemon(&c->run, u, uuid);
    }
    ctl_assign_endpoints(&c->run);
    return 0;
}

static int ask_versions(struct ctl *c)
{
    for (size_t d = 0; d < c->run.n_daemons; d++) {
        struct ctl_daemon *dm = &c->run.daemons[d];
        xmlrpc_value *res;
        if (call_noparams(c, dm->url, "get_version", &res) < 0) {
            fail(c, c->err);
            return -1;
        }
        xmlrpc_env env;
        xmlrpc_env_init(&env);
        int rc = reply_parsed(c, &env, res, fg_rpc_parse_version_reply(&env, res, &dm->version));
        if (rc < 0) {
            fail(c, c->err);
            return -1;
        }
        dm->have_version = true;
        /* 0.8.2 compared the strings and stalled 5 s (bug 41); one clear line is enough */
        if (strcmp(dm->version.version, FG_RPC_VERSION) != 0 ||
            dm->version.api_version != FG_RPC_API_VERSION)
            fprintf(stderr,
                    "flowgrind: warning: node %s uses version %s (API %d), this controller "
                    "speaks version %s (API %d); continuing\n",
                    dm->url, dm->version.version, (int)dm->version.api_version, FG_RPC_VERSION,
                    FG_RPC_API_VERSION);
    }
    return 0;
}

static int check_status(struct ctl *c)
{
    for (size_t d = 0; d < c->run.n_daemons; d++) {
        xmlrpc_value *res;
        if (call_noparams(c, daemon_url(c, d), "get_status", &res) < 0) {
            fail(c, c->err);
            return -1;
        }
        struct fg_status_reply st;
        xmlrpc_env env;
        xmlrpc_env_init(&env);
        int rc = reply_parsed(c, &env, res, fg_rpc_parse_status_reply(&env, res, &st));
        if (rc == 0 && (st.started || st.num_flows)) {
            snprintf(c->err, sizeof(c->err), "node %s is busy. %d flows, started=%d",
                     daemon_url(c, d), (int)st.num_flows, (int)st.started);
            rc = -1;
        }
        if (rc < 0) {
            fail(c, c->err);
            return -1;
        }
    }
    return 0;
}

/* Handles one report of daemon d: an interval row is printed (unless the flow has -Q). */
static void take_report(struct ctl *c, size_t d, const struct fg_report *r)
{
    struct fg_table_report row;
    if (ctl_accept_report(&c->run, d, r, &row) != CTL_INTERVAL)
        return;
    if (c->opts.flows[r->id].quiet || !c->table_ready)
        return;
    fg_table_print(&c->table, &row, c->out.text);
}

/* get_reports on daemon d, repeated while it says it has more. take: hand the reports to
 * the run; otherwise they are stale by construction (the queue before our flows exist)
 * and only counted. 0, or -1 with c->err filled. */
static int fetch_reports(struct ctl *c, size_t d, bool take)
{
    for (;;) {
        xmlrpc_value *res;
        if (call_noparams(c, daemon_url(c, d), "get_reports", &res) < 0)
            return -1;
        bool has_more = false;
        size_t n = 0;
        xmlrpc_env env;
        xmlrpc_env_init(&env);
        int rc = reply_parsed(
            c, &env, res,
            fg_rpc_parse_reports_reply(&env, res, &has_more, c->reports, CTL_REPORT_BUF, &n));
        if (rc < 0)
            return -1;
        for (size_t k = 0; k < n; k++) {
            if (take)
                take_report(c, d, &c->reports[k]);
            else
                c->run.stale_reports++;
        }
        if (!has_more || n == 0) /* n == 0: a daemon claiming more but sending none */
            return 0;
    }
}

/* Empties every daemon's report queue: with no flow on it (get_status said so) whatever is
 * queued is left over from an earlier run (bug 38). */
static int drain_queues(struct ctl *c)
{
    for (size_t d = 0; d < c->run.n_daemons; d++) {
        if (fetch_reports(c, d, false) < 0) {
            fail(c, c->err);
            return -1;
        }
    }
    return 0;
}

/* Endpoint e of flow i: its settings as add_flow_* sends them (the flow id filled in). */
static struct fg_endpoint_settings endpoint_settings(const struct ctl *c, int i, int e)
{
    struct fg_endpoint_settings s = c->opts.flows[i].ep[e].s;
    s.flow_id = i;
    return s;
}

/* Calls add_flow_destination or add_flow_source (method) for ep with params p; once the
 * daemon accepted the call the endpoint is created (stopped if the run is aborted), even
 * when its reply then fails to parse. 0, or -1 with c->err filled. */
static int call_add_flow(struct ctl *c, struct ctl_endpoint *ep, const char *method,
                         xmlrpc_value *p, xmlrpc_value **res)
{
    if (ctl_call(c->client, daemon_url(c, ep->daemon), method, p, res, c->err, sizeof(c->err)) < 0)
        return -1;
    ep->created = true;
    return 0;
}

static int add_destination(struct ctl *c, int i, int32_t *port)
{
    struct ctl_endpoint *ep = &c->run.flows[i].ep[FG_DESTINATION];
    struct fg_endpoint_settings s = endpoint_settings(c, i, FG_DESTINATION);
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *p = fg_rpc_add_destination_params(&env, &s);
    xmlrpc_env_clean(&env);
    xmlrpc_value *res;
    if (call_add_flow(c, ep, "add_flow_destination", p, &res) < 0)
        return -1;
    struct fg_add_destination_reply r;
    xmlrpc_env_init(&env);
    int rc = reply_parsed(c, &env, res, fg_rpc_parse_add_destination_reply(&env, res, &r));
    if (rc < 0)
        return -1;
    ep->real_sbuf = r.real_listen_send_buffer_size;
    ep->real_rbuf = r.real_listen_read_buffer_size;
    *port = r.listen_data_port;
    return 0;
}

static int add_source(struct ctl *c, int i, int32_t port)
{
    const struct fg_opts_flow *of = &c->opts.flows[i];
    struct ctl_endpoint *ep = &c->run.flows[i].ep[FG_SOURCE];
    struct fg_endpoint_settings s = endpoint_settings(c, i, FG_SOURCE);
    struct fg_source_target t;
    memset(&t, 0, sizeof(t));
    const char *dst = of->ep[FG_DESTINATION].host.test;
    if (!dst[0])
        dst = of->ep[FG_DESTINATION].s.bind_address;
    snprintf(t.destination_address, sizeof(t.destination_address), "%s", dst);
    t.destination_port = port;
    t.late_connect = of->late_connect;
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *p = fg_rpc_add_source_params(&env, &s, &t);
    xmlrpc_env_clean(&env);
    xmlrpc_value *res;
    if (call_add_flow(c, ep, "add_flow_source", p, &res) < 0)
        return -1;
    struct fg_add_source_reply r;
    xmlrpc_env_init(&env);
    int rc = reply_parsed(c, &env, res, fg_rpc_parse_add_source_reply(&env, res, &r));
    if (rc < 0)
        return -1;
    ep->real_sbuf = r.real_send_buffer_size;
    ep->real_rbuf = r.real_read_buffer_size;
    snprintf(ep->cc_alg, sizeof(ep->cc_alg), "%s", r.cc_alg);
    return 0;
}

static int add_flows(struct ctl *c)
{
    for (int i = 0; i < c->opts.n_flows; i++) {
        int32_t port = 0;
        if (sigint_count) {
            fail(c, "interrupted during preparation");
            return -1;
        }
        if (add_destination(c, i, &port) < 0 || add_source(c, i, port) < 0) {
            fail(c, c->err);
            return -1;
        }
    }
    return 0;
}

static int start_flows(struct ctl *c)
{
    for (size_t d = 0; d < c->run.n_daemons; d++) {
        xmlrpc_env env;
        xmlrpc_env_init(&env);
        /* time(NULL) + 2 as 0.8.2 sends it; its daemon ignores it (bug 33) */
        xmlrpc_value *p = fg_rpc_start_flows_params(&env, (int32_t)(time(NULL) + 2));
        xmlrpc_env_clean(&env);
        xmlrpc_value *res;
        if (ctl_call(c->client, daemon_url(c, d), "start_flows", p, &res, c->err, sizeof(c->err)) <
            0) {
            fail(c, c->err);
            return -1;
        }
        xmlrpc_DECREF(res);
    }
    return 0;
}

static int prepare(struct ctl *c)
{
    if (ask_uuids(c) < 0 || ask_versions(c) < 0 || check_status(c) < 0)
        return -1;
    c->daemon_failed = calloc(c->run.n_daemons, sizeof(*c->daemon_failed));
    if (!c->daemon_failed) {
        fail(c, "out of memory");
        return -1;
    }
    if (drain_queues(c) < 0 || add_flows(c) < 0)
        return -1;
    if (sigint_count) {
        fail(c, "interrupted during preparation");
        return -1;
    }
    return start_flows(c);
}

/* ---- stopping ----------------------------------------------------------------------------- */

/* stop_flow for every endpoint that was created and has sent no FINAL report, source first,
 * then destination (0.8.2's order); faults are ignored (the flow may have ended meanwhile).
 * When both endpoints share a daemon, two calls are needed: 0.8.2's daemon stops only the
 * first flow with that id (bug 39). */
static void stop_unfinished(struct ctl *c)
{
    for (int i = 0; i < c->opts.n_flows; i++) {
        for (int e = FG_SOURCE; e <= FG_DESTINATION; e++) {
            struct ctl_endpoint *ep = &c->run.flows[i].ep[e];
            /* also on a daemon whose poll failed: a bad reply need not mean it is gone */
            if (!ep->created || ep->have_final)
                continue;
            xmlrpc_env env;
            xmlrpc_env_init(&env);
            xmlrpc_value *p = fg_rpc_stop_flow_params(&env, i);
            xmlrpc_env_clean(&env);
            xmlrpc_value *res;
            char err[512];
            if (ctl_call(c->client, daemon_url(c, ep->daemon), "stop_flow", p, &res, err,
                         sizeof(err)) == 0)
                xmlrpc_DECREF(res);
        }
    }
}

/* After a failed preparation: stop what was created and take the reports stopping
 * produced out of the queues, so the daemons are idle for the next run (bug 37). */
static void abort_run(struct ctl *c)
{
    stop_unfinished(c);
    /* no report was taken yet, so every created endpoint still counts as busy */
    for (size_t d = 0; d < c->run.n_daemons; d++)
        if (ctl_daemon_busy(&c->run, d))
            fetch_reports(c, d, false);
}

/* ---- the run ------------------------------------------------------------------------------ */

static void headline(struct ctl *c)
{
    char date[64];
    struct utsname u;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d-%H:%M:%S", &tm);
    if (uname(&u) < 0)
        snprintf(u.nodename, sizeof(u.nodename), "%s", "unknown");
    fg_table_headline(c->out.text, date, u.nodename, c->opts.n_flows, c->opts.interval_s,
                      c->opts.table.mib, FG_RPC_VERSION);
    ctl_out_flush(&c->out);
}

static double mono_now(void)
{
    return (double)clock_mono_ns() / 1e9;
}

/* Sleeps until the monotonic time t (seconds); returns early on a signal. */
static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!sigint_count && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* One poll of every daemon that still holds an unfinished endpoint (all: every daemon).
 * A daemon whose call fails is reported and left out from then on. */
static void poll_round(struct ctl *c, bool all)
{
    for (size_t d = 0; d < c->run.n_daemons; d++) {
        if (c->daemon_failed[d] || (!all && !ctl_daemon_busy(&c->run, d)))
            continue;
        if (fetch_reports(c, d, true) < 0) {
            c->daemon_failed[d] = true;
            fail(c, c->err);
        }
    }
    ctl_out_flush(&c->out);
}

/* Polls every interval, on schedule, until every endpoint sent its FINAL report, a SIGINT,
 * a failed daemon or the watchdog. */
static void poll_loop(struct ctl *c)
{
    double interval = c->opts.interval_s;
    /* The daemons report at their start + k * interval, a few ms late at most (0.8.2's
     * loop wakes every 10 ms); polling that much after the tick finds the report of the
     * interval just ended instead of one interval later. */
    double start = mono_now() + fmin(0.2 * interval, 0.015);
    double expected = ctl_expected_duration(&c->opts);
    double give_up = start + expected + CTL_GRACE_S + 2 * interval;
    uint64_t k = 1;

    while (ctl_unfinished(&c->run) > 0 && !sigint_count && !c->run.error[0]) {
        sleep_until(start + (double)k * interval);
        if (sigint_count)
            break;
        poll_round(c, false);
        double now = mono_now();
        uint64_t next = (uint64_t)floor((now - start) / interval) + 1;
        k = next > k ? next : k + 1; /* a slow round skips the ticks it overran */
        if (now > give_up && ctl_unfinished(&c->run) > 0) {
            snprintf(c->err, sizeof(c->err),
                     "no final report from %zu flow endpoint(s) %.1f s after the flows should "
                     "have ended; stopping them",
                     ctl_unfinished(&c->run), now - start - expected);
            fail(c, c->err);
        }
    }
}

static void print_summary(struct ctl *c)
{
    for (int i = 0; i < c->opts.n_flows; i++) {
        fputc('\n', c->out.text);
        for (int e = FG_SOURCE; e <= FG_DESTINATION; e++) {
            struct fg_summary s;
            ctl_summary_fill(&c->run, (size_t)i, e, &s);
            fg_summary_print(&s, c->out.text);
        }
    }
    ctl_out_flush(&c->out);
}

static void run_flows(struct ctl *c)
{
    struct fg_table_opts topts;
    ctl_table_opts(&c->run, &topts);
    fg_table_init(&c->table, &topts);
    c->table_ready = true;
    headline(c);

    poll_loop(c);
    if (sigint_count) {
        fprintf(stderr, "flowgrind: warning: caught SIGINT, trying to gracefully close flows. "
                        "Press CTRL+C again to force termination\n");
        c->run.interrupted = true;
    }
    stop_unfinished(c);
    poll_round(c, true); /* the last round: FINAL reports of stopped flows, stragglers */
    print_summary(c);
}

static void install_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint; /* no SA_RESTART: the poll sleep ends at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    /* stdout closed early (flowgrind | head): keep going so the flows end and the daemons
     * are left idle, rather than dying with flows still running on them */
    signal(SIGPIPE, SIG_IGN);
}

int flowgrind_main(int argc, char **argv)
{
    static struct ctl c; /* large (error texts, options); one per process */
    memset(&c, 0, sizeof(c));
    sigint_count = 0;

    switch (fg_opts_parse(argc, argv, &c.opts, stdout, stderr)) {
    case FG_OPTS_DONE:
        return 0;
    case FG_OPTS_ERROR:
        return 1;
    default:
        break;
    }
    if (ctl_run_init(&c.run, &c.opts, c.opts.json) < 0) {
        fprintf(stderr, "flowgrind: error: out of memory\n");
        fg_opts_free(&c.opts);
        return 1;
    }
    c.reports = calloc(CTL_REPORT_BUF, sizeof(*c.reports));
    if (!c.reports)
        fail(&c, "out of memory");
    if (!c.run.error[0] && ctl_out_open(&c.out, &c.opts, c.err, sizeof(c.err)) < 0)
        fail(&c, c.err);
    if (!c.run.error[0]) {
        install_sigint();
        c.client = ctl_client_new(c.err, sizeof(c.err));
        if (!c.client)
            fail(&c, c.err);
    }
    if (c.client) {
        if (prepare(&c) < 0)
            abort_run(&c);
        else
            run_flows(&c);
    }
    ctl_out_close(&c.out);
    if (c.opts.json && ctl_json_write(&c.run, stdout) < 0)
        fprintf(stderr, "flowgrind: error: writing the JSON document failed\n");
    int status = c.run.error[0] ? 1 : 0;
    ctl_client_free(c.client);
    free(c.reports);
    free(c.daemon_failed);
    ctl_run_free(&c.run);
    fg_opts_free(&c.opts);
    return status;
}
