#ifndef NETGRIND_FLOWGRIND_OPTS_H
#define NETGRIND_FLOWGRIND_OPTS_H

/* The flowgrind controller's command line (specs/flowgrind.md §2.1-§2.3, §2.5, §3.5, §6.2,
 * §7.4, §8.1): every option of 0.8.2, parsed into the settings each flow endpoint will be
 * sent (rpc.h) plus what the controller itself needs for its output.
 *
 * Grammar as 0.8.2 has it: controller options, flow options without endpoint (-E -I -J -L -N
 * -Q) and with endpoint (x=VALUE lists, core/addr.h addr_split_flow_list), and -F selecting
 * the flows the following flow options apply to (-n is applied first, wherever it stands).
 * Where 0.8.2 is buggy, this parser does what the documentation promises and the man page
 * (doc/man/flowgrind.1) says so:
 *  - -C x works (stop the flow under local congestion; "-C s" and "-Cs"); a bare -C stays
 *    the no-op it was in 0.8.2, with a warning, since scripts may carry it (bug 11);
 *  - -D x=DSCP accepts decimal 0..63 and 0x hex (bug 12; "0x2e" still means 46, and a
 *    value that is not decimal but hex, "2e", is read as 0.8.2 read it);
 *  - -R's type letter defaults to b as the help says (bug 17): "10M" = 10 Mibit/s; the
 *    unit letter defaults to z ("80000" = 80000 bit/s); the "too big for the rate" check
 *    uses the largest request block (-S, -G q C/U), not the maximum block size (bug 18);
 *  - -U accepts a bare number for both endpoints (bug 20);
 *  - the -A/-G/-R/-S exclusion check fires for both endpoints (bug 19) — as a warning that
 *    the later option overrides, because the help calls them "not recommended", not errors;
 *  - -A x=value and -P x=value: the value is ignored with a warning (bug 28);
 *  - -c is applied after -A/-I whatever the order (bug 8);
 *  - "-h socket" with a space prints the socket help (bug 26), --log-file FILE works (27);
 *  - -H x=HOST:PORT and IPv6 test addresses parse (bug 30, core/addr.h).
 * Stricter than 0.8.2 (its sscanf ignored the rest): numbers with trailing characters
 * ("-T s=10s", "-n 3x") are errors with 0.8.2's message for that option; -U below 40, -n 0,
 * -F below -1, a -G flow parameter other than q/p/g, -G parameters the samplers reject
 * (core/dist.h) and a negative -R are errors; a non-option word is "unexpected argument".
 * Error texts are 0.8.2's ("flowgrind: error: ..." then "Try 'flowgrind -h' for more
 * information" for parse errors, none for the checks after parsing; §8.1). Exit status 1. */

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/addr.h"
#include "flowgrind/rpc.h"
#include "flowgrind/table.h"

#define FG_OPTS_MAX_FLOWS 2048 /* -n range 1..2048, as 0.8.2 */
#define FG_OPTS_DEFAULT_INTERVAL 0.05

enum fg_tcp_stack { FG_TCP_STACK_AUTO, FG_TCP_STACK_SEGMENT, FG_TCP_STACK_BYTE };

/* One endpoint of one flow as the controller sees it. */
struct fg_opts_endpoint {
    struct fg_endpoint_settings s;    /* sent in add_flow_*; flow_id, read_* filled too */
    struct addr_flowgrind_host host;  /* -H; test "localhost", control port 5999 by default */
    char url[ADDR_HOST_MAX + 32];     /* http://CONTROL:PORT/RPC2 */
    char label[2 * ADDR_HOST_MAX + 8]; /* the summary's "HOST[/CONTROL][:PORT]" */
    char rate_text[64];               /* -R as given, for the summary's ", rate = ..."; "" */
    bool cc_given;                    /* -O TCP_CONGESTION=: the summary shows "CC = ..." */
};

struct fg_opts_flow {
    struct fg_opts_endpoint ep[2]; /* [FG_SOURCE], [FG_DESTINATION] */
    bool late_connect;             /* -L */
    bool quiet;                    /* -Q: reporting_interval 0 at both endpoints */
    bool seed_given;               /* -J; otherwise a seed from /dev/urandom per flow */
};

struct fg_opts {
    int n_flows;                /* -n, 1..FG_OPTS_MAX_FLOWS */
    double interval_s;          /* -i (> 0) */
    struct fg_table_opts table; /* -c (with -A/-I), -m, -p; OS fields filled later */
    enum fg_tcp_stack tcp_stack; /* -s */
    bool quiet;                 /* -q: nothing on stdout */
    bool log_to_file;           /* -w or --log-file */
    char log_file[PATH_MAX];    /* --log-file=FILE; "" = flowgrind-<time>.log */
    bool overwrite;             /* -o */
    bool json;                  /* --json (netgrind): one JSON document on stdout at the end */
    bool show_rtt, show_delay;  /* some -A / -I was given (columns and JSON) */
    char progname[64];          /* basename of argv[0], for the default log file name */
    struct fg_opts_flow *flows; /* n_flows of them, owned */
};

/* What fg_opts_parse tells the caller to do. */
enum fg_opts_result {
    FG_OPTS_RUN = 0,  /* go on with o */
    FG_OPTS_DONE = 1, /* help or version was printed to out: exit 0 */
    FG_OPTS_ERROR = 2 /* the message was printed to errout: exit 1 */
};

/* Parses argv (getopt state is reset first) into o, then runs 0.8.2's sanity checks over the
 * result (both durations 0, a delay without duration, block size too big for the rate,
 * the -L start order, seeds). Help and version text go to out, errors to errout. On
 * FG_OPTS_RUN the caller owns o and frees it with fg_opts_free; otherwise o is freed. */
enum fg_opts_result fg_opts_parse(int argc, char **argv, struct fg_opts *o, FILE *out,
                                  FILE *errout);

void fg_opts_free(struct fg_opts *o);

/* Writes the help text for topic to out: NULL the general --help, "socket" or "traffic"
 * (0.8.2's texts, with the lines of the options netgrind fixed brought up to date). 0, or
 * -1 for an unknown topic (nothing written). (opts_help.c) */
int fg_opts_help(FILE *out, const char *topic);

/* Writes the -v/--version text to out: first line "flowgrind 0.8.2 (netgrind X.Y.Z)". */
void fg_opts_version(FILE *out);

#endif
