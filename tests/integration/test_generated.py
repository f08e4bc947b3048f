"""A sample of generated topologies built for real: each is refused with a clear error before
anything is made, or built into a network whose pingall matches the prediction; either way
nothing is left. ``TESTBED_EXPLORE=1`` draws 200 new ones instead of the suite's fixed 25."""
from __future__ import annotations

import os

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed import DeployError, Network, TopologyError, UsageError, plan

SWITCHES = ["s1", "s2", "s3"]
ENDS = ["h1", "h2", "h3", "h4", "r1", "r2"]


@st.composite
def small_networks(draw) -> nx.Graph:
    g = nx.MultiGraph() if draw(st.booleans()) else nx.Graph()
    switches = draw(st.lists(st.sampled_from(SWITCHES), max_size=3, unique=True))
    ends = draw(st.lists(st.sampled_from(ENDS), min_size=2, max_size=6, unique=True))
    for s in switches:
        kind = draw(st.sampled_from(["switch", "switch", "bridge", "hub"]))
        stp = kind != "hub" and draw(st.booleans())
        g.add_node(s, kind=kind, **({"stp": True} if stp else {}))
    for e in ends:
        kind = "router" if e.startswith("r") else "host"
        attrs = draw(st.fixed_dictionaries({}, optional={
            "ip": st.sampled_from(["10.0.0.11/24", "10.0.0.12/24", "10.0.1.1/24", "10.0.0.200/24", "10.0.0.1/30"]),
            "default_route": st.sampled_from(["r1", "r2", "none", "10.0.0.254"])}))
        g.add_node(e, kind=kind, **attrs)
    nodes = switches + ends
    for e in ends:                                      # everyone is linked to someone
        others = [n for n in (switches or ends) if n != e]
        g.add_edge(e, draw(st.sampled_from(others)), **draw(_link_settings()))
    pairs = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]]
    for a, b in draw(st.lists(st.sampled_from(pairs), max_size=4)):
        g.add_edge(a, b, **draw(_link_settings()))
    return g


def _link_settings():
    return st.fixed_dictionaries({}, optional={"bw": st.sampled_from([5, 100]), "loss": st.sampled_from([0, 100]),
                                              "queue": st.integers(5, 200)})


# a fixed sample in the suite (the same 25 topologies every run); TESTBED_EXPLORE=1 draws new ones
EXPLORE = os.environ.get("TESTBED_EXPLORE") == "1"


@settings(max_examples=200 if EXPLORE else 25, deadline=None, derandomize=not EXPLORE, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(small_networks())
@pytest.mark.timeout(600)
def test_a_generated_topology_is_refused_or_works_as_predicted(owned, graph):
    try:
        planned = plan(graph, source="generated", features=frozenset({"htb", "nft-netdev", "bridge", "veth"}))
    except (TopologyError, UsageError) as exc:
        assert str(exc)                                  # refused up front, every problem said
        return
    except Exception as exc:                             # an environment refusal is fine too, nothing else
        assert type(exc).__name__ == "EnvironmentProblem", exc
        return
    net = Network(planned)
    owned.add(net.run_id)
    try:
        net.start()
    except DeployError as exc:                           # a clear error, and rolled back (checked by `owned`)
        assert "everything built so far was removed" in str(exc) or str(exc)
        return
    try:
        result = net.pingall(count=2)
        assert result.ok, f"{planned.to_json()}\n{result.matrix()}"
    finally:
        net.stop()
