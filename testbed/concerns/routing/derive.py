"""From the planned topology to Router records: ports, protocol settings, sessions, loopbacks.

Rules (each can be overridden where the user writes a setting):

- every addressed IPv4 interface of a router is a port of each protocol it runs, unless
  the link says ``ospf=False`` (``isis=False``, ``rip=False``); an OSPF router with IPv6 on
  (``ipv6=True``) runs OSPFv3 on its IPv6 interfaces, with the same settings;
- a port is passive (announced, no adjacency) when no other router on its LAN runs the
  protocol there: host-facing interfaces are passive by default;
- a LAN with exactly two routers of a protocol is point-to-point (no DR/DIS election);
- eBGP sessions: between BGP routers of different ASNs that share a LAN (a link), over
  their addresses there; iBGP inside an AS: a full mesh between loopbacks, or, when some
  of the AS's routers are route reflectors (``rr``), every other router peers with those;
- a BGP router originates its loopback, its stub LANs (where no other BGP router is) and
  its ``announce`` prefixes (those that are not its own LANs are held as blackholes);
- loopbacks are assigned from 10.255.0.0/16 in graph order (skipping planned subnets)
  unless given; the router ID is the loopback address unless given.
"""
from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import replace
from typing import Any

from testbed.concerns.routing.records import (BgpRouter, IsisPort, IsisRouter, OspfPort, OspfRouter, Port,
                                              RipPort, RipRouter, Router, Session)
from testbed.concerns.routing.spec import IGPS, IgpLink, RoutingSpec
from testbed.errors import Problem

LOOPBACK_POOL = ipaddress.ip_network("10.255.0.0/16")


def routed_nodes(topo) -> list:
    return [n for n in topo.nodes if n.get("routing") is not None]


def derive(planned) -> tuple[list[Router], list[Problem]]:
    topo = planned.topo
    nodes = routed_nodes(topo)
    specs: dict[str, RoutingSpec] = {n.name: n.get("routing") for n in nodes}
    problems: list[Problem] = []
    ports = {n.name: _addressed(planned, n) for n in nodes}
    ports6 = {n.name: _addressed(planned, n, 6) for n in nodes}
    loopbacks, ids = _identities(planned, nodes, specs, problems)
    enabled = {proto: _enabled(topo, specs, ports, proto) for proto in IGPS}
    speakers = {proto: _speakers(ports, enabled[proto]) for proto in IGPS}
    enabled6 = _enabled(topo, specs, ports6, "ospf")          # OSPFv3 where the router has IPv6 interfaces
    speakers6 = _speakers(ports6, enabled6)
    routers = []
    for node in nodes:
        spec = specs[node.name]
        built = []
        for ifname, cidr, segment, link in ports[node.name]:
            port = Port(ifname, cidr, segment, link)
            settings = _link_settings(topo, link)
            if (node.name, ifname) in enabled["ospf"]:
                port = replace(port, ospf=_ospf_port(node.name, spec, settings.get("ospf"), segment, speakers["ospf"]))
            if (node.name, ifname) in enabled["isis"]:
                port = replace(port, isis=_isis_port(node.name, spec, settings.get("isis"), segment, speakers["isis"]))
            if (node.name, ifname) in enabled["rip"]:
                lk = settings.get("rip")
                passive = lk.passive if lk is not None and lk.passive is not None else \
                    len(speakers["rip"][segment]) < 2
                port = replace(port, rip=RipPort(passive))
            built.append(port)
        built6 = [Port(ifname, cidr, segment, link,
                       ospf=_ospf_port(node.name, spec, _link_settings(topo, link).get("ospf"), segment, speakers6))
                  for ifname, cidr, segment, link in ports6[node.name] if (node.name, ifname) in enabled6]
        routers.append(Router(node=node.name, router_id=ids[node.name], loopback=loopbacks[node.name],
                              ecmp=spec.ecmp, daemons=(), ports=tuple(built), ports6=tuple(built6)))
    routers = _protocols(planned, nodes, specs, routers, problems)
    routers = _quiet6(routers)
    problems += _ospf_problems(routers)
    return routers, problems


def _quiet6(routers: list[Router]) -> list[Router]:
    """The OSPFv3 point-to-point links whose prefix only one end announces (the lower router ID).

    Both ends announcing it (as OSPFv3 does) gives every other router a route with two
    origins, and FRR 8.4's ospf6d sometimes keeps such a route after both withdraw it (a link
    going down: found by the convergence check, the symptom of FRRouting/frr issue 13579)."""
    by_segment: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for router in routers:
        for port in router.ports6:
            if port.ospf is not None and not port.ospf.passive and port.ospf.network == "point-to-point":
                by_segment[port.segment].append((router.node, router.router_id))
    result = []
    for router in routers:
        quiet = []
        for port in router.ports6:
            ends = by_segment.get(port.segment, [])
            if len(ends) == 2 and any(n != router.node and ipaddress.ip_address(rid) <
                                      ipaddress.ip_address(router.router_id) for n, rid in ends):
                quiet.append(port.ifname)
        result.append(replace(router, quiet6=tuple(quiet)) if quiet else router)
    return result


def _addressed(planned, node, version: int = 4) -> list[tuple[str, str, int, int | None]]:
    """(ifname, CIDR, segment, link) of every interface of ``node`` with a static address of
    that IP version (IPv6: only where the node has IPv6 on)."""
    found = []
    table = planned.addresses
    if version == 6:
        table = getattr(planned, "addresses6", None)    # a table of IPv6 addresses of their own, if planned so
        if table is None:
            if node.get("ipv6", False) is not True:
                return found
            table = planned.addresses
    for intf in planned.node(node.name).interfaces:
        cidr = table.get((node.name, intf.name))
        if cidr is None or ipaddress.ip_interface(cidr).version != version:
            continue
        segment = planned.segment_of((node.name, intf.name))
        end = planned.topo.ends.get((node.name, intf.name))
        found.append((intf.name, cidr, segment.index if segment else -1, end.link if end else None))
    return found


def _link_settings(topo, link: int | None) -> dict[str, Any]:
    if link is None:
        return {}
    spec = topo.links[link]
    return {k: spec.get(k) for k in ("ospf", "isis", "rip", "bfd", "bgp") if spec.get(k) is not None}


def _identities(planned, nodes, specs, problems) -> tuple[dict[str, str], dict[str, str]]:
    """Loopback CIDR and router ID of every routed node; duplicates reported."""
    subnets = [s.network for s in planned.segments if s.network]
    taken = {ipaddress.ip_interface(c).ip for c in planned.addresses.values()}
    given = {specs[n.name].loopback for n in nodes if specs[n.name].loopback}
    used = {ipaddress.ip_interface(g).ip for g in given}
    pool = (ip for ip in LOOPBACK_POOL.hosts())
    loopbacks, ids = {}, {}
    for node in nodes:
        spec = specs[node.name]
        if spec.loopback:
            loopback = spec.loopback
            ip = ipaddress.ip_interface(loopback).ip
            clash = next((s for s in subnets if ip in ipaddress.ip_network(s)), None)
            if clash or ip in taken:
                problems.append(Problem(f"node {node.name!r}", f"loopback {loopback} is inside the subnet "
                                        f"{clash or 'of an interface'} of the topology",
                                        "use an address outside every LAN, e.g. in 10.255.0.0/16"))
        else:
            for ip in pool:
                if ip not in used and ip not in taken and not any(ip in ipaddress.ip_network(s) for s in subnets):
                    break
            used.add(ip)
            loopback = f"{ip}/32"
        loopbacks[node.name] = loopback
        ids[node.name] = spec.router_id or loopback.split("/")[0]
    by_id: dict[str, list[str]] = defaultdict(list)
    for name, rid in ids.items():
        by_id[rid].append(name)
    for rid, names in by_id.items():
        if len(names) > 1:
            problems.append(Problem(", ".join(f"node {n!r}" for n in names), f"share the router ID {rid}",
                                    "give each router its own router_id (or loopback)"))
    by_loop: dict[str, list[str]] = defaultdict(list)
    for name, loop in loopbacks.items():
        by_loop[loop].append(name)
    for loop, names in by_loop.items():
        if len(names) > 1:
            problems.append(Problem(", ".join(f"node {n!r}" for n in names), f"share the loopback {loop}",
                                    "give each router its own loopback"))
    return loopbacks, ids


def _enabled(topo, specs, ports, protocol: str) -> set[tuple[str, str]]:
    found = set()
    for name, spec in specs.items():
        if getattr(spec, protocol) is None:
            continue
        for ifname, _, _, link in ports[name]:
            setting = _link_settings(topo, link).get(protocol)
            if setting is None or setting.enabled:
                found.add((name, ifname))
    return found


def _speakers(ports, enabled: set[tuple[str, str]]) -> dict[int, set[str]]:
    """segment -> the routers running the protocol on it."""
    found: dict[int, set[str]] = defaultdict(set)
    for name, mine in ports.items():
        for ifname, _, segment, _ in mine:
            if (name, ifname) in enabled:
                found[segment].add(name)
    return found


def _ospf_port(node: str, spec: RoutingSpec, link: IgpLink | None, segment: int, speakers) -> OspfPort:
    o = spec.ospf
    link = link or IgpLink()
    count = len(speakers[segment])
    passive = link.passive if link.passive is not None else count < 2
    network = link.network or ("point-to-point" if count == 2 else "broadcast")
    return OspfPort(area=link.area or o.area, cost=link.cost_of(node) or o.cost, hello=link.hello or o.hello,
                    dead=link.dead or o.dead, passive=passive, network=network)


def _isis_port(node: str, spec: RoutingSpec, link: IgpLink | None, segment: int, speakers) -> IsisPort:
    i = spec.isis
    link = link or IgpLink()
    count = len(speakers[segment])
    passive = link.passive if link.passive is not None else count < 2
    return IsisPort(metric=link.cost_of(node) or i.metric, hello=link.hello or i.hello, passive=passive,
                    point_to_point=count == 2)


def isis_net(area: str, router_id: str) -> str:
    """The NET of a router: its area, a system ID from its router ID (10.255.0.1 -> 0102.5500.0001), 00."""
    digits = "".join(f"{int(octet):03d}" for octet in router_id.split("."))
    return f"{area}.{digits[0:4]}.{digits[4:8]}.{digits[8:12]}.00"


def _protocols(planned, nodes, specs, routers: list[Router], problems) -> list[Router]:
    topo = planned.topo
    by_name = {r.node: r for r in routers}
    sessions = _sessions(topo, specs, by_name, problems)
    result = []
    for node in nodes:
        spec, router = specs[node.name], by_name[node.name]
        ports = router.ports
        networks = {ipaddress.ip_interface(p.address).network for p in ports}
        ospf = isis = rip = bgp = None
        if spec.ospf:
            areas = [p.ospf.area for p in ports if p.ospf]
            loop_area = spec.ospf.area if spec.ospf.area in areas or not areas else areas[0]
            ospf = OspfRouter(spec.ospf.redistribute, loop_area)
        if spec.isis:
            isis = IsisRouter(isis_net(spec.isis.area, router.router_id), spec.isis.redistribute)
        if spec.rip:
            rip = RipRouter(spec.rip.redistribute, spec.rip.update, spec.rip.timeout, spec.rip.garbage)
        blackholes: tuple[str, ...] = ()
        if spec.bgp:
            b = spec.bgp
            bgp_segments = {p.segment for p in ports}
            others = {s for r in by_name.values() if r.node != node.name and specs[r.node].bgp
                      for s in (p.segment for p in r.ports)}
            stubs = [str(ipaddress.ip_interface(p.address).network) for p in ports
                     if p.segment in bgp_segments - others]
            nets = [router.loopback.split("/")[0] + "/32", *stubs, *b.announce]
            blackholes = tuple(a for a in b.announce if ipaddress.ip_network(a) not in networks
                               and a != router.loopback)
            bgp = BgpRouter(b.asn, tuple(dict.fromkeys(nets)), tuple(sessions.get(node.name, ())), b.redistribute,
                            b.rr, b.keepalive, b.hold)
        ports = tuple(_with_bfd(topo, p, ospf is not None, isis is not None, bgp) for p in ports)
        ports6 = tuple(_with_bfd(topo, p, ospf is not None, False, None) for p in router.ports6) if ospf else ()
        kernel_routes = tuple(dst for dst, _ in node.get("routes") or ())
        daemons = ["zebra"] + (["staticd"] if blackholes else [])
        daemons += [d for d, on in (("ospfd", ospf and any(p.ospf for p in ports)), ("ospf6d", ports6),
                                    ("isisd", isis), ("ripd", rip), ("bgpd", bgp)) if on]
        if any(p.bfd for p in ports + ports6) or (bgp and any(s.bfd for s in bgp.sessions)):
            daemons.append("bfdd")
        result.append(replace(router, ports=ports, ports6=ports6, ospf=ospf, isis=isis, rip=rip, bgp=bgp,
                              blackholes=blackholes, kernel_routes=kernel_routes, daemons=tuple(daemons)))
    return result


def _with_bfd(topo, port: Port, ospf: bool, isis: bool, bgp) -> Port:
    """A port keeps the link's BFD setting where a protocol that uses BFD has a neighbour on it."""
    bfd = _link_settings(topo, port.link).get("bfd")
    if bfd is None:
        return port
    used = (port.ospf is not None and not port.ospf.passive) or (port.isis is not None and not port.isis.passive)
    return replace(port, bfd=bfd if used else None)


def _sessions(topo, specs, routers: dict[str, Router], problems) -> dict[str, list[Session]]:
    found: dict[str, list[Session]] = defaultdict(list)
    bgp_routers = [n for n in routers if specs[n].bgp]
    on_segment: dict[int, list[tuple[str, Port]]] = defaultdict(list)
    for name in bgp_routers:
        for port in routers[name].ports:
            on_segment[port.segment].append((name, port))
    for segment, members in sorted(on_segment.items()):
        for a, pa in members:
            for b, pb in members:
                if a == b or specs[a].bgp.asn == specs[b].bgp.asn:
                    continue
                settings = _link_settings(topo, pa.link)
                if settings.get("bgp") is False or _link_settings(topo, pb.link).get("bgp") is False:
                    continue
                bfd = settings.get("bfd") or _link_settings(topo, pb.link).get("bfd")
                found[a].append(Session(b, pb.ip, pa.ip, specs[b].bgp.asn, False, link=pa.link, bfd=bfd))
    by_asn: dict[int, list[str]] = defaultdict(list)
    for name in bgp_routers:
        by_asn[specs[name].bgp.asn].append(name)
    for asn, every in by_asn.items():
        for members in _contiguous(every, routers):
            _ibgp(asn, members, specs, routers, found, problems)
    for name in bgp_routers:
        if not found.get(name):
            problems.append(Problem(f"node {name!r}", "runs BGP but no neighbour of it runs BGP: it has no session",
                                    "give a neighbouring router bgp={'asn': ...} (another ASN for eBGP), "
                                    "or drop bgp here"))
    return found


def _contiguous(members: list[str], routers: dict[str, Router]) -> list[list[str]]:
    """The routers of one AS in groups linked to each other through LANs of the AS (an AS's
    routers that share no link, like the spines of a leaf-spine fabric, run no iBGP)."""
    segments = {m: {p.segment for p in routers[m].ports} for m in members}
    groups: list[list[str]] = []
    for member in members:
        joined = [g for g in groups if any(segments[member] & segments[o] for o in g)]
        merged = [member] + [o for g in joined for o in g]
        groups = [g for g in groups if g not in joined] + [sorted(merged, key=members.index)]
    return sorted((g for g in groups if len(g) > 1), key=lambda g: members.index(g[0]))


def _ibgp(asn: int, members: list[str], specs, routers: dict[str, Router], found, problems) -> None:
    """iBGP between the loopbacks of one contiguous group of an AS: a full mesh, or every
    router with the group's route reflectors."""
    reflectors = [m for m in members if specs[m].bgp.rr]
    for a in members:
        for b in members:
            if a == b:
                continue
            if reflectors and a not in reflectors and b not in reflectors:
                continue                        # clients peer with the reflectors only
            client = a in reflectors and b not in reflectors
            found[a].append(Session(b, routers[b].loopback_ip, routers[a].loopback_ip, asn, True, client=client))
    without_igp = [m for m in members if not specs[m].igps]
    if without_igp:
        problems.append(Problem(", ".join(f"node {m!r}" for m in without_igp),
                                f"iBGP in AS {asn} runs between loopbacks, which need an IGP to be reached",
                                "add ospf (or isis, rip) to every BGP router of the AS"))


def _ospf_problems(routers: list[Router]) -> list[Problem]:
    problems = []
    for family, name in (("ports", "OSPF"), ("ports6", "OSPFv3")):       # a dual-stack link: each on its own
        by_segment: dict[int, list[tuple[str, Port]]] = defaultdict(list)
        for router in routers:
            for port in getattr(router, family):
                if port.ospf is not None and not port.ospf.passive:
                    by_segment[port.segment].append((router.node, port))
        for members in by_segment.values():
            for what, get in (("area", lambda o: o.area), ("hello/dead", lambda o: (o.hello, o.dead)),
                              ("network type", lambda o: o.network)):
                values = {get(p.ospf) for _, p in members}
                if len(values) > 1:
                    shown = ", ".join(f"{n}/{p.ifname} {_show(get(p.ospf))}" for n, p in members)
                    problems.append(Problem(shown, f"{name} interfaces on one link disagree on {what}: they would "
                                            "form no adjacency",
                                            f"give both ends the same {what} (the link's ospf={{...}})"))
    for family, name in (("ports", "OSPF"), ("ports6", "OSPFv3")):
        areas: dict[str, set[str]] = defaultdict(set)
        for router in routers:
            for port in getattr(router, family):
                if port.ospf is not None:
                    areas[router.node].add(port.ospf.area)
        every = {a for s in areas.values() for a in s}
        if len(every) > 1:
            for area in sorted(every - {"0.0.0.0"}):
                if not any({"0.0.0.0", area} <= s for s in areas.values()):
                    problems.append(Problem(f"{name} area {area}", "has no area border router: no router has "
                                            "interfaces in both it and the backbone (area 0), so its routes stay "
                                            "inside it", "give one of its routers a link in area 0"))
    return problems


def _show(value) -> str:
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return str(value)
