"""Which hosts should reach which, computed from the Plan alone (no kernel).

A packet is followed hop by hop: at each node the longest matching route (connected
subnets first) gives the next hop on a segment; only routers forward. A pair is expected
to work when the request reaches the destination and the reply comes back. Each address
family is followed on its own: a pair may reach each other over IPv4 and not over IPv6.
"""
from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from testbed import backends, concerns, kinds
from testbed.model.plan import Plan
from testbed.model.reach import Effects

MAX_HOPS = 64


@dataclass(frozen=True)
class _Table:
    owner: dict            # IP -> (node, segment)
    connected: dict        # node -> [(network, segment)]
    routes: dict           # node -> [(network, via)]
    forwards: set
    nats: dict = field(default_factory=dict)        # NAT node -> (outside segment, outside IP)
    blocked: set = field(default_factory=set)       # {frozenset({a, b})}: no frames between a and b
    cut: set = field(default_factory=set)           # {(node, segment)}: its frames there are dropped
    uncertain: set = field(default_factory=set)     # nodes whose reachability depends on traffic order


def _table(plan: Plan, down: frozenset[int] = frozenset()) -> _Table:
    seg_of = {m: s.index for s in plan.segments for m in s.interfaces}
    owner, connected, routes = {}, {}, {}
    for node in plan.nodes:
        for intf in node.interfaces:
            for cidr in intf.addresses:
                iface = ipaddress.ip_interface(cidr)
                seg = seg_of.get((node.name, intf.name))
                owner[iface.ip] = (node.name, seg)
                connected.setdefault(node.name, []).append((iface.network, seg))
        routes[node.name] = [(r.network, ipaddress.ip_address(r.via)) for r in node.routes]
    forwards = {n.name for n in plan.nodes if kinds.of(n.kind).forwards}
    effects = Effects(down=frozenset(down))
    for concern in concerns.REGISTRY:
        concern.reach(plan, plan.concern(concern.name), effects)
    dead = set().union(*(b.forwards_nothing(plan) for b in backends.REGISTRY.values()))
    if dead or down:
        effects.blocked |= _cut_by(plan, dead, down)
    nats = {g.node: (seg_of.get((g.node, g.outside)), ipaddress.ip_address(g.outside_ip))
            for g in effects.nats if g.outside_ip is not None}
    cut = {(node, seg_of.get((node, ifname))) for node, ifname in effects.cut}
    for node, extra in effects.routes.items():
        routes[node] = routes.get(node, []) + [(ipaddress.ip_network(dst), None if via is None else
                                                ipaddress.ip_address(via)) for dst, via in extra]
    return _Table(owner, connected, routes, forwards, nats, effects.blocked, cut,
                  effects.uncertain | _multihomed(plan, seg_of))


def _cut_by(plan: Plan, dead: set[str], down: frozenset[int] = frozenset()) -> set[frozenset]:
    """Node pairs of one LAN whose frames would have to cross a switch that forwards nothing or
    a link that is down."""
    blocked: set[frozenset] = set()
    touched = {n for i in down for n in (plan.links[i].a[0], plan.links[i].b[0])}
    for seg in plan.segments:
        if not (dead | touched) & ({m[0] for m in seg.interfaces} | set(seg.switches)):
            continue
        members = set(seg.interfaces)
        switches = set(seg.switches)
        l2 = nx.Graph()
        l2.add_nodes_from(members)

        def vertex(end):
            if end[0] in switches:
                return end[0]
            if end in members:
                return end
            master = plan.node(end[0]).interface(end[1]).master
            return (end[0], master) if (end[0], master) in members else None
        for link in plan.links:
            a, b = vertex(link.a), vertex(link.b)
            if a is not None and b is not None and a not in dead and b not in dead and link.index not in down:
                l2.add_edge(a, b)
        group = {v: i for i, comp in enumerate(nx.connected_components(l2)) for v in comp}
        ends = sorted(members)
        for i, x in enumerate(ends):
            for y in ends[i + 1:]:
                if group[x] != group[y] and x[0] != y[0]:
                    blocked.add(frozenset((x[0], y[0])))
    return blocked


def _multihomed(plan: Plan, seg_of: dict) -> set[str]:
    """Nodes with two addressed interfaces on one LAN, or on two LANs with one subnet: which one
    answers (and which one a reply leaves by) is the kernel's choice (ARP flux, the order of two
    routes to one subnet), so their pairs are not judged."""
    seen: dict[tuple[str, int], int] = {}
    lans: dict[tuple[str, Any], set[int]] = {}
    for node in plan.nodes:
        for intf in node.interfaces:
            seg = seg_of.get((node.name, intf.name))
            if intf.addresses and seg is not None:
                seen[(node.name, seg)] = seen.get((node.name, seg), 0) + 1
                for cidr in intf.addresses:
                    lans.setdefault((node.name, ipaddress.ip_interface(cidr).network), set()).add(seg)
    return ({node for (node, _), count in seen.items() if count > 1}
            | {node for (node, _), segs in lans.items() if len(segs) > 1})


def _delivers(table: _Table, src: str, dst_ip, src_ip=None):
    """The source address a packet sent by ``src`` to ``dst_ip`` arrives with (NATs rewrite
    it), or None when it does not arrive."""
    node, came_on = src, None
    dst_owner = table.owner.get(dst_ip, (None,))[0]     # (ip_address hashes are slow: once)
    for _ in range(MAX_HOPS):
        if dst_owner == node:
            return src_ip if src_ip is not None else True
        if node != src and node not in table.forwards:
            return None
        if node in table.nats and came_on == table.nats[node][0]:
            return None                     # a NAT forwards nothing opened from outside
        seg = _next_segment(table, node, dst_ip)
        if seg is None:
            return None
        hop_ip, seg_index = seg
        owner = table.owner.get(hop_ip)
        if owner is None or owner[1] != seg_index or \
                (table.blocked and frozenset((node, owner[0])) in table.blocked) or \
                (table.cut and ((node, seg_index) in table.cut or (owner[0], seg_index) in table.cut)):
            return None
        if node in table.nats and seg_index == table.nats[node][0] and node != src:
            src_ip = table.nats[node][1]    # masqueraded
        node, came_on = owner[0], seg_index
    return None


def _next_segment(table: _Table, node: str, dst_ip):
    best = None
    for net, seg in table.connected.get(node, []):
        if dst_ip in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, dst_ip, seg)
    for net, via in table.routes.get(node, []):
        if dst_ip in net and (best is None or net.prefixlen > best[0].prefixlen):
            if via is None:                 # a blackhole
                best = (net, None, None)
                continue
            seg = next((s for n, s in table.connected.get(node, []) if via in n), None)
            if seg is not None:
                best = (net, via, seg)
    return None if best is None or best[1] is None else (best[1], best[2])


def _source_address(table: _Table, by_node_seg: dict, src: str, dst_ip) -> str | None:
    """The address ``src`` sends from towards ``dst_ip`` (its interface toward the next hop,
    the destination's family)."""
    hop = _next_segment(table, src, dst_ip)
    return None if hop is None else by_node_seg.get((src, hop[1], dst_ip.version))


@functools.lru_cache(maxsize=1 << 16)
def _address(text: str):
    return ipaddress.ip_address(text)


def target_address(plan: Plan, src: str, dst: str, family: int | None = None) -> str | None:
    """The address of ``dst`` to ping from ``src``: one on a shared subnet, else its first;
    of the given ``family`` (4 or 6) only, when one is given, and then None when ``src``
    has no address of that family to send from."""
    found = target_ip(plan, src, dst, family)
    return None if found is None else address_text(found)


@functools.lru_cache(maxsize=1 << 16)
def address_text(address) -> str:
    return str(address)


def target_ip(plan: Plan, src: str, dst: str, family: int | None):
    """``target_address`` as an ip_address object."""
    if family is not None and not any(i.version == family for i in plan.ip_interfaces(src)):
        return None
    nets = plan.networks(src)
    first = None
    for iface in plan.ip_interfaces(dst):
        if family is None or iface.version == family:
            if iface.network in nets:
                return iface.ip
            first = iface.ip if first is None else first
    return first


def families(plan: Plan, nodes) -> list[int]:
    """The address families (4, 6) any of ``nodes`` has an address of; [4] when none has any."""
    found = {i.version for n in nodes for i in plan.ip_interfaces(n)}
    return sorted(found) or [4]


class Reachability:
    """Expected reachability between the hosts of a plan."""

    def __init__(self, plan: Plan, down: frozenset[int] = frozenset()):
        """``down``: indexes of the plan's links that are down now (the running network's state)."""
        self.plan = plan
        self.table = _table(plan, frozenset(down))
        self.by_node_seg: dict = {}
        for ip, (node, seg) in self.table.owner.items():
            self.by_node_seg.setdefault((node, seg, ip.version), str(ip))

    def expected(self, src: str, dst: str, family: int | None = None) -> bool | None:
        """Should ``src`` reach ``dst`` (over ``family``, 4 or 6, when given)? None when it
        depends on traffic order (a MAC limit with more MACs behind a port than it allows)."""
        return self.expected_at(src, dst, target_ip(self.plan, src, dst, family))

    def expected_at(self, src: str, dst: str, dst_ip) -> bool | None:
        """``expected`` for ``dst`` pinged at ``dst_ip`` (an ip_address: what ``target_ip``
        chose, or None for none)."""
        if src in self.table.uncertain or dst in self.table.uncertain:
            return None
        if dst_ip is None:
            return False
        back = _source_address(self.table, self.by_node_seg, src, dst_ip)
        if back is None:
            return False
        seen = _delivers(self.table, src, dst_ip, _address(back))
        return seen is not None and _delivers(self.table, dst, seen) is not None
