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

from testbed.concerns.base import Concern
from testbed.errors import Problem
from testbed.kernel import netlink
from testbed.kernel.journal import Link

MODES = ("bridge", "vepa", "private", "passthru")
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}     # IFLA_MACVLAN_MODE


class Macvlan(Concern):
    name = "macvlan"

    def problems(self, topo) -> list[Problem]:
        found = []
        children: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for node in topo.nodes:
            for dev in node.devices:
                if dev.kind != "macvlan":
                    continue
                where = f"node {node.name!r} interface {dev.name!r}"
                if dev.mode not in MODES:
                    found.append(Problem(where, f"macvlan mode {dev.mode!r} is not one of {', '.join(MODES)}"))
                problem = _parent_problem(topo, dev)
                if problem:
                    found.append(Problem(where, *problem))
                    continue
                children.setdefault(dev.parent, []).append((node.name, dev.name, dev.mode))
        for (pnode, pif), kids in children.items():
            if any(m == "passthru" for _, _, m in kids) and len(kids) > 1:
                found.append(Problem(", ".join(f"{n}/{i}" for n, i, _ in kids),
                                     f"a passthru macvlan must be the only child of {pnode}:{pif}",
                                     "use another mode or give the others their own parent"))
        return found

    def reach(self, plan, records, effects) -> None:
        effects.blocked |= blocked_pairs(plan)

    def create(self, ctx) -> None:
        """Each macvlan is made from its parent's namespace straight into its own (IFLA_LINK +
        IFLA_NET_NS_FD), with its planned ifindex, MAC and mode, up."""
        todo = [(n, i) for n in ctx.plan.nodes for i in n.interfaces if i.kind == "macvlan"]
        if not todo:
            return
        ctx.record(Link(ctx.ns(n.name), i.name) for n, i in todo)
        by_parent: dict[str, list] = {}
        for node, intf in todo:
            by_parent.setdefault(intf.parent[0], []).append((node, intf))
        for parent_node, children in by_parent.items():
            def make(children=children) -> None:
                with netlink.Batch() as batch:
                    for node, intf in children:
                        batch.macvlan(intf.name, ctx.index[(node.name, intf.name)], intf.mac, ctx.fd(node.name),
                                      ctx.index[intf.parent], MACVLAN_MODES[intf.mode or "bridge"])
                    batch.commit()
            with ctx.opened(node.name for node, _ in children):
                ctx.worker.run_inside(ctx.ns(parent_node), make)


def _parent_problem(topo, dev) -> tuple[str, str] | None:
    """(what, fix) when a macvlan's parent is not a link interface of a host-like node."""
    if not isinstance(dev.parent_text, str):
        return ("a macvlan needs 'parent': 'node:interface' of its lower device", "e.g. parent='phys:phys-eth0'")
    pnode = dev.parent_text.partition(":")[0]
    if pnode not in topo:
        return (f"parent node {pnode!r} does not exist", "")
    parent = topo.node(pnode)
    if parent.switching:
        return (f"parent {pnode!r} is a {parent.kind.name}; a macvlan sits on a host's NIC", "")
    if dev.parent is None:
        names = ", ".join(e.ifname for e in parent.ends) or "none"
        return (f"parent {dev.parent_text!r} is not one of {pnode!r}'s link interfaces", f"known: {names}")
    return None


def _hairpin(plan, parent: tuple[str, str]) -> bool:
    peer = plan.ends.get(parent)
    return peer is not None and peer in hairpin_ports(plan)


def hairpin_ports(plan) -> set[tuple[str, str]]:
    """(switch, port) of every switch port in hairpin mode (the portsec concern's settings)."""
    return {(p.node, p.port) for p in (plan.concern("portsec") or ()) if p.hairpin}


def blocked_pairs(plan) -> set[frozenset]:
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


CONCERN = Macvlan()
