#!/usr/bin/env python3
"""System tests of seqtest's command-line and setup errors (doc/man/seqtest.1: OPTIONS,
TEST OPTIONS, ADDRESSES, EXIT STATUS): each bad input gives its documented message on
standard error and exit status 1, and no summary.

Usage: python3 tests/sys/test_seqtest_errors.py BUILD_DIR [TEST_NAME...]
"""

import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, test  # noqa: E402
from seqtest_helpers import no_network_prefix, seqtest, start_replier  # noqa: E402


def refused_port(h):
    """A loopback port that refuses connections: bound, never listening, held by the test."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    h.on_cleanup(s.close)
    return s.getsockname()[1]


def fails(h, args, rx, prefix=(), rc=1):
    """Runs seqtest ARGS; expects exit rc, a stderr line matching rx and no summary."""
    res = h.run(list(prefix) + [seqtest()] + args, timeout=15)
    check(res.rc == rc, f"seqtest {' '.join(args)}: exit {res.rc}, expected {rc}", res)
    check(re.search(rx, res.stderr, re.M), f"seqtest {' '.join(args)}: stderr does not match "
          f"/{rx}/", res)
    check("Received" not in res.stdout, "a summary after an error", res)
    return res


@test
def unknown_short_flag(h):
    fails(h, ["-x", "-S", f"127.0.0.1:{refused_port(h)}"],
          r"invalid option -- 'x'|unknown option.*-x")


@test
def unknown_long_flag(h):
    fails(h, ["--bogus", "-S", f"127.0.0.1:{refused_port(h)}"], r"unrecognized option.*--bogus")


@test
def missing_o_argument(h):
    fails(h, ["-S", "-o"], r"option requires an argument -- 'o'")


@test
def sub_option_without_value(h):
    for name in ("count", "ssize", "threads", "dump", "rdelay_max"):
        fails(h, ["-S", "-o", f"{name}", f"127.0.0.1:{refused_port(h)}"],
              rf"^seqtest: no value for {name}$")


@test
def unknown_sub_option(h):
    port = refused_port(h)
    fails(h, ["-S", "-o", "bogus=1", f"127.0.0.1:{port}"], r"^seqtest: bad option bogus=1$")
    fails(h, ["-S", "-o", "count=5,nosuch", f"127.0.0.1:{port}"], r"^seqtest: bad option nosuch$")


@test
def count_zero(h):
    fails(h, ["-S", "-o", "count=0", f"127.0.0.1:{refused_port(h)}"],
          r"count must be at least 1")


@test
def non_numeric_values(h):
    port = refused_port(h)
    for opt in ("count=abc", "count=5x", "count=-3", "count=+3", "count= 3", "threads=two",
                "ssize=1e3", "rdelay=1ms", "rinterval=0x10", "seed=z"):
        name = opt.split("=")[0]
        fails(h, ["-S", "-o", opt, f"127.0.0.1:{port}"], rf"^seqtest: .*\b{name}\b")


@test
def values_out_of_range_name_the_limit(h):
    port = refused_port(h)
    for opt, limit in (("ssize=8001", "8000"), ("rsize=70000", "8000"),
                       ("ssize_max=65576", "8000"), ("rsize_min=9000", "8000"),
                       ("threads=1000001", "1000000"), ("sdelay=4294967296", "4294967295"),
                       ("rdelay_max=99999999999", "4294967295"), ("workers=1025", "1024")):
        name = opt.split("=")[0]
        fails(h, ["-S", "-o", opt, f"127.0.0.1:{port}"], rf"^seqtest: .*\b{name}\b.*{limit}")


@test
def size_max_below_min(h):
    fails(h, ["-S", "-o", "ssize_min=100,ssize_max=50", f"127.0.0.1:{refused_port(h)}"],
          r"^seqtest: .*ssize_m(in|ax)")


@test
def no_address(h):
    for mode in ("-S", "-s", "-r"):
        fails(h, [mode, "-o", "count=1"], r"no address!")


@test
def no_port(h):
    fails(h, ["-S", "127.0.0.1"], r"^seqtest: no port found: 127\.0\.0\.1$")


@test
def unresolvable_host_goes_to_stderr(h):
    # In a fresh network namespace the lookup fails at once and no packet leaves the machine.
    res = fails(h, ["-S", "no-such-host.invalid:5000"],
                r"^seqtest: failed to resolve no-such-host\.invalid:5000: ?.+$",
                prefix=no_network_prefix())
    check("failed to resolve" not in res.stdout, "the resolve error went to stdout", res)


@test
def unopenable_dump_file(h):
    port = refused_port(h)
    fails(h, ["-S", "-o", "dump=/nonexistent-seqtest-dir/d.txt", f"127.0.0.1:{port}"],
          r"^seqtest: open /nonexistent-seqtest-dir/d\.txt: ?No such file or directory$")


@test
def connection_refused(h):
    port = refused_port(h)
    for mode in ("-S", "-s"):
        fails(h, [mode, f"127.0.0.1:{port}"],
              rf"^seqtest: connect to 127\.0\.0\.1:{port}: Connection refused$")


@test
def replier_bind_in_use(h):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    h.on_cleanup(s.close)
    port = s.getsockname()[1]
    fails(h, ["-r", f"127.0.0.1:{port}"],
          rf"^seqtest: bind 127\.0\.0\.1:{port}: Address already in use$")


@test
def local_form_refused_by_the_replier(h):
    fails(h, ["-r", "127.0.0.1,127.0.0.1:0"], r"^seqtest: .*local")


def load_json(res):
    try:
        return json.loads(res.stdout)
    except ValueError as e:
        check(False, f"--json on an error: stdout is not one JSON document: {e}", res)


@test
def json_error_document(h):
    res = h.run([seqtest(), "-S", "--json", "-o", "count=0", f"127.0.0.1:{refused_port(h)}"],
                timeout=15)
    check(res.rc == 1, "exit status", res)
    doc = load_json(res)
    check(doc.get("error") and doc.get("exit_code") == 1 and doc.get("tool") == "seqtest",
          "error document", doc)
    check("count" in doc["error"], "the error names count", doc)


@test
def json_error_document_on_connect_failure(h):
    port = refused_port(h)
    res = h.run([seqtest(), "-s", "--json", f"127.0.0.1:{port}"], timeout=15)
    check(res.rc == 1, "exit status", res)
    doc = load_json(res)
    check(doc["exit_code"] == 1 and "Connection refused" in doc["error"], "error document", doc)


@test
def help_exits_0(h):
    for flag in ("-h", "--help"):
        res = h.run([seqtest(), flag], timeout=15)
        check(res.rc == 0 and re.search(r"seqtest", res.stdout) and "-o" in res.stdout,
              f"seqtest {flag}", res)


@test
def a_sender_error_does_not_disturb_the_replier(h):
    rep, port = start_replier(h)
    fails(h, ["-S", "-o", "ssize=9000", f"127.0.0.1:{port}"], r"ssize")
    check(rep.alive(), "replier died", rep.stderr)
    check(rep.stderr == "", "replier complained about a sender that never connected",
          rep.stderr)


run_tests()
