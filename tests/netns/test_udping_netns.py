#!/usr/bin/env python3
"""UDPing across two network namespaces joined by a veth pair (issue 3, "a namespace test"):
udping_server in one, udping_client in raw mode (-a with the server side's real MAC, so the
client builds Ethernet + IPv4 + UDP frames itself on an AF_PACKET socket) in the other.

  raw_mode_counts_match      every packet the client sent is counted by the server, per
                             source port and GUID (the receiving kernel verifies the IPv4 and
                             UDP checksums the client computed, so a bad one shows as loss)
  nft_loss_is_measured       nftables drops data packets at random (numgen random mod 100 <
                             10) on the server's input; the server's lost count equals the
                             rule's counter exactly and the rate is within a binomial bound
  raw_mode_rotates_next_hop_macs   two next hops, one of them the server: exactly the even
                             sequence numbers of each port arrive
  raw_mode_refuses_max_size_above_mtu   -m 2000 on a 1500-byte veth is refused; 1472 is not
  reverse_lookup_does_not_block_receiving   with a name server that never answers, sessions
                             are still emitted at once and counted in full (socket mode)

Every raw-mode run also checks that the client runs as nobody once its packet socket is open.

Addresses come from the benchmarking range 198.18.0.0/15; nothing leaves the namespaces.
Needs root and `ip netns`; skips cleanly otherwise. Namespaces are deleted on every path.

Usage: python3 tests/netns/test_udping_netns.py BUILD_DIR [TEST_NAME...]
"""

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sys"))
from harness import check, Result, run_tests, Skip, test, TestFailure, wait_until  # noqa: E402
from udping_helpers import (by_guid, check_record, client_bin, client_doc,  # noqa: E402
                            client_periods, json_lines, LISTEN_RX, run_for, server_bin, stop,
                            stop_summary, wait_nobody, wait_records)

CLIENT_ADDR, SERVER_ADDR = "198.18.0.1", "198.18.0.2"
LOSS_PCT = 10


def sh(argv, timeout=15, ok=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if ok and r.returncode != 0:
        raise TestFailure(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


class Pair:
    """Two namespaces (server side, client side) joined by a veth pair, loopback up in each.
    Everything is removed by close(), which the harness runs on every path."""

    def __init__(self, h):
        if os.geteuid() != 0:
            raise Skip("needs root (ip netns)")
        if not shutil.which("ip"):
            raise Skip("no ip(8) (iproute2)")
        tag = f"{os.getpid() % 100000}"
        self.ns_s, self.ns_c = f"ngut{tag}s", f"ngut{tag}c"
        self.if_s, self.if_c = f"ngut{tag}s", f"ngut{tag}c"
        self.made = []
        h.on_cleanup(self.close)
        r = sh(["ip", "netns", "add", self.ns_s], ok=False)
        if r.returncode != 0:
            raise Skip(f"ip netns add is not permitted here: {r.stderr.strip()}")
        self.made.append(self.ns_s)
        # Entering a namespace remounts /sys and makes / a slave mount: that fails in a chroot
        # whose root is not a mount point, where namespaces can be made but not used.
        r = sh(["ip", "-n", self.ns_s, "link", "show", "lo"], ok=False)
        if r.returncode != 0:
            raise Skip(f"network namespaces cannot be entered here: {r.stderr.strip()}")
        sh(["ip", "netns", "add", self.ns_c])
        self.made.append(self.ns_c)
        sh(["ip", "link", "add", self.if_c, "netns", self.ns_c, "type", "veth", "peer", "name",
            self.if_s, "netns", self.ns_s])
        for ns, dev, addr in ((self.ns_s, self.if_s, SERVER_ADDR),
                              (self.ns_c, self.if_c, CLIENT_ADDR)):
            sh(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev])
            sh(["ip", "-n", ns, "link", "set", dev, "up"])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        self.server_mac = self.mac(self.ns_s, self.if_s)

    def mac(self, ns, dev):
        out = sh(["ip", "-n", ns, "-o", "link", "show", "dev", dev]).stdout
        m = re.search(r"link/ether ([0-9a-f:]{17})", out)
        check(m, f"no MAC in `ip -n {ns} link show {dev}`: {out!r}")
        return m.group(1)

    def exec_argv(self, ns, argv):
        return ["ip", "netns", "exec", ns] + [str(a) for a in argv]

    def close(self):
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=15)
        self.made = []


def start_server(h, pair, keepalive=1):
    p = h.spawn(pair.exec_argv(pair.ns_s, [server_bin(), "-l", SERVER_ADDR, "-p", "0", "-k",
                                           keepalive]))
    m = p.wait_output(LISTEN_RX, timeout=10, stream="stderr")
    return p, int(m.group(1).rsplit(":", 1)[1])


def client_argv(pair, port, ports=4, d=1, m=200):
    """The raw-mode client in the client namespace, with --json."""
    return pair.exec_argv(pair.ns_c, [
        client_bin(), "-r", SERVER_ADDR, "-p", port, "-d", d, "-l", CLIENT_ADDR, "-s", 30000,
        "-n", ports, "-i", 1, "-m", m, "-a", pair.server_mac, "--json"])


def run_client(h, pair, port, ports=4, d=1, seconds=3.0):
    """Raw-mode client for about `seconds` (checked to run as nobody), then SIGTERM; returns
    (Result, doc, periods)."""
    c = h.spawn(client_argv(pair, port, ports, d))
    # Root opens the packet socket, then the client goes on as nobody (as the original).
    wait_nobody(c, "udping_client (raw mode)")
    run_for(c, seconds)
    c.signal(signal.SIGTERM)
    rc = c.wait(10)
    res = Result(c.argv, rc, c.stdout, c.stderr)
    check(rc == 0, f"client exit status {rc} after SIGTERM, expected 0", res)
    doc = client_doc(res)
    check(doc["mode"] == "raw" and doc["send_errors"] == 0, "mode / send_errors", res)
    summ = stop_summary(res)
    check(summ["packets"] == doc["packets_sent"], "stop line and --json disagree", res)
    check_interface_lines(pair, res)
    return res, doc, client_periods(doc, res)


def check_interface_lines(pair, res):
    """Raw mode's four start-up lines, as the original prints them (spec §5.1), naming the
    client side's veth; with --json they go to standard error."""
    out = sh(["ip", "-n", pair.ns_c, "-o", "link", "show", "dev", pair.if_c]).stdout
    index = int(out.split(":", 1)[0])
    want = [f"Getting interface info for {CLIENT_ADDR}", f"The interface is named {pair.if_c}",
            f"MAC address is {pair.mac(pair.ns_c, pair.if_c)}", f"Index is {index}"]
    lines = res.stderr.splitlines()
    check(lines[:4] == want, f"raw mode's first lines {lines[:4]}, expected {want}", res)


def server_records(srv, periods):
    """Waits until the server emitted every GUID with data the client reported."""
    want = {g for g, i in periods if i["sent"]}
    wait_records(srv, len(want), timeout=20, pred=lambda r: r["guid"] in want)
    return by_guid(r for r in json_lines(srv.stdout, srv) if r["guid"] in want)


@test
def raw_mode_counts_match(h):
    pair = Pair(h)
    srv, port = start_server(h, pair)
    res, doc, periods = run_client(h, pair, port)
    recs = server_records(srv, periods)
    check(set(recs) == {g for g, i in periods if i["sent"]}, "GUIDs", res)
    total = 0
    for guid, info in periods:
        if not info["sent"]:
            continue
        r = recs[guid]
        check(r["from_port"] == info["port"], f"GUID {guid}: from_port {r['from_port']}, the "
              f"client sent it from {info['port']}", r, res)
        check(r["count"] == info["sent"] and r["targetCount"] == info["sent"],
              f"GUID {guid}: server count {r['count']} targetCount {r['targetCount']}, client "
              f"sent {info['sent']}", r, res)
        check_record(r, srv)
        total += info["sent"]
    check(total >= 100, f"only {total} packets in 3 s at -d 1", res)
    ports = {r["from_port"] for r in recs.values()}
    check(ports == set(range(30000, 30004)), f"source ports seen {sorted(ports)}", res)


def nft_counter(pair):
    out = sh(pair.exec_argv(pair.ns_s, ["nft", "list", "table", "inet", "ngut"])).stdout
    m = re.search(r"counter packets (\d+)", out)
    check(m, f"no counter in the nft table: {out!r}")
    return int(m.group(1))


@test
def nft_loss_is_measured(h):
    if not shutil.which("nft"):
        raise Skip("no nft(8): install nftables (make deps)")
    pair = Pair(h)
    srv, port = start_server(h, pair)
    # Drop only data packets (payload byte 0 = protocol version 1), so every control packet
    # arrives, the expected counts are exact, and lost must equal the rule's counter.
    for rule in (["add", "table", "inet", "ngut"],
                 ["add", "chain", "inet", "ngut", "input",
                  "{ type filter hook input priority 0; policy accept; }"],
                 ["add", "rule", "inet", "ngut", "input", "udp", "dport", str(port),
                  "@th,64,8", "1", "numgen", "random", "mod", "100", "<", str(LOSS_PCT),
                  "counter", "drop"]):
        r = sh(pair.exec_argv(pair.ns_s, ["nft"] + rule), ok=False)
        if r.returncode != 0:
            raise Skip(f"nftables not usable here: nft {' '.join(rule)}: {r.stderr.strip()}")
    res, doc, periods = run_client(h, pair, port, d=1, seconds=4.0)
    recs = server_records(srv, periods)
    sent = sum(info["sent"] for _, info in periods)
    received = sum(r["count"] for r in recs.values())
    expected = sum(r["targetCount"] for r in recs.values())
    check(expected == sent, f"server's expected total {expected}, client sent {sent}", res)
    lost = expected - received
    dropped = nft_counter(pair)
    check(lost == dropped, f"server lost {lost} of {sent}; nftables dropped {dropped}", res,
          srv.stdout[-2000:])
    # Binomial(sent, p): allow 5 standard deviations (a false failure about 1 in 10^6).
    p = LOSS_PCT / 100
    bound = 5 * math.sqrt(sent * p * (1 - p))
    check(abs(lost - p * sent) <= bound, f"lost {lost} of {sent} ({100 * lost / sent:.2f}%), "
          f"expected {LOSS_PCT}% +- {bound:.0f} packets", res)
    for r in recs.values():
        check_record(r, srv)



@test
def raw_mode_rotates_next_hop_macs(h):
    """-a SERVER_MAC,02:00:00:00:00:01: data packet k of each port goes to MAC k mod 2, and
    the veth delivers only frames addressed to it, so the server sees exactly the even
    sequence numbers of every port (udping_client(1), -a)."""
    pair = Pair(h)
    srv = h.spawn(pair.exec_argv(pair.ns_s, [server_bin(), "-l", SERVER_ADDR, "-p", "0", "-k",
                                             "1", "-v"]))
    port = int(srv.wait_output(LISTEN_RX, timeout=10, stream="stderr").group(1)
               .rsplit(":", 1)[1])
    argv = client_argv(pair, port, ports=2, d=2)
    argv[argv.index(pair.server_mac)] = pair.server_mac + ",02:00:00:00:00:01"
    c = h.spawn(argv)
    run_for(c, 1.5)
    c.signal(signal.SIGTERM)
    rc = c.wait(10)
    res = Result(c.argv, rc, c.stdout, c.stderr)
    check(rc == 0, f"client exit {rc}", res)
    doc = client_doc(res)
    port_of = {g["guid"]: p["port"] for p in doc["ports"] for g in p["guids"]}
    want = {p["port"]: set(range(0, p["next_seq"], 2)) for p in doc["ports"]}
    got = {p: set() for p in want}

    def seen():
        got.update({p: set() for p in want})
        for line in srv.stdout.splitlines():
            m = re.fullmatch(r"([0-9a-f]{20}):\d+:(\d+) - \d+:\d+", line)
            if m and m.group(1) in port_of:
                got[port_of[m.group(1)]].add(int(m.group(2)))
        return got == want
    try:
        wait_until(seen, timeout=10, what="every even sequence number at the server")
    except TestFailure:
        odd = {p: sorted(s for s in got[p] if s % 2)[:5] for p in got}
        missing = {p: sorted(want[p] - got[p])[:5] for p in want}
        raise TestFailure(f"server saw odd numbers {odd} / missed even ones {missing} "
                          f"(ports' next_seq {[p['next_seq'] for p in doc['ports']]})")


# A name server that never answers: it reads each query, prints its name, and drops it.
BLACKHOLE_DNS = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
s.settimeout(60)
print("ready", flush=True)
while True:
    try:
        d, _ = s.recvfrom(4096)
    except socket.timeout:
        break
    i, labels = 12, []
    while i < len(d) and d[i]:
        labels.append(d[i + 1:i + 1 + d[i]].decode("ascii", "replace"))
        i += 1 + d[i]
    print("query " + ".".join(labels), flush=True)
"""


@test
def reverse_lookup_does_not_block_receiving(h):
    """The server's name server never answers (resolv.conf: wait 30 s), so the reverse lookup
    of the client's address hangs; still every session is emitted on its control packet at
    once, counted in full, with the numeric address as from_host while no name is known, and
    the server stops at once on SIGTERM (udping_server(1), SOURCE NAMES). The original looked
    the name up inside its receive loop, which would hold every datagram for 30 s."""
    pair = Pair(h)
    etc = f"/etc/netns/{pair.ns_s}"  # ip netns exec mounts /etc/netns/NS/* over /etc/*
    made_parent = not os.path.isdir("/etc/netns")
    os.makedirs(etc)

    def remove_etc():
        shutil.rmtree(etc, ignore_errors=True)
        if made_parent:
            try:
                os.rmdir("/etc/netns")  # only if nobody else put anything there meanwhile
            except OSError:
                pass
    h.on_cleanup(remove_etc)
    with open(os.path.join(etc, "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:30 attempts:1\n")
    dns = h.spawn(pair.exec_argv(pair.ns_s, [sys.executable, "-c", BLACKHOLE_DNS]))
    dns.wait_output(r"^ready$", timeout=10)
    # -r with a name: nothing is looked up at start-up, only the sources.
    srv = h.spawn(pair.exec_argv(pair.ns_s, [server_bin(), "-l", SERVER_ADDR, "-p", "0", "-k",
                                             "1", "-r", "rx.test"]))
    port = int(srv.wait_output(LISTEN_RX, timeout=10, stream="stderr").group(1)
               .rsplit(":", 1)[1])
    res = h.run(pair.exec_argv(pair.ns_c, [
        client_bin(), "-r", SERVER_ADDR, "-p", port, "-d", 2, "-l", CLIENT_ADDR, "-s", 30000,
        "-n", 2, "-i", 1, "-m", 100, "--duration", 2.5, "--json"]), timeout=20)
    check(res.rc == 0, f"socket-mode client: exit {res.rc}", res)
    periods = client_periods(client_doc(res), res)
    want = {g: i["sent"] for g, i in periods if i["sent"]}
    # The lookup is in flight (and will hang): the name server got its query.
    dns.wait_output(r"^query 1\.0\.18\.198\.in-addr\.arpa$", timeout=5)
    # Every period ended with its control packet; 5 s is plenty, and far below 30.
    recs = by_guid(wait_records(srv, len(want), timeout=5, pred=lambda r: r["guid"] in want))
    for g, sent in want.items():
        r = recs[g]
        check(r["count"] == r["targetCount"] == sent, f"GUID {g}: count {r['count']} "
              f"targetCount {r['targetCount']}, the client sent {sent}", r, res)
        check(r["from_host"] == "198_18_0_1", f"from_host {r['from_host']!r} while the lookup "
              "hangs, expected the numeric address 198_18_0_1", r)
    t0 = time.monotonic()
    stop(srv, what="server")
    took = time.monotonic() - t0
    check(took < 5, f"the server took {took:.1f} s to stop with a lookup hanging (it waits "
          "at most 0.5 s for lookups)")


@test
def raw_mode_refuses_max_size_above_mtu(h):
    """The veth's MTU is 1500: -m 2000 (28 + 2000 > 1500) must be refused at start-up,
    naming the MTU (the original started and failed every large frame)."""
    pair = Pair(h)
    argv = client_argv(pair, 40000, ports=1, d=10, m=2000)
    res = h.run(argv, timeout=15)
    check(res.rc == 255, f"-m 2000 on a 1500-byte MTU: exit {res.rc}, expected 255", res)
    check("1500" in res.stderr, "the message does not name the MTU (1500)", res)
    ok = h.run(client_argv(pair, 40000, ports=1, d=10, m=1472) + ["--count", "1"], timeout=15)
    check(ok.rc == 0, f"-m 1472 (28 + 1472 = 1500) refused: exit {ok.rc}", ok)

if __name__ == "__main__":
    run_tests()
