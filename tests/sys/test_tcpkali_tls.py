#!/usr/bin/env python3
"""System tests of tcpkali's TLS transport (issue 5: --ssl, --ssl-cert, --ssl-key) over
loopback, against Debian's openssl binary and against itself: a --ssl client to `openssl
s_server` (the data arrives decrypted), `openssl s_client` to a --ssl listener (counted;
echoed in --listen-mode=echo), netgrind to netgrind with --ssl (wire totals agree) and
--ssl --ws (wss, marker latency on the de-framed echo), handshake failures counted by
cause on both sides (a TLS client to a plain server, a plain client to a TLS listener),
and an unreadable certificate or key on a listener (exit 66, the file named).

Every openssl process is started by the test's harness and killed when the test ends.

Usage: python3 tests/sys/test_tcpkali_tls.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Skip, check, run_tests, test, wait_until  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    check_percentiles, client, failures_line, interval_sum, jget, json_doc, ok, parse_summary, start_sink,
    stop_sink, wait_sink_drained)
from tcpkali_peers import PeerServer  # noqa: E402
from tls_certs import cert_pair as tls_cert_pair  # noqa: E402

COULD_NOT_RX = r"^Could not create (\d+) connections? in allotted time \(([0-9.]+)s\)$"


def need_openssl():
    if shutil.which("openssl") is None:
        raise Skip("no openssl binary (Debian package openssl)")


def tls_sink(h, extra=()):
    cert, key = tls_cert_pair()
    return start_sink(h, extra=["--ssl", "--ssl-cert", cert, "--ssl-key", key] + list(extra))


def totals(doc, res):
    """(bytes sent, bytes received) of the whole run, ramp-up included, from --json."""
    sent = jget(doc, "summary.bytes_sent", res, int)
    rcvd = jget(doc, "summary.bytes_rcvd", res, int)
    if doc.get("ramp_up"):
        sent += jget(doc, "ramp_up.bytes_sent", res, int)
        rcvd += jget(doc, "ramp_up.bytes_rcvd", res, int)
    return sent, rcvd


@test
def tls_client_to_openssl_s_server(h):
    """tcpkali --ssl -c 1 -m hello -r 20 -T 1 to `openssl s_server`: the handshake
    succeeds (exit 0) and s_server prints the decrypted 'hello's it received; tcpkali's
    wire bytes are more than the plaintext (TLS records)."""
    need_openssl()
    cert, key = tls_cert_pair()
    # s_server ends a connection when its stdin reaches EOF: give it a pipe kept open.
    srv = h.spawn(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
                   "-naccept", "1"], stdin=subprocess.PIPE)
    port = int(srv.wait_output(r"^ACCEPT 127\.0\.0\.1:(\d+)$", timeout=15).group(1))
    res = ok(client(h, ["--ssl", "-c", 1, "-m", "hello", "-r", 20, "-T", 1,
                        f"127.0.0.1:{port}"]))
    fig = parse_summary(res)
    wait_until(lambda: srv.stdout.count("hello") >= 15, 10, "s_server to print the "
               "'hello's it received")
    n = srv.stdout.count("hello")
    check(n <= 30, f"s_server printed {n} 'hello's for 1 s at 20/s", srv.stdout[-1500:])
    check(fig["sent"] > 5 * 15, f"{fig['sent']} wire bytes sent for at least 15 messages in "
          "TLS records", res)
    srv.kill()


def s_client(h, port):
    need_openssl()
    p = h.spawn(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet"],
                stdin=subprocess.PIPE)
    return p


@test
def openssl_s_client_to_tls_echo_listener(h):
    """`openssl s_client` to tcpkali --ssl --listen-mode=echo: what s_client sends comes
    back decrypted on its stdout; the listener counts the bytes both ways (wire bytes:
    at least the plaintext)."""
    sink, port = tls_sink(h, ["--listen-mode=echo"])
    c = s_client(h, port)
    line = b"ping from s_client 0123456789\n"
    c.p.stdin.write(line)
    c.p.stdin.flush()
    c.wait_output(r"ping from s_client 0123456789", timeout=10)
    c.kill()
    wait_sink_drained(port)
    fig = parse_summary(stop_sink(sink))
    check(fig["rcvd"] >= len(line) and fig["sent"] >= len(line), f"the listener counts "
          f"{fig['rcvd']} bytes in and {fig['sent']} out for a {len(line)}-byte echo",
          sink.stdout)


@test
def openssl_s_client_to_tls_silent_listener(h):
    """s_client sends 10 lines to a silent --ssl listener: the listener reads them all
    (its wire count is at least the plaintext) and sends only its handshake flight."""
    sink, port = tls_sink(h, ["--json"])
    c = s_client(h, port)
    data = b"".join(b"line %d of the s_client test\n" % i for i in range(10))
    c.p.stdin.write(data)
    c.p.stdin.flush()
    c.p.stdin.close()
    # s_client -quiet ignores EOF on stdin: wait until the listener read the data, then end.
    wait_until(lambda: sink_rcvd_so_far(port), 5, "the listener to read from s_client")
    c.kill()
    wait_sink_drained(port)
    sres = stop_sink(sink)
    sent, rcvd = totals(json_doc(sres), sres)
    check(rcvd >= len(data), f"the listener read {rcvd} wire bytes, less than the "
          f"{len(data)} bytes s_client sent", sres)
    check(sent > 0, "the listener sent nothing: no TLS handshake?", sres)
    hs = jget(json_doc(sres), "summary.transport.handshake_failures", sres, dict)
    check(hs.get("total") == 0, f"handshake failures {hs} after a good handshake", sres)


def sink_rcvd_so_far(port):
    """True once no data waits unread on the listener's side of a connection to port."""
    from tcpkali_helpers import tcp_sockets
    socks = [s for s in tcp_sockets() if s[0] == port and s[2] == "ESTABLISHED"]
    return socks and all(s[3] == 0 for s in socks)


@test
def netgrind_tls_against_itself(h):
    """tcpkali --ssl client (-c 2 -m hello -r 50) to a tcpkali --ssl listener: exit 0, and
    the wire totals agree both ways (handshakes included: the client's ramp-up plus steady
    figures are the listener's)."""
    sink, port = tls_sink(h, ["--json"])
    res = ok(client(h, ["--ssl", "--json", "-c", 2, "--connect-rate", "10k", "-m", "hello",
                        "-r", 50, "-T", 1, f"127.0.0.1:{port}"]))
    cdoc = json_doc(res)
    wait_sink_drained(port)
    sres = stop_sink(sink)
    csent, crcvd = totals(cdoc, res)
    ssent, srcvd = totals(json_doc(sres), sres)
    # The listener answers each client's close_notify with its own (a 24-byte TLS 1.3
    # alert record) after the client has stopped reading: at most that much more.
    check(csent == srcvd and crcvd <= ssent <= crcvd + 24 * 2, f"client sent {csent} / "
          f"received {crcvd}; listener received {srcvd} / sent {ssent}", res, sres)
    check(csent > 2 * 50 * 5, f"the client sent only {csent} wire bytes", res)


@test
def wss_against_itself_with_marker_latency(h):
    """--ssl --ws (wss) client to a --ssl --ws --listen-mode=echo listener: -m hel -m lo with
    --latency-marker hello is found only in the decrypted, de-framed echo; the latency line
    is there and small."""
    sink, port = tls_sink(h, ["--ws", "--listen-mode=echo"])
    res = ok(client(h, ["--ssl", "--ws", "-c", 2, "--connect-rate", "10k", "-m", "hel", "-m",
                        "lo", "-r", 50, "--latency-marker", "hello", "--latency-percentiles",
                        "50,95", "-T", 1, f"127.0.0.1:{port}"]))
    fig = parse_summary(res)
    check("lat_message" in fig, "no 'Message latency at percentiles:' line over wss", res)
    check_percentiles(fig["lat_message"], res, labels=("50", "95"), hi=300.0)
    wait_sink_drained(port)
    stop_sink(sink)


@test
def tls_client_to_a_plain_server_fails_by_cause(h):
    """tcpkali --ssl to a plain server that answers with text: every handshake fails with a
    TLS protocol error; counted (summary 'TLS handshake failures: N (tls_protocol: N)',
    --json: every interval's transport.handshake_failures.tls_protocol), a -v line 'TLS handshake
    failed: ...', and exit 1 ('Could not create 2 connections')."""
    peer = PeerServer(h, greeting=b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    res = client(h, ["--ssl", "-v", "-c", 2, "--connect-rate", "10k", "-m", "hello", "-T", 1,
                     peer.addr])
    check(res.rc == 1, f"exit status {res.rc}, expected 1: no handshake can succeed", res)
    m = re.search(COULD_NOT_RX, res.stdout + res.stderr, re.M)
    check(m and m.group(1) == "2", "no 'Could not create 2 connections' line", res)
    check(re.search(r"^.*TLS handshake failed: .+$", res.stderr, re.M), "no -v line "
          "'TLS handshake failed: ...'", res)
    total, causes = failures_line(res, "tls_failures")
    check(total >= 2 and causes == {"tls_protocol": total}, "the summary's 'TLS handshake "
          f"failures' line counts {total} {causes}, expected at least 2 tls_protocol", res)
    jres = client(h, ["--ssl", "--json", "-c", 2, "--connect-rate", "10k", "-m", "hello",
                      "-T", 1, peer.addr])
    check(jres.rc == 1, f"--json: exit status {jres.rc}, expected 1", jres)
    doc = json_doc(jres)
    check(doc.get("summary") is None, "a summary of a run whose ramp-up never finished", jres)
    hs = {k: interval_sum(doc, "transport.handshake_failures." + k, jres)
          for k in ("total", "tls_protocol", "tls_eof", "ws_status")}
    check(hs["tls_protocol"] >= 2 and hs["total"] == hs["tls_protocol"], "the intervals' "
          f"transport.handshake_failures add up to {hs}: expected at least 2, all "
          "tls_protocol", jres)


@test
def plain_client_to_a_tls_listener_is_counted(h):
    """A plain tcpkali client sending 'hello' to a --ssl listener: the listener's TLS
    handshakes fail (not TLS), counted by cause in its summary and --json."""
    sink, port = tls_sink(h, ["--json"])
    client(h, ["-c", 2, "--connect-rate", "10k", "-m", "hello", "-r", 10, "-T", 0.5,
               f"127.0.0.1:{port}"])
    wait_sink_drained(port)
    sres = stop_sink(sink)
    hs = jget(json_doc(sres), "summary.transport.handshake_failures", sres, dict)
    check(hs.get("tls_protocol", 0) >= 2, f"the listener's handshake_failures {hs}: expected "
          "at least 2 tls_protocol (two plain connections)", sres)


def listener_bad_file(h, which):
    cert, key = tls_cert_pair()
    missing = f"/nonexistent/tk-tls-{which}.pem"
    args = ["--ssl", "--ssl-cert", missing if which == "cert" else cert,
            "--ssl-key", missing if which == "key" else key]
    res = client(h, args + ["-l", "127.0.0.1:0", "-T", 1], timeout=15)
    check(res.rc == 66, f"exit status {res.rc} with an unreadable --ssl-{which}, expected 66",
          res)
    check(missing in res.stderr, f"the error does not name {missing}", res)
    check("Listen on:" not in res.stderr, "the listener started without its " + which, res)


@test
def unreadable_certificate_exits_66(h):
    """--ssl-cert naming a missing file on a listener: exit 66 (EX_NOINPUT), the file named."""
    listener_bad_file(h, "cert")


@test
def unreadable_key_exits_66(h):
    """--ssl-key naming a missing file on a listener: exit 66, the file named."""
    listener_bad_file(h, "key")


if __name__ == "__main__":
    run_tests()
