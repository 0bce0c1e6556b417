#ifndef NETGRIND_TCPKALI_OPTS_H
#define NETGRIND_TCPKALI_OPTS_H

/* tcpkali's command line (tcpkali.md §1, §2): every option of tcpkali 1.1.1 with its suffix
 * grammar, validation messages and exit codes, then the startup cross-checks in the
 * original's order (§2 end). Nothing here exits the process: each step returns false with
 * the exit code in o->exit_code after printing its message, so the parser can be fuzzed and
 * unit-tested. Messages go to o->err (stderr in the program), help texts to o->out (stdout).
 * getopt's own messages ("tcpkali: unrecognized option '--bogus'") always go to stderr.
 *
 * The steps, in the order the program calls them:
 *   tk_opts_parse       argv -> o->cfg (pure but for reading -f files and test-binding
 *                       --source-ip addresses)
 *   tk_opts_check_early -H/--ws, --ssl files of a listener, the @Latency warning, workers,
 *                       statsd window (pure but for access() on the --ssl files)
 *   tk_opts_check_limits open files (raises RLIMIT_NOFILE), --rcvbuf/--sndbuf caps (system)
 *   tk_opts_resolve     destinations ("Destination: [ip]:port"), then the port-range,
 *                       conntrack and TIME_WAIT checks, then the listen addresses
 *                       ("Listen on: [ip]:port") (DNS)
 *   tk_opts_check_late  marker/rate consistency, write-combine note, "Expecting target",
 *                       the feasibility check (pure) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tcpkali/config.h"

/* Exit codes (tcpkali.md §3.4; sysexits where the original uses them). */
#define TK_EXIT_OK 0
#define TK_EXIT_RAMP 1       /* ramp-up not finished within -T; runtime failures */
#define TK_EXIT_STOP 2       /* --message-stop seen */
#define TK_EXIT_USAGE 64     /* usage and validation errors; SIGINT (as the original) */
#define TK_EXIT_DATA 65      /* -f / --first-message-file unreadable */
#define TK_EXIT_NOINPUT 66   /* --ssl: the listener's certificate or key file is missing */
#define TK_EXIT_NOHOST 68    /* DNS failure */
#define TK_EXIT_UNAVAIL 69   /* listener bind failed; -r @Latency search failed */
#define TK_EXIT_SOFTWARE 70  /* system limits will not support the load */
#define TK_EXIT_SIGTERM 143  /* SIGTERM: the summary is printed, then 128 + 15 */

#define TK_DEFAULT_PERCENTILES "95,99,99.5"

struct tk_opts {
    struct tk_config cfg;

    FILE *out; /* help texts (stdout) */
    FILE *err; /* messages (stderr) */
    bool tty;  /* out is a terminal: bold in help texts, red WARNING */
    int exit_code;
    char error[512]; /* the first error message printed, for the JSON document */

    /* What the parser saw, for the later steps and the JSON config echo. */
    char **dest_args; /* the host:port operands, in order (point into argv) */
    size_t ndest_args;
    const char *listen_arg; /* -l as given */
    char listen_host[256];  /* "" : every passive address */
    const char *duration_arg;       /* -T as typed ("10s" when not given) */
    const char *statsd_window_arg;  /* as typed */
    const char *rate_search_arg;    /* the Latency of -r @Latency, as typed */
    bool rate_search_unitless;      /* -r @10: no unit given */
    bool duration_given;
    bool workers_given;
    bool write_combine_given;
    bool unescape; /* -e seen so far */
    bool help_long, help_short, version;
    unsigned ncpus; /* CPUs detected (sched_getaffinity), for -w and the help text */

    /* Buffers the parser owns (freed by tk_opts_free). */
    void **owned;
    size_t nowned;
};

/* Empty options with tcpkali's defaults; out and err may be NULL (then stdout, stderr). */
void tk_opts_init(struct tk_opts *o, FILE *out, FILE *err);
/* Frees everything the parser allocated, including tk_config_free(&o->cfg). */
void tk_opts_free(struct tk_opts *o);

/* Parses argv (argv[0] is the program name; getopt permutes, so options may follow
 * operands). Returns true to go on; false to stop with o->exit_code, after printing the
 * message (for --help, -h and --version: the text, and exit code 0). Not thread-safe
 * (getopt). May be called again on a fresh tk_opts. */
bool tk_opts_parse(struct tk_opts *o, int argc, char **argv);

/* The cross-checks of §2, each in the original's order; see the top of this file. Each
 * returns true to go on, false to stop with o->exit_code (message printed). */
bool tk_opts_check_early(struct tk_opts *o);
bool tk_opts_check_limits(struct tk_opts *o);
bool tk_opts_resolve(struct tk_opts *o);
bool tk_opts_check_late(struct tk_opts *o);

/* The --help and -h texts (tcpkali.md §1.1, with netgrind's additions). */
void tk_opts_print_help(const struct tk_opts *o, FILE *out);
void tk_opts_print_short_help(const struct tk_opts *o, FILE *out);

/* True when argv asks for --json or --json-stream (scanned before parsing, so that even a
 * parse error is reported as JSON); *stream tells which. */
bool tk_opts_wants_json(int argc, char **argv, bool *stream);

/* Parses a --latency-percentiles value (one option's argument) and appends its values to
 * cfg (labels as typed). Returns 0, or -1 with the original's message in err:
 * "--latency-percentiles: 95,abc: Failed to parse: bad number" and so on. Pure. */
int tk_parse_percentiles(struct tk_config *cfg, const char *arg, char *err, size_t errlen);

/* How many workers to use when -w is not given (§3.8): the CPU count, or -c when there is
 * no -l and -c is below it (at least 1). */
unsigned tk_default_workers(const struct tk_config *cfg, unsigned ncpus);

/* tk_addr_format ("[127.0.0.1]:80") is in output.h. */

/* Prints "WARNING: <msg>" to o->err (the prefix red on a terminal). */
void tk_opts_warn(const struct tk_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
