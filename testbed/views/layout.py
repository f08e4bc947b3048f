"""Where each node of a drawing goes (pure: networkx only, deterministic).

Layouts (``testbed draw --layout``):

- ``auto`` (default): a node attribute ``pos=(x, y)`` pins that node (x to the right, y up,
  in layout units: one unit is the gap between neighbours in a row, a tier is 1.5 units
  high); with every node pinned, the drawing is exactly as given. Otherwise: a large tree
  as rings around its centre; a chain of switches as a snake and a ring as a ring, hosts
  hanging off them; a graph with hosts in **tiers** (below); any other tree in layers
  from its centre; the rest by a force-directed layout.
- ``tree``: layers by distance from the core, for any graph. The core is the set of
  nodes farthest from every host (the spines of a leaf-spine fabric, the core switches
  of a fat tree, the root of a tree), or the graph's centre when it has no hosts.
- ``spring``, ``circular``, ``shell``, ``kamada_kawai``: networkx's layouts.

Tiers: each node's tier is its distance from the core, so hosts end up in the bottom row
and every link joins neighbouring tiers (or runs inside one). Within a tier, nodes are
ordered by the mean position of their neighbours in the tier above and below (a few
sweeps of the barycentre heuristic, to keep links from crossing), then hosts are spread
evenly and every other node sits above the middle of what hangs below it, kept at
least a gap apart from its neighbours in the row.
"""
from __future__ import annotations

import math
import re
from typing import Any

import networkx as nx

from testbed.errors import UsageError

LAYOUTS = ("auto", "spring", "tree", "circular", "shell", "kamada_kawai")
MAX_TREE_DEPTH = 6
RADIAL_FROM = 60          # trees with more nodes are drawn as rings around the root
TIER_HEIGHT = 1.5
SWEEPS = 4


def natural(name: Any) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(name))]


def compute_layout(graph: nx.Graph, method: str = "auto", seed: int = 7) -> dict[Any, tuple[float, float]]:
    """Positions of every node (deterministic for a given graph and method); ``pos`` attributes pin nodes."""
    if method not in LAYOUTS:
        raise UsageError(f"--layout {method!r}: unknown; known: {', '.join(LAYOUTS)}")
    simple = nx.Graph(graph)
    given = pinned(graph)
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
        pos = _spring(simple, seed, given)
    elif method == "tree":
        pos = _layered(simple, _root(simple)) if nx.is_forest(simple) else tiers(simple, _kinds(graph))
    else:
        pos = _auto(simple, seed, _kinds(graph), given)
    pos = {n: (float(x), float(y)) for n, (x, y) in pos.items()}
    pos.update(given)
    return pos


def pinned(graph: nx.Graph) -> dict[Any, tuple[float, float]]:
    """Nodes whose ``pos`` attribute says where they go; a malformed pos is refused, naming the node."""
    found = {}
    for node, value in graph.nodes(data="pos"):
        if value is None:
            continue
        try:
            x, y = value
            found[node] = (float(x), float(y))
        except (TypeError, ValueError):
            raise UsageError(f"node {node}: pos={value!r}: give two numbers, pos=(x, y)") from None
    return found


def _kinds(graph: nx.Graph) -> dict[Any, str]:
    return {n: str(k) for n, k in graph.nodes(data="kind")}


def _spring(graph: nx.Graph, seed: int, fixed: dict | None = None) -> dict:
    k = 1.5 / math.sqrt(max(len(graph), 1))
    if fixed:
        return nx.spring_layout(graph, seed=seed, k=k, iterations=100, pos=dict(fixed), fixed=list(fixed))
    return nx.spring_layout(graph, seed=seed, k=k, iterations=100)


def _root(graph: nx.Graph) -> Any:
    """The most central node of the graph's largest part (ties: most links, then name)."""
    part = graph.subgraph(max(nx.connected_components(graph), key=len))
    centre = nx.center(part)
    return sorted(centre, key=lambda n: (-part.degree(n), natural(n)))[0]


def _layered(graph: nx.Graph, root: Any) -> dict:
    """A forest in rows by distance from ``root``, each node above the middle of its subtree."""
    pos: dict = {}
    offset = 0.0
    for component in sorted(nx.connected_components(graph), key=lambda c: (-len(c), sorted(map(str, c)))):
        sub = graph.subgraph(component)
        start = root if root in component else _root(sub)
        tree = nx.bfs_tree(sub, start, sort_neighbors=lambda ns: sorted(ns, key=natural))
        widths: dict = {}

        def width(node: Any) -> int:
            kids = list(tree.successors(node))
            widths[node] = sum(width(k) for k in kids) if kids else 1
            return widths[node]

        width(start)

        def place(node: Any, left: float, depth: int) -> None:
            pos[node] = (offset + left + widths[node] / 2.0, -TIER_HEIGHT * depth)
            for kid in tree.successors(node):
                place(kid, left, depth + 1)
                left += widths[kid]

        place(start, 0.0, 0)
        offset += widths[start] + 1
    return pos


# ---------------------------------------------------------------- tiers

def core_of(graph: nx.Graph, kinds: dict[Any, str]) -> set:
    """The nodes farthest from every host (per connected part), or the centre of a part without hosts."""
    core: set = set()
    for component in nx.connected_components(graph):
        sub = graph.subgraph(component)
        hosts = [n for n in component if kinds.get(n) == "host"]
        if not hosts or len(hosts) == len(component):
            core.add(_root(sub))
            continue
        distance = nx.multi_source_dijkstra_path_length(sub, hosts)
        far = max(distance.values())
        core |= {n for n, d in distance.items() if d == far}
    return core


def tier_of(graph: nx.Graph, kinds: dict[Any, str]) -> dict[Any, int]:
    """Each node's distance from the core."""
    return dict(nx.multi_source_dijkstra_path_length(graph, core_of(graph, kinds)))


def is_tiered(graph: nx.Graph, kinds: dict[Any, str]) -> bool:
    """Whether tiers make a clean picture: there are hosts, each hangs off one node, and links join
    neighbouring tiers or run inside one."""
    hosts = [n for n in graph if kinds.get(n) == "host"]
    if not hosts or len(hosts) == len(graph) or not nx.is_connected(graph):
        return False
    tiers_ = tier_of(graph, kinds)
    return all(abs(tiers_[u] - tiers_[v]) <= 1 for u, v in graph.edges())


def tiers(graph: nx.Graph, kinds: dict[Any, str]) -> dict:
    """Rows by distance from the core (see the module's docstring); each connected part side by side."""
    pos: dict = {}
    offset = 0.0
    for component in sorted(nx.connected_components(graph), key=lambda c: (-len(c), sorted(map(str, c)))):
        part = _tiers_of_part(graph.subgraph(component), kinds)
        xs = [x for x, _ in part.values()]
        shift = offset - min(xs)
        pos.update({n: (x + shift, y) for n, (x, y) in part.items()})
        offset += max(xs) - min(xs) + 2.0
    return pos


def _tiers_of_part(graph: nx.Graph, kinds: dict[Any, str]) -> dict:
    level = tier_of(graph, kinds)
    depth = max(level.values())
    rows: list[list] = [sorted((n for n in graph if level[n] == d), key=natural) for d in range(depth + 1)]
    order = _order(graph, rows)
    x = _x_positions(graph, rows, order, kinds)
    return {n: (x[n], -TIER_HEIGHT * level[n]) for n in graph}


def _order(graph: nx.Graph, rows: list[list]) -> dict[Any, float]:
    """Positions within each row after barycentre sweeps down and up (ties keep natural order)."""
    rank = {n: float(i) for row in rows for i, n in enumerate(row)}
    for sweep in range(SWEEPS):
        indexes = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        for r in indexes:
            near = set(rows[r - 1] if sweep % 2 == 0 else rows[r + 1])

            def centre(n: Any, near: set = near) -> float:
                linked = [rank[m] for m in graph[n] if m in near]
                return sum(linked) / len(linked) if linked else rank[n]
            rows[r].sort(key=lambda n: (centre(n), natural(n)))
            rank.update({n: float(i) for i, n in enumerate(rows[r])})
    return rank


def _x_positions(graph: nx.Graph, rows: list[list], rank: dict, kinds: dict[Any, str]) -> dict[Any, float]:
    """Bottom-up: the lowest row evenly, each node above the middle of its lower neighbours, a gap apart."""
    width = max(len(row) for row in rows)
    x: dict[Any, float] = {}
    for r in range(len(rows) - 1, -1, -1):
        row = rows[r]
        below = set(rows[r + 1]) if r + 1 < len(rows) else set()
        wanted = []
        for n in row:
            under = [x[m] for m in graph[n] if m in below]
            wanted.append(sum(under) / len(under) if under else None)
        if all(w is None for w in wanted):                       # nothing below: spread over the width
            step = width / len(row)
            wanted = [step * (i + 0.5) for i in range(len(row))]
        else:                                                    # a node with nothing below: between its row neighbours
            known = [(i, w) for i, w in enumerate(wanted) if w is not None]
            for i, w in enumerate(wanted):
                if w is None:
                    left = max(((j, v) for j, v in known if j < i), default=None)
                    right = min(((j, v) for j, v in known if j > i), default=None)
                    wanted[i] = (left[1] + 1.0 if left else right[1] - 1.0) if not (left and right) else \
                        left[1] + (right[1] - left[1]) * (i - left[0]) / (right[0] - left[0])
        gap = max(1.0, 0.6 * width / len(row)) if r + 1 < len(rows) else 1.0
        placed = _spread(wanted, gap)
        x.update(zip(row, placed))
    return x


def _spread(wanted: list[float], gap: float) -> list[float]:
    """Positions in the given order, at least ``gap`` apart, as close to ``wanted`` as a push allows."""
    placed = []
    for w in wanted:
        placed.append(max(w, placed[-1] + gap) if placed else w)
    shift = (sum(wanted) - sum(placed)) / len(placed)               # keep the row's centre where it wanted
    return [p + shift for p in placed]


# ---------------------------------------------------------------- auto

def _auto(graph: nx.Graph, seed: int, kinds: dict[Any, str], given: dict) -> dict:
    """Trees in layers (radial when large), chains as a snake, rings as a ring, tiers, else force-directed."""
    if given:
        return _spring(graph, seed, given) if not is_tiered(graph, kinds) else tiers(graph, kinds)
    forest = nx.is_forest(graph) and _depth(graph) <= MAX_TREE_DEPTH
    if forest and len(graph) > RADIAL_FROM:
        return _radial(_layered(graph, _root(graph)))
    leaves = {n for n in graph if graph.degree(n) == 1 and graph.degree(next(iter(graph[n]))) > 1}
    core = graph.subgraph([n for n in graph if n not in leaves])
    if nx.is_connected(core) and nx.is_tree(core) and max(d for _, d in core.degree()) <= 2 and len(core) > 2:
        pos = _snake(core)
        _fan_out_leaves(graph, pos, leaves, direction=-math.pi / 2)
        return pos
    if nx.is_connected(core) and all(d == 2 for _, d in core.degree()) and len(core) > 2:
        radius = max(1.0, 1.3 * len(core) / (2 * math.pi))         # a ring: keep it one
        order = list(nx.dfs_preorder_nodes(core, min(core, key=natural)))
        pos = {n: (radius * math.cos(2 * math.pi * i / len(order) + math.pi / 2),
                   radius * math.sin(2 * math.pi * i / len(order) + math.pi / 2)) for i, n in enumerate(order)}
        _fan_out_leaves(graph, pos, leaves)
        return pos
    if is_tiered(graph, kinds) and len(graph) <= 400:
        return tiers(graph, kinds)
    if forest:
        return _layered(graph, _root(graph))
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
        radius = -y / TIER_HEIGHT
        result[node] = (radius * math.cos(theta), radius * math.sin(theta))
    return result


def _snake(path_graph: nx.Graph) -> dict:
    """A chain laid out in rows, back and forth, two units between rows (room for leaves)."""
    ends = [n for n, d in path_graph.degree() if d == 1]
    order = list(nx.dfs_preorder_nodes(path_graph, sorted(ends, key=natural)[0]))
    per_row = max(4, math.ceil(math.sqrt(len(order) * 2)))
    pos = {}
    for i, node in enumerate(order):
        row, col = divmod(i, per_row)
        x = col if row % 2 == 0 else per_row - 1 - col
        pos[node] = (float(x) * 1.8, -3.0 * row)
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
    order = {n: i for i, n in enumerate(graph.nodes)}
    for leaf in leaves:
        by_parent.setdefault(next(iter(graph[leaf])), []).append(leaf)
    for parent, kids in by_parent.items():
        kids.sort(key=lambda n: order[n])
        px, py = pos[parent]
        away = math.atan2(py - cy, px - cx) if (px, py) != (cx, cy) else -math.pi / 2
        if direction is not None:               # a row under the parent, staggered when crowded
            step = min(0.8, 1.5 / len(kids))
            for i, kid in enumerate(kids):
                pos[kid] = (px + (i - (len(kids) - 1) / 2) * step, py - 1.4 - 0.4 * (i % 2 if len(kids) > 3 else 0))
            continue
        spread = min(2 * math.pi * (1 - 1 / max(len(kids), 1)), math.radians(40) * len(kids)) \
            if len(kids) > 1 else 0.0
        radius = 0.8 + 0.06 * len(kids)
        for i, kid in enumerate(kids):
            angle = away + (spread * (i / (len(kids) - 1) - 0.5) if len(kids) > 1 else 0.0)
            pos[kid] = (px + radius * math.cos(angle), py + radius * math.sin(angle))
