"""pingall: every ordered pair of hosts pinged at once, compared with the expected reachability.

One raw ICMP socket per source namespace (testbed.kernel.icmp), and an ICMPv6 one where IPv6
is pinged, no process per ping; the expected result of each pair comes from the plan
(testbed.planning.reach). In a network with IPv6 every pair is pinged over each family the
network has, and judged per family.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from testbed import backends
from testbed.deploy.context import if_indexes
from testbed.deploy.hosts import static_neighbours
from testbed.kernel import forks, icmp, netlink, nsfs
from testbed.kernel.nsfs import in_threads
from testbed.planning.reach import address_text, families, target_ip

if TYPE_CHECKING:
    from testbed.run.network import Network

# The kernel keeps at most net.ipv4.neigh.default.gc_thresh3 (1024 by default) neighbour
# entries for all namespaces together and forgets none younger than 5 s, so real ARP
# between more pairs than that at once fails with ENOBUFS (IPv6 neighbour discovery has a
# table and limit of its own, net.ipv6.neigh.default.gc_thresh3). With arp="auto", an
# all-pairs test of more pairs in one family installs permanent entries (exempt from the
# limit) first, for both families.
ARP_DYNAMIC_MAX_PAIRS = 400
STATIC_WINDOW, DYNAMIC_WINDOW = 1024, 16      # probes in flight (ARP floods overflow the backlog)


@dataclass(slots=True)
class PairResult:
    src: str
    dst: str
    dst_ip: str | None
    sent: int
    received: int
    expected: bool | None                  # None: depends on traffic order (see Reachability)
    rtt_ms: float | None = None
    family: int = 4                        # 4 or 6: the address family this pair was pinged over

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

    @property
    def families(self) -> list[int]:
        """The address families pinged (4, 6)."""
        return sorted({p.family for p in self.pairs}) or [4]

    def matrix(self, max_hosts: int = 30) -> str:
        """A reachability matrix: loss % per pair; '-' expected unreachable and unreached, '!' marks wrong,
        '?' a pair whose fate depends on traffic order (not judged). With IPv6, one matrix per family,
        each headed by its family."""
        hosts = self.hosts
        lines = []
        labelled = self.families != [4]
        for family in self.families:
            if labelled:
                lines.append(f"IPv{family}:")
            if len(hosts) <= max_hosts:
                lines += _grid(hosts, {(p.src, p.dst): p for p in self.pairs if p.family == family})
        expected = [p for p in self.pairs if p.expected]
        per_family = ""
        if labelled:
            per_family = " (" + ", ".join(f"IPv{f} {sum(1 for p in self.pairs if p.family == f)}"
                                          for f in self.families) + ")"
        lines.append(f"{len(self.pairs)} pairs{per_family}, {len(expected)} expected to connect, "
                     f"{len(self.failures)} wrong, {self.loss:.1f}% of expected probes lost")
        for p in self.failures[:20]:
            why = f"{p.loss:.0f}% loss" if p.expected else "reachable but should not be"
            lines.append(f"  {p.src} -> {p.dst} ({p.dst_ip}): {why}")
        return "\n".join(lines)


def _grid(hosts: Sequence[str], cells: dict) -> list[str]:
    """The rows of one family's matrix."""
    width = max([5, *(len(h) for h in hosts)]) + 1
    lines = ["src\\dst".ljust(width) + "".join(h.rjust(width) for h in hosts)]
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
    return lines


def pingall(net: "Network", hosts: Sequence[str] | None = None, count: int = 1, timeout: float = 1.0) -> PingallResult:
    """Ping every ordered pair of hosts in parallel, over every address family the hosts have;
    compare with the expected reachability."""
    names = list(hosts) if hosts is not None else [n.name for n in net.hosts]
    live = net.live_plan
    found = families(live, names)
    pairs: list[PairResult] = []
    reach = net.reachability

    def plan_pairs() -> None:
        for family in found:
            which = None if found == [4] else family        # IPv4 alone: the address pingall always chose
            for src in names:
                for dst in names:
                    if src == dst:
                        continue
                    ip = target_ip(live, src, dst, which)
                    pairs.append(PairResult(src, dst, None if ip is None else address_text(ip), 0, 0,
                                            reach.expected_at(src, dst, ip), family=family))
    counts = probed_pairs(live, names, found)
    if net.arp == "auto" and not net.static_arp and max(counts.values(), default=0) > ARP_DYNAMIC_MAX_PAIRS:
        if sum(counts.values()) * count >= icmp.FORK_MIN:
            # planning the pairs is Python, filling the neighbour tables half kernel: a child
            # process fills them meanwhile (testbed/kernel/forks.py)
            forks.in_processes(lambda job: job(), [plan_pairs, lambda: _fill_static_arp_here(net)])
            net.static_arp = True
        else:
            plan_pairs()
            install_static_arp(net)
    else:
        plan_pairs()
    # a host without an address has nothing to ping (0.0.0.0 would answer from the sender itself)
    probed = [p for p in pairs if p.dst_ip is not None]
    for pair, probe in zip(probed, _mesh(net, [(p.src, p.dst_ip) for p in probed], count, timeout)):
        pair.sent, pair.received = probe.sent, probe.received
        pair.rtt_ms = min(probe.rtts) if probe.rtts else None
    return PingallResult(names, pairs)


def probed_pairs(plan, names: Sequence[str], found: list[int]) -> dict[int, int]:
    """How many ordered pairs of ``names`` pingall pings in each family of ``found`` (those
    where ``target_ip`` finds an address), counted without planning each pair."""
    if found == [4]:                                # any address of the destination will do
        addressed = [n for n in names if plan.ip_interfaces(n)]
        return {4: len(names) * len(addressed) - len(set(addressed))}
    counts = {}
    for family in found:
        having = [n for n in names if any(i.version == family for i in plan.ip_interfaces(n))]
        counts[family] = len(having) * (len(having) - 1)
    return counts


def ping_pairs(net: "Network", pairs: Sequence[tuple[str, str]], count: int = 1,
               timeout: float = 1.0) -> list[tuple[int, int, list[float]]]:
    """Ping each (node, address) pair at once, whatever the plan expects: (sent, received,
    round-trip times in ms) for each, in order. For addresses set at run time (setIP...).
    As pingall, with arp="auto" more pairs than the shared neighbour table holds get the
    plan's permanent neighbour entries first."""
    for src, _ in pairs:
        net[src]
    if net.arp == "auto" and not net.static_arp and len(pairs) > ARP_DYNAMIC_MAX_PAIRS:
        install_static_arp(net)
    return [(p.sent, p.received, list(p.rtts or ())) for p in _mesh(net, list(pairs), count, timeout)]


def _mesh(net: "Network", pairs: list[tuple[str, str]], count: int, timeout: float) -> list[icmp.Probe]:
    probes = [icmp.Probe(net[src].netns, ip) for src, ip in pairs]
    window = STATIC_WINDOW if net.static_arp else DYNAMIC_WINDOW
    for backend in backends.REGISTRY.values():
        limit = backend.probe_window(net.plan)
        if limit is not None:
            window = min(window, limit)
    icmp.mesh(lambda ns, family: net.worker.run_inside(ns, icmp.open_socket, family), probes, count=count,
              timeout=timeout, window=window)
    return probes


def install_static_arp(net: "Network", threads: int = 2) -> int:
    """Add permanent neighbour entries (ARP, and IPv6 neighbour discovery's) between every pair
    of addresses of one family on each LAN.

    A netlink socket stays in the namespace it was opened in, so the worker thread only opens
    each node's socket; ``threads`` threads fill them, and the kernel's work on one node's
    requests runs while the next node's are encoded."""
    index = getattr(net, "index", None) or if_indexes(net.plan)
    entries = static_neighbours(net.plan)
    nodes = list(entries)

    def fill(part: list[str]) -> None:
        for node in part:
            with net.worker.run_inside(net[node].netns, netlink.Batch) as batch:
                _add_neighbours(batch, node, entries[node], index)
    in_threads(fill, [nodes[k::threads] for k in range(threads)])
    net.static_arp = True
    return sum(len(v) for v in entries.values())


def _fill_static_arp_here(net: "Network") -> int:
    """install_static_arp's entries added by this thread, entering each namespace itself: for
    a forked child (testbed/kernel/forks.py), which has no worker thread."""
    index = getattr(net, "index", None) or if_indexes(net.plan)
    entries = static_neighbours(net.plan)
    for node, items in entries.items():
        nsfs.enter(nsfs.netns_path(net[node].netns))
        with netlink.Batch() as batch:
            _add_neighbours(batch, node, items, index)
    return sum(len(v) for v in entries.values())


def _add_neighbours(batch: netlink.Batch, node: str, items, index) -> None:
    for ifname, ip, mac in items:
        batch.neighbour(index[(node, ifname)], ip, mac)
    try:
        batch.commit()
    except netlink.NetlinkError as exc:
        if exc.errno != errno.EEXIST:
            raise
