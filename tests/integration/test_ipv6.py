"""IPv6 for real: IPv6-only and dual-stack pairs, LANs and a routed network pass pingall
right after the build (no sleep), in both families; names resolve to both addresses;
routes come back after a link flap; duplicate-address detection a node turns on is
waited for; iperf over IPv6; shaping, VLANs and Open vSwitch carry IPv6. Every test
checks it leaves nothing behind (conftest.no_leftovers)."""
from __future__ import annotations

import os
import re
import shutil

import networkx as nx
import pytest

from itest import load_network, run_cli
from testbed import Network, load
from testbed.ovs import daemons as ovs
from testbed.run import traffic

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in ("ping", "iperf3", "ss")),
                                reason="needs ping, iperf3 and ss")


def on_switch(n: int, **host_attrs) -> nx.Graph:
    g = nx.Graph()
    g.add_node("s1", kind="switch")
    for i in range(1, n + 1):
        g.add_node(f"h{i}", kind="host", **host_attrs)
        g.add_edge(f"h{i}", "s1")
    return g


def families_ok(result, families=(4, 6)) -> None:
    assert result.ok, result.matrix()
    assert result.families == list(families), result.matrix()
    for family in families:
        pairs = [p for p in result.pairs if p.family == family]
        assert pairs and all(p.expected and p.received == p.sent > 0 for p in pairs), result.matrix()


def test_ipv6_only_pair_right_after_the_build():
    g = nx.Graph()
    g.add_node("h1", kind="host", ip=None, ip6="2001:db8::1/64")
    g.add_node("h2", kind="host", ip=None, ip6="2001:db8::2/64")
    g.add_edge("h1", "h2")
    with Network(g) as net:
        out = net["h1"].run(["ping", "-6", "-c1", "-W2", "2001:db8::2"])    # the first try
        assert out.returncode == 0, out.stdout + out.stderr
        families_ok(net.pingall(), (6,))
        assert "inet " not in net["h1"].cmd(["ip", "-4", "addr", "show", "dev", "h1-eth0"])


def test_dual_stack_lan_pings_both_families_and_names_resolve_to_both():
    g = on_switch(4)
    g.graph["ipv6"] = True
    with Network(g) as net:
        families_ok(net.pingall(count=2))
        names = net["h1"].cmd(["getent", "ahosts", "h2"])
        assert "10.0.0.2" in names and "2001:db8::2" in names, names
        assert net["h1"].run(["ping", "-6", "-c1", "-W2", "h3"]).returncode == 0
        assert net["h1"].run(["ping", "-4", "-c1", "-W2", "h3"]).returncode == 0
        addr = net["h2"].cmd(["ip", "-6", "addr", "show", "dev", "h2-eth0"])
        assert "2001:db8::2/64" in addr and "tentative" not in addr, addr


@pytest.mark.parametrize("v6only", [False, True])
def test_routed_dual_stack_and_ipv6_only(v6only):
    with load_network("dualstack", v6only=v6only) as net:
        families_ok(net.pingall(), (6,) if v6only else (4, 6))
        assert "default via 2001:db8:0:1::1" in net["h3"].cmd(["ip", "-6", "route", "show"])
        assert "2001:db8:0:1::/64" in net["r1"].cmd(["ip", "-6", "route", "show"])
        assert net["r1"].cmd("cat /proc/sys/net/ipv6/conf/all/forwarding").strip() == "1"
        assert net["h1"].cmd("cat /proc/sys/net/ipv6/conf/all/forwarding").strip() == "0"
        # the router forwards: the reply's hop limit is one less than a neighbour's
        far = net["h1"].cmd(["ping", "-6", "-c1", "-W2", "2001:db8:0:1::2"])
        near = net["h1"].cmd(["ping", "-6", "-c1", "-W2", "2001:db8::3"])
        assert re.findall(r"ttl=(\d+)", far) == ["63"] and re.findall(r"ttl=(\d+)", near) == ["64"], far + near


def test_families_are_judged_one_by_one():
    """An IPv6-only h1 and an IPv4-only h3 beside dual-stack hosts: each family's matrix says
    who reaches whom, and the pairs without a shared family are not probed."""
    g, _ = load("topologies/dualstack.py", {})
    g.nodes["h1"]["ip"] = None
    g.nodes["h3"]["ipv6"] = False
    with Network(g) as net:
        result = net.pingall()
        assert result.ok, result.matrix()
        got = {(p.src, p.dst, p.family): p.received for p in result.pairs}
        assert got[("h1", "h4", 6)] == 1 and got[("h3", "h2", 4)] == 1
        assert got[("h1", "h3", 4)] == got[("h1", "h3", 6)] == 0
        assert not any(p.sent for p in result.pairs if "h1" in (p.src, p.dst) and p.family == 4)
        assert "IPv4:" in result.matrix() and "IPv6:" in result.matrix()


def test_ipv6_routes_come_back_after_a_link_flap():
    with load_network("dualstack") as net:
        net.link_down("h1", "s1")
        assert "default" not in net["h1"].cmd(["ip", "-6", "route", "show"])
        net.link_up("h1", "s1")
        assert "default via 2001:db8::1" in net["h1"].cmd(["ip", "-6", "route", "show"])
        families_ok(net.pingall())


def test_duplicate_address_detection_a_node_turns_on_is_waited_for():
    g = on_switch(3, sysctls={"net.ipv6.conf.default.accept_dad": 1})
    g.graph["ipv6"] = True
    with Network(g) as net:
        addr = net["h1"].cmd(["ip", "-6", "addr", "show", "dev", "h1-eth0"])
        assert "2001:db8::1/64" in addr and "tentative" not in addr, addr
        families_ok(net.pingall())


def test_static_neighbour_entries_cover_ipv6():
    g = on_switch(3)
    g.graph["ipv6"] = True
    with Network(g, arp="static") as net:
        neigh = net["h1"].cmd(["ip", "-6", "neigh", "show"])
        assert "2001:db8::2 dev h1-eth0 lladdr" in neigh and "PERMANENT" in neigh, neigh
        families_ok(net.pingall())


@pytest.mark.timeout(90)
def test_iperf_over_ipv6_across_the_router():
    with load_network("dualstack") as net:
        flow = traffic.Flow(net["h1"], net["h3"], duration=1, family=6)
        assert "2001:db8:0:1::2" in flow.client_argv()
        result = traffic.iperf3(net["h1"], net["h3"], duration=1, family=6)
        assert result.protocol == "TCP" and result.mbps > 10, result.summary("h1", "h3")
        stats = traffic.ping(net["h1"], net["h3"], count=3, interval=0.05, family=6)
        assert stats.received == 3


@pytest.mark.timeout(90)
def test_shaping_limits_ipv6_traffic():
    graph, params = load("topologies/pair.py", {"bw": "20"})
    graph.graph["ipv6"] = True
    with Network(graph, source="pair", params=params) as net:
        result = traffic.iperf3(net["h1"], net["h2"], duration=2, family=6, omit=0.5)
        expected = result.expected_mbps(20)
        assert abs(result.mbps - expected) < 0.1 * expected, result.summary("h1", "h2")


def test_cli_pingall_and_iperf_over_ipv6(owned):
    done = run_cli(owned, "run", "topologies/dualstack.py", "--test", "pingall")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "IPv6:" in done.stdout and "0 wrong" in done.stdout, done.stdout
    done = run_cli(owned, "run", "topologies/single.py", "--param", "n=2", "--ipv6", "--test", "ping",
                   "--family", "6", "--count", "3")
    assert done.returncode == 0 and "3 received" in done.stdout, done.stdout + done.stderr
    done = run_cli(owned, "run", "topologies/dualstack.py", "-c", "iperf -6 h1 h3 1; pingpair h1 h4")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "between h1 and h3 over IPv6" in done.stdout and "*** IPv6" in done.stdout, done.stdout
    assert "h1 -> h4 (2001:db8:0:1::3): 1/1 received" in done.stdout, done.stdout


def test_nat_topology_with_ipv6_keeps_the_nat_ipv4():
    graph, params = load("topologies/nat.py", {})
    graph.graph["ipv6"] = True
    with Network(graph, source="nat", params=params) as net:
        result = net.pingall()
        assert result.ok, result.matrix()
        lan6 = [p for p in result.pairs if p.family == 6 and p.expected]
        assert lan6 and all(p.received for p in lan6), result.matrix()
        nat = net.plan.node("nat").addresses if net.plan.has("nat") else []
        assert not any(":" in a for a in nat)


needs_ovs = pytest.mark.skipif(bool(ovs.missing_tools()), reason="needs openvswitch-switch")


@needs_ovs
@pytest.mark.timeout(90)
def test_open_vswitch_vlans_keep_ipv6_apart_and_carry_tcp():
    graph, params = load("topologies/vlans.py", {})
    graph.graph["ipv6"] = True
    with Network(graph, source="vlans", params=params) as net:
        result = net.pingall()
        assert result.ok, result.matrix()
        reached = {(p.src, p.dst) for p in result.pairs if p.family == 6 and p.received}
        assert reached == {("h1", "h3"), ("h3", "h1"), ("h2", "h4"), ("h4", "h2")}, result.matrix()
        flow = traffic.iperf3(net["h1"], net["h3"], duration=1, family=6)
        assert flow.mbps > 10, flow.summary("h1", "h3")


@pytest.mark.skipif(shutil.which("dnsmasq") is None or shutil.which("dhclient") is None,
                    reason="needs dnsmasq and dhclient")
def test_a_dhcp_client_keeps_its_ipv6_address():
    """IPv4 from the DHCP server, IPv6 planned: both families are pinged after the lease."""
    g = on_switch(2)
    g.graph["ipv6"] = True
    g.nodes["h1"]["ip"] = "10.0.0.1/24"
    g.nodes["h1"]["dhcp_server"] = {"range": "10.0.0.100,10.0.0.200"}
    g.nodes["h2"]["ip"] = "dhcp"
    with Network(g) as net:
        assert net.live_plan.node("h2").addresses[1] == "2001:db8::2/64", net.live_plan.node("h2").addresses
        families_ok(net.pingall())


@pytest.mark.skipif(shutil.which("dnsmasq") is None and not os.path.exists("/usr/sbin/dnsmasq"),
                    reason="needs dnsmasq")
def test_slaac_hosts_take_the_planned_address_and_route_from_router_advertisements():
    """r1 advertises (ra=True), the hosts autoconfigure (ip6='slaac'): when the build returns each
    has the address the plan says, usable, and a default route from the advertisements; pingall
    passes in both families at once, and again right after a link flap (the host solicits). h2,
    numbered statically beside them, ignores the advertisements."""
    graph, params = load("topologies/dualstack.py", {"slaac": "true"})
    del graph.nodes["h2"]["ip6"]
    with Network(graph, source="dualstack", params=params) as net:
        for host in ("h1", "h3"):
            planned = net.plan.node(host).addresses[1]
            addr = net[host].cmd(["ip", "-6", "addr", "show", "dev", f"{host}-eth0", "scope", "global"])
            assert f"inet6 {planned} scope global dynamic" in addr and "tentative" not in addr, addr
            route = net[host].cmd(["ip", "-6", "route", "show", "default"])
            assert re.search(r"default via fe80::\S+ dev \S+ proto ra", route) and "2001:db8" not in route, route
        h2 = net["h2"].cmd(["ip", "-6", "addr", "show", "dev", "h2-eth0", "scope", "global"])
        assert h2.count("inet6 ") == 1 and f"inet6 {net.plan.node('h2').addresses[1]} " in h2, h2
        assert "proto ra" not in net["h2"].cmd(["ip", "-6", "route", "show"])
        names = net["h2"].cmd(["getent", "ahosts", "h3"])
        assert net.plan.node("h3").addresses[1].split("/")[0] in names, names
        families_ok(net.pingall())
        net.link_down("h3", "s2")
        net.link_up("h3", "s2")
        assert "proto ra" in net["h3"].cmd(["ip", "-6", "route", "show", "default"])
        families_ok(net.pingall())
