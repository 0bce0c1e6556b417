#ifndef NETGRIND_TCPKALI_SYSLIMITS_H
#define NETGRIND_TCPKALI_SYSLIMITS_H

/* The system limits that stand between a user and -c (tcpkali.md §7): open files,
 * the ephemeral port range, connection tracking, TIME_WAIT reuse, socket buffer caps.
 * tk_syslimits_read() reads them from the process and /proc; everything else is pure, so
 * the decisions and messages are unit-tested with made-up limits. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpkali/config.h"

struct tk_syslimits {
    unsigned long nofile_soft, nofile_hard; /* RLIMIT_NOFILE; ULONG_MAX: unlimited */
    long port_lo, port_hi;  /* net.ipv4.ip_local_port_range; -1: unknown */
    long conntrack_max;     /* net.netfilter.nf_conntrack_max; -1: no conntrack */
    long conntrack_count;   /* entries in use; -1: unknown */
    int tw_reuse;           /* net.ipv4.tcp_tw_reuse: 0, 1, 2 (loopback only); -1: unknown */
    long rmem_max, wmem_max; /* net.core.[rw]mem_max; -1: unknown */
};

/* The load the command line asks for. */
struct tk_syslimits_load {
    uint64_t connections;
    size_t ndests;
    const struct tk_dest *dests;
    size_t nsource_ips;
    bool churn; /* --channel-lifetime: connections are replaced, leaving TIME_WAIT behind */
};

struct tk_syslimits_verdict {
    bool ports_short;     /* some destination needs more local ports than the range has */
    bool conntrack_short; /* -c does not fit in what is left of the conntrack table */
    bool time_wait;       /* TIME_WAIT sockets will not be reused for some destination */
};

/* Reads the limits (never fails: what cannot be read is -1). */
void tk_syslimits_read(struct tk_syslimits *sl);

/* -1 with a message naming the limit and the fix when the soft limit is below need. */
int tk_syslimits_nofile(const struct tk_syslimits *sl, uint64_t connections, unsigned long need,
                        char *msg, size_t len);
/* -1 with a warning when value exceeds the sysctl's cap (max > 0). */
int tk_syslimits_buffer(const char *opt, const char *sysctl, int value, long max, char *msg,
                        size_t len);

/* How many ephemeral ports the range holds (0 when unknown). */
long tk_syslimits_port_count(const struct tk_syslimits *sl);
/* True when connections to d can not use several automatic source addresses: without
 * --source-ip the engine spreads 127.0.0.0/8 destinations over 127.x.y.z sources; every
 * other destination (::1 included) has one source address. */
bool tk_syslimits_dest_limited(const struct tk_dest *d, size_t nsource_ips);

void tk_syslimits_check(const struct tk_syslimits *sl, const struct tk_syslimits_load *load,
                        struct tk_syslimits_verdict *v);
void tk_syslimits_ports_message(const struct tk_syslimits *sl,
                                const struct tk_syslimits_load *load, char *msg, size_t len);
void tk_syslimits_conntrack_message(const struct tk_syslimits *sl,
                                    const struct tk_syslimits_load *load, char *msg, size_t len);
void tk_syslimits_time_wait_message(const struct tk_syslimits *sl,
                                    const struct tk_syslimits_load *load, char *msg, size_t len);

#endif
