"""Queue, TCP and ping-train monitors on real shaped links (root), checked against tc, ss and ping."""
import re
import shutil
import time

import networkx as nx
import pytest

from testbed import Network, PingTrain, QueueMonitor, TcpMonitor, traffic

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in ("iperf3", "ping", "ss", "tc")),
                                reason="needs iperf3, ping, ss and tc")


def shaped_pair(**settings) -> Network:
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2", **settings)
    return Network(g, source="monitors")


def tc_counters(node, intf: str) -> dict[str, int]:
    text = node.cmd(["tc", "-s", "qdisc", "show", "dev", intf])
    block = text[text.index("pfifo 10:"):]
    sent = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+)", block)
    return {"bytes": int(sent.group(1)), "packets": int(sent.group(2)), "drops": int(sent.group(3))}


@pytest.mark.timeout(90)
def test_queue_monitor_sees_a_udp_overload_fill_the_queue():
    """5 Mbit/s of UDP into a 1 Mbit/s link with a 40-packet queue: full queue, drops as tc counts them."""
    with shaped_pair(bw={"h1": 1}, queue={"h1": 40}) as net:
        h1, h2 = net["h1"], net["h2"]
        traffic.ping(h1, h2, count=2, interval=0.1, warmup=5)
        with QueueMonitor(h1, "h1-eth0", period=0.05) as queue:
            flow = traffic.iperf3(h1, h2, duration=2, udp=True, bitrate="5M")
        counted = tc_counters(h1, "h1-eth0")
    assert queue.kind == "pfifo" and len(queue.samples) >= 30
    assert max(s.qlen for s in queue.samples) == 40
    full = [s for s in queue.samples if s.qlen >= 38]
    assert len(full) >= len(queue.samples) // 2, [s.qlen for s in queue.samples]
    assert all(s.backlog >= s.qlen * 1000 for s in full)          # 1448-byte datagrams: ~1.5 kB each
    last = queue.samples[-1]
    assert 0 < last.drops <= counted["drops"] and last.sent_bytes <= counted["bytes"]
    assert counted["drops"] - last.drops < 60                     # little after the last sample
    assert flow.lost_packets and flow.lost_packets >= 0.5 * last.drops
    times = [s.t for s in queue.samples]
    assert times == sorted(times) and times[-1] - times[0] >= 1.5


@pytest.mark.timeout(90)
def test_queue_monitor_names_what_is_there_when_the_qdisc_is_missing():
    with shaped_pair(bw={"h1": 1}) as net:
        with pytest.raises(Exception, match=r"h2/h2-eth0 has no qdisc 10: \(it has: noqueue 0:\)"):
            QueueMonitor(net["h2"], "h2-eth0").start()
        with pytest.raises(Exception, match="no interface 'nope0'"):
            QueueMonitor(net["h1"], "nope0").start()


@pytest.mark.timeout(90)
def test_tcp_monitor_reads_what_ss_shows():
    with shaped_pair(bw={"h1": 10}, queue={"h1": 60}) as net:
        h1, h2 = net["h1"], net["h2"]
        with TcpMonitor(h1, dport=traffic.IPERF3_PORT, period=0.1) as tcp:
            flow = traffic.Flow(h1, h2, duration=4, extra=("-C", "reno")).start()
            try:
                time.sleep(2.5)            # the flow is in congestion avoidance: cwnd changes slowly
                mine = max(tcp.read(), key=lambda s: s.info.get("bytes_acked", 0))
                shown = h1.cmd(["ss", "-tin", "dport", "=", f":{traffic.IPERF3_PORT}"])
            finally:
                result = flow.result()
    data = tcp.busiest()
    assert data.congestion == "reno" and len(data.samples) >= 30
    assert data.bytes_acked >= 0.9 * result.bytes
    ss_cwnd = int(re.search(r"cwnd:(\d+)", shown[shown.index(f":{mine.sport}"):]).group(1))
    assert 0.7 * ss_cwnd <= mine.cwnd <= 1.3 * ss_cwnd + 2, (mine.cwnd, ss_cwnd, shown)
    assert "reno" in shown[shown.index(f":{mine.sport}"):]
    cwnds = [s.cwnd for s in data.samples]
    assert max(cwnds) > 10 and min(cwnds) < max(cwnds)            # a sawtooth, not a constant
    assert mine.sack and mine.timestamps


@pytest.mark.timeout(60)
def test_ping_train_keeps_every_reply_with_its_time():
    with shaped_pair() as net:
        traffic.ping(net["h1"], net["h2"], count=1, warmup=5)
        train = PingTrain(net["h1"], net["h2"], interval=0.05, duration=1.5).start()
        result = train.result()
    assert result.stats.transmitted == 30 and len(result.replies) == result.stats.received >= 28
    seqs = [seq for _, seq, _ in result.replies]
    assert seqs == sorted(seqs) and seqs[0] == 1
    gaps = [b[0] - a[0] for a, b in zip(result.replies, result.replies[1:])]
    assert 0.03 < sorted(gaps)[len(gaps) // 2] < 0.1
    assert all(0 < rtt < 50 for _, _, rtt in result.replies)
    series = result.series(train.started)
    assert series["t"][0] >= 0 and len(series["rtt_ms"]) == len(result.replies)
