#ifndef NETGRIND_CORE_OPT_H
#define NETGRIND_CORE_OPT_H

/* Declarative command lines on top of getopt_long. A tool describes each option in one
 * row (long and short name, argument kind, default, help line, validator) and gets from
 * the same table: parsing, `--help` text, the bash-completion word list and the JSON echo
 * of the configuration. Option semantics that need more than a store (suffix grammars,
 * sub-option lists, repeatable lists) go in a parse callback, which is also where a tool
 * prints the original's own error messages. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json;

enum opt_kind {
    OPT_FLAG,   /* no argument; *(bool *)dest = true */
    OPT_COUNT,  /* no argument; ++*(int *)dest per use */
    OPT_STRING, /* *(const char **)dest = argument (points into argv) */
    OPT_INT,    /* strict decimal in [min, max]; *(long long *)dest */
    OPT_DOUBLE, /* strtod, finite, in [min, max]; *(double *)dest */
    OPT_CALL,   /* parse(row, arg, ctx) decides; arg is NULL for options without one */
};

struct opt_row;
/* A parse callback: 0 to go on, or an exit code to stop with (the callback has printed
 * its message). */
typedef int (*opt_parse_fn)(const struct opt_row *row, const char *arg, void *ctx);

struct opt_row {
    const char *long_name; /* NULL: short only */
    int short_name;        /* 0: long only */
    enum opt_kind kind;
    const char *arg_name;     /* shown in help ("N", "host:port"); NULL: no argument */
    bool arg_optional;        /* --name[=ARG] (long form only) */
    const char *help;         /* one line; NULL hides the option from --help */
    const char *default_text; /* shown as "(default: X)"; NULL for none */
    void *dest;
    double min, max; /* OPT_INT and OPT_DOUBLE bounds, inclusive; min > max: unbounded */
    opt_parse_fn parse;
    int id; /* free for the tool (e.g. which sub-option list this is) */
};

struct opt_table {
    const char *prog;  /* program name for messages: "seqtest" */
    const char *usage; /* first help line(s): "Usage: seqtest [-s|-S|-r] ..." */
    const struct opt_row *rows;
    size_t nrows;
    void *ctx;      /* passed to parse callbacks */
    int usage_exit; /* exit code for an unknown option or a missing argument (e.g. 64) */
    bool permute;   /* allow options after operands (GNU style); false: POSIX order */
    /* How a value that fails its kind or bounds is reported; NULL: the standard message
     * "<prog>: invalid value 'X' for --name: <why>". Returns the exit code. */
    int (*bad_value)(const struct opt_row *row, const char *arg, const char *why, void *ctx);
    /* Called after getopt's own message for an unknown option, a missing argument or an
     * argument given to an option that takes none, instead of the "Try ... --help" hint;
     * word is the option as written ("-c" for a short option, the whole argv word such as
     * "--bogus" or "--flag=x" for a long one), so a tool can print the original's extra
     * line (tcpkali: "-c: unknown option" and its usage). Returns the exit code. NULL:
     * the hint and t->usage_exit. (Added last so that existing initialisers stay valid.) */
    int (*unknown)(const char *word, void *ctx);
};

/* Parses argv. On success returns 0 and sets *first_operand to the index of the first
 * non-option argument. On an unknown option or a missing argument prints getopt's message
 * (with argv[0] as the program name) and then either calls t->unknown or, when the table
 * has a "help" row, prints the hint "Try '<prog> --help' for more information." to stderr
 * and returns t->usage_exit. A callback's nonzero return is passed on; a bad value for
 * OPT_INT/OPT_DOUBLE goes through t->bad_value. A row of any kind may have a parse callback: it runs after the store (so
 * it can validate or act on the stored value); for OPT_CALL it is the only action. An
 * optional argument that is absent leaves dest unchanged (FLAG/COUNT aside) and passes
 * NULL to the callback. Resets getopt (optind = 0) first, so it may be called again in
 * the same process; not thread-safe (getopt's state is global). */
int opt_parse(const struct opt_table *t, int argc, char **argv, int *first_operand);

/* The --help text: usage, a blank line, then one line per visible row:
 * "  -x, --name=ARG  help (default: D)", the help column aligned across rows (a left part
 * wider than 32 columns puts its help on the next line at that column). */
void opt_print_help(const struct opt_table *t, FILE *out);
/* Every option spelling (-x and --name) of the visible rows (help != NULL), one per line,
 * for bash completion. */
void opt_print_words(const struct opt_table *t, FILE *out);
/* Echoes every row with a dest as "name": value into the current JSON object. The key is
 * the long name with '-' written '_' (or the short letter); FLAG as bool, COUNT and INT as
 * integers, DOUBLE as a number, STRING as a string or null. OPT_CALL rows are skipped (the
 * type behind their dest is the callback's). */
void opt_json_config(const struct opt_table *t, struct json *j);

#endif
