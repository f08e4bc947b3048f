"""kinds: hub, bridge, switch — switching devices in their own namespace.

hub: a bridge that never learns (ageing time 0), so every frame is flooded to every other
port. bridge and switch: a learning bridge; STP on request.

Switches and hubs may instead be Open vSwitch bridges (``backend="ovs"``, or ``--switch
ovs`` for every switch that names no backend), served by a private OVS the run starts
(testbed/kernel/ovs.py). They add:
  - VLANs on links: ``vlan=10`` makes the switch's port an access port, ``trunk=[10, 20]``
    (between switches) a trunk;
  - ``mac_vlans={"02:..": 10}``: MAC-based VLANs, as OpenFlow rules (testbed/openflow.py);
  - ``fail_mode``: "standalone" (default: a learning switch, OVS's NORMAL action) or
    "secure" (forwards only what flows or a controller say);
  - ``controller``: "testcontroller" (the run starts an ovs-testcontroller for this switch,
    on a Unix socket in its folder) or an OVS target ("unix:/path", "tcp:IP:PORT"...);
    the switch's namespace has no IP link to the hosts, so use a Unix socket for a
    controller running in a host;
  - ``hub=True`` (or kind hub): one FLOOD flow; ``datapath``: "auto", "netdev", "system".
"""
from __future__ import annotations

from typing import Any, Mapping

from testbed.topology import values as checks
from testbed.kinds import Kind, register

STP_FORWARD_DELAY_MIN = 2.0     # seconds; the kernel refuses less when STP is on

BACKENDS = ("linux", "ovs")
# Attributes that only an Open vSwitch bridge understands.
OVS_ATTRS: dict[str, checks.Checker] = {
    "fail_mode": checks.one_of("standalone", "secure"),
    "controller": checks.openflow_target,
    "datapath": checks.one_of("auto", "netdev", "system"),
    "mac_vlans": checks.mac_vlans,
    "hub": checks.boolean,
}

_COMMON: dict[str, checks.Checker] = {
    "mac": checks.mac,
    "backend": checks.one_of("linux"),
    "max_macs": checks.number(minimum=1, maximum=65535, integer=True),  # default per host port
    "dhcp_snooping": checks.boolean,
}
_STP = dict(stp=checks.boolean,
            ageing=checks.number(minimum=0, maximum=1_000_000),
            forward_delay=checks.number(minimum=STP_FORWARD_DELAY_MIN, maximum=30),
            priority=checks.number(minimum=0, maximum=65535, integer=True))
_LEARNING = dict(_COMMON, **_STP)
_OVS_HUB = dict(_COMMON, backend=checks.one_of(*BACKENDS),
                **{k: v for k, v in OVS_ATTRS.items() if k not in ("hub", "mac_vlans")})
_OVS_SWITCH = dict(_COMMON, backend=checks.one_of(*BACKENDS), **OVS_ATTRS, **_STP)


def _learning_options(attrs: Mapping[str, Any]) -> dict:
    stp = bool(attrs.get("stp", False))
    options: dict[str, Any] = {"stp": stp, "ageing": float(attrs.get("ageing", 300))}
    if stp:
        options["forward_delay"] = float(attrs.get("forward_delay", STP_FORWARD_DELAY_MIN))
        options["priority"] = int(attrs.get("priority", 32768))
    return options


def backend(attrs: Mapping[str, Any]) -> str:
    """The switching backend of a node: "linux" (a Linux bridge, the default) or "ovs"."""
    return str(attrs.get("backend", "linux"))


def _hub_options(attrs: Mapping[str, Any]) -> dict:
    return {"stp": False, "ageing": 0.0}


HUB = register(Kind(
    name="hub", role="l2", port_base=1, attrs=_OVS_HUB,
    description="floods every frame to every other port (a bridge that never learns)",
    bridge_options=_hub_options,
))
BRIDGE = register(Kind(
    name="bridge", role="l2", port_base=1, attrs=_LEARNING,
    description="a learning Linux bridge (MAC to port), STP on request",
    bridge_options=_learning_options,
))
SWITCH = register(Kind(
    name="switch", role="l2", port_base=1, attrs=_OVS_SWITCH,
    description="a learning switch (a Linux bridge by default), STP on request",
    bridge_options=_learning_options,
))


def ovs_options(kind: str, attrs: Mapping[str, Any]):
    """The Open vSwitch settings (plan.OvsOptions) of a hub or switch with ``backend="ovs"``."""
    from testbed.model.plan import OvsOptions     # here: plan imports the kinds through features
    mac_vlans = attrs.get("mac_vlans") or {}
    ageing = attrs.get("ageing")
    return OvsOptions(
        fail_mode=str(attrs.get("fail_mode", "standalone")),
        controller=attrs.get("controller"),
        datapath=str(attrs.get("datapath", "auto")),
        hub=kind == "hub" or bool(attrs.get("hub", False)),
        mac_vlans=tuple(sorted((str(m).lower(), int(v)) for m, v in mac_vlans.items())),
        stp=bool(attrs.get("stp", False)),
        ageing=float(ageing) if ageing is not None else None,
    )
