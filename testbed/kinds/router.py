"""kind: router — an end system that forwards IPv4 and gets static routes from the graph."""
from __future__ import annotations

from testbed.kinds import Kind, register
from testbed.kinds.host import L3_ATTRS

ROUTER = register(Kind(
    name="router",
    role="l3",
    description="IP forwarding on; static routes to every subnet computed from the graph",
    attrs=L3_ATTRS,
    port_base=0,
    forwards=True,
))
