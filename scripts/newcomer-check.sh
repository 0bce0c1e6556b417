#!/usr/bin/env bash
# The newcomer check: does a fresh Debian 12 machine get from `git clone` to a passing
# `make demo` and `make check` with nothing but the README's two commands?
#
#   scripts/newcomer-check.sh [--keep] [--worktree] [DIR]
#
# Builds a minimal bookworm (debootstrap --variant=minbase) in DIR (default
# /var/tmp/netgrind-newcomer), installs only build-essential and git there, clones this
# repository's committed HEAD into /root/netgrind inside it, mounts /proc, /sys, /dev,
# /dev/pts and /dev/shm, and runs `make demo`, then `make check`, inside `chroot DIR`.
# Everything else the build needs must come from the project's own `make deps`. Prints what
# that had to install (what a fresh machine lacked) and each step's result.
#
#   --keep       leave DIR in place afterwards (it is removed by default)
#   --worktree   copy the working tree (tracked and untracked, not ignored files) instead of
#                cloning HEAD: for trying uncommitted changes
#
# Needs root and the network to the Debian mirror (MIRROR, default http://deb.debian.org/debian).
# Slow (several minutes); run by hand, not by `make check`. Mounts are undone on every path.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
KEEP=0
WORKTREE=0
DIR=""
for arg in "$@"; do
    case "$arg" in
        --keep) KEEP=1 ;;
        --worktree) WORKTREE=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "newcomer-check: unknown option $arg" >&2; exit 64 ;;
        *) DIR="$arg" ;;
    esac
done
DIR="${DIR:-/var/tmp/netgrind-newcomer}"
MARK="$DIR/.netgrind-newcomer-check"   # only a directory carrying this is ever removed
LOG="$(dirname "$DIR")/$(basename "$DIR").log"

((EUID == 0)) || { echo "newcomer-check: must run as root (debootstrap, chroot, mount)" >&2; exit 1; }

say() { printf '\n### %s\n' "$*" | tee -a "$LOG"; }

# Unmounts everything mounted at or below DIR, deepest first (also what a test may have left).
unmount_all() {
    local targets t
    mapfile -t targets < <(awk -v d="$DIR" '$2 == d || index($2, d "/") == 1 { print $2 }' \
        /proc/self/mounts | sort -r)
    for t in "${targets[@]}"; do
        umount "$t" 2>/dev/null || umount -l "$t" 2>/dev/null ||
            echo "newcomer-check: could not unmount $t" >&2
    done
}

# Ends processes whose root is the chroot (started by this check), by pid.
end_chroot_processes() {
    local p root pids=()
    for p in /proc/[0-9]*; do
        root="$(readlink "$p/root" 2>/dev/null)" || continue
        [[ "$root" == "$DIR" ]] && pids+=("${p#/proc/}")
    done
    if ((${#pids[@]})); then
        echo "newcomer-check: ending leftover processes in the chroot: ${pids[*]}" >&2
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
}

cleanup() {
    local status=$?
    end_chroot_processes
    unmount_all
    if ((KEEP == 0)) && [[ -e "$MARK" ]] && ! grep -q " $DIR" /proc/self/mounts; then
        rm -rf --one-file-system "$DIR"
    fi
    exit "$status"
}

in_chroot() { # in_chroot COMMAND-STRING: runs it with a clean environment, output logged
    chroot "$DIR" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "$1" </dev/null 2>&1 | tee -a "$LOG"
}

chroot_packages() { # the installed package names, one a line
    chroot "$DIR" /usr/bin/dpkg-query -W -f='${Package}\n' | sort
}

if [[ -e "$DIR" ]]; then
    [[ -e "$MARK" ]] || { echo "newcomer-check: $DIR exists and is not one of ours; pick another DIR" >&2; exit 1; }
    unmount_all
    rm -rf --one-file-system "$DIR"
fi
mkdir -p "$DIR"
touch "$MARK"
: >"$LOG"
trap cleanup EXIT
trap 'exit 130' INT TERM
T0=$SECONDS
declare -A RESULT

say "debootstrap --variant=minbase bookworm $DIR"
"$REPO/scripts/deps.sh" newcomer | tee -a "$LOG"
debootstrap --variant=minbase bookworm "$DIR" "$MIRROR" >>"$LOG" 2>&1 ||
    { echo "debootstrap failed; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
touch "$MARK"
cp /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true

say "mount /proc /sys /dev /dev/pts /dev/shm"
mount -t proc proc "$DIR/proc"
mount --bind /sys "$DIR/sys"
mount --bind /dev "$DIR/dev"
mount --bind /dev/pts "$DIR/dev/pts"
[[ -d /dev/shm ]] && mount --bind /dev/shm "$DIR/dev/shm"

say "apt-get install build-essential git (nothing else)"
in_chroot 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q build-essential git' >/dev/null
chroot_packages >"$DIR/root/packages-before.txt"

if ((WORKTREE)); then
    say "copy the working tree of $REPO into /root/netgrind"
    mkdir -p "$DIR/root/netgrind"
    (cd "$REPO" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) |
        tar -xf - -C "$DIR/root/netgrind"
else
    say "git clone $REPO (HEAD $(git -C "$REPO" rev-parse --short HEAD)) into /root/netgrind"
    mkdir -p "$DIR/mnt/netgrind-src"
    mount --bind "$REPO" "$DIR/mnt/netgrind-src"
    mount -o remount,bind,ro "$DIR/mnt/netgrind-src"
    in_chroot 'git config --global --add safe.directory /mnt/netgrind-src &&
               git clone -q /mnt/netgrind-src /root/netgrind'
    umount "$DIR/mnt/netgrind-src"
fi

run_step() { # run_step NAME COMMAND: records ok/FAILED in RESULT
    local t=$SECONDS
    say "$1 (inside the chroot)"
    if in_chroot "cd /root/netgrind && $2"; then
        RESULT[$1]="ok ($((SECONDS - t))s)"
    else
        RESULT[$1]="FAILED ($((SECONDS - t))s)"
    fi
}
set +e
run_step "make demo" "make demo"
run_step "make check" "make check"
set -e

chroot_packages >"$DIR/root/packages-after.txt"
say "report"
{
    echo "repository:  $REPO ($( ((WORKTREE)) && echo "working tree" || echo "HEAD $(git -C "$REPO" rev-parse --short HEAD)"))"
    echo "make demo:   ${RESULT[make demo]}"
    echo "make check:  ${RESULT[make check]} — $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n1)"
    echo "what the fresh machine lacked (installed by make deps):"
    grep -E '^deps: installing' "$LOG" | sed 's/^/    /' || echo "    nothing"
    echo "packages added after build-essential and git: $(comm -13 "$DIR/root/packages-before.txt" \
        "$DIR/root/packages-after.txt" | wc -l)"
    echo "total time:  $((SECONDS - T0))s; full log: $LOG"
} | tee -a "$LOG"
[[ "${RESULT[make demo]}" == ok* && "${RESULT[make check]}" == ok* ]]
