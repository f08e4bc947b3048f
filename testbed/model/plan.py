"""The Plan: a frozen, deterministic description of every kernel object of a network.

A Plan does not depend on the run (no run id, no namespace paths): the same topology and
parameters always give the same Plan, byte for byte in JSON. The deployer maps node names
to the run's namespaces.

The core records (nodes, their interfaces and routes, links, segments) say what every
network has. What a concern (shaping, VLANs, port security, DHCP, NAT...) or a switch
backend (Open vSwitch) adds lives beside them, in ``concerns`` and ``backends``: each a
name and the plug-in's own frozen records, keyed by node and interface inside them.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator


@dataclass(frozen=True)
class BridgeOptions:
    stp: bool = False
    ageing: float = 300.0          # seconds; 0 = never learn (hub)
    forward_delay: float | None = None
    priority: int | None = None
    vlan_filtering: bool = False   # 802.1Q VLAN-aware (the Linux backend's VLANs)


@dataclass(frozen=True)
class Interface:
    name: str
    kind: str                              # "veth", "bridge", "ovs", "dummy" (or "ifb"), "macvlan"
    mac: str
    addresses: tuple[str, ...] = ()        # CIDRs
    master: str | None = None              # the bridge (in the same node) this is a port of
    peer: tuple[str, str] | None = None    # (node, ifname) of a veth's other end
    link: int | None = None                # index of the Link it belongs to
    bridge: BridgeOptions | None = None    # for kind "bridge"
    parent: tuple[str, str] | None = None  # for kind "macvlan": (node, ifname) of its lower device
    mode: str | None = None                # for kind "macvlan": bridge, vepa, private or passthru


@dataclass(frozen=True)
class Route:
    dst: str                               # "default" or a network
    via: str


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    role: str                              # "l3" or "l2"
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()   # the kind's own planned settings (kinds' plan hook)

    def interface(self, name: str) -> Interface:
        for intf in self.interfaces:
            if intf.name == name:
                return intf
        raise KeyError(f"node {self.name!r} has no interface {name!r}")

    @property
    def addresses(self) -> list[str]:
        return [a for intf in self.interfaces for a in intf.addresses]


@dataclass(frozen=True)
class Link:
    index: int
    a: tuple[str, str]                     # (node, ifname)
    b: tuple[str, str]
    settings: tuple[tuple[str, Any], ...] = ()

    def other(self, node: str) -> tuple[str, str]:
        return self.b if self.a[0] == node else self.a


@dataclass(frozen=True)
class Segment:
    index: int
    network: str | None                    # the subnet of its L3 interfaces, if any
    interfaces: tuple[tuple[str, str], ...]
    switches: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    source: str
    params: tuple[tuple[str, Any], ...]
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    segments: tuple[Segment, ...]
    hosts: tuple[tuple[str, str], ...]     # (name, ip) for name resolution
    arp: str = "dynamic"                   # "static": permanent neighbour entries on every LAN
    concerns: tuple[tuple[str, Any], ...] = ()   # (concern name, its records), registry order
    backends: tuple[tuple[str, Any], ...] = ()   # (switch backend name, its records)

    @cached_property
    def _index(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no node {name!r}; nodes: {', '.join(self._index)}") from None

    def has(self, name: str) -> bool:
        return name in self._index

    def nodes_of(self, *roles_or_kinds: str) -> Iterator[Node]:
        for n in self.nodes:
            if n.role in roles_or_kinds or n.kind in roles_or_kinds:
                yield n

    def concern(self, name: str, default: Any = None) -> Any:
        """The records a concern planned (``default`` when it planned none)."""
        return dict(self.concerns).get(name, default)

    def backend(self, name: str, default: Any = None) -> Any:
        """The records a switch backend planned (``default`` when it has no switches here)."""
        return dict(self.backends).get(name, default)

    @cached_property
    def ends(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(node, ifname) -> (node, ifname) at the other end of its link."""
        return {end: link.other(end[0]) for link in self.links for end in (link.a, link.b)}

    def to_dict(self) -> dict:
        data = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in ("concerns", "backends")}
        for node in data["nodes"]:
            if not node["settings"]:
                del node["settings"]
            for intf in node["interfaces"]:
                if intf.get("bridge") and not intf["bridge"].get("vlan_filtering"):
                    intf["bridge"].pop("vlan_filtering", None)
        data["concerns"] = {name: _plain(records) for name, records in self.concerns}
        data["backends"] = {name: _plain(records) for name, records in self.backends}
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=str)


def _plain(value: Any) -> Any:
    """Records as JSON-ready data: dataclasses as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
