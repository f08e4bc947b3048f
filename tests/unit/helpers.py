"""Small graph builders for the unit tests."""
from __future__ import annotations

import networkx as nx

from testbed import validate


def hosts_on(kind: str = "switch", n: int = 2, **switch_attrs) -> nx.Graph:
    """n hosts h1..hn on one switching node s1."""
    g = nx.Graph()
    g.add_node("s1", kind=kind, **switch_attrs)
    for i in range(1, n + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1")
    return g


def pair(**h1_attrs) -> nx.Graph:
    """Two hosts on one direct link; h1 gets the given attributes."""
    g = nx.Graph()
    g.add_node("h1", kind="host", **h1_attrs)
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2")
    return g


def messages(graph) -> list[str]:
    """Every problem of ``graph`` as text."""
    return [str(p) for p in validate(graph)]


def one_message(graph) -> str:
    found = messages(graph)
    assert len(found) == 1, found
    return found[0]
