"""Host A bridging its two NICs joins B and C into one LAN; without the bridge B and C cannot talk.

The seed's example: B is cabled to A.nic1 and C to A.nic2. With bridge=True, A enslaves
nic1 and nic2 to br0 and all three hosts share 10.0.0.0/24; with bridge=False, A has one
subnet per NIC and does not forward, so B and C each reach A but not each other.
Every ordered pair pings the other's address (the one on a shared subnet, if any).
"""
from testbed import Plot, ping, target_address

TOPOLOGY = "topologies/three_hosts.py"
PARAMS = {"count": 3}
RUN_PARAMS = {
    "count": "pings per ordered pair",
}
GRID = {"bridge": [True, False]}
REPEAT = 1
TABLE = ["delivered_percent", "rtt_avg"]

HOSTS = ("A", "B", "C")


def run(net, params):
    rows = []
    for src in HOSTS:
        for dst in HOSTS:
            if src == dst:
                continue
            target = target_address(net.plan, src, dst)
            stats = ping(net[src], target, count=params["count"], interval=0.1, wait=1)
            rows.append({"pair": f"{src}->{dst}", "src": src, "dst": dst, "target": target,
                         "sent": stats.transmitted, "received": stats.received,
                         "delivered_percent": 100.0 - stats.loss_percent,
                         "rtt_avg": stats.rtt_avg, "ping_error": stats.error,
                         "expected": net.reachability.expected(src, dst)})
    return rows


def _reached(row):
    return row["received"] > 0 and row["received"] == row["sent"]


def bridge_joins_all(results):
    """With A's bridge every host reaches every other, B and C included."""
    rows = results.where(bridge=True).rows
    bad = [r["pair"] for r in rows if not _reached(r)]
    return bool(rows) and not bad, (f"all {len(rows)} pairs reached" if not bad else f"not reached: {', '.join(bad)}")


def no_bridge_splits_b_c(results):
    """Without the bridge B and C reach A but not each other."""
    rows = results.where(bridge=False).rows
    wrong = [r["pair"] for r in rows if _reached(r) != ({r["src"], r["dst"]} != {"B", "C"})]
    b_c = [r for r in rows if {r["src"], r["dst"]} == {"B", "C"}]
    ok = bool(rows) and len(b_c) == 2 and not wrong
    return ok, ("B<->C unreachable, A<->B and A<->C reached" if ok else f"wrong pairs: {', '.join(wrong) or 'none run'}")


def matches_planner(results):
    """What the pings find agrees with the reachability the planner predicts."""
    wrong = [f"{r['pair']} (bridge={r['bridge']})" for r in results if _reached(r) != r["expected"]]
    return not wrong, ("measured reachability = predicted" if not wrong else f"disagree: {', '.join(wrong)}")


CHECKS = [bridge_joins_all, no_bridge_splits_b_c, matches_planner]
PLOTS = [Plot("reachability", y="delivered_percent", x="pair", group="bridge", unit="%",
              labels={"True": "with A's bridge", "False": "without", "bridge": "host A"},
              xlabel="ordered pair (source→destination)", ylabel="pings delivered",
              title="Pings delivered, with and without A's bridge")]
