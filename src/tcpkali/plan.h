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
 * 32768-60999 range, spec §7). So each source address gets at most 40% of the range
 * (port_range * 2 / 5, at least TK_PLAN_LOOP_MIN), and a target above that uses more
 * addresses. Returns how many (1: no binding at all). */
#define TK_PLAN_LOOP_MIN 1000
#define TK_PLAN_LOOP_MAX 250
unsigned tk_plan_loop_sources(uint64_t connections, uint32_t port_range);
/* The ephemeral range size from /proc/sys/net/ipv4/ip_local_port_range (28232, Linux's
 * default, when it cannot be read). Not pure: reads /proc. */
uint32_t tk_plan_port_range(void);
/* The k-th loopback source address (k < TK_PLAN_LOOP_MAX): 127.0.0.(k+1), port 0. */
void tk_plan_loop_addr(unsigned k, struct sock_addr *out);

/* Destination choice with tcpkali's rule: a destination with more than 10 attempts and no
 * success is skipped while another destination is still usable. attempts[d] and ok[d]
 * are the counts so far; *next is the round-robin position (advanced). Returns the index. */
#define TK_PLAN_DEAD_ATTEMPTS 10
size_t tk_plan_pick_dest(size_t ndests, const uint32_t *attempts, const uint32_t *ok,
                         size_t *next);

#endif
