#ifndef NETGRIND_TCPKALI_ENGINE_INT_H
#define NETGRIND_TCPKALI_ENGINE_INT_H

/* The engine's internals, shared by engine.c (lifecycle, listeners, snapshots) and conn.c
 * (the connection state machine and the connect pacer). Not for the rest of tcpkali.
 *
 * Ownership: each worker owns its connections, counters and histograms; only its own
 * thread touches them while it runs. The engine object is read-only for workers except
 * the atomics (global source round-robin, connection numbers, one-shot event flags). */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/hist.h"
#include "core/loop.h"
#include "core/pace.h"
#include "core/worker.h"
#include "tcpkali/engine.h"
#include "tcpkali/marker.h"
#include "tcpkali/msgsrc.h"
#include "tcpkali/output.h"
#include "tcpkali/transport.h"

#define TK_RXBUF (64 * 1024)        /* the per-worker receive buffer: one read's maximum */
#define TK_READS_PER_EVENT 2        /* fairness between connections of a worker */
#define TK_SEND_BUDGET (64 * 1024)  /* bytes one connection may write per event */
#define TK_SENDS_PER_EVENT 64       /* sends one connection may make per event */
#define TK_ACCEPTS_PER_EVENT 256
#define TK_ACCEPT_BACKOFF_NS (10 * 1000000ULL) /* pause accepting after EMFILE */
#define TK_CONNECTS_PER_EVENT 256
#define TK_FIFO_MAX_BYTES (10u << 20) /* tcpkali's limit on unanswered send timestamps */
#define TK_LISTEN_BACKLOG 4096

enum tk_conn_state {
    TK_CS_CONNECTING, /* outgoing, connect() in flight */
    TK_CS_HANDSHAKE,  /* transport handshake (WebSocket, TLS) */
    TK_CS_ACTIVE,
};

enum tk_phase {
    TK_PH_ONCE, /* the once part (-1, after any handshake) */
    TK_PH_MSGS, /* the repeated message */
    TK_PH_IDLE, /* nothing (more) to send */
};

enum tk_close_why {
    TK_CLOSE_EOF,      /* the peer closed in order */
    TK_CLOSE_ERROR,    /* a socket error after connecting (reset, ...) */
    TK_CLOSE_LIFETIME, /* --channel-lifetime */
    TK_CLOSE_STOP,     /* the engine stops */
    TK_CLOSE_FATAL,    /* a protocol condition (out of memory, ...) */
    TK_CLOSE_HANDSHAKE, /* the transport's handshake failed (counted by cause already) */
};

/* Connection flags. */
#define TK_CF_OUTGOING 0x0001u
#define TK_CF_FIRST_BYTE 0x0002u /* first byte received */
#define TK_CF_DUMP_IN 0x0004u
#define TK_CF_DUMP_OUT 0x0008u
#define TK_CF_WANT_WRITE 0x0010u /* EPOLLOUT wanted */
#define TK_CF_READ_OFF 0x0020u   /* EPOLLIN off: the downstream cap's allowance is used up */
#define TK_CF_SENDS 0x0040u      /* has a message source to send */
#define TK_CF_ECHO 0x0080u
#define TK_CF_SENT_MSG 0x0100u   /* at least one message started */
#define TK_CF_NEVER_READ 0x0200u /* --channel-bandwidth-downstream 0 */
#define TK_CF_ECHO_HOLD 0x0400u  /* EPOLLIN off: echo bytes the peer has not taken yet */

/* A ring of send timestamps (ns), for --latency-marker. */
struct tk_tsring {
    uint64_t *v;
    uint32_t head, count, cap;
};

/* The optional part of a connection, allocated only when an option needs it, so an idle
 * connection of a plain run is only struct tk_conn. */
struct tk_conn_ext {
    struct tk_conn *c;
    struct loop_timer send_timer; /* -r: next message due; upstream cap refill */
    struct loop_timer read_timer; /* downstream cap refill */
    bool sched_on, up_on, down_on;
    bool cl_credit;       /* closed loop: may send the next message */
    struct pace_sched sched;
    struct pace_bucket up, down;
    uint32_t lat_state;   /* --latency-marker search */
    uint64_t lat_skip;    /* --latency-marker-skip matches still to ignore */
    struct tk_tsring fifo;
    uint32_t stop_state;  /* --message-stop search */
    struct tk_msgmark_state mm;
    struct tk_buf echo;   /* echo mode: bytes the socket did not take yet */
    size_t echo_off;
    void *ts;             /* transport state */
    void *ms;             /* message source state (non-constant sources) */
    struct tk_buf obuf;   /* non-constant sources: bytes being sent */
    size_t obuf_off;
    /* Non-constant sources: where each message in obuf starts, so that a message counts as
     * sent when its first byte is written (bug 40); mstart_i: the first not yet written. */
    uint32_t *mstart;
    size_t mstart_n, mstart_i, mstart_cap;
};

struct tk_conn {
    struct loop_fd lfd;
    struct tk_worker *w;
    struct tk_conn *prev, *next;   /* the worker's open connections */
    struct tk_conn *fprev, *fnext; /* the connect-timeout or lifetime FIFO */
    uint64_t start_ns;             /* connect() call, or accept() */
    uint64_t deadline_ns;          /* in the FIFO */
    struct tk_conn_ext *x;
    uint32_t off;                  /* position in the once part or the replicated buffer */
    uint16_t flags;
    uint16_t dest;
    uint8_t state, phase;
    uint8_t fifo;                  /* 0 none, else 1 + the FIFO's index */
};

/* A FIFO of connections with one duration (connect timeout, channel lifetime): the
 * deadlines are in order, so one timer per worker serves them all. */
struct tk_fifo {
    struct tk_conn *head, *tail;
    struct loop_timer timer;
    uint64_t dur_ns;
    struct tk_worker *w;
    uint8_t id; /* 1 or 2 */
};

struct tk_listener {
    struct loop_fd lfd;
    struct tk_worker *w;
};

/* A worker's figures, also the per-worker slot of a snapshot. The histograms are those of
 * struct tk_snapshot (send_lag: -r pacing, actual minus intended send time). */
struct tk_figures {
    struct tk_counters c;
    struct hist lat_connect, lat_first_byte, lat_message, send_lag;
};

struct tk_worker {
    struct tk_engine *e;
    struct worker *wk;
    struct loop *loop;
    unsigned index;
    bool stopping;

    struct tk_listener *ls;
    size_t nls;
    struct loop_timer accept_timer; /* accept back-off after EMFILE */

    /* Outgoing connections. */
    uint64_t target;   /* this worker's share of -c */
    uint64_t out_open; /* connecting + connected */
    bool connect_on;
    struct pace_bucket cbucket;
    struct loop_timer connect_timer;
    size_t dest_next;
    uint32_t *dest_attempts, *dest_ok;

    struct tk_conn *conns;
    struct tk_fifo connecting, lifetime;
    struct tk_conn *dumping; /* --dump-one: the connection being dumped */

    /* -r, live (tk_engine_set_message_rate), and how early its timers fire (plan.h). */
    bool rate_on;
    struct pace_rate rate;
    uint64_t pace_lead_ns;

    struct tk_figures f;
    uint8_t *rxbuf;
    uint8_t last_rx[64]; /* -vv: the last bytes received */
    size_t last_rx_len;
};

struct tk_engine {
    const struct tk_config *cfg;
    struct loop *control;
    struct tk_engine_events ev;
    struct tk_transport *tr;
    struct tk_msgsrc *src_out, *src_in;
    bool have_lat, have_stop, have_mm;
    bool framed; /* the transport frames messages (WebSocket): sends end on message
                  * boundaries even under the upstream cap */
    struct tk_marker lat_marker, stop_marker, mm_prefix;
    bool lifetime_zero; /* --channel-lifetime 0 */
    bool closed_loop;
    bool rate_intended; /* latency from intended send times */

    struct sock_addr *src4, *src6; /* --source-ip by family */
    size_t nsrc4, nsrc6;
    unsigned nloop; /* loopback spreading: source addresses to use (1: none) */

    struct worker_pool *pool;
    struct tk_worker *workers;
    unsigned nworkers;

    struct sock_addr *bound; /* listening addresses as bound */
    size_t nbound;
    int *lfds; /* [worker][address] listening sockets, -1 once handed to the worker */

    atomic_uint_fast64_t src_rr;   /* global round-robin over source addresses (bug 19) */
    atomic_uint_fast64_t conn_uid; /* connection numbers for message sources */
    atomic_bool fatal_sent, stop_sent;

    /* Per-connection messages ("Closing [ip]:port: ..."): every worker prints them, one
     * limiter for the process (output.h), so at -v 1 a dead port cannot flood stderr. */
    pthread_mutex_t msg_lock;
    struct tk_linelimit msg_limit;

    bool started, stopped;
    struct tk_figures *final; /* per worker, saved by tk_engine_stop */
    uint64_t final_ns;
};

/* ---- conn.c --------------------------------------------------------------------------- */

/* Worker setup on its own thread (after listeners are registered): connect pacer and
 * FIFOs. */
void tk_worker_conn_init(struct tk_worker *w);
/* Opens connections while the worker is below its target and the connect rate allows. */
void tk_worker_connect_more(struct tk_worker *w);
/* A connection accepted by one of w's listeners. */
void tk_conn_accepted(struct tk_worker *w, int fd, const struct sock_addr *peer);
/* Closes every connection (no counters change but the open gauges). */
void tk_worker_close_all(struct tk_worker *w);
/* Applies w->rate to every sending connection. */
void tk_worker_apply_rate(struct tk_worker *w);

/* SO_KEEPALIVE, TCP_NODELAY per --nagle/--write-combine, SO_RCVBUF/SO_SNDBUF. On a
 * listener they carry over to every accepted socket. */
void tk_conn_sockopts(const struct tk_config *cfg, int fd);


/* Prints one per-connection message line (fmt without the newline) to stderr from any
 * worker: at -v 1 through the engine's limiter, at -vv every one, at -v 0 none. */
void tk_engine_conn_message(struct tk_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports a condition that ends the run, once per engine (any worker thread). */
void tk_engine_post_fatal(struct tk_engine *e, int exit_code, const char *msg);
void tk_engine_post_message_stop(struct tk_engine *e, const uint8_t *last, size_t len);

#endif
