/* Clocks in nanoseconds; see clock.h. */

#include "core/clock.h"

#include <errno.h>
#include <time.h>

#include "core/util.h"

/* A hint to the CPU that this is a spin-wait: on x86 `pause` saves power and lets the
 * sibling hyper-thread run; elsewhere a compiler barrier keeps the loop honest. */
static inline void clock_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static uint64_t clock_read_ns(clockid_t id)
{
    struct timespec ts;

    /* clock_gettime() on these clocks cannot fail on Linux with a valid pointer. */
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ns(void)
{
    return clock_read_ns(CLOCK_MONOTONIC);
}

uint64_t clock_real_ns(void)
{
    return clock_read_ns(CLOCK_REALTIME);
}

uint64_t clock_spin_until(uint64_t deadline_ns)
{
    uint64_t now;

    while ((now = clock_mono_ns()) < deadline_ns)
        clock_cpu_relax();
    return now;
}

uint64_t clock_wait_until(uint64_t deadline_ns, uint64_t spin_threshold_ns)
{
    uint64_t now = clock_mono_ns();

    /* Sleep to (deadline - threshold), absolute so an EINTR restart does not drift, then
     * spin the last stretch: the sleep's wake-up latency is absorbed by the spin. */
    if (now < deadline_ns && deadline_ns - now > spin_threshold_ns) {
        uint64_t sleep_to = deadline_ns - spin_threshold_ns;
        struct timespec ts = {
            .tv_sec = (time_t)(sleep_to / NS_PER_SEC),
            .tv_nsec = (long)(sleep_to % NS_PER_SEC),
        };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    return clock_spin_until(deadline_ns);
}
