"""Switch port settings: hairpin, IP-MAC binding, a MAC limit, DHCP-snooping trust.

Graph convention: a link attribute ``port`` keyed by the switch end, e.g.
``g.add_edge("h1", "s1", port={"s1": {"binding": {"ip": "10.0.0.1", "mac": "02:00:00:00:00:01"},
"max_macs": 1, "hairpin": True, "trusted": True}})``. A switch attribute ``max_macs`` is the
default limit for its ports that face hosts (ports to other switches stay unlimited).

On a Linux bridge the checks are nftables rules (bridge family, prerouting) in the switch's
namespace, one chain per port, each drop counted by a named counter.
"""
from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, Mapping

import networkx as nx

from testbed import kinds
from testbed.topology import values as checks
from testbed.topology import graphs
from testbed.errors import Problem
from testbed.concerns.common import ends
from testbed.model.features import PortSettings

if TYPE_CHECKING:
    from testbed.model.plan import Plan

TABLE = "testbed_l2"
FAMILY = "bridge"
BOUND_SET = "bound"                       # DHCP snooping bindings: ifname . MAC . IPv4
PORT_KEYS = ("hairpin", "binding", "max_macs", "trusted")
COUNTERS = ("mac", "ip", "macs", "rogue", "unbound")
COUNTER_MEANING = {
    "mac": "source MAC is not the bound one",
    "ip": "source IP (or ARP sender) is not the bound one",
    "macs": "a new source MAC beyond max_macs",
    "rogue": "a DHCP server reply on an untrusted port",
    "unbound": "IP/ARP from a (port, MAC, IP) the DHCP server never gave",
}


def _switching(graph: nx.Graph, node: Any) -> bool:
    kind = kinds.get(graph.nodes[node].get("kind")) if node in graph.nodes else None
    return bool(kind and kind.switching)


def _binding_problems(where: str, binding: Any) -> list[Problem]:
    if not isinstance(binding, Mapping) or not binding or set(binding) - {"ip", "mac"}:
        return [Problem(where, f"binding {binding!r} must be a dict with 'ip' and/or 'mac'",
                        "e.g. binding={'ip': '10.0.0.1', 'mac': '02:00:00:00:00:01'}")]
    found = []
    if "mac" in binding and checks.mac(binding["mac"]):
        found.append(Problem(where, f"binding mac: {checks.mac(binding['mac'])}"))
    if "ip" in binding:
        ip = str(binding["ip"]).split("/")[0]
        if checks.ip_address(ip) or ipaddress.ip_address(ip).version != 4:
            found.append(Problem(where, f"binding ip {binding['ip']!r} is not an IPv4 address"))
    return found


def problems(graph: nx.Graph, ports) -> list[Problem]:
    found = []
    for link in graphs.links(graph):
        settings = link.data.get("port")
        if not isinstance(settings, Mapping):
            continue                            # the link checks report a non-dict
        for end, spec in settings.items():
            where = f"{link.label} port of {end!r}"
            if end not in (link.u, link.v):
                continue                        # reported by the link checks
            if not _switching(graph, end):
                found.append(Problem(where, f"{end!r} is not a switch, hub or bridge; port settings belong "
                                            "to the switch end", "key 'port' by the switch's name"))
                continue
            if not isinstance(spec, Mapping):
                found.append(Problem(where, f"{spec!r} is not a dict", f"known keys: {', '.join(PORT_KEYS)}"))
                continue
            for key, value in spec.items():
                if key not in PORT_KEYS:
                    found.append(Problem(where, f"unknown port setting {key!r}", f"known: {', '.join(PORT_KEYS)}"))
                elif key in ("hairpin", "trusted") and checks.boolean(value):
                    found.append(Problem(where, f"{key}: {checks.boolean(value)}"))
                elif key == "max_macs" and checks.number(1, 65535, integer=True)(value):
                    found.append(Problem(where, f"max_macs: {checks.number(1, 65535, integer=True)(value)}"))
                elif key == "binding":
                    found += _binding_problems(where, value)
    return found


def plan(graph: nx.Graph, ports) -> tuple[PortSettings, ...]:
    """Settings of every switch port that has any (explicit, or the switch's max_macs)."""
    result = []
    for node, attrs in graph.nodes(data=True):
        if not _switching(graph, node):
            continue
        default_max = attrs.get("max_macs")
        for end in ends(graph, ports, node):
            raw = end.link.data.get("port")
            spec = raw.get(node, {}) if isinstance(raw, Mapping) else {}
            to_switch = _switching(graph, end.neighbour)
            max_macs = spec.get("max_macs", None if to_switch else default_max)
            binding = spec.get("binding") or {}
            trusted = bool(spec.get("trusted", to_switch))
            settings = PortSettings(
                node=str(node), port=end.ifname, hairpin=bool(spec.get("hairpin", False)),
                mac=binding["mac"].lower() if "mac" in binding else None,
                ip=str(binding["ip"]).split("/")[0] if "ip" in binding else None,
                max_macs=max_macs, trusted=trusted)
            if settings != PortSettings(str(node), end.ifname, trusted=trusted) or attrs.get("dhcp_snooping"):
                result.append(settings)
    return tuple(result)


def ident(port: str) -> str:
    """An nft identifier for a port name (nft names allow letters, digits and '_')."""
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", port)


def needs_rules(settings: list[PortSettings], snooping: bool) -> bool:
    return snooping or any(p.mac or p.ip or p.max_macs for p in settings)


def ruleset(switch: str, settings: list[PortSettings], snooping: bool) -> str:
    """The nftables script for one switch: a chain per port with counted drops."""
    objects: list[str] = []
    dispatch: list[str] = []
    chains: list[str] = []
    if snooping:
        objects.append(f"    set {BOUND_SET} {{ type ifname . ether_addr . ipv4_addr; flags timeout; }}")
    for p in settings:
        name = ident(p.port)
        rules: list[str] = []
        if p.mac:
            rules.append(f'ether saddr != {p.mac} counter name "{name}_mac" drop')
        if p.ip:
            rules.append(f'ether type ip ip saddr != {{ {p.ip}, 0.0.0.0 }} counter name "{name}_ip" drop')
            rules.append(f'ether type arp arp saddr ip != {{ {p.ip}, 0.0.0.0 }} counter name "{name}_ip" drop')
        if snooping and not p.trusted:
            chains.append(_chain(f"{name}_snoop", [
                f'ether type ip udp sport 67 counter name "{name}_rogue" drop',
                "ether type ip udp dport 67 return",
                f"ether type ip iifname . ether saddr . ip saddr @{BOUND_SET} return",
                "ether type arp arp saddr ip 0.0.0.0 return",
                f"ether type arp iifname . ether saddr . arp saddr ip @{BOUND_SET} return",
                f'ether type {{ ip, arp }} counter name "{name}_unbound" drop',
            ]))
            rules.append(f"jump {name}_snoop")
        if p.max_macs:
            objects.append(f"    set {name}_learned {{ type ether_addr; size {p.max_macs}; flags dynamic; }}")
            rules += [f"ether saddr @{name}_learned return",
                      f"add @{name}_learned {{ ether saddr }} return",
                      f'counter name "{name}_macs" drop']
        if not rules:
            continue
        for what in COUNTERS:
            objects.append(f"    counter {name}_{what} {{ }}")
        chains.append(_chain(name, rules))
        dispatch.append(f'iifname "{p.port}" jump {name}')
    chains.insert(0, _chain("prerouting", dispatch,
                            "type filter hook prerouting priority -200; policy accept;"))
    return f"table {FAMILY} {TABLE} {{\n" + "\n".join(objects + chains) + "\n}\n"


def _chain(name: str, rules: list[str], head: str | None = None) -> str:
    lines = [f"    chain {name} {{"]
    if head:
        lines.append(f"        {head}")
    lines += [f"        {r}" for r in rules]
    lines.append("    }")
    return "\n".join(lines)


def read_counters(raw: Mapping[str, Mapping[str, int]], settings: list[PortSettings]) -> dict[str, dict[str, int]]:
    """port -> {counter: packets dropped} from nft's named counters."""
    result: dict[str, dict[str, int]] = {}
    for p in settings:
        name = ident(p.port)
        values = {what: raw[f"{name}_{what}"]["packets"] for what in COUNTERS if f"{name}_{what}" in raw}
        if values:
            result[p.port] = values
    return result


def reach_effects(plan: "Plan") -> tuple[set[tuple[str, str]], set[str]]:
    """What port security does to the expected reachability, from the plan alone.

    Returns the (node, ifname) interfaces whose frames a port drops whatever they do (a
    MAC or IP other than the port's binding; a static address behind an untrusted port of
    a DHCP-snooping switch), and the nodes whose fate depends on traffic order (more MACs
    behind a port than its max_macs: the first ones heard win).
    """
    blocked: set[tuple[str, str]] = set()
    uncertain: set[str] = set()
    features = plan.features
    dhcp = {(c.node, c.interface) for c in features.dhcp_clients}
    ends = {end: link.other(end[0]) for link in plan.links for end in (link.a, link.b)}
    for p in features.ports:
        peer = ends.get((p.node, p.port))
        if peer is None or plan.node(peer[0]).role != "l3" or plan.node(peer[0]).interface(peer[1]).master:
            continue                                   # a switch or an in-node bridge: MACs unknown
        behind = [(peer[0], plan.node(peer[0]).interface(peer[1]))]
        behind += [(n.name, i) for n in plan.nodes for i in n.interfaces if i.parent == peer]
        allowed = []
        for node, intf in behind:
            ips = {a.split("/")[0] for a in intf.addresses}
            if (p.mac and intf.mac.lower() != p.mac) or (p.ip and ips and p.ip not in ips) or \
                    (p.node in features.snooping and not p.trusted and (node, intf.name) not in dhcp):
                blocked.add((node, intf.name))
            else:
                allowed.append(node)
        if p.max_macs and len(allowed) > p.max_macs:
            uncertain.update(allowed)
    return blocked, uncertain
