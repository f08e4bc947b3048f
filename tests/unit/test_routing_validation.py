"""Routing attributes: parsed once, every problem reported at once, with did-you-mean."""
from __future__ import annotations

import networkx as nx
import pytest

from testbed import EnvironmentProblem, plan, validate
from testbed.concerns.routing import daemons
from testbed.concerns.routing.spec import parse_routing

from helpers import messages, one_message


def routers(*specs, links=None, hosts=True) -> nx.Graph:
    """Routers r1.. with the given routing specs, linked in a chain (or ``links``), each with a host."""
    g = nx.Graph()
    for i, spec in enumerate(specs, start=1):
        g.add_node(f"r{i}", kind="router", **({"routing": spec} if spec is not None else {}))
        if hosts:
            g.add_node(f"h{i}", kind="host")
            g.add_edge(f"h{i}", f"r{i}")
    for a, b, attrs in links or [(f"r{i}", f"r{i + 1}", {}) for i in range(1, len(specs))]:
        g.add_edge(a, b, **attrs)
    return g


def test_shorthands_name_protocols_with_their_defaults():
    assert parse_routing("ospf").protocols == ("ospf",)
    spec = parse_routing(["rip", "isis"])
    assert spec.protocols == ("rip", "isis") and spec.rip.update == 5 and spec.isis.area == "49.0001"
    assert parse_routing({"ospf": {"area": 1}}).ospf.area == "0.0.0.1"
    assert parse_routing({"ospf": {"area": "0.0.0.7"}}).ospf.area == "0.0.0.7"


def test_unknown_protocol_and_option_get_a_did_you_mean():
    g = routers({"opsf": {}}, {"ospf": {"aera": 0}})
    assert messages(g) == [
        "node 'r1': unknown routing protocol or setting 'opsf' (did you mean 'ospf'?)",
        "node 'r2': unknown ospf setting 'aera' (did you mean 'area'?)",
    ]
    assert one_message(routers({}, {"ospf": {}})) == ("node 'r1': routing names no protocol (give one of ospf, bgp, "
                                                     "rip, isis, e.g. routing={'ospf': {}})")


def test_every_bad_setting_of_a_router_is_reported_together():
    g = routers({"opsf": {}, "bgp": {"asn": 0}, "ecmp": 100}, {"ospf": {"aera": 0, "hello": 5, "dead": 2}})
    found = messages(g)
    assert "node 'r1': unknown routing protocol or setting 'opsf' (did you mean 'ospf'?)" in found
    assert any("node 'r1': BGP asn 0 is out of range" in m for m in found), found
    assert any("node 'r1': ecmp (paths per destination) 100 must be an integer from 1 to 64" in m for m in found)
    assert "node 'r2': unknown ospf setting 'aera' (did you mean 'area'?)" in found


@pytest.mark.parametrize("asn", [0, -1, 2**32, True, "65001", 1.5])
def test_asn_out_of_range_or_not_an_integer(asn):
    g = routers({"bgp": {"asn": asn}}, {"bgp": {"asn": 65002}})
    first, then = messages(g)
    assert first.startswith(f"node 'r1': BGP asn {asn!r} is out of range: an AS number is an integer from 1 to "
                            f"{2**32 - 1}"), first
    assert then.startswith("node 'r2': runs BGP but no neighbour of it runs BGP")     # r1's BGP is unreadable


@pytest.mark.parametrize("asn", [1, 65535, 4200000000, 2**32 - 1])
def test_asns_in_range_are_taken(asn):
    assert validate(routers({"bgp": {"asn": asn}}, {"bgp": {"asn": 7 if asn != 7 else 8}})) == []


def test_bad_values_say_what_is_wrong():
    cases = {
        "router_id": ({"ospf": {}, "router_id": "300.1.1.1"}, "router_id '300.1.1.1' is not a usable IPv4 address"),
        "loopback": ({"ospf": {}, "loopback": "10.255.0.1/24"}, "loopback '10.255.0.1/24' is not an IPv4 host address"),
        "area": ({"ospf": {"area": "backbone"}}, "OSPF area 'backbone' is neither an integer"),
        "redistribute": ({"ospf": {"redistribute": ["conected"]}}, "ospf cannot redistribute 'conected' (did you mean "
                                                                    "'connected'?)"),
        "self": ({"ospf": {"redistribute": ["ospf"]}}, "ospf cannot redistribute 'ospf'"),
        "dead": ({"ospf": {"hello": 4, "dead": 4}}, "ospf dead interval 4 s must be longer than the hello interval 4 s"),
        "announce": ({"bgp": {"asn": 65001, "announce": ["10.0.0.1/24"]}}, "announce: '10.0.0.1/24' is not an IPv4"),
        "no asn": ({"bgp": {}}, "bgp needs an 'asn'"),
        "isis area": ({"isis": {"area": "zz"}}, "IS-IS area 'zz' is not an area address"),
        "type": ({"ospf": 3}, "ospf settings 3 must be a dict"),
    }
    for name, (spec, text) in cases.items():
        found = messages(routers(spec, {"ospf": {}, "bgp": {"asn": 65009}}))
        assert any(text in m for m in found), (name, found)


def test_routing_belongs_to_kinds_that_forward():
    g = nx.Graph()
    g.add_node("h1", kind="host", routing={"ospf": {}})
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2")
    assert one_message(g).startswith("node 'h1': unknown attribute 'routing' for kind 'host'")


def test_ospf_areas_that_disagree_on_a_link():
    g = routers({"ospf": {"area": 0}}, {"ospf": {"area": 1}})
    assert messages(g) == ["r1/r1-eth1 0.0.0.0, r2/r2-eth1 0.0.0.1: OSPF interfaces on one link disagree on "
                           "area: they would form no adjacency (give both ends the same area (the link's "
                           "ospf={...}))",
                           "OSPF area 0.0.0.1: has no area border router: no router has interfaces in both it and "
                           "the backbone (area 0), so its routes stay inside it (give one of its routers a link in "
                           "area 0)"]
    g.edges["r1", "r2"]["ospf"] = {"area": 0}                 # the link's area settles it
    assert validate(g) == []


def test_ospfv3_interfaces_are_checked_as_ospfv2_ones():
    g = routers({"ospf": {"area": 0}}, {"ospf": {"area": 1}}, hosts=False)
    for node in ("r1", "r2"):
        g.nodes[node]["ipv6"] = True
    g.edges["r1", "r2"]["ip6"] = {"r1": "2001:db8::1/64", "r2": "2001:db8::2/64"}
    found = messages(g)
    assert "r1/r1-eth0 0.0.0.0, r2/r2-eth0 0.0.0.1: OSPF interfaces on one link disagree on area: they would " \
           "form no adjacency (give both ends the same area (the link's ospf={...}))" in found, found
    assert any(m.startswith("OSPFv3 area 0.0.0.1: has no area border router") for m in found), found
    g.edges["r1", "r2"]["ospf"] = {"area": 0}
    assert validate(g) == []


def test_hello_and_dead_that_disagree():
    g = routers({"ospf": {"hello": 1, "dead": 4}}, {"ospf": {"hello": 2, "dead": 8}})
    assert "disagree on hello/dead" in one_message(g)


def test_an_area_without_border_router():
    g = routers({"ospf": {"area": 0}}, {"ospf": {"area": 0}}, {"ospf": {"area": 2}},
                links=[("r1", "r2", {}), ("r2", "r3", {"ospf": {"area": 0}}), ("r3", "r3x", {})])
    g.add_node("r3x", kind="router", routing={"ospf": {"area": 2}})
    g.add_node("r4", kind="router", routing={"ospf": {"area": 3}})
    g.add_node("r5", kind="router", routing={"ospf": {"area": 3}})
    g.add_edge("r4", "r5")
    g.add_edge("r4", "r1", ospf=False)
    found = messages(g)
    assert "OSPF area 0.0.0.3: has no area border router: no router has interfaces in both it and the backbone " \
           "(area 0), so its routes stay inside it (give one of its routers a link in area 0)" in found
    assert not any("0.0.0.2" in m for m in found), found       # r3 is in areas 0 and 2: a border router


def test_duplicate_router_ids_and_loopbacks():
    g = routers({"ospf": {}, "router_id": "1.1.1.1"}, {"ospf": {}, "router_id": "1.1.1.1"},
                {"ospf": {}, "loopback": "10.9.9.9/32"}, {"ospf": {}, "loopback": "10.9.9.9/32"})
    found = messages(g)
    assert "node 'r1', node 'r2': share the router ID 1.1.1.1 (give each router its own router_id (or loopback))" \
        in found
    assert any(m.startswith("node 'r3', node 'r4': share the loopback 10.9.9.9/32") for m in found), found


def test_a_loopback_inside_a_lan_is_refused():
    g = routers({"ospf": {}, "loopback": "10.0.0.7/32"}, {"ospf": {}})
    assert one_message(g).startswith("node 'r1': loopback 10.0.0.7/32 is inside the subnet 10.0.0.0/24")


def test_bgp_router_without_any_session():
    g = routers({"bgp": {"asn": 65001}}, {"ospf": {}})
    assert one_message(g) == ("node 'r1': runs BGP but no neighbour of it runs BGP: it has no session (give a "
                              "neighbouring router bgp={'asn': ...} (another ASN for eBGP), or drop bgp here)")


def test_ibgp_needs_an_igp():
    g = routers({"bgp": {"asn": 65001}}, {"bgp": {"asn": 65001}}, {"bgp": {"asn": 65002}})
    assert one_message(g) == ("node 'r1', node 'r2': iBGP in AS 65001 runs between loopbacks, which need an IGP "
                              "to be reached (add ospf (or isis, rip) to every BGP router of the AS)")


def test_link_settings_for_protocols_nobody_runs():
    g = routers({"rip": {}}, {"rip": {}}, links=[("r1", "r2", {"ospf": {"cost": 5}, "bfd": True, "bgp": True})])
    found = messages(g)
    assert "link r1--r2: sets ospf but neither end runs OSPF (add ospf to an end's routing, or drop the setting)" \
        in found
    assert any(m.startswith("link r1--r2: bgp=True needs BGP routers of different ASNs") for m in found)
    assert any(m.startswith("link r1--r2: has bfd but neither end runs OSPF, IS-IS or BGP") for m in found)


def test_bfd_where_no_adjacency_runs():
    g = routers({"ospf": {}}, None, links=[("r1", "r2", {"bfd": True})])
    assert one_message(g).startswith("link r1--r2: has bfd but no OSPF/IS-IS adjacency or BGP session runs over it")


def test_cost_keyed_by_a_node_that_is_not_an_end():
    g = routers({"ospf": {}}, {"ospf": {}}, links=[("r1", "r2", {"ospf": {"cost": {"r1": 5, "r9": 7}}})])
    assert one_message(g) == "link r1--r2: ospf cost names 'r9', which is not an end of this link (key it by " \
                             "'r1' or 'r2')"


def test_frr_config_needs_routing():
    g = routers(None, None)
    g.nodes["r1"]["frr_config"] = "router ospf\n"
    assert one_message(g).startswith("node 'r1': has frr_config but no routing")


def test_frr_missing_is_refused_naming_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(daemons, "FRR_LIBEXEC", str(tmp_path))
    g = routers({"ospf": {}}, {"ospf": {}})
    with pytest.raises(EnvironmentProblem) as raised:
        plan(g, features=frozenset({"veth", "bridge"}))
    assert "routers r1, r2 run FRR, but" in str(raised.value)
    assert "apt-get install frr" in str(raised.value) and f"{tmp_path}/zebra" in str(raised.value)
    assert plan(g).concern("routing") is not None          # planned for a machine with everything


def test_cli_exits_3_when_frr_is_missing(monkeypatch, tmp_path, capsys):
    from testbed.cli import main
    from testbed.kernel import caps
    monkeypatch.setattr(daemons, "FRR_LIBEXEC", str(tmp_path))
    monkeypatch.setattr(caps, "features", lambda: frozenset({"veth", "bridge"}))
    assert main.main(["run", "topologies/ospf_ring.py", "--test", "none"]) == 3
    assert "apt-get install frr" in capsys.readouterr().err
