#!/usr/bin/env python3
"""System tests of tcpkali's message expressions (issue 5, spec tcpkali.md §4.1-§4.4): the
bytes a Python sink receives per connection for \\{connection.uid} (distinct, 1..N),
\\{connection.uid % N}, \\{re ...} (lengths and alphabet), \\{connection.re ...} (one value
per connection even next to a per-message \\{re}: fixed bug 35), \\{global.re ...} (one
value for all), \\{<file>}; parse errors (the original's three lines, exit 1), an unreadable
file, \\{message.marker % 3} (a clear error, exit 1, never the original's abort, bug 36) and
-1 with a marker (works: bug 36, issue #43).

Usage: python3 tests/sys/test_tcpkali_expr.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, test, wait_until  # noqa: E402
from tcpkali_helpers import client, ok  # noqa: E402
from tcpkali_peers import PeerServer  # noqa: E402

MARKER_RX = rb"TCPKaliMsgTS-([0-9a-f]{16})\."


def sink_run(h, args, conns=1, T=0.5):
    """Runs tcpkali -c conns ARGS -T T against a Python sink and returns (result, [bytes
    received per connection]) once the sink has seen every connection end."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", conns, "--connect-rate", "10k", "-T", T] + list(args)
                    + [peer.addr]))
    wait_until(lambda: len(peer.snapshot()) >= conns and
               all(c.closed_at is not None for c in peer.snapshot()), 10,
               "the sink to see every connection end")
    data = [bytes(c.data) for c in peer.snapshot()]
    check(len(data) == conns, f"the sink saw {len(data)} connections, expected {conns}", res)
    return res, data


@test
def connection_uid_is_distinct_per_connection(h):
    """-c 5 -1 'id=\\{connection.uid};': each connection's first bytes carry its own id, and
    the ids are exactly 1..5 (a process-wide counter from 1)."""
    res, data = sink_run(h, ["-1", r"id=\{connection.uid};"], conns=5)
    ids = []
    for d in data:
        m = re.fullmatch(rb"id=(\d+);", d)
        check(m, f"a connection sent {d[:60]!r}, expected exactly 'id=N;'", res)
        ids.append(int(m.group(1)))
    check(sorted(ids) == [1, 2, 3, 4, 5], f"connection ids {sorted(ids)}, expected 1..5", res)


@test
def connection_uid_modulo(h):
    """\\{connection.uid % 4} is the uid mod 4 in decimal (spec §4.1: u=3 m=0 for % 3)."""
    res, data = sink_run(h, ["-1", r"u=\{connection.uid} m=\{ connection.uid % 4 };"],
                         conns=6)
    pairs = []
    for d in data:
        m = re.fullmatch(rb"u=(\d+) m=(\d+);", d)
        check(m, f"a connection sent {d[:60]!r}, expected 'u=N m=M;'", res)
        pairs.append((int(m.group(1)), int(m.group(2))))
    check(sorted(u for u, _ in pairs) == list(range(1, 7)), f"uids {pairs}", res)
    check(all(m == u % 4 for u, m in pairs), f"(uid, uid % 4) pairs {pairs}", res)


@test
def re_generates_lengths_and_alphabet(h):
    """\\{re [a-z]{8}}: every message has exactly 8 characters of a-z, and they vary from
    message to message; \\{re [0-9]{2,5}}: lengths 2..5, each length seen."""
    res, data = sink_run(h, ["-m", r"<\{re [a-z]{8}}|\{re [0-9]{2,5}}>", "-r", 400], T=1)
    msgs = re.findall(rb"<([^|>]*)\|([^>]*)>", data[0])
    check(len(msgs) >= 200, f"only {len(msgs)} whole messages in 1 s at 400/s", res)
    check(data[0] == b"".join(b"<%s|%s>" % m for m in msgs), "bytes between or after the "
          f"messages: {data[0][:80]!r}", res)
    words = [w for w, _ in msgs]
    check(all(re.fullmatch(rb"[a-z]{8}", w) for w in words), "a \\{re [a-z]{8}} value that is "
          f"not 8 letters: {[w for w in words if not re.fullmatch(rb'[a-z]{8}', w)][:5]}", res)
    check(len(set(words)) >= 0.95 * len(words), f"only {len(set(words))} distinct values in "
          f"{len(words)} messages: \\{{re}} is not regenerated per message", res)
    letters = set(b"".join(words))
    check(len(letters) >= 24, f"only {len(letters)} of 26 letters in {len(words) * 8} "
          "generated characters", res)
    nums = [n for _, n in msgs]
    check(all(re.fullmatch(rb"[0-9]{2,5}", n) for n in nums), "a \\{re [0-9]{2,5}} value "
          f"outside the bounds: {[n for n in nums if not re.fullmatch(rb'[0-9]{2,5}', n)][:5]}",
          res)
    check({len(n) for n in nums} == {2, 3, 4, 5}, f"lengths seen {sorted({len(n) for n in nums})},"
          " expected 2, 3, 4 and 5", res)


@test
def connection_re_is_stable_within_a_connection(h):
    """Fixed bug 35: \\{connection.re [a-z]{10}} keeps one value per connection even when
    the message also has a per-message \\{re}, while the \\{re} part varies; connections
    differ; \\{global.re [a-z]{10}} is one value for every connection."""
    res, data = sink_run(h, ["-m", r"c=\{connection.re [a-z]{10}} g=\{global.re [a-z]{10}} "
                                   r"r=\{re [0-9]{6}};", "-r", 100], conns=3, T=1)
    per_conn, globals_ = [], set()
    for d in data:
        msgs = re.findall(rb"c=([a-z]{10}) g=([a-z]{10}) r=([0-9]{6});", d)
        check(len(msgs) >= 50 and len(msgs) * 35 == len(d), f"a connection sent "
              f"{len(d)} bytes, {len(msgs)} well-formed messages: {d[:90]!r}", res)
        cvals = {m[0] for m in msgs}
        check(len(cvals) == 1, f"\\{{connection.re}} took {len(cvals)} values on one "
              f"connection: {sorted(cvals)[:4]}", res)
        rvals = {m[2] for m in msgs}
        check(len(rvals) >= 0.9 * len(msgs), f"\\{{re}} took only {len(rvals)} values in "
              f"{len(msgs)} messages", res)
        per_conn.append(cvals.pop())
        globals_ |= {m[1] for m in msgs}
    check(len(set(per_conn)) == 3, f"connections share \\{{connection.re}} values: {per_conn}",
          res)
    check(len(globals_) == 1, f"\\{{global.re}} took {len(globals_)} values", res)


@test
def file_contents_inserted(h):
    """\\{<file>} and \\{<"file name with spaces">} insert the file's bytes literally (read
    once, at start), binary bytes included."""
    d = tempfile.mkdtemp(prefix="tk-expr-")
    h.on_cleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
    plain, spaced = os.path.join(d, "f.bin"), os.path.join(d, "a file.txt")
    with open(plain, "wb") as f:
        f.write(b"BIN\x00\x01\xff\\{not an expr}")
    with open(spaced, "wb") as f:
        f.write(b"spaced")
    res, data = sink_run(h, ["-1", "x\\{<" + plain + ">}y\\{<\"" + spaced + "\">}z"])
    want = b"xBIN\x00\x01\xff\\{not an expr}yspacedz"
    check(data[0] == want, f"sent {data[0]!r}, expected {want!r}", res)


def expr_error(h, msg, extra=()):
    res = client(h, ["-c", 1, "-m", msg, "-T", 1] + list(extra) + ["127.0.0.1:9"])
    check(res.rc == 1, f"-m {msg!r}: exit status {res.rc}, expected 1", res)
    return res


def failed_line(msg):
    """The original's last line of a parse error (spec §2): the argument with each backslash
    doubled, inside two pairs of double quotes."""
    return 'Failed to parse ""' + msg.replace("\\", "\\\\") + '""'


def error_lines(res, token, second_rx, msg):
    """The parse error's lines, ending the output: "Unexpected token ...: <token>" (only when
    token is not None: the original prints it only for what its lexer cannot tokenize),
    "Parse error near token ..." matching second_rx, and "Failed to parse ..."."""
    lines = res.stderr.splitlines()
    if token is None:
        first = [i for i, l in enumerate(lines) if re.fullmatch(second_rx, l)]
        check(first, f"no line matching /{second_rx}/", res)
        i = first[0] - 1
        check(i < 0 or not lines[i].startswith("Unexpected token"),
              "an 'Unexpected token' line for a grammar error", res)
    else:
        first = [i for i, l in enumerate(lines)
                 if re.fullmatch(r"Unexpected token in (message|regular) expression: "
                                 + re.escape(token), l)]
        check(first, f"no 'Unexpected token in message expression: {token}' line", res)
        i = first[0]
        check(i + 2 < len(lines) and re.fullmatch(second_rx, lines[i + 1]), f"the second "
              f"line is not /{second_rx}/", res)
    check(lines[i + 2] == failed_line(msg), f"the third line is {lines[i + 2]!r}, expected "
          f"{failed_line(msg)!r}", res)
    check(i + 3 == len(lines), f"more lines after the error: {lines[i + 3:]}", res)
    check("Total data sent" not in res.stdout, "a summary after a parse error", res)


@test
def parse_error_prints_the_originals_lines(h):
    """Spec §2 and §4.1: an unknown word in an expression gives the original's three lines,
    exactly (the spec's example: -m '\\{connection.foo}'), and exit 1; the same form for
    a word elsewhere in a message and an empty regex alternative (§4.2). A grammar error
    (an unterminated expression) has no "Unexpected token" line, as the original's lexer
    prints it only for what it cannot tokenize."""
    msg = r"\{connection.foo}"
    error_lines(expr_error(h, msg), "foo", re.escape(
        'Parse error near token "foo": syntax error, unexpected end of expression, expecting '
        ' ptr or uid or re'), msg)
    for bad, token in ((r"a\{foo}b", "foo"), (r"\{re (ab|)}", "(ab|)")):
        error_lines(expr_error(h, bad), token, r'Parse error near token "' + re.escape(token)
                    + r'": syntax error, .+', bad)
    bad = r"\{connection.uid"
    error_lines(expr_error(h, bad), None, re.escape(
        'Parse error near token "uid": syntax error, unexpected end of expression, '
        "expecting '%' or '}'"), bad)


@test
def unreadable_file_is_an_error(h):
    """Spec §4.1: \\{<file>} that cannot be read: 'Can't open "name": ...', exit 1."""
    res = expr_error(h, r"\{</nonexistent/tk-expr-file>}")
    check(re.search(r'^Can\'t open "/nonexistent/tk-expr-file": No such file or directory$',
                    res.stderr, re.M), "no 'Can't open \"...\": No such file or directory' "
          "line", res)


@test
def marker_modulo_is_a_clear_error(h):
    """Fixed bug 36: \\{message.marker % 3} aborted the original (134); here it is an error
    message that names the marker, and exit 1."""
    res = expr_error(h, r"x\{message.marker % 3}")
    check(re.search(r"^Parse error near token \"%\": syntax error, unexpected '%', expecting "
                    r"'\}' \(\\\{message\.marker\} is a timestamp token, not a number\)$",
                    res.stderr, re.M), "no parse error naming the marker", res)
    check(not re.search(r"(?i)assert|abort", res.stderr), "an assertion message", res)


@test
def first_message_with_a_marker_works(h):
    """Fixed bug 36 (issue #43): -1 with a \\{message.marker} runs (the original aborted).
    The first message's token and each repeated message's token carry the send time: µs
    since the epoch within the run, in order."""
    t0 = time.time_ns() // 1000
    res, data = sink_run(h, ["-1", r"first \{message.marker};", "-m",
                             r"m \{message.marker};", "-r", 20], T=1)
    t1 = time.time_ns() // 1000
    d = data[0]
    m = re.match(rb"first " + MARKER_RX + rb";", d)
    check(m, f"the connection began with {d[:60]!r}, not 'first TCPKaliMsgTS-<16 hex>.;'",
          res)
    stamps = [int(x, 16) for x in re.findall(MARKER_RX, d)]
    check(len(stamps) >= 15, f"only {len(stamps)} markers in 1 s at 20 messages/s", res)
    check(all(t0 <= s <= t1 for s in stamps), f"marker times outside the run [{t0}, {t1}]: "
          f"{stamps[:3]}", res)
    check(stamps == sorted(stamps), "marker times out of order", res)
    rest = re.sub(rb"m " + MARKER_RX + rb";", b"", d[m.end():])
    check(rest == b"", f"bytes other than whole 'm <marker>;' messages: {rest[:60]!r}", res)


if __name__ == "__main__":
    run_tests()
