#!/usr/bin/env python3
"""System tests of tcpkali's outputs (doc/man/tcpkali.1, spec tcpkali.md §3.2, §6, issue
4): the live status line on a terminal (under a pty) and its absence when stdout is not a
terminal; --json (one document, integer counts, figures that agree with the text summary
and with what the peer received, send_lag_us with -r); --json-stream; StatsD datagrams with the original's
names and types, the namespace option and the latency window.

Usage: python3 tests/sys/test_tcpkali_output.py BUILD_DIR [TEST_NAME...]
"""

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, TestFailure, test, wait_until  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    client, jget, json_doc, ok, parse_summary, tcpkali)
from tcpkali_peers import PeerServer, refused_port, Statsd  # noqa: E402

EL = "\033[K"
STATUS_RX = (r"Traffic (\d+\.\d{3})↓, (\d+\.\d{3})↑ Mbps "
             r"\((?:conns )?(\d+)↓ (\d+)↑ (\d+)⇡; (?:seen )?(\d+)\)")
CLOCKS = "🕛🕐🕑🕒🕓🕔🕕🕖🕗🕘🕙🕚"


def run_in_pty(h, args, env_extra=None, timeout=20, cols=160):
    """Runs tcpkali ARGS with stdout and stderr on a pseudo-terminal `cols` columns wide;
    returns (rc, text) (the pty's output, CR LF as the terminal got it)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    env = dict(os.environ, TERM="xterm")
    env.pop("COLUMNS", None)
    env.update(env_extra or {})
    p = subprocess.Popen([tcpkali()] + [str(a) for a in args], stdin=slave, stdout=slave,
                         stderr=slave, env=env, start_new_session=True)
    os.close(slave)

    def cleanup():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        try:
            os.close(master)
        except OSError:
            pass
    h.on_cleanup(cleanup)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            cleanup()
            raise TestFailure(f"tcpkali under a pty did not exit within {timeout}s: "
                              f"{out[-2000:]!r}")
        r, _, _ = select.select([master], [], [], min(left, 0.1))
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed
                data = b""
            if data:
                out.extend(data)
                continue
            if p.poll() is not None:
                break
        elif p.poll() is not None:
            # exited; read what is left without blocking
            r, _, _ = select.select([master], [], [], 0)
            if not r:
                break
    rc = p.wait()
    return rc, out.decode("utf-8", "replace")


# ---- the status line --------------------------------------------------------------------------

@test
def status_line_on_a_terminal(h):
    """On a tty the status line is refreshed every 0.25 s: 'Traffic X↓, Y↑ Mbps (conns a↓
    b↑ c⇡; seen d)', ending with the clear-to-EOL sequence and a carriage return; with
    LANG=*.UTF-8 a clock face leads it (spec §3.2). The summary follows."""
    peer = PeerServer(h)
    rc, text = run_in_pty(h, ["-c", 2, "-m", "hello", "-r", 100, "-T", 1.5, peer.addr],
                          env_extra={"LANG": "C.UTF-8"})
    check(rc == 0, f"exit status {rc} under a pty", text[-3000:])
    statuses = re.findall(STATUS_RX, text)
    check(len(statuses) >= 3, f"{len(statuses)} status lines in a 1.5 s run refreshed every "
          "0.25 s", text[-3000:])
    check(EL in text, "no clear-to-EOL (ESC [ K) in the terminal output", text[-3000:])
    check(re.search(r"Traffic [^\r\n]*" + re.escape(EL) + r"\r", text),
          "the status line does not end with ESC [ K and CR", text[-3000:])
    check(re.search("[" + CLOCKS + "]  Traffic ", text), "no clock face before 'Traffic' "
          "with LANG=C.UTF-8", text[-3000:])
    last = statuses[-1]
    check(int(last[3]) == 2 and int(last[5]) >= 2, f"status {last}: expected 2 outgoing "
          "connections established", text[-3000:])
    check(float(last[1]) > 0, "the status shows no outgoing traffic", text[-3000:])
    check("Total data sent:" in text, "no summary on the terminal", text[-3000:])


@test
def status_line_seen_grows_with_channel_lifetime(h):
    """Spec §3.7: with --channel-lifetime the 'seen' count of the status line grows as
    connections are replaced (-c 3, lifetime 0.3 s: about 10 a second)."""
    peer = PeerServer(h)
    rc, text = run_in_pty(h, ["-c", 3, "--channel-lifetime", 0.3, "--connect-rate", "1k",
                              "-m", "x", "-r", 10, "-T", 1.5, peer.addr])
    check(rc == 0, f"exit status {rc}", text[-2000:])
    seen = [int(st[5]) for st in re.findall(STATUS_RX, text)]
    check(len(seen) >= 3, f"{len(seen)} status lines", text[-2000:])
    check(seen == sorted(seen), f"'seen' went down: {seen}", text[-2000:])
    check(seen[-1] >= 9, f"'seen' reached only {seen[-1]} (status lines: {seen})",
          text[-2000:])


@test
def status_line_without_utf8_has_no_clock(h):
    peer = PeerServer(h)
    rc, text = run_in_pty(h, ["-c", 1, "-m", "x", "-r", 10, "-T", 1, peer.addr],
                          env_extra={"LANG": "C", "LC_ALL": ""})
    check(rc == 0, f"exit status {rc}", text[-2000:])
    check(re.search(STATUS_RX, text), "no status line", text[-2000:])
    check(not re.search("[" + CLOCKS + "]", text), "a clock face with LANG=C", text[-2000:])


@test
def status_line_with_latency_drops_the_words(h):
    """With a latency measurement the words 'conns' and 'seen' are dropped and the p95 part
    '(m=X ms⁹⁵ᵖ)' follows (spec §3.2)."""
    peer = PeerServer(h, echo=True)
    rc, text = run_in_pty(h, ["-c", 2, "-m", "hello", "-r", 100, "--latency-marker", "hello",
                              "-T", 1.5, peer.addr], env_extra={"LANG": "C.UTF-8"})
    check(rc == 0, f"exit status {rc}", text[-2000:])
    check(re.search(r"Traffic [^\r\n]*Mbps \(\d+↓ \d+↑ \d+⇡; \d+\) \(m=(\?|\d+\.\d) ms⁹⁵ᵖ\)",
                    text), "no status line '(a↓ b↑ c⇡; d) (m=X ms⁹⁵ᵖ)'", text[-2000:])


def display_width(text):
    """Terminal columns of text (wide characters such as the clock emoji count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else
               0 if unicodedata.combining(ch) else 1 for ch in text)


@test
def status_line_is_cut_to_the_terminal_width(h):
    """doc/man/tcpkali.1: the line is cut to the terminal width (TIOCGWINSZ). On a 50-column
    terminal no status line is wider than 50 columns."""
    peer = PeerServer(h, echo=True)
    rc, text = run_in_pty(h, ["-c", 2, "-m", "hello", "-r", 100, "--latency-marker", "hello",
                              "--latency-connect", "-T", 1.2, peer.addr], cols=50,
                          env_extra={"LANG": "C.UTF-8"})
    check(rc == 0, f"exit status {rc}", text[-2000:])
    shown = [seg.replace(EL, "") for seg in re.split(r"[\r\n]", text) if "Traffic" in seg]
    check(shown, "no status line on a 50-column terminal", text[-2000:])
    wide = [seg for seg in shown if display_width(seg) > 50]
    check(not wide, f"status lines wider than the 50-column terminal: {wide[:2]!r}",
          text[-2000:])


@test
def ramp_up_ribbon_on_a_terminal(h):
    """Spec §3.2: during ramp-up the ribbon '|===>---| N of C (S)' (here -c 10 at 20/s, half
    a second of ramp-up), then 'Ramped up to 10 connections.'."""
    peer = PeerServer(h)
    rc, text = run_in_pty(h, ["-c", 10, "--connect-rate", 20, "-m", "x", "-r", 10, "-T", 0.5,
                              peer.addr])
    check(rc == 0, f"exit status {rc}", text[-2000:])
    ribbons = re.findall(r"\|(=*>-*)\| (\d+) of 10 \((\d+)\)", text)
    check(len(ribbons) >= 1, "no ramp-up ribbon '|===>---| N of 10 (S)'", text[-2000:])
    for bar, n, seen in ribbons:
        check(int(n) <= 10 and int(seen) >= int(n), f"ribbon numbers {n} of 10 ({seen})",
              text[-2000:])
    widths = {len(bar) for bar, _, _ in ribbons}
    check(len(widths) == 1, f"the ribbon changes width: {widths}", text[-2000:])
    check("Ramped up to 10 connections." in text, "no 'Ramped up' line after the ribbon",
          text[-2000:])


@test
def no_status_line_when_stdout_is_not_a_terminal(h):
    """Spec §3.2: no status line and no ramp-up ribbon when stdout is not a tty."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 2, "-m", "hello", "-r", 100, "-T", 1, peer.addr]))
    for s, name in ((res.stderr, "stderr"), (res.stdout, "stdout")):
        check("Traffic" not in s, f"a status line on {name} without a tty", res)
        check(EL not in s and "\r" not in s, f"terminal control characters on {name}", res)
        check(" of 2 (" not in s, f"a ramp-up ribbon on {name}", res)
    parse_summary(res)


# ---- --json -----------------------------------------------------------------------------------

def integer_counts(doc, res):
    """Every leaf whose key names a count (bytes, writes, msgs, failures, ...) is an integer
    (DESIGN.md: counts are integers in JSON)."""
    stack = [("", doc)]
    while stack:
        path, d = stack.pop()
        if isinstance(d, dict):
            for k, v in d.items():
                if not isinstance(v, (dict, list)) and v is not None and re.search(
                        r"^(bytes_\w+|writes|reads|msgs_\w+|transactions|open_\w+|connecting|"
                        r"seen|initiated|accepted|total|refused|timed_out|other|by_peer|"
                        r"reset_or_error|lifetime_ended|accept_errors|max_open|channels|"
                        r"count|connections)$", k):
                    check(isinstance(v, int) and not isinstance(v, bool),
                          f"JSON {path}{k} = {v!r} is not an integer", res)
                stack.append((f"{path}{k}.", v))
        elif isinstance(d, list):
            stack.extend((f"{path}[]", x) for x in d)


def interval_sum(doc, key, res):
    """The sum of an interval figure (a dotted path inside each interval) over the run."""
    ivs = jget(doc, "intervals", res, list)
    check(ivs, "no intervals in the JSON document", res)
    return sum(jget(iv, key, res, int) for iv in ivs)


def json_run(h, peer, extra=(), conns=3, T=1):
    res = ok(client(h, ["--json", "-c", conns, "--connect-rate", 1000, "-m", "hello", "-r", 100]
                    + list(extra) + ["-T", T, peer.addr]))
    doc = json_doc(res)
    integer_counts(doc, res)
    wait_until(lambda: len(peer.snapshot()) >= conns and
               all(c.closed_at is not None for c in peer.snapshot()), 10,
               "the peer to see the connections end")
    return res, doc


@test
def json_bytes_agree_with_the_peer(h):
    """--json: stdout is one JSON document whose byte figures add up: ramp_up.bytes_sent +
    summary.bytes_sent (steady state) = the sum over the intervals = what the peer received
    (every byte: the client closed its connections in order)."""
    peer = PeerServer(h)
    res, doc = json_run(h, peer)
    ramp = jget(doc, "ramp_up.bytes_sent", res, int)
    steady = jget(doc, "summary.bytes_sent", res, int)
    ivs = interval_sum(doc, "bytes_sent", res)
    got = peer.total_rcvd()
    check(ramp + steady == got, f"JSON ramp_up.bytes_sent {ramp} + summary.bytes_sent "
          f"{steady} = {ramp + steady}, the peer received {got}", res)
    check(ivs == ramp + steady, f"the intervals' bytes_sent add up to {ivs}, ramp_up + summary "
          f"to {ramp + steady}", res)
    check(abs(steady - 1500) <= 0.05 * 1500, f"steady-state bytes {steady}, expected about "
          "3 × 100 × 5 × 1 = 1500", res)


@test
def json_counts_every_connection(h):
    """The intervals' connections.initiated add up to the connections the peer accepted
    (-c 3, no failures), and summary.connections.max_open is 3."""
    peer = PeerServer(h)
    res, doc = json_run(h, peer)
    n = interval_sum(doc, "connections.initiated", res)
    seen = interval_sum(doc, "connections.seen", res)
    check(n == peer.accepted() == 3, f"intervals count {n} connections initiated, the peer "
          f"accepted {peer.accepted()} (-c 3)", res)
    check(seen == 3, f"intervals count {seen} connections seen for -c 3", res)
    check(jget(doc, "summary.connections.max_open", res, int) == 3, "max_open is not 3", res)
    check(jget(doc, "exit_code", res, int) == 0 and doc.get("error") is None,
          "exit_code/error of a good run", res)


@test
def json_summary_figures_follow_the_text_formulas(h):
    """The JSON summary holds the text summary's figures (doc/man/tcpkali.1): bandwidth =
    bytes × 8 / duration, per channel = (sent + rcvd) / duration / channels, packet rate =
    MSS/op × ops / duration; and its latency percentiles are ordered and named as asked."""
    peer = PeerServer(h, echo=True)
    res, doc = json_run(h, peer, extra=["--latency-marker", "hello", "--latency-percentiles",
                                        "50,99.5"])
    s = jget(doc, "summary", res, dict)
    d = jget(s, "duration_s", res, float)
    check(0.95 <= d <= 1.3, f"summary.duration_s {d} for -T 1", res)

    def close(key, want):
        got = jget(s, key, res, float)
        check(abs(got - want) <= 1e-6 * max(1.0, abs(want)), f"summary.{key} = {got}, "
              f"the text summary's formula gives {want}", res)
    close("bandwidth_out_Mbps", s["bytes_sent"] * 8 / d / 1e6)
    close("bandwidth_in_Mbps", s["bytes_rcvd"] * 8 / d / 1e6)
    close("bandwidth_per_channel_Mbps",
          (s["bytes_sent"] + s["bytes_rcvd"]) * 8 / d / 1e6 / s["channels"])
    mo = -(-s["bytes_sent"] // s["writes"] // 1460) if s["writes"] else 0
    check(s["mss_per_write"] == max(mo, 1 if s["writes"] else 0),
          f"mss_per_write {s['mss_per_write']}", res)
    close("packet_rate_out_per_s", s["mss_per_write"] * s["writes"] / d)
    lat = jget(s, "latency.message", res, dict)
    p50, p995 = jget(lat, "p50_ms", res, float), jget(lat, "p99_5_ms", res, float)
    mn, mx = jget(lat, "min_ms", res, float), jget(lat, "max_ms", res, float)
    check(mn <= p50 <= p995 <= mx, f"message latency min {mn} p50 {p50} p99.5 {p995} max {mx} "
          "out of order", res)
    check(jget(lat, "count", res, int) >= 250, "fewer than 250 latency samples", res)
    check(s.get("latency_from_intended_send_time") is True, "latency_from_intended_send_time "
          "is not true with -r", res)


@test
def json_send_lag_with_a_rate(h):
    """With -r, summary.send_lag_us (doc/man/tcpkali.1, JSON OUTPUT) is the distribution of
    each message's actual minus intended send time: one sample per message sent (the
    intervals' msgs_sent, ramp-up included), percentiles in order, none negative, and
    small on an idle loopback; without -r it is null."""
    peer = PeerServer(h)
    res, doc = json_run(h, peer)
    lag = jget(doc, "summary.send_lag_us", res, dict)
    sent = interval_sum(doc, "msgs_sent", res)
    check(jget(lag, "count", res, int) == sent, f"send_lag_us.count {lag['count']}, the "
          f"intervals sent {sent} messages", res)
    vals = [jget(lag, k, res, float) for k in ("min_us", "p50_us", "p90_us", "p99_us",
                                               "p99_9_us", "max_us")]
    check(vals == sorted(vals) and vals[0] >= 0, f"send_lag_us min..max out of order: {vals}",
          res)
    check(vals[1] < 5000, f"median send lag {vals[1]} us at -r 100", res)
    res = ok(client(h, ["--json", "-c", 1, "-m", "hello", "-T", 0.3, PeerServer(h).addr]))
    check(json_doc(res)["summary"].get("send_lag_us", "absent") is None,
          "send_lag_us is not null without -r", res)


@test
def json_and_text_runs_agree(h):
    """The same test once with --json and once without: the text summary and the JSON
    summary agree on what a rate-limited run must give (bytes within 5%, same channels)."""
    peer = PeerServer(h)
    res_t = ok(client(h, ["-c", 2, "-m", "hello", "-r", 100, "-T", 1, peer.addr]))
    text = parse_summary(res_t)
    peer2 = PeerServer(h)
    res_j, doc = json_run(h, peer2, conns=2)
    s = jget(doc, "summary", res_j, dict)
    check(abs(s["bytes_sent"] - text["sent"]) <= 0.05 * text["sent"],
          f"JSON bytes_sent {s['bytes_sent']}, text {text['sent']}", res_t, res_j)
    check(s["bytes_rcvd"] == text["rcvd"] == 0, "received bytes from a silent peer", res_t,
          res_j)
    check(abs(s["bandwidth_out_Mbps"] - text["out_mbps"]) <= 0.05 * text["out_mbps"] + 0.001,
          f"JSON bandwidth_out_Mbps {s['bandwidth_out_Mbps']}, text {text['out_mbps']}",
          res_t, res_j)


@test
def json_on_a_failed_ramp_up(h):
    """Valid JSON on every path (DESIGN.md): a ramp-up that fails gives a document with
    exit_code 1 and the error text, and the refusals in its intervals."""
    port = refused_port(h)
    res = client(h, ["--json", "-c", 1, "-T", 1, f"127.0.0.1:{port}"], timeout=15)
    check(res.rc == 1, f"exit status {res.rc}, expected 1", res)
    doc = json_doc(res)
    check(jget(doc, "exit_code", res, int) == 1, "exit_code in the document is not 1", res)
    check(re.fullmatch(r"Could not create 1 connection in allotted time \(1s\)",
                       str(doc.get("error"))), f"error {doc.get('error')!r}", res)
    check(interval_sum(doc, "connections.connect_failures.refused", res) >= 1,
          "no refusal counted in the intervals", res)


@test
def json_on_a_usage_error(h):
    """A bad option with --json: still one JSON document on stdout (no usage text mixed
    in), exit 64, the message in error."""
    for args, msg in ((["-c", "-1"], "Expecting --connections > 0"),
                      (["-x"], "-x: unknown option")):
        res = client(h, ["--json"] + args + ["127.0.0.1:9"], timeout=15)
        check(res.rc == 64, f"exit status {res.rc}, expected 64", res)
        doc = json_doc(res)
        check(msg in str(doc.get("error")), f"error {doc.get('error')!r} does not carry "
              f"{msg!r}", res)
        check(jget(doc, "exit_code", res, int) == 64, "exit_code is not 64", res)


@test
def json_stream_is_one_object_per_line(h):
    peer = PeerServer(h)
    res = ok(client(h, ["--json-stream", "-c", 1, "-m", "hello", "-r", 100, "-T", 1.2,
                        peer.addr]))
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    check(len(lines) >= 2, "fewer than 2 JSON lines from --json-stream", res)
    events = []
    for line in lines:
        try:
            o = json.loads(line)
        except ValueError as e:
            raise TestFailure(f"--json-stream line {line!r} is not JSON: {e}")
        check(isinstance(o, dict) and "event" in o and "data" in o,
              f"--json-stream line {line[:200]!r} is not {{\"event\": ..., \"data\": ...}}", res)
        events.append(o["event"])
    check(events.count("interval") >= 2, f"events {events}: expected interval events", res)
    check(events[-1] in ("end", "summary"), f"the last event is {events[-1]!r}", res)


# ---- statsd ---------------------------------------------------------------------------------

STATSD_TYPES = {
    "connections.opened": "c", "connections.total": "g", "connections.total.in": "g",
    "connections.total.out": "g", "traffic.bitrate": "g", "traffic.bitrate.in": "g",
    "traffic.bitrate.out": "g", "traffic.data": "c", "traffic.data.rcvd": "c",
    "traffic.data.sent": "c", "traffic.data.reads": "c", "traffic.data.writes": "c",
    "traffic.msgs.rcvd": "c", "traffic.msgs.sent": "c",
}
LATENCY_NAME_RX = r"latency\.(connect|firstbyte|message)\.(min|mean|max|[0-9.]+)"


def statsd_lines(datagrams, ns="tcpkali"):
    """Parses every datagram strictly (spec §6): ≤ 512 bytes, newline-separated
    '<ns>.<name>:<value>|<type>' lines; returns [[(name, value, type)] per datagram]."""
    out = []
    for d in datagrams:
        check(len(d) <= 512, f"a statsd datagram of {len(d)} bytes (at most 512)", d)
        text = d.decode("ascii")
        batch = []
        for line in text.rstrip("\n").split("\n"):
            m = re.fullmatch(re.escape(ns) + r"\.([a-z0-9.]+):(-?\d+(?:\.\d)?)\|(c|g)", line)
            check(m, f"statsd line {line!r} is not '{ns}.<name>:<value>|<c|g>'", text)
            name, value, typ = m.group(1), m.group(2), m.group(3)
            if re.fullmatch(LATENCY_NAME_RX, name):
                check(typ == "g", f"latency metric {name} of type {typ}, expected g", text)
                check(re.fullmatch(r"\d+\.\d", value), f"latency {name} value {value!r} is "
                      "not %.1f", text)
            else:
                check(name in STATSD_TYPES, f"unknown statsd metric {name!r}", text)
                check(typ == STATSD_TYPES[name], f"{name} has type {typ}, expected "
                      f"{STATSD_TYPES[name]}", text)
                check(re.fullmatch(r"-?\d+", value), f"{name} value {value!r} is not an "
                      "integer", text)
            batch.append((name, float(value), typ))
        out.append(batch)
    return out


def statsd_run(h, extra=(), T=1, ns=None):
    peer = PeerServer(h, echo=True)
    sd = Statsd(h)
    args = ["--statsd", "--statsd-host", "127.0.0.1", "--statsd-port", sd.port]
    if ns:
        args += ["--statsd-namespace", ns]
    res = ok(client(h, args + ["-c", 2, "-m", "hello", "-r", 50, "--latency-marker", "hello",
                               "-T", T] + list(extra) + [peer.addr]))
    wait_until(lambda: all(c.closed_at is not None for c in peer.snapshot()), 10,
               "the peer to see the connections end")
    datagrams = sd.drain(timeout=2.0)
    return res, statsd_lines(datagrams, ns or "tcpkali"), peer


@test
def statsd_names_types_and_counts(h):
    """Spec §6: batches every 0.25 s with the original's names and types, an all-zero batch
    at start and at exit; the traffic.data.sent counters add up to what the peer got."""
    res, batches, peer = statsd_run(h)
    check(len(batches) >= 4, f"{len(batches)} statsd batches in a 1 s run (every 0.25 s, "
          "plus zero batches at start and exit)", res)
    names = {n for b in batches for n, _, _ in b}
    for need in ("connections.opened", "connections.total", "traffic.bitrate", "traffic.data",
                 "traffic.data.sent", "traffic.data.rcvd", "latency.message.95",
                 "latency.message.99", "latency.message.99.5", "latency.message.mean"):
        check(need in names, f"no {need} metric in the statsd datagrams", res, sorted(names))
    sent = sum(v for b in batches for n, v, _ in b if n == "traffic.data.sent")
    got = peer.total_rcvd()
    check(abs(sent - got) <= 0.05 * got + 20, f"traffic.data.sent counters add up to "
          f"{sent:.0f}, the peer received {got}", res)
    opened = sum(v for b in batches for n, v, _ in b if n == "connections.opened")
    check(opened == 2, f"connections.opened counters add up to {opened}, expected 2", res)
    first = dict((n, v) for n, v, _ in batches[0])
    last = dict((n, v) for n, v, _ in batches[-1])
    check(all(v == 0 for n, v in first.items() if n in STATSD_TYPES), "the first batch is not "
          f"all zero: {first}", res)
    check(all(v == 0 for n, v in last.items() if n in STATSD_TYPES), "the last batch is not "
          f"all zero: {last}", res)


@test
def statsd_namespace(h):
    _, batches, _ = statsd_run(h, ns="bench.kali")
    check(batches and batches[0], "no statsd datagrams with a namespace")


@test
def statsd_latency_window(h):
    """Spec §6: with --statsd-latency-window 0.5s in a 1.5 s run, latency gauges go out in
    separate batches, one per window (2 or 3), not with every 0.25 s batch."""
    res, batches, _ = statsd_run(h, extra=["--statsd-latency-window", "0.5s"], T=1.5)
    lat_batches = [b for b in batches if any(n.startswith("latency.") for n, _, _ in b)]
    check(2 <= len(lat_batches) <= 4, f"{len(lat_batches)} batches with latency gauges for "
          "0.5 s windows in a 1.5 s run", res)
    for b in lat_batches:
        check(all(n.startswith("latency.") for n, _, _ in b),
              f"a latency window batch also holds other metrics: {b}", res)


if __name__ == "__main__":
    run_tests()
