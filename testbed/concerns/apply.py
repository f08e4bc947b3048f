"""Deploy-time work of the features: macvlan children, hairpin ports, nftables rules.

Called by deploy.Deployment.build: create_macvlans() once every veth exists (a macvlan
needs its lower device), configure() once addresses are set. Every object is journaled
first; nft tables and macvlans live in namespaces of the run, so they go with them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.concerns import nat, portsec
from testbed.kernel import bridgeport, netlink, nft

if TYPE_CHECKING:
    from testbed.deploy.build import Deployment

MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}


def create_macvlans(dep: "Deployment", fds: dict[str, int], index: dict[tuple[str, str], int]) -> None:
    """Each macvlan is made from its parent's namespace straight into its own (IFLA_LINK +
    IFLA_NET_NS_FD), with its planned ifindex, MAC and mode, up."""
    todo = [(n, i) for n in dep.plan.nodes for i in n.interfaces if i.kind == "macvlan"]
    if not todo:
        return
    dep.journal.record({"type": "link", "netns": dep.ns(n.name), "name": i.name} for n, i in todo)
    by_parent: dict[str, list] = {}
    for node, intf in todo:
        by_parent.setdefault(intf.parent[0], []).append((node, intf))
    for parent_node, children in by_parent.items():
        def make(children=children) -> None:
            with netlink.Batch() as batch:
                for node, intf in children:
                    batch.macvlan(intf.name, index[(node.name, intf.name)], intf.mac, fds[dep.ns(node.name)],
                                  index[intf.parent], MACVLAN_MODES[intf.mode or "bridge"])
                batch.commit()
        dep.worker.run_inside(dep.ns(parent_node), make)


def configure(dep: "Deployment") -> None:
    """Hairpin ports, then the nft tables of switches (port security, snooping) and NATs."""
    features = dep.plan.features
    for p in features.ports:
        if p.hairpin:
            bridgeport.set_hairpin(dep.ns(p.node), p.port)
    for switch in sorted({p.node for p in features.ports} | set(features.snooping)):
        settings = features.ports_of(switch)
        snooping = switch in features.snooping
        if portsec.needs_rules(settings, snooping) and not _ovs(dep, switch):   # OVS: flows (ovs_portsec)
            dep.journal.record([{"type": "nft", "netns": dep.ns(switch), "table": portsec.TABLE}])
            _load(dep, switch, portsec.ruleset(switch, settings, snooping))
    for gateway in features.nats:
        dep.journal.record([{"type": "nft", "netns": dep.ns(gateway.node), "table": nat.TABLE}])
        _load(dep, gateway.node, nat.ruleset(gateway))


def _ovs(dep: "Deployment", node: str) -> bool:
    return any(i.kind == "ovs" for i in dep.plan.node(node).interfaces)


def _load(dep: "Deployment", node: str, script: str) -> None:
    """Load an nft script into a node's namespace from the deploy's worker thread (libnftables)."""
    try:
        dep.worker.run_inside(dep.ns(node), nft.run, script)
    except nft.NftError as exc:
        raise nft.NftError(f"node {node}: {exc}") from None
