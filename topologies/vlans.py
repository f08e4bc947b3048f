"""Port-based VLANs: two Open vSwitch switches joined by an 802.1Q trunk.

    h1 (VLAN 10) --+                   +-- h3 (VLAN 10)
                   s1 ==trunk 10,20== s2
    h2 (VLAN 20) --+                   +-- h4 (VLAN 20)

Every host is in one subnet (10.0.0.0/24) on purpose: only the VLANs keep h1 from h2,
so h1<->h3 and h2<->h4 reach each other across the trunk and no cross-VLAN pair does.
``n`` hosts per VLAN per switch (named h1..h4 for n=1, else h<i>v<vlan>s<switch>).
"""
import networkx as nx


def topology(n: int = 1, vlans: str = "10,20", backend: str = "ovs") -> nx.Graph:
    ids = [int(v) for v in vlans.split(",")]
    if n < 1 or not ids:
        raise ValueError("n must be at least 1 and vlans must list VLAN ids, like 10,20")
    g = nx.Graph()
    for s in ("s1", "s2"):
        g.add_node(s, kind="switch", backend=backend)
    g.add_edge("s1", "s2", trunk=ids)
    count = 0
    for s in ("s1", "s2"):
        for vid in ids:
            for i in range(1, n + 1):
                count += 1
                name = f"h{count}" if n == 1 else f"h{i}v{vid}{s}"
                g.add_node(name, kind="host", ip=f"10.0.{count // 250}.{count % 250 + 1}/16")
                g.add_edge(name, s, vlan=vid)
    return g
