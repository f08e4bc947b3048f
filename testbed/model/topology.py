"""The resolved topology: a graph read once into typed, immutable records.

``testbed.topology.resolve`` makes a :class:`Topology` from a networkx graph in one pass:
every node with its kind, every link with both ends and their interface names, every
in-node device, every attribute parsed into its value. Checks, planning and every concern
read this model; none of them reads networkx attributes again.

Names: a node is identified by its name (a string), an interface by (node, ifname).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class End:
    """One end of a link: the node, its interface, the link, and what is at the other end."""

    node: str
    ifname: str
    link: int                 # index of the link in Topology.links
    peer: str                 # the node at the other end
    peer_ifname: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.ifname)


@dataclass(frozen=True)
class LinkSpec:
    index: int
    u: str
    v: str
    key: Any                                   # the MultiGraph key (0 in a Graph)
    ends: tuple[End, End]                      # the u end, then the v end
    attrs: Mapping[str, Any]                   # shared settings, parsed
    per_end: Mapping[str, Mapping[str, Any]]   # node -> {attribute: parsed value} (intf, ip, mac, port...)
    raw: Mapping[str, Any]                     # the attributes as written (echoed in the plan)

    @property
    def label(self) -> str:
        suffix = f" (key {self.key!r})" if self.key not in (0, None) else ""
        return f"link {self.u}--{self.v}{suffix}"

    def end(self, node: str) -> End:
        return self.ends[0] if self.ends[0].node == node else self.ends[1]

    def other(self, node: str) -> End:
        return self.ends[1] if self.ends[0].node == node else self.ends[0]

    def at(self, node: str, attr: str, default: Any = None) -> Any:
        """The per-end value of ``attr`` for ``node``."""
        return self.per_end.get(node, {}).get(attr, default)

    def get(self, attr: str, default: Any = None) -> Any:
        return self.attrs.get(attr, default)


@dataclass(frozen=True)
class Device:
    """An in-node device: a bridge joining some of the node's interfaces, a dummy, a macvlan."""

    node: str
    name: str
    kind: str                                  # "bridge", "dummy" or "macvlan"
    ip: str | None = None
    mac: str | None = None
    ports: tuple[str, ...] = ()                # bridge: the node's interfaces it joins
    stp: bool = False
    parent: tuple[str, str] | None = None      # macvlan: (node, ifname) of its lower device
    parent_text: str | None = None             # macvlan: the parent as written
    mode: str = "bridge"                       # macvlan mode


@dataclass(frozen=True)
class NodeSpec:
    name: str
    kind: Any                                  # the testbed.kinds.Kind object
    index: int                                 # position in graph order
    attrs: Mapping[str, Any]                   # parsed attributes (kind, backend and concern ones)
    ends: tuple[End, ...] = ()                 # its link ends, in the order its links were added
    devices: tuple[Device, ...] = ()
    backend: str | None = None                 # switching nodes: "linux" or "ovs"

    def get(self, attr: str, default: Any = None) -> Any:
        return self.attrs.get(attr, default)

    @property
    def switching(self) -> bool:
        return bool(self.kind.switching)

    @property
    def first(self) -> End | None:
        """The end of its first link: where a node's own 'ip' and 'mac' go."""
        return self.ends[0] if self.ends else None

    def device(self, name: str) -> Device | None:
        return next((d for d in self.devices if d.name == name), None)

    @property
    def ifnames(self) -> list[str]:
        """Every interface of the node: its bridge device (switching), link ends, devices."""
        names = [self.name] if self.switching else []
        return names + [e.ifname for e in self.ends] + [d.name for d in self.devices]


@dataclass(frozen=True)
class Topology:
    nodes: tuple[NodeSpec, ...]
    links: tuple[LinkSpec, ...]
    multigraph: bool = False
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({n.name: n for n in self.nodes})

    def node(self, name: str) -> NodeSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(self.nodes)

    @cached_property
    def ends(self) -> dict[tuple[str, str], End]:
        """(node, ifname) -> End, for every link end."""
        return {e.key: e for link in self.links for e in link.ends}

    def link_of(self, end: End) -> LinkSpec:
        return self.links[end.link]

    def switching(self) -> list[NodeSpec]:
        return [n for n in self.nodes if n.switching]

    def of_backend(self, backend: str) -> list[NodeSpec]:
        return [n for n in self.nodes if n.switching and n.backend == backend]
