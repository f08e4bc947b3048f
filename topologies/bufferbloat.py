"""The bufferbloat setup: h1 -- r1 -- h2, a slow bottleneck from the router to h2.

h1 (sender, web server) reaches h2 (receiver, web client) through router r1. The router's
link to h2 is the bottleneck: ``bw`` Mbit/s from r1 to h2 with a tail-drop queue of
``queue`` packets at r1 (where the bloat builds); the other direction and h1's link are
not rate-limited. ``delay`` (one way, each direction of h1's link) adds propagation delay
where the kernel has netem: "10ms" gives the 20 ms round trip of the CS244 setup.
"""
import networkx as nx


def topology(bw: float = 1.5, queue: int = 100, delay: str = "") -> nx.Graph:
    if queue < 1:
        raise ValueError("queue must be at least one packet")
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("r1", kind="router")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "r1", **({"delay": delay} if delay else {}))
    g.add_edge("r1", "h2", bw={"r1": bw}, queue={"r1": queue})
    return g
