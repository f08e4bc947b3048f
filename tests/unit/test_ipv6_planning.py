"""IPv6: attributes, addresses per LAN, routes and reachability per family, the concerns'
IPv4-only scope, hosts files, neighbour entries, ICMPv6 probes, the pingall matrix."""
from __future__ import annotations

import json
import struct

import networkx as nx
import pytest

from helpers import hosts_on, messages, one_message, pair
from testbed import TopologyError, plan, validate
from testbed.deploy.hosts import hosts_text, static_neighbours
from testbed.kernel import icmp
from testbed.planning.reach import Reachability, families, target_address
from testbed.run.pingall import PairResult, PingallResult


def routed(**graph_attrs) -> nx.Graph:
    """h1, h2 on s1 -- r1 -- s2 with h3, h4."""
    g = nx.Graph(**graph_attrs)
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="switch")
    g.add_node("r1", kind="router")
    for h, s in (("h1", "s1"), ("h2", "s1"), ("h3", "s2"), ("h4", "s2")):
        g.add_node(h, kind="host")
        g.add_edge(h, s)
    g.add_edge("r1", "s1")
    g.add_edge("r1", "s2")
    return g


def addresses(p, node: str) -> list[str]:
    return p.node(node).addresses


# ---------------------------------------------------------------- values and attributes

@pytest.mark.parametrize("value, text", [
    ("fe80::1/64", "'fe80::1/64' is link-local (every IPv6 interface makes its own), not an address an interface "
                   "can own"),
    ("ff02::1/64", "'ff02::1/64' is a multicast address"),
    ("::ffff:10.0.0.1/96", "'::ffff:10.0.0.1/96' is an IPv4-mapped IPv6 address (give the IPv4 address in 'ip')"),
    ("2001:db8::/64", "'2001:db8::/64' is the subnet-router anycast address of 2001:db8::/64"),
    ("2001:db8::1", "'2001:db8::1' has no prefix length: give it with the address, like '2001:db8::1/64'"),
    ("10.0.0.1/24", "'10.0.0.1/24' is an IPv4 address: 'ip6' takes an IPv6 one"),
    ("::1/128", "'::1/128' is a loopback address"),
    ("2001:db8::1/0", "has prefix length 0"),
])
def test_bad_ip6(value, text):
    message = one_message(pair(ip6=value))
    assert message.startswith("node 'h1': attribute 'ip6': ") and text in message, message


def test_ip6_is_written_the_canonical_way():
    p = plan(pair(ip6="2001:DB8:0:0::0001/64"))
    assert addresses(p, "h1") == ["10.0.0.1/24", "2001:db8::1/64"]


def test_link_and_device_ip6_are_checked_too():
    g = pair()
    g.edges["h1", "h2"]["ip6"] = {"h2": "fe80::2/64"}
    g.nodes["h1"]["interfaces"] = {"d0": {"kind": "dummy", "ip6": "ff02::5/64"}}
    found = messages(g)
    assert any(m.startswith("link h1--h2: ip6 of 'h2': 'fe80::2/64' is link-local") for m in found), found
    assert any("interface 'd0'" in m and "ip6: 'ff02::5/64' is a multicast address" in m for m in found), found


def test_a_link_local_gateway_is_refused():
    g = pair(ipv6=True, routes=[{"dst": "2001:db8:9::/64", "via": "fe80::1"}])
    assert "a link-local gateway is ambiguous without an interface" in one_message(g)


@pytest.mark.parametrize("attrs, text", [
    ({"ipv6": "yes"}, "topology: graph attribute 'ipv6': expected true or false, got 'yes'"),
    ({"ipv6_base": "10.0.0.0/8"}, "topology: graph attribute 'ipv6_base': '10.0.0.0/8' is an IPv4 network"),
    ({"ipv6_base": "2001:db8::/72"}, "'2001:db8::/72' is longer than /64: each LAN gets a /64 from it"),
    ({"ipv6_base": "2001:db8::1/48"}, "graph attribute 'ipv6_base': '2001:db8::1/48' is not an IPv6 prefix"),
    ({"ipv6_bsae": "fd00::/48"}, "topology: unknown graph attribute 'ipv6_bsae' (did you mean 'ipv6_base'?)"),
])
def test_graph_attributes(attrs, text):
    g = pair()
    g.graph.update(attrs)
    assert one_message(g).startswith("topology: ") and text in one_message(g), one_message(g)


def test_other_graph_attributes_are_the_users_own():
    g = pair()
    g.graph["name"] = "my lab"
    assert validate(g) == []


# ---------------------------------------------------------------- addressing

def test_ipv6_is_off_unless_asked():
    p = plan(hosts_on(n=2))
    assert addresses(p, "h1") == ["10.0.0.1/24"]
    assert ("net.ipv6.conf.default.disable_ipv6", "1") in p.node("h1").sysctls
    assert "network6" not in json.dumps(p.to_dict())


def test_a_graph_wide_ipv6_numbers_each_lan_from_the_documentation_prefix():
    p = plan(routed(ipv6=True))
    assert addresses(p, "r1") == ["10.0.0.1/24", "2001:db8::1/64", "10.0.1.1/24", "2001:db8:0:1::1/64"]
    assert addresses(p, "h1") == ["10.0.0.2/24", "2001:db8::2/64"]
    assert addresses(p, "h4") == ["10.0.1.3/24", "2001:db8:0:1::3/64"]
    assert [s.network6 for s in p.segments] == ["2001:db8::/64", "2001:db8:0:1::/64"]
    ipv6 = (("net.ipv6.conf.default.accept_dad", "0"), ("net.ipv6.conf.default.keep_addr_on_down", "1"),
            ("net.ipv6.conf.default.force_mld_version", "1"), ("net.ipv6.conf.default.router_solicitations", "0"),
            ("net.ipv6.conf.default.accept_ra", "0"))
    assert p.node("h1").sysctls == ipv6
    assert p.node("r1").sysctls == ipv6 + (("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1"))
    assert json.loads(p.to_json())["segments"][0]["network6"] == "2001:db8::/64"


def test_ipv6_base_and_declared_prefixes():
    g = routed(ipv6=True, ipv6_base="fd00:7::/48")
    g.nodes["h3"]["ip6"] = "fd00:7::33/64"            # LAN 2 takes the first /64: LAN 1 gets the next one
    p = plan(g)
    assert [s.network6 for s in p.segments] == ["fd00:7:0:1::/64", "fd00:7::/64"]
    assert addresses(p, "h3")[1] == "fd00:7::33/64"
    assert addresses(p, "r1")[3] == "fd00:7::1/64"        # the gateway first, around the declared one
    assert addresses(p, "h4")[1] == "fd00:7::2/64"


def test_ipv6_only_and_ipv4_only_nodes():
    g = routed(ipv6=True)
    g.nodes["h1"]["ip"] = None
    g.nodes["h2"]["ipv6"] = False
    p = plan(g)
    assert addresses(p, "h1") == ["2001:db8::2/64"]
    assert addresses(p, "h2") == ["10.0.0.2/24"]
    assert [(r.dst, r.via) for r in p.node("h1").routes] == [("default", "2001:db8::1")]
    assert [(r.dst, r.via) for r in p.node("h2").routes] == [("default", "10.0.0.1")]


def test_ip_none_without_ipv6_leaves_a_node_without_addresses():
    p = plan(pair(ip=None))
    assert addresses(p, "h1") == [] and addresses(p, "h2") == ["10.0.0.1/24"]


def test_an_ipv6_only_lan_gets_no_ipv4_subnet():
    g = routed(ipv6=True)
    for h in ("h1", "h2", "r1"):
        g.nodes[h]["ip"] = None
    p = plan(g)
    assert [(s.network, s.network6) for s in p.segments] == [(None, "2001:db8::/64"),
                                                            ("10.0.0.0/24", "2001:db8:0:1::/64")]


def test_declared_ipv6_problems_are_all_reported():
    g = hosts_on(n=3)
    g.nodes["h1"]["ip6"] = "2001:db8::1/64"
    g.nodes["h2"]["ip6"] = "2001:db8::1/64"
    g.nodes["h3"]["ip6"] = "2001:db8:1::3/64"
    g.edges["h1", "s1"]["ip6"] = {"h1": "2001:db8::9/64"}
    found = messages(g)
    assert "node 'h1': 'ip6' is '2001:db8::1/64' on the node but '2001:db8::9/64' on its first link s1--h1 " \
           "(give the ip6 in one place)" in found, found
    assert any("h3/h3-eth0=2001:db8:1::3/64: IP outside the link's subnet" in m for m in found), found


def test_duplicate_ipv6_addresses():
    g = hosts_on(n=2)
    g.nodes["h1"]["ip6"] = "2001:db8::5/64"
    g.nodes["h2"]["ip6"] = "2001:db8:0::5/64"
    assert one_message(g) == ("h1/h1-eth0, h2/h2-eth0: duplicate IPv6 address 2001:db8::5 "
                              "(give each interface its own IPv6 address)")


def test_ip_none_and_a_declared_ipv4_address_clash():
    g = pair(ip=None)
    g.edges["h1", "h2"]["ip"] = {"h1": "10.0.0.1/24"}
    assert one_message(g) == ("node 'h1': has ip=None (no IPv4) but is given IPv4 address(es) 10.0.0.1/24 "
                              "(h1-eth0) (remove ip=None, or those addresses)")


def test_a_base_with_room_for_one_lan_runs_out():
    g = routed(ipv6=True, ipv6_base="2001:db8::/64")
    assert "the IPv6 base 2001:db8::/64 has no free /64 left for another LAN" in one_message(g)


# ---------------------------------------------------------------- routes and reachability

def test_routers_get_ipv6_routes_and_hosts_an_ipv6_default_route():
    g = routed(ipv6=True)
    g.add_node("r2", kind="router")
    g.add_node("s3", kind="switch")
    g.add_node("h5", kind="host")
    g.add_edge("r2", "s2")
    g.add_edge("r2", "s3")
    g.add_edge("h5", "s3")
    p = plan(g)
    assert [(r.dst, r.via) for r in p.node("r1").routes] == [("10.0.2.0/24", "10.0.1.2"),
                                                            ("2001:db8:0:2::/64", "2001:db8:0:1::2")]
    assert [(r.dst, r.via) for r in p.node("h5").routes] == [("default", "10.0.2.1"), ("default", "2001:db8:0:2::1")]
    reach = Reachability(p)
    assert all(reach.expected(a, b, f) for a in ("h1", "h5") for b in ("h3", "h5", "h1") if a != b for f in (4, 6))


def test_default_route_an_ipv4_address_leaves_the_ipv6_one_found():
    g = routed(ipv6=True)
    g.nodes["h1"]["default_route"] = "10.0.0.1"
    g.nodes["h2"]["default_route"] = "none"
    g.nodes["h3"]["default_route"] = "r1"
    p = plan(g)
    assert [(r.dst, r.via) for r in p.node("h1").routes] == [("default", "10.0.0.1"), ("default", "2001:db8::1")]
    assert p.node("h2").routes == ()
    assert [(r.dst, r.via) for r in p.node("h3").routes] == [("default", "10.0.1.1"), ("default", "2001:db8:0:1::1")]


def test_reachability_per_family():
    g = routed(ipv6=True)
    g.nodes["h1"]["ip"] = None            # IPv6 only
    g.nodes["h3"]["ipv6"] = False         # IPv4 only
    p = plan(g)
    reach = Reachability(p)
    assert families(p, ["h1", "h3"]) == [4, 6]
    assert reach.expected("h1", "h4", 6) and not reach.expected("h1", "h4", 4)
    assert reach.expected("h3", "h2", 4) and not reach.expected("h3", "h2", 6)
    assert not reach.expected("h1", "h3", 4) and not reach.expected("h1", "h3", 6)
    assert target_address(p, "h2", "h4", 6) == "2001:db8:0:1::2"      # h3 has no IPv6: h4 is the first
    assert target_address(p, "h2", "h4", 4) == "10.0.1.3"
    assert target_address(p, "h3", "h4", 6) is None           # h3 has nothing to send IPv6 from
    assert target_address(p, "h2", "h1") == "2001:db8::2"


def test_an_ipv4_only_router_does_not_route_ipv6():
    g = routed(ipv6=True)
    g.nodes["r1"]["ipv6"] = False
    p = plan(g)
    reach = Reachability(p)
    assert reach.expected("h1", "h3", 4) and not reach.expected("h1", "h3", 6)
    assert reach.expected("h1", "h2", 6)                       # the same LAN needs no router
    assert [r.via for r in p.node("h1").routes] == ["10.0.0.1"]


# ---------------------------------------------------------------- the concerns' IPv4-only scope

def nat_lan(**h1_attrs) -> nx.Graph:
    g = nx.Graph(ipv6=True)
    g.add_node("web", kind="host")
    g.add_node("nat1", kind="nat", outside="web")
    g.add_node("s1", kind="switch")
    g.add_node("h1", kind="host", **h1_attrs)
    g.add_edge("nat1", "web")
    g.add_edge("nat1", "s1")
    g.add_edge("h1", "s1")
    return g


def test_a_graph_wide_ipv6_leaves_a_nat_ipv4_only():
    p = plan(nat_lan())
    assert [a for a in addresses(p, "nat1") if ":" in a] == []
    assert addresses(p, "h1") == ["10.0.1.2/24", "2001:db8:0:1::1/64"]
    assert [r.via for r in p.node("h1").routes] == ["10.0.1.1"]            # no IPv6 gateway on its LAN


def test_a_nat_refuses_ipv6_and_an_ipv6_only_lan():
    g = nat_lan(ip=None)
    g.nodes["nat1"]["ipv6"] = True
    found = messages(g)
    assert any(m.startswith("node 'nat1': has IPv6 on, but a nat translates IPv4 only") for m in found), found
    g.nodes["nat1"]["ipv6"] = False
    assert one_message(g).startswith("node 'nat1' interface 'nat1-eth1': its LAN is IPv6-only (h1 have ip=None), "
                                     "but a nat translates IPv4 only")


def test_port_security_states_its_ipv4_only_scope():
    g = hosts_on(n=2, dhcp_snooping=True)
    g.graph["ipv6"] = True
    g.edges["h1", "s1"]["port"] = {"s1": {"binding": {"ip": "10.0.0.1"}}}
    g.edges["h2", "s1"]["port"] = {"s1": {"trusted": True}}
    found = messages(g)
    assert len(found) == 2, found
    assert found[0].startswith("link s1--h1 port of 's1': binds IPv4 10.0.0.1 but 'h1' behind it has IPv6 on")
    assert found[1].startswith("link s1--h1 port of 's1': 's1' snoops DHCP, which binds IPv4 leases only, but 'h1'")
    g.nodes["h1"]["ipv6"] = False
    assert validate(g) == []


def test_a_mac_binding_and_a_mac_limit_cover_ipv6():
    g = hosts_on(n=2, max_macs=1)
    g.graph["ipv6"] = True
    g.edges["h1", "s1"]["port"] = {"s1": {"binding": {"mac": "02:00:00:00:00:01"}}}
    assert validate(g) == []


# ---------------------------------------------------------------- hosts files, neighbours

def test_hosts_files_carry_both_families_for_readers_with_ipv6():
    g = routed(ipv6=True)
    g.nodes["h3"]["ipv6"] = False
    p = plan(g)
    nets = lambda node: frozenset(__import__("ipaddress").ip_interface(a).network for a in addresses(p, node))
    h1 = hosts_text(p, nets("h1")).splitlines()
    assert h1[:2] == ["127.0.0.1\tlocalhost", "::1\tlocalhost"]
    assert "10.0.0.3\th2" in h1 and "2001:db8::3\th2" in h1 and "10.0.1.2\th3" in h1
    assert not any(line.endswith("\th3") and ":" in line for line in h1)
    h3 = hosts_text(p, nets("h3")).splitlines()
    assert "::1\tlocalhost" not in h3 and not any(":" in line.split("\t")[0] for line in h3)


def test_static_neighbours_pair_addresses_of_one_family():
    g = hosts_on(n=2)
    g.graph["ipv6"] = True
    g.nodes["h2"]["ipv6"] = False
    g.add_node("h3", kind="host", ip=None)
    g.add_edge("h3", "s1")
    p = plan(g)
    entries = static_neighbours(p)
    assert sorted(ip for _, ip, _ in entries["h1"]) == ["10.0.0.2", "2001:db8::2"]
    assert [ip for _, ip, _ in entries["h2"]] == ["10.0.0.1"]
    assert [ip for _, ip, _ in entries["h3"]] == ["2001:db8::1"]


# ---------------------------------------------------------------- ICMPv6 and the matrix

def test_icmpv6_echo_request_and_reply():
    packet = icmp.echo_request(0x1234, 7, icmp.MAGIC + b"\0\0\0\1", family=6)
    assert packet[0] == icmp.ECHO_REQUEST6 and packet[2:4] == b"\0\0"      # the kernel fills in the checksum
    reply = bytes([icmp.ECHO_REPLY6]) + packet[1:]
    assert icmp.parse_reply(reply, 6) == (0x1234, 7)
    assert icmp.parse_reply(packet, 6) is None                             # a request is not a reply
    ipv4 = bytes([0x45]) + bytes(19) + struct.pack("!BBHHH", icmp.ECHO_REPLY, 0, 0, 1, 2) + icmp.MAGIC
    assert icmp.parse_reply(ipv4) == (1, 2) and icmp.parse_reply(ipv4[20:], 6) is None


def test_the_matrix_says_which_family():
    pairs = [PairResult("h1", "h2", "10.0.0.2", 1, 1, True), PairResult("h2", "h1", "10.0.0.1", 1, 1, True),
             PairResult("h1", "h2", "2001:db8::2", 1, 0, True, family=6),
             PairResult("h2", "h1", "2001:db8::1", 1, 1, True, family=6)]
    result = PingallResult(["h1", "h2"], pairs)
    text = result.matrix()
    assert text.splitlines()[0] == "IPv4:" and "IPv6:" in text.splitlines()
    assert "100%!" in text.split("IPv6:")[1] and "!" not in text.split("IPv6:")[0]
    assert "4 pairs (IPv4 2, IPv6 2), 4 expected to connect, 1 wrong" in text
    assert "h1 -> h2 (2001:db8::2): 100% loss" in text
    assert result.families == [4, 6] and not result.ok


def test_an_ipv4_only_matrix_is_unchanged():
    result = PingallResult(["h1", "h2"], [PairResult("h1", "h2", "10.0.0.2", 1, 1, True),
                                          PairResult("h2", "h1", "10.0.0.1", 1, 1, True)])
    assert result.matrix().splitlines()[0].startswith("src\\dst")
    assert "IPv" not in result.matrix()


def test_the_plan_is_the_same_every_time():
    assert plan(routed(ipv6=True)).to_json() == plan(routed(ipv6=True)).to_json()


def test_invalid_ipv6_input_raises_every_problem_at_once():
    g = routed(ipv6=True, ipv6_base="fd00::/72")
    g.nodes["h1"]["ip6"] = "fe80::1/64"
    with pytest.raises(TopologyError) as info:
        plan(g)
    assert len(info.value.problems) == 2


def test_an_explicit_default_route_replaces_its_own_family_only():
    g = routed(ipv6=True)
    g.nodes["h1"]["routes"] = [{"dst": "::/0", "via": "2001:db8::3"}]
    g.nodes["h2"]["default_route"] = "10.0.0.1"
    g.nodes["h2"]["routes"] = [{"dst": "::/0", "via": "2001:db8::2"}]      # no clash: one family each
    p = plan(g)
    assert [(r.dst, r.via) for r in p.node("h1").routes] == [("::/0", "2001:db8::3"), ("default", "10.0.0.1")]
    assert [(r.dst, r.via) for r in p.node("h2").routes] == [("::/0", "2001:db8::2"), ("default", "10.0.0.1")]
    g.nodes["h2"]["default_route"] = "r1"                                 # a router's name is both families'
    assert one_message(g) == ("node 'h2': has default_route 'r1' and a route to ::/0 in 'routes': two default "
                              "routes (keep one of them)")


def test_auto_ip_false_numbers_neither_family():
    # as in Mininet: IPv6 on (link-local addresses from the kernel), and only the declared addresses
    g = routed(ipv6=True)
    g.nodes["h1"]["auto_ip"] = False
    g.nodes["h2"]["auto_ip"] = False
    g.nodes["h2"]["ip6"] = "2001:db8:0:9::2/64"
    p = plan(g)
    assert addresses(p, "h1") == []
    assert addresses(p, "h2") == ["2001:db8:0:9::2/64"]
    assert any(":" in a for a in addresses(p, "h3")) and any("." in a for a in addresses(p, "h3"))
