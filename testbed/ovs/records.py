"""The planned Open vSwitch switches: one record per OVS switch of a Plan (``plan.backend("ovs")``)."""
from __future__ import annotations

from dataclasses import dataclass

TESTCONTROLLER = "testcontroller"   # controller setting: the run starts ovs-testcontroller


@dataclass(frozen=True)
class OvsPort:
    name: str
    ofport: int                            # its fixed OpenFlow port number
    vlan: int | None = None                # an access port's VLAN
    trunk: tuple[int, ...] | None = None   # a trunk port's VLANs


@dataclass(frozen=True)
class OvsSwitch:
    """An Open vSwitch bridge's settings (see testbed/ovs/openflow.py)."""

    node: str
    mac: str
    ports: tuple[OvsPort, ...]
    fail_mode: str = "standalone"          # "standalone" (learning switch) or "secure"
    controller: str | None = None          # an OpenFlow controller target, e.g. "tcp:10.0.0.9:6653"
    datapath: str = "auto"                 # "auto", "netdev" (userspace) or "system" (kernel)
    hub: bool = False                      # flood every frame (one FLOOD flow)
    mac_vlans: tuple[tuple[str, int], ...] = ()   # MAC -> VLAN, as OpenFlow rules
    stp: bool = False
    ageing: float | None = None            # seconds a learned MAC is kept

    def port(self, name: str) -> OvsPort:
        return next(p for p in self.ports if p.name == name)

    @property
    def ofports(self) -> dict[str, int]:
        return {p.name: p.ofport for p in self.ports}


def switch_of(plan, node: str) -> OvsSwitch | None:
    """The OVS record of ``node`` in ``plan`` (None: not an Open vSwitch switch)."""
    return next((s for s in plan.backend("ovs") or () if s.node == node), None)
