"""Senders into one switch port: h1..h<senders> and rx on switch s1, the port to rx the bottleneck.

The switch's port towards rx sends ``bw`` Mbit/s with a ``queue``-packet buffer; with
``ecn`` K > 0 that buffer is a RED queue marking ECN at K packets (DCTCP's switch
setting), otherwise plain tail drop. The senders' links are not rate-limited, so every
flow meets the others in that one queue, as in Alizadeh et al.'s Figure 1 (two senders,
one receiver, one switch port). ``delay`` (one way, each direction of rx's link) needs
netem.
"""
import networkx as nx


def topology(senders: int = 2, bw: float = 100.0, queue: int = 200, ecn: int = 0, delay: str = "") -> nx.Graph:
    if senders < 1:
        raise ValueError("senders must be at least 1")
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("rx", kind="host")
    for i in range(1, senders + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1")
    bottleneck = {"bw": {"s1": bw}, "queue": {"s1": queue}}
    if ecn:
        bottleneck["ecn"] = {"s1": ecn}
    if delay:
        bottleneck["delay"] = delay
    g.add_edge("s1", "rx", **bottleneck)
    return g
