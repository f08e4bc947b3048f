"""DHCP snooping: clients get leases; a host with an address it was not given is cut off; rogue offers are dropped.

Topology topologies/dhcp.py with a rogue server: srv (10.0.0.1, trusted port, pool
10.0.0.100-200) and rogue (10.0.0.250, untrusted port, pool 10.0.0.50-60) on switch s1;
h1, h2 get their addresses by DHCP. With ``snooping`` on and off, each run

- records the leases (from which pool: without snooping a client may take the rogue's) and the (port, MAC, IP) bindings s1 learned;
- sends a DHCPDISCOVER from h1 (testbed.concerns.dhcp.probe) and lists the servers whose
  OFFERs reach it: with snooping only srv's, without it the rogue's too (counter ``rogue``);
- pings srv from h1 (leased address) and from h2 after h2 sets a static address it was
  never given (10.0.0.77): with snooping h2 is dropped (counter ``unbound``), without it
  passes. h2 then gets its leased address back.
"""
from __future__ import annotations

import ipaddress
import json
import sys

from testbed import Plot, ping

TOPOLOGY = "topologies/dhcp.py"
PARAMS = {"hosts": 2, "rogue": True, "count": 3, "probe_wait": 1.0}
RUN_PARAMS = {
    "count": "pings per reachability test",
    "probe_wait": "seconds the DHCPDISCOVER probe listens for offers",
}
GRID = {"snooping": [True, False]}
REPEAT = 2
TABLE = ["leases", "leases_from_srv", "leases_from_rogue", "srv_offers", "rogue_offers", "leased_percent", "static_percent",
         "unbound_dropped", "rogue_dropped"]

SRV_POOL = (ipaddress.ip_address("10.0.0.100"), ipaddress.ip_address("10.0.0.200"))
STATIC = "10.0.0.77/24"


def _port(net, host: str) -> str:
    return net.link(host, "s1")[0].other(host)[1]


def _counter(net, host: str, name: str, snooping: bool) -> int:
    """A drop counter of host's port on s1 (a switch without snooping has none: 0)."""
    return net.port_security_counters("s1")[_port(net, host)][name] if snooping else 0


def _offers(net, host: str, wait: float) -> set[str]:
    out = net[host].run([sys.executable, "-m", "testbed.concerns.dhcp.probe", f"{host}-eth0", "--wait", str(wait)],
                        timeout=wait + 20, check=True).stdout
    return {offer["server"] for offer in json.loads(out)}


def run(net, params):
    h1, h2, srv = net["h1"], net["h2"], net["srv"]
    leases = {node: ipaddress.ip_interface(cidr) for (node, _), cidr in net.leases.items()}
    from_srv = sum(SRV_POOL[0] <= lease.ip <= SRV_POOL[1] for lease in leases.values())
    rogue_before = _counter(net, "rogue", "rogue", params["snooping"])
    heard = _offers(net, "h1", params["probe_wait"])
    rogue_dropped = _counter(net, "rogue", "rogue", params["snooping"]) - rogue_before
    leased = ping(h1, srv.ip, count=params["count"], interval=0.05, wait=1)
    unbound_before = _counter(net, "h2", "unbound", params["snooping"])
    try:
        h2.run(f"ip addr flush dev h2-eth0 && ip addr add {STATIC} dev h2-eth0", check=True)
        static = ping(h2, srv.ip, count=params["count"], interval=0.05, wait=1)
    finally:
        h2.run(f"ip addr flush dev h2-eth0 && ip addr add {leases['h2']} dev h2-eth0", check=True)
    unbound_dropped = _counter(net, "h2", "unbound", params["snooping"]) - unbound_before
    restored = ping(h2, srv.ip, count=params["count"], interval=0.05, wait=1)
    return {"leases": len(leases), "leases_from_srv": from_srv, "leases_from_rogue": len(leases) - from_srv,
            "lease_addresses": " ".join(str(leases[n].ip) for n in sorted(leases)),
            "bindings": len(net.dhcp_bindings("s1")) if params["snooping"] else 0,
            "srv_offers": int("10.0.0.1" in heard), "rogue_offers": int("10.0.0.250" in heard),
            "rogue_dropped": rogue_dropped, "leased_percent": 100.0 - leased.loss_percent,
            "static_percent": 100.0 - static.loss_percent, "unbound_dropped": unbound_dropped,
            "restored_percent": 100.0 - restored.loss_percent}


def leases_obtained(results):
    """Every client gets a lease (with snooping from the trusted server's pool), and can use it."""
    rows = results.rows
    ok = bool(rows) and all(r["leases"] == 2 and r["leased_percent"] == 100 and r["restored_percent"] == 100
                            for r in rows)
    ok = ok and all(r["leases_from_srv"] == 2 and r["bindings"] == 2 for r in results.where(snooping=True))
    return ok, "leases: " + "; ".join(sorted({f"snooping={r['snooping']}: {r['lease_addresses']}" for r in rows}))


def static_ip_blocked_with_snooping(results):
    """A static address the server never gave: dropped (counted) with snooping, delivered without."""
    on, off = results.where(snooping=True).rows, results.where(snooping=False).rows
    ok = bool(on and off) and all(r["static_percent"] == 0 and r["unbound_dropped"] > 0 for r in on) and \
        all(r["static_percent"] == 100 for r in off)
    return ok, (f"with snooping: 0 % delivered, {sum(r['unbound_dropped'] for r in on)} dropped (unbound); "
                f"without: {min((r['static_percent'] for r in off), default=0):.0f} % delivered")


def rogue_offers_blocked_with_snooping(results):
    """The rogue server's OFFERs reach a client without snooping and are dropped (counted) with it."""
    on, off = results.where(snooping=True).rows, results.where(snooping=False).rows
    ok = bool(on and off) and all(r["srv_offers"] and not r["rogue_offers"] and r["rogue_dropped"] > 0
                                  for r in on) and all(r["srv_offers"] and r["rogue_offers"] for r in off)
    return ok, (f"with snooping: rogue offers heard in {sum(r['rogue_offers'] for r in on)}/{len(on)} runs, "
                f"{sum(r['rogue_dropped'] for r in on)} dropped; without: heard in "
                f"{sum(r['rogue_offers'] for r in off)}/{len(off)}")


CHECKS = [leases_obtained, static_ip_blocked_with_snooping, rogue_offers_blocked_with_snooping]
SNOOPING = {"True": "snooping on", "False": "snooping off", "snooping": "DHCP snooping"}
PLOTS = [
    Plot("delivered", y=("leased_percent", "static_percent"), x="snooping", unit="%", xlabel="DHCP snooping on s1",
         labels={**SNOOPING, "leased_percent": "leased address", "static_percent": "unleased static address"},
         ylabel="pings delivered to the server", title="Pings to the DHCP server: leased vs unleased address"),
    Plot("leases", y=("leases_from_srv", "leases_from_rogue"), x="snooping", unit="clients",
         labels={**SNOOPING, "leases_from_srv": "from the server", "leases_from_rogue": "from the rogue"},
         xlabel="DHCP snooping on s1", ylabel="leases", title="Whose pool the clients' leases came from"),
    Plot("offers", y=("srv_offers", "rogue_offers"), x="snooping",
         labels={**SNOOPING, "srv_offers": "server's offer", "rogue_offers": "rogue's offer"},
         xlabel="DHCP snooping on s1", ylabel="offer heard (fraction of runs)",
         title="DHCP offers that reach a client"),
    Plot("drops", y=("unbound_dropped", "rogue_dropped"), x="snooping", unit="frames",
         labels={**SNOOPING, "unbound_dropped": "unleased source (unbound)", "rogue_dropped": "rogue server (rogue)"},
         xlabel="DHCP snooping on s1", ylabel="dropped", title="Frames dropped by DHCP snooping"),
]
