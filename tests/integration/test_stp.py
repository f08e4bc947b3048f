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
