#!/usr/bin/env python3
"""contrib/netgrind-completion.bash: bash completes each program's options from its own
--help (the binaries under BUILD/bin), `netgrind TOOL` as the tool, and the first word after
`netgrind` as a tool name. Every completion is asked of a real bash with the script sourced.

Usage: python3 tests/sys/test_completion.py BUILD_DIR [TEST_NAME...]
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, check, run_tests, Skip, test  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib",
                      "netgrind-completion.bash")


def complete(h, *words):
    """The completions bash offers for the last of words (a command line being typed)."""
    if not shutil.which("bash"):
        raise Skip("no bash")
    prog = ('source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _netgrind_complete; '
            'printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    res = h.run(["bash", "-c", prog, SCRIPT, *words], env=env, timeout=20)
    check(res.rc == 0 and res.stderr == "", f"bash for {words}", res)
    return [w for w in res.stdout.splitlines() if w], res


@test
def long_options_from_help(h):
    """A prefix completes to the options that start with it; '=' stays on one taking a
    value."""
    got, res = complete(h, "flowgrind", "--sh")
    check(got == ["--show-colon="], f"flowgrind --sh -> {got}", res)
    got, res = complete(h, "flowgrindd", "--allow")
    check(got == ["--allow-controller=", "--allow-destination="], f"flowgrindd -> {got}", res)
    got, res = complete(h, "tcpkali", "--conne")
    check(got == ["--connect-rate", "--connect-timeout", "--connections"],
          f"tcpkali --conne -> {got}", res)


@test
def only_option_names_are_offered(h):
    """Prose in a help text ("With -1 all flow are refered") is not an option; an optional
    value ("--help[=WHAT]") keeps no "="; "--dump-{all,all-in,all-out}" is three options."""
    got, res = complete(h, "flowgrind", "-")
    check("-1" not in got and "--help" in got and "--help=" not in got, f"flowgrind -> {got}",
          res)
    got, res = complete(h, "tcpkali", "--dump-")
    check(sorted(got) == ["--dump-all", "--dump-all-in", "--dump-all-out", "--dump-one",
                          "--dump-one-in", "--dump-one-out"], f"tcpkali --dump- -> {got}", res)
    got, res = complete(h, "udping_server", "-")
    check({"-l", "-p", "-k", "-r", "-s", "-t", "-m", "-v", "-q", "--json"} <= set(got),
          f"udping_server (a synopsis over several lines) -> {got}", res)


@test
def short_options_are_case_sensitive(h):
    """seqtest's -s, -S and -r are three options (a locale-aware sort -u would merge two)."""
    got, res = complete(h, "seqtest", "-")
    check({"-s", "-S", "-r", "-o", "--json"} <= set(got), f"seqtest - -> {got}", res)


@test
def netgrind_tool_names_then_tool_options(h):
    got, res = complete(h, "netgrind", "flow")
    check(sorted(got) == ["flowgrind", "flowgrind-stop", "flowgrindd"],
          f"netgrind flow -> {got}", res)
    got, res = complete(h, "netgrind", "udping_client", "--js")
    check(got == ["--json"], f"netgrind udping_client --js -> {got}", res)


@test
def every_offered_option_is_accepted_by_its_parser(h):
    """No option offered is unknown to its program: each one, given with --help, is not
    refused as unknown (the scrape takes nothing but option names from --help)."""
    for tool in ("seqtest", "udping_client", "udping_server", "tcpkali", "flowgrind",
                 "flowgrindd", "flowgrind-stop"):
        got, _ = complete(h, tool, "-")
        check(len(got) >= 3, f"{tool}: only {got}")
        for opt in got:
            arg = opt + "1" if opt.endswith("=") else opt
            res = h.run([os.path.join(BIN, tool), arg, "--help"], timeout=20)
            check("unrecognized option" not in res.stderr and "invalid option" not in
                  res.stderr, f"{tool} refuses its own offered option {opt}", res)


run_tests()
