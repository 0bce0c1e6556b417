/* Declarative command lines on top of getopt_long: one table gives parsing, help text,
 * completion words and the JSON echo of the configuration. */

#include "core/opt.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

/* getopt_long's val for a long option: above every char so it never collides with a short
 * option, and the row index is recovered by subtraction. */
#define OPT_LONG_VAL_BASE 0x10000

static bool row_takes_arg(const struct opt_row *r)
{
    switch (r->kind) {
    case OPT_FLAG:
    case OPT_COUNT:
        return false;
    case OPT_CALL:
        return r->arg_name != NULL;
    default:
        return true;
    }
}

static int row_has_arg_mode(const struct opt_row *r)
{
    if (!row_takes_arg(r))
        return no_argument;
    return r->arg_optional ? optional_argument : required_argument;
}

/* Builds getopt's short option string: '+' first for POSIX order, then "x", "x:" or "x::"
 * per row. The caller frees it. */
static char *build_short_string(const struct opt_table *t)
{
    char *s = malloc(t->nrows * 3 + 2);
    if (!s)
        return NULL;
    size_t n = 0;
    if (!t->permute)
        s[n++] = '+';
    for (size_t i = 0; i < t->nrows; i++) {
        const struct opt_row *r = &t->rows[i];
        if (r->short_name <= 0 || r->short_name > 127)
            continue;
        s[n++] = (char)r->short_name;
        int mode = row_has_arg_mode(r);
        if (mode != no_argument)
            s[n++] = ':';
        if (mode == optional_argument)
            s[n++] = ':';
    }
    s[n] = '\0';
    return s;
}

/* Builds getopt_long's option array (terminated by a zero row). The caller frees it. */
static struct option *build_long_array(const struct opt_table *t)
{
    struct option *lo = calloc(t->nrows + 1, sizeof *lo);
    if (!lo)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        const struct opt_row *r = &t->rows[i];
        if (!r->long_name)
            continue;
        lo[n].name = r->long_name;
        lo[n].has_arg = row_has_arg_mode(r);
        lo[n].flag = NULL;
        lo[n].val = OPT_LONG_VAL_BASE + (int)i;
        n++;
    }
    return lo;
}

static const struct opt_row *find_short(const struct opt_table *t, int c)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (t->rows[i].short_name == c)
            return &t->rows[i];
    return NULL;
}

static bool has_help_row(const struct opt_table *t)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (t->rows[i].long_name && strcmp(t->rows[i].long_name, "help") == 0)
            return true;
    return false;
}

static bool bounded(const struct opt_row *r)
{
    return !(r->min > r->max);
}

/* Strict decimal: optional '-', then digits only. */
static int parse_strict_ll(const char *s, long long *out, const char **why)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '\0') {
        *why = "not a number";
        return -EINVAL;
    }
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') {
            *why = "not a number";
            return -EINVAL;
        }
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) {
        *why = "out of range";
        return -ERANGE;
    }
    *out = v;
    return 0;
}

static int report_bad_value(const struct opt_table *t, const struct opt_row *r, const char *arg,
                            const char *why)
{
    if (t->bad_value)
        return t->bad_value(r, arg, why, t->ctx);
    if (r->long_name)
        fprintf(stderr, "%s: invalid value '%s' for --%s: %s\n", t->prog, arg, r->long_name, why);
    else
        fprintf(stderr, "%s: invalid value '%s' for -%c: %s\n", t->prog, arg, r->short_name, why);
    return t->usage_exit;
}

/* The message for a value outside [min, max]. */
static const char *range_why(const struct opt_row *r, char *buf, size_t len)
{
    snprintf(buf, len, "must be between %.15g and %.15g", r->min, r->max);
    return buf;
}

static int store_int(const struct opt_table *t, const struct opt_row *r, const char *arg)
{
    long long v = 0;
    const char *why = NULL;
    char buf[96];
    if (parse_strict_ll(arg, &v, &why) < 0) {
        if (bounded(r) && why && strcmp(why, "out of range") == 0)
            why = range_why(r, buf, sizeof buf);
        return report_bad_value(t, r, arg, why);
    }
    if (bounded(r) && ((double)v < r->min || (double)v > r->max))
        return report_bad_value(t, r, arg, range_why(r, buf, sizeof buf));
    if (r->dest)
        *(long long *)r->dest = v;
    return 0;
}

static int store_double(const struct opt_table *t, const struct opt_row *r, const char *arg)
{
    char buf[96];
    char *end = NULL;
    unsigned char c0 = (unsigned char)arg[0];
    if (c0 == '\0' || c0 == ' ' || (c0 >= '\t' && c0 <= '\r'))
        return report_bad_value(t, r, arg, "not a number");
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end != '\0')
        return report_bad_value(t, r, arg, "not a number");
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
        return report_bad_value(t, r, arg, "not a finite number");
    if (bounded(r) && (v < r->min || v > r->max))
        return report_bad_value(t, r, arg, range_why(r, buf, sizeof buf));
    if (r->dest)
        *(double *)r->dest = v;
    return 0;
}

/* Applies one occurrence of row r with argument arg (NULL when none). */
static int apply_row(const struct opt_table *t, const struct opt_row *r, const char *arg)
{
    int rc = 0;
    switch (r->kind) {
    case OPT_FLAG:
        if (r->dest)
            *(bool *)r->dest = true;
        break;
    case OPT_COUNT:
        if (r->dest)
            ++*(int *)r->dest;
        break;
    case OPT_STRING:
        if (r->dest && arg)
            *(const char **)r->dest = arg;
        break;
    case OPT_INT:
        if (arg)
            rc = store_int(t, r, arg);
        break;
    case OPT_DOUBLE:
        if (arg)
            rc = store_double(t, r, arg);
        break;
    case OPT_CALL:
        break;
    }
    if (rc == 0 && r->parse)
        rc = r->parse(r, arg, t->ctx);
    return rc;
}

/* After getopt's own message: the tool's hook, or the hint. getopt leaves optopt at the
 * short option's letter, at 0 for an unknown long option and at our val (above 255) for a
 * known long option used wrongly; a long option always consumes its whole word. */
static int report_unknown(const struct opt_table *t, char **argv)
{
    if (t->unknown) {
        char word[3];
        if (optopt > 0 && optopt < 256) {
            word[0] = '-';
            word[1] = (char)optopt;
            word[2] = '\0';
            return t->unknown(word, t->ctx);
        }
        return t->unknown(optind > 0 ? argv[optind - 1] : "", t->ctx);
    }
    if (has_help_row(t))
        fprintf(stderr, "Try '%s --help' for more information.\n", t->prog);
    return t->usage_exit;
}

int opt_parse(const struct opt_table *t, int argc, char **argv, int *first_operand)
{
    char *shorts = build_short_string(t);
    struct option *longs = build_long_array(t);
    int rc = 0;
    if (!shorts || !longs) {
        fprintf(stderr, "%s: out of memory parsing options\n", t->prog);
        rc = 71;
        goto out;
    }
    optind = 0; /* glibc: 0 re-initialises getopt completely, so parsing can be repeated */
    opterr = 1;
    for (;;) {
        int c = getopt_long(argc, argv, shorts, longs, NULL);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            rc = report_unknown(t, argv);
            goto out;
        }
        const struct opt_row *r =
            c >= OPT_LONG_VAL_BASE ? &t->rows[c - OPT_LONG_VAL_BASE] : find_short(t, c);
        if (!r) { /* cannot happen: getopt only returns what the tables hold */
            rc = t->usage_exit;
            goto out;
        }
        rc = apply_row(t, r, row_takes_arg(r) ? optarg : NULL);
        if (rc)
            goto out;
    }
    if (first_operand)
        *first_operand = optind;
out:
    free(shorts);
    free(longs);
    return rc;
}

/* The left column of a help line: "  -x, --name=ARG". */
static void format_left(const struct opt_row *r, char *buf, size_t len)
{
    char arg[128] = "";
    bool takes = row_takes_arg(r) && r->arg_name;
    if (takes) {
        if (r->arg_optional)
            snprintf(arg, sizeof arg, r->long_name ? "[=%s]" : "[%s]", r->arg_name);
        else
            snprintf(arg, sizeof arg, r->long_name ? "=%s" : " %s", r->arg_name);
    }
    if (r->short_name && r->long_name)
        snprintf(buf, len, "  -%c, --%s%s", r->short_name, r->long_name, arg);
    else if (r->long_name)
        snprintf(buf, len, "      --%s%s", r->long_name, arg);
    else
        snprintf(buf, len, "  -%c%s", r->short_name, arg);
}

/* Help text starts at this column at most; a longer left part puts the help on its own
 * line below. */
#define OPT_HELP_COL_MAX 32

void opt_print_help(const struct opt_table *t, FILE *out)
{
    char left[256];
    size_t width = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        if (!t->rows[i].help)
            continue;
        format_left(&t->rows[i], left, sizeof left);
        size_t n = strlen(left);
        if (n > width && n <= OPT_HELP_COL_MAX)
            width = n;
    }
    if (t->usage && *t->usage) {
        fputs(t->usage, out);
        if (t->usage[strlen(t->usage) - 1] != '\n')
            fputc('\n', out);
        fputc('\n', out);
    }
    size_t col = width + 2;
    for (size_t i = 0; i < t->nrows; i++) {
        const struct opt_row *r = &t->rows[i];
        if (!r->help)
            continue;
        format_left(r, left, sizeof left);
        size_t n = strlen(left);
        if (n + 2 > col)
            fprintf(out, "%s\n%*s", left, (int)col, "");
        else
            fprintf(out, "%s%*s", left, (int)(col - n), "");
        fputs(r->help, out);
        if (r->default_text)
            fprintf(out, " (default: %s)", r->default_text);
        fputc('\n', out);
    }
}

void opt_print_words(const struct opt_table *t, FILE *out)
{
    for (size_t i = 0; i < t->nrows; i++) {
        const struct opt_row *r = &t->rows[i];
        if (!r->help)
            continue;
        if (r->short_name)
            fprintf(out, "-%c\n", r->short_name);
        if (r->long_name)
            fprintf(out, "--%s\n", r->long_name);
    }
}

/* The JSON key of a row: its long name with '-' as '_', or its short letter. */
static void json_key_for(const struct opt_row *r, char *buf, size_t len)
{
    if (r->long_name) {
        snprintf(buf, len, "%s", r->long_name);
        for (char *p = buf; *p; p++)
            if (*p == '-')
                *p = '_';
    } else {
        snprintf(buf, len, "%c", r->short_name);
    }
}

void opt_json_config(const struct opt_table *t, struct json *j)
{
    char key[128];
    for (size_t i = 0; i < t->nrows; i++) {
        const struct opt_row *r = &t->rows[i];
        if (!r->dest)
            continue;
        json_key_for(r, key, sizeof key);
        switch (r->kind) {
        case OPT_FLAG:
            json_kv_bool(j, key, *(const bool *)r->dest);
            break;
        case OPT_COUNT:
            json_kv_i64(j, key, *(const int *)r->dest);
            break;
        case OPT_STRING: {
            const char *s = *(const char *const *)r->dest;
            json_key(j, key);
            if (s)
                json_string(j, s);
            else
                json_null(j);
            break;
        }
        case OPT_INT:
            json_kv_i64(j, key, *(const long long *)r->dest);
            break;
        case OPT_DOUBLE:
            json_kv_double(j, key, *(const double *)r->dest);
            break;
        case OPT_CALL:
            break; /* the dest's type is the callback's business */
        }
    }
}
