"""A bystander receives the traffic of two other hosts on a hub, almost none of it on a learning bridge.

Four hosts on one switching device s1 (kind=hub: floods every frame; kind=switch: a
learning switch), built both as a Linux bridge (backend=linux: a hub is a bridge that
never learns) and as Open vSwitch (backend=ovs: a hub is one FLOOD flow, a switch the
NORMAL learning pipeline, userspace datapath here). After a few pings (ARP resolved, MACs
learned), h1 sends a UDP flow to h2 while the bystander h3's interface counters are read
before and after (and, with capture=True, its traffic is captured to count unicast frames
that are not its own). Then two TCP flows (h1->h2, h3->h4) run at once and their
throughput is summed.
"""
from testbed import Capture, Flow, Plot, concurrent, counting, iperf3, ping

TOPOLOGY = "topologies/single.py"
PARAMS = {"n": 4, "rate": "20M", "duration": 2.0, "capture": True}
RUN_PARAMS = {
    "rate": "bit rate of the h1->h2 UDP flow (iperf3 -b)",
    "duration": "seconds of each flow",
    "capture": "also capture the bystander's traffic to count unicast frames",
}
GRID = {"kind": ["hub", "switch"], "backend": ["linux", "ovs"]}
REPEAT = 3
TABLE = ["flow_packets", "bystander_rx_frames", "bystander_unicast_frames", "bystander_rx_bytes",
         "aggregate_mbps"]


def _bystander_window(net, params):
    h1, h2, h3 = net["h1"], net["h2"], net["h3"]
    intf = h3.intfs[0]
    capture = Capture(h3, intf, params.artifact("bystander.pcap"), bpf="not arp") if params["capture"] else None
    with counting([h3]) as window:
        if capture:
            capture.start()
        try:
            flow = iperf3(h1, h2, udp=True, bitrate=params["rate"], duration=params["duration"])
        finally:
            if capture:
                capture.stop()
    rx = window.delta["h3"][intf]
    unicast = capture.count(unicast_only=True, exclude_macs=[h3.plan.interfaces[0].mac]) if capture else (None, None)
    return flow, rx, unicast


def run(net, params):
    h1, h2, h3, h4 = (net[f"h{i}"] for i in range(1, 5))
    for a, b in ((h1, h2), (h3, h4), (h1, h3)):      # resolve ARP; a learning bridge learns every MAC
        ping(a, b, count=2, interval=0.1)
    flow, rx, (uni_frames, uni_bytes) = _bystander_window(net, params)
    first, second = concurrent([Flow(h1, h2, duration=params["duration"], port=5201),
                                Flow(h3, h4, duration=params["duration"], port=5202)])
    return {
        "flow_packets": flow.packets,
        "flow_mbps": flow.mbps,
        "flow_lost_percent": flow.lost_percent,
        "bystander_rx_frames": rx["rx_packets"],
        "bystander_rx_bytes": rx["rx_bytes"],
        "bystander_unicast_frames": uni_frames,
        "bystander_unicast_bytes": uni_bytes,
        "bystander_share": rx["rx_packets"] / flow.packets if flow.packets else None,
        "tcp1_mbps": first.mbps,
        "tcp2_mbps": second.mbps,
        "aggregate_mbps": first.mbps + second.mbps,
        "tcp1_retransmits": first.retransmits,
        "tcp2_retransmits": second.retransmits,
        "tcp1_intervals": [[i.end, i.bits_per_second / 1e6] for i in first.intervals],
        "tcp2_intervals": [[i.end, i.bits_per_second / 1e6] for i in second.intervals],
    }


def hub_floods_bystander(results):
    """On a hub the bystander receives (nearly) every frame of the h1->h2 flow."""
    rows = results.where(kind="hub").rows
    shares = [r["bystander_share"] for r in rows]
    ok = bool(rows) and all(s is not None and s >= 0.9 for s in shares)
    return ok, (f"bystander received {min(shares or [0]):.0%}..{max(shares or [0]):.0%} of the flow's packets "
                f"({', '.join(sorted({r['backend'] for r in rows}))})")


def bridge_spares_bystander(results):
    """On a learning bridge or switch, after learning, the bystander receives ~nothing of the flow."""
    rows = results.where(kind="switch").rows
    bad = [r for r in rows if r["bystander_rx_frames"] > max(20, 0.01 * r["flow_packets"])
           or (r["bystander_unicast_frames"] or 0) > 5]
    worst = max((r["bystander_rx_frames"] for r in rows), default=None)
    return bool(rows) and not bad, (f"at most {worst} frames reached the bystander "
                                    f"(flow: {min(r['flow_packets'] for r in rows)}+ packets)" if rows else "no runs")


def both_flows_carry(results):
    """Both concurrent TCP flows move data on either device."""
    rows = results.rows
    low = min((min(r["tcp1_mbps"], r["tcp2_mbps"]) for r in rows), default=0.0)
    return bool(rows) and low > 1.0, f"slowest concurrent flow: {low:.0f} Mbit/s"


CHECKS = [hub_floods_bystander, bridge_spares_bystander, both_flows_carry]
LABELS = {"hub": "hub", "switch": "learning switch", "linux": "Linux bridge", "ovs": "Open vSwitch",
          "backend": "implementation", "kind": "device"}
PLOTS = [
    Plot("bystander", y="bystander_rx_bytes", x="kind", group="backend", logy=True, unit="bytes", labels=LABELS,
         ylabel="received by the bystander", title="What a bystander receives during an h1→h2 UDP flow",
         caption="20 Mbit/s for 2 s: about 5 MB; on a log axis the values are points, not bars"),
    Plot("throughput", y="aggregate_mbps", x="kind", group="backend", unit="Mbit/s", labels=LABELS,
         ylabel="aggregate TCP throughput", title="Two concurrent TCP flows (h1→h2, h3→h4), summed"),
    Plot("tcp_intervals", y="tcp1_intervals", group="backend", kind="timeseries", where={"kind": "switch"},
         unit="Mbit/s", labels=LABELS, ylabel="h1→h2 TCP throughput",
         title="h1→h2 throughput per interval through a learning switch"),
    Plot("throughput_cdf", y=("tcp1_intervals", "tcp2_intervals"), group="backend", kind="cdf", logx=True,
         where={"kind": "switch"}, unit="Mbit/s", labels=LABELS, xlabel="TCP throughput per interval (Mbit/s)",
         title="Per-interval throughput of both flows through a learning switch"),
]
