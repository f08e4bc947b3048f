"""The ``testbed>`` shell's commands about the network: what is there (nodes, net, links,
intfs, dump, ports, stats), reachability (pingall, pingallfull, pingpair), traffic (iperf,
iperfudp through testbed.run.traffic) and link state (link). Mixed into shell.Shell, which
provides ``net``, ``plan``, ``say`` and ``iperf_seconds``."""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from testbed.run import traffic
from testbed.cli.shell_io import CommandError
from testbed.errors import UsageError


class NetworkCommands:
    """do_* commands over ``self.net`` (a running Network) for cmd.Cmd."""

    net: Any
    plan: Any
    iperf_seconds: float
    say: Callable[..., None]               # Shell.say: print one line to the shell's output

    def do_nodes(self, arg: str) -> None:
        """nodes: list the nodes (sorted by name, as Mininet does)."""
        self.say("available nodes are: \n" + " ".join(sorted(self.net.nodes)))

    def do_net(self, arg: str) -> None:
        """net: each node with its links (interface:peer-interface); hosts first, then switches (as Mininet)."""
        for node in mininet_order(self.plan.nodes):
            ends = [f"{i.name}:{i.peer[1]}" for i in node.interfaces if i.peer]
            self.say(" ".join([node.name, *ends]))

    def do_links(self, arg: str) -> None:
        """links: every link with the state of both ends (OK, or MISSING/DOWN)."""
        state = self._link_states({n for l in self.plan.links for n in (l.a[0], l.b[0])})
        for link in self.plan.links:
            ends = [state.get(link.a, "MISSING"), state.get(link.b, "MISSING")]
            self.say(f"{link.a[1]}<->{link.b[1]} ({' '.join(ends)})")

    def _link_states(self, nodes: set[str]) -> dict[tuple[str, str], str]:
        states = {}
        for name in nodes:
            for ifname, counters in self.net[name].counters().items():
                states[(name, ifname)] = "OK" if counters.get("up") else "DOWN"
        return states

    def do_intfs(self, arg: str) -> None:
        """intfs [NODE...]: the interfaces of each node."""
        for node in self._nodes_arg(arg):
            self.say(f"{node.name}: {','.join(i.name for i in node.interfaces)}")

    def do_dump(self, arg: str) -> None:
        """dump [NODE...]: kind, interfaces with addresses and namespace of each node."""
        for node in self._nodes_arg(arg):
            intfs = ",".join(f"{i.name}:{'|'.join(i.addresses) or 'None'}" for i in node.interfaces)
            self.say(f"<{node.kind} {node.name}: {intfs} netns={self.net[node.name].netns}>")

    def do_ports(self, arg: str) -> None:
        """ports: the ports of each switching node (hub, bridge, switch) with their numbers."""
        for node in self.plan.nodes_of("l2"):
            ports = [i for i in node.interfaces if i.peer]
            self.say(" ".join([node.name, *(f"{i.name}:{_port_number(i.name, n)}"
                                             for n, i in enumerate(ports, start=1))]))

    def do_dpctl(self, arg: str) -> None:
        """dpctl [SWITCH...] [--datapath]: the flow table of each Open vSwitch switch."""
        words = arg.split()
        datapath = "--datapath" in words
        names = [w for w in words if w != "--datapath"]
        switches = [n for n in self._nodes_arg(" ".join(names))
                    if n.role == "l2" and self.net.backend_of(n.name).flow_table]
        if not switches:
            self.say("no Open vSwitch switches here (build with --switch ovs, or backend='ovs')")
        for node in switches:
            self.say(f"*** {node.name} " + "-" * 60)
            self.say(self.net.dpctl(node.name, datapath=datapath).rstrip())

    def _nodes_arg(self, arg: str) -> list:
        names = arg.split()
        for name in names:
            self.net[name]
        return [self.plan.node(n) for n in names] if names else list(self.plan.nodes)

    def do_stats(self, arg: str) -> None:
        """stats [NODE...]: interface counters (packets, bytes, drops, errors) of the nodes."""
        names = arg.split() or list(self.net.nodes)
        self.say(f"{'node':<10} {'interface':<15} {'up':>2} {'rx_pkts':>9} {'rx_bytes':>11} "
                 f"{'tx_pkts':>9} {'tx_bytes':>11} {'drops':>6} {'errors':>6}")
        for name in names:
            for ifname, c in sorted(self.net[name].counters().items()):
                self.say(f"{name:<10} {ifname:<15} {c.get('up', 0):>2} {c['rx_packets']:>9} {c['rx_bytes']:>11} "
                         f"{c['tx_packets']:>9} {c['tx_bytes']:>11} {c['rx_dropped'] + c['tx_dropped']:>6} "
                         f"{c['rx_errors'] + c['tx_errors']:>6}")

    # ------------------------------------------------------------ reachability and traffic

    def do_pingall(self, arg: str) -> None:
        """pingall [TIMEOUT]: ping between every pair of hosts; fails if a pair is not as expected."""
        self._pingall(None, arg, full=False)

    def do_pingallfull(self, arg: str) -> None:
        """pingallfull [TIMEOUT]: pingall with the round-trip time of every pair."""
        self._pingall(None, arg, full=True)

    def do_pingpair(self, arg: str) -> None:
        """pingpair [A B]: ping between two hosts (the first two by default)."""
        names = arg.split()
        if not names:
            names = [h.name for h in self.net.hosts][:2]
        if len(names) != 2:
            raise CommandError("pingpair takes two node names, or none for the first two hosts")
        for name in names:
            self.net[name]
        if names[0] == names[1]:
            raise CommandError(f"pingpair: both nodes are {names[0]!r}; give two different nodes")
        self._pingall(names, "", full=True)

    def _pingall(self, hosts: list[str] | None, arg: str, *, full: bool) -> None:
        timeout = _number(arg, "timeout", 2.0, MAX_PING_TIMEOUT)
        self.say("*** Ping: testing ping reachability")
        result = self.net.pingall(hosts=hosts, timeout=timeout)
        by_src: dict[str, list] = {}
        for pair in result.pairs:
            by_src.setdefault(pair.src, []).append(pair)
        for src, pairs in by_src.items():
            if full:
                for p in pairs:
                    rtt = f", rtt {p.rtt_ms:.3f} ms" if p.rtt_ms is not None else ""
                    self.say(f"{src} -> {p.dst} ({p.dst_ip}): {p.received}/{p.sent} received{rtt}"
                             f"{'' if p.ok else '  (not as expected)'}")
            else:
                self.say(f"{src} -> " + " ".join(p.dst if p.received else "X" for p in pairs))
        sent = sum(p.sent for p in result.pairs)
        received = sum(p.received for p in result.pairs)
        self.say(f"*** Results: {result.loss:.0f}% dropped ({received}/{sent} received)")
        if not result.ok:
            wrong = ", ".join(f"{p.src}->{p.dst}" + ("" if p.expected else " (should not connect)")
                              for p in result.failures[:10])
            raise CommandError(f"{len(result.failures)} pair(s) not as expected: {wrong}")

    def do_iperf(self, arg: str) -> None:
        """iperf [CLIENT SERVER] [SECONDS]: TCP throughput with iperf3 (first and last host by default)."""
        client, server, seconds = self._traffic_args(arg.split(), "iperf")
        self.say(f"*** Iperf: testing TCP bandwidth between {client} and {server}")
        result = traffic.iperf3(self.net[client], self.net[server], duration=seconds)
        self.say(f"*** Results: ['{traffic.format_bps(result.bits_per_second)}', "
                 f"'{traffic.format_bps(result.sent_bits_per_second)}']")

    def do_iperfudp(self, arg: str) -> None:
        """iperfudp BW [CLIENT SERVER] [SECONDS]: UDP at BW (e.g. 10M) with iperf3."""
        words = arg.split()
        if not words:
            raise CommandError("iperfudp needs a rate, e.g. iperfudp 10M h1 h2")
        bw = udp_rate(words[0])
        client, server, seconds = self._traffic_args(words[1:], "iperfudp")
        self.say(f"*** Iperf: testing UDP bandwidth between {client} and {server}")
        r = traffic.iperf3(self.net[client], self.net[server], duration=seconds, udp=True, bitrate=bw)
        self.say(f"*** Results: ['{bw}', '{traffic.format_bps(r.bits_per_second)}', "
                 f"'{traffic.format_bps(r.sent_bits_per_second)}'] "
                 f"loss {r.lost_percent or 0:.1f}%, jitter {r.jitter_ms or 0:.3f} ms")

    def _traffic_args(self, words: list[str], name: str) -> tuple[str, str, float]:
        seconds = self.iperf_seconds
        if words and _is_number(words[-1]):
            seconds = _number(words.pop(), f"{name} seconds", seconds, MAX_TRAFFIC_SECONDS, low=1)
        if not words:
            hosts = [h.name for h in self.net.hosts]
            if len(hosts) < 2:
                raise CommandError(f"{name} needs two hosts; this network has {len(hosts)}")
            return hosts[0], hosts[-1], seconds
        if len(words) != 2:
            raise CommandError(f"{name} takes a client and a server node, or none")
        for node in words:
            self.net[node]
        if words[0] == words[1]:
            raise CommandError(f"{name}: client and server are both {words[0]!r}; give two different nodes")
        return words[0], words[1], seconds

    def do_link(self, arg: str) -> None:
        """link A B up|down: bring the links between nodes A and B up or down."""
        words = arg.split()
        if len(words) != 3 or words[2] not in ("up", "down"):
            raise CommandError("usage: link A B up|down")
        self.net[words[0]], self.net[words[1]]
        self.net.set_link(words[0], words[1], words[2] == "up")


def natural(name: str) -> list:
    """A sort key that puts h2 before h10 (Mininet's natural order)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def mininet_order(nodes) -> list:
    """Plan nodes as Mininet lists them: end systems (hosts, routers, NATs), then switching nodes,
    each group in natural order of names."""
    return sorted(nodes, key=lambda n: (n.role == "l2", natural(n.name)))


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


MAX_PING_TIMEOUT = 3600.0            # seconds
MAX_TRAFFIC_SECONDS = 86_400.0
MAX_UDP_RATE = 100e9                  # bit/s
_RATE = re.compile(r"^(\d+(?:\.\d+)?)([KMG]?)$", re.IGNORECASE)


def _number(arg: str, what: str, default: float, high: float, low: float = 0.001) -> float:
    """Seconds given to a command: a finite number between ``low`` and ``high``."""
    words = arg.split()
    if not words:
        return default
    if len(words) != 1 or not _is_number(words[0]) or not math.isfinite(float(words[0])):
        raise UsageError(f"{what} must be a number of seconds, not {arg!r}")
    value = float(words[0])
    if not low <= value <= high:
        raise UsageError(f"{what} {value:g} is outside {low:g}..{high:g} seconds")
    return value


def udp_rate(text: str) -> str:
    """An iperf3 rate like 10M, 500K, 1.5G or 800000 (bit/s), checked: positive, at most 100G."""
    match = _RATE.match(text)
    if match is None:
        raise UsageError(f"iperfudp rate {text!r}: write bits per second like 10M, 500K, 1G or 800000")
    value = float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[match.group(2).lower()]
    if not 0 < value <= MAX_UDP_RATE:
        raise UsageError(f"iperfudp rate {text!r} is outside 1 bit/s .. 100G")
    return text


def _port_number(name: str, ordinal: int) -> int:
    tail = name.rsplit("-eth", 1)[-1] if "-eth" in name else ""
    return int(tail) if tail.isdigit() else ordinal
