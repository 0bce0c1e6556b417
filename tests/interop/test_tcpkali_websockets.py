#!/usr/bin/env python3
"""Interop tests of tcpkali's WebSocket transport against an independent RFC 6455
implementation, Debian's python3-websockets (issue 5), in both directions, over loopback:

  - netgrind --ws client -> websockets echo server: the server accepts the handshake and
    every frame (it fails the connection with 1002 on a protocol error: unmasked client
    frames, bad lengths, invalid UTF-8 in text), counts the messages, and echoes them; the
    client's message-marker rate and latency come from the de-framed echoes.
  - websockets client -> netgrind --ws listener (--listen-mode=echo and silent): the
    client's handshake succeeds (it checks the 101 and Sec-WebSocket-Accept, and offers
    permessage-deflate, which the listener must not accept), its messages in all three
    length forms come back byte-exact and of the same type, its ping gets a pong and its
    close a close.

The peer is tests/interop/ws_peer.py run by /usr/bin/python3, Debian's interpreter (where
python3-websockets is importable; on this machine `python3` on PATH is a pyenv without it).

Usage: python3 tests/interop/test_tcpkali_websockets.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sys"))
from harness import Skip, check, run_tests, test  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    check_percentiles, client, ok, parse_summary, start_sink, stop_sink, wait_sink_drained)

PY = "/usr/bin/python3"
PEER = os.path.join(HERE, "ws_peer.py")
# Close codes that mean the websockets peer found a protocol violation (RFC 6455 §7.4.1).
PROTOCOL_ERRORS = {1002, 1003, 1007, 1008, 1009, 1010, 1011}
# The payload sizes ws_peer.py's client sends, cycling (keep in step with SIZES there).
SIZES = (1, 5, 125, 126, 1000, 65535, 65536, 70000)

_have_websockets = None


def need_websockets():
    global _have_websockets
    if _have_websockets is None:
        try:
            r = subprocess.run([PY, "-c", "import websockets"], capture_output=True, timeout=20)
            _have_websockets = r.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _have_websockets = False
    if not _have_websockets:
        raise Skip(f"{PY} cannot import websockets (Debian package python3-websockets; "
                   "make deps)")


def result_fields(text, what):
    m = re.search(r"^RESULT (.*)$", text, re.M)
    check(m, f"{what} printed no RESULT line:\n{text[-2000:]}")
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def start_ws_server(h, echo=True):
    p = h.spawn([PY, PEER, "server"] + (["--echo"] if echo else []))
    port = int(p.wait_output(r"^LISTEN (\d+)$", timeout=20).group(1))
    return p, port


def stop_ws_server(p):
    import signal
    p.signal(signal.SIGTERM)
    rc = p.wait(15)
    check(rc == 0, f"the websockets server exited with {rc}\n{p.stdout}\n{p.stderr}")
    return result_fields(p.stdout, "the websockets server")


@test
def netgrind_client_to_websockets_echo_server(h):
    """tcpkali --ws -c 2 -m 'hello \\{message.marker}' -r 50 to a websockets echo server:
    the upgrade succeeds (exit 0), the server takes every frame (no protocol-error close),
    sees the destination's path and query, counts as many messages as the client sent,
    and the echoed markers give the client's message rate both ways and a small latency."""
    need_websockets()
    srv, port = start_ws_server(h, echo=True)
    res = ok(client(h, ["--ws", "-c", 2, "--connect-rate", "10k", "-m",
                        r"hello \{message.marker}", "-r", 50, "--latency-percentiles", "50,95",
                        "-T", 2, f"127.0.0.1:{port}/interop?x=1"]))
    fig = parse_summary(res)
    check("msgs_in" in fig, "no 'Aggregate message rate' line with a marker in the message",
          res)
    check(abs(fig["msgs_out"] - 100) <= 15, f"{fig['msgs_out']} messages/s sent, expected "
          "2 × 50 = 100", res)
    check(abs(fig["msgs_in"] - fig["msgs_out"]) <= 15, f"{fig['msgs_in']} echoed messages/s "
          f"for {fig['msgs_out']} sent", res)
    check("lat_message" in fig, "no 'Message latency at percentiles:' line", res)
    check_percentiles(fig["lat_message"], res, labels=("50", "95"), hi=500.0)
    check(fig["lat_message"]["values"][0] < 50.0, "median message latency "
          f"{fig['lat_message']['values'][0]} ms on loopback", res)
    r = stop_ws_server(srv)
    check(r["connections"] == "2", f"the websockets server saw {r['connections']} connections",
          srv.stdout)
    check(r["paths"].split(",") == ["/interop?x=1"] * 2, f"the server saw the paths "
          f"{r['paths']}, expected /interop?x=1 twice", srv.stdout)
    codes = {int(c) for c in r["close_codes"].split(",") if c and c != "None"}
    check(not codes & PROTOCOL_ERRORS, f"the websockets server closed with {codes}: it found "
          "a protocol error in netgrind's frames", srv.stdout)
    n = int(r["messages"])
    steady = fig["msgs_out"] * fig["duration_s"]
    check(steady * 0.95 <= n <= steady * 1.2 + 10, f"the server counted {n} messages; the "
          f"client sent {steady:.0f} in its steady phase (plus a few in ramp-up)", res,
          srv.stdout)


def websockets_client(h, port, extra):
    res = h.run([PY, PEER, "client", f"ws://127.0.0.1:{port}/chat?x=1", "--count", 40] + extra,
                timeout=40)
    check(res.rc == 0, f"the websockets client failed (exit {res.rc})", res)
    return result_fields(res.stdout, "the websockets client"), res


def payload_total(count):
    return sum(SIZES[i % len(SIZES)] for i in range(count))


@test
def websockets_client_to_netgrind_echo_listener(h):
    """A websockets client to tcpkali --ws --listen-mode=echo: handshake accepted, 40
    messages (text and binary, 1 to 70000 bytes) come back byte-exact, a ping is answered
    by a pong, the close by a close (close code 1000, or 1005 for an empty close)."""
    need_websockets()
    sink, port = start_sink(h, extra=["--ws", "--listen-mode=echo"])
    r, res = websockets_client(h, port, ["--echo", "--ping"])
    check(r["sent"] == "40" and r["echoed"] == "40", f"sent {r['sent']}, echoed back "
          f"{r['echoed']} of 40", res)
    check(r["pong"] == "1", "the ping got no pong", res)
    check(r["close_code"] in ("1000", "1005"), f"close code {r['close_code']}: the listener "
          "did not answer the close with a close", res)
    wait_sink_drained(port)
    fig = parse_summary(stop_sink(sink))
    total = payload_total(40)
    check(fig["rcvd"] >= total and fig["sent"] >= total, f"the listener counts {fig['rcvd']} "
          f"bytes in and {fig['sent']} out, below the {total} bytes of payload each way",
          sink.stdout)


@test
def websockets_client_to_netgrind_silent_listener(h):
    """The same client to a silent --ws listener: 40 messages taken, ping answered, close
    answered; the listener read every payload byte (plus frame headers and the handshake)."""
    need_websockets()
    sink, port = start_sink(h, extra=["--ws"])
    r, res = websockets_client(h, port, ["--ping"])
    check(r["sent"] == "40" and r["pong"] == "1", f"sent {r['sent']}, pong {r['pong']}", res)
    check(r["close_code"] in ("1000", "1005"), f"close code {r['close_code']}: the listener "
          "did not answer the close with a close", res)
    wait_sink_drained(port)
    fig = parse_summary(stop_sink(sink))
    total = payload_total(40)
    # Client frame headers: 6 bytes (7-bit), 8 (16-bit) or 14 (64-bit) per frame.
    check(total + 6 * 40 <= fig["rcvd"] <= total + 14 * 40 + 4096, f"the listener read "
          f"{fig['rcvd']} bytes for {total} bytes of payload in 40 frames", sink.stdout)


if __name__ == "__main__":
    run_tests()
