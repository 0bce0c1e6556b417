/* Connection planning; see plan.h. */
#include "tcpkali/plan.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

uint64_t tk_plan_share(uint64_t n, unsigned w, unsigned i)
{
    if (w == 0 || i >= w)
        return 0;
    return n / w + (i < n % w ? 1 : 0);
}

double tk_plan_rate_share(double rate, uint64_t target, unsigned w, unsigned i)
{
    uint64_t share = tk_plan_share(target, w, i);
    if (share == 0 || target == 0)
        return 0;
    return rate * ((double)share / (double)target);
}

uint64_t tk_plan_connect_burst(double rate_per_sec)
{
    double b = rate_per_sec * (double)TK_PLAN_CONNECT_BURST_NS / 1e9;
    if (!(b >= 1.0))
        return 1;
    if (b > 1e6)
        return 1000000;
    return (uint64_t)b;
}

uint64_t tk_plan_connect_step(struct pace_bucket *b, uint64_t now_ns, uint64_t need, uint64_t cap,
                              uint64_t *next_ns)
{
    uint64_t n = 0;
    *next_ns = 0;
    while (n < need) {
        if (n == cap) {
            *next_ns = now_ns;
            return n;
        }
        uint64_t wait = pace_bucket_take(b, 1, now_ns);
        if (wait) {
            *next_ns = now_ns + (wait < TK_PLAN_CONNECT_GAP_NS ? TK_PLAN_CONNECT_GAP_NS : wait);
            return n;
        }
        n++;
    }
    return n;
}

unsigned tk_plan_loop_sources(uint64_t connections, uint32_t port_range)
{
    uint64_t per = (uint64_t)port_range * 2 / 5;
    if (per < 1)
        per = 1;
    uint64_t n = (connections + per - 1) / per;
    if (n < 1)
        n = 1;
    if (n > TK_PLAN_LOOP_MAX)
        n = TK_PLAN_LOOP_MAX;
    return (unsigned)n;
}

void tk_plan_loop_addr(unsigned k, struct sock_addr *out)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

    memset(out, 0, sizeof(*out));
    sin->sin_family = AF_INET;
    sin->sin_port = 0;
    sin->sin_addr.s_addr = htonl(0x7f000001u + (k % TK_PLAN_LOOP_MAX));
    out->len = sizeof(*sin);
}

uint64_t tk_plan_cap_burst(double bytes_per_sec)
{
    double b = bytes_per_sec * (double)TK_PLAN_CAP_BURST_NS / 1e9;
    if (!(b >= 2.0))
        return 2;
    if (b > 16.0 * 1024 * 1024)
        return 16u * 1024 * 1024;
    return (uint64_t)b;
}

uint64_t tk_plan_cap_step(uint64_t burst)
{
    uint64_t step = burst / 2;
    if (step < 1)
        return 1;
    return step < TK_PLAN_CAP_MAX_STEP ? step : TK_PLAN_CAP_MAX_STEP;
}

uint64_t tk_plan_pace_lead(double per_conn_rate, uint64_t conns)
{
    double msgs = per_conn_rate * (double)(conns ? conns : 1);
    if (!(msgs > 0))
        return 0;
    double lead = TK_PLAN_PACE_SPIN_SHARE * 1e9 / msgs;
    return lead < (double)TK_PLAN_PACE_LEAD_NS ? (uint64_t)lead : TK_PLAN_PACE_LEAD_NS;
}

static bool dest_dead(const uint32_t *attempts, const uint32_t *ok, size_t d)
{
    return attempts[d] > TK_PLAN_DEAD_ATTEMPTS && ok[d] == 0;
}

size_t tk_plan_pick_dest(size_t ndests, const uint32_t *attempts, const uint32_t *ok,
                         size_t *next)
{
    size_t first = *next % ndests;

    for (size_t tries = 0; tries < ndests; tries++) {
        size_t d = (first + tries) % ndests;
        if (!dest_dead(attempts, ok, d)) {
            *next = d + 1;
            return d;
        }
    }
    /* All dead: keep cycling over all of them. */
    *next = first + 1;
    return first;
}
