"""Static routes from the graph: kinds with ``static_routes`` reach every subnet through
other such nodes; every node owning addresses gets a default route via a gateway on its
LAN (a router, or a NAT on its LAN side); explicit ``routes`` come first."""
from __future__ import annotations

import ipaddress
from collections import deque

from testbed.errors import Problem
from testbed.model.plan import Node, Route


def add_routes(topo, nodes: tuple[Node, ...], segments, addresses) -> tuple[Node, ...]:
    seg_of = {m: s.index for s in segments for m in s.interfaces}
    nets = {s.index: s.network for s in segments}
    attached: dict[str, dict[int, str]] = {}       # node -> segment -> its IP there
    for (node, ifname), seg in seg_of.items():
        if (node, ifname) in addresses:
            attached.setdefault(node, {})[seg] = addresses[(node, ifname)].split("/")[0]
    specs = {n.name: n for n in topo.nodes}
    routers = [n.name for n in topo.nodes if n.kind.static_routes]
    router_set = set(routers)
    partial = sorted(n.name for n in topo.nodes if n.kind.gateway_ifnames is not None)
    gateways = dict(attached)                      # a NAT is a gateway on its LAN side only
    for name in partial:
        lans = {(name, ifname) for ifname in specs[name].kind.gateway_ifnames(specs[name])}
        gateways[name] = {seg: ip for (node, ifname), seg in seg_of.items()
                          if node == name and (node, ifname) in lans and (ip := attached.get(name, {}).get(seg))}
    others = sorted(n.name for n in topo.nodes if n.kind.gateway and n.name not in router_set)
    candidates = [r for r in routers if specs[r].kind.gateway] + others
    all_gateways = {n.name for n in topo.nodes if n.kind.gateway}
    result = []
    for n in nodes:
        spec = specs[n.name]
        routes = [Route(dst, via) for dst, via in spec.get("routes") or ()]
        if spec.kind.static_routes:
            routes += _router_routes(n.name, routers, attached, nets, routes)
        if not spec.switching and not any(r.dst in DEFAULTS for r in routes):
            default = _default_route(n.name, spec.get("default_route"), candidates, gateways, all_gateways)
            if default:
                routes.append(Route("default", default))
        result.append(Node(n.name, n.kind, n.role, n.interfaces, tuple(routes), n.sysctls, n.settings))
    return tuple(result)


def _router_routes(me, routers, attached, nets, explicit) -> list[Route]:
    mine = attached.get(me, {})
    have = {r.dst for r in explicit}
    shares = {r: set(attached.get(r, {})) for r in routers}
    routes = []
    for seg, net in nets.items():
        if net is None or seg in mine or net in have:
            continue
        # breadth-first search from me over routers sharing segments, to one attached to seg
        first_hop: dict[str, str] = {}
        queue = deque([me])
        seen = {me}
        found = None
        while queue and found is None:
            cur = queue.popleft()
            for nbr in routers:
                if nbr in seen:
                    continue
                shared = [s for s in attached.get(cur, {}) if s in shares[nbr]]
                if not shared:
                    continue
                seen.add(nbr)
                first_hop[nbr] = first_hop.get(cur) or attached[nbr][shared[0]]
                if seg in shares[nbr]:
                    found = nbr
                    break
                queue.append(nbr)
        if found is not None:
            routes.append(Route(net, first_hop[found]))
    return routes


def _default_route(me, given, candidates, gateways, all_gateways) -> str | None:
    """The default gateway of ``me``: ``given`` (an IP, or a gateway's name), else the first
    gateway sharing one of its LANs; gateways themselves get none unless given one."""
    if given == "none":
        return None
    if given is not None and given not in all_gateways:
        return str(given)                                   # an IP address
    if me in all_gateways and given is None:
        return None                                         # routers use their static routes
    for seg in gateways.get(me, {}):
        for r in ([given] if given is not None else [c for c in candidates if c != me]):
            if seg in gateways.get(r, {}):
                return gateways[r][seg]
    return None


DEFAULTS = ("0.0.0.0/0", "::/0")


def gateway_problems(topo, nodes: tuple[Node, ...]) -> list[Problem]:
    """Every route's gateway must be on one of its node's subnets, or the kernel refuses it;
    a default_route naming a router works only when that router shares a LAN with the node."""
    problems = []
    for n in nodes:
        nets = [ipaddress.ip_interface(a).network for a in n.addresses]
        for r in n.routes:
            if not any(ipaddress.ip_address(r.via) in net for net in nets):
                problems.append(Problem(f"node {n.name!r} route {r.dst} via {r.via}",
                                        "the gateway is on none of the node's subnets "
                                        f"({', '.join(str(x) for x in nets) or 'it has no addresses'})",
                                        "use the address of a neighbour on one of those subnets"))
        given = topo.node(n.name).get("default_route")
        explicit = [dst for dst, _ in topo.node(n.name).get("routes") or () if dst in DEFAULTS]
        if given not in (None, "none") and explicit:
            problems.append(Problem(f"node {n.name!r}", f"has default_route {given!r} and a route to {explicit[0]} "
                                    "in 'routes': two default routes", "keep one of them"))
        elif given not in (None, "none") and given in topo and not any(r.dst == "default" for r in n.routes):
            problems.append(Problem(f"node {n.name!r}", f"default_route {given!r} names a router that is on "
                                    "none of the node's LANs", "name a router on the node's own LAN"))
    return problems
