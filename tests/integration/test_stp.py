"""A ring of switches with STP: it converges, blocks a port, and every host reaches every other."""
from __future__ import annotations

from itest import load_network
from testbed.kernel import linkstate


def test_stp_ring_builds_and_pingall_works():
    with load_network("ring", k=3) as net:
        states = {}
        for s in ("s1", "s2", "s3"):
            states.update(net.worker.run_inside(net[s].netns, linkstate.port_states))
        assert "blocking" in states.values(), states
        assert "listening" not in states.values() and "learning" not in states.values(), states
        result = net.pingall(count=2)
        assert result.ok, result.matrix()


def test_in_node_bridge_with_stp_converges_quickly():
    """A host's own bridge with STP gets the short forward delay too (the kernel default is 15 s)."""
    import time
    from itest import ROOT
    from testbed import Network, load
    graph, params = load(str(ROOT / "topologies" / "three_hosts.py"), {})
    graph.nodes["A"]["interfaces"]["br0"]["stp"] = True
    started = time.monotonic()
    with Network(graph, source="three_hosts+stp", params=params) as net:
        assert time.monotonic() - started < 12
        states = net.worker.run_inside(net["A"].netns, linkstate.port_states)
        assert states == {"nic1": "forwarding", "nic2": "forwarding"}, states
        result = net.pingall()
        assert result.ok, result.matrix()
