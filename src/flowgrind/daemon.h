#ifndef NETGRIND_FLOWGRIND_DAEMON_H
#define NETGRIND_FLOWGRIND_DAEMON_H

/* flowgrindd's flow engine (specs/flowgrind.md §3.1, §3.4, §5, §6.1): the flows one daemon
 * holds, their data connections, traffic, statistics and reports.
 *
 * Threads. One engine thread owns every flow and runs a core/loop.h epoll loop: test sockets,
 * the send schedule, interval report timers, flow ends. The XML-RPC server's threads call the
 * fg_daemon_* request functions below; each hands its request to the engine thread through
 * loop_post() and blocks until the engine thread has carried it out (the original's
 * hand-over, without its select() loop and 512-flow ceiling: the only limit is
 * max_flows and the process's file descriptors). Reports go into a queue the request
 * functions drain under a mutex.
 *
 * Semantics are 0.8.2's as the spec measured them, with these deliberate differences:
 *  - a received block size outside [40, maximum_block_size] ends the flow with a FINAL report
 *    and a log line (block.h), instead of desynchronising (bug 45);
 *  - gaps are never negative, the -R gap is from the actual block (traffic.h, bugs 18, 50);
 *  - reports carry sample counts (rpc.h);
 *  - the source binds its test socket to bind_address when that is not empty (bug 36);
 *  - stale reports: when a new controller run starts (the first add_flow_* while the daemon
 *    holds no flow), queued reports of earlier runs are dropped (bug 38);
 *  - the "server flow N missed to shutdown" and malformed-delay warnings are rate limited;
 *  - status letter 'c' (§3.1 struct 9): a direction that ran its full time (or, with -N,
 *    ended by the peer's FIN) after moving data reports 'c' in its FINAL report (0.8.2 never
 *    produced it, bug 34); one that ended early by an error, EOF or stop_flow keeps 'n';
 *  - a response is written at once as far as the socket takes it and the rest is queued on
 *    its connection, written before the next request block, never blocking the engine (0.8.2
 *    wrote it synchronously, retrying on EAGAIN); with -N, EOF ends only the read direction;
 *  - the last interval report at a flow's end carries a fresh TCP_INFO sample (bug 48);
 *  - -M captures only the data connection's port (dump.h), not every TCP packet.
 * Kept from 0.8.2 for interop: start_timestamp is ignored (each daemon starts its flows when
 * it processes start_flows), reading starts only after start, the 20 %-of-interval rule for
 * the last interval report, a cap on queued interval reports (FINAL reports always queue:
 * FG_DAEMON_MAX_QUEUED as 0.8.2, or FG_DAEMON_QUEUED_PER_FLOW per flow endpoint held when that
 * is more; 0.8.2's fixed 250 dropped most interval reports of runs with hundreds of
 * flows), stop_flow(id) stops the first flow endpoint with that id (the destination when both
 * share a daemon), stop_flow(-1) all. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowgrind/rpc.h"

#define FG_DAEMON_MAX_QUEUED 250    /* queued interval reports beyond which intervals drop, */
#define FG_DAEMON_QUEUED_PER_FLOW 8 /* or this many per flow endpoint held, when more */
#define FG_DAEMON_DEFAULT_MAX_FLOWS 65536

struct fg_daemon;

/* A log line from the engine ("server flow 3 missed to shutdown"): warnings and notices. The
 * daemon front end sends it to stderr (-d) or syslog. Called from the engine thread. */
typedef void (*fg_daemon_log_fn)(void *ctx, bool warning, const char *line);

struct fg_daemon_config {
    size_t max_flows;       /* flow endpoints held at once; 0 = FG_DAEMON_DEFAULT_MAX_FLOWS */
    const char *dump_dir;   /* -w: where -M pcap files go; NULL = working directory */
    fg_daemon_log_fn log;   /* NULL: no log */
    void *log_ctx;
};

/* Creates the daemon and starts its engine thread. NULL with err filled on failure. */
struct fg_daemon *fg_daemon_new(const struct fg_daemon_config *cfg, char *err, size_t errlen);

/* Stops every flow (no reports), joins the engine thread, frees everything. NULL is fine.
 * Only once no request function is running or can be called any more. */
void fg_daemon_free(struct fg_daemon *d);

/* --- requests, from any thread; each blocks until done ---------------------------------
 * Those that can fail return 0, or a fault code (FG_FAULT_HANDLER, FG_FAULT_SETTINGS) with
 * msg holding the fault string (the original's texts where §3.1 gives them: "Flow settings
 * incorrect", "Can not accept another flow, already handling N flows.", "could not create
 * listen socket for data connection: ...", "Unable to set congestion control algorithm: ...",
 * "Unknown flow id"). */

/* add_flow_destination: validates s, creates the data listen socket (bound to
 * s->bind_address, port 0), applies buffers and options; fills r. */
int fg_daemon_add_destination(struct fg_daemon *d, const struct fg_endpoint_settings *s,
                              struct fg_add_destination_reply *r, char *msg, size_t msglen);

/* add_flow_source: validates s and t, creates the test socket and connects it to t at once
 * (non-blocking) unless t->late_connect; fills r. */
int fg_daemon_add_source(struct fg_daemon *d, const struct fg_endpoint_settings *s,
                         const struct fg_source_target *t, struct fg_add_source_reply *r,
                         char *msg, size_t msglen);

/* start_flows: starts every flow not yet started, now (start_timestamp is ignored, as 0.8.2
 * does). Always 0. */
int fg_daemon_start_flows(struct fg_daemon *d, int32_t start_timestamp);

/* stop_flow: -1 all flows, else the first flow endpoint with that id. Emits the last interval
 * report (20 % rule) and the FINAL report, closes the sockets. FG_FAULT_HANDLER "Unknown flow
 * id" when there is none. */
int fg_daemon_stop_flow(struct fg_daemon *d, int32_t flow_id, char *msg, size_t msglen);

/* get_reports: moves up to cap queued reports, oldest first, into out; *has_more when more
 * are queued. Returns the number moved. */
size_t fg_daemon_take_reports(struct fg_daemon *d, struct fg_report *out, size_t cap,
                              bool *has_more);

/* get_status: started (1 once start_flows ran and until no flow is left), num_flows (flow
 * endpoints held). */
void fg_daemon_status(struct fg_daemon *d, struct fg_status_reply *r);

#endif
