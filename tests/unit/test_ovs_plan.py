"""OVS switches, VLANs and MAC-based VLANs from graph to Plan, flows and expected reachability."""
import networkx as nx
import pytest

from testbed import load, validate
from testbed.concerns.vlans import port_vlan
from testbed.errors import EnvironmentProblem, UsageError
from testbed.ovs import openflow
from testbed.ovs.records import switch_of
from testbed.planning import pipeline as planner
from testbed.planning.reach import Reachability


def _problems(graph):
    return [str(p) for p in validate(graph)]


def _two_hosts(backend="ovs", **link):
    g = nx.Graph()
    g.add_node("s1", kind="switch", backend=backend)
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "s1", **link)
    g.add_edge("h2", "s1")
    return g


def test_vlan_on_a_linux_bridge_is_valid_and_decided_by_the_kernel():
    """Whether a Linux bridge can do VLANs is a kernel question (tests/unit/test_bridge_vlan_plan.py)."""
    assert _problems(_without_backend(vlan=10)) == []
    assert _problems(_two_hosts(backend="linux", vlan=10)) == []


def test_switch_backend_from_the_command_line():
    plan = planner.plan(_without_backend(vlan=10), switch="ovs")
    s1 = plan.node("s1")
    assert s1.interfaces[0].kind == "ovs"
    assert port_vlan(plan, "s1", "s1-eth1").vlan == 10
    with pytest.raises(EnvironmentProblem):              # default linux, kernel without vlan_filtering
        planner.plan(_without_backend(vlan=10), features=frozenset({"bridge"}))
    with pytest.raises(UsageError):
        planner.plan(_without_backend(), switch="bogus")


def _without_backend(**link):
    g = _two_hosts(**link)
    del g.nodes["s1"]["backend"]
    return g


def test_explicit_backend_wins_over_the_run_default():
    g = _two_hosts(backend="linux")
    plan = planner.plan(g, switch="ovs")
    assert plan.node("s1").interfaces[0].kind == "bridge"


@pytest.mark.parametrize("link, words", [
    ({"vlan": 0}, "not a VLAN id"),
    ({"vlan": 4095}, "not a VLAN id"),
    ({"trunk": [10, 10]}, "twice"),
    ({"trunk": [10]}, "between two switches"),
    ({"vlan": 10, "trunk": [10]}, "both"),
])
def test_bad_vlan_settings(link, words):
    problems = _problems(_two_hosts(**link))
    assert any(words in p for p in problems), problems


def test_vlan_between_two_hosts_is_refused():
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2", vlan=10)
    assert any("needs a switch" in p for p in _problems(g))


def test_ovs_only_attributes_need_the_ovs_backend():
    g = _two_hosts(backend="linux")
    g.nodes["s1"]["fail_mode"] = "secure"
    assert any("fail_mode" in p and "Open vSwitch" in p for p in _problems(g))
    g.nodes["s1"]["backend"] = "ovs"
    assert _problems(g) == []
    g.nodes["s1"]["controller"] = "http://x"
    assert any("OpenFlow target" in p for p in _problems(g))


def test_mac_vlan_switch_needs_vlan_links_to_other_switches():
    graph, _ = load("topologies/mac_vlan.py", {})
    assert validate(graph) == []
    del graph.edges["s1", "s2", 0]["trunk"]
    assert any("must say which VLANs" in p for p in _problems(graph))


def test_vlans_split_segments_and_the_expected_matrix():
    graph, params = load("topologies/vlans.py", {})
    plan = planner.plan(graph, "vlans", params)
    groups = {frozenset(n for n, _ in s.interfaces) for s in plan.segments if s.interfaces}
    assert groups == {frozenset({"h1", "h3"}), frozenset({"h2", "h4"})}
    reach = Reachability(plan)
    vlan = {"h1": 10, "h2": 20, "h3": 10, "h4": 20}
    for a in vlan:
        for b in vlan:
            if a != b:
                assert reach.expected(a, b) == (vlan[a] == vlan[b]), (a, b)
    s1 = switch_of(plan, "s1")
    assert s1.port("s1-eth1").trunk == (10, 20)
    assert [p.vlan for p in s1.ports] == [None, 10, 20]
    assert [p.ofport for p in s1.ports] == [1, 2, 3]


def test_mac_vlan_expected_matrix_follows_the_macs():
    graph, params = load("topologies/mac_vlan.py", {})
    plan = planner.plan(graph, "mac_vlan", params)
    reach = Reachability(plan)
    vlan = {"h1": 10, "h2": 20, "h3": 10, "h4": 20, "h5": 10, "h6": 20}
    for a in vlan:
        for b in vlan:
            if a != b:
                assert reach.expected(a, b) == (vlan[a] == vlan[b]), (a, b)


def test_plans_without_ovs_keep_their_json():
    graph, params = load("topologies/single.py", {"n": "2"})
    text = planner.plan(graph, "single", params).to_json()
    for key in ('"ovs"', '"vlan"', '"trunk"', '"ofport"'):
        assert key not in text


def test_bridge_commands_make_access_and_trunk_ports():
    graph, params = load("topologies/vlans.py", {})
    node = switch_of(planner.plan(graph), "s1")
    commands = openflow.bridge_commands(node, "netdev")
    assert ["add-br", "s1"] in commands
    flat = [" ".join(c) for c in commands]
    assert any("datapath_type=netdev" in c and "fail_mode=standalone" in c for c in flat)
    assert "set port s1-eth1 trunks=10,20 vlan_mode=trunk" in flat
    assert "set port s1-eth2 tag=10 vlan_mode=access" in flat
    assert "set interface s1-eth3 ofport_request=3" in flat
    assert openflow.flows(node) is None                    # NORMAL: OVS's learning switch


def test_hub_is_one_flood_flow():
    g = _two_hosts()
    g.nodes["s1"]["kind"] = "hub"
    node = switch_of(planner.plan(g), "s1")
    assert openflow.flows(node) == ["priority=0,actions=FLOOD"]


def test_mac_vlan_flows_classify_by_mac_and_tag_trunks():
    graph, _ = load("topologies/mac_vlan.py", {})
    node = switch_of(planner.plan(graph), "s1")
    table = openflow.flows(node)
    trunk = node.port("s1-eth6").ofport
    assert any("dl_src=02:00:00:00:0a:01" in f and "load:10->NXM_NX_REG0[]" in f for f in table)
    assert any("dl_src=02:00:00:00:14:01" in f and "load:20->NXM_NX_REG0[]" in f for f in table)
    assert f"table=0,priority=200,in_port={trunk},dl_vlan=20,actions=load:20->NXM_NX_REG0[],strip_vlan,resubmit(,1)" in table
    unlisted = [f for f in table if f.startswith("table=0,priority=0,")]
    assert len(unlisted) == 1 and "resubmit" not in unlisted[0]     # unlisted MACs go nowhere
    assert "table=4,priority=0,actions=output:NXM_NX_REG2[0..15]" in table   # silent ports still hear
    assert "table=3,priority=300,reg0=20,dl_dst=02:00:00:00:0a:01,actions=drop" in table  # never cross
    flood10 = next(f for f in table if f.startswith("table=3,priority=100,reg0=10,reg1=0"))
    assert f"mod_vlan_vid:10,output:{trunk}" in flood10


def test_hub_with_vlans_is_refused():
    g = _two_hosts(vlan=10)
    g.nodes["s1"]["hub"] = True
    assert any("is a hub" in p for p in _problems(g))


def test_testcontroller_is_reached_on_the_runs_own_socket():
    g = _two_hosts()
    g.nodes["s1"].update(controller="testcontroller", fail_mode="secure")
    node = switch_of(planner.plan(g), "s1")
    commands = openflow.bridge_commands(node, "netdev", "unix:/run/testbed/x/ovs/s1/controller.sock")
    assert ["set-controller", "s1", "unix:/run/testbed/x/ovs/s1/controller.sock"] in commands
    assert any("fail_mode=secure" in " ".join(c) for c in commands)
    g.nodes["s1"]["controller"] = "tcp:10.0.0.9:6653"
    commands = openflow.bridge_commands(switch_of(planner.plan(g), "s1"), "netdev", "unix:/ignored")
    assert ["set-controller", "s1", "tcp:10.0.0.9:6653"] in commands


def test_ovs_port_security_refuses_what_flows_cannot_do():
    g = _two_hosts()
    g.nodes["s1"]["max_macs"] = 1
    assert _problems(g) == []                               # one MAC per port: learned flows
    assert _problems(_two_hosts(port={"s1": {"max_macs": 16}})) == []
    problems = _problems(_two_hosts(port={"s1": {"max_macs": 17}}))
    assert len(problems) == 1 and "max_macs=17 on port s1--h1" in problems[0] and "max_macs <= 16" in problems[0]
    g = _two_hosts(port={"s1": {"hairpin": True}})
    assert any("hairpin on s1--h1" in p and "backend='linux'" in p for p in _problems(g))
    g = _two_hosts()
    g.nodes["s1"]["dhcp_snooping"] = True
    assert any("dhcp_snooping" in p and "backend='linux'" in p for p in _problems(g))
    g = _two_hosts(port={"s1": {"binding": {"mac": "02:00:00:00:00:01"}}})
    g.nodes["s1"]["hub"] = True
    assert any("port security (s1--h1)" in p and "hub" in p for p in _problems(g))