#!/usr/bin/env bash
# Runs every test of netgrind and ends with one line: "N passed, N failed" (DESIGN.md, issue
# 2), after a line "N skipped".
#
#   tests/run.sh [BUILD [KIND...]]      BUILD defaults to build; KIND is any of unit san sys
#                                        netns interop fuzz (the default set) and sys-san
#
# `make check` builds what this needs first (make all unit san fuzz); run by hand, build the
# same with `make BUILD=... all unit san fuzz`. A test source whose program is not built counts
# as a failure, so nothing is skipped silently.
#
# What runs, and how it is counted:
#   unit     BUILD/tests/unit/test_X for each tests/unit/test_X.c (cmocka): the counts of its
#            "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" / "[  SKIPPED ] N test(s)"
#            summary lines; a program that crashes, times out or exits non-zero without
#            reporting a failure counts one failure more.
#   san      the same programs from BUILD/san (ASan + UBSan), counted the same way.
#   sys      python3 tests/sys/test_*.py BUILD: its PASS/FAIL/SKIP lines (tests/sys/harness.py);
#   sys-san  (not in the default set) the same against BUILD/san, so BUILD/san/bin/*.
#   netns    tests/netns/test_*.py, and interop tests/interop/test_*.py, the same way. A file
#   interop  that dies or exits non-zero without a FAIL line counts one failure more.
#   fuzz     each tests/fuzz/fuzz_X.c: BUILD/fuzz/bin/fuzz_X for a bounded number of runs on
#            a copy of its seed corpus tests/fuzz/corpus/fuzz_X/ (or corpus/X/) if there is
#            one; one test each, failed by any crash, leak, timeout or sanitizer report.
#            Crash inputs are kept in BUILD/fuzz/artifacts/.
#
# Every program runs under `timeout`. Passing programs print one line; a failing one prints
# its whole output. Exit status 1 if anything failed.
#
# Tunables (environment): UNIT_TIMEOUT (60 s), SAN_TIMEOUT (180 s), SYS_TIMEOUT (600 s per
# file), FUZZ_RUNS (100000), FUZZ_TIME (20 s per target), VERBOSE=1 prints passing output too.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
BUILD="${1:-build}"
shift || true
KINDS=("$@")
((${#KINDS[@]})) || KINDS=(unit san sys netns interop fuzz)

UNIT_TIMEOUT="${UNIT_TIMEOUT:-60}"
SAN_TIMEOUT="${SAN_TIMEOUT:-180}"
SYS_TIMEOUT="${SYS_TIMEOUT:-600}"
FUZZ_RUNS="${FUZZ_RUNS:-100000}"
FUZZ_TIME="${FUZZ_TIME:-20}"
VERBOSE="${VERBOSE:-0}"

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
TMP="$(mktemp -d "${TMPDIR:-/tmp}/netgrind-run.XXXXXX")" || exit 2
trap 'rm -rf "$TMP"' EXIT
# A token in the environment of everything this script starts, so that processes a test
# leaves behind (even in sessions of their own) can be found and ended by their pid.
RUN_TOKEN="NETGRIND_TEST_RUN=$$.$RANDOM$RANDOM"
export "${RUN_TOKEN?}"

if [[ -t 1 ]]; then RED=$'\e[31m' GREEN=$'\e[32m' OFF=$'\e[0m'
else RED='' GREEN='' OFF=''; fi

heading() { printf '\n== %s ==\n' "$*"; }

# Ends every process that still carries this run's token: leftovers of a test that timed out.
sweep_leftovers() {
    local env_file pid found=()
    for env_file in /proc/[0-9]*/environ; do
        pid="${env_file#/proc/}"
        pid="${pid%/environ}"
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        if grep -qzxF "$RUN_TOKEN" "$env_file" 2>/dev/null; then
            found+=("$pid")
        fi
    done
    if ((${#found[@]})); then
        echo "   (ending ${#found[@]} leftover process(es): ${found[*]})"
        kill -KILL "${found[@]}" 2>/dev/null
    fi
}

# run_capture OUTFILE SECONDS CMD... : runs CMD with stdout and stderr into OUTFILE under a
# timeout; sets RC (124 or 137 on timeout) and ELAPSED (seconds, one decimal).
run_capture() {
    local out="$1" secs="$2" t0 t1
    shift 2
    t0=$(date +%s%N)
    timeout -k 5 "$secs" "$@" </dev/null >"$out" 2>&1
    RC=$?
    t1=$(date +%s%N)
    ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
}

timed_out() { [[ "$RC" == 124 || "$RC" == 137 ]]; }

# report LABEL NPASS NFAIL NSKIP OUTFILE NOTE: adds to the totals and prints one line, or the
# whole output when something failed.
report() {
    local label="$1" np="$2" nf="$3" ns="$4" out="$5" note="$6"
    PASSED=$((PASSED + np))
    FAILED=$((FAILED + nf))
    SKIPPED=$((SKIPPED + ns))
    local counts="$np passed"
    ((nf)) && counts+=", $nf failed"
    ((ns)) && counts+=", $ns skipped"
    if ((nf)); then
        FAILED_NAMES+=("$label")
        printf '%sFAIL%s %-40s %s (%ss)%s\n' "$RED" "$OFF" "$label" "$counts" "$ELAPSED" \
            "${note:+ — $note}"
        echo "---- output of $label ----"
        cat "$out"
        echo "---- end of $label ----"
    else
        printf '%sok%s   %-40s %s (%ss)\n' "$GREEN" "$OFF" "$label" "$counts" "$ELAPSED"
        if [[ "$VERBOSE" == 1 ]]; then
            cat "$out"
        elif ((ns)); then
            grep -E '^SKIP ' "$out" | sed 's/^/     /' | cut -c1-200
        fi
    fi
}

# cmocka_counts OUTFILE -> "passed failed skipped" summed over every group's summary lines.
# Not anchored at line start: cmocka writes them to stderr, which may land inside a line of
# stdout's buffered output.
cmocka_counts() {
    awk '
        { line = $0 }
        match(line, /\[  PASSED  \] [0-9]+ test\(s\)\./)  { split(substr(line, RSTART + 13), a, " "); p += a[1] }
        match(line, /\[  FAILED  \] [0-9]+ test\(s\), /)  { split(substr(line, RSTART + 13), a, " "); f += a[1] }
        match(line, /\[  SKIPPED \] [0-9]+ test\(s\), /)  { split(substr(line, RSTART + 13), a, " "); s += a[1] }
        END { printf "%d %d %d\n", p, f, s }' "$1"
}

run_unit_dir() { # run_unit_dir PREFIX DIR TIMEOUT
    local prefix="$1" dir="$2" secs="$3" src name bin out np nf ns note
    local sources=(tests/unit/test_*.c)
    [[ -e "${sources[0]}" ]] || { echo "(no unit tests)"; return; }
    for src in "${sources[@]}"; do
        name="$(basename "$src" .c)"
        bin="$dir/tests/unit/$name"
        out="$TMP/$prefix.$name.out"
        note=""
        if [[ ! -x "$bin" ]]; then
            echo "$bin is not built" >"$out"
            ELAPSED=0
            report "$prefix/$name" 0 1 0 "$out" "not built"
            continue
        fi
        run_capture "$out" "$secs" "$bin"
        read -r np nf ns < <(cmocka_counts "$out")
        if timed_out; then
            nf=$((nf + 1)); note="timed out after ${secs}s"
        elif ((RC != 0 && nf == 0)); then
            nf=1; note="exit status $RC without a failure summary"
        elif ((np + nf + ns == 0)); then
            nf=1; note="no cmocka summary (exit status $RC)"
        fi
        report "$prefix/$name" "$np" "$nf" "$ns" "$out" "$note"
    done
}

run_py_dir() { # run_py_dir DIR [BUILDDIR [PREFIX]]: every DIR/test_*.py, counting its lines
    local dir="$1" build="${2:-$BUILD}" prefix="${3:-$(basename "$1")}" file name out np nf ns note
    local files=("$dir"/test_*.py)
    [[ -e "${files[0]}" ]] || { echo "(none yet)"; return; }
    for file in "${files[@]}"; do
        name="$(basename "$file" .py)"
        out="$TMP/$prefix.$name.out"
        note=""
        run_capture "$out" "$SYS_TIMEOUT" env PYTHONDONTWRITEBYTECODE=1 python3 -u "$file" "$build"
        sweep_leftovers
        np=$(grep -c '^PASS ' "$out")
        nf=$(grep -c '^FAIL ' "$out")
        ns=$(grep -c '^SKIP ' "$out")
        if timed_out; then
            nf=$((nf + 1)); note="timed out after ${SYS_TIMEOUT}s"
        elif ((RC != 0 && nf == 0)); then
            nf=1; note="exit status $RC without a FAIL line"
        elif ((np + nf + ns == 0)); then
            nf=1; note="printed no PASS/FAIL/SKIP line"
        fi
        report "$prefix/$name" "$np" "$nf" "$ns" "$out" "$note"
    done
}

run_fuzz() {
    local sources=(tests/fuzz/fuzz_*.c) src name bin out seed work art note
    [[ -e "${sources[0]}" ]] || { echo "(no fuzz targets yet)"; return; }
    art="$BUILD/fuzz/artifacts"
    mkdir -p "$art"
    for src in "${sources[@]}"; do
        name="$(basename "$src" .c)"
        bin="$BUILD/fuzz/bin/$name"
        out="$TMP/fuzz.$name.out"
        note=""
        if [[ ! -x "$bin" ]]; then
            echo "$bin is not built (make BUILD=$BUILD fuzz)" >"$out"
            ELAPSED=0
            report "fuzz/$name" 0 1 0 "$out" "not built"
            continue
        fi
        # libFuzzer adds new inputs to its first corpus directory: give it a scratch one so
        # the committed seeds stay as they are.
        work="$TMP/corpus.$name"
        mkdir -p "$work"
        seed=""
        for d in "tests/fuzz/corpus/$name" "tests/fuzz/corpus/${name#fuzz_}"; do
            [[ -d "$d" ]] && { seed="$d"; break; }
        done
        run_capture "$out" $((FUZZ_TIME + 60)) "$bin" -runs="$FUZZ_RUNS" \
            -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$art/$name-" -print_final_stats=1 "$work" ${seed:+"$seed"}
        if ((RC == 0)); then
            report "fuzz/$name" 1 0 0 "$out" ""
        else
            timed_out && note="timed out" || note="exit status $RC; inputs in $art/"
            # Keep the crash report, drop libFuzzer's progress lines.
            grep -v -E '^#[0-9]+\s' "$out" >"$out.short"
            report "fuzz/$name" 0 1 0 "$out.short" "$note"
        fi
    done
}

T0=$(date +%s)
for kind in "${KINDS[@]}"; do
    case "$kind" in
        unit) heading "unit tests ($BUILD/tests/unit)"; run_unit_dir unit "$BUILD" "$UNIT_TIMEOUT" ;;
        san)
            heading "unit tests under ASan+UBSan ($BUILD/san/tests/unit)"
            ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}" \
            UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
                run_unit_dir san "$BUILD/san" "$SAN_TIMEOUT"
            ;;
        sys) heading "system tests (tests/sys)"; run_py_dir tests/sys ;;
        sys-san)
            heading "system tests against the ASan+UBSan binary ($BUILD/san/bin)"
            ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}" \
            UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
                run_py_dir tests/sys "$BUILD/san" sys-san
            ;;
        netns)
            heading "namespace tests (tests/netns; need root, skip otherwise)"
            run_py_dir tests/netns
            ;;
        interop) heading "interop tests (tests/interop)"; run_py_dir tests/interop ;;
        fuzz)
            heading "fuzz smoke runs ($BUILD/fuzz/bin, $FUZZ_RUNS runs or ${FUZZ_TIME}s each)"
            run_fuzz
            ;;
        *) echo "tests/run.sh: unknown kind '$kind' (unit san sys sys-san netns interop fuzz)" >&2
           exit 2 ;;
    esac
done

echo
if ((FAILED)); then
    echo "${RED}failed:${OFF} ${FAILED_NAMES[*]}"
fi
echo "total time $(($(date +%s) - T0))s"
echo "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
