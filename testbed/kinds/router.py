"""kind: router — an end system that forwards IPv4 and gets static routes from the graph."""
from __future__ import annotations

from dataclasses import replace

from testbed.kinds import register
from testbed.kinds.host import HOST

# A host (same attributes, same interface names) that forwards between its interfaces.
ROUTER = register(replace(
    HOST,
    name="router",
    description="IP forwarding on; static routes to every subnet computed from the graph",
    forwards=True,
))
