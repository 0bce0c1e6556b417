# bash completion for netgrind's programs (netgrind and its tool links). Options come from
# each program's own --help, so the list always matches the binary on the PATH.
#
# Use: `source contrib/netgrind-completion.bash` (e.g. from ~/.bashrc), or install it as
# /usr/share/bash-completion/completions/netgrind plus a link of that name for each tool.

NETGRIND_TOOLS="seqtest udping_client udping_server tcpkali flowgrind flowgrindd flowgrind-stop"

# Reads a --help text and prints the option names in it: from the usage synopsis, every -x and
# --long; from an option line ("  -c, --show-colon=TYPE  text"), its leading option words,
# "=" kept on "--long=VALUE" and "--a-{b,c}" expanded. Prose ("with -1 all flows") is
# neither, so it is never offered.
_NETGRIND_HELP_AWK='
# The usage synopsis (the Usage: line and the lines continuing it, which start with [ or -):
# every -x / --long in it.
/^Usage:/ { usage = 1 }
usage && !/^Usage:/ && !/^[ \t]+[-[]/ { usage = 0 }
usage {
    s = $0
    while (match(s, /(^|[[| ])--?[A-Za-z0-9][-A-Za-z0-9]*/)) {
        o = substr(s, RSTART, RLENGTH)
        sub(/^[[| ]/, "", o)
        print o
        s = substr(s, RSTART + RLENGTH)
    }
}
# Option lines: the leading words that start with -.
/^[ \t]+-/ {
    n = split($0, w, /[ \t]+/)
    for (i = 1; i <= n; i++) {
        if (w[i] == "")
            continue
        sub(/,$/, "", w[i])
        if (match(w[i], /^--?[A-Za-z0-9][-A-Za-z0-9]*\{[^}]*\}$/)) { # --dump-{all,all-in}
            p = index(w[i], "{")
            m = split(substr(w[i], p + 1, length(w[i]) - p - 1), alt, ",")
            for (k = 1; k <= m; k++)
                print substr(w[i], 1, p - 1) alt[k]
            continue
        }
        if (!match(w[i], /^--?[A-Za-z0-9][-A-Za-z0-9]*/))
            break
        o = substr(w[i], 1, RLENGTH)
        if (substr(w[i], RLENGTH + 1, 1) == "=" && o ~ /^--/)
            o = o "="
        print o
    }
}
'

_netgrind_options() {
    "$@" --help 2>&1 | awk "$_NETGRIND_HELP_AWK" | LC_ALL=C sort -u
}

_netgrind_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} prog=("${COMP_WORDS[0]}")
    # `netgrind TOOL ...`: the first word after netgrind is a tool, the rest the tool's.
    if [[ ${COMP_WORDS[0]##*/} == netgrind ]]; then
        if ((COMP_CWORD == 1)) && [[ $cur != -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$NETGRIND_TOOLS" -- "$cur")
            return
        fi
        ((COMP_CWORD > 1)) && prog+=("${COMP_WORDS[1]}")
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_netgrind_options "${prog[@]}")" -- "$cur")
        [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    else
        mapfile -t COMPREPLY < <(compgen -f -- "$cur") # message files, log files, ...
    fi
    return 0
}

# shellcheck disable=SC2086 # the list is meant to split
complete -F _netgrind_complete netgrind $NETGRIND_TOOLS
