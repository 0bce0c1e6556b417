#ifndef NETGRIND_TCPKALI_ENGINE_H
#define NETGRIND_TCPKALI_ENGINE_H

/* tcpkali's connection engine: worker threads (core/worker.h), each with its own loop,
 * listeners (SO_REUSEPORT, one per worker) and outgoing connections. The engine keeps
 * cfg->connections connections open to the destinations, opening them (and replacing
 * closed ones) at cfg->connect_rate, paced per worker so that no control-thread message per
 * connection is needed and -T stays exact. It sends the messages (first, then repeated,
 * with -r pacing from intended send times, bandwidth caps, write combining or not, or
 * closed-loop), receives (downstream cap, --message-stop search, latency markers) and
 * counts. Transports (plain TCP now; WebSocket and TLS next) and message sources (literal
 * now; expressions next) plug in behind internal interfaces without changing this API.
 *
 * The control thread (the one that runs `control`) is the only caller of these functions.
 *
 * Behaviour decided here (added by KE; the man page should say so):
 * - A connect counts as done only when SO_ERROR is 0 (bug 16). Failures are counted by
 *   cause; -v prints "Closing [ip]:port: <reason>", or for --connect-timeout "Connection
 *   to [ip]:port is being closed: Connection timed out".
 * - No port-reserving bind (bug 21): --source-ip addresses are bound with
 *   IP_BIND_ADDRESS_NO_PORT, taken round-robin over the whole process (bug 19). Without
 *   --source-ip, a 127.0.0.0/8 destination whose -c exceeds 40% of the ephemeral port
 *   range is reached from 127.0.0.1, .2, ... (same option), so one destination takes more
 *   connections than one source address could; no probe connection is made (bug 20).
 * - A listener refuses a port another program already listens on (bug 46), with
 *   "Bind [ip]:port is not done on thread 0: Address already in use" (exit 69).
 * - -r: each connection's first message goes out at connect time and then one every 1/R,
 *   from intended send times; -1 bytes are not charged (bug 29); only whole messages are
 *   scheduled, so variable-length messages keep their boundaries (bug 30). With write
 *   combining, all messages due go out in one send.
 * - --latency-marker: every match pops the send time of the OLDEST message not yet
 *   matched (first in, first out) and records now minus that time; from the intended send
 *   time with -r. A marker that also appears in -1 (or in a banner) therefore needs
 *   --latency-marker-skip N (bug 43); a match with no message left to pair is fatal:
 *   "More messages received than sent. Choose a different --latency-marker." (exit 1).
 * - Closed loop (cfg->closed_loop, needs --latency-marker): one message in flight per
 *   connection; each match counts a transaction and releases the next message. Latency is
 *   from the moment the message was written.
 * - --channel-lifetime 0 (bug 18): a connection closes right after its first message has
 *   been written whole (or, with nothing to send, right after connecting), and the pacer
 *   opens the next at --connect-rate; "ramp-up" is then conns_connected >= -c.
 * - --listen-mode=echo sends back every received byte in order; while the peer does not
 *   take them, the connection stops reading (the peer's own flow control holds the rest).
 * - Histograms are per worker over every connection, open or closed (bug 41), in ns with
 *   no upper limit (bug 42). msgs_sent counts every -m message whose first byte was
 *   written; msgs_rcvd counts message-marker tokens received.
 * Added by KF:
 * - The bandwidth caps move in steps of 10 ms of allowance (1 byte to one MSS) on a timer,
 *   so they are smooth at any rate and exact (plan.h: tk_plan_cap_burst).
 * - -r timers fire up to 100 us early and the worker's loop polls the rest of the way
 *   (plan.h: tk_plan_pace_lead); snapshot.send_lag holds how late each message still went.
 * - At -v 1 the per-connection lines ("Closing ...") are limited to 5 a second, then one
 *   "(N more connection messages in the last second)" line (output.h); -vv prints all.
 * - Listening on port 0: every address (each family) and every worker shares the port the
 *   kernel picked for the first address.
 * - tk_engine_stop keeps each worker's figures as they are when it stops sending, so a
 *   snapshot after the stop holds every byte written (the peer's count).
 * Added by E (issue 5: transports with a handshake, message markers):
 * - An outgoing connection whose transport has a handshake (WebSocket upgrade, TLS) stays
 *   "connecting" (conns_connecting) until the handshake is done; only then is it counted
 *   in conns_out and conns_connected (ramp-up), and its --channel-lifetime starts.
 *   --connect-timeout covers connect() and the handshake together. Connect latency is
 *   still connect() to connected; first-byte latency is connect() to the first
 *   APPLICATION byte (a handshake response is not one). Accepted connections count in
 *   conns_in once their handshake is done; they have no handshake timeout.
 * - A handshake that fails (TK_HS_FAILED) is counted in hs_failures by cause and closed;
 *   -v prints "Closing [ip]:port: <cause text>" (limited as the other per-connection
 *   lines). A socket error during a handshake counts as conns_reset, a timeout as
 *   connect_timeouts.
 * - Transport-owned output (pong, close reply, echoed frames, a partial TLS record): the
 *   connection waits for EPOLLOUT while the transport has any pending, flushes it before
 *   it sends anything more, and stops reading while more than TK_TR_PENDING_HOLD is
 *   pending. A transport that echoes itself (tr->echoes) gets no engine echo on top.
 * - Message boundaries (transport.h's promise): every tr->send() call is offered bytes
 *   that end where a message ends: the once part ends whole, a constant source's slice is
 *   the rest of a message plus whole messages (tk_rep_slice), a non-constant source's
 *   buffer holds whole messages. The upstream cap cuts a slice short: with a framing
 *   transport (WebSocket) it cuts only at message boundaries and a message larger than
 *   the allowance waits for a full bucket and goes whole (the bucket's debt keeps the
 *   average exact); plain TCP and TLS are cut anywhere. Echoed bytes are never framed.
 * - msgs_sent counts messages whose first byte was written, for every kind of source (bug
 *   40); non-constant sources keep the start offsets of the messages in their buffer.
 * - Message-marker mode (tk_engine_message_marker) is on with --message-marker or any
 *   \{message.marker} in the messages; --latency-marker together with a marker in the
 *   messages is refused ("use one or the other", 64), as the explicit combination is. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hist.h"
#include "core/loop.h"
#include "tcpkali/config.h"
#include "tcpkali/transport.h"

/* Counters, cumulative since tk_engine_start(), summed over workers. */
struct tk_counters {
    /* Gauges at the moment of the snapshot. */
    uint64_t conns_in;         /* accepted, open */
    uint64_t conns_out;        /* outgoing, connected (SO_ERROR checked), open */
    uint64_t conns_connecting; /* outgoing, connect in flight */
    /* Totals. */
    uint64_t conns_seen;      /* every connect attempt and every accepted connection */
    uint64_t conns_initiated; /* connect attempts */
    uint64_t conns_accepted;
    uint64_t connect_failures; /* = refused + timeouts + other_connect_errors */
    uint64_t connect_refused;
    uint64_t connect_timeouts;
    uint64_t connect_other_errors;
    uint64_t conns_reset;          /* ECONNRESET and other errors after connecting */
    uint64_t conns_closed_by_peer; /* orderly EOF from the peer */
    uint64_t conns_lifetime_ended; /* closed by --channel-lifetime */
    uint64_t accept_errors;        /* EMFILE and friends on accept */
    uint64_t bytes_sent, bytes_rcvd;
    uint64_t writes, reads; /* send/recv calls that moved data */
    uint64_t msgs_sent, msgs_rcvd; /* message-marker mode: timestamped messages */
    uint64_t transactions;         /* closed-loop mode: replies matched */
    /* Added by KE: outgoing connects that succeeded (SO_ERROR == 0), total. With
     * --channel-lifetime (0 in particular) connections come and go, and "every one of the
     * -c connections was established once" (conns_connected >= -c) is the ramp-up test
     * that can finish; otherwise conns_out >= -c. */
    uint64_t conns_connected;
    /* Added by E (issue 5): transport handshakes (WebSocket upgrade, TLS) that failed, by
     * cause (transport.h), on either side; and WebSocket frames received (every opcode). */
    uint64_t hs_failures[TK_HSF_COUNT];
    uint64_t ws_frames_rcvd;
};

struct tk_snapshot {
    uint64_t taken_ns; /* monotonic */
    struct tk_counters c;
    /* Latency histograms in ns over every connection, open or closed. */
    struct hist lat_connect;    /* connect() to connected (SO_ERROR == 0) */
    struct hist lat_first_byte; /* connect() to the first received byte */
    struct hist lat_message;    /* --latency-marker, message markers, closed-loop replies */
    /* With -r, message latency is measured from each message's intended send time, so a
     * stalled sender cannot hide its stall (coordinated omission). */
    bool latency_from_intended_time;
    /* Added by KF: with -r, each message's actual send time (its first byte written) minus
     * its intended send time, in ns (empty without -r): how late the pacing was. */
    struct hist send_lag;
};

/* Events the engine reports to the control thread (run on the control loop). */
struct tk_engine_events {
    void *ctx;
    /* A condition that ends the run (e.g. "More messages received than sent. Choose a
     * different --latency-marker."): print msg, finish with exit_code. */
    void (*on_fatal)(void *ctx, int exit_code, const char *msg);
    /* --message-stop seen; last holds the received bytes around it. */
    void (*on_message_stop)(void *ctx, const uint8_t *last, size_t len);
};

/* A stopped engine for cfg (which must outlive it). NULL with a message in err, and
 * *exit_code set to the tool's documented code (e.g. 69 for a listener that cannot bind,
 * 1 for an unreadable message file). */
struct tk_engine *tk_engine_new(const struct tk_config *cfg, struct loop *control,
                                const struct tk_engine_events *ev, int *exit_code, char *err,
                                size_t errlen);
/* Binds the listeners, starts the workers and begins connecting. 0, or a negative errno
 * with a message in err and *exit_code set. */
int tk_engine_start(struct tk_engine *e, int *exit_code, char *err, size_t errlen);

/* Fills out with the current figures (out's histograms are initialised here; free them
 * with tk_snapshot_free). Runs a call on every worker (core/worker_pool_call_all). */
void tk_engine_snapshot(struct tk_engine *e, struct tk_snapshot *out);
void tk_snapshot_free(struct tk_snapshot *s);
/* b - a for counters that are totals (gauges are b's); histograms are not subtracted. */
void tk_counters_diff(const struct tk_counters *a, const struct tk_counters *b,
                      struct tk_counters *out);

/* Added by KE: the addresses the listeners are bound to (after tk_engine_start), in the
 * order of cfg->listen_addrs, with the real port when the configuration asked for port 0
 * (every worker shares that port). *n receives the count; NULL before a successful start. */
const struct sock_addr *tk_engine_listen_addrs(const struct tk_engine *e, size_t *n);

/* Added by E: whether message-marker mode is on: --message-marker, or implicitly any
 * \{message.marker} in the messages (as tcpkali 1.2 does). Then every connection, active or
 * passive, parses marker tokens in what it receives (msgs_rcvd, message latency). */
bool tk_engine_message_marker(const struct tk_engine *e);

/* Changes -r on every connection, live (the @Latency search). */
void tk_engine_set_message_rate(struct tk_engine *e, double per_second);
/* Forgets the message latency histograms (the @Latency search after a rate change). */
void tk_engine_reset_message_latency(struct tk_engine *e);

/* Stops connecting and sending, closes every connection, stops and joins the workers.
 * Idempotent. */
void tk_engine_stop(struct tk_engine *e);
void tk_engine_free(struct tk_engine *e);

#endif
