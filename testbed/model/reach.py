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
    """Effects of the concerns on who reaches whom (filled by each concern's ``reach``)."""

    blocked: set = field(default_factory=set)      # {frozenset({a, b})}: no frames between nodes a and b
    cut: set = field(default_factory=set)          # {(node, ifname)}: its frames are dropped on its LAN
    uncertain: set = field(default_factory=set)    # nodes whose reachability depends on traffic order
    nats: list = field(default_factory=list)       # NatGateway: masquerading, nothing opened from outside
