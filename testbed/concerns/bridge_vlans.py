"""VLANs on Linux bridges: an 802.1Q VLAN-aware bridge (vlan_filtering=1) per switch.

A link's ``vlan: V`` makes the bridge's port an access port (VLAN V untagged, the port's
PVID); ``trunk: [..]`` makes it carry those VLANs tagged. This needs a kernel with bridge
VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING); where it is missing the plan is refused,
naming the links and the ways out (Open vSwitch switches, or a stock kernel in a VM).
The per-port VLAN commands are made by ``port_commands`` and applied with
``testbed.kernel.bridgevlan``.
"""
from __future__ import annotations

from typing import Any, Collection

import networkx as nx

from testbed import kinds
from testbed.topology import graphs
from testbed.kinds.switching import backend

FEATURE = "bridge-vlan-filtering"


def _linux_switch(graph: nx.Graph, node: Any) -> bool:
    kind = kinds.get(graph.nodes[node].get("kind"))
    return bool(kind and kind.switching) and backend(graph.nodes[node]) != "ovs"


def vlan_links(graph: nx.Graph) -> list[str]:
    """Labels of the links with a VLAN setting at a Linux bridge ("s1--h1"), in edge order."""
    found = []
    for link in graphs.links(graph):
        if link.data.get("vlan") is None and link.data.get("trunk") is None:
            continue
        if any(n in graph.nodes and _linux_switch(graph, n) for n in (link.u, link.v)):
            found.append(f"{link.u}--{link.v}")
    return found


def used(graph: nx.Graph) -> bool:
    """Whether planning ``graph`` needs to know if the kernel has bridge VLAN filtering."""
    return isinstance(graph, nx.Graph) and bool(vlan_links(graph))


def port_vlans(graph: nx.Graph, node: Any, nbr: Any, key: Any) -> dict:
    """The VLAN fields (vlan, trunk) of ``node``'s port on the link to ``nbr``."""
    data = graph.edges[node, nbr, key] if graph.is_multigraph() else graph.edges[node, nbr]
    trunk = data.get("trunk")
    return {"vlan": data.get("vlan"), "trunk": tuple(trunk) if trunk is not None else None}


def filtering(graph: nx.Graph, node: Any) -> bool:
    """Whether Linux-bridge switch ``node`` has a VLAN link: then it gets vlan_filtering=1."""
    if not _linux_switch(graph, node):
        return False
    return any(v is not None for nbr, key in graphs.incident(graph, node)
               for v in port_vlans(graph, node, nbr, key).values())


def refusal(graph: nx.Graph, features: Collection[str] | None) -> str | None:
    """Why this kernel cannot build the graph's Linux-bridge VLANs (None: it can, or unknown)."""
    if features is None or FEATURE in features:
        return None
    links = vlan_links(graph)
    if not links:
        return None
    implicit = any("backend" not in attrs for node, attrs in graph.nodes(data=True) if _linux_switch(graph, node))
    return (f"links {', '.join(links)} put Linux bridge ports in VLANs, which needs 802.1Q bridge "
            "vlan_filtering (CONFIG_BRIDGE_VLAN_FILTERING), and this kernel lacks it; "
            f"use Open vSwitch switches (backend='ovs' on the switches{', or --switch ovs' if implicit else ''}), "
            "or run in a stock kernel with --vm")


def port_commands(port: str, vlan: int | None, trunk: Collection[int] | None) -> list[str]:
    """`bridge -batch` lines for one port of a VLAN-filtering bridge (none for a plain port).

    Access port: VLAN ``vlan`` as PVID, untagged. Trunk: each VLAN tagged. Either way the
    default VLAN 1 is taken off the port so untagged frames stay out of other VLANs.
    """
    if vlan is None and trunk is None:
        return []
    lines = [f"vlan del dev {port} vid 1"]
    if vlan is not None:
        lines.append(f"vlan add dev {port} vid {vlan} pvid untagged")
    for vid in trunk or ():
        lines.append(f"vlan add dev {port} vid {vid}")
    return lines
