/* flowgrind's interval table; see table.h for the width and header rules. */

#include "flowgrind/table.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "core/report.h"

/* Which daemons a column needs (spec §7.2 "Column visibility by OS"). */
enum col_os {
    OS_ANY,
    OS_LINUX_OR_FREEBSD,
    OS_LINUX,
};

struct col_def {
    const char *name;
    const char *unit;
    unsigned group;
    enum col_os os;
    bool kernel_count; /* cwnd..bkof: unit " [B]" with opts.kernel_bytes */
};

#define KCOUNT(n, os)                       \
    {                                       \
        n, "[#]", FG_GROUP_KERNEL, os, true \
    }
#define MS(n, g)                    \
    {                               \
        n, "[ms]", g, OS_ANY, false \
    }

static const struct col_def cols[FG_COL_COUNT] = {
    [FG_COL_BEGIN] = {"begin", "[s]", FG_GROUP_INTERVAL, OS_ANY, false},
    [FG_COL_END] = {"end", "[s]", FG_GROUP_INTERVAL, OS_ANY, false},
    [FG_COL_THROUGH] = {"through", "[Mbit/s]", FG_GROUP_THROUGH, OS_ANY, false},
    [FG_COL_TRANSAC] = {"transac", "[#/s]", FG_GROUP_TRANSAC, OS_ANY, false},
    [FG_COL_REQU] = {"requ", "[#]", FG_GROUP_BLOCKS, OS_ANY, false},
    [FG_COL_RESP] = {"resp", "[#]", FG_GROUP_BLOCKS, OS_ANY, false},
    [FG_COL_RTT_MIN] = MS("min RTT", FG_GROUP_RTT),
    [FG_COL_RTT_AVG] = MS("avg RTT", FG_GROUP_RTT),
    [FG_COL_RTT_MAX] = MS("max RTT", FG_GROUP_RTT),
    [FG_COL_IAT_MIN] = MS("min IAT", FG_GROUP_IAT),
    [FG_COL_IAT_AVG] = MS("avg IAT", FG_GROUP_IAT),
    [FG_COL_IAT_MAX] = MS("max IAT", FG_GROUP_IAT),
    [FG_COL_DLY_MIN] = MS("min DLY", FG_GROUP_DELAY),
    [FG_COL_DLY_AVG] = MS("avg DLY", FG_GROUP_DELAY),
    [FG_COL_DLY_MAX] = MS("max DLY", FG_GROUP_DELAY),
    [FG_COL_CWND] = KCOUNT("cwnd", OS_LINUX_OR_FREEBSD),
    [FG_COL_SSTH] = KCOUNT("ssth", OS_LINUX_OR_FREEBSD),
    [FG_COL_UACK] = KCOUNT("uack", OS_LINUX),
    [FG_COL_SACK] = KCOUNT("sack", OS_LINUX),
    [FG_COL_LOST] = KCOUNT("lost", OS_LINUX),
    [FG_COL_RETR] = KCOUNT("retr", OS_LINUX),
    [FG_COL_TRET] = KCOUNT("tret", OS_LINUX),
    [FG_COL_FACK] = KCOUNT("fack", OS_LINUX),
    [FG_COL_REOR] = KCOUNT("reor", OS_LINUX),
    [FG_COL_BKOF] = KCOUNT("bkof", OS_LINUX),
    [FG_COL_RTT] = {"rtt", "[ms]", FG_GROUP_KERNEL, OS_LINUX_OR_FREEBSD, false},
    [FG_COL_RTTVAR] = {"rttvar", "[ms]", FG_GROUP_KERNEL, OS_LINUX_OR_FREEBSD, false},
    [FG_COL_RTO] = {"rto", "[ms]", FG_GROUP_KERNEL, OS_LINUX_OR_FREEBSD, false},
    [FG_COL_CA_STATE] = {"ca state", "", FG_GROUP_KERNEL, OS_LINUX, false},
    [FG_COL_SMSS] = {"smss", "[B]", FG_GROUP_KERNEL, OS_LINUX_OR_FREEBSD, false},
    [FG_COL_PMTU] = {"pmtu", "[B]", FG_GROUP_KERNEL, OS_LINUX, false},
};

void fg_table_opts_init(struct fg_table_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->groups = FG_GROUP_DEFAULT;
    o->any_linux = true;
}

static const struct {
    const char *word;
    unsigned group;
} group_words[] = {
    {"interval", FG_GROUP_INTERVAL}, {"through", FG_GROUP_THROUGH}, {"transac", FG_GROUP_TRANSAC},
    {"blocks", FG_GROUP_BLOCKS},     {"rtt", FG_GROUP_RTT},         {"iat", FG_GROUP_IAT},
    {"delay", FG_GROUP_DELAY},       {"kernel", FG_GROUP_KERNEL},
};

static unsigned group_of_word(const char *w, size_t len)
{
    for (size_t i = 0; i < sizeof(group_words) / sizeof(group_words[0]); i++)
        if (strlen(group_words[i].word) == len && memcmp(group_words[i].word, w, len) == 0)
            return group_words[i].group;
    return 0;
}

int fg_table_parse_groups(const char *list, unsigned *groups)
{
    unsigned mask = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        unsigned g = group_of_word(p, len);
        if (g == 0)
            return -EINVAL; /* also an empty word or an empty list */
        mask |= g;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *groups = mask;
    return 0;
}

const char *fg_table_ca_state_name(uint32_t ca_state)
{
    static const char *const names[] = {"open", "disorder", "cwr", "recover", "loss"};
    return ca_state < 5 ? names[ca_state] : "unknown";
}

static bool os_allows(const struct fg_table_opts *o, enum col_os os)
{
    switch (os) {
    case OS_LINUX:
        return o->any_linux;
    case OS_LINUX_OR_FREEBSD:
        return o->any_linux || o->any_freebsd;
    case OS_ANY:
        break;
    }
    return true;
}

void fg_table_init(struct fg_table *t, const struct fg_table_opts *o)
{
    memset(t, 0, sizeof(*t));
    t->opts = *o;
    for (int c = 0; c < FG_COL_COUNT; c++)
        t->shown[c] = (cols[c].group & o->groups) != 0 && os_allows(o, cols[c].os);
}

bool fg_table_shown(const struct fg_table *t, enum fg_col c)
{
    return c >= 0 && c < FG_COL_COUNT && t->shown[c];
}

static const char *col_unit(const struct fg_table *t, int c)
{
    if (c == FG_COL_THROUGH && t->opts.mib)
        return " [MiB/s]";
    if (cols[c].kernel_count && t->opts.kernel_bytes)
        return " [B]";
    return cols[c].unit;
}

#define CELL_LEN 48

/* v with the given decimals, or its symbol when its integer part is INT_MAX, USHRT_MAX or
 * UINT_MAX and symbols are on (spec §7.2). */
static void fmt_num(const struct fg_table *t, char *cell, double v, int decimals)
{
    if (!t->opts.numeric && isfinite(v) && fabs(v) < 1e18) {
        long long ip = (long long)v;
        const char *sym = ip == INT_MAX     ? "INT_MAX"
                          : ip == USHRT_MAX ? "USHRT_MAX"
                          : ip == UINT_MAX  ? "UINT_MAX"
                                            : NULL;
        if (sym) {
            snprintf(cell, CELL_LEN, "%s", sym);
            return;
        }
    }
    report_snprintf(cell, CELL_LEN, "%.*f", decimals, v);
}

/* A count per second over d seconds; a report of no length gives 0 for no events and inf
 * otherwise, never NaN. */
static double per_second(double count, double d)
{
    if (d > 0)
        return count / d;
    return count > 0 ? INFINITY : 0.0;
}

/* min, avg, max in ms into three cells; `inf` for all when there is no sample. */
static void fmt_stat(const struct fg_table *t, char (*cells)[CELL_LEN], int first,
                     const struct fg_table_stat *s)
{
    if (s->samples == 0 || s->min_s >= FLT_MAX) {
        for (int i = 0; i < 3; i++)
            snprintf(cells[first + i], CELL_LEN, "inf");
        return;
    }
    fmt_num(t, cells[first], s->min_s * 1e3, 3);
    fmt_num(t, cells[first + 1], s->sum_s / (double)s->samples * 1e3, 3);
    fmt_num(t, cells[first + 2], s->max_s * 1e3, 3);
}

static void fmt_cells(const struct fg_table *t, const struct fg_table_report *r,
                      char (*cells)[CELL_LEN])
{
    double d = r->end_s - r->begin_s;
    double bytes_per_s = per_second((double)r->bytes_written, d);
    double through = t->opts.mib ? bytes_per_s / 1048576.0 : bytes_per_s * 8.0 / 1e6;

    fmt_num(t, cells[FG_COL_BEGIN], r->begin_s, 3);
    fmt_num(t, cells[FG_COL_END], r->end_s, 3);
    fmt_num(t, cells[FG_COL_THROUGH], through, 6);
    fmt_num(t, cells[FG_COL_TRANSAC], per_second((double)r->response_blocks_read, d), 2);
    fmt_num(t, cells[FG_COL_REQU], (double)r->request_blocks_written, 0);
    fmt_num(t, cells[FG_COL_RESP], (double)r->response_blocks_written, 0);
    fmt_stat(t, cells, FG_COL_RTT_MIN, &r->rtt);
    fmt_stat(t, cells, FG_COL_IAT_MIN, &r->iat);
    fmt_stat(t, cells, FG_COL_DLY_MIN, &r->delay);

    const uint32_t counts[] = {r->cwnd,    r->ssthresh,    r->unacked, r->sacked,     r->lost,
                               r->retrans, r->retransmits, r->fackets, r->reordering, r->backoff};
    _Static_assert(sizeof(counts) / sizeof(counts[0]) == FG_COL_BKOF - FG_COL_CWND + 1,
                   "one count per column cwnd..bkof");
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        fmt_num(t, cells[FG_COL_CWND + i], counts[i], 0);
    fmt_num(t, cells[FG_COL_RTT], r->rtt_us / 1000.0, 1);
    fmt_num(t, cells[FG_COL_RTTVAR], r->rttvar_us / 1000.0, 1);
    fmt_num(t, cells[FG_COL_RTO], r->rto_us / 1000.0, 1);
    snprintf(cells[FG_COL_CA_STATE], CELL_LEN, "%s", fg_table_ca_state_name(r->ca_state));
    fmt_num(t, cells[FG_COL_SMSS], r->snd_mss, 0);
    fmt_num(t, cells[FG_COL_PMTU], r->pmtu, 0);
}

static int max3(int a, int b, int c)
{
    int m = a > b ? a : b;
    return m > c ? m : c;
}

/* Applies the grow-at-once / shrink-after-N-rows rule; true if any width changed. */
static bool update_widths(struct fg_table *t, char (*cells)[CELL_LEN])
{
    bool changed = false;
    for (int c = 0; c < FG_COL_COUNT; c++) {
        if (!t->shown[c])
            continue;
        int need =
            max3((int)strlen(cols[c].name), (int)strlen(col_unit(t, c)), (int)strlen(cells[c]));
        if (need > t->width[c]) {
            t->width[c] = need;
            t->too_wide[c] = 0;
            changed = true;
        } else if (need < t->width[c] - 1) {
            if (++t->too_wide[c] >= FG_TABLE_SHRINK_ROWS) {
                t->width[c] = need;
                t->too_wide[c] = 0;
                changed = true;
            }
        } else {
            t->too_wide[c] = 0;
        }
    }
    return changed;
}

static void print_headers(const struct fg_table *t, FILE *out)
{
    fputs("# ID", out);
    for (int c = 0; c < FG_COL_COUNT; c++)
        if (t->shown[c])
            fprintf(out, "%*s", t->width[c] + 2, cols[c].name);
    fputs("\n#   ", out);
    for (int c = 0; c < FG_COL_COUNT; c++)
        if (t->shown[c])
            fprintf(out, "%*s", t->width[c] + 2, col_unit(t, c));
    fputc('\n', out);
}

int fg_table_print(struct fg_table *t, const struct fg_table_report *r, FILE *out)
{
    char cells[FG_COL_COUNT][CELL_LEN];
    fmt_cells(t, r, cells);
    bool changed = update_widths(t, cells);
    if (changed || t->rows % FG_TABLE_HEADER_EVERY == 0)
        print_headers(t, out);
    fprintf(out, "%c%3d", r->source ? 'S' : 'D', r->flow_id);
    for (int c = 0; c < FG_COL_COUNT; c++)
        if (t->shown[c])
            fprintf(out, "%*s", t->width[c] + 2, cells[c]);
    fputc('\n', out);
    t->rows++;
    return ferror(out) ? -EIO : 0;
}

int fg_table_headline(FILE *out, const char *date, const char *host, int flows, double interval_s,
                      bool mib, const char *version)
{
    report_printf(out,
                  "# Date: %s, controlling host = %s, number of flows = %d, reporting interval "
                  "= %.2fs, [through] = %s (%s)\n",
                  date, host, flows, interval_s, mib ? "2**20 bytes/second" : "10**6 bit/second",
                  version);
    return ferror(out) ? -EIO : 0;
}
