#!/usr/bin/env python3
"""System tests of seqtest's modes over loopback (doc/man/seqtest.1, spec seqtest.md):
-S, -s and the default mode over 127.0.0.1 and ::1, the summary line by line, reply counts,
sizes and delays, the dump file, -d, --json and --json-stream, addresses (local binding,
several addresses, names resolving to several addresses) and many connections.

Faults are in test_seqtest_faults.py, bad options in test_seqtest_errors.py.

Usage: python3 tests/sys/test_seqtest.py BUILD_DIR [TEST_NAME...]
"""

import json
import math
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, Result, run_tests, Skip, test, wait_until  # noqa: E402
from seqtest_helpers import (  # noqa: E402
    FaultRelay, address_lines, hostport, need_ipv6, percentile,
    parse_replier_summary, private_hosts, read_dump, run_sender, sender_argv, seqtest,
    start_replier, stop_replier, summary_ok, VIOLATION_KINDS)


def tmpfile(h, name):
    d = tempfile.mkdtemp(prefix="seqtest-sys-")
    path = os.path.join(d, name)

    def rm():
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(d)
    h.on_cleanup(rm)
    return path


def sender_address_ok(res, host, port, n=0):
    addrs = address_lines(res.stdout)
    check((n, host, port) in addrs, f"no 'Address {n}: Host {host} Port {port}' line", res)


# ---- each mode over IPv4 and IPv6 loopback -------------------------------------------------

def sync_run(h, host):
    _, port = start_replier(h, host)
    res = run_sender(h, "-S", hostport(host, port), "threads=3,count=100")
    summary_ok(res, 300)
    sender_address_ok(res, host, port)


def async_run(h, host, mode="-s"):
    _, port = start_replier(h, host)
    res = run_sender(h, mode, hostport(host, port), "threads=3,count=95,rinterval=10")
    summary_ok(res, 3 * math.ceil(95 / 10))
    sender_address_ok(res, host, port)


@test
def sync_ipv4_three_connections(h):
    sync_run(h, "127.0.0.1")


@test
def sync_ipv6_three_connections(h):
    need_ipv6()
    sync_run(h, "::1")


@test
def async_ipv4_ceil_reply_count(h):
    async_run(h, "127.0.0.1")


@test
def async_ipv6_ceil_reply_count(h):
    need_ipv6()
    async_run(h, "::1")


@test
def default_mode_is_async(h):
    async_run(h, "127.0.0.1", mode=None)


@test
def async_every_message_replied_by_default(h):
    _, port = start_replier(h)
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "count=500")
    summary_ok(res, 500)


@test
def async_count_multiple_of_rinterval(h):
    _, port = start_replier(h)
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "threads=2,count=100,rinterval=10")
    summary_ok(res, 20)


@test
def async_rinterval_zero_gives_zero_replies_and_zero_figures(h):
    _, port = start_replier(h)
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "count=50,rinterval=0")
    fig = summary_ok(res, 0)
    for key in ("average", "stddev", "median", "p90", "p99", "p999", "min", "max"):
        check(fig[key] == 0.0, f"{key} is {fig[key]} with no replies, expected 0.0", res)


@test
def sync_rinterval_is_forced_to_one(h):
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "count=40,rinterval=7")
    summary_ok(res, 40)


@test
def one_replier_serves_several_runs_and_both_modes(h):
    rep, port = start_replier(h)
    for mode in ("-S", "-s", "-S"):
        summary_ok(run_sender(h, mode, f"127.0.0.1:{port}", "threads=2,count=50"), 100)
    summ, res = stop_replier(rep)
    check(summ["accepted"] == 6 and summ["closed_on_error"] == 0, "replier connections", res)
    check(summ["received"] == 300 and summ["replies"] == 300, "replier message counts", res)
    check(summ["violations"]["total"] == 0, "violations on a clean run", res)


# ---- sizes and delays ----------------------------------------------------------------------

def sizes_run(h, opts, count=300):
    _, port = start_replier(h)
    dump = tmpfile(h, "d.txt")
    res = run_sender(h, "-S", f"127.0.0.1:{port}", f"count={count},dump={dump},seed=7,{opts}")
    summary_ok(res, count)
    rows = read_dump(dump)
    check(len(rows) == count, f"{len(rows)} dump lines for {count} replies", res)
    return {r[4] for r in rows}, {r[3] for r in rows}, res


@test
def size_ranges_are_inclusive_and_random(h):
    ssz, rsz, res = sizes_run(h, "ssize_min=100,ssize_max=110,rsize_min=2000,rsize_max=2003")
    check(ssz == set(range(100, 111)), f"ssz values {sorted(ssz)}, expected all of 100..110",
          res)
    check(rsz == set(range(2000, 2004)), f"rsz values {sorted(rsz)}, expected 2000..2003", res)


@test
def fixed_sizes_and_the_maximum(h):
    ssz, rsz, res = sizes_run(h, "ssize=8000,rsize=77", count=50)
    check(ssz == {8000} and rsz == {77}, f"ssz {ssz} rsz {rsz}, expected 8000 and 77", res)


@test
def size_below_the_header_is_rounded_up_to_40(h):
    ssz, rsz, res = sizes_run(h, "ssize=39,rsize=1", count=20)
    check(ssz == {40} and rsz == {40}, f"ssz {ssz} rsz {rsz}, expected 40 and 40", res)


@test
def only_ssize_min_ranges_up_to_8000(h):
    ssz, _, res = sizes_run(h, "ssize_min=7990")
    check(min(ssz) >= 7990 and max(ssz) <= 8000 and len(ssz) > 1,
          f"ssz values {sorted(ssz)} with only ssize_min=7990: expected a range up to 8000 "
          "(the original's fixed size is a documented difference)", res)


@test
def only_rsize_max_ranges_from_40(h):
    _, rsz, res = sizes_run(h, "rsize_max=45")
    check(rsz == set(range(40, 46)), f"rsz values {sorted(rsz)}, expected 40..45", res)


@test
def async_random_sizes_through_the_relay(h):
    """The relay frames by the sizes on the wire, so it counts what the replier saw."""
    _, port = start_replier(h)
    relay = FaultRelay(("127.0.0.1", port)).start()
    h.on_cleanup(relay.close)
    res = run_sender(h, "-s", f"127.0.0.1:{relay.port}",
                     "count=300,rinterval=3,ssize_min=40,ssize_max=8000,rsize_min=40,"
                     "rsize_max=8000")
    summary_ok(res, 100)
    c = relay.connections[0]
    check(c.messages == {"up": 300, "down": 100}, f"relay counted {c.messages}", res)
    check(c.unframeable == {"up": None, "down": None}, "framing lost at the relay", res,
          relay.events)


@test
def sdelay_max_takes_effect(h):
    _, port = start_replier(h)
    # 50 delays uniform in [0, 4 ms] sum to about 100 ms; the original's bug gave 0.
    fig = summary_ok(run_sender(h, "-S", f"127.0.0.1:{port}", "count=50,sdelay_max=4000000"),
                     50)
    check(fig["time_us"] >= 50000, f"Time {fig['time_us']} us: sdelay_max had no effect")


@test
def sdelay_fixed_paces_the_async_sender(h):
    _, port = start_replier(h)
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "count=20,sdelay=5000000")
    fig = summary_ok(res, 20)
    check(fig["time_us"] >= 19 * 5000, f"Time {fig['time_us']} us < 19 x 5 ms", res)


@test
def rdelay_is_excluded_from_latency_but_not_from_time(h):
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "count=5,rdelay=20000000")
    fig = summary_ok(res, 5)
    check(fig["time_us"] >= 5 * 20000, f"Time {fig['time_us']} us < 5 x 20 ms rdelay", res)
    check(fig["max"] < 20000, f"Maximum {fig['max']} us includes the 20 ms replier delay", res)


@test
def rdelay_max_takes_effect(h):
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "count=50,rdelay_max=4000000")
    fig = summary_ok(res, 50)
    check(fig["time_us"] >= 50000, f"Time {fig['time_us']} us: rdelay_max had no effect", res)


def children_cpu_s():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def sender_cpu_share(h, mode, port, opts):
    """Runs a sender to its end; returns its CPU time (user + system, from the kernel's
    accounting of reaped children: the replier is still running, so only the sender counts)
    as a share of its Time, and the Result."""
    cpu0 = children_cpu_s()
    res = run_sender(h, mode, f"127.0.0.1:{port}", opts)
    cpu = children_cpu_s() - cpu0
    fig = summary_ok(res, int(re.search(r"count=(\d+)", opts).group(1)))
    return cpu / (fig["time_us"] / 1e6), res


def proc_cpu_s(pid):
    """utime + stime of a running process (/proc/PID/stat fields 14 and 15, in ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@test
def sender_delays_under_1ms_spin_and_longer_ones_sleep(h):
    """seqtest(1): sdelay under 1 ms is waited by spinning on the CPU, a longer one by
    sleeping. A spinning sender uses about one CPU for the whole run; a sleeping one almost
    none (a sleeping thread cannot gather CPU time, whatever the machine's load)."""
    _, port = start_replier(h)
    for mode in ("-S", "-s"):
        spin, res1 = sender_cpu_share(h, mode, port, "count=600,sdelay=800000")
        sleep, res2 = sender_cpu_share(h, mode, port, "count=25,sdelay=20000000")
        check(sleep < 0.2, f"{mode} sdelay=20ms: the sender used {sleep:.0%} of a CPU; a "
              "delay over 1 ms must sleep", res2)
        check(spin > 0.4 and spin > 3 * sleep, f"{mode} sdelay=800us: the sender used "
              f"{spin:.0%} of a CPU ({sleep:.0%} with 20 ms delays); a delay under 1 ms must "
              "spin", res1)


@test
def replier_delays_under_1ms_spin_and_longer_ones_sleep(h):
    """The same for the reply delay (rdelay), which the replier waits."""
    rep, port = start_replier(h)

    def share(opts):
        cpu0, t0 = proc_cpu_s(rep.pid), time.monotonic()
        summary_ok(run_sender(h, "-S", f"127.0.0.1:{port}", opts),
                   int(re.search(r"count=(\d+)", opts).group(1)))
        return (proc_cpu_s(rep.pid) - cpu0) / (time.monotonic() - t0)

    spin = share("count=600,rdelay=800000")
    sleep = share("count=25,rdelay=20000000")
    check(sleep < 0.2, f"rdelay=20ms: the replier used {sleep:.0%} of a CPU; a delay over "
          "1 ms must sleep", rep.stderr)
    check(spin > 0.4 and spin > 3 * sleep, f"rdelay=800us: the replier used {spin:.0%} of a "
          f"CPU ({sleep:.0%} with 20 ms delays); a delay under 1 ms must spin", rep.stderr)


# ---- dump file, statistics, -d ---------------------------------------------------------------

def near(a, b, tol=0.11):
    return abs(a - b) <= tol


def expected_figures(lat_ns):
    s = sorted(lat_ns)
    n = len(s)
    mean = sum(s) // n
    var = sum((x - mean) ** 2 for x in s) // n
    return {"average": mean / 1000, "stddev": math.sqrt(var) / 1000,
            "median": percentile(s, 50) / 1000, "p90": percentile(s, 90) / 1000,
            "p99": percentile(s, 99) / 1000, "p999": percentile(s, 99.9) / 1000,
            "min": s[0] / 1000, "max": s[-1] / 1000}


def check_figures_match_dump(fig, rows, res):
    want = expected_figures([r[2] for r in rows])
    for key, v in want.items():
        check(near(fig[key], v), f"summary {key} = {fig[key]} us, but the dump's samples give "
              f"{v:.2f} us by the man page's rules", res)


@test
def sync_dump_file_and_exact_statistics(h):
    _, port = start_replier(h)
    dump = tmpfile(h, "sync.txt")
    res = run_sender(h, "-S", f"127.0.0.1:{port}",
                     f"threads=2,count=201,ssize=100,rsize=300,dump={dump}")
    fig = summary_ok(res, 402)
    rows = read_dump(dump)
    check(len(rows) == 402, f"{len(rows)} dump lines, expected 402", res)
    check(sorted({r[0] for r in rows}) == [0, 1], "slots with -S must be 0 and 1", rows[:3])
    slots = [r[0] for r in rows]
    check(slots == sorted(slots), "dump lines are not grouped by connection", slots)
    check({(r[3], r[4]) for r in rows} == {(300, 100)}, "rsz/ssz columns", rows[:3])
    for slot in (0, 1):
        times = [r[1] for r in rows if r[0] == slot]
        check(times == sorted(times), f"times of slot {slot} not in send order", times[:5])
        check(max(times) <= fig["time_us"] * 1000 + 1e6, "a time beyond the run", res)
    check_figures_match_dump(fig, rows, res)


@test
def async_dump_file_uses_odd_slots_and_zero_sizes(h):
    _, port = start_replier(h)
    dump = tmpfile(h, "async.txt")
    res = run_sender(h, "-s", f"127.0.0.1:{port}",
                     f"threads=3,count=100,rinterval=3,dump={dump}")
    fig = summary_ok(res, 3 * 34)
    rows = read_dump(dump)
    check(len(rows) == 102, f"{len(rows)} dump lines, expected 102", res)
    check(sorted({r[0] for r in rows}) == [1, 3, 5], "slots with -s must be 2i+1", rows[:3])
    check({(r[3], r[4]) for r in rows} == {(0, 0)}, "rsz/ssz must be 0 with -s", rows[:3])
    check_figures_match_dump(fig, rows, res)


@test
def debug_characters_follow_the_address_lines_in_order(h):
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "count=7", extra=["-d"])
    check(res.rc == 0, "exit status", res)
    head, sep, _ = res.stdout.partition("Received ")
    check(sep, "no summary", res)
    m = re.fullmatch(r"(Address \d+: Host \S+ Port \d+\n)+([<>]*)\n", head)
    check(m, "stdout before the summary is not Address lines, then -d characters ending "
          "with a newline", res)
    check(m.group(2) == "><" * 7, f"-S -d characters {m.group(2)!r}, expected '><' x 7", res)


@test
def debug_characters_of_the_async_sender_and_the_replier(h):
    """-s: one '>' per message sent, one '<' per reply received, the k-th '<' only after
    message 2(k-1) (rinterval=2) was sent. Replier: '-' per message received, then '+' for
    its reply, in stream order. Each side ends the characters with a newline before its
    summary."""
    rep, port = start_replier(h, extra=["-d"])
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "count=9,rinterval=2", extra=["-d"])
    check(res.rc == 0, "exit status", res)
    head, sep, _ = res.stdout.partition("Received ")
    m = re.fullmatch(r"(Address \d+: Host \S+ Port \d+\n)+([<>]*)\n", head)
    check(sep and m, "stdout before the summary is not Address lines then -d characters", res)
    chars = m.group(2)
    check(chars.count(">") == 9 and chars.count("<") == 5, f"-s -d characters {chars!r}: "
          "expected 9 '>' and 5 '<'", res)
    for i, ch in enumerate(chars):
        replies = chars[:i + 1].count("<")
        check(ch != "<" or chars[:i].count(">") >= 2 * replies - 1,
              f"-s -d characters {chars!r}: reply {replies} before its request", res)
    summ, rres = stop_replier(rep)
    rm = re.fullmatch(r"Address 0: Host 127\.0\.0\.1 Port \d+\n([-+]*)\nConnections: .*",
                      rres.stdout, re.S)
    check(rm, "replier stdout is not the Address line, -d characters and a newline, then "
          "its summary", rres)
    check(rm.group(1) == "-+--+--+--+--+", f"replier -d characters {rm.group(1)!r}, "
          "expected '-+--+--+--+--+' (a '+' right after each even message's '-')", rres)
    check(summ["received"] == 9 and summ["replies"] == 5, "replier summary", rres)


# ---- JSON ------------------------------------------------------------------------------------

def load_json(res):
    try:
        return json.loads(res.stdout)
    except ValueError as e:
        check(False, f"stdout is not one JSON document: {e}", res)


HIST_STATS = ("min_ns", "p50_ns", "p90_ns", "p99_ns", "p99_9_ns", "p99_99_ns", "max_ns",
              "mean_ns")


def check_round_trip_raw(doc):
    """round_trip_raw is the latency before the replier's processing time is subtracted:
    the same samples, each at least as large, so every order statistic and the mean are at
    least the latency's, and the counts are the replies received."""
    raw, lat = doc.get("round_trip_raw"), doc["latency"]
    check(isinstance(raw, dict) and set(raw) == set(lat),
          "round_trip_raw must be a histogram object shaped like latency", doc)
    check(raw["count"] == lat["count"] == doc["replies_received"],
          f"round_trip_raw.count {raw['count']}, latency.count {lat['count']}, "
          f"replies_received {doc['replies_received']} differ", doc)
    if raw["count"] == 0:
        check(all(v is None for k, v in raw.items() if k != "count"),
              "round_trip_raw members must be null with no replies", raw)
        return
    for key in HIST_STATS:
        check(raw[key] >= lat[key], f"round_trip_raw.{key} = {raw[key]} is below "
              f"latency.{key} = {lat[key]}", raw, lat)


@test
def json_document_agrees_with_the_run(h):
    _, port = start_replier(h)
    dump = tmpfile(h, "j.txt")
    res = run_sender(h, "-S", f"127.0.0.1:{port}",
                     f"threads=2,count=150,ssize=100,rsize=300,seed=5,dump={dump}",
                     extra=["--json"])
    check(res.rc == 0, "exit status", res)
    doc = load_json(res)
    rows = read_dump(dump)
    for key in ("tool", "version", "mode", "config", "addresses", "elapsed_ns",
                "messages_sent", "replies_expected", "replies_received", "bytes_sent",
                "bytes_received", "summary_us", "latency", "latency_relative_error",
                "round_trip_raw", "connections", "violations", "error", "exit_code"):
        check(key in doc, f"JSON document lacks {key!r}", doc)
    check(doc["tool"] == "seqtest" and doc["mode"] == "sync", "tool/mode", doc)
    cfg = doc["config"]
    for key, v in (("ssize_min", 100), ("ssize_max", 100), ("rsize_min", 300),
                   ("rsize_max", 300), ("count", 150), ("threads", 2), ("seed", 5),
                   ("verify", False), ("rinterval", 1), ("dump", dump)):
        check(cfg.get(key) == v, f"config.{key} = {cfg.get(key)!r}, expected {v!r}", doc)
    check(doc["addresses"] == [{"index": 0, "host": "127.0.0.1", "port": port}],
          "addresses", doc)
    for key, v in (("messages_sent", 300), ("replies_expected", 300),
                   ("replies_received", 300), ("bytes_sent", 300 * 100),
                   ("bytes_received", 300 * 300), ("exit_code", 0)):
        check(doc[key] == v and type(doc[key]) is int, f"{key} = {doc[key]!r}, expected {v}",
              doc)
    check(doc["error"] is None, "error set on success", doc)
    check(isinstance(doc["elapsed_ns"], int) and doc["elapsed_ns"] > 0, "elapsed_ns", doc)
    lat = [r[2] for r in rows]
    want = expected_figures(lat)
    su = doc["summary_us"]
    for jk, k in (("average", "average"), ("stddev", "stddev"), ("median", "median"),
                  ("p90", "p90"), ("p99", "p99"), ("p99_9", "p999"), ("minimum", "min"),
                  ("maximum", "max")):
        check(near(su[jk], want[k]), f"summary_us.{jk} = {su[jk]}, samples give {want[k]}",
              doc)
    L = doc["latency"]
    check(L["count"] == 300 and L["min_ns"] == min(lat) and L["max_ns"] == max(lat),
          "latency count/min/max are not exact", L, (min(lat), max(lat)))
    check(set(L) == {"count", "min_ns", "max_ns", "mean_ns", "stddev_ns", "p50_ns", "p90_ns",
                     "p99_ns", "p99_9_ns", "p99_99_ns"},
          "latency must hold count, min, max, mean, stddev and p50 ... p99.99", L)
    mean = sum(lat) / len(lat)
    check(abs(L["mean_ns"] - mean) <= 1, "latency.mean_ns not exact", L)
    sd = math.sqrt(sum((x - mean) ** 2 for x in lat) / len(lat))
    check(abs(L["stddev_ns"] - sd) <= 1 + 1e-6 * sd, f"latency.stddev_ns {L['stddev_ns']} is "
          f"not the samples' population stddev {sd:.1f}", L)
    rel = doc["latency_relative_error"]
    check(0 < rel < 0.05, "latency_relative_error", doc)
    s = sorted(lat)
    for key, p in (("p50_ns", 50), ("p90_ns", 90), ("p99_ns", 99), ("p99_9_ns", 99.9),
                   ("p99_99_ns", 99.99)):
        rank = math.ceil(len(s) * p / 100)
        near_rank = s[max(0, rank - 2):rank + 1]
        check(any(abs(L[key] - x) <= rel * x + 1 for x in near_rank),
              f"latency.{key} = {L[key]} is not within {rel} of the samples near rank "
              f"{rank}: {near_rank}", L)
    check_round_trip_raw(doc)
    conns = doc["connections"]
    check(len(conns) == 2, "two connections", conns)
    for i, c in enumerate(conns):
        check(c["id"] == i and c["remote"] == f"127.0.0.1:{port}" and c["status"] == "ok"
              and c["error"] is None and c["replies_received"] == 150
              and c["messages_sent"] == 150 and c["bytes_sent"] == 15000
              and c["bytes_received"] == 45000 and c["violations"] == 0,
              f"connection {i}", c)
        check(re.fullmatch(r"127\.0\.0\.1:\d+", c["local"]), "connection local", c)
    v = doc["violations"]
    check(set(v) == set(VIOLATION_KINDS) | {"total"} and not any(v.values()),
          "violations must be all eleven kinds plus total, all 0", v)


@test
def json_round_trip_raw_includes_the_reply_delay(h):
    """The raw round trip keeps the replier's 3 ms rdelay; the latency does not. Per reply,
    raw - latency = ts3 - ts2, the replier's processing time, at least the 3 ms delay; the
    means are exact, so their difference shows it whatever the machine's load (a bound on
    the latency itself would be a timing assertion)."""
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "count=5,rdelay=3000000", extra=["--json"])
    check(res.rc == 0, "exit status", res)
    doc = load_json(res)
    check_round_trip_raw(doc)
    raw, lat = doc["round_trip_raw"], doc["latency"]
    check(raw["count"] == 5 and raw["min_ns"] >= 3000000,
          f"round_trip_raw.min_ns {raw['min_ns']} lacks the 3 ms reply delay", doc)
    check(raw["mean_ns"] - lat["mean_ns"] >= 3000000 - 1,
          f"round_trip_raw.mean_ns {raw['mean_ns']} - latency.mean_ns {lat['mean_ns']} is "
          "under the 3 ms reply delay: the latency includes the replier's delay", doc)


@test
def json_async_counts_replies_by_the_ceil_rule(h):
    _, port = start_replier(h)
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "threads=3,count=95,rinterval=10",
                     extra=["--json"])
    check(res.rc == 0, "exit status", res)
    doc = load_json(res)
    check(doc["mode"] == "async", "mode", doc)
    check(doc["messages_sent"] == 285 and doc["replies_expected"] == 30
          and doc["replies_received"] == 30 and doc["latency"]["count"] == 30,
          "async counts", doc)
    check(doc["config"]["rinterval"] == 10, "config.rinterval", doc)
    check_round_trip_raw(doc)


@test
def json_with_no_replies_has_null_latency(h):
    _, port = start_replier(h)
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "count=10,rinterval=0", extra=["--json"])
    check(res.rc == 0, "exit status", res)
    doc = load_json(res)
    check(doc["replies_received"] == 0 and doc["latency"]["count"] == 0, "counts", doc)
    check(all(v is None for k, v in doc["latency"].items() if k != "count"),
          "latency members must be null with no replies", doc)
    check(all(v == 0.0 for v in doc["summary_us"].values()), "summary_us must be 0.0", doc)
    check_round_trip_raw(doc)


@test
def json_stream_events(h):
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "count=20", extra=["--json-stream"])
    check(res.rc == 0, "exit status", res)
    events = []
    for line in res.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            check(False, f"--json-stream line is not JSON: {line!r}", res)
    check(events and all(set(e) == {"event", "data"} for e in events), "event shape", events)
    check(events[0] == {"event": "address", "data": {"index": 0, "host": "127.0.0.1",
                                                     "port": port}}, "address event", events)
    check(events[-1]["event"] == "end" and events[-1]["data"]["replies_received"] == 20,
          "end event", events[-1])
    check([e["event"] for e in events].count("end") == 1, "one end event", events)


@test
def replier_json_stream_and_document_on_sigterm(h):
    import signal
    rep = h.spawn([seqtest(), "-r", "--json-stream", "127.0.0.1:0"])
    m = rep.wait_output(r'^\{"event":\s*"address".*\}$', timeout=10)
    ev = json.loads(m.group(0))
    port = ev["data"]["port"]
    check(ev["data"]["host"] == "127.0.0.1" and port > 0, "replier address event", ev)
    summary_ok(run_sender(h, "-S", f"127.0.0.1:{port}", "threads=2,count=30"), 60)
    rep.signal(signal.SIGTERM)
    rc = rep.wait(10)
    check(rc == 0, f"replier exit {rc}", rep.stdout, rep.stderr)
    events = [json.loads(line) for line in rep.stdout.splitlines()]
    check(events[-1]["event"] == "end", "last replier event", events)
    doc = events[-1]["data"]
    check(doc["mode"] == "replier" and doc["connections_accepted"] == 2
          and doc["connections_closed_on_error"] == 0
          and doc["messages_received"] == 60 and doc["replies_sent"] == 60
          and doc["bytes_received"] == 2400 and doc["bytes_sent"] == 2400
          and doc["violations"]["total"] == 0 and doc["exit_code"] == 0
          and doc["error"] is None,
          "replier JSON document", doc)


# ---- the multi-call binary --------------------------------------------------------------------

@test
def netgrind_runs_seqtest_by_name_and_through_links(h):
    """doc/man/netgrind.1: `netgrind seqtest ARGS` and a link named seqtest (the build's, or
    any other) run the same tool; --help lists it, --version names the version; no tool or
    an unknown one is a usage error (64)."""
    import shutil
    netgrind = os.path.join(os.path.dirname(seqtest()), "netgrind")
    check(os.path.islink(seqtest()) and os.readlink(seqtest()) == "netgrind",
          "build/bin/seqtest is not a link to netgrind")
    res = h.run([netgrind, "--help"], timeout=10)
    check(res.rc == 0 and re.search(r"^  seqtest +\S", res.stdout, re.M), "--help", res)
    res = h.run([netgrind, "--version"], timeout=10)
    check(res.rc == 0 and re.fullmatch(r"netgrind \d+\.\d+\.\d+\nfeatures: .*\n", res.stdout),
          "--version", res)
    for argv, rx in (([netgrind], r"Usage: netgrind TOOL"),
                     ([netgrind, "nosuchtool"], r"^netgrind: unknown tool 'nosuchtool'$")):
        res = h.run(argv, timeout=10)
        check(res.rc == 64 and re.search(rx, res.stderr, re.M), f"{argv[1:]}: exit 64", res)
    _, port = start_replier(h)
    summary_ok(h.run([netgrind, "seqtest", "-S", "-o", "count=10", f"127.0.0.1:{port}"]), 10)
    d = tempfile.mkdtemp(prefix="seqtest-link-")
    link = os.path.join(d, "seqtest")
    os.symlink(os.path.abspath(netgrind), link)
    h.on_cleanup(lambda: shutil.rmtree(d))
    summary_ok(h.run([link, "-S", "-o", "count=10", f"127.0.0.1:{port}"]), 10)


# ---- addresses -------------------------------------------------------------------------------

def local_bind_run(h, mode, local):
    _, port = start_replier(h)
    relay = FaultRelay(("127.0.0.1", port)).start()
    h.on_cleanup(relay.close)
    res = run_sender(h, mode, f"{local},127.0.0.1:{relay.port}", "threads=2,count=10",
                     extra=["--json"])
    check(res.rc == 0, f"exit {res.rc} with {local},127.0.0.1:PORT", res)
    peers = sorted(c.peer[0] for c in relay.connections)
    check(peers == [local, local], f"the relay saw peers {peers}, expected {local} twice", res)
    doc = json.loads(res.stdout)
    for c in doc["connections"]:
        check(c["local"].startswith(local + ":"), f"JSON local {c['local']}", doc)


@test
def local_bind_sync(h):
    local_bind_run(h, "-S", "127.0.0.2")


@test
def local_bind_async(h):
    local_bind_run(h, "-s", "127.0.0.3")


@test
def local_bind_text_mode_and_ipv6(h):
    need_ipv6()
    _, port = start_replier(h, "::1")
    relay = FaultRelay(("::1", port), listen=("::1",)).start()
    h.on_cleanup(relay.close)
    res = run_sender(h, "-S", f"::1,[::1]:{relay.port}", "count=10")
    summary_ok(res, 10)
    sender_address_ok(res, "::1", relay.port)
    check(relay.connections[0].peer[0] == "::1", "peer", relay.events)


def dual_relay(h):
    need_ipv6()
    _, port = start_replier(h)
    relay = FaultRelay(("127.0.0.1", port), listen=("127.0.0.1", "::1")).start()
    h.on_cleanup(relay.close)
    return relay


def families(relay):
    return sorted("v6" if ":" in c.local[0] else "v4" for c in relay.connections)


@test
def two_addresses_give_one_connection_each_by_default(h):
    relay = dual_relay(h)
    res = run_sender(h, "-S", [f"127.0.0.1:{relay.port}", f"[::1]:{relay.port}"], "count=25")
    summary_ok(res, 50)
    check(address_lines(res.stdout) == [(0, "127.0.0.1", relay.port), (1, "::1", relay.port)],
          "Address lines", res)
    check(families(relay) == ["v4", "v6"], f"connections per family {families(relay)}", res)


@test
def threads_are_balanced_over_addresses(h):
    relay = dual_relay(h)
    res = run_sender(h, "-s", [f"127.0.0.1:{relay.port}", f"[::1]:{relay.port}"],
                     "threads=4,count=25")
    summary_ok(res, 100)
    check(families(relay) == ["v4", "v4", "v6", "v6"], f"families {families(relay)}", res)


def multi_name(h):
    """'localhost' if it resolves to both loopbacks here, else the same name mapped to both
    by a private /etc/hosts; returns (argv prefix, name)."""
    import socket
    fams = {ai[0] for ai in socket.getaddrinfo("localhost", 1, 0, socket.SOCK_STREAM)}
    if fams == {socket.AF_INET, socket.AF_INET6}:
        return [], "localhost"
    return private_hosts(h, "127.0.0.1 localhost\n::1 localhost\n"), "localhost"


@test
def a_name_with_two_addresses_gives_one_sender_per_address(h):
    relay = dual_relay(h)
    prefix, name = multi_name(h)
    res = h.run(prefix + sender_argv("-S", f"{name}:{relay.port}", "count=30"), timeout=30)
    summary_ok(res, 60)
    hosts = sorted(a[1] for a in address_lines(res.stdout))
    check(hosts == ["127.0.0.1", "::1"], f"Address lines name {hosts}", res)
    check(families(relay) == ["v4", "v6"], f"connections per family {families(relay)}", res)


@test
def a_replier_name_with_two_addresses_listens_on_one_port(h):
    need_ipv6()
    prefix, name = multi_name(h)
    rep = h.spawn(prefix + [seqtest(), "-r", f"{name}:0"])
    rep.wait_output(r"(?s)Address 0: .*\nAddress 1: .*\n", timeout=10)
    addrs = address_lines(rep.stdout)
    check(sorted(a[1] for a in addrs) == ["127.0.0.1", "::1"], "replier Address lines",
          rep.stdout)
    ports = {a[2] for a in addrs}
    check(len(ports) == 1 and 0 not in ports, f"replier ports {ports}: expected one port",
          rep.stdout)
    port = ports.pop()
    for addr in (f"127.0.0.1:{port}", f"[::1]:{port}"):
        summary_ok(run_sender(h, "-S", addr, "count=10"), 10)


# A private network namespace whose ephemeral range is two ports. $1: the range's first port
# (even), $2: "" or "ADDR PORT" to hold a listening socket there; the rest: the command.
PORT_NS_SCRIPT = r"""
set -e
ip link set lo up
echo "$1 $(($1 + 1))" > /proc/sys/net/ipv4/ip_local_port_range
if [ -n "$2" ]; then
    python3 -c 'import socket, sys, time
a, p = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.bind((a, p)); s.listen(); print("held", flush=True); time.sleep(30)' $2 &
    sleep 0.5
fi
shift 2
exec "$@"
"""


def port_ns_argv(h, first_port, hold, argv):
    """argv run by PORT_NS_SCRIPT, with a private /etc/hosts where localhost is both
    loopbacks."""
    import shutil
    import subprocess
    if not shutil.which("ip"):
        raise Skip("no ip")
    if os.geteuid() != 0 or subprocess.run(["unshare", "-n", "-m", "true"],
                                           capture_output=True, timeout=10).returncode:
        raise Skip("needs root for unshare -n -m")
    return private_hosts(h, "127.0.0.1 localhost\n::1 localhost\n") + [
        "unshare", "-n", "sh", "-c", PORT_NS_SCRIPT, "sh", str(first_port), hold, *argv]


@test
def a_replier_name_with_two_addresses_finds_a_port_free_on_both(h):
    """localhost:0 where the port the kernel picks for the first address is taken on the
    second (a connection of another program holds it there): the replier tries again and
    listens on a port free on both, where it failed with 'Address already in use'. In a
    private namespace whose ephemeral range is P and P+1, a socket holds P+1 on the second
    address (the kernel prefers odd ports for bind to port 0), so P is the answer."""
    need_ipv6()
    first = 40000
    probe = h.spawn(port_ns_argv(h, first, "", [seqtest(), "-r", "localhost:0"]))
    probe.wait_output(r"(?s)Address 0: .*\nAddress 1: .*\n", timeout=10)
    probe_addrs = address_lines(probe.stdout)
    order = [a[1] for a in probe_addrs]
    probe.kill()
    # P + 1 first, or the second run would not meet the collision it is about.
    check(sorted(order) == ["127.0.0.1", "::1"] and {a[2] for a in probe_addrs} == {first + 1},
          f"probe Address lines {probe_addrs}, expected port {first + 1}", probe.stdout)
    rep = h.spawn(port_ns_argv(h, first, f"{order[1]} {first + 1}",
                               [seqtest(), "-r", "localhost:0"]))
    rep.wait_output(r"(?s)Address 0: .*\nAddress 1: .*\n", timeout=10)
    addrs = address_lines(rep.stdout)
    check([a[1] for a in addrs] == order and {a[2] for a in addrs} == {first},
          f"replier Address lines {addrs}, expected port {first} on {order}", rep.stdout,
          rep.stderr)


# ---- the replier's direct wait ---------------------------------------------------------------

@test
def replier_in_a_ping_pong_still_takes_connections_and_stops(h):
    """A replier worker whose only connection is in a ping-pong waits for the next request
    in a blocking recv() instead of epoll (seqtest(1), PERFORMANCE NOTES). A second
    connection handed to that worker must still be served while the ping-pong goes on, and
    SIGTERM must still stop the replier."""
    import signal
    rep, port = start_replier(h, opts="workers=1")
    busy = h.spawn(sender_argv("-S", f"127.0.0.1:{port}", "count=100000000", extra=["-d"]))
    # -d writes '>' and '<' per round trip through stdout's buffer: 4000 of them mean the
    # ping-pong has been going on for 2000 round trips.
    busy.wait_output(r"[<>]{4000}", timeout=20)
    second = h.spawn(sender_argv("-S", f"127.0.0.1:{port}", "count=200"))
    # Reading busy's output meanwhile keeps its pipe from filling (which would stall it).
    wait_until(lambda: busy.stdout is not None and not second.alive(), 20,
               "the second sender to finish while the first one's ping-pong goes on")
    rc = second.wait(1)
    summary_ok(Result(second.argv, rc, second.stdout, second.stderr), 200)
    check(busy.alive(), "the first sender stopped before the second was served", busy.stderr)
    rep.signal(signal.SIGTERM)
    rc = rep.wait(10)
    rres = Result(rep.argv, rc, rep.stdout, rep.stderr)
    check(rc == 0, f"replier exit status {rc} after SIGTERM during a ping-pong", rres)
    summ = parse_replier_summary(rres.stdout, rres)
    check(summ["accepted"] == 2 and summ["closed_on_error"] == 0
          and summ["received"] == summ["replies"] and summ["received"] > 2200,
          "replier summary", rres)
    rc = busy.wait(10)
    check(rc == 1 and re.search(r"sender: recv closed too soon|rcvr/recv: ", busy.stderr),
          f"first sender: exit {rc}, expected 1 and a closed_early or io_error line",
          busy.stderr)


# ---- many connections ------------------------------------------------------------------------

@test
def thousand_connections_sync(h):
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "threads=1000,count=10", timeout=60)
    summary_ok(res, 10000)


@test
def thousand_connections_async(h):
    _, port = start_replier(h)
    res = run_sender(h, "-s", f"127.0.0.1:{port}", "threads=1000,count=10,rinterval=3",
                     timeout=60)
    summary_ok(res, 4000)


@test
def ten_thousand_connections(h):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 10100:
        raise Skip(f"hard RLIMIT_NOFILE {hard} < 10100")
    _, port = start_replier(h)
    res = run_sender(h, "-S", f"127.0.0.1:{port}", "threads=10000,count=2", timeout=60)
    summary_ok(res, 20000)


run_tests()
