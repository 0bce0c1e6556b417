#ifndef NETGRIND_FLOWGRIND_TRAFFIC_H
#define NETGRIND_FLOWGRIND_TRAFFIC_H

/* flowgrind's per-flow-endpoint traffic generation (specs/flowgrind.md §5.2, §5.4, §6.2):
 * for every request block the sending endpoint draws the request size, then the response
 * size it asks the peer for, and after the block has been completely written the gap until
 * the next block is due. Distributions and parameter meanings are core/dist.h's, which take
 * flowgrind's -G #1 and #2 straight through.
 *
 * Rules, as the original's documentation promises (and where it is buggy, what we do instead):
 *  - Sizes are rounded to the nearest integer, except uniform sizes, which are truncated, so
 *    U:100:200 gives 100..199 as the original was measured to give.
 *  - Request sizes are re-drawn while outside [FG_TRAFFIC_MIN_BLOCK, maximum_block_size]
 *    (-U), at most FG_TRAFFIC_MAX_DRAWS draws in all; after that the last draw is clamped to
 *    the bound it violates.
 *  - Response sizes are drawn once: 0 stays 0 (no response wanted); anything else is clamped
 *    to [FG_TRAFFIC_MIN_BLOCK, maximum_block_size].
 *  - Gaps are not capped above. A negative gap (a normal with a small mean) counts as 0: the
 *    schedule never moves backwards (the original's bug 50 moved it backwards).
 *  - With a write rate (-R, bytes/s) the gap is the size of the block just written divided by
 *    the rate, so the rate holds whatever the block sizes are. The original divides the
 *    MAXIMUM block size instead (bug 18), which made the rate depend on -U and on option
 *    order; with constant blocks of maximum size (the default) both agree. The gap
 *    distribution is not sampled when a write rate is set.
 *  - L (lognormal) is a real lognormal (dist.h's DIST_LOGNORMAL: #1 = mean of ln X, #2 = its
 *    standard deviation), as flowgrind documents; 0.8.2 by a bug sampled a normal (bug 15).
 *  - Same seed, same sequence of sizes and gaps. Constant distributions consume no random
 *    numbers. Seed 0 is an ordinary seed here: a daemon that wants flowgrind's "0 means
 *    random" passes rng_entropy_seed() instead.
 *
 * Pure; one struct per flow endpoint, used by one thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dist.h"
#include "core/rng.h"

#define FG_TRAFFIC_MIN_BLOCK 40       /* flowgrind's MIN_BLOCK_SIZE: a bare header */
#define FG_TRAFFIC_DEFAULT_BLOCK 8192 /* default request size and maximum_block_size */
#define FG_TRAFFIC_MAX_DRAWS 10       /* request size draws before clamping */

struct fg_traffic {
    struct dist request;        /* request (block) size in bytes: -G x=q, -S */
    struct dist response;       /* response size in bytes, 0 = none: -G x=p, -A */
    struct dist gap;            /* gap between request blocks in seconds: -G x=g */
    int32_t maximum_block_size; /* -U; >= FG_TRAFFIC_MIN_BLOCK */
    double write_rate;          /* -R in bytes/s; 0 = not set, the gap distribution rules */
    uint64_t seed;              /* as given to fg_traffic_init */
    struct rng rng;
    int32_t last_request_size; /* the block fg_traffic_next_gap paces after; 0 before any */
};

/* Fills t with flowgrind's defaults: constant 8192-byte requests, no response (constant 0),
 * no gap (constant 0), maximum block size 8192, no write rate. The caller then overrides
 * fields from the options and calls fg_traffic_init before drawing. */
void fg_traffic_defaults(struct fg_traffic *t);

/* Validates t's fields (distributions already dist_init'ed by the caller; maximum_block_size
 * >= FG_TRAFFIC_MIN_BLOCK; write_rate finite and >= 0), records seed and seeds t's rng with
 * it. 0, or -EINVAL with err (when not NULL) naming the wrong field; t is not usable then. */
int fg_traffic_init(struct fg_traffic *t, uint64_t seed, char *err, size_t errlen);

/* Draws the next block: first the request size into *req_size (in [FG_TRAFFIC_MIN_BLOCK,
 * maximum_block_size]), then the response size into *resp_size (0, or in that range).
 * Either pointer may be NULL (the value is still drawn, so the sequence does not change). */
void fg_traffic_next_block(struct fg_traffic *t, int32_t *req_size, int32_t *resp_size);

/* The gap in seconds (>= 0, finite unless the distribution gives infinity) from the end of
 * the block just written to the next block's due time. Call once after each block has been
 * completely written, i.e. after fg_traffic_next_block; with a write rate it is
 * last request size / write_rate (0 before any block). */
double fg_traffic_next_gap(struct fg_traffic *t);

/* Whether every block is the same and due at once: constant request size, no response
 * (constant 0), constant gap 0 and no write rate. Such traffic draws nothing random and
 * fg_traffic_next_gap is always 0, so a writer may draw several blocks ahead and drop the
 * ones it could not send without changing the sequence (the daemon writes bulk traffic in
 * bursts of blocks). */
bool fg_traffic_is_bulk(const struct fg_traffic *t);

#endif
