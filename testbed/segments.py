"""L2 segments: which L3 interfaces share a broadcast domain.

A switching node joins all its links into one segment; a host or router interface is
one end of a segment; an in-node bridge (``interfaces={"br0": {"kind": "bridge",
"ports": [...]}}``) joins its ports and becomes the node's L3 interface on that segment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import networkx as nx

from testbed import graphs, kinds
from testbed.features import macvlan


@dataclass(frozen=True)
class Segment:
    index: int
    interfaces: tuple[tuple[str, str], ...]   # (node, ifname) of the L3 interfaces on it
    switches: tuple[str, ...]                 # switching nodes inside it


def node_devices(attrs: Mapping[str, Any]) -> dict[str, dict]:
    """The in-node devices a node declares, normalised to dicts (invalid entries skipped)."""
    raw = attrs.get("interfaces") or {}
    if not isinstance(raw, Mapping):
        return {}
    return {str(name): dict(spec) for name, spec in raw.items() if isinstance(spec, Mapping)}


def is_switching(graph: nx.Graph, node: Any) -> bool:
    kind = kinds.get(graph.nodes[node].get("kind"))
    return bool(kind and kind.switching)


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


def segments(graph: nx.Graph, ports: dict[tuple, dict[Any, str]]) -> list[Segment]:
    """Every segment with at least one L3 interface or switch, in first-seen order."""
    uf = _UnionFind()
    bridge_ports: set[tuple[str, str]] = set()
    for node in graph.nodes:
        if is_switching(graph, node):
            uf.add(("sw", str(node)))
            continue
        for nbr, key in graphs.incident(graph, node):
            uf.add(("if", str(node), ports[graphs.link_id(node, nbr, key)][node]))
        for name, spec in node_devices(graph.nodes[node]).items():
            uf.add(("if", str(node), name))
            if spec.get("kind") == "bridge":
                for port in spec.get("ports") or ():
                    bridge_ports.add((str(node), str(port)))
                    uf.union(("if", str(node), name), ("if", str(node), str(port)))
            if spec.get("kind") == "macvlan":
                parent = macvlan.parent_of(graph, ports, spec)
                if parent is not None:              # a macvlan child is on its parent's LAN
                    uf.union(("if", str(node), name), ("if", *parent))
    for link in graphs.links(graph):
        if link.u == link.v:
            continue
        names = ports[graphs.link_id(link.u, link.v, link.key)]
        ends = [("sw", str(n)) if is_switching(graph, n) else ("if", str(n), names[n])
                for n in (link.u, link.v)]
        uf.union(*ends)
    groups: dict = {}
    for item in sorted(uf.parent, key=uf.order.__getitem__):
        groups.setdefault(uf.find(item), []).append(item)
    result = []
    for members in sorted(groups.values(), key=lambda m: uf.order[m[0]]):
        l3 = tuple((m[1], m[2]) for m in members
                   if m[0] == "if" and (m[1], m[2]) not in bridge_ports)
        switches = tuple(m[1] for m in members if m[0] == "sw")
        result.append(Segment(len(result), l3, switches))
    return result
