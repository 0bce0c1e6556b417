#!/usr/bin/env python3
"""System tests of tcpkali's message markers (issue 5, spec tcpkali.md §4.4): one-way
latency between two netgrind processes (a sender with \\{message.marker} in its message and
a listener with --message-marker: the listener's 'Aggregate message rate' and 'Message
latency' lines), tokens written by a Python producer in the original's format
(`TCPKaliMsgTS-%016x.` of gettimeofday µs, also split across segments) understood by the
listener, and the tokens netgrind writes checked byte by byte against that format.

Usage: python3 tests/sys/test_tcpkali_marker.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Result, check, run_tests, test, wait_until  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    check_percentiles, client, jget, json_doc, ok, parse_summary, start_sink,
    stop_sink, tcpkali, wait_sink_drained)
from tcpkali_peers import PeerServer  # noqa: E402

MARKER_RX = rb"TCPKaliMsgTS-([0-9a-f]{16})\."
LISTEN_RX = r"^Listen on: \[127\.0\.0\.1\]:(\d+)$"


def original_token(us=None):
    """A token as the original writes it (spec §4.4): 'TCPKaliMsgTS-' + gettimeofday() in µs
    as 16 lower-case hex digits + '.'."""
    if us is None:
        us = time.time_ns() // 1000
    return b"TCPKaliMsgTS-%016x." % us


@test
def marker_latency_between_two_netgrind_processes(h):
    """A listener with --message-marker for -T 3, and a sender -c 4 -r 100 whose message
    holds \\{message.marker}, started right after it: the listener counts about 4 × 100 =
    400 messages/s received (within 10%: the sender covers all but its start-up of the
    listener's 3 s), and the one-way latency over loopback is small (p50 < 50 ms). The
    sender, implicitly in marker mode, reports 400 messages/s sent."""
    lst = h.spawn([tcpkali(), "-l", "127.0.0.1:0", "--message-marker", "--latency-percentiles",
                   "50,95", "-T", 3])
    port = int(lst.wait_output(LISTEN_RX, timeout=10, stream="stderr").group(1))
    snd = h.spawn([tcpkali(), "-c", 4, "--connect-rate", "10k", "-m",
                   r"\{message.marker}.......", "-r", 100, "-T", 30, f"127.0.0.1:{port}"])
    rc = lst.wait(20)
    lres = Result(lst.argv, rc, lst.stdout, lst.stderr)
    check(rc == 0, f"the listener exited with {rc} at the end of -T", lst.stdout, lst.stderr)
    fig = parse_summary(lres)
    check("msgs_in" in fig, "the listener printed no 'Aggregate message rate' line", lst.stdout)
    check(abs(fig["msgs_in"] - 400) <= 40, f"the listener received {fig['msgs_in']} "
          "messages/s, expected 4 × 100 = 400 within 10%", lst.stdout)
    check("lat_message" in fig, "the listener printed no 'Message latency' line", lst.stdout)
    check_percentiles(fig["lat_message"], lres, labels=("50", "95"), hi=1000.0)
    check(fig["lat_message"]["values"][0] < 50.0, "median one-way latency "
          f"{fig['lat_message']['values'][0]} ms on loopback", lst.stdout)
    # The sender lost its listener; end it (SIGTERM: the summary, then 143) and read its
    # own message rate.
    snd.signal(signal.SIGTERM)
    src = snd.wait(10)
    sres = Result(snd.argv, src, snd.stdout, snd.stderr)
    check(src == 143, f"the sender exited with {src} after SIGTERM, expected 143", snd.stdout,
          snd.stderr)
    sfig = parse_summary(sres)
    check("msgs_out" in sfig, "the sender (a marker in its message) printed no 'Aggregate "
          "message rate' line", snd.stdout)


def connect(h, port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    h.on_cleanup(s.close)
    return s


# Each token line the producer sends: "payload " + 30-byte token + " tail\n".
TOKEN_LINE = 44


def produce(s, tokens, split=False, gap=0.002):
    """Sends each token with some text around it on socket s, one every `gap` seconds;
    with split, each token goes in two segments cut inside its hex digits. Closes s."""
    for _ in range(tokens):
        tok = b"payload " + original_token() + b" tail\n"
        if split:
            s.sendall(tok[:25])
            time.sleep(0.001)
            s.sendall(tok[25:])
        else:
            s.sendall(tok)
        time.sleep(gap)
    s.close()


@test
def tokens_of_the_original_are_understood(h):
    """Tokens written as the original writes them (a Python producer, gettimeofday µs), sent
    to a netgrind listener with --message-marker: 100 whole tokens, then 100 cut in two
    segments inside the hex digits (the parser keeps its state across reads): the listener
    parses all 200 (--json: 200 latency samples, and summary.msgs_rcvd plus the whole
    44-byte token lines in ramp_up.bytes_rcvd, which the summary leaves out, is 200) and
    the latencies are small."""
    sink, port = start_sink(h, extra=["--message-marker", "--json"])
    produce(connect(h, port), 100)
    produce(connect(h, port), 100, split=True)
    wait_sink_drained(port)
    res = stop_sink(sink)
    doc = json_doc(res)
    lat = jget(doc, "summary.latency.message", res, dict)
    check(lat.get("count") == 200, f"summary.latency.message {lat!r}: expected 200 samples",
          res)
    check(0 <= lat.get("max_ms", -1) < 200, f"latency max {lat.get('max_ms')} ms", res)
    got = jget(doc, "summary.msgs_rcvd", res, int)
    ramp = jget(doc, "ramp_up.bytes_rcvd", res, int) if doc.get("ramp_up") else 0
    check(ramp % TOKEN_LINE == 0 and got + ramp // TOKEN_LINE == 200, f"the listener counts "
          f"{got} messages received in its steady phase and {ramp} bytes in ramp-up: "
          "expected 200 tokens in all", res)


@test
def our_tokens_have_the_original_format(h):
    """The bytes netgrind writes for 'a\\{message.marker}b' at -r 50: every message is
    'a' + 'TCPKaliMsgTS-' + 16 lower-case hex digits + '.' + 'b' (32 bytes), the value is
    the send time in µs since the epoch (within the run, never the reserved zeros), and
    successive messages are about 20 ms apart."""
    peer = PeerServer(h)
    t0 = time.time_ns() // 1000
    res = ok(client(h, ["-c", 1, "-m", r"a\{message.marker}b", "-r", 50, "-T", 1, peer.addr]))
    t1 = time.time_ns() // 1000
    wait_until(lambda: peer.snapshot() and peer.snapshot()[0].closed_at is not None, 10,
               "the peer to see the connection end")
    data = bytes(peer.snapshot()[0].data)
    msgs = re.findall(rb"a" + MARKER_RX + rb"b", data)
    check(len(msgs) >= 40 and len(msgs) * 32 == len(data), f"{len(data)} bytes received, "
          f"{len(msgs)} well-formed 32-byte messages: {data[:70]!r}", res)
    stamps = [int(x, 16) for x in msgs]
    check(all(t0 <= s <= t1 for s in stamps), f"marker times outside the run [{t0}, {t1}]: "
          f"{stamps[:3]}", res)
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    med = gaps[len(gaps) // 2]
    check(15000 <= med <= 25000, f"median gap between marker times {med} µs at 50 "
          "messages/s, expected about 20000", res)


@test
def sender_and_listener_count_the_same_messages(h):
    """The listener's received messages (JSON intervals' msgs_rcvd) are the sender's messages
    (its msgs_sent), all of them, ramp-up included: one run of -c 2 -r 50 for 1 s."""
    sink, port = start_sink(h, extra=["--message-marker", "--json"])
    res = ok(client(h, ["--json", "-c", 2, "--connect-rate", "10k", "-m",
                        r"x\{message.marker}", "-r", 50, "-T", 1, f"127.0.0.1:{port}"]))
    cdoc = json_doc(res)
    wait_sink_drained(port)
    sres = stop_sink(sink)
    sdoc = json_doc(sres)
    sent = sum(iv.get("msgs_sent", 0) for iv in cdoc.get("intervals") or [])
    rcvd = sum(iv.get("msgs_rcvd", 0) for iv in sdoc.get("intervals") or [])
    check(80 <= rcvd <= 130, f"the listener counts {rcvd} messages for 2 × 50/s × 1 s", sres)
    check(sent <= rcvd, f"the sender counts {sent} messages sent (steady intervals), the "
          f"listener {rcvd}", res, sres)


if __name__ == "__main__":
    run_tests()
