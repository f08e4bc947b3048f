"""VLANs isolate hosts on one switch fabric; a MAC-based VLAN follows its host to another port.

Topology topologies/mac_vlan.py: hosts h1..h4 on Open vSwitch s1, a trunk (VLANs 10, 20)
to s2 with h5 (VLAN 10) and h6 (VLAN 20); all in one subnet, so only VLANs separate
them. ``mode=port`` puts each of s1's ports in a VLAN (the spare port in VLAN 20);
``mode=mac`` lets s1 put each host in a VLAN by its MAC (OpenFlow rules), wherever it
plugs in. Phase "before": every ordered pair is pinged (pingall). Then h1 is moved to s1's spare
port (same MAC, same address) and phase "after" pings from h1 to every other host.
The seed's claim: a port-based VLAN belongs to the port, a MAC-based one to the host.
"""
from __future__ import annotations

from testbed import Plot, ping

TOPOLOGY = "topologies/mac_vlan.py"
PARAMS = {"count": 2}
RUN_PARAMS = {
    "count": "pings per ordered pair",
}
GRID = {"mode": ["port", "mac"]}
REPEAT = 1
TABLE = ["delivered_percent"]

HOME_VLAN = {"h1": 10, "h2": 20, "h3": 10, "h4": 20, "h5": 10, "h6": 20}
SPARE_PORT_VLAN = 20
HOSTS = sorted(HOME_VLAN)


def _spare(net):
    return next(l for l in net.plan.links if ("h1", "h1-eth1") in (l.a, l.b))


def _unplug_spare(net) -> None:
    """h1's spare NIC starts unplugged and without an address (one NIC per host at a time)."""
    for node, intf in (_spare(net).a, _spare(net).b):
        net[node].set_link_state(intf, False)
    net["h1"].run("ip addr flush dev h1-eth1", check=True)


def _move_h1_to_spare_port(net) -> None:
    """Unplug h1 from its port and plug its spare NIC (same MAC and address) into s1-eth9."""
    h1 = net["h1"]
    mac, ip = h1.plan.interface("h1-eth0").mac, h1.plan.interface("h1-eth0").addresses[0]
    net.link_down("h1", "s1")                                  # both of h1's cables out...
    h1.run(f"ip addr flush dev h1-eth0 && ip link set h1-eth1 address {mac} && "
           f"ip addr add {ip} dev h1-eth1", check=True)
    for node, intf in (_spare(net).a, _spare(net).b):          # ...the spare one back in
        net[node].set_link_state(intf, True)


def _row(net, params, phase, src, dst, vlan_of) -> dict:
    stats = ping(net[src], net[dst].ip, count=params["count"], interval=0.1, wait=1)
    return {"phase": phase, "pair": f"{src}->{dst}", "src": src, "dst": dst,
            "same_vlan": vlan_of[src] == vlan_of[dst], "sent": stats.transmitted,
            "received": stats.received, "delivered_percent": 100.0 - stats.loss_percent}


def run(net, params):
    _unplug_spare(net)
    matrix = net.pingall(count=params["count"])                  # every ordered pair at once
    rows = [{"phase": "before", "pair": f"{p.src}->{p.dst}", "src": p.src, "dst": p.dst,
             "same_vlan": HOME_VLAN[p.src] == HOME_VLAN[p.dst], "sent": p.sent, "received": p.received,
             "delivered_percent": 100.0 * p.received / p.sent if p.sent else 0.0} for p in matrix.pairs]
    _move_h1_to_spare_port(net)
    moved = dict(HOME_VLAN, h1=HOME_VLAN["h1"] if params["mode"] == "mac" else SPARE_PORT_VLAN)
    rows += [_row(net, params, "after", "h1", d, moved) for d in HOSTS if d != "h1"]
    return rows


def _wrong(rows) -> list[str]:
    return [f"{r['pair']} ({r['mode']}, {r['phase']})" for r in rows
            if (r["received"] == r["sent"] and r["sent"] > 0) != r["same_vlan"]]


def vlans_isolate(results):
    """Before any move, same-VLAN pairs all connect (across the trunk too) and no cross-VLAN pair does."""
    rows = results.where(phase="before").rows
    wrong = _wrong(rows)
    return bool(rows) and not wrong, (f"{len(rows)} pairs as their VLANs say" if not wrong
                                      else f"wrong: {', '.join(wrong)}")


def mac_vlan_follows_host(results):
    """Moved to another port, a host keeps its MAC-based VLAN (10) but takes the port's VLAN (20) port-based."""
    rows = results.where(phase="after").rows
    wrong = _wrong(rows)
    modes = {r["mode"] for r in rows}
    ok = bool(rows) and not wrong and modes == {"mac", "port"}
    return ok, ("h1 kept VLAN 10 (mac) / joined VLAN 20 (port) after the move" if ok
                else f"wrong: {', '.join(wrong) or 'missing a mode'}")


CHECKS = [vlans_isolate, mac_vlan_follows_host]
PLOTS = [Plot("after_move", y="delivered_percent", x="pair", group="mode", where={"phase": "after"}, unit="%",
              labels={"port": "port-based VLAN", "mac": "MAC-based VLAN", "mode": "VLANs"},
              xlabel="ordered pair", ylabel="pings delivered",
              title="Pings from h1 after moving it to another port")]
