"""Name resolution and neighbour tables computed from a Plan (pure)."""
from __future__ import annotations

import ipaddress

from testbed.model.plan import Plan


def hosts_text(plan: Plan, nets: frozenset) -> str:
    """A hosts file for a node on ``nets``: every name with its address on a shared subnet,
    else its first address."""
    lines = ["127.0.0.1\tlocalhost"]
    for node in plan.nodes:
        if node.role != "l3" or not node.addresses:
            continue
        ifaces = [ipaddress.ip_interface(a) for a in node.addresses]
        best = next((i for i in ifaces if i.network in nets), ifaces[0])
        lines.append(f"{best.ip}\t{node.name}")
    return "\n".join(lines) + "\n"


def static_neighbours(plan: Plan) -> dict[str, list[tuple[str, str, str]]]:
    """For every L3 interface, the (ifname, ip, mac) of the other addressed interfaces on its LAN."""
    members: dict[int, list[tuple[str, str, str, str]]] = {}
    for seg in plan.segments:
        for node, ifname in seg.interfaces:
            intf = plan.node(node).interface(ifname)
            for cidr in intf.addresses:
                members.setdefault(seg.index, []).append((node, ifname, cidr.split("/")[0], intf.mac))
    result: dict[str, list[tuple[str, str, str]]] = {}
    for entries in members.values():
        for node, ifname, ip, _ in entries:
            result.setdefault(node, []).extend((ifname, oip, omac) for onode, oif, oip, omac in entries
                                               if (onode, oif) != (node, ifname))
    return result
