#!/usr/bin/env python3
"""tcpkali benchmarks (issue 4), side by side with a peer in the same run where one exists:

  connections  one client process opens 19,000 connections to one tcpkali sink (another
               process) at --connect-rate 100k: ramp-up time -> connections per second, and
               the client's user memory per idle connection (VmRSS growth / connections,
               against the same client holding 1 connection). No peer: the issue's aims
               (>= 50,000 connections/s, <= 2 KiB per connection) are printed as the ratio.
  bulk         -c 1 and -c 10 with a 1 KiB message (-f) to a tcpkali sink vs iperf3 -P 1 and
               -P 10 for the same duration: Gbit/s, ratio
  rates        -c 1000 -r 100 of a 5-byte message: aggregate 100,000 messages/s; achieved rate,
               its error, and the send-time error percentiles (--json summary.send_lag_us:
               actual minus intended send time of every message)
  latency      --latency-marker against a tcpkali --listen-mode echo listener at -r 1000 on one
               connection (16-byte messages) vs sockperf TCP ping-pong at 1000 msg/s
               (--full-rtt, 16-byte messages): p50/p99 in microseconds. The fair comparison:
               the same number of connections (1), the same message size (16 bytes) and the
               same rate (1000/s, one message in flight at a time), over the same loopback.
               Two differences remain and are printed: tcpkali times each message from its
               INTENDED send time (so its pacing error, send_lag_us, is part of its latency),
               sockperf from the actual send; and sockperf's client busy-waits between
               messages (a whole CPU), tcpkali's sleeps and spins only the last 100 us.

  ws           WebSocket bulk against plain TCP bulk in the same run (issue 5): --ws -c 10 -m
               <1 KiB> to a tcpkali --ws sink vs the same options without --ws to a plain sink:
               Gbit/s on the wire (each ws frame adds 8 bytes: 2 header + 4 mask + 2 length)
               and the ratio ws/tcp (aim >= 0.9)
  expr         per-message expressions (issue 5): -c 100 -r 1000 with -m '\{re [a-z]{64}}'
               (a fresh 64-letter string per message) vs a constant 64-byte message: the
               achieved rate against 100,000 messages/s (aim: within 1%) and the client's CPU
               time (user + system, getrusage of the reaped child) per million messages
  tls          TLS bulk against plain TCP bulk in the same run (issue 5): --ssl -c 10 -m
               <1 KiB> to a tcpkali --ssl sink vs plain: Gbit/s and the ratio tls/tcp

Usage: bench/bench_tcpkali.py BUILD [connections|bulk|rates|latency|ws|expr|tls]...
Environment: BENCH_RUNS (5), PEER_SECONDS (5), CONN_COUNT (19000), RATE_CONNS (1000),
EXPR_CONNS (100).
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BenchError, Session, compare, free_port, have, heading,  # noqa: E402
                      main_guard, run_benchmarks, sockperf_pingpong, wait_listening)

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
TCPKALI = os.path.join(BUILD, "bin", "tcpkali")
SECONDS = int(os.environ.get("PEER_SECONDS", "5"))
CONN_COUNT = int(os.environ.get("CONN_COUNT", "19000"))
RATE_CONNS = int(os.environ.get("RATE_CONNS", "1000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
EXPR_CONNS = int(os.environ.get("EXPR_CONNS", "100"))

LISTEN_RX = r"^Listen on: \[127\.0\.0\.1\]:(\d+)$"
RAMPED_RX = r"^Ramped up to (\d+) connections\.$"  # the original's text, even for 1


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard < need:
            raise BenchError(f"need {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def start_sink(s, *opts):
    """A tcpkali sink on 127.0.0.1 port 0; returns (proc, port) from 'Listen on:' (stderr)."""
    p = s.spawn([TCPKALI, "-l", "127.0.0.1:0", "-T", "1h", *opts])
    deadline = time.monotonic() + 10
    while True:
        m = re.search(LISTEN_RX, p.errtext(), re.M)
        if m:
            return p, int(m.group(1))
        if p.p.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"the tcpkali sink printed no 'Listen on:' line: {p.tail()}")
        p.pump(0.05)


def wait_stderr(p, rx, timeout):
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(rx, p.errtext(), re.M)
        if m:
            return m
        if p.p.poll() is not None:
            p.drain()
            m = re.search(rx, p.errtext(), re.M)
            if m:
                return m
            raise BenchError(f"tcpkali exited ({p.p.returncode}) before /{rx}/: {p.tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"no /{rx}/ from tcpkali in {timeout}s: {p.tail()}")
        p.pump(0.02)


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


# ---- connections ----------------------------------------------------------------------------

def hold_connections(n):
    """A client holding n idle connections to a sink: (ramp-up seconds from the client's
    --json ramp_up.duration_s, client VmRSS KiB once ramped up and settled)."""
    raise_nofile(min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], n + 200))
    with Session() as s:
        _, port = start_sink(s)
        c = s.spawn([TCPKALI, "--json", "-c", n, "--connect-rate", "100k", "-T", "2",
                     f"127.0.0.1:{port}"])
        wait_stderr(c, RAMPED_RX, 30)
        # The idle client settles: poll RSS until two reads 0.1 s apart agree within 1%.
        rss = vm_rss_kib(c.pid)
        for _ in range(10):
            c.pump(0.1)
            now = vm_rss_kib(c.pid)
            if abs(now - rss) <= 0.01 * rss:
                rss = now
                break
            rss = now
        if c.wait(30) != 0:
            raise BenchError(f"tcpkali -c {n} exited with {c.p.returncode}: {c.tail()}")
        try:
            ramp = json.loads(c.text())["ramp_up"]["duration_s"]
        except (ValueError, KeyError, TypeError) as e:
            raise BenchError(f"no ramp_up.duration_s in tcpkali --json ({e}): {c.tail()}")
        return ramp, rss


def connections_once():
    _, base_rss = hold_connections(1)
    ramp, rss = hold_connections(CONN_COUNT)
    per_conn = (rss - base_rss) / (CONN_COUNT - 1)
    return {"cps": CONN_COUNT / ramp, "ramp": ramp, "kib": per_conn,
            "cps_aim": CONN_COUNT / ramp / 50000,
            "mem_aim": 2.0 / per_conn if per_conn > 0 else None}


def bench_connections():
    compare(f"tcpkali: {CONN_COUNT} connections to one sink at --connect-rate 100k",
            "tcpkali", connections_once, "peer", None,
            [("cps", "conns/s", ""), ("ramp", "ramp", "s"), ("kib", "user mem", "KiB/conn"),
             ("cps_aim", "vs 50k/s aim", "x"), ("mem_aim", "vs 2 KiB aim", "x")],
            runs=min(RUNS, 3),
            note="ramp = the client's ramp_up.duration_s (--json); user mem "
                 f"= (VmRSS with {CONN_COUNT} idle connections - VmRSS with 1) / "
                 f"{CONN_COUNT - 1}. 'vs aim' > 1 meets the issue's aim.")


# ---- bulk -----------------------------------------------------------------------------------

def kib_file():
    f = tempfile.NamedTemporaryFile(prefix="tcpkali-1k-", delete=False)
    f.write(bytes((ord("a") + i % 26) for i in range(1024)))
    f.close()
    return f.name


MSG_FILE = None


def tcpkali_bulk(conns):
    def run():
        with Session() as s:
            _, port = start_sink(s)
            p = s.run([TCPKALI, "--json", "-c", conns, "--connect-rate", "10k", "-f", MSG_FILE,
                       "-T", SECONDS, f"127.0.0.1:{port}"], timeout=SECONDS + 30)
            try:
                mbps = json.loads(p.text())["summary"]["bandwidth_out_Mbps"]
            except (ValueError, KeyError, TypeError) as e:
                raise BenchError(f"no summary.bandwidth_out_Mbps in --json ({e}): {p.tail()}")
            return {"gbps": mbps / 1000}
    return run


def iperf3_bulk(conns):
    def run():
        with Session() as s:
            port = free_port()
            srv = s.spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port])
            wait_listening(port, srv)
            p = s.run(["iperf3", "-c", "127.0.0.1", "-p", port, "-P", conns, "-t", SECONDS,
                       "-J"], timeout=SECONDS + 60)
            try:
                recv = json.loads(p.text())["end"]["sum_received"]
            except (ValueError, KeyError) as e:
                raise BenchError(f"iperf3 -J output without end.sum_received ({e})")
            return {"gbps": recv["bits_per_second"] / 1e9}
    return run


def bench_bulk():
    global MSG_FILE
    MSG_FILE = kib_file()
    try:
        for conns in (1, 10):
            compare(f"tcpkali -c {conns} bulk (1 KiB message, -f) vs iperf3 -P {conns}, "
                    f"{SECONDS} s, loopback",
                    "tcpkali", tcpkali_bulk(conns), "iperf3",
                    iperf3_bulk(conns) if have("iperf3") else None,
                    [("gbps", "throughput", "Gbit/s")],
                    note="tcpkali: the client's steady-state summary.bandwidth_out_Mbps (--json); "
                         "iperf3: end.sum_received" + ("" if have("iperf3") else
                                                        "; iperf3 not installed"))
    finally:
        os.unlink(MSG_FILE)


# ---- rates ---------------------------------------------------------------------------------

def rates_once():
    target = RATE_CONNS * 100
    raise_nofile(2 * RATE_CONNS + 200)
    with Session() as s:
        _, port = start_sink(s)
        p = s.run([TCPKALI, "--json", "-c", RATE_CONNS, "--connect-rate", "100k", "-m", "hello",
                   "-r", 100, "-T", SECONDS, f"127.0.0.1:{port}"], timeout=SECONDS + 60)
        try:
            doc = json.loads(p.text())
            sent, secs = doc["summary"]["bytes_sent"], doc["summary"]["duration_s"]
        except (ValueError, KeyError, TypeError) as e:
            raise BenchError(f"no summary.bytes_sent/duration_s in --json ({e}): {p.tail()}")
        figs = send_lag(doc, p)
        rate = sent / 5 / secs
        figs.update({"rate": rate, "error": 100.0 * (rate - target) / target})
        return figs


def send_lag(doc, p):
    """The send-time error percentiles of a -r run (--json summary.send_lag_us), in us."""
    lag = doc.get("summary", {}).get("send_lag_us")
    if not isinstance(lag, dict) or not lag.get("count"):
        raise BenchError(f"no summary.send_lag_us in tcpkali --json: {p.tail()}")
    return {"err_p50": lag["p50_us"], "err_p99": lag["p99_us"], "err_max": lag["max_us"]}


def bench_rates():
    compare(f"tcpkali -c {RATE_CONNS} -r 100: aggregate {RATE_CONNS * 100:,} messages/s "
            f"(5-byte messages, {SECONDS} s)",
            "tcpkali", rates_once, "peer", None,
            [("rate", "achieved", "msg/s"), ("error", "error", "%"),
             ("err_p50", "send err p50", "us"), ("err_p99", "send err p99", "us"),
             ("err_max", "send err max", "us")],
            note="achieved = steady-state bytes sent / 5 / test duration; the aim is |error| "
                 "< 1%. send err = actual minus intended send time of each message "
                 "(--json summary.send_lag_us).")


# ---- latency -------------------------------------------------------------------------------

MSG16 = "hello-0123456789"


def tcpkali_latency():
    with Session() as s:
        _, port = start_sink(s, "--listen-mode", "echo")
        p = s.run([TCPKALI, "--json", "-c", 1, "-m", MSG16, "--latency-marker", "hello", "-r",
                   1000, "--latency-percentiles", "50,99", "-T", SECONDS, f"127.0.0.1:{port}"],
                  timeout=SECONDS + 30)
        try:
            doc = json.loads(p.text())
            lat = doc["summary"]["latency"]["message"]
            figs = {"p50": lat["p50_ms"] * 1000, "p99": lat["p99_ms"] * 1000}
        except (ValueError, KeyError, TypeError) as e:
            raise BenchError(f"no summary.latency.message in --json ({e}): {p.tail()}")
        lag = send_lag(doc, p)
        figs.update({"lag_p50": lag["err_p50"], "lag_p99": lag["err_p99"]})
        return figs


def sockperf_latency():
    return sockperf_pingpong(len(MSG16), SECONDS, extra=("--mps", 1000))


def bench_latency():
    compare(f"tcpkali --latency-marker vs sockperf TCP ping-pong (1 connection, 1000 msg/s, "
            f"{len(MSG16)}-byte messages, {SECONDS} s)",
            "tcpkali", tcpkali_latency, "sockperf",
            sockperf_latency if have("sockperf") else None,
            [("p50", "p50", "us"), ("p99", "p99", "us"),
             ("lag_p50", "send lag p50", "us", False), ("lag_p99", "send lag p99", "us", False)],
            note="fair comparison: 1 connection each, 16-byte messages, 1000 msg/s, one in "
                 "flight. tcpkali: -c 1 -r 1000 against its own --listen-mode echo listener, "
                 "latency from each message's INTENDED send time, which includes the send lag "
                 "(actual - intended send time) shown; sockperf: pp --mps 1000 --full-rtt, "
                 "from the actual send, its client busy-waiting between messages"
                 + ("" if have("sockperf") else "; sockperf not installed"))


# ---- ws, tls: a transport's bulk throughput against plain TCP's ---------------------------

KIB_MSG = "".join(chr(ord("a") + i % 26) for i in range(1024))


def bulk_once(sink_opts, client_opts):
    """One bulk run: a tcpkali sink with sink_opts, a -c 10 client sending the 1 KiB message
    with client_opts for SECONDS: the client's steady-state wire Gbit/s (--json)."""
    def run():
        with Session() as s:
            _, port = start_sink(s, *sink_opts)
            p = s.run([TCPKALI, "--json", *client_opts, "-c", 10, "--connect-rate", "10k", "-m",
                       KIB_MSG, "-T", SECONDS, f"127.0.0.1:{port}"], timeout=SECONDS + 30)
            try:
                mbps = json.loads(p.text())["summary"]["bandwidth_out_Mbps"]
            except (ValueError, KeyError, TypeError) as e:
                raise BenchError(f"no summary.bandwidth_out_Mbps in --json ({e}): {p.tail()}")
            return {"gbps": mbps / 1000}
    return run


def bench_ws():
    compare(f"tcpkali --ws -c 10 -m <1 KiB> bulk vs the same over plain TCP, {SECONDS} s, "
            "loopback",
            "ws", bulk_once(["--ws"], ["--ws"]), "tcp", bulk_once([], []),
            [("gbps", "throughput", "Gbit/s")],
            note="each side: the client's steady-state summary.bandwidth_out_Mbps (--json, wire "
                 "bytes; a masked 1 KiB frame is 1032 bytes); the ratio ws/tcp aims at >= 0.9")


CERT_DIR = None


def cert_opts():
    """--ssl-cert/--ssl-key of a throwaway self-signed certificate (openssl req), made once."""
    global CERT_DIR
    if CERT_DIR is None:
        if not have("openssl"):
            raise BenchError("no openssl binary to make a test certificate")
        d = tempfile.mkdtemp(prefix="bench-tls-")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                            "-days", "2", "-keyout", os.path.join(d, "key.pem"), "-out",
                            os.path.join(d, "cert.pem")], capture_output=True, timeout=60)
        if r.returncode != 0:
            shutil.rmtree(d, ignore_errors=True)
            raise BenchError(f"openssl req failed: {r.stderr[-500:]!r}")
        CERT_DIR = d
    return ["--ssl-cert", os.path.join(CERT_DIR, "cert.pem"),
            "--ssl-key", os.path.join(CERT_DIR, "key.pem")]


def bench_tls():
    try:
        certs = cert_opts()
    except BenchError as e:
        heading("tcpkali --ssl bulk vs plain TCP")
        print(f"  skipped: {e}")
        return
    try:
        compare(f"tcpkali --ssl -c 10 -m <1 KiB> bulk vs the same over plain TCP, {SECONDS} s, "
                "loopback",
                "tls", bulk_once(["--ssl", *certs], ["--ssl"]), "tcp", bulk_once([], []),
                [("gbps", "throughput", "Gbit/s")],
                note="each side: the client's steady-state summary.bandwidth_out_Mbps (--json, "
                     "wire bytes: TLS records included); the ratio is tls/tcp")
    finally:
        shutil.rmtree(CERT_DIR, ignore_errors=True)


# ---- expr: per-message expressions at a fixed rate -----------------------------------------

def child_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def expr_once(message):
    """-c EXPR_CONNS -r 1000 of `message` to a sink: achieved messages/s (steady), its error
    against the target, and the client's CPU seconds per million messages sent (its whole
    life, ramp-up included, over every message it sent)."""
    def run():
        target = EXPR_CONNS * 1000
        raise_nofile(2 * EXPR_CONNS + 200)
        with Session() as s:
            _, port = start_sink(s)
            # The sink is not reaped until the session ends, so the children's rusage grows
            # only by the client's, which s.run reaps.
            cpu0 = child_cpu_s()
            p = s.run([TCPKALI, "--json", "-c", EXPR_CONNS, "--connect-rate", "10k", "-m",
                       message, "-r", 1000, "-T", SECONDS, f"127.0.0.1:{port}"],
                      timeout=SECONDS + 60)
            cpu = child_cpu_s() - cpu0
            try:
                doc = json.loads(p.text())
                summ = doc["summary"]
                rate = summ["msgs_sent"] / summ["duration_s"]
                total = sum(iv["msgs_sent"] for iv in doc["intervals"])
            except (ValueError, KeyError, TypeError, ZeroDivisionError) as e:
                raise BenchError(f"no summary.msgs_sent/duration_s in --json ({e}): {p.tail()}")
            if total <= 0:
                raise BenchError(f"no messages counted: {p.tail()}")
            return {"rate": rate, "error": 100.0 * (rate - target) / target,
                    "cpu_per_m": cpu / (total / 1e6)}
    return run


def bench_expr():
    compare(f"tcpkali -c {EXPR_CONNS} -r 1000 -m '\\{{re [a-z]{{64}}}}' vs a constant 64-byte "
            f"message: {EXPR_CONNS * 1000:,} messages/s, {SECONDS} s",
            "re", expr_once(r"\{re [a-z]{64}}"), "const", expr_once("x" * 64),
            [("rate", "achieved", "msg/s"), ("error", "error", "%", False),
             ("cpu_per_m", "CPU", "s per 1M msgs")],
            note="achieved = steady-state summary.msgs_sent / duration_s (aim: |error| < 1%); "
                 "CPU = the client's user + system time (getrusage of the reaped child) over "
                 "every message it sent, ramp-up included; the ratio re/const is the cost of "
                 "generating each message")


def main():
    if not os.access(TCPKALI, os.X_OK):
        sys.exit(f"bench: {TCPKALI} is not built (run make)")
    table = {"connections": bench_connections, "bulk": bench_bulk, "rates": bench_rates,
             "latency": bench_latency, "ws": bench_ws, "expr": bench_expr, "tls": bench_tls}
    run_benchmarks(f"tcpkali benchmarks: {TCPKALI}, {os.cpu_count()} CPUs", table)


if __name__ == "__main__":
    main_guard(main)
