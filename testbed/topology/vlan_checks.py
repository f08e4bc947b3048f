"""Validation of VLANs and Open vSwitch settings: every problem, each naming its link or node.

VLANs are made by Open vSwitch bridges (``backend="ovs"``) or by VLAN-filtering Linux
bridges; whether the kernel can do the latter is decided at plan time from its
capabilities (testbed/bridge_vlans.py), not here.
"""
from __future__ import annotations

from typing import Any, Mapping

import networkx as nx

from testbed import kinds
from testbed.topology import graphs
from testbed.ovs import portsec as ovs_portsec
from testbed.errors import Problem
from testbed.kinds.switching import backend

def _switching(graph: nx.Graph, node: Any) -> bool:
    kind = kinds.get(graph.nodes[node].get("kind"))
    return bool(kind and kind.switching)


def _ovs(graph: nx.Graph, node: Any) -> bool:
    return _switching(graph, node) and backend(graph.nodes[node]) == "ovs"


def check(graph: nx.Graph) -> list[Problem]:
    """Problems with VLAN link attributes and OVS-only node attributes."""
    problems: list[Problem] = []
    for node, attrs in graph.nodes(data=True):
        if not _switching(graph, node) or backend(attrs) == "ovs":
            continue
        for key in kinds.switching.OVS_ATTRS:
            if key in attrs:
                problems.append(Problem(f"node {node!r}", f"attribute {key!r} needs an Open vSwitch bridge",
                                        f"set backend='ovs' on {node!r} (or build with --switch ovs)"))
    for link in graphs.links(graph):
        problems += _check_link(graph, link)
    for node, attrs in graph.nodes(data=True):
        if _ovs(graph, node) and isinstance(attrs.get("mac_vlans"), Mapping) and attrs["mac_vlans"]:
            problems += _check_mac_vlan_switch(graph, node)
        if _ovs(graph, node) and (attrs.get("kind") == "hub" or attrs.get("hub") is True):
            problems += _check_hub(graph, node, attrs)
        if _ovs(graph, node):
            problems += _check_linux_only(graph, node, attrs)
    return problems


def _check_linux_only(graph: nx.Graph, node: Any, attrs: Mapping[str, Any]) -> list[Problem]:
    """What an OVS switch's port security (flows, testbed/ovs_portsec.py) cannot do.

    Bindings and max_macs (up to ovs_portsec.MAX_MACS) are flows on a plain learning switch;
    hairpin ports and DHCP snooping are nftables/bridge-port features of a Linux bridge.
    """
    found: list[Problem] = []
    where = f"node {node!r}"
    fix = f"use backend='linux' for {node!r}"
    if attrs.get("dhcp_snooping"):
        found.append(Problem(where, "dhcp_snooping is made with nftables on a Linux bridge, "
                                    "not on an Open vSwitch bridge", fix))
    limits = [(f"{node}", attrs.get("max_macs"))]
    secured = []
    for nbr, key in graphs.incident(graph, node):
        data = graph.edges[node, nbr, key] if graph.is_multigraph() else graph.edges[node, nbr]
        port = data.get("port")
        spec = port.get(node) if isinstance(port, Mapping) else None
        if not isinstance(spec, Mapping):
            continue
        limits.append((f"port {node}--{nbr}", spec.get("max_macs")))
        if spec.get("hairpin"):
            found.append(Problem(where, f"hairpin on {node}--{nbr}: a Linux bridge port setting, "
                                        "not available on an Open vSwitch bridge", fix))
        if spec.get("binding") or spec.get("max_macs"):
            secured.append(f"{node}--{nbr}")
    for what, limit in limits:
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > ovs_portsec.MAX_MACS:
            found.append(Problem(where, f"max_macs={limit} on {what}: an Open vSwitch bridge learns at most "
                                        f"{ovs_portsec.MAX_MACS} MACs per port (one flow lookup per slot)",
                                 f"use max_macs <= {ovs_portsec.MAX_MACS}, no limit, or {fix}"))
    if attrs.get("max_macs"):
        secured.append("max_macs")
    hub = attrs.get("kind") == "hub" or attrs.get("hub")
    other = [k for k in ("hub", "mac_vlans", "controller") if attrs.get(k) or (k == "hub" and hub)]
    if secured and other:
        found.append(Problem(where, f"port security ({', '.join(secured)}) is made with flows on a learning "
                                    f"switch, which {', '.join(other)} replaces",
                             f"drop {', '.join(other)} or the port settings"))
    return found


def _check_hub(graph: nx.Graph, node: Any, attrs: Mapping[str, Any]) -> list[Problem]:
    """A hub floods every frame as it is: it has no VLANs to keep apart."""
    vlan_links = [f"{node}--{nbr}" for nbr, key in graphs.incident(graph, node)
                  if any(k in (graph.edges[node, nbr, key] if graph.is_multigraph() else graph.edges[node, nbr])
                         for k in ("vlan", "trunk"))]
    if vlan_links or attrs.get("mac_vlans"):
        what = f"links {', '.join(vlan_links)} have VLANs" if vlan_links else "it has mac_vlans"
        return [Problem(f"node {node!r}", f"is a hub (floods every frame unchanged), but {what}",
                        "make it a switch without hub=True, or drop the VLANs")]
    return []


def _check_link(graph: nx.Graph, link: graphs.LinkRef) -> list[Problem]:
    vlan, trunk = link.data.get("vlan"), link.data.get("trunk")
    if vlan is None and trunk is None:
        return []
    where = link.label
    if vlan is not None and trunk is not None:
        return [Problem(where, "has both 'vlan' (an access port) and 'trunk'", "keep one of them")]
    ends = [n for n in (link.u, link.v) if n in graph.nodes and graph.nodes[n]]
    switching = [n for n in ends if _switching(graph, n)]
    if trunk is not None and len(switching) < 2:
        return [Problem(where, "'trunk' is for links between two switches",
                        "use 'vlan' to put a host's port in one VLAN")]
    if not switching:
        return [Problem(where, "'vlan' needs a switch at one end: it makes the switch's port an access port",
                        "connect the host to a switch")]
    return []


def _check_mac_vlan_switch(graph: nx.Graph, node: Any) -> list[Problem]:
    """A switch placing hosts in VLANs by MAC talks to other switches only through VLAN links."""
    problems = []
    for nbr, key in graphs.incident(graph, node):
        data = graph.edges[node, nbr, key] if graph.is_multigraph() else graph.edges[node, nbr]
        if _switching(graph, nbr) and data.get("vlan") is None and data.get("trunk") is None:
            problems.append(Problem(f"link {node}--{nbr}", f"{node!r} has mac_vlans: its links to other "
                                    "switches must say which VLANs they carry",
                                    "add trunk=[...] (or vlan=N) to the link"))
    return problems
