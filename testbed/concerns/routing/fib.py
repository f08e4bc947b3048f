"""The routes every router has once its protocols converged: the IGPs, then BGP, combined
by administrative distance (as zebra does), repeated while redistribution changes them.

    solve(routers, down=frozenset())  ->  Solution: node -> prefix -> Route

``down`` is a set of link indexes taken down (their interfaces and sessions are gone),
``cut`` a set of links that fail silently (interfaces up, nothing crosses), so the same
model says what the routes become after a failure. Connected prefixes are not
routes here (every router has them); blackholes of announced prefixes are ("static").
OSPFv3 (routers' IPv6 interfaces) is solved apart, its routes added as "ospf6".
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Iterable

from testbed.concerns.routing import bgp, igp
from testbed.concerns.routing.igp import Net
from testbed.concerns.routing.records import Route, Router

# zebra's default administrative distances
DISTANCE = {"static": 1, "ebgp": 20, "ospf": 110, "isis": 115, "rip": 120, "ibgp": 200}
MAX_ROUNDS = 8


@dataclass(frozen=True)
class Entry:
    protocol: str               # "static", "ospf", "ospf6", "isis", "rip", "bgp"
    distance: int
    metric: int
    via: frozenset[str]


@dataclass
class Solution:
    routes: dict[str, dict[Net, Entry]]
    as_paths: dict[str, dict[Net, tuple[int, ...]]] = field(default_factory=dict)   # BGP best paths
    unstable: set[str] = field(default_factory=set)

    def records(self, node: str) -> tuple[Route, ...]:
        table = self.routes.get(node, {})
        return tuple(Route(str(net), e.protocol, tuple(sorted(e.via, key=_ip_key)))
                     for net, e in sorted(table.items(), key=lambda item: _net_key(item[0])))


def _net_key(net: Net) -> tuple[int, int, int]:
    return net.version, int(net.network_address), net.prefixlen


def _ip_key(text: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(text)
    return ip.version, int(ip)


def solve(routers: Iterable[Router], down: frozenset[int] = frozenset(), cut: frozenset[int] = frozenset()) -> Solution:
    v = igp.view(routers, down, cut)
    statics = {n: {ipaddress.ip_network(p): Entry("static", DISTANCE["static"], 0, frozenset())
                   for p in r.blackholes} for n, r in v.routers.items()}
    kernel = {n: {ipaddress.ip_network(p) for p in r.kernel_routes} for n, r in v.routers.items()}
    fib: dict[str, dict[Net, Entry]] = {n: dict(statics[n]) for n in v.routers}
    as_paths: dict[str, dict[Net, tuple[int, ...]]] = {}
    settled_bgp = True
    for _ in range(MAX_ROUNDS):
        sources = _sources(v, fib, statics, kernel)
        base = {n: dict(statics[n]) for n in v.routers}
        for protocol, table in (("ospf", igp.ospf(v, sources)), ("isis", igp.simple(v, "isis", sources)),
                                ("rip", igp.simple(v, "rip", sources))):
            for node, routes in table.items():
                for net, r in routes.items():
                    _offer(base[node], net, Entry(protocol, DISTANCE[protocol], r.metric, frozenset(r.via)))
        resolve = _resolver(v, base)
        bests, settled_bgp = bgp.solve(v, resolve, sources, lambda n, p: p in v.connected[n] or p in fib[n]
                                       or p in base[n])
        new = {n: dict(t) for n, t in base.items()}
        as_paths = {}
        for node, table in bests.items():
            for net, best in table.items():
                as_paths.setdefault(node, {})[net] = best.path.as_path
                if best.path.local or net in v.connected[node]:
                    continue
                kind = "ebgp" if best.path.ebgp else "ibgp"
                via = frozenset(h for _, hops in best.multipath for h in hops)
                _offer(new[node], net, Entry("bgp", DISTANCE[kind], 0, via))
        if new == fib:
            break
        changed = {n for n in v.routers if new[n] != fib[n]}
        fib = new
    else:
        return Solution(_with_ospf6(fib, v.routers.values(), down, cut), as_paths, changed)
    return Solution(_with_ospf6(fib, v.routers.values(), down, cut), as_paths,
                    set() if settled_bgp else {n for n, r in v.routers.items() if r.bgp})


def _with_ospf6(fib: dict[str, dict[Net, Entry]], routers: Iterable[Router], down, cut) -> dict[str, dict[Net, Entry]]:
    """The IPv4 routes and those of OSPFv3: the same solver over the routers' IPv6 interfaces
    (the only IPv6 routing protocol here, so nothing to combine), its next hops the neighbours'
    global addresses (the kernel has their link-local ones: converge.py maps them)."""
    six = []
    for r in routers:
        if r.ospf is None or not r.ports6:
            continue
        areas = [p.ospf.area for p in r.ports6]
        area = r.ospf.loopback_area if r.ospf.loopback_area in areas else areas[0]
        six.append(replace(r, ports=r.ports6, ospf=replace(r.ospf, loopback_area=area), isis=None, rip=None,
                           bgp=None, blackholes=(), kernel_routes=()))
    if not six:
        return fib
    v6 = igp.view(six, down, cut)

    def sources(node: str, kinds: tuple[str, ...]) -> set[Net]:
        return {n for n in v6.connected[node] if n.version == 6} if "connected" in kinds else set()
    quiet = frozenset((r.node, ifname) for r in six for ifname in r.quiet6)
    for node, routes in igp.ospf(v6, sources, quiet).items():
        for net, r in routes.items():
            if net.version == 6:
                fib[node][net] = Entry("ospf6", DISTANCE["ospf"], r.metric, frozenset(r.via))
    return fib


def _offer(table: dict[Net, Entry], net: Net, entry: Entry) -> None:
    current = table.get(net)
    if current is None or entry.distance < current.distance:
        table[net] = entry


def _sources(v: igp.View, fib, statics, kernel):
    """What a router redistributes: its connected prefixes, blackholes, kernel routes and the
    routes it has of other protocols (those zebra selected)."""
    def sources(node: str, kinds: tuple[str, ...]) -> set[Net]:
        found: set[Net] = set()
        for source in kinds:
            if source == "connected":
                found |= v.connected[node]
            elif source == "static":
                found |= set(statics[node])
            elif source == "kernel":
                found |= kernel[node]
            else:
                found |= {net for net, e in fib[node].items() if e.protocol == source}
        return found
    return sources


def _resolver(v: igp.View, base: dict[str, dict[Net, Entry]]):
    """node, address -> (metric, next hops, connected) through connected and non-BGP routes (longest match)."""
    def resolve(node: str, address: str):
        ip = ipaddress.ip_address(address)
        for port in v.up.get(node, ()):
            if ip in ipaddress.ip_interface(port.address).network:
                return 0, frozenset({address}), True
        if ip == ipaddress.ip_interface(v.routers[node].loopback).ip:
            return 0, frozenset(), True
        best = None
        for net, entry in base.get(node, {}).items():
            if ip in net and entry.via and (best is None or net.prefixlen > best[0].prefixlen):
                best = (net, entry)
        return None if best is None else (best[1].metric, best[1].via, False)
    return resolve
