"""Topology drawings (no root, no display)."""
from __future__ import annotations

import glob
import itertools
import math
import os

import pytest

from testbed.views import draw
from testbed.topology import load as loader
from testbed.topology import mininet as mininet_import
from testbed.errors import UsageError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHIPPED = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "topologies", "*.py")))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: os.path.basename(p))
def test_every_shipped_topology_draws_a_png(path, tmp_path):
    graph, _ = loader.load(path)
    out = tmp_path / "topo.png"
    draw.draw(graph, str(out), intfs=True, addresses=True, title=os.path.basename(path))
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_shipped_topologies_exist():
    assert len(SHIPPED) >= 5


@pytest.mark.parametrize("ext, magic", [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_format_follows_the_extension(tmp_path, ext, magic):
    graph, _ = loader.load(SHIPPED[0])
    out = tmp_path / f"topo.{ext}"
    draw.draw(graph, str(out))
    assert out.read_bytes().startswith(magic)


def test_bad_extension_and_missing_folder(tmp_path):
    graph, _ = loader.load(SHIPPED[0])
    with pytest.raises(UsageError, match="unknown format"):
        draw.draw(graph, str(tmp_path / "topo.jpeg"))
    with pytest.raises(UsageError, match="does not exist"):
        draw.draw(graph, str(tmp_path / "nope" / "topo.png"))
    with pytest.raises(UsageError, match="unknown"):
        draw.compute_layout(graph, "nosuch")


def _min_distance(pos):
    return min(math.dist(a, b) for a, b in itertools.combinations(pos.values(), 2))


@pytest.mark.parametrize("graph", [
    loader.load("topologies/single.py", {"n": "199"})[0],
    loader.load("topologies/linear.py", {"k": "100"})[0],
    loader.load("topologies/linear.py", {"k": "50", "n": "3"})[0],
    loader.load("topologies/ring.py", {"k": "100"})[0],
    mininet_import.build("tree,3,6").graph,
], ids=["star199", "linear100", "linear50x3", "ring100", "tree3x6"])
def test_large_layouts_keep_nodes_apart(graph):
    pos = draw.compute_layout(graph)
    assert set(pos) == set(graph.nodes)
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys))
    # No two nodes closer than 1/150 of the drawing (more than a node's width at 200 nodes).
    assert _min_distance(pos) > span / 150


def test_layout_is_deterministic_and_respects_pos():
    graph, _ = loader.load("topologies/ring.py", {"k": "6"})
    assert draw.compute_layout(graph, "spring") == draw.compute_layout(graph, "spring")
    for i, node in enumerate(graph.nodes):
        graph.nodes[node]["pos"] = (i, -i)
    assert draw.compute_layout(graph)["h1"] == graph.nodes["h1"]["pos"]


def test_large_png_is_written(tmp_path):
    graph = mininet_import.build("tree,3,6").graph
    out = tmp_path / "big.png"
    draw.draw(graph, str(out))
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_link_and_end_labels():
    assert draw.link_label({"bw": 10, "delay": "5ms", "loss": 1, "queue": 100}) == "10M 5ms 1% q100"
    assert draw.link_label({}) == ""
    graph, _ = loader.load("topologies/single.py", {"n": "2"})
    labels = draw.end_labels(graph, intfs=True, addresses=True)
    ends = [e for ends in labels.values() for e in ends.values()]
    assert "h1-eth0 10.0.0.1/24" in ends and "s1-eth1" in ends


def test_device_labels_show_in_node_addresses():
    graph, _ = loader.load("topologies/three_hosts.py")
    assert draw.device_labels(graph) == {"A": "eth0 192.168.100.2/24\nbr0 10.0.0.1/24"}


def test_vlans_are_coloured_and_trunks_dashed():
    import networkx as nx
    from testbed.views.draw import TRUNK_COLOUR, link_style, vlan_colours
    g = nx.Graph()
    g.add_node("s1", kind="switch", backend="ovs", mac_vlans={"02:00:00:00:00:01": 30})
    g.add_node("s2", kind="switch", backend="ovs")
    g.add_node("h1", kind="host")
    g.add_edge("h1", "s1", vlan=10)
    g.add_edge("s1", "s2", trunk=[10, 20])
    colours = vlan_colours(g)
    assert sorted(colours) == [10, 30] and len(set(colours.values())) == 2
    assert link_style(g.edges["h1", "s1"], colours) == (colours[10], "-")
    assert link_style(g.edges["s1", "s2"], colours) == (TRUNK_COLOUR, "--")
