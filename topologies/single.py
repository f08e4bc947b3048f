"""n hosts h1..hn on one switching device s1 (Mininet's ``--topo single,n``)."""
import networkx as nx


def topology(n: int = 3, kind: str = "switch") -> nx.Graph:
    if n < 1:
        raise ValueError("n must be at least 1")
    g = nx.Graph()
    g.add_node("s1", kind=kind)
    for i in range(1, n + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1")
    return g
