"""NAT gateways: which link is outside, port forwards, and the nftables rules.

Rules live in the NAT node's namespace: masquerade whatever leaves through the outside
interface; forward LAN -> outside and the replies (conntrack); drop and count every
other connection opened from outside unless a forward (DNAT) was declared for it.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Mapping

import networkx as nx

from testbed.errors import Problem
from testbed.concerns.common import ends
from testbed.model.features import Forward, NatPlan

TABLE = "testbed_nat"
PROTOS = ("tcp", "udp")


def outside_interface(graph: nx.Graph, ports, node: Any) -> str | None:
    """The NAT's outside interface: ``outside`` names a neighbour or one of its interfaces."""
    wanted = graph.nodes[node].get("outside")
    for end in ends(graph, ports, node):
        if wanted in (end.ifname, end.neighbour):
            return end.ifname
    return None


def _parse_target(value: Any) -> tuple[str, int] | None:
    if not isinstance(value, str) or value.count(":") != 1:
        return None
    name, port = value.split(":")
    return (name, int(port)) if port.isdigit() and 0 < int(port) < 65536 else None


def problems(graph: nx.Graph, ports) -> list[Problem]:
    found = []
    for node, attrs in graph.nodes(data=True):
        if attrs.get("kind") != "nat":
            continue
        where = f"node {node!r}"
        links = ends(graph, ports, node)
        if attrs.get("outside") is None:
            found.append(Problem(where, "a nat needs 'outside': the neighbour (or interface) towards the outside",
                                 "e.g. outside='internet'"))
        elif outside_interface(graph, ports, node) is None:
            known = ", ".join(sorted({e.neighbour for e in links} | {e.ifname for e in links})) or "none"
            found.append(Problem(where, f"outside={attrs['outside']!r} is neither a neighbour nor one of its interfaces",
                                 f"known: {known}"))
        if len(links) < 2:
            found.append(Problem(where, "a nat needs an outside link and at least one LAN link"))
        forwards = attrs.get("forwards") or []
        if not isinstance(forwards, (list, tuple)):
            found.append(Problem(where, "'forwards' must be a list of {'proto', 'port', 'to'}"))
            continue
        seen = set()
        for i, fwd in enumerate(forwards):
            fwhere = f"{where} forward {i}"
            if not isinstance(fwd, Mapping):
                found.append(Problem(fwhere, f"{fwd!r} is not a dict", "e.g. {'proto': 'tcp', 'port': 8080, 'to': 'h1:80'}"))
                continue
            unknown = set(fwd) - {"proto", "port", "to"}
            if unknown:
                found.append(Problem(fwhere, f"unknown keys {sorted(unknown)}", "known: proto, port, to"))
            if fwd.get("proto", "tcp") not in PROTOS:
                found.append(Problem(fwhere, f"proto {fwd.get('proto')!r} is not tcp or udp"))
            port = fwd.get("port")
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                found.append(Problem(fwhere, f"port {port!r} is not a port number 1-65535"))
            target = _parse_target(fwd.get("to"))
            if target is None:
                found.append(Problem(fwhere, f"to={fwd.get('to')!r} is not 'node:port'", "e.g. to='h1:80'"))
            elif target[0] not in graph.nodes or graph.nodes[target[0]].get("kind") not in ("host", "router"):
                found.append(Problem(fwhere, f"to names {target[0]!r}, which is not a host or router"))
            key = (fwd.get("proto", "tcp"), port)
            if key in seen:
                found.append(Problem(fwhere, f"{key[0]} port {port} is forwarded twice"))
            seen.add(key)
    return found


def plan(graph: nx.Graph, ports, addresses: Mapping[tuple[str, str], str]) -> tuple[NatPlan, ...]:
    result = []
    for node, attrs in graph.nodes(data=True):
        if attrs.get("kind") != "nat":
            continue
        outside = outside_interface(graph, ports, node)
        lan_nets = [ipaddress.ip_interface(addresses[(str(node), e.ifname)]).network
                    for e in ends(graph, ports, node)
                    if e.ifname != outside and (str(node), e.ifname) in addresses]
        forwards = []
        for fwd in attrs.get("forwards") or ():
            name, to_port = _parse_target(fwd["to"])
            theirs = [ipaddress.ip_interface(c) for (n, _), c in addresses.items() if n == name]
            on_lan = [c for c in theirs if c.network in lan_nets] or theirs
            if on_lan:
                forwards.append(Forward(fwd.get("proto", "tcp"), int(fwd["port"]), str(on_lan[0].ip), to_port))
        outside_cidr = addresses.get((str(node), outside))
        result.append(NatPlan(str(node), outside, outside_cidr.split("/")[0] if outside_cidr else None,
                              tuple(forwards)))
    return tuple(result)


def ruleset(nat: NatPlan) -> str:
    """The nftables script for one NAT node (loaded with ``nft -f``)."""
    out = nat.outside
    dnat = "".join(f'        iifname "{out}" {f.proto} dport {f.port} counter dnat to {f.to_ip}:{f.to_port}\n'
                   for f in nat.forwards)
    return f"""table ip {TABLE} {{
    counter inbound_blocked {{ }}
    counter forwarded_in {{ }}
    counter masqueraded {{ }}
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
{dnat}    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{out}" counter name "masqueraded" masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        ct state established,related accept
        iifname != "{out}" accept
        ct status dnat counter name "forwarded_in" accept
        counter name "inbound_blocked" drop
    }}
}}
"""
