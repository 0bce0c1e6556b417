#ifndef NETGRIND_FLOWGRIND_DAEMON_INT_H
#define NETGRIND_FLOWGRIND_DAEMON_INT_H

/* Internals of flowgrindd's flow engine (daemon.h), shared by daemon.c (requests, engine
 * thread, report queue), daemon_sock.c (sockets and their options), daemon_flow.c (flow
 * lifetime, timers, reports) and daemon_io.c (the data path). Everything here except the
 * report queue belongs to the engine thread. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/sock.h"
#include "flowgrind/block.h"
#include "flowgrind/daemon.h"
#include "flowgrind/dump.h"
#include "flowgrind/rpc.h"
#include "flowgrind/traffic.h"

#define FGD_SCRATCH_LEN (256 * 1024)           /* payload bytes are read into (and dropped) here */
#define FGD_RESP_QUEUE_MAX 4096                /* queued responses beyond which reading pauses */
#define FGD_PUSHY_MAX_BLOCKS 256               /* -P: blocks per event before other flows' turn */
#define FGD_BURST_BYTES (256 * 1024)           /* bulk traffic: bytes per sendmsg */
#define FGD_BURST_BLOCKS 64                    /* ... and at most this many blocks in it */
#define FGD_CONGESTION_LIMIT 10000             /* -C: late-schedule events before the abort */
#define FGD_MAX_BLOCK_SIZE (256 * 1024 * 1024) /* larger maximum_block_size: settings fault */

/* One counter set: INTERVAL (reset after each interval report) or FINAL (whole flow). */
struct fgd_counters {
    uint64_t bytes_read, bytes_written;
    uint32_t request_blocks_read, request_blocks_written;
    uint32_t response_blocks_read, response_blocks_written;
    double rtt_min, rtt_max, rtt_sum;
    double iat_min, iat_max, iat_sum;
    double delay_min, delay_max, delay_sum;
    int64_t rtt_samples, iat_samples, delay_samples;
};

enum fgd_set {
    FGD_INTERVAL = 0,
    FGD_FINAL = 1
};

/* One direction's schedule, monotonic ns from the flow's start. */
struct fgd_dir {
    uint64_t start_ns, stop_ns; /* valid once the flow started */
    bool zero;                  /* duration 0: this direction never runs ('o') */
    bool finished;              /* its stop time passed, or it ended by EOF with -N */
    bool normal_end;            /* finished by its timer or an -N EOF ('c' when data moved) */
};

/* A block being written: its first 40 bytes, then payload from the flow's send buffer. */
struct fgd_out {
    uint8_t hdr[FG_BLOCK_HDR_LEN];
    int32_t size, off;
};

struct fgd_flow {
    struct fg_daemon *d;
    struct fgd_flow *prev, *next; /* the daemon's list, in the order flows were added */
    int32_t id;
    enum fg_endpoint endpoint;
    struct fg_endpoint_settings s;
    struct fg_source_target target; /* source only */

    int fd, listen_fd;
    struct loop_fd lfd, listen_lfd;
    bool connected;  /* data connection up (accepted / connect completed) */
    bool connecting; /* source: connect in progress */
    bool linked, lfd_registered, listen_registered;
    bool rd_shut, wr_shut; /* shutdowns done (-N, or wr_shut: the FIN of a graceful end) */
    /* Graceful end (bug 47): once both directions are over the flow drains, reading and
     * counting (no responses) until the peer's EOF or drain_deadline, so that the peer's last
     * blocks are counted and close() never finds unread data (which would send a RST). */
    bool draining;
    bool peer_eof; /* the peer's FIN was read: nothing more will come */
    uint64_t drain_deadline;
    struct sock_addr peer;

    struct loop_timer event_timer;  /* next direction start/stop or block due time */
    struct loop_timer report_timer; /* start + k * reporting_interval */

    bool started;
    uint64_t start_mono, start_real;
    uint64_t last_report_mono, last_report_real;
    uint64_t report_k;
    struct fgd_dir wr, rd;

    struct fg_traffic traffic;
    uint8_t *sendbuf;   /* maximum_block_size bytes: zeros or the -E pattern */
    struct fgd_out out; /* the request block being written; size 0 = none */
    bool out_active;
    uint64_t next_due;   /* monotonic due time of the next request block */
    uint32_t congestion; /* late-schedule events (-C) */

    struct fgd_out *resp; /* ring of responses waiting to be written */
    size_t resp_head, resp_len, resp_cap;

    uint8_t rd_hdr[FG_BLOCK_HDR_LEN];
    int32_t rd_off, rd_size; /* rd_size 0: still reading the header */
    struct fg_block_hdr rd_block;
    uint64_t last_block_mono; /* arrival of the previous request block, 0 = none */

    struct fg_dump *dump; /* -M */
    struct loop_fd dump_lfd;
    bool dump_registered;

    struct fgd_counters c[2];
    struct sock_tcp_info tcpi;
    bool have_tcpi;
    bool warned_delay;
};

/* Log lines that can come from every flow at once (0.8.2 flooded syslog with them, bug 54):
 * at most FGD_LOG_BURST per second of each kind, then one line counting the rest. */
enum fgd_limit {
    FGD_LIMIT_SHUTDOWN,
    FGD_LIMIT_DELAY,
    FGD_LIMIT_KINDS
};
#define FGD_LOG_BURST 5

struct fgd_ratelimit {
    uint64_t window_start;
    unsigned used, suppressed;
};

struct fg_daemon {
    struct fg_daemon_config cfg;
    struct loop *loop;
    pthread_t thread;

    /* Request hand-over: the requester waits on done_cond for its request's done flag. */
    pthread_mutex_t req_lock;
    pthread_cond_t done_cond;

    /* Report queue (ring), under rep_lock; any thread. */
    pthread_mutex_t rep_lock;
    struct fg_report *reps;
    size_t rep_head, rep_len, rep_cap, rep_nonfinal;
    bool pub_started; /* get_status's view, under rep_lock */
    size_t pub_num_flows;

    /* Engine thread only; num_flows and started are mirrored for get_status under rep_lock. */
    struct fgd_flow *head, *tail;
    size_t num_flows;
    bool started;
    uint8_t *scratch;
    struct fgd_ratelimit limits[FGD_LIMIT_KINDS];
};

/* --- daemon.c --------------------------------------------------------------------------- */
/* Queues a report; an interval report is dropped when the interval cap is reached (daemon.h). */
void fgd_queue_report(struct fg_daemon *d, const struct fg_report *r);
/* Drops every queued report (a new controller run starts). */
void fgd_clear_reports(struct fg_daemon *d);
/* Logs through the configured callback, printf style. */
void fgd_log(struct fg_daemon *d, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* fgd_log for lines of a rate-limited kind (engine thread). */
void fgd_log_limited(struct fg_daemon *d, enum fgd_limit kind, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Publishes num_flows / started for get_status. */
void fgd_publish_status(struct fg_daemon *d);

/* --- daemon_sock.c ---------------------------------------------------------------------- */
/* Checks s (and t for a source) as §3.1's sanity checks; 0 or FG_FAULT_SETTINGS with msg. */
int fgd_validate(const struct fg_endpoint_settings *s, const struct fg_source_target *t, char *msg,
                 size_t msglen);
/* The listen socket of a destination, options applied. fd or a fault code with msg. */
int fgd_listen_socket(const struct fg_endpoint_settings *s, int *fd_out, char *msg, size_t msglen);
/* The test socket of a source, bound (bug 36 fixed) and with options, connect not started;
 * *dst receives the resolved destination. fd via fd_out, or a fault code with msg. */
int fgd_source_socket(const struct fg_endpoint_settings *s, const struct fg_source_target *t,
                      int *fd_out, struct sock_addr *dst, char *msg, size_t msglen);
/* Applies every option of s to fd (buffers, cc, nodelay, cork, tos, ...). 0 or a fault code
 * (FG_FAULT_HANDLER) with msg naming the option. */
int fgd_apply_options(int fd, const struct fg_endpoint_settings *s, char *msg, size_t msglen);
/* SO_SNDBUF / SO_RCVBUF as the kernel reports them. */
void fgd_read_buffers(int fd, int32_t *sndbuf, int32_t *rcvbuf);
/* -M: starts f's capture (s->traffic_dump) of the data connection's port. 0, or
 * FG_FAULT_HANDLER with msg (no libpcap, no permission, ...). */
int fgd_dump_start(struct fgd_flow *f, const char *address, uint16_t port, char *msg,
                   size_t msglen);
/* The congestion control on fd ("" when unknown). */
void fgd_read_cc(int fd, char *out, size_t outlen);
/* IP_MTU / IPV6_MTU of a connected socket, 0 when unavailable. */
int32_t fgd_path_mtu(int fd);
/* MTU of the interface that owns fd's local address, 0 when unknown. */
int32_t fgd_interface_mtu(int fd);

/* --- daemon_flow.c ---------------------------------------------------------------------- */
/* A flow for s (traffic, send buffer, timers); NULL with msg on a settings fault. */
struct fgd_flow *fgd_flow_new(struct fg_daemon *d, const struct fg_endpoint_settings *s,
                              enum fg_endpoint ep, char *msg, size_t msglen, int *fault);
/* Links f into the daemon's list (engine thread). */
void fgd_flow_link(struct fgd_flow *f);
/* Registers the listen socket (destination) or starts the connect (source). 0 or -errno. */
int fgd_flow_arm_socket(struct fgd_flow *f);
/* start_flows for one flow. */
void fgd_flow_start(struct fgd_flow *f);
/* Ends f: with reports (the last interval report under the 20 % rule when last_interval,
 * and the FINAL report), closes its sockets, unlinks and frees it. */
void fgd_flow_end(struct fgd_flow *f, bool last_interval);
/* Frees f without reports (daemon shutdown). */
void fgd_flow_destroy(struct fgd_flow *f);
/* Re-evaluates f's directions and epoll interest, arms its event timer; may end f. Returns
 * false when f was ended (and freed). */
bool fgd_flow_update(struct fgd_flow *f);
/* The data socket became usable (accepted or connected): options, registration. */
void fgd_flow_connected(struct fgd_flow *f);
/* The source's connect finished (EPOLLOUT while connecting): connected, or the flow ends. */
void fgd_flow_connect_done(struct fgd_flow *f);
/* Samples TCP_INFO into f->tcpi when there is a socket. */
void fgd_flow_sample_tcpi(struct fgd_flow *f);
/* The graceful-end bound (bug 47): the longest a flow drains after both directions ended, and
 * how far before its own read timer a peer's EOF still counts as a normal end. */
uint64_t fgd_flow_grace_ns(const struct fgd_flow *f);

/* --- daemon_io.c ------------------------------------------------------------------------ */
/* Readiness handler of a connected data socket. */
void fgd_io_on_events(struct loop *loop, struct loop_fd *h, uint32_t events);
/* Fills the send buffer (zeros or the -E pattern). */
void fgd_io_fill_sendbuf(struct fgd_flow *f);
/* Adds one sample to both counter sets. which: 0 rtt, 1 iat, 2 delay. */
void fgd_counters_sample(struct fgd_flow *f, int which, double v);
/* Resets a counter set to zeros and the FLT_MAX / FLT_MIN sentinels. */
void fgd_counters_reset(struct fgd_counters *c);
/* True when the flow wants EPOLLOUT now. */
bool fgd_io_wants_write(const struct fgd_flow *f, uint64_t now);
/* True when reading is allowed now (started, response queue not full). */
bool fgd_io_wants_read(const struct fgd_flow *f);

#endif
