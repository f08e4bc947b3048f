"""Many TCP senders through one bottleneck: h1..h<hosts> on switch s1, s1's port to rx the bottleneck.

s1 sends ``bw`` Mbit/s to rx from a tail-drop buffer of ``queue`` packets (the buffer the
experiment resizes). Where the kernel has netem, each sender's link gets its own one-way
delay, spread evenly from ``min_delay_ms`` (h1) to ``max_delay_ms`` (h<hosts>), in both
directions, so the round trips through the bottleneck range over 2 x min .. 2 x max ms;
0 for both means no delay (a kernel without netem).
"""
import networkx as nx


def host_delays(hosts: int, min_delay_ms: float, max_delay_ms: float) -> list[float]:
    """One-way delay (ms) of each sender's link, h1 first."""
    if hosts == 1:
        return [min_delay_ms]
    step = (max_delay_ms - min_delay_ms) / (hosts - 1)
    return [round(min_delay_ms + i * step, 3) for i in range(hosts)]


def topology(hosts: int = 8, bw: float = 50.0, queue: int = 1000, min_delay_ms: float = 0.0,
             max_delay_ms: float = 0.0) -> nx.Graph:
    if hosts < 1 or queue < 1:
        raise ValueError("hosts and queue must be at least 1")
    if not 0 <= min_delay_ms <= max_delay_ms:
        raise ValueError("need 0 <= min_delay_ms <= max_delay_ms")
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("rx", kind="host")
    for i, delay in enumerate(host_delays(hosts, min_delay_ms, max_delay_ms), start=1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1", **({"delay": f"{delay:g}ms"} if delay else {}))
    g.add_edge("s1", "rx", bw={"s1": bw}, queue={"s1": queue})
    return g
