"""graph -> Plan, as a list of steps over the resolved topology; every problem collected.

    resolve     the graph read once into the typed model (testbed/topology/resolve.py)
    check       the core checks, every concern's and every switch backend's
    macs        declared MACs kept, the others generated
    segments    broadcast domains (VLAN-aware)
    subnets     declared addresses agree with their LAN; it has room
    addresses   a subnet per LAN, addresses assigned (gateways first); IPv6 the same way
    nodes       interfaces, devices, sysctls, the kinds' own settings
    routes      static routes (not for nodes a concern routes: dynamic routing), default
                routes (per address family); gateways reachable
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
# IPv6 on, set before the node's interfaces are made (a node's own sysctls come after, and win):
#   accept_dad=0             addresses usable at once: no duplicate-address detection on the links
#                            the run owns (turned back on, the build waits for it)
#   keep_addr_on_down=1      addresses kept while a link is down, as IPv4 ones are
#   force_mld_version=1      quiet LANs: with no querier every multicast listener report is flooded
#   router_solicitations=0   to every port, so a big LAN's build would spend its time on them (one
#                            MLDv1 report per address and a repeat, instead of four MLDv2 reports
#                            and three router solicitations per interface)
#   accept_ra=0              addresses and routes are the plan's: a router advertising (ra=True) on
#                            the LAN changes nothing on a node that does not ask for SLAAC
IPV6 = (("net.ipv6.conf.default.accept_dad", "0"), ("net.ipv6.conf.default.keep_addr_on_down", "1"),
        ("net.ipv6.conf.default.force_mld_version", "1"), ("net.ipv6.conf.default.router_solicitations", "0"),
        ("net.ipv6.conf.default.accept_ra", "0"))
# A node with ip6="slaac" takes router advertisements, and solicits them whenever its link comes
# up (three, a second apart) so that a link brought back up gets its address again at once.
SLAAC = (("net.ipv6.conf.default.accept_ra", "1"), ("net.ipv6.conf.default.router_solicitations", "3"),
         ("net.ipv6.conf.default.router_solicitation_interval", "1"))
FORWARDING = (("net.ipv4.ip_forward", "1"),)
FORWARDING6 = (("net.ipv6.conf.all.forwarding", "1"),)
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
    declared6 = checks.declared_addresses6(topo)
    too_small = subnet_problems(segs, declared) + subnet_problems(segs, declared6)
    problems += too_small
    try:
        addresses = addressing.assign_addresses(topo, segs, declared)
        addresses6 = addressing.assign_addresses6(topo, segs, declared6, macs)
    except ValueError as exc:             # the address pool or a subnet ran out
        if not too_small:                 # (a subnet already reported as too small says it all)
            problems.append(Problem("addresses", str(exc), "declare smaller subnets or fewer interfaces"))
        return None
    links = tuple(Link(l.index, l.ends[0].key, l.ends[1].key, _settings(l)) for l in topo.links)
    by_end = {end: link for link in links for end in (link.a, link.b)}
    nodes = tuple(_node(spec, topo, by_end, (addresses, addresses6), macs, features) for spec in topo.nodes)
    seg_plans = tuple(Segment(s.index, addressing.network_of(s, addresses), s.interfaces, s.switches,
                              addressing.network_of(s, addresses6)) for s in segs)
    owned = frozenset().union(*(c.owns_routes(topo) for c in concerns.REGISTRY))
    nodes = routes.add_routes(topo, nodes, seg_plans, addresses, addresses6, owned)
    problems += routes.gateway_problems(topo, nodes)
    planned = Planned(topo, macs, addresses, seg_plans, nodes, links, features, problems, addresses6=addresses6)
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


def stand_ins(result: Plan) -> list[str]:
    """What the plan makes differently from what the topology asked, on this kernel: every
    ifb interface of a plan stands in for a dummy (a topology cannot ask for an ifb)."""
    return [f"{node.name}:{intf.name} is a dummy device, made as an ifb: this kernel has no dummy "
            "driver (an ifb is the same stand-alone, always-up interface; `testbed doctor` shows the driver)"
            for node in result.nodes for intf in node.interfaces if intf.kind == "ifb"]


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
                                    addresses=_addr(addresses, (name, dev.name)), bridge=bridge, parent=dev.parent,
                                    mode=dev.mode if dev.parent else None))
    for end in spec.ends:
        link = by_end[end.key]
        master = name if spec.switching else masters.get(end.ifname)
        slaac = spec.ipv6 and spec.get("ip6") == "slaac" and end.key == spec.first.key and not master
        interfaces.append(Interface(name=end.ifname, kind="veth", mac=macs[end.key],
                                    addresses=() if master else _addr(addresses, end.key),
                                    master=master, peer=link.other(name), link=link.index, slaac=slaac))
    sysctls = IPV6 if spec.ipv6 else NO_IPV6
    if any(i.slaac for i in interfaces):
        sysctls = tuple(kv for kv in sysctls if kv[0] not in dict(SLAAC)) + SLAAC
    if kind.forwards:
        sysctls += FORWARDING + (FORWARDING6 if spec.ipv6 else ())
    sysctls += tuple(spec.get("sysctls") or ())
    settings = kind.plan(spec) if kind.plan is not None else ()
    return Node(name=name, kind=kind.name, role=kind.role, interfaces=tuple(interfaces), sysctls=sysctls,
                settings=settings)


def _device_bridge(dev) -> BridgeOptions:
    """An in-node bridge; with STP it gets the short forward delay switches get (not the kernel's 15 s)."""
    if dev.stp:
        return BridgeOptions(stp=True, forward_delay=STP_FORWARD_DELAY_MIN)
    return BridgeOptions(stp=False)


def _addr(families, key: tuple[str, str]) -> tuple[str, ...]:
    """The interface's addresses: its IPv4 one, then its IPv6 one."""
    return tuple(cidr for addresses in families if (cidr := addresses.get(key)))
