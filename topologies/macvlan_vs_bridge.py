"""Containers two ways on one LAN: macvlan children of a NIC, and a bridge behind a NAT.

    lan --+
    phys -+- s1 (the LAN) -+- dock (kind nat, outside=s1) -- docker0 -- b1..b<containers>
          m1..m<containers>: macvlan children of phys-eth0 (mode bridge)

m<i> sit straight on the LAN with their own MACs and LAN addresses: any LAN host reaches
them. b<i> live on dock's inner bridge docker0 (a private subnet) and reach the LAN only
through dock's NAT (masqueraded); nothing on the LAN can open a connection to them.
"""
import networkx as nx


def topology(containers: int = 2, mode: str = "bridge") -> nx.Graph:
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("docker0", kind="switch")
    g.add_node("lan", kind="host")
    g.add_node("phys", kind="host")
    g.add_node("dock", kind="nat", outside="s1")
    g.add_edge("lan", "s1")
    g.add_edge("phys", "s1")
    g.add_edge("dock", "s1")
    g.add_edge("dock", "docker0")
    for i in range(1, containers + 1):
        g.add_node(f"m{i}", kind="host",
                   interfaces={"eth0": {"kind": "macvlan", "parent": "phys:phys-eth0", "mode": mode}})
        g.add_node(f"b{i}", kind="host")
        g.add_edge(f"b{i}", "docker0")
    return g
