"""Sizing router buffers: n long-lived flows keep a link busy with RTT x C / sqrt(n) of buffer (netem: --vm).

Appenzeller, Keslassy and McKeown, "Sizing Router Buffers", SIGCOMM 2004: with n
desynchronized long-lived TCP flows through a bottleneck of rate C, a buffer of
RTT x C / sqrt(n) keeps it near 100 % busy, not the rule of thumb RTT x C. Their figure
plots the minimum buffer that reaches 98-99.9 % utilization against n, next to
2T x C / sqrt(n); the Mininet-HiFi reproduction (Handigol et al., CoNEXT 2012) redid it.

Here on topologies/buffer_sizing.py: ``hosts`` senders into switch s1, whose port to rx
sends ``bw`` Mbit/s from a tail-drop buffer. Where the kernel has netem the senders'
links have one-way delays spread from ``min_delay_ms`` to ``max_delay_ms`` (round trips
40-160 ms by default, 100 ms on average), so the flows' RTTs differ, as on a real link,
and the port sends 10 Mbit/s: RTT x C is then 83 packets, and an emulated guest (no KVM)
carries it (at 50 Mbit/s it moved 42-85 % of the rate: the guest's CPU, not the buffer,
was the bottleneck). The n swept stop at 32, where each flow's window is about 3
packets: beyond, the flows live on timeouts, a regime the paper's model leaves out. For each n
(``flows``) Reno flows (iperf3, ``-P`` streams over the hosts, the median-RTT hosts
first so that every n sees about the same mean RTT) run without pause while the buffer
is resized: first a reference with a large buffer (4 x RTT x C, at least 100 packets: the
link's own capacity, whatever shaping and the machine give; not larger, or the first slow
start overshoots into a burst of losses whose recovery idles the link), then a ladder of buffers by factors of ``ratio``, each
``settle`` s to adapt and ``measure`` s counted from the bottleneck's byte counters,
starting at twice RTT x C / sqrt(n) and walking down to the first buffer that misses
``target`` (99 %) of the reference (or up to the first that reaches it). The minimum
buffer for n is the smallest one reached with every larger buffer tried reaching it too.

Claims (with propagation delay): the minimum buffer follows 1/sqrt(n) (least-squares
log-log slope within -0.7 .. -0.3) and lies below RTT x C for every n >= 10. Always: the
reference utilization is at least 97 % of C (the machine carries the load).

Natively there is no netem: the round trip is the veth's ~0.05 ms, RTT x C is a fraction
of a packet, and the queue itself is the only delay. Then there is no pipe for the buffer
to keep full: a buffer of a few packets keeps the link busy at every n, and it must hold
the flows' smallest windows (about two packets each) rather than RTT x C / sqrt(n), so the
1/sqrt(n) law is not expected and is not checked; what is checked is that a small
buffer suffices (``native_small_buffer_suffices``).
"""
from __future__ import annotations

import math
import statistics
import sys
import time

from testbed import Plot, kernel_features, skip, traffic

TOPOLOGY = "topologies/buffer_sizing.py"
FRAME = 1514
REFERENCE_BDPS, REFERENCE_MIN = 4, 100      # the reference buffer: 4 x RTT x C, at least 100 packets


def _kernel_has_netem() -> bool:
    try:
        return "netem" in (kernel_features() or ())
    except Exception:
        return False


HAS_NETEM = _kernel_has_netem()
PARAMS = {"hosts": 8, "bw": 10.0 if HAS_NETEM else 50.0, "queue": 2000, "min_delay_ms": 20.0 if HAS_NETEM else 0.0,
          "max_delay_ms": 80.0 if HAS_NETEM else 0.0, "cc": "reno", "warmup": 15.0, "settle": 5.0,
          "measure": 20.0, "target": 0.99, "ratio": 1.26, "max_steps": 10, "quick": False}
RUN_PARAMS = {
    "flows": "number n of long-lived Reno flows (iperf3 streams over the hosts)",
    "cc": "TCP congestion control (iperf3 -C)",
    "warmup": "seconds of the flows with the large buffer before the reference",
    "settle": "seconds after each buffer change before measuring",
    "measure": "seconds of each utilization measurement (byte counters)",
    "target": "utilization to reach, as a fraction of the large-buffer reference",
    "ratio": "factor between the buffers of the ladder",
    "max_steps": "most buffers tried per n",
    "quick": "the tests' short variant (QUICK)",
}
GRID = {"flows": [1, 2, 4, 8, 16, 32]}
REPEAT = 1
QUICK = {"flows": [4, 16], "warmup": 4.0, "settle": 2.0, "measure": 4.0}
TABLE = ["min_buffer", "bdp_over_sqrt_n", "bdp", "mean_rtt_ms", "reference_utilization", "steps"]
TOLERANCES = {"min_buffer": 0.3, "reference_utilization": 0.02}
if not HAS_NETEM:
    print("*** buffer_sizing: this kernel has no netem: no propagation delay, RTT x C is a fraction of a packet; "
          "the 1/sqrt(n) claim needs --vm", file=sys.stderr)


def host_order(hosts: int) -> list[int]:
    """Host numbers from the median delay outwards (h4, h5, h3, h6, ... of 8): every n sees ~the mean RTT."""
    middle = (hosts - 1) / 2
    return [i + 1 for i in sorted(range(hosts), key=lambda i: (abs(i - middle), i))]


def streams_per_host(flows: int, hosts: int) -> dict[int, int]:
    """host number -> how many of the flows it runs (round robin in host_order)."""
    counts: dict[int, int] = {}
    order = host_order(hosts)
    for k in range(flows):
        counts[order[k % hosts]] = counts.get(order[k % hosts], 0) + 1
    return counts


def _set_buffer(s1, port: str, packets: int) -> None:
    s1.run(["tc", "qdisc", "change", "dev", port, "handle", "10:", "pfifo", "limit", str(packets)], check=True)


def _utilization(s1, port: str, seconds: float, bw_mbps: float) -> float:
    before, t0 = s1.counters()[port]["tx_bytes"], time.monotonic()
    time.sleep(seconds)
    after, t1 = s1.counters()[port]["tx_bytes"], time.monotonic()
    return (after - before) * 8 / (bw_mbps * 1e6 * (t1 - t0))


def run(net, params):
    n, hosts = params["flows"], params["hosts"]
    s1, rx = net["s1"], net["rx"]
    port = net.link("s1", "rx")[0].other("rx")[1]
    counts = streams_per_host(n, hosts)
    rtts: dict[int, float] = {}
    for i in counts:
        h = net[f"h{i}"]
        h.run(["ethtool", "-K", h.intfs[0], "tso", "off", "gso", "off"], check=True)
        # a sender's packets waiting in s1's queue are still charged to its socket (the same kernel): TCP Small
        # Queues' cap on that must not be what limits the flows, only the buffer under test
        h.run(["sysctl", "-qw", "net.ipv4.tcp_no_metrics_save=1", "net.ipv4.tcp_limit_output_bytes=16777216"],
              check=True)
        rtts[i] = traffic.ping(h, rx, count=5, interval=0.05, warmup=10).rtt_min
    mean_rtt = sum(rtts[i] * k for i, k in counts.items()) / n                     # ms, over the flows
    bdp = params["bw"] * 1e6 * mean_rtt / 1000 / 8 / FRAME                          # packets
    theory = bdp / math.sqrt(n)
    steps_time = params["warmup"] + params["measure"] + params["max_steps"] * (params["settle"] + params["measure"])
    flows = [traffic.Flow(net[f"h{i}"], rx, duration=math.ceil(steps_time + 120), port=traffic.IPERF3_PORT + j,
                          streams=k, interval=10, extra=("-C", params["cc"]))
             for j, (i, k) in enumerate(sorted(counts.items()))]
    rows: list[dict] = []
    try:
        for f in flows:
            f.start_server()
        for f in flows:
            f.start_client()
        reference_buffer = min(params["queue"], max(REFERENCE_MIN, math.ceil(REFERENCE_BDPS * bdp)))
        _set_buffer(s1, port, reference_buffer)
        time.sleep(params["warmup"])
        reference = _utilization(s1, port, params["measure"], params["bw"])

        def trial(buffer: int) -> bool:
            _set_buffer(s1, port, buffer)
            time.sleep(params["settle"])
            u = _utilization(s1, port, params["measure"], params["bw"])
            ok = u >= params["target"] * reference
            rows.append({"row": "step", "buffer": buffer, "utilization": u, "relative": u / reference, "reached": ok})
            return ok

        buffer = max(1, round(2 * theory))
        best = None
        if trial(buffer):
            best = buffer
            while len(rows) < params["max_steps"] and buffer > 1:
                buffer = min(buffer - 1, math.floor(buffer / params["ratio"]))
                if not trial(buffer):
                    break
                best = buffer
        else:
            while len(rows) < params["max_steps"] and buffer < reference_buffer:
                buffer = max(buffer + 1, math.ceil(buffer * params["ratio"]))
                if trial(buffer):
                    best = buffer
                    break
        alive = [f for f in flows if f._client is not None and f._client.poll() is None]
    finally:
        for f in flows:
            f.stop()
    if len(alive) != len(flows):
        raise RuntimeError(f"{len(flows) - len(alive)} iperf3 client(s) ended before the ladder did")
    rows.append({"row": "summary", "min_buffer": best, "bdp": bdp, "bdp_over_sqrt_n": theory, "mean_rtt_ms": mean_rtt,
                 "min_rtt_ms": min(rtts.values()), "max_rtt_ms": max(rtts.values()),
                 "reference_utilization": reference, "reference_buffer": reference_buffer, "steps": len(rows),
                 "hosts_used": len(counts),
                 "ladder": [[r["buffer"], round(r["relative"], 4)] for r in rows]})
    return rows


def _summary(results):
    return sorted(results.where(row="summary").rows, key=lambda r: r["flows"])


def loglog_slope(points: list[tuple[float, float]]) -> float:
    xs, ys = [math.log(x) for x, _ in points], [math.log(y) for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _delayed(results) -> bool:
    return any(r.get("max_delay_ms") for r in results.rows)


def follows_one_over_sqrt_n(results):
    """With propagation delay (netem, --vm): the minimum buffer's log-log slope against n lies in -0.7..-0.3."""
    if not _delayed(results):
        return skip("without netem RTT x C is a fraction of a packet (see native_small_buffer_suffices); "
                    "run with --vm for the 1/sqrt(n) law")
    rows = [r for r in _summary(results) if r["min_buffer"]]
    if len(rows) < 3 or len(rows) < len(_summary(results)):
        return False, f"a minimum buffer was found for {len(rows)} of {len(_summary(results))} values of n"
    slope = loglog_slope([(r["flows"], r["min_buffer"]) for r in rows])
    text = ", ".join(f"n={r['flows']}: {r['min_buffer']} ({r['bdp_over_sqrt_n']:.0f})" for r in rows)
    return -0.7 <= slope <= -0.3, f"slope {slope:.2f}; minimum buffer (RTT x C / sqrt(n)) in packets: {text}"


def below_rule_of_thumb(results):
    """With propagation delay (netem, --vm): for every n >= 10 the minimum buffer lies below RTT x C."""
    if not _delayed(results):
        return skip("without netem RTT x C is a fraction of a packet; run with --vm")
    rows = [r for r in _summary(results) if r["flows"] >= 10]
    bad = [r for r in rows if not r["min_buffer"] or r["min_buffer"] >= r["bdp"]]
    text = ", ".join(f"n={r['flows']}: {r['min_buffer']} < {r['bdp']:.0f}" for r in rows)
    return bool(rows) and not bad, text or "no n >= 10 measured"


def native_small_buffer_suffices(results):
    """Without propagation delay: a buffer of at most 2 packets per flow (and 8 at least) keeps the link busy."""
    if _delayed(results):
        return skip("this run had propagation delay: the 1/sqrt(n) checks judge it")
    rows = _summary(results)
    bad = [r for r in rows if not r["min_buffer"] or r["min_buffer"] > max(8, 2 * r["flows"])]
    text = ", ".join(f"n={r['flows']}: {r['min_buffer']}" for r in rows)
    return bool(rows) and not bad, f"minimum buffer (packets) {text}; RTT x C {rows[0]['bdp']:.2f} packets" if rows else "nothing measured"


def link_carries_the_load(results):
    """With the large buffer the link is at least 97 % busy at every n (the machine carries the flows)."""
    rows = _summary(results)
    bad = [r for r in rows if r["reference_utilization"] < 0.97]
    text = ", ".join(f"n={r['flows']}: {100 * r['reference_utilization']:.1f} %" for r in rows)
    return bool(rows) and not bad, text


CHECKS = [follows_one_over_sqrt_n, below_rule_of_thumb, native_small_buffer_suffices, link_carries_the_load]
PLOTS = [
    Plot("min_buffer", y=("min_buffer", "bdp_over_sqrt_n", "bdp"), x="flows", kind="line", logx=True, logy=True,
         where={"row": "summary"}, references=("bdp_over_sqrt_n", "bdp"), ylabel="buffer (packets)",
         xlabel="number of long-lived flows n",
         labels={"min_buffer": "measured minimum (99 % utilization)", "bdp_over_sqrt_n": "RTT x C / sqrt(n)",
                 "bdp": "RTT x C"},
         title="Minimum buffer for 99 % utilization vs the number of flows"),
    Plot("utilization", y="relative", x="buffer", group="flows", kind="line", logx=True, where={"row": "step"},
         ylabel="utilization (of the large-buffer reference)", xlabel="buffer", x_unit="packets",
         labels={"flows": "flows n"}, band=(0.99, 1.01), band_label="99 % target",
         title="Utilization per buffer tried"),
]
