"""A k-ary fat tree of learning switches (Al-Fares et al. 2008), with STP against its loops.

k pods, each with k/2 edge and k/2 aggregation switches; (k/2)^2 core switches; k/2 hosts
per edge switch, so k^3/4 hosts (16 for k=4). Aggregation switch i of every pod links to
core switches i*k/2 .. i*k/2 + k/2 - 1. Names: c<i> (core), a<pod><i> (aggregation),
e<pod><i> (edge), h<n> (hosts, left to right). Plain L2 switches: the loops are broken by
STP, so this draws the classic picture and builds, but it does not spread traffic over
the paths (that needs routing).
"""
import networkx as nx


def topology(k: int = 4, stp: bool = True) -> nx.Graph:
    if k < 2 or k % 2:
        raise ValueError("k must be an even number of at least 2 (pods and ports per switch)")
    half = k // 2
    g = nx.Graph()
    cores = [f"c{i + 1}" for i in range(half * half)]
    for core in cores:
        g.add_node(core, kind="switch", stp=stp)
    host = 0
    for pod in range(1, k + 1):
        aggs = [f"a{pod}{i + 1}" for i in range(half)]
        edges = [f"e{pod}{i + 1}" for i in range(half)]
        for name in aggs + edges:
            g.add_node(name, kind="switch", stp=stp)
        for i, agg in enumerate(aggs):
            for j in range(half):
                g.add_edge(agg, cores[i * half + j])
            for edge in edges:
                g.add_edge(agg, edge)
        for edge in edges:
            for _ in range(half):
                host += 1
                g.add_node(f"h{host}", kind="host")
                g.add_edge(edge, f"h{host}")
    return g
