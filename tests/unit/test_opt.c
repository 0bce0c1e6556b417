/* Unit tests for src/core/opt.c: each option kind, bounds, getopt's errors (stderr is
 * captured), the hooks, repeated parsing, help layout, completion words, JSON echo. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/json.h"
#include "core/opt.h"

/* ---- capturing stderr: fd 2 goes to a temporary file during a call ---- */

static int saved_stderr = -1;
static FILE *capture_file;
static char captured[4096];

static void capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(2);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(capture_file), 2) == 2);
}

static const char *capture_end(void)
{
    fflush(stderr);
    assert_true(dup2(saved_stderr, 2) == 2);
    close(saved_stderr);
    rewind(capture_file);
    size_t n = fread(captured, 1, sizeof captured - 1, capture_file);
    captured[n] = '\0';
    fclose(capture_file);
    return captured;
}

/* ---- the option table under test ---- */

struct config {
    bool flag;
    int verbose;
    const char *name;
    long long count;
    long long offset;
    double ratio;
    const char *opt_arg;
    int calls;
    const char *last_call_arg;
    bool call_fail;
    long long checked;
    int unknown_calls;
    char unknown_word[64];
    int bad_calls;
    char bad_why[128];
};

static struct config cfg;

static int on_call(const struct opt_row *row, const char *arg, void *ctx)
{
    struct config *c = ctx;
    c->calls++;
    c->last_call_arg = arg;
    if (c->call_fail) {
        fprintf(stderr, "%s: refused\n", row->long_name);
        return 3;
    }
    return 0;
}

/* A validator on an OPT_INT row: sees the stored value. */
static int check_even(const struct opt_row *row, const char *arg, void *ctx)
{
    (void)arg;
    struct config *c = ctx;
    if (*(long long *)row->dest % 2 != 0)
        return 5;
    c->checked = *(long long *)row->dest;
    return 0;
}

static const struct opt_row rows[] = {
    {.long_name = "flag",
     .short_name = 'f',
     .kind = OPT_FLAG,
     .help = "set a flag",
     .dest = &cfg.flag},
    {.long_name = "verbose",
     .short_name = 'v',
     .kind = OPT_COUNT,
     .help = "more output",
     .dest = &cfg.verbose},
    {.long_name = "name",
     .short_name = 'n',
     .kind = OPT_STRING,
     .arg_name = "NAME",
     .help = "a name",
     .default_text = "none",
     .dest = &cfg.name},
    {.long_name = "count",
     .short_name = 'c',
     .kind = OPT_INT,
     .arg_name = "N",
     .help = "how many",
     .default_text = "1",
     .dest = &cfg.count,
     .min = 1,
     .max = 100},
    {.long_name = "offset",
     .kind = OPT_INT,
     .arg_name = "N",
     .help = "any integer",
     .dest = &cfg.offset,
     .min = 1,
     .max = 0},
    {.long_name = "ratio",
     .short_name = 'r',
     .kind = OPT_DOUBLE,
     .arg_name = "X",
     .help = "a ratio",
     .dest = &cfg.ratio,
     .min = 0,
     .max = 1},
    {.long_name = "opt",
     .short_name = 'o',
     .kind = OPT_STRING,
     .arg_name = "ARG",
     .arg_optional = true,
     .help = "optional argument",
     .dest = &cfg.opt_arg},
    {.long_name = "call",
     .short_name = 'k',
     .kind = OPT_CALL,
     .arg_name = "SPEC",
     .help = "a callback",
     .parse = on_call},
    {.long_name = "touch",
     .kind = OPT_CALL,
     .help = "a callback without argument",
     .parse = on_call},
    {.short_name = 'e',
     .kind = OPT_INT,
     .arg_name = "EVEN",
     .help = "short only, even",
     .dest = &cfg.checked,
     .min = 1,
     .max = 0,
     .parse = check_even},
    {.long_name = "an-option-with-a-really-long-name",
     .kind = OPT_FLAG,
     .help = "wide left column goes on its own line"},
    {.long_name = "hidden", .short_name = 'H', .kind = OPT_FLAG, .dest = &cfg.flag},
    {.long_name = "help", .short_name = 'h', .kind = OPT_FLAG, .help = "show this help"},
};

static struct opt_table table = {
    .prog = "tool",
    .usage = "Usage: tool [options] host:port...",
    .rows = rows,
    .nrows = sizeof rows / sizeof rows[0],
    .ctx = &cfg,
    .usage_exit = 64,
};

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    table.permute = false;
    table.bad_value = NULL;
    table.unknown = NULL;
    return 0;
}

/* Parses a NULL-terminated list of words (argv[0] = "prog0"). */
static int parse_words(int *first, ...)
{
    static char *argv[32];
    static char storage[32][128];
    va_list ap;
    va_start(ap, first);
    int argc = 0;
    argv[argc++] = strcpy(storage[0], "prog0");
    for (const char *w; (w = va_arg(ap, const char *)) != NULL;) {
        assert_true(argc < 31);
        argv[argc] = strcpy(storage[argc], w);
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;
    int dummy;
    return opt_parse(&table, argc, argv, first ? first : &dummy);
}

static void test_flag_count_string(void **state)
{
    (void)state;
    int first = -1;
    assert_int_equal(parse_words(&first, "-f", "-vvv", "--verbose", "-n", "alice", "x", NULL), 0);
    assert_true(cfg.flag);
    assert_int_equal(cfg.verbose, 4);
    assert_string_equal(cfg.name, "alice");
    assert_int_equal(first, 6);

    assert_int_equal(parse_words(&first, "--name=bob", "-nzed", NULL), 0);
    assert_string_equal(cfg.name, "zed"); /* last wins */
    assert_int_equal(first, 3);
    assert_int_equal(parse_words(&first, "--name", "", NULL), 0);
    assert_string_equal(cfg.name, "");
}

static void test_int_bounds_and_errors(void **state)
{
    (void)state;
    assert_int_equal(parse_words(NULL, "-c", "1", NULL), 0);
    assert_int_equal(cfg.count, 1);
    assert_int_equal(parse_words(NULL, "--count=100", NULL), 0);
    assert_int_equal(cfg.count, 100);
    assert_int_equal(parse_words(NULL, "--offset", "-9223372036854775808", NULL), 0);
    assert_true(cfg.offset == INT64_MIN);
    assert_int_equal(parse_words(NULL, "--offset=9223372036854775807", NULL), 0);
    assert_true(cfg.offset == INT64_MAX);

    const struct {
        const char *word, *msg;
    } bad[] = {
        {"-c0", "tool: invalid value '0' for --count: must be between 1 and 100\n"},
        {"-c101", "tool: invalid value '101' for --count: must be between 1 and 100\n"},
        {"-c-1", "tool: invalid value '-1' for --count: must be between 1 and 100\n"},
        {"-c1x", "tool: invalid value '1x' for --count: not a number\n"},
        {"-c 1", "tool: invalid value ' 1' for --count: not a number\n"},
        {"-c+1", "tool: invalid value '+1' for --count: not a number\n"},
        {"-c1.0", "tool: invalid value '1.0' for --count: not a number\n"},
        {"-c-", "tool: invalid value '-' for --count: not a number\n"},
        {"--count=", "tool: invalid value '' for --count: not a number\n"},
        {"-c99999999999999999999",
         "tool: invalid value '99999999999999999999' for --count: must be between 1 and 100\n"},
        {"--offset=9223372036854775808",
         "tool: invalid value '9223372036854775808' for --offset: out of range\n"},
        {"-e3", "tool: invalid value '3' for -e: odd\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (strcmp(bad[i].word, "-e3") == 0)
            continue; /* covered by the validator test */
        cfg.count = 42;
        capture_begin();
        int rc = parse_words(NULL, bad[i].word, NULL);
        const char *out = capture_end();
        assert_int_equal(rc, 64);
        assert_string_equal(out, bad[i].msg);
        assert_int_equal(cfg.count, 42); /* not stored */
    }
}

static void test_int_validator_callback(void **state)
{
    (void)state;
    assert_int_equal(parse_words(NULL, "-e", "4", NULL), 0);
    assert_int_equal(cfg.checked, 4);
    assert_int_equal(parse_words(NULL, "-e", "3", NULL), 5); /* the callback's code */
    capture_begin();
    int rc = parse_words(NULL, "-e", "x", NULL);
    const char *out = capture_end();
    assert_int_equal(rc, 64);
    assert_string_equal(out, "tool: invalid value 'x' for -e: not a number\n");
}

static void test_double(void **state)
{
    (void)state;
    assert_int_equal(parse_words(NULL, "-r", "0.25", NULL), 0);
    assert_true(cfg.ratio == 0.25);
    assert_int_equal(parse_words(NULL, "--ratio=1", NULL), 0);
    assert_true(cfg.ratio == 1);
    assert_int_equal(parse_words(NULL, "-r0", NULL), 0);
    assert_true(cfg.ratio == 0);
    assert_int_equal(parse_words(NULL, "-r", "2.5e-1", NULL), 0);
    assert_true(cfg.ratio == 0.25);

    const struct {
        const char *word, *msg;
    } bad[] = {
        {"-r1.5", "tool: invalid value '1.5' for --ratio: must be between 0 and 1\n"},
        {"-r-0.1", "tool: invalid value '-0.1' for --ratio: must be between 0 and 1\n"},
        {"-rinf", "tool: invalid value 'inf' for --ratio: not a finite number\n"},
        {"-rnan", "tool: invalid value 'nan' for --ratio: not a finite number\n"},
        {"-r1e999", "tool: invalid value '1e999' for --ratio: not a finite number\n"},
        {"-r0.5x", "tool: invalid value '0.5x' for --ratio: not a number\n"},
        {"-r 0.5", "tool: invalid value ' 0.5' for --ratio: not a number\n"},
        {"--ratio=", "tool: invalid value '' for --ratio: not a number\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.ratio = 0.5;
        capture_begin();
        int rc = parse_words(NULL, bad[i].word, NULL);
        const char *out = capture_end();
        assert_int_equal(rc, 64);
        assert_string_equal(out, bad[i].msg);
        assert_true(cfg.ratio == 0.5);
    }
}

static int custom_bad_value(const struct opt_row *row, const char *arg, const char *why, void *ctx)
{
    struct config *c = ctx;
    c->bad_calls++;
    snprintf(c->bad_why, sizeof c->bad_why, "%s|%s|%s", row->long_name, arg, why);
    return 7;
}

static void test_bad_value_hook(void **state)
{
    (void)state;
    table.bad_value = custom_bad_value;
    capture_begin();
    int rc = parse_words(NULL, "--count", "abc", NULL);
    const char *out = capture_end();
    assert_int_equal(rc, 7);
    assert_string_equal(out, ""); /* the hook prints, not opt */
    assert_int_equal(cfg.bad_calls, 1);
    assert_string_equal(cfg.bad_why, "count|abc|not a number");
}

static void test_optional_argument(void **state)
{
    (void)state;
    assert_int_equal(parse_words(NULL, "--opt", NULL), 0);
    assert_null(cfg.opt_arg); /* absent: dest unchanged */
    assert_int_equal(parse_words(NULL, "--opt=val", NULL), 0);
    assert_string_equal(cfg.opt_arg, "val");
    assert_int_equal(parse_words(NULL, "-oshort", NULL), 0);
    assert_string_equal(cfg.opt_arg, "short");
    int first;
    cfg.opt_arg = NULL;
    /* An optional argument is never taken from the next word. */
    assert_int_equal(parse_words(&first, "--opt", "word", NULL), 0);
    assert_null(cfg.opt_arg);
    assert_int_equal(first, 2);
}

static void test_callbacks(void **state)
{
    (void)state;
    assert_int_equal(parse_words(NULL, "-k", "spec1", "--call=spec2", "--touch", NULL), 0);
    assert_int_equal(cfg.calls, 3);
    assert_null(cfg.last_call_arg); /* --touch takes no argument */
    assert_int_equal(parse_words(NULL, "--call", "x", NULL), 0);
    assert_string_equal(cfg.last_call_arg, "x");
    cfg.call_fail = true;
    cfg.calls = 0;
    capture_begin();
    int rc = parse_words(NULL, "--call", "x", "-f", NULL);
    const char *out = capture_end();
    assert_int_equal(rc, 3);
    assert_string_equal(out, "call: refused\n");
    assert_false(cfg.flag); /* parsing stopped at the callback */
}

static void test_posix_order_and_permute(void **state)
{
    (void)state;
    int first = -1;
    assert_int_equal(parse_words(&first, "-f", "host:1", "-v", NULL), 0);
    assert_true(cfg.flag);
    assert_int_equal(cfg.verbose, 0); /* POSIX: stops at the first operand */
    assert_int_equal(first, 2);

    table.permute = true;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(parse_words(&first, "host:1", "-v", "other", "-f", NULL), 0);
    assert_int_equal(cfg.verbose, 1);
    assert_true(cfg.flag);
    assert_int_equal(first, 3); /* operands moved to the end: argv[3..4] */

    /* "--" ends options in both modes. */
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(parse_words(&first, "-v", "--", "-f", NULL), 0);
    assert_int_equal(cfg.verbose, 1);
    assert_false(cfg.flag);
    assert_int_equal(first, 3);
}

static void test_unknown_and_missing(void **state)
{
    (void)state;
    capture_begin();
    int rc = parse_words(NULL, "--bogus", NULL);
    const char *out = capture_end();
    assert_int_equal(rc, 64);
    assert_string_equal(out, "prog0: unrecognized option '--bogus'\n"
                             "Try 'tool --help' for more information.\n");

    capture_begin();
    rc = parse_words(NULL, "-z", NULL);
    out = capture_end();
    assert_int_equal(rc, 64);
    assert_string_equal(out, "prog0: invalid option -- 'z'\n"
                             "Try 'tool --help' for more information.\n");

    capture_begin();
    rc = parse_words(NULL, "-c", NULL);
    out = capture_end();
    assert_int_equal(rc, 64);
    assert_string_equal(out, "prog0: option requires an argument -- 'c'\n"
                             "Try 'tool --help' for more information.\n");

    capture_begin();
    rc = parse_words(NULL, "--count", NULL);
    out = capture_end();
    assert_int_equal(rc, 64);
    assert_string_equal(out, "prog0: option '--count' requires an argument\n"
                             "Try 'tool --help' for more information.\n");

    capture_begin();
    rc = parse_words(NULL, "--flag=1", NULL);
    out = capture_end();
    assert_int_equal(rc, 64);
    assert_string_equal(out, "prog0: option '--flag' doesn't allow an argument\n"
                             "Try 'tool --help' for more information.\n");
}

static int on_unknown(const char *word, void *ctx)
{
    struct config *c = ctx;
    c->unknown_calls++;
    snprintf(c->unknown_word, sizeof c->unknown_word, "%s", word);
    fprintf(stderr, "%s: unknown option\n", word);
    return 9;
}

static void test_unknown_hook(void **state)
{
    (void)state;
    table.unknown = on_unknown;
    const struct {
        const char *word, *seen;
    } cases[] = {
        {"--bogus", "--bogus"}, {"--bogus=1", "--bogus=1"}, {"-c", "-c"},           {"-vz", "-z"},
        {"-zv", "-z"},          {"--flag=1", "--flag=1"},   {"--count", "--count"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg.unknown_calls = 0;
        capture_begin();
        int rc = parse_words(NULL, cases[i].word, NULL);
        const char *out = capture_end();
        assert_int_equal(rc, 9);
        assert_int_equal(cfg.unknown_calls, 1);
        assert_string_equal(cfg.unknown_word, cases[i].seen);
        char want[128];
        snprintf(want, sizeof want, "%s: unknown option\n", cases[i].seen);
        assert_non_null(strstr(out, want));
        assert_null(strstr(out, "Try 'tool --help'"));
        assert_true(strncmp(out, "prog0: ", 7) == 0); /* getopt's own line comes first */
    }
}

static void test_no_hint_without_help_row(void **state)
{
    (void)state;
    const struct opt_row one[] = {{.short_name = 'x', .kind = OPT_FLAG, .help = "x"}};
    const struct opt_table t = {.prog = "p", .rows = one, .nrows = 1, .usage_exit = 255};
    char *argv[] = {"p", "-y", NULL};
    int first;
    capture_begin();
    int rc = opt_parse(&t, 2, argv, &first);
    const char *out = capture_end();
    assert_int_equal(rc, 255);
    assert_string_equal(out, "p: invalid option -- 'y'\n");
}

static void test_parse_is_repeatable(void **state)
{
    (void)state;
    /* A failed parse in the middle of a short-option cluster must not leak into the next. */
    capture_begin();
    assert_int_equal(parse_words(NULL, "-fzv", NULL), 64);
    capture_end();
    memset(&cfg, 0, sizeof cfg);
    int first;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(parse_words(&first, "-v", "-c", "5", "op", NULL), 0);
        assert_int_equal(first, 4);
    }
    assert_int_equal(cfg.verbose, 50);
    assert_int_equal(cfg.count, 5);
    assert_false(cfg.flag);
}

/* noinline: keeps GCC's -Wdangling-pointer from confusing &buf with the result. */
__attribute__((noinline)) static char *render(void (*fn)(const struct opt_table *, FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(&table, f);
    fclose(f);
    return buf;
}

static void test_help_text(void **state)
{
    (void)state;
    char *help = render(opt_print_help);
    const char *want = "Usage: tool [options] host:port...\n"
                       "\n"
                       "  -f, --flag       set a flag\n"
                       "  -v, --verbose    more output\n"
                       "  -n, --name=NAME  a name (default: none)\n"
                       "  -c, --count=N    how many (default: 1)\n"
                       "      --offset=N   any integer\n"
                       "  -r, --ratio=X    a ratio\n"
                       "  -o, --opt[=ARG]  optional argument\n"
                       "  -k, --call=SPEC  a callback\n"
                       "      --touch      a callback without argument\n"
                       "  -e EVEN          short only, even\n"
                       "      --an-option-with-a-really-long-name\n"
                       "                   wide left column goes on its own line\n"
                       "  -h, --help       show this help\n";
    assert_string_equal(help, want);
    free(help);
}

static void test_help_columns_align(void **state)
{
    (void)state;
    /* Every row's help text starts in the same column, whether or not its left part had to
     * wrap; the column is the widest left part (below the cap) plus two spaces. */
    char *help = render(opt_print_help);
    size_t visible = 0;
    for (size_t i = 0; i < table.nrows; i++) {
        if (!rows[i].help)
            continue;
        visible++;
        const char *at = strstr(help, rows[i].help);
        assert_non_null(at);
        const char *line = at;
        while (line > help && line[-1] != '\n')
            line--;
        assert_int_equal(at - line, 19);
        assert_true(at[-1] == ' ' && at[-2] == ' '); /* at least two spaces before it */
    }
    assert_int_equal(visible, table.nrows - 1);
    free(help);
}

static void test_completion_words(void **state)
{
    (void)state;
    char *words = render(opt_print_words);
    assert_string_equal(words, "-f\n--flag\n-v\n--verbose\n-n\n--name\n-c\n--count\n--offset\n"
                               "-r\n--ratio\n-o\n--opt\n-k\n--call\n--touch\n-e\n"
                               "--an-option-with-a-really-long-name\n-h\n--help\n");
    assert_null(strstr(words, "hidden")); /* rows without help stay hidden */
    free(words);
}

static void test_json_config(void **state)
{
    (void)state;
    assert_int_equal(
        parse_words(NULL, "-f", "-vv", "-n", "a\"b", "-c", "7", "-r", "0.5", "--offset=-3", NULL),
        0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json j;
    json_init(&j, f, false);
    json_object_begin(&j);
    opt_json_config(&table, &j);
    json_object_end(&j);
    assert_int_equal(json_finish(&j), 0);
    fclose(f);
    assert_string_equal(buf, "{\"flag\":true,\"verbose\":2,\"name\":\"a\\\"b\",\"count\":7,"
                             "\"offset\":-3,\"ratio\":0.5,\"opt\":null,\"e\":0,"
                             "\"hidden\":true}\n");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flag_count_string, setup),
        cmocka_unit_test_setup(test_int_bounds_and_errors, setup),
        cmocka_unit_test_setup(test_int_validator_callback, setup),
        cmocka_unit_test_setup(test_double, setup),
        cmocka_unit_test_setup(test_bad_value_hook, setup),
        cmocka_unit_test_setup(test_optional_argument, setup),
        cmocka_unit_test_setup(test_callbacks, setup),
        cmocka_unit_test_setup(test_posix_order_and_permute, setup),
        cmocka_unit_test_setup(test_unknown_and_missing, setup),
        cmocka_unit_test_setup(test_unknown_hook, setup),
        cmocka_unit_test_setup(test_no_hint_without_help_row, setup),
        cmocka_unit_test_setup(test_parse_is_repeatable, setup),
        cmocka_unit_test_setup(test_help_text, setup),
        cmocka_unit_test_setup(test_help_columns_align, setup),
        cmocka_unit_test_setup(test_completion_words, setup),
        cmocka_unit_test_setup(test_json_config, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
