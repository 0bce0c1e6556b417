/* The event loop; see loop.h for the contract.
 *
 * How the loop waits
 * ------------------
 * Each iteration asks one question: how long may this thread sleep? The answer comes from
 * the earliest timer in the heap (theap.h), read against a fresh monotonic clock:
 *
 *   - no timer armed: block in epoll until an fd is ready (no timeout at all);
 *   - the earliest deadline has passed: poll with a zero timeout, then fire it;
 *   - the deadline is at most the spin threshold away (1 ms by default): poll with a zero
 *     timeout. The loop comes straight back, the deadline is not yet due, and it polls
 *     again: a busy-wait that is also an event loop, so a 200 us delay ends within a few
 *     microseconds of its deadline while the worker's other sockets are still served;
 *   - the deadline is further away: block for exactly the remaining time. epoll_pwait2()
 *     takes a struct timespec, so the kernel arms a high-resolution timer for the precise
 *     deadline; loop_run() sets the thread's timer slack to 1 ns (PR_SET_TIMERSLACK; the
 *     default 50 us slack would let the kernel batch our wake-up with others). On kernels
 *     without epoll_pwait2 (ENOSYS, remembered process-wide) the loop falls back to
 *     epoll_wait() with the timeout rounded UP to whole milliseconds: a timer may then fire
 *     up to 1 ms late but never early, and if the wake-up lands inside the spin window the
 *     spin finishes the job.
 *
 * A blocking wait still wakes a little after its deadline (tens of microseconds on a
 * virtual machine: interrupt and scheduling latency). That is the price of not burning a
 * CPU for long waits; a tool that needs better raises the spin threshold or busy-polls.
 *
 * Busy-poll mode (loop_set_busy_poll) skips all of this and always polls with a zero
 * timeout: lowest latency, one CPU per loop.
 *
 * A timer fires only when its deadline is <= the clock value read after epoll returned, so
 * a timer never fires early, whatever the wait strategy did.
 *
 * Dispatch keeps the fetched batch (up to LOOP_BATCH events) inside struct loop and
 * allocates nothing. loop_del_fd() clears the deleted handler's pointer from the rest of
 * the batch, which is what makes freeing a handler from inside another handler's callback
 * safe. Timers armed while timers are firing wait for the next iteration (the heap's push
 * sequence tells them apart), so a timer that re-arms itself in the past cannot starve the
 * loop.
 *
 * Cross-thread calls (loop_post) go through a mutex-protected FIFO; the poster writes the
 * loop's eventfd only when the queue goes from empty to non-empty. The loop reads (resets)
 * the eventfd BEFORE taking the queue, so a post that lands between the two is never left
 * without a wake-up. loop_stop() is an atomic flag plus an eventfd write, both
 * async-signal-safe.
 */

#include "core/loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/util.h"

#define LOOP_BATCH 256
#define LOOP_MAX_WAIT_NS (3600 * NS_PER_SEC)

struct loop_call {
    struct loop_call *next;
    void (*fn)(void *arg);
    void *arg;
};

struct loop {
    int epfd;
    struct loop_fd wake; /* the eventfd for loop_post() and loop_stop() */
    struct theap timers;
    uint64_t now_ns;
    uint64_t spin_threshold_ns;
    bool busy_poll;
    atomic_bool stop;
    size_t nfds; /* user fds registered (the eventfd not counted) */

    /* The batch being dispatched; entries of deleted handlers are set to NULL. */
    struct epoll_event batch[LOOP_BATCH];
    int batch_len;

    pthread_mutex_t post_lock;
    struct loop_call *post_head, *post_tail;
};

/* Whether epoll_pwait2() works here: 1 yes, 0 no (ENOSYS seen), -1 not yet known. */
static atomic_int loop_have_pwait2 = -1;

static void loop_on_wake(struct loop *loop, struct loop_fd *h, uint32_t events);

void loop_use_epoll_wait(bool on)
{
    atomic_store_explicit(&loop_have_pwait2, on ? 0 : -1, memory_order_relaxed);
}

struct loop *loop_new(char *err, size_t errlen)
{
    struct loop *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        snprintf(err, errlen, "loop: out of memory");
        return NULL;
    }
    loop->epfd = -1;
    loop->wake.fd = -1;
    theap_init(&loop->timers);
    loop->spin_threshold_ns = CLOCK_SPIN_THRESHOLD_NS;
    atomic_init(&loop->stop, false);
    pthread_mutex_init(&loop->post_lock, NULL);

    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    int rc = loop_add_fd(loop, &loop->wake, efd, EPOLLIN, loop_on_wake);
    if (rc < 0) {
        close(efd);
        loop->wake.fd = -1;
        snprintf(err, errlen, "epoll_ctl add eventfd: %s", strerror(-rc));
        goto fail;
    }
    loop->nfds = 0; /* the eventfd is the loop's own, not counted */
    loop->now_ns = clock_mono_ns();
    return loop;

fail:
    loop_free(loop);
    return NULL;
}

static void loop_free_calls(struct loop_call *c)
{
    while (c) {
        struct loop_call *next = c->next;
        free(c);
        c = next;
    }
}

void loop_free(struct loop *loop)
{
    if (!loop)
        return;
    if (loop->wake.fd >= 0)
        close(loop->wake.fd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    theap_free(&loop->timers);
    loop_free_calls(loop->post_head);
    pthread_mutex_destroy(&loop->post_lock);
    free(loop);
}

/* ---- fds ---------------------------------------------------------------------------- */

int loop_add_fd(struct loop *loop, struct loop_fd *h, int fd, uint32_t events,
                void (*on_events)(struct loop *loop, struct loop_fd *h, uint32_t events))
{
    struct epoll_event ev = {.events = events, .data.ptr = h};

    h->fd = fd;
    h->events = events;
    h->on_events = on_events;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    loop->nfds++;
    return 0;
}

int loop_mod_fd(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    if (events == h->events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = h};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, h->fd, &ev) < 0)
        return -errno;
    h->events = events;
    return 0;
}

/* Forgets h in the batch being dispatched, so it is not called for events already fetched. */
static void loop_scrub_batch(struct loop *loop, const struct loop_fd *h)
{
    for (int i = 0; i < loop->batch_len; i++)
        if (loop->batch[i].data.ptr == h)
            loop->batch[i].data.ptr = NULL;
}

int loop_del_fd(struct loop *loop, struct loop_fd *h)
{
    int rc = 0;

    /* Even when epoll_ctl fails (the fd was closed first, so the kernel already dropped
     * it), the handler must never be called again: scrub it regardless. */
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, h->fd, NULL) < 0)
        rc = -errno;
    loop_scrub_batch(loop, h);
    if (rc == 0 || rc == -EBADF) {
        if (loop->nfds > 0)
            loop->nfds--;
    }
    h->events = 0;
    return rc;
}

size_t loop_fd_count(const struct loop *loop)
{
    return loop->nfds;
}

/* ---- timers ------------------------------------------------------------------------- */

void loop_timer_init(struct loop_timer *t, void (*on_expire)(struct loop *, struct loop_timer *))
{
    theap_node_init(&t->node);
    t->on_expire = on_expire;
}

int loop_timer_arm(struct loop *loop, struct loop_timer *t, uint64_t deadline_ns)
{
    /* A deadline in the past is due now, not earlier than every timer already due: without
     * the clamp, a callback that re-arms itself "at 0" would sit on top of the heap and keep
     * every other expired timer (a --duration stop, say) from ever firing. */
    if (deadline_ns < loop->now_ns)
        deadline_ns = loop->now_ns;
    return theap_push(&loop->timers, &t->node, deadline_ns);
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *t)
{
    theap_remove(&loop->timers, &t->node);
}

uint64_t loop_now(const struct loop *loop)
{
    return loop->now_ns;
}

uint64_t loop_update_now(struct loop *loop)
{
    loop->now_ns = clock_mono_ns();
    return loop->now_ns;
}

void loop_set_spin_threshold(struct loop *loop, uint64_t threshold_ns)
{
    loop->spin_threshold_ns = threshold_ns;
}

void loop_set_busy_poll(struct loop *loop, bool on)
{
    loop->busy_poll = on;
}

/* Fires every timer due at loop_now(), earliest first. Timers armed by these callbacks
 * (their push sequence is at or past `mark`) wait for the next iteration. */
static void loop_fire_timers(struct loop *loop)
{
    uint64_t mark = loop->timers.next_order;
    struct theap_node *n;

    while ((n = theap_peek(&loop->timers)) && n->deadline_ns <= loop->now_ns && n->order < mark &&
           !loop_stopping(loop)) {
        theap_pop(&loop->timers);
        struct loop_timer *t = container_of(n, struct loop_timer, node);
        t->on_expire(loop, t);
    }
}

/* ---- posted calls ------------------------------------------------------------------- */

static void loop_wake(struct loop *loop)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already huge: the loop is awake anyway. */
    ssize_t rc = write(loop->wake.fd, &one, sizeof(one));
    (void)rc;
}

int loop_post(struct loop *loop, void (*fn)(void *arg), void *arg)
{
    struct loop_call *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->next = NULL;
    c->fn = fn;
    c->arg = arg;

    pthread_mutex_lock(&loop->post_lock);
    bool was_empty = loop->post_head == NULL;
    if (loop->post_tail)
        loop->post_tail->next = c;
    else
        loop->post_head = c;
    loop->post_tail = c;
    /* Written under the lock: the loop cannot take the queue between our append and the
     * wake-up and then miss it. */
    if (was_empty)
        loop_wake(loop);
    pthread_mutex_unlock(&loop->post_lock);
    return 0;
}

/* Runs the queued calls; with honour_stop, stops after the call that asked the loop to stop
 * and leaves the rest queued. */
static size_t loop_run_calls(struct loop *loop, bool honour_stop)
{
    size_t ran = 0;

    pthread_mutex_lock(&loop->post_lock);
    struct loop_call *c = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    pthread_mutex_unlock(&loop->post_lock);

    while (c) {
        struct loop_call *next = c->next;
        c->fn(c->arg);
        free(c);
        ran++;
        c = next;
        if (c && honour_stop && loop_stopping(loop))
            break;
    }
    if (c) {
        /* Stopped part-way: put the rest back in front, in order, for whoever drains the
         * queue next (a later loop_run or loop_run_posted); loop_free drops them. */
        struct loop_call *tail = c;
        while (tail->next)
            tail = tail->next;
        pthread_mutex_lock(&loop->post_lock);
        tail->next = loop->post_head;
        if (!loop->post_head)
            loop->post_tail = tail;
        loop->post_head = c;
        pthread_mutex_unlock(&loop->post_lock);
    }
    return ran;
}

size_t loop_run_posted(struct loop *loop)
{
    return loop_run_calls(loop, false);
}

static void loop_on_wake(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    uint64_t count;
    (void)events;

    /* Reset the eventfd first, then take the queue (see the essay above). */
    ssize_t rc = read(h->fd, &count, sizeof(count));
    (void)rc;
    loop_run_calls(loop, true);
}

/* ---- running ------------------------------------------------------------------------ */

void loop_stop(struct loop *loop)
{
    int saved_errno = errno; /* may run in a signal handler */

    atomic_store(&loop->stop, true);
    loop_wake(loop);
    errno = saved_errno;
}

bool loop_stopping(const struct loop *loop)
{
    return atomic_load_explicit(&loop->stop, memory_order_relaxed);
}

/* How long the next wait may block, in ns: -1 forever, 0 poll. */
static int64_t loop_next_timeout(struct loop *loop)
{
    if (loop->busy_poll)
        return 0;
    struct theap_node *top = theap_peek(&loop->timers);
    if (!top)
        return -1;
    uint64_t now = loop_update_now(loop);
    if (top->deadline_ns <= now)
        return 0;
    uint64_t remain = top->deadline_ns - now;
    if (remain <= loop->spin_threshold_ns)
        return 0; /* spin: poll again and again until the deadline */
    /* Far-off deadlines: wake once an hour and look again, so no conversion overflows. */
    if (remain > LOOP_MAX_WAIT_NS)
        return (int64_t)LOOP_MAX_WAIT_NS;
    return (int64_t)remain;
}

static int loop_epoll_wait_ms(struct loop *loop, int64_t timeout_ns)
{
    int ms;

    if (timeout_ns < 0)
        ms = -1;
    else if ((uint64_t)timeout_ns >= (uint64_t)INT_MAX * NS_PER_MS - (NS_PER_MS - 1))
        ms = INT_MAX;
    else
        ms = (int)(((uint64_t)timeout_ns + NS_PER_MS - 1) / NS_PER_MS); /* round up */
    return epoll_wait(loop->epfd, loop->batch, LOOP_BATCH, ms);
}

/* Fetches up to LOOP_BATCH events into loop->batch. Returns the count or -1 with errno. */
static int loop_wait(struct loop *loop, int64_t timeout_ns)
{
    if (atomic_load_explicit(&loop_have_pwait2, memory_order_relaxed) != 0) {
        struct timespec ts, *tsp = NULL;
        if (timeout_ns >= 0) {
            ts.tv_sec = (time_t)((uint64_t)timeout_ns / NS_PER_SEC);
            ts.tv_nsec = (long)((uint64_t)timeout_ns % NS_PER_SEC);
            tsp = &ts;
        }
        int n = epoll_pwait2(loop->epfd, loop->batch, LOOP_BATCH, tsp, NULL);
        if (n >= 0 || errno != ENOSYS) {
            atomic_store_explicit(&loop_have_pwait2, 1, memory_order_relaxed);
            return n;
        }
        atomic_store_explicit(&loop_have_pwait2, 0, memory_order_relaxed);
    }
    return loop_epoll_wait_ms(loop, timeout_ns);
}

static void loop_dispatch(struct loop *loop, int n)
{
    loop->batch_len = n;
    for (int i = 0; i < n && !loop_stopping(loop); i++) {
        struct loop_fd *h = loop->batch[i].data.ptr;
        if (h) /* NULL: deleted by an earlier callback of this batch */
            h->on_events(loop, h, loop->batch[i].events);
    }
    loop->batch_len = 0;
}

int loop_run(struct loop *loop)
{
    /* Wake from epoll at the requested nanosecond, not up to 50 us later. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    while (!loop_stopping(loop)) {
        int n = loop_wait(loop, loop_next_timeout(loop));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        loop_update_now(loop);
        loop_dispatch(loop, n);
        loop_fire_timers(loop);
    }
    return 0;
}

/* ---- signals ------------------------------------------------------------------------ */

static void loop_on_signalfd(struct loop *loop, struct loop_fd *h, uint32_t events)
{
    struct loop_signal *s = container_of(h, struct loop_signal, lfd);
    struct signalfd_siginfo si;
    (void)events;

    /* One at a time so that a stop requested by on_signal is honoured at once; the rest
     * stay pending in the signalfd (level-triggered) for the next run. */
    while (!loop_stopping(loop)) {
        ssize_t got = read(h->fd, &si, sizeof(si));
        if (got != (ssize_t)sizeof(si))
            break;
        s->on_signal(loop, s, (int)si.ssi_signo);
    }
}

int loop_signal_add(struct loop *loop, struct loop_signal *s, const int *signals, size_t n,
                    void (*on_signal)(struct loop *, struct loop_signal *, int signo), char *err,
                    size_t errlen)
{
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < n; i++) {
        if (sigaddset(&set, signals[i]) < 0) {
            int e = errno;
            snprintf(err, errlen, "signal %d: %s", signals[i], strerror(e));
            return -e;
        }
    }
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_sigmask: %s", strerror(rc));
        return -rc;
    }
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "signalfd: %s", strerror(e));
        return -e;
    }
    s->on_signal = on_signal;
    rc = loop_add_fd(loop, &s->lfd, fd, EPOLLIN, loop_on_signalfd);
    if (rc < 0) {
        close(fd);
        s->lfd.fd = -1;
        snprintf(err, errlen, "epoll_ctl add signalfd: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

void loop_signal_del(struct loop *loop, struct loop_signal *s)
{
    if (s->lfd.fd < 0)
        return;
    loop_del_fd(loop, &s->lfd);
    close(s->lfd.fd);
    s->lfd.fd = -1;
}
