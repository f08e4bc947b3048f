"""Traffic helpers on a real two-host network (root)."""
import os
import shutil
import subprocess

import pytest

from testbed import Network, load
from testbed.run import traffic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("iperf3", "ping", "tcpdump", "ss")),
                       reason="needs iperf3, ping, tcpdump and ss"),
]


@pytest.fixture(scope="module")
def net():
    graph, params = load(os.path.join(ROOT, "topologies", "single.py"), {"n": "2", "kind": "bridge"})
    network = Network(graph, source="single", params=params).start()
    yield network
    network.stop()
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert network.run_id not in left


@pytest.mark.timeout(30)
def test_ping_reports_rtt_and_loss(net):
    stats = traffic.ping(net["h1"], net["h2"], count=3, interval=0.1)
    assert (stats.transmitted, stats.received, stats.loss_percent) == (3, 3, 0.0)
    assert 0 < stats.rtt_min <= stats.rtt_avg <= stats.rtt_max
    lost = traffic.ping(net["h1"], "10.0.0.250", count=2, interval=0.1, wait=0.5)
    assert lost.received == 0 and lost.loss_percent == 100.0 and lost.rtt_avg is None


@pytest.mark.timeout(60)
def test_iperf3_tcp_series_and_counters(net):
    h1, h2 = net["h1"], net["h2"]
    with traffic.counting([h2]) as window:
        result = traffic.iperf3(h1, h2, duration=1, interval=0.25)
    assert result.protocol == "TCP" and result.mbps > 10 and result.retransmits is not None
    assert len(result.intervals) >= 3
    received = window.delta["h2"][h2.intfs[0]]["rx_bytes"]
    assert received >= result.bytes                        # payload plus headers crossed h2's interface


@pytest.mark.timeout(60)
def test_udp_flow_captured(net, tmp_path):
    h1, h2 = net["h1"], net["h2"]
    path = str(tmp_path / "h2.pcap")
    with traffic.Capture(h2, h2.intfs[0], path, bpf="udp") as cap:
        result = traffic.iperf3(h1, h2, udp=True, bitrate="5M", duration=1)
    frames, _ = cap.count(unicast_only=True)
    assert result.protocol == "UDP" and result.packets > 300 and result.lost_percent < 5
    assert frames >= 0.9 * result.packets
    assert cap.proc is None and "packets captured" in cap.stderr


@pytest.mark.timeout(30)
def test_capture_on_a_missing_interface_fails_cleanly(net, tmp_path):
    with pytest.raises(traffic.TrafficError, match="did not start"):
        traffic.Capture(net["h1"], "nope0", str(tmp_path / "x.pcap")).start()


@pytest.mark.timeout(60)
def test_iperf3_processes_are_stopped_and_forgotten(net):
    before = set(net._procs)
    flow = traffic.Flow(net["h1"], net["h2"], duration=1, port=5203, omit=0.5, reverse=True).start()
    server_pid, client_pid = flow._server.pid, flow._client.pid
    result = flow.result()
    assert result.protocol == "TCP" and result.mbps > 10 and result.mss
    assert "TCP h2 -> h1" in result.summary("h2", "h1")
    assert set(net._procs) == before
    for pid in (server_pid, client_pid):
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


@pytest.mark.timeout(30)
def test_ping_with_warm_up_counts_only_the_measured_probes(net):
    stats = traffic.ping(net["h1"], net["h2"], count=50, interval=0.002, warmup=5)
    assert (stats.transmitted, stats.received) == (50, 50)
    assert stats.summary("h1", "h2").startswith("ping h1 -> h2: 50 sent, 50 received, 0.00% loss; rtt")
