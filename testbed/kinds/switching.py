"""kinds: hub, bridge, switch — switching devices in their own namespace.

hub: never learns (every frame is flooded to every other port). bridge and switch: learn
MAC -> port; STP on request. A hub or switch is built by a switch backend: a Linux bridge
(``backend="linux"``, the default) or Open vSwitch (``backend="ovs"``, or ``--switch ovs``
for every switch that names none; its own attributes are the OVS backend's, see
testbed/ovs/). A bridge is always a Linux bridge.
"""
from __future__ import annotations

from typing import Any, Mapping

from testbed.kinds.base import Kind
from testbed.model import values
from testbed.model.schema import attr, table

STP_FORWARD_DELAY_MIN = 2.0     # seconds; the kernel refuses less when STP is on
DEFAULT_AGEING = 300.0          # seconds a learned MAC is kept
DEFAULT_PRIORITY = 32768


def _backend_attr(*backends: str):
    return attr("backend", values.one_of(*backends), "what builds the switch: " +
                " or ".join(repr(b) for b in backends), type=" | ".join(backends), default="'linux' (or --switch)",
                example=f"backend={backends[-1]!r}")


_MAC = attr("mac", values.mac, "MAC address of the switch's own bridge device", type="MAC", default="assigned")
_STP = table(
    attr("stp", values.boolean, "run the spanning tree protocol (needed in an L2 loop)", type="bool",
         default="False", example="stp=True"),
    attr("ageing", values.number(minimum=0, maximum=1_000_000), "seconds a learned MAC is kept (0: never learn)",
         type="seconds", default=str(DEFAULT_AGEING)),
    attr("forward_delay", values.number(minimum=STP_FORWARD_DELAY_MIN, maximum=30),
         "STP forward delay in seconds", type="seconds", default=str(STP_FORWARD_DELAY_MIN)),
    attr("priority", values.number(minimum=0, maximum=65535, integer=True), "STP bridge priority",
         type="int 0..65535", default=str(DEFAULT_PRIORITY)),
)


def learning_options(attrs: Mapping[str, Any]) -> dict:
    """Bridge settings of a learning switch from its attributes."""
    stp = bool(attrs.get("stp", False))
    options: dict[str, Any] = {"stp": stp, "ageing": float(attrs.get("ageing", DEFAULT_AGEING))}
    if stp:
        options["forward_delay"] = float(attrs.get("forward_delay", STP_FORWARD_DELAY_MIN))
        options["priority"] = int(attrs.get("priority", DEFAULT_PRIORITY))
    return options


def hub_options(attrs: Mapping[str, Any]) -> dict:
    return {"stp": False, "ageing": 0.0}


HUB = Kind(
    name="hub", switching=True, port_base=1, learns=False, backends=("linux", "ovs"),
    attrs=table(_MAC, _backend_attr("linux", "ovs")),
    description="floods every frame to every other port (a bridge that never learns)",
    bridge_options=hub_options,
)
BRIDGE = Kind(
    name="bridge", switching=True, port_base=1, backends=("linux",),
    attrs=dict(table(_MAC, _backend_attr("linux")), **_STP),
    description="a learning Linux bridge (MAC to port), STP on request",
    bridge_options=learning_options,
)
SWITCH = Kind(
    name="switch", switching=True, port_base=1, backends=("linux", "ovs"), takes_switch_option=True,
    attrs=dict(table(_MAC, _backend_attr("linux", "ovs")), **_STP),
    description="a learning switch (a Linux bridge by default, or Open vSwitch), STP on request",
    bridge_options=learning_options,
)
KINDS = (HUB, BRIDGE, SWITCH)
