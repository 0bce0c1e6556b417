/* tcpkali engine, the pure parts: sending whole messages from the replicated buffer under -r
 * on a simulated clock (with short writes, with and without write combining), the connect
 * pacer on a simulated clock (--connect-rate split over workers), the split of -c over
 * workers, loopback source spreading (from the real port range), the bandwidth caps' steps,
 * the -r pacing lead, destination skipping, and the dump escaping. (-e unescaping, message
 * assembly and tk_rep_slice/tk_rep_starts are tested in test_tcpkali_msgsrc.c.) */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pace.h"
#include "core/rng.h"
#include "tcpkali/dump.h"
#include "tcpkali/msgsrc.h"
#include "tcpkali/plan.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

/* ---- sending whole messages from the replicated buffer -------------------------------- */

/* A connection sending an L-byte message at R per second for 10 s, woken at each intended
 * time, through a socket that takes at most `cap` bytes per send: the engine's loop
 * (tk_rep_slice, send, tk_rep_starts, pace_sched_advance per started message). */
static void simulate_rate(size_t L, double rate, size_t cap, bool combine, uint64_t wake_jitter)
{
    size_t R = ((TK_REP_MIN + L - 1) / L) * L;
    struct pace_rate pr;
    struct pace_sched s;
    struct rng r;
    uint64_t t0 = 5 * SEC, now = t0, end = t0 + 10 * SEC, started = 0, bytes = 0;
    size_t off = 0;

    rng_seed(&r, L * 131 + cap);
    assert_int_equal(pace_rate_from_per_sec(rate, &pr), 0);
    assert_int_equal(pace_sched_init_fixed(&s, pr, t0), 0);
    while (now < end) {
        for (int sends = 0; sends < 64; sends++) {
            uint64_t due = pace_sched_due(&s, now, 0);
            size_t len = tk_rep_slice(off, L, R, due, combine);
            if (len == 0)
                break;
            if (!combine)
                assert_true(len <= L);
            size_t n = len < cap ? len : cap;
            uint64_t st = tk_rep_starts(off, n, L);
            assert_true(st <= due); /* never a message before it is due */
            for (uint64_t k = 0; k < st; k++) {
                uint64_t intended = pace_sched_advance(&s);
                assert_true(intended <= now);
                assert_int_equal(intended, t0 + (started + k) * (uint64_t)(1e9 / rate));
            }
            started += st;
            bytes += n;
            off = off + n == R ? 0 : off + n;
            if (n < len)
                break; /* the socket is full: wait */
        }
        /* Wake at the next intended time, or a little later, or at once to finish a
         * message the socket did not take. */
        uint64_t next = off % L ? now + 1 : pace_sched_next(&s);
        now = (next > now ? next : now + 1) + (wake_jitter ? rng_below(&r, wake_jitter) : 0);
    }
    /* Whole messages at the rate: one at t0 and one every 1/rate, all started by now. */
    uint64_t due_by_end = (uint64_t)((double)(now - t0) * rate / 1e9) + 1;
    assert_true(started >= due_by_end - 1 && started <= due_by_end);
    assert_true(bytes >= (started - 1) * L && bytes <= started * L);
}

static void test_rate_schedule_simulated(void **state)
{
    (void)state;
    simulate_rate(6, 100, 1 << 20, true, 0);
    simulate_rate(6, 100, 1 << 20, true, 3 * MS);   /* late wake-ups: catch up in bursts */
    simulate_rate(1000, 1000, 300, true, 0);        /* short writes split messages */
    simulate_rate(1000, 1000, 300, false, 100000);
    simulate_rate(70000, 10, 4096, true, 0);        /* messages larger than the buffer */
    simulate_rate(5, 20000, 1 << 20, false, 0);
}

/* ---- connect pacing -------------------------------------------------------------------- */

/* One worker's pacer over `secs` of simulated time, woken whenever it asks to be. */
static uint64_t simulate_connects(double total_rate, uint64_t target, unsigned workers, unsigned i,
                                  double secs, uint64_t *wakeups)
{
    double rate = tk_plan_rate_share(total_rate, target, workers, i);
    uint64_t share = tk_plan_share(target, workers, i), opened = 0, now = 1 * SEC, next;
    uint64_t end = now + (uint64_t)(secs * 1e9);
    struct pace_rate pr;
    struct pace_bucket b;

    *wakeups = 0;
    if (share == 0)
        return 0; /* the engine gives such a worker no pacer at all */
    assert_int_equal(pace_rate_from_per_sec(rate, &pr), 0);
    assert_int_equal(pace_bucket_init(&b, pr, tk_plan_connect_burst(rate), now), 0);
    while (now < end && opened < share) {
        opened += tk_plan_connect_step(&b, now, share - opened, 512, &next);
        (*wakeups)++;
        if (!next)
            break;
        assert_true(next >= now);
        now = next;
    }
    return opened;
}

static void test_connect_pacer_simulated(void **state)
{
    (void)state;
    uint64_t wakeups;
    /* 100k/s for 19,000 connections over 2 workers: each opens its 9,500 in ~0.19 s,
     * woken about once per millisecond, not once per connection. */
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(simulate_connects(100000, 19000, 2, i, 1.0, &wakeups), 9500);
        assert_true(wakeups < 400);
        /* In 0.1 s, half the share plus at most one burst. */
        uint64_t n = simulate_connects(100000, 19000, 2, i, 0.1, &wakeups);
        assert_true(n >= 5000 - 100 && n <= 5000 + tk_plan_connect_burst(50000));
    }
    /* The default 100/s over 2 workers: 50/s each, plus the first burst (1 token). */
    uint64_t n = simulate_connects(100, 1000, 2, 0, 1.0, &wakeups);
    assert_true(n >= 50 && n <= 51);
    /* A small target: all open at once (the burst), none beyond. */
    assert_int_equal(simulate_connects(100, 1, 2, 0, 1.0, &wakeups), 1);
    assert_int_equal(simulate_connects(100, 1, 2, 1, 1.0, &wakeups), 0);
}

static void test_connect_step_cap(void **state)
{
    (void)state;
    struct pace_rate pr;
    struct pace_bucket b;
    uint64_t next;
    assert_int_equal(pace_rate_from_per_sec(1e6, &pr), 0);
    assert_int_equal(pace_bucket_init(&b, pr, 1000, 0), 0);
    assert_int_equal(tk_plan_connect_step(&b, 0, 5000, 512, &next), 512);
    assert_int_equal(next, 0); /* cut by the cap: come back at once */
    assert_int_equal(tk_plan_connect_step(&b, 0, 5000, 512, &next), 488);
    assert_int_equal(next, TK_PLAN_CONNECT_GAP_NS); /* empty: at least the gap */
    assert_int_equal(tk_plan_connect_step(&b, SEC, 3, 512, &next), 3);
    assert_int_equal(next, 0); /* need met */
}

/* ---- plan ----------------------------------------------------------------------------- */

static void test_plan_shares(void **state)
{
    (void)state;
    for (uint64_t n = 0; n < 50; n++) {
        for (unsigned w = 1; w <= 7; w++) {
            uint64_t sum = 0;
            double rsum = 0;
            for (unsigned i = 0; i < w; i++) {
                uint64_t s = tk_plan_share(n, w, i);
                assert_true(s == n / w || s == n / w + 1);
                sum += s;
                rsum += tk_plan_rate_share(1000, n, w, i);
            }
            assert_int_equal(sum, n);
            if (n)
                assert_true(rsum > 999.999 && rsum < 1000.001);
        }
    }
    assert_int_equal(tk_plan_connect_burst(10), 1);
    assert_int_equal(tk_plan_connect_burst(100), 2);
    assert_int_equal(tk_plan_connect_burst(50000), 1000);
}

static void test_loop_sources(void **state)
{
    (void)state;
    /* The default range 32768..60999 (28232 ports): 11292 per source address. */
    assert_int_equal(tk_plan_loop_sources(1, 28232), 1);
    assert_int_equal(tk_plan_loop_sources(11292, 28232), 1);
    assert_int_equal(tk_plan_loop_sources(11293, 28232), 2);
    assert_int_equal(tk_plan_loop_sources(19000, 28232), 2);
    assert_int_equal(tk_plan_loop_sources(100000, 28232), 9);
    assert_int_equal(tk_plan_loop_sources(0, 28232), 1);
    assert_int_equal(tk_plan_loop_sources(10000000, 28232), TK_PLAN_LOOP_MAX);
    /* A 100-port range: 40 per source address, whatever -c is (no floor of 1000). */
    assert_int_equal(tk_plan_loop_sources(40, 100), 1);
    assert_int_equal(tk_plan_loop_sources(41, 100), 2);
    assert_int_equal(tk_plan_loop_sources(300, 100), 8);
    assert_int_equal(tk_plan_loop_sources(5000, 100), 125);
    assert_int_equal(tk_plan_loop_sources(3, 2), 3); /* 2 ports: 1 per address */

    struct sock_addr a;
    char host[64];
    tk_plan_loop_addr(0, &a);
    assert_string_equal(sock_addr_host(&a, host, sizeof(host)), "127.0.0.1");
    assert_int_equal(sock_addr_port(&a), 0);
    tk_plan_loop_addr(2, &a);
    assert_string_equal(sock_addr_host(&a, host, sizeof(host)), "127.0.0.3");
    assert_true(sock_addr_is_loopback(&a));
}

static void test_cap_steps(void **state)
{
    (void)state;
    /* A step is 10 ms of allowance (1 byte at least, one MSS at most); the bucket holds
     * 20 ms, two steps. */
    assert_int_equal(tk_plan_cap_burst(500), 10);
    assert_int_equal(tk_plan_cap_step(tk_plan_cap_burst(500)), 5);
    assert_int_equal(tk_plan_cap_burst(10000), 200); /* 80 kbit/s */
    assert_int_equal(tk_plan_cap_step(tk_plan_cap_burst(10000)), 100);
    assert_int_equal(tk_plan_cap_burst(1e6), 20000);
    assert_int_equal(tk_plan_cap_step(tk_plan_cap_burst(1e6)), TK_PLAN_CAP_MAX_STEP);
    assert_int_equal(tk_plan_cap_burst(0.5), 2); /* 1 B every 2 s */
    assert_int_equal(tk_plan_cap_step(2), 1);
    assert_int_equal(tk_plan_cap_step(1), 1);
    assert_int_equal(tk_plan_cap_burst(1e12), 16u * 1024 * 1024);
}

static void test_pace_lead(void **state)
{
    (void)state;
    /* 100 us at most; less when spinning it for every message would pass 10% of a CPU. */
    assert_int_equal(tk_plan_pace_lead(1000, 1), 100000);
    assert_int_equal(tk_plan_pace_lead(100, 5), 100000);
    assert_int_equal(tk_plan_pace_lead(100, 500), 2000); /* -c 1000 -r 100, 2 workers */
    assert_int_equal(tk_plan_pace_lead(2000, 0), 50000); /* 0 connections: counted as 1 */
    assert_int_equal(tk_plan_pace_lead(0, 1), 0);
}

static void test_pick_dest(void **state)
{
    (void)state;
    uint32_t attempts[3] = {0}, ok[3] = {0};
    size_t next = 1, counts[3] = {0};
    /* Round-robin from the worker's offset. */
    for (int i = 0; i < 6; i++)
        counts[tk_plan_pick_dest(3, attempts, ok, &next)]++;
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 2);
    /* Destination 1 failed 11 times and never worked: skipped. 10 failures: not yet. */
    attempts[1] = 10;
    next = 1;
    assert_int_equal(tk_plan_pick_dest(3, attempts, ok, &next), 1);
    attempts[1] = 11;
    for (int i = 0; i < 10; i++)
        assert_int_not_equal(tk_plan_pick_dest(3, attempts, ok, &next), 1);
    /* One success keeps it in the rotation. */
    ok[1] = 1;
    next = 1;
    assert_int_equal(tk_plan_pick_dest(3, attempts, ok, &next), 1);
    /* All dead: cycle over all of them anyway. */
    uint32_t a2[2] = {20, 20}, o2[2] = {0, 0};
    next = 0;
    assert_int_equal(tk_plan_pick_dest(2, a2, o2, &next), 0);
    assert_int_equal(tk_plan_pick_dest(2, a2, o2, &next), 1);
}

/* ---- dumps ---------------------------------------------------------------------------- */

static void test_dump_escape(void **state)
{
    (void)state;
    struct tk_buf b = {0};
    static const uint8_t frame[] = {0x81, 0x85, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
    assert_int_equal(tk_dump_line(&b, "Snd", 13, frame, sizeof(frame)), 0);
    const char *want = "Snd(13, 11): [\\201\\205\\000\\000\\000\\000hello]\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    tk_buf_free(&b);

    assert_int_equal(tk_dump_escape(&b, (const uint8_t *)"a\r\nb\\\t~", 7), 0);
    const char *want2 = "a\\r\\n\n\tb\\\\\\011~";
    assert_int_equal(b.len, strlen(want2));
    assert_memory_equal(b.data, want2, b.len);
    tk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_schedule_simulated),
        cmocka_unit_test(test_connect_pacer_simulated),
        cmocka_unit_test(test_connect_step_cap),
        cmocka_unit_test(test_plan_shares),
        cmocka_unit_test(test_loop_sources),
        cmocka_unit_test(test_cap_steps),
        cmocka_unit_test(test_pace_lead),
        cmocka_unit_test(test_pick_dest),
        cmocka_unit_test(test_dump_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
