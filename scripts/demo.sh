#!/usr/bin/env bash
# A short tour of netgrind over loopback (`make demo`): each tool, started as a user would,
# with a heading that shows the command. Bounded in time; every process it starts is ended on
# every path, including Ctrl-C.
#
#   scripts/demo.sh [BUILD]          BUILD defaults to build (uses BUILD/bin/<tool>)
#
# One function per tool, demo_<tool>, listed in SECTIONS; add a tool by adding both.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD="${1:-build}"
BIN="$BUILD/bin"
SECTIONS=(seqtest udping tcpkali flowgrind)

TMP="$(mktemp -d "${TMPDIR:-/tmp}/netgrind-demo.XXXXXX")"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM

heading() { printf '\n=== %s ===\n' "$*"; }
step() { printf '\n$ %s\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }
indent() { sed 's/^/    /' "$@"; }

# start_bg OUT CMD...: starts CMD in the background, stdout and stderr into OUT; sets BG_PID.
start_bg() {
    local out="$1"
    shift
    step "$* &"
    : >"$out" # exists before wait_for polls it (the background redirect may not have run yet)
    "$@" </dev/null >"$out" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

# wait_for PID OUT REGEX SECONDS: polls OUT until a line matches; fails if PID exits first.
wait_for() {
    local pid="$1" out="$2" rx="$3" secs="$4" deadline
    deadline=$((SECONDS + secs))
    until grep -qE "$rx" "$out"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local status=0
            wait "$pid" || status=$?
            grep -qE "$rx" "$out" && return 0
            echo "demo: process $pid exited (status $status) before printing /$rx/:" >&2
            indent "$out" >&2
            exit 1
        fi
        ((SECONDS < deadline)) || { echo "demo: no /$rx/ within ${secs}s:" >&2; indent "$out" >&2; exit 1; }
        sleep 0.05
    done
}

# stop PID SECONDS: SIGTERM, then waits for the exit; sets STOP_STATUS.
stop() {
    local pid="$1" secs="$2"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((secs * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "demo: $pid did not exit within ${secs}s of SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    STOP_STATUS=0
    wait "$pid" 2>/dev/null || STOP_STATUS=$?
}

# run_bounded SECONDS CMD...: runs CMD in the foreground, output shown, under a timeout.
run_bounded() {
    local secs="$1" status=0
    shift
    step "$*"
    timeout -k 5 "$secs" "$@" </dev/null || status=$?
    ((status != 124 && status != 137)) || fail "'$*' did not finish within ${secs}s"
    ((status == 0)) || fail "'$*' exited with status $status"
}

demo_seqtest() {
    local seqtest="$BIN/seqtest" out="$TMP/replier.out" port
    heading "seqtest: TCP ordering and round-trip latency (doc/man/seqtest.1)"
    echo "A replier answers each message; a synchronous sender (-S) sends one message at a"
    echo "time on each of 2 connections and measures the round trip of each."

    echo
    echo "--- 1. start a replier on a port the kernel picks, and read that port back"
    start_bg "$out" "$seqtest" -r 127.0.0.1:0
    local replier=$BG_PID
    wait_for "$replier" "$out" '^Address [0-9]+: Host .* Port [0-9]+' 10
    indent "$out"
    port="$(sed -nE 's/^Address [0-9]+: Host .* Port ([0-9]+).*/\1/p' "$out" | head -n1)"
    [[ "$port" != 0 ]] || fail "the replier printed port 0; it must print the port it bound"

    echo
    echo "--- 2. synchronous sender: 2 connections x 2000 messages; its latency summary"
    run_bounded 60 "$seqtest" -S -o count=2000,threads=2 "127.0.0.1:$port"

    echo
    echo "--- 3. stop the replier (SIGTERM); it prints what it saw"
    step "kill -TERM $replier"
    stop "$replier" 10
    echo "replier exit status: $STOP_STATUS; its output:"
    indent "$out"
}

# free_udp_ports N: prints the first of N consecutive UDP ports free on 127.0.0.1 (the client's
# source ports must be named; the server's port is chosen by the kernel with -p 0).
free_udp_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    start, socks = random.randint(20000, 29999 - n), []
    try:
        for p in range(start, start + n):
            socks.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            socks[-1].bind(("127.0.0.1", p))
        print(start)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
else:
    sys.exit("no free UDP ports")
PY
}

# wait_udp_drained PORT SECONDS: polls /proc/net/udp until the socket bound to 127.0.0.1:PORT
# has nothing waiting to be read (so a server stopped now has counted every datagram).
wait_udp_drained() {
    local hex queue deadline=$((SECONDS + $2))
    hex="$(printf '%04X' "$1")"
    while :; do
        queue="$(awk -v p=":$hex" '$2 ~ p"$" { split($5, q, ":"); print q[2]; exit }' \
            /proc/net/udp)"
        [[ -z "$queue" || "$queue" =~ ^0+$ ]] && return 0
        ((SECONDS < deadline)) || fail "the server did not read its datagrams within $2 s"
        sleep 0.05
    done
}

demo_udping() {
    local server="$BIN/udping_server" client="$BIN/udping_client"
    local sout="$TMP/udping_server.out" cout="$TMP/udping_client.out" port src
    heading "udping: one-way UDP latency and loss (doc/man/udping_client.1, udping_server.1)"
    echo "A client sends timestamped datagrams from 3 source ports at Poisson times (mean gap"
    echo "10 ms per port); the server reports each port's 1-second period as one JSON line."
    echo "Socket mode (no -a): ordinary UDP sockets, no root needed."

    echo
    echo "--- 1. start a server on a port the kernel picks (-p 0), keepalive 2 s"
    start_bg "$sout" "$server" -l 127.0.0.1 -p 0 -k 2
    local srv=$BG_PID
    wait_for "$srv" "$sout" '^udping_server: listening on ' 10
    indent "$sout"
    port="$(sed -nE 's/^udping_server: listening on .*:([0-9]+)$/\1/p' "$sout" | head -n1)"
    [[ -n "$port" && "$port" != 0 ]] || fail "the server did not print the port it bound"

    echo
    echo "--- 2. a client with 3 source ports, 1 s periods, for about 3 seconds"
    src="$(free_udp_ports 3)" || fail "no free UDP source ports"
    start_bg "$cout" "$client" -r 127.0.0.1 -p "$port" -l 127.0.0.1 -s "$src" -n 3 \
        -d 10 -i 1 -m 200
    local cli=$BG_PID
    sleep 3
    kill -0 "$cli" 2>/dev/null || { indent "$cout" >&2; fail "the client exited early"; }

    echo
    echo "--- 3. stop the client (SIGTERM): each port sends its last control packet"
    step "kill -TERM $cli"
    stop "$cli" 10
    echo "client exit status: $STOP_STATUS; its output:"
    indent "$cout"
    ((STOP_STATUS == 0)) || fail "the client exited with status $STOP_STATUS"

    echo
    echo "--- 4. stop the server (SIGTERM); its JSON lines, one per source port and period"
    echo "    (count = received, targetCount = sent; sum, sumOfSquares and max in ms)"
    wait_udp_drained "$port" 10
    step "kill -TERM $srv"
    stop "$srv" 10
    echo "server exit status: $STOP_STATUS; its output:"
    indent "$sout"
    ((STOP_STATUS == 0)) || fail "the server exited with status $STOP_STATUS"
    grep -q '^{"from_host"' "$sout" || fail "the server printed no JSON line"
}

# wait_tcp_drained PORT SECONDS: polls /proc/net/tcp* until no connection to the local PORT is
# open or unread (every client closed and the listener read it to the end).
wait_tcp_drained() {
    local hex deadline=$((SECONDS + $2))
    hex="$(printf '%04X' "$1")"
    # States 01 ESTABLISHED, 03 SYN_RECV, 08 CLOSE_WAIT on the local port.
    while awk -v p=":$hex" '$2 ~ p"$" && ($4 == "01" || $4 == "03" || $4 == "08") { f = 1 }
                            END { exit !f }' /proc/net/tcp /proc/net/tcp6; do
        ((SECONDS < deadline)) || fail "the listener on port $1 did not drain within $2 s"
        sleep 0.05
    done
}

# listen_port OUT: the port of the first 'Listen on: [127.0.0.1]:PORT' line in OUT.
listen_port() {
    sed -nE 's/^Listen on: \[127\.0\.0\.1\]:([0-9]+)$/\1/p' "$1" | head -n1
}

demo_tcpkali() {
    local tcpkali="$BIN/tcpkali" sout="$TMP/tcpkali_sink.out" eout="$TMP/tcpkali_echo.out"
    local port eport
    heading "tcpkali: TCP load generator and sink (doc/man/tcpkali.1)"
    echo "A sink reads and discards; a client keeps 10 connections open to it and sends"
    echo "'hello' 100 times a second on each, for 2 s: 10 x 100 x 5 bytes x 2 s = 10000 bytes."

    echo
    echo "--- 1. start a sink on a port the kernel picks (-l 127.0.0.1:0); it prints the port"
    start_bg "$sout" "$tcpkali" -l 127.0.0.1:0 -T 60
    local sink=$BG_PID
    wait_for "$sink" "$sout" '^Listen on: \[127\.0\.0\.1\]:[0-9]+$' 10
    indent "$sout"
    port="$(listen_port "$sout")"
    [[ -n "$port" && "$port" != 0 ]] || fail "the sink did not print the port it bound"

    echo
    echo "--- 2. the client; its summary counts the steady phase (ramp-up traffic excluded)"
    run_bounded 30 "$tcpkali" -c 10 --connect-rate 1k -m hello -r 100 -T 2 "127.0.0.1:$port"

    echo
    echo "--- 3. request/response latency against tcpkali's own echo listener (netgrind's"
    echo "       --listen-mode=echo): each 'ping' that comes back answers the oldest request"
    start_bg "$eout" "$tcpkali" -l 127.0.0.1:0 --listen-mode=echo -T 60
    local echo_srv=$BG_PID
    wait_for "$echo_srv" "$eout" '^Listen on: \[127\.0\.0\.1\]:[0-9]+$' 10
    eport="$(listen_port "$eout")"
    [[ -n "$eport" && "$eport" != 0 ]] || fail "the echo listener did not print its port"
    run_bounded 30 "$tcpkali" -c 4 -e -m 'ping\n' -r 100 --latency-marker ping \
        --latency-percentiles 50,95,99 -T 2 "127.0.0.1:$eport"

    echo
    echo "--- 4. stop the listeners (SIGTERM: the summary, then exit 143); the sink got every"
    echo "       byte, ramp-up included, so its total is a little above the client's"
    wait_tcp_drained "$port" 10
    step "kill -TERM $sink"
    stop "$sink" 10
    echo "sink exit status: $STOP_STATUS; its output:"
    indent "$sout"
    ((STOP_STATUS == 143)) || fail "the sink exited with status $STOP_STATUS, expected 143"
    grep -q '^Total data received: ' "$sout" || fail "the sink printed no summary"
    step "kill -TERM $echo_srv"
    stop "$echo_srv" 10
    ((STOP_STATUS == 143)) || fail "the echo listener exited with status $STOP_STATUS"

    echo
    echo "--- 5. WebSocket with message markers: each message is a WebSocket text frame that"
    echo "       carries its send time (\\{message.marker}); the --ws listener parses the"
    echo "       markers in the de-framed payload (--message-marker): message rate and one-way"
    echo "       latency. The client, a marker in its message, reports its sending rate."
    local wout="$TMP/tcpkali_ws.out" wport
    start_bg "$wout" "$tcpkali" -l 127.0.0.1:0 --ws --message-marker \
        --latency-percentiles 50,95,99 -T 60
    local ws_srv=$BG_PID
    wait_for "$ws_srv" "$wout" '^Listen on: \[127\.0\.0\.1\]:[0-9]+$' 10
    wport="$(listen_port "$wout")"
    [[ -n "$wport" && "$wport" != 0 ]] || fail "the WebSocket listener did not print its port"
    run_bounded 30 "$tcpkali" --ws -c 4 --connect-rate 1k -m 'hello \{message.marker}' -r 100 \
        -T 2 "127.0.0.1:$wport"
    wait_tcp_drained "$wport" 10
    step "kill -TERM $ws_srv"
    stop "$ws_srv" 10
    echo "WebSocket listener exit status: $STOP_STATUS; its output (4 x 100 messages/s):"
    indent "$wout"
    ((STOP_STATUS == 143)) || fail "the WebSocket listener exited with status $STOP_STATUS"
    grep -q '^Aggregate message rate: ' "$wout" || fail "the WebSocket listener printed no message rate"
    grep -q '^Message latency at percentiles: ' "$wout" ||
        fail "the WebSocket listener printed no message latency"
}

demo_flowgrind() {
    local daemon="$BIN/flowgrindd" ctl="$BIN/flowgrind" dout="$TMP/flowgrindd.out" port
    heading "flowgrind: TCP flows driven over XML-RPC (doc/man/flowgrind.1, flowgrindd.1)"
    echo "A daemon on loopback holds both ends of a flow; the controller tells it to send for"
    echo "2 s from one end to the other and prints a report every 0.5 s, then a summary line"
    echo "for the source (S) and the destination (D)."

    echo
    echo "--- 1. start flowgrindd in the foreground (-d) on a control port the kernel picks"
    echo "       (-p 0), and read that port back from its log"
    start_bg "$dout" "$daemon" -d -b 127.0.0.1 -p 0
    local dpid=$BG_PID
    wait_for "$dpid" "$dout" ' running XML-RPC server on port [0-9]+$' 10
    indent "$dout"
    port="$(sed -nE 's/.* running XML-RPC server on port ([0-9]+)$/\1/p' "$dout" | head -n1)"
    [[ -n "$port" && "$port" != 0 ]] || fail "the daemon did not log the port it bound"

    echo
    echo "--- 2. one bulk flow for 2 s, source and destination on that daemon"
    run_bounded 30 "$ctl" -H "s=127.0.0.1/127.0.0.1:$port,d=127.0.0.1/127.0.0.1:$port" \
        -T s=2 -i 0.5

    echo
    echo "--- 3. stop the daemon (SIGTERM)"
    step "kill -TERM $dpid"
    stop "$dpid" 10
    echo "daemon exit status: $STOP_STATUS"
    if ((STOP_STATUS != 0)); then
        indent "$dout" >&2
        fail "flowgrindd exited with status $STOP_STATUS"
    fi
}

[[ -x "$BIN/netgrind" ]] || fail "$BIN/netgrind is not built: run 'make' (or 'make demo') first"
echo "netgrind demo: $("$BIN/netgrind" --version | head -n1), binaries in $BIN/"
for section in "${SECTIONS[@]}"; do
    "demo_$section"
done
echo
echo "demo: done. Next: 'make check' runs every test; man -l doc/man/netgrind.1 for the rest."
