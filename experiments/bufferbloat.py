"""Bufferbloat: a long TCP flow fills a big router buffer, and every packet behind it waits ~0.8 s.

The CS244 bufferbloat assignment (after Gettys & Nichols, "Bufferbloat: Dark Buffers in
the Internet", CACM 2012) on topologies/bufferbloat.py: h1 -- r1 -- h2, a 1.5 Mbit/s
bottleneck from the router r1 to h2 with a tail-drop buffer of ``queue`` packets (100 and
20), and where the kernel has netem a 20 ms round trip (10 ms each way on h1's link).

During ``duration`` seconds: one long-lived TCP flow h1 -> h2 (iperf3, ``cc`` Reno), a ping
train h1 -> h2 every 0.1 s, and every ``fetch_every`` seconds h2 fetches from a Python
HTTP server in h1 (curl; the fetches share the bottleneck and its queue with the long
flow) either the ``page_kb`` kB page or, in runs of their own (``fetch``), a
``object_kb`` kB object: each fetch disturbs the long flow, so the two are not mixed in
one run. Sampled every 0.1 s: the bottleneck queue's occupancy (r1's qdisc, over
netlink), the long flow's congestion window (tcp_info, what ``ss -ti`` shows).

Claims: with 100 packets the queueing delay approaches 100 x 1514 B x 8 / 1.5 Mbit/s =
0.81 s (the 99th percentile of the ping RTTs reaches 85 % of it, their median stays below
it plus the propagation delay), with 20 packets 0.16 s; the queue fills to its limit; the small
object's median fetch takes at least 2.5x longer with 100 packets than with 20 (its fetch
is a few round trips, each up to 5x longer, plus the server's and curl's own time, which
does not depend on the buffer and grows on a loaded machine), the 200 kB page's at least
1.25x longer (its bytes alone
need 1.1 s of the 1.5 Mbit/s link, whatever the buffer, so its time is only partly round
trips); and the window and the queue show the sawtooth: the window is cut at least once
per expected cycle (at most twice counted), the queue drains well below its limit
between cuts.

This kernel has no netem: natively the propagation delay is ~0 (a few hundredths of a
millisecond), so every RTT is queueing delay; the bloat is what the experiment is about
and is the same. With ``--vm`` (a stock kernel) the 20 ms round trip is added.
"""
from __future__ import annotations

import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from testbed import EnvironmentProblem, Plot, PingTrain, QueueMonitor, TcpMonitor, kernel_features, traffic, wait_listening

TOPOLOGY = "topologies/bufferbloat.py"
FRAME = 1514                                  # bytes per full frame, as the rate limiter counts
HTTP_PORT = 8000


def _kernel_has_netem() -> bool:
    try:
        return "netem" in (kernel_features() or ())
    except Exception:              # the probe failing means: assume none
        return False


HAS_NETEM = _kernel_has_netem()
PARAMS = {"bw": 1.5, "delay": "10ms" if HAS_NETEM else "", "duration": 90.0, "cc": "reno",
          "fetch_every": 5.0, "first_fetch": 5.0, "page_kb": 200, "object_kb": 20, "quick": False}
RUN_PARAMS = {
    "duration": "seconds of the long flow, the ping train and the fetches",
    "cc": "TCP congestion control of the long flow (iperf3 -C)",
    "fetch_every": "seconds between fetches",
    "fetch": "what is fetched: the page or the small object",
    "first_fetch": "seconds after the flow starts of the first round",
    "page_kb": "size of the page (kB)",
    "object_kb": "size of the small object (kB)",
    "quick": "the tests' short variant (QUICK)",
}
GRID = {"queue": [100, 20], "fetch": ["page", "object"]}
REPEAT = 2
QUICK = {"duration": 50.0, "first_fetch": 10.0, "fetch": ["object"]}    # 2 runs of 50 s
TABLE = ["rtt_median_ms", "rtt_p99_ms", "bloat_ms", "queue_median", "fetch_median_s", "cwnd_cuts"]
TOLERANCES = {"rtt_p90_ms": 0.15, "rtt_p99_ms": 0.15, "queue_max": 0.1, "queue_median": 0.3, "fetch_mean_s": 0.3,
              "fetch_median_s": 0.3, "flow_mbps": 0.05}
if not HAS_NETEM:
    print("*** bufferbloat: this kernel has no netem, so there is no propagation delay (~0.05 ms RTT): "
          "every RTT measured is queueing delay; run with --vm for the 20 ms round trip", file=sys.stderr)


def bloat_ms(queue: int, bw_mbps: float) -> float:
    """How long a full queue takes to drain: queue x 1514 B x 8 / bw."""
    return queue * FRAME * 8 / (bw_mbps * 1e6) * 1000


def _page(folder: str, name: str, kb: int) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(random.randbytes(kb * 1000))           # seeded by the runner: the same bytes every run
    return path


def _fetch(h2, url: str) -> tuple[float | None, str]:
    """One page fetch with curl in h2: (seconds, '') or (None, why it failed)."""
    done = h2.run(["curl", "-s", "-o", "/dev/null", "--max-time", "60", "-w", "%{time_total} %{http_code}", url],
                  timeout=90)
    parts = done.stdout.split()
    if done.returncode != 0 or len(parts) != 2 or parts[1] != "200":
        return None, f"curl exited {done.returncode}: {done.stdout.strip()} {done.stderr.strip()[:100]}"
    return float(parts[0]), ""


def cuts(cwnds: list[int], drop: float = 0.6) -> int:
    """How often the window fell to at most ``drop`` of the peak since the last cut (a multiplicative decrease)."""
    count, peak = 0, None
    for c in cwnds:
        if c is None:
            continue
        if peak is None or c > peak:
            peak = c
        elif c <= drop * peak:
            count += 1
            peak = c
    return count


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run(net, params):
    if shutil.which("curl") is None:
        raise EnvironmentProblem("bufferbloat fetches its page with curl, which is not installed: apt-get install curl")
    h1, r1, h2 = net["h1"], net["r1"], net["h2"]
    bottleneck = net.link("r1", "h2")[0].other("h2")[1]            # r1's interface towards h2
    h1.run(["ethtool", "-K", "h1-eth0", "tso", "off", "gso", "off"], check=True)   # one packet = one frame
    # h1's packets waiting in r1's queue are still charged to its socket (the same kernel): TCP Small Queues'
    # cap on that must not be what limits the flow, only the router's buffer
    h1.run(["sysctl", "-qw", "net.ipv4.tcp_no_metrics_save=1", "net.ipv4.tcp_limit_output_bytes=16777216"],
           check=True)
    idle = traffic.ping(h1, h2, count=10, interval=0.05, warmup=5)
    www = tempfile.mkdtemp(prefix="testbed-bufferbloat-")
    name = f"{params['fetch']}.bin"
    _page(www, name, params["page_kb"] if params["fetch"] == "page" else params["object_kb"])
    server = h1.popen([sys.executable, "-m", "http.server", str(HTTP_PORT), "--bind", h1.ip, "--directory", www],
                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    duration = params["duration"]
    try:
        wait_listening(h1, HTTP_PORT, timeout=120, proc=server)   # Python starts slowly in an emulated guest
        url = f"http://{h1.ip}:{HTTP_PORT}/{name}"
        flow = traffic.Flow(h1, h2, duration=duration, interval=1, extra=("-C", params["cc"]))
        fetches: list[list[float]] = []
        failures: list[str] = []
        with QueueMonitor(r1, bottleneck, period=0.1) as queue, TcpMonitor(h1, dport=traffic.IPERF3_PORT) as tcp:
            flow.start()
            t0 = time.time()
            train = PingTrain(h1, h2, interval=0.1, duration=duration).start()
            try:
                k = 0
                while True:
                    due = t0 + params["first_fetch"] + k * params["fetch_every"]
                    if due > t0 + duration - 1:
                        break
                    time.sleep(max(0.0, due - time.time()))
                    started = time.time()
                    seconds, why = _fetch(h2, url)
                    if seconds is None:
                        failures.append(why)
                    else:
                        fetches.append([round(started - t0, 2), seconds])
                    k += 1
                pings = train.result()
            finally:
                train.stop()
            result = flow.result()
    finally:
        traffic.stop(h1, server, grace=0)
        shutil.rmtree(www, ignore_errors=True)
    data = tcp.busiest()
    q_series = [[round(s.t - t0, 2), s.qlen] for s in queue.samples if s.t >= t0]
    cwnd_series = [[round(s.t - t0, 2), s.cwnd] for s in data.samples if s.t >= t0]
    rtt_series = [[round(t - t0, 2), rtt] for t, _, rtt in pings.replies]
    settle = min(10.0, duration / 4)                             # slow start fills the queue first
    steady_q = [q for t, q in q_series if t >= settle]
    rtts = [r for t, r in rtt_series if t >= settle]
    every_rtt = [r for _, r in rtt_series]       # the first fill by slow start is bloat too
    fetch_times = [s for _, s in fetches]
    return {
        "bloat_ms": bloat_ms(params["queue"], params["bw"]),
        "propagation_rtt_ms": idle.rtt_min, "rtt_median_ms": statistics.median(rtts) if rtts else None,
        "rtt_p90_ms": percentile(rtts, 0.9) if rtts else None, "rtt_p99_ms": percentile(every_rtt, 0.99) if every_rtt else None,
        "rtt_max_ms": max(rtts) if rtts else None,
        "pings_sent": pings.stats.transmitted, "pings_received": pings.stats.received,
        "queue_max": max(steady_q) if steady_q else None, "queue_median": statistics.median(steady_q) if steady_q else None,
        "queue_p10": percentile(steady_q, 0.1) if steady_q else None,
        "queue_drops": queue.samples[-1].drops - queue.samples[0].drops,
        "cwnd_max": max(c for _, c in cwnd_series) if cwnd_series else None,
        "cwnd_cuts": cuts([c for t, c in cwnd_series if t >= settle]),
        "fetches": len(fetch_times), "fetch_failures": len(failures),
        "fetch_mean_s": statistics.fmean(fetch_times) if fetch_times else None,
        "fetch_median_s": statistics.median(fetch_times) if fetch_times else None,
        "fetch_max_s": max(fetch_times) if fetch_times else None,
        "flow_mbps": result.mbps, "congestion_control": data.congestion, "samples_late": queue.late + tcp.late,
        "queue_series": q_series, "cwnd_series": cwnd_series, "rtt_series": rtt_series,
        "fetch_series": fetches,
        "fetch_errors": failures[:5],
    }


def _by_queue(results) -> dict:
    return dict(sorted(results.by("queue").items(), key=lambda kv: -kv[0]))


def _where(results) -> str:
    rtt = statistics.fmean(results.values("propagation_rtt_ms"))
    return (f"propagation RTT {rtt:.1f} ms" if rtt >= 1 else
            f"propagation RTT ~0 ({rtt:.3f} ms, no netem): every RTT here is queueing delay")


def delay_approaches_the_bloat(results):
    """The queueing delay approaches queue x 1514 B x 8 / bw (0.81 s at 100 packets, 0.16 s at 20): the 99th
    percentile of the ping RTTs reaches 85 % of it, and their median stays below it plus the propagation RTT."""
    ok, parts = bool(results.rows), []
    for q, group in _by_queue(results).items():
        for row in group:
            bloat, top, middle = row["bloat_ms"], row["rtt_p99_ms"], row["rtt_median_ms"]
            good = (top is not None and top >= 0.85 * bloat
                    and middle <= bloat + row["propagation_rtt_ms"] + 10)
            ok &= good
            parts.append(f"{q} packets: RTT p99 {top:.0f} ms, median {middle:.0f} ms (bloat {bloat:.0f} ms)"
                         + ("" if good else " OUT OF RANGE"))
    return ok, "; ".join(parts) + f"; {_where(results)}"


def queue_fills(results):
    """The long flow fills the buffer: the sampled queue reaches at least 90 % of its limit in every run."""
    rows = results.rows
    bad = [r for r in rows if r["queue_max"] is None or r["queue_max"] < 0.9 * r["queue"]]
    text = ", ".join(f"{r['queue']}: max {r['queue_max']} median {r['queue_median']:g}" for r in rows)
    return bool(rows) and not bad, f"sampled occupancy (packets) {text}"


def bloat_slows_fetches(results):
    """With 100 packets of buffer instead of 20 the small object takes at least 2.5x longer, the page 1.25x
    (median fetch times: a fetch that meets a loss waits a retransmission timeout, an outlier either way)."""
    groups = _by_queue(results)
    if 100 not in groups or 20 not in groups:
        return False, "needs both 100 and 20 packets"
    failed = sum(results.values("fetch_failures"))
    ok, parts, judged = not failed, [], 0
    for what, factor in (("object", 2.5), ("page", 1.25)):
        big, small = groups[100].where(fetch=what), groups[20].where(fetch=what)
        if not big.rows or not small.rows:
            parts.append(f"{what}: not fetched with both buffers in this run")
            continue
        judged += 1
        big, small = big.mean("fetch_median_s"), small.mean("fetch_median_s")
        ok &= big >= factor * small
        parts.append(f"{what} {big:.2f} s (100) vs {small:.2f} s (20): {big / small:.1f}x (at least {factor:g}x)")
    return ok and judged > 0, "; ".join(parts) + f"; {sum(results.values('fetches'))} rounds of fetches, {failed} failed"


def sawtooth(results):
    """The window is cut at least once per expected cycle (two at most counted), and the queue drains well
    below its limit between cuts (its 10th percentile under 75 % of its maximum)."""
    ok, parts = bool(results.rows), []
    for row in results.rows:
        rtt = 0.75 * row["bloat_ms"] / 1000 + row["propagation_rtt_ms"] / 1000      # mean RTT on the sawtooth
        cycle = row["queue"] / 2 * rtt                       # Reno: +1 packet per RTT from half to full
        steady = row["duration"] - min(10.0, row["duration"] / 4)
        wanted = max(1, min(2, math.floor(steady / cycle)))
        good = row["cwnd_cuts"] >= wanted and row["queue_p10"] < 0.75 * row["queue_max"]
        ok &= good
        parts.append(f"{row['queue']}: {row['cwnd_cuts']} cuts (wanted {wanted}, cycle ~{cycle:.0f} s), "
                     f"queue p10 {row['queue_p10']} of max {row['queue_max']}")
    return ok, "; ".join(parts)


CHECKS = [delay_approaches_the_bloat, queue_fills, bloat_slows_fetches, sawtooth]
LABELS = {"queue": "buffer (packets)", "page": "200 kB page", "object": "20 kB object", "fetch": "fetched"}
PLOTS = [
    Plot("cwnd", y="cwnd_series", group="queue", kind="timeseries", ylabel="congestion window (packets)",
         labels=LABELS, where={"fetch": "page"}, title="Congestion window of the long flow (Reno)"),
    Plot("queue", y="queue_series", group="queue", kind="timeseries", ylabel="packets in the router's queue",
         labels=LABELS, where={"fetch": "page"}, title="Bottleneck queue occupancy, sampled every 0.1 s"),
    Plot("rtt", y="rtt_series", group="queue", kind="timeseries", unit="ms", ylabel="ping RTT h1 -> h2",
         labels=LABELS, where={"fetch": "page"}, title="Ping RTT every 0.1 s"),
    Plot("fetch_series", y="fetch_series", group="queue", kind="timeseries", unit="s", ylabel="fetch time",
         labels=LABELS, where={"fetch": "page"}, title="Fetch times of the 200 kB page"),
    Plot("fetch", y="fetch_median_s", x="queue", group="fetch", unit="s", ylabel="median fetch time",
         xlabel="buffer", x_unit="packets", labels=LABELS, title="Median fetch time of the page and of the object"),
    Plot("fetch_cdf", y="fetch_series", group="queue", kind="cdf", where={"fetch": "object"}, unit="s",
         xlabel="fetch time of the 20 kB object", labels=LABELS, title="Fetch times of the small object"),
]
