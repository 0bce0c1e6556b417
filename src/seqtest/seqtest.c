/* seqtest: TCP ordering, integrity and round-trip latency (doc/man/seqtest.1). The entry
 * point: parse the command line, resolve the addresses, run the sender or the replier on
 * worker loops, print the results. */
#include "seqtest/seqtest.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/rng.h"
#include "seqtest/run.h"
#include "seqtest/sender.h"

/* Resolves the local part of "local,host:port" in the family of the remote address. */
static int resolve_local(struct seq_target *t, const char *local, char *err, size_t errlen)
{
    struct sock_addr_list l = {0};
    char why[256];
    int family = sock_addr_family(&t->addr);
    int rc = sock_resolve(local, "0", family, SOCK_STREAM, AI_PASSIVE, &l, why, sizeof why);
    if (rc != 0 || l.n == 0) {
        snprintf(err, errlen, "failed to resolve local address %s (%s): %s", local,
                 family == AF_INET6 ? "IPv6" : "IPv4", rc ? why : "no address");
        sock_addr_list_free(&l);
        return -EINVAL;
    }
    t->local = l.v[0];
    t->has_local = true;
    sock_addr_list_free(&l);
    return 0;
}

static int add_target(struct seq_run *r, const struct sock_addr *a, const char *operand)
{
    struct seq_target *v = realloc(r->targets, (r->ntargets + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    r->targets = v;
    memset(&v[r->ntargets], 0, sizeof *v);
    v[r->ntargets].addr = *a;
    v[r->ntargets].operand = operand;
    r->ntargets++;
    return 0;
}

static int resolve_operand(struct seq_run *r, const char *op, char *err, size_t errlen)
{
    bool replier = r->mode == SEQ_MODE_REPLIER;
    struct addr_endpoint ep;
    char why[300];
    if (seq_config_parse_address(op, replier, &ep, err, errlen) < 0)
        return -EINVAL;
    struct sock_addr_list l = {0};
    const char *host = ep.host[0] ? ep.host : NULL;
    int rc = sock_resolve(host, ep.port, AF_UNSPEC, SOCK_STREAM, replier ? AI_PASSIVE : 0, &l, why,
                          sizeof why);
    if (rc != 0 || l.n == 0) {
        /* The resolver's reason is short; a very long host name is cut, not the reason. */
        snprintf(err, errlen, "failed to resolve %.200s:%.31s: %.60s", ep.host, ep.port,
                 rc ? why : "no address");
        sock_addr_list_free(&l);
        return -EINVAL;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (add_target(r, &l.v[i], op) < 0) {
            snprintf(err, errlen, "out of memory");
            sock_addr_list_free(&l);
            return -ENOMEM;
        }
        if (ep.has_local &&
            resolve_local(&r->targets[r->ntargets - 1], ep.local, err, errlen) < 0) {
            sock_addr_list_free(&l);
            return -EINVAL;
        }
    }
    sock_addr_list_free(&l);
    return 0;
}

static int resolve_all(struct seq_run *r, char *err, size_t errlen)
{
    for (int i = 0; i < r->cfg->naddrs; i++)
        if (resolve_operand(r, r->cfg->addrs[i], err, errlen) < 0)
            return -EINVAL;
    return 0;
}

/* Raises the descriptor limit for the connections; an error names what is needed. */
static int ensure_nofile(struct seq_run *r, char *err, size_t errlen)
{
    unsigned long got = 0;
    if (r->mode == SEQ_MODE_REPLIER) {
        sock_raise_nofile((unsigned long)-1 >> 1, &got); /* as far as the hard limit goes */
        return 0;
    }
    unsigned long need = r->nconns + 8ul * r->nworkers + 32;
    if (sock_raise_nofile(need, &got) < 0 || got < need) {
        snprintf(err, errlen,
                 "threads=%zu needs about %lu file descriptors, but RLIMIT_NOFILE "
                 "allows %lu (raise it with ulimit -n)",
                 r->nconns, need, got);
        return -EMFILE;
    }
    return 0;
}

static int open_dump(struct seq_run *r, char *err, size_t errlen)
{
    if (!r->cfg->dump_path || r->mode == SEQ_MODE_REPLIER)
        return 0;
    r->dump = fopen(r->cfg->dump_path, "w+");
    if (!r->dump) {
        int e = errno;
        snprintf(err, errlen, "open %s: %s", r->cfg->dump_path, strerror(e));
        return -e;
    }
    return 0;
}

static unsigned pick_workers(const struct seq_run *r)
{
    uint64_t w = r->cfg->workers ? r->cfg->workers : worker_default_count();
    if (r->mode != SEQ_MODE_REPLIER && w > r->nconns)
        w = r->nconns;
    return w ? (unsigned)w : 1;
}

/* Everything between a parsed command line and the results. Returns the exit code. */
static int run(struct seq_run *r)
{
    char err[600];
    const struct seq_config *c = r->cfg;
    r->seed = c->seed_set ? c->seed : rng_entropy_seed();
    if (open_dump(r, err, sizeof err) < 0 || resolve_all(r, err, sizeof err) < 0)
        goto fail;
    if (r->mode != SEQ_MODE_REPLIER) {
        r->nconns = c->threads ? c->threads : r->ntargets;
        r->conns = calloc(r->nconns, sizeof *r->conns);
        if (!r->conns) {
            snprintf(err, sizeof err, "out of memory for %zu connections", r->nconns);
            goto fail;
        }
    }
    r->nworkers = pick_workers(r);
    hist_init(&r->latency_hist, HIST_SUB_BITS_DEFAULT);
    hist_init(&r->round_trip_hist, HIST_SUB_BITS_DEFAULT);
    if (ensure_nofile(r, err, sizeof err) < 0)
        goto fail;
    if (r->mode == SEQ_MODE_REPLIER) {
        int rc = seq_replier_run(r);
        seq_print_replier_results(r);
        return rc;
    }
    seq_print_addresses(r);
    int rc = seq_sender_run(r);
    seq_print_sender_results(r);
    return rc ? rc : r->exit_code;
fail:
    return seq_run_fail(r, err);
}

static void cleanup(struct seq_run *r)
{
    if (r->pool)
        worker_pool_free(r->pool);
    seq_control_close(r);
    for (unsigned k = 0; r->sworkers && k < r->nworkers; k++) {
        struct seq_sworker *w = &r->sworkers[k];
        free(w->rxbuf);
        free(w->txbuf);
        free(w->lat);
        free(w->dump);
        free(w->conns);
        hist_free(&w->latency_hist);
        hist_free(&w->round_trip_hist);
    }
    for (unsigned k = 0; r->rworkers && k < r->nworkers; k++) {
        free(r->rworkers[k].rxbuf);
        free(r->rworkers[k].txbuf);
    }
    for (size_t i = 0; i < r->nconns; i++)
        free(r->conns[i].error);
    free(r->sworkers);
    free(r->rworkers);
    free(r->listeners);
    free(r->conns);
    free(r->targets);
    hist_free(&r->latency_hist);
    hist_free(&r->round_trip_hist);
    if (r->dump)
        fclose(r->dump);
    pthread_mutex_destroy(&r->out_lock);
}

int seqtest_main(int argc, char **argv)
{
    struct seq_config cfg;
    struct seq_run r;
    memset(&r, 0, sizeof r);
    seq_config_init(&cfg);
    pthread_mutex_init(&r.out_lock, NULL);
    bool stream = false;
    r.text = !seq_config_wants_json(argc, argv, &stream);
    r.stream = stream;
    if (stream)
        json_init(&r.js, stdout, false);

    char err[600];
    bool printed = false;
    int rc = seq_config_parse(&cfg, argc, argv, &printed, err, sizeof err);
    r.cfg = &cfg;
    r.mode = cfg.mode;
    if (rc) {
        if (!printed)
            fprintf(stderr, "seqtest: %s\n", err);
        seq_run_set_error(&r, rc, "%s", err);
        if (!r.text)
            seq_print_json(&r);
    } else if (cfg.help) {
        seq_config_help(stdout);
    } else {
        r.debug = cfg.debug && r.text;
        rc = run(&r);
        if (!r.text)
            seq_print_json(&r);
    }
    fflush(stdout);
    cleanup(&r);
    seq_config_free(&cfg);
    return rc;
}
