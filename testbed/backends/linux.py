"""The Linux bridge backend: a hub, bridge or switch is a Linux bridge in its namespace.

The bridge device itself is made by the deployer's devices phase (its options planned
here); this backend realizes what the switch concerns planned for its switches:

* VLANs: a switch with a VLAN link becomes 802.1Q VLAN-aware (``vlan_filtering=1``); an
  access port gets its VLAN as PVID, untagged; a trunk the VLANs tagged; an untagged link
  to another switch carries every VLAN in use tagged (and untagged frames as VLAN 1), as
  the planner's segments assume. Needs a kernel with bridge VLAN filtering
  (CONFIG_BRIDGE_VLAN_FILTERING): where it is missing the plan is refused, naming the
  links and the ways out (Open vSwitch switches, or a stock kernel in a VM).
* hairpin ports (``ip link set ... type bridge_slave hairpin on``);
* port security and DHCP snooping: nftables rules (testbed/concerns/portsec/nft.py).
"""
from __future__ import annotations

from typing import Collection

from testbed.backends.base import SwitchBackend
from testbed.concerns.portsec import needs_rules
from testbed.errors import Problem
from testbed.concerns.portsec import nft as portsec_nft
from testbed.kernel import bridgeport, bridgevlan, nft
from testbed.model.plan import BridgeOptions, Interface

FEATURE = "bridge-vlan-filtering"
MAX_PORTS = 1023                # BR_MAX_PORTS (1024) less port 0, which the kernel keeps; the next fails "Exchange full"


def port_commands(port: str, vlan: int | None, trunk: Collection[int] | None) -> list[str]:
    """`bridge -batch` lines for one port of a VLAN-filtering bridge (none for a plain port).

    Access port: VLAN ``vlan`` as PVID, untagged. Trunk: each VLAN tagged. Either way the
    default VLAN 1 is taken off the port so untagged frames stay out of other VLANs.
    """
    if vlan is None and trunk is None:
        return []
    lines = [f"vlan del dev {port} vid 1"]
    if vlan is not None:
        lines.append(f"vlan add dev {port} vid {vlan} pvid untagged")
    for vid in trunk or ():
        lines.append(f"vlan add dev {port} vid {vid}")
    return lines


def uplink_commands(port: str, vlans: Collection[int]) -> list[str]:
    """An untagged link to another switch: every VLAN in use tagged, VLAN 1 (untagged) kept."""
    return [f"vlan add dev {port} vid {vid}" for vid in vlans]


def vlan_links(topo) -> list[str]:
    """Labels ("s1--h1") of the links with a VLAN setting at a Linux-bridge switch, in link order."""
    names = {s.name for s in topo.of_backend("linux")}
    return [f"{link.u}--{link.v}" for link in topo.links
            if (link.get("vlan") is not None or link.get("trunk") is not None) and {link.u, link.v} & names]


def node_commands(plan, node: str) -> list[str]:
    """The `bridge -batch` lines for every port of ``node``'s VLAN-filtering bridge ([] for none)."""
    spec = plan.node(node)
    if not BACKEND.builds(plan, node) or not spec.interfaces[0].bridge.vlan_filtering:
        return []
    vlans = sorted({v for r in plan.concern("vlans") or () for v in ((r.vlan,) if r.vlan else r.trunk)})
    lines = []
    for intf in spec.interfaces[1:]:
        record = _port_vlan(plan, (node, intf.name))
        if record is not None:
            lines += port_commands(intf.name, record.vlan, record.trunk)
        elif intf.peer is not None and plan.node(intf.peer[0]).role == "l2":
            lines += uplink_commands(intf.name, vlans)
    return lines


def filtering(topo, spec) -> bool:
    """Whether Linux-bridge switch ``spec`` has a VLAN link: then it gets vlan_filtering=1."""
    return any(topo.link_of(e).get("vlan") is not None or topo.link_of(e).get("trunk") is not None
               for e in spec.ends)


class LinuxBridge(SwitchBackend):
    name = "linux"
    title = "a Linux bridge"

    def problems(self, topo, switches: list) -> list:
        return [Problem(f"node {s.name!r}", f"has {len(s.ends)} links; a Linux bridge holds at most {MAX_PORTS} ports",
                        "spread the hosts over a tree of switches (e.g. topologies/tree.py), or use backend='ovs' "
                        f"on {s.name!r} (or --switch ovs)")
                for s in switches if len(s.ends) > MAX_PORTS]

    def depends_on_kernel(self, topo) -> bool:
        return bool(vlan_links(topo))

    def builds(self, plan, node: str) -> bool:
        intfs = plan.node(node).interfaces
        return bool(intfs) and intfs[0].kind == "bridge" and plan.node(node).role == "l2"

    def device(self, spec, mac: str, topo) -> Interface:
        options = spec.kind.bridge_options(spec.attrs)
        if filtering(topo, spec):
            options = {**options, "vlan_filtering": True}
        return Interface(name=spec.name, kind="bridge", mac=mac, bridge=BridgeOptions(**options))

    def refusal(self, topo, plan, features) -> str | None:
        """Why this kernel cannot build the plan's Linux-bridge VLANs (None: it can, or unknown)."""
        if features is None or FEATURE in features:
            return None
        links = vlan_links(topo)
        if not links:
            return None
        implicit = any(s.get("backend") is None for s in topo.of_backend(self.name))
        return (f"links {', '.join(links)} put Linux bridge ports in VLANs, which needs 802.1Q bridge "
                "vlan_filtering (CONFIG_BRIDGE_VLAN_FILTERING), and this kernel lacks it; "
                f"use Open vSwitch switches (backend='ovs' on the switches{', or --switch ovs' if implicit else ''}), "
                "or run in a stock kernel with --vm")

    def configure(self, ctx) -> None:
        plan = ctx.plan
        for node in plan.nodes:
            lines = node_commands(plan, node.name)
            if lines:
                bridgevlan.batch(ctx.ns(node.name), lines)
        security = plan.concern("portsec")
        if security is None:
            return
        for p in security.ports:
            if p.hairpin and self.builds(plan, p.node):
                bridgeport.set_hairpin(ctx.ns(p.node), p.port)
        for switch in sorted({p.node for p in security.ports} | set(security.snooping)):
            settings = security.of(switch)
            snooping = switch in security.snooping
            if self.builds(plan, switch) and needs_rules(settings, snooping):
                ctx.load_nft(switch, portsec_nft.ruleset(switch, settings, snooping))

    def port_security_counters(self, net, node: str, settings: list) -> dict:
        raw = nft.counters(net[node].netns, portsec_nft.FAMILY, portsec_nft.TABLE, net.worker)
        return portsec_nft.read_counters(raw, settings)


def _port_vlan(plan, end: tuple[str, str]):
    return next((r for r in plan.concern("vlans") or () if (r.node, r.port) == end), None)


BACKEND = LinuxBridge()
