"""The Plan: a frozen, deterministic description of every kernel object of a network.

A Plan does not depend on the run (no run id, no namespace paths): the same topology and
parameters always give the same Plan, byte for byte in JSON. The deployer maps node names
to the run's namespaces.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator

from testbed.concerns.shaping import Qdisc
from testbed.model.features import Features


@dataclass(frozen=True)
class BridgeOptions:
    stp: bool = False
    ageing: float = 300.0          # seconds; 0 = never learn (hub)
    forward_delay: float | None = None
    priority: int | None = None
    vlan_filtering: bool = False   # 802.1Q VLAN-aware (its ports' vlan/trunk: testbed/bridge_vlans.py)


@dataclass(frozen=True)
class OvsOptions:
    """An Open vSwitch bridge's settings (see testbed/kernel/ovs.py and testbed/openflow.py)."""
    fail_mode: str = "standalone"          # "standalone" (learning switch) or "secure"
    controller: str | None = None          # an OpenFlow controller target, e.g. "tcp:10.0.0.9:6653"
    datapath: str = "auto"                 # "auto", "netdev" (userspace) or "system" (kernel)
    hub: bool = False                      # flood every frame (one FLOOD flow)
    mac_vlans: tuple[tuple[str, int], ...] = ()   # MAC -> VLAN, as OpenFlow rules
    stp: bool = False
    ageing: float | None = None            # seconds a learned MAC is kept


@dataclass(frozen=True)
class Interface:
    name: str
    kind: str                              # "veth", "bridge", "ovs", "dummy" or "macvlan"
    mac: str
    addresses: tuple[str, ...] = ()        # CIDRs
    master: str | None = None              # the bridge (in the same node) this is a port of
    peer: tuple[str, str] | None = None    # (node, ifname) of a veth's other end
    link: int | None = None                # index of the Link it belongs to
    bridge: BridgeOptions | None = None    # for kind "bridge"
    qdiscs: tuple[Qdisc, ...] = ()         # egress shaping, in creation order (see shaping.py)
    ingress_loss: float | None = None      # percent dropped on arrival by nftables (no netem)
    parent: tuple[str, str] | None = None  # for kind "macvlan": (node, ifname) of its lower device
    mode: str | None = None                # for kind "macvlan": bridge, vepa, private or passthru
    ovs: OvsOptions | None = None          # for kind "ovs"
    vlan: int | None = None                # an access port's VLAN (OVS or VLAN-filtering bridge)
    trunk: tuple[int, ...] | None = None   # a trunk port's VLANs (OVS or VLAN-filtering bridge)
    ofport: int | None = None              # an OVS port's OpenFlow port number


_OPTIONAL_INTERFACE_FIELDS = ("ovs", "vlan", "trunk", "ofport")


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
    features: Features = Features()        # port security, NAT, DHCP

    @cached_property
    def _index(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no node {name!r}; nodes: {', '.join(self._index)}") from None

    def nodes_of(self, *roles_or_kinds: str) -> Iterator[Node]:
        for n in self.nodes:
            if n.role in roles_or_kinds or n.kind in roles_or_kinds:
                yield n

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        for node in data["nodes"]:                # unshaped interfaces show no shaping fields
            for intf in node["interfaces"]:
                if not intf["qdiscs"] and intf["ingress_loss"] is None:
                    del intf["qdiscs"], intf["ingress_loss"]
        for node in data["nodes"]:            # OVS fields only where used: plans without OVS keep their JSON
            for intf in node["interfaces"]:
                for key in _OPTIONAL_INTERFACE_FIELDS:
                    if intf.get(key) is None:
                        intf.pop(key, None)
                if intf.get("bridge") and not intf["bridge"].get("vlan_filtering"):
                    intf["bridge"].pop("vlan_filtering", None)
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=str)
