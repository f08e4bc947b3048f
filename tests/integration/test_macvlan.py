"""macvlan children of a host's NIC: modes, and VEPA siblings needing a hairpin switch port."""
from __future__ import annotations

import pytest
from l2util import namespaces, needs_root, nothing_left

from testbed import Network, load
from testbed.kernel import bridgeport

pytestmark = needs_root
PINGS = 5


def build(mode: str, hairpin: bool) -> Network:
    graph, params = load("topologies/macvlan.py", {"mode": mode, "hairpin": str(hairpin)})
    return Network(graph, source="macvlan", params=params)


def ping(net: Network, src: str, dst: str, count: int = PINGS) -> int:
    """Replies received by ``src`` pinging ``dst``."""
    out = net[src].cmd(["ping", "-c", str(count), "-i", "0.05", "-W", "1", net[dst].ip])
    line = next(l for l in out.splitlines() if "received" in l)
    return int(line.split(",")[1].split()[0])


def test_vepa_siblings_need_hairpin_and_drops_are_counted():
    for hairpin in (False, True):
        net = build("vepa", hairpin)
        with nothing_left(net):
            with net:
                assert bridgeport.hairpin(net["s1"].netns, "s1-eth1") is hairpin
                child = next(i for i in net.plan.node("c1").interfaces if i.name == "eth0")
                assert child.kind == "macvlan" and child.parent == ("phys", "phys-eth0")
                assert "macvlan mode vepa" in net["c1"].cmd(["ip", "-d", "link", "show", "eth0"])
                result = net.pingall()
                assert result.ok, result.matrix()
                assert ping(net, "c1", "lan") == PINGS           # the LAN always works
                s1_before = net["s1"].counters()["s1-eth1"]["rx_packets"]
                c2_before = net["c2"].counters()["eth0"]["rx_packets"]
                got = ping(net, "c1", "c2")
                s1_rx = net["s1"].counters()["s1-eth1"]["rx_packets"] - s1_before
                c2_rx = net["c2"].counters()["eth0"]["rx_packets"] - c2_before
                assert s1_rx >= PINGS                            # the frames did reach the switch
                if hairpin:
                    assert got == PINGS and c2_rx >= PINGS       # ... and came back out of the same port
                else:
                    assert got == 0 and c2_rx == 0               # ... which dropped them: no hairpin
                    assert not net.reachability.expected("c1", "c2")
                run_prefix = net.run_id
        assert not {n for n in namespaces() if n.startswith(run_prefix)}


@pytest.mark.parametrize("mode,hairpin,siblings,parent", [
    ("bridge", False, True, False),      # siblings switched inside the parent; parent cut off
    ("private", True, False, True),      # never siblings, even through a hairpin port
])
def test_macvlan_modes(mode, hairpin, siblings, parent):
    net = build(mode, hairpin)
    with nothing_left(net):
        with net:
            result = net.pingall()
            assert result.ok, result.matrix()
            assert (ping(net, "c1", "c2", 2) == 2) is siblings
            assert (ping(net, "phys", "c1", 2) == 2) is parent
            assert ping(net, "c2", "lan", 2) == 2


def test_passthru_child_owns_the_nic():
    net = build("passthru", False)
    with nothing_left(net):
        with net:
            result = net.pingall()
            assert result.ok, result.matrix()
            assert ping(net, "c1", "lan", 2) == 2 and ping(net, "phys", "lan", 2) == 0
