"""Mininet topologies as testbed graphs: ``--topo tree,2,3`` and ``--custom FILE --topo NAME``.

Mininet's ``Topo`` classes (PyPI package ``mininet``) build the topology; only their
description is used, never Mininet's runtime. The conversion:

- ``addHost`` -> ``kind="host"`` (options ``ip``, ``mac``, ``defaultRoute``);
- ``addSwitch`` -> ``kind="switch"`` (option ``stp``);
- ``addLink`` -> an edge; ``bw``, ``delay``, ``jitter``, ``loss`` keep their names and
  ``max_queue_size`` becomes ``queue``; ``intfName1/2``, ``addr1/2`` and ``params1/2['ip']``
  become the per-end ``intf``, ``mac`` and ``ip`` dicts keyed by node name.

Edges are added in the order Mininet numbered the ports, so the default interface names
(``h1-eth0``, ``s1-eth1``...) come out as Mininet's; where they would not (explicit port
numbers, parallel links), the names are given explicitly. Options that have no meaning
here (``cls``, ``dpid``, ``use_htb``...) are reported in ``Conversion.ignored``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import networkx as nx

from testbed.topology import graphs
from testbed.errors import UsageError
from testbed.topology.load import import_file

MININET_PREFIX = 8                      # Mininet's default ipBase is 10.0.0.0/8
LINK_RENAMES = {"bw": "bw", "delay": "delay", "jitter": "jitter", "loss": "loss",
                "max_queue_size": "queue"}
LINK_IGNORED_QUIETLY = {"node1", "node2", "port1", "port2", "cls"}
NODE_IGNORED_QUIETLY = {"isSwitch", "cls"}


@dataclass
class Conversion:
    """A converted topology: the graph, the parameters it was built with, what was ignored."""

    graph: nx.Graph
    params: dict[str, Any]
    ignored: list[str] = field(default_factory=list)


def _mininet():
    try:
        from mininet import topo, topolib, util  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise UsageError(f"Mininet's Topo classes are not importable ({exc}); "
                         "install the 'mininet' package: pip install mininet") from exc
    return topo, topolib, util


def builtin_topos() -> dict[str, Callable]:
    """The topologies ``mn --topo`` knows, by name."""
    topo, topolib, _ = _mininet()
    return {"minimal": topo.MinimalTopo, "linear": topo.LinearTopo,
            "reversed": topo.SingleSwitchReversedTopo, "single": topo.SingleSwitchTopo,
            "tree": topolib.TreeTopo, "torus": topolib.TorusTopo}


def split_spec(spec: str) -> tuple[str, list[Any], dict[str, Any]]:
    """'tree,2,fanout=3' -> ('tree', [2], {'fanout': 3}), numbers converted like ``mn`` does."""
    name, *rest = [part.strip() for part in spec.split(",")]
    if not name:
        raise UsageError(f"--topo {spec!r}: expected NAME[,ARG...][,KEY=VALUE...], e.g. tree,2,3")
    args = [_number(p) for p in rest if "=" not in p]
    kwargs = {k.strip(): _number(v) for k, _, v in (p.partition("=") for p in rest if "=" in p)}
    return name, args, kwargs


def _number(text: str) -> Any:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, (int, float, bool)) else text


def load_custom_file(path: str) -> dict[str, Callable]:
    """Execute a Mininet custom file and return its ``topos`` dict."""
    _mininet()
    module = import_file(path, "--custom", "testbed_mininet_custom")
    topos = getattr(module, "topos", None)
    if not isinstance(topos, Mapping) or not topos:
        raise UsageError(f"--custom {path}: no 'topos' dict; Mininet custom files define "
                         "topos = {'name': (lambda: MyTopo())}")
    return dict(topos)


def build(spec: str | None, custom: str | None = None) -> Conversion:
    """Build the Topo named by ``spec`` (from the custom file, else mn's built-ins) and convert it."""
    known = builtin_topos()
    if custom:
        extra = list(load_custom_file(custom).items())
        known.update(extra)
        if spec is None:
            extra = [n for n, _ in extra]
            if len(extra) != 1:
                raise UsageError(f"--custom {custom} defines {', '.join(extra)}: choose one with --topo NAME")
            spec = extra[0]
    if spec is None:
        raise UsageError("--topo NAME[,ARGS] is required, e.g. --topo single,3")
    name, args, kwargs = split_spec(spec)
    factory = known.get(name)
    if factory is None:
        raise UsageError(f"--topo {name!r}: unknown topology; known: {', '.join(sorted(known))}")
    if factory in builtin_topos().values():
        _check_sizes(spec, args, kwargs)
    try:
        topo = factory(*args, **kwargs)
    except Exception as exc:  # the Topo's own build() refused the arguments
        raise UsageError(f"--topo {spec}: building it failed: {type(exc).__name__}: {exc}") from exc
    params = {f"arg{i}": a for i, a in enumerate(args, 1)}
    params.update(kwargs)
    conversion = convert(topo)
    conversion.params = {"topo": name, **params}
    return conversion


def _check_sizes(spec: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """mn's built-in topologies take sizes (k, n, depth, fanout, x, y): each a whole number >= 1."""
    for position, value in [*enumerate(args, 1), *kwargs.items()]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            what = f"argument {position}" if isinstance(position, int) else position
            raise UsageError(f"--topo {spec}: {what} is {value!r}; the built-in topologies take sizes of at "
                             "least 1, e.g. --topo tree,2,3")


# ---------------------------------------------------------------- conversion

def convert(topo: Any) -> Conversion:
    """Convert a Mininet ``Topo`` instance into a testbed graph."""
    ignored: list[str] = []
    node_order = list(topo.g.nodes())
    links = list(topo.iterLinks(withKeys=True, withInfo=True))
    multi = len({frozenset((a, b)) for a, b, _, _ in links}) < len(links)
    graph: nx.Graph = nx.MultiGraph() if multi else nx.Graph()
    for name in node_order:
        graph.add_node(name, **_node_attrs(name, topo.nodeInfo(name) or {}, topo.isSwitch(name), ignored))
    ordered = _port_order(links, node_order)
    for node1, node2, key, info in ordered:
        attrs = _link_attrs(node1, node2, info, ignored)
        if multi:
            graph.add_edge(node1, node2, key=key, **attrs)
        else:
            graph.add_edge(node1, node2, **attrs)
    _pin_mininet_names(graph, topo, ordered)
    return Conversion(graph, {}, ignored)


def _node_attrs(name: str, info: Mapping[str, Any], is_switch: bool, ignored: list[str]) -> dict:
    attrs: dict[str, Any] = {"kind": "switch" if is_switch else "host"}
    for key, value in info.items():
        if key in NODE_IGNORED_QUIETLY or value is None:
            continue
        if key == "ip" and not is_switch:
            attrs["ip"] = _cidr(value)
        elif key == "mac" and not is_switch:
            attrs["mac"] = value
        elif key == "defaultRoute" and not is_switch:
            attrs["default_route"] = _default_route(str(value))
        elif key == "stp" and is_switch:
            attrs["stp"] = bool(value)
        else:
            ignored.append(f"node {name}: option {key}={value!r}")
    return attrs


def _cidr(value: Any) -> str:
    text = str(value)
    return text if "/" in text else f"{text}/{MININET_PREFIX}"


def _default_route(value: str) -> str:
    """Mininet's 'via 10.0.0.1' (or 'h1-eth0') -> the gateway address."""
    words = value.split()
    return words[words.index("via") + 1] if "via" in words and words.index("via") + 1 < len(words) else value


def _link_attrs(node1: str, node2: str, info: Mapping[str, Any], ignored: list[str]) -> dict:
    attrs: dict[str, Any] = {}
    per_end: dict[str, dict[str, Any]] = {}
    for key, value in info.items():
        if key in LINK_IGNORED_QUIETLY or value is None:
            continue
        if key in LINK_RENAMES:
            if value not in (0, "", False):
                attrs[LINK_RENAMES[key]] = value
        elif key in ("intfName1", "intfName2"):
            per_end.setdefault("intf", {})[node1 if key.endswith("1") else node2] = value
        elif key in ("addr1", "addr2"):
            per_end.setdefault("mac", {})[node1 if key.endswith("1") else node2] = value
        elif key in ("params1", "params2") and isinstance(value, Mapping):
            end = node1 if key.endswith("1") else node2
            for pkey, pvalue in value.items():
                if pkey == "ip":
                    per_end.setdefault("ip", {})[end] = _cidr(pvalue)
                else:
                    ignored.append(f"link {node1}--{node2}: {key}[{pkey!r}]={pvalue!r}")
        else:
            ignored.append(f"link {node1}--{node2}: option {key}={value!r}")
    attrs.update(per_end)
    return attrs


def _port_order(links: list[tuple], node_order: list[str]) -> list[tuple]:
    """Links in an order where every node meets its links by increasing Mininet port number.

    The order addLink was called in is such an order; it is recovered as a topological
    order of "port p of node n comes before port p' > p of n", ties broken by node order.
    """
    rank = {n: i for i, n in enumerate(node_order)}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(links)))
    by_node: dict[str, list[tuple[int, int]]] = {}
    for index, (n1, n2, _key, info) in enumerate(links):
        by_node.setdefault(n1, []).append((_port(info, "port1"), index))
        by_node.setdefault(n2, []).append((_port(info, "port2"), index))
    for ports in by_node.values():
        ports.sort()
        for (_, a), (_, b) in zip(ports, ports[1:]):
            dag.add_edge(a, b)

    def tie(index: int) -> tuple:
        n1, n2, _key, info = links[index]
        return (min(rank.get(n1, 0), rank.get(n2, 0)), _port(info, "port1"), index)

    try:
        order = list(nx.lexicographical_topological_sort(dag, key=tie))
    except nx.NetworkXUnfeasible:
        order = list(range(len(links)))
    return [links[i] for i in order]


def _port(info: Mapping[str, Any], key: str) -> int:
    value = info.get(key)
    return value if isinstance(value, int) else 0


def _pin_mininet_names(graph: nx.Graph, topo: Any, links: list[tuple]) -> None:
    """Give explicit interface names where our default naming would differ from Mininet's."""
    ours = graphs.port_names(graph)
    for node1, node2, key, info in links:
        lid = graphs.link_id(node1, node2, key if graph.is_multigraph() else 0)
        data = graph.edges[node1, node2, key] if graph.is_multigraph() else graph.edges[node1, node2]
        wanted = dict(data.get("intf") or {})
        for node, port_key in ((node1, "port1"), (node2, "port2")):
            if node not in wanted and info.get(port_key) is not None:
                wanted[node] = f"{node}-eth{info[port_key]}"
        if any(ours[lid].get(node) != name for node, name in wanted.items()):
            data["intf"] = wanted
