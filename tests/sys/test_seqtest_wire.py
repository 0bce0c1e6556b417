#!/usr/bin/env python3
"""Wire compatibility of seqtest with the original (spec seqtest.md §3, §4), which cannot
run here: a replier and a sender written in Python from the spec's header table alone talk
to netgrind's seqtest, and every header is compared byte for byte with one packed
independently by struct.pack('<QQQQIHH', ...) (seqno ts1 ts2 ts3 rdly ssz rsz, little-endian
as the original writes its struct on x86, 40 bytes, no padding).

- SpecReplier answers seqtest -S and -s as the original replier does: the reply carries the
  replier's own reply counter as seqno, echoes ts1, rdly, ssz and rsz, and stamps ts2 (request
  received) and ts3 (reply sent) on CLOCK_MONOTONIC; the reply is exactly rsz bytes.
- spec_sender talks to seqtest -r as the original sender does.
- A tampering SpecReplier changes one reply field at a time: seqtest's diagnostic must quote
  the exact values the Python side put at that field's offset.

Usage: python3 tests/sys/test_seqtest_wire.py BUILD_DIR [TEST_NAME...]
"""

import json
import os
import re
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, test, wait_until  # noqa: E402
from seqtest_helpers import (  # noqa: E402
    parse_summary, read_dump, run_sender, start_replier, stop_replier, summary_ok)

# The spec's table (§3): off 0 seqno u64, 8 ts1 u64, 16 ts2 u64, 24 ts3 u64, 32 rdly u32,
# 36 ssz u16, 38 rsz u16.
HDR = struct.Struct("<QQQQIHH")
assert HDR.size == 40


def field(buf, off, size):
    """A field read straight from its offset in the spec's table, little-endian."""
    return int.from_bytes(buf[off:off + size], "little")


def recv_exact(s, n):
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return bytes(data)
        data += chunk
    return bytes(data)


class SpecReplier:
    """The original replier's behaviour (§4.1), one thread per connection. Records every
    request as (raw bytes, time received). tamper(reply_index, values) may change the values
    of a reply before it is packed; it returns the dict to pack."""

    def __init__(self, h, tamper=None):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.tamper = tamper
        self.lock = threading.Lock()
        self.requests = {}  # peer port -> [(bytes, t_received_ns)]
        self.errors = []
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()
        h.on_cleanup(self.close)

    def close(self):
        self.ls.close()
        with self.lock:
            for s in self.socks:
                s.close()

    def _accept(self):
        while True:
            try:
                c, peer = self.ls.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.socks.append(c)
                self.requests[peer[1]] = []
            threading.Thread(target=self._serve, args=(c, peer[1]), daemon=True).start()

    def _serve(self, c, peer_port):
        replies = 0
        try:
            while True:
                hdr = recv_exact(c, 40)
                if len(hdr) < 40:
                    return
                ssz = field(hdr, 36, 2)
                if not 40 <= ssz <= 8000:
                    self.errors.append(f"request with ssz {ssz}")
                    return
                body = recv_exact(c, ssz - 40)
                ts2 = time.monotonic_ns()
                with self.lock:
                    self.requests[peer_port].append((hdr + body, ts2))
                rsz = field(hdr, 38, 2)
                if rsz == 0:
                    continue
                rdly = field(hdr, 32, 4)
                if rdly:
                    time.sleep(rdly / 1e9)
                v = {"seqno": replies, "ts1": field(hdr, 8, 8), "ts2": ts2,
                     "ts3": time.monotonic_ns(), "rdly": rdly, "ssz": ssz, "rsz": rsz}
                if self.tamper:
                    v = self.tamper(replies, v)
                size = max(v["rsz"], 40) if v["rsz"] <= 8000 else 40
                c.sendall(HDR.pack(v["seqno"], v["ts1"], v["ts2"], v["ts3"], v["rdly"],
                                   v["ssz"], v["rsz"]) + bytes(size - 40))
                replies += 1
        except OSError:
            return
        finally:
            c.close()

    def by_connection(self):
        with self.lock:
            return {port: list(reqs) for port, reqs in self.requests.items()}


def tmp_dump(h):
    d = tempfile.mkdtemp(prefix="seqtest-wire-")
    path = os.path.join(d, "dump.txt")

    def rm():
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(d)
    h.on_cleanup(rm)
    return path


def conn_ids_by_port(doc):
    """seqtest's connection index for each local port (--json connections[].local)."""
    return {int(c["local"].rsplit(":", 1)[1]): c["id"] for c in doc["connections"]}


def check_requests(reqs, t0, conn, want_rsz, want_rdly, what):
    """Every request of one connection as the spec has it: seqno 0, 1, 2, ... in order, ts1
    on CLOCK_MONOTONIC after t0 and before the request was received, never going back,
    ts2 = ts3 = 0, ssz the message's length, the payload zero (-o verify off), and the header
    bytes exactly those struct.pack gives for these values."""
    prev_ts1 = t0
    for i, (msg, t_rx) in enumerate(reqs):
        ts1 = field(msg, 8, 8)
        rdly = field(msg, 32, 4)
        rsz = want_rsz(i)
        want = HDR.pack(i, ts1, 0, 0, rdly, len(msg), rsz)
        check(msg[:40] == want, f"{what}: conn {conn} request {i} header {msg[:40].hex()} is not "
              f"struct.pack('<QQQQIHH', {i}, ts1, 0, 0, rdly, {len(msg)}, {rsz}) = {want.hex()}")
        check(want_rdly(i, rdly), f"{what}: conn {conn} request {i}: rdly {rdly}")
        check(prev_ts1 <= ts1 <= t_rx, f"{what}: conn {conn} request {i}: ts1 {ts1} not in "
              f"[{prev_ts1}, {t_rx}] (CLOCK_MONOTONIC, the previous ts1, the receive time)")
        check(msg[40:] == bytes(len(msg) - 40), f"{what}: conn {conn} request {i}: payload not "
              "zero without -o verify")
        prev_ts1 = ts1


# ---- netgrind's senders against a replier written from the spec ------------------------------

@test
def sync_sender_headers_match_the_spec_layout(h):
    rep = SpecReplier(h)
    dump = tmp_dump(h)
    t0 = time.monotonic_ns()
    res = run_sender(h, "-S", f"127.0.0.1:{rep.port}",
                     "threads=2,count=60,ssize_min=100,ssize_max=103,rsize=300,"
                     f"rdelay_min=1000,rdelay_max=1003,seed=3,dump={dump}", extra=["--json"])
    check(res.rc == 0 and res.stderr == "", f"seqtest -S against the spec replier: exit "
          f"{res.rc}", res)
    doc = json.loads(res.stdout)
    check(doc["replies_received"] == 120 and doc["violations"]["total"] == 0, "counts", doc)
    ids = conn_ids_by_port(doc)
    conns = rep.by_connection()
    check(sorted(ids) == sorted(conns), f"seqtest's local ports {sorted(ids)} are not the "
          f"replier's peers {sorted(conns)}", doc)
    rows = read_dump(dump)
    ssz_seen, rdly_seen = set(), set()
    for port, reqs in conns.items():
        check(len(reqs) == 60, f"conn {ids[port]}: {len(reqs)} requests, expected 60")
        check_requests(reqs, t0, ids[port], lambda i: 300, lambda i, d: 1000 <= d <= 1003, "-S")
        ssz_seen |= {len(m) for m, _ in reqs}
        rdly_seen |= {field(m, 32, 4) for m, _ in reqs}
        # The dump's ssz column (what seqtest asked for) is what crossed the wire, in order.
        dump_ssz = [r[4] for r in rows if r[0] == ids[port]]
        check(dump_ssz == [len(m) for m, _ in reqs], f"conn {ids[port]}: dump ssz column "
              "differs from the requests' lengths on the wire", dump_ssz[:10])
    # Inclusive ranges, drawn per message (spec bugs 1, 5, 6: the original excluded the
    # maximum size and used only the minimum delay).
    check(ssz_seen == {100, 101, 102, 103}, f"ssz on the wire {sorted(ssz_seen)}")
    check(rdly_seen == {1000, 1001, 1002, 1003}, f"rdly on the wire {sorted(rdly_seen)}")
    check({r[3] for r in rows} == {300}, "dump rsz column", rows[:3])


@test
def async_sender_takes_the_replier_reply_counter_as_seqno(h):
    """-s: only message i with i % rinterval == 0 asks for a reply (rsz set, else rsz and rdly
    0); the original replier numbers its replies 0, 1, 2, ..., which is what the sender must
    expect: no seqno diagnostic, ceil(count/rinterval) replies each."""
    rep = SpecReplier(h)
    t0 = time.monotonic_ns()
    res = run_sender(h, "-s", f"127.0.0.1:{rep.port}",
                     "threads=2,count=100,rinterval=3,ssize=60,rsize=200,rdelay=500")
    summary_ok(res, 2 * 34)
    check(res.stderr == "", "diagnostics against the spec replier", res)
    conns = rep.by_connection()
    check(len(conns) == 2, f"{len(conns)} connections")
    for port, reqs in conns.items():
        check(len(reqs) == 100, f"{len(reqs)} requests on one connection, expected 100")
        check_requests(reqs, t0, port, lambda i: 200 if i % 3 == 0 else 0,
                       lambda i, d: d == (500 if i % 3 == 0 else 0), "-s")
        check({len(m) for m, _ in reqs} == {60}, "ssize=60")


def tampered_run(h, tamper, opts="count=5,ssize=64,rsize=96", extra=()):
    rep = SpecReplier(h, tamper)
    res = run_sender(h, "-S", f"127.0.0.1:{rep.port}", opts, extra=extra, timeout=20)
    reqs = next(iter(rep.by_connection().values()), [])
    return res, reqs


def first_reply_only(change):
    return lambda k, v: change(v) if k == 0 else v


def fatal(res, rx, what):
    check(res.rc == 1, f"{what}: exit {res.rc}, expected 1", res)
    check(re.search(r"^seqtest: conn 0 127\.0\.0\.1:\d+: " + rx + "$", res.stderr, re.M),
          f"{what}: no diagnostic /{rx}/", res)
    check("Received" not in res.stdout, f"{what}: a summary after a -S fault", res)


@test
def sync_sender_reads_seqno_at_offset_0(h):
    res, _ = tampered_run(h, first_reply_only(lambda v: {**v, "seqno": 0x0102030405060708}))
    fatal(res, rf"reply seqno out of order \({0x0102030405060708} != 0\)!!", "seqno")


@test
def sync_sender_reads_ts1_at_offset_8(h):
    res, reqs = tampered_run(h, first_reply_only(lambda v: {**v, "ts1": v["ts1"] ^ 0xFF00}))
    sent = field(reqs[0][0], 8, 8)
    fatal(res, rf"mismatched timestamps: {sent ^ 0xFF00} != {sent}", "ts1")


@test
def sync_sender_reads_ts2_and_ts3_at_offsets_16_and_24(h):
    res, _ = tampered_run(h, first_reply_only(
        lambda v: {**v, "ts2": 0x1112131415161718, "ts3": 0x1112131415161717}))
    fatal(res, rf"negative packet processing cost \(ts3 {0x1112131415161717} < ts2 "
          rf"{0x1112131415161718}\)", "ts2/ts3")


@test
def sync_sender_frames_replies_by_rsz_at_offset_38(h):
    res, _ = tampered_run(h, first_reply_only(lambda v: {**v, "rsz": 8001}))
    fatal(res, r"h->rsz too big \(8001 > 8000\), closing connection", "rsz")


@test
def sync_sender_takes_ssz_and_rdly_as_echoes_only(h):
    """A reply is framed by rsz alone: echoed ssz and rdly that differ from the request's
    (here 65 and 7 for 64 and 0) are accepted without -o verify, as by the original, and do
    not disturb the framing of the 96-byte reply."""
    res, _ = tampered_run(h, first_reply_only(lambda v: {**v, "ssz": 65, "rdly": 7}))
    summary_ok(res, 5)
    check(res.stderr == "", "diagnostics for a reply with other echoes", res)


@test
def sync_latency_subtracts_the_replier_cost_from_ts2_ts3(h):
    """The replier claims 10 s of processing (ts3 = ts2 + 10 s): every latency sample is
    then clamped to 0 (man page), while the raw round trip is what it really was."""
    res, _ = tampered_run(h, lambda k, v: {**v, "ts3": v["ts2"] + 10 ** 10},
                          opts="count=20", extra=["--json"])
    check(res.rc == 0, "exit", res)
    doc = json.loads(res.stdout)
    check(doc["latency"]["max_ns"] == 0 and doc["summary_us"]["maximum"] == 0.0,
          "the replier's claimed cost was not subtracted", doc["latency"])
    raw = doc["round_trip_raw"]
    check(raw["count"] == 20 and 0 < raw["min_ns"] < 10 ** 10, "round_trip_raw", raw)


# ---- a sender written from the spec against netgrind's replier ------------------------------

def spec_request(i, ts1, ssz, rsz, rdly, fill):
    return HDR.pack(i, ts1, 0, 0, rdly, ssz, rsz) + bytes([fill]) * (ssz - 40)


def read_reply(s):
    hdr = recv_exact(s, 40)
    check(len(hdr) == 40, f"replier closed after {len(hdr)} header bytes")
    rsz = field(hdr, 38, 2)
    return hdr + recv_exact(s, rsz - 40), time.monotonic_ns()


def check_reply(reply, t_rx, k, req, what):
    """Reply k to request req = (ts1, ssz, rsz, rdly, t_sent): exactly rsz bytes; the header
    struct.pack(k, ts1, ts2, ts3, rdly, ssz, rsz) with the replier's reply counter k as seqno
    and ts2 <= ts3 stamped on CLOCK_MONOTONIC between our send and our receive, at least rdly
    apart; the payload zero."""
    ts1, ssz, rsz, rdly, t_sent = req
    check(len(reply) == rsz, f"{what}: reply {k} is {len(reply)} bytes, asked for {rsz}")
    ts2, ts3 = field(reply, 16, 8), field(reply, 24, 8)
    want = HDR.pack(k, ts1, ts2, ts3, rdly, ssz, rsz)
    check(reply[:40] == want, f"{what}: reply {k} header {reply[:40].hex()} is not "
          f"struct.pack('<QQQQIHH', {k}, {ts1}, ts2, ts3, {rdly}, {ssz}, {rsz}) = {want.hex()}")
    check(t_sent <= ts2 <= ts3 <= t_rx, f"{what}: reply {k}: ts2 {ts2} ts3 {ts3} not within "
          f"[{t_sent}, {t_rx}] in order")
    check(ts3 - ts2 >= rdly, f"{what}: reply {k}: ts3 - ts2 = {ts3 - ts2} < rdly {rdly}")
    check(reply[40:] == bytes(rsz - 40), f"{what}: reply {k} payload not zero")


def spec_plan(n):
    """Sizes and delays of request i: every 5th asks for no reply; sizes spread over 40..8000
    so that a replier framing by the wrong field loses the stream at once."""
    plan = []
    for i in range(n):
        ssz = 40 + (i * 1237) % 7961
        rsz = 0 if i % 5 == 4 else 40 + (i * 2903) % 7961
        rdly = (i % 3) * 1000 if rsz else 0
        plan.append((ssz, rsz, rdly))
    return plan


@test
def replier_answers_a_spec_sender_back_to_back(h):
    """Like the original -s: all requests written at once, the payload arbitrary (the
    original's is uninitialised memory), the replies read as they come."""
    rep, port = start_replier(h)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    h.on_cleanup(s.close)
    plan = spec_plan(60)
    t_sent = time.monotonic_ns()
    wire, reqs = bytearray(), []
    for i, (ssz, rsz, rdly) in enumerate(plan):
        ts1 = t_sent + i
        wire += spec_request(i, ts1, ssz, rsz, rdly, 0xA5)
        if rsz:
            reqs.append((ts1, ssz, rsz, rdly, t_sent))
    # Written by a thread while the replies are read here: neither side's buffers need to
    # hold the whole exchange.
    writer = threading.Thread(target=s.sendall, args=(bytes(wire),), daemon=True)
    writer.start()
    for k, req in enumerate(reqs):
        reply, t_rx = read_reply(s)
        check_reply(reply, t_rx, k, req, "back to back")
    writer.join(10)
    s.close()
    summ, res = stop_replier(rep)
    check(summ["received"] == 60 and summ["replies"] == len(reqs)
          and summ["violations"]["total"] == 0 and summ["closed_on_error"] == 0,
          "replier summary", res)
    check(res.stderr == "", "replier diagnostics for a spec sender", res)


@test
def replier_answers_a_spec_sender_in_ping_pong_with_its_delay(h):
    """Like the original -S: one request, its reply, the next; rdly 2 ms must show as
    ts3 - ts2 >= 2 ms, and the replier's reply counter follows the requests."""
    rep, port = start_replier(h)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    h.on_cleanup(s.close)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(20):
        ssz, rsz, rdly = 40 + i * 300, 8000 - i * 300, 2000000 if i % 4 == 0 else 0
        t_sent = time.monotonic_ns()
        s.sendall(spec_request(i, t_sent, ssz, rsz, rdly, i))
        reply, t_rx = read_reply(s)
        check_reply(reply, t_rx, i, (t_sent, ssz, rsz, rdly, t_sent), "ping-pong")
    s.close()
    summ, res = stop_replier(rep)
    check(summ["received"] == 20 and summ["replies"] == 20
          and summ["violations"]["total"] == 0, "replier summary", res)


@test
def replier_reports_a_spec_sender_gap_and_keeps_answering(h):
    """Seqno 0, 1, 3: the replier says request seqno out of order (3 != 2)!! once, keeps the
    connection open (no -o verify) and answers every request."""
    rep, port = start_replier(h)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    h.on_cleanup(s.close)
    t = time.monotonic_ns()
    for k, seq in enumerate((0, 1, 3, 4)):
        s.sendall(spec_request(seq, t + seq, 50, 40, 0, 0))
        reply, t_rx = read_reply(s)
        check_reply(reply, t_rx, k, (t + seq, 50, 40, 0, t), "gap")
    rep.wait_output(r"^seqtest: peer 127\.0\.0\.1:\d+: request seqno out of order "
                    r"\(3 != 2\)!!$", timeout=10, stream="stderr")
    s.close()
    summ, res = stop_replier(rep)
    check(summ["violations"]["seqno"] == 1 and summ["violations"]["total"] == 1
          and summ["replies"] == 4 and summ["closed_on_error"] == 0, "replier summary", res)


run_tests()
