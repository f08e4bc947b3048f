"""kind: router — an end system that forwards IP and gets static routes from the graph."""
from __future__ import annotations

from dataclasses import replace

from testbed.kinds.host import HOST

# A host (same attributes, same interface names) that forwards between its interfaces.
ROUTER = replace(
    HOST,
    name="router",
    description="IP forwarding on; static routes to every subnet computed from the graph",
    forwards=True,
    gateway=True,
    static_routes=True,
    endpoint=False,
)
