#!/usr/bin/env python3
"""System tests of udping_server fed by Python senders of exact datagram sequences
(doc/man/udping_server.1: EXPECTED COUNT, DIAGNOSTICS, STATSD OUTPUT; spec udping.md §4.3-4.5,
§5.3-5.4, §6; issue 3):

  - original-style clients (generation 1, no control packet): a burst of 13 lost in
    mid-period, duplicates, reordering, tail losses charged through the successor rule (both
    ways), leading losses of a run that began while the server listened, wrap-around at 2^32;
    expected, lost, duplicates and reordered checked exactly; many sessions expiring at
    once, twice (the original crashed after its first sweep);
  - netgrind control packets (proto 0x81) built in Python: expected from the control packet,
    a control packet ahead of its data, missing packets (grace), an unseen GUID, count 0,
    late datagrams, and keepalive emission with expected 0 for a source whose control
    packet never comes;
  - negative one-way latency reported as such;
  - kernel receive timestamps, and the user-space fallback when SO_TIMESTAMPNS fails (a
    preloaded setsockopt), each reported as used;
  - statsd plain and tag-style datagrams byte for byte;
  - malformed datagrams of every kind: each counted and warned with its text, warnings
    rate-limited (1000 bad datagrams), the server unharmed and good traffic still counted.

Usage: python3 tests/sys/test_udping_server.py BUILD_DIR [TEST_NAME...]
"""

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, Skip, test, TestFailure, wait_until  # noqa: E402
from udping_helpers import (by_guid, check_record, control, encode, json_lines,  # noqa: E402
                            Listener, PROTO_CONTROL, random_guid, Sender, server_doc,
                            start_server, stop, wait_records, wait_rx_queue_empty)

WRAP = 2**32
OLD_START = int(time.time()) - 100000  # a client run that began long before the server


def send_seqs(snd, guid, seqs, client_start=OLD_START, sent=None):
    for s in seqs:
        snd.send(encode(s, guid, client_start=client_start, sent=sent))


def rec_of(srv, guid, timeout=15):
    return wait_records(srv, 1, timeout=timeout, pred=lambda r: r["guid"] == guid)[0]


def expect(r, count, target, lost, dups, reordered, what):
    got = (r["count"], r["targetCount"], int(r["lost"]), int(r["duplicates"]),
           int(r["reordered"]))
    want = (count, target, lost, dups, reordered)
    check(got == want, f"{what}: (count, targetCount, lost, duplicates, reordered) = {got}, "
          f"expected {want}", r)
    check_record(r)


# ---- original-style clients: the expected count inferred from sequence numbers ---------------

@test
def original_client_burst_duplicates_reordering_and_tail(h):
    """GUID 1: numbers 100..195 less a burst of 13 (120..132), 140 twice, 150 three times, 161
    before 160; its tail 196..199 is lost. GUID 2 begins at 200 while GUID 1 is still open, so
    GUID 1's range is extended to 199 (udping_server(1): Losses at a period's tail)."""
    srv, port = start_server(h, keepalive=1)
    snd = Sender(h, port)
    g1, g2 = random_guid(), random_guid()
    order = []
    for s in range(100, 196):
        if 120 <= s <= 132 or s == 160:
            continue
        order.append(s)
        if s == 140:
            order.append(140)
        if s == 150:
            order += [150, 150]
        if s == 161:
            order.append(160)
    send_seqs(snd, g1, order)
    send_seqs(snd, g2, range(200, 203))
    # Keep GUID 2 open (a packet well within the keepalive) until GUID 1 is emitted.
    nxt = 203
    deadline = time.monotonic() + 10
    while not [r for r in json_lines(srv.stdout) if r["guid"] == g1]:
        if time.monotonic() > deadline:
            raise TestFailure(f"GUID 1 not emitted within 10 s at -k 1: {srv.stdout[-1000:]}")
        send_seqs(snd, g2, [nxt])
        nxt += 1
        time.sleep(0.15)
    send_seqs(snd, g2, range(nxt, 250))
    r1 = rec_of(srv, g1)
    # 100..199 expected (100); 96 sent minus 13 = 83 distinct; 3 duplicates; 160 reordered.
    expect(r1, 83, 100, 17, 3, 1, "GUID 1 (burst of 13, duplicates, tail of 4)")
    wait_rx_queue_empty(srv, port)
    res = stop(srv, what="server")
    r2 = by_guid(json_lines(res.stdout))[g2]
    expect(r2, 50, 50, 0, 0, 0, "GUID 2 (200..249, emitted at exit)")
    check(r1["from_port"] == r2["from_port"] == snd.port, "from_port", r1, r2)


@test
def original_client_gap_after_an_emitted_period_goes_to_the_next(h):
    """GUID 3 (0..49) is emitted before GUID 4 begins at 60: the numbers 50..59 are charged
    to GUID 4, whose range starts right after the last number charged to GUID 3."""
    srv, port = start_server(h, keepalive=1)
    snd = Sender(h, port)
    g3, g4 = random_guid(), random_guid()
    send_seqs(snd, g3, range(0, 50))
    r3 = rec_of(srv, g3)
    expect(r3, 50, 50, 0, 0, 0, "GUID 3")
    send_seqs(snd, g4, range(60, 80))
    wait_rx_queue_empty(srv, port)
    res = stop(srv, what="server")
    r4 = by_guid(json_lines(res.stdout))[g4]
    expect(r4, 20, 30, 10, 0, 0, "GUID 4 (60..79 after GUID 3 ended at 49)")


@test
def original_client_wraps_at_2_32(h):
    """Numbers 2^32-20 .. 2^32-1, 0 .. 19 with a burst of 13 lost across the wrap
    (2^32-5 .. 7) and 9 before 8."""
    srv, port = start_server(h, keepalive=1)
    snd = Sender(h, port)
    g = random_guid()
    seqs = [s for s in range(WRAP - 20, WRAP - 5)] + [9, 8] + list(range(10, 20))
    send_seqs(snd, g, seqs)
    r = rec_of(srv, g)
    expect(r, 27, 40, 13, 0, 1, "wrap-around at 2^32")


@test
def original_client_leading_losses_of_a_run_started_while_listening(h):
    """A run that began after the server started (client_start and the send time say so)
    is counted from sequence number 0: first packet 3 means 0..2 were lost."""
    srv, port = start_server(h, keepalive=1)
    t_listen = time.time()
    # client_start is whole seconds and the server allows a second for latency and that
    # rounding: wait for a second that begins more than one second after it listened.
    wait_until(lambda: int(time.time()) > t_listen + 1.0, timeout=4, what="a later second")
    cstart = int(time.time())
    snd = Sender(h, port)
    g = random_guid()
    send_seqs(snd, g, range(3, 10), client_start=cstart)
    r = rec_of(srv, g)
    expect(r, 7, 10, 3, 0, 0, "a new run's first period starting at 3")
    # The same numbers from a run that began long before the server: no leading charge.
    snd2 = Sender(h, port)
    g2 = random_guid()
    send_seqs(snd2, g2, range(3, 10))
    expect(rec_of(srv, g2), 7, 7, 0, 0, 0, "an old run's first period seen from 3")


@test
def many_sessions_expire_together_twice(h):
    """The original erased from its session map while iterating it, and crashed after its
    first sweep. Here 8 sources' sessions reach their keepalive at the same moment, and again
    in a second round: each is emitted exactly once, with its figures, and the server lives
    on."""
    srv, port = start_server(h, keepalive=1)
    senders = [Sender(h, port) for _ in range(8)]
    for rnd in range(2):
        guids = {}
        for snd in senders:
            g = random_guid()
            guids[g] = snd.port
            send_seqs(snd, g, range(10 * rnd, 10 * rnd + 10))
        recs = wait_records(srv, len(guids), timeout=10, pred=lambda r: r["guid"] in guids)
        check(len(recs) == len(guids), f"round {rnd + 1}: {len(recs)} records for "
              f"{len(guids)} sessions", srv.stdout[-3000:])
        for r in recs:
            expect(r, 10, 10, 0, 0, 0, f"round {rnd + 1}, source port {guids[r['guid']]}")
            check(r["from_port"] == guids[r["guid"]], "from_port", r)
        check(srv.alive(), f"the server died after sweep {rnd + 1}", srv.stderr)
    res = stop(srv, what="server")
    check(len(by_guid(json_lines(res.stdout))) == 16, "sessions emitted more than once or "
          "missing", res)


@test
def negative_latency_is_reported(h):
    """Datagrams stamped 10 s in the future: latency about -10000 ms, reported as such."""
    srv, port = start_server(h, keepalive=1)
    snd = Sender(h, port)
    g = random_guid()
    for s in range(5):
        ns = time.time_ns() + 10 * 10**9
        snd.send(encode(s, g, client_start=OLD_START, sent=(ns // 10**9, ns % 10**9)))
    r = rec_of(srv, g)
    check_record(r, same_clock=False)
    check(r["count"] == 5 and int(r["negative"]) == 5, "negative should count all 5", r)
    check(-50100 < r["sum"] < -49000 and -10100 < r["max"] < -9800, "sum / max not about "
          "-50000 / -10000 ms", r)
    check(4.8e8 < r["sumOfSquares"] < 5.1e8, "sumOfSquares not about 5e8 ms^2", r)
    check(float(r["p50"]) < 0, "p50 not negative", r)


# ---- timestamps ------------------------------------------------------------------------------

# Preloaded into the server: SO_TIMESTAMPNS fails as on a kernel without it, so the server
# must fall back to reading the clock in user space.
NO_TIMESTAMPS_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    static int (*real)(int, int, int, const void *, socklen_t);
    if (level == SOL_SOCKET && name == SO_TIMESTAMPNS) {
        errno = ENOPROTOOPT;
        return -1;
    }
    if (!real)
        real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
    return real(fd, level, name, value, len);
}
"""


def timestamp_run(h, env=None):
    """20 data packets and their control packet to a server with --json; returns its
    document."""
    srv, port = start_server(h, keepalive=5, extra=["--json"], env=env)
    snd = Sender(h, port)
    g = random_guid()
    send_seqs(snd, g, range(0, 20))
    snd.send(control(g, 20))
    wait_rx_queue_empty(srv, port)
    doc = server_doc(stop(srv, what="server"))
    sess = [s for s in doc["sessions"] if s["guid"] == g]
    check(len(sess) == 1 and sess[0]["count"] == 20, "the 20 packets were not counted", doc)
    return doc, sess[0]


@test
def kernel_timestamps_with_user_space_fallback(h):
    """Arrival times come from the kernel (SO_TIMESTAMPNS); where the option fails the server
    reads the clock itself after the receive call, and every report says which it used
    (udping_server(1), TIMESTAMPS)."""
    doc, s = timestamp_run(h)
    ts = doc["timestamps"]
    check(ts["kernel_enabled"] is True and ts["kernel_packets"] == 21 and
          ts["user_packets"] == 0, f"a plain server: timestamps {ts}, expected all 21 from the "
          "kernel", doc)
    check(s["ts_source"] == "kernel" and s["ts_kernel_packets"] == 20 and
          s["ts_user_packets"] == 0, "session timestamps", s)
    cc = shutil.which("cc")
    if not cc:
        raise Skip("no C compiler for the preloaded shim")
    tmp = tempfile.mkdtemp(prefix="udping-shim.")
    h.on_cleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
    src, lib = os.path.join(tmp, "shim.c"), os.path.join(tmp, "shim.so")
    with open(src, "w") as f:
        f.write(NO_TIMESTAMPS_SHIM)
    res = h.run([cc, "-shared", "-fPIC", "-o", lib, src, "-ldl"], timeout=60)
    check(res.rc == 0, "compiling the shim failed", res)
    # (An ASan build wants its runtime first in the list: told not to mind the shim.)
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
    doc, s = timestamp_run(h, env={**os.environ, "LD_PRELOAD": lib, "ASAN_OPTIONS": asan})
    ts = doc["timestamps"]
    check(ts["kernel_enabled"] is False and ts["kernel_packets"] == 0 and
          ts["user_packets"] == 21, f"SO_TIMESTAMPNS failing: timestamps {ts}, expected all 21 "
          "read in user space", doc)
    check(s["ts_source"] == "user" and s["ts_kernel_packets"] == 0 and
          s["ts_user_packets"] == 20, "session timestamps without SO_TIMESTAMPNS", s)
    # Same host, same clock: stamped by the sender before the kernel had it, read by the
    # server after: positive, and far below a second on loopback.
    check(s["negative"] == 0 and 0 < s["latency_min_ms"] <= s["latency_max_ms"] < 1000,
          "user-space latencies", s)


# ---- control packets -------------------------------------------------------------------------

def stream_sessions(text):
    """The session events of a --json-stream output (every line one JSON object)."""
    out = []
    for line in text.split("\n")[:-1]:  # complete lines only: the last may be half-written
        try:
            ev = json.loads(line)
        except ValueError:
            raise TestFailure(f"--json-stream line {line!r} is not JSON")
        if ev.get("event") == "session":
            out.append(ev["data"])
    return out


def wait_session(srv, guid, timeout=15):
    def find():
        return [s for s in stream_sessions(srv.stdout) if s["guid"] == guid]
    found = wait_until(find, timeout=timeout, what=f"a session event for {guid}")
    check(len(found) == 1, f"GUID {guid} emitted {len(found)} times", srv.stdout[-2000:])
    return found[0]


def expect_session(s, count, expected, lost, dups, trigger, source, what):
    got = (s["count"], s["expected"], s["lost"], s["duplicates"], s["trigger"],
           s["expected_source"])
    want = (count, expected, lost, dups, trigger, source)
    check(got == want, f"{what}: (count, expected, lost, duplicates, trigger, "
          f"expected_source) = {got}, expected {want}", s)


@test
def control_packets_give_the_expected_count(h):
    """-k 5, so anything emitted within 3 s was ended by its control packet."""
    srv, port = start_server(h, keepalive=5, extra=["--json-stream"])
    snd = Sender(h, port)
    # All data in, then the control packet: emitted at once.
    g = random_guid()
    t0 = time.monotonic()
    send_seqs(snd, g, range(0, 5))
    send_seqs(snd, g, [4])                      # one duplicate
    send_seqs(snd, g, range(5, 10))
    snd.send(control(g, 10))
    expect_session(wait_session(srv, g, timeout=3), 10, 10, 0, 1, "control", "control",
                   "10 sent, 10 in, then the control packet")
    check(time.monotonic() - t0 < 3, "not emitted on its control packet")
    # The control packet ahead of its data (reordered): emitted when the 10th arrives.
    g = random_guid()
    snd.send(control(g, 10))
    send_seqs(snd, g, range(10, 20))
    expect_session(wait_session(srv, g, timeout=3), 10, 10, 0, 0, "control", "control",
                   "control packet before its data")
    # Two of ten missing: emitted one second after the control packet (grace).
    g = random_guid()
    send_seqs(snd, g, [s for s in range(20, 30) if s not in (23, 27)])
    snd.send(control(g, 10))
    expect_session(wait_session(srv, g, timeout=4), 8, 10, 2, 0, "grace", "control",
                   "8 of 10 in")
    # A control packet for a GUID never seen: count 0, all lost, no latency figures.
    g = random_guid()
    snd.send(control(g, 5))
    s = wait_session(srv, g, timeout=4)
    expect_session(s, 0, 5, 5, 0, "grace", "control", "control packet alone")
    check(s["latency_max_ms"] is None and s["latency_p50_ms"] is None, "latency figures of an "
          "empty session should be null", s)
    # Count 0 for a GUID never seen: ignored, never reported (not even at exit).
    g0 = random_guid()
    snd.send(control(g0, 0))
    wait_rx_queue_empty(srv, port)
    res = stop(srv, what="server")
    check(not [s for s in stream_sessions(res.stdout) if s["guid"] == g0],
          "a control packet with count 0 for an unseen GUID was reported", res)


@test
def empty_session_json_line_has_zero_figures(h):
    srv, port = start_server(h, keepalive=5)
    snd = Sender(h, port)
    g = random_guid()
    snd.send(control(g, 7))
    r = rec_of(srv, g, timeout=4)
    expect(r, 0, 7, 7, 0, 0, "control packet alone")
    for k in ("sum", "sumOfSquares", "max"):
        check(r[k] == 0.0, f"{k} of an empty session is not 0.000000", r)


@test
def keepalive_emits_expected_zero_without_the_control_packet(h):
    """A source that sent a control packet is a netgrind client: a later period of it whose
    control packet never comes is emitted keepalive seconds after its last packet with
    targetCount 0 (unknown), as UDPing's README promises."""
    srv, port = start_server(h, keepalive=1)
    snd = Sender(h, port)
    g1, g2 = random_guid(), random_guid()
    send_seqs(snd, g1, range(0, 5))
    snd.send(control(g1, 5))
    expect(rec_of(srv, g1, timeout=3), 5, 5, 0, 0, 0, "period with its control packet")
    send_seqs(snd, g2, range(5, 12))
    t_last = time.monotonic()
    r = rec_of(srv, g2, timeout=10)
    waited = time.monotonic() - t_last
    expect(r, 7, 0, 0, 0, 0, "period without its control packet")
    check(waited >= 0.8, f"emitted {waited:.2f} s after its last packet, before the keepalive "
          "of 1 s", r)


@test
def late_datagrams_do_not_reopen_a_period(h):
    srv, port = start_server(h, keepalive=1, extra=["--json"])
    snd = Sender(h, port)
    g = random_guid()
    send_seqs(snd, g, range(0, 6))
    snd.send(control(g, 6))
    wait_rx_queue_empty(srv, port)
    send_seqs(snd, g, range(6, 9))              # late data for an emitted GUID
    snd.send(control(g, 9))                     # and a late control packet
    wait_rx_queue_empty(srv, port)
    res = stop(srv, what="server")
    doc = server_doc(res)
    sess = [s for s in doc["sessions"] if s["guid"] == g]
    check(len(sess) == 1, f"GUID reported {len(sess)} times", doc)
    expect_session(sess[0], 6, 6, 0, 0, "control", "control", "the period before late packets")
    check(doc["packets"]["late"] == 4, f"packets.late {doc['packets']['late']}, expected 4",
          doc)


@test
def control_count_below_received_gives_negative_lost(h):
    """A GUID whose control packet carries fewer than arrived (a broken client): lost is
    negative and printed as computed."""
    srv, port = start_server(h, keepalive=5)
    snd = Sender(h, port)
    g = random_guid()
    send_seqs(snd, g, range(0, 6))
    snd.send(control(g, 4))
    r = rec_of(srv, g, timeout=4)
    check(r["count"] == 6 and r["targetCount"] == 4 and r["lost"] == "-2",
          "6 received, control says 4: lost should be -2", r)


@test
def sigint_emits_every_open_session(h):
    """-k 60: nothing would be emitted for a minute; SIGINT emits both open sessions at once,
    the original-style one with its inferred count, the netgrind one (its source sent a
    control packet before) with targetCount 0."""
    srv, port = start_server(h, keepalive=60)
    old, new = Sender(h, port), Sender(h, port)
    g_old, g_new0, g_new = random_guid(), random_guid(), random_guid()
    send_seqs(old, g_old, [7, 8, 10, 11])
    send_seqs(new, g_new0, range(0, 3))
    new.send(control(g_new0, 3))
    expect(rec_of(srv, g_new0, timeout=3), 3, 3, 0, 0, 0, "period with its control packet")
    send_seqs(new, g_new, range(3, 8))
    wait_rx_queue_empty(srv, port)
    srv.signal(signal.SIGINT)
    rc = srv.wait(10)
    check(rc == 0, f"server exit status {rc} after SIGINT, expected 0", srv.stderr)
    recs = by_guid(json_lines(srv.stdout))
    check(set(recs) == {g_old, g_new0, g_new}, f"GUIDs emitted {sorted(recs)}", srv.stdout)
    expect(recs[g_old], 4, 5, 1, 0, 0, "original-style session at exit")
    expect(recs[g_new], 5, 0, 0, 0, 0, "netgrind session without its control packet at exit")


# ---- statsd, byte for byte -------------------------------------------------------------------

@test
def statsd_plain_and_tag_lines_exactly(h):
    plain, tagged = Listener(h), Listener(h)
    srv, port = start_server(h, keepalive=5, extra=[
        "--json-stream", "-s", f"127.0.0.1:{plain.port}", "-t", f"127.0.0.1:{tagged.port}",
        "-m", "mymetric"])
    snd = Sender(h, port)
    guids = [random_guid(), random_guid()]
    send_seqs(snd, guids[0], range(0, 9))
    snd.send(control(guids[0], 9))
    send_seqs(snd, guids[1], [9, 10, 12])
    snd.send(control(guids[1], 4))
    sessions = [wait_session(srv, g, timeout=5) for g in guids]
    dp, dt = plain.collect(2), tagged.collect(2)
    for s, dpl, dtg in zip(sessions, dp, dt):
        fh = s["from_host"].replace(".", "_")
        th = s["to_host"].replace(".", "_")
        check(th == "localhost" and s["from_port"] == snd.port and s["to_port"] == port,
              "session names", s)
        vals = [("count", str(s["count"]), "c"), ("targetCount", str(s["expected"]), "c"),
                ("sum", "%g" % s["latency_sum_ms"], "c"),
                ("sos", "%g" % s["latency_sum_sq_ms2"], "c"),
                ("max", "%g" % s["latency_max_ms"], "g")]
        path = f"{fh}.{s['from_port']}.{th}.{port}"
        want = "".join(f"{path}.{n}:{v}|{t}\n" for n, v, t in vals)
        check(dpl == want, f"plain statsd datagram\n{dpl!r}\nexpected (spec §5.3)\n{want!r}", s)
        tags = f"from_host={fh},from_port={s['from_port']},to_host={th},to_port={port}"
        want = "".join(f"mymetric.{n},{tags}:{v}|{t}\n" for n, v, t in vals)
        check(dtg == want, f"tag statsd datagram\n{dtg!r}\nexpected (spec §5.4)\n{want!r}", s)


# ---- malformed datagrams ---------------------------------------------------------------------

WARN = "udping_server: "
BAD = [
    # (kind, datagram, warning text)
    ("short", b"\x01" * 50, "Malformed packet - size 50 is less than header size 72"),
    ("short", b"", "Malformed packet - size 0 is less than header size 72"),
    ("size", encode(1, "0" * 20, size=100)[:72], "Malformed packet - expected 100, got 72"),
    ("size", encode(1, "0" * 20, size=2500), "Malformed packet - expected 2500, got 2000"),
    ("version", encode(1, "0" * 20, proto=2), "Incorrect protocol version.  Expected 1, got 2"),
    ("version", encode(1, "0" * 20, proto=0), "Incorrect protocol version.  Expected 1, got 0"),
    ("guid", encode(1, b"zz" + b"0" * 18 + b"\0"), "Malformed packet - GUID is not 20 hex digits"),
    ("guid", encode(1, b"0" * 21), "Malformed packet - GUID is not 20 hex digits"),
    ("control", encode(1, "0" * 20, proto=PROTO_CONTROL, size=100),
     "Malformed control packet - size 100, expected 72"),
    ("time", encode(1, "0" * 20, sent=(1700000000, 10**9)),
     "Malformed packet - sent nanoseconds 1000000000 out of range"),
]


@test
def malformed_datagrams_counted_warned_and_harmless(h):
    srv, port = start_server(h, keepalive=1, extra=["--json"])
    snd = Sender(h, port)
    for _, data, _ in BAD:
        snd.send(data)
    # Good traffic after the bad: still counted.
    g = random_guid()
    send_seqs(snd, g, range(0, 20))
    wait_rx_queue_empty(srv, port)
    # The first of each kind is printed at once; the second is held back for up to a second.
    for _, _, text in BAD:
        wait_until(lambda: text in srv.stderr, timeout=5, what=f"warning {text!r}")
    check(srv.alive(), "the server died on malformed datagrams", srv.stderr)
    res = stop(srv, what="server")
    for line in res.stderr.splitlines():
        check(line.startswith(WARN) and "Success" not in line, f"stderr line {line!r}", res)
    doc = server_doc(res)
    want = {}
    for kind, _, _ in BAD:
        want[kind] = want.get(kind, 0) + 1
    got = {k: doc["malformed"][k] for k in want}
    check(got == want and doc["malformed"]["total"] == len(BAD),
          f"malformed counts {doc['malformed']}, expected {want} (total {len(BAD)})", doc)
    sess = [s for s in doc["sessions"] if s["guid"] == g]
    check(len(sess) == 1 and sess[0]["count"] == 20, "good traffic after bad not counted",
          doc["sessions"])
    # The bad datagrams opened no session.
    check(len(doc["sessions"]) == 1, f"{len(doc['sessions'])} sessions, expected 1", doc)


SUPPRESSED_RX = re.compile(r" \((\d+) more suppressed\)$")


@test
def malformed_warnings_are_rate_limited(h):
    """1000 short datagrams in about half a second: a handful of warning lines, which
    together account for all 1000 (each line stands for itself plus N suppressed)."""
    srv, port = start_server(h, keepalive=1, extra=["--json"])
    snd = Sender(h, port)
    t0 = time.monotonic()
    for i in range(1000):
        snd.send(b"\x07" * (i % 72))
        if i % 100 == 99:
            time.sleep(0.05)  # pacing the sender, so the kernel buffer never overflows
    g = random_guid()
    send_seqs(snd, g, range(0, 10))

    def accounted():
        n = 0
        for line in srv.stderr.splitlines():
            if "is less than header size 72" in line:
                m = SUPPRESSED_RX.search(line)
                n += 1 + (int(m.group(1)) if m else 0)
        return n
    wait_until(lambda: accounted() >= 1000, timeout=10, what="warnings accounting for 1000")
    elapsed = time.monotonic() - t0
    lines = [l for l in srv.stderr.splitlines() if "is less than header size 72" in l]
    check(accounted() == 1000, f"warning lines account for {accounted()} datagrams, 1000 sent",
          srv.stderr[-2000:])
    # At most one line per second, plus the held-back summary of each second.
    bound = 2 * (int(elapsed) + 2)
    check(len(lines) <= bound, f"{len(lines)} warning lines for 1000 bad datagrams in "
          f"{elapsed:.1f} s (at most {bound})", lines[:10])
    res = stop(srv, what="server")
    doc = server_doc(res)
    check(doc["malformed"]["short"] == 1000, f"malformed.short {doc['malformed']['short']}, "
          f"1000 sent (socket_drops {doc['packets']['socket_drops']})", doc["malformed"])
    sess = [s for s in doc["sessions"] if s["guid"] == g]
    check(len(sess) == 1 and sess[0]["count"] == 10, "good traffic lost among bad", doc)


if __name__ == "__main__":
    run_tests()
