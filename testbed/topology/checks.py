"""The core checks over a resolved topology: names, addresses given twice or clashing, L2 loops.

Pure functions of the model, each returning every problem it finds (an empty list when
there is none). The concerns' and backends' checks run beside these (testbed/planning/).
"""
from __future__ import annotations

import ipaddress
from typing import Callable

import networkx as nx

from testbed.errors import Problem
from testbed.model import values
from testbed.model.topology import Topology

LOOPBACK = "lo"


def problems(topo: Topology) -> list[Problem]:
    found: list[Problem] = []
    for check in CHECKS:
        found += check(topo)
    return found


def interface_names(topo: Topology) -> list[Problem]:
    """Every interface name of a node is valid, unique, not 'lo'; bridge ports are its link ends."""
    found = []
    for node in topo.nodes:
        where = f"node {node.name!r}"
        seen: set[str] = set()
        for name in node.ifnames:
            error = values.ifname(name)
            if error:
                found.append(Problem(where, error, "shorten the node name or name the interface with the link's 'intf'"))
            elif name == LOOPBACK:
                found.append(Problem(where, f"interface name {name!r} is the loopback every namespace already has",
                                     "choose another 'intf' name"))
            if name in seen:
                found.append(Problem(where, f"two interfaces are named {name!r}", "give each link end its own 'intf' name"))
            seen.add(name)
        link_names = {e.ifname for e in node.ends} | ({node.name} if node.switching else set())
        used: set[str] = set()
        for dev in node.devices:
            for port in dev.ports:
                if port not in link_names:
                    found.append(Problem(f"{where} interface {dev.name!r}",
                                         f"port {port!r} is not one of the node's link interfaces",
                                         "known: " + ", ".join(sorted(link_names))))
                if port in used:
                    found.append(Problem(f"{where} interface {dev.name!r}", f"port {port!r} is already in another bridge"))
                used.add(port)
    return found


def _declared(topo: Topology, attr: str) -> dict[tuple[str, str], str]:
    """(node, ifname) -> value of ``attr`` ("ip" or "mac") wherever the topology gives it: a
    node's own (its first link's interface; a switch's MAC is its bridge's), a device's, a link end's."""
    found: dict[tuple[str, str], str] = {}
    for node in topo.nodes:
        value = node.get(attr)
        if value is not None and value != "dhcp":
            if node.switching:
                if attr == "mac":
                    found[(node.name, node.name)] = value
            elif node.first is not None:
                found[node.first.key] = value
        for dev in node.devices:
            if getattr(dev, attr) is not None:
                found[(node.name, dev.name)] = getattr(dev, attr)
    for link in topo.links:
        for end in link.ends:
            value = link.at(end.node, attr)
            if value is not None:
                found[end.key] = value
    return found


def declared_addresses(topo: Topology) -> dict[tuple[str, str], str]:
    """(node, ifname) -> CIDR for every address the topology gives explicitly."""
    return _declared(topo, "ip")


def declared_macs(topo: Topology) -> dict[tuple[str, str], str]:
    """(node, ifname) -> MAC for every MAC the topology gives explicitly."""
    return _declared(topo, "mac")


def given_twice(topo: Topology) -> list[Problem]:
    """A node's 'ip'/'mac' is for its first link; that link must not set another one for it."""
    found = []
    for node in topo.nodes:
        if node.first is None:
            continue
        link = topo.link_of(node.first)
        for attr in ("ip", "mac"):
            on_link = link.at(node.name, attr)
            if node.get(attr) is not None and on_link is not None and on_link != node.get(attr):
                found.append(Problem(f"node {node.name!r}", f"{attr!r} is {node.get(attr)!r} on the node but "
                                     f"{on_link!r} on its first {link.label}", f"give the {attr} in one place"))
    return found


def duplicates(topo: Topology) -> list[Problem]:
    found = []
    tables: list[tuple[str, dict, Callable]] = [
        ("IP address", declared_addresses(topo), lambda v: str(ipaddress.ip_interface(v).ip)),
        ("MAC address", declared_macs(topo), lambda v: v.lower())]
    for what, table, norm in tables:
        owners: dict[str, list[str]] = {}
        for (node, ifname), value in table.items():
            owners.setdefault(norm(value), []).append(f"{node}/{ifname}")
        for value, where in owners.items():
            if len(where) > 1:
                found.append(Problem(", ".join(where), f"duplicate {what} {value}", f"give each interface its own {what}"))
    return found


def gateways_named(topo: Topology) -> list[Problem]:
    """default_route naming a node: that node must be a router or NAT (a gateway kind)."""
    found = []
    for node in topo.nodes:
        given = node.get("default_route")
        if given is None or given == "none" or not values.ip_address(given):
            continue
        if given not in topo or not topo.node(given).kind.gateway:
            found.append(Problem(f"node {node.name!r}", f"default_route {given!r} is neither an IP address nor a "
                                 "router's name", "give the gateway's IP, the name of a router on the same LAN, or 'none'"))
    return found


def addresses_placed(topo: Topology) -> list[Problem]:
    return [Problem(f"node {n.name!r}", "has 'ip' but no link to put it on", "add a link or move the ip to a device")
            for n in topo.nodes if n.get("ip") not in (None, "dhcp") and not n.ends and not n.switching]


def loops(topo: Topology) -> list[Problem]:
    """An L2 loop (a cycle through switching nodes or in-node bridges) must have STP on every
    bridge in it."""
    l2 = nx.MultiGraph()
    stp: dict[str, bool] = {}
    bridge_of: dict[tuple[str, str], str] = {}        # (node, port ifname) -> in-node bridge vertex
    for node in topo.nodes:
        if node.switching:
            l2.add_node(node.name)
            stp[node.name] = node.get("stp", False) is True
            continue
        for dev in node.devices:
            if dev.kind == "bridge":
                vertex = f"{node.name}/{dev.name}"
                l2.add_node(vertex)
                stp[vertex] = dev.stp
                for port in dev.ports:
                    bridge_of[(node.name, port)] = vertex

    def vertex(end) -> str | None:
        return end.node if end.node in stp else bridge_of.get(end.key)

    for link in topo.links:
        a, b = vertex(link.ends[0]), vertex(link.ends[1])
        if a is not None and b is not None:
            l2.add_edge(a, b)
    found = []
    for component in nx.connected_components(l2):
        sub = l2.subgraph(component)
        if sub.number_of_edges() < sub.number_of_nodes():
            continue                      # a tree: no loop
        on_loop = _nodes_on_cycles(sub)
        no_stp = [n for n in on_loop if not stp[n]]
        if no_stp:
            found.append(Problem("L2 loop through " + ", ".join(on_loop),
                                 f"frames would circle forever: no STP on {', '.join(no_stp)}",
                                 "set stp=True on every bridge/switch in the loop (hubs cannot run STP), "
                                 "or remove a link"))
    return found


def _nodes_on_cycles(sub: nx.MultiGraph) -> list:
    simple = nx.Graph(sub)
    on_cycle: set = set()
    for cycle in nx.cycle_basis(simple):
        on_cycle.update(cycle)
    for u, v in simple.edges:
        if sub.number_of_edges(u, v) > 1:
            on_cycle.update((u, v))
    return sorted(on_cycle, key=str)


CHECKS: tuple[Callable[[Topology], list[Problem]], ...] = (
    addresses_placed, gateways_named, interface_names, given_twice, duplicates, loops,
)
