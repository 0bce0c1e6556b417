#ifndef NETGRIND_FLOWGRIND_CTL_H
#define NETGRIND_FLOWGRIND_CTL_H

/* The flowgrind controller's internals (controller.c drives a run with them).
 *
 * A run is the parsed options plus what the daemons told us: which daemon (by server uuid,
 * several -H URLs may reach one process) holds which flow endpoint, the buffer sizes
 * add_flow_* returned, and every report received. The pure parts live in ctl_state.c
 * (daemon registry, report matching, turning reports into table rows and summary lines)
 * and ctl_json.c (the --json document); ctl_rpc.c wraps the xmlrpc-c client and
 * ctl_out.c the text sinks (stdout and the -w log file). All of it runs on the
 * controller's one thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "flowgrind/opts.h"
#include "flowgrind/rpc.h"
#include "flowgrind/summary.h"
#include "flowgrind/table.h"

#define CTL_UUID_MAX 128
#define CTL_URL_MAX (ADDR_HOST_MAX + 32)

/* One daemon process (distinct server uuid), reached through the first URL naming it. */
struct ctl_daemon {
    char url[CTL_URL_MAX];
    char uuid[CTL_UUID_MAX];
    bool have_version;
    struct fg_version_reply version;
};

/* One flow endpoint's state on the controller. */
struct ctl_endpoint {
    size_t url;                     /* index into ctl_run.urls */
    size_t daemon;                  /* index into ctl_run.daemons */
    bool created;                   /* add_flow_* succeeded: stop it if the run is aborted */
    int32_t real_sbuf;              /* S: real_send_buffer_size; D: real_listen_send_buffer_size */
    int32_t real_rbuf;              /* likewise for the read buffer */
    char cc_alg[FG_RPC_STRING_MAX]; /* add_flow_source's reply (S only), for JSON */
    bool have_first;                /* first_begin is set */
    struct timespec first_begin;    /* begin of this endpoint's first report: time origin */
    uint64_t blocks_read_before;    /* request blocks read in earlier interval reports */
    bool have_final;
    struct fg_report final;
    struct fg_report *intervals; /* kept for --json only; n_intervals of them */
    size_t n_intervals, cap_intervals;
};

struct ctl_flow {
    struct ctl_endpoint ep[2]; /* [FG_SOURCE], [FG_DESTINATION] */
};

/* One distinct control URL and the daemon it reached (get_uuid is called once per URL). */
struct ctl_url {
    const char *url; /* points into the options */
    size_t daemon;
};

struct ctl_run {
    const struct fg_opts *opts;
    struct ctl_daemon *daemons;
    size_t n_daemons;
    struct ctl_url *urls;
    size_t n_urls;
    struct ctl_flow *flows; /* opts->n_flows of them */
    bool keep_reports;      /* store interval reports (--json) */
    uint64_t stale_reports; /* reports ignored: no endpoint of this run on that daemon */
    bool interrupted;       /* SIGINT closed the run early */
    char error[1024];       /* "" or what made the run fail (without "flowgrind: error: ") */
};

/* ---- ctl_state.c: pure ------------------------------------------------------------------ */

/* Sets up run for o (borrowed; must outlive run). Returns 0 or -ENOMEM. */
int ctl_run_init(struct ctl_run *run, const struct fg_opts *o, bool keep_reports);
void ctl_run_free(struct ctl_run *run);

/* The distinct control URLs of the run's endpoints, in the order the original controller
 * asks them for their uuid: flow 0 source, flow 0 destination, flow 1 source, ... Fills
 * run->urls (daemon indexes unset) and returns their number, or -ENOMEM. */
int ctl_collect_urls(struct ctl_run *run);

/* Records that URL number url_index answered uuid: the daemon with that uuid (appended when
 * new, else the first URL's daemon) is that URL's daemon. Returns the daemon index (the
 * registry has room for every URL since ctl_collect_urls). */
long ctl_add_daemon(struct ctl_run *run, size_t url_index, const char *uuid);

/* After every URL has its daemon: points each endpoint at its daemon. */
void ctl_assign_endpoints(struct ctl_run *run);

/* The table options for this run: the parsed -c/-m/-p ones plus the daemon OS rules of
 * spec §7.2 (columns by the OSes involved, the kernel-column unit by the first daemon's OS
 * unless -s forces it). */
void ctl_table_opts(const struct ctl_run *run, struct fg_table_opts *t);

/* What a report from daemon number daemon is to this run. */
enum ctl_accept {
    CTL_STALE = -1,   /* no endpoint of this run on that daemon (bug 38): ignored, counted */
    CTL_FINAL = 0,    /* the endpoint's FINAL report, kept for the summary */
    CTL_INTERVAL = 1, /* an interval report: *row is filled, print it unless the flow has -Q */
};

/* Matches r against the run: the flow id must be one of ours, the endpoint S or D, that
 * endpoint must live on this daemon, have been created, and not have sent its FINAL report
 * yet. Accepts it (time origin, FINAL kept, interval kept when keep_reports) and fills row
 * for an interval report. */
enum ctl_accept ctl_accept_report(struct ctl_run *run, size_t daemon, const struct fg_report *r,
                                  struct fg_table_report *row);

/* The three delay statistics of r. first_blocks: r is the first report holding this
 * endpoint's first request block (so one IAT sample fewer than blocks, when the daemon
 * sent no counts). Counts come from the daemon when it sent them (>= 0), else from the
 * block counts: RTT one per response block read, delay one per request block read, IAT one
 * per request block read but the flow's very first. */
void ctl_report_stats(const struct fg_report *r, bool first_blocks, struct fg_table_stat *rtt,
                      struct fg_table_stat *iat, struct fg_table_stat *delay);

/* Seconds from a to b (b - a). */
double ctl_ts_diff(const struct timespec *a, const struct timespec *b);

/* The summary line of one endpoint (spec §7.3) from the run; the strings point into run. */
void ctl_summary_fill(const struct ctl_run *run, size_t flow, int endpoint, struct fg_summary *s);

/* How long the flows should take: the largest delay + duration of any direction of any
 * endpoint, in seconds. */
double ctl_expected_duration(const struct fg_opts *o);

/* Number of endpoints that were created and have not delivered their FINAL report. */
size_t ctl_unfinished(const struct ctl_run *run);

/* Whether daemon d holds an endpoint that is created and unfinished. */
bool ctl_daemon_busy(const struct ctl_run *run, size_t d);

/* The read or write state letter of a report status (§3.1 struct 9) as a string of one
 * printable character, "?" otherwise. */
void ctl_status_letters(int32_t status, char read_state[2], char write_state[2]);

/* ---- ctl_json.c ------------------------------------------------------------------------- */

/* Writes the --json document of run to out (see doc/man/flowgrind.1, JSON OUTPUT).
 * Returns 0, or -1 when the writer or the stream failed. */
int ctl_json_write(const struct ctl_run *run, FILE *out);

/* ---- ctl_rpc.c -------------------------------------------------------------------------- */

struct ctl_client;

/* One xmlrpc-c client on the curl transport (keep-alive connections as curl keeps them; no
 * User-Agent, as the original's main client). NULL with err filled on failure. */
struct ctl_client *ctl_client_new(char *err, size_t errlen);
void ctl_client_free(struct ctl_client *c);

/* Calls method on url with params (the reference is consumed, params may be NULL after a
 * failed build: then env's fault is reported). On success *result is a new reference.
 * Returns 0, or -1 with err "XML-RPC Fault: <fault string> (<code>)" (§8.1). */
int ctl_call(struct ctl_client *c, const char *url, const char *method, xmlrpc_value *params,
             xmlrpc_value **result, char *err, size_t errlen);

/* Formats an xmlrpc env fault as the original does: "XML-RPC Fault: %s (%d)". */
void ctl_fault_text(const xmlrpc_env *env, char *err, size_t errlen);

/* ---- ctl_out.c -------------------------------------------------------------------------- */

/* Where the text output goes: stdout (unless -q or --json) and the -w / --log-file file;
 * text is one stream writing the same bytes to both (the original garbled its file when it
 * wrote both, bug 6). */
struct ctl_out {
    FILE *text; /* write the text here; never NULL after ctl_out_open */
    FILE *log;  /* the log file, or NULL */
    bool to_stdout;
    char log_path[PATH_MAX];
};

/* The default log file name: "<progname>-<local time %Y-%m-%d-%H:%M:%S>.log". */
void ctl_default_log_name(const char *progname, time_t now, char *buf, size_t len);

/* Opens the sinks: creates the log file when asked (refusing an existing one unless
 * overwrite: "log file exists"), before any RPC. Returns 0, or -1 with err filled. */
int ctl_out_open(struct ctl_out *out, const struct fg_opts *o, char *err, size_t errlen);

/* Flushes text and every sink (stdout too, so a reader sees rows as they come). */
void ctl_out_flush(struct ctl_out *out);
void ctl_out_close(struct ctl_out *out);

#endif
