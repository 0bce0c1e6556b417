#ifndef NETGRIND_UDPING_SESSION_H
#define NETGRIND_UDPING_SESSION_H

/* udping_server's accounting: sources, sessions, sequence numbers and latency figures.
 * Pure (no syscalls; times are passed in), so every rule is unit-tested on made-up
 * datagram sequences (tests/unit/test_udping_session.c).
 *
 * A *source* is one client address and port. A *session* is one measurement period of one
 * source: the datagrams from that source with one GUID. Sessions are keyed by
 * (source, GUID), as the original's per-GUID map should have been.
 *
 * Counting. Each session keeps the set of sequence numbers received (a bitmap window, see
 * struct udping_seqs): count is the number of distinct numbers, a number seen again is a
 * duplicate (not counted, not in the latency figures), a new number below the highest
 * already seen is reordered. Sequence numbers are compared with serial-number arithmetic
 * (difference mod 2^32 read as int32), so everything is right across the wrap at 2^32.
 *
 * Expected count (targetCount), decided when the session is closed:
 *  - the session has a control packet: its count;
 *  - the source has sent control packets before (a netgrind client) but not for this
 *    session: 0, "unknown", as UDPing's README promises;
 *  - otherwise (the original's clients) inferred: highest - lowest + 1, no window, plus
 *    the gap up to the next open session of the same client run (tail losses; the
 *    period boundary is not on the wire, so a straddling gap goes to the earlier period),
 *    plus the gap after the last number already charged to an emitted session of the run
 *    (when the earlier session was emitted before this one began), or, for the first
 *    session of a run that began while the server was listening, the numbers from 0.
 *
 * Emission is the caller's: udping_table_receive says when a session is complete (its
 * control packet and every packet it announced are in); udping_session_deadline gives the
 * keepalive / grace deadline; udping_table_close computes the figures and frees the
 * session. Single-threaded (the server's loop thread). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hist.h"
#include "core/loop.h"
#include "core/sock.h"
#include "udping/wire.h"

#define UDPING_SEQ_BITS_MIN 1024u       /* a session's first bitmap: 128 bytes */
#define UDPING_SEQ_BITS_MAX (1u << 20)  /* a session's largest bitmap: 128 KiB */
#define UDPING_SEQ_BUDGET (256u << 20)  /* bytes of bitmap for all sessions together */
#define UDPING_SESSIONS_MAX 65536u      /* open sessions */
#define UDPING_SOURCES_MAX 65536u       /* remembered sources (idle ones are evicted) */
#define UDPING_CLOSED_RING 8u           /* GUIDs per source remembered after emission */
#define UDPING_GRACE_NS 1000000000ull   /* wait for stragglers after a control packet */
#define UDPING_HIST_SUB_BITS 6          /* percentiles within 2^-7 = 0.8% */

/* ---- sequence-number set ---------------------------------------------------------------- */

/* The sequence numbers of one session. Offsets are 64-bit positions relative to the first
 * number received (offset 0), extended by serial arithmetic from the highest, so they never
 * wrap. The bitmap is a ring over the offsets (max_off - nbits, max_off]: bit
 * (off mod nbits) tells whether off was received. It starts at UDPING_SEQ_BITS_MIN bits
 * and doubles while the session's span grows, up to UDPING_SEQ_BITS_MAX and while the
 * shared budget allows; a number older than the window is counted without a duplicate
 * check (UDPING_SEQ_UNCHECKED). */
struct udping_seqs {
    bool any;
    uint32_t max_seq;        /* the number at max_off */
    int64_t min_off, max_off;
    int64_t floor;           /* offsets below it may have left the window: unchecked */
    uint64_t *bits;          /* nbits / 64 words; NULL when nbits is 0 */
    size_t nbits;            /* 0 or a power of two */
};

enum udping_seq_class {
    UDPING_SEQ_NEW,       /* first time, in order (the highest so far) */
    UDPING_SEQ_REORDERED, /* first time, below the highest so far */
    UDPING_SEQ_DUPLICATE, /* received before */
    UDPING_SEQ_UNCHECKED, /* below the window: counted as new and reordered, unverified */
};

/* Adds seq. *budget (may be NULL: unlimited) is the bitmap bytes still allowed; growth
 * takes from it, udping_seqs_free gives back. An allocation failure only stops growth. */
enum udping_seq_class udping_seqs_add(struct udping_seqs *s, uint32_t seq, size_t *budget);
/* The lowest number received (valid when s->any). */
uint32_t udping_seqs_min(const struct udping_seqs *s);
/* max - min + 1 over the numbers received, 0 when none. */
uint64_t udping_seqs_span(const struct udping_seqs *s);
void udping_seqs_free(struct udping_seqs *s, size_t *budget);

/* ---- latency ---------------------------------------------------------------------------- */

/* One-way latency of a packet sent at sent_sec:sent_nsec and received at rx_real_ns
 * (CLOCK_REALTIME ns), computed as the original does: ((rx.sec - sent.sec) * 1e9 +
 * rx.nsec - sent.nsec) / 1e6 ms. *ns (may be NULL) gets the same in whole ns, saturated to
 * the int64 range. Safe for any field values (no overflow). */
double udping_latency_ms(int64_t rx_real_ns, int64_t sent_sec, int64_t sent_nsec, int64_t *ns);

/* ---- sources and sessions --------------------------------------------------------------- */

/* A source address in a form that hashes and compares bytewise. */
struct udping_addr_key {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t pad;
    uint16_t port;  /* host order */
    uint32_t scope;
    uint8_t addr[16];
};

/* The key of a's address and port (bytes not used by the family are 0). */
void udping_addr_key_init(struct udping_addr_key *k, const struct sock_addr *a);

struct udping_session;

struct udping_source {
    struct udping_addr_key key;
    struct sock_addr addr;          /* as received */
    struct udping_source *hnext;    /* hash chain */
    struct udping_source *lru_prev, *lru_next; /* by last activity, oldest first */
    void *host;                     /* the caller's name entry; set by the caller */
    bool sends_control;             /* has sent a control packet: a netgrind client */
    bool have_run;                  /* run_start is known */
    int64_t run_start;              /* client_start of the client run seen last */
    uint64_t run_guids;             /* sessions seen in that run */
    bool have_end;                  /* end_seq: last number charged to an emitted session */
    uint32_t end_seq;
    struct udping_session *open;    /* its open sessions (list via src_next) */
    size_t nopen;
    char closed[UDPING_CLOSED_RING][UDPING_GUID_LEN + 1]; /* GUIDs emitted lately */
    unsigned closed_next;
    uint64_t last_mono_ns;
};

struct udping_table;

struct udping_session {
    struct udping_table *table;
    struct udping_source *src;
    char guid[UDPING_GUID_LEN + 1];
    int64_t client_start;
    uint64_t id;                               /* creation number, from 1 */
    struct udping_session *hnext;              /* hash chain */
    struct udping_session *prev, *next;        /* table list, creation order */
    struct udping_session *src_prev, *src_next; /* the source's open sessions */
    struct loop_timer timer; /* initialised with the table's on_timer; armed by the caller */
    uint64_t first_mono_ns, last_mono_ns;
    uint64_t count, duplicates, reordered, unchecked, negative;
    uint64_t ts_kernel, ts_user;               /* counted packets by timestamp source */
    double sum_ms, sumsq_ms, max_ms, min_ms;   /* over counted packets, as the original */
    struct hist pos, neg;                      /* |latency| ns of counted packets, by sign */
    struct udping_seqs seqs;
    bool have_control;
    uint32_t control_count;
    uint64_t control_mono_ns;
    bool first_period; /* first session of a run that began while the server listened */
};

struct udping_table {
    struct udping_session **sbuckets;
    size_t nsbuckets, nsessions;
    struct udping_source **cbuckets;
    size_t ncbuckets, nsources;
    struct udping_session *head, *tail;       /* open sessions, creation order */
    struct udping_source *lru_head, *lru_tail;
    size_t max_sessions, max_sources;
    size_t seq_budget;      /* bitmap bytes still allowed */
    int64_t start_real_ns;  /* when the server started listening (CLOCK_REALTIME) */
    uint64_t keepalive_ns, grace_ns;
    uint64_t next_id;
    void (*on_timer)(struct loop *, struct loop_timer *); /* for each new session's timer */
    /* counters */
    uint64_t data, controls, duplicates, late, refused, control_empty, control_repeated;
    uint64_t nomem;
};

/* An empty table. keepalive_ns > 0; the grace after a control packet is
 * min(UDPING_GRACE_NS, keepalive). start_real_ns: the server's start (CLOCK_REALTIME).
 * 0 or -ENOMEM. */
int udping_table_init(struct udping_table *t, uint64_t keepalive_ns, int64_t start_real_ns);
/* Frees every session and source (the caller has cancelled the sessions' timers). */
void udping_table_free(struct udping_table *t);

/* One valid datagram (udping_hdr_decode said OK). */
struct udping_rx {
    const struct sock_addr *from;
    const struct udping_hdr *hdr;
    bool control;          /* UDPING_OK_CONTROL */
    int64_t rx_real_ns;    /* arrival time, CLOCK_REALTIME */
    bool ts_kernel;        /* rx_real_ns came from the kernel */
    uint64_t now_mono_ns;
};

enum udping_rx_outcome {
    UDPING_RX_COUNTED,       /* a data packet counted in s */
    UDPING_RX_DUPLICATE,     /* a data packet already received in s */
    UDPING_RX_CONTROL,       /* s got its control packet */
    UDPING_RX_CONTROL_AGAIN, /* s had its control packet already (the first one stands) */
    UDPING_RX_CONTROL_EMPTY, /* a control packet with count 0 for an unknown GUID: ignored */
    UDPING_RX_LATE,          /* for a GUID this source has had emitted lately: dropped */
    UDPING_RX_REFUSED,       /* the open-session limit: dropped */
    UDPING_RX_NOMEM,         /* no memory for a new source or session: dropped */
};

struct udping_rx_result {
    enum udping_rx_outcome outcome;
    struct udping_session *s;   /* for COUNTED, DUPLICATE, CONTROL, CONTROL_AGAIN */
    struct udping_source *src;  /* the source (NULL only for NOMEM) */
    bool src_created;           /* src is new: the caller sets src->host */
    bool created;               /* s is new: the caller arms its timer */
    bool complete;              /* s has its control packet and count >= its count */
    enum udping_seq_class seq_class; /* for data packets */
    double latency_ms;               /* for counted data packets */
};

/* Accounts one datagram. Never fails but with an outcome. */
void udping_table_receive(struct udping_table *t, const struct udping_rx *rx,
                          struct udping_rx_result *res);

/* When s is due without more packets: keepalive after its last packet, or the grace after
 * its control packet if that is sooner (monotonic ns). */
uint64_t udping_session_deadline(const struct udping_table *t, const struct udping_session *s);

enum udping_trigger {
    UDPING_TRIGGER_CONTROL,   /* control packet in and every packet it announced */
    UDPING_TRIGGER_GRACE,     /* control packet in, the grace ran out with packets missing */
    UDPING_TRIGGER_KEEPALIVE, /* keepalive after the last packet, no control packet */
    UDPING_TRIGGER_EXIT,      /* the server stopped */
};
const char *udping_trigger_name(enum udping_trigger t);

enum udping_expected_source {
    UDPING_EXP_CONTROL,  /* the control packet's count */
    UDPING_EXP_INFERRED, /* from the sequence numbers */
    UDPING_EXP_NONE,     /* a netgrind client's session without control packet: 0, unknown */
};
const char *udping_expected_source_name(enum udping_expected_source e);

/* A closed session's figures. Latencies are ms; with count 0 they are all 0. */
struct udping_summary {
    struct sock_addr from;
    void *host; /* the source's name entry */
    char guid[UDPING_GUID_LEN + 1];
    int64_t client_start;
    enum udping_trigger trigger;
    enum udping_expected_source exp_source;
    uint64_t count, expected;
    int64_t lost; /* expected - count; 0 with UDPING_EXP_NONE */
    uint64_t duplicates, reordered, unchecked, negative;
    uint64_t ts_kernel, ts_user;
    double sum_ms, sumsq_ms, max_ms, min_ms, mean_ms;
    double p50_ms, p90_ms, p99_ms, p99_9_ms;
};

/* Computes s's figures into *out, charges its sequence range to its source (for the next
 * session of the run), remembers its GUID as emitted, removes s from the table and frees
 * it. The caller has cancelled s->timer. s must not be used afterwards. */
void udping_table_close(struct udping_table *t, struct udping_session *s,
                        enum udping_trigger trigger, struct udping_summary *out);

/* The signed latency percentile p (0..100) of s's counted packets in ms; 0 when none. */
double udping_session_percentile(const struct udping_session *s, double p);

#endif
