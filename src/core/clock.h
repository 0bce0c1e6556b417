#ifndef NETGRIND_CORE_CLOCK_H
#define NETGRIND_CORE_CLOCK_H

/* Clocks in nanoseconds. The monotonic clock for every interval and latency; the realtime
 * clock only where a wire format carries wall time (UDPing, flowgrind's headline). */

#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ns. Any thread; vDSO, no syscall on x86-64. */
uint64_t clock_mono_ns(void);

/* CLOCK_REALTIME in ns since the epoch. Any thread. */
uint64_t clock_real_ns(void);

/* Busy-wait (no syscall but the clock read) until clock_mono_ns() >= deadline_ns.
 * Returns the clock value that ended the wait. Any thread. */
uint64_t clock_spin_until(uint64_t deadline_ns);

/* Wait until deadline_ns: sleep (clock_nanosleep, absolute, restarted on EINTR) when more
 * than spin_threshold_ns remain, then spin for the rest, so the wake-up is exact without
 * burning a CPU for long waits. Returns the clock value that ended the wait. */
uint64_t clock_wait_until(uint64_t deadline_ns, uint64_t spin_threshold_ns);

/* Default spin threshold: waits shorter than this spin (seqtest documents 1 ms). */
#define CLOCK_SPIN_THRESHOLD_NS 1000000ULL

#endif
