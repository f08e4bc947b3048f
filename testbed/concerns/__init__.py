"""L2/L3 features on top of the core engine: macvlan, port security, DHCP (+ snooping), NAT.

Each feature is a small module with pure ``problems(graph, ports)`` (validation) and
planning functions; this package gathers them for topology.validate and the planner.
Kernel work is in features.apply (deploy time) and features.services (run time).
"""
from __future__ import annotations

from typing import Mapping

import networkx as nx

from testbed.errors import Problem
from testbed.concerns import dhcp, macvlan, nat, portsec
from testbed.model.features import Features


def problems(graph: nx.Graph, ports) -> list[Problem]:
    """Every problem of the feature attributes of a graph whose names are already valid."""
    found: list[Problem] = []
    for module in (macvlan, portsec, dhcp, nat):
        found += module.problems(graph, ports)
    return found


def plan(graph: nx.Graph, ports, addresses: Mapping[tuple[str, str], str], segs) -> Features:
    return Features(
        ports=portsec.plan(graph, ports),
        snooping=tuple(str(n) for n, a in graph.nodes(data=True) if a.get("dhcp_snooping")),
        nats=nat.plan(graph, ports, addresses),
        dhcp_servers=dhcp.plan_servers(graph, ports, addresses, segs),
        dhcp_clients=dhcp.plan_clients(graph, ports),
    )
