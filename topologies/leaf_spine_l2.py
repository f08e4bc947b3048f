"""A two-tier leaf-spine fabric of learning switches: every leaf links to every spine.

``spines`` spine switches s1.., ``leaves`` leaf switches l1.., ``hosts`` hosts per leaf
(h1.. numbered leaf by leaf), all in one LAN. The full mesh between the tiers has loops, broken by STP
(plain L2: one path is used; a routed leaf-spine spreads traffic over all of them).
Link settings: ``bw`` (Mbit/s) on the fabric links, none on host links when 0.
"""
import networkx as nx


def topology(spines: int = 2, leaves: int = 4, hosts: int = 2, bw: float = 0.0, stp: bool = True) -> nx.Graph:
    if spines < 1 or leaves < 1 or hosts < 0:
        raise ValueError("spines and leaves must be at least 1, hosts at least 0")
    g = nx.Graph()
    count = 0
    for s in range(1, spines + 1):
        g.add_node(f"s{s}", kind="switch", stp=stp)
    for leaf in range(1, leaves + 1):
        name = f"l{leaf}"
        g.add_node(name, kind="switch", stp=stp)
        for s in range(1, spines + 1):
            g.add_edge(f"s{s}", name, **({"bw": bw} if bw else {}))
        for _ in range(hosts):
            count += 1
            g.add_node(f"h{count}", kind="host")
            g.add_edge(name, f"h{count}")
    return g
