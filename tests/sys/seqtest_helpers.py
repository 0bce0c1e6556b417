"""Shared helpers of the seqtest system tests (test_seqtest*.py): starting a replier on
port 0, running senders, and reading the summary (spec §5.1, doc/man/seqtest.1) strictly.
"""

import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, have_ipv6_loopback, Skip, tool  # noqa: E402
from faultrelay import FaultRelay  # noqa: E402,F401

RUN_TIMEOUT = 30.0
ADDRESS_RX = r"^Address (\d+): Host (\S+) Port (\d+)$"

# The summary, line by line (spec §5.1): two spaces after Average/Stddev/Median/Minimum/
# Maximum, one decimal on every latency.
SUMMARY_LINES = [
    ("replies", r"Received (\d+) replies"),
    ("time_us", r"Time: (\d+\.\d) us"),
    (None, r"ROUND TRIP LATENCY:"),
    ("average", r"Average:  (\d+\.\d) us"),
    ("stddev", r"Stddev:   (\d+\.\d) us"),
    ("median", r"Median:   (\d+\.\d) us"),
    ("p90", r"90\.0%ile: (\d+\.\d) us"),
    ("p99", r"99\.0%ile: (\d+\.\d) us"),
    ("p999", r"99\.9%ile: (\d+\.\d) us"),
    ("min", r"Minimum:  (\d+\.\d) us"),
    ("max", r"Maximum:  (\d+\.\d) us"),
]


def seqtest():
    return tool("seqtest")


def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def need_ipv6():
    if not have_ipv6_loopback():
        raise Skip("no IPv6 loopback (::1) on this machine")


def start_replier(h, host="127.0.0.1", opts=None, extra=()):
    """Starts `seqtest -r` on HOST:0 and returns (proc, port) from its Address line."""
    argv = [seqtest(), "-r"]
    if opts:
        argv += ["-o", opts]
    argv += list(extra) + [hostport(host, 0)]
    p = h.spawn(argv)
    m = p.wait_output(ADDRESS_RX, timeout=10)
    port = int(m.group(3))
    check(port != 0, "the replier reported port 0 instead of the port it bound", p.stdout)
    check(m.group(2) == host, f"replier Address line names {m.group(2)}, not {host}", p.stdout)
    return p, port


def sender_argv(mode, addrs, opts=None, extra=()):
    argv = [seqtest()]
    if mode:
        argv.append(mode)
    if opts:
        argv += ["-o", opts]
    argv += list(extra)
    return argv + (addrs if isinstance(addrs, list) else [addrs])


def run_sender(h, mode, addrs, opts=None, extra=(), timeout=RUN_TIMEOUT):
    return h.run(sender_argv(mode, addrs, opts, extra), timeout=timeout)


VIOLATION_KINDS = ["seqno", "ts1_backwards", "time_travel", "negative_cost", "ts1_mismatch",
                   "echo", "size", "header", "payload", "closed_early", "io_error"]


def parse_violation_block(lines, res):
    """'Violations: N' then the eleven kinds in the man page's order, indented by two spaces;
    returns {kind: n, 'total': N}. The lines must be exactly those."""
    check(len(lines) == 1 + len(VIOLATION_KINDS),
          f"violation block has {len(lines)} lines, expected {1 + len(VIOLATION_KINDS)}", res)
    m = re.fullmatch(r"Violations: (\d+)", lines[0])
    check(m, f"{lines[0]!r} is not 'Violations: N'", res)
    block = {"total": int(m.group(1))}
    for line, kind in zip(lines[1:], VIOLATION_KINDS):
        m = re.fullmatch(r"  " + kind + r": (\d+)", line)
        check(m, f"violation line {line!r} is not '  {kind}: N'", res)
        block[kind] = int(m.group(1))
    check(sum(block[k] for k in VIOLATION_KINDS) == block["total"],
          "the violation total is not the sum of the kinds", res)
    return block


def parse_summary(res, verify=False):
    """Checks that stdout ends with the §5.1 summary, each line exactly, followed by the
    violation block when verify is on (and nothing else); returns its figures (floats,
    replies as int; 'violations' holds the block). Lines before the summary must be Address
    lines."""
    lines = res.stdout.splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith("Received ")]
    check(len(starts) == 1, "expected exactly one 'Received N replies' line", res)
    i = starts[0]
    body = lines[i:i + len(SUMMARY_LINES)]
    check(len(body) == len(SUMMARY_LINES),
          f"summary has {len(body)} lines, expected {len(SUMMARY_LINES)}", res)
    figures = {}
    for line, (key, rx) in zip(body, SUMMARY_LINES):
        m = re.fullmatch(rx, line)
        check(m, f"summary line {line!r} does not match /{rx}/", res)
        if key:
            figures[key] = int(m.group(1)) if key == "replies" else float(m.group(1))
    rest = lines[i + len(SUMMARY_LINES):]
    if verify:
        figures["violations"] = parse_violation_block(rest, res)
    else:
        check(not rest, f"unexpected lines after the summary: {rest[:3]!r}", res)
    for line in lines[:i]:
        check(re.fullmatch(ADDRESS_RX, line), f"unexpected line before the summary: {line!r}",
              res)
    return figures


def parse_replier_summary(text, res):
    """The replier's summary on SIGINT/SIGTERM (man page, Replier summary)."""
    lines = text.splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith("Connections: ")]
    check(len(starts) == 1, "expected one 'Connections:' line from the replier", res)
    i = starts[0]
    m1 = re.fullmatch(r"Connections: (\d+) accepted, (\d+) closed on error", lines[i])
    check(m1, f"{lines[i]!r} is not 'Connections: N accepted, N closed on error'", res)
    m2 = re.fullmatch(r"Messages: (\d+) received, (\d+) replies sent",
                      lines[i + 1] if i + 1 < len(lines) else "")
    check(m2, "no 'Messages: N received, N replies sent' line after Connections:", res)
    out = {"accepted": int(m1.group(1)), "closed_on_error": int(m1.group(2)),
           "received": int(m2.group(1)), "replies": int(m2.group(2))}
    out["violations"] = parse_violation_block(lines[i + 2:], res)
    return out


def stop_replier(rep, timeout=10):
    """SIGTERM, wait for exit 0, return the parsed summary."""
    import signal
    from harness import Result
    rep.signal(signal.SIGTERM)
    rc = rep.wait(timeout)
    res = Result(rep.argv, rc, rep.stdout, rep.stderr)
    check(rc == 0, f"replier exit status {rc} after SIGTERM, expected 0", res)
    return parse_replier_summary(res.stdout, res), res


def check_summary_consistent(fig, res):
    """The figures must be ordered as statistics are: min <= median <= p90 <= ... <= max,
    and the mean lies between min and max."""
    order = ["min", "median", "p90", "p99", "p999", "max"]
    vals = [fig[k] for k in order]
    check(vals == sorted(vals), f"percentiles out of order: {dict(zip(order, vals))}", res)
    check(fig["min"] <= fig["average"] <= fig["max"], "mean outside [min, max]", res)
    check(fig["stddev"] <= fig["max"] - fig["min"] + 0.1, "stddev larger than the range", res)
    check(fig["time_us"] > 0, "elapsed time 0", res)


def summary_ok(res, replies):
    """A run that exited 0 and reports `replies` replies with a well-formed summary."""
    check(res.rc == 0, f"exit status {res.rc}, expected 0", res)
    fig = parse_summary(res)
    check(fig["replies"] == replies, f"Received {fig['replies']} replies, expected {replies}",
          res)
    if replies:
        check_summary_consistent(fig, res)
    return fig


def address_lines(text):
    return [(int(n), host, int(port))
            for n, host, port in re.findall(ADDRESS_RX, text, re.M)]


def percentile(sorted_ns, p):
    """Spec §5.2: x = n*p/100; not an integer -> s[ceil(x)-1], else (s[x-1]+s[x])/2."""
    n = len(sorted_ns)
    num = n * p
    if num % 100:
        return sorted_ns[math.ceil(num / 100) - 1]
    x = num // 100
    if x >= n:
        return sorted_ns[n - 1]
    return (sorted_ns[x - 1] + sorted_ns[x]) / 2


def read_dump(path):
    """A dump file (spec §5.3): '# thread time latency rsz ssz' then 5 integers per line."""
    with open(path) as f:
        lines = f.read().splitlines()
    check(lines and lines[0] == "# thread time latency rsz ssz",
          f"dump header is {lines[:1]!r}", lines[:5])
    rows = []
    for line in lines[1:]:
        check(re.fullmatch(r"\d+ -?\d+ \d+ \d+ \d+", line), f"dump line {line!r} is not five "
              "integers separated by single spaces", lines[:5])
        rows.append(tuple(int(v) for v in line.split(" ")))
    return rows


def private_hosts(h, content):
    """An argv prefix that runs a command in a private mount namespace whose /etc/hosts is
    `content` (the machine's own file is untouched). Skips when unshare is not allowed."""
    import shutil
    import subprocess
    import tempfile
    if not shutil.which("unshare"):
        raise Skip("no unshare(1)")
    fd, path = tempfile.mkstemp(prefix="seqtest-hosts-")
    with os.fdopen(fd, "w") as f:
        f.write(content)
    h.on_cleanup(lambda: os.unlink(path))
    prefix = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', path]
    probe = subprocess.run(prefix + ["true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        raise Skip(f"cannot bind-mount a private /etc/hosts: {probe.stderr.decode()[-200:]}")
    return prefix


def no_network_prefix():
    """An argv prefix that runs a command in a new network namespace (only a down loopback),
    so that a name lookup fails without a packet leaving the machine."""
    import shutil
    import subprocess
    if not shutil.which("unshare"):
        raise Skip("no unshare(1)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode:
        raise Skip("unshare -n not permitted")
    return ["unshare", "-n"]
