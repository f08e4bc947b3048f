"""Subnets, addresses and MACs, assigned deterministically.

Subnets come from the addresses a segment declares, otherwise from the pool 10.0.0.0/8,
sized to fit (at least /24). Inside a segment routers take the first free addresses,
then hosts, in graph order — so a single LAN numbers h1=10.0.0.1, h2=10.0.0.2 as Mininet.

IPv6 the same way, for the interfaces of nodes with IPv6 on: a segment's prefix is the one
its ``ip6`` addresses declare, otherwise the next free /64 of the topology's ``ipv6_base``
(2001:db8::/32 by default) in segment order, so a single LAN numbers h1=2001:db8::1,
h2=2001:db8::2 and the next LAN 2001:db8:0:1::/64. A node whose ``ip6`` is "slaac" gets the
address stateless autoconfiguration will give it: its LAN's /64 and the EUI-64 interface id of
its planned MAC (02:00:00:00:00:03 -> 2001:db8::ff:fe00:3).
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Iterator

from testbed.topology.resolve import DEFAULT_IPV6_BASE

POOL = ipaddress.ip_network("10.0.0.0/8")
LAN_PREFIX6 = 64                       # every IPv6 LAN numbered here is a /64 (SLAAC's size)

# First bytes of generated MACs (locally administered, unicast), by what carries them.
MAC_PREFIX = {"l3": (0x02, 0x00), "port": (0x02, 0x01), "bridge": (0x02, 0x02)}


def prefix_for(count: int) -> int:
    """The longest prefix (at most /24) whose subnet holds ``count`` host addresses."""
    prefix = 24
    while prefix > 8 and (1 << (32 - prefix)) - 2 < count:
        prefix -= 1
    return prefix


def allocate_subnets(sizes: Iterable[int | None],
                     taken: Iterable[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network | None]:
    """One subnet from the pool per size (None where no subnet is wanted), avoiding ``taken``."""
    used = [n for n in taken if n.version == 4]
    result: list[ipaddress.IPv4Network | None] = []
    cursors: dict[int, Iterator[ipaddress.IPv4Network]] = {}
    for size in sizes:
        if size is None:
            result.append(None)
            continue
        prefix = prefix_for(size)
        cursor = cursors.setdefault(prefix, POOL.subnets(new_prefix=prefix))
        for candidate in cursor:
            if not any(candidate.overlaps(u) for u in used):
                used.append(candidate)
                result.append(candidate)
                break
        else:
            raise ValueError(f"the pool {POOL} has no free /{prefix} left")
    return result


def host_addresses(network: ipaddress._BaseNetwork, count: int,
                   taken: Iterable[ipaddress._BaseAddress]) -> list[str]:
    """``count`` free addresses of ``network`` as CIDRs, lowest first."""
    busy = set(taken)
    found: list[str] = []
    for address in network.hosts():
        if len(found) == count:
            break
        if address not in busy:
            found.append(f"{address}/{network.prefixlen}")
    if len(found) < count:
        raise ValueError(f"subnet {network} has too few free addresses for {count} interfaces")
    return found


class MacAllocator:
    """Sequential locally administered MACs per role, never repeating a taken one."""

    def __init__(self, taken: Iterable[str] = ()):
        self.taken = {m.lower() for m in taken}
        self.counters = {role: 0 for role in MAC_PREFIX}

    def next(self, role: str) -> str:
        first, second = MAC_PREFIX[role]
        while True:
            self.counters[role] += 1
            n = self.counters[role]
            if n >= 1 << 32:
                raise ValueError(f"out of generated MACs for {role}")
            mac = ":".join(f"{b:02x}" for b in (first, second, (n >> 24) & 255,
                                                 (n >> 16) & 255, (n >> 8) & 255, n & 255))
            if mac not in self.taken:
                self.taken.add(mac)
                return mac


# ---------------------------------------------------------------- assignment over a topology

def assign_macs(topo, declared: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """(node, ifname) -> MAC: the declared ones, the rest generated in graph order."""
    alloc = MacAllocator(declared.values())
    result = dict(declared)
    for node in topo.nodes:
        for name in node.ifnames:
            key = (node.name, name)
            if key not in result:
                role = ("bridge" if name == node.name else "port") if node.switching else "l3"
                result[key] = alloc.next(role)
    return result


def network_of(segment, addresses) -> str | None:
    for member in segment.interfaces:
        if member in addresses:
            return str(ipaddress.ip_interface(addresses[member]).network)
    return None


def assign_addresses(topo, segments, declared: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """(node, ifname) -> CIDR: the declared ones, then per segment a subnet (its declared one,
    or a fresh one from the pool sized to fit) with gateways (routers, NATs) numbered first,
    then the others in graph order. Interfaces asking DHCP (ip="dhcp"), those of nodes
    without IPv4 (ip=None) and those of nodes with auto_ip=False get none.

    Raises ValueError when the pool or a subnet runs out.
    """
    dynamic = {n.first.key for n in topo.nodes if n.get("ip") == "dhcp" and n.first is not None}
    without = {n.name for n in topo.nodes if not n.ipv4}
    result = dict(declared)
    nets: list[ipaddress.IPv4Network | None] = []
    sizes: list[int | None] = []
    for seg in segments:
        given = [declared[m] for m in seg.interfaces if m in declared]
        wanting = [m for m in seg.interfaces if m[0] not in without]
        if given:
            nets.append(ipaddress.ip_interface(given[0]).network)
            sizes.append(None)
        else:
            nets.append(None)
            sizes.append(len(wanting) if wanting else None)
    taken = [n for n in nets if n is not None]
    fresh = iter(allocate_subnets(sizes, taken))
    for seg, net in zip(segments, nets):
        auto = next(fresh)
        net = net or auto
        if net is None:
            continue
        todo = [m for m in seg.interfaces if m not in declared and m not in dynamic and m[0] not in without
                and topo.node(m[0]).get("auto_ip", True) is not False]
        _number(topo, net, todo, list(result.values()), result)     # (never an address given anywhere)
    return result


def slaac_interfaces(topo) -> set[tuple[str, str]]:
    """(node, ifname) of every interface whose IPv6 address comes from router advertisements."""
    return {n.first.key for n in topo.nodes if n.get("ip6") == "slaac" and n.first is not None and n.ipv6}


def eui64(network: ipaddress.IPv6Network, mac: str) -> str:
    """The address SLAAC forms in ``network`` (a /64) from ``mac`` (RFC 4291 modified EUI-64), as a CIDR."""
    b = [int(x, 16) for x in mac.split(":")]
    iid = bytes([b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]])
    return f"{network.network_address + int.from_bytes(iid, 'big')}/{network.prefixlen}"


def assign_addresses6(topo, segments, declared: dict[tuple[str, str], str],
                      macs: dict[tuple[str, str], str] | None = None) -> dict[tuple[str, str], str]:
    """(node, ifname) -> IPv6 CIDR for every interface of a node with IPv6 on: the declared
    ones, then per segment its declared prefix or the next free /64 of the topology's
    ``ipv6_base``, gateways numbered first (::1), then the others in graph order; interfaces
    of ip6="slaac" their EUI-64 address of the prefix (from ``macs``). Nodes with
    auto_ip=False get only the addresses they declare (and link-local ones, from the kernel).

    Raises ValueError when the base or a prefix runs out.
    """
    base = ipaddress.ip_network(topo.attrs.get("ipv6_base", DEFAULT_IPV6_BASE))
    on = {n.name for n in topo.nodes if n.ipv6 and n.get("auto_ip", True) is not False}   # numbered here
    slaac = slaac_interfaces(topo) if macs is not None else set()
    result = dict(declared)
    nets: list = []
    for seg in segments:
        given = [declared[m] for m in seg.interfaces if m in declared]
        if given:
            nets.append(ipaddress.ip_interface(given[0]).network)
        elif any(m[0] in on for m in seg.interfaces):
            nets.append(True)                 # wants a fresh /64
        else:
            nets.append(None)
    used = [n for n in nets if isinstance(n, ipaddress.IPv6Network)]
    cursor = base.subnets(new_prefix=LAN_PREFIX6)
    for seg, net in zip(segments, nets):
        if net is True:
            net = next((c for c in cursor if not any(c.overlaps(u) for u in used)), None)
            if net is None:
                raise ValueError(f"the IPv6 base {base} has no free /{LAN_PREFIX6} left for another LAN: "
                                 "give a shorter ipv6_base")
        if net is None:
            continue
        auto = {m: eui64(net, macs[m]) for m in seg.interfaces if m in slaac and net.prefixlen == LAN_PREFIX6}
        result.update(auto)
        todo = [m for m in seg.interfaces if m not in declared and m not in slaac and m[0] in on]
        _number(topo, net, todo, list(result.values()), result)
    return result


def _number(topo, net, todo: list[tuple[str, str]], given: list[str], result: dict) -> None:
    """Give ``todo`` the free addresses of ``net``, gateways (routers, NATs) first, into ``result``;
    ``given``: the addresses already given in the whole network (declared or numbered): a
    numbered address never repeats one, not even one on another LAN."""
    todo.sort(key=lambda m: 0 if topo.node(m[0]).kind.gateway else 1)
    busy = [ipaddress.ip_interface(cidr).ip for cidr in given]
    for member, cidr in zip(todo, host_addresses(net, len(todo), busy)):
        result[member] = cidr
