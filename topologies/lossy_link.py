"""Two hosts on one rate-limited link that drops ``loss`` % of what h1 sends (the data direction).

h1 -- h2 with bw (Mbit/s) both ways, loss only on h1's frames (ACKs from h2 arrive), an
optional one-way ``delay`` each way (needs netem: a stock kernel, ``--vm``) and an optional
``queue`` limit in packets. For TCP throughput against loss.
"""
import networkx as nx


def topology(bw: float = 200.0, loss: float = 1.0, delay: str = "", queue: int = 0) -> nx.Graph:
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    settings = {"bw": bw or None, "loss": {"h1": loss} if loss else None, "delay": delay or None,
                "queue": queue or None}
    g.add_edge("h1", "h2", **{k: v for k, v in settings.items() if v is not None})
    return g
