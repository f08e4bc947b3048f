"""LAN hosts reach the emulated outside through NAT; the outside opens nothing inward unless a port is forwarded.

Topology topologies/nat.py: h1, h2 on the LAN behind ``nat``, which masquerades towards
the emulated internet where ``web`` (203.0.113.80) lives. With and without the declared
forward (tcp 8080 on the NAT's outside address -> h1:80), each run, with HTTP servers on
web and h1:

- LAN -> outside: h2 pings web and fetches http://203.0.113.80/; web's log shows which
  source address it saw (the NAT's outside address, never a LAN address);
- outside -> in: web fetches 203.0.113.1:8080 (the forward), 203.0.113.1:8081 (nothing
  declared), and h1's LAN address directly after adding a route to the LAN through the
  NAT (an outsider trying to get in); the NAT's counters ``masqueraded``,
  ``forwarded_in`` and ``inbound_blocked`` are read before and after.
"""
from __future__ import annotations

import subprocess

from testbed import Plot, ping, traffic, wait_listening

TOPOLOGY = "topologies/nat.py"
PARAMS = {"hosts": 2, "timeout": 1.0}
RUN_PARAMS = {
    "timeout": "seconds a TCP connection attempt may take",
}
GRID = {"forward": [True, False]}
REPEAT = 2
TABLE = ["ok", "counter_delta"]

WEB, NAT_OUT = "203.0.113.80", "203.0.113.1"
CONNECT = ("import socket,sys\n"
           "try:\n"
           "    s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))\n"
           "    s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(12).decode(errors='replace'))\n"
           "except OSError as e: print('FAILED', type(e).__name__)\n")


def fetch(node, ip: str, port: int, timeout: float) -> bool:
    """True when a TCP connection from ``node`` to ip:port gets an HTTP answer."""
    return node.cmd(["python3", "-c", CONNECT, ip, str(port), str(timeout)], timeout=timeout + 20).startswith("HTTP/")


def serve_http(node, log_path: str) -> subprocess.Popen:
    log = open(log_path, "a")
    proc = node.popen(["python3", "-m", "http.server", "80", "--bind", "0.0.0.0"], stdout=log, stderr=log)
    log.close()
    wait_listening(node, 80, timeout=15, proc=proc)
    return proc


def _case(case: str, direction: str, ok: bool, counter: str) -> dict:
    return {"case": case, "direction": direction, "ok": int(ok), "counter": counter}


def run(net, params):
    h1, h2, web, t = net["h1"], net["h2"], net["web"], params["timeout"]
    web_log = params.artifact("web.log")
    servers = [(web, serve_http(web, web_log)), (h1, serve_http(h1, params.artifact("h1.log")))]
    rows = []

    def measured(case, direction, counter, action):
        before = net.nat_counters("nat")[counter]
        ok = action()
        row = _case(case, direction, ok, counter)
        row["counter_delta"] = net.nat_counters("nat")[counter] - before
        rows.append(row)

    try:
        measured("out: h2 ping web", "out", "masqueraded",
                 lambda: ping(h2, WEB, count=3, interval=0.05, wait=1).received == 3)
        measured("out: h2 http web", "out", "masqueraded", lambda: fetch(h2, WEB, 80, t))
        measured("out: h1 http web", "out", "masqueraded", lambda: fetch(h1, WEB, 80, t))
        measured("in: nat:8080 (fwd)", "in", "forwarded_in", lambda: fetch(web, NAT_OUT, 8080, t))
        measured("in: nat:8081", "in", "forwarded_in", lambda: fetch(web, NAT_OUT, 8081, t))
        lan = net.plan.node("h1").interfaces[0].addresses[0]
        subnet = lan.rsplit(".", 1)[0] + ".0/24"
        web.run(["ip", "route", "replace", subnet, "via", NAT_OUT], check=True)
        try:
            measured("in: http h1 routed", "in", "inbound_blocked", lambda: fetch(web, h1.ip, 80, t))
            measured("in: ping h1 routed", "in", "inbound_blocked",
                     lambda: ping(web, h1, count=3, interval=0.05, wait=1).received > 0)
        finally:
            web.run(["ip", "route", "del", subnet], check=True)
    finally:
        for node, proc in servers:
            traffic.stop(node, proc, grace=0)
    seen = {line.split()[0] for line in open(web_log) if line[:1].isdigit()}
    lan_prefix = lan.rsplit(".", 1)[0] + "."
    for row in rows:
        row["web_saw"] = " ".join(sorted(seen))
        row["web_saw_lan_address"] = int(any(ip.startswith(lan_prefix) for ip in seen))
    return rows


def _rows(results, case, **where):
    return results.where(case=case, **where).rows


def lan_reaches_outside_masqueraded(results):
    """LAN hosts reach web (ping, HTTP) through the NAT, which masquerades: web never sees a LAN address."""
    rows = [r for c in ("out: h2 ping web", "out: h2 http web", "out: h1 http web") for r in _rows(results, c)]
    ok = bool(rows) and all(r["ok"] and r["counter_delta"] > 0 and not r["web_saw_lan_address"] for r in rows)
    saw = sorted({ip for r in rows for ip in r["web_saw"].split()})
    return ok, f"{sum(r['ok'] for r in rows)}/{len(rows)} reached; web saw sources {', '.join(saw) or 'none'}"


def outside_cannot_open_inward(results):
    """From outside: an undeclared port and a routed attempt at a LAN host get nothing (blocked, counted)."""
    shut = _rows(results, "in: nat:8081")
    routed = _rows(results, "in: http h1 routed") + _rows(results, "in: ping h1 routed")
    ok = bool(shut and routed) and not any(r["ok"] for r in shut + routed) and \
        all(r["counter_delta"] > 0 for r in routed)
    return ok, (f"8081: {sum(r['ok'] for r in shut)}/{len(shut)} connected; routed at h1: "
                f"{sum(r['ok'] for r in routed)}/{len(routed)} through, "
                f"{sum(r['counter_delta'] for r in routed)} packets counted inbound_blocked")


def forward_opens_only_when_declared(results):
    """web reaches h1:80 via nat:8080 only when the forward is declared (counted forwarded_in)."""
    on = _rows(results, "in: nat:8080 (fwd)", forward=True)
    off = _rows(results, "in: nat:8080 (fwd)", forward=False)
    ok = bool(on and off) and all(r["ok"] and r["counter_delta"] > 0 for r in on) and not any(r["ok"] for r in off)
    return ok, (f"with forward: {sum(r['ok'] for r in on)}/{len(on)} fetched; "
                f"without: {sum(r['ok'] for r in off)}/{len(off)}")


CHECKS = [lan_reaches_outside_masqueraded, outside_cannot_open_inward, forward_opens_only_when_declared]
FORWARD = {"True": "forward declared", "False": "no forward", "forward": "nat:8080 → h1:80"}
PLOTS = [
    Plot("reachability", y="ok", x="case", group="forward", labels=FORWARD, xlabel="connection attempt",
         ylabel="got through (fraction of runs)", title="Connections through the NAT"),
    Plot("counters", y="counter_delta", x="case", group="forward", unit="packets", labels=FORWARD,
         xlabel="connection attempt", ylabel="counted by the NAT",
         title="NAT counter of each case (masqueraded / forwarded_in / inbound_blocked)"),
]
