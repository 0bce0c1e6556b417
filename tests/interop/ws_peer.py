"""An independent WebSocket peer for the interop tests: Debian's python3-websockets (an RFC
6455 implementation that validates what it receives: the handshake and accept key, client
masking, frame lengths, UTF-8 of text, control frames), driven from the command line.

Run it with /usr/bin/python3 (Debian's interpreter, where python3-websockets is installed).

  ws_peer.py server [--echo]
      Listens on 127.0.0.1, port 0, and prints `LISTEN <port>`. Counts the messages and
      bytes it receives (echoing each back with --echo) and records each connection's
      request path and close code. On SIGTERM or SIGINT it prints one line
          RESULT connections=C messages=N bytes=B paths=/a,/b close_codes=1000,1006
      and exits 0.

  ws_peer.py client URL --count N [--echo] [--ping]
      Connects to URL, sends N messages (text and binary alternating; sizes cycling over
      the 7-, 16- and 64-bit length forms), with --echo receives each echo and compares
      it with what was sent (type and bytes), with --ping sends a ping and waits for its
      pong, then closes (the close handshake). Prints
          RESULT sent=N echoed=M pong=0|1 close_code=C
      and exits 0, or prints `ERROR <why>` and exits 1. Bounded: 20 s in all.
"""

import asyncio
import signal
import sys

import websockets

SIZES = (1, 5, 125, 126, 1000, 65535, 65536, 70000)


def message(i):
    """The i-th message of the client: text for even i, bytes for odd i, distinct."""
    size = SIZES[i % len(SIZES)]
    body = (f"{i:06d}:" + "abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
    return body if i % 2 == 0 else body.encode()


async def serve(echo):
    stats = {"connections": 0, "messages": 0, "bytes": 0, "paths": [], "close_codes": []}

    async def handler(ws, path=None):
        stats["connections"] += 1
        stats["paths"].append(getattr(ws, "path", path))
        try:
            async for msg in ws:
                stats["messages"] += 1
                stats["bytes"] += len(msg)
                if echo:
                    await ws.send(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            stats["close_codes"].append(ws.close_code)

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or
                                                      stop.set_result(None))
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"LISTEN {port}", flush=True)
        await stop
    codes = ",".join(str(c) for c in stats["close_codes"])
    paths = ",".join(str(p) for p in stats["paths"])
    print(f"RESULT connections={stats['connections']} messages={stats['messages']} "
          f"bytes={stats['bytes']} paths={paths} close_codes={codes}", flush=True)


async def run_client(url, count, echo, ping):
    sent = echoed = pong = 0
    async with websockets.connect(url, max_size=None, open_timeout=5,
                                  close_timeout=5) as ws:
        for i in range(count):
            msg = message(i)
            await ws.send(msg)
            sent += 1
            if echo:
                back = await asyncio.wait_for(ws.recv(), 5)
                if type(back) is not type(msg) or back != msg:
                    raise RuntimeError(f"echo of message {i} ({type(msg).__name__}, "
                                       f"{len(msg)} bytes) came back as "
                                       f"{type(back).__name__}, {len(back)} bytes, "
                                       f"equal={back == msg}")
                echoed += 1
        if ping:
            waiter = await ws.ping(b"interop-ping")
            await asyncio.wait_for(waiter, 5)
            pong = 1
        await ws.close()
        code = ws.close_code
    print(f"RESULT sent={sent} echoed={echoed} pong={pong} close_code={code}", flush=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == "server":
        asyncio.run(serve("--echo" in args))
        return 0
    if len(args) >= 4 and args[0] == "client" and args[2] == "--count":
        try:
            asyncio.run(asyncio.wait_for(run_client(args[1], int(args[3]), "--echo" in args,
                                                    "--ping" in args), 20))
        except Exception as e:  # any failure is the test's finding: say what it was
            print(f"ERROR {type(e).__name__}: {e}", flush=True)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
