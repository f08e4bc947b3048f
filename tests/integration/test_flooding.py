"""A hub floods unicast to a bystander; a learning bridge does not (interface counters)."""
from __future__ import annotations

import pytest

from itest import load_network

PINGS = 200


def bystander_rx_during_flow(kind: str) -> tuple[int, str]:
    """h3's received packets while h1 pings h2 PINGS times (after a warm-up that fills ARP/FDB)."""
    with load_network("single", n=3, kind=kind) as net:
        warm = net["h1"].run(["ping", "-c3", "-i0.05", "-W1", "10.0.0.2"], timeout=10)
        assert warm.returncode == 0, warm.stdout
        before = net["h3"].counters()["h3-eth0"]["rx_packets"]
        flow = net["h1"].run(["ping", "-q", "-c", str(PINGS), "-i", "0.01", "-W1", "10.0.0.2"], timeout=30)
        after = net["h3"].counters()["h3-eth0"]["rx_packets"]
        assert f"{PINGS} received" in flow.stdout, flow.stdout
        return after - before, flow.stdout


def test_hub_floods_unicast_to_the_bystander():
    delta, _ = bystander_rx_during_flow("hub")
    # every request and every reply goes out of every hub port
    assert delta >= 2 * PINGS * 0.95, delta


@pytest.mark.parametrize("kind", ["bridge", "switch"])
def test_learning_bridge_keeps_unicast_away_from_the_bystander(kind):
    delta, _ = bystander_rx_during_flow(kind)
    assert delta <= 10, delta          # at most a few broadcasts (ARP)


def test_counters_read_every_interface_of_a_switch():
    with load_network("single", n=2) as net:
        counters = net["s1"].counters()
        assert set(counters) == {"s1", "s1-eth1", "s1-eth2"}
        assert all(c["up"] == 1 for c in counters.values())
        net["h1"].run(["ping", "-c2", "-i0.05", "-W1", "10.0.0.2"], timeout=10)
        assert net["s1"].counters()["s1-eth1"]["rx_packets"] >= 2
