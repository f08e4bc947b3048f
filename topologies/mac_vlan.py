"""MAC-based VLANs: a switch puts each host in a VLAN by its MAC, on whatever port it uses.

    h1 02:00:00:00:0a:01 (VLAN 10) --+
    h2 02:00:00:00:14:01 (VLAN 20) --+-- s1 (Open vSwitch, mac_vlans) --trunk 10,20-- s2 -- h5 (VLAN 10, access)
    h3 02:00:00:00:0a:02 (VLAN 10) --+                                                  +-- h6 (VLAN 20, access)
    h4 02:00:00:00:14:02 (VLAN 20) --+
    h1's second NIC (h1-eth1) -------+   (down at first: "another port" to move h1 to)

All hosts share 10.0.0.0/16, so only the VLANs separate them. s1's port for h1's spare
NIC lets a test unplug h1 from one port and plug it into another (same MAC, same IP):
it must stay in VLAN 10. ``spare=False`` leaves that NIC out.

``mode="port"`` builds the same cabling with port-based VLANs instead, for comparison:
s1's host ports are access ports of each host's VLAN and the spare port (s1-eth9) is an
access port of VLAN 20, so a host moved there lands in VLAN 20 whatever its MAC.
"""
import networkx as nx

MACS = {"h1": "02:00:00:00:0a:01", "h2": "02:00:00:00:14:01",
        "h3": "02:00:00:00:0a:02", "h4": "02:00:00:00:14:02"}
VLANS = {"h1": 10, "h2": 20, "h3": 10, "h4": 20}


SPARE_PORT_VLAN = 20          # the spare port's VLAN in mode="port"


def topology(spare: bool = True, mode: str = "mac") -> nx.MultiGraph:
    if mode not in ("mac", "port"):
        raise ValueError(f"mode must be 'mac' or 'port', not {mode!r}")
    g = nx.MultiGraph()
    if mode == "mac":
        g.add_node("s1", kind="switch", backend="ovs", mac_vlans={MACS[h]: VLANS[h] for h in MACS})
    else:
        g.add_node("s1", kind="switch", backend="ovs")
    g.add_node("s2", kind="switch", backend="ovs")
    for i, h in enumerate(MACS, start=1):
        g.add_node(h, kind="host", mac=MACS[h], ip=f"10.0.0.{i}/16")
        g.add_edge(h, "s1", **({"vlan": VLANS[h]} if mode == "port" else {}))
    g.add_edge("s1", "s2", trunk=[10, 20])
    for i, (h, vid) in enumerate((("h5", 10), ("h6", 20)), start=5):
        g.add_node(h, kind="host", ip=f"10.0.0.{i}/16")
        g.add_edge(h, "s2", vlan=vid)
    if spare:
        g.add_edge("h1", "s1", intf={"h1": "h1-eth1", "s1": "s1-eth9"},
                   **({"vlan": SPARE_PORT_VLAN} if mode == "port" else {}))
    return g
