"""Subnets, addresses and MACs, assigned deterministically.

Subnets come from the addresses a segment declares, otherwise from the pool 10.0.0.0/8,
sized to fit (at least /24). Inside a segment routers take the first free addresses,
then hosts, in graph order — so a single LAN numbers h1=10.0.0.1, h2=10.0.0.2 as Mininet.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Iterator

POOL = ipaddress.ip_network("10.0.0.0/8")

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
    then the others in graph order. Interfaces asking DHCP (ip="dhcp") get none.

    Raises ValueError when the pool or a subnet runs out.
    """
    dynamic = {n.first.key for n in topo.nodes if n.get("ip") == "dhcp" and n.first is not None}
    result = dict(declared)
    nets: list[ipaddress.IPv4Network | None] = []
    sizes: list[int | None] = []
    for seg in segments:
        given = [declared[m] for m in seg.interfaces if m in declared]
        if given:
            nets.append(ipaddress.ip_interface(given[0]).network)
            sizes.append(None)
        else:
            nets.append(None)
            sizes.append(len(seg.interfaces) if seg.interfaces else None)
    taken = [n for n in nets if n is not None]
    fresh = iter(allocate_subnets(sizes, taken))
    for seg, net in zip(segments, nets):
        auto = next(fresh)
        net = net or auto
        if net is None:
            continue
        todo = [m for m in seg.interfaces if m not in declared and m not in dynamic]
        todo.sort(key=lambda m: 0 if topo.node(m[0]).kind.gateway else 1)
        busy = [ipaddress.ip_interface(declared[m]).ip for m in seg.interfaces if m in declared]
        for member, cidr in zip(todo, host_addresses(net, len(todo), busy)):
            result[member] = cidr
    return result
