"""VLANs on Linux bridges: planned with vlan_filtering where the kernel has it, refused where not."""
import networkx as nx
import pytest

from testbed import load
from testbed.backends import linux
from testbed.concerns.vlans import port_vlan
from testbed.errors import EnvironmentProblem
from testbed.planning import pipeline as planner
from testbed.topology.resolve import resolve

WITH = frozenset({"veth", "bridge", "bridge-vlan-filtering"})
WITHOUT = frozenset({"veth", "bridge"})


def _vlans(**params):
    graph, _ = load("topologies/vlans.py", {"backend": "linux", **params})
    return graph


def test_refused_without_vlan_filtering_naming_links_and_ways_out():
    with pytest.raises(EnvironmentProblem) as info:
        planner.plan(_vlans(), features=WITHOUT)
    text = str(info.value)
    for link in ("s1--s2", "s1--h1", "s1--h2", "s2--h3", "s2--h4"):
        assert link in text
    assert "vlan_filtering" in text and "backend='ovs'" in text and "--vm" in text
    assert "--switch" not in text                      # the switches name their backend: it would not help
    assert info.value.exit_code == 3
    graph = _vlans()
    for switch in ("s1", "s2"):
        del graph.nodes[switch]["backend"]
    with pytest.raises(EnvironmentProblem, match="--switch ovs"):
        planner.plan(graph, features=WITHOUT)
    assert planner.plan(graph, features=WITHOUT, switch="ovs").node("s1").interfaces[0].kind == "ovs"


def test_planned_with_vlan_filtering():
    plan = planner.plan(_vlans(), features=WITH)
    for switch in ("s1", "s2"):
        node = plan.node(switch)
        bridge = node.interface(switch)
        assert bridge.kind == "bridge" and bridge.bridge.vlan_filtering
        assert port_vlan(plan, switch, f"{switch}-eth1").trunk == (10, 20)
        assert port_vlan(plan, switch, f"{switch}-eth2").vlan == 10 and port_vlan(plan, switch, f"{switch}-eth3").vlan == 20
    lans = sorted(sorted(n for n, _ in seg.interfaces) for seg in plan.segments if seg.interfaces)
    assert lans == [["h1", "h3"], ["h2", "h4"]]      # one LAN per VLAN across the trunk


def test_unknown_capabilities_plan_for_a_kernel_with_everything():
    assert planner.plan(_vlans(), features=None).node("s1").interface("s1").bridge.vlan_filtering


def test_ovs_switches_need_no_vlan_filtering():
    graph, _ = load("topologies/vlans.py", {"backend": "ovs"})
    assert not linux.vlan_links(resolve(graph).topo)
    assert planner.plan(graph, features=WITHOUT).node("s1").interfaces[0].kind == "ovs"


def test_switch_without_vlans_is_a_plain_bridge_and_its_json_unchanged():
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_edge("h1", "s1")
    g.add_edge("h2", "s1")
    for h in ("h1", "h2"):
        g.nodes[h]["kind"] = "host"
    plan = planner.plan(g, features=WITHOUT)
    assert not plan.node("s1").interface("s1").bridge.vlan_filtering
    assert "vlan_filtering" not in plan.to_json() and not linux.vlan_links(resolve(g).topo)
    assert linux.node_commands(plan, "s1") == []


def test_port_commands():
    plan = planner.plan(_vlans(), features=WITH)
    assert linux.node_commands(plan, "s1") == [
        "vlan del dev s1-eth1 vid 1", "vlan add dev s1-eth1 vid 10", "vlan add dev s1-eth1 vid 20",
        "vlan del dev s1-eth2 vid 1", "vlan add dev s1-eth2 vid 10 pvid untagged",
        "vlan del dev s1-eth3 vid 1", "vlan add dev s1-eth3 vid 20 pvid untagged"]
    assert linux.node_commands(plan, "h1") == []
    assert '"vlan_filtering": true' in plan.to_json()


def test_an_untagged_link_between_vlan_switches_carries_every_vlan():
    """No trunk on s1--s2: the segments let every VLAN across, so the uplink port gets each
    VLAN in use tagged and keeps VLAN 1 for untagged frames (the kernel lane builds it)."""
    graph = _vlans()
    del graph.edges["s1", "s2"]["trunk"]
    plan = planner.plan(graph, features=WITH)
    assert port_vlan(plan, "s1", "s1-eth1") is None
    assert linux.node_commands(plan, "s1")[:2] == ["vlan add dev s1-eth1 vid 10", "vlan add dev s1-eth1 vid 20"]
    lans = sorted(sorted(n for n, _ in seg.interfaces) for seg in plan.segments if seg.interfaces)
    assert lans == [["h1", "h3"], ["h2", "h4"]]


def test_linux_bridge_facing_an_ovs_switch():
    """Only the Linux end of a mixed trunk needs vlan_filtering."""
    graph = _vlans()
    graph.nodes["s2"]["backend"] = "ovs"
    assert linux.vlan_links(resolve(graph).topo) == ["s1--s2", "s1--h1", "s1--h2"]
    with pytest.raises(EnvironmentProblem, match="s1--h1"):
        planner.plan(graph, features=WITHOUT)
    plan = planner.plan(graph, features=WITH)
    assert plan.node("s1").interface("s1").bridge.vlan_filtering and plan.node("s2").interfaces[0].kind == "ovs"


def test_network_asks_the_kernel_and_refuses_before_building(monkeypatch):
    from testbed.run import network
    asked = []
    monkeypatch.setattr(network.caps, "features", lambda: asked.append(1) or WITHOUT)
    with pytest.raises(EnvironmentProblem, match="vlan_filtering"):
        network.Network(_vlans(), source="vlans")
    assert asked == [1]
