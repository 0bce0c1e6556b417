#!/usr/bin/env python3
"""System tests of tcpkali's traffic over loopback (doc/man/tcpkali.1, spec tcpkali.md §3,
issue 4): a tcpkali sink and a client agree on the bytes; the summary is in the original's
format and its figures agree with each other; -r holds its rate and keeps message
boundaries; -1 is not charged to -r; several -m make one message; -e escapes and -f bytes;
the bandwidth caps (separate from -r, smooth in both directions); --write-combine off;
--channel-lifetime replaces connections; several destinations and --source-ip addresses
share the connections; no extra probe connection at start; --connect-rate paces ramp-up;
-d dumps; IPv6 destinations; --listen-mode silent and active; -l 0 gives every family one
port; and, in a network namespace of its own, loopback source spreading beyond a narrow
ephemeral port range (1000 and 100 ports), -l 0 next to a port taken for one family, and
the TIME_WAIT warning.

Latency is in test_tcpkali_latency.py, faults and signals in test_tcpkali_faults.py, bad
options in test_tcpkali_errors.py, the status line, --json and statsd in
test_tcpkali_output.py.

Usage: python3 tests/sys/test_tcpkali.py BUILD_DIR [TEST_NAME...]
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_tests, Skip, test, wait_until  # noqa: E402
from tcpkali_helpers import (  # noqa: E402
    check_summary_arithmetic, client, hostport, jget, json_doc, need_ipv6, ok, parse_summary,
    start_sink, stop_sink, tcpkali as tcpkali_path, wait_sink_drained)
from tcpkali_peers import PeerServer  # noqa: E402

# stderr lines a client prints before its summary (spec §3.9; netgrind drops the probe).
DEST_RX = r"^Destination: \[([^\]]+)\]:(\d+)$"


def closed_all(peer, n=None):
    """The Python peer saw every connection end (n of them, if given)."""
    conns = peer.snapshot()
    return (n is None or len(conns) >= n) and all(c.closed_at is not None for c in conns)


def wait_peer_closed(peer, timeout=10):
    wait_until(lambda: closed_all(peer), timeout, "the test peer to see every connection end")


# ---- byte counts: client and sink agree ------------------------------------------------------

@test
def sink_and_client_agree_rate_limited(h):
    """-c 10 -r 100 -m hello: the sink (a pure listener, no ramp-up) receives everything the
    client sent, and the client's steady-state total is that minus what went out during
    its short ramp-up (spec §3.3: totals exclude ramp-up traffic)."""
    sink, port = start_sink(h)
    res = ok(client(h, ["-c", 10, "--connect-rate", "10k", "-m", "hello", "-r", 100, "-T", 2,
                        f"127.0.0.1:{port}"]))
    cfig = parse_summary(res)
    check(re.search(DEST_RX, res.stderr, re.M), "no 'Destination: [ip]:port' line", res)
    wait_sink_drained(port)
    sres = stop_sink(sink)
    sfig = parse_summary(sres)
    check(sfig["sent"] == 0 and cfig["rcvd"] == 0, "data flowed from the silent sink", res, sres)
    # Ramp-up of 10 connections at 10k/s lasts about 1 ms, a message or two per connection;
    # allow for the control thread noticing the end of ramp-up up to 0.3 s late.
    extra = sfig["rcvd"] - cfig["sent"]
    check(0 <= extra <= 0.3 * 10 * 100 * 5, f"sink received {sfig['rcvd']} bytes, client reports "
          f"{cfig['sent']} sent in steady state: difference {extra} is more than ramp-up can "
          "explain", res, sres)
    check(sfig["rcvd"] % 5 == 0, "the sink received a partial 'hello'", sres)
    check_summary_arithmetic(cfig, res, 10)
    # Fixed bug (spec bug 26): the sink's per-channel figure divides by the most connections
    # open at once (10), not by those open at the end (none: the client has left).
    check_summary_arithmetic(sfig, sres, 10)


@test
def sink_and_client_agree_in_bulk(h):
    """Unlimited rate, 2 connections: bytes the client counts as sent in steady state never
    exceed what the sink received, and the sink's share not in the client's figure is only
    the ramp-up (with -c 2 at 10k/s, well under a second of traffic)."""
    sink, port = start_sink(h)
    res = ok(client(h, ["-c", 2, "--connect-rate", "10k", "-m", "hello", "-T", 1,
                        f"127.0.0.1:{port}"]))
    cfig = parse_summary(res)
    wait_sink_drained(port)
    sres = stop_sink(sink)
    sfig = parse_summary(sres)
    check(cfig["sent"] > 1_000_000, f"only {cfig['sent']} bytes in 1 s of bulk traffic", res)
    check(sfig["rcvd"] >= cfig["sent"], f"sink received {sfig['rcvd']} < client sent "
          f"{cfig['sent']}", res, sres)
    check(sfig["rcvd"] - cfig["sent"] <= 0.5 * cfig["sent"], "the ramp-up share of the sink's "
          f"bytes is implausibly large ({sfig['rcvd'] - cfig['sent']} of {sfig['rcvd']})",
          res, sres)
    check(sfig["rcvd"] % 5 == 0, "the sink received a partial 'hello'", sres)
    check(cfig["mss_out"] >= 1 and sfig["mss_in"] >= 1, "MSS/op of a bulk run is 0", res, sres)
    check_summary_arithmetic(cfig, res, 2)


@test
def summary_format_of_a_silent_client(h):
    """Every line of the summary in the original's format and order, totals human-readable
    as the original prints them (checked in parse_summary), duration close to -T."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 3, "-m", "hello", "-r", 50, "-T", 1, peer.addr]))
    fig = parse_summary(res)
    check(0.95 <= fig["duration_s"] <= 1.3, f"Test duration {fig['duration_s']} s for -T 1",
          res)
    check(fig["rcvd"] == 0 and fig["in_mbps"] == 0.0 and fig["pps_in"] == 0.0, "received "
          "figures of a client whose peer sends nothing", res)
    check(fig["mss_out"] == 1, f"{fig['mss_out']} MSS/op for 5-byte writes", res)
    check("lat_message" not in fig, "a latency line without a latency option", res)


# ---- -r: the rate and the message boundaries ----------------------------------------------------

@test
def rate_is_accurate_and_keeps_boundaries(h):
    """Spec §3.3 (b): -c 10 -r 100 -m hello -T 3 sends 10 × 100 × 5 × 3 = 15000 bytes in
    steady state (the original: 15135). Each connection's stream is whole 'hello's."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 10, "--connect-rate", "10k", "-m", "hello", "-r", 100, "-T", 3,
                        peer.addr]))
    fig = parse_summary(res)
    check(abs(fig["sent"] - 15000) <= 0.03 * 15000, f"sent {fig['sent']} bytes, expected "
          "15000 within 3%", res)
    wait_peer_closed(peer)
    conns = peer.snapshot()
    check(len(conns) == 10, f"the peer accepted {len(conns)} connections for -c 10", res)
    for c in conns:
        check(bytes(c.data) == b"hello" * (c.rcvd // 5) and c.rcvd % 5 == 0,
              f"a connection's stream is not whole 'hello's: {bytes(c.data[:60])!r}... "
              f"({c.rcvd} bytes)", res)
        check(abs(c.rcvd - 1500) <= 0.05 * 1500 + 25, f"one connection carried {c.rcvd} bytes, "
              "expected about 100 × 5 × 3 = 1500", res)
    check(peer.total_rcvd() >= fig["sent"], "the peer received less than the client reports",
          res)


@test
def rate_with_a_larger_message(h):
    """A 1000-byte message at -r 20 on 2 connections for 2 s: 80000 bytes within 5%, whole
    messages only (writes are rounded down to whole messages, spec §3.10)."""
    msg = "".join(chr(ord("a") + i % 26) for i in range(1000))
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 2, "-m", msg, "-r", 20, "-T", 2, peer.addr]))
    fig = parse_summary(res)
    check(abs(fig["sent"] - 80000) <= 0.05 * 80000, f"sent {fig['sent']} bytes, expected "
          "80000 within 5%", res)
    wait_peer_closed(peer)
    for c in peer.snapshot():
        check(c.rcvd % 1000 == 0 and bytes(c.data) == msg.encode() * (c.rcvd // 1000),
              f"a connection carried {c.rcvd} bytes: not whole 1000-byte messages", res)


@test
def several_m_options_form_one_message(h):
    """-m ab -m cde is one 5-byte message 'abcde' for -r (spec §1)."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 1, "-m", "ab", "-m", "cde", "-r", 50, "-T", 1, peer.addr]))
    fig = parse_summary(res)
    wait_peer_closed(peer)
    c = peer.snapshot()[0]
    check(bytes(c.data) == b"abcde" * (c.rcvd // 5) and c.rcvd % 5 == 0,
          f"stream {bytes(c.data[:40])!r}... is not whole 'abcde's", res)
    check(abs(c.rcvd - 250) <= 30, f"{c.rcvd} bytes at -r 50 of 5-byte messages for 1 s, "
          "expected about 250 (one message per -r tick, not one per -m)", res)
    check(fig["sent"] <= c.rcvd, "client counts more than the peer received", res)


@test
def first_message_is_not_charged_to_the_rate(h):
    """Fixed bug (spec bug 29): the original charges -1's bytes to the -r budget, so a
    2000-byte -1 at -r 10 of 'hello' delays the first message by 2000/50 = 40 s. Here the
    first message goes out once, first, and the messages follow at 10/s."""
    first = "F" * 2000
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 1, "-1", first, "-m", "hello", "-r", 10, "-T", 2, peer.addr]))
    parse_summary(res)
    wait_peer_closed(peer)
    c = peer.snapshot()[0]
    data = bytes(c.data)
    check(data.startswith(first.encode()), "the stream does not start with the -1 message",
          res)
    rest = data[len(first):]
    check(rest == b"hello" * (len(rest) // 5), f"after -1: {rest[:40]!r}... is not whole "
          "'hello's", res)
    n = len(rest) // 5
    check(15 <= n <= 25, f"{n} messages after a 2000-byte -1 at -r 10 for 2 s, expected "
          "about 20: -1 must not be charged to the -r budget", res)


@test
def first_message_is_sent_once_per_connection(h):
    peer = PeerServer(h)
    ok(client(h, ["-c", 3, "-1", "HELLO-", "-1", "THERE-", "-m", "x", "-r", 20, "-T", 1,
                  peer.addr]))
    wait_peer_closed(peer)
    conns = peer.snapshot()
    check(len(conns) == 3, f"{len(conns)} connections for -c 3")
    for c in conns:
        d = bytes(c.data)
        check(d.startswith(b"HELLO-THERE-") and set(d[12:]) <= {ord("x")},
              f"stream {d[:40]!r}: the -1 values concatenated once, then 'x's, expected")


@test
def bandwidth_cap_and_rate_are_separate(h):
    """Fixed bug (spec bug 6): -r and --channel-bandwidth-upstream are separate settings, so
    the lower of the two holds in either order. The original kept the last one given:
    '--channel-bandwidth-upstream 500Bps -r 1000' sent at -r 1000, 10000 bytes in 2 s."""
    for args in (["-r", 1000, "--channel-bandwidth-upstream", "500Bps"],
                 ["--channel-bandwidth-upstream", "500Bps", "-r", 1000]):
        peer = PeerServer(h)
        res = ok(client(h, ["-c", 1, "-m", "hello"] + args + ["-T", 2, peer.addr]))
        fig = parse_summary(res)
        check(fig["sent"] <= 2500, f"{' '.join(map(str, args))}: sent {fig['sent']} bytes in "
              "2 s: the 500 B/s cap did not hold (-r 1000 alone sends 10000)", res)
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 1, "-m", "hello", "-r", 20, "--channel-bandwidth-upstream",
                        "1MBps", "-T", 2, peer.addr]))
    fig = parse_summary(res)
    check(180 <= fig["sent"] <= 220, f"-r 20 under a 1 MB/s cap: sent {fig['sent']} bytes in "
          "2 s, expected about 200", res)


@test
def bandwidth_cap_is_smooth(h):
    """Spec §3.10: the upstream cap counts plain bytes (the original's minimal move is one
    byte), so a 500 B/s cap moves about 500 bytes in every second of the run, and the text
    summary of a 2 s run shows about 1000 bytes."""
    peer = PeerServer(h)
    res = ok(client(h, ["--json", "-c", 1, "-m", "hello", "--channel-bandwidth-upstream",
                        "500Bps", "-T", 3, peer.addr]))
    doc = json_doc(res)
    ivs = [iv for iv in jget(doc, "intervals", res, list)
           if iv["phase"] == "steady" and iv["end_s"] - iv["start_s"] >= 0.9]
    check(len(ivs) >= 2, "fewer than two whole steady intervals in a 3 s run", res)
    per_s = [iv["bytes_sent"] for iv in ivs]
    check(all(300 <= b <= 700 for b in per_s), f"bytes sent per second under a 500 B/s cap: "
          f"{per_s}, expected about 500 each", res)
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 1, "-m", "hello", "--channel-bandwidth-upstream", "500Bps",
                        "-T", 2, peer.addr]))
    fig = parse_summary(res)
    check(700 <= fig["sent"] <= 1300, f"sent {fig['sent']} bytes in 2 s under a 500 B/s cap, "
          "expected about 1000", res)


@test
def bandwidth_cap_in_bits(h):
    """Spec §3.10: -c 2 --channel-bandwidth-upstream 80kbps gives 0.160 Mbit/s aggregate."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 2, "-m", "hello", "--channel-bandwidth-upstream", "80kbps",
                        "-T", 2, peer.addr]))
    fig = parse_summary(res)
    check(0.150 <= fig["out_mbps"] <= 0.170, f"aggregate {fig['out_mbps']} Mbit/s for 2 × "
          "80 kbit/s", res)


@test
def write_combine_off_writes_one_message_each(h):
    """--write-combine off: each write carries one message, so writes = messages (JSON);
    with the default, writes carry several at a high rate."""
    peer = PeerServer(h)
    res = ok(client(h, ["--json", "--write-combine", "off", "-c", 1, "-m", "hello", "-r", 2000,
                        "-T", 1, peer.addr]))
    s = jget(json_doc(res), "summary", res, dict)
    check(s["writes"] == s["bytes_sent"] // 5 and s["bytes_sent"] > 1500,
          f"--write-combine off: {s['writes']} writes for {s['bytes_sent']} bytes of 5-byte "
          "messages", res)
    # At 20000 messages/s (one per 50 us) the default combines some of them.
    peer2 = PeerServer(h)
    res2 = ok(client(h, ["--json", "-c", 1, "-m", "hello", "-r", 20000, "-T", 1, peer2.addr]))
    s2 = jget(json_doc(res2), "summary", res2, dict)
    check(s2["writes"] < s2["bytes_sent"] // 5, f"write-combine on at -r 20000: "
          f"{s2['writes']} writes for {s2['bytes_sent'] // 5} messages", res2)


def first_bytes(h, args, n):
    """The first n bytes the peer receives on one connection from tcpkali ARGS (-r 10)."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 1, "-r", 10, "-T", 0.5] + list(args) + [peer.addr]))
    wait_peer_closed(peer)
    conns = peer.snapshot()
    check(len(conns) == 1 and conns[0].rcvd >= n, f"the peer got {peer.total_rcvd()} bytes, "
          f"expected at least {n}", res)
    return bytes(conns[0].data[:n]), res


@test
def escapes_as_the_original(h):
    """Spec §4.5: -e -m 'a\\tb\\\\c\\x41\\0101\\r' sends a, t, b, two backslashes, c, A, A, CR
    (\\t is a plain t, \\\\ stays two backslashes); -e affects only later options."""
    msg = "a\\tb\\\\c\\x41\\0101\\r"
    got, res = first_bytes(h, ["-e", "-m", msg], 9)
    check(got == b"atb\\\\cAA\r", f"-e -m {msg!r} sent {got!r}, expected b'atb\\\\\\\\cAA\\r'",
          res)
    got, res = first_bytes(h, ["-m", "a\\nb", "-e"], 4)
    check(got == b"a\\nb", f"-m 'a\\nb' -e sent {got!r}: -e must not affect an earlier -m",
          res)


@test
def message_file_is_sent_as_its_bytes(h):
    """doc/man/tcpkali.1 (-f): the file's bytes, with no escapes even after -e and no
    expressions (the original unescaped and parsed it, spec bug 9)."""
    import tempfile
    data = b"a\\nb\\{x}\x00\xff"
    fd, path = tempfile.mkstemp(prefix="tcpkali-msg-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    h.on_cleanup(lambda: os.unlink(path))
    got, res = first_bytes(h, ["-e", "-f", path], 2 * len(data))
    check(got == data * 2, f"-e -f sent {got!r}, expected the file's bytes {data!r} repeated",
          res)


# ---- connections -------------------------------------------------------------------------------

@test
def exactly_c_connections_and_no_probe(h):
    """Fixed bug (spec bug 20): the original makes one extra real connection per destination
    at start to detect the source address. Here the peer sees exactly -c connections."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 4, "-m", "x", "-r", 10, "-T", 1, peer.addr]))
    wait_peer_closed(peer)
    check(peer.accepted() == 4, f"the peer accepted {peer.accepted()} connections for -c 4 "
          "(an extra one is the original's source-address probe)", res)


@test
def channel_lifetime_replaces_connections(h):
    """Spec §3.7: -c 5 --channel-lifetime 0.5 -T 2: each connection is closed after 0.5 s
    and replaced, so the peer sees about 5 new connections every 0.5 s."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 5, "-m", "x", "-r", 10, "--channel-lifetime", "0.5",
                        "--connect-rate", "1k", "-T", 2, peer.addr]))
    parse_summary(res)
    wait_peer_closed(peer)
    n = peer.accepted()
    check(15 <= n <= 35, f"{n} connections in 2 s with lifetime 0.5 s and -c 5, expected "
          "about 20-25", res)
    conns = peer.snapshot()
    ended = [c for c in conns if c.eof]
    check(len(ended) == len(conns), f"{len(conns) - len(ended)} connections did not end "
          "with an orderly close", res)
    lives = sorted(c.closed_at - c.accepted_at for c in conns[:-5])
    if lives:
        med = lives[len(lives) // 2]
        check(0.35 <= med <= 0.8, f"median connection life {med:.3f} s for a 0.5 s lifetime",
              res)


@test
def channel_lifetime_counted_in_json(h):
    """The closes by --channel-lifetime are counted by cause (closed.lifetime_ended) and the
    replacements as initiated connections, interval by interval."""
    peer = PeerServer(h)
    res = ok(client(h, ["--json", "-c", 4, "-m", "x", "-r", 10, "--channel-lifetime", "0.25",
                        "--connect-rate", "1k", "-T", 1.5, peer.addr]))
    doc = json_doc(res)
    ivs = jget(doc, "intervals", res, list)
    ended = sum(jget(iv, "connections.closed.lifetime_ended", res, int) for iv in ivs)
    init = sum(jget(iv, "connections.initiated", res, int) for iv in ivs
               if iv["phase"] == "steady")
    check(ended >= 12, f"closed.lifetime_ended adds up to {ended} for 4 connections living "
          "0.25 s over 1.5 s (about 24)", res)
    check(abs(init - ended) <= 4, f"{init} connections initiated in the steady phase to "
          f"replace {ended} that ended", res)


@test
def channel_lifetime_zero_can_finish_ramp_up(h):
    """doc/man/tcpkali.1: --channel-lifetime 0 closes each connection as soon as it is
    established and ramp-up counts connections established once, so it finishes (the
    original never finished, spec bug 18); the connections keep being replaced."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 3, "--channel-lifetime", 0, "--connect-rate", 200, "-T", 1,
                        peer.addr]))
    parse_summary(res)
    check(re.search(r"^Ramped up to 3 connections\.$", res.stderr, re.M),
          "no 'Ramped up to 3 connections.'", res)
    wait_peer_closed(peer)
    check(peer.accepted() >= 20, f"{peer.accepted()} connections in about 1 s with lifetime 0 "
          "at --connect-rate 200: closed connections were not replaced", res)


@test
def connections_round_robin_over_destinations(h):
    """Two destinations, -c 4: two connections each (spec §3.8)."""
    a, b = PeerServer(h), PeerServer(h)
    res = ok(client(h, ["-c", 4, "-m", "x", "-r", 10, "-T", 1, a.addr, b.addr]))
    wait_peer_closed(a)
    wait_peer_closed(b)
    check((a.accepted(), b.accepted()) == (2, 2), f"connections per destination: "
          f"{a.accepted()} and {b.accepted()}, expected 2 and 2", res)
    dests = re.findall(r"^Destination: \[127\.0\.0\.1\]:(\d+)$", res.stderr, re.M)
    check(sorted(int(p) for p in dests) == sorted([a.port, b.port]),
          f"Destination lines {dests}, expected both ports", res)


@test
def ipv6_destination(h):
    """Fixed bug (spec bug 15): [::1]:port works as a destination, and the sink listens on
    [::1]."""
    need_ipv6()
    sink, port = start_sink(h, host="::1")
    res = ok(client(h, ["-c", 2, "-m", "hello", "-r", 20, "-T", 1, hostport("::1", port)]))
    cfig = parse_summary(res)
    check(re.search(rf"^Destination: \[::1\]:{port}$", res.stderr, re.M),
          f"no 'Destination: [::1]:{port}' line", res)
    check(cfig["sent"] > 0, "nothing sent to [::1]", res)
    wait_sink_drained(port)
    sfig = parse_summary(stop_sink(sink))
    check(sfig["rcvd"] >= cfig["sent"] and sfig["rcvd"] % 5 == 0,
          f"sink on [::1] received {sfig['rcvd']} bytes, client sent {cfig['sent']}", res)


@test
def python_peer_over_ipv6(h):
    need_ipv6()
    peer = PeerServer(h, host="::1")
    ok(client(h, ["-c", 1, "-m", "v6", "-r", 10, "-T", 1, peer.addr]))
    wait_peer_closed(peer)
    check(peer.accepted() == 1 and peer.total_rcvd() >= 16, f"peer on [::1] got "
          f"{peer.total_rcvd()} bytes on {peer.accepted()} connections")


@test
def source_ips_share_connections_evenly(h):
    """Fixed bug (spec bug 19): connections are dealt over the --source-ip addresses round
    robin across the whole process, so 6 connections over 2 addresses are 3 and 3."""
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 6, "--connect-rate", "1k", "--source-ip", "127.0.0.2",
                        "--source-ip", "127.0.0.3", "-m", "x", "-r", 5, "-T", 0.5, peer.addr]))
    wait_peer_closed(peer)
    by_ip = {}
    for c in peer.snapshot():
        by_ip[c.peer[0]] = by_ip.get(c.peer[0], 0) + 1
    check(by_ip == {"127.0.0.2": 3, "127.0.0.3": 3}, f"connections by source address "
          f"{by_ip}, expected 3 from each of 127.0.0.2 and 127.0.0.3", res)


@test
def downstream_zero_stops_reading(h):
    """--channel-bandwidth-downstream 0 stops reading (spec §1): the peer's 200 kB greeting
    is not read, so nothing is received."""
    peer = PeerServer(h, greeting=b"z" * 200_000)
    res = ok(client(h, ["-c", 1, "--channel-bandwidth-downstream", 0, "-T", 1, peer.addr]))
    fig = parse_summary(res)
    check(fig["rcvd"] == 0, f"received {fig['rcvd']} bytes with the downstream cap at 0", res)


@test
def downstream_cap_limits_reading(h):
    """--channel-bandwidth-downstream 20kBps on a connection whose peer sends 200 kB at
    once: about 20 kB read per second."""
    peer = PeerServer(h, greeting=b"z" * 200_000)
    res = ok(client(h, ["-c", 1, "--channel-bandwidth-downstream", "20kBps", "-T", 2,
                        peer.addr]))
    fig = parse_summary(res)
    check(30_000 <= fig["rcvd"] <= 50_000, f"received {fig['rcvd']} bytes in 2 s at 20 kB/s",
          res)


@test
def downstream_cap_is_smooth(h):
    """Spec §3.10, doc/man/tcpkali.1: the downstream cap moves in steps of 10 ms of its
    allowance, so a 500 B/s cap reads about 500 bytes in every second of the run (not one
    1460-byte read every three seconds), from a peer that sends 200 kB at once."""
    peer = PeerServer(h, greeting=b"z" * 200_000)
    res = ok(client(h, ["--json", "-c", 1, "--channel-bandwidth-downstream", "500Bps",
                        "-T", 3, peer.addr]))
    ivs = [iv for iv in jget(json_doc(res), "intervals", res, list)
           if iv["phase"] == "steady" and iv["end_s"] - iv["start_s"] >= 0.9]
    check(len(ivs) >= 2, "fewer than two whole steady intervals in a 3 s run", res)
    per_s = [iv["bytes_rcvd"] for iv in ivs]
    check(all(300 <= b <= 700 for b in per_s), f"bytes read per second under a 500 B/s "
          f"downstream cap: {per_s}, expected about 500 each", res)


@test
def connect_rate_paces_the_ramp_up(h):
    """-c 20 --connect-rate 20: ramp-up takes about a second (JSON ramp_up.duration_s), and
    the peer sees the connections arrive spread over it."""
    peer = PeerServer(h)
    res = ok(client(h, ["--json", "-c", 20, "--connect-rate", 20, "-T", 1.5, peer.addr]))
    ramp = jget(json_doc(res), "ramp_up.duration_s", res, float)
    check(0.85 <= ramp <= 1.3, f"ramp-up of 20 connections at 20/s took {ramp} s", res)
    wait_peer_closed(peer)
    t = sorted(c.accepted_at for c in peer.snapshot())
    check(len(t) == 20 and 0.8 <= t[-1] - t[0] <= 1.3, f"the peer saw {len(t)} connections "
          f"over {t[-1] - t[0]:.2f} s", res)


@test
def dump_one_shows_both_directions(h):
    """-d dumps one connection (spec §3.12): 'Snd(fd, len): [data]' and 'Rcv(fd, len):
    [data]' on standard error."""
    peer = PeerServer(h, echo=True)
    res = ok(client(h, ["-c", 1, "-m", "hi!", "-r", 10, "-d", "-T", 0.5, peer.addr]))
    snd = re.findall(r"^Snd\((\d+), 3\): \[hi!\]$", res.stderr, re.M)
    rcv = re.findall(r"^Rcv\((\d+), 3\): \[hi!\]$", res.stderr, re.M)
    check(snd and rcv and set(snd) == set(rcv), "no 'Snd(fd, 3): [hi!]' and 'Rcv(fd, 3): "
          "[hi!]' lines of one connection", res)


def in_netns(h, script, timeout=30):
    """Runs a bash script as root in a fresh network namespace (its own loopback and its own
    ip_local_port_range); skips where that is not allowed."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        raise Skip("no unshare(1) or ip(8)")
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && echo '40000 "
                            "40999' > /proc/sys/net/ipv4/ip_local_port_range"],
                           capture_output=True, timeout=10)
    if probe.returncode:
        raise Skip(f"cannot set up a network namespace: {probe.stderr.decode()[-200:]}")
    return h.run(["unshare", "-n", "bash", "-c", script, "netns-test", tcpkali_path()],
                 timeout=timeout)


NETNS_SINK = r"""
set -u
K="$1"
ip link set lo up
echo "40000 ${PORT_HI:-40999}" > /proc/sys/net/ipv4/ip_local_port_range
out=$(mktemp)
trap 'kill $sink 2>/dev/null; rm -f "$out"' EXIT
"$K" -l 127.0.0.1:0 -T 60 >"$out" 2>&1 &
sink=$!
for _ in $(seq 100); do
    port=$(sed -nE 's/^Listen on: \[127\.0\.0\.1\]:([0-9]+)$/\1/p' "$out")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "no sink port"; cat "$out"; exit 99; }
"""


@test
def loopback_spread_beyond_the_port_range(h):
    """Beyond the original (issue 4): to a loopback destination without --source-ip,
    connections are spread over several 127.0.0.0/8 source addresses, so one destination
    takes more connections than the ephemeral port range holds. In a namespace whose range
    is 1000 ports, -c 1500 to one sink must ramp up."""
    res = in_netns(h, NETNS_SINK + r"""
"$K" -c 1500 --connect-rate 10k -T 1 "127.0.0.1:$port"
""")
    check(res.rc == 0, f"-c 1500 over a 1000-port range: exit {res.rc}, expected 0", res)
    check(re.search(r"^Ramped up to 1500 connections\.$", res.stderr, re.M),
          "no 'Ramped up to 1500 connections.'", res)


@test
def loopback_spread_over_a_100_port_range(h):
    """The number of loopback source addresses comes from the real ephemeral port range
    (40% of it per address, doc/man/tcpkali.1): with 100 ports (40000-40099), -c 300 to one
    sink uses 8 addresses and ramps up, where a fixed 1000 per address would use one and
    fail with 'Cannot assign requested address'."""
    res = in_netns(h, "PORT_HI=40099\n" + NETNS_SINK + r"""
"$K" -c 300 --connect-rate 10k -T 1 "127.0.0.1:$port"
""")
    check(res.rc == 0, f"-c 300 over a 100-port range: exit {res.rc}, expected 0", res)
    check(re.search(r"^Ramped up to 300 connections\.$", res.stderr, re.M),
          "no 'Ramped up to 300 connections.'", res)
    check("Cannot assign requested address" not in res.stderr, "EADDRNOTAVAIL on connect", res)


def read_sysctl(name):
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return None


@test
def no_time_wait_warning_with_tw_reuse_2_on_loopback(h):
    """Fixed bug (spec bug 45): tcp_tw_reuse=2 (the kernel default: reuse on loopback) is not
    'not reusing'; a loopback run with connection churn gives no TIME_WAIT warning."""
    if read_sysctl("net.ipv4.tcp_tw_reuse") not in ("1", "2"):
        raise Skip("net.ipv4.tcp_tw_reuse is neither 1 nor 2 here")
    peer = PeerServer(h)
    res = ok(client(h, ["-c", 2, "--channel-lifetime", 0.2, "--connect-rate", "1k", "-T", 0.5,
                        peer.addr]))
    check(not re.search(r"TIME_WAIT|tw_reuse", res.stderr), "a TIME_WAIT warning with "
          "tcp_tw_reuse=1/2 on loopback", res)


@test
def time_wait_warning_with_tw_reuse_0(h):
    """doc/man/tcpkali.1 (System limits, TIME_WAIT): with net.ipv4.tcp_tw_reuse=0 (set in a
    namespace of its own) and connection churn, a warning names the sysctl."""
    res = in_netns(h, NETNS_SINK + r"""
echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse || exit 98
"$K" -c 2 --channel-lifetime 0.2 --connect-rate 1k -T 0.5 "127.0.0.1:$port"
""")
    if res.rc == 98:
        raise Skip("cannot set net.ipv4.tcp_tw_reuse in a namespace")
    check(res.rc == 0, f"exit {res.rc}", res)
    check(re.search(r"^WARNING: .*tcp_tw_reuse", res.stderr, re.M),
          "no WARNING naming tcp_tw_reuse with tcp_tw_reuse=0 and churning connections", res)


# ---- listen modes ------------------------------------------------------------------------------

@test
def listen_port_zero_is_one_port_for_every_family(h):
    """-l 0 (any free port) listens on 0.0.0.0 and :: (doc/man/tcpkali.1): both 'Listen on:'
    lines name the same port, and clients reach the sink on it over IPv4 and IPv6."""
    need_ipv6()
    for _ in range(3):  # three sinks, three kernel picks
        sink = h.spawn([tcpkali_path(), "-l", 0, "-w", 2, "-T", 30])
        sink.wait_output(r"^Listen on: \[::\]:\d+$", timeout=10, stream="stderr")
        ports = re.findall(r"^Listen on: \[(?:0\.0\.0\.0|::)\]:(\d+)$", sink.stderr, re.M)
        check(len(ports) == 2 and ports[0] == ports[1] != "0",
              f"-l 0 listens on ports {ports}, expected one port for both families",
              sink.stderr)
        for host in ("127.0.0.1", "::1"):
            ok(client(h, ["-c", 1, "-m", "x", "-T", 0.3, hostport(host, ports[0])]))
        res = stop_sink(sink)
        check(parse_summary(res)["rcvd"] > 0, "the sink received nothing", res)


@test
def listen_port_zero_skips_a_port_taken_for_one_family(h):
    """-l 0 when the port the kernel picks for 0.0.0.0 is taken on :: by another program: in a
    namespace whose ephemeral range is 40000-40001 with [::]:40001 taken, the sink still
    listens on one port for both families, 40000 (it holds the bad pick and picks again)."""
    res = in_netns(h, r"""
set -u
K="$1"
ip link set lo up
echo "40000 40001" > /proc/sys/net/ipv4/ip_local_port_range
python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("::", 40001))
s.listen()
time.sleep(20)' &
holder=$!
trap 'kill $holder 2>/dev/null' EXIT
for _ in $(seq 100); do ss -Hltn 'sport = :40001' | grep -q . && break; sleep 0.05; done
"$K" -l 0 -T 0.2
""")
    check(res.rc == 0, f"-l 0 with [::]:40001 taken: exit {res.rc}, expected 0", res)
    ports = re.findall(r"^Listen on: \[(?:0\.0\.0\.0|::)\]:(\d+)$", res.stderr, re.M)
    check(ports == ["40000", "40000"], f"listens on ports {ports}, expected 40000 for both "
          "families (the only port free for both)", res)


@test
def listen_mode_silent_is_accepted(h):
    """Fixed bug (spec bug 1): the documented default --listen-mode=silent is accepted."""
    sink, port = start_sink(h, extra=["--listen-mode=silent"])
    res = ok(client(h, ["-c", 1, "-m", "x", "-r", 10, "-T", 1, f"127.0.0.1:{port}"]))
    check(parse_summary(res)["rcvd"] == 0, "a silent sink sent data", res)
    wait_sink_drained(port)
    stop_sink(sink)


@test
def listen_mode_active_sends_its_messages(h):
    """--listen-mode active: accepted connections get the -m stream (here at -r 50)."""
    srv, port = start_sink(h, extra=["--listen-mode", "active", "-m", "srv", "-r", 50])
    res = ok(client(h, ["-c", 2, "-T", 1, f"127.0.0.1:{port}"]))
    fig = parse_summary(res)
    # 2 connections × 50 msg/s × 3 bytes × 1 s = 300 bytes in steady state.
    check(200 <= fig["rcvd"] <= 400, f"client received {fig['rcvd']} bytes from an active "
          "listener at -r 50 on 2 connections, expected about 300", res)
    wait_sink_drained(port)
    sres = stop_sink(srv)
    sfig = parse_summary(sres)
    check(sfig["sent"] >= fig["rcvd"], f"active listener sent {sfig['sent']}, client received "
          f"{fig['rcvd']}", res, sres)


if __name__ == "__main__":
    run_tests()
