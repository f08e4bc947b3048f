"""One MAC per port blocks a host's macvlan containers until the port is relaxed; spoofed IP/MAC are dropped.

Topology topologies/port_security.py: switch s1 allows one source MAC per host port.
phys carries macvlan containers c1, c2 on its NIC, so its port shows three MACs: phys
speaks first (its MAC is the one learned) and the containers' frames are dropped and
counted (``macs``) unless ``relax`` raises that port's limit. h1's port is bound to h1's
IP and MAC: h1 then takes another IP (spoofed IP: dropped, counter ``ip``) and another
MAC (spoofed MAC: dropped, counter ``mac``), and is put back as it was.
Each case pings h2 ``count`` times; the drop counters are read before and after.
"""
from __future__ import annotations

from testbed import Plot, ping

TOPOLOGY = "topologies/port_security.py"
PARAMS = {"count": 3}
RUN_PARAMS = {
    "count": "pings per case",
}
GRID = {"relax": [False, True]}
REPEAT = 2
TABLE = ["delivered_percent", "dropped"]

H1_IP, H1_MAC, SPOOF_IP, SPOOF_MAC = "10.0.0.11/24", "02:00:00:00:01:01", "10.0.0.99/24", "02:00:00:00:0e:0e"


def _port(net, host: str) -> str:
    return net.link(host, "s1")[0].other(host)[1]


def _case(net, case: str, src: str, counter: str, count: int, port_of: str | None = None) -> dict:
    port = _port(net, port_of or src)
    before = net.port_security_counters("s1")[port][counter]
    stats = ping(net[src], net["h2"].ip, count=count, interval=0.05, wait=1)
    dropped = net.port_security_counters("s1")[port][counter] - before
    return {"case": case, "src": src, "counter": counter, "delivered_percent": 100.0 - stats.loss_percent,
            "dropped": dropped}


def _set_h1(net, ip: str, mac: str) -> None:
    net["h1"].run(f"ip addr flush dev h1-eth0 && ip link set dev h1-eth0 address {mac} && "
                  f"ip addr add {ip} dev h1-eth0", check=True)


def run(net, params):
    n = params["count"]
    rows = [_case(net, "phys (first MAC)", "phys", "macs", n),
            _case(net, "macvlan c1", "c1", "macs", n, port_of="phys"),
            _case(net, "macvlan c2", "c2", "macs", n, port_of="phys"),
            _case(net, "h1 bound", "h1", "ip", n)]
    try:
        _set_h1(net, SPOOF_IP, H1_MAC)
        rows.append(_case(net, "h1 spoofed IP", "h1", "ip", n))
        _set_h1(net, H1_IP, SPOOF_MAC)
        rows.append(_case(net, "h1 spoofed MAC", "h1", "mac", n))
    finally:
        _set_h1(net, H1_IP, H1_MAC)
    rows.append(_case(net, "h1 restored", "h1", "ip", n))
    return rows


def _by_case(results, relax):
    return {case: g.rows for case, g in results.where(relax=relax).by("case").items()}


def one_mac_blocks_macvlan(results):
    """With one MAC per port, the containers behind phys are dropped (counted); phys itself passes."""
    cases = _by_case(results, False)
    kids = cases.get("macvlan c1", []) + cases.get("macvlan c2", [])
    ok = bool(kids) and all(r["delivered_percent"] == 0 and r["dropped"] > 0 for r in kids) and \
        all(r["delivered_percent"] == 100 for r in cases.get("phys (first MAC)", [{"delivered_percent": 0}]))
    return ok, f"containers: {sum(r['dropped'] for r in kids)} frames dropped (macs), none delivered; phys delivered"


def relaxed_port_lets_macvlan_through(results):
    """With the port's limit raised to 1 + containers, every container reaches h2, nothing dropped."""
    cases = _by_case(results, True)
    kids = cases.get("macvlan c1", []) + cases.get("macvlan c2", [])
    ok = bool(kids) and all(r["delivered_percent"] == 100 and r["dropped"] == 0 for r in kids)
    return ok, f"{len(kids)} container runs, all delivered, {sum(r['dropped'] for r in kids)} dropped"


def spoofing_dropped(results):
    """On the bound port, a spoofed IP and a spoofed MAC get nothing through and are counted; the bound host passes."""
    bad, drops = [], {}
    for case, want_ok in (("h1 bound", True), ("h1 spoofed IP", False), ("h1 spoofed MAC", False),
                          ("h1 restored", True)):
        rows = results.where(case=case).rows
        drops[case] = sum(r["dropped"] for r in rows)
        if not rows or any((r["delivered_percent"] == 100) != want_ok or (not want_ok and r["dropped"] == 0)
                           or (want_ok and r["dropped"] != 0) for r in rows):
            bad.append(case)
    return not bad, (f"dropped: spoofed IP {drops['h1 spoofed IP']} (ip), spoofed MAC {drops['h1 spoofed MAC']} "
                     f"(mac); bound and restored h1 delivered" if not bad else f"wrong: {', '.join(bad)}")


CHECKS = [one_mac_blocks_macvlan, relaxed_port_lets_macvlan_through, spoofing_dropped]
RELAX = {"True": "phys port allows 3 MACs", "False": "one MAC per port", "relax": "port limit"}
PLOTS = [
    Plot("delivered", y="delivered_percent", x="case", group="relax", unit="%", labels=RELAX,
         xlabel="sender", ylabel="pings to h2 delivered", title="Pings to h2 delivered, by sender"),
    Plot("dropped", y="dropped", x="case", group="relax", unit="frames", labels=RELAX, xlabel="sender",
         ylabel="dropped by port security", title="Frames dropped by port security (counter of the case)"),
]
