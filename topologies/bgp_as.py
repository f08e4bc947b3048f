"""Three autonomous systems, one of them transit, and a peering link that is shorter.

    h1 -- r1 (AS 65001) --- r2 ==== r3 (AS 65002, transit) --- r4 (AS 65003) -- h2
               \\__________________ peering (direct) _________________/

AS 65002 carries traffic between the others: its two routers run OSPF between them and
iBGP between their loopbacks (next-hop-self), eBGP to their neighbours. AS 65003 also
announces 203.0.113.0/24 (held as a blackhole). With ``peering=True`` r1 and r4 have a
direct link: BGP prefers its shorter AS path (65003) to the transit's (65002 65003), and
falls back to the transit when the peering goes down or is withdrawn.
"""
import networkx as nx


def topology(peering: bool = True, bfd: bool = False) -> nx.Graph:
    g = nx.Graph()
    g.add_node("r1", kind="router", routing={"bgp": {"asn": 65001}})
    g.add_node("r2", kind="router", routing={"bgp": {"asn": 65002}, "ospf": {"area": 0}})
    g.add_node("r3", kind="router", routing={"bgp": {"asn": 65002}, "ospf": {"area": 0}})
    g.add_node("r4", kind="router", routing={"bgp": {"asn": 65003, "announce": ["203.0.113.0/24"]}})
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "r1")
    g.add_edge("h2", "r4")
    extra = {"bfd": True} if bfd else {}
    g.add_edge("r1", "r2", **extra)
    g.add_edge("r2", "r3")
    g.add_edge("r3", "r4", **extra)
    if peering:
        g.add_edge("r1", "r4", **extra)
    return g
