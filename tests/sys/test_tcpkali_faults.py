#!/usr/bin/env python3
"""System tests of tcpkali under faults and signals (doc/man/tcpkali.1, spec tcpkali.md
§3.4-§3.5, issue 4): refused connects and connect timeouts counted and reported (at most
5 lines a second at the default verbosity), a peer that resets connections mid-run, a sink
that goes away, --message-stop (also across read boundaries), SIGINT and SIGTERM print the
summary, -T honoured.

Usage: python3 tests/sys/test_tcpkali_faults.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, Result, run_tests, test, wait_until  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    client, established_to, jget, json_doc, ok, parse_summary, SIGINT_RC, SIGTERM_RC,
    start_sink, stop_sink, tcpkali)
from tcpkali_peers import FullBacklog, PeerServer, refused_port  # noqa: E402

COULD_NOT_RX = r"^Could not create {n} connections? in allotted time \({t}s\)$"


def output(res):
    return res.stdout + res.stderr


def could_not_create(res, n, t):
    rx = COULD_NOT_RX.format(n=n, t=t)
    check(res.rc == 1, f"exit status {res.rc}, expected 1 (ramp-up not finished)", res)
    check(re.search(rx, output(res), re.M), f"no /{rx}/ line", res)


def failures(doc, res=None):
    """Connection failures by cause over the whole run, ramp-up included: the sum of the
    per-interval figures of the --json document (doc/man/tcpkali.1, JSON OUTPUT), which is
    also there when the ramp-up failed and the document has no summary."""
    ivs = jget(doc, "intervals", res, list)
    check(ivs, "no intervals in the JSON document", res)
    out = {"refused": 0, "timeouts": 0, "other": 0, "failures": 0, "reset": 0}
    for i, iv in enumerate(ivs):
        c = "connections."
        out["refused"] += jget(iv, c + "connect_failures.refused", res, int)
        out["timeouts"] += jget(iv, c + "connect_failures.timed_out", res, int)
        out["other"] += jget(iv, c + "connect_failures.other", res, int)
        out["failures"] += jget(iv, c + "connect_failures.total", res, int)
        out["reset"] += jget(iv, c + "closed.reset_or_error", res, int)
    return out


# ---- refused and timed-out connects --------------------------------------------------------

@test
def nothing_listening_exits_1(h):
    """Spec §3.5: nothing listens, -c 2 -T 1: 'Could not create 2 connections in allotted
    time (1s)', exit 1."""
    port = refused_port(h)
    t0 = time.monotonic()
    res = client(h, ["-c", 2, "-T", 1, f"127.0.0.1:{port}"], timeout=15)
    could_not_create(res, 2, 1)
    check(time.monotonic() - t0 < 4, "the failed ramp-up took far longer than -T 1", res)


@test
def one_connection_is_singular(h):
    port = refused_port(h)
    res = client(h, ["-c", 1, "-T", 1, f"127.0.0.1:{port}"], timeout=15)
    could_not_create(res, 1, 1)


@test
def refused_connects_counted_in_json(h):
    """Refusals are retried at the connect rate and counted by cause in --json."""
    port = refused_port(h)
    res = client(h, ["--json", "-c", 2, "--connect-rate", 50, "-T", 1, f"127.0.0.1:{port}"],
                 timeout=15)
    check(res.rc == 1, f"exit status {res.rc}, expected 1", res)
    f = failures(json_doc(res), res)
    check(isinstance(f["refused"], int) and f["refused"] >= 2,
          f"connect_refused {f['refused']}, expected at least 2 (retried at 50/s for 1 s)", res)
    check(f["refused"] <= 100, f"{f['refused']} refusals in 1 s at --connect-rate 50", res)
    check(f["failures"] == f["refused"] + f["timeouts"] + f["other"],
          "connect_failures.total is not refused + timed_out + other", res)
    check(not f["timeouts"], "refused connects counted as timeouts", res)


@test
def refused_connects_named_with_v(h):
    """With -v each refusal is reported (spec §3.5; silent by default in the original)."""
    port = refused_port(h)
    res = client(h, ["-v", "-c", 1, "-T", 1, f"127.0.0.1:{port}"], timeout=15)
    check(res.rc == 1, f"exit status {res.rc}, expected 1", res)
    check(re.search(rf"\[127\.0\.0\.1\]:{port}.*Connection refused", res.stderr),
          "no 'Connection refused' line naming the destination with -v", res)


CLOSING_RX = r"^Closing \[127\.0\.0\.1\]:{port}: Connection refused$"
MORE_RX = r"^\((\d+) more connection messages? in the last second\)$"


@test
def refused_lines_are_limited_at_default_verbosity(h):
    """doc/man/tcpkali.1 (-v): at the default verbosity a dead port's refusals (~100 a
    second at the default --connect-rate) print at most 5 lines a second, then one line
    '(N more connection messages in the last second)', so printed and counted lines together
    cover every refusal; -vv prints every one."""
    port = refused_port(h)
    res = client(h, ["-c", 1, "-T", 2.5, f"127.0.0.1:{port}"], timeout=15)
    could_not_create(res, 1, 2.5)
    lines = len(re.findall(CLOSING_RX.format(port=port), res.stderr, re.M))
    more = [int(n) for n in re.findall(MORE_RX, res.stderr, re.M)]
    check(1 <= lines <= 15, f"{lines} 'Closing' lines in 2.5 s, expected at most 5 a second",
          res)
    check(len(more) >= 2 and sum(more) + lines >= 100, f"'(N more ...)' lines {more} with "
          f"{lines} printed: fewer than the ~250 refusals of 2.5 s at 100/s", res)
    res = client(h, ["-vv", "-c", 1, "-T", 1, f"127.0.0.1:{port}"], timeout=15)
    lines = len(re.findall(CLOSING_RX.format(port=port), res.stderr, re.M))
    check(lines >= 50 and not re.search(MORE_RX, res.stderr, re.M),
          f"-vv printed {lines} 'Closing' lines in 1 s (and no summary line expected)", res)


@test
def connect_timeout_against_a_full_backlog(h):
    """A listener whose accept queue is full drops SYNs: each connect times out after
    --connect-timeout 0.3 and is retried, so about 3 timeouts in 1 s, counted by cause; the
    connection never counts as established (SO_ERROR checked, spec bug 16)."""
    fb = FullBacklog(h)
    res = client(h, ["--json", "-c", 1, "--connect-timeout", 0.3, "-T", 1,
                     f"127.0.0.1:{fb.port}"], timeout=15)
    check(res.rc == 1, f"exit status {res.rc}: a connection that never completed must not "
          "finish the ramp-up", res)
    f = failures(json_doc(res), res)
    check(isinstance(f["timeouts"], int) and 2 <= f["timeouts"] <= 5,
          f"connect_timeouts {f['timeouts']}, expected about 3 (1 s / 0.3 s)", res)
    check(not f["refused"], "timeouts counted as refusals", res)


@test
def connect_timeout_text_and_verbose(h):
    fb = FullBacklog(h)
    res = client(h, ["-v", "-c", 1, "--connect-timeout", "300ms", "-T", 1,
                     f"127.0.0.1:{fb.port}"], timeout=15)
    could_not_create(res, 1, 1)
    check(re.search(rf"\[127\.0\.0\.1\]:{fb.port}.*(timed out|timeout)", res.stderr, re.I),
          "no connect timeout line naming the destination with -v", res)


# ---- peers that fail mid-run ------------------------------------------------------------------

@test
def peer_resets_connections_mid_run(h):
    """A peer that resets every connection 0.2 s after accepting it: tcpkali replaces them
    at the connect rate, counts the resets, does not crash, and ends normally with its
    summary (exit 0 at the end of -T, spec §3.4)."""
    peer = PeerServer(h, reset_after_s=0.2)
    res = client(h, ["--json", "-c", 4, "--connect-rate", "1k", "-m", "hello", "-r", 50,
                     "-T", 2, peer.addr], timeout=20)
    check(res.rc == 0, f"exit status {res.rc} with a resetting peer, expected 0", res)
    f = failures(json_doc(res), res)
    n = peer.accepted()
    check(n >= 12, f"the peer accepted {n} connections in 2 s with resets every 0.2 s: "
          "closed connections were not replaced", res)
    check(isinstance(f["reset"], int) and f["reset"] >= 8,
          f"conns_reset {f['reset']} after the peer reset {n} connections", res)
    check(f["reset"] <= n, f"conns_reset {f['reset']} > {n} connections the peer saw", res)


@test
def peer_resets_text_summary(h):
    peer = PeerServer(h, reset_after_s=0.2)
    res = ok(client(h, ["-c", 2, "-m", "hello", "-r", 50, "-T", 1, peer.addr], timeout=20))
    fig = parse_summary(res)
    check(fig["sent"] > 0, "nothing sent while connections were being reset", res)


@test
def sink_goes_away_mid_run(h):
    """Spec §3.5: the sink exits in steady state; the client keeps trying to reconnect (all
    refused) and ends at -T with its summary, exit 0."""
    sink, port = start_sink(h)
    p = h.spawn([tcpkali(), "-c", 2, "-m", "hello", "-r", 20, "-T", 2, f"127.0.0.1:{port}"])
    wait_until(lambda: established_to(port) >= 2, 10, "the client's 2 connections")
    sink.kill()
    rc = p.wait(15)
    res = Result(p.argv, rc, p.stdout, p.stderr)
    check(rc == 0, f"exit status {rc} after the sink went away, expected 0", res)
    fig = parse_summary(res)
    f = fig.get("failures")
    check(f and f["refused"] >= 1 and f["total"] == f["refused"] + f["timed_out"] + f["other"],
          "no 'Connection failures: N (R refused, T timed out, O other)' line with the "
          "refused reconnects", res)


# ---- --message-stop ----------------------------------------------------------------------------

@test
def message_stop_exits_2(h):
    """Spec §1: the string in received data prints 'Found --message-stop="STOPME",
    aborting.' on stdout and exits 2, at once (not at -T)."""
    peer = PeerServer(h, greeting=b"data data STOPME more")
    t0 = time.monotonic()
    res = client(h, ["-c", 1, "--message-stop", "STOPME", "-T", 10, peer.addr], timeout=15)
    check(res.rc == 2, f"exit status {res.rc}, expected 2", res)
    check(re.search(r'^Found --message-stop="STOPME", aborting\.$', res.stdout, re.M),
          "no 'Found --message-stop=\"STOPME\", aborting.' line on stdout", res)
    check(time.monotonic() - t0 < 5, "--message-stop did not abort before -T", res)


@test
def message_stop_across_reads(h):
    """The stop string split over two segments 100 ms apart is still found."""
    peer = PeerServer(h, script=[(0.0, b"xxSTO"), (0.1, b"PMEyy")])
    res = client(h, ["-c", 1, "--message-stop", "STOPME", "-T", 3, peer.addr], timeout=15)
    check(res.rc == 2, f"exit status {res.rc} for a stop string split across reads, "
          "expected 2", res)


@test
def message_stop_not_seen_runs_to_the_end(h):
    peer = PeerServer(h, greeting=b"STOPM E STOP ME")
    res = ok(client(h, ["-c", 1, "--message-stop", "STOPME", "-T", 1, peer.addr], timeout=15))
    parse_summary(res)


@test
def message_stop_with_e(h):
    """-e before --message-stop unescapes it: 'a\\nb' is a, newline, b."""
    peer = PeerServer(h, greeting=b"xa\nby")
    res = client(h, ["-c", 1, "-e", "--message-stop", r"a\nb", "-T", 3, peer.addr], timeout=15)
    check(res.rc == 2, f"exit status {res.rc}, expected 2 for an unescaped stop string", res)


# ---- signals --------------------------------------------------------------------------------

def signalled_run(h, sig):
    peer = PeerServer(h)
    p = h.spawn([tcpkali(), "-c", 2, "-m", "hello", "-r", 100, "-T", 30, peer.addr])
    p.wait_output(r"^Ramped up to 2 connections\.$", timeout=10, stream="stderr")
    # Steady-state traffic (not only ramp-up's) before the signal: 10 more messages.
    base = peer.total_rcvd()
    wait_until(lambda: peer.total_rcvd() >= base + 50, 5, "steady-state data at the peer")
    p.signal(sig)
    rc = p.wait(10)
    return Result(p.argv, rc, p.stdout, p.stderr)


@test
def sigint_prints_the_summary(h):
    """Spec §3.2/§3.4: Ctrl+C prints 'Ctrl+C pressed, finishing up...' and the summary."""
    res = signalled_run(h, signal.SIGINT)
    check(res.rc == SIGINT_RC, f"exit status {res.rc} after SIGINT, expected {SIGINT_RC}", res)
    check(re.search(r"^Ctrl\+C pressed, finishing up\.\.\.$", res.stderr, re.M),
          "no 'Ctrl+C pressed, finishing up...' line", res)
    fig = parse_summary(res)
    check(fig["sent"] > 0 and fig["duration_s"] < 30, "the summary after SIGINT", res)


@test
def sigterm_prints_the_summary(h):
    """Fixed bug (spec bug 23): SIGTERM also prints the summary."""
    res = signalled_run(h, signal.SIGTERM)
    check(res.rc == SIGTERM_RC, f"exit status {res.rc} after SIGTERM, expected {SIGTERM_RC}",
          res)
    fig = parse_summary(res)
    check(fig["sent"] > 0 and fig["duration_s"] < 30, "the summary after SIGTERM", res)


@test
def sink_prints_its_summary_on_sigint(h):
    sink, port = start_sink(h)
    ok(client(h, ["-c", 1, "-m", "hello", "-r", 100, "-T", 1, f"127.0.0.1:{port}"]))
    res = stop_sink(sink, sig=signal.SIGINT)
    fig = parse_summary(res)
    check(fig["rcvd"] >= 400, f"sink received {fig['rcvd']} bytes of 1 s at 100 × 5", res)


@test
def infinite_duration_until_sigterm(h):
    """-T -1 (tcpkali 1.2) runs until interrupted; SIGTERM then prints the summary."""
    peer = PeerServer(h)
    p = h.spawn([tcpkali(), "-c", 1, "-m", "hello", "-r", 100, "-T", -1, peer.addr])
    # The original's text, plural even for one (spec §3.2; tcpkali.c prints "%d connections.").
    p.wait_output(r"^Ramped up to 1 connections\.$", timeout=10, stream="stderr")
    base = peer.total_rcvd()
    wait_until(lambda: peer.total_rcvd() >= base + 50, 5, "steady-state data at the peer")
    p.signal(signal.SIGTERM)
    rc = p.wait(10)
    res = Result(p.argv, rc, p.stdout, p.stderr)
    check(rc == SIGTERM_RC, f"exit status {rc} after SIGTERM, expected {SIGTERM_RC}", res)
    check(parse_summary(res)["sent"] > 0, "nothing in the summary", res)


@test
def duration_is_honoured_under_bulk_load(h):
    """Fixed bug (spec bug 22): the original's -T 3 took 5.8-9.3 s of wall time when its
    workers were busy. Bulk traffic on 10 connections, -T 1: done within 1 s plus ramp-up
    plus a generous margin for a shared machine."""
    sink, port = start_sink(h)
    t0 = time.monotonic()
    res = ok(client(h, ["-c", 10, "--connect-rate", "10k", "-m", "hello", "-T", 1,
                        f"127.0.0.1:{port}"]))
    wall = time.monotonic() - t0
    fig = parse_summary(res)
    check(abs(fig["duration_s"] - 1.0) <= 0.1, f"Test duration {fig['duration_s']} s for -T 1",
          res)
    check(wall < 3.0, f"-T 1 took {wall:.2f} s of wall time", res)
    sink.kill()


if __name__ == "__main__":
    run_tests()
