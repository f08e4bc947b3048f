"""Validation, planning and rule generation of the L2 features (no root needed)."""
from __future__ import annotations

import networkx as nx
import pytest

from testbed import load, validate
from testbed.concerns import nat
from testbed.concerns.dhcp import probe as dhcpprobe
from testbed.concerns.dhcp import snoop
from testbed.concerns.portsec import nft as portsec
from testbed.errors import TopologyError
from testbed.planning import pipeline as planner
from testbed.planning.reach import Reachability
from testbed.run.network import with_addresses


def problems_of(graph) -> list[str]:
    return [f"{p.where}: {p.what}" for p in validate(graph)]


def plan_of(path: str, **params):
    graph, used = load(path, {k: str(v) for k, v in params.items()})
    return planner.plan(graph, source=path, params=used)


# ---------------------------------------------------------------- NAT

def test_nat_plan_routes_and_forwards():
    plan = plan_of("topologies/nat.py")
    nat_plan = plan.concern("nat")[0]
    assert (nat_plan.outside, nat_plan.outside_ip) == ("nat-eth1", "203.0.113.1")
    assert [(f.proto, f.port, f.to_ip, f.to_port) for f in nat_plan.forwards] == [("tcp", 8080, "10.0.0.2", 80)]
    assert plan.node("nat").interface("nat-eth0").addresses == ("10.0.0.1/24",)
    assert [(r.dst, r.via) for r in plan.node("h1").routes] == [("default", "10.0.0.1")]
    assert plan.node("web").routes == ()                  # the outside has no route to the LAN
    reach = Reachability(plan)
    assert reach.expected("h1", "web") and reach.expected("h2", "web") and reach.expected("h1", "h2")
    assert not reach.expected("web", "h1")


def test_nat_ruleset_masquerades_outside_and_counts_inbound_drops():
    text = nat.ruleset(plan_of("topologies/nat.py").concern("nat")[0])
    assert 'oifname "nat-eth1" counter name "masqueraded" masquerade' in text
    assert 'iifname "nat-eth1" tcp dport 8080 counter dnat to 10.0.0.2:80' in text
    assert 'counter name "inbound_blocked" drop' in text


def test_nat_without_forward_has_no_dnat():
    assert "dnat to" not in nat.ruleset(plan_of("topologies/nat.py", forward=False).concern("nat")[0])


def _nat_graph(**attrs):
    g = nx.Graph()
    g.add_node("nat", kind="nat", **attrs)
    g.add_node("s1", kind="switch")
    g.add_node("out", kind="host")
    g.add_node("h1", kind="host")
    g.add_edge("nat", "s1")
    g.add_edge("nat", "out")
    g.add_edge("h1", "s1")
    return g


@pytest.mark.parametrize("attrs,expected", [
    ({}, "a nat needs 'outside'"),
    ({"outside": "nowhere"}, "outside='nowhere' is neither a neighbour"),
    ({"outside": "out", "forwards": [{"proto": "icmp", "port": 1, "to": "h1:80"}]}, "proto 'icmp'"),
    ({"outside": "out", "forwards": [{"port": 70000, "to": "h1:80"}]}, "port 70000"),
    ({"outside": "out", "forwards": [{"port": 80, "to": "h1"}]}, "is not 'node:port'"),
    ({"outside": "out", "forwards": [{"port": 80, "to": "s1:80"}]}, "not a host or router"),
    ({"outside": "out", "forwards": [{"port": 80, "to": "h1:80"}, {"port": 80, "to": "h1:81"}]},
     "forwarded twice"),
])
def test_nat_problems(attrs, expected):
    assert any(expected in p for p in problems_of(_nat_graph(**attrs))), problems_of(_nat_graph(**attrs))


def test_nat_valid_graph_has_no_problems():
    assert problems_of(_nat_graph(outside="nat-eth1")) == []


# ---------------------------------------------------------------- macvlan

def test_macvlan_children_join_the_parents_lan():
    plan = plan_of("topologies/macvlan.py", mode="vepa")
    child = plan.node("c1").interface("eth0")
    assert (child.kind, child.parent, child.mode) == ("macvlan", ("phys", "phys-eth0"), "vepa")
    lan = next(s for s in plan.segments if ("phys", "phys-eth0") in s.interfaces)
    assert {("c1", "eth0"), ("c2", "eth0"), ("lan", "lan-eth0")} <= set(lan.interfaces)
    assert child.addresses and child.addresses[0].startswith("10.0.0.")


@pytest.mark.parametrize("mode,hairpin,siblings,parent", [
    ("bridge", False, True, False), ("bridge", True, True, True),
    ("vepa", False, False, False), ("vepa", True, True, True),
    ("private", False, False, False), ("private", True, False, True),
])
def test_macvlan_expected_reachability(mode, hairpin, siblings, parent):
    reach = Reachability(plan_of("topologies/macvlan.py", mode=mode, hairpin=hairpin))
    assert reach.expected("c1", "c2") is siblings
    assert reach.expected("phys", "c1") is parent and reach.expected("c1", "phys") is parent
    assert reach.expected("c1", "lan") and reach.expected("phys", "lan")


def test_passthru_cuts_the_parent_off():
    reach = Reachability(plan_of("topologies/macvlan.py", mode="passthru"))
    assert reach.expected("c1", "lan") and not reach.expected("phys", "lan")


def _macvlan_graph(*specs):
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("phys", kind="host")
    g.add_edge("phys", "s1")
    for i, spec in enumerate(specs, 1):
        g.add_node(f"c{i}", kind="host", interfaces={"eth0": dict(kind="macvlan", **spec)})
    return g


@pytest.mark.parametrize("specs,expected", [
    ([{"parent": "phys:phys-eth0", "mode": "hairpin"}], "macvlan mode 'hairpin'"),
    ([{"mode": "bridge"}], "a macvlan needs 'parent'"),
    ([{"parent": "ghost:eth0"}], "parent node 'ghost' does not exist"),
    ([{"parent": "s1:s1-eth1"}], "a macvlan sits on a host's NIC"),
    ([{"parent": "phys:eth9"}], "is not one of 'phys''s link interfaces"),
    ([{"parent": "phys", "mode": "passthru"}, {"parent": "phys:phys-eth0"}], "must be the only child"),
])
def test_macvlan_problems(specs, expected):
    found = problems_of(_macvlan_graph(*specs))
    assert any(expected in p for p in found), found


def test_macvlan_parent_may_omit_a_single_interface():
    assert problems_of(_macvlan_graph({"parent": "phys"})) == []


# ---------------------------------------------------------------- port security

def test_port_settings_from_links_and_switch_default():
    plan = plan_of("topologies/port_security.py", max_macs=1, relax=True)
    ports = {p.port: p for p in plan.concern("portsec").of("s1")}
    by_peer = {link.other("s1")[0]: ports[(link.a if link.a[0] == "s1" else link.b)[1]]
               for link in plan.links if "s1" in (link.a[0], link.b[0])}
    assert by_peer["h1"].mac == "02:00:00:00:01:01" and by_peer["h1"].ip == "10.0.0.11"
    assert by_peer["h1"].max_macs == 1 and by_peer["h2"].max_macs == 1   # the switch default
    assert by_peer["phys"].max_macs == 3                                 # relaxed for the macvlans


def test_switch_default_does_not_limit_switch_to_switch_ports():
    g = nx.Graph()
    g.add_node("s1", kind="switch", max_macs=1)
    g.add_node("s2", kind="switch")
    g.add_node("h1", kind="host")
    g.add_edge("s1", "s2")
    g.add_edge("h1", "s1")
    settings = {p.port: p for p in planner.plan(g).concern("portsec").of("s1")}
    assert "s1-eth1" not in settings                      # the uplink keeps no limit
    assert settings["s1-eth2"].max_macs == 1


def test_port_security_ruleset():
    plan = plan_of("topologies/port_security.py")
    text = portsec.ruleset("s1", plan.concern("portsec").of("s1"), snooping=False)
    assert 'iifname "s1-eth1" jump p_s1_eth1' in text
    assert 'ether saddr != 02:00:00:00:01:01 counter name "p_s1_eth1_mac" drop' in text
    assert "ip saddr != { 10.0.0.11, 0.0.0.0 }" in text and "arp saddr ip != { 10.0.0.11, 0.0.0.0 }" in text
    assert "set p_s1_eth3_learned { type ether_addr; size 1; flags dynamic; }" in text
    assert 'counter name "p_s1_eth3_macs" drop' in text
    assert "set bound" not in text and "_snoop" not in text


def test_snooping_ruleset_guards_untrusted_ports_only():
    plan = plan_of("topologies/dhcp.py", rogue=True)
    text = portsec.ruleset("s1", plan.concern("portsec").of("s1"), snooping=True)
    assert "set bound { type ifname . ether_addr . ipv4_addr; flags timeout; }" in text
    assert "p_s1_eth1_snoop" not in text                   # srv's port is trusted
    assert 'ether type ip udp sport 67 counter name "p_s1_eth2_rogue" drop' in text


@pytest.mark.parametrize("port,expected", [
    ({"h1": {"hairpin": True}}, "is not a switch"),
    ({"s1": {"hairpn": True}}, "unknown port setting 'hairpn'"),
    ({"s1": {"binding": {"ip": "10.0.0.300"}}}, "is not an IPv4 address"),
    ({"s1": {"binding": {"mac": "01:00:00:00:00:01"}}}, "multicast MAC"),
    ({"s1": {"max_macs": 0}}, "max_macs"),
    ({"s1": {"trusted": "yes"}}, "trusted: expected true or false"),
])
def test_port_problems(port, expected):
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("h1", kind="host")
    g.add_edge("h1", "s1", port=port)
    found = problems_of(g)
    assert any(expected in p for p in found), found


# ---------------------------------------------------------------- DHCP

def test_dhcp_hosts_get_no_planned_address_and_servers_a_range():
    plan = plan_of("topologies/dhcp.py", hosts=2)
    assert plan.node("h1").addresses == [] and plan.node("h2").addresses == []
    assert [c.node for c in plan.concern("dhcp").clients] == ["h1", "h2"]
    server = plan.concern("dhcp").servers[0]
    assert (server.node, server.address, server.first, server.last) == ("srv", "10.0.0.1/24", "10.0.0.100",
                                                                         "10.0.0.200")
    assert [h for h, _ in plan.hosts] == ["srv"]
    assert not Reachability(plan).expected("srv", "h1")            # no address before the lease
    live = with_addresses(plan, {("h1", "h1-eth0"): "10.0.0.150/24", ("h2", "h2-eth0"): "10.0.0.151/24"})
    assert Reachability(live).expected("srv", "h1") and Reachability(live).expected("h1", "h2")


def test_dhcp_default_range_is_the_upper_half():
    g = nx.Graph()
    g.add_node("srv", kind="host", dhcp_server={})
    g.add_node("h1", kind="host", ip="dhcp")
    g.add_edge("srv", "h1")
    server = planner.plan(g).concern("dhcp").servers[0]
    assert (server.first, server.last) == ("10.0.0.128", "10.0.0.254")


@pytest.mark.parametrize("attrs,expected", [
    ({"ip": "10.0.0.1/24", "dhcp_server": {"range": "10.1.0.5,10.1.0.9"}}, "outside its subnet"),
    ({"ip": "10.0.0.1/24", "dhcp_server": {"range": "10.0.0.9,10.0.0.5"}}, "is not 'first,last'"),
    ({"ip": "dhcp", "dhcp_server": {}}, "needs a static ip"),
    ({"ip": "10.0.0.1/24", "dhcp_server": {"lease": 5}}, "lease 5"),
    ({"ip": "10.0.0.1/24", "dhcp_server": {"pool": 1}}, "unknown dhcp_server setting 'pool'"),
])
def test_dhcp_problems(attrs, expected):
    g = nx.Graph()
    g.add_node("srv", kind="host", **attrs)
    g.add_node("s1", kind="switch")
    g.add_edge("srv", "s1")
    found = problems_of(g)
    assert any(expected in p for p in found), found


def test_dhcp_host_needs_a_link():
    g = nx.Graph()
    g.add_node("h1", kind="host", ip="dhcp")
    assert any("no link to ask on" in p for p in problems_of(g))


def test_snooper_parses_a_dhcp_frame():
    frame = dhcpprobe.discover_frame(bytes.fromhex("020000000001"), 0x1234)
    info = snoop.parse(frame)
    assert info["xid"] == 0x1234 and info["type"] == 1 and info["chaddr"] == "02:00:00:00:00:01"
    assert (info["sport"], info["dport"]) == (68, 67)


# ---------------------------------------------------------------- all topologies

@pytest.mark.parametrize("path", ["topologies/nat.py", "topologies/macvlan.py", "topologies/port_security.py",
                                  "topologies/dhcp.py"])
def test_plans_are_deterministic(path):
    assert plan_of(path).to_json() == plan_of(path).to_json()


def test_invalid_feature_graph_raises_with_every_problem():
    g = _nat_graph()
    g.nodes["h1"]["interfaces"] = {"mv": {"kind": "macvlan"}}
    with pytest.raises(TopologyError) as info:
        planner.plan(g)
    assert "outside" in str(info.value) and "parent" in str(info.value)


# ---------------------------------------------------------------- port security in the expected reachability

def test_mac_limit_makes_reachability_depend_on_traffic_order():
    reach = Reachability(plan_of("topologies/port_security.py", max_macs=1))
    assert reach.expected("h1", "h2") is True
    assert reach.expected("c1", "h2") is None and reach.expected("h1", "phys") is None
    relaxed = Reachability(plan_of("topologies/port_security.py", max_macs=1, relax=True))
    assert relaxed.expected("c1", "h2") is True and relaxed.expected("phys", "h1") is True


def test_binding_mismatch_cuts_the_host_off():
    graph, _ = load("topologies/port_security.py", {})
    graph.edges["h1", "s1"]["port"] = {"s1": {"binding": {"ip": "10.0.0.11", "mac": "02:00:00:00:0e:0e"}}}
    reach = Reachability(planner.plan(graph))
    assert reach.expected("h1", "h2") is False and reach.expected("h2", "h1") is False


def test_static_host_behind_an_untrusted_snooping_port_is_cut_off():
    reach = Reachability(plan_of("topologies/dhcp.py", rogue=True))
    assert reach.expected("rogue", "srv") is False and reach.expected("srv", "rogue") is False
    unsnooped = Reachability(plan_of("topologies/dhcp.py", rogue=True, snooping=False))
    assert unsnooped.expected("rogue", "srv") is True


def test_dhcp_client_needs_a_server_on_its_lan():
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    g.add_node("h1", kind="host", ip="dhcp")
    g.add_edge("h1", "s1")
    assert any("no DHCP server on its LAN" in p for p in problems_of(g))
    g.add_node("srv", kind="host", dhcp_server={})
    g.add_edge("srv", "s1")
    assert problems_of(g) == []


def test_nft_readers_run_in_the_worker_when_given_one():
    from testbed.errors import DeployError
    from testbed.kernel import nft

    class Worker:
        def __init__(self, reply):
            self.reply, self.calls = reply, []

        def run_inside(self, netns, fn, *args):
            self.calls.append((netns, fn, args))
            if isinstance(self.reply, Exception):
                raise self.reply
            return self.reply

    worker = Worker('{"nftables": [{"metainfo": {}}, {"counter": {"name": "p1_macs", "packets": 3, "bytes": 180}}]}')
    assert nft.counters("ns1", "bridge", "testbed_l2", worker) == {"p1_macs": {"packets": 3, "bytes": 180}}
    assert worker.calls == [("ns1", nft.run, ("list counters table bridge testbed_l2", True))]
    refused = Worker(nft.NftError("nft refused the ruleset: No such file or directory"))
    with pytest.raises(DeployError, match="nft list tables in ns1 failed: nft refused"):
        nft.tables("ns1", refused)
