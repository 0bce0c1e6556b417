/* seqtest's command line and -o rules (see config.h). */
#include "seqtest/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/opt.h"
#include "core/units.h"
#include "core/util.h"
#include "seqtest/wire.h"

void seq_config_init(struct seq_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = SEQ_MODE_ASYNC;
    c->ssize.min = c->ssize.max = WIRE_HDR_LEN;
    c->rsize.min = c->rsize.max = WIRE_HDR_LEN;
    c->rinterval = 1;
    c->count = 1;
}

void seq_config_free(struct seq_config *c)
{
    free(c->dump_path);
    c->dump_path = NULL;
}

/* ---- -o sub-options ------------------------------------------------------------------ */

enum subopt_kind {
    SUB_SIZE,  /* bytes; below 40 rounds up to 40 (the README's rule), above 8000 is an error */
    SUB_DELAY, /* ns, 0..SEQ_DELAY_MAX */
    SUB_COUNT, /* plain number with its own bounds */
    SUB_STRING,
    SUB_BOOL, /* value optional: "verify" means 1 */
};

enum subopt_end {
    END_BOTH,
    END_MIN,
    END_MAX,
};

struct subopt {
    const char *name;
    enum subopt_kind kind;
    size_t field;        /* offset of the seq_range or uint64_t/bool/const char * in config */
    enum subopt_end end; /* SUB_SIZE / SUB_DELAY: which end(s) it sets */
    uint64_t min, max;   /* SUB_COUNT bounds */
};

#define FIELD(f) offsetof(struct seq_config, f)

static const struct subopt subopts[] = {
    {"ssize", SUB_SIZE, FIELD(ssize), END_BOTH, 0, 0},
    {"ssize_min", SUB_SIZE, FIELD(ssize), END_MIN, 0, 0},
    {"ssize_max", SUB_SIZE, FIELD(ssize), END_MAX, 0, 0},
    {"rsize", SUB_SIZE, FIELD(rsize), END_BOTH, 0, 0},
    {"rsize_min", SUB_SIZE, FIELD(rsize), END_MIN, 0, 0},
    {"rsize_max", SUB_SIZE, FIELD(rsize), END_MAX, 0, 0},
    {"sdelay", SUB_DELAY, FIELD(sdelay), END_BOTH, 0, 0},
    {"sdelay_min", SUB_DELAY, FIELD(sdelay), END_MIN, 0, 0},
    {"sdelay_max", SUB_DELAY, FIELD(sdelay), END_MAX, 0, 0},
    {"rdelay", SUB_DELAY, FIELD(rdelay), END_BOTH, 0, 0},
    {"rdelay_min", SUB_DELAY, FIELD(rdelay), END_MIN, 0, 0},
    {"rdelay_max", SUB_DELAY, FIELD(rdelay), END_MAX, 0, 0},
    {"threads", SUB_COUNT, FIELD(threads), END_BOTH, 0, SEQ_THREADS_MAX},
    {"rinterval", SUB_COUNT, FIELD(rinterval), END_BOTH, 0, UINT32_MAX},
    {"count", SUB_COUNT, FIELD(count), END_BOTH, 0, UINT64_MAX >> 1},
    {"workers", SUB_COUNT, FIELD(workers), END_BOTH, 0, 1024},
    {"seed", SUB_COUNT, FIELD(seed), END_BOTH, 0, UINT64_MAX},
    {"dump", SUB_STRING, FIELD(dump_path), END_BOTH, 0, 0},
    {"verify", SUB_BOOL, FIELD(verify), END_BOTH, 0, 1},
};

static const struct subopt *find_subopt(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(subopts); i++)
        if (strlen(subopts[i].name) == len && memcmp(subopts[i].name, name, len) == 0)
            return &subopts[i];
    return NULL;
}

static void set_range_end(struct seq_range *r, enum subopt_end end, uint64_t v)
{
    if (end != END_MAX) {
        r->min = v;
        r->min_set = true;
    }
    if (end != END_MIN) {
        r->max = v;
        r->max_set = true;
    }
}

static int parse_size(const char *name, const char *val, uint64_t *out, char *err, size_t errlen)
{
    char why[160];
    uint64_t v;
    if (units_parse_u64(val, 0, UINT64_MAX, &v, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s=%s: %s", name, val, why);
        return -EINVAL;
    }
    if (v > WIRE_MSG_MAX) {
        snprintf(err, errlen, "%s=%s: above the maximum message size %d", name, val, WIRE_MSG_MAX);
        return -EINVAL;
    }
    *out = v < WIRE_HDR_LEN ? WIRE_HDR_LEN : v;
    return 0;
}

static int parse_number(const char *name, const char *val, uint64_t min, uint64_t max,
                        const char *unit_note, uint64_t *out, char *err, size_t errlen)
{
    char why[160];
    uint64_t v;
    if (units_parse_u64(val, 0, UINT64_MAX, &v, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s=%s: %s", name, val, why);
        return -EINVAL;
    }
    if (v > max) {
        snprintf(err, errlen, "%s=%s: above %llu%s", name, val, (unsigned long long)max, unit_note);
        return -EINVAL;
    }
    if (v < min) {
        snprintf(err, errlen, "%s=%s: below %llu", name, val, (unsigned long long)min);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* Sets the field of sub-option s from its value val (NULL when none was given). */
static int set_subopt(struct seq_config *c, const struct subopt *s, const char *val, char *err,
                      size_t errlen)
{
    void *field = (char *)c + s->field;
    if (!val && s->kind != SUB_BOOL) {
        snprintf(err, errlen, "no value for %s", s->name);
        return -EINVAL;
    }
    uint64_t v = 0;
    switch (s->kind) {
    case SUB_SIZE:
        if (parse_size(s->name, val, &v, err, errlen) < 0)
            return -EINVAL;
        set_range_end(field, s->end, v);
        return 0;
    case SUB_DELAY:
        if (parse_number(s->name, val, 0, SEQ_DELAY_MAX, " ns (the header's 32-bit field)", &v, err,
                         errlen) < 0)
            return -EINVAL;
        set_range_end(field, s->end, v);
        return 0;
    case SUB_COUNT:
        if (parse_number(s->name, val, s->min, s->max, "", &v, err, errlen) < 0)
            return -EINVAL;
        *(uint64_t *)field = v;
        if (field == &c->seed)
            c->seed_set = true;
        return 0;
    case SUB_STRING:
        if (!*val) {
            snprintf(err, errlen, "no value for %s", s->name);
            return -EINVAL;
        }
        free(*(char **)field);
        *(char **)field = strdup(val);
        if (!*(char **)field) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        return 0;
    case SUB_BOOL:
        if (val && parse_number(s->name, val, 0, 1, "", &v, err, errlen) < 0)
            return -EINVAL;
        *(bool *)field = val ? v != 0 : true;
        return 0;
    }
    return -EINVAL;
}

/* Applies one "name[=value]" item of length len at item. */
static int apply_item(struct seq_config *c, const char *item, size_t len, char *err, size_t errlen)
{
    char buf[512];
    if (len >= sizeof buf) {
        snprintf(err, errlen, "bad option %.40s...", item);
        return -EINVAL;
    }
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *eq = strchr(buf, '=');
    size_t nlen = eq ? (size_t)(eq - buf) : len;
    const struct subopt *s = find_subopt(buf, nlen);
    if (!s) {
        snprintf(err, errlen, "bad option %s", buf);
        return -EINVAL;
    }
    return set_subopt(c, s, eq ? eq + 1 : NULL, err, errlen);
}

int seq_config_subopts(struct seq_config *c, const char *arg, char *err, size_t errlen)
{
    const char *p = arg;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && apply_item(c, p, len, err, errlen) < 0)
            return -EINVAL;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* ---- range rules --------------------------------------------------------------------- */

static int finish_range(struct seq_range *r, const char *name, uint64_t low, uint64_t high_if_min,
                        bool min_only_fixed, char *err, size_t errlen)
{
    if (r->min_set && !r->max_set)
        r->max = min_only_fixed ? r->min : high_if_min;
    else if (r->max_set && !r->min_set)
        r->min = low;
    if (r->max < r->min) {
        snprintf(err, errlen, "%s_max (%llu) is below %s_min (%llu)", name,
                 (unsigned long long)r->max, name, (unsigned long long)r->min);
        return -EINVAL;
    }
    return 0;
}

int seq_config_finish(struct seq_config *c, char *err, size_t errlen)
{
    if (finish_range(&c->ssize, "ssize", WIRE_HDR_LEN, WIRE_MSG_MAX, false, err, errlen) < 0 ||
        finish_range(&c->rsize, "rsize", WIRE_HDR_LEN, WIRE_MSG_MAX, false, err, errlen) < 0 ||
        finish_range(&c->sdelay, "sdelay", 0, 0, true, err, errlen) < 0 ||
        finish_range(&c->rdelay, "rdelay", 0, 0, true, err, errlen) < 0)
        return -EINVAL;
    if (c->count < 1) {
        snprintf(err, errlen, "count must be at least 1");
        return -EINVAL;
    }
    if (c->mode == SEQ_MODE_SYNC)
        c->rinterval = 1;
    return 0;
}

/* ---- argv ---------------------------------------------------------------------------- */

enum row_id {
    ROW_SEND = 1,
    ROW_SYNC,
    ROW_REPLY,
    ROW_SUBOPT,
};

struct parse_ctx {
    struct seq_config *c;
    bool printed;
    char *err;
    size_t errlen;
};

static int on_row(const struct opt_row *row, const char *arg, void *ctx_)
{
    struct parse_ctx *ctx = ctx_;
    switch (row->id) {
    case ROW_SEND:
        ctx->c->mode = SEQ_MODE_ASYNC;
        return 0;
    case ROW_SYNC:
        ctx->c->mode = SEQ_MODE_SYNC;
        return 0;
    case ROW_REPLY:
        ctx->c->mode = SEQ_MODE_REPLIER;
        return 0;
    case ROW_SUBOPT:
        return seq_config_subopts(ctx->c, arg, ctx->err, ctx->errlen) < 0 ? 1 : 0;
    }
    return 0;
}

static int on_unknown(const char *word, void *ctx_)
{
    struct parse_ctx *ctx = ctx_;
    ctx->printed = true;
    snprintf(ctx->err, ctx->errlen, "bad command-line option %s (see seqtest --help)", word);
    return 1;
}

static const char usage_text[] =
    "Usage: seqtest [-s|-S|-r] [-d] [-o name=value[,name=value...]]... [--json|--json-stream]"
    " address...\n"
    "  address: host:port, [v6addr]:port or (senders) local,host:port\n"
    "  -o options: ssize, ssize_min, ssize_max, rsize, rsize_min, rsize_max (bytes, 40..8000),\n"
    "    sdelay, sdelay_min, sdelay_max, rdelay, rdelay_min, rdelay_max (ns), threads,\n"
    "    rinterval, count, dump=FILE, verify, workers, seed\n"
    "  See seqtest(1).\n";

int seq_config_parse(struct seq_config *c, int argc, char **argv, bool *printed, char *err,
                     size_t errlen)
{
    struct parse_ctx ctx = {c, false, err, errlen};
    /* min > max: no bounds (see opt.h) */
    const struct opt_row rows[] = {
        {.long_name = "help",
         .short_name = 'h',
         .kind = OPT_FLAG,
         .dest = &c->help,
         .min = 1,
         .help = "print this help and exit"},
        {.short_name = 's',
         .kind = OPT_CALL,
         .parse = on_row,
         .id = ROW_SEND,
         .min = 1,
         .help = "asynchronous sender (the default)"},
        {.short_name = 'S',
         .kind = OPT_CALL,
         .parse = on_row,
         .id = ROW_SYNC,
         .min = 1,
         .help = "synchronous sender"},
        {.short_name = 'r',
         .kind = OPT_CALL,
         .parse = on_row,
         .id = ROW_REPLY,
         .min = 1,
         .help = "replier"},
        {.short_name = 'd',
         .kind = OPT_COUNT,
         .dest = &c->debug,
         .min = 1,
         .help = "debug characters on standard output"},
        {.short_name = 'o',
         .kind = OPT_CALL,
         .arg_name = "name=value,...",
         .parse = on_row,
         .id = ROW_SUBOPT,
         .min = 1,
         .help = "test options (see above)"},
        {.long_name = "json",
         .kind = OPT_FLAG,
         .dest = &c->json,
         .min = 1,
         .help = "one JSON document at the end"},
        {.long_name = "json-stream",
         .kind = OPT_FLAG,
         .dest = &c->json_stream,
         .min = 1,
         .help = "one JSON event per line"},
    };
    struct opt_table t = {
        .prog = "seqtest",
        .usage = usage_text,
        .rows = rows,
        .nrows = ARRAY_LEN(rows),
        .ctx = &ctx,
        .usage_exit = 1,
        .permute = true,
        .unknown = on_unknown,
    };
    *printed = false;
    err[0] = '\0';
    int first = argc;
    /* getopt names argv[0] in its messages: "seqtest", not the path of the binary. */
    char *argv0 = argc > 0 ? argv[0] : NULL;
    if (argc > 0)
        argv[0] = (char *)"seqtest";
    int rc = opt_parse(&t, argc, argv, &first);
    if (argc > 0)
        argv[0] = argv0;
    *printed = ctx.printed;
    if (rc)
        return rc;
    if (c->help)
        return 0;
    c->addrs = argv + first;
    c->naddrs = argc - first;
    if (seq_config_finish(c, err, errlen) < 0)
        return 1;
    if (c->naddrs == 0) {
        snprintf(err, errlen, "no address!");
        return 1;
    }
    return 0;
}

bool seq_config_wants_json(int argc, char **argv, bool *stream)
{
    bool any = false;
    *stream = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--json") == 0)
            any = true;
        else if (strcmp(argv[i], "--json-stream") == 0)
            any = *stream = true;
    }
    return any;
}

int seq_config_parse_address(const char *op, bool replier, struct addr_endpoint *ep, char *err,
                             size_t errlen)
{
    char why[300];
    if (replier && strchr(op, ',')) {
        snprintf(err, errlen, "the local,host:port form is for the senders (-s, -S): %s", op);
        return -EINVAL;
    }
    if (addr_parse_endpoint(op, replier ? 0 : ADDR_F_LOCAL, ep, why, sizeof why) < 0) {
        if (strstr(why, "missing port") || strstr(why, "no port"))
            snprintf(err, errlen, "no port found: %s", op);
        else
            snprintf(err, errlen, "%s", why);
        return -EINVAL;
    }
    if (ep->port[0] == '\0') {
        snprintf(err, errlen, "no port found: %s", op);
        return -EINVAL;
    }
    return 0;
}

void seq_config_help(FILE *out)
{
    fputs(usage_text, out);
}
