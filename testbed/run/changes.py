"""Changing a running Network: nodes and links added and removed, links reshaped.

    net.add_node("h3", kind="host")
    net.add_link("h3", "s1", bw=10)
    net.set_link("h1", "s1", bw=20)          # the link's shaping re-planned and re-applied
    net.set_link("h1", "s1", bw={"h1": 5})   # one direction (what h1 sends)
    net.remove_link("h3", "s1")
    net.remove_node("h3")
    with net.changes():                      # several changes: one re-plan, one deploy
        net.add_node("h4", kind="host")
        net.add_link("h4", "s1")

Every change goes through the planner: the network's graph is copied with every existing
interface's name, MAC and address pinned, the change is made to the copy, and the copy is
planned in full (so a bad setting is refused with the planner's problems before anything
is touched). testbed.deploy.change then finds the difference between the two plans and
makes it, journal first; what a running network cannot change (a VLAN, port security, an
in-node device...) is refused, naming it. A new link end with no ``intf`` is named
``<node>-eth<N>`` after the highest N the node has, as Mininet numbers new ports.
"""
from __future__ import annotations

import ipaddress
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

import networkx as nx

from testbed import kinds
from testbed.concerns.shaping import ATTRS as SHAPING_ATTRS
from testbed.deploy import change as deploy_change
from testbed.errors import UsageError
from testbed.model.plan import Plan

if TYPE_CHECKING:
    from testbed.run.network import Network

Operation = Callable[[nx.Graph], None]


def edges(graph: nx.Graph) -> Iterator[tuple[Any, Any, Any, dict]]:
    """Every edge once with its key (0 in a simple graph), in the order the planner reads them."""
    if graph.is_multigraph():
        yield from graph.edges(keys=True, data=True)
    else:
        for u, v, data in graph.edges(data=True):
            yield u, v, 0, data


def clone(graph: nx.Graph) -> nx.Graph:
    """A copy of an undirected graph that keeps each node's order of neighbours.

    ``Graph.copy()`` re-adds the edges, which reorders the neighbours of a node, and the
    planner numbers a node's ports in that order; so the copy is made entry by entry.
    """
    copy = graph.__class__()
    copy.graph.update(graph.graph)
    copy.add_nodes_from((n, dict(d)) for n, d in graph.nodes(data=True))
    shared: dict[frozenset, dict] = {}
    for u, nbrs in graph.adj.items():
        for v, value in nbrs.items():
            pair = frozenset((u, v))
            if pair not in shared:
                shared[pair] = {k: dict(d) for k, d in value.items()} if graph.is_multigraph() else dict(value)
            copy._adj[u][v] = shared[pair]
    return copy


def pinned(graph: nx.Graph, plan: Plan) -> nx.Graph:
    """A copy of ``graph`` whose every planned link end has its interface name, MAC and (one
    IPv4) address given explicitly, so a new plan of the copy keeps them whatever is added."""
    copy = clone(graph)
    links = iter(plan.links)
    for u, v, _key, data in edges(copy):
        if u == v:
            continue
        link = next(links)
        intf, mac, ip = dict(data.get("intf") or {}), dict(data.get("mac") or {}), dict(data.get("ip") or {})
        for node, ifname in (link.a, link.b):
            spec = plan.node(node)
            planned = spec.interface(ifname)
            intf[node], mac[node] = ifname, planned.mac
            v4 = [a for a in planned.addresses if ipaddress.ip_interface(a).version == 4]
            if spec.role == "l3" and len(planned.addresses) == 1 and v4:
                ip[node] = v4[0]
        data["intf"], data["mac"] = intf, mac
        if ip:
            data["ip"] = ip
    for node in plan.nodes:
        attrs = copy.nodes[node.name]
        if any(i.peer for i in node.interfaces):           # its first link now carries ip and mac
            for key in ("ip", "mac"):
                if key in attrs and attrs[key] != "dhcp":
                    del attrs[key]
    return copy


def port_name(graph: nx.Graph, node: str) -> str:
    """``<node>-eth<N>`` for a new link end: one above the highest N the node has (Mininet's newPort)."""
    pattern = re.compile(rf"^{re.escape(str(node))}-eth(\d+)$")
    numbers = []
    for u, v, _key, data in edges(graph):
        if node in (u, v):
            name = (data.get("intf") or {}).get(node)
            match = pattern.match(name) if isinstance(name, str) else None
            if match:
                numbers.append(int(match.group(1)))
    kind = kinds.get(graph.nodes[node].get("kind"))
    base = kind.port_base if kind is not None else 0
    return f"{node}-eth{max(numbers) + 1 if numbers else base}"


class Batch:
    """Changes waiting to be made together (``Network.changes()``)."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []


def request(net: "Network", operation: Operation) -> None:
    """Make ``operation`` (a change to the graph) now, or at the end of the open batch."""
    if net._graph is None:
        raise UsageError("this network was built from a Plan: build it from a graph to change it at run time")
    if net.journal is None:
        raise UsageError("the network is not running: start() it first (or change the graph before)")
    if net._batch is not None:
        net._batch.operations.append(operation)
        return
    commit(net, [operation])


@contextmanager
def batch(net: "Network") -> Iterator["Network"]:
    """Collect changes and make them together when the block ends (nothing on an exception)."""
    if net._batch is not None:
        yield net
        return
    net._batch = Batch()
    try:
        yield net
        operations = net._batch.operations
    finally:
        net._batch = None
    if operations:
        commit(net, operations)


def commit(net: "Network", operations: list[Operation]) -> None:
    from testbed.planning.pipeline import plan as make_plan
    graph = pinned(net._graph, net.plan)
    for operation in operations:
        operation(graph)
    from testbed.kernel import caps
    new = make_plan(graph, net.plan.source, dict(net.plan.params), net.plan.arp, features=caps.features,
                    switch=net._switch)
    change = deploy_change.diff(net.plan, new)
    if change.empty:
        net._adopt(graph, new, net.index)
        return
    index = deploy_change.apply(change, net.plan, new, net.journal, net.worker, net.index)
    net._adopt(graph, new, index)
    if new.arp == "static" or net.static_arp:
        net.install_static_arp()


# ---------------------------------------------------------------- the operations

def add_node(name: Any, attrs: dict[str, Any]) -> Operation:
    if "kind" not in attrs:
        raise UsageError(f"add_node({name!r}): give its kind, e.g. kind='host' (known: {', '.join(kinds.names())})")

    def operation(graph: nx.Graph) -> None:
        if name in graph:
            raise UsageError(f"add_node({name!r}): the network already has a node {name!r}")
        graph.add_node(name, **attrs)
    return operation


def add_link(a: Any, b: Any, attrs: dict[str, Any], key: Any = None) -> Operation:
    def operation(graph: nx.Graph) -> None:
        for node in (a, b):
            if node not in graph:
                raise UsageError(f"add_link({a!r}, {b!r}): no node {node!r}; add it first with add_node")
        if graph.has_edge(a, b) and not graph.is_multigraph():
            raise UsageError(f"add_link({a!r}, {b!r}): they are linked already and this network's graph is not "
                             "a MultiGraph (build it from nx.MultiGraph() for parallel links)")
        data = dict(attrs)
        names = dict(data.get("intf") or {})
        for node in (a, b):
            if node not in names:
                names[node] = port_name(graph, node)
        data["intf"] = names
        if key is not None and graph.is_multigraph():
            if graph.has_edge(a, b, key):
                raise UsageError(f"add_link({a!r}, {b!r}, key={key!r}): that link exists already")
            graph.add_edge(a, b, key=key, **data)
        else:
            graph.add_edge(a, b, **data)
    return operation


def _keys(graph: nx.Graph, a: Any, b: Any, key: Any) -> list[Any]:
    if not graph.has_edge(a, b):
        raise UsageError(f"no link between {a!r} and {b!r}")
    if not graph.is_multigraph():
        return [None]
    keys = list(graph[a][b])
    if key is not None:
        if key not in keys:
            raise UsageError(f"no link between {a!r} and {b!r} with key {key!r}; keys: {keys}")
        return [key]
    return keys


def remove_link(a: Any, b: Any, key: Any = None) -> Operation:
    def operation(graph: nx.Graph) -> None:
        for k in _keys(graph, a, b, key):
            if k is None:
                graph.remove_edge(a, b)
            else:
                graph.remove_edge(a, b, key=k)
    return operation


def remove_node(name: Any) -> Operation:
    def operation(graph: nx.Graph) -> None:
        if name not in graph:
            raise UsageError(f"remove_node({name!r}): no such node")
        graph.remove_node(name)
    return operation


def shape_link(a: Any, b: Any, settings: dict[str, Any], key: Any = None) -> Operation:
    """Set shaping attributes of the links between a and b: a value for both directions, or a
    dict keyed by the sending end for one (the other direction keeps its setting); None removes."""
    unknown = sorted(set(settings) - set(SHAPING_ATTRS))
    if unknown:
        raise UsageError(f"set_link({a!r}, {b!r}): {', '.join(unknown)} cannot be set on a running link; "
                         f"shaping settings are {', '.join(SHAPING_ATTRS)}")

    def operation(graph: nx.Graph) -> None:
        for k in _keys(graph, a, b, key):
            data = graph[a][b] if k is None else graph[a][b][k]
            for attr, value in settings.items():
                if not isinstance(value, dict):
                    if value is None:
                        data.pop(attr, None)
                    else:
                        data[attr] = value
                    continue
                # per direction: only the ends named change; the other keeps its setting
                current = data.get(attr)
                merged = dict(current) if isinstance(current, dict) else \
                    ({} if current is None else {a: current, b: current})
                for end, one in value.items():
                    if end not in (a, b):
                        raise UsageError(f"set_link({a!r}, {b!r}): {attr} names {end!r}, which is not an end "
                                         "of this link")
                    if one is None:
                        merged.pop(end, None)
                    else:
                        merged[end] = one
                if merged:
                    data[attr] = merged
                else:
                    data.pop(attr, None)
    return operation
