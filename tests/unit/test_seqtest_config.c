/* seqtest's command line: -o sub-options, the size and delay rules (inclusive ranges, the
 * documented meaning of a lone _min or _max, rounding up to 40, errors instead of wraps),
 * the whole argv (modes, unknown flags, --json), the address forms, and the draws (every
 * value inside its range, both ends reached, deterministic). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"
#include "seqtest/config.h"
#include "seqtest/run.h"

static char err[512];

/* Applies one -o string and finishes; returns the result of whichever failed first. */
static int apply(struct seq_config *c, const char *opts)
{
    seq_config_init(c);
    err[0] = '\0';
    int rc = seq_config_subopts(c, opts, err, sizeof err);
    if (rc == 0)
        rc = seq_config_finish(c, err, sizeof err);
    return rc;
}

static void assert_range(const struct seq_range *r, uint64_t min, uint64_t max)
{
    assert_true(r->min == min);
    assert_true(r->max == max);
}

static void test_defaults(void **state)
{
    (void)state;
    struct seq_config c;
    assert_int_equal(apply(&c, ""), 0);
    assert_int_equal(c.mode, SEQ_MODE_ASYNC);
    assert_range(&c.ssize, 40, 40);
    assert_range(&c.rsize, 40, 40);
    assert_range(&c.sdelay, 0, 0);
    assert_range(&c.rdelay, 0, 0);
    assert_true(c.rinterval == 1);
    assert_true(c.count == 1);
    assert_true(c.threads == 0);
    assert_false(c.verify);
    assert_null(c.dump_path);
}

static void test_sizes(void **state)
{
    (void)state;
    struct seq_config c;
    assert_int_equal(apply(&c, "ssize=100"), 0);
    assert_range(&c.ssize, 100, 100);
    /* Only _min: from it up to 8000, as the README says (the original gave a fixed size). */
    assert_int_equal(apply(&c, "ssize_min=100"), 0);
    assert_range(&c.ssize, 100, 8000);
    /* Only _max: from 40 up to it. */
    assert_int_equal(apply(&c, "rsize_max=500"), 0);
    assert_range(&c.rsize, 40, 500);
    assert_int_equal(apply(&c, "ssize_min=100,ssize_max=200,rsize_min=41,rsize_max=8000"), 0);
    assert_range(&c.ssize, 100, 200);
    assert_range(&c.rsize, 41, 8000);
    /* Below 40 rounds up to the header size (the README's rule). */
    assert_int_equal(apply(&c, "ssize=0,rsize_min=39"), 0);
    assert_range(&c.ssize, 40, 40);
    assert_range(&c.rsize, 40, 8000);
    /* Later values override earlier ones. */
    assert_int_equal(apply(&c, "ssize=100,ssize_max=300"), 0);
    assert_range(&c.ssize, 100, 300);
    assert_int_equal(apply(&c, "ssize=8000"), 0);
    assert_range(&c.ssize, 8000, 8000);
}

static void test_size_errors(void **state)
{
    (void)state;
    struct seq_config c;
    assert_int_not_equal(apply(&c, "ssize=8001"), 0);
    assert_string_equal(err, "ssize=8001: above the maximum message size 8000");
    /* 65576 would have wrapped to 40 in the original's uint16. */
    assert_int_not_equal(apply(&c, "rsize_max=65576"), 0);
    assert_non_null(strstr(err, "above the maximum message size 8000"));
    assert_int_not_equal(apply(&c, "ssize=12x"), 0);
    assert_string_equal(err, "ssize=12x: '12x' is not a number");
    assert_int_not_equal(apply(&c, "ssize=-5"), 0);
    assert_int_not_equal(apply(&c, "ssize= 5"), 0);
    assert_int_not_equal(apply(&c, "ssize=99999999999999999999999"), 0);
    assert_int_not_equal(apply(&c, "ssize_min=500,ssize_max=100"), 0);
    assert_string_equal(err, "ssize_max (100) is below ssize_min (500)");
    assert_int_not_equal(apply(&c, "rsize_max=100,rsize_min=200"), 0);
    assert_string_equal(err, "rsize_max (100) is below rsize_min (200)");
}

static void test_delays(void **state)
{
    (void)state;
    struct seq_config c;
    assert_int_equal(apply(&c, "sdelay=1000"), 0);
    assert_range(&c.sdelay, 1000, 1000);
    /* Only _min: a fixed delay; only _max: from 0. */
    assert_int_equal(apply(&c, "sdelay_min=1000,rdelay_max=5000"), 0);
    assert_range(&c.sdelay, 1000, 1000);
    assert_range(&c.rdelay, 0, 5000);
    assert_int_equal(apply(&c, "rdelay_min=10,rdelay_max=20,sdelay_min=0,sdelay_max=4294967295"),
                     0);
    assert_range(&c.rdelay, 10, 20);
    assert_range(&c.sdelay, 0, 4294967295ULL);
    assert_int_not_equal(apply(&c, "rdelay=4294967296"), 0);
    assert_string_equal(err, "rdelay=4294967296: above 4294967295 ns (the header's 32-bit field)");
    assert_int_not_equal(apply(&c, "sdelay_min=20,sdelay_max=10"), 0);
    assert_string_equal(err, "sdelay_max (10) is below sdelay_min (20)");
}

static void test_other_options(void **state)
{
    (void)state;
    struct seq_config c;
    assert_int_equal(apply(&c, "threads=10000,rinterval=0,count=7,dump=/tmp/x,verify,workers=3"),
                     0);
    assert_true(c.threads == 10000);
    assert_true(c.rinterval == 0);
    assert_true(c.count == 7);
    assert_string_equal(c.dump_path, "/tmp/x");
    assert_true(c.verify);
    assert_true(c.workers == 3);
    seq_config_free(&c);
    assert_null(c.dump_path);
    assert_int_equal(apply(&c, "dump=a,dump=b"), 0); /* a later value replaces the first */
    assert_string_equal(c.dump_path, "b");
    seq_config_free(&c);
    assert_int_equal(apply(&c, "verify=0,seed=42"), 0);
    assert_false(c.verify);
    assert_true(c.seed_set);
    assert_true(c.seed == 42);
    /* Empty items are skipped. */
    assert_int_equal(apply(&c, ",count=3,,"), 0);
    assert_true(c.count == 3);
}

static void test_option_errors(void **state)
{
    (void)state;
    struct seq_config c;
    assert_int_not_equal(apply(&c, "count=0"), 0);
    assert_string_equal(err, "count must be at least 1");
    assert_int_not_equal(apply(&c, "bogus=1"), 0);
    assert_string_equal(err, "bad option bogus=1");
    assert_int_not_equal(apply(&c, "count=2,ssizex"), 0);
    assert_string_equal(err, "bad option ssizex");
    assert_int_not_equal(apply(&c, "ssize"), 0);
    assert_string_equal(err, "no value for ssize");
    assert_int_not_equal(apply(&c, "dump="), 0);
    assert_string_equal(err, "no value for dump");
    assert_int_not_equal(apply(&c, "threads=1000001"), 0);
    assert_string_equal(err, "threads=1000001: above 1000000");
    assert_int_not_equal(apply(&c, "verify=2"), 0);
    assert_int_not_equal(apply(&c, "rinterval=4294967296"), 0);
}

/* ---- argv -------------------------------------------------------------------------- */

static int parse(struct seq_config *c, bool *printed, int argc, ...)
{
    static char store[16][128];
    char *argv[17];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        snprintf(store[i], sizeof store[i], "%s", va_arg(ap, const char *));
        argv[i] = store[i];
    }
    va_end(ap);
    argv[argc] = NULL;
    seq_config_init(c);
    err[0] = '\0';
    return seq_config_parse(c, argc, argv, printed, err, sizeof err);
}

static void test_argv_modes(void **state)
{
    (void)state;
    struct seq_config c;
    bool printed;
    assert_int_equal(parse(&c, &printed, 2, "seqtest", "127.0.0.1:1"), 0);
    assert_int_equal(c.mode, SEQ_MODE_ASYNC);
    assert_int_equal(c.naddrs, 1);
    assert_string_equal(c.addrs[0], "127.0.0.1:1");
    assert_int_equal(parse(&c, &printed, 3, "seqtest", "-S", "h:1"), 0);
    assert_int_equal(c.mode, SEQ_MODE_SYNC);
    /* The last mode wins, as in the original; -S forces rinterval to 1. */
    assert_int_equal(
        parse(&c, &printed, 6, "seqtest", "-r", "-s", "-S", "-o", "rinterval=5", "h:1"),
        1); /* 6 args: "h:1" is not among them */
    assert_string_equal(err, "no address!");
    assert_int_equal(
        parse(&c, &printed, 7, "seqtest", "-r", "-s", "-S", "-o", "rinterval=5", "h:1"), 0);
    assert_int_equal(c.mode, SEQ_MODE_SYNC);
    assert_true(c.rinterval == 1);
    /* Options after the addresses, -d repeated, -o repeated. */
    assert_int_equal(parse(&c, &printed, 9, "seqtest", "a:1", "-d", "b:2", "-o", "count=5", "-dd",
                           "-o", "count=6"),
                     0);
    assert_int_equal(c.naddrs, 2);
    assert_int_equal(c.debug, 3);
    assert_true(c.count == 6);
    assert_int_equal(parse(&c, &printed, 4, "seqtest", "--json", "-r", "h:1"), 0);
    assert_true(c.json);
    assert_int_equal(c.mode, SEQ_MODE_REPLIER);
    assert_int_equal(parse(&c, &printed, 2, "seqtest", "--help"), 0);
    assert_true(c.help);
}

static void test_argv_errors(void **state)
{
    (void)state;
    struct seq_config c;
    bool printed;
    /* An unknown flag is an error (exit 1), with getopt's own message already printed. */
    assert_int_equal(parse(&c, &printed, 3, "seqtest", "-x", "h:1"), 1);
    assert_true(printed);
    assert_int_equal(parse(&c, &printed, 3, "seqtest", "--bogus", "h:1"), 1);
    assert_true(printed);
    assert_int_equal(parse(&c, &printed, 2, "seqtest", "-o"), 1);
    assert_true(printed);
    assert_int_equal(parse(&c, &printed, 4, "seqtest", "-o", "count=0", "h:1"), 1);
    assert_false(printed);
    assert_string_equal(err, "count must be at least 1");
    assert_int_equal(parse(&c, &printed, 4, "seqtest", "-o", "nope", "h:1"), 1);
    assert_string_equal(err, "bad option nope");
    assert_int_equal(parse(&c, &printed, 2, "seqtest", "-S"), 1);
    assert_string_equal(err, "no address!");
}

static void test_wants_json(void **state)
{
    (void)state;
    char *a1[] = {"seqtest", "-x", "--json", NULL};
    char *a2[] = {"seqtest", "--json-stream", "h:1", NULL};
    char *a3[] = {"seqtest", "--", "--json", NULL};
    bool stream;
    assert_true(seq_config_wants_json(3, a1, &stream));
    assert_false(stream);
    assert_true(seq_config_wants_json(3, a2, &stream));
    assert_true(stream);
    assert_false(seq_config_wants_json(3, a3, &stream));
}

/* ---- addresses --------------------------------------------------------------------- */

static void test_address_forms(void **state)
{
    (void)state;
    struct addr_endpoint ep;
    assert_int_equal(seq_config_parse_address("127.0.0.1:5000", false, &ep, err, sizeof err), 0);
    assert_string_equal(ep.host, "127.0.0.1");
    assert_string_equal(ep.port, "5000");
    assert_false(ep.has_local);
    assert_int_equal(seq_config_parse_address("[::1]:5000", false, &ep, err, sizeof err), 0);
    assert_string_equal(ep.host, "::1");
    assert_string_equal(ep.port, "5000");
    assert_int_equal(seq_config_parse_address("localhost:0", true, &ep, err, sizeof err), 0);
    assert_string_equal(ep.host, "localhost");
    assert_string_equal(ep.port, "0");
    assert_int_equal(seq_config_parse_address("127.0.0.2,127.0.0.1:7", false, &ep, err, sizeof err),
                     0);
    assert_true(ep.has_local);
    assert_string_equal(ep.local, "127.0.0.2");
    assert_string_equal(ep.host, "127.0.0.1");
    assert_string_equal(ep.port, "7");
    assert_int_equal(seq_config_parse_address("[::1],[::1]:7", false, &ep, err, sizeof err), 0);
    assert_string_equal(ep.local, "::1");
    assert_string_equal(ep.host, "::1");
    /* An empty host: the replier listens on every address. */
    assert_int_equal(seq_config_parse_address(":9", true, &ep, err, sizeof err), 0);
    assert_string_equal(ep.host, "");
    assert_string_equal(ep.port, "9");
}

static void test_address_errors(void **state)
{
    (void)state;
    struct addr_endpoint ep;
    assert_int_not_equal(seq_config_parse_address("127.0.0.1", false, &ep, err, sizeof err), 0);
    assert_string_equal(err, "no port found: 127.0.0.1");
    assert_int_not_equal(seq_config_parse_address("[::1]", false, &ep, err, sizeof err), 0);
    assert_string_equal(err, "no port found: [::1]");
    assert_int_not_equal(seq_config_parse_address("host:", false, &ep, err, sizeof err), 0);
    assert_string_equal(err, "no port found: host:");
    assert_int_not_equal(
        seq_config_parse_address("1.2.3.4,127.0.0.1:0", true, &ep, err, sizeof err), 0);
    assert_string_equal(
        err, "the local,host:port form is for the senders (-s, -S): 1.2.3.4,127.0.0.1:0");
    assert_int_not_equal(seq_config_parse_address("[::1:80", false, &ep, err, sizeof err), 0);
}

/* ---- draws ------------------------------------------------------------------------- */

static void test_range_pick(void **state)
{
    (void)state;
    struct seq_range r = {40, 42, true, true};
    int seen[3] = {0};
    uint64_t x = 1;
    for (int i = 0; i < 3000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t v = seq_range_pick(&r, x);
        assert_true(v >= 40 && v <= 42);
        seen[v - 40]++;
    }
    for (int i = 0; i < 3; i++) /* both ends are reached: the range is inclusive */
        assert_true(seen[i] > 800);
    assert_true(seq_range_pick(&r, 0) == 40);
    assert_true(seq_range_pick(&r, UINT64_MAX) == 42);
    struct seq_range fixed = {7, 7, true, true};
    assert_true(seq_range_pick(&fixed, 12345) == 7);
    struct seq_range full = {0, UINT64_MAX, true, true};
    assert_true(seq_range_pick(&full, 99) == 99);
}

static void test_draws(void **state)
{
    (void)state;
    struct seq_config c;
    assert_int_equal(apply(&c, "ssize_min=40,ssize_max=45,rsize_min=100,rsize_max=101,"
                               "rdelay_min=5,rdelay_max=9,sdelay_max=3,rinterval=3"),
                     0);
    uint64_t seed = seq_conn_seed(1, 0);
    int max_seen = 0, min_seen = 0;
    for (uint64_t s = 0; s < 3000; s++) {
        struct seq_draw d, again;
        seq_draw_msg(&c, seed, s, &d);
        seq_draw_msg(&c, seed, s, &again);
        assert_memory_equal(&d, &again, sizeof d); /* a pure function of (seed, seqno) */
        assert_true(d.ssz >= 40 && d.ssz <= 45);
        assert_true(d.sdelay_ns <= 3);
        if (s % 3 == 0) {
            assert_true(d.rsz == 100 || d.rsz == 101);
            assert_true(d.rdly >= 5 && d.rdly <= 9);
        } else {
            assert_int_equal(d.rsz, 0); /* no reply asked: rsz and rdly 0 */
            assert_int_equal(d.rdly, 0);
        }
        max_seen += d.ssz == 45;
        min_seen += d.ssz == 40;
    }
    assert_true(max_seen > 300 && min_seen > 300);
    /* Different connections draw differently. */
    struct seq_draw a, b;
    int same = 0;
    for (uint64_t s = 0; s < 100; s++) {
        seq_draw_msg(&c, seq_conn_seed(1, 0), s, &a);
        seq_draw_msg(&c, seq_conn_seed(1, 1), s, &b);
        same += a.ssz == b.ssz;
    }
    assert_true(same < 60);
    /* rinterval 0: never a reply. */
    assert_int_equal(apply(&c, "rinterval=0,rsize=100"), 0);
    seq_draw_msg(&c, 5, 0, &a);
    assert_int_equal(a.rsz, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_size_errors),    cmocka_unit_test(test_delays),
        cmocka_unit_test(test_other_options),  cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_argv_modes),     cmocka_unit_test(test_argv_errors),
        cmocka_unit_test(test_wants_json),     cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_address_errors), cmocka_unit_test(test_range_pick),
        cmocka_unit_test(test_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
