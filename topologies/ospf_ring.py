"""A ring of OSPF routers, each with a LAN of its own: traffic survives a failed link.

Routers r1..r<n> in a ring (r1--r2--...--r<n>--r1), all in OSPF area 0, each with
``hosts`` hosts on a LAN behind it (h<router>_<i> on switch s<router>, or one host h<router>
linked directly when hosts=1). Ring links use OSPF hello/dead timers ``hello``/``dead``
(seconds) and ``cost``; ``bfd=True`` runs BFD on them. Taking a ring link down reroutes
around the other side of the ring once OSPF notices (link down: at once; a silent failure:
after the dead interval, or BFD's detection time).

``ipv6=True`` numbers every link from 2001:db8::/48 instead (one /64 per link or LAN, IPv6
on in every node): the routers run OSPFv3 (ospf6d) with the same timers, costs and BFD.
"""
import networkx as nx


def topology(n: int = 6, hosts: int = 1, hello: int = 1, dead: int = 4, cost: int = 10,
             bfd: bool = False, ipv6: bool = False) -> nx.Graph:
    if n < 3:
        raise ValueError("a ring needs at least 3 routers")
    if hosts < 0:
        raise ValueError("hosts must be at least 0")
    v6 = {"ipv6": True, "ip": None} if ipv6 else {}     # IPv6 only: no IPv4 anywhere

    def ip(subnet: int, **ends: int) -> dict:           # IPv6 addresses of a link's ends
        return {"ip6": {node: f"2001:db8:0:{subnet:x}::{i}/64" for node, i in ends.items()}} if ipv6 else {}

    def host(r: int) -> dict:                           # (the default route: via the router on its LAN)
        return dict(v6)
    g = nx.Graph()
    for r in range(1, n + 1):
        g.add_node(f"r{r}", kind="router", routing={"ospf": {"area": 0}}, **v6)
    for r in range(1, n + 1):
        link = {"ospf": {"hello": hello, "dead": dead, "cost": cost}}
        if bfd:
            link["bfd"] = True
        g.add_edge(f"r{r}", f"r{r % n + 1}", **link, **ip(r, **{f"r{r}": 1, f"r{r % n + 1}": 2}))
    for r in range(1, n + 1):
        lan = 0x100 + r
        if hosts == 1:
            g.add_node(f"h{r}", kind="host", **host(r))
            g.add_edge(f"h{r}", f"r{r}", **ip(lan, **{f"r{r}": 1, f"h{r}": 2}))
        elif hosts > 1:
            g.add_node(f"s{r}", kind="switch")
            g.add_edge(f"r{r}", f"s{r}", **ip(lan, **{f"r{r}": 1}))
            for i in range(1, hosts + 1):
                g.add_node(f"h{r}_{i}", kind="host", **host(r))
                g.add_edge(f"h{r}_{i}", f"s{r}", **ip(lan, **{f"h{r}_{i}": i + 1}))
    return g
