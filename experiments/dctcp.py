"""DCTCP holds a switch queue near its marking threshold K; TCP fills the buffer (needs dctcp and RED: --vm).

Alizadeh et al., "Data Center TCP (DCTCP)", SIGCOMM 2010, Figure 1 (two long-lived flows
from distinct ports into one switch port; the queue over time) and the Mininet-HiFi
reproduction of it (Handigol et al., CoNEXT 2012: 100 Mbit/s, K = 20 packets). Here on
topologies/dctcp.py: ``senders`` hosts send one iperf3 flow each for ``duration`` s to rx
through switch s1, whose port to rx sends ``bw`` = 10 Mbit/s from a ``queue`` = 100
packet buffer. 10 Mbit/s, not the reproduction's 100, because the emulated guest (no KVM)
must not be the bottleneck: at 50 Mbit/s it moved 46-61 % of the rate while the port's
queue was never empty, so the flows met the guest's CPU rather than the switch (on a real
kernel with KVM, ``--param bw=100``). The claims are about packets in the queue, which K
and the buffer fix whatever the rate. On the 6.1 guest a Reno sender that gets most of
the link often stops short of the buffer's end, without a loss: 73 segments in flight
against a window of 194, 3.3 MB written and not sent, a receiver's window of 0.7-1 MB,
and no retransmission in 30 s (Reno still in slow start); its packets waiting in the
switch stay charged to its socket (``ss``: 188 kB in skmem t), and something in the
guest's stack holds it there. The queue then tops out a few packets below the buffer
(95-98 of 100, 54 of 60) and that repetition has no drop, so the claims ask TCP to fill
the buffer, not to overflow it. Two runs per repetition, interleaved (TCP, DCTCP, TCP,
DCTCP) so that a drift of the host's load meets both alike:

- ``ecn=0``: TCP (``tcp_cc``, Reno) on a tail-drop buffer;
- ``ecn=20``: DCTCP on every host, the buffer a RED queue that CE-marks every packet
  arriving when K = 20 packets (20 x 1514 bytes) or more wait (instantaneous queue, as
  the paper's switches mark).

The queue (s1's qdisc on its port to rx, packets and bytes) is sampled every ``period`` s
over netlink; the first ``settle`` s (slow start) are left out of its statistics. Claims:
DCTCP's median queue lies within K/2..2K and its 95th percentile below 2K, while TCP
fills the buffer (median at least 40 %, 95th percentile at least 80 % of it: the sawtooth
between half and full); DCTCP's standard deviation is at most K/2 and half of TCP's;
DCTCP moves at least 90 % of TCP's bytes; DCTCP's queue marks instead of dropping, and
the tail-drop queue marks nothing (its drops are reported). Both ends of each flow run
the asked congestion control (tcp_info), the receiver's buffer starts large enough
(tcp_rmem) that the window never limits a flow, the senders' too (tcp_wmem), and TCP
Small Queues' cap is raised on the senders (their packets waiting in the emulated switch
are still charged to their sockets: the same kernel). ECN fallback is off
(tcp_ecn_fallback=0): a SYN is never ECN-capable, so RED drops one that meets a queue
above K, and by default Linux retransmits it without asking for ECN; that flow then runs
DCTCP without ECN, and RED drops its packets instead of marking them (1,158 and 1,200
drops against ~4,700 marks, the flow held to 6 Mbit/s with a window of 6, before this).

This kernel has neither the dctcp congestion control nor the RED qdisc (``testbed
doctor``): the experiment refuses here and runs with ``--vm`` on a stock kernel.
"""
from __future__ import annotations

import contextlib
import math
import statistics

from testbed import EnvironmentProblem, Plot, QueueMonitor, TcpMonitor, kernel_features, traffic

TOPOLOGY = "topologies/dctcp.py"
PARAMS = {"senders": 2, "bw": 10.0, "queue": 100, "duration": 30.0, "settle": 3.0, "tcp_cc": "reno",
          "period": 0.02, "quick": False}
RUN_PARAMS = {
    "duration": "seconds of each flow",
    "settle": "seconds of slow start left out of the queue's statistics",
    "tcp_cc": "the congestion control of the TCP (drop-tail) runs",
    "period": "seconds between queue samples",
    "quick": "the tests' short variant (QUICK)",
}
GRID = {"ecn": [0, 20]}
REPEAT = 2
INTERLEAVE = True
QUICK = {"duration": 8.0, "settle": 2.0}
TABLE = ["queue_median", "queue_p95", "queue_std", "utilization", "marked", "dropped"]
TOLERANCES = {"queue_median": 0.3, "queue_p95": 0.3, "queue_std": 0.5, "utilization": 0.05}
FRAME = 1514
# A sender's packets waiting in the emulated switch's queue are still charged to its socket (the same
# kernel; `ss -tm` shows them under skmem t): TCP Small Queues' cap on that must not be what stops a flow
TSQ_LIMIT = 16 * 1024 * 1024


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
    tsq = senders[0].cmd(["sysctl", "-n", "net.ipv4.tcp_limit_output_bytes"]).strip()
    for host in (*senders, rx):       # the congestion control is set per socket (iperf3 -C, both ends)
        host.run(["sysctl", "-qw", f"net.ipv4.tcp_ecn={int(dctcp)}", "net.ipv4.tcp_ecn_fallback=0",
                  "net.ipv4.tcp_no_metrics_save=1", f"net.ipv4.tcp_limit_output_bytes={TSQ_LIMIT}"], check=True)
    # the receiver's window must not be what limits the flows (its default start, 128 kB, would), nor the
    # senders' buffers (their default start is 16 kB)
    rx.run(["sysctl", "-qw", "net.ipv4.tcp_rmem=4096 2097152 16777216"], check=True)
    for host in senders:
        host.run(["sysctl", "-qw", "net.ipv4.tcp_wmem=4096 4194304 16777216"], check=True)
        host.run(["ethtool", "-K", host.intfs[0], "tso", "off", "gso", "off"], check=True)
        traffic.ping(host, rx, count=2, interval=0.05, warmup=10)        # neighbours resolved first
    flows = [traffic.Flow(h, rx, duration=params["duration"], port=traffic.IPERF3_PORT + i, interval=1,
                          extra=("-C", cc)) for i, h in enumerate(senders)]
    monitors = [TcpMonitor(h, dport=traffic.IPERF3_PORT + i, period=1.0) for i, h in enumerate(senders)]
    with QueueMonitor(net["s1"], port, period=params["period"]) as queue, contextlib.ExitStack() as stack, \
            TcpMonitor(rx, period=1.0) as got:
        for monitor in monitors:
            stack.enter_context(monitor)
        results = traffic.concurrent(flows)
    sent = [m.busiest() for m in monitors]
    receiver = max((f.last for f in got.flows.values() if f.last), key=lambda s: s.info.get("bytes_received", 0),
                   default=None)
    samples = queue.samples
    # time 0 is when the port first sends (the flows' start): a slow guest may start them seconds after
    # the sampler
    t0 = next((s.t for s in samples if s.sent_bytes > samples[0].sent_bytes), samples[0].t)
    steady = [s for s in samples if params["settle"] <= s.t - t0 <= params["settle"] + params["duration"] - 1]
    if len(steady) < 10:
        raise RuntimeError(f"only {len(steady)} queue samples in the measured window")
    qlen = [s.qlen for s in steady]
    span = steady[-1].t - steady[0].t
    utilization = (steady[-1].sent_bytes - steady[0].sent_bytes) * 8 / (params["bw"] * 1e6 * span)
    marked = (steady[-1].marked - steady[0].marked) if steady[0].marked is not None else 0
    return {
        "mode": f"DCTCP, K={params['ecn']}" if dctcp else f"TCP {cc}, drop-tail",
        "congestion_control": cc, "queue_kind": queue.kind, "tsq_default_bytes": int(tsq),
        "receiver_cc": receiver.congestion if receiver else None,
        "flow_ecn": [f.last.ecn if f.last else None for f in sent],
        "flow_cc": [f.congestion for f in sent],
        "queue_median": statistics.median(qlen), "queue_mean": statistics.fmean(qlen),
        "queue_p5": percentile(qlen, 0.05), "queue_p95": percentile(qlen, 0.95), "queue_max": max(qlen),
        "queue_std": statistics.pstdev(qlen), "queue_kb_median": statistics.median(s.backlog for s in steady) / 1000,
        "utilization": utilization, "marked": marked, "dropped": steady[-1].drops - steady[0].drops,
        "empty_fraction": sum(1 for q in qlen if q == 0) / len(qlen),
        "samples": len(steady), "samples_expected": int((params["duration"] - 1) / params["period"]),
        "samples_late": queue.late,
        "throughput_mbps": sum(r.mbps for r in results), "flow_mbps": [r.mbps for r in results],
        "retransmits": sum(r.retransmits or 0 for r in results),
        # what held each sender back: its window against what it had in flight (a sender with fewer segments
        # in flight than its window is limited by something else), what it had written but not sent yet
        # (none: the application did not keep up), the receiver's window, its smoothed RTT against the
        # switch queue's delay, and from tcp_info at the end the fractions of its busy time that the
        # receiver's window and the send buffer limited it
        "flow_cwnd_mean": [_mean(f, "cwnd") for f in sent],
        "flow_unacked_mean": [_mean(f, "unacked") for f in sent],
        "flow_notsent_kb_mean": [None if (m := _mean(f, "notsent_bytes")) is None else round(m / 1000, 1)
                                 for f in sent],
        "flow_snd_wnd_kb_min": [None if not (w := [x.snd_wnd for x in f.samples if x.snd_wnd is not None])
                                else round(min(w) / 1000, 1) for f in sent],
        "flow_rtt_ms_mean": [_mean(f, "rtt_ms") for f in sent],
        "queue_delay_ms_median": statistics.median(s.backlog for s in steady) * 8 / (params["bw"] * 1e3),
        "flow_rwnd_limited": [_fraction(f.last, "rwnd_limited") for f in sent],
        "flow_sndbuf_limited": [_fraction(f.last, "sndbuf_limited") for f in sent],
        "queue_series": [[round(s.t - t0, 3), s.qlen] for s in samples if s.t >= t0],
        "queue_kb_series": [[round(s.t - t0, 3), round(s.backlog / 1000, 1)] for s in samples if s.t >= t0],
        "queue_steady": [[round(s.t - t0, 3), s.qlen] for s in steady],
    }


def _mean(flow, field: str) -> float | None:
    """The mean of a TcpFlow's samples' ``field``, its first (slow start) left out; None: never reported."""
    values = [v for x in flow.samples[1:] if (v := getattr(x, field)) is not None]
    return round(statistics.fmean(values), 2) if values else None


def _fraction(sock, field: str) -> float | None:
    busy = sock.info.get("busy_time") if sock else None
    return round(sock.info[field] / busy, 4) if busy and field in sock.info else None


def _modes(results):
    return results.where(congestion_control="dctcp").rows, [r for r in results.rows if r["ecn"] == 0]


def ran_as_asked(results):
    """Both ends of every flow ran the asked congestion control, with ECN exactly for DCTCP (tcp_info of every
    sender's flow)."""
    rows = results.rows
    bad = [r for r in rows if r["receiver_cc"] != r["congestion_control"]
           or any(cc != r["congestion_control"] for cc in r["flow_cc"])
           or any(ecn != (r["ecn"] > 0) for ecn in r["flow_ecn"])]
    text = "; ".join(f"{r['mode']}: senders {'/'.join(map(str, r['flow_cc']))}, receiver {r['receiver_cc']}, "
                     f"ECN {'/'.join(map(str, r['flow_ecn']))}" for r in rows)
    return bool(rows) and not bad, text


def dctcp_queue_near_k(results):
    """DCTCP: the median queue lies within K/2..2K and its 95th percentile below 2K, in every run."""
    dctcp, _ = _modes(results)
    bad = [r for r in dctcp if not (r["ecn"] / 2 <= r["queue_median"] <= 2 * r["ecn"] and r["queue_p95"] < 2 * r["ecn"])]
    text = ", ".join(f"median {r['queue_median']:g} p5 {r['queue_p5']} p95 {r['queue_p95']} (K={r['ecn']})"
                     for r in dctcp)
    return bool(dctcp) and not bad, f"DCTCP queue (packets): {text or 'no DCTCP run'}"


def tcp_fills_the_buffer(results):
    """TCP on a tail-drop buffer fills it: median at least 40 % of the buffer, 95th percentile at least 80 %."""
    _, tcp = _modes(results)
    bad = [r for r in tcp if r["queue_median"] < 0.4 * r["queue"] or r["queue_p95"] < 0.8 * r["queue"]]
    text = ", ".join(f"median {r['queue_median']:g} p5 {r['queue_p5']} p95 {r['queue_p95']} of {r['queue']}"
                     for r in tcp)
    return bool(tcp) and not bad, f"TCP queue (packets): {text or 'no TCP run'}"


def dctcp_varies_less(results):
    """DCTCP's queue varies little: its standard deviation is at most K/2 and at most half of TCP's (run means)."""
    dctcp, tcp = _modes(results)
    if not dctcp or not tcp:
        return False, "needs both a TCP and a DCTCP run"
    a, b = statistics.fmean(r["queue_std"] for r in dctcp), statistics.fmean(r["queue_std"] for r in tcp)
    k = min(r["ecn"] for r in dctcp)
    return a <= k / 2 and a <= b / 2, f"standard deviation {a:.1f} packets (DCTCP, K={k}) vs {b:.1f} (TCP)"


def short_queue_costs_no_throughput(results):
    """DCTCP's short queue costs no throughput: DCTCP moves at least 90 % of the bytes TCP's full buffer does
    (the rate the shaper delivers when always backlogged, on this machine)."""
    dctcp, tcp = _modes(results)
    if not dctcp or not tcp:
        return False, "needs both a TCP and a DCTCP run"
    a, b = statistics.fmean(r["utilization"] for r in dctcp), statistics.fmean(r["utilization"] for r in tcp)
    empty = max(r["empty_fraction"] for r in dctcp)
    return a >= 0.9 * b, (f"DCTCP {100 * a:.1f} % of the nominal rate vs TCP {100 * b:.1f} % ({100 * a / b:.0f} %); "
                          f"DCTCP's queue empty in {100 * empty:.2f} % of the samples at most")


def marks_instead_of_drops(results):
    """DCTCP's queue marks instead of dropping (at most one drop per 1000 marks: a SYN, which cannot carry ECN,
    may meet a queue above K); TCP's tail drop marks nothing (its drops are reported, not required: a sender
    held back short of the buffer's end leaves a repetition without any)."""
    dctcp, tcp = _modes(results)
    ok = (bool(dctcp) and bool(tcp) and all(r["marked"] > 0 and r["dropped"] <= r["marked"] / 1000 for r in dctcp)
          and all(r["marked"] == 0 for r in tcp))
    text = "; ".join(f"{r['mode']}: {r['marked']} marked, {r['dropped']} dropped" for r in results.rows)
    return ok, text


PACE = 0.8       # of the queue samples the measured window should hold: fewer, and the guest was starved of CPU
SHAPER_BOUND = 0.9  # of the rate a tail-drop run (its queue always backlogged) must send: less, and the CPU was the limit


def the_machine_kept_pace(results):
    """The (emulated) machine kept pace: every run's queue sampler took at least 80 % of its samples, and every
    TCP run, whose buffer is never empty, sent at least 90 % of the port's rate (the shaper was the bottleneck,
    not the CPU). A starved guest (a host loaded by other work) delivers less than the shaper's rate while
    packets wait elsewhere, and its queues are not the ones the claims are about."""
    rows = results.rows
    pace = [(r["mode"], r["samples"] / r["samples_expected"]) for r in rows if r.get("samples_expected")]
    _, tcp = _modes(results)
    text = ", ".join(f"{mode} {100 * p:.0f} %" for mode, p in pace)
    sent = ", ".join(f"{100 * r['utilization']:.0f} %" for r in tcp)
    ok = bool(pace) and bool(tcp) and all(p >= PACE for _, p in pace) and all(
        r["utilization"] >= SHAPER_BOUND for r in tcp)
    return ok, f"queue samples taken of those due: {text or 'none'}; TCP runs sent {sent or 'nothing'} of the rate"


CHECKS = [the_machine_kept_pace, ran_as_asked, dctcp_queue_near_k, tcp_fills_the_buffer, dctcp_varies_less, short_queue_costs_no_throughput,
          marks_instead_of_drops]
PLOTS = [
    Plot("queue", y="queue_series", group="mode", kind="timeseries", ylabel="switch queue (packets)",
         title="Switch queue over time: 2 flows into one switch port"),
    Plot("queue_kb", y="queue_kb_series", group="mode", kind="timeseries", unit="KB", ylabel="queue length",
         title="Switch queue over time (as the paper's Figure 1)"),
    Plot("queue_cdf", y="queue_steady", group="mode", kind="cdf", xlabel="switch queue (packets)",
         title="Queue length CDF (after slow start, runs pooled)"),
    Plot("throughput", y="throughput_mbps", x="mode", unit="Mbit/s", ylabel="aggregate goodput", xlabel="queue",
         title="Aggregate goodput of the two flows"),
]
