"""pingall's senders: threads for small meshes, child processes for big ones (testbed/kernel/icmp.py).

The forked path is forced on a small network (FORK_MIN lowered): it must give the same exact
matrix as the threads, reachable and unreachable pairs alike, with round-trip times, and
leave no child process behind.
"""
from __future__ import annotations

import os

import networkx as nx
import pytest

from testbed import Network
from testbed.kernel import icmp, procs

pytestmark = pytest.mark.timeout(120)


def two_lans() -> nx.Graph:
    """Hosts on two switches that nothing joins: pairs across the LANs must fail."""
    g = nx.Graph()
    for lan, hosts in (("s1", range(1, 5)), ("s2", range(5, 8))):
        g.add_node(lan, kind="switch")
        for i in hosts:
            g.add_node(f"h{i}", kind="host", ip=f"10.0.{0 if lan == 's1' else 1}.{i}/24")
            g.add_edge(f"h{i}", lan)
    return g


def children_of_this_process() -> set[int]:
    return procs.children_of(os.getpid())


def test_forked_senders_give_the_same_matrix_as_threads(monkeypatch):
    before = children_of_this_process()
    with Network(two_lans(), source="two_lans") as net:
        threaded = net.pingall(count=2)
        monkeypatch.setattr(icmp, "FORK_MIN", 1)
        forked = net.pingall(count=2)
    assert threaded.ok and forked.ok, forked.matrix()
    key = lambda r: [(p.src, p.dst, p.sent, p.received, p.expected) for p in r.pairs]  # noqa: E731
    assert key(forked) == key(threaded)
    reached = [p for p in forked.pairs if p.expected]
    assert len(reached) == 4 * 3 + 3 * 2 and all(p.received == 2 and p.rtt_ms is not None for p in reached)
    assert all(p.received == 0 for p in forked.pairs if p.expected is False)
    assert children_of_this_process() <= before, "a pingall sender outlived its pingall"


def test_a_big_pingall_fills_static_arp_in_a_child_while_it_plans(monkeypatch):
    """Past ARP_DYNAMIC_MAX_PAIRS, permanent neighbour entries go in first; for a big pingall
    a forked child adds them (entering each namespace itself) while the pairs are planned."""
    from testbed.run import pingall as pingall_module
    monkeypatch.setattr(icmp, "FORK_MIN", 1)
    monkeypatch.setattr(pingall_module, "ARP_DYNAMIC_MAX_PAIRS", 1)
    before = children_of_this_process()
    with Network(two_lans(), source="two_lans") as net:
        result = net.pingall()
        assert net.static_arp
        neighbours = net["h1"].run(["ip", "-4", "neigh", "show", "nud", "permanent"]).stdout
    assert result.ok, result.matrix()
    assert sorted(line.split()[0] for line in neighbours.splitlines()) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert children_of_this_process() <= before
