#!/usr/bin/env python3
"""seqtest benchmarks (issue 2), each side by side with a peer in the same run:

  latency  seqtest -S raw round trip (one connection, 40-byte messages) vs sockperf TCP
           ping-pong with --full-rtt (sockperf otherwise prints half the round trip)
  rate     seqtest -s message rate, 40-byte messages, no replies, 2 connections, vs iperf3's
           small-block rate (-l 40 -P 2): messages/s = bytes received / 40 / seconds
  memory   RSS of a seqtest replier holding 10,000 idle connections (KiB per connection)

Usage: bench/bench_seqtest.py BUILD [latency|rate|memory]...
Environment: BENCH_RUNS (5), SEQTEST_LAT_COUNT (50000), SEQTEST_RATE_COUNT (10000000 per
connection), PEER_SECONDS (5), MEM_CONNS (10000).
"""

import json
import os
import re
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BenchError, Session, compare, free_port, have, heading,  # noqa: E402
                      main_guard, sockperf_pingpong, wait_listening)

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
SEQTEST = os.path.join(BUILD, "bin", "seqtest")
LAT_COUNT = int(os.environ.get("SEQTEST_LAT_COUNT", "50000"))
RATE_COUNT = int(os.environ.get("SEQTEST_RATE_COUNT", "10000000"))
PEER_SECONDS = int(os.environ.get("PEER_SECONDS", "5"))
MEM_CONNS = int(os.environ.get("MEM_CONNS", "10000"))
MSG = 40

ADDRESS_RX = r"^Address \d+: Host \S+ Port (\d+)"


def start_replier(s, *opts):
    r = s.spawn([SEQTEST, "-r", *opts, "127.0.0.1:0"])
    port = int(r.wait_for(ADDRESS_RX, timeout=10).group(1))
    if port == 0:
        raise BenchError("the replier printed port 0")
    return r, port


# ---- a) round-trip latency ------------------------------------------------------------------

def summary_value(text, label):
    m = re.search(r"^" + re.escape(label) + r"\s+([0-9.]+) us", text, re.M)
    if not m:
        raise BenchError(f"no '{label}' line in seqtest's output: {text[-800:]!r}")
    return float(m.group(1))


def seqtest_latency():
    """The raw round trip (--json round_trip_raw: receive time - ts1, before seqtest
    subtracts the replier's processing time), which is what sockperf --full-rtt measures."""
    with Session() as s:
        _, port = start_replier(s)
        p = s.run([SEQTEST, "-S", "--json", "-o", f"count={LAT_COUNT},threads=1,ssize={MSG},"
                   f"rsize={MSG}", f"127.0.0.1:{port}"], timeout=120)
        out = p.text()
        try:
            raw = json.loads(out)["round_trip_raw"]
            return {"p50": raw["p50_ns"] / 1e3, "p99": raw["p99_ns"] / 1e3}
        except (ValueError, KeyError, TypeError) as e:
            raise BenchError(f"seqtest --json has no round_trip_raw percentiles ({e}): "
                             f"{out[-800:]!r}")


def sockperf_latency():
    return sockperf_pingpong(MSG, PEER_SECONDS)


def bench_latency():
    compare(f"seqtest -S round trip vs sockperf TCP ping-pong ({MSG}-byte messages, "
            f"1 connection, loopback)",
            "seqtest", seqtest_latency, "sockperf",
            sockperf_latency if have("sockperf") else None,
            [("p50", "p50", "us"), ("p99", "p99", "us")],
            note=f"seqtest: {LAT_COUNT} messages, raw round trip (--json round_trip_raw, before "
                 f"the replier's processing time is subtracted); sockperf: pp -t {PEER_SECONDS} "
                 f"--full-rtt (full round trip; without it sockperf prints half)"
                 + ("" if have("sockperf") else "; sockperf not installed: "
                    "scripts/deps.sh bench"))


# ---- b) message rate ------------------------------------------------------------------------

def seqtest_rate():
    with Session() as s:
        _, port = start_replier(s)
        p = s.run([SEQTEST, "-s", "-o", f"threads=2,count={RATE_COUNT},rinterval=0,ssize={MSG}",
                   f"127.0.0.1:{port}"], timeout=300)
        us = summary_value(p.text(), "Time:")
        if us <= 0:
            raise BenchError("seqtest reported Time: 0")
        return {"rate": 2 * RATE_COUNT / (us / 1e6), "secs": us / 1e6}


def iperf3_rate():
    with Session() as s:
        port = free_port()
        srv = s.spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port])
        wait_listening(port, srv)
        p = s.run(["iperf3", "-c", "127.0.0.1", "-p", port, "-l", MSG, "-P", "2",
                   "-t", PEER_SECONDS, "-J"], timeout=PEER_SECONDS + 60)
        try:
            end = json.loads(p.text())["end"]
            recv = end["sum_received"]
        except (ValueError, KeyError) as e:
            raise BenchError(f"iperf3 -J output without end.sum_received ({e})")
        secs = recv["seconds"]
        return {"rate": recv["bytes"] / MSG / secs, "secs": secs}


def bench_rate():
    compare(f"seqtest -s message rate vs iperf3 -l {MSG} ({MSG}-byte messages, no replies, "
            f"2 connections)",
            "seqtest", seqtest_rate, "iperf3", iperf3_rate if have("iperf3") else None,
            [("rate", "msgs/s", ""), ("secs", "time", "s", False)],
            note=f"seqtest: 2 x {RATE_COUNT} messages, rate = 2N / Time; iperf3: -P 2 "
                 f"-t {PEER_SECONDS}, rate = bytes received / {MSG} / seconds"
                 + ("" if have("iperf3") else "; iperf3 not installed: scripts/deps.sh bench"))


# ---- c) memory per idle connection ----------------------------------------------------------

def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def slab_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def memory_once():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = MEM_CONNS + 100
    if soft < need:
        if hard < need:
            raise BenchError(f"need {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    socks = []
    try:
        with Session() as s:
            r, port = start_replier(s)
            time.sleep(0.2)  # let the replier finish its start-up allocations
            base_fds, rss0, slab0 = fd_count(r.pid), vm_rss_kib(r.pid), slab_kib()
            for _ in range(MEM_CONNS):
                c = socket.create_connection(("127.0.0.1", port), timeout=10)
                socks.append(c)
            deadline = time.monotonic() + 60
            while fd_count(r.pid) < base_fds + MEM_CONNS:
                if r.p.poll() is not None:
                    raise BenchError(f"replier exited ({r.p.returncode}): {r.tail()}")
                if time.monotonic() >= deadline:
                    raise BenchError(f"replier accepted only {fd_count(r.pid) - base_fds} of "
                                     f"{MEM_CONNS} connections in 60 s")
                time.sleep(0.05)
            time.sleep(0.2)
            rss1, slab1 = vm_rss_kib(r.pid), slab_kib()
            return {"per_conn": (rss1 - rss0) / MEM_CONNS, "rss0": rss0, "rss1": rss1,
                    "kernel": (slab1 - slab0) / MEM_CONNS}
    finally:
        for c in socks:
            c.close()


def bench_memory():
    compare(f"seqtest replier memory with {MEM_CONNS} idle connections",
            "seqtest", memory_once, "peer", None,
            [("per_conn", "user", "KiB/conn"), ("rss0", "RSS before", "KiB"),
             ("rss1", "RSS after", "KiB"), ("kernel", "kernel slab", "KiB/conn")],
            runs=min(3, int(os.environ.get("BENCH_RUNS", "5"))),
            note="user = the replier's VmRSS growth / connections. The kernel's socket memory is "
                 "not in RSS; 'kernel slab' is the machine's Slab growth (/proc/meminfo) per "
                 "connection, both ends (client and replier sockets) and anything else running, "
                 "so only a rough figure.")


def main():
    if not os.access(SEQTEST, os.X_OK):
        sys.exit(f"bench: {SEQTEST} is not built (run make)")
    which = sys.argv[2:] or ["latency", "rate", "memory"]
    table = {"latency": bench_latency, "rate": bench_rate, "memory": bench_memory}
    for name in which:
        if name not in table:
            sys.exit(f"bench: unknown benchmark '{name}' ({', '.join(table)})")
    heading(f"seqtest benchmarks: {BUILD}/bin/seqtest, {os.cpu_count()} CPUs")
    for name in which:
        table[name]()


if __name__ == "__main__":
    main_guard(main)
