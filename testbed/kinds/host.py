"""kind: host — an end system: interfaces with addresses, a default route, no forwarding."""
from __future__ import annotations

from testbed.topology import values as checks
from testbed.kinds import Kind, register

# Attributes shared by every kind that owns addresses (hosts, routers).
L3_ATTRS: dict[str, checks.Checker] = {
    "ip": checks.cidr_or_dhcp,         # address of the node's first interface, or "dhcp"
    "mac": checks.mac,                 # MAC of the node's first interface
    "default_route": checks.anything,  # an IP, a neighbouring router's name, or "none"
    "routes": checks.anything,         # [{"dst": "10.2.0.0/24", "via": "10.1.0.1"}, ...]
    "interfaces": checks.anything,     # extra in-node devices: {"br0": {"kind": "bridge", ...}}
    "ipv6": checks.boolean,            # keep IPv6 (off by default: quiet links, fast builds)
    "sysctls": checks.anything,        # {"net.ipv4.conf.all.rp_filter": 0}
    "dhcp_server": checks.anything,    # {"range": "10.0.0.100,10.0.0.200"}: run a DHCP server here
}

HOST = register(Kind(
    name="host",
    role="l3",
    description="an end system with its own network namespace",
    attrs=L3_ATTRS,
    port_base=0,
))
