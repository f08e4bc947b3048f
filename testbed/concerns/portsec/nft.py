"""Port security on a Linux bridge: nftables rules in the switch's namespace.

Bridge family, prerouting: one chain per port, each drop counted by a named counter
(``net.port_security_counters(switch)`` reads them). DHCP snooping adds a set of
(port, MAC, IPv4) bindings, filled by the snooper (testbed/concerns/dhcp/snoop.py).
"""
from __future__ import annotations

import re
from typing import Mapping

from testbed.concerns.portsec.records import PortSettings

TABLE = "testbed_l2"
FAMILY = "bridge"
BOUND_SET = "bound"                       # DHCP snooping bindings: ifname . MAC . IPv4
COUNTERS = ("mac", "ip", "macs", "rogue", "unbound")
COUNTER_MEANING = {
    "mac": "source MAC is not the bound one",
    "ip": "source IP (or ARP sender) is not the bound one",
    "macs": "a new source MAC beyond max_macs",
    "rogue": "a DHCP server reply on an untrusted port",
    "unbound": "IP/ARP from a (port, MAC, IP) the DHCP server never gave",
}


def ident(port: str) -> str:
    """An nft identifier for a port name (nft names allow letters, digits and '_')."""
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", port)


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
