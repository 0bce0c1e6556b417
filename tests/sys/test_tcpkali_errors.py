#!/usr/bin/env python3
"""System tests of tcpkali's command-line and setup errors (doc/man/tcpkali.1, spec
tcpkali.md §1, §2 and §3.4): each bad option gives the documented message and exit status
and no summary; every unit suffix, accepted (seen in the --json config echo) and rejected;
the feasibility check; the system-limit checks (open files, ephemeral ports: 70); missing
files (65); names that do not resolve (68); a port already taken (69); --help, -h and
--version.

Usage: python3 tests/sys/test_tcpkali_errors.py BUILD_DIR [TEST_NAME...]
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, Skip, test, TestFailure  # noqa: E402
from tcpkali_helpers import client, tcpkali  # noqa: E402
from tcpkali_peers import refused_port  # noqa: E402

EX_USAGE = 64
HELP_RC = 0  # doc/man/tcpkali.1: --help and -h exit 0 (the original: 64, spec bug 13)


def fails(h, args, lines, rc=EX_USAGE, stream="stderr", prefix=()):
    """Runs tcpkali ARGS; expects exit rc, each regex of `lines` to match a whole line of
    the stream, and no summary."""
    res = h.run(list(prefix) + [tcpkali()] + [str(a) for a in args], timeout=15)
    what = "tcpkali " + " ".join(str(a) for a in args)
    check(res.rc == rc, f"{what}: exit {res.rc}, expected {rc}", res)
    text = res.stderr if stream == "stderr" else res.stdout
    for rx in ([lines] if isinstance(lines, str) else lines):
        check(re.search("^" + rx + "$", text, re.M), f"{what}: no line /{rx}/ on {stream}",
              res)
    check("Total data sent" not in res.stdout, f"{what}: a summary after an error", res)
    return res


def lit(s):
    return re.escape(s)


def dest(h):
    return f"127.0.0.1:{refused_port(h)}"


# ---- option values: the §1 table --------------------------------------------------------------

# (args before the destination, the exact message lines)
VALUE_ERRORS = [
    (["-c", "-1"], ["Expecting --connections > 0"]),
    (["-c", "abc"], ["Expecting --connections > 0"]),
    (["-c", "10x"], [lit('Unknown prefix "x" in 10x'), "Expecting --connections > 0"]),
    (["-c", "5M"], [lit('Unknown prefix "M" in 5M'), "Expecting --connections > 0"]),
    (["--connect-rate", "0"], [lit("Expected positive --connect-rate=0")]),
    (["--connect-rate", "-5"], [lit("Expected positive --connect-rate=-5")]),
    (["--connect-rate", "5K"], [lit('Unknown prefix "K" in 5K'),
                                lit("Expected positive --connect-rate=5K")]),
    (["--connect-timeout", "0"], [lit("Expected positive --connect-timeout=0")]),
    (["--connect-timeout", "1x"], [lit('Unknown prefix "x" in 1x'),
                                   lit("Expected positive --connect-timeout=1x")]),
    (["--channel-lifetime", "-1"], [lit("Expected non-negative --channel-lifetime=-1")]),
    (["--channel-bandwidth-upstream", "0"], ["Expecting --channel-bandwidth-upstream > 0"]),
    (["--channel-bandwidth-upstream", "10xbps"],
     [lit('Unknown prefix "xbps" in 10xbps'), "Expecting --channel-bandwidth-upstream > 0"]),
    (["--channel-bandwidth-upstream", "10MBPS"],
     [lit('Unknown prefix "MBPS" in 10MBPS'), "Expecting --channel-bandwidth-upstream > 0"]),
    (["--channel-bandwidth-downstream", "-1"], ["Expecting --channel-bandwidth-downstream > 0"]),
    (["-T", "0"], [lit("Expected positive --duration=0")]),
    (["-T", "5q"], [lit('Unknown prefix "q" in 5q'), lit("Expected positive --duration=5q")]),
    (["-T", "5S"], [lit('Unknown prefix "S" in 5S'), lit("Expected positive --duration=5S")]),
    (["-r", "0", "-m", "x"], ["Expecting --message-rate > 0"]),
    (["-r", "1z", "-m", "x"], [lit('Unknown prefix "z" in 1z'), "Expecting --message-rate > 0"]),
    (["--nagle", "maybe"], [lit('Expecting --nagle "on" or "off"')]),
    (["--write-combine", "maybe"], [lit("Expecting --write-combine off")]),
    (["--rcvbuf", "0"], [lit("Expecting --rcvbuf > 0")]),
    (["--sndbuf", "0"], [lit("Expecting --sndbuf > 0")]),
    (["--rcvbuf", "4x"], [lit('Unknown prefix "x" in 4x'), lit("Expecting --rcvbuf > 0")]),
    (["--verbose", "5"], [lit("Expecting --verbose=[0..3]")]),
    (["-w", "-1"], [lit("Expected --workers <N> (-w <N>), or --websocket (--ws)")]),
    (["-ws"], [lit("Expected -w <N> (--workers) or --ws (--websocket), but not -ws.")]),
    (["--listen-mode", "loud"], [lit("--listen-mode=loud is not one of {silent|active|echo}")]),
    (["--message-stop", ""], [lit("--message-stop: Non-empty message expected")]),
    (["--latency-marker", "", "-m", "x"], [lit("--latency-marker: Non-empty marker expected")]),
    (["--message-marker", "--latency-marker", "x", "-m", "x"],
     [lit("--latency-marker: --message-marker is already specified, use one or the other")]),
    (["--latency-marker", "x", "--message-marker", "-m", "x"],
     [lit("--message-marker: --latency-marker is already specified, use one or the other")]),
    (["--latency-percentiles", "95,abc"],
     [lit("--latency-percentiles: 95,abc: Failed to parse: bad number")]),
    (["--latency-percentiles", "101"],
     [lit("--latency-percentiles: 101: Failed to parse: bad latency percentile "
          "specification, expected range is [0..100]")]),
    (["--latency-percentiles", "95;99"],
     [lit("--latency-percentiles: 95;99: Failed to parse: invalid separator, use ',' or '/'")]),
    (["--latency-percentiles", "99."],
     [lit("--latency-percentiles: 99.: Failed to parse: Fractional part is missing")]),
    (["--latency-percentiles", "99.99999"],
     [lit("--latency-percentiles: 99.99999: Failed to parse: Unreasonably precise percentile "
          "specification")]),
    (["--statsd-port", "0"], [lit("--statsd-port=0 is not in [1..65535]")]),
    (["--statsd-port", "65536"], [lit("--statsd-port=65536 is not in [1..65535]")]),
    (["--statsd-latency-window", "20s", "-T", "10s"],
     [lit("--statsd-latency-window=20s exceeds --duration=10s.")]),
    (["--statsd-latency-window", "0.1s"],
     [lit("--statsd-latency-window=0.1s is too small. Try 0.5s.")]),
    (["-H", "X-A: 1"], [lit("--header option ignored without --websocket")]),
]


@test
def bad_option_values(h):
    """Every row of VALUE_ERRORS; all are run, and every mismatch is reported."""
    d = dest(h)
    bad = []
    for args, lines in VALUE_ERRORS:
        try:
            fails(h, args + [d], lines)
        except TestFailure as e:
            bad.append(str(e).split("\n")[0] + "\n    stderr: " +
                       (str(e).split("stderr: ", 1) + [""])[1][:300].replace("\n", " | "))
    check(not bad, f"{len(bad)} of {len(VALUE_ERRORS)} bad values not reported as "
          "documented:\n" + "\n".join(bad))


# ---- the unit suffixes, accepted (spec §2, doc/man/tcpkali.1 UNITS) ------------------------------

def parsed_config(h, args):
    """The parsed settings, from the --json config echo of a run the feasibility check stops
    at once (9000 connections at 1/s cannot open within 1 s: exit 64, nothing connects)."""
    res = h.run([tcpkali(), "--json", "-c", "9000", "--connect-rate", "1", "-T", "1"] +
                [str(a) for a in args] + ["127.0.0.1:9"], timeout=15)
    check(res.rc == 64, f"exit {res.rc}, expected 64 from the feasibility check", res)
    try:
        doc = json.loads(res.stdout)
    except ValueError as e:
        raise TestFailure(f"--json output is not JSON: {e}\n{res!r}")
    check(isinstance(doc.get("config"), dict), "no config in the --json document", res)
    return doc["config"], res


# (option, value, config key, expected value)
UNIT_CASES = [
    ("--channel-bandwidth-upstream", "10kbps", "channel_bandwidth_upstream_Bps", 1250),
    ("--channel-bandwidth-upstream", "8bps", "channel_bandwidth_upstream_Bps", 1),
    ("--channel-bandwidth-upstream", "2Kbps", "channel_bandwidth_upstream_Bps", 250),
    ("--channel-bandwidth-upstream", "1Mbps", "channel_bandwidth_upstream_Bps", 125000),
    ("--channel-bandwidth-upstream", "1mbps", "channel_bandwidth_upstream_Bps", 125000),
    ("--channel-bandwidth-upstream", "1gbps", "channel_bandwidth_upstream_Bps", 1.25e8),
    ("--channel-bandwidth-upstream", "1Gbps", "channel_bandwidth_upstream_Bps", 1.25e8),
    ("--channel-bandwidth-upstream", "7Bps", "channel_bandwidth_upstream_Bps", 7),
    ("--channel-bandwidth-upstream", "7", "channel_bandwidth_upstream_Bps", 7),
    ("--channel-bandwidth-upstream", "2kBps", "channel_bandwidth_upstream_Bps", 2000),
    ("--channel-bandwidth-upstream", "2KBps", "channel_bandwidth_upstream_Bps", 2000),
    ("--channel-bandwidth-downstream", "3mBps", "channel_bandwidth_downstream_Bps", 3e6),
    ("--channel-bandwidth-downstream", "3MBps", "channel_bandwidth_downstream_Bps", 3e6),
    ("--channel-bandwidth-downstream", "1gBps", "channel_bandwidth_downstream_Bps", 1e9),
    ("--channel-bandwidth-downstream", "1GBps", "channel_bandwidth_downstream_Bps", 1e9),
    ("--rcvbuf", "4k", "rcvbuf_bytes", 4096),
    ("--sndbuf", "1m", "sndbuf_bytes", 1048576),
    ("--sndbuf", "1000", "sndbuf_bytes", 1000),
    ("--connect-timeout", "250ms", "connect_timeout_s", 0.25),
    ("--connect-timeout", "2millisecond", "connect_timeout_s", 0.002),
    ("--connect-timeout", "3milliseconds", "connect_timeout_s", 0.003),
    ("--connect-timeout", "2s", "connect_timeout_s", 2),
    ("--connect-timeout", "1second", "connect_timeout_s", 1),
    ("--connect-timeout", "3seconds", "connect_timeout_s", 3),
    ("--connect-timeout", "0.5", "connect_timeout_s", 0.5),
    ("--channel-lifetime", "2m", "channel_lifetime_s", 120),
    ("--channel-lifetime", "1min", "channel_lifetime_s", 60),
    ("--channel-lifetime", "1minute", "channel_lifetime_s", 60),
    ("--channel-lifetime", "2minutes", "channel_lifetime_s", 120),
    ("--channel-lifetime", "1h", "channel_lifetime_s", 3600),
    ("--channel-lifetime", "1hr", "channel_lifetime_s", 3600),
    ("--channel-lifetime", "1hour", "channel_lifetime_s", 3600),
    ("--channel-lifetime", "2hours", "channel_lifetime_s", 7200),
    ("--channel-lifetime", "1d", "channel_lifetime_s", 86400),
    ("--channel-lifetime", "1day", "channel_lifetime_s", 86400),
    ("--channel-lifetime", "2days", "channel_lifetime_s", 172800),
    ("--channel-lifetime", "1y", "channel_lifetime_s", 31536000),
    ("--channel-lifetime", "1year", "channel_lifetime_s", 31536000),
    ("--channel-lifetime", "2years", "channel_lifetime_s", 63072000),
    ("--channel-lifetime", "1e1", "channel_lifetime_s", 10),
]


@test
def unit_suffixes_parse_as_documented(h):
    """Every suffix of every kind gives the documented value (seen in the --json config
    echo); every mismatch is reported."""
    bad = []
    for opt, val, key, want in UNIT_CASES:
        cfg, res = parsed_config(h, [opt, val])
        got = cfg.get(key)
        if not isinstance(got, (int, float)) or abs(got - want) > 1e-9 * max(1, abs(want)):
            bad.append(f"{opt} {val}: config {key} = {got!r}, expected {want}")
    for opt, val, key, want in (("-r", "1.5k", "message_rate_per_s", 1500),
                                ("-r", "2m", "message_rate_per_s", 2e6),
                                ("--latency-marker-skip", "2k", "latency_marker_skip", 2000)):
        cfg, res = parsed_config(h, ["-m", "x", "--latency-marker", "x", opt, val])
        if cfg.get(key) != want:
            bad.append(f"{opt} {val}: config {key} = {cfg.get(key)!r}, expected {want}")
    check(not bad, "suffixes parsed wrong:\n" + "\n".join(bad))


@test
def count_and_time_suffixes_in_the_feasibility_message(h):
    """-c and --connect-rate with k/m, -T with its time suffixes, as the feasibility check
    prints them (spec §2)."""
    d = dest(h)
    for args, c, r, t in ((["-c", "2k", "--connect-rate", "0.5k", "-T", "1500ms"], 2000, 500, 1.5),
                          (["-c", "100", "--connect-rate", "1e1", "-T", "0.5s"], 100, 10, 0.5),
                          (["-c", "9000", "--connect-rate", "1", "-T", "2h"], 9000, 1, 7200),
                          (["-c", "9000", "--connect-rate", "1", "-T", "1minute"], 9000, 1, 60),
                          (["-c", "9000", "--connect-rate", "0.1", "-T", "1day"], 9000, 0.1,
                           86400)):
        fails(h, args + [d], [lit(f"{c} connections can not be opened at a rate {r:g} within "
                                  f"test duration {t:g}.")])


@test
def listen_port_range(h):
    """Spec §1: -l outside 1..65535 (fixed bug 7: 65535 itself is valid)."""
    fails(h, ["-l", "70000"], lit("--listen-port=70000 is not in [1..65535]"))
    fails(h, ["-l", "-3"], lit("--listen-port=-3 is not in [1..65535]"))
    fails(h, ["-l", "65536"], lit("--listen-port=65536 is not in [1..65535]"))


@test
def statsd_port_65535_is_accepted(h):
    """Fixed bug (spec bug 7): 65535 is in [1..65535]. (The run then fails its ramp-up
    against a refusing port: exit 1, not 64.)"""
    res = client(h, ["--statsd", "--statsd-host", "127.0.0.1", "--statsd-port", "65535",
                     "-c", "1", "-T", "0.3", dest(h)], timeout=15)
    check(res.rc == 1 and "is not in" not in res.stderr, "--statsd-port 65535 rejected", res)


@test
def workers_zero(h):
    """Fixed bug (spec bug 4): -w 0 says what is expected (at least 1)."""
    fails(h, ["-w", "0", dest(h)], r"Expected --workers (> 0|>= 1)")


@test
def too_many_workers(h):
    n = os.cpu_count()
    fails(h, ["-w", 64 * n, dest(h)],
          lit(f"Value --workers={64 * n} is unreasonably large, only {n} CPUs detected"))


@test
def connections_zero(h):
    """Fixed bug (spec bug 5): -c 0 is rejected as the message says."""
    fails(h, ["-c", "0", dest(h)], "Expecting --connections > 0")


@test
def connections_not_whole(h):
    """doc/man/tcpkali.1 (-c): 'A value that is not a positive whole number gives
    “Expecting --connections > 0”'."""
    fails(h, ["-c", "1.5", dest(h)], "Expecting --connections > 0")


@test
def unknown_options(h):
    """Spec §2: getopt's message, then '<opt>: unknown option', usage on stdout, 64."""
    d = dest(h)
    res = fails(h, ["--bogus", d], [r".*unrecognized option '--bogus'"])
    check(res.stdout.startswith("Usage: tcpkali [OPTIONS] [-l <port>] [<host:port>...]"),
          "no usage on stdout after an unknown option", res)
    fails(h, ["-x", d], [r".*invalid option -- 'x'"])


@test
def missing_argument(h):
    """getopt's message, then (fixed, spec bug 14) '-c: option requires an argument'."""
    fails(h, ["-c"], [r".*option requires an argument -- 'c'", "-c: option requires an argument"])
    fails(h, ["--connect-rate"], [r".*option '--connect-rate' requires an argument",
                                  "--connect-rate: option requires an argument"])


@test
def websocket_is_accepted(h):
    """doc/man/tcpkali.1 (WebSocket): --ws and -H pass the option checks; against a refused
    port ramp-up cannot finish: 'Could not create 1 connection in allotted time' and 1."""
    res = fails(h, ["--ws", "-H", "X-Test: 1", "-m", "x", "-T", "0.5", dest(h)],
                [lit("Could not create 1 connection in allotted time (0.5s)")], rc=1)
    check("not supported" not in res.stderr, "--ws still refused", res)


@test
def ssl_listener_without_certificate_exits_66(h):
    """doc/man/tcpkali.1 (TLS): a --ssl listener whose certificate or key file is missing
    stops with tcpkali 1.2's message, and exit 66 (EX_NOINPUT; the original: 64)."""
    missing = "/nonexistent-netgrind/cert.pem"
    fails(h, ["--ssl", "-l", "0", "--ssl-cert", missing],
          [lit(f"{missing}: Can not access X.509 certificate file.")], rc=66)
    fails(h, ["--ssl", "-l", "0", "--ssl-cert", "/proc/self/stat", "--ssl-key", missing],
          [lit(f"{missing}: Can not access SSL private key file")], rc=66)


@test
def open_files_limit_too_low_exits_70(h):
    """doc/man/tcpkali.1 (System limits): with a hard limit of 256 open files, -c 1000
    cannot work: both limits and the fix are named, then 'System limits will not support the
    expected load.', exit 70, before any connection."""
    if not shutil.which("prlimit"):
        raise Skip("no prlimit(1)")
    res = fails(h, ["-c", "1000", "--connect-rate", "10k", "-T", "1", dest(h)],
                [lit("System limits will not support the expected load.")], rc=70,
                prefix=["prlimit", "--nofile=256:256"])
    check(re.search(r"256", res.stderr) and re.search(r"ulimit -Hn|LimitNOFILE|limits\.conf",
                                                       res.stderr),
          "the open-files message names neither the limit (256) nor the fix", res)
    check("Closing" not in res.stderr, "connections were attempted before the limit check",
          res)


@test
def ephemeral_ports_too_few_exits_70(h):
    """doc/man/tcpkali.1 (System limits): more connections to one destination from one
    source address than ip_local_port_range holds: the range and the fixes are named, exit
    70. In a network namespace whose range is 100 ports, -c 300 with --source-ip 127.0.0.1
    (loopback spreading is off when a source is given)."""
    if not shutil.which("unshare"):
        raise Skip("no unshare(1)")
    script = ('echo "40000 40099" > /proc/sys/net/ipv4/ip_local_port_range || exit 99; '
              'ip link set lo up; exec "$@"')
    probe = subprocess.run(["unshare", "-n", "sh", "-c", script, "x", "true"],
                           capture_output=True, timeout=10)
    if probe.returncode:
        raise Skip(f"cannot set up a network namespace: {probe.stderr.decode()[-200:]}")
    res = fails(h, ["-c", "300", "--connect-rate", "10k", "--source-ip", "127.0.0.1", "-T", "1",
                    "127.0.0.1:9"], [lit("System limits will not support the expected load.")],
                rc=70, prefix=["unshare", "-n", "sh", "-c", script, "x"])
    check(re.search(r"40000.*40099|ip_local_port_range", res.stderr),
          "the message does not name the port range", res)


@test
def message_rate_without_message(h):
    fails(h, ["-r", "10", dest(h)],
          lit("--message-rate parameter makes no sense without --message or --message-file"))


@test
def latency_marker_without_message(h):
    fails(h, ["--latency-marker", "x", dest(h)],
          lit("--latency-marker is given, but no messages are supposed to be sent. "
              "Specify --message?"))


@test
def latency_marker_without_destination(h):
    fails(h, ["--latency-marker", "x", "-m", "x", "-l", "0"],
          lit("--latency-marker is given, but no connections are supposed to be initiated. "
              "Specify <host:port>?"))


@test
def rate_search_without_marker(h):
    fails(h, ["-r", "@5ms", "-m", "x", dest(h)],
          lit("--message-rate @<Latency> requires specifying --latency-marker as well."))


@test
def no_target(h):
    fails(h, ["-c", "1"], lit("Expecting target <host:port> or --listen-port. See -h or --help."))
    fails(h, [], lit("Expecting target <host:port> or --listen-port. See -h or --help."))


@test
def no_port_in_destination(h):
    fails(h, ["127.0.0.1"], lit("Expected :port specification. See --help."))


@test
def feasibility_check(h):
    """Spec §2: c / connect_rate > T: two lines, exit 64, before any connection."""
    res = fails(h, ["-c", "1000", "--connect-rate", "10", "-T", "5", dest(h)],
                [lit("1000 connections can not be opened at a rate 10 within test duration 5."),
                 lit("Decrease --connections=1000, or increase --duration=5 or "
                     "--connect-rate=10.")])
    check("Destination" not in res.stdout, "feasibility error printed on stdout", res)


@test
def feasibility_warning(h):
    """Above T/10 (here 50 / 100 = 0.5 s of a 1 s run... > 0.1) only a warning; the run
    happens (and fails its ramp-up against a refusing port, exit 1)."""
    res = client(h, ["-c", "50", "--connect-rate", "100", "-T", "1", dest(h)], timeout=15)
    check(re.search(r"^WARNING: 50 connections might not be opened at a rate 100 within "
                    r"test duration 1\.$", res.stderr, re.M),
          "no feasibility WARNING line", res)
    check(res.rc == 1, f"exit status {res.rc}, expected 1", res)


@test
def missing_message_file(h):
    """Spec §1: -f of a missing file: '<name>: No such file or directory', exit 65."""
    d = dest(h)
    fails(h, ["-f", "/nonexistent/tcpkali-msg", d],
          lit("/nonexistent/tcpkali-msg: No such file or directory"), rc=65)
    fails(h, ["--first-message-file", "/nonexistent/tcpkali-first", "-m", "x", d],
          lit("/nonexistent/tcpkali-first: No such file or directory"), rc=65)


@test
def source_ip_not_local(h):
    """Spec §1: a --source-ip that is not a local address (a bind test only, nothing is
    sent)."""
    fails(h, ["--source-ip", "192.0.2.1", dest(h)],
          [lit("[192.0.2.1]:0 is not local: Cannot assign requested address"),
           lit("--source-ip=192.0.2.1: local IP address expected")])


@test
def unresolvable_name_exits_68(h):
    """Spec §2: a failed lookup exits 68; run in a fresh network namespace so the lookup
    fails at once and no packet leaves the machine."""
    if not shutil.which("unshare"):
        raise Skip("no unshare(1)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode:
        raise Skip("unshare -n not permitted")
    fails(h, ["nohost.invalid:80"], r"tcpkali: Resolving nohost\.invalid:80: .+", rc=68,
          prefix=["unshare", "-n"])


@test
def unresolvable_statsd_host_exits_68(h):
    """doc/man/tcpkali.1 (EXIT STATUS): a StatsD address that does not resolve exits 68."""
    if not shutil.which("unshare"):
        raise Skip("no unshare(1)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode:
        raise Skip("unshare -n not permitted")
    res = h.run(["unshare", "-n", tcpkali(), "--statsd", "--statsd-host", "nohost.invalid",
                 "-l", "127.0.0.1:0", "-T", "1"], timeout=15)
    check(res.rc == 68, f"exit status {res.rc} for an unresolvable --statsd-host, expected 68",
          res)
    check("nohost.invalid" in res.stderr, "the message does not name the StatsD host", res)


@test
def listen_port_taken_exits_69(h):
    """Spec §3.1: a port that cannot be bound exits 69 naming the address (a plain listener
    without SO_REUSEPORT holds it)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    h.on_cleanup(s.close)
    port = s.getsockname()[1]
    fails(h, ["-l", f"127.0.0.1:{port}", "-T", "1"],
          rf"Bind \[127\.0\.0\.1\]:{port} .*Address already in use", rc=69)


# ---- help and version -------------------------------------------------------------------------

@test
def help_texts(h):
    res = h.run([tcpkali(), "--help"], timeout=10)
    check(res.rc == HELP_RC, f"--help exit {res.rc}, expected {HELP_RC}", res)
    check(res.stdout.startswith("Usage: tcpkali [OPTIONS] [-l <port>] [<host:port>...]\n"
                                "Where OPTIONS are:\n"), "--help does not start as the "
          "original's", res)
    for opt in ("--connect-timeout <Time=1s>", "--latency-marker <string>",
                "--statsd-latency-window <T>", "Variable units and recognized multipliers:"):
        check(opt in res.stdout, f"--help lacks {opt!r}", res)
    res = h.run([tcpkali(), "-h"], timeout=10)
    check(res.rc == HELP_RC, f"-h exit {res.rc}, expected {HELP_RC}", res)
    check("Where some OPTIONS are:" in res.stdout and
          "Use `tcpkali --help` or `man tcpkali` for a full set of supported options." in
          res.stdout, "-h is not the original's short help", res)


@test
def version(h):
    res = h.run([tcpkali(), "--version"], timeout=10)
    check(res.rc == 0 and re.fullmatch(r"tcpkali version 1\.1\.1 \(netgrind \S+\)\n",
                                       res.stdout),
          "--version: 'tcpkali version 1.1.1 (netgrind VERSION)', exit 0", res)


if __name__ == "__main__":
    run_tests()
