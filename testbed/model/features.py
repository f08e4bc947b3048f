"""The planned L2/L3 features of a network: port security, NAT, DHCP.

Frozen, deterministic records that ride in the Plan (``Plan.features``); the planner
fills them from the graph, the deployer and the run act on them.
"""
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


@dataclass(frozen=True)
class Forward:
    """A NAT port forward: outside ``proto``/``port`` on the NAT's outside address -> inside."""
    proto: str                      # "tcp" or "udp"
    port: int
    to_ip: str
    to_port: int


@dataclass(frozen=True)
class NatPlan:
    node: str
    outside: str                    # the interface towards the emulated internet
    outside_ip: str | None
    forwards: tuple[Forward, ...] = ()


@dataclass(frozen=True)
class DhcpServer:
    node: str
    interface: str
    address: str                    # its own CIDR on the LAN
    first: str                      # first and last address it leases
    last: str
    lease_seconds: int = 3600
    router: str | None = None       # default gateway it hands out, if any


@dataclass(frozen=True)
class DhcpClient:
    node: str
    interface: str


@dataclass(frozen=True)
class Features:
    ports: tuple[PortSettings, ...] = ()
    snooping: tuple[str, ...] = ()             # switches that snoop DHCP
    nats: tuple[NatPlan, ...] = ()
    dhcp_servers: tuple[DhcpServer, ...] = ()
    dhcp_clients: tuple[DhcpClient, ...] = ()

    def ports_of(self, node: str) -> list[PortSettings]:
        return [p for p in self.ports if p.node == node]

    def port(self, node: str, port: str) -> PortSettings | None:
        return next((p for p in self.ports if p.node == node and p.port == port), None)

    def dhcp_client(self, node: str) -> DhcpClient | None:
        return next((c for c in self.dhcp_clients if c.node == node), None)
