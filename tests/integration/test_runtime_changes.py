"""Changing a running Network: nodes and links added and removed, shaping changed, measured.

Every change goes through the planner and the journal, so teardown still removes all of
it (the autouse ``no_leftovers`` fixture checks); what a running network cannot change is
refused with the reason, and nothing is touched then.
"""
from __future__ import annotations

import os

import networkx as nx
import pytest

from testbed import Network, TopologyError, UsageError, ping
from testbed.run import traffic

pytestmark = pytest.mark.timeout(180)


def lan(backend: str = "linux", **edge) -> nx.Graph:
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_node("s1", kind="switch", backend=backend)
    g.add_edge("h1", "s1", **edge)
    g.add_edge("h2", "s1")
    return g


def goodput(net: Network) -> float:
    return traffic.iperf3(net["h1"], net["h2"], duration=2, omit=0.5).mbps


def test_set_link_changes_a_running_rate_measured():
    with Network(lan()) as net:
        net.set_link("h1", "s1", bw=10)
        assert 9.0 <= goodput(net) <= 10.0
        net.set_link("h1", "s1", bw=30)
        assert 27.0 <= goodput(net) <= 30.0
        net.set_link("h1", "s1", bw={"s1": 5})         # what s1 sends: 5; what h1 sends keeps its 30
        assert 27.0 <= goodput(net) <= 30.0
        assert 4.3 <= traffic.iperf3(net["h1"], net["h2"], duration=2, omit=0.5, reverse=True).mbps <= 5.25
        net.set_link("h1", "s1", bw=None)
        assert "htb" not in net["h1"].cmd("tc qdisc show dev h1-eth0")


def test_set_link_loss_on_an_open_vswitch_port_is_wire_loss():
    with Network(lan("ovs")) as net:
        net.set_link("h1", "s1", loss={"h1": 30})
        mac = net.plan.node("h2").interface("h2-eth0").mac
        net["h1"].run(["ip", "neigh", "replace", "10.0.0.2", "lladdr", mac, "dev", "h1-eth0", "nud", "permanent"])
        stats = ping(net["h1"], net["h2"], count=400, interval=0.005)
        assert 0.30 - traffic.loss_bound(0.30, 400) <= stats.loss_fraction <= 0.30 + traffic.loss_bound(0.30, 400)
        net.set_link("h1", "s1", loss=None)
        assert ping(net["h1"], net["h2"], count=50, interval=0.005).loss_fraction == 0


def test_bad_settings_and_what_the_kernel_lacks_change_nothing():
    with Network(lan()) as net:
        with pytest.raises(TopologyError):
            net.set_link("h1", "s1", bw="fast")
        with pytest.raises(UsageError, match="shaping settings are"):
            net.set_link("h1", "s1", vlan=10)
        import testbed
        if "netem" not in testbed.kernel_features():
            with pytest.raises(testbed.EnvironmentProblem, match="--vm"):
                net.set_link("h1", "s1", delay="10ms")
        assert "htb" not in net["h1"].cmd("tc qdisc show dev h1-eth0")
        assert ping(net["h1"], net["h2"], count=3, interval=0.05).loss_fraction == 0


@pytest.mark.parametrize("backend", ["linux", "ovs"])
def test_nodes_and_links_added_and_removed(backend):
    with Network(lan(backend)) as net:
        with net.changes():
            net.add_node("h3", kind="host")
            net.add_link("h3", "s1", bw=20)
        assert net["h3"].ip == "10.0.0.3"
        assert "s1-eth3" in net["s1"].intfs and "rate 20Mbit" in net["h3"].cmd("tc class show dev h3-eth0")
        assert ping(net["h3"], net["h1"], count=3, interval=0.05).loss_fraction == 0
        assert "h3" in net["h1"].cmd("cat /etc/hosts")
        with net.changes():                             # one LAN: h4 gets an address of s1's subnet
            net.add_node("s2", kind="switch", backend=backend)
            net.add_node("h4", kind="host")
            net.add_link("h4", "s2")
            net.add_link("s2", "s1")
        assert net["h4"].ip == "10.0.0.4" and net.pingall().ok
        netns = net["s2"].netns
        net["h4"].popen(["sleep", "300"])
        net.remove_node("s2")
        assert not os.path.exists(f"/run/netns/{netns}") and "s2" not in net.nodes
        assert net["h4"].intfs == []
        net.remove_link("h3", "s1")
        assert "s1-eth3" not in net["s1"].cmd("ip -br link")
        net.add_link("h3", "s1")                           # a new port after the highest one left
        assert "s1-eth3" in net["s1"].intfs and "s1-eth4" not in net["s1"].intfs
        assert ping(net["h3"], net["h2"], count=3, interval=0.05).loss_fraction == 0


def test_what_a_running_network_cannot_change_is_refused():
    with Network(lan("ovs")) as net:
        before = set(os.listdir("/run/netns"))
        with pytest.raises(UsageError, match="cannot make this change: the vlans settings would change"):
            with net.changes():
                net.add_node("h5", kind="host")
                net.add_link("h5", "s1", vlan=10)
        assert "h5" not in net.nodes and set(os.listdir("/run/netns")) - before == set()
        assert net.pingall().ok


def test_changes_need_a_graph_and_a_running_network():
    net = Network(lan())
    with pytest.raises(UsageError, match="not running"):
        net.add_node("h9", kind="host")
    net.start()
    try:
        with pytest.raises(UsageError, match="kind"):
            net.add_node("h9")
        with pytest.raises(UsageError, match="already has"):
            net.add_node("h1", kind="host")
        with pytest.raises(UsageError, match="no node"):
            net.add_link("h1", "nowhere")
    finally:
        net.stop()
