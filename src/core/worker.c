/* Worker threads; see worker.h.
 *
 * Each worker is one pthread running one loop. The pool's mutex guards only the lifecycle
 * (NEW -> RUNNING -> EXITED) and the completion count of worker_pool_call_all(); it is
 * never touched on a worker's hot path.
 *
 * No call is lost and none waits forever: a post is accepted only while the worker has not
 * exited, checked and queued under the pool mutex; a worker marks itself EXITED under the
 * same mutex when its loop returns and then runs, on its own thread, every call that was
 * queued before that moment. So a call_all that raced with a worker's stop still completes,
 * and one made after a worker has exited skips that worker (and says so in its count). */

#include "core/worker.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

enum worker_state {
    WORKER_NEW,     /* created, thread not started: posts queue up */
    WORKER_RUNNING, /* thread started (or starting), loop not yet returned */
    WORKER_EXITED,  /* loop returned: posts refused */
};

struct worker_slot {
    struct worker w;
    enum worker_state state;
    bool thread_created, joined;
    bool discard; /* worker_pool_free: drop queued calls unrun */
};

/* One worker_pool_call_all() in progress, on the control thread's stack. */
struct worker_call_all {
    unsigned pending;
};

/* A posted call, allocated by worker_post, freed by the trampoline. */
struct worker_call {
    struct worker *w;
    void (*fn)(struct worker *w, void *arg);
    void *arg;
    struct worker_call_all *all; /* non-NULL for call_all: count completion */
};

struct worker_pool {
    unsigned n;
    struct worker_slot *slots;
    struct loop *control;
    void (*init)(struct worker *w);

    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned inited; /* threads that have finished init (the start barrier) */
    bool started;
};

static struct worker_slot *worker_slot_of(struct worker *w)
{
    return container_of(w, struct worker_slot, w);
}

struct worker_pool *worker_pool_new(unsigned n, struct loop *control, char *err, size_t errlen)
{
    if (n < 1) {
        snprintf(err, errlen, "worker pool: need at least 1 worker");
        return NULL;
    }
    struct worker_pool *p = calloc(1, sizeof(*p));
    if (!p || !(p->slots = calloc(n, sizeof(*p->slots)))) {
        free(p);
        snprintf(err, errlen, "worker pool: out of memory for %u workers", n);
        return NULL;
    }
    p->control = control;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &p->slots[i].w;
        char lerr[200];
        w->index = i;
        w->pool = p;
        w->loop = loop_new(lerr, sizeof(lerr));
        if (!w->loop) {
            snprintf(err, errlen, "worker %u: %s", i, lerr);
            worker_pool_free(p);
            return NULL;
        }
        p->n = i + 1; /* so that a failure frees exactly what was built */
    }
    return p;
}

unsigned worker_pool_size(const struct worker_pool *p)
{
    return p->n;
}

struct worker *worker_pool_get(struct worker_pool *p, unsigned index)
{
    return index < p->n ? &p->slots[index].w : NULL;
}

struct loop *worker_pool_control(const struct worker_pool *p)
{
    return p->control;
}

/* ---- posted calls ------------------------------------------------------------------- */

static void worker_trampoline(void *arg)
{
    struct worker_call *c = arg;
    struct worker_slot *slot = worker_slot_of(c->w);

    if (!slot->discard)
        c->fn(c->w, c->arg);
    if (c->all) {
        struct worker_pool *p = c->w->pool;
        pthread_mutex_lock(&p->lock);
        if (--c->all->pending == 0)
            pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
    free(c);
}

/* Queues a call for w. Caller holds the pool lock. */
static int worker_post_locked(struct worker *w, void (*fn)(struct worker *w, void *arg), void *arg,
                              struct worker_call_all *all)
{
    if (worker_slot_of(w)->state == WORKER_EXITED)
        return -ESHUTDOWN;
    struct worker_call *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->w = w;
    c->fn = fn;
    c->arg = arg;
    c->all = all;
    int rc = loop_post(w->loop, worker_trampoline, c);
    if (rc < 0)
        free(c);
    return rc;
}

int worker_post(struct worker *w, void (*fn)(struct worker *w, void *arg), void *arg)
{
    struct worker_pool *p = w->pool;

    pthread_mutex_lock(&p->lock);
    int rc = worker_post_locked(w, fn, arg, NULL);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int worker_pool_post_all(struct worker_pool *p, void (*fn)(struct worker *w, void *arg), void *arg)
{
    int first_err = 0;

    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->n; i++) {
        int rc = worker_post_locked(&p->slots[i].w, fn, arg, NULL);
        if (rc < 0 && first_err == 0)
            first_err = rc;
    }
    pthread_mutex_unlock(&p->lock);
    return first_err;
}

unsigned worker_pool_call_all(struct worker_pool *p, void (*fn)(struct worker *w, void *arg),
                              void *arg)
{
    struct worker_call_all all = {.pending = 0};
    unsigned posted = 0;

    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->n; i++) {
        if (p->slots[i].state != WORKER_RUNNING)
            continue;
        if (worker_post_locked(&p->slots[i].w, fn, arg, &all) == 0) {
            all.pending++;
            posted++;
        }
    }
    while (all.pending > 0)
        pthread_cond_wait(&p->cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return posted;
}

int worker_post_control(struct worker *w, void (*fn)(void *arg), void *arg)
{
    if (!w->pool->control)
        return -EINVAL;
    return loop_post(w->pool->control, fn, arg);
}

/* ---- threads ------------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct worker_slot *slot = worker_slot_of(w);
    struct worker_pool *p = w->pool;
    char name[16];

    snprintf(name, sizeof(name), "ng-worker-%u", w->index);
    pthread_setname_np(pthread_self(), name);

    if (p->init)
        p->init(w);
    pthread_mutex_lock(&p->lock);
    p->inited++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);

    int rc = loop_run(w->loop);
    if (rc < 0)
        fprintf(stderr, "netgrind: worker %u: event loop failed: %s\n", w->index, strerror(-rc));

    /* From here on posts are refused; the ones accepted before run now, on this thread. */
    pthread_mutex_lock(&p->lock);
    slot->state = WORKER_EXITED;
    pthread_mutex_unlock(&p->lock);
    loop_run_posted(w->loop);
    return NULL;
}

int worker_pool_start(struct worker_pool *p, void (*init)(struct worker *w), char *err,
                      size_t errlen)
{
    sigset_t all, old;
    int rc = 0;
    unsigned created = 0;

    if (p->started) {
        snprintf(err, errlen, "worker pool: already started");
        return -EALREADY;
    }
    p->started = true;
    p->init = init;

    /* Threads inherit the creator's signal mask: block everything while creating them, so
     * SIGINT, SIGTERM, SIGPIPE and the rest go to the control thread (or its signalfd),
     * never to a worker. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < p->n; i++) {
        struct worker_slot *slot = &p->slots[i];
        pthread_mutex_lock(&p->lock);
        slot->state = WORKER_RUNNING;
        pthread_mutex_unlock(&p->lock);
        rc = pthread_create(&slot->w.thread, NULL, worker_main, &slot->w);
        if (rc != 0) {
            pthread_mutex_lock(&p->lock);
            slot->state = WORKER_EXITED;
            pthread_mutex_unlock(&p->lock);
            snprintf(err, errlen, "worker %u: pthread_create: %s", i, strerror(rc));
            rc = -rc;
            break;
        }
        slot->thread_created = true;
        created++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    /* The start barrier: every started thread has run init before we return. */
    pthread_mutex_lock(&p->lock);
    while (p->inited < created)
        pthread_cond_wait(&p->cond, &p->lock);
    pthread_mutex_unlock(&p->lock);

    if (rc < 0) {
        /* All or nothing: stop the ones that did start, refuse posts to the rest. */
        worker_pool_stop(p);
        return rc;
    }
    return 0;
}

void worker_pool_stop(struct worker_pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->slots[i].thread_created && !p->slots[i].joined)
            loop_stop(p->slots[i].w.loop);
    for (unsigned i = 0; i < p->n; i++) {
        struct worker_slot *slot = &p->slots[i];
        if (slot->thread_created && !slot->joined) {
            pthread_join(slot->w.thread, NULL);
            slot->joined = true;
        }
    }
    /* A pool that never started: no thread will ever run these workers' calls. */
    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->n; i++)
        p->slots[i].state = WORKER_EXITED;
    pthread_mutex_unlock(&p->lock);
}

void worker_pool_free(struct worker_pool *p)
{
    if (!p)
        return;
    worker_pool_stop(p);
    for (unsigned i = 0; i < p->n; i++) {
        struct worker_slot *slot = &p->slots[i];
        if (!slot->w.loop)
            continue;
        /* Calls posted before a start that never came: free them unrun. */
        slot->discard = true;
        loop_run_posted(slot->w.loop);
        loop_free(slot->w.loop);
        slot->w.loop = NULL;
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->slots);
    free(p);
}

unsigned worker_default_count(void)
{
    cpu_set_t set;

    /* The CPUs this process may run on (taskset, cgroup cpusets), else all online ones. */
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (unsigned)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}
