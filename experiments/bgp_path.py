"""BGP picks the shortest AS path, falls back to the transit, and forgets a withdrawn prefix.

Topology topologies/bgp_as.py: h1 behind r1 (AS 65001), h2 behind r4 (AS 65003), the
transit AS 65002 (r2, r3: OSPF and iBGP inside) between them, and a direct peering link
r1 - r4. Four phases, each read from r1's BGP table (``show bgp ... json``, the best path's
AS path, saved as an artifact with ``show bgp``), a traceroute h1 -> h2 (the routers on the
way) and pings:

1. peering:  every link up; the direct path wins: AS path 65003, traceroute via r4 only;
2. transit:  the peering link is down; the only path left: AS path 65002 65003,
             traceroute via r2 and r3, then r4;
3. withdrawn: r4 withdraws h2's prefix (``no network`` at run time, through vtysh): r1
             has no route to it, h2 is unreachable;
4. restored: the prefix announced again, the peering link up: the direct path again.
"""
from __future__ import annotations

import ipaddress
import json
import time

from testbed import Plot, ping

TOPOLOGY = "topologies/bgp_as.py"
PARAMS = {"pings": 5}
RUN_PARAMS = {"pings": "pings h1 -> h2 in each phase"}
REPEAT = 1
TABLE = ["received", "sent"]

ORIGIN_ASN = 65003             # r4's AS in topologies/bgp_as.py
WAIT = 30.0                    # s for a withdrawal to reach r1


def _prefix(net, host: str) -> str:
    return str(ipaddress.ip_interface(net.plan.node(host).addresses[0]).network)


def _best(net, prefix: str) -> str | None:
    """The AS path of r1's best path to ``prefix`` (None: r1 has none)."""
    text = net["r1"].cmd(["vtysh", "-c", f"show bgp ipv4 unicast {prefix} bestpath json"])
    try:
        paths = json.loads(text).get("paths") or []
    except json.JSONDecodeError:
        return None
    return paths[0]["aspath"]["string"] if paths else None


def _owner(net, address: str) -> str:
    for node in net.plan.nodes:
        if any(a.split("/")[0] == address for a in node.addresses):
            return node.name
    return address


def _phase(net, params, phase: str) -> dict:
    """One probe at a time (-N 1): parallel probes past the destination would spend h2's ICMP
    rate limit (1 port-unreachable per second, burst 6) and starve the next phase's traceroute."""
    prefix = _prefix(net, "h2")
    hops = net["h1"].cmd(["traceroute", "-n", "-N", "1", "-q", "1", "-w", "1", "-m", "8", net["h2"].ip])
    routers = [_owner(net, h.split()[1]) for h in hops.splitlines()[1:] if len(h.split()) > 1 and h.split()[1] != "*"]
    stats = ping(net["h1"], net["h2"].ip, count=params["pings"], interval=0.05, wait=1)
    with open(params.artifact(f"{phase}.show_bgp.txt"), "w") as f:
        f.write(net["r1"].cmd(["vtysh", "-c", "show bgp ipv4 unicast"]))
        f.write(hops)
    return {"phase": phase, "as_path": _best(net, prefix) or "none", "routers": " ".join(routers),
            "received": stats.received, "sent": stats.transmitted}


def _announce(net, prefix: str, on: bool) -> None:
    net["r4"].run(["vtysh", "-c", "configure terminal", "-c", f"router bgp {ORIGIN_ASN}", "-c",
                   "address-family ipv4 unicast", "-c", f"{'' if on else 'no '}network {prefix}"], check=True)


def _wait_for(what: str, condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {WAIT:.0f} s")
        time.sleep(0.1)


def run(net, params):
    prefix = _prefix(net, "h2")
    net.converge()
    rows = [_phase(net, params, "peering")]
    net.link_down("r1", "r4")
    net.converge()
    rows.append(_phase(net, params, "transit"))
    _announce(net, prefix, False)
    _wait_for(f"r1 forgetting {prefix}", lambda: _best(net, prefix) is None)
    rows.append(_phase(net, params, "withdrawn"))
    _announce(net, prefix, True)
    net.link_up("r1", "r4")
    net.converge()                               # what the plan says: every link up, every prefix announced
    rows.append(_phase(net, params, "restored"))
    return rows


def _one(results, phase: str) -> dict:
    rows = results.where(phase=phase).rows
    return rows[0] if rows else {}


def shortest_as_path_wins(results):
    """With the peering up, r1 goes straight to AS 65003: AS path 65003, traceroute through r4 alone."""
    r = _one(results, "peering")
    ok = r.get("as_path") == "65003" and r.get("routers") == "r1 r4 h2" and r.get("received", 0) > 0
    return ok, f"AS path {r.get('as_path')}, traceroute {r.get('routers')}, {r.get('received')} pings answered"


def transit_takes_over(results):
    """With the peering down, traffic crosses the transit AS: AS path 65002 65003, through r2 and r3."""
    r = _one(results, "transit")
    ok = r.get("as_path") == "65002 65003" and r.get("routers") == "r1 r2 r3 r4 h2" and r.get("received", 0) > 0
    return ok, f"AS path {r.get('as_path')}, traceroute {r.get('routers')}, {r.get('received')} pings answered"


def withdrawal_removes_the_route(results):
    """A withdrawn prefix is gone from r1 and unreachable."""
    r = _one(results, "withdrawn")
    ok = bool(r) and r.get("as_path") == "none" and r.get("received") == 0
    return ok, f"AS path {r.get('as_path')}, {r.get('received')} of {r.get('sent')} pings answered"


def restoring_brings_the_direct_path_back(results):
    """Announced again and with the peering up, the direct path is back."""
    r = _one(results, "restored")
    ok = r.get("as_path") == "65003" and r.get("routers") == "r1 r4 h2" and r.get("received", 0) > 0
    return ok, f"AS path {r.get('as_path')}, traceroute {r.get('routers')}"


CHECKS = [shortest_as_path_wins, transit_takes_over, withdrawal_removes_the_route,
          restoring_brings_the_direct_path_back]
PLOTS = [Plot("pings", y="received", x="phase", xlabel="phase", ylabel="pings h1 -> h2 answered",
              title="Reachability of h2 from h1 as BGP changes its mind")]
