"""Topology drawings: ``testbed draw FILE -o topo.png`` (or .svg, .pdf).

Each node is a box with its name, shaped and coloured by kind (legend included); the
devices inside a node (a bridge over its NICs, a dummy uplink) are listed inside its box.
Link settings are short labels written along the link ("100M 5ms 1%"); interface names
and addresses can be written near the link ends. Labels are placed where they overlap no
node and no other label (a label that finds no such place along its link is left out,
and the drawing says how many were). Where nodes go: testbed.views.layout (tiers for
leaf-spine, fat-tree and other layered networks; ``pos=(x, y)`` pins a node).

matplotlib is imported here only (Agg backend, no display needed).
"""
from __future__ import annotations

import math
import os
import sys
import textwrap
from typing import Any, Mapping

import networkx as nx

from testbed.errors import UsageError
from testbed.planning import pipeline as planner
from testbed.topology import graphs
from testbed.views.layout import LAYOUTS, compute_layout  # noqa: F401  (draw.compute_layout is public)

FORMATS = ("png", "svg", "pdf")
# kind -> (box style, fill colour, legend text)
STYLES: dict[str, tuple[str, str, str]] = {
    "host": ("round", "#cfe3f7", "host"),
    "router": ("circle", "#ddd0ec", "router"),
    "switch": ("square", "#cdebd7", "switch"),
    "bridge": ("square", "#fbe3bf", "bridge"),
    "hub": ("sawtooth", "#f6c9c9", "hub"),
    "nat": ("round4", "#e6d4cc", "nat"),
}
OTHER_STYLE = ("round", "#e4e4e4", "other")
FONT = 9.0
MAX_SIDE = 40.0                          # inches


def _matplotlib():
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D
    return Figure, LineCollection, Line2D, Patch


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
        bw = data["bw"]                     # a rate, or per direction {node: rate}
        parts.append("/".join(short_rate(v) for v in bw.values()) if isinstance(bw, Mapping) else short_rate(bw))
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

def short_rate(value: Any) -> str:
    """100 -> "100M", 1000 -> "1G", 0.5 -> "500k", "2Gbit" -> "2G" (Mbit/s for numbers)."""
    if isinstance(value, (int, float)):
        for factor, prefix in ((1000.0, "G"), (1.0, "M"), (0.001, "k")):
            if abs(value) >= factor:
                return f"{value / factor:g}{prefix}"
        return f"{value * 1e6:g}"
    text = str(value)
    for long, short in (("bit", ""), ("bps", ""), ("ps", "")):
        if text.lower().endswith(long):
            return text[: -len(long)]
    return text


def node_text(graph: nx.Graph, node: Any, addresses: bool) -> str:
    """The name, then one line per in-node device: "br0: bridge of nic1, nic2" (with its address)."""
    lines = [str(graph.nodes[node].get("label", node))]
    devices = graph.nodes[node].get("interfaces")
    if isinstance(devices, Mapping):
        for name, spec in devices.items():
            if not isinstance(spec, Mapping):
                continue
            line = f"{name}: {spec.get('kind', 'device')}"
            if spec.get("ports"):
                line += " of " + ", ".join(map(str, spec["ports"]))
            if addresses and spec.get("ip"):
                line += f" {spec['ip']}"
            lines.append(line)
    return "\n".join(lines)


def layout_unit(pos: Mapping[Any, tuple[float, float]], sizes: Mapping[Any, tuple[float, float]],
                smallest: float = 0.6, largest: float = 3.0) -> float:
    """Inches per layout unit: the least that keeps every two node boxes apart (in x or in y)."""
    unit = smallest
    nodes = list(pos)
    if len(nodes) > 300:                  # big drawings: the layout keeps nodes apart already
        return smallest
    for i, a in enumerate(nodes):
        (xa, ya), (wa, ha) = pos[a], sizes[a]
        for b in nodes[i + 1:]:
            (xb, yb), (wb, hb) = pos[b], sizes[b]
            dx, dy = abs(xa - xb), abs(ya - yb)
            need_x = (wa + wb) / 2 / dx if dx > 1e-9 else math.inf
            need_y = (ha + hb) / 2 / dy if dy > 1e-9 else math.inf
            unit = max(unit, min(need_x, need_y) * 1.15)
    return min(unit, largest)


def _inches(text: str, size: float) -> tuple[float, float]:
    """A generous estimate of a text box's size in inches."""
    lines = text.split("\n")
    return (max(len(l) for l in lines) * 0.62 * size / 72 + 0.15, len(lines) * 1.35 * size / 72 + 0.12)


def draw(graph: nx.Graph, path: str, *, intfs: bool = False, addresses: bool = False,
         layout: str = "auto", title: str | None = None, seed: int = 7) -> str:
    """Draw ``graph`` to ``path`` (format from the extension: png, svg or pdf); returns the path."""
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"-o {path!r}: unknown format {fmt or '(none)'}; use .png, .svg or .pdf")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"-o {path!r}: folder {directory} does not exist")
    fig = figure(graph, intfs=intfs, addresses=addresses, layout=layout, title=title, seed=seed)
    try:
        fig.savefig(path, format=fmt, dpi=150 if fmt == "png" else None)
    except OSError as exc:
        raise UsageError(f"-o {path!r}: cannot write it: {exc.strerror or exc}") from None
    return path


def figure(graph: nx.Graph, *, intfs: bool = False, addresses: bool = False, layout: str = "auto",
           title: str | None = None, seed: int = 7):
    """The drawing as a matplotlib Figure (not saved)."""
    Figure, LineCollection, Line2D, Patch = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    pos = compute_layout(graph, layout, seed)
    texts = {n: node_text(graph, n, addresses) for n in graph.nodes}
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    sizes = {n: _inches(t, FONT) for n, t in texts.items()}
    unit = layout_unit(pos, sizes)
    ends = end_labels(graph, intfs=intfs, addresses=addresses)
    link_words = [link_label(link.data) for link in graphs.links(graph)]
    end_words = [t for e in ends.values() for t in e.values() if t]
    if len(graph) <= 300:                    # room along a link for its labels (beside the node boxes)
        widest = max((_inches(t, FONT * 0.85)[0] for t in link_words if t), default=0)
        unit = max(unit, 1.2 * widest, 0.9 if widest else 0,
                   1.7 * max((_inches(t, FONT * 0.75)[0] for t in end_words), default=0))
        unit = min(unit, 3.0)
    half_w = max((w for w, _ in sizes.values()), default=0.5) / 2 / unit + 0.35
    half_h = max((h for _, h in sizes.values()), default=0.3) / 2 / unit + 0.35
    head, foot = (0.45 if title else 0.1), 0.4                  # inches: title above, legend below
    width, height = (span_x + 2 * half_w) * unit, (span_y + 2 * half_h) * unit + head + foot
    shrink = min(1.0, MAX_SIDE / max(width, height))
    font = max(3.0, FONT * shrink)
    fig_w, fig_h = max(4.0, width * shrink), max(2.0, height * shrink)
    fig = Figure(figsize=(fig_w, fig_h))
    FigureCanvasAgg(fig)                                  # a renderer to measure labels with
    ax = fig.add_axes((0.0, foot * shrink / fig_h, 1.0, 1.0 - (head + foot) * shrink / fig_h))
    ax.set_axis_off()
    extra_x = max(0.0, (4.0 / shrink - width) / 2 / unit)  # a figure at its minimum width: centre the drawing
    ax.set_xlim(min(xs) - half_w - extra_x, max(xs) + half_w + extra_x)
    ax.set_ylim(min(ys) - half_h, max(ys) + half_h)

    segments, colours, styles, counts = [], [], [], {}
    vlans = vlan_colours(graph)
    for link in graphs.links(graph):
        key = (link.u, link.v) if str(link.u) <= str(link.v) else (link.v, link.u)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] == 1:
            segments.append([pos[link.u], pos[link.v]])
            colour, style = link_style(link.data, vlans)
            colours.append(colour)
            styles.append(style)
    line_width = max(0.5, 1.3 * shrink) * (1.6 if vlans else 1.0)
    ax.add_collection(LineCollection(segments, colors=colours, linestyles=styles, linewidths=line_width, zorder=1))

    by_kind: dict[str, list] = {}
    node_artists = []
    for node in graph.nodes:
        kind = str(graph.nodes[node].get("kind"))
        by_kind.setdefault(kind, []).append(node)
        box, colour, _ = STYLES.get(kind, OTHER_STYLE)
        x, y = pos[node]
        node_artists.append(ax.text(x, y, texts[node], fontsize=font, ha="center", va="center", zorder=3,
                                    multialignment="center",
                                    bbox=dict(boxstyle=f"{box},pad=0.3", fc=colour, ec="#333333", lw=0.6)))
    fig.canvas.draw()                                       # sizes of the node boxes, for label placement
    renderer = fig.canvas.get_renderer()
    taken = [a.get_bbox_patch().get_window_extent(renderer).expanded(1.04, 1.1) for a in node_artists]
    dropped = 0
    for (u, v), count in counts.items():
        if count > 1:
            dropped += not _along(ax, renderer, taken, pos[u], pos[v], f"×{count}", font * 0.85, "#444444")
    for link in graphs.links(graph):
        text = link_label(link.data)
        if text:
            dropped += not _along(ax, renderer, taken, pos[link.u], pos[link.v], text, font * 0.85, "#a33")
    for lid, link_ends in ends.items():
        u, v = list(link_ends)[:2] if len(link_ends) == 2 else (list(link_ends) * 2)[:2]
        for near, far in ((u, v), (v, u)):
            if link_ends.get(near):
                dropped += not _along(ax, renderer, taken, pos[near], pos[far], link_ends[near], font * 0.75,
                                      "#225", at=(0.25, 0.32, 0.18, 0.4))
    handles = []
    for kind, nodes in sorted(by_kind.items()):
        box, colour, legend = STYLES.get(kind, OTHER_STYLE)
        handles.append(Patch(facecolor=colour, edgecolor="#333333", label=f"{legend if kind in STYLES else kind} "
                             f"({len(nodes)})"))
    for vid, colour in vlans.items():
        handles.append(Line2D([], [], color=colour, linewidth=2.5, label=f"VLAN {vid}"))
    if any(link.data.get("trunk") for link in graphs.links(graph)):
        handles.append(Line2D([], [], color=TRUNK_COLOUR, linestyle="--", linewidth=2.0, label="trunk"))
    legend_font = max(5.0, font * 0.85)
    entry = max(len(h.get_label()) for h in handles) * 0.6 * legend_font / 72 + 0.7
    fig.legend(handles=handles, loc="lower center", ncols=max(1, min(len(handles), int(fig_w * 0.95 / entry))),
               fontsize=legend_font, frameon=False, borderaxespad=0.2)
    if title:
        note = f"; {dropped} label(s) left out for lack of room" if dropped else ""
        heading = f"{title}: {len(graph)} nodes, {graph.number_of_edges()} links{note}"
        fits = max(20, int(fig_w * 72 / (0.6 * max(5.0, font * 1.05))))
        fig.suptitle("\n".join(textwrap.wrap(heading, fits)), x=0.01,
                     y=1 - 0.08 * shrink / fig_h, ha="left", va="top", fontsize=max(5.0, font * 1.05))
    fig.dropped_labels = dropped
    return fig


def _along(ax: Any, renderer: Any, taken: list, a: tuple[float, float], b: tuple[float, float], text: str,
           size: float, colour: str, at: tuple[float, ...] = (0.5, 0.4, 0.6, 0.3, 0.7, 0.25, 0.75, 0.2, 0.8)) -> bool:
    """Write ``text`` along the segment a-b, at the first place in ``at`` that overlaps nothing taken."""
    (xa, ya), (xb, yb) = ax.transData.transform(a), ax.transData.transform(b)
    angle = math.degrees(math.atan2(yb - ya, xb - xa))
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    for t in at:
        x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        label = ax.text(x, y, text, fontsize=size, color=colour, ha="center", va="center", zorder=4,
                        rotation=angle, rotation_mode="anchor",
                        bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.9))
        extent = label.get_window_extent(renderer).padded(2.0)
        if not any(extent.overlaps(other) for other in taken):
            taken.append(extent)
            return True
        label.remove()
    return False
