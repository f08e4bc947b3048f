"""The Kind record: what the pipeline asks a node kind (see testbed/kinds/__init__.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from testbed.model.schema import Attr

# Attributes any node may carry for the user's own purposes (drawing, notes).
FREE_ATTRS = ("label", "pos", "meta")


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    attrs: Mapping[str, Attr]             # the kind's own attributes (backends and concerns add theirs)
    switching: bool = False               # joins its links into one LAN (hub, bridge, switch)
    port_base: int = 0                    # first N in "<node>-eth<N>" (Mininet: hosts 0, switches 1)
    forwards: bool = False                # IP forwarding on: routes packets between its interfaces
    gateway: bool = False                 # hosts on its LANs get their default route through it
    static_routes: bool = False           # gets static routes to every subnet, computed from the graph
    endpoint: bool = False                # a host: pingall, iperf and `net.hosts` count it
    masquerades: bool = False             # NATs its LANs towards an outside link (the nat concern)
    learns: bool = True                   # switching: learns MACs (False: floods every frame)
    backends: tuple[str, ...] = ()        # switching: the switch backends it can be built with
    takes_switch_option: bool = False     # switching: built by the run's --switch when it names no backend
    # Hooks (all optional):
    bridge_options: Callable[[Mapping[str, Any]], dict] | None = None  # switching: bridge settings from attrs
    plan: Callable[[Any], tuple[tuple[str, Any], ...]] | None = None   # NodeSpec -> the node's settings
    start: Callable[[Any, Mapping[str, Any]], None] | None = None      # (node handle, settings) once up
    gateway_ifnames: Callable[[Any], frozenset[str]] | None = None     # NodeSpec -> where it is a gateway
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        """"l2" for switching kinds, "l3" for kinds that own addresses."""
        return "l2" if self.switching else "l3"
