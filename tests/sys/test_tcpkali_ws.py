#!/usr/bin/env python3
"""System tests of tcpkali's WebSocket transport over loopback (issue 5, spec tcpkali.md
§3.11, RFC 6455): a --ws client against a --ws listener (byte totals agree, the listener's
-d dump shows its 101 response, messages go as masked text frames, --latency-marker works
on de-framed payloads against --listen-mode=echo); the client against a Python WebSocket
server written from the RFC (tcpkali_peers.WsPeer) that records each opening handshake and
frame: path, query and Host per destination, random keys and masks, \\{ws.*} and \\{raw}
frames; failed upgrades (404, a wrong Sec-WebSocket-Accept) counted and reported; and the
listener against a raw Python client: a handshake sent one byte per segment, ping/pong,
close/close and echo.

Usage: python3 tests/sys/test_tcpkali_ws.py BUILD_DIR [TEST_NAME...]
"""

import base64
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TestFailure, check, run_tests, test, wait_until  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    check_percentiles, client, failures_line, interval_sum, jget, json_doc, ok, parse_summary,
    start_sink, stop_sink, wait_sink_drained)
from tcpkali_peers import (  # noqa: E402
    WS_BINARY, WS_CLOSE, WS_CONT, WS_PING, WS_PONG, WS_TEXT, WsPeer, http_head, ws_accept,
    ws_frame, ws_parse, ws_request)

# The listener's answer (spec §3.11): 129 bytes whatever the key (the accept value is always
# 28 base64 characters).
RESPONSE_LEN = 129
DUMP_101_RX = (r"^Snd\((\d+), (\d+)\): \[HTTP/1\.1 101 Switching Protocols\\r\\n")
COULD_NOT_RX = r"^Could not create (\d+) connections? in allotted time \(([0-9.]+)s\)$"


def totals(doc, res):
    """(bytes sent, bytes received) over the whole run, ramp-up included, from --json."""
    sent = jget(doc, "summary.bytes_sent", res, int)
    rcvd = jget(doc, "summary.bytes_rcvd", res, int)
    ramp = doc.get("ramp_up")
    if ramp:
        sent += jget(doc, "ramp_up.bytes_sent", res, int)
        rcvd += jget(doc, "ramp_up.bytes_rcvd", res, int)
    return sent, rcvd


def wait_closed(peer, n, timeout=10):
    wait_until(lambda: len(peer.conns()) >= n and all(c.closed_at is not None
                                                      for c in peer.conns()),
               timeout, f"the WebSocket peer to see {n} connection(s) end")


# ---- netgrind client -> netgrind listener ------------------------------------------------------

@test
def ws_client_and_listener_agree(h):
    """--ws -c 4 -m hello -r 100 -T 2 to a --ws listener: every byte the client wrote is
    what the listener read (ramp-up and the goodbye close frames included). The listener's
    only output is its four 129-byte 101 responses, which is all the client received, and its
    four 4-byte replies (status 1000) to the close frames the client sends at the end, which
    the client never reads (it closes without waiting for an answer). Each message is one masked
    text frame: 2 header bytes + 4 masking-key bytes + 5, so the steady phase carries
    4 × 100 × 2 × 11 = 8800 bytes. The listener parses and counts the frames: one per
    message the client sent."""
    sink, port = start_sink(h, extra=["--ws", "--json"])
    res = ok(client(h, ["--ws", "--json", "-c", 4, "--connect-rate", "10k", "-m", "hello",
                        "-r", 100, "-T", 2, f"127.0.0.1:{port}"]))
    cdoc = json_doc(res)
    wait_sink_drained(port)
    sres = stop_sink(sink)
    sdoc = json_doc(sres)
    csent, crcvd = totals(cdoc, res)
    ssent, srcvd = totals(sdoc, sres)
    check(csent == srcvd, f"the client wrote {csent} bytes, the listener read {srcvd}", res,
          sres)
    # A pure listener has no ramp-up (spec §3.3's sink): its summary counts from its start.
    check(not re.search(r"Ramped up", sres.stderr), "the listener printed 'Ramped up'", sres)
    check(crcvd == 4 * RESPONSE_LEN and ssent == crcvd + 4 * 4, f"the listener wrote {ssent} "
          f"bytes and the client read {crcvd}; expected the four 101 responses, "
          f"{4 * RESPONSE_LEN} bytes, read, and four close replies (4 bytes each) on top "
          "written", res, sres)
    steady = jget(cdoc, "summary.bytes_sent", res, int)
    check(abs(steady - 8800) <= 0.1 * 8800, f"{steady} bytes sent in the steady phase, "
          "expected 8800 (11-byte masked frames of 'hello', 4 × 100/s × 2 s)", res)
    # The listener parses the frames it receives (issue 5) and counts them: every message
    # the client sent, ramp-up included, and the four close frames.
    frames = jget(sdoc, "summary.transport.ws_frames_rcvd", sres, int)
    nmsgs = interval_sum(cdoc, "msgs_sent", res)
    check(frames == nmsgs + 4, f"the listener counts {frames} frames, the client sent {nmsgs} "
          "messages (one frame each) and 4 close frames", res, sres)
    check(abs(frames - 800) <= 0.3 * 800, f"the listener counts {frames} frames received, "
          "expected about 800 (4 × 100/s × 2 s, plus ramp-up)", sres)


@test
def listener_dump_shows_the_101_response(h):
    """-d on a --ws listener (one worker, so the one connection is the dumped one): the
    dump shows the handshake as it crossed the socket, the request read and the 129-byte
    101 response written (spec §3.11, §3.12), then the messages."""
    sink, port = start_sink(h, extra=["--ws", "-w", 1, "-d"])
    ok(client(h, ["--ws", "-c", 1, "-m", "hello", "-r", 10, "-T", 0.5, f"127.0.0.1:{port}"]))
    wait_sink_drained(port)
    sres = stop_sink(sink)
    check(re.search(r"^Rcv\(\d+, \d+\): \[GET / HTTP/1\.1\\r\\n", sres.stderr, re.M),
          "the listener's -d dump shows no 'Rcv(fd, n): [GET / HTTP/1.1\\r\\n...' line",
          sres)
    m = re.search(DUMP_101_RX, sres.stderr, re.M)
    check(m, "the listener's -d dump shows no 'Snd(fd, 129): [HTTP/1.1 101 Switching "
          "Protocols\\r\\n...' line", sres)
    check(int(m.group(2)) == RESPONSE_LEN, f"the dumped 101 response is {m.group(2)} bytes, "
          f"expected {RESPONSE_LEN}", sres)
    check(re.search(r"Sec-WebSocket-Accept: [A-Za-z0-9+/]{27}=", sres.stderr),
          "the dumped 101 response has no Sec-WebSocket-Accept header", sres)


@test
def ws_latency_marker_on_deframed_payloads(h):
    """--latency-marker over WebSocket against tcpkali's own --ws --listen-mode=echo:
    -m hel -m lo makes ONE message of two text frames ('hel', 'lo'); the echo returns two
    server frames, so 'hello' never appears in the raw stream (a frame header sits between
    'hel' and 'lo'): only a search on the de-framed payload finds the marker."""
    sink, port = start_sink(h, extra=["--ws", "--listen-mode=echo"])
    res = ok(client(h, ["--ws", "-c", 2, "--connect-rate", "10k", "-m", "hel", "-m", "lo",
                        "-r", 50, "--latency-marker", "hello", "--latency-percentiles", "50,95",
                        "-T", 2, f"127.0.0.1:{port}"]))
    fig = parse_summary(res)
    check("lat_message" in fig, "no 'Message latency at percentiles:' line: the marker was "
          "not found in the de-framed echo", res)
    check_percentiles(fig["lat_message"], res, labels=("50", "95"), hi=200.0)
    # Client frames: 2 × (2 + 4) header bytes + 5 payload = 17; echoed server frames: 2 × 2
    # + 5 = 9 bytes per message.
    msgs_out, msgs_in = fig["sent"] / 17, fig["rcvd"] / 9
    check(abs(msgs_out - 200) <= 30, f"{fig['sent']} bytes sent: {msgs_out:.0f} messages of "
          "two masked frames, expected about 2 × 50 × 2 = 200", res)
    check(abs(msgs_in - msgs_out) <= 12, f"{msgs_in:.0f} echoed messages ({fig['rcvd']} bytes) "
          f"for {msgs_out:.0f} sent", res)
    wait_sink_drained(port)
    stop_sink(sink)


# ---- netgrind client -> a Python WebSocket server ----------------------------------------------

def key_bytes(key):
    try:
        return base64.b64decode(key, validate=True)
    except ValueError:
        return b""


@test
def path_query_and_host_per_destination(h):
    """Fixed bug (spec bug 32): each destination gets its own request line and Host header,
    not the first one's. Two servers, two paths with queries, -H added to every handshake,
    and a random 16-byte Sec-WebSocket-Key per connection (bug 31: the original's is fixed)."""
    a, b = WsPeer(h), WsPeer(h)
    res = ok(client(h, ["--ws", "-c", 4, "--connect-rate", "10k", "-H", "X-Test: 1", "-m",
                        "hi", "-r", 10, "-T", 1, f"127.0.0.1:{a.port}/one?a=1",
                        f"127.0.0.1:{b.port}/two/x?b=2&c=3"]))
    keys = []
    for peer, path in ((a, "/one?a=1"), (b, "/two/x?b=2&c=3")):
        conns = peer.upgraded()
        check(len(conns) == 2, f"the server for {path} got {len(conns)} handshakes, expected 2 "
              "(4 connections over 2 destinations)", res)
        for c in conns:
            hd = c.ws_headers
            check(c.ws_request_line == f"GET {path} HTTP/1.1", f"the server for {path} got the "
                  f"request line {c.ws_request_line!r}", res)
            check(hd.get("host") == f"127.0.0.1:{peer.port}", f"the server on port {peer.port} "
                  f"got Host: {hd.get('host')!r}", res)
            check(hd.get("upgrade", "").lower() == "websocket" and "upgrade" in
                  hd.get("connection", "").lower(), f"no Upgrade/Connection headers: {hd}", res)
            check(hd.get("sec-websocket-version") == "13", f"Sec-WebSocket-Version "
                  f"{hd.get('sec-websocket-version')!r}", res)
            check(hd.get("x-test") == "1", f"the -H header is missing: {hd}", res)
            check(len(key_bytes(hd.get("sec-websocket-key", ""))) == 16, "Sec-WebSocket-Key "
                  f"{hd.get('sec-websocket-key')!r} is not 16 bytes in base64", res)
            keys.append(hd["sec-websocket-key"])
    check(len(set(keys)) == len(keys), f"Sec-WebSocket-Key repeats over connections: {keys}",
          res)


@test
def client_frames_are_masked_text_frames(h):
    """RFC 6455 §5.3 and spec §3.11: each -1/-m argument is one text frame with FIN, masked
    (client frames), and fixed bug 31: every frame has its own random, non-zero masking
    key. -1 first -m hello -m world: 'first', then 'hello', 'world' repeated."""
    peer = WsPeer(h)
    res = ok(client(h, ["--ws", "-c", 1, "-1", "first", "-m", "hello", "-m", "world", "-r", 50,
                        "-T", 1, peer.addr]))
    wait_closed(peer, 1)
    frames = [f for f in peer.upgraded()[0].ws_frames if f.opcode != WS_CLOSE]
    check(len(frames) >= 60, f"only {len(frames)} frames in 1 s at 50 messages/s", res)
    check(all(f.fin and f.rsv == 0 and f.opcode == WS_TEXT and f.masked for f in frames),
          "not every frame is a masked text frame with FIN: "
          f"{[(f.fin, f.rsv, f.opcode, f.masked) for f in frames[:6]]}", res)
    want = [b"first"] + [b"hello", b"world"] * len(frames)
    got = [f.payload for f in frames]
    check(got == want[:len(got)], f"frame payloads {got[:7]}, expected first, then hello and "
          "world alternating", res)
    masks = [f.key for f in frames]
    check(b"\0\0\0\0" not in masks, "a frame is masked with the zero key", res)
    check(len(set(masks)) >= 0.9 * len(masks), f"only {len(set(masks))} distinct masking keys "
          f"over {len(masks)} frames", res)
    check(peer.upgraded()[0].ws_buf == b"", "bytes after the last whole frame: "
          f"{bytes(peer.upgraded()[0].ws_buf[:40])!r}", res)


@test
def ws_expression_frames_and_raw(h):
    """Spec §4.1: \\{ws.OP ...} frames are sent as given (not re-wrapped; masked as client
    frames), '...' clears FIN, rsv1 sets RSV1; \\{raw ...} bytes go unframed; the literal
    text around them gets its own text frame. The Python server parses the result."""
    peer = WsPeer(h)
    first = r'\{ws.text "a" ...}\{ws.cont "b"}\{ws.binary "B" rsv1}pre\{ws.ping "p"}post'
    res = ok(client(h, ["--ws", "-c", 1, "-1", first, "-m", "x", "-r", 10, "-T", 0.5,
                        peer.addr]))
    wait_closed(peer, 1)
    c = peer.upgraded()[0]
    got = [(f.fin, f.rsv, f.opcode, f.payload) for f in c.ws_frames[:6]]
    want = [(False, 0, WS_TEXT, b"a"), (True, 0, WS_CONT, b"b"), (True, 4, WS_BINARY, b"B"),
            (True, 0, WS_TEXT, b"pre"), (True, 0, WS_PING, b"p"), (True, 0, WS_TEXT, b"post")]
    check(got == want, f"frames {got}, expected {want}", res)
    check(all(f.masked for f in c.ws_frames), "an unmasked client frame", res)
    # \{raw}: bytes outside any frame. The server sees "RAW" where a frame header should be;
    # sent after the handshake as a first message, it is the first bytes after the 101.
    peer2 = WsPeer(h)
    res = ok(client(h, ["--ws", "-c", 1, "-1", r'\{raw "\x81\x03RAW"}', "-m", "x", "-r", 10,
                        "-T", 0.5, peer2.addr]))
    wait_closed(peer2, 1)
    c2 = peer2.upgraded()[0]
    check(c2.ws_frames and c2.ws_frames[0].payload == b"RAW" and not c2.ws_frames[0].masked,
          "\\{raw \"\\x81\\x03RAW\"} did not arrive as the raw bytes of an unmasked frame: "
          f"{c2.ws_frames[:2]}", res)


def upgrade_failure(h, answer, cause, verbose_rx):
    """A server that does not upgrade: the client never counts those connections as
    established, reports the failures by cause (the summary line 'WebSocket upgrade
    failures: N (cause: N)' after 'Could not create', --json: the intervals'
    transport.handshake_failures, a -v line) and
    exits 1 with 'Could not create 2 connections in allotted time'."""
    peer = WsPeer(h, answer=answer)
    res = client(h, ["--ws", "-v", "-c", 2, "--connect-rate", "10k", "-m", "hello", "-T", 1,
                     peer.addr])
    check(res.rc == 1, f"exit status {res.rc} when no upgrade succeeds, expected 1", res)
    m = re.search(COULD_NOT_RX, res.stdout + res.stderr, re.M)
    check(m and m.group(1) == "2", "no 'Could not create 2 connections in allotted time' "
          "line", res)
    check(re.search(verbose_rx, res.stderr, re.M), f"no -v line /{verbose_rx}/ on stderr", res)
    total, causes = failures_line(res, "ws_failures")
    check(total >= 2 and causes == {cause: total}, "the summary's 'WebSocket upgrade "
          f"failures' line counts {total} {causes}, expected at least 2, all {cause}", res)
    check(len(peer.upgraded()) >= total, f"{total} failures counted, the server answered only "
          f"{len(peer.upgraded())} handshakes", res)
    jres = client(h, ["--ws", "--json", "-c", 2, "--connect-rate", "10k", "-m", "hello", "-T", 1,
                      peer.addr])
    check(jres.rc == 1, f"--json: exit status {jres.rc}, expected 1", jres)
    doc = json_doc(jres)
    check(doc.get("summary") is None, "a summary of a run whose ramp-up never finished", jres)
    hs = {k: interval_sum(doc, "transport.handshake_failures." + k, jres)
          for k in ("total", cause)}
    check(hs[cause] >= 2 and hs["total"] == hs[cause], "the intervals' transport."
          f"handshake_failures add up to {hs}: expected at least 2, all {cause}", jres)


@test
def upgrade_refused_with_404_is_a_failure(h):
    """Fixed bug 31: an 'HTTP/1.1 404 Not Found' answer is not an established connection."""
    upgrade_failure(h, "404", "ws_status", r"WebSocket upgrade refused: HTTP/1\.1 404 Not Found")


@test
def wrong_accept_key_is_a_failure(h):
    """Fixed bug 31: a 101 with a wrong Sec-WebSocket-Accept is a failed upgrade."""
    upgrade_failure(h, "bad_accept", "ws_accept", r"(?i)Sec-WebSocket-Accept")


# ---- a raw Python client -> netgrind listener --------------------------------------------------

class RawWs:
    """A blocking WebSocket client over one socket, with hand-built frames, each read
    bounded by a deadline."""

    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.timeout = timeout

    def close(self):
        self.s.close()

    def read_until(self, done, what):
        deadline = time.monotonic() + self.timeout
        while True:
            r = done(self.buf)
            if r:
                return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"timed out waiting for {what}; got {bytes(self.buf[:300])!r}")
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                r = done(self.buf)
                if r:
                    return r
                raise TestFailure(f"the listener closed before {what}; got "
                                  f"{bytes(self.buf[:300])!r}")
            self.buf.extend(data)

    def handshake(self, port, split=False):
        req, key = ws_request(f"127.0.0.1:{port}", "/chat?x=1")
        if split:
            # One byte per segment (TCP_NODELAY, and a pause so that each goes alone).
            for i in range(len(req)):
                self.s.sendall(req[i:i + 1])
                time.sleep(0.002)
        else:
            self.s.sendall(req)
        status, headers, n = self.read_until(http_head, "the 101 response")
        del self.buf[:n]
        return status, headers, key

    def send(self, opcode, payload, fin=True):
        self.s.sendall(ws_frame(opcode, payload, fin=fin, mask=os.urandom(4)))

    def frame(self, what):
        def one(buf):
            frames, n = ws_parse(buf, limit=1)
            if frames:
                del buf[:n]
                return frames[0]
            return None
        return self.read_until(one, what)

    def closed(self):
        """True once the listener has closed the TCP connection (bounded wait)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True
            if not data:
                return True
            self.buf.extend(data)
        return False


def raw_client(h, port):
    c = RawWs(port)
    h.on_cleanup(c.close)
    return c


def check_101(status, headers, key, what):
    check(re.fullmatch(r"HTTP/1\.1 101 .*", status), f"{what}: status line {status!r}")
    check(headers.get("sec-websocket-accept") == ws_accept(key), f"{what}: "
          f"Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}, expected "
          f"{ws_accept(key)!r}")
    check(headers.get("upgrade", "").lower() == "websocket", f"{what}: Upgrade header "
          f"{headers.get('upgrade')!r}")


@test
def listener_takes_a_handshake_split_byte_by_byte(h):
    """Fixed bug 33: the listener reassembles an opening handshake sent one byte per TCP
    segment and answers 101 with the right accept key; then a frame sent in two segments
    is echoed in --listen-mode=echo."""
    sink, port = start_sink(h, extra=["--ws", "--listen-mode=echo"])
    c = raw_client(h, port)
    status, headers, key = c.handshake(port, split=True)
    check_101(status, headers, key, "split handshake")
    wire = ws_frame(WS_TEXT, b"split frame", mask=os.urandom(4))
    c.s.sendall(wire[:3])
    time.sleep(0.01)
    c.s.sendall(wire[3:])
    f = c.frame("the echo of a frame sent in two segments")
    check((f.opcode, f.payload, f.masked, f.fin) == (WS_TEXT, b"split frame", False, True),
          f"echo {f}, expected an unmasked text frame 'split frame'")
    c.close()
    wait_sink_drained(port)
    stop_sink(sink)


def ping_pong_close(h, mode):
    sink, port = start_sink(h, extra=["--ws", f"--listen-mode={mode}"])
    c = raw_client(h, port)
    status, headers, key = c.handshake(port)
    check_101(status, headers, key, f"{mode} listener")
    if mode == "echo":
        big = os.urandom(70000)  # the 64-bit length form both ways
        for payload in (b"x" * 125, b"y" * 126, big):
            c.send(WS_BINARY, payload)
            f = c.frame(f"the echo of a {len(payload)}-byte frame")
            check((f.opcode, f.masked, f.payload == payload) == (WS_BINARY, False, True),
                  f"echo of a {len(payload)}-byte binary frame: opcode {f.opcode}, masked "
                  f"{f.masked}, {len(f.payload)} bytes, equal {f.payload == payload}")
    c.send(WS_PING, b"are you there")
    f = c.frame("a pong")
    check((f.opcode, f.payload, f.masked) == (WS_PONG, b"are you there", False),
          f"answer to a ping: {f}, expected an unmasked pong with the ping's payload")
    c.send(WS_CLOSE, b"\x03\xe8bye")
    f = c.frame("the close reply")
    check(f.opcode == WS_CLOSE and not f.masked, f"answer to a close: {f}, expected a close")
    check(f.payload[:2] in (b"", b"\x03\xe8"), f"close reply status {f.payload[:2]!r}, "
          "expected none or 1000")
    check(c.closed(), "the listener did not close the TCP connection after the close "
          "handshake")
    wait_sink_drained(port)
    stop_sink(sink)


@test
def silent_listener_answers_ping_and_close(h):
    """RFC 6455 §5.5: the listener (silent mode) answers a ping with a pong carrying the same
    payload, and a close with a close, then ends the connection."""
    ping_pong_close(h, "silent")


@test
def echo_listener_echoes_frames_and_answers_ping_and_close(h):
    """--listen-mode=echo over WebSocket: each data frame comes back as an unmasked server
    frame of the same opcode and payload (7-, 16- and 64-bit lengths), a ping gets a pong,
    a close a close."""
    ping_pong_close(h, "echo")


if __name__ == "__main__":
    run_tests()
