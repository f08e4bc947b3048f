"""Shaped links measured for real: iperf3 rates, ping loss, asymmetric links, refusals.

Rates: iperf3 reports TCP goodput; the configured bw counts whole Ethernet frames (as tc
does), so the expected goodput is bw * mss / (mss + 66), 95.6 % of bw at MTU 1500. The
measured goodput must be within +-5 % of that. A shaped link cannot go faster than its
rate, so the upper bound holds on every attempt; the lower bound can suffer from other
people's load on this 2-core machine, so a rate below it is measured once more.

Loss: a probability p per direction; a ping round trip crosses both directions, so it is
lost with 1 - (1 - p)^2 when both are lossy and p when only one is. With n pings the
measured fraction must lie within 4 binomial standard deviations of that.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import pytest

from testbed import Network, load
from testbed.run import traffic

ROOT = Path(__file__).resolve().parents[2]
PAIR = str(ROOT / "topologies" / "pair.py")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="building namespaces needs root")


def netns_now() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


@pytest.fixture
def nets():
    """Networks made by a test; afterwards none of their namespaces may remain."""
    made: list[Network] = []
    yield made
    for net in made:
        net.stop()
    left = [n for n in netns_now() for net in made if n.startswith(net.run_id + "-")]
    assert not left, f"left behind: {left}"


def build(nets, graph_or_params) -> Network:
    if isinstance(graph_or_params, dict):
        graph, params = load(PAIR, graph_or_params)
        net = Network(graph, source="pair", params=params)
    else:
        net = Network(graph_or_params, source="pair")
    nets.append(net)
    return net.start()


def measured_rate(net, bw: float, src="h1", dst="h2", reverse=False) -> tuple[float, float]:
    """(goodput Mbit/s, its error against bw's expected goodput), measured up to twice."""
    for attempt in range(2):
        result = traffic.iperf3(net[src], net[dst], duration=3, omit=0.5, reverse=reverse)
        expected = result.expected_mbps(bw)
        error = result.mbps / expected - 1
        sender, receiver = (dst, src) if reverse else (src, dst)
        print(f"bw {bw} Mbit/s: {result.summary(sender, receiver)}; error {error:+.2%}")
        assert error <= 0.05, f"{result.mbps:.3f} Mbit/s is faster than a {bw} Mbit/s link allows"
        if error >= -0.05:
            break
    return result.mbps, error


@pytest.mark.parametrize("bw", [1, 10, 100, 1000])
def test_rate(nets, bw):
    net = build(nets, {"bw": str(bw)})
    qdiscs = net["h1"].cmd(["tc", "qdisc", "show", "dev", "h1-eth0"])
    assert "htb 1: root" in qdiscs and "pfifo 10: parent 1:1 limit 1000p" in qdiscs
    _, error = measured_rate(net, bw)
    assert abs(error) <= 0.05


def test_asymmetric_rates(nets):
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2", bw={"h1": 5, "h2": "20Mbit"}, queue={"h1": 50})
    net = build(nets, g)
    assert "limit 50p" in net["h1"].cmd(["tc", "qdisc", "show", "dev", "h1-eth0"])
    up, up_error = measured_rate(net, 5)
    down, down_error = measured_rate(net, 20, reverse=True)      # h2 sends
    assert abs(up_error) <= 0.05 and abs(down_error) <= 0.05
    assert down > 3.5 * up


def ping_loss(net, count: int = 2000) -> float:
    stats = traffic.ping(net["h1"], net["h2"], count=count, interval=0.002, warmup=5)
    print(stats.summary("h1", "h2"))
    assert stats.transmitted == count
    return stats.loss_fraction


def pair_graph(**settings) -> nx.Graph:
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2", **settings)
    return g


@pytest.mark.parametrize("loss, round_trip", [
    (10, 1 - 0.9 ** 2),                    # both directions lossy: 19 %
    ({"h1": 10}, 0.10),                    # only what h1 sends
])
def test_loss(nets, loss, round_trip):
    net = build(nets, pair_graph(loss=loss))
    rules = net["h2"].cmd(["nft", "list", "table", "netdev", "testbed"])
    assert "numgen random mod 1000000 < 100000" in rules
    n = 2000
    measured = ping_loss(net, n)
    bound = traffic.loss_bound(round_trip, n)
    print(f"loss {loss}: measured {measured:.4f}, expected {round_trip:.4f} +- {bound:.4f} (4 sigma)")
    assert abs(measured - round_trip) <= bound


def test_unshaped_link_loses_nothing(nets):
    net = build(nets, {})
    assert ping_loss(net, 500) == 0.0


def test_delay_is_refused_before_anything_is_built():
    from testbed.errors import EnvironmentProblem
    from testbed.kernel import caps
    if "netem" in (caps.features() or ()):
        pytest.skip("this kernel has netem: nothing to refuse")
    with pytest.raises(EnvironmentProblem, match="link h1--h2 \\(delay, jitter\\)"):
        Network(pair_graph(delay="10ms", jitter="1ms", bw=10))          # refused while planning
    done = subprocess.run([sys.executable, "-m", "testbed.cli.main", "run", PAIR, "--param", "delay=10ms",
                           "--param", "bw=10", "--test", "none"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 3, done.stderr
    assert "this kernel has no netem, needed by: link h1--h2 (delay)" in done.stderr
    assert "`testbed run --vm ...`" in done.stderr and "drop the delay setting(s)" in done.stderr
    assert "built" not in done.stderr


def test_cli_iperf_and_ping(tmp_path):
    done = subprocess.run([sys.executable, "-m", "testbed.cli.main", "run", PAIR, "--param", "bw=20",
                           "--test", "iperf", "--time", "2"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    mbps = float(done.stdout.split("received")[0].split(":")[1].split()[0])
    assert 0.95 * 20 * 1448 / 1514 <= mbps <= 1.05 * 20 * 1448 / 1514, done.stdout
    done = subprocess.run([sys.executable, "-m", "testbed.cli.main", "run", PAIR, "--param", "loss=30",
                           "--test", "ping", "--count", "200"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ping h1 -> h2: 200 sent" in done.stdout and "% loss; rtt min/avg/max/mdev" in done.stdout


def _wait_backlog(node, ifname: str, packets: int, timeout: float = 20.0) -> None:
    """Wait until ``ifname``'s qdiscs hold at least ``packets`` packets waiting."""
    deadline = time.monotonic() + timeout
    while True:
        shown = node.cmd(["tc", "-s", "qdisc", "show", "dev", ifname])
        backlogs = [int(p) for p in re.findall(r"backlog \S+ (\d+)p", shown)]
        if backlogs and max(backlogs) >= packets:
            return
        assert time.monotonic() < deadline, f"{ifname}'s queue never held {packets} packets:\n{shown}"
        time.sleep(0.02)


def test_queue_limit_bounds_the_wait(nets):
    """A 1 Mbit/s link with a 10-packet queue, flooded: pings wait behind at most 10 frames."""
    net = build(nets, pair_graph(bw={"h1": 1}, queue={"h1": 10}))
    server = net["h2"].popen(["iperf3", "-s", "-1", "-p", "5202"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        traffic.ping(net["h1"], net["h2"], count=1, warmup=5)   # the server is up and ARP resolved
        flood = net["h1"].popen(["iperf3", "-c", net["h2"].ip, "-p", "5202", "-u", "-b", "5M", "-t", "4"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_backlog(net["h1"], "h1-eth0", packets=5)        # the flood has filled the queue
        stats = traffic.ping(net["h1"], net["h2"], count=100, interval=0.02)
        flood.wait(timeout=20)
    finally:
        server.terminate()
        server.wait(timeout=5)
    print(stats.summary("h1", "h2"))
    # 5 Mbit/s into 1: about 4 of 5 arrivals find the queue full, pings too; those that get in
    # wait behind at most 10 frames of 1500 bytes, 120 ms at 1 Mbit/s (1000 packets: 12 s)
    assert stats.received >= 5 and stats.rtt_max < 200, stats.summary("h1", "h2")
    shown = net["h1"].cmd(["tc", "-s", "qdisc", "show", "dev", "h1-eth0"])
    dropped = int(shown.split("pfifo 10:")[1].split("dropped ")[1].split(",")[0])
    assert dropped > 100, shown                                 # the flood overflowed the queue


def test_cli_iperf_takes_first_and_last_host_or_a_pair():
    single = os.path.join(ROOT, "topologies", "single.py")
    done = subprocess.run([sys.executable, "-m", "testbed.cli.main", "run", single, "--param", "n=3",
                           "--test", "iperf", "--time", "1"], capture_output=True, text=True, cwd=ROOT, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "iperf3 TCP h1 -> h3:" in done.stdout
    done = subprocess.run([sys.executable, "-m", "testbed.cli.main", "run", single, "--param", "n=3",
                           "--test", "ping", "--pair", "h2,h3", "--count", "5"], capture_output=True, text=True,
                          cwd=ROOT, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "ping h2 -> h3: 5 sent, 5 received" in done.stdout
