#!/usr/bin/env python3
"""A TCP relay for the seqtest system tests that injects faults at message granularity.

The relay listens on loopback (port 0 unless told otherwise), and forwards every accepted
connection to a target. It understands seqtest's framing (doc/man/seqtest.1, spec §3): each
message starts with a 40-byte little-endian header whose uint16 at offset 36 (ssz) is the
size of a request and whose uint16 at offset 38 (rsz) is the size of a reply; messages follow
each other back to back. Requests travel "up" (client to server) and are framed by ssz;
replies travel "down" and are framed by rsz. Message numbers count from 0 per connection and
direction, so request number N is the one the sender numbered N.

A fault is written KIND:MSG[:ARG[:MASK]][@CONN], deterministic:

    reorder:N        hold request N and forward it right after request N+1
    dup:N            forward request N twice
    drop:N           never forward request N
    corrupt:N:OFF    flip byte OFF of request N (XOR with MASK, default 0xff); OFF < 40 hits
                     the header, OFF >= 40 the payload
    truncate:N[:K]   forward only the first K bytes (default 20) of request N, then close both
                     sides of the connection
    snip:N:OFF[:K]   forward request N without its K bytes (default 1) from byte OFF on, and
                     go on: bytes lost in the middle of the stream, the connection intact
    close:N          close both sides instead of forwarding request N

A `reply-` prefix (reply-dup:3) applies the fault to the replies instead. `@CONN` limits the
fault to the CONN-th accepted connection (0-based); without it the fault applies to every
connection. A stream whose header announces a size outside 40..8000 cannot be framed: the
relay notes it and forwards the rest of that stream unchanged.

Use as a module:

    relay = FaultRelay(("127.0.0.1", port), ["dup:7"]).start()
    ... connect to relay.port ...
    relay.close()

or as a script (prints "relay listening on PORT", then one line per event):

    python3 tests/sys/faultrelay.py [--listen HOST]... TARGET_HOST:PORT [FAULT...]
"""

import socket
import struct
import sys
import threading
import time

HEADER_SIZE = 40
MAX_MSG = 8000
KINDS = ("reorder", "dup", "drop", "corrupt", "truncate", "snip", "close")
UP, DOWN = "up", "down"
MAX_SIZES = 100000


class Fault:
    """One parsed fault: what to do to which message of which direction and connection."""

    def __init__(self, kind, msg, arg=None, mask=0xFF, conn=None, direction=UP, count=1):
        self.kind, self.msg, self.arg, self.mask = kind, msg, arg, mask
        self.count = count  # snip: how many bytes
        self.conn, self.direction = conn, direction

    def applies(self, conn_index, direction):
        return self.direction == direction and self.conn in (None, conn_index)

    def __repr__(self):  # the fault string it was parsed from, normalised
        prefix = "reply-" if self.direction == DOWN else ""
        arg = "" if self.arg is None else f":{self.arg}"
        if self.kind == "corrupt" and self.mask != 0xFF:
            arg += f":{self.mask:#x}"
        if self.kind == "snip" and self.count != 1:
            arg += f":{self.count}"
        conn = "" if self.conn is None else f"@{self.conn}"
        return f"{prefix}{self.kind}:{self.msg}{arg}{conn}"


def parse_fault(text):
    """Parses one fault string (see the module comment); raises ValueError naming the fault."""
    spec, conn = text, None
    if "@" in spec:
        spec, conn_text = spec.rsplit("@", 1)
        conn = _parse_int(conn_text, text, "connection")
    direction = UP
    if spec.startswith("reply-"):
        spec, direction = spec[len("reply-"):], DOWN
    parts = spec.split(":")
    kind = parts[0]
    if kind not in KINDS:
        raise ValueError(f"fault {text!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    if len(parts) < 2:
        raise ValueError(f"fault {text!r}: needs a message number")
    msg = _parse_int(parts[1], text, "message number")
    arg, mask, count = None, 0xFF, 1
    if kind == "corrupt":
        if len(parts) not in (3, 4):
            raise ValueError(f"fault {text!r}: corrupt:MSG:OFFSET[:MASK]")
        arg = _parse_int(parts[2], text, "byte offset")
        if len(parts) == 4:
            mask = _parse_int(parts[3], text, "mask")
            if not 1 <= mask <= 0xFF:
                raise ValueError(f"fault {text!r}: mask must be 1..255")
    elif kind == "snip":
        if len(parts) not in (3, 4):
            raise ValueError(f"fault {text!r}: snip:MSG:OFFSET[:BYTES]")
        arg = _parse_int(parts[2], text, "byte offset")
        count = _parse_int(parts[3], text, "byte count") if len(parts) == 4 else 1
        if count < 1:
            raise ValueError(f"fault {text!r}: byte count must be at least 1")
    elif kind == "truncate":
        if len(parts) > 3:
            raise ValueError(f"fault {text!r}: truncate:MSG[:BYTES]")
        arg = _parse_int(parts[2], text, "byte count") if len(parts) == 3 else 20
    elif len(parts) != 2:
        raise ValueError(f"fault {text!r}: {kind}:MSG takes no further argument")
    return Fault(kind, msg, arg, mask, conn, direction, count)


def _parse_int(s, whole, what):
    try:
        v = int(s, 0)
    except ValueError:
        raise ValueError(f"fault {whole!r}: bad {what} {s!r}") from None
    if v < 0:
        raise ValueError(f"fault {whole!r}: negative {what}")
    return v


def message_size(header, direction):
    """The total size a header announces: ssz for requests, rsz for replies."""
    off = 36 if direction == UP else 38
    return struct.unpack_from("<H", header, off)[0]


class Connection:
    """What the relay saw of one accepted connection (read it from the test's thread)."""

    def __init__(self, index, peer, local):
        self.index = index
        self.peer = peer            # (host, port) of the client as the relay saw it
        self.local = local          # (host, port) the client connected to
        self.upstream = None        # (host, port) of the relay's own end towards the target
        self.messages = {UP: 0, DOWN: 0}   # complete messages read in each direction
        self.sizes = {UP: [], DOWN: []}    # sizes of the first MAX_SIZES messages read
        self.eof = {UP: False, DOWN: False}
        self.partial = {UP: 0, DOWN: 0}    # bytes of an incomplete last message at EOF
        self.unframeable = {UP: None, DOWN: None}  # the bad size, if framing was lost
        self.applied = []           # repr of each fault applied, in order
        self.closed = False


class FaultRelay:
    """Forwards connections from listen addresses to target, applying faults."""

    def __init__(self, target, faults=(), listen=("127.0.0.1",), port=0, log=None):
        self.target = target
        self.faults = [f if isinstance(f, Fault) else parse_fault(f) for f in faults]
        self.listen_hosts = list(listen)
        self.want_port = port
        self.port = None
        self.connections = []
        self.events = []
        self._log_fn = log
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listeners = []
        self._socks = []
        self._threads = []

    # ---- life cycle ----------------------------------------------------------------------

    def start(self):
        """Binds every listen host on one port (port 0 picks it) and starts accepting."""
        for _attempt in range(50):
            try:
                self._bind_all()
                break
            except OSError:
                self._close_listeners()
                if self.want_port:
                    raise
        else:
            raise OSError("could not bind every listen host on one common port")
        for ls in self._listeners:
            self._thread(self._accept_loop, ls)
        self.log(f"relay listening on {self.port}")
        return self

    def _bind_all(self):
        port = self.want_port
        for host in self.listen_hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            ls = socket.socket(family, socket.SOCK_STREAM)
            self._listeners.append(ls)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            ls.bind((host, port))
            ls.listen(256)
            ls.settimeout(0.1)
            port = ls.getsockname()[1]
        self.port = port

    def _close_listeners(self):
        for ls in self._listeners:
            ls.close()
        self._listeners = []

    def close(self):
        """Stops accepting, closes every connection and joins the relay's threads."""
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            _shutdown(s)
        for t in self._threads:
            t.join(timeout=5)
        self._close_listeners()
        for s in socks:
            s.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- what the tests read -------------------------------------------------------------

    def log(self, line):
        with self._lock:
            self.events.append(line)
        if self._log_fn:
            self._log_fn(line)

    def applied(self):
        """Every fault applied so far, as 'conn C: FAULT' strings."""
        with self._lock:
            return [f"conn {c.index}: {a}" for c in self.connections for a in c.applied]

    def wait_connections(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.connections) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"relay saw {len(self.connections)} connections, not {n}")
            time.sleep(0.01)
        return self.connections

    # ---- accepting and pumping -----------------------------------------------------------

    def _thread(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        self._threads.append(t)
        t.start()
        return t

    def _accept_loop(self, ls):
        while not self._stop.is_set():
            try:
                client, peer = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            self._start_connection(client, peer)

    def _start_connection(self, client, peer):
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
        with self._lock:
            conn = Connection(len(self.connections), peer[:2], client.getsockname()[:2])
            self.connections.append(conn)
            self._socks += [client, server]
        self.log(f"conn {conn.index} accepted from {_fmt(peer)} on {_fmt(conn.local)}")
        try:
            server.connect(self.target)
        except OSError as e:
            self.log(f"conn {conn.index} connect to {_fmt(self.target)} failed: {e}")
            _shutdown(client)
            conn.closed = True
            return
        conn.upstream = server.getsockname()[:2]
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(conn, client, server)
        self._thread(self._pump, pair, UP)
        self._thread(self._pump, pair, DOWN)

    def _pump(self, pair, direction):
        """Reads one direction, cuts it into messages and forwards them, applying faults."""
        conn = pair.conn
        src, dst = (pair.client, pair.server) if direction == UP else (pair.server, pair.client)
        faults = [f for f in self.faults if f.applies(conn.index, direction)]
        buf = bytearray()
        held = None          # a message kept back by reorder, with its number
        raw = False          # framing lost: forward bytes as they come
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if raw:
                    dst.sendall(data)
                    continue
                buf += data
                out, consumed = bytearray(), 0
                while len(buf) - consumed >= HEADER_SIZE:
                    size = message_size(buf[consumed:consumed + HEADER_SIZE], direction)
                    if size < HEADER_SIZE or size > MAX_MSG:
                        conn.unframeable[direction] = size
                        self.log(f"conn {conn.index} {direction}: message "
                                 f"{conn.messages[direction]} announces size {size}; "
                                 "forwarding the rest unframed")
                        raw = True
                        break
                    if len(buf) - consumed < size:
                        break
                    msg = bytes(buf[consumed:consumed + size])
                    consumed += size
                    n = conn.messages[direction]
                    conn.messages[direction] = n + 1
                    if n < MAX_SIZES:
                        conn.sizes[direction].append(size)
                    action, held = self._apply(conn, direction, faults, n, msg, held, out)
                    if action == "close":
                        if out:
                            dst.sendall(out)
                        pair.close_both()
                        return
                if raw:
                    out += buf[consumed:]
                    buf.clear()
                else:
                    del buf[:consumed]
                if out:
                    dst.sendall(out)
            if held is not None:
                dst.sendall(held[1])
            if buf:
                dst.sendall(buf)    # a partial message: pass it on as it came
            conn.eof[direction] = True
            conn.partial[direction] = len(buf)
            self.log(f"conn {conn.index} {direction}: eof after "
                     f"{conn.messages[direction]} messages"
                     + (f" and {len(buf)} bytes of a partial one" if buf else ""))
            pair.half_close(dst, direction)
        except OSError as e:
            if not self._stop.is_set():
                self.log(f"conn {conn.index} {direction}: {e}")
            pair.close_both()

    def _apply(self, conn, direction, faults, n, msg, held, out):
        """Appends what to forward for message n to out; returns (action, held)."""
        fault = next((f for f in faults if f.msg == n), None)
        released = held is not None and held[0] == n - 1
        if fault is None:
            out += msg
        else:
            self._note(conn, fault, direction)
            if fault.kind == "dup":
                out += msg + msg
            elif fault.kind == "drop":
                pass
            elif fault.kind == "corrupt":
                if fault.arg < len(msg):
                    b = bytearray(msg)
                    b[fault.arg] ^= fault.mask
                    out += b
                else:
                    self.log(f"conn {conn.index} {direction}: corrupt offset {fault.arg} is "
                             f"beyond message {n} of {len(msg)} bytes; forwarded unchanged")
                    out += msg
            elif fault.kind == "snip":
                if fault.arg < len(msg):
                    out += msg[:fault.arg] + msg[fault.arg + fault.count:]
                else:
                    self.log(f"conn {conn.index} {direction}: snip offset {fault.arg} is "
                             f"beyond message {n} of {len(msg)} bytes; forwarded unchanged")
                    out += msg
            elif fault.kind == "reorder":
                if released:
                    out += held[1]
                return "go", (n, msg)
            elif fault.kind == "truncate":
                out += msg[:fault.arg]
                return "close", None
            elif fault.kind == "close":
                return "close", None
        if released:
            out += held[1]
            held = None
        return "go", held

    def _note(self, conn, fault, direction):
        with self._lock:
            conn.applied.append(repr(fault))
        self.log(f"conn {conn.index} {direction}: applied {fault!r}")


class _Pair:
    """The two sockets of one relayed connection and their orderly shutdown."""

    def __init__(self, conn, client, server):
        self.conn, self.client, self.server = conn, client, server
        self._lock = threading.Lock()
        self._half = set()

    def half_close(self, dst, direction):
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:
            self._half.add(direction)
            done = len(self._half) == 2
        if done:
            self.close_both()

    def close_both(self):
        with self._lock:
            if self.conn.closed:
                return
            self.conn.closed = True
        for s in (self.client, self.server):
            _shutdown(s)


def _shutdown(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _fmt(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_hostport(text):
    """HOST:PORT or [V6]:PORT to (host, port)."""
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not port.isdigit():
        raise ValueError(f"bad address {text!r}: want HOST:PORT or [V6]:PORT")
    return host, int(port)


def main(argv):
    listen, rest = [], []
    it = iter(argv)
    for a in it:
        if a == "--listen":
            listen.append(next(it, None) or _usage())
        elif a in ("-h", "--help"):
            _usage(0)
        else:
            rest.append(a)
    if not rest:
        _usage()
    try:
        target = parse_hostport(rest[0])
        faults = [parse_fault(f) for f in rest[1:]]
    except ValueError as e:
        print(f"faultrelay: {e}", file=sys.stderr)
        return 64
    relay = FaultRelay(target, faults, listen=listen or ["127.0.0.1"],
                       log=lambda line: print(line, flush=True))
    relay.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        relay.close()
    return 0


def _usage(code=64):
    print("usage: faultrelay.py [--listen HOST]... TARGET_HOST:PORT [FAULT...]\n"
          "faults: reorder:N dup:N drop:N corrupt:N:OFF[:MASK] truncate:N[:K] close:N,\n"
          "        optionally prefixed reply- and suffixed @CONN", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
