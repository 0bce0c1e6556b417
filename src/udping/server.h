#ifndef NETGRIND_UDPING_SERVER_H
#define NETGRIND_UDPING_SERVER_H

/* udping_server's internals, shared by server.c (command line, setup, main),
 * server_rx.c (the receive path and warnings) and server_out.c (emission: the JSON line,
 * statsd, --json and --json-stream). One thread runs everything on one loop; the only
 * other thread is the resolver of server_names.c. See doc/man/udping_server.1. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/loop.h"
#include "core/sock.h"
#include "core/statsd.h"
#include "udping/server_names.h"
#include "udping/session.h"
#include "udping/wire.h"

#define UDPING_PROG "udping_server"
#define UDPING_EXIT_USAGE 255
#define UDPING_EXIT_NOHOST 68
#define UDPING_EXIT_OSERR 71
#define UDPING_RX_BATCH 64          /* datagrams per recvmmsg */
#define UDPING_RX_ROUNDS 16         /* recvmmsg calls per wake-up before timers get a turn */
#define UDPING_RCVBUF (8 << 20)     /* bytes asked for */
#define UDPING_DOC_SESSIONS_MAX 100000u /* sessions kept for the --json document */
#define UDPING_NAME_WAIT_NS 500000000ull /* lookups waited for at exit */

struct udping_server_config {
    const char *listen_host;
    const char *port_text;
    const char *keepalive_text;
    const char *recv_host;
    const char *statsd;
    const char *tag_statsd;
    const char *metric;
    unsigned port;      /* 0: any */
    unsigned keepalive; /* seconds */
    bool verbose, quiet, json, json_stream, help;
};

/* Kinds of warning, each rate-limited on its own. The first ones follow the verdicts. */
enum udping_warn_kind {
    UDPING_W_SHORT,
    UDPING_W_SIZE,
    UDPING_W_VERSION,
    UDPING_W_GUID,
    UDPING_W_CONTROL,
    UDPING_W_TIME,
    UDPING_W_RECV,
    UDPING_W_REFUSED,
    UDPING_W_NOMEM,
    UDPING_W_STATSD,
    UDPING_W_COUNT
};

struct udping_warn_state {
    uint64_t window_end_ns; /* lines of this kind are held back until then */
    uint64_t held;          /* held back in this window */
    char last[256];         /* the text of the last one held back */
};

/* A session as the --json document keeps it. */
struct udping_emitted {
    struct udping_summary sum;
    char *from_host;
    char from_address[SOCK_ADDR_STRLEN];
};

struct udping_statsd_target {
    bool on;
    struct statsd_sender sender;
    struct statsd_batch batch;
};

struct udping_server {
    struct udping_server_config cfg;
    struct loop *loop;
    struct loop_fd rx;
    struct loop_signal sig;
    struct loop_timer warn_timer;
    bool sig_added, rx_added;
    int fd;
    struct sock_addr bound;
    char bound_text[SOCK_ADDR_STRLEN];
    char to_host[1100]; /* dots already '_' */
    uint16_t to_port;
    int rcvbuf;
    bool kernel_ts; /* SO_TIMESTAMPNS is on */
    bool drops_on;  /* SO_RXQ_OVFL is on */
    uint32_t drops_last;
    struct udping_table table;
    bool table_ready;
    struct udping_names *names;
    /* receive buffers */
    struct mmsghdr *msgs;
    struct iovec *iov;
    uint8_t *bufs;
    uint8_t *ctrl;
    struct sockaddr_storage *from;
    /* counters */
    uint64_t received, kernel_packets, user_packets, socket_drops, recv_errors;
    uint64_t malformed[UDPING_W_TIME + 1];
    struct udping_warn_state warn[UDPING_W_COUNT];
    /* sinks */
    struct udping_statsd_target plain, tagged;
    struct json stream; /* --json-stream writer */
    struct udping_emitted *doc;
    size_t ndoc, capdoc;
    uint64_t doc_omitted, emitted;
    int exit_code;
    char error[600];
};

/* server_rx.c */
/* Sets up the batch buffers and the socket's options; 0 or -ENOMEM. */
int udping_rx_setup(struct udping_server *srv);
void udping_rx_free(struct udping_server *srv);
/* The socket handler (registered by server.c). */
void udping_rx_on_events(struct loop *loop, struct loop_fd *h, uint32_t events);
/* A rate-limited warning of a kind (see the man page). */
void udping_warn(struct udping_server *srv, enum udping_warn_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints the warnings still held back (at exit). */
void udping_warn_flush(struct udping_server *srv);
void udping_warn_on_timer(struct loop *loop, struct loop_timer *t);

/* server_out.c */
/* Arms or re-arms s's timer for its deadline. */
void udping_out_arm(struct udping_server *srv, struct udping_session *s);
void udping_out_on_timer(struct loop *loop, struct loop_timer *t);
/* Emits s now (trigger says why) and frees it. */
void udping_out_emit(struct udping_server *srv, struct udping_session *s,
                     enum udping_trigger trigger);
/* Emits every open session, oldest first (at exit). */
void udping_out_emit_all(struct udping_server *srv);
/* --json-stream's "listening" event. */
void udping_out_listening(struct udping_server *srv);
/* The --json document, or --json-stream's "end" event. */
void udping_out_final(struct udping_server *srv);
/* Writes s with every '.' as '_' into dst (the original's host names). */
void udping_out_underscore(char *dst, size_t size, const char *s);
void udping_out_free(struct udping_server *srv);

#endif
