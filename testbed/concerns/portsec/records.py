"""The planned port security records (the portsec concern's part of a Plan)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PortSettings:
    """Settings of one switch port (the switch end of a link)."""
    node: str                       # the switch
    port: str                       # its interface
    hairpin: bool = False           # send frames back out of the port they came in on
    mac: str | None = None          # bound MAC: frames from another source MAC are dropped
    ip: str | None = None           # bound IPv4: packets/ARP from another source IP are dropped
    max_macs: int | None = None     # at most N source MACs learned on the port (None: unlimited)
    trusted: bool = False           # DHCP snooping: DHCP server replies are allowed in

    @property
    def filtered(self) -> bool:
        """Whether anything is dropped on this port (a binding or a MAC limit)."""
        return bool(self.mac or self.ip or self.max_macs)


@dataclass(frozen=True)
class PortSecurity:
    ports: tuple[PortSettings, ...] = ()
    snooping: tuple[str, ...] = ()             # switches that snoop DHCP

    def of(self, node: str) -> list[PortSettings]:
        return [p for p in self.ports if p.node == node]

    def port(self, node: str, port: str) -> PortSettings | None:
        return next((p for p in self.ports if p.node == node and p.port == port), None)

    def __iter__(self):
        return iter(self.ports)


def needs_rules(settings: list[PortSettings], snooping: bool) -> bool:
    return snooping or any(p.filtered for p in settings)
