#ifndef NETGRIND_CORE_LOOP_H
#define NETGRIND_CORE_LOOP_H

/* The event loop: one epoll instance per worker thread.
 *
 * A handler embeds a struct loop_fd (or loop_timer) in its own state and finds that state
 * again with container_of(): the handler is the state, and the loop keeps no table of
 * user pointers. Timers live in a heap (theap.h) with nanosecond deadlines on the
 * monotonic clock.
 *
 * Waiting: when the next timer is further away than the spin threshold, the loop blocks in
 * epoll_pwait2() with a nanosecond timeout (epoll_wait() rounded up to whole ms on kernels
 * without it) and the thread's timer slack is set to 1 ns, so it wakes on time. When the
 * next timer is closer than the threshold (default 1 ms), the loop busy-polls with a zero
 * timeout until the deadline, so short delays are exact (this is how seqtest's "delays
 * under 1 ms spin on the CPU" is kept without blocking the other connections of the
 * worker). loop_set_busy_poll() makes the loop never block at all.
 *
 * Other threads talk to a loop only through loop_post() and loop_stop(), which write to the
 * loop's eventfd. Signals are received with signalfd (loop_signal_add).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "core/theap.h"

struct loop;

struct loop_fd {
    int fd;
    uint32_t events; /* the EPOLL* bits registered now */
    void (*on_events)(struct loop *loop, struct loop_fd *h, uint32_t events);
};

struct loop_timer {
    struct theap_node node;
    void (*on_expire)(struct loop *loop, struct loop_timer *t);
};

struct loop_signal {
    struct loop_fd lfd;
    void (*on_signal)(struct loop *loop, struct loop_signal *s, int signo);
};

/* A new loop with its epoll fd and eventfd. NULL on failure with a message in err. */
struct loop *loop_new(char *err, size_t errlen);
/* Frees the loop; registered fds are not closed. Call after loop_run() has returned. */
void loop_free(struct loop *loop);

/* Registers fd with the given EPOLL* events (EPOLLET allowed) and handler. h is owned by
 * the caller and must stay valid until loop_del_fd(). Returns 0 or -errno. Loop thread. */
int loop_add_fd(struct loop *loop, struct loop_fd *h, int fd, uint32_t events,
                void (*on_events)(struct loop *loop, struct loop_fd *h, uint32_t events));
/* Changes the registered events; a no-op (no syscall) when they are unchanged. */
int loop_mod_fd(struct loop *loop, struct loop_fd *h, uint32_t events);
/* Unregisters h (does not close the fd). After it returns, on_events is never called for
 * h again, not even for events already fetched in this iteration, so the caller may free
 * h at once. Returns 0 or -errno; -EBADF when the fd was closed first (the kernel has then
 * already dropped it, and h is forgotten all the same). Loop thread. */
int loop_del_fd(struct loop *loop, struct loop_fd *h);

/* A timer not armed, calling on_expire when it fires. */
void loop_timer_init(struct loop_timer *t, void (*on_expire)(struct loop *, struct loop_timer *));
/* Arms (or re-arms) t for the absolute monotonic deadline. A deadline in the past fires on
 * the next iteration. Returns 0 or -ENOMEM. Loop thread. */
int loop_timer_arm(struct loop *loop, struct loop_timer *t, uint64_t deadline_ns);
/* Disarms t if armed. Loop thread. */
void loop_timer_cancel(struct loop *loop, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
    return theap_node_queued(&t->node);
}

/* The monotonic time read once at the start of this iteration (cheap; no syscall). */
uint64_t loop_now(const struct loop *loop);
/* Reads the clock again, stores it as loop_now() and returns it. */
uint64_t loop_update_now(struct loop *loop);

/* Waits for timers shorter than threshold_ns by spinning (0: never spin). Loop thread or
 * before loop_run(). */
void loop_set_spin_threshold(struct loop *loop, uint64_t threshold_ns);
/* Never block in epoll: poll with a zero timeout (lowest latency, one CPU per loop). */
void loop_set_busy_poll(struct loop *loop, bool on);

/* Waits with epoll_wait() (timeouts rounded up to whole ms) instead of epoll_pwait2(), as on
 * kernels without it (the loop switches by itself on ENOSYS). Process-wide; for tests and
 * for comparing the two. Call before any loop runs. */
void loop_use_epoll_wait(bool on);

/* Dispatches events and timers until loop_stop(). Returns 0, or -errno if epoll fails.
 * The thread that calls it becomes the loop thread. */
int loop_run(struct loop *loop);
/* Asks loop_run() to return after the current callback. Any thread; async-signal-safe.
 * The stop is permanent: loop_run() on a stopped loop returns at once (so a stop that
 * comes before the loop thread starts running is not lost). */
void loop_stop(struct loop *loop);
/* True once loop_stop() was called. Any thread. */
bool loop_stopping(const struct loop *loop);

/* Runs fn(arg) on the loop thread at its next iteration, in posting order. Any thread.
 * Returns 0 or -ENOMEM. Calls still queued when the loop is freed are dropped unrun. */
int loop_post(struct loop *loop, void (*fn)(void *arg), void *arg);

/* Runs every call queued by loop_post() so far, in posting order, on the calling thread,
 * which must be the loop thread or, once loop_run() has returned, the thread that ran it;
 * unlike loop_run() it runs them all even when the loop is stopping. Returns how many ran.
 * Worker threads call it after loop_run() returns so that no call posted before the stop
 * is lost. */
size_t loop_run_posted(struct loop *loop);

/* Receives the given signals through a signalfd on this loop and calls on_signal for each.
 * Blocks them in the calling thread, so call it before starting other threads (they
 * inherit the mask). Returns 0 or -errno with a message in err. */
int loop_signal_add(struct loop *loop, struct loop_signal *s, const int *signals, size_t n,
                    void (*on_signal)(struct loop *, struct loop_signal *, int signo), char *err,
                    size_t errlen);

/* Unregisters and closes s's signalfd (the signals stay blocked). Loop thread. */
void loop_signal_del(struct loop *loop, struct loop_signal *s);

/* How many fds are registered now (for reports and tests). */
size_t loop_fd_count(const struct loop *loop);

#endif
