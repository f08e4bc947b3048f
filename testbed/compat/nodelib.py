"""``mininet.nodelib`` on testbed: LinuxBridge and NAT.

LinuxBridge is testbed's Linux-bridge switch (with STP when asked). NAT is testbed's
``nat`` kind: it masquerades its LANs out of its ``inetIntf`` (nftables in its namespace;
hosts reach the outside, nothing from the outside reaches in). Its outside is another
part of the emulated network, never this machine's uplink, so a NAT needs ``inetIntf``
naming one of its own interfaces.
"""
from __future__ import annotations

from typing import Any

from testbed.compat.node import Node, Switch
from testbed.compat.notes import cidr
from testbed.errors import UsageError


class LinuxBridge(Switch):
    """A Linux bridge (with optional spanning tree)."""

    backend = "linux"
    nextPrio = 100

    def __init__(self, name: str, stp: bool = False, prio: int | None = None, **kwargs: Any):
        self.stp = stp
        if prio:
            self.prio = prio
        else:
            self.prio = LinuxBridge.nextPrio
            LinuxBridge.nextPrio += 1
        Switch.__init__(self, name, stp=stp, **kwargs)

    @classmethod
    def node_attrs(cls, name: str, params: dict) -> dict:
        attrs: dict[str, Any] = {"kind": "switch", "backend": "linux"}
        if params.get("stp"):
            attrs["stp"] = True
        return attrs

    def connected(self) -> bool:
        """Forwarding yet? (the build waits for spanning tree to settle)"""
        return True

    def start(self, _controllers: list) -> None:
        self.handle                              # the bridge is made when the network is built


class NAT(Node):
    """A NAT: masquerades its LANs towards its ``inetIntf`` (an outside switch of the network)."""

    def __init__(self, name: str, subnet: str = "10.0/8", localIntf: str | None = None, flush: bool = False,
                 **params: Any):
        self.subnet = subnet
        self.localIntf = localIntf
        self.flush = flush
        super().__init__(name, **params)

    @classmethod
    def node_attrs(cls, name: str, params: dict) -> dict:
        outside = params.get("inetIntf")
        if not outside:
            raise UsageError(f"NAT {name}: give inetIntf, the NAT's interface towards the outside part of the "
                             "network (testbed never connects a NAT to this machine's own uplink)")
        attrs: dict[str, Any] = {"kind": "nat", "outside": outside, "auto_ip": False}   # (IPv4 only)
        if params.get("ip"):
            attrs["ip"] = cidr(params["ip"])
        return attrs

    def config(self, **params: Any) -> dict:
        """The NAT's rules and forwarding are set up with the network (testbed's nat kind)."""
        return super().config(**params)

    def terminate(self) -> None:
        super().terminate()


__all__ = ["LinuxBridge", "NAT"]
