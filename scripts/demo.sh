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
SECTIONS=(seqtest)

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

[[ -x "$BIN/netgrind" ]] || fail "$BIN/netgrind is not built: run 'make' (or 'make demo') first"
echo "netgrind demo: $("$BIN/netgrind" --version | head -n1), binaries in $BIN/"
for section in "${SECTIONS[@]}"; do
    "demo_$section"
done
echo
echo "demo: done. Next: 'make check' runs every test; man -l doc/man/netgrind.1 for the rest."
