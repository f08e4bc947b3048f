"""n hosts h1..hn on one switching device s1 (Mininet's ``--topo single,n``).

kind: hub, bridge or switch; backend: "linux" (a Linux bridge) or "ovs" (Open vSwitch,
for a hub or a switch); empty means the default (Linux, or the run's --switch).
"""
import networkx as nx


def topology(n: int = 3, kind: str = "switch", backend: str = "") -> nx.Graph:
    if n < 1:
        raise ValueError("n must be at least 1")
    g = nx.Graph()
    g.add_node("s1", kind=kind, **({"backend": backend} if backend else {}))
    for i in range(1, n + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1")
    return g
