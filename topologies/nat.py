"""A LAN behind a NAT gateway, and an emulated internet with a web server.

h1..h<hosts> -- s1 -- nat ==outside== inet -- web

The NAT masquerades the LAN towards the outside link; web (203.0.113.80, a documentation
range, inside the testbed only) has no route to the LAN, so it only ever sees the NAT's
outside address. Connections opened from outside are dropped (and counted) except the
declared forward: tcp 8080 on the NAT's outside address -> h1:80.
"""
import networkx as nx


def topology(hosts: int = 2, forward: bool = True) -> nx.Graph:
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("inet", kind="switch")
    forwards = [{"proto": "tcp", "port": 8080, "to": "h1:80"}] if forward else []
    g.add_node("nat", kind="nat", outside="inet", forwards=forwards)
    g.add_node("web", kind="host", ip="203.0.113.80/24")
    for i in range(1, hosts + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1")
    g.add_edge("nat", "s1")
    g.add_edge("nat", "inet", ip={"nat": "203.0.113.1/24"})
    g.add_edge("web", "inet")
    return g
