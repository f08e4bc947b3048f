"""Name resolution and neighbour tables computed from a Plan (pure)."""
from __future__ import annotations

import ipaddress

from testbed.model.plan import Plan


def hosts_text(plan: Plan, nets: frozenset) -> str:
    """A hosts file for a node on ``nets``: every name with its address on a shared subnet,
    else its first address; a reader with IPv6 also gets each name's IPv6 address the same
    way (so ``h2`` resolves to both of a dual-stack h2's addresses)."""
    ipv6 = any(net.version == 6 for net in nets)
    lines = ["127.0.0.1\tlocalhost"] + (["::1\tlocalhost"] if ipv6 else [])
    for node in plan.nodes:
        if node.role != "l3" or not node.addresses:
            continue
        ifaces = [ipaddress.ip_interface(a) for a in node.addresses]
        v4 = [i for i in ifaces if i.version == 4]
        v6 = [i for i in ifaces if i.version == 6]
        for family in ([v4] if v4 else []) + ([v6] if v6 and (ipv6 or not v4) else []):
            best = next((i for i in family if i.network in nets), family[0])
            lines.append(f"{best.ip}\t{node.name}")
    return "\n".join(lines) + "\n"


def static_neighbours(plan: Plan) -> dict[str, list[tuple[str, str, str]]]:
    """For every L3 interface, the (ifname, ip, mac) of the other addressed interfaces on its LAN,
    in each family it has an address of (ARP entries, IPv6 neighbour entries)."""
    members: dict[tuple[int, int], list[tuple[str, str, str, str]]] = {}
    for seg in plan.segments:
        for node, ifname in seg.interfaces:
            intf = plan.node(node).interface(ifname)
            for cidr in intf.addresses:
                ip = cidr.split("/")[0]
                members.setdefault((seg.index, 6 if ":" in ip else 4), []).append((node, ifname, ip, intf.mac))
    result: dict[str, list[tuple[str, str, str]]] = {}
    for entries in members.values():
        for node, ifname, ip, _ in entries:
            result.setdefault(node, []).extend((ifname, oip, omac) for onode, oif, oip, omac in entries
                                               if (onode, oif) != (node, ifname))
    return result
