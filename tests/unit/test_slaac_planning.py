"""Router advertisements and SLAAC: ra=True on a router, ip6='slaac' on a host; the plan knows
the addresses autoconfiguration will form; every misuse is reported."""
from __future__ import annotations

import ipaddress

import networkx as nx
import pytest

from helpers import messages
from testbed import plan
from testbed.deploy.hosts import hosts_text
from testbed.planning.addressing import eui64
from testbed.planning.reach import Reachability


def slaac_lans(**host_attrs) -> nx.Graph:
    """h1, h2 on s1 -- r1 (ra=True) -- s2 with h3; h1 and h3 take SLAAC, h2 is numbered."""
    g = nx.Graph(ipv6=True)
    g.add_node("s1", kind="switch")
    g.add_node("s2", kind="switch")
    g.add_node("r1", kind="router", ra=True)
    g.add_node("h1", kind="host", ip6="slaac", **host_attrs)
    g.add_node("h2", kind="host")
    g.add_node("h3", kind="host", ip6="slaac")
    for a, b in (("h1", "s1"), ("h2", "s1"), ("r1", "s1"), ("r1", "s2"), ("h3", "s2")):
        g.add_edge(a, b)
    return g


def test_eui64_is_the_kernels_interface_id():
    net = ipaddress.ip_network("2001:db8:77::/64")
    assert eui64(net, "f2:92:cc:a5:20:f2") == "2001:db8:77:0:f092:ccff:fea5:20f2/64"   # seen from a kernel
    assert eui64(net, "02:00:00:00:00:03") == "2001:db8:77::ff:fe00:3/64"


def test_the_plan_has_the_addresses_autoconfiguration_forms():
    p = plan(slaac_lans())
    h1 = p.node("h1").interface("h1-eth0")
    assert h1.slaac and h1.addresses[1] == eui64(ipaddress.ip_network("2001:db8::/64"), h1.mac)
    assert not p.node("h2").interface("h2-eth0").slaac
    assert p.node("h2").addresses[1] == "2001:db8::2/64"            # numbered as ever, r1 first
    records = p.concern("ra")
    assert [(r.node, r.interfaces) for r in records.routers] == [
        ("r1", (("r1-eth0", "2001:db8::/64"), ("r1-eth1", "2001:db8:0:1::/64")))]
    assert [(h.node, h.router) for h in records.hosts] == [("h1", "r1"), ("h3", "r1")]
    data = p.to_dict()
    slaac = {i["name"]: i.get("slaac") for n in data["nodes"] for i in n["interfaces"]}
    assert slaac["h1-eth0"] is True and "slaac" not in [k for n in data["nodes"] if n["name"] == "h2"
                                                         for i in n["interfaces"] for k in i]


def test_a_slaac_host_takes_advertisements_and_the_others_ignore_them():
    p = plan(slaac_lans())
    h1, h2 = dict(p.node("h1").sysctls), dict(p.node("h2").sysctls)
    assert h1["net.ipv6.conf.default.accept_ra"] == "1" and h1["net.ipv6.conf.default.router_solicitations"] == "3"
    assert h2["net.ipv6.conf.default.accept_ra"] == "0" and h2["net.ipv6.conf.default.router_solicitations"] == "0"
    assert len(p.node("h1").sysctls) == len(h1)                      # each key once


def test_the_advertised_default_route_is_planned_but_not_installed():
    p = plan(slaac_lans())
    h1 = p.node("h1")
    assert [(r.dst, r.via) for r in h1.routes] == [("default", "10.0.0.1"), ("default", "2001:db8::1")]
    assert [(r.dst, r.via) for r in h1.installed_routes] == [("default", "10.0.0.1")]
    assert h1.static_addresses(h1.interface("h1-eth0")) == ("10.0.0.2/24",)
    assert p.node("h2").installed_routes == p.node("h2").routes


def test_slaac_hosts_are_in_hosts_files_and_the_expected_reachability():
    p = plan(slaac_lans())
    h3 = p.node("h3").addresses[1].split("/")[0]
    nets = frozenset(ipaddress.ip_interface(a).network for a in p.node("h2").addresses)
    assert f"{h3}\th3" in hosts_text(p, nets).splitlines()
    reach = Reachability(p)
    assert reach.expected("h1", "h3", 6) and reach.expected("h3", "h2", 6)


@pytest.mark.parametrize("change, text", [
    (lambda g: g.nodes["r1"].pop("ra"), "node 'h1': has ip6='slaac' but no router advertises on its LAN"),
    (lambda g: g.nodes["h1"].update(ipv6=False), "node 'h1': has ip6='slaac' but IPv6 is off in it"),
    (lambda g: g.nodes["r1"].update(ip6="slaac"), "node 'r1': ip6='slaac' is for hosts"),
    (lambda g: g.nodes["r1"].update(ipv6=False, ra=True), "node 'r1': has ra=True but IPv6 is off in it"),
    (lambda g: g.nodes["r1"].update(ra="yes"), "node 'r1': attribute 'ra': expected true or false"),
    (lambda g: g.nodes["h2"].update(ra=True), "attribute 'ra'"),
    (lambda g: g.nodes["h1"].update(routes=[{"dst": "2001:db8:9::/64", "via": "2001:db8::1"}]),
     "node 'h1': has ip6='slaac' and IPv6 routes (2001:db8:9::/64)"),
    (lambda g: g.nodes["h2"].update(ip6="2001:db8:5::2/80"),
     "node 'h1': has ip6='slaac' but its LAN's prefix is 2001:db8:5::/80: autoconfiguration needs a /64"),
    (lambda g: g.nodes["h1"].update(ip6="SLAAC"), "node 'h1': attribute 'ip6'"),
])
def test_misuse_is_reported(change, text):
    g = slaac_lans()
    change(g)
    found = messages(g)
    assert any(text in m for m in found), found


def test_the_default_route_must_go_to_an_advertising_router():
    g = slaac_lans()
    g.add_node("r2", kind="router")
    g.add_edge("r2", "s1")
    g.nodes["h1"]["default_route"] = "r2"
    found = messages(g)
    assert any("node 'h1': takes its IPv6 default route from router advertisements, but its planned IPv6 "
               "default route goes via r2 (advertising: r1)" in m and "default_route='r1'" in m for m in found), found
    g.nodes["h1"]["default_route"] = "r1"
    assert messages(g) == []
