"""kind: nat — a gateway that masquerades its LANs towards an emulated outside.

The ``outside`` attribute names the neighbour (or the NAT's own interface) on the outside
link; every other link is a LAN. LAN hosts get the NAT as default gateway; outside hosts
get no route to the LANs, and connections from outside reach in only through declared
``forwards`` ([{"proto": "tcp", "port": 8080, "to": "h1:80"}]). The outside is always a
namespace of the same run, never the machine's real uplink.
"""
from __future__ import annotations

from dataclasses import replace

from testbed.topology import values as checks
from testbed.kinds import register
from testbed.kinds.host import HOST, L3_ATTRS

NAT_ATTRS: dict[str, checks.Checker] = dict(
    L3_ATTRS,
    outside=checks.anything,        # neighbour node name or own interface name (checked with the graph)
    forwards=checks.anything,       # [{"proto": "tcp"|"udp", "port": N, "to": "node:port"}]
)

# A router (a forwarding host) with the outside link and the port forwards on top.
NAT = register(replace(
    HOST,
    name="nat",
    description="masquerades its LANs towards the outside link; inbound only through declared forwards",
    attrs=NAT_ATTRS,
    forwards=True,
))
