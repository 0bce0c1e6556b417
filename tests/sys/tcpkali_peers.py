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
    """

    def __init__(self, h, host="127.0.0.1", echo=False, delay=0.0, greeting=b"", script=(),
                 periodic=None, reset_after_bytes=None, reset_after_s=None, keep=1 << 20,
                 keep_times=False,
                 rcvbuf=None):
        self.host = host
        self.echo, self.delay, self.greeting, self.script = echo, delay, greeting, script
        self.periodic = periodic
        self.reset_after_bytes, self.reset_after_s = reset_after_bytes, reset_after_s
        self.keep, self.keep_times = keep, keep_times
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
