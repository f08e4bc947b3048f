"""Two LANs joined by a chain of routers; every route is derived from the graph.

LAN 1 (h1..hn on s1) -- r1 -- ... -- r<routers> -- LAN 2 (h(n+1)..h(2n) on s2).
Hosts get a default route via the router on their LAN; each router gets static routes
to the subnets it is not attached to.
"""
import networkx as nx


def topology(routers: int = 2, hosts_per_lan: int = 2) -> nx.Graph:
    if routers < 1 or hosts_per_lan < 1:
        raise ValueError("routers and hosts_per_lan must be at least 1")
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="switch")
    for r in range(1, routers + 1):
        g.add_node(f"r{r}", kind="router")
    for i in range(1, 2 * hosts_per_lan + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1" if i <= hosts_per_lan else "s2")
    g.add_edge("r1", "s1")
    for r in range(1, routers):
        g.add_edge(f"r{r}", f"r{r + 1}")
    g.add_edge(f"r{routers}", "s2")
    return g
