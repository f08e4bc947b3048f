"""The kernel lane's checks, run inside the stock-kernel guest: ``python -P run_lane.py OUT``.

What the host kernel lacks and a stock kernel has: netem delay, jitter, loss and queue
limit (measured on real networks), Open vSwitch's kernel datapath (VLANs across a trunk),
802.1Q, VLAN-filtering bridges and the OVS kernel module (seen by the capability probe),
and IPv6 over VLAN-filtering bridges and netem, RED queues that mark ECN, and the
experiments that need them: the quick DCTCP experiment and the Mathis model with a 20 ms
delay. Python starts slowly in the emulated guest, so everything runs in this one process as plain functions (no pytest); each check's
verdict, numbers and explanation go to OUT/lane.json, read by test_kernel_lane.py on the
host, which turns every check into its own test item. Progress goes to stdout.

Exit code: 0 when every check passed, 1 otherwise (the JSON says which).
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

STARTED = time.monotonic()
ROOT = Path(__file__).resolve().parents[2]
PAIR = str(ROOT / "topologies" / "pair.py")
CAPABILITIES = ("netem", "8021q", "bridge-vlan-filtering", "openvswitch-module", "red", "dctcp")

DELAY_MS = 10.0                       # one way, each direction: RTT = 2 x DELAY_MS
RTT_RANGE = (19.0, 26.0)              # min RTT allowed (ms): emulation adds a little
JITTER_MS = 5.0                       # uniform +-5 ms each way: RTT sd = sqrt(2 * 10^2 / 12) = 4.1 ms
LOSS_PERCENT = 20.0                   # one way
LOSS_PINGS = 1000
QUEUE = 10                            # packets netem may hold
BURST = 100                           # datagrams sent at once into it
QUEUE_DELAY = "200ms"                 # long enough that none leaves during the burst
ECN_K, ECN_QUEUE = 20, 200            # packets: RED marking threshold and buffer
MATHIS = {"delay": "20ms", "loss": "0.2,1", "sack": "true", "duration": "12", "omit": "4"}
OUT = ""                              # set by main(): the folder shared with the host


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def process_start_uptime() -> float:
    """Seconds after boot at which this process started (the guest was ready)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


READY_AT = process_start_uptime()
from testbed import Network, load, traffic  # noqa: E402  (timed)
from testbed.concerns import shaping  # noqa: E402
from testbed.kernel import bridgevlan, caps  # noqa: E402
from testbed.planning import pipeline as planner  # noqa: E402
IMPORTED = time.monotonic()

Result = dict[str, Any]


def say(text: str) -> None:
    print(f"[lane {time.monotonic() - STARTED:6.1f}s] {text}", flush=True)


# ---------------------------------------------------------------- capabilities

def probe_capabilities() -> dict[str, tuple[bool, str]]:
    """testbed's own kernel probe, in a forked child in a throwaway namespace (no new Python)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                        # child: unshare, probe, report, exit
        status = 0
        try:
            os.close(read)
            caps._unshare()
            data = {k: list(v) for k, v in caps._kernel_probes().items()}
            os.write(write, json.dumps(data).encode())
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            os._exit(status)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return {k: (bool(v[0]), str(v[1])) for k, v in json.loads(b"".join(chunks) or b"{}").items()}


# ---------------------------------------------------------------- networks

def build(graph, params: dict | None, features: frozenset[str], arp: str = "dynamic") -> Network:
    plan = planner.plan(graph, source="kernel-lane", params=params or {}, features=features, arp=arp)
    return Network(plan)


def pair(**settings: Any):
    """A pair.py-like graph whose settings may be per direction (dicts)."""
    import networkx as nx
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2", **settings)
    return g


def qdisc_text(net: Network, node: str) -> str:
    return net[node].cmd(["tc", "-s", "qdisc", "show", "dev", f"{node}-eth0"])


def ping(net: Network, count: int, interval: float) -> traffic.PingStats:
    """iputils ping h1 -> h2 (after uncounted pings until one is answered: ARP resolved)."""
    return traffic.ping(net["h1"], net["h2"], count=count, interval=interval, warmup=10.0)


def rtt_numbers(stats: traffic.PingStats) -> dict[str, Any]:
    return {"sent": stats.transmitted, "received": stats.received, "loss_percent": stats.loss_percent,
            "min_ms": stats.rtt_min, "avg_ms": stats.rtt_avg, "max_ms": stats.rtt_max,
            "mdev_ms": stats.rtt_mdev}


# ---------------------------------------------------------------- checks

def check_delay(features: frozenset[str], found: dict) -> Result:
    """pair.py with delay=10ms: netem on both ends, ping min RTT about 20 ms."""
    graph, params = load(PAIR, {"delay": f"{DELAY_MS:g}ms"})
    with build(graph, params, features) as net:
        shown = qdisc_text(net, "h1") + qdisc_text(net, "h2")
        stats = ping(net, count=50, interval=0.05)
    numbers = rtt_numbers(stats)
    found["delay_mdev_ms"] = numbers["mdev_ms"]
    low, high = RTT_RANGE
    ok = (shown.count("netem") == 2 and stats.received >= 45
          and numbers["min_ms"] is not None and low <= numbers["min_ms"] <= high)
    return {"ok": ok, **numbers, "expected_min_ms": [low, high], "qdiscs": shown,
            "detail": f"{stats.summary('h1', 'h2')}; min RTT must be within {low}-{high} ms (2 x {DELAY_MS:g} ms)"}


def check_jitter(features: frozenset[str], found: dict) -> Result:
    """pair.py with delay=10ms jitter=5ms: RTTs spread over 10-30 ms (sd ~4.1 ms).

    Load on the machine only ever adds delay, so the robust signs of jitter are a minimum
    RTT well below the unjittered 20 ms (a quarter of the probes are under 17 ms) but not
    below 2 x (10 - 5) ms, and a spread and mdev no steady link shows.
    """
    graph, params = load(PAIR, {"delay": f"{DELAY_MS:g}ms", "jitter": f"{JITTER_MS:g}ms"})
    with build(graph, params, features) as net:
        stats = ping(net, count=200, interval=0.02)
    numbers = rtt_numbers(stats)
    low = 2 * (DELAY_MS - JITTER_MS) - 0.5
    high = 2 * DELAY_MS - 3.0
    spread = numbers["max_ms"] - numbers["min_ms"] if stats.rtt_min is not None else 0.0
    ok = (stats.received >= 180 and numbers["mdev_ms"] > 2.0 and spread > 10.0
          and low <= numbers["min_ms"] < high)
    return {"ok": ok, **numbers, "spread_ms": round(spread, 3), "unjittered_mdev_ms": found.get("delay_mdev_ms"),
            "detail": f"{stats.summary('h1', 'h2')}; mdev must exceed 2 ms (without jitter: "
                      f"{found.get('delay_mdev_ms')} ms), max-min 10 ms, and min must lie in {low:g}-{high:g} ms"}


def check_loss(features: frozenset[str], found: dict) -> Result:
    """20 % loss on what h1 sends only: netem drops that fraction of the pings (4-sigma bound)."""
    graph = pair(loss={"h1": LOSS_PERCENT})
    with build(graph, None, features) as net:
        h1 = shaping.of(net.plan, "h1", "h1-eth0")
        h2 = shaping.of(net.plan, "h2", "h2-eth0")
        stats = ping(net, count=LOSS_PINGS, interval=0.01)
        shown = qdisc_text(net, "h1")
    p = LOSS_PERCENT / 100
    measured = stats.loss_fraction
    bound = traffic.loss_bound(p, max(stats.transmitted, 1))
    by_netem = any(q.kind == "netem" and q.option("loss") == LOSS_PERCENT for q in h1.qdiscs)
    ok = (by_netem and not h2.ingress_loss and not h2.qdiscs and stats.transmitted == LOSS_PINGS
          and abs(measured - p) <= bound)
    return {"ok": ok, "sent": stats.transmitted, "received": stats.received, "measured": round(measured, 4),
            "expected": p, "bound": round(bound, 4), "netem": by_netem, "qdiscs": shown,
            "detail": f"{stats.summary('h1', 'h2')}; lost fraction {measured:.4f} must be within {p} +- {bound:.4f} "
                      f"(4 binomial sigmas over {stats.transmitted} pings), dropped by netem on h1's egress"}


def _udp_receiver(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("0.0.0.0", port))
    s.setblocking(False)
    return s


def _udp_sender() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def _drained(net: Network, node: str, timeout: float = 60.0) -> None:
    """Wait until the node's qdiscs hold nothing more (what was queued has left or been dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = qdisc_text(net, node)
        if not any(int(n) for n in re.findall(r"backlog \S+ (\d+)p", shown)):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{node}'s queue never drained:\n{shown}")
        time.sleep(0.05)


def _burst(net: Network, src: str, dst: str, port: int = 9999) -> tuple[int, int]:
    """Send BURST datagrams at once from src to dst; (received, dropped by src's qdiscs)."""
    traffic.ping(net[src], net[dst], count=3, interval=0.05, warmup=10.0)   # the path works before the burst
    rx = net.worker.run_inside(net[dst].netns, _udp_receiver, port)
    tx = net.worker.run_inside(net[src].netns, _udp_sender)
    try:
        for i in range(BURST):
            tx.sendto(i.to_bytes(4, "big") + bytes(96), (net[dst].ip, port))
        _drained(net, src)                                # every datagram has left the queue or been dropped
        dropped = int(qdisc_text(net, src).split("dropped ")[1].split(",")[0])
        received, deadline = 0, time.monotonic() + 10
        while received + dropped < BURST and time.monotonic() < deadline:     # the last ones are on their way
            if select.select([rx], [], [], 0.1)[0]:
                while True:
                    try:
                        rx.recv(2048)
                        received += 1
                    except BlockingIOError:
                        break
    finally:
        rx.close()
        tx.close()
    return received, dropped


def check_queue(features: frozenset[str], found: dict) -> Result:
    """netem with a 10-packet limit drops most of a 100-datagram burst; the default limit none.
    Permanent neighbour entries: no ARP packet can share (or be dropped from) the queue, so the
    datagrams received and the qdisc's drops add up to the burst exactly."""
    small = pair(delay={"h1": QUEUE_DELAY}, queue={"h1": QUEUE})
    with build(small, None, features, arp="static") as net:
        h1 = shaping.of(net.plan, "h1", "h1-eth0")
        limit = next(q for q in h1.qdiscs if q.kind == "netem").option("limit")
        received, dropped = _burst(net, "h1", "h2")
    big = pair(delay={"h1": QUEUE_DELAY})
    with build(big, None, features, arp="static") as net:
        control_received, control_dropped = _burst(net, "h1", "h2")
    ok = (limit == QUEUE and QUEUE - 2 <= received <= QUEUE + 5 and received + dropped == BURST
          and control_received == BURST and control_dropped == 0)
    return {"ok": ok, "burst": BURST, "netem_limit": limit, "received": received, "dropped": dropped,
            "control_received": control_received, "control_dropped": control_dropped,
            "detail": f"burst of {BURST} into netem limit {limit}: {received} received, {dropped} dropped "
                      f"(expected about {QUEUE} received, the rest dropped); default limit: "
                      f"{control_received} received, {control_dropped} dropped (expected all, none)"}


def check_cli(features: frozenset[str], found: dict) -> Result:
    """What `testbed run --vm` runs in the guest: the CLI probes this kernel and shapes with netem."""
    argv = [sys.executable, "-P", "-m", "testbed.cli.main", "run", PAIR, "--param", f"delay={DELAY_MS:g}ms",
            "--test", "ping", "--count", "10"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=ROOT, stdin=subprocess.DEVNULL)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("ping h1 -> h2")), "")
    try:
        min_rtt = float(line.split("rtt min/avg/max/mdev ")[1].split("/")[0])
    except (IndexError, ValueError):
        min_rtt = None
    low, high = RTT_RANGE
    ok = done.returncode == 0 and min_rtt is not None and low <= min_rtt <= high
    return {"ok": ok, "exit_code": done.returncode, "min_ms": min_rtt,
            "detail": f"`testbed run pair.py --param delay={DELAY_MS:g}ms --test ping`: exit {done.returncode}, "
                      f"{line or done.stderr[-500:]}"}


def check_ovs_kernel(features: frozenset[str], found: dict) -> Result:
    """vlans.py on Open vSwitch's kernel datapath: same-VLAN pairs reach each other, no others;
    TCP crosses the trunk; nothing of the switches' private OVS is left after teardown."""
    graph, params = load(str(ROOT / "topologies" / "vlans.py"), {})
    for name in ("s1", "s2"):
        graph.nodes[name]["datapath"] = "system"
    with build(graph, params, features) as net:
        result = net.pingall(count=2, timeout=GUEST_PING_TIMEOUT)
        dp_type = net.ovs("s1").vsctl("get", "bridge", "s1", "datapath_type").strip().strip('"')
        flows = net.dpctl("s1", datapath=True)
        tcp = traffic.iperf3(net["h1"], net["h3"], duration=2)
        ovs_dir = net.ovs("s1").dir
    left = os.path.exists(ovs_dir)
    ok = result.ok and dp_type == "system" and "in_port" in flows and tcp.mbps > 10 and not left
    return {"ok": ok, "datapath_type": dp_type, "matrix": result.matrix(), "tcp_mbps": tcp.mbps,
            "detail": f"pingall {'as predicted' if result.ok else 'NOT as predicted'} (same VLAN only), "
                      f"datapath_type {dp_type!r}, {flows.count(chr(10))} kernel datapath flows, "
                      f"TCP h1->h3 across the trunk {tcp.mbps:.0f} Mbit/s, "
                      f"{'OVS files left behind' if left else 'nothing left'}"}


def check_bridge_vlans(features: frozenset[str], found: dict) -> Result:
    """vlans.py on VLAN-filtering Linux bridges: access ports untagged with their PVID, the trunk
    tagged, same-VLAN pairs reach each other across it, no cross-VLAN pair does."""
    graph, params = load(str(ROOT / "topologies" / "vlans.py"), {"backend": "linux"})
    with build(graph, params, features) as net:
        filtering = net["s1"].cmd("cat /sys/class/net/s1/bridge/vlan_filtering").strip()
        ports = bridgevlan.port_vlans(net["s1"].netns)
        result = net.pingall(count=2, timeout=GUEST_PING_TIMEOUT)
    access = {v["vlan"]: v.get("flags", []) for v in ports.get("s1-eth2", [])}
    access_ok = set(access) == {10} and "PVID" in access[10] and "Egress Untagged" in access[10]
    same_vlan = sum(p.expected for p in result.pairs)
    ok = filtering == "1" and access_ok and result.ok and len(result.pairs) == 12 and same_vlan == 4
    return {"ok": ok, "matrix": result.matrix(), "s1_vlans": ports,
            "detail": f"vlan_filtering={filtering}, s1-eth2 {access}, pingall "
                      f"{'as predicted' if result.ok else 'NOT as predicted'} ({same_vlan} of "
                      f"{len(result.pairs)} pairs in the same VLAN)"}


def check_untagged_uplink(features: frozenset[str], found: dict) -> Result:
    """vlans.py with the s1--s2 link left untagged (no trunk): it carries every VLAN in use
    tagged, as the planner's segments assume, so the same pairs connect as over the trunk."""
    graph, params = load(str(ROOT / "topologies" / "vlans.py"), {"backend": "linux"})
    del graph.edges["s1", "s2"]["trunk"]
    with build(graph, params, features) as net:
        ports = bridgevlan.port_vlans(net["s1"].netns)
        result = net.pingall(count=2, timeout=GUEST_PING_TIMEOUT)
    uplink = {v["vlan"] for v in ports.get("s1-eth1", [])}
    same_vlan = sum(p.expected for p in result.pairs)
    ok = uplink == {1, 10, 20} and result.ok and len(result.pairs) == 12 and same_vlan == 4
    return {"ok": ok, "matrix": result.matrix(), "s1_vlans": ports,
            "detail": f"s1-eth1 VLANs {sorted(uplink)}, pingall {'as predicted' if result.ok else 'NOT as predicted'} "
                      f"({same_vlan} of {len(result.pairs)} pairs in the same VLAN)"}


def check_ipv6(features: frozenset[str], found: dict) -> Result:
    """IPv6 over what the host kernel lacks: VLAN-filtering Linux bridges keep IPv6 in its VLANs
    (vlans.py, backend linux, the graph's ipv6), and netem delays IPv6 as it delays IPv4 (pair.py
    with delay=10ms, ping over IPv6: min RTT about 20 ms)."""
    graph, params = load(str(ROOT / "topologies" / "vlans.py"), {"backend": "linux"})
    graph.graph["ipv6"] = True
    with build(graph, params, features) as net:
        result = net.pingall(count=2, timeout=GUEST_PING_TIMEOUT)
    reached6 = {(p.src, p.dst) for p in result.pairs if p.family == 6 and p.received}
    same_vlan = {("h1", "h3"), ("h3", "h1"), ("h2", "h4"), ("h4", "h2")}
    graph, params = load(PAIR, {"delay": f"{DELAY_MS:g}ms"})
    graph.graph["ipv6"] = True
    with build(graph, params, features) as net:
        stats = traffic.ping(net["h1"], net["h2"], count=20, interval=0.05, warmup=10.0, family=6)
    low, high = RTT_RANGE
    delayed = stats.received >= 18 and stats.rtt_min is not None and low <= stats.rtt_min <= high
    ok = result.ok and result.families == [4, 6] and reached6 == same_vlan and delayed
    return {"ok": ok, "matrix": result.matrix(), **rtt_numbers(stats),
            "detail": f"pingall over VLAN-filtering bridges {'as predicted' if result.ok else 'NOT as predicted'}, "
                      f"IPv6 reached {sorted(reached6)} (same VLAN only: {sorted(same_vlan)}); "
                      f"{stats.summary('h1', 'h2')} over IPv6, min RTT must be within {low}-{high} ms"}


def check_red(features: frozenset[str], found: dict) -> Result:
    """A link with ecn=20 gets the planned RED queue under its rate limit: byte thresholds, ECN, W = 1."""
    graph = pair(bw={"h1": 100}, queue={"h1": ECN_QUEUE}, ecn={"h1": ECN_K})
    with build(graph, None, features) as net:
        shown = net["h1"].cmd(["tc", "-d", "qdisc", "show", "dev", "h1-eth0"])
    line = next((ln for ln in shown.splitlines() if ln.startswith("qdisc red 10:")), "")
    wanted = [f"limit {ECN_QUEUE * 1514}b", f"min {ECN_K * 1514}b", f"max {ECN_K * 1514 + 1}b", " ecn ", "ewma 0 "]
    missing = [w.strip() for w in wanted if w not in line + " "]
    return {"ok": bool(line) and not missing and "parent 1:1" in line, "qdiscs": shown,
            "detail": f"{line or 'no red qdisc 10:'}" + (f"; missing {', '.join(missing)}" if missing else "")}


def _experiment(name: str, overrides: dict[str, str], reported: tuple[str, ...] = ()) -> Result:
    """Run experiments/<name>.py once per grid point (in this process); its verdicts are the result
    (those named in ``reported`` are shown but do not decide it)."""
    from testbed.lab import experiment
    # no plots: matplotlib's import, font cache and rendering cost minutes in an emulated guest
    exp = dataclasses.replace(experiment.load_experiment(str(ROOT / "experiments" / f"{name}.py")), plots=[])
    log, stdout = io.StringIO(), io.StringIO()
    outcome = experiment.run_experiment(exp, repeat=1, overrides=overrides, out=os.path.join(OUT, "experiments"),
                                        log=log, stdout=stdout)
    verdicts = [v.line() for v in outcome.verdicts]
    judged = [v for v in outcome.verdicts if v.name not in reported]
    ok = (outcome.exit_code == 0 or bool(reported)) and bool(judged) and not any(v.failed for v in judged)
    return {"ok": ok, "folder": outcome.folder, "verdicts": verdicts,
            "table": stdout.getvalue(), "detail": " | ".join(verdicts) or "no checks ran"}


# an echo reply in the emulated guest may take over the default 1 s when the host is loaded
GUEST_PING_TIMEOUT = 3.0


# DCTCP's claims that compare the two modes' throughput and variance, or need every TCP run to
# fill the buffer, fail when the host is loaded and the guest falls behind (docs/reproductions.md):
# a starved guest's CPU, not the switch port, becomes the bottleneck, and the packets wait elsewhere.
# The lane reports them; the full run judges them. DCTCP's own queue claim, ECN on every flow and
# marks instead of drops are judged.
DCTCP_LOAD_BOUND = ("the_machine_kept_pace", "short_queue_costs_no_throughput", "dctcp_varies_less",
                    "tcp_fills_the_buffer")


def check_dctcp(features: frozenset[str], found: dict) -> Result:
    """experiments/dctcp.py --param quick=true: both ends ran what was asked, DCTCP holds the queue near K,
    TCP fills the buffer (the claims a loaded host can break are reported, not judged)."""
    return _experiment("dctcp", {"quick": "true"}, reported=DCTCP_LOAD_BOUND)


def check_mathis(features: frozenset[str], found: dict) -> Result:
    """experiments/tcp_vs_loss.py with a 20 ms delay: Reno's steady state against the Mathis model."""
    return _experiment("tcp_vs_loss", MATHIS)


CHECKS: dict[str, Callable[[frozenset[str], dict], Result]] = {
    "netem_delay": check_delay,
    "netem_jitter": check_jitter,
    "netem_loss": check_loss,
    "netem_queue": check_queue,
    "ovs_kernel_datapath": check_ovs_kernel,
    "linux_bridge_vlans": check_bridge_vlans,
    "linux_bridge_untagged_uplink": check_untagged_uplink,
    "ipv6": check_ipv6,
    "cli_run": check_cli,
    "red_ecn_queue": check_red,
    "dctcp_quick": check_dctcp,
    "mathis_model": check_mathis,
}


def main(out: str) -> int:
    global OUT
    OUT = out
    say(f"kernel {os.uname().release}; python ready {READY_AT:.1f} s after boot, "
        f"imports took {IMPORTED - STARTED:.1f} s")
    results: dict[str, Result] = {}
    t0 = time.monotonic()
    try:
        found_caps = probe_capabilities()
    except Exception as exc:                       # every capability check then fails, saying why
        found_caps = {}
        say(f"capability probe failed: {exc}")
    for name in CAPABILITIES:
        ok, detail = found_caps.get(name, (False, "not probed"))
        results[f"caps_{name}"] = {"ok": ok, "detail": detail or f"{name}: present", "seconds": 0.0}
    say(f"capabilities in {time.monotonic() - t0:.1f} s: "
        + ", ".join(f"{k}={'yes' if v[0] else 'NO'}" for k, v in sorted(found_caps.items())))
    features = frozenset(k for k, (ok, _) in found_caps.items() if ok)
    found: dict[str, Any] = {}
    for name, check in CHECKS.items():
        t0 = time.monotonic()
        try:
            result = check(features, found)
        except Exception as exc:
            result = {"ok": False, "detail": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        result["seconds"] = round(time.monotonic() - t0, 1)
        results[name] = result
        say(f"{name}: {'ok' if result['ok'] else 'FAILED'} in {result['seconds']} s: {result['detail']}")
    document = {"kernel": os.uname().release, "ready_after_boot_s": round(READY_AT, 1),
                "imports_s": round(IMPORTED - STARTED, 1), "checks_s": round(time.monotonic() - IMPORTED, 1),
                "checks": results}
    tmp = os.path.join(out, "lane.json.tmp")
    with open(tmp, "w") as f:
        json.dump(document, f, indent=2)
    os.replace(tmp, os.path.join(out, "lane.json"))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: run_lane.py OUT_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
