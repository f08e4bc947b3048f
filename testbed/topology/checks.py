"""Graph conventions and validation: every problem of a topology, each naming where it is.

Validation is pure: it reads the graph and returns a list of Problems (empty when the
topology can be built). Nothing here touches the kernel.
"""
from __future__ import annotations

import difflib
import ipaddress
from typing import Any, Iterable, Mapping

import networkx as nx

from testbed import kinds
from testbed.topology import values as checks
from testbed import concerns as features
from testbed.topology import graphs
from testbed.concerns import shaping
from testbed.topology import vlan_checks
from testbed.errors import Problem, TopologyError
from testbed.planning.segments import node_devices, segments

# Link settings (applied by the shaping layer, which checks them: see testbed/shaping.py).
SHAPING_ATTRS: dict[str, checks.Checker] = {attr: checks.anything for attr in shaping.ATTRS}
LINK_ATTRS: dict[str, checks.Checker] = dict(
    SHAPING_ATTRS,
    intf=checks.anything, ip=checks.anything, mac=checks.anything,
    label=checks.anything, meta=checks.anything,
    port=checks.anything,      # switch port settings keyed by the switch end (features.portsec)
    vlan=checks.vlan, trunk=checks.vlan_list,      # VLANs: see testbed/vlan_checks.py
)
DEVICE_KINDS = ("bridge", "dummy", "macvlan")
DEVICE_ATTRS = ("kind", "ports", "ip", "mac", "stp", "parent", "mode")
LOOPBACK = "lo"


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def _known(choices: Iterable[str]) -> str:
    return "known: " + ", ".join(sorted(choices))


def validate(graph: Any) -> list[Problem]:
    """Every problem of ``graph``; an empty list means it can be planned and built."""
    if not isinstance(graph, nx.Graph):
        return [Problem("topology", f"topology() returned {type(graph).__name__}, not a networkx graph",
                        "return nx.Graph() or nx.MultiGraph() from topology()")]
    if graph.is_directed():
        return [Problem("topology", "the graph is directed; links are undirected",
                        "build an nx.Graph or nx.MultiGraph, or call .to_undirected()")]
    problems: list[Problem] = []
    for node, attrs in graph.nodes(data=True):
        problems += _check_node(graph, node, attrs)
    ports = graphs.port_names(graph) if not any(p.what.startswith("node name") for p in problems) else None
    for link in graphs.links(graph):
        problems += _check_link(graph, link, ports)
    if ports is not None:
        problems += _check_interface_names(graph, ports)
        problems += _check_given_twice(graph)
        problems += _check_duplicates(graph, ports)
        problems += _check_segments(graph, ports)
        problems += _check_loops(graph, ports)
        problems += features.problems(graph, ports)
        problems += vlan_checks.check(graph)
    return problems


def require_valid(graph: Any, source: str = "topology") -> None:
    """Raise TopologyError with every problem unless the graph is valid."""
    problems = validate(graph)
    if problems:
        raise TopologyError(problems, source)


# ---------------------------------------------------------------- nodes

def _check_node(graph: nx.Graph, node: Any, attrs: Mapping[str, Any]) -> list[Problem]:
    where = f"node {node!r}"
    name_error = checks.node_name(node)
    if name_error:
        return [Problem(where, name_error, "rename the node")]
    users = [str(n) for n in graph.adj[node] if n != node]
    if not attrs and users:
        return [Problem(where, f"is used by a link (to {', '.join(users)}) but was never declared",
                        f"add it with G.add_node({node!r}, kind=...) or fix the link's node name")]
    kind_name = attrs.get("kind")
    if kind_name is None:
        return [Problem(where, "has no 'kind'", f"set kind to one of {', '.join(kinds.names())}")]
    kind = kinds.get(kind_name)
    if kind is None:
        hint = _suggest(str(kind_name), kinds.names()) or _known(kinds.names())
        return [Problem(where, f"unknown kind {kind_name!r}", hint)]
    problems = []
    for key, value in attrs.items():
        if key == "kind" or key in kinds.FREE_ATTRS:
            continue
        checker = kind.attrs.get(key)
        if checker is None:
            hint = _suggest(key, kind.attrs) or _known(kind.attrs)
            problems.append(Problem(where, f"unknown attribute {key!r} for kind {kind.name!r}", hint))
            continue
        error = checker(value)
        if error:
            problems.append(Problem(where, f"attribute {key!r}: {error}"))
    if kind.role == "l3":
        problems += _check_l3_node(graph, node, attrs)
    return problems


def _check_l3_node(graph: nx.Graph, node: Any, attrs: Mapping[str, Any]) -> list[Problem]:
    where = f"node {node!r}"
    problems = []
    raw_devices = attrs.get("interfaces")
    if raw_devices is not None and not isinstance(raw_devices, Mapping):
        problems.append(Problem(where, "'interfaces' must be a dict of name -> settings",
                                "e.g. interfaces={'br0': {'kind': 'bridge', 'ports': ['nic1', 'nic2']}}"))
    for name, spec in (raw_devices or {}).items() if isinstance(raw_devices, Mapping) else ():
        dwhere = f"{where} interface {name!r}"
        if not isinstance(spec, Mapping):
            problems.append(Problem(dwhere, "settings must be a dict like {'kind': 'dummy'}"))
            continue
        if spec.get("kind") not in DEVICE_KINDS:
            problems.append(Problem(dwhere, f"kind {spec.get('kind')!r} is not one of {', '.join(DEVICE_KINDS)}"))
        for key in spec:
            if key not in DEVICE_ATTRS:
                problems.append(Problem(dwhere, f"unknown setting {key!r}",
                                        _suggest(key, DEVICE_ATTRS) or _known(DEVICE_ATTRS)))
        for key, checker in (("ip", checks.cidr), ("mac", checks.mac), ("stp", checks.boolean)):
            if key in spec and checker(spec[key]):
                problems.append(Problem(dwhere, f"{key}: {checker(spec[key])}"))
        ports = spec.get("ports", [])
        if spec.get("kind") == "bridge" and (not isinstance(ports, (list, tuple)) or not ports):
            problems.append(Problem(dwhere, "a bridge needs 'ports': a list of the node's interface names"))
    routes = attrs.get("routes")
    if routes is not None:
        if not isinstance(routes, (list, tuple)):
            problems.append(Problem(where, "'routes' must be a list of {'dst': CIDR, 'via': IP}"))
        else:
            for i, route in enumerate(routes):
                if not isinstance(route, Mapping) or checks.network(route.get("dst")) or \
                        checks.ip_address(route.get("via")):
                    problems.append(Problem(f"{where} route {i}", f"{route!r} is not {{'dst': network, 'via': IP}}",
                                            "e.g. {'dst': '10.2.0.0/24', 'via': '10.1.0.1'}"))
    default = attrs.get("default_route")
    if default is not None and default != "none" and checks.ip_address(default):
        target = graph.nodes[default] if default in graph.nodes else None
        if target is None or target.get("kind") not in ("router", "nat"):
            problems.append(Problem(where, f"default_route {default!r} is neither an IP address nor a router's name",
                                    "give the gateway's IP, the name of a router on the same LAN, or 'none'"))
    sysctls = attrs.get("sysctls")
    if sysctls is not None and not (isinstance(sysctls, Mapping) and all(
            isinstance(k, str) and k.startswith("net.") for k in sysctls)):
        problems.append(Problem(where, "'sysctls' must map 'net.*' keys to values",
                                "only per-namespace net.* settings can be set per node"))
    if attrs.get("ip") is not None and not any(True for _ in graphs.incident(graph, node)):
        problems.append(Problem(where, "has 'ip' but no link to put it on", "add a link or move the ip to a device"))
    return problems


# ---------------------------------------------------------------- links

def _check_link(graph: nx.Graph, link: graphs.LinkRef, ports) -> list[Problem]:
    where = link.label
    if link.u == link.v:
        return [Problem(where, "connects a node to itself", "remove the self-loop")]
    problems = []
    for key, value in link.data.items():
        checker = LINK_ATTRS.get(key)
        if key in SHAPING_ATTRS:
            continue                                # checked together below
        if checker is None:
            problems.append(Problem(where, f"unknown link attribute {key!r}",
                                    _suggest(key, LINK_ATTRS) or _known(LINK_ATTRS)))
            continue
        if key in graphs.PER_END_ATTRS:
            if not isinstance(value, Mapping):
                problems.append(Problem(where, f"{key!r} must be a dict keyed by node name",
                                        f"e.g. {key}={{{str(link.u)!r}: ..., {str(link.v)!r}: ...}}"))
                continue
            for end in value:
                if end not in (link.u, link.v):
                    problems.append(Problem(where, f"{key!r} names {end!r}, which is not an end of this link",
                                            f"use {link.u!r} or {link.v!r}"))
            continue
        error = checker(value)
        if error:
            problems.append(Problem(where, f"{key}: {error}"))
    problems += [Problem(where, what, fix) for what, fix in shaping.setting_problems(link.data, (link.u, link.v))]
    for end in (link.u, link.v):
        kind = kinds.get(graph.nodes[end].get("kind"))
        ip, mac = link.end("ip", end), link.end("mac", end)
        if ip is not None:
            if kind is not None and kind.switching:
                problems.append(Problem(where, f"gives an ip to {end!r}, a {kind.name}; switch ports have no addresses",
                                        "put the address on the host or router end"))
            elif checks.cidr(ip):
                problems.append(Problem(where, f"ip of {end!r}: {checks.cidr(ip)}"))
        if mac is not None and checks.mac(mac):
            problems.append(Problem(where, f"mac of {end!r}: {checks.mac(mac)}"))
    return problems


def _check_interface_names(graph: nx.Graph, ports) -> list[Problem]:
    problems = []
    for node in graph.nodes:
        kind = kinds.get(graph.nodes[node].get("kind"))
        names: list[str] = []
        for nbr, key in graphs.incident(graph, node):
            names.append(ports[graphs.link_id(node, nbr, key)][node])
        devices = node_devices(graph.nodes[node])
        if kind is not None and kind.switching:
            names.append(str(node))        # the bridge device carries the node's name
        names += list(devices)
        seen: set[str] = set()
        for name in names:
            error = checks.ifname(name)
            if error:
                problems.append(Problem(f"node {node!r}", error,
                                        "shorten the node name or name the interface with the link's 'intf'"))
            elif name == LOOPBACK:
                problems.append(Problem(f"node {node!r}", f"interface name {name!r} is the loopback every "
                                        "namespace already has", "choose another 'intf' name"))
            if name in seen:
                problems.append(Problem(f"node {node!r}", f"two interfaces are named {name!r}",
                                        "give each link end its own 'intf' name"))
            seen.add(name)
        link_names = set(names) - set(devices)
        used: set[str] = set()
        for dname, spec in devices.items():
            for port in spec.get("ports") or () if isinstance(spec.get("ports"), (list, tuple)) else ():
                if port not in link_names:
                    problems.append(Problem(f"node {node!r} interface {dname!r}",
                                            f"port {port!r} is not one of the node's link interfaces",
                                            "known: " + ", ".join(sorted(link_names))))
                if port in used:
                    problems.append(Problem(f"node {node!r} interface {dname!r}",
                                            f"port {port!r} is already in another bridge"))
                used.add(port)
    return problems


# ---------------------------------------------------------------- global checks

def declared_addresses(graph: nx.Graph, ports) -> dict[tuple[str, str], str]:
    """(node, ifname) -> CIDR for every address the topology gives explicitly."""
    found: dict[tuple[str, str], str] = {}
    for node, attrs in graph.nodes(data=True):
        first = next(iter(graphs.incident(graph, node)), None)
        if attrs.get("ip") not in (None, "dhcp") and first is not None:
            found[(str(node), ports[graphs.link_id(node, *first)][node])] = attrs["ip"]
        for name, spec in node_devices(attrs).items():
            if spec.get("ip") is not None:
                found[(str(node), name)] = spec["ip"]
    for link in graphs.links(graph):
        for end in (link.u, link.v):
            ip = link.end("ip", end)
            if ip is not None and link.u != link.v:
                found[(str(end), ports[graphs.link_id(link.u, link.v, link.key)][end])] = ip
    return found


def declared_macs(graph: nx.Graph, ports) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for node, attrs in graph.nodes(data=True):
        kind = kinds.get(attrs.get("kind"))
        if attrs.get("mac") is not None:
            if kind is not None and kind.switching:
                found[(str(node), str(node))] = attrs["mac"]
            else:
                first = next(iter(graphs.incident(graph, node)), None)
                if first is not None:
                    found[(str(node), ports[graphs.link_id(node, *first)][node])] = attrs["mac"]
        for name, spec in node_devices(attrs).items():
            if spec.get("mac") is not None:
                found[(str(node), name)] = spec["mac"]
    for link in graphs.links(graph):
        for end in (link.u, link.v):
            mac = link.end("mac", end)
            if mac is not None and link.u != link.v:
                found[(str(end), ports[graphs.link_id(link.u, link.v, link.key)][end])] = mac
    return found


def _check_given_twice(graph: nx.Graph) -> list[Problem]:
    """A node's 'ip'/'mac' is for its first link; that link must not set another one for it."""
    problems = []
    for node, attrs in graph.nodes(data=True):
        first = next(iter(graphs.incident(graph, node)), None)
        if first is None:
            continue
        data = graph.edges[node, first[0], first[1]] if graph.is_multigraph() else graph.edges[node, first[0]]
        link = graphs.LinkRef(node, first[0], first[1], data)
        for attr in ("ip", "mac"):
            on_link = link.end(attr, node)
            if attrs.get(attr) is not None and on_link is not None and on_link != attrs[attr]:
                problems.append(Problem(f"node {node!r}", f"{attr!r} is {attrs[attr]!r} on the node but "
                                        f"{on_link!r} on its first {link.label}",
                                        f"give the {attr} in one place"))
    return problems


def _check_duplicates(graph: nx.Graph, ports) -> list[Problem]:
    problems = []
    for what, table, norm in (("IP address", declared_addresses(graph, ports),
                               lambda v: str(ipaddress.ip_interface(v).ip) if not checks.cidr(v) else None),
                              ("MAC address", declared_macs(graph, ports),
                               lambda v: v.lower() if not checks.mac(v) else None)):
        owners: dict[str, list[str]] = {}
        for (node, ifname), value in table.items():
            key = norm(value)
            if key is not None:
                owners.setdefault(key, []).append(f"{node}/{ifname}")
        for value, where in owners.items():
            if len(where) > 1:
                problems.append(Problem(", ".join(where), f"duplicate {what} {value}",
                                        f"give each interface its own {what}"))
    return problems


def _check_segments(graph: nx.Graph, ports) -> list[Problem]:
    declared = declared_addresses(graph, ports)
    problems = []
    for seg in segments(graph, ports, declared_macs(graph, ports)):
        nets: dict[str, list[str]] = {}
        for member in seg.interfaces:
            cidr = declared.get(member)
            if cidr is not None and not checks.cidr(cidr):
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
                                        f"{len(seg.interfaces)} interfaces",
                                        "use a shorter prefix (a bigger subnet)"))
    return problems


def _check_loops(graph: nx.Graph, ports) -> list[Problem]:
    """An L2 loop (a cycle through switching nodes or in-node bridges) must have STP on every
    bridge in it."""
    l2 = nx.MultiGraph()
    stp: dict[str, bool] = {}
    bridge_of: dict[tuple[str, str], str] = {}        # (node, port ifname) -> in-node bridge vertex
    for node, attrs in graph.nodes(data=True):
        kind = kinds.get(attrs.get("kind"))
        if kind is not None and kind.switching:
            l2.add_node(str(node))
            stp[str(node)] = attrs.get("stp", False) is True
        elif kind is not None:
            for dname, spec in node_devices(attrs).items():
                if spec.get("kind") == "bridge" and isinstance(spec.get("ports"), (list, tuple)):
                    vertex = f"{node}/{dname}"
                    l2.add_node(vertex)
                    stp[vertex] = spec.get("stp", False) is True
                    for port in spec["ports"]:
                        bridge_of[(str(node), str(port))] = vertex

    def vertex(link: graphs.LinkRef, end: Any) -> str | None:
        if str(end) in stp:
            return str(end)
        return bridge_of.get((str(end), ports[graphs.link_id(link.u, link.v, link.key)][end]))

    for link in graphs.links(graph):
        if link.u == link.v:
            continue
        a, b = vertex(link, link.u), vertex(link, link.v)
        if a is not None and b is not None:
            l2.add_edge(a, b)
    problems = []
    for component in nx.connected_components(l2):
        sub = l2.subgraph(component)
        if sub.number_of_edges() < sub.number_of_nodes():
            continue                      # a tree: no loop
        loop_nodes = _nodes_on_cycles(sub)
        no_stp = [n for n in loop_nodes if not stp[n]]
        if no_stp:
            problems.append(Problem(
                "L2 loop through " + ", ".join(loop_nodes),
                f"frames would circle forever: no STP on {', '.join(no_stp)}",
                "set stp=True on every bridge/switch in the loop (hubs cannot run STP), or remove a link"))
    return problems


def _nodes_on_cycles(sub: nx.MultiGraph) -> list:
    simple = nx.Graph(sub)
    on_cycle: set = set()
    for cycle in nx.cycle_basis(simple):
        on_cycle.update(cycle)
    for u, v in simple.edges:
        if sub.number_of_edges(u, v) > 1:
            on_cycle.update((u, v))
    return sorted(on_cycle, key=str)
