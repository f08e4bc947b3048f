"""DHCP: a ``dhcp_server`` role on a host and hosts whose ``ip`` is "dhcp".

Graph convention: ``g.add_node("srv", kind="host", ip="10.0.0.1/24",
dhcp_server={"range": "10.0.0.100,10.0.0.200"})`` (range optional: the upper half of the
LAN; ``lease`` seconds and ``router`` (an IP or a router's name) optional) and
``g.add_node("h1", kind="host", ip="dhcp")``. The planner gives dhcp hosts no address;
they get one at run time (features.services).
"""
from __future__ import annotations

import ipaddress
from typing import Any, Mapping

import networkx as nx

from testbed.errors import Problem
from testbed.concerns.common import ends
from testbed.model.features import DhcpClient, DhcpServer

SERVER_KEYS = ("range", "lease", "router")
MIN_LEASE = 120                        # dnsmasq refuses shorter leases


def _range(value: Any) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address] | None:
    if not isinstance(value, str) or value.count(",") != 1:
        return None
    try:
        first, last = (ipaddress.IPv4Address(v.strip()) for v in value.split(","))
    except ValueError:
        return None
    return (first, last) if first <= last else None


def problems(graph: nx.Graph, ports) -> list[Problem]:
    found = []
    for node, attrs in graph.nodes(data=True):
        where = f"node {node!r}"
        links = ends(graph, ports, node) if attrs.get("ip") == "dhcp" or "dhcp_server" in attrs else []
        if attrs.get("ip") == "dhcp" and not links:
            found.append(Problem(where, "has ip='dhcp' but no link to ask on", "link it to the server's LAN"))
        spec = attrs.get("dhcp_server")
        if spec is None:
            continue
        if not isinstance(spec, Mapping):
            found.append(Problem(where, f"dhcp_server {spec!r} must be a dict", "e.g. {'range': '10.0.0.100,10.0.0.200'}"))
            continue
        for key in set(spec) - set(SERVER_KEYS):
            found.append(Problem(where, f"unknown dhcp_server setting {key!r}", f"known: {', '.join(SERVER_KEYS)}"))
        if "range" in spec and _range(spec["range"]) is None:
            found.append(Problem(where, f"dhcp_server range {spec['range']!r} is not 'first,last' IPv4",
                                 "e.g. '10.0.0.100,10.0.0.200'"))
        if "lease" in spec and (not isinstance(spec["lease"], int) or spec["lease"] < MIN_LEASE):
            found.append(Problem(where, f"dhcp_server lease {spec['lease']!r} must be an integer >= {MIN_LEASE} s"))
        if attrs.get("ip") == "dhcp":
            found.append(Problem(where, "a DHCP server needs a static ip, not 'dhcp'"))
        if not links:
            found.append(Problem(where, "a DHCP server needs a link to serve on"))
        ip = attrs.get("ip")
        rng = _range(spec.get("range"))
        if rng and isinstance(ip, str) and "/" in ip:
            try:
                net = ipaddress.ip_interface(ip).network
            except ValueError:
                continue
            if rng[0] not in net or rng[1] not in net:
                found.append(Problem(where, f"dhcp_server range {spec['range']} is outside its subnet {net}"))
    return found + _clients_without_server(graph, ports)


def _clients_without_server(graph: nx.Graph, ports) -> list[Problem]:
    from testbed.planning.segments import segments          # (segments imports the features package)
    clients = dhcp_members(graph, ports)
    if not clients:
        return []
    found = []
    for seg in segments(graph, ports):
        members = set(seg.interfaces)
        if members & clients and not any(isinstance(graph.nodes[n].get("dhcp_server"), Mapping)
                                         for n, _ in members):
            for node, _ in sorted(members & clients):
                found.append(Problem(f"node {node!r}", "has ip='dhcp' but no DHCP server on its LAN",
                                     "give a host on that LAN dhcp_server={...}"))
    return found


def plan_servers(graph: nx.Graph, ports, addresses: Mapping[tuple[str, str], str], segs) -> tuple[DhcpServer, ...]:
    result = []
    for node, attrs in graph.nodes(data=True):
        spec = attrs.get("dhcp_server")
        if not isinstance(spec, Mapping):
            continue
        ifname = ends(graph, ports, node)[0].ifname
        cidr = addresses[(str(node), ifname)]
        net = ipaddress.ip_interface(cidr).network
        rng = _range(spec.get("range"))
        if rng is None:
            hosts = list(net.hosts())
            rng = (hosts[len(hosts) // 2], hosts[-1])
        router = spec.get("router")
        if router is not None and router in graph.nodes:
            router = next((c.split("/")[0] for (n, _), c in addresses.items()
                           if n == router and ipaddress.ip_interface(c).network == net), None)
        result.append(DhcpServer(str(node), ifname, cidr, str(rng[0]), str(rng[1]),
                                 int(spec.get("lease", 3600)), router))
    return tuple(result)


def plan_clients(graph: nx.Graph, ports) -> tuple[DhcpClient, ...]:
    """A client on the first interface of every ip='dhcp' node (nodes without links skipped)."""
    result = []
    for node, attrs in graph.nodes(data=True):
        links = ends(graph, ports, node) if attrs.get("ip") == "dhcp" else []
        if links:
            result.append(DhcpClient(str(node), links[0].ifname))
    return tuple(result)


def dhcp_members(graph: nx.Graph, ports) -> set[tuple[str, str]]:
    """(node, ifname) of every interface that gets its address from DHCP."""
    return {(c.node, c.interface) for c in plan_clients(graph, ports)}
