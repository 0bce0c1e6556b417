#!/usr/bin/env python3
"""System tests of flowgrind over loopback with netgrind on both sides (issue 6, spec
flowgrind.md §7, §8, doc/man/flowgrind.1): a netgrind flowgrindd on 127.0.0.1 and the
netgrind controller driving it.

The output in the original's grammar (headline, header pairs with aligned units, S/D rows,
summary lines, §7.1-§7.3) and its figures agreeing with each other: blocks the source wrote
are the blocks the destination read; request/response (-G) transactions; -A's RTT and -I's
delay columns; two flows; two daemons; HOST:PORT and IPv6 test addresses in -H; -Q; -m; -c;
-p; --json against the text of the same run; a daemon of another version; the log
file equal to stdout (bug 6 fixed); flowgrind-stop and SIGINT ending a long flow early; the
error messages of §8.1 (unreachable daemon, busy daemon, bad options); a fault during set-up
leaving no flow behind (bug 37); no stale report of a killed run in the next one (bug 38);
every interval reported up to the flow's end; a second daemon on a taken port. The fixed
output bugs 1 and 2 (min IAT shows the minimum IAT; averages divide by samples, so min <=
avg <= max) are asserted on the table and the summary.

Usage: python3 tests/sys/test_flowgrind.py BUILD_DIR [TEST_NAME...]
(FLOWGRIND_TEST_IMPL=real runs the same tests against Debian's flowgrind 0.8.2, to check
the tests: those of netgrind's fixes then fail; see flowgrind_helpers.program.)
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, have_ipv6_loopback, run_tests, Skip, test  # noqa: E402
from flowgrind_helpers import (  # noqa: E402
    check_headline, controller_argv, DEFAULT_COLUMNS, free_port, ok, os_label,
    parse_output, program, run_controller, spawn_controller, start_daemon, stop_daemon_clean,
    UNITS, wait_idle)

INF = float("inf")
BULK_BLOCK = 8192  # default maximum_block_size (§3.1): every bulk block has this size


def bulk(h, d, extra=(), seconds=1, interval=0.2):
    res = ok(run_controller(h, d, ["-T", f"s={seconds:g}", "-i", f"{interval:g}", *extra]))
    return res, parse_output(res)


def close(a, b, rel, what, *ctx):
    check(abs(a - b) <= rel * max(abs(a), abs(b), 1e-9), f"{what}: {a} vs {b} (more than "
          f"{rel * 100:g} % apart)", *ctx)


def check_stat_order(triple, what, res):
    lo, avg, hi = triple
    check(0 <= lo <= avg <= hi, f"{what} min/avg/max = {triple} is not ordered (the fixed "
          "bugs 1/2: averages divide by samples)", res)


# ---- a bulk flow: every line of the output --------------------------------------------------

@test
def bulk_flow_output_shape(h):
    """-T s=1 -i 0.2: the headline field by field, default columns with their units, about 5
    S and 5 D rows on a 0.2 s grid, and both summary lines in the §7.3 grammar with the
    label, OS, SMSS/PMTU and duration the run implies."""
    d = start_daemon(h)
    res, out = bulk(h, d)
    check_headline(out, 1, 0.2, res=res)
    check(out.headers and all(hd == DEFAULT_COLUMNS for hd in out.headers),
          f"default columns {out.headers[:1]}, expected {DEFAULT_COLUMNS}", res)
    for col in DEFAULT_COLUMNS:
        check(out.units[col] == UNITS[col], f"unit of {col!r} is {out.units[col]!r}", res)
    for kind in "SD":
        rows = out.rows_of(0, kind)
        check(4 <= len(rows) <= 6, f"{len(rows)} {kind} rows for 1 s at 0.2 s", res)
        check(all(r["id"] == 0 for r in rows), "a row of a flow that does not exist", res)
        for k, r in enumerate(rows):
            c = r["cells"]
            check(abs(c["begin"] - 0.2 * k) < 0.06 and 0.1 < c["end"] - c["begin"] < 0.3,
                  f"{kind} row {k} spans {c['begin']}..{c['end']}", res)
            check(c["ca state"] in ("open", "disorder", "cwr", "recover", "loss"),
                  f"ca state {c['ca state']}", res)
            check(c["smss"] > 0 and c["cwnd"] > 0, "no TCP_INFO in a row", res)
            check(c["transac"] == 0, "transactions in a bulk flow", res)
    srows, drows = out.rows_of(0, "S"), out.rows_of(0, "D")
    check(all(r["cells"]["through"] > 10 for r in srows), "a source row below 10 Mbit/s", res)
    check(all(r["cells"]["through"] == 0 for r in drows), "the destination wrote data", res)
    # Fixed bugs 1 and 2: min IAT is the minimum IAT, the average divides by samples.
    for r in drows:
        c = r["cells"]
        check(c["min IAT"] != INF, "D row's min IAT is inf (bug 1: it printed min RTT)", res)
        check_stat_order((c["min IAT"], c["avg IAT"], c["max IAT"]), "D row IAT", res)
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    for x in (s, dd):
        check(x["label"] == d.label(), f"summary names {x['label']}, expected {d.label()}",
              res)
        check(x["os"] == os_label(), f"summary OS ({x['os']}), expected ({os_label()})", res)
        check(x["smss"] and x["pmtu"] == 65535, "SMSS/PMTU of a loopback flow", res)
        check(x["sbuf"][1] == 0 and x["rbuf"][1] == 0 and x["sbuf"][0] > 0, "buffers", res)
        check(x["tunit"] == "Mbit/s", "summary unit", res)
        check(x["responses"] is None and x["rtt"] is None, "responses in a bulk flow", res)
    check(s["seed"] == dd["seed"], "the two endpoints got different seeds", res)
    check(s["duration"] is not None and s["duration"][1] == 1.0 and
          0.95 <= s["duration"][0] <= 1.2, f"source duration {s['duration']}", res)
    check(dd["duration"] is None, "a duration for the destination that does not write", res)
    check(s["through"][1] == 0 and dd["through"][0] == 0, "reverse traffic", res)
    check(s["iat"] is None and dd["iat"] is not None, "IAT belongs to the reader", res)
    check_stat_order(dd["iat"], "D summary IAT", res)
    check_stat_order(dd["delay"], "D summary delay", res)
    stop_daemon_clean(d)


@test
def bulk_flow_blocks_agree(h):
    """What the source wrote is what the destination read: request blocks out of S ==
    request blocks into D, and S's through (out) times its duration is those blocks of
    8192 bytes; D's through (in) matches S's through (out) within rounding."""
    d = start_daemon(h)
    res, out = bulk(h, d)
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    check(s["requests"] is not None and dd["requests"] is not None, "no block counts", res)
    sent, got = s["requests"][0], dd["requests"][1]
    check(sent > 1000, f"only {sent} blocks in 1 s of bulk traffic", res)
    bytes_s = s["through"][0] * 1e6 / 8 * s["duration"][0]
    close(bytes_s, sent * BULK_BLOCK, 0.005, "S through x duration vs blocks x 8192", res)
    close(s["through"][0], dd["through"][1], 0.02, "S out vs D in throughput", res)
    # The rows' blocks add up to at most the total (the last slice may be dropped, §3.1).
    rows_mbit = sum(r["cells"]["through"] * (r["cells"]["end"] - r["cells"]["begin"])
                    for r in out.rows_of(0, "S"))
    check(0.7 * s["through"][0] * s["duration"][0] <= rows_mbit <=
          1.01 * s["through"][0] * s["duration"][0],
          f"S rows carry {rows_mbit:.1f} Mbit of the summary's "
          f"{s['through'][0] * s['duration'][0]:.1f}", res)
    st = wait_idle(d)
    check(st == {"started": 0, "num_flows": 0}, f"daemon not idle after the run: {st}", res)
    check(sent == got, f"source wrote {sent} blocks, destination read {got}", res)


@test
def rows_cover_the_whole_flow(h):
    """Three runs of -T s=1 -i 0.2: each endpoint reports all five intervals, the last
    one ending at the end of the flow (0.8.2 does, every time; the 20 % rule drops only
    a short last slice, §3.1)."""
    d = start_daemon(h)
    for run in range(3):
        res, out = bulk(h, d)
        for kind in "SD":
            rows = out.rows_of(0, kind)
            ends = [r["cells"]["end"] for r in rows]
            check(len(rows) == 5 and ends[-1] >= 0.95, f"run {run}: {kind} rows end at "
                  f"{ends}: the interval report up to the flow's end is missing", res)


@test
def request_response(h):
    """-G s=q:C:350 -G s=p:C:2000: transactions/s > 0, the response blocks D wrote are those
    S read, request blocks agree, the S through (out/in) matches 350- and 2000-byte blocks,
    RTT in S's summary, transac column non-zero."""
    d = start_daemon(h)
    res, out = bulk(h, d, ["-G", "s=q:C:350", "-G", "s=p:C:2000"])
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    check(s["transac"] is not None and s["transac"] > 10, f"transactions/s {s['transac']}",
          res)
    check(s["responses"] and dd["responses"], "no response blocks", res)
    check(dd["requests"][1] - dd["responses"][0] in (0, 1), "D answered "
          f"{dd['responses'][0]} of {dd['requests'][1]} requests", res)
    span = s["duration"][0]
    close(s["through"][0] * 1e6 / 8 * span, s["requests"][0] * 350, 0.01,
          "S bytes out vs requests x 350", res)
    close(s["through"][1] * 1e6 / 8 * span, s["responses"][1] * 2000, 0.01,
          "S bytes in vs responses x 2000", res)
    close(s["transac"], s["responses"][1] / span, 0.01, "transactions/s vs responses/s", res)
    check(s["rtt"] is not None, "no RTT in the requester's summary", res)
    check_stat_order(s["rtt"], "S RTT", res)
    check(any(r["cells"]["transac"] > 0 for r in out.rows_of(0, "S")),
          "no S row with transactions", res)
    # last (the other figures are checked even when these fail): both ends agree
    check(s["requests"][0] == dd["requests"][1], f"S wrote {s['requests'][0]} requests, D "
          f"read {dd['requests'][1]}", res)
    check(s["responses"][1] == dd["responses"][0] > 0, f"S read {s['responses'][1]} "
          f"responses, D wrote {dd['responses'][0]}", res)


@test
def rtt_columns_with_A(h):
    """-A s: the three RTT columns appear before the IAT ones, S rows carry finite,
    ordered RTTs; the summary has RTT and response blocks of 40 bytes."""
    d = start_daemon(h)
    res, out = bulk(h, d, ["-A", "s"])
    hd = out.headers[0]
    check(hd[4:10] == ["min RTT", "avg RTT", "max RTT", "min IAT", "avg IAT", "max IAT"],
          f"columns with -A: {hd}", res)
    srows = [r for r in out.rows_of(0, "S") if r["cells"]["min RTT"] != INF]
    check(srows, "no S row with an RTT", res)
    for r in srows:
        c = r["cells"]
        check_stat_order((c["min RTT"], c["avg RTT"], c["max RTT"]), "S row RTT", res)
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    check(s["rtt"] is not None and s["responses"] and dd["responses"],
          "no RTT or no response blocks in the summary", res)
    check_stat_order(s["rtt"], "S summary RTT", res)
    close(s["through"][1] * 1e6 / 8 * s["duration"][0], s["responses"][1] * 40, 0.02,
          "S bytes in vs responses x 40", res)
    check(s["responses"][1] == dd["responses"][0] > 0, f"S read {s['responses'][1]} "
          f"responses, D wrote {dd['responses'][0]}", res)


@test
def delay_columns_with_I(h):
    """-I: the DLY columns follow IAT; D rows (the reader) carry finite ordered delays."""
    d = start_daemon(h)
    res, out = bulk(h, d, ["-I"])
    hd = out.headers[0]
    check(hd[4:10] == ["min IAT", "avg IAT", "max IAT", "min DLY", "avg DLY", "max DLY"],
          f"columns with -I: {hd}", res)
    drows = out.rows_of(0, "D")
    check(drows and all(r["cells"]["min DLY"] != INF for r in drows), "a D row without "
          "delay", res)
    for r in drows:
        c = r["cells"]
        check_stat_order((c["min DLY"], c["avg DLY"], c["max DLY"]), "D row delay", res)
    check(all(r["cells"]["min DLY"] == INF for r in out.rows_of(0, "S")),
          "a delay at the source, which reads nothing", res)


@test
def two_flows(h):
    """-n 2: rows and both summary pairs for flows 0 and 1, each agreeing on blocks."""
    d = start_daemon(h)
    res, out = bulk(h, d, ["-n", 2])
    check_headline(out, 2, 0.2, res=res)
    check(set(out.summaries) == {(0, "S"), (0, "D"), (1, "S"), (1, "D")},
          f"summaries {sorted(out.summaries)}", res)
    for f in (0, 1):
        check(len(out.rows_of(f, "S")) >= 3 and len(out.rows_of(f, "D")) >= 3,
              f"too few rows of flow {f}", res)
    check(out.summary(0, "S")["seed"] != out.summary(1, "S")["seed"], "both flows got the "
          "same random seed", res)
    # Summary order: flow 0 S, D, then flow 1 S, D, each pair after an empty line.
    idx = [i for i, l in enumerate(out.lines) if l.startswith("# ID ") and ": " in l[:14]]
    kinds = [out.lines[i][5:10] for i in idx]
    check(kinds == ["  0 S", "  0 D", "  1 S", "  1 D"], f"summary order {kinds}", res)
    check(out.lines[idx[0] - 1] == "" and out.lines[idx[2] - 1] == "", "no empty line "
          "before a flow's summary", res)
    for f in (0, 1):
        s, dd = out.summary(f, "S"), out.summary(f, "D")
        check(s["requests"][0] == dd["requests"][1] > 0, f"flow {f}: S wrote "
              f"{s['requests'][0]}, D read {dd['requests'][1]}", res)


@test
def host_port_and_ipv6_test_addresses(h):
    """-H s=127.0.0.1:PORT (HOST:PORT without '/': bug 30 fixed) reaches the daemon, the
    summary naming 127.0.0.1:PORT; -H x=::1/127.0.0.1:PORT runs the test connection over
    IPv6 (label '::1/127.0.0.1:PORT', §3.5) with blocks agreeing."""
    d = start_daemon(h)
    argv = [program("flowgrind"), "-H", f"s=127.0.0.1:{d.port},d=127.0.0.1:{d.port}",
            "-T", "s=0.5", "-i", "0.1"]
    res = ok(h.run(argv, timeout=20))
    out = parse_output(res)
    check(out.summary(0, "S")["label"] == f"127.0.0.1:{d.port}", "HOST:PORT label", res)
    check(out.summary(0, "D")["requests"][1] > 0, "no blocks with HOST:PORT", res)
    if not have_ipv6_loopback():
        raise Skip("no IPv6 loopback (::1) for the test connection")
    argv = [program("flowgrind"), "-H", f"s=::1/127.0.0.1:{d.port},d=::1/127.0.0.1:{d.port}",
            "-T", "s=0.5", "-i", "0.1"]
    res = ok(h.run(argv, timeout=20))
    out = parse_output(res)
    for kind in "SD":
        check(out.summary(0, kind)["label"] == f"::1/127.0.0.1:{d.port}",
              f"{kind} label {out.summary(0, kind)['label']}", res)
    check(out.summary(0, "D")["requests"][1] > 0, "no blocks over IPv6", res)


@test
def two_daemons(h):
    """The source on one daemon, the destination on another (two processes, the data
    connection between them): each summary names its own daemon, blocks agree as far as
    a flow that ends on two timers allows, both daemons end idle."""
    a, b = start_daemon(h), start_daemon(h)
    res = ok(run_controller(h, a, ["-T", "s=1", "-i", "0.2"], dst=b))
    out = parse_output(res)
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    check(s["label"] == a.label() and dd["label"] == b.label(), f"labels {s['label']} / "
          f"{dd['label']}, expected {a.label()} / {b.label()}", res)
    check(len(out.rows_of(0, "S")) >= 4 and len(out.rows_of(0, "D")) >= 4, "rows", res)
    for x in (a, b):
        check(wait_idle(x) == {"started": 0, "num_flows": 0}, f"daemon {x.port} not idle", res)
    check(s["requests"][0] == dd["requests"][1] > 0, f"S wrote {s['requests'][0]} blocks, "
          f"D read {dd['requests'][1]}", res)


class ServedInThread:
    """A socketserver on 127.0.0.1 port 0 (self.server, set by the subclass before start())
    served by a daemon thread until close()."""

    def start(self):
        import threading
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class FakeDaemon(ServedInThread):
    """A Python XML-RPC server on 127.0.0.1 port 0 that answers get_uuid, get_version with
    the given version and get_status as busy: enough for a controller to meet a daemon of
    another version and stop at the busy check."""

    def __init__(self, version):
        from xmlrpc.server import SimpleXMLRPCServer
        self.server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
        self.server.register_function(lambda: {"server_uuid": "fake-uuid-1"}, "get_uuid")
        self.server.register_function(lambda: {"version": version, "api_version": 2,
                                               "os_name": "Linux", "os_release": "fake"},
                                      "get_version")
        self.server.register_function(lambda: {"started": 1, "num_flows": 2}, "get_status")
        self.start()


@test
def version_skew_is_one_warning(h):
    """A daemon answering version 0.7.5 (API 2): one warning naming both versions, without
    0.8.2's 5 s stall (bug 41); the run then stops at the (fake) daemon's busy status."""
    fake = FakeDaemon("0.7.5")
    h.on_cleanup(fake.close)
    hs = f"s=127.0.0.1/127.0.0.1:{fake.port},d=127.0.0.1/127.0.0.1:{fake.port}"
    t0 = time.monotonic()
    res = h.run([program("flowgrind"), "-H", hs, "-T", "s=1"], timeout=20)
    took = time.monotonic() - t0
    url = f"http://127.0.0.1:{fake.port}/RPC2"
    warnings = [l for l in res.stderr.splitlines() if l.startswith("flowgrind: warning:")]
    check(len(warnings) == 1 and url in warnings[0] and "0.7.5" in warnings[0] and
          "0.8.2" in warnings[0], "version warning", res)
    check(took < 3, f"the controller took {took:.1f}s (a stall on the version skew?)", res)
    check(res.rc == 1 and res.stderr.endswith(
        f"flowgrind: error: node {url} is busy. 2 flows, started=1\n"), "busy", res)


PLOT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib",
                           "flowgrind-plot.gp")


def plot(h, log, out, endpoint="S"):
    """Runs contrib/flowgrind-plot.gp on log with gnuplot's text terminal; (Result, text)."""
    res = h.run(["gnuplot", "-e", f"logfile='{log}'", "-e", f"out='{out}'", "-e",
                 f"endpoint='{endpoint}'", "-e", "term='dumb size 100,60'", PLOT_SCRIPT],
                timeout=30)
    text = open(out).read() if os.path.exists(out) else ""
    return res, text


@test
def gnuplot_script_plots_a_log(h):
    """contrib/flowgrind-plot.gp on a real two-flow log: three panels (throughput, RTT,
    cwnd), each with a line per flow of the chosen endpoint; gnuplot fails on a panel without
    a valid point, so a column the script cannot find fails the test. A log without the
    kernel columns (-c) gets those panels empty with a note; a -Q log, which has no table,
    a message and no plot."""
    if not shutil.which("gnuplot"):
        raise Skip("gnuplot is not installed (scripts/deps.sh installs gnuplot-nox)")
    d = start_daemon(h)
    res = ok(run_controller(h, d, ["-n", "2", "-T", "s=1", "-i", "0.2"]))
    tmp = tempfile.mkdtemp(prefix="netgrind-plot-")
    h.on_cleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
    log = os.path.join(tmp, "run.log")
    with open(log, "w") as f:
        f.write(res.stdout)
    for ep in "SD":
        out = os.path.join(tmp, f"plot-{ep}.txt")
        pres, text = plot(h, log, out, ep)
        check(pres.rc == 0 and f"wrote {out}" in pres.stderr, f"gnuplot for {ep}", pres)
        check(f"flowgrind {ep} endpoints: {log}" in text, f"no title in the {ep} plot", pres)
        for flow in (0, 1):
            n = len(re.findall(rf"\b{ep} {flow} [*#]+", text))
            check(n == 3, f"{ep} {flow} in {n} panel legends, expected 3:\n{text}", pres)
        check("cwnd" in text and "time [s]" in text, f"panel labels:\n{text}", pres)
    # -c without kernel columns: the RTT and cwnd panels are empty, with a note each.
    res = ok(run_controller(h, d, ["-c", "interval,through", "-T", "s=0.6", "-i", "0.2"]))
    with open(log, "w") as f:
        f.write(res.stdout)
    out = os.path.join(tmp, "plot-c.txt")
    pres, text = plot(h, log, out)
    check(pres.rc == 0 and "the log has no rtt column" in text and
          "the log has no cwnd column" in text and "no through column" not in text and
          len(re.findall(r"\bS 0 [*#]+", text)) == 1, f"the -c plot:\n{text}", pres)
    res = ok(run_controller(h, d, ["-Q", "-T", "s=0.3"]))
    with open(log, "w") as f:
        f.write(res.stdout)
    out = os.path.join(tmp, "plot-Q.txt")
    pres, text = plot(h, log, out)
    check(f"no S rows in {log} (a run with -Q has no interval table)" in pres.stderr and
          text == "", "the -Q log", pres)


class HostileDaemon(ServedInThread):
    """An HTTP server on 127.0.0.1 port 0 that answers every XML-RPC call with a response
    whose <i8> holds "1,384": xmlrpc-c 1.33's parser dies on that (found by fuzz_fg_rpc)."""

    BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\r\n<methodResponse>\r\n<params>\r\n'
            b'<param><value><struct>\r\n<member><name>server_uuid</name>\r\n'
            b'<value><i8>1,384</i8></value></member>\r\n</struct></value></param>\r\n'
            b'</params>\r\n</methodResponse>\r\n')

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, HTTPServer
        body = self.BODY

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.start()


@test
def hostile_response_is_an_error_not_a_crash(h):
    """A daemon whose response would crash xmlrpc-c (an <i8> of "1,384"): the controller and
    flowgrind-stop refuse the response with a clear error and their documented exit code."""
    fake = HostileDaemon()
    h.on_cleanup(fake.close)
    url = f"http://127.0.0.1:{fake.port}/RPC2"
    hs = f"s=127.0.0.1/127.0.0.1:{fake.port},d=127.0.0.1/127.0.0.1:{fake.port}"
    res = h.run([program("flowgrind"), "-H", hs, "-T", "s=1"], timeout=20)
    check(res.rc == 1, f"controller exit {res.rc}, expected 1", res)
    check("response refused: <i8> value is not a plain 64-bit integer (-503)" in res.stderr
          and res.stderr.startswith("flowgrind: error:"), "controller error", res)
    res = h.run([program("flowgrind-stop"), f"127.0.0.1:{fake.port}"], timeout=20)
    check(res.rc == 1, f"flowgrind-stop exit {res.rc}, expected 1", res)
    check(f"could not stop flows on {url}: response refused: <i8> value is not a plain "
          "64-bit integer (-503)" in res.stderr, "flowgrind-stop warning", res)


@test
def quiet_Q_has_no_table(h):
    """-Q: no header and no row, the headline still says -i, both summaries present."""
    d = start_daemon(h)
    res, out = bulk(h, d, ["-Q"])
    check_headline(out, 1, 0.2, res=res)
    check(not out.headers and not out.rows, "a table with -Q", res)
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    check(s["requests"][0] == dd["requests"][1] > 0, f"-Q: S wrote {s['requests'][0]} "
          f"blocks, D read {dd['requests'][1]}", res)


@test
def mib_units_m(h):
    """-m: headline 2**20 bytes/second, column unit [MiB/s], summary [MiB/s], and the
    source's through x duration x 2**20 is its blocks x 8192."""
    d = start_daemon(h)
    res, out = bulk(h, d, ["-m"])
    check_headline(out, 1, 0.2, mib=True, res=res)
    check(out.units["through"] == "[MiB/s]", f"through unit {out.units['through']}", res)
    s = out.summary(0, "S")
    check(s["tunit"] == "MiB/s" and out.summary(0, "D")["tunit"] == "MiB/s", "summary unit",
          res)
    close(s["through"][0] * 2**20 * s["duration"][0], s["requests"][0] * BULK_BLOCK, 0.005,
          "MiB/s x duration vs blocks x 8192", res)


@test
def column_groups_c(h):
    """-c interval,through,blocks shows exactly those columns; the S rows' requ add up to at
    most the summary's blocks; -c kernel alone; an unknown group is an error."""
    d = start_daemon(h)
    res, out = bulk(h, d, ["-c", "interval,through,blocks"])
    check(out.headers[0] == ["begin", "end", "through", "requ", "resp"],
          f"-c interval,through,blocks gave {out.headers[0]}", res)
    s = out.summary(0, "S")
    requ = sum(r["cells"]["requ"] for r in out.rows_of(0, "S"))
    check(0.7 * s["requests"][0] <= requ <= s["requests"][0], f"S rows add up to {requ} "
          f"blocks of {s['requests'][0]}", res)
    check(all(r["cells"]["resp"] == 0 for r in out.rows), "responses in a bulk flow", res)
    res, out = bulk(h, d, ["-c", "kernel"])
    check(out.headers[0] == DEFAULT_COLUMNS[7:], f"-c kernel gave {out.headers[0]}", res)
    bad = h.run(controller_argv(d, args=["-T", "s=1", "-c", "interval,bogus"]), timeout=10)
    check(bad.rc == 1 and bad.stderr == "flowgrind: error: malformed option '-c'\n"
          "Try 'flowgrind -h' for more information\n", "-c bogus", bad)


@test
def numbers_instead_of_symbols_p(h):
    """Without -p loopback's pmtu prints USHRT_MAX; with -p the same cell is 65535 and no
    symbolic name is left in any row (the original segfaulted, §9 #232)."""
    d = start_daemon(h)
    res, out = bulk(h, d)
    check(out.rows and all("USHRT_MAX" in r["line"] for r in out.rows),
          "no USHRT_MAX without -p", res)
    res, out = bulk(h, d, ["-p"])
    check(out.rows, "no rows with -p", res)
    for r in out.rows:
        check(not re.search(r"INT_MAX|USHRT_MAX|UINT_MAX", r["line"]), "a symbol with -p",
              res)
        check(r["line"].split()[-1] == "65535", f"pmtu cell with -p: {r['line']}", res)


@test
def json_agrees_with_text(h):
    """--json --log-file=F: stdout is one JSON document, F the text of the same run; the
    document's final blocks and bytes agree with the text's summary and with each other,
    it holds one interval per row, and its run settings are those given."""
    d = start_daemon(h)
    tmp = tempfile.mkdtemp(prefix="fg-json-")
    h.on_cleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
    log = os.path.join(tmp, "run.log")
    res = ok(run_controller(h, d, ["-T", "s=1", "-i", "0.2", "-A", "s", "--json",
                                   f"--log-file={log}"]))
    try:
        doc = json.loads(res.stdout)
    except ValueError as e:
        check(False, f"--json stdout is not JSON: {e}", res)
    check(os.path.exists(log), "no log file next to --json", res)
    with open(log) as f:
        out = parse_output(f.read())
    check(doc.get("program") == "flowgrind" and doc.get("config", {}).get("flows") == 1,
          "document head", res)
    check(doc["config"].get("report_interval_s") == 0.2, "report_interval_s", res)
    fl = doc["flows"]
    check(len(fl) == 1 and fl[0]["flow_id"] == 0, "flows", res)
    src, dst = fl[0]["source"]["final"], fl[0]["destination"]["final"]
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    check(src["request_blocks_written"] == s["requests"][0], "JSON S blocks "
          f"{src['request_blocks_written']} vs text {s['requests'][0]}", res)
    check(dst["request_blocks_read"] == dd["requests"][1], "JSON D blocks "
          f"{dst['request_blocks_read']} vs text {dd['requests'][1]}", res)
    check(src["response_blocks_read"] == s["responses"][1], "JSON S responses", res)
    check(src["bytes_written"] == src["request_blocks_written"] * BULK_BLOCK,
          "S bytes != blocks x 8192", res)
    close(src["throughput_written_mbit_per_s"], s["through"][0], 1e-5, "S through", res)
    close(dst["throughput_read_mbit_per_s"], dd["through"][1], 1e-5, "D through", res)
    check(src["rtt_ms"] is not None, "no RTT in the JSON with -A", res)
    check(abs(src["rtt_ms"]["min"] - s["rtt"][0]) <= 0.0006 and
          abs(src["rtt_ms"]["max"] - s["rtt"][2]) <= 0.0006, "JSON RTT min/max "
          f"{src['rtt_ms']} vs text {s['rtt']}", res)
    for side, kind in (("source", "S"), ("destination", "D")):
        n = len(fl[0][side]["intervals"])
        check(n == len(out.rows_of(0, kind)), f"{n} JSON intervals of {side}, "
              f"{len(out.rows_of(0, kind))} {kind} rows", res)
    check(doc.get("interrupted") is False and "error" not in doc, "interrupted/error", res)
    # last: what bulk_flow_blocks_agree checks on the text, here to the byte
    check(src["bytes_written"] == dst["bytes_read"], f"JSON: S wrote {src['bytes_written']} "
          f"bytes, D read {dst['bytes_read']}", res)


@test
def log_file_equals_stdout(h):
    """--log-file=F and -w write exactly what stdout shows (the original garbled its file,
    bug 6); an existing file is refused without -o and replaced with -o."""
    d = start_daemon(h)
    tmp = tempfile.mkdtemp(prefix="fg-log-")
    h.on_cleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
    log = os.path.join(tmp, "a.log")
    res = ok(run_controller(h, d, ["-T", "s=0.5", "-i", "0.1", f"--log-file={log}"]))
    parse_output(res)
    with open(log) as f:
        text = f.read()
    check(text == res.stdout, "log file differs from stdout\n--- file:\n" + text[:1500], res)
    again = h.run(controller_argv(d, args=["-T", "s=0.5", f"--log-file={log}"]), timeout=10)
    check(again.rc == 1 and again.stderr == "flowgrind: error: log file exists\n",
          "second run on an existing log file", again)
    with open(log) as f:
        check(f.read() == text, "the refused run touched the log file", again)
    res = ok(run_controller(h, d, ["-T", "s=0.5", "-i", "0.1", "-o", f"--log-file={log}"]))
    with open(log) as f:
        check(f.read() == res.stdout, "-o: file differs from the new run's stdout", res)
    # -w: flowgrind-<local time>.log in the working directory
    wdir = os.path.join(tmp, "w")
    os.mkdir(wdir)
    r = h.run(["env", "-C", wdir, *controller_argv(d, args=["-T", "s=0.5", "-i", "0.1", "-w"])],
              timeout=20)
    check(r.rc == 0, "-w run", r)
    names = os.listdir(wdir)
    check(len(names) == 1 and re.fullmatch(
        r"flowgrind-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d\.log", names[0]), f"-w wrote {names}")
    with open(os.path.join(wdir, names[0])) as f:
        check(f.read() == r.stdout, "-w file differs from stdout", r)


# ---- ending a flow early -----------------------------------------------------------------------

def first_rows(p, timeout=10):
    p.wait_output(r"^S +0 ", timeout=timeout)
    p.wait_output(r"^D +0 ", timeout=timeout)


@test
def flowgrind_stop_ends_a_long_flow(h):
    """-T s=30 stopped by flowgrind-stop 127.0.0.1:PORT once rows flow: flowgrind-stop says
    which daemon it stops and exits 0, the controller then finishes within seconds with
    both summaries (S duration well under 30 s, blocks agreeing), the daemon is idle."""
    d = start_daemon(h)
    p = spawn_controller(h, d, ["-T", "s=30", "-i", "0.2"])
    first_rows(p)
    t0 = time.monotonic()
    st = h.run([program("flowgrind-stop"), f"127.0.0.1:{d.port}"], timeout=10)
    check(st.rc == 0, "flowgrind-stop failed", st)
    check(st.stdout == f"Stopping all flows on http://127.0.0.1:{d.port}/RPC2\n",
          "flowgrind-stop's line", st)
    rc = p.wait(10)
    took = time.monotonic() - t0
    check(rc == 0, f"controller exit {rc} after flowgrind-stop", p.stdout, p.stderr)
    check(took < 5, f"controller took {took:.1f}s to finish after flowgrind-stop")
    out = parse_output(p.stdout)
    s, dd = out.summary(0, "S"), out.summary(0, "D")
    check(s["duration"][1] == 30.0 and s["duration"][0] < 15, f"S duration {s['duration']}",
          p.stdout)
    # Stopped at once on both ends: blocks in flight are written but never read.
    check(0 < dd["requests"][1] <= s["requests"][0], "blocks after flowgrind-stop: S wrote "
          f"{s['requests'][0]}, D read {dd['requests'][1]}", p.stdout)
    check(wait_idle(d) == {"started": 0, "num_flows": 0}, "daemon not idle")
    stop_daemon_clean(d)


@test
def sigint_stops_gracefully(h):
    """SIGINT to the controller during -T s=30: the warning of §8.1 on stderr, the summary,
    exit status 0, and the daemon left with no flow."""
    d = start_daemon(h)
    p = spawn_controller(h, d, ["-T", "s=30", "-i", "0.2"])
    first_rows(p)
    p.signal(signal.SIGINT)
    rc = p.wait(10)
    check(rc == 0, f"exit {rc} after SIGINT", p.stdout, p.stderr)
    check(re.search(r"^flowgrind: warning: caught SIGINT, trying to gracefully close flows\. "
                    r"Press CTRL\+C again to force termination *$", p.stderr, re.M),
          "no SIGINT warning", p.stderr)
    out = parse_output(p.stdout)
    s = out.summary(0, "S")
    check(s["duration"][0] < 15, f"S duration {s['duration']} after SIGINT", p.stdout)
    check((0, "D") in out.summaries, "no D summary after SIGINT", p.stdout)
    check(wait_idle(d) == {"started": 0, "num_flows": 0}, "daemon holds flows after SIGINT")
    stop_daemon_clean(d, signal.SIGINT)


# ---- errors (§8.1) ------------------------------------------------------------------------------

@test
def unreachable_daemon(h):
    """A control port nobody listens on: the -504 XML-RPC fault line of §8.1, exit 1."""
    port = free_port()
    argv = [program("flowgrind"), "-H", f"s=127.0.0.1/127.0.0.1:{port},"
            f"d=127.0.0.1/127.0.0.1:{port}", "-T", "s=1"]
    res = h.run(argv, timeout=20)
    check(res.rc == 1, "exit status for an unreachable daemon", res)
    check(re.fullmatch(
        r"flowgrind: error: XML-RPC Fault: libcurl failed to execute the HTTP POST "
        rf"transaction, explaining:  Failed to connect to 127\.0\.0\.1 port {port} after \d+ "
        r"ms: Couldn't connect to server \(-504\)\n", res.stderr), "error message", res)
    check(res.stdout == "", "output before the error", res)


@test
def busy_daemon(h):
    """A second controller while a flow runs: 'node URL is busy. 2 flows, started=1', exit
    1, and the running flow is not disturbed (it finishes when stopped, blocks agreeing)."""
    d = start_daemon(h)
    p = spawn_controller(h, d, ["-T", "s=30", "-i", "0.2"])
    first_rows(p)
    res = h.run(controller_argv(d, args=["-T", "s=1"]), timeout=15)
    check(res.rc == 1 and res.stderr ==
          f"flowgrind: error: node {d.url} is busy. 2 flows, started=1\n", "busy", res)
    p.signal(signal.SIGINT)
    check(p.wait(10) == 0, "first controller", p.stdout, p.stderr)
    out = parse_output(p.stdout)
    check(0 < out.summary(0, "D")["requests"][1] <= out.summary(0, "S")["requests"][0],
          "blocks of the first run", p.stdout)


@test
def setup_fault_stops_created_flows(h):
    """add_flow_source fails (-O s=TCP_CONGESTION=nosuchcc) after add_flow_destination
    succeeded: the fault line of §3.2, exit 1, and the destination already created is
    stopped, so the daemon is idle and the next run is not refused as busy (bug 37)."""
    d = start_daemon(h)
    res = h.run(controller_argv(d, args=["-T", "s=1", "-O", "s=TCP_CONGESTION=nosuchcc"]),
                timeout=15)
    check(res.rc == 1 and re.fullmatch(
        r"flowgrind: error: XML-RPC Fault: RPC failed at server\.  Unable to set congestion "
        r"control algorithm: [^\n]+ \(-500\)\n", res.stderr), "fault at set-up", res)
    st = wait_idle(d, timeout=5)
    check(st == {"started": 0, "num_flows": 0}, f"daemon holds flows after the fault: {st}",
          res)
    bulk(h, d, seconds=0.5)
    stop_daemon_clean(d)


@test
def stale_reports_never_show(h):
    """A controller killed (SIGKILL) mid-run leaves a flow whose reports pile up in the
    daemon; flowgrind-stop ends it. The next run prints only its own rows: each endpoint's
    rows start at 0 and follow the 0.2 s grid, about 5 of them, and its summary figures
    are its own 1 s (bug 38: 0.8.2 printed stale reports as garbage rows)."""
    d = start_daemon(h)
    p = spawn_controller(h, d, ["-T", "s=30", "-i", "0.1"])
    first_rows(p)
    p.kill()
    # let reports pile up for a few intervals, polling the daemon meanwhile
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        check(d.status()["num_flows"] == 2, "the killed run's flow is gone too early")
        time.sleep(0.1)
    ok(h.run([program("flowgrind-stop"), f"127.0.0.1:{d.port}"], timeout=10),
       "flowgrind-stop")
    check(wait_idle(d) == {"started": 0, "num_flows": 0}, "daemon not idle after stop")
    res, out = bulk(h, d)
    for kind in "SD":
        rows = out.rows_of(0, kind)
        check(4 <= len(rows) <= 6, f"{len(rows)} {kind} rows in a 1 s run after a killed "
              "one (stale reports shown?)", res)
        for k, r in enumerate(rows):
            check(abs(r["cells"]["begin"] - 0.2 * k) < 0.06, f"{kind} row {k} begins at "
                  f"{r['cells']['begin']} (a stale report?)", res)
    s = out.summary(0, "S")
    check(0.95 <= s["duration"][0] <= 1.2, f"S duration {s['duration']}", res)
    stop_daemon_clean(d)


BAD_OPTIONS = [
    (["-i", "0"], "option -i needs a positive number (in seconds)", True),
    (["-n", "3000"], "option -n (number of flows) must be within [1..2048]", True),
    (["-R", "s=10x"], "flow 0: option -R: illegal unit specifier", True),
    (["-R", "s=10Mq"], "flow 0: option -R: illegal type specifier (either 'b' or 'B')", True),
    (["-O", "s=FOO"], "in flow 0: option -O: unknown socket option or socket option not "
                      "implemented", True),
    (["-F", "1", "-T", "s=1"], "must not specify option for non-existing flow", True),
    (["-H", "q=127.0.0.1"], "Invalid endpoint specifier in Option -H", True),
    (["-G", "s=q:C:0"], "flow 0: option -G: constant distribution needs one positive "
                        "parameters", True),
    (["-T", "s=0"], "server and client flow have both zero runtime for flow 0", False),
]


@test
def bad_options(h):
    """Each bad option of §8.1 gives exactly its message (plus the 'Try' line for parse
    errors), exit 1, nothing on stdout, and no RPC (the port here has no daemon, so an RPC
    would end in a connect error instead)."""
    port = free_port()
    hs = f"s=127.0.0.1/127.0.0.1:{port},d=127.0.0.1/127.0.0.1:{port}"
    for args, msg, try_line in BAD_OPTIONS:
        res = h.run([program("flowgrind"), *args, "-H", hs] if args[0] != "-H"
                    else [program("flowgrind"), *args], timeout=10)
        want = f"flowgrind: error: {msg}\n" + \
            ("Try 'flowgrind -h' for more information\n" if try_line else "")
        check(res.rc == 1 and res.stderr == want and res.stdout == "",
              f"{args}: expected exit 1 and {want!r}", res)


# ---- the daemon -------------------------------------------------------------------------------

@test
def daemon_port_taken(h):
    """A second flowgrindd on the port of a running one fails clearly: 'failed to bind RPC
    listen socket 127.0.0.1:PORT: Address already in use' and exit status 69
    (doc/man/flowgrindd.1), with -d and without -d (it must report before detaching, not
    exit 0 silently as 0.8.2 once did, issue #154); the first daemon keeps serving."""
    d = start_daemon(h)
    msg = rf"failed to bind RPC listen socket 127\.0\.0\.1:{d.port}: Address already in use"
    fg = h.run([d.binary, "-d", "-b", "127.0.0.1", "-p", d.port], timeout=10)
    check(fg.rc == 69 and re.search(msg, fg.stderr), "second daemon with -d on a taken port",
          fg)
    bg_argv = [d.binary, "-b", "127.0.0.1", "-p", str(d.port)]
    h.on_cleanup(lambda: _kill_detached(bg_argv))
    bg = h.run(bg_argv, timeout=10)
    check(bg.rc == 69 and re.search(msg, bg.stderr), "second daemon without -d on a taken "
          "port (must report before detaching)", bg)
    check(d.alive() and d.rpc().get_version()["version"] == "0.8.2", "first daemon died")
    stop_daemon_clean(d)


@test
def flowgrind_stop_errors(h):
    """flowgrind-stop (doc/man/flowgrind-stop.1): no address is a usage error (64); an
    unreachable daemon is a warning naming its URL and exit 1 (0.8.2 exited 0, bug 52),
    while a reachable daemon named with it is still stopped."""
    res = h.run([program("flowgrind-stop")], timeout=10)
    check(res.rc == 64 and res.stderr.startswith("flowgrind-stop: error: "), "no address",
          res)
    d = start_daemon(h)
    p = spawn_controller(h, d, ["-T", "s=30", "-i", "0.2"])
    first_rows(p)
    dead = free_port()
    res = h.run([program("flowgrind-stop"), f"127.0.0.1:{dead}", f"127.0.0.1:{d.port}"],
                timeout=15)
    check(res.rc == 1, "exit status with one unreachable daemon", res)
    check(re.search(rf"^flowgrind-stop: warning: could not stop flows on "
                    rf"http://127\.0\.0\.1:{dead}/RPC2: .+$", res.stderr, re.M),
          "no warning naming the unreachable daemon", res)
    check(res.stdout == f"Stopping all flows on http://127.0.0.1:{dead}/RPC2\n"
          f"Stopping all flows on http://127.0.0.1:{d.port}/RPC2\n", "stdout", res)
    check(p.wait(10) == 0, "controller after flowgrind-stop", p.stdout, p.stderr)
    check(wait_idle(d) == {"started": 0, "num_flows": 0}, "the reachable daemon not stopped")


def _kill_detached(argv):
    """Ends a detached daemon this test started (exact command line), by its pid."""
    want = "\0".join(argv) + "\0"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline") as f:
                if f.read() == want:
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            continue


if __name__ == "__main__":
    run_tests()
