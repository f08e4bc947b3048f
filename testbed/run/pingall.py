"""pingall: every ordered pair of hosts pinged at once, compared with the expected reachability.

One raw ICMP socket per source namespace (testbed.kernel.icmp), no process per ping; the
expected result of each pair comes from the plan (testbed.planning.reach).
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from testbed import backends
from testbed.deploy.context import if_indexes
from testbed.deploy.hosts import static_neighbours
from testbed.kernel import icmp, netlink
from testbed.planning.reach import target_address

if TYPE_CHECKING:
    from testbed.run.network import Network

# The kernel keeps at most net.ipv4.neigh.default.gc_thresh3 (1024 by default) neighbour
# entries for all namespaces together and forgets none younger than 5 s, so real ARP
# between more pairs than that at once fails with ENOBUFS. With arp="auto", an all-pairs
# test of more pairs installs permanent entries (exempt from that limit) first.
ARP_DYNAMIC_MAX_PAIRS = 400
STATIC_WINDOW, DYNAMIC_WINDOW = 1024, 16      # probes in flight (ARP floods overflow the backlog)


@dataclass
class PairResult:
    src: str
    dst: str
    dst_ip: str | None
    sent: int
    received: int
    expected: bool | None                  # None: depends on traffic order (see Reachability)
    rtt_ms: float | None = None

    @property
    def loss(self) -> float:
        return 100.0 if self.sent == 0 else 100.0 * (self.sent - self.received) / self.sent

    @property
    def ok(self) -> bool:
        """Expected pairs lose nothing; pairs that should not connect get nothing through."""
        if self.expected is None:
            return True
        return self.loss == 0.0 if self.expected else self.received == 0


@dataclass
class PingallResult:
    hosts: list[str]
    pairs: list[PairResult]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pairs)

    @property
    def failures(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.ok]

    @property
    def loss(self) -> float:
        """Percent of probes lost between pairs expected to connect (others should lose all)."""
        expected = [p for p in self.pairs if p.expected]
        sent = sum(p.sent for p in expected)
        return 0.0 if not sent else 100.0 * (sent - sum(p.received for p in expected)) / sent

    def matrix(self, max_hosts: int = 30) -> str:
        """A reachability matrix: loss % per pair; '-' expected unreachable and unreached, '!' marks wrong,
        '?' a pair whose fate depends on traffic order (not judged)."""
        hosts = self.hosts
        lines = []
        if len(hosts) <= max_hosts:
            cells = {(p.src, p.dst): p for p in self.pairs}
            width = max([5, *(len(h) for h in hosts)]) + 1
            lines.append("src\\dst".ljust(width) + "".join(h.rjust(width) for h in hosts))
            for src in hosts:
                row = src.ljust(width)
                for dst in hosts:
                    p = cells.get((src, dst))
                    if p is None:
                        text = ""
                    elif p.expected is False and p.received == 0:
                        text = "-"
                    elif p.expected is None:
                        text = f"{p.loss:.0f}%?"
                    else:
                        text = f"{p.loss:.0f}%" + ("" if p.ok else "!")
                    row += text.rjust(width)
                lines.append(row)
        expected = [p for p in self.pairs if p.expected]
        lines.append(f"{len(self.pairs)} pairs, {len(expected)} expected to connect, "
                     f"{len(self.failures)} wrong, {self.loss:.1f}% of expected probes lost")
        for p in self.failures[:20]:
            why = f"{p.loss:.0f}% loss" if p.expected else "reachable but should not be"
            lines.append(f"  {p.src} -> {p.dst} ({p.dst_ip}): {why}")
        return "\n".join(lines)


def pingall(net: "Network", hosts: Sequence[str] | None = None, count: int = 1, timeout: float = 1.0) -> PingallResult:
    """Ping every ordered pair of hosts in parallel; compare with the expected reachability."""
    names = list(hosts) if hosts is not None else [n.name for n in net.hosts]
    live = net.live_plan
    pairs: list[PairResult] = []
    for src in names:
        for dst in names:
            if src == dst:
                continue
            ip = target_address(live, src, dst)
            pairs.append(PairResult(src, dst, ip, 0, 0, net.reachability.expected(src, dst)))
    # a host without an address has nothing to ping (0.0.0.0 would answer from the sender itself)
    probed = [p for p in pairs if p.dst_ip is not None]
    probes = [icmp.Probe(net[p.src].netns, p.dst_ip) for p in probed]
    if net.arp == "auto" and not net.static_arp and len(probes) > ARP_DYNAMIC_MAX_PAIRS:
        install_static_arp(net)
    window = STATIC_WINDOW if net.static_arp else DYNAMIC_WINDOW
    for backend in backends.REGISTRY.values():
        limit = backend.probe_window(net.plan)
        if limit is not None:
            window = min(window, limit)
    icmp.mesh(lambda ns: net.worker.run_inside(ns, icmp.open_socket), probes, count=count,
              timeout=timeout, window=window)
    for pair, probe in zip(probed, probes):
        pair.sent, pair.received = probe.sent, probe.received
        pair.rtt_ms = min(probe.rtts) if probe.rtts else None
    return PingallResult(names, pairs)


def install_static_arp(net: "Network") -> int:
    """Add permanent neighbour entries between every pair of addresses on each LAN."""
    index = if_indexes(net.plan)
    entries = static_neighbours(net.plan)

    def add(node: str, items) -> None:
        with netlink.Batch() as batch:
            for ifname, ip, mac in items:
                batch.neighbour(index[(node, ifname)], ip, mac)
            try:
                batch.commit()
            except netlink.NetlinkError as exc:
                if exc.errno != errno.EEXIST:
                    raise
    for node, items in entries.items():
        net.worker.run_inside(net[node].netns, add, node, items)
    net.static_arp = True
    return sum(len(v) for v in entries.values())
