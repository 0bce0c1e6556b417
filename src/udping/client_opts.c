/* udping_client's command line (udping.md §2.1, doc/man/udping_client.1): the original's
 * options, ranges and exit status 255, with its bugs 2, 3 and 4 fixed. */
#include "udping/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/opt.h"
#include "core/units.h"
#include "core/util.h"

static const char usage_text[] =
    "Usage: udping_client -r <remote host> -p <remote port> -d <mean delay ms>\n"
    "         -l <local address> -s <start port | port descriptor> [-n <num ports>]\n"
    "         -i <interval s> -m <max packet size> [-a <next-hop MAC[,MAC...]>]\n"
    "         [-v] [-q] [-h] [--json] [--seed N] [--duration S] [--count N]\n"
    "  -r  remote host (server), IP literal or name\n"
    "  -p  remote port, 1024..65535\n"
    "  -d  mean delay between the datagrams of each port, ms, 0..1000 (0: as fast as possible)\n"
    "  -l  local address (raw mode: the IPv4 address of the sending interface)\n"
    "  -s  source ports: P or A-B, comma-separated, 1024..60000, at most 5000\n"
    "  -n  number of ports from a single start port -s S: S..S+n-1, 1..5000\n"
    "  -i  measurement period, s, 1..900 (aligned to wall-clock multiples)\n"
    "  -m  max datagram size, bytes, 1..2000 (sizes are uniform in 72..max)\n"
    "  -a  raw mode: next-hop MAC addresses, rotated per port (needs root);\n"
    "      without -a: socket mode, one UDP socket per source port\n"
    "  -v  print \"Adding port N\" per port\n"
    "  -q  quiet: no informational lines, no stop summary\n"
    "  -h  this help\n"
    "  --json        one JSON document on stdout at the end\n"
    "  --seed N      seed of the random generator (GUIDs, sizes, gaps)\n"
    "  --duration S  stop after S seconds (control packets, exit 0)\n"
    "  --count N     stop after N data packets per port\n"
    "  See udping_client(1).\n";

void udping_client_usage(FILE *out)
{
    fputs(usage_text, out);
}

void udping_client_config_init(struct udping_client_config *c)
{
    memset(c, 0, sizeof *c);
    c->remote_port = -1;
    c->delay_ms = -1;
    c->nports_arg = -1;
    c->interval_s = -1;
    c->max_size = -1;
}

bool udping_client_wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--json") == 0)
            return true;
    }
    return false;
}

struct parse_ctx {
    struct udping_client_config *c;
    char *err;
    size_t errlen;
};

/* The message on stderr (with the program's name) and in err; returns 255. */
static int fail(struct parse_ctx *ctx, bool usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parse_ctx *ctx, bool usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, ctx->errlen, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", UDPING_CLIENT_PROG, ctx->err);
    if (usage)
        udping_client_usage(stderr);
    return UDPING_CLIENT_EXIT_USAGE;
}

static int on_bad_value(const struct opt_row *row, const char *arg, const char *why, void *ctx_)
{
    struct parse_ctx *ctx = ctx_;
    if (row->long_name)
        return fail(ctx, true, "invalid value '%s' for --%s: %s", arg, row->long_name, why);
    return fail(ctx, true, "invalid value '%s' for -%c: %s", arg, row->short_name, why);
}

static int on_unknown(const char *word, void *ctx_)
{
    struct parse_ctx *ctx = ctx_;
    /* getopt has said what was wrong ("invalid option", "requires an argument"). */
    snprintf(ctx->err, ctx->errlen, "bad option %s", word);
    udping_client_usage(stderr);
    return UDPING_CLIENT_EXIT_USAGE;
}

enum row_id {
    ROW_DELAY = 1,
    ROW_SEED,
    ROW_DURATION,
    ROW_COUNT,
};

/* -d: a plain decimal, digits with an optional fraction ("10", "0.25"; no sign, exponent
 * or suffix), 0..1000 ms. */
static int parse_delay(struct parse_ctx *ctx, const char *arg)
{
    size_t whole = strspn(arg, "0123456789");
    bool ok = whole > 0;
    if (ok && arg[whole] == '.') {
        size_t frac = strspn(arg + whole + 1, "0123456789");
        ok = frac > 0 && arg[whole + 1 + frac] == '\0';
    } else if (ok) {
        ok = arg[whole] == '\0';
    }
    if (!ok)
        return fail(ctx, true, "invalid value '%s' for -d: not a number", arg);
    double v = strtod(arg, NULL);
    if (v > UDPING_DELAY_MAX_MS)
        return fail(ctx, true, "invalid value '%s' for -d: must be between 0 and %d", arg,
                    UDPING_DELAY_MAX_MS);
    ctx->c->delay_ms = v;
    return 0;
}

static int on_long(const struct opt_row *row, const char *arg, void *ctx_)
{
    struct parse_ctx *ctx = ctx_;
    struct udping_client_config *c = ctx->c;
    char why[160];
    switch (row->id) {
    case ROW_DELAY:
        return parse_delay(ctx, arg);
    case ROW_SEED:
        if (units_parse_u64(arg, 0, UINT64_MAX, &c->seed, why, sizeof why) < 0)
            return fail(ctx, true, "invalid value '%s' for --seed: %s", arg, why);
        c->seed_set = true;
        return 0;
    case ROW_DURATION:
        if (units_parse_double(arg, 0, 1e9, &c->duration_s, why, sizeof why) < 0)
            return fail(ctx, true, "invalid value '%s' for --duration: %s", arg, why);
        if (!(c->duration_s > 0))
            return fail(ctx, true, "invalid value '%s' for --duration: must be above 0", arg);
        return 0;
    case ROW_COUNT:
        if (units_parse_u64(arg, 1, UINT32_MAX, &c->count, why, sizeof why) < 0)
            return fail(ctx, true, "invalid value '%s' for --count: %s", arg, why);
        return 0;
    }
    return 0;
}

#define ROW(l, s, kind, arg, help, lo, hi) {l, s, kind, arg, false, help, NULL, NULL, lo, hi, NULL, 0}

static const struct opt_row rows_template[] = {
    ROW("help", 'h', OPT_FLAG, NULL, "print the usage to stderr and exit", 1, 0),
    ROW(NULL, 'r', OPT_STRING, "host", "remote host", 1, 0),
    ROW(NULL, 'p', OPT_INT, "port", "remote port", 1024, 65535),
    {NULL, 'd', OPT_CALL, "ms", false, "mean delay", NULL, NULL, 1, 0, on_long, ROW_DELAY},
    ROW(NULL, 'l', OPT_STRING, "address", "local address", 1, 0),
    ROW(NULL, 's', OPT_STRING, "ports", "source ports", 1, 0),
    ROW(NULL, 'n', OPT_INT, "count", "number of ports", 1, UDPING_MAX_PORTS),
    ROW(NULL, 'i', OPT_INT, "s", "measurement period", 1, UDPING_INTERVAL_MAX_S),
    ROW(NULL, 'm', OPT_INT, "bytes", "max datagram size", 1, UDPING_MAX_PAYLOAD),
    ROW(NULL, 'a', OPT_STRING, "MAC,...", "next-hop MACs (raw mode)", 1, 0),
    ROW(NULL, 'v', OPT_FLAG, NULL, "Adding port lines", 1, 0),
    ROW(NULL, 'q', OPT_FLAG, NULL, "quiet", 1, 0),
    ROW("json", 0, OPT_FLAG, NULL, "JSON document at the end", 1, 0),
    {"seed", 0, OPT_CALL, "N", false, "seed", NULL, NULL, 1, 0, on_long, ROW_SEED},
    {"duration", 0, OPT_CALL, "S", false, "stop after S seconds", NULL, NULL, 1, 0, on_long,
     ROW_DURATION},
    {"count", 0, OPT_CALL, "N", false, "stop after N packets per port", NULL, NULL, 1, 0, on_long,
     ROW_COUNT},
};

/* Points each row at its field of c. */
static void bind_rows(struct opt_row *rows, struct udping_client_config *c)
{
    void *dest[] = {&c->help,       &c->remote,     &c->remote_port, NULL,
                    &c->local,      &c->ports_arg,  &c->nports_arg,  &c->interval_s,
                    &c->max_size,   &c->macs_arg,   &c->verbose,     &c->quiet,
                    &c->json};
    for (size_t i = 0; i < ARRAY_LEN(dest); i++)
        rows[i].dest = dest[i];
}

/* The first mandatory option that is missing, as "-x <what>", or NULL. */
static const char *missing_option(const struct udping_client_config *c)
{
    if (!c->remote || !*c->remote)
        return "-r <remote host>";
    if (c->remote_port < 0)
        return "-p <remote port>";
    if (c->delay_ms < 0)
        return "-d <mean delay ms>";
    if (!c->local || !*c->local)
        return "-l <local address>";
    if (!c->ports_arg)
        return "-s <start port | port descriptor>";
    if (c->interval_s < 0)
        return "-i <interval s>";
    if (c->max_size < 0)
        return "-m <max packet size>";
    return NULL;
}

/* The descriptor's grammar alone: items of digits, or digits '-' digits, joined by ','.
 * Checked before any value, so "1,,2" is called malformed rather than "Port too low: 1". */
static bool port_descriptor_well_formed(const char *s)
{
    const char *item = s;
    for (;;) {
        size_t len = strcspn(item, ",");
        size_t a = strspn(item, "0123456789");
        if (a == 0 || a > len)
            return false;
        if (a < len) {
            if (item[a] != '-')
                return false;
            size_t b = strspn(item + a + 1, "0123456789");
            if (b == 0 || a + 1 + b != len)
                return false;
        }
        if (item[len] == '\0')
            return true;
        item += len + 1;
    }
}

/* -s (with -n) and -a, once all options are known. */
static int parse_lists(struct parse_ctx *ctx)
{
    struct udping_client_config *c = ctx->c;
    char why[300];
    unsigned count = c->nports_arg > 0 ? (unsigned)c->nports_arg : 0;
    if (!port_descriptor_well_formed(c->ports_arg))
        return fail(ctx, false, "Invalid source port descriptor %s", c->ports_arg);
    if (addr_parse_port_list(c->ports_arg, UDPING_PORT_MIN, UDPING_PORT_MAX, count, c->ports,
                             UDPING_MAX_PORTS, &c->nports, why, sizeof why) < 0)
        return fail(ctx, false, "%s", why);
    if (!c->macs_arg)
        return 0;
    if (addr_parse_mac_list(c->macs_arg, c->macs, UDPING_MAX_MACS, &c->nmacs, why, sizeof why) < 0) {
        /* The original's two lines: the entry, then the option. */
        fprintf(stderr, "%s: %s\n", UDPING_CLIENT_PROG, why);
        return fail(ctx, false, "Invalid next-hop MAC address string");
    }
    c->raw = true;
    return 0;
}

int udping_client_parse(struct udping_client_config *c, int argc, char **argv, char *err,
                        size_t errlen)
{
    struct parse_ctx ctx = {c, err, errlen};
    struct opt_row rows[ARRAY_LEN(rows_template)];
    memcpy(rows, rows_template, sizeof rows);
    bind_rows(rows, c);
    struct opt_table t = {
        .prog = UDPING_CLIENT_PROG,
        .usage = usage_text,
        .rows = rows,
        .nrows = ARRAY_LEN(rows),
        .ctx = &ctx,
        .usage_exit = UDPING_CLIENT_EXIT_USAGE,
        .permute = true,
        .bad_value = on_bad_value,
        .unknown = on_unknown,
    };
    err[0] = '\0';
    int first = argc;
    /* getopt names argv[0] in its messages: the tool, not the path of the binary. */
    char *argv0 = argc > 0 ? argv[0] : NULL;
    if (argc > 0)
        argv[0] = (char *)UDPING_CLIENT_PROG;
    int rc = opt_parse(&t, argc, argv, &first);
    if (argc > 0)
        argv[0] = argv0;
    if (rc)
        return rc;
    if (c->help)
        return 0;
    if (first < argc)
        return fail(&ctx, true, "unexpected argument '%s'", argv[first]);
    const char *missing = missing_option(c);
    if (missing)
        return fail(&ctx, true, "missing option %s", missing);
    return parse_lists(&ctx);
}
