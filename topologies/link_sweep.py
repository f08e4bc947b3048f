"""Two hosts h1 and h2 on one direct link whose settings come from one string (for sweeps).

``link`` is "+"-joined ``attr:value`` items with the link attributes of testbed.concerns.shaping:
"bw:10" (Mbit/s), "loss:5" (%, each direction), "delay:10ms", "queue:100", or combinations
such as "bw:20+loss:1". A value "h1=2" applies to what h1 sends only ("loss:h1=2").
One string per grid point lets an experiment sweep rates, losses and delays as one axis.
"""
import networkx as nx

ATTRS = ("bw", "delay", "jitter", "loss", "queue")


def parse(link: str) -> dict:
    """Link attributes of a setting string, e.g. "bw:20+loss:h1=1" -> {"bw": 20.0, "loss": {"h1": 1.0}}."""
    settings: dict = {}
    for item in filter(None, (part.strip() for part in link.split("+"))):
        attr, sep, value = item.partition(":")
        if not sep or attr not in ATTRS or not value:
            raise ValueError(f"link setting {item!r}: write attr:value with attr one of {', '.join(ATTRS)}, "
                             "e.g. bw:10, loss:5, delay:10ms, loss:h1=2")
        node, eq, rest = value.partition("=")
        parsed = rest if eq else value
        if attr != "delay" and attr != "jitter":
            parsed = float(parsed) if attr != "queue" else int(parsed)
        settings[attr] = {node: parsed} if eq else parsed
    return settings


def topology(link: str = "bw:10") -> nx.Graph:
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2", **parse(link))
    return g
