/* tcpkali's StatsD metrics (see statsd_out.h). */
#include "tcpkali/statsd_out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add(struct statsd_batch *b, const char *ns, const char *name, const char *value,
               enum statsd_type type)
{
    char line[512];
    int n = statsd_line(line, sizeof line, ns, name, value, type);
    if (n < 0)
        return n;
    return statsd_batch_add(b, line, (size_t)n);
}

static int add_u64(struct statsd_batch *b, const char *ns, const char *name, uint64_t v,
                   enum statsd_type type)
{
    char value[STATSD_VALUE_BUF];
    statsd_fmt_u64(value, sizeof value, v);
    return add(b, ns, name, value, type);
}

static int add_ms(struct statsd_batch *b, const char *ns, const char *name, double ms)
{
    char value[STATSD_VALUE_BUF];
    if (statsd_fmt_fixed(value, sizeof value, ms, 1) < 0)
        return 0; /* not finite: skipped, as libstatsd does */
    return add(b, ns, name, value, STATSD_GAUGE);
}

int tk_statsd_add_traffic(struct statsd_batch *b, const char *ns,
                          const struct tk_statsd_figures *f)
{
    const double in = f->bitrate_in > 0 ? f->bitrate_in : 0;
    const double out = f->bitrate_out > 0 ? f->bitrate_out : 0;
    const struct {
        const char *name;
        uint64_t v;
        enum statsd_type type;
    } lines[] = {
        {"connections.opened", f->opened, STATSD_COUNTER},
        {"connections.total", f->conns_in + f->conns_out, STATSD_GAUGE},
        {"connections.total.in", f->conns_in, STATSD_GAUGE},
        {"connections.total.out", f->conns_out, STATSD_GAUGE},
        {"traffic.bitrate", (uint64_t)(in + out), STATSD_GAUGE},
        {"traffic.bitrate.in", (uint64_t)in, STATSD_GAUGE},
        {"traffic.bitrate.out", (uint64_t)out, STATSD_GAUGE},
        {"traffic.data", f->bytes_rcvd + f->bytes_sent, STATSD_COUNTER},
        {"traffic.data.rcvd", f->bytes_rcvd, STATSD_COUNTER},
        {"traffic.data.sent", f->bytes_sent, STATSD_COUNTER},
        {"traffic.data.reads", f->reads, STATSD_COUNTER},
        {"traffic.data.writes", f->writes, STATSD_COUNTER},
        {"traffic.msgs.rcvd", f->msgs_rcvd, STATSD_COUNTER},
        {"traffic.msgs.sent", f->msgs_sent, STATSD_COUNTER},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        int r = add_u64(b, ns, lines[i].name, lines[i].v, lines[i].type);
        if (r < 0 && rc == 0)
            rc = r;
    }
    if (f->handshakes) {
        int r = add_u64(b, ns, "connections.handshake_failures", f->hs_failures, STATSD_COUNTER);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

int tk_statsd_add_latency(struct statsd_batch *b, const char *ns, const char *kind,
                          const struct hist *h, const struct tk_percentile *pcts, size_t npcts)
{
    if (hist_count(h) == 0)
        return 0;
    char name[128];
    int rc = 0, r;
    for (size_t i = 0; i < npcts; i++) {
        snprintf(name, sizeof name, "latency.%s.%s", kind, pcts[i].label);
        r = add_ms(b, ns, name, (double)hist_percentile(h, pcts[i].value) / 1e6);
        if (r < 0 && rc == 0)
            rc = r;
    }
    const struct {
        const char *stat;
        double ns;
    } stats[] = {
        {"min", (double)hist_min(h)},
        {"mean", hist_mean(h)},
        {"max", (double)hist_max(h)},
    };
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) {
        snprintf(name, sizeof name, "latency.%s.%s", kind, stats[i].stat);
        r = add_ms(b, ns, name, stats[i].ns / 1e6);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

/* The buckets of a histogram, collected by hist_foreach. */
struct bucket_list {
    uint64_t (*v)[3]; /* lo, hi, count */
    size_t n, cap;
    bool oom;
};

static void collect(uint64_t lo, uint64_t hi, uint64_t count, void *arg)
{
    struct bucket_list *l = arg;
    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *v = realloc(l->v, cap * sizeof *l->v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n][0] = lo;
    l->v[l->n][1] = hi;
    l->v[l->n][2] = count;
    l->n++;
}

int tk_hist_diff(struct hist *out, const struct hist *newer, const struct hist *older)
{
    if (out->sub_bits != newer->sub_bits || (older && older->sub_bits != newer->sub_bits))
        return -EINVAL;
    hist_reset(out);
    struct bucket_list a = {0}, b = {0};
    if (older)
        hist_foreach(older, collect, &a);
    hist_foreach(newer, collect, &b);
    int rc = (a.oom || b.oom) ? -ENOMEM : 0;
    size_t j = 0;
    for (size_t i = 0; rc == 0 && i < b.n; i++) {
        uint64_t lo = b.v[i][0], hi = b.v[i][1], count = b.v[i][2];
        while (j < a.n && a.v[j][0] < lo)
            j++;
        if (j < a.n && a.v[j][0] == lo)
            count = count > a.v[j][2] ? count - a.v[j][2] : 0;
        if (count)
            rc = hist_record_n(out, lo + (hi - lo) / 2, count);
    }
    free(a.v);
    free(b.v);
    return rc;
}
