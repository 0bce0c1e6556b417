#ifndef NETGRIND_TCPKALI_PLAN_H
#define NETGRIND_TCPKALI_PLAN_H

/* Pure planning of the engine's outgoing connections: how the target (-c) and the connect
 * rate are split over workers, which source address a connection binds, and which
 * destinations the round-robin skips. No syscalls; unit-tested. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pace.h"
#include "core/sock.h"

/* Worker i's share of n connections over w workers: n / w, plus one for the first
 * n % w workers, so the shares add up to n exactly. */
uint64_t tk_plan_share(uint64_t n, unsigned w, unsigned i);

/* Worker i's connect rate: the total rate in proportion to its share of the target, so
 * that every worker finishes its ramp-up at the same time and the rates add up to `rate`.
 * 0 when the worker has no connections to open. */
double tk_plan_rate_share(double rate, uint64_t target, unsigned w, unsigned i);

/* The connect bucket's burst for a per-worker rate: 20 ms worth of connections (at least
 * 1), so that a worker woken late (busy with traffic, or descheduled on a loaded machine)
 * still gets the allowance of the time it missed, up to 20 ms of it. Wake-ups are at least
 * TK_PLAN_CONNECT_GAP_NS apart, so fast rates are served in batches. */
#define TK_PLAN_CONNECT_GAP_NS 1000000ULL
#define TK_PLAN_CONNECT_BURST_NS 20000000ULL
uint64_t tk_plan_connect_burst(double rate_per_sec);

/* One wake-up of a worker's connect pacer at now_ns: how many connections it may open now
 * (at most need and cap), their tokens taken from b. *next_ns receives when to wake up
 * again: now_ns when the cap cut the batch short, the time the next token is due (but at
 * least TK_PLAN_CONNECT_GAP_NS away, so a fast rate is served in batches rather than by a
 * wake-up per connection), or 0 when need is met. */
uint64_t tk_plan_connect_step(struct pace_bucket *b, uint64_t now_ns, uint64_t need, uint64_t cap,
                              uint64_t *next_ns);

/* Loopback source spreading: connections to a 127.0.0.0/8 destination without
 * --source-ip bind (with IP_BIND_ADDRESS_NO_PORT) to 127.0.0.1, .2, ... round-robin.
 * Linux's connect() gives one (source, destination) pair the even half of the ephemeral
 * range first; once that half is used, every further connect() walks all of it before it
 * finds an odd port, and the ramp collapses (about 14,100 connections with the default
 * 32768-60999 range, spec §7). So each source address gets at most 40% of the range that
 * is really configured (port_range * 2 / 5, at least 1: a 100-port range gives 40 per
 * address, so -c 300 uses 8 addresses), and a target above that uses more addresses.
 * Returns how many (1: no binding at all), at most TK_PLAN_LOOP_MAX. */
#define TK_PLAN_LOOP_MAX 250
unsigned tk_plan_loop_sources(uint64_t connections, uint32_t port_range);
/* The ephemeral range's size to assume when /proc does not tell (Linux's default
 * 32768-60999). */
#define TK_PLAN_DEFAULT_PORT_RANGE 28232u
/* The k-th loopback source address (k < TK_PLAN_LOOP_MAX): 127.0.0.(k+1), port 0. */
void tk_plan_loop_addr(unsigned k, struct sock_addr *out);

/* Bandwidth caps (--channel-bandwidth-upstream/-downstream) count plain bytes, and their
 * smallest move is one byte (spec §3.10). A capped connection moves a STEP at a time: 10 ms
 * of its allowance, at least 1 byte and at most one MSS (TK_PLAN_CAP_MAX_STEP), and waits on
 * a timer for the next step. So 500 B/s goes out as 5 bytes every 10 ms and 80 kbit/s as
 * 100 bytes every 10 ms, never as one 1460-byte block every three seconds.
 * The bucket holds tk_plan_cap_burst(Bps) = 20 ms of allowance (at least 2 bytes, at most
 * 16 MiB): room for two steps, so the allowance a timer earns while it wakes up late is
 * kept instead of overflowing a full bucket (the cap stays exact), and a busy worker that
 * wakes late catches up on at most 20 ms. */
#define TK_PLAN_CAP_BURST_NS 20000000ULL
#define TK_PLAN_CAP_MAX_STEP 1460
uint64_t tk_plan_cap_burst(double bytes_per_sec);
/* The step for a bucket of that burst: half of it, at least 1, at most TK_PLAN_CAP_MAX_STEP. */
uint64_t tk_plan_cap_step(uint64_t burst);

/* -r pacing: a worker arms each connection's send timer this much before the message is
 * due and its loop polls (spins) the rest of the way, because a blocking wake-up comes late
 * (tens of microseconds on a virtual machine, hundreds at the 99th percentile) and, with
 * latency measured from intended send times, that lateness would count as latency. The lead
 * is TK_PLAN_PACE_LEAD_NS, less when the worker's messages are so frequent that spinning
 * would take more than TK_PLAN_PACE_SPIN_SHARE of a CPU: lead * messages per second stays
 * under it (-c 1 -r 1000: 100 us; -c 1000 -r 100 on two workers: 2 us, nearly none).
 * per_conn_rate: -r; conns: the worker's outgoing connections (at least 1 is assumed). */
#define TK_PLAN_PACE_LEAD_NS 100000ULL
#define TK_PLAN_PACE_SPIN_SHARE 0.1
uint64_t tk_plan_pace_lead(double per_conn_rate, uint64_t conns);

/* Destination choice with tcpkali's rule: a destination with more than 10 attempts and no
 * success is skipped while another destination is still usable. attempts[d] and ok[d]
 * are the counts so far; *next is the round-robin position (advanced). Returns the index. */
#define TK_PLAN_DEAD_ATTEMPTS 10
size_t tk_plan_pick_dest(size_t ndests, const uint32_t *attempts, const uint32_t *ok,
                         size_t *next);

#endif
