"""L2 segments: which L3 interfaces share a broadcast domain.

A switching node joins all its links into one segment; a host or router interface is
one end of a segment; an in-node bridge joins its ports and becomes the node's L3
interface on that segment; a macvlan child is on its parent's segment. VLANs split a
switch: it is one broadcast domain per VLAN (0 = untagged), joined to the others'
domains by the links that carry that VLAN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from testbed.concerns.vlans import vlans_in_use
from testbed.model.topology import LinkSpec, Topology


@dataclass(frozen=True)
class Segment:
    index: int
    interfaces: tuple[tuple[str, str], ...]   # (node, ifname) of the L3 interfaces on it
    switches: tuple[str, ...]                 # switching nodes inside it


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}
        self.order: dict = {}

    def add(self, item) -> None:
        if item not in self.parent:
            self.parent[item] = item
            self.order[item] = len(self.order)

    def find(self, item):
        self.add(item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if self.order[ra] > self.order[rb]:
                ra, rb = rb, ra
            self.parent[rb] = ra


def _edge_vlan(topo: Topology, link: LinkSpec, switch: str, host_end: tuple[str, str],
               macs: Mapping[tuple[str, str], str]) -> int | None:
    """The VLAN a host interface is in on ``switch``'s port (0: untagged; None: in none)."""
    if link.get("vlan") is not None:
        return link.get("vlan")
    mapping = topo.node(switch).get("mac_vlans")
    if mapping:
        table = {str(k).lower(): v for k, v in mapping.items()}
        return table.get(str(macs.get(host_end, "")).lower())   # a MAC the switch does not list: no VLAN
    return 0


def _link_vlans(link: LinkSpec, every: list[int]) -> list[int]:
    """The VLANs a link between two switching nodes carries."""
    if link.get("trunk") is not None:
        return list(link.get("trunk"))
    if link.get("vlan") is not None:
        return [link.get("vlan")]
    return every                            # untagged: every VLAN passes, tags and all


def segments(topo: Topology, macs: Mapping[tuple[str, str], str] | None = None) -> list[Segment]:
    """Every segment with at least one L3 interface or switch, in first-seen order.

    ``macs`` ((node, ifname) -> MAC) places hosts on switches with ``mac_vlans``.
    """
    macs = macs or {}
    every = [0] + vlans_in_use(topo)
    uf = _UnionFind()
    bridge_ports: set[tuple[str, str]] = set()
    for node in topo.nodes:
        if node.switching:
            for vid in every:
                uf.add(("sw", node.name, vid))
            continue
        for end in node.ends:
            uf.add(("if", *end.key))
        for dev in node.devices:
            uf.add(("if", node.name, dev.name))
            if dev.kind == "bridge":
                for port in dev.ports:
                    bridge_ports.add((node.name, port))
                    uf.union(("if", node.name, dev.name), ("if", node.name, port))
            if dev.kind == "macvlan" and dev.parent is not None:     # a child is on its parent's LAN
                uf.union(("if", node.name, dev.name), ("if", *dev.parent))
    for link in topo.links:
        a, b = link.ends
        a_sw, b_sw = topo.node(a.node).switching, topo.node(b.node).switching
        if a_sw and b_sw:
            for vid in _link_vlans(link, every):
                uf.union(("sw", a.node, vid), ("sw", b.node, vid))
        elif a_sw or b_sw:
            switch, host = (a, b) if a_sw else (b, a)
            vid = _edge_vlan(topo, link, switch.node, host.key, macs)
            if vid is not None:
                uf.union(("sw", switch.node, vid), ("if", *host.key))
        else:
            uf.union(("if", *a.key), ("if", *b.key))
    groups: dict = {}
    for item in sorted(uf.parent, key=uf.order.__getitem__):
        groups.setdefault(uf.find(item), []).append(item)
    result = []
    for members in sorted(groups.values(), key=lambda m: uf.order[m[0]]):
        l3 = tuple((m[1], m[2]) for m in members if m[0] == "if" and (m[1], m[2]) not in bridge_ports)
        switches = tuple(dict.fromkeys(m[1] for m in members if m[0] == "sw"))
        if not l3 and all(m[0] == "sw" and m[2] != 0 for m in members):
            continue                        # a VLAN nobody uses on these switches
        result.append(Segment(len(result), l3, switches))
    return result
