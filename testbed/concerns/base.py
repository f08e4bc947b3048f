"""The protocol every concern implements; each hook is optional (the base does nothing).

Pure hooks (no kernel, no root), called by the planner in this order:

    problems(topo)                every problem of the concern's attributes and their use
    depends_on_kernel(topo)       whether its plan differs by kernel (then the kernel is probed)
    plan(planned)                 its records for the Plan (``planned``: testbed.model.planned)
    refusal(topo, plan, features) why this kernel cannot build its records (None: it can)
    reach(plan, records, effects) its effect on the expected reachability (fills ``effects``)

Kernel hooks, called by the deployer with its context (testbed/deploy/context.py):

    create(ctx)                   after every link exists (devices that need a lower device)
    configure(ctx)                after addresses and routes (qdiscs, nftables rules)

Run-time hooks, called by the running network:

    start(net)                    services once the network is up; returns addresses it gave
                                  ({(node, ifname): CIDR}, DHCP leases) or {}
    counters(net, node)           its counters at a node ({} when it has none there)
    status(netns, worker)         the same read from a namespace alone, without the plan
                                  (`testbed counters RUN NODE` from another process)
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from testbed.model.schema import Attr


class Concern:
    name: str = ""
    node_attrs: Mapping[str, Attr] = {}        # attributes it adds to nodes ...
    link_attrs: Mapping[str, Attr] = {}        # ... and to links
    link_settings: tuple[str, ...] = ()        # link attributes echoed in the Plan's Link.settings

    def accepts(self, kind: Any) -> bool:
        """Whether nodes of ``kind`` take this concern's node attributes."""
        return True

    def problems(self, topo) -> list:
        return []

    def depends_on_kernel(self, topo) -> bool:
        """Whether planning ``topo`` needs to know what the kernel can do (the probe costs ~0.1 s)."""
        return False

    def plan(self, planned) -> Any:
        return None

    def refusal(self, topo, plan, features) -> str | None:
        return None

    def reach(self, plan, records: Any, effects) -> None:
        return None

    def create(self, ctx) -> None:
        return None

    def configure(self, ctx) -> None:
        return None

    def start(self, net) -> dict:
        return {}

    def counters(self, net, node: str) -> dict:
        return {}

    def status(self, netns: str, worker=None) -> dict:
        return {}


def accepted_by(predicate: Callable[[Any], bool]) -> Callable[[Any, Any], bool]:
    """An ``accepts`` method from a predicate on the Kind."""
    def accepts(self, kind: Any) -> bool:
        return predicate(kind)
    return accepts
