"""Addressing, MAC allocation, subnet sizing, routes and expected reachability of plans."""
from __future__ import annotations

import ipaddress

import networkx as nx
import pytest

from helpers import hosts_on
from testbed import load
from testbed import plan
from testbed.planning.addressing import MacAllocator, allocate_subnets, host_addresses, prefix_for
from testbed.planning.reach import Reachability, target_address


def planned(name: str, **params):
    graph, full = load(f"topologies/{name}.py", {k: str(v) for k, v in params.items()})
    return plan(graph, source=name, params=full)


def addresses(p) -> dict[str, list[str]]:
    return {n.name: n.addresses for n in p.nodes if n.addresses}


def routes(p, node: str) -> list[tuple[str, str]]:
    return [(r.dst, r.via) for r in p.node(node).routes]


def matrix(p) -> dict[tuple[str, str], bool]:
    reach = Reachability(p)
    hosts = [n.name for n in p.nodes if n.kind == "host"]
    return {(a, b): reach.expected(a, b) for a in hosts for b in hosts if a != b}


# ---------------------------------------------------------------- addresses

def test_mininet_numbering_on_one_lan():
    p = planned("single", n=5)
    assert addresses(p) == {f"h{i}": [f"10.0.0.{i}/24"] for i in range(1, 6)}
    assert p.hosts == tuple((f"h{i}", f"10.0.0.{i}") for i in range(1, 6))


def test_linear_and_tree_share_one_lan_numbered_in_order():
    p = planned("linear", k=4)
    assert addresses(p) == {f"h{i}": [f"10.0.0.{i}/24"] for i in range(1, 5)}
    p = planned("tree", depth=2, fanout=3)
    assert addresses(p) == {f"h{i}": [f"10.0.0.{i}/24"] for i in range(1, 10)}


def test_interface_names_follow_mininet():
    p = planned("single", n=3)
    assert [i.name for i in p.node("s1").interfaces] == ["s1", "s1-eth1", "s1-eth2", "s1-eth3"]
    assert [i.name for i in p.node("h2").interfaces] == ["h2-eth0"]
    assert p.node("h2").interface("h2-eth0").peer == ("s1", "s1-eth2")
    assert p.node("s1").interface("s1-eth2").master == "s1"


@pytest.mark.parametrize("count, prefix", [(1, 24), (254, 24), (255, 23), (510, 23), (511, 22), (1000, 22),
                                           (5000, 19)])
def test_subnet_sizing(count, prefix):
    assert prefix_for(count) == prefix


def test_big_lan_gets_a_bigger_subnet():
    p = planned("single", n=300)
    assert p.node("h1").addresses == ["10.0.0.1/23"]
    assert p.node("h255").addresses == ["10.0.0.255/23"]
    assert p.node("h300").addresses == ["10.0.1.44/23"]
    assert p.segments[0].network == "10.0.0.0/23"


def test_allocated_subnets_skip_taken_ones():
    taken = [ipaddress.ip_network("10.0.1.0/24")]
    got = allocate_subnets([3, None, 3, 600], taken)
    assert [str(n) if n else None for n in got] == ["10.0.0.0/24", None, "10.0.2.0/24", "10.0.4.0/22"]


def test_host_addresses_skip_busy_ones():
    net = ipaddress.ip_network("10.0.0.0/29")
    busy = [ipaddress.ip_address("10.0.0.2")]
    assert host_addresses(net, 3, busy) == ["10.0.0.1/29", "10.0.0.3/29", "10.0.0.4/29"]
    with pytest.raises(ValueError, match="too few free addresses"):
        host_addresses(net, 7, busy)


def test_declared_addresses_are_kept_and_the_rest_fill_in_around_them():
    g = hosts_on(n=3)
    g.nodes["h2"]["ip"] = "192.168.5.1/24"
    p = plan(g)
    assert addresses(p) == {"h1": ["192.168.5.2/24"], "h2": ["192.168.5.1/24"], "h3": ["192.168.5.3/24"]}


def test_auto_subnets_avoid_declared_ones():
    g = nx.Graph()
    for h in ("a", "b", "c", "d"):
        g.add_node(h, kind="host")
    g.add_edge("a", "b", ip={"a": "10.0.0.1/24"})
    g.add_edge("c", "d")
    p = plan(g)
    assert addresses(p) == {"a": ["10.0.0.1/24"], "b": ["10.0.0.2/24"], "c": ["10.0.1.1/24"], "d": ["10.0.1.2/24"]}


def test_routers_take_the_first_addresses_of_a_lan():
    p = planned("routed")
    assert addresses(p) == {
        "r1": ["10.0.0.1/24", "10.0.2.1/24"], "r2": ["10.0.2.2/24", "10.0.1.1/24"],
        "h1": ["10.0.0.2/24"], "h2": ["10.0.0.3/24"], "h3": ["10.0.1.2/24"], "h4": ["10.0.1.3/24"],
    }


# ---------------------------------------------------------------- MACs

def test_macs_are_sequential_per_role_and_unique():
    p = planned("single", n=3)
    assert [i.mac for i in p.node("s1").interfaces] == [
        "02:02:00:00:00:01", "02:01:00:00:00:01", "02:01:00:00:00:02", "02:01:00:00:00:03"]
    assert [p.node(f"h{i}").interfaces[0].mac for i in (1, 2, 3)] == [
        "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"]
    p = planned("tree", depth=3, fanout=3)
    macs = [i.mac for n in p.nodes for i in n.interfaces]
    assert len(macs) == len(set(macs))


def test_generated_macs_skip_declared_ones():
    g = hosts_on(n=2)
    g.nodes["h2"]["mac"] = "02:00:00:00:00:01"
    p = plan(g)
    assert p.node("h1").interfaces[0].mac == "02:00:00:00:00:02"
    assert p.node("h2").interfaces[0].mac == "02:00:00:00:00:01"


def test_mac_allocator_is_locally_administered_unicast():
    alloc = MacAllocator(taken=["02:00:00:00:00:01"])
    mac = alloc.next("l3")
    assert mac == "02:00:00:00:00:02"
    first = int(mac[:2], 16)
    assert first & 2 and not first & 1
    assert alloc.next("port") == "02:01:00:00:00:01"


# ---------------------------------------------------------------- switching options

def test_hub_never_learns_and_switch_learns():
    hub = plan(hosts_on("hub")).node("s1").interface("s1").bridge
    assert (hub.stp, hub.ageing) == (False, 0.0)
    switch = plan(hosts_on("switch")).node("s1").interface("s1").bridge
    assert (switch.stp, switch.ageing) == (False, 300.0)


def test_stp_ring_gets_short_forward_delay():
    p = planned("ring")
    for s in ("s1", "s2", "s3"):
        b = p.node(s).interface(s).bridge
        assert (b.stp, b.forward_delay, b.priority) == (True, 2.0, 32768)


def test_in_node_stp_bridge_gets_short_forward_delay():
    g = nx.Graph()
    g.add_node("A", kind="host", interfaces={"br0": {"kind": "bridge", "ports": ["a1"], "stp": True}})
    g.add_node("B", kind="host")
    g.add_edge("A", "B", intf={"A": "a1"})
    assert plan(g).node("A").interface("br0").bridge.forward_delay == 2.0


def test_three_hosts_bridge_ports_have_no_addresses():
    p = planned("three_hosts")
    a = p.node("A")
    assert a.interface("nic1").master == "br0" and a.interface("nic1").addresses == ()
    assert a.interface("br0").addresses == ("10.0.0.1/24",)
    assert a.interface("eth0").kind == "dummy"
    assert len(p.segments) == 2          # the bridged LAN and eth0's own


# ---------------------------------------------------------------- routes

def test_routed_routes():
    p = planned("routed")
    assert routes(p, "r1") == [("10.0.1.0/24", "10.0.2.2")]
    assert routes(p, "r2") == [("10.0.0.0/24", "10.0.2.1")]
    assert routes(p, "h1") == [("default", "10.0.0.1")]
    assert routes(p, "h4") == [("default", "10.0.1.1")]
    assert ("net.ipv4.ip_forward", "1") in p.node("r1").sysctls
    assert ("net.ipv4.ip_forward", "1") not in p.node("h1").sysctls


def test_routed_three_routers_routes_go_through_the_chain():
    p = planned("routed", routers=3)
    assert routes(p, "r1") == [("10.0.1.0/24", "10.0.2.2"), ("10.0.3.0/24", "10.0.2.2")]
    assert routes(p, "r2") == [("10.0.0.0/24", "10.0.2.1"), ("10.0.1.0/24", "10.0.3.2")]
    assert routes(p, "r3") == [("10.0.0.0/24", "10.0.3.1"), ("10.0.2.0/24", "10.0.3.1")]
    assert routes(p, "h3") == [("default", "10.0.1.1")]


def test_explicit_routes_and_default_route_none():
    g = hosts_on(n=2)
    g.nodes["h1"]["routes"] = [{"dst": "172.16.0.0/16", "via": "10.0.0.2"}]
    g.nodes["h1"]["default_route"] = "10.0.0.2"
    g.nodes["h2"]["default_route"] = "none"
    p = plan(g)
    assert routes(p, "h1") == [("172.16.0.0/16", "10.0.0.2"), ("default", "10.0.0.2")]
    assert routes(p, "h2") == []


# ---------------------------------------------------------------- reachability

def test_three_hosts_with_bridge_all_reach():
    assert all(matrix(planned("three_hosts")).values())


def test_three_hosts_without_bridge_b_and_c_are_cut_off():
    found = matrix(planned("three_hosts", bridge=False))
    assert found == {("A", "B"): True, ("A", "C"): True, ("B", "A"): True, ("C", "A"): True,
                     ("B", "C"): False, ("C", "B"): False}


def test_routed_all_reach_and_targets_are_on_the_far_lan():
    p = planned("routed", routers=3)
    assert all(matrix(p).values())
    assert target_address(p, "h1", "h3") == "10.0.1.2"
    assert target_address(p, "h1", "h2") == "10.0.0.3"


def test_routed_without_router_routes_is_unreachable():
    g, _ = load("topologies/routed.py", {})
    for h in ("h1", "h2", "h3", "h4"):
        g.nodes[h]["default_route"] = "none"
    found = matrix(plan(g))
    assert found[("h1", "h2")] and found[("h3", "h4")]
    assert not found[("h1", "h3")] and not found[("h4", "h2")]


def test_default_route_by_router_name():
    g, _ = load("topologies/routed.py", {})
    g.nodes["h1"]["default_route"] = "r1"
    assert routes(plan(g), "h1") == [("default", "10.0.0.1")]


def test_default_route_naming_a_router_on_another_lan_is_refused():
    from testbed import TopologyError
    g, _ = load("topologies/routed.py", {})
    g.nodes["h3"]["default_route"] = "r1"
    with pytest.raises(TopologyError) as info:
        plan(g)
    assert [str(p) for p in info.value.problems] == [
        "node 'h3': default_route 'r1' names a router that is on none of the node's LANs "
        "(name a router on the node's own LAN)"]


def test_a_dummy_is_planned_as_an_ifb_where_the_kernel_has_no_dummy_driver():
    g = nx.Graph()
    g.add_node("h1", kind="host", interfaces={"d0": {"kind": "dummy", "ip": "10.9.0.1/24"}})
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2")
    assert plan(g).node("h1").interface("d0").kind == "dummy"                      # a stock kernel
    assert plan(g, features=frozenset({"ifb"})).node("h1").interface("d0").kind == "ifb"
    assert plan(g, features=frozenset({"dummy", "ifb"})).node("h1").interface("d0").kind == "dummy"
    asked = []
    plan(g, features=lambda: asked.append(1) or frozenset({"ifb"}))
    assert asked == [1]                                                            # dummies ask the kernel
    asked.clear()
    plan(pair_graph(), features=lambda: asked.append(1) or frozenset())
    assert asked == []


def pair_graph():
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2")
    return g


def test_a_numbered_address_never_repeats_one_declared_on_another_lan():
    # found by the generated-topology test: h2 was numbered 10.0.0.1, h1's declared address on
    # another LAN, and pinging it from h1 answered from h1 itself
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="switch")
    g.add_node("h1", kind="host", ip="10.0.0.1/30")
    g.add_node("h2", kind="host")
    g.add_node("h3", kind="host", ip="10.0.0.11/24")
    g.add_edge("h1", "s2")
    g.add_edge("h2", "s1")
    g.add_edge("h3", "s1")
    p = plan(g)
    assert p.node("h2").addresses == ["10.0.0.2/24"]
