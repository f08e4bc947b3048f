"""A tree of switches of the given depth and fanout with hosts at the leaves (``--topo tree``).

Numbered like Mininet: switches s1.. depth-first from the root, hosts h1.. left to right.
"""
import networkx as nx


def topology(depth: int = 2, fanout: int = 2, kind: str = "switch") -> nx.Graph:
    if depth < 1 or fanout < 1:
        raise ValueError("depth and fanout must be at least 1")
    g = nx.Graph()
    counters = {"s": 0, "h": 0}

    def add(level: int) -> str:
        if level == 0:
            counters["h"] += 1
            name = f"h{counters['h']}"
            g.add_node(name, kind="host")
            return name
        counters["s"] += 1
        name = f"s{counters['s']}"
        g.add_node(name, kind=kind)
        for _ in range(fanout):
            g.add_edge(name, add(level - 1))
        return name

    add(depth)
    return g
