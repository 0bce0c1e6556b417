"""Python test peers for the tcpkali system tests (test_tcpkali*.py), all on loopback and all
bound to port 0 by themselves:

  PeerServer   a TCP server on one thread (selectors + a timer heap) whose behaviour per
               connection is chosen by options: a counting sink that keeps what it received,
               an echo (optionally delaying each reply), a peer that sends bytes on accept,
               or one that resets (RST) each connection after some bytes or some time
  FullBacklog  a listener that never accepts, with its accept queue filled, so that further
               SYNs are dropped and connects time out
  refused_port a port that is bound but does not listen, so connects are refused
  Statsd       a UDP listener that collects datagrams

Every peer registers its cleanup with the test's Harness (h.on_cleanup), so it is closed
whatever the test does. Nothing here sleeps to wait: the server thread blocks in select()
with a timeout computed from its timer heap, and a waker pipe ends it.
"""

import heapq
import os
import select
import selectors
import socket
import struct
import threading
import time

from harness import TestFailure


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Conn:
    """What the server saw on one accepted connection."""

    def __init__(self, sock, peer, keep):
        self.sock = sock
        self.peer = peer
        self.accepted_at = time.monotonic()
        self.closed_at = None
        self.rcvd = 0           # bytes received
        self.data = bytearray() if keep else None  # received bytes (up to the keep limit)
        self.sent = 0
        self.outbuf = bytearray()
        self.eof = False        # the client closed (orderly)
        self.error = None       # errno text if the connection ended in an error
        self.reset_by_us = False
        self.arrivals = []      # (monotonic time, n) per recv, when keep_times


class PeerServer:
    """A TCP server for tests. Options:
      echo=True          send back what arrives (after `delay` seconds per received chunk)
      delay=0.0          seconds to hold each echoed chunk
      greeting=b""       bytes sent once right after accept
      script=()          [(seconds after accept, bytes)]: sent at those times
      periodic=None      (seconds, fn): fn() is called and its bytes sent every `seconds`
      reset_after_bytes  send RST (SO_LINGER 0 close) once this many bytes arrived
      reset_after_s      send RST this long after accept
      keep=1<<20         keep up to this many received bytes per connection (0: none)
      keep_times=False   record (time, n) of every recv
      rcvbuf=None        SO_RCVBUF of the listener (inherited by accepted sockets)
      on_data=None       fn(server, conn, data), called on the server thread after each
                         recv (after the bytes are recorded): a protocol peer built on this
                         one (WsPeer) answers from there with server.send(conn, bytes)
    """

    def __init__(self, h, host="127.0.0.1", echo=False, delay=0.0, greeting=b"", script=(),
                 periodic=None, reset_after_bytes=None, reset_after_s=None, keep=1 << 20,
                 keep_times=False,
                 rcvbuf=None, on_data=None):
        self.host = host
        self.echo, self.delay, self.greeting, self.script = echo, delay, greeting, script
        self.periodic = periodic
        self.reset_after_bytes, self.reset_after_s = reset_after_bytes, reset_after_s
        self.keep, self.keep_times = keep, keep_times
        self.on_data = on_data
        self.lsock = socket.socket(_family(host), socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.lsock.bind((host, 0))
        self.lsock.listen(1024)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self._timers = []  # heap of (due, seq, fn)
        self._seq = 0
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel.register(self.lsock, selectors.EVENT_READ, ("listen", None))
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._stop = False
        self.failure = None  # an exception in the server thread, re-raised by check_ok()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        h.on_cleanup(self.close)

    @property
    def addr(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    # ---- figures, read from the test thread ---------------------------------------------

    # Each accessor first re-raises a failure of the server thread, so a broken peer fails
    # the test instead of looking like a quiet one.

    def snapshot(self):
        self.check_ok()
        with self.lock:
            return list(self.conns)

    def accepted(self):
        self.check_ok()
        with self.lock:
            return len(self.conns)

    def total_rcvd(self):
        self.check_ok()
        with self.lock:
            return sum(c.rcvd for c in self.conns)

    def open_count(self):
        self.check_ok()
        with self.lock:
            return sum(1 for c in self.conns if c.closed_at is None)

    def check_ok(self):
        if self.failure is not None:
            raise TestFailure(f"test peer failed: {self.failure!r}")

    # ---- the server thread -------------------------------------------------------------

    def _after(self, seconds, fn):
        self._seq += 1
        heapq.heappush(self._timers, (time.monotonic() + seconds, self._seq, fn))

    def _run(self):
        try:
            while not self._stop:
                timeout = None
                if self._timers:
                    timeout = max(0.0, self._timers[0][0] - time.monotonic())
                for key, events in self._sel.select(timeout):
                    kind, conn = key.data
                    if kind == "listen":
                        self._accept()
                    elif kind == "wake":
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                    else:
                        if events & selectors.EVENT_READ and conn.closed_at is None:
                            self._readable(conn)
                        if events & selectors.EVENT_WRITE and conn.closed_at is None:
                            self._flush(conn)
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    _, _, fn = heapq.heappop(self._timers)
                    fn()
        except Exception as e:  # reported to the test by check_ok()
            self.failure = e

    def _accept(self):
        for _ in range(64):
            try:
                s, peer = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            s.setblocking(False)
            c = Conn(s, peer, self.keep > 0)
            with self.lock:
                self.conns.append(c)
            self._sel.register(s, selectors.EVENT_READ, ("conn", c))
            if self.greeting:
                self._send(c, self.greeting)
            for at, data in self.script:
                self._after(at, lambda c=c, d=data: self._send(c, d))
            if self.periodic:
                self._tick(c, self.periodic[0])
            if self.reset_after_s is not None:
                self._after(self.reset_after_s, lambda c=c: self._reset(c))

    def _tick(self, c, interval):
        """Sends periodic's bytes now and every interval while the connection is open."""
        if c.closed_at is not None:
            return
        self._send(c, self.periodic[1]())
        self._after(interval, lambda: self._tick(c, interval))

    def _readable(self, c):
        try:
            data = c.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            c.error = os.strerror(e.errno) if e.errno else str(e)
            self._close(c)
            return
        if not data:
            c.eof = True
            self._close(c)
            return
        with self.lock:
            c.rcvd += len(data)
            if c.data is not None and len(c.data) < self.keep:
                c.data.extend(data[: self.keep - len(c.data)])
            if self.keep_times:
                c.arrivals.append((time.monotonic(), len(data)))
        if self.on_data is not None:
            self.on_data(self, c, data)
        if self.echo:
            if self.delay > 0:
                self._after(self.delay, lambda c=c, d=data: self._send(c, d))
            else:
                self._send(c, data)
        if self.reset_after_bytes is not None and c.rcvd >= self.reset_after_bytes:
            self._reset(c)

    def _send(self, c, data):
        if c.closed_at is not None:
            return
        c.outbuf.extend(data)
        self._flush(c)

    def send(self, c, data):
        """Queues bytes on connection c (server thread only: from on_data or a timer)."""
        self._send(c, data)

    def close_conn(self, c):
        """Closes connection c orderly (server thread only)."""
        self._close(c)

    def _flush(self, c):
        while c.outbuf:
            try:
                n = c.sock.send(c.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                c.error = os.strerror(e.errno) if e.errno else str(e)
                self._close(c)
                return
            c.sent += n
            del c.outbuf[:n]
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.outbuf else 0)
        self._sel.modify(c.sock, ev, ("conn", c))

    def _reset(self, c):
        if c.closed_at is not None:
            return
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.reset_by_us = True
        self._close(c)

    def _close(self, c):
        if c.closed_at is not None:
            return
        try:
            self._sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        with self.lock:
            c.closed_at = time.monotonic()

    def close(self):
        if self._stop:
            return
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for c in self.snapshot():
            if c.closed_at is None:
                try:
                    c.sock.close()
                except OSError:
                    pass
        self._sel.close()
        self.lsock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


class FullBacklog:
    """A listener (backlog 0) that never accepts, whose accept queue the test fills with its
    own connections; a further connect's SYN is then dropped by the kernel and the connect
    stays pending until the client gives up."""

    def __init__(self, h, host="127.0.0.1"):
        self.lsock = socket.socket(_family(host), socket.SOCK_STREAM)
        self.lsock.bind((host, 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.fillers = []
        h.on_cleanup(self.close)
        # Connect until one does not complete: the queue is then full. Each attempt is
        # bounded (a connect either completes at once on loopback or its SYN was dropped).
        for _ in range(16):
            s = socket.socket(_family(host), socket.SOCK_STREAM)
            s.setblocking(False)
            self.fillers.append(s)
            try:
                s.connect((host, self.port))
            except BlockingIOError:
                pass
            _, w, _ = select.select([], [s], [], 0.3)
            if not w:
                return  # this SYN was dropped: the accept queue is full
        raise TestFailure("could not fill the accept queue of a backlog-0 listener")

    def close(self):
        for s in self.fillers:
            s.close()
        self.lsock.close()


def refused_port(h, host="127.0.0.1"):
    """A loopback port that refuses connections: bound, never listening, held by the test."""
    s = socket.socket(_family(host), socket.SOCK_STREAM)
    s.bind((host, 0))
    h.on_cleanup(s.close)
    return s.getsockname()[1]


class Statsd:
    """A UDP socket on loopback port 0 that collects the datagrams sent to it."""

    def __init__(self, h, host="127.0.0.1"):
        self.s = socket.socket(_family(host), socket.SOCK_DGRAM)
        self.s.bind((host, 0))
        self.port = self.s.getsockname()[1]
        self.datagrams = []
        h.on_cleanup(self.s.close)

    def drain(self, timeout=0.0):
        """Collects what has arrived; waits up to timeout for the first datagram."""
        while True:
            r, _, _ = select.select([self.s], [], [], timeout)
            if not r:
                return self.datagrams
            self.datagrams.append(self.s.recv(65536))
            timeout = 0.0


# ---- WebSocket (RFC 6455) pieces for the tests: written from the RFC, independent of netgrind

import base64  # noqa: E402
import hashlib  # noqa: E402
from collections import namedtuple  # noqa: E402

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG, WS_CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0

# One parsed frame: fin (bool), rsv (the three RSV bits, 0..7), opcode, masked (bool), key
# (4 bytes or None) and the payload, already unmasked.
WsFrame = namedtuple("WsFrame", "fin rsv opcode masked key payload")


def ws_accept(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): base64(SHA-1(key +
    GUID)). The RFC's example: ws_accept('dGhlIHNhbXBsZSBub25jZQ==') is
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo='."""
    if isinstance(key, str):
        key = key.encode()
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()


def ws_frame(opcode, payload=b"", fin=True, mask=None, rsv=0):
    """One frame: FIN, RSV bits, opcode, the shortest length form, and the payload masked
    with the 4-byte mask when given (a client's frame)."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n <= 125:
        head = struct.pack("!BB", b0, mbit | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask is None:
        return head + bytes(payload)
    return head + bytes(mask) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_parse(buf, limit=None):
    """Parses whole frames at the start of buf (at most limit of them): ([WsFrame], bytes
    consumed). A partial frame at the end is left (not consumed)."""
    frames, off = [], 0
    while len(buf) - off >= 2 and (limit is None or len(frames) < limit):
        b0, b1 = buf[off], buf[off + 1]
        n, pos = b1 & 0x7F, off + 2
        if n == 126:
            if len(buf) - pos < 2:
                break
            n = struct.unpack_from("!H", buf, pos)[0]
            pos += 2
        elif n == 127:
            if len(buf) - pos < 8:
                break
            n = struct.unpack_from("!Q", buf, pos)[0]
            pos += 8
        key = None
        if b1 & 0x80:
            if len(buf) - pos < 4:
                break
            key = bytes(buf[pos:pos + 4])
            pos += 4
        if len(buf) - pos < n:
            break
        payload = bytes(buf[pos:pos + n])
        if key is not None:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        frames.append(WsFrame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, key is not None,
                              key, payload))
        off = pos + n
    return frames, off


def ws_request(host, path="/", key=None, extra=()):
    """A client's opening handshake: (request bytes, key)."""
    if key is None:
        key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


def http_head(buf):
    """(status or request line, {lower-case header: value}, head length) when buf holds a
    whole HTTP head (up to the blank line), else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, end + 4


class WsPeer:
    """A WebSocket server for tests on a PeerServer (loopback, port 0). Per connection it
    records the request line and headers of the opening handshake and every frame it gets
    (conn.ws_request_line, conn.ws_headers, conn.ws_frames). `answer` chooses the response:
      "101"         a correct upgrade; then data frames are recorded (and echoed unmasked
                    with echo=True), a ping is answered with a pong, a close with a close
      "404"         HTTP/1.1 404 Not Found, then the connection is closed
      "bad_accept"  a 101 whose Sec-WebSocket-Accept is wrong
    """

    def __init__(self, h, answer="101", echo=False, host="127.0.0.1"):
        self.answer, self.echo = answer, echo
        self.srv = PeerServer(h, host=host, on_data=self._on_data)
        self.port, self.addr = self.srv.port, self.srv.addr

    def conns(self):
        return self.srv.snapshot()

    def upgraded(self):
        """The connections whose handshake was answered."""
        return [c for c in self.conns() if getattr(c, "ws_request_line", None)]

    def _on_data(self, srv, c, data):
        if not hasattr(c, "ws_buf"):
            c.ws_buf, c.ws_request_line, c.ws_headers, c.ws_frames = bytearray(), None, {}, []
        c.ws_buf.extend(data)
        if c.ws_request_line is None:
            head = http_head(c.ws_buf)
            if head is None:
                return
            c.ws_request_line, c.ws_headers, n = head
            del c.ws_buf[:n]
            key = c.ws_headers.get("sec-websocket-key", "")
            if self.answer == "404":
                srv.send(c, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
                srv.close_conn(c)
                return
            accept = ws_accept(key) if self.answer == "101" else ws_accept(key + "x")
            srv.send(c, ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                         f"{accept}\r\n\r\n").encode())
        frames, n = ws_parse(c.ws_buf)
        del c.ws_buf[:n]
        with srv.lock:
            c.ws_frames.extend(frames)
        for f in frames:
            if f.opcode == WS_PING:
                srv.send(c, ws_frame(WS_PONG, f.payload))
            elif f.opcode == WS_CLOSE:
                srv.send(c, ws_frame(WS_CLOSE, f.payload[:2]))
            elif self.echo and f.opcode in (WS_TEXT, WS_BINARY, WS_CONT):
                srv.send(c, ws_frame(f.opcode, f.payload, fin=f.fin))
