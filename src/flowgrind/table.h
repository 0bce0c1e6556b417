#ifndef NETGRIND_FLOWGRIND_TABLE_H
#define NETGRIND_FLOWGRIND_TABLE_H

/* The controller's interval report table (spec §7.2): two header lines (names, units), then
 * one row per interval report of one endpoint, `S`/`D` plus the flow id in "%3d".
 *
 * Widths. Every column after the first is right-aligned in a field of w + 2 characters,
 * where w = max(len(name), len(unit), len(cell)). One width state per column, shared by all
 * rows: it grows at once when a cell needs more; it shrinks to what the row needs only after
 * the column was more than one character too wide in FG_TABLE_SHRINK_ROWS consecutive rows.
 * The header lines are printed before the first row, before any row that changed a width,
 * and before every row whose count of rows already printed is a multiple of
 * FG_TABLE_HEADER_EVERY (so before data rows 1, 26, 51, ...).
 *
 * Where flowgrind 0.8.2's table is wrong, this one prints what its documentation promises:
 * `min IAT` shows the minimum IAT (the original printed the minimum RTT, its bug 1), and the
 * RTT, IAT and delay averages divide the sum by the number of samples (the original divided
 * IAT and delay sums by request blocks read, its bug 2). min, avg and max print `inf` when
 * there is no sample. Like the original, `through` shows bytes written only (bug 3 is kept:
 * scripts read that column as the sender's goodput).
 *
 * Numbers are formatted in the C locale whatever the process locale. Pure apart from the
 * writes to the caller's stream; one table per controller, used from one thread. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define FG_TABLE_SHRINK_ROWS 5
#define FG_TABLE_HEADER_EVERY 25

enum fg_col {
    FG_COL_BEGIN,
    FG_COL_END,
    FG_COL_THROUGH,
    FG_COL_TRANSAC,
    FG_COL_REQU,
    FG_COL_RESP,
    FG_COL_RTT_MIN,
    FG_COL_RTT_AVG,
    FG_COL_RTT_MAX,
    FG_COL_IAT_MIN,
    FG_COL_IAT_AVG,
    FG_COL_IAT_MAX,
    FG_COL_DLY_MIN,
    FG_COL_DLY_AVG,
    FG_COL_DLY_MAX,
    FG_COL_CWND,
    FG_COL_SSTH,
    FG_COL_UACK,
    FG_COL_SACK,
    FG_COL_LOST,
    FG_COL_RETR,
    FG_COL_TRET,
    FG_COL_FACK,
    FG_COL_REOR,
    FG_COL_BKOF,
    FG_COL_RTT,
    FG_COL_RTTVAR,
    FG_COL_RTO,
    FG_COL_CA_STATE,
    FG_COL_SMSS,
    FG_COL_PMTU,
    FG_COL_COUNT
};

/* Column groups, the TYPE words of `-c` (`--show-colon`). */
enum fg_group {
    FG_GROUP_INTERVAL = 1u << 0, /* begin, end */
    FG_GROUP_THROUGH = 1u << 1,
    FG_GROUP_TRANSAC = 1u << 2,
    FG_GROUP_BLOCKS = 1u << 3, /* requ, resp */
    FG_GROUP_RTT = 1u << 4,    /* also shown by -A */
    FG_GROUP_IAT = 1u << 5,
    FG_GROUP_DELAY = 1u << 6,  /* also shown by -I */
    FG_GROUP_KERNEL = 1u << 7, /* cwnd .. pmtu */
};
#define FG_GROUP_DEFAULT \
    (FG_GROUP_INTERVAL | FG_GROUP_THROUGH | FG_GROUP_TRANSAC | FG_GROUP_IAT | FG_GROUP_KERNEL)

struct fg_table_opts {
    unsigned groups;   /* FG_GROUP_* mask of the columns shown */
    bool mib;          /* -m: through in 2**20 bytes/s, unit " [MiB/s]" */
    bool numeric;      /* -p: numbers instead of INT_MAX, USHRT_MAX, UINT_MAX */
    bool any_linux;    /* some daemon involved runs Linux (get_version os_name) */
    bool any_freebsd;  /* some daemon involved runs FreeBSD */
    bool kernel_bytes; /* unit " [B]" for cwnd..bkof (first daemon not Linux, or -s byte) */
};

/* Fills o with the defaults: FG_GROUP_DEFAULT, Mbit/s, symbols, Linux daemons, "[#]". */
void fg_table_opts_init(struct fg_table_opts *o);

/* Parses a `-c` list ("interval,through,kernel": words separated by commas, each once or
 * more) into a group mask. Returns 0 and sets *groups, or -EINVAL for an empty list, an
 * empty word or an unknown word (*groups untouched). */
int fg_table_parse_groups(const char *list, unsigned *groups);

/* Samples of one delay quantity in one report, in seconds. */
struct fg_table_stat {
    double min_s, max_s, sum_s;
    /* How many samples min, max and sum cover. The daemon's report carries no count: the
     * caller supplies it (a netgrind daemon's own figure, or for RTT response_blocks_read).
     * 0 prints `inf` for min, avg and max, as does a min of FLT_MAX or more (the original
     * daemon's "no sample" sentinel). */
    uint64_t samples;
};

/* One interval report of one endpoint, as the controller received it. */
struct fg_table_report {
    int flow_id;
    bool source;    /* `S` row; false: `D` row */
    double begin_s; /* report begin/end minus this endpoint's first report's begin */
    double end_s;
    uint64_t bytes_written;
    uint64_t request_blocks_written, response_blocks_written, response_blocks_read;
    struct fg_table_stat rtt, iat, delay;
    /* TCP_INFO, as the daemon sent it */
    uint32_t cwnd, ssthresh, unacked, sacked, lost, retrans, retransmits, fackets;
    uint32_t reordering, backoff, rtt_us, rttvar_us, rto_us, ca_state, snd_mss, pmtu;
};

struct fg_table {
    struct fg_table_opts opts;
    bool shown[FG_COL_COUNT];
    int width[FG_COL_COUNT];    /* w, without the 2 separating spaces; 0 before any row */
    int too_wide[FG_COL_COUNT]; /* consecutive rows this column was > 1 char too wide */
    uint64_t rows;              /* data rows printed */
};

/* Starts a table with the given options (copied). */
void fg_table_init(struct fg_table *t, const struct fg_table_opts *o);

/* Whether column c is shown under t's options (groups and daemon OS). */
bool fg_table_shown(const struct fg_table *t, enum fg_col c);

/* Prints the row of report r to out, preceded by the two header lines when they are due
 * (see above), and updates the width state. Returns 0, or -EIO when writing to out failed. */
int fg_table_print(struct fg_table *t, const struct fg_table_report *r, FILE *out);

/* Writes the headline that opens the controller's output (spec §7.1), newline included:
 * "# Date: DATE, controlling host = HOST, number of flows = N, reporting interval = 0.50s,
 * [through] = 10**6 bit/second (VERSION)" ("2**20 bytes/second" with mib). date is the
 * caller's local time as "%Y-%m-%d-%H:%M:%S", host the uname nodename. Returns 0 or -EIO. */
int fg_table_headline(FILE *out, const char *date, const char *host, int flows, double interval_s,
                      bool mib, const char *version);

/* The `ca state` text of TCP_INFO's ca_state: open, disorder, cwr, recover, loss, else
 * unknown. */
const char *fg_table_ca_state_name(uint32_t ca_state);

#endif
