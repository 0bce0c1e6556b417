#!/usr/bin/env python3
"""Interop acceptance tests of netgrind's flowgrind against Debian's flowgrind 0.8.2 (issue 6,
"Interoperability — the acceptance test"), over loopback:

  reference   the real controller driving two real daemons: no netgrind program takes part,
              so a failure here is a fault of this file's rules (or of the machine), not of
              netgrind. It was written and checked first.
  real_ctl    the real `flowgrind` driving two netgrind `flowgrindd` daemons (source, dest.)
  ng_ctl      netgrind's `flowgrind` driving two real `flowgrindd` daemons
  cross_rn    the real controller; the source is a real daemon, the destination a netgrind
              daemon, so the data connection crosses implementations (real writes, netgrind
              reads and answers)
  cross_nr    the same the other way round (netgrind writes, real reads and answers)

each with seven flows of 1 s at -i 0.2: bulk; request/response (-G s=q:C:350 -G
s=p:C:2000), pipelined as the issue asks, and paced (-G s=g:C:0.001 added) so that the
counts must agree closely; -A s; -I; two flows (-n 2); -Q. The cross cases use the real
controller so that the only netgrind part is one daemon; the controllers are compared in
real_ctl and ng_ctl.

Every run must: exit 0 within a few seconds (the real controller stalls 5 s on a version
mismatch); print nothing on stderr (no "uses version" warning, no fault); print the
headline, and for every flow both summary lines with figures that agree across the two
sides (see agree()) and with themselves (see consistent()); print a well-formed interval
table (every cell right-aligned under its column, begin < end, rows of an endpoint
contiguous from 0, the RTT/DLY columns with -A/-I) — or no table at all with -Q; and leave
both daemons running and idle (get_status over XML-RPC from Python's own client).

Daemons run in the foreground (-d) on 127.0.0.1 with distinct control ports; each test
starts its own two (flowgrind_helpers.start_daemon: until each answers get_version) and
kills them at the end. The output is parsed by tests/sys/flowgrind_helpers.Output, the
sys tests' parser, through flowgrind_interop_helpers.

Usage: python3 tests/interop/test_flowgrind_interop.py BUILD_DIR [TEST_NAME...]
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sys"))
sys.path.insert(0, HERE)
from harness import BUILD, Skip, check, run_tests, test  # noqa: E402
from flowgrind_helpers import start_daemon as start_flowgrindd, wait_idle  # noqa: E402
from flowgrind_interop_helpers import (  # noqa: E402
    Output, controller_argv, netgrind_programs, real_programs)

SECONDS = 1
INTERVAL = 0.2
# A 1-s run takes ~1.1-1.3 s with the real pair; a version mismatch would add 5 s.
RUN_LIMIT = 4.0

# How far the two sides' counts may differ. The two endpoints end on their own timers (spec
# §5.5, bug 47): when the destination's read window closes before the source's last writes
# were read, or the source closes with responses still unread in its receive buffer (the
# close then resets the connection), whatever sits in the socket buffers at that moment is
# counted as written by one side and never as read by the other. So "out == in" does not
# hold even between two real daemons. Measured with the real pair on this machine (the
# reference case, 15 runs of each flow, 1 s):
#   bulk, -n 2, -Q, -I: 0 to ~470 blocks of 8192 B apart (of 50,000-100,000)
#   -A s:   requests 0 to ~570 blocks apart; responses up to ~500 (40 B each)
#   -G q:C:350 p:C:2000 (no gap: both directions flat out): requests 5,600-8,200 blocks
#           apart (up to 11 % of them, 2.9 MB), responses 160-2,400 (up to 4.8 MB)
# Never more read than written, and never more lost than 4.8 MB: what the loopback socket
# buffers held. The rule (agree()): 0 <= out - in, and (out - in) * block size <= IN_FLIGHT,
# twice the largest send buffer the kernel's autotuning may grow to (tcp_wmem[2], 4 MiB
# here, so 8 MiB: 1.75 x the worst seen), and never more than half of what was written.
# A desynchronised stream, a miscounted block or a lost direction fails it.
#   The paced request/response flow (-G s=g:C:0.001 added: one request per ms, so nothing
# queues) has nothing in flight at the end but the last block, as the spec's §7.5 sample
# shows (1994/1994): measured 0 requests and 0 or 1 responses apart, except once 8
# responses when the machine was busy: the real source reads one block per pass of its
# loop, and a stall of ~8 ms left the responses of 8 ms unread at its close. There the
# rule (STRICT_STALL) is one block plus the blocks of a 50-ms stall at 1 per ms.
STRICT_STALL = 0.05


def _in_flight_bytes():
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        return 2 * int(f.read().split()[2])


IN_FLIGHT = _in_flight_bytes()
# The two daemons start their flows when each processes start_flows (spec §3.2, ms apart),
# so each side's duration, and so its rate, differs by up to this fraction (agree_rate).
WINDOW_SKEW = 0.02
# Rounding of printed figures (6 decimals for Mbit/s, 3 for durations) and the bytes of a
# partly written last block, in consistent().
SELF_TOLERANCE = 0.01

# name: (extra options, request block size, response block size or 0, strict agreement)
SCENARIOS = {
    "bulk": ([], 8192, 0, False),
    "reqresp": (["-G", "s=q:C:350", "-G", "s=p:C:2000"], 350, 2000, False),
    "reqresp_paced": (["-G", "s=q:C:350", "-G", "s=p:C:2000", "-G", "s=g:C:0.001"], 350,
                      2000, True),
    "rtt": (["-A", "s"], 8192, 40, False),
    "delay": (["-I"], 8192, 0, False),
    "two_flows": (["-n", "2"], 8192, 0, False),
    "quiet": (["-Q"], 8192, 0, False),
}


def programs(kind):
    if kind == "real":
        progs = real_programs()
        if progs is None:
            raise Skip("Debian's flowgrind 0.8.2 is not installed (/usr/bin/flowgrind, "
                       "/usr/sbin/flowgrindd; make deps)")
        return progs
    return netgrind_programs(BUILD)


def start_daemon(h, daemon):
    """`daemon -d -b 127.0.0.1 -p PORT` on a free port, once it answers get_version."""
    check(os.access(daemon, os.X_OK), f"{daemon} is not built")
    return start_flowgrindd(h, daemon)


def agree(what, out, inn, size, strict, ctx):
    """out blocks written by one side, inn read by the other (see IN_FLIGHT)."""
    check(inn <= out, f"{what}: {inn:.0f} read but only {out:.0f} written", *ctx)
    lost = out - inn
    if strict:
        limit, why = 1 + int(STRICT_STALL * out), "one block and a 50-ms stall's worth"
    else:
        limit, why = min(IN_FLIGHT // size, out // 2), f"{IN_FLIGHT} bytes"
    check(lost <= limit, f"{what}: {out:.0f} written, {inn:.0f} read: {lost:.0f} blocks "
          f"unaccounted for, more than the {limit:.0f} that can be in flight at the close "
          f"({why})", *ctx)


def agree_rate(what, out, inn, seconds, ctx):
    """Throughputs (Mbit/s) of the two sides: the bytes between them may differ by what
    agree() allows, and each divides by its own duration (WINDOW_SKEW)."""
    diff_bytes = abs(out - inn) * seconds / 8e-6
    limit = IN_FLIGHT + WINDOW_SKEW * out * seconds / 8e-6
    check(out > 0 and diff_bytes <= limit, f"{what}: {out} Mbit/s written, {inn} Mbit/s "
          f"read, {diff_bytes:.0f} bytes apart over {seconds} s", *ctx)


def close(a, b, tol=SELF_TOLERANCE, floor=0.01):
    return abs(a - b) <= tol * max(abs(a), abs(b)) + floor


def consistent(flow, s, d, req_size, resp_size, ctx):
    """Each summary line against itself: the throughput is the block count times the block
    size over the duration (S), the transactions/s the responses read over the duration,
    and D's out/in throughput ratio the ratio of its response to request bytes."""
    dur = s["duration"][0]
    check(abs(dur - SECONDS) <= 0.1, f"flow {flow} S: duration {dur}, asked for {SECONDS}",
          *ctx)
    mbit = 8e-6 / dur
    check(close(s["through"][0], s["requests"][0] * req_size * mbit), f"flow {flow} S: "
          f"through out {s['through'][0]} for {s['requests'][0]:.0f} blocks of {req_size} B "
          f"in {dur} s", *ctx)
    if resp_size:
        rin = s["responses"][1]
        check(close(s["through"][1], rin * resp_size * mbit), f"flow {flow} S: through in "
              f"{s['through'][1]} for {rin:.0f} responses of {resp_size} B in {dur} s", *ctx)
        check(close(s["transac"][0], rin / dur, floor=0.5), f"flow {flow} S: transactions/s "
              f"{s['transac'][0]} for {rin:.0f} responses in {dur} s", *ctx)
        want = d["responses"][0] * resp_size / (d["requests"][1] * req_size)
        check(d["through"][1] > 0 and close(d["through"][0] / d["through"][1], want),
              f"flow {flow} D: through out/in {d['through']} against {d['responses'][0]:.0f}"
              f" responses of {resp_size} B for {d['requests'][1]:.0f} requests of "
              f"{req_size} B", *ctx)
    else:
        check(d["through"][0] == 0.0, f"flow {flow} D: through out {d['through'][0]} in a "
              "one-way flow", *ctx)


def check_summaries(out, flows, req_size, resp_size, strict, ctx):
    for flow in range(flows):
        s, d = out.summaries.get((flow, "S")), out.summaries.get((flow, "D"))
        check(s is not None and d is not None, f"flow {flow}: a summary line is missing "
              f"(S {s is not None}, D {d is not None})", *ctx)
        for side, f in (("S", s), ("D", d)):
            check("error" not in f, f"flow {flow} {side}: {f.get('error')}", *ctx)
            for field in ("seed", "through", "requests"):
                check(field in f, f"flow {flow} {side}: no '{field}' figure", *ctx)
        check("duration" in s, f"flow {flow} S: no 'duration' figure", *ctx)
        check(s["seed"] == d["seed"], f"flow {flow}: seed {s['seed']} on S, {d['seed']} on "
              "D (the controller sends one seed to both endpoints)", *ctx)
        check(s["requests"][0] > 0, f"flow {flow}: S wrote no request block", *ctx)
        check(s["requests"][1] == 0 and d["requests"][0] == 0, f"flow {flow}: requests "
              f"S {s['requests']} D {d['requests']} in a flow where only S sends", *ctx)
        agree(f"flow {flow} request blocks S out / D in", s["requests"][0], d["requests"][1],
              req_size, strict, ctx)
        agree_rate(f"flow {flow} through S out / D in", s["through"][0], d["through"][1],
                   s["duration"][0], ctx)
        check("iat" in d and "delay" in d, f"flow {flow} D: read blocks but no IAT or delay "
              "figure", *ctx)
        if resp_size:
            for side, f in (("S", s), ("D", d)):
                check("responses" in f, f"flow {flow} {side}: no response blocks", *ctx)
            check("transac" in s and "rtt" in s, f"flow {flow} S: responses but no "
                  "transactions/s or RTT figure", *ctx)
            agree(f"flow {flow} response blocks D out / S in", d["responses"][0],
                  s["responses"][1], resp_size, strict, ctx)
            agree_rate(f"flow {flow} through D out / S in", d["through"][0],
                       s["through"][1], s["duration"][0], ctx)
        else:
            check("responses" not in s and "responses" not in d and "transac" not in s,
                  f"flow {flow}: response figures in a flow without responses", *ctx)
        consistent(flow, s, d, req_size, resp_size, ctx)


def check_table(out, flows, opts, ctx):
    if "-Q" in opts:
        check(not out.rows and not out.headers, f"{len(out.rows)} table rows and "
              f"{len(out.headers)} header lines with -Q", *ctx)
        return
    check(out.headers, "no table header", *ctx)
    # out.headers leave out "# ID": the parser reports a header that does not start with it.
    for cols in out.headers:
        check(cols[:2] == ["begin", "end"] and "through" in cols,
              f"table header {cols}", *ctx)
        if "-A" in opts:
            check("min RTT" in cols and "max RTT" in cols, f"-A: no RTT columns in {cols}",
                  *ctx)
        if "-I" in opts:
            check("min DLY" in cols and "avg DLY" in cols, f"-I: no DLY columns in {cols}",
                  *ctx)
    # Stale or mis-attributed reports show up as rows of flows that do not exist or with
    # times far outside the run (spec §3.3: "S  1  0.000  1795414278.051" in a 1-flow run).
    for r in out.rows:
        check(r["id"] < flows and r["cells"]["end"] <= SECONDS + 0.5, f"row {r['line']!r} "
              f"does not belong to this {flows}-flow {SECONDS}-s run", *ctx)
    for flow in range(flows):
        s_bytes = 0.0
        for kind in "SD":
            rows = out.rows_of(flow, kind)
            # 5 slices of 0.2 s; the last may be dropped (< 20 % of an interval, or EOF
            # first, spec §5.5), and a stopping source may merge the last two.
            check(len(rows) >= 3, f"flow {flow} {kind}: {len(rows)} table rows for a "
                  f"{SECONDS}-s flow at -i {INTERVAL}", *ctx)
            prev_end = 0.0
            for r in rows:
                c = r["cells"]
                check(abs(c["begin"] - prev_end) <= 0.0015, f"flow {flow} {kind}: row "
                      f"{r['line']!r} does not start where the previous ended "
                      f"({prev_end})", *ctx)
                check(c["end"] - c["begin"] <= 2 * INTERVAL + 0.05, f"flow {flow} {kind}: "
                      f"row {r['line']!r} longer than two intervals", *ctx)
                prev_end = c["end"]
                if kind == "S":
                    s_bytes += c["through"] * (c["end"] - c["begin"]) / 8e-6
        s = out.summaries[(flow, "S")]
        total = s["through"][0] * s["duration"][0] / 8e-6
        check(0.5 * total <= s_bytes <= 1.02 * total, f"flow {flow}: the S rows add up to "
              f"{s_bytes:.0f} bytes, the summary says {total:.0f}", *ctx)


def interop(h, ctl_kind, src_kind, dst_kind, scenario):
    opts, req_size, resp_size, strict = SCENARIOS[scenario]
    controller = programs(ctl_kind)[0]
    src = start_daemon(h, programs(src_kind)[1])
    dst = start_daemon(h, programs(dst_kind)[1])
    argv = controller_argv(controller, src.port, dst.port, opts, SECONDS, INTERVAL)
    t0 = time.monotonic()
    res = h.run(argv, timeout=30)
    took = time.monotonic() - t0
    ctx = (res, f"source daemon ({src_kind}) stderr: {src.proc.stderr[-1500:]}",
           f"destination daemon ({dst_kind}) stderr: {dst.proc.stderr[-1500:]}")
    check(res.rc == 0, f"the {ctl_kind} controller exited with {res.rc}", *ctx)
    check(res.stderr == "", f"the {ctl_kind} controller wrote on stderr: "
          f"{res.stderr[:500]!r}", *ctx)
    check(took < RUN_LIMIT, f"a {SECONDS}-s run took {took:.1f} s", *ctx)
    out = Output(res.stdout)
    flows = 2 if "-n" in opts else 1
    check(out.headline, "no headline", *ctx)
    check(int(out.headline.group(3)) == flows and out.headline.group(4) == f"{INTERVAL:.2f}",
          f"headline {out.headline.group(0)!r}", *ctx)
    check(not out.problems, "malformed output:\n" + "\n".join(out.problems[:10]), *ctx)
    check(sorted(out.summaries) == [(f, k) for f in range(flows) for k in "DS"],
          f"summary lines for {sorted(out.summaries)}", *ctx)
    check_summaries(out, flows, req_size, resp_size, strict, ctx)
    check_table(out, flows, opts, ctx)
    for name, d in (("source", src), ("destination", dst)):
        check(d.alive(), f"the {name} daemon died during the run", *ctx)
        st = wait_idle(d)
        check(st.get("num_flows") == 0 and st.get("started") == 0, f"the {name} daemon "
              f"still holds flows after the run: get_status {st}", *ctx)


COMBINATIONS = {
    "reference": ("real", "real", "real"),
    "real_ctl": ("real", "ng", "ng"),
    "ng_ctl": ("ng", "real", "real"),
    "cross_rn": ("real", "real", "ng"),
    "cross_nr": ("real", "ng", "real"),
}


def _make(combo, scenario):
    kinds = COMBINATIONS[combo]

    def fn(h):
        interop(h, *kinds, scenario)
    fn.__name__ = f"{combo}_{scenario}"
    fn.__doc__ = (f"controller {kinds[0]}, source daemon {kinds[1]}, destination daemon "
                  f"{kinds[2]}: {scenario} {' '.join(SCENARIOS[scenario][0])}")
    return fn


for _combo in COMBINATIONS:
    for _scenario in SCENARIOS:
        test(_make(_combo, _scenario))


if __name__ == "__main__":
    run_tests()
