"""System-test harness: real netgrind processes over loopback.

A test file defines functions decorated with @test and ends with `run_tests()`. Each test
gets a Harness `h` that starts processes and kills every one of them when the test ends,
whatever happened. Every wait polls for a condition with a deadline; nothing sleeps and
hopes. Servers bind port 0 and the test reads the port they print.

Output, one line per test, read by tests/run.sh:
    PASS <file>::<test>
    FAIL <file>::<test>: <why>
    SKIP <file>::<test>: <why>
Exit status: 0 when nothing failed, 1 otherwise.

Usage: python3 tests/sys/test_x.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import select
import signal
import subprocess
import sys
import time
import traceback

_TESTS = []
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
BIN = os.path.join(BUILD, "bin")
DEFAULT_TIMEOUT = 30.0


class Skip(Exception):
    """Raise to skip a test whose precondition this machine lacks."""


class TestFailure(AssertionError):
    pass


def test(fn):
    _TESTS.append(fn)
    return fn


def tool(name):
    """Path of a tool link under build/bin (seqtest, tcpkali, ...) or of netgrind itself."""
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        raise TestFailure(f"{path} is not built")
    return path


class Proc:
    """A started process whose stdout and stderr are collected as they arrive."""

    def __init__(self, argv, env=None, stdin=subprocess.DEVNULL):
        self.argv = [str(a) for a in argv]
        self.p = subprocess.Popen(self.argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, start_new_session=True)
        self._out = bytearray()
        self._err = bytearray()
        os.set_blocking(self.p.stdout.fileno(), False)
        os.set_blocking(self.p.stderr.fileno(), False)

    @property
    def pid(self):
        return self.p.pid

    def _pump(self, timeout):
        fds = [f for f in (self.p.stdout, self.p.stderr) if not f.closed]
        if not fds:
            time.sleep(min(timeout, 0.01))
            return
        ready, _, _ = select.select(fds, [], [], timeout)
        for f in ready:
            try:
                data = os.read(f.fileno(), 65536)
            except BlockingIOError:
                continue
            if not data:
                f.close()
                continue
            (self._out if f is self.p.stdout else self._err).extend(data)

    @property
    def stdout(self):
        self._pump(0)
        return self._out.decode("utf-8", "replace")

    @property
    def stderr(self):
        self._pump(0)
        return self._err.decode("utf-8", "replace")

    def wait_output(self, pattern, timeout=DEFAULT_TIMEOUT, stream="stdout"):
        """Waits until the regex matches the collected stream; returns the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.stdout if stream == "stdout" else self.stderr
            m = rx.search(text)
            if m:
                return m
            if self.p.poll() is not None:
                self._drain()
                text = self.stdout if stream == "stdout" else self.stderr
                m = rx.search(text)
                if m:
                    return m
                raise TestFailure(f"{self.argv[0]} exited with {self.p.returncode} before "
                                  f"printing /{pattern}/ on {stream}\n"
                                  f"stdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"timed out waiting for /{pattern}/ on {stream} of "
                                  f"{' '.join(self.argv)}\nstdout: {self.stdout[-2000:]}\n"
                                  f"stderr: {self.stderr[-2000:]}")
            self._pump(min(left, 0.05))

    def _drain(self):
        while not (self.p.stdout.closed and self.p.stderr.closed):
            self._pump(0.05)

    def wait(self, timeout=DEFAULT_TIMEOUT):
        """Waits for exit (killing the process at the deadline); returns the exit code,
        negative for death by signal as subprocess reports it."""
        deadline = time.monotonic() + timeout
        while self.p.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise TestFailure(f"{' '.join(self.argv)} did not exit within {timeout}s\n"
                                  f"stdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}")
            self._pump(min(left, 0.05))
        self._drain()
        return self.p.returncode

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def kill(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()
        for f in (self.p.stdout, self.p.stderr):
            if not f.closed:
                f.close()

    def alive(self):
        return self.p.poll() is None


class Result:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr

    def __repr__(self):
        return (f"<{' '.join(self.argv)}: rc={self.rc}\nstdout: {self.stdout[-3000:]}\n"
                f"stderr: {self.stderr[-3000:]}>")


class Harness:
    def __init__(self):
        self.procs = []
        self.cleanups = []

    def spawn(self, argv, env=None, stdin=subprocess.DEVNULL):
        p = Proc(argv, env=env, stdin=stdin)
        self.procs.append(p)
        return p

    def run(self, argv, timeout=DEFAULT_TIMEOUT, env=None):
        """Runs a command to completion (killed at the deadline) and returns a Result."""
        p = self.spawn(argv, env=env)
        rc = p.wait(timeout)
        return Result(p.argv, rc, p.stdout, p.stderr)

    def on_cleanup(self, fn):
        self.cleanups.append(fn)

    def close(self):
        for p in self.procs:
            p.kill()
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:
                traceback.print_exc()


def check(cond, message, *context):
    """Fails the test with message (and the reprs of context) when cond is false."""
    if not cond:
        extra = "\n".join(repr(c) for c in context)
        raise TestFailure(message + ("\n" + extra if extra else ""))


def wait_until(cond, timeout=DEFAULT_TIMEOUT, what="condition", interval=0.02):
    """Polls cond() until it returns a true value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out waiting for {what}")
        time.sleep(interval)


def have_ipv6_loopback():
    import socket
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def _exit_on_sigterm(signo, frame):
    # tests/run.sh times a file out with SIGTERM: unwind so every Harness.close() runs and
    # no started process outlives the test.
    sys.exit(128 + signo)


def run_tests():
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    names = sys.argv[2:]
    base = os.path.basename(sys.argv[0])
    failed = 0
    for fn in _TESTS:
        if names and fn.__name__ not in names:
            continue
        h = Harness()
        label = f"{base}::{fn.__name__}"
        try:
            fn(h)
            print(f"PASS {label}", flush=True)
        except Skip as e:
            print(f"SKIP {label}: {e}", flush=True)
        except SystemExit:  # SIGTERM from the runner: clean up (finally) and stop
            print(f"FAIL {label}: terminated", flush=True)
            raise
        except Exception as e:  # a failed assertion or a harness error: both fail the test
            failed += 1
            detail = str(e) if isinstance(e, TestFailure) else traceback.format_exc()
            print(f"FAIL {label}: {detail}", flush=True)
        finally:
            h.close()
    sys.exit(1 if failed else 0)
