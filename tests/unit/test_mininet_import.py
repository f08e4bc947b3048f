"""Mininet Topo classes converted into testbed graphs (no root needed)."""
from __future__ import annotations

import textwrap

import networkx as nx
import pytest

from testbed.topology import graphs
from testbed.topology import load as loader
from testbed.topology import mininet as mininet_import
from testbed.planning import pipeline as planner
from testbed.errors import UsageError

CUSTOM = '''
from mininet.topo import Topo
from mininet.link import TCLink


class Dumbbell(Topo):
    "Two hosts on each of two switches; the switches joined by a shaped link."

    def build(self, n=2):
        left = self.addSwitch("s1")
        right = self.addSwitch("s2")
        for i in range(1, n + 1):
            self.addLink(self.addHost(f"h{i}"), left, bw=100, delay="1ms")
        for i in range(n + 1, 2 * n + 1):
            self.addLink(self.addHost(f"h{i}"), right, cls=TCLink, bw=100)
        self.addLink(left, right, bw=10, delay="5ms", loss=1, max_queue_size=100, use_htb=True)


topos = {"dumbbell": Dumbbell, "small": (lambda: Dumbbell(n=1))}
'''

NATIVE = '''
import networkx as nx


def topology(n: int = 2):
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="switch")
    for i in range(1, n + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s1", bw=100, delay="1ms")
    for i in range(n + 1, 2 * n + 1):
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", "s2", bw=100)
    g.add_edge("s1", "s2", bw=10, delay="5ms", loss=1, queue=100)
    return g
'''


def _plan_body(plan):
    data = plan.to_dict()
    data.pop("source")
    data.pop("params")
    return data


@pytest.fixture
def files(tmp_path):
    custom = tmp_path / "dumbbell_mn.py"
    custom.write_text(CUSTOM)
    native = tmp_path / "dumbbell.py"
    native.write_text(NATIVE)
    return str(custom), str(native)


def test_custom_file_converts_to_the_same_graph_as_the_native_file(files):
    custom, native = files
    converted = mininet_import.build("dumbbell", custom)
    graph, _ = loader.load(native)
    assert nx.utils.graphs_equal(converted.graph, graph)
    assert list(converted.graph.nodes) == list(graph.nodes)
    assert graphs.port_names(converted.graph) == graphs.port_names(graph)
    assert _plan_body(planner.plan(converted.graph, "a", {})) == _plan_body(planner.plan(graph, "b", {}))
    assert converted.graph.edges["s1", "s2"] == {"bw": 10, "delay": "5ms", "loss": 1, "queue": 100}
    assert converted.ignored == ["link s1--s2: option use_htb=True"]


def test_custom_topo_arguments_and_lambdas(files):
    custom, native = files
    three = mininet_import.build("dumbbell,n=3", custom)
    assert sorted(n for n, k in three.graph.nodes(data="kind") if k == "host") == [f"h{i}" for i in range(1, 7)]
    assert three.params == {"topo": "dumbbell", "n": 3}
    small = mininet_import.build("small", custom)
    assert len(small.graph) == 4


@pytest.mark.parametrize("spec, native, params", [
    ("single,3", "topologies/single.py", {"n": "3"}),
    ("linear,4", "topologies/linear.py", {"k": "4"}),
    ("tree,2,3", "topologies/tree.py", {"depth": "2", "fanout": "3"}),
    ("tree,depth=3,fanout=2", "topologies/tree.py", {"depth": "3", "fanout": "2"}),
])
def test_mn_builtin_topologies_match_ours(spec, native, params):
    converted = mininet_import.build(spec).graph
    graph, _ = loader.load(native, params)
    assert nx.utils.graphs_equal(nx.Graph(converted), nx.Graph(graph))
    assert graphs.port_names(converted) == graphs.port_names(graph)


@pytest.mark.parametrize("spec", ["tree,2,3", "reversed,4", "linear,3,2", "torus,3,3"])
def test_interface_names_are_mininets(spec):
    name, args, kwargs = mininet_import.split_spec(spec)
    topo = mininet_import.builtin_topos()[name](*args, **kwargs)
    graph = mininet_import.convert(topo).graph
    ports = graphs.port_names(graph)
    for n1, n2, key, info in topo.iterLinks(withKeys=True, withInfo=True):
        lid = graphs.link_id(n1, n2, key if graph.is_multigraph() else 0)
        assert ports[lid][n1] == f"{n1}-eth{info['port1']}"
        assert ports[lid][n2] == f"{n2}-eth{info['port2']}"


def test_explicit_ports_names_addresses_and_ignored_options(tmp_path):
    path = tmp_path / "odd.py"
    path.write_text(textwrap.dedent('''
        from mininet.topo import Topo

        class Odd(Topo):
            def build(self):
                s = self.addSwitch("s1", dpid="1", stp=True)
                a = self.addHost("a", ip="10.1.0.1", defaultRoute="via 10.1.0.254", cpu=0.5)
                b = self.addHost("b", mac="00:00:00:00:00:0b")
                self.addLink(a, s, port2=7, params1={"ip": "10.1.0.1/24"}, delay="2ms")
                self.addLink(b, s, intfName1="b-nic", addr1="00:00:00:00:00:0b")

        topos = {"odd": Odd}
    '''))
    conversion = mininet_import.build(None, str(path))
    g = conversion.graph
    assert g.nodes["s1"] == {"kind": "switch", "stp": True}
    assert g.nodes["a"] == {"kind": "host", "ip": "10.1.0.1/8", "default_route": "10.1.0.254"}
    assert g.edges["a", "s1"]["ip"] == {"a": "10.1.0.1/24"}
    assert g.edges["a", "s1"]["intf"] == {"a": "a-eth0", "s1": "s1-eth7"}
    assert g.edges["b", "s1"]["intf"]["b"] == "b-nic"
    assert g.edges["b", "s1"]["mac"] == {"b": "00:00:00:00:00:0b"}
    assert sorted(conversion.ignored) == ["node a: option cpu=0.5", "node s1: option dpid='1'"]


def test_parallel_links_make_a_multigraph():
    from mininet.topo import Topo

    class Twice(Topo):
        def build(self):
            self.addLink(self.addHost("h1"), self.addSwitch("s1"))
            self.addLink("h1", "s1")

    graph = mininet_import.convert(Twice()).graph
    assert graph.is_multigraph() and graph.number_of_edges("h1", "s1") == 2
    names = sorted(n["h1"] for n in graphs.port_names(graph).values())
    assert names == ["h1-eth0", "h1-eth1"]


@pytest.mark.parametrize("spec, custom, message", [
    ("nosuch,3", None, "unknown topology"),
    ("tree,x=1", None, "building it failed"),
    (",3", None, "expected NAME"),
    (None, None, "--topo NAME"),
    ("single", "/nonexistent/topo.py", "does not exist"),
])
def test_bad_specs_are_usage_errors(spec, custom, message):
    with pytest.raises(UsageError, match=message):
        mininet_import.build(spec, custom)


def test_custom_file_without_topos(tmp_path):
    path = tmp_path / "none.py"
    path.write_text("x = 1\n")
    with pytest.raises(UsageError, match="no 'topos' dict"):
        mininet_import.build("x", str(path))


def test_split_spec_converts_numbers():
    assert mininet_import.split_spec("tree,2,fanout=3,name=x,f=0.5") == ("tree", [2], {"fanout": 3, "name": "x", "f": 0.5})
