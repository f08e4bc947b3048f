"""graph -> Plan, as a list of pure steps (names, segments, addresses, MACs, routes).

The graph must be valid (see topology.validate); plan() checks that first.
"""
from __future__ import annotations

import dataclasses
import ipaddress
from collections import deque
from typing import Any, Collection, Mapping

import networkx as nx

from testbed import kinds
from testbed.planning import addressing
from testbed.concerns import bridge_vlans
from testbed.topology import graphs
from testbed.concerns import shaping
from testbed import concerns as node_features
from testbed.errors import EnvironmentProblem, Problem, TopologyError, UsageError
from testbed.concerns import dhcp, macvlan, nat
from testbed.kinds import switching
from testbed.kinds.switching import STP_FORWARD_DELAY_MIN
from testbed.model.plan import BridgeOptions, Interface, Link, Node, Plan, Route, Segment
from testbed.planning.segments import node_devices, segments
from testbed.topology.checks import SHAPING_ATTRS, declared_addresses, declared_macs, require_valid

NO_IPV6 = (("net.ipv6.conf.default.disable_ipv6", "1"),)   # before any interface is made
FORWARDING = (("net.ipv4.ip_forward", "1"),)


ARP_MODES = ("dynamic", "static")


def plan(graph: nx.Graph, source: str = "topology", params: Mapping[str, Any] | None = None,
         arp: str = "dynamic", features: Collection[str] | None = None, switch: str | None = None) -> Plan:
    """Validate ``graph`` and turn it into a Plan (raises TopologyError with every problem).

    ``arp``: "dynamic" (real ARP) or "static" (permanent neighbour entries between every
    pair of addresses on a LAN, as Mininet's --arp).
    ``features`` names what the kernel can do (``testbed.kernel.caps.features()``); None
    plans for a kernel with everything. Link settings it cannot do raise EnvironmentProblem.
    ``switch`` is the run's default backend ("linux" or "ovs") for switches that name none.
    """
    if arp not in ARP_MODES:
        raise UsageError(f"arp mode {arp!r}: use one of {', '.join(ARP_MODES)}")
    if switch is not None and isinstance(graph, nx.Graph):
        graph = with_switch_backend(graph, switch)
    require_valid(graph, source)
    refusal = bridge_vlans.refusal(graph, features)
    if refusal:
        raise EnvironmentProblem(refusal)
    ports = graphs.port_names(graph)
    macs = _assign_macs(graph, ports)
    segs = segments(graph, ports, macs)
    try:
        addresses = _assign_addresses(graph, ports, segs)
    except ValueError as exc:             # the address pool or a subnet ran out
        raise TopologyError([Problem("addresses", str(exc), "declare smaller subnets or fewer interfaces")],
                            source) from None
    links = _links(graph, ports)
    by_end = {end: link for link in links for end in (link.a, link.b)}
    nodes = tuple(_node(graph, n, ports, by_end, addresses, macs) for n in graph.nodes)
    nodes = _add_routes(graph, nodes, segs, addresses, _nat_lans(graph, ports, addresses))
    nodes = _shape(nodes, links, features)
    _check_gateways(nodes, source)
    _check_named_gateways(graph, nodes, source)
    _check_ipv6(graph, nodes, source)
    seg_plans = tuple(Segment(s.index, _network_of(s, addresses), s.interfaces, s.switches) for s in segs)
    hosts = tuple((n.name, n.addresses[0].split("/")[0]) for n in nodes if n.role == "l3" and n.addresses)
    return Plan(source=source, params=tuple(sorted((params or {}).items())), nodes=nodes,
                links=links, segments=seg_plans, hosts=hosts, arp=arp,
                features=node_features.plan(graph, ports, addresses, segs))


def with_switch_backend(graph: nx.Graph, backend: str) -> nx.Graph:
    """A copy of ``graph`` whose switches without a 'backend' get ``backend``."""
    if backend not in switching.BACKENDS:
        raise UsageError(f"switch backend {backend!r}: known: {', '.join(switching.BACKENDS)}")
    graph = graph.copy()
    for node, attrs in graph.nodes(data=True):
        if attrs.get("kind") == "switch" and "backend" not in attrs:
            attrs["backend"] = backend
    return graph


# ---------------------------------------------------------------- addresses

def _assign_addresses(graph, ports, segs) -> dict[tuple[str, str], str]:
    declared = declared_addresses(graph, ports)
    dynamic = dhcp.dhcp_members(graph, ports)             # addressed at run time
    result = dict(declared)
    nets: list[ipaddress.IPv4Network | None] = []
    sizes: list[int | None] = []
    for seg in segs:
        given = [declared[m] for m in seg.interfaces if m in declared]
        if given:
            nets.append(ipaddress.ip_interface(given[0]).network)
            sizes.append(None)
        else:
            nets.append(None)
            sizes.append(len(seg.interfaces) if seg.interfaces else None)
    taken = [n for n in nets if n is not None]
    fresh = iter(addressing.allocate_subnets(sizes, taken))
    for seg, net in zip(segs, nets):
        auto = next(fresh)
        net = net or auto
        if net is None:
            continue
        todo = [m for m in seg.interfaces if m not in declared and m not in dynamic]
        todo.sort(key=lambda m: 0 if graph.nodes[m[0]].get("kind") in ("router", "nat") else 1)
        busy = [ipaddress.ip_interface(declared[m]).ip for m in seg.interfaces if m in declared]
        for member, cidr in zip(todo, addressing.host_addresses(net, len(todo), busy)):
            result[member] = cidr
    return result


def _network_of(seg, addresses) -> str | None:
    for member in seg.interfaces:
        if member in addresses:
            return str(ipaddress.ip_interface(addresses[member]).network)
    return None


def _assign_macs(graph, ports) -> dict[tuple[str, str], str]:
    declared = declared_macs(graph, ports)
    alloc = addressing.MacAllocator(declared.values())
    result = dict(declared)
    for node in graph.nodes:
        switching = kinds.get(graph.nodes[node]["kind"]).switching
        names = [ports[graphs.link_id(node, nbr, key)][node] for nbr, key in graphs.incident(graph, node)]
        names += list(node_devices(graph.nodes[node]))
        if switching:
            names.insert(0, str(node))
        for name in names:
            key = (str(node), name)
            if key not in result:
                role = ("bridge" if name == str(node) else "port") if switching else "l3"
                result[key] = alloc.next(role)
    return result


# ---------------------------------------------------------------- links and nodes

def _links(graph, ports) -> tuple[Link, ...]:
    result = []
    for link in graphs.links(graph):
        names = ports[graphs.link_id(link.u, link.v, link.key)]
        settings = tuple((k, link.data[k]) for k in SHAPING_ATTRS if k in link.data)
        result.append(Link(len(result), (str(link.u), names[link.u]), (str(link.v), names[link.v]), settings))
    return tuple(result)


def _node(graph, node, ports, by_end, addresses, macs) -> Node:
    attrs = graph.nodes[node]
    kind = kinds.get(attrs["kind"])
    name = str(node)
    devices = node_devices(attrs)
    masters = {str(p): dname for dname, spec in devices.items() if spec.get("kind") == "bridge"
               for p in spec.get("ports", ())}
    interfaces: list[Interface] = []
    ovs = kind.switching and switching.backend(attrs) == "ovs"
    if ovs:
        interfaces.append(Interface(name=name, kind="ovs", mac=macs[(name, name)],
                                    ovs=switching.ovs_options(kind.name, attrs)))
    elif kind.switching:
        options = kind.bridge_options(attrs)
        if bridge_vlans.filtering(graph, node):
            options = {**options, "vlan_filtering": True}
        interfaces.append(Interface(name=name, kind="bridge", mac=macs[(name, name)],
                                    bridge=BridgeOptions(**options)))
    for dname, spec in devices.items():
        bridge = _device_bridge(spec) if spec["kind"] == "bridge" else None
        parent = macvlan.parent_of(graph, ports, spec) if spec["kind"] == "macvlan" else None
        interfaces.append(Interface(name=dname, kind=spec["kind"], mac=macs[(name, dname)],
                                    addresses=_addr(addresses, name, dname), bridge=bridge, parent=parent,
                                    mode=spec.get("mode", "bridge") if parent else None))
    for nbr, key in graphs.incident(graph, node):
        ifname = ports[graphs.link_id(node, nbr, key)][node]
        link = by_end[(name, ifname)]
        master = name if kind.switching else masters.get(ifname)
        port = _ovs_port(graph, node, nbr, key, len(interfaces)) if ovs else {}
        if not ovs and kind.switching:
            port = bridge_vlans.port_vlans(graph, node, nbr, key)
        interfaces.append(Interface(name=ifname, kind="veth", mac=macs[(name, ifname)],
                                    addresses=() if master else _addr(addresses, name, ifname),
                                    master=master, peer=link.other(name), link=link.index, **port))
    sysctls = () if attrs.get("ipv6", False) else NO_IPV6
    if kind.forwards:
        sysctls += FORWARDING
    sysctls += tuple((str(k), str(v)) for k, v in (attrs.get("sysctls") or {}).items())
    return Node(name=name, kind=kind.name, role=kind.role, interfaces=tuple(interfaces), sysctls=sysctls)


def _ovs_port(graph, node, nbr, key, position: int) -> dict:
    """An OVS port's VLAN settings and OpenFlow port number (1, 2, ... in link order)."""
    data = graph.edges[node, nbr, key] if graph.is_multigraph() else graph.edges[node, nbr]
    trunk = data.get("trunk")
    return {"ofport": position, "vlan": data.get("vlan"),
            "trunk": tuple(trunk) if trunk is not None else None}


def _shape(nodes: tuple[Node, ...], links: tuple[Link, ...], features) -> tuple[Node, ...]:
    """Give each veth the qdiscs and ingress drop of its link's settings (shaping.py)."""
    shaped = [(f"link {l.a[0]}--{l.b[0]}", dict(l.settings), (l.a[0], l.b[0])) for l in links if l.settings]
    refusal = shaping.unsupported(shaped, features)
    if refusal:
        raise EnvironmentProblem(refusal)
    plans: dict[tuple[str, str], shaping.Shaping] = {}
    for link in links:
        if link.settings:
            plans.update(shaping.plan_link(dict(link.settings), link.a, link.b, features))
    if not plans:
        return nodes
    return tuple(dataclasses.replace(n, interfaces=tuple(
        dataclasses.replace(i, qdiscs=plans[(n.name, i.name)].qdiscs, ingress_loss=plans[(n.name, i.name)].ingress_loss)
        if (n.name, i.name) in plans else i for i in n.interfaces)) for n in nodes)


def _device_bridge(spec: Mapping[str, Any]) -> BridgeOptions:
    """An in-node bridge; with STP it gets the short forward delay switches get (not the kernel's 15 s)."""
    if spec.get("stp", False) is True:
        return BridgeOptions(stp=True, forward_delay=STP_FORWARD_DELAY_MIN)
    return BridgeOptions(stp=False)


def _addr(addresses, node, ifname) -> tuple[str, ...]:
    cidr = addresses.get((node, ifname))
    return (cidr,) if cidr else ()


# ---------------------------------------------------------------- routes

def _nat_lans(graph, ports, addresses) -> dict[str, set[tuple[str, str]]]:
    """nat node -> its (node, ifname) LAN interfaces (the ones it is a gateway on)."""
    return {str(n): {(str(n), e.ifname) for e in node_features.common.ends(graph, ports, n)
                     if e.ifname != nat.outside_interface(graph, ports, n)}
            for n, a in graph.nodes(data=True) if a.get("kind") == "nat"}


def _add_routes(graph, nodes: tuple[Node, ...], segs, addresses, nat_lans=None) -> tuple[Node, ...]:
    """Static routes: routers reach every subnet; hosts get a default route via a router
    (or via a NAT gateway on their LAN)."""
    seg_of = {m: s.index for s in segs for m in s.interfaces}
    nets = {s.index: _network_of(s, addresses) for s in segs}
    attached: dict[str, dict[int, str]] = {}       # node -> segment -> its IP there
    for (node, ifname), seg in seg_of.items():
        if (node, ifname) in addresses:
            attached.setdefault(node, {})[seg] = addresses[(node, ifname)].split("/")[0]
    routers = [n.name for n in nodes if n.kind == "router"]
    router_set = set(routers)
    gateways = dict(attached)                       # a NAT is a gateway on its LANs only
    for name, lans in (nat_lans or {}).items():
        gateways[name] = {seg: ip for (node, ifname), seg in seg_of.items()
                          if node == name and (node, ifname) in lans and (ip := attached.get(name, {}).get(seg))}
    result = []
    for n in nodes:
        routes: list[Route] = []
        attrs = graph.nodes[n.name] if n.name in graph.nodes else {}
        for r in attrs.get("routes") or ():
            routes.append(Route(str(ipaddress.ip_network(r["dst"])), str(r["via"])))
        if n.kind == "router":
            routes += _router_routes(n.name, routers, router_set, attached, nets, routes)
        if n.role == "l3":
            default = _default_route(n.name, attrs.get("default_route"), routers + sorted(nat_lans or {}),
                                     gateways, router_set | set(nat_lans or {}))
            if default:
                routes.append(Route("default", default))
        result.append(Node(n.name, n.kind, n.role, n.interfaces, tuple(routes), n.sysctls))
    return tuple(result)


def _check_gateways(nodes: tuple[Node, ...], source: str) -> None:
    """Every route's gateway must be on one of its node's subnets, or the kernel refuses it."""
    problems = []
    for n in nodes:
        nets = [ipaddress.ip_interface(a).network for a in n.addresses]
        for r in n.routes:
            if not any(ipaddress.ip_address(r.via) in net for net in nets):
                problems.append(Problem(f"node {n.name!r} route {r.dst} via {r.via}",
                                        "the gateway is on none of the node's subnets "
                                        f"({', '.join(str(x) for x in nets) or 'it has no addresses'})",
                                        "use the address of a neighbour on one of those subnets"))
    if problems:
        raise TopologyError(problems, source)


def _check_named_gateways(graph, nodes: tuple[Node, ...], source: str) -> None:
    """default_route naming a router works only when that router shares a LAN with the node."""
    problems = []
    for n in nodes:
        given = graph.nodes[n.name].get("default_route")
        if given not in (None, "none") and given in graph.nodes and not any(r.dst == "default" for r in n.routes):
            problems.append(Problem(f"node {n.name!r}", f"default_route {given!r} names a router that is on "
                                    "none of the node's LANs", "name a router on the node's own LAN"))
    if problems:
        raise TopologyError(problems, source)


def _check_ipv6(graph, nodes: tuple[Node, ...], source: str) -> None:
    """IPv6 is off in a node unless it sets ipv6=True; the kernel refuses IPv6 addresses then."""
    problems = [Problem(f"node {n.name!r}", f"has IPv6 address(es) {', '.join(v6)} but IPv6 is off in it",
                        "set ipv6=True on the node")
                for n in nodes
                for v6 in [[a for a in n.addresses if ipaddress.ip_interface(a).version == 6]]
                if v6 and graph.nodes[n.name].get("ipv6", False) is not True]
    if problems:
        raise TopologyError(problems, source)


def _router_routes(me, routers, router_set, attached, nets, explicit) -> list[Route]:
    mine = attached.get(me, {})
    have = {r.dst for r in explicit}
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
                shared = [s for s in attached.get(cur, {}) if s in attached.get(nbr, {})]
                if not shared:
                    continue
                seen.add(nbr)
                first_hop[nbr] = first_hop.get(cur) or attached[nbr][shared[0]]
                if seg in attached.get(nbr, {}):
                    found = nbr
                    break
                queue.append(nbr)
        if found is not None:
            routes.append(Route(net, first_hop[found]))
    return routes


def _default_route(me, given, routers, attached, router_set) -> str | None:
    if given == "none":
        return None
    if given is not None and given not in router_set:
        return str(given)                                   # an IP address
    mine = attached.get(me, {})
    candidates = [given] if given is not None else [r for r in routers if r != me]
    if me in router_set and given is None:
        return None                                         # routers use their static routes
    for seg in mine:
        for r in candidates:
            if seg in attached.get(r, {}):
                return attached[r][seg]
    return None
