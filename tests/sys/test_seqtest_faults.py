#!/usr/bin/env python3
"""System tests of seqtest under faults (doc/man/seqtest.1: VERIFY, DIAGNOSTICS, EXIT
STATUS): the fault relay (faultrelay.py) between sender and replier reorders, duplicates,
drops and corrupts messages, and seqtest must report each fault naming the connection, the
sequence number and the byte offset, with the documented exit status; a replier that
vanishes mid-run; a replier fed garbage; the replier's summary on SIGTERM.

Usage: python3 tests/sys/test_seqtest_faults.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import signal
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, test, wait_until  # noqa: E402
from faultrelay import DOWN, parse_fault  # noqa: E402
from seqtest_helpers import (  # noqa: E402
    FaultRelay, parse_summary, run_sender, sender_argv, start_replier, stop_replier,
    summary_ok)

# Random sizes make a shifted reply visible to the sender (its echoed sizes no longer match
# the request it is taken for); the seed makes the run repeatable.
RANDOM = "ssize_min=100,ssize_max=3000,rsize_min=100,rsize_max=3000,seed=11"
FIXED = "ssize=200,rsize=150,seed=11"


def through_relay(h, faults, verify=True):
    """A replier (with -o verify unless told) behind a relay with faults; returns
    (replier, relay)."""
    rep, port = start_replier(h, opts="verify" if verify else None)
    relay = FaultRelay(("127.0.0.1", port), faults).start()
    h.on_cleanup(relay.close)
    return rep, relay


def conn_prefix(relay):
    """How the sender names its connection 0 (to the relay)."""
    return rf"seqtest: conn 0 127\.0\.0\.1:{relay.port}: "


def peer_prefix(relay):
    """How the replier names the relay's connection: peer remote[ conn 0]."""
    host, port = relay.connections[0].upstream
    return rf"seqtest: peer {re.escape(host)}:{port}(?: conn 0)?: "


def stderr_line(text, rx, what, *context):
    m = re.search("^" + rx + "$", text, re.M)
    check(m, f"no {what} line /{rx}/ on stderr", *context)
    return m


def stream_offset(relay, direction, seq, offset):
    return sum(relay.connections[0].sizes[direction][:seq]) + offset


# ---- clean runs through the relay ------------------------------------------------------------

@test
def clean_relay_with_verify_reports_no_fault(h):
    rep, relay = through_relay(h, [])
    for mode in ("-s", "-S"):
        res = run_sender(h, mode, f"127.0.0.1:{relay.port}", f"verify,count=200,{RANDOM}")
        check(res.rc == 0, f"{mode} -o verify through a clean relay: exit {res.rc}", res)
        fig = parse_summary(res, verify=True)
        check(fig["replies"] == 200 and fig["violations"]["total"] == 0, "clean run", res)
        check(res.stderr == "", "diagnostics on a clean run", res)
    summ, rres = stop_replier(rep)
    check(summ["violations"]["total"] == 0 and summ["closed_on_error"] == 0
          and summ["received"] == 400 and summ["replies"] == 400, "replier summary", rres)
    check(rres.stderr == "", "replier diagnostics on a clean run", rres)
    check(sum(c.messages["down"] for c in relay.connections) == 400
          and sum(c.messages["up"] for c in relay.connections) == 400,
          "messages counted at the relay", relay.events)


@test
def clean_relay_without_verify_succeeds(h):
    _, relay = through_relay(h, [], verify=False)
    summary_ok(run_sender(h, "-s", f"127.0.0.1:{relay.port}", f"count=300,rinterval=2,{RANDOM}"),
               150)
    summary_ok(run_sender(h, "-S", f"127.0.0.1:{relay.port}", f"threads=2,count=100,{RANDOM}"),
               200)


# ---- request faults: the replier reports them ----------------------------------------------

def async_fault_run(h, fault, opts=RANDOM, count=20):
    rep, relay = through_relay(h, [fault])
    res = run_sender(h, "-s", f"127.0.0.1:{relay.port}", f"verify,count={count},{opts}",
                     timeout=20)
    check(relay.applied() == [f"conn 0: {parse_fault(fault)!r}"],
          "the relay did not apply the fault", relay.events)
    summ, rres = stop_replier(rep)
    return res, relay, summ, rres


def sender_saw_violation(res, relay):
    """-s -o verify: any violation means exit 1, after the summary and its block; the
    diagnostic names connection 0 and its remote."""
    check(res.rc == 1, f"sender exit {res.rc}, expected 1 (-s -o verify, a violation)", res)
    fig = parse_summary(res, verify=True)
    check(fig["violations"]["total"] >= 1, "sender's violation block shows none", res)
    check(re.search("^" + conn_prefix(relay), res.stderr, re.M),
          "no sender diagnostic naming 'conn 0 <relay address>'", res)
    return fig


def replier_closed_at_the_fault(relay, summ, rres):
    """Man page (VERIFY): with -o verify the replier closes a connection at its first
    violation of any kind, after its diagnostic line, with the line 'closing connection after
    a violation (-o verify)', which counts as no violation."""
    check(summ["closed_on_error"] == 1, "the replier did not close the faulted connection",
          rres)
    stderr_line(rres.stderr, peer_prefix(relay) + r"closing connection after a violation "
                r"\(-o verify\)", "closing", rres)


def sender_saw_the_close(res, relay):
    """The sender learns of a fault in its own direction from the early close: exit 1."""
    check(res.rc == 1, f"sender exit {res.rc} after the replier closed, expected 1", res)
    stderr_line(res.stderr, conn_prefix(relay) + r"(receiver: recv closed too soon "
                r"\(\d+ rx, expected \d+\)|rcvr/recv: .+|sender/send: .+)",
                "closed_early or io_error", res)


@test
def reorder_is_reported(h):
    res, relay, summ, rres = async_fault_run(h, "reorder:5")
    # Arrival order 0..4, 6, 5: the first violation is 6 where 5 was expected.
    stderr_line(rres.stderr, peer_prefix(relay) + r"request seqno out of order \(6 != 5\)!!",
                "seqno", rres)
    v = summ["violations"]
    check(v["seqno"] == 1 and v["total"] == 1, "replier counts for one reorder", rres)
    replier_closed_at_the_fault(relay, summ, rres)
    sender_saw_violation(res, relay)
    sender_saw_the_close(res, relay)


@test
def duplicate_is_reported(h):
    res, relay, summ, rres = async_fault_run(h, "dup:7")
    stderr_line(rres.stderr, peer_prefix(relay) + r"request seqno out of order \(7 != 8\)!!",
                "seqno", rres)
    v = summ["violations"]
    check(v["seqno"] == 1 and v["total"] == 1, "one duplicate is one seqno violation", rres)
    replier_closed_at_the_fault(relay, summ, rres)
    sender_saw_violation(res, relay)
    sender_saw_the_close(res, relay)


@test
def drop_is_reported(h):
    rep, relay = through_relay(h, ["drop:3"])
    snd = h.spawn(sender_argv("-s", f"127.0.0.1:{relay.port}", f"verify,count=20,{RANDOM}"))
    rep.wait_output(peer_prefix_when_known(relay) + r"request seqno out of order \(4 != 3\)!!$",
                    timeout=20, stream="stderr")
    # One reply never comes: the sender must still end (exit 1), not wait for it forever.
    try:
        rc = snd.wait(10)
    except AssertionError:
        check(False, "the -s -o verify sender was still running 10 s after the replier "
              "reported the dropped request: it waits forever for the missing reply",
              snd.stdout[-1000:], snd.stderr[-1000:])
    check(rc == 1, f"sender exit {rc}: one reply never comes, expected 1", snd.stderr)
    check(re.search("^" + conn_prefix(relay), snd.stderr, re.M),
          "no sender diagnostic naming conn 0", snd.stderr)
    summ, rres = stop_replier(rep)
    v = summ["violations"]
    check(v["seqno"] == 1 and v["total"] == 1, "one gap is one seqno violation", rres)
    replier_closed_at_the_fault(relay, summ, rres)


def replier_read_to_end(relay):
    """An -s sender without replies is done when its bytes are in the relay, not in the
    replier: wait until the replier has read the stream to its end and closed its side, so
    its summary counts every message."""
    wait_until(lambda: relay.connections and relay.connections[0].eof[DOWN], 10,
               "the replier closing the connection after the sender's end")


@test
def without_verify_a_duplicate_leaves_the_connection_open(h):
    """Without -o verify a seqno violation is reported and the replier goes on."""
    rep, relay = through_relay(h, ["dup:7"], verify=False)
    run_sender(h, "-s", f"127.0.0.1:{relay.port}", "count=20,rinterval=0", timeout=20)
    replier_read_to_end(relay)
    summ, rres = stop_replier(rep)
    stderr_line(rres.stderr, peer_prefix(relay) + r"request seqno out of order \(7 != 8\)!!",
                "seqno", rres)
    check(summ["closed_on_error"] == 0 and summ["received"] == 21
          and summ["violations"]["total"] == 1, "replier summary", rres)


@test
def diagnostics_are_capped_at_20_lines_per_connection(h):
    rep, relay = through_relay(h, [f"dup:{i}" for i in range(30)], verify=False)
    res = run_sender(h, "-s", f"127.0.0.1:{relay.port}", "count=40,rinterval=0", timeout=20)
    check(res.rc == 0, "sender exit without verify", res)
    replier_read_to_end(relay)
    summ, rres = stop_replier(rep)
    check(summ["violations"]["seqno"] == 30 and summ["received"] == 70,
          "all 30 violations are counted", rres)
    lines = [l for l in rres.stderr.splitlines() if l.startswith("seqtest: peer ")]
    check(len(lines) == 20, f"{len(lines)} diagnostic lines for one connection, expected 20",
          rres)
    check(lines[-1].endswith("(further diagnostics on this connection are only counted)"),
          "the 20th line does not say the rest are only counted", rres)
    check(re.search(r"request seqno out of order \(0 != 1\)!!", lines[0]), "first line", rres)


def peer_prefix_when_known(relay):
    wait_until(lambda: relay.connections and relay.connections[0].upstream, 10,
               "the relay's connection to the replier")
    return "^" + peer_prefix(relay)


def payload_mismatch_rx(seq, off, stream_off, payload_len):
    return (rf"payload mismatch at seqno {seq} offset {off} \(stream offset {stream_off}\): "
            rf"got 0x([0-9a-f]{{2}}), expected 0x([0-9a-f]{{2}}) "
            rf"\(1 of {payload_len} payload bytes differ\)")


@test
def corrupt_request_payload_is_reported_by_the_replier(h):
    res, relay, summ, rres = async_fault_run(h, "corrupt:9:50", opts=RANDOM)
    size = relay.connections[0].sizes["up"][9]
    rx = peer_prefix(relay) + payload_mismatch_rx(9, 50, stream_offset(relay, "up", 9, 50),
                                                  size - 40)
    m = stderr_line(rres.stderr, rx, "payload mismatch", rres)
    check(int(m.group(1), 16) ^ int(m.group(2), 16) == 0xFF,
          "got/expected do not differ by the flipped bits (0xff)", rres)
    v = summ["violations"]
    check(v["payload"] == 1 and v["total"] == 1, "replier counts", rres)
    replier_closed_at_the_fault(relay, summ, rres)
    sender_saw_the_close(res, relay)


def first_wrong_offset(m, off, what, res):
    """Bytes lost at offset off shift the rest of the message: the first wrong byte is at
    off, or (when a shifted byte happens to equal the pattern's, 1 in 256 each) a few after."""
    k = int(m.group(1))
    check(off <= k < off + 8, f"{what}: first wrong byte reported at offset {k}, the bytes "
          f"were lost at {off}", res)
    return k


def mismatch_rx(seq):
    return (rf"payload mismatch at seqno {seq} offset (\d+) \(stream offset (\d+)\): got "
            r"0x[0-9a-f]{2}, expected 0x[0-9a-f]{2} \(\d+ of \d+ payload bytes differ\)")


@test
def bytes_lost_inside_a_request_are_reported_by_the_replier(h):
    """The relay deletes 3 payload bytes of request 5 and keeps the connection: with -o
    verify the replier reports the payload mismatch at seqno 5 and the offset where the
    bytes went missing, and closes the connection, which the sender then reports."""
    res, relay, summ, rres = async_fault_run(h, "snip:5:100:3", opts=FIXED)
    m = stderr_line(rres.stderr, peer_prefix(relay) + mismatch_rx(5), "payload mismatch", rres)
    k = first_wrong_offset(m, 100, "replier", rres)
    check(int(m.group(2)) == 5 * 200 + k, f"stream offset {m.group(2)}, expected "
          f"{5 * 200 + k}", rres)
    check(summ["violations"]["payload"] == 1, "replier payload count", rres)
    replier_closed_at_the_fault(relay, summ, rres)
    sender_saw_the_close(res, relay)


@test
def bytes_lost_inside_a_reply_are_reported_by_the_sender(h):
    res, relay, _, rres = async_fault_run(h, "reply-snip:3:60:2", opts=FIXED)
    m = stderr_line(res.stderr, conn_prefix(relay) + mismatch_rx(3), "payload mismatch", res)
    k = first_wrong_offset(m, 60, "sender", res)
    check(int(m.group(2)) == 3 * 150 + k, f"stream offset {m.group(2)}", res)
    # The next reply header starts 2 bytes late: the framing is lost, the connection ends.
    check(res.rc == 1, f"sender exit {res.rc} after bytes were lost, expected 1", res)
    fig = parse_summary(res, verify=True)
    check(fig["violations"]["payload"] == 1 and fig["replies"] <= 4, "sender block", res)


@test
def corrupt_request_header_is_reported_and_closes(h):
    res, relay, summ, rres = async_fault_run(h, "corrupt:6:9", opts=FIXED)   # a ts1 byte
    rx = (peer_prefix(relay) + rf"damaged header at seqno 6 \(stream offset "
          rf"{stream_offset(relay, 'up', 6, 0)}\): check value mismatch, closing connection")
    stderr_line(rres.stderr, rx, "damaged header", rres)
    v = summ["violations"]
    check(v["header"] == 1 and summ["closed_on_error"] == 1, "replier counts", rres)
    check(res.rc == 1, f"sender exit {res.rc}: its connection closed early, expected 1", res)
    stderr_line(res.stderr, conn_prefix(relay) +
                r"(receiver: recv closed too soon \(\d rx, expected 20\)|rcvr/recv: .+)",
                "closed_early or io_error", res)
    fig = parse_summary(res, verify=True)
    v = fig["violations"]
    check(fig["replies"] <= 6 and v["closed_early"] + v["io_error"] == 1, "sender block", res)


@test
def corrupt_request_size_field_is_a_size_violation(h):
    # ssz 200 (0x00c8) -> 0x40c8 = 16584 > 8000
    res, relay, summ, rres = async_fault_run(h, "corrupt:4:37:0x40", opts=FIXED)
    stderr_line(rres.stderr, peer_prefix(relay) +
                r"(?:h->ssz too big \(16584 > 8000\), closing connection|"
                r"damaged header at seqno 4 \(stream offset 800\): check value mismatch, "
                r"closing connection)", "size or header", rres)
    check(summ["closed_on_error"] == 1, "replier must close the connection", rres)
    check(res.rc == 1, "sender exit", res)


# ---- reply faults: the sender reports them -------------------------------------------------

@test
def corrupt_reply_payload_is_reported_by_the_async_sender(h):
    res, relay, summ, rres = async_fault_run(h, "reply-corrupt:3:60", opts=FIXED)
    m = stderr_line(res.stderr, conn_prefix(relay) + payload_mismatch_rx(3, 60, 3 * 150 + 60,
                                                                         110),
                    "payload mismatch", res)
    check(int(m.group(1), 16) ^ int(m.group(2), 16) == 0xFF, "flipped bits", res)
    fig = sender_saw_violation(res, relay)
    check(fig["violations"]["payload"] == 1 and fig["replies"] == 20, "sender block", res)
    check(summ["violations"]["total"] == 0, "the replier saw nothing wrong", rres)


@test
def corrupt_reply_header_is_reported_by_the_async_sender(h):
    res, relay, _, _ = async_fault_run(h, "reply-corrupt:3:0", opts=FIXED)   # seqno 3 -> 252
    stderr_line(res.stderr, conn_prefix(relay) + r"reply seqno out of order \(252 != 3\)!!",
                "seqno", res)
    fig = sender_saw_violation(res, relay)
    check(fig["violations"]["seqno"] >= 1, "sender block seqno", res)


@test
def sync_sender_stops_at_the_first_fault_without_summary(h):
    _, relay = through_relay(h, ["reply-corrupt:4:100"])
    res = run_sender(h, "-S", f"127.0.0.1:{relay.port}", f"verify,count=50,{FIXED}", timeout=20)
    check(res.rc == 1, f"-S exit {res.rc} on a corrupt reply, expected 1", res)
    stderr_line(res.stderr, conn_prefix(relay) + payload_mismatch_rx(4, 100, 4 * 150 + 100,
                                                                     110),
                "payload mismatch", res)
    check("Received" not in res.stdout, "-S printed a summary after a fault", res)


@test
def sync_sender_detects_a_duplicated_request(h):
    rep, relay = through_relay(h, ["dup:2"])
    res = run_sender(h, "-S", f"127.0.0.1:{relay.port}", f"verify,count=50,{FIXED}", timeout=20)
    check(res.rc == 1, f"-S exit {res.rc} with a duplicated request, expected 1", res)
    # mismatched timestamps (the replier answers the duplicate), or closed_early when the
    # replier closes the connection at the fault.
    check(re.search("^" + conn_prefix(relay) + r"(mismatched timestamps: \d+ != \d+|"
                    r"reply seqno out of order \(\d+ != \d+\)!!|"
                    r"sender: recv closed too soon \(\d+ rx, expected 50\))$",
                    res.stderr, re.M),
          "no mismatched timestamps/seqno/closed diagnostic naming conn 0", res)
    check("Received" not in res.stdout, "-S printed a summary after a fault", res)
    summ, rres = stop_replier(rep)
    check(summ["violations"]["seqno"] == 1, "replier seqno count", rres)


@test
def replier_replies_sent_match_the_wire_after_a_fault(h):
    """Every reply the replier counts as sent must reach the wire, also when the connection
    ends at a fault (here: -S, request 2 duplicated)."""
    rep, relay = through_relay(h, ["dup:2"])
    run_sender(h, "-S", f"127.0.0.1:{relay.port}", f"verify,count=50,{FIXED}", timeout=20)
    summ, rres = stop_replier(rep)
    wait_until(lambda: relay.connections[0].closed, 10, "the relayed connection to close")
    on_wire = relay.connections[0].messages["down"]
    check(summ["replies"] == on_wire, f"the replier reports {summ['replies']} replies sent, "
          f"but {on_wire} reached the wire (the relay saw a clean EOF after them)", rres,
          relay.events)


@test
def without_verify_a_reorder_is_reported_but_async_exit_is_0(h):
    rep, relay = through_relay(h, ["reorder:5"], verify=False)
    res = run_sender(h, "-s", f"127.0.0.1:{relay.port}", "count=20", timeout=20)
    fig = summary_ok(res, 20)
    check("violations" not in fig, "no block without verify", res)
    summ, rres = stop_replier(rep)
    stderr_line(rres.stderr, peer_prefix(relay) + r"request seqno out of order \(6 != 5\)!!",
                "seqno", rres)
    check(summ["violations"]["seqno"] == 3, "replier seqno count (6!=5, 5!=7, 7!=6)", rres)


@test
def a_path_cut_mid_message_ends_the_run_with_exit_1(h):
    """The relay forwards 25 bytes of request 10 and closes both sides."""
    for mode, rx in (("-S", r"sender: recv closed too soon \(10 rx, expected 50\)"),
                     ("-s", r"receiver: recv closed too soon \(\d+ rx, expected 50\)")):
        _, relay = through_relay(h, ["truncate:10:25"], verify=False)
        res = run_sender(h, mode, f"127.0.0.1:{relay.port}", "count=50,sdelay=100000",
                         timeout=20)
        check(res.rc == 1, f"{mode}: exit {res.rc} after the path was cut, expected 1", res)
        stderr_line(res.stderr, conn_prefix(relay) + rx, "closed_early", res)
        if mode == "-s":
            fig = parse_summary(res)
            check(fig["replies"] <= 10, "replies after the cut", res)
        else:
            check("Received" not in res.stdout, "-S printed a summary after a fault", res)


# ---- a replier that disappears ---------------------------------------------------------------

def vanish_run(h, mode, opts):
    rep, port = start_replier(h, extra=["-d"])
    snd = h.spawn(sender_argv(mode, f"127.0.0.1:{port}", opts))
    # The replier's -d characters (one per message received) show the run is under way.
    rep.wait_output(r"[-+]{400}", timeout=20)
    check(snd.alive(), "the sender ended before the replier was killed", snd.stdout,
          snd.stderr)
    rep.kill()
    rc = snd.wait(20)
    check(rc not in (141, -signal.SIGPIPE), f"sender died from SIGPIPE (status {rc})",
          snd.stderr)
    check(rc == 1, f"sender exit {rc} when the replier vanished, expected 1", snd.stderr[-2000:])
    text = snd.stderr
    check(re.search(rf"^seqtest: conn \d+ 127\.0\.0\.1:{port}: "
                    r"(sender: recv closed too soon \(\d+ rx, expected \d+\)|"
                    r"receiver: recv closed too soon \(\d+ rx, expected \d+\)|"
                    r"sender/send: .+|rcvr/recv: .+)$", text, re.M),
          "no clear diagnostic naming the connection and the closed/failed call", text[-2000:])
    return snd


@test
def replier_vanishes_during_sync_run(h):
    snd = vanish_run(h, "-S", "count=100000000")
    check("Received" not in snd.stdout, "-S printed a summary after a fault", snd.stdout[-500:])


@test
def replier_vanishes_during_async_run(h):
    snd = vanish_run(h, "-s", "threads=2,count=100000000,sdelay=20000")
    parse_summary_from = snd.stdout
    check("Received" in parse_summary_from, "-s prints the summary before exit 1",
          parse_summary_from[-500:])


@test
def replier_vanishes_during_async_run_without_delay(h):
    vanish_run(h, "-s", "count=100000000,rinterval=100,ssize=1000")


def interrupt_run(h, mode, opts, sig):
    rep, port = start_replier(h, extra=["-d"])
    snd = h.spawn(sender_argv(mode, f"127.0.0.1:{port}", opts))
    rep.wait_output(r"[-+]{400}", timeout=20)
    snd.signal(sig)
    rc = snd.wait(10)
    from harness import Result
    res = Result(snd.argv, rc, snd.stdout, snd.stderr)
    check(rc == 1, f"{mode} sender exit {rc} after {sig.name}, expected 1", res)
    stderr_line(res.stderr, r"seqtest: interrupted by a signal", "interrupted", res)
    fig = parse_summary(res)
    check(fig["replies"] > 0, "the summary of what was received so far is empty", res)
    check(rep.alive(), "the replier died", rep.stderr)


@test
def sync_sender_interrupted_prints_what_it_received(h):
    interrupt_run(h, "-S", "count=100000000", signal.SIGTERM)


@test
def async_sender_interrupted_prints_what_it_received(h):
    interrupt_run(h, "-s", "threads=2,count=100000000,sdelay=20000", signal.SIGINT)


# ---- a replier fed garbage -------------------------------------------------------------------

def valid_request(seq, rsz=40):
    return struct.pack("<QQQQIHH", seq, 1000 + seq, 0, 0, 0, 40, rsz)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def closed_by_peer(s):
    s.settimeout(10)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


@test
def replier_closes_a_garbage_connection_and_serves_the_others(h):
    rep, port = start_replier(h)
    good = socket.create_connection(("127.0.0.1", port), timeout=10)
    h.on_cleanup(good.close)
    good.sendall(valid_request(0))
    check(len(recv_exact(good, 40)) == 40, "no reply on the good connection")
    cases = [(9000, 40, r"h->ssz too big \(9000 > 8000\), closing connection"),
             (10, 40, r"h->ssz too small \(10 < 40\), closing connection"),
             (40, 10, r"h->rsz too small \(10 < 40\), closing connection"),
             (40, 9001, r"h->rsz too big \(9001 > 8000\), closing connection")]
    for i, (ssz, rsz, rx) in enumerate(cases):
        bad = socket.create_connection(("127.0.0.1", port), timeout=10)
        h.on_cleanup(bad.close)
        bad.sendall(struct.pack("<QQQQIHH", 0, 1, 0, 0, 0, ssz, rsz) + bytes(60))
        check(closed_by_peer(bad), f"replier kept the connection open after ssz={ssz} "
              f"rsz={rsz}", rep.stderr)
        lport = bad.getsockname()[1]
        rep.wait_output(rf"^seqtest: peer 127\.0\.0\.1:{lport}: {rx}$", timeout=10,
                        stream="stderr")
        good.sendall(valid_request(i + 1))
        reply = recv_exact(good, 40)
        check(len(reply) == 40 and struct.unpack_from("<Q", reply)[0] == i + 1,
              "the good connection stopped being served", rep.stderr)
    check(rep.alive(), "the replier died", rep.stderr)
    summary_ok(run_sender(h, "-S", f"127.0.0.1:{port}", "count=20"), 20)
    good.close()
    summ, rres = stop_replier(rep)
    check(summ["closed_on_error"] == 4 and summ["violations"]["size"] == 4, "replier summary",
          rres)


@test
def replier_survives_a_peer_that_resets(h):
    rep, port = start_replier(h)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(valid_request(0) + valid_request(1)[:20])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    summary_ok(run_sender(h, "-S", f"127.0.0.1:{port}", "count=10"), 10)
    check(rep.alive(), "the replier died after a reset", rep.stderr)


# ---- replier summary on SIGTERM --------------------------------------------------------------

@test
def replier_violation_summary_on_sigterm(h):
    rep, relay = through_relay(h, ["dup:3@0", "corrupt:8:45@1"])
    snd = h.spawn(sender_argv("-s", f"127.0.0.1:{relay.port}",
                              f"verify,threads=2,count=30,{FIXED}"))
    snd.wait(20)
    check(sorted(relay.applied()) == ["conn 0: dup:3@0", "conn 1: corrupt:8:45@1"],
          "faults applied", relay.events)
    summ, rres = stop_replier(rep)
    v = summ["violations"]
    check(v["seqno"] == 1 and v["payload"] == 1 and v["total"] == 2, "violation counts", rres)
    check(summ["accepted"] == 2, "connections accepted", rres)
    stderr_line(rres.stderr, r"seqtest: peer 127\.0\.0\.1:\d+ conn \d: request seqno out of "
                r"order \(3 != 4\)!!", "seqno", rres)
    stderr_line(rres.stderr, r"seqtest: peer 127\.0\.0\.1:\d+ conn \d: payload mismatch at "
                r"seqno 8 offset 45 \(stream offset 1645\): .*", "payload", rres)


@test
def replier_summary_on_sigint_too(h):
    rep, port = start_replier(h)
    summary_ok(run_sender(h, "-S", f"127.0.0.1:{port}", "count=5"), 5)
    rep.signal(signal.SIGINT)
    wait_until(lambda: not rep.alive(), 10, "replier exit on SIGINT")
    check(rep.wait(1) == 0, "replier exit status after SIGINT", rep.stderr)
    check(re.search(r"^Connections: 1 accepted, 0 closed on error$", rep.stdout, re.M),
          "no replier summary after SIGINT", rep.stdout)


run_tests()
