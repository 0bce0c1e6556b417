#!/usr/bin/env python3
"""System tests of tcpkali's latency measurement over loopback (doc/man/tcpkali.1, spec
tcpkali.md §5, issue 4): --latency-marker against a Python echo peer (immediate and
delayed), --latency-marker-skip with -1, --latency-percentiles labels, connect and
first-byte latency, latency over every connection, a marker with no message sent (exit 1),
--message-marker tokens from a producer, -r @Latency in a short run (exit 69),
--listen-mode echo as tcpkali's own latency peer, and closed-loop mode
against an echo peer that delays each reply (the rate of transactions is bounded by the
delay, so the mode must wait for each reply).

Usage: python3 tests/sys/test_tcpkali_latency.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, test, wait_until  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    check_percentiles, client, ok, parse_summary, start_sink, stop_sink, wait_sink_drained)
from tcpkali_peers import PeerServer  # noqa: E402

# The closed-loop option (doc/man/tcpkali.1).
CLOSED_LOOP = ["--closed-loop"]


def marker_run(h, peer_addr, extra=(), T=2):
    # -e before -m: it applies only to the options after it (spec §4.5), so the message is
    # 'hello' and a newline, 6 bytes.
    res = ok(client(h, ["-c", 4, "-e", "-m", r"hello\n", "-r", 100, "--latency-marker",
                        "hello", "-T", T] + list(extra) + [peer_addr]))
    fig = parse_summary(res)
    check("lat_message" in fig, "no 'Message latency at percentiles:' line", res)
    return res, fig


@test
def latency_marker_against_an_echo_peer(h):
    """Spec §3.3 (c): a marker in every message, echoed back at once: the percentiles are
    small (loopback and a Python echo) and in order; what was sent came back."""
    peer = PeerServer(h, echo=True)
    res, fig = marker_run(h, peer.addr)
    check_percentiles(fig["lat_message"], res, hi=200.0)
    check(fig["rcvd"] > 0 and abs(fig["rcvd"] - fig["sent"]) <= 0.05 * fig["sent"] + 60,
          f"echoed {fig['rcvd']} of {fig['sent']} bytes", res)
    check(fig.get("intended_time"), "with -r the summary does not say that latency is "
          "measured from the intended send time (issue 4)", res)
    # 4 connections × 100 msg/s × 6 bytes × 2 s = 4800 bytes.
    check(abs(fig["sent"] - 4800) <= 0.05 * 4800, f"sent {fig['sent']}, expected 4800", res)


@test
def latency_marker_sees_the_peer_delay(h):
    """Each echo held 20 ms by the peer: every percentile at least 20 ms, and not far above
    (the marker latency measures the reply, not the send pacing)."""
    peer = PeerServer(h, echo=True, delay=0.020)
    res, fig = marker_run(h, peer.addr, T=1)
    check_percentiles(fig["lat_message"], res, lo=19.5, hi=250.0)


@test
def latency_marker_skip_with_a_first_message(h):
    """Spec §5.2: -1 hello -m hello --latency-marker hello: the echoed first message also
    matches the marker, so --latency-marker-skip 1 must discard it without taking a send
    time. With a 5 ms echo delay every latency is then about 5 ms; a skip that popped a
    send time would pair each reply with the next message's time (negative, or 0)."""
    peer = PeerServer(h, echo=True, delay=0.005)
    res = ok(client(h, ["-c", 2, "-1", "hello", "-m", "hello", "-r", 50, "--latency-marker",
                        "hello", "--latency-marker-skip", 1, "-T", 1, peer.addr]))
    fig = parse_summary(res)
    check("lat_message" in fig, "no 'Message latency at percentiles:' line", res)
    check_percentiles(fig["lat_message"], res, lo=4.5, hi=250.0)


@test
def more_markers_than_messages_exits_1(h):
    """Spec §5.2 / doc/man/tcpkali.1: a marker that answers no sent message ends the run:
    'More messages received than sent. Choose a different --latency-marker.', exit 1. The
    echoed -1 'hellohello' holds two markers; at -r 1 at most one message has gone out."""
    peer = PeerServer(h, echo=True)
    res = client(h, ["-c", 1, "-1", "hellohello", "-m", "hello", "-r", 1, "--latency-marker",
                     "hello", "-T", 3, peer.addr])
    check(res.rc == 1, f"exit status {res.rc}, expected 1", res)
    check(re.search(r"^More messages received than sent\. Choose a different "
                    r"--latency-marker\.$", res.stdout + res.stderr, re.M),
          "no 'More messages received than sent...' line", res)


@test
def latency_percentiles_labels_as_typed(h):
    """--latency-percentiles 50.0/90,100: labels printed exactly as typed, values ordered."""
    peer = PeerServer(h, echo=True)
    res, fig = marker_run(h, peer.addr, extra=["--latency-percentiles", "50.0/90,100"], T=1)
    check_percentiles(fig["lat_message"], res, labels=("50.0", "90", "100"), hi=200.0)


@test
def connect_and_first_byte_latency(h):
    """--latency-connect and --latency-first-byte against an echo peer: both lines, in the
    summary's order, with ordered values. Connect latency on loopback is small."""
    peer = PeerServer(h, echo=True)
    res = ok(client(h, ["-c", 4, "-m", "hi", "-r", 100, "--latency-connect",
                        "--latency-first-byte", "-T", 1, peer.addr]))
    fig = parse_summary(res)
    check("lat_connect" in fig and "lat_first_byte" in fig,
          "no 'TCP connect latency' or 'First byte latency' line", res)
    check_percentiles(fig["lat_connect"], res, hi=100.0)
    check_percentiles(fig["lat_first_byte"], res, hi=500.0)
    check("lat_message" not in fig, "a message latency line without a marker", res)


@test
def latency_from_all_connections(h):
    """Fixed bug (spec bug 41): the original's final report covers only ~10 open connections
    per worker. 30 connections, -w 1, an echo that delays every reply by 20 ms: every
    connection is slow, so the median must be about 20 ms (the original's test had 20 slow
    of 30 and reported p50 0.2 ms)."""
    peer = PeerServer(h, echo=True, delay=0.020)
    res = ok(client(h, ["-w", 1, "-c", 30, "--connect-rate", "10k", "-m", "hello", "-r", 20,
                        "--latency-marker", "hello", "--latency-percentiles", "50,95", "-T", 1,
                        peer.addr]))
    fig = parse_summary(res)
    check_percentiles(fig["lat_message"], res, labels=("50", "95"), lo=19.5, hi=300.0)


@test
def listen_mode_echo_is_its_own_latency_peer(h):
    """Beyond the original (spec §9, issue #40): tcpkali --listen-mode echo replies with
    what it receives, so a tcpkali client can measure marker latency against it."""
    srv, port = start_sink(h, extra=["--listen-mode", "echo"])
    res, fig = marker_run(h, f"127.0.0.1:{port}")
    check_percentiles(fig["lat_message"], res, hi=200.0)
    check(fig["rcvd"] > 0 and abs(fig["rcvd"] - fig["sent"]) <= 0.05 * fig["sent"] + 60,
          f"the echo listener returned {fig['rcvd']} of {fig['sent']} bytes", res)
    wait_sink_drained(port)
    sfig = parse_summary(stop_sink(srv))
    check(sfig["sent"] == sfig["rcvd"], f"echo listener sent {sfig['sent']} but received "
          f"{sfig['rcvd']}", srv.stdout)


def marker_token():
    """A tcpkali message marker (spec §4.4): 'TCPKaliMsgTS-' + the µs since the epoch as 16
    lower-case hex digits + '.'."""
    return b"TCPKaliMsgTS-%016x." % (time.time_ns() // 1000)


@test
def message_marker_from_a_producer(h):
    """--message-marker: tcpkali is just the receiver of a producer's timestamped markers
    (spec §4.4): a peer that sends one every 10 ms gives about 100 messages/s received, in
    the 'Aggregate message rate' line, and small one-way latencies."""
    peer = PeerServer(h, periodic=(0.010, lambda: b"some data " + marker_token() + b" more"))
    res = ok(client(h, ["-c", 2, "--message-marker", "-T", 1, peer.addr]))
    fig = parse_summary(res)
    check("msgs_in" in fig, "no 'Aggregate message rate' line with --message-marker", res)
    check(120 <= fig["msgs_in"] <= 210, f"{fig['msgs_in']} messages/s received from 2 "
          "producers of about 100/s each", res)
    check("lat_message" in fig, "no message latency line with --message-marker", res)
    check_percentiles(fig["lat_message"], res, hi=100.0)


@test
def rate_search_fails_in_a_short_run(h):
    """Spec §5.4: -r @5ms with -T 3 cannot finish a search (10 s steps): 'Failed to find the
    best --message-rate for latency 5ms in -T3 seconds', exit 69."""
    srv, port = start_sink(h, extra=["--listen-mode", "echo"])
    res = client(h, ["-c", 1, "-m", "hello", "--latency-marker", "hello", "-r", "@5ms", "-T", 3,
                     f"127.0.0.1:{port}"], timeout=20)
    check(res.rc == 69, f"exit status {res.rc}, expected 69", res)
    check(re.search(r"^Failed to find the best --message-rate for latency 5ms in -T3 seconds$",
                    res.stdout + res.stderr, re.M), "no 'Failed to find the best "
          "--message-rate ...' line", res)


# ---- closed loop ------------------------------------------------------------------------------

def closed_loop_run(h, delay, conns=2, T=2):
    peer = PeerServer(h, echo=True, delay=delay, keep_times=True)
    res = ok(client(h, ["-c", conns, "-m", "hello", "--latency-marker", "hello"] + CLOSED_LOOP
                    + ["-T", T, peer.addr]))
    return peer, res


@test
def closed_loop_waits_for_each_reply(h):
    """Closed loop (issue 4, upstream #53) against an echo that holds each reply 10 ms: each
    connection has one message outstanding, so at most ~100 transactions/s per connection,
    and the peer sees each 'hello' alone, 10 ms or more after the previous one."""
    peer, res = closed_loop_run(h, 0.010)
    fig = parse_summary(res)
    check("lat_transaction" in fig and "lat_message" not in fig, "closed loop: no "
          "'Transaction latency at percentiles:' line in place of the message latency", res)
    check_percentiles(fig["lat_transaction"], res, lo=9.5, hi=300.0)
    # The peer's view: per connection, arrivals of exactly one message, spaced by the delay.
    wait_until(lambda: all(c.closed_at is not None for c in peer.snapshot()), 10,
               "the peer to see the connections end")
    for c in peer.snapshot():
        sizes = [n for _, n in c.arrivals]
        check(sizes and all(n == 5 for n in sizes), f"the peer got chunks {sizes[:20]}: more "
              "than one message outstanding on a closed-loop connection", res)
        gaps = [b[0] - a[0] for a, b in zip(c.arrivals, c.arrivals[1:])]
        check(gaps and min(gaps) >= 0.009, f"messages {min(gaps) * 1000:.2f} ms apart with a "
              "10 ms echo delay: the client did not wait for the reply", res)
        rate = len(c.arrivals) / 2.0
        check(30 <= rate <= 105, f"{rate:.0f} transactions/s on one connection with a 10 ms "
              "reply delay, expected at most 100 (and not far below)", res)
    tps = fig.get("tps")
    check(tps is not None, "no 'Transaction rate: X tps (N transactions)' line", res)
    check(60 <= tps <= 210, f"summary reports {tps} transactions/s for 2 connections with a "
          "10 ms reply delay, expected at most ~200", res)
    arrived = sum(len(c.arrivals) for c in peer.snapshot())
    check(fig["transactions"] <= arrived, f"{fig['transactions']} transactions counted, the "
          f"peer saw only {arrived} requests", res)


@test
def closed_loop_rate_follows_the_delay(h):
    """The same with a 50 ms delay: at most 20 transactions/s per connection."""
    peer, res = closed_loop_run(h, 0.050, conns=1)
    fig = parse_summary(res)
    check_percentiles(fig["lat_transaction"], res, lo=49.5, hi=400.0)
    wait_until(lambda: all(c.closed_at is not None for c in peer.snapshot()), 10,
               "the peer to see the connection end")
    n = len(peer.snapshot()[0].arrivals)
    check(20 <= n <= 42, f"{n} messages in 2 s with a 50 ms reply delay, expected at most 40",
          res)


if __name__ == "__main__":
    run_tests()
