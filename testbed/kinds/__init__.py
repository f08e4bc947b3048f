"""Node kinds behind a registry: one small module per kind.

A kind says which attributes a node of that kind accepts (with their checkers), whether
it is an end system with addresses (role "l3") or a switching device (role "l2"), and
what kernel settings it needs. New kinds (nat, OVS switches) register here too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from testbed.topology.values import Checker

# Attributes any node may carry for the user's own purposes (drawing, notes).
FREE_ATTRS = ("label", "pos", "meta")


@dataclass(frozen=True)
class Kind:
    name: str
    role: str                       # "l3": has addresses and routes; "l2": switches frames
    description: str
    attrs: Mapping[str, Checker]
    port_base: int = 0              # first N in "<node>-eth<N>" (Mininet: hosts 0, switches 1)
    forwards: bool = False          # routes packets between its interfaces
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # For "l2" kinds: the Linux bridge options for a node's attributes.
    bridge_options: Callable[[Mapping[str, Any]], dict] | None = None

    @property
    def switching(self) -> bool:
        return self.role == "l2"


REGISTRY: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    REGISTRY[kind.name] = kind
    return kind


def get(name: str) -> Kind | None:
    return REGISTRY.get(name)


def names() -> list[str]:
    return sorted(REGISTRY)


from testbed.kinds import host, nat, router, switching# noqa: E402,F401  (register the kinds)
