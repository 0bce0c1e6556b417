"""Shared helpers of the tcpkali system tests (test_tcpkali*.py): starting a tcpkali sink on
port 0 and reading the port back, running clients, parsing the final summary strictly (spec
§3.3, doc/man/tcpkali.1) and the --json document, and reading /proc/net/tcp.

References: /work/shared/specs/tcpkali.md, doc/man/tcpkali.1, issue 4.
"""

import json
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, have_ipv6_loopback, Result, Skip, TestFailure,  # noqa: E402
                     tool, wait_until)

RUN_TIMEOUT = 30.0
# Exit status after the summary on SIGINT and SIGTERM (doc/man/tcpkali.1, EXIT STATUS).
SIGINT_RC = 64
SIGTERM_RC = 143
# The sink's line for each listening address (stderr), e.g. "Listen on: [127.0.0.1]:40123".
LISTEN_RX = r"^Listen on: \[([^\]]+)\]:(\d+)$"


def tcpkali():
    return tool("tcpkali")


def need_ipv6():
    if not have_ipv6_loopback():
        raise Skip("no IPv6 loopback (::1) on this machine")


def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---- processes -------------------------------------------------------------------------------

def start_sink(h, host="127.0.0.1", extra=(), duration="30"):
    """Starts `tcpkali -l HOST:0 -T duration EXTRA` and returns (proc, port) from its
    'Listen on: [HOST]:PORT' line on stderr. The sink is stopped by the test (stop_sink), so
    the duration only bounds it."""
    argv = [tcpkali(), "-l", hostport(host, 0), "-T", str(duration)] + list(extra)
    p = h.spawn(argv)
    m = p.wait_output(LISTEN_RX, timeout=10, stream="stderr")
    port = int(m.group(2))
    check(port != 0, "the sink reported port 0 instead of the port it bound", p.stderr)
    check(m.group(1) == host, f"sink listens on [{m.group(1)}], expected [{host}]", p.stderr)
    return p, port


def stop_sink(proc, sig=None, timeout=10, rc=None):
    """Ends a sink with SIGTERM (or sig) and checks its exit status (the documented one for
    the signal, unless rc is given); returns a Result."""
    import signal
    sig = signal.SIGTERM if sig is None else sig
    if rc is None:
        rc = SIGINT_RC if sig == signal.SIGINT else SIGTERM_RC
    proc.signal(sig)
    got = proc.wait(timeout)
    res = Result(proc.argv, got, proc.stdout, proc.stderr)
    check(got == rc, f"sink exit status {got} after a signal, expected {rc}", res)
    return res


def client(h, args, timeout=RUN_TIMEOUT, env=None):
    """Runs `tcpkali ARGS` to completion; returns a Result."""
    return h.run([tcpkali()] + [str(a) for a in args], timeout=timeout, env=env)


def ok(res, what="tcpkali"):
    check(res.rc == 0, f"{what}: exit status {res.rc}, expected 0", res)
    return res


# ---- /proc/net/tcp ------------------------------------------------------------------------

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def tcp_sockets():
    """[(local_port, remote_port, state, rx_queue)] of every TCP socket on the machine."""
    out = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    lport = int(fields[1].rsplit(":", 1)[1], 16)
                    rport = int(fields[2].rsplit(":", 1)[1], 16)
                    rxq = int(fields[4].split(":")[1], 16)
                    out.append((lport, rport, TCP_STATES.get(fields[3], fields[3]), rxq))
        except OSError:
            continue
    return out


def sink_drained(port):
    """True when no connection to the server on `port` is open or has unread data: every
    client's FIN has been read and answered (the sink counted everything sent to it)."""
    return not [s for s in tcp_sockets()
                if s[0] == port and s[2] in ("ESTABLISHED", "CLOSE_WAIT", "SYN_RECV")]


def wait_sink_drained(port, timeout=15):
    wait_until(lambda: sink_drained(port), timeout, f"the sink on port {port} to read every "
               "connection to its end")


def established_to(port):
    """Client-side connections to `port` in ESTABLISHED state (remote port == port)."""
    return sum(1 for s in tcp_sockets() if s[1] == port and s[2] == "ESTABLISHED")


# ---- the final summary (spec §3.3) --------------------------------------------------------

def human_size(n):
    """The summary's size text (spec §3.3): N bytes < 2048, %.1f KiB < 512 KiB, else MiB."""
    if n < 2048:
        return f"{n} bytes"
    if n < 512 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


_F = r"(\d+\.\d{3})"
_PCT_LIST = r"([0-9.]+(?:/[0-9.]+)*)"
SUMMARY_RX = {
    "sent": r"Total data sent:     (.+) \((\d+) bytes\)",
    "rcvd": r"Total data received: (.+) \((\d+) bytes\)",
    "per_channel": r"Bandwidth per channel: " + _F + r"⇅ Mbps \((\d+\.\d) kBps\)",
    "aggregate": r"Aggregate bandwidth: " + _F + r"↓, " + _F + r"↑ Mbps",
    "msg_rate": r"Aggregate message rate: " + _F + r"↓, " + _F + r"↑ mps",
    "packet_rate": r"Packet rate estimate: (\d+\.\d)↓, (\d+\.\d)↑ \((\d+)↓, (\d+)↑ TCP MSS/op\)",
    "lat_connect": r"TCP connect latency at percentiles: " + _PCT_LIST + r" ms \(" + _PCT_LIST
                   + r"%\)",
    "lat_first_byte": r"First byte latency at percentiles: " + _PCT_LIST + r" ms \("
                      + _PCT_LIST + r"%\)",
    "transactions": r"Transaction rate: (\d+\.\d{3}) tps \((\d+) transactions\)",
    "lat_transaction": r"Transaction latency at percentiles: " + _PCT_LIST + r" ms \("
                       + _PCT_LIST + r"%\)",
    "lat_message": r"Message latency at percentiles: " + _PCT_LIST + r" ms \(" + _PCT_LIST
                   + r"%\)",
    "intended_note": r"Message latency is measured from each message's intended send time "
                     r"\(-r\), free of coordinated omission\.",
    "failures": r"Connection failures: (\d+) \((\d+) refused, (\d+) timed out, (\d+) other\)",
    "duration": r"Test duration: ([0-9.e+-]+) s\.",
}
# In the summary's order; the optional lines may be absent. transactions, lat_transaction,
# intended_note and failures are netgrind's (doc/man/tcpkali.1, SUMMARY).
SUMMARY_ORDER = ["sent", "rcvd", "per_channel", "aggregate", "msg_rate", "packet_rate",
                 "lat_connect", "lat_first_byte", "transactions", "lat_transaction",
                 "lat_message", "intended_note", "failures", "duration"]
REQUIRED = {"sent", "rcvd", "per_channel", "aggregate", "packet_rate", "duration"}
# Lines netgrind adds (doc/man/tcpkali.1); each regex is added here with the man page's name.
EXTRA_RX = {
    # Failed handshakes by cause (issue 5), after the connection failures line, e.g.
    # "WebSocket upgrade failures: 3 (ws_status: 3)", "TLS handshake failures: 1
    # (tls_protocol: 1)".
    "ws_failures": r"WebSocket upgrade failures: (\d+) \((.+)\)",
    "tls_failures": r"TLS handshake failures: (\d+) \((.+)\)",
}


def failures_line(res, name):
    """(total, {cause: count}) from an EXTRA_RX failures line anywhere in the output (after
    a ramp-up that could not finish there is no summary, and the line follows 'Could not
    create ...' on stderr), or (0, {})."""
    m = re.search("^" + EXTRA_RX[name] + "$", res.stdout + "\n" + res.stderr, re.M)
    return failure_causes({"extra": {name: m}}, name)


def failure_causes(fig, name):
    """(total, {cause: count}) of an EXTRA_RX failures line in parse_summary's figures, or
    (0, {}) when the line is absent."""
    m = fig["extra"].get(name)
    if not m:
        return 0, {}
    causes = {}
    for part in m.group(2).split(", "):
        k, _, v = part.partition(": ")
        causes[k] = int(v)
    return int(m.group(1)), causes


def _latency(m):
    vals = [float(v) for v in m.group(1).split("/")]
    labels = m.group(2).split("/")
    return {"values": vals, "labels": labels}


def parse_summary(res, stdout=None, allow_before=()):
    """Checks that stdout ends with the §3.3 summary, each line in order and exactly in the
    original's format, and returns its figures: sent, rcvd (ints); per_channel_mbps,
    per_channel_kBps, in_mbps, out_mbps, [msgs_in, msgs_out], pps_in, pps_out, mss_in,
    mss_out, duration_s (floats/ints); lat_connect/lat_first_byte/lat_message:
    {'values', 'labels'}; and 'extra': {name: match} for netgrind's own lines. Lines before
    the summary must match one of allow_before."""
    text = res.stdout if stdout is None else stdout
    lines = text.splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith("Total data sent:")]
    check(len(starts) == 1, "expected exactly one 'Total data sent:' line on stdout", res)
    i = starts[0]
    for line in lines[:i]:
        check(any(re.fullmatch(rx, line) for rx in allow_before),
              f"unexpected line before the summary: {line!r}", res)
    fig = {"extra": {}}
    seen = []
    for line in lines[i:]:
        for key in SUMMARY_ORDER:
            m = re.fullmatch(SUMMARY_RX[key], line)
            if m:
                break
        else:
            key = None
            for name, rx in EXTRA_RX.items():
                m = re.fullmatch(rx, line)
                if m:
                    fig["extra"][name] = m
                    break
            check(m, f"summary line {line!r} matches no known summary line", res)
            continue
        check(key not in seen, f"summary line {key} appears twice", res)
        if seen:
            check(SUMMARY_ORDER.index(key) > SUMMARY_ORDER.index(seen[-1]),
                  f"summary line {key} after {seen[-1]}: out of the original's order", res)
        seen.append(key)
        if key in ("sent", "rcvd"):
            n = int(m.group(2))
            check(m.group(1) == human_size(n), f"{line!r}: size text {m.group(1)!r}, expected "
                  f"{human_size(n)!r} for {n} bytes", res)
            fig[key] = n
        elif key == "per_channel":
            fig["per_channel_mbps"], fig["per_channel_kBps"] = float(m.group(1)), float(m.group(2))
        elif key == "aggregate":
            fig["in_mbps"], fig["out_mbps"] = float(m.group(1)), float(m.group(2))
        elif key == "msg_rate":
            fig["msgs_in"], fig["msgs_out"] = float(m.group(1)), float(m.group(2))
        elif key == "packet_rate":
            fig["pps_in"], fig["pps_out"] = float(m.group(1)), float(m.group(2))
            fig["mss_in"], fig["mss_out"] = int(m.group(3)), int(m.group(4))
        elif key.startswith("lat_"):
            fig[key] = _latency(m)
        elif key == "transactions":
            fig["tps"], fig["transactions"] = float(m.group(1)), int(m.group(2))
        elif key == "intended_note":
            fig["intended_time"] = True
        elif key == "failures":
            fig["failures"] = {"total": int(m.group(1)), "refused": int(m.group(2)),
                               "timed_out": int(m.group(3)), "other": int(m.group(4))}
        elif key == "duration":
            fig["duration_s"] = float(m.group(1))
    check(REQUIRED <= set(seen), f"summary lacks {sorted(REQUIRED - set(seen))}", res)
    check(re.fullmatch(SUMMARY_RX["duration"], lines[-1]),
          "stdout does not end with 'Test duration: T s.'", res)
    return fig


def check_summary_arithmetic(fig, res, conns):
    """The derived figures agree with the totals (spec §3.3): aggregate Mbps = bytes × 8 /
    duration / 1e6; per channel = (sent + rcvd) / duration / conns."""
    d = fig["duration_s"]
    check(d > 0, "Test duration 0", res)
    for key, mb in (("sent", "out_mbps"), ("rcvd", "in_mbps")):
        want = fig[key] * 8 / d / 1e6
        check(math.isclose(fig[mb], want, rel_tol=0.02, abs_tol=0.002),
              f"aggregate {mb} {fig[mb]} but {fig[key]} bytes in {d} s is {want:.3f}", res)
    if conns:
        want = (fig["sent"] + fig["rcvd"]) * 8 / d / 1e6 / conns
        check(math.isclose(fig["per_channel_mbps"], want, rel_tol=0.02, abs_tol=0.002),
              f"per-channel {fig['per_channel_mbps']} Mbps, expected {want:.3f} for {conns} "
              "connections", res)


def check_percentiles(lat, res, labels=("95", "99", "99.5"), lo=0.0, hi=1000.0):
    """A latency line's values are ordered, within [lo, hi] ms, labelled as asked."""
    check(lat["labels"] == list(labels), f"percentile labels {lat['labels']}, expected "
          f"{list(labels)}", res)
    v = lat["values"]
    check(len(v) == len(labels), "number of latency values differs from the labels", res)
    check(v == sorted(v), f"latency percentiles out of order: {v}", res)
    check(all(lo <= x <= hi for x in v), f"latency values {v} ms outside [{lo}, {hi}]", res)


# ---- --json ---------------------------------------------------------------------------------

def json_doc(res, text=None):
    """stdout (or text) as one JSON document (an object)."""
    text = res.stdout if text is None else text
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise TestFailure(f"stdout is not one JSON document: {e}\n{res!r}")
    check(isinstance(doc, dict), "the JSON document is not an object", res)
    return doc


def jget(doc, path, res=None, kind=None):
    """doc's value at the dotted path (doc/man/tcpkali.1, JSON OUTPUT), failing the test
    when a key is missing or (with kind) the value is not of that type."""
    d = doc
    for k in path.split("."):
        check(isinstance(d, dict) and k in d, f"the JSON document has no {path} (at {k!r})",
              res)
        d = d[k]
    if kind is int:
        check(isinstance(d, int) and not isinstance(d, bool), f"JSON {path} = {d!r} is not an "
              "integer", res)
    elif kind is float:
        check(isinstance(d, (int, float)) and not isinstance(d, bool), f"JSON {path} = {d!r} "
              "is not a number", res)
    elif kind is not None:
        check(isinstance(d, kind), f"JSON {path} = {d!r} is not a {kind.__name__}", res)
    return d


def interval_sum(doc, path, res=None):
    """The sum over every interval of the --json document (ramp-up and steady phases) of the
    integer at the dotted path in each, e.g. "transport.handshake_failures.ws_status": the
    whole run's count even when the run has no summary (a ramp-up that did not finish)."""
    total = 0
    for iv in jget(doc, "intervals", res, list):
        total += jget(iv, path, res, int)
    return total


def find_key(doc, *names):
    """The first value found under any of names, searching the document depth first
    (objects and lists); None if absent. Used for figures whose place in the document the
    man page gives."""
    stack = [doc]
    while stack:
        d = stack.pop(0)
        if isinstance(d, dict):
            for n in names:
                if n in d:
                    return d[n]
            stack.extend(d.values())
        elif isinstance(d, list):
            stack.extend(d)
    return None


def stderr_has(res, rx, what):
    check(re.search(rx, res.stderr, re.M), f"no {what} line /{rx}/ on stderr", res)


def run_for(proc, seconds):
    """Lets a process run for `seconds`, collecting its output; fails if it exits meanwhile.
    This is a run of a chosen length (the load the test measures), not a wait for a
    condition."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not proc.alive():
            proc.wait(1)
            raise TestFailure(f"{proc.argv[0]} exited early ({proc.p.returncode})\nstdout: "
                              f"{proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
        proc._pump(min(0.05, max(0.0, deadline - time.monotonic())))
