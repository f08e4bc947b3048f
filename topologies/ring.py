"""k switches in a ring, one host each: an L2 loop that needs STP (refused with stp=False)."""
import networkx as nx


def topology(k: int = 3, stp: bool = True) -> nx.Graph:
    if k < 3:
        raise ValueError("a ring needs at least 3 switches")
    g = nx.Graph()
    for s in range(1, k + 1):
        g.add_node(f"s{s}", kind="switch", stp=stp)
        g.add_node(f"h{s}", kind="host")
        g.add_edge(f"h{s}", f"s{s}")
    for s in range(1, k + 1):
        g.add_edge(f"s{s}", f"s{s % k + 1}")
    return g
