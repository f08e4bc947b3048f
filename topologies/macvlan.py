"""Containers on macvlan children of a host's NIC, next to a plain host on the same switch.

phys's eth0 (phys-eth0) is cabled to switch s1, as is host "lan". Each container c<i> is a
namespace whose only interface, eth0, is a macvlan child of phys-eth0 in ``mode``
(bridge, vepa, private or passthru): the containers sit straight on the LAN, with their
own MACs, no bridge and no NAT. In vepa mode siblings reach each other only when s1's
port to phys is in hairpin mode (``hairpin=True``); private siblings never do; the parent
reaches its children only through a hairpin port.
"""
import networkx as nx


def topology(mode: str = "bridge", containers: int = 2, hairpin: bool = False) -> nx.Graph:
    if mode == "passthru" and containers != 1:
        containers = 1                      # passthru: one child owns the NIC
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("phys", kind="host")
    g.add_node("lan", kind="host")
    g.add_edge("phys", "s1", port={"s1": {"hairpin": hairpin}})
    g.add_edge("lan", "s1")
    for i in range(1, containers + 1):
        g.add_node(f"c{i}", kind="host",
                   interfaces={"eth0": {"kind": "macvlan", "parent": "phys:phys-eth0", "mode": mode}})
    return g
