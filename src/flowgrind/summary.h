#ifndef NETGRIND_FLOWGRIND_SUMMARY_H
#define NETGRIND_FLOWGRIND_SUMMARY_H

/* The controller's summary line of one flow endpoint (spec §7.3), from its FINAL report:
 *
 *   # ID   0 S: 127.0.0.1:20100 (Linux 6.18.44), random seed: 972097349, sbuf = 16384/0 [B]
 *   (real/req), ..., through = 6067.013748/0.000000 [Mbit/s] (out/in), request blocks = ...
 *
 * (one line). The caller prints the empty line before each flow's pair of lines.
 *
 * Where flowgrind 0.8.2 is wrong this prints what its documentation promises: the RTT, IAT
 * and delay averages divide by the number of samples (bug 2), and a quantity without a
 * sample is left out of the line instead of printing the daemon's FLT_MAX sentinel (bug 4:
 * `IAT = 340282346638528898497330411152650516037632.000/0.000/0.000`), just as the RTT part
 * is left out when no response was read. Numbers in the C locale. Pure but for the writes. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flowgrind/table.h"

#define FG_SUMMARY_DEFAULT_PORT 5999

struct fg_summary {
    int flow_id;
    bool source;     /* `S`; false: `D` */
    bool have_final; /* false: "Error: no final report received", nothing else is read */

    /* where: the -H test address, and the control address and port when they differ */
    const char *test_address;
    const char *control_address;      /* NULL, or the same text: not printed */
    int control_port;                 /* printed unless FG_SUMMARY_DEFAULT_PORT */
    const char *os_name, *os_release; /* from get_version */

    uint32_t random_seed;
    int sbuf_real, sbuf_req, rbuf_real, rbuf_req; /* [B]; real from add_flow_*, req -B/-W */
    int smss, pmtu, imtu;                         /* printed when > 0 */
    const char *cc;                               /* -O TCP_CONGESTION=ALG, or NULL */

    /* requested (-T, -Y) for this endpoint's two directions, seconds */
    double write_duration_s, write_delay_s;
    double read_duration_s, read_delay_s;

    double report_time_s; /* FINAL end - begin */
    uint64_t bytes_written, bytes_read;
    uint64_t request_blocks_written, request_blocks_read;
    uint64_t response_blocks_written, response_blocks_read;
    struct fg_table_stat rtt, iat, delay; /* see table.h for samples */

    bool mib;         /* -m: [MiB/s] */
    const char *rate; /* the -R text, or NULL */
    bool elcn, cork, pushy, nodelay, mtcp, late_connect, shutdown;
    int dscp; /* -D; 0: not printed */
};

/* The topology name flowgrind guesses from an interface MTU ("Ethernet/PPP" for 1500),
 * "unknown" for an MTU not in its table (today's Linux loopback, 65536). */
const char *fg_summary_topology(int mtu);

/* Writes the endpoint's summary line, newline included, to out. Returns 0, or -EIO when
 * writing failed. */
int fg_summary_print(const struct fg_summary *s, FILE *out);

#endif
