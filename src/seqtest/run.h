#ifndef NETGRIND_SEQTEST_RUN_H
#define NETGRIND_SEQTEST_RUN_H

/* One seqtest run: the resolved addresses, the worker pool, the connections and the
 * shared output. The control thread (seqtest.c) builds it, runs the sender (sender.c) or
 * the replier (replier.c) on worker loops, and prints the results (output.c).
 *
 * Threads: each connection belongs to one worker and is touched only on that worker's
 * thread until the pool is stopped and joined; the control thread then reads everything.
 * The only state shared while running is the output lock (diagnostic lines, -d characters
 * and --json-stream events) and a few atomic counters. */

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/hist.h"
#include "core/json.h"
#include "core/loop.h"
#include "core/sock.h"
#include "core/worker.h"
#include "seqtest/config.h"
#include "seqtest/summary.h"
#include "seqtest/verify.h"
#include "seqtest/wire.h"

/* At most this many diagnostic lines per connection; the rest are only counted. */
#define SEQ_LINES_PER_CONN 20

struct seq_target {
    struct sock_addr addr; /* remote (senders) or listening (replier) address */
    bool has_local;
    struct sock_addr local; /* senders: source address to bind (port 0) */
    const char *operand;    /* the command-line word it came from */
};

/* Where a diagnostic is about: a sender's connection or a replier's peer. */
struct seq_where {
    bool replier;
    int64_t conn; /* connection index; -1 when unknown (replier without verify) */
    const struct sock_addr *remote;
};

/* Optional position of a diagnostic, for --json-stream. */
struct seq_at {
    bool has_seqno, has_offset, has_stream;
    uint64_t seqno;
    uint32_t offset;
    uint64_t stream_off;
};

/* What a connection has reported: its violations by kind and the lines it printed. */
struct seq_conn_log {
    uint16_t lines;
    struct seq_viol_counts viol;
};

/* A sample for the dump file (kept only with dump=). */
struct seq_dump_rec {
    uint32_t conn;
    uint16_t rsz, ssz;
    int64_t time_ns;
    uint64_t lat_ns;
};

struct seq_sconn;
struct seq_rconn;

/* Per-worker state of a sender run. */
struct seq_sworker {
    struct seq_run *run;
    struct worker *w;
    uint8_t *rxbuf, *txbuf;
    size_t rxcap, txcap;
    uint64_t *lat; /* every latency sample, ns */
    size_t nlat, caplat;
    struct seq_dump_rec *dump;
    size_t ndump, capdump;
    struct hist latency_hist;    /* round trip minus the replier's processing time */
    struct hist round_trip_hist; /* the raw round trip, now - ts1 */
    struct seq_sconn **conns;
    size_t nconns;
    size_t next_open, inflight; /* connects started and still in flight */
    bool oom;
};

/* Per-worker state of a replier run. */
struct seq_rworker {
    struct seq_run *run;
    struct worker *w;
    uint8_t *rxbuf, *txbuf;
    size_t rxcap, txcap;
    size_t txlen;                  /* replies batched in txbuf, not yet sent */
    struct seq_rconn *batch_owner; /* the connection whose replies txbuf holds */
    struct seq_rconn *list;        /* every open connection */
    atomic_uint adopting;          /* connections posted to this worker, not yet adopted */
    /* figures of the connections already closed (the open ones are added at the end) */
    uint64_t accepted, closed_on_error, messages, replies, bytes_rx, bytes_tx;
    struct seq_viol_counts viol;
};

struct seq_listener {
    struct loop_fd lfd;
    struct loop_timer retry; /* re-enables accepting after a persistent accept error */
    bool said_error;
    struct seq_run *run;
    struct sock_addr bound;
};

struct seq_run {
    struct seq_config *cfg;
    enum seq_mode mode;
    bool text;   /* plain text output (no --json / --json-stream) */
    bool stream; /* --json-stream */
    bool debug;  /* -d and text output */
    struct seq_target *targets;
    size_t ntargets;
    FILE *dump;
    uint64_t seed;

    struct loop *control;
    struct loop_signal stop_signals; /* SIGINT and SIGTERM on the control loop ... */
    bool have_stop_signals;          /* ... once registered (seq_control_open) */
    struct worker_pool *pool;
    unsigned nworkers;

    pthread_mutex_t out_lock;
    struct json js; /* --json-stream writer (compact), used under out_lock */

    /* sender */
    struct seq_sconn *conns;
    size_t nconns;
    struct seq_sworker *sworkers;
    atomic_size_t connected, done;
    atomic_bool fatal; /* -S fault or setup failure: stop everything */
    uint64_t begin_ns, finish_ns;
    bool started, finished;

    /* replier */
    struct seq_rworker *rworkers;
    struct seq_listener *listeners;
    size_t nlisteners;
    atomic_uint next_worker;

    /* results, filled by seq_collect() after the workers are joined */
    bool collected;
    struct seq_stats stats;
    struct hist latency_hist, round_trip_hist; /* merged from the workers' */
    struct seq_viol_counts viol;
    uint64_t messages, replies_expected, replies, bytes_sent, bytes_rx;
    uint64_t accepted, closed_on_error; /* replier */

    /* the first error that ends the run (text without "seqtest: ") and the exit code */
    char error[512];
    int exit_code;
};

/* Prints "seqtest: <text>" to stderr under the output lock (a run-level message). */
void seq_msg(struct seq_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A diagnostic line about a connection: "seqtest: conn I REMOTE: text" (sender) or
 * "seqtest: peer REMOTE[ conn I]: text" (replier) on stderr, and a violation event with
 * --json-stream. kind SEQ_V_COUNT means no violation kind (an informational line).
 * Any thread. */
void seq_diag(struct seq_run *r, const struct seq_where *w, enum seq_viol kind,
              const struct seq_at *at, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Counts a violation of kind in log (SEQ_V_COUNT: an explanatory line, not counted) and
 * prints text as a diagnostic (seq_diag) while the connection has lines left: at most
 * SEQ_LINES_PER_CONN, the last one saying that the rest are only counted. Once a -S fault
 * has stopped the run nothing more is printed, as the original exits at its first fault.
 * The thread that owns the connection. */
void seq_conn_report(struct seq_run *r, struct seq_conn_log *log, const struct seq_where *w,
                     enum seq_viol kind, const struct seq_at *at, const char *text);

/* The diagnostic for a WIRE_EV_BAD_SIZE event ev: "h->ssz too big (V > 8000), closing
 * connection", "h->rsz too small (V < 40), ..." */
void seq_format_size_fault(char *buf, size_t len, const struct wire_event *ev);

/* The diagnostic for a payload check t that found wrong bytes in message seqno, which
 * starts at stream offset msg_stream_off and has payload_len payload bytes: "payload
 * mismatch at seqno S offset K (stream offset O): got 0xGG, expected 0xWW (N of L payload
 * bytes differ)". *at receives the position (seqno, offset, stream offset). */
void seq_format_payload_mismatch(char *buf, size_t len, struct seq_at *at, uint64_t seqno,
                                 const struct verify_tracker *t, uint64_t msg_stream_off,
                                 unsigned payload_len);

/* One -d character through stdout's buffer (under stdio's own lock). */
void seq_debug_char(struct seq_run *r, char ch);

/* Records the run's first error (text without prefix) and exit code; later calls keep the
 * first. Thread-safe (output lock). Returns true when this call recorded it. */
bool seq_run_set_error(struct seq_run *r, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records text as the run's error (exit 1) and prints it as "seqtest: text" unless an
 * earlier error was recorded. Returns 1, the exit code. Any thread. */
int seq_run_fail(struct seq_run *r, const char *text);

/* Creates the control loop r->control, on which SIGINT and SIGTERM stop the run (they stop
 * the loop). Returns 0, or -1 with err set. Control thread. */
int seq_control_open(struct seq_run *r, char *err, size_t errlen);
/* Frees the control loop and its signal handler (after the pool is freed). Control
 * thread. */
void seq_control_close(struct seq_run *r);

/* The draws of one message, a pure function of (seed, connection, seqno), so the sender's
 * receiving side can recompute what a request asked for when it checks the reply. */
struct seq_draw {
    uint16_t ssz, rsz; /* rsz 0: no reply wanted */
    uint32_t rdly;
    uint64_t sdelay_ns;
};
void seq_draw_msg(const struct seq_config *c, uint64_t conn_seed, uint64_t seqno,
                  struct seq_draw *d);
/* The per-connection seed of the draws. */
uint64_t seq_conn_seed(uint64_t run_seed, uint32_t conn);

/* Runs the senders (-s, -S) to the end. Returns the exit code; results stay in r. */
int seq_sender_run(struct seq_run *r);
/* Runs the replier until SIGINT or SIGTERM. Returns the exit code. */
int seq_replier_run(struct seq_run *r);

/* Output (output.c). seq_collect merges the workers' figures into the run (control
 * thread, after the pool is joined; idempotent). */
void seq_collect(struct seq_run *r);
void seq_print_addresses(struct seq_run *r);
void seq_print_sender_results(struct seq_run *r);
void seq_print_replier_results(struct seq_run *r);
/* The --json document (or the --json-stream "end" event) for any path, errors included. */
void seq_print_json(struct seq_run *r);

#endif
