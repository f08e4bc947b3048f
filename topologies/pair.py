"""Two hosts h1 and h2 on one direct link, with optional link settings.

bw in Mbit/s; delay/jitter like "10ms" (one way, each direction); loss in percent per
direction; queue in packets. Empty or zero means unset.
"""
import networkx as nx


def topology(bw: float = 0.0, delay: str = "", jitter: str = "", loss: float = 0.0,
             queue: int = 0) -> nx.Graph:
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    settings = {"bw": bw or None, "delay": delay or None, "jitter": jitter or None,
                "loss": loss or None, "queue": queue or None}
    g.add_edge("h1", "h2", **{k: v for k, v in settings.items() if v is not None})
    return g
