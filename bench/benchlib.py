"""A small side-by-side benchmark runner: netgrind and a peer tool, measured in the same run.

A benchmark is two functions, one per side, each doing one complete run (start a server if
it needs one, run the client, parse its output, clean up) and returning a dict of figures
{metric: number}. compare() runs them alternately N times (so a noisy moment of the machine
hits both), prints every run, the medians, and the ratio netgrind/peer for each metric.
Nothing is asserted: benchmarks report, tests assert.

Helpers for writing a side: Proc (a started process whose output is collected, killed with its
process group on cleanup), Session (a with-block that cleans up every Proc started in it),
free_port(), wait_listening(port) and run().

Every server binds loopback only; every run is bounded in time.
"""

import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

RUNS = int(os.environ.get("BENCH_RUNS", "5"))


class BenchError(Exception):
    """A run that could not produce its figures; the message says why."""


class Proc:
    """A started process (in its own process group) whose stdout and stderr are collected."""

    def __init__(self, argv, env=None):
        self.argv = [str(a) for a in argv]
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.out = bytearray()
        self.err = bytearray()
        for f in (self.p.stdout, self.p.stderr):
            os.set_blocking(f.fileno(), False)

    @property
    def pid(self):
        return self.p.pid

    def pump(self, timeout=0.0):
        fds = [f for f in (self.p.stdout, self.p.stderr) if not f.closed]
        if not fds:
            time.sleep(timeout)
            return
        ready, _, _ = select.select(fds, [], [], timeout)
        for f in ready:
            try:
                data = os.read(f.fileno(), 1 << 16)
            except BlockingIOError:
                continue
            if not data:
                f.close()
            else:
                (self.out if f is self.p.stdout else self.err).extend(data)

    def text(self):
        self.pump()
        return self.out.decode("utf-8", "replace")

    def errtext(self):
        self.pump()
        return self.err.decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=10.0):
        """Waits for the regex on stdout; returns the match, or raises BenchError."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text())
            if m:
                return m
            if self.p.poll() is not None:
                self.drain()
                m = rx.search(self.text())
                if m:
                    return m
                raise BenchError(f"{self.argv[0]} exited ({self.p.returncode}) before printing "
                                 f"/{pattern}/: {self.tail()}")
            if time.monotonic() >= deadline:
                raise BenchError(f"no /{pattern}/ from {' '.join(self.argv)} in {timeout}s: "
                                 f"{self.tail()}")
            self.pump(0.05)

    def wait(self, timeout):
        """Waits for exit (killed at the deadline: BenchError); returns the exit status."""
        deadline = time.monotonic() + timeout
        while self.p.poll() is None:
            if time.monotonic() >= deadline:
                self.kill()
                raise BenchError(f"{' '.join(self.argv)} ran over {timeout}s")
            self.pump(0.05)
        self.drain()
        return self.p.returncode

    def drain(self):
        while not (self.p.stdout.closed and self.p.stderr.closed):
            self.pump(0.05)

    def tail(self, n=1500):
        return f"stdout: {self.text()[-n:]!r} stderr: {self.errtext()[-n:]!r}"

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Sends sig and waits up to timeout; then kills the group. Returns the status."""
        if self.p.poll() is None:
            try:
                self.p.send_signal(sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while self.p.poll() is None and time.monotonic() < deadline:
                self.pump(0.05)
        self.kill()
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()
        try:
            self.drain()
        except (OSError, ValueError):
            pass
        for f in (self.p.stdout, self.p.stderr):
            if not f.closed:
                f.close()


class Session:
    """with Session() as s: s.spawn(...) — every process started is killed at the end."""

    def __init__(self):
        self.procs = []

    def spawn(self, argv, env=None):
        p = Proc(argv, env=env)
        self.procs.append(p)
        return p

    def run(self, argv, timeout, env=None):
        """Runs to completion; returns the Proc (rc in .p.returncode). BenchError if rc != 0."""
        p = self.spawn(argv, env=env)
        rc = p.wait(timeout)
        if rc != 0:
            raise BenchError(f"{' '.join(p.argv)} exited with {rc}: {p.tail()}")
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.kill()
        return False


def free_port():
    """A loopback TCP port free right now, for peers that cannot bind port 0 and report it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
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


def wait_listening(port, proc=None, timeout=10.0):
    """Polls /proc/net/tcp until something listens on port (no probe connection is made)."""
    deadline = time.monotonic() + timeout
    while not _listening(port):
        if proc is not None and proc.p.poll() is not None:
            raise BenchError(f"{proc.argv[0]} exited ({proc.p.returncode}) before listening on "
                             f"{port}: {proc.tail()}")
        if time.monotonic() >= deadline:
            raise BenchError(f"nothing listens on port {port} after {timeout}s")
        time.sleep(0.02)


def raise_nofile(need):
    """Raises this process's soft RLIMIT_NOFILE (inherited by what it spawns) to need;
    BenchError when the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard < need:
            raise BenchError(f"need {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def have(program):
    return shutil.which(program) is not None


def _fmt(v):
    if v is None:
        return "-"
    return f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}"


def _row(label, figs, metrics):
    cells = "  ".join(f"{m[1]}={_fmt(figs.get(m[0])):>10} {m[2]}" for m in metrics)
    return f"  {label:<24} {cells}"


def heading(title):
    print(f"\n=== {title} ===", flush=True)


def compare_sides(title, sides, metrics, ratios, runs=RUNS, note=None):
    """Runs each side's function alternately `runs` times and prints each run, the medians and
    the ratios. sides: [(name, fn)], fn one complete run returning {key: number}; a side given
    as None (peer not installed) is left out. metrics: [(key, label, unit[, in_ratio]), ...]
    (in_ratio False: shown, but no ratio). ratios: [(a, b)], each printed as a/b of the
    medians when both sides ran. Returns {side: {key: median}}."""
    heading(title)
    if note:
        print(f"  {note}")
    sides = [(n, f) for n, f in sides if f is not None]
    results = {n: [] for n, _ in sides}
    for i in range(1, runs + 1):
        for name, fn in sides:
            try:
                figs = fn()
            except BenchError as e:
                print(f"  run {i} {name}: failed: {e}", flush=True)
                continue
            results[name].append(figs)
            print(_row(f"run {i} {name}", figs, metrics), flush=True)
    medians = {}
    for name, _ in sides:
        med = {}
        for key, *_ in metrics:
            vals = [r[key] for r in results[name] if r.get(key) is not None]
            med[key] = statistics.median(vals) if vals else None
        medians[name] = med
        print(_row(f"median {name} ({len(results[name])})", med, metrics), flush=True)
    for a, b in ratios:
        if a not in medians or b not in medians:
            continue
        cells = []
        for key, label, _, *flag in metrics:
            if flag and not flag[0]:
                continue
            x, y = medians[a].get(key), medians[b].get(key)
            cells.append(f"{label} {x / y:.2f}" if x is not None and y else f"{label} -")
        print(f"  ratio {a}/{b}: " + ", ".join(cells), flush=True)
    return medians


def compare(title, ng_name, ng_run, peer_name, peer_run, metrics, runs=RUNS, note=None):
    """compare_sides for netgrind against one peer: the ratio netgrind/peer per metric."""
    return compare_sides(title, [(ng_name, ng_run), (peer_name, peer_run)], metrics,
                         [(ng_name, peer_name)], runs, note)


def sockperf_percentile(text, pct):
    """The `percentile PCT = X` figure (usec) from sockperf's output."""
    m = re.search(r"percentile " + re.escape(pct) + r" =\s*([0-9.]+)", text)
    if not m:
        raise BenchError(f"no percentile {pct} in sockperf's output: {text[-800:]!r}")
    return float(m.group(1))


def sockperf_pingpong(msg_size, seconds, extra=()):
    """sockperf's TCP ping-pong on loopback (its own server, `--full-rtt` so the figures are
    whole round trips, not halves): {"p50": us, "p99": us}."""
    with Session() as s:
        port = free_port()
        srv = s.spawn(["sockperf", "sr", "--tcp", "-i", "127.0.0.1", "-p", port])
        wait_listening(port, srv)
        p = s.run(["sockperf", "pp", "--tcp", "-i", "127.0.0.1", "-p", port, "-m", msg_size,
                   *extra, "-t", seconds, "--full-rtt"], timeout=seconds + 60)
        out = p.text() + p.errtext()
        return {"p50": sockperf_percentile(out, "50.000"),
                "p99": sockperf_percentile(out, "99.000")}


def run_benchmarks(title, table):
    """Runs the benchmarks named on the command line after BUILD (all of table's, in its order,
    when none is named) under heading title; an unknown name exits before any runs.
    table: {name: fn}."""
    which = sys.argv[2:] or list(table)
    for name in which:
        if name not in table:
            sys.exit(f"bench: unknown benchmark '{name}' ({', '.join(table)})")
    heading(title)
    for name in which:
        table[name]()


def main_guard(fn):
    """Runs fn() turning SIGTERM and Ctrl-C into a clean exit (with-blocks clean up)."""
    def on_term(signo, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        fn()
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
