"""Drawings a network person expects: tiers, honoured pos, labels that overlap nothing, devices inside nodes."""
from __future__ import annotations

import itertools
import math

import pytest

from testbed.topology import load as loader
from testbed.views import draw, layout


def graph(name, **params):
    return loader.load(f"topologies/{name}.py", {k: str(v) for k, v in params.items()})[0]


def rows(pos):
    """Distinct y values from the top down -> node names in that row."""
    ys = sorted({round(y, 6) for _, y in pos.values()}, reverse=True)
    return [sorted((n for n, (_, y) in pos.items() if round(y, 6) == row), key=layout.natural) for row in ys]


def test_fat_tree_in_tiers_core_aggregation_edge_hosts():
    g = graph("fat_tree", k=4)
    tiers = rows(draw.compute_layout(g))
    assert [len(r) for r in tiers] == [4, 8, 8, 16]
    assert tiers[0] == ["c1", "c2", "c3", "c4"]
    assert all(n.startswith("a") for n in tiers[1]) and all(n.startswith("e") for n in tiers[2])
    assert all(n.startswith("h") for n in tiers[3])
    pos = draw.compute_layout(g)
    xs = {n: x for n, (x, _) in pos.items()}
    assert sorted(tiers[3], key=lambda n: xs[n]) == [f"h{i}" for i in range(1, 17)]   # hosts in order, by pod
    level = {n: i for i, row in enumerate(tiers) for n in row}
    assert all(abs(level[u] - level[v]) == 1 for u, v in g.edges())                  # links join neighbouring tiers


def test_leaf_spine_spines_on_top_then_leaves_then_hosts():
    tiers = rows(draw.compute_layout(graph("leaf_spine_l2", spines=2, leaves=4, hosts=2)))
    assert tiers == [["s1", "s2"], ["l1", "l2", "l3", "l4"], [f"h{i}" for i in range(1, 9)]]


def test_tree_3x3_and_vlans_in_rows():
    assert [len(r) for r in rows(draw.compute_layout(graph("tree", depth=3, fanout=3)))] == [1, 3, 9, 27]
    assert rows(draw.compute_layout(graph("vlans"))) == [["s1", "s2"], ["h1", "h2", "h3", "h4"]]


def test_layout_tree_for_a_graph_that_is_not_a_tree_layers_by_distance_from_the_core():
    g = graph("fat_tree", k=4)
    assert layout.core_of(g, {n: k for n, k in g.nodes(data="kind")}) == {"c1", "c2", "c3", "c4"}
    tiers = rows(draw.compute_layout(g, "tree"))
    assert tiers[0] == ["c1", "c2", "c3", "c4"] and [len(r) for r in tiers] == [4, 8, 8, 16]
    ring = graph("ring", k=4)                       # no obvious core: rows by distance from the centre
    pos = draw.compute_layout(ring, "tree")
    assert len(rows(pos)) >= 2 and len(set(pos.values())) == len(ring)


def test_pos_is_honoured_exactly_all_or_some():
    g = graph("leaf_spine_l2", spines=2, leaves=2, hosts=1)
    for i, node in enumerate(g.nodes):
        g.nodes[node]["pos"] = (i * 2.0, -i)
    assert draw.compute_layout(g) == {n: (i * 2.0, float(-i)) for i, n in enumerate(g.nodes)}
    g = graph("leaf_spine_l2", spines=2, leaves=2, hosts=1)
    g.nodes["h1"]["pos"] = (10, 10)
    pos = draw.compute_layout(g)
    assert pos["h1"] == (10.0, 10.0) and len(set(pos.values())) == len(g)
    fig = draw.figure(g)
    label = next(t for t in fig.axes[0].texts if t.get_text() == "h1")
    assert label.get_position() == (10.0, 10.0)
    g.nodes["h1"]["pos"] = "top left"
    with pytest.raises(Exception, match=r"node h1: pos='top left': give two numbers"):
        draw.compute_layout(g)


CASES = [("fat_tree", {"k": 4}, {}), ("leaf_spine_l2", {"bw": 100}, {}), ("tree", {"depth": 3, "fanout": 3}, {}),
         ("three_hosts", {}, {"intfs": True, "addresses": True}), ("vlans", {}, {}), ("nat", {}, {"addresses": True}),
         ("routed", {}, {"intfs": True})]


@pytest.mark.parametrize("name, params, options", CASES, ids=[c[0] for c in CASES])
def test_no_label_overlaps_a_node_or_another_label(name, params, options):
    fig = draw.figure(graph(name, **params), title=name, **options)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [t.get_bbox_patch().get_window_extent(renderer) if t.get_bbox_patch() is not None
             else t.get_window_extent(renderer) for t in ax.texts]
    nodes = [t for t in ax.texts if t.get_bbox_patch() is not None and t.get_bbox_patch().get_boxstyle()
             .__class__.__name__ in ("Round", "Square", "Circle", "Sawtooth", "Round4") and t.get_rotation() == 0]
    assert len(ax.texts) >= len(graph(name, **params))
    overlapping = [(a.get_text(), b.get_text()) for (a, ea), (b, eb) in
                   itertools.combinations(zip(ax.texts, boxes), 2) if ea.overlaps(eb)]
    assert not overlapping, overlapping[:5]
    assert fig.dropped_labels == 0
    assert nodes


def test_in_node_devices_are_drawn_inside_their_node():
    g = graph("three_hosts")
    fig = draw.figure(g)
    a = next(t for t in fig.axes[0].texts if t.get_text().startswith("A\n"))
    assert a.get_text().splitlines() == ["A", "eth0: dummy", "br0: bridge of nic1, nic2"]
    with_addresses = draw.figure(g, addresses=True)
    a = next(t for t in with_addresses.axes[0].texts if t.get_text().startswith("A\n"))
    assert "br0: bridge of nic1, nic2 10.0.0.1/24" in a.get_text()


def test_link_labels_are_short_and_along_their_link():
    assert draw.link_label({"bw": 100}) == "100M"
    assert draw.link_label({"bw": 1000, "delay": "5ms", "loss": 1}) == "1G 5ms 1%"
    assert draw.link_label({"bw": 0.5}) == "500k" and draw.link_label({"bw": "2Gbit"}) == "2G"
    assert draw.link_label({"bw": {"h1": 10, "h2": 20}}) == "10M/20M"
    g = graph("leaf_spine_l2", spines=2, leaves=2, hosts=1, bw=100)
    fig = draw.figure(g)
    ax = fig.axes[0]
    pos = draw.compute_layout(g)
    labels = [t for t in ax.texts if t.get_text() == "100M"]
    assert len(labels) == 4
    for label in labels:                  # rotated like the link it sits on (in screen coordinates)
        x, y = label.get_position()
        link = min(((u, v) for u, v in g.edges() if g.edges[u, v].get("bw")),
                   key=lambda e: _distance_to_segment((x, y), pos[e[0]], pos[e[1]]))
        (xa, ya), (xb, yb) = ax.transData.transform(pos[link[0]]), ax.transData.transform(pos[link[1]])
        angle = math.degrees(math.atan2(yb - ya, xb - xa))
        angle = angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle
        assert label.get_rotation() == pytest.approx(angle % 360, abs=0.5) or \
            label.get_rotation() == pytest.approx(angle, abs=0.5)


def _distance_to_segment(p, a, b):
    (px, py), (ax_, ay), (bx, by) = p, a, b
    dx, dy = bx - ax_, by - ay
    t = max(0.0, min(1.0, ((px - ax_) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.dist(p, (ax_ + t * dx, ay + t * dy))
