"""Helpers of the flowgrind interop tests (test_flowgrind_interop.py) and of
bench/bench_flowgrind.py: the two implementations' programs, the controller's command line
for a source and a destination daemon on loopback control ports, and the controller's
output with its summary figures in the shape both read.

Starting and polling daemons, free ports and the strict parser of the output (headline,
interval table, summary lines: spec §7.1-§7.3) are tests/sys/flowgrind_helpers.py's, so
that every flowgrind test holds the output to the same rules; this module adds only what
concerns running the two implementations side by side.

References: /work/shared/specs/flowgrind.md, issue 6.
"""

import os
import sys

# The benchmark puts only this directory on sys.path; the shared helpers live in tests/sys.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sys"))
import flowgrind_helpers  # noqa: E402
from flowgrind_helpers import REAL  # noqa: E402


class FlowgrindError(AssertionError):
    """A flowgrind run that went wrong; bench/bench_flowgrind.py catches it."""


def real_programs():
    """(controller, daemon) of Debian's flowgrind 0.8.2, or None when it is not installed."""
    progs = REAL["flowgrind"], REAL["flowgrindd"]
    return progs if all(os.access(p, os.X_OK) for p in progs) else None


def netgrind_programs(build):
    """(controller, daemon) of netgrind under BUILD/bin (links to netgrind). Not
    flowgrind_helpers.program(): the benchmark names its build directory itself."""
    b = os.path.join(build, "bin")
    return os.path.join(b, "flowgrind"), os.path.join(b, "flowgrindd")


def daemon_argv(daemon, port):
    """Foreground (-d: no fork, log to stderr), control socket on 127.0.0.1:port: what
    flowgrind_helpers.start_daemon runs, for the benchmark's own process handling."""
    return [daemon, "-d", "-b", "127.0.0.1", "-p", str(port)]


def host_spec(src_port, dst_port):
    """-H value: both test addresses 127.0.0.1, control on the given ports (spec §3.5: a
    non-default control port needs the HOST/CONTROL:PORT form)."""
    return f"s=127.0.0.1/127.0.0.1:{src_port},d=127.0.0.1/127.0.0.1:{dst_port}"


def controller_argv(controller, src_port, dst_port, extra=(), seconds=1, interval=0.2):
    return [controller, "-H", host_spec(src_port, dst_port), "-T", f"s={seconds:g}",
            "-i", f"{interval:g}", *[str(a) for a in extra]]


# ---- output -----------------------------------------------------------------------------------

# The figures of a summary line the interop checks and the benchmark compare across the two
# sides; each a tuple (seed and transactions/s of one number).
FIGURES = ("seed", "sbuf", "rbuf", "duration", "through", "transac", "requests", "responses",
           "rtt", "iat", "delay")


def figures(summary):
    """A flowgrind_helpers.parse_summary dict reduced to the FIGURES the line has: absent
    ones are left out, so `"rtt" in f` says whether the line has an RTT part. 'text' is
    the whole line, for messages; an Error summary stays {'error': message}."""
    if "error" in summary:
        return {"error": summary["error"]}
    f = {k: v if isinstance(v, tuple) else (v,)
         for k in FIGURES if (v := summary[k]) is not None}
    f["text"] = summary["line"]
    return f


class Output(flowgrind_helpers.Output):
    """flowgrind_helpers.Output (every check of the output grammar and layout, collected in
    .problems) with each summary as figures()."""

    def __init__(self, text):
        super().__init__(text)
        self.summaries = {key: figures(s) for key, s in self.summaries.items()}
