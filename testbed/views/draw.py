"""Topology drawings: ``testbed draw FILE -o topo.png`` (or .svg, .pdf).

Node kinds are told apart by shape and colour (legend included); link settings (bw,
delay, loss, queue) are edge labels; interface names and addresses can be written at
the link ends. The layout keeps large networks readable: the "core" (nodes with more
than one neighbour) is laid out first — in layers when it is a shallow tree, else by a
force-directed layout — and the leaves (usually hosts) are fanned out around the node
they hang from. A node's ``pos=(x, y)`` attribute overrides the layout.

This is the module that imports matplotlib (Agg backend, no display needed).
"""
from __future__ import annotations

import math
import os
import sys
from typing import Any, Mapping

import networkx as nx

from testbed.topology import graphs
from testbed.planning import pipeline as planner
from testbed.errors import UsageError

FORMATS = ("png", "svg", "pdf")
LAYOUTS = ("auto", "spring", "tree", "circular", "shell", "kamada_kawai")
MAX_TREE_DEPTH = 6
RADIAL_FROM = 60          # trees with more nodes are drawn as rings around the root
# kind -> (matplotlib marker, face colour, legend text)
STYLES: dict[str, tuple[str, str, str]] = {
    "host": ("o", "#4c9be8", "host"),
    "router": ("h", "#9467bd", "router"),
    "switch": ("s", "#3cb371", "switch"),
    "bridge": ("D", "#f0a830", "bridge"),
    "hub": ("^", "#e05a5a", "hub"),
    "nat": ("p", "#8c564b", "nat"),
}
OTHER_STYLE = ("o", "#b0b0b0", "other")


def _matplotlib():
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    return Figure, LineCollection, Line2D


# ---------------------------------------------------------------- layout

def compute_layout(graph: nx.Graph, method: str = "auto", seed: int = 7) -> dict[Any, tuple[float, float]]:
    """Positions of every node (deterministic for a given graph and method)."""
    if method not in LAYOUTS:
        raise UsageError(f"--layout {method!r}: unknown; known: {', '.join(LAYOUTS)}")
    simple = nx.Graph(graph)
    given = {n: tuple(p) for n, p in graph.nodes(data="pos") if p is not None}
    if given and len(given) == len(graph):
        return given
    if len(simple) == 0:
        return {}
    if method == "circular":
        pos = nx.circular_layout(simple)
    elif method == "shell":
        pos = nx.shell_layout(simple)
    elif method == "kamada_kawai":
        try:
            pos = nx.kamada_kawai_layout(simple)
        except ImportError:
            raise UsageError("--layout kamada_kawai needs scipy (pip install scipy); "
                             "try --layout spring") from None
    elif method == "spring":
        pos = _spring(simple, seed)
    elif method == "tree":
        pos = _layered(simple, _root(simple))
    else:
        pos = _auto(simple, seed)
    pos = {n: (float(x), float(y)) for n, (x, y) in pos.items()}
    pos.update(given)
    return pos


def _spring(graph: nx.Graph, seed: int) -> dict:
    k = 1.5 / math.sqrt(max(len(graph), 1))
    return nx.spring_layout(graph, seed=seed, k=k, iterations=100)


def _root(graph: nx.Graph) -> Any:
    """The most central node of the graph's largest part (ties: fewest links, then name)."""
    part = graph.subgraph(max(nx.connected_components(graph), key=len))
    centre = nx.center(part)
    return sorted(centre, key=lambda n: (-part.degree(n), str(n)))[0]


def _layered(graph: nx.Graph, root: Any) -> dict:
    """Rows by distance from ``root``, each row's nodes ordered under their parents."""
    pos: dict = {}
    offset = 0.0
    for component in sorted(nx.connected_components(graph), key=lambda c: (-len(c), sorted(map(str, c)))):
        sub = graph.subgraph(component)
        start = root if root in component else _root(sub)
        tree = nx.bfs_tree(sub, start)
        widths: dict = {}

        def width(node: Any) -> int:
            kids = list(tree.successors(node))
            widths[node] = sum(width(k) for k in kids) if kids else 1
            return widths[node]

        width(start)

        def place(node: Any, left: float, depth: int) -> None:
            pos[node] = (offset + left + widths[node] / 2.0, -float(depth))
            for kid in tree.successors(node):
                place(kid, left, depth + 1)
                left += widths[kid]

        place(start, 0.0, 0)
        offset += widths[start] + 1
    return pos


def _auto(graph: nx.Graph, seed: int) -> dict:
    """Trees in layers (radial when large), chains as a snake, else force-directed with leaves fanned out."""
    if nx.is_forest(graph) and _depth(graph) <= MAX_TREE_DEPTH:
        pos = _layered(graph, _root(graph))
        return _radial(pos) if len(graph) > RADIAL_FROM else pos
    leaves = {n for n in graph if graph.degree(n) == 1 and graph.degree(next(iter(graph[n]))) > 1}
    core = graph.subgraph([n for n in graph if n not in leaves])
    if nx.is_connected(core) and nx.is_tree(core) and max(d for _, d in core.degree()) <= 2 and len(core) > 2:
        pos = _snake(core)
        _fan_out_leaves(graph, pos, leaves, direction=-math.pi / 2)
        return pos
    if nx.is_connected(core) and all(d == 2 for _, d in core.degree()) and len(core) > 2:
        radius = max(1.0, 1.3 * len(core) / (2 * math.pi))         # a ring: keep it one
        order = list(nx.dfs_preorder_nodes(core, min(core, key=str)))
        pos = {n: (radius * math.cos(2 * math.pi * i / len(order) + math.pi / 2),
                   radius * math.sin(2 * math.pi * i / len(order) + math.pi / 2)) for i, n in enumerate(order)}
    else:
        scale = math.sqrt(len(core)) * 1.2
        pos = {n: (x * scale, y * scale) for n, (x, y) in _spring(core, seed).items()}
    if leaves:
        _fan_out_leaves(graph, pos, leaves)
    return pos


def _radial(pos: dict) -> dict:
    """Layered positions (x along a row, -depth) bent into rings around the root."""
    xs = [x for x, _ in pos.values()]
    lo, width = min(xs), (max(xs) - min(xs)) or 1.0
    result = {}
    for node, (x, y) in pos.items():
        theta = 2 * math.pi * (x - lo) / (width + 1.0)
        radius = -y
        result[node] = (radius * math.cos(theta), radius * math.sin(theta))
    return result


def _snake(path_graph: nx.Graph) -> dict:
    """A chain laid out in rows, back and forth, two units between rows (room for leaves)."""
    ends = [n for n, d in path_graph.degree() if d == 1]
    order = list(nx.dfs_preorder_nodes(path_graph, sorted(ends, key=str)[0]))
    per_row = max(4, math.ceil(math.sqrt(len(order) * 2)))
    pos = {}
    for i, node in enumerate(order):
        row, col = divmod(i, per_row)
        x = col if row % 2 == 0 else per_row - 1 - col
        pos[node] = (float(x) * 1.2, -2.0 * row)
    return pos


def _depth(graph: nx.Graph) -> int:
    if len(graph) == 0:
        return 0
    return max(nx.eccentricity(graph.subgraph(c), v=_root(graph.subgraph(c)))
               for c in nx.connected_components(graph))


def _fan_out_leaves(graph: nx.Graph, pos: dict, leaves: set, direction: float | None = None) -> None:
    """Place each node's leaves on an arc pointing away from the core's centre (or ``direction``)."""
    cx = sum(x for x, _ in pos.values()) / len(pos)
    cy = sum(y for _, y in pos.values()) / len(pos)
    by_parent: dict = {}
    for leaf in leaves:
        by_parent.setdefault(next(iter(graph[leaf])), []).append(leaf)
    for parent, kids in by_parent.items():
        kids.sort(key=lambda n: list(graph.nodes).index(n))
        px, py = pos[parent]
        away = math.atan2(py - cy, px - cx) if (px, py) != (cx, cy) else -math.pi / 2
        if direction is not None:
            away = direction
        spread = min(2 * math.pi * (1 - 1 / max(len(kids), 1)), math.radians(40) * len(kids)) \
            if len(kids) > 1 else 0.0
        if direction is not None:               # a row under the parent, staggered when crowded
            step = min(0.35, 1.0 / len(kids))
            for i, kid in enumerate(kids):
                pos[kid] = (px + (i - (len(kids) - 1) / 2) * step, py - 0.7 - 0.3 * (i % 2 if len(kids) > 3 else 0))
            continue
        radius = 0.55 + 0.06 * len(kids)
        for i, kid in enumerate(kids):
            angle = away + (spread * (i / (len(kids) - 1) - 0.5) if len(kids) > 1 else 0.0)
            pos[kid] = (px + radius * math.cos(angle), py + radius * math.sin(angle))


# ---------------------------------------------------------------- labels

LINK_COLOUR, TRUNK_COLOUR = "#777777", "#333333"
VLAN_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def vlan_colours(graph: nx.Graph) -> dict[int, str]:
    """VLAN id -> colour, for every VLAN an access link or a switch's MAC-VLAN map names."""
    ids: set[int] = set()
    for link in graphs.links(graph):
        if isinstance(link.data.get("vlan"), int):
            ids.add(link.data["vlan"])
    for _, mac_vlans in graph.nodes(data="mac_vlans"):
        if isinstance(mac_vlans, Mapping):
            ids.update(v for v in mac_vlans.values() if isinstance(v, int))
    return {vid: VLAN_PALETTE[i % len(VLAN_PALETTE)] for i, vid in enumerate(sorted(ids))}


def link_style(data: Mapping[str, Any], vlans: Mapping[int, str]) -> tuple[str, str]:
    """(colour, line style) of a link: its access VLAN's colour, dashed for a trunk."""
    if data.get("trunk"):
        return TRUNK_COLOUR, "--"
    return vlans.get(data.get("vlan"), LINK_COLOUR), "-"


def link_label(data: Mapping[str, Any]) -> str:
    """'10M 5ms 1% q100' from a link's settings (empty when it has none)."""
    parts = []
    if data.get("bw"):
        parts.append(f"{data['bw']:g}M" if isinstance(data["bw"], (int, float)) else str(data["bw"]))
    for key in ("delay", "jitter"):
        if data.get(key):
            parts.append(("±" if key == "jitter" else "") + str(data[key]))
    if data.get("loss"):
        loss = data["loss"]                 # a number, or per direction {node: percent}
        parts.append(" ".join(f"{n}:{v:g}%" for n, v in loss.items()) if isinstance(loss, Mapping)
                     else f"{loss:g}%")
    if data.get("queue"):
        parts.append(f"q{data['queue']}")
    if data.get("trunk"):
        parts.append("trunk " + ",".join(str(v) for v in data["trunk"]))
    return " ".join(parts)


def end_labels(graph: nx.Graph, *, intfs: bool, addresses: bool) -> dict[tuple, dict[Any, str]]:
    """link_id -> {node: 'eth0 10.0.0.1/24'} for the link ends (names and/or planned addresses)."""
    if not (intfs or addresses):
        return {}
    ports = graphs.port_names(graph)
    addr: dict[tuple[str, str], str] = {}
    if addresses:
        plan = planner.plan(graph, "draw", {})
        addr = {(n.name, i.name): ",".join(i.addresses) for n in plan.nodes for i in n.interfaces}
    labels: dict[tuple, dict[Any, str]] = {}
    for lid, ends in ports.items():
        labels[lid] = {}
        for node, ifname in ends.items():
            words = [ifname] if intfs else []
            if addr.get((str(node), ifname)):
                words.append(addr[(str(node), ifname)])
            labels[lid][node] = " ".join(words)
    return labels


def device_labels(graph: nx.Graph) -> dict[Any, str]:
    """node -> 'br0 10.0.0.1/24' for addressed interfaces that are not link ends (bridges, dummies)."""
    plan = planner.plan(graph, "draw", {})
    labels = {}
    for node in plan.nodes:
        words = [f"{i.name} {','.join(i.addresses)}" for i in node.interfaces if i.peer is None and i.addresses]
        if words:
            labels[node.name] = "\n".join(words)
    return labels


# ---------------------------------------------------------------- drawing

def draw(graph: nx.Graph, path: str, *, intfs: bool = False, addresses: bool = False,
         layout: str = "auto", title: str | None = None,
         seed: int = 7) -> str:
    """Draw ``graph`` to ``path`` (format from the extension: png, svg or pdf); returns the path."""
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"-o {path!r}: unknown format {fmt or '(none)'}; use .png, .svg or .pdf")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"-o {path!r}: folder {directory} does not exist")
    Figure, LineCollection, Line2D = _matplotlib()
    pos = compute_layout(graph, layout, seed)
    n = max(len(graph), 1)
    scale = min(1.0, 12.0 / math.sqrt(n))              # 1 up to ~144 nodes, then shrinks
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    span_x, span_y = max(xs) - min(xs) or 1.0, max(ys) - min(ys) or 1.0
    side = min(30.0, 6.0 + 1.1 * math.sqrt(n))
    aspect = max(0.4, min(2.5, span_y / span_x))
    fig = Figure(figsize=(side, max(4.0, side * aspect)))
    ax = fig.add_subplot()
    ax.set_axis_off()
    node_size = max(60.0, 900.0 * scale * min(1.0, 30.0 / n) ** 0.5)
    font = max(4.5, 10.0 * scale ** 0.6 * (1.0 if n <= 30 else 0.8))

    segments, colours, styles, edge_text = [], [], [], []
    counts: dict[tuple, int] = {}
    vlans = vlan_colours(graph)
    for link in graphs.links(graph):
        key = (link.u, link.v) if str(link.u) <= str(link.v) else (link.v, link.u)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] == 1:
            segments.append([pos[link.u], pos[link.v]])
            colour, style = link_style(link.data, vlans)
            colours.append(colour)
            styles.append(style)
        text = link_label(link.data)
        if text:
            edge_text.append((link, text))
    width = max(0.5, 1.4 * scale) * (1.6 if vlans else 1.0)
    ax.add_collection(LineCollection(segments, colors=colours, linestyles=styles, linewidths=width, zorder=1))
    for (u, v), count in counts.items():
        if count > 1:
            _text(ax, _along(pos[u], pos[v], 0.5), f"×{count}", font * 0.85, "#444444")
    for link, text in edge_text:
        _text(ax, _along(pos[link.u], pos[link.v], 0.5), text, font * 0.85, "#a33", box=True)
    for lid, ends in end_labels(graph, intfs=intfs, addresses=addresses).items():
        u, v = [e for e in ends][:2] if len(ends) == 2 else (list(ends) * 2)[:2]
        for near, far in ((u, v), (v, u)):
            if ends.get(near):
                _text(ax, _along(pos[near], pos[far], 0.27), ends[near], font * 0.7, "#225", box=True)

    handles = []
    by_kind: dict[str, list] = {}
    for node, kind in graph.nodes(data="kind"):
        by_kind.setdefault(str(kind), []).append(node)
    for kind, nodes in sorted(by_kind.items()):
        marker, colour, legend = STYLES.get(kind, OTHER_STYLE)
        legend = legend if kind in STYLES else kind
        ax.scatter([pos[v][0] for v in nodes], [pos[v][1] for v in nodes], s=node_size, marker=marker,
                   c=colour, edgecolors="#333333", linewidths=0.6, zorder=2)
        handles.append(Line2D([], [], marker=marker, color="none", markerfacecolor=colour,
                              markeredgecolor="#333333", markersize=9, label=f"{legend} ({len(nodes)})"))
    for node in graph.nodes:
        x, y = pos[node]
        ax.text(x, y, str(graph.nodes[node].get("label", node)), fontsize=font, ha="center", va="center",
                zorder=3, clip_on=False)
    if addresses:
        for node, text in device_labels(graph).items():
            x, y = pos[node]
            ax.annotate(text, (x, y), xytext=(0, -1.2 * math.sqrt(node_size)), textcoords="offset points",
                        fontsize=font * 0.7, color="#225", ha="center", va="top", zorder=4,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    for vid, colour in vlans.items():
        handles.append(Line2D([], [], color=colour, linewidth=2.5, label=f"VLAN {vid}"))
    if any(link.data.get("trunk") for link in graphs.links(graph)):
        handles.append(Line2D([], [], color=TRUNK_COLOUR, linestyle="--", linewidth=2.0, label="trunk"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False)
    if title:
        ax.set_title(f"{title}: {len(graph)} nodes, {graph.number_of_edges()} links", fontsize=10)
    pad_x, pad_y = span_x * 0.06 + 0.3, span_y * 0.06 + 0.3
    ax.set_xlim(min(xs) - pad_x, max(xs) + pad_x)
    ax.set_ylim(min(ys) - pad_y, max(ys) + pad_y)
    fig.tight_layout()
    try:
        fig.savefig(path, format=fmt, dpi=150 if fmt == "png" else None)
    except OSError as exc:
        raise UsageError(f"-o {path!r}: cannot write it: {exc.strerror or exc}") from None
    return path


def _along(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _text(ax: Any, xy: tuple[float, float], text: str, size: float, colour: str, box: bool = False) -> None:
    bbox = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8) if box else None
    ax.text(xy[0], xy[1], text, fontsize=size, color=colour, ha="center", va="center", zorder=4, bbox=bbox)
