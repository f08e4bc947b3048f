"""Reading a raw graph, for code that shows or converts graphs (drawings, Mininet imports).

The pipeline reads a graph once, through testbed.topology.resolve; these helpers give
drawings and converters uniform link records and the interface names the resolver gives.
A link's per-end settings are dicts keyed by node name (``intf={"A": "nic1"}``) because
an undirected edge has no first and second end.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import networkx as nx

from testbed.topology.resolve import resolve


PER_END_ATTRS = ("intf", "ip", "mac", "port")


@dataclass(frozen=True)
class LinkRef:
    """One edge of the graph: its two nodes, its key (0 in a simple Graph) and its data."""

    u: Any
    v: Any
    key: Any
    data: Mapping[str, Any]

    @property
    def label(self) -> str:
        suffix = f" (key {self.key!r})" if self.key not in (0, None) else ""
        return f"link {self.u}--{self.v}{suffix}"

    def end(self, attr: str, node: Any) -> Any:
        """The per-end value of ``attr`` for ``node`` (None when not given)."""
        value = self.data.get(attr)
        if isinstance(value, Mapping):
            return value.get(node)
        return None


def links(graph: nx.Graph) -> Iterator[LinkRef]:
    """Every edge once, in the graph's deterministic edge order."""
    if graph.is_multigraph():
        for u, v, key, data in graph.edges(keys=True, data=True):
            yield LinkRef(u, v, key, data)
    else:
        for u, v, data in graph.edges(data=True):
            yield LinkRef(u, v, 0, data)


def link_id(u: Any, v: Any, key: Any) -> tuple:
    """A key for a link that does not depend on which end is named first."""
    a, b = sorted((str(u), str(v)))
    return (a, b, str(key))


def port_names(graph: nx.Graph) -> dict[tuple, dict[Any, str]]:
    """The interface name of each end of each link: link_id -> {node: ifname}, as the
    resolver names them (given ``intf`` names kept, others ``<node>-eth<N>``)."""
    resolution = resolve(graph)
    names: dict[tuple, dict[Any, str]] = {}
    if resolution.topo is not None:
        for link in resolution.topo.links:
            names[link_id(link.u, link.v, link.key)] = {e.node: e.ifname for e in link.ends}
    return names
