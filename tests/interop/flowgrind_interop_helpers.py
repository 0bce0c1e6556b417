"""Helpers of the flowgrind interop tests (test_flowgrind_interop.py) and of
bench/bench_flowgrind.py: the two implementations' programs, starting a daemon on a loopback
control port and waiting until it serves, running a controller against two daemons, and a
strict parser of the controller's output (headline, interval table, summary lines — spec
§7.1-§7.3) plus the daemon's get_status over XML-RPC (spec §3.1).

Written here because tests/sys/flowgrind_helpers.py (helper T's) did not exist yet; nothing
in it depends on the test harness, so the benchmark imports it too.

References: /work/shared/specs/flowgrind.md, issue 6.
"""

import os
import re
import socket
import time
import xmlrpc.client

REAL_CONTROLLER = "/usr/bin/flowgrind"
REAL_DAEMON = "/usr/sbin/flowgrindd"


class FlowgrindError(AssertionError):
    """A daemon that would not serve, or output that does not parse; the message says why."""


def real_programs():
    """(controller, daemon) of Debian's flowgrind 0.8.2, or None when it is not installed."""
    if os.access(REAL_CONTROLLER, os.X_OK) and os.access(REAL_DAEMON, os.X_OK):
        return REAL_CONTROLLER, REAL_DAEMON
    return None


def netgrind_programs(build):
    """(controller, daemon) of netgrind under BUILD/bin (links to netgrind)."""
    b = os.path.join(build, "bin")
    return os.path.join(b, "flowgrind"), os.path.join(b, "flowgrindd")


# ---- ports and daemons ---------------------------------------------------------------------

def free_port():
    """A loopback TCP port free right now. flowgrindd cannot bind port 0 and report it (-p
    needs a number), so the port is picked here; the window for a race is a few ms."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True when a socket listens on TCP port (any address) per /proc/net/tcp{,6}."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            continue
    return False


def daemon_argv(daemon, port):
    """Foreground (-d: no fork, log to stderr), control socket on 127.0.0.1:port."""
    return [daemon, "-d", "-b", "127.0.0.1", "-p", str(port)]


def wait_daemon(proc_alive, port, describe, timeout=10.0):
    """Polls until something listens on port, failing at once if the daemon exited.
    proc_alive() -> bool; describe() -> text for the failure message."""
    deadline = time.monotonic() + timeout
    while not listening(port):
        if not proc_alive():
            raise FlowgrindError(f"the daemon exited before listening on {port}: {describe()}")
        if time.monotonic() >= deadline:
            raise FlowgrindError(f"nothing listens on {port} after {timeout}s: {describe()}")
        time.sleep(0.02)


def rpc(port, timeout=5.0):
    """An XML-RPC client of the daemon on 127.0.0.1:port (python's own implementation: a
    third party to both flowgrind implementations)."""
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2", allow_none=False)


def daemon_status(port):
    """get_status of the daemon on port: {'started': int, 'num_flows': int}."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5.0)
    try:
        return rpc(port).get_status()
    finally:
        socket.setdefaulttimeout(old)


def wait_daemon_idle(port, timeout=10.0):
    """Polls get_status until the daemon holds no flow and is not started; returns the last
    status (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        st = daemon_status(port)
        if st.get("num_flows") == 0 and st.get("started") == 0:
            return st
        if time.monotonic() >= deadline:
            return st
        time.sleep(0.05)


def host_spec(src_port, dst_port):
    """-H value: both test addresses 127.0.0.1, control on the given ports (spec §3.5: a
    non-default control port needs the HOST/CONTROL:PORT form)."""
    return f"s=127.0.0.1/127.0.0.1:{src_port},d=127.0.0.1/127.0.0.1:{dst_port}"


def controller_argv(controller, src_port, dst_port, extra=(), seconds=1, interval=0.2):
    return [controller, "-H", host_spec(src_port, dst_port), "-T", f"s={seconds:g}",
            "-i", f"{interval:g}", *[str(a) for a in extra]]


# ---- output parsing --------------------------------------------------------------------------

HEADLINE_RX = re.compile(
    r"^# Date: (\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d), controlling host = (\S+), number of flows = "
    r"(\d+), reporting interval = ([0-9.]+)s, \[through\] = (10\*\*6 bit/second|2\*\*20 "
    r"bytes/second) \((.+)\)$")
SUMMARY_RX = re.compile(r"^# ID\s+(\d+) ([SD]): (.*)$")
ROW_RX = re.compile(r"^([SD]) *(\d+)(?= )")  # "S  0", "S100" (the id is %3d)
SYMBOLS = {"INT_MAX": 2147483647.0, "USHRT_MAX": 65535.0, "UINT_MAX": 4294967295.0,
           "inf": float("inf")}
CA_STATES = {"open", "disorder", "cwr", "recover", "loss", "unknown"}

# Summary fields (spec §7.3): name -> regex of its value(s).
_NUM = r"(-?[0-9]+(?:\.[0-9]+)?)"
SUMMARY_FIELDS = {
    "seed": r"random seed: ([0-9]+)",
    "sbuf": rf"sbuf = {_NUM}/{_NUM} \[B\] \(real/req\)",
    "rbuf": rf"rbuf = {_NUM}/{_NUM} \[B\] \(real/req\)",
    "duration": rf"duration = {_NUM}/{_NUM} \[s\] \(real/req\)",
    "through": rf"through = {_NUM}/{_NUM} \[(?:Mbit|MiB)/s\] \(out/in\)",
    "transac": rf"transactions/s = {_NUM} \[#\]",
    "requests": rf"request blocks = {_NUM}/{_NUM} \[#\] \(out/in\)",
    "responses": rf"response blocks = {_NUM}/{_NUM} \[#\] \(out/in\)",
    "rtt": rf"RTT = {_NUM}/{_NUM}/{_NUM} \[ms\] \(min/avg/max\)",
    "iat": rf"IAT = {_NUM}/{_NUM}/{_NUM} \[ms\] \(min/avg/max\)",
    "delay": rf"delay = {_NUM}/{_NUM}/{_NUM} \[ms\] \(min/avg/max\)",
}


def parse_summary_line(rest):
    """The figures of one summary line after `# ID   0 S: `: {field: tuple of floats} for the
    fields present, plus 'text' (the whole line) and 'where' (the address part)."""
    figs = {"text": rest, "where": rest.split(" (", 1)[0]}
    for name, rx in SUMMARY_FIELDS.items():
        m = re.search(r"(?:^|, )" + rx + r"(?=,|$)", rest)
        if m:
            figs[name] = tuple(float(g) for g in m.groups())
    return figs


def _cell_value(tok):
    if tok in SYMBOLS:
        return SYMBOLS[tok]
    if tok in CA_STATES:
        return tok
    try:
        return float(tok)
    except ValueError:
        raise FlowgrindError(f"table cell {tok!r} is neither a number nor a known symbol")


def _header_columns(line):
    """[(name, end offset)] of a header line: names are separated by 2+ spaces ("min IAT"
    and "ca state" hold one); every value is right-aligned under its name (spec §7.2)."""
    return [(m.group(0), m.end()) for m in re.finditer(r"\S+(?: \S+)*", line)]


class Output:
    """The parsed stdout of one controller run.

    headline: the HEADLINE_RX match or None; headers: the name header lines' column lists;
    rows: [{'kind': 'S'|'D', 'id': int, 'cells': {column: value}, 'line': text}];
    summaries: {(id, 'S'|'D'): figures (parse_summary_line) or {'error': text}};
    problems: every line that fits nowhere or breaks the table's layout (well-formedness).
    """

    def __init__(self, text):
        self.text = text
        self.headline = None
        self.headers = []
        self.rows = []
        self.summaries = {}
        self.problems = []
        self._parse(text.splitlines())

    def _parse(self, lines):
        cols = None
        expect_units = False
        for n, line in enumerate(lines, 1):
            where = f"line {n}: {line!r}"
            if n == 1:
                self.headline = HEADLINE_RX.match(line)
                if not self.headline:
                    self.problems.append(f"{where}: not the headline (§7.1)")
                continue
            if line == "":
                continue
            m = SUMMARY_RX.match(line)
            if m:
                key = (int(m.group(1)), m.group(2))
                if key in self.summaries:
                    self.problems.append(f"{where}: a second summary line for {key}")
                if m.group(3).startswith("Error:"):
                    self.summaries[key] = {"error": m.group(3)}
                else:
                    self.summaries[key] = parse_summary_line(m.group(3))
                continue
            if line.startswith("# ID "):
                cols = _header_columns(line)
                self.headers.append([c for c, _ in cols])
                expect_units = True
                continue
            if expect_units:
                expect_units = False
                units = _header_columns(line)
                # The unit line: "#" under "# ID", then one unit per column ending where the
                # name ends, except the text column "ca state" whose unit is empty.
                ends = {e for _, e in cols}
                bad = [u for u, e in units[1:] if e not in ends]
                if not line.startswith("#") or bad:
                    self.problems.append(f"{where}: unit line not aligned with the header "
                                         f"(units {bad})")
                continue
            if ROW_RX.match(line):
                self._row(line, cols, where)
                continue
            self.problems.append(f"{where}: unexpected line")

    def _row(self, line, cols, where):
        if cols is None:
            self.problems.append(f"{where}: a table row before any header")
            return
        m = ROW_RX.match(line)
        # "S" or "D" and the id fill the "# ID" column (the id in %3d, ending where "ID"
        # ends); then one cell per column.
        toks = [(t.group(0), t.end()) for t in re.finditer(r"\S+", line[m.end():])]
        toks = [(t, e + m.end()) for t, e in toks]
        if len(toks) != len(cols) - 1:
            self.problems.append(f"{where}: {len(toks)} cells for {len(cols) - 1} columns")
            return
        if m.end() != cols[0][1]:
            self.problems.append(f"{where}: the flow id does not end under '# ID'")
        cells = {}
        for (name, end), (tok, tend) in zip(cols[1:], toks):
            if tend != end:
                self.problems.append(f"{where}: {tok!r} not right-aligned under {name!r}")
            try:
                cells[name] = _cell_value(tok)
            except FlowgrindError as e:
                self.problems.append(f"{where}: {e}")
        if "ca state" in cells and cells["ca state"] not in CA_STATES:
            self.problems.append(f"{where}: ca state {cells['ca state']!r}")
        if isinstance(cells.get("begin"), float) and isinstance(cells.get("end"), float) \
                and not cells["begin"] < cells["end"]:
            self.problems.append(f"{where}: begin {cells['begin']} not before end "
                                 f"{cells['end']}")
        self.rows.append({"kind": m.group(1), "id": int(m.group(2)), "cells": cells,
                          "line": line})

    def rows_of(self, flow, kind):
        return [r for r in self.rows if r["id"] == flow and r["kind"] == kind]


def row_lateness(rows, interval):
    """How late each interval report of one endpoint is: report k should end at
    (k+1)*interval after the endpoint's first begin; returns the list of end - due (s).
    Rows come in the order they arrived, which is the endpoint's report order."""
    return [r["cells"]["end"] - (k + 1) * interval for k, r in enumerate(rows)]
