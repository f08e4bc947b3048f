"""The seed's three computers: host A has nic1, nic2 and eth0; B is cabled to A.nic1, C to A.nic2.

bridge=True: A bridges nic1 and nic2 with a Linux bridge (br0) inside its namespace, so
B and C share one LAN with A and reach each other. bridge=False: nic1 and nic2 are two
separate LANs; B and C each reach A but not each other (A does not forward).
A's eth0 stands for its uplink: a dummy interface, since a testbed never touches the
machine's real uplink.
"""
import networkx as nx


def topology(bridge: bool = True) -> nx.Graph:
    g = nx.Graph()
    a_devices = {"eth0": {"kind": "dummy", "ip": "192.168.100.2/24"}}
    if bridge:
        a_devices["br0"] = {"kind": "bridge", "ports": ["nic1", "nic2"], "ip": "10.0.0.1/24"}
    g.add_node("A", kind="host", interfaces=a_devices)
    g.add_node("B", kind="host")
    g.add_node("C", kind="host")
    if bridge:
        g.add_edge("A", "B", intf={"A": "nic1", "B": "nic3"}, ip={"B": "10.0.0.2/24"})
        g.add_edge("A", "C", intf={"A": "nic2", "C": "nic4"}, ip={"C": "10.0.0.3/24"})
    else:
        g.add_edge("A", "B", intf={"A": "nic1", "B": "nic3"}, ip={"A": "10.0.1.1/24", "B": "10.0.1.2/24"})
        g.add_edge("A", "C", intf={"A": "nic2", "C": "nic4"}, ip={"A": "10.0.2.1/24", "C": "10.0.2.2/24"})
    return g
