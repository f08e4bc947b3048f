"""Static routes from the graph: kinds with ``static_routes`` reach every subnet through
other such nodes; every node owning addresses gets a default route via a gateway on its
LAN (a router, or a NAT on its LAN side); explicit ``routes`` come first. Each address
family is routed on its own (IPv4, then IPv6), over the nodes that have it. Nodes whose
routes a concern provides (``owned``: routers running routing daemons) get no computed
static routes, only their explicit ones."""
from __future__ import annotations

import ipaddress
from collections import deque

from testbed.errors import Problem
from testbed.model import values
from testbed.model.plan import Node, Route


def add_routes(topo, nodes: tuple[Node, ...], segments, addresses, addresses6=None,
               owned: frozenset[str] = frozenset()) -> tuple[Node, ...]:
    """``nodes`` with their routes: the explicit ones, then per address family (IPv4, then
    IPv6 where there is any) the routers' routes to every subnet (not for ``owned`` nodes)
    and the default route."""
    families = [_Family(topo, segments, addresses, {s.index: s.network for s in segments})]
    if addresses6:
        families.append(_Family(topo, segments, addresses6, {s.index: s.network6 for s in segments}))
    specs = {n.name: n for n in topo.nodes}
    result = []
    for n in nodes:
        spec = specs[n.name]
        routes = [Route(dst, via) for dst, via in spec.get("routes") or ()]
        for family in families:
            if spec.kind.static_routes and n.name not in owned:
                routes += _router_routes(n.name, family.routers, family.attached, family.nets, routes)
            if not spec.switching and not any(r.dst == DEFAULTS[family.version] for r in routes):
                default = family.default_route(n.name, spec.get("default_route"))
                if default:
                    routes.append(Route("default", default))
        result.append(Node(n.name, n.kind, n.role, n.interfaces, tuple(routes), n.sysctls, n.settings))
    return tuple(result)


class _Family:
    """Who is attached where, and who is a gateway where, in one address family."""

    def __init__(self, topo, segments, addresses, nets):
        self.nets = nets
        self.version = next((ipaddress.ip_interface(c).version for c in addresses.values()), 4)
        seg_of = {m: s.index for s in segments for m in s.interfaces}
        attached: dict[str, dict[int, str]] = {}       # node -> segment -> its IP there
        for (node, ifname), seg in seg_of.items():
            if (node, ifname) in addresses:
                attached.setdefault(node, {})[seg] = addresses[(node, ifname)].split("/")[0]
        self.attached = attached
        specs = {n.name: n for n in topo.nodes}
        self.routers = [n.name for n in topo.nodes if n.kind.static_routes]
        router_set = set(self.routers)
        partial = sorted(n.name for n in topo.nodes if n.kind.gateway_ifnames is not None)
        gateways = dict(attached)                      # a NAT is a gateway on its LAN side only
        for name in partial:
            lans = {(name, ifname) for ifname in specs[name].kind.gateway_ifnames(specs[name])}
            gateways[name] = {seg: ip for (node, ifname), seg in seg_of.items()
                              if node == name and (node, ifname) in lans and (ip := attached.get(name, {}).get(seg))}
        self.gateways = gateways
        others = sorted(n.name for n in topo.nodes if n.kind.gateway and n.name not in router_set)
        self.candidates = [r for r in self.routers if specs[r].kind.gateway] + others
        self.all_gateways = {n.name for n in topo.nodes if n.kind.gateway}

    def default_route(self, me: str, given) -> str | None:
        """The default gateway of ``me`` in this family; an IP given for the other family leaves
        this one's to be found as if none were given."""
        if given not in (None, "none") and given not in self.all_gateways and not values.ip_address(given) \
                and ipaddress.ip_address(given).version != self.version:
            given = None
        return _default_route(me, given, self.candidates, self.gateways, self.all_gateways)


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


DEFAULTS = {4: "0.0.0.0/0", 6: "::/0"}          # an explicit default route, by family


def gateway_problems(topo, nodes: tuple[Node, ...]) -> list[Problem]:
    """Every route's gateway must be on one of its node's subnets, or the kernel refuses it;
    a default_route naming a router works only when that router shares a LAN with the node."""
    problems = []
    for n in nodes:
        nets = [ipaddress.ip_interface(a).network for a in n.addresses]
        own = {ipaddress.ip_interface(a).ip for a in n.addresses}
        given = topo.node(n.name).get("default_route")
        for r in n.routes:
            if ipaddress.ip_address(r.via) in own:
                named = f" (default_route {given!r} names the node itself)" if given == n.name else ""
                problems.append(Problem(f"node {n.name!r} route {r.dst} via {r.via}",
                                        f"the gateway is the node's own address{named}: the kernel would send "
                                        "to every destination as if it were on that link",
                                        "use the address of a neighbour, or default_route='none'"))
            elif not any(ipaddress.ip_address(r.via) in net for net in nets):
                problems.append(Problem(f"node {n.name!r} route {r.dst} via {r.via}",
                                        "the gateway is on none of the node's subnets "
                                        f"({', '.join(str(x) for x in nets) or 'it has no addresses'})",
                                        "use the address of a neighbour on one of those subnets"))
        # a router's name is a default for both families, an IP for its own
        family = ipaddress.ip_address(given).version if given is not None and not values.ip_address(given) else None
        explicit = [dst for dst, _ in topo.node(n.name).get("routes") or ()
                    if dst in DEFAULTS.values() and (family is None or dst == DEFAULTS[family])]
        if given not in (None, "none") and explicit:
            problems.append(Problem(f"node {n.name!r}", f"has default_route {given!r} and a route to {explicit[0]} "
                                    "in 'routes': two default routes", "keep one of them"))
        elif given not in (None, "none") and given in topo and not any(r.dst == "default" for r in n.routes):
            problems.append(Problem(f"node {n.name!r}", f"default_route {given!r} names a router that is on "
                                    "none of the node's LANs", "name a router on the node's own LAN"))
    return problems
