#!/usr/bin/env python3
"""System tests of udping_client's and udping_server's command-line and start-up errors
(doc/man/udping_client.1 and udping_server.1: OPTIONS, EXIT STATUS; spec udping.md §2, §6):
each bad input gives its documented message on standard error and its exit status (255 for
the original's exit(-1) cases, 68 for names that do not resolve, 71 for a port in use), and
nothing is sent.

Usage: python3 tests/sys/test_udping_errors.py BUILD_DIR [TEST_NAME...]
"""

import json
import os
import re
import random
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, Skip, test  # noqa: E402
from udping_helpers import (client_bin, free_ports, Listener, server_bin,  # noqa: E402
                            start_server, stop)

CLIENT = "udping_client: "
SERVER = "udping_server: "


def base_client(port=40000, **over):
    """A complete, valid socket-mode command line as {option: value} (-r ... -m)."""
    args = {"-r": "127.0.0.1", "-p": str(port), "-d": "10", "-l": "127.0.0.1",
            "-s": str(free_ports(1)[0]), "-i": "1", "-m": "100"}
    args.update(over)
    argv = []
    for k, v in args.items():
        if v is not None:
            argv += [k, v]
    return argv


def client_fails(h, args, rx, rc=255, usage=None, prefix=()):
    """Runs the client; expects exit rc and a stderr line matching rx (and the usage text
    when usage is True, none when False)."""
    res = h.run(list(prefix) + [client_bin()] + args, timeout=15)
    check(res.rc == rc, f"udping_client {' '.join(args)}: exit {res.rc}, expected {rc}", res)
    check(re.search(rx, res.stderr, re.M), f"udping_client {' '.join(args)}: stderr does not "
          f"match /{rx}/", res)
    if usage is not None:
        check(("Usage:" in res.stderr) == usage, "usage text " +
              ("missing" if usage else "printed for a non-usage error"), res)
    check(not re.search(r"^udping_client: sent \d+", res.stderr, re.M),
          "a stop summary after a start-up error", res)
    return res


def server_fails(h, args, rx, rc=255, usage=None, prefix=()):
    """The same for the server; one that wrongly starts is ended after 5 s (and fails)."""
    res = h.run(list(prefix) + [server_bin()] + args, timeout=5)
    check(res.rc == rc, f"udping_server {' '.join(args)}: exit {res.rc}, expected {rc}", res)
    check(re.search(rx, res.stderr, re.M), f"udping_server {' '.join(args)}: stderr does not "
          f"match /{rx}/", res)
    if usage is not None:
        check(("Usage:" in res.stderr) == usage, "usage text " +
              ("missing" if usage else "printed for a non-usage error"), res)
    check("listening on" not in res.stderr, "the server listened despite the error", res)
    check(not res.stdout.lstrip().startswith('{"from_host"'), "a JSON line on error", res)
    return res


def no_network_prefix():
    """Runs a command in a new network namespace (only a down loopback), so that a name
    lookup fails without a packet leaving the machine."""
    if not shutil.which("unshare"):
        raise Skip("no unshare(1)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode:
        raise Skip("unshare -n not permitted")
    return ["unshare", "-n"]


# ---- the client: options --------------------------------------------------------------------

@test
def client_help_exits_zero(h):
    for flag in ("-h", "--help"):
        res = h.run([client_bin(), flag], timeout=10)
        check(res.rc == 0 and "Usage:" in res.stderr and res.stdout == "",
              f"{flag}: exit {res.rc}, usage on stderr expected", res)


@test
def client_unknown_option(h):
    client_fails(h, base_client() + ["-x"], r"^udping_client: .*(invalid|unknown|unrecognized)"
                 r".*x", usage=True)
    client_fails(h, base_client() + ["--bogus"], r"^udping_client: .*bogus", usage=True)


@test
def client_missing_mandatory_options(h):
    for opt in ("-r", "-p", "-d", "-l", "-s", "-i", "-m"):
        client_fails(h, base_client(**{opt: None}), rf"^udping_client: missing.*{opt}\b",
                     usage=True)


@test
def client_values_out_of_range_or_not_numbers(h):
    bad = {"-p": ["1023", "65536", "abc", "-1", "22001x", ""],
           "-d": ["1001", "-1", "abc", "1e2"],
           "-i": ["0", "901", "x"],
           "-m": ["0", "2001", "9999999999"],
           "-n": ["0", "5001", "two"]}
    for opt, values in bad.items():
        for v in values:
            # --count 1: a value wrongly accepted ends the run at once instead of hanging.
            client_fails(h, base_client(**{opt: v}) + ["--count", "1"],
                         rf"^udping_client: .*{re.escape(opt)}\b", usage=True)


@test
def client_accepts_the_range_limits(h):
    """The limits themselves are valid: -p 1024/65535, -d 0.25, -i 900, -m 2000, -n 1."""
    lst = Listener(h)
    src = free_ports(1)[0]
    for over in ({"-d": "0.25"}, {"-i": "900"}, {"-m": "2000"}, {"-n": "1"}):
        res = h.run([client_bin()] + base_client(lst.port, **{"-s": str(src), **over}) +
                    ["--count", "1", "-q"], timeout=15)
        check(res.rc == 0, f"{over}: exit {res.rc}", res)
    for port in ("1024", "65535"):
        res = h.run([client_bin()] + base_client(**{"-p": port, "-s": str(src)}) +
                    ["--count", "1", "-q"], timeout=15)
        # Nothing listens there: a refused send is a warning, not a start-up error.
        check(res.rc == 0, f"-p {port}: exit {res.rc}", res)


@test
def client_port_descriptor_errors(h):
    cases = [
        ("22010a", r"^udping_client: Invalid source port descriptor 22010a$"),
        ("22010 ", r"^udping_client: Invalid source port descriptor 22010 $"),
        ("22010,,22012", r"^udping_client: Invalid source port descriptor 22010,,22012$"),
        (",22010", r"^udping_client: Invalid source port descriptor ,22010$"),
        ("5000-", r"^udping_client: Invalid source port descriptor 5000-$"),
        ("1023", r"^udping_client: Port too low: 1023$"),
        ("60001", r"^udping_client: Port too high: 60001$"),
        ("30000-60001", r"^udping_client: Port too high: 60001$"),
        ("30010-30000", r"^udping_client: Invalid port range 30010-30000$"),
        ("20000-25000", r"^udping_client: Too many ports defined$"),
        ("22010,22010", r"^udping_client: Duplicate port 22010 in source port descriptor "
                        r"22010,22010$"),
        ("22010-22012,22011", r"^udping_client: Duplicate port 22011 in source port "
                              r"descriptor 22010-22012,22011$"),
    ]
    for desc, rx in cases:
        client_fails(h, base_client(**{"-s": desc}), rx)


@test
def client_n_errors(h):
    client_fails(h, base_client(**{"-s": "22010,22011"}) + ["-n", "2"],
                 r"^udping_client: -n applies to a single start port, not to '22010,22011'$")
    client_fails(h, base_client(**{"-s": "22010-22011"}) + ["-n", "2"],
                 r"^udping_client: -n applies to a single start port, not to '22010-22011'$")
    client_fails(h, base_client(**{"-s": "59999"}) + ["-n", "5"],
                 r"^udping_client: Port too high: 600\d\d$")
    client_fails(h, base_client(**{"-s": "1000"}) + ["-n", "50"],
                 r"^udping_client: Port too low: 1000$")


@test
def client_bad_mac_lists(h):
    for macs, entry in (("11:22:33", "11:22:33"), ("11:22:33:44:55:66,zz:00:00:00:00:00",
                                                   "zz:00:00:00:00:00"),
                        ("11:22:33:44:55:66:77", "11:22:33:44:55:66:77"),
                        ("11-22-33-44-55-66", "11-22-33-44-55-66"),
                        ("11:22:33:44:55:666", "11:22:33:44:55:666"),
                        ("11:22:33:44:55:66,", "")):
        res = client_fails(h, base_client() + ["-a", macs],
                           r"^udping_client: Invalid next-hop MAC address string$")
        check(re.search(rf"^udping_client: Invalid MAC string '{re.escape(entry)}'$",
                        res.stderr, re.M),
              f"-a {macs}: no \"Invalid MAC string '{entry}'\" line before it", res)
        lines = [l for l in res.stderr.splitlines() if l.startswith(CLIENT)]
        check(lines.index(f"{CLIENT}Invalid next-hop MAC address string") ==
              lines.index(f"{CLIENT}Invalid MAC string '{entry}'") + 1,
              "the two MAC lines are not in the original's order", res)


@test
def client_raw_mode_needs_root(h):
    """As an ordinary user, -a is refused with the original's message (status 255)."""
    if os.geteuid() != 0:
        prefix = []
    elif shutil.which("setpriv"):
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        raise Skip("root without setpriv(1): cannot run as an ordinary user")
    client_fails(h, base_client() + ["-a", "02:00:00:00:00:01"],
                 r"^udping_client must run as root$|^udping_client: udping_client must run "
                 r"as root$", prefix=prefix)


@test
def client_raw_mode_unknown_local_address(h):
    """Raw mode with a -l that no interface has: status 68, before anything is sent."""
    if os.geteuid() != 0:
        raise Skip("raw mode needs root")
    client_fails(h, base_client(**{"-l": "127.0.0.2"}) + ["-a", "02:00:00:00:00:01"],
                 r"127\.0\.0\.2", rc=68)


@test
def client_port_in_use(h):
    # Port 0 would be flaky: the kernel may pick a port above 60000, which -s refuses as a
    # usage error (255) before any bind. Take a free port below the ephemeral range instead.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    h.on_cleanup(s.close)
    for taken in random.sample(range(20000, 30000), 200):
        try:
            s.bind(("127.0.0.1", taken))
            break
        except OSError:
            continue
    else:
        raise AssertionError("no free UDP port in 20000..29999 on 127.0.0.1")
    res = client_fails(h, base_client(**{"-s": str(taken)}),
                       rf"^udping_client: bind to 127\.0\.0\.1:{taken}: Address already in use",
                       rc=71, usage=False)
    res = h.run([client_bin()] + base_client(**{"-s": str(taken)}) + ["--json"], timeout=15)
    check(res.rc == 71, f"--json: exit {res.rc}", res)
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        raise AssertionError(f"--json on a start-up error: stdout is not a document: "
                             f"{res.stdout!r}")
    check(isinstance(doc.get("error"), str) and "Address already in use" in doc["error"] and
          doc.get("program") == "udping_client", "--json error document", doc)


@test
def client_unresolvable_names(h):
    prefix = no_network_prefix()
    client_fails(h, base_client(**{"-r": "no-such-host.invalid"}), r"no-such-host\.invalid",
                 rc=68, prefix=prefix)
    client_fails(h, base_client(**{"-l": "no-such-host.invalid"}), r"no-such-host\.invalid",
                 rc=68, prefix=prefix)


# ---- the server -----------------------------------------------------------------------------

@test
def server_help_exits_zero(h):
    for flag in ("-h", "--help"):
        res = h.run([server_bin(), flag], timeout=10)
        check(res.rc == 0 and "Usage:" in res.stderr and res.stdout == "",
              f"{flag}: exit {res.rc}, usage on stderr expected", res)


@test
def server_missing_options(h):
    server_fails(h, ["-p", "0", "-k", "1"], r"^udping_server: missing -l \(listen host\)$",
                 usage=True)
    server_fails(h, ["-l", "127.0.0.1", "-k", "1"], r"^udping_server: missing -p \(port\)$",
                 usage=True)
    server_fails(h, ["-l", "127.0.0.1", "-p", "0"], r"^udping_server: missing -k \(keepalive\)$",
                 usage=True)


@test
def server_bad_values(h):
    for p in ("65536", "1023", "1", "abc", "-5", "22001x", ""):
        server_fails(h, ["-l", "127.0.0.1", "-p", p, "-k", "1"],
                     rf"^udping_server: invalid port '{re.escape(p)}' \(1024\.\.65535, or 0 for "
                     r"any free port\)$", usage=True)
    for k in ("0", "61", "x", "-1", "1.5"):
        server_fails(h, ["-l", "127.0.0.1", "-p", "0", "-k", k],
                     rf"^udping_server: invalid keepalive '{re.escape(k)}' \(1\.\.60 seconds\)$",
                     usage=True)
    for opt in ("-s", "-t"):
        for addr in ("127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:", "", "127.0.0.1:-1"):
            server_fails(h, ["-l", "127.0.0.1", "-p", "0", "-k", "1", opt, addr],
                         rf"^udping_server: invalid statsd address '{re.escape(addr)}'$",
                         usage=True)
        # A service name where the port goes: refused either as invalid (255) or as a
        # name that does not resolve (68); the server must not start.
        res = h.run([server_bin(), "-l", "127.0.0.1", "-p", "0", "-k", "1", opt,
                     "127.0.0.1:notaport"], timeout=10)
        check(res.rc in (255, 68) and "listening on" not in res.stderr,
              f"{opt} 127.0.0.1:notaport: exit {res.rc}", res)


@test
def server_unknown_option_and_operand(h):
    server_fails(h, ["-l", "127.0.0.1", "-p", "0", "-k", "1", "-x"],
                 r"^udping_server: .*(invalid|unknown|unrecognized).*x", usage=True)
    server_fails(h, ["-l", "127.0.0.1", "-p", "0", "-k", "1", "stray"],
                 r"^udping_server: unexpected argument 'stray'$", usage=True)


@test
def server_port_in_use(h):
    # Port 0 would be flaky: the kernel may pick a port above 60000, which -s refuses as a
    # usage error (255) before any bind. Take a free port below the ephemeral range instead.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    h.on_cleanup(s.close)
    for taken in random.sample(range(20000, 30000), 200):
        try:
            s.bind(("127.0.0.1", taken))
            break
        except OSError:
            continue
    else:
        raise AssertionError("no free UDP port in 20000..29999 on 127.0.0.1")
    server_fails(h, ["-l", "127.0.0.1", "-p", str(taken), "-k", "1"],
                 r"^udping_server: .*Address already in use", rc=71, usage=False)


@test
def server_unresolvable_names(h):
    prefix = no_network_prefix()
    server_fails(h, ["-l", "no-such-host.invalid", "-p", "0", "-k", "1"],
                 r"no-such-host\.invalid", rc=68, prefix=prefix)
    server_fails(h, ["-l", "127.0.0.1", "-p", "0", "-k", "1", "-s", "no-such-host.invalid"],
                 r"no-such-host\.invalid", rc=68, prefix=prefix)


@test
def server_limits_are_accepted(h):
    """-k 60 is in range; the server starts and stops cleanly with it."""
    srv, _ = start_server(h, keepalive=60)
    stop(srv, what="server -k 60")


if __name__ == "__main__":
    run_tests()
