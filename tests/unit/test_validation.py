"""Validation: every problem, each naming where it is and how to fix it."""
from __future__ import annotations

import networkx as nx
import pytest

from helpers import hosts_on, messages, one_message, pair
from testbed import TopologyError, validate
from testbed import plan
from testbed.errors import Problem


# ---------------------------------------------------------------- kinds

def test_unknown_kind_suggests_the_closest():
    g = pair()
    g.nodes["h2"]["kind"] = "hots"
    assert one_message(g) == "node 'h2': unknown kind 'hots' (did you mean 'host'?)"


def test_unknown_kind_without_close_match_lists_known_kinds():
    g = pair()
    g.nodes["h2"]["kind"] = "zzzzzz"
    assert one_message(g) == "node 'h2': unknown kind 'zzzzzz' (known: bridge, host, hub, nat, router, server, switch)"


def test_missing_kind():
    g = pair()
    del g.nodes["h2"]["kind"]
    g.nodes["h2"]["ip"] = "10.0.0.2/24"
    assert one_message(g) == "node 'h2': has no 'kind' (set kind to one of bridge, host, hub, nat, router, server, switch)"


def test_node_without_any_attribute_and_no_link_has_no_kind():
    g = nx.Graph()
    g.add_node("h1")
    assert one_message(g) == "node 'h1': has no 'kind' (set kind to one of bridge, host, hub, nat, router, server, switch)"


# ---------------------------------------------------------------- addresses

@pytest.mark.parametrize("value, text", [
    ("10.0.0.300/24", "'10.0.0.300/24' is not a valid address"),
    ("10.0.0.1", "'10.0.0.1' is not an address with a prefix length (like '10.0.0.1/24')"),
    ("10.0.0.1/33", "'10.0.0.1/33' is not a valid address"),
    ("banana", "'banana' is not an address with a prefix length"),
])
def test_bad_cidr(value, text):
    message = one_message(pair(ip=value))
    assert message.startswith(f"node 'h1': attribute 'ip': {text}")


def test_network_and_broadcast_addresses_are_refused():
    g = pair(ip="10.0.0.0/24")
    g.nodes["h2"]["ip"] = "10.0.0.255/24"
    assert messages(g) == [
        "node 'h1': attribute 'ip': '10.0.0.0/24' is the network address of 10.0.0.0/24",
        "node 'h2': attribute 'ip': '10.0.0.255/24' is the broadcast address of 10.0.0.0/24",
    ]


def test_point_to_point_31_may_use_both_addresses():
    g = pair(ip="10.0.0.0/31")
    g.nodes["h2"]["ip"] = "10.0.0.1/31"
    assert validate(g) == []


def test_duplicate_ip():
    g = hosts_on(n=3)
    g.nodes["h1"]["ip"] = "10.0.0.7/24"
    g.nodes["h3"]["ip"] = "10.0.0.7/24"
    assert one_message(g) == ("h1/h1-eth0, h3/h3-eth0: duplicate IP address 10.0.0.7 "
                              "(give each interface its own IP address)")


def test_duplicate_ip_with_different_prefixes_is_still_a_duplicate():
    g = nx.Graph()
    g.add_node("h1", kind="host", ip="10.0.0.1/24")
    g.add_node("h2", kind="host", ip="10.0.0.1/16")
    g.add_node("h3", kind="host")
    g.add_edge("h1", "h3")
    g.add_edge("h2", "h3")
    assert "duplicate IP address 10.0.0.1" in one_message(g)


def test_duplicate_mac_case_insensitive():
    g = pair(mac="02:00:00:00:00:AA")
    g.add_edge("h1", "h2", mac={"h2": "02:00:00:00:00:aa"})
    assert one_message(g) == ("h1/h1-eth0, h2/h2-eth0: duplicate MAC address 02:00:00:00:00:aa "
                              "(give each interface its own MAC address)")


@pytest.mark.parametrize("value, text", [
    ("03:00:00:00:00:01", "is a multicast MAC"),
    ("00:00:00:00:00:00", "is the all-zero MAC"),
    ("02:00:00:00:01", "is not a MAC address like '02:00:00:00:00:01'"),
])
def test_bad_mac(value, text):
    assert text in one_message(pair(mac=value))


def test_ip_outside_the_links_subnet_on_a_direct_link():
    g = pair(ip="10.0.0.1/24")
    g.nodes["h2"]["ip"] = "10.0.1.2/24"
    assert one_message(g) == ("h2/h2-eth0=10.0.1.2/24: IP outside the link's subnet 10.0.0.0/24 "
                              "(shared with h1/h1-eth0=10.0.0.1/24) "
                              "(put every interface of one LAN in the same subnet)")


def test_ip_outside_the_subnet_of_a_switched_lan():
    g = hosts_on(n=3)
    g.edges["h1", "s1"]["ip"] = {"h1": "10.5.0.1/24"}
    g.edges["h3", "s1"]["ip"] = {"h3": "10.6.0.3/24"}
    assert "h3/h3-eth0=10.6.0.3/24: IP outside the link's subnet 10.5.0.0/24" in one_message(g)


def test_declared_subnet_too_small_for_its_lan():
    g = hosts_on(n=4)
    g.nodes["h1"]["ip"] = "10.0.0.1/30"
    assert one_message(g) == ("h1/h1-eth0=10.0.0.1/30: subnet 10.0.0.0/30 has room for 2 address(es) but "
                              "its LAN has 4 interfaces (use a shorter prefix (a bigger subnet))")


def test_ip_on_a_switch_end_is_refused():
    g = hosts_on(n=1)
    g.edges["h1", "s1"]["ip"] = {"s1": "10.0.0.9/24"}
    assert one_message(g) == ("link s1--h1: gives an ip to 's1', a switch; switch ports have no addresses "
                              "(put the address on the host or router end)")


def test_pool_exhausted_by_a_declared_network_is_a_topology_error():
    g = pair(ip="10.0.0.5/8")
    g.add_node("h3", kind="host")
    g.add_node("h4", kind="host")
    g.add_edge("h3", "h4")
    assert messages(g) == ["addresses: the pool 10.0.0.0/8 has no free /24 left "
                           "(declare smaller subnets or fewer interfaces)"]       # validate is the planner's checks
    with pytest.raises(TopologyError, match="the pool 10.0.0.0/8 has no free /24 left"):
        plan(g)


# ---------------------------------------------------------------- names

def test_node_name_too_long():
    name = "n" * 33
    assert one_message(_single(name)) == (
        f"node '{name}': node name '{name}' is 33 characters, at most 32 allowed (rename the node)")


@pytest.mark.parametrize("name", ["h 1", "-h", "h/1", ""])
def test_node_name_invalid(name):
    assert one_message(_single(name)) == (
        f"node {name!r}: node name {name!r} is invalid: use letters, digits, '_', '.', '-', "
        "starting with a letter or digit (rename the node)")


def test_node_name_not_a_string():
    assert one_message(_single(7)) == "node 7: node names must be strings, got int 7 (rename the node)"


def test_generated_interface_name_over_15_characters():
    g = nx.Graph()
    g.add_node("longhostname123", kind="host")   # 15 chars: fine as a node, not as "<node>-eth0"
    g.add_node("h2", kind="host")
    g.add_edge("longhostname123", "h2")
    assert one_message(g) == (
        "node 'longhostname123': interface name 'longhostname123-eth0' is 20 characters; the kernel allows "
        "at most 15 (shorten the node name or name the interface with the link's 'intf')")


def test_long_node_name_is_fine_with_a_short_intf():
    g = nx.Graph()
    g.add_node("longhostname123", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("longhostname123", "h2", intf={"longhostname123": "eth0"})
    assert validate(g) == []


@pytest.mark.parametrize("intf, text", [
    ("bad name", "interface name 'bad name' is invalid: use letters, digits, '_', '.', '-'"),
    ("x" * 16, "interface name 'xxxxxxxxxxxxxxxx' is 16 characters; the kernel allows at most 15"),
    ("a/b", "interface name 'a/b' is invalid"),
    ("lo", "interface name 'lo' is the loopback every namespace already has"),
])
def test_user_interface_name_invalid(intf, text):
    g = pair()
    g.edges["h1", "h2"]["intf"] = {"h1": intf}
    assert one_message(g).startswith(f"node 'h1': {text}")


def test_two_interfaces_with_one_name():
    g = hosts_on(n=2)
    g.edges["h1", "s1"]["intf"] = {"s1": "port"}
    g.edges["h2", "s1"]["intf"] = {"s1": "port"}
    assert one_message(g) == ("node 's1': two interfaces are named 'port' "
                              "(give each link end its own 'intf' name)")


# ---------------------------------------------------------------- links

def test_link_to_a_missing_node():
    g = pair()
    g.add_edge("h1", "h9")
    assert one_message(g) == ("node 'h9': is used by a link (to h1) but was never declared "
                              "(add it with G.add_node('h9', kind=...) or fix the link's node name)")


def test_self_loop():
    g = pair()
    g.add_edge("h1", "h1")
    assert one_message(g) == "link h1--h1: connects a node to itself (remove the self-loop)"


def test_unknown_link_attribute_suggests():
    g = pair()
    g.edges["h1", "h2"]["dealy"] = "5ms"
    assert one_message(g) == "link h1--h2: unknown link attribute 'dealy' (did you mean 'delay'?)"


def test_unknown_link_attribute_lists_known():
    g = pair()
    g.edges["h1", "h2"]["zzz"] = 1
    assert one_message(g) == ("link h1--h2: unknown link attribute 'zzz' "
                              "(known: bfd, bgp, bw, delay, ecn, intf, ip, ip6, isis, jitter, label, loss, mac, "
                              "meta, ospf, port, queue, rip, trunk, vlan)")


@pytest.mark.parametrize("key, value, text", [
    ("bw", "fast", "bw: 'fast' is not a rate; write e.g. 10 (Mbit/s), '100kbit', '20Mbit' or '2Gbit'"),
    ("loss", 200, "loss: 200 is above the maximum 100"),
    ("queue", 1.5, "queue: expected an integer, got 1.5"),
])
def test_bad_link_setting(key, value, text):
    g = pair()
    g.edges["h1", "h2"][key] = value
    assert one_message(g) == f"link h1--h2: {text}"


def test_per_end_dict_naming_a_non_end():
    g = pair()
    g.edges["h1", "h2"]["ip"] = {"h3": "10.0.0.1/24"}
    assert one_message(g) == "link h1--h2: 'ip' names 'h3', which is not an end of this link (use 'h1' or 'h2')"


def test_per_end_attribute_must_be_a_dict():
    g = pair()
    g.edges["h1", "h2"]["intf"] = "eth0"
    assert one_message(g) == ("link h1--h2: 'intf' must be a dict keyed by node name "
                              "(e.g. intf={'h1': ..., 'h2': ...})")


# ---------------------------------------------------------------- node attributes

def test_unknown_node_attribute_suggests():
    assert one_message(pair(routs=[])) == "node 'h1': unknown attribute 'routs' for kind 'host' (did you mean 'routes'?)"


def test_unknown_node_attribute_lists_known():
    assert one_message(pair(colour="red")) == (
        "node 'h1': unknown attribute 'colour' for kind 'host' "
        "(known: auto_ip, default_route, dhcp_server, interfaces, ip, ip6, ipv6, mac, routes, sysctls)")


def test_free_attributes_are_allowed():
    assert validate(pair(label="the client", pos=(0, 1), meta={"x": 1})) == []


def test_hub_cannot_run_stp():
    g = hosts_on("hub", n=2, stp=True)
    assert one_message(g) == ("node 's1': unknown attribute 'stp' for kind 'hub' (known: backend, controller, "
                                "datapath, dhcp_snooping, fail_mode, mac, max_macs)")


def test_stp_must_be_a_boolean():
    g = hosts_on("switch", n=2, stp="yes")
    assert one_message(g) == "node 's1': attribute 'stp': expected true or false, got 'yes'"


def test_default_route_to_something_unknown():
    assert one_message(pair(default_route="r9")) == (
        "node 'h1': default_route 'r9' is neither an IP address nor a router's name "
        "(give the gateway's IP, the name of a router on the same LAN, or 'none')")


def test_in_node_bridge_port_must_be_a_link_interface():
    g = pair(interfaces={"br0": {"kind": "bridge", "ports": ["h1-eth0", "nope"]}})
    assert one_message(g) == ("node 'h1' interface 'br0': port 'nope' is not one of the node's link "
                              "interfaces (known: h1-eth0)")


# ---------------------------------------------------------------- L2 loops

def _ring(stp: bool) -> nx.Graph:
    from testbed.topology.load import load
    graph, _ = load("topologies/ring.py", {"stp": str(stp).lower()})
    return graph


def test_ring_without_stp_is_refused():
    assert one_message(_ring(False)) == (
        "L2 loop through s1, s2, s3: frames would circle forever: no STP on s1, s2, s3 "
        "(set stp=True on every bridge/switch in the loop (hubs cannot run STP), or remove a link)")


def test_ring_with_stp_is_fine():
    assert validate(_ring(True)) == []


def test_parallel_links_between_two_switches_are_a_loop():
    g = nx.MultiGraph()
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="bridge", stp=True)
    g.add_edge("s1", "s2")
    g.add_edge("s1", "s2")
    assert one_message(g).startswith("L2 loop through s1, s2: frames would circle forever: no STP on s1 (")


def test_hub_in_a_loop_is_refused_even_if_the_others_run_stp():
    g = nx.Graph()
    g.add_node("s1", kind="switch", stp=True)
    g.add_node("s2", kind="switch", stp=True)
    g.add_node("x1", kind="hub")
    g.add_edges_from([("s1", "s2"), ("s2", "x1"), ("x1", "s1")])
    assert one_message(g).startswith("L2 loop through s1, s2, x1: frames would circle forever: no STP on x1 (")


def test_loop_through_a_hosts_in_node_bridge():
    g = nx.MultiGraph()
    g.add_node("A", kind="host", interfaces={"br0": {"kind": "bridge", "ports": ["a1", "a2"]}})
    g.add_node("s1", kind="switch")
    g.add_edge("A", "s1", intf={"A": "a1"})
    g.add_edge("A", "s1", intf={"A": "a2"})
    assert one_message(g).startswith("L2 loop through A/br0, s1: frames would circle forever: no STP on A/br0, s1")
    g.nodes["A"]["interfaces"]["br0"]["stp"] = True
    g.nodes["s1"]["stp"] = True
    assert validate(g) == []


def test_a_tree_of_switches_has_no_loop():
    from testbed.topology.load import load
    graph, _ = load("topologies/tree.py", {"depth": "3", "fanout": "2"})
    assert validate(graph) == []


def test_two_hosts_with_parallel_links_are_not_an_l2_loop():
    g = nx.MultiGraph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2")
    g.add_edge("h1", "h2")
    assert validate(g) == []


# ---------------------------------------------------------------- all at once

def test_every_problem_is_reported_at_once():
    g = nx.Graph()
    g.add_node("h1", kind="hots")
    g.add_node("h2", kind="host", ip="bad")
    g.add_node("s1", kind="switch", stp="yes", colour=1)
    g.add_edge("h2", "h9")
    g.add_edge("h2", "s1", dealy=3)
    found = messages(g)
    assert found == [
        "node 'h1': unknown kind 'hots' (did you mean 'host'?)",
        "node 'h2': attribute 'ip': 'bad' is not an address with a prefix length (like '10.0.0.1/24')",
        "node 's1': attribute 'stp': expected true or false, got 'yes'",
        "node 's1': unknown attribute 'colour' for kind 'switch' (known: ageing, backend, controller, "
        "datapath, dhcp_snooping, fail_mode, forward_delay, hub, mac, mac_vlans, max_macs, priority, stp)",
        "node 'h9': is used by a link (to h2) but was never declared "
        "(add it with G.add_node('h9', kind=...) or fix the link's node name)",
        "link h2--s1: unknown link attribute 'dealy' (did you mean 'delay'?)",
    ]


def test_address_and_loop_problems_together():
    g = nx.MultiGraph()
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="switch")
    g.add_edge("s1", "s2")
    g.add_edge("s1", "s2")
    g.add_node("h1", kind="host", ip="10.0.0.1/24", mac="02:00:00:00:00:09")
    g.add_node("h2", kind="host", ip="10.0.0.1/24", mac="02:00:00:00:00:09")
    g.add_node("h3", kind="host", ip="10.9.0.1/24")
    for h in ("h1", "h2", "h3"):
        g.add_edge(h, "s1")
    found = messages(g)
    assert len(found) == 4, found
    assert any("duplicate IP address 10.0.0.1" in m for m in found)
    assert any("duplicate MAC address 02:00:00:00:00:09" in m for m in found)
    assert any("IP outside the link's subnet" in m for m in found)
    assert any(m.startswith("L2 loop through s1, s2") for m in found)


def test_plan_raises_topology_error_carrying_every_problem():
    g = pair(ip="bad")
    g.nodes["h2"]["kind"] = "hots"
    with pytest.raises(TopologyError) as info:
        plan(g, source="mine")
    assert [str(p) for p in info.value.problems] == messages(g)
    assert str(info.value).startswith("mine: 2 problem(s):\n  - ")
    assert info.value.exit_code == 2


def test_not_a_graph_and_directed_graphs():
    assert validate({}) == [Problem("topology", "topology() returned dict, not a networkx graph",
                                    "return nx.Graph() or nx.MultiGraph() from topology()")]
    assert "the graph is directed" in str(validate(nx.DiGraph())[0])


def _single(name) -> nx.Graph:
    g = nx.Graph()
    g.add_node(name, kind="host")
    return g


def test_ip_given_on_the_node_and_on_its_first_link():
    g = pair(ip="10.0.0.1/24")
    g.edges["h1", "h2"]["ip"] = {"h1": "10.0.0.5/24"}
    assert one_message(g) == ("node 'h1': 'ip' is '10.0.0.1/24' on the node but '10.0.0.5/24' on its first "
                              "link h1--h2 (give the ip in one place)")


def test_gateway_outside_the_nodes_subnets_is_refused_by_the_planner():
    g = pair(default_route="10.9.9.9")
    assert messages(g) == [str(p) for p in validate(g)] != []     # validate runs the planner's checks too
    with pytest.raises(TopologyError) as info:
        plan(g)
    assert [str(p) for p in info.value.problems] == [
        "node 'h1' route default via 10.9.9.9: the gateway is on none of the node's subnets (10.0.0.0/24) "
        "(use the address of a neighbour on one of those subnets)"]


def test_an_ipv6_address_in_ip_points_at_ip6():
    assert one_message(pair(ip="2001:db8::1/64")) == (
        "node 'h1': attribute 'ip': '2001:db8::1/64' is an IPv6 address: IPv6 addresses go in 'ip6' "
        "(e.g. ip6='2001:db8::1/64')")


def test_an_ip6_turns_ipv6_on_unless_the_node_turns_it_off():
    g = pair(ip6="2001:db8::1/64")
    assert plan(g).node("h1").addresses == ["10.0.0.1/24", "2001:db8::1/64"]
    assert plan(g).node("h2").addresses == ["10.0.0.2/24"]          # IPv6 stays off in h2
    g.nodes["h1"]["ipv6"] = False
    assert one_message(g) == ("node 'h1': has IPv6 address(es) 2001:db8::1/64 (h1-eth0) but IPv6 is off in it "
                              "(ipv6=False) (remove ipv6=False, or the ip6 addresses)")