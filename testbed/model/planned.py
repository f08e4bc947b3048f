"""What the core planning found, handed to each concern's and backend's ``plan`` hook."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Mapping

from testbed.model.plan import Link, Node, Segment
from testbed.model.topology import Topology


@dataclass
class Planned:
    topo: Topology
    macs: Mapping[tuple[str, str], str]           # (node, ifname) -> MAC
    addresses: Mapping[tuple[str, str], str]      # (node, ifname) -> CIDR (static ones)
    segments: tuple[Segment, ...]
    nodes: tuple[Node, ...]                       # the core records, routes included
    links: tuple[Link, ...]
    features: frozenset | None = None             # what the kernel can do (None: everything)
    problems: list = field(default_factory=list)  # a plan hook appends testbed.errors.Problem here
    concerns: dict = field(default_factory=dict)  # concern name -> its records, as they are planned

    def concern(self, name: str, default: Any = None) -> Any:
        return self.concerns.get(name, default)

    def segment_of(self, member: tuple[str, str]) -> Segment | None:
        return self._segment_of.get(member)

    def __post_init__(self) -> None:
        self._segment_of = {m: s for s in self.segments for m in s.interfaces}
        self._nodes = {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        return self._nodes[name]

    def address_on(self, node: str, network: Any) -> str | None:
        """``node``'s address (without prefix) on ``network`` (an ip_network), if it has one."""
        for (owner, _), cidr in self.addresses.items():
            if owner == node and ipaddress.ip_interface(cidr).network == network:
                return cidr.split("/")[0]
        return None
