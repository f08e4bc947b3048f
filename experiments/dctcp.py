"""DCTCP holds a switch queue near its marking threshold K; TCP fills the buffer (needs dctcp and RED: --vm).

Alizadeh et al., "Data Center TCP (DCTCP)", SIGCOMM 2010, Figure 1 (two long-lived flows
from distinct ports into one switch port; the queue over time) and the Mininet-HiFi
reproduction of it (Handigol et al., CoNEXT 2012: 100 Mbit/s, K = 20 packets). Here on
topologies/dctcp.py: ``senders`` hosts send one iperf3 flow each for ``duration`` s to rx
through switch s1, whose port to rx sends ``bw`` = 100 Mbit/s from a ``queue`` = 200
packet buffer. Two runs per repetition:

- ``ecn=0``: TCP (``tcp_cc``, Reno) on a tail-drop buffer;
- ``ecn=20``: DCTCP on every host, the buffer a RED queue that CE-marks every packet
  arriving when K = 20 packets (20 x 1514 bytes) or more wait (instantaneous queue, as
  the paper's switches mark).

The queue (s1's qdisc on its port to rx, packets and bytes) is sampled every ``period`` s
over netlink; the first ``settle`` s (slow start) are left out of its statistics.
Claims: DCTCP's median queue lies within K/2..2K and its 95th percentile below 3K, while
TCP's median fills at least 40 % of the buffer (the sawtooth between half and full);
DCTCP's standard deviation is under a third of TCP's; the link stays at least 90 % busy
with both; DCTCP's queue marks and does not drop, TCP's drops.

This kernel has neither the dctcp congestion control nor the RED qdisc (``testbed
doctor``): the experiment refuses here and runs with ``--vm`` on a stock kernel.
"""
from __future__ import annotations

import math
import statistics

from testbed import EnvironmentProblem, Plot, QueueMonitor, kernel_features, traffic

TOPOLOGY = "topologies/dctcp.py"
PARAMS = {"senders": 2, "bw": 100.0, "queue": 200, "duration": 30.0, "settle": 3.0, "tcp_cc": "reno",
          "period": 0.01, "quick": False}
GRID = {"ecn": [0, 20]}
REPEAT = 2
QUICK = {"duration": 8.0, "settle": 2.0, "period": 0.02}
TABLE = ["queue_median", "queue_p95", "queue_std", "utilization", "marked", "dropped"]
TOLERANCES = {"queue_median": 0.3, "queue_p95": 0.3, "queue_std": 0.5, "utilization": 0.03}
FRAME = 1514


def _require() -> None:
    features = kernel_features()
    missing = [f for f in ("dctcp", "red") if features is not None and f not in features]
    if missing:
        raise EnvironmentProblem(
            f"this kernel has no {' and no '.join(missing)}: DCTCP needs the dctcp congestion control and a "
            "switch queue that marks ECN (RED). Run it on a stock kernel in a VM: "
            "`testbed experiment --vm experiments/dctcp.py` (`testbed doctor` shows what this kernel can do)")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run(net, params):
    _require()
    dctcp = params["ecn"] > 0
    cc = "dctcp" if dctcp else params["tcp_cc"]
    senders = [net[f"h{i}"] for i in range(1, params["senders"] + 1)]
    rx = net["rx"]
    port = net.link("s1", "rx")[0].other("rx")[1]
    for host in (*senders, rx):
        host.run(["sysctl", "-qw", f"net.ipv4.tcp_congestion_control={cc}", f"net.ipv4.tcp_ecn={int(dctcp)}",
                  "net.ipv4.tcp_no_metrics_save=1"], check=True)
    for host in senders:
        host.run(["ethtool", "-K", host.intfs[0], "tso", "off", "gso", "off"], check=True)
        traffic.ping(host, rx, count=2, interval=0.05, warmup=10)        # neighbours resolved first
    flows = [traffic.Flow(h, rx, duration=params["duration"], port=traffic.IPERF3_PORT + i, interval=1,
                          extra=("-C", cc)) for i, h in enumerate(senders)]
    with QueueMonitor(net["s1"], port, period=params["period"]) as queue:
        results = traffic.concurrent(flows)
    samples = queue.samples
    t0 = samples[0].t
    steady = [s for s in samples if params["settle"] <= s.t - t0 <= params["settle"] + params["duration"] - 1]
    if len(steady) < 10:
        raise RuntimeError(f"only {len(steady)} queue samples in the measured window")
    qlen = [s.qlen for s in steady]
    span = steady[-1].t - steady[0].t
    utilization = (steady[-1].sent_bytes - steady[0].sent_bytes) * 8 / (params["bw"] * 1e6 * span)
    marked = (steady[-1].marked - steady[0].marked) if steady[0].marked is not None else 0
    return {
        "mode": f"DCTCP, K={params['ecn']}" if dctcp else f"TCP {cc}, drop-tail",
        "congestion_control": cc, "queue_kind": queue.kind,
        "queue_median": statistics.median(qlen), "queue_mean": statistics.fmean(qlen),
        "queue_p5": percentile(qlen, 0.05), "queue_p95": percentile(qlen, 0.95), "queue_max": max(qlen),
        "queue_std": statistics.pstdev(qlen), "queue_kb_median": statistics.median(s.backlog for s in steady) / 1000,
        "utilization": utilization, "marked": marked, "dropped": steady[-1].drops - steady[0].drops,
        "samples": len(steady), "samples_late": queue.late,
        "throughput_mbps": sum(r.mbps for r in results), "flow_mbps": [r.mbps for r in results],
        "retransmits": sum(r.retransmits or 0 for r in results),
        "queue_series": [[round(s.t - t0, 3), s.qlen] for s in samples],
        "queue_kb_series": [[round(s.t - t0, 3), round(s.backlog / 1000, 1)] for s in samples],
        "queue_steady": [[round(s.t - t0, 3), s.qlen] for s in steady],
    }


def _modes(results):
    return results.where(congestion_control="dctcp").rows, [r for r in results.rows if r["ecn"] == 0]


def dctcp_queue_near_k(results):
    """DCTCP: the median queue lies within K/2..2K and its 95th percentile below 3K, in every run."""
    dctcp, _ = _modes(results)
    bad = [r for r in dctcp if not (r["ecn"] / 2 <= r["queue_median"] <= 2 * r["ecn"] and r["queue_p95"] < 3 * r["ecn"])]
    text = ", ".join(f"median {r['queue_median']:g} p5 {r['queue_p5']} p95 {r['queue_p95']} (K={r['ecn']})"
                     for r in dctcp)
    return bool(dctcp) and not bad, f"DCTCP queue (packets): {text or 'no DCTCP run'}"


def tcp_fills_the_buffer(results):
    """TCP on a tail-drop buffer: the median queue is at least 40 % of the buffer, in every run."""
    _, tcp = _modes(results)
    bad = [r for r in tcp if r["queue_median"] < 0.4 * r["queue"]]
    text = ", ".join(f"median {r['queue_median']:g} p5 {r['queue_p5']} p95 {r['queue_p95']} of {r['queue']}"
                     for r in tcp)
    return bool(tcp) and not bad, f"TCP queue (packets): {text or 'no TCP run'}"


def dctcp_varies_less(results):
    """DCTCP's queue varies less: its standard deviation is under a third of TCP's (means over the runs)."""
    dctcp, tcp = _modes(results)
    if not dctcp or not tcp:
        return False, "needs both a TCP and a DCTCP run"
    a, b = statistics.fmean(r["queue_std"] for r in dctcp), statistics.fmean(r["queue_std"] for r in tcp)
    return a < b / 3, f"standard deviation {a:.1f} packets (DCTCP) vs {b:.1f} (TCP)"


def link_stays_busy(results):
    """The bottleneck is at least 90 % busy with TCP and with DCTCP (a short queue costs no throughput)."""
    rows = results.rows
    bad = [r for r in rows if r["utilization"] < 0.9]
    text = ", ".join(f"{r['mode']}: {100 * r['utilization']:.1f} %" for r in rows)
    return bool(rows) and not bad, text


def marks_instead_of_drops(results):
    """DCTCP's queue CE-marks and drops nothing; TCP's tail drop drops (and marks nothing)."""
    dctcp, tcp = _modes(results)
    ok = (bool(dctcp) and bool(tcp) and all(r["marked"] > 0 and r["dropped"] == 0 for r in dctcp)
          and all(r["dropped"] > 0 and r["marked"] == 0 for r in tcp))
    text = "; ".join(f"{r['mode']}: {r['marked']} marked, {r['dropped']} dropped" for r in results.rows)
    return ok, text


CHECKS = [dctcp_queue_near_k, tcp_fills_the_buffer, dctcp_varies_less, link_stays_busy, marks_instead_of_drops]
PLOTS = [
    Plot("queue", y="queue_series", x="mode", kind="series",
         title="Switch queue over time: 2 flows into one 100 Mbit/s port", ylabel="queue (packets)"),
    Plot("queue_kb", y="queue_kb_series", x="mode", kind="series", title="Switch queue over time (as Figure 1)",
         ylabel="queue length (KB)"),
    Plot("queue_cdf", y="queue_steady", x="mode", kind="cdf", title="Queue length CDF (after slow start, runs pooled)",
         xlabel="queue (packets)"),
    Plot("throughput", y="throughput_mbps", x="mode", title="Aggregate goodput", ylabel="Mbit/s"),
]
