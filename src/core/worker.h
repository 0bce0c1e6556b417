#ifndef NETGRIND_CORE_WORKER_H
#define NETGRIND_CORE_WORKER_H

/* Worker threads: N threads, each owning one loop and, through `state`, the tool's
 * connections, counters and histograms for that thread. Workers write no shared memory on
 * the hot path: the control thread (which runs its own loop, with signals and report
 * timers) reaches a worker only by posting a call to its loop, and a worker reaches the
 * control thread the same way. Collecting an interval is worker_pool_call_all(): every
 * worker runs the snapshot function on its own thread, and the control thread merges. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/loop.h"

struct worker_pool;

struct worker {
    unsigned index;
    struct loop *loop;
    struct worker_pool *pool;
    pthread_t thread;
    void *state; /* the tool's per-worker state; set by the tool, never touched here */
};

/* n workers (n >= 1), each with a loop, not yet running. control is the control thread's
 * loop (workers post to it). NULL on failure with a message in err. Control thread. */
struct worker_pool *worker_pool_new(unsigned n, struct loop *control, char *err, size_t errlen);

unsigned worker_pool_size(const struct worker_pool *p);
struct worker *worker_pool_get(struct worker_pool *p, unsigned index);
struct loop *worker_pool_control(const struct worker_pool *p);

/* Starts the threads. Each runs init(w) on its own thread (may be NULL), then its loop;
 * returns once every thread has finished init (the start barrier). The threads block every
 * signal (SIGINT, SIGTERM, SIGPIPE, ...), which thus reach only the control thread or its
 * signalfd. Calls posted before the start run when the threads start. Starts at most once.
 * Returns 0 or -errno with a message in err (all or nothing: on failure the threads that
 * did start are stopped and joined). Control thread. */
int worker_pool_start(struct worker_pool *p, void (*init)(struct worker *w), char *err,
                      size_t errlen);

/* Runs fn(w, arg) on worker w's thread at its next iteration. Any thread. 0, -ENOMEM, or
 * -ESHUTDOWN once the worker's loop has returned (a call accepted before that still runs,
 * on the worker's thread, as it exits). */
int worker_post(struct worker *w, void (*fn)(struct worker *w, void *arg), void *arg);
/* worker_post() to every worker. 0 or the first worker_post() error. */
int worker_pool_post_all(struct worker_pool *p, void (*fn)(struct worker *w, void *arg), void *arg);
/* Runs fn(w, arg) on every running worker's thread and returns when all have run it (the
 * interval snapshot). Control thread only, never from a worker. Workers run it
 * concurrently, so fn must touch only w's own state and what arg gives it per worker.
 * Never deadlocks on a stopped worker: a worker whose loop has already returned (or that
 * was never started) is skipped and fn is NOT run for it; a worker that stops while the
 * call is queued still runs it on its own thread as it exits. Returns how many workers
 * ran fn (worker_pool_size() when all are running). */
unsigned worker_pool_call_all(struct worker_pool *p, void (*fn)(struct worker *w, void *arg),
                              void *arg);

/* Runs fn(arg) on the control thread's loop. Any thread. 0, -ENOMEM, or -EINVAL when the
 * pool was made without a control loop. */
int worker_post_control(struct worker *w, void (*fn)(void *arg), void *arg);

/* Stops every worker loop and joins the threads. Idempotent. After it, worker_post()
 * returns -ESHUTDOWN. Control thread. */
void worker_pool_stop(struct worker_pool *p);
/* Stops, joins and frees the pool and its loops (not the tool's state); calls still
 * queued for a worker that never ran are dropped unrun. NULL is ignored. Control thread. */
void worker_pool_free(struct worker_pool *p);

/* How many workers to use by default: the number of CPUs this process may run on
 * (sched_getaffinity; else the online CPUs), at least 1. */
unsigned worker_default_count(void);

#endif
