#ifndef NETGRIND_UDPING_SERVER_NAMES_H
#define NETGRIND_UDPING_SERVER_NAMES_H

/* Source host names for udping_server: reverse DNS off the receive path.
 *
 * The first packet from a new source IP creates its entry, which reads as the numeric
 * address at once, and queues a reverse lookup (getnameinfo, NI_NAMEREQD) for a resolver
 * thread. The thread posts the answer back to the server's loop (loop_post), where it is
 * stored in the entry; a session reads its entry's name when it is emitted, so it gets the
 * name known at that time. Entries live as long as the process (the original caches the
 * same way), up to UDPING_NAMES_MAX; beyond that udping_names_get returns NULL and the
 * caller writes the address numerically.
 *
 * Shutdown: udping_names_close stops the thread from posting (after waiting a bounded
 * time for lookups in flight), then the caller runs loop_run_posted() so that answers
 * already posted are stored, and finally udping_names_free. A lookup still running after
 * the wait is abandoned: the detached thread frees its own state when it returns. */

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/sock.h"

#define UDPING_NAMES_MAX 65536u

struct udping_names;
struct udping_name;

/* A cache posting to loop. resolve false: never look up (names stay numeric). NULL on
 * failure (no memory). A resolver thread that cannot start leaves names numeric; *warn
 * (may be NULL) is then set. Loop thread, before other threads are started (the thread
 * inherits the signal mask). */
struct udping_names *udping_names_new(struct loop *loop, bool resolve, bool *warn);

/* The entry of a's IP (the port is ignored), created (and its lookup queued) on first
 * use. NULL when the cache is full or memory is short. Loop thread. */
struct udping_name *udping_names_get(struct udping_names *n, const struct sock_addr *a);

/* The name: the reverse DNS answer if it has come, else the numeric address. */
const char *udping_name_text(const struct udping_name *e);

/* How many lookups are queued or running (loop thread's view). */
unsigned udping_names_pending(const struct udping_names *n);

/* Waits up to wait_ns for queued lookups to finish, then stops posting (see above). */
void udping_names_close(struct udping_names *n, uint64_t wait_ns);

/* Frees the entries. After udping_names_close and loop_run_posted. */
void udping_names_free(struct udping_names *n);

#endif
