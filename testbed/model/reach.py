"""What concerns do to the expected reachability: records the reachability model merges."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NatGateway:
    node: str
    outside: str                     # its outside interface
    outside_ip: str | None           # the address everything leaving there carries


@dataclass
class Effects:
    """Effects of the concerns on who reaches whom (filled by each concern's ``reach``), with
    the links that are down now (``down``) for concerns whose effect depends on them."""

    blocked: set = field(default_factory=set)      # {frozenset({a, b})}: no frames between nodes a and b
    cut: set = field(default_factory=set)          # {(node, ifname)}: its frames are dropped on its LAN
    uncertain: set = field(default_factory=set)    # nodes whose reachability depends on traffic order
    nats: list = field(default_factory=list)       # NatGateway: masquerading, nothing opened from outside
    routes: dict = field(default_factory=dict)     # node -> [(network, via or None: a blackhole)]: the routes
                                                   # it has at run time besides its planned ones (dynamic routing)
    down: frozenset = frozenset()                  # indexes of the plan's links that are down (given)
