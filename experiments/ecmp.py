"""ECMP in a routed leaf-spine: flows between two racks spread over every spine.

Topology topologies/leaf_spine.py with two spines and two leaves (h1 behind l1, h2 behind
l2), eBGP on every link: l1 has two equal paths to h2 (one per spine) and hashes each
flow's 5-tuple onto one of them (the generated routers hash by layer 4:
net.ipv4.fib_multipath_hash_policy=1). ``flows`` UDP flows of 2 Mbit/s each (iperf3 -P, so
each flow has its own source port) run h1 -> h2 for ``duration`` s; each spine's transmit
byte counter towards l2 says how much of the traffic it carried.

Claims:
- with ECMP (``ecmp=16``) and at least 16 flows, each spine carries within 2x of the mean
  (over the runs at that number of flows, all flows together: a single run of 16 flows
  hashed at random leaves one spine with 4 or fewer, at the claim's edge, about 8 % of the
  time, and 64 flows leave one outside 2x about once in 13,000);
- without multipath (``ecmp=1``) one spine carries everything (>= 99 % of the bytes);
- the flows arrive: at most 5 % of the datagrams are lost.
"""
from __future__ import annotations

from testbed import Flow, Plot, counting, skip

TOPOLOGY = "topologies/leaf_spine.py"
PARAMS = {"spines": 2, "leaves": 2, "hosts": 1, "duration": 2.0, "rate": "2M"}
RUN_PARAMS = {"flows": "parallel UDP flows h1 -> h2 (iperf3 -P)", "duration": "seconds of traffic",
              "rate": "bit rate of each flow (iperf3 -b)"}
GRID = {"ecmp": [16, 1], "flows": [2, 4, 16, 64]}
REPEAT = 3
TABLE = ["share_sp1", "share_sp2", "imbalance", "lost_percent"]

MIN_FLOWS = 16


def _towards(net, spine: str, leaf: str) -> str:
    """The spine's interface on its link to ``leaf``."""
    link = net.link(spine, leaf)[0]
    return link.a[1] if link.a[0] == spine else link.b[1]


def run(net, params):
    net.converge()
    spines = [f"sp{s}" for s in range(1, params["spines"] + 1)]
    flow = Flow(net["h1"], net["h2"], duration=params["duration"], udp=True, bitrate=params["rate"],
                streams=params["flows"])
    with counting([net[s] for s in spines]) as window:
        result = flow.start().result()
    carried = {s: window.delta[s][_towards(net, s, "l2")]["tx_bytes"] for s in spines}
    total = sum(carried.values())
    mean = total / len(spines)
    row = {f"bytes_{s}": carried[s] for s in spines}
    row.update({f"share_{s}": carried[s] / total if total else 0.0 for s in spines})
    row.update({"total_bytes": total, "imbalance": max(carried.values()) / mean if mean else 0.0,
                "received_mbps": result.mbps, "lost_percent": result.lost_percent or 0.0})
    return row


def _spines(results) -> list[str]:
    return sorted(c[len("bytes_"):] for c in results.columns if c.startswith("bytes_"))


def spread_over_spines(results):
    """With ECMP and >= 16 flows, every spine carries within 2x of the mean."""
    points = results.where(ecmp=16)
    spines = _spines(results)
    judged, wrong, shown = 0, [], []
    for flows, runs in sorted(points.by("flows").items()):
        if flows < MIN_FLOWS:
            continue
        judged += 1
        carried = {s: sum(runs.values(f"bytes_{s}")) for s in spines}
        mean = sum(carried.values()) / len(spines)
        ratios = {s: carried[s] / mean for s in spines}
        shown.append(f"{flows} flows: " + ", ".join(f"{s} {r:.2f}x" for s, r in ratios.items()))
        if not all(0.5 <= r <= 2.0 for r in ratios.values()):
            wrong.append(flows)
    if not judged:
        return skip(f"no run with ECMP and at least {MIN_FLOWS} flows")
    return not wrong, "; ".join(shown) + (f" (outside 0.5-2x at {wrong} flows)" if wrong else " of the mean")


def one_path_without_ecmp(results):
    """Without multipath (ecmp=1) one spine carries all the traffic."""
    rows = results.where(ecmp=1).rows
    if not rows:
        return skip("no run with ecmp=1")
    spines = _spines(results)
    tops = [max(r[f"share_{s}"] for s in spines) for r in rows]
    return all(t >= 0.99 for t in tops), f"the busiest spine's share: {min(tops):.3f} to {max(tops):.3f}"


def flows_arrive(results):
    """The flows arrive: at most 5 % of the datagrams are lost."""
    lost = results.values("lost_percent")
    return bool(lost) and max(lost) <= 5.0, f"loss {min(lost):.2f} to {max(lost):.2f} %"


LABELS = {"ecmp": "paths per destination", "16": "ECMP (up to 16)", "1": "one path (ecmp=1)"}
CHECKS = [spread_over_spines, one_path_without_ecmp, flows_arrive]
PLOTS = [
    Plot("share", y="share_sp1", x="flows", group="ecmp", kind="line", logx=True, band=(0.25, 0.75),
         band_label="claim at >= 16 flows: within 2x of the mean", xlabel="parallel flows h1 -> h2",
         ylabel="share of the bytes through spine 1", labels=LABELS,
         title="Flows spread over two spines (ECMP)"),
    Plot("imbalance", y="imbalance", x="flows", group="ecmp", kind="line", logx=True,
         xlabel="parallel flows h1 -> h2", ylabel="busiest spine / mean", labels=LABELS,
         title="How uneven the spread is, per run"),
]
