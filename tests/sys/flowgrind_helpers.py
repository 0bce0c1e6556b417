"""Shared helpers of the flowgrind system tests (tests/sys/test_flowgrind*.py) and of the
interop tests (tests/interop/flowgrind_interop_helpers.py builds on them, so that every
flowgrind test starts daemons and parses output the same way): which programs to run
(netgrind's links under BUILD/bin, or Debian's real flowgrind 0.8.2), starting a flowgrindd
on a loopback control port and waiting until it answers get_version, stopping it, running
the controller against it, an XML-RPC client of the daemon with a timeout, and a strict
parser of the controller's output: the headline (spec §7.1), the interval table with its
column alignment (§7.2) and the summary lines with their grammar (§7.3).

Every function takes the program paths as parameters, so the same code drives netgrind and
the real binaries. FLOWGRIND_TEST_IMPL=real in the environment makes the default programs
the real ones (or some of them: FLOWGRIND_TEST_IMPL=flowgrind=real,flowgrind-stop=real): a
way to check the tests themselves (tests of netgrind's fixes and additions then fail, as
they should against the original) and to try one side before the other exists.

References: /work/shared/specs/flowgrind.md, doc/man/flowgrind.1, doc/man/flowgrindd.1,
issue 6.
"""

import datetime
import http.client
import os
import re
import signal
import socket
import sys
import time
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, Result, TestFailure, tool  # noqa: E402

REAL = {"flowgrind": "/usr/bin/flowgrind", "flowgrindd": "/usr/sbin/flowgrindd",
        "flowgrind-stop": "/usr/bin/flowgrind-stop"}
RUN_TIMEOUT = 30.0
DEFAULT_CONTROL_PORT = 5999


def program(name, impl=None):
    """Path of flowgrind, flowgrindd or flowgrind-stop: netgrind's link under BUILD/bin
    (impl 'netgrind') or Debian's binary (impl 'real'). impl defaults to what
    $FLOWGRIND_TEST_IMPL says: 'real' for all three, or per program, e.g.
    'flowgrind=real,flowgrind-stop=real'; netgrind otherwise."""
    if impl is None:
        env = os.environ.get("FLOWGRIND_TEST_IMPL", "netgrind")
        impl = "netgrind"
        for part in env.split(","):
            k, _, v = part.partition("=")
            if not v and k in ("real", "netgrind"):
                impl = k
            elif k == name and v in ("real", "netgrind"):
                impl = v
                break
    if impl == "real":
        if not os.access(REAL[name], os.X_OK):
            raise TestFailure(f"{REAL[name]} is not installed")
        return REAL[name]
    return tool(name)


def is_real(path):
    return path in REAL.values()


# ---- XML-RPC client ---------------------------------------------------------------------------

class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


def rpc_client(port, host="127.0.0.1", timeout=5.0):
    """Python's own XML-RPC client (a third party to both implementations) of the daemon
    at http://host:port/RPC2; every call gives up after timeout seconds."""
    h = f"[{host}]" if ":" in host else host
    return xmlrpc.client.ServerProxy(f"http://{h}:{port}/RPC2",
                                     transport=_TimeoutTransport(timeout))


# ---- the daemon -------------------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    """A TCP port free on host right now (bound to port 0, then closed)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Daemon:
    """A flowgrindd started by start_daemon: proc (harness Proc), port, host, binary."""

    def __init__(self, proc, port, host, binary):
        self.proc, self.port, self.host, self.binary = proc, port, host, binary

    @property
    def url(self):
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{h}:{self.port}/RPC2"

    def rpc(self, timeout=5.0):
        return rpc_client(self.port, self.host, timeout)

    def hspec(self):
        """HOST/CONTROL:PORT of this daemon for -H (spec §3.5)."""
        return f"{self.host}/{self.host}:{self.port}"

    def label(self):
        """How summary lines name this daemon's endpoint (spec §3.5): HOST[:PORT]."""
        return self.host if self.port == DEFAULT_CONTROL_PORT else f"{self.host}:{self.port}"

    def status(self):
        return self.rpc().get_status()

    def alive(self):
        return self.proc.alive()


def answers(port, host="127.0.0.1", timeout=1.0):
    """get_version of the daemon on port, or None while nothing answers."""
    try:
        return rpc_client(port, host, timeout).get_version()
    except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError):
        return None


def start_daemon(h, binary=None, host="127.0.0.1", extra=(), timeout=10.0, attempts=5):
    """Starts `flowgrindd -d -b HOST -p PORT EXTRA` on a free port and waits until it
    answers get_version; returns a Daemon. The daemon cannot bind port 0 and say which port
    it got, so the port is picked here; when another process took it in between (the
    daemon exits saying the address is in use) the next attempt uses another port."""
    binary = binary or program("flowgrindd")
    last = ""
    for _ in range(attempts):
        port = free_port(host)
        p = h.spawn([binary, "-d", "-b", host, "-p", port, *extra])
        deadline = time.monotonic() + timeout
        while True:
            if not p.alive():
                p.wait(5)
                last = f"exit {p.p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
                break
            v = answers(port, host, 0.5)
            if v is not None and p.alive():
                check(isinstance(v, dict) and "version" in v,
                      f"get_version of the daemon on {port} answered {v!r}")
                return Daemon(p, port, host, binary)
            if time.monotonic() >= deadline:
                p.kill()
                raise TestFailure(f"{binary} on {host}:{port} did not answer get_version "
                                  f"within {timeout}s\nstdout: {p.stdout}\nstderr: {p.stderr}")
            time.sleep(0.02)
        if "in use" not in last:
            raise TestFailure(f"{binary} -d -b {host} -p {port} did not start: {last}")
    raise TestFailure(f"{binary}: no free port after {attempts} attempts: {last}")


def stop_daemon(d, sig=signal.SIGTERM, timeout=10.0):
    """Ends a daemon with a signal; returns its Result (the caller checks the status: the
    spec says SIGINT and SIGTERM exit cleanly)."""
    d.proc.signal(sig)
    rc = d.proc.wait(timeout)
    return Result(d.proc.argv, rc, d.proc.stdout, d.proc.stderr)


SANITIZER_RX = re.compile(r"ERROR: (?:Address|Leak|Thread|Memory)Sanitizer|runtime error:")


def stop_daemon_clean(d, sig=signal.SIGTERM, timeout=10.0):
    """Ends a daemon with a signal and fails the test unless it exits 0 without a sanitizer
    report (so the sanitizer build, tests/run.sh sys-san, checks leaks and memory errors of
    whatever the test did to it)."""
    res = stop_daemon(d, sig, timeout)
    check(res.rc == 0 and not SANITIZER_RX.search(res.stderr),
          f"daemon exit status {res.rc} after signal {sig} (expected 0, no sanitizer report)",
          res)
    return res


def wait_idle(d, timeout=10.0):
    """Polls get_status until the daemon holds no flow and is not started; returns the
    last status (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        st = d.status()
        if st.get("num_flows") == 0 and st.get("started") == 0:
            return st
        if time.monotonic() >= deadline:
            return st
        time.sleep(0.05)


# ---- the controller ---------------------------------------------------------------------------

def hosts(src, dst=None):
    """-H value for a flow from daemon src to daemon dst (the same daemon by default)."""
    dst = dst or src
    return f"s={src.hspec()},d={dst.hspec()}"


def controller_argv(src, dst=None, args=(), binary=None):
    binary = binary or program("flowgrind")
    return [binary, "-H", hosts(src, dst), *[str(a) for a in args]]


def run_controller(h, src, args=(), dst=None, binary=None, timeout=RUN_TIMEOUT, env=None):
    """Runs the controller to completion against src (and dst); returns a Result."""
    return h.run(controller_argv(src, dst, args, binary), timeout=timeout, env=env)


def spawn_controller(h, src, args=(), dst=None, binary=None):
    return h.spawn(controller_argv(src, dst, args, binary))


def ok(res, what="flowgrind"):
    check(res.rc == 0, f"{what}: exit status {res.rc}, expected 0", res)
    return res


# ---- output parsing ---------------------------------------------------------------------------

HEADLINE_RX = re.compile(
    r"# Date: (?P<date>\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d), controlling host = (?P<host>\S+), "
    r"number of flows = (?P<flows>\d+), reporting interval = (?P<interval>\d+\.\d\d)s, "
    r"\[through\] = (?P<unit>10\*\*6 bit/second|2\*\*20 bytes/second) \((?P<version>[^()]+)\)")
# Column names (§7.2) in their order; a header is a subsequence of this list.
ALL_COLUMNS = ["begin", "end", "through", "transac", "requ", "resp", "min RTT", "avg RTT",
               "max RTT", "min IAT", "avg IAT", "max IAT", "min DLY", "avg DLY", "max DLY",
               "cwnd", "ssth", "uack", "sack", "lost", "retr", "tret", "fack", "reor", "bkof",
               "rtt", "rttvar", "rto", "ca state", "smss", "pmtu"]
DEFAULT_COLUMNS = ["begin", "end", "through", "transac", "min IAT", "avg IAT", "max IAT",
                   "cwnd", "ssth", "uack", "sack", "lost", "retr", "tret", "fack", "reor",
                   "bkof", "rtt", "rttvar", "rto", "ca state", "smss", "pmtu"]
UNITS = {"begin": "[s]", "end": "[s]", "through": "[Mbit/s]", "transac": "[#/s]",
         "requ": "[#]", "resp": "[#]", "ca state": "", "smss": "[B]", "pmtu": "[B]",
         "rtt": "[ms]", "rttvar": "[ms]", "rto": "[ms]"}
for _c in ALL_COLUMNS:
    if _c.split()[-1] in ("RTT", "IAT", "DLY"):
        UNITS[_c] = "[ms]"
    UNITS.setdefault(_c, "[#]")
SYMBOLS = {"INT_MAX": 2147483647.0, "USHRT_MAX": 65535.0, "UINT_MAX": 4294967295.0,
           "inf": float("inf")}
CA_STATES = {"open", "disorder", "cwr", "recover", "loss", "unknown"}
ROW_RX = re.compile(r"([SD])( *\d+)(?= |$)")

_F = r"(-?\d+\.\d+)"
_I = r"(\d+)"
# One summary line (§7.3): every optional part in the order the spec gives; fullmatch.
SUMMARY_RX = re.compile(
    r"# ID (?P<id>[ \d]{3}\d*) (?P<kind>[SD]): (?P<label>\S+) \((?P<os>[^()]*)\), "
    r"random seed: (?P<seed>\d+), "
    rf"sbuf = {_I}/{_I} \[B\] \(real/req\), rbuf = {_I}/{_I} \[B\] \(real/req\), "
    r"(?:SMSS = (?P<smss>\d+) \[B\], )?(?:PMTU = (?P<pmtu>\d+) \[B\], )?"
    r"(?:Interface MTU = (?P<imtu>\d+) \((?P<topology>[^()]*)\) \[B\], )?"
    r"(?:CC = (?P<cc>[^,]+), )?"
    rf"(?:duration = {_F}/{_F} \[s\] \(real/req\), )?"
    rf"(?:write delay = (?P<wdelay>{_F[1:-1]}) \[s\], )?"
    rf"(?:read delay = (?P<rdelay>{_F[1:-1]}) \[s\], )?"
    rf"through = {_F}/{_F} \[(?P<tunit>Mbit/s|MiB/s)\] \(out/in\)"
    rf"(?:, transactions/s = (?P<transac>{_F[1:-1]}) \[#\])?"
    rf"(?:, request blocks = {_I}/{_I} \[#\] \(out/in\))?"
    rf"(?:, response blocks = {_I}/{_I} \[#\] \(out/in\))?"
    rf"(?:, RTT = {_F}/{_F}/{_F} \[ms\] \(min/avg/max\))?"
    rf"(?:, IAT = {_F}/{_F}/{_F} \[ms\] \(min/avg/max\))?"
    rf"(?:, delay = {_F}/{_F}/{_F} \[ms\] \(min/avg/max\))?"
    r"(?:, rate = (?P<rate>[^,]+))?"
    r"(?P<flags>(?:, (?:ELCN|TCP_CORK|PUSHY|TCP_NODELAY|TCP_MTCP|dscp = 0x[0-9a-f]{2}"
    r"|late connecting|calling shutdown))*)")
SUMMARY_ERROR_RX = re.compile(r"# ID (?P<id>[ \d]{3}\d*) (?P<kind>[SD]): Error: (?P<msg>.*)")
# Positions of the unnamed groups, in order: sbuf real/req, rbuf real/req, duration
# real/req, through out/in, request blocks out/in, response blocks out/in, RTT, IAT, delay.
_PAIRS = [("sbuf", 2, int), ("rbuf", 2, int), ("duration", 2, float), ("through", 2, float),
          ("requests", 2, int), ("responses", 2, int), ("rtt", 3, float), ("iat", 3, float),
          ("delay", 3, float)]


def parse_summary(line):
    """The figures of one summary line as a dict (None when it does not fit the grammar):
    id, kind, label, os, seed, smss, pmtu, imtu, topology, cc, wdelay, rdelay, tunit, transac,
    rate, flags (list) and the tuples sbuf, rbuf, duration, through, requests, responses,
    rtt, iat, delay (None when absent)."""
    m = SUMMARY_RX.fullmatch(line)
    if not m:
        return None
    d = {k: v for k, v in m.groupdict().items()}
    d["id"] = int(d["id"])
    for k in ("seed", "smss", "pmtu", "imtu"):
        d[k] = int(d[k]) if d[k] is not None else None
    for k in ("wdelay", "rdelay", "transac"):
        d[k] = float(d[k]) if d[k] is not None else None
    d["flags"] = [f for f in d["flags"].split(", ") if f]
    # the unnamed groups, in order
    named = set(m.re.groupindex.values())
    unnamed = [m.group(i) for i in range(1, m.re.groups + 1) if i not in named]
    k = 0
    for name, n, conv in _PAIRS:
        vals = unnamed[k:k + n]
        k += n
        d[name] = tuple(conv(v) for v in vals) if vals[0] is not None else None
    d["line"] = line
    return d


def _cell(name, tok):
    """The value of one table cell (§7.2): a state name under 'ca state' and nowhere else,
    elsewhere a number or one of the symbols that stand for unset values; ValueError when
    it is neither, so that a shifted row cannot pass a name off as a number or back."""
    if name == "ca state":
        if tok not in CA_STATES:
            raise ValueError(f"no congestion-avoidance state: {tok!r}")
        return tok
    return SYMBOLS[tok] if tok in SYMBOLS else float(tok)


def _spans(line, rx=r"\S+(?: \S+)*"):
    """[(text, end offset)] of the runs of a line. The default keeps single spaces inside,
    for header names ("min IAT", "ca state"), which are separated by two or more."""
    return [(m.group(0), m.end()) for m in re.finditer(rx, line)]


class Output:
    """The parsed stdout (or log file) of one controller run, strictly:
    headline: HEADLINE_RX match (None if the first line is not one);
    headers: [[column names]] for every pair of header lines; units: {column: unit} of the
    last header; rows: [{'kind','id','cells':{column: value},'line'}]; summaries:
    {(id, kind): parse_summary dict, or {'error': msg}}; problems: every line that fits no
    grammar or breaks the layout (a test asserts this is empty)."""

    def __init__(self, text):
        self.text = text
        self.lines = text.splitlines()
        self.headline = None
        self.headers, self.rows, self.problems = [], [], []
        self.units = {}
        self.summaries = {}
        self._parse()

    def _parse(self):
        cols = None
        i = 0
        lines = self.lines
        if not lines:
            self.problems.append("no output")
            return
        self.headline = HEADLINE_RX.fullmatch(lines[0])
        if not self.headline:
            self.problems.append(f"line 1 is not the headline: {lines[0]!r}")
        i = 1
        while i < len(lines):
            line = lines[i]
            where = f"line {i + 1}: {line!r}"
            i += 1
            if line == "":
                continue
            if line.startswith("# ID ") and ": " in line[:14]:
                s = parse_summary(line)
                if s is None:
                    e = SUMMARY_ERROR_RX.fullmatch(line)
                    if e:
                        s = {"id": int(e["id"]), "kind": e["kind"], "error": e["msg"],
                             "line": line}
                if s is None:
                    self.problems.append(f"{where}: a summary line out of grammar (§7.3)")
                    continue
                key = (s["id"], s["kind"])
                if key in self.summaries:
                    self.problems.append(f"{where}: second summary for {key}")
                self.summaries[key] = s
                continue
            if line.startswith("# ID "):
                cols = self._header(line, lines[i] if i < len(lines) else "", where)
                i += 1
                continue
            m = ROW_RX.match(line)
            if m:
                self._row(line, m, cols, where)
                continue
            self.problems.append(f"{where}: fits no line of the output grammar")

    def _header(self, line, units_line, where):
        """[(name, end column)] of a header; checks names, order and the unit line."""
        cols = _spans(line)
        if not cols or cols[0][0] != "# ID":
            self.problems.append(f"{where}: header does not start with '# ID'")
            return None
        names = [c for c, _ in cols[1:]]
        self.headers.append(names)
        pos = [ALL_COLUMNS.index(n) if n in ALL_COLUMNS else -1 for n in names]
        if -1 in pos or pos != sorted(pos):
            self.problems.append(f"{where}: unknown or misordered columns {names}")
        self._units(cols, units_line, where)
        return cols

    def _units(self, cols, units_line, where):
        """The unit line under a header: '#' under '# ID', then each unit right-aligned where
        its column's name ends ('ca state' has none). Both ways round: no unit crosses the
        end of its column, and every unit ends at the end of some column (one shifted left
        inside its slot would pass the first test alone)."""
        if not units_line.startswith("#   "):
            self.problems.append(f"{where}: no unit line after the header: {units_line!r}")
        prev = cols[0][1]
        for name, end in cols[1:]:
            self.units[name] = units_line[prev:end].strip()
            if len(units_line) > end and units_line[end] != " ":
                self.problems.append(f"{where}: unit of {name!r} not right-aligned")
            prev = end
        ends = {end for _, end in cols}
        stray = [u for u, end in _spans(units_line, r"\S+")[1:] if end not in ends]
        if stray:
            self.problems.append(f"{where}: units {stray} end under no column name")

    def _row(self, line, m, cols, where):
        if cols is None:
            self.problems.append(f"{where}: a row before any header")
            return
        if m.end() != cols[0][1]:
            self.problems.append(f"{where}: the flow id does not end under '# ID'")
        toks = [(t.group(0), t.end()) for t in re.finditer(r"\S+", line[m.end():])]
        if len(toks) != len(cols) - 1:
            self.problems.append(f"{where}: {len(toks)} cells for {len(cols) - 1} columns")
            return
        cells = {}
        for (name, end), (tok, tend) in zip(cols[1:], toks):
            if tend + m.end() != end:
                self.problems.append(f"{where}: {tok!r} not right-aligned under {name!r}")
            try:
                cells[name] = _cell(name, tok)
            except ValueError:
                self.problems.append(f"{where}: cell {tok!r} does not fit column {name!r}")
                return
        # An interval ends after it begins (a report with begin >= end is stale or
        # mis-attributed, spec §3.3); "<" fails on nan as well.
        if "begin" in cells and "end" in cells and not cells["begin"] < cells["end"]:
            self.problems.append(f"{where}: begin {cells['begin']} not before end "
                                 f"{cells['end']}")
        self.rows.append({"kind": m.group(1), "id": int(m.group(2)), "cells": cells,
                          "line": line})

    def rows_of(self, flow, kind):
        return [r for r in self.rows if r["id"] == flow and r["kind"] == kind]

    def summary(self, flow, kind):
        s = self.summaries.get((flow, kind))
        if s is None:
            raise TestFailure(f"no summary line for flow {flow} {kind}\n{self.text[-3000:]}")
        if "error" in s:
            raise TestFailure(f"summary of flow {flow} {kind}: Error: {s['error']}")
        return s


def parse_output(res, strict=True):
    """Output of a Result's stdout; with strict, fails the test on any problem."""
    out = Output(res.stdout if isinstance(res, Result) else res)
    if strict:
        check(not out.problems, "controller output out of grammar:\n" +
              "\n".join(out.problems[:10]), res)
    return out


def check_headline(out, flows, interval, mib=False, res=None):
    """The headline's every field (§7.1): date close to now, this host's name, the flow
    count, the interval in %.2f, the unit, version 0.8.2."""
    hl = out.headline
    check(hl is not None, "no headline", res or out.text)
    when = datetime.datetime.strptime(hl["date"], "%Y-%m-%d-%H:%M:%S")
    age = abs((datetime.datetime.now() - when).total_seconds())
    check(age < 120, f"headline date {hl['date']} is {age:.0f}s from now", res)
    check(hl["host"] == os.uname().nodename, f"controlling host {hl['host']!r}, expected "
          f"{os.uname().nodename!r}", res)
    check(int(hl["flows"]) == flows, f"number of flows = {hl['flows']}, expected {flows}", res)
    check(hl["interval"] == f"{interval:.2f}", f"reporting interval = {hl['interval']}s, "
          f"expected {interval:.2f}", res)
    unit = "2**20 bytes/second" if mib else "10**6 bit/second"
    check(hl["unit"] == unit, f"unit {hl['unit']!r}, expected {unit!r}", res)
    check(hl["version"] == "0.8.2", f"version ({hl['version']}), expected (0.8.2)", res)


def os_label():
    u = os.uname()
    return f"{u.sysname} {u.release}"
