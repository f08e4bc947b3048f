"""Converged routes of the interior protocols (OSPF, IS-IS, RIP), computed from the records.

Each protocol is a graph of routers: an edge from A to B where A's and B's interfaces on a
LAN both run the protocol, are not passive and agree (OSPF: same area and timers); its
cost is A's interface cost (OSPF cost, IS-IS metric, 1 for a RIP hop). A router reaches a
prefix through the router(s) announcing it at the least total cost, over every equal
first hop (ECMP). OSPF areas: intra-area routes first; the area border routers (ABRs)
summarize each area into the backbone and the backbone into each area; redistributed
prefixes are type-2 externals (metric 20, ties broken by the distance to the announcing
router). RIP counts hops: a prefix 15 or more hops away is unreachable.
"""
from __future__ import annotations

import heapq
import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from testbed.concerns.routing.records import Port, Router

Net = ipaddress.IPv4Network
BACKBONE = "0.0.0.0"
RIP_INFINITY = 16
OSPF_EXTERNAL_METRIC = 20
ISIS_PASSIVE_METRIC = 10           # FRR's metric of a passive circuit (the loopback)


@dataclass
class View:
    """The routers as the solver sees them, with some links down."""

    routers: dict[str, Router]
    up: dict[str, list[Port]]                                  # node -> its ports that are up
    connected: dict[str, set[Net]]                             # node -> networks of up ports, loopback
    segments: dict[int, list[tuple[str, Port]]] = field(default_factory=dict)
    cut: frozenset[int] = frozenset()                          # links up but dropping every frame

    def isolated(self, port: Port) -> bool:
        """A port that is up but hears nothing: no adjacency, no session over it."""
        return port.link is not None and port.link in self.cut

    def ports(self, node: str, protocol: str) -> list[Port]:
        return [p for p in self.up[node] if getattr(p, protocol) is not None]


def view(routers: Iterable[Router], down: frozenset[int] = frozenset(), cut: frozenset[int] = frozenset()) -> View:
    """The routers with the ``down`` links' interfaces down and the ``cut`` links silent (their
    interfaces up, their prefixes still announced, but nothing crosses them)."""
    by_name = {r.node: r for r in routers}
    up = {r.node: [p for p in r.ports if p.link is None or p.link not in down] for r in by_name.values()}
    connected = {n: {ipaddress.ip_interface(p.address).network for p in ports} |
                 {ipaddress.ip_interface(by_name[n].loopback).network} for n, ports in up.items()}
    segments: dict[int, list[tuple[str, Port]]] = defaultdict(list)
    for node, ports in up.items():
        for port in ports:
            segments[port.segment].append((node, port))
    return View(by_name, up, connected, dict(segments), frozenset(cut))


Edges = dict[str, list[tuple[str, int, str]]]          # node -> [(neighbour, cost, next-hop IP)]


def _compatible(protocol: str, a, b) -> bool:
    if protocol == "ospf":
        return (a.area, a.hello, a.dead, a.network) == (b.area, b.hello, b.dead, b.network)
    return True


def _cost(protocol: str, settings) -> int:
    return {"ospf": lambda s: s.cost, "isis": lambda s: s.metric, "rip": lambda s: 1}[protocol](settings)


def edges(v: View, protocol: str, area: str | None = None) -> Edges:
    found: Edges = defaultdict(list)
    for members in v.segments.values():
        speakers = [(n, p, getattr(p, protocol)) for n, p in members
                    if getattr(p, protocol) is not None and not getattr(p, protocol).passive and not v.isolated(p)
                    and (area is None or getattr(p, protocol).area == area)]
        for a, _, sa in speakers:
            for b, pb, sb in speakers:
                if a != b and _compatible(protocol, sa, sb):
                    found[a].append((b, _cost(protocol, sa), pb.ip))
    return found


def spf(graph: Edges, source: str) -> tuple[dict[str, int], dict[str, frozenset[str]]]:
    """Distances from ``source`` and the first hops (next-hop IPs) of every shortest path."""
    dist: dict[str, int] = {source: 0}
    first: dict[str, frozenset[str]] = {source: frozenset()}
    heap = [(0, source)]
    done: set[str] = set()
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        for v, cost, via in graph.get(u, ()):
            total = d + cost
            hop = frozenset({via}) if u == source else first[u]
            if v not in dist or total < dist[v]:
                dist[v], first[v] = total, hop
                heapq.heappush(heap, (total, v))
            elif total == dist[v] and v not in done:
                first[v] = first[v] | hop
    return dist, first


@dataclass
class IgpRoute:
    metric: int
    via: set[str]
    external: bool = False


Origins = list[tuple[str, Net, int]]          # (router, prefix, its cost at that router)


def _best(me: str, v: View, dist, first, origins: Origins, limit: int | None = None) -> dict[Net, IgpRoute]:
    best: dict[Net, IgpRoute] = {}
    for node, net, cost in origins:
        if node == me or net in v.connected[me] or node not in dist:
            continue
        total = dist[node] + cost
        if limit is not None and total >= limit:
            continue
        current = best.get(net)
        if current is None or total < current.metric:
            best[net] = IgpRoute(total, set(first[node]))
        elif total == current.metric:
            current.via |= first[node]
    return best


def _network(port: Port) -> Net:
    return ipaddress.ip_interface(port.address).network


def _loopback(router: Router) -> Net:
    return ipaddress.ip_interface(router.loopback).network


def _externals(v: View, protocol: str, sources) -> Origins:
    """(router, prefix, 0) of what each router redistributes into ``protocol``."""
    found: Origins = []
    for node, router in v.routers.items():
        settings = getattr(router, protocol)
        if settings is None or not settings.redistribute:
            continue
        for prefix in sources(node, settings.redistribute):
            found.append((node, prefix, 0))
    return found


def simple(v: View, protocol: str, sources) -> dict[str, dict[Net, IgpRoute]]:
    """IS-IS (one level-2 area) or RIP: shortest paths over the whole protocol graph."""
    graph = edges(v, protocol)
    rip = protocol == "rip"
    origins: Origins = []
    for node, router in v.routers.items():
        if getattr(router, protocol) is None:
            continue
        for port in v.ports(node, protocol):
            origins.append((node, _network(port), 1 if rip else port.isis.metric))
        origins.append((node, _loopback(router), 1 if rip else ISIS_PASSIVE_METRIC))
    origins += [(n, p, 1 if rip else 0) for n, p, _ in _externals(v, protocol, sources)]
    result = {}
    for node, router in v.routers.items():
        if getattr(router, protocol) is None:
            continue
        dist, first = spf(graph, node)
        result[node] = _best(node, v, dist, first, origins, RIP_INFINITY if rip else None)
    return result


def ospf(v: View, sources, quiet: frozenset[tuple[str, str]] = frozenset()) -> dict[str, dict[Net, IgpRoute]]:
    """OSPFv2 with areas: intra-area, then inter-area through the ABRs, then type-2 externals
    (OSPFv3 too, over IPv6 ports; ``quiet``: (node, ifname) of ports whose prefix is not announced)."""
    members = {n for n, r in v.routers.items() if r.ospf is not None}
    areas_of: dict[str, set[str]] = {n: {p.ospf.area for p in v.ports(n, "ospf")} |
                                     {v.routers[n].ospf.loopback_area} for n in members}
    areas = sorted({a for s in areas_of.values() for a in s})
    spfs = {a: {} for a in areas}
    intra: dict[str, dict[str, dict[Net, IgpRoute]]] = {a: {} for a in areas}   # area -> node -> routes
    for area in areas:
        graph = edges(v, "ospf", area)
        origins: Origins = []
        for node in members:
            for port in v.ports(node, "ospf"):
                if port.ospf.area == area and (node, port.ifname) not in quiet:
                    origins.append((node, _network(port), port.ospf.cost))
            if v.routers[node].ospf.loopback_area == area:
                origins.append((node, _loopback(v.routers[node]), 0))
        for node in sorted(n for n in members if area in areas_of[n]):
            spfs[area][node] = spf(graph, node)
            intra[area][node] = _best(node, v, *spfs[area][node], origins)
        # an ABR's own prefixes in an area are summarized at the cost of its interface there
        for node in members:
            if area in areas_of[node]:
                own = intra[area].setdefault(node, {})
                for port in v.ports(node, "ospf"):
                    if port.ospf.area == area and (node, port.ifname) not in quiet:
                        own.setdefault(_network(port), IgpRoute(port.ospf.cost, set()))
                if v.routers[node].ospf.loopback_area == area:
                    own.setdefault(_loopback(v.routers[node]), IgpRoute(0, set()))
    abrs = {n for n in members if BACKBONE in areas_of[n] and len(areas_of[n]) > 1}
    routes: dict[str, dict[Net, IgpRoute]] = {n: {} for n in members}
    for node in members:                      # intra-area: the best over the router's areas
        for area in sorted(areas_of[node]):
            for net, route in intra[area].get(node, {}).items():
                if not route.via:
                    continue                  # its own prefix
                _keep(routes[node], net, route)
    if BACKBONE in intra:                     # summaries into the backbone, from each ABR's other areas
        summaries = [(b, net, r.metric) for b in sorted(abrs) for a in sorted(areas_of[b]) if a != BACKBONE
                     for net, r in intra[a].get(b, {}).items()]
        for node in sorted(n for n in members if BACKBONE in areas_of[n]):
            _inter(routes[node], node, v, spfs[BACKBONE][node], summaries)
    for area in areas:                        # the backbone (and the other areas) into each area
        if area == BACKBONE:
            continue
        summaries = []
        for b in sorted(abrs):
            if area not in areas_of[b]:
                continue
            own_here = set(intra[area].get(b, {}))
            known = {net: r.metric for a in areas_of[b] if a != area for net, r in intra[a].get(b, {}).items()}
            for net, r in routes[b].items():
                known.setdefault(net, r.metric)
            summaries += [(b, net, m) for net, m in known.items() if net not in own_here]
        for node in sorted(n for n in members if area in areas_of[n] and n not in abrs):
            _inter(routes[node], node, v, spfs[area][node], summaries)
    externals = _externals(v, "ospf", sources)
    if externals:
        whole = edges(v, "ospf")
        for node in sorted(members):
            dist, first = spf(whole, node)
            for asbr, net, _ in externals:
                if asbr == node or net in v.connected[node] or asbr not in dist:
                    continue
                current = routes[node].get(net)
                if current is not None and not current.external:
                    continue                   # internal routes beat externals
                key = OSPF_EXTERNAL_METRIC * 1_000_000 + dist[asbr]
                if current is None or key < current.metric:
                    routes[node][net] = IgpRoute(key, set(first[asbr]), external=True)
                elif key == current.metric:
                    current.via |= first[asbr]
    return routes


def _keep(table: dict[Net, IgpRoute], net: Net, route: IgpRoute) -> None:
    current = table.get(net)
    if current is None or route.metric < current.metric:
        table[net] = IgpRoute(route.metric, set(route.via))
    elif route.metric == current.metric:
        current.via |= route.via


def _inter(table: dict[Net, IgpRoute], node: str, v: View, spf_result, summaries) -> None:
    """Inter-area routes of ``node`` from (ABR, prefix, cost) summaries; intra-area ones win."""
    dist, first = spf_result
    inter: dict[Net, IgpRoute] = {}
    for abr, net, cost in summaries:
        if abr == node or net in v.connected[node] or abr not in dist or net in table:
            continue
        _keep(inter, net, IgpRoute(dist[abr] + cost, set(first[abr])))
    table.update(inter)
