"""Properties of the planning pipeline over generated topologies (hypothesis).

Random shapes, kinds and attributes of every type (None, NaN, huge, negative, unicode,
nested, and plausible good values) must give: a plan, or a TopologyError/UsageError that
lists problems; never another exception; ``validate(g) == []`` exactly when ``plan(g)``
succeeds; the same plan, byte for byte, every time.
"""
from __future__ import annotations

import copy
import math
import os

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed import TopologyError, UsageError, load, plan, validate

KINDS = ["host", "router", "switch", "hub", "bridge", "nat", "server"]
NODE_ATTRS = ["ip", "ip6", "mac", "default_route", "routes", "interfaces", "ipv6", "sysctls", "dhcp_server", "stp",
              "ageing", "forward_delay", "priority", "backend", "max_macs", "dhcp_snooping", "fail_mode",
              "controller", "datapath", "mac_vlans", "hub", "outside", "forwards", "command", "ready_port",
              "label", "colour"]
LINK_ATTRS = ["bw", "delay", "jitter", "loss", "queue", "intf", "ip", "ip6", "mac", "vlan", "trunk", "port", "label",
              "dealy"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from([
        "10.0.0.1/24", "10.0.0.2/24", "10.1.0.1/16", "2001:db8::1/64", "224.0.0.1/24", "10.0.0.1/0", "0.0.0.1/8",
        "02:00:00:00:00:01", "03:00:00:00:00:01", "dhcp", "none", "h1", "r1", "s1", "10ms", "20Mbit", "all",
        "eth0\n", "lo", "ovs", "linux", "secure", "testcontroller", "tcp:10.0.0.9:99999", "h1:80", "net.ipv4.ip_forward",
        "net.core.somaxconn", "x" * 20, "élan", "1e99"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=6), st.sampled_from(
        ["h1", "h2", "s1", "r1", "kind", "ports", "ip", "parent", "range", "dst", "via", "binding", "max_macs"])),
        inner, max_size=3)), max_leaves=6)


# Values that are right (or nearly) for an attribute, so generated topologies get past the
# first checks and exercise planning too. (Odd cases sit at the top of each integer range:
# hypothesis starts, and shrinks, towards 0.)
PLAUSIBLE = {
    "ip": st.sampled_from(["10.0.0.1/24", "10.0.0.2/24", "10.0.1.1/24", "dhcp", "2001:db8::1/64", None]),
    "ip6": st.sampled_from(["2001:db8::1/64", "2001:db8::2/64", "2001:db8:0:1::1/64", "fe80::1/64", "10.0.0.1/24",
                            {"h1": "2001:db8::1/64"}]),
    "mac": st.sampled_from(["02:00:00:00:00:01", "02:00:00:00:00:02"]),
    "default_route": st.sampled_from(["r1", "10.0.0.254", "none", "s1"]),
    "routes": st.just([{"dst": "10.9.0.0/24", "via": "10.0.0.1"}]),
    "interfaces": st.sampled_from([{"br0": {"kind": "bridge", "ports": ["h1-eth0", "h1-eth1"]}},
                                   {"d0": {"kind": "dummy", "ip": "10.5.0.1/24"}},
                                   {"m0": {"kind": "macvlan", "parent": "h2", "mode": "bridge"}}]),
    "ipv6": st.booleans(), "stp": st.booleans(), "dhcp_snooping": st.booleans(), "hub": st.booleans(),
    "dhcp_server": st.sampled_from([{}, {"range": "10.0.0.100,10.0.0.200"}, {"router": "r1"}]),
    "backend": st.sampled_from(["linux", "ovs"]), "max_macs": st.integers(1, 20),
    "fail_mode": st.sampled_from(["standalone", "secure"]), "outside": st.sampled_from(["h1", "s1"]),
    "forwards": st.just([{"proto": "tcp", "port": 8080, "to": "h2:80"}]), "command": st.just("sleep 1"),
    "bw": st.sampled_from([10, "20Mbit", {"h1": 5}]), "delay": st.sampled_from(["5ms", 2]),
    "loss": st.sampled_from([1, 100, {"h2": 5}]), "queue": st.integers(1, 100), "vlan": st.integers(1, 30),
    "trunk": st.sampled_from([[10, 20], [5]]), "intf": st.sampled_from([{"h1": "eth0"}, {"s1": "p1"}]),
    "port": st.sampled_from([{"s1": {"max_macs": 1}}, {"s1": {"hairpin": True}},
                             {"s1": {"binding": {"ip": "10.0.0.1", "mac": "02:00:00:00:00:01"}}}]),
}


def value_for(key: str):
    plausible = PLAUSIBLE.get(key)
    if plausible is None:
        return values
    return st.integers(0, 3).flatmap(lambda i: values if i == 3 else plausible)


@st.composite
def topologies(draw) -> nx.Graph:
    multi = draw(st.booleans())
    g = nx.MultiGraph() if multi else nx.Graph()
    if draw(st.booleans()):
        g.graph["ipv6"] = draw(st.sampled_from([True, True, False, "yes"]))
    if draw(st.integers(0, 3)) == 0:
        g.graph["ipv6_base"] = draw(st.sampled_from(["fd00:1::/48", "2001:db8::/64", "10.0.0.0/8", "fd00::/72"]))
    good = ["h1", "h2", "h3", "s1", "s2", "r1", "n1"]
    names = draw(st.lists(st.integers(0, 59).flatmap(
        lambda i: st.sampled_from(["bad name", "x" * 40, 7]) if i == 59 else st.sampled_from(good)),
        min_size=1, max_size=6, unique=True))
    for name in names:
        kind = draw(st.integers(0, 59).flatmap(
            lambda i: st.one_of(st.just(None), values) if i == 59 else st.sampled_from(KINDS)))
        attrs = {} if kind is None else {"kind": kind}
        for key in draw(st.lists(st.sampled_from(NODE_ATTRS), max_size=3, unique=True)):
            attrs[key] = draw(value_for(key))
        g.add_node(name, **attrs)
    for _ in range(draw(st.integers(0, 7))):
        u = draw(st.integers(0, 59).flatmap(lambda i: st.just("ghost") if i == 59 else st.sampled_from(names)))
        others = [n for n in names if n != u]
        v = draw(st.integers(0, 29).flatmap(lambda i: st.just(u) if i == 29 or not others else st.sampled_from(others)))
        attrs = {key: draw(value_for(key)) for key in draw(st.lists(st.sampled_from(LINK_ATTRS), max_size=2,
                                                                    unique=True))}
        g.add_edge(u, v, **attrs)
    return g


def _outcome(graph):
    try:
        return plan(copy.deepcopy(graph)), None
    except (TopologyError, UsageError) as exc:
        return None, exc


# the suite checks a fixed sample (the same 400 graphs every run); TESTBED_EXPLORE=1 draws new ones
EXPLORE = os.environ.get("TESTBED_EXPLORE") == "1"
PROPERTY = settings(max_examples=2000 if EXPLORE else 400, deadline=None, derandomize=not EXPLORE, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(topologies())
def test_plan_raises_only_topology_or_usage_errors_and_agrees_with_validate(graph):
    result, error = _outcome(graph)
    try:
        problems = validate(copy.deepcopy(graph))
    except UsageError:
        assert error is not None and isinstance(error, UsageError)
        return
    if result is None and isinstance(error, TopologyError):
        assert problems == error.problems and problems
    elif result is not None:
        assert problems == []
        assert result.to_json() == plan(copy.deepcopy(graph)).to_json()      # deterministic


@PROPERTY
@given(topologies())
def test_problem_messages_are_text_naming_a_place(graph):
    for p in validate(graph):
        assert isinstance(p.where, str) and p.where and isinstance(p.what, str) and p.what
        assert not any(isinstance(v, float) and math.isnan(v) for v in (p.where, p.what))


SHIPPED = ["three_hosts", "single", "linear", "tree", "pair", "routed", "ring", "macvlan", "port_security", "dhcp",
           "nat", "vlans", "mac_vlan", "macvlan_vs_bridge", "link_sweep", "lossy_link"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_topology_validates_exactly_when_it_plans(name):
    graph, params = load(f"topologies/{name}.py", {})
    assert validate(graph) == []
    assert plan(graph, source=name, params=params).to_json() == plan(graph, source=name, params=params).to_json()


def test_a_gateway_problem_and_an_ipv6_problem_are_reported_together():
    g = nx.Graph()
    g.add_node("h1", kind="host", default_route="10.9.9.9")
    g.add_node("h2", kind="host", ip6="2001:db8::2/64", ipv6=False)
    g.add_node("h3", kind="host")
    g.add_edge("h1", "h3")
    g.add_edge("h2", "h3")
    with pytest.raises(TopologyError) as info:
        plan(g)
    text = [str(p) for p in info.value.problems]
    assert any("the gateway is on none of the node's subnets" in t for t in text), text
    assert any("IPv6 is off in it" in t for t in text), text
    assert [str(p) for p in validate(g)] == text
