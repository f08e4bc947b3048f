"""Dual stack: two LANs joined by a router, every node with IPv4 and IPv6 addresses.

LAN 1 (h1..hn on s1) -- r1 -- LAN 2 (h(n+1)..h(2n) on s2). Each LAN gets an IPv4 subnet
(10.0.0.0/24, 10.0.1.0/24) and an IPv6 /64 (2001:db8::/64, 2001:db8:0:1::/64); r1 forwards
both families and is every host's default gateway in each. ``v6only=True`` leaves IPv4 out
(ip=None on every node): an IPv6-only network. ``slaac=True`` makes it a SLAAC network: r1
sends router advertisements (ra=True) and the hosts take their IPv6 addresses and IPv6 default
route from them (ip6="slaac"; the plan shows the addresses they will form).
"""
import networkx as nx


def topology(hosts_per_lan: int = 2, v6only: bool = False, slaac: bool = False) -> nx.Graph:
    if hosts_per_lan < 1:
        raise ValueError("hosts_per_lan must be at least 1")
    g = nx.Graph(ipv6=True)
    l3 = {"ip": None} if v6only else {}
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="switch")
    g.add_node("r1", kind="router", **l3, **({"ra": True} if slaac else {}))
    for i in range(1, 2 * hosts_per_lan + 1):
        g.add_node(f"h{i}", kind="host", **l3, **({"ip6": "slaac"} if slaac else {}))
        g.add_edge(f"h{i}", "s1" if i <= hosts_per_lan else "s2")
    g.add_edge("r1", "s1")
    g.add_edge("r1", "s2")
    return g
