#ifndef NETGRIND_TCPKALI_STATSD_OUT_H
#define NETGRIND_TCPKALI_STATSD_OUT_H

/* tcpkali's StatsD metrics (tcpkali.md §6): the original's names and types, packed into
 * datagrams of at most 512 bytes by core/statsd's batcher. Pure (the batch's send
 * function does the I/O). */

#include <stdint.h>

#include "core/hist.h"
#include "core/statsd.h"
#include "tcpkali/config.h"

/* One 0.25 s report: counters are the differences since the previous report. */
struct tk_statsd_figures {
    uint64_t opened; /* connection attempts since the last report */
    uint64_t conns_in, conns_out;
    double bitrate_in, bitrate_out; /* bits/s, smoothed */
    uint64_t bytes_rcvd, bytes_sent;
    uint64_t reads, writes;
    uint64_t msgs_rcvd, msgs_sent;
    /* Added by E: with a transport that has a handshake (--ws, --ssl), the handshakes that
     * failed since the last report, all causes together, as connections.handshake_failures
     * (a counter, after the original's lines; absent otherwise, so plain runs send exactly
     * the original's set). */
    bool handshakes;
    uint64_t hs_failures;
};

/* Adds the connection and traffic lines, in the original's order:
 *   connections.opened|c, connections.total|g, connections.total.in|g,
 *   connections.total.out|g, traffic.bitrate|g (.in, .out), traffic.data|c (.rcvd, .sent),
 *   traffic.data.reads|c, traffic.data.writes|c, traffic.msgs.rcvd|c, traffic.msgs.sent|c,
 *   then connections.handshake_failures|c when f->handshakes.
 * An all-zero f is the batch sent at start and at exit. Returns 0 or the batch's error. */
int tk_statsd_add_traffic(struct statsd_batch *b, const char *ns,
                          const struct tk_statsd_figures *f);

/* Adds latency.<kind>.<label>|g for each percentile, then .min, .mean and .max, in ms with
 * one decimal; nothing when h is empty. kind: "connect", "firstbyte" or "message". */
int tk_statsd_add_latency(struct statsd_batch *b, const char *ns, const char *kind,
                          const struct hist *h, const struct tk_percentile *pcts, size_t npcts);

/* out (initialised by the caller, same sub_bits) receives newer - older bucket by bucket:
 * the values recorded in between (--statsd-latency-window). Values are bucket midpoints,
 * so min and max are those of the buckets. 0, or -EINVAL / -ENOMEM. */
int tk_hist_diff(struct hist *out, const struct hist *newer, const struct hist *older);

#endif
