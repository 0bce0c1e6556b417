#!/usr/bin/env bash
# Installs the Debian packages netgrind needs, and only those that are missing.
#
#   scripts/deps.sh              packages for the build and every test (`make deps`)
#   scripts/deps.sh bench        the peers bench/ compares against (`make bench`)
#   scripts/deps.sh GROUP...     several groups at once; `--list GROUP` prints a group
#
# Debian 12 (bookworm) is the reference system. The check is dpkg-query, so a machine that has
# everything never touches apt; otherwise `apt-get update` runs once, then one `apt-get
# install`. Runs as root, or through sudo when it is there.
# shellcheck disable=SC2034  # the package arrays are read by name (local -n)
set -euo pipefail

# --- The package lists: the one place to add a dependency. ---------------------------------
# Each group is a bash array named PKGS_<group>; optional ones (a failure to install them is a
# warning, not an error) go in OPT_<group>. (They are read through `local -n` below.)
PKGS_build=(
    build-essential pkg-config      # cc, make, ar
    libcmocka-dev                   # unit tests
    clang libclang-rt-14-dev        # `make fuzz`: clang and its libFuzzer runtime
    python3                         # system tests (tests/sys, tests/netns)
    jq                              # checking --json output in scripts
    iproute2 procps util-linux      # ip netns and ss; ps; setsid, unshare, nsenter
    nftables                        # tests/netns: loss injection (numgen random)
    locales                         # unit tests: locale sources for a decimal-comma locale
    libssl-dev openssl              # tcpkali --ssl and WebSocket accept keys; s_server/s_client peers
    python3-websockets              # tests/interop: an independent WebSocket peer
    libxmlrpc-core-c3-dev           # flowgrind's XML-RPC control plane (xmlrpc-c, Abyss, curl client)
    libpcap-dev                     # flowgrindd -M traffic dumps
    flowgrind                       # tests/interop: the real flowgrind 0.8.2 controller and daemon
    gnuplot-nox                     # tests/sys: contrib/flowgrind-plot.gp on a real log
)
OPT_build=()
PKGS_bench=(sockperf iperf3)
OPT_bench=(hyperfine)
PKGS_newcomer=(debootstrap git)     # scripts/newcomer-check.sh
OPT_newcomer=()

die() { echo "deps.sh: $*" >&2; exit 1; }

check_group() {
    declare -p "PKGS_$1" >/dev/null 2>&1 || die "unknown group '$1' (groups: build bench newcomer)"
}

group_var() { # group_var PKGS|OPT GROUP -> prints the array's elements, one a line
    local -n arr="$1_$2"
    if ((${#arr[@]})); then printf '%s\n' "${arr[@]}"; fi
}

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

# Runs a command as root: directly, through sudo, or not at all with a message saying why.
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $*
  run this script as root, or install sudo, or install the packages above by hand"
    fi
}

apt_install() { # apt_install PKG... -> status of one apt-get install
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 --no-install-recommends "$@"
}

main() {
    if [[ "${1:-}" == "--list" ]]; then
        shift
        for g in "${@:-build}"; do check_group "$g"; group_var PKGS "$g"; group_var OPT "$g"; done
        return 0
    fi
    local groups=("${@:-build}") required=() optional=() p
    for g in "${groups[@]}"; do check_group "$g"; done
    for g in "${groups[@]}"; do
        mapfile -t -O "${#required[@]}" required < <(group_var PKGS "$g")
        mapfile -t -O "${#optional[@]}" optional < <(group_var OPT "$g")
    done

    command -v dpkg-query >/dev/null 2>&1 ||
        die "this is not a Debian-like system (no dpkg-query); install by hand: ${required[*]}"

    local missing=() missing_opt=()
    for p in "${required[@]}"; do is_installed "$p" || missing+=("$p"); done
    for p in "${optional[@]}"; do is_installed "$p" || missing_opt+=("$p"); done
    if ((${#missing[@]} == 0 && ${#missing_opt[@]} == 0)); then
        echo "deps: all ${#required[@]} packages of '${groups[*]}' are installed"
        return 0
    fi

    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages and no apt-get to install them: ${missing[*]} ${missing_opt[*]}"
    echo "deps: installing $(echo "${missing[@]}" "${missing_opt[@]}")"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 ||
        die "apt-get update failed (network or apt sources?)"
    if ((${#missing[@]})); then
        apt_install "${missing[@]}" || die "apt-get install failed for: ${missing[*]}"
    fi
    for p in "${missing_opt[@]}"; do
        apt_install "$p" || echo "deps: optional package $p could not be installed; going on" >&2
    done
    for p in "${missing[@]}"; do
        is_installed "$p" || die "package $p is still not installed after apt-get"
    done
    echo "deps: done"
}

main "$@"
