"""Concerns: the functions a network may have beyond the core, each a plug-in.

A concern (link shaping, VLANs, macvlan, port security, DHCP and snooping, NAT) is one
package implementing :class:`Concern`: the attributes it adds to nodes and links, pure
checks and planning over the resolved topology, its effect on the expected reachability,
and hooks the deployer and the running network call. The planner, the deployer, the
network and the reachability model loop over ``REGISTRY`` and name no concern.

Adding a concern is one package here and one line in ``REGISTRY``.
"""
from __future__ import annotations

from testbed.concerns.base import Concern
from testbed.concerns import dhcp, macvlan, nat, portsec, shaping, vlans

__all__ = ["Concern", "REGISTRY", "by_name", "status_of"]

# One line per concern; the order is the order of their deploy hooks and plan records.
REGISTRY: tuple[Concern, ...] = (
    shaping.CONCERN,
    vlans.CONCERN,
    macvlan.CONCERN,
    portsec.CONCERN,
    dhcp.CONCERN,
    nat.CONCERN,
)


def by_name(name: str) -> Concern:
    for concern in REGISTRY:
        if concern.name == name:
            return concern
    raise KeyError(f"no concern {name!r}")


def status_of(netns: str, worker=None) -> dict:
    """Every concern's counters in a namespace, read without a plan (what is there)."""
    found: dict = {}
    for concern in REGISTRY:
        found.update(concern.status(netns, worker))
    return found
