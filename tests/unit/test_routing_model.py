"""The model of converged routes (what the expected reachability follows and convergence is
checked against): shortest paths, ECMP, areas, RIP's hop limit, BGP path selection, route
reflection, redistribution, failures."""
from __future__ import annotations

import ipaddress

import networkx as nx

from testbed import Reachability, load, plan
from testbed.concerns.routing import fib


def planned(name: str, **params):
    graph, full = load(f"topologies/{name}.py", {k: str(v) for k, v in params.items()})
    return plan(graph, source=name, params=full)


def routes(p, node: str) -> dict[str, tuple[str, ...]]:
    return {r.prefix: r.via for r in p.concern("routing").routes_of(node)}


def lan(p, host: str) -> str:
    return str(ipaddress.ip_interface(p.node(host).addresses[0]).network)


def address(p, node: str, peer: str) -> str:
    """``node``'s address on its link to ``peer``."""
    for intf in p.node(node).interfaces:
        if intf.peer and intf.peer[0] == peer:
            return intf.addresses[0].split("/")[0]
    raise KeyError((node, peer))


def link_index(p, a: str, b: str) -> int:
    return next(l.index for l in p.links if {l.a[0], l.b[0]} == {a, b})


def chain(n: int, protocol: str, **spec) -> nx.Graph:
    g = nx.Graph()
    for i in range(1, n + 1):
        g.add_node(f"r{i}", kind="router", routing={protocol: dict(spec)})
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", f"r{i}")
        if i > 1:
            g.add_edge(f"r{i - 1}", f"r{i}")
    return g


def test_routed_routers_get_no_static_routes_and_hosts_keep_their_default():
    p = planned("ospf_ring", n=4)
    assert p.node("r1").routes == ()
    assert [(r.dst, r.via) for r in p.node("h1").routes] == [("default", address(p, "r1", "h1"))]


def test_a_static_router_next_to_routed_ones_still_gets_static_routes():
    g = chain(3, "ospf")
    del g.nodes["r3"]["routing"]
    p = plan(g)
    assert p.node("r3").routes and p.node("r1").routes == ()


def test_ring_of_four_has_two_equal_paths_to_the_opposite_lan():
    p = planned("ospf_ring", n=4)
    assert routes(p, "r1")[lan(p, "h3")] == tuple(sorted((address(p, "r2", "r1"), address(p, "r4", "r1")),
                                                        key=ipaddress.ip_address))
    assert routes(p, "r1")[lan(p, "h2")] == (address(p, "r2", "r1"),)


def test_a_failed_link_reroutes_around_the_ring():
    p = planned("ospf_ring", n=5)
    records = p.concern("routing")
    assert routes(p, "r1")[lan(p, "h3")] == (address(p, "r2", "r1"),)
    after = fib.solve(records.routers, frozenset({link_index(p, "r2", "r3")}))
    assert {r.prefix: r.via for r in after.records("r1")}[lan(p, "h3")] == (address(p, "r5", "r1"),)
    cut = fib.solve(records.routers, frozenset({link_index(p, "r1", "r2"), link_index(p, "r1", "r5")}))
    assert cut.records("r1") == ()                              # r1 is cut off: it has no route at all


def test_ospf_cost_steers_the_path():
    g = chain(3, "ospf")
    g.add_edge("r1", "r3", ospf={"cost": 100})
    p = plan(g)
    assert routes(p, "r1")[lan(p, "h3")] == (address(p, "r2", "r1"),)
    g.edges["r1", "r3"]["ospf"] = {"cost": {"r1": 5, "r3": 100}}          # per direction
    p = plan(g)
    assert routes(p, "r1")[lan(p, "h3")] == (address(p, "r3", "r1"),)
    assert routes(p, "r3")[lan(p, "h1")] == (address(p, "r2", "r3"),)


def test_rip_reaches_fifteen_hops_and_no_further():
    p = plan(chain(17, "rip"))
    table = routes(p, "r1")
    assert lan(p, "h15") in table
    assert lan(p, "h16") not in table and lan(p, "h17") not in table
    reach = Reachability(p)
    assert reach.expected("h1", "h14") is True
    assert reach.expected("h1", "h17") is False                 # static routes would have said True


def test_ospf_areas_go_through_the_border_routers():
    g = nx.Graph()
    for name, area in (("r1", 0), ("r2", 0), ("r3", 1), ("r4", 1)):
        g.add_node(name, kind="router", routing={"ospf": {"area": area}})
    g.add_edge("r1", "r2")
    g.add_edge("r2", "r3", ospf={"area": 1})
    g.add_edge("r3", "r4")
    for router in ("r1", "r4"):
        g.add_node("h" + router[1:], kind="host")
        g.add_edge("h" + router[1:], router)
    p = plan(g)
    assert routes(p, "r1")[lan(p, "h4")] == (address(p, "r2", "r1"),)
    assert routes(p, "r4")[lan(p, "h1")] == (address(p, "r3", "r4"),)
    assert Reachability(p).expected("h1", "h4") is True


def test_leaf_spine_spreads_over_every_spine():
    p = planned("leaf_spine", spines=3, leaves=2, hosts=1)
    via = routes(p, "l1")[lan(p, "h2")]
    assert len(via) == 3 and set(via) == {address(p, f"sp{s}", "l1") for s in (1, 2, 3)}
    solution = fib.solve(p.concern("routing").routers)
    assert solution.as_paths["l1"][ipaddress.ip_network(lan(p, "h2"))] == (65000, 65102)


def test_bgp_prefers_the_shorter_as_path_and_falls_back_to_the_transit():
    p = planned("bgp_as")
    records = p.concern("routing")
    h2 = ipaddress.ip_network(lan(p, "h2"))
    solution = fib.solve(records.routers)
    assert solution.as_paths["r1"][h2] == (65003,)
    assert routes(p, "r1")[str(h2)] == (address(p, "r4", "r1"),)
    after = fib.solve(records.routers, frozenset({link_index(p, "r1", "r4")}))
    assert after.as_paths["r1"][h2] == (65002, 65003)
    assert {r.prefix: r.via for r in after.records("r1")}[str(h2)] == (address(p, "r2", "r1"),)


def test_an_announced_prefix_is_a_blackhole_at_its_origin():
    p = planned("bgp_as")
    assert routes(p, "r4")["203.0.113.0/24"] == ()
    assert routes(p, "r1")["203.0.113.0/24"] == (address(p, "r4", "r1"),)
    assert "staticd" in p.concern("routing").router("r4").daemons


def test_an_ibgp_loopback_announced_with_next_hop_self_is_not_used_through_itself():
    """r2 learns r3's loopback over iBGP with r3's loopback as next hop: zebra never resolves that,
    so r1 reaches r3's loopback through the AS that does announce it usably (r4, over eBGP)."""
    p = planned("bgp_as")
    assert routes(p, "r1")["10.255.0.3/32"] == (address(p, "r4", "r1"),)
    assert routes(p, "r2")["10.255.0.3/32"] == (address(p, "r3", "r2"),)       # OSPF


def route_reflected() -> nx.Graph:
    g = nx.Graph()
    for r in ("r1", "r2", "r3", "r4"):
        g.add_node(r, kind="router", routing={"ospf": {}, "bgp": {"asn": 65010, "rr": r == "r1"}})
    g.add_node("e1", kind="router", routing={"bgp": {"asn": 65020, "announce": ["198.51.100.0/24"]}})
    g.add_edge("r2", "r1")
    g.add_edge("r1", "r3")
    g.add_edge("r1", "r4")
    g.add_edge("r2", "e1")
    return g


def test_a_route_reflector_passes_a_clients_routes_to_the_other_clients():
    p = plan(route_reflected())
    sessions = {r.node: [(s.peer, s.client) for s in r.bgp.sessions if s.ibgp] for r in p.concern("routing").routers
                if r.bgp and r.bgp.asn == 65010}
    assert sessions == {"r1": [("r2", True), ("r3", True), ("r4", True)], "r2": [("r1", False)],
                        "r3": [("r1", False)], "r4": [("r1", False)]}
    assert routes(p, "r4")["198.51.100.0/24"] == (address(p, "r1", "r4"),)    # resolved through OSPF
    mesh = route_reflected()
    for r in ("r1", "r2", "r3", "r4"):
        mesh.nodes[r]["routing"]["bgp"]["rr"] = False                          # no reflector: a full mesh
    p = plan(mesh)
    assert {r.node: len([s for s in r.bgp.sessions if s.ibgp]) for r in p.concern("routing").routers
            if r.bgp and r.bgp.asn == 65010} == {"r1": 3, "r2": 3, "r3": 3, "r4": 3}
    assert routes(p, "r4")["198.51.100.0/24"] == (address(p, "r1", "r4"),)


def test_redistributed_bgp_routes_are_ospf_externals():
    g = nx.Graph()
    g.add_node("r0", kind="router", routing={"bgp": {"asn": 65001, "announce": ["198.51.100.0/24"]}})
    g.add_node("r1", kind="router", routing={"ospf": {"redistribute": ["bgp"]}, "bgp": {"asn": 65002}})
    g.add_node("r2", kind="router", routing={"ospf": {}})
    g.add_edge("r0", "r1")
    g.add_edge("r1", "r2")
    p = plan(g)
    assert routes(p, "r2")["198.51.100.0/24"] == (address(p, "r1", "r2"),)
    entry = fib.solve(p.concern("routing").routers).routes["r2"][ipaddress.ip_network("198.51.100.0/24")]
    assert entry.protocol == "ospf"
    g.nodes["r1"]["routing"] = {"ospf": {}, "bgp": {"asn": 65002}}
    assert "198.51.100.0/24" not in routes(plan(g), "r2")


def test_the_expected_reachability_follows_the_converged_routes():
    p = planned("ospf_ring", n=4)
    reach = Reachability(p)
    hosts = [n.name for n in p.nodes if n.kind == "host"]
    assert all(reach.expected(a, b) for a in hosts for b in hosts if a != b)


def test_isis_chain():
    p = plan(chain(3, "isis"))
    assert routes(p, "r1")[lan(p, "h3")] == (address(p, "r2", "r1"),)
    assert p.concern("routing").router("r1").isis.net == "49.0001.0102.5500.0001.00"


def test_a_silent_failure_keeps_the_links_prefix_announced():
    """A link that drops everything but keeps its carrier: no adjacency over it, but both ends
    still have (and announce) its subnet, unlike a link that went down."""
    p = planned("ospf_ring", n=5)
    records = p.concern("routing")
    link = link_index(p, "r2", "r3")
    subnet = str(ipaddress.ip_interface(address(p, "r2", "r3") + "/24").network)
    down = {r.prefix: r.via for r in fib.solve(records.routers, frozenset({link})).records("r1")}
    cut = {r.prefix: r.via for r in fib.solve(records.routers, frozenset(), frozenset({link})).records("r1")}
    assert subnet not in down
    assert cut[subnet] == (address(p, "r2", "r1"),)          # r2 still announces it
    assert cut[lan(p, "h3")] == down[lan(p, "h3")] == (address(p, "r5", "r1"),)


def test_convergence_differences_name_what_is_missing_or_wrong():
    from testbed.concerns.routing.converge import differences
    want = {"10.0.1.0/24": ("10.0.0.2", "10.0.9.2"), "10.0.2.0/24": ("10.0.0.2",), "203.0.113.0/24": ()}
    assert differences(want, dict(want), ecmp=16) == []
    assert differences(want, {"10.0.1.0/24": ("10.0.0.2",), "10.0.2.0/24": ("10.0.0.2",),
                              "203.0.113.0/24": (), "10.9.0.0/24": ("10.0.0.2",)}, ecmp=16) == [
        "10.0.1.0/24 via 10.0.0.2,10.0.9.2, has via 10.0.0.2",
        "10.9.0.0/24 via 10.0.0.2 should not be there"]
    assert differences(want, {"10.0.1.0/24": ("10.0.9.2",), "10.0.2.0/24": ("10.0.0.2",)}, ecmp=1) == [
        "203.0.113.0/24 blackhole missing"]                      # one of two paths is all ecmp=1 allows
    assert differences(want, {}, ecmp=16, skip=frozenset(want)) == []


def test_frr_config_errors_found_at_run_time_point_at_their_line():
    from testbed.concerns.routing.daemons import late_config
    g = chain(2, "rip")
    g.nodes["r1"]["frr_config"] = "router rip\n offset-list 1 in 3\n"
    router = plan(g).concern("routing").router("r1")
    lines, own = late_config(router)
    assert lines[0] == "router rip" and " version 2" in lines[:own - 1]           # ripd's generated part first
    assert lines[own - 1:] == list(router.config[router.own_config_line - 1:]) == ["router rip", " offset-list 1 in 3", "!"]


def test_the_expected_reachability_follows_links_taken_down():
    p = planned("ospf_ring", n=5)
    one = Reachability(p, frozenset({link_index(p, "r1", "r2")}))
    assert one.expected("h1", "h2") is True                      # the long way round
    both = Reachability(p, frozenset({link_index(p, "r1", "r2"), link_index(p, "r1", "r5")}))
    assert both.expected("h1", "h2") is False and both.expected("h2", "h3") is True


def test_ospfv3_routes_follow_the_ipv6_ring_with_ecmp_and_failures():
    p = planned("ospf_ring", n=4, ipv6=True)
    r1 = p.concern("routing").router("r1")
    assert r1.daemons == ("zebra", "ospf6d") and len(r1.ports6) == 3 and r1.ports == ()   # no IPv4: no ospfd
    assert all(r.protocol == "ospf6" for r in p.concern("routing").routes_of("r1"))
    assert routes(p, "r1")[lan(p, "h3")] == tuple(sorted((address(p, "r2", "r1"), address(p, "r4", "r1")),
                                                        key=ipaddress.ip_address))
    assert routes(p, "r1")[lan(p, "h2")] == (address(p, "r2", "r1"),)
    after = fib.solve(p.concern("routing").routers, frozenset({link_index(p, "r1", "r2")}))
    assert {r.prefix: r.via for r in after.records("r1")}[lan(p, "h2")] == (address(p, "r4", "r1"),)
    reach = Reachability(p)
    assert reach.expected("h1", "h3") is True
    assert Reachability(p, frozenset({link_index(p, "r1", "r2"), link_index(p, "r1", "r4")})).expected(
        "h1", "h3") is False


def test_ospfv3_runs_beside_ospfv2_on_a_routers_ipv6_interfaces():
    """IPv4 and IPv6 in one network: each family's protocol sees only the links it has (r2 has
    no IPv6, so OSPFv3 reaches r3's IPv6 LAN over the r1--r3 link only)."""
    g = chain(3, "ospf")
    for node in ("r1", "r3"):
        g.nodes[node]["ipv6"] = True
    g.add_edge("r1", "r3", ip6={"r1": "2001:db8:13::1/64", "r3": "2001:db8:13::3/64"})
    g.add_node("s1", kind="switch")                          # an IPv6 LAN behind r3
    g.add_node("h6", kind="host", ipv6=True)
    g.add_edge("r3", "s1", ip6={"r3": "2001:db8:36::1/64"})
    g.add_edge("h6", "s1", ip6={"h6": "2001:db8:36::6/64"})
    p = plan(g)
    r1 = p.concern("routing").router("r1")
    assert "r1-eth2" in [port.ifname for port in r1.ports6] and all(not p.ospf.passive for p in r1.ports6
                                                                      if p.ifname == "r1-eth2")
    assert routes(p, "r1")["2001:db8:36::/64"] == ("2001:db8:13::3",)
    assert routes(p, "r2").get("2001:db8:36::/64") is None   # r2 has no IPv6 interface
    assert routes(p, "r1")[lan(p, "h3")] == (address(p, "r3", "r1"),)     # r1--r3 is dual-stack
    assert "ospf6d" not in p.concern("routing").router("r2").daemons


def test_a_router_with_ipv6_off_runs_no_ospfv3():
    p = planned("ospf_ring", n=3)
    assert all(not r.ports6 and "ospf6d" not in r.daemons for r in p.concern("routing").routers)
