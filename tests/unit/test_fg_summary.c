/* flowgrind's summary lines against the real 0.8.2 output of spec §7.5, byte for byte: the
 * FINAL report values are read off each sample (byte counts from the block counts and block
 * sizes, the report time chosen so the figures print as in the sample; averages are given
 * as sum and sample count, the fix of bug 2). Then the parts the samples do not show: the
 * control address, ELCN/CORK/PUSHY/MTCP, a missing final report, no FLT_MAX sentinel
 * (bug 4), and the topology table. */

#include <errno.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowgrind/summary.h"

/* spec line 1318 */
static const char BULK_S[] =
    "# ID   0 S: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 972097349, sbuf = 1638"
    "4/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B], "
    "Interface MTU = 65536 (unknown) [B], duration = 2.000/2.000 [s] (real/req), through = 60"
    "67.013748/0.000000 [Mbit/s] (out/in), request blocks = 185161/0 [#] (out/in)\n";
/* spec line 1319 */
static const char BULK_D[] =
    "# ID   0 D: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 972097349, sbuf = 1638"
    "4/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 32768 [B], PMTU = 65535 [B], "
    "Interface MTU = 65536 (unknown) [B], through = 0.000000/6067.223196 [Mbit/s] (out/in), r"
    "equest blocks = 0/185160 [#] (out/in), IAT = 0.009/0.011/1.402 [ms] (min/avg/max), delay"
    " = 0.009/0.011/1.403 [ms] (min/avg/max)\n";
/* spec line 1344 */
static const char TWO_1S[] =
    "# ID   1 S: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 267941427, sbuf = 1638"
    "4/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B], "
    "Interface MTU = 65536 (unknown) [B], duration = 2.001/2.000 [s] (real/req), through = 19"
    "87.361846/0.000000 [Mbit/s] (out/in), request blocks = 60670/0 [#] (out/in)\n";
/* spec line 1362 */
static const char RR_S[] =
    "# ID   0 S: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 1062460108, sbuf = 163"
    "84/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B],"
    " Interface MTU = 65536 (unknown) [B], duration = 2.003/2.000 [s] (real/req), through = 2"
    ".786941/15.925379 [Mbit/s] (out/in), transactions/s = 995.34 [#], request blocks = 1994/"
    "0 [#] (out/in), response blocks = 0/1994 [#] (out/in), RTT = 0.017/0.075/1.199 [ms] (min"
    "/avg/max)\n";
/* spec line 1363 */
static const char RR_D[] =
    "# ID   0 D: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 1062460108, sbuf = 163"
    "84/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B],"
    " Interface MTU = 65536 (unknown) [B], through = 15.926017/2.787053 [Mbit/s] (out/in), re"
    "quest blocks = 0/1994 [#] (out/in), response blocks = 1994/0 [#] (out/in), IAT = 0.013/1"
    ".000/22.933 [ms] (min/avg/max), delay = 0.008/0.027/1.066 [ms] (min/avg/max)\n";
/* spec line 1381 */
static const char A_S[] =
    "# ID   0 S: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 1401602176, sbuf = 163"
    "84/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B],"
    " Interface MTU = 65536 (unknown) [B], duration = 2.000/2.000 [s] (real/req), through = 4"
    "308.919635/21.039327 [Mbit/s] (out/in), transactions/s = 65747.90 [#], request blocks = "
    "131502/0 [#] (out/in), response blocks = 0/131500 [#] (out/in), RTT = 0.029/0.037/6.053 "
    "[ms] (min/avg/max)\n";
/* spec line 1382 */
static const char A_D[] =
    "# ID   0 D: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 1401602176, sbuf = 163"
    "84/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 32768 [B], PMTU = 65535 [B],"
    " Interface MTU = 65536 (unknown) [B], through = 21.040077/4309.007868 [Mbit/s] (out/in),"
    " request blocks = 0/131501 [#] (out/in), response blocks = 131501/0 [#] (out/in), IAT = "
    "0.012/0.015/5.973 [ms] (min/avg/max), delay = 0.008/0.010/5.969 [ms] (min/avg/max)\n";
/* spec line 1419 */
static const char MIB_S[] =
    "# ID   0 S: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 385002654, sbuf = 1638"
    "4/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B], "
    "Interface MTU = 65536 (unknown) [B], duration = 1.000/1.000 [s] (real/req), through = 67"
    "1.148643/0.000000 [MiB/s] (out/in), request blocks = 85914/0 [#] (out/in)\n";
/* spec line 1420 */
static const char MIB_D[] =
    "# ID   0 D: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 385002654, sbuf = 1638"
    "4/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 32768 [B], PMTU = 65535 [B], "
    "Interface MTU = 65536 (unknown) [B], through = 0.000000/671.188809 [MiB/s] (out/in), req"
    "uest blocks = 0/85913 [#] (out/in), IAT = 0.009/0.012/2.149 [ms] (min/avg/max), delay = "
    "0.009/0.012/2.150 [ms] (min/avg/max)\n";
/* spec line 1437 */
static const char BIDIR_S[] =
    "# ID   0 S: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 2172148308, sbuf = 163"
    "84/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B],"
    " Interface MTU = 65536 (unknown) [B], duration = 1.500/1.000 [s] (real/req), read delay "
    "= 0.500 [s], through = 3333.975084/4115.183671 [Mbit/s] (out/in), request blocks = 76311"
    "/94192 [#] (out/in), IAT = 0.004/0.011/0.158 [ms] (min/avg/max), delay = 0.015/0.051/0.2"
    "25 [ms] (min/avg/max)\n";
/* spec line 1438 */
static const char BIDIR_D[] =
    "# ID   0 D: 127.0.0.1:20100 (Linux 6.18.44-fc-v669), random seed: 2172148308, sbuf = 163"
    "84/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 55808 [B], PMTU = 65535 [B],"
    " Interface MTU = 65536 (unknown) [B], duration = 1.000/1.000 [s] (real/req), write delay"
    " = 0.500 [s], through = 4115.606686/3334.070020 [Mbit/s] (out/in), request blocks = 9419"
    "9/76311 [#] (out/in), IAT = 0.009/0.013/0.735 [ms] (min/avg/max), delay = 0.009/0.013/0."
    "735 [ms] (min/avg/max)\n";
/* spec line 1443 */
static const char MANY_S[] =
    "# ID   0 S: 127.0.0.1:20101 (Linux 6.18.44-fc-v669), random seed: 12345, sbuf = 16384/0 "
    "[B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 55808 [B], PMTU = 65535 [B], Inte"
    "rface MTU = 65536 (unknown) [B], duration = 1.200/1.000 [s] (real/req), read delay = 0.2"
    "00 [s], through = 8.737684/8280.090215 [Mbit/s] (out/in), transactions/s = 133.33 [#], r"
    "equest blocks = 160/151620 [#] (out/in), response blocks = 0/160 [#] (out/in), RTT = 0.0"
    "19/0.424/1.955 [ms] (min/avg/max), IAT = 0.004/0.007/10.156 [ms] (min/avg/max), delay = "
    "0.059/0.559/6.763 [ms] (min/avg/max), rate = 10Mb, TCP_NODELAY, dscp = 0x2e, late connec"
    "ting, calling shutdown\n";
/* spec line 1444 */
static const char MANY_D[] =
    "# ID   0 D: 127.0.0.1:20101 (Linux 6.18.44-fc-v669), random seed: 12345, sbuf = 16384/0 "
    "[B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B], Inte"
    "rface MTU = 65536 (unknown) [B], CC = reno, duration = 1.000/1.000 [s] (real/req), write"
    " delay = 0.200 [s], through = 8287.879978/8.738124 [Mbit/s] (out/in), request blocks = 1"
    "51755/160 [#] (out/in), response blocks = 160/0 [#] (out/in), IAT = 0.016/6.209/10.392 ["
    "ms] (min/avg/max), delay = 0.009/0.033/0.271 [ms] (min/avg/max), late connecting, callin"
    "g shutdown\n";
/* spec line 1455 */
static const char CTRLC_S[] =
    "# ID   0 S: 127.0.0.1:20101 (Linux 6.18.44-fc-v669), random seed: 3480018671, sbuf = 163"
    "84/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), SMSS = 65483 [B], PMTU = 65535 [B],"
    " Interface MTU = 65536 (unknown) [B], duration = 1.298/5.000 [s] (real/req), through = 4"
    "583.175156/0.000000 [Mbit/s] (out/in), request blocks = 90750/0 [#] (out/in)\n";

/* ---- helpers ------------------------------------------------------------------------- */

/* The loopback endpoint of the samples: daemon on 127.0.0.1, control port 20100. */
static struct fg_summary endpoint(bool source, uint32_t seed, int smss)
{
    struct fg_summary s = {
        .flow_id = 0,
        .source = source,
        .have_final = true,
        .test_address = "127.0.0.1",
        .control_address = "127.0.0.1",
        .control_port = 20100,
        .os_name = "Linux",
        .os_release = "6.18.44-fc-v669",
        .random_seed = seed,
        .sbuf_real = 16384,
        .rbuf_real = 131072,
        .smss = smss,
        .pmtu = 65535,
        .imtu = 65536,
    };
    return s;
}

/* The report time that makes `bytes` print as mbit Mbit/s (or MiB/s with s->mib). */
static void set_time(struct fg_summary *s, uint64_t bytes, double rate)
{
    s->report_time_s =
        s->mib ? (double)bytes / (rate * 1048576.0) : (double)bytes * 8.0 / (rate * 1e6);
}

static struct fg_table_stat stat_ms(double min_ms, double avg_ms, double max_ms, uint64_t n)
{
    struct fg_table_stat st = {.min_s = min_ms / 1e3,
                               .max_s = max_ms / 1e3,
                               .sum_s = avg_ms / 1e3 * (double)n,
                               .samples = n};
    return st;
}

static void assert_prints(const struct fg_summary *s, const char *want)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fg_summary_print(s, f), 0);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf, want);
    free(buf);
}

/* ---- the spec's samples -------------------------------------------------------------- */

static void test_bulk(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 972097349u, 65483);
    s.write_duration_s = 2.0;
    s.request_blocks_written = 185161;
    s.bytes_written = 185161ull * 8192;
    set_time(&s, s.bytes_written, 6067.013748);
    assert_prints(&s, BULK_S);

    struct fg_summary d = endpoint(false, 972097349u, 32768);
    d.read_duration_s = 2.0;
    d.request_blocks_read = 185160;
    d.bytes_read = 185160ull * 8192;
    set_time(&d, d.bytes_read, 6067.223196);
    d.iat = stat_ms(0.009, 0.011, 1.402, 185159);
    d.delay = stat_ms(0.009, 0.011, 1.403, 185160);
    assert_prints(&d, BULK_D);
}

static void test_second_flow_id(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 267941427u, 65483);
    s.flow_id = 1;
    s.write_duration_s = 2.0;
    s.request_blocks_written = 60670;
    s.bytes_written = 60670ull * 8192;
    set_time(&s, s.bytes_written, 1987.361846);
    assert_prints(&s, TWO_1S);
}

static void test_request_response(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 1062460108u, 65483);
    s.write_duration_s = 2.0;
    s.request_blocks_written = 1994;
    s.response_blocks_read = 1994;
    s.bytes_written = 1994ull * 350;
    s.bytes_read = 1994ull * 2000;
    set_time(&s, s.bytes_read, 15.925379);
    s.rtt = stat_ms(0.017, 0.075, 1.199, 1994);
    assert_prints(&s, RR_S);

    struct fg_summary d = endpoint(false, 1062460108u, 65483);
    d.read_duration_s = 2.0;
    d.request_blocks_read = 1994;
    d.response_blocks_written = 1994;
    d.bytes_written = 1994ull * 2000;
    d.bytes_read = 1994ull * 350;
    set_time(&d, d.bytes_written, 15.926017);
    d.iat = stat_ms(0.013, 1.000, 22.933, 1993);
    d.delay = stat_ms(0.008, 0.027, 1.066, 1994);
    assert_prints(&d, RR_D);
}

static void test_minimal_response(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 1401602176u, 65483);
    s.write_duration_s = 2.0;
    s.request_blocks_written = 131502;
    s.response_blocks_read = 131500;
    s.bytes_written = 131502ull * 8192;
    s.bytes_read = 131500ull * 40;
    set_time(&s, s.bytes_written, 4308.919635);
    s.rtt = stat_ms(0.029, 0.037, 6.053, 131500);
    assert_prints(&s, A_S);

    struct fg_summary d = endpoint(false, 1401602176u, 32768);
    d.read_duration_s = 2.0;
    d.request_blocks_read = 131501;
    d.response_blocks_written = 131501;
    d.bytes_written = 131501ull * 40;
    d.bytes_read = 131501ull * 8192;
    set_time(&d, d.bytes_read, 4309.007868);
    d.iat = stat_ms(0.012, 0.015, 5.973, 131500);
    d.delay = stat_ms(0.008, 0.010, 5.969, 131501);
    assert_prints(&d, A_D);
}

static void test_mib(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 385002654u, 65483);
    s.mib = true;
    s.write_duration_s = 1.0;
    s.request_blocks_written = 85914;
    s.bytes_written = 85914ull * 8192;
    set_time(&s, s.bytes_written, 671.148643);
    assert_prints(&s, MIB_S);

    struct fg_summary d = endpoint(false, 385002654u, 32768);
    d.mib = true;
    d.read_duration_s = 1.0;
    d.request_blocks_read = 85913;
    d.bytes_read = 85913ull * 8192;
    set_time(&d, d.bytes_read, 671.188809);
    d.iat = stat_ms(0.009, 0.012, 2.149, 85912);
    d.delay = stat_ms(0.009, 0.012, 2.150, 85913);
    assert_prints(&d, MIB_D);
}

/* -T s=1,d=1 -Y d=0.5: through divides by the longer of the two real directions. */
static void test_bidirectional_with_delay(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 2172148308u, 65483);
    s.write_duration_s = 1.0;
    s.read_duration_s = 1.0;
    s.read_delay_s = 0.5;
    s.request_blocks_written = 76311;
    s.request_blocks_read = 94192;
    s.bytes_written = 76311ull * 8192;
    s.bytes_read = 94192ull * 8192;
    set_time(&s, s.bytes_read, 4115.183671);
    s.iat = stat_ms(0.004, 0.011, 0.158, 94191);
    s.delay = stat_ms(0.015, 0.051, 0.225, 94192);
    assert_prints(&s, BIDIR_S);

    struct fg_summary d = endpoint(false, 2172148308u, 55808);
    d.write_duration_s = 1.0;
    d.write_delay_s = 0.5;
    d.read_duration_s = 1.0;
    d.request_blocks_written = 94199;
    d.request_blocks_read = 76311;
    d.bytes_written = 94199ull * 8192;
    d.bytes_read = 76311ull * 8192;
    set_time(&d, d.bytes_written, 4115.606686);
    d.iat = stat_ms(0.009, 0.013, 0.735, 76310);
    d.delay = stat_ms(0.009, 0.013, 0.735, 76311);
    assert_prints(&d, BIDIR_D);
}

/* -Y d=0.2 -L -N -R s=10Mb -O s=TCP_NODELAY -O d=TCP_CONGESTION=reno -D s=0x2e -J 12345 -A s */
static void test_many_options(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 12345, 55808);
    s.control_port = 20101;
    s.write_duration_s = 1.0;
    s.read_duration_s = 1.0;
    s.read_delay_s = 0.2;
    s.request_blocks_written = 160;
    s.request_blocks_read = 151620;
    s.response_blocks_read = 160;
    s.bytes_written = 160ull * 8192;
    s.bytes_read = 151620ull * 8192 + 160 * 40;
    set_time(&s, s.bytes_read, 8280.090215);
    s.rtt = stat_ms(0.019, 0.424, 1.955, 160);
    s.iat = stat_ms(0.004, 0.007, 10.156, 151619);
    s.delay = stat_ms(0.059, 0.559, 6.763, 151620);
    s.rate = "10Mb";
    s.nodelay = true;
    s.dscp = 0x2e;
    s.late_connect = true;
    s.shutdown = true;
    assert_prints(&s, MANY_S);

    struct fg_summary d = endpoint(false, 12345, 65483);
    d.control_port = 20101;
    d.cc = "reno";
    d.write_duration_s = 1.0;
    d.write_delay_s = 0.2;
    d.read_duration_s = 1.0;
    d.request_blocks_written = 151755;
    d.request_blocks_read = 160;
    d.response_blocks_written = 160;
    d.bytes_written = 151755ull * 8192 + 160 * 40;
    d.bytes_read = 160ull * 8192;
    set_time(&d, d.bytes_written, 8287.879978);
    d.iat = stat_ms(0.016, 6.209, 10.392, 159);
    d.delay = stat_ms(0.009, 0.033, 0.271, 160);
    d.late_connect = true;
    d.shutdown = true;
    assert_prints(&d, MANY_D);
}

/* Ctrl-C after 1.3 s of -T s=5: real duration below the requested one; a seed above
 * INT_MAX prints unsigned. */
static void test_interrupted(void **state)
{
    (void)state;
    struct fg_summary s = endpoint(true, 3480018671u, 65483);
    s.control_port = 20101;
    s.write_duration_s = 5.0;
    s.request_blocks_written = 90750;
    s.bytes_written = 90750ull * 8192;
    set_time(&s, s.bytes_written, 4583.175156);
    assert_prints(&s, CTRLC_S);
}

/* ---- beyond the samples -------------------------------------------------------------- */

static void test_missing_final_report(void **state)
{
    (void)state;
    struct fg_summary s = {.flow_id = 0, .source = true, .have_final = false};
    assert_prints(&s, "# ID   0 S: Error: no final report received\n");
    s.flow_id = 12;
    s.source = false;
    assert_prints(&s, "# ID  12 D: Error: no final report received\n");
}

/* Bug 4: one block read and no IAT sample. The original printed the FLT_MAX sentinel; here
 * the IAT part is left out, the delay part (one sample) is printed. */
static void test_no_flt_max_sentinel(void **state)
{
    (void)state;
    struct fg_summary d = endpoint(false, 1, 0);
    d.control_address = "10.0.0.1"; /* differs: printed after the test address */
    d.control_port = 5999;          /* the default: not printed */
    d.pmtu = 0;
    d.imtu = 1500;
    d.read_duration_s = 1.0;
    d.report_time_s = 1.0;
    d.request_blocks_read = 1;
    d.bytes_read = 125000;
    d.iat = (struct fg_table_stat){.min_s = FLT_MAX, .max_s = FLT_MIN, .sum_s = 0, .samples = 0};
    d.delay = stat_ms(0.5, 0.5, 0.5, 1);
    d.elcn = d.cork = d.pushy = d.mtcp = true;
    assert_prints(&d, "# ID   0 D: 127.0.0.1/10.0.0.1 (Linux 6.18.44-fc-v669), random seed: 1, "
                      "sbuf = 16384/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), "
                      "Interface MTU = 1500 (Ethernet/PPP) [B], through = 0.000000/1.000000 "
                      "[Mbit/s] (out/in), request blocks = 0/1 [#] (out/in), delay = "
                      "0.500/0.500/0.500 [ms] (min/avg/max), ELCN, TCP_CORK, PUSHY, TCP_MTCP\n");
    /* the daemon's sentinel with a sample count claimed is still no sample */
    d.iat.samples = 1;
    d.delay = d.iat;
    d.elcn = d.cork = d.pushy = d.mtcp = false;
    d.report_time_s = 0; /* and a zero-length report gives inf, never NaN */
    assert_prints(&d, "# ID   0 D: 127.0.0.1/10.0.0.1 (Linux 6.18.44-fc-v669), random seed: 1, "
                      "sbuf = 16384/0 [B] (real/req), rbuf = 131072/0 [B] (real/req), "
                      "Interface MTU = 1500 (Ethernet/PPP) [B], through = 0.000000/inf "
                      "[Mbit/s] (out/in), request blocks = 0/1 [#] (out/in)\n");
}

static void test_topology(void **state)
{
    (void)state;
    assert_string_equal(fg_summary_topology(65535), "Hyperchannel");
    assert_string_equal(fg_summary_topology(16436), "Linux Loopback device");
    assert_string_equal(fg_summary_topology(9000), "Gigabit Ethernet (Jumboframes)");
    assert_string_equal(fg_summary_topology(1500), "Ethernet/PPP");
    assert_string_equal(fg_summary_topology(576), "X.25 & ISDN");
    assert_string_equal(fg_summary_topology(296), "PPP (low delay)");
    assert_string_equal(fg_summary_topology(65536), "unknown");
    assert_string_equal(fg_summary_topology(0), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk),
        cmocka_unit_test(test_second_flow_id),
        cmocka_unit_test(test_request_response),
        cmocka_unit_test(test_minimal_response),
        cmocka_unit_test(test_mib),
        cmocka_unit_test(test_bidirectional_with_delay),
        cmocka_unit_test(test_many_options),
        cmocka_unit_test(test_interrupted),
        cmocka_unit_test(test_missing_final_report),
        cmocka_unit_test(test_no_flt_max_sentinel),
        cmocka_unit_test(test_topology),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
