#!/usr/bin/env python3
"""Hostile XML-RPC against netgrind's flowgrindd (issue 6: "the daemon never crashes on a
missing member or a wrong type"; spec flowgrind.md §1.1, §3.1, §3.7, §3.8): requests built
by hand and sent with raw sockets, so every byte is ours.

Each case must get an XML-RPC fault (or, for what is not an XML-RPC request at all, an HTTP
error status), and afterwards the daemon must still be alive, answer get_version, and hold
no flow (a refused add_flow_* leaves nothing behind); at the end of each test SIGTERM must
end it with status 0 and no sanitizer report (tests/run.sh BUILD sys-san).

Covered: a valid add_flow_destination as the baseline; every member of it missing in turn;
<i4> for every boolean and every double, <double> for every int, <i4> for every string, a
non-struct param, out-of-range values, strings over 255 bytes; wrong param counts; unknown
method; bad settings; bodies of 300 KB and 8 MB; a lying Content-Length; garbage bytes;
malformed and truncated XML, entity expansion, an external entity, deep nesting; a wrong
path; GET; HTTP/1.0; 300 requests on one keep-alive connection; 16 idle connections not
blocking another client.

The real flowgrindd 0.8.2 (FLOWGRIND_TEST_IMPL=real) dies ("double free or corruption" or
SIGSEGV) on a missing member, <i4> for a boolean or a double, <double> for an int, an array
in place of a struct param, an int for extra_socket_options, and 5000 nested arrays; it
expands entities; 16 idle connections block it (§3.8, bug 35).

Usage: python3 tests/sys/test_flowgrindd_rpc.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import select
import socket
import sys
import time
import xmlrpc.client
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, test, TestFailure  # noqa: E402
from flowgrind_helpers import start_daemon, stop_daemon_clean  # noqa: E402

IO_TIMEOUT = 10.0

# ---- building requests by hand ------------------------------------------------------------------
# A value is (type, payload): ("i4", 5), ("int", 5), ("boolean", 1), ("double", 1.0),
# ("string", "x"), ("base64", "AAAA"), ("array", [values]), ("struct", {name: value}),
# ("raw", "<xml text>").


def value_xml(v):
    t, x = v
    if t == "raw":
        return f"<value>{x}</value>"
    if t == "struct":
        members = "".join(f"<member><name>{escape(k)}</name>{value_xml(m)}</member>\r\n"
                          for k, m in x.items())
        return f"<value><struct>\r\n{members}</struct></value>"
    if t == "array":
        return "<value><array><data>\r\n" + "".join(value_xml(e) + "\r\n" for e in x) + \
            "</data></array></value>"
    if t == "double":
        return f"<value><double>{x!r}</double></value>"
    if t == "string":
        return f"<value><string>{escape(x)}</string></value>"
    return f"<value><{t}>{x}</{t}></value>"


def call_xml(method, params):
    ps = "".join(f"<param>{value_xml(p)}</param>\r\n" for p in params)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\r\n<methodCall>\r\n'
            f"<methodName>{method}</methodName>\r\n<params>\r\n{ps}</params>\r\n"
            f"</methodCall>\r\n").encode()


def flow_settings():
    """The 15 structs of a valid add_flow_destination (§3.1, the values the real controller
    sends for a 1 s bulk flow's destination), as {member: (type, value)} dicts."""
    return [
        {"bind_address": ("string", "127.0.0.1")},
        {"flow_id": ("i4", 0)},
        {"write_delay": ("double", 0.0), "write_duration": ("double", 0.0),
         "read_delay": ("double", 0.0), "read_duration": ("double", 1.0),
         "reporting_interval": ("double", 0.05)},
        {"requested_send_buffer_size": ("i4", 0), "requested_read_buffer_size": ("i4", 0)},
        {"maximum_block_size": ("i4", 8192)},
        {"traffic_dump": ("boolean", 0), "so_debug": ("boolean", 0),
         "route_record": ("boolean", 0), "pushy": ("boolean", 0), "shutdown": ("boolean", 0)},
        {"write_rate": ("i4", 0), "random_seed": ("i4", 12345)},
        {"traffic_generation_request_distribution": ("i4", 0),
         "traffic_generation_request_param_one": ("double", 8192.0),
         "traffic_generation_request_param_two": ("double", 0.0)},
        {"traffic_generation_response_distribution": ("i4", 0),
         "traffic_generation_response_param_one": ("double", 0.0),
         "traffic_generation_response_param_two": ("double", 0.0)},
        {"traffic_generation_gap_distribution": ("i4", 0),
         "traffic_generation_gap_param_one": ("double", 0.0),
         "traffic_generation_gap_param_two": ("double", 0.0)},
        {"flow_control": ("boolean", 0), "byte_counting": ("boolean", 0), "cork": ("i4", 0),
         "nonagle": ("i4", 0)},
        {"cc_alg": ("string", "")},
        {"elcn": ("i4", 0), "lcd": ("i4", 0), "mtcp": ("i4", 0), "dscp": ("i4", 0),
         "ipmtudiscover": ("i4", 0)},
        {"dump_prefix": ("string", "flowgrind-")},
        {"num_extra_socket_options": ("i4", 0), "extra_socket_options": ("array", [])},
    ]


def as_params(structs):
    return [("struct", s) for s in structs]


def source_settings(port):
    """The 16 structs of a valid add_flow_source to 127.0.0.1:port."""
    s = flow_settings()
    s[2]["write_duration"], s[2]["read_duration"] = ("double", 1.0), ("double", 0.0)
    s.append({"destination_address": ("string", "127.0.0.1"),
              "destination_port": ("i4", port), "late_connect": ("i4", 0)})
    return s


# ---- raw HTTP ------------------------------------------------------------------------------------

def http_request(body, path="/RPC2", version="HTTP/1.1", method="POST", headers=None):
    hs = {"Host": "127.0.0.1", "Content-Type": "text/xml", "Content-Length": str(len(body))}
    if headers is not None:
        hs.update(headers)
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs.items()
                                                    if v is not None)
    return head.encode() + b"\r\n" + body


class Conn:
    """One TCP connection to the daemon; reads HTTP responses with a deadline."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("timed out reading the daemon's response")
        self.s.settimeout(left)
        try:
            data = self.s.recv(65536)
        except socket.timeout:
            raise TestFailure(f"no response from the daemon within {IO_TIMEOUT}s") from None
        if not data:
            raise EOFError
        self.buf += data

    def response(self):
        """(status, {header: value} lower-cased names, body) of the next response; raises
        EOFError when the server closed the connection instead."""
        deadline = time.monotonic() + IO_TIMEOUT
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        if not m:
            raise TestFailure(f"not an HTTP status line: {lines[0]!r}")
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            while len(self.buf) < n:
                self._fill(deadline)
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            try:
                while True:
                    self._fill(deadline)
            except EOFError:
                pass
            body, self.buf = self.buf, b""
        return int(m.group(1)), hdrs, body

    def close(self):
        self.s.close()


def exchange(port, raw):
    """Sends raw bytes on a new connection; returns (status, headers, body), or None when
    the daemon closed the connection without an answer."""
    return exchange_streaming(port, raw, b"")


def exchange_streaming(port, head, body, chunk=65536):
    """Sends head, then body in chunks while watching for an early answer (a server that
    refuses a body by its Content-Length answers before reading it; sending on into a
    closed socket would reset the connection and lose that answer). Returns like
    exchange."""
    c = Conn(port)
    try:
        try:
            c.send(head)
            for off in range(0, len(body), chunk):
                # give the server a moment to refuse by the headers (as with Expect:
                # 100-continue), then only look for an answer between chunks
                r, _, _ = select.select([c.s], [], [], 0.5 if off == 0 else 0)
                if r:
                    break
                c.send(body[off:off + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return c.response()
        except (EOFError, ConnectionResetError):
            return None
    finally:
        c.close()


def rpc_raw(port, method, params):
    """Posts a hand-made call; returns ('ok', value) or ('fault', code, string)."""
    r = exchange(port, http_request(call_xml(method, params)))
    return decode(r, method)


def decode(r, what):
    if r is None:
        raise TestFailure(f"{what}: the daemon closed the connection without an answer")
    status, _, body = r
    if status != 200:
        raise TestFailure(f"{what}: HTTP {status} instead of an XML-RPC answer: {body[:300]!r}")
    try:
        (val,), _ = xmlrpc.client.loads(body)
        return ("ok", val)
    except xmlrpc.client.Fault as f:
        return ("fault", f.faultCode, f.faultString)
    except Exception as e:  # noqa: BLE001 - anything unparseable fails the test
        raise TestFailure(f"{what}: unparseable answer ({e}): {body[:500]!r}")


def expect_fault(d, method, params, what, code=None, text=None):
    r = rpc_raw(d.port, method, params)
    check(r[0] == "fault", f"{what}: expected an XML-RPC fault, got {r!r}")
    check(r[1] < 0 and r[2], f"{what}: fault {r[1:]} without a negative code and a message")
    if code is not None:
        check(r[1] == code, f"{what}: fault code {r[1]} ({r[2]}), expected {code}")
    if text is not None:
        check(re.search(text, r[2]), f"{what}: fault string {r[2]!r} does not match /{text}/")
    still_serving(d, what)
    return r


def still_serving(d, after):
    """The daemon is alive, answers get_version and holds no flow."""
    if not d.alive():
        d.proc.wait(5)
        raise TestFailure(f"the daemon died after {after} (exit {d.proc.p.returncode})\n"
                          f"stderr: {d.proc.stderr[-2000:]}")
    r = rpc_raw(d.port, "get_version", [])
    check(r[0] == "ok" and r[1].get("version") == "0.8.2", f"get_version after {after}: {r}")
    st = rpc_raw(d.port, "get_status", [])
    check(st[0] == "ok" and st[1].get("num_flows") == 0,
          f"after {after} the daemon holds flows: {st}")


def drop_member(structs, i, name):
    out = [dict(s) for s in structs]
    del out[i][name]
    return out


def retype(structs, i, name, value):
    out = [dict(s) for s in structs]
    out[i][name] = value
    return out


# ---- the baseline: valid requests work ----------------------------------------------------------

@test
def valid_requests_are_served(h):
    """Baseline, so that the faults below are caused by the defect alone: the hand-made
    add_flow_destination succeeds (data port > 0, flow id echoed), <int> for <i4>, extra
    members and untyped strings are accepted (§3.8), stop_flow(-1) removes the flow."""
    d = start_daemon(h)
    r = rpc_raw(d.port, "add_flow_destination", as_params(flow_settings()))
    check(r[0] == "ok" and r[1].get("flow_id") == 0 and 0 < r[1].get("listen_data_port")
          < 65536, f"valid add_flow_destination: {r}")
    st = rpc_raw(d.port, "get_status", [])
    check(st == ("ok", {"started": 0, "num_flows": 1}), f"status after one add: {st}")
    r = rpc_raw(d.port, "stop_flow", [("struct", {"flow_id": ("i4", -1)})])
    check(r == ("ok", []), f"stop_flow(-1) answered {r}")
    still_serving(d, "a valid add and stop")
    lenient = flow_settings()
    lenient[1] = {"flow_id": ("int", 0), "an_extra_member": ("string", "ignored")}
    lenient[11] = {"cc_alg": ("raw", "")}
    lenient[0] = {"bind_address": ("raw", "127.0.0.1")}
    r = rpc_raw(d.port, "add_flow_destination", as_params(lenient))
    check(r[0] == "ok", f"add_flow_destination with <int>, an extra member and untyped "
          f"strings: {r}")
    check(rpc_raw(d.port, "stop_flow", [("struct", {"flow_id": ("i4", -1)})]) == ("ok", []),
          "stop_flow(-1)")
    still_serving(d, "a lenient add and stop")
    stop_daemon_clean(d)


# ---- missing members and wrong types -----------------------------------------------------------

@test
def every_missing_member_is_a_fault(h):
    """add_flow_destination with each of its 39 members missing in turn, and
    add_flow_source without each of its 3 extra members: a fault every time, no flow
    left (the real daemon dies on the first)."""
    d = start_daemon(h)
    base = flow_settings()
    check(sum(len(s) for s in base) == 39, "flow_settings() lost a member")
    for i, s in enumerate(base):
        for name in s:
            expect_fault(d, "add_flow_destination", as_params(drop_member(base, i, name)),
                         f"add_flow_destination without {name}")
    src = source_settings(9)
    for name in src[15]:
        expect_fault(d, "add_flow_source", as_params(drop_member(src, 15, name)),
                     f"add_flow_source without {name}")
    stop_daemon_clean(d)


@test
def wrong_types_are_faults(h):
    """<i4> for every boolean member, <i4> for every double, <double> for every int,
    <i4> for every string, <boolean>2: a fault each (the real daemon dies on the first
    two kinds, §3.8)."""
    d = start_daemon(h)
    base = flow_settings()
    for i, s in enumerate(base):
        for name, (t, v) in s.items():
            if t == "boolean":
                bad = [("i4", 0), ("boolean", 2), ("string", "true")]
            elif t == "double":
                bad = [("i4", int(v)), ("string", "abc")]
            elif t == "i4":
                bad = [("double", 1.5), ("string", "x"), ("boolean", 1)]
            elif t == "string":
                bad = [("i4", 1), ("array", [])]
            else:
                bad = [("i4", 0), ("string", "x")]
            for b in bad:
                expect_fault(d, "add_flow_destination", as_params(retype(base, i, name, b)),
                             f"{name} as <{b[0]}>{b[1]}")
    stop_daemon_clean(d)


@test
def malformed_params(h):
    """A param that is not a struct, a struct param that is an array, an int that
    overflows 32 bits, extra_socket_options holding garbage, negative and too-small
    settings (-501 'Flow settings incorrect', §3.1), strings over 255 bytes
    (doc/man/flowgrindd.1), a stop_flow for an unknown id (-500
    'Unknown flow id'), start_flows with a double timestamp."""
    d = start_daemon(h)
    base = as_params(flow_settings())
    for what, params in [
            ("a string instead of struct 1", [("string", "x")] + base[1:]),
            ("an array instead of struct 5", base[:4] + [("array", [])] + base[5:]),
            ("an i4 beyond 32 bits", as_params(retype(flow_settings(), 4, "maximum_block_size",
                                                      ("i4", 99999999999)))),
            ("a non-numeric i4", as_params(retype(flow_settings(), 4, "maximum_block_size",
                                                  ("i4", "12abc")))),
            ("extra options: an int", as_params(retype(flow_settings(), 14,
                                                       "extra_socket_options", ("i4", 3)))),
            ("extra options: strings", as_params(retype(retype(
                flow_settings(), 14, "extra_socket_options", ("array", [("string", "x")])),
                14, "num_extra_socket_options", ("i4", 1)))),
            ("extra options: count 1000", as_params(retype(flow_settings(), 14,
                                                           "num_extra_socket_options",
                                                           ("i4", 1000))))]:
        expect_fault(d, "add_flow_destination", params, what)
    for what, (i, name, v) in [
            ("maximum_block_size 39", (4, "maximum_block_size", ("i4", 39))),
            ("maximum_block_size -1", (4, "maximum_block_size", ("i4", -1))),
            ("negative read_duration", (2, "read_duration", ("double", -1.0))),
            ("negative send buffer", (3, "requested_send_buffer_size", ("i4", -5))),
            ("cc_alg of 40 chars", (11, "cc_alg", ("string", "x" * 40))),
            ("negative write_rate", (6, "write_rate", ("i4", -1)))]:
        expect_fault(d, "add_flow_destination", as_params(retype(flow_settings(), i, name, v)),
                     what, code=-501)
    expect_fault(d, "add_flow_source", as_params(retype(source_settings(0), 15,
                                                        "destination_port", ("i4", 0))),
                 "destination_port 0", code=-501)
    expect_fault(d, "add_flow_source", as_params(retype(source_settings(9), 15,
                                                        "destination_port", ("i4", 70000))),
                 "destination_port 70000", code=-501)
    # strings longer than 255 bytes (doc/man/flowgrindd.1)
    for i, name in ((0, "bind_address"), (13, "dump_prefix"), (11, "cc_alg")):
        expect_fault(d, "add_flow_destination", as_params(retype(
            flow_settings(), i, name, ("string", "a" * 300))), f"a 300-byte {name}")
    expect_fault(d, "add_flow_source", as_params(retype(
        source_settings(9), 15, "destination_address", ("string", "b" * 300))),
        "a 300-byte destination_address")
    expect_fault(d, "stop_flow", [("struct", {"flow_id": ("i4", 12345)})], "unknown flow id",
                 code=-500, text=r"^Unknown flow id$")
    expect_fault(d, "start_flows", [("struct", {"start_timestamp": ("double", 1.5)})],
                 "start_flows with a double", code=-501)
    stop_daemon_clean(d)


@test
def wrong_param_counts(h):
    """14 and 16 structs for add_flow_destination, 15 and 17 for add_flow_source, no param
    for start_flows and stop_flow: fault -502 each (§3.1, §3.7); get_version ignores extra
    params."""
    d = start_daemon(h)
    base = as_params(flow_settings())
    src = as_params(source_settings(9))
    for method, params in [("add_flow_destination", base[:14]),
                           ("add_flow_destination", base + [("struct", {})]),
                           ("add_flow_destination", []),
                           ("add_flow_source", src[:15]),
                           ("add_flow_source", src + [("struct", {})]),
                           ("start_flows", []), ("stop_flow", [])]:
        expect_fault(d, method, params, f"{method} with {len(params)} params", code=-502)
    r = rpc_raw(d.port, "get_version", [("i4", 1), ("string", "x")])
    check(r[0] == "ok" and r[1]["version"] == "0.8.2", f"get_version with params: {r}")
    stop_daemon_clean(d)


@test
def unknown_method(h):
    """An unknown method: fault -506 "Method 'foo_bar' not defined" (§3.7)."""
    d = start_daemon(h)
    expect_fault(d, "foo_bar", [], "unknown method", code=-506,
                 text=r"^Method 'foo_bar' not defined$")
    expect_fault(d, "x" * 5000, [], "a 5000-character method name")
    stop_daemon_clean(d)


# ---- malformed HTTP and XML ---------------------------------------------------------------------

def expect_http_error_or_fault(d, raw, what):
    """For input that is not a proper XML-RPC call: an HTTP 4xx/5xx or an XML-RPC fault (a
    closed connection without an answer is accepted only for what is not HTTP at all);
    then the daemon still serves."""
    r = exchange(d.port, raw)
    if r is not None:
        status, _, body = r
        if status == 200:
            check(decode(r, what)[0] == "fault", f"{what}: HTTP 200 without a fault: "
                  f"{body[:300]!r}")
        else:
            check(400 <= status < 600, f"{what}: HTTP status {status}")
    still_serving(d, what)
    return r


@test
def malformed_xml(h):
    """Garbage XML, XML that is not a methodCall, truncated XML (Content-Length matching
    the cut body), an unterminated value, invalid UTF-8, entity expansion (50 MB from 1 KB)
    and an external entity (doc/man/flowgrindd.1: entity-declaring bodies are refused),
    5000 nested arrays (220 KB, under netgrind's 256 KB request limit): a fault or an HTTP
    error each, and the daemon keeps serving."""
    d = start_daemon(h)
    good = call_xml("add_flow_destination", as_params(flow_settings()))
    deep = (b'<?xml version="1.0"?><methodCall><methodName>get_version</methodName><params>'
            b"<param>" + b"<value><array><data>" * 5000 + b"</data></array></value>" *
            5000 + b"</param></params></methodCall>")
    for what, body in [
            ("plain text", b"hello, daemon"),
            ("not a methodCall", b'<?xml version="1.0"?><foo><bar/></foo>'),
            ("truncated call", good[:len(good) // 2]),
            ("methodCall without a name", b"<?xml version='1.0'?><methodCall><params/>"
                                          b"</methodCall>"),
            ("unterminated value", b"<?xml version='1.0'?><methodCall><methodName>stop_flow"
                                   b"</methodName><params><param><value><struct><member>"
                                   b"<name>flow_id</name><value><i4>1</value></member>"
                                   b"</struct></value></param></params></methodCall>"),
            ("invalid UTF-8", b"<?xml version='1.0' encoding='UTF-8'?><methodCall><methodName>"
                              b"get_\xff\xfeversion</methodName></methodCall>"),
            ("empty body", b""),
            ("entity expansion", b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
                                 b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                                 b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
                                 b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
                                 b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">'
                                 b'<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
                                 b'<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>'
                                 b"<methodCall><methodName>get_version</methodName><params>"
                                 b"<param><value><string>&g;&g;&g;&g;&g;</string></value>"
                                 b"</param></params></methodCall>"),
            ("external entity", b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM '
                                b'"file:///etc/passwd">]><methodCall><methodName>get_version'
                                b"</methodName><params><param><value><string>&x;</string>"
                                b"</value></param></params></methodCall>"),
            ("deep nesting", deep)]:
        r = expect_http_error_or_fault(d, http_request(body), what)
        check(r is not None, f"{what}: connection closed without an answer")
    stop_daemon_clean(d)


@test
def huge_body(h):
    """Calls of 300 KB (above netgrind's 256 KB limit) and 8 MB (get_version with a huge
    string param), sent while watching for an early answer, then a Content-Length of 10**12
    with a short body: an HTTP error or a fault within the I/O timeout (or, for the lie, a
    closed connection), then the daemon serves."""
    d = start_daemon(h)
    for size in (300 << 10, 8 << 20):
        big = call_xml("get_version", [("string", "A" * size)])
        req = http_request(big)
        cut = req.index(b"\r\n\r\n") + 4
        t0 = time.monotonic()
        r = exchange_streaming(d.port, req[:cut], req[cut:])
        check(r is not None, f"{size} byte body: connection closed without an answer")
        status = r[0]
        if status == 200:
            check(decode(r, f"{size} byte body")[0] == "fault", f"{size} bytes: no fault")
        else:
            check(400 <= status < 600, f"{size} byte body: HTTP status {status}")
        check(time.monotonic() - t0 < IO_TIMEOUT, f"{size} byte body took too long")
        still_serving(d, f"a {size} byte body")
    c = Conn(d.port)
    try:
        c.send(http_request(b"<?xml", headers={"Content-Length": str(10**12)}))
        c.s.shutdown(socket.SHUT_WR)
        try:
            r = c.response()
        except (EOFError, ConnectionResetError):
            r = None
    finally:
        c.close()
    if r is not None:
        check(r[0] != 200 or decode(r, "a Content-Length of 10**12")[0] == "fault",
              f"a Content-Length of 10**12: HTTP 200 without a fault: {r[2][:300]!r}")
        check(r[0] == 200 or 400 <= r[0] < 600, f"a Content-Length of 10**12: HTTP {r[0]}")
    still_serving(d, "a Content-Length of 10**12")
    stop_daemon_clean(d)


@test
def garbage_bytes(h):
    """Random binary bytes, a request line without HTTP, a negative Content-Length, 64 KB of
    header lines: an HTTP error or a closed connection, and the daemon keeps serving."""
    d = start_daemon(h)
    rnd = bytes((i * 7919 + 13) % 256 for i in range(8192))
    for what, raw in [
            ("binary garbage", rnd),
            ("request line without HTTP", b"HELLO\r\n\r\n"),
            ("negative Content-Length", http_request(b"<x/>", headers={"Content-Length": "-5"})),
            ("64 KB of headers", b"POST /RPC2 HTTP/1.1\r\n" +
             b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 60) for i in range(1000)) + b"\r\n"),
            ("NUL bytes in the request line", b"POST /RPC2\x00\x00 HTTP/1.1\r\n\r\n")]:
        expect_http_error_or_fault(d, raw, what)
    stop_daemon_clean(d)


@test
def other_paths_and_methods(h):
    """Only /RPC2 is served: another path gives 404 (§1.1); GET on /RPC2 is an HTTP error;
    HTTP/1.0 requests work (§1.1) and are answered."""
    d = start_daemon(h)
    body = call_xml("get_version", [])
    r = exchange(d.port, http_request(body, path="/"))
    check(r is not None and r[0] == 404, f"POST / answered {r and r[0]}")
    r = exchange(d.port, http_request(body, path="/RPC2/../etc/passwd"))
    check(r is not None and r[0] == 404, f"POST /RPC2/../etc/passwd answered {r and r[0]}")
    r = exchange(d.port, http_request(b"", method="GET"))
    check(r is not None and 400 <= r[0] < 600, f"GET /RPC2 answered {r and r[0]}")
    still_serving(d, "other paths")
    r = exchange(d.port, http_request(body, version="HTTP/1.0", headers={"Host": None}))
    check(decode(r, "HTTP/1.0 get_version")[0] == "ok", "HTTP/1.0 get_version")
    r = exchange(d.port, http_request(body, headers={"Content-Type": None}))
    check(decode(r, "no Content-Type")[0] == "ok", "a call without Content-Type")
    stop_daemon_clean(d)


@test
def many_requests_on_one_connection(h):
    """300 calls on one keep-alive connection (get_version, get_status, an unknown method
    and a faulting add in turn), each sent after the previous answer: every one answered on
    that connection, which stays open (§1.1: keep-alive, max=1000)."""
    d = start_daemon(h)
    c = Conn(d.port)
    h.on_cleanup(c.close)
    calls = [("get_version", []), ("get_status", []), ("no_such", []),
             ("add_flow_destination", as_params(flow_settings())[:3])]
    for n in range(300):
        m, p = calls[n % 4]
        c.send(http_request(call_xml(m, p)))
        try:
            r = c.response()
        except EOFError:
            raise TestFailure(f"the daemon closed the keep-alive connection after {n} calls")
        got = decode(r, f"call {n} ({m}) on one connection")
        want_ok = m in ("get_version", "get_status")
        check((got[0] == "ok") == want_ok, f"call {n} ({m}): {got}")
        if m == "get_version":
            check(got[1]["version"] == "0.8.2", f"call {n}: {got}")
    still_serving(d, "300 calls on one connection")
    stop_daemon_clean(d)


@test
def idle_connections_do_not_block(h):
    """Eight connections that sent half a request and went quiet, and eight that sent
    nothing: another client's get_version is still answered within 2 s."""
    d = start_daemon(h)
    idle = []
    for k in range(16):
        c = Conn(d.port)
        h.on_cleanup(c.close)
        if k % 2 == 0:
            c.send(b"POST /RPC2 HTTP/1.1\r\nContent-Length: 100\r\n")
        idle.append(c)
    t0 = time.monotonic()
    r = exchange(d.port, http_request(call_xml("get_version", [])))
    took = time.monotonic() - t0
    check(decode(r, "get_version next to idle connections")[0] == "ok", "get_version")
    check(took < 2.0, f"get_version took {took:.1f}s next to 16 idle connections")
    for c in idle:
        c.close()
    still_serving(d, "idle connections")
    stop_daemon_clean(d)


if __name__ == "__main__":
    run_tests()
