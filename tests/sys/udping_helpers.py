"""Shared helpers of the UDPing system tests (test_udping*.py) and the namespace test:
starting udping_server on port 0, running udping_client in socket mode, a Python encoder of
the generation-1 datagram (src/udping/wire.h, spec §3.2) for senders written in Python,
strict parsers of the server's JSON lines (spec §5.2) and statsd datagrams (§5.3/§5.4), and
a UDP listener that collects what arrives.

References: /work/shared/specs/udping.md, doc/man/udping_client.1, doc/man/udping_server.1.
"""

import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, have_ipv6_loopback, Result, Skip, TestFailure, tool,  # noqa: E402
                     wait_until)

HDR_LEN = 72
PROTO_DATA = 1
PROTO_CONTROL = 0x81
# <B7x q 21s 3x I 4x q q I 4x>: proto at 0, client_start at 8, guid+NUL at 16, seq at 40,
# sent_sec at 48, sent_nsec at 56, size at 64; the padding is zero (wire.h).
HDR_FMT = "<B7xq21s3xI4xqqI4x"
assert struct.calcsize(HDR_FMT) == HDR_LEN

LISTEN_RX = r"^udping_server: listening on (\S+)$"

# The original's ten keys, in order; every value a quoted string (spec §5.2).
JSON_KEYS = ["from_host", "from_port", "to_host", "to_port", "guid", "count", "targetCount",
             "sum", "sumOfSquares", "max"]
_FLOAT6 = r"-?\d+\.\d{6}"
JSON_LINE_RX = re.compile(
    r'\{"from_host":"([^".]*)","from_port":"(\d+)","to_host":"([^".]*)","to_port":"(\d+)",'
    r'"guid":"([0-9a-f]{20})","count":"(\d+)","targetCount":"(\d+)",'
    r'"sum":"(' + _FLOAT6 + r')","sumOfSquares":"(' + _FLOAT6 + r')","max":"(' + _FLOAT6 +
    r')"(,"[a-z_0-9]+":.*)?\}')


def server_bin():
    return tool("udping_server")


def client_bin():
    return tool("udping_client")


def need_ipv6():
    if not have_ipv6_loopback():
        raise Skip("no IPv6 loopback (::1) on this machine")


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


# ---- the wire ----------------------------------------------------------------------------

def random_guid(rng=random):
    return "".join(rng.choice("0123456789abcdef") for _ in range(20))


def encode(seq, guid, proto=PROTO_DATA, client_start=None, sent=None, size=HDR_LEN):
    """One datagram of `size` bytes: the 72-byte header then zero bytes. sent is
    (sec, nsec), by default now on CLOCK_REALTIME. guid may be bytes (sent raw, to make bad
    ones) or a str (NUL-terminated)."""
    if client_start is None:
        client_start = int(time.time())
    if sent is None:
        ns = time.time_ns()
        sent = (ns // 1_000_000_000, ns % 1_000_000_000)
    g = guid if isinstance(guid, bytes) else guid.encode() + b"\0"
    hdr = struct.pack(HDR_FMT, proto, client_start, g, seq & 0xFFFFFFFF, sent[0], sent[1],
                      size & 0xFFFFFFFF)
    return hdr + b"\0" * max(0, size - HDR_LEN)


def decode(data):
    """The header fields of a datagram (for packets captured from the client)."""
    proto, cstart, g, seq, sec, nsec, size = struct.unpack_from(HDR_FMT, data)
    return {"proto": proto, "client_start": cstart, "guid": g.split(b"\0")[0].decode("ascii",
            "replace"), "seq": seq, "sent_sec": sec, "sent_nsec": nsec, "size": size,
            "len": len(data)}


def original_server_verdict(data):
    """What the original udping_server does with a datagram (spec §4.3: its checks, in its
    order): 'short', 'size' or 'version', each warned about and dropped, or 'accepted'."""
    if len(data) < HDR_LEN:
        return "short"
    f = decode(data)
    if f["size"] != len(data):
        return "size"
    if f["proto"] != PROTO_DATA:
        return "version"
    return "accepted"


def control(guid, sent_count, client_start=None):
    """netgrind's control packet (wire.h): proto 0x81, seq = data packets sent, size 72."""
    return encode(sent_count, guid, proto=PROTO_CONTROL, client_start=client_start,
                  sent=(0, 0))


class Sender:
    """A UDP socket bound to (host, port) (port 0: any) that sends to the server."""

    def __init__(self, h, dst, src_port=0, host="127.0.0.1"):
        self.s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self.s.bind((host, src_port))
        self.port = self.s.getsockname()[1]
        self.dst = (host, dst) if isinstance(dst, int) else dst
        h.on_cleanup(self.s.close)

    def send(self, data):
        self.s.sendto(data, self.dst)

    def send_all(self, datagrams):
        for d in datagrams:
            self.send(d)


# ---- processes ---------------------------------------------------------------------------

def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def start_server(h, host="127.0.0.1", keepalive=1, extra=(), env=None):
    """Starts `udping_server -l HOST -p 0 -k K EXTRA` (in env, when given) and returns
    (proc, port) from its 'udping_server: listening on <addr:port>' line on stderr."""
    argv = [server_bin(), "-l", host, "-p", "0", "-k", str(keepalive)] + list(extra)
    p = h.spawn(argv, env=env)
    m = p.wait_output(LISTEN_RX, timeout=10, stream="stderr")
    addr = m.group(1)
    port = int(addr.rsplit(":", 1)[1])
    check(port != 0, "the server reported port 0 instead of the port it bound", p.stderr)
    host_part = addr.rsplit(":", 1)[0].strip("[]")
    check(host_part == host, f"server listens on {addr}, expected host {host}", p.stderr)
    return p, port


def stop(proc, timeout=10, what="process"):
    """SIGTERM, wait for exit 0; returns a Result."""
    proc.signal(signal.SIGTERM)
    rc = proc.wait(timeout)
    res = Result(proc.argv, rc, proc.stdout, proc.stderr)
    check(rc == 0, f"{what} exit status {rc} after SIGTERM, expected 0", res)
    return res


def free_ports(n, host="127.0.0.1", lo=20000, hi=29999):
    """n consecutive UDP ports free on host right now, below the ephemeral range (so the
    kernel does not hand them out meanwhile). A client's source ports have to be named, so
    this is the one place a test looks for free ports."""
    fam = family_of(host)
    for _ in range(200):
        start = random.randint(lo, hi - n)
        socks = []
        try:
            for p in range(start, start + n):
                s = socket.socket(fam, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((host, p))
            return list(range(start, start + n))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise TestFailure(f"no {n} consecutive free UDP ports in {lo}..{hi}")


def client_argv(port, src, host="127.0.0.1", d=10, i=1, m=100, n=None, extra=()):
    argv = [client_bin(), "-r", host, "-p", str(port), "-d", str(d), "-l", host, "-s", str(src),
            "-i", str(i), "-m", str(m)]
    if n is not None:
        argv += ["-n", str(n)]
    return argv + list(extra)


# ---- privileges --------------------------------------------------------------------------

NOBODY = 65534  # uid of nobody and gid of its group (nogroup) on Debian


def proc_ids(pid):
    """(real, effective, saved uids), (the same gids) and the supplementary groups of a
    running process, from /proc/PID/status."""
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in val.split()]
    return ids["Uid"][:3], ids["Gid"][:3], ids["Groups"]


def wait_nobody(proc, what, timeout=10):
    """Polls until proc (started as root) runs as nobody: uid and gid 65534, real, effective
    and saved alike (so root cannot be taken back), and no supplementary group (root's
    groups dropped)."""
    want = ([NOBODY] * 3, [NOBODY] * 3, [])
    seen = []

    def dropped():
        check(proc.alive(), f"{what} exited before dropping its privileges", proc.stderr)
        seen[:] = [proc_ids(proc.pid)]
        return seen[0] == want
    try:
        wait_until(dropped, timeout=timeout, what=f"{what} running as nobody")
    except TestFailure:
        raise TestFailure(f"{what}: (uids, gids, groups) {seen[0] if seen else None}, expected "
                          f"{want} (nobody, after opening its sockets)")


# ---- the server's output -----------------------------------------------------------------

def parse_json_line(line, ctx=None):
    """Checks one stdout line against the original's format exactly (key order, every value
    quoted, 6 decimals, no dots in host names) and returns the dict (extra keys included,
    after the original's ten). Integers for count/targetCount/ports; floats for the rest."""
    m = JSON_LINE_RX.fullmatch(line)
    check(m, f"server line {line!r} is not in the original's JSON format (spec §5.2)", ctx)
    try:
        doc = json.loads(line)
    except ValueError as e:
        raise TestFailure(f"server line {line!r} is not valid JSON: {e}")
    keys = list(doc)
    check(keys[:10] == JSON_KEYS, f"key order {keys[:10]} is not the original's", line)
    for k in ("from_port", "to_port", "count", "targetCount"):
        doc[k] = int(doc[k])
    for k in ("sum", "sumOfSquares", "max"):
        doc[k] = float(doc[k])
    return doc


def json_lines(text, ctx=None):
    """Every complete stdout line of the server that starts with '{', parsed strictly (a
    last line still without its newline is being written: left for the next look)."""
    lines = text.split("\n")[:-1]
    return [parse_json_line(line, ctx) for line in lines if line.startswith("{")]


def by_guid(records):
    out = {}
    for r in records:
        check(r["guid"] not in out, f"GUID {r['guid']} emitted twice", records)
        out[r["guid"]] = r
    return out


def wait_records(proc, n, timeout=15, pred=None):
    """Polls the server's stdout until at least n JSON lines (matching pred) are there."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [r for r in json_lines(proc.stdout, proc) if pred is None or pred(r)]
        if len(recs) >= n:
            return recs
        if not proc.alive():
            raise TestFailure(f"server exited ({proc.p.returncode}) with {len(recs)} of {n} "
                              f"records\nstdout: {proc.stdout[-2000:]}\n"
                              f"stderr: {proc.stderr[-2000:]}")
        if time.monotonic() >= deadline:
            raise TestFailure(f"{len(recs)} of {n} JSON records after {timeout}s\nstdout: "
                              f"{proc.stdout[-3000:]}\nstderr: {proc.stderr[-2000:]}")
        time.sleep(0.05)


# ---- statsd ------------------------------------------------------------------------------

class Listener:
    """A UDP socket on 127.0.0.1 port 0 that collects the datagrams sent to it."""

    def __init__(self, h, host="127.0.0.1"):
        self.s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self.s.bind((host, 0))
        self.port = self.s.getsockname()[1]
        self.datagrams = []
        h.on_cleanup(self.s.close)

    def collect(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.datagrams) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"{len(self.datagrams)} of {n} statsd datagrams after "
                                  f"{timeout}s: {self.datagrams!r}")
            r, _, _ = select.select([self.s], [], [], min(left, 0.1))
            if r:
                self.datagrams.append(self.s.recv(65536).decode("utf-8", "replace"))
        return self.datagrams


# ---- the client's output -----------------------------------------------------------------

STOP_RX = (r"^udping_client: sent (\d+) packets \((\d+) control\) from (\d+) ports? in "
           r"(\d+\.\d{3}) s$")
VERBOSE_RX = re.compile(r"([0-9a-f]{20}):(0|[1-9]\d*):(0|[1-9]\d*) - (0|[1-9]\d*):(0|[1-9]\d*)")


def run_for(proc, seconds):
    """Lets a process run for `seconds` (collecting its output); fails if it exits
    meanwhile. This is a run of a chosen length, not a wait for a condition."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not proc.alive():
            proc.wait(1)
            raise TestFailure(f"{proc.argv[0]} exited early ({proc.p.returncode})\nstdout: "
                              f"{proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
        proc._pump(min(0.05, max(0.0, deadline - time.monotonic())))


def stop_summary(res):
    """The client's stop line on stderr (udping_client(1), Stop summary) as a dict."""
    m = re.search(STOP_RX, res.stderr, re.M)
    check(m, "no 'udping_client: sent N packets (M control) from P ports in T s' line on "
          "stderr", res)
    return {"packets": int(m.group(1)), "control": int(m.group(2)), "ports": int(m.group(3)),
            "seconds": float(m.group(4))}


def client_doc(res):
    """The client's --json document (stdout must be exactly one JSON document)."""
    try:
        doc = json.loads(res.stdout)
    except ValueError as e:
        raise TestFailure(f"the client's stdout is not one JSON document: {e}\n{res!r}")
    check(isinstance(doc, dict), "the client's JSON document is not an object", res)
    return doc


def client_periods(doc, res=None):
    """[(guid, {'port', 'sent', 'first_seq', 'control_sent'})] from the client's --json
    document, in the order of its ports and their GUIDs."""
    out = []
    check(isinstance(doc.get("ports"), list) and doc["ports"], "no ports in the client's "
          "JSON document", res)
    for p in doc["ports"]:
        for g in p["guids"]:
            out.append((g["guid"], {"port": p["port"], "sent": g["data_packets_sent"],
                                    "first_seq": g["first_seq"],
                                    "control_sent": g["control_sent"]}))
    return out


def verbose_lines(text):
    """The server's -v lines: [(guid, client_start, seq, sent_sec, sent_nsec)]."""
    out = []
    for line in text.splitlines():
        m = VERBOSE_RX.fullmatch(line)
        if m:
            out.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)),
                        int(m.group(5))))
    return out


def server_doc(res):
    try:
        doc = json.loads(res.stdout)
    except ValueError as e:
        raise TestFailure(f"the server's stdout is not one JSON document: {e}\n{res!r}")
    check(isinstance(doc, dict), "the server's JSON document is not an object", res)
    return doc


# ---- checks shared by the test files ------------------------------------------------------

EXTRA_KEYS = ["lost", "duplicates", "reordered", "p50", "p90", "p99", "p99_9", "ts_source",
              "negative"]


def check_record(r, ctx=None, same_clock=True):
    """netgrind's keys after the original's ten, every value a quoted string, and figures
    that agree with each other."""
    keys = list(r)
    check(keys[10:] == EXTRA_KEYS, f"keys after the original's are {keys[10:]}, expected "
          f"{EXTRA_KEYS} (udping_server(1), The JSON line)", r, ctx)
    for k in ("lost", "duplicates", "reordered", "negative"):
        check(isinstance(r[k], str) and r[k].lstrip("-").isdigit(), f"{k} value {r[k]!r} is "
              "not a quoted integer", r)
    for k in ("p50", "p90", "p99", "p99_9"):
        check(isinstance(r[k], str) and len(r[k].split(".")[-1]) == 6 and "." in r[k],
              f"{k} value {r[k]!r} is not a quoted number with six decimals", r)
    check(r["ts_source"] in ("kernel", "user"), f"ts_source {r['ts_source']!r}", r)
    if r["targetCount"]:
        check(int(r["lost"]) == r["targetCount"] - r["count"], "lost != targetCount - count",
              r)
    else:
        check(int(r["lost"]) == 0, "lost is not 0 with targetCount 0 (unknown)", r)
    n = r["count"]
    if n == 0:
        for k in ("sum", "sumOfSquares", "max"):
            check(r[k] == 0.0, f"{k} is not 0.000000 in a session with count 0", r)
        return
    p = [float(r[k]) for k in ("p50", "p90", "p99", "p99_9")]
    tol = 0.009 * abs(r["max"]) + 2e-6
    check(all(a <= b + tol for a, b in zip(p, p[1:])) and p[-1] <= r["max"] + tol,
          f"percentiles out of order or above max: {p} max {r['max']}", r)
    mean = r["sum"] / n
    check(mean <= r["max"] + 1e-6, "mean above max", r)
    check(r["sumOfSquares"] >= mean * r["sum"] * (1 - 1e-3) - 1e-5,
          "sumOfSquares below sum^2/count (impossible)", r)
    if same_clock:
        check(int(r["negative"]) == 0 and r["sum"] > 0 and p[0] > 0,
              "negative latency with client and server on one clock", r)


def udp_rx_queue(port):
    """The receive queue (bytes) of the UDP socket bound to port, from /proc/net/udp*."""
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return int(fields[4].split(":")[1], 16)
    return None


def wait_rx_queue_empty(srv, port, timeout=10):
    """Polls until the server has read everything waiting on its socket (so a SIGTERM now
    finds every datagram counted)."""
    deadline = time.monotonic() + timeout
    while udp_rx_queue(port) not in (0, None):
        if time.monotonic() > deadline:
            raise TestFailure(f"the server's receive queue is not empty after {timeout}s")
        time.sleep(0.02)
