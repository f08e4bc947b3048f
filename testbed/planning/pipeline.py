"""graph -> Plan, as a list of steps over the resolved topology; every problem collected.

    resolve     the graph read once into the typed model (testbed/topology/resolve.py)
    check       the core checks, every concern's and every switch backend's
    macs        declared MACs kept, the others generated
    segments    broadcast domains (VLAN-aware)
    subnets     declared addresses agree with their LAN; it has room
    addresses   a subnet per LAN, addresses assigned (gateways first)
    nodes       interfaces, devices, sysctls, the kinds' own settings
    routes      static routes, default routes; gateways reachable
    concerns    each concern's records, then each backend's
    kernel      what this kernel cannot build (EnvironmentProblem)

Problems from every step are gathered and raised once, as one TopologyError; only a
problem that leaves the structure unknown (resolve's "fatal" ones) stops the steps
early. ``validate(g) == []`` exactly when ``plan(g)`` succeeds, by construction.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Callable, Collection, Mapping, Union

from testbed import backends, concerns
from testbed.kinds.switching import STP_FORWARD_DELAY_MIN
from testbed.errors import EnvironmentProblem, Problem, TopologyError, UsageError
from testbed.model.plan import BridgeOptions, Interface, Link, Node, Plan, Segment
from testbed.model.planned import Planned
from testbed.model.topology import NodeSpec, Topology
from testbed.planning import addressing, routes
from testbed.planning.segments import segments as find_segments
from testbed.topology import checks
from testbed.topology.resolve import resolve

NO_IPV6 = (("net.ipv6.conf.default.disable_ipv6", "1"),)   # before any interface is made
FORWARDING = (("net.ipv4.ip_forward", "1"),)
ARP_MODES = ("dynamic", "static")

Features = Union[Collection[str], Callable[[], Collection[str] | None], None]


def plan(graph: Any, source: str = "topology", params: Mapping[str, Any] | None = None,
         arp: str = "dynamic", features: Features = None, switch: str | None = None) -> Plan:
    """Validate ``graph`` and turn it into a Plan (TopologyError with every problem).

    ``arp``: "dynamic" (real ARP) or "static" (permanent neighbour entries between every
    pair of addresses on a LAN, as Mininet's --arp).
    ``features`` names what the kernel can do (``testbed.kernel.caps.features()``), or is a
    callable asked only when the topology uses something kernels differ in; None plans for
    a kernel with everything. What the kernel cannot do raises EnvironmentProblem.
    ``switch`` is the run's default backend ("linux" or "ovs") for switches that name none.
    """
    result, refusals = _planned(graph, source, params, arp, features, switch)
    if refusals:
        raise EnvironmentProblem("\n".join(refusals))
    return result


def draft(graph: Any, source: str = "topology", params: Mapping[str, Any] | None = None,
          arp: str = "dynamic", features: Features = None, switch: str | None = None) -> tuple[Plan, list[str]]:
    """The plan for this kernel, or, where the kernel cannot build it, the plan for a kernel
    with everything and the reasons it cannot be built here (for `testbed plan`)."""
    result, refusals = _planned(graph, source, params, arp, features, switch)
    if refusals:
        result, _ = _planned(graph, source, params, arp, None, switch)
    return result, refusals


def validate(graph: Any) -> list[Problem]:
    """Every problem of ``graph``; an empty list means it can be planned and built."""
    _, problems = _steps(graph, "topology", None, "dynamic", None, None)
    return problems


def _planned(graph, source, params, arp, features, switch) -> tuple[Plan, list[str]]:
    if arp not in ARP_MODES:
        raise UsageError(f"arp mode {arp!r}: use one of {', '.join(ARP_MODES)}")
    result, problems = _steps(graph, source, params, arp, features, switch)
    if problems:
        raise TopologyError(problems, source)
    return result


def _steps(graph, source, params, arp, features, switch):
    """(plan and refusals, or None; every problem) of the whole pipeline."""
    resolution = resolve(graph, switch)
    problems = list(resolution.problems)
    if resolution.fatal:
        return None, problems
    topo = resolution.topo
    problems += checks.problems(topo)
    for concern in concerns.REGISTRY:
        problems += concern.problems(topo)
    for name, backend in backends.REGISTRY.items():
        problems += backend.problems(topo, topo.of_backend(name))
    try:
        found = _build(topo, source, params, arp, features, problems)
    except Exception:
        if problems:              # an odd input already reported: the problems say enough
            return None, problems
        raise
    return found, problems


def _build(topo: Topology, source, params, arp, features, problems: list[Problem]):
    if callable(features):
        features = features() if _kernel_dependent(topo) else None
    features = None if features is None else frozenset(features)
    macs = addressing.assign_macs(topo, checks.declared_macs(topo))
    segs = find_segments(topo, macs)
    declared = checks.declared_addresses(topo)
    too_small = subnet_problems(segs, declared)
    problems += too_small
    try:
        addresses = addressing.assign_addresses(topo, segs, declared)
    except ValueError as exc:             # the address pool or a subnet ran out
        if not too_small:                 # (a subnet already reported as too small says it all)
            problems.append(Problem("addresses", str(exc), "declare smaller subnets or fewer interfaces"))
        return None
    links = tuple(Link(l.index, l.ends[0].key, l.ends[1].key, _settings(l)) for l in topo.links)
    by_end = {end: link for link in links for end in (link.a, link.b)}
    nodes = tuple(_node(spec, topo, by_end, addresses, macs, features) for spec in topo.nodes)
    seg_plans = tuple(Segment(s.index, addressing.network_of(s, addresses), s.interfaces, s.switches)
                      for s in segs)
    nodes = routes.add_routes(topo, nodes, seg_plans, addresses)
    problems += routes.gateway_problems(topo, nodes)
    problems += ipv6_problems(topo, nodes)
    planned = Planned(topo, macs, addresses, seg_plans, nodes, links, features, problems)
    for concern in concerns.REGISTRY:
        records = concern.plan(planned)
        if records is not None:
            planned.concerns[concern.name] = records
    backend_records = []
    for name, backend in backends.REGISTRY.items():
        records = backend.plan(planned, topo.of_backend(name))
        if records is not None:
            backend_records.append((name, records))
    hosts = tuple((n.name, n.addresses[0].split("/")[0]) for n in nodes if n.role == "l3" and n.addresses)
    result = Plan(source=source, params=tuple(sorted((params or {}).items())), nodes=nodes, links=links,
                  segments=seg_plans, hosts=hosts, arp=arp, concerns=tuple(planned.concerns.items()),
                  backends=tuple(backend_records))
    refusals = [r for r in (*(b.refusal(topo, result, features) for b in backends.REGISTRY.values()),
                            *(c.refusal(topo, result, features) for c in concerns.REGISTRY)) if r]
    return result, refusals


def _kernel_dependent(topo: Topology) -> bool:
    """Whether the plan depends on what the kernel can do: dummy devices (ifb where the kernel
    has no dummy driver), and whatever a plug-in says."""
    return any(d.kind == "dummy" for n in topo.nodes for d in n.devices) or \
        any(c.depends_on_kernel(topo) for c in concerns.REGISTRY) or \
        any(b.depends_on_kernel(topo) for b in backends.REGISTRY.values())


def device_kind(kind: str, features: frozenset | None) -> str:
    """The link kind a device is made as: a dummy is an ifb on a kernel without the dummy driver
    (the same stand-alone, always-up interface; `testbed doctor` says so)."""
    if kind == "dummy" and features is not None and "dummy" not in features and "ifb" in features:
        return "ifb"
    return kind


def _settings(link) -> tuple[tuple[str, Any], ...]:
    """The link settings echoed in the plan (as written), in the concerns' order."""
    names = [n for c in concerns.REGISTRY for n in c.link_settings]
    return tuple((k, link.raw[k]) for k in names if k in link.raw)


def subnet_problems(segs, declared: Mapping[tuple[str, str], str]) -> list[Problem]:
    """Declared addresses of one LAN share its subnet, and the subnet has room for the LAN."""
    problems = []
    for seg in segs:
        nets: dict[str, list[str]] = {}
        for member in seg.interfaces:
            cidr = declared.get(member)
            if cidr is not None:
                nets.setdefault(str(ipaddress.ip_interface(cidr).network), []).append(f"{member[0]}/{member[1]}={cidr}")
        if len(nets) > 1:
            first = next(iter(nets))
            for net, members in list(nets.items())[1:]:
                problems.append(Problem(", ".join(members), f"IP outside the link's subnet {first} "
                                        f"(shared with {', '.join(nets[first])})",
                                        "put every interface of one LAN in the same subnet"))
        elif nets:
            net = ipaddress.ip_network(next(iter(nets)))
            room = net.num_addresses if net.prefixlen >= net.max_prefixlen - 1 else net.num_addresses - 2
            if len(seg.interfaces) > room:
                problems.append(Problem(", ".join(next(iter(nets.values()))),
                                        f"subnet {net} has room for {room} address(es) but its LAN has "
                                        f"{len(seg.interfaces)} interfaces", "use a shorter prefix (a bigger subnet)"))
    return problems


def ipv6_problems(topo: Topology, nodes: tuple[Node, ...]) -> list[Problem]:
    """IPv6 is off in a node unless it sets ipv6=True; the kernel refuses IPv6 addresses then."""
    return [Problem(f"node {n.name!r}", f"has IPv6 address(es) {', '.join(v6)} but IPv6 is off in it",
                    "set ipv6=True on the node")
            for n in nodes
            for v6 in [[a for a in n.addresses if ipaddress.ip_interface(a).version == 6]]
            if v6 and topo.node(n.name).get("ipv6", False) is not True]


def _node(spec: NodeSpec, topo: Topology, by_end, addresses, macs, features=None) -> Node:
    name = spec.name
    kind = spec.kind
    masters = {port: dev.name for dev in spec.devices if dev.kind == "bridge" for port in dev.ports}
    interfaces: list[Interface] = []
    if spec.switching:
        interfaces.append(backends.get(spec.backend).device(spec, macs[(name, name)], topo))
    for dev in spec.devices:
        bridge = _device_bridge(dev) if dev.kind == "bridge" else None
        interfaces.append(Interface(name=dev.name, kind=device_kind(dev.kind, features), mac=macs[(name, dev.name)],
                                    addresses=_addr(addresses, name, dev.name), bridge=bridge, parent=dev.parent,
                                    mode=dev.mode if dev.parent else None))
    for end in spec.ends:
        link = by_end[end.key]
        master = name if spec.switching else masters.get(end.ifname)
        interfaces.append(Interface(name=end.ifname, kind="veth", mac=macs[end.key],
                                    addresses=() if master else _addr(addresses, name, end.ifname),
                                    master=master, peer=link.other(name), link=link.index))
    sysctls = () if spec.get("ipv6", False) else NO_IPV6
    if kind.forwards:
        sysctls += FORWARDING
    sysctls += tuple(spec.get("sysctls") or ())
    settings = kind.plan(spec) if kind.plan is not None else ()
    return Node(name=name, kind=kind.name, role=kind.role, interfaces=tuple(interfaces), sysctls=sysctls,
                settings=settings)


def _device_bridge(dev) -> BridgeOptions:
    """An in-node bridge; with STP it gets the short forward delay switches get (not the kernel's 15 s)."""
    if dev.stp:
        return BridgeOptions(stp=True, forward_delay=STP_FORWARD_DELAY_MIN)
    return BridgeOptions(stp=False)


def _addr(addresses, node, ifname) -> tuple[str, ...]:
    cidr = addresses.get((node, ifname))
    return (cidr,) if cidr else ()
