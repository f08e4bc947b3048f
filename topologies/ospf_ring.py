"""A ring of OSPF routers, each with a LAN of its own: traffic survives a failed link.

Routers r1..r<n> in a ring (r1--r2--...--r<n>--r1), all in OSPF area 0, each with
``hosts`` hosts on a LAN behind it (h<router>_<i> on switch s<router>, or one host h<router>
linked directly when hosts=1). Ring links use OSPF hello/dead timers ``hello``/``dead``
(seconds) and ``cost``; ``bfd=True`` runs BFD on them. Taking a ring link down reroutes
around the other side of the ring once OSPF notices (link down: at once; a silent failure:
after the dead interval, or BFD's detection time).
"""
import networkx as nx


def topology(n: int = 6, hosts: int = 1, hello: int = 1, dead: int = 4, cost: int = 10,
             bfd: bool = False) -> nx.Graph:
    if n < 3:
        raise ValueError("a ring needs at least 3 routers")
    if hosts < 0:
        raise ValueError("hosts must be at least 0")
    g = nx.Graph()
    for r in range(1, n + 1):
        g.add_node(f"r{r}", kind="router", routing={"ospf": {"area": 0}})
    for r in range(1, n + 1):
        link = {"ospf": {"hello": hello, "dead": dead, "cost": cost}}
        if bfd:
            link["bfd"] = True
        g.add_edge(f"r{r}", f"r{r % n + 1}", **link)
    for r in range(1, n + 1):
        if hosts == 1:
            g.add_node(f"h{r}", kind="host")
            g.add_edge(f"h{r}", f"r{r}")
        elif hosts > 1:
            g.add_node(f"s{r}", kind="switch")
            g.add_edge(f"r{r}", f"s{r}")
            for i in range(1, hosts + 1):
                g.add_node(f"h{r}_{i}", kind="host")
                g.add_edge(f"h{r}_{i}", f"s{r}")
    return g
