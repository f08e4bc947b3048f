"""A routed leaf-spine fabric: eBGP on every link (RFC 7938), ECMP over the spines.

``spines`` spine routers sp1.. share one AS (65000); ``leaves`` leaf routers l1.. each have
an AS of their own (65101, 65102, ...) and a link to every spine; ``hosts`` hosts per leaf
(h1.. numbered leaf by leaf), each on a link of its own to its leaf. Every leaf announces its
hosts' subnets and loopback; between two leaves there are as many equal paths as spines,
and each leaf spreads flows over all of them (``ecmp`` paths at most; the kernel hashes the
5-tuple). ``bw`` (Mbit/s) shapes the fabric links when set; ``bfd=True`` runs BFD on them.
topologies/leaf_spine_l2.py is the same drawing built of switches (one path, STP).
"""
import networkx as nx

SPINE_ASN = 65000
LEAF_ASN = 65100


def topology(spines: int = 2, leaves: int = 4, hosts: int = 2, ecmp: int = 16, bw: float = 0.0,
             bfd: bool = False) -> nx.Graph:
    if spines < 1 or leaves < 2 or hosts < 0:
        raise ValueError("spines must be at least 1, leaves at least 2, hosts at least 0")
    g = nx.Graph()
    for s in range(1, spines + 1):
        g.add_node(f"sp{s}", kind="router", routing={"bgp": {"asn": SPINE_ASN}, "ecmp": ecmp})
    count = 0
    for leaf in range(1, leaves + 1):
        name = f"l{leaf}"
        g.add_node(name, kind="router", routing={"bgp": {"asn": LEAF_ASN + leaf}, "ecmp": ecmp})
        for s in range(1, spines + 1):
            link = {}
            if bw:
                link["bw"] = bw
            if bfd:
                link["bfd"] = True
            g.add_edge(f"sp{s}", name, **link)
        for _ in range(hosts):
            count += 1
            g.add_node(f"h{count}", kind="host")
            g.add_edge(name, f"h{count}")
    return g
