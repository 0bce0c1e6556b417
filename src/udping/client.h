#ifndef NETGRIND_UDPING_CLIENT_H
#define NETGRIND_UDPING_CLIENT_H

/* udping_client's internals (doc/man/udping_client.1), shared by client.c (start-up, output),
 * client_opts.c (command line), client_send.c (GUIDs, periods, pacing, datagrams; testable
 * without sockets through the send hook) and client_raw.c (raw mode's interface and packet
 * socket); privs.c has the switch to user nobody. One thread: everything runs on one event loop. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/loop.h"
#include "core/pace.h"
#include "core/rng.h"
#include "core/sock.h"
#include "udping/frame.h"
#include "udping/privs.h"
#include "udping/wire.h"

#define UDPING_CLIENT_PROG "udping_client"
#define UDPING_CLIENT_EXIT_USAGE 255 /* the original's exit(-1) */
#define UDPING_CLIENT_EXIT_NOHOST 68
#define UDPING_CLIENT_EXIT_SOFTWARE 70
#define UDPING_CLIENT_EXIT_OSERR 71

#define UDPING_PORT_MIN 1024
#define UDPING_PORT_MAX 60000  /* source ports (the original's MAX_PORT) */
#define UDPING_MAX_PORTS 5000  /* the original's MAX_SOCKETS */
#define UDPING_MAX_MACS 256
#define UDPING_DELAY_MAX_MS 1000
#define UDPING_INTERVAL_MAX_S 900
/* Datagrams a late port sends back to back in one timer callback; the rest of a backlog
 * follows on the next loop iterations, so signals and the period timer are never starved. */
#define UDPING_BURST_MAX 256
/* Datagrams per -d 0 batch (one sendmmsg in raw mode). */
#define UDPING_BATCH 64
/* Room for one frame: Ethernet + IPv4 + UDP headers, then the largest datagram. Socket mode
 * uses the same buffers from FRAME_PAYLOAD_OFF on, so a datagram is built the same way. */
#define UDPING_SLOT_LEN (FRAME_PAYLOAD_OFF + UDPING_MAX_PAYLOAD)
/* Slots in c->slots: a batch, and one more of its own for control packets (a control
 * packet can be due while a batch is being built). */
#define UDPING_NSLOTS (UDPING_BATCH + 1)
#define UDPING_CTL_SLOT UDPING_BATCH

/* ---- command line ------------------------------------------------------------------------ */

struct udping_client_config {
    /* as given; numbers are -1 until set, so missing mandatory options can be named */
    const char *remote;   /* -r */
    long long remote_port; /* -p, 1024..65535 */
    double delay_ms;      /* -d, 0..1000 (decimals accepted) */
    const char *local;    /* -l */
    const char *ports_arg; /* -s */
    long long nports_arg; /* -n, 1..5000; -1: not given */
    long long interval_s; /* -i, 1..900 */
    long long max_size;   /* -m, 1..2000 */
    const char *macs_arg; /* -a; NULL: socket mode */
    bool verbose;         /* -v */
    bool quiet;           /* -q */
    bool help;            /* -h, --help */
    bool json;            /* --json */
    bool seed_set;
    uint64_t seed;        /* --seed */
    double duration_s;    /* --duration; 0: none */
    uint64_t count;       /* --count: data packets per port; 0: none */

    /* derived by udping_client_parse */
    uint16_t ports[UDPING_MAX_PORTS];
    size_t nports;
    uint8_t macs[UDPING_MAX_MACS][6];
    size_t nmacs;
    bool raw; /* -a given */
};

/* Fills c with the "not given" defaults. */
void udping_client_config_init(struct udping_client_config *c);

/* Parses argv (argv[0] is the program) into c, with the original's checks and exit code:
 * 0 to go on (check c->help), or the exit code to stop with (255) after the message (and,
 * for option errors, the usage) was printed to stderr. err receives the message without
 * the program prefix, for the --json error document. Not thread-safe (getopt). */
int udping_client_parse(struct udping_client_config *c, int argc, char **argv, char *err,
                        size_t errlen);

/* The usage text, to out. */
void udping_client_usage(FILE *out);

/* True when argv holds --json (before any "--"), so that an error found while parsing can
 * still be reported as a JSON document. */
bool udping_client_wants_json(int argc, char **argv);

/* ---- run-time state ---------------------------------------------------------------------- */

/* One GUID's record, kept for --json. */
struct udping_guid_rec {
    char guid[UDPING_GUID_LEN + 1];
    uint32_t first_seq;
    uint64_t data_sent;
    bool control_sent;
};

/* One source port: the original's client "session". */
struct udping_port {
    struct loop_timer timer; /* the next intended send (Poisson pacing) */
    struct udping_client *client;
    uint16_t port;
    int fd;                  /* socket mode: the bound, connected socket; raw mode: -1 */
    struct pace_sched sched; /* intended send times */
    bool done;               /* --count reached */
    char guid[UDPING_GUID_LEN + 1];
    uint32_t seq;            /* the next data packet's sequence number */
    uint32_t guid_first_seq; /* the first sequence number under the current GUID */
    uint64_t guid_sent;      /* data packets sent under the current GUID */
    size_t mac_pos;          /* raw mode: position in the next-hop rotation */
    int64_t period_end_s;    /* wall-clock second that ends the GUID's period; 0: never */
    uint64_t pending;        /* raw -d 0 batches: slots built but not yet sent */
    uint64_t data_sent, control_sent, errors, bytes;
    struct udping_guid_rec *hist; /* --json: every GUID this port finished */
    size_t nhist, caphist;
};

/* Sends one datagram of len bytes that starts at slot + FRAME_PAYLOAD_OFF, from port p; in
 * raw mode to next-hop MAC mac (the slot's first FRAME_PAYLOAD_OFF bytes are room for the
 * frame's headers). Returns 0 or -errno. */
typedef int (*udping_send_fn)(struct udping_client *c, struct udping_port *p, uint8_t *slot,
                              size_t len, const uint8_t *mac);

/* Sends n frames from the slots at once (raw -d 0); each slot's frame is complete. Returns
 * how many went out (a prefix), or -errno when the first failed. */
typedef int (*udping_send_batch_fn)(struct udping_client *c, uint8_t **slots, const size_t *lens,
                                    size_t n);

struct udping_client {
    const struct udping_client_config *cfg;
    struct loop *loop;
    struct rng rng;           /* GUIDs and sizes */
    uint64_t seed;
    int64_t client_start;     /* seconds: the header's clientStartTime */
    struct udping_port *ports;
    size_t nports;
    bool keep_history;        /* --json */

    uint64_t (*real_ns)(void); /* CLOCK_REALTIME for stamps and periods (tests: simulated) */
    udping_send_fn send_one;
    udping_send_batch_fn send_batch; /* raw mode only; NULL: -d 0 loops over send_one */
    uint8_t *slots;           /* UDPING_NSLOTS slots of UDPING_SLOT_LEN bytes, zeroed */
    size_t rr_next;           /* -d 0: the next port of the round-robin */

    /* raw mode */
    int packet_fd;
    int ifindex;
    unsigned mtu;
    char ifname[16];          /* IFNAMSIZ */
    struct frame_addrs addrs; /* src/dst MAC are per frame: dst_mac is rewritten */

    /* timers, signals */
    struct loop_timer period_timer;
    int64_t period_end_s;     /* the wall-clock second at which the current period ends */
    struct loop_timer pump_timer; /* -d 0 */
    struct loop_timer stop_timer; /* --duration */
    struct loop_signal sig;
    bool stopping;
    size_t ports_done;        /* --count */

    /* totals and errors */
    uint64_t data_sent, control_sent, errors, bytes;
    int last_errno;
    uint64_t icmp_errors;     /* socket mode: errors reported for earlier datagrams */
    int last_icmp_errno;
    uint64_t last_warn_ns;
    uint64_t start_mono_ns, stop_mono_ns;
    bool started;             /* the ports were set up and the loop ran */
    char local_text[SOCK_ADDR_STRLEN];  /* for --json: the source address used */
    char remote_text[SOCK_ADDR_STRLEN]; /* and the server's address:port */
};

/* ---- client.c ------------------------------------------------------------------------------ */

/* Stops the client cleanly: every port sends the control packet of its current GUID, then
 * the loop stops. Idempotent. Loop thread. */
void udping_client_stop(struct udping_client *c);

/* ---- client_send.c: GUIDs, sizes, datagrams, pacing, periods ----------------------------- */

/* Writes a fresh GUID (20 lowercase hex characters and a NUL) drawn from r. */
void udping_guid_new(struct rng *r, char out[UDPING_GUID_LEN + 1]);

/* The size of a data datagram (header included): uniform on [72, max_size] when
 * max_size >= 72, else 72. */
size_t udping_payload_size(struct rng *r, size_t max_size);

/* The wall-clock second at which the period containing now_s ends: the next multiple of
 * interval_s strictly after now_s. */
int64_t udping_period_end(int64_t now_s, int64_t interval_s);

/* Sets up port p's state (GUID, sequence 0, rotation at the first MAC) and, when
 * mean_delay_ms > 0, its Poisson schedule: intended times start_ns + g1, + g2, ... with
 * exponential gaps of that mean drawn from a generator seeded with seed. */
void udping_port_init(struct udping_client *c, struct udping_port *p, uint16_t port,
                      double mean_delay_ms, uint64_t seed, uint64_t start_ns);

/* When the wall clock (now_ns, CLOCK_REALTIME) has reached the end of p's period, ends the
 * GUID (udping_port_end_guid) and starts the next period. True when it did. */
bool udping_port_roll_if_due(struct udping_client *c, struct udping_port *p, uint64_t now_ns);

/* Builds and sends port p's next data datagram through c->send_one (slot 0), first ending
 * the period if the send time (stamped in the datagram) lies past it. On success
 * the datagram used the sequence number and (raw mode) MAC, and the counters move on; on
 * failure only the error is counted. Returns 0 or -errno. */
int udping_port_send_data(struct udping_client *c, struct udping_port *p);

/* Sends the control packet for p's current GUID (the count of data packets sent under
 * it), records the GUID for --json, and starts a new GUID. A GUID with no data packet gets
 * no control packet and no record. Returns 0 or -errno (the new GUID is started either
 * way). */
int udping_port_end_guid(struct udping_client *c, struct udping_port *p);

/* The Poisson pacing step, called when p's timer fires at now_ns (monotonic or
 * simulated): sends every datagram whose intended time is <= now_ns (at most
 * UDPING_BURST_MAX), advancing the schedule from intended time to intended time, and
 * returns the intended time of the next send, at which the caller re-arms the timer; 0
 * when the port is done (--count). */
uint64_t udping_port_fire(struct udping_client *c, struct udping_port *p, uint64_t now_ns);

/* One -d 0 batch: up to UDPING_BATCH datagrams, one per port in round-robin order over
 * the ports not done. Returns how many were sent. */
size_t udping_client_pump(struct udping_client *c);

/* Records a failed send (counters and the rate-limited warning). */
void udping_client_send_failed(struct udping_client *c, struct udping_port *p, int err);

/* Records an ICMP error that the kernel reported for an earlier datagram of p (socket
 * mode; the datagram being sent is then sent again). Counted apart from failures. */
void udping_client_icmp_error(struct udping_client *c, struct udping_port *p, int err);

/* Marks p done when --count is reached; true when it is (or was). */
bool udping_port_check_done(struct udping_client *c, struct udping_port *p);

/* ---- client_raw.c: raw mode --------------------------------------------------------------- */

/* Finds the interface whose IPv4 address is c->cfg->local (printing the original's four
 * lines unless quiet; to info), fills c->ifname, ifindex, mtu and the source MAC, checks
 * -m against the MTU and opens the packet socket. Returns 0 or an exit code with the
 * message in err. */
int udping_raw_setup(struct udping_client *c, FILE *info, char *err, size_t errlen);

/* The raw-mode senders (c->packet_fd, c->ifindex, c->addrs). */
int udping_raw_send_one(struct udping_client *c, struct udping_port *p, uint8_t *slot,
                        size_t len, const uint8_t *mac);
int udping_raw_send_batch(struct udping_client *c, uint8_t **slots, const size_t *lens, size_t n);

#endif
