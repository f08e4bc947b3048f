"""Small graph readers shared by the feature modules."""
from __future__ import annotations

from typing import Any, NamedTuple

import networkx as nx

from testbed.topology import graphs


class End(NamedTuple):
    """One link end at ``node``: its interface, the neighbour and the neighbour's interface."""
    ifname: str
    neighbour: str
    peer_ifname: str
    link: graphs.LinkRef


def ends(graph: nx.Graph, ports, node: Any) -> list[End]:
    """Every link end at ``node``, in link order."""
    by_id = {graphs.link_id(l.u, l.v, l.key): l for l in graphs.links(graph)}
    result = []
    for nbr, key in graphs.incident(graph, node):
        lid = graphs.link_id(node, nbr, key)
        result.append(End(ports[lid][node], str(nbr), ports[lid][nbr], by_id[lid]))
    return result


def kind_of(graph: nx.Graph, node: Any) -> str | None:
    return graph.nodes[node].get("kind") if node in graph.nodes else None
