#!/usr/bin/env python3
"""Tests of the tests' own fault relay (faultrelay.py) against a tiny Python replier, so that
a seqtest failure seen through the relay is seqtest's, not the relay's. Needs no binary.

Usage: python3 tests/sys/test_seqtest_relay.py BUILD_DIR [TEST_NAME...]
"""

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, have_ipv6_loopback, run_tests, Skip, test, wait_until  # noqa: E402
import faultrelay  # noqa: E402
from faultrelay import FaultRelay, parse_fault  # noqa: E402


def request(seq, ssz=60, rsz=0):
    """A seqtest-framed request: header then a payload of bytes (seq + i) & 0xff."""
    hdr = struct.pack("<QQQQIHH", seq, 1000 + seq, 0, 0, 0, ssz, rsz)
    return hdr + bytes((seq + i) & 0xFF for i in range(ssz - 40))


class MiniReplier:
    """Accepts connections, records every framed request, replies rsz bytes when asked."""

    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ls = socket.socket(family, socket.SOCK_STREAM)
        self.ls.bind((host, 0))
        self.ls.listen(16)
        self.addr = (host, self.ls.getsockname()[1])
        self.received = []      # list per connection of the requests seen
        self.closed = []        # connection indexes that reached EOF
        self.lock = threading.Lock()
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            with self.lock:
                idx = len(self.received)
                self.received.append([])
            threading.Thread(target=self._serve, args=(c, idx), daemon=True).start()

    def _serve(self, c, idx):
        buf = b""
        with c:
            while True:
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    with self.lock:
                        self.received[idx].append(("tail", buf))
                        self.closed.append(idx)
                    return
                buf += data
                while len(buf) >= 40:
                    ssz = struct.unpack_from("<H", buf, 36)[0]
                    if ssz < 40 or len(buf) < ssz:
                        break
                    msg, buf = buf[:ssz], buf[ssz:]
                    with self.lock:
                        self.received[idx].append(msg)
                    rsz = struct.unpack_from("<H", msg, 38)[0]
                    if rsz >= 40:
                        reply = msg[:36] + struct.pack("<HH", ssz, rsz) + bytes(rsz - 40)
                        c.sendall(reply)

    def close(self):
        self.ls.close()


def seqs(msgs):
    return [struct.unpack_from("<Q", m, 0)[0] for m in msgs if not isinstance(m, tuple)]


def run_through(h, faults, n=10, rsz=0, listen=("127.0.0.1",), target_host="127.0.0.1"):
    """Sends n requests through a relay with faults; returns (replier, relay, client sock)."""
    rep = MiniReplier(target_host)
    h.on_cleanup(rep.close)
    relay = FaultRelay(rep.addr, faults, listen=listen).start()
    h.on_cleanup(relay.close)
    c = socket.create_connection((listen[0], relay.port), timeout=10)
    h.on_cleanup(c.close)
    c.sendall(b"".join(request(i, rsz=rsz) for i in range(n)))
    c.shutdown(socket.SHUT_WR)
    wait_until(lambda: rep.closed, timeout=10, what="replier EOF")
    return rep, relay, c


@test
def clean_relay_forwards_everything_in_order(h):
    rep, relay, _ = run_through(h, [], n=50)
    check(seqs(rep.received[0]) == list(range(50)), "order changed", rep.received[0][:3])
    check(rep.received[0][-1] == ("tail", b""), "leftover bytes", rep.received[0][-1])
    check(relay.connections[0].messages["up"] == 50, "relay count", relay.events)
    check(relay.applied() == [], "faults applied", relay.applied())


@test
def replies_come_back_through_the_relay(h):
    rep, relay, c = run_through(h, [], n=5, rsz=48)
    got = b""
    while len(got) < 5 * 48:
        chunk = c.recv(4096)
        check(chunk, "client EOF before all replies", got)
        got += chunk
    check([struct.unpack_from("<Q", got, 48 * i)[0] for i in range(5)] == list(range(5)),
          "reply seqnos", got)
    wait_until(lambda: relay.connections[0].messages["down"] == 5, 5, "relay down count")


@test
def reorder_swaps_two_messages(h):
    rep, relay, _ = run_through(h, ["reorder:3"])
    check(seqs(rep.received[0]) == [0, 1, 2, 4, 3, 5, 6, 7, 8, 9], "order", rep.received[0])
    check(relay.applied() == ["conn 0: reorder:3"], "applied", relay.applied())


@test
def reorder_of_the_last_message_releases_it_at_eof(h):
    rep, _, _ = run_through(h, ["reorder:9"])
    check(seqs(rep.received[0]) == list(range(10)), "order", rep.received[0])


@test
def dup_forwards_twice(h):
    rep, _, _ = run_through(h, ["dup:7"])
    check(seqs(rep.received[0]) == [0, 1, 2, 3, 4, 5, 6, 7, 7, 8, 9], "dup", rep.received[0])


@test
def drop_removes_one(h):
    rep, _, _ = run_through(h, ["drop:0"])
    check(seqs(rep.received[0]) == list(range(1, 10)), "drop", rep.received[0])


@test
def corrupt_flips_exactly_one_byte(h):
    rep, _, _ = run_through(h, ["corrupt:4:50", "corrupt:6:0:0x01"])
    msgs = rep.received[0]
    for i in range(10):
        want = bytearray(request(i))
        if i == 4:
            want[50] ^= 0xFF
        if i == 6:
            want[0] ^= 0x01
        check(msgs[i] == bytes(want), f"message {i} differs", msgs[i], bytes(want))


@test
def snip_removes_bytes_and_keeps_the_connection(h):
    """snip:3:50:4 drops bytes 50..53 of request 3; the MiniReplier frames by ssz, so it
    sees request 3 end with the first 4 bytes of request 4, and everything after shifted."""
    rep, relay, _ = run_through(h, ["snip:3:50:4"], n=6)
    wire = b"".join(request(i) for i in range(6))
    cut = 3 * 60 + 50
    want = wire[:cut] + wire[cut + 4:]
    got = b"".join(m if not isinstance(m, tuple) else m[1] for m in rep.received[0])
    check(got == want, "the stream is not the original without exactly those 4 bytes",
          got[cut - 4:cut + 8], want[cut - 4:cut + 8])
    check(relay.applied() == ["conn 0: snip:3:50:4"], "applied", relay.applied())
    check(relay.connections[0].messages["up"] == 6, "relay count", relay.events)


@test
def corrupting_ssz_keeps_the_relay_framing_on_the_original_sizes(h):
    rep, relay, _ = run_through(h, ["corrupt:2:37:0x40"])   # ssz 60 -> 60 + 0x4000
    check(seqs(rep.received[0]) == [0, 1], "before the bad size", rep.received[0])
    check(relay.connections[0].messages["up"] == 10, "relay count", relay.events)
    tail = rep.received[0][-1]
    check(tail[0] == "tail" and len(tail[1]) == 8 * 60, "bytes after the bad header", tail)


@test
def a_size_outside_40_to_8000_is_forwarded_unframed(h):
    rep = MiniReplier()
    h.on_cleanup(rep.close)
    relay = FaultRelay(rep.addr, ["dup:5"]).start()
    h.on_cleanup(relay.close)
    c = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
    h.on_cleanup(c.close)
    bad = struct.pack("<QQQQIHH", 2, 0, 0, 0, 0, 9000, 0)
    c.sendall(request(0) + request(1) + bad + request(3))
    c.shutdown(socket.SHUT_WR)
    wait_until(lambda: rep.closed, 10, "EOF")
    conn = relay.connections[0]
    check(conn.unframeable["up"] == 9000 and conn.messages["up"] == 2, "relay", relay.events)
    check(rep.received[0][-1] == ("tail", bad + request(3)), "raw tail", rep.received[0])


@test
def truncate_cuts_and_closes(h):
    rep, relay, c = run_through(h, ["truncate:5:25"])
    check(seqs(rep.received[0]) == list(range(5)), "before", rep.received[0])
    check(rep.received[0][-1] == ("tail", request(5)[:25]), "tail", rep.received[0][-1])
    wait_until(lambda: relay.connections[0].closed, 5, "relay close")
    c.settimeout(5)
    check(c.recv(10) == b"", "client not closed")


@test
def a_partial_message_at_eof_is_forwarded(h):
    rep = MiniReplier()
    h.on_cleanup(rep.close)
    relay = FaultRelay(rep.addr).start()
    h.on_cleanup(relay.close)
    c = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
    h.on_cleanup(c.close)
    c.sendall(request(0) + request(1)[:30])
    c.shutdown(socket.SHUT_WR)
    wait_until(lambda: rep.closed, 10, "EOF")
    check(rep.received[0] == [request(0), ("tail", request(1)[:30])], "tail", rep.received)
    check(relay.connections[0].partial["up"] == 30, "partial count", relay.events)


@test
def close_stops_before_the_message(h):
    rep, _, _ = run_through(h, ["close:3"])
    check(seqs(rep.received[0]) == [0, 1, 2], "close", rep.received[0])
    check(rep.received[0][-1] == ("tail", b""), "tail", rep.received[0][-1])


@test
def connection_selector_and_reply_faults(h):
    rep = MiniReplier()
    h.on_cleanup(rep.close)
    relay = FaultRelay(rep.addr, ["drop:1@1", "reply-dup:0"]).start()
    h.on_cleanup(relay.close)
    socks = []
    for k in range(2):
        c = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        h.on_cleanup(c.close)
        socks.append(c)
        relay.wait_connections(k + 1)
        c.sendall(b"".join(request(i, rsz=40) for i in range(3)))
        c.shutdown(socket.SHUT_WR)
    wait_until(lambda: len(rep.closed) == 2, 10, "both EOF")
    by_first = sorted(rep.received, key=len)
    check(seqs(by_first[0]) == [0, 2] and seqs(by_first[1]) == [0, 1, 2], "drop@1",
          rep.received)
    for c in socks:
        got = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
        check(len(got) == 40 * (4 if c is socks[0] else 3), "reply-dup count", len(got))


@test
def one_port_on_both_loopbacks(h):
    if not have_ipv6_loopback():
        raise Skip("no ::1")
    rep, relay, _ = run_through(h, [], n=3, listen=("127.0.0.1", "::1"))
    c6 = socket.create_connection(("::1", relay.port), timeout=10)
    h.on_cleanup(c6.close)
    relay.wait_connections(2)
    check(relay.connections[1].peer[0] == "::1", "peer", relay.connections[1].peer)


@test
def bad_fault_strings_are_refused(h):
    for bad in ("swap:1", "dup", "dup:x", "corrupt:1", "dup:1:2", "drop:-1", "corrupt:1:2:0",
                "snip:1", "snip:1:2:0", "snip:1:2:3:4"):
        try:
            parse_fault(bad)
        except ValueError:
            continue
        check(False, f"{bad!r} accepted")
    for text in ("reply-corrupt:9:50@2", "snip:3:41:7", "reply-snip:2:60@1"):
        check(repr(parse_fault(text)) == text, f"{text} does not round-trip")


@test
def script_mode_prints_its_port(h):
    rep = MiniReplier()
    h.on_cleanup(rep.close)
    p = h.spawn([sys.executable, faultrelay.__file__, f"127.0.0.1:{rep.addr[1]}", "dup:0"])
    port = int(p.wait_output(r"relay listening on (\d+)", timeout=10).group(1))
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    h.on_cleanup(c.close)
    c.sendall(request(0))
    c.shutdown(socket.SHUT_WR)
    p.wait_output(r"conn 0 up: applied dup:0", timeout=10)
    wait_until(lambda: rep.closed, 10, "EOF")
    check(seqs(rep.received[0]) == [0, 0], "dup in script mode", rep.received)


run_tests()
