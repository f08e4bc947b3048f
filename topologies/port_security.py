"""Switch port security: an IP-MAC-port binding, and a MAC limit that macvlan breaks.

s1 allows ``max_macs`` source MACs per host port (the classic switch default is 1).
h1's port is bound to h1's IP and MAC: frames with another source MAC, or IP/ARP from
another address, are dropped and counted. phys carries ``containers`` macvlan children on
its NIC, so its port shows several MACs: with one MAC per port only the first one heard
gets through, unless ``relax`` raises that port's limit.

``backend="ovs"`` makes s1 an Open vSwitch bridge, whose port security is OpenFlow flows
(testbed/ovs/portsec.py) with the same behaviour and counters.
"""
import networkx as nx

H1_MAC = "02:00:00:00:01:01"
H1_IP = "10.0.0.11"


def topology(max_macs: int = 1, containers: int = 2, relax: bool = False, backend: str = "linux") -> nx.Graph:
    g = nx.Graph()
    switch = {"backend": backend} if backend != "linux" else {}
    g.add_node("s1", kind="switch", max_macs=max_macs, **switch)
    g.add_node("h1", kind="host", ip=f"{H1_IP}/24", mac=H1_MAC)
    g.add_node("h2", kind="host", ip="10.0.0.12/24")
    g.add_node("phys", kind="host", ip="10.0.0.20/24")
    g.add_edge("h1", "s1", port={"s1": {"binding": {"ip": H1_IP, "mac": H1_MAC}}})
    g.add_edge("h2", "s1")
    phys_port = {"max_macs": containers + 1} if relax else {}
    g.add_edge("phys", "s1", port={"s1": phys_port})
    for i in range(1, containers + 1):
        g.add_node(f"c{i}", kind="host", interfaces={"eth0": {
            "kind": "macvlan", "parent": "phys:phys-eth0", "mode": "bridge", "ip": f"10.0.0.{20 + i}/24"}})
    return g
