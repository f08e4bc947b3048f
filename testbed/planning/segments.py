"""L2 segments: which L3 interfaces share a broadcast domain.

A switching node joins all its links into one segment; a host or router interface is
one end of a segment; an in-node bridge (``interfaces={"br0": {"kind": "bridge",
"ports": [...]}}``) joins its ports and becomes the node's L3 interface on that segment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import networkx as nx

from testbed import kinds
from testbed.topology import graphs
from testbed.concerns import macvlan


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


def vlans_in_use(graph: nx.Graph) -> list[int]:
    """Every VLAN id the topology names (links' vlan/trunk, switches' mac_vlans), sorted."""
    found: set[int] = set()
    for link in graphs.links(graph):
        if isinstance(link.data.get("vlan"), int):
            found.add(link.data["vlan"])
        trunk = link.data.get("trunk")
        if isinstance(trunk, (list, tuple)):
            found.update(v for v in trunk if isinstance(v, int))
    for _, attrs in graph.nodes(data=True):
        mapping = attrs.get("mac_vlans")
        if isinstance(mapping, Mapping):
            found.update(v for v in mapping.values() if isinstance(v, int))
    return sorted(found)


def _edge_vlan(graph: nx.Graph, link: graphs.LinkRef, switch: Any, host_end: tuple[str, str],
               macs: Mapping[tuple[str, str], str]) -> int | None:
    """The VLAN a host interface is in on ``switch``'s port (0: untagged; None: in none)."""
    if isinstance(link.data.get("vlan"), int):
        return link.data["vlan"]
    mapping = graph.nodes[switch].get("mac_vlans")
    if isinstance(mapping, Mapping) and mapping:
        mac = str(macs.get(host_end, "")).lower()
        table = {str(k).lower(): v for k, v in mapping.items()}
        return table.get(mac)               # a MAC the switch does not list is in no VLAN
    return 0


def _link_vlans(link: graphs.LinkRef, every: list[int]) -> list[int]:
    """The VLANs a link between two switching nodes carries."""
    trunk = link.data.get("trunk")
    if isinstance(trunk, (list, tuple)):
        return [v for v in trunk if isinstance(v, int)]
    if isinstance(link.data.get("vlan"), int):
        return [link.data["vlan"]]
    return every                            # untagged: every VLAN passes, tags and all


def segments(graph: nx.Graph, ports: dict[tuple, dict[Any, str]],
             macs: Mapping[tuple[str, str], str] | None = None) -> list[Segment]:
    """Every segment with at least one L3 interface or switch, in first-seen order.

    VLANs split a switch: it is one broadcast domain per VLAN (0 = untagged), joined to
    the others' domains by the links that carry that VLAN. ``macs`` ((node, ifname) ->
    MAC) places hosts on switches with ``mac_vlans``.
    """
    macs = macs or {}
    every = [0] + vlans_in_use(graph)
    uf = _UnionFind()
    bridge_ports: set[tuple[str, str]] = set()
    for node in graph.nodes:
        if is_switching(graph, node):
            for vid in every:
                uf.add(("sw", str(node), vid))
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
        u_sw, v_sw = is_switching(graph, link.u), is_switching(graph, link.v)
        if u_sw and v_sw:
            for vid in _link_vlans(link, every):
                uf.union(("sw", str(link.u), vid), ("sw", str(link.v), vid))
        elif u_sw or v_sw:
            switch, host = (link.u, link.v) if u_sw else (link.v, link.u)
            end = (str(host), names[host])
            vid = _edge_vlan(graph, link, switch, end, macs)
            if vid is not None:
                uf.union(("sw", str(switch), vid), ("if", *end))
        else:
            uf.union(("if", str(link.u), names[link.u]), ("if", str(link.v), names[link.v]))
    groups: dict = {}
    for item in sorted(uf.parent, key=uf.order.__getitem__):
        groups.setdefault(uf.find(item), []).append(item)
    result = []
    for members in sorted(groups.values(), key=lambda m: uf.order[m[0]]):
        l3 = tuple((m[1], m[2]) for m in members
                   if m[0] == "if" and (m[1], m[2]) not in bridge_ports)
        switches = tuple(dict.fromkeys(m[1] for m in members if m[0] == "sw"))
        if not l3 and all(m[0] == "sw" and m[2] != 0 for m in members):
            continue                        # a VLAN nobody uses on these switches
        result.append(Segment(len(result), l3, switches))
    return result
