#ifndef NETGRIND_TCPKALI_OUTPUT_H
#define NETGRIND_TCPKALI_OUTPUT_H

/* tcpkali's text output (tcpkali.md §3.2, §3.3): the final summary, the pieces of the live
 * status line and the smoothed rates it shows. Pure: callers pass figures, these format
 * them (numbers always in the C locale). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/hist.h"
#include "core/sock.h"
#include "tcpkali/config.h"
#include "tcpkali/transport.h"

/* Formats a as tcpkali prints addresses: "[127.0.0.1]:80", "[::1]:80". Returns buf. */
const char *tk_addr_format(const struct sock_addr *a, char *buf, size_t len);

/* The summary's "TCP MSS per operation": ceil((bytes / ops) / 1460), 0 without operations. */
unsigned tk_mss_per_op(uint64_t bytes, uint64_t ops);

/* "N bytes" below 2048, "%.1f KiB" below 512 KiB, else "%.1f MiB" (§3.3). Returns buf. */
const char *tk_human_size(uint64_t bytes, char *buf, size_t len);

/* Everything the final summary prints. */
struct tk_summary {
    uint64_t bytes_sent, bytes_rcvd;
    uint64_t writes, reads;
    uint64_t msgs_sent, msgs_rcvd;
    uint64_t transactions;
    double duration_s;
    /* The divisor of "Bandwidth per channel": the connections that carried the traffic
     * (netgrind: the most connections open at once; the original: those open at the end,
     * bug 26). 0 counts as 1. */
    uint64_t channels;
    bool message_rate;  /* message-marker mode: "Aggregate message rate" */
    bool closed_loop;   /* "Transaction rate" and "Transaction latency" lines */
    bool intended_time; /* -r with a marker: latency from intended send times (a note line) */
    /* Enabled latency kinds (NULL: off); histograms in ns. */
    const struct hist *lat_connect, *lat_first_byte, *lat_message;
    const struct tk_percentile *pcts;
    size_t npcts;
    /* -r: actual minus intended send time of each message, ns (JSON only); NULL without -r. */
    const struct hist *send_lag;
    /* Connection failures: a line only when any happened. */
    uint64_t connect_refused, connect_timeouts, connect_other;
    /* Added by E: transport handshakes that failed, by cause (a line per kind, WebSocket
     * and TLS, only when any of its causes is nonzero). */
    uint64_t hs_failures[TK_HSF_COUNT];
};

/* The percentile list: "a/b/c ms (95/99/99.5%)" of h (ns) into buf. */
const char *tk_format_percentiles(const struct hist *h, const struct tk_percentile *pcts,
                                  size_t npcts, char *buf, size_t len);

/* Prints the summary lines, in the original's format, to out. */
void tk_print_summary(FILE *out, const struct tk_summary *s);

/* The handshake failure lines (netgrind; nothing when every count is 0), e.g.
 *   "WebSocket upgrade failures: 3 (ws_status: 2, ws_eof: 1)"
 *   "TLS handshake failures: 1 (tls_protocol: 1)"
 * listing only the nonzero causes. Part of the summary, and printed after "Could not
 * create N connections in allotted time" when failed upgrades kept ramp-up from finishing. */
void tk_print_hs_failures(FILE *out, const uint64_t hs[TK_HSF_COUNT]);

/* ---- live status line ----------------------------------------------------------------- */

#define TK_STATUS_EL "\033[K" /* clear to the end of the line */

/* The ramp-up ribbon for a terminal of width columns: "|===>---| 6007 of 20000 (6009)",
 * the bar min(50, 0.6 * width) wide; without EL and CR. When it can not fit, the plain
 * "6007 of 20000 (6009)". Returns buf. */
const char *tk_status_ribbon(char *buf, size_t len, unsigned width, uint64_t conns,
                             uint64_t target, uint64_t counter);

/* Figures of one traffic status line. */
struct tk_status {
    bool clock;           /* $LANG says UTF-8: the clock emoji first */
    double elapsed_frac;  /* of -T, for the clock; < 0 when -T is infinite */
    double elapsed_s;     /* for the clock when -T is infinite */
    double mbps_in, mbps_out;
    uint64_t conns_in, conns_out, conns_connecting, conns_seen;
    bool latency_on; /* any latency kind on: the short connection part */
    bool mps;        /* message-marker mode */
    double mps_in, mps_out;
    /* p95 in ms of each enabled kind; NaN: no samples yet ("?"). */
    bool lat_connect, lat_first_byte, lat_message;
    double p95_connect_ms, p95_first_byte_ms, p95_message_ms;
};

/* "<clock>Traffic <in>↓, <out>↑ Mbps (<conns>)<mps><latency>" without EL and CR. */
const char *tk_status_traffic(char *buf, size_t len, const struct tk_status *st);

/* True when $LANG (the value given) names UTF-8, case-insensitively. */
bool tk_lang_is_utf8(const char *lang);

/* ---- per-connection messages ------------------------------------------------------------
 * At the default verbosity (1) every failed connect prints a line ("Closing [ip]:port:
 * Connection refused"), and against a dead port the pacer makes ~100 attempts a second, so
 * the lines are limited: the first TK_LINES_PER_WINDOW of each one-second window are
 * printed, the rest are only counted, and once the window is over one line says how many
 * were left out: "(N more connection messages in the last second)". -vv prints them all.
 * Pure; the caller serialises the calls (one limiter per process, under a lock). */
#define TK_LINES_PER_WINDOW 5
#define TK_LINES_WINDOW_NS 1000000000ULL

struct tk_linelimit {
    uint64_t start_ns;   /* the current window's start */
    uint64_t printed;    /* lines printed in it */
    uint64_t suppressed; /* lines left out in it */
    bool open;           /* a window has started */
};

/* A line is due at now_ns: true to print it. *report receives the count of lines left out
 * of a window that has ended (print tk_linelimit_text for it BEFORE the line), else 0. */
bool tk_linelimit_admit(struct tk_linelimit *l, uint64_t now_ns, uint64_t *report);
/* No line is due: the count left out of a window that has ended by now_ns (or, with
 * at_end, of the current window too: the program is ending), to report now; 0 if none. */
uint64_t tk_linelimit_flush(struct tk_linelimit *l, uint64_t now_ns, bool at_end);
/* "(N more connection messages in the last second)" into buf. Returns buf. */
const char *tk_linelimit_text(char *buf, size_t len, uint64_t n);

/* ---- smoothed rates --------------------------------------------------------------------- */

/* An exponential moving average of a rate with a 3 s time constant (the original's
 * smoothing: 1/8 s buckets, decay 1/24), corrected for its start so that a constant rate
 * reads right from the first sample instead of creeping up (tcpkali.md bug 28), and 0
 * after 3 s without any data. */
struct tk_ema {
    double avg;       /* biased average */
    double weight;    /* 1 - decay^n: how much of avg is real data */
    double idle_s;    /* seconds since the last data */
};

#define TK_EMA_TAU_S 3.0

void tk_ema_init(struct tk_ema *e);
/* Adds a sample: amount units over dt seconds. */
void tk_ema_add(struct tk_ema *e, double amount, double dt_s);
/* The smoothed rate (units per second). */
double tk_ema_rate(const struct tk_ema *e);

#endif
