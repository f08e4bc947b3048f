"""Reading the graph conventions: links as uniform records, per-end attributes, port names.

A topology is a networkx Graph or MultiGraph. A link's per-end settings are dicts keyed by
node name (``intf={"A": "nic1", "B": "eth0"}``, ``ip={"B": "10.0.0.2/24"}``) because an
undirected edge has no first and second end.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import networkx as nx

from testbed import kinds

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


def incident(graph: nx.Graph, node: Any) -> Iterator[tuple[Any, Any]]:
    """(neighbour, key) of every link at ``node``, in the order its links were added."""
    for nbr, val in graph.adj[node].items():
        if nbr == node:
            continue
        if graph.is_multigraph():
            for key in val:
                yield nbr, key
        else:
            yield nbr, 0


def link_id(u: Any, v: Any, key: Any) -> tuple:
    """A key for a link that does not depend on which end is named first."""
    a, b = sorted((str(u), str(v)))
    return (a, b, str(key))


def port_names(graph: nx.Graph) -> dict[tuple, dict[Any, str]]:
    """The interface name of each end of each link: link_id -> {node: ifname}.

    Names the user gave (``intf``) are kept; others are ``<node>-eth<N>`` where N counts the
    node's links in order from the kind's port base (Mininet: hosts from 0, switches from 1).
    """
    data_of = {link_id(l.u, l.v, l.key): l for l in links(graph)}
    names: dict[tuple, dict[Any, str]] = {lid: {} for lid in data_of}
    for node in graph.nodes:
        kind = kinds.get(graph.nodes[node].get("kind"))
        base = kind.port_base if kind else 0
        for position, (nbr, key) in enumerate(incident(graph, node)):
            lid = link_id(node, nbr, key)
            given = data_of[lid].end("intf", node)
            names[lid][node] = given if isinstance(given, str) else f"{node}-eth{base + position}"
    return names
