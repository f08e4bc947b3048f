"""macvlan children of another node's NIC ("containers" sharing a physical interface).

Graph convention: an in-node device of kind macvlan whose ``parent`` is "node:ifname" (or
just "node" when that node has one link), e.g.
``g.add_node("c1", kind="host", interfaces={"eth0": {"kind": "macvlan", "parent": "phys:phys-eth0",
"mode": "bridge", "ip": "10.0.0.11/24"}})``. The child sits on the parent's LAN segment.

Who hears whom (Linux macvlan semantics, encoded for the expected reachability):
- two bridge-mode siblings talk inside the parent; any other sibling pair goes out to the
  adjacent switch and comes back only when that switch port is in hairpin mode;
- a private-mode child never talks to a sibling (even through a hairpin switch);
- the parent and its children reach each other only through a hairpin switch port;
- a passthru child takes the NIC over: the parent's own address is cut off the LAN.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from testbed.errors import Problem
from testbed.concerns.common import ends

if TYPE_CHECKING:
    from testbed.model.plan import Plan

MODES = ("bridge", "vepa", "private", "passthru")


def devices(graph: nx.Graph) -> list[tuple[str, str, dict]]:
    """(node, ifname, spec) of every macvlan device in the graph."""
    found = []
    for node, attrs in graph.nodes(data=True):
        raw = attrs.get("interfaces")
        if isinstance(raw, dict):
            for name, spec in raw.items():
                if isinstance(spec, dict) and spec.get("kind") == "macvlan":
                    found.append((str(node), str(name), spec))
    return found


def parent_of(graph: nx.Graph, ports, spec: dict) -> tuple[str, str] | None:
    """The (node, ifname) a macvlan spec names as its lower device, if it exists."""
    parent = spec.get("parent")
    if not isinstance(parent, str):
        return None
    node, _, ifname = parent.partition(":")
    if node not in graph.nodes:
        return None
    links = ends(graph, ports, node)
    if not ifname:
        return (node, links[0].ifname) if len(links) == 1 else None
    return (node, ifname) if any(e.ifname == ifname for e in links) else None


def problems(graph: nx.Graph, ports) -> list[Problem]:
    found = []
    children: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for node, name, spec in devices(graph):
        where = f"node {node!r} interface {name!r}"
        mode = spec.get("mode", "bridge")
        if mode not in MODES:
            found.append(Problem(where, f"macvlan mode {mode!r} is not one of {', '.join(MODES)}"))
        parent = spec.get("parent")
        if not isinstance(parent, str):
            found.append(Problem(where, "a macvlan needs 'parent': 'node:interface' of its lower device",
                                 "e.g. parent='phys:phys-eth0'"))
            continue
        pnode = parent.partition(":")[0]
        if pnode not in graph.nodes:
            found.append(Problem(where, f"parent node {pnode!r} does not exist"))
            continue
        kind = graph.nodes[pnode].get("kind")
        if kind not in ("host", "router", "nat"):
            found.append(Problem(where, f"parent {pnode!r} is a {kind}; a macvlan sits on a host's NIC"))
            continue
        resolved = parent_of(graph, ports, spec)
        if resolved is None:
            names = ", ".join(e.ifname for e in ends(graph, ports, pnode)) or "none"
            found.append(Problem(where, f"parent {parent!r} is not one of {pnode!r}'s link interfaces",
                                 f"known: {names}"))
            continue
        children.setdefault(resolved, []).append((node, name, mode))
    for (pnode, pif), kids in children.items():
        if any(m == "passthru" for _, _, m in kids) and len(kids) > 1:
            found.append(Problem(", ".join(f"{n}/{i}" for n, i, _ in kids),
                                 f"a passthru macvlan must be the only child of {pnode}:{pif}",
                                 "use another mode or give the others their own parent"))
    return found


def _hairpin(plan: Plan, parent: tuple[str, str]) -> bool:
    intf = plan.node(parent[0]).interface(parent[1])
    if intf.peer is None:
        return False
    settings = plan.features.port(*intf.peer)
    return bool(settings and settings.hairpin)


def blocked_pairs(plan: Plan) -> set[frozenset]:
    """Node pairs that share a segment but cannot exchange frames because of macvlan rules."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for node in plan.nodes:
        for intf in node.interfaces:
            if intf.kind == "macvlan" and intf.parent is not None:
                groups.setdefault(intf.parent, []).append((node.name, intf.mode or "bridge"))
    blocked: set[frozenset] = set()
    for parent, kids in groups.items():
        if any(mode == "passthru" for _, mode in kids):
            # the child owns the NIC: every frame for the parent's interface goes to the child
            seg = next((s for s in plan.segments if parent in s.interfaces), None)
            blocked.update(frozenset((parent[0], n)) for n, _ in (seg.interfaces if seg else ())
                           if n != parent[0])
            continue
        hairpin = _hairpin(plan, parent)
        for i, (a, mode_a) in enumerate(kids):
            if not hairpin and a != parent[0]:
                blocked.add(frozenset((a, parent[0])))
            for b, mode_b in kids[i + 1:]:
                if "private" in (mode_a, mode_b):
                    blocked.add(frozenset((a, b)))
                elif (mode_a, mode_b) != ("bridge", "bridge") and not hairpin:
                    blocked.add(frozenset((a, b)))
    return blocked
