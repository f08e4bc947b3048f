"""kinds: hub, bridge, switch — switching devices made of a Linux bridge in their own namespace.

hub: a bridge that never learns (ageing time 0), so every frame is flooded to every other
port. bridge and switch: a learning bridge; STP on request.
"""
from __future__ import annotations

from typing import Any, Mapping

from testbed import checks
from testbed.kinds import Kind, register

STP_FORWARD_DELAY_MIN = 2.0     # seconds; the kernel refuses less when STP is on

_COMMON: dict[str, checks.Checker] = {
    "mac": checks.mac,
    "backend": checks.one_of("linux"),
    "max_macs": checks.number(minimum=1, maximum=65535, integer=True),  # default per host port
    "dhcp_snooping": checks.boolean,
}
_LEARNING = dict(_COMMON,
                 stp=checks.boolean,
                 ageing=checks.number(minimum=0, maximum=1_000_000),
                 forward_delay=checks.number(minimum=STP_FORWARD_DELAY_MIN, maximum=30),
                 priority=checks.number(minimum=0, maximum=65535, integer=True))


def _learning_options(attrs: Mapping[str, Any]) -> dict:
    stp = bool(attrs.get("stp", False))
    options: dict[str, Any] = {"stp": stp, "ageing": float(attrs.get("ageing", 300))}
    if stp:
        options["forward_delay"] = float(attrs.get("forward_delay", STP_FORWARD_DELAY_MIN))
        options["priority"] = int(attrs.get("priority", 32768))
    return options


def _hub_options(attrs: Mapping[str, Any]) -> dict:
    return {"stp": False, "ageing": 0.0}


HUB = register(Kind(
    name="hub", role="l2", port_base=1, attrs=_COMMON,
    description="floods every frame to every other port (a bridge that never learns)",
    bridge_options=_hub_options,
))
BRIDGE = register(Kind(
    name="bridge", role="l2", port_base=1, attrs=_LEARNING,
    description="a learning Linux bridge (MAC to port), STP on request",
    bridge_options=_learning_options,
))
SWITCH = register(Kind(
    name="switch", role="l2", port_base=1, attrs=_LEARNING,
    description="a learning switch (a Linux bridge by default), STP on request",
    bridge_options=_learning_options,
))
