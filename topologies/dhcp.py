"""A LAN whose hosts get their addresses from a DHCP server, optionally with DHCP snooping.

srv (10.0.0.1, dnsmasq) and h1..h<hosts> (ip="dhcp", dhclient) on switch s1; srv's port is
trusted. rogue=True adds a second DHCP server on an untrusted port (its offers are dropped
when snooping is on). With snooping on, s1 learns each client's (port, MAC, IP) from the
server's ACKs and drops IP/ARP from anything else: a host that sets an address it was not
given is cut off.
"""
import networkx as nx


def topology(hosts: int = 2, snooping: bool = True, rogue: bool = False) -> nx.Graph:
    g = nx.Graph()
    g.add_node("s1", kind="switch", dhcp_snooping=snooping)
    g.add_node("srv", kind="host", ip="10.0.0.1/24", dhcp_server={"range": "10.0.0.100,10.0.0.200", "lease": 600})
    g.add_edge("srv", "s1", port={"s1": {"trusted": True}})
    if rogue:
        g.add_node("rogue", kind="host", ip="10.0.0.250/24", dhcp_server={"range": "10.0.0.50,10.0.0.60"})
        g.add_edge("rogue", "s1")
    for i in range(1, hosts + 1):
        g.add_node(f"h{i}", kind="host", ip="dhcp")
        g.add_edge(f"h{i}", "s1")
    return g
