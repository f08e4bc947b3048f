"""VLANs: access ports, trunks and MAC-based VLANs on switches.

Link attributes: ``vlan=10`` makes the switch's port an access port (the host's frames
are in VLAN 10, untagged on the wire); ``trunk=[10, 20]`` (between switches) carries
those VLANs tagged. A switch attribute ``mac_vlans={"02:..": 10}`` (Open vSwitch) puts
hosts in VLANs by MAC, wherever they plug in.

A VLAN is its own LAN: the planner splits segments by VLAN (testbed/planning/segments.py)
and the expected reachability follows. This concern checks the attributes and plans one
record per switch port with a VLAN setting; the switch backends realize them (a
VLAN-filtering Linux bridge, or Open vSwitch tags and trunks, testbed/backends/).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testbed.concerns.base import Concern
from testbed.errors import Problem
from testbed.model import values
from testbed.model.schema import Attr, checked, table


@dataclass(frozen=True)
class PortVlan:
    """The VLANs of one switch port: an access port's VLAN or a trunk's VLANs."""

    node: str
    port: str
    vlan: int | None = None
    trunk: tuple[int, ...] | None = None


def _trunk(value: Any) -> tuple[int, ...]:
    return tuple(checked(values.vlan_list)(value))


def vlans_in_use(topo) -> list[int]:
    """Every VLAN id the topology names (links' vlan/trunk, switches' mac_vlans), sorted."""
    found: set[int] = set()
    for link in topo.links:
        if link.get("vlan") is not None:
            found.add(link.get("vlan"))
        found.update(link.get("trunk") or ())
    for node in topo.nodes:
        found.update((node.get("mac_vlans") or {}).values())
    return sorted(found)


def floods(node) -> bool:
    """A hub: it never learns, so it has no VLANs to keep apart."""
    return not node.kind.learns or node.get("hub") is True


class Vlans(Concern):
    name = "vlans"
    link_attrs = table(
        Attr("vlan", checked(values.vlan), "the switch port is an access port of this VLAN", type="VLAN id 1..4094",
             example="vlan=10"),
        Attr("trunk", _trunk, "between switches: the VLANs the link carries tagged", type="list of VLAN ids",
             example="trunk=[10, 20]"),
    )

    def problems(self, topo) -> list[Problem]:
        found: list[Problem] = []
        for link in topo.links:
            found += self._link_problems(topo, link)
        for node in topo.switching():
            if node.get("mac_vlans"):
                for end in node.ends:
                    link = topo.link_of(end)
                    if topo.node(end.peer).switching and link.get("vlan") is None and link.get("trunk") is None:
                        found.append(Problem(f"link {node.name}--{end.peer}", f"{node.name!r} has mac_vlans: its "
                                             "links to other switches must say which VLANs they carry",
                                             "add trunk=[...] (or vlan=N) to the link"))
            if floods(node):
                found += self._hub_problems(topo, node)
        return found

    def _link_problems(self, topo, link) -> list[Problem]:
        vlan, trunk = link.get("vlan"), link.get("trunk")
        if vlan is None and trunk is None:
            return []
        if vlan is not None and trunk is not None:
            return [Problem(link.label, "has both 'vlan' (an access port) and 'trunk'", "keep one of them")]
        switching = [n for n in (link.u, link.v) if n in topo and topo.node(n).switching]
        if trunk is not None and len(switching) < 2:
            return [Problem(link.label, "'trunk' is for links between two switches",
                            "use 'vlan' to put a host's port in one VLAN")]
        if not switching:
            return [Problem(link.label, "'vlan' needs a switch at one end: it makes the switch's port an "
                            "access port", "connect the host to a switch")]
        return []

    def _hub_problems(self, topo, node) -> list[Problem]:
        vlan_links = [f"{node.name}--{e.peer}" for e in node.ends
                      if topo.link_of(e).get("vlan") is not None or topo.link_of(e).get("trunk") is not None]
        if vlan_links or node.get("mac_vlans"):
            what = f"links {', '.join(vlan_links)} have VLANs" if vlan_links else "it has mac_vlans"
            return [Problem(f"node {node.name!r}", f"is a hub (floods every frame unchanged), but {what}",
                            "make it a switch without hub=True, or drop the VLANs")]
        return []

    def plan(self, planned) -> tuple[PortVlan, ...] | None:
        topo = planned.topo
        records = []
        for node in topo.switching():
            for end in node.ends:
                link = topo.link_of(end)
                trunk = link.get("trunk")
                if link.get("vlan") is not None or trunk is not None:
                    records.append(PortVlan(node.name, end.ifname, link.get("vlan"),
                                            tuple(trunk) if trunk is not None else None))
        return tuple(records) or None


CONCERN = Vlans()


def port_vlan(plan, node: str, port: str) -> PortVlan | None:
    """The VLAN record of switch ``node``'s ``port`` in a plan (None: a plain port)."""
    return next((r for r in plan.concern(CONCERN.name) or () if (r.node, r.port) == (node, port)), None)
