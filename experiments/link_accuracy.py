"""A shaped link delivers the configured rate (within 5 %) and loss (within 4 sigma); delay with --vm.

One link h1--h2 (topologies/link_sweep.py) per grid point, set by the ``link`` string:

- ``bw:R``: iperf3 TCP goodput h1 -> h2. The rate counts whole Ethernet frames (as tc
  does), so the goodput to expect is R x 1448/1514 at MTU 1500 (testbed.run.traffic:
  mss / (mss + 66)); the claim is |measured / expected - 1| <= 5 %. A shaped link cannot
  run faster than its rate, but other load on a shared machine can slow a run, so a
  rate below the bound is measured once more (``retries``), as the integration test does.
- ``loss:P``: ``pings`` echo requests ``ping_interval`` s apart. Both directions drop P %,
  so a round trip is lost with 1 - (1 - P/100)^2; the measured fraction must lie within
  4 binomial standard deviations of that.
- ``delay:D``: ping RTT against 2 x D (each direction is delayed). Needs netem, which
  this kernel may lack: the delay points join the grid only when the kernel has netem
  (a stock kernel, ``--vm``); otherwise the check says they were not measured.
"""
from __future__ import annotations

import math
import statistics
import sys

from testbed import Plot, kernel_features, parse_time, skip, traffic

TOPOLOGY = "topologies/link_sweep.py"
RATES = ["bw:1", "bw:10", "bw:100", "bw:1000"]
LOSSES = ["loss:1", "loss:5", "loss:20"]
DELAYS = ["delay:5ms", "delay:20ms"]
PARAMS = {"duration": 2.0, "pings": 1000, "ping_interval": 0.002, "retries": 1, "delay_pings": 50}
RUN_PARAMS = {
    "duration": "seconds of each iperf3 flow",
    "pings": "echo requests per loss point",
    "ping_interval": "seconds between those echo requests",
    "retries": "extra runs of a rate point measured below the bound",
    "delay_pings": "echo requests per delay point",
}
REPEAT = 2
TABLE = ["configured", "measured", "expected", "error_percent", "bound_percent"]


def _kernel_has_netem() -> bool:
    try:
        return "netem" in (kernel_features() or ())
    except Exception:            # the probe failing means: assume none, skip the delay points
        return False


HAS_NETEM = _kernel_has_netem()
GRID = {"link": RATES + LOSSES + (DELAYS if HAS_NETEM else [])}
if not HAS_NETEM:
    print("*** link_accuracy: this kernel has no netem, so the delay points "
          f"({', '.join(DELAYS)}) are skipped; run with --vm to measure delay", file=sys.stderr)


def _setting(link: str) -> tuple[str, str]:
    attr, _, value = link.partition(":")
    return attr, value


def _rate(net, bw: float, params) -> dict:
    for attempt in range(params["retries"] + 1):
        result = traffic.iperf3(net["h1"], net["h2"], duration=params["duration"], omit=0.5)
        expected = result.expected_mbps(bw)
        error = result.mbps / expected - 1
        if error >= -0.05:
            break
    return {"attr": "bw", "configured": bw, "measured": result.mbps, "expected": expected,
            "error_percent": 100 * error, "bound_percent": 5.0, "attempts": attempt + 1,
            "wire_mbps": result.mbps / result.efficiency, "retransmits": result.retransmits, "mss": result.mss}


def _loss(net, percent: float, params) -> dict:
    stats = traffic.ping(net["h1"], net["h2"], count=params["pings"], interval=params["ping_interval"], warmup=5)
    p = percent / 100
    expected = 1 - (1 - p) ** 2                       # lossy both ways: a round trip crosses both
    measured = stats.loss_fraction
    bound = traffic.loss_bound(expected, stats.transmitted)
    return {"attr": "loss", "configured": percent, "measured": 100 * measured, "expected": 100 * expected,
            "error_percent": 100 * (measured - expected), "bound_percent": 100 * bound,
            "sent": stats.transmitted, "received": stats.received}


def _delay(net, delay: str, params) -> dict:
    stats = traffic.ping(net["h1"], net["h2"], count=params["delay_pings"], interval=0.02, warmup=5)
    expected = 2 * parse_time(delay) / 1000          # ms: one delay each way
    measured = stats.rtt_avg if stats.rtt_avg is not None else math.nan
    return {"attr": "delay", "configured": expected / 2, "measured": measured, "expected": expected,
            "error_percent": 100 * (measured / expected - 1), "bound_percent": 10.0,
            "sent": stats.transmitted, "received": stats.received}


def run(net, params):
    attr, value = _setting(params["link"])
    if attr == "bw":
        return _rate(net, float(value), params)
    if attr == "loss":
        return _loss(net, float(value), params)
    if attr == "delay":
        return _delay(net, value, params)
    raise ValueError(f"link {params['link']!r}: this experiment measures bw, loss or delay")


def rate_within_5_percent(results):
    """TCP goodput is within +-5 % of bw x 1448/1514 at every configured rate."""
    rows = results.where(attr="bw").rows
    worst = max(rows, key=lambda r: abs(r["error_percent"]), default=None)
    errors = ", ".join(f"{bw:g}: {statistics.fmean(g.values('error_percent')):+.1f}%"
                       for bw, g in results.where(attr="bw").by("configured").items())
    return bool(rows) and abs(worst["error_percent"]) <= 5.0, f"mean error per Mbit/s {errors}"


def loss_within_bound(results):
    """Measured round-trip loss is within 4 binomial sigmas of 1 - (1 - p)^2."""
    rows = results.where(attr="loss").rows
    bad = [r for r in rows if abs(r["error_percent"]) > r["bound_percent"]]
    text = ", ".join(f"{r['configured']:g}%: {r['measured']:.2f} vs {r['expected']:.2f} +- {r['bound_percent']:.2f}"
                     for r in rows[:: max(1, len(rows) // 3)])
    return bool(rows) and not bad, (f"{len(rows) - len(bad)}/{len(rows)} within bound ({text})")


def delay_within_10_percent(results):
    """With netem (stock kernel, --vm): the mean ping RTT is within 10 % of 2 x delay."""
    rows = results.where(attr="delay").rows
    if not rows:
        return skip("not measured: this kernel has no netem (run with --vm to measure delay)")
    bad = [r for r in rows if abs(r["error_percent"]) > r["bound_percent"]]
    return not bad, ", ".join(f"{r['configured']:g} ms: RTT {r['measured']:.2f} ms" for r in rows)


CHECKS = [rate_within_5_percent, loss_within_bound, delay_within_10_percent]
PLOTS = [
    Plot("rate", y="measured", ratio_to="expected", x="configured", kind="line", logx=True, where={"attr": "bw"},
         band=(0.95, 1.05), band_label="claim: within ±5 %", x_unit="Mbit/s", xlabel="configured rate (bw)",
         ylabel="TCP goodput / expected", labels={"measured": "measured"},
         title="Shaped rate: TCP goodput over the expected bw × 1448/1514",
         caption="expected: tc counts whole Ethernet frames, so goodput is bw × 1448/1514 at MTU 1500"),
    Plot("loss", y=("measured", "expected"), references=("expected",), band_around=("expected", "bound_percent"),
         band_label="claim: expected ± 4 binomial σ", x="configured", kind="line", where={"attr": "loss"},
         unit="%", x_unit="%", xlabel="configured loss per direction", ylabel="round-trip loss",
         labels={"measured": "measured (1,000 pings)", "expected": "1 − (1 − p)²"},
         title="Round-trip loss on a link dropping p each way"),
    Plot("delay", y="measured", ratio_to="expected", x="configured", kind="line", where={"attr": "delay"},
         band=(0.9, 1.1), band_label="claim: within ±10 %", x_unit="ms", xlabel="configured one-way delay",
         ylabel="mean RTT / (2 × delay)", labels={"measured": "measured"},
         title="Link delay (netem): mean ping RTT over twice the one-way delay"),
]
