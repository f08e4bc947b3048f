"""Reading the features of a running network: drop counters of switches and NATs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.errors import UsageError
from testbed.concerns import nat, portsec
from testbed.kernel import nft

if TYPE_CHECKING:
    from testbed.kernel.nsfs import NetnsWorker
    from testbed.run.network import Network


def port_security_counters(net: "Network", switch: str) -> dict[str, dict[str, int]]:
    """port -> {counter: dropped packets} of a switch's port security and DHCP snooping."""
    features = net.plan.features
    settings = features.ports_of(switch)
    snooping = switch in features.snooping
    if net[switch].plan.role != "l2":
        raise UsageError(f"{switch!r} is a {net[switch].kind}, not a switch")
    if not portsec.needs_rules(settings, snooping):
        return {}
    node = net.plan.node(switch)
    if any(i.kind == "ovs" for i in node.interfaces):           # flows with counting cookies
        from testbed.ovs import portsec as ovs_portsec
        return ovs_portsec.read_counters(net.dpctl(switch), node, settings)
    raw = nft.counters(net[switch].netns, portsec.FAMILY, portsec.TABLE, net.worker)
    return portsec.read_counters(raw, settings)


def nat_counters(net: "Network", node: str) -> dict[str, int]:
    """{"masqueraded", "forwarded_in", "inbound_blocked"}: packets counted by a NAT's rules."""
    if not any(n.node == node for n in net.plan.features.nats):
        raise UsageError(f"{node!r} is not a nat node")
    raw = nft.counters(net[node].netns, "ip", nat.TABLE, net.worker)
    return {name: value["packets"] for name, value in raw.items()}


def dhcp_bindings(net: "Network", switch: str) -> list:
    """The (port, MAC, IP) bindings a snooping switch has learned."""
    if switch not in net.plan.features.snooping:
        raise UsageError(f"{switch!r} does not snoop DHCP (set dhcp_snooping=True)")
    return nft.set_elements(net[switch].netns, portsec.FAMILY, portsec.TABLE, portsec.BOUND_SET, net.worker)


def node_counters(netns: str, worker: "NetnsWorker | None" = None) -> dict[str, dict]:
    """Every feature counter in a namespace, read from nft alone (no plan needed):
    {"ports": {port: {counter: packets}}, "nat": {counter: packets}} — what is there.

    Without a worker (`testbed counters RUN NODE`, another process's run) through the nft tool.
    """
    result: dict[str, dict] = {}
    present = set(nft.tables(netns, worker))
    if (portsec.FAMILY, portsec.TABLE) in present:
        raw = nft.counters(netns, portsec.FAMILY, portsec.TABLE, worker)
        chains = nft.jumps(netns, portsec.FAMILY, portsec.TABLE, "prerouting", worker)   # port -> chain name
        result["ports"] = {port: {what: raw[f"{chain}_{what}"]["packets"] for what in portsec.COUNTERS
                                  if f"{chain}_{what}" in raw}
                           for port, chain in chains.items()}
    if ("ip", nat.TABLE) in present:
        result["nat"] = {name: value["packets"] for name, value in nft.counters(netns, "ip", nat.TABLE, worker).items()}
    return result
