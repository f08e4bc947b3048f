"""Resolve a networkx graph into the typed topology model, in one pass.

Every node gets its Kind (and switch backend), every attribute is checked against the
schema of its node or link (the kind's, the backend's and the concerns' attributes) and
parsed once, every link end gets its interface name, every in-node device its settings.
Nothing after this step reads networkx attributes.

``resolve`` never raises for a bad topology: it returns the model of what could be read
and every problem found. A problem that leaves the structure unknown (a node without a
valid name or kind, a graph that is not a graph) is *fatal*: planning does not go on.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

import networkx as nx

from testbed import backends, concerns, kinds
from testbed.errors import Problem, UsageError
from testbed.model import values
from testbed.model.schema import Attr, Invalid, Invalids, attr, table
from testbed.model.topology import Device, End, LinkSpec, NodeSpec, Topology

CORE_LINK_ATTRS: dict[str, Attr] = table(
    attr("intf", lambda v: None if isinstance(v, str) and v else f"interface name must be a non-empty string, "
         f"got {v!r}", "interface name of an end (default <node>-eth<N>, as Mininet; checked with the node's "
         "other names)", type="str (<= 15)", per_end=True, example="intf={'h1': 'eth0'}"),
    attr("ip", values.cidr, "address of an end's interface", type="CIDR", per_end=True,
         example="ip={'h1': '10.0.0.1/24'}"),
    attr("mac", values.mac, "MAC address of an end's interface", type="MAC", per_end=True,
         example="mac={'h1': '02:00:00:00:00:01'}"),
    attr("label", values.anything, "free text (drawings)", type="any"),
    attr("meta", values.anything, "anything of your own", type="any"),
)


@dataclass
class Resolution:
    topo: Topology | None
    problems: list[Problem] = field(default_factory=list)
    fatal: bool = False


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def known(choices: Iterable[str]) -> str:
    return "known: " + ", ".join(sorted(choices))


def link_schema() -> dict[str, Attr]:
    schema = dict(CORE_LINK_ATTRS)
    for concern in concerns.REGISTRY:
        schema.update(concern.link_attrs)
    return schema


def node_schema(kind) -> tuple[dict[str, Attr], dict[str, Any]]:
    """(attribute -> Attr, attribute -> the backend that owns it) for nodes of ``kind``."""
    schema = dict(kind.attrs)
    for concern in concerns.REGISTRY:
        if concern.accepts(kind):
            schema.update(concern.node_attrs)
    owners = {}
    for name in kind.backends:
        for key, spec in backends.get(name).attrs_for(kind).items():
            schema[key] = spec
            owners[key] = backends.get(name)
    return schema, owners


def resolve(graph: Any, switch: str | None = None) -> Resolution:
    """The model of ``graph`` and every problem found reading it."""
    if switch is not None and switch not in backends.names():
        raise UsageError(f"switch backend {switch!r}: known: {', '.join(backends.names())}")
    if not isinstance(graph, nx.Graph):
        what = graph.__name__ if isinstance(graph, type) else type(graph).__name__
        return Resolution(None, [Problem("topology", f"topology() returned {what}, not a networkx graph",
                                         "return nx.Graph() or nx.MultiGraph() from topology()")], fatal=True)
    if graph.is_directed():
        return Resolution(None, [Problem("topology", "the graph is directed; links are undirected",
                                         "build an nx.Graph or nx.MultiGraph, or call .to_undirected()")], fatal=True)
    if graph.number_of_nodes() == 0:
        return Resolution(None, [Problem("topology", "has no nodes", "add hosts and switches to the graph")],
                          fatal=True)
    reader = _Reader(graph, switch)
    return reader.run()


class _Reader:
    def __init__(self, graph: nx.Graph, switch: str | None):
        self.graph = graph
        self.switch = switch
        self.problems: list[Problem] = []
        self.fatal = False

    def problem(self, where: str, what: str, fix: str = "") -> None:
        self.problems.append(Problem(where, what, fix))

    def run(self) -> Resolution:
        graph = self.graph
        heads = {}
        for index, (name, attrs) in enumerate(graph.nodes(data=True)):
            head = self._node(index, name, attrs)
            if head is not None:
                heads[name] = head
        edges = list(_edges(graph))
        link_data = [self._link(u, v, key, data, heads) for u, v, key, data in edges]
        if self.fatal:
            return Resolution(None, self.problems, True)
        ports = self._port_names(edges, link_data, heads)
        links = []
        for index, ((u, v, key, data), (attrs, per_end)) in enumerate(zip(edges, link_data)):
            if u == v:
                continue
            a = End(u, ports[(index, u)], len(links), v, ports[(index, v)])
            b = End(v, ports[(index, v)], len(links), u, ports[(index, u)])
            links.append(LinkSpec(len(links), u, v, key, (a, b), MappingProxyType(attrs),
                                  MappingProxyType({n: MappingProxyType(d) for n, d in per_end.items()}),
                                  MappingProxyType(dict(data))))
        ends: dict[str, list[End]] = {name: [] for name in heads}
        for _, node, lid in self._incidence(edges):
            ends[node].append(links[lid].end(node))
        nodes = []
        for name, (index, kind, attrs, backend) in heads.items():
            nodes.append(NodeSpec(name, kind, index, MappingProxyType(attrs), tuple(ends[name]), (), backend))
        topo = Topology(tuple(nodes), tuple(links), graph.is_multigraph())
        nodes = [replace(n, devices=self._devices(topo, n)) for n in nodes]
        return Resolution(Topology(tuple(nodes), tuple(links), graph.is_multigraph()), self.problems, False)

    # ---------------------------------------------------------------- nodes

    def _node(self, index: int, name: Any, raw: Mapping[str, Any]):
        where = f"node {name!r}"
        error = values.node_name(name)
        if error:
            self.fatal = True
            self.problem(where, error, "rename the node")
            return None
        users = [str(n) for n in self.graph.adj[name] if n != name]
        if not raw and users:
            self.fatal = True
            self.problem(where, f"is used by a link (to {', '.join(users)}) but was never declared",
                         f"add it with G.add_node({name!r}, kind=...) or fix the link's node name")
            return None
        kind_name = raw.get("kind")
        if kind_name is None:
            self.fatal = True
            self.problem(where, "has no 'kind'", f"set kind to one of {', '.join(kinds.names())}")
            return None
        kind = kinds.get(kind_name)
        if kind is None:
            self.fatal = True
            self.problem(where, f"unknown kind {kind_name!r}", suggest(str(kind_name), kinds.names()) or
                         known(kinds.names()))
            return None
        schema, owners = node_schema(kind)
        backend = None
        if kind.switching:
            given = raw.get("backend")
            if given is not None:
                backend = given if given in kind.backends else backends.DEFAULT    # a bad one is reported below
            elif self.switch and kind.takes_switch_option and self.switch in kind.backends:
                backend = self.switch
            else:
                backend = backends.DEFAULT
        attrs: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "kind" or key in kinds.FREE_ATTRS:
                continue
            spec = schema.get(key)
            if spec is None:
                self.problem(where, f"unknown attribute {key!r} for kind {kind.name!r}",
                             suggest(str(key), schema) or known(schema))
                continue
            owner = owners.get(key)
            if owner is not None and owner.name != backend:
                self.problem(where, f"attribute {key!r} needs {owner.title}",
                             f"set backend={owner.name!r} on {name!r} (or build with --switch {owner.name})")
                continue
            parsed = self._parse(spec, value, where, f"attribute {key!r}: ")
            if parsed is not _BAD:
                attrs[key] = parsed
        for key, spec in schema.items():
            if spec.required and key not in raw:
                self.problem(where, f"a {kind.name} needs {key!r}: {spec.help}", f"e.g. {spec.example}" if spec.example else "")
        return (index, kind, attrs, backend)

    def _parse(self, spec: Attr, value: Any, where: str, prefix: str):
        """The parsed value, or _BAD after recording what is wrong with it."""
        try:
            return spec.parse(value)
        except Invalids as many:
            for item in many.items:
                self.problem(f"{where} {item.where}" if item.where else where, item.what, item.fix)
        except Invalid as one:
            self.problem(f"{where} {one.where}" if one.where else where, one.what, one.fix)
        except (ValueError, TypeError, OverflowError) as exc:
            self.problem(where, f"{prefix}{exc}")
        return _BAD

    # ---------------------------------------------------------------- links

    def _link(self, u: Any, v: Any, key: Any, data: Mapping[str, Any], heads) -> tuple[dict, dict]:
        suffix = f" (key {key!r})" if key not in (0, None) else ""
        where = f"link {u}--{v}{suffix}"
        attrs: dict[str, Any] = {}
        per_end: dict[str, dict[str, Any]] = {}
        if u == v:
            self.problem(where, "connects a node to itself", "remove the self-loop")
            return attrs, per_end
        schema = link_schema()
        for name, value in data.items():
            spec = schema.get(name)
            if spec is None:
                self.problem(where, f"unknown link attribute {name!r}", suggest(str(name), schema) or known(schema))
                continue
            if spec.per_end:
                self._per_end(where, spec, value, (u, v), per_end)
            elif spec.either and isinstance(value, Mapping):
                parsed = {}
                for end, one in value.items():
                    if end not in (u, v):
                        self.problem(where, f"{name!r} names {end!r}, which is not an end of this link",
                                     f"key it by {u!r} or {v!r} (the end that sends)")
                        continue
                    result = self._parse(spec, one, where, f"{name} of {end!r}: ")
                    if result is not _BAD:
                        parsed[end] = result
                attrs[name] = parsed
            else:
                parsed = self._parse(spec, value, where, f"{name}: ")
                if parsed is not _BAD:
                    attrs[name] = parsed
        for end in (u, v):
            head = heads.get(end)
            if head is not None and head[1].switching and "ip" in per_end.get(end, {}):
                self.problem(where, f"gives an ip to {end!r}, a {head[1].name}; switch ports have no addresses",
                             "put the address on the host or router end")
                del per_end[end]["ip"]
        return attrs, per_end

    def _per_end(self, where: str, spec: Attr, value: Any, ends: tuple, per_end: dict) -> None:
        name = spec.name
        if not isinstance(value, Mapping):
            self.problem(where, f"{name!r} must be a dict keyed by node name",
                         f"e.g. {name}={{{str(ends[0])!r}: ..., {str(ends[1])!r}: ...}}")
            return
        for end, one in value.items():
            if end not in ends:
                self.problem(where, f"{name!r} names {end!r}, which is not an end of this link",
                             f"use {ends[0]!r} or {ends[1]!r}")
                continue
            parsed = self._parse(spec, one, f"{where} {name} of {end!r}" if name == "port" else where,
                                 f"{name} of {end!r}: ")
            if parsed is not _BAD:
                per_end.setdefault(end, {})[name] = parsed

    def _incidence(self, edges) -> Iterator[tuple[int, Any, int]]:
        """(position, node, link index) of every link end, each node's ends in the order its
        links were added (networkx's adjacency order)."""
        lid_of: dict[tuple, int] = {}
        lid = 0
        for u, v, key, _ in edges:
            if u == v:
                continue
            lid_of[(u, v, key)] = lid_of[(v, u, key)] = lid
            lid += 1
        position = 0
        for node in self.graph.nodes:
            for nbr, key in _incident(self.graph, node):
                yield position, node, lid_of[(node, nbr, key)]
                position += 1

    def _port_names(self, edges, link_data, heads) -> dict[tuple[int, Any], str]:
        """(edge index, node) -> interface name: the given ``intf``, else <node>-eth<N> where N
        counts the node's links from the kind's port base (Mininet: hosts 0, switches 1)."""
        index_of: dict[tuple, int] = {}
        for i, (u, v, key, _) in enumerate(edges):
            index_of[(u, v, key)] = index_of[(v, u, key)] = i
        names: dict[tuple[int, Any], str] = {}
        for node in self.graph.nodes:
            base = heads[node][1].port_base if node in heads else 0
            for position, (nbr, key) in enumerate(_incident(self.graph, node)):
                i = index_of[(node, nbr, key)]
                given = link_data[i][1].get(node, {}).get("intf")
                names[(i, node)] = given if given is not None else f"{node}-eth{base + position}"
        return names

    # ---------------------------------------------------------------- devices

    def _devices(self, topo: Topology, node: NodeSpec) -> tuple[Device, ...]:
        result = []
        for dev in node.get("interfaces") or ():
            parent = _macvlan_parent(topo, dev.parent_text) if dev.kind == "macvlan" else None
            result.append(replace(dev, node=node.name, parent=parent))
        return tuple(result)


_BAD = object()


def _macvlan_parent(topo: Topology, text: Any) -> tuple[str, str] | None:
    """The (node, ifname) a macvlan names as its lower device, if it is a link end there."""
    if not isinstance(text, str):
        return None
    name, _, ifname = text.partition(":")
    if name not in topo:
        return None
    ends = topo.node(name).ends
    if not ifname:
        return (name, ends[0].ifname) if len(ends) == 1 else None
    return (name, ifname) if any(e.ifname == ifname for e in ends) else None


def _edges(graph: nx.Graph) -> Iterator[tuple[Any, Any, Any, Mapping]]:
    """Every edge once, in the graph's deterministic edge order."""
    if graph.is_multigraph():
        yield from graph.edges(keys=True, data=True)
    else:
        for u, v, data in graph.edges(data=True):
            yield u, v, 0, data


def _incident(graph: nx.Graph, node: Any) -> Iterator[tuple[Any, Any]]:
    """(neighbour, key) of every link at ``node``, in the order its links were added."""
    for nbr, val in graph.adj[node].items():
        if nbr == node:
            continue
        if graph.is_multigraph():
            for key in val:
                yield nbr, key
        else:
            yield nbr, 0
