"""k switches in a chain s1..sk, each with n hosts (Mininet's ``--topo linear,k,n``).

Hosts are named h1..h(k*n) when n == 1, as Mininet does, else h<host>s<switch>.
"""
import networkx as nx


def topology(k: int = 4, n: int = 1, kind: str = "switch") -> nx.Graph:
    if k < 1 or n < 1:
        raise ValueError("k and n must be at least 1")
    g = nx.Graph()
    for s in range(1, k + 1):
        g.add_node(f"s{s}", kind=kind)
    for s in range(1, k + 1):
        for h in range(1, n + 1):
            name = f"h{s}" if n == 1 else f"h{h}s{s}"
            g.add_node(name, kind="host")
            g.add_edge(name, f"s{s}")
        if s > 1:
            g.add_edge(f"s{s - 1}", f"s{s}")
    return g
